//! A QEMU migration stream: [`Stream`], the public API over what the walk found.
//!
//! One job per file: `format` (the stream format's values), `cursor` (the big-endian reader),
//! `section` (the walk: header, sections, footers, commands, EOF), `configuration`, `full` (FULL
//! sections and the PCI device in each), `ram`, `ram_ahead` (a long RAM walk on two cores),
//! `vfio`, `pci_state` (the config size of a PCIDevice state), `scan` (footer and vmdesc
//! searches), `vmdesc` (the vmdesc JSON), `entries` (sections and PCI device entries).

mod configuration;
mod cursor;
mod entries;
mod format;
mod full;
mod pci_state;
mod ram;
mod ram_ahead;
mod scan;
mod section;
mod skip_ram;
mod vfio;
mod vmdesc;

pub use entries::{pci_path_of, DeviceKind, PciDeviceEntry, Section, SectionKind, VmdescInfo};
pub use format::{section_type, vfio_flag, QEMU_VM_FILE_MAGIC, QEMU_VM_FILE_VERSION, QEMU_VM_FILE_VERSION_COMPAT};
pub use ram::RamBlock;

use crate::error::{ErrorKind, StreamError};
use crate::limits::MAX_FIELD_BYTES;
use configuration::StreamFormat;
use cursor::Cursor;
use entries::name_devices;
use format::RAM_IDSTR;
use pcimig_config::PciDeviceState;
use ram_ahead::SharedSource;
use section::{Found, Walker};
use std::path::Path;
use std::sync::Arc;

/// How a stream is walked.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Walk {
    /// Everything; a long RAM walk may use a second core ([`ram_ahead`]).
    TwoCores,
    /// Everything, on one thread (tests compare it with [`Walk::TwoCores`]).
    #[cfg_attr(not(test), allow(dead_code))]
    OneCore,
    /// The devices: the RAM section's pages are jumped over ([`skip_ram`]).
    DevicesOnly,
}

/// A parsed migration stream: sections, PCI devices, machine type. The walk happens in
/// [`Stream::open`], in [`READ_CHUNK`](crate::limits::READ_CHUNK) reads; RAM pages are skipped,
/// never kept, so memory stays bounded whatever the stream size. Config bytes are read on demand by [`Stream::read_config`].
pub struct Stream {
    path: String,
    src: SharedSource,
    len: u64,
    format: StreamFormat,
    vmdesc: Option<VmdescInfo>,
    found: Found,
    ram_blocks: Vec<RamBlock>,
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream")
            .field("path", &self.path)
            .field("len", &self.len)
            .field("machine_type", &self.format.machine_type)
            .field("sections", &self.found.sections.len())
            .field("devices", &self.found.devices)
            .finish()
    }
}

impl Stream {
    /// Open and walk a stream file. Refuses anything that is not a regular file (pipes, FIFOs,
    /// sockets, character devices): the vmdesc is at the end, so the file must be seekable.
    pub fn open(path: impl AsRef<Path>) -> Result<Stream, StreamError> {
        let (name, src, len) = Self::open_file(path.as_ref())?;
        Self::parse(name, src, len, Walk::TwoCores)
    }

    /// Open a stream for its devices only (`check --emulated`'s destination: a freshly started
    /// VM, whose RAM is as many zero pages as the guest has RAM): the RAM section's PART chunks
    /// are jumped over, from the first to the section's END chunk found from the end of the
    /// file; every other section is walked and checked as [`Stream::open`] does. The sections'
    /// chunk lengths then leave out the RAM pages. When the END chunk is not found where QEMU
    /// writes it, or the walk from it fails, the whole stream is walked ([`Stream::open`]).
    pub fn open_devices(path: impl AsRef<Path>) -> Result<Stream, StreamError> {
        let (name, src, len) = Self::open_file(path.as_ref())?;
        Self::parse_devices(name, src, len)
    }

    /// The file at `p` as a source: its name for messages, the open file, its length.
    fn open_file(p: &Path) -> Result<(String, SharedSource, u64), StreamError> {
        let name = p.display().to_string();
        let meta =
            std::fs::metadata(p).map_err(|e| StreamError::new(&name, ErrorKind::Io, format!("cannot open: {e}")))?;
        if !meta.is_file() {
            let what = if meta.is_dir() {
                "a directory"
            } else {
                "not a regular file (a pipe, FIFO, socket or device)"
            };
            return Err(StreamError::new(
                &name,
                ErrorKind::NotSeekable,
                format!(
                    "{what}: migration streams are read from seekable files (the vmdesc is at the end); save the stream to a file first"
                ),
            ));
        }
        let file =
            std::fs::File::open(p).map_err(|e| StreamError::new(&name, ErrorKind::Io, format!("cannot open: {e}")))?;
        let len = file.metadata().map(|m| m.len()).unwrap_or(meta.len());
        Ok((name, Arc::new(file), len))
    }

