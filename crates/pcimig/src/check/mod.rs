//! The checks behind `pcimig check`, as a library: read both sides, build the destination device
//! and the saved config as QEMU would, run the restore check, and collect everything a report
//! needs.
//!
//! Two modes, one output type:
//! - [`vfio`]: both sides physical configs of one device model, virtualized as vfio-pci
//!   ([`vfio::run`]);
//! - emulated: the destination is an emulated QEMU device whose config is in a stream of the
//!   freshly started destination VM, one device ([`emulated::check_device`]) or every PCI device
//!   of a stream ([`stream::check_streams`]).
//!
//! [`run`] takes a [`Request`] naming the mode and returns an [`Outcome`] with a typed
//! [`Verdict`]; [`Verdict::exit_code`] is the one place exit codes are defined.

pub mod emulated;
mod error;
pub mod rom_length;
pub mod stream;
pub mod vfio;

pub use error::CheckError;
pub use stream::{StreamCheckOutput, StreamDeviceResult};
pub use vfio::VfioRequest;

use crate::source::SourceKind;
use pcimig_config::{ConfigSpace, Exemption, MachineType, Mismatch, QemuVersion};
use pcimig_qemu::devices::{QueryPci, RomFiles};
use pcimig_vfio::Effective;
use serde::{Serialize, Serializer};
use std::fmt;
use std::path::PathBuf;

/// QEMU's decision on a restore, as pcimig predicts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// QEMU accepts the config space.
    Pass,
    /// QEMU refuses the restore.
    Fail,
    /// pcimig could not decide (bad input, or a device QEMU would not realize).
    Undecided,
}

impl Verdict {
    /// `Pass` when the restore check passed, else `Fail`.
    pub fn of(passed: bool) -> Verdict {
        if passed {
            Verdict::Pass
        } else {
            Verdict::Fail
        }
    }

    /// The CLI's exit code: 0 pass, 1 fail, 2 undecided (also for errors).
    pub const fn exit_code(self) -> u8 {
        match self {
            Verdict::Pass => 0,
            Verdict::Fail => 1,
            Verdict::Undecided => 2,
        }
    }

    /// `pass`, `fail` or `undecided` (the JSON spelling).
    pub const fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Undecided => "undecided",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// What a warning is about; the text says the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WarningKind {
    /// A source's remark about its bytes (lspci text, sysfs, a stream).
    Source,
    /// A decision of vfio-pci's realize the report should flag.
    Realize,
    /// The Device Serial Numbers differ: per physical device, so only a variant driver helps.
    DsnHazard,
    /// A remark of the emulated device model.
    DeviceModel,
    /// The saved stream holds another config size than the destination device has.
    ConfigSizeMismatch,
    /// The saved Interrupt Pin is not INTA-INTD on a device that raises INTx.
    InterruptPinHazard,
    /// The two streams' machine types differ.
    MachineTypesDiffer,
}

/// A hazard or remark: it never changes the verdict. Serialized as its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// What it is about.
    pub kind: WarningKind,
    /// The sentence a report prints.
    pub text: String,
}

