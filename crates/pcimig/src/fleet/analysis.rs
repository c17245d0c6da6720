//! From the engine's interned classes and fingerprints to the report: groups, the matrix, the
//! bytes that split groups, the hazards, and the export's rows.

use super::engine::{DevState, Engine, Placement, Sparse};
use super::{
    DeviceRow, FleetDevice, FleetOptions, FleetReport, Group, GroupByte, Hazard, MaskClass, MatrixEntry, SplitByte,
};
use pcimig_config::regs::PCI_DSN_SERIAL;
use pcimig_config::{AnyCapId, ExtCapId};
use std::collections::{BTreeSet, HashMap, HashSet};

/// Devices compared before a register whose every value differs counts as per device.
const HAZARD_MIN_DEVICES: usize = 3;

/// What makes devices interchangeable.
#[derive(PartialEq, Eq, Hash)]
enum GroupKey {
    Refused(usize, String),
    Live(usize, usize, Vec<Option<u32>>),
}

/// One group: its members (indexes into `Engine::devs`).
struct Members {
    kind: usize,
    members: Vec<usize>,
    refusal: Option<String>,
    class: Option<usize>,
}

/// The lookups every part of the analysis needs.
struct Ctx<'a> {
    e: &'a Engine,
    fps: &'a [Vec<Option<u32>>],
    /// Each class's position in its kind's class list.
    slot: Vec<usize>,
    groups: Vec<Members>,
}

/// Build the report from the engine's state.
pub(super) fn report(
    e: &Engine,
    fps: &[Vec<Option<u32>>],
    devices: &[FleetDevice],
    opts: &FleetOptions,
    p: Placement,
) -> FleetReport {
    let mut slot = vec![0; e.classes.len()];
    for k in &e.kinds {
        for (i, &c) in k.classes.iter().enumerate() {
            slot[c] = i;
        }
    }
    let ctx = Ctx {
        e,
        fps,
        slot,
        groups: group(e, fps),
    };
    let hazards = hazards(&ctx);
    let split_bytes = split_bytes(&ctx, &hazards);
    FleetReport {
        machine: p.machine.to_string(),
        slot: p.slot.to_string(),
        skip_vsc_check: match opts.skip_vsc_check {
            Some(true) => "on",
            Some(false) => "off",
            None => "machine type default",
        }
        .into(),
        group_by: format!("{:?}", opts.group_by),
        devices: e.devs.len(),
        masks: masks(e),
        groups: groups_out(&ctx, devices),
        matrix: matrix(&ctx),
        rows: rows(&ctx, devices, &hazards),
        split_bytes,
        hazards,
        skipped: e.skipped.clone(),
    }
}

/// Group devices by kind, destination class and fingerprints (or refusal), in input order.
fn group(e: &Engine, fps: &[Vec<Option<u32>>]) -> Vec<Members> {
    let mut index: HashMap<GroupKey, usize> = HashMap::new();
    let mut groups: Vec<Members> = Vec::new();
    for (i, d) in e.devs.iter().enumerate() {
        let (key, refusal, class) = match &d.state {
            DevState::Refused(why) => (GroupKey::Refused(d.kind, why.clone()), Some(why.clone()), None),
            DevState::Live { class, .. } => (GroupKey::Live(d.kind, *class, fps[i].clone()), None, Some(*class)),
        };
        let g = *index.entry(key).or_insert_with(|| {
            groups.push(Members {
                kind: d.kind,
                members: Vec::new(),
                refusal,
                class,
            });
            groups.len() - 1
        });
        groups[g].members.push(i);
    }
    groups
}

fn group_id(g: usize) -> String {
    format!("g{}", g + 1)
}

fn masks(e: &Engine) -> Vec<MaskClass> {
    e.classes
        .iter()
        .map(|c| MaskClass {
            id: c.id.clone(),
            kind: e.kinds[c.kind].label.clone(),
            size: c.size,
            checked_bytes: c.space.checked_bytes(),
            qemu: c.qemu.iter().cloned().collect(),
            skip_vsc_check: c.skip_vsc_check,
        })
        .collect()
}

fn groups_out(ctx: &Ctx, devices: &[FleetDevice]) -> Vec<Group> {
    ctx.groups
        .iter()
        .enumerate()
        .map(|(g, m)| {
            let input = |i: &usize| &devices[ctx.e.devs[*i].input];
            Group {
                id: group_id(g),
                kind: ctx.e.kinds[m.kind].label.clone(),
                devices: m.members.iter().map(|i| input(i).name.clone()).collect(),
                mask: m.class.map(|c| ctx.e.classes[c].id.clone()),
                qemu: sorted(m.members.iter().map(|i| input(i).qemu.to_string())),
                drivers: sorted(m.members.iter().map(|i| input(i).driver_shown())),
                refusal: m.refusal.clone(),
            }
        })
        .collect()
}

fn sorted(it: impl Iterator<Item = String>) -> Vec<String> {
    it.collect::<BTreeSet<_>>().into_iter().collect()
}

