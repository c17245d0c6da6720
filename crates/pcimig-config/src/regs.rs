//! Register offsets and bit values, named as in Linux `include/uapi/linux/pci_regs.h` (which QEMU
//! uses too), so that an engineer who knows either finds them under the same name.
//!
//! Offsets inside a capability are relative to the capability's start.

/// Size of a conventional PCI configuration space.
pub const PCI_CONFIG_SPACE_SIZE: usize = 0x100;
/// Size of a PCI Express configuration space.
pub const PCIE_CONFIG_SPACE_SIZE: usize = 0x1000;
/// Size of the standard header (type 0 and type 1).
pub const PCI_CONFIG_HEADER_SIZE: usize = 0x40;

// ---- Common header -------------------------------------------------------------------------
/// Vendor ID (16 bits).
pub const PCI_VENDOR_ID: usize = 0x00;
/// Device ID (16 bits).
pub const PCI_DEVICE_ID: usize = 0x02;
/// Command register (16 bits).
pub const PCI_COMMAND: usize = 0x04;
/// Status register (16 bits).
pub const PCI_STATUS: usize = 0x06;
/// Revision ID.
pub const PCI_REVISION_ID: usize = 0x08;
/// Programming interface (low byte of the class code).
pub const PCI_CLASS_PROG: usize = 0x09;
/// Device class: sub class (0x0a) and base class (0x0b).
pub const PCI_CLASS_DEVICE: usize = 0x0a;
/// Cache line size.
pub const PCI_CACHE_LINE_SIZE: usize = 0x0c;
/// Latency timer.
pub const PCI_LATENCY_TIMER: usize = 0x0d;
/// Header type (bit 7: multi-function).
pub const PCI_HEADER_TYPE: usize = 0x0e;
/// Built-in self test.
pub const PCI_BIST: usize = 0x0f;
/// First base address register.
pub const PCI_BASE_ADDRESS_0: usize = 0x10;
/// Second base address register.
pub const PCI_BASE_ADDRESS_1: usize = 0x14;
/// Third base address register (type 0).
pub const PCI_BASE_ADDRESS_2: usize = 0x18;
/// Fourth base address register (type 0).
pub const PCI_BASE_ADDRESS_3: usize = 0x1c;
/// Fifth base address register (type 0).
pub const PCI_BASE_ADDRESS_4: usize = 0x20;
/// Last base address register (type 0).
pub const PCI_BASE_ADDRESS_5: usize = 0x24;
/// CardBus CIS pointer (type 0).
pub const PCI_CARDBUS_CIS: usize = 0x28;
/// Subsystem vendor ID (type 0).
pub const PCI_SUBSYSTEM_VENDOR_ID: usize = 0x2c;
/// Subsystem ID (type 0).
pub const PCI_SUBSYSTEM_ID: usize = 0x2e;
/// Expansion ROM base address (type 0).
pub const PCI_ROM_ADDRESS: usize = 0x30;
/// Capabilities pointer.
pub const PCI_CAPABILITY_LIST: usize = 0x34;
/// Interrupt line.
pub const PCI_INTERRUPT_LINE: usize = 0x3c;
/// Interrupt pin.
pub const PCI_INTERRUPT_PIN: usize = 0x3d;
/// Min_Gnt (type 0).
pub const PCI_MIN_GNT: usize = 0x3e;
/// Max_Lat (type 0).
pub const PCI_MAX_LAT: usize = 0x3f;

// ---- Type 1 (bridge) header ----------------------------------------------------------------
/// Primary bus number.
pub const PCI_PRIMARY_BUS: usize = 0x18;
/// Secondary bus number.
pub const PCI_SECONDARY_BUS: usize = 0x19;
/// Subordinate bus number.
pub const PCI_SUBORDINATE_BUS: usize = 0x1a;
/// Secondary latency timer.
pub const PCI_SEC_LATENCY_TIMER: usize = 0x1b;
/// I/O base.
pub const PCI_IO_BASE: usize = 0x1c;
/// I/O limit.
pub const PCI_IO_LIMIT: usize = 0x1d;
/// Secondary status.
pub const PCI_SEC_STATUS: usize = 0x1e;
/// Memory base.
pub const PCI_MEMORY_BASE: usize = 0x20;
/// Memory limit.
pub const PCI_MEMORY_LIMIT: usize = 0x22;
/// Prefetchable memory base.
pub const PCI_PREF_MEMORY_BASE: usize = 0x24;
/// Prefetchable memory limit.
pub const PCI_PREF_MEMORY_LIMIT: usize = 0x26;
/// Prefetchable base, upper 32 bits.
pub const PCI_PREF_BASE_UPPER32: usize = 0x28;
/// Prefetchable limit, upper 32 bits.
pub const PCI_PREF_LIMIT_UPPER32: usize = 0x2c;
/// I/O base, upper 16 bits.
pub const PCI_IO_BASE_UPPER16: usize = 0x30;
/// I/O limit, upper 16 bits.
pub const PCI_IO_LIMIT_UPPER16: usize = 0x32;
/// Expansion ROM base address (type 1).
pub const PCI_ROM_ADDRESS1: usize = 0x38;
/// Bridge control.
pub const PCI_BRIDGE_CONTROL: usize = 0x3e;

// ---- Command bits --------------------------------------------------------------------------
/// Enable response in I/O space.
pub const PCI_COMMAND_IO: u16 = 0x0001;
/// Enable response in memory space.
pub const PCI_COMMAND_MEMORY: u16 = 0x0002;
/// Enable bus mastering.
pub const PCI_COMMAND_MASTER: u16 = 0x0004;
/// Enable response to special cycles.
pub const PCI_COMMAND_SPECIAL: u16 = 0x0008;
/// Use memory write and invalidate.
pub const PCI_COMMAND_INVALIDATE: u16 = 0x0010;
/// Enable palette snooping.
pub const PCI_COMMAND_VGA_PALETTE: u16 = 0x0020;
/// Enable parity checking.
pub const PCI_COMMAND_PARITY: u16 = 0x0040;
/// Enable address/data stepping.
pub const PCI_COMMAND_WAIT: u16 = 0x0080;
/// Enable SERR.
pub const PCI_COMMAND_SERR: u16 = 0x0100;
/// Enable back-to-back writes.
pub const PCI_COMMAND_FAST_BACK: u16 = 0x0200;
/// INTx emulation disable.
pub const PCI_COMMAND_INTX_DISABLE: u16 = 0x0400;

// ---- Status bits ---------------------------------------------------------------------------
/// Immediate readiness.
pub const PCI_STATUS_IMM_READY: u16 = 0x0001;
/// Interrupt status.
pub const PCI_STATUS_INTERRUPT: u16 = 0x0008;
/// Support capability list.
pub const PCI_STATUS_CAP_LIST: u16 = 0x0010;
/// Support 66 MHz PCI 2.1 bus.
pub const PCI_STATUS_66MHZ: u16 = 0x0020;
/// Accept fast-back to back.
pub const PCI_STATUS_FAST_BACK: u16 = 0x0080;
/// Detected parity error (master data parity error).
pub const PCI_STATUS_PARITY: u16 = 0x0100;
/// DEVSEL timing.
pub const PCI_STATUS_DEVSEL_MASK: u16 = 0x0600;
/// Set on target abort.
pub const PCI_STATUS_SIG_TARGET_ABORT: u16 = 0x0800;
/// Master ack of target abort.
pub const PCI_STATUS_REC_TARGET_ABORT: u16 = 0x1000;
/// Set on master abort.
pub const PCI_STATUS_REC_MASTER_ABORT: u16 = 0x2000;
/// Set when we drive SERR.
pub const PCI_STATUS_SIG_SYSTEM_ERROR: u16 = 0x4000;
/// Set on parity error.
pub const PCI_STATUS_DETECTED_PARITY: u16 = 0x8000;

// ---- Header type ---------------------------------------------------------------------------
/// Multi-function device bit of the header type byte.
pub const PCI_HEADER_TYPE_MULTI_FUNCTION: u8 = 0x80;
/// Type 0: normal device.
pub const PCI_HEADER_TYPE_NORMAL: u8 = 0;
/// Type 1: PCI-to-PCI bridge.
pub const PCI_HEADER_TYPE_BRIDGE: u8 = 1;
/// Type 2: CardBus bridge.
pub const PCI_HEADER_TYPE_CARDBUS: u8 = 2;
/// Header type byte: the layout bits (without the multi-function bit).
pub const PCI_HEADER_TYPE_MASK: u8 = 0x7f;
/// CardBus bridge: capabilities pointer (type 2 header).
pub const PCI_CB_CAPABILITY_LIST: usize = 0x14;

// ---- Class codes ---------------------------------------------------------------------------
/// Class PCI-to-PCI bridge (base class 0x06, sub class 0x04), as pci_bridge_initfn sets it.
pub const PCI_CLASS_BRIDGE_PCI: u16 = 0x0604;
/// Base class display controller (the byte at 0x0b).
pub const PCI_BASE_CLASS_DISPLAY: u8 = 0x03;
/// Display sub class "other" (the byte at 0x0a of secondary-vga).
pub const PCI_CLASS_DISPLAY_OTHER_SUB: u8 = 0x80;
/// Class "other display controller" (pci_ids.h PCI_CLASS_DISPLAY_OTHER), secondary-vga's class.
pub const PCI_CLASS_DISPLAY_OTHER: u16 = 0x0380;

