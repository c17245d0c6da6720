//! Golden CLI outputs: the real `pcimig` binary run on the bundled data, its stdout, stderr and
//! exit code recorded together in one insta snapshot per case (tests/snapshots/). They were
//! recorded before the restructuring of issue 9, so a refactor that changes any byte of the
//! CLI's text or JSON shows up here.
//!
//! Every case runs with the repository root as the working directory and relative paths. Files
//! the test writes (hand-built migration streams, a truncated dump, a pinned pci.ids) live in a
//! temporary directory whose path is written `[TMP]` in the snapshots. Nothing may depend on the
//! host: names from pci.ids are off (`PCIMIG_PCI_IDS=""`) unless a case pins the small file
//! below, and QEMU's data directories are none (`PCIMIG_QEMU_DATADIRS=""`), so no ROM file size
//! is read from the host.
//!
//! Update after an intended change: `INSTA_UPDATE=always cargo test -p pcimig --test golden`
//! (or `cargo insta review`), then read the diff.

use pcimig_qemu::build::StreamBuilder;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One case: the snapshot's name and the command line after `pcimig`, split at spaces, with the
/// placeholders of [`PLACES`].
type Case = (&'static str, &'static str);

/// Placeholders in command lines: the bundled data, QEMU's saved configs, and the temporary
/// directory of [`Fixtures`] (`{tmp}`, written `[TMP]` in the snapshots).
const PLACES: &[(&str, &str)] = &[
    ("{demo}", "data/demo"),
    ("{fc}", "data/samples/h100-firecracker"),
    ("{qemu}", QEMU_DATA),
];
/// The temporary directory, in command lines and environment values.
const TMP: &str = "{tmp}";
/// The temporary directory, in snapshots.
const TMP_REDACTED: &str = "[TMP]";

/// The bundled config dumps `show` decodes, with the name their snapshots carry.
#[rustfmt::skip]
const SHOW_FILES: &[(&str, &str)] = &[
    ("fc_00_0_host_bridge", "data/samples/h100-firecracker/0000:00:00.0.config.bin"),
    ("fc_01_0_virtio_blk", "data/samples/h100-firecracker/0000:00:01.0.config.bin"),
    ("fc_02_0_virtio_blk", "data/samples/h100-firecracker/0000:00:02.0.config.bin"),
    ("fc_03_0_virtio_net", "data/samples/h100-firecracker/0000:00:03.0.config.bin"),
    ("fc_04_0_virtio_vsock", "data/samples/h100-firecracker/0000:00:04.0.config.bin"),
    ("fc_05_0_virtio_rng", "data/samples/h100-firecracker/0000:00:05.0.config.bin"),
    ("fc_06_0_h100", "data/samples/h100-firecracker/0000:00:06.0.config.bin"),
    ("demo_h100_gpu0", "data/demo/h100-gpu0.bin"),
    ("demo_h100_gpu1", "data/demo/h100-gpu1.bin"),
    ("demo_vgpu_host_a_r550", "data/demo/vgpu-host-a-r550.bin"),
    ("demo_vgpu_host_b_r570", "data/demo/vgpu-host-b-r570.bin"),
    ("demo_vgpu_host_b_r570_other_type", "data/demo/vgpu-host-b-r570-other-type.bin"),
    ("demo_vgpu_host_b_r570_vsc_len", "data/demo/vgpu-host-b-r570-vsc-len.bin"),
];

/// `show`'s output modes, run on every file of [`SHOW_FILES`].
const SHOW_MODES: &[(&str, &str)] = &[("human", ""), ("json", "--json"), ("masks", "--masks")];

