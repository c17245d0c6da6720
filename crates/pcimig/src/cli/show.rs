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
    let ids = pcimig::show::PciIds::load(&pcimig::show::vendors_of(&sources));
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
    let many = sources.len() > 1;
    // One device at a time: decode, write, drop (memory stays at the sources' bytes).
    if args.json && many {
        out.write_all(b"{\"devices\":[")?;
    }
    let mut text = String::new();
    for (i, s) in sources.iter().enumerate() {
        let mut r = pcimig::show::decode(s, &ids);
        if args.masks {
            match pcimig::show::masks::compute(s) {
                Ok(m) => r.masks = Some(m),
                Err(e) => {
                    eprintln!("pcimig: error: {e}");
                    return Ok(super::EXIT_UNDECIDED);
                }
            }
        }
        if args.json {
            if many && i > 0 {
                out.write_all(b",")?;
            }
            serde_json::to_writer(&mut out, &r)?;
        } else {
            text.clear();
            if i > 0 {
                text.push('\n');
            }
            pcimig::show::render::device(&mut text, &r);
            out.write_all(text.as_bytes())?;
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
