//! Masks of the model against the spec's tables (§1.2, §1.3, §2.1–§2.5), for what the unit
//! tests inside the crate do not already pin: the PCIe port header, the multifunction bit, and
//! the capability presets' less common variants. Expectations come from the spec and QEMU
//! 10.0.2's source, not from the model's output.

use pcimig_config::presets::{PcieCapOptions, SlotOptions};
use pcimig_config::regs::{PCI_EXP_TYPE_DOWNSTREAM, PCI_EXP_TYPE_ENDPOINT, PCI_EXP_TYPE_ROOT_PORT};
use pcimig_config::{
    restore_check, Array, CapId, ConfigError, ConfigSize, ConfigSpace, DeviceIdentity, DeviceParams, ExtCapId,
    HeaderKind, Preset,
};

fn new(size: ConfigSize, header: HeaderKind, multifunction: bool) -> ConfigSpace {
    ConfigSpace::new_device(&DeviceParams {
        size,
        header,
        identity: DeviceIdentity {
            vendor_id: 0x1b36,
            device_id: 0x000c,
            class_id: if header == HeaderKind::Type1 { 0x0604 } else { 0x0200 },
            ..Default::default()
        },
        multifunction,
    })
}

/// A PCIe root port's header as rp_realize builds it: registration, pci_bridge_initfn with a
/// PCIe secondary bus (machine types >= 8.2: no writable-SLT bug), pcie_port_init_reg.
fn pcie_port() -> ConfigSpace {
    let mut s = new(ConfigSize::Express, HeaderKind::Type1, false);
    s.pci_bridge_initfn(true, false);
    s.pcie_port_init_reg();
    s
}

fn masks(s: &ConfigSpace, i: usize) -> (u8, u8, u8) {
    (s.cmask()[i], s.wmask()[i], s.w1cmask()[i])
}

fn word(s: &ConfigSpace, a: Array, off: usize) -> u64 {
    s.get_le(a, off, 2).unwrap()
}

/// §1.2 + §1.3 for a PCIe port: (cmask, wmask, w1cmask) of every type 1 header byte.
#[test]
fn pcie_port_header_masks_match_the_spec_byte_for_byte() {
    let s = pcie_port();
    for i in 0..0x40 {
        let expected = match i {
            0x00..=0x03 | 0x08..=0x0b | 0x0e | 0x34 => (0xff, 0, 0), // IDs, class, header type, cap ptr
            0x04 => (0, 0x07, 0),                                    // Command IO|MEM|MASTER
            0x05 => (0, 0x05, 0),                                    // Command SERR|INTX_DISABLE
            0x06 => (0x10, 0, 0),                                    // Status: CAP_LIST checked
            0x07 => (0, 0, 0xf9),                                    // Status error bits W1C
            0x0c => (0, 0xff, 0),                                    // cache line size
            0x18..=0x1a => (0, 0xff, 0),                             // primary/secondary/subordinate
            0x1b => (0, 0, 0),                                       // secondary latency: read-only behind a PCIe bus
            0x1c | 0x1d => (0x0f, 0xf0, 0),                          // IO base/limit: type nibble checked
            0x20 | 0x22 => (0, 0xf0, 0),                             // memory base/limit
            0x21 | 0x23 => (0, 0xff, 0),
            0x24 | 0x26 => (0x0f, 0xf0, 0), // prefetchable base/limit: type nibble checked
            0x25 | 0x27 => (0, 0xff, 0),
            0x28..=0x2f => (0, 0xff, 0), // prefetchable upper 32 bits
            0x3c => (0, 0xff, 0),        // interrupt line
            0x3e => (0, 0x5f, 0),        // bridge control after pcie_port_init_reg
            0x3f => (0, 0x00, 0x04),     // DISCARD_STATUS stays W1C (never set)
            // latency timer, BIST, BARs and ROM unregistered, secondary status, IO upper 16,
            // reserved, interrupt pin
            _ => (0, 0, 0),
        };
        assert_eq!(masks(&s, i), expected, "byte {i:#x}");
    }
    for i in 0x40..0x1000 {
        assert_eq!(masks(&s, i), (0, 0xff, 0), "byte {i:#x}");
    }
    // Config values from pci_bridge_initfn and pcie_port_init_reg.
    assert_eq!(word(&s, Array::Config, 0x06), 0, "Status");
    assert_eq!(word(&s, Array::Config, 0x1e), 0, "secondary status");
    assert_eq!(word(&s, Array::Config, 0x0a), 0x0604, "class");
    assert_eq!(s.config()[0x0e], 0x01, "header type");
    assert_eq!(word(&s, Array::Config, 0x24), 0x0001, "64-bit prefetchable base");
    assert_eq!(word(&s, Array::Config, 0x26), 0x0001, "64-bit prefetchable limit");
}

