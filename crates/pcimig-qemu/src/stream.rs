//! The stream walk: header, configuration, sections in order, EOF, vmdesc.

use crate::error::{ErrorKind, StreamError};
use crate::reader::{Cursor, ReadAt};
use crate::vmdesc::{self, Content, Vmdesc};
use pcimig_config::PciDeviceState;
use serde::Serialize;
use std::collections::HashMap;
use std::path::Path;

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
mod ram_flag {
    pub const ZERO: u64 = 0x002;
    pub const MEM_SIZE: u64 = 0x004;
    pub const PAGE: u64 = 0x008;
    pub const EOS: u64 = 0x010;
    pub const CONTINUE: u64 = 0x020;
    pub const XBZRLE: u64 = 0x040;
    pub const HOOK: u64 = 0x080;
    pub const MULTIFD_FLUSH: u64 = 0x200;
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
const MIG_CMD_MAX: u16 = 11;
/// MIG_CMD_POSTCOPY_ADVISE: the source has postcopy-ram on.
const MIG_CMD_POSTCOPY_ADVISE: u16 = 3;
/// MIG_CMD_PACKAGED: a postcopy package, which a file stream does not carry.
const MIG_CMD_PACKAGED: u16 = 7;

/// Most sections a stream may declare (QEMU has a few hundred at most).
pub const MAX_SECTIONS: usize = 65536;
/// How far the reader searches for a section footer when the vmdesc is missing.
const FOOTER_SCAN_LIMIT: u64 = 64 * 1024 * 1024;
/// Bytes all footer searches of one stream may read together (hostile streams could otherwise
/// make every section search far).
const FOOTER_SCAN_BUDGET: u64 = 1 << 30;
/// virtio sections whose layout may be searched exhaustively (damaged capability chains).
const VIRTIO_SEARCHES: u32 = 64;

/// Whether a section is written once or in chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SectionKind {
    /// QEMU_VM_SECTION_FULL: a device's non-iterable state.
    Full,
    /// QEMU_VM_SECTION_START, then PART…, then END (RAM, vfio device data).
    Iterable,
}

/// One section of the stream (all chunks of an iterable section together).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Section {
    /// Position in stream order (first appearance), 0-based.
    pub index: usize,
    /// The section id QEMU assigned.
    pub section_id: u32,
    /// The idstr, e.g. `0000:00:03.0/virtio-net`, `ram`, `cpu`.
    pub idstr: String,
    /// The instance id.
    pub instance_id: u32,
    /// The section's version_id.
    pub version_id: u32,
    /// FULL or iterable.
    pub kind: SectionKind,
    /// Offset of the section type byte of its first chunk.
    pub offset: u64,
    /// Offset of the body of its first chunk (after the header).
    pub body_offset: u64,
    /// Body bytes (summed over all chunks for an iterable section; footers and headers excluded).
    pub body_len: u64,
    /// Chunks (1 for FULL; START + PARTs + END for iterable sections).
    pub chunks: u32,
    /// The vmsd name from the vmdesc (None for old-style and iterable sections).
    pub vmsd_name: Option<String>,
}

/// How a PCI device's config is stored in its section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeviceKind {
    /// A device vmsd embedding the PCIDevice struct (e1000, xhci, root ports, chipset…).
    Vmsd,
    /// virtio-pci: the proxy's PCIDevice state at the start of the VMSTATE_VIRTIO_DEVICE field.
    VirtioPci,
    /// vfio-pci: old-style section, DEV_CONFIG_STATE marker, then VFIOPCIDevice state.
    VfioPci,
}

impl std::fmt::Display for DeviceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DeviceKind::Vmsd => "vmsd",
            DeviceKind::VirtioPci => "virtio-pci",
            DeviceKind::VfioPci => "vfio-pci",
        })
    }
}

/// A PCI device found in the stream, with where its saved config lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PciDeviceEntry {
    /// The name `FILE#DEVICE` accepts: the idstr, with `@N` (instance id) appended only when
    /// several sections share the idstr.
    pub id: String,
    /// The section idstr, e.g. `0000:00:03.0/virtio-net`.
    pub idstr: String,
    /// The section's instance id.
    pub instance_id: u32,
    /// The section's version_id.
    pub version: u32,
    /// The section id.
    pub section_id: u32,
    /// Index of the section in stream order (see [`Stream::sections`]); QEMU loads, and fails,
    /// in this order.
    pub section_index: usize,
    /// How the config is stored.
    pub kind: DeviceKind,
    /// The vmsd name (`e1000`, `virtio-net`, …; `None` for vfio's old-style section).
    pub vmsd_name: Option<String>,
    /// The vmdesc field path from the section's vmsd down to the PCIDevice struct
    /// (e.g. `["parent_obj"]`; `["virtio"]` for virtio-pci; empty for vfio-pci).
    pub field_path: Vec<String>,
    /// The qdev path part of the idstr (`0000:00:03.0`, or `0000:00:03.0:00.0` behind a bridge).
    pub pci_path: Option<String>,
    /// Config bytes saved: 256 or 4096.
    pub config_size: usize,
    /// Stream byte offset of the config buffer (the PCIDevice be32 version_id is the 4 bytes
    /// before it; the 4 × be32 irq_state follow it).
    pub config_offset: u64,
}

impl PciDeviceEntry {
    /// Stream byte offset of the PCIDevice state (its be32 version_id).
    pub fn state_offset(&self) -> u64 {
        self.config_offset - 4
    }
}

/// Where the vmdesc JSON is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct VmdescInfo {
    /// Offset of the QEMU_VM_VMDESCRIPTION byte.
    pub offset: u64,
    /// JSON length.
    pub len: u32,
}

/// A parsed migration stream: sections, PCI devices, machine type. The walk happens in
/// [`Stream::open`]; RAM pages are skipped, never read, so memory stays bounded whatever the
/// stream size. Config bytes are read on demand by [`Stream::read_config`].
pub struct Stream {
    path: String,
    src: Box<dyn ReadAt + Send + Sync>,
    len: u64,
    machine_type: Option<String>,
    page_size: u64,
    capabilities: Vec<String>,
    sections: Vec<Section>,
    devices: Vec<PciDeviceEntry>,
    vmdesc: Option<VmdescInfo>,
    eof_offset: u64,
    warnings: Vec<String>,
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream")
            .field("path", &self.path)
            .field("len", &self.len)
            .field("machine_type", &self.machine_type)
            .field("sections", &self.sections.len())
            .field("devices", &self.devices)
            .finish()
    }
}

