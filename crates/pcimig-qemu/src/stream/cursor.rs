//! The one big-endian reader of the stream code: a cursor over one buffer of
//! [`READ_CHUNK`](crate::limits::READ_CHUNK) bytes (filled by one large read at the first byte
//! needed past it, so page headers are parsed in memory and a skip past the buffer, a long run
//! of page payloads, costs no read at all), positioned reads that bypass the buffer, and the
//! big-endian decoding both use. Every error names the stream offset it happened at.

use super::ram_ahead::SharedSource;
use crate::error::{ErrorKind, StreamError};
use std::io;

/// Something bytes can be read from at an offset (a file, or bytes in memory for tests).
pub(crate) trait ReadAt {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize>;
}

impl ReadAt for std::fs::File {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        std::os::unix::fs::FileExt::read_at(self, buf, offset)
    }
}

impl ReadAt for Vec<u8> {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let start = usize::try_from(offset).unwrap_or(usize::MAX).min(self.len());
        let n = buf.len().min(self.len() - start);
        buf[..n].copy_from_slice(&self[start..start + n]);
        Ok(n)
    }
}

/// Read `buf.len()` bytes at `off`, or up to the end of the file: how many came; on an error,
/// the offset it happened at.
pub(crate) fn read_full_at(src: &dyn ReadAt, buf: &mut [u8], off: u64) -> Result<usize, (u64, io::Error)> {
    let mut got = 0;
    while got < buf.len() {
        match src.read_at(&mut buf[got..], off + got as u64) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err((off + got as u64, e)),
        }
    }
    Ok(got)
}

/// A big-endian u16 from the first 2 bytes of `b`.
pub(crate) fn be_u16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

/// A big-endian u32 from the first 4 bytes of `b`.
pub(crate) fn be_u32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// A big-endian u64 from the first 8 bytes of `b`.
pub(crate) fn be_u64(b: &[u8]) -> u64 {
    u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
}

use crate::limits::READ_CHUNK;

/// Bytes an onward read goes past [`Cursor::read_until`]'s offset: the record that straddles it
/// (a whole page) and the records up to where the walk jumps.
const READ_END_SLACK: usize = 16 << 10;

/// Bytes read after a jump away from the buffer (a far seek, or the first read): a jump costs a
/// small read, so a stream that makes the walk jump around (backwards over mapped-ram pages,
/// many times) cannot make it copy a whole [`READ_CHUNK`] per jump.
const JUMP_READ: usize = 4096;