#[test]
fn conventional_bridge_keeps_66mhz_fast_back_and_a_writable_secondary_latency() {
    let mut s = new(ConfigSize::Conventional, HeaderKind::Type1, true);
    s.pci_bridge_initfn(false, false);
    assert_eq!(word(&s, Array::Config, 0x06), 0x00a0);
    assert_eq!(word(&s, Array::Config, 0x1e), 0x00a0);
    assert_eq!(s.config()[0x0e], 0x81, "bridge type keeps the multifunction bit");
    assert_eq!(masks(&s, 0x1b), (0, 0xff, 0));
    assert_eq!(word(&s, Array::Wmask, 0x3e), 0x0bff);
    assert_eq!(word(&s, Array::W1cmask, 0x3e), 0x0400);
}

#[test]
fn the_multifunction_bit_is_part_of_the_checked_header_type() {
    let dest = new(ConfigSize::Conventional, HeaderKind::Type0, true);
    let source = new(ConfigSize::Conventional, HeaderKind::Type0, false);
    assert_eq!(dest.config()[0x0e], 0x80);
    assert_eq!(
        restore_check(source.config(), &dest).unwrap().qemu_line().unwrap(),
        "get_pci_config_device: Bad config data: i=0xe read: 0 device: 80 cmask: ff wmask: 0 w1cmask:0"
    );
}

#[test]
fn subsystem_ids_from_the_class_replace_qemus_defaults_only_on_type0() {
    let mut p = DeviceParams {
        size: ConfigSize::Conventional,
        header: HeaderKind::Type0,
        identity: DeviceIdentity {
            subsystem_vendor_id: 0x8086,
            ..Default::default()
        },
        multifunction: false,
    };
    let s = ConfigSpace::new_device(&p);
    assert_eq!(&s.config()[0x2c..0x30], &[0x86, 0x80, 0, 0]);
    p.identity = DeviceIdentity::default();
    let s = ConfigSpace::new_device(&p);
    assert_eq!(&s.config()[0x2c..0x30], &[0xf4, 0x1a, 0x00, 0x11], "1af4:1100");
    p.header = HeaderKind::Type1;
    let s = ConfigSpace::new_device(&p);
    assert_eq!(&s.config()[0x2c..0x30], &[0, 0, 0, 0], "bridges get none");
}

// ---- capabilities ------------------------------------------------------------------------------

#[test]
fn pcie_v1_cap_is_0x14_bytes_with_link_status_unchecked() {
    let mut s = new(ConfigSize::Express, HeaderKind::Type0, false);
    let p = s.pcie_cap_v1_init(0, PCI_EXP_TYPE_ENDPOINT, 0, true).unwrap();
    assert_eq!(word(&s, Array::Config, p + 2), 0x0001, "FLAGS: endpoint, version 1");
    assert!((p..p + 0x12).all(|i| s.cmask()[i] == 0xff));
    assert_eq!((s.cmask()[p + 0x12], s.cmask()[p + 0x13]), (0, 0));
    assert_eq!(s.cmask()[p + 0x14], 0, "nothing past 0x14");
    assert_eq!(s.wmask()[p + 0x14], 0xff);
    assert_eq!(
        s.get_le(Array::Wmask, 0x100, 4).unwrap(),
        0xffff_ffff,
        "v1 leaves 0x100 writable"
    );
}

#[test]
fn extcap_init_off_leaves_dword_0x100_writable() {
    let mut s = new(ConfigSize::Express, HeaderKind::Type0, false);
    let opts = PcieCapOptions {
        extcap_init: false,
        ..Default::default()
    };
    s.pcie_cap_init(0, PCI_EXP_TYPE_ENDPOINT, 0, &opts).unwrap();
    assert_eq!(s.get_le(Array::Wmask, 0x100, 4).unwrap(), 0xffff_ffff);
}

