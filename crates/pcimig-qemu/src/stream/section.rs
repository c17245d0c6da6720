//! The section walk (qemu_loadvm_state, migration/savevm.c): the file header, then
//! START/FULL/PART/END sections with their footers, commands, EOF, and what follows EOF.

use super::configuration::StreamFormat;
use super::cursor::Cursor;
use super::entries::{PciDeviceEntry, Section, SectionKind};
use super::format::{
    SectionType, MIG_CMD_INVALID, MIG_CMD_MAX, MIG_CMD_PACKAGED, MIG_CMD_POSTCOPY_ADVISE, MIG_CMD_POSTCOPY_ADVISE_LEN,
    QEMU_VM_FILE_HEADER_LEN, QEMU_VM_FILE_MAGIC, QEMU_VM_FILE_VERSION, QEMU_VM_FILE_VERSION_COMPAT,
    QEMU_VM_SECTION_FOOTER, QEMU_VM_VMDESCRIPTION, RAM_IDSTR, RAM_SECTION_VERSION,
};
use super::ram::ram_load_precopy;
use super::ram_ahead::RamAhead;
use super::skip_ram::find_ram_end;
use super::vfio::{is_vfio, vfio_load_state};
use super::vmdesc::Layout;
use crate::error::{ErrorKind, StreamError};
use crate::limits::{FOOTER_SCAN_BUDGET, MAX_PCI_DEVICES, MAX_SECTIONS, MAX_VMDESC, VIRTIO_SEARCHES};
use std::collections::HashMap;

/// Bounds on the work a hostile stream can cause.
#[derive(Debug)]
pub(super) struct Budget {
    /// Bytes footer searches may still read.
    pub(super) footer_scan: u64,
    /// virtio sections whose layout may still be searched exhaustively.
    pub(super) virtio_searches: u32,
}

/// What the walk found.
#[derive(Debug, Default)]
pub(super) struct Found {
    /// The sections in stream order.
    pub(super) sections: Vec<Section>,
    /// Section id → index in `sections`.
    by_id: HashMap<u32, usize>,
    /// Ids of iterable sections whose FULL section (same entry, same id) has been read.
    full_after_iterable: std::collections::HashSet<u32>,
    /// The PCI devices, in stream order.
    pub(super) devices: Vec<PciDeviceEntry>,
    /// Things noticed that do not stop the reader.
    pub(super) warnings: Vec<String>,
    /// Offset of the QEMU_VM_EOF byte.
    pub(super) eof_offset: u64,
}

impl Found {
    /// Note something that does not stop the reader.
    pub(super) fn warn(&mut self, msg: String) {
        self.warnings.push(msg);
    }

    /// Add a PCI device; refused past [`MAX_PCI_DEVICES`].
    pub(super) fn push_device(&mut self, cur: &Cursor<'_>, dev: PciDeviceEntry) -> Result<(), StreamError> {
        if self.devices.len() >= MAX_PCI_DEVICES {
            return Err(cur.err(
                ErrorKind::TooLarge,
                dev.state_offset(),
                format!("more than {MAX_PCI_DEVICES} PCI devices (the limit MAX_PCI_DEVICES)"),
            ));
        }
        self.devices.push(dev);
        Ok(())
    }

    /// Add a section that starts (START or FULL); refused past [`MAX_SECTIONS`] or when its id
    /// is taken, except by a FULL section of the iterable section's own entry (same idstr and
    /// instance): QEMU saves an entry that has both iterative handlers and `save_state` (vfio's
    /// device state, then its config state) as START … END and then again as FULL under the same
    /// section id (`qemu_savevm_state_complete_precopy_non_iterable`), once. PART/END chunks stay
    /// with the iterable section.
    fn start_section(&mut self, cur: &Cursor<'_>, mut sec: Section) -> Result<Section, StreamError> {
        if self.sections.len() >= MAX_SECTIONS {
            return Err(cur.err(
                ErrorKind::TooLarge,
                sec.offset,
                format!("more than {MAX_SECTIONS} sections (the limit MAX_SECTIONS)"),
            ));
        }
        let id = sec.section_id;
        let taken = self.by_id.get(&id).map(|&i| &self.sections[i]);
        let full_of_iterable = taken.is_some_and(|t| {
            t.kind == SectionKind::Iterable
                && sec.kind == SectionKind::Full
                && t.idstr == sec.idstr
                && t.instance_id == sec.instance_id
        });
        if taken.is_some() && !(full_of_iterable && self.full_after_iterable.insert(id)) {
            return Err(cur
                .err(
                    ErrorKind::Malformed,
                    sec.offset,
                    format!("section id {id} appears twice with a full header"),
                )
                .in_section(id, &sec.idstr));
        }
        sec.index = self.sections.len();
        if !full_of_iterable {
            self.by_id.insert(id, sec.index);
        }
        self.sections.push(sec.clone());
        Ok(sec)
    }

