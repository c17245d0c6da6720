//! The check behind `pcimig check`: read both sides, build the destination device and the
//! saved config as QEMU would, run the restore check, and collect everything a report needs.

use crate::source::{self, BarSizes, ConfigSource, SourceError, SourceKind};
use pcimig_config::{restore_check, AnyCapId, CheckReport, ConfigError, ExtCapId, Mismatch};
use pcimig_vfio::{resolve_slot_and_machine, virtualize, MachineType, Slot, VfioDevice, VfioError, VfioOptions};
use serde::Serialize;
use thiserror::Error;

/// Why a check could not decide (exit code 2).
#[derive(Debug, Error)]
pub enum CheckError {
    /// A side could not be read.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// QEMU would not realize the device on that side.
    #[error("{side} ({origin}): QEMU would not realize this device as vfio-pci: {error}")]
    Realize {
        /// `saved` or `dest`.
        side: &'static str,
        /// The SRC.
        origin: String,
        /// QEMU's reason.
        error: VfioError,
    },
    /// The options contradict each other or a value is malformed.
    #[error("{0}")]
    Options(String),
    /// The two sides cannot be compared.
    #[error("{0}")]
    Incomparable(String),
}

/// What `pcimig check` was asked to do (the CLI's options, parsed).
#[derive(Debug, Clone, Default)]
pub struct CheckRequest {
    /// The saved side's SRC.
    pub saved: String,
    /// The destination's SRC.
    pub dest: String,
    /// `--slot`.
    pub slot: Option<Slot>,
    /// `--machine`.
    pub machine: Option<String>,
    /// `--skip-vsc-check on|off`.
    pub skip_vsc_check: Option<bool>,
    /// `--bar N=SIZE`.
    pub bars: Vec<(usize, u64)>,
    /// `--rom SIZE`.
    pub rom: Option<u64>,
    /// `--exempt-ext-vendor on|off`.
    pub exempt_ext_vendor: bool,
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

/// A byte range exempted from the check, and by which policy.
#[derive(Debug, Clone, Serialize)]
pub struct ExemptRange {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
    /// `skip-vsc-check` or `exempt-ext-vendor`.
    pub policy: String,
    /// Which capability and rule.
    pub reason: String,
}

/// A policy value and where it came from.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyValue {
    /// The value.
    pub value: String,
    /// Why it has it.
    pub reason: String,
}

/// What config bytes cannot carry, as used.
#[derive(Debug, Clone, Serialize)]
pub struct Assumptions {
    /// `vfio`: both sides virtualized as vfio-pci (a saved-from-stream side used as saved).
    pub mode: String,
    /// The slot and why.
    pub slot: PolicyValue,
    /// The machine type and why.
    pub machine: PolicyValue,
    /// Effective skip-vsc-check and why.
    pub skip_vsc_check: PolicyValue,
    /// The opt-in policy.
    pub exempt_ext_vendor: bool,
    /// BAR sizes: `given`, `from sysfs` or `not given`.
    pub bar_sizes: String,
    /// Decisions the virtualization made, one sentence each.
    pub notes: Vec<String>,
    /// What the verdict covers.
    pub scope: String,
}

/// Everything `pcimig check` reports.
#[derive(Debug, Clone, Serialize)]
pub struct CheckOutput {
    /// `pass` or `fail`, following the chosen policies.
    pub verdict: String,
    /// What stock QEMU 10.0.2 decides with the same machine and skip-vsc-check.
    pub qemu_verdict: String,
    /// QEMU's line for the first failing byte (stock QEMU), without the program prefix.
    pub qemu_line: Option<String>,
    /// Destination bytes with any checked bit.
    pub checked_bytes: usize,
    /// Config size compared.
    pub size: usize,
    /// Exempt ranges.
    pub exempt: Vec<ExemptRange>,
    /// Every failing byte under the chosen policies, in offset order.
    pub mismatches: Vec<Mismatch>,
    /// The saved side.
    pub saved: SideInfo,
    /// The destination.
    pub dest: SideInfo,
    /// Assumptions and policies.
    pub assumptions: Assumptions,
    /// Hazards (never change the verdict).
    pub warnings: Vec<String>,
}

