//! The register map as data: for the header and each capability, its registers (offset, width,
//! name as the PCI spec names it, and the bit fields pcimig knows), built from the
//! [`regs`](crate::regs) constants. [`names`](crate::names) names a byte from it for `check`'s
//! locations; `show` and the HTML report look registers and fields up in it.
//!
//! ```
//! use pcimig_config::regmap::{self, Naming};
//! use pcimig_config::{CapId, ExtCapId, HeaderKind};
//! let r = regmap::header(HeaderKind::Type0).register_at(0x05).unwrap();
//! assert_eq!((r.offset, r.width, r.name), (0x04, 2, "Command"));
//! assert_eq!(r.field("BusMaster").unwrap().mask, 0x4);
//! let msix = regmap::std_cap(CapId::Msix, &[]).unwrap();
//! assert_eq!(msix.name_at(0x06), "Table Offset/BIR");
//! assert_eq!(regmap::ext_cap(ExtCapId::Vndr).unwrap().naming(0x10), Naming::Payload);
//! ```

use crate::header::HeaderKind;
use crate::ids::{CapId, ExtCapId};
use crate::le;
use crate::regs::*;

/// A bit field of a register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BitField {
    /// Name (pciutils' short name where lspci prints one).
    pub name: &'static str,
    /// The field's bits in the register's value.
    pub mask: u64,
}

impl BitField {
    /// The field's value in register value `v`, shifted down.
    pub fn get(&self, v: u64) -> u64 {
        (v & self.mask) >> self.mask.trailing_zeros().min(63)
    }
}

/// One register: `width` bytes at `offset` (from the header or from the capability start).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Register {
    /// Offset of its first byte.
    pub offset: usize,
    /// Width in bytes (a log or a vector can be wider than 8).
    pub width: usize,
    /// Name, as the PCI spec names it (what check locations print).
    pub name: &'static str,
    /// Bit fields, where known.
    pub fields: &'static [BitField],
}

impl Register {
    /// Byte `rel` is one of this register's.
    pub fn covers(&self, rel: usize) -> bool {
        (self.offset..self.offset + self.width).contains(&rel)
    }

    /// The bit field called `name`.
    pub fn field(&self, name: &str) -> Option<&'static BitField> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// What the bytes after the listed registers are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tail {
    /// Unnamed (`+0x1c`).
    None,
    /// Vendor-defined payload from this offset on (`+0x1c payload`).
    Payload(usize),
    /// One register from its offset to the end of the capability (ACS's egress control
    /// vector); its `width` is its minimum.
    Rest(&'static Register),
    /// `registers` repeated every `stride` bytes from `from` on (Resizable BAR entries).
    Repeat {
        /// First byte of the first entry.
        from: usize,
        /// Bytes per entry.
        stride: usize,
        /// The registers of one entry, offsets relative to the entry.
        registers: &'static [Register],
    },
}

/// The registers of a header or capability layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegisterMap {
    /// The layout's registers, by offset.
    pub registers: &'static [Register],
    /// The bytes after them.
    pub tail: Tail,
}

/// What byte `rel` of a layout is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Naming {
    /// A register; `base` is the offset of this instance (differs from `register.offset` in a
    /// repeated entry).
    Register {
        /// The register.
        register: &'static Register,
        /// Offset of this instance's first byte.
        base: usize,
    },
    /// Vendor-defined payload.
    Payload,
    /// Nothing known.
    Unnamed,
}

impl RegisterMap {
    /// The listed register covering byte `rel` (repeated entries not included).
    pub fn register_at(&self, rel: usize) -> Option<&'static Register> {
        self.registers.iter().find(|r| r.covers(rel))
    }

    /// The register called `name`.
    pub fn register(&self, name: &str) -> Option<&'static Register> {
        self.registers.iter().find(|r| r.name == name)
    }

    /// What byte `rel` is: a listed register, then the tail.
    pub fn naming(&self, rel: usize) -> Naming {
        if let Some(register) = self.register_at(rel) {
            return Naming::Register {
                register,
                base: register.offset,
            };
        }
        match self.tail {
            Tail::Payload(from) if rel >= from => Naming::Payload,
            Tail::Rest(register) if rel >= register.offset => Naming::Register {
                register,
                base: register.offset,
            },
            Tail::Repeat {
                from,
                stride,
                registers,
            } if rel >= from => {
                let entry = from + (rel - from) / stride * stride;
                registers
                    .iter()
                    .find(|r| r.covers(rel - entry))
                    .map_or(Naming::Unnamed, |register| Naming::Register {
                        register,
                        base: entry + register.offset,
                    })
            }
            _ => Naming::Unnamed,
        }
    }

    /// The name of byte `rel` as check locations print it: the register name, `+0x05 payload`
    /// or `+0x05`.
    pub fn name_at(&self, rel: usize) -> String {
        name_of(self.naming(rel), rel)
    }
}

/// A location string for `naming` of byte `rel`.
pub fn name_of(naming: Naming, rel: usize) -> String {
    match naming {
        Naming::Register { register, .. } => register.name.to_string(),
        Naming::Payload => format!("+0x{rel:02x} payload"),
        Naming::Unnamed => format!("+0x{rel:02x}"),
    }
}

const fn reg(offset: usize, width: usize, name: &'static str) -> Register {
    Register {
        offset,
        width,
        name,
        fields: &[],
    }
}

const fn regf(offset: usize, width: usize, name: &'static str, fields: &'static [BitField]) -> Register {
    Register {
        offset,
        width,
        name,
        fields,
    }
}

