//! `pcimig explain`: name the register, device and likely cause of a failed incoming migration
//! from QEMU's error output.

use super::check::OnOff;
use clap::Args;
use pcimig::explain::{self, ExplainError, Request};
use pcimig_config::QemuVersion;

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// QEMU's error output from the failed incoming migration (a file, or `-` for stdin).
    pub log: String,
    /// The saved migration stream: names capability registers from the device's saved config
    /// and gives the machine type.
    #[arg(long, value_name = "FILE")]
    pub stream: Option<std::path::PathBuf>,
    /// The destination (any source `check` reads: a stream of the freshly started destination
    /// VM, or a physical config for vfio-pci): re-runs the check and shows every mismatch.
    #[arg(long, value_name = "SRC", requires = "stream")]
    pub dest: Option<String>,
    /// A data directory of the destination's QEMU (`-L DIR`), searched for ROM files before the
    /// host's; repeatable (the option ROM block lengths of the check).
    #[arg(long = "dest-datadir", value_name = "DIR", requires = "dest")]
    pub dest_datadirs: Vec<std::path::PathBuf>,
    /// The destination's QEMU version, `X.Y` or `X.Y.Z` (7.2 … 11.1; default 10.0.2 for the check).
    #[arg(long, value_name = "VERSION")]
    pub dest_qemu: Option<String>,
    /// The QEMU version that saved the stream (default 10.0.2), for the check.
    #[arg(long, value_name = "VERSION")]
    pub saved_qemu: Option<String>,
    /// skip-vsc-check as set explicitly on the destination's vfio-pci.
    #[arg(long, value_name = "on|off")]
    pub skip_vsc_check: Option<OnOff>,
    /// Structured output (fields in README.md).
    #[arg(long)]
    pub json: bool,
}

fn version(opt: &str, v: &Option<String>) -> Result<Option<QemuVersion>, ExplainError> {
    v.as_deref()
        .map(|t| QemuVersion::parse(t).map_err(|e| ExplainError::Options(format!("{opt}: {e}"))))
        .transpose()
}

/// Exit 0 when the log holds a failure it explains; errors (no failure found, bad input) exit 2.
pub fn run(a: ExplainArgs) -> anyhow::Result<u8> {
    let req = Request {
        log_name: if a.log == "-" { "<stdin>".into() } else { a.log.clone() },
        stream: a.stream.clone(),
        dest: a.dest.clone(),
        dest_qemu: version("--dest-qemu", &a.dest_qemu)?,
        saved_qemu: version("--saved-qemu", &a.saved_qemu)?,
        skip_vsc_check: a.skip_vsc_check.map(|v| v == OnOff::On),
        dest_datadirs: a.dest_datadirs.clone(),
    };
    let log = explain::read_log(&a.log)?;
    let out = explain::explain(&log, &req)?;
    if a.json {
        super::output::print_json(&out)?;
    } else {
        super::output::print_text(&explain::text(&out))?;
    }
    Ok(super::EXIT_PASS)
}
