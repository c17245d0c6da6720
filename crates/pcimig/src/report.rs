//! Human-readable rendering of reports. JSON is the serde form of the same structs.

use crate::check::emulated::UNSUPPORTED_VERSION;
use crate::check::rom_length::RomLength;
use crate::check::{CheckOutput, KernelLayer, StreamCheckOutput, Verdict};
use std::fmt::Write;

/// The program prefix QEMU puts before error_report lines.
pub const QEMU_PREFIX: &str = "qemu-system-x86_64: ";

/// Render a check for a terminal: verdict, QEMU's line, every mismatch, exemptions,
/// assumptions, warnings.
pub fn check_text(o: &CheckOutput) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "verdict: {}", verdict_line(o));
    if let Some(r) = &o.refusal {
        let _ = writeln!(s, "  refused: {r}");
    }
    let _ = writeln!(s, "  saved: {} [{}] {}", o.saved.origin, o.saved.id, o.saved.treatment);
    let _ = writeln!(s, "  dest:  {} [{}] {}", o.dest.origin, o.dest.id, o.dest.treatment);
    let qemu = o.assumptions.qemu.dest;
    match &o.qemu_line {
        Some(line) => {
            let _ = writeln!(s, "\nQEMU {qemu} would print:\n  {QEMU_PREFIX}{line}");
        }
        None => {
            let _ = writeln!(s, "\nQEMU {qemu} would print no config error.");
        }
    }
    rom_lengths_text(&mut s, &o.rom_lengths);
    mismatches_text(&mut s, o);
    exempt_text(&mut s, o);
    assumptions_text(&mut s, o);
    warnings_text(&mut s, &o.warnings);
    let _ = writeln!(s, "\nchecked bytes: {} of {}", o.checked_bytes, o.size);
    s
}

/// The verdict line: the chosen policies' verdict, and stock QEMU's when they differ.
fn verdict_line(o: &CheckOutput) -> String {
    let qemu = o.assumptions.qemu.dest;
    if o.rom_lengths.iter().any(RomLength::fails) {
        return format!(
            "FAIL: QEMU {qemu} would refuse this restore at the device's option ROM block (RAM section, before any config)"
        );
    }
    match (o.verdict, o.qemu_verdict) {
        (Verdict::Pass, Verdict::Pass) => format!("PASS: QEMU {qemu} would accept this config space on restore"),
        (Verdict::Fail, _) if o.refusal.as_deref().is_some_and(|r| r.starts_with(UNSUPPORTED_VERSION)) => {
            format!("FAIL: QEMU {qemu} refuses the saved section's version")
        }
        (Verdict::Fail, _) if o.refusal.is_some() => {
            format!("FAIL: QEMU {qemu} cannot take this VM (its machine type)")
        }
        (Verdict::Fail, _) => format!(
            "FAIL: QEMU {qemu} would refuse this restore ({} failing byte{})",
            o.mismatches.len(),
            if o.mismatches.len() == 1 { "" } else { "s" }
        ),
        (Verdict::Pass, _) => format!("PASS under --exempt-ext-vendor on; stock QEMU {qemu} would FAIL"),
        (Verdict::Undecided, _) => o.verdict.to_string(),
    }
}

/// The mismatch table: offset, saved and device bytes, the three masks, the location; one
/// row per mismatch, indented two spaces. Nothing for none.
pub fn mismatch_table(s: &mut String, mismatches: &[pcimig_config::Mismatch]) {
    if mismatches.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "  {:<7} {:<6} {:<6} {:<5} {:<5} {:<7} location",
        "offset", "saved", "device", "cmask", "wmask", "w1cmask"
    );
    for m in mismatches {
        let _ = writeln!(
            s,
            "  {:<7} {:<6} {:<6} {:<5} {:<5} {:<7} {}",
            format!("{:#05x}", m.offset),
            format!("{:02x}", m.saved),
            format!("{:02x}", m.device),
            format!("{:02x}", m.cmask),
            format!("{:02x}", m.wmask),
            format!("{:02x}", m.w1cmask),
            m.location
        );
    }
}

fn mismatches_text(s: &mut String, o: &CheckOutput) {
    if !o.mismatches.is_empty() {
        let _ = writeln!(s, "\nMismatches (QEMU stops at the first):");
        mismatch_table(s, &o.mismatches);
    }
}

fn exempt_text(s: &mut String, o: &CheckOutput) {
    if !o.exempt.is_empty() {
        let _ = writeln!(s, "\nExempt from the check:");
        for e in &o.exempt {
            let _ = writeln!(s, "  {:#05x}..{:#05x}  {}: {}", e.start, e.end, e.policy, e.reason);
        }
    }
}

fn assumptions_text(s: &mut String, o: &CheckOutput) {
    let a = &o.assumptions;
    let _ = writeln!(s, "\nAssumptions:");
    let _ = writeln!(s, "  mode: {}", a.mode);
    let _ = writeln!(s, "  slot: {} ({})", a.slot.value, a.slot.reason);
    let _ = writeln!(s, "  machine: {} ({})", a.machine.value, a.machine.reason);
    let _ = writeln!(s, "  QEMU: {}", a.qemu.shown());
    let (vsc, vsc_reason) = a.skip_vsc_check_shown();
    let _ = writeln!(s, "  skip-vsc-check: {vsc} ({vsc_reason})");
    let _ = writeln!(
        s,
        "  exempt-ext-vendor: {}",
        if a.exempt_ext_vendor {
            "on (pcimig policy, not stock QEMU)"
        } else {
            "off"
        }
    );
    let _ = writeln!(s, "  BAR sizes: {}", a.bar_sizes);
    if let Some(k) = &a.kernel_layer {
        kernel_layer_text(s, k);
    }
    for n in &a.notes {
        let _ = writeln!(s, "  - {n}");
    }
    let _ = writeln!(s, "  scope: {}", a.scope);
}

