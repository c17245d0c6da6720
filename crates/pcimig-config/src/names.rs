//! The register map: where a config byte is, named after the PCI spec's registers — a header
//! register (`Device ID`), or a capability and the field inside it
//! (`MSI-X @0xb0 Message Control`, `Vendor Specific (09) @0x40 +0x05 payload`).
//! One map, shared by `show`, `check` and every report.

use crate::caps::{walk_ext, walk_std};
use crate::ids::{AnyCapId, CapId, ExtCapId};
use crate::le;
use crate::regs::*;
use crate::space::ConfigSpace;
use std::fmt;

/// The capability a byte belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CapLocation {
    /// Capability ID.
    pub id: u16,
    /// Extended capability.
    pub extended: bool,
    /// Offset of the capability header.
    pub offset: usize,
    /// Report name (`MSI-X`, `Vendor Specific (09)`).
    pub name: String,
}

impl CapLocation {
    /// The location of a capability with ID `id` whose header is at `offset`, named as reports
    /// name it.
    pub fn new(id: impl Into<AnyCapId>, offset: usize) -> Self {
        let id = id.into();
        CapLocation {
            id: id.value(),
            extended: id.is_extended(),
            offset,
            name: id.display_name(),
        }
    }

    /// The typed ID.
    pub fn cap_id(&self) -> AnyCapId {
        AnyCapId::from_raw(self.id, self.extended)
    }
}

/// Where a config byte is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Location {
    /// The register: a header register name, or the field inside the capability.
    pub register: String,
    /// The capability, for a byte inside one.
    pub capability: Option<CapLocation>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.capability {
            None => f.write_str(&self.register),
            Some(c) if c.extended => write!(f, "{} @0x{:03x} {}", c.name, c.offset, self.register),
            Some(c) => write!(f, "{} @0x{:02x} {}", c.name, c.offset, self.register),
        }
    }
}

/// Name of a type 0 header register byte.
pub fn type0_register(offset: usize) -> &'static str {
    match offset {
        0x00..=0x01 => "Vendor ID",
        0x02..=0x03 => "Device ID",
        0x04..=0x05 => "Command",
        0x06..=0x07 => "Status",
        0x08 => "Revision ID",
        0x09..=0x0b => "Class Code",
        0x0c => "Cache Line Size",
        0x0d => "Latency Timer",
        0x0e => "Header Type",
        0x0f => "BIST",
        0x10..=0x13 => "BAR0",
        0x14..=0x17 => "BAR1",
        0x18..=0x1b => "BAR2",
        0x1c..=0x1f => "BAR3",
        0x20..=0x23 => "BAR4",
        0x24..=0x27 => "BAR5",
        0x28..=0x2b => "CardBus CIS Pointer",
        0x2c..=0x2d => "Subsystem Vendor ID",
        0x2e..=0x2f => "Subsystem ID",
        0x30..=0x33 => "Expansion ROM Base Address",
        0x34 => "Capabilities Pointer",
        0x35..=0x3b => "Reserved",
        0x3c => "Interrupt Line",
        0x3d => "Interrupt Pin",
        0x3e => "Min_Gnt",
        0x3f => "Max_Lat",
        _ => "",
    }
}

/// Name of a type 1 (bridge) header register byte.
pub fn type1_register(offset: usize) -> &'static str {
    match offset {
        0x10..=0x13 => "BAR0",
        0x14..=0x17 => "BAR1",
        0x18 => "Primary Bus Number",
        0x19 => "Secondary Bus Number",
        0x1a => "Subordinate Bus Number",
        0x1b => "Secondary Latency Timer",
        0x1c => "I/O Base",
        0x1d => "I/O Limit",
        0x1e..=0x1f => "Secondary Status",
        0x20..=0x21 => "Memory Base",
        0x22..=0x23 => "Memory Limit",
        0x24..=0x25 => "Prefetchable Memory Base",
        0x26..=0x27 => "Prefetchable Memory Limit",
        0x28..=0x2b => "Prefetchable Base Upper 32 Bits",
        0x2c..=0x2f => "Prefetchable Limit Upper 32 Bits",
        0x30..=0x31 => "I/O Base Upper 16 Bits",
        0x32..=0x33 => "I/O Limit Upper 16 Bits",
        0x35..=0x37 => "Reserved",
        0x38..=0x3b => "Expansion ROM Base Address",
        0x3e..=0x3f => "Bridge Control",
        other => type0_register(other),
    }
}

