//! Header initialisation (do_pci_register_device and its pci_init_* helpers), bridge setup
//! (pci_bridge_initfn, pcie_port_init_reg) and BAR/ROM registration (pci_register_bar).

use crate::error::ConfigError;
use crate::regs::*;
use crate::space::{Array, BarInfo, ConfigSize, ConfigSpace};

/// Header layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum HeaderKind {
    /// Type 0: endpoint.
    Type0,
    /// Type 1: PCI-to-PCI bridge (QEMU's `is_bridge` classes).
    Type1,
}

/// What a QEMU device class supplies before registration (PCIDeviceClass fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeviceIdentity {
    /// Vendor ID.
    pub vendor_id: u16,
    /// Device ID.
    pub device_id: u16,
    /// Revision ID.
    pub revision: u8,
    /// Class (base class << 8 | sub class), as QEMU's class_id.
    pub class_id: u16,
    /// Programming interface (set by devices after registration in QEMU).
    pub prog_if: u8,
    /// Subsystem vendor ID (0 with `subsystem_id` 0 means QEMU's default 0x1af4).
    pub subsystem_vendor_id: u16,
    /// Subsystem ID (0 with `subsystem_vendor_id` 0 means QEMU's default 0x1100).
    pub subsystem_id: u16,
}

/// Parameters of [`ConfigSpace::new_device`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceParams {
    /// 256 or 4096 bytes.
    pub size: ConfigSize,
    /// Type 0 or type 1.
    pub header: HeaderKind,
    /// IDs and class.
    pub identity: DeviceIdentity,
    /// The `multifunction` property (sets header type bit 0x80).
    pub multifunction: bool,
}

/// QEMU's default subsystem vendor ID (PCI_SUBVENDOR_ID_REDHAT_QUMRANET).
pub const QEMU_DEFAULT_SUBSYSTEM_VENDOR_ID: u16 = 0x1af4;
/// QEMU's default subsystem ID (PCI_SUBDEVICE_ID_QEMU).
pub const QEMU_DEFAULT_SUBSYSTEM_ID: u16 = 0x1100;

impl ConfigSpace {
    /// A device as do_pci_register_device leaves it before the device's own realize: IDs from
    /// the class, then pci_init_cmask, pci_init_wmask, pci_init_w1cmask, pci_init_mask_bridge for
    /// type 1, and the multifunction bit.
    pub fn new_device(params: &DeviceParams) -> Self {
        let mut s = ConfigSpace::zeroed(params.size);
        let id = &params.identity;
        s.set_word(Array::Config, PCI_VENDOR_ID, id.vendor_id);
        s.set_word(Array::Config, PCI_DEVICE_ID, id.device_id);
        s.set_byte(Array::Config, PCI_REVISION_ID, id.revision);
        s.set_word(Array::Config, PCI_CLASS_DEVICE, id.class_id);
        s.set_byte(Array::Config, PCI_CLASS_PROG, id.prog_if);
        if params.header == HeaderKind::Type0 {
            let (sv, sd) = if id.subsystem_vendor_id != 0 || id.subsystem_id != 0 {
                (id.subsystem_vendor_id, id.subsystem_id)
            } else {
                (QEMU_DEFAULT_SUBSYSTEM_VENDOR_ID, QEMU_DEFAULT_SUBSYSTEM_ID)
            };
            s.set_word(Array::Config, PCI_SUBSYSTEM_VENDOR_ID, sv);
            s.set_word(Array::Config, PCI_SUBSYSTEM_ID, sd);
        }
        s.pci_init_cmask();
        s.pci_init_wmask();
        s.pci_init_w1cmask();
        if params.header == HeaderKind::Type1 {
            s.pci_init_mask_bridge();
        }
        if params.multifunction {
            s.config[PCI_HEADER_TYPE] |= PCI_HEADER_TYPE_MULTI_FUNCTION;
        }
        s
    }

    /// pci_init_cmask: IDs, revision, class, header type, capability pointer and the Status
    /// capability-list bit are checked.
    pub fn pci_init_cmask(&mut self) {
        self.set_word(Array::Cmask, PCI_VENDOR_ID, 0xffff);
        self.set_word(Array::Cmask, PCI_DEVICE_ID, 0xffff);
        self.set_byte(Array::Cmask, PCI_STATUS, PCI_STATUS_CAP_LIST as u8);
        self.set_byte(Array::Cmask, PCI_REVISION_ID, 0xff);
        self.set_byte(Array::Cmask, PCI_CLASS_PROG, 0xff);
        self.set_word(Array::Cmask, PCI_CLASS_DEVICE, 0xffff);
        self.set_byte(Array::Cmask, PCI_HEADER_TYPE, 0xff);
        self.set_byte(Array::Cmask, PCI_CAPABILITY_LIST, 0xff);
    }

