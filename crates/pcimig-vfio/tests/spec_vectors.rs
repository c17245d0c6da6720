//! Golden tests for the vfio-pci vectors of the spec (§10 TV1–TV7, TV11) and the constructed
//! cases of the vfio issue. Every expectation is derived from QEMU's rules as the spec states
//! them (sizes by distance to the next capability by address; the 3-byte VSC header stays
//! checked; PM covers 8 bytes with the power state writable; …), never from our own output.
//!
//! A "check" here is what `pcimig check --vfio` does: both physical configs are virtualized as
//! vfio-pci would on their hosts, then the source's guest view is checked against the
//! destination device.

use pcimig_config::{restore_check, CapId, ConfigSpace, ExtCapId};
use pcimig_testkit::Phys;
use pcimig_vfio::{virtualize, MachineType, Slot, VfioDevice, VfioOptions};

fn opts(machine: &str) -> VfioOptions {
    VfioOptions {
        machine: MachineType::parse(machine).unwrap(),
        ..VfioOptions::default()
    }
}

fn strict() -> VfioOptions {
    opts("pc-q35-9.0")
}

fn skip() -> VfioOptions {
    opts("pc-q35-9.1")
}

fn dev(p: &[u8], o: &VfioOptions) -> VfioDevice {
    virtualize(p, o).unwrap()
}

/// Assert the checked mask over `range` is all 0xff (`true`) or all 0 (`false`).
fn assert_checked(d: &ConfigSpace, range: std::ops::Range<usize>, checked: bool) {
    for i in range {
        let want = if checked { 0xff } else { 0x00 };
        assert_eq!(d.checked()[i], want, "checked[{i:#x}]");
    }
}

/// The QEMU line of a vfio check of source physical `src` against destination physical `dst`.
fn check_line(src: &[u8], dst: &[u8], o: &VfioOptions) -> Option<String> {
    let saved = dev(src, o).space.config().to_vec();
    let d = dev(dst, o);
    restore_check(&saved, &d.space).unwrap().qemu_line()
}

const MSI32: &[u8] = &[0x00, 0x00]; // 1 vector, 32-bit: msi_cap_sizeof = 0x0a
const MSIX: &[u8] = &[0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00]; // 4 vectors, table BAR0@0, PBA BAR0@0x800

/// TV1: VSC at 0x40, length byte 0x14, next cap (MSI) at 0x60: the range is 0x40..0x60 (32
/// bytes, not 0x14).
#[test]
fn tv1_vsc_range_runs_to_the_next_capability() {
    let p = Phys::new(256)
        .cap(0x40, CapId::Vndr, &[0x14])
        .cap(0x60, CapId::Msi, MSI32)
        .build();
    let s = dev(&p, &strict());
    assert_checked(&s.space, 0x40..0x60, true);
    let k = dev(&p, &skip());
    assert_checked(&k.space, 0x40..0x43, true);
    assert_checked(&k.space, 0x43..0x60, false);
    assert_eq!(k.space.exemptions().len(), 1);
    assert_eq!(
        (k.space.exemptions()[0].start, k.space.exemptions()[0].end),
        (0x43, 0x60)
    );
    assert_eq!(k.space.exemptions()[0].policy, "skip-vsc-check");
    // wmask stays 0 over the whole range: only cmask changes.
    assert!(k.space.wmask()[0x40..0x60].iter().all(|&w| w == 0));

    let mut src = p.clone();
    let mut dst = p.clone();
    src[0x48] = 0x01;
    dst[0x48] = 0x02;
    assert_eq!(
        check_line(&src, &dst, &strict()).unwrap(),
        "get_pci_config_device: Bad config data: i=0x48 read: 1 device: 2 cmask: ff wmask: 0 w1cmask:0"
    );
    assert_eq!(check_line(&src, &dst, &skip()), None);

    let mut src = p.clone();
    src[0x42] = 0x18;
    for o in [strict(), skip()] {
        assert_eq!(
            check_line(&src, &p, &o).unwrap(),
            "get_pci_config_device: Bad config data: i=0x42 read: 18 device: 14 cmask: ff wmask: 0 w1cmask:0"
        );
    }
}

