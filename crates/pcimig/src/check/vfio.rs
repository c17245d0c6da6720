//! The vfio-pci check: both sides physical configs of the same device model on two hosts, each
//! read through the host kernel's vfio-pci layer ([`pcimig_vfio::kernel::present`]) and
//! virtualized as QEMU 10.0.2's vfio-pci realize would; a side read from a migration stream is
//! used as saved, never re-virtualized.

use super::QemuVersions;
use super::{
    Assumptions, CheckError, CheckOutput, KernelLayer, Setting, SideInfo, Verdict, Warning, WarningKind, SCOPE,
};
use crate::source::{self, BarSizes, ConfigSource, SourceError, SourceKind, SourceSpec};
use pcimig_config::{restore_check, AnyCapId, CheckReport, ConfigError, ExtCapId};
use pcimig_vfio::kernel::{present, KernelFacts, KERNEL_VERSION};
use pcimig_vfio::{resolve_slot_and_machine, virtualize, MachineType, Slot, VfioDevice, VfioOptions};

/// What a vfio-pci check compares, and the destination's properties a config cannot carry.
#[derive(Debug, Clone, Default)]
pub struct VfioRequest {
    /// The saved side's SRC.
    pub saved: String,
    /// The destination's SRC.
    pub dest: String,
    /// Where the device sits in the guest (default: behind a PCIe port, or i440fx's bus).
    pub slot: Option<Slot>,
    /// The destination's machine type, as `-machine` names it.
    pub machine: Option<String>,
    /// The `skip-vsc-check` property, when set explicitly.
    pub skip_vsc_check: Option<bool>,
    /// BAR sizes in bytes, by BAR index.
    pub bars: [Option<u64>; 6],
    /// The expansion ROM's size in bytes.
    pub rom: Option<u64>,
    /// pcimig's opt-in policy: exempt extended vendor-specific (VSEC/DVSEC) payloads.
    pub exempt_ext_vendor: bool,
    /// Read the physical sides through the host kernel's vfio-pci layer (`--kernel-layer`);
    /// `None`: on for physical reads (a dump, lspci text, sysfs), off for `vfio:` sources. A
    /// saved side from a migration stream never goes through it.
    pub kernel_layer: Option<bool>,
    /// The QEMU version on each side (`--saved-qemu`, `--dest-qemu`).
    pub qemu: QemuVersions,
}

/// How the device's BAR sizes were known, as reports say it.
const BARS_GIVEN: &str = "given";
const BARS_FROM_SYSFS: &str = "from sysfs";
const BARS_NOT_GIVEN: &str = "not given";

const VIRTUALIZED: &str = "physical config, virtualized as vfio-pci";
const USED_AS_SAVED: &str = "used as saved (from a migration stream)";

/// Why a side goes through the kernel's layer or not, as reports say it.
const LAYER_PHYSICAL: &str = "default for a physical config (a dump, lspci text, sysfs): it holds what the hardware holds, and QEMU reads the device through the host kernel's vfio-pci driver";
const LAYER_VFIO: &str = "default for a vfio: source: it already reads through the host kernel's vfio-pci driver";
const LAYER_STREAM: &str =
    "a saved config from a migration stream is QEMU's saved config, not a physical read (--kernel-layer does not apply)";
const LAYER_OPTION: &str = "--kernel-layer";

/// Whether one side's bytes go through the kernel's layer, and why.
#[derive(Debug, Clone, Copy)]
struct LayerChoice {
    on: bool,
    reason: &'static str,
}

impl LayerChoice {
    /// The choice for a side read from `raw`: a stream's saved config never, else the request's
    /// `--kernel-layer`, else off for `vfio:` sources and on for every other physical read.
    fn of(req: &VfioRequest, raw: &str, src: &ConfigSource) -> LayerChoice {
        let (on, reason) = if src.kind == SourceKind::Saved {
            (false, LAYER_STREAM)
        } else if let Some(on) = req.kernel_layer {
            (on, LAYER_OPTION)
        } else if SourceSpec::parse(raw).scheme.as_deref() == Some("vfio") {
            (false, LAYER_VFIO)
        } else {
            (true, LAYER_PHYSICAL)
        };
        LayerChoice { on, reason }
    }

