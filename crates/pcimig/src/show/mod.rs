//! `pcimig show`: decode a config space — header, every standard and extended capability with
//! the registers that matter for migration — and flag migration hazards. Parse (the `source`
//! module) → model (this module's [`DeviceReport`]) → render ([`render`], or serde JSON as
//! documented in `docs/show-json.md`).
//!
//! Chains are walked as pciutils' `lspci -vvv` walks them (pointers masked with `!3`, a visited
//! set, `<chain looped>` / `<chain broken>` inline, extended capabilities only on a device with a
//! PCI Express or PCI-X capability), with two deliberate differences, both reported inline:
//! a standard pointer into the header (0x04..0x3f) and an extended pointer below 0x100 end the
//! walk (`into_header`, `below_extended`), where lspci goes on decoding header bytes as a
//! capability. A capability list never fails the decode.

mod fields;
pub mod masks;
pub mod pciids;
pub mod render;

pub use fields::Field;
pub use pciids::PciIds;

use crate::source::{BarSizes, ConfigSource, SourceKind, Truncation};
use pcimig_config::le::uint_at;
use pcimig_config::regs::*;
use pcimig_config::{walk_ext, walk_std, CapId, ChainIssue, ExtCapId};
use serde::Serialize;
use std::collections::HashSet;

/// A chain problem, inline in the capability list where the walk stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IssueReport {
    /// `looped`, `broken`, `into_header`, `past_end`, `below_extended` or `not_in_dump`.
    pub kind: &'static str,
    /// The pointer's own offset (`None` for `looped` / `broken`, where the offset is the entry's).
    pub from: Option<usize>,
    /// What went wrong, in words.
    pub message: String,
}

/// One capability (or an inline chain issue, with `id` null).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CapReport {
    /// Capability ID (8-bit standard, 16-bit extended); null for a chain issue entry.
    pub id: Option<u16>,
    /// Offset of the capability header (for an issue: where the bad pointer leads).
    pub offset: usize,
    /// Extended capability (0x100 and above).
    pub extended: bool,
    /// Name (`MSI-X`, `Vendor Specific (09)`, `<chain looped>`).
    pub name: String,
    /// Capability version (extended: header bits 19:16; PCI Express and PM: their version field).
    pub version: Option<u8>,
    /// Raw next pointer.
    pub next: Option<usize>,
    /// Decoded registers.
    pub fields: Vec<Field>,
    /// Set on an issue entry.
    pub issue: Option<IssueReport>,
    /// Notes (a capability cut short by the end of the bytes, …).
    pub notes: Vec<String>,
}

/// A migration hazard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hazard {
    /// `device_serial_number`, `vendor_specific`, `hidden_by_vfio`.
    pub kind: &'static str,
    /// Offset of the capability concerned.
    pub offset: usize,
    /// Extended capability.
    pub extended: bool,
    /// Byte range concerned, half-open, when known.
    pub range: Option<[usize; 2]>,
    /// Why it matters.
    pub message: String,
    /// How many bytes of `range` QEMU's restore check compares (any bit) when vfio-pci presents
    /// the device with default options; null when not modelled (bridge, truncated, saved config).
    pub checked_bytes: Option<usize>,
}

/// Names from pci.ids, when known.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Names {
    /// Vendor name.
    pub vendor: Option<String>,
    /// Device name.
    pub device: Option<String>,
    /// Subsystem vendor name.
    pub subsystem_vendor: Option<String>,
    /// Subsystem name.
    pub subsystem: Option<String>,
    /// Class name.
    pub class: Option<String>,
}

/// The identity and header of a device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Header {
    /// Vendor ID.
    pub vendor_id: u16,
    /// Device ID.
    pub device_id: u16,
    /// Revision ID.
    pub revision: u8,
    /// Class code (base, sub, prog-if) as 24 bits.
    pub class: u32,
    /// Header type (bits 6:0): 0 normal, 1 bridge, 2 CardBus.
    pub header_type: u8,
    /// Multi-function bit.
    pub multifunction: bool,
    /// Subsystem vendor ID (type 0 header).
    pub subsystem_vendor_id: Option<u16>,
    /// Subsystem ID (type 0 header).
    pub subsystem_id: Option<u16>,
    /// Header registers, decoded.
    pub fields: Vec<Field>,
}

