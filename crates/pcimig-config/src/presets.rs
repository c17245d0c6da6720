//! Capability presets: the masks and values QEMU's own capability init functions give a device
//! (hw/pci/pci.c pci_pm_init, msi.c msi_init, msix.c msix_init, pcie.c pcie_cap_init and its
//! *_init helpers, pcie_aer.c, pci_bridge.c pci_bridge_ssvid_init). Each function names the QEMU
//! function it mirrors; the values are QEMU 10.0.2's.

use crate::error::ConfigError;
use crate::ids::{CapId, ExtCapId};
use crate::origin::Preset;
use crate::regs::*;
use crate::space::{Array, ConfigSpace};

/// PCIe link width (QEMU's PCIExpLinkWidth).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkWidth {
    /// x1
    X1 = 1,
    /// x2
    X2 = 2,
    /// x4
    X4 = 4,
    /// x8
    X8 = 8,
    /// x12
    X12 = 12,
    /// x16
    X16 = 16,
    /// x32
    X32 = 32,
}

/// PCIe link speed (QEMU's PCIExpLinkSpeed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LinkSpeed {
    /// 2.5 GT/s
    Gt2_5 = 1,
    /// 5 GT/s
    Gt5 = 2,
    /// 8 GT/s
    Gt8 = 3,
    /// 16 GT/s
    Gt16 = 4,
    /// 32 GT/s
    Gt32 = 5,
    /// 64 GT/s
    Gt64 = 6,
}

/// Options of [`ConfigSpace::pcie_cap_init`] that QEMU takes from device properties and
/// machine compat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PcieCapOptions {
    /// `x-pcie-ext-tag` (QEMU_PCIE_EXT_TAG): DEVCAP advertises extended tags. On by default;
    /// hw_compat_9_1 turns it off (machine types <= 9.1).
    pub ext_tag: bool,
    /// `x-pcie-extcap-init` (QEMU_PCIE_EXTCAP_INIT): dword 0x100 read-only. On by default;
    /// hw_compat_2_8 turns it off.
    pub extcap_init: bool,
    /// For slots (root/downstream ports): link width and speed (pcie_cap_fill_slot_lnk).
    pub slot_link: Option<(LinkWidth, LinkSpeed)>,
}

impl Default for PcieCapOptions {
    fn default() -> Self {
        PcieCapOptions {
            ext_tag: true,
            extcap_init: true,
            slot_link: None,
        }
    }
}

/// Options of [`ConfigSpace::pcie_cap_slot_init`] (from the PCIESlot properties).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotOptions {
    /// Physical slot number.
    pub slot: u16,
    /// Native hot-plug exposed (`hotplug` on and not hidden by `x-native-hotplug` compat).
    pub hotplug: bool,
    /// Power controller present (QEMU_PCIE_SLTCAP_PCP; on by default for root ports).
    pub power_control: bool,
    /// SLTSTA Presence Detect State stays checked on restore: QEMU before 8.1 (8.1's "pcie: Add
    /// hotplug detect state register to cmask", Leonardo Bras, clears it from the cmask; not in
    /// 7.2 stable: the 7.2.22 binary checks it).
    pub presence_detect_checked: bool,
}

/// Where the MSI-X table and PBA live (msix_init arguments).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MsixLayout {
    /// Number of vectors (1..=2048).
    pub nentries: u16,
    /// BAR holding the table.
    pub table_bar: u8,
    /// Offset of the table in its BAR.
    pub table_offset: u32,
    /// BAR holding the PBA.
    pub pba_bar: u8,
    /// Offset of the PBA in its BAR.
    pub pba_offset: u32,
    /// Sizes of the table's and PBA's BARs when known, to validate placement as msix_init does.
    pub bar_sizes: Option<(u64, u64)>,
}

/// PCIE_AER_LOG_MAX_LIMIT: the largest `aer_log_max` pcie_aer_init accepts.
pub const PCIE_AER_LOG_MAX_LIMIT: u16 = 128;

/// Size of an MSI capability with the given flags (msi_cap_sizeof).
pub fn msi_cap_sizeof(flags: u16) -> usize {
    match (flags & PCI_MSI_FLAGS_64BIT != 0, flags & PCI_MSI_FLAGS_MASKBIT != 0) {
        (true, true) => PCI_MSI_PENDING_64 + 4,
        (true, false) => PCI_MSI_DATA_64 + 2,
        (false, true) => PCI_MSI_PENDING_32 + 4,
        (false, false) => PCI_MSI_DATA_32 + 2,
    }
}

/// Number of MSI-X vectors (table entries) a Message Control value `flags` declares: its
/// Table Size field plus one (Linux's msix_table_size; QEMU's vfio_msix_early_setup computes
/// `(ctrl & PCI_MSIX_FLAGS_QSIZE) + 1`).
pub fn msix_table_size(flags: u16) -> u16 {
    (flags & PCI_MSIX_FLAGS_QSIZE) + 1
}

impl ConfigSpace {
    /// pci_pm_init: an 8-byte PM capability (no wmask from QEMU itself). `pmcsr_state_writable`
    /// is what vfio-pci and virtio-pci (`x-pcie-pm-init`) do after it: PMCSR wmask word 0x0003
    /// (power state). Records the PM capability, which enables the write-time D-state rules.
    pub fn pm_init(&mut self, offset: usize, pmcsr_state_writable: bool) -> Result<usize, ConfigError> {
        let pos = self.add_capability(CapId::Pm, offset, PCI_PM_SIZEOF, Preset::PciPmInit)?;
        self.pm_cap = Some(pos);
        if pmcsr_state_writable {
            self.set_word(Array::Wmask, pos + PCI_PM_CTRL, PCI_PM_CTRL_STATE_MASK);
        }
        Ok(pos)
    }

