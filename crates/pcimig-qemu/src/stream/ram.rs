//! The RAM section (migration/ram.c): page headers walked (runs of them parsed in memory from
//! the reader's buffer, zero pages 16 at a time, or skipped where the second core checked them:
//! [`super::ram_ahead`]), page payloads skipped, never decoded or kept;
//! the RAM block list (every block's idstr and length) kept as [`RamBlock`]s.

use super::configuration::StreamFormat;
use super::cursor::{be_u64, Cursor};
use super::format::{
    MAPPED_RAM_HDR_VERSION, RAM_SAVE_FLAG_CONTINUE, RAM_SAVE_FLAG_EOS, RAM_SAVE_FLAG_HOOK, RAM_SAVE_FLAG_MEM_SIZE,
    RAM_SAVE_FLAG_MULTIFD_FLUSH, RAM_SAVE_FLAG_PAGE, RAM_SAVE_FLAG_XBZRLE, RAM_SAVE_FLAG_ZERO,
};
use super::ram_ahead::{RamAhead, Step};
use crate::error::{ErrorKind, StreamError};
use crate::limits::MAX_RAM_BLOCKS;
use serde::Serialize;

/// One entry of the RAM block list the RAM section starts with (ram_save_setup writes it,
/// parse_ramblocks reads it): the destination looks the block up by its idstr and compares its
/// length with its own block's (parse_ramblock, qemu_ram_resize).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RamBlock {
    /// The block's idstr (qemu_ram_set_idstr): `<device path>/<region name>` for a block
    /// registered with its device (`0000:00:03.0/e1000.rom`), the region name alone for a
    /// global one (`pc.ram`, `/rom@etc/acpi/tables`).
    pub idstr: String,
    /// The block's used_length on the saving side (a multiple of the host page size).
    pub length: u64,
    /// Stream offset of the entry (its idstr's length byte).
    pub offset: u64,
}