const fn bit(name: &'static str, mask: u64) -> BitField {
    BitField { name, mask }
}

const fn map(registers: &'static [Register]) -> RegisterMap {
    RegisterMap {
        registers,
        tail: Tail::None,
    }
}

// ---- header ------------------------------------------------------------------------------------

const COMMAND_FIELDS: &[BitField] = &[
    bit("I/O", PCI_COMMAND_IO as u64),
    bit("Mem", PCI_COMMAND_MEMORY as u64),
    bit("BusMaster", PCI_COMMAND_MASTER as u64),
    bit("SpecCycle", PCI_COMMAND_SPECIAL as u64),
    bit("MemWINV", PCI_COMMAND_INVALIDATE as u64),
    bit("VGASnoop", PCI_COMMAND_VGA_PALETTE as u64),
    bit("ParErr", PCI_COMMAND_PARITY as u64),
    bit("Stepping", PCI_COMMAND_WAIT as u64),
    bit("SERR", PCI_COMMAND_SERR as u64),
    bit("FastB2B", PCI_COMMAND_FAST_BACK as u64),
    bit("DisINTx", PCI_COMMAND_INTX_DISABLE as u64),
];

const STATUS_FIELDS: &[BitField] = &[
    bit("ImmReady", PCI_STATUS_IMM_READY as u64),
    bit("INTx", PCI_STATUS_INTERRUPT as u64),
    bit("Cap", PCI_STATUS_CAP_LIST as u64),
    bit("66MHz", PCI_STATUS_66MHZ as u64),
    bit("FastB2B", PCI_STATUS_FAST_BACK as u64),
    bit("ParErr", PCI_STATUS_PARITY as u64),
    bit("DEVSEL", PCI_STATUS_DEVSEL_MASK as u64),
    bit(">TAbort", PCI_STATUS_SIG_TARGET_ABORT as u64),
    bit("<TAbort", PCI_STATUS_REC_TARGET_ABORT as u64),
    bit("<MAbort", PCI_STATUS_REC_MASTER_ABORT as u64),
    bit(">SERR", PCI_STATUS_SIG_SYSTEM_ERROR as u64),
    bit("<PERR", PCI_STATUS_DETECTED_PARITY as u64),
];

const HEADER_TYPE_FIELDS: &[BitField] = &[
    bit("Layout", PCI_HEADER_TYPE_MASK as u64),
    bit("Multi-function", PCI_HEADER_TYPE_MULTI_FUNCTION as u64),
];

const BRIDGE_CONTROL_FIELDS: &[BitField] = &[
    bit("Parity", PCI_BRIDGE_CTL_PARITY as u64),
    bit("SERR", PCI_BRIDGE_CTL_SERR as u64),
    bit("NoISA", PCI_BRIDGE_CTL_ISA as u64),
    bit("VGA", PCI_BRIDGE_CTL_VGA as u64),
    bit("VGA16", PCI_BRIDGE_CTL_VGA_16BIT as u64),
    bit("MAbort", PCI_BRIDGE_CTL_MASTER_ABORT as u64),
    bit(">Reset", PCI_BRIDGE_CTL_BUS_RESET as u64),
    bit("FastB2B", PCI_BRIDGE_CTL_FAST_BACK as u64),
    bit("PriDiscTmr", PCI_BRIDGE_CTL_DISCARD as u64),
    bit("SecDiscTmr", PCI_BRIDGE_CTL_SEC_DISCARD as u64),
    bit("DiscTmrStat", PCI_BRIDGE_CTL_DISCARD_STATUS as u64),
    bit("DiscTmrSERREn", PCI_BRIDGE_CTL_DISCARD_SERR as u64),
];

/// The registers both header types share at 0x00..0x18.
const COMMON: [Register; 12] = [
    reg(PCI_VENDOR_ID, 2, "Vendor ID"),
    reg(PCI_DEVICE_ID, 2, "Device ID"),
    regf(PCI_COMMAND, 2, "Command", COMMAND_FIELDS),
    regf(PCI_STATUS, 2, "Status", STATUS_FIELDS),
    reg(PCI_REVISION_ID, 1, "Revision ID"),
    reg(PCI_CLASS_PROG, 3, "Class Code"),
    reg(PCI_CACHE_LINE_SIZE, 1, "Cache Line Size"),
    reg(PCI_LATENCY_TIMER, 1, "Latency Timer"),
    regf(PCI_HEADER_TYPE, 1, "Header Type", HEADER_TYPE_FIELDS),
    reg(PCI_BIST, 1, "BIST"),
    reg(PCI_BASE_ADDRESS_0, 4, "BAR0"),
    reg(PCI_BASE_ADDRESS_1, 4, "BAR1"),
];

/// Type 0 (endpoint) header.
pub const TYPE0_HEADER: RegisterMap = map(&[
    COMMON[0],
    COMMON[1],
    COMMON[2],
    COMMON[3],
    COMMON[4],
    COMMON[5],
    COMMON[6],
    COMMON[7],
    COMMON[8],
    COMMON[9],
    COMMON[10],
    COMMON[11],
    reg(PCI_BASE_ADDRESS_2, 4, "BAR2"),
    reg(PCI_BASE_ADDRESS_3, 4, "BAR3"),
    reg(PCI_BASE_ADDRESS_4, 4, "BAR4"),
    reg(PCI_BASE_ADDRESS_5, 4, "BAR5"),
    reg(PCI_CARDBUS_CIS, 4, "CardBus CIS Pointer"),
    reg(PCI_SUBSYSTEM_VENDOR_ID, 2, "Subsystem Vendor ID"),
    reg(PCI_SUBSYSTEM_ID, 2, "Subsystem ID"),
    reg(PCI_ROM_ADDRESS, 4, "Expansion ROM Base Address"),
    reg(PCI_CAPABILITY_LIST, 1, "Capabilities Pointer"),
    reg(
        PCI_CAPABILITY_LIST + 1,
        PCI_INTERRUPT_LINE - PCI_CAPABILITY_LIST - 1,
        "Reserved",
    ),
    reg(PCI_INTERRUPT_LINE, 1, "Interrupt Line"),
    reg(PCI_INTERRUPT_PIN, 1, "Interrupt Pin"),
    reg(PCI_MIN_GNT, 1, "Min_Gnt"),
    reg(PCI_MAX_LAT, 1, "Max_Lat"),
]);