fn payload(rel: usize) -> String {
    format!("+0x{rel:02x} payload")
}

/// Name of the field at `rel` inside a standard capability with ID `id`. `cap` holds the
/// capability's bytes from its header on (to tell MSI layouts apart).
pub fn std_cap_field(id: CapId, rel: usize, cap: &[u8]) -> String {
    let named = match (id, rel) {
        (_, 0) => Some("Capability ID"),
        (_, 1) => Some("Next Pointer"),
        (CapId::Pm, 2..=3) => Some("PMC"),
        (CapId::Pm, 4..=5) => Some("PMCSR"),
        (CapId::Pm, 6) => Some("PMCSR_BSE"),
        (CapId::Pm, 7) => Some("Data"),
        (CapId::Msi, _) => {
            let flags = le::u16_at(cap, PCI_MSI_FLAGS).unwrap_or(0);
            let is64 = flags & PCI_MSI_FLAGS_64BIT != 0;
            let (data, mask) = if is64 {
                (PCI_MSI_DATA_64, PCI_MSI_MASK_64)
            } else {
                (PCI_MSI_DATA_32, PCI_MSI_MASK_32)
            };
            match rel {
                2..=3 => Some("Message Control"),
                4..=7 => Some("Message Address"),
                8..=11 if is64 => Some("Message Upper Address"),
                r if r == data || r == data + 1 => Some("Message Data"),
                r if r == data + 2 || r == data + 3 => Some("Extended Message Data"),
                r if (mask..mask + 4).contains(&r) && flags & PCI_MSI_FLAGS_MASKBIT != 0 => Some("Mask Bits"),
                r if (mask + 4..mask + 8).contains(&r) && flags & PCI_MSI_FLAGS_MASKBIT != 0 => Some("Pending Bits"),
                _ => None,
            }
        }
        (CapId::Msix, 2..=3) => Some("Message Control"),
        (CapId::Msix, 4..=7) => Some("Table Offset/BIR"),
        (CapId::Msix, 8..=11) => Some("PBA Offset/BIR"),
        (CapId::Exp, r) => match r {
            0x02..=0x03 => Some("PCIe Capabilities"),
            0x04..=0x07 => Some("Device Capabilities"),
            0x08..=0x09 => Some("Device Control"),
            0x0a..=0x0b => Some("Device Status"),
            0x0c..=0x0f => Some("Link Capabilities"),
            0x10..=0x11 => Some("Link Control"),
            0x12..=0x13 => Some("Link Status"),
            0x14..=0x17 => Some("Slot Capabilities"),
            0x18..=0x19 => Some("Slot Control"),
            0x1a..=0x1b => Some("Slot Status"),
            0x1c..=0x1d => Some("Root Control"),
            0x1e..=0x1f => Some("Root Capabilities"),
            0x20..=0x23 => Some("Root Status"),
            0x24..=0x27 => Some("Device Capabilities 2"),
            0x28..=0x29 => Some("Device Control 2"),
            0x2a..=0x2b => Some("Device Status 2"),
            0x2c..=0x2f => Some("Link Capabilities 2"),
            0x30..=0x31 => Some("Link Control 2"),
            0x32..=0x33 => Some("Link Status 2"),
            0x34..=0x37 => Some("Slot Capabilities 2"),
            0x38..=0x39 => Some("Slot Control 2"),
            0x3a..=0x3b => Some("Slot Status 2"),
            _ => None,
        },
        (CapId::Vndr, 2) => Some("Length"),
        (CapId::Vndr, r) => return payload(r),
        (CapId::Ssvid, 4..=5) => Some("Subsystem Vendor ID"),
        (CapId::Ssvid, 6..=7) => Some("Subsystem ID"),
        (CapId::Af, 2) => Some("Length"),
        (CapId::Af, 3) => Some("AF Capabilities"),
        (CapId::Af, 4) => Some("AF Control"),
        (CapId::Af, 5) => Some("AF Status"),
        (CapId::Vpd, 2..=3) => Some("VPD Address"),
        (CapId::Vpd, 4..=7) => Some("VPD Data"),
        _ => None,
    };
    match named {
        Some(n) => n.to_string(),
        None => format!("+0x{rel:02x}"),
    }
}