// ---- BARs ----------------------------------------------------------------------------------
/// BAR space bit: 1 = I/O.
pub const PCI_BASE_ADDRESS_SPACE_IO: u8 = 0x01;
/// Memory BAR.
pub const PCI_BASE_ADDRESS_SPACE_MEMORY: u8 = 0x00;
/// 64-bit memory BAR.
pub const PCI_BASE_ADDRESS_MEM_TYPE_64: u8 = 0x04;
/// Prefetchable memory BAR.
pub const PCI_BASE_ADDRESS_MEM_PREFETCH: u8 = 0x08;
/// Memory BAR type bits (bits 2:1: 32-bit, below 1M, 64-bit).
pub const PCI_BASE_ADDRESS_MEM_TYPE_MASK: u8 = 0x06;
/// The flag bits of an I/O BAR (bits 1:0); `!` gives pci_regs.h's PCI_BASE_ADDRESS_IO_MASK.
pub const PCI_BASE_ADDRESS_IO_FLAGS: u32 = 0x03;
/// The flag bits of a memory BAR (bits 3:0); `!` gives pci_regs.h's PCI_BASE_ADDRESS_MEM_MASK.
pub const PCI_BASE_ADDRESS_MEM_FLAGS: u32 = 0x0f;
/// Address bits of an I/O BAR.
pub const PCI_BASE_ADDRESS_IO_MASK: u32 = !PCI_BASE_ADDRESS_IO_FLAGS;
/// Address bits of a memory BAR.
pub const PCI_BASE_ADDRESS_MEM_MASK: u32 = !PCI_BASE_ADDRESS_MEM_FLAGS;
/// Address bits of the expansion ROM BAR.
pub const PCI_ROM_ADDRESS_MASK: u32 = !0x7ff;
/// Number of BARs of a type 0 header (regions 0..6; the ROM is region 6).
pub const PCI_NUM_BARS: usize = 6;
/// Number of BARs of a type 1 header.
pub const PCI_NUM_BARS_BRIDGE: usize = 2;
/// Expansion ROM enable bit.
pub const PCI_ROM_ADDRESS_ENABLE: u32 = 0x01;
/// Region index of the expansion ROM (QEMU's PCI_ROM_SLOT).
pub const PCI_ROM_SLOT: usize = 6;
/// Number of regions: six BARs and the ROM (QEMU's PCI_NUM_REGIONS).
pub const PCI_NUM_REGIONS: usize = 7;

// ---- Bridge ranges and control -------------------------------------------------------------
/// I/O range type bits.
pub const PCI_IO_RANGE_TYPE_MASK: u8 = 0x0f;
/// I/O range address bits.
pub const PCI_IO_RANGE_MASK: u8 = 0xf0;
/// Memory range address bits.
pub const PCI_MEMORY_RANGE_MASK: u16 = 0xfff0;
/// Prefetchable range type bits.
pub const PCI_PREF_RANGE_TYPE_MASK: u16 = 0x000f;
/// 64-bit prefetchable range.
pub const PCI_PREF_RANGE_TYPE_64: u16 = 0x0001;
/// Prefetchable range address bits.
pub const PCI_PREF_RANGE_MASK: u16 = 0xfff0;
/// Bridge control: parity error response.
pub const PCI_BRIDGE_CTL_PARITY: u16 = 0x0001;
/// Bridge control: SERR forwarding.
pub const PCI_BRIDGE_CTL_SERR: u16 = 0x0002;
/// Bridge control: ISA enable.
pub const PCI_BRIDGE_CTL_ISA: u16 = 0x0004;
/// Bridge control: VGA enable.
pub const PCI_BRIDGE_CTL_VGA: u16 = 0x0008;
/// Bridge control: VGA 16-bit decode.
pub const PCI_BRIDGE_CTL_VGA_16BIT: u16 = 0x0010;
/// Bridge control: master abort mode.
pub const PCI_BRIDGE_CTL_MASTER_ABORT: u16 = 0x0020;
/// Bridge control: secondary bus reset.
pub const PCI_BRIDGE_CTL_BUS_RESET: u16 = 0x0040;
/// Bridge control: fast back-to-back enable.
pub const PCI_BRIDGE_CTL_FAST_BACK: u16 = 0x0080;
/// Bridge control: primary discard timer.
pub const PCI_BRIDGE_CTL_DISCARD: u16 = 0x0100;
/// Bridge control: secondary discard timer.
pub const PCI_BRIDGE_CTL_SEC_DISCARD: u16 = 0x0200;
/// Bridge control: discard timer status.
pub const PCI_BRIDGE_CTL_DISCARD_STATUS: u16 = 0x0400;
/// Bridge control: discard timer SERR enable.
pub const PCI_BRIDGE_CTL_DISCARD_SERR: u16 = 0x0800;

// ---- Standard capability list --------------------------------------------------------------
/// Capability ID byte, relative to the capability.
pub const PCI_CAP_LIST_ID: usize = 0;
/// Next-pointer byte, relative to the capability.
pub const PCI_CAP_LIST_NEXT: usize = 1;
/// Capability-defined flags (16 bits), relative to the capability.
pub const PCI_CAP_FLAGS: usize = 2;
/// Size of a capability header with its flags.
pub const PCI_CAP_SIZEOF: usize = 4;
/// ID that ends a chain walk: what a read of absent hardware returns (pciutils' `<chain broken>`).
pub const PCI_CAP_ID_ABSENT: u8 = 0xff;

// ---- Vendor specific (cap 0x09) ------------------------------------------------------------
/// Length byte of a vendor-specific capability (the third byte of its header).
pub const PCI_VNDR_CAP_LEN: usize = 2;
/// Size of a vendor-specific capability's header (ID, next, length): what skip-vsc-check keeps
/// checked (QEMU's vfio_add_vendor_specific_cap clears cmask from `pos + 3`).
pub const PCI_VNDR_CAP_HEADER_SIZEOF: usize = 3;

// ---- Slot identification (cap 0x04) --------------------------------------------------------
/// Expansion slot register.
pub const PCI_SID_ESR: usize = 2;
/// Chassis number.
pub const PCI_SID_CHASSIS_NR: usize = 3;
/// Size of the slot ID capability (QEMU's SLOTID_CAP_LENGTH).
pub const SLOTID_CAP_LENGTH: usize = 4;

// ---- Bridge subsystem vendor ID (cap 0x0d) -------------------------------------------------
/// Subsystem vendor ID.
pub const PCI_SSVID_VENDOR_ID: usize = 4;
/// Subsystem ID.
pub const PCI_SSVID_DEVICE_ID: usize = 6;
/// Size of the SSVID capability (QEMU's PCI_SSVID_SIZEOF).
pub const PCI_SSVID_SIZEOF: usize = 8;

// ---- Vital Product Data (cap 0x03), PCI Advanced Features (cap 0x13) -----------------------
/// VPD address register.
pub const PCI_VPD_ADDR: usize = 2;
/// VPD data register.
pub const PCI_VPD_DATA: usize = 4;
/// AF length.
pub const PCI_AF_LENGTH: usize = 2;
/// AF capabilities.
pub const PCI_AF_CAP: usize = 3;
/// AF control.
pub const PCI_AF_CTRL: usize = 4;
/// AF status.
pub const PCI_AF_STATUS: usize = 5;

// ---- SHPC (cap 0x0c), SATA (cap 0x12) ------------------------------------------------------
/// Size of the SHPC capability (QEMU's SHPC_CAP_LENGTH).
pub const SHPC_CAP_LENGTH: usize = 0x08;
/// SHPC DWORD select (1 byte).
pub const SHPC_CAP_DWORD_SELECT: usize = 0x2;
/// SHPC DWORD data (4 bytes).
pub const SHPC_CAP_DWORD_DATA: usize = 0x4;
/// Size of the SATA capability (QEMU's SATA_CAP_SIZE).
pub const SATA_CAP_SIZE: usize = 0x8;

// ---- Power management (cap 0x01) -----------------------------------------------------------
/// PMC register.
pub const PCI_PM_PMC: usize = 2;
/// PMCSR register.
pub const PCI_PM_CTRL: usize = 4;
/// PMCSR bridge support extensions.
pub const PCI_PM_PPB_EXTENSIONS: usize = 6;
/// PM data register.
pub const PCI_PM_DATA_REGISTER: usize = 7;
/// Size of the PM capability as QEMU adds it.
pub const PCI_PM_SIZEOF: usize = 8;
/// PMC: version.
pub const PCI_PM_CAP_VER_MASK: u16 = 0x0007;
/// PMC: D1 supported.
pub const PCI_PM_CAP_D1: u16 = 0x0200;
/// PMC: D2 supported.
pub const PCI_PM_CAP_D2: u16 = 0x0400;
/// PMCSR: current power state.
pub const PCI_PM_CTRL_STATE_MASK: u16 = 0x0003;
/// PMCSR: no soft reset.
pub const PCI_PM_CTRL_NO_SOFT_RESET: u16 = 0x0008;
/// PMCSR: PME enable.
pub const PCI_PM_CTRL_PME_ENABLE: u16 = 0x0100;
/// PMCSR: data select.
pub const PCI_PM_CTRL_DATA_SEL_MASK: u16 = 0x1e00;
/// PMCSR: data scale.
pub const PCI_PM_CTRL_DATA_SCALE_MASK: u16 = 0x6000;
/// PMCSR: PME status (write 1 to clear).
pub const PCI_PM_CTRL_PME_STATUS: u16 = 0x8000;