impl Stream {
    /// Open and walk a stream file. Refuses anything that is not a regular file (pipes, FIFOs,
    /// sockets, character devices): the vmdesc is at the end, so the file must be seekable.
    pub fn open(path: impl AsRef<Path>) -> Result<Stream, StreamError> {
        let p = path.as_ref();
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
        Self::parse(name, Box::new(file), len)
    }

    /// Walk a stream held in memory (tests, fuzzing). `name` is used in messages.
    pub fn from_bytes(name: impl Into<String>, bytes: Vec<u8>) -> Result<Stream, StreamError> {
        let len = bytes.len() as u64;
        Self::parse(name.into(), Box::new(bytes), len)
    }

    fn parse(path: String, src: Box<dyn ReadAt + Send + Sync>, len: u64) -> Result<Stream, StreamError> {
        let mut s = Stream {
            path,
            src,
            len,
            machine_type: None,
            page_size: 4096,
            capabilities: Vec::new(),
            sections: Vec::new(),
            devices: Vec::new(),
            vmdesc: None,
            eof_offset: 0,
            warnings: Vec::new(),
        };
        let mut w = Walker::default();
        {
            let cur = Cursor::new(s.src.as_ref(), &s.path, len);
            w.walk(cur, &s.path)?;
        }
        s.machine_type = w.machine_type;
        s.page_size = w.page_size;
        s.capabilities = w.capabilities;
        s.sections = w.sections;
        s.vmdesc = w.vmdesc;
        s.eof_offset = w.eof_offset;
        s.warnings = w.warnings;
        s.devices = w.devices;
        name_devices(&s.sections, &mut s.devices);
        Ok(s)
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
        self.machine_type.as_deref()
    }

    /// Target page size (from the configuration or the vmdesc; 4096 on x86).
    pub fn page_size(&self) -> u64 {
        self.page_size
    }

    /// Migration capabilities the configuration section lists (only those that change the
    /// stream's format are sent: `x-ignore-shared`, `mapped-ram`).
    pub fn capabilities(&self) -> &[String] {
        &self.capabilities
    }

    /// All sections in stream order (first appearance).
    pub fn sections(&self) -> &[Section] {
        &self.sections
    }

    /// The PCI devices, in stream order.
    pub fn pci_devices(&self) -> &[PciDeviceEntry] {
        &self.devices
    }

    /// Sections of a PCI device (their idstr has a PCI path) that hold no PCIDevice state: the
    /// device's vmsd does not embed it (e.g. sdhci-pci), so QEMU saves, and checks, no config.
    pub fn pci_sections_without_config(&self) -> Vec<&Section> {
        self.sections
            .iter()
            .filter(|s| s.kind == SectionKind::Full && pci_path_of(&s.idstr).is_some())
            .filter(|s| !self.devices.iter().any(|d| d.section_index == s.index))
            .collect()
    }

    /// The vmdesc location, when the stream has one.
    pub fn vmdesc(&self) -> Option<VmdescInfo> {
        self.vmdesc
    }

    /// Offset of the QEMU_VM_EOF byte.
    pub fn eof_offset(&self) -> u64 {
        self.eof_offset
    }

    /// Things noticed that do not stop the reader.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Find a device by the name `FILE#DEVICE` takes: its `id`, `idstr@N`, or its PCI path
    /// (`0000:00:03.0`) when that names one device.
    pub fn find_device(&self, name: &str) -> Result<&PciDeviceEntry, StreamError> {
        if let Some(d) = self.devices.iter().find(|d| d.id == name) {
            return Ok(d);
        }
        if let Some((idstr, inst)) = name.rsplit_once('@') {
            if let Ok(n) = inst.parse::<u32>() {
                if let Some(d) = self.devices.iter().find(|d| d.idstr == idstr && d.instance_id == n) {
                    return Ok(d);
                }
            }
        }
        let by_path: Vec<&PciDeviceEntry> = self
            .devices
            .iter()
            .filter(|d| d.pci_path.as_deref() == Some(name) || d.idstr == name)
            .collect();
        if by_path.len() == 1 {
            return Ok(by_path[0]);
        }
        let names: Vec<&str> = self.devices.iter().map(|d| d.id.as_str()).collect();
        let msg = if by_path.len() > 1 {
            format!("'{name}' names several devices; use one of: {}", names.join(", "))
        } else {
            format!("no PCI device '{name}' in the stream; it has: {}", names.join(", "))
        };
        Err(StreamError::new(&self.path, ErrorKind::NoSuchDevice, msg))
    }

    /// Read a device's saved config bytes (256 or 4096).
    pub fn read_config(&self, dev: &PciDeviceEntry) -> Result<Vec<u8>, StreamError> {
        let cur = Cursor::new(self.src.as_ref(), &self.path, self.len);
        let mut buf = vec![0u8; dev.config_size];
        cur.read_exact_at(&mut buf, dev.config_offset, "config")
            .map_err(|e| e.in_section(dev.section_id, &dev.idstr))?;
        Ok(buf)
    }

    /// Read `len` (at most 1 MiB) raw stream bytes at `offset`, e.g. a destination-sized config
    /// at a device's [`PciDeviceEntry::config_offset`] (QEMU reads as many bytes as the
    /// destination device's config has, whatever the source saved).
    pub fn read_bytes(&self, offset: u64, len: usize) -> Result<Vec<u8>, StreamError> {
        if len > 1 << 20 {
            return Err(StreamError::at(
                &self.path,
                ErrorKind::TooLarge,
                offset,
                format!("read of {len} bytes"),
            ));
        }
        let cur = Cursor::new(self.src.as_ref(), &self.path, self.len);
        let mut buf = vec![0u8; len];
        cur.read_exact_at(&mut buf, offset, "stream bytes")?;
        Ok(buf)
    }