/// TV2: a VSC at the end of the chain is sized to 0x100.
#[test]
fn tv2_last_vsc_runs_to_the_end_of_standard_space() {
    let pcie: &[u8] = &[0x02, 0x00]; // endpoint, version 2
    let p = Phys::new(256)
        .cap(0x40, CapId::Pm, &[0x03, 0x00])
        .cap(0x50, CapId::Msi, MSI32)
        .cap(0x70, CapId::Exp, pcie)
        .cap(0xb0, CapId::Vndr, &[0x0c])
        .build();
    let k = dev(&p, &skip());
    assert_checked(&k.space, 0xb0..0xb3, true);
    assert_checked(&k.space, 0xb3..0x100, false);
    let s = dev(&p, &strict());
    assert_checked(&s.space, 0xb0..0x100, true);
    assert!(s.space.wmask()[0xb0..0x100].iter().all(|&w| w == 0));

    let mut dst = p.clone();
    dst[0xf0] = 0x5a;
    assert_eq!(
        check_line(&p, &dst, &strict()).unwrap(),
        "get_pci_config_device: Bad config data: i=0xf0 read: 0 device: 5a cmask: ff wmask: 0 w1cmask:0"
    );
    assert_eq!(check_line(&p, &dst, &skip()), None);

    // Variant: VSC at 0x40 last in the list while MSI-X sits at 0x60 (first in the list).
    let v = Phys::new(256)
        .cap(0x60, CapId::Msix, MSIX)
        .cap(0x40, CapId::Vndr, &[0x08])
        .build();
    let k = dev(&v, &skip());
    assert_checked(&k.space, 0x40..0x43, true);
    assert_checked(&k.space, 0x43..0x60, false);
    assert_eq!(
        k.space.cap_records().iter().find(|r| r.offset == 0x40).unwrap().size,
        0x20
    );

    // Variant: a lone VSC at 0x40: size 0xc0, 0x43..0xff exempt.
    let lone = Phys::new(256).cap(0x40, CapId::Vndr, &[0x08]).build();
    let k = dev(&lone, &skip());
    assert_checked(&k.space, 0x43..0x100, false);
    assert_eq!(
        (k.space.exemptions()[0].start, k.space.exemptions()[0].end),
        (0x43, 0x100)
    );
}

/// TV3: two adjacent VSCs; A's range never covers B's header.
#[test]
fn tv3_adjacent_vscs_each_keep_their_header_checked() {
    let p = Phys::new(256)
        .cap(0x40, CapId::Vndr, &[0x0c])
        .cap(0x4c, CapId::Vndr, &[0x14])
        .cap(0x60, CapId::Msix, MSIX)
        .build();
    let k = dev(&p, &skip());
    assert_checked(&k.space, 0x40..0x43, true);
    assert_checked(&k.space, 0x43..0x4c, false);
    assert_checked(&k.space, 0x4c..0x4f, true);
    assert_checked(&k.space, 0x4f..0x60, false);
    let s = dev(&p, &strict());
    assert_checked(&s.space, 0x40..0x60, true);
    let mut src = p.clone();
    src[0x4d] = 0x64;
    for o in [strict(), skip()] {
        assert_eq!(
            check_line(&src, &p, &o).unwrap(),
            "get_pci_config_device: Bad config data: i=0x4d read: 64 device: 60 cmask: ff wmask: 0 w1cmask:0"
        );
    }
}

/// TV4: a VSC of length 3 (header only) is still sized by address.
#[test]
fn tv4_header_only_vsc() {
    let p = Phys::new(256)
        .cap(0x40, CapId::Vndr, &[0x03])
        .cap(0x44, CapId::Vndr, &[0x03])
        .build();
    let k = dev(&p, &skip());
    assert_checked(&k.space, 0x40..0x43, true);
    assert_checked(&k.space, 0x43..0x44, false);
    assert_checked(&k.space, 0x44..0x47, true);
    let s = dev(&p, &strict());
    assert_checked(&s.space, 0x40..0x44, true);

    let p = Phys::new(256)
        .cap(0x40, CapId::Vndr, &[0x03])
        .cap(0x50, CapId::Msi, MSI32)
        .build();
    let k = dev(&p, &skip());
    assert_checked(&k.space, 0x43..0x50, false);
}