// ---- MSI (cap 0x05) ------------------------------------------------------------------------
/// Message control.
pub const PCI_MSI_FLAGS: usize = 2;
/// MSI enable.
pub const PCI_MSI_FLAGS_ENABLE: u16 = 0x0001;
/// Multiple message capable (log2 of vectors).
pub const PCI_MSI_FLAGS_QMASK: u16 = 0x000e;
/// Shift of the Multiple Message Capable field.
pub const PCI_MSI_FLAGS_QMASK_SHIFT: u32 = 1;
/// Multiple message enable.
pub const PCI_MSI_FLAGS_QSIZE: u16 = 0x0070;
/// Shift of the Multiple Message Enable field.
pub const PCI_MSI_FLAGS_QSIZE_SHIFT: u32 = 4;
/// 64-bit addresses.
pub const PCI_MSI_FLAGS_64BIT: u16 = 0x0080;
/// Per-vector masking.
pub const PCI_MSI_FLAGS_MASKBIT: u16 = 0x0100;
/// Message address, low dword.
pub const PCI_MSI_ADDRESS_LO: usize = 4;
/// Message address, high dword (64-bit).
pub const PCI_MSI_ADDRESS_HI: usize = 8;
/// Message data (32-bit).
pub const PCI_MSI_DATA_32: usize = 8;
/// Mask bits (32-bit).
pub const PCI_MSI_MASK_32: usize = 12;
/// Pending bits (32-bit).
pub const PCI_MSI_PENDING_32: usize = 16;
/// Message data (64-bit).
pub const PCI_MSI_DATA_64: usize = 12;
/// Mask bits (64-bit).
pub const PCI_MSI_MASK_64: usize = 16;
/// Pending bits (64-bit).
pub const PCI_MSI_PENDING_64: usize = 20;
/// Writable bits of the low address dword.
pub const PCI_MSI_ADDRESS_LO_MASK: u32 = 0xffff_fffc;
/// Maximum number of MSI vectors.
pub const PCI_MSI_VECTORS_MAX: u32 = 32;

// ---- MSI-X (cap 0x11) ----------------------------------------------------------------------
/// Message control.
pub const PCI_MSIX_FLAGS: usize = 2;
/// Table size minus one.
pub const PCI_MSIX_FLAGS_QSIZE: u16 = 0x07ff;
/// Function mask.
pub const PCI_MSIX_FLAGS_MASKALL: u16 = 0x4000;
/// MSI-X enable.
pub const PCI_MSIX_FLAGS_ENABLE: u16 = 0x8000;
/// Table offset / BIR.
pub const PCI_MSIX_TABLE: usize = 4;
/// PBA offset / BIR.
pub const PCI_MSIX_PBA: usize = 8;
/// BAR indicator bits of the table/PBA dwords.
pub const PCI_MSIX_FLAGS_BIRMASK: u32 = 0x7;
/// Size of an MSI-X table entry.
pub const PCI_MSIX_ENTRY_SIZE: usize = 16;
/// Length of the MSI-X capability (QEMU's MSIX_CAP_LENGTH).
pub const MSIX_CAP_LENGTH: usize = 12;
/// The byte of Message Control holding ENABLE and MASKALL (QEMU's MSIX_CONTROL_OFFSET).
pub const MSIX_CONTROL_OFFSET: usize = PCI_MSIX_FLAGS + 1;
/// ENABLE in the byte at MSIX_CONTROL_OFFSET (QEMU's MSIX_ENABLE_MASK).
pub const MSIX_ENABLE_MASK: u8 = (PCI_MSIX_FLAGS_ENABLE >> 8) as u8;
/// MASKALL in the byte at MSIX_CONTROL_OFFSET (QEMU's MSIX_MASKALL_MASK).
pub const MSIX_MASKALL_MASK: u8 = (PCI_MSIX_FLAGS_MASKALL >> 8) as u8;
/// The smallest BAR msix_init_exclusive_bar makes (its PBA starts halfway).
pub const MSIX_EXCLUSIVE_BAR_SIZE: u32 = 4096;

