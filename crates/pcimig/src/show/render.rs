//! Human rendering of [`DeviceReport`]s, lspci-like: one block per device, a line per
//! capability with its registers indented under it.

use super::{CapReport, DeviceReport};
use std::fmt::Write;

fn cap_line(out: &mut String, c: &CapReport) {
    let off = if c.extended {
        format!("{:03x}", c.offset)
    } else {
        format!("{:02x}", c.offset)
    };
    let ver = match (c.extended, c.version) {
        (true, Some(v)) => format!(" v{v}"),
        _ => String::new(),
    };
    match (&c.issue, c.id) {
        (Some(i), _) => {
            let _ = writeln!(out, "\tCapabilities: [{off}{ver}] {} ({})", c.name, i.message);
        }
        (None, Some(id)) => {
            let (idtxt, sver) = if c.extended {
                (format!("{id:04x}"), String::new())
            } else {
                (
                    format!("{id:02x}"),
                    c.version.map(|v| format!(" (v{v})")).unwrap_or_default(),
                )
            };
            let _ = writeln!(out, "\tCapabilities: [{off}{ver}] {}{sver} [id {idtxt}]", c.name);
        }
        (None, None) => {}
    }
    for f in &c.fields {
        let width = f.size * 2;
        let _ = writeln!(out, "\t\t{:03x} {}: {:0width$x}  {}", f.offset, f.name, f.value, f.text);
    }
    for n in &c.notes {
        let _ = writeln!(out, "\t\tnote: {n}");
    }
}

/// Render one device.
pub fn device(out: &mut String, r: &DeviceReport) {
    let addr = r.bdf.clone().unwrap_or_else(|| r.origin.clone());
    match &r.header {
        Some(h) => {
            let class = r.names.class.as_deref().unwrap_or("Class");
            let vendor = r.names.vendor.as_deref().unwrap_or("Vendor");
            let device = r.names.device.as_deref().unwrap_or("Device");
            let _ = writeln!(
                out,
                "{addr} {class} [{:04x}]: {vendor} {device} [{:04x}:{:04x}] (rev {:02x})",
                h.class >> 8,
                h.vendor_id,
                h.device_id,
                h.revision
            );
        }
        None => {
            let _ = writeln!(out, "{addr}: no header");
        }
    }
    let mut src = format!("\tSource: {} ({} bytes", r.origin, r.size);
    if let Some(t) = r.truncated {
        let _ = write!(src, ", a truncated view of {}", t.full);
    }
    src.push(')');
    if let Some(d) = &r.driver {
        let _ = write!(src, ", driver {d}");
    }
    let _ = writeln!(out, "{src}");
    if let Some(h) = &r.header {
        let kind = match h.header_type {
            0 => "type 0 (normal)",
            1 => "type 1 (PCI bridge)",
            2 => "type 2 (CardBus bridge)",
            _ => "unknown type",
        };
        let _ = writeln!(
            out,
            "\tHeader: {kind}{}",
            if h.multifunction { ", multi-function" } else { "" }
        );
        if let (Some(sv), Some(sd)) = (h.subsystem_vendor_id, h.subsystem_id) {
            let name = match (&r.names.subsystem_vendor, &r.names.subsystem) {
                (Some(v), Some(s)) => format!("{v} {s} "),
                (Some(v), None) => format!("{v} Device "),
                _ => String::new(),
            };
            let _ = writeln!(out, "\tSubsystem: {name}[{sv:04x}:{sd:04x}]");
        }
        for f in &h.fields {
            let width = f.size * 2;
            let _ = writeln!(out, "\t{:02x} {}: {:0width$x}  {}", f.offset, f.name, f.value, f.text);
        }
    }
    if let Some(b) = &r.bar_sizes {
        let sizes: Vec<String> = b
            .bars
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.map(|s| format!("BAR{i}={}", human_size(s))))
            .chain(b.rom.map(|s| format!("ROM={}", human_size(s))))
            .collect();
        if !sizes.is_empty() {
            let _ = writeln!(out, "\tRegion sizes: {}", sizes.join(" "));
        }
    }
    for c in &r.capabilities {
        cap_line(out, c);
    }
    if !r.hazards.is_empty() {
        let _ = writeln!(out, "\tMigration hazards:");
        for h in &r.hazards {
            let _ = writeln!(out, "\t\t[{}] {}", h.kind, h.message);
        }
    }
    for w in &r.warnings {
        let _ = writeln!(out, "\tWarning: {w}");
    }
    if let Some(m) = &r.masks {
        super::masks::render(out, m);
    }
}

fn human_size(s: u64) -> String {
    const U: [&str; 6] = ["", "K", "M", "G", "T", "P"];
    let mut i = 0;
    let mut v = s;
    while v >= 1024 && v % 1024 == 0 && i < U.len() - 1 {
        v /= 1024;
        i += 1;
    }
    format!("{v}{}", U[i])
}

/// Render every device, separated by blank lines.
pub fn all(reports: &[DeviceReport]) -> String {
    let mut out = String::new();
    for (i, r) in reports.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        device(&mut out, r);
    }
    out
}
