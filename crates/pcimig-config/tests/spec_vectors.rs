//! Golden tests for the test vectors of `../shared/spec/qemu-pci-migration.md` §10 that are about
//! the model itself (TV6, TV8–TV14). Each test builds the destination device the way QEMU 10.0.2
//! builds it and checks the masks and QEMU lines the spec states; expected values are copied from
//! the spec, never from our own output. The vfio vectors (TV1–TV5, TV7) live in `pcimig-vfio`.

use pcimig_config::presets::PcieCapOptions;
use pcimig_config::regs::{PCI_EXP_TYPE_ENDPOINT, PCI_EXP_TYPE_ROOT_PORT};
use pcimig_config::{
    restore_check, Array, CapId, ConfigSize, ConfigSpace, DeviceIdentity, DeviceParams, Embedding, ExtCapId,
    HeaderKind, Preset,
};

/// The prefix-less QEMU line, with the three masks as the spec writes them.
fn line(i: usize, read: u8, device: u8, cmask: u8, wmask: u8, w1cmask: u8) -> String {
    format!(
        "get_pci_config_device: Bad config data: i={i:#x} read: {read:x} device: {device:x} cmask: {cmask:x} wmask: {wmask:x} w1cmask:{w1cmask:x}"
    )
}

fn device(size: ConfigSize, header: HeaderKind, vendor_id: u16, device_id: u16, class_id: u16) -> ConfigSpace {
    ConfigSpace::new_device(&DeviceParams {
        size,
        header,
        identity: DeviceIdentity {
            vendor_id,
            device_id,
            class_id,
            ..Default::default()
        },
        multifunction: false,
    })
}

/// The QEMU line for `saved` restored into `dest`, or `None` when QEMU accepts it.
fn qemu_line(saved: &[u8], dest: &ConfigSpace) -> Option<String> {
    restore_check(saved, dest).unwrap().qemu_line()
}

/// (cmask, wmask, w1cmask) of one byte.
fn masks(s: &ConfigSpace, i: usize) -> (u8, u8, u8) {
    (s.cmask()[i], s.wmask()[i], s.w1cmask()[i])
}

// ---- TV6 ---------------------------------------------------------------------------------------

/// TV6: PM at 0x40 with PMCSR power state writable (as vfio-pci makes it), MSI at 0x50.
fn tv6_device() -> ConfigSpace {
    let mut s = device(ConfigSize::Conventional, HeaderKind::Type0, 0x10de, 0x2330, 0x0302);
    assert_eq!(s.pm_init(0x40, true).unwrap(), 0x40);
    s.msi_init(0x50, 1, true, false).unwrap();
    s
}

#[test]
fn tv6_pm_covers_8_bytes_and_only_the_power_state_is_unchecked() {
    let s = tv6_device();
    // The spec's table: C, W, checked per byte.
    for i in 0x40..=0x43 {
        assert_eq!(
            (s.cmask()[i], s.wmask()[i], s.checked()[i]),
            (0xff, 0, 0xff),
            "byte {i:#x}"
        );
    }
    assert_eq!(
        (s.cmask()[0x44], s.wmask()[0x44], s.checked()[0x44]),
        (0xff, 0x03, 0xfc)
    );
    for i in 0x45..=0x47 {
        assert_eq!(
            (s.cmask()[i], s.wmask()[i], s.checked()[i]),
            (0xff, 0, 0xff),
            "byte {i:#x}"
        );
    }
    for i in 0x48..=0x4f {
        assert_eq!(
            (s.cmask()[i], s.wmask()[i], s.checked()[i]),
            (0, 0xff, 0),
            "gap byte {i:#x}"
        );
    }
}

#[test]
fn tv6_d3hot_passes_and_leaves_the_device_in_d3() {
    let mut s = tv6_device();
    let mut saved = s.save_state([0; 4], Embedding::Struct);
    saved.config[0x44] = 0x03;
    assert_eq!(qemu_line(&saved.config, &s), None);
    s.load_state(&saved.encode(), Embedding::Struct).unwrap();
    assert_eq!(s.pm_state(), 3, "after the copy the PM state is D3");
}

#[test]
fn tv6_no_soft_reset_and_pme_status_fail_with_qemu_lines() {
    let s = tv6_device();
    let mut saved = s.config().to_vec();
    saved[0x44] = 0x08;
    assert_eq!(
        qemu_line(&saved, &s).unwrap(),
        "get_pci_config_device: Bad config data: i=0x44 read: 8 device: 0 cmask: ff wmask: 3 w1cmask:0"
    );
    let mut saved = s.config().to_vec();
    saved[0x45] = 0x80;
    assert_eq!(
        qemu_line(&saved, &s).unwrap(),
        "get_pci_config_device: Bad config data: i=0x45 read: 80 device: 0 cmask: ff wmask: 0 w1cmask:0"
    );
}

