//! The human report of `pcimig explain`.

use super::{Certainty, Explanation, FailureKind, Recheck};
use std::fmt::Write;

/// Render an explanation for a terminal: what failed, where, the register, the likely causes,
/// the re-run check, notes.
pub fn text(e: &Explanation) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "failure: {}", failure_line(e));
    if let Some(d) = &e.device {
        let inst = d.instance_id.map(|i| format!(" instance {i:#x}")).unwrap_or_default();
        let model = d.model.as_deref().map(|m| format!(" ({m})")).unwrap_or_default();
        let _ = writeln!(s, "  device: '{}'{inst}{model}", d.idstr);
    }
    if let Some(m) = &e.machine {
        let _ = writeln!(s, "  machine: {m} (from the saved stream)");
    }
    if let Some(b) = &e.bad_config {
        let _ = writeln!(
            s,
            "  offset: {:#05x}  saved {:02x}  device {:02x}  cmask {:02x}  wmask {:02x}  w1cmask {:02x}  \
             differing checked bits {:02x}",
            b.offset,
            b.saved,
            b.device,
            b.cmask,
            b.wmask,
            b.w1cmask,
            b.bad_bits()
        );
    }
    if let Some(n) = &e.register {
        let reg = if n.register.is_empty() { "unknown" } else { &n.register };
        let _ = writeln!(s, "  register: {reg} [{}]", certainty_text(n.certainty));
        if let Some(note) = &n.note {
            let _ = writeln!(s, "    {note}");
        }
    }
    let _ = writeln!(s, "\nLikely cause:");
    for c in &e.causes {
        let _ = writeln!(s, "  - {}", c.text);
    }
    if let Some(r) = &e.recheck {
        recheck_text(&mut s, r);
    }
    if !e.notes.is_empty() {
        let _ = writeln!(s, "\nNotes:");
        for n in &e.notes {
            let _ = writeln!(s, "  ! {n}");
        }
    }
    s
}

fn failure_line(e: &Explanation) -> &'static str {
    match e.failure {
        FailureKind::Config => "QEMU refused a config byte (get_pci_config_device)",
        FailureKind::RamBlockSize => "a RAM block has another length on the destination (qemu_ram_resize)",
        FailureKind::UnknownRamBlock => "the destination has no such RAM block",
        FailureKind::UnknownSection => "the destination has no such device section",
        FailureKind::VmstateVersion => "a section's version is newer than the destination loads",
        FailureKind::MachineTypeDiffers => "the destination runs another machine type",
        FailureKind::MachineTypeUnknown => "the destination QEMU does not define the machine type",
        FailureKind::Other => "the incoming migration failed (no detail in the log)",
    }
}

fn certainty_text(c: Certainty) -> &'static str {
    match c {
        Certainty::Header => "header register, fixed by the PCI spec",
        Certainty::HeaderTypeUnknown => "header register; the header type is not in the log",
        Certainty::DeviceModel => "from the QEMU device model's fixed layout",
        Certainty::SavedConfig => "from the saved config's capability list",
        Certainty::DestinationModel => "from the destination model the check built",
        Certainty::Unknown => "the capability layout is not in the log",
    }
}

fn recheck_text(s: &mut String, r: &Recheck) {
    let dev = r.device.as_deref().unwrap_or("the stream");
    let _ = writeln!(
        s,
        "\nCheck re-run ({} mode) for {dev}: {} ({} failing byte{})",
        r.mode,
        r.verdict.as_str().to_uppercase(),
        r.mismatches.len(),
        if r.mismatches.len() == 1 { "" } else { "s" }
    );
    crate::report::mismatch_table(s, &r.mismatches);
    for o in &r.other_failures {
        let _ = writeln!(s, "  also: {o}");
    }
}