// ---- PCI Express (cap 0x10) ----------------------------------------------------------------
/// PCI Express capabilities register.
pub const PCI_EXP_FLAGS: usize = 0x02;
/// Capability version.
pub const PCI_EXP_FLAGS_VERS: u16 = 0x000f;
/// Device/port type.
pub const PCI_EXP_FLAGS_TYPE: u16 = 0x00f0;
/// Shift of the device/port type field.
pub const PCI_EXP_FLAGS_TYPE_SHIFT: u32 = 4;
/// Capability version 1.
pub const PCI_EXP_FLAGS_VER1: u16 = 1;
/// Capability version 2.
pub const PCI_EXP_FLAGS_VER2: u16 = 2;
/// Slot implemented.
pub const PCI_EXP_FLAGS_SLOT: u16 = 0x0100;
/// Interrupt message number.
pub const PCI_EXP_FLAGS_IRQ: u16 = 0x3e00;
/// Device capabilities.
pub const PCI_EXP_DEVCAP: usize = 0x04;
/// Device control.
pub const PCI_EXP_DEVCTL: usize = 0x08;
/// Device status.
pub const PCI_EXP_DEVSTA: usize = 0x0a;
/// Link capabilities.
pub const PCI_EXP_LNKCAP: usize = 0x0c;
/// Link control.
pub const PCI_EXP_LNKCTL: usize = 0x10;
/// Link status.
pub const PCI_EXP_LNKSTA: usize = 0x12;
/// Slot capabilities.
pub const PCI_EXP_SLTCAP: usize = 0x14;
/// Slot control.
pub const PCI_EXP_SLTCTL: usize = 0x18;
/// Slot status.
pub const PCI_EXP_SLTSTA: usize = 0x1a;
/// Root control.
pub const PCI_EXP_RTCTL: usize = 0x1c;
/// Root capabilities.
pub const PCI_EXP_RTCAP: usize = 0x1e;
/// Root status.
pub const PCI_EXP_RTSTA: usize = 0x20;
/// Device capabilities 2.
pub const PCI_EXP_DEVCAP2: usize = 0x24;
/// Device control 2.
pub const PCI_EXP_DEVCTL2: usize = 0x28;
/// Device status 2.
pub const PCI_EXP_DEVSTA2: usize = 0x2a;
/// Link capabilities 2.
pub const PCI_EXP_LNKCAP2: usize = 0x2c;
/// Link control 2.
pub const PCI_EXP_LNKCTL2: usize = 0x30;
/// Link status 2.
pub const PCI_EXP_LNKSTA2: usize = 0x32;
/// Slot capabilities 2.
pub const PCI_EXP_SLTCAP2: usize = 0x34;
/// Slot control 2.
pub const PCI_EXP_SLTCTL2: usize = 0x38;
/// Slot status 2.
pub const PCI_EXP_SLTSTA2: usize = 0x3a;
/// Size of a v1 PCI Express capability.
pub const PCI_EXP_VER1_SIZEOF: usize = 0x14;
/// Size of a v2 PCI Express capability.
pub const PCI_EXP_VER2_SIZEOF: usize = 0x3c;
/// LNKCAP: max link speed.
pub const PCI_EXP_LNKCAP_SLS: u32 = 0x0000_000f;
/// LNKCAP: max link width.
pub const PCI_EXP_LNKCAP_MLW: u32 = 0x0000_03f0;
/// Shift of the max link width field (QEMU's PCI_EXP_LNK_MLW_SHIFT).
pub const PCI_EXP_LNK_MLW_SHIFT: u32 = 4;
/// LNKCAP: ASPM support.
pub const PCI_EXP_LNKCAP_ASPMS: u32 = 0x0000_0c00;
/// LNKCAP: ASPM L0s supported (QEMU's PCI_EXP_LNKCAP_ASPMS_0S).
pub const PCI_EXP_LNKCAP_ASPMS_0S: u32 = 0x0000_0400;
/// LNKCAP: data link layer link active reporting capable.
pub const PCI_EXP_LNKCAP_DLLLARC: u32 = 0x0010_0000;
/// LNKCAP: link bandwidth notification capability.
pub const PCI_EXP_LNKCAP_LBNC: u32 = 0x0020_0000;
/// LNKCAP: port number.
pub const PCI_EXP_LNKCAP_PN: u32 = 0xff00_0000;
/// Shift of the port number field.
pub const PCI_EXP_LNKCAP_PN_SHIFT: u32 = 24;
/// LNKSTA: current link speed.
pub const PCI_EXP_LNKSTA_CLS: u16 = 0x000f;
/// LNKSTA: negotiated link width.
pub const PCI_EXP_LNKSTA_NLW: u16 = 0x03f0;
/// Link width x1 in the MLW / NLW field (QEMU_PCI_EXP_LNK_X1).
pub const QEMU_PCI_EXP_LNK_X1: u16 = 1;
/// Link speed 2.5 GT/s in the SLS / CLS field (QEMU_PCI_EXP_LNK_2_5GT).
pub const QEMU_PCI_EXP_LNK_2_5GT: u16 = 1;
/// LNKCAP2: supported link speeds vector.
pub const PCI_EXP_LNKCAP2_SLS: u32 = 0x0000_00fe;
/// LNKCAP2: 2.5 GT/s supported.
pub const PCI_EXP_LNKCAP2_SLS_2_5GB: u32 = 0x0000_0002;
/// LNKCAP2: 5 GT/s supported.
pub const PCI_EXP_LNKCAP2_SLS_5_0GB: u32 = 0x0000_0004;
/// LNKCAP2: 8 GT/s supported.
pub const PCI_EXP_LNKCAP2_SLS_8_0GB: u32 = 0x0000_0008;
/// LNKCAP2: 16 GT/s supported.
pub const PCI_EXP_LNKCAP2_SLS_16_0GB: u32 = 0x0000_0010;
/// LNKCAP2: 32 GT/s supported.
pub const PCI_EXP_LNKCAP2_SLS_32_0GB: u32 = 0x0000_0020;
/// LNKCAP2: 64 GT/s supported.
pub const PCI_EXP_LNKCAP2_SLS_64_0GB: u32 = 0x0000_0040;
/// LNKCTL2: target link speed.
pub const PCI_EXP_LNKCTL2_TLS: u16 = 0x000f;
/// SLTCAP: attention button present.
pub const PCI_EXP_SLTCAP_ABP: u32 = 0x0000_0001;
/// SLTCAP: power controller present.
pub const PCI_EXP_SLTCAP_PCP: u32 = 0x0000_0002;
/// SLTCAP: MRL sensor present.
pub const PCI_EXP_SLTCAP_MRLSP: u32 = 0x0000_0004;
/// SLTCAP: attention indicator present.
pub const PCI_EXP_SLTCAP_AIP: u32 = 0x0000_0008;
/// SLTCAP: power indicator present.
pub const PCI_EXP_SLTCAP_PIP: u32 = 0x0000_0010;
/// SLTCAP: hot-plug surprise.
pub const PCI_EXP_SLTCAP_HPS: u32 = 0x0000_0020;
/// SLTCAP: hot-plug capable.
pub const PCI_EXP_SLTCAP_HPC: u32 = 0x0000_0040;
/// SLTCAP: electromechanical interlock present.
pub const PCI_EXP_SLTCAP_EIP: u32 = 0x0002_0000;
/// SLTCAP: no command completed support.
pub const PCI_EXP_SLTCAP_NCCS: u32 = 0x0004_0000;
/// SLTCAP: physical slot number.
pub const PCI_EXP_SLTCAP_PSN: u32 = 0xfff8_0000;
/// Shift of the physical slot number field.
pub const PCI_EXP_SLTCAP_PSN_SHIFT: u32 = 19;
/// SLTCTL: attention indicator control.
pub const PCI_EXP_SLTCTL_AIC: u16 = 0x00c0;
/// SLTCTL: attention indicator off.
pub const PCI_EXP_SLTCTL_ATTN_IND_OFF: u16 = 0x00c0;
/// SLTCTL: power indicator control.
pub const PCI_EXP_SLTCTL_PIC: u16 = 0x0300;
/// SLTCTL: power indicator off.
pub const PCI_EXP_SLTCTL_PWR_IND_OFF: u16 = 0x0300;
/// Device/port type: PCI Express endpoint.
pub const PCI_EXP_TYPE_ENDPOINT: u8 = 0x0;
/// Device/port type: legacy endpoint.
pub const PCI_EXP_TYPE_LEG_END: u8 = 0x1;
/// Device/port type: root port.
pub const PCI_EXP_TYPE_ROOT_PORT: u8 = 0x4;
/// Device/port type: upstream port.
pub const PCI_EXP_TYPE_UPSTREAM: u8 = 0x5;
/// Device/port type: downstream port.
pub const PCI_EXP_TYPE_DOWNSTREAM: u8 = 0x6;
/// Device/port type: PCIe-to-PCI bridge.
pub const PCI_EXP_TYPE_PCI_BRIDGE: u8 = 0x7;
/// Device/port type: PCI-to-PCIe bridge.
pub const PCI_EXP_TYPE_PCIE_BRIDGE: u8 = 0x8;
/// Device/port type: root complex integrated endpoint.
pub const PCI_EXP_TYPE_RC_END: u8 = 0x9;
/// Device/port type: root complex event collector.
pub const PCI_EXP_TYPE_RC_EC: u8 = 0xa;
/// DEVCAP: extended tag field supported.
pub const PCI_EXP_DEVCAP_EXT_TAG: u32 = 0x0000_0020;
/// DEVCAP: max payload size supported.
pub const PCI_EXP_DEVCAP_PAYLOAD: u32 = 0x0000_0007;
/// DEVCAP: phantom functions supported.
pub const PCI_EXP_DEVCAP_PHANTOM: u32 = 0x0000_0018;
/// DEVCAP: L0s acceptable latency.
pub const PCI_EXP_DEVCAP_L0S: u32 = 0x0000_01c0;
/// DEVCAP: L1 acceptable latency.
pub const PCI_EXP_DEVCAP_L1: u32 = 0x0000_0e00;
/// DEVCAP: slot power limit value.
pub const PCI_EXP_DEVCAP_PWR_VAL: u32 = 0x03fc_0000;
/// DEVCAP: slot power limit scale.
pub const PCI_EXP_DEVCAP_PWR_SCL: u32 = 0x0c00_0000;
/// DEVCAP: role-based error reporting.
pub const PCI_EXP_DEVCAP_RBER: u32 = 0x0000_8000;
/// DEVCAP: function level reset.
pub const PCI_EXP_DEVCAP_FLR: u32 = 0x1000_0000;
/// DEVCTL: correctable error reporting enable.
pub const PCI_EXP_DEVCTL_CERE: u16 = 0x0001;
/// DEVCTL: non-fatal error reporting enable.
pub const PCI_EXP_DEVCTL_NFERE: u16 = 0x0002;
/// DEVCTL: fatal error reporting enable.
pub const PCI_EXP_DEVCTL_FERE: u16 = 0x0004;
/// DEVCTL: unsupported request reporting enable.
pub const PCI_EXP_DEVCTL_URRE: u16 = 0x0008;
/// DEVCTL: relaxed ordering enable.
pub const PCI_EXP_DEVCTL_RELAX_EN: u16 = 0x0010;
/// DEVCTL: max payload size.
pub const PCI_EXP_DEVCTL_PAYLOAD: u16 = 0x00e0;
/// DEVCTL: extended tag field enable.
pub const PCI_EXP_DEVCTL_EXT_TAG: u16 = 0x0100;
/// DEVCTL: phantom functions enable.
pub const PCI_EXP_DEVCTL_PHANTOM: u16 = 0x0200;
/// DEVCTL: auxiliary power PM enable.
pub const PCI_EXP_DEVCTL_AUX_PME: u16 = 0x0400;
/// DEVCTL: no snoop enable.
pub const PCI_EXP_DEVCTL_NOSNOOP_EN: u16 = 0x0800;
/// DEVCTL: max read request size.
pub const PCI_EXP_DEVCTL_READRQ: u16 = 0x7000;
/// DEVCTL: bridge configuration retry / initiate FLR.
pub const PCI_EXP_DEVCTL_BCR_FLR: u16 = 0x8000;
/// DEVSTA: error bits (CED, NFED, FED, URD).
pub const PCI_EXP_DEVSTA_ERRORS: u16 = 0x000f;
/// DEVSTA: AUX power detected.
pub const PCI_EXP_DEVSTA_AUXPD: u16 = 0x0010;
/// DEVSTA: transactions pending.
pub const PCI_EXP_DEVSTA_TRPND: u16 = 0x0020;
/// LNKCTL: ASPM control.
pub const PCI_EXP_LNKCTL_ASPMC: u16 = 0x0003;
/// LNKCTL: read completion boundary.
pub const PCI_EXP_LNKCTL_RCB: u16 = 0x0008;
/// LNKCTL: link disable.
pub const PCI_EXP_LNKCTL_LD: u16 = 0x0010;
/// LNKCTL: retrain link.
pub const PCI_EXP_LNKCTL_RL: u16 = 0x0020;
/// LNKSTA: link training.
pub const PCI_EXP_LNKSTA_LT: u16 = 0x0800;
/// LNKSTA: slot clock configuration.
pub const PCI_EXP_LNKSTA_SLC: u16 = 0x1000;
/// LNKSTA: data link layer link active.
pub const PCI_EXP_LNKSTA_DLLLA: u16 = 0x2000;
/// LNKCTL: common clock configuration.
pub const PCI_EXP_LNKCTL_CCC: u16 = 0x0040;
/// LNKCTL: extended synch.
pub const PCI_EXP_LNKCTL_ES: u16 = 0x0080;
/// SLTCTL bits QEMU makes writable in pcie_cap_slot_init (PIC, AIC, HPIE, CCIE, PDCE, ABPE, EIC).
pub const PCI_EXP_SLTCTL_QEMU_WMASK: u16 = 0x0300 | 0x00c0 | 0x0020 | 0x0010 | 0x0008 | 0x0001 | 0x0800;
/// SLTCTL: power controller control.
pub const PCI_EXP_SLTCTL_PCC: u16 = 0x0400;
/// SLTSTA events QEMU emulates (ABP, PDC, CCI): PCI_EXP_HP_EV_SUPPORTED.
pub const PCI_EXP_HP_EV_SUPPORTED: u16 = 0x0001 | 0x0008 | 0x0010;
/// SLTSTA: presence detect state.
pub const PCI_EXP_SLTSTA_PDS: u16 = 0x0040;
/// SLTSTA: attention button pressed.
pub const PCI_EXP_SLTSTA_ABP: u16 = 0x0001;
/// SLTSTA: power fault detected.
pub const PCI_EXP_SLTSTA_PFD: u16 = 0x0002;
/// SLTSTA: MRL sensor changed.
pub const PCI_EXP_SLTSTA_MRLSC: u16 = 0x0004;
/// SLTSTA: presence detect changed.
pub const PCI_EXP_SLTSTA_PDC: u16 = 0x0008;
/// SLTSTA: command completed.
pub const PCI_EXP_SLTSTA_CC: u16 = 0x0010;
/// SLTSTA: data link layer state changed.
pub const PCI_EXP_SLTSTA_DLLSC: u16 = 0x0100;
/// RTCTL bits QEMU makes writable (SECEE, SENFEE, SEFEE).
pub const PCI_EXP_RTCTL_QEMU_WMASK: u16 = 0x0007;
/// DEVCAP2: ARI forwarding supported.
pub const PCI_EXP_DEVCAP2_ARI: u32 = 0x0000_0020;
/// DEVCAP2: extended fmt field supported.
pub const PCI_EXP_DEVCAP2_EFF: u32 = 0x0010_0000;
/// DEVCAP2: end-end TLP prefix supported.
pub const PCI_EXP_DEVCAP2_EETLPP: u32 = 0x0020_0000;
/// DEVCTL2: ARI forwarding enable.
pub const PCI_EXP_DEVCTL2_ARI: u16 = 0x0020;
/// DEVCTL2: end-end TLP prefix blocking.
pub const PCI_EXP_DEVCTL2_EETLPPB: u16 = 0x8000;

