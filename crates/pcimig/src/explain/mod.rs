//! `pcimig explain`: a post-mortem of a failed incoming migration from QEMU's error output.
//!
//! [`parse`] reads the log into typed events (QEMU 7.2 … 11.1 wording, any line prefix);
//! [`explain`] picks the failure QEMU stopped at, the device (the section idstr of `error while
//! loading state for instance … of device '…'`), names the register of a `Bad config data` line
//! ([`locate`]: the header from the spec, capabilities from the fixed layout of QEMU's device
//! model, from the saved stream's config, or from the destination model the check builds) and
//! the likely cause ([`cause`]). With the saved stream and the destination ([`Request::stream`],
//! [`Request::dest`]) it re-runs the library check ([`crate::check`]) and reports every mismatch
//! ([`recheck`]).

pub mod cause;
pub mod locate;
pub mod parse;
pub mod recheck;
mod render;

pub use cause::{Cause, CauseKind, Context};
pub use locate::{Certainty, Named};
pub use parse::{BadConfig, Event};
pub use recheck::Recheck;
pub use render::text;

use crate::check::CheckError;
use pcimig_config::{MachineType, QemuVersion};
use serde::Serialize;
use std::io::Read;
use std::path::PathBuf;

/// The most of a log `explain` reads: QEMU's failure lines are at its end, but a libvirt log
/// holds every start of the VM.
pub const MAX_LOG_BYTES: u64 = 16 << 20;

/// Why nothing could be explained.
#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    /// The log could not be read.
    #[error("{path}: cannot read the log: {error}")]
    Read {
        /// The log's path (`-`: standard input).
        path: String,
        /// The I/O error.
        #[source]
        error: std::io::Error,
    },
    /// The log is larger than [`MAX_LOG_BYTES`].
    #[error("{path}: the log is larger than {} MiB; pass the part around the failure", MAX_LOG_BYTES >> 20)]
    TooLarge {
        /// The log's path.
        path: String,
    },
    /// No line of the log is a QEMU incoming-migration failure.
    #[error(
        "{path}: no QEMU incoming-migration failure found (looked for `Bad config data`, `error while loading \
         state`, `Size mismatch`/`Length mismatch`, `Unknown ramblock`, `Unknown … section or instance`, \
         `unsupported version`, `Machine type received`, `unsupported machine type`, `load of migration failed`)"
    )]
    NoFailure {
        /// The log's path.
        path: String,
    },
    /// `--dest` without `--stream`, or another bad option.
    #[error("{0}")]
    Options(String),
    /// The saved stream could not be read, or the check could not run.
    #[error(transparent)]
    Check(#[from] CheckError),
}

/// Read a log file, or standard input for `-`, up to [`MAX_LOG_BYTES`] (invalid UTF-8 replaced).
pub fn read_log(path: &str) -> Result<String, ExplainError> {
    let read_err = |error| ExplainError::Read {
        path: path.to_string(),
        error,
    };
    let mut buf = Vec::new();
    if path == "-" {
        std::io::stdin()
            .take(MAX_LOG_BYTES + 1)
            .read_to_end(&mut buf)
            .map_err(read_err)?;
    } else {
        let f = std::fs::File::open(path).map_err(read_err)?;
        f.take(MAX_LOG_BYTES + 1).read_to_end(&mut buf).map_err(read_err)?;
    }
    if buf.len() as u64 > MAX_LOG_BYTES {
        return Err(ExplainError::TooLarge { path: path.to_string() });
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// What `explain` is given besides the log.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// The log's name, for messages.
    pub log_name: String,
    /// The saved migration stream (`--stream`).
    pub stream: Option<PathBuf>,
    /// The destination (`--dest`): any source `check` reads: a stream of the freshly started
    /// destination VM (emulated devices), or a physical config (vfio-pci).
    pub dest: Option<String>,
    /// The destination's QEMU version (`--dest-qemu`).
    pub dest_qemu: Option<QemuVersion>,
    /// The source's QEMU version (`--saved-qemu`), for the check.
    pub saved_qemu: Option<QemuVersion>,
    /// skip-vsc-check as set explicitly on the destination's vfio-pci.
    pub skip_vsc_check: Option<bool>,
    /// The destination's QEMU data directories (`-L DIR`), searched for ROM files before the
    /// host's, for the check's option ROM block lengths (`--dest-datadir`).
    pub dest_datadirs: Vec<PathBuf>,
}

/// Which failure QEMU stopped at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// get_pci_config_device refused a config byte.
    Config,
    /// A RAM block (an option ROM) has another length.
    RamBlockSize,
    /// The destination has no such RAM block.
    UnknownRamBlock,
    /// The destination has no such section.
    UnknownSection,
    /// A section's version is newer than the destination loads.
    VmstateVersion,
    /// The destination runs another machine type.
    MachineTypeDiffers,
    /// The destination QEMU does not define the machine type.
    MachineTypeUnknown,
    /// Only `load of migration failed` or `error while loading state`: no detail.
    Other,
}

