//! The emulated check of one device: the destination is an emulated QEMU device whose current
//! config is its config in a stream saved by the freshly started destination VM (same command
//! line); its masks come from the table of QEMU's device models (`pcimig_qemu::devices`,
//! documented in docs/device-models.md) for the machine type in the destination stream and the
//! destination's QEMU version (`--dest-qemu`, docs/qemu-versions.md). A saved machine type the
//! destination's QEMU does not define fails the migration; one the saving QEMU does not define is
//! bad input.
//!
//! The saved config is read with the *destination's* config size, as QEMU's
//! get_pci_config_device does (the size is not in the stream).

use super::{
    rom_length, stream, Assumptions, CheckError, CheckOutput, DestHost, EmulatedRequest, Outcome, Setting, SideInfo,
    Verdict, Warning, WarningKind, SCOPE_EMULATED,
};
use crate::source::{SourceKind, SourceSpec, QEMU_VM_FILE_MAGIC};
use pcimig_config::regs::PCI_INTERRUPT_PIN;
use pcimig_config::restore_check;
use pcimig_qemu::devices::{build_destination, parse_stream_machine, Destination, EmulatedDevice, QueryPci};
use pcimig_qemu::{PciDeviceEntry, Stream};
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// The Interrupt Pin values that name INTA-INTD.
const INTX_PINS: std::ops::RangeInclusive<u8> = 1..=4;

/// Run an emulated check: every PCI device of the saved stream when neither side names a
/// device, else the one device `#DEV` names (on one side, it names the same device on the other).
pub fn run(req: &EmulatedRequest) -> Result<Outcome, CheckError> {
    let ((saved, saved_sel), (dest, dest_sel)) = open_both(&req.saved, &req.dest)?;
    let qp = load_query_pci(req.dest_query_pci.as_deref())?;
    let host = DestHost {
        query_pci: qp.as_ref(),
        rom_files: &req.rom_files,
        qemu: req.qemu,
    };
    if saved_sel.is_none() && dest_sel.is_none() {
        return Ok(Outcome::Streams(Box::new(stream::check_streams(&saved, &dest, &host)?)));
    }
    let s_name = saved_sel.clone().or_else(|| dest_sel.clone()).unwrap_or_default();
    let d_name = dest_sel.or(saved_sel).unwrap_or_default();
    let se = saved.find_device(&s_name).map_err(|error| CheckError::Stream {
        context: "--saved: ",
        error: Box::new(error),
    })?;
    let de = dest.find_device(&d_name).map_err(|error| CheckError::Stream {
        context: "--dest: ",
        error: Box::new(error),
    })?;
    check_device(&saved, se, &dest, de, &host).map(|o| Outcome::Device(Box::new(o)))
}

/// A stream and the device its `#DEV` selector names, if any.
type Selected = (Stream, Option<String>);

/// Open the saved and the destination stream, each walked on its own thread (two streams of the
/// same VM are about the same size, so the check takes the time of one walk).
fn open_both(saved: &str, dest: &str) -> Result<(Selected, Selected), CheckError> {
    std::thread::scope(|scope| {
        let dest_walk = scope.spawn(|| open_stream(dest, "dest"));
        let saved = open_stream(saved, "saved");
        let dest = dest_walk.join().unwrap_or_else(|_| {
            Err(CheckError::Options(format!(
                "--dest {dest}: the stream reader stopped unexpectedly"
            )))
        });
        Ok((saved?, dest?))
    })
}

/// Open `stream:FILE[#DEV]` (or a file with the QEVM magic); returns the stream and the selector.
pub fn open_stream(arg: &str, side: &str) -> Result<(Stream, Option<String>), CheckError> {
    let spec = SourceSpec::parse(arg);
    match spec.scheme.as_deref() {
        Some("stream") => {}
        None | Some("file") if has_stream_magic(&spec.path) => {}
        None | Some("file") => {
            return Err(CheckError::Options(format!(
                "--{side} {arg}: --emulated needs a QEMU migration stream on this side (stream:FILE#DEVICE, or a \
                 file starting with the QEVM magic)"
            )))
        }
        Some(other) => {
            return Err(CheckError::Options(format!(
                "--{side} {arg}: --emulated needs a QEMU migration stream, not a {other}: source"
            )))
        }
    }
    let context = if side == "saved" { "--saved: " } else { "--dest: " };
    // The saved stream is walked whole, as QEMU loads it; of the destination's (a freshly
    // started VM) only the devices matter.
    let opened = if side == "saved" {
        Stream::open(&spec.path)
    } else {
        Stream::open_devices(&spec.path)
    };
    let stream = opened.map_err(|error| CheckError::Stream {
        context,
        error: Box::new(error),
    })?;
    Ok((stream, spec.selector))
}

