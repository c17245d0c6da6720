//! Searches of raw stream bytes: a section's footer.

use super::cursor::Cursor;
use super::format::*;
use crate::error::{ErrorKind, StreamError};

/// How far the reader searches for a section footer when the vmdesc is missing.
const FOOTER_SCAN_LIMIT: u64 = 64 * 1024 * 1024;
/// Bytes all footer searches of one stream may read together (hostile streams could otherwise
/// make every section search far).
pub(super) const FOOTER_SCAN_BUDGET: u64 = 1 << 30;

/// Search forward from `from` for a footer of section `id` followed by a plausible next
/// section type byte; returns the offset of the footer.
pub(super) fn find_footer(cur: &Cursor<'_>, from: u64, id: u32, budget: &mut u64) -> Result<Option<u64>, StreamError> {
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
