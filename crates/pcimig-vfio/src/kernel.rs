//! The host kernel's vfio-pci layer: what a read of the VFIO config region returns for a physical
//! device's config bytes, right after the device is opened.
//!
//! A dump of a physical device (a sysfs `config` read, `lspci -xxxx`) holds what the hardware
//! holds. QEMU never sees those bytes directly: it `pread`s the VFIO config region, which the
//! kernel's vfio-pci driver serves from `drivers/vfio/pci/vfio_pci_config.c`. [`present`] models
//! that driver, as a pure function, for **Linux 6.12.118** ([`KERNEL_VERSION`]: the v6.12 LTS
//! branch, read from Debian's `linux-source-6.12` 6.12.118-1~deb12u1; the rules below are the
//! same in mainline `vfio_pci_config.c` of 2025).
//!
//! What it models, each rule named after the kernel function it follows:
//! - **Open-time device writes** (`vfio_pci_core_enable`): Bus Master cleared (`pci_clear_master`),
//!   Memory/I/O Space enabled for the BARs the host assigned (`pci_enable_device` →
//!   `pci_enable_resources`), INTx Disable set for the devices `vfio_pci_nointx` lists and cleared
//!   where INTx masking works (`pci_intx_mask_supported`), Power State D0 (`pm_runtime_resume`).
//! - **`vfio_config_init`**: the 64-byte header copied into `vconfig`; an SR-IOV VF shows the IDs
//!   the PF gives it, Interrupt Pin 0 and Memory Space set; Interrupt Pin 0 without INTx.
//! - **`vfio_cap_init`**: the standard chain walked from 0x34 (at most 48 entries); a capability is
//!   kept with the length of `pci_cap_length` or, for variable ones, `vfio_cap_len`; one of length
//!   0 (or ID 0, or above `PCI_CAP_ID_MAX`) is hidden by rewriting the previous next pointer, which
//!   is virtualized; PM's PME_Support, PME_En and PME_Status read 0
//!   (`vfio_update_pm_vconfig_bytes`); Status' Capabilities List reads 0 when nothing was kept.
//! - **`vfio_ecap_init`**, only when `vfio_cap_len` saw a PCI Express (or PCI-X 2.0) capability on
//!   a 4096-byte device with a non-zero dword at 0x100: the extended chain from 0x100 (at most 960
//!   entries), lengths from `pci_ext_cap_length` / `vfio_ext_cap_len`; a hidden entry is unlinked
//!   from the previous header, except the first at 0x100, which stays as a placeholder with ID 0 and
//!   version 0 and its next pointer; 0x100 reads 0 when no entry was kept.
//! - **The read path** (`vfio_pci_config_rw` → `vfio_config_do_rw`): the access chopped into
//!   aligned chunks of one capability each, then per byte owner: header bytes through
//!   `vfio_basic_config_read` (BARs and ROM from `vfio_bar_fixup`), capabilities with permission
//!   tables (PM, VPD, PCI-X, PCIe, AF, MSI, AER, Power Budgeting) through
//!   `vfio_default_config_read` (virtualized bits from `vconfig`), others through
//!   `vfio_direct_config_read` (ID and next from `vconfig`), bytes outside every capability raw
//!   (`unassigned_perms`: the device's own bytes).
//!
//! What it cannot know is in [`KernelFacts`] (BAR and ROM sizes, the INTx line, SR-IOV). The
//! kernel's quirks are followed too (a capability pointer into the header, two abutting
//! capabilities of one ID, an extended ID whose low byte is 0xff): each says so in a note.
//!
//! ```
//! use pcimig_vfio::kernel::{present, KernelFacts};
//! let mut phys = vec![0u8; 256];
//! phys[0..4].copy_from_slice(&[0xde, 0x10, 0x30, 0x23]);
//! phys[6] = 0x10; // capability list
//! phys[0x34] = 0x40;
//! phys[0x40..0x44].copy_from_slice(&[0x0c, 0x50, 0x00, 0x00]); // SHPC: unknown length
//! phys[0x50..0x54].copy_from_slice(&[0x09, 0x00, 0x14, 0xaa]); // VSC, 0x14 bytes
//! let view = present(&phys, &KernelFacts::default()).unwrap();
//! assert_eq!(view.config[0x34], 0x50); // the SHPC is unlinked
//! assert_eq!(view.hidden[0].offset, 0x40);
//! assert_eq!(view.kept[0].len, 0x14);
//! ```

use pcimig_config::le;
use pcimig_config::regs::*;
use pcimig_config::{AnyCapId, CapId, ExtCapId};
use thiserror::Error;

use crate::VfioOptions;

/// The kernel this model follows.
pub const KERNEL_VERSION: &str =
    "Linux 6.12.118 (v6.12 LTS, Debian linux-source-6.12 6.12.118-1~deb12u1), drivers/vfio/pci/vfio_pci_config.c";

/// Register constants as Linux 6.12's `include/uapi/linux/pci_regs.h` and vfio-pci's private
/// headers have them, where they are the kernel's own (table sizes, IDs' upper bounds) rather
/// than QEMU's (kept here so that they change with the kernel version this module follows).
mod linux {
    /// vfio_pci_config.c: the fake capability ID of the standard header.
    pub const PCI_CAP_ID_BASIC: u8 = 0;
    /// vfio_pci_priv.h: a map byte of raw access (bytes outside every capability).
    pub const PCI_CAP_ID_INVALID: u8 = 0xff;
    /// vfio_pci_priv.h: a map byte of virtualized access.
    pub const PCI_CAP_ID_INVALID_VIRT: u8 = 0xfe;
    /// pci_regs.h: the highest standard ID (PCI_CAP_ID_EA).
    pub const PCI_CAP_ID_MAX: u8 = 0x14;
    /// pci_regs.h: the highest extended ID (PCI_EXT_CAP_ID_DOE).
    pub const PCI_EXT_CAP_ID_MAX: u16 = 0x2e;
    /// pci_regs.h.
    pub const PCI_STD_HEADER_SIZEOF: usize = 64;
    /// pci_regs.h.
    pub const PCI_AGP_SIZEOF: usize = 12;
    /// pci_regs.h.
    pub const PCI_CAP_VPD_SIZEOF: usize = 8;
    /// pci_regs.h.
    pub const PCI_CAP_MSIX_SIZEOF: usize = 12;
    /// pci_regs.h.
    pub const PCI_CAP_AF_SIZEOF: usize = 6;
    /// pci_regs.h: AF control FLR bit.
    pub const PCI_AF_CTRL_FLR: u8 = 0x01;
    /// pci_regs.h.
    pub const PCI_CAP_PCIX_SIZEOF_V0: usize = 8;
    /// pci_regs.h (same as V1).
    pub const PCI_CAP_PCIX_SIZEOF_V2: usize = 24;
    /// pci_regs.h: v1 endpoints with link end here.
    pub const PCI_CAP_EXP_ENDPOINT_SIZEOF_V1: usize = 20;
    /// pci_regs.h: end of v2 endpoints with link (0x34, not QEMU's 0x3c).
    pub const PCI_CAP_EXP_ENDPOINT_SIZEOF_V2: usize = 0x34;
    /// vfio_cap_len: a v1 root complex integrated endpoint ("All Devices" only, no link).
    pub const EXP_RC_END_SIZEOF_V1: usize = 0xc;
    /// vfio_cap_len: a v2 root complex integrated endpoint (no link).
    pub const EXP_RC_END_SIZEOF_V2: usize = 0x2c;
    /// pci_regs.h: PME_Support bits of PMC.
    pub const PCI_PM_CAP_PME_MASK: u16 = 0xf800;
    /// pci_regs.h.
    pub const HT_3BIT_CAP_MASK: u8 = 0xe0;
    /// pci_regs.h: slave and primary interfaces.
    pub const HT_CAP_SIZEOF_LONG: usize = 28;
    /// pci_regs.h: host and secondary interfaces.
    pub const HT_CAP_SIZEOF_SHORT: usize = 24;
    /// pci_regs.h.
    pub const PCI_SATA_REGS: usize = 4;
    /// pci_regs.h.
    pub const PCI_SATA_REGS_MASK: u8 = 0xf;
    /// pci_regs.h.
    pub const PCI_SATA_REGS_INLINE: u8 = 0xf;
    /// pci_regs.h.
    pub const PCI_SATA_SIZEOF_SHORT: usize = 8;
    /// pci_regs.h.
    pub const PCI_SATA_SIZEOF_LONG: usize = 16;
    /// pci_regs.h.
    pub const PCI_EXT_CAP_PWR_SIZEOF: usize = 0x10;
    /// pci_regs.h.
    pub const PCI_EXT_CAP_SRIOV_SIZEOF: usize = 0x40;
    /// pci_regs.h.
    pub const PCI_EXT_CAP_MCAST_ENDPOINT_SIZEOF: usize = 40;
    /// pci_regs.h.
    pub const PCI_EXT_CAP_PRI_SIZEOF: usize = 16;
    /// pci_regs.h.
    pub const PCI_EXT_CAP_LTR_SIZEOF: usize = 8;
    /// pci_regs.h.
    pub const PCI_VC_PORT_CAP2: usize = 0x08;
    /// pci_regs.h.
    pub const PCI_VC_CAP2_32_PHASE: u32 = 0x2;
    /// pci_regs.h.
    pub const PCI_VC_CAP2_64_PHASE: u32 = 0x4;
    /// pci_regs.h.
    pub const PCI_VC_CAP2_128_PHASE: u32 = 0x8;
    /// pci_regs.h.
    pub const PCI_CAP_VC_BASE_SIZEOF: usize = 0x10;
    /// pci_regs.h.
    pub const PCI_CAP_VC_PER_VC_SIZEOF: usize = 0x0c;
    /// pci_regs.h: egress control vector size.
    pub const PCI_ACS_EGRESS_BITS: usize = 0x05;
    /// pci_regs.h.
    pub const PCI_DPA_CAP: usize = 4;
    /// pci_regs.h.
    pub const PCI_DPA_CAP_SUBSTATE_MASK: u8 = 0x1f;
    /// pci_regs.h.
    pub const PCI_DPA_BASE_SIZEOF: usize = 16;
    /// pci_regs.h.
    pub const PCI_TPH_CAP_LOC_MASK: u32 = 0x600;
    /// pci_regs.h.
    pub const PCI_TPH_LOC_CAP: u32 = 0x200;
    /// pci_regs.h.
    pub const PCI_TPH_CAP_ST_SHIFT: u32 = 16;
    /// pci_regs.h.
    pub const PCI_TPH_BASE_SIZEOF: usize = 0xc;
    /// pci_regs.h: the vendor-specific header of a VSEC.
    pub const PCI_VSEC_HDR: usize = 4;
    /// pci_regs.h.
    pub const PCI_VSEC_HDR_LEN_SHIFT: u32 = 20;
    /// pci_regs.h: PCI_DVSEC_HEADER1_LEN's field.
    pub const PCI_DVSEC_HEADER1_LEN_MASK: u32 = 0xfff;
    /// pci.h: PCI_FIND_CAP_TTL, the PCI core's bound on a standard chain walk.
    pub const PCI_FIND_CAP_TTL: usize = 48;
}

