//! The check again, from the saved stream and the destination: every mismatch of the failing
//! device, not only the first QEMU printed, through the library check ([`crate::check`]) — the
//! emulated check when the destination is a stream of the freshly started destination VM, the
//! vfio-pci check when it is a physical config.

use super::locate::{Certainty, Named};
use super::{ExplainError, Request};
use crate::check::rom_length::RomLength;
use crate::check::{self, CheckError, CheckOutput, EmulatedRequest, Outcome, QemuVersions, Verdict, VfioRequest};
use crate::source::{SourceSpec, QEMU_VM_FILE_MAGIC};
use pcimig_config::{locate_in_bytes, Mismatch, QemuVersion};
use pcimig_qemu::devices::{qemu_data_dirs, RomFiles};
use pcimig_qemu::Stream;
use serde::Serialize;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The saved stream (`--stream`): its machine type and the failing device's saved config.
#[derive(Debug)]
pub struct SavedStream {
    /// The stream's path.
    pub path: String,
    /// The machine type of its configuration section.
    pub machine: Option<String>,
    /// The failing device's saved config, when the stream has the device.
    pub config: Option<Vec<u8>>,
}

impl SavedStream {
    /// Open the stream and read the config of the device `idstr` names (if any).
    pub fn open(path: &Path, idstr: Option<&str>) -> Result<SavedStream, ExplainError> {
        let stream = Stream::open(path).map_err(|error| CheckError::Stream {
            context: "--stream: ",
            error: Box::new(error),
        })?;
        let config = idstr
            .and_then(|i| stream.pci_devices().iter().find(|d| d.idstr == i))
            .and_then(|d| stream.read_config(d).ok());
        Ok(SavedStream {
            path: path.display().to_string(),
            machine: stream.machine_type().map(str::to_string),
            config,
        })
    }

    /// The register at `offset` by the capability chains of the saved config.
    pub fn name(&self, offset: usize) -> Option<Named> {
        let c = self.config.as_ref().filter(|c| offset < c.len())?;
        Some(Named::from_location(
            &locate_in_bytes(c, offset),
            Certainty::SavedConfig,
        ))
    }
}

/// The check re-run for the failing device.
#[derive(Debug, Clone, Serialize)]
pub struct Recheck {
    /// `emulated` (the destination is a stream) or `vfio` (a physical config).
    pub mode: &'static str,
    /// The check's verdict for the device (for the whole stream when no device is known).
    pub verdict: Verdict,
    /// The device checked (`FILE#DEVICE`).
    pub device: Option<String>,
    /// The first failing offset the check finds (QEMU's).
    pub first_offset: Option<usize>,
    /// Every failing byte of the device, in offset order.
    pub mismatches: Vec<Mismatch>,
    /// The line QEMU would print for the first.
    pub qemu_line: Option<String>,
    /// Failures the check finds elsewhere: other devices, option ROM blocks, the machine type.
    pub other_failures: Vec<String>,
}

impl Recheck {
    /// Notes on how the check and the log agree at the log's failing offset.
    pub fn consistency(&self, log_offset: usize) -> Vec<String> {
        match self.first_offset {
            Some(o) if o == log_offset => Vec::new(),
            Some(o) => vec![format!(
                "the check's first failing offset is {o:#x}, QEMU's is {log_offset:#x}: the stream or the \
                 destination given is not the one of the log, or the destination's QEMU version or properties \
                 differ from those assumed (--dest-qemu, --skip-vsc-check)"
            )],
            None => vec![format!(
                "the check finds no failing byte in this device, while QEMU failed at {log_offset:#x}: the \
                 stream or the destination given is not the one of the log, or the assumptions differ"
            )],
        }
    }
}

impl Recheck {
    /// A note when QEMU failed at a RAM block and the check finds no option ROM block failing.
    pub fn rom_consistency(&self, failure: super::FailureKind) -> Option<String> {
        use super::FailureKind::{RamBlockSize, UnknownRamBlock};
        let rom_failure = self.other_failures.iter().any(|o| o.starts_with("option ROM block"));
        (matches!(failure, RamBlockSize | UnknownRamBlock) && !rom_failure).then(|| {
            "the check finds every option ROM block of the right length: the destination's ROM files are              not the ones read here; give the destination's data directories (--dest-datadir)"
                .to_string()
        })
    }
}

/// Whether a `--dest` argument is a migration stream (`stream:` or the QEVM magic).
fn is_stream(dest: &str) -> bool {
    let spec = SourceSpec::parse(dest);
    match spec.scheme.as_deref() {
        Some("stream") => true,
        None | Some("file") => {
            let mut magic = [0u8; 4];
            let read = std::fs::File::open(&spec.path).and_then(|mut f| f.read_exact(&mut magic));
            read.is_ok() && u32::from_be_bytes(magic) == QEMU_VM_FILE_MAGIC
        }
        Some(_) => false,
    }
}

