//! The stand-in under the real QEMU 10.0.x: devices realize from the bundled images, migrate to
//! an identical destination, and QEMU's own `get_pci_config_device` judges a changed VSC
//! payload (exempt only where `skip-vsc-check` is on) and a changed device ID.

use pcimig_vfio_standin::{harness, Case, HarnessError, Slot, Stage, Verdict};
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

#[test]
fn h100_dumps_with_4096_byte_config_migrate_in_both_slots() {
    let h = harness_or_skip!();
    for image in ["samples/h100-firecracker/0000:00:06.0.config.bin", "demo/h100-gpu0.bin"] {
        let a = data(image);
        assert_eq!(a.len(), 4096);
        for slot in [Slot::PciePort, Slot::Q35Root] {
            let c = Case {
                slot,
                ..case(&a, &a, "pc-q35-10.0", &[])
            };
            assert_eq!(h.run(&c).unwrap(), Verdict::Accepted, "{image} in {}", slot.name());
        }
    }
}

#[test]
fn differing_device_serial_numbers_are_rejected_behind_a_root_port() {
    let h = harness_or_skip!();
    let a = data("demo/h100-gpu0.bin");
    let b = data("demo/h100-gpu1.bin");
    let first_diff = (0..a.len()).find(|&i| a[i] != b[i]).unwrap();
    assert!(
        (0x2f4..0x2fc).contains(&first_diff),
        "the two H100s differ in the DSN at 0x2f0"
    );
    match h.run(&case(&a, &b, "pc-q35-10.0", &[])).unwrap() {
        Verdict::Rejected { line } => {
            assert!(line.contains(&format!("i=0x{first_diff:x} ")), "{line}")
        }
        v => panic!("expected a rejection at the DSN, got {v}"),
    }
}

#[test]
fn a_rom_of_the_given_size_realizes_and_migrates() {
    let h = harness_or_skip!();
    let a = data("demo/vgpu-host-a-r550.bin");
    let c = Case {
        rom: 512 << 10,
        ..case(&a, &a, "pc-q35-10.0", &[])
    };
    assert_eq!(h.run(&c).unwrap(), Verdict::Accepted);
}

#[test]
fn a_bridge_header_is_refused_as_the_kernel_refuses_it() {
    let h = harness_or_skip!();
    let mut a = data("demo/vgpu-host-a-r550.bin");
    a[0x0e] = 0x01;
    match h.run(&case(&a, &a, "pc-q35-10.0", &[])).unwrap() {
        Verdict::Failed {
            stage: Stage::SourceRealize,
            stderr,
        } => {
            assert!(stderr.contains("header type 0x01 is not 0"), "{stderr}");
            assert!(stderr.contains("/dev/vfio/42"), "{stderr}");
        }
        v => panic!("expected the source to fail realizing, got {v}"),
    }
}

#[test]
fn an_unhandled_call_aborts_loudly_instead_of_realizing() {
    let h = harness_or_skip!();
    let a = data("demo/vgpu-host-a-r550.bin");
    // vf-token= makes QEMU ask the group for "NAME vf_token=UUID", which the stand-in does not present.
    let c = case(
        &a,
        &a,
        "pc-q35-10.0",
        &[("vf-token", "00000000-0000-0000-0000-000000000001")],
    );
    match h.run(&c) {
        Err(HarnessError::StandIn {
            stage: Stage::SourceRealize,
            message,
        }) => {
            assert!(message.contains("VFIO_GROUP_GET_DEVICE_FD"), "{message}")
        }
        other => panic!("expected the stand-in to abort QEMU, got {other:?}"),
    }
}

#[test]
fn a_capability_walk_that_loops_is_reported_as_a_hang() {
    let h = harness_or_skip!().with_timeout(std::time::Duration::from_secs(2));
    let mut a = data("demo/vgpu-host-a-r550.bin");
    a[0xc1] = 0x40; // the VSC at 0xc0 points back to PM at 0x40
    match h.run(&case(&a, &a, "pc-q35-10.0", &[])).unwrap() {
        Verdict::Hung {
            stage: Stage::SourceRealize,
        } => {}
        v => panic!("expected QEMU to hang realizing, got {v}"),
    }
}