use linux::*;

/// What the config bytes cannot say about the host device: the PCI core's resources and the
/// INTx line, as `vfio_config_init` and `vfio_bar_fixup` read them from `struct pci_dev`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct KernelFacts {
    /// BAR 0..5 sizes (`pci_resource_len`), when known; `None` / `Some(0)` entry: no resource.
    /// For a 64-bit BAR the size sits at the lower index. `None` altogether: sizes unknown, the
    /// BARs keep the device's bits (noted).
    pub bar_sizes: Option<[Option<u64>; 6]>,
    /// Expansion ROM resource size, when known (`Some(0)`: none, the ROM BAR reads 0). A boot VGA
    /// device's shadow ROM is `Some(0x20000)`. `None`: unknown, the ROM BAR keeps the device's
    /// bits (noted).
    pub rom_size: Option<u64>,
    /// The device has an INTx line the host routed (`pdev->irq != IRQ_NOTCONNECTED`).
    pub irq_connected: bool,
    /// The kernel is built with `CONFIG_VFIO_PCI_INTX` (default y).
    pub config_vfio_pci_intx: bool,
    /// vfio-pci's `nointxmask` module parameter (default off): skip the INTx masking setup.
    pub nointxmask: bool,
    /// INTx Disable works on this device (`pci_intx_mask_supported`; required of PCIe functions).
    pub intx_mask_supported: bool,
    /// The device is an SR-IOV virtual function, with the IDs its PF's SR-IOV capability gives.
    pub virtfn: Option<VirtFn>,
}

impl Default for KernelFacts {
    /// Sizes unknown, an INTx line routed, a stock kernel, a physical function.
    fn default() -> Self {
        KernelFacts {
            bar_sizes: None,
            rom_size: None,
            irq_connected: true,
            config_vfio_pci_intx: true,
            nointxmask: false,
            intx_mask_supported: true,
            virtfn: None,
        }
    }
}

impl KernelFacts {
    /// The facts QEMU's options already carry (BAR and ROM sizes); the rest default.
    pub fn from_vfio_options(opts: &VfioOptions) -> Self {
        KernelFacts {
            bar_sizes: opts.bar_sizes,
            rom_size: opts.rom_size,
            ..KernelFacts::default()
        }
    }
}

/// The IDs of an SR-IOV virtual function (`pdev->vendor`, `pdev->device`), which the VF's own
/// config reads as 0xffff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct VirtFn {
    /// The PF's vendor ID.
    pub vendor_id: u16,
    /// The VF Device ID of the PF's SR-IOV capability.
    pub device_id: u16,
}

/// A capability the kernel keeps in its chain. Displays as the decision it is
/// (`Vendor Specific capability (0x09) at 0x40 kept (0x14 bytes: from its length byte)`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct KeptCap {
    /// Its ID.
    pub id: AnyCapId,
    /// Where it starts.
    pub offset: usize,
    /// The length the kernel gives it (bytes it virtualizes through the capability's rules).
    pub len: usize,
    /// Where that length comes from (the kernel's table, a length byte, the flags …).
    pub why: String,
}

impl std::fmt::Display for KeptCap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self.id {
            AnyCapId::Std(id) => std_name(id.value()),
            AnyCapId::Ext(id) => ext_name(id.value()),
        };
        write!(
            f,
            "{name} at {:#x} kept ({:#x} bytes: {})",
            self.offset, self.len, self.why
        )
    }
}

/// A capability the kernel hides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct HiddenCap {
    /// Its ID.
    pub id: AnyCapId,
    /// Where it starts.
    pub offset: usize,
    /// The first extended capability at 0x100, kept as a header with ID 0 to anchor the chain.
    pub placeholder: bool,
}

/// What QEMU's `pread` of the config region returns right after the device is opened.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct KernelView {
    /// The bytes, as long as the physical config.
    pub config: Vec<u8>,
    /// One sentence per decision that changes what a read returns (a hidden capability, a
    /// fixed-up BAR, …), in the kernel's order. Capabilities kept as the device has them are
    /// in `kept` (each displays as its decision), not here.
    pub notes: Vec<String>,
    /// Capabilities kept, standard then extended, in chain order.
    pub kept: Vec<KeptCap>,
    /// Capabilities hidden, in chain order.
    pub hidden: Vec<HiddenCap>,
}

/// Why the kernel would not open the device (or would misbehave opening it).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KernelLayerError {
    /// A config that is not 256 or 4096 bytes.
    #[error("a PCI config space is 256 or 4096 bytes, not {0}")]
    BadSize(usize),
    /// A header type other than 0.
    #[error("header type {header_type:#04x} at 0xe: vfio_pci_core_register_device binds only type 0 (normal) headers")]
    NotType0 {
        /// The header type byte.
        header_type: u8,
    },
    /// A config read the PCI core refuses (`PCIBIOS_BAD_REGISTER_NUMBER`): open fails.
    #[error("{what} reads {width} bytes at {offset:#x}, which is not {width}-byte aligned: pci_read_config fails, vfio_config_init returns -EINVAL and the device does not open")]
    UnalignedRead {
        /// The register's offset.
        offset: usize,
        /// The access width.
        width: usize,
        /// The kernel function reading it.
        what: &'static str,
    },
    /// A config read past the end of config space: open fails.
    #[error("{what} reads at {offset:#x}, past the {size}-byte config image: the kernel would read the device beyond what the image holds")]
    ReadPastEnd {
        /// The offset read.
        offset: usize,
        /// The config size.
        size: usize,
        /// The kernel function reading it.
        what: &'static str,
    },
    /// A capability whose length runs past the end of config space.
    #[error("{kind} capability {id:#x} at {offset:#x} with length {len:#x} runs past the {size}-byte config space: the kernel would write past its config map")]
    CapPastEnd {
        /// `standard` or `extended`.
        kind: &'static str,
        /// Its ID.
        id: u16,
        /// Where it starts.
        offset: usize,
        /// Its length.
        len: usize,
        /// The config size.
        size: usize,
    },
    /// A BAR or ROM size the PCI core cannot have.
    #[error("{register} at {offset:#x}: size {size:#x} is not a power of two")]
    BadBarSize {
        /// `BARn` or `ROM`.
        register: String,
        /// The register's offset.
        offset: usize,
        /// The size given.
        size: u64,
    },
}

type Result<T> = std::result::Result<T, KernelLayerError>;