    fn setting(self) -> Setting {
        Setting {
            value: if self.on { "on" } else { "off" }.into(),
            reason: self.reason.into(),
        }
    }
}

/// Both sides read, and the placement every realize uses.
struct Sides {
    saved: ConfigSource,
    dest: ConfigSource,
    saved_layer: LayerChoice,
    dest_layer: LayerChoice,
    slot: Slot,
    machine: MachineType,
    /// The destination's QEMU does not define the machine type (the migration fails).
    refusal: Option<String>,
}

/// A side as QEMU realized it, and the kernel layer's notes on the way there.
struct Realized {
    dev: VfioDevice,
    kernel_notes: Vec<String>,
}

/// The saved config QEMU would put in the stream, how it was made, and the kernel layer's notes.
struct SavedConfig {
    bytes: Vec<u8>,
    treatment: &'static str,
    kernel_notes: Vec<String>,
}

/// Run a vfio-pci check (both sides physical configs of the same device model on two hosts;
/// a side read from a migration stream is used as saved, never re-virtualized).
pub fn run(req: &VfioRequest) -> Result<CheckOutput, CheckError> {
    let sides = read_sides(req)?;
    let (dest_opts, bars_how) = options(req, &sides, sides.dest.bar_sizes, req.exempt_ext_vendor);
    let dest = realize("dest", &sides.dest, &dest_opts, sides.dest_layer)?;
    let saved = saved_config(req, &sides)?;
    let report = restore_check(&saved.bytes, &dest.dev.space).map_err(CheckError::Incomparable)?;
    let stock = stock_report(req, &sides, &saved.bytes, &report)?;
    let warnings = warnings(&sides, &dest.dev, &report);
    let mut exempt = report.exemptions.clone();
    exempt.sort_by_key(|e| e.start);
    let refused = sides.refusal.is_some();
    Ok(CheckOutput {
        verdict: Verdict::of(report.passed() && !refused),
        qemu_verdict: Verdict::of(stock.passed() && !refused),
        qemu_line: stock.qemu_line(),
        refusal: sides.refusal.clone(),
        checked_bytes: report.checked_bytes,
        size: report.size,
        exempt,
        mismatches: report.mismatches.clone(),
        saved: side_info(&sides.saved, saved.treatment),
        dest: side_info(&sides.dest, VIRTUALIZED),
        assumptions: assumptions(req, &sides, &dest, &saved.kernel_notes, bars_how),
        warnings,
        rom_lengths: Vec::new(),
        dest_space: dest.dev.space.clone(),
    })
}

/// Read both sides and settle the placement, refusing what cannot be compared.
fn read_sides(req: &VfioRequest) -> Result<Sides, CheckError> {
    let saved = source::load_one(&req.saved)?;
    let dest = source::load_one(&req.dest)?;
    refuse_truncated(&saved)?;
    refuse_truncated(&dest)?;
    if dest.kind == SourceKind::Saved {
        return Err(CheckError::Options(format!(
            "--dest {}: a config taken from a migration stream is a saved config, not a destination device; use --emulated for an emulated destination",
            req.dest
        )));
    }
    let (slot, machine) = slot_and_machine(req)?;
    let refusal = req.qemu.machine_refusal(&machine)?;
    if saved.bytes.len() != dest.bytes.len() {
        return Err(CheckError::Incomparable(ConfigError::SizeMismatch {
            saved: saved.bytes.len(),
            device: dest.bytes.len(),
        }));
    }
    Ok(Sides {
        saved_layer: LayerChoice::of(req, &req.saved, &saved),
        dest_layer: LayerChoice::of(req, &req.dest, &dest),
        saved,
        dest,
        slot,
        machine,
        refusal,
    })
}

