//! `pcimig fleet`: which VMs can move from which host to which, over host snapshots.

use super::check::{OnOff, SlotArg};
use super::output::{self, path_text, terminal_safe};
use super::progress::{self, Progress};
use super::{EXIT_PASS, EXIT_UNDECIDED};
use anyhow::anyhow;
use clap::Args;
use pcimig::fleet::{self, export, FleetOptions, FleetReport, GroupBy};
use pcimig::report_html::{self, FleetMatrixView};
use pcimig::snapshot::read_snapshot;
use pcimig_config::QemuVersion;
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct FleetArgs {
    /// Host snapshots (`pcimig snapshot`); a device is named `SNAPSHOT#DDDD:BB:DD.F`.
    #[arg(required = true)]
    pub snapshots: Vec<String>,
    /// The VM's machine type (default: the newest q35 machine type every host's QEMU defines).
    #[arg(long)]
    pub machine: Option<String>,
    /// Where the device sits in the guest.
    #[arg(long, value_enum)]
    pub slot: Option<SlotArg>,
    /// vfio-pci's skip-vsc-check on every host whose QEMU has it (9.1+); default: the machine
    /// type's.
    #[arg(long, value_enum)]
    pub skip_vsc_check: Option<OnOff>,
    /// What makes two devices of the same kind: vendor-device (default), vendor, driver, all.
    #[arg(long, default_value = "vendor-device")]
    pub group_by: String,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Write one row per (device, mask) for a query engine: FILE.parquet or FILE.jsonl.
    #[arg(long, value_name = "FILE")]
    pub export: Option<PathBuf>,
    /// Write the groups and the matrix as a self-contained HTML page.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// The QEMU version (7.2 … 11.1) of hosts whose snapshot records none. A host with several
    /// QEMU installs is analysed with its newest.
    #[arg(long, value_name = "VERSION")]
    pub qemu: Option<String>,
}

pub fn run(args: FleetArgs) -> anyhow::Result<u8> {
    if let Err(e) = check_outputs(&args) {
        eprintln!("pcimig: error: {e}");
        return Ok(EXIT_UNDECIDED);
    }
    let fallback = match &args.qemu {
        Some(v) => Some(QemuVersion::parse(v).map_err(|e| anyhow!("--qemu: {e}"))?),
        None => None,
    };
    let bar = Progress::new("reading snapshots", progress::wanted(args.json));
    let mut devices = Vec::new();
    for (i, name) in args.snapshots.iter().enumerate() {
        let read = read_snapshot(name)
            .map_err(|e| e.to_string())
            .and_then(|snap| fleet::devices_from_snapshot(name, &snap, fallback));
        match read {
            Ok(d) => devices.extend(d),
            Err(e) => {
                drop(bar);
                eprintln!("pcimig: error: {}", terminal_safe(&e));
                return Ok(EXIT_UNDECIDED);
            }
        }
        bar.update(i + 1, args.snapshots.len());
    }
    let opts = FleetOptions {
        machine: args.machine.clone(),
        slot: args.slot.map(Into::into),
        skip_vsc_check: args.skip_vsc_check.map(|v| v == OnOff::On),
        group_by: GroupBy::parse(&args.group_by).map_err(|e| anyhow!("--group-by: {e}"))?,
        threads: 0,
    };
    bar.stage("realizing devices");
    let report = fleet::run_with_progress(&devices, &opts, &|done, total| bar.update(done, total))?;
    drop(bar);
    // Never written over a snapshot the run read.
    let inputs: Vec<&Path> = args.snapshots.iter().map(Path::new).collect();
    if let Some(path) = &args.export {
        let bytes = export::export_bytes(&report, path).map_err(|e| anyhow!("--export {e}"))?;
        output::write_output(path, &bytes, &inputs)?;
    }
    if let Some(path) = &args.html {
        output::write_output(path, report_html::fleet_page(&matrix_view(&report)).as_bytes(), &inputs)?;
        if !args.json {
            eprintln!("pcimig: HTML report written to {}", path_text(path));
        }
    }
    if args.json {
        output::print_json(&report)?;
    } else {
        output::print_text(&fleet::fleet_text(&report))?;
    }
    Ok(EXIT_PASS)
}

/// `--export` and `--html` are files of their own: not standard output (the report goes
/// there), not the same file.
fn check_outputs(args: &FleetArgs) -> Result<(), String> {
    for (opt, path) in [("--export", &args.export), ("--html", &args.html)] {
        if path.as_deref().is_some_and(|p| p.as_os_str() == "-") {
            return Err(format!(
                "{opt} -: the report already goes to standard output; give a file name"
            ));
        }
    }
    if let (Some(e), Some(h)) = (&args.export, &args.html) {
        if e == h {
            return Err(format!("--export and --html name the same file ({})", path_text(e)));
        }
    }
    Ok(())
}

/// The report's groups and matrix as the HTML page draws them.
fn matrix_view(report: &FleetReport) -> FleetMatrixView {
    FleetMatrixView {
        groups: report
            .groups
            .iter()
            .map(|g| (g.id.clone(), g.devices.clone()))
            .collect(),
        matrix: report
            .matrix
            .iter()
            .map(|m| (m.from.clone(), m.to.clone(), m.pass))
            .collect(),
    }
}