/// `vfio_pci_config_rw` right after `vfio_pci_core_enable`: the config region as QEMU's `pread`
/// of it returns, for a physical device whose registers are `physical`.
pub fn present(physical: &[u8], facts: &KernelFacts) -> Result<KernelView> {
    if physical.len() != PCI_CONFIG_SPACE_SIZE && physical.len() != PCIE_CONFIG_SPACE_SIZE {
        return Err(KernelLayerError::BadSize(physical.len()));
    }
    let header_type = physical[PCI_HEADER_TYPE] & PCI_HEADER_TYPE_MASK;
    if header_type != PCI_HEADER_TYPE_NORMAL {
        return Err(KernelLayerError::NotType0 { header_type });
    }
    let mut layer = Layer::new(physical, facts)?;
    layer.vfio_pci_core_enable();
    layer.vfio_config_init()?;
    let config = layer.vfio_pci_config_rw();
    Ok(KernelView {
        config,
        notes: layer.notes,
        kept: layer.kept,
        hidden: layer.hidden,
    })
}

/// A host resource of one BAR or the ROM, as the PCI core holds it (`struct resource`).
#[derive(Debug, Clone, Copy)]
struct Resource {
    io: bool,
    prefetch: bool,
    mem64: bool,
    start: u64,
    len: u64,
}

/// The MSI permission table's inputs (`vdev->msi_perm`, set by the first MSI capability).
#[derive(Debug, Clone, Copy)]
struct MsiPerm {
    len: usize,
    flags: u16,
}

/// Which `struct perm_bits` serves a byte, and so which read function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Perm {
    /// `unassigned_perms`: `vfio_raw_config_read`.
    Raw,
    /// `virt_perms`: `vfio_virt_config_read`.
    Virt,
    /// `cap_perms[PCI_CAP_ID_BASIC]`: `vfio_basic_config_read`.
    Basic,
    /// A table of virtualized bits read by `vfio_default_config_read` (`msi` for MSI's reads).
    Table(Table),
    /// No table: `vfio_direct_config_read`.
    Direct,
}

/// The capabilities `vfio_pci_init_perm_bits` gives permission tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Table {
    Pm,
    Vpd,
    Pcix,
    Exp,
    Af,
    Msi,
    Err,
    Pwr,
}

/// The kernel's state for one device: the device's registers, `vconfig`, `pci_config_map`.
struct Layer<'a> {
    facts: &'a KernelFacts,
    /// The device's registers (changed by the open-time writes).
    hw: Vec<u8>,
    vconfig: Vec<u8>,
    map: Vec<u8>,
    resources: [Option<Resource>; PCI_NUM_REGIONS],
    msi: Option<MsiPerm>,
    extended_caps: bool,
    bardirty: bool,
    nointx: bool,
    pci_2_3: bool,
    past_table_noted: bool,
    notes: Vec<String>,
    kept: Vec<KeptCap>,
    hidden: Vec<HiddenCap>,
}

impl<'a> Layer<'a> {
    fn new(physical: &[u8], facts: &'a KernelFacts) -> Result<Self> {
        let mut layer = Layer {
            facts,
            hw: physical.to_vec(),
            vconfig: physical.to_vec(),
            map: vec![PCI_CAP_ID_INVALID; physical.len()],
            resources: [None; PCI_NUM_REGIONS],
            msi: None,
            extended_caps: false,
            bardirty: true,
            nointx: false,
            pci_2_3: false,
            past_table_noted: false,
            notes: Vec::new(),
            kept: Vec::new(),
            hidden: Vec::new(),
        };
        layer.pci_read_bases()?;
        Ok(layer)
    }

    fn size(&self) -> usize {
        self.hw.len()
    }

    // ---- config accessors (pci_read_config_*: natural alignment, inside config space) ----

    fn check_read(&self, offset: usize, width: usize, what: &'static str) -> Result<()> {
        if offset % width != 0 {
            return Err(KernelLayerError::UnalignedRead { offset, width, what });
        }
        if offset + width > self.size() {
            return Err(KernelLayerError::ReadPastEnd {
                offset,
                size: self.size(),
                what,
            });
        }
        Ok(())
    }

    fn read_byte(&self, offset: usize, what: &'static str) -> Result<u8> {
        self.check_read(offset, 1, what)?;
        Ok(self.hw[offset])
    }

    fn read_word(&self, offset: usize, what: &'static str) -> Result<u16> {
        self.check_read(offset, 2, what)?;
        Ok(le::word(&self.hw, offset))
    }

    fn read_dword(&self, offset: usize, what: &'static str) -> Result<u32> {
        self.check_read(offset, 4, what)?;
        Ok(le::long(&self.hw, offset))
    }

    fn vword(&self, offset: usize) -> u16 {
        le::word(&self.vconfig, offset)
    }

    fn set_vword(&mut self, offset: usize, v: u16) {
        if let Some(b) = self.vconfig.get_mut(offset..offset + 2) {
            b.copy_from_slice(&v.to_le_bytes());
        }
    }

    fn vdword(&self, offset: usize) -> u32 {
        le::long(&self.vconfig, offset)
    }

    fn set_vdword(&mut self, offset: usize, v: u32) {
        if let Some(b) = self.vconfig.get_mut(offset..offset + 4) {
            b.copy_from_slice(&v.to_le_bytes());
        }
    }

    fn note(&mut self, s: String) {
        self.notes.push(s);
    }

    // ---- the PCI core's view (struct pci_dev) -------------------------------------------

    /// `pci_read_bases` / `__pci_read_base`: one resource per implemented BAR (a 64-bit BAR takes
    /// two registers and one resource), sized by [`KernelFacts::bar_sizes`]; the ROM's from
    /// [`KernelFacts::rom_size`]. A resource starts at the BAR's address (no host bridge offset).
    fn pci_read_bases(&mut self) -> Result<()> {
        let mut i = 0;
        while i < PCI_NUM_BARS {
            let off = PCI_BASE_ADDRESS_0 + 4 * i;
            let raw = le::long(&self.hw, off);
            let io = raw & u32::from(PCI_BASE_ADDRESS_SPACE_IO) != 0;
            let mem64 = !io && (raw as u8 & PCI_BASE_ADDRESS_MEM_TYPE_MASK) == PCI_BASE_ADDRESS_MEM_TYPE_64;
            let mut start = u64::from(
                raw & if io {
                    PCI_BASE_ADDRESS_IO_MASK
                } else {
                    PCI_BASE_ADDRESS_MEM_MASK
                },
            );
            if mem64 && i + 1 < PCI_NUM_BARS {
                start |= u64::from(le::long(&self.hw, off + 4)) << 32;
            }
            if let Some(len) = self.facts.bar_sizes.and_then(|s| s[i]).filter(|&l| l != 0) {
                if !len.is_power_of_two() {
                    let register = format!("BAR{i}");
                    return Err(KernelLayerError::BadBarSize {
                        register,
                        offset: off,
                        size: len,
                    });
                }
                let prefetch = !io && raw as u8 & PCI_BASE_ADDRESS_MEM_PREFETCH != 0;
                self.resources[i] = Some(Resource {
                    io,
                    prefetch,
                    mem64,
                    start,
                    len,
                });
            }
            i += if mem64 { 2 } else { 1 };
        }
        let raw = le::long(&self.hw, PCI_ROM_ADDRESS);
        if let Some(len) = self.facts.rom_size.filter(|&l| l != 0) {
            if !len.is_power_of_two() {
                let register = "ROM".to_string();
                return Err(KernelLayerError::BadBarSize {
                    register,
                    offset: PCI_ROM_ADDRESS,
                    size: len,
                });
            }
            let start = u64::from(raw & PCI_ROM_ADDRESS_MASK);
            self.resources[PCI_ROM_SLOT] = Some(Resource {
                io: false,
                prefetch: false,
                mem64: false,
                start,
                len,
            });
        }
        Ok(())
    }

    /// `pci_find_capability` (`__pci_find_next_cap_ttl`): the PCI core's own walk, which aligns
    /// each pointer down to a dword, stops below 0x40 or at ID 0xff, and gives up after 48.
    fn pci_find_capability(&self, cap: CapId) -> Option<usize> {
        if le::word(&self.hw, PCI_STATUS) & PCI_STATUS_CAP_LIST == 0 {
            return None;
        }
        let mut pos = usize::from(self.hw[PCI_CAPABILITY_LIST]);
        for _ in 0..PCI_FIND_CAP_TTL {
            if pos < PCI_CONFIG_HEADER_SIZE {
                break;
            }
            pos &= !3;
            let ent = le::word(&self.hw, pos);
            let id = ent as u8;
            if id == PCI_CAP_ID_ABSENT {
                break;
            }
            if id == cap.value() {
                return Some(pos);
            }
            pos = usize::from(ent >> 8);
        }
        None
    }

    /// `pcie_caps_reg(pdev)`: the PCI Express flags the core read from the capability it found
    /// (0 when it found none).
    fn pcie_caps_reg(&self) -> u16 {
        self.pci_find_capability(CapId::Exp)
            .map_or(0, |pos| le::word(&self.hw, pos + PCI_EXP_FLAGS))
    }

