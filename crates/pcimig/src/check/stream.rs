//! The whole-stream emulated check: every PCI device of the saved stream against its namesake
//! in the destination stream, in stream order; the first failing section is the one QEMU
//! would report.

use super::{emulated, rom_length, CheckError, CheckOutput, DestHost, QemuVersions, Verdict, SCOPE_EMULATED};
use pcimig_qemu::{PciDeviceEntry, Stream};
use serde::Serialize;

/// One device of a whole-stream check.
#[derive(Debug, Clone, Serialize)]
pub struct StreamDeviceResult {
    /// The device name (`FILE#DEVICE` form) in the saved stream.
    pub id: String,
    /// The section idstr.
    pub idstr: String,
    /// The section's instance id.
    pub instance_id: u32,
    /// Section index in the saved stream (stream order).
    pub section_index: usize,
    /// Pass, fail or undecided.
    pub verdict: Verdict,
    /// The check, when it could be made.
    pub report: Option<CheckOutput>,
    /// Why it could not be decided (missing from the destination, not in the device table, …).
    pub error: Option<String>,
}

/// A whole-stream check: every PCI device of the saved stream against its namesake.
#[derive(Debug, Clone, Serialize)]
pub struct StreamCheckOutput {
    /// `emulated-streams`.
    pub mode: String,
    /// Pass, fail, or undecided (a device before any failure could not be decided).
    pub verdict: Verdict,
    /// The QEMU version on each side.
    pub qemu: QemuVersions,
    /// Why the destination's QEMU cannot take the VM at all (it does not define the VM's
    /// machine type); absent from the JSON when it can.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
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
    /// Every PCI option ROM block of the saved stream against the destination's, in the RAM
    /// block list's order (QEMU compares them before any device section); absent from the JSON
    /// when there is none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rom_lengths: Vec<rom_length::RomLength>,
}

impl StreamCheckOutput {
    /// The CLI's exit code: 0 pass, 1 fail, 2 undecided.
    pub fn exit_code(&self) -> u8 {
        self.verdict.exit_code()
    }
}

/// Check every PCI device of `saved` against its namesake in `dest`, in the saved stream's order.
/// A machine type the saving QEMU does not define is bad input; one the destination's QEMU does
/// not define fails the migration before any section (the output's `refusal`).
pub fn check_streams(saved: &Stream, dest: &Stream, host: &DestHost<'_>) -> Result<StreamCheckOutput, CheckError> {
    let refusal =
        emulated::saved_machine_refusal(saved, host)?.or_else(|| emulated::first_version_refusal(saved, dest));
    if saved.pci_devices().is_empty() && !dest.pci_devices().is_empty() {
        return Err(CheckError::NoSavedDevices {
            path: saved.path().to_string(),
            dest_devices: dest.pci_devices().len(),
        });
    }
    let mut entries: Vec<&PciDeviceEntry> = saved.pci_devices().iter().collect();
    entries.sort_by_key(|e| e.section_index);
    let devices: Vec<StreamDeviceResult> = entries
        .into_iter()
        .map(|e| device_result(e, check_namesake(saved, e, dest, host)))
        .collect();
    let mut warnings = Vec::new();
    if saved.machine_type() != dest.machine_type() {
        warnings.push(format!(
            "machine types differ ({} saved, {} destination): QEMU refuses the stream before any device",
            saved.machine_type().unwrap_or("?"),
            dest.machine_type().unwrap_or("?")
        ));
    }
    let (verdict, failing) = first_decisive(&devices);
    let first_failing = failing.map(|d| d.id.clone());
    let qemu_line = failing.and_then(|d| d.report.as_ref()?.qemu_line.clone());
    let mut out = StreamCheckOutput {
        mode: "emulated-streams".into(),
        verdict,
        qemu: host.qemu,
        refusal: None,
        first_failing,
        qemu_line,
        devices,
        scope: SCOPE_EMULATED.into(),
        warnings,
        rom_lengths: Vec::new(),
    };
    let roms = rom_length::rom_lengths(saved, dest, None, host.query_pci, host.rom_files);
    rom_length::apply_to_streams(&mut out, roms);
    apply_refusal(&mut out, refusal);
    Ok(out)
}

/// QEMU checks the machine type in the configuration section, before RAM and every device: a
/// refusal decides the verdict and leaves no failing section.
fn apply_refusal(out: &mut StreamCheckOutput, refusal: Option<String>) {
    if refusal.is_some() {
        out.verdict = Verdict::Fail;
        out.first_failing = None;
        out.qemu_line = None;
        out.refusal = refusal;
    }
}

/// Check one saved device against the destination device with its idstr and instance id.
fn check_namesake(
    saved: &Stream,
    e: &PciDeviceEntry,
    dest: &Stream,
    host: &DestHost<'_>,
) -> Result<CheckOutput, CheckError> {
    let namesake = dest
        .pci_devices()
        .iter()
        .find(|d| d.idstr == e.idstr && d.instance_id == e.instance_id);
    match namesake {
        None => Err(CheckError::NoNamesake {
            idstr: e.idstr.clone(),
            instance_id: e.instance_id,
        }),
        Some(d) => emulated::check_device(saved, e, dest, d, host),
    }
}

fn device_result(e: &PciDeviceEntry, res: Result<CheckOutput, CheckError>) -> StreamDeviceResult {
    let (verdict, report, error) = match res {
        Ok(r) => (r.verdict, Some(r), None),
        Err(err) => (Verdict::Undecided, None, Some(err.to_string())),
    };
    StreamDeviceResult {
        id: e.id.clone(),
        idstr: e.idstr.clone(),
        instance_id: e.instance_id,
        section_index: e.section_index,
        verdict,
        report,
        error,
    }
}

/// QEMU stops at the first failing section; an undecidable device before it leaves the whole
/// verdict undecided. Returns the verdict and the failing device.
fn first_decisive(devices: &[StreamDeviceResult]) -> (Verdict, Option<&StreamDeviceResult>) {
    for d in devices {
        match d.verdict {
            Verdict::Fail => return (Verdict::Fail, Some(d)),
            Verdict::Undecided => return (Verdict::Undecided, None),
            Verdict::Pass => {}
        }
    }
    (Verdict::Pass, None)
}