impl CheckOutput {
    /// Exit code: 0 pass, 1 fail.
    pub fn exit_code(&self) -> u8 {
        if self.verdict == "pass" {
            0
        } else {
            1
        }
    }
}

/// The statement of scope every report carries.
pub const SCOPE: &str =
    "QEMU's config-space check (get_pci_config_device) only; device post-load checks are out of scope";

impl SideInfo {
    /// Describe one side from its origin, kind, config bytes and how they were used.
    pub fn new(origin: String, kind: SourceKind, bytes: &[u8], treatment: &str) -> SideInfo {
        let id = if bytes.len() >= 4 {
            format!(
                "{:04x}:{:04x}",
                pcimig_config::le::word(bytes, pcimig_config::regs::PCI_VENDOR_ID),
                pcimig_config::le::word(bytes, pcimig_config::regs::PCI_DEVICE_ID)
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

fn side_info(src: &ConfigSource, treatment: &str) -> SideInfo {
    SideInfo::new(src.origin.clone(), src.kind.clone(), &src.bytes, treatment)
}

fn refuse_truncated(src: &ConfigSource) -> Result<(), CheckError> {
    if let Some(t) = src.truncated {
        return Err(CheckError::Source(SourceError::new(
            &src.origin,
            format!(
                "only {} of the device's {} config bytes are available (a truncated view): the check needs the whole config space",
                t.have, t.full
            ),
        )));
    }
    Ok(())
}

fn bar_options(req: &CheckRequest, own: Option<BarSizes>) -> (Option<[Option<u64>; 6]>, Option<u64>, &'static str) {
    if !req.bars.is_empty() || req.rom.is_some() {
        let mut bars = [None; 6];
        for &(i, s) in &req.bars {
            bars[i] = Some(s);
        }
        let bars = if req.bars.is_empty() { None } else { Some(bars) };
        return (bars, req.rom, "given");
    }
    match own {
        Some(b) => (Some(b.bars), b.rom, "from sysfs"),
        None => (None, None, "not given"),
    }
}

/// Run a vfio-pci check (both sides physical configs of the same device model on two hosts;
/// a side read from a migration stream is used as saved, never re-virtualized).
pub fn run(req: &CheckRequest) -> Result<CheckOutput, CheckError> {
    let saved_src = source::load_one(&req.saved)?;
    let dest_src = source::load_one(&req.dest)?;
    refuse_truncated(&saved_src)?;
    refuse_truncated(&dest_src)?;
    if dest_src.kind == SourceKind::Saved {
        return Err(CheckError::Options(format!(
            "--dest {}: a config taken from a migration stream is a saved config, not a destination device; use --emulated for an emulated destination",
            req.dest
        )));
    }
    let machine = match &req.machine {
        Some(m) => Some(MachineType::parse(m).map_err(|e| CheckError::Options(e.to_string()))?),
        None => None,
    };
    let (slot, machine_t) =
        resolve_slot_and_machine(req.slot, machine).map_err(|e| CheckError::Options(e.to_string()))?;
    let slot_reason = match (req.slot, machine) {
        (Some(_), _) => "--slot".to_string(),
        (None, Some(m)) if !m.is_q35() => format!("implied by --machine {m}"),
        _ => "default: behind a PCIe port, where libvirt puts passthrough devices on q35".to_string(),
    };
    let machine_reason = match machine {
        Some(_) => "--machine".to_string(),
        None => "default: the current machine type of the slot's chipset".to_string(),
    };
    if saved_src.bytes.len() != dest_src.bytes.len() {
        return Err(CheckError::Incomparable(
            ConfigError::SizeMismatch {
                saved: saved_src.bytes.len(),
                device: dest_src.bytes.len(),
            }
            .to_string(),
        ));
    }

    let base = |own: Option<BarSizes>, exempt_ext_vendor: bool| {
        let (bar_sizes, rom_size, how) = bar_options(req, own);
        (
            VfioOptions {
                slot,
                machine: machine_t,
                skip_vsc_check: req.skip_vsc_check,
                bar_sizes,
                rom_size,
                exempt_ext_vendor,
                ..VfioOptions::default()
            },
            how,
        )
    };
    let realize = |side: &'static str, src: &ConfigSource, o: &VfioOptions| -> Result<VfioDevice, CheckError> {
        virtualize(&src.bytes, o).map_err(|error| CheckError::Realize {
            side,
            origin: src.origin.clone(),
            error,
        })
    };

    let (dest_opts, bars_how) = base(dest_src.bar_sizes, req.exempt_ext_vendor);
    let dest = realize("dest", &dest_src, &dest_opts)?;
    let (saved_bytes, saved_treatment) = match saved_src.kind {
        SourceKind::Saved => (saved_src.bytes.clone(), "used as saved (from a migration stream)"),
        SourceKind::Physical => {
            let (o, _) = base(saved_src.bar_sizes, req.exempt_ext_vendor);
            (
                realize("saved", &saved_src, &o)?.space.config().to_vec(),
                "physical config, virtualized as vfio-pci",
            )
        }
    };
    let report = restore_check(&saved_bytes, &dest.space).map_err(|e| CheckError::Incomparable(e.to_string()))?;
    // Stock QEMU: the same machine and skip-vsc-check, without pcimig's opt-in policy.
    let stock: CheckReport = if req.exempt_ext_vendor {
        let (o, _) = base(dest_src.bar_sizes, false);
        let d = realize("dest", &dest_src, &o)?;
        restore_check(&saved_bytes, &d.space).map_err(|e| CheckError::Incomparable(e.to_string()))?
    } else {
        report.clone()
    };

    let mut exemptions = report.exemptions.clone();
    exemptions.sort_by_key(|e| e.start);
    let mut warnings: Vec<String> = saved_src.warnings.iter().chain(&dest_src.warnings).cloned().collect();
    warnings.extend(dest.warnings.iter().cloned());
    for m in &report.mismatches {
        if let Some(c) = &m.location.capability {
            if c.cap_id() == AnyCapId::Ext(ExtCapId::Dsn) && !warnings.iter().any(|w| w.starts_with("DSN hazard")) {
                warnings.push(format!(
                    "DSN hazard: the Device Serial Number at {:#05x} differs between the two devices; a serial number is per physical device, so this migration can only pass if the host's variant driver hides the DSN",
                    c.offset
                ));
            }
        }
    }
    let mut notes = dest.notes.clone();
    for d in &dest.dropped {
        notes.push(format!(
            "{} at {:#x}: {}",
            if d.extended {
                "extended capability"
            } else {
                "capability"
            },
            d.offset,
            d.reason
        ));
    }

    Ok(CheckOutput {
        verdict: if report.passed() { "pass" } else { "fail" }.into(),
        qemu_verdict: if stock.passed() { "pass" } else { "fail" }.into(),
        qemu_line: stock.qemu_line(),
        checked_bytes: report.checked_bytes,
        size: report.size,
        exempt: exemptions
            .iter()
            .map(|e| ExemptRange {
                start: e.start,
                end: e.end,
                policy: e.policy.to_string(),
                reason: e.reason.clone(),
            })
            .collect(),
        mismatches: report.mismatches.clone(),
        saved: side_info(&saved_src, saved_treatment),
        dest: side_info(&dest_src, "physical config, virtualized as vfio-pci"),
        assumptions: Assumptions {
            mode: "vfio".into(),
            slot: PolicyValue {
                value: slot.to_string(),
                reason: slot_reason,
            },
            machine: PolicyValue {
                value: machine_t.to_string(),
                reason: machine_reason,
            },
            skip_vsc_check: PolicyValue {
                value: if dest.skip_vsc_check.value { "on" } else { "off" }.into(),
                reason: dest.skip_vsc_check.reason.clone(),
            },
            exempt_ext_vendor: req.exempt_ext_vendor,
            bar_sizes: bars_how.into(),
            notes,
            scope: SCOPE.into(),
        },
        warnings,
    })
}
