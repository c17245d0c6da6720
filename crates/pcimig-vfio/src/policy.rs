//! The inputs config bytes cannot carry: slot, machine type, the `skip-vsc-check` property and
//! its machine-type compat, BAR/ROM sizes, and our own opt-in policy for extended vendor
//! capabilities. Every one of them is an explicit value, so a report can say which policy made
//! a byte checked or exempt.

use crate::VfioError;
use pcimig_config::machine::TYPE_VFIO_PCI;
pub use pcimig_config::machine::{MachineFamily, MachineType, MachineTypeError, LATEST_MACHINE};
use pcimig_config::QemuVersion;
use std::fmt;
use std::str::FromStr;

/// Where the passthrough device sits in the guest. Decides what vfio-pci does with the PCI
/// Express capability (vfio_setup_pcie_cap) and whether extended capabilities are exposed
/// (vfio_add_ext_cap needs a PCIe bus).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum Slot {
    /// Behind a PCIe root or downstream port (where libvirt puts passthrough devices on q35):
    /// Root Complex Integrated Endpoints become Endpoints; extended capabilities exposed.
    PciePort,
    /// Directly on q35's PCIe root bus (pcie.0): Endpoints become Root Complex Integrated
    /// Endpoints with their link registers zeroed; Legacy Endpoints lose the PCIe capability;
    /// extended capabilities exposed.
    Q35Root,
    /// Behind a conventional PCI bridge on q35: the PCIe capability is hidden and there are no
    /// extended capabilities.
    PciBridge,
    /// On i440fx (a conventional root bus, behind a bridge or not): the PCIe capability is kept
    /// unchanged and there are no extended capabilities.
    I440fx,
}

impl Slot {
    /// The bus the device is on is PCI Express.
    pub fn bus_is_express(self) -> bool {
        matches!(self, Slot::PciePort | Slot::Q35Root)
    }

    /// The CLI spelling.
    pub fn name(self) -> &'static str {
        match self {
            Slot::PciePort => "pcie-port",
            Slot::Q35Root => "q35-root",
            Slot::PciBridge => "pci-bridge",
            Slot::I440fx => "i440fx",
        }
    }
}

impl fmt::Display for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Slot {
    type Err = VfioError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pcie-port" => Ok(Slot::PciePort),
            "q35-root" => Ok(Slot::Q35Root),
            "pci-bridge" => Ok(Slot::PciBridge),
            "i440fx" => Ok(Slot::I440fx),
            other => Err(VfioError::BadOption(format!(
                "unknown slot '{other}': expected pcie-port, q35-root, pci-bridge or i440fx"
            ))),
        }
    }
}

/// The effective value of a policy and why it has that value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Effective {
    /// The value in force.
    pub value: bool,
    /// Why: `explicit property`, `hw_compat_9_0 (pc-q35-9.0)`, `property default (pc-q35-10.0)`.
    pub reason: String,
}

/// The vfio-pci properties pcimig models or knows whose existence depends on the QEMU version,
/// with the release that added them (`-device vfio-pci,help` of 7.2.22, 10.0.2 and 11.1.3; the
/// 7.2.0, 10.0.2 and 10.2.2 sources of hw/vfio/pci.c). Properties pcimig models that every
/// version 7.2 … 11.1 has (`x-pci-vendor-id` … `x-pci-sub-device-id`, `x-nv-gpudirect-clique`,
/// `multifunction`, `rombar`) are not listed.
pub const VFIO_PCI_PROPERTIES_SINCE: &[(&str, (u32, u32))] = &[
    // "vfio/pci: migration: Skip config space check for Vendor Specific Information in VSC during
    // restore/load" (Vinayak Kale, pulled May 2024 for 9.1, with hw_compat_9_0).
    ("skip-vsc-check", (9, 1)),
    // vfio_pci_realize's class-code override, in 10.1 (absent from 10.0.2, present in 10.2.2).
    ("x-pci-class-code", (10, 1)),
];

/// The release that added a vfio-pci property (`None`: every QEMU pcimig knows has it, or
/// pcimig does not track it).
pub fn vfio_pci_property_since(property: &str) -> Option<(u32, u32)> {
    VFIO_PCI_PROPERTIES_SINCE
        .iter()
        .find(|(p, _)| *p == property)
        .map(|&(_, v)| v)
}

