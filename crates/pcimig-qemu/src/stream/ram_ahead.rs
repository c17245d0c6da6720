//! A long RAM walk on two cores. Nearly all of a large stream is runs of the two records
//! [`fast_records`] takes (zero pages and whole pages of the previous page's block); reading
//! them (the kernel's copy, the one `cat` makes) and checking them is the whole cost of the walk,
//! and it is sequential only because a record's length decides where the next one starts.
//!
//! From where the walk meets its first long RAM chunk, the stream is cut into blocks of
//! [`BLOCK`] bytes. The walk reads and parses the even blocks itself; a worker thread reads the
//! odd ones with its own buffer and finds in each the runs of such records, without knowing
//! where records start: a run starts at the first offset from which [`RUN_PROOF`] consecutive
//! records are taken, and goes on while they are (past the block's end to the first record
//! boundary after it). Whether a run starts at a real record boundary does not matter: the walk
//! uses a run only when its own position, a record boundary it reached by parsing, is exactly
//! the run's start, and from there the records are the run's, checked by the same rules
//! ([`fast_record_len`]); it then jumps to the run's end. Anything else in an odd block (section
//! headers, the first page of a block, other records, device state) the walk parses itself.
//!
//! Bounded: the worker is at most [`AHEAD`] blocks' results ahead of the walk, each at most
//! [`MAX_RUNS`] runs; its buffer is one [`READ_CHUNK`] plus [`RUN_WINDOW`].

use super::cursor::{read_full_at, Cursor, ReadAt};
use super::ram::{fast_record_len, fast_records, ZeroRun};
use crate::limits::READ_CHUNK;
use std::collections::VecDeque;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;

/// A stream source the worker can share with the walk.
pub(crate) type SharedSource = Arc<dyn ReadAt + Send + Sync>;

/// Bytes of a block.
const BLOCK: u64 = 1 << 20;
/// Stream bytes that must be left when the walk meets its first RAM chunk for the worker to
/// start (a shorter stream is read faster than a thread starts).
const MIN_STREAM: u64 = 8 << 20;
/// Block results the worker may be ahead of the walk by.
const AHEAD: usize = 8;
/// Most runs one block's result holds (a block with more is left to the walk past them).
const MAX_RUNS: usize = 256;
/// Consecutive records a run must start with before the worker follows it.
const RUN_PROOF: usize = 3;
/// Offsets the worker tries, in one stretch of a block, for the start of a run before it
/// leaves the rest of the block to the walk.
const SEARCH_BUDGET: u64 = 64 << 10;
/// Bytes the worker's buffer holds past a read chunk: [`RUN_PROOF`] records' headers and more.
const RUN_WINDOW: usize = 16 << 10;
/// Bytes from a record's start that decide whether [`fast_record_len`] takes it (a zero page's
/// header and fill byte).
const RECORD_DECIDED: u64 = 9;

/// A run of records the worker checked: from `start`, if that is a record boundary, the records
/// up to `end` are all taken by [`fast_record_len`].
struct Run {
    start: u64,
    end: u64,
}

/// The runs the worker found in one odd block.
struct BlockRuns {
    block: u64,
    runs: VecDeque<Run>,
}

/// What the walk, at a record boundary in a RAM chunk, does next.
pub(super) enum Step {
    /// A run starts exactly here: go on at its end.
    Jump(u64),
    /// Parse on until this offset (the next run's start, or the start of the next odd block),
    /// then ask again.
    ParseUntil(u64),
    /// Parse on (the worker has stopped).
    Alone,
}