    /// msi_init: MSI capability with `nr_vectors` (a power of two, 1..=32), 64-bit addressing
    /// and per-vector masking as asked. Message Control = log2(vectors) << 1 plus the 64BIT and
    /// MASKBIT flags, wmask QSIZE|ENABLE; address, data and the mask bits of implemented vectors
    /// writable; pending bits read-only.
    pub fn msi_init(
        &mut self,
        offset: usize,
        nr_vectors: u32,
        msi64bit: bool,
        per_vector_mask: bool,
    ) -> Result<usize, ConfigError> {
        if nr_vectors == 0 || nr_vectors > PCI_MSI_VECTORS_MAX || !nr_vectors.is_power_of_two() {
            return Err(ConfigError::InvalidPreset {
                what: "msi_init",
                why: format!("{nr_vectors} vectors: must be a power of two in 1..=32"),
            });
        }
        let mut flags = (nr_vectors.trailing_zeros() as u16) << PCI_MSI_FLAGS_QMASK_SHIFT;
        if msi64bit {
            flags |= PCI_MSI_FLAGS_64BIT;
        }
        if per_vector_mask {
            flags |= PCI_MSI_FLAGS_MASKBIT;
        }
        let pos = self.add_capability(CapId::Msi, offset, msi_cap_sizeof(flags), Preset::MsiInit)?;
        self.msi_cap = Some(pos);
        self.set_word(Array::Config, pos + PCI_MSI_FLAGS, flags);
        self.set_word(
            Array::Wmask,
            pos + PCI_MSI_FLAGS,
            PCI_MSI_FLAGS_QSIZE | PCI_MSI_FLAGS_ENABLE,
        );
        self.set_long(Array::Wmask, pos + PCI_MSI_ADDRESS_LO, PCI_MSI_ADDRESS_LO_MASK);
        if msi64bit {
            self.set_long(Array::Wmask, pos + PCI_MSI_ADDRESS_HI, 0xffff_ffff);
        }
        let data = if msi64bit { PCI_MSI_DATA_64 } else { PCI_MSI_DATA_32 };
        self.set_word(Array::Wmask, pos + data, 0xffff);
        if per_vector_mask {
            let mask = if msi64bit { PCI_MSI_MASK_64 } else { PCI_MSI_MASK_32 };
            self.set_long(
                Array::Wmask,
                pos + mask,
                0xffff_ffff >> (PCI_MSI_VECTORS_MAX - nr_vectors),
            );
        }
        Ok(pos)
    }

    /// msix_init: MSI-X capability (12 bytes). Message Control = nentries - 1 with ENABLE and
    /// MASKALL writable; table and PBA offset/BIR read-only and checked. Validates the layout
    /// as QEMU does (vector count; table/PBA overlap, fit and alignment when BAR sizes are known).
    pub fn msix_init(&mut self, offset: usize, layout: &MsixLayout) -> Result<usize, ConfigError> {
        let n = u32::from(layout.nentries);
        if n < 1 || n > u32::from(PCI_MSIX_FLAGS_QSIZE) + 1 {
            return Err(ConfigError::InvalidPreset {
                what: "msix_init",
                why: "The number of MSI-X vectors is invalid".into(),
            });
        }
        if usize::from(layout.table_bar) >= PCI_NUM_BARS || usize::from(layout.pba_bar) >= PCI_NUM_BARS {
            return Err(ConfigError::InvalidPreset {
                what: "msix_init",
                why: "table or PBA BAR index out of range".into(),
            });
        }
        let table_size = u64::from(n) * PCI_MSIX_ENTRY_SIZE as u64;
        let pba_size = u64::from(n.next_multiple_of(64) / 8);
        let (to, po) = (u64::from(layout.table_offset), u64::from(layout.pba_offset));
        let overlap = layout.table_bar == layout.pba_bar && to < po + pba_size && po < to + table_size;
        let misaligned = (layout.table_offset | layout.pba_offset) & PCI_MSIX_FLAGS_BIRMASK != 0;
        let outside = layout
            .bar_sizes
            .is_some_and(|(tb, pb)| to + table_size > tb || po + pba_size > pb);
        if overlap || misaligned || outside {
            return Err(ConfigError::InvalidPreset {
                what: "msix_init",
                why: "table & pba overlap, or they don't fit in BARs, or don't align".into(),
            });
        }
        let pos = self.add_capability(CapId::Msix, offset, MSIX_CAP_LENGTH, Preset::MsixInit)?;
        self.msix_cap = Some(pos);
        self.set_word(Array::Config, pos + PCI_MSIX_FLAGS, (n - 1) as u16);
        self.set_long(
            Array::Config,
            pos + PCI_MSIX_TABLE,
            layout.table_offset | u32::from(layout.table_bar),
        );
        self.set_long(
            Array::Config,
            pos + PCI_MSIX_PBA,
            layout.pba_offset | u32::from(layout.pba_bar),
        );
        let w = self.wmask[pos + MSIX_CONTROL_OFFSET] | MSIX_ENABLE_MASK | MSIX_MASKALL_MASK;
        self.set_byte(Array::Wmask, pos + MSIX_CONTROL_OFFSET, w);
        Ok(pos)
    }

    /// msix_init_exclusive_bar: a 32-bit memory BAR `bar_nr` of its own (4 KiB for up to 128
    /// vectors: table at 0, PBA at 0x800; larger, rounded to a power of two, beyond), then
    /// msix_init at the first free offset. Returns the capability offset.
    pub fn msix_init_exclusive_bar(&mut self, nentries: u16, bar_nr: u8) -> Result<usize, ConfigError> {
        let n = u32::from(nentries);
        let mut bar_size = MSIX_EXCLUSIVE_BAR_SIZE;
        let mut pba_offset = bar_size / 2;
        let pba_size = n.next_multiple_of(64) / 8;
        if n * PCI_MSIX_ENTRY_SIZE as u32 > pba_offset {
            pba_offset = n * PCI_MSIX_ENTRY_SIZE as u32;
        }
        if pba_offset + pba_size > MSIX_EXCLUSIVE_BAR_SIZE {
            bar_size = (pba_offset + pba_size).next_power_of_two();
        }
        let pos = self.msix_init(
            0,
            &MsixLayout {
                nentries,
                table_bar: bar_nr,
                table_offset: 0,
                pba_bar: bar_nr,
                pba_offset,
                bar_sizes: Some((u64::from(bar_size), u64::from(bar_size))),
            },
        )?;
        self.register_bar(usize::from(bar_nr), PCI_BASE_ADDRESS_SPACE_MEMORY, u64::from(bar_size))?;
        Ok(pos)
    }