/// Everything `show` says about one device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceReport {
    /// Where the bytes came from.
    pub origin: String,
    /// The device's address, when the source names it.
    pub bdf: Option<String>,
    /// Physical config, or saved config from a stream.
    pub kind: SourceKind,
    /// Bytes available.
    pub size: usize,
    /// Set when the bytes are a truncated view.
    pub truncated: Option<Truncation>,
    /// The header; `None` when fewer than 64 bytes are available.
    pub header: Option<Header>,
    /// Names from pci.ids.
    pub names: Names,
    /// Capabilities in chain order, standard then extended, with chain issues inline.
    pub capabilities: Vec<CapReport>,
    /// Migration hazards.
    pub hazards: Vec<Hazard>,
    /// BAR/ROM sizes (sysfs).
    pub bar_sizes: Option<BarSizes>,
    /// Bound host driver (sysfs).
    pub driver: Option<String>,
    /// Reader and decoder warnings.
    pub warnings: Vec<String>,
    /// Per-byte masks as vfio-pci would present the device (`--masks`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub masks: Option<masks::MaskReport>,
}

fn header(b: &[u8]) -> Option<Header> {
    if b.len() < PCI_CONFIG_HEADER_SIZE {
        return None;
    }
    let ht = b[PCI_HEADER_TYPE];
    let kind = ht & 0x7f;
    let mut c = fields::Cx::new(b, 0);
    c.f(0x04, 2, "Command", |v| {
        let names = [
            (0, "I/O"),
            (1, "Mem"),
            (2, "BusMaster"),
            (6, "ParErr"),
            (8, "SERR"),
            (10, "DisINTx"),
        ];
        flags_text(v, &names)
    });
    c.f(0x06, 2, "Status", |v| {
        let names = [
            (3, "INTx"),
            (4, "Cap"),
            (5, "66MHz"),
            (8, "ParErr"),
            (14, "SERR"),
            (15, "PERR"),
        ];
        flags_text(v, &names)
    });
    c.f(0x0c, 1, "Cache Line Size", |v| format!("{} bytes", v * 4));
    c.f(0x0d, 1, "Latency Timer", |v| v.to_string());
    const BARS: [&str; 6] = ["BAR0", "BAR1", "BAR2", "BAR3", "BAR4", "BAR5"];
    let nbars = match kind {
        0 => 6,
        1 => 2,
        _ => 0,
    };
    // A 64-bit memory BAR takes the next BAR slot for its upper 32 bits (as lspci shows it).
    let mut i = 0;
    while i < nbars {
        let off = 0x10 + 4 * i;
        let is64 = uint_at(b, off, 4).is_some_and(|v| v & 0x7 == 0x4);
        if is64 && i + 1 < nbars {
            let hi = uint_at(b, off + 4, 4).unwrap_or(0);
            c.f(off, 4, BARS[i], |v| bar_text(v | (hi << 32)));
            let lower = BARS[i];
            c.f(off + 4, 4, BARS[i + 1], |v| {
                format!("upper 32 bits of {lower}: {v:08x}")
            });
            i += 2;
        } else {
            c.f(off, 4, BARS[i], bar_text);
            i += 1;
        }
    }
    match kind {
        0 => {
            c.f(0x2c, 2, "Subsystem Vendor ID", |v| format!("{v:04x}"));
            c.f(0x2e, 2, "Subsystem ID", |v| format!("{v:04x}"));
            c.f(0x30, 4, "Expansion ROM Base Address", |v| {
                format!(
                    "{:08x} [{}]",
                    v & !0x7ff,
                    if v & 1 == 1 { "enabled" } else { "disabled" }
                )
            });
        }
        1 => {
            c.f(0x18, 1, "Primary Bus Number", |v| format!("{v:02x}"));
            c.f(0x19, 1, "Secondary Bus Number", |v| format!("{v:02x}"));
            c.f(0x1a, 1, "Subordinate Bus Number", |v| format!("{v:02x}"));
            c.f(0x1c, 2, "I/O Base/Limit", |v| format!("{v:04x}"));
            c.f(0x20, 4, "Memory Base/Limit", |v| format!("{v:08x}"));
            c.f(0x24, 4, "Prefetchable Memory Base/Limit", |v| format!("{v:08x}"));
            c.f(0x38, 4, "Expansion ROM Base Address", |v| format!("{v:08x}"));
            c.f(0x3e, 2, "Bridge Control", |v| {
                flags_text(
                    v,
                    &[
                        (0, "Parity"),
                        (1, "SERR"),
                        (2, "NoISA"),
                        (3, "VGA"),
                        (5, "MAbort"),
                        (6, ">Reset"),
                    ],
                )
            });
        }
        _ => {}
    }
    c.f(0x34, 1, "Capabilities Pointer", |v| format!("{v:02x}"));
    c.f(0x3c, 1, "Interrupt Line", |v| v.to_string());
    c.f(0x3d, 1, "Interrupt Pin", |v| match v {
        0 => "none".into(),
        1..=4 => ["A", "B", "C", "D"][v as usize - 1].into(),
        _ => format!("{v} (invalid)"),
    });
    Some(Header {
        vendor_id: uint_at(b, 0, 2)? as u16,
        device_id: uint_at(b, 2, 2)? as u16,
        revision: b[PCI_REVISION_ID],
        class: uint_at(b, 9, 3)? as u32,
        header_type: kind,
        multifunction: ht & 0x80 != 0,
        subsystem_vendor_id: (kind == 0).then(|| uint_at(b, 0x2c, 2).unwrap_or(0) as u16),
        subsystem_id: (kind == 0).then(|| uint_at(b, 0x2e, 2).unwrap_or(0) as u16),
        fields: c.fields,
    })
}

