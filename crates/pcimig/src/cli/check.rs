//! `pcimig check` (vfio issue).

use clap::Args;

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The saved side (a physical config on the source host, or a config from a stream).
    #[arg(long)]
    pub saved: String,
    /// The destination side.
    #[arg(long)]
    pub dest: String,
    /// Structured output.
    #[arg(long)]
    pub json: bool,
}

pub fn run(_args: CheckArgs) -> anyhow::Result<u8> {
    anyhow::bail!("check: not implemented yet")
}