// ---- Extended capabilities -----------------------------------------------------------------
/// AER: uncorrectable error status.
pub const PCI_ERR_UNCOR_STATUS: usize = 0x04;
/// AER: uncorrectable error mask.
pub const PCI_ERR_UNCOR_MASK: usize = 0x08;
/// AER: uncorrectable error severity.
pub const PCI_ERR_UNCOR_SEVER: usize = 0x0c;
/// AER: correctable error status.
pub const PCI_ERR_COR_STATUS: usize = 0x10;
/// AER: correctable error mask.
pub const PCI_ERR_COR_MASK: usize = 0x14;
/// AER: capabilities and control.
pub const PCI_ERR_CAP: usize = 0x18;
/// AER: header log.
pub const PCI_ERR_HEADER_LOG: usize = 0x1c;
/// AER: size of the header log (QEMU's PCI_ERR_HEADER_LOG_SIZE).
pub const PCI_ERR_HEADER_LOG_SIZE: usize = 16;
/// AER: root error command.
pub const PCI_ERR_ROOT_COMMAND: usize = 0x2c;
/// AER: root error status.
pub const PCI_ERR_ROOT_STATUS: usize = 0x30;
/// AER: error source identification.
pub const PCI_ERR_ROOT_ERR_SRC: usize = 0x34;
/// AER: TLP prefix log.
pub const PCI_ERR_TLP_PREFIX_LOG: usize = 0x38;
/// AER: size of the TLP prefix log (QEMU's PCI_ERR_TLP_PREFIX_LOG_SIZE).
pub const PCI_ERR_TLP_PREFIX_LOG_SIZE: usize = 16;
/// Size of the AER capability as QEMU adds it.
pub const PCI_ERR_SIZEOF: usize = 0x48;
/// Version of the AER capability QEMU adds (PCI_ERR_VER).
pub const PCI_ERR_VER: u8 = 2;
/// Uncorrectable errors QEMU emulates (PCI_ERR_UNC_SUPPORTED).
pub const PCI_ERR_UNC_SUPPORTED: u32 = 0x03ff_f030;
/// Default uncorrectable error mask (PCI_ERR_UNC_MASK_DEFAULT).
pub const PCI_ERR_UNC_MASK_DEFAULT: u32 = 0x0240_0000;
/// Default uncorrectable error severity (PCI_ERR_UNC_SEVERITY_DEFAULT).
pub const PCI_ERR_UNC_SEVERITY_DEFAULT: u32 = 0x0046_2030;
/// Correctable errors QEMU emulates (PCI_ERR_COR_SUPPORTED).
pub const PCI_ERR_COR_SUPPORTED: u32 = 0x0000_f1c1;
/// Default correctable error mask (PCI_ERR_COR_MASK_DEFAULT).
pub const PCI_ERR_COR_MASK_DEFAULT: u32 = 0x0000_e000;
/// AER CAP: ECRC generation capable.
pub const PCI_ERR_CAP_ECRC_GENC: u32 = 0x0000_0020;
/// AER CAP: ECRC generation enable.
pub const PCI_ERR_CAP_ECRC_GENE: u32 = 0x0000_0040;
/// AER CAP: ECRC check capable.
pub const PCI_ERR_CAP_ECRC_CHKC: u32 = 0x0000_0080;
/// AER CAP: ECRC check enable.
pub const PCI_ERR_CAP_ECRC_CHKE: u32 = 0x0000_0100;
/// AER CAP: multiple header recording capable.
pub const PCI_ERR_CAP_MHRC: u32 = 0x0000_0200;
/// AER CAP: multiple header recording enable.
pub const PCI_ERR_CAP_MHRE: u32 = 0x0000_0400;
/// Status: a system error was received (QEMU's PCI_SEC_STATUS_RCV_SYSTEM_ERROR, W1C in the
/// Status register of a port with AER).
pub const PCI_SEC_STATUS_RCV_SYSTEM_ERROR: u16 = 0x4000;
/// AER root command enable bits.
pub const PCI_ERR_ROOT_CMD_EN_MASK: u32 = 0x0000_0007;
/// AER root status report bits.
pub const PCI_ERR_ROOT_STATUS_REPORT_MASK: u32 = 0x0000_007f;
/// AER root status: advanced error interrupt message number.
pub const PCI_ERR_ROOT_IRQ: u32 = 0xf800_0000;
/// ATS capability register.
pub const PCI_ATS_CAP: usize = 0x04;
/// ATS control register.
pub const PCI_ATS_CTRL: usize = 0x06;
/// ATS: page-aligned requests.
pub const PCI_ATS_CAP_PAGE_ALIGNED: u16 = 0x0020;
/// ATS control: enable.
pub const PCI_ATS_CTRL_ENABLE: u16 = 0x8000;
/// ATS control bits QEMU makes writable in pcie_ats_init (ENABLE and the low STU bits: 0x800f).
pub const PCI_ATS_CTRL_QEMU_WMASK: u16 = PCI_ATS_CTRL_ENABLE | 0x000f;
/// Size of the ATS capability.
pub const PCI_EXT_CAP_ATS_SIZEOF: usize = 8;
/// Version of the ATS capability QEMU adds.
pub const PCI_ATS_VER: u8 = 1;
/// Version of the ACS capability QEMU adds.
pub const PCI_ACS_VER: u8 = 1;
/// Version of the ARI capability QEMU adds (PCI_ARI_VER).
pub const PCI_ARI_VER: u8 = 1;
/// Version of the DSN capability QEMU adds.
pub const PCI_DSN_VER: u8 = 1;
/// ACS capability register.
pub const PCI_ACS_CAP: usize = 0x04;
/// ACS control register.
pub const PCI_ACS_CTRL: usize = 0x06;
/// ACS egress control vector.
pub const PCI_ACS_EGRESS_CTL_V: usize = 0x08;
/// ACS bits of a downstream port (SV, TB, RR, CR, UF, DT).
pub const PCI_ACS_DOWNSTREAM_BITS: u16 = 0x0001 | 0x0002 | 0x0004 | 0x0008 | 0x0010 | 0x0040;
/// Size of the ACS capability as QEMU adds it.
pub const PCI_ACS_SIZEOF: usize = 8;
/// ARI capability register.
pub const PCI_ARI_CAP: usize = 0x04;
/// ARI control register.
pub const PCI_ARI_CTRL: usize = 0x06;
/// Shift of the next function number in the ARI capability register.
pub const PCI_ARI_CAP_NFN_SHIFT: u32 = 8;
/// Size of the ARI capability.
pub const PCI_ARI_SIZEOF: usize = 8;
/// Size of the DSN capability.
pub const PCI_EXT_CAP_DSN_SIZEOF: usize = 12;
/// DSN: the 64-bit serial number.
pub const PCI_DSN_SERIAL: usize = 4;
/// VSEC: vendor-specific header (ID, revision, length).
pub const PCI_VNDR_HEADER: usize = 4;
/// VSEC: first payload byte (after the vendor-specific header).
pub const PCI_VNDR_PAYLOAD: usize = 8;
/// DVSEC: header 1 (vendor, revision, length).
pub const PCI_DVSEC_HEADER1: usize = 0x4;
/// DVSEC: header 2 (DVSEC ID, 16 bits).
pub const PCI_DVSEC_HEADER2: usize = 0x8;
/// DVSEC: first payload byte (after header 2).
pub const PCI_DVSEC_PAYLOAD: usize = 0xa;
/// Resizable BAR: capability register of the first BAR (entries repeat every 8 bytes).
pub const PCI_REBAR_CAP: usize = 4;
/// Resizable BAR: supported sizes as QEMU 10.0.2's pci_regs.h has them (1 MiB .. 512 GiB).
pub const PCI_REBAR_CAP_SIZES: u32 = 0x00ff_fff0;
/// Resizable BAR: control register of the first BAR.
pub const PCI_REBAR_CTRL: usize = 8;
/// Resizable BAR control: BAR index.
pub const PCI_REBAR_CTRL_BAR_IDX: u32 = 0x0000_0007;
/// Resizable BAR control: number of resizable BARs.
pub const PCI_REBAR_CTRL_NBAR_MASK: u32 = 0x0000_00e0;
/// Shift of the number of resizable BARs.
pub const PCI_REBAR_CTRL_NBAR_SHIFT: u32 = 5;
/// Resizable BAR control: BAR size.
pub const PCI_REBAR_CTRL_BAR_SIZE: u32 = 0x0000_1f00;
/// Shift of the BAR size.
pub const PCI_REBAR_CTRL_BAR_SHIFT: u32 = 8;
/// Bytes between two Resizable BAR entries.
pub const PCI_REBAR_ENTRY_SIZEOF: usize = 8;