fn flags_text(v: u64, list: &[(u32, &str)]) -> String {
    list.iter()
        .map(|(b, n)| format!("{n}{}", if v >> b & 1 == 1 { '+' } else { '-' }))
        .collect::<Vec<_>>()
        .join(" ")
}

fn bar_text(v: u64) -> String {
    if v & 1 == 1 {
        format!("I/O at {:x}", v & !3)
    } else {
        let ty = match (v >> 1) & 3 {
            0 => "32-bit",
            2 => "64-bit",
            _ => "reserved type",
        };
        format!(
            "Memory at {:08x} ({ty}, {})",
            v & !0xf,
            if v & 8 != 0 { "prefetchable" } else { "non-prefetchable" }
        )
    }
}

fn issue_entry(issue: ChainIssue, extended: bool, have: usize) -> CapReport {
    let (kind, offset, from, name) = match issue {
        ChainIssue::Looped { at } => ("looped", at, None, "<chain looped>"),
        ChainIssue::Broken { at } => ("broken", at, None, "<chain broken>"),
        ChainIssue::IntoHeader { from, to } => ("into_header", to, Some(from), "<pointer into the header>"),
        ChainIssue::PastEnd { from, to } if to + if extended { 4 } else { 2 } > have => {
            ("not_in_dump", to, Some(from), "<not in the dump>")
        }
        ChainIssue::PastEnd { from, to } => ("past_end", to, Some(from), "<pointer past the end>"),
        ChainIssue::BelowExtended { from, to } => ("below_extended", to, Some(from), "<pointer below 0x100>"),
    };
    let message = match kind {
        "not_in_dump" => format!("the chain continues at {offset:#x}, beyond the {have} bytes available"),
        _ => issue.to_string(),
    };
    CapReport {
        id: None,
        offset,
        extended,
        name: name.to_string(),
        version: None,
        next: None,
        fields: Vec::new(),
        issue: Some(IssueReport { kind, from, message }),
        notes: Vec::new(),
    }
}

/// The standard chain as lspci walks it: from 0x34 (0x14 for a CardBus bridge).
fn std_chain(b: &[u8], header_type: u8) -> pcimig_config::CapChain {
    if header_type == 2 && b.len() > 0x34 {
        let mut copy = b.to_vec();
        copy[PCI_CAPABILITY_LIST] = b[0x14];
        walk_std(&copy)
    } else {
        walk_std(b)
    }
}

/// The header values the decode needs after the header is in the report.
#[derive(Clone, Copy)]
struct HeaderKey {
    vendor_id: u16,
    device_id: u16,
    class: u32,
    header_type: u8,
    subsystem_vendor_id: Option<u16>,
    subsystem_id: Option<u16>,
}

impl HeaderKey {
    fn of(h: &Header) -> Self {
        HeaderKey {
            vendor_id: h.vendor_id,
            device_id: h.device_id,
            class: h.class,
            header_type: h.header_type,
            subsystem_vendor_id: h.subsystem_vendor_id,
            subsystem_id: h.subsystem_id,
        }
    }
}