    /// `vfio_pci_nointx`: devices whose INTx vfio-pci hides (i40e and X550 NICs).
    fn vfio_pci_nointx(&self) -> bool {
        let (vendor, device) = match self.facts.virtfn {
            Some(vf) => (vf.vendor_id, vf.device_id),
            None => (le::word(&self.hw, PCI_VENDOR_ID), le::word(&self.hw, PCI_DEVICE_ID)),
        };
        vendor == 0x8086
            && matches!(device, 0x1572 | 0x1574 | 0x1580..=0x1581 | 0x1583..=0x158b | 0x37d0..=0x37d2 | 0x1563)
    }
}

// ---- vfio_pci_core_enable: what opening the device writes to it ---------------------------
impl Layer<'_> {
    /// `vfio_pci_core_enable`, the writes that change what a read returns: runtime resume to D0,
    /// `pci_clear_master`, `pci_enable_device`, and the INTx masking setup.
    fn vfio_pci_core_enable(&mut self) {
        if let Some(pm) = self.pci_find_capability(CapId::Pm) {
            let ctrl = le::word(&self.hw, pm + PCI_PM_CTRL);
            if ctrl & PCI_PM_CTRL_STATE_MASK != 0 {
                self.set_hw_word(pm + PCI_PM_CTRL, ctrl & !PCI_PM_CTRL_STATE_MASK);
                self.note(format!("PM Control at {:#x}: Power State D{} reads D0 (pm_runtime_resume_and_get brings the device to D0 at open)", pm + PCI_PM_CTRL, ctrl & PCI_PM_CTRL_STATE_MASK));
            }
        }
        let mut cmd = le::word(&self.hw, PCI_COMMAND);
        let before = cmd;
        cmd &= !PCI_COMMAND_MASTER;
        if self.facts.virtfn.is_none() {
            cmd |= self.pci_enable_resources();
        }
        if !self.facts.nointxmask {
            if self.vfio_pci_nointx() {
                self.nointx = true;
                cmd |= PCI_COMMAND_INTX_DISABLE;
            } else {
                self.pci_2_3 = self.facts.intx_mask_supported;
            }
        }
        if self.pci_2_3 {
            cmd &= !PCI_COMMAND_INTX_DISABLE;
        }
        self.set_hw_word(PCI_COMMAND, cmd);
        if cmd != before {
            let intx = if self.nointx {
                "sets INTx Disable (vfio_pci_nointx)"
            } else if self.pci_2_3 {
                "clears INTx Disable (INTx masking works: pci_2_3)"
            } else {
                "leaves INTx Disable"
            };
            self.note(format!("Command reads {cmd:#06x}, not {before:#06x}: vfio_pci_core_enable clears Bus Master (pci_clear_master), enables the assigned BARs' decoders (pci_enable_device) and {intx}"));
        }
    }

    /// `pci_enable_resources`: Memory Space for an assigned memory BAR (or enabled ROM), I/O
    /// Space for an I/O BAR. Without sizes a BAR counts when its address is non-zero.
    fn pci_enable_resources(&self) -> u16 {
        let mut cmd = 0;
        for (i, r) in self.resources.iter().enumerate().take(PCI_NUM_BARS) {
            if let Some(r) = r.filter(|r| r.start != 0) {
                cmd |= if r.io { PCI_COMMAND_IO } else { PCI_COMMAND_MEMORY };
            } else if self.facts.bar_sizes.is_none() {
                let raw = le::long(&self.hw, PCI_BASE_ADDRESS_0 + 4 * i);
                if raw & u32::from(PCI_BASE_ADDRESS_SPACE_IO) != 0 && raw & PCI_BASE_ADDRESS_IO_MASK != 0 {
                    cmd |= PCI_COMMAND_IO;
                } else if raw & u32::from(PCI_BASE_ADDRESS_SPACE_IO) == 0 && raw & PCI_BASE_ADDRESS_MEM_MASK != 0 {
                    cmd |= PCI_COMMAND_MEMORY;
                }
            }
        }
        let rom = le::long(&self.hw, PCI_ROM_ADDRESS);
        if self.resources[PCI_ROM_SLOT].is_some_and(|r| r.start != 0) && rom & PCI_ROM_ADDRESS_ENABLE != 0 {
            cmd |= PCI_COMMAND_MEMORY;
        }
        cmd
    }

    fn set_hw_word(&mut self, offset: usize, v: u16) {
        if let Some(b) = self.hw.get_mut(offset..offset + 2) {
            b.copy_from_slice(&v.to_le_bytes());
        }
        if let Some(b) = self.vconfig.get_mut(offset..offset + 2) {
            b.copy_from_slice(&v.to_le_bytes());
        }
    }
}