/// The device the failure is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Device {
    /// The section idstr (`0000:00:03.0/e1000e`).
    pub idstr: String,
    /// The section's instance id, when QEMU printed it.
    pub instance_id: Option<u32>,
    /// The QEMU device type its vmsd name stands for (`e1000e`, `vfio-pci`), when known.
    pub model: Option<String>,
}

/// Everything `explain` says.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    /// Which failure.
    pub failure: FailureKind,
    /// The device (section) QEMU failed on.
    pub device: Option<Device>,
    /// QEMU's `Bad config data` fields.
    pub bad_config: Option<BadConfig>,
    /// The register at the failing offset.
    pub register: Option<Named>,
    /// The likely causes, most specific first.
    pub causes: Vec<Cause>,
    /// Every event read from the log, in order.
    pub events: Vec<Event>,
    /// The VM's machine type, from the saved stream.
    pub machine: Option<String>,
    /// The check re-run with `--stream` and `--dest`.
    pub recheck: Option<Recheck>,
    /// Remarks (what could not be known, disagreements).
    pub notes: Vec<String>,
}

impl Explanation {
    /// The offset QEMU failed on, for a config failure.
    pub fn offset(&self) -> Option<usize> {
        self.bad_config.map(|b| b.offset)
    }
}

/// Explain the failure in `log`.
pub fn explain(log: &str, req: &Request) -> Result<Explanation, ExplainError> {
    if req.dest.is_some() && req.stream.is_none() {
        return Err(ExplainError::Options(
            "--dest needs --stream (the saved stream whose device the check compares)".into(),
        ));
    }
    let events = parse::events(log);
    let attempts = attempts(&events);
    let last = attempts.last().copied().unwrap_or(&[]);
    let (failure, primary) = primary_failure(last).ok_or_else(|| ExplainError::NoFailure {
        path: req.log_name.clone(),
    })?;
    let device = failing_device(last, primary);
    let idstr = device.as_ref().map(|d| d.idstr.clone());
    let saved = match &req.stream {
        Some(p) => Some(recheck::SavedStream::open(p, idstr.as_deref())?),
        None => None,
    };
    let ctx = Context {
        machine: saved
            .as_ref()
            .and_then(|s| s.machine.as_deref())
            .and_then(|m| MachineType::from_config_section(m).ok()),
        dest_qemu: req.dest_qemu,
        skip_vsc_check: req.skip_vsc_check,
    };
    let mut out = Explanation {
        failure,
        device,
        bad_config: None,
        register: None,
        causes: Vec::new(),
        events: events.clone(),
        machine: saved.as_ref().and_then(|s| s.machine.clone()),
        recheck: None,
        notes: Vec::new(),
    };
    if attempts.len() > 1 {
        out.notes.push(format!(
            "the log holds {} failed incoming migrations; the last one is explained",
            attempts.len()
        ));
    }
    if let (Some(s), Some(dest)) = (&saved, &req.dest) {
        out.recheck = Some(recheck::run(s, dest, req, idstr.as_deref())?);
    }
    match primary {
        Some(Event::BadConfig(b)) => explain_config(&mut out, *b, saved.as_ref(), &ctx),
        Some(e) => {
            out.causes.extend(cause::other_causes(e, &ctx));
            out.notes
                .extend(out.recheck.as_ref().and_then(|r| r.rom_consistency(failure)));
        }
        None => out.causes.push(Cause {
            kind: CauseKind::Unknown,
            text: "QEMU gave no detail before `load of migration failed`; run it with the same command line to \
                   see the first error, or give --stream and --dest to re-run the check"
                .into(),
        }),
    }
    Ok(out)
}