    /// Read a device's whole PCIDevice state (version_id, config, irq_state).
    pub fn read_pci_state(&self, dev: &PciDeviceEntry) -> Result<PciDeviceState, StreamError> {
        let cur = Cursor::new(self.src.as_ref(), &self.path, self.len);
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

#[derive(Default)]
struct Walker {
    machine_type: Option<String>,
    page_size: u64,
    capabilities: Vec<String>,
    sections: Vec<Section>,
    by_id: HashMap<u32, usize>,
    devices: Vec<PciDeviceEntry>,
    vmdesc: Option<VmdescInfo>,
    desc: Option<Vmdesc>,
    full_seen: usize,
    footers: Option<bool>,
    eof_offset: u64,
    warnings: Vec<String>,
    postcopy_summary: Option<u64>,
    scan_budget: u64,
    virtio_searches: u32,
    guessed: usize,
}

fn is_pci_path(p: &str) -> bool {
    // DDDD:BB:SS.F then (:SS.F)*
    let b = p.as_bytes();
    let hex = |s: &[u8]| s.iter().all(|c| c.is_ascii_hexdigit());
    if b.len() < 12 || !hex(&b[0..4]) || b[4] != b':' || !hex(&b[5..7]) || b[7] != b':' {
        return false;
    }
    let mut rest = &b[8..];
    loop {
        if rest.len() < 4 || !hex(&rest[0..2]) || rest[2] != b'.' || !rest[3].is_ascii_digit() {
            return false;
        }
        rest = &rest[4..];
        if rest.is_empty() {
            return true;
        }
        if rest[0] != b':' {
            return false;
        }
        rest = &rest[1..];
    }
}

/// The qdev PCI path of an idstr (`0000:00:03.0/virtio-net` → `0000:00:03.0`).
pub fn pci_path_of(idstr: &str) -> Option<&str> {
    let (p, _) = idstr.split_once('/')?;
    is_pci_path(p).then_some(p)
}

fn name_devices(sections: &[Section], devices: &mut [PciDeviceEntry]) {
    let mut count: HashMap<&str, usize> = HashMap::new();
    for s in sections {
        *count.entry(s.idstr.as_str()).or_default() += 1;
    }
    for d in devices.iter_mut() {
        d.id = if count.get(d.idstr.as_str()).copied().unwrap_or(0) > 1 {
            format!("{}@{}", d.idstr, d.instance_id)
        } else {
            d.idstr.clone()
        };
    }
}

/// Offset of the PCI Express capability in a 256-byte header, if the chain has one.
fn has_express_cap(config: &[u8]) -> bool {
    pcimig_config::walk_std(config)
        .entries
        .iter()
        .any(|e| !e.extended && e.id == 0x10)
}

impl Walker {
    fn walk(&mut self, mut cur: Cursor<'_>, path: &str) -> Result<(), StreamError> {
        self.page_size = 4096;
        self.scan_budget = FOOTER_SCAN_BUDGET;
        self.virtio_searches = VIRTIO_SEARCHES;
        if cur.len() < 8 {
            let mut got = vec![0u8; cur.len() as usize];
            cur.read_exact_at(&mut got, 0, "header")?;
            if got.len() < 4 || got[..4] != QEMU_VM_FILE_MAGIC.to_be_bytes() {
                return Err(cur.err(ErrorKind::BadMagic, 0, "not a migration stream (no QEVM magic)"));
            }
            return Err(cur.err(ErrorKind::Truncated, cur.len(), "stream ends inside the file header"));
        }
        let magic = cur.be32("magic")?;
        if magic != QEMU_VM_FILE_MAGIC {
            return Err(cur.err(
                ErrorKind::BadMagic,
                0,
                format!("not a migration stream: magic {magic:#010x}, expected {QEMU_VM_FILE_MAGIC:#010x} (\"QEVM\")"),
            ));
        }
        let version = cur.be32("version")?;
        if version == QEMU_VM_FILE_VERSION_COMPAT {
            return Err(cur.err(
                ErrorKind::UnsupportedVersion,
                4,
                "SaveVM v2 format is obsolete and don't work anymore (file version 2)",
            ));
        }
        if version != QEMU_VM_FILE_VERSION {
            return Err(cur.err(
                ErrorKind::UnsupportedVersion,
                4,
                format!("Unsupported migration stream version {version:#x} (expected 3)"),
            ));
        }

        // The vmdesc first: it delimits FULL sections.
        if let Some((off, l)) = vmdesc::locate(&cur)? {
            if u64::from(l) > vmdesc::MAX_VMDESC {
                return Err(cur.err(
                    ErrorKind::TooLarge,
                    off + 1,
                    format!("vmdesc length {l:#x} exceeds the limit {:#x}", vmdesc::MAX_VMDESC),
                ));
            }
            let d = vmdesc::read(&cur, path, off, l)?;
            if let Some(ps) = d.page_size {
                if ps.is_power_of_two() && (512..=1 << 20).contains(&ps) {
                    self.page_size = ps;
                }
            }
            self.desc = Some(d);
            self.vmdesc = Some(VmdescInfo { offset: off, len: l });
        }

        if cur.peek_u8() == Some(section_type::CONFIGURATION) {
            self.configuration(&mut cur)?;
        } else {
            self.warnings
                .push("no configuration section (QEMU refuses this stream on machines that send one)".into());
        }

        loop {
            let off = cur.pos();
            let t = cur.u8("section type")?;
            match t {
                section_type::EOF => {
                    self.eof_offset = off;
                    break;
                }
                section_type::START | section_type::FULL => {
                    let id = cur.be32("section id")?;
                    let idstr = cur.short_str("idstr").map_err(|e| e.in_section(id, ""))?;
                    let instance_id = cur.be32("instance id").map_err(|e| e.in_section(id, &idstr))?;
                    let version_id = cur.be32("version id").map_err(|e| e.in_section(id, &idstr))?;
                    if self.sections.len() >= MAX_SECTIONS {
                        return Err(cur.err(ErrorKind::TooLarge, off, format!("more than {MAX_SECTIONS} sections")));
                    }
                    if self.by_id.contains_key(&id) {
                        return Err(cur
                            .err(
                                ErrorKind::Malformed,
                                off,
                                format!("section id {id} appears twice with a full header"),
                            )
                            .in_section(id, &idstr));
                    }
                    let index = self.sections.len();
                    let kind = if t == section_type::FULL {
                        SectionKind::Full
                    } else {
                        SectionKind::Iterable
                    };
                    self.sections.push(Section {
                        index,
                        section_id: id,
                        idstr: idstr.clone(),
                        instance_id,
                        version_id,
                        kind,
                        offset: off,
                        body_offset: cur.pos(),
                        body_len: 0,
                        chunks: 1,
                        vmsd_name: None,
                    });
                    self.by_id.insert(id, index);
                    let body = cur.pos();
                    let r = if t == section_type::FULL {
                        self.full(&mut cur, index)
                    } else {
                        self.iterable(&mut cur, index)
                    };
                    r.map_err(|e| e.in_section(id, &idstr))?;
                    self.sections[index].body_len += cur.pos() - body;
                    self.footer(&mut cur, id, &idstr)?;
                }
                section_type::PART | section_type::END => {
                    let id = cur.be32("section id")?;
                    let Some(&index) = self.by_id.get(&id) else {
                        return Err(cur.err(
                            ErrorKind::Malformed,
                            off,
                            format!(
                                "{} chunk for section id {id}, which has not started",
                                if t == 2 { "PART" } else { "END" }
                            ),
                        ));
                    };
                    let idstr = self.sections[index].idstr.clone();
                    if self.sections[index].kind != SectionKind::Iterable {
                        return Err(cur
                            .err(ErrorKind::Malformed, off, "PART/END chunk for a FULL section")
                            .in_section(id, &idstr));
                    }
                    let body = cur.pos();
                    self.iterable(&mut cur, index).map_err(|e| e.in_section(id, &idstr))?;
                    let sec = &mut self.sections[index];
                    sec.body_len += cur.pos() - body;
                    sec.chunks = sec.chunks.saturating_add(1);
                    self.footer(&mut cur, id, &idstr)?;
                }
                section_type::COMMAND => {
                    let cmd = cur.be16("command")?;
                    let l = cur.be16("command length")?;
                    if cmd == 0 || cmd > MIG_CMD_MAX {
                        return Err(cur.err(ErrorKind::UnknownSectionType, off, format!("unknown command {cmd:#x}")));
                    }
                    if cmd == MIG_CMD_PACKAGED {
                        return Err(cur.err(
                            ErrorKind::Unsupported,
                            off,
                            "postcopy package (MIG_CMD_PACKAGED): a postcopy stream, not a saved file",
                        ));
                    }
                    if cmd == MIG_CMD_POSTCOPY_ADVISE && l == 16 {
                        // be64 remote page-size summary (OR of the RAM blocks' page sizes), be64
                        // target page size: RAM blocks with other page sizes carry an extra word.
                        self.postcopy_summary = Some(cur.be64("postcopy page size summary")?);
                        cur.be64("postcopy target page size")?;
                    } else {
                        cur.skip(u64::from(l), "command data")?;
                    }
                }
                section_type::FOOTER => {
                    return Err(cur.err(ErrorKind::Malformed, off, "section footer outside a section"));
                }
                section_type::VMDESCRIPTION => {
                    return Err(cur.err(ErrorKind::Malformed, off, "vmdesc before the EOF marker"));
                }
                other => {
                    return Err(cur.err(
                        ErrorKind::UnknownSectionType,
                        off,
                        format!("unknown section type {other:#04x}"),
                    ));
                }
            }
        }

        // After EOF: the vmdesc, if any.
        let off = cur.pos();
        match cur.peek_u8() {
            None => {
                if self.desc.is_none() {
                    self.warnings.push(format!(
                        "no vmdesc after EOF (suppress-vmdesc): sections delimited by their footers; \
                         the PCIDevice state of {} device sections assumed at the start of the section",
                        self.guessed
                    ));
                }
            }
            Some(section_type::VMDESCRIPTION) => {
                cur.u8("vmdesc")?;
                let l = cur.be32("vmdesc length").map_err(|e| StreamError {
                    kind: ErrorKind::Vmdesc,
                    ..e
                })?;
                if u64::from(l) > cur.remaining() {
                    return Err(cur.err(
                        ErrorKind::Vmdesc,
                        off,
                        format!(
                            "vmdesc length {l:#x} exceeds the file ({:#x} bytes left): truncated vmdesc",
                            cur.remaining()
                        ),
                    ));
                }
                match self.vmdesc {
                    Some(v) if v.offset == off => {}
                    _ => {
                        return Err(cur.err(
                            ErrorKind::Vmdesc,
                            off,
                            format!(
                                "vmdesc of {l:#x} bytes is followed by {:#x} more bytes, or is not JSON",
                                cur.remaining() - u64::from(l)
                            ),
                        ))
                    }
                }
            }
            Some(b) => {
                // QEMU prints "Expected vmdescription section, but got %d" and goes on.
                self.warnings.push(format!(
                    "Expected vmdescription section, but got {b} (at byte {off:#x})"
                ));
            }
        }
        Ok(())
    }

    fn configuration(&mut self, cur: &mut Cursor<'_>) -> Result<(), StreamError> {
        cur.u8("configuration")?;
        let at = cur.pos();
        let l = cur.be32("machine type length")?;
        let name = cur
            .bytes(u64::from(l), 256, "machine type")
            .map_err(|e| StreamError { offset: Some(at), ..e })?;
        self.machine_type = Some(String::from_utf8_lossy(&name).into_owned());
        while cur.peek_u8() == Some(section_type::SUBSECTION) {
            let off = cur.pos();
            cur.u8("subsection")?;
            let name = cur.short_str("subsection name")?;
            let _version = cur.be32("subsection version")?;
            match name.as_str() {
                "configuration/target-page-bits" => {
                    let bits = cur.be32("target page bits")?;
                    if !(9..=20).contains(&bits) {
                        return Err(cur.err(
                            ErrorKind::Malformed,
                            off,
                            format!("target page bits {bits} out of range"),
                        ));
                    }
                    self.page_size = 1 << bits;
                }
                "configuration/capabilities" => {
                    let n = cur.be32("capability count")?;
                    if n > 256 {
                        return Err(cur.err(ErrorKind::TooLarge, off, format!("{n} capabilities")));
                    }
                    for _ in 0..n {
                        let c = cur.short_str("capability")?;
                        self.capabilities.push(c);
                    }
                }
                "configuration/uuid" => cur.skip(16, "uuid")?,
                other => {
                    // Size it from the vmdesc if it describes it.
                    let size = self
                        .desc
                        .as_ref()
                        .and_then(|d| d.configuration.as_ref())
                        .and_then(|c| c.subsections.iter().find(|s| s.vmsd_name == other))
                        .map(|s| {
                            s.fields
                                .iter()
                                .map(|f| f.size.unwrap_or(0) * f.array_len.unwrap_or(1).max(1))
                                .sum::<u64>()
                        });
                    match size {
                        Some(n) => cur.skip(n, "configuration subsection")?,
                        None => {
                            return Err(cur.err(
                                ErrorKind::Unsupported,
                                off,
                                format!("unknown configuration subsection '{other}'"),
                            ))
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn footer(&mut self, cur: &mut Cursor<'_>, id: u32, idstr: &str) -> Result<(), StreamError> {
        let off = cur.pos();
        let has = cur.peek_u8() == Some(section_type::FOOTER);
        match (self.footers, has) {
            (None, h) => self.footers = Some(h),
            (Some(true), false) => {
                return Err(cur
                    .err(ErrorKind::Malformed, off, format!("Missing section footer for {idstr}"))
                    .in_section(id, idstr))
            }
            _ => {}
        }
        if has {
            cur.u8("footer")?;
            let read = cur.be32("footer section id").map_err(|e| e.in_section(id, idstr))?;
            if read != id {
                return Err(cur
                    .err(
                        ErrorKind::Malformed,
                        off,
                        format!("Mismatched section id in footer for {idstr} - read {read:#x} expected {id:#x}"),
                    )
                    .in_section(id, idstr));
            }
        }
        Ok(())
    }

    fn full(&mut self, cur: &mut Cursor<'_>, index: usize) -> Result<(), StreamError> {
        let body = cur.pos();
        let (idstr, instance_id, version, id) = {
            let s = &self.sections[index];
            (s.idstr.clone(), s.instance_id, s.version_id, s.section_id)
        };
        let n = self.full_seen;
        self.full_seen += 1;
        let Some(desc) = self.desc.as_ref() else {
            return self.full_without_vmdesc(cur, index);
        };
        let Some(entry) = desc.devices.get(n) else {
            return Err(cur.err(
                ErrorKind::Vmdesc,
                body,
                format!(
                    "the vmdesc describes {} sections, the stream has more",
                    desc.devices.len()
                ),
            ));
        };
        if entry.name != idstr || entry.instance_id != instance_id {
            return Err(cur.err(
                ErrorKind::Vmdesc,
                body,
                format!(
                    "vmdesc entry {n} is '{}' instance {}, the stream's section is '{idstr}' instance {instance_id}",
                    entry.name, entry.instance_id
                ),
            ));
        }
        let size = entry
            .body_size()
            .map_err(|m| cur.err(ErrorKind::Vmdesc, body, format!("vmdesc entry for '{idstr}': {m}")))?;
        self.sections[index].vmsd_name = entry.vmsd_name.clone();
        let content = entry.content();
        let vmsd_name = entry.vmsd_name.clone();
        cur.skip(size, "section body (size from the vmdesc)")?;
        if self.footers != Some(false) {
            // The footer must follow; if it does not, the vmdesc sizes are off (a field whose
            // elements differ in size): fall back to the footer itself, and say so.
            let mut f = [0u8; 5];
            let here = cur.pos();
            let at_footer = cur.read_exact_at(&mut f, here, "footer").is_ok()
                && f[0] == section_type::FOOTER
                && f[1..] == id.to_be_bytes();
            if !at_footer && self.footers == Some(true) {
                if let Some(fpos) = find_footer(cur, body, id, &mut self.scan_budget)? {
                    self.warnings.push(format!(
                        "{idstr}: the vmdesc puts the end of the section at byte {here:#x}, its footer is at {fpos:#x}; using the footer"
                    ));
                    cur.seek_to(fpos, "section end")?;
                }
            }
        }
        let end = cur.pos();
        let pci_path = pci_path_of(&idstr).map(str::to_string);
        let mk = |kind, field_path, config_size, config_offset| PciDeviceEntry {
            id: String::new(),
            idstr: idstr.clone(),
            instance_id,
            version,
            section_id: id,
            section_index: index,
            kind,
            vmsd_name: vmsd_name.clone(),
            field_path,
            pci_path: pci_path.clone(),
            config_size,
            config_offset,
        };
        match content {
            Content::Pci(loc) => {
                if loc.config_size != 256 && loc.config_size != 4096 {
                    return Err(cur.err(
                        ErrorKind::Vmdesc,
                        body,
                        format!(
                            "PCIDevice config of {} bytes in the vmdesc (expected 256 or 4096)",
                            loc.config_size
                        ),
                    ));
                }
                let cfg = body.saturating_add(loc.config_offset);
                if cfg.saturating_add(loc.config_size + 16) > end {
                    return Err(cur.err(
                        ErrorKind::Vmdesc,
                        body,
                        "the vmdesc places the PCIDevice state past the section",
                    ));
                }
                let dev = mk(DeviceKind::Vmsd, loc.path, loc.config_size as usize, cfg);
                self.devices.push(dev);
            }
            Content::Virtio { offset, size } if pci_path.is_some() && offset.saturating_add(size) <= end - body => {
                let state = body + offset;
                let cs = match virtio_config_size(cur, state, size, &mut self.virtio_searches) {
                    Some(cs) => cs,
                    None => self.pci_config_size(cur, state, size, None)?,
                };
                let dev = mk(DeviceKind::VirtioPci, vec!["virtio".to_string()], cs, state + 4);
                self.devices.push(dev);
            }
            Content::Other if entry.vmsd_name.is_none() && is_vfio(&idstr) => {
                if let Some((cs, cfg)) = self.vfio_config(cur, body, size)? {
                    let dev = mk(DeviceKind::VfioPci, Vec::new(), cs, cfg);
                    self.devices.push(dev);
                } else {
                    self.warnings.push(format!(
                        "{idstr}: the vfio config state is not in the main stream (multifd device-state transfer)"
                    ));
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Decide 256 or 4096 for a PCIDevice state at `state` (be32 version, config, irq) whose
    /// enclosing field has `room` bytes (0: unknown). `exact`: the state must end exactly at
    /// one of the candidate sizes plus a known tail (vfio).
    fn pci_config_size(
        &mut self,
        cur: &Cursor<'_>,
        state: u64,
        room: u64,
        exact: Option<&SizeCheck>,
    ) -> Result<usize, StreamError> {
        let mut head = [0u8; 4 + 256];
        cur.read_exact_at(&mut head, state, "PCIDevice state")?;
        let version = i32::from_be_bytes([head[0], head[1], head[2], head[3]]);
        if !(0..=2).contains(&version) {
            self.warnings.push(format!(
                "PCIDevice version_id {version} at byte {state:#x} (QEMU writes 2)"
            ));
        }
        let config = &head[4..];
        let irq_ok = |cs: usize| -> Result<bool, StreamError> {
            let at = state + 4 + cs as u64;
            if at + 16 > cur.len() || (room != 0 && 4 + cs as u64 + 16 > room) {
                return Ok(false);
            }
            let mut irq = [0u8; 16];
            cur.read_exact_at(&mut irq, at, "irq_state")?;
            Ok(irq.chunks(4).all(|c| c == [0, 0, 0, 0] || c == [0, 0, 0, 1]))
        };
        if let Some(check) = exact {
            for cs in [256usize, 4096] {
                if check(cs, config) {
                    return Ok(cs);
                }
            }
            return Err(cur.err(
                ErrorKind::Malformed,
                state,
                "neither a 256- nor a 4096-byte config fits the section",
            ));
        }
        let express = has_express_cap(config);
        let first = if express { 4096 } else { 256 };
        let second = if express { 256 } else { 4096 };
        if irq_ok(first)? {
            return Ok(first);
        }
        if irq_ok(second)? {
            self.warnings.push(format!(
                "config at byte {:#x}: {} PCI Express capability but the irq_state fits a {second}-byte config; using {second}",
                state + 4,
                if express { "has a" } else { "has no" }
            ));
            return Ok(second);
        }
        Err(cur.err(
            ErrorKind::Malformed,
            state + 4,
            "no valid irq_state after a 256- or 4096-byte config",
        ))
    }

    fn vfio_config(&mut self, cur: &mut Cursor<'_>, body: u64, size: u64) -> Result<Option<(usize, u64)>, StreamError> {
        let mut m = [0u8; 8];
        if size < 8 {
            return Err(cur.err(ErrorKind::Malformed, body, "vfio section body shorter than a marker"));
        }
        cur.read_exact_at(&mut m, body, "vfio marker")?;
        let marker = u64::from_be_bytes(m);
        if marker == vfio_flag::END_OF_STATE && size == 8 {
            return Ok(None);
        }
        if marker != vfio_flag::DEV_CONFIG_STATE {
            return Err(cur.err(
                ErrorKind::Malformed,
                body,
                format!(
                    "vfio section starts with {marker:#018x}, expected DEV_CONFIG_STATE {:#018x}",
                    vfio_flag::DEV_CONFIG_STATE
                ),
            ));
        }
        let mut tail = [0u8; 8];
        cur.read_exact_at(&mut tail, body + size - 8, "vfio end marker")?;
        if u64::from_be_bytes(tail) != vfio_flag::END_OF_STATE {
            return Err(cur.err(
                ErrorKind::Malformed,
                body + size - 8,
                format!(
                    "vfio config state does not end with END_OF_STATE (read {:#018x})",
                    u64::from_be_bytes(tail)
                ),
            ));
        }
        // body = marker(8) + PCIDevice(4 + cs + 16) + MSI-X table and PBA + [display subsection] + marker(8)
        let state = body + 8;
        let check = |cs: usize, config: &[u8]| -> bool {
            let msix = msix_bytes(config);
            let fixed = 8 + 4 + cs as u64 + 16 + msix + 8;
            fixed == size || (fixed < size && subsection_at(cur, body + fixed - 8))
        };
        let cs = self.pci_config_size(cur, state, size - 16, Some(&check))?;
        Ok(Some((cs, state + 4)))
    }

    fn full_without_vmdesc(&mut self, cur: &mut Cursor<'_>, index: usize) -> Result<(), StreamError> {
        let body = cur.pos();
        let (idstr, id, instance_id, version) = {
            let s = &self.sections[index];
            (s.idstr.clone(), s.section_id, s.instance_id, s.version_id)
        };
        if self.footers == Some(false) {
            return Err(cur.err(
                ErrorKind::Vmdesc,
                body,
                "no vmdesc and no section footers: the length of this section is not recorded anywhere",
            ));
        }
        let end = find_footer(cur, body, id, &mut self.scan_budget)?.ok_or_else(|| {
            cur.err(
                ErrorKind::Vmdesc,
                body,
                "no vmdesc, and no section footer found: cannot delimit this section",
            )
        })?;
        cur.seek_to(end, "section end")?;
        // Without the vmdesc the layout is guessed: a section of a PCI path whose body starts
        // with the PCIDevice state (be32 2), as for virtio-pci and most vmsd devices, or vfio's
        // DEV_CONFIG_STATE marker.
        let Some(pci_path) = pci_path_of(&idstr).map(str::to_string) else {
            return Ok(());
        };
        let size = end - body;
        let (kind, state) = if is_vfio(&idstr) {
            match self.vfio_config(cur, body, size) {
                Ok(Some((_, cfg))) => (DeviceKind::VfioPci, cfg - 4),
                _ => return Ok(()),
            }
        } else {
            let mut v = [0u8; 4];
            if size < 4 + 256 + 16 || cur.read_exact_at(&mut v, body, "PCIDevice version").is_err() || v != [0, 0, 0, 2]
            {
                self.warnings.push(format!(
                    "{idstr}: no vmdesc, and the section does not start with a PCIDevice state"
                ));
                return Ok(());
            }
            let name = idstr.rsplit('/').next().unwrap_or("");
            (
                if name.starts_with("virtio-") {
                    DeviceKind::VirtioPci
                } else {
                    DeviceKind::Vmsd
                },
                body,
            )
        };
        let virtio = match kind {
            DeviceKind::VirtioPci => virtio_config_size(cur, state, size, &mut self.virtio_searches),
            _ => None,
        };
        let cs = match (kind, virtio) {
            (DeviceKind::VfioPci, _) => self.vfio_config(cur, body, size)?.map(|(cs, _)| cs).unwrap_or(256),
            (_, Some(cs)) => cs,
            _ => match self.pci_config_size(cur, state, size, None) {
                Ok(cs) => cs,
                Err(_) => return Ok(()),
            },
        };
        self.guessed += 1;
        self.devices.push(PciDeviceEntry {
            id: String::new(),
            idstr,
            instance_id,
            version,
            section_id: id,
            section_index: index,
            kind,
            vmsd_name: None,
            field_path: if kind == DeviceKind::VirtioPci {
                vec!["virtio".to_string()]
            } else {
                Vec::new()
            },
            pci_path: Some(pci_path),
            config_size: cs,
            config_offset: state + 4,
        });
        Ok(())
    }

    fn iterable(&mut self, cur: &mut Cursor<'_>, index: usize) -> Result<(), StreamError> {
        let (idstr, instance, version) = {
            let s = &self.sections[index];
            (s.idstr.clone(), s.instance_id, s.version_id)
        };
        if idstr == "ram" && instance == 0 {
            if version != 4 {
                return Err(cur.err(
                    ErrorKind::Unsupported,
                    cur.pos(),
                    format!("RAM section version {version} (expected 4)"),
                ));
            }
            return self.ram(cur);
        }
        if is_vfio(&idstr) {
            return vfio_iterable(cur);
        }
        Err(cur.err(
            ErrorKind::Unsupported,
            cur.pos(),
            format!(
                "iterable section '{idstr}': its format is not known to this reader and its length is not recorded"
            ),
        ))
    }

    fn ram(&mut self, cur: &mut Cursor<'_>) -> Result<(), StreamError> {
        let ps = self.page_size;
        let mapped = self.capabilities.iter().any(|c| c == "mapped-ram");
        let ignore_shared = self.capabilities.iter().any(|c| c == "x-ignore-shared");
        loop {
            let off = cur.pos();
            let word = cur.be64("RAM page header")?;
            let flags = word & (ps - 1);
            let addr = word & !(ps - 1);
            let cont = flags & ram_flag::CONTINUE != 0;
            match flags & !ram_flag::CONTINUE {
                ram_flag::MEM_SIZE => {
                    let mut total = addr;
                    let mut blocks = 0u32;
                    while total > 0 {
                        let name = cur.short_str("RAM block name")?;
                        let at = cur.pos();
                        let length = cur.be64("RAM block length")?;
                        if length > total || length == 0 {
                            return Err(cur.err(
                                ErrorKind::Malformed,
                                at,
                                format!("RAM block '{name}' length {length:#x} (total left {total:#x})"),
                            ));
                        }
                        total -= length;
                        blocks += 1;
                        if blocks > 65536 {
                            return Err(cur.err(ErrorKind::TooLarge, at, "more than 65536 RAM blocks"));
                        }
                        if let Some(summary) = self.postcopy_summary.filter(|s| s & !ps != 0) {
                            // ram_save_setup: be64 page size for a block whose page size is not
                            // the host's (hugepages), under postcopy-ram.
                            let mut w = [0u8; 8];
                            if cur.read_exact_at(&mut w, cur.pos(), "RAM block page size").is_ok() {
                                let v = u64::from_be_bytes(w);
                                if v.is_power_of_two() && v != ps && summary & v != 0 {
                                    cur.skip(8, "RAM block page size")?;
                                }
                            }
                        }
                        if ignore_shared {
                            cur.be64("RAM block address")?;
                        }
                        if mapped {
                            let h = cur.pos();
                            let v = cur.be32("mapped-ram header version")?;
                            let _page = cur.be64("mapped-ram page size")?;
                            let _bitmap = cur.be64("mapped-ram bitmap offset")?;
                            let pages = cur.be64("mapped-ram pages offset")?;
                            if v != 1 {
                                return Err(cur.err(
                                    ErrorKind::Unsupported,
                                    h,
                                    format!("mapped-ram header version {v}"),
                                ));
                            }
                            let next = pages.checked_add(length).ok_or_else(|| {
                                cur.err(
                                    ErrorKind::TooLarge,
                                    h,
                                    format!("mapped-ram pages offset {pages:#x} overflows"),
                                )
                            })?;
                            cur.seek_to(next, &format!("mapped-ram pages of '{name}'"))?;
                        }
                    }
                }
                ram_flag::ZERO => {
                    if !cont {
                        cur.short_str("RAM block name")?;
                    }
                    let ch = cur.u8("zero page fill byte")?;
                    if ch != 0 {
                        return Err(cur.err(ErrorKind::Malformed, off, format!("Found a zero page with value {ch}")));
                    }
                }
                ram_flag::PAGE => {
                    if !cont {
                        cur.short_str("RAM block name")?;
                    }
                    cur.skip(ps, "RAM page")?;
                }
                ram_flag::XBZRLE => {
                    if !cont {
                        cur.short_str("RAM block name")?;
                    }
                    cur.u8("XBZRLE flags")?;
                    let l = cur.be16("XBZRLE length")?;
                    if u64::from(l) > ps {
                        return Err(cur.err(
                            ErrorKind::Malformed,
                            off,
                            format!("XBZRLE length {l} exceeds the page size"),
                        ));
                    }
                    cur.skip(u64::from(l), "XBZRLE data")?;
                }
                ram_flag::MULTIFD_FLUSH => {}
                ram_flag::EOS => return Ok(()),
                ram_flag::HOOK => {
                    return Err(cur.err(ErrorKind::Unsupported, off, "RAM hook (RDMA) in a file stream"));
                }
                f => {
                    return Err(cur.err(
                        ErrorKind::UnknownSectionType,
                        off,
                        format!("Unknown combination of migration flags: {f:#x}"),
                    ))
                }
            }
        }
    }
}

/// Whether a config size fits a section exactly (vfio), given the 256-byte header.
type SizeCheck<'a> = dyn Fn(usize, &[u8]) -> bool + 'a;

fn is_vfio(idstr: &str) -> bool {
    idstr == "vfio" || idstr.ends_with("/vfio")
}

/// MSI-X table + PBA bytes msix_save writes for a config (0 without MSI-X).
fn msix_bytes(config: &[u8]) -> u64 {
    let Some(e) = pcimig_config::walk_std(config)
        .entries
        .into_iter()
        .find(|e| !e.extended && e.id == 0x11)
    else {
        return 0;
    };
    let Some(ctl) = config.get(e.offset + 2..e.offset + 4) else {
        return 0;
    };
    let n = u64::from(u16::from_le_bytes([ctl[0], ctl[1]]) & 0x7ff) + 1;
    n * 16 + n.div_ceil(8)
}

/// virtio-pci's config size (256 or 4096) from the layout virtio_save writes after the
/// PCIDevice state: MSI-X table and PBA and be16 config_vector (with MSI-X), u8 status, u8 isr,
/// be16 queue_sel, be32 features, be32 config_len, the config, be32 queue count (1..=1024),
/// be32 size of the first queue (1..=1024).
/// The MSI-X vector count comes from the saved header; if its capability chain does not give
/// one that fits, every count QEMU allows (1..=2048) is tried. `None` when nothing fits.
fn virtio_config_size(cur: &Cursor<'_>, state: u64, room: u64, searches: &mut u32) -> Option<usize> {
    let mut head = [0u8; 256];
    cur.read_exact_at(&mut head, state + 4, "config header").ok()?;
    let fits = |cs: u64, msix: Option<u64>| -> bool {
        let mut p = state + 4 + cs;
        let mut irq = [0u8; 16];
        if cur.read_exact_at(&mut irq, p, "irq_state").is_err()
            || !irq.chunks(4).all(|c| c == [0, 0, 0, 0] || c == [0, 0, 0, 1])
        {
            return false;
        }
        p += 16;
        if let Some(n) = msix {
            p += n * 16 + n.div_ceil(8) + 2;
        }
        p += 8;
        let mut w = [0u8; 4];
        if cur.read_exact_at(&mut w, p, "config_len").is_err() {
            return false;
        }
        let config_len = u64::from(u32::from_be_bytes(w));
        if config_len > 65536 {
            return false;
        }
        p += 4 + config_len;
        // Every virtio device has at least one queue, of at most VIRTQUEUE_MAX_SIZE (1024).
        if cur.read_exact_at(&mut w, p, "queue count").is_err() || !(1..=1024).contains(&u32::from_be_bytes(w)) {
            return false;
        }
        if cur.read_exact_at(&mut w, p + 4, "queue size").is_err() || !(1..=1024).contains(&u32::from_be_bytes(w)) {
            return false;
        }
        p + 8 <= state + room
    };
    let from_chain = match msix_bytes(&head) {
        0 => None,
        _ => {
            let e = pcimig_config::walk_std(&head)
                .entries
                .into_iter()
                .find(|e| !e.extended && e.id == 0x11)?;
            Some(u64::from(u16::from_le_bytes([head[e.offset + 2], head[e.offset + 3]]) & 0x7ff) + 1)
        }
    };
    let first: u64 = if has_express_cap(&head) { 4096 } else { 256 };
    let order = [first, 4352 - first];
    for cs in order {
        if fits(cs, from_chain) {
            return Some(cs as usize);
        }
    }
    // The header's capability chain may be damaged (a mutated stream): try the other shapes
    // (a bounded number of times per stream).
    if *searches == 0 {
        return None;
    }
    *searches -= 1;
    for cs in order {
        if fits(cs, None) || (1..=2048).any(|n| Some(n) != from_chain && fits(cs, Some(n))) {
            return Some(cs as usize);
        }
    }
    None
}

fn subsection_at(cur: &Cursor<'_>, off: u64) -> bool {
    let mut b = [0u8; 1];
    cur.read_exact_at(&mut b, off, "subsection").is_ok() && b[0] == section_type::SUBSECTION
}

fn vfio_iterable(cur: &mut Cursor<'_>) -> Result<(), StreamError> {
    let mut n = 0u64;
    loop {
        let off = cur.pos();
        let m = cur.be64("vfio marker")?;
        match m {
            vfio_flag::END_OF_STATE | vfio_flag::DEV_INIT_DATA_SENT => return Ok(()),
            vfio_flag::DEV_SETUP_STATE => {}
            vfio_flag::DEV_DATA_STATE => {
                let l = cur.be64("vfio data length")?;
                cur.skip(l, "vfio device data")?;
            }
            vfio_flag::DEV_CONFIG_STATE => {
                return Err(cur.err(
                    ErrorKind::Malformed,
                    off,
                    "DEV_CONFIG_STATE in an iterable vfio section",
                ));
            }
            other => return Err(cur.err(ErrorKind::Malformed, off, format!("Unknown tag {other:#x}"))),
        }
        n += 1;
        if n > 1 << 32 {
            return Err(cur.err(ErrorKind::TooLarge, off, "too many vfio records"));
        }
    }
}

/// Search forward from `from` for a footer of section `id` followed by a plausible next
/// section type byte; returns the offset of the footer.
fn find_footer(cur: &Cursor<'_>, from: u64, id: u32, budget: &mut u64) -> Result<Option<u64>, StreamError> {
    let mut pat = [0u8; 5];
    pat[0] = section_type::FOOTER;
    pat[1..].copy_from_slice(&id.to_be_bytes());
    const CHUNK: usize = 64 * 1024;
    let mut buf = vec![0u8; CHUNK + 6];
    let mut lo = from;
    let limit = cur.len().min(from.saturating_add(FOOTER_SCAN_LIMIT));
    while lo < limit {
        let n = ((limit - lo) as usize).min(CHUNK + 6).min((cur.len() - lo) as usize);
        if *budget < n as u64 {
            return Err(cur.err(
                ErrorKind::TooLarge,
                from,
                format!("footer searches have read {FOOTER_SCAN_BUDGET:#x} bytes in total; giving up"),
            ));
        }
        *budget -= n as u64;
        cur.read_exact_at(&mut buf[..n], lo, "footer search")?;
        for i in 0..n.saturating_sub(5) {
            if buf[i..i + 5] == pat {
                let next = buf.get(i + 5).copied();
                if matches!(next, Some(0x00..=0x04) | Some(0x08)) {
                    return Ok(Some(lo + i as u64));
                }
            }
        }
        if n < CHUNK + 6 {
            break;
        }
        lo += CHUNK as u64;
    }
    Ok(None)
}