/// Type 1 (PCI-to-PCI bridge) header.
pub const TYPE1_HEADER: RegisterMap = map(&[
    COMMON[0],
    COMMON[1],
    COMMON[2],
    COMMON[3],
    COMMON[4],
    COMMON[5],
    COMMON[6],
    COMMON[7],
    COMMON[8],
    COMMON[9],
    COMMON[10],
    COMMON[11],
    reg(PCI_PRIMARY_BUS, 1, "Primary Bus Number"),
    reg(PCI_SECONDARY_BUS, 1, "Secondary Bus Number"),
    reg(PCI_SUBORDINATE_BUS, 1, "Subordinate Bus Number"),
    reg(PCI_SEC_LATENCY_TIMER, 1, "Secondary Latency Timer"),
    reg(PCI_IO_BASE, 1, "I/O Base"),
    reg(PCI_IO_LIMIT, 1, "I/O Limit"),
    regf(PCI_SEC_STATUS, 2, "Secondary Status", STATUS_FIELDS),
    reg(PCI_MEMORY_BASE, 2, "Memory Base"),
    reg(PCI_MEMORY_LIMIT, 2, "Memory Limit"),
    reg(PCI_PREF_MEMORY_BASE, 2, "Prefetchable Memory Base"),
    reg(PCI_PREF_MEMORY_LIMIT, 2, "Prefetchable Memory Limit"),
    reg(PCI_PREF_BASE_UPPER32, 4, "Prefetchable Base Upper 32 Bits"),
    reg(PCI_PREF_LIMIT_UPPER32, 4, "Prefetchable Limit Upper 32 Bits"),
    reg(PCI_IO_BASE_UPPER16, 2, "I/O Base Upper 16 Bits"),
    reg(PCI_IO_LIMIT_UPPER16, 2, "I/O Limit Upper 16 Bits"),
    reg(PCI_CAPABILITY_LIST, 1, "Capabilities Pointer"),
    reg(
        PCI_CAPABILITY_LIST + 1,
        PCI_ROM_ADDRESS1 - PCI_CAPABILITY_LIST - 1,
        "Reserved",
    ),
    reg(PCI_ROM_ADDRESS1, 4, "Expansion ROM Base Address"),
    reg(PCI_INTERRUPT_LINE, 1, "Interrupt Line"),
    reg(PCI_INTERRUPT_PIN, 1, "Interrupt Pin"),
    regf(PCI_BRIDGE_CONTROL, 2, "Bridge Control", BRIDGE_CONTROL_FIELDS),
]);

/// The header map of a header layout.
pub fn header(kind: HeaderKind) -> &'static RegisterMap {
    match kind {
        HeaderKind::Type0 => &TYPE0_HEADER,
        HeaderKind::Type1 => &TYPE1_HEADER,
    }
}

// ---- standard capabilities -----------------------------------------------------------------------

/// The two bytes every standard capability starts with.
pub const STD_CAP_HEADER: RegisterMap = map(&[
    reg(PCI_CAP_LIST_ID, 1, "Capability ID"),
    reg(PCI_CAP_LIST_NEXT, 1, "Next Pointer"),
]);

const PMCSR_FIELDS: &[BitField] = &[
    bit("PowerState", PCI_PM_CTRL_STATE_MASK as u64),
    bit("NoSoftRst", PCI_PM_CTRL_NO_SOFT_RESET as u64),
    bit("PME-Enable", PCI_PM_CTRL_PME_ENABLE as u64),
    bit("DSel", PCI_PM_CTRL_DATA_SEL_MASK as u64),
    bit("DScale", PCI_PM_CTRL_DATA_SCALE_MASK as u64),
    bit("PME", PCI_PM_CTRL_PME_STATUS as u64),
];

/// Power Management (ID 0x01).
pub const PM_CAP: RegisterMap = map(&[
    regf(
        PCI_PM_PMC,
        2,
        "PMC",
        &[bit("D1", PCI_PM_CAP_D1 as u64), bit("D2", PCI_PM_CAP_D2 as u64)],
    ),
    regf(PCI_PM_CTRL, 2, "PMCSR", PMCSR_FIELDS),
    reg(PCI_PM_PPB_EXTENSIONS, 1, "PMCSR_BSE"),
    reg(PCI_PM_DATA_REGISTER, 1, "Data"),
]);

const MSI_FLAGS_FIELDS: &[BitField] = &[
    bit("Enable", PCI_MSI_FLAGS_ENABLE as u64),
    bit("Multiple Message Capable", PCI_MSI_FLAGS_QMASK as u64),
    bit("Multiple Message Enable", PCI_MSI_FLAGS_QSIZE as u64),
    bit("64bit", PCI_MSI_FLAGS_64BIT as u64),
    bit("Maskable", PCI_MSI_FLAGS_MASKBIT as u64),
];

