//! Naming the config offset of QEMU's `Bad config data` line when only the log is known.
//!
//! The header (0x00..0x40) is fixed by the PCI spec: its register is certain once the header
//! type is (type 1 for QEMU's bridges and ports, which the section idstr names). Past the header
//! the capability layout is the device's: unknown in general, but fixed for QEMU's emulated
//! devices whose realize places every capability at a constant offset. [`REFERENCE_LAYOUTS`]
//! holds those layouts (the offsets of the realize functions of pcimig-qemu's device table, which
//! mirror QEMU's `*_OFFSET` constants); the byte is then named through the one register map by
//! building a config with that chain and locating the byte in it
//! ([`pcimig_config::locate_in_bytes`]).

use pcimig_config::regmap;
use pcimig_config::regs::*;
use pcimig_config::{locate_in_bytes, CapId, ExtCapId, HeaderKind, Location};
use serde::Serialize;

/// How sure a name is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Certainty {
    /// A header register (fixed by the spec), the header type known.
    Header,
    /// A header register, the header type not known: named as type 0, the type 1 name given too.
    HeaderTypeUnknown,
    /// From the fixed capability layout of the QEMU device model the idstr names.
    DeviceModel,
    /// From the device's config bytes in the saved stream (`--stream`).
    SavedConfig,
    /// From the destination model the check built (`--stream` and `--dest`).
    DestinationModel,
    /// Past the header of a device whose layout is not known from the log.
    Unknown,
}

/// The register behind a config offset, and how it was known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Named {
    /// `Device ID`, or `PCI Express @0xe0 Link Capabilities`; empty when unknown.
    pub register: String,
    /// The capability, for a byte inside one (`PCI Express`), with its header offset.
    pub capability: Option<String>,
    /// The capability ID (`0x10`, extended `0x0003`), when in a capability.
    pub capability_id: Option<String>,
    /// How sure the name is.
    pub certainty: Certainty,
    /// What else it could be (the type 1 name of a header byte of unknown header type), or
    /// why it is unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Named {
    /// A name from a located byte.
    pub fn from_location(loc: &Location, certainty: Certainty) -> Named {
        Named {
            register: loc.to_string(),
            capability: loc.capability.as_ref().map(|c| c.name.clone()),
            capability_id: loc.capability.as_ref().map(|c| {
                if c.extended {
                    format!("{:#06x}", c.id)
                } else {
                    format!("{:#04x}", c.id)
                }
            }),
            certainty,
            note: None,
        }
    }
}

/// A capability of a reference layout at its offset.
#[derive(Debug, Clone, Copy)]
enum Cap {
    /// A standard capability, with the Message Control flags an MSI capability's layout follows.
    Std(CapId, usize, u16),
    /// An extended capability.
    Ext(ExtCapId, usize),
}

const fn std(id: CapId, offset: usize) -> Cap {
    Cap::Std(id, offset, 0)
}

const fn msi(offset: usize, flags: u16) -> Cap {
    Cap::Std(CapId::Msi, offset, flags)
}

const fn ext(id: ExtCapId, offset: usize) -> Cap {
    Cap::Ext(id, offset)
}

/// A QEMU device model whose capability layout is fixed.
#[derive(Debug, Clone, Copy)]
pub struct ReferenceLayout {
    /// The vmsd name (the section idstr after its `/`).
    pub vmsd: &'static str,
    /// The QEMU type.
    pub type_name: &'static str,
    header: HeaderKind,
    caps: &'static [Cap],
}