    /// pci_init_wmask: cache line size, interrupt line and Command IO/MEM/MASTER/SERR/INTX_DISABLE
    /// are writable, and so is everything from 0x40 to the end.
    pub fn pci_init_wmask(&mut self) {
        self.set_byte(Array::Wmask, PCI_CACHE_LINE_SIZE, 0xff);
        self.set_byte(Array::Wmask, PCI_INTERRUPT_LINE, 0xff);
        self.set_word(
            Array::Wmask,
            PCI_COMMAND,
            PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE | PCI_COMMAND_SERR,
        );
        let n = self.size();
        self.fill(Array::Wmask, PCI_CONFIG_HEADER_SIZE..n, 0xff);
    }

    /// pci_init_w1cmask: the Status error bits are write-1-to-clear.
    pub fn pci_init_w1cmask(&mut self) {
        self.set_word(
            Array::W1cmask,
            PCI_STATUS,
            PCI_STATUS_PARITY
                | PCI_STATUS_SIG_TARGET_ABORT
                | PCI_STATUS_REC_TARGET_ABORT
                | PCI_STATUS_REC_MASTER_ABORT
                | PCI_STATUS_SIG_SYSTEM_ERROR
                | PCI_STATUS_DETECTED_PARITY,
        );
    }

    /// pci_init_mask_bridge: bus numbers, windows and bridge control of a type 1 header.
    pub fn pci_init_mask_bridge(&mut self) {
        self.fill(Array::Wmask, PCI_PRIMARY_BUS..PCI_SEC_LATENCY_TIMER + 1, 0xff);
        self.set_byte(Array::Wmask, PCI_IO_BASE, PCI_IO_RANGE_MASK);
        self.set_byte(Array::Wmask, PCI_IO_LIMIT, PCI_IO_RANGE_MASK);
        self.set_word(Array::Wmask, PCI_MEMORY_BASE, PCI_MEMORY_RANGE_MASK);
        self.set_word(Array::Wmask, PCI_MEMORY_LIMIT, PCI_MEMORY_RANGE_MASK);
        self.set_word(Array::Wmask, PCI_PREF_MEMORY_BASE, PCI_PREF_RANGE_MASK);
        self.set_word(Array::Wmask, PCI_PREF_MEMORY_LIMIT, PCI_PREF_RANGE_MASK);
        self.fill(Array::Wmask, PCI_PREF_BASE_UPPER32..PCI_PREF_LIMIT_UPPER32 + 4, 0xff);
        // PCI_IO_RANGE_TYPE_16 is 0: OR-ing it into config is a no-op, as in QEMU.
        self.or_word(Array::Config, PCI_PREF_MEMORY_BASE, PCI_PREF_RANGE_TYPE_64);
        self.or_word(Array::Config, PCI_PREF_MEMORY_LIMIT, PCI_PREF_RANGE_TYPE_64);
        self.set_word(
            Array::Wmask,
            PCI_BRIDGE_CONTROL,
            PCI_BRIDGE_CTL_PARITY
                | PCI_BRIDGE_CTL_SERR
                | PCI_BRIDGE_CTL_ISA
                | PCI_BRIDGE_CTL_VGA
                | PCI_BRIDGE_CTL_VGA_16BIT
                | PCI_BRIDGE_CTL_MASTER_ABORT
                | PCI_BRIDGE_CTL_BUS_RESET
                | PCI_BRIDGE_CTL_FAST_BACK
                | PCI_BRIDGE_CTL_DISCARD
                | PCI_BRIDGE_CTL_SEC_DISCARD
                | PCI_BRIDGE_CTL_DISCARD_SERR,
        );
        self.set_word(Array::W1cmask, PCI_BRIDGE_CONTROL, PCI_BRIDGE_CTL_DISCARD_STATUS);
        let v = self.cmask[PCI_IO_BASE] | PCI_IO_RANGE_TYPE_MASK;
        self.set_byte(Array::Cmask, PCI_IO_BASE, v);
        let v = self.cmask[PCI_IO_LIMIT] | PCI_IO_RANGE_TYPE_MASK;
        self.set_byte(Array::Cmask, PCI_IO_LIMIT, v);
        self.or_word(Array::Cmask, PCI_PREF_MEMORY_BASE, PCI_PREF_RANGE_TYPE_MASK);
        self.or_word(Array::Cmask, PCI_PREF_MEMORY_LIMIT, PCI_PREF_RANGE_TYPE_MASK);
    }