const MSI_FLAGS: Register = regf(PCI_MSI_FLAGS, 2, "Message Control", MSI_FLAGS_FIELDS);
const MSI_ADDRESS: Register = reg(PCI_MSI_ADDRESS_LO, 4, "Message Address");

/// MSI (ID 0x05), 32-bit addresses, no per-vector masking.
pub const MSI_CAP_32: RegisterMap = map(&[
    MSI_FLAGS,
    MSI_ADDRESS,
    reg(PCI_MSI_DATA_32, 2, "Message Data"),
    reg(PCI_MSI_DATA_32 + 2, 2, "Extended Message Data"),
]);

/// MSI, 32-bit addresses, per-vector masking.
pub const MSI_CAP_32_MASK: RegisterMap = map(&[
    MSI_FLAGS,
    MSI_ADDRESS,
    reg(PCI_MSI_DATA_32, 2, "Message Data"),
    reg(PCI_MSI_DATA_32 + 2, 2, "Extended Message Data"),
    reg(PCI_MSI_MASK_32, 4, "Mask Bits"),
    reg(PCI_MSI_PENDING_32, 4, "Pending Bits"),
]);

/// MSI, 64-bit addresses, no per-vector masking.
pub const MSI_CAP_64: RegisterMap = map(&[
    MSI_FLAGS,
    MSI_ADDRESS,
    reg(PCI_MSI_ADDRESS_HI, 4, "Message Upper Address"),
    reg(PCI_MSI_DATA_64, 2, "Message Data"),
    reg(PCI_MSI_DATA_64 + 2, 2, "Extended Message Data"),
]);

/// MSI, 64-bit addresses, per-vector masking.
pub const MSI_CAP_64_MASK: RegisterMap = map(&[
    MSI_FLAGS,
    MSI_ADDRESS,
    reg(PCI_MSI_ADDRESS_HI, 4, "Message Upper Address"),
    reg(PCI_MSI_DATA_64, 2, "Message Data"),
    reg(PCI_MSI_DATA_64 + 2, 2, "Extended Message Data"),
    reg(PCI_MSI_MASK_64, 4, "Mask Bits"),
    reg(PCI_MSI_PENDING_64, 4, "Pending Bits"),
]);

/// The MSI layout of Message Control `flags`.
pub fn msi_cap(flags: u16) -> &'static RegisterMap {
    match (flags & PCI_MSI_FLAGS_64BIT != 0, flags & PCI_MSI_FLAGS_MASKBIT != 0) {
        (false, false) => &MSI_CAP_32,
        (false, true) => &MSI_CAP_32_MASK,
        (true, false) => &MSI_CAP_64,
        (true, true) => &MSI_CAP_64_MASK,
    }
}

const BIR_FIELDS: &[BitField] = &[
    bit("BIR", PCI_MSIX_FLAGS_BIRMASK as u64),
    bit("Offset", !PCI_MSIX_FLAGS_BIRMASK as u64),
];

/// MSI-X (ID 0x11).
pub const MSIX_CAP: RegisterMap = map(&[
    regf(
        PCI_MSIX_FLAGS,
        2,
        "Message Control",
        &[
            bit("Table Size", PCI_MSIX_FLAGS_QSIZE as u64),
            bit("Masked", PCI_MSIX_FLAGS_MASKALL as u64),
            bit("Enable", PCI_MSIX_FLAGS_ENABLE as u64),
        ],
    ),
    regf(PCI_MSIX_TABLE, 4, "Table Offset/BIR", BIR_FIELDS),
    regf(PCI_MSIX_PBA, 4, "PBA Offset/BIR", BIR_FIELDS),
]);

/// Vendor Specific (ID 0x09): a length byte, then the vendor's payload.
pub const VNDR_CAP: RegisterMap = RegisterMap {
    registers: &[reg(PCI_VNDR_CAP_LEN, 1, "Length")],
    tail: Tail::Payload(PCI_VNDR_CAP_HEADER_SIZEOF),
};

/// Bridge subsystem vendor ID (ID 0x0d).
pub const SSVID_CAP: RegisterMap = map(&[
    reg(PCI_SSVID_VENDOR_ID, 2, "Subsystem Vendor ID"),
    reg(PCI_SSVID_DEVICE_ID, 2, "Subsystem ID"),
]);

/// PCI Advanced Features (ID 0x13).
pub const AF_CAP: RegisterMap = map(&[
    reg(PCI_AF_LENGTH, 1, "Length"),
    reg(PCI_AF_CAP, 1, "AF Capabilities"),
    reg(PCI_AF_CTRL, 1, "AF Control"),
    reg(PCI_AF_STATUS, 1, "AF Status"),
]);

/// Vital Product Data (ID 0x03).
pub const VPD_CAP: RegisterMap = map(&[reg(PCI_VPD_ADDR, 2, "VPD Address"), reg(PCI_VPD_DATA, 4, "VPD Data")]);

const EXP_FLAGS_FIELDS: &[BitField] = &[
    bit("Version", PCI_EXP_FLAGS_VERS as u64),
    bit("Type", PCI_EXP_FLAGS_TYPE as u64),
    bit("Slot", PCI_EXP_FLAGS_SLOT as u64),
    bit("IntMsgNum", PCI_EXP_FLAGS_IRQ as u64),
];

