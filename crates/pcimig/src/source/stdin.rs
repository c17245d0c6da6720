//! `-`: a binary dump or lspci text on standard input, read up to [`MAX_TEXT_SOURCE`] bytes
//! (lspci text device by device, as from a file). A migration stream is refused: it is read by
//! seeking (its vmdesc is at the end).

use super::{dump_or_error, lspci, ConfigSource, SourceError, SourceSpec, HEAD, MAX_TEXT_SOURCE, QEMU_VM_FILE_MAGIC};
use std::io::{BufReader, Cursor, Read};

/// How standard input is named in messages and origins.
pub const STDIN_NAME: &str = "<stdin>";

/// A reader that fails once more than `cap` bytes have come through it.
struct Capped<R> {
    inner: R,
    cap: u64,
    read: u64,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > self.cap {
            return Err(std::io::Error::other(format!(
                "more than {} bytes, the limit for a config dump or lspci text on standard input",
                self.cap
            )));
        }
        Ok(n)
    }
}

/// What standard input starts with, and the rest of it.
enum Opened {
    Lspci(BufReader<std::io::Chain<Cursor<Vec<u8>>, Capped<std::io::StdinLock<'static>>>>),
    Other(Vec<u8>),
}

/// The spec with standard input's name, and what it holds.
fn open(spec: &SourceSpec) -> Result<(SourceSpec, Opened), SourceError> {
    let named = SourceSpec {
        path: STDIN_NAME.to_string(),
        ..spec.clone()
    };
    let cannot = |e: std::io::Error| SourceError::new(STDIN_NAME, format!("cannot read: {e}"));
    let mut input = Capped {
        inner: std::io::stdin().lock(),
        cap: MAX_TEXT_SOURCE,
        read: 0,
    };
    let mut head = Vec::with_capacity(HEAD);
    (&mut input).take(HEAD as u64).read_to_end(&mut head).map_err(cannot)?;
    if head.len() >= 4 && u32::from_be_bytes([head[0], head[1], head[2], head[3]]) == QEMU_VM_FILE_MAGIC {
        return Err(SourceError::new(
            STDIN_NAME,
            "a QEMU migration stream cannot be read from standard input (it is read by seeking: the vmdesc is at \
             the end); save it to a file and give the file",
        ));
    }
    if lspci::looks_like_lspci(&head) {
        let r = BufReader::with_capacity(1 << 20, Cursor::new(head).chain(input));
        return Ok((named, Opened::Lspci(r)));
    }
    input.read_to_end(&mut head).map_err(cannot)?;
    Ok((named, Opened::Other(head)))
}

/// Every device on standard input, handed to `emit` as it is read.
pub(super) fn each(spec: &SourceSpec, emit: &mut dyn FnMut(ConfigSource) -> bool) -> Result<usize, SourceError> {
    match open(spec)? {
        (named, Opened::Lspci(r)) => lspci::stream(&named, r, emit),
        (named, Opened::Other(data)) => {
            let all = from_bytes(&named, data)?;
            let n = all.len();
            for s in all {
                if !emit(s) {
                    break;
                }
            }
            Ok(n)
        }
    }
}

/// Every device on standard input (or the one `-#BDF` selects).
pub(super) fn all(spec: &SourceSpec) -> Result<Vec<ConfigSource>, SourceError> {
    match open(spec)? {
        (named, Opened::Lspci(r)) => lspci::load(&named, r),
        (named, Opened::Other(data)) => from_bytes(&named, data),
    }
}

/// A whole input that is not lspci text: a binary dump, or an error.
fn from_bytes(spec: &SourceSpec, mut data: Vec<u8>) -> Result<Vec<ConfigSource>, SourceError> {
    let len = data.len() as u64;
    // Detection looks at the first HEAD bytes, as for a file; a dump is smaller than that.
    if data.len() > HEAD {
        data.truncate(HEAD);
    }
    dump_or_error(spec, data, len)
}
