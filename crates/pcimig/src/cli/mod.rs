//! Command-line interface. Each subcommand lives in its own module.

use clap::{Parser, Subcommand};

pub mod check;
pub mod demo;
pub mod progress;

pub mod explain;
pub mod fleet;
pub mod output;
pub mod show;
pub mod snapshot;
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
    /// Record this host's PCI devices, drivers, QEMU installs and ROM files as a snapshot (JSON).
    Snapshot(snapshot::SnapshotArgs),

    /// Explain a failed incoming migration from QEMU's error output: device, register, cause.
    /// Exit 0: explained, 2: no failure found or bad input.
    Explain(explain::ExplainArgs),
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
        Command::Snapshot(a) => snapshot::run(a),

        Command::Explain(a) => explain::run(a),
        Command::Fleet(a) => fleet::run(a),
    }
}

/// Write `data` to `path` atomically; see [`output::write_output`] for what is refused.
pub use output::write_atomic;