    /// Count `len` more body bytes of section `index`, in one more chunk unless `first`.
    fn add_chunk(&mut self, index: usize, len: u64, first: bool) {
        let sec = &mut self.sections[index];
        sec.body_len += len;
        if !first {
            sec.chunks = sec.chunks.saturating_add(1);
        }
    }
}

/// The walk's state: the stream's format, the vmdesc, what was found, the work budget.
#[derive(Debug)]
pub(super) struct Walker {
    /// What the configuration (and the first footer, and postcopy advice) says of the format.
    pub(super) format: StreamFormat,
    /// The vmdesc, and the entry the next FULL section must match.
    pub(super) layout: Layout,
    /// Sections, devices, warnings.
    pub(super) found: Found,
    /// Bounds on searches.
    pub(super) budget: Budget,
    /// The second core's share of a long RAM walk, once started.
    ram_ahead: Option<RamAhead>,
    /// A devices-only walk: jump from the RAM section's first PART chunk to its END chunk
    /// ([`super::skip_ram`]); cleared once tried.
    skip_ram: bool,
}

impl Walker {
    /// Walk a whole stream (qemu_loadvm_state): the file header, the vmdesc (read first, from
    /// the end: it delimits FULL sections), the configuration, the sections up to EOF, and what
    /// follows EOF.
    pub(super) fn walk(mut cur: Cursor<'_>, skip_ram: bool) -> Result<Walker, StreamError> {
        check_file_header(&mut cur)?;
        let layout = Layout::load(&cur)?;
        let mut w = Walker {
            format: StreamFormat::new(layout.page_size()),
            layout,
            found: Found::default(),
            budget: Budget {
                footer_scan: FOOTER_SCAN_BUDGET,
                virtio_searches: VIRTIO_SEARCHES,
            },
            ram_ahead: None,
            skip_ram,
        };
        w.load_configuration(&mut cur)?;
        w.sections_until_eof(&mut cur)?;
        w.after_eof(&mut cur)?;
        Ok(w)
    }

    /// The sections and commands up to QEMU_VM_EOF (qemu_loadvm_state_main).
    fn sections_until_eof(&mut self, cur: &mut Cursor<'_>) -> Result<(), StreamError> {
        loop {
            let off = cur.pos();
            let byte = cur.u8("section type")?;
            match SectionType::from_byte(byte) {
                Some(SectionType::Eof) => {
                    self.found.eof_offset = off;
                    return Ok(());
                }
                Some(t @ (SectionType::Start | SectionType::Full)) => self.section_start_full(cur, off, t)?,
                Some(t @ (SectionType::Part | SectionType::End)) => self.section_part_end(cur, off, t)?,
                Some(SectionType::Command) => self.process_command(cur, off)?,
                Some(SectionType::Footer) => {
                    return Err(cur.err(ErrorKind::Malformed, off, "section footer outside a section"));
                }
                Some(SectionType::VmDescription) => {
                    return Err(cur.err(ErrorKind::Malformed, off, "vmdesc before the EOF marker"));
                }
                Some(SectionType::Subsection | SectionType::Configuration) | None => {
                    return Err(cur.err(
                        ErrorKind::UnknownSectionType,
                        off,
                        format!("unknown section type {byte:#04x}"),
                    ));
                }
            }
        }
    }

    /// A START or FULL section (qemu_loadvm_section_start_full): its header, its body, its
    /// footer.
    fn section_start_full(&mut self, cur: &mut Cursor<'_>, off: u64, t: SectionType) -> Result<(), StreamError> {
        let sec = read_section_header(cur, off, t)?;
        let sec = self.found.start_section(cur, sec)?;
        let (id, idstr) = (sec.section_id, sec.idstr.as_str());
        let body = cur.pos();
        let r = match t {
            SectionType::Full => self.full(cur, &sec),
            _ => self.iterable(cur, &sec),
        };
        r.map_err(|e| e.in_section(id, idstr))?;
        self.found.add_chunk(sec.index, cur.pos() - body, true);
        self.check_section_footer(cur, id, idstr)
    }

    /// A PART or END chunk of an iterable section (qemu_loadvm_section_part_end): be32 section
    /// id, the body, the footer.
    fn section_part_end(&mut self, cur: &mut Cursor<'_>, off: u64, t: SectionType) -> Result<(), StreamError> {
        let id = cur.be32("section id")?;
        let Some(&index) = self.found.by_id.get(&id) else {
            return Err(cur.err(
                ErrorKind::Malformed,
                off,
                format!("{} chunk for section id {id}, which has not started", t.name()),
            ));
        };
        let sec = self.found.sections[index].clone();
        if sec.kind != SectionKind::Iterable {
            return Err(cur
                .err(ErrorKind::Malformed, off, "PART/END chunk for a FULL section")
                .in_section(id, &sec.idstr));
        }
        if t == SectionType::Part && self.skip_ram && sec.idstr == RAM_IDSTR {
            self.skip_ram = false;
            if let Some(end) = self.ram_end(cur, id) {
                return cur.seek_to(end, "RAM END chunk");
            }
        }
        let body = cur.pos();
        self.iterable(cur, &sec).map_err(|e| e.in_section(id, &sec.idstr))?;
        self.found.add_chunk(index, cur.pos() - body, false);
        self.check_section_footer(cur, id, &sec.idstr)
    }