/// The layouts of QEMU's emulated devices that place every capability at a fixed offset, as
/// pcimig-qemu's device table realizes them (QEMU 7.2 … 11.1 lay them out alike): e1000e
/// (`e1000e_pci_realize`: E1000E_MSIX_CAP_ID_OFFSET 0xa0, E1000E_PMRB_OFFSET 0xc8,
/// E1000E_MSI_CAP_OFFSET 0xd0, E1000E_PCIE_OFFSET 0xe0, AER 0x100, DSN 0x140), pcie-root-port
/// (`gen_rp_realize`: SSVID, MSI-X, PCIe placed from 0x40; AER 0x100, ACS 0x148), ioh3420
/// (IOH_EP_SSVID_OFFSET 0x40, IOH_EP_MSI_OFFSET 0x60, IOH_EP_EXP_OFFSET 0x90, AER 0x100) and
/// pci-bridge (SHPC, slot ID, MSI placed from 0x40). Devices whose layout follows their
/// properties or slot (virtio-pci, xHCI, vmxnet3) are not listed.
pub const REFERENCE_LAYOUTS: &[ReferenceLayout] = &[
    ReferenceLayout {
        vmsd: "e1000e",
        type_name: "e1000e",
        header: HeaderKind::Type0,
        caps: &[
            std(CapId::Msix, 0xa0),
            std(CapId::Pm, 0xc8),
            msi(0xd0, PCI_MSI_FLAGS_64BIT),
            std(CapId::Exp, 0xe0),
            ext(ExtCapId::Err, 0x100),
            ext(ExtCapId::Dsn, 0x140),
        ],
    },
    ReferenceLayout {
        vmsd: "pcie-root-port",
        type_name: "pcie-root-port",
        header: HeaderKind::Type1,
        caps: &[
            std(CapId::Ssvid, 0x40),
            std(CapId::Msix, 0x48),
            std(CapId::Exp, 0x54),
            ext(ExtCapId::Err, 0x100),
            ext(ExtCapId::Acs, 0x148),
        ],
    },
    ReferenceLayout {
        vmsd: "ioh-3240-express-root-port",
        type_name: "ioh3420",
        header: HeaderKind::Type1,
        caps: &[
            std(CapId::Ssvid, 0x40),
            msi(0x60, PCI_MSI_FLAGS_MASKBIT),
            std(CapId::Exp, 0x90),
            ext(ExtCapId::Err, 0x100),
        ],
    },
    ReferenceLayout {
        vmsd: "pci_bridge",
        type_name: "pci-bridge",
        header: HeaderKind::Type1,
        caps: &[
            std(CapId::Shpc, 0x40),
            std(CapId::SlotId, 0x48),
            msi(0x4c, PCI_MSI_FLAGS_64BIT | PCI_MSI_FLAGS_MASKBIT),
        ],
    },
];

/// The vmsd names of QEMU's devices with a type 1 (bridge) header.
const TYPE1_VMSDS: &[&str] = &[
    "pcie-root-port",
    "ioh-3240-express-root-port",
    "pci_bridge",
    "pcie-pci-bridge",
    "xio3130-express-upstream-port",
    "xio3130-express-downstream-port",
];

/// The vmsd name of a section idstr (after its last `/`).
pub fn vmsd_of(idstr: &str) -> &str {
    idstr.rsplit('/').next().unwrap_or(idstr)
}

/// The reference layout of the device an idstr names, if it has one.
pub fn reference_layout(idstr: &str) -> Option<&'static ReferenceLayout> {
    let vmsd = vmsd_of(idstr);
    REFERENCE_LAYOUTS.iter().find(|l| l.vmsd == vmsd)
}

impl ReferenceLayout {
    /// A 4096-byte config holding this layout's chains (IDs, next pointers, MSI flags), for
    /// the register map to name bytes in.
    fn config(&self) -> Vec<u8> {
        let mut c = vec![0u8; PCI_CONFIG_SPACE_SIZE * 16];
        if self.header == HeaderKind::Type1 {
            c[PCI_HEADER_TYPE] = PCI_HEADER_TYPE_BRIDGE;
        }
        c[PCI_STATUS] = PCI_STATUS_CAP_LIST as u8;
        let std: Vec<(CapId, usize, u16)> = self
            .caps
            .iter()
            .filter_map(|k| match *k {
                Cap::Std(id, o, f) => Some((id, o, f)),
                Cap::Ext(..) => None,
            })
            .collect();
        let ext: Vec<(ExtCapId, usize)> = self
            .caps
            .iter()
            .filter_map(|k| match *k {
                Cap::Ext(id, o) => Some((id, o)),
                Cap::Std(..) => None,
            })
            .collect();
        c[PCI_CAPABILITY_LIST] = std.first().map_or(0, |k| k.1 as u8);
        for (i, &(id, o, flags)) in std.iter().enumerate() {
            c[o] = id.value();
            c[o + PCI_CAP_LIST_NEXT] = std.get(i + 1).map_or(0, |n| n.1 as u8);
            c[o + PCI_CAP_FLAGS..o + PCI_CAP_FLAGS + 2].copy_from_slice(&flags.to_le_bytes());
        }
        for (i, &(id, o)) in ext.iter().enumerate() {
            let next = ext.get(i + 1).map_or(0, |n| n.1 as u32);
            let header = u32::from(id.value()) | 1 << 16 | next << 20;
            c[o..o + 4].copy_from_slice(&header.to_le_bytes());
        }
        c
    }

