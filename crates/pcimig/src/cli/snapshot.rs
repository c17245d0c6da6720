//! `pcimig snapshot`: record this host (or one described by dumps and options) as a snapshot
//! (see `pcimig::snapshot` and `docs/snapshot-format.md`).

use super::progress::{self, Progress};
use clap::Args;
use pcimig::snapshot::build::{self, DeviceOptions, DriverGiven, HostOptions};
use pcimig::snapshot::host::LiveRoots;
use pcimig::snapshot::{DeviceFilter, Snapshot, SnapshotError};
use pcimig_config::qemu_version::QemuVersion;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// Write the snapshot to FILE (atomically) instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Keep only these devices: VENDOR:DEVICE as lspci -d (10de:, 10de:2330) or an address
    /// prefix/glob (0000:3b:, *:3b:00.*); repeat or separate with commas for several.
    #[arg(long, value_name = "FILTER", value_delimiter = ',')]
    pub devices: Vec<String>,
    /// Build from dumps instead of this host: a directory of DDDD:BB:DD.F.config.bin, a binary
    /// dump (FILE@DDDD:BB:DD.F when its name is not the address), or lspci -xxxx text. Repeatable.
    #[arg(long, value_name = "PATH")]
    pub from: Vec<String>,
    /// Read a copied sysfs/procfs tree: ROOT/sys/bus/pci/devices, ROOT/sys/module, ROOT/proc.
    #[arg(long, value_name = "ROOT", conflicts_with = "from")]
    pub root: Option<PathBuf>,
    /// Host name (default on a live host: /proc/sys/kernel/hostname).
    #[arg(long, value_name = "NAME")]
    pub host: Option<String>,
    /// Kernel release (default on a live host: /proc/sys/kernel/osrelease).
    #[arg(long, value_name = "RELEASE")]
    pub kernel: Option<String>,
    /// Time of the snapshot, RFC 3339 UTC (2025-06-01T12:00:00Z); default now.
    #[arg(long, value_name = "TIME")]
    pub time: Option<String>,
    /// An installed QEMU by version (machine types from pcimig's model). Repeatable.
    #[arg(long, value_name = "VERSION")]
    pub qemu: Vec<String>,
    /// An installed qemu-system-x86_64 to ask (--version, -machine help). Repeatable; default on
    /// a live host without --qemu: every one on PATH.
    #[arg(long, value_name = "PATH")]
    pub qemu_binary: Vec<PathBuf>,
    /// A QEMU data directory whose files (ROMs) to record. Repeatable; default on a live host:
    /// QEMU's data directories ($PCIMIG_QEMU_DATADIRS or /usr/share/qemu, …).
    #[arg(long, value_name = "DIR")]
    pub rom_dir: Vec<PathBuf>,
    /// The driver (and version) of the devices SELECTOR names: SELECTOR=NAME[:VERSION], SELECTOR
    /// as --devices (0000:3b:00.0=nvidia:580.159.04, 10de:=nvidia). Repeatable; the last wins.
    #[arg(long, value_name = "SEL=NAME[:VERSION]")]
    pub driver: Vec<String>,
}

pub fn run(args: SnapshotArgs) -> anyhow::Result<u8> {
    match build_snapshot(&args) {
        Ok(s) => write(&args, &s),
        Err(e) => {
            eprintln!("pcimig: error: {e}");
            Ok(super::EXIT_UNDECIDED)
        }
    }
}

/// Parse the options, read the devices and the host facts.
fn build_snapshot(args: &SnapshotArgs) -> Result<Snapshot, SnapshotError> {
    let opt = |e: String| SnapshotError::Source(e);
    let filters = args
        .devices
        .iter()
        .map(|f| DeviceFilter::parse(f).map_err(|e| format!("--devices: {e}")))
        .collect::<Result<Vec<_>, _>>()
        .map_err(opt)?;
    let drivers = args
        .driver
        .iter()
        .map(|d| DriverGiven::parse(d))
        .collect::<Result<Vec<_>, _>>()
        .map_err(opt)?;
    let qemu = args
        .qemu
        .iter()
        .map(|v| QemuVersion::parse(v).map_err(|e| format!("--qemu: {e}")))
        .collect::<Result<Vec<_>, _>>()
        .map_err(opt)?;
    let devices_opts = DeviceOptions { filters, drivers };
    let host_opts = HostOptions {
        name: args.host.clone(),
        kernel: args.kernel.clone(),
        time: args.time.clone(),
        qemu,
        qemu_binaries: args.qemu_binary.clone(),
        rom_dirs: args.rom_dir.clone(),
    };
    let live = args.from.is_empty();
    let roots = args.root.as_deref().map_or_else(LiveRoots::system, LiveRoots::under);
    let progress = Progress::new("reading devices", progress::wanted(false));
    let mut tick = |done: usize, total: usize| progress.update(done, total);
    let (devices, mut warnings) = if live {
        build::from_sysfs(&roots, &devices_opts, &mut tick)?
    } else {
        build::from_dumps(&args.from, &devices_opts, &mut tick)?
    };
    progress.stage("reading host facts");
    let (host, more) = build::host_facts(&host_opts, live.then_some(&roots))?;
    progress.finish();
    warnings.extend(more);
    for w in &warnings {
        eprintln!("pcimig: warning: {w}");
    }
    let source = if live {
        format!("sysfs {}", roots.devices.display())
    } else {
        format!("dumps {}", args.from.join(" "))
    };
    Ok(Snapshot::new(Some(source), host, devices))
}

/// The files `--from` reads, which `--out` must not replace: each PATH (and FILE of
/// `FILE@BDF`), and the files of a directory.
fn from_files(from: &[String]) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for f in from {
        let file = f.rsplit_once('@').map_or(f.as_str(), |(file, _)| file);
        for p in [f.as_str(), file] {
            let p = PathBuf::from(p);
            if let Ok(entries) = std::fs::read_dir(&p) {
                files.extend(entries.filter_map(|e| e.ok().map(|e| e.path())));
            }
            files.push(p);
        }
    }
    files
}

fn write(args: &SnapshotArgs, s: &Snapshot) -> anyhow::Result<u8> {
    let text = s.to_json();
    match &args.out {
        None => super::output::write_stdout(text.as_bytes())?,
        Some(path) => {
            let inputs = from_files(&args.from);
            if let Err(e) = super::output::write_output(path, text.as_bytes(), &inputs) {
                eprintln!("pcimig: error: {e:#}");
                return Ok(super::EXIT_UNDECIDED);
            }
            let n = s.devices.len();
            let plural = if n == 1 { "" } else { "s" };
            eprintln!(
                "pcimig: {n} device{plural} written to {}",
                super::output::path_text(path)
            );
        }
    }
    Ok(super::EXIT_PASS)
}