/// More `show` cases: both flags at once, a truncated dump, bad input.
#[rustfmt::skip]
const SHOW_MORE: &[Case] = &[
    ("show__fc_06_0_h100__json_masks", "show --json --masks {fc}/0000:00:06.0.config.bin"),
    ("show__fc_03_0_virtio_net__json_masks", "show --json --masks {fc}/0000:00:03.0.config.bin"),
    ("show__truncated_64_bytes__human", "show {tmp}/truncated-64.bin"),
    ("show__truncated_64_bytes__json", "show --json {tmp}/truncated-64.bin"),
    ("show__truncated_64_bytes__masks_exit2", "show --masks {tmp}/truncated-64.bin"),
    ("show__odd_size_dump__exit2", "show {tmp}/odd-100.bin"),
    ("show__missing_file__exit2", "show {demo}/no-such-file.bin"),
];

/// `show` with names from the pinned pci.ids ([`PCI_IDS`]).
#[rustfmt::skip]
const SHOW_NAMED: &[Case] = &[
    ("show_pci_ids__fc_06_0_h100__human", "show {fc}/0000:00:06.0.config.bin"),
    ("show_pci_ids__fc_06_0_h100__json", "show --json {fc}/0000:00:06.0.config.bin"),
    ("show_pci_ids__fc_03_0_virtio_net__human", "show {fc}/0000:00:03.0.config.bin"),
    ("show_pci_ids__fc_00_0_host_bridge__json", "show --json {fc}/0000:00:00.0.config.bin"),
];

/// A few real pci.ids entries (and one the file lacks: the host bridge's device), so names are
/// the same on every machine.
const PCI_IDS: &str = "# pcimig golden tests: a pinned excerpt of pci.ids\n\
10de  NVIDIA Corporation\n\
\t2330  GH100[H100 SXM5 80GB]\n\
1af4  Red Hat, Inc.\n\
\t1041  Virtio 1.0 network device\n\
\t1042  Virtio 1.0 block device\n\
8086  Intel Corporation\n\
C 02  Network controller\n\
\t00  Ethernet controller\n\
C 03  Display controller\n\
\t02  3D controller\n\
C 06  Bridge\n\
\t00  Host bridge\n";

