//! `pcimig show SRC [--json] [--masks]`: decode a config space (see `pcimig::show`).

use clap::Args;
use pcimig::source::ConfigSource;
use std::io::Write;

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The config source (file, FILE#BDF, sysfs:BDF, …).
    pub src: String,
    /// Structured output.
    #[arg(long)]
    pub json: bool,
    /// Show which bytes QEMU would check, exempt, treat as writable or W1C.
    #[arg(long)]
    pub masks: bool,
}

pub fn run(args: ShowArgs) -> anyhow::Result<u8> {
    use std::sync::{mpsc, Mutex};
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8);
    // A pipeline: one thread reads the source (lspci text is streamed) and hands chunks of
    // devices to the decoders; the decoders render each chunk; this thread keeps the rendered
    // chunks in order. Nothing is written before the whole source has been read, so a bad
    // source is an error (exit 2) with no partial output.
    let (work_tx, work_rx) = mpsc::sync_channel::<(usize, Vec<ConfigSource>)>(threads * 2);
    let work_rx = Mutex::new(work_rx);
    let (done_tx, done_rx) = mpsc::channel::<(usize, Rendered)>();
    let src = args.src.as_str();
    let (json, masks) = (args.json, args.masks);
    let ids = std::sync::OnceLock::new();
    let (loaded, parts) = std::thread::scope(|scope| {
        let reader = scope.spawn(move || {
            let mut chunk = Vec::with_capacity(CHUNK);
            let mut i = 0;
            let r = pcimig::source::load_each(src, &mut |s| {
                chunk.push(s);
                if chunk.len() == CHUNK {
                    let _ = work_tx.send((i, std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK))));
                    i += 1;
                }
            });
            if !chunk.is_empty() {
                let _ = work_tx.send((i, chunk));
            }
            r
        });
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
                // The process ends soon: returning the bytes piece by piece only costs time.
                std::mem::forget(part);
            });
        }
        drop(done_tx);
        let mut parts = std::collections::BTreeMap::new();
        for (i, r) in done_rx {
            parts.insert(i, r);
        }
        (reader.join().expect("reader thread"), parts)
    });
    let count = match loaded {
        Ok(n) => n,
        Err(e) => {
            eprintln!("pcimig: error: {e}");
            return Ok(super::EXIT_UNDECIDED);
        }
    };
    let many = count > 1;
    if masks && !many {
        // One device: masks that cannot be computed are an error (exit 2), not a note.
        if let Some(e) = parts.values().find_map(|p| p.mask_error.clone()) {
            eprintln!("pcimig: error: {e}");
            return Ok(super::EXIT_UNDECIDED);
        }
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
    let written = (|| -> std::io::Result<()> {
        if json && many {
            out.write_all(b"{\"devices\":[")?;
        }
        for (k, p) in parts.values().enumerate() {
            if k > 0 {
                out.write_all(if json { b"," } else { b"\n" })?;
            }
            out.write_all(&p.bytes)?;
        }
        if json {
            out.write_all(if many { b"]}\n" } else { b"\n" })?;
        }
        out.flush()
    })();
    match written {
        // `pcimig show … | head`: the reader left; not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        r => r?,
    }
    std::mem::forget(parts);
    Ok(super::EXIT_PASS)
}

/// A rendered chunk of devices.
struct Rendered {
    /// JSON objects separated by commas, or text blocks separated by blank lines.
    bytes: Vec<u8>,
    /// The first `--masks` failure in the chunk.
    mask_error: Option<String>,
}

/// Devices per chunk of work.
const CHUNK: usize = 16;

/// Decode and render consecutive devices.
fn render_part(part: &[ConfigSource], ids: &pcimig::show::PciIds, json: bool, masks: bool) -> Rendered {
    let mut buf = Vec::with_capacity(part.len() * 12 * 1024);
    let mut text = String::new();
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
            text.clear();
            if i > 0 {
                text.push('\n');
            }
            pcimig::show::render::device(&mut text, &r);
            buf.extend_from_slice(text.as_bytes());
        }
    }
    Rendered { bytes: buf, mask_error }
}
