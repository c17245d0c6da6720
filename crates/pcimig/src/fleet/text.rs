//! The human rendering of a fleet report, in the check report's style.

use super::{FleetReport, Group, MatrixEntry};
use std::collections::HashMap;
use std::fmt::Write;

/// Members or targets listed before `+N more`.
const LIST_MAX: usize = 6;

/// Render a fleet for a terminal: the settings, every group with where its VMs can move, the
/// bytes that split groups, the hazards and the skipped devices.
pub fn fleet_text(r: &FleetReport) -> String {
    let mut s = String::new();
    let kinds: std::collections::BTreeSet<&str> = r.groups.iter().map(|g| g.kind.as_str()).collect();
    let _ = writeln!(
        s,
        "fleet: {} devices, {} kind{}, {} group{}, {} destination mask{}",
        r.devices,
        kinds.len(),
        plural(kinds.len()),
        r.groups.len(),
        plural(r.groups.len()),
        r.masks.len(),
        plural(r.masks.len())
    );
    let _ = writeln!(
        s,
        "  machine: {} (slot {}), skip-vsc-check: {}",
        r.machine, r.slot, r.skip_vsc_check
    );
    groups_text(&mut s, r);
    split_text(&mut s, r);
    hazards_text(&mut s, r);
    if !r.skipped.is_empty() {
        let _ = writeln!(s, "\nSkipped (vfio-pci would not realize them):");
        for k in &r.skipped {
            let _ = writeln!(s, "  {}: {}", k.device, k.reason);
        }
    }
    s
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// `a, b, c, +N more`.
fn listed(items: &[String]) -> String {
    let mut out = items.iter().take(LIST_MAX).cloned().collect::<Vec<_>>().join(", ");
    if items.len() > LIST_MAX {
        let _ = write!(out, ", +{} more", items.len() - LIST_MAX);
    }
    out
}

fn groups_text(s: &mut String, r: &FleetReport) {
    let mut from: HashMap<&str, Vec<&MatrixEntry>> = HashMap::new();
    for m in &r.matrix {
        from.entry(m.from.as_str()).or_default().push(m);
    }
    let _ = writeln!(s, "\nGroups (devices interchangeable as source and destination):");
    for g in &r.groups {
        group_text(s, g, from.get(g.id.as_str()).map_or(&[][..], |v| v));
    }
}

fn group_text(s: &mut String, g: &Group, moves: &[&MatrixEntry]) {
    let _ = writeln!(
        s,
        "  {} [{}] {} device{}, QEMU {}, driver {}",
        g.id,
        g.kind,
        g.devices.len(),
        plural(g.devices.len()),
        g.qemu.join(", "),
        g.drivers.join(", ")
    );
    let _ = writeln!(s, "      {}", listed(&g.devices));
    if let Some(r) = &g.refusal {
        let _ = writeln!(s, "      refused: {r}");
        return;
    }
    let pass: Vec<String> = moves.iter().filter(|m| m.pass).map(|m| m.to.clone()).collect();
    let fail: Vec<String> = moves
        .iter()
        .filter(|m| !m.pass)
        .map(|m| match (m.offset, &m.reason) {
            (Some(o), Some(r)) => format!("{} (at {o:#05x}: {r})", m.to),
            (_, Some(r)) => format!("{} ({r})", m.to),
            _ => m.to.clone(),
        })
        .collect();
    let _ = writeln!(
        s,
        "      can move to: {}",
        if pass.is_empty() { "-".into() } else { listed(&pass) }
    );
    if !fail.is_empty() {
        let _ = writeln!(s, "      cannot move to: {}", listed(&fail));
    }
}

fn split_text(s: &mut String, r: &FleetReport) {
    if r.split_bytes.is_empty() {
        return;
    }
    let _ = writeln!(s, "\nBytes that split groups (group=value/checked bits):");
    for b in &r.split_bytes {
        let values: Vec<String> = b
            .values
            .iter()
            .map(|v| format!("{}={}/{}", v.group, v.value, v.checked))
            .collect();
        let _ = writeln!(
            s,
            "  [{}] {:#05x} {}: {}",
            b.kind,
            b.offset,
            b.register,
            listed(&values)
        );
    }
}

fn hazards_text(s: &mut String, r: &FleetReport) {
    if r.hazards.is_empty() {
        return;
    }
    let _ = writeln!(s, "\nHazards (per-device bytes):");
    for h in &r.hazards {
        let first = h.offsets.first().copied().unwrap_or(0);
        let last = h.offsets.last().copied().unwrap_or(0);
        let _ = writeln!(
            s,
            "  [{}] {first:#05x}..{last:#05x} {}: {} values over {} devices: {}",
            h.kind, h.register, h.distinct_values, h.devices, h.reason
        );
    }
}
