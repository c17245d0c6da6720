//! The stream format's values: file header, section types, commands, RAM flags, vfio markers.

/// QEMU_VM_FILE_MAGIC, "QEVM".
pub const QEMU_VM_FILE_MAGIC: u32 = 0x5145_564d;
/// QEMU_VM_FILE_VERSION.
pub const QEMU_VM_FILE_VERSION: u32 = 3;
/// QEMU_VM_FILE_VERSION_COMPAT (rejected by QEMU).
pub const QEMU_VM_FILE_VERSION_COMPAT: u32 = 2;

/// Section type bytes (migration/savevm.c).
pub mod section_type {
    /// End of device state.
    pub const EOF: u8 = 0x00;
    /// First chunk of an iterable section (full header).
    pub const START: u8 = 0x01;
    /// A middle chunk of an iterable section (short header).
    pub const PART: u8 = 0x02;
    /// The last chunk of an iterable section (short header).
    pub const END: u8 = 0x03;
    /// A non-iterable section (full header).
    pub const FULL: u8 = 0x04;
    /// A subsection inside vmstate data.
    pub const SUBSECTION: u8 = 0x05;
    /// The vmdesc JSON after EOF.
    pub const VMDESCRIPTION: u8 = 0x06;
    /// The configuration section.
    pub const CONFIGURATION: u8 = 0x07;
    /// A command (be16 cmd, be16 len, data).
    pub const COMMAND: u8 = 0x08;
    /// Section footer (be32 section id).
    pub const FOOTER: u8 = 0x7e;
}

/// RAM_SAVE_FLAG_* (migration/ram.h).
pub(super) mod ram_flag {
    pub(crate) const ZERO: u64 = 0x002;
    pub(crate) const MEM_SIZE: u64 = 0x004;
    pub(crate) const PAGE: u64 = 0x008;
    pub(crate) const EOS: u64 = 0x010;
    pub(crate) const CONTINUE: u64 = 0x020;
    pub(crate) const XBZRLE: u64 = 0x040;
    pub(crate) const HOOK: u64 = 0x080;
    pub(crate) const MULTIFD_FLUSH: u64 = 0x200;
}

/// VFIO_MIG_FLAG_* markers (hw/vfio/migration.c), be64 in the stream.
pub mod vfio_flag {
    /// VFIO_MIG_FLAG_END_OF_STATE.
    pub const END_OF_STATE: u64 = 0xffff_ffff_ef10_0001;
    /// VFIO_MIG_FLAG_DEV_CONFIG_STATE.
    pub const DEV_CONFIG_STATE: u64 = 0xffff_ffff_ef10_0002;
    /// VFIO_MIG_FLAG_DEV_SETUP_STATE.
    pub const DEV_SETUP_STATE: u64 = 0xffff_ffff_ef10_0003;
    /// VFIO_MIG_FLAG_DEV_DATA_STATE.
    pub const DEV_DATA_STATE: u64 = 0xffff_ffff_ef10_0004;
    /// VFIO_MIG_FLAG_DEV_INIT_DATA_SENT.
    pub const DEV_INIT_DATA_SENT: u64 = 0xffff_ffff_ef10_0005;
}

/// QEMU_VM_COMMAND values 1..=11 (MIG_CMD_OPEN_RETURN_PATH .. MIG_CMD_SWITCHOVER_START).
pub(super) const MIG_CMD_MAX: u16 = 11;
/// MIG_CMD_POSTCOPY_ADVISE: the source has postcopy-ram on.
pub(super) const MIG_CMD_POSTCOPY_ADVISE: u16 = 3;
/// MIG_CMD_PACKAGED: a postcopy package, which a file stream does not carry.
pub(super) const MIG_CMD_PACKAGED: u16 = 7;