/// Every ordered pair of groups of the same kind.
fn matrix(ctx: &Ctx) -> Vec<MatrixEntry> {
    let mut by_kind: Vec<Vec<usize>> = vec![Vec::new(); ctx.e.kinds.len()];
    for (g, m) in ctx.groups.iter().enumerate() {
        by_kind[m.kind].push(g);
    }
    let mut names: HashMap<(usize, usize), String> = HashMap::new();
    let mut out = Vec::new();
    for gs in &by_kind {
        for &from in gs {
            for &to in gs {
                out.push(move_between(ctx, from, to, &mut names));
            }
        }
    }
    out
}

/// One move: a refusal on either side fails; then another config size; then the first byte
/// where the source's fingerprint under the destination's class differs from the destination's.
fn move_between(ctx: &Ctx, from: usize, to: usize, names: &mut HashMap<(usize, usize), String>) -> MatrixEntry {
    let (s, d) = (&ctx.groups[from], &ctx.groups[to]);
    let entry = |pass, offset, reason| MatrixEntry {
        from: group_id(from),
        to: group_id(to),
        pass,
        offset,
        reason,
    };
    if let Some(r) = &s.refusal {
        return entry(false, None, Some(format!("source refused: {r}")));
    }
    let (Some(class), None) = (d.class, &d.refusal) else {
        let r = d.refusal.clone().unwrap_or_default();
        return entry(false, None, Some(format!("destination refused: {r}")));
    };
    let slot = ctx.slot[class];
    let (fs, fd) = (ctx.fps[s.members[0]][slot], ctx.fps[d.members[0]][slot]);
    let Some(fs) = fs else {
        return entry(false, None, Some("another config size".into()));
    };
    if Some(fs) == fd {
        return entry(true, None, None);
    }
    let c = &ctx.e.classes[class];
    let offset = fd.and_then(|fd| first_difference(&c.keys[fs as usize], &c.keys[fd as usize]));
    let reason = offset.map(|o| {
        names
            .entry((class, o))
            .or_insert_with(|| c.space.locate(o).to_string())
            .clone()
    });
    entry(false, offset, reason)
}

/// The first offset where two sparse keys (over one reference) differ.
fn first_difference(a: &Sparse, b: &Sparse) -> Option<usize> {
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) if x == y => (i, j) = (i + 1, j + 1),
            (Some(x), Some(y)) => return Some(usize::from(x.0.min(y.0))),
            (Some(x), None) | (None, Some(x)) => return Some(usize::from(x.0)),
            (None, None) => break,
        }
    }
    None
}

/// A live device's config byte at `offset` (its reference's where it does not differ).
fn byte_at(ctx: &Ctx, dev: usize, offset: usize) -> Option<u8> {
    let d = &ctx.e.devs[dev];
    let DevState::Live { size, diff, .. } = &d.state else {
        return None;
    };
    let reference = ctx.e.kinds[d.kind].reference(*size);
    if offset >= *size {
        return None;
    }
    Some(match diff.binary_search_by_key(&(offset as u16), |&(o, _)| o) {
        Ok(i) => diff[i].1,
        Err(_) => reference[offset],
    })
}

/// Offsets where some device's checked bits differ from the reference's, by register, per
/// kind: `(kind, register, offsets, a class naming them)`.
fn candidate_registers(ctx: &Ctx) -> Vec<(usize, String, Vec<usize>, usize)> {
    let mut out = Vec::new();
    for (k, kind) in ctx.e.kinds.iter().enumerate() {
        let mut offsets: BTreeSet<usize> = BTreeSet::new();
        for &c in &kind.classes {
            for key in &ctx.e.classes[c].keys {
                offsets.extend(key.iter().map(|&(o, _)| usize::from(o)));
            }
        }
        let mut regs: Vec<(usize, String, Vec<usize>, usize)> = Vec::new();
        for o in offsets {
            let c = innermost_class(ctx, &kind.classes, o);
            let name = ctx.e.classes[c].space.locate(o).to_string();
            match regs.last_mut() {
                Some(last) if last.1 == name => last.2.push(o),
                _ => regs.push((k, name, vec![o], c)),
            }
        }
        out.extend(regs);
    }
    out
}

/// The class whose device has the innermost capability at `offset` (one device of a kind may
/// lack a capability another has there): it names the byte.
fn innermost_class(ctx: &Ctx, classes: &[usize], offset: usize) -> usize {
    classes
        .iter()
        .copied()
        .filter(|&c| offset < ctx.e.classes[c].size)
        .max_by_key(|&c| ctx.e.classes[c].space.locate(offset).capability.map(|l| l.offset))
        .unwrap_or(classes[0])
}