const DEVCAP_FIELDS: &[BitField] = &[
    bit("MaxPayload", PCI_EXP_DEVCAP_PAYLOAD as u64),
    bit("PhantFunc", PCI_EXP_DEVCAP_PHANTOM as u64),
    bit("ExtTag", PCI_EXP_DEVCAP_EXT_TAG as u64),
    bit("L0s", PCI_EXP_DEVCAP_L0S as u64),
    bit("L1", PCI_EXP_DEVCAP_L1 as u64),
    bit("RBE", PCI_EXP_DEVCAP_RBER as u64),
    bit("SlotPowerLimitValue", PCI_EXP_DEVCAP_PWR_VAL as u64),
    bit("SlotPowerLimitScale", PCI_EXP_DEVCAP_PWR_SCL as u64),
    bit("FLReset", PCI_EXP_DEVCAP_FLR as u64),
];

const DEVCTL_FIELDS: &[BitField] = &[
    bit("CorrErr", PCI_EXP_DEVCTL_CERE as u64),
    bit("NonFatalErr", PCI_EXP_DEVCTL_NFERE as u64),
    bit("FatalErr", PCI_EXP_DEVCTL_FERE as u64),
    bit("UnsupReq", PCI_EXP_DEVCTL_URRE as u64),
    bit("RlxdOrd", PCI_EXP_DEVCTL_RELAX_EN as u64),
    bit("MaxPayload", PCI_EXP_DEVCTL_PAYLOAD as u64),
    bit("ExtTag", PCI_EXP_DEVCTL_EXT_TAG as u64),
    bit("PhantFunc", PCI_EXP_DEVCTL_PHANTOM as u64),
    bit("AuxPwr", PCI_EXP_DEVCTL_AUX_PME as u64),
    bit("NoSnoop", PCI_EXP_DEVCTL_NOSNOOP_EN as u64),
    bit("MaxReadReq", PCI_EXP_DEVCTL_READRQ as u64),
    bit("BrConfRtry/FLReset", PCI_EXP_DEVCTL_BCR_FLR as u64),
];

const DEVSTA_FIELDS: &[BitField] = &[
    bit("Errors", PCI_EXP_DEVSTA_ERRORS as u64),
    bit("AuxPwr", PCI_EXP_DEVSTA_AUXPD as u64),
    bit("TransPend", PCI_EXP_DEVSTA_TRPND as u64),
];

const LNKCAP_FIELDS: &[BitField] = &[
    bit("Speed", PCI_EXP_LNKCAP_SLS as u64),
    bit("Width", PCI_EXP_LNKCAP_MLW as u64),
    bit("ASPM", PCI_EXP_LNKCAP_ASPMS as u64),
    bit("LLActRep", PCI_EXP_LNKCAP_DLLLARC as u64),
    bit("BwNot", PCI_EXP_LNKCAP_LBNC as u64),
    bit("Port", PCI_EXP_LNKCAP_PN as u64),
];

const LNKCTL_FIELDS: &[BitField] = &[
    bit("ASPM", PCI_EXP_LNKCTL_ASPMC as u64),
    bit("RCB", PCI_EXP_LNKCTL_RCB as u64),
    bit("Disabled", PCI_EXP_LNKCTL_LD as u64),
    bit("Retrain", PCI_EXP_LNKCTL_RL as u64),
    bit("CommClk", PCI_EXP_LNKCTL_CCC as u64),
    bit("ExtSynch", PCI_EXP_LNKCTL_ES as u64),
];

const LNKSTA_FIELDS: &[BitField] = &[
    bit("Speed", PCI_EXP_LNKSTA_CLS as u64),
    bit("Width", PCI_EXP_LNKSTA_NLW as u64),
    bit("Train", PCI_EXP_LNKSTA_LT as u64),
    bit("SlotClk", PCI_EXP_LNKSTA_SLC as u64),
    bit("DLActive", PCI_EXP_LNKSTA_DLLLA as u64),
];

const SLTCAP_FIELDS: &[BitField] = &[
    bit("AttnBtn", PCI_EXP_SLTCAP_ABP as u64),
    bit("PwrCtrl", PCI_EXP_SLTCAP_PCP as u64),
    bit("MRL", PCI_EXP_SLTCAP_MRLSP as u64),
    bit("AttnInd", PCI_EXP_SLTCAP_AIP as u64),
    bit("PwrInd", PCI_EXP_SLTCAP_PIP as u64),
    bit("Surprise", PCI_EXP_SLTCAP_HPS as u64),
    bit("HotPlug", PCI_EXP_SLTCAP_HPC as u64),
    bit("Interlock", PCI_EXP_SLTCAP_EIP as u64),
    bit("NoCompl", PCI_EXP_SLTCAP_NCCS as u64),
    bit("Slot #", PCI_EXP_SLTCAP_PSN as u64),
];

const SLTCTL_FIELDS: &[BitField] = &[
    bit("AttnInd", PCI_EXP_SLTCTL_AIC as u64),
    bit("PwrInd", PCI_EXP_SLTCTL_PIC as u64),
    bit("PwrCtrl", PCI_EXP_SLTCTL_PCC as u64),
];

const SLTSTA_FIELDS: &[BitField] = &[
    bit("AttnBtn", PCI_EXP_SLTSTA_ABP as u64),
    bit("PowerFlt", PCI_EXP_SLTSTA_PFD as u64),
    bit("MRL", PCI_EXP_SLTSTA_MRLSC as u64),
    bit("PresDet", PCI_EXP_SLTSTA_PDC as u64),
    bit("CmdCplt", PCI_EXP_SLTSTA_CC as u64),
    bit("PresDetState", PCI_EXP_SLTSTA_PDS as u64),
    bit("DLLStateChg", PCI_EXP_SLTSTA_DLLSC as u64),
];

