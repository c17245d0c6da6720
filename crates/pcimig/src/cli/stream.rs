//! `pcimig stream ls|extract` (streams issue).

use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum StreamCommand {
    /// List the sections and PCI devices of a migration stream.
    Ls(LsArgs),
    /// Extract one PCI device's saved config space.
    Extract(ExtractArgs),
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// The stream file.
    pub file: String,
    /// Structured output.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ExtractArgs {
    /// FILE#DEVICE.
    pub src: String,
    /// Output file (written atomically).
    #[arg(short, long)]
    pub output: std::path::PathBuf,
}

pub fn run(_cmd: StreamCommand) -> anyhow::Result<u8> {
    anyhow::bail!("stream: not implemented yet")
}
