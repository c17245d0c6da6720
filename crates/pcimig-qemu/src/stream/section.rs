//! The section walk: file header, then START/FULL/PART/END sections with their footers, commands, EOF and what follows it.

use super::cursor::Cursor;
use super::entries::{PciDeviceEntry, Section, SectionKind, VmdescInfo};
use super::format::*;
use super::scan::FOOTER_SCAN_BUDGET;
use super::vfio::{is_vfio, vfio_iterable};
use super::vmdesc::{self, Vmdesc};
use crate::error::{ErrorKind, StreamError};
use std::collections::HashMap;

/// Most sections a stream may declare (QEMU has a few hundred at most).
pub const MAX_SECTIONS: usize = 65536;
/// virtio sections whose layout may be searched exhaustively (damaged capability chains).
const VIRTIO_SEARCHES: u32 = 64;

#[derive(Default)]
pub(super) struct Walker {
    pub(super) machine_type: Option<String>,
    pub(super) page_size: u64,
    pub(super) capabilities: Vec<String>,
    pub(super) sections: Vec<Section>,
    pub(super) by_id: HashMap<u32, usize>,
    pub(super) devices: Vec<PciDeviceEntry>,
    pub(super) vmdesc: Option<VmdescInfo>,
    pub(super) desc: Option<Vmdesc>,
    pub(super) full_seen: usize,
    pub(super) footers: Option<bool>,
    pub(super) eof_offset: u64,
    pub(super) warnings: Vec<String>,
    pub(super) postcopy_summary: Option<u64>,
    pub(super) scan_budget: u64,
    pub(super) virtio_searches: u32,
    pub(super) guessed: usize,
}

impl Walker {
    pub(super) fn walk(&mut self, mut cur: Cursor<'_>, path: &str) -> Result<(), StreamError> {
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

    pub(super) fn iterable(&mut self, cur: &mut Cursor<'_>, index: usize) -> Result<(), StreamError> {
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
}