/// One chunk of the RAM section (ram_load_precopy): be64 page headers (the page address, with
/// RAM_SAVE_FLAG_* in the bits below the page size) and what each carries, until
/// RAM_SAVE_FLAG_EOS.
/// `ahead`: the second core's share of a long walk ([`RamAhead`]), started here when the walk
/// meets its first long RAM chunk.
pub(super) fn ram_load_precopy(
    cur: &mut Cursor<'_>,
    format: &StreamFormat,
    ahead: &mut Option<RamAhead>,
) -> Result<(), StreamError> {
    let ps = format.page_size;
    let zero_run = ZeroRun::new(ps);
    if ahead.is_none() {
        *ahead = RamAhead::start(cur, ps);
    }
    loop {
        skip_buffered_pages(cur, &zero_run, ahead.as_mut());
        let off = cur.pos();
        let word = cur.be64("RAM page header")?;
        let flags = word & (ps - 1);
        let addr = word & !(ps - 1);
        let named = flags & RAM_SAVE_FLAG_CONTINUE == 0;
        match flags & !RAM_SAVE_FLAG_CONTINUE {
            RAM_SAVE_FLAG_MEM_SIZE => parse_ramblocks(cur, format, addr, &mut |_| {})?,
            RAM_SAVE_FLAG_ZERO => zero_page(cur, off, named)?,
            RAM_SAVE_FLAG_PAGE => {
                block_name(cur, named)?;
                cur.skip(ps, "RAM page")?;
            }
            RAM_SAVE_FLAG_XBZRLE => xbzrle_page(cur, off, named, ps)?,
            RAM_SAVE_FLAG_MULTIFD_FLUSH => {}
            RAM_SAVE_FLAG_EOS => return Ok(()),
            RAM_SAVE_FLAG_HOOK => {
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

/// Length of a page header (be64 address and flags).
const PAGE_HEADER_LEN: u64 = 8;
/// RAM_SAVE_FLAG_ZERO with RAM_SAVE_FLAG_CONTINUE: a zero page of the previous page's block.
const ZERO_CONTINUED: u64 = RAM_SAVE_FLAG_ZERO | RAM_SAVE_FLAG_CONTINUE;
/// RAM_SAVE_FLAG_PAGE with RAM_SAVE_FLAG_CONTINUE: a whole page of the previous page's block.
const PAGE_CONTINUED: u64 = RAM_SAVE_FLAG_PAGE | RAM_SAVE_FLAG_CONTINUE;

/// The bulk of a RAM chunk, parsed in memory from the cursor's buffer by [`fast_records`]; where
/// the second core has already checked a run of such records starting exactly at the walk's
/// position ([`RamAhead`]), the walk jumps to the run's end. Stops, without consuming it, at
/// any record [`fast_records`] does not take and where the buffer ends; the general path of
/// [`ram_load_precopy`] takes over there, so every error keeps its offset.
fn skip_buffered_pages(cur: &mut Cursor<'_>, zero_run: &ZeroRun, mut ahead: Option<&mut RamAhead>) {
    loop {
        let pos = cur.pos();
        let limit = match ahead.as_deref_mut().map(|a| a.step(pos)) {
            Some(Step::Jump(to)) if to > pos && to <= cur.len() => {
                cur.advance(to - pos);
                continue;
            }
            Some(Step::ParseUntil(limit)) => {
                cur.read_until(limit);
                limit
            }
            _ => u64::MAX,
        };
        let buf = cur.buffered();
        let usable = buf.len().min(usize::try_from(limit - pos).unwrap_or(usize::MAX));
        let n = fast_records(&buf[..usable], cur.remaining(), zero_run);
        cur.advance(n);
        // At (or, by a page whose payload ran past it, beyond) the limit: ask again.
        if n == 0 || cur.pos() < limit {
            return;
        }
    }
}

/// How many bytes at the start of `buf` (a record boundary; `left` stream bytes from there on)
/// are records the walk takes in memory: consecutive zero pages (fill byte 0) and whole pages
/// of the previous page's block, the two records ram_save writes for nearly every page. Stops
/// at any other record, at a zero page with another fill byte, at a page the file is too short
/// for, and at a record whose header (or fill byte) is not whole in `buf`; a page's payload may
/// run past `buf` (it is skipped, not read), so the result may exceed `buf.len()`.
pub(super) fn fast_records(buf: &[u8], left: u64, zero_run: &ZeroRun) -> u64 {
    let mut at: u64 = 0;
    loop {
        at += zero_run.skip(buf.get(at as usize..).unwrap_or_default());
        match fast_record_len(buf, at, left - at.min(left), zero_run.page_size) {
            Some(n) => at += n,
            None => return at,
        }
    }
}

/// The length of the record at `buf[at..]` if [`fast_records`] takes it (`left`: stream bytes
/// from `at` on).
pub(super) fn fast_record_len(buf: &[u8], at: u64, left: u64, page_size: u64) -> Option<u64> {
    let header = buf.get(at as usize..(at + PAGE_HEADER_LEN) as usize)?;
    match be_u64(header) & (page_size - 1) {
        ZERO_CONTINUED if buf.get((at + PAGE_HEADER_LEN) as usize) == Some(&0) => Some(ZERO_RECORD_LEN),
        PAGE_CONTINUED if PAGE_HEADER_LEN + page_size <= left => Some(PAGE_HEADER_LEN + page_size),
        _ => None,
    }
}

/// Length of a zero-page record of the previous page's block: header and fill byte.
const ZERO_RECORD_LEN: u64 = PAGE_HEADER_LEN + 1;
/// Zero-page records [`ZeroRun::skip`] checks at once.
const ZERO_RUN_RECORDS: usize = 16;
/// Bytes of [`ZERO_RUN_RECORDS`] zero-page records.
const ZERO_RUN_LEN: usize = ZERO_RUN_RECORDS * ZERO_RECORD_LEN as usize;

/// The long runs of zero pages an idle guest's RAM becomes (RAM_SAVE_FLAG_ZERO |
/// RAM_SAVE_FLAG_CONTINUE, fill byte 0, 9 bytes each), checked [`ZERO_RUN_RECORDS`] at a time
/// without a branch per record: every record's flag bits and fill byte are compared under a
/// mask; the page addresses are not looked at (as in the record-by-record path).
pub(super) struct ZeroRun {
    page_size: u64,
    /// The bytes of a run that are compared: each record's flag bits and fill byte.
    mask: [u8; ZERO_RUN_LEN],
    /// What they must be: ZERO_CONTINUED in the flag bits, fill byte 0.
    want: [u8; ZERO_RUN_LEN],
}

impl ZeroRun {
    pub(super) fn new(page_size: u64) -> Self {
        let mut mask = [0u8; ZERO_RUN_LEN];
        let mut want = [0u8; ZERO_RUN_LEN];
        for record in 0..ZERO_RUN_RECORDS {
            let at = record * ZERO_RECORD_LEN as usize;
            let header = at..at + PAGE_HEADER_LEN as usize;
            mask[header.clone()].copy_from_slice(&(page_size - 1).to_be_bytes());
            want[header].copy_from_slice(&ZERO_CONTINUED.to_be_bytes());
            mask[at + PAGE_HEADER_LEN as usize] = 0xff;
        }
        ZeroRun { page_size, mask, want }
    }

    pub(super) fn page_size(&self) -> u64 {
        self.page_size
    }

    /// How many bytes at the start of `buf` are whole runs of [`ZERO_RUN_RECORDS`] zero pages
    /// (a multiple of [`ZERO_RUN_LEN`]); records after the last whole run are left to the
    /// record-by-record path.
    fn skip(&self, buf: &[u8]) -> u64 {
        let runs = buf.chunks_exact(ZERO_RUN_LEN).take_while(|run| self.matches(run));
        (runs.count() * ZERO_RUN_LEN) as u64
    }

    fn matches(&self, run: &[u8]) -> bool {
        let diff = run
            .iter()
            .zip(&self.mask)
            .zip(&self.want)
            .fold(0u8, |acc, ((b, m), w)| acc | ((b & m) ^ w));
        diff == 0
    }
}

/// The RAM block name a page header is followed by, unless RAM_SAVE_FLAG_CONTINUE says it is
/// the previous page's block (ram_block_from_stream).
fn block_name(cur: &mut Cursor<'_>, named: bool) -> Result<(), StreamError> {
    if named {
        cur.short_str("RAM block name")?;
    }
    Ok(())
}

/// RAM_SAVE_FLAG_ZERO: the block name, then the fill byte, which must be 0.
fn zero_page(cur: &mut Cursor<'_>, off: u64, named: bool) -> Result<(), StreamError> {
    block_name(cur, named)?;
    let ch = cur.u8("zero page fill byte")?;
    if ch != 0 {
        return Err(cur.err(ErrorKind::Malformed, off, format!("Found a zero page with value {ch}")));
    }
    Ok(())
}

/// RAM_SAVE_FLAG_XBZRLE (load_xbzrle): the block name, u8 flags, be16 length (at most a page),
/// the encoded data.
fn xbzrle_page(cur: &mut Cursor<'_>, off: u64, named: bool, page_size: u64) -> Result<(), StreamError> {
    block_name(cur, named)?;
    cur.u8("XBZRLE flags")?;
    let l = cur.be16("XBZRLE length")?;
    if u64::from(l) > page_size {
        return Err(cur.err(
            ErrorKind::Malformed,
            off,
            format!("XBZRLE length {l} exceeds the page size"),
        ));
    }
    cur.skip(u64::from(l), "XBZRLE data")
}

/// The RAM block list of a RAM section whose first chunk's body starts at `body`: the
/// RAM_SAVE_FLAG_MEM_SIZE header ram_save_setup writes first, then each block. Empty when the
/// first header is not RAM_SAVE_FLAG_MEM_SIZE. At most [`MAX_RAM_BLOCKS`] entries.
pub(super) fn ram_block_list(
    cur: &mut Cursor<'_>,
    format: &StreamFormat,
    body: u64,
) -> Result<Vec<RamBlock>, StreamError> {
    cur.seek_to(body, "RAM section")?;
    let word = cur.be64("RAM page header")?;
    let ps = format.page_size;
    let mut blocks = Vec::new();
    if word & (ps - 1) & !RAM_SAVE_FLAG_CONTINUE == RAM_SAVE_FLAG_MEM_SIZE {
        parse_ramblocks(cur, format, word & !(ps - 1), &mut |b| blocks.push(b))?;
    }
    Ok(blocks)
}

/// The RAM block list (parse_ramblocks): each block's name and be64 length, and what
/// parse_ramblock reads after them, until the lengths add up to `total`; `on_block` gets each.
fn parse_ramblocks(
    cur: &mut Cursor<'_>,
    format: &StreamFormat,
    total: u64,
    on_block: &mut dyn FnMut(RamBlock),
) -> Result<(), StreamError> {
    let mut left = total;
    let mut blocks = 0u32;
    while left > 0 {
        let entry = cur.pos();
        let name = cur.short_str("RAM block name")?;
        let at = cur.pos();
        let length = cur.be64("RAM block length")?;
        if length > left || length == 0 {
            return Err(cur.err(
                ErrorKind::Malformed,
                at,
                format!("RAM block '{name}' length {length:#x} (total left {left:#x})"),
            ));
        }
        left -= length;
        blocks += 1;
        if blocks > MAX_RAM_BLOCKS {
            return Err(cur.err(
                ErrorKind::TooLarge,
                at,
                format!("more than {MAX_RAM_BLOCKS} RAM blocks"),
            ));
        }
        parse_ramblock(cur, format, &name, length)?;
        on_block(RamBlock {
            idstr: name,
            length,
            offset: entry,
        });
    }
    Ok(())
}

/// What follows a RAM block's name and length, in ram_save_setup's order: its page size
/// (postcopy-ram, a block of another page size), its guest address (x-ignore-shared), its
/// MappedRamHeader (mapped-ram, whose pages are then skipped by their offset).
fn parse_ramblock(cur: &mut Cursor<'_>, format: &StreamFormat, name: &str, length: u64) -> Result<(), StreamError> {
    let ps = format.page_size;
    if let Some(summary) = format.postcopy_page_sizes.filter(|s| s & !ps != 0) {
        skip_block_page_size(cur, ps, summary)?;
    }
    if format.ignore_shared() {
        cur.be64("RAM block address")?;
    }
    if format.mapped_ram() {
        skip_mapped_ram(cur, name, length)?;
    }
    Ok(())
}

/// ram_save_setup's be64 page size for a block whose page size is not the host's (hugepages),
/// under postcopy-ram: skipped when the next word is a page size the summary has.
fn skip_block_page_size(cur: &mut Cursor<'_>, page_size: u64, summary: u64) -> Result<(), StreamError> {
    if let Ok(v) = cur.be64_at(cur.pos(), "RAM block page size") {
        if v.is_power_of_two() && v != page_size && summary & v != 0 {
            cur.skip(8, "RAM block page size")?;
        }
    }
    Ok(())
}

/// mapped-ram (parse_ramblock_mapped_ram): the MappedRamHeader (be32 version, be64 page_size,
/// be64 bitmap_offset, be64 pages_offset); the block's pages are at pages_offset, and the
/// stream goes on after them.
fn skip_mapped_ram(cur: &mut Cursor<'_>, name: &str, length: u64) -> Result<(), StreamError> {
    let h = cur.pos();
    let v = cur.be32("mapped-ram header version")?;
    let _page = cur.be64("mapped-ram page size")?;
    let _bitmap = cur.be64("mapped-ram bitmap offset")?;
    let pages = cur.be64("mapped-ram pages offset")?;
    if v != MAPPED_RAM_HDR_VERSION {
        return Err(cur.err(ErrorKind::Unsupported, h, format!("mapped-ram header version {v}")));
    }
    let next = pages.checked_add(length).ok_or_else(|| {
        cur.err(
            ErrorKind::TooLarge,
            h,
            format!("mapped-ram pages offset {pages:#x} overflows"),
        )
    })?;
    cur.seek_to(next, &format!("mapped-ram pages of '{name}'"))
}