#[test]
fn tv6_a_difference_in_the_gap_before_msi_passes() {
    let s = tv6_device();
    let mut saved = s.config().to_vec();
    saved[0x4a] ^= 0x5a;
    assert_eq!(qemu_line(&saved, &s), None);
}

// ---- TV8 ---------------------------------------------------------------------------------------

/// TV8: an emulated type-0 device with a capability list (Status 0x10) and its Status error
/// bits set by the device (high byte 0xf9).
fn tv8_device() -> ConfigSpace {
    let mut s = device(ConfigSize::Conventional, HeaderKind::Type0, 0x8086, 0x100e, 0x0200);
    s.msi_init(0, 1, false, false).unwrap();
    s.raw_mut().config[0x07] = 0xf9;
    assert_eq!(&s.config()[0x06..0x08], &[0x10, 0xf9]);
    s
}

#[test]
fn tv8_subsystem_vendor_is_not_checked() {
    let s = tv8_device();
    assert_eq!(s.cmask()[0x2c], 0);
    let mut saved = s.config().to_vec();
    saved[0x2c] ^= 0xff;
    assert_eq!(qemu_line(&saved, &s), None);
}

#[test]
fn tv8_status_capability_list_bit_is_checked() {
    let s = tv8_device();
    let mut saved = s.config().to_vec();
    saved[0x06] = 0x00;
    assert_eq!(
        qemu_line(&saved, &s).unwrap(),
        "get_pci_config_device: Bad config data: i=0x6 read: 0 device: 10 cmask: 10 wmask: 0 w1cmask:0"
    );
}

#[test]
fn tv8_status_high_byte_is_not_checked() {
    let s = tv8_device();
    assert_eq!(s.cmask()[0x07], 0);
    let mut saved = s.config().to_vec();
    saved[0x07] = 0x00;
    assert_eq!(qemu_line(&saved, &s), None);
}

// ---- TV9 / TV10 --------------------------------------------------------------------------------

#[test]
fn tv9_32bit_bar_checks_only_the_bits_below_its_size() {
    let mut s = device(ConfigSize::Conventional, HeaderKind::Type0, 0x1234, 0x1111, 0x0300);
    s.register_bar(0, 0x00, 0x1000).unwrap();
    assert_eq!(s.get_le(Array::Wmask, 0x10, 4).unwrap(), 0xffff_f000);
    assert_eq!(s.get_le(Array::Cmask, 0x10, 4).unwrap(), 0xffff_ffff);
    assert_eq!(
        u32::from_le_bytes(s.checked()[0x10..0x14].try_into().unwrap()),
        0x0000_0fff
    );

    let mut saved = s.config().to_vec();
    saved[0x10..0x14].copy_from_slice(&0xfeb0_0000u32.to_le_bytes());
    assert_eq!(qemu_line(&saved, &s), None, "an address in the writable bits passes");

    saved[0x10..0x14].copy_from_slice(&0xfeb0_0008u32.to_le_bytes());
    assert_eq!(
        qemu_line(&saved, &s).unwrap(),
        "get_pci_config_device: Bad config data: i=0x10 read: 8 device: 0 cmask: ff wmask: 0 w1cmask:0"
    );
}

#[test]
fn tv10_64bit_bar_upper_dword_is_never_checked() {
    let mut s = device(ConfigSize::Conventional, HeaderKind::Type0, 0x1234, 0x1111, 0x0300);
    s.register_bar(2, 0x0c, 16 * 1024).unwrap();
    assert_eq!((s.wmask()[0x18], s.checked()[0x18]), (0x00, 0xff));
    assert_eq!((s.wmask()[0x19], s.checked()[0x19]), (0xc0, 0x3f));
    for i in 0x1a..0x20 {
        assert_eq!((s.wmask()[i], s.checked()[i]), (0xff, 0), "byte {i:#x}");
    }
    let mut saved = s.config().to_vec();
    saved[0x1a..0x20].fill(0xab);
    assert_eq!(qemu_line(&saved, &s), None);
}

// ---- TV11 --------------------------------------------------------------------------------------

