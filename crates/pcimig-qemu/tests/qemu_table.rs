//! The device table on config spaces saved by real QEMU 10.0.2 (tests/data, extracted with
//! `pcimig stream extract` from streams of `-machine q35`/`pc-q35-9.1` VMs; no QEMU needed to run
//! these). Expected masks are read off QEMU's source, as cited per assertion; the real-QEMU suite
//! (qemu_restore.rs) proves the same table against QEMU itself.

use pcimig_config::{restore_check, Array};
use pcimig_qemu::devices::{build_destination, qemu_data_dirs, Destination, EmulatedDevice, QueryPci, RomFiles};

fn data(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn model(file: &str, idstr: &str, machine: &str) -> (Vec<u8>, EmulatedDevice) {
    let cfg = data(file);
    let qp = QueryPci::parse(&String::from_utf8(data("q35-10.0.query-pci.json")).unwrap()).unwrap();
    let m = build_destination(&Destination {
        idstr,
        config: &cfg,
        machine,
        query_pci: Some(&qp),
        rom_files: &RomFiles::from_data_dirs(&qemu_data_dirs()),
        qemu: pcimig_qemu::devices::QemuVersion::DEFAULT,
    })
    .unwrap();
    assert_eq!(m.space.config(), &cfg[..], "config is the destination's bytes");
    (cfg, m)
}

fn checked(m: &EmulatedDevice, off: usize) -> u8 {
    m.space.checked()[off]
}

#[test]
fn virtio_net_on_the_q35_root_bus() {
    let (cfg, m) = model(
        "q35-10.0-virtio-net-root-bus.bin",
        "0000:00:01.0/virtio-net",
        "pc-q35-10.0",
    );
    assert_eq!(m.type_name, "virtio-net-pci");
    assert_eq!(cfg[0x34], 0x98, "MSI-X added after the vendor caps heads the list");
    // TV12: PCI_CFG at 0x84 (virtio_pci_device_plugged: wmask over bar, offset, length, data).
    assert_eq!(cfg[0x84], 0x09);
    assert_eq!(cfg[0x87], 5, "cfg_type VIRTIO_PCI_CAP_PCI_CFG");
    for i in [0x84, 0x85, 0x86, 0x87, 0x89, 0x8a, 0x8b] {
        assert_eq!(checked(&m, i), 0xff, "{i:#x} checked");
    }
    for i in [0x88].into_iter().chain(0x8c..0x98) {
        assert_eq!(checked(&m, i), 0, "{i:#x} is the writable window");
    }
    // The other vendor caps are read-only and checked (pci_add_capability).
    for i in 0x40..0x84 {
        assert_eq!(checked(&m, i), 0xff, "{i:#x}");
    }
    // TV14: MSI-X Message Control; 4 vectors here, 8 on a `vectors=8` destination.
    let mut saved = cfg.clone();
    saved[0x9a] = 7;
    assert_eq!(
        restore_check(&saved, &m.space).unwrap().qemu_line().unwrap(),
        "get_pci_config_device: Bad config data: i=0x9a read: 7 device: 3 cmask: ff wmask: 0 w1cmask:0"
    );
    assert_eq!(checked(&m, 0x9b), 0x3f, "MSI-X enable/mask-all writable");
    // BAR0 I/O 32 bytes, BAR1 4 KiB, BAR4 64-bit prefetchable 16 KiB, ROM 256 KiB (query-pci).
    assert_eq!(m.space.get_le(Array::Wmask, 0x10, 4).unwrap(), 0xffff_ffe0);
    assert_eq!(m.space.get_le(Array::Wmask, 0x14, 4).unwrap(), 0xffff_f000);
    assert_eq!(m.space.get_le(Array::Wmask, 0x20, 8).unwrap(), 0xffff_ffff_ffff_c000);
    assert_eq!(m.space.get_le(Array::Wmask, 0x30, 4).unwrap(), 0xfffc_0001);
}

#[test]
fn virtio_net_behind_a_root_port_and_ext_tag_compat() {
    let (cfg, m) = model(
        "q35-10.0-virtio-net-root-port.bin",
        "0000:00:03.0:00.0/virtio-net",
        "pc-q35-10.0",
    );
    assert_eq!(m.space.size(), 4096);
    let exp = m.space.exp_cap().unwrap();
    assert_eq!(exp, 0x40);
    // TV13: Link Status never checked; DEVCTL2 EETLPPB writable; DEVCAP EXT_TAG on >= 9.2.
    assert_eq!(checked(&m, exp + 0x12), 0);
    assert_eq!(checked(&m, exp + 0x13), 0);
    assert_eq!(checked(&m, exp + 0x29), 0x7f);
    assert_eq!(cfg[exp + 4] & 0x20, 0x20);
    // deverr/lnkctl/FLR (virtio_pci_realize, defaults on): DEVCTL 0x800f and LNKCTL 0xc0 writable.
    assert_eq!(m.space.get_le(Array::Wmask, exp + 8, 2).unwrap(), 0x800f);
    assert_eq!(m.space.get_le(Array::Wmask, exp + 0x10, 2).unwrap() & 0xc0, 0xc0);
    // PM at 0x7c with x-pcie-pm-init: PMCSR power state writable.
    let pm = m.space.pm_cap().unwrap();
    assert_eq!(pm, 0x7c);
    assert_eq!(m.space.get_le(Array::Wmask, pm + 4, 2).unwrap(), 0x0003);
    // The same device saved on pc-q35-9.1 (hw_compat_9_1: x-pcie-ext-tag off) fails at DEVCAP.
    let old = data("q35-9.1-virtio-net-root-port.bin");
    let r = restore_check(&old, &m.space).unwrap();
    assert_eq!(r.first().unwrap().offset, exp + 4);
    assert_eq!(
        r.qemu_line().unwrap(),
        "get_pci_config_device: Bad config data: i=0x44 read: 0 device: 20 cmask: ff wmask: 0 w1cmask:0"
    );
    // And the 9.1 model of the 9.1 bytes accepts them.
    let (_, m91) = model(
        "q35-9.1-virtio-net-root-port.bin",
        "0000:00:01.0:00.0/virtio-net",
        "pc-q35-9.1",
    );
    assert!(restore_check(&old, &m91.space).unwrap().passed());
}

#[test]
fn e1000e_masks_from_its_realize() {
    let (_, m) = model("q35-10.0-e1000e.bin", "0000:00:02.0/e1000e", "pc-q35-10.0");
    // e1000e_add_pm_capability at 0xc8: PMCSR wmask 0x1f03, w1cmask 0x8000.
    assert_eq!(m.space.pm_cap(), Some(0xc8));
    assert_eq!(checked(&m, 0xcc), 0xfc);
    assert_eq!(checked(&m, 0xcd), 0x60);
    // pcie_endpoint_cap_v1_init at 0xe0: 0x14 bytes, Link Status unchecked, nothing after.
    assert_eq!(m.space.exp_cap(), Some(0xe0));
    assert_eq!(checked(&m, 0xf2), 0);
    assert_eq!(checked(&m, 0xf4), 0);
    // MSI at 0xd0 (1 vector, 64-bit), MSI-X at 0xa0 (5 vectors).
    assert_eq!(m.space.msi_cap(), Some(0xd0));
    assert_eq!(m.space.msix_cap(), Some(0xa0));
    // AER at 0x100 without a log (CAP wmask 0x140), DSN at 0x140 fully checked.
    assert_eq!(m.space.aer_cap(), Some(0x100));
    assert_eq!(m.space.get_le(Array::Wmask, 0x118, 4).unwrap(), 0x140);
    for i in 0x144..0x14c {
        assert_eq!(checked(&m, i), 0xff);
    }
}

#[test]
fn pcie_root_port_masks_from_rp_realize() {
    let (cfg, m) = model(
        "q35-10.0-pcie-root-port.bin",
        "0000:00:03.0/pcie-root-port",
        "pc-q35-10.0",
    );
    // Auto-placed: SSVID 0x40, MSI-X 0x48, PCIe 0x54.
    assert_eq!(cfg[0x34], 0x54);
    assert_eq!(m.space.msix_cap(), Some(0x48));
    let exp = 0x54;
    // pcie_cap_slot_init: SLTCTL wmask 0x0ff9 (with PCC), SLTSTA w1c 0x19, presence detect unchecked.
    assert_eq!(m.space.get_le(Array::Wmask, exp + 0x18, 2).unwrap(), 0x0ff9);
    assert_eq!(m.space.get_le(Array::W1cmask, exp + 0x1a, 2).unwrap(), 0x0019);
    assert_eq!(checked(&m, exp + 0x1a) & 0x40, 0);
    // pcie_aer_root_init: ROOT_STATUS interrupt message number unchecked.
    assert_eq!(m.space.get_le(Array::Cmask, 0x130, 4).unwrap(), 0x07ff_ffff);
    // ACS at 0x148 on a downstream port: ACS_CTRL 0x5f writable.
    assert_eq!(m.space.get_le(Array::Wmask, 0x14e, 2).unwrap(), 0x5f);
    // pcie_port_init_reg + pcie_aer_init: bridge control 0x005f | SERR.
    assert_eq!(m.space.get_le(Array::Wmask, 0x3e, 2).unwrap(), 0x005f);
}

#[test]
fn pci_bridge_masks_from_pci_bridge_dev_realize() {
    let (cfg, m) = model("q35-10.0-pci-bridge.bin", "0000:00:04.0/pci_bridge", "pc-q35-10.0");
    let caps: Vec<(u16, usize)> = pcimig_config::walk_std(&cfg)
        .entries
        .iter()
        .map(|e| (e.id, e.offset))
        .collect();
    // SHPC (0x0c), slot ID (0x04), MSI (0x05), in insertion order from 0x40.
    let sid = caps.iter().find(|c| c.0 == 0x04).unwrap().1;
    assert_eq!(checked(&m, sid + 2), 0xff, "slotid ESR cmask");
    assert_eq!(checked(&m, sid + 3), 0, "chassis number writable");
    let shpc = caps.iter().find(|c| c.0 == 0x0c).unwrap().1;
    assert_eq!(checked(&m, shpc + 2), 0, "dword select writable");
    assert_eq!(checked(&m, shpc + 3), 0xff);
    // BAR0 64-bit 256 bytes (shpc_bar_size).
    assert_eq!(m.space.get_le(Array::Wmask, 0x10, 8).unwrap(), !0xffu64);
}

#[test]
fn unknown_machine_and_device_are_errors() {
    let cfg = data("q35-10.0-e1000e.bin");
    let e = build_destination(&Destination {
        idstr: "0000:00:02.0/e1000e",
        config: &cfg,
        machine: "virt-10.0",
        query_pci: None,
        rom_files: &RomFiles::default(),
        qemu: pcimig_qemu::devices::QemuVersion::DEFAULT,
    })
    .unwrap_err();
    assert!(e.to_string().contains("virt-10.0"), "{e}");
    let e = build_destination(&Destination {
        idstr: "0000:00:02.0/igb",
        config: &cfg,
        machine: "pc-q35-10.0",
        query_pci: None,
        rom_files: &RomFiles::default(),
        qemu: pcimig_qemu::devices::QemuVersion::DEFAULT,
    })
    .unwrap_err();
    assert!(e.to_string().contains("not in pcimig's table"), "{e}");
}