/// Run the check of the saved stream `s` against `dest` and keep the failing device's part.
pub fn run(s: &SavedStream, dest: &str, req: &Request, idstr: Option<&str>) -> Result<Recheck, ExplainError> {
    let qemu = QemuVersions {
        saved: req.saved_qemu.unwrap_or(QemuVersion::DEFAULT),
        dest: req.dest_qemu.unwrap_or(QemuVersion::DEFAULT),
    };
    if is_stream(dest) {
        if req.skip_vsc_check.is_some() {
            return Err(ExplainError::Options(
                "--skip-vsc-check applies to a vfio-pci destination (a physical config), not a stream".into(),
            ));
        }
        let r = EmulatedRequest {
            saved: format!("stream:{}", s.path),
            dest: dest.to_string(),
            dest_query_pci: None,
            rom_files: dest_rom_files(&req.dest_datadirs)?,
            qemu,
        };
        return Ok(from_outcome("emulated", check::emulated::run(&r)?, idstr));
    }
    let Some(idstr) = idstr else {
        return Err(ExplainError::Options(
            "a physical --dest needs the failing device's section from the log (`error while loading state for \
             instance … of device '…'`)"
                .into(),
        ));
    };
    let r = VfioRequest {
        saved: format!("stream:{}#{idstr}", s.path),
        dest: dest.to_string(),
        machine: s.machine.clone(),
        skip_vsc_check: req.skip_vsc_check,
        qemu,
        ..VfioRequest::default()
    };
    let out = check::vfio::run(&r)?;
    Ok(from_device("vfio", &out, Some(format!("{}#{idstr}", s.path))))
}

/// The ROM files of `--dest-datadir DIR…` then the host's data directories, in QEMU's order.
fn dest_rom_files(dirs: &[PathBuf]) -> Result<RomFiles, ExplainError> {
    for d in dirs {
        std::fs::read_dir(d).map_err(|e| {
            ExplainError::Options(format!(
                "--dest-datadir {}: cannot read the directory: {e}",
                d.display()
            ))
        })?;
    }
    let all: Vec<PathBuf> = dirs.iter().cloned().chain(qemu_data_dirs()).collect();
    Ok(RomFiles::from_data_dirs(&all))
}

/// The failing device's part of a check's outcome.
fn from_outcome(mode: &'static str, out: Outcome, idstr: Option<&str>) -> Recheck {
    let o = match out {
        Outcome::Device(o) => return from_device(mode, &o, idstr.map(str::to_string)),
        Outcome::Streams(o) => o,
    };
    let mut other = refusal_and_rom_failures(o.refusal.as_ref(), &o.rom_lengths);
    let mine = o.devices.iter().find(|d| Some(d.idstr.as_str()) == idstr);
    other.extend(
        o.devices
            .iter()
            .filter(|d| d.verdict == Verdict::Fail && Some(d.idstr.as_str()) != idstr)
            .map(|d| format!("{} also fails", d.id)),
    );
    let mut r = match mine.and_then(|d| d.report.as_ref().map(|rep| (d, rep))) {
        Some((d, rep)) => from_device(mode, rep, Some(d.id.clone())),
        None => Recheck {
            mode,
            verdict: o.verdict,
            device: mine.map(|d| d.id.clone()),
            first_offset: None,
            mismatches: Vec::new(),
            qemu_line: o.qemu_line.clone(),
            other_failures: mine.and_then(|d| d.error.clone()).into_iter().collect(),
        },
    };
    for o in other {
        if !r.other_failures.contains(&o) {
            r.other_failures.push(o);
        }
    }
    r
}

/// The failures a check found beside config bytes: a refusal (machine type, section version),
/// failing ROM blocks.
fn refusal_and_rom_failures(refusal: Option<&String>, roms: &[RomLength]) -> Vec<String> {
    let mut other: Vec<String> = refusal.iter().map(|r| format!("refused: {r}")).collect();
    other.extend(
        roms.iter()
            .filter(|r| r.fails())
            .map(|r| format!("option ROM block: {r}")),
    );
    other
}

fn from_device(mode: &'static str, o: &CheckOutput, device: Option<String>) -> Recheck {
    let other = refusal_and_rom_failures(o.refusal.as_ref(), &o.rom_lengths);
    Recheck {
        mode,
        verdict: o.verdict,
        device,
        first_offset: o.mismatches.first().map(|m| m.offset),
        mismatches: o.mismatches.clone(),
        qemu_line: o.qemu_line.clone(),
        other_failures: other,
    }
}