/// The worker and the results it has sent.
pub(super) struct RamAhead {
    /// Stream offset of block 0.
    base: u64,
    results: Option<Receiver<BlockRuns>>,
    /// The result of the odd block the walk is in or will be in next.
    current: Option<BlockRuns>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl RamAhead {
    /// The worker for a walk at `cur`'s position (a RAM chunk's first record), when the cursor
    /// may share its source, the stream is long enough and there is a second core.
    pub(super) fn start(cur: &Cursor<'_>, page_size: u64) -> Option<RamAhead> {
        let src = cur.shared_source()?;
        if cur.remaining() < MIN_STREAM || cores() < 2 {
            return None;
        }
        let base = cur.pos();
        let len = cur.len();
        let (send, results) = sync_channel(AHEAD);
        let stop = Arc::new(AtomicBool::new(false));
        let worker = Worker {
            src: Arc::clone(src),
            len,
            zero_run: ZeroRun::new(page_size),
            buf: vec![0; READ_CHUNK + RUN_WINDOW],
            buf_start: 0,
            buf_len: 0,
            read_end: 0,
        };
        let stopped = Arc::clone(&stop);
        let handle = std::thread::Builder::new()
            .name("pcimig-ram".into())
            .spawn(move || worker.run(base, &send, &stopped))
            .ok()?;
        Some(RamAhead {
            base,
            results: Some(results),
            current: None,
            stop,
            handle: Some(handle),
        })
    }

    /// The walk is at record boundary `pos` in a RAM chunk: jump, or how far to parse alone.
    pub(super) fn step(&mut self, pos: u64) -> Step {
        if pos < self.base {
            return Step::Alone;
        }
        let block = (pos - self.base) / BLOCK;
        let next_block_start = self.base + (block + 1) * BLOCK;
        if block % 2 == 0 {
            return Step::ParseUntil(next_block_start);
        }
        let Some(result) = self.result_for(block) else {
            return Step::Alone;
        };
        while result.runs.front().is_some_and(|r| r.start < pos) {
            result.runs.pop_front();
        }
        match result.runs.front() {
            Some(run) if run.start == pos => {
                let end = run.end;
                result.runs.pop_front();
                #[cfg(test)]
                tests::JUMPED.with(|j| j.set(j.get() + (end - pos)));
                Step::Jump(end)
            }
            Some(run) => Step::ParseUntil(run.start),
            None => Step::ParseUntil(next_block_start),
        }
    }

    /// The worker's result for odd block `block`, waiting for it if needed; `None` once the
    /// worker has stopped.
    fn result_for(&mut self, block: u64) -> Option<&mut BlockRuns> {
        while self.current.as_ref().is_none_or(|r| r.block < block) {
            let received = self.results.as_ref()?.recv();
            match received {
                Ok(result) => self.current = Some(result),
                Err(_) => {
                    self.results = None;
                    return None;
                }
            }
        }
        self.current.as_mut().filter(|r| r.block == block)
    }
}

impl std::fmt::Debug for RamAhead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RamAhead")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl Drop for RamAhead {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.results = None;
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

/// The cores this process may run on (looked up once).
fn cores() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, usize::from))
}

/// The worker thread's state: its own buffer over the stream.
struct Worker {
    src: SharedSource,
    len: u64,
    zero_run: ZeroRun,
    buf: Vec<u8>,
    /// Stream offset of `buf[0]`.
    buf_start: u64,
    /// Bytes of `buf` that hold stream bytes.
    buf_len: usize,
    /// Where reads stop: the current block's end and [`RUN_WINDOW`] (the block after it is the
    /// walk's).
    read_end: u64,
}

impl Worker {
    /// Every odd block from `base` on, in order, until the stream ends, the walk is done, or a
    /// read fails.
    fn run(mut self, base: u64, send: &SyncSender<BlockRuns>, stop: &AtomicBool) {
        for block in (1u64..).step_by(2) {
            let Some(from) = block.checked_mul(BLOCK).and_then(|b| b.checked_add(base)) else {
                return;
            };
            if from >= self.len || stop.load(Ordering::Relaxed) {
                return;
            }
            let to = (from + BLOCK).min(self.len);
            self.read_end = to.saturating_add(RUN_WINDOW as u64);
            let Ok(runs) = self.block_runs(from, to, stop) else {
                return;
            };
            if send.send(BlockRuns { block, runs }).is_err() {
                return;
            }
        }
    }

    /// The runs of the block `from..to`: each found by [`Worker::find_run`], followed to its end.
    fn block_runs(&mut self, from: u64, to: u64, stop: &AtomicBool) -> io::Result<VecDeque<Run>> {
        let mut runs = VecDeque::new();
        let mut at = from;
        while at < to && runs.len() < MAX_RUNS && !stop.load(Ordering::Relaxed) {
            let Some(start) = self.find_run(at, to)? else {
                break;
            };
            let end = self.follow(start, to)?;
            runs.push_back(Run { start, end });
            at = end + 1;
        }
        Ok(runs)
    }

    /// The first offset in `from..to` (trying at most [`SEARCH_BUDGET`] of them) from which
    /// [`RUN_PROOF`] consecutive records are taken.
    fn find_run(&mut self, from: u64, to: u64) -> io::Result<Option<u64>> {
        let last = to.min(from.saturating_add(SEARCH_BUDGET));
        for start in from..last {
            if self.proven(start)? {
                return Ok(Some(start));
            }
        }
        Ok(None)
    }

    /// Whether [`RUN_PROOF`] consecutive records are taken from `start` on.
    fn proven(&mut self, start: u64) -> io::Result<bool> {
        self.load(start, RUN_WINDOW)?;
        let buf = self.bytes_from(start);
        let left = self.len - start;
        let page_size = self.zero_run.page_size();
        let mut at: u64 = 0;
        for _ in 0..RUN_PROOF {
            match fast_record_len(buf, at, left - at.min(left), page_size) {
                Some(n) => at += n,
                None => return Ok(false),
            }
        }
        Ok(true)
    }