/// TV5: the length byte is smaller than the distance to the next capability.
#[test]
fn tv5_vsc_shorter_than_its_range() {
    let p = Phys::new(256)
        .cap(0x48, CapId::Vndr, &[0x08])
        .cap(0x70, CapId::Msi, MSI32)
        .build();
    let k = dev(&p, &skip());
    assert_checked(&k.space, 0x48..0x4b, true);
    assert_checked(&k.space, 0x4b..0x70, false);
    let s = dev(&p, &strict());
    assert_checked(&s.space, 0x48..0x70, true);
    let mut src = p.clone();
    src[0x60] = 0xff;
    assert_eq!(
        check_line(&src, &p, &strict()).unwrap(),
        "get_pci_config_device: Bad config data: i=0x60 read: ff device: 0 cmask: ff wmask: 0 w1cmask:0"
    );
    assert_eq!(check_line(&src, &p, &skip()), None);
    let mut src = p.clone();
    src[0x4a] = 0x0c;
    for o in [strict(), skip()] {
        assert_eq!(
            check_line(&src, &p, &o).unwrap(),
            "get_pci_config_device: Bad config data: i=0x4a read: c device: 8 cmask: ff wmask: 0 w1cmask:0"
        );
    }
}

/// TV6: PM in vfio-pci covers 8 bytes with the power state writable; the gap is unchecked.
#[test]
fn tv6_pm_is_8_bytes_with_power_state_writable() {
    let p = Phys::new(256)
        .cap(0x40, CapId::Pm, &[0x03, 0x00])
        .cap(0x50, CapId::Msi, MSI32)
        .build();
    let d = dev(&p, &skip()).space;
    for (i, c, w) in [
        (0x40, 0xff, 0),
        (0x41, 0xff, 0),
        (0x42, 0xff, 0),
        (0x43, 0xff, 0),
        (0x44, 0xff, 3),
        (0x45, 0xff, 0),
        (0x46, 0xff, 0),
        (0x47, 0xff, 0),
    ] {
        assert_eq!((d.cmask()[i], d.wmask()[i]), (c, w), "byte {i:#x}");
    }
    assert_eq!(d.checked()[0x44], 0xfc);
    for i in 0x48..0x50 {
        assert_eq!((d.cmask()[i], d.wmask()[i]), (0, 0xff), "gap byte {i:#x}");
    }
    let saved = |off: usize, v: u8| {
        let mut s = d.config().to_vec();
        s[off] = v;
        restore_check(&s, &d).unwrap().qemu_line()
    };
    assert_eq!(saved(0x44, 0x03), None);
    assert_eq!(
        saved(0x44, 0x08).unwrap(),
        "get_pci_config_device: Bad config data: i=0x44 read: 8 device: 0 cmask: ff wmask: 3 w1cmask:0"
    );
    assert_eq!(
        saved(0x45, 0x80).unwrap(),
        "get_pci_config_device: Bad config data: i=0x45 read: 80 device: 0 cmask: ff wmask: 0 w1cmask:0"
    );
    assert_eq!(saved(0x4a, 0x77), None);
}

/// TV7 end to end with TV1's data: pc-q35-9.0 fails at 0x48, pc-q35-9.1 passes; explicit
/// properties win over the machine type; the source's setting is irrelevant (only the
/// destination's masks are used).
#[test]
fn tv7_machine_type_boundary_and_explicit_override() {
    let p = Phys::new(256)
        .cap(0x40, CapId::Vndr, &[0x14])
        .cap(0x60, CapId::Msi, MSI32)
        .build();
    let mut src = p.clone();
    src[0x48] = 1;
    let mut dst = p.clone();
    dst[0x48] = 2;
    let line = |o: &VfioOptions| check_line(&src, &dst, o);
    assert!(line(&opts("pc-q35-9.0")).unwrap().contains("i=0x48"));
    assert!(line(&opts("pc-i440fx-9.0")).unwrap().contains("i=0x48"));
    assert_eq!(line(&opts("pc-q35-9.1")), None);
    assert_eq!(line(&opts("pc-q35-9.2")), None);
    assert_eq!(line(&opts("q35")), None);
    assert_eq!(
        line(&VfioOptions {
            skip_vsc_check: Some(true),
            ..opts("pc-q35-9.0")
        }),
        None
    );
    assert!(line(&VfioOptions {
        skip_vsc_check: Some(false),
        ..opts("pc-q35-10.0")
    })
    .unwrap()
    .contains("i=0x48"));
    // Source virtualized strictly, destination with the default: passes (destination decides).
    let saved = dev(&src, &strict()).space.config().to_vec();
    assert!(restore_check(&saved, &dev(&dst, &skip()).space).unwrap().passed());
}

