//! `pcimig show SRC [--json] [--masks]` (readers issue).

use clap::Args;

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

pub fn run(_args: ShowArgs) -> anyhow::Result<u8> {
    anyhow::bail!("show: not implemented yet")
}
