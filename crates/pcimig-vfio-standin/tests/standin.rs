//! The stand-in under the real QEMU 10.0.x: devices realize from the bundled images, migrate to
//! an identical destination, and QEMU's own `get_pci_config_device` judges a changed VSC
//! payload (exempt only where `skip-vsc-check` is on) and a changed device ID.

use pcimig_vfio_standin::{harness, Case, Slot, Verdict};
use std::path::PathBuf;

fn data(rel: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data").join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// BAR sizes for the vGPU-like demo images: MSI-X table and PBA in BAR0 (at 0xb90000), BAR2
/// and BAR4 64-bit prefetchable; the upper halves (BAR1, BAR3, BAR5) are 0.
const VGPU_BARS: [u64; 6] = [16 << 20, 0, 64 << 30, 0, 32 << 20, 0];

fn case(saved: &[u8], dest: &[u8], machine: &str, props: &[(&str, &str)]) -> Case {
    Case {
        saved: saved.to_vec(),
        dest: dest.to_vec(),
        bars: VGPU_BARS,
        rom: 0,
        machine: machine.to_string(),
        props: props.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        slot: Slot::PciePort,
    }
}

macro_rules! harness_or_skip {
    () => {
        match harness() {
            Ok(h) => h,
            Err(why) => {
                eprintln!("SKIPPED: {why}");
                return;
            }
        }
    };
}

#[test]
fn vgpu_image_migrates_to_an_identical_destination() {
    let h = harness_or_skip!();
    let a = data("demo/vgpu-host-a-r550.bin");
    let v = h.run(&case(&a, &a, "pc-q35-10.0", &[])).unwrap();
    assert_eq!(v, Verdict::Accepted);
}

#[test]
fn vsc_payload_change_follows_skip_vsc_check() {
    let h = harness_or_skip!();
    let a = data("demo/vgpu-host-a-r550.bin");
    let b = data("demo/vgpu-host-b-r570.bin");
    let first_diff = (0..a.len()).find(|&i| a[i] != b[i]).unwrap();
    assert!(
        (0xc3..0xd8).contains(&first_diff),
        "the demo images differ in the VSC payload"
    );
    assert_eq!(h.run(&case(&a, &b, "pc-q35-10.0", &[])).unwrap(), Verdict::Accepted);
    for (machine, props) in [
        ("pc-q35-9.0", &[][..]),
        ("pc-q35-10.0", &[("skip-vsc-check", "off")][..]),
    ] {
        match h.run(&case(&a, &b, machine, props)).unwrap() {
            Verdict::Rejected { line } => {
                let at = format!("Bad config data: i=0x{first_diff:x} ");
                assert!(line.contains(&at), "{machine} {props:?}: {line}");
            }
            v => panic!("{machine} {props:?}: expected a rejection, got {v}"),
        }
    }
}

#[test]
fn device_id_change_is_rejected() {
    let h = harness_or_skip!();
    let a = data("demo/vgpu-host-a-r550.bin");
    let mut b = a.clone();
    b[2] ^= 0x01;
    match h.run(&case(&a, &b, "pc-q35-10.0", &[])).unwrap() {
        Verdict::Rejected { line } => assert!(line.contains("Bad config data: i=0x2 "), "{line}"),
        v => panic!("expected a rejection at the Device ID, got {v}"),
    }
}
