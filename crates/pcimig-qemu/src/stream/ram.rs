//! The RAM section: page headers walked, page payloads skipped.

use super::cursor::Cursor;
use super::format::*;
use super::section::Walker;
use crate::error::{ErrorKind, StreamError};

impl Walker {
    pub(super) fn ram(&mut self, cur: &mut Cursor<'_>) -> Result<(), StreamError> {
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