    /// Where the records taken from `start` on end: at the first one not taken, or at the first
    /// record boundary at or past `to`.
    fn follow(&mut self, start: u64, to: u64) -> io::Result<u64> {
        let page_size = self.zero_run.page_size();
        let mut at = start;
        loop {
            let left = self.len - at;
            self.load(at, RUN_WINDOW)?;
            let buf = self.bytes_from(at);
            let usable = buf.len().min(usize::try_from(to - at).unwrap_or(usize::MAX));
            let mut n = fast_records(&buf[..usable], left, &self.zero_run);
            if at + n < to {
                n += fast_record_len(buf, n, left - n.min(left), page_size).unwrap_or(0);
            }
            at += n;
            // The record at `at` was not taken: that is the run's end unless it was cut off by
            // the end of the buffer (then read on from it).
            if at >= to || at + RECORD_DECIDED > self.len || at + RECORD_DECIDED <= self.buf_end() || n == 0 {
                return Ok(at);
            }
        }
    }

    fn buf_end(&self) -> u64 {
        self.buf_start + self.buf_len as u64
    }

    /// Make at least `want` bytes from `off` on buffered, where the stream has them: one read of
    /// [`READ_CHUNK`] plus [`RUN_WINDOW`] at `off` (not past `read_end`) when they are not.
    fn load(&mut self, off: u64, want: usize) -> io::Result<()> {
        let want_end = off.saturating_add(want as u64).min(self.len);
        if off >= self.buf_start && want_end <= self.buf_end() {
            return Ok(());
        }
        let end = self.len.min(self.read_end.max(want_end));
        let size = (end - off.min(end)).min(self.buf.len() as u64) as usize;
        self.buf_len = read_full_at(self.src.as_ref(), &mut self.buf[..size], off).map_err(|(_, e)| e)?;
        self.buf_start = off;
        Ok(())
    }

    /// The buffered bytes from `off` on (after [`Worker::load`] of `off`).
    fn bytes_from(&self, off: u64) -> &[u8] {
        let from = usize::try_from(off.saturating_sub(self.buf_start)).unwrap_or(usize::MAX);
        &self.buf[from.min(self.buf_len)..self.buf_len]
    }
}

#[cfg(test)]
mod tests {
    //! The walk with the worker equals the walk without it, on streams long enough to start it:
    //! the same sections, devices, RAM blocks and warnings, or the same error at the same offset;
    //! and the worker's runs were used (bytes jumped) where the records allow it.

    use crate::build::StreamBuilder;
    use crate::Stream;
    use pcimig_testkit::Rng;
    use std::cell::Cell;

    thread_local! {
        /// Bytes the walk on this thread jumped over by the worker's runs.
        pub(super) static JUMPED: Cell<u64> = const { Cell::new(0) };
    }

    const PAGE: u64 = 4096;
    const ZERO: u64 = 0x02;
    const WHOLE: u64 = 0x08;
    const CONTINUE: u64 = 0x20;
    const EOS: u64 = 0x10;
    const MULTIFD_FLUSH: u64 = 0x200;

    /// How a test stream's pages are written.
    #[derive(Clone, Copy)]
    enum Shape {
        /// Every page a zero page.
        Zero,
        /// Every page whole, random payload.
        Whole,
        /// Zero and whole pages mixed, with named records, MULTIFD_FLUSH, other fill bytes
        /// never (a valid stream).
        Mixed,
        /// Whole pages whose payloads are full of zero-page records at the wrong phase (runs
        /// the worker finds that start at no record boundary).
        Decoys,
    }

    /// A page record of `pc.ram`.
    fn page(raw: &mut Vec<u8>, rng: &mut Rng, addr: u64, kind: u64, named: bool, decoys: bool) {
        let flags = kind | if named { 0 } else { CONTINUE };
        raw.extend_from_slice(&(addr | flags).to_be_bytes());
        if named {
            raw.push(6);
            raw.extend_from_slice(b"pc.ram");
        }
        if kind == ZERO {
            raw.push(0);
        } else if decoys {
            let mut payload = Vec::with_capacity(PAGE as usize);
            payload.push(0x55);
            while payload.len() < PAGE as usize {
                payload.extend_from_slice(&((rng.below(1 << 20) << 12) | ZERO | CONTINUE).to_be_bytes());
                payload.push(0);
            }
            raw.extend_from_slice(&payload[..PAGE as usize]);
        } else {
            for _ in 0..PAGE / 8 {
                raw.extend_from_slice(&rng.next_u64().to_le_bytes());
            }
        }
    }

