//! vfio-pci virtualization of the real configs bundled in `data/samples/h100-firecracker`
//! (copies of `../shared/corpus/h100-firecracker`). Each expectation is derived from QEMU's
//! rules applied to the chain we read from the bytes: sizes by distance to the next capability,
//! PM 8 bytes with the power state writable, MSI by its flags, MSI-X 12 bytes with
//! ENABLE/MASKALL writable, VSC header checked and payload exempt, extended caps with ID 0
//! dropped behind a stub at 0x100.

use pcimig_vfio::{virtualize, MachineType, VfioOptions};
use std::path::PathBuf;

fn sample(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../data/samples/h100-firecracker")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn all(v: &[u8], want: u8) -> bool {
    v.iter().all(|&b| b == want)
}

#[test]
fn h100_std_chain_masks_follow_vfio_rules() {
    let phys = sample("0000:00:06.0.config.bin");
    let d = virtualize(&phys, &VfioOptions::default()).unwrap();
    let s = &d.space;
    let order: Vec<_> = s.std_capabilities().iter().map(|e| (e.offset, e.id)).collect();
    assert_eq!(order, vec![(0x40, 0x01), (0x48, 0x05), (0x60, 0x10), (0xb0, 0x11)]);
    // PM at 0x40: 8 bytes (= the distance to MSI), PMCSR power state writable.
    assert!(all(&s.cmask()[0x40..0x48], 0xff));
    assert_eq!(s.wmask()[0x44], 0x03);
    // MSI at 0x48: flags 0x0388 = 64-bit, per-vector masking, 16 vectors -> msi_cap_sizeof 0x18,
    // exactly up to 0x60. Mask bits of the 16 vectors writable (0x48+0x10), pending read-only.
    assert_eq!(
        &s.config()[0x4a..0x4c],
        &[0x88, 0x01],
        "msi_init rewrites flags: MMC 4, 64BIT, MASKBIT"
    );
    assert_eq!(&s.wmask()[0x58..0x5c], &[0xff, 0xff, 0, 0]);
    assert!(all(&s.checked()[0x5c..0x60], 0xff));
    // PCIe at 0x60: the whole gap to MSI-X (0x50 bytes), read-only, checked.
    assert!(all(&s.checked()[0x60..0xb0], 0xff));
    // MSI-X at 0xb0: 12 bytes, ENABLE|MASKALL writable; 0xbc..0x100 unchecked.
    assert!(all(&s.cmask()[0xb0..0xbc], 0xff));
    assert_eq!(s.wmask()[0xb3], 0xc0);
    assert!(all(&s.checked()[0xbc..0x100], 0x00));
    // BARs 0, 2, 4 are 64-bit prefetchable (type 0xc in their low dword; 1, 3, 5 are upper
    // halves). Without sizes: host addresses cleared, config = type, only the type bits checked.
    let mut want = [0u8; 24];
    for i in [0, 8, 16] {
        want[i] = 0x0c;
    }
    assert_eq!(&s.config()[0x10..0x28], &want);
    let mut chk = [0u8; 24];
    for i in [0, 8, 16] {
        chk[i] = 0x0f;
    }
    assert_eq!(&s.checked()[0x10..0x28], &chk);
}

#[test]
fn h100_ext_chain_drops_hidden_caps_behind_a_stub() {
    let phys = sample("0000:00:06.0.config.bin");
    let d = virtualize(&phys, &VfioOptions::default()).unwrap();
    let s = &d.space;
    // Physical chain: 0x100 (ID 0) -> 0x12c LTR -> 0x134 (0) -> 0x1b8 AER -> 0x248 (0) ->
    // 0x250 (0) -> 0x2a4 VSEC -> 0x2b8 Power Budgeting -> 0x2f0 DSN.
    let chain: Vec<_> = s.ext_capabilities().entries.iter().map(|e| (e.offset, e.id)).collect();
    assert_eq!(
        chain,
        vec![
            (0x100, 0),
            (0x12c, 0x18),
            (0x1b8, 0x01),
            (0x2a4, 0x0b),
            (0x2b8, 0x04),
            (0x2f0, 0x03)
        ]
    );
    assert!(all(&s.cmask()[0x100..0x104], 0), "the stub is not checked");
    // Each exposed cap checked up to the next physical ext cap by address.
    assert!(all(&s.checked()[0x12c..0x134], 0xff));
    assert!(
        all(&s.checked()[0x134..0x1b8], 0x00),
        "hidden cap's bytes stay unchecked"
    );
    assert!(all(&s.checked()[0x1b8..0x248], 0xff));
    assert!(all(&s.checked()[0x248..0x2a4], 0x00));
    assert!(
        all(&s.checked()[0x2a4..0x1000], 0xff),
        "VSEC, Power Budgeting and DSN (to 0x1000) fully checked"
    );
    assert_eq!(d.dropped.iter().filter(|c| c.extended).count(), 4);
    assert!(d.warnings.iter().any(|w| w.contains("Device Serial Number at 0x2f0")));
    assert!(d
        .warnings
        .iter()
        .any(|w| w.contains("Vendor Specific Extended (000b) at 0x2a4")));
}

#[test]
fn virtio_vsc_chains_keep_headers_checked_and_payloads_exempt() {
    for f in [
        "0000:00:01.0.config.bin",
        "0000:00:03.0.config.bin",
        "0000:00:04.0.config.bin",
        "0000:00:05.0.config.bin",
    ] {
        let phys = sample(f);
        // VSCs at 0x40, 0x50, 0x60, 0x70, 0x84; MSI-X at 0x98.
        let bounds = [(0x40, 0x50), (0x50, 0x60), (0x60, 0x70), (0x70, 0x84), (0x84, 0x98)];
        let skip = virtualize(&phys, &VfioOptions::default()).unwrap();
        let strict = virtualize(
            &phys,
            &VfioOptions {
                machine: MachineType::parse("pc-q35-9.0").unwrap(),
                ..VfioOptions::default()
            },
        )
        .unwrap();
        for (a, b) in bounds {
            assert!(all(&skip.space.checked()[a..a + 3], 0xff), "{f}: VSC header at {a:#x}");
            assert!(all(&skip.space.checked()[a + 3..b], 0x00), "{f}: VSC payload at {a:#x}");
            assert!(all(&strict.space.checked()[a..b], 0xff), "{f}: strict VSC at {a:#x}");
        }
        assert_eq!(skip.space.exemptions().len(), 5);
        assert!(all(&skip.space.cmask()[0x98..0xa4], 0xff));
        assert!(all(&skip.space.checked()[0xa4..0x100], 0x00));
        assert!(skip.space.exemptions().iter().all(|e| e.policy == "skip-vsc-check"));
    }
}

#[test]
fn host_bridge_without_capabilities_checks_only_the_header() {
    let phys = sample("0000:00:00.0.config.bin");
    let d = virtualize(&phys, &VfioOptions::default()).unwrap();
    // IDs, revision, class, header type, cap pointer, status cap bit.
    assert_eq!(d.space.checked().iter().filter(|&&c| c != 0).count(), 11);
}
