//! `pcimig check --emulated`: a destination that is an emulated QEMU device (streams issue).
//!
//! `--saved stream:SRC.mig#DEV --dest stream:DEST.mig#DEV --emulated [--dest-query-pci FILE]`:
//! the destination's current config is the device's config in a stream saved by the freshly
//! started destination VM (same command line); its masks come from the table of QEMU 10.0.2's
//! device models (`pcimig_qemu::devices`, documented in docs/device-models.md) for the machine
//! type in the destination stream. Without `#DEV` on both sides, every PCI device of the saved
//! stream is checked against its namesake in the destination stream, in stream order, and the
//! first failing section is the one QEMU would report.
//!
//! The saved config is read with the *destination's* config size, as QEMU's
//! get_pci_config_device does (the size is not in the stream).

use super::check::CheckArgs;
use anyhow::{anyhow, bail, Context};
use pcimig::check::{Assumptions, CheckOutput, PolicyValue, SideInfo, SCOPE};
use pcimig::report::{self, QEMU_PREFIX};
use pcimig::source::{SourceKind, SourceSpec, QEMU_VM_FILE_MAGIC};
use pcimig_config::regs::PCI_INTERRUPT_PIN;
use pcimig_config::{restore_check, ConfigSpace};
use pcimig_qemu::devices::{build_destination, qemu_data_dirs, Destination, EmulatedDevice, QueryPci, RomFiles};
use pcimig_qemu::{PciDeviceEntry, Stream};
use serde::Serialize;
use std::fmt::Write as _;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// Open `stream:FILE[#DEV]` (or a file with the QEVM magic); returns the stream and the selector.
fn open_stream(arg: &str, side: &str) -> anyhow::Result<(Stream, Option<String>)> {
    let spec = SourceSpec::parse(arg);
    match spec.scheme.as_deref() {
        Some("stream") => {}
        None | Some("file") => {
            let mut magic = [0u8; 4];
            let ok = std::fs::File::open(&spec.path)
                .and_then(|mut f| f.read_exact(&mut magic))
                .is_ok();
            if !ok || u32::from_be_bytes(magic) != QEMU_VM_FILE_MAGIC {
                bail!(
                    "--{side} {arg}: --emulated needs a QEMU migration stream on this side (stream:FILE#DEVICE, or a \
                     file starting with the QEVM magic)"
                );
            }
        }
        Some(other) => bail!("--{side} {arg}: --emulated needs a QEMU migration stream, not a {other}: source"),
    }
    let stream = Stream::open(&spec.path).map_err(|e| anyhow!("--{side}: {e}"))?;
    Ok((stream, spec.selector))
}

fn load_query_pci(path: Option<&Path>) -> anyhow::Result<Option<QueryPci>> {
    let Some(p) = path else { return Ok(None) };
    let text = std::fs::read_to_string(p).with_context(|| format!("--dest-query-pci {}", p.display()))?;
    Ok(Some(
        QueryPci::parse(&text).map_err(|e| anyhow!("--dest-query-pci {}: {e}", p.display()))?,
    ))
}

fn dest_model(
    stream: &Stream,
    entry: &PciDeviceEntry,
    qp: Option<&QueryPci>,
    roms: &RomFiles,
) -> anyhow::Result<EmulatedDevice> {
    let machine = stream.machine_type().ok_or_else(|| {
        anyhow!(
            "{}: the stream has no machine type (configuration section)",
            stream.path()
        )
    })?;
    let config = stream.read_config(entry).map_err(|e| anyhow!("{e}"))?;
    build_destination(&Destination {
        idstr: &entry.idstr,
        config: &config,
        machine,
        query_pci: qp,
        rom_files: roms,
    })
    .map_err(|e| anyhow!("{}: {e}", stream.path()))
}

/// The destination model of one emulated device: `dest_src` is `stream:DEST.mig#DEV` (a stream
/// saved by the freshly started destination VM), `query_pci` the destination's QMP `query-pci`
/// output. Config = the device's bytes in that stream; masks = QEMU 10.0.2's realize.
#[allow(dead_code)] // API for callers that need only the destination model (the lead's check.rs dispatches to run()).
pub fn emulated_destination(dest_src: &str, query_pci: Option<&Path>) -> anyhow::Result<ConfigSpace> {
    let (stream, sel) = open_stream(dest_src, "dest")?;
    let sel = sel.ok_or_else(|| anyhow!("--dest {dest_src}: name the device with #DEVICE"))?;
    let entry = stream.find_device(&sel).map_err(|e| anyhow!("{e}"))?;
    let qp = load_query_pci(query_pci)?;
    let roms = RomFiles::from_data_dirs(&qemu_data_dirs());
    Ok(dest_model(&stream, entry, qp.as_ref(), &roms)?.space)
}