    fn exp(&self, what: &'static str) -> Result<usize, ConfigError> {
        self.exp_cap.ok_or(ConfigError::MissingCapability {
            what,
            cap: "PCI Express",
        })
    }

    fn pcie_cap_v1_fill(&mut self, pos: usize, port: u8, dev_type: u8, version: u16, ext_tag: bool) {
        self.set_word(
            Array::Config,
            pos + PCI_EXP_FLAGS,
            ((u16::from(dev_type) << PCI_EXP_FLAGS_TYPE_SHIFT) & PCI_EXP_FLAGS_TYPE) | version,
        );
        let devcap = PCI_EXP_DEVCAP_RBER | if ext_tag { PCI_EXP_DEVCAP_EXT_TAG } else { 0 };
        self.set_long(Array::Config, pos + PCI_EXP_DEVCAP, devcap);
        self.set_long(
            Array::Config,
            pos + PCI_EXP_LNKCAP,
            (u32::from(port) << PCI_EXP_LNKCAP_PN_SHIFT)
                | PCI_EXP_LNKCAP_ASPMS_0S
                | (u32::from(QEMU_PCI_EXP_LNK_X1) << PCI_EXP_LNK_MLW_SHIFT)
                | u32::from(QEMU_PCI_EXP_LNK_2_5GT),
        );
        self.set_word(
            Array::Config,
            pos + PCI_EXP_LNKSTA,
            (QEMU_PCI_EXP_LNK_X1 << PCI_EXP_LNK_MLW_SHIFT) | QEMU_PCI_EXP_LNK_2_5GT,
        );
        // "changing them across migrations is generally fine": Link Status is never checked.
        self.set_word(Array::Cmask, pos + PCI_EXP_LNKSTA, 0);
    }

    fn pcie_cap_fill_slot_lnk(&mut self, pos: usize, width: LinkWidth, speed: LinkSpeed) {
        if width as u32 > LinkWidth::X1 as u32 || speed > LinkSpeed::Gt2_5 {
            self.or_long(Array::Config, pos + PCI_EXP_LNKCAP, PCI_EXP_LNKCAP_LBNC);
        }
        if speed > LinkSpeed::Gt2_5 {
            self.or_long(Array::Config, pos + PCI_EXP_LNKCAP, PCI_EXP_LNKCAP_DLLLARC);
        }
        // pcie_cap_fill_lnk
        self.clear_long(
            Array::Config,
            pos + PCI_EXP_LNKCAP,
            PCI_EXP_LNKCAP_MLW | PCI_EXP_LNKCAP_SLS,
        );
        self.or_long(
            Array::Config,
            pos + PCI_EXP_LNKCAP,
            ((width as u32) << PCI_EXP_LNK_MLW_SHIFT) | speed as u32,
        );
        if speed > LinkSpeed::Gt2_5 {
            self.clear_word(Array::Config, pos + PCI_EXP_LNKCTL2, PCI_EXP_LNKCTL2_TLS);
            self.or_word(Array::Config, pos + PCI_EXP_LNKCTL2, speed as u16 & PCI_EXP_LNKCTL2_TLS);
        }
        if speed > LinkSpeed::Gt5 {
            let mut sls = PCI_EXP_LNKCAP2_SLS_2_5GB | PCI_EXP_LNKCAP2_SLS_5_0GB | PCI_EXP_LNKCAP2_SLS_8_0GB;
            if speed > LinkSpeed::Gt8 {
                sls |= PCI_EXP_LNKCAP2_SLS_16_0GB;
            }
            if speed > LinkSpeed::Gt16 {
                sls |= PCI_EXP_LNKCAP2_SLS_32_0GB;
            }
            if speed > LinkSpeed::Gt32 {
                sls |= PCI_EXP_LNKCAP2_SLS_64_0GB;
            }
            self.set_long(Array::Config, pos + PCI_EXP_LNKCAP2, sls);
        }
    }

    /// pcie_cap_init: PCI Express capability v2 (0x3c bytes) of device/port type `dev_type`.
    /// FLAGS = type | version 2; DEVCAP = RBER (+ EXT_TAG with `x-pcie-ext-tag`); LNKCAP/LNKSTA
    /// x1 2.5GT (or the slot's width/speed); Link Status unchecked; DEVCAP2 = EFF|EETLPP;
    /// DEVCTL2 wmask EETLPPB; with `x-pcie-extcap-init` the dword at 0x100 becomes read-only.
    pub fn pcie_cap_init(
        &mut self,
        offset: usize,
        dev_type: u8,
        port: u8,
        opts: &PcieCapOptions,
    ) -> Result<usize, ConfigError> {
        if !self.is_express() {
            return Err(ConfigError::NotExpress);
        }
        let pos = self.add_capability(CapId::Exp, offset, PCI_EXP_VER2_SIZEOF, Preset::PcieCapInit)?;
        self.exp_cap = Some(pos);
        self.pcie_cap_v1_fill(pos, port, dev_type, PCI_EXP_FLAGS_VER2, opts.ext_tag);
        if let Some((w, s)) = opts.slot_link {
            self.pcie_cap_fill_slot_lnk(pos, w, s);
        }
        self.set_long(
            Array::Config,
            pos + PCI_EXP_DEVCAP2,
            PCI_EXP_DEVCAP2_EFF | PCI_EXP_DEVCAP2_EETLPP,
        );
        self.set_word(Array::Wmask, pos + PCI_EXP_DEVCTL2, PCI_EXP_DEVCTL2_EETLPPB);
        if opts.extcap_init {
            self.set_long(Array::Wmask, PCI_CONFIG_SPACE_SIZE, 0);
        }
        Ok(pos)
    }

