//! The values of QEMU 10.0.2's migration stream format, in one place: the file header and the
//! section types (migration/savevm.h), the commands (migration/savevm.c), the RAM page flags
//! (migration/ram.h, ram.c), the vfio markers (include/hw/vfio/vfio-common.h), and the sizes of
//! the device-state fields the reader looks across (vmstate_pci_device, msix_save, virtio_save).

use pcimig_config::regs::{PCI_MSIX_ENTRY_SIZE, PCI_MSIX_FLAGS_QSIZE};
use pcimig_config::vmstate::PCI_NUM_PINS;

// ---------------------------------------------------------------------------------------------
// File header (qemu_loadvm_state_header).

/// QEMU_VM_FILE_MAGIC, "QEVM".
pub const QEMU_VM_FILE_MAGIC: u32 = 0x5145_564d;
/// QEMU_VM_FILE_VERSION.
pub const QEMU_VM_FILE_VERSION: u32 = 3;
/// QEMU_VM_FILE_VERSION_COMPAT (rejected by QEMU).
pub const QEMU_VM_FILE_VERSION_COMPAT: u32 = 2;
/// The file header: be32 magic, be32 version.
pub(super) const QEMU_VM_FILE_HEADER_LEN: u64 = 8;

// ---------------------------------------------------------------------------------------------
// Section types (the byte qemu_loadvm_state_main dispatches on).

/// QEMU_VM_EOF: end of device state.
pub(super) const QEMU_VM_EOF: u8 = 0x00;
/// QEMU_VM_SECTION_START: first chunk of an iterable section (full header).
pub(super) const QEMU_VM_SECTION_START: u8 = 0x01;
/// QEMU_VM_SECTION_PART: a middle chunk of an iterable section (short header).
pub(super) const QEMU_VM_SECTION_PART: u8 = 0x02;
/// QEMU_VM_SECTION_END: the last chunk of an iterable section (short header).
pub(super) const QEMU_VM_SECTION_END: u8 = 0x03;
/// QEMU_VM_SECTION_FULL: a non-iterable section (full header).
pub(super) const QEMU_VM_SECTION_FULL: u8 = 0x04;
/// QEMU_VM_SUBSECTION: a subsection inside vmstate data.
pub(super) const QEMU_VM_SUBSECTION: u8 = 0x05;
/// QEMU_VM_VMDESCRIPTION: the vmdesc JSON after EOF.
pub(super) const QEMU_VM_VMDESCRIPTION: u8 = 0x06;
/// QEMU_VM_CONFIGURATION: the configuration section.
pub(super) const QEMU_VM_CONFIGURATION: u8 = 0x07;
/// QEMU_VM_COMMAND: a command (be16 cmd, be16 len, data).
pub(super) const QEMU_VM_COMMAND: u8 = 0x08;
/// QEMU_VM_SECTION_FOOTER: section footer (be32 section id).
pub(super) const QEMU_VM_SECTION_FOOTER: u8 = 0x7e;

/// Section type bytes under their public names (the same values as the `QEMU_VM_*` ones).
pub mod section_type {
    /// End of device state (QEMU_VM_EOF).
    pub const EOF: u8 = super::QEMU_VM_EOF;
    /// First chunk of an iterable section, full header (QEMU_VM_SECTION_START).
    pub const START: u8 = super::QEMU_VM_SECTION_START;
    /// A middle chunk of an iterable section, short header (QEMU_VM_SECTION_PART).
    pub const PART: u8 = super::QEMU_VM_SECTION_PART;
    /// The last chunk of an iterable section, short header (QEMU_VM_SECTION_END).
    pub const END: u8 = super::QEMU_VM_SECTION_END;
    /// A non-iterable section, full header (QEMU_VM_SECTION_FULL).
    pub const FULL: u8 = super::QEMU_VM_SECTION_FULL;
    /// A subsection inside vmstate data (QEMU_VM_SUBSECTION).
    pub const SUBSECTION: u8 = super::QEMU_VM_SUBSECTION;
    /// The vmdesc JSON after EOF (QEMU_VM_VMDESCRIPTION).
    pub const VMDESCRIPTION: u8 = super::QEMU_VM_VMDESCRIPTION;
    /// The configuration section (QEMU_VM_CONFIGURATION).
    pub const CONFIGURATION: u8 = super::QEMU_VM_CONFIGURATION;
    /// A command: be16 cmd, be16 len, data (QEMU_VM_COMMAND).
    pub const COMMAND: u8 = super::QEMU_VM_COMMAND;
    /// Section footer: be32 section id (QEMU_VM_SECTION_FOOTER).
    pub const FOOTER: u8 = super::QEMU_VM_SECTION_FOOTER;
}