/// vfio-pci checks (`pcimig check`), each run twice: `__human` and `__json` (`--json` added).
#[rustfmt::skip]
const CHECK: &[Case] = &[
    // The scenarios `pcimig demo` runs (crates/pcimig/src/demo.rs).
    ("check__demo_1a_vgpu_a_to_b_machine_q35_9_0", "check --saved {demo}/vgpu-host-a-r550.bin --dest {demo}/vgpu-host-b-r570.bin --machine pc-q35-9.0"),
    ("check__demo_1b_vgpu_a_to_b_skip_vsc_check_off", "check --saved {demo}/vgpu-host-a-r550.bin --dest {demo}/vgpu-host-b-r570.bin --skip-vsc-check off"),
    ("check__demo_1c_vgpu_a_to_b_default", "check --saved {demo}/vgpu-host-a-r550.bin --dest {demo}/vgpu-host-b-r570.bin"),
    ("check__demo_1d_vgpu_other_device_id", "check --saved {demo}/vgpu-host-a-r550.bin --dest {demo}/vgpu-host-b-r570-other-type.bin"),
    ("check__demo_1e_vgpu_vsc_length_changed", "check --saved {demo}/vgpu-host-a-r550.bin --dest {demo}/vgpu-host-b-r570-vsc-len.bin"),
    ("check__demo_2_h100_gpu0_to_gpu1_dsn", "check --saved {demo}/h100-gpu0.bin --dest {demo}/h100-gpu1.bin"),
    // Every --slot.
    ("check__slot_pcie_port", "check --saved {demo}/vgpu-host-a-r550.bin --dest {demo}/vgpu-host-b-r570.bin --slot pcie-port"),
    ("check__slot_q35_root", "check --saved {demo}/vgpu-host-a-r550.bin --dest {demo}/vgpu-host-b-r570.bin --slot q35-root"),
    ("check__slot_pci_bridge", "check --saved {demo}/vgpu-host-a-r550.bin --dest {demo}/vgpu-host-b-r570.bin --slot pci-bridge"),
    ("check__slot_i440fx", "check --saved {demo}/vgpu-host-a-r550.bin --dest {demo}/vgpu-host-b-r570.bin --slot i440fx"),
    ("check__machine_i440fx_9_0_implies_slot", "check --saved {demo}/vgpu-host-a-r550.bin --dest {demo}/vgpu-host-b-r570.bin --machine pc-i440fx-9.0"),
    // BAR and ROM sizes given.
    ("check__bars_and_rom_given", "check --saved {demo}/vgpu-host-a-r550.bin --dest {demo}/vgpu-host-b-r570.bin --bar 0=32M --bar 2=64G --bar 4=32M --rom 512K"),
    // pcimig's opt-in policy for extended vendor-specific capabilities.
    ("check__exempt_ext_vendor_on_vsec_changed", "check --saved {demo}/h100-gpu0.bin --dest {tmp}/h100-gpu0-vsec-changed.bin --exempt-ext-vendor on"),
    ("check__exempt_ext_vendor_off_vsec_changed", "check --saved {demo}/h100-gpu0.bin --dest {tmp}/h100-gpu0-vsec-changed.bin"),
    ("check__exempt_ext_vendor_on_h100_gpu0_to_gpu1", "check --saved {demo}/h100-gpu0.bin --dest {demo}/h100-gpu1.bin --exempt-ext-vendor on"),
    // Virtio samples.
    ("check__virtio_net_against_itself", "check --saved {fc}/0000:00:03.0.config.bin --dest {fc}/0000:00:03.0.config.bin"),
    ("check__virtio_blk_01_0_to_02_0", "check --saved {fc}/0000:00:01.0.config.bin --dest {fc}/0000:00:02.0.config.bin --vfio"),
    // Bad input: exit 2.
    ("check__missing_file_exit2", "check --saved {demo}/no-such-file.bin --dest {demo}/h100-gpu1.bin"),
    ("check__truncated_64_byte_dump_exit2", "check --saved {tmp}/truncated-64.bin --dest {demo}/h100-gpu1.bin"),
    ("check__odd_size_dump_exit2", "check --saved {demo}/h100-gpu0.bin --dest {tmp}/odd-100.bin"),
    ("check__size_mismatch_exit2", "check --saved {demo}/h100-gpu0.bin --dest {fc}/0000:00:03.0.config.bin"),
    ("check__unknown_machine_version_exit2", "check --saved {demo}/h100-gpu0.bin --dest {demo}/h100-gpu1.bin --machine pc-q35-11.0"),
    ("check__unknown_machine_name_exit2", "check --saved {demo}/h100-gpu0.bin --dest {demo}/h100-gpu1.bin --machine virt"),
    ("check__slot_i440fx_on_q35_machine_exit2", "check --saved {demo}/h100-gpu0.bin --dest {demo}/h100-gpu1.bin --slot i440fx --machine pc-q35-10.0"),
    ("check__slot_pcie_port_on_i440fx_machine_exit2", "check --saved {demo}/h100-gpu0.bin --dest {demo}/h100-gpu1.bin --slot pcie-port --machine pc-i440fx-9.0"),
    ("check__bad_bar_index_exit2", "check --saved {demo}/h100-gpu0.bin --dest {demo}/h100-gpu1.bin --bar 6=16M"),
    ("check__bar_size_not_power_of_two_exit2", "check --saved {demo}/h100-gpu0.bin --dest {demo}/h100-gpu1.bin --bar 0=3M"),
    ("check__unknown_slot_value_exit2", "check --saved {demo}/h100-gpu0.bin --dest {demo}/h100-gpu1.bin --slot pcie"),
    ("check__dest_from_stream_without_emulated_exit2", "check --saved {demo}/h100-gpu0.bin --dest stream:{tmp}/dest.mig#0000:00:02.0/e1000e"),
    // The kernel's vfio-pci layer (--kernel-layer): on by default for dumps; off takes the bytes
    // as what QEMU reads. An SHPC capability (unknown length) whose bytes differ: the kernel
    // hides it (pass); read raw, QEMU checks it (fail at 0xc2).
    ("check__kernel_layer_default_shpc_hidden", "check --saved {tmp}/shpc-host-a.bin --dest {tmp}/shpc-host-b.bin"),
    ("check__kernel_layer_off_shpc_checked", "check --saved {tmp}/shpc-host-a.bin --dest {tmp}/shpc-host-b.bin --kernel-layer off"),
    ("check__kernel_layer_on_h100_gpu0_to_gpu1", "check --saved {demo}/h100-gpu0.bin --dest {demo}/h100-gpu1.bin --kernel-layer on"),
    ("check__kernel_layer_off_h100_gpu0_to_gpu1", "check --saved {demo}/h100-gpu0.bin --dest {demo}/h100-gpu1.bin --kernel-layer off"),
    // A saved config from a stream never goes through the layer, even with --kernel-layer on.
    ("check__kernel_layer_saved_from_stream", "check --saved stream:{tmp}/vfio.mig#0000:00:05.0/vfio --dest {demo}/h100-gpu0.bin"),
    ("check__kernel_layer_on_saved_from_stream", "check --saved stream:{tmp}/vfio.mig#0000:00:05.0/vfio --dest {demo}/h100-gpu0.bin --kernel-layer on"),
    // MSI at an odd offset: the kernel's read of its flags fails, the device does not open.
    ("check__kernel_layer_refuses_msi_at_odd_offset_exit2", "check --saved {demo}/h100-gpu0.bin --dest {tmp}/h100-gpu0-msi-odd.bin"),
];