/// The saved config as QEMU reads it: `size` bytes (the destination's config size) at the
/// device's config offset in the saved stream.
fn read_saved(stream: &Stream, entry: &PciDeviceEntry, size: usize) -> anyhow::Result<Vec<u8>> {
    if entry.config_size == size {
        return stream.read_config(entry).map_err(|e| anyhow!("{e}"));
    }
    let mut f = std::fs::File::open(stream.path()).with_context(|| stream.path().to_string())?;
    let mut buf = vec![0u8; size];
    f.seek(SeekFrom::Start(entry.config_offset))
        .and_then(|_| f.read_exact(&mut buf))
        .with_context(|| {
            format!(
                "{}: reading {size} config bytes of '{}' at byte {:#x}",
                stream.path(),
                entry.idstr,
                entry.config_offset
            )
        })?;
    Ok(buf)
}

fn side(origin: String, bytes: &[u8], treatment: &str) -> SideInfo {
    SideInfo::new(origin, SourceKind::Saved, bytes, treatment)
}

/// Compare one saved device with its emulated destination.
fn check_device(
    saved: &Stream,
    saved_entry: &PciDeviceEntry,
    dest: &Stream,
    dest_entry: &PciDeviceEntry,
    qp: Option<&QueryPci>,
    query_pci_given: bool,
    roms: &RomFiles,
) -> anyhow::Result<CheckOutput> {
    let model = dest_model(dest, dest_entry, qp, roms)?;
    let size = model.space.size();
    let saved_bytes = read_saved(saved, saved_entry, size)?;
    let report = restore_check(&saved_bytes, &model.space).map_err(|e| anyhow!("{e}"))?;
    let mut warnings = model.warnings.clone();
    if saved_entry.config_size != size {
        warnings.push(format!(
            "the saved stream holds {} config bytes for '{}' but the destination device has {size}: QEMU reads {size} \
             bytes (what follows the saved config is compared as config, and the stream desynchronizes after it)",
            saved_entry.config_size, saved_entry.idstr
        ));
    }
    let (pin_s, pin_d) = (saved_bytes[PCI_INTERRUPT_PIN], model.space.config()[PCI_INTERRUPT_PIN]);
    if (1..=4).contains(&pin_d) && !(1..=4).contains(&pin_s) {
        warnings.push(format!(
            "Interrupt Pin hazard: the saved Interrupt Pin is {pin_s:#x} (not INTA-INTD) on a device that raises INTx \
             (the destination has {pin_d:#x}); the byte is not checked, so the load passes, and QEMU 10.0.2 then \
             aborts in pci_irq_handler (assertion) when the device raises its interrupt"
        ));
    }
    let (ms, md) = (saved.machine_type(), dest.machine_type());
    if ms != md {
        warnings.push(format!(
            "machine types differ: QEMU refuses the stream before any device with 'Machine type received is '{}' and \
             local is '{}''",
            ms.unwrap_or("?"),
            md.unwrap_or("?")
        ));
    }
    let mut notes = vec![format!("{}: {}", model.type_name, model.source)];
    notes.extend(model.notes.iter().cloned());
    notes.push("model table: docs/device-models.md".into());
    let verdict = if report.passed() { "pass" } else { "fail" };
    Ok(CheckOutput {
        verdict: verdict.into(),
        qemu_verdict: verdict.into(),
        qemu_line: report.qemu_line(),
        checked_bytes: report.checked_bytes,
        size: report.size,
        exempt: Vec::new(),
        mismatches: report.mismatches.clone(),
        saved: side(
            format!("{}#{}", saved.path(), saved_entry.id),
            &saved_bytes,
            "used as saved (from a migration stream)",
        ),
        dest: side(
            format!("{}#{}", dest.path(), dest_entry.id),
            model.space.config(),
            &format!(
                "emulated QEMU device {} (current config from the destination's stream)",
                model.type_name
            ),
        ),
        assumptions: Assumptions {
            mode: "emulated".into(),
            slot: PolicyValue {
                value: dest_entry.pci_path.clone().unwrap_or_else(|| "?".into()),
                reason: "the device's PCI path in the destination stream".into(),
            },
            machine: PolicyValue {
                value: md.unwrap_or("?").into(),
                reason: "the destination stream's configuration section (compat properties follow it)".into(),
            },
            skip_vsc_check: PolicyValue {
                value: "n/a".into(),
                reason: "vfio-pci only".into(),
            },
            exempt_ext_vendor: false,
            bar_sizes: if query_pci_given {
                "from --dest-query-pci (QEMU's constants where it lists none)".into()
            } else {
                "QEMU's constants for the device; ROM from its file in QEMU's data directories".into()
            },
            notes,
            scope: SCOPE.into(),
        },
        warnings,
    })
}