/// `--slot` and `--machine` resolved ([`resolve_slot_and_machine`]); the aliases and the default
/// are the destination QEMU's newest machine types.
fn slot_and_machine(req: &VfioRequest) -> Result<(Slot, MachineType), CheckError> {
    let dest = req.qemu.dest;
    let machine = req
        .machine
        .as_deref()
        .map(|m| MachineType::parse_for(m, dest))
        .transpose()
        .map_err(CheckError::Machine)?;
    let (slot, machine) =
        resolve_slot_and_machine(req.slot, machine).map_err(|e| CheckError::Placement(Box::new(e)))?;
    if req.machine.is_some() {
        return Ok((slot, machine));
    }
    Ok((slot, MachineType::newest_in(dest, machine.family)))
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

/// BAR and ROM sizes: the request's when it gives any, else the side's own (sysfs), else none.
fn bar_options(req: &VfioRequest, own: Option<BarSizes>) -> (Option<[Option<u64>; 6]>, Option<u64>, &'static str) {
    let any_bar = req.bars.iter().any(Option::is_some);
    if any_bar || req.rom.is_some() {
        return (any_bar.then_some(req.bars), req.rom, BARS_GIVEN);
    }
    match own {
        Some(b) => (Some(b.bars), b.rom, BARS_FROM_SYSFS),
        None => (None, None, BARS_NOT_GIVEN),
    }
}

/// The realize options for one side, and how its BAR sizes were known.
fn options(
    req: &VfioRequest,
    sides: &Sides,
    own: Option<BarSizes>,
    exempt_ext_vendor: bool,
) -> (VfioOptions, &'static str) {
    options_at(req, (sides.slot, sides.machine), own, exempt_ext_vendor)
}

/// The realize options for one side placed at `(slot, machine)`, and how its BAR sizes were
/// known.
fn options_at(
    req: &VfioRequest,
    (slot, machine): (Slot, MachineType),
    own: Option<BarSizes>,
    exempt_ext_vendor: bool,
) -> (VfioOptions, &'static str) {
    let (bar_sizes, rom_size, how) = bar_options(req, own);
    let opts = VfioOptions {
        slot,
        machine,
        skip_vsc_check: req.skip_vsc_check,
        qemu: req.qemu.dest,
        bar_sizes,
        rom_size,
        exempt_ext_vendor,
        ..VfioOptions::default()
    };
    (opts, how)
}

/// QEMU's realize of one physical side: its bytes through the kernel's layer when `layer` says
/// so (with the BAR and ROM sizes QEMU's options carry), then `virtualize`.
fn realize(
    side: &'static str,
    src: &ConfigSource,
    o: &VfioOptions,
    layer: LayerChoice,
) -> Result<Realized, CheckError> {
    let (bytes, kernel_notes) = if layer.on {
        let view =
            present(&src.bytes, &KernelFacts::from_vfio_options(o)).map_err(|error| CheckError::KernelLayer {
                side,
                origin: src.origin.clone(),
                error: Box::new(error),
            })?;
        (std::borrow::Cow::Owned(view.config), view.notes)
    } else {
        (std::borrow::Cow::Borrowed(&src.bytes[..]), Vec::new())
    };
    let dev = virtualize(&bytes, o).map_err(|error| CheckError::Realize {
        side,
        origin: src.origin.clone(),
        error: Box::new(error),
    })?;
    Ok(Realized { dev, kernel_notes })
}

/// The saved config: a stream's bytes as they are, a physical config through the kernel's
/// layer (when chosen) and virtualized.
fn saved_config(req: &VfioRequest, sides: &Sides) -> Result<SavedConfig, CheckError> {
    match sides.saved.kind {
        SourceKind::Saved => Ok(SavedConfig {
            bytes: sides.saved.bytes.clone(),
            treatment: USED_AS_SAVED,
            kernel_notes: Vec::new(),
        }),
        SourceKind::Physical => {
            let (mut o, _) = options(req, sides, sides.saved.bar_sizes, req.exempt_ext_vendor);
            // The saved config is what the source's QEMU realized (the property only changes masks).
            o.qemu = req.qemu.saved;
            if !o.qemu.at_least(9, 1) {
                o.skip_vsc_check = None;
            }
            let r = realize("saved", &sides.saved, &o, sides.saved_layer)?;
            Ok(SavedConfig {
                bytes: r.dev.space.config().to_vec(),
                treatment: VIRTUALIZED,
                kernel_notes: r.kernel_notes,
            })
        }
    }
}

/// The placement [`run`] uses for `req`: `--slot` and `--machine` resolved against the
/// destination's QEMU (the newest machine type of the slot's chipset when none is given).
pub fn placement(req: &VfioRequest) -> Result<(Slot, MachineType), CheckError> {
    slot_and_machine(req)
}

/// The destination device [`run`] builds from the physical config `src` at `placement`: through
/// the kernel's layer (as `req` chooses for `src.origin`) and vfio-pci's realize with the
/// destination's QEMU (`req.qemu.dest`), `req`'s skip-vsc-check and policies, and the BAR sizes
/// `req` gives or `src` carries. Its `space.config()` is also the saved config a source running
/// the same QEMU would send: skip-vsc-check only changes masks.
pub fn destination_device(
    req: &VfioRequest,
    src: &ConfigSource,
    placement: (Slot, MachineType),
) -> Result<VfioDevice, CheckError> {
    refuse_truncated(src)?;
    let (o, _) = options_at(req, placement, src.bar_sizes, req.exempt_ext_vendor);
    realize("dest", src, &o, LayerChoice::of(req, &src.origin, src)).map(|r| r.dev)
}

/// Stock QEMU: the same machine and skip-vsc-check, without pcimig's opt-in policy.
fn stock_report(
    req: &VfioRequest,
    sides: &Sides,
    saved_bytes: &[u8],
    report: &CheckReport,
) -> Result<CheckReport, CheckError> {
    if !req.exempt_ext_vendor {
        return Ok(report.clone());
    }
    let (o, _) = options(req, sides, sides.dest.bar_sizes, false);
    let d = realize("dest", &sides.dest, &o, sides.dest_layer)?;
    restore_check(saved_bytes, &d.dev.space).map_err(CheckError::Incomparable)
}

/// The sources' remarks, realize's hazards, and one DSN hazard when a DSN byte differs.
fn warnings(sides: &Sides, dest: &VfioDevice, report: &CheckReport) -> Vec<Warning> {
    let source = sides.saved.warnings.iter().chain(&sides.dest.warnings);
    let mut warnings: Vec<Warning> = source.map(|w| Warning::new(WarningKind::Source, w.clone())).collect();
    warnings.extend(
        dest.warnings
            .iter()
            .map(|w| Warning::new(WarningKind::Realize, w.clone())),
    );
    let dsn = report.mismatches.iter().find_map(|m| {
        let c = m.location.capability.as_ref()?;
        (c.cap_id() == AnyCapId::Ext(ExtCapId::Dsn)).then_some(c.offset)
    });
    if let Some(offset) = dsn {
        warnings.push(Warning::new(
            WarningKind::DsnHazard,
            format!(
                "DSN hazard: the Device Serial Number at {offset:#05x} differs between the two devices; a serial number is per physical device, so this migration can only pass if the host's variant driver hides the DSN"
            ),
        ));
    }
    warnings
}

/// The kernel layer's notes (once when both sides have it, else naming the side), realize's
/// notes, then one line per capability the guest does not see.
fn notes(saved_kernel: &[String], dest: &Realized) -> Vec<String> {
    let dest_kernel = &dest.kernel_notes;
    let mut notes = Vec::new();
    for n in saved_kernel {
        let side = if dest_kernel.contains(n) { "" } else { " (saved)" };
        notes.push(format!("kernel layer{side}: {n}"));
    }
    let dest_only = dest_kernel.iter().filter(|n| !saved_kernel.contains(n));
    notes.extend(dest_only.map(|n| format!("kernel layer (dest): {n}")));
    let dest = &dest.dev;
    notes.extend(dest.notes.iter().cloned());
    for d in &dest.dropped {
        let what = if d.extended {
            "extended capability"
        } else {
            "capability"
        };
        notes.push(format!("{what} at {:#x}: {}", d.offset, d.reason));
    }
    notes
}

fn assumptions(
    req: &VfioRequest,
    sides: &Sides,
    dest: &Realized,
    saved_kernel_notes: &[String],
    bars_how: &str,
) -> Assumptions {
    let parsed = req
        .machine
        .as_deref()
        .and_then(|m| MachineType::parse_for(m, req.qemu.dest).ok());
    let slot_reason = match (req.slot, parsed) {
        (Some(_), _) => "--slot".to_string(),
        (None, Some(m)) if !m.is_q35() => format!("implied by --machine {m}"),
        _ => "default: behind a PCIe port, where libvirt puts passthrough devices on q35".to_string(),
    };
    let machine_reason = match parsed {
        Some(_) => "--machine",
        None => "default: the current machine type of the slot's chipset",
    };
    Assumptions {
        mode: "vfio".into(),
        slot: Setting {
            value: sides.slot.to_string(),
            reason: slot_reason,
        },
        machine: Setting {
            value: sides.machine.to_string(),
            reason: machine_reason.into(),
        },
        qemu: req.qemu,
        skip_vsc_check: Some(dest.dev.skip_vsc_check.clone()),
        exempt_ext_vendor: req.exempt_ext_vendor,
        bar_sizes: bars_how.into(),
        kernel_layer: Some(KernelLayer {
            saved: sides.saved_layer.setting(),
            dest: sides.dest_layer.setting(),
            kernel: KERNEL_VERSION.into(),
        }),
        notes: notes(saved_kernel_notes, dest),
        scope: SCOPE.into(),
    }
}

fn side_info(src: &ConfigSource, treatment: &str) -> SideInfo {
    SideInfo::new(src.origin.clone(), src.kind.clone(), &src.bytes, treatment)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn physical() -> ConfigSource {
        ConfigSource::physical("x", vec![0; 256])
    }

    #[test]
    fn the_layer_is_on_for_physical_reads_off_for_vfio_sources_and_never_for_streams() {
        let req = VfioRequest::default();
        for raw in ["dump.bin", "file:dump.bin", "sysfs:0000:3b:00.0", "lspci.txt#3b:00.0"] {
            let c = LayerChoice::of(&req, raw, &physical());
            assert!(c.on, "{raw}");
            assert_eq!(c.reason, LAYER_PHYSICAL);
        }
        let c = LayerChoice::of(&req, "vfio:/dev/vfio/7#0000:3b:00.0", &physical());
        assert!(!c.on);
        assert_eq!(c.reason, LAYER_VFIO);
        let saved = ConfigSource {
            kind: SourceKind::Saved,
            ..physical()
        };
        for kernel_layer in [None, Some(true), Some(false)] {
            let req = VfioRequest {
                kernel_layer,
                ..VfioRequest::default()
            };
            let c = LayerChoice::of(&req, "stream:a.mig#dev", &saved);
            assert!(!c.on);
            assert_eq!(c.reason, LAYER_STREAM);
        }
        for (kernel_layer, raw) in [(true, "vfio:/dev/vfio/7#0000:3b:00.0"), (false, "dump.bin")] {
            let req = VfioRequest {
                kernel_layer: Some(kernel_layer),
                ..VfioRequest::default()
            };
            let c = LayerChoice::of(&req, raw, &physical());
            assert_eq!((c.on, c.reason), (kernel_layer, LAYER_OPTION));
        }
    }
}