const PCIE_EP: &[u8] = &[0x02, 0x00];

/// TV11: ext bytes no capability covers are unchecked; a DVSEC is fully checked, no exemption.
#[test]
fn tv11_dvsec_is_fully_checked_and_unclaimed_ext_bytes_are_not() {
    let p = Phys::new(4096)
        .cap(0x40, CapId::Exp, PCIE_EP)
        .ext(0x100, ExtCapId::Err, 2, &[])
        .ext(0x200, ExtCapId::Dvsec, 1, &[])
        .ext(0x300, ExtCapId::Dsn, 1, &[])
        .build();
    let d = dev(&p, &skip());
    assert_checked(&d.space, 0x200..0x300, true);
    assert!(d.space.wmask()[0x200..0x300].iter().all(|&w| w == 0));
    assert!(d.space.exemptions().is_empty());
    // Without the DVSEC link (AER → DSN), 0x200 is claimed by AER's by-address range; on a
    // slot without a PCIe bus, nothing in 0x100.. is checked and all of it is writable.
    let b = dev(
        &p,
        &VfioOptions {
            slot: Slot::PciBridge,
            ..skip()
        },
    );
    assert!(b.space.checked()[0x100..].iter().all(|&c| c == 0));
    assert!(b.space.wmask()[0x100..].iter().all(|&w| w == 0xff));
}

/// Extended chain: dropped IDs (0, SR-IOV, ARI), the stub at 0x100, re-linking, the
/// exempt-ext-vendor opt-in.
#[test]
fn ext_chain_drops_relinks_and_opt_in_exempts_vendor_payloads() {
    let p = Phys::new(4096)
        .cap(0x40, CapId::Exp, PCIE_EP)
        .ext(0x100, ExtCapId::Null, 0, &[])
        .ext(0x140, ExtCapId::Sriov, 1, &[])
        .ext(0x180, ExtCapId::Vndr, 1, &[])
        .ext(0x1c0, ExtCapId::Ari, 1, &[])
        .ext(0x200, ExtCapId::Dvsec, 1, &[])
        .ext(0x240, ExtCapId::Dsn, 1, &[])
        .build();
    let d = dev(&p, &skip());
    let chain: Vec<_> = d
        .space
        .ext_capabilities()
        .entries
        .iter()
        .map(|e| (e.offset, e.id))
        .collect();
    assert_eq!(chain, vec![(0x100, 0), (0x180, 0x0b), (0x200, 0x23), (0x240, 3)]);
    // The stub: ID 0 version 0, next = first exposed; read-only, unchecked.
    assert_eq!(&d.space.config()[0x100..0x104], &(0x180u32 << 20).to_le_bytes());
    assert!(d.space.cmask()[0x100..0x104].iter().all(|&c| c == 0));
    assert!(d.space.wmask()[0x100..0x104].iter().all(|&w| w == 0));
    // Dropped caps' bytes keep the init masks (unchecked, writable).
    assert_checked(&d.space, 0x140..0x180, false);
    assert_checked(&d.space, 0x1c0..0x200, false);
    // VSEC sized to the next ext cap by address (0x1c0, even though ARI is dropped).
    assert_checked(&d.space, 0x180..0x1c0, true);
    assert_checked(&d.space, 0x240..0x1000, true);
    assert_eq!(d.dropped.len(), 3);
    assert!(d.warnings.iter().any(|w| w.contains("Device Serial Number")));

    let o = VfioOptions {
        exempt_ext_vendor: true,
        ..skip()
    };
    let e = dev(&p, &o);
    assert_checked(&e.space, 0x180..0x188, true);
    assert_checked(&e.space, 0x188..0x1c0, false);
    assert_checked(&e.space, 0x200..0x20a, true);
    assert_checked(&e.space, 0x20a..0x240, false);
    let pol: Vec<_> = e
        .space
        .exemptions()
        .iter()
        .map(|x| (x.start, x.end, x.policy.as_str()))
        .collect();
    assert_eq!(
        pol,
        vec![(0x188, 0x1c0, "exempt-ext-vendor"), (0x20a, 0x240, "exempt-ext-vendor")]
    );
}

