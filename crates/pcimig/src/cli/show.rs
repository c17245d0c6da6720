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
    // Batches of devices decoded on all cores, written in order; memory stays at the sources'
    // bytes plus one batch of output.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8);
    let mut first = true;
    for batch in sources.chunks(BATCH) {
        let per = batch.len().div_ceil(threads);
        let parts: Vec<Vec<u8>> = std::thread::scope(|scope| {
            let handles: Vec<_> = batch
                .chunks(per)
                .map(|part| scope.spawn(|| render_part(part, &ids, args.json, args.masks)))
                .collect();
            handles.into_iter().map(|h| h.join().expect("decoder thread")).collect()
        });
        for part in parts {
            if part.is_empty() {
                continue;
            }
            if !first {
                out.write_all(if args.json { b"," } else { b"\n" })?;
            }
            first = false;
            out.write_all(&part)?;
        }
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

/// Devices per batch.
const BATCH: usize = 512;

/// Decode and render consecutive devices: JSON objects separated by commas, or text blocks
/// separated by blank lines.
fn render_part(part: &[pcimig::source::ConfigSource], ids: &pcimig::show::PciIds, json: bool, masks: bool) -> Vec<u8> {
    let mut buf = Vec::with_capacity(part.len() * 8192);
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
