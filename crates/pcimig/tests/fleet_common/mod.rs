//! Generated fleets for the fleet tests: devices derived from the repo's H100 dump
//! (`data/demo/h100-gpu0.bin`) across driver versions (VSC payloads), device and subsystem IDs,
//! Device Serial Numbers and QEMU versions.

use pcimig::fleet::FleetDevice;
use pcimig::source::BarSizes;
use pcimig_config::regs::{PCI_DEVICE_ID, PCI_SUBSYSTEM_ID};
use pcimig_config::QemuVersion;

/// The H100's BAR sizes: BAR0 16 MiB, BAR2 64 GiB, BAR4 32 MiB (each 64-bit).
pub const BARS: [Option<u64>; 6] = [Some(16 << 20), None, Some(64 << 30), None, Some(32 << 20), None];

/// The QEMU versions of the generated hosts.
pub const QEMUS: [&str; 4] = ["7.2.22", "9.0.2", "10.0.2", "11.1.3"];

/// The H100 dump.
pub fn h100() -> Vec<u8> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/demo/h100-gpu0.bin");
    std::fs::read(root).expect("the H100 dump")
}

/// Where the H100's Device Serial Number's serial sits.
const DSN_SERIAL: usize = 0x2f4;

/// One generated physical device: `(driver version, config)`.
fn variant(h100: &[u8], i: usize) -> (Option<&'static str>, Vec<u8>) {
    const BRANCHES: [(&[u8; 4], u32, &str); 3] = [
        (b"R535", 0xf3, "535.183"),
        (b"R550", 0xf3, "550.54"),
        (b"R570", 0x1f7, "570.124"),
    ];
    match i % 8 {
        // Passthrough GPUs (among the first 400 devices): the raw H100 with its own serial
        // number; each is a group of its own, so their number squared bounds the matrix.
        0 if i < 400 => {
            let mut c = h100.to_vec();
            c[DSN_SERIAL..DSN_SERIAL + 8].copy_from_slice(&(0x1b2e_0000_0000_0000u64 + i as u64).to_le_bytes());
            (None, c)
        }
        n => {
            let (branch, caps, version) = BRANCHES[n % 3];
            let n = n.max(1);
            let mut c = pcimig::demo::vgpu_config(h100, branch, caps);
            if n == 5 {
                c[PCI_SUBSYSTEM_ID] ^= 0x01; // another board
            }
            if n == 7 {
                c[PCI_DEVICE_ID] = 0x31; // another vGPU type: another kind
            }
            (Some(version), c)
        }
    }
}

/// `n` devices: host `i / 2`, two GPUs each, QEMU by host, a variant per device.
pub fn fleet(n: usize) -> Vec<FleetDevice> {
    let h100 = h100();
    (0..n)
        .map(|i| {
            let host = i / 2;
            let snapshot = format!("snap-{host:03}.json");
            let bdf = format!("0000:{:02x}:00.0", 0x3b + i % 2);
            let (version, config) = variant(&h100, i);
            FleetDevice {
                name: format!("{snapshot}#{bdf}"),
                snapshot,
                host: format!("host-{host:03}"),
                bdf,
                vendor: u16::from_le_bytes([config[0], config[1]]),
                device: u16::from_le_bytes([config[2], config[3]]),
                driver: Some(if version.is_some() { "nvidia" } else { "vfio-pci" }.into()),
                driver_version: version.map(Into::into),
                qemu: QemuVersion::parse(QEMUS[(host / 3) % QEMUS.len()]).unwrap(),
                config,
                bar_sizes: Some(BarSizes { bars: BARS, rom: None }),
            }
        })
        .collect()
}