fn has_stream_magic(path: &str) -> bool {
    let mut magic = [0u8; 4];
    let read = std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut magic));
    read.is_ok() && u32::from_be_bytes(magic) == QEMU_VM_FILE_MAGIC
}

/// Read and parse `--dest-query-pci FILE`.
pub fn load_query_pci(path: Option<&Path>) -> Result<Option<QueryPci>, CheckError> {
    let Some(p) = path else { return Ok(None) };
    let text = std::fs::read_to_string(p).map_err(|error| CheckError::QueryPciRead {
        path: p.to_path_buf(),
        error,
    })?;
    let qp = QueryPci::parse(&text).map_err(|error| CheckError::QueryPci {
        path: p.to_path_buf(),
        error: Box::new(error),
    })?;
    Ok(Some(qp))
}

/// The destination model of one emulated device: config = the device's bytes in the
/// destination stream; masks = QEMU 10.0.2's realize for the stream's machine type.
pub fn dest_model(stream: &Stream, entry: &PciDeviceEntry, host: &DestHost<'_>) -> Result<EmulatedDevice, CheckError> {
    let machine = stream.machine_type().ok_or_else(|| CheckError::NoMachineType {
        path: stream.path().to_string(),
    })?;
    let config = stream.read_config(entry).map_err(|error| CheckError::Stream {
        context: "",
        error: Box::new(error),
    })?;
    build_destination(&Destination {
        idstr: &entry.idstr,
        config: &config,
        machine,
        query_pci: host.query_pci,
        rom_files: host.rom_files,
        qemu: host.qemu.dest,
    })
    .map_err(|error| CheckError::DeviceModel {
        path: stream.path().to_string(),
        error: Box::new(error),
    })
}

/// The saved config as QEMU reads it: `size` bytes (the destination's config size) at the
/// device's config offset in the saved stream.
fn read_saved(stream: &Stream, entry: &PciDeviceEntry, size: usize) -> Result<Vec<u8>, CheckError> {
    if entry.config_size == size {
        return stream.read_config(entry).map_err(|error| CheckError::Stream {
            context: "",
            error: Box::new(error),
        });
    }
    let mut f = std::fs::File::open(stream.path()).map_err(|error| CheckError::ReadSaved {
        context: stream.path().to_string(),
        error,
    })?;
    let mut buf = vec![0u8; size];
    f.seek(SeekFrom::Start(entry.config_offset))
        .and_then(|_| f.read_exact(&mut buf))
        .map_err(|error| CheckError::ReadSaved {
            context: format!(
                "{}: reading {size} config bytes of '{}' at byte {:#x}",
                stream.path(),
                entry.idstr,
                entry.config_offset
            ),
            error,
        })?;
    Ok(buf)
}

/// The saved stream's machine type on both sides' QEMU versions
/// ([`super::QemuVersions::machine_refusal`]): bad input when the saving QEMU lacks it, the
/// refusal when the destination's does. A name the table does not parse is left to the model.
pub fn saved_machine_refusal(saved: &Stream, host: &DestHost<'_>) -> Result<Option<String>, CheckError> {
    match saved.machine_type().map(parse_stream_machine) {
        Some(Ok(m)) => host.qemu.machine_refusal(&m),
        _ => Ok(None),
    }
}

/// The start of QEMU's line for a section version it does not support.
pub const UNSUPPORTED_VERSION: &str = "savevm: unsupported version";

/// QEMU's version check of a section (qemu_loadvm_section_start_full, then vmstate_load_state):
/// a saved section whose version_id is above the destination's is refused with QEMU's line. The
/// destination's version is the one its own stream carries for the section (the saving side
/// writes se->version_id, the vmsd's version_id, in every section header).
pub fn version_refusal(idstr: &str, saved_version: u32, dest_version: u32) -> Option<String> {
    (saved_version > dest_version)
        .then(|| format!("{UNSUPPORTED_VERSION} {saved_version} for '{idstr}' v{dest_version}"))
}

/// The first section of the saved stream, in stream order, whose version the destination's QEMU
/// refuses ([`version_refusal`] against the destination stream's section of the same idstr and
/// instance).
pub fn first_version_refusal(saved: &Stream, dest: &Stream) -> Option<String> {
    saved.sections().iter().find_map(|s| {
        let d = dest
            .sections()
            .iter()
            .find(|d| d.idstr == s.idstr && d.instance_id == s.instance_id)?;
        version_refusal(&s.idstr, s.version_id, d.version_id)
    })
}

