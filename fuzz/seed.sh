#!/bin/sh
# Build the seed corpora of the fuzz targets under fuzz/corpus/<target>/ (not committed):
#  - binary dumps: data/ and the test data of pcimig-qemu, plus /work/shared/corpus (or
#    $PCIMIG_CORPUS) when present — read here at seed time, never copied into the repository
#    (its pciutils-tests files are GPL pciutils data);
#  - lspci text: the corpus' lspci files and lspci -xxx text printed from the dumps;
#  - streams: saved with the real QEMU ($PCIMIG_QEMU or /usr/bin/qemu-system-x86_64), a few
#    machines and device sets, stopped VMs with 32 MiB of RAM, option ROMs off (small streams).
# Usage: fuzz/seed.sh   (from anywhere; needs python3 for the lspci text, QEMU for streams)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
corpus_src=${PCIMIG_CORPUS:-/work/shared/corpus}
qemu=${PCIMIG_QEMU:-/usr/bin/qemu-system-x86_64}
out=$here/corpus
mkdir -p "$out/binary_dump" "$out/lspci_text" "$out/sysfs" "$out/cap_walk" "$out/vfio_virtualize" "$out/stream" \
    "$out/snapshot" "$out/explain_log"

# Binary dumps: every 64/256/4096-byte file of data/, the qemu test data and the corpus.
dumps=$(mktemp -d)
trap 'rm -rf "$dumps"' EXIT
n=0
for f in $(find "$repo/data" "$repo/crates/pcimig-qemu/tests/data" "$corpus_src" -type f 2>/dev/null); do
    case $(stat -c %s "$f") in
        64|256|4096) n=$((n + 1)); cp "$f" "$dumps/d$n.bin" ;;
    esac
done
for f in "$dumps"/*.bin; do
    b=$(basename "$f" .bin)
    cp "$f" "$out/binary_dump/$b"
    cp "$f" "$out/cap_walk/$b"
    # vfio: 12 option bytes (slot, QEMU, flags, BAR sizes, ROM, clique, IDs), then the config.
    for opt in 000001c4c4c4c4c4c400000000 010203c0c0000000000080800f 04050500000000000000c1000f; do
        { printf '%s' "$opt" | cut -c1-24 | xxd -r -p; cat "$f"; } > "$out/vfio_virtualize/$b-$opt"
    done
    # sysfs: selector byte (2 = 256, 3 = 4096 config bytes), the config, a resource file.
    sel=2; [ "$(stat -c %s "$f")" = 4096 ] && sel=3
    { printf "\\00$sel"; cat "$f"; printf '0x00000000fb000000 0x00000000fbffffff 0x0000000000040200\n0x0000000000000000 0x0000000000000000 0x0000000000000000\n0x000000e000000000 0x000000e3ffffffff 0x000000000014220c\n'; } > "$out/sysfs/$b"
done

# lspci text: the corpus' own files, and every dump printed as lspci -xxxx text.
for f in $(find "$corpus_src" -type f 2>/dev/null); do
    if grep -qE '^[0-9a-f]{2}: ([0-9a-f]{2} ?)+' "$f" 2>/dev/null; then
        cp "$f" "$out/lspci_text/$(echo "$f" | tr '/' '_')"
    fi
done
python3 - "$dumps" "$out/lspci_text" <<'PY'
import os, sys
src, dst = sys.argv[1], sys.argv[2]
for i, name in enumerate(sorted(os.listdir(src))):
    data = open(os.path.join(src, name), 'rb').read()
    lines = [f"00:{i % 32:02x}.0 Device {data[1]:02x}{data[0]:02x}"]
    for off in range(0, len(data), 16):
        lines.append(f"{off:02x}: " + " ".join(f"{b:02x}" for b in data[off:off + 16]))
    open(os.path.join(dst, name + ".txt"), 'w').write("\n".join(lines) + "\n\n")
PY

# Streams: real QEMU saves a stopped VM with `migrate file:` from the HMP monitor.
save_stream() {
    name=$1; shift
    [ -x "$qemu" ] || { echo "seed.sh: no QEMU at $qemu: no stream seeds" >&2; return 0; }
    (echo "migrate file:$out/stream/$name.mig"; sleep 2; echo quit) |
        timeout 60 "$qemu" -accel tcg -nodefaults -display none -S -m 32M -monitor stdio "$@" >/dev/null 2>&1 || true
}
save_stream q35-mixed -machine q35 -device pcie-root-port,id=rp1,chassis=1 -device virtio-net-pci,bus=rp1,romfile= \
    -device e1000e,romfile= -device pci-bridge,chassis_nr=2,id=br -device virtio-rng-pci,bus=br
save_stream q35-bare -machine q35
save_stream pc-mixed -machine pc -device e1000,romfile= -device virtio-rng-pci -device ich9-usb-ehci1 -device ich9-intel-hda
save_stream q35-9.1 -machine pc-q35-9.1 -device virtio-net-pci,romfile= -device nec-usb-xhci

# Snapshots: the bundled examples. Logs: the real QEMU failure logs explain's tests keep.
cp "$repo"/data/snapshots/*.json "$out/snapshot/"
cp "$repo"/crates/pcimig/tests/data/explain/*.log "$out/explain_log/"

for t in binary_dump lspci_text sysfs cap_walk vfio_virtualize stream snapshot explain_log; do
    echo "$t: $(ls "$out/$t" | wc -l) seeds"
done