/// A section type byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SectionType {
    /// QEMU_VM_EOF.
    Eof,
    /// QEMU_VM_SECTION_START.
    Start,
    /// QEMU_VM_SECTION_PART.
    Part,
    /// QEMU_VM_SECTION_END.
    End,
    /// QEMU_VM_SECTION_FULL.
    Full,
    /// QEMU_VM_SUBSECTION.
    Subsection,
    /// QEMU_VM_VMDESCRIPTION.
    VmDescription,
    /// QEMU_VM_CONFIGURATION.
    Configuration,
    /// QEMU_VM_COMMAND.
    Command,
    /// QEMU_VM_SECTION_FOOTER.
    Footer,
}

impl SectionType {
    /// The section type a byte stands for, if any.
    pub(super) fn from_byte(b: u8) -> Option<SectionType> {
        Some(match b {
            QEMU_VM_EOF => SectionType::Eof,
            QEMU_VM_SECTION_START => SectionType::Start,
            QEMU_VM_SECTION_PART => SectionType::Part,
            QEMU_VM_SECTION_END => SectionType::End,
            QEMU_VM_SECTION_FULL => SectionType::Full,
            QEMU_VM_SUBSECTION => SectionType::Subsection,
            QEMU_VM_VMDESCRIPTION => SectionType::VmDescription,
            QEMU_VM_CONFIGURATION => SectionType::Configuration,
            QEMU_VM_COMMAND => SectionType::Command,
            QEMU_VM_SECTION_FOOTER => SectionType::Footer,
            _ => return None,
        })
    }

    /// The chunk name messages use (`START`, `PART`, …).
    pub(super) fn name(self) -> &'static str {
        match self {
            SectionType::Eof => "EOF",
            SectionType::Start => "START",
            SectionType::Part => "PART",
            SectionType::End => "END",
            SectionType::Full => "FULL",
            SectionType::Subsection => "SUBSECTION",
            SectionType::VmDescription => "VMDESCRIPTION",
            SectionType::Configuration => "CONFIGURATION",
            SectionType::Command => "COMMAND",
            SectionType::Footer => "FOOTER",
        }
    }

    /// Whether this type may follow a section footer: another section, a command or EOF.
    pub(super) fn may_follow_footer(self) -> bool {
        matches!(
            self,
            SectionType::Eof
                | SectionType::Start
                | SectionType::Part
                | SectionType::End
                | SectionType::Full
                | SectionType::Command
        )
    }
}

/// A section footer: QEMU_VM_SECTION_FOOTER, be32 section id (save_section_footer).
pub(super) const SECTION_FOOTER_LEN: usize = 5;

/// The bytes of a subsection header: QEMU_VM_SUBSECTION, u8 name length, the name, be32
/// version_id (vmstate_subsection_save).
pub(super) fn subsection_header_len(name_len: usize) -> u64 {
    1 + 1 + name_len as u64 + 4
}

/// The vmdesc record's header: QEMU_VM_VMDESCRIPTION, be32 JSON length (then the JSON).
pub(super) const VMDESC_HEADER_LEN: u64 = 5;

// ---------------------------------------------------------------------------------------------
// The configuration section (vmstate_configuration).

/// Subsection of the configuration with the sender's TARGET_PAGE_BITS (be32).
pub(super) const CONFIGURATION_TARGET_PAGE_BITS: &str = "configuration/target-page-bits";
/// Subsection of the configuration with the format-changing capabilities (be32 count, then
/// one-byte-length names).
pub(super) const CONFIGURATION_CAPABILITIES: &str = "configuration/capabilities";
/// Subsection of the configuration with the VM's UUID.
pub(super) const CONFIGURATION_UUID: &str = "configuration/uuid";
/// Bytes of a QemuUUID.
pub(super) const UUID_LEN: u64 = 16;
/// The capability that puts RAM pages at fixed file offsets.
pub(super) const CAPABILITY_MAPPED_RAM: &str = "mapped-ram";
/// The capability that sends each RAM block's guest address.
pub(super) const CAPABILITY_X_IGNORE_SHARED: &str = "x-ignore-shared";