/// Compare one saved device with its emulated destination.
pub fn check_device(
    saved: &Stream,
    saved_entry: &PciDeviceEntry,
    dest: &Stream,
    dest_entry: &PciDeviceEntry,
    host: &DestHost<'_>,
) -> Result<CheckOutput, CheckError> {
    let refusal = saved_machine_refusal(saved, host)?
        .or_else(|| version_refusal(&saved_entry.idstr, saved_entry.version, dest_entry.version));
    let model = dest_model(dest, dest_entry, host)?;
    let saved_bytes = read_saved(saved, saved_entry, model.space.size())?;
    let report = restore_check(&saved_bytes, &model.space).map_err(CheckError::Incomparable)?;
    let verdict = Verdict::of(report.passed() && refusal.is_none());
    let dest_treatment = format!(
        "emulated QEMU device {} (current config from the destination's stream)",
        model.type_name
    );
    let mut out = CheckOutput {
        verdict,
        qemu_verdict: verdict,
        qemu_line: report.qemu_line(),
        refusal,
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
            &dest_treatment,
        ),
        assumptions: assumptions(dest, dest_entry, &model, host),
        warnings: warnings(saved, saved_entry, dest, &model, &saved_bytes),
        rom_lengths: Vec::new(),
        dest_space: model.space.clone(),
    };
    if let Some(path) = saved_entry.pci_path.as_deref() {
        let roms = rom_length::rom_lengths(saved, dest, Some(path), host.query_pci, host.rom_files);
        rom_length::apply_to_device(&mut out, roms);
    }
    Ok(out)
}

fn side(origin: String, bytes: &[u8], treatment: &str) -> SideInfo {
    SideInfo::new(origin, SourceKind::Saved, bytes, treatment)
}

/// The model's remarks, then the hazards the check cannot see in the compared bytes.
fn warnings(
    saved: &Stream,
    saved_entry: &PciDeviceEntry,
    dest: &Stream,
    model: &EmulatedDevice,
    saved_bytes: &[u8],
) -> Vec<Warning> {
    let size = model.space.size();
    let mut warnings: Vec<Warning> = model
        .warnings
        .iter()
        .map(|w| Warning::new(WarningKind::DeviceModel, w.clone()))
        .collect();
    if saved_entry.config_size != size {
        warnings.push(Warning::new(
            WarningKind::ConfigSizeMismatch,
            format!(
                "the saved stream holds {} config bytes for '{}' but the destination device has {size}: QEMU reads \
                 {size} bytes (what follows the saved config is compared as config, and the stream desynchronizes \
                 after it)",
                saved_entry.config_size, saved_entry.idstr
            ),
        ));
    }
    let (pin_s, pin_d) = (saved_bytes[PCI_INTERRUPT_PIN], model.space.config()[PCI_INTERRUPT_PIN]);
    if INTX_PINS.contains(&pin_d) && !INTX_PINS.contains(&pin_s) {
        warnings.push(Warning::new(
            WarningKind::InterruptPinHazard,
            format!(
                "Interrupt Pin hazard: the saved Interrupt Pin is {pin_s:#x} (not INTA-INTD) on a device that raises \
                 INTx (the destination has {pin_d:#x}); the byte is not checked, so the load passes, and QEMU 10.0.2 \
                 then aborts in pci_irq_handler (assertion) when the device raises its interrupt"
            ),
        ));
    }
    let (ms, md) = (saved.machine_type(), dest.machine_type());
    if ms != md {
        warnings.push(Warning::new(
            WarningKind::MachineTypesDiffer,
            format!(
                "machine types differ: QEMU refuses the stream before any device with 'Machine type received is \
                 '{}' and local is '{}''",
                ms.unwrap_or("?"),
                md.unwrap_or("?")
            ),
        ));
    }
    warnings
}

fn assumptions(dest: &Stream, dest_entry: &PciDeviceEntry, model: &EmulatedDevice, host: &DestHost<'_>) -> Assumptions {
    let query_pci_given = host.query_pci.is_some();
    let mut notes = vec![format!("{}: {}", model.type_name, model.source)];
    notes.extend(model.notes.iter().cloned());
    notes.push("model table: docs/device-models.md".into());
    let bar_sizes = if query_pci_given {
        "from --dest-query-pci (QEMU's constants where it lists none)"
    } else {
        "QEMU's constants for the device; ROM from its file in QEMU's data directories"
    };
    Assumptions {
        mode: "emulated".into(),
        slot: Setting {
            value: dest_entry.pci_path.clone().unwrap_or_else(|| "?".into()),
            reason: "the device's PCI path in the destination stream".into(),
        },
        machine: Setting {
            value: dest.machine_type().unwrap_or("?").into(),
            reason: "the destination stream's configuration section (compat properties follow it)".into(),
        },
        qemu: host.qemu,
        skip_vsc_check: None,
        exempt_ext_vendor: false,
        bar_sizes: bar_sizes.into(),
        kernel_layer: None,
        notes,
        scope: SCOPE_EMULATED.into(),
    }
}
