//! Command-line interface. Each subcommand lives in its own module.

use clap::{Parser, Subcommand};

pub mod check;
pub mod demo;
pub mod fleet;
pub mod show;
pub mod stream;

/// Exit code: the command succeeded (a check: the restore would pass).
pub const EXIT_PASS: u8 = pcimig::check::Verdict::Pass.exit_code();
/// Exit code: bad input, or a check could not decide.
pub const EXIT_UNDECIDED: u8 = pcimig::check::Verdict::Undecided.exit_code();

/// Predict QEMU's PCI config-space check on migration restore, and explain every mismatch.
#[derive(Debug, Parser)]
#[command(name = "pcimig", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Predict whether QEMU's restore accepts the saved config on the destination device.
    /// Exit 0: pass, 1: fail, 2: could not decide.
    Check(check::CheckArgs),
    /// Decode a config space: header, standard and extended capabilities, migration hazards.
    Show(show::ShowArgs),
    /// Inspect QEMU migration streams.
    #[command(subcommand)]
    Stream(stream::StreamCommand),
    /// Run the bundled scenarios (vGPU across driver versions, GPU passthrough with DSNs).
    Demo(demo::DemoArgs),
    /// Which VMs can move from which host to which: groups and a compatibility matrix over host snapshots.
    Fleet(fleet::FleetArgs),
}

/// Run a parsed command line; returns the exit code.
pub fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Check(a) => check::run(a),
        Command::Show(a) => show::run(a),
        Command::Stream(c) => stream::run(c),
        Command::Demo(a) => demo::run(a),
        Command::Fleet(a) => fleet::run(a),
    }
}

/// Write `data` to `path` atomically: a temporary file in the same directory, then rename.
pub fn write_atomic(path: &std::path::Path, data: &[u8]) -> anyhow::Result<()> {
    use anyhow::Context;
    use std::io::Write;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let name = path
        .file_name()
        .context("output path has no file name")?
        .to_string_lossy()
        .to_string();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| -> anyhow::Result<()> {
        let mut f = std::fs::File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
        f.write_all(data)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        f.sync_all().ok();
        std::fs::rename(&tmp, path)
            .with_context(|| format!("cannot rename {} to {}", tmp.display(), path.display()))?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