// ---------------------------------------------------------------------------------------------
// Commands (QEMU_VM_COMMAND, loadvm_process_command).

/// MIG_CMD_INVALID: never sent.
pub(super) const MIG_CMD_INVALID: u16 = 0;
/// MIG_CMD_POSTCOPY_ADVISE: the source has postcopy-ram on.
pub(super) const MIG_CMD_POSTCOPY_ADVISE: u16 = 3;
/// MIG_CMD_POSTCOPY_ADVISE's data when postcopy-ram is on: be64 remote page-size summary (the
/// OR of the RAM blocks' page sizes), be64 target page size.
pub(super) const MIG_CMD_POSTCOPY_ADVISE_LEN: u16 = 16;
/// MIG_CMD_PACKAGED: a postcopy package, which a file stream does not carry.
pub(super) const MIG_CMD_PACKAGED: u16 = 7;
/// MIG_CMD_MAX: one past the last command (MIG_CMD_SWITCHOVER_START, 11).
pub(super) const MIG_CMD_MAX: u16 = 12;

// ---------------------------------------------------------------------------------------------
// RAM (the "ram" section, ram_load_precopy).

/// The RAM section's idstr.
pub(super) const RAM_IDSTR: &str = "ram";
/// The RAM section's version_id (register_savevm_live("ram", 0, 4, …)).
pub(super) const RAM_SECTION_VERSION: u32 = 4;
/// RAM_SAVE_FLAG_ZERO: a page of one repeated byte (be64 header, u8 fill).
pub(super) const RAM_SAVE_FLAG_ZERO: u64 = 0x002;
/// RAM_SAVE_FLAG_MEM_SIZE: the RAM block list (the header's address part is the total size).
pub(super) const RAM_SAVE_FLAG_MEM_SIZE: u64 = 0x004;
/// RAM_SAVE_FLAG_PAGE: a whole page.
pub(super) const RAM_SAVE_FLAG_PAGE: u64 = 0x008;
/// RAM_SAVE_FLAG_EOS: end of this chunk of the RAM section.
pub(super) const RAM_SAVE_FLAG_EOS: u64 = 0x010;
/// RAM_SAVE_FLAG_CONTINUE: same RAM block as the previous page (no block name).
pub(super) const RAM_SAVE_FLAG_CONTINUE: u64 = 0x020;
/// RAM_SAVE_FLAG_XBZRLE: an XBZRLE-encoded page (u8 flags, be16 length, data).
pub(super) const RAM_SAVE_FLAG_XBZRLE: u64 = 0x040;
/// RAM_SAVE_FLAG_HOOK: an RDMA hook.
pub(super) const RAM_SAVE_FLAG_HOOK: u64 = 0x080;
/// RAM_SAVE_FLAG_MULTIFD_FLUSH: multifd sync point.
pub(super) const RAM_SAVE_FLAG_MULTIFD_FLUSH: u64 = 0x200;
/// MAPPED_RAM_HDR_VERSION: the MappedRamHeader version (be32 version, be64 page_size, be64
/// bitmap_offset, be64 pages_offset).
pub(super) const MAPPED_RAM_HDR_VERSION: u32 = 1;
/// Fewest TARGET_PAGE_BITS the reader accepts (512-byte pages).
pub(super) const TARGET_PAGE_BITS_MIN: u32 = 9;
/// Most TARGET_PAGE_BITS the reader accepts (1 MiB pages).
pub(super) const TARGET_PAGE_BITS_MAX: u32 = 20;

// ---------------------------------------------------------------------------------------------
// vfio (hw/vfio/migration.c), be64 markers.