/// Emulated checks (`pcimig check --emulated`) on the hand-built streams of [`Fixtures`], each
/// run twice: `__human` and `__json`.
#[rustfmt::skip]
const CHECK_EMULATED: &[Case] = &[
    ("check_emulated__e1000e_pass", "check --emulated --saved stream:{tmp}/saved.mig#0000:00:02.0/e1000e --dest stream:{tmp}/dest.mig#0000:00:02.0/e1000e --dest-query-pci {qemu}/q35-10.0.query-pci.json"),
    ("check_emulated__e1000e_dsn_flipped_fail", "check --emulated --saved stream:{tmp}/saved-flipped.mig#0000:00:02.0/e1000e --dest stream:{tmp}/dest.mig#0000:00:02.0/e1000e --dest-query-pci {qemu}/q35-10.0.query-pci.json"),
    ("check_emulated__pcie_root_port_selector_on_saved_only", "check --emulated --saved stream:{tmp}/saved.mig#0000:00:03.0/pcie-root-port --dest stream:{tmp}/dest.mig --dest-query-pci {qemu}/q35-10.0.query-pci.json"),
    ("check_emulated__virtio_net_root_bus_without_query_pci", "check --emulated --saved stream:{tmp}/saved.mig#0000:00:01.0/virtio-net --dest stream:{tmp}/dest.mig#0000:00:01.0/virtio-net"),
    ("check_emulated__virtio_net_saved_q35_9_1_fail", "check --emulated --saved stream:{tmp}/saved-q35-9.1.mig#0000:00:03.0:00.0/virtio-net --dest stream:{tmp}/dest.mig#0000:00:03.0:00.0/virtio-net --dest-query-pci {qemu}/q35-10.0.query-pci.json"),
    ("check_emulated__whole_stream_pass", "check --emulated --saved stream:{tmp}/saved.mig --dest stream:{tmp}/dest.mig --dest-query-pci {qemu}/q35-10.0.query-pci.json"),
    ("check_emulated__whole_stream_fail", "check --emulated --saved stream:{tmp}/saved-flipped.mig --dest stream:{tmp}/dest.mig --dest-query-pci {qemu}/q35-10.0.query-pci.json"),
    ("check_emulated__whole_stream_machine_differs_fail", "check --emulated --saved stream:{tmp}/saved-q35-9.1.mig --dest stream:{tmp}/dest.mig --dest-query-pci {qemu}/q35-10.0.query-pci.json"),
    ("check_emulated__whole_stream_device_missing_undecided", "check --emulated --saved stream:{tmp}/saved-extra.mig --dest stream:{tmp}/dest.mig --dest-query-pci {qemu}/q35-10.0.query-pci.json"),
    ("check_emulated__whole_stream_dest_qemu_lacks_machine_fail", "check --emulated --saved stream:{tmp}/saved.mig --dest stream:{tmp}/dest.mig --dest-query-pci {qemu}/q35-10.0.query-pci.json --dest-qemu 9.0"),
    ("check_emulated__whole_stream_saved_qemu_lacks_machine_exit2", "check --emulated --saved stream:{tmp}/saved.mig --dest stream:{tmp}/dest.mig --saved-qemu 9.2.1"),
    ("check_emulated__whole_stream_older_dest_qemu_pass", "check --emulated --saved stream:{tmp}/saved-q35-9.1.mig --dest stream:{tmp}/saved-q35-9.1.mig --dest-qemu 9.1 --saved-qemu 11.1"),
    ("check_emulated__machine_option_exit2", "check --emulated --saved stream:{tmp}/saved.mig --dest stream:{tmp}/dest.mig --machine q35"),
    ("check_emulated__saved_not_a_stream_exit2", "check --emulated --saved {demo}/h100-gpu0.bin --dest stream:{tmp}/dest.mig"),
    ("check_emulated__kernel_layer_option_exit2", "check --emulated --saved stream:{tmp}/saved.mig --dest stream:{tmp}/dest.mig --kernel-layer on"),
    ("check_emulated__unknown_device_exit2", "check --emulated --saved stream:{tmp}/saved.mig#0000:00:09.0/e1000e --dest stream:{tmp}/dest.mig#0000:00:09.0/e1000e"),
];