    /// pcie_cap_v1_init: PCI Express capability v1 (0x14 bytes).
    pub fn pcie_cap_v1_init(
        &mut self,
        offset: usize,
        dev_type: u8,
        port: u8,
        ext_tag: bool,
    ) -> Result<usize, ConfigError> {
        if !self.is_express() {
            return Err(ConfigError::NotExpress);
        }
        let pos = self.add_capability(CapId::Exp, offset, PCI_EXP_VER1_SIZEOF, Preset::PcieCapV1Init)?;
        self.exp_cap = Some(pos);
        self.pcie_cap_v1_fill(pos, port, dev_type, PCI_EXP_FLAGS_VER1, ext_tag);
        Ok(pos)
    }

    /// pcie_endpoint_cap_init: an endpoint's v2 capability; on a PCIe root bus the type is Root
    /// Complex Integrated Endpoint instead (as QEMU does for Windows guests).
    pub fn pcie_endpoint_cap_init(
        &mut self,
        offset: usize,
        on_pcie_root_bus: bool,
        opts: &PcieCapOptions,
    ) -> Result<usize, ConfigError> {
        let t = if on_pcie_root_bus {
            PCI_EXP_TYPE_RC_END
        } else {
            PCI_EXP_TYPE_ENDPOINT
        };
        self.pcie_cap_init(offset, t, 0, opts)
    }

    /// pcie_cap_deverr_init: DEVCAP RBER; DEVCTL CERE|NFERE|FERE|URRE writable; DEVSTA
    /// CED|NFED|FED|URD write-1-to-clear.
    pub fn pcie_cap_deverr_init(&mut self) -> Result<(), ConfigError> {
        let pos = self.exp("pcie_cap_deverr_init")?;
        self.or_long(Array::Config, pos + PCI_EXP_DEVCAP, PCI_EXP_DEVCAP_RBER);
        self.or_long(
            Array::Wmask,
            pos + PCI_EXP_DEVCTL,
            u32::from(PCI_EXP_DEVCTL_CERE | PCI_EXP_DEVCTL_NFERE | PCI_EXP_DEVCTL_FERE | PCI_EXP_DEVCTL_URRE),
        );
        self.or_long(Array::W1cmask, pos + PCI_EXP_DEVSTA, u32::from(PCI_EXP_DEVSTA_ERRORS));
        Ok(())
    }

    /// pcie_cap_lnkctl_init: LNKCTL CCC|ES writable.
    pub fn pcie_cap_lnkctl_init(&mut self) -> Result<(), ConfigError> {
        let pos = self.exp("pcie_cap_lnkctl_init")?;
        self.or_long(
            Array::Wmask,
            pos + PCI_EXP_LNKCTL,
            u32::from(PCI_EXP_LNKCTL_CCC | PCI_EXP_LNKCTL_ES),
        );
        Ok(())
    }

    /// pcie_cap_flr_init: DEVCAP FLR; DEVCTL BCR_FLR writable.
    pub fn pcie_cap_flr_init(&mut self) -> Result<(), ConfigError> {
        let pos = self.exp("pcie_cap_flr_init")?;
        self.or_long(Array::Config, pos + PCI_EXP_DEVCAP, PCI_EXP_DEVCAP_FLR);
        self.or_word(Array::Wmask, pos + PCI_EXP_DEVCTL, PCI_EXP_DEVCTL_BCR_FLR);
        Ok(())
    }

    /// pcie_cap_arifwd_init: DEVCAP2 ARI forwarding; DEVCTL2 ARI writable.
    pub fn pcie_cap_arifwd_init(&mut self) -> Result<(), ConfigError> {
        let pos = self.exp("pcie_cap_arifwd_init")?;
        self.or_long(Array::Config, pos + PCI_EXP_DEVCAP2, PCI_EXP_DEVCAP2_ARI);
        self.or_long(Array::Wmask, pos + PCI_EXP_DEVCTL2, u32::from(PCI_EXP_DEVCTL2_ARI));
        Ok(())
    }

    /// pcie_cap_root_init: RTCTL SECEE|SENFEE|SEFEE writable.
    pub fn pcie_cap_root_init(&mut self) -> Result<(), ConfigError> {
        let pos = self.exp("pcie_cap_root_init")?;
        self.set_word(Array::Wmask, pos + PCI_EXP_RTCTL, PCI_EXP_RTCTL_QEMU_WMASK);
        Ok(())
    }

    /// pcie_cap_slot_init: slot implemented; SLTCAP (slot number, indicators, attention button,
    /// hot-plug, power control); SLTCTL indicators off; SLTCTL PIC|AIC|HPIE|CCIE|PDCE|ABPE|EIC
    /// (+PCC) writable; SLTSTA ABP|PDC|CCI write-1-to-clear; SLTSTA presence detect unchecked
    /// (QEMU 8.1 and newer; checked with `presence_detect_checked`).
    pub fn pcie_cap_slot_init(&mut self, opts: &SlotOptions) -> Result<(), ConfigError> {
        let pos = self.exp("pcie_cap_slot_init")?;
        self.or_word(Array::Config, pos + PCI_EXP_FLAGS, PCI_EXP_FLAGS_SLOT);
        self.clear_long(Array::Config, pos + PCI_EXP_SLTCAP, !PCI_EXP_SLTCAP_PSN);
        self.or_long(
            Array::Config,
            pos + PCI_EXP_SLTCAP,
            (u32::from(opts.slot) << PCI_EXP_SLTCAP_PSN_SHIFT)
                | PCI_EXP_SLTCAP_EIP
                | PCI_EXP_SLTCAP_PIP
                | PCI_EXP_SLTCAP_AIP
                | PCI_EXP_SLTCAP_ABP,
        );
        if opts.hotplug {
            self.or_long(
                Array::Config,
                pos + PCI_EXP_SLTCAP,
                PCI_EXP_SLTCAP_HPS | PCI_EXP_SLTCAP_HPC,
            );
        }
        if opts.power_control {
            self.or_long(Array::Config, pos + PCI_EXP_SLTCAP, PCI_EXP_SLTCAP_PCP);
            self.clear_word(Array::Config, pos + PCI_EXP_SLTCTL, PCI_EXP_SLTCTL_PCC);
            self.or_word(Array::Wmask, pos + PCI_EXP_SLTCTL, PCI_EXP_SLTCTL_PCC);
        }
        self.clear_word(
            Array::Config,
            pos + PCI_EXP_SLTCTL,
            PCI_EXP_SLTCTL_PIC | PCI_EXP_SLTCTL_AIC,
        );
        self.or_word(
            Array::Config,
            pos + PCI_EXP_SLTCTL,
            PCI_EXP_SLTCTL_PWR_IND_OFF | PCI_EXP_SLTCTL_ATTN_IND_OFF,
        );
        self.or_word(Array::Wmask, pos + PCI_EXP_SLTCTL, PCI_EXP_SLTCTL_QEMU_WMASK);
        self.or_word(Array::W1cmask, pos + PCI_EXP_SLTSTA, PCI_EXP_HP_EV_SUPPORTED);
        if !opts.presence_detect_checked {
            self.clear_word(Array::Cmask, pos + PCI_EXP_SLTSTA, PCI_EXP_SLTSTA_PDS);
        }
        Ok(())
    }

