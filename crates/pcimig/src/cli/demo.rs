//! `pcimig demo`: run the bundled scenarios; exit 0 only if every one came out as expected.

use clap::Args;
use pcimig::check::WarningKind;
use pcimig::demo;
use pcimig::report::QEMU_PREFIX;
use std::fmt::Write;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Directory holding the demo data (default: data/demo of the source tree).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Regenerate the demo data from the H100 sample into this directory, then exit.
    #[arg(long, value_name = "DIR", hide = true)]
    pub write_data: Option<PathBuf>,
}

pub fn run(args: DemoArgs) -> anyhow::Result<u8> {
    use anyhow::Context;
    if let Some(dir) = args.write_data {
        let data = demo::default_dir();
        let h100_path = data
            .parent()
            .unwrap_or(&data)
            .join("samples/h100-firecracker/0000:00:06.0.config.bin");
        let h100 = std::fs::read(&h100_path).with_context(|| format!("cannot read {}", h100_path.display()))?;
        std::fs::create_dir_all(&dir)?;
        for (name, bytes) in demo::derive_files(&h100) {
            super::write_atomic(&dir.join(name), &bytes)?;
            super::output::print_text(&format!("wrote {}\n", dir.join(name).display()))?;
        }
        return Ok(0);
    }
    let dir = args.data.unwrap_or_else(demo::default_dir);
    let scenarios = demo::scenarios(&dir).with_context(|| format!("cannot read the demo data in {}", dir.display()))?;
    let mut ok = 0;
    let mut text = String::new();
    writeln!(
        text,
        "pcimig demo: will QEMU 10.0.2 accept these PCI config spaces on live migration?\n"
    )?;
    for s in &scenarios {
        writeln!(text, "== {}", s.title)?;
        writeln!(text, "   $ {}", s.command)?;
        match pcimig::check::vfio::run(&s.request) {
            Ok(out) => {
                let good = demo::matches(&out, &s.expected);
                writeln!(
                    text,
                    "   verdict: {} (exit code {})",
                    out.verdict.as_str().to_uppercase(),
                    out.exit_code()
                )?;
                match &out.qemu_line {
                    Some(l) => writeln!(text, "   QEMU: {QEMU_PREFIX}{l}")?,
                    None => writeln!(text, "   QEMU: restore accepted")?,
                }
                if let Some(m) = out.mismatches.first() {
                    writeln!(text, "   first mismatch: {}", m.location)?;
                }
                for w in out.warnings.iter().filter(|w| w.kind == WarningKind::DsnHazard) {
                    writeln!(text, "   ! {w}")?;
                }
                writeln!(text, "   why: {}", s.why)?;
                if good {
                    ok += 1;
                    writeln!(text, "   as expected\n")?;
                } else {
                    writeln!(
                        text,
                        "   NOT AS EXPECTED: wanted {} {:?}\n",
                        s.expected.verdict, s.expected.qemu_line
                    )?;
                }
            }
            Err(e) => writeln!(text, "   NOT AS EXPECTED: could not decide: {e}\n")?,
        }
    }
    writeln!(text, "{ok}/{} scenarios came out as expected", scenarios.len())?;
    super::output::print_text(&text)?;
    Ok(if ok == scenarios.len() { 0 } else { 1 })
}
