//! Human-readable rendering of reports. JSON is the serde form of the same structs.

use crate::check::CheckOutput;
use std::fmt::Write;

/// The program prefix QEMU puts before error_report lines.
pub const QEMU_PREFIX: &str = "qemu-system-x86_64: ";

/// Render a check for a terminal: verdict, QEMU's line, every mismatch, exemptions,
/// assumptions, warnings.
pub fn check_text(o: &CheckOutput) -> String {
    let mut s = String::new();
    let verdict = match (o.verdict.as_str(), o.qemu_verdict.as_str()) {
        ("pass", "pass") => "PASS: QEMU 10.0.2 would accept this config space on restore".to_string(),
        ("fail", _) => format!(
            "FAIL: QEMU 10.0.2 would refuse this restore ({} failing byte{})",
            o.mismatches.len(),
            if o.mismatches.len() == 1 { "" } else { "s" }
        ),
        ("pass", _) => "PASS under --exempt-ext-vendor on; stock QEMU 10.0.2 would FAIL".to_string(),
        _ => o.verdict.clone(),
    };
    let _ = writeln!(s, "verdict: {verdict}");
    let _ = writeln!(s, "  saved: {} [{}] {}", o.saved.origin, o.saved.id, o.saved.treatment);
    let _ = writeln!(s, "  dest:  {} [{}] {}", o.dest.origin, o.dest.id, o.dest.treatment);
    match &o.qemu_line {
        Some(line) => {
            let _ = writeln!(s, "\nQEMU 10.0.2 would print:\n  {QEMU_PREFIX}{line}");
        }
        None => {
            let _ = writeln!(s, "\nQEMU 10.0.2 would print no config error.");
        }
    }
    if !o.mismatches.is_empty() {
        let _ = writeln!(s, "\nMismatches (QEMU stops at the first):");
        let _ = writeln!(
            s,
            "  {:<7} {:<6} {:<6} {:<5} {:<5} {:<7} location",
            "offset", "saved", "device", "cmask", "wmask", "w1cmask"
        );
        for m in &o.mismatches {
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
    if !o.exempt.is_empty() {
        let _ = writeln!(s, "\nExempt from the check:");
        for e in &o.exempt {
            let _ = writeln!(s, "  {:#05x}..{:#05x}  {}: {}", e.start, e.end, e.policy, e.reason);
        }
    }
    let a = &o.assumptions;
    let _ = writeln!(s, "\nAssumptions:");
    let _ = writeln!(s, "  mode: {}", a.mode);
    let _ = writeln!(s, "  slot: {} ({})", a.slot.value, a.slot.reason);
    let _ = writeln!(s, "  machine: {} ({})", a.machine.value, a.machine.reason);
    let _ = writeln!(
        s,
        "  skip-vsc-check: {} ({})",
        a.skip_vsc_check.value, a.skip_vsc_check.reason
    );
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
    for n in &a.notes {
        let _ = writeln!(s, "  - {n}");
    }
    let _ = writeln!(s, "  scope: {}", a.scope);
    if !o.warnings.is_empty() {
        let _ = writeln!(s, "\nWarnings (they do not change the verdict):");
        for w in &o.warnings {
            let _ = writeln!(s, "  ! {w}");
        }
    }
    let _ = writeln!(s, "\nchecked bytes: {} of {}", o.checked_bytes, o.size);
    s
}