/// `qemu`'s vfio-pci has the property; otherwise the error QEMU's option parsing gives in spirit
/// (`QEMU 9.0's vfio-pci has no property skip-vsc-check`).
pub fn require_vfio_pci_property(qemu: QemuVersion, property: &str) -> Result<(), VfioError> {
    match vfio_pci_property_since(property) {
        Some((x, y)) if !qemu.at_least(x, y) => Err(VfioError::BadOption(format!(
            "QEMU {qemu}'s vfio-pci has no property {property} (added in QEMU {x}.{y})"
        ))),
        _ => Ok(()),
    }
}

/// `skip-vsc-check` as `qemu` resolves it on the destination. Before 9.1 the property does not
/// exist: every VSC byte is checked whatever the machine type, and an explicit value is an
/// error ([`require_vfio_pci_property`]). From 9.1 on, [`effective_skip_vsc_check`] in the
/// compat arrays that QEMU has.
pub fn effective_skip_vsc_check_in(
    qemu: QemuVersion,
    explicit: Option<bool>,
    machine: &MachineType,
) -> Result<Effective, VfioError> {
    if explicit.is_some() {
        require_vfio_pci_property(qemu, "skip-vsc-check")?;
    }
    if !qemu.at_least(9, 1) {
        return Ok(Effective {
            value: false,
            reason: format!("QEMU {qemu}'s vfio-pci has no skip-vsc-check (added in 9.1): every VSC byte is checked"),
        });
    }
    Ok(effective_skip_vsc_check(explicit, machine))
}

/// `skip-vsc-check` as QEMU 10.0.2 resolves it on the destination: an explicit property
/// (`-device vfio-pci,skip-vsc-check=…` or `-global vfio-pci.skip-vsc-check=…`) always wins;
/// otherwise the machine type's compat table decides ([`MachineType::compat`]: machine types 9.0
/// and older get `false` from hw_compat_9_0); otherwise the property default `true`.
pub fn effective_skip_vsc_check(explicit: Option<bool>, machine: &MachineType) -> Effective {
    match explicit {
        Some(v) => Effective {
            value: v,
            reason: format!("explicit skip-vsc-check={}", if v { "on" } else { "off" }),
        },
        None => match machine.compat(TYPE_VFIO_PCI, "skip-vsc-check") {
            Some((array, prop)) => {
                let value = prop.as_bool().unwrap_or(true);
                Effective {
                    value,
                    reason: format!(
                        "{} sets it {} for machine type {machine}",
                        array.name(),
                        if value { "on" } else { "off" }
                    ),
                }
            }
            None => Effective {
                value: true,
                reason: format!("property default (on) for machine type {machine}"),
            },
        },
    }
}