/// One device of a whole-stream check.
#[derive(Debug, Serialize)]
pub struct StreamDeviceResult {
    /// The device name (`FILE#DEVICE` form) in the saved stream.
    pub id: String,
    /// The section idstr.
    pub idstr: String,
    /// The section's instance id.
    pub instance_id: u32,
    /// Section index in the saved stream (stream order).
    pub section_index: usize,
    /// `pass`, `fail` or `undecided`.
    pub verdict: String,
    /// The check, when it could be made.
    pub report: Option<CheckOutput>,
    /// Why it could not be decided (missing from the destination, not in the device table, …).
    pub error: Option<String>,
}

/// A whole-stream check: every PCI device of the saved stream against its namesake.
#[derive(Debug, Serialize)]
pub struct StreamCheckOutput {
    /// `emulated-streams`.
    pub mode: String,
    /// `pass`, `fail`, or `undecided` (a device before any failure could not be decided).
    pub verdict: String,
    /// The device QEMU would fail on: the first failing one in stream order.
    pub first_failing: Option<String>,
    /// QEMU's line for it.
    pub qemu_line: Option<String>,
    /// Every device, in stream order.
    pub devices: Vec<StreamDeviceResult>,
    /// What the verdict covers.
    pub scope: String,
    /// Stream-level warnings.
    pub warnings: Vec<String>,
}

impl StreamCheckOutput {
    /// 0 pass, 1 fail, 2 undecided.
    pub fn exit_code(&self) -> u8 {
        match self.verdict.as_str() {
            "pass" => super::EXIT_PASS,
            "fail" => super::EXIT_FAIL,
            _ => super::EXIT_UNDECIDED,
        }
    }
}

/// Check every PCI device of `saved` against its namesake in `dest`, in the saved stream's order.
pub fn check_streams(
    saved: &Stream,
    dest: &Stream,
    qp: Option<&QueryPci>,
    query_pci_given: bool,
    roms: &RomFiles,
) -> StreamCheckOutput {
    let mut entries: Vec<&PciDeviceEntry> = saved.pci_devices().iter().collect();
    entries.sort_by_key(|e| e.section_index);
    let mut devices = Vec::new();
    let mut warnings = Vec::new();
    if saved.machine_type() != dest.machine_type() {
        warnings.push(format!(
            "machine types differ ({} saved, {} destination): QEMU refuses the stream before any device",
            saved.machine_type().unwrap_or("?"),
            dest.machine_type().unwrap_or("?")
        ));
    }
    for e in entries {
        let res = match dest
            .pci_devices()
            .iter()
            .find(|d| d.idstr == e.idstr && d.instance_id == e.instance_id)
        {
            None => Err(anyhow!(
                "no namesake in the destination stream: QEMU would fail with \"Unknown savevm section or instance \
                 '{}' {}\"",
                e.idstr,
                e.instance_id
            )),
            Some(d) => check_device(saved, e, dest, d, qp, query_pci_given, roms),
        };
        devices.push(match res {
            Ok(r) => StreamDeviceResult {
                id: e.id.clone(),
                idstr: e.idstr.clone(),
                instance_id: e.instance_id,
                section_index: e.section_index,
                verdict: r.verdict.clone(),
                report: Some(r),
                error: None,
            },
            Err(err) => StreamDeviceResult {
                id: e.id.clone(),
                idstr: e.idstr.clone(),
                instance_id: e.instance_id,
                section_index: e.section_index,
                verdict: "undecided".into(),
                report: None,
                error: Some(format!("{err:#}")),
            },
        });
    }
    // QEMU stops at the first failing section; an undecidable device before it leaves the whole
    // verdict undecided.
    let mut verdict = "pass".to_string();
    let mut first_failing = None;
    let mut qemu_line = None;
    for d in &devices {
        match d.verdict.as_str() {
            "fail" => {
                verdict = "fail".into();
                first_failing = Some(d.id.clone());
                qemu_line = d.report.as_ref().and_then(|r| r.qemu_line.clone());
                break;
            }
            "undecided" => {
                verdict = "undecided".into();
                break;
            }
            _ => {}
        }
    }
    StreamCheckOutput {
        mode: "emulated-streams".into(),
        verdict,
        first_failing,
        qemu_line,
        devices,
        scope: SCOPE.into(),
        warnings,
    }
}

