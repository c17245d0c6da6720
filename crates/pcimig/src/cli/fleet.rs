//! `pcimig fleet`: which VMs can move from which host to which, over host snapshots.

use super::check::{OnOff, SlotArg};
use super::{write_atomic, EXIT_PASS};
use anyhow::{anyhow, Context};
use clap::Args;
use pcimig::fleet::{self, export, FleetDevice, FleetOptions, GroupBy};
use pcimig::source::BarSizes;
use pcimig_config::QemuVersion;
use serde::Deserialize;
use std::path::PathBuf;

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
}

pub fn run(args: FleetArgs) -> anyhow::Result<u8> {
    let mut devices = Vec::new();
    for s in &args.snapshots {
        devices.extend(devices_from_snapshot(s)?);
    }
    let opts = FleetOptions {
        machine: args.machine.clone(),
        slot: args.slot.map(Into::into),
        skip_vsc_check: args.skip_vsc_check.map(|v| v == OnOff::On),
        group_by: GroupBy::parse(&args.group_by).map_err(|e| anyhow!("--group-by: {e}"))?,
        threads: 0,
    };
    let report = fleet::run(&devices, &opts)?;
    if let Some(path) = &args.export {
        let bytes = export::export_bytes(&report, path).map_err(|e| anyhow!("--export {e}"))?;
        write_atomic(path, &bytes)?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", fleet::fleet_text(&report));
    }
    Ok(EXIT_PASS)
}

/// The interim snapshot: `{"host", "qemu", "devices": [{"bdf", "driver", "driver_version",
/// "config" (hex), "bars" [6], "rom"}]}`; replaced by `pcimig::snapshot::read_snapshot` at merge.
#[derive(Deserialize)]
struct MinimalSnapshot {
    host: String,
    qemu: String,
    devices: Vec<MinimalDevice>,
}

#[derive(Deserialize)]
struct MinimalDevice {
    bdf: String,
    driver: Option<String>,
    driver_version: Option<String>,
    config: String,
    #[serde(default)]
    bars: Option<[Option<u64>; 6]>,
    #[serde(default)]
    rom: Option<u64>,
}

/// The fleet devices of one snapshot file, named `PATH#BDF` with `PATH` as given.
pub fn devices_from_snapshot(path: &str) -> anyhow::Result<Vec<FleetDevice>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {path}"))?;
    let snap: MinimalSnapshot = serde_json::from_str(&text).with_context(|| format!("{path}: not a snapshot"))?;
    let qemu = QemuVersion::parse(&snap.qemu).with_context(|| format!("{path}: qemu"))?;
    snap.devices
        .into_iter()
        .map(|d| {
            let config = hex(&d.config).with_context(|| format!("{path}: device {}: config", d.bdf))?;
            if config.len() < 4 {
                return Err(anyhow!("{path}: device {}: config shorter than the IDs", d.bdf));
            }
            Ok(FleetDevice {
                name: format!("{path}#{}", d.bdf),
                snapshot: path.to_string(),
                host: snap.host.clone(),
                vendor: u16::from_le_bytes([config[0], config[1]]),
                device: u16::from_le_bytes([config[2], config[3]]),
                bdf: d.bdf,
                driver: d.driver,
                driver_version: d.driver_version,
                qemu,
                config,
                bar_sizes: d.bars.map(|bars| BarSizes { bars, rom: d.rom }),
            })
        })
        .collect()
}

/// Hex digits (whitespace ignored) to bytes.
fn hex(s: &str) -> anyhow::Result<Vec<u8>> {
    let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if digits.len() % 2 != 0 {
        return Err(anyhow!("an odd number of hex digits"));
    }
    digits
        .chunks(2)
        .enumerate()
        .map(|(i, p)| {
            let t = std::str::from_utf8(p).unwrap_or("??");
            u8::from_str_radix(t, 16).map_err(|_| anyhow!("not hex at byte {i:#x}: {t:?}"))
        })
        .collect()
}
