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
use pcimig_config::le;
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
    let kind = ht & PCI_HEADER_TYPE_MASK;
    let mut c = fields::Cx::new(b, 0);
    command_status(&mut c);
    c.f(PCI_CACHE_LINE_SIZE, 1, "Cache Line Size", |v| {
        format!("{} bytes", v * 4)
    });
    c.f(PCI_LATENCY_TIMER, 1, "Latency Timer", |v| v.to_string());
    let nbars = match kind {
        PCI_HEADER_TYPE_NORMAL => PCI_NUM_BARS,
        PCI_HEADER_TYPE_BRIDGE => PCI_NUM_BARS_BRIDGE,
        _ => 0,
    };
    bars(&mut c, b, nbars);
    match kind {
        PCI_HEADER_TYPE_NORMAL => type0_regs(&mut c),
        PCI_HEADER_TYPE_BRIDGE => bridge_regs(&mut c),
        _ => {}
    }
    interrupt_regs(&mut c);
    let is_type0 = kind == PCI_HEADER_TYPE_NORMAL;
    Some(Header {
        vendor_id: le::u16_at(b, PCI_VENDOR_ID)?,
        device_id: le::u16_at(b, PCI_DEVICE_ID)?,
        revision: b[PCI_REVISION_ID],
        class: le::uint_at(b, PCI_CLASS_PROG, 3)? as u32,
        header_type: kind,
        multifunction: ht & PCI_HEADER_TYPE_MULTI_FUNCTION != 0,
        subsystem_vendor_id: is_type0.then(|| le::word(b, PCI_SUBSYSTEM_VENDOR_ID)),
        subsystem_id: is_type0.then(|| le::word(b, PCI_SUBSYSTEM_ID)),
        fields: c.fields,
    })
}

/// Command and Status (pciutils' show_htype0 common part: the flags lspci prints).
fn command_status(c: &mut fields::Cx) {
    c.f(PCI_COMMAND, 2, "Command", |v| {
        let names = [
            (PCI_COMMAND_IO, "I/O"),
            (PCI_COMMAND_MEMORY, "Mem"),
            (PCI_COMMAND_MASTER, "BusMaster"),
            (PCI_COMMAND_PARITY, "ParErr"),
            (PCI_COMMAND_SERR, "SERR"),
            (PCI_COMMAND_INTX_DISABLE, "DisINTx"),
        ];
        flags_text(v, &names)
    });
    c.f(PCI_STATUS, 2, "Status", |v| {
        let names = [
            (PCI_STATUS_INTERRUPT, "INTx"),
            (PCI_STATUS_CAP_LIST, "Cap"),
            (PCI_STATUS_66MHZ, "66MHz"),
            (PCI_STATUS_PARITY, "ParErr"),
            (PCI_STATUS_SIG_SYSTEM_ERROR, "SERR"),
            (PCI_STATUS_DETECTED_PARITY, "PERR"),
        ];
        flags_text(v, &names)
    });
}