impl Warning {
    /// A warning of `kind` reading `text`.
    pub fn new(kind: WarningKind, text: impl Into<String>) -> Warning {
        Warning {
            kind,
            text: text.into(),
        }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for Warning {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

/// What `pcimig check` was asked to do, in the mode it was asked for.
#[derive(Debug, Clone)]
pub enum Request {
    /// Both sides virtualized as vfio-pci.
    Vfio(vfio::VfioRequest),
    /// An emulated destination read from a stream.
    Emulated(EmulatedRequest),
}

/// The QEMU version on each side of the migration (`--saved-qemu`, `--dest-qemu`; 10.0.2 each
/// by default). Serialized as `{"saved": "10.0.2", "dest": "10.0.2"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct QemuVersions {
    /// The QEMU that saved the stream (the source).
    #[serde(serialize_with = "display")]
    pub saved: QemuVersion,
    /// The QEMU that loads it (the destination).
    #[serde(serialize_with = "display")]
    pub dest: QemuVersion,
}

impl Default for QemuVersions {
    fn default() -> Self {
        QemuVersions {
            saved: QemuVersion::DEFAULT,
            dest: QemuVersion::DEFAULT,
        }
    }
}

impl QemuVersions {
    /// The VM's machine type on both sides: an error (bad input) when the saved side's QEMU does
    /// not define it (the source could not have run it); `Some(reason)` when the destination's
    /// does not (a failed migration); `None` when both define it.
    pub fn machine_refusal(&self, machine: &MachineType) -> Result<Option<String>, CheckError> {
        if let Some(why) = self.saved.lacks_machine(machine) {
            return Err(CheckError::Options(format!(
                "--saved-qemu {}: {why}: the source could not have run it",
                self.saved
            )));
        }
        Ok(self.dest.lacks_machine(machine))
    }

    /// `saved 10.0.2, dest 10.0.2`, as the human report prints it.
    pub fn shown(&self) -> String {
        format!("saved {}, dest {}", self.saved, self.dest)
    }
}

fn display<T: fmt::Display, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

/// An emulated check: `stream:SRC.mig[#DEV]` against `stream:DEST.mig[#DEV]`.
#[derive(Debug, Clone, Default)]
pub struct EmulatedRequest {
    /// The saved side: `stream:FILE[#DEVICE]` (or a file with the QEVM magic).
    pub saved: String,
    /// The destination: a stream saved by the freshly started destination VM.
    pub dest: String,
    /// QMP `query-pci` output of the destination VM (BAR sizes).
    pub dest_query_pci: Option<PathBuf>,
    /// The destination host's option ROM files (their sizes decide the ROM BARs): a host fact,
    /// read by the caller (`RomFiles::from_data_dirs`), never inside the check.
    pub rom_files: RomFiles,
    /// The QEMU version on each side.
    pub qemu: QemuVersions,
}

/// What the destination host contributes to its device models besides the stream.
#[derive(Debug, Clone, Copy)]
pub struct DestHost<'a> {
    /// QMP `query-pci` of the destination VM, when given.
    pub query_pci: Option<&'a QueryPci>,
    /// The destination host's option ROM files.
    pub rom_files: &'a RomFiles,
    /// The QEMU version on each side.
    pub qemu: QemuVersions,
}

/// The result of a check: one device, or every device of a stream.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Outcome {
    /// One device.
    Device(Box<CheckOutput>),
    /// A whole stream.
    Streams(Box<StreamCheckOutput>),
}

impl Outcome {
    /// The overall verdict.
    pub fn verdict(&self) -> Verdict {
        match self {
            Outcome::Device(o) => o.verdict,
            Outcome::Streams(o) => o.verdict,
        }
    }
}

/// Run the check `req` asks for.
pub fn run(req: &Request) -> Result<Outcome, CheckError> {
    match req {
        Request::Vfio(r) => vfio::run(r).map(|o| Outcome::Device(Box::new(o))),
        Request::Emulated(r) => emulated::run(r),
    }
}

/// One side of the check, for the report.
#[derive(Debug, Clone, Serialize)]
pub struct SideInfo {
    /// The SRC.
    pub origin: String,
    /// `physical` or `saved`.
    pub kind: SourceKind,
    /// How its bytes were used: `virtualized as vfio-pci` or `used as saved`.
    pub treatment: String,
    /// Config size.
    pub size: usize,
    /// Vendor:device of the bytes.
    pub id: String,
}

impl SideInfo {
    /// Describe one side from its origin, kind, config bytes and how they were used.
    pub fn new(origin: String, kind: SourceKind, bytes: &[u8], treatment: &str) -> SideInfo {
        use pcimig_config::regs::{PCI_DEVICE_ID, PCI_VENDOR_ID};
        let id = if bytes.len() >= PCI_DEVICE_ID + 2 {
            format!(
                "{:04x}:{:04x}",
                pcimig_config::le::word(bytes, PCI_VENDOR_ID),
                pcimig_config::le::word(bytes, PCI_DEVICE_ID)
            )
        } else {
            "?".into()
        };
        SideInfo {
            origin,
            kind,
            treatment: treatment.into(),
            size: bytes.len(),
            id,
        }
    }
}

/// A setting the check assumed (slot, machine type) and why it has that value.
#[derive(Debug, Clone, Serialize)]
pub struct Setting {
    /// The value.
    pub value: String,
    /// Why it has it.
    pub reason: String,
}

/// Whether each side's bytes went through the host kernel's vfio-pci layer
/// ([`pcimig_vfio::kernel::present`]) before QEMU's realize, and why. Serialized as
/// `{"saved": {"value": "on"|"off", "reason": …}, "dest": {…}, "kernel": …}`.
#[derive(Debug, Clone, Serialize)]
pub struct KernelLayer {
    /// The saved side: `on` or `off`, and why.
    pub saved: Setting,
    /// The destination: `on` or `off`, and why.
    pub dest: Setting,
    /// The kernel the layer follows ([`pcimig_vfio::KERNEL_VERSION`]).
    pub kernel: String,
}

