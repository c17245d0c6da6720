//! Sources: turn a SRC argument into config bytes and say where they came from. No masks here.
//!
//! One syntax everywhere a SRC is taken:
//! - `FILE` — format detected by content: a binary dump (256 or 4096 bytes; 64 = truncated
//!   unprivileged sysfs read), `lspci -x/-xxx/-xxxx` text, or a QEMU migration stream;
//! - `FILE#SELECTOR` — one device of a many-device file (a BDF for lspci text, a device name
//!   for a stream);
//! - `sysfs:DDDD:BB:DD.F` (or a bare BDF when no file of that name exists), `vfio:…`,
//!   `stream:FILE#DEVICE`;
//! - `-` — standard input: a binary dump or lspci text (at most [`MAX_TEXT_SOURCE`] bytes; a
//!   stream needs a seekable file). Anything else that is not a regular file (a FIFO, a device,
//!   a directory) is refused before it is opened.

mod binary;
pub mod lspci;
mod stdin;
mod stream;
pub mod sysfs;
mod vfio;

use pcimig_config::regs::{PCIE_CONFIG_SPACE_SIZE, PCI_CONFIG_HEADER_SIZE, PCI_CONFIG_SPACE_SIZE};
use std::fmt;
use std::path::Path;

/// BAR and ROM sizes of a physical device (from sysfs `resource` or the command line).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize)]
pub struct BarSizes {
    /// BAR 0..5 sizes in bytes (`None`: not implemented).
    pub bars: [Option<u64>; 6],
    /// Expansion ROM size.
    pub rom: Option<u64>,
}

/// What the bytes are.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// A device's config as its host presents it (dump, lspci text, sysfs, VFIO).
    Physical,
    /// A saved config taken from a migration stream: used as saved, never re-virtualized.
    Saved,
}

/// Config bytes that are a truncated view of a larger space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Truncation {
    /// Bytes available.
    pub have: usize,
    /// Bytes the device has (at least).
    pub full: usize,
}

/// One device's config bytes and where they came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigSource {
    /// Human name of the origin: `path`, `path#00:02.0`, `sysfs:0000:3b:00.0`, `stream.mig#…`.
    pub origin: String,
    /// The bytes: 256 or 4096, or fewer when `truncated` says so.
    pub bytes: Vec<u8>,
    /// Physical or saved.
    pub kind: SourceKind,
    /// Set when the bytes are a truncated view.
    pub truncated: Option<Truncation>,
    /// BAR/ROM sizes when the source knows them (sysfs).
    pub bar_sizes: Option<BarSizes>,
    /// Bound host driver when known (sysfs).
    pub driver: Option<String>,
    /// The device's address as the source names it, if any.
    pub bdf: Option<String>,
    /// Things the reader noticed that do not stop it.
    pub warnings: Vec<String>,
}

impl ConfigSource {
    /// A physical config from bytes, with no extra knowledge.
    pub fn physical(origin: impl Into<String>, bytes: Vec<u8>) -> Self {
        ConfigSource {
            origin: origin.into(),
            bytes,
            kind: SourceKind::Physical,
            truncated: None,
            bar_sizes: None,
            driver: None,
            bdf: None,
            warnings: Vec::new(),
        }
    }
}

/// A source that cannot be read. The message names the file and, where it applies, the offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceError {
    /// The SRC as given.
    pub origin: String,
    /// Byte offset (file or stream) the problem is at, when there is one.
    pub offset: Option<u64>,
    /// What is wrong.
    pub message: String,
}

impl SourceError {
    /// An error about `origin` with no particular offset.
    pub fn new(origin: impl Into<String>, message: impl Into<String>) -> Self {
        SourceError {
            origin: origin.into(),
            offset: None,
            message: message.into(),
        }
    }

    /// An error about `origin` at byte `offset`.
    pub fn at(origin: impl Into<String>, offset: u64, message: impl Into<String>) -> Self {
        SourceError {
            origin: origin.into(),
            offset: Some(offset),
            message: message.into(),
        }
    }
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.offset {
            Some(o) => write!(f, "{}: at byte {:#x}: {}", self.origin, o, self.message),
            None => write!(f, "{}: {}", self.origin, self.message),
        }
    }
}

impl std::error::Error for SourceError {}

/// A parsed SRC argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceSpec {
    /// The argument as given.
    pub raw: String,
    /// Explicit scheme (`sysfs`, `vfio`, `stream`, `file`) or none (detect).
    pub scheme: Option<String>,
    /// Path (or BDF for sysfs).
    pub path: String,
    /// `#SELECTOR`, if given.
    pub selector: Option<String>,
}