/// No standard capability list: no ext caps either, not even the stub.
#[test]
fn no_std_caps_means_no_ext_caps() {
    let p = Phys::new(4096).ext(0x100, ExtCapId::Dsn, 1, &[]).build();
    let d = dev(&p, &skip());
    assert_eq!(&d.space.config()[0x100..0x104], &p[0x100..0x104]);
    assert!(d.space.checked()[0x40..].iter().all(|&c| c == 0));
}

/// Each slot's treatment of the PCIe capability (spec §4.2).
#[test]
fn slots_decide_the_pcie_capability() {
    let rc_end: &[u8] = &[0x92, 0x00];
    let p = Phys::new(4096).cap(0x40, CapId::Exp, PCIE_EP).build();
    // Behind a PCIe port: kept as an Endpoint, gap-sized, fully checked.
    let d = dev(
        &p,
        &VfioOptions {
            slot: Slot::PciePort,
            ..skip()
        },
    );
    assert_checked(&d.space, 0x40..0x100, true);
    // On the q35 root bus: Endpoint -> RC integrated endpoint, links zeroed.
    let mut q = p.clone();
    q[0x40 + 0x0c..0x40 + 0x14].copy_from_slice(&[0x11, 0x04, 0, 0, 0x40, 0, 0x11, 0]);
    let d = dev(
        &q,
        &VfioOptions {
            slot: Slot::Q35Root,
            ..skip()
        },
    );
    assert_eq!(d.space.config()[0x42], 0x92);
    assert_eq!(&d.space.config()[0x4c..0x54], &[0; 8]);
    assert_checked(&d.space, 0x40..0x100, true);
    // Behind a PCI bridge on q35: hidden — not checked, writable, not on the list.
    let d = dev(
        &p,
        &VfioOptions {
            slot: Slot::PciBridge,
            ..skip()
        },
    );
    assert!(d.space.std_capabilities().is_empty());
    assert_checked(&d.space, 0x40..0x100, false);
    assert_eq!(d.dropped[0].id, 0x10);
    // i440fx: kept unchanged.
    let d = dev(
        &p,
        &VfioOptions {
            slot: Slot::I440fx,
            machine: MachineType::parse("pc").unwrap(),
            ..skip()
        },
    );
    assert_eq!(d.space.config()[0x42], 0x02);
    assert_checked(&d.space, 0x40..0x100, true);
    // RC integrated endpoint behind a port becomes an Endpoint with an x1 2.5GT link.
    let r = Phys::new(4096).cap(0x40, CapId::Exp, rc_end).build();
    let d = dev(
        &r,
        &VfioOptions {
            slot: Slot::PciePort,
            ..skip()
        },
    );
    assert_eq!(d.space.config()[0x42], 0x02);
    assert_eq!(&d.space.config()[0x4c..0x50], &[0x11, 0, 0, 0]);
    // Version 0 is emulated as 1.
    let v0 = Phys::new(4096).cap(0x40, CapId::Exp, &[0x00, 0x00]).build();
    assert_eq!(dev(&v0, &skip()).space.config()[0x42], 0x01);
}