/// Resolve `--slot` and `--machine`: `pc-i440fx-*` implies the `i440fx` slot unless the slot is
/// given; a q35 slot on an i440fx machine (or the reverse) is a contradiction. Without a machine
/// type, the current one of the slot's chipset is assumed (`pc-q35-10.0` / `pc-i440fx-10.0`).
pub fn resolve_slot_and_machine(
    slot: Option<Slot>,
    machine: Option<MachineType>,
) -> Result<(Slot, MachineType), VfioError> {
    let latest = |q35| MachineType::latest(if q35 { MachineFamily::Q35 } else { MachineFamily::I440fx });
    match (slot, machine) {
        (None, None) => Ok((Slot::PciePort, latest(true))),
        (None, Some(m)) => Ok((if m.is_q35() { Slot::PciePort } else { Slot::I440fx }, m)),
        (Some(s), None) => Ok((s, latest(s != Slot::I440fx))),
        (Some(s), Some(m)) => {
            if (s == Slot::I440fx) == m.is_q35() {
                Err(VfioError::BadOption(format!(
                    "--slot {s} contradicts --machine {m}: {}",
                    if m.is_q35() {
                        "the i440fx slot needs a pc-i440fx machine type"
                    } else {
                        "an i440fx machine has only a conventional PCI root bus: use --slot i440fx"
                    }
                )))
            } else {
                Ok((s, m))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_types_parse_and_compat_boundary_is_9_0() {
        let m = MachineType::parse("pc-q35-9.0").unwrap();
        assert!(m.is_q35() && m.applies_hw_compat(9, 0));
        assert!(!MachineType::parse("pc-q35-9.1").unwrap().applies_hw_compat(9, 0));
        assert!(MachineType::parse("pc-i440fx-2.12").unwrap().applies_hw_compat(9, 0));
        assert!(!MachineType::parse("q35").unwrap().applies_hw_compat(9, 0));
        assert_eq!(MachineType::parse("pc").unwrap().name(), "pc-i440fx-10.0");
        // Defined by some QEMU pcimig knows (11.1, 7.2): parsed; the destination decides.
        assert!(MachineType::parse("pc-q35-10.1").is_ok());
        assert!(MachineType::parse("pc-q35-9.3").is_err());
        assert!(MachineType::parse("pc-i440fx-2.3").is_ok());
        assert!(MachineType::parse("pc-q35-2.3").is_err());
        assert!(MachineType::parse("pc-i440fx-2.4").is_ok());
        assert!(MachineType::parse("pc-q35-3.1").is_ok());
        assert!(MachineType::parse("virt-9.0").is_err());
        assert!(MachineType::parse("pc-q35-x").is_err());
    }

    /// TV7: the destination's machine type decides, an explicit property always wins.
    #[test]
    fn skip_vsc_check_follows_tv7() {
        let q = |s| MachineType::parse(s).unwrap();
        assert!(!effective_skip_vsc_check(None, &q("pc-q35-9.0")).value);
        assert!(!effective_skip_vsc_check(None, &q("pc-i440fx-9.0")).value);
        assert!(!effective_skip_vsc_check(None, &q("pc-q35-8.2")).value);
        assert!(effective_skip_vsc_check(None, &q("pc-q35-9.1")).value);
        assert!(effective_skip_vsc_check(None, &q("pc-q35-9.2")).value);
        assert!(effective_skip_vsc_check(None, &q("q35")).value);
        assert!(effective_skip_vsc_check(Some(true), &q("pc-q35-9.0")).value);
        assert!(!effective_skip_vsc_check(Some(false), &q("pc-q35-10.0")).value);
    }

    /// A 9.0-or-older destination checks every VSC byte; the explicit property is an error there.
    #[test]
    fn skip_vsc_check_exists_from_9_1() {
        let v = |s| QemuVersion::parse(s).unwrap();
        let q = |s| MachineType::parse(s).unwrap();
        let e = effective_skip_vsc_check_in(v("9.0"), None, &q("pc-q35-9.0")).unwrap();
        assert!(!e.value && e.reason.contains("no skip-vsc-check"), "{}", e.reason);
        let e = effective_skip_vsc_check_in(v("9.1"), None, &q("pc-q35-9.1")).unwrap();
        assert!(e.value);
        // pc-q35-9.0 on 9.1: hw_compat_9_0 exists there and turns it off.
        assert!(
            !effective_skip_vsc_check_in(v("9.1"), None, &q("pc-q35-9.0"))
                .unwrap()
                .value
        );
        let err = effective_skip_vsc_check_in(v("9.0"), Some(true), &q("pc-q35-9.0")).unwrap_err();
        assert_eq!(
            err.to_string().trim_start_matches("bad option: "),
            "QEMU 9.0's vfio-pci has no property skip-vsc-check (added in QEMU 9.1)"
        );
        assert!(
            effective_skip_vsc_check_in(v("9.1"), Some(true), &q("pc-q35-9.0"))
                .unwrap()
                .value
        );
        assert!(require_vfio_pci_property(v("10.0.2"), "x-pci-class-code").is_err());
        assert!(require_vfio_pci_property(v("10.1"), "x-pci-class-code").is_ok());
    }

    #[test]
    fn i440fx_machine_implies_i440fx_slot_and_contradictions_are_errors() {
        let i = MachineType::parse("pc-i440fx-9.2").unwrap();
        assert_eq!(resolve_slot_and_machine(None, Some(i)).unwrap().0, Slot::I440fx);
        assert!(resolve_slot_and_machine(Some(Slot::PciePort), Some(i)).is_err());
        assert!(resolve_slot_and_machine(Some(Slot::I440fx), Some(MachineType::parse("q35").unwrap())).is_err());
        assert_eq!(
            resolve_slot_and_machine(None, None).unwrap(),
            (Slot::PciePort, MachineType::parse("q35").unwrap())
        );
        assert_eq!(
            resolve_slot_and_machine(Some(Slot::I440fx), None).unwrap().1.name(),
            "pc-i440fx-10.0"
        );
    }
}
