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
    let mut reports = pcimig::show::decode_all(&sources);
    if args.masks {
        for (r, s) in reports.iter_mut().zip(&sources) {
            match pcimig::show::masks::compute(s) {
                Ok(m) => r.masks = Some(m),
                Err(e) => {
                    eprintln!("pcimig: error: {e}");
                    return Ok(super::EXIT_UNDECIDED);
                }
            }
        }
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let many = sources.len() > 1;
    if args.json {
        if many {
            serde_json::to_writer(&mut out, &pcimig::show::Devices { devices: &reports })?;
        } else {
            serde_json::to_writer(&mut out, &reports[0])?;
        }
        out.write_all(b"\n")?;
    } else {
        out.write_all(pcimig::show::render::all(&reports).as_bytes())?;
    }
    match out.flush() {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        r => r?,
    }
    Ok(super::EXIT_PASS)
}