/// What config bytes cannot carry, as used.
#[derive(Debug, Clone, Serialize)]
pub struct Assumptions {
    /// `vfio`: both sides virtualized as vfio-pci (a saved-from-stream side used as saved).
    pub mode: String,
    /// The slot and why.
    pub slot: Setting,
    /// The machine type and why.
    pub machine: Setting,
    /// The QEMU version on each side.
    pub qemu: QemuVersions,
    /// Effective skip-vsc-check and why (`None`: not vfio-pci). Serialized as
    /// `{"value": "on"|"off"|"n/a", "reason": …}`.
    #[serde(serialize_with = "skip_vsc_check_json")]
    pub skip_vsc_check: Option<Effective>,
    /// The opt-in policy.
    pub exempt_ext_vendor: bool,
    /// BAR sizes: `given`, `from sysfs` or `not given`.
    pub bar_sizes: String,
    /// Whether each side was read through the host kernel's vfio-pci layer (`None`: not
    /// vfio-pci; then absent from the JSON).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel_layer: Option<KernelLayer>,
    /// Decisions the kernel's layer and the virtualization made, one sentence each.
    pub notes: Vec<String>,
    /// What the verdict covers.
    pub scope: String,
}

impl Assumptions {
    /// skip-vsc-check as a report prints it: `on`, `off` or `n/a`, and why.
    pub fn skip_vsc_check_shown(&self) -> (&'static str, &str) {
        skip_vsc_check_shown(&self.skip_vsc_check)
    }
}

fn skip_vsc_check_shown(e: &Option<Effective>) -> (&'static str, &str) {
    match e {
        Some(e) => (if e.value { "on" } else { "off" }, &e.reason),
        None => ("n/a", "vfio-pci only"),
    }
}

/// `{"value": "on"|"off"|"n/a", "reason": …}`: how reports have always shown skip-vsc-check.
fn skip_vsc_check_json<S: Serializer>(e: &Option<Effective>, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeStruct;
    let (value, reason) = skip_vsc_check_shown(e);
    let mut st = s.serialize_struct("Effective", 2)?;
    st.serialize_field("value", value)?;
    st.serialize_field("reason", reason)?;
    st.end()
}

/// Everything `pcimig check` reports for one device.
#[derive(Debug, Clone, Serialize)]
pub struct CheckOutput {
    /// Pass or fail, following the chosen policies.
    pub verdict: Verdict,
    /// What the destination's stock QEMU decides with the same machine and skip-vsc-check.
    pub qemu_verdict: Verdict,
    /// QEMU's line for the first failing byte (stock QEMU), without the program prefix.
    pub qemu_line: Option<String>,
    /// Why the destination cannot take the VM at all, before any config byte (its QEMU does not
    /// define the machine type): the verdict is then `fail`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
    /// Destination bytes with any checked bit.
    pub checked_bytes: usize,
    /// Config size compared.
    pub size: usize,
    /// Exempt ranges, with the policy that exempted each.
    pub exempt: Vec<Exemption>,
    /// Every failing byte under the chosen policies, in offset order.
    pub mismatches: Vec<Mismatch>,
    /// The saved side.
    pub saved: SideInfo,
    /// The destination.
    pub dest: SideInfo,
    /// Assumptions and policies.
    pub assumptions: Assumptions,
    /// Hazards (never change the verdict).
    pub warnings: Vec<Warning>,
    /// The device's option ROM block against the destination's (emulated checks; QEMU
    /// compares it before any config).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rom_lengths: Vec<rom_length::RomLength>,
    /// The destination device as modelled (its config and the masks QEMU sets, the exempt
    /// ranges and the capabilities), for reports that draw every byte (the HTML map); not in
    /// the JSON.
    #[serde(skip)]
    pub dest_space: ConfigSpace,
}

impl CheckOutput {
    /// The CLI's exit code for this check: 0 pass, 1 fail.
    pub fn exit_code(&self) -> u8 {
        self.verdict.exit_code()
    }
}

/// The statement of scope a vfio-pci report carries.
pub const SCOPE: &str =
    "QEMU's config-space check (get_pci_config_device) only; device post-load checks are out of scope";

/// The statement of scope an emulated report carries: the stream also carries the machine type
/// and the option ROM RAM blocks, which QEMU checks before any device.
pub const SCOPE_EMULATED: &str =
    "QEMU's machine type, option ROM RAM block length and config-space (get_pci_config_device) \
     checks only; device post-load checks are out of scope";