/// BAR sizes given: size bits checked; not given: type bits only. MSI-X placement is validated
/// only with sizes.
#[test]
fn bar_sizes_given_and_not_given() {
    let mut p = Phys::new(256)
        .cap(
            0x40,
            CapId::Msix,
            &[0x03, 0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x28, 0x00, 0x00],
        )
        .build();
    p[0x10..0x14].copy_from_slice(&0xfe00_0000u32.to_le_bytes()); // 32-bit mem BAR0 with a host address
    p[0x18..0x1c].copy_from_slice(&0x0000_000cu32.to_le_bytes()); // 64-bit prefetch BAR2
    let d = dev(&p, &skip());
    assert_eq!(&d.space.config()[0x10..0x14], &[0, 0, 0, 0], "host addresses cleared");
    assert_eq!(&d.space.checked()[0x10..0x14], &[0x0f, 0, 0, 0]);
    assert_eq!(&d.space.checked()[0x18..0x20], &[0x0f, 0, 0, 0, 0, 0, 0, 0]);
    assert!(!d.bar_sizes_given);
    let sized = VfioOptions {
        bar_sizes: Some([Some(0x4000), None, Some(0x100000), None, None, None]),
        ..skip()
    };
    let d = dev(&p, &sized);
    assert_eq!(&d.space.checked()[0x10..0x14], &[0xff, 0x3f, 0, 0]);
    assert_eq!(&d.space.checked()[0x18..0x1c], &[0xff, 0xff, 0x0f, 0]);
    // MSI-X table at 0x2000 of BAR0 (16 KiB) fits; with an 8 KiB BAR0 the PBA at 0x2800 is outside.
    let small = VfioOptions {
        bar_sizes: Some([Some(0x2000), None, Some(0x100000), None, None, None]),
        ..skip()
    };
    let e = virtualize(&p, &small).unwrap_err();
    assert_eq!(
        e.to_string(),
        "hardware reports invalid configuration, MSIX PBA outside of specified BAR"
    );
    let rom = VfioOptions {
        rom_size: Some(0x20000),
        ..sized
    };
    let d = dev(&p, &rom);
    assert_eq!(&d.space.checked()[0x30..0x34], &[0xfe, 0xff, 0x01, 0]);
}

/// An overlap QEMU reports while rebuilding the chain (a capability pointer that lands inside
/// the previous capability's used bytes, e.g. a VMD shadow at 0xe8 vs a physical cap at 0xec).
#[test]
fn overlapping_capabilities_are_refused_with_qemus_message() {
    let mut p = Phys::new(256)
        .cap(0x40, CapId::Pm, &[0x03, 0x00])
        .cap(0xec, CapId::Vndr, &[0x04])
        .build();
    p[0..4].copy_from_slice(&[0x86, 0x80, 0x1d, 0x20]); // Intel VMD 0x201d
    let e = virtualize(&p, &skip()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "failed to add PCI capability 0x9[0x14]@0xec: 0000:00:00:00.0 Attempt to add PCI capability 9 at offset ec overlaps existing capability e8 at offset ec"
    );
}

/// A dword of 0xffffffff at 0x100 is not "no extended capabilities" to QEMU: vfio_add_ext_cap
/// reads ID 0xffff, version 0xf, next 0xffc, adds it (sized up to 0xffc), and then rewrites the
/// head's ID 0xffff to 0 as it does for its own stub.
#[test]
fn all_ones_extended_header_is_a_capability_to_qemu() {
    let mut p = Phys::new(4096).cap(0x40, CapId::Exp, PCIE_EP).build();
    p[0x100..0x104].copy_from_slice(&[0xff; 4]);
    let d = dev(&p, &skip());
    let chain: Vec<_> = d.physical_ext_caps.iter().map(|e| (e.offset, e.id)).collect();
    assert_eq!(chain, vec![(0x100, 0xffff), (0xffc, 0)]);
    assert_eq!(&d.space.config()[0x100..0x104], &0x000f_0000u32.to_le_bytes());
    assert_checked(&d.space, 0x100..0xffc, true);
    assert_checked(&d.space, 0xffc..0x1000, false);
}

/// vfio_setup_rebar_ecap keeps a Resizable BAR only if every current size is within
/// PCI_REBAR_CAP_SIZES (0x00fffff0 in QEMU 10.0.2: 1 MiB..512 GiB). A current size field of 20
/// (1 TiB) drops the capability: the head at 0x100 becomes the ID-0 stub, nothing checked.
#[test]
fn resizable_bar_beyond_512g_is_dropped() {
    let mut p = Phys::new(4096)
        .cap(0x40, CapId::Exp, PCIE_EP)
        .ext(0x100, ExtCapId::Rebar, 1, &[])
        .build();
    p[0x108..0x10c].copy_from_slice(&0x0000_1420u32.to_le_bytes()); // 1 BAR, size 20
    let d = dev(&p, &skip());
    assert!(d.dropped.iter().any(|c| c.extended && c.id == 0x15));
    assert_checked(&d.space, 0x100..0x1000, false);
    // Size 19 (512 GiB) is kept: CAP reports only that size (bit 23), CTRL keeps the current size.
    p[0x108..0x10c].copy_from_slice(&0x0000_1320u32.to_le_bytes());
    let d = dev(&p, &skip());
    assert_eq!(&d.space.config()[0x104..0x108], &(1u32 << 23).to_le_bytes());
    assert_checked(&d.space, 0x100..0x1000, true);
}