/// `pcimig stream …` on the hand-built streams.
#[rustfmt::skip]
const STREAM: &[Case] = &[
    ("stream_ls__dest__human", "stream ls {tmp}/dest.mig"),
    ("stream_ls__dest__json", "stream ls --json {tmp}/dest.mig"),
    ("stream_ls__dest__all", "stream ls --all {tmp}/dest.mig"),
    ("stream_ls__dest__all_json", "stream ls --all --json stream:{tmp}/dest.mig"),
    ("stream_ls__vfio__all", "stream ls --all {tmp}/vfio.mig"),
    ("stream_ls__vfio__json", "stream ls --json {tmp}/vfio.mig"),
    ("stream_ls__not_a_stream_exit2", "stream ls {demo}/h100-gpu0.bin"),
    ("stream_extract__e1000e", "stream extract {tmp}/dest.mig#0000:00:02.0/e1000e -o {tmp}/e1000e.bin"),
    ("stream_extract__by_pci_path", "stream extract stream:{tmp}/dest.mig#0000:00:03.0:00.0 --output {tmp}/vnet.bin"),
    ("stream_extract__unknown_device_exit2", "stream extract {tmp}/dest.mig#0000:00:09.0 -o {tmp}/none.bin"),
    ("stream_extract__no_device_named_exit2", "stream extract {tmp}/dest.mig -o {tmp}/none.bin"),
];

/// `pcimig demo` (it has one output mode) and its data options.
#[rustfmt::skip]
const DEMO: &[Case] = &[
    ("demo__default", "demo"),
    ("demo__data_dir_given", "demo --data {demo}"),
    ("demo__write_data", "demo --write-data {tmp}/demo-data"),
    ("demo__missing_data_dir_exit2", "demo --data {tmp}/no-such-dir"),
];

/// Config spaces saved by QEMU 10.0.2 (`-machine q35`, and one on `pc-q35-9.1`), and the
/// destination VM's QMP `query-pci` answer (q35-10.0.query-pci.json).
const QEMU_DATA: &str = "crates/pcimig-qemu/tests/data";