/// PCI Express (ID 0x10), v2 layout (a v1 capability ends at PCI_EXP_VER1_SIZEOF).
pub const EXP_CAP: RegisterMap = map(&[
    regf(PCI_EXP_FLAGS, 2, "PCIe Capabilities", EXP_FLAGS_FIELDS),
    regf(PCI_EXP_DEVCAP, 4, "Device Capabilities", DEVCAP_FIELDS),
    regf(PCI_EXP_DEVCTL, 2, "Device Control", DEVCTL_FIELDS),
    regf(PCI_EXP_DEVSTA, 2, "Device Status", DEVSTA_FIELDS),
    regf(PCI_EXP_LNKCAP, 4, "Link Capabilities", LNKCAP_FIELDS),
    regf(PCI_EXP_LNKCTL, 2, "Link Control", LNKCTL_FIELDS),
    regf(PCI_EXP_LNKSTA, 2, "Link Status", LNKSTA_FIELDS),
    regf(PCI_EXP_SLTCAP, 4, "Slot Capabilities", SLTCAP_FIELDS),
    regf(PCI_EXP_SLTCTL, 2, "Slot Control", SLTCTL_FIELDS),
    regf(PCI_EXP_SLTSTA, 2, "Slot Status", SLTSTA_FIELDS),
    reg(PCI_EXP_RTCTL, 2, "Root Control"),
    reg(PCI_EXP_RTCAP, 2, "Root Capabilities"),
    reg(PCI_EXP_RTSTA, 4, "Root Status"),
    regf(
        PCI_EXP_DEVCAP2,
        4,
        "Device Capabilities 2",
        &[
            bit("ARIFwd", PCI_EXP_DEVCAP2_ARI as u64),
            bit("ExtFmt", PCI_EXP_DEVCAP2_EFF as u64),
            bit("EETLPPrefix", PCI_EXP_DEVCAP2_EETLPP as u64),
        ],
    ),
    regf(
        PCI_EXP_DEVCTL2,
        2,
        "Device Control 2",
        &[
            bit("ARIFwd", PCI_EXP_DEVCTL2_ARI as u64),
            bit("EETLPPrefixBlk", PCI_EXP_DEVCTL2_EETLPPB as u64),
        ],
    ),
    reg(PCI_EXP_DEVSTA2, 2, "Device Status 2"),
    regf(
        PCI_EXP_LNKCAP2,
        4,
        "Link Capabilities 2",
        &[bit("Supported Link Speeds", PCI_EXP_LNKCAP2_SLS as u64)],
    ),
    regf(
        PCI_EXP_LNKCTL2,
        2,
        "Link Control 2",
        &[bit("Target Link Speed", PCI_EXP_LNKCTL2_TLS as u64)],
    ),
    reg(PCI_EXP_LNKSTA2, 2, "Link Status 2"),
    reg(PCI_EXP_SLTCAP2, 4, "Slot Capabilities 2"),
    reg(PCI_EXP_SLTCTL2, 2, "Slot Control 2"),
    reg(PCI_EXP_SLTSTA2, 2, "Slot Status 2"),
]);

/// The layout of a standard capability with ID `id` (`cap`: its bytes from the header on, which
/// decide the MSI layout), or `None` for one pcimig has no register names for. The two header
/// bytes are in [`STD_CAP_HEADER`].
pub fn std_cap(id: CapId, cap: &[u8]) -> Option<&'static RegisterMap> {
    Some(match id {
        CapId::Pm => &PM_CAP,
        CapId::Msi => msi_cap(le::u16_at(cap, PCI_MSI_FLAGS).unwrap_or(0)),
        CapId::Msix => &MSIX_CAP,
        CapId::Exp => &EXP_CAP,
        CapId::Vndr => &VNDR_CAP,
        CapId::Ssvid => &SSVID_CAP,
        CapId::Af => &AF_CAP,
        CapId::Vpd => &VPD_CAP,
        _ => return None,
    })
}

/// What byte `rel` of a standard capability with ID `id` is (`cap` as for [`std_cap`]).
pub fn std_cap_naming(id: CapId, rel: usize, cap: &[u8]) -> Naming {
    match STD_CAP_HEADER.naming(rel) {
        Naming::Unnamed => std_cap(id, cap).map_or(Naming::Unnamed, |m| m.naming(rel)),
        named => named,
    }
}

// ---- extended capabilities -------------------------------------------------------------------------

/// The header dword every extended capability starts with.
pub const EXT_CAP_HEADER: RegisterMap = map(&[regf(
    0,
    PCI_EXT_CAP_HEADER_SIZEOF,
    "Extended Capability Header",
    &[
        bit("ID", 0xffff),
        bit("Version", 0xf << PCI_EXT_CAP_VER_SHIFT),
        bit("Next", 0xfff << PCI_EXT_CAP_NEXT_SHIFT),
    ],
)]);

const AER_CAP_FIELDS: &[BitField] = &[
    bit("GenCap", PCI_ERR_CAP_ECRC_GENC as u64),
    bit("CGenEn", PCI_ERR_CAP_ECRC_GENE as u64),
    bit("ChkCap", PCI_ERR_CAP_ECRC_CHKC as u64),
    bit("ChkEn", PCI_ERR_CAP_ECRC_CHKE as u64),
    bit("MultHdrRecCap", PCI_ERR_CAP_MHRC as u64),
    bit("MultHdrRecEn", PCI_ERR_CAP_MHRE as u64),
];