    /// pci_bridge_initfn: Status 66MHz|FAST_BACK, class PCI-to-PCI bridge (0x0604), header type 1
    /// (keeping the multifunction bit), secondary status 0x00a0. When the secondary bus is PCIe
    /// and `x-pci-express-writeable-slt-bug` is off (it is on only for machine types <= 8.1),
    /// the secondary latency timer becomes read-only.
    pub fn pci_bridge_initfn(&mut self, secondary_is_pcie: bool, writeable_slt_bug: bool) {
        self.or_word(Array::Config, PCI_STATUS, PCI_STATUS_66MHZ | PCI_STATUS_FAST_BACK);
        self.set_word(Array::Config, PCI_CLASS_DEVICE, PCI_CLASS_BRIDGE_PCI);
        let ht = (self.config[PCI_HEADER_TYPE] & PCI_HEADER_TYPE_MULTI_FUNCTION) | PCI_HEADER_TYPE_BRIDGE;
        self.set_byte(Array::Config, PCI_HEADER_TYPE, ht);
        self.set_word(Array::Config, PCI_SEC_STATUS, PCI_STATUS_66MHZ | PCI_STATUS_FAST_BACK);
        if secondary_is_pcie && !writeable_slt_bug {
            self.set_byte(Array::Wmask, PCI_SEC_LATENCY_TIMER, 0);
        }
    }

    /// pcie_port_init_reg: Status and secondary status 0, and the bridge-control bits that do
    /// not apply to PCI Express lose their wmask (leaving 0x005f).
    pub fn pcie_port_init_reg(&mut self) {
        self.set_word(Array::Config, PCI_STATUS, 0);
        self.set_word(Array::Config, PCI_SEC_STATUS, 0);
        self.clear_word(
            Array::Wmask,
            PCI_BRIDGE_CONTROL,
            PCI_BRIDGE_CTL_MASTER_ABORT
                | PCI_BRIDGE_CTL_FAST_BACK
                | PCI_BRIDGE_CTL_DISCARD
                | PCI_BRIDGE_CTL_SEC_DISCARD
                | PCI_BRIDGE_CTL_DISCARD_STATUS
                | PCI_BRIDGE_CTL_DISCARD_SERR,
        );
    }

    /// The header layout from the header type byte (type 1 only for 0x01; everything else is
    /// treated as type 0).
    pub fn header_kind(&self) -> HeaderKind {
        if self.config[PCI_HEADER_TYPE] & !PCI_HEADER_TYPE_MULTI_FUNCTION == PCI_HEADER_TYPE_BRIDGE {
            HeaderKind::Type1
        } else {
            HeaderKind::Type0
        }
    }

    /// Config offset of BAR `region` (0..6) or of the ROM (region 6: 0x30 on type 0, 0x38 on
    /// type 1), as QEMU's pci_bar().
    pub fn bar_offset(&self, region: usize) -> Option<usize> {
        match (region, self.header_kind()) {
            (0..PCI_NUM_BARS, HeaderKind::Type0) | (0..PCI_NUM_BARS_BRIDGE, HeaderKind::Type1) => {
                Some(PCI_BASE_ADDRESS_0 + 4 * region)
            }
            (PCI_ROM_SLOT, HeaderKind::Type0) => Some(PCI_ROM_ADDRESS),
            (PCI_ROM_SLOT, HeaderKind::Type1) => Some(PCI_ROM_ADDRESS1),
            _ => None,
        }
    }