impl SourceSpec {
    /// Parse `[scheme:]PATH[#SELECTOR]`. A `scheme:` prefix is recognised only for the known
    /// schemes, so paths with colons (`0000:00:06.0.config.bin`) are paths.
    ///
    /// A file name may hold `#`: when PATH with everything after it names an existing file,
    /// that file is meant (`./a#b.bin`); a trailing `#` (`a#b.bin#`) is the escape that always
    /// means "the whole name, no selector". Otherwise the last `#` starts the selector.
    pub fn parse(raw: &str) -> Self {
        let (scheme, rest) = match raw.split_once(':') {
            Some((s, rest)) if matches!(s, "sysfs" | "vfio" | "stream" | "file") => (Some(s.to_string()), rest),
            _ => (None, raw),
        };
        let names_a_file = |p: &str| scheme.as_deref() != Some("sysfs") && std::fs::symlink_metadata(p).is_ok();
        let (path, selector) = match rest.rsplit_once('#') {
            Some((p, "")) => (p.to_string(), None),
            Some(_) if names_a_file(rest) => (rest.to_string(), None),
            Some((p, sel)) => (p.to_string(), Some(sel.to_string())),
            None => (rest.to_string(), None),
        };
        SourceSpec {
            raw: raw.to_string(),
            scheme,
            path,
            selector,
        }
    }
}

/// Read every device a SRC names (a many-device file without `#` gives several).
pub fn load_all(raw: &str) -> Result<Vec<ConfigSource>, SourceError> {
    let spec = SourceSpec::parse(raw);
    match spec.scheme.as_deref() {
        Some("file") => load_file(&spec),
        None if spec.selector.is_none() && sysfs::is_bare_bdf(&spec.path) && !Path::new(&spec.path).exists() => {
            sysfs::load(&spec)
        }
        None => load_file(&spec),
        Some("sysfs") => sysfs::load(&spec),
        Some("vfio") => vfio::load(&spec),
        Some("stream") => stream::load(&spec),
        Some(other) => Err(SourceError::new(raw, format!("unknown source scheme '{other}:'"))),
    }
}

/// The QEMU migration stream magic, "QEVM" big-endian.
pub const QEMU_VM_FILE_MAGIC: u32 = 0x5145_564d;

/// What a file holds, judged by its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A binary config dump (64, 256 or 4096 bytes).
    Binary,
    /// `lspci -x/-xxx/-xxxx` text.
    Lspci,
    /// A QEMU migration stream.
    Stream,
}

/// Detect a file's format from its bytes; `None` when it is none of the known ones.
pub fn detect(data: &[u8]) -> Option<Format> {
    if data.len() >= 4 && u32::from_be_bytes([data[0], data[1], data[2], data[3]]) == QEMU_VM_FILE_MAGIC {
        return Some(Format::Stream);
    }
    if lspci::looks_like_lspci(data) {
        return Some(Format::Lspci);
    }
    // A config space holds bytes text never has (zeros in reserved registers, at least); a file
    // of the right size that is all printable text is text, not a dump.
    let texty = data
        .iter()
        .all(|&b| b == b'\t' || b == b'\n' || b == b'\r' || (0x20..0x7f).contains(&b));
    if matches!(
        data.len(),
        PCI_CONFIG_HEADER_SIZE | PCI_CONFIG_SPACE_SIZE | PCIE_CONFIG_SPACE_SIZE
    ) && !texty
    {
        return Some(Format::Binary);
    }
    None
}

/// Hand every device a SRC names to `emit`, in order, as soon as each is read, and return how
/// many there were. lspci text without `#` is streamed (a malformed line late in the file is
/// reported after the devices before it were emitted); every other source is read whole first,
/// as [`load_all`] reads it.
pub fn load_each(raw: &str, emit: &mut dyn FnMut(ConfigSource)) -> Result<usize, SourceError> {
    load_each_while(raw, &mut |s| {
        emit(s);
        true
    })
}

/// [`load_each`], stopping as soon as `emit` returns false (a consumer that has gone away):
/// the count is then of the devices read so far.
pub fn load_each_while(raw: &str, emit: &mut dyn FnMut(ConfigSource) -> bool) -> Result<usize, SourceError> {
    use std::io::{Read, Seek};
    let spec = SourceSpec::parse(raw);
    let plain_file = matches!(spec.scheme.as_deref(), None | Some("file")) && spec.selector.is_none();
    if plain_file && spec.path == STDIN {
        return stdin::each(&spec, emit);
    }
    if plain_file && Path::new(&spec.path).is_file() {
        let cannot = |e: std::io::Error| SourceError::new(&spec.path, format!("cannot read: {e}"));
        let mut f = std::fs::File::open(&spec.path).map_err(cannot)?;
        let len = f.metadata().map_err(cannot)?.len();
        let mut head = Vec::with_capacity(HEAD);
        (&mut f).take(HEAD as u64).read_to_end(&mut head).map_err(cannot)?;
        let is_stream =
            head.len() >= 4 && u32::from_be_bytes([head[0], head[1], head[2], head[3]]) == QEMU_VM_FILE_MAGIC;
        if !is_stream && len <= MAX_TEXT_SOURCE && lspci::looks_like_lspci(&head) {
            f.rewind().map_err(cannot)?;
            return lspci::stream(&spec, std::io::BufReader::with_capacity(1 << 20, f), emit);
        }
    }
    let all = load_all(raw)?;
    let n = all.len();
    for s in all {
        if !emit(s) {
            break;
        }
    }
    Ok(n)
}