    /// pcie_aer_init: AER at `offset` with `size` bytes (QEMU uses 0x48). UNCOR_STATUS W1C;
    /// UNCOR_MASK default and writable with `x-pcie-err-unc-mask` (`unc_mask`); UNCOR_SEVER
    /// default and writable; COR_STATUS W1C; COR_MASK default and writable; CAP ECRC capable with
    /// the enables writable, and multiple header recording with a log. For root, downstream and upstream
    /// ports also bridge-control SERR writable and Status RCV_SYSTEM_ERROR W1C.
    pub fn aer_init(
        &mut self,
        version: u8,
        offset: usize,
        size: usize,
        log_max: u16,
        unc_mask: bool,
    ) -> Result<(), ConfigError> {
        if size < PCI_ERR_TLP_PREFIX_LOG {
            return Err(ConfigError::InvalidPreset {
                what: "pcie_aer_init",
                why: format!("size {size:#x} is smaller than the AER registers"),
            });
        }
        if log_max > PCIE_AER_LOG_MAX_LIMIT {
            // QEMU adds the capability first and then fails realize with this message; here the
            // space is left untouched.
            return Err(ConfigError::InvalidPreset {
                what: "pcie_aer_init",
                why: format!("Invalid aer_log_max {log_max}. The max number of aer log is {PCIE_AER_LOG_MAX_LIMIT}"),
            });
        }
        self.add_ext_capability(ExtCapId::Err, version, offset, size, Preset::PcieAerInit)?;
        self.aer_cap = Some(offset);
        self.set_long(Array::W1cmask, offset + PCI_ERR_UNCOR_STATUS, PCI_ERR_UNC_SUPPORTED);
        if unc_mask {
            self.set_long(Array::Config, offset + PCI_ERR_UNCOR_MASK, PCI_ERR_UNC_MASK_DEFAULT);
            self.set_long(Array::Wmask, offset + PCI_ERR_UNCOR_MASK, PCI_ERR_UNC_SUPPORTED);
        }
        self.set_long(
            Array::Config,
            offset + PCI_ERR_UNCOR_SEVER,
            PCI_ERR_UNC_SEVERITY_DEFAULT,
        );
        self.set_long(Array::Wmask, offset + PCI_ERR_UNCOR_SEVER, PCI_ERR_UNC_SUPPORTED);
        self.or_long(Array::W1cmask, offset + PCI_ERR_COR_STATUS, PCI_ERR_COR_SUPPORTED);
        self.set_long(Array::Config, offset + PCI_ERR_COR_MASK, PCI_ERR_COR_MASK_DEFAULT);
        self.set_long(Array::Wmask, offset + PCI_ERR_COR_MASK, PCI_ERR_COR_SUPPORTED);
        let (cfg, wm) = if log_max > 0 {
            (
                PCI_ERR_CAP_ECRC_GENC | PCI_ERR_CAP_ECRC_CHKC | PCI_ERR_CAP_MHRC,
                PCI_ERR_CAP_ECRC_GENE | PCI_ERR_CAP_ECRC_CHKE | PCI_ERR_CAP_MHRE,
            )
        } else {
            (
                PCI_ERR_CAP_ECRC_GENC | PCI_ERR_CAP_ECRC_CHKC,
                PCI_ERR_CAP_ECRC_GENE | PCI_ERR_CAP_ECRC_CHKE,
            )
        };
        self.set_long(Array::Config, offset + PCI_ERR_CAP, cfg);
        self.set_long(Array::Wmask, offset + PCI_ERR_CAP, wm);
        if let Some(pos) = self.exp_cap {
            let t = ((self.get_word(pos + PCI_EXP_FLAGS) & PCI_EXP_FLAGS_TYPE) >> PCI_EXP_FLAGS_TYPE_SHIFT) as u8;
            if matches!(
                t,
                PCI_EXP_TYPE_ROOT_PORT | PCI_EXP_TYPE_DOWNSTREAM | PCI_EXP_TYPE_UPSTREAM
            ) {
                self.or_word(Array::Wmask, PCI_BRIDGE_CONTROL, PCI_BRIDGE_CTL_SERR);
                self.or_long(Array::W1cmask, PCI_STATUS, u32::from(PCI_SEC_STATUS_RCV_SYSTEM_ERROR));
            }
        }
        Ok(())
    }

    /// pcie_aer_root_init: ROOT_COMMAND enables writable; ROOT_STATUS report bits W1C and its
    /// cmask overwritten to exclude the interrupt message number (bits 31:27).
    pub fn aer_root_init(&mut self) -> Result<(), ConfigError> {
        let pos = self.aer_cap.ok_or(ConfigError::MissingCapability {
            what: "pcie_aer_root_init",
            cap: "AER",
        })?;
        self.set_long(Array::Wmask, pos + PCI_ERR_ROOT_COMMAND, PCI_ERR_ROOT_CMD_EN_MASK);
        self.set_long(
            Array::W1cmask,
            pos + PCI_ERR_ROOT_STATUS,
            PCI_ERR_ROOT_STATUS_REPORT_MASK,
        );
        self.set_long(Array::Cmask, pos + PCI_ERR_ROOT_STATUS, !PCI_ERR_ROOT_IRQ);
        Ok(())
    }