/// vfio_msix_early_setup's Chelsio T5 VF quirk: a PBA offset of 0x8000 in an 8 KiB BAR becomes
/// 0x1000, and msix_init writes it into the (checked) PBA dword, with or without BAR sizes. The
/// quirk looks at the IDs the guest sees (x-pci-*-id applied).
#[test]
fn msix_pba_quirks_apply_with_the_guest_visible_ids() {
    let msix_pba_8000: &[u8] = &[0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x00, 0x00];
    let mut p = Phys::new(256).cap(0x40, CapId::Msix, msix_pba_8000).build();
    p[0..4].copy_from_slice(&[0x25, 0x14, 0x01, 0x58]); // 1425:5801
    let d = dev(&p, &skip());
    assert_eq!(&d.space.config()[0x48..0x4c], &0x1000u32.to_le_bytes());
    let sized = VfioOptions {
        bar_sizes: Some([Some(0x2000), None, None, None, None, None]),
        ..skip()
    };
    assert_eq!(&dev(&p, &sized).space.config()[0x48..0x4c], &0x1000u32.to_le_bytes());
    // Same physical device presented as another vendor: no quirk, and the PBA is outside BAR0.
    let other = VfioOptions {
        id_overrides: pcimig_vfio::IdOverrides {
            vendor_id: Some(0x10de),
            ..Default::default()
        },
        ..sized
    };
    assert_eq!(
        virtualize(&p, &other).unwrap_err().to_string(),
        "hardware reports invalid configuration, MSIX PBA outside of specified BAR"
    );
}

/// vfio_pci_size_rom skips the ROM of a device on QEMU's denylist (14e4:168e) with rombar at
/// its default: the ROM BAR is not registered, so not checked.
#[test]
fn rom_of_a_denylisted_device_is_not_registered() {
    let mut p = Phys::new(256).build();
    p[0..4].copy_from_slice(&[0xe4, 0x14, 0x8e, 0x16]);
    let d = dev(
        &p,
        &VfioOptions {
            rom_size: Some(0x10000),
            ..skip()
        },
    );
    assert_checked(&d.space, 0x30..0x34, false);
    assert_eq!(&d.space.wmask()[0x30..0x34], &[0, 0, 0, 0]);
}

/// Errors are prefixed as vfio_add_std_cap prefixes them; MSI's also carry "msi_init failed: ".
#[test]
fn capability_errors_carry_qemus_prefixes() {
    // 64-bit MSI (0x0e bytes) at 0x40 with a capability at 0x48: msi_init's overlap.
    let p = Phys::new(256)
        .cap(0x40, CapId::Msi, &[0x80, 0x00])
        .cap(0x48, CapId::Vndr, &[0x04])
        .build();
    let e = virtualize(&p, &skip()).unwrap_err().to_string();
    assert!(
        e.starts_with("failed to add PCI capability 0x5[0x8]@0x40: msi_init failed: 0000:00:00:00.0 Attempt to add PCI capability 5 at offset 40 overlaps existing capability 48 at offset 48"),
        "{e}"
    );
    // MSI-X whose table and PBA overlap in a 16-byte BAR0: msix_init's message, prefixed.
    let msix: &[u8] = &[0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00];
    let p = Phys::new(256).cap(0x40, CapId::Msix, msix).build();
    let o = VfioOptions {
        bar_sizes: Some([Some(0x10), None, None, None, None, None]),
        ..skip()
    };
    assert_eq!(
        virtualize(&p, &o).unwrap_err().to_string(),
        "failed to add PCI capability 0x11[0xc0]@0x40: table & pba overlap, or they don't fit in BARs, or don't align"
    );
}