/// A cursor over a [`ReadAt`] of known length.
pub(crate) struct Cursor<'a> {
    src: &'a dyn ReadAt,
    path: &'a str,
    len: u64,
    pos: u64,
    /// The buffer (allocated on the first read, [`READ_CHUNK`] bytes).
    buf: Vec<u8>,
    /// Stream offset of `buf[0]`.
    win_start: u64,
    /// Bytes of `buf` that hold stream bytes.
    win_len: usize,
    /// The source again, shareable with a worker thread (the walk of [`crate::Stream::open`]).
    shared: Option<SharedSource>,
    /// Where onward reads stop for now (with [`READ_END_SLACK`] more): the walk jumps from
    /// about there ([`Cursor::read_until`]).
    read_end: u64,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(src: &'a dyn ReadAt, path: &'a str, len: u64) -> Self {
        Cursor {
            src,
            path,
            len,
            pos: 0,
            buf: Vec::new(),
            win_start: 0,
            win_len: 0,
            shared: None,
            read_end: u64::MAX,
        }
    }

    /// The walk expects to jump away from about `end` (the start of a block the second core
    /// read): onward reads stop [`READ_END_SLACK`] past it instead of a whole [`READ_CHUNK`]
    /// on, until the walk passes it.
    pub(crate) fn read_until(&mut self, end: u64) {
        self.read_end = end;
    }

    /// Let a long RAM walk share `src`, the cursor's source, with a worker thread
    /// ([`super::ram_ahead`]).
    pub(crate) fn with_shared_source(mut self, src: SharedSource) -> Self {
        self.shared = Some(src);
        self
    }

    pub(crate) fn shared_source(&self) -> Option<&SharedSource> {
        self.shared.as_ref()
    }

    pub(crate) fn pos(&self) -> u64 {
        self.pos
    }

    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    pub(crate) fn remaining(&self) -> u64 {
        self.len.saturating_sub(self.pos)
    }

    pub(crate) fn err(&self, kind: ErrorKind, offset: u64, msg: impl std::fmt::Display) -> StreamError {
        StreamError::at(self.path, kind, offset, msg)
    }

    fn truncated(&self, need: u64, what: &str) -> StreamError {
        self.err(
            ErrorKind::Truncated,
            self.pos,
            format!(
                "stream ends at byte {:#x}: {need} bytes needed for {what}, {} available",
                self.len,
                self.remaining()
            ),
        )
    }

    /// Make `n` (<= [`READ_CHUNK`]) bytes at `pos` available in the buffer: when they are not
    /// all there, one read of up to [`READ_CHUNK`] bytes at `pos` refills it.
    fn fill(&mut self, n: usize, what: &str) -> Result<&[u8], StreamError> {
        if (n as u64) > self.remaining() {
            return Err(self.truncated(n as u64, what));
        }
        let in_window = self.pos >= self.win_start && self.pos + n as u64 <= self.win_start + self.win_len as u64;
        if !in_window {
            self.refill(n, what)?;
        }
        let off = (self.pos - self.win_start) as usize;
        Ok(&self.buf[off..off + n])
    }

    /// Read at `pos` into the buffer: [`READ_CHUNK`] bytes when `pos` is at most that far past
    /// the buffer's end (the walk goes on forward), [`JUMP_READ`] after a jump; at least `n`
    /// must come.
    fn refill(&mut self, n: usize, what: &str) -> Result<(), StreamError> {
        if self.buf.is_empty() {
            self.buf = vec![0; READ_CHUNK];
        }
        let end = self.win_start + self.win_len as u64;
        let onward =
            self.win_len > 0 && self.pos >= self.win_start && self.pos - end.min(self.pos) <= READ_CHUNK as u64;
        let mut size = if onward { READ_CHUNK } else { JUMP_READ };
        if self.pos < self.read_end {
            let ahead = usize::try_from(self.read_end - self.pos).unwrap_or(usize::MAX);
            size = size.min(ahead.saturating_add(READ_END_SLACK));
        }
        let want = (size.max(n) as u64).min(self.remaining()) as usize;
        let got = read_full_at(self.src, &mut self.buf[..want], self.pos)
            .map_err(|(at, e)| self.err(ErrorKind::Io, at, format!("read error: {e}")))?;
        self.win_start = self.pos;
        self.win_len = got;
        if got < n {
            return Err(self.truncated(n as u64, what));
        }
        Ok(())
    }

    /// The bytes already in the buffer from `pos` on (possibly none): for a caller that parses
    /// many small records in memory and then moves on with [`Cursor::advance`].
    pub(crate) fn buffered(&self) -> &[u8] {
        let end = self.win_start + self.win_len as u64;
        if self.pos < self.win_start || self.pos >= end {
            return &[];
        }
        &self.buf[(self.pos - self.win_start) as usize..self.win_len]
    }

    /// Move forward `n` bytes the caller has checked are in the file (records parsed from
    /// [`Cursor::buffered`], page payloads skipped).
    pub(crate) fn advance(&mut self, n: u64) {
        debug_assert!(n <= self.remaining());
        self.pos += n;
    }

    pub(crate) fn peek_u8(&mut self) -> Option<u8> {
        if self.remaining() == 0 {
            return None;
        }
        self.fill(1, "a byte").ok().map(|b| b[0])
    }

    pub(crate) fn u8(&mut self, what: &str) -> Result<u8, StreamError> {
        let b = self.fill(1, what)?[0];
        self.pos += 1;
        Ok(b)
    }

    pub(crate) fn be16(&mut self, what: &str) -> Result<u16, StreamError> {
        let b = self.fill(2, what)?;
        let v = be_u16(b);
        self.pos += 2;
        Ok(v)
    }

    pub(crate) fn be32(&mut self, what: &str) -> Result<u32, StreamError> {
        let b = self.fill(4, what)?;
        let v = be_u32(b);
        self.pos += 4;
        Ok(v)
    }

    pub(crate) fn be64(&mut self, what: &str) -> Result<u64, StreamError> {
        let b = self.fill(8, what)?;
        let v = be_u64(b);
        self.pos += 8;
        Ok(v)
    }

    /// Read `n` bytes into a new vector. `n` is checked against `cap` and the bytes left before
    /// anything is allocated.
    pub(crate) fn bytes(&mut self, n: u64, cap: u64, what: &str) -> Result<Vec<u8>, StreamError> {
        if n > cap {
            return Err(self.err(
                ErrorKind::TooLarge,
                self.pos,
                format!("{what}: length {n:#x} exceeds the limit {cap:#x}"),
            ));
        }
        self.need(n, what)?;
        let mut out = Vec::with_capacity(n as usize);
        let mut left = n as usize;
        while left > 0 {
            let k = left.min(READ_CHUNK);
            let chunk = self.fill(k, what)?;
            out.extend_from_slice(chunk);
            self.pos += k as u64;
            left -= k;
        }
        Ok(out)
    }

    /// A one-byte-length string (idstr, RAM block name, subsection name).
    pub(crate) fn short_str(&mut self, what: &str) -> Result<String, StreamError> {
        let n = self.u8(what)?;
        let b = self.bytes(u64::from(n), 255, what)?;
        Ok(String::from_utf8_lossy(&b).into_owned())
    }

    /// An error unless `n` more bytes are left in the stream.
    fn need(&self, n: u64, what: &str) -> Result<(), StreamError> {
        if n > self.remaining() {
            return Err(self.err(
                ErrorKind::TooLarge,
                self.pos,
                format!(
                    "{what}: length {n:#x} exceeds the file ({:#x} bytes left)",
                    self.remaining()
                ),
            ));
        }
        Ok(())
    }

    /// Move forward `n` bytes without reading them.
    pub(crate) fn skip(&mut self, n: u64, what: &str) -> Result<(), StreamError> {
        self.need(n, what)?;
        self.pos += n;
        Ok(())
    }

    /// Jump to an absolute offset (must be within the file).
    pub(crate) fn seek_to(&mut self, off: u64, what: &str) -> Result<(), StreamError> {
        if off > self.len {
            return Err(self.err(
                ErrorKind::TooLarge,
                self.pos,
                format!(
                    "{what}: offset {off:#x} is beyond the end of the file ({:#x})",
                    self.len
                ),
            ));
        }
        self.pos = off;
        Ok(())
    }

    /// Read up to `buf.len()` bytes at an absolute offset, bypassing the window.
    pub(crate) fn read_exact_at(&self, buf: &mut [u8], off: u64, what: &str) -> Result<(), StreamError> {
        if off.checked_add(buf.len() as u64).is_none_or(|end| end > self.len) {
            return Err(self.err(
                ErrorKind::Truncated,
                off,
                format!("{what}: {} bytes needed, the file ends first", buf.len()),
            ));
        }
        let got = read_full_at(self.src, buf, off)
            .map_err(|(at, e)| self.err(ErrorKind::Io, at, format!("read error: {e}")))?;
        if got < buf.len() {
            return Err(self.err(
                ErrorKind::Truncated,
                off + got as u64,
                format!("{what}: unexpected end of file"),
            ));
        }
        Ok(())
    }

    /// The byte at an absolute offset, bypassing the window.
    pub(crate) fn u8_at(&self, off: u64, what: &str) -> Result<u8, StreamError> {
        let mut b = [0u8; 1];
        self.read_exact_at(&mut b, off, what)?;
        Ok(b[0])
    }

    /// A be32 at an absolute offset, bypassing the window.
    pub(crate) fn be32_at(&self, off: u64, what: &str) -> Result<u32, StreamError> {
        let mut b = [0u8; 4];
        self.read_exact_at(&mut b, off, what)?;
        Ok(be_u32(&b))
    }

    /// A be64 at an absolute offset, bypassing the window.
    pub(crate) fn be64_at(&self, off: u64, what: &str) -> Result<u64, StreamError> {
        let mut b = [0u8; 8];
        self.read_exact_at(&mut b, off, what)?;
        Ok(be_u64(&b))
    }
}