    /// pcie_ats_init: ATS (8 bytes); page-aligned requests if `aligned`; control 0 with
    /// 0x800f writable.
    pub fn ats_init(&mut self, offset: usize, aligned: bool) -> Result<(), ConfigError> {
        self.add_ext_capability(
            ExtCapId::Ats,
            PCI_ATS_VER,
            offset,
            PCI_EXT_CAP_ATS_SIZEOF,
            Preset::PcieAtsInit,
        )?;
        if aligned {
            self.set_word(Array::Config, offset + PCI_ATS_CAP, PCI_ATS_CAP_PAGE_ALIGNED);
        }
        self.set_word(Array::Config, offset + PCI_ATS_CTRL, 0);
        self.set_word(Array::Wmask, offset + PCI_ATS_CTRL, PCI_ATS_CTRL_QEMU_WMASK);
        Ok(())
    }

    /// pcie_acs_init: ACS (8 bytes); on downstream ports SV|TB|RR|CR|UF|DT advertised and
    /// writable in ACS_CTRL, otherwise nothing.
    pub fn acs_init(&mut self, offset: usize, downstream_port: bool) -> Result<(), ConfigError> {
        self.add_ext_capability(ExtCapId::Acs, PCI_ACS_VER, offset, PCI_ACS_SIZEOF, Preset::PcieAcsInit)?;
        let bits = if downstream_port { PCI_ACS_DOWNSTREAM_BITS } else { 0 };
        self.set_word(Array::Config, offset + PCI_ACS_CAP, bits);
        self.set_word(Array::Wmask, offset + PCI_ACS_CTRL, bits);
        Ok(())
    }

    /// pcie_ari_init: ARI (8 bytes), read-only and checked; next function number 1 or 0.
    pub fn ari_init(&mut self, offset: usize, nextfn_1: bool) -> Result<(), ConfigError> {
        self.add_ext_capability(ExtCapId::Ari, PCI_ARI_VER, offset, PCI_ARI_SIZEOF, Preset::PcieAriInit)?;
        let nextfn = u32::from(nextfn_1) << PCI_ARI_CAP_NFN_SHIFT;
        self.set_long(Array::Config, offset + PCI_ARI_CAP, nextfn);
        Ok(())
    }

    /// pcie_dev_ser_num_init: Device Serial Number (12 bytes), read-only and checked.
    pub fn dsn_init(&mut self, offset: usize, serial: u64) -> Result<(), ConfigError> {
        self.add_ext_capability(
            ExtCapId::Dsn,
            PCI_DSN_VER,
            offset,
            PCI_EXT_CAP_DSN_SIZEOF,
            Preset::PcieDevSerNumInit,
        )?;
        self.set_quad(Array::Config, offset + PCI_DSN_SERIAL, serial);
        Ok(())
    }

