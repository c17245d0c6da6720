//! Where a config byte is, named after the PCI spec's registers — a header register
//! (`Device ID`), or a capability and the field inside it (`MSI-X @0xb0 Message Control`,
//! `Vendor Specific (09) @0x40 +0x05 payload`). The names come from the one register map,
//! [`regmap`], shared by `show`, `check` and every report.

use crate::caps::{walk_ext, walk_std};
use crate::ids::{AnyCapId, CapId, ExtCapId};
use crate::le;
use crate::regmap;
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

/// Name of a type 0 header register byte (from [`regmap::TYPE0_HEADER`]; empty past the
/// header).
pub fn type0_register(offset: usize) -> &'static str {
    regmap::TYPE0_HEADER.register_at(offset).map_or("", |r| r.name)
}

/// Name of a type 1 (bridge) header register byte (from [`regmap::TYPE1_HEADER`]).
pub fn type1_register(offset: usize) -> &'static str {
    regmap::TYPE1_HEADER.register_at(offset).map_or("", |r| r.name)
}

/// Name of the field at `rel` inside a standard capability with ID `id`, from the register map.
/// `cap` holds the capability's bytes from its header on (to tell MSI layouts apart).
pub fn std_cap_field(id: CapId, rel: usize, cap: &[u8]) -> String {
    regmap::name_of(regmap::std_cap_naming(id, rel, cap), rel)
}

/// Name of the field at `rel` inside an extended capability with ID `id`, from the register map.
pub fn ext_cap_field(id: ExtCapId, rel: usize) -> String {
    regmap::name_of(regmap::ext_cap_naming(id, rel), rel)
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
            let reg = regmap::header(self.header_kind())
                .register_at(offset)
                .map_or("", |r| r.name);
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