// ---- vfio_config_init ---------------------------------------------------------------------
impl Layer<'_> {
    /// `vfio_config_init`: the header into `vconfig` (done: `vconfig` starts as the device's
    /// bytes), the VF and INTx adjustments, then `vfio_cap_init` and `vfio_ecap_init`.
    fn vfio_config_init(&mut self) -> Result<()> {
        self.map[..PCI_STD_HEADER_SIZEOF].fill(PCI_CAP_ID_BASIC);
        if let Some(vf) = self.facts.virtfn {
            self.set_vword(PCI_VENDOR_ID, vf.vendor_id);
            self.set_vword(PCI_DEVICE_ID, vf.device_id);
            self.vconfig[PCI_INTERRUPT_PIN] = 0;
            self.note(format!("SR-IOV VF: Vendor/Device ID read {:04x}:{:04x} (pdev->vendor/device), Interrupt Pin reads 0 and Command's Memory Space reads 1 (no_command_memory)", vf.vendor_id, vf.device_id));
            let cmd = self.vword(PCI_COMMAND) | PCI_COMMAND_MEMORY;
            self.set_vword(PCI_COMMAND, cmd);
        }
        let pin = self.vconfig[PCI_INTERRUPT_PIN];
        let why = if !self.facts.config_vfio_pci_intx {
            Some("the kernel is built without CONFIG_VFIO_PCI_INTX")
        } else if self.nointx {
            Some("vfio_pci_nointx lists this device")
        } else if !self.facts.irq_connected {
            Some("the host routed no INTx line (pdev->irq == IRQ_NOTCONNECTED)")
        } else {
            None
        };
        if let Some(why) = why {
            self.vconfig[PCI_INTERRUPT_PIN] = 0;
            if pin != 0 {
                self.note(format!("Interrupt Pin reads 0, not {pin:#x}: {why} (vfio_config_init)"));
            }
        }
        self.vfio_cap_init()?;
        self.vfio_ecap_init()
    }

    /// `vfio_cap_init`: walk the standard chain, keep each capability of known length, hide the
    /// others by rewriting the previous (virtualized) next pointer.
    fn vfio_cap_init(&mut self) -> Result<()> {
        if self.read_word(PCI_STATUS, "vfio_cap_init")? & PCI_STATUS_CAP_LIST == 0 {
            return Ok(());
        }
        let mut pos = usize::from(self.read_byte(PCI_CAPABILITY_LIST, "vfio_cap_init")?);
        let mut prev = PCI_CAPABILITY_LIST;
        let mut loops = (PCI_CONFIG_SPACE_SIZE - PCI_STD_HEADER_SIZEOF) / PCI_CAP_SIZEOF;
        let mut caps = 0;
        while pos != 0 && loops > 0 {
            loops -= 1;
            let cap = self.read_byte(pos, "vfio_cap_init")?;
            let next = self.read_byte(pos + PCI_CAP_LIST_NEXT, "vfio_cap_init")?;
            let (len, why) = if cap != 0 && cap <= PCI_CAP_ID_MAX {
                self.pci_cap_len(CapId::from(cap), pos)?
            } else {
                (0, String::new())
            };
            if len == 0 {
                self.hide_std(cap, pos, prev, next);
                pos = usize::from(next);
                continue;
            }
            self.claim("standard", u16::from(cap), pos, len)?;
            if CapId::from(cap) == CapId::Pm {
                self.vfio_update_pm_vconfig_bytes(pos);
            }
            self.kept.push(KeptCap {
                id: AnyCapId::Std(CapId::from(cap)),
                offset: pos,
                len,
                why,
            });
            prev = pos + PCI_CAP_LIST_NEXT;
            pos = usize::from(next);
            caps += 1;
        }
        if pos != 0 {
            self.note(format!("the standard chain walk stopped after 48 entries with next {pos:#x} (vfio_cap_init's loop bound): the pointer at {prev:#x} still reads it"));
        }
        if caps == 0 {
            let status = self.vword(PCI_STATUS) & !PCI_STATUS_CAP_LIST;
            self.set_vword(PCI_STATUS, status);
            self.note("Status' Capabilities List reads 0: no capability was kept (vfio_cap_init)".into());
        }
        Ok(())
    }

    fn hide_std(&mut self, cap: u8, pos: usize, prev: usize, next: u8) {
        self.vconfig[prev] = next;
        self.hidden.push(HiddenCap {
            id: AnyCapId::Std(CapId::from(cap)),
            offset: pos,
            placeholder: false,
        });
        let why = if cap == 0 {
            "ID 0 is vfio's fake header ID".to_string()
        } else if cap > PCI_CAP_ID_MAX {
            format!("ID above PCI_CAP_ID_MAX ({PCI_CAP_ID_MAX:#x})")
        } else {
            "unknown or zero length".to_string()
        };
        self.note(format!(
            "{} at {pos:#x} hidden ({why}): the next pointer at {prev:#x} reads {next:#x} (vfio_cap_init)",
            std_name(cap)
        ));
    }

    /// `memset(map + pos, cap, len)` and `vfio_fill_vconfig_bytes`, with the kernel's overlap
    /// warning as a note.
    fn claim(&mut self, kind: &'static str, id: u16, pos: usize, len: usize) -> Result<()> {
        if pos + len > self.size() {
            return Err(KernelLayerError::CapPastEnd {
                kind,
                id,
                offset: pos,
                len,
                size: self.size(),
            });
        }
        if let Some(i) = (pos..pos + len).find(|&i| self.map[i] != PCI_CAP_ID_INVALID) {
            self.note(format!("{kind} capability {id:#x} at {pos:#x} overlaps bytes already mapped from {i:#x} (the kernel's \"PCI config conflict\" warning): the later capability's rules win"));
        }
        self.map[pos..pos + len].fill(id as u8);
        let (hw, vconfig) = (&self.hw[pos..pos + len], &mut self.vconfig[pos..pos + len]);
        vconfig.copy_from_slice(hw);
        Ok(())
    }

    /// `vfio_update_pm_vconfig_bytes`: PME_Support, PME_Status and PME_En read 0.
    fn vfio_update_pm_vconfig_bytes(&mut self, pos: usize) {
        let pmc = self.vword(pos + PCI_PM_PMC);
        let ctrl = self.vword(pos + PCI_PM_CTRL);
        self.set_vword(pos + PCI_PM_PMC, pmc & !PCI_PM_CAP_PME_MASK);
        self.set_vword(
            pos + PCI_PM_CTRL,
            ctrl & !(PCI_PM_CTRL_PME_ENABLE | PCI_PM_CTRL_PME_STATUS),
        );
        if pmc & PCI_PM_CAP_PME_MASK != 0 || ctrl & (PCI_PM_CTRL_PME_ENABLE | PCI_PM_CTRL_PME_STATUS) != 0 {
            self.note(format!(
                "PM at {pos:#x}: PME_Support, PME_En and PME_Status read 0 (vfio_update_pm_vconfig_bytes)"
            ));
        }
    }

    /// `pci_cap_length[cap]`, or `vfio_cap_len` for the variable ones (0xff in the table); the
    /// length and why.
    fn pci_cap_len(&mut self, cap: CapId, pos: usize) -> Result<(usize, String)> {
        let fixed = |len: usize| Ok((len, "pci_cap_length".to_string()));
        match cap {
            CapId::Pm => fixed(PCI_PM_SIZEOF),
            CapId::Agp => fixed(PCI_AGP_SIZEOF),
            CapId::Vpd => fixed(PCI_CAP_VPD_SIZEOF),
            CapId::Msix => fixed(PCI_CAP_MSIX_SIZEOF),
            CapId::Af => fixed(PCI_CAP_AF_SIZEOF),
            CapId::Msi | CapId::Pcix | CapId::Ht | CapId::Vndr | CapId::Exp | CapId::Sata => {
                self.vfio_cap_len(cap, pos)
            }
            _ => Ok((0, String::new())),
        }
    }

    /// `vfio_cap_len`: the length of a variable-length standard capability.
    fn vfio_cap_len(&mut self, cap: CapId, pos: usize) -> Result<(usize, String)> {
        const WHAT: &str = "vfio_cap_len";
        Ok(match cap {
            CapId::Msi => self.vfio_msi_cap_len(pos)?,
            CapId::Pcix => {
                let word = self.read_word(pos + PCI_X_CMD, WHAT)?;
                if (word >> 12) & 3 != 0 {
                    self.test_extended_caps()?;
                    (PCI_CAP_PCIX_SIZEOF_V2, "PCI-X version 2 by PCI_X_CMD".into())
                } else {
                    (PCI_CAP_PCIX_SIZEOF_V0, "PCI-X version 0 by PCI_X_CMD".into())
                }
            }
            CapId::Vndr => (
                usize::from(self.read_byte(pos + PCI_CAP_FLAGS, WHAT)?),
                "from its length byte".into(),
            ),
            CapId::Exp => {
                self.test_extended_caps()?;
                let flags = self.pcie_caps_reg();
                let rc_end = ((flags & PCI_EXP_FLAGS_TYPE) >> PCI_EXP_FLAGS_TYPE_SHIFT) as u8 == PCI_EXP_TYPE_RC_END;
                let v1 = flags & PCI_EXP_FLAGS_VERS == PCI_EXP_FLAGS_VER1;
                let len = match (v1, rc_end) {
                    (true, true) => EXP_RC_END_SIZEOF_V1,
                    (true, false) => PCI_CAP_EXP_ENDPOINT_SIZEOF_V1,
                    (false, true) => EXP_RC_END_SIZEOF_V2,
                    (false, false) => PCI_CAP_EXP_ENDPOINT_SIZEOF_V2,
                };
                (
                    len,
                    format!(
                        "version {} {}, by the flags the PCI core read",
                        if v1 { 1 } else { 2 },
                        if rc_end {
                            "root complex integrated endpoint"
                        } else {
                            "endpoint"
                        }
                    ),
                )
            }
            CapId::Ht => {
                let byte = self.read_byte(pos + 3, WHAT)?;
                let len = if byte & HT_3BIT_CAP_MASK != 0 {
                    HT_CAP_SIZEOF_SHORT
                } else {
                    HT_CAP_SIZEOF_LONG
                };
                (len, "HyperTransport by its command byte".into())
            }
            CapId::Sata => {
                let byte = self.read_byte(pos + PCI_SATA_REGS, WHAT)? & PCI_SATA_REGS_MASK;
                let len = if byte == PCI_SATA_REGS_INLINE {
                    PCI_SATA_SIZEOF_LONG
                } else {
                    PCI_SATA_SIZEOF_SHORT
                };
                (len, "SATA by its register location".into())
            }
            _ => (0, String::new()),
        })
    }

    /// `vfio_msi_cap_len`: 10 bytes, 4 more with 64-bit addresses, 10 more with per-vector
    /// masking; the first MSI capability sets up `vdev->msi_perm`.
    fn vfio_msi_cap_len(&mut self, pos: usize) -> Result<(usize, String)> {
        let flags = self.read_word(pos + PCI_MSI_FLAGS, "vfio_msi_cap_len")?;
        let mut len = 10;
        if flags & PCI_MSI_FLAGS_64BIT != 0 {
            len += 4;
        }
        if flags & PCI_MSI_FLAGS_MASKBIT != 0 {
            len += 10;
        }
        if self.msi.is_none() {
            self.msi = Some(MsiPerm { len, flags });
        }
        Ok((len, "MSI by its flags".into()))
    }

    /// `vdev->extended_caps`: a 4096-byte device with a non-zero dword at 0x100.
    fn test_extended_caps(&mut self) -> Result<()> {
        if self.size() > PCI_CONFIG_SPACE_SIZE {
            self.extended_caps = self.read_dword(PCI_CONFIG_SPACE_SIZE, "vfio_cap_len")? != 0;
        }
        Ok(())
    }
}

/// A standard capability's name for notes.
fn std_name(cap: u8) -> String {
    match CapId::from(cap).known_name() {
        Some(name) => format!("{name} capability ({cap:#04x})"),
        None => format!("capability {cap:#04x}"),
    }
}

/// An extended capability's name for notes.
fn ext_name(ecap: u16) -> String {
    match ExtCapId::from(ecap).known_name() {
        Some(name) => format!("{name} extended capability ({ecap:#06x})"),
        None => format!("extended capability {ecap:#06x}"),
    }
}