    /// pci_register_bar: the BAR dword is set to `bar_type`; wmask = !(size-1) (plus the ROM enable
    /// bit for the ROM), over a qword for a 64-bit memory type, else a dword; cmask all-ones over
    /// the same bytes. So only the size/type bits below the BAR size are checked.
    ///
    /// Refused, where QEMU asserts: a size that is not a power of two, a region out of range for
    /// the header (a type 1 header has regions 0 and 1 only: QEMU 10.0.2 asserts
    /// `region_num < 2` for bridges, so a bridge cannot register an expansion ROM), a region
    /// registered twice. Like QEMU,
    /// the 64-bit test looks only at the type bits: a 64-bit type in the last BAR slot or in the
    /// ROM slot writes its qword masks over the 4 bytes that follow (QEMU does not assert there),
    /// and the slot after a 64-bit BAR is not marked as taken.
    pub fn register_bar(&mut self, region: usize, bar_type: u8, size: u64) -> Result<(), ConfigError> {
        let bad = |why: &str| ConfigError::InvalidBar {
            region,
            why: why.to_string(),
        };
        if size == 0 || !size.is_power_of_two() {
            return Err(bad(&format!("size {size:#x} is not a power of two")));
        }
        // "A PCI bridge device (with Type 1 header) may only have at most 2 BARs": QEMU asserts
        // region_num < 2 on a type 1 header, which refuses the ROM slot too.
        if self.header_kind() == HeaderKind::Type1 && region >= PCI_NUM_BARS_BRIDGE {
            return Err(bad(
                "a type 1 header may only register regions 0 and 1 (QEMU asserts region_num < 2, even for the ROM)",
            ));
        }
        let Some(addr) = self.bar_offset(region) else {
            return Err(bad("no such region for this header type"));
        };
        if self.bars[region].is_some() {
            return Err(bad("already registered"));
        }
        let info = BarInfo { size, bar_type };
        let is64 = info.is_64bit();
        let mut wmask = !(size - 1);
        if region == PCI_ROM_SLOT {
            wmask |= u64::from(PCI_ROM_ADDRESS_ENABLE);
        }
        self.set_long(Array::Config, addr, u32::from(bar_type));
        if is64 {
            self.set_quad(Array::Wmask, addr, wmask);
            self.set_quad(Array::Cmask, addr, u64::MAX);
        } else {
            self.set_long(Array::Wmask, addr, wmask as u32);
            self.set_long(Array::Cmask, addr, u32::MAX);
        }
        self.bars[region] = Some(info);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn type0() -> ConfigSpace {
        ConfigSpace::new_device(&DeviceParams {
            size: ConfigSize::Conventional,
            header: HeaderKind::Type0,
            identity: DeviceIdentity {
                vendor_id: 0x8086,
                device_id: 0x100e,
                revision: 3,
                class_id: 0x0200,
                ..Default::default()
            },
            multifunction: false,
        })
    }

    fn type1(size: ConfigSize) -> ConfigSpace {
        let mut s = ConfigSpace::new_device(&DeviceParams {
            size,
            header: HeaderKind::Type1,
            identity: DeviceIdentity {
                vendor_id: 0x1b36,
                device_id: 0x0001,
                class_id: 0x0604,
                ..Default::default()
            },
            multifunction: false,
        });
        s.pci_bridge_initfn(false, false);
        s
    }

    /// (offset, cmask, wmask, w1cmask) for every header byte of a type 0 device after
    /// do_pci_register_device (spec §1.2).
    #[test]
    fn type0_header_masks_match_pci_init_masks_byte_for_byte() {
        let s = type0();
        for i in 0..0x40 {
            let (c, w, w1) = match i {
                0x00..=0x03 => (0xff, 0, 0),
                0x04 => (0, 0x07, 0),
                0x05 => (0, 0x05, 0),
                0x06 => (0x10, 0, 0),
                0x07 => (0, 0, 0xf9),
                0x08..=0x0b => (0xff, 0, 0),
                0x0c => (0, 0xff, 0),
                0x0d => (0, 0, 0), // latency timer: not writable, not checked
                0x0e => (0xff, 0, 0),
                0x34 => (0xff, 0, 0),
                0x3c => (0, 0xff, 0),
                _ => (0, 0, 0), // BARs/ROM until registered, subsystem, CIS, pin, min/max
            };
            let b = s.byte(i).unwrap();
            assert_eq!((b.cmask, b.wmask, b.w1cmask), (c, w, w1), "byte {i:#x}");
        }
        for i in 0x40..0x100 {
            let b = s.byte(i).unwrap();
            assert_eq!((b.cmask, b.wmask, b.w1cmask), (0, 0xff, 0), "byte {i:#x}");
        }
        // IDs and the default subsystem IDs.
        assert_eq!(&s.config()[0..4], &[0x86, 0x80, 0x0e, 0x10]);
        assert_eq!(&s.config()[0x2c..0x30], &[0xf4, 0x1a, 0x00, 0x11]);
    }

    #[test]
    fn express_space_is_writable_and_unchecked_up_to_4096() {
        let mut p = DeviceParams {
            size: ConfigSize::Express,
            header: HeaderKind::Type0,
            identity: DeviceIdentity::default(),
            multifunction: true,
        };
        let s = ConfigSpace::new_device(&p);
        assert_eq!(s.size(), 4096);
        assert!(s.wmask()[0x40..].iter().all(|&w| w == 0xff));
        assert!(s.cmask()[0x40..].iter().all(|&c| c == 0));
        assert_eq!(s.config()[PCI_HEADER_TYPE], 0x80);
        p.identity.subsystem_id = 5;
        let s = ConfigSpace::new_device(&p);
        assert_eq!(&s.config()[0x2c..0x30], &[0, 0, 5, 0]);
    }

    /// Type 1 header masks after pci_init_mask_bridge + pci_bridge_initfn (spec §1.3).
    #[test]
    fn type1_header_masks_match_pci_init_mask_bridge() {
        let s = type1(ConfigSize::Conventional);
        let expect = |i: usize| -> (u8, u8, u8) {
            match i {
                0x00..=0x03 => (0xff, 0, 0),
                0x04 => (0, 0x07, 0),
                0x05 => (0, 0x05, 0),
                0x06 => (0x10, 0, 0),
                0x07 => (0, 0, 0xf9),
                0x08..=0x0b => (0xff, 0, 0),
                0x0c => (0, 0xff, 0),
                0x0e => (0xff, 0, 0),
                0x18..=0x1a => (0, 0xff, 0),
                0x1b => (0, 0xff, 0), // conventional secondary bus: still writable
                0x1c | 0x1d => (0x0f, 0xf0, 0),
                0x20 | 0x22 => (0, 0xf0, 0),
                0x21 | 0x23 => (0, 0xff, 0),
                0x24 | 0x26 => (0x0f, 0xf0, 0),
                0x25 | 0x27 => (0, 0xff, 0),
                0x28..=0x2f => (0, 0xff, 0),
                0x34 => (0xff, 0, 0),
                0x3c => (0, 0xff, 0),
                0x3e => (0, 0xff, 0),
                0x3f => (0, 0x0b, 0x04),
                _ => (0, 0, 0), // 0x1e/0x1f, 0x30..0x33, 0x35..0x3b, 0x3d
            }
        };
        for i in 0..0x40 {
            let b = s.byte(i).unwrap();
            assert_eq!((b.cmask, b.wmask, b.w1cmask), expect(i), "byte {i:#x}");
        }
        assert_eq!(s.config()[PCI_HEADER_TYPE], 1);
        assert_eq!(&s.config()[0x0a..0x0c], &[0x04, 0x06]);
        assert_eq!(s.get_word(PCI_STATUS), 0x00a0);
        assert_eq!(s.get_word(PCI_SEC_STATUS), 0x00a0);
        assert_eq!(s.get_word(PCI_PREF_MEMORY_BASE), 0x0001);
        assert_eq!(s.get_word(PCI_PREF_MEMORY_LIMIT), 0x0001);
        // No subsystem IDs on bridges.
        assert_eq!(&s.config()[0x2c..0x30], &[0, 0, 0, 0]);
    }

    #[test]
    fn pcie_bridge_latency_timer_is_read_only_unless_the_8_1_bug_is_kept() {
        let mut s = ConfigSpace::new_device(&DeviceParams {
            size: ConfigSize::Express,
            header: HeaderKind::Type1,
            identity: DeviceIdentity::default(),
            multifunction: false,
        });
        s.pci_bridge_initfn(true, false);
        assert_eq!(s.wmask()[PCI_SEC_LATENCY_TIMER], 0);
        let mut s2 = ConfigSpace::new_device(&DeviceParams {
            size: ConfigSize::Express,
            header: HeaderKind::Type1,
            identity: DeviceIdentity::default(),
            multifunction: false,
        });
        s2.pci_bridge_initfn(true, true);
        assert_eq!(s2.wmask()[PCI_SEC_LATENCY_TIMER], 0xff);
    }

    #[test]
    fn pcie_port_bridge_control_wmask_is_0x5f() {
        let mut s = type1(ConfigSize::Express);
        s.pcie_port_init_reg();
        assert_eq!(s.get_arr_word(Array::Wmask, PCI_BRIDGE_CONTROL), 0x005f);
        // pcie_port_init_reg clears only wmask: DISCARD_STATUS stays W1C (a no-op, never set).
        assert_eq!(s.get_arr_word(Array::W1cmask, PCI_BRIDGE_CONTROL), 0x0400);
        assert_eq!(s.get_word(PCI_STATUS), 0);
        assert_eq!(s.get_word(PCI_SEC_STATUS), 0);
    }

    #[test]
    fn bar_masks_check_only_the_bits_below_the_size() {
        let mut s = type0();
        s.register_bar(0, 0x00, 0x1000).unwrap();
        assert_eq!(s.get_le(Array::Wmask, 0x10, 4).unwrap(), 0xffff_f000);
        assert_eq!(s.get_le(Array::Cmask, 0x10, 4).unwrap(), 0xffff_ffff);
        assert_eq!(&s.checked()[0x10..0x14], &[0xff, 0x0f, 0, 0]);
        // 64-bit prefetchable 16 KiB BAR2 (TV10).
        s.register_bar(2, 0x0c, 0x4000).unwrap();
        assert_eq!(s.config()[0x18], 0x0c);
        assert_eq!(&s.checked()[0x18..0x20], &[0xff, 0x3f, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&s.wmask()[0x18..0x20], &[0, 0xc0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
        // IO BAR of 32 bytes.
        s.register_bar(4, 0x01, 0x20).unwrap();
        assert_eq!(&s.checked()[0x20..0x24], &[0x1f, 0, 0, 0]);
        // ROM: enable bit writable.
        s.register_bar(PCI_ROM_SLOT, 0, 0x40000).unwrap();
        assert_eq!(s.get_le(Array::Wmask, 0x30, 4).unwrap(), 0xfffc_0001);
        assert_eq!(&s.checked()[0x30..0x34], &[0xfe, 0xff, 0x03, 0]);
    }

    #[test]
    fn bar_registration_refuses_what_qemu_asserts_on() {
        let mut s = type0();
        assert!(s.register_bar(0, 0, 0x3000).is_err(), "assert(is_power_of_2(size))");
        assert!(s.register_bar(0, 0, 0).is_err(), "is_power_of_2(0) is false");
        assert!(
            s.register_bar(7, 0, 0x1000).is_err(),
            "assert(region_num < PCI_NUM_REGIONS)"
        );
        s.register_bar(1, 0, 0x1000).unwrap();
        assert!(s.register_bar(1, 0, 0x1000).is_err(), "assert(!r->size)");
        let mut b = type1(ConfigSize::Conventional);
        assert!(b.register_bar(2, 0, 0x1000).is_err(), "bridges: region_num < 2");
        assert!(
            b.register_bar(PCI_ROM_SLOT, 0, 0x800).is_err(),
            "bridges: region_num < 2 also refuses the ROM slot"
        );
        assert_eq!(b.bar_offset(PCI_ROM_SLOT), Some(0x38), "pci_bar still maps it to 0x38");
        b.register_bar(1, 0, 0x800).unwrap();
        assert_eq!(b.get_le(Array::Cmask, 0x14, 4).unwrap(), 0xffff_ffff);
    }

    /// pci_register_bar tests only the type bits for a 64-bit BAR and asserts nothing about the
    /// slot after it: the qword masks land on whatever follows.
    #[test]
    fn a_64bit_type_in_the_last_slot_spills_its_masks_as_in_qemu() {
        let mut s = type0();
        s.register_bar(5, 0x04, 0x1000).unwrap();
        // BAR5 is 0x24..0x28; the upper dword's masks land on the CardBus CIS pointer.
        assert_eq!(s.get_le(Array::Wmask, 0x24, 8).unwrap(), !0xfffu64);
        assert_eq!(s.get_le(Array::Cmask, 0x24, 8).unwrap(), u64::MAX);
        assert_eq!(&s.checked()[0x28..0x2c], &[0, 0, 0, 0]);
        // The slot after a 64-bit BAR can still be registered; it overwrites the upper masks.
        let mut t = type0();
        t.register_bar(0, 0x04, 0x1000).unwrap();
        t.register_bar(1, 0x01, 0x20).unwrap();
        assert_eq!(t.get_le(Array::Wmask, 0x14, 4).unwrap(), 0xffff_ffe0);
        assert_eq!(t.config()[0x14], 0x01);
    }
}
