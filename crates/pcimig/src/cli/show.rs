//! `pcimig show SRC [--json] [--masks]`: decode a config space (see `pcimig::show`).

use clap::Args;
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
    let sources = match pcimig::source::load_all(&args.src) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("pcimig: error: {e}");
            return Ok(super::EXIT_UNDECIDED);
        }
    };
    let many = sources.len() > 1;
    if args.masks && !many {
        // One device: masks that cannot be computed are an error (exit 2), not a note.
        if let Err(e) = pcimig::show::masks::compute(&sources[0]) {
            eprintln!("pcimig: error: {e}");
            return Ok(super::EXIT_UNDECIDED);
        }
    }
    let ids = pcimig::show::PciIds::load(&pcimig::show::vendors_of(&sources));
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
    if args.json && many {
        out.write_all(b"{\"devices\":[")?;
    }
    // Chunks of devices decoded on all cores (each worker takes the next chunk when it is done,
    // so a descheduled worker delays only its own chunk), written in order as they complete.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8);
    let chunks: Vec<&[pcimig::source::ConfigSource]> = sources.chunks(CHUNK).collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut first = true;
    let mut write = |part: &[u8], out: &mut dyn Write| -> std::io::Result<()> {
        if part.is_empty() {
            return Ok(());
        }
        if !first {
            out.write_all(if args.json { b"," } else { b"\n" })?;
        }
        first = false;
        out.write_all(part)
    };
    let written = std::thread::scope(|scope| -> std::io::Result<()> {
        let (tx, rx) = std::sync::mpsc::channel::<(usize, Vec<u8>)>();
        for _ in 0..threads.min(chunks.len()) {
            let tx = tx.clone();
            let (chunks, next, ids) = (&chunks, &next, &ids);
            scope.spawn(move || loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(part) = chunks.get(i) else { break };
                if tx.send((i, render_part(part, ids, args.json, args.masks))).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        let mut pending = std::collections::BTreeMap::new();
        let mut want = 0;
        for (i, buf) in rx {
            pending.insert(i, buf);
            while let Some(buf) = pending.remove(&want) {
                write(&buf, &mut out)?;
                want += 1;
            }
        }
        Ok(())
    });
    match written {
        // `pcimig show … | head`: the reader left; not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(super::EXIT_PASS),
        r => r?,
    }
    if args.json {
        out.write_all(if many { b"]}\n" } else { b"\n" })?;
    }
    match out.flush() {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        r => r?,
    }
    // The process ends here: returning the sources' memory piece by piece only costs time.
    std::mem::forget(sources);
    Ok(super::EXIT_PASS)
}

/// Devices per chunk of work.
const CHUNK: usize = 16;

/// Decode and render consecutive devices: JSON objects separated by commas, or text blocks
/// separated by blank lines.
fn render_part(part: &[pcimig::source::ConfigSource], ids: &pcimig::show::PciIds, json: bool, masks: bool) -> Vec<u8> {
    let mut buf = Vec::with_capacity(part.len() * 12 * 1024);
    let mut text = String::new();
    for (i, s) in part.iter().enumerate() {
        let mut r = pcimig::show::decode(s, ids);
        if masks {
            match pcimig::show::masks::compute(s) {
                Ok(m) => r.masks = Some(m),
                Err(e) => r.warnings.push(format!("--masks: {}", e.message)),
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
    buf
}