    /// Walk a stream held in memory (tests, fuzzing). `name` is used in messages.
    pub fn from_bytes(name: impl Into<String>, bytes: Vec<u8>) -> Result<Stream, StreamError> {
        let len = bytes.len() as u64;
        Self::parse(name.into(), Arc::new(bytes), len, Walk::TwoCores)
    }

    /// [`Stream::open_devices`] of a stream held in memory (tests, fuzzing).
    pub fn devices_from_bytes(name: impl Into<String>, bytes: Vec<u8>) -> Result<Stream, StreamError> {
        let len = bytes.len() as u64;
        Self::parse_devices(name.into(), Arc::new(bytes), len)
    }

    /// The devices-only walk, or the whole walk when it fails ([`Stream::open_devices`]).
    fn parse_devices(name: String, src: SharedSource, len: u64) -> Result<Stream, StreamError> {
        Self::parse(name.clone(), Arc::clone(&src), len, Walk::DevicesOnly)
            .or_else(|_| Self::parse(name, src, len, Walk::TwoCores))
    }

    /// [`Stream::from_bytes`] walked on one thread only (tests compare the two walks).
    #[cfg(test)]
    pub(crate) fn from_bytes_one_core(name: &str, bytes: Vec<u8>) -> Result<Stream, StreamError> {
        let len = bytes.len() as u64;
        Self::parse(name.into(), Arc::new(bytes), len, Walk::OneCore)
    }

    /// Walk the stream, then name its devices.
    fn parse(path: String, src: SharedSource, len: u64, walk: Walk) -> Result<Stream, StreamError> {
        let mut cursor = Cursor::new(src.as_ref(), &path, len);
        if walk != Walk::OneCore {
            cursor = cursor.with_shared_source(Arc::clone(&src));
        }
        let walker = Walker::walk(cursor, walk == Walk::DevicesOnly)?;
        let Walker {
            format,
            layout,
            mut found,
            ..
        } = walker;
        name_devices(&found.sections, &mut found.devices);
        let ram_blocks = read_ram_blocks(Cursor::new(src.as_ref(), &path, len), &format, &found.sections)?;
        Ok(Stream {
            path,
            src,
            len,
            format,
            vmdesc: layout.info,
            found,
            ram_blocks,
        })
    }