#[test]
fn slot_without_hotplug_or_power_control_has_no_pcc_and_no_hps_hpc() {
    let mut s = pcie_port();
    let p = s
        .pcie_cap_init(0, PCI_EXP_TYPE_DOWNSTREAM, 3, &PcieCapOptions::default())
        .unwrap();
    s.pcie_cap_slot_init(&SlotOptions {
        slot: 5,
        hotplug: false,
        power_control: false,
        presence_detect_checked: false,
    })
    .unwrap();
    assert_eq!(word(&s, Array::Wmask, p + 0x18), 0x0bf9, "SLTCTL without PCC");
    let sltcap = s.get_le(Array::Config, p + 0x14, 4).unwrap();
    assert_eq!(sltcap >> 19, 5, "physical slot number");
    assert_eq!(sltcap & 0x62, 0, "no HPS, HPC or PCP");
    assert_eq!(sltcap & 0x0002_0019, 0x0002_0019, "EIP, PIP, AIP, ABP");
    assert_eq!(word(&s, Array::W1cmask, p + 0x1a), 0x0019);
    assert_eq!(s.checked()[p + 0x1a] & 0x40, 0, "presence detect state unchecked");
    assert_eq!(
        word(&s, Array::Config, p + 2) & 0x0100,
        0x0100,
        "FLAGS slot implemented"
    );
}

#[test]
fn acs_on_an_endpoint_advertises_and_enables_nothing() {
    let mut s = new(ConfigSize::Express, HeaderKind::Type0, true);
    s.acs_init(0x100, false).unwrap();
    assert_eq!(word(&s, Array::Config, 0x104), 0);
    assert_eq!(word(&s, Array::Wmask, 0x106), 0);
    assert!((0x100..0x108).all(|i| s.checked()[i] == 0xff));
}

#[test]
fn ats_without_page_alignment_has_a_zero_capability_word() {
    let mut s = new(ConfigSize::Express, HeaderKind::Type0, false);
    s.ats_init(0x100, false).unwrap();
    assert_eq!(
        s.get_le(Array::Config, 0x100, 4).unwrap(),
        0x0001_000f,
        "ID 0x0f, version 1"
    );
    assert_eq!(word(&s, Array::Config, 0x104), 0);
    assert_eq!(word(&s, Array::Wmask, 0x106), 0x800f);
    assert_eq!(s.checked()[0x107], 0x7f);
}

#[test]
fn ari_next_function_is_in_bits_15_8() {
    let mut s = new(ConfigSize::Express, HeaderKind::Type0, true);
    s.ari_init(0x100, false).unwrap();
    assert_eq!(s.get_le(Array::Config, 0x104, 4).unwrap(), 0);
    assert!((0x100..0x108).all(|i| s.checked()[i] == 0xff));
}

#[test]
fn aer_on_a_downstream_port_makes_bridge_serr_writable() {
    let mut s = pcie_port();
    s.pcie_cap_init(0, PCI_EXP_TYPE_ROOT_PORT, 0, &PcieCapOptions::default())
        .unwrap();
    assert_eq!(
        word(&s, Array::Wmask, 0x3e) & 0x0002,
        0x0002,
        "SERR was already writable"
    );
    let mut d = pcie_port();
    d.pcie_cap_init(0, PCI_EXP_TYPE_DOWNSTREAM, 0, &PcieCapOptions::default())
        .unwrap();
    d.fill_range(Array::Wmask, 0x3e..0x40, 0).unwrap();
    d.aer_init(2, 0x100, 0x48, 0, true).unwrap();
    assert_eq!(word(&d, Array::Wmask, 0x3e), 0x0002);
    assert_eq!(d.w1cmask()[0x07] & 0x40, 0x40, "Status SIG_SYSTEM_ERROR W1C");
}

#[test]
fn aer_log_max_above_128_is_refused_with_qemus_message() {
    let mut s = new(ConfigSize::Express, HeaderKind::Type0, false);
    let e = s.aer_init(2, 0x100, 0x48, 129, true).unwrap_err();
    assert_eq!(
        e.to_string(),
        "pcie_aer_init: Invalid aer_log_max 129. The max number of aer log is 128"
    );
    assert!(s.aer_init(2, 0x100, 0x48, 128, true).is_ok());
}