#[test]
fn tv11_unclaimed_extended_bytes_are_unchecked_but_an_ext_cap_is_fully_checked() {
    let mut s = device(ConfigSize::Express, HeaderKind::Type0, 0x15b3, 0x101d, 0x0200);
    // Unclaimed: W = 0xff, C = 0.
    assert_eq!(masks(&s, 0x200), (0, 0xff, 0));
    let mut saved = s.config().to_vec();
    saved[0x200] = 0x77;
    assert_eq!(qemu_line(&saved, &s), None);

    // A DVSEC at 0x200 running to the next ext cap at 0x300 (how vfio sizes it), added with
    // pcie_add_capability after a first ext cap at 0x100.
    s.dsn_init(0x100, 0x1122_3344_5566_7788).unwrap();
    s.add_ext_capability(ExtCapId::Dvsec, 1, 0x200, 0x100, Preset::VfioAddExtCap)
        .unwrap();
    s.add_ext_capability(ExtCapId::Vndr, 1, 0x300, 0x10, Preset::VfioAddExtCap)
        .unwrap();
    for i in 0x200..0x300 {
        assert_eq!(masks(&s, i), (0xff, 0, 0), "byte {i:#x}");
    }
    let mut saved = s.config().to_vec();
    saved[0x250] = 0x01;
    assert_eq!(
        qemu_line(&saved, &s).unwrap(),
        "get_pci_config_device: Bad config data: i=0x250 read: 1 device: 0 cmask: ff wmask: 0 w1cmask:0"
    );
}

// ---- TV12 / TV14: virtio-pci -------------------------------------------------------------------

const VIRTIO_PCI_CAP_COMMON_CFG: u8 = 1;
const VIRTIO_PCI_CAP_NOTIFY_CFG: u8 = 2;
const VIRTIO_PCI_CAP_ISR_CFG: u8 = 3;
const VIRTIO_PCI_CAP_DEVICE_CFG: u8 = 4;
const VIRTIO_PCI_CAP_PCI_CFG: u8 = 5;

/// virtio_pci_add_mem_cap: pci_add_capability(VNDR, auto-placed, cap_len), then the body from
/// cap_len on is copied in (struct virtio_pci_cap: len +2, cfg_type +3, bar +4, id +5,
/// offset +8, length +0x0c, then the extra dword of NOTIFY / PCI_CFG at +0x10).
fn virtio_add_mem_cap(s: &mut ConfigSpace, cap_len: u8, cfg_type: u8, bar: u8, offset: u32, length: u32) -> usize {
    let pos = s
        .add_capability(CapId::Vndr, 0, usize::from(cap_len), Preset::VirtioPciAddMemCap)
        .unwrap();
    let mut body = vec![cap_len, cfg_type, bar, 0, 0, 0];
    body.extend_from_slice(&offset.to_le_bytes());
    body.extend_from_slice(&length.to_le_bytes());
    body.resize(usize::from(cap_len) - 2, 0);
    if cfg_type == VIRTIO_PCI_CAP_NOTIFY_CFG {
        body[0x0e..0x12].copy_from_slice(&4u32.to_le_bytes()); // notify_off_multiplier
    }
    let raw = s.raw_mut();
    raw.config[pos + 2..pos + usize::from(cap_len)].copy_from_slice(&body);
    pos
}

/// The PCI_CFG cap as virtio_pci_device_plugged adds it: the cap, then wmask 0xff over bar (+4),
/// offset (+8..+0x0b), length (+0x0c..+0x0f) and pci_cfg_data (+0x10..+0x13) (spec §2.6).
fn virtio_add_pci_cfg_cap(s: &mut ConfigSpace) -> usize {
    let x = virtio_add_mem_cap(s, 0x14, VIRTIO_PCI_CAP_PCI_CFG, 0, 0, 0);
    s.set_le(Array::Wmask, x + 4, 1, 0xff).unwrap();
    s.set_le(Array::Wmask, x + 8, 4, 0xffff_ffff).unwrap();
    s.set_le(Array::Wmask, x + 0x0c, 4, 0xffff_ffff).unwrap();
    s.set_le(Array::Wmask, x + 0x10, 4, 0xffff_ffff).unwrap();
    x
}