    /// A cursor for positioned reads of the stream's bytes.
    fn cursor(&self) -> Cursor<'_> {
        Cursor::new(self.src.as_ref(), &self.path, self.len)
    }

    /// The file name as given.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// File length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Always false for a stream that opened (it has at least its header).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The machine type from the configuration section (e.g. `pc-q35-10.0`), if it was sent.
    pub fn machine_type(&self) -> Option<&str> {
        self.format.machine_type.as_deref()
    }

    /// Target page size (from the configuration or the vmdesc; 4096 on x86).
    pub fn page_size(&self) -> u64 {
        self.format.page_size
    }

    /// Migration capabilities the configuration section lists (only those that change the
    /// stream's format are sent: `x-ignore-shared`, `mapped-ram`).
    pub fn capabilities(&self) -> &[String] {
        &self.format.capabilities
    }

    /// All sections in stream order (first appearance).
    pub fn sections(&self) -> &[Section] {
        &self.found.sections
    }

    /// The PCI devices, in stream order.
    pub fn pci_devices(&self) -> &[PciDeviceEntry] {
        &self.found.devices
    }

    /// Sections of a PCI device (their idstr has a PCI path) that hold no PCIDevice state: the
    /// device's vmsd does not embed it (e.g. sdhci-pci), so QEMU saves, and checks, no config.
    pub fn pci_sections_without_config(&self) -> Vec<&Section> {
        self.found
            .sections
            .iter()
            .filter(|s| s.kind == SectionKind::Full && pci_path_of(&s.idstr).is_some())
            .filter(|s| !self.found.devices.iter().any(|d| d.section_index == s.index))
            .collect()
    }

    /// The RAM blocks the RAM section lists (ram_save_setup's RAM_SAVE_FLAG_MEM_SIZE list), in
    /// stream order: what the destination's parse_ramblocks compares with its own blocks before
    /// any device section is loaded. Empty when the stream has no RAM section.
    pub fn ram_blocks(&self) -> &[RamBlock] {
        &self.ram_blocks
    }

    /// The vmdesc location, when the stream has one.
    pub fn vmdesc(&self) -> Option<VmdescInfo> {
        self.vmdesc
    }

    /// Offset of the QEMU_VM_EOF byte.
    pub fn eof_offset(&self) -> u64 {
        self.found.eof_offset
    }

    /// Things noticed that do not stop the reader.
    pub fn warnings(&self) -> &[String] {
        &self.found.warnings
    }

    /// Find a device by the name `FILE#DEVICE` takes: its `id`, `idstr@N`, or its PCI path
    /// (`0000:00:03.0`) when that names one device.
    pub fn find_device(&self, name: &str) -> Result<&PciDeviceEntry, StreamError> {
        if let Some(d) = self.found.devices.iter().find(|d| d.id == name) {
            return Ok(d);
        }
        if let Some((idstr, inst)) = name.rsplit_once('@') {
            if let Ok(n) = inst.parse::<u32>() {
                if let Some(d) = self
                    .found
                    .devices
                    .iter()
                    .find(|d| d.idstr == idstr && d.instance_id == n)
                {
                    return Ok(d);
                }
            }
        }
        let by_path: Vec<&PciDeviceEntry> = self
            .found
            .devices
            .iter()
            .filter(|d| d.pci_path.as_deref() == Some(name) || d.idstr == name)
            .collect();
        if by_path.len() == 1 {
            return Ok(by_path[0]);
        }
        let names: Vec<&str> = self.found.devices.iter().map(|d| d.id.as_str()).collect();
        let msg = if by_path.len() > 1 {
            format!("'{name}' names several devices; use one of: {}", names.join(", "))
        } else {
            format!("no PCI device '{name}' in the stream; it has: {}", names.join(", "))
        };
        Err(StreamError::new(&self.path, ErrorKind::NoSuchDevice, msg))
    }

    /// Read a device's saved config bytes (256 or 4096).
    pub fn read_config(&self, dev: &PciDeviceEntry) -> Result<Vec<u8>, StreamError> {
        let cur = self.cursor();
        let mut buf = vec![0u8; dev.config_size];
        cur.read_exact_at(&mut buf, dev.config_offset, "config")
            .map_err(|e| e.in_section(dev.section_id, &dev.idstr))?;
        Ok(buf)
    }

    /// Read `len` (at most 1 MiB) raw stream bytes at `offset`, e.g. a destination-sized config
    /// at a device's [`PciDeviceEntry::config_offset`] (QEMU reads as many bytes as the
    /// destination device's config has, whatever the source saved).
    pub fn read_bytes(&self, offset: u64, len: usize) -> Result<Vec<u8>, StreamError> {
        if len > MAX_FIELD_BYTES {
            return Err(StreamError::at(
                &self.path,
                ErrorKind::TooLarge,
                offset,
                format!("read of {len} bytes"),
            ));
        }
        let cur = self.cursor();
        let mut buf = vec![0u8; len];
        cur.read_exact_at(&mut buf, offset, "stream bytes")?;
        Ok(buf)
    }

    /// Read a device's whole PCIDevice state (version_id, config, irq_state).
    pub fn read_pci_state(&self, dev: &PciDeviceEntry) -> Result<PciDeviceState, StreamError> {
        let cur = self.cursor();
        let mut buf = vec![0u8; PciDeviceState::encoded_len(dev.config_size)];
        cur.read_exact_at(&mut buf, dev.state_offset(), "PCIDevice state")
            .map_err(|e| e.in_section(dev.section_id, &dev.idstr))?;
        PciDeviceState::decode(&buf, dev.config_size)
            .map(|(s, _)| s)
            .map_err(|e| {
                StreamError::at(&self.path, ErrorKind::Malformed, dev.state_offset(), e)
                    .in_section(dev.section_id, &dev.idstr)
            })
    }
}

/// The RAM block list of the stream's RAM section (`ram`, instance 0), read again from its first
/// chunk after the walk has checked the section.
fn read_ram_blocks(
    mut cur: Cursor<'_>,
    format: &StreamFormat,
    sections: &[Section],
) -> Result<Vec<RamBlock>, StreamError> {
    let ram = sections
        .iter()
        .find(|s| s.kind == SectionKind::Iterable && s.idstr == RAM_IDSTR && s.instance_id == 0);
    match ram {
        Some(s) => {
            ram::ram_block_list(&mut cur, format, s.body_offset).map_err(|e| e.in_section(s.section_id, &s.idstr))
        }
        None => Ok(Vec::new()),
    }
}
