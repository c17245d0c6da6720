//! `show --masks`: which bytes QEMU would check, exempt, treat as writable or W1C, as vfio-pci
//! presents the device with its default options (from `pcimig_vfio::virtualize`).

use crate::source::{ConfigSource, SourceError, SourceKind};
use serde::Serialize;

/// A run of bytes with the same masks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MaskRun {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
    /// `checked`, `partly_checked`, `unchecked`, `writable`, `w1c`, `mixed`.
    pub class: &'static str,
    /// cmask of each byte of the run (same for all).
    pub cmask: u8,
    /// wmask.
    pub wmask: u8,
    /// w1cmask.
    pub w1cmask: u8,
    /// Bits the restore check compares: `cmask & !wmask & !w1cmask`.
    pub checked: u8,
    /// Register the run starts in.
    pub register: String,
    /// The policy that exempted these bytes, if one did.
    pub exempted_by: Option<String>,
}

/// A physical capability the guest does not see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HiddenCap {
    /// Capability ID.
    pub id: u16,
    /// Extended capability.
    pub extended: bool,
    /// Offset in the physical config.
    pub offset: usize,
    /// Why vfio-pci hides or drops it.
    pub reason: String,
}

/// The masks of one device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MaskReport {
    /// How the masks were made.
    pub model: String,
    /// Runs covering the whole space, in address order.
    pub runs: Vec<MaskRun>,
    /// Bytes whose bits are all compared on restore.
    pub checked_bytes: usize,
    /// Physical capabilities the guest does not see.
    pub hidden: Vec<HiddenCap>,
    /// The model's assumptions (BAR sizes assumed minimal, …).
    pub notes: Vec<String>,
    /// Migration hazards the model noticed.
    pub warnings: Vec<String>,
}

/// Render masks as text.
pub fn render(out: &mut String, m: &MaskReport) {
    use std::fmt::Write;
    let _ = writeln!(
        out,
        "\tMasks ({}): {} bytes fully checked on restore",
        m.model, m.checked_bytes
    );
    for r in &m.runs {
        let _ = writeln!(
            out,
            "\t\t{:03x}-{:03x} {:<14} cmask {:02x} wmask {:02x} w1cmask {:02x} checked {:02x}  {}{}",
            r.start,
            r.end - 1,
            r.class,
            r.cmask,
            r.wmask,
            r.w1cmask,
            r.checked,
            r.register,
            r.exempted_by
                .as_deref()
                .map(|p| format!(" (exempt: {p})"))
                .unwrap_or_default()
        );
    }
    for h in &m.hidden {
        let _ = writeln!(
            out,
            "\t\thidden by vfio-pci: [{:x}] id {:#x}: {}",
            h.offset, h.id, h.reason
        );
    }
    for n in &m.notes {
        let _ = writeln!(out, "\t\tnote: {n}");
    }
    for w in &m.warnings {
        let _ = writeln!(out, "\t\twarning: {w}");
    }
}

fn class(cmask: u8, wmask: u8, w1c: u8) -> &'static str {
    let checked = cmask & !wmask & !w1c;
    if wmask == 0xff {
        "writable"
    } else if w1c == 0xff {
        "w1c"
    } else if checked == 0xff {
        "checked"
    } else if checked == 0 && wmask | w1c == 0 {
        "unchecked"
    } else if checked == 0 {
        "mixed"
    } else {
        "partly_checked"
    }
}

/// The device as vfio-pci presents it with default options (QEMU 10.0.2): BAR sizes from the
/// source when it knows them (sysfs), else the model's documented assumption.
pub fn virtualized(src: &ConfigSource) -> Result<pcimig_vfio::VfioDevice, SourceError> {
    if src.kind == SourceKind::Saved {
        return Err(SourceError::new(
            &src.origin,
            "--masks shows how vfio-pci presents a physical device; this is a config saved in a stream, whose masks \
             are the destination device's (use `pcimig check`)",
        ));
    }
    if let Some(t) = src.truncated {
        return Err(SourceError::new(
            &src.origin,
            format!(
                "--masks needs the whole config space: this is a truncated view ({} of {} bytes); read it as root \
                 (sysfs) or with lspci -xxxx",
                t.have, t.full
            ),
        ));
    }
    let mut opts = pcimig_vfio::VfioOptions::default();
    if let Some(b) = src.bar_sizes {
        opts.bar_sizes = Some(b.bars);
        opts.rom_size = b.rom;
    }
    pcimig_vfio::virtualize(&src.bytes, &opts)
        .map_err(|e| SourceError::new(&src.origin, format!("vfio-pci would not realize this device: {e}")))
}

/// What a run of bytes shares: the capability, and the register — where bytes have no register
/// name of their own (`+0x12`, `+0x05 payload`, `device-specific 0x80`), the kind of byte, so
/// that a payload or an unclaimed area is one run rather than one line a byte.
fn run_key(loc: &pcimig_config::Location) -> (Option<(u16, bool, usize)>, String) {
    let cap = loc.capability.as_ref().map(|c| (c.id, c.extended, c.offset));
    let r = &loc.register;
    let kind = if let Some(rest) = r.strip_prefix("+0x") {
        rest.split_once(' ').map_or("+", |(_, k)| k).to_string()
    } else if r.starts_with("device-specific") {
        "device-specific".to_string()
    } else if r.starts_with("extended config") {
        "extended config".to_string()
    } else {
        r.clone()
    };
    (cap, kind)
}

/// The masks vfio-pci would present for `src` by default.
pub fn compute(src: &ConfigSource) -> Result<MaskReport, SourceError> {
    let dev = virtualized(src)?;
    let space = &dev.space;
    let (cm, wm, w1) = (space.cmask(), space.wmask(), space.w1cmask());
    let exempt = |i: usize| {
        space
            .exemptions()
            .iter()
            .find(|e| e.start <= i && i < e.end)
            .map(|e| e.policy.to_string())
    };
    let mut runs: Vec<MaskRun> = Vec::new();
    let mut last_key = None;
    for i in 0..space.size() {
        let loc = space.locate(i);
        let key = run_key(&loc);
        let ex = exempt(i);
        if let Some(r) = runs.last_mut() {
            if r.end == i
                && (r.cmask, r.wmask, r.w1cmask) == (cm[i], wm[i], w1[i])
                && Some(&key) == last_key.as_ref()
                && r.exempted_by == ex
            {
                r.end = i + 1;
                continue;
            }
        }
        runs.push(MaskRun {
            start: i,
            end: i + 1,
            class: class(cm[i], wm[i], w1[i]),
            cmask: cm[i],
            wmask: wm[i],
            w1cmask: w1[i],
            checked: space.checked()[i],
            register: loc.to_string(),
            exempted_by: ex,
        });
        last_key = Some(key);
    }
    Ok(MaskReport {
        model: format!(
            "vfio-pci as QEMU 10.0.2 realizes it by default: machine {}, slot {}, skip-vsc-check {} ({})",
            dev.machine,
            dev.slot,
            if dev.skip_vsc_check.value { "on" } else { "off" },
            dev.skip_vsc_check.reason
        ),
        checked_bytes: space.checked().iter().filter(|&&c| c == 0xff).count(),
        runs,
        hidden: dev
            .dropped
            .iter()
            .map(|d| HiddenCap {
                id: d.id,
                extended: d.extended,
                offset: d.offset,
                reason: d.reason.clone(),
            })
            .collect(),
        notes: dev.notes.clone(),
        warnings: dev.warnings.clone(),
    })
}