/// The log's failed attempts, in order: each ends at its `load of migration failed` line (a
/// libvirt log keeps every start of the VM); events after the last such line form one more
/// attempt when any of them names a failure.
fn attempts(events: &[Event]) -> Vec<&[Event]> {
    let mut out: Vec<&[Event]> = events
        .split_inclusive(|e| matches!(e, Event::LoadFailed { .. }))
        .collect();
    if out.last().is_some_and(|tail| primary_failure(tail).is_none()) {
        out.pop();
    }
    out
}

/// The failure QEMU stopped at: the first event that names one (QEMU stops at the first), or
/// `Other` when only the final lines are there.
fn primary_failure(events: &[Event]) -> Option<(FailureKind, Option<&Event>)> {
    let kind = |e: &Event| match e {
        Event::BadConfig(_) => Some(FailureKind::Config),
        Event::RamBlockSize { .. } => Some(FailureKind::RamBlockSize),
        Event::UnknownRamBlock { .. } => Some(FailureKind::UnknownRamBlock),
        Event::UnknownSection { .. } => Some(FailureKind::UnknownSection),
        Event::UnsupportedVersion { .. } => Some(FailureKind::VmstateVersion),
        Event::MachineDiffers { .. } => Some(FailureKind::MachineTypeDiffers),
        Event::MachineUnsupported { .. } => Some(FailureKind::MachineTypeUnknown),
        Event::LoadState { .. } | Event::LoadFailed { .. } => None,
    };
    if let Some((k, e)) = events.iter().find_map(|e| kind(e).map(|k| (k, e))) {
        return Some((k, Some(e)));
    }
    let any = events
        .iter()
        .any(|e| matches!(e, Event::LoadState { .. } | Event::LoadFailed { .. }));
    any.then_some((FailureKind::Other, None))
}

/// The device of the failure: the section of the first `error while loading state` (not the
/// RAM section's `ram`), else the section the failing event names, else the device a ROM block
/// belongs to.
fn failing_device(events: &[Event], primary: Option<&Event>) -> Option<Device> {
    let loaded = events.iter().find_map(|e| match e {
        Event::LoadState { instance_id, idstr } if idstr != "ram" => Some((idstr.clone(), Some(*instance_id))),
        _ => None,
    });
    let named = || match primary? {
        Event::UnknownSection { idstr, instance_id } => Some((idstr.clone(), Some(*instance_id))),
        Event::UnsupportedVersion { idstr, .. } => Some((idstr.clone(), None)),
        Event::RamBlockSize { block, .. } | Event::UnknownRamBlock { block } => {
            Some((block.strip_suffix(".rom")?.to_string(), None))
        }
        _ => None,
    };
    let (idstr, instance_id) = loaded.or_else(named)?;
    let model = device_model(&idstr);
    Some(Device {
        idstr,
        instance_id,
        model,
    })
}

/// The QEMU type a section idstr's vmsd name stands for, from pcimig-qemu's device table.
fn device_model(idstr: &str) -> Option<String> {
    let vmsd = locate::vmsd_of(idstr);
    if cause::is_vfio(Some(idstr)) {
        return Some("vfio-pci".into());
    }
    pcimig_qemu::devices::TABLE
        .iter()
        .find(|k| k.vmsd == vmsd || k.vmsd == "virtio-*" && vmsd.starts_with("virtio"))
        .map(|k| k.type_name.to_string())
}

/// A config failure: name the register from the best source there is, then the causes.
fn explain_config(out: &mut Explanation, b: BadConfig, saved: Option<&recheck::SavedStream>, ctx: &Context) {
    out.bad_config = Some(b);
    let idstr = out.device.as_ref().map(|d| d.idstr.as_str());
    let from_check = out
        .recheck
        .as_ref()
        .and_then(|r| r.mismatches.iter().find(|m| m.offset == b.offset))
        .map(|m| Named::from_location(&m.location, Certainty::DestinationModel));
    let from_saved = || saved.and_then(|s| s.name(b.offset));
    let named = from_check
        .or_else(from_saved)
        .unwrap_or_else(|| locate::name_from_log(idstr, b.offset));
    out.causes = cause::config_causes(&b, &named, idstr, ctx);
    if b.bad_bits() == 0 {
        out.notes.push(format!(
            "QEMU's masks at {:#x} select no differing bit (read {:02x}, device {:02x}): the line is not \
             get_pci_config_device's own",
            b.offset, b.saved, b.device
        ));
    }
    if let Some(r) = &out.recheck {
        out.notes.extend(r.consistency(b.offset));
    }
    out.register = Some(named);
}