/// Read exactly one device: a SRC naming several is an error listing them.
pub fn load_one(raw: &str) -> Result<ConfigSource, SourceError> {
    let mut all = load_all(raw)?;
    match all.len() {
        1 => Ok(all.remove(0)),
        0 => Err(SourceError::new(raw, "no device found")),
        n => {
            let names: Vec<String> = all
                .iter()
                .map(|s| s.bdf.clone().unwrap_or_else(|| s.origin.clone()))
                .collect();
            Err(SourceError::new(
                raw,
                format!("holds {n} devices ({}); select one with {raw}#DEVICE", names.join(", ")),
            ))
        }
    }
}

fn load_file(spec: &SourceSpec) -> Result<Vec<ConfigSource>, SourceError> {
    use std::io::{Read, Seek};
    if spec.path == STDIN {
        return stdin::all(spec);
    }
    let path = Path::new(&spec.path);
    let origin = spec.path.as_str();
    let cannot = |e: std::io::Error| SourceError::new(origin, format!("cannot read: {e}"));
    let meta = std::fs::metadata(path).map_err(cannot)?;
    regular_file(origin, &meta)?;
    let mut f = std::fs::File::open(path).map_err(cannot)?;
    // Detection needs the start only: the magic, the size, the first lines of text.
    let mut head = Vec::with_capacity(HEAD);
    (&mut f).take(HEAD as u64).read_to_end(&mut head).map_err(cannot)?;
    if head.len() >= 4 && u32::from_be_bytes([head[0], head[1], head[2], head[3]]) == QEMU_VM_FILE_MAGIC {
        // A stream is read by its own reader, in bounded pieces.
        return stream::load(spec);
    }
    if meta.len() > MAX_TEXT_SOURCE {
        return Err(SourceError::new(
            origin,
            format!(
                "{} bytes is too large for a config dump or lspci text (limit {MAX_TEXT_SOURCE})",
                meta.len()
            ),
        ));
    }
    if lspci::looks_like_lspci(&head) {
        f.rewind().map_err(cannot)?;
        return lspci::load(spec, std::io::BufReader::with_capacity(1 << 20, f));
    }
    dump_or_error(spec, head, meta.len())
}

/// A file that is not lspci text or a stream, whose first [`HEAD`] bytes are `head` and whose
/// length is `len`: a binary dump, or an error saying what it is not.
fn dump_or_error(spec: &SourceSpec, head: Vec<u8>, len: u64) -> Result<Vec<ConfigSource>, SourceError> {
    let origin = spec.path.as_str();
    let complete = head.len() < HEAD;
    match detect(&head) {
        Some(Format::Binary) if complete => binary::load(spec, head),
        None if head.is_empty() => Err(SourceError::new(origin, "empty file: not a config source")),
        _ => Err(SourceError::new(
            origin,
            format!(
                "not a config source: {len} bytes that are neither a binary config dump (256 or 4096 bytes, or the 64 of an \
                 unprivileged sysfs read), lspci -x/-xxx/-xxxx text (no line like '00:1f.3 …' followed by hex lines), \
                 nor a QEMU migration stream (magic QEVM)"
            ),
        )),
    }
}

/// The SRC that means standard input.
pub const STDIN: &str = "-";

/// What a file type is, for a message: `a directory`, `a FIFO (named pipe)`, `a character
/// device`, … (`a regular file` for one).
pub fn file_kind(t: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_file() {
        "a regular file"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_symlink() {
        "a symbolic link"
    } else {
        "not a regular file"
    }
}

/// Refuse what is not a regular file before opening it: opening a FIFO waits for a writer, a
/// character device (`/dev/zero`) never ends, a directory has no bytes.
fn regular_file(origin: &str, meta: &std::fs::Metadata) -> Result<(), SourceError> {
    let t = meta.file_type();
    if t.is_file() {
        return Ok(());
    }
    let what = file_kind(&t);
    Err(SourceError::new(
        origin,
        format!(
            "is {what}, not a config source: pcimig reads dumps, lspci text and streams from regular files; \
             pipe a dump or lspci text into standard input and give `-` as SRC instead"
        ),
    ))
}

/// How much of a file format detection looks at.
const HEAD: usize = 64 * 1024;

/// The largest config-source file accepted (lspci text of tens of thousands of devices; streams
/// are read separately, in bounded pieces).
pub const MAX_TEXT_SOURCE: u64 = 256 * 1024 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_parsing_keeps_colons_in_paths() {
        let s = SourceSpec::parse("data/0000:00:06.0.config.bin");
        assert_eq!(s.scheme, None);
        assert_eq!(s.path, "data/0000:00:06.0.config.bin");
        let s = SourceSpec::parse("stream:vm.mig#0000:00:03.0/virtio-net");
        assert_eq!(s.scheme.as_deref(), Some("stream"));
        assert_eq!(s.path, "vm.mig");
        assert_eq!(s.selector.as_deref(), Some("0000:00:03.0/virtio-net"));
        let s = SourceSpec::parse("sysfs:0000:3b:00.0");
        assert_eq!(s.path, "0000:3b:00.0");
    }
}