/// Advanced Error Reporting (ID 0x0001).
pub const AER_CAP: RegisterMap = map(&[
    reg(PCI_ERR_UNCOR_STATUS, 4, "Uncorrectable Error Status"),
    reg(PCI_ERR_UNCOR_MASK, 4, "Uncorrectable Error Mask"),
    reg(PCI_ERR_UNCOR_SEVER, 4, "Uncorrectable Error Severity"),
    reg(PCI_ERR_COR_STATUS, 4, "Correctable Error Status"),
    reg(PCI_ERR_COR_MASK, 4, "Correctable Error Mask"),
    regf(
        PCI_ERR_CAP,
        4,
        "Advanced Error Capabilities and Control",
        AER_CAP_FIELDS,
    ),
    reg(PCI_ERR_HEADER_LOG, PCI_ERR_HEADER_LOG_SIZE, "Header Log"),
    regf(
        PCI_ERR_ROOT_COMMAND,
        4,
        "Root Error Command",
        &[bit("Enables", PCI_ERR_ROOT_CMD_EN_MASK as u64)],
    ),
    regf(
        PCI_ERR_ROOT_STATUS,
        4,
        "Root Error Status",
        &[
            bit("Reports", PCI_ERR_ROOT_STATUS_REPORT_MASK as u64),
            bit("IntMsgNum", PCI_ERR_ROOT_IRQ as u64),
        ],
    ),
    reg(PCI_ERR_ROOT_ERR_SRC, 4, "Error Source Identification"),
    reg(PCI_ERR_TLP_PREFIX_LOG, PCI_ERR_TLP_PREFIX_LOG_SIZE, "TLP Prefix Log"),
]);

/// Device Serial Number (ID 0x0003).
pub const DSN_CAP: RegisterMap = map(&[reg(PCI_DSN_SERIAL, 8, "Serial Number")]);

/// Vendor-Specific Extended Capability (ID 0x000b): the VSEC header, then the payload.
pub const VSEC_CAP: RegisterMap = RegisterMap {
    registers: &[reg(PCI_VNDR_HEADER, 4, "VSEC Header")],
    tail: Tail::Payload(PCI_VNDR_PAYLOAD),
};

/// Designated Vendor-Specific (ID 0x0023): two DVSEC headers, then the payload.
pub const DVSEC_CAP: RegisterMap = RegisterMap {
    registers: &[
        reg(PCI_DVSEC_HEADER1, 4, "DVSEC Header 1"),
        reg(PCI_DVSEC_HEADER2, 2, "DVSEC Header 2"),
    ],
    tail: Tail::Payload(PCI_DVSEC_PAYLOAD),
};

const ACS_EGRESS_CONTROL_VECTOR: Register = reg(PCI_ACS_EGRESS_CTL_V, 4, "Egress Control Vector");

/// Access Control Services (ID 0x000d); the egress control vector runs to the end.
pub const ACS_CAP: RegisterMap = RegisterMap {
    registers: &[
        reg(PCI_ACS_CAP, 2, "ACS Capability"),
        reg(PCI_ACS_CTRL, 2, "ACS Control"),
    ],
    tail: Tail::Rest(&ACS_EGRESS_CONTROL_VECTOR),
};

/// Alternative Routing-ID Interpretation (ID 0x000e).
pub const ARI_CAP: RegisterMap = map(&[
    regf(
        PCI_ARI_CAP,
        2,
        "ARI Capability",
        &[bit("NextFunc", 0xff << PCI_ARI_CAP_NFN_SHIFT)],
    ),
    reg(PCI_ARI_CTRL, 2, "ARI Control"),
]);

/// Address Translation Services (ID 0x000f).
pub const ATS_CAP: RegisterMap = map(&[
    regf(
        PCI_ATS_CAP,
        2,
        "ATS Capability",
        &[bit("PageAligned", PCI_ATS_CAP_PAGE_ALIGNED as u64)],
    ),
    regf(
        PCI_ATS_CTRL,
        2,
        "ATS Control",
        &[bit("Enable", PCI_ATS_CTRL_ENABLE as u64)],
    ),
]);

/// Single Root I/O Virtualization (ID 0x0010).
pub const SRIOV_CAP: RegisterMap = map(&[
    reg(PCI_SRIOV_CAP, 4, "SR-IOV Capabilities"),
    reg(PCI_SRIOV_CTRL, 2, "SR-IOV Control"),
    reg(PCI_SRIOV_STATUS, 2, "SR-IOV Status"),
    reg(PCI_SRIOV_INITIAL_VF, 2, "InitialVFs"),
    reg(PCI_SRIOV_TOTAL_VF, 2, "TotalVFs"),
    reg(PCI_SRIOV_NUM_VF, 2, "NumVFs"),
    reg(PCI_SRIOV_FUNC_LINK, 1, "Function Dependency Link"),
    reg(PCI_SRIOV_VF_OFFSET, 2, "First VF Offset"),
    reg(PCI_SRIOV_VF_STRIDE, 2, "VF Stride"),
    reg(PCI_SRIOV_VF_DID, 2, "VF Device ID"),
    reg(PCI_SRIOV_SUP_PGSIZE, 4, "Supported Page Sizes"),
    reg(PCI_SRIOV_SYS_PGSIZE, 4, "System Page Size"),
    reg(PCI_SRIOV_BAR, 4 * PCI_NUM_BARS, "VF BARs"),
    reg(PCI_SRIOV_VFM, 4, "VF Migration State Array Offset"),
]);