/// Decode one device: header, names, the standard chain, the extended chain (when the device
/// can have one), then what vfio-pci would show the guest.
pub fn decode(src: &ConfigSource, ids: &PciIds) -> DeviceReport {
    let b = &src.bytes;
    let mut report = DeviceReport {
        origin: src.origin.clone(),
        bdf: src.bdf.clone(),
        kind: src.kind.clone(),
        size: b.len(),
        truncated: src.truncated,
        header: header(b),
        names: Names::default(),
        capabilities: Vec::new(),
        hazards: Vec::new(),
        bar_sizes: src.bar_sizes,
        driver: src.driver.clone(),
        warnings: src.warnings.clone(),
        masks: None,
    };
    let Some(h) = report.header.as_ref().map(HeaderKey::of) else {
        report.warnings.push(format!(
            "{}: only {} bytes, fewer than the 64-byte header: nothing to decode",
            src.origin,
            b.len()
        ));
        return report;
    };
    report.names = names(ids, &h);
    if h.header_type > PCI_HEADER_TYPE_CARDBUS {
        report.warnings.push(format!(
            "unknown header type {:#04x}: capabilities are not decoded (lspci does not decode them either)",
            h.header_type
        ));
        return report;
    }
    let pcie = std_caps(b, h.header_type, &mut report);
    ext_caps(b, pcie, &mut report);
    vfio_view(src, &h, &mut report);
    report
}

/// The names pci.ids gives the device's IDs and class.
fn names(ids: &PciIds, h: &HeaderKey) -> Names {
    Names {
        vendor: ids.vendor(h.vendor_id).map(str::to_string),
        device: ids.device(h.vendor_id, h.device_id).map(str::to_string),
        subsystem_vendor: h.subsystem_vendor_id.and_then(|v| ids.vendor(v)).map(str::to_string),
        subsystem: match (h.subsystem_vendor_id, h.subsystem_id) {
            (Some(sv), Some(sd)) => ids.subsystem(h.vendor_id, h.device_id, sv, sd).map(str::to_string),
            _ => None,
        },
        class: ids
            .class((h.class >> 16) as u8, (h.class >> 8) as u8)
            .map(str::to_string),
    }
}

/// What the standard chain says about the extended one.
#[derive(Default)]
struct ExtAccess {
    /// A PCI Express or PCI-X capability: the device has extended config space.
    can_have_ext: bool,
    /// The PCI Express port type, when there is a PCI Express capability.
    pcie_type: Option<u64>,
}

/// Decode the standard chain into `report` (capabilities, VSC hazards, a broken-chain entry).
fn std_caps(b: &[u8], header_type: u8, report: &mut DeviceReport) -> ExtAccess {
    let chain = std_chain(b, header_type);
    let mut access = ExtAccess::default();
    for e in &chain.entries {
        let cap = std_cap(b, e, &mut access);
        if CapId::from(e.id as u8) == CapId::Vndr {
            report.hazards.push(vsc_hazard(b, e.offset));
        }
        report.capabilities.push(cap);
    }
    if let Some(issue) = chain.issue {
        report.capabilities.push(issue_entry(issue, false, b.len()));
    }
    access
}

/// Decode one standard capability (pciutils' show_caps switch).
fn std_cap(b: &[u8], e: &pcimig_config::CapEntry, access: &mut ExtAccess) -> CapReport {
    let id = CapId::from(e.id as u8);
    let mut c = fields::Cx::new(b, e.offset);
    let mut version = None;
    match id {
        CapId::Pm => {
            fields::pm(&mut c);
            version = c.rd(PCI_PM_PMC, 2).map(|v| (v & PM_CAP_VERSION_MASK) as u8);
        }
        CapId::Msi => fields::msi(&mut c),
        CapId::Msix => fields::msix(&mut c),
        CapId::Vndr => fields::vndr(&mut c),
        CapId::Ssvid => fields::ssvid(&mut c),
        CapId::Vpd => fields::vpd(&mut c),
        CapId::Pcix => {
            fields::pcix(&mut c);
            access.can_have_ext = true;
        }
        CapId::Exp => {
            access.pcie_type = fields::express(&mut c);
            version = c
                .rd(PCI_EXP_FLAGS, 2)
                .map(|v| (v & u64::from(PCI_EXP_FLAGS_VERS)) as u8);
            access.can_have_ext = true;
        }
        _ => {}
    }
    let mut cap = CapReport {
        id: Some(e.id),
        offset: e.offset,
        extended: false,
        name: id.display_name(),
        version,
        next: Some(e.next),
        fields: std::mem::take(&mut c.fields),
        issue: None,
        notes: Vec::new(),
    };
    if c.cut {
        cap.notes
            .push("runs past the bytes available: registers beyond them are not shown".into());
    }
    cap
}