/// Render a whole-stream check for a terminal.
pub fn streams_text(o: &StreamCheckOutput) -> String {
    let mut s = String::new();
    let n = o.devices.len();
    let _ = match o.verdict.as_str() {
        "pass" => writeln!(
            s,
            "verdict: PASS: QEMU 10.0.2's config-space check would accept all {n} PCI devices"
        ),
        "fail" => writeln!(
            s,
            "verdict: FAIL: QEMU 10.0.2 would refuse this restore at '{}' (the first failing section in stream order)",
            o.first_failing.as_deref().unwrap_or("?")
        ),
        _ => writeln!(
            s,
            "verdict: UNDECIDED: a device before any failure could not be checked"
        ),
    };
    if let Some(l) = &o.qemu_line {
        let _ = writeln!(s, "\nQEMU 10.0.2 would print:\n  {QEMU_PREFIX}{l}");
        if let Some(d) = o.devices.iter().find(|d| Some(&d.id) == o.first_failing.as_ref()) {
            let _ = writeln!(
                s,
                "  {QEMU_PREFIX}error while loading state for instance {:#x} of device '{}'",
                d.instance_id, d.idstr
            );
        }
    }
    let _ = writeln!(s, "\nDevices (stream order):");
    for d in &o.devices {
        let detail = match (&d.report, &d.error) {
            (Some(r), _) => match r.mismatches.first() {
                Some(m) => format!(
                    "{} failing byte(s), first i={:#x} ({})",
                    r.mismatches.len(),
                    m.offset,
                    m.location
                ),
                None => format!("{} checked bytes", r.checked_bytes),
            },
            (None, Some(e)) => e.clone(),
            _ => String::new(),
        };
        let _ = writeln!(s, "  {:<9} {:<40} {detail}", d.verdict.to_uppercase(), d.id);
    }
    for d in &o.devices {
        if let Some(r) = &d.report {
            if r.verdict == "fail" || !r.warnings.is_empty() {
                let _ = writeln!(s, "\n== {} ==", d.id);
                s.push_str(&report::check_text(r));
            }
        }
    }
    if !o.warnings.is_empty() {
        let _ = writeln!(s, "\nWarnings (they do not change the verdict):");
        for w in &o.warnings {
            let _ = writeln!(s, "  ! {w}");
        }
    }
    let _ = writeln!(s, "\nscope: {}", o.scope);
    s
}

pub fn run(args: &CheckArgs) -> anyhow::Result<u8> {
    let (saved, saved_sel) = open_stream(&args.saved, "saved")?;
    let (dest, dest_sel) = open_stream(&args.dest, "dest")?;
    let qp = load_query_pci(args.dest_query_pci.as_deref())?;
    let given = qp.is_some();
    // The host's ROM files, read once per run: an input of the device models.
    let roms = RomFiles::from_data_dirs(&qemu_data_dirs());
    for (opt, set) in [
        ("--machine", args.machine.is_some()),
        ("--slot", args.slot.is_some()),
        ("--bar", !args.bars.is_empty()),
        ("--rom", args.rom.is_some()),
        ("--skip-vsc-check", args.skip_vsc_check.is_some()),
    ] {
        if set {
            bail!("{opt} does not apply with --emulated: the machine type and slot come from the destination stream, BAR sizes from the device model or --dest-query-pci");
        }
    }
    match (saved_sel, dest_sel) {
        (None, None) => {
            let out = check_streams(&saved, &dest, qp.as_ref(), given, &roms);
            if args.json {
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                print!("{}", streams_text(&out));
            }
            Ok(out.exit_code())
        }
        (s, d) => {
            // One device: `#DEV` on both sides, or on one side naming the same device on the other.
            let s_name = s.clone().or_else(|| d.clone()).unwrap_or_default();
            let d_name = d.or(s).unwrap_or_default();
            let se = saved.find_device(&s_name).map_err(|e| anyhow!("--saved: {e}"))?;
            let de = dest.find_device(&d_name).map_err(|e| anyhow!("--dest: {e}"))?;
            let out = check_device(&saved, se, &dest, de, qp.as_ref(), given, &roms)?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                print!("{}", report::check_text(&out));
            }
            Ok(out.exit_code())
        }
    }
}
