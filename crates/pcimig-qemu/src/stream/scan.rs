//! Searches of raw stream bytes: a section's footer (when no vmdesc delimits the section, or the
//! vmdesc is off), and the vmdesc record from the end of the file; [`scan_back`], the backward
//! search the vmdesc search and the devices-only walk's END-chunk search share.

use super::cursor::{be_u32, Cursor};
use super::format::{
    SectionType, QEMU_VM_SECTION_FOOTER, QEMU_VM_VMDESCRIPTION, SECTION_FOOTER_LEN, VMDESC_HEADER_LEN,
};
use crate::error::{ErrorKind, StreamError};
use crate::limits::{FOOTER_SCAN_BUDGET, FOOTER_SCAN_LIMIT, MAX_VMDESC};

/// Bytes a search reads at a time (consecutive reads overlap by a footer and the type byte
/// after it).
const SCAN_CHUNK: usize = 64 * 1024;
/// A footer and the section type byte that must follow it.
const FOOTER_MATCH_LEN: usize = SECTION_FOOTER_LEN + 1;
/// The vmdesc record's header and the first byte of its JSON (`{`).
const VMDESC_MATCH_LEN: usize = VMDESC_HEADER_LEN as usize + 1;
/// Overlap of consecutive reads of the backward vmdesc search.
const VMDESC_SCAN_OVERLAP: usize = 8;

/// The footer of section `id`: QEMU_VM_SECTION_FOOTER, be32 id (save_section_footer).
fn footer_bytes(id: u32) -> [u8; SECTION_FOOTER_LEN] {
    let mut footer = [QEMU_VM_SECTION_FOOTER; SECTION_FOOTER_LEN];
    footer[1..].copy_from_slice(&id.to_be_bytes());
    footer
}

/// Whether the footer of section `id` is at `off`.
pub(super) fn footer_at(cur: &Cursor<'_>, off: u64, id: u32) -> bool {
    let mut found = [0u8; SECTION_FOOTER_LEN];
    cur.read_exact_at(&mut found, off, "footer").is_ok() && found == footer_bytes(id)
}

/// The section id of a footer at `off` that is followed by a byte that may follow a footer
/// (so that a footer, not a body byte that happens to be QEMU_VM_SECTION_FOOTER, is there).
pub(super) fn other_footer_at(cur: &Cursor<'_>, off: u64) -> Option<u32> {
    let mut found = [0u8; FOOTER_MATCH_LEN];
    cur.read_exact_at(&mut found, off, "footer").ok()?;
    let next = SectionType::from_byte(found[SECTION_FOOTER_LEN]);
    (found[0] == QEMU_VM_SECTION_FOOTER && next.is_some_and(SectionType::may_follow_footer))
        .then(|| be_u32(&found[1..]))
}

/// Where in `buf` a footer of the section is followed by a byte that may follow a footer
/// (another section, a command, EOF).
fn footer_in(buf: &[u8], footer: &[u8; SECTION_FOOTER_LEN]) -> Option<usize> {
    (0..buf.len().saturating_sub(SECTION_FOOTER_LEN)).find(|&i| {
        buf[i..i + SECTION_FOOTER_LEN] == *footer
            && SectionType::from_byte(buf[i + SECTION_FOOTER_LEN]).is_some_and(SectionType::may_follow_footer)
    })
}

/// Search forward from `from` for a footer of section `id` followed by a plausible next
/// section type byte; returns the offset of the footer. `budget`: bytes all searches of the
/// stream may still read.
pub(super) fn find_footer(cur: &Cursor<'_>, from: u64, id: u32, budget: &mut u64) -> Result<Option<u64>, StreamError> {
    let footer = footer_bytes(id);
    let window = SCAN_CHUNK + FOOTER_MATCH_LEN;
    let mut buf = vec![0u8; window];
    let mut lo = from;
    let limit = cur.len().min(from.saturating_add(FOOTER_SCAN_LIMIT));
    while lo < limit {
        let n = ((limit - lo) as usize).min(window).min((cur.len() - lo) as usize);
        if *budget < n as u64 {
            return Err(cur.err(
                ErrorKind::TooLarge,
                from,
                format!("footer searches have read {FOOTER_SCAN_BUDGET:#x} bytes in total; giving up"),
            ));
        }
        *budget -= n as u64;
        cur.read_exact_at(&mut buf[..n], lo, "footer search")?;
        if let Some(i) = footer_in(&buf[..n], &footer) {
            return Ok(Some(lo + i as u64));
        }
        if n < window {
            break;
        }
        lo += SCAN_CHUNK as u64;
    }
    Ok(None)
}

/// Whether `h` (QEMU_VM_VMDESCRIPTION, be32 length, first JSON byte) is a vmdesc record header
/// whose JSON runs exactly to the end of the file, `rest` bytes from the header.
fn is_vmdesc_header(h: &[u8], rest: u64) -> bool {
    h[0] == QEMU_VM_VMDESCRIPTION
        && VMDESC_HEADER_LEN + u64::from(be_u32(&h[1..])) == rest
        && h[VMDESC_MATCH_LEN - 1] == b'{'
}

/// Where the vmdesc record (QEMU_VM_VMDESCRIPTION, be32 length, JSON) is: found from the end
/// of the file, as QEMU writes it last. Returns the offset of its first byte and the JSON
/// length.
pub(super) fn locate_vmdesc(cur: &Cursor<'_>) -> Result<Option<(u64, u32)>, StreamError> {
    let len = cur.len();
    let start = len - len.min(MAX_VMDESC + VMDESC_MATCH_LEN as u64);
    // The candidate nearest the end wins (JSON text holds no raw QEMU_VM_VMDESCRIPTION byte, so
    // only the real header can satisfy the length check).
    scan_back(
        cur,
        start,
        len,
        VMDESC_SCAN_OVERLAP,
        "vmdesc search",
        |lo, buf, starts| {
            (0..starts)
                .rev()
                .find(|&i| {
                    buf.get(i..i + VMDESC_MATCH_LEN)
                        .is_some_and(|h| is_vmdesc_header(h, len - (lo + i as u64)))
                })
                .map(|i| (lo + i as u64, be_u32(&buf[i + 1..])))
        },
    )
}

/// Search `lowest..end` backward, [`SCAN_CHUNK`] bytes at a time, each read with the `overlap`
/// bytes after it (up to `end`) so that a match of up to `overlap` bytes starting in the chunk
/// is whole in the read. `find` gets a read's stream offset, its bytes and how many of them
/// may start a match (the chunk's), and returns its match nearest the end; the first one found,
/// nearest `end`, is the result.
pub(super) fn scan_back<T>(
    cur: &Cursor<'_>,
    lowest: u64,
    end: u64,
    overlap: usize,
    what: &str,
    mut find: impl FnMut(u64, &[u8], usize) -> Option<T>,
) -> Result<Option<T>, StreamError> {
    let mut buf = vec![0u8; SCAN_CHUNK + overlap];
    let mut hi = end;
    while hi > lowest {
        let lo = hi.saturating_sub(SCAN_CHUNK as u64).max(lowest);
        let n = (hi.saturating_add(overlap as u64).min(end) - lo) as usize;
        cur.read_exact_at(&mut buf[..n], lo, what)?;
        if let Some(found) = find(lo, &buf[..n], (hi - lo) as usize) {
            return Ok(Some(found));
        }
        hi = lo;
    }
    Ok(None)
}