    /// A chunk of an iterable section: RAM (ram_load) or vfio device data (vfio_load_state).
    /// Other iterable sections have no recorded length, so they are refused.
    fn iterable(&mut self, cur: &mut Cursor<'_>, sec: &Section) -> Result<(), StreamError> {
        if sec.idstr == RAM_IDSTR && sec.instance_id == 0 {
            if sec.version_id != RAM_SECTION_VERSION {
                return Err(cur.err(
                    ErrorKind::Unsupported,
                    cur.pos(),
                    format!(
                        "RAM section version {} (expected {RAM_SECTION_VERSION})",
                        sec.version_id
                    ),
                ));
            }
            return ram_load_precopy(cur, &self.format, &mut self.ram_ahead);
        }
        if is_vfio(&sec.idstr) {
            return vfio_load_state(cur);
        }
        Err(cur.err(
            ErrorKind::Unsupported,
            cur.pos(),
            format!(
                "iterable section '{}': its format is not known to this reader and its length is not recorded",
                sec.idstr
            ),
        ))
    }

    /// Where the devices-only walk goes on from: the RAM section's END chunk, when the stream
    /// has a vmdesc (so where EOF is is known) and footers.
    fn ram_end(&self, cur: &Cursor<'_>, id: u32) -> Option<u64> {
        let eof = self.layout.info?.offset.checked_sub(1)?;
        if self.format.footers != Some(true) {
            return None;
        }
        find_ram_end(cur, cur.pos(), eof, id, self.format.page_size)
    }

    /// The section footer (check_section_footer): QEMU_VM_SECTION_FOOTER and the section id.
    /// Whether the stream has footers is learned from the first section; after that a missing
    /// one is an error.
    fn check_section_footer(&mut self, cur: &mut Cursor<'_>, id: u32, idstr: &str) -> Result<(), StreamError> {
        let off = cur.pos();
        let has = cur.peek_u8() == Some(QEMU_VM_SECTION_FOOTER);
        match (self.format.footers, has) {
            (None, h) => self.format.footers = Some(h),
            (Some(true), false) => {
                return Err(cur
                    .err(ErrorKind::Malformed, off, format!("Missing section footer for {idstr}"))
                    .in_section(id, idstr))
            }
            _ => {}
        }
        if !has {
            return Ok(());
        }
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
        Ok(())
    }

    /// A command (loadvm_process_command): be16 command, be16 length, data. A file stream
    /// carries no postcopy package; MIG_CMD_POSTCOPY_ADVISE's page sizes change the RAM format.
    fn process_command(&mut self, cur: &mut Cursor<'_>, off: u64) -> Result<(), StreamError> {
        let cmd = cur.be16("command")?;
        let len = cur.be16("command length")?;
        if cmd == MIG_CMD_INVALID || cmd >= MIG_CMD_MAX {
            return Err(cur.err(ErrorKind::UnknownSectionType, off, format!("unknown command {cmd:#x}")));
        }
        if cmd == MIG_CMD_PACKAGED {
            return Err(cur.err(
                ErrorKind::Unsupported,
                off,
                "postcopy package (MIG_CMD_PACKAGED): a postcopy stream, not a saved file",
            ));
        }
        if cmd == MIG_CMD_POSTCOPY_ADVISE && len == MIG_CMD_POSTCOPY_ADVISE_LEN {
            // loadvm_postcopy_handle_advise: be64 remote page-size summary, be64 target page size.
            self.format.postcopy_page_sizes = Some(cur.be64("postcopy page size summary")?);
            cur.be64("postcopy target page size")?;
            return Ok(());
        }
        cur.skip(u64::from(len), "command data")
    }