// ---- Extended capability header ------------------------------------------------------------
/// Size of an extended capability header.
pub const PCI_EXT_CAP_HEADER_SIZEOF: usize = 4;
/// Alignment of an extended capability (QEMU's PCI_EXT_CAP_ALIGN).
pub const PCI_EXT_CAP_ALIGN: usize = 4;
/// Minimum size of an extended capability (pcie_add_capability asserts `size >= 8`).
pub const PCI_EXT_CAP_MIN_SIZEOF: usize = 8;
/// Shift of the version field of an extended header (QEMU's PCI_EXT_CAP_VER_SHIFT).
pub const PCI_EXT_CAP_VER_SHIFT: u32 = 16;
/// Shift of the next-pointer field of an extended header (QEMU's PCI_EXT_CAP_NEXT_SHIFT).
pub const PCI_EXT_CAP_NEXT_SHIFT: u32 = 20;
/// The ID and version fields of an extended header (what survives re-linking it).
pub const PCI_EXT_CAP_ID_VER_MASK: u32 = 0x000f_ffff;

/// PCI_EXT_CAP_ID: the capability ID of an extended header.
pub const fn pci_ext_cap_id(header: u32) -> u16 {
    (header & 0xffff) as u16
}

/// PCI_EXT_CAP_VER: the capability version of an extended header.
pub const fn pci_ext_cap_ver(header: u32) -> u8 {
    ((header >> PCI_EXT_CAP_VER_SHIFT) & 0xf) as u8
}

/// The raw 12-bit next field of an extended header (the low two bits included).
pub const fn pci_ext_cap_next_raw(header: u32) -> usize {
    (header >> PCI_EXT_CAP_NEXT_SHIFT) as usize
}

/// PCI_EXT_CAP_NEXT: the next pointer of an extended header, dword-aligned.
pub const fn pci_ext_cap_next(header: u32) -> usize {
    pci_ext_cap_next_raw(header) & 0xffc
}

/// QEMU's PCI_EXT_CAP(id, ver, next): an extended header.
pub const fn pci_ext_cap(id: u16, ver: u8, next: usize) -> u32 {
    id as u32 | (((ver & 0xf) as u32) << PCI_EXT_CAP_VER_SHIFT) | ((next as u32) << PCI_EXT_CAP_NEXT_SHIFT)
}

// ---- virtio-pci (VIRTIO 1.x, struct virtio_pci_cap) ----------------------------------------
/// virtio_pci_cap: length of the capability.
pub const VIRTIO_PCI_CAP_LEN: usize = 2;
/// virtio_pci_cap: structure type.
pub const VIRTIO_PCI_CAP_CFG_TYPE: usize = 3;
/// virtio_pci_cap: BAR holding the structure.
pub const VIRTIO_PCI_CAP_BAR: usize = 4;
/// virtio_pci_cap: offset of the structure in its BAR.
pub const VIRTIO_PCI_CAP_OFFSET: usize = 8;
/// virtio_pci_cap: length of the structure.
pub const VIRTIO_PCI_CAP_LENGTH: usize = 12;
/// virtio_pci_notify_cap: notify_off_multiplier.
pub const VIRTIO_PCI_NOTIFY_CAP_MULT: usize = 16;
/// virtio_pci_cfg_cap: pci_cfg_data.
pub const VIRTIO_PCI_CFG_CAP_DATA: usize = 16;
/// Structure type: common configuration.
pub const VIRTIO_PCI_CAP_COMMON_CFG: u8 = 1;
/// Structure type: notifications.
pub const VIRTIO_PCI_CAP_NOTIFY_CFG: u8 = 2;
/// Structure type: ISR status.
pub const VIRTIO_PCI_CAP_ISR_CFG: u8 = 3;
/// Structure type: device-specific configuration.
pub const VIRTIO_PCI_CAP_DEVICE_CFG: u8 = 4;
/// Structure type: PCI configuration access.
pub const VIRTIO_PCI_CAP_PCI_CFG: u8 = 5;

// ---- QEMU's PCI bridge resource-reserve vendor capability (PCIBridgeQemuCap) ---------------
/// Type byte.
pub const QEMU_RESERVE_CAP_TYPE: usize = 3;
/// Bus numbers to reserve (u32).
pub const QEMU_RESERVE_CAP_BUS_RES: usize = 4;
/// I/O space to reserve (u64).
pub const QEMU_RESERVE_CAP_IO: usize = 8;
/// Non-prefetchable memory to reserve (u32).
pub const QEMU_RESERVE_CAP_MEM: usize = 16;

// ---- SR-IOV (ext cap 0x0010) ---------------------------------------------------------------
/// SR-IOV capabilities.
pub const PCI_SRIOV_CAP: usize = 0x04;
/// SR-IOV control.
pub const PCI_SRIOV_CTRL: usize = 0x08;
/// SR-IOV status.
pub const PCI_SRIOV_STATUS: usize = 0x0a;
/// Initial VFs.
pub const PCI_SRIOV_INITIAL_VF: usize = 0x0c;
/// Total VFs.
pub const PCI_SRIOV_TOTAL_VF: usize = 0x0e;
/// Number of VFs.
pub const PCI_SRIOV_NUM_VF: usize = 0x10;
/// Function dependency link.
pub const PCI_SRIOV_FUNC_LINK: usize = 0x12;
/// First VF offset.
pub const PCI_SRIOV_VF_OFFSET: usize = 0x14;
/// VF stride.
pub const PCI_SRIOV_VF_STRIDE: usize = 0x16;
/// VF device ID.
pub const PCI_SRIOV_VF_DID: usize = 0x1a;
/// Supported page sizes.
pub const PCI_SRIOV_SUP_PGSIZE: usize = 0x1c;
/// System page size.
pub const PCI_SRIOV_SYS_PGSIZE: usize = 0x20;
/// VF BAR0 (six BARs).
pub const PCI_SRIOV_BAR: usize = 0x24;
/// VF migration state array offset.
pub const PCI_SRIOV_VFM: usize = 0x3c;

// ---- PASID, PRI, LTR, L1SS -----------------------------------------------------------------
/// PASID capability.
pub const PCI_PASID_CAP: usize = 0x04;
/// PASID control.
pub const PCI_PASID_CTRL: usize = 0x06;
/// PRI control.
pub const PCI_PRI_CTRL: usize = 0x04;
/// PRI status.
pub const PCI_PRI_STATUS: usize = 0x06;
/// PRI outstanding page request capacity.
pub const PCI_PRI_MAX_REQ: usize = 0x08;
/// PRI outstanding page request allocation.
pub const PCI_PRI_ALLOC_REQ: usize = 0x0c;
/// LTR max snoop latency.
pub const PCI_LTR_MAX_SNOOP_LAT: usize = 0x4;
/// LTR max no-snoop latency.
pub const PCI_LTR_MAX_NOSNOOP_LAT: usize = 0x6;
/// L1 PM substates capabilities.
pub const PCI_L1SS_CAP: usize = 0x04;
/// L1 PM substates control 1.
pub const PCI_L1SS_CTL1: usize = 0x08;
/// L1 PM substates control 2.
pub const PCI_L1SS_CTL2: usize = 0x0c;

// ---- PCI-X (cap 0x07), PTM, DPC, TPH, VC ---------------------------------------------------
/// PCI-X command register.
pub const PCI_X_CMD: usize = 2;
/// PCI-X status register.
pub const PCI_X_STATUS: usize = 4;
/// PTM capability.
pub const PCI_PTM_CAP: usize = 0x04;
/// PTM control.
pub const PCI_PTM_CTRL: usize = 0x08;
/// DPC capability.
pub const PCI_EXP_DPC_CAP: usize = 0x04;
/// DPC control.
pub const PCI_EXP_DPC_CTL: usize = 0x06;
/// DPC status.
pub const PCI_EXP_DPC_STATUS: usize = 0x08;
/// TPH requester capability.
pub const PCI_TPH_CAP: usize = 0x04;
/// TPH requester control.
pub const PCI_TPH_CTRL: usize = 0x08;
/// VC: port VC capability register 1.
pub const PCI_VC_PORT_CAP1: usize = 0x04;
/// VC: port VC control.
pub const PCI_VC_PORT_CTRL: usize = 0x0c;