#[test]
fn deleting_a_capability_makes_its_bytes_writable_and_unchecked_again() {
    let mut s = new(ConfigSize::Conventional, HeaderKind::Type0, false);
    let p = s.msi_init(0, 4, true, true).unwrap();
    s.pm_init(0, true).unwrap();
    assert_eq!(s.del_capability(CapId::Msi, 0x18).unwrap(), Some(p));
    assert!((p..p + 0x18).all(|i| masks(&s, i) == (0, 0xff, 0)));
    assert!((p..p + 0x18).all(|i| s.used()[i] == 0));
    assert_eq!(s.find_capability(CapId::Msi), None);
    assert_eq!(s.find_capability(CapId::Pm), Some(0x58), "PM was added after MSI");
    assert_eq!(s.config()[0x59], 0, "PM's next pointer now skips the deleted MSI");
}

#[test]
fn capability_offsets_outside_the_standard_area_or_misaligned_ext_caps_are_errors() {
    let mut s = new(ConfigSize::Express, HeaderKind::Type0, false);
    s.add_capability(CapId::Vndr, 0xf8, 8, Preset::PciAddCapability)
        .unwrap();
    assert!(matches!(
        s.add_capability(CapId::Vndr, 0xfc, 8, Preset::PciAddCapability),
        Err(ConfigError::StdCapOutOfRange { offset: 0xfc, size: 8 })
    ));
    s.dsn_init(0x100, 1).unwrap();
    let e = s
        .add_ext_capability(ExtCapId::Vndr, 1, 0x10e, 8, Preset::PcieAddCapability)
        .unwrap_err();
    assert!(matches!(e, ConfigError::ExtCapOutOfRange { offset: 0x10e, .. }));
    assert!(e.to_string().contains("0x10e"));
    assert!(matches!(
        s.add_ext_capability(ExtCapId::Vndr, 1, 0xff8, 8, Preset::PcieAddCapability),
        Ok(())
    ));
    assert!(matches!(
        s.add_ext_capability(ExtCapId::Vndr, 1, 0xffc, 8, Preset::PcieAddCapability),
        Err(ConfigError::ExtCapOutOfRange { .. })
    ));
}

#[test]
fn ext_caps_append_after_the_last_one_even_out_of_address_order() {
    let mut s = new(ConfigSize::Express, HeaderKind::Type0, false);
    s.dsn_init(0x100, 7).unwrap();
    s.add_ext_capability(ExtCapId::Vndr, 1, 0x300, 0x10, Preset::PcieAddCapability)
        .unwrap();
    s.add_ext_capability(ExtCapId::Dvsec, 1, 0x200, 0x10, Preset::PcieAddCapability)
        .unwrap();
    let chain: Vec<_> = s.ext_capabilities().entries.iter().map(|e| e.offset).collect();
    assert_eq!(chain, vec![0x100, 0x300, 0x200]);
    assert_eq!(s.get_le(Array::Config, 0x300, 4).unwrap() >> 20, 0x200);
    assert_eq!(s.get_le(Array::Config, 0x200, 4).unwrap() >> 20, 0);
}

#[test]
fn overlap_with_a_capability_padding_names_the_owner_and_the_byte() {
    let mut s = new(ConfigSize::Conventional, HeaderKind::Type0, false);
    s.add_capability(CapId::Vndr, 0x40, 0x0a, Preset::PciAddCapability)
        .unwrap(); // used to 0x4c (aligned up)
    let e = s
        .add_capability(CapId::Msi, 0x4a, 0x0a, Preset::PciAddCapability)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "0000:00:00:00.0 Attempt to add PCI capability 5 at offset 4a overlaps existing capability 40 at offset 4a"
    );
    // Used bytes that no listed capability owns do not count as an overlap (QEMU finds no owner).
    let mut t = new(ConfigSize::Conventional, HeaderKind::Type0, false);
    t.fill_range(Array::Used, 0x40..0x50, 0xff).unwrap();
    assert_eq!(
        t.add_capability(CapId::Vndr, 0x44, 8, Preset::PciAddCapability)
            .unwrap(),
        0x44
    );
}