/// The kernel layer's choice: once when both sides share it, else per side; then the kernel.
fn kernel_layer_text(s: &mut String, k: &KernelLayer) {
    let (saved, dest) = (&k.saved, &k.dest);
    if saved.value == dest.value && saved.reason == dest.reason {
        let _ = writeln!(s, "  kernel layer: {}, both sides ({})", saved.value, saved.reason);
    } else {
        let _ = writeln!(s, "  kernel layer: saved {} ({})", saved.value, saved.reason);
        let _ = writeln!(s, "                dest {} ({})", dest.value, dest.reason);
    }
    let _ = writeln!(s, "    the layer models {}", k.kernel);
}

fn warnings_text<W: std::fmt::Display>(s: &mut String, warnings: &[W]) {
    if !warnings.is_empty() {
        let _ = writeln!(s, "\nWarnings (they do not change the verdict):");
        for w in warnings {
            let _ = writeln!(s, "  ! {w}");
        }
    }
}

/// Render a whole-stream check for a terminal: the verdict, QEMU's lines, one line per device,
/// the report of every failing or warned device, stream-level warnings.
pub fn streams_text(o: &StreamCheckOutput) -> String {
    let mut s = String::new();
    let n = o.devices.len();
    let rom_failure = o.rom_lengths.iter().find(|r| r.fails());
    let qemu = o.qemu.dest;
    let _ = match o.verdict {
        Verdict::Fail if o.refusal.is_some() => writeln!(
            s,
            "verdict: FAIL: QEMU {qemu} cannot take this VM: {}",
            o.refusal.as_deref().unwrap_or("?")
        ),
        Verdict::Fail if rom_failure.is_some() => writeln!(
            s,
            "verdict: FAIL: QEMU {qemu} would refuse this restore at the option ROM block of '{}' (the RAM \
             section, loaded before any device section)",
            o.first_failing.as_deref().unwrap_or("?")
        ),
        Verdict::Pass => writeln!(
            s,
            "verdict: PASS: QEMU {qemu}'s config-space check would accept all {n} PCI devices"
        ),
        Verdict::Fail => writeln!(
            s,
            "verdict: FAIL: QEMU {qemu} would refuse this restore at '{}' (the first failing section in stream order)",
            o.first_failing.as_deref().unwrap_or("?")
        ),
        Verdict::Undecided => writeln!(
            s,
            "verdict: UNDECIDED: a device before any failure could not be checked"
        ),
    };
    let _ = writeln!(s, "  QEMU: {}", o.qemu.shown());
    streams_qemu_lines(&mut s, o);
    rom_lengths_text(&mut s, &o.rom_lengths);
    streams_devices(&mut s, o);
    warnings_text(&mut s, &o.warnings);
    let _ = writeln!(s, "\nscope: {}", o.scope);
    s
}

/// What QEMU prints when the restore fails at the first failing device.
fn streams_qemu_lines(s: &mut String, o: &StreamCheckOutput) {
    if let Some(l) = &o.qemu_line {
        let _ = writeln!(s, "\nQEMU {} would print:\n  {QEMU_PREFIX}{l}", o.qemu.dest);
        if o.rom_lengths.iter().any(|r| r.block.qemu_line.as_ref() == Some(l)) {
            let _ = writeln!(
                s,
                "  {QEMU_PREFIX}error while loading state for instance 0x0 of device 'ram'"
            );
        } else if let Some(d) = o.devices.iter().find(|d| Some(&d.id) == o.first_failing.as_ref()) {
            let _ = writeln!(
                s,
                "  {QEMU_PREFIX}error while loading state for instance {:#x} of device '{}'",
                d.instance_id, d.idstr
            );
        }
    }
}

/// A device's one-line result in a whole-stream check: why it was refused (a section version
/// the destination does not load), the ROM block that failed before its config, its first
/// failing byte, the checked bytes, or why it is undecided.
pub fn stream_device_detail(d: &crate::check::stream::StreamDeviceResult) -> String {
    match (&d.report, &d.error) {
        (Some(r), _) if r.refusal.is_some() => format!("refused: {}", r.refusal.as_deref().unwrap_or_default()),
        (Some(r), _) if r.rom_lengths.iter().any(RomLength::fails) => {
            format!("option ROM block length ({} config bytes not reached)", r.checked_bytes)
        }
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
        (None, None) => String::new(),
    }
}

/// One line per device in stream order, then the full report of every failing or warned one.
fn streams_devices(s: &mut String, o: &StreamCheckOutput) {
    let _ = writeln!(s, "\nDevices (stream order):");
    for d in &o.devices {
        let detail = stream_device_detail(d);
        let verdict = d.verdict.as_str().to_uppercase();
        let _ = writeln!(s, "  {verdict:<9} {:<40} {detail}", d.id);
    }
    for d in &o.devices {
        if let Some(r) = &d.report {
            if r.verdict == Verdict::Fail || !r.warnings.is_empty() {
                let _ = writeln!(s, "\n== {} ==", d.id);
                s.push_str(&check_text(r));
            }
        }
    }
}

/// The option ROM blocks compared (QEMU compares them in the RAM section, before any device).
fn rom_lengths_text(s: &mut String, roms: &[RomLength]) {
    if !roms.is_empty() {
        let _ = writeln!(s, "\nOption ROM blocks (RAM section, loaded before any device):");
        for r in roms {
            let _ = writeln!(s, "  {:<9} {r}", r.verdict.as_str().to_uppercase());
        }
    }
}