    /// The capabilities of this layout: (extended, ID, offset), in list order.
    pub fn capabilities(&self) -> Vec<(bool, u16, usize)> {
        self.caps
            .iter()
            .map(|k| match *k {
                Cap::Std(id, o, _) => (false, u16::from(id.value()), o),
                Cap::Ext(id, o) => (true, id.value(), o),
            })
            .collect()
    }
}

/// Name `offset` of the device `idstr` names from the log alone.
pub fn name_from_log(idstr: Option<&str>, offset: usize) -> Named {
    let layout = idstr.and_then(reference_layout);
    if let Some(l) = layout {
        let mut n = Named::from_location(&locate_in_bytes(&l.config(), offset), Certainty::DeviceModel);
        if offset >= PCI_CONFIG_HEADER_SIZE {
            n.note = Some(format!(
                "capability layout of QEMU's {} device model (fixed offsets)",
                l.type_name
            ));
        } else {
            n.certainty = Certainty::Header;
        }
        return n;
    }
    if offset < PCI_CONFIG_HEADER_SIZE {
        return header_name(offset, idstr);
    }
    Named {
        register: String::new(),
        capability: None,
        capability_id: None,
        certainty: Certainty::Unknown,
        note: Some(format!(
            "offset {offset:#x} is past the header: the capability there depends on the device's layout, which \
             the log does not carry; give --stream (the saved stream) to name it"
        )),
    }
}

/// A header register: by the header type of the device's model when the idstr names a device
/// of pcimig-qemu's table, else as type 0 with the type 1 name alongside when the two differ.
fn header_name(offset: usize, idstr: Option<&str>) -> Named {
    let vmsd = idstr.map(vmsd_of).unwrap_or("");
    let is_type1 = TYPE1_VMSDS.contains(&vmsd);
    let known = is_type1 || pcimig_qemu::devices::TABLE.iter().any(|k| k.vmsd == vmsd);
    let name = |k| regmap::header(k).register_at(offset).map_or("", |r| r.name).to_string();
    let register = name(if is_type1 { HeaderKind::Type1 } else { HeaderKind::Type0 });
    let type1 = name(HeaderKind::Type1);
    let ambiguous = !known && type1 != register;
    Named {
        register,
        capability: None,
        capability_id: None,
        certainty: if ambiguous {
            Certainty::HeaderTypeUnknown
        } else {
            Certainty::Header
        },
        note: ambiguous.then(|| format!("in a type 1 (bridge) header: {type1}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_offsets_are_named_by_the_spec() {
        assert_eq!(name_from_log(Some("0000:00:02.0/vfio"), 0x02).register, "Device ID");
        assert_eq!(name_from_log(None, 0x2c).register, "Subsystem Vendor ID");
        let bridge = name_from_log(Some("0000:00:1c.0/pcie-root-port"), 0x1c);
        assert_eq!(bridge.register, "I/O Base");
        assert_eq!(bridge.certainty, Certainty::Header);
        let unknown = name_from_log(Some("0000:00:05.0/vfio"), 0x1c);
        assert_eq!(unknown.certainty, Certainty::HeaderTypeUnknown);
        assert_eq!(unknown.note.as_deref(), Some("in a type 1 (bridge) header: I/O Base"));
    }

    #[test]
    fn e1000e_pcie_capability_is_at_its_fixed_offset() {
        let n = name_from_log(Some("0000:00:03.0/e1000e"), 0xec);
        assert_eq!(n.register, "PCI Express @0xe0 Link Capabilities");
        assert_eq!(n.certainty, Certainty::DeviceModel);
        let dsn = name_from_log(Some("0000:00:03.0/e1000e"), 0x144);
        assert_eq!(dsn.register, "Device Serial Number @0x140 Serial Number");
        assert_eq!(dsn.capability_id.as_deref(), Some("0x0003"));
    }

    #[test]
    fn past_the_header_of_an_unknown_layout_is_unknown() {
        let n = name_from_log(Some("0000:01:00.0/vfio"), 0x9a);
        assert_eq!(n.certainty, Certainty::Unknown);
        assert!(n.register.is_empty());
    }
}