/// virtio-net-pci on the q35 root bus (conventional, 256 bytes), transitional, built in
/// virtio_pci_device_plugged's order: IDs, subsystem, pin; COMMON, ISR, DEVICE, NOTIFY vendor
/// caps; BAR4 (64-bit prefetchable); the PCI_CFG cap; MSI-X in an exclusive BAR1; legacy IO BAR0.
fn virtio_net_pci_q35_root(vectors: u16) -> ConfigSpace {
    let mut s = ConfigSpace::new_device(&DeviceParams {
        size: ConfigSize::Conventional,
        header: HeaderKind::Type0,
        identity: DeviceIdentity {
            vendor_id: 0x1af4,
            device_id: 0x1000,
            class_id: 0x0200,
            subsystem_vendor_id: 0x1af4,
            subsystem_id: 0x0001,
            ..Default::default()
        },
        multifunction: false,
    });
    s.raw_mut().config[0x3d] = 1; // PCI_INTERRUPT_PIN
    virtio_add_mem_cap(&mut s, 0x10, VIRTIO_PCI_CAP_COMMON_CFG, 4, 0x0000, 0x1000);
    virtio_add_mem_cap(&mut s, 0x10, VIRTIO_PCI_CAP_ISR_CFG, 4, 0x1000, 0x1000);
    virtio_add_mem_cap(&mut s, 0x10, VIRTIO_PCI_CAP_DEVICE_CFG, 4, 0x2000, 0x1000);
    virtio_add_mem_cap(&mut s, 0x14, VIRTIO_PCI_CAP_NOTIFY_CFG, 4, 0x3000, 0x1000);
    s.register_bar(4, 0x0c, 0x4000).unwrap();
    virtio_add_pci_cfg_cap(&mut s);
    s.msix_init_exclusive_bar(vectors, 1).unwrap();
    s.register_bar(0, 0x01, 0x40).unwrap();
    s
}

#[test]
fn tv12_pci_cfg_window_is_writable_and_unchecked_the_rest_checked() {
    let mut s = device(ConfigSize::Conventional, HeaderKind::Type0, 0x1af4, 0x1041, 0x0200);
    let x = virtio_add_pci_cfg_cap(&mut s);
    let unchecked = |r: usize| r == 4 || (8..0x14).contains(&r);
    for r in 0..0x14 {
        if unchecked(r) {
            assert_eq!((s.wmask()[x + r], s.checked()[x + r]), (0xff, 0), "X+{r:#x}");
        } else {
            assert_eq!((s.cmask()[x + r], s.checked()[x + r]), (0xff, 0xff), "X+{r:#x}");
        }
    }
    let mut saved = s.config().to_vec();
    saved[x + 4] = 4;
    saved[x + 8..x + 0x14].fill(0x5a);
    assert_eq!(qemu_line(&saved, &s), None, "window contents differ: passes");
    saved[x + 5] = 1;
    assert_eq!(qemu_line(&saved, &s).unwrap(), line(x + 5, 1, 0, 0xff, 0, 0));
}

#[test]
fn tv12_on_the_q35_root_bus_the_pci_cfg_cap_is_at_0x84() {
    let s = virtio_net_pci_q35_root(4);
    let x = 0x84;
    assert_eq!(&s.config()[x..x + 4], &[0x09, 0x70, 0x14, VIRTIO_PCI_CAP_PCI_CFG]);
    for r in [4usize, 8, 9, 0x0a, 0x0b, 0x0c, 0x0f, 0x10, 0x13] {
        assert_eq!((s.wmask()[x + r], s.checked()[x + r]), (0xff, 0), "X+{r:#x}");
    }
    for r in [0usize, 1, 2, 3, 5, 6, 7] {
        assert_eq!(s.checked()[x + r], 0xff, "X+{r:#x}");
    }
}

#[test]
fn tv14_virtio_net_pci_layout_matches_the_observed_saved_config() {
    let s = virtio_net_pci_q35_root(4);
    let saved = s.save_state([0; 4], Embedding::SaveLoad).config;
    assert_eq!(
        &saved[..12],
        &[0xf4, 0x1a, 0x00, 0x10, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x02]
    );
    assert_eq!(&saved[0x10..0x14], &[0x01, 0, 0, 0], "BAR0 IO");
    assert_eq!(&saved[0x20..0x24], &[0x0c, 0, 0, 0], "BAR4 64-bit prefetch");
    assert_eq!(&saved[0x2c..0x30], &[0xf4, 0x1a, 0x01, 0x00], "subsystem 1af4:0001");
    assert_eq!(saved[0x34], 0x98);
    assert_eq!(saved[0x3d], 0x01, "interrupt pin");
    // VSCs at 0x40, 0x50, 0x60, 0x70, 0x84, MSI-X at 0x98; the chain runs from the newest.
    let chain: Vec<(u16, usize)> = s.std_capabilities().iter().map(|e| (e.id, e.offset)).collect();
    assert_eq!(
        chain,
        vec![
            (0x11, 0x98),
            (0x09, 0x84),
            (0x09, 0x70),
            (0x09, 0x60),
            (0x09, 0x50),
            (0x09, 0x40)
        ]
    );
}