/// Name of the field at `rel` inside an extended capability with ID `id`.
pub fn ext_cap_field(id: ExtCapId, rel: usize) -> String {
    let named = match (id, rel) {
        (_, 0..=3) => Some("Extended Capability Header"),
        (ExtCapId::Err, r) => match r {
            0x04..=0x07 => Some("Uncorrectable Error Status"),
            0x08..=0x0b => Some("Uncorrectable Error Mask"),
            0x0c..=0x0f => Some("Uncorrectable Error Severity"),
            0x10..=0x13 => Some("Correctable Error Status"),
            0x14..=0x17 => Some("Correctable Error Mask"),
            0x18..=0x1b => Some("Advanced Error Capabilities and Control"),
            0x1c..=0x2b => Some("Header Log"),
            0x2c..=0x2f => Some("Root Error Command"),
            0x30..=0x33 => Some("Root Error Status"),
            0x34..=0x37 => Some("Error Source Identification"),
            0x38..=0x47 => Some("TLP Prefix Log"),
            _ => None,
        },
        (ExtCapId::Dsn, 4..=11) => Some("Serial Number"),
        (ExtCapId::Vndr, 4..=7) => Some("VSEC Header"),
        (ExtCapId::Vndr, r) => return payload(r),
        (ExtCapId::Dvsec, 4..=7) => Some("DVSEC Header 1"),
        (ExtCapId::Dvsec, 8..=9) => Some("DVSEC Header 2"),
        (ExtCapId::Dvsec, r) => return payload(r),
        (ExtCapId::Acs, 4..=5) => Some("ACS Capability"),
        (ExtCapId::Acs, 6..=7) => Some("ACS Control"),
        (ExtCapId::Acs, _) => Some("Egress Control Vector"),
        (ExtCapId::Ari, 4..=5) => Some("ARI Capability"),
        (ExtCapId::Ari, 6..=7) => Some("ARI Control"),
        (ExtCapId::Ats, 4..=5) => Some("ATS Capability"),
        (ExtCapId::Ats, 6..=7) => Some("ATS Control"),
        (ExtCapId::Sriov, r) => match r {
            0x04..=0x07 => Some("SR-IOV Capabilities"),
            0x08..=0x09 => Some("SR-IOV Control"),
            0x0a..=0x0b => Some("SR-IOV Status"),
            0x0c..=0x0d => Some("InitialVFs"),
            0x0e..=0x0f => Some("TotalVFs"),
            0x10..=0x11 => Some("NumVFs"),
            0x12 => Some("Function Dependency Link"),
            0x14..=0x15 => Some("First VF Offset"),
            0x16..=0x17 => Some("VF Stride"),
            0x1a..=0x1b => Some("VF Device ID"),
            0x1c..=0x1f => Some("Supported Page Sizes"),
            0x20..=0x23 => Some("System Page Size"),
            0x24..=0x3b => Some("VF BARs"),
            0x3c..=0x3f => Some("VF Migration State Array Offset"),
            _ => None,
        },
        (ExtCapId::Rebar, r) if r >= 4 => Some(if (r - 4) % 8 < 4 {
            "Resizable BAR Capability"
        } else {
            "Resizable BAR Control"
        }),
        (ExtCapId::Pasid, 4..=5) => Some("PASID Capability"),
        (ExtCapId::Pasid, 6..=7) => Some("PASID Control"),
        (ExtCapId::Pri, 4..=5) => Some("PRI Control"),
        (ExtCapId::Pri, 6..=7) => Some("PRI Status"),
        (ExtCapId::Pri, 8..=11) => Some("Outstanding Page Request Capacity"),
        (ExtCapId::Pri, 12..=15) => Some("Outstanding Page Request Allocation"),
        (ExtCapId::Ltr, 4..=5) => Some("Max Snoop Latency"),
        (ExtCapId::Ltr, 6..=7) => Some("Max No-Snoop Latency"),
        (ExtCapId::L1ss, 4..=7) => Some("L1 PM Substates Capabilities"),
        (ExtCapId::L1ss, 8..=11) => Some("L1 PM Substates Control 1"),
        (ExtCapId::L1ss, 12..=15) => Some("L1 PM Substates Control 2"),
        _ => None,
    };
    match named {
        Some(n) => n.to_string(),
        None => format!("+0x{rel:02x}"),
    }
}