// ---- vfio_ecap_init -----------------------------------------------------------------------
impl Layer<'_> {
    /// `vfio_ecap_init`: walk the extended chain from 0x100; keep entries of known length, unlink
    /// the others, keep a hidden first entry as a placeholder header.
    fn vfio_ecap_init(&mut self) -> Result<()> {
        if !self.extended_caps {
            if self.size() > PCI_CONFIG_SPACE_SIZE {
                self.note("extended capabilities not virtualized (no PCI Express capability was measured, or the dword at 0x100 is 0): 0x100..0x1000 read as the device holds them".into());
            }
            return Ok(());
        }
        let mut epos = PCI_CONFIG_SPACE_SIZE;
        let mut prev: Option<usize> = None;
        let mut loops = (self.size() - PCI_CONFIG_SPACE_SIZE) / PCI_CAP_SIZEOF;
        let mut ecaps = 0;
        while loops > 0 && epos >= PCI_CONFIG_SPACE_SIZE {
            loops -= 1;
            let header = self.read_dword(epos, "vfio_ecap_init")?;
            let ecap = pci_ext_cap_id(header);
            let (mut len, why) = if ecap <= PCI_EXT_CAP_ID_MAX {
                self.pci_ext_cap_len(ExtCapId::from(ecap), epos)?
            } else {
                (0, String::new())
            };
            let mut hidden = false;
            if len == 0 {
                if let Some(p) = prev {
                    self.unlink_ext(ecap, epos, header, p);
                    epos = pci_ext_cap_next(header);
                    continue;
                }
                len = PCI_CAP_SIZEOF;
                hidden = true;
            }
            self.claim("extended", ecap, epos, len)?;
            if hidden {
                self.placeholder(ecap, epos);
            } else {
                ecaps += 1;
                self.kept.push(KeptCap {
                    id: AnyCapId::Ext(ExtCapId::from(ecap)),
                    offset: epos,
                    len,
                    why,
                });
            }
            prev = Some(epos);
            epos = pci_ext_cap_next(header);
        }
        if ecaps == 0 {
            self.set_vdword(PCI_CONFIG_SPACE_SIZE, 0);
            self.note("no extended capability was kept: the header at 0x100 reads 0 (vfio_ecap_init)".into());
        }
        Ok(())
    }

    /// A hidden entry after the first: the previous header's next pointer skips it.
    fn unlink_ext(&mut self, ecap: u16, epos_hidden: usize, header: u32, prev: usize) {
        let next = pci_ext_cap_next(header);
        let v = (self.vdword(prev) & !(0xffc << PCI_EXT_CAP_NEXT_SHIFT)) | ((next as u32) << PCI_EXT_CAP_NEXT_SHIFT);
        self.set_vdword(prev, v);
        self.hidden.push(HiddenCap {
            id: AnyCapId::Ext(ExtCapId::from(ecap)),
            offset: epos_hidden,
            placeholder: false,
        });
        self.note(format!(
            "{} at {epos_hidden:#x} hidden ({}): the header at {prev:#x} now points to {next:#x} (vfio_ecap_init)",
            ext_name(ecap),
            ext_hide_reason(ecap)
        ));
    }

    /// A hidden first entry: a header with ID 0 and version 0 keeps the chain's start, and the
    /// quirks of how it then reads.
    fn placeholder(&mut self, ecap: u16, epos: usize) {
        let v = self.vdword(epos) & (0xffc << PCI_EXT_CAP_NEXT_SHIFT);
        self.set_vdword(epos, v);
        self.hidden.push(HiddenCap {
            id: AnyCapId::Ext(ExtCapId::from(ecap)),
            offset: epos,
            placeholder: true,
        });
        let how = match ecap as u8 {
            PCI_CAP_ID_BASIC => " — but its map byte is PCI_CAP_ID_BASIC, so vfio_find_cap_start returns 0 and the header reads as the device holds it",
            PCI_CAP_ID_INVALID => " — but its map byte is PCI_CAP_ID_INVALID, so the header reads raw, as the device holds it",
            _ => "",
        };
        self.note(format!("{} at {epos:#x} hidden ({}): kept as a placeholder header with ID 0, version 0, next {:#x}{how} (vfio_ecap_init)", ext_name(ecap), ext_hide_reason(ecap), pci_ext_cap_next(v)));
    }

    /// `pci_ext_cap_length[ecap]`, or `vfio_ext_cap_len` for the variable ones.
    fn pci_ext_cap_len(&self, ecap: ExtCapId, epos: usize) -> Result<(usize, String)> {
        let fixed = |len: usize| Ok((len, "pci_ext_cap_length".to_string()));
        match ecap {
            ExtCapId::Err => fixed(PCI_ERR_ROOT_COMMAND),
            ExtCapId::Dsn => fixed(PCI_EXT_CAP_DSN_SIZEOF),
            ExtCapId::Pwr => fixed(PCI_EXT_CAP_PWR_SIZEOF),
            ExtCapId::Ari => fixed(PCI_ARI_SIZEOF),
            ExtCapId::Ats => fixed(PCI_EXT_CAP_ATS_SIZEOF),
            ExtCapId::Sriov => fixed(PCI_EXT_CAP_SRIOV_SIZEOF),
            ExtCapId::Mcast => fixed(PCI_EXT_CAP_MCAST_ENDPOINT_SIZEOF),
            ExtCapId::Pri => fixed(PCI_EXT_CAP_PRI_SIZEOF),
            ExtCapId::Ltr => fixed(PCI_EXT_CAP_LTR_SIZEOF),
            ExtCapId::Vc | ExtCapId::Vc9 | ExtCapId::Mfvc => {
                Ok((self.vfio_vc_cap_len(epos)?, "vfio_vc_cap_len".into()))
            }
            ExtCapId::Vndr | ExtCapId::Acs | ExtCapId::Rebar | ExtCapId::Dpa | ExtCapId::Tph | ExtCapId::Dvsec => {
                self.vfio_ext_cap_len(ecap, epos)
            }
            _ => Ok((0, String::new())),
        }
    }

    /// `vfio_ext_cap_len`: the length of a variable-length extended capability.
    fn vfio_ext_cap_len(&self, ecap: ExtCapId, epos: usize) -> Result<(usize, String)> {
        const WHAT: &str = "vfio_ext_cap_len";
        Ok(match ecap {
            ExtCapId::Vndr => {
                let dword = self.read_dword(epos + PCI_VSEC_HDR, WHAT)?;
                (
                    (dword >> PCI_VSEC_HDR_LEN_SHIFT) as usize,
                    "from its VSEC header's length".into(),
                )
            }
            ExtCapId::Acs => {
                let byte = self.read_byte(epos + PCI_ACS_CAP, WHAT)?;
                let len = if u16::from(byte) & PCI_ACS_EC != 0 {
                    let bits = usize::from(self.read_byte(epos + PCI_ACS_EGRESS_BITS, WHAT)?);
                    let bits = if bits != 0 { bits.div_ceil(32) * 32 } else { 256 };
                    8 + bits / 8
                } else {
                    8
                };
                (len, "ACS by its egress control vector".into())
            }
            ExtCapId::Rebar => {
                let byte = self.read_byte(epos + PCI_REBAR_CTRL, WHAT)?;
                let nbar = (u32::from(byte) & PCI_REBAR_CTRL_NBAR_MASK) >> PCI_REBAR_CTRL_NBAR_SHIFT;
                (4 + nbar as usize * 8, "Resizable BAR by its BAR count".into())
            }
            ExtCapId::Dpa => {
                let byte = self.read_byte(epos + PCI_DPA_CAP, WHAT)? & PCI_DPA_CAP_SUBSTATE_MASK;
                (
                    PCI_DPA_BASE_SIZEOF + usize::from(byte) + 1,
                    "DPA by its substate count".into(),
                )
            }
            ExtCapId::Tph => {
                let dword = self.read_dword(epos + PCI_TPH_CAP, WHAT)?;
                let len = if dword & PCI_TPH_CAP_LOC_MASK == PCI_TPH_LOC_CAP {
                    let sts = ((dword & PCI_TPH_CAP_ST_MASK) >> PCI_TPH_CAP_ST_SHIFT) as usize;
                    PCI_TPH_BASE_SIZEOF + sts * 2 + 2
                } else {
                    PCI_TPH_BASE_SIZEOF
                };
                (len, "TPH by its steering table".into())
            }
            ExtCapId::Dvsec => {
                let dword = self.read_dword(epos + PCI_DVSEC_HEADER1, WHAT)?;
                (
                    ((dword >> 20) & PCI_DVSEC_HEADER1_LEN_MASK) as usize,
                    "from its DVSEC header 1 length".into(),
                )
            }
            _ => (0, String::new()),
        })
    }

    /// `vfio_vc_cap_len`: VC and MFVC by their extended VC count and arbitration phases.
    fn vfio_vc_cap_len(&self, epos: usize) -> Result<usize> {
        const WHAT: &str = "vfio_vc_cap_len";
        let evcc = (self.read_dword(epos + PCI_VC_PORT_CAP1, WHAT)? & PCI_VC_CAP1_EVCC) as usize;
        let cap2 = self.read_dword(epos + PCI_VC_PORT_CAP2, WHAT)?;
        let phases = if cap2 & PCI_VC_CAP2_128_PHASE != 0 {
            128
        } else if cap2 & PCI_VC_CAP2_64_PHASE != 0 {
            64
        } else if cap2 & PCI_VC_CAP2_32_PHASE != 0 {
            32
        } else {
            0
        };
        let vc_arb = phases * 4;
        let mut len = PCI_CAP_VC_BASE_SIZEOF + (1 + evcc) * PCI_CAP_VC_PER_VC_SIZEOF;
        if vc_arb != 0 {
            len = len.div_ceil(16) * 16 + vc_arb / 8;
        }
        Ok(len)
    }
}