#[test]
fn tv14_virtio_net_pci_vectors_4_to_8_fails_at_msix_message_control() {
    let source = virtio_net_pci_q35_root(4);
    let dest = virtio_net_pci_q35_root(8);
    assert_eq!(source.bars()[1].unwrap().size, 4096);
    assert_eq!(dest.bars()[1].unwrap().size, 4096, "BAR1 is 4 KiB in both");
    let saved = source.save_state([0; 4], Embedding::SaveLoad).config;
    let report = restore_check(&saved, &dest).unwrap();
    assert_eq!(
        report.qemu_line().unwrap(),
        "get_pci_config_device: Bad config data: i=0x9a read: 3 device: 7 cmask: ff wmask: 0 w1cmask:0"
    );
    assert_eq!(report.mismatches[0].location.to_string(), "MSI-X @0x98 Message Control");
}

#[test]
fn tv14_e1000_to_e1000_82544gc_fails_at_the_device_id() {
    let e1000 = |device_id: u16| {
        let mut s = ConfigSpace::new_device(&DeviceParams {
            size: ConfigSize::Conventional,
            header: HeaderKind::Type0,
            identity: DeviceIdentity {
                vendor_id: 0x8086,
                device_id,
                revision: 0x03,
                class_id: 0x0200,
                ..Default::default()
            },
            multifunction: false,
        });
        s.raw_mut().config[0x3d] = 1;
        s.register_bar(0, 0x00, 0x20000).unwrap();
        s.register_bar(1, 0x01, 0x40).unwrap();
        s
    };
    let saved = e1000(0x100e).save_state([0; 4], Embedding::Struct).config;
    let dest = e1000(0x100c);
    let report = restore_check(&saved, &dest).unwrap();
    assert_eq!(
        report.qemu_line().unwrap(),
        "get_pci_config_device: Bad config data: i=0x2 read: e device: c cmask: ff wmask: 0 w1cmask:0"
    );
    assert_eq!(report.mismatches[0].location.to_string(), "Device ID");
}

// ---- TV13 --------------------------------------------------------------------------------------

fn express_endpoint(ext_tag: bool) -> (ConfigSpace, usize) {
    let mut s = device(ConfigSize::Express, HeaderKind::Type0, 0x1af4, 0x1041, 0x0200);
    let p = s
        .pcie_cap_init(
            0,
            PCI_EXP_TYPE_ENDPOINT,
            0,
            &PcieCapOptions {
                ext_tag,
                ..Default::default()
            },
        )
        .unwrap();
    (s, p)
}

#[test]
fn tv13_link_status_is_never_checked() {
    let (s, p) = express_endpoint(true);
    assert_eq!(s.cmask()[p + 0x12], 0);
    assert_eq!(s.cmask()[p + 0x13], 0);
    let mut saved = s.config().to_vec();
    saved[p + 0x12] ^= 0xff;
    saved[p + 0x13] ^= 0xff;
    assert_eq!(qemu_line(&saved, &s), None);
}

#[test]
fn tv13_devctl2_writable_bits_reduce_what_is_checked() {
    let (s, p) = express_endpoint(true);
    assert_eq!(s.get_le(Array::Wmask, p + 0x28, 2).unwrap(), 0x8000);
    assert_eq!(s.checked()[p + 0x29], 0x7f);
    assert_eq!(s.checked()[p + 0x28], 0xff);

    // On a port with arifwd, DEVCTL2 ARI (0x20) is writable too.
    let mut port = device(ConfigSize::Express, HeaderKind::Type1, 0x1b36, 0x000c, 0x0604);
    let p = port
        .pcie_cap_init(0, PCI_EXP_TYPE_ROOT_PORT, 0, &PcieCapOptions::default())
        .unwrap();
    port.pcie_cap_arifwd_init().unwrap();
    assert_eq!(port.checked()[p + 0x28], 0xdf);
    assert_eq!(port.checked()[p + 0x29], 0x7f);
}

#[test]
fn tv13_devcap_ext_tag_differs_between_machine_types_and_is_checked() {
    let (new, p) = express_endpoint(true); // >= 9.2
    let (old, _) = express_endpoint(false); // <= 9.1
    assert_eq!(new.config()[p + 4], 0x20);
    assert_eq!(old.config()[p + 4], 0x00);
    assert_eq!(new.checked()[p + 4], 0xff);
    // A <= 9.1 source restored into a >= 9.2 destination.
    assert_eq!(
        qemu_line(old.config(), &new).unwrap(),
        line(p + 4, 0x00, 0x20, 0xff, 0, 0)
    );
}
