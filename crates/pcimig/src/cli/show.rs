//! `pcimig show SRC [--json] [--masks]`: decode a config space (see `pcimig::show`).
//!
//! Devices are decoded and written as they are read: memory holds a bounded window of devices
//! (the reader's buffer, [`WINDOW`] chunks of [`CHUNK`] devices and up to [`HOLD`] bytes of
//! output), whatever the number of devices in the file.

use super::output;
use clap::Args;
use pcimig::source::ConfigSource;
use std::io::Write;
use std::sync::mpsc;

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The config source (file, FILE#BDF, sysfs:BDF, `-` for standard input, …).
    #[arg(allow_hyphen_values = true)]
    pub src: std::ffi::OsString,
    /// Structured output.
    #[arg(long)]
    pub json: bool,
    /// Show which bytes QEMU would check, exempt, treat as writable or W1C.
    #[arg(long)]
    pub masks: bool,
}

/// Devices per chunk of work.
const CHUNK: usize = 16;
/// Chunks read but not yet written, at most: bounds memory whatever the file's size.
const WINDOW: usize = 8;
/// Output held back before the first byte is written: an error in a source whose output fits
/// (about 700 devices of JSON) leaves no partial output. Past it, output streams, and an error
/// ends it (exit 2; the JSON document is left unterminated, so it does not parse).
const HOLD: usize = 8 << 20;

pub fn run(args: ShowArgs) -> anyhow::Result<u8> {
    let src = match output::utf8_src(&args.src) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("pcimig: error: {e}");
            return Ok(super::EXIT_UNDECIDED);
        }
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8);
    let mut out = Sink::new(args.json);
    // A pipeline: one thread reads the source (lspci text is streamed) and hands chunks of
    // devices to the decoders, at most WINDOW chunks ahead of the writer; the decoders render
    // each chunk; this thread writes the rendered chunks in order.
    let (work_tx, work_rx) = mpsc::sync_channel::<(usize, Vec<ConfigSource>)>(WINDOW);
    let work_rx = std::sync::Mutex::new(work_rx);
    let (done_tx, done_rx) = mpsc::channel::<(usize, Rendered)>();
    let (credit_tx, credit_rx) = mpsc::sync_channel::<()>(WINDOW);
    for _ in 0..WINDOW {
        credit_tx.send(()).expect("credits fit the channel");
    }
    let (json, masks) = (args.json, args.masks);
    let ids = std::sync::OnceLock::new();
    let loaded = std::thread::scope(|scope| {
        let src = src.as_str();
        let reader = scope.spawn(move || read_chunks(src, &work_tx, &credit_rx));
        for _ in 0..threads {
            let (work_rx, done_tx, ids) = (&work_rx, done_tx.clone(), &ids);
            scope.spawn(move || loop {
                let next = work_rx.lock().map(|rx| rx.recv());
                let Ok(Ok((i, part))) = next else { break };
                // Names for every vendor (the devices are not known in advance), loaded once,
                // while the reader goes on.
                let ids = ids.get_or_init(pcimig::show::PciIds::load_every_vendor);
                if done_tx.send((i, render_part(&part, ids, json, masks))).is_err() {
                    break;
                }
            });
        }
        drop(done_tx);
        let mut pending = std::collections::BTreeMap::new();
        let mut next = 0;
        let mut credit_tx = Some(credit_tx);
        for (i, r) in done_rx {
            pending.insert(i, r);
            while let Some(r) = pending.remove(&next) {
                out.part(r, masks);
                next += 1;
                if let Some(tx) = &credit_tx {
                    let _ = tx.send(());
                }
            }
            if out.closed {
                // The reader of our output has gone (`| head`): no more credits stops ours.
                credit_tx = None;
            }
        }
        reader.join().expect("reader thread")
    });
    out.finish(loaded.map_err(|e| e.to_string()))
}

/// The reader: every device of `src`, in chunks of [`CHUNK`], each sent once a credit allows.
fn read_chunks(
    src: &str,
    work_tx: &mpsc::SyncSender<(usize, Vec<ConfigSource>)>,
    credit_rx: &mpsc::Receiver<()>,
) -> Result<usize, pcimig::source::SourceError> {
    let mut chunk = Vec::with_capacity(CHUNK);
    let mut i = 0;
    // No credit: the writer has stopped (a closed pipe), and so does the reader.
    let send = |chunk: Vec<ConfigSource>, i: usize| credit_rx.recv().is_ok() && work_tx.send((i, chunk)).is_ok();
    let r = pcimig::source::load_each_while(src, &mut |s| {
        chunk.push(s);
        if chunk.len() < CHUNK {
            return true;
        }
        i += 1;
        send(std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK)), i - 1)
    });
    if !chunk.is_empty() {
        send(chunk, i);
    }
    r
}