/// VFIO_MIG_FLAG_END_OF_STATE.
pub(super) const VFIO_MIG_FLAG_END_OF_STATE: u64 = 0xffff_ffff_ef10_0001;
/// VFIO_MIG_FLAG_DEV_CONFIG_STATE.
pub(super) const VFIO_MIG_FLAG_DEV_CONFIG_STATE: u64 = 0xffff_ffff_ef10_0002;
/// VFIO_MIG_FLAG_DEV_SETUP_STATE.
pub(super) const VFIO_MIG_FLAG_DEV_SETUP_STATE: u64 = 0xffff_ffff_ef10_0003;
/// VFIO_MIG_FLAG_DEV_DATA_STATE.
pub(super) const VFIO_MIG_FLAG_DEV_DATA_STATE: u64 = 0xffff_ffff_ef10_0004;
/// VFIO_MIG_FLAG_DEV_INIT_DATA_SENT.
pub(super) const VFIO_MIG_FLAG_DEV_INIT_DATA_SENT: u64 = 0xffff_ffff_ef10_0005;
/// Bytes of a vfio marker.
pub(super) const VFIO_MIG_FLAG_LEN: u64 = 8;

/// VFIO_MIG_FLAG_* markers under their public names (the same values), be64 in the stream.
pub mod vfio_flag {
    /// VFIO_MIG_FLAG_END_OF_STATE.
    pub const END_OF_STATE: u64 = super::VFIO_MIG_FLAG_END_OF_STATE;
    /// VFIO_MIG_FLAG_DEV_CONFIG_STATE.
    pub const DEV_CONFIG_STATE: u64 = super::VFIO_MIG_FLAG_DEV_CONFIG_STATE;
    /// VFIO_MIG_FLAG_DEV_SETUP_STATE.
    pub const DEV_SETUP_STATE: u64 = super::VFIO_MIG_FLAG_DEV_SETUP_STATE;
    /// VFIO_MIG_FLAG_DEV_DATA_STATE.
    pub const DEV_DATA_STATE: u64 = super::VFIO_MIG_FLAG_DEV_DATA_STATE;
    /// VFIO_MIG_FLAG_DEV_INIT_DATA_SENT.
    pub const DEV_INIT_DATA_SENT: u64 = super::VFIO_MIG_FLAG_DEV_INIT_DATA_SENT;
}

// ---------------------------------------------------------------------------------------------
// Device states the reader looks across.

/// vmstate_pci_device's first field: be32 version_id ("int32 le"); the config follows it.
pub(super) const PCI_STATE_VERSION_LEN: u64 = 4;
/// vmstate_pci_device's irq_state: PCI_NUM_PINS × be32, each 0 or 1.
pub(super) const PCI_IRQ_STATE_LEN: u64 = PCI_NUM_PINS as u64 * 4;
/// One be32 of irq_state holding 0 or 1 (get_pci_irq_state).
pub(super) fn is_pci_irq_state(be32: &[u8]) -> bool {
    be32 == [0, 0, 0, 0] || be32 == [0, 0, 0, 1]
}

/// Most MSI-X vectors (PCI_MSIX_FLAGS_QSIZE + 1).
pub(super) const MSIX_VECTORS_MAX: u64 = PCI_MSIX_FLAGS_QSIZE as u64 + 1;
/// Bytes msix_save writes for `n` vectors: the table (PCI_MSIX_ENTRY_SIZE each), then the
/// pending bit array (one bit each, in bytes).
pub(super) fn msix_save_len(n: u64) -> u64 {
    n * PCI_MSIX_ENTRY_SIZE as u64 + n.div_ceil(8)
}

/// virtio_pci_save_config: be16 config_vector after the MSI-X state (with MSI-X only).
pub(super) const VIRTIO_CONFIG_VECTOR_LEN: u64 = 2;
/// virtio_save before config_len: u8 status, u8 isr, be16 queue_sel, be32 guest_features_lo.
pub(super) const VIRTIO_STATUS_TO_FEATURES_LEN: u64 = 8;
/// VIRTIO_QUEUE_MAX: most queues a virtio device has.
pub(super) const VIRTIO_QUEUE_MAX: u32 = 1024;
/// VIRTQUEUE_MAX_SIZE: most entries in one queue.
pub(super) const VIRTQUEUE_MAX_SIZE: u32 = 1024;
/// Largest virtio config_len the reader believes.
pub(super) const VIRTIO_CONFIG_LEN_MAX: u64 = 65536;