    /// A stream of about `bytes` bytes of RAM records in PART sections of random sizes (each
    /// starting with a named page, ending with EOS and a footer), then an e1000.
    fn stream(shape: Shape, bytes: usize, seed: u64) -> Vec<u8> {
        let mut rng = Rng::new(seed);
        let mut b = StreamBuilder::new("pc-q35-10.0");
        let guest: u64 = 64 << 30;
        let (id, mut raw) = b.ram_start(guest);
        raw.extend_from_slice(&EOS.to_be_bytes());
        raw.push(0x7e);
        raw.extend_from_slice(&id.to_be_bytes());
        let mut addr = 0;
        while raw.len() < bytes {
            raw.push(0x02); // QEMU_VM_SECTION_PART
            raw.extend_from_slice(&id.to_be_bytes());
            let records = 1 + rng.below(300_000);
            for i in 0..records {
                let kind = match shape {
                    Shape::Zero => ZERO,
                    Shape::Whole | Shape::Decoys => WHOLE,
                    Shape::Mixed => [ZERO, ZERO, ZERO, WHOLE][rng.below(4) as usize],
                };
                let named = i == 0 || matches!(shape, Shape::Mixed) && rng.below(5000) == 0;
                if matches!(shape, Shape::Mixed) && rng.below(20_000) == 0 {
                    raw.extend_from_slice(&MULTIFD_FLUSH.to_be_bytes());
                }
                page(&mut raw, &mut rng, addr, kind, named, matches!(shape, Shape::Decoys));
                addr = (addr + PAGE) % guest;
                if raw.len() >= bytes {
                    break;
                }
            }
            raw.extend_from_slice(&EOS.to_be_bytes());
            raw.push(0x7e);
            raw.extend_from_slice(&id.to_be_bytes());
        }
        b.raw(&raw);
        b.e1000();
        b.finish()
    }

    /// Everything a walk found, or its error, as text.
    fn outcome(s: Result<Stream, crate::StreamError>) -> String {
        match s {
            Ok(s) => format!(
                "{:?}\n{:?}\n{:?}\n{:?}\n{}",
                s.sections(),
                s.pci_devices(),
                s.ram_blocks(),
                s.warnings(),
                s.eof_offset()
            ),
            Err(e) => format!("error: {e}"),
        }
    }

    /// Walk `bytes` both ways; the two must agree. Returns the bytes the worker's runs saved.
    fn both_walks_agree(bytes: Vec<u8>) -> u64 {
        let one = outcome(Stream::from_bytes_one_core("s.mig", bytes.clone()));
        JUMPED.with(|j| j.set(0));
        let two = outcome(Stream::from_bytes("s.mig", bytes));
        assert_eq!(one, two);
        JUMPED.with(Cell::get)
    }

    fn two_cores() -> bool {
        super::cores() >= 2
    }

    #[test]
    fn every_shape_walks_the_same_with_the_worker() {
        for (shape, seed) in [
            (Shape::Zero, 1),
            (Shape::Whole, 2),
            (Shape::Mixed, 3),
            (Shape::Mixed, 4),
        ] {
            let bytes = stream(shape, 24 << 20, seed);
            let len = bytes.len() as u64;
            let jumped = both_walks_agree(bytes);
            if two_cores() {
                // The worker has half of the blocks, and the walk jumps over nearly all of them.
                assert!(jumped > len * 45 / 100, "seed {seed}: jumped {jumped} of {len}");
            }
        }
    }

    #[test]
    fn decoy_runs_at_the_wrong_phase_change_nothing() {
        let bytes = stream(Shape::Decoys, 16 << 20, 5);
        both_walks_agree(bytes);
    }

    #[test]
    fn an_error_in_a_block_of_the_worker_is_the_same_error_at_the_same_offset() {
        let bytes = stream(Shape::Zero, 20 << 20, 6);
        let mut rng = Rng::new(7);
        for _ in 0..12 {
            let mut bad = bytes.clone();
            // A fill byte of a zero page (records are 9 bytes from the first PART's pages on),
            // or any byte, made wrong somewhere in the RAM.
            let at = 4096 + rng.below(bytes.len() as u64 - (1 << 20)) as usize;
            bad[at] ^= 1 << rng.below(8);
            both_walks_agree(bad);
        }
        let mut cut = bytes.clone();
        cut.truncate(13 << 20);
        both_walks_agree(cut);
    }

    #[test]
    fn a_short_stream_starts_no_worker() {
        let bytes = stream(Shape::Zero, 4 << 20, 8);
        assert_eq!(both_walks_agree(bytes), 0);
    }
}