    /// What follows QEMU_VM_EOF (the end of qemu_loadvm_state): the vmdesc record read at the
    /// start, or nothing (suppress-vmdesc). Anything else is refused: QEMU stops loading at EOF
    /// (printing "Expected vmdescription section, but got N" and going on), so the sections
    /// after an EOF byte in the middle of a stream would never be loaded, and a vmdesc
    /// describing more sections than came before EOF does not belong to what QEMU loads.
    fn after_eof(&mut self, cur: &mut Cursor<'_>) -> Result<(), StreamError> {
        let off = cur.pos();
        self.check_vmdesc_covered(cur, off)?;
        match cur.peek_u8() {
            None if self.layout.desc.is_none() => self.found.warn(format!(
                "no vmdesc after EOF (suppress-vmdesc): sections delimited by their footers; \
                 the PCIDevice state of {} device sections assumed at the start of the section",
                self.found.devices.len()
            )),
            None => {}
            Some(QEMU_VM_VMDESCRIPTION) => self.check_vmdesc_record(cur, off)?,
            Some(b) => {
                return Err(cur.err(
                    ErrorKind::Malformed,
                    off,
                    format!(
                        "{:#x} bytes follow the QEMU_VM_EOF byte at {:#x} (QEMU: \"Expected vmdescription section, but \
                         got {b}\"): QEMU stops loading at EOF and never loads what follows",
                        self.trailing_len(cur),
                        self.found.eof_offset
                    ),
                ))
            }
        }
        Ok(())
    }

    /// Bytes after the EOF byte up to the vmdesc record (or the end of the file).
    fn trailing_len(&self, cur: &Cursor<'_>) -> u64 {
        let end = self.layout.info.map_or(cur.len(), |v| v.offset.max(cur.pos()));
        end - cur.pos()
    }

    /// At EOF the vmdesc must have described exactly the FULL sections the stream had: one it
    /// has more entries than came before EOF describes sections QEMU never loads.
    fn check_vmdesc_covered(&self, cur: &Cursor<'_>, off: u64) -> Result<(), StreamError> {
        let Some(desc) = self.layout.desc.as_ref() else {
            return Ok(());
        };
        if self.layout.next_entry >= desc.devices.len() {
            return Ok(());
        }
        Err(cur.err(
            ErrorKind::Malformed,
            off,
            format!(
                "QEMU_VM_EOF after {} device (FULL) sections, but the vmdesc describes {}: the stream ends early (QEMU stops \
                 loading at EOF, so the sections after it are never loaded)",
                self.layout.next_entry,
                desc.devices.len()
            ),
        ))
    }

    /// The vmdesc record after EOF must be the one found from the end of the file.
    fn check_vmdesc_record(&self, cur: &mut Cursor<'_>, off: u64) -> Result<(), StreamError> {
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
        if self.layout.info.is_some_and(|v| v.offset == off) {
            return Ok(());
        }
        if u64::from(l) > MAX_VMDESC {
            return Err(cur.err(
                ErrorKind::TooLarge,
                off,
                format!("vmdesc of {l:#x} bytes: larger than the limit MAX_VMDESC ({MAX_VMDESC:#x} bytes); not read"),
            ));
        }
        Err(cur.err(
            ErrorKind::Vmdesc,
            off,
            format!(
                "vmdesc of {l:#x} bytes is followed by {:#x} more bytes, or is not JSON",
                cur.remaining() - u64::from(l)
            ),
        ))
    }
}

/// The file header's magic and version (the start of qemu_loadvm_state_header).
fn check_file_header(cur: &mut Cursor<'_>) -> Result<(), StreamError> {
    if cur.len() < QEMU_VM_FILE_HEADER_LEN {
        return Err(short_file_header(cur)?);
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
            format!("Unsupported migration stream version {version:#x} (expected {QEMU_VM_FILE_VERSION})"),
        ));
    }
    Ok(())
}

/// The error for a file shorter than the file header: not a stream at all, or one cut inside
/// its header.
fn short_file_header(cur: &Cursor<'_>) -> Result<StreamError, StreamError> {
    let magic_len = QEMU_VM_FILE_MAGIC.to_be_bytes().len() as u64;
    if cur.len() < magic_len || cur.be32_at(0, "header")? != QEMU_VM_FILE_MAGIC {
        return Ok(cur.err(ErrorKind::BadMagic, 0, "not a migration stream (no QEVM magic)"));
    }
    Ok(cur.err(ErrorKind::Truncated, cur.len(), "stream ends inside the file header"))
}

/// A START or FULL section's header: be32 section id, idstr, be32 instance id, be32 version id.
fn read_section_header(cur: &mut Cursor<'_>, off: u64, t: SectionType) -> Result<Section, StreamError> {
    let id = cur.be32("section id")?;
    let idstr = cur.short_str("idstr").map_err(|e| e.in_section(id, ""))?;
    let instance_id = cur.be32("instance id").map_err(|e| e.in_section(id, &idstr))?;
    let version_id = cur.be32("version id").map_err(|e| e.in_section(id, &idstr))?;
    Ok(Section {
        index: 0,
        section_id: id,
        idstr,
        instance_id,
        version_id,
        kind: if t == SectionType::Full {
            SectionKind::Full
        } else {
            SectionKind::Iterable
        },
        offset: off,
        body_offset: cur.pos(),
        body_len: 0,
        chunks: 1,
        vmsd_name: None,
    })
}