/// The Power Management Capabilities register's Version field (PCI_PM_CAP_VER_MASK).
const PM_CAP_VERSION_MASK: u64 = 0x7;

/// A Vendor Specific Capability's payload may differ between devices and driver versions.
fn vsc_hazard(b: &[u8], offset: usize) -> Hazard {
    let len = usize::from(b.get(offset + PCI_VNDR_CAP_LEN).copied().unwrap_or(0));
    Hazard {
        kind: "vendor_specific",
        offset,
        extended: false,
        range: Some([
            offset,
            (offset + len.max(PCI_VNDR_CAP_HEADER_SIZEOF)).min(PCI_CONFIG_SPACE_SIZE),
        ]),
        checked_bytes: None,
        message: format!(
            "Vendor Specific capability at {offset:#04x} ({len} bytes): contents defined by the vendor, may differ \
             between devices, firmware or driver versions"
        ),
    }
}

/// Decode the extended chain when the device can have one; else say why bytes past 0x100 are
/// not decoded.
fn ext_caps(b: &[u8], access: ExtAccess, report: &mut DeviceReport) {
    let ext_bytes_present = b.len() > PCI_CONFIG_SPACE_SIZE;
    if access.can_have_ext && ext_bytes_present {
        let ext = walk_ext(b);
        let is_root = matches!(
            access.pcie_type.and_then(|t| u8::try_from(t).ok()),
            Some(PCI_EXP_TYPE_ROOT_PORT | PCI_EXP_TYPE_RC_EC)
        );
        for e in &ext.entries {
            report.capabilities.push(ext_cap(b, e, is_root, &mut report.hazards));
        }
        if let Some(issue) = ext.issue {
            report.capabilities.push(issue_entry(issue, true, b.len()));
        }
    } else if !access.can_have_ext && ext_bytes_present {
        let h100 = uint_at(b, PCI_CONFIG_SPACE_SIZE, 4).unwrap_or(0);
        if h100 != 0 && h100 != 0xffff_ffff {
            report.warnings.push(format!(
                "bytes at 0x100 ({h100:#010x}) are not decoded as extended capabilities: the device has no PCI Express \
                 (or PCI-X) capability, so its extended config space is not real (lspci skips it too)"
            ));
        }
    }
}

/// Capabilities vfio-pci does not show the guest (from the pcimig-vfio model with default
/// options), for a whole physical endpoint config; nothing for bridges, saved or truncated configs.
/// Also says, for each hazard's byte range, how much of it the restore check compares.
fn vfio_view(src: &ConfigSource, h: &HeaderKey, report: &mut DeviceReport) {
    if h.header_type != 0 || src.truncated.is_some() || src.kind != SourceKind::Physical {
        return;
    }
    match masks::virtualized(src) {
        Ok(dev) => {
            let checked = dev.space.checked();
            for hz in &mut report.hazards {
                if let Some([a, b]) = hz.range {
                    let n = checked
                        .get(a..b.min(checked.len()))
                        .map_or(0, |s| s.iter().filter(|&&c| c != 0).count());
                    hz.checked_bytes = Some(n);
                    hz.message.push_str(&if n == 0 {
                        " — under vfio-pci defaults these bytes are not checked on restore".to_string()
                    } else {
                        format!(
                            " — under vfio-pci defaults {n} of these {} bytes are checked on restore",
                            b - a
                        )
                    });
                }
            }
            for d in &dev.dropped {
                let name = if d.extended {
                    ExtCapId::from(d.id).display_name()
                } else {
                    CapId::from(d.id as u8).display_name()
                };
                report.hazards.push(Hazard {
                    kind: "hidden_by_vfio",
                    offset: d.offset,
                    extended: d.extended,
                    range: None,
                    checked_bytes: None,
                    message: format!(
                        "{name} at {:#x} is not visible to the guest under vfio-pci: {}",
                        d.offset, d.reason
                    ),
                });
            }
        }
        Err(e) => report.warnings.push(e.message),
    }
}

