//! Every resource limit of the stream reader, in one place. A stream that hits one is refused
//! with an error naming the limit (its constant's name and value) and the offset it was hit at;
//! none of them is reached by a stream QEMU writes. README.md's "Limits" section lists them.

/// Bytes the walk reads at once: page headers are parsed from this buffer in memory, and a
/// skip past its end (a run of page payloads) costs no read. Peak memory of a walk is this
/// buffer plus the vmdesc, whatever the stream size.
pub const READ_CHUNK: usize = 256 * 1024;

/// Largest vmdesc JSON read (analyze-migration.py looks at the last 10 MiB only).
pub const MAX_VMDESC: u64 = 10 * 1024 * 1024;

/// Most sections a stream may declare (QEMU has a few hundred at most).
pub const MAX_SECTIONS: usize = 65536;

/// Most PCI devices one stream may hold (QEMU's 256 buses × 32 slots × 8 functions).
pub const MAX_PCI_DEVICES: usize = 65536;

/// Largest field taken from a stream into memory at once ([`crate::Stream::read_bytes`]); every
/// other field the reader keeps is at most 4096 bytes (a config) or 255 (a name).
pub const MAX_FIELD_BYTES: usize = 1 << 20;

/// Most RAM blocks one RAM_SAVE_FLAG_MEM_SIZE list may name.
pub const MAX_RAM_BLOCKS: u32 = 65536;

/// Most records one iterable vfio chunk may hold.
pub const MAX_VFIO_RECORDS: u64 = 1 << 32;

/// Longest machine type name the reader accepts.
pub const MAX_MACHINE_TYPE_LEN: u64 = 256;

/// Most capabilities the configuration section may list.
pub const MAX_CAPABILITIES: u32 = 256;

/// How far one search for a section footer reads when no vmdesc delimits the section.
pub const FOOTER_SCAN_LIMIT: u64 = 64 * 1024 * 1024;

/// Bytes all footer searches of one stream may read together (hostile streams could otherwise
/// make every section search far).
pub const FOOTER_SCAN_BUDGET: u64 = 1 << 30;

/// virtio sections whose layout may be searched exhaustively (damaged capability chains).
pub const VIRTIO_SEARCHES: u32 = 64;

/// Deepest struct nesting the vmdesc layout search follows.
pub const MAX_VMDESC_DEPTH: usize = 32;