/// Registers whose value is per device: every device of the kind (at least
/// [`HAZARD_MIN_DEVICES`]) holds another value, or a Device Serial Number that differs at all.
fn hazards(ctx: &Ctx) -> Vec<Hazard> {
    let mut out = Vec::new();
    for (kind, register, offsets, class) in candidate_registers(ctx) {
        let live: Vec<usize> = (0..ctx.e.devs.len())
            .filter(|&i| ctx.e.devs[i].kind == kind && byte_at(ctx, i, offsets[0]).is_some())
            .collect();
        let values: HashSet<Vec<Option<u8>>> = live
            .iter()
            .map(|&i| offsets.iter().map(|&o| byte_at(ctx, i, o)).collect())
            .collect();
        let loc = ctx.e.classes[class].space.locate(offsets[0]);
        let dsn = loc
            .capability
            .as_ref()
            .is_some_and(|c| c.cap_id() == AnyCapId::Ext(ExtCapId::Dsn) && offsets[0] >= c.offset + PCI_DSN_SERIAL);
        let reason = if dsn && values.len() > 1 {
            "the Device Serial Number is per physical device: only a variant driver that hides it lets these devices move"
        } else if live.len() >= HAZARD_MIN_DEVICES && values.len() == live.len() {
            "every device holds another value: a per-device byte that makes otherwise equal hosts incompatible"
        } else {
            continue;
        };
        out.push(Hazard {
            kind: ctx.e.kinds[kind].label.clone(),
            offsets,
            register,
            distinct_values: values.len(),
            devices: live.len(),
            reason: reason.into(),
        });
    }
    out
}

/// Bytes (outside hazards) where some move between groups of a kind fails: a group's value
/// differs from another's in bits the other's destination mask checks.
fn split_bytes(ctx: &Ctx, hazards: &[Hazard]) -> Vec<SplitByte> {
    let hazard: HashSet<(&str, usize)> = hazards
        .iter()
        .flat_map(|h| h.offsets.iter().map(move |&o| (h.kind.as_str(), o)))
        .collect();
    let mut out = Vec::new();
    for (kind, register, offsets, _) in candidate_registers(ctx) {
        let label = &ctx.e.kinds[kind].label;
        for o in offsets {
            if hazard.contains(&(label.as_str(), o)) {
                continue;
            }
            let values = group_bytes(ctx, kind, o);
            if splits(&values) {
                out.push(SplitByte {
                    kind: label.clone(),
                    offset: o,
                    register: register.clone(),
                    values: values
                        .iter()
                        .map(|&(g, v, m)| GroupByte {
                            group: group_id(g),
                            value: format!("{v:02x}"),
                            checked: format!("{m:02x}"),
                        })
                        .collect(),
                });
            }
        }
    }
    out
}

/// `(group, byte, checked bits)` at `offset` for each live group of `kind` that has it.
fn group_bytes(ctx: &Ctx, kind: usize, offset: usize) -> Vec<(usize, u8, u8)> {
    ctx.groups
        .iter()
        .enumerate()
        .filter(|(_, m)| m.kind == kind)
        .filter_map(|(g, m)| {
            let class = &ctx.e.classes[m.class?];
            let v = byte_at(ctx, m.members[0], offset)?;
            Some((g, v, class.space.checked()[offset]))
        })
        .collect()
}

/// Some group's byte differs from another's in bits the other checks.
fn splits(values: &[(usize, u8, u8)]) -> bool {
    let masks: BTreeSet<u8> = values.iter().map(|&(_, _, m)| m).filter(|&m| m != 0).collect();
    masks.into_iter().any(|m| {
        let mut seen = values.iter().map(|&(_, v, _)| v & m);
        let first = seen.next();
        seen.any(|v| Some(v) != first)
    })
}

/// One export row per device.
fn rows(ctx: &Ctx, devices: &[FleetDevice], hazards: &[Hazard]) -> Vec<DeviceRow> {
    let mut group_of = vec![0; ctx.e.devs.len()];
    for (g, m) in ctx.groups.iter().enumerate() {
        for &i in &m.members {
            group_of[i] = g;
        }
    }
    ctx.e
        .devs
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let f = &devices[d.input];
            let kind = &ctx.e.kinds[d.kind];
            let (dest_mask, refusal) = match &d.state {
                DevState::Live { class, .. } => (Some(ctx.e.classes[*class].id.clone()), None),
                DevState::Refused(r) => (None, Some(r.clone())),
            };
            let fingerprints = kind
                .classes
                .iter()
                .zip(&ctx.fps[i])
                .map(|(&c, fp)| {
                    let class = &ctx.e.classes[c];
                    (
                        class.id.clone(),
                        fp.map(|v| format!("{:016x}", class.hashes[v as usize])),
                    )
                })
                .collect();
            DeviceRow {
                device: f.name.clone(),
                snapshot: f.snapshot.clone(),
                host: f.host.clone(),
                bdf: f.bdf.clone(),
                vendor: format!("{:04x}", f.vendor),
                device_id: format!("{:04x}", f.device),
                kind: kind.label.clone(),
                driver: f.driver.clone(),
                driver_version: f.driver_version.clone(),
                qemu: f.qemu.to_string(),
                size: f.config.len(),
                dest_mask,
                refusal,
                group: group_id(group_of[i]),
                fingerprints,
                hazards: hazards
                    .iter()
                    .filter(|h| h.kind == kind.label)
                    .map(|h| h.register.clone())
                    .collect(),
            }
        })
        .collect()
}