fn std_loc(space_config: &[u8], id: u8, cap_off: usize, offset: usize) -> Location {
    let cap = &space_config[cap_off..space_config.len().min(PCI_CONFIG_SPACE_SIZE)];
    Location {
        register: std_cap_field(CapId::from(id), offset - cap_off, cap),
        capability: Some(CapLocation::new(CapId::from(id), cap_off)),
    }
}

fn ext_loc(id: u16, cap_off: usize, offset: usize) -> Location {
    Location {
        register: ext_cap_field(ExtCapId::from(id), offset - cap_off),
        capability: Some(CapLocation::new(ExtCapId::from(id), cap_off)),
    }
}

/// Size of each capability on a walked chain by address: distance to the next capability by
/// address, or to the end of its area (0x100 standard, `limit` extended) — the way vfio sizes
/// capabilities.
fn sized_by_address(offsets: &[usize], limit: usize) -> Vec<(usize, usize)> {
    let mut sorted = offsets.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    sorted
        .iter()
        .enumerate()
        .map(|(i, &o)| (o, sorted.get(i + 1).copied().unwrap_or(limit)))
        .collect()
}

impl ConfigSpace {
    /// Where byte `offset` is: the capability the model added over it (its recorded range),
    /// else the capability on the chain in the config bytes whose by-address range covers it,
    /// else the header register (or `device-specific` / `extended config` for an unclaimed byte).
    pub fn locate(&self, offset: usize) -> Location {
        if offset < PCI_CONFIG_HEADER_SIZE {
            let reg = match self.header_kind() {
                crate::header::HeaderKind::Type0 => type0_register(offset),
                crate::header::HeaderKind::Type1 => type1_register(offset),
            };
            return Location {
                register: reg.to_string(),
                capability: None,
            };
        }
        // Capabilities the model added (the ranges QEMU set masks over). The latest added wins.
        if let Some(r) = self.caps.iter().rev().find(|r| r.range().contains(&offset)) {
            return if r.extended() {
                let id = le::word(&self.config, r.offset);
                ext_loc(id, r.offset, offset)
            } else {
                std_loc(&self.config, self.config[r.offset], r.offset, offset)
            };
        }
        if !self.caps.is_empty() {
            // A modelled device: a byte outside every capability it added is unclaimed.
            return unclaimed(offset);
        }
        locate_in_bytes(&self.config, offset)
    }
}

/// Where byte `offset` of a raw config image is, from the chains in the bytes themselves (no
/// model): each capability covers the bytes up to the next capability by address.
pub fn locate_in_bytes(config: &[u8], offset: usize) -> Location {
    if offset < PCI_CONFIG_HEADER_SIZE {
        let is_bridge = config
            .get(PCI_HEADER_TYPE)
            .is_some_and(|h| h & PCI_HEADER_TYPE_MASK == PCI_HEADER_TYPE_BRIDGE);
        let reg = if is_bridge {
            type1_register(offset)
        } else {
            type0_register(offset)
        };
        return Location {
            register: reg.to_string(),
            capability: None,
        };
    }
    if offset < PCI_CONFIG_SPACE_SIZE {
        let chain = walk_std(config);
        let offs: Vec<usize> = chain.entries.iter().map(|e| e.offset).collect();
        for (o, end) in sized_by_address(&offs, PCI_CONFIG_SPACE_SIZE) {
            if (o..end).contains(&offset) {
                return std_loc(config, config[o], o, offset);
            }
        }
        return unclaimed(offset);
    }
    let chain = walk_ext(config);
    let offs: Vec<usize> = chain.entries.iter().map(|e| e.offset).collect();
    for (o, end) in sized_by_address(&offs, config.len()) {
        if (o..end).contains(&offset) {
            let id = chain.entries.iter().find(|e| e.offset == o).map_or(0, |e| e.id);
            return ext_loc(id, o, offset);
        }
    }
    unclaimed(offset)
}