fn ext_cap(b: &[u8], e: &pcimig_config::CapEntry, is_root: bool, hazards: &mut Vec<Hazard>) -> CapReport {
    let id = ExtCapId::from(e.id);
    let mut c = fields::Cx::new(b, e.offset);
    match id {
        ExtCapId::Err => fields::aer(&mut c, is_root),
        ExtCapId::Sriov => fields::sriov(&mut c),
        ExtCapId::Ats => fields::ats(&mut c),
        ExtCapId::Pri => fields::pri(&mut c),
        ExtCapId::Pasid => fields::pasid(&mut c),
        ExtCapId::Acs => fields::acs(&mut c),
        ExtCapId::Ari => fields::ari(&mut c),
        ExtCapId::Rebar | ExtCapId::VfRebar => fields::rebar(&mut c),
        ExtCapId::L1ss => fields::l1ss(&mut c),
        ExtCapId::Ltr => fields::ltr(&mut c),
        ExtCapId::Ptm => fields::ptm(&mut c),
        ExtCapId::Dpc => fields::dpc(&mut c),
        ExtCapId::Tph => fields::tph(&mut c),
        ExtCapId::Vc | ExtCapId::Vc9 => fields::vc(&mut c),
        ExtCapId::Dsn => {
            if let Some(sn) = fields::dsn(&mut c) {
                hazards.push(Hazard {
                    kind: "device_serial_number",
                    offset: e.offset,
                    extended: true,
                    range: Some([e.offset + 4, e.offset + 12]),
                    checked_bytes: None,
                    message: format!(
                        "Device Serial Number {sn:016x} at {:#05x}: unique to this physical device, so it differs on \
                         any other device; where QEMU checks these bytes a restore onto a different device fails",
                        e.offset
                    ),
                });
            }
        }
        ExtCapId::Vndr => {
            if let Some((vid, rev, len)) = fields::vsec(&mut c) {
                hazards.push(Hazard {
                    kind: "vendor_specific",
                    offset: e.offset,
                    extended: true,
                    range: Some([e.offset, (e.offset + (len as usize).max(8)).min(PCIE_CONFIG_SPACE_SIZE)]),
                    checked_bytes: None,
                    message: format!(
                        "Vendor-Specific Extended Capability at {:#05x} (VSEC ID {vid:#06x} rev {rev}, {len} bytes): \
                         contents defined by the vendor, may differ between devices, firmware or driver versions",
                        e.offset
                    ),
                });
            }
        }
        ExtCapId::Dvsec => {
            if let Some((vendor, rev, len, dvsec_id)) = fields::dvsec(&mut c) {
                hazards.push(Hazard {
                    kind: "vendor_specific",
                    offset: e.offset,
                    extended: true,
                    range: Some([e.offset, (e.offset + (len as usize).max(10)).min(PCIE_CONFIG_SPACE_SIZE)]),
                    checked_bytes: None,
                    message: format!(
                        "Designated Vendor-Specific capability at {:#05x} (vendor {vendor:04x}, DVSEC ID {dvsec_id:#06x} \
                         rev {rev}, {len} bytes): contents defined by the vendor, may differ between devices, firmware \
                         or driver versions",
                        e.offset
                    ),
                });
            }
        }
        _ => {}
    }
    let mut cap = CapReport {
        id: Some(e.id),
        offset: e.offset,
        extended: true,
        name: id.display_name(),
        version: Some(e.version),
        next: Some(e.next),
        fields: std::mem::take(&mut c.fields),
        issue: None,
        notes: Vec::new(),
    };
    if c.cut {
        cap.notes
            .push("runs past the bytes available: registers beyond them are not shown".into());
    }
    cap
}

/// The JSON shape of a many-device source: `{"devices": [...]}`.
#[derive(Debug, Serialize)]
pub struct Devices<'a> {
    /// One report per device, in source order.
    pub devices: &'a [DeviceReport],
}

/// The vendor IDs of a source list (to load only their names from pci.ids).
pub fn vendors_of(sources: &[ConfigSource]) -> HashSet<u16> {
    sources
        .iter()
        .filter(|s| s.bytes.len() >= 2)
        .map(|s| pcimig_config::le::word(&s.bytes, PCI_VENDOR_ID))
        .collect()
}

/// Decode every device of a source list, loading pci.ids names once for all of them.
pub fn decode_all(sources: &[ConfigSource]) -> Vec<DeviceReport> {
    let ids = PciIds::load(&vendors_of(sources));
    sources.iter().map(|s| decode(s, &ids)).collect()
}