/// The destination VM's PCI devices in stream order: idstr and config file in [`QEMU_DATA`].
#[rustfmt::skip]
const STREAM_DEVICES: &[(&str, &str)] = &[
    ("0000:00:01.0/virtio-net", "q35-10.0-virtio-net-root-bus.bin"),
    ("0000:00:02.0/e1000e", "q35-10.0-e1000e.bin"),
    ("0000:00:03.0/pcie-root-port", "q35-10.0-pcie-root-port.bin"),
    ("0000:00:03.0:00.0/virtio-net", "q35-10.0-virtio-net-root-port.bin"),
    ("0000:00:04.0/pci_bridge", "q35-10.0-pci-bridge.bin"),
];

/// The repository root: every case runs there.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The files the cases use besides the bundled data, in a temporary directory removed on drop.
struct Fixtures {
    dir: PathBuf,
}

impl Drop for Fixtures {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Fixtures {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("pcimig-golden-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let fx = Fixtures { dir };
        let gpu0 = read("data/demo/h100-gpu0.bin");
        fx.write("truncated-64.bin", &gpu0[..64]);
        fx.write("odd-100.bin", &gpu0[..100]);
        // The H100's Vendor Specific Extended capability (0x2a4) with one payload byte changed,
        // as another driver version might present it.
        let mut vsec = gpu0.clone();
        assert_eq!(vsec[0x2a4], 0x0b, "VSEC at 0x2a4");
        vsec[0x2ac] ^= 0x01;
        fx.write("h100-gpu0-vsec-changed.bin", &vsec);
        fx.write_kernel_layer_cases(&gpu0);
        fx.write("pci.ids", PCI_IDS.as_bytes());
        fx.write_streams();
        fx
    }

    /// For `--kernel-layer`: the H100 with a Hot-plug (SHPC, ID 0x0c: no length the kernel
    /// knows) capability linked after MSI-X at 0xc0, its byte 0xc2 differing between two hosts;
    /// and the H100 with its MSI capability moved to the odd offset 0x49.
    fn write_kernel_layer_cases(&self, gpu0: &[u8]) {
        assert_eq!((gpu0[0xb0], gpu0[0xb1]), (0x11, 0x00), "MSI-X at 0xb0 ends the chain");
        for (name, v) in [("shpc-host-a.bin", 0x01), ("shpc-host-b.bin", 0x02)] {
            let mut c = gpu0.to_vec();
            c[0xb1] = 0xc0;
            c[0xc0..0xc4].copy_from_slice(&[0x0c, 0x00, v, 0x00]);
            self.write(name, &c);
        }
        assert_eq!((gpu0[0x41], gpu0[0x48]), (0x48, 0x05), "PM at 0x40 links MSI at 0x48");
        let mut odd = gpu0.to_vec();
        odd[0x41] = 0x49;
        odd.copy_within(0x48..0x60, 0x49);
        self.write("h100-gpu0-msi-odd.bin", &odd);
    }

    fn write(&self, name: &str, bytes: &[u8]) {
        std::fs::write(self.dir.join(name), bytes).unwrap();
    }