fn unclaimed(offset: usize) -> Location {
    let register = if offset < PCI_CONFIG_SPACE_SIZE {
        format!("device-specific 0x{offset:02x}")
    } else {
        format!("extended config 0x{offset:03x}")
    };
    Location {
        register,
        capability: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::{DeviceIdentity, DeviceParams, HeaderKind};
    use crate::origin::Preset;
    use crate::space::ConfigSize;

    #[test]
    fn header_bytes_are_named_by_register() {
        let s = ConfigSpace::zeroed(ConfigSize::Conventional);
        assert_eq!(s.locate(0x02).to_string(), "Device ID");
        assert_eq!(s.locate(0x0a).to_string(), "Class Code");
        assert_eq!(s.locate(0x34).to_string(), "Capabilities Pointer");
        assert_eq!(s.locate(0x2c).to_string(), "Subsystem Vendor ID");
        assert_eq!(type1_register(0x1c), "I/O Base");
        assert_eq!(type1_register(0x3e), "Bridge Control");
        assert_eq!(type1_register(0x02), "Device ID");
    }

    #[test]
    fn capability_bytes_are_named_by_capability_and_field() {
        let mut s = ConfigSpace::new_device(&DeviceParams {
            size: ConfigSize::Express,
            header: HeaderKind::Type0,
            identity: DeviceIdentity::default(),
            multifunction: false,
        });
        s.add_capability(CapId::Vndr, 0x40, 0x10, Preset::PciAddCapability)
            .unwrap();
        s.msix_init(
            0xb0,
            &crate::presets::MsixLayout {
                nentries: 4,
                table_bar: 0,
                table_offset: 0,
                pba_bar: 0,
                pba_offset: 0x800,
                bar_sizes: None,
            },
        )
        .unwrap();
        s.msi_init(0x50, 1, true, true).unwrap();
        s.dsn_init(0x100, 7).unwrap();
        assert_eq!(s.locate(0x45).to_string(), "Vendor Specific (09) @0x40 +0x05 payload");
        assert_eq!(s.locate(0x42).to_string(), "Vendor Specific (09) @0x40 Length");
        assert_eq!(s.locate(0xb2).to_string(), "MSI-X @0xb0 Message Control");
        assert_eq!(s.locate(0x5c).to_string(), "MSI @0x50 Message Data");
        assert_eq!(s.locate(0x64).to_string(), "MSI @0x50 Pending Bits");
        assert_eq!(s.locate(0x104).to_string(), "Device Serial Number @0x100 Serial Number");
        assert_eq!(s.locate(0x80).to_string(), "device-specific 0x80");
        assert_eq!(s.locate(0x200).to_string(), "extended config 0x200");
        let l = s.locate(0x45);
        assert_eq!(l.capability.unwrap().id, 9);
    }

    #[test]
    fn raw_bytes_are_located_by_their_chains() {
        let mut c = vec![0u8; 4096];
        c[6] = 0x10;
        c[0x34] = 0x60;
        c[0x60] = 0x10;
        c[0x61] = 0x40;
        c[0x40] = 0x01;
        c[0x100..0x104].copy_from_slice(&0x2000_000bu32.to_le_bytes());
        c[0x200..0x204].copy_from_slice(&0x0001_0003u32.to_le_bytes());
        assert_eq!(locate_in_bytes(&c, 0x48).to_string(), "Power Management @0x40 +0x08");
        assert_eq!(locate_in_bytes(&c, 0x6a).to_string(), "PCI Express @0x60 Device Status");
        assert_eq!(
            locate_in_bytes(&c, 0x1f0).to_string(),
            "Vendor Specific Extended (000b) @0x100 +0xf0 payload"
        );
        assert_eq!(
            locate_in_bytes(&c, 0x208).to_string(),
            "Device Serial Number @0x200 Serial Number"
        );
        assert_eq!(locate_in_bytes(&c, 0x3f).to_string(), "Max_Lat");
    }
}