/// Why an extended ID has no length in Linux 6.12's tables.
fn ext_hide_reason(ecap: u16) -> String {
    if ecap > PCI_EXT_CAP_ID_MAX {
        format!("ID above PCI_EXT_CAP_ID_MAX ({PCI_EXT_CAP_ID_MAX:#x})")
    } else {
        "unknown or zero length".into()
    }
}

// ---- the read path: vfio_pci_config_rw ----------------------------------------------------
impl Layer<'_> {
    /// `vfio_pci_config_rw` for a read of the whole region from offset 0 (QEMU's `pread` at
    /// realize): `vfio_config_do_rw` chunk by chunk.
    fn vfio_pci_config_rw(&mut self) -> Vec<u8> {
        let mut out = vec![0u8; self.size()];
        let mut pos = 0;
        while pos < self.size() {
            let count = self.chunk_len(pos, self.size() - pos);
            let (perm, cap_start) = self.perm_for(pos);
            let offset = pos - cap_start;
            self.read_chunk(perm, pos, count, offset, &mut out[pos..pos + count]);
            pos += count;
        }
        self.bar_notes();
        out
    }

    /// `vfio_config_do_rw`'s chunking: within one dword and one map value
    /// (`vfio_pci_cap_remaining_dword`), then 4, 2 or 1 bytes by alignment.
    fn chunk_len(&self, pos: usize, count: usize) -> usize {
        let cap = self.map[pos];
        let mut i = 1;
        while (pos + i) % 4 != 0 && self.map.get(pos + i) == Some(&cap) {
            i += 1;
        }
        let count = count.min(i);
        if count >= 4 && pos % 4 == 0 {
            4
        } else if count >= 2 && pos % 2 == 0 {
            2
        } else {
            1
        }
    }

    /// `vfio_config_do_rw`'s choice of `struct perm_bits` and `cap_start` for the byte at `pos`.
    fn perm_for(&self, pos: usize) -> (Perm, usize) {
        let cap_id = self.map[pos];
        if cap_id == PCI_CAP_ID_INVALID {
            return (Perm::Raw, pos);
        }
        if cap_id == PCI_CAP_ID_INVALID_VIRT {
            return (Perm::Virt, pos);
        }
        let perm = if pos >= PCI_CONFIG_SPACE_SIZE {
            match ExtCapId::from(u16::from(cap_id)) {
                _ if u16::from(cap_id) > PCI_EXT_CAP_ID_MAX => Perm::Direct,
                ExtCapId::Err => Perm::Table(Table::Err),
                ExtCapId::Pwr => Perm::Table(Table::Pwr),
                _ => Perm::Direct,
            }
        } else {
            match CapId::from(cap_id) {
                CapId::Null => Perm::Basic,
                CapId::Pm => Perm::Table(Table::Pm),
                CapId::Vpd => Perm::Table(Table::Vpd),
                CapId::Pcix => Perm::Table(Table::Pcix),
                CapId::Exp => Perm::Table(Table::Exp),
                CapId::Af => Perm::Table(Table::Af),
                CapId::Msi => Perm::Table(Table::Msi),
                _ => Perm::Direct,
            }
        };
        let cap_start = if pos >= PCI_CONFIG_SPACE_SIZE || cap_id > PCI_CAP_ID_BASIC {
            self.vfio_find_cap_start(pos)
        } else {
            0
        };
        (perm, cap_start)
    }

    /// `vfio_find_cap_start`: back over bytes of the same map value (so two abutting capabilities
    /// of one ID read as one), not below 0x40 (0x100 for extended); 0 for the header's ID.
    fn vfio_find_cap_start(&self, mut pos: usize) -> usize {
        let cap = self.map[pos];
        let base = if pos >= PCI_CONFIG_SPACE_SIZE {
            PCI_CONFIG_SPACE_SIZE
        } else {
            PCI_STD_HEADER_SIZEOF
        };
        if cap == PCI_CAP_ID_BASIC {
            return 0;
        }
        while pos > base && self.map[pos - 1] == cap {
            pos -= 1;
        }
        pos
    }

    /// The read functions: `vfio_raw_config_read`, `vfio_virt_config_read`,
    /// `vfio_basic_config_read`, `vfio_msi_config_read` / `vfio_default_config_read` and
    /// `vfio_direct_config_read`.
    fn read_chunk(&mut self, perm: Perm, pos: usize, count: usize, offset: usize, out: &mut [u8]) {
        match perm {
            Perm::Raw => out.copy_from_slice(&self.hw[pos..pos + count]),
            Perm::Virt => out.copy_from_slice(&self.vconfig[pos..pos + count]),
            Perm::Basic => {
                if is_bar(offset) && self.bardirty {
                    self.vfio_bar_fixup();
                }
                self.default_read(VirtTable::Basic, pos, count, offset, out);
                if offset == PCI_COMMAND && self.facts.virtfn.is_some() {
                    out[0] |= (self.vword(PCI_COMMAND) & PCI_COMMAND_MEMORY) as u8;
                }
            }
            Perm::Table(table) => {
                if table == Table::Msi && offset <= PCI_MSI_FLAGS && offset + count >= PCI_MSI_FLAGS {
                    // vfio_msi_config_read updates the "flags" at the capability's start (its ID
                    // byte, which msi_perm does not virtualize) with msi_qmax, 0 at open.
                    let start = self.vfio_find_cap_start(pos);
                    let v = self.vword(start) & !PCI_MSI_FLAGS_QMASK;
                    self.set_vword(start, v);
                }
                self.default_read(table.into(), pos, count, offset, out);
            }
            Perm::Direct => {
                out.copy_from_slice(&self.hw[pos..pos + count]);
                self.direct_mangle(pos, count, offset, out);
            }
        }
    }

    /// `vfio_direct_config_read`'s mangling: an extended header's first dword, a standard
    /// capability's ID and next bytes come from `vconfig`.
    fn direct_mangle(&self, pos: usize, count: usize, offset: usize, out: &mut [u8]) {
        if pos >= PCI_CONFIG_SPACE_SIZE {
            if offset < 4 {
                out.copy_from_slice(&self.vconfig[pos..pos + count]);
            }
        } else if pos >= PCI_STD_HEADER_SIZEOF {
            if offset == PCI_CAP_LIST_ID && count > 1 {
                let n = count.min(PCI_CAP_FLAGS);
                out[..n].copy_from_slice(&self.vconfig[pos..pos + n]);
            } else if offset == PCI_CAP_LIST_NEXT {
                out[0] = self.vconfig[pos];
            }
        }
    }

    /// `vfio_default_config_read`: virtualized bits from `vconfig`, the rest from the device.
    fn default_read(&mut self, table: VirtTable, pos: usize, count: usize, offset: usize, out: &mut [u8]) {
        for (i, byte) in out.iter_mut().enumerate().take(count) {
            let virt = match self.virt_byte(table, offset + i) {
                Some(v) => v,
                None => {
                    self.note_past_table(pos + i);
                    0
                }
            };
            *byte = (self.hw[pos + i] & !virt) | (self.vconfig[pos + i] & virt);
        }
    }

    fn note_past_table(&mut self, at: usize) {
        if !self.past_table_noted {
            self.past_table_noted = true;
            self.note(format!("the byte at {at:#x} lies past its capability's permission table (abutting capabilities of one ID read as one): the kernel reads beyond the table, modelled as not virtualized"));
        }
    }
}

/// `is_bar`: the BARs and the ROM BAR of the header.
fn is_bar(offset: usize) -> bool {
    (PCI_BASE_ADDRESS_0..PCI_BASE_ADDRESS_5 + 4).contains(&offset)
        || (PCI_ROM_ADDRESS..PCI_ROM_ADDRESS + 4).contains(&offset)
}

/// A table of virtualized bits (`perm_bits.virt`), including the header's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum VirtTable {
    Basic,
    Cap(Table),
}

impl From<Table> for VirtTable {
    fn from(t: Table) -> Self {
        VirtTable::Cap(t)
    }
}