    /// The destination VM's stream; the source VM's: identical, with a checked byte flipped in
    /// two devices, with an extra device first, or saved on pc-q35-9.1; and a stream with
    /// vfio-pci sections as `pcimig_qemu::build` writes them.
    fn write_streams(&self) {
        let (dest, _) = q35_stream("pc-q35-10.0", STREAM_DEVICES, &[]);
        self.write("dest.mig", &dest);
        self.write("saved.mig", &dest);
        let (mut flipped, at) = q35_stream("pc-q35-10.0", STREAM_DEVICES, &[]);
        // e1000e: a Device Serial Number byte (AER 0x100, DSN 0x140: 0x144 checked).
        flipped[at[1] as usize + 0x144] ^= 0xff;
        // pci_bridge: the Device ID's low byte (always checked).
        flipped[at[4] as usize + 0x02] ^= 0x01;
        self.write("saved-flipped.mig", &flipped);
        let extra = [("0000:00:05.0/e1000e", "q35-10.0-e1000e.bin")];
        let (with_extra, _) = q35_stream("pc-q35-10.0", &extra, STREAM_DEVICES);
        self.write("saved-extra.mig", &with_extra);
        let old = [("0000:00:03.0:00.0/virtio-net", "q35-9.1-virtio-net-root-port.bin")];
        self.write("saved-q35-9.1.mig", &q35_stream("pc-q35-9.1", &old, &[]).0);
        let mut b = StreamBuilder::new("pc-q35-10.0");
        b.ram_section(&[0x0, 0x1000]);
        b.vfio_iterable("0000:00:05.0/vfio", 64);
        let gpu0 = read("data/demo/h100-gpu0.bin");
        b.vfio_pci("0000:00:05.0/vfio", &gpu0, msix_vectors(&gpu0));
        b.command(11, &[]);
        self.write("vfio.mig", &b.finish());
    }
}

/// A stream on `machine`: a RAM section, an opaque "timer" section, then `first` and `then`'s
/// devices; returns the bytes and the stream offset of each device's config.
fn q35_stream(machine: &str, first: &[(&str, &str)], then: &[(&str, &str)]) -> (Vec<u8>, Vec<u64>) {
    let mut b = StreamBuilder::new(machine);
    b.ram_section(&[0x0, 0x1000, 0x5000]);
    b.opaque("timer", 0, 24);
    let mut at = Vec::new();
    for &(idstr, file) in first.iter().chain(then) {
        let config = read(&format!("{QEMU_DATA}/{file}"));
        let vmsd = idstr.rsplit('/').next().unwrap();
        at.push(if vmsd.starts_with("virtio") {
            b.virtio_pci(idstr, vmsd, &config, msix_vectors(&config), 40)
        } else {
            b.pci_vmsd(idstr, vmsd, 1, &config, 0)
        });
    }
    (b.finish(), at)
}

/// The MSI-X table size of a config (0 without MSI-X).
fn msix_vectors(config: &[u8]) -> usize {
    let chain = pcimig_config::walk_std(config);
    chain.entries.iter().find(|e| e.id == 0x11).map_or(0, |e| {
        (u16::from_le_bytes([config[e.offset + 2], config[e.offset + 3]]) & 0x7ff) as usize + 1
    })
}

/// The arguments of a command line, placeholders replaced (`{tmp}` by `tmp`).
fn expand(cmdline: &str, tmp: &str) -> Vec<String> {
    let mut line = cmdline.replace(TMP, tmp);
    for (place, path) in PLACES {
        line = line.replace(place, path);
    }
    line.split_whitespace().map(str::to_string).collect()
}

/// Run `pcimig` with `cmdline` in the repository root; the command, exit code, stdout and stderr
/// in one text, with the temporary directory written `[TMP]`.
fn run(fx: &Fixtures, cmdline: &str, env: &[(&str, &str)]) -> String {
    let tmp = fx.dir.to_string_lossy();
    let args = expand(cmdline, &tmp);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pcimig"));
    cmd.current_dir(root())
        .args(&args)
        .env("PCIMIG_PCI_IDS", "")
        .env("PCIMIG_QEMU_DATADIRS", "")
        .env_remove("PCIMIG_SYSFS_ROOT")
        .env_remove("CLICOLOR_FORCE")
        .env("NO_COLOR", "1");
    for (k, v) in env {
        cmd.env(k, v.replace(TMP, &tmp));
    }
    let out = cmd.output().expect("run pcimig");
    let env_shown: String = env.iter().map(|(k, v)| format!("{k}={v} ")).collect();
    let code = out
        .status
        .code()
        .map_or("none (killed by a signal)".into(), |c| c.to_string());
    let text = format!(
        "$ {env_shown}pcimig {}\nexit code: {code}\n----- stdout -----\n{}----- stderr -----\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    text.replace(&*tmp, TMP_REDACTED).replace(TMP, TMP_REDACTED)
}

/// Snapshot every case (name, command line) with `env` set; fail at the end naming every case
/// whose output changed, so one run shows all the differences.
fn check_all(fx: &Fixtures, cases: &[(String, String)], env: &[(&str, &str)]) {
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    let mut failed = Vec::new();
    settings.bind(|| {
        for (name, cmdline) in cases {
            let text = run(fx, cmdline, env);
            if std::panic::catch_unwind(|| insta::assert_snapshot!(name.as_str(), text)).is_err() {
                failed.push(name.as_str());
            }
        }
    });
    assert!(
        failed.is_empty(),
        "CLI output changed in {} case(s): {failed:?}",
        failed.len()
    );
}

fn cases(table: &[Case]) -> Vec<(String, String)> {
    table.iter().map(|(n, c)| (n.to_string(), c.to_string())).collect()
}

/// Each case as `NAME__human` and as `NAME__json` with `--json` added.
fn human_and_json(table: &[Case]) -> Vec<(String, String)> {
    table
        .iter()
        .flat_map(|(n, c)| {
            [
                (format!("{n}__human"), c.to_string()),
                (format!("{n}__json"), format!("{c} --json")),
            ]
        })
        .collect()
}

#[test]
fn show_files_cover_the_bundled_samples() {
    let mut bundled: Vec<String> = ["data/samples/h100-firecracker", "data/demo"]
        .iter()
        .flat_map(|d| std::fs::read_dir(root().join(d)).unwrap().map(move |e| (d, e.unwrap())))
        .filter(|(_, e)| e.path().extension().is_some_and(|x| x == "bin"))
        .map(|(d, e)| format!("{d}/{}", e.file_name().to_string_lossy()))
        .collect();
    bundled.sort();
    let mut listed: Vec<String> = SHOW_FILES.iter().map(|(_, f)| f.to_string()).collect();
    listed.sort();
    assert_eq!(listed, bundled, "SHOW_FILES lists every bundled .bin");
}

#[test]
fn golden_show() {
    let fx = Fixtures::new("show");
    let mut all = Vec::new();
    for (file_name, file) in SHOW_FILES {
        for (mode, flags) in SHOW_MODES {
            all.push((format!("show__{file_name}__{mode}"), format!("show {flags} {file}")));
        }
    }
    all.extend(cases(SHOW_MORE));
    check_all(&fx, &all, &[]);
}

#[test]
fn golden_show_with_pinned_pci_ids() {
    let fx = Fixtures::new("show-ids");
    check_all(&fx, &cases(SHOW_NAMED), &[("PCIMIG_PCI_IDS", "{tmp}/pci.ids")]);
}

#[test]
fn golden_check() {
    let fx = Fixtures::new("check");
    check_all(&fx, &human_and_json(CHECK), &[]);
}

#[test]
fn golden_check_emulated() {
    let fx = Fixtures::new("emulated");
    check_all(&fx, &human_and_json(CHECK_EMULATED), &[]);
}

#[test]
fn golden_stream() {
    let fx = Fixtures::new("stream");
    check_all(&fx, &cases(STREAM), &[]);
    // The extracted configs are the bytes the streams were built from.
    assert_eq!(
        std::fs::read(fx.dir.join("e1000e.bin")).unwrap(),
        read(&format!("{QEMU_DATA}/q35-10.0-e1000e.bin"))
    );
    assert_eq!(
        std::fs::read(fx.dir.join("vnet.bin")).unwrap(),
        read(&format!("{QEMU_DATA}/q35-10.0-virtio-net-root-port.bin"))
    );
}

#[test]
fn golden_demo() {
    let fx = Fixtures::new("demo");
    check_all(&fx, &cases(DEMO), &[]);
    // `--write-data` regenerates the bundled demo data byte for byte.
    for (_, file) in SHOW_FILES.iter().filter(|(_, f)| f.starts_with("data/demo/")) {
        let name = file.trim_start_matches("data/demo/");
        assert_eq!(
            std::fs::read(fx.dir.join("demo-data").join(name)).unwrap(),
            read(file),
            "{name}"
        );
    }
}