    /// pci_bridge_ssvid_init: bridge subsystem ID capability (8 bytes), checked.
    pub fn ssvid_init(&mut self, offset: usize, svid: u16, ssid: u16) -> Result<usize, ConfigError> {
        let pos = self.add_capability(CapId::Ssvid, offset, PCI_SSVID_SIZEOF, Preset::PciBridgeSsvidInit)?;
        self.set_word(Array::Config, pos + PCI_SSVID_VENDOR_ID, svid);
        self.set_word(Array::Config, pos + PCI_SSVID_DEVICE_ID, ssid);
        Ok(pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::{DeviceIdentity, DeviceParams, HeaderKind};
    use crate::space::ConfigSize;

    fn dev(size: ConfigSize, header: HeaderKind) -> ConfigSpace {
        ConfigSpace::new_device(&DeviceParams {
            size,
            header,
            identity: DeviceIdentity::default(),
            multifunction: false,
        })
    }

    fn w(s: &ConfigSpace, off: usize, len: usize) -> u64 {
        s.get_le(Array::Wmask, off, len).unwrap()
    }
    fn c(s: &ConfigSpace, off: usize, len: usize) -> u64 {
        s.get_le(Array::Cmask, off, len).unwrap()
    }
    fn w1(s: &ConfigSpace, off: usize, len: usize) -> u64 {
        s.get_le(Array::W1cmask, off, len).unwrap()
    }
    fn cfg(s: &ConfigSpace, off: usize, len: usize) -> u64 {
        s.get_le(Array::Config, off, len).unwrap()
    }

    #[test]
    fn pm_is_always_8_bytes_and_pmcsr_state_writable_on_request() {
        let mut s = dev(ConfigSize::Conventional, HeaderKind::Type0);
        let p = s.pm_init(0x40, true).unwrap();
        assert_eq!(s.cap_records()[0].size, 8);
        assert_eq!(w(&s, p + 4, 2), 0x0003);
        assert_eq!(s.checked()[p + 4], 0xfc);
        assert_eq!(s.checked()[p + 5], 0xff);
        assert_eq!(s.cmask()[p + 8], 0);
        let mut t = dev(ConfigSize::Conventional, HeaderKind::Type0);
        let p = t.pm_init(0, false).unwrap();
        assert_eq!(p, 0x40);
        assert_eq!(w(&t, p + 4, 2), 0);
    }

    #[test]
    fn pm_state_transitions_follow_pci_pm_update() {
        let mut s = dev(ConfigSize::Conventional, HeaderKind::Type0);
        let p = s.pm_init(0x40, true).unwrap();
        // PMC without D1/D2: writing D1 is reverted to D0.
        s.write(p + 4, 1, 2).unwrap();
        assert_eq!(s.pm_state(), 0);
        s.write(p + 4, 3, 2).unwrap();
        assert_eq!(s.pm_state(), 3);
        s.write(p + 4, 0, 2).unwrap();
        assert_eq!(s.pm_state(), 0);
        // With D1/D2 supported, D2 -> D1 is not allowed (only deeper or D0).
        s.set_word(Array::Config, p + 2, PCI_PM_CAP_D1 | PCI_PM_CAP_D2);
        s.write(p + 4, 2, 1).unwrap();
        assert_eq!(s.pm_state(), 2);
        s.write(p + 4, 1, 1).unwrap();
        assert_eq!(s.pm_state(), 2);
        s.write(p + 4, 3, 1).unwrap();
        assert_eq!(s.pm_state(), 3);
    }

    #[test]
    fn msi_variants_have_qemu_sizes_and_masks() {
        for (bit64, mask, size) in [
            (false, false, 0x0a),
            (true, false, 0x0e),
            (false, true, 0x14),
            (true, true, 0x18),
        ] {
            let mut s = dev(ConfigSize::Conventional, HeaderKind::Type0);
            let p = s.msi_init(0x50, 4, bit64, mask).unwrap();
            assert_eq!(s.cap_records()[0].size, size);
            let flags = 0x0004 | if bit64 { 0x80 } else { 0 } | if mask { 0x100 } else { 0 };
            assert_eq!(cfg(&s, p + 2, 2), flags);
            assert_eq!(w(&s, p + 2, 2), 0x0071);
            assert_eq!(s.checked()[p + 2], 0x8e);
            assert_eq!(s.checked()[p + 3], 0xff);
            assert_eq!(w(&s, p + 4, 4), 0xffff_fffc);
            let data = if bit64 { 0x0c } else { 0x08 };
            if bit64 {
                assert_eq!(w(&s, p + 8, 4), 0xffff_ffff);
            }
            assert_eq!(w(&s, p + data, 2), 0xffff);
            if mask {
                let m = if bit64 { 0x10 } else { 0x0c };
                assert_eq!(w(&s, p + m, 4), 0x0000_000f);
                assert_eq!(w(&s, p + m + 4, 4), 0, "pending bits are read-only");
                assert_eq!(c(&s, p + m + 4, 4), 0xffff_ffff);
            }
            assert_eq!(s.cmask()[p + size], 0);
        }
        let mut s = dev(ConfigSize::Conventional, HeaderKind::Type0);
        assert!(s.msi_init(0x50, 3, false, false).is_err());
        assert!(s.msi_init(0x50, 64, false, false).is_err());
        let p = s.msi_init(0x50, 32, false, true).unwrap();
        assert_eq!(w(&s, p + 0x0c, 4), 0xffff_ffff);
    }

    #[test]
    fn msix_message_control_has_enable_and_maskall_writable() {
        let mut s = dev(ConfigSize::Conventional, HeaderKind::Type0);
        let p = s.msix_init_exclusive_bar(4, 1).unwrap();
        assert_eq!(p, 0x40);
        assert_eq!(cfg(&s, p + 2, 2), 3);
        assert_eq!(w(&s, p + 2, 2), 0xc000);
        assert_eq!(cfg(&s, p + 4, 4), 0x0000_0001);
        assert_eq!(cfg(&s, p + 8, 4), 0x0000_0801);
        assert_eq!(c(&s, p + 4, 8), u64::MAX);
        assert_eq!(w(&s, p + 4, 8), 0);
        assert_eq!(s.bars()[1].unwrap().size, 4096);
        // 200 vectors: the table no longer fits in 2 KiB, the PBA moves after it, still 4 KiB.
        let mut t = dev(ConfigSize::Conventional, HeaderKind::Type0);
        let p = t.msix_init_exclusive_bar(200, 2).unwrap();
        assert_eq!(cfg(&t, p + 8, 4), (200 * 16) | 2);
        assert_eq!(t.bars()[2].unwrap().size, 4096);
        // 300 vectors: 4800 + 40 bytes, rounded up to 8 KiB.
        let mut t = dev(ConfigSize::Conventional, HeaderKind::Type0);
        t.msix_init_exclusive_bar(300, 2).unwrap();
        assert_eq!(t.bars()[2].unwrap().size, 8192);
        let mut u = dev(ConfigSize::Conventional, HeaderKind::Type0);
        let bad = MsixLayout {
            nentries: 8,
            table_bar: 0,
            table_offset: 0,
            pba_bar: 0,
            pba_offset: 0x40,
            bar_sizes: None,
        };
        assert!(u.msix_init(0, &bad).is_err());
        let outside = MsixLayout {
            pba_offset: 0x1000,
            bar_sizes: Some((0x1000, 0x1000)),
            ..bad
        };
        assert!(u.msix_init(0, &outside).is_err());
        assert!(u.msix_init(0, &MsixLayout { nentries: 0, ..outside }).is_err());
    }

    #[test]
    fn pcie_endpoint_masks_follow_pcie_cap_init_and_helpers() {
        let mut s = dev(ConfigSize::Express, HeaderKind::Type0);
        let opts = PcieCapOptions::default();
        let p = s.pcie_endpoint_cap_init(0x70, false, &opts).unwrap();
        assert_eq!(cfg(&s, p + 2, 2), 0x0002);
        assert_eq!(cfg(&s, p + 4, 4), 0x8020);
        assert_eq!(cfg(&s, p + 0x24, 4), 0x0030_0000);
        assert_eq!(c(&s, p + 0x12, 2), 0, "link status never checked");
        assert_eq!(w(&s, p + 0x28, 2), 0x8000);
        assert_eq!(s.checked()[p + 0x29], 0x7f);
        assert_eq!(w(&s, 0x100, 4), 0, "NULL extended header read-only");
        assert_eq!(c(&s, 0x100, 4), 0, "but not checked");
        s.pcie_cap_deverr_init().unwrap();
        s.pcie_cap_lnkctl_init().unwrap();
        s.pcie_cap_flr_init().unwrap();
        assert_eq!(w(&s, p + 8, 2), 0x800f);
        assert_eq!(w1(&s, p + 0x0a, 2), 0x000f);
        assert_eq!(w(&s, p + 0x10, 2), 0x00c0);
        assert_eq!(cfg(&s, p + 4, 4), 0x1000_8020);
        // On a PCIe root bus: RC integrated endpoint; with ext tag off (<= 9.1), DEVCAP 0x8000.
        let mut r = dev(ConfigSize::Express, HeaderKind::Type0);
        let p = r
            .pcie_endpoint_cap_init(0, true, &PcieCapOptions { ext_tag: false, ..opts })
            .unwrap();
        assert_eq!(cfg(&r, p + 2, 2), 0x0092);
        assert_eq!(cfg(&r, p + 4, 4), 0x8000);
        let mut conv = dev(ConfigSize::Conventional, HeaderKind::Type0);
        assert!(matches!(
            conv.pcie_cap_init(0, 0, 0, &opts),
            Err(ConfigError::NotExpress)
        ));
        assert!(matches!(
            conv.pcie_cap_flr_init(),
            Err(ConfigError::MissingCapability { .. })
        ));
    }

    #[test]
    fn root_port_slot_and_root_masks() {
        let mut s = dev(ConfigSize::Express, HeaderKind::Type1);
        let p = s
            .pcie_cap_init(
                0,
                PCI_EXP_TYPE_ROOT_PORT,
                0,
                &PcieCapOptions {
                    slot_link: Some((LinkWidth::X1, LinkSpeed::Gt2_5)),
                    ..Default::default()
                },
            )
            .unwrap();
        s.pcie_cap_arifwd_init().unwrap();
        s.pcie_cap_root_init().unwrap();
        s.pcie_cap_slot_init(&SlotOptions {
            slot: 0,
            hotplug: true,
            power_control: true,
            presence_detect_checked: false,
        })
        .unwrap();
        assert_eq!(w(&s, p + 0x18, 2), 0x0ff9);
        assert_eq!(w1(&s, p + 0x1a, 2), 0x0019);
        assert_eq!(c(&s, p + 0x1a, 2), 0xffbf);
        assert_eq!(w(&s, p + 0x1c, 2), 0x0007);
        assert_eq!(w(&s, p + 0x28, 2), 0x8020);
        assert_eq!(s.checked()[p + 0x28], 0xdf);
        assert_eq!(cfg(&s, p + 2, 2), 0x0142);
        assert_eq!(cfg(&s, p + 0x18, 2), 0x03c0);
        assert_eq!(cfg(&s, p + 0x14, 4) & 0x7f, 0x7b);
        // Faster link: LNKCAP speed/width, LBNC, DLLLARC, LNKCAP2.
        let mut f = dev(ConfigSize::Express, HeaderKind::Type1);
        let p = f
            .pcie_cap_init(
                0,
                PCI_EXP_TYPE_ROOT_PORT,
                0,
                &PcieCapOptions {
                    slot_link: Some((LinkWidth::X16, LinkSpeed::Gt16)),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(cfg(&f, p + 0x0c, 4) & 0x3ff, 0x104);
        assert_ne!(cfg(&f, p + 0x0c, 4) & 0x0030_0000, 0);
        assert_eq!(cfg(&f, p + 0x2c, 4), 0x1e);
        assert_eq!(cfg(&f, p + 0x30, 2), 4);
    }

    #[test]
    fn aer_masks_and_root_status_cmask() {
        let mut s = dev(ConfigSize::Express, HeaderKind::Type1);
        s.pcie_cap_init(0, PCI_EXP_TYPE_ROOT_PORT, 0, &PcieCapOptions::default())
            .unwrap();
        s.aer_init(2, 0x100, PCI_ERR_SIZEOF, 128, true).unwrap();
        s.aer_root_init().unwrap();
        let a = 0x100;
        assert_eq!(w1(&s, a + 4, 4), 0x03ff_f030);
        assert_eq!(cfg(&s, a + 8, 4), 0x0240_0000);
        assert_eq!(w(&s, a + 8, 4), 0x03ff_f030);
        assert_eq!(cfg(&s, a + 0x0c, 4), 0x0046_2030);
        assert_eq!(w1(&s, a + 0x10, 4), 0x0000_f1c1);
        assert_eq!(cfg(&s, a + 0x14, 4), 0x0000_e000);
        assert_eq!(w(&s, a + 0x18, 4), 0x0540);
        assert_eq!(cfg(&s, a + 0x18, 4), 0x02a0);
        assert_eq!(w(&s, a + 0x2c, 4), 7);
        assert_eq!(w1(&s, a + 0x30, 4), 0x7f);
        assert_eq!(c(&s, a + 0x30, 4), 0x07ff_ffff);
        assert_eq!(w(&s, PCI_BRIDGE_CONTROL, 2) & 2, 2);
        assert_eq!(s.checked()[a + 0x30 + 3], 0x07);
        // Without log and unc mask property.
        let mut e = dev(ConfigSize::Express, HeaderKind::Type0);
        e.aer_init(2, 0x100, PCI_ERR_SIZEOF, 0, false).unwrap();
        assert_eq!(w(&e, 0x118, 4), 0x0140);
        assert_eq!(w(&e, 0x108, 4), 0);
        assert_eq!(cfg(&e, 0x108, 4), 0);
    }

    #[test]
    fn ats_acs_ari_dsn_ssvid() {
        let mut s = dev(ConfigSize::Express, HeaderKind::Type0);
        s.ats_init(0x100, true).unwrap();
        s.acs_init(0x108, true).unwrap();
        s.ari_init(0x110, true).unwrap();
        s.dsn_init(0x118, 0x0123_4567_89ab_cdef).unwrap();
        assert_eq!(w(&s, 0x106, 2), 0x800f);
        assert_eq!(cfg(&s, 0x104, 2), 0x20);
        assert_eq!(w(&s, 0x10e, 2), 0x5f);
        assert_eq!(cfg(&s, 0x10c, 2), 0x5f);
        assert_eq!(cfg(&s, 0x114, 4), 0x100);
        assert_eq!(cfg(&s, 0x11c, 8), 0x0123_4567_89ab_cdef);
        assert_eq!(c(&s, 0x11c, 8), u64::MAX);
        let mut b = dev(ConfigSize::Conventional, HeaderKind::Type1);
        let p = b.ssvid_init(0, 0x1af4, 0x1100).unwrap();
        assert_eq!(cfg(&b, p + 4, 4), 0x1100_1af4);
        assert_eq!(c(&b, p, 8), u64::MAX);
    }
}
