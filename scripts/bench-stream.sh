#!/usr/bin/env bash
# Benchmark `pcimig stream ls` on a >= 1 GiB migration stream with incompressible RAM, side by
# side with `cat FILE > /dev/null` and QEMU's scripts/analyze-migration.py, in one run.
#
#   QEMU_SRC=$(bash ../shared/tools/qemu-source) scripts/bench-stream.sh
#
# Environment:
#   QEMU_SRC   QEMU 10.0.2 source tree (for scripts/analyze-migration.py; never committed here)
#   SIZE       guest RAM, default 1G
#   WORK       scratch directory, default a fresh one under /tmp (removed afterwards)
#   PCIMIG     pcimig binary, default: build release into $CARGO_TARGET_DIR (or target/)
#   RUNS       timed runs of cat and pcimig (best and median reported), default 5
set -euo pipefail
: "${QEMU_SRC:?set QEMU_SRC to the QEMU 10.0.2 source tree (bash ../shared/tools/qemu-source)}"
ANALYZE="$QEMU_SRC/scripts/analyze-migration.py"
[ -f "$ANALYZE" ] || { echo "no $ANALYZE" >&2; exit 2; }
SIZE=${SIZE:-1G}
RUNS=${RUNS:-5}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${PCIMIG:-}" ]; then
  (cd "$ROOT" && cargo build --release -q -p pcimig)
  PCIMIG="${CARGO_TARGET_DIR:-$ROOT/target}/release/pcimig"
fi
WORK=${WORK:-$(mktemp -d /tmp/pcimig-bench.XXXXXX)}
mkdir -p "$WORK"
QPID=
cleanup() {
  [ -n "$QPID" ] && kill "$QPID" 2>/dev/null || true
  rm -f "$WORK/ram.img" "$WORK/vm.mig" "$WORK/qmp.sock"
  rmdir "$WORK" 2>/dev/null || true
}
trap cleanup EXIT

echo "# guest RAM: $SIZE of random bytes in $WORK/ram.img" >&2
bytes=$(numfmt --from=iec "$SIZE")
# AES-CTR keystream: incompressible, and much faster than /dev/urandom.
{ openssl enc -aes-128-ctr -nosalt -pass pass:pcimig-bench -pbkdf2 </dev/zero 2>/dev/null || true; } | head -c "$bytes" >"$WORK/ram.img"
[ "$(stat -c %s "$WORK/ram.img")" = "$bytes" ] || { echo "could not create $WORK/ram.img" >&2; exit 2; }

qemu-system-x86_64 -machine q35,memory-backend=m -accel tcg -nodefaults -display none -S -m "$SIZE" \
  -object memory-backend-file,id=m,size="$SIZE",mem-path="$WORK/ram.img",share=on \
  -device e1000 -device virtio-net-pci -device qemu-xhci \
  -qmp unix:"$WORK/qmp.sock",server=on,wait=off &
QPID=$!
python3 - "$WORK/qmp.sock" "$WORK/vm.mig" <<'PY'
import json, os, socket, sys, time
sock, out = sys.argv[1], sys.argv[2]
for _ in range(400):
    if os.path.exists(sock): break
    time.sleep(0.05)
s = socket.socket(socket.AF_UNIX); s.connect(sock); f = s.makefile("rw")
def cmd(c, a=None):
    m = {"execute": c}
    if a: m["arguments"] = a
    f.write(json.dumps(m) + "\n"); f.flush()
    while True:
        r = json.loads(f.readline())
        if "return" in r or "error" in r: return r
f.readline(); cmd("qmp_capabilities")
cmd("migrate", {"uri": "file:" + out})
while True:
    r = cmd("query-migrate")["return"]
    if r.get("status") in ("completed", "failed"): break
    time.sleep(0.2)
if r["status"] != "completed": sys.exit("migration failed: %s" % r)
cmd("quit")
PY
wait "$QPID" || true
QPID=
rm -f "$WORK/ram.img"
FILE="$WORK/vm.mig"
echo "# stream: $(stat -c %s "$FILE") bytes" >&2

# Warm the page cache so every tool reads from memory.
cat "$FILE" >/dev/null

# time_cmd CMD...: elapsed seconds, max RSS (KiB), CPU seconds (user + sys) via /usr/bin/time.
time_cmd() {
  local tf; tf=$(mktemp)
  /usr/bin/time -f "%e %M %U %S" -o "$tf" "$@" >/dev/null 2>"$tf.err" || { cat "$tf.err" >&2; rm -f "$tf" "$tf.err"; return 1; }
  cat "$tf"; rm -f "$tf" "$tf.err"
}
stats() { sort -n | awk '{a[NR]=$1} END {printf "%.3f %.3f\n", a[1], a[int((NR+1)/2)]}'; }

cpu() { awk -v u="$1" -v s="$2" 'BEGIN {printf "%.2f", u + s}'; }
cat_t=(); ls_t=(); cat_c=(); ls_c=(); ls_rss=0
for _ in $(seq "$RUNS"); do
  read -r t _ u s < <(time_cmd sh -c "cat '$FILE' > /dev/null"); cat_t+=("$t"); cat_c+=("$(cpu "$u" "$s")")
  read -r t r u s < <(time_cmd "$PCIMIG" stream ls "$FILE"); ls_t+=("$t"); ls_c+=("$(cpu "$u" "$s")")
  if [ "$r" -gt "$ls_rss" ]; then ls_rss=$r; fi
done
read -r py_t py_rss u s < <(time_cmd python3 "$ANALYZE" -f "$FILE"); py_c=$(cpu "$u" "$s")
read -r cat_best cat_med < <(printf '%s\n' "${cat_t[@]}" | stats)
read -r ls_best ls_med < <(printf '%s\n' "${ls_t[@]}" | stats)
read -r _ cat_cmed < <(printf '%s\n' "${cat_c[@]}" | stats)
read -r _ ls_cmed < <(printf '%s\n' "${ls_c[@]}" | stats)
size=$(stat -c %s "$FILE")
echo
echo "stream $size bytes ($(numfmt --to=iec "$size")), $RUNS runs, warm page cache, $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
printf '%-30s %8s %10s %12s %10s\n' "command" "best s" "median s" "median CPU s" "peak RSS"
printf '%-30s %8s %10s %12s %10s\n' "cat FILE > /dev/null" "$cat_best" "$cat_med" "$cat_cmed" "-"
printf '%-30s %8s %10s %12s %6s MiB\n' "pcimig stream ls FILE" "$ls_best" "$ls_med" "$ls_cmed" "$((ls_rss / 1024))"
printf '%-30s %8s %10s %12s %6s MiB\n' "analyze-migration.py -f FILE" "$py_t" "$py_t" "$py_c" "$((py_rss / 1024))"
awk -v l="$ls_med" -v c="$cat_med" -v p="$py_t" -v lc="$ls_cmed" -v cc="$cat_cmed" -v pc="$py_c" 'BEGIN {
  printf "wall (median): pcimig / cat %.2f, analyze-migration.py / pcimig %.1fx\n", l / c, p / l
  if (lc > 0) printf "CPU  (median): pcimig / cat %.2f, analyze-migration.py / pcimig %.1fx\n", lc / cc, pc / lc }'