/// Resizable BAR (ID 0x0015): capability and control registers, one pair per BAR.
pub const REBAR_CAP: RegisterMap = RegisterMap {
    registers: &[],
    tail: Tail::Repeat {
        from: PCI_REBAR_CAP,
        stride: PCI_REBAR_ENTRY_SIZEOF,
        registers: &[
            reg(0, 4, "Resizable BAR Capability"),
            regf(
                PCI_REBAR_CTRL - PCI_REBAR_CAP,
                4,
                "Resizable BAR Control",
                &[
                    bit("BAR Index", PCI_REBAR_CTRL_BAR_IDX as u64),
                    bit("Number of BARs", PCI_REBAR_CTRL_NBAR_MASK as u64),
                    bit("BAR Size", PCI_REBAR_CTRL_BAR_SIZE as u64),
                ],
            ),
        ],
    },
};

/// Process Address Space ID (ID 0x001b).
pub const PASID_CAP: RegisterMap = map(&[
    reg(PCI_PASID_CAP, 2, "PASID Capability"),
    reg(PCI_PASID_CTRL, 2, "PASID Control"),
]);

/// Page Request Interface (ID 0x0013).
pub const PRI_CAP: RegisterMap = map(&[
    reg(PCI_PRI_CTRL, 2, "PRI Control"),
    reg(PCI_PRI_STATUS, 2, "PRI Status"),
    reg(PCI_PRI_MAX_REQ, 4, "Outstanding Page Request Capacity"),
    reg(PCI_PRI_ALLOC_REQ, 4, "Outstanding Page Request Allocation"),
]);

/// Latency Tolerance Reporting (ID 0x0018).
pub const LTR_CAP: RegisterMap = map(&[
    reg(PCI_LTR_MAX_SNOOP_LAT, 2, "Max Snoop Latency"),
    reg(PCI_LTR_MAX_NOSNOOP_LAT, 2, "Max No-Snoop Latency"),
]);

/// L1 PM Substates (ID 0x001e).
pub const L1SS_CAP: RegisterMap = map(&[
    reg(PCI_L1SS_CAP, 4, "L1 PM Substates Capabilities"),
    reg(PCI_L1SS_CTL1, 4, "L1 PM Substates Control 1"),
    reg(PCI_L1SS_CTL2, 4, "L1 PM Substates Control 2"),
]);

/// The layout of an extended capability with ID `id`, or `None` for one pcimig has no register
/// names for. The header dword is in [`EXT_CAP_HEADER`].
pub fn ext_cap(id: ExtCapId) -> Option<&'static RegisterMap> {
    Some(match id {
        ExtCapId::Err => &AER_CAP,
        ExtCapId::Dsn => &DSN_CAP,
        ExtCapId::Vndr => &VSEC_CAP,
        ExtCapId::Dvsec => &DVSEC_CAP,
        ExtCapId::Acs => &ACS_CAP,
        ExtCapId::Ari => &ARI_CAP,
        ExtCapId::Ats => &ATS_CAP,
        ExtCapId::Sriov => &SRIOV_CAP,
        ExtCapId::Rebar => &REBAR_CAP,
        ExtCapId::Pasid => &PASID_CAP,
        ExtCapId::Pri => &PRI_CAP,
        ExtCapId::Ltr => &LTR_CAP,
        ExtCapId::L1ss => &L1SS_CAP,
        _ => return None,
    })
}

/// What byte `rel` of an extended capability with ID `id` is.
pub fn ext_cap_naming(id: ExtCapId, rel: usize) -> Naming {
    match EXT_CAP_HEADER.naming(rel) {
        Naming::Unnamed => ext_cap(id).map_or(Naming::Unnamed, |m| m.naming(rel)),
        named => named,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Registers of a layout do not overlap and are listed by offset.
    #[test]
    fn layouts_are_sorted_and_disjoint() {
        let all = [
            &TYPE0_HEADER,
            &TYPE1_HEADER,
            &PM_CAP,
            &MSI_CAP_32,
            &MSI_CAP_32_MASK,
            &MSI_CAP_64,
            &MSI_CAP_64_MASK,
            &MSIX_CAP,
            &EXP_CAP,
            &AER_CAP,
            &SRIOV_CAP,
            &DVSEC_CAP,
            &ACS_CAP,
        ];
        for m in all {
            for w in m.registers.windows(2) {
                assert!(w[0].offset + w[0].width <= w[1].offset, "{:?} / {:?}", w[0], w[1]);
            }
        }
        let covered: usize = TYPE0_HEADER.registers.iter().map(|r| r.width).sum();
        assert_eq!(
            covered, PCI_CONFIG_HEADER_SIZE,
            "the type 0 map names every header byte"
        );
    }

    #[test]
    fn tails_name_payloads_vectors_and_repeated_entries() {
        assert_eq!(VNDR_CAP.name_at(2), "Length");
        assert_eq!(VNDR_CAP.name_at(3), "+0x03 payload");
        assert_eq!(ACS_CAP.name_at(0x20), "Egress Control Vector");
        assert_eq!(REBAR_CAP.name_at(0x0c), "Resizable BAR Capability");
        assert_eq!(REBAR_CAP.name_at(0x13), "Resizable BAR Control");
        assert_eq!(SRIOV_CAP.name_at(0x13), "+0x13");
        let Naming::Register { base, .. } = REBAR_CAP.naming(0x15) else {
            panic!("a ReBAR control register");
        };
        assert_eq!(base, 0x14);
        let f = EXP_CAP.register("Slot Capabilities").unwrap().field("Slot #").unwrap();
        assert_eq!(f.get(0x0028_0000), 5);
    }
}