/// The first `nbars` BARs. A 64-bit memory BAR takes the next BAR slot for its upper 32 bits
/// (as lspci shows it).
fn bars(c: &mut fields::Cx, b: &[u8], nbars: usize) {
    const BARS: [&str; PCI_NUM_BARS] = ["BAR0", "BAR1", "BAR2", "BAR3", "BAR4", "BAR5"];
    /// The low BAR bits that say "64-bit memory BAR": space (I/O or memory) and type.
    const SPACE_AND_TYPE: u32 = PCI_BASE_ADDRESS_SPACE_IO as u32 | PCI_BASE_ADDRESS_MEM_TYPE_MASK as u32;
    let mut i = 0;
    while i < nbars {
        let off = PCI_BASE_ADDRESS_0 + 4 * i;
        let is64 = le::u32_at(b, off).is_some_and(|v| v & SPACE_AND_TYPE == u32::from(PCI_BASE_ADDRESS_MEM_TYPE_64));
        if is64 && i + 1 < nbars {
            let hi = u64::from(le::u32_at(b, off + 4).unwrap_or(0));
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
}

/// The type 0 header's subsystem IDs and Expansion ROM.
fn type0_regs(c: &mut fields::Cx) {
    c.f(PCI_SUBSYSTEM_VENDOR_ID, 2, "Subsystem Vendor ID", |v| {
        format!("{v:04x}")
    });
    c.f(PCI_SUBSYSTEM_ID, 2, "Subsystem ID", |v| format!("{v:04x}"));
    c.f(PCI_ROM_ADDRESS, 4, "Expansion ROM Base Address", |v| {
        format!(
            "{:08x} [{}]",
            v & u64::from(PCI_ROM_ADDRESS_MASK),
            if v & u64::from(PCI_ROM_ADDRESS_ENABLE) != 0 {
                "enabled"
            } else {
                "disabled"
            }
        )
    });
}

/// The type 1 (bridge) header's bus numbers, windows, Expansion ROM and Bridge Control
/// (pciutils' show_htype1).
fn bridge_regs(c: &mut fields::Cx) {
    c.f(PCI_PRIMARY_BUS, 1, "Primary Bus Number", |v| format!("{v:02x}"));
    c.f(PCI_SECONDARY_BUS, 1, "Secondary Bus Number", |v| format!("{v:02x}"));
    c.f(PCI_SUBORDINATE_BUS, 1, "Subordinate Bus Number", |v| format!("{v:02x}"));
    c.f(PCI_IO_BASE, 2, "I/O Base/Limit", |v| format!("{v:04x}"));
    c.f(PCI_MEMORY_BASE, 4, "Memory Base/Limit", |v| format!("{v:08x}"));
    c.f(PCI_PREF_MEMORY_BASE, 4, "Prefetchable Memory Base/Limit", |v| {
        format!("{v:08x}")
    });
    c.f(PCI_ROM_ADDRESS1, 4, "Expansion ROM Base Address", |v| {
        format!("{v:08x}")
    });
    c.f(PCI_BRIDGE_CONTROL, 2, "Bridge Control", |v| {
        flags_text(
            v,
            &[
                (PCI_BRIDGE_CTL_PARITY, "Parity"),
                (PCI_BRIDGE_CTL_SERR, "SERR"),
                (PCI_BRIDGE_CTL_ISA, "NoISA"),
                (PCI_BRIDGE_CTL_VGA, "VGA"),
                (PCI_BRIDGE_CTL_MASTER_ABORT, "MAbort"),
                (PCI_BRIDGE_CTL_BUS_RESET, ">Reset"),
            ],
        )
    });
}

/// Capabilities Pointer, Interrupt Line and Pin.
fn interrupt_regs(c: &mut fields::Cx) {
    c.f(PCI_CAPABILITY_LIST, 1, "Capabilities Pointer", |v| format!("{v:02x}"));
    c.f(PCI_INTERRUPT_LINE, 1, "Interrupt Line", |v| v.to_string());
    c.f(PCI_INTERRUPT_PIN, 1, "Interrupt Pin", |v| match v {
        0 => "none".into(),
        1..=4 => ["A", "B", "C", "D"][v as usize - 1].into(),
        _ => format!("{v} (invalid)"),
    });
}

/// Flags as lspci writes them (`Name+` / `Name-`), each named by its pci_regs.h mask.
fn flags_text(v: u64, list: &[(u16, &str)]) -> String {
    list.iter()
        .map(|&(m, n)| format!("{n}{}", if v & u64::from(m) != 0 { '+' } else { '-' }))
        .collect::<Vec<_>>()
        .join(" ")
}

fn bar_text(v: u64) -> String {
    if v & u64::from(PCI_BASE_ADDRESS_SPACE_IO) != 0 {
        format!("I/O at {:x}", v & u64::from(PCI_BASE_ADDRESS_IO_MASK))
    } else {
        let ty = match (v as u8) & PCI_BASE_ADDRESS_MEM_TYPE_MASK {
            0 => "32-bit",
            PCI_BASE_ADDRESS_MEM_TYPE_64 => "64-bit",
            _ => "reserved type",
        };
        format!(
            "Memory at {:08x} ({ty}, {})",
            v & !u64::from(PCI_BASE_ADDRESS_MEM_FLAGS),
            if v & u64::from(PCI_BASE_ADDRESS_MEM_PREFETCH) != 0 {
                "prefetchable"
            } else {
                "non-prefetchable"
            }
        )
    }
}

fn issue_entry(issue: ChainIssue, extended: bool, have: usize) -> CapReport {
    let (kind, offset, from, name) = match issue {
        ChainIssue::Looped { at } => ("looped", at, None, "<chain looped>"),
        ChainIssue::Broken { at } => ("broken", at, None, "<chain broken>"),
        ChainIssue::IntoHeader { from, to } => ("into_header", to, Some(from), "<pointer into the header>"),
        ChainIssue::PastEnd { from, to } if to + cap_header_len(extended) > have => {
            ("not_in_dump", to, Some(from), "<not in the dump>")
        }
        ChainIssue::PastEnd { from, to } => ("past_end", to, Some(from), "<pointer past the end>"),
        ChainIssue::BelowExtended { from, to } => ("below_extended", to, Some(from), "<pointer below 0x100>"),
        ChainIssue::TooManySteps { at, .. } => ("too_many_steps", at, None, "<chain too long>"),
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

/// The bytes of a capability header: ID and next pointer (standard), or the 32-bit extended
/// header.
fn cap_header_len(extended: bool) -> usize {
    if extended {
        PCI_EXT_CAP_HEADER_SIZEOF
    } else {
        PCI_CAP_LIST_NEXT + 1
    }
}

/// The standard chain as lspci walks it: from 0x34 (0x14 for a CardBus bridge).
fn std_chain(b: &[u8], header_type: u8) -> pcimig_config::CapChain {
    if header_type == PCI_HEADER_TYPE_CARDBUS && b.len() > PCI_CAPABILITY_LIST {
        let mut copy = b.to_vec();
        copy[PCI_CAPABILITY_LIST] = b[PCI_CB_CAPABILITY_LIST];
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
            version = c.rd(PCI_PM_PMC, 2).map(|v| (v & u64::from(PCI_PM_CAP_VER_MASK)) as u8);
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
    cap_report(e, false, id.display_name(), version, c)
}

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
        let h100 = le::long(b, PCI_CONFIG_SPACE_SIZE);
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

/// Decode one extended capability (pciutils' show_ext_caps switch), with the hazard it carries.
fn ext_cap(b: &[u8], e: &pcimig_config::CapEntry, is_root: bool, hazards: &mut Vec<Hazard>) -> CapReport {
    let id = ExtCapId::from(e.id);
    let mut c = fields::Cx::new(b, e.offset);
    if let Some(h) = ext_cap_regs(&mut c, id, e.offset, is_root) {
        hazards.push(h);
    }
    cap_report(e, true, id.display_name(), Some(e.version), c)
}

/// The registers of one extended capability, one decoder per capability; the Device Serial
/// Number and vendor-specific capabilities return their hazard.
fn ext_cap_regs(c: &mut fields::Cx, id: ExtCapId, offset: usize, is_root: bool) -> Option<Hazard> {
    match id {
        ExtCapId::Err => fields::aer(c, is_root),
        ExtCapId::Sriov => fields::sriov(c),
        ExtCapId::Ats => fields::ats(c),
        ExtCapId::Pri => fields::pri(c),
        ExtCapId::Pasid => fields::pasid(c),
        ExtCapId::Acs => fields::acs(c),
        ExtCapId::Ari => fields::ari(c),
        ExtCapId::Rebar | ExtCapId::VfRebar => fields::rebar(c),
        ExtCapId::L1ss => fields::l1ss(c),
        ExtCapId::Ltr => fields::ltr(c),
        ExtCapId::Ptm => fields::ptm(c),
        ExtCapId::Dpc => fields::dpc(c),
        ExtCapId::Tph => fields::tph(c),
        ExtCapId::Vc | ExtCapId::Vc9 => fields::vc(c),
        ExtCapId::Dsn => return fields::dsn(c).map(|sn| dsn_hazard(offset, sn)),
        ExtCapId::Vndr => return fields::vsec(c).map(|h| vsec_hazard(offset, h)),
        ExtCapId::Dvsec => return fields::dvsec(c).map(|h| dvsec_hazard(offset, h)),
        _ => {}
    }
    None
}

/// A Device Serial Number is unique to one physical device.
fn dsn_hazard(offset: usize, sn: u64) -> Hazard {
    Hazard {
        kind: "device_serial_number",
        offset,
        extended: true,
        range: Some([offset + PCI_DSN_SERIAL, offset + PCI_EXT_CAP_DSN_SIZEOF]),
        checked_bytes: None,
        message: format!(
            "Device Serial Number {sn:016x} at {offset:#05x}: unique to this physical device, so it differs on \
             any other device; where QEMU checks these bytes a restore onto a different device fails"
        ),
    }
}

/// A Vendor-Specific Extended Capability's contents are the vendor's (range: at least its
/// headers).
fn vsec_hazard(offset: usize, (vid, rev, len): (u64, u64, u64)) -> Hazard {
    Hazard {
        kind: "vendor_specific",
        offset,
        extended: true,
        range: Some([
            offset,
            (offset + (len as usize).max(PCI_VNDR_PAYLOAD)).min(PCIE_CONFIG_SPACE_SIZE),
        ]),
        checked_bytes: None,
        message: format!(
            "Vendor-Specific Extended Capability at {offset:#05x} (VSEC ID {vid:#06x} rev {rev}, {len} bytes): \
             contents defined by the vendor, may differ between devices, firmware or driver versions"
        ),
    }
}

/// A Designated Vendor-Specific capability's contents are the vendor's (range: at least its
/// headers).
fn dvsec_hazard(offset: usize, (vendor, rev, len, dvsec_id): (u64, u64, u64, u64)) -> Hazard {
    Hazard {
        kind: "vendor_specific",
        offset,
        extended: true,
        range: Some([
            offset,
            (offset + (len as usize).max(PCI_DVSEC_PAYLOAD)).min(PCIE_CONFIG_SPACE_SIZE),
        ]),
        checked_bytes: None,
        message: format!(
            "Designated Vendor-Specific capability at {offset:#05x} (vendor {vendor:04x}, DVSEC ID {dvsec_id:#06x} \
             rev {rev}, {len} bytes): contents defined by the vendor, may differ between devices, firmware \
             or driver versions"
        ),
    }
}

/// The report of one decoded capability, with a note when it runs past the bytes available.
fn cap_report(
    e: &pcimig_config::CapEntry,
    extended: bool,
    name: String,
    version: Option<u8>,
    mut c: fields::Cx,
) -> CapReport {
    let mut cap = CapReport {
        id: Some(e.id),
        offset: e.offset,
        extended,
        name,
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