// ---- permission tables (vfio_pci_init_perm_bits, init_pci_cap_msi_perm) -------------------
impl Layer<'_> {
    /// The virtualized bits of the byte `offset` into a table, `None` past the table
    /// (`alloc_perm_bits` rounds its size up to a dword).
    fn virt_byte(&self, table: VirtTable, offset: usize) -> Option<u8> {
        let size = match table {
            VirtTable::Basic => PCI_STD_HEADER_SIZEOF,
            VirtTable::Cap(Table::Pm) => PCI_PM_SIZEOF,
            VirtTable::Cap(Table::Vpd) => PCI_CAP_VPD_SIZEOF,
            VirtTable::Cap(Table::Pcix) => PCI_CAP_PCIX_SIZEOF_V2,
            VirtTable::Cap(Table::Exp) => PCI_CAP_EXP_ENDPOINT_SIZEOF_V2,
            VirtTable::Cap(Table::Af) => PCI_CAP_AF_SIZEOF,
            VirtTable::Cap(Table::Msi) => self.msi.map_or(0, |m| m.len),
            VirtTable::Cap(Table::Err) => PCI_ERR_ROOT_COMMAND,
            VirtTable::Cap(Table::Pwr) => PCI_EXT_CAP_PWR_SIZEOF,
        };
        if offset >= size.div_ceil(4) * 4 {
            return None;
        }
        Some(match table {
            VirtTable::Basic => basic_virt(offset),
            VirtTable::Cap(Table::Msi) => msi_virt(self.msi.map_or(0, |m| m.flags), offset),
            VirtTable::Cap(t) => cap_virt(t, offset),
        })
    }
}

/// The byte `offset` of a 16-bit mask at `at`, or `None` outside it.
fn word_byte(offset: usize, at: usize, mask: u16) -> Option<u8> {
    (at..at + 2).contains(&offset).then(|| mask.to_le_bytes()[offset - at])
}

/// The byte `offset` of a 32-bit mask at `at`, or `None` outside it.
fn dword_byte(offset: usize, at: usize, mask: u32) -> Option<u8> {
    (at..at + 4).contains(&offset).then(|| mask.to_le_bytes()[offset - at])
}

/// `init_pci_cap_basic_perm`: IDs, INTx Disable, Capabilities List, BARs, ROM, capability
/// pointer, Interrupt Line and Pin virtualized.
fn basic_virt(offset: usize) -> u8 {
    let bars = (PCI_BASE_ADDRESS_0..PCI_BASE_ADDRESS_5 + 4).contains(&offset)
        || (PCI_ROM_ADDRESS..PCI_ROM_ADDRESS + 4).contains(&offset);
    if bars || offset < PCI_COMMAND || [PCI_CAPABILITY_LIST, PCI_INTERRUPT_LINE, PCI_INTERRUPT_PIN].contains(&offset) {
        return 0xff;
    }
    word_byte(offset, PCI_COMMAND, PCI_COMMAND_INTX_DISABLE)
        .or_else(|| word_byte(offset, PCI_STATUS, PCI_STATUS_CAP_LIST))
        .unwrap_or(0)
}

/// The fixed tables: `init_pci_cap_pm_perm`, `init_pci_cap_vpd_perm`, `init_pci_cap_pcix_perm`,
/// `init_pci_cap_exp_perm`, `init_pci_cap_af_perm`, `init_pci_ext_cap_err_perm`,
/// `init_pci_ext_cap_pwr_perm`. Each standard table virtualizes the next pointer; each extended
/// one the whole first dword.
fn cap_virt(table: Table, offset: usize) -> u8 {
    match table {
        Table::Err | Table::Pwr => dword_byte(offset, 0, u32::MAX).unwrap_or(0),
        _ if offset == PCI_CAP_LIST_NEXT => 0xff,
        Table::Pm => word_byte(offset, PCI_PM_PMC, PCI_PM_CAP_PME_MASK)
            .or_else(|| {
                dword_byte(
                    offset,
                    PCI_PM_CTRL,
                    u32::from(PCI_PM_CTRL_PME_ENABLE | PCI_PM_CTRL_PME_STATUS),
                )
            })
            .unwrap_or(0),
        Table::Vpd => word_byte(offset, PCI_VPD_ADDR, u16::MAX)
            .or_else(|| dword_byte(offset, PCI_VPD_DATA, u32::MAX))
            .unwrap_or(0),
        Table::Exp => word_byte(
            offset,
            PCI_EXP_DEVCTL,
            PCI_EXP_DEVCTL_BCR_FLR | PCI_EXP_DEVCTL_PAYLOAD | PCI_EXP_DEVCTL_READRQ,
        )
        .unwrap_or(0),
        Table::Af if offset == PCI_AF_CTRL => PCI_AF_CTRL_FLR,
        _ => 0,
    }
}

/// `init_pci_cap_msi_perm`: the low byte of the flags, address and data virtualized; mask and
/// pending bits not.
fn msi_virt(flags: u16, offset: usize) -> u8 {
    if offset == PCI_CAP_LIST_NEXT || offset == PCI_MSI_FLAGS {
        return 0xff;
    }
    let data = if flags & PCI_MSI_FLAGS_64BIT != 0 {
        dword_byte(offset, PCI_MSI_ADDRESS_HI, u32::MAX).or_else(|| word_byte(offset, PCI_MSI_DATA_64, u16::MAX))
    } else {
        word_byte(offset, PCI_MSI_DATA_32, u16::MAX)
    };
    dword_byte(offset, PCI_MSI_ADDRESS_LO, u32::MAX).or(data).unwrap_or(0)
}

// ---- vfio_bar_fixup -----------------------------------------------------------------------
impl Layer<'_> {
    /// `vfio_bar_fixup`: each BAR's address bits masked by its resource's size and its flags
    /// regenerated from the resource (`vfio_generate_bar_flags`); a BAR without a resource reads
    /// 0; the ROM masked by its size with its enable bit kept, or 0. Without sizes in
    /// [`KernelFacts`] the device's bits stay.
    fn vfio_bar_fixup(&mut self) {
        self.bardirty = false;
        if self.facts.bar_sizes.is_some() {
            let mut i = 0;
            while i < PCI_NUM_BARS {
                let off = PCI_BASE_ADDRESS_0 + 4 * i;
                let Some(r) = self.resources[i].filter(|r| r.start != 0) else {
                    self.set_vdword(off, 0);
                    i += 1;
                    continue;
                };
                let mask = !(r.len - 1);
                let flags = if r.io {
                    u32::from(PCI_BASE_ADDRESS_SPACE_IO)
                } else {
                    u32::from(
                        if r.prefetch { PCI_BASE_ADDRESS_MEM_PREFETCH } else { 0 }
                            | if r.mem64 { PCI_BASE_ADDRESS_MEM_TYPE_64 } else { 0 },
                    )
                };
                let v = (self.vdword(off) & mask as u32) | flags;
                self.set_vdword(off, v);
                if v & u32::from(PCI_BASE_ADDRESS_MEM_TYPE_64) != 0 {
                    if i + 1 < PCI_NUM_BARS {
                        let hi = self.vdword(off + 4) & (mask >> 32) as u32;
                        self.set_vdword(off + 4, hi);
                    }
                    i += 1;
                }
                i += 1;
            }
        }
        if self.facts.rom_size.is_some() {
            let v = match self.resources[PCI_ROM_SLOT].filter(|r| r.start != 0) {
                Some(r) => self.vdword(PCI_ROM_ADDRESS) & (!(r.len - 1) as u32 | PCI_ROM_ADDRESS_ENABLE),
                None => 0,
            };
            self.set_vdword(PCI_ROM_ADDRESS, v);
        }
    }

    /// One note per BAR and for the ROM, on what `vfio_bar_fixup` made of them.
    fn bar_notes(&mut self) {
        let Some(sizes) = self.facts.bar_sizes else {
            self.note("BAR sizes not given: the BARs read as the device holds them (vfio_bar_fixup would mask their address bits by size and read 0 for BARs the host did not map)".into());
            self.rom_note();
            return;
        };
        let mut i = 0;
        while i < PCI_NUM_BARS {
            let off = PCI_BASE_ADDRESS_0 + 4 * i;
            let v = self.vdword(off);
            match self.resources[i] {
                Some(r) if r.start != 0 => {
                    self.note(format!("BAR{i} at {off:#x} reads {v:#010x}: address bits above its size {:#x} kept, flags from the resource (vfio_bar_fixup)", r.len));
                    i += if r.mem64 { 2 } else { 1 };
                    continue;
                }
                Some(_) => self.note(format!("BAR{i} at {off:#x} reads 0: its address is 0, so the host did not map it (vfio_bar_fixup)")),
                None if le::long(&self.hw, off) != 0 && sizes[i].unwrap_or(0) == 0 => self.note(format!("BAR{i} at {off:#x} reads 0: no resource of that size (vfio_bar_fixup: unmapped by host = unimplemented to user)")),
                None => {}
            }
            i += 1;
        }
        self.rom_note();
    }

    fn rom_note(&mut self) {
        let v = self.vdword(PCI_ROM_ADDRESS);
        match self.facts.rom_size {
            None => self.note("ROM size not given: the ROM BAR reads as the device holds it".into()),
            Some(len) if len != 0 && v != 0 => self.note(format!(
                "ROM BAR reads {v:#010x}: masked by its size {len:#x}, enable bit kept (vfio_bar_fixup)"
            )),
            Some(_) => {
                if le::long(&self.hw, PCI_ROM_ADDRESS) != 0 {
                    self.note("ROM BAR reads 0: the host has no ROM resource for it (vfio_bar_fixup)".into());
                }
            }
        }
    }
}