/// Standard output for `show`: the document's framing, the held-back start, a closed pipe.
struct Sink {
    json: bool,
    /// Whether there are several devices (known from the first chunk: only the last chunk is
    /// short, so a first chunk of one device is the whole source).
    many: Option<bool>,
    /// Output not yet written (until it passes [`HOLD`]).
    held: Vec<u8>,
    streaming: bool,
    /// Standard output, unbuffered here: chunks of devices are large writes already.
    out: std::io::StdoutLock<'static>,
    /// A write failed: the error (a closed pipe is not one).
    failed: Option<std::io::Error>,
    closed: bool,
    /// A `--masks` failure of the only device.
    mask_error: Option<String>,
}

impl Sink {
    fn new(json: bool) -> Self {
        Sink {
            json,
            many: None,
            held: Vec::new(),
            streaming: false,
            out: std::io::stdout().lock(),
            failed: None,
            closed: false,
            mask_error: None,
        }
    }

    /// One rendered chunk, in order.
    fn part(&mut self, r: Rendered, masks: bool) {
        let first = self.many.is_none();
        if first {
            let many = r.devices > 1;
            self.many = Some(many);
            // One device: masks that cannot be computed are an error (exit 2), not a note.
            if masks && !many {
                self.mask_error = r.mask_error.clone();
            }
            if self.json && many {
                self.write(b"{\"devices\":[");
            }
        } else {
            self.write(if self.json { b"," } else { b"\n" });
        }
        self.write(&r.bytes);
    }

    fn write(&mut self, bytes: &[u8]) {
        if self.streaming {
            self.emit(bytes);
            return;
        }
        self.held.extend_from_slice(bytes);
        if self.held.len() > HOLD {
            self.streaming = true;
            let held = std::mem::take(&mut self.held);
            self.emit(&held);
        }
    }

    fn emit(&mut self, bytes: &[u8]) {
        if self.closed || self.failed.is_some() {
            return;
        }
        match self.out.write_all(bytes) {
            Ok(()) => {}
            // `pcimig show … | head`: the reader left; not an error.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => self.closed = true,
            Err(e) => self.failed = Some(e),
        }
    }

    /// Close the document, or report the source's error; the exit code.
    fn finish(mut self, loaded: Result<usize, String>) -> anyhow::Result<u8> {
        let error = loaded.err().or(self.mask_error.take());
        if let Some(e) = error {
            // Output already streamed stays as it is, unterminated; held output is dropped.
            self.held.clear();
            let _ = self.out.flush();
            eprintln!("pcimig: error: {}", output::terminal_safe(&e));
            return Ok(super::EXIT_UNDECIDED);
        }
        if self.json {
            self.write(if self.many == Some(true) { b"]}\n" } else { b"\n" });
        }
        let held = std::mem::take(&mut self.held);
        self.emit(&held);
        if !self.closed && self.failed.is_none() {
            if let Err(e) = self.out.flush() {
                if e.kind() != std::io::ErrorKind::BrokenPipe {
                    self.failed = Some(e);
                }
            }
        }
        match self.failed {
            Some(e) => Err(anyhow::Error::new(e).context("writing standard output")),
            None => Ok(super::EXIT_PASS),
        }
    }
}

/// A rendered chunk of devices.
struct Rendered {
    /// JSON objects separated by commas, or text blocks separated by blank lines; control
    /// characters from the input escaped.
    bytes: Vec<u8>,
    /// How many devices.
    devices: usize,
    /// The first `--masks` failure in the chunk.
    mask_error: Option<String>,
}

/// Decode and render consecutive devices.
fn render_part(part: &[ConfigSource], ids: &pcimig::show::PciIds, json: bool, masks: bool) -> Rendered {
    let mut buf = Vec::with_capacity(if json { part.len() * 12 * 1024 } else { 0 });
    let mut text = String::with_capacity(if json { 0 } else { part.len() * 8 * 1024 });
    let mut mask_error = None;
    for (i, s) in part.iter().enumerate() {
        let mut r = pcimig::show::decode(s, ids);
        if masks {
            match pcimig::show::masks::compute(s) {
                Ok(m) => r.masks = Some(m),
                Err(e) => {
                    r.warnings.push(format!("--masks: {}", e.message));
                    mask_error.get_or_insert_with(|| e.to_string());
                }
            }
        }
        if json {
            if i > 0 {
                buf.push(b',');
            }
            serde_json::to_writer(&mut buf, &r).expect("serialize to memory");
        } else {
            if i > 0 {
                text.push('\n');
            }
            pcimig::show::render::device(&mut text, &r);
        }
    }
    if json {
        if let std::borrow::Cow::Owned(safe) = output::json_safe(&buf) {
            buf = safe;
        }
    } else {
        buf = match output::terminal_safe(&text) {
            std::borrow::Cow::Borrowed(_) => text.into_bytes(),
            std::borrow::Cow::Owned(safe) => safe.into_bytes(),
        };
    }
    Rendered {
        bytes: buf,
        devices: part.len(),
        mask_error,
    }
}