// ---- Bits the `show` decoders print (pci_regs.h names) -------------------------------------
/// PMC: PME clock.
pub const PCI_PM_CAP_PME_CLOCK: u16 = 0x0008;
/// PMC: device-specific initialization.
pub const PCI_PM_CAP_DSI: u16 = 0x0020;
/// PMC: auxiliary power support mask.
pub const PCI_PM_CAP_AUX_POWER: u16 = 0x01c0;
/// PMC: PME# from D0.
pub const PCI_PM_CAP_PME_D0: u16 = 0x0800;
/// PMC: PME# from D1.
pub const PCI_PM_CAP_PME_D1: u16 = 0x1000;
/// PMC: PME# from D2.
pub const PCI_PM_CAP_PME_D2: u16 = 0x2000;
/// PMC: PME# from D3 (hot).
pub const PCI_PM_CAP_PME_D3HOT: u16 = 0x4000;
/// PMC: PME# from D3 (cold).
pub const PCI_PM_CAP_PME_D3COLD: u16 = 0x8000;
/// MSI-X Table / PBA: BAR indicator.
pub const PCI_MSIX_TABLE_BIR: u32 = 0x0000_0007;
/// MSI-X Table / PBA: offset in the BAR.
pub const PCI_MSIX_TABLE_OFFSET: u32 = 0xffff_fff8;
/// AER uncorrectable: data link protocol.
pub const PCI_ERR_UNC_DLP: u32 = 0x0000_0010;
/// AER uncorrectable: surprise down.
pub const PCI_ERR_UNC_SURPDN: u32 = 0x0000_0020;
/// AER uncorrectable: poisoned TLP.
pub const PCI_ERR_UNC_POISON_TLP: u32 = 0x0000_1000;
/// AER uncorrectable: flow control protocol.
pub const PCI_ERR_UNC_FCP: u32 = 0x0000_2000;
/// AER uncorrectable: completion timeout.
pub const PCI_ERR_UNC_COMP_TIME: u32 = 0x0000_4000;
/// AER uncorrectable: completer abort.
pub const PCI_ERR_UNC_COMP_ABORT: u32 = 0x0000_8000;
/// AER uncorrectable: unexpected completion.
pub const PCI_ERR_UNC_UNX_COMP: u32 = 0x0001_0000;
/// AER uncorrectable: receiver overflow.
pub const PCI_ERR_UNC_RX_OVER: u32 = 0x0002_0000;
/// AER uncorrectable: malformed TLP.
pub const PCI_ERR_UNC_MALF_TLP: u32 = 0x0004_0000;
/// AER uncorrectable: ECRC error.
pub const PCI_ERR_UNC_ECRC: u32 = 0x0008_0000;
/// AER uncorrectable: unsupported request.
pub const PCI_ERR_UNC_UNSUP: u32 = 0x0010_0000;
/// AER uncorrectable: ACS violation.
pub const PCI_ERR_UNC_ACSV: u32 = 0x0020_0000;
/// AER correctable: receiver error.
pub const PCI_ERR_COR_RCVR: u32 = 0x0000_0001;
/// AER correctable: bad TLP.
pub const PCI_ERR_COR_BAD_TLP: u32 = 0x0000_0040;
/// AER correctable: bad DLLP.
pub const PCI_ERR_COR_BAD_DLLP: u32 = 0x0000_0080;
/// AER correctable: REPLAY_NUM rollover.
pub const PCI_ERR_COR_REP_ROLL: u32 = 0x0000_0100;
/// AER correctable: replay timer timeout.
pub const PCI_ERR_COR_REP_TIMER: u32 = 0x0000_1000;
/// AER correctable: advisory non-fatal.
pub const PCI_ERR_COR_ADV_NFAT: u32 = 0x0000_2000;
/// AER capabilities: first error pointer.
pub const PCI_ERR_CAP_FEP: u32 = 0x0000_001f;
/// AER root command: correctable error reporting enable.
pub const PCI_ERR_ROOT_CMD_COR_EN: u32 = 0x0000_0001;
/// AER root command: non-fatal error reporting enable.
pub const PCI_ERR_ROOT_CMD_NONFATAL_EN: u32 = 0x0000_0002;
/// AER root command: fatal error reporting enable.
pub const PCI_ERR_ROOT_CMD_FATAL_EN: u32 = 0x0000_0004;
/// AER root status: ERR_COR received.
pub const PCI_ERR_ROOT_COR_RCV: u32 = 0x0000_0001;
/// AER root status: multiple ERR_COR.
pub const PCI_ERR_ROOT_MULTI_COR_RCV: u32 = 0x0000_0002;
/// AER root status: ERR_FATAL/NONFATAL received.
pub const PCI_ERR_ROOT_UNCOR_RCV: u32 = 0x0000_0004;
/// AER root status: multiple ERR_FATAL/NONFATAL.
pub const PCI_ERR_ROOT_MULTI_UNCOR_RCV: u32 = 0x0000_0008;
/// AER root status: first uncorrectable was fatal.
pub const PCI_ERR_ROOT_FIRST_FATAL: u32 = 0x0000_0010;
/// SR-IOV capabilities: VF migration capable.
pub const PCI_SRIOV_CAP_VFM: u32 = 0x0000_0001;
/// SR-IOV capabilities: interrupt message number shift (PCI_SRIOV_CAP_INTR).
pub const PCI_SRIOV_CAP_INTR_SHIFT: u32 = 21;
/// SR-IOV control: VF enable.
pub const PCI_SRIOV_CTRL_VFE: u16 = 0x0001;
/// SR-IOV control: VF migration enable.
pub const PCI_SRIOV_CTRL_VFM: u16 = 0x0002;
/// SR-IOV control: VF migration interrupt enable.
pub const PCI_SRIOV_CTRL_INTR: u16 = 0x0004;
/// SR-IOV control: VF memory space enable.
pub const PCI_SRIOV_CTRL_MSE: u16 = 0x0008;
/// SR-IOV control: ARI capable hierarchy.
pub const PCI_SRIOV_CTRL_ARI: u16 = 0x0010;
/// SR-IOV status: VF migration status.
pub const PCI_SRIOV_STATUS_VFM: u16 = 0x0001;
/// SR-IOV VF migration state: BAR indicator.
pub const PCI_SRIOV_VFM_BIR: u32 = 0x0000_0007;
/// SR-IOV VF migration state: offset.
pub const PCI_SRIOV_VFM_OFFSET: u32 = 0xffff_fff8;
/// ATS capability: invalidate queue depth.
pub const PCI_ATS_CAP_QDEP: u16 = 0x001f;
/// ATS control: smallest translation unit.
pub const PCI_ATS_CTRL_STU: u16 = 0x001f;
/// PRI control: enable.
pub const PCI_PRI_CTRL_ENABLE: u16 = 0x0001;
/// PRI control: reset.
pub const PCI_PRI_CTRL_RESET: u16 = 0x0002;
/// PRI status: response failure.
pub const PCI_PRI_STATUS_RF: u16 = 0x0001;
/// PRI status: unexpected PRG index.
pub const PCI_PRI_STATUS_UPRGI: u16 = 0x0002;
/// PRI status: stopped.
pub const PCI_PRI_STATUS_STOPPED: u16 = 0x0100;
/// PRI status: PRG response PASID required.
pub const PCI_PRI_STATUS_PASID: u16 = 0x8000;
/// PASID capability: execute permission supported.
pub const PCI_PASID_CAP_EXEC: u16 = 0x0002;
/// PASID capability: privilege mode supported.
pub const PCI_PASID_CAP_PRIV: u16 = 0x0004;
/// PASID capability: max PASID width (pciutils' PCI_PASID_CAP_WIDTH).
pub const PCI_PASID_CAP_WIDTH: u16 = 0x1f00;
/// PASID control: enable.
pub const PCI_PASID_CTRL_ENABLE: u16 = 0x0001;
/// PASID control: execute permission enable.
pub const PCI_PASID_CTRL_EXEC: u16 = 0x0002;
/// PASID control: privilege mode enable.
pub const PCI_PASID_CTRL_PRIV: u16 = 0x0004;
/// ACS: source validation.
pub const PCI_ACS_SV: u16 = 0x0001;
/// ACS: translation blocking.
pub const PCI_ACS_TB: u16 = 0x0002;
/// ACS: P2P request redirect.
pub const PCI_ACS_RR: u16 = 0x0004;
/// ACS: P2P completion redirect.
pub const PCI_ACS_CR: u16 = 0x0008;
/// ACS: upstream forwarding.
pub const PCI_ACS_UF: u16 = 0x0010;
/// ACS: P2P egress control.
pub const PCI_ACS_EC: u16 = 0x0020;
/// ACS: direct translated P2P.
pub const PCI_ACS_DT: u16 = 0x0040;
/// ARI capability: MFVC function groups capability.
pub const PCI_ARI_CAP_MFVC: u16 = 0x0001;
/// ARI capability: ACS function groups capability.
pub const PCI_ARI_CAP_ACS: u16 = 0x0002;
/// ARI capability: next function number.
pub const PCI_ARI_CAP_NFN: u16 = 0xff00;
/// ARI control: MFVC function groups enable.
pub const PCI_ARI_CTRL_MFVC: u16 = 0x0001;
/// ARI control: ACS function groups enable.
pub const PCI_ARI_CTRL_ACS: u16 = 0x0002;
/// ARI control: function group.
pub const PCI_ARI_CTRL_FG: u16 = 0x0070;
/// L1SS capabilities: PCI-PM L1.2 supported.
pub const PCI_L1SS_CAP_PCIPM_L1_2: u32 = 0x0000_0001;
/// L1SS capabilities: PCI-PM L1.1 supported.
pub const PCI_L1SS_CAP_PCIPM_L1_1: u32 = 0x0000_0002;
/// L1SS capabilities: ASPM L1.2 supported.
pub const PCI_L1SS_CAP_ASPM_L1_2: u32 = 0x0000_0004;
/// L1SS capabilities: ASPM L1.1 supported.
pub const PCI_L1SS_CAP_ASPM_L1_1: u32 = 0x0000_0008;
/// L1SS capabilities: L1 PM substates supported.
pub const PCI_L1SS_CAP_L1_PM_SS: u32 = 0x0000_0010;
/// L1SS capabilities: port common mode restore time.
pub const PCI_L1SS_CAP_CM_RESTORE_TIME: u32 = 0x0000_ff00;
/// L1SS capabilities: port T_POWER_ON scale.
pub const PCI_L1SS_CAP_P_PWR_ON_SCALE: u32 = 0x0003_0000;
/// L1SS capabilities: port T_POWER_ON value.
pub const PCI_L1SS_CAP_P_PWR_ON_VALUE: u32 = 0x00f8_0000;
/// L1SS control 1: LTR L1.2 threshold value.
pub const PCI_L1SS_CTL1_LTR_L12_TH_VALUE: u32 = 0x03ff_0000;
/// L1SS control 1: LTR L1.2 threshold scale (shift).
pub const PCI_L1SS_CTL1_LTR_L12_TH_SCALE_SHIFT: u32 = 29;
/// L1SS control 2: T_POWER_ON scale.
pub const PCI_L1SS_CTL2_T_PWR_ON_SCALE: u32 = 0x0000_0003;
/// L1SS control 2: T_POWER_ON value.
pub const PCI_L1SS_CTL2_T_PWR_ON_VALUE: u32 = 0x0000_00f8;
/// PTM capability: requester capable.
pub const PCI_PTM_CAP_REQ: u32 = 0x0000_0001;
/// PTM capability: responder capable.
pub const PCI_PTM_CAP_RES: u32 = 0x0000_0002;
/// PTM capability: root capable.
pub const PCI_PTM_CAP_ROOT: u32 = 0x0000_0004;
/// PTM: local clock granularity.
pub const PCI_PTM_GRANULARITY_MASK: u32 = 0x0000_ff00;
/// PTM control: enable.
pub const PCI_PTM_CTRL_ENABLE: u32 = 0x0000_0001;
/// PTM control: root select.
pub const PCI_PTM_CTRL_ROOT: u32 = 0x0000_0002;
/// DPC capability: interrupt message number.
pub const PCI_EXP_DPC_IRQ: u16 = 0x001f;
/// DPC capability: root port extensions.
pub const PCI_EXP_DPC_CAP_RP_EXT: u16 = 0x0020;
/// DPC capability: poisoned TLP egress blocking supported.
pub const PCI_EXP_DPC_CAP_POISONED_TLP: u16 = 0x0040;
/// DPC control: trigger enable (pciutils' PCI_DPC_CTL_TRIGGER).
pub const PCI_EXP_DPC_CTL_EN_MASK: u16 = 0x0003;
/// DPC control: interrupt enable.
pub const PCI_EXP_DPC_CTL_INT_EN: u16 = 0x0008;
/// DPC control: ERR_COR enable (pciutils' PCI_DPC_CTL_ERR_COR).
pub const PCI_EXP_DPC_CTL_ERR_COR: u16 = 0x0010;
/// DPC status: trigger status.
pub const PCI_EXP_DPC_STATUS_TRIGGER: u16 = 0x0001;
/// DPC status: trigger reason.
pub const PCI_EXP_DPC_STATUS_TRIGGER_RSN: u16 = 0x0006;
/// TPH capability: no ST mode supported.
pub const PCI_TPH_CAP_ST_NS: u32 = 0x0000_0001;
/// TPH capability: interrupt vector mode supported.
pub const PCI_TPH_CAP_ST_IV: u32 = 0x0000_0002;
/// TPH capability: device-specific mode supported.
pub const PCI_TPH_CAP_ST_DS: u32 = 0x0000_0004;
/// TPH capability: ST table size (entries minus one).
pub const PCI_TPH_CAP_ST_MASK: u32 = 0x07ff_0000;
/// TPH control: ST mode select.
pub const PCI_TPH_CTRL_MODE_SEL_MASK: u32 = 0x0000_0007;
/// TPH control: requester enable.
pub const PCI_TPH_CTRL_REQ_EN_MASK: u32 = 0x0000_0300;
/// VC port capability 1: extended VC count.
pub const PCI_VC_CAP1_EVCC: u32 = 0x0000_0007;
/// VC port capability 1: low priority extended VC count.
pub const PCI_VC_CAP1_LPEVCC: u32 = 0x0000_0070;
/// VSEC / DVSEC header: ID (VSEC) or vendor (DVSEC).
pub const PCI_VNDR_HEADER_ID_MASK: u32 = 0x0000_ffff;
/// VSEC / DVSEC header: revision.
pub const PCI_VNDR_HEADER_REV_MASK: u32 = 0x000f_0000;
/// VSEC / DVSEC header: length (shift).
pub const PCI_VNDR_HEADER_LEN_SHIFT: u32 = 20;
/// PCIe device status: correctable error detected.
pub const PCI_EXP_DEVSTA_CED: u16 = 0x0001;
/// PCIe device status: non-fatal error detected.
pub const PCI_EXP_DEVSTA_NFED: u16 = 0x0002;
/// PCIe device status: fatal error detected.
pub const PCI_EXP_DEVSTA_FED: u16 = 0x0004;
/// PCIe device status: unsupported request detected.
pub const PCI_EXP_DEVSTA_URD: u16 = 0x0008;
/// PCIe link capabilities: clock power management.
pub const PCI_EXP_LNKCAP_CLKPM: u32 = 0x0004_0000;
/// PCIe link capabilities: surprise down error reporting capable.
pub const PCI_EXP_LNKCAP_SDERC: u32 = 0x0008_0000;
/// PCIe link control: clock PM enable.
pub const PCI_EXP_LNKCTL_CLKREQ_EN: u16 = 0x0100;
/// PCIe link control: hardware autonomous width disable.
pub const PCI_EXP_LNKCTL_HAWD: u16 = 0x0200;
/// PCIe link control: link bandwidth management interrupt enable.
pub const PCI_EXP_LNKCTL_LBMIE: u16 = 0x0400;
/// PCIe link control: link autonomous bandwidth interrupt enable.
pub const PCI_EXP_LNKCTL_LABIE: u16 = 0x0800;
/// PCIe link status: link bandwidth management status.
pub const PCI_EXP_LNKSTA_LBMS: u16 = 0x4000;
/// PCIe link status: link autonomous bandwidth status.
pub const PCI_EXP_LNKSTA_LABS: u16 = 0x8000;
/// PCIe root control: system error on correctable error.
pub const PCI_EXP_RTCTL_SECEE: u16 = 0x0001;
/// PCIe root control: system error on non-fatal error.
pub const PCI_EXP_RTCTL_SENFEE: u16 = 0x0002;
/// PCIe root control: system error on fatal error.
pub const PCI_EXP_RTCTL_SEFEE: u16 = 0x0004;
/// PCIe root control: PME interrupt enable.
pub const PCI_EXP_RTCTL_PMEIE: u16 = 0x0008;
/// PCIe root control: CRS software visibility enable.
pub const PCI_EXP_RTCTL_CRSSVE: u16 = 0x0010;
/// PCIe root capabilities: CRS software visibility.
pub const PCI_EXP_RTCAP_CRSVIS: u16 = 0x0001;
/// PCIe root status: PME status.
pub const PCI_EXP_RTSTA_PME: u32 = 0x0001_0000;
/// PCIe root status: PME pending.
pub const PCI_EXP_RTSTA_PENDING: u32 = 0x0002_0000;
/// LTR latency value.
pub const PCI_LTR_VALUE_MASK: u16 = 0x03ff;
/// LTR latency scale.
pub const PCI_LTR_SCALE_MASK: u16 = 0x1c00;
/// PCIe device capabilities 2: completion timeout disable supported.
pub const PCI_EXP_DEVCAP2_COMP_TMOUT_DIS: u32 = 0x0000_0010;
/// PCIe device capabilities 2: atomic operation routing supported.
pub const PCI_EXP_DEVCAP2_ATOMIC_ROUTE: u32 = 0x0000_0040;
/// PCIe device capabilities 2: latency tolerance reporting.
pub const PCI_EXP_DEVCAP2_LTR: u32 = 0x0000_0800;
/// PCIe device capabilities 2: OBFF support.
pub const PCI_EXP_DEVCAP2_OBFF_MASK: u32 = 0x000c_0000;
/// PCIe device control 2: completion timeout value.
pub const PCI_EXP_DEVCTL2_COMP_TIMEOUT: u16 = 0x000f;
/// PCIe device control 2: completion timeout disable.
pub const PCI_EXP_DEVCTL2_COMP_TMOUT_DIS: u16 = 0x0010;
/// PCIe device control 2: atomic operation requester enable.
pub const PCI_EXP_DEVCTL2_ATOMIC_REQ: u16 = 0x0040;
/// PCIe device control 2: LTR mechanism enable.
pub const PCI_EXP_DEVCTL2_LTR_EN: u16 = 0x0400;
/// PCIe device control 2: OBFF enable (both bits).
pub const PCI_EXP_DEVCTL2_OBFF_WAKE_EN: u16 = 0x6000;
/// PCIe link capabilities 2: crosslink supported.
pub const PCI_EXP_LNKCAP2_CROSSLINK: u32 = 0x0000_0100;
/// PCIe link control 2: enter compliance.
pub const PCI_EXP_LNKCTL2_ENTER_COMP: u16 = 0x0010;
/// PCIe link control 2: hardware autonomous speed disable.
pub const PCI_EXP_LNKCTL2_HASD: u16 = 0x0020;
