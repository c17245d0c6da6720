//! The x86 machine types each QEMU version defines and the part of their compat table that
//! changes config spaces, as data.
//!
//! A versioned machine type X.Y applies every `hw_compat_A_B` array with A.B >= X.Y (each older
//! machine's options call the next newer one's, then add their own array). Where two arrays set
//! the same property, the oldest array that applies wins (it is registered last). [`HW_COMPAT`]
//! holds the entries of QEMU's `hw/core/machine.c` arrays that change a PCI device's config or
//! masks as pcimig models them; [`MachineType::compat_in`] looks a property up in the arrays a
//! given QEMU has: `hw_compat_A_B` exists in QEMU versions newer than A.B ([`HwCompat::exists_in`]).
//! Which machine types a QEMU defines is [`QemuVersion::defines`] (newest: its own series; oldest:
//! [`oldest_machine`]).
//!
//! ```
//! use pcimig_config::machine::MachineType;
//! let m = MachineType::parse("pc-q35-9.0").unwrap();
//! let (array, prop) = m.compat("vfio-pci", "skip-vsc-check").unwrap();
//! assert_eq!((array.name().as_str(), prop.value), ("hw_compat_9_0", "false"));
//! assert!(MachineType::parse("q35").unwrap().compat("vfio-pci", "skip-vsc-check").is_none());
//! // QEMU 9.0 has no hw_compat_9_0 (born in 9.1's cycle) and no pc-q35-9.1.
//! let v90 = pcimig_config::QemuVersion::parse("9.0").unwrap();
//! assert!(m.compat_in(v90, "vfio-pci", "skip-vsc-check").is_none());
//! assert!(!v90.defines(&MachineType::parse("pc-q35-9.1").unwrap()));
//! ```

use crate::presets::{LinkSpeed, LinkWidth, PcieCapOptions};
use crate::qemu_version::QemuVersion;
use std::fmt;
use thiserror::Error;

/// The newest machine version QEMU 10.0.2 (pcimig's default destination) defines: what the `q35`
/// and `pc` aliases resolve to without a QEMU version ([`MachineType::parse`]).
pub const LATEST_MACHINE: (u32, u32) = (10, 0);

/// Every versioned x86 machine version some QEMU release series pcimig knows defines (7.2's
/// `pc-i440fx-1.4` to 11.1's `pc-q35-11.1`), oldest first. Which QEMU defines which is
/// [`QemuVersion::defines`]; q35 starts at 2.4.
pub const MACHINE_VERSIONS: &[(u32, u32)] = &[
    (1, 4),
    (1, 5),
    (1, 6),
    (1, 7),
    (2, 0),
    (2, 1),
    (2, 2),
    (2, 3),
    (2, 4),
    (2, 5),
    (2, 6),
    (2, 7),
    (2, 8),
    (2, 9),
    (2, 10),
    (2, 11),
    (2, 12),
    (3, 0),
    (3, 1),
    (4, 0),
    (4, 1),
    (4, 2),
    (5, 0),
    (5, 1),
    (5, 2),
    (6, 0),
    (6, 1),
    (6, 2),
    (7, 0),
    (7, 1),
    (7, 2),
    (8, 0),
    (8, 1),
    (8, 2),
    (9, 0),
    (9, 1),
    (9, 2),
    (10, 0),
    (10, 1),
    (10, 2),
    (11, 0),
    (11, 1),
];

/// The oldest q35 machine version of every QEMU up to 10.0 (`pc-q35-1.4` … `2.3` went before 7.2).
const OLDEST_Q35_BEFORE_AUTO_DELETION: (u32, u32) = (2, 4);

/// MACHINE_VER_DELETION_MAJOR (include/hw/boards.h): from QEMU 10.1 on, a versioned machine type
/// is not registered once it is this many years (major versions) old.
const MACHINE_VER_DELETION_MAJOR: u32 = 6;

/// The oldest versioned machine a QEMU release series registers for a family.
///
/// - QEMU 10.1 and newer: MACHINE_VER_DELETION (include/hw/boards.h, active without
///   `QEMU_DELETE_MACHINES` from 10.1 on) drops every machine X.Y with `major - X > 6`, or
///   `major - X == 6` and `Y <= minor`: 10.1 keeps 4.2 and newer, 10.2 5.0, 11.0 5.1, 11.1 5.2
///   (the 11.1.3 binary's `-machine help` starts at 5.2).
/// - q35 before 10.1: 2.4 (7.2.22's and 10.0.2's `-machine help`).
/// - i440fx before 10.1: 1.4 up to 8.1; 2.0 in 8.2 and 9.0 (`pc-i440fx-1.4` … `1.7` removed in
///   8.2, docs/about/removed-features.rst); 2.4 from 9.1 (`pc-i440fx-2.0` … `2.3` removed by the
///   series "hw/i386/pc: Remove deprecated pc-i440fx-2.0 machine" …, PATCH-for-9.1).
pub fn oldest_machine(qemu: QemuVersion, family: MachineFamily) -> (u32, u32) {
    let (major, minor) = qemu.series();
    if qemu.at_least(10, 1) {
        let expired = |&&(x, y): &&(u32, u32)| {
            major - x > MACHINE_VER_DELETION_MAJOR || (major - x == MACHINE_VER_DELETION_MAJOR && y <= minor)
        };
        return MACHINE_VERSIONS
            .iter()
            .find(|v| !expired(v))
            .copied()
            .unwrap_or((major, minor));
    }
    match family {
        MachineFamily::Q35 => OLDEST_Q35_BEFORE_AUTO_DELETION,
        MachineFamily::I440fx if qemu.at_least(9, 1) => (2, 4),
        MachineFamily::I440fx if qemu.at_least(8, 2) => (2, 0),
        MachineFamily::I440fx => (1, 4),
    }
}

/// The release series after `(x, y)` (QEMU's numbering: 2.0 … 2.12, 3.0, 3.1, then three a year
/// X.0 … X.2 from 4.0 on).
pub fn next_series((x, y): (u32, u32)) -> (u32, u32) {
    match (x, y) {
        (2, 12) | (3, 1) => (x + 1, 0),
        (x, 2) if x >= 4 => (x + 1, 0),
        _ => (x, y + 1),
    }
}

/// QEMU's TYPE_PCI_DEVICE: a compat property of every PCI device.
pub const TYPE_PCI_DEVICE: &str = "pci-device";
/// QEMU's TYPE_PCI_BRIDGE: a compat property of every PCI-to-PCI bridge.
pub const TYPE_PCI_BRIDGE: &str = "base-pci-bridge";
/// QEMU's TYPE_VIRTIO_PCI.
pub const TYPE_VIRTIO_PCI: &str = "virtio-pci";
/// The vfio-pci device.
pub const TYPE_VFIO_PCI: &str = "vfio-pci";
/// The generic PCIe root port.
pub const TYPE_PCIE_ROOT_PORT: &str = "pcie-root-port";

/// One entry of a compat array (QEMU's GlobalProperty): `-global driver.property=value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompatProperty {
    /// QOM type the property belongs to (it applies to its subtypes too).
    pub driver: &'static str,
    /// Property name.
    pub property: &'static str,
    /// Value, as QEMU writes it (`"false"`, `"off"`, `"2_5"` …).
    pub value: &'static str,
}

impl CompatProperty {
    /// The value as a boolean property (QEMU accepts on/off, true/false, yes/no).
    pub fn as_bool(&self) -> Option<bool> {
        match self.value {
            "on" | "true" | "yes" => Some(true),
            "off" | "false" | "no" => Some(false),
            _ => None,
        }
    }
}

/// One `hw_compat_X_Y` array: applied by machine types X.Y and older.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HwCompat {
    /// (X, Y).
    pub version: (u32, u32),
    /// The entries pcimig models.
    pub properties: &'static [CompatProperty],
}

impl HwCompat {
    /// `hw_compat_X_Y`.
    pub fn name(&self) -> String {
        format!("hw_compat_{}_{}", self.version.0, self.version.1)
    }

    /// The release series whose development cycle created the array (X.Y's next series): the
    /// behaviour it keeps for old machines is new in that release.
    pub fn born_in(&self) -> (u32, u32) {
        next_series(self.version)
    }

    /// The array exists in `qemu` (every QEMU newer than X.Y has `hw_compat_X_Y`). A QEMU
    /// without it has the old behaviour for every machine type, the value the array sets.
    pub fn exists_in(&self, qemu: QemuVersion) -> bool {
        qemu.series() > self.version
    }
}

const fn prop(driver: &'static str, property: &'static str, value: &'static str) -> CompatProperty {
    CompatProperty {
        driver,
        property,
        value,
    }
}

/// The entries of QEMU's `hw_compat_*` arrays that change a config space pcimig models, newest
/// array first. Entries that do not (migration, scsi, arm-cpu, fw_cfg …) are left out. Checked
/// against 10.0.2's and 10.2.2's `hw/core/machine.c` and the 10.2 / 11.0 patches: the arrays
/// `hw_compat_9_2` … `hw_compat_10_2` hold no entry that changes a modelled config space or mask
/// (`docs/qemu-versions.md`).
pub const HW_COMPAT: &[HwCompat] = &[
    HwCompat {
        version: (9, 1),
        properties: &[prop(TYPE_PCI_DEVICE, "x-pcie-ext-tag", "false")],
    },
    HwCompat {
        version: (9, 0),
        properties: &[prop(TYPE_VFIO_PCI, "skip-vsc-check", "false")],
    },
    HwCompat {
        version: (8, 1),
        properties: &[prop(TYPE_PCI_BRIDGE, "x-pci-express-writeable-slt-bug", "true")],
    },
    HwCompat {
        version: (7, 2),
        properties: &[prop(TYPE_PCI_DEVICE, "x-pcie-err-unc-mask", "off")],
    },
    HwCompat {
        version: (3, 1),
        properties: &[
            prop(TYPE_PCIE_ROOT_PORT, "x-speed", "2_5"),
            prop(TYPE_PCIE_ROOT_PORT, "x-width", "1"),
        ],
    },
    HwCompat {
        version: (2, 8),
        properties: &[
            prop(TYPE_PCI_DEVICE, "x-pcie-extcap-init", "off"),
            prop(TYPE_VIRTIO_PCI, "x-pcie-deverr-init", "off"),
            prop(TYPE_VIRTIO_PCI, "x-pcie-lnkctl-init", "off"),
            prop(TYPE_VIRTIO_PCI, "x-pcie-pm-init", "off"),
        ],
    },
];

/// Chipset family of an x86 machine type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MachineFamily {
    /// `pc-q35-*`: PCIe root bus, MCH, ICH9.
    Q35,
    /// `pc-i440fx-*`: conventional root bus, i440FX, PIIX3/4.
    I440fx,
}

impl MachineFamily {
    /// `q35` or `i440fx`, as in the machine type names.
    pub fn name(self) -> &'static str {
        match self {
            MachineFamily::Q35 => "q35",
            MachineFamily::I440fx => "i440fx",
        }
    }
}

/// A machine type name pcimig cannot use, and why (`machine type 'NAME': REASON`).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("machine type '{name}': {reason}")]
pub struct MachineTypeError {
    /// The name as given.
    pub name: String,
    /// Why it is refused.
    pub reason: &'static str,
}

/// A versioned x86 machine type (one of [`MACHINE_VERSIONS`]): its chipset family and version.
/// Whether a QEMU defines it is [`QemuVersion::defines`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MachineType {
    /// q35 or i440fx.
    pub family: MachineFamily,
    /// (major, minor) of the versioned machine.
    pub version: (u32, u32),
}

impl MachineType {
    /// The newest machine type of a family in QEMU 10.0.2 (`pc-q35-10.0`, `pc-i440fx-10.0`).
    pub fn latest(family: MachineFamily) -> Self {
        MachineType {
            family,
            version: LATEST_MACHINE,
        }
    }

    /// The newest machine type of a family in `qemu`: its own series (`pc-q35-9.0` in 9.0.x),
    /// what the `q35` and `pc` aliases resolve to there.
    pub fn newest_in(qemu: QemuVersion, family: MachineFamily) -> Self {
        MachineType {
            family,
            version: qemu.series(),
        }
    }

    /// Parse a `-machine` type name as a user writes it, for QEMU 10.0.2: see [`Self::parse_for`].
    pub fn parse(name: &str) -> Result<Self, MachineTypeError> {
        Self::parse_for(name, QemuVersion::DEFAULT)
    }

    /// Parse a `-machine` type name as a user writes it: `pc-q35-X.Y`, `pc-i440fx-X.Y` (X.Y one
    /// of [`MACHINE_VERSIONS`], defined by some QEMU pcimig knows: whether `qemu` defines it is
    /// the caller's check, [`QemuVersion::defines`]), or the aliases `q35` and `pc`, which
    /// resolve to `qemu`'s newest machine types.
    pub fn parse_for(name: &str, qemu: QemuVersion) -> Result<Self, MachineTypeError> {
        let bad = |reason| MachineTypeError {
            name: name.to_string(),
            reason,
        };
        let (family, ver) = match name {
            "q35" => return Ok(Self::newest_in(qemu, MachineFamily::Q35)),
            "pc" => return Ok(Self::newest_in(qemu, MachineFamily::I440fx)),
            _ => split_family(name).ok_or_else(|| bad("expected pc-q35-X.Y, pc-i440fx-X.Y, q35 or pc"))?,
        };
        let (ma, mi) = ver.split_once('.').ok_or_else(|| bad("no X.Y version"))?;
        let major: u32 = ma.parse().map_err(|_| bad("bad major version"))?;
        let minor: u32 = mi.parse().map_err(|_| bad("bad minor version"))?;
        let m = MachineType {
            family,
            version: (major, minor),
        };
        if !m.is_known() {
            return Err(bad(
                "no QEMU version pcimig knows (7.2 to 11.1) defines it (pc-i440fx-1.4 to 11.1, pc-q35-2.4 to 11.1)",
            ));
        }
        Ok(m)
    }

    /// Some QEMU pcimig knows defines this machine type (q35 starts at 2.4).
    fn is_known(&self) -> bool {
        MACHINE_VERSIONS.contains(&self.version) && (self.family == MachineFamily::I440fx || self.version >= (2, 4))
    }

    /// Parse the name a migration stream's configuration section carries: `pc-q35-X.Y` or
    /// `pc-i440fx-X.Y`, optionally followed by `-suffix` or a bugfix `.Z` (`pc-q35-4.0.1`), with
    /// X.Y no newer than the newest machine pcimig knows (11.1). No aliases: QEMU writes the
    /// resolved name. Whether the saving QEMU defines it is the caller's check.
    pub fn from_config_section(name: &str) -> Result<Self, MachineTypeError> {
        let bad = |reason| MachineTypeError {
            name: name.to_string(),
            reason,
        };
        let (family, rest) = split_family(name)
            .ok_or_else(|| bad("only the versioned x86 machines pc-q35-X.Y and pc-i440fx-X.Y are modelled"))?;
        let ver = rest.split('-').next().unwrap_or("");
        let mut it = ver.split('.');
        let major = it.next().and_then(|s| s.parse::<u32>().ok());
        let minor = it.next().and_then(|s| s.parse::<u32>().ok());
        let (Some(major), Some(minor)) = (major, minor) else {
            return Err(bad("no X.Y version in the name"));
        };
        if Some(&(major, minor)) > MACHINE_VERSIONS.last() {
            return Err(bad("newer than every QEMU version pcimig knows (11.1)"));
        }
        Ok(MachineType {
            family,
            version: (major, minor),
        })
    }

    /// A q35 machine.
    pub fn is_q35(&self) -> bool {
        self.family == MachineFamily::Q35
    }

    /// The canonical name (`pc-q35-10.0`).
    pub fn name(&self) -> String {
        format!("pc-{}-{}.{}", self.family.name(), self.version.0, self.version.1)
    }

    /// The machine applies `hw_compat_major_minor` (its version is `<= (major, minor)`).
    pub fn applies_hw_compat(&self, major: u32, minor: u32) -> bool {
        self.version <= (major, minor)
    }

    /// The compat entry that sets `driver.property` on this machine in QEMU 10.0.2:
    /// [`Self::compat_in`] with [`QemuVersion::DEFAULT`].
    pub fn compat(&self, driver: &str, property: &str) -> Option<(&'static HwCompat, &'static CompatProperty)> {
        self.compat_in(QemuVersion::DEFAULT, driver, property)
    }

    /// The compat entry that sets `driver.property` on this machine in `qemu`, with the array it
    /// is in: the oldest applicable array that `qemu` has ([`HwCompat::exists_in`]) and that sets
    /// it, as in QEMU; `None` when no compat array of this machine in that QEMU touches it (the
    /// property keeps that QEMU's default, or does not exist there).
    pub fn compat_in(
        &self,
        qemu: QemuVersion,
        driver: &str,
        property: &str,
    ) -> Option<(&'static HwCompat, &'static CompatProperty)> {
        HW_COMPAT
            .iter()
            .rev()
            .filter(|a| a.exists_in(qemu) && self.applies_hw_compat(a.version.0, a.version.1))
            .find_map(|a| {
                a.properties
                    .iter()
                    .find(|p| p.driver == driver && p.property == property)
                    .map(|p| (a, p))
            })
    }

    /// A boolean property's value on this machine: the compat value, else `default`.
    pub fn compat_bool(&self, driver: &str, property: &str, default: bool) -> bool {
        self.compat(driver, property)
            .and_then(|(_, p)| p.as_bool())
            .unwrap_or(default)
    }

    /// vfio-pci `skip-vsc-check` without an explicit property (on; off through hw_compat_9_0).
    pub fn skip_vsc_check(&self) -> bool {
        self.compat_bool(TYPE_VFIO_PCI, "skip-vsc-check", true)
    }

    /// `x-pcie-ext-tag` (on; off through hw_compat_9_1).
    pub fn pcie_ext_tag(&self) -> bool {
        self.compat_bool(TYPE_PCI_DEVICE, "x-pcie-ext-tag", true)
    }

    /// `x-pcie-err-unc-mask` (on; off through hw_compat_7_2).
    pub fn pcie_err_unc_mask(&self) -> bool {
        self.compat_bool(TYPE_PCI_DEVICE, "x-pcie-err-unc-mask", true)
    }

    /// `x-pcie-extcap-init` (on; off through hw_compat_2_8).
    pub fn pcie_extcap_init(&self) -> bool {
        self.compat_bool(TYPE_PCI_DEVICE, "x-pcie-extcap-init", true)
    }

    /// `x-pci-express-writeable-slt-bug` of PCI bridges (off; on through hw_compat_8_1).
    pub fn writeable_slt_bug(&self) -> bool {
        self.compat_bool(TYPE_PCI_BRIDGE, "x-pci-express-writeable-slt-bug", false)
    }

    /// virtio-pci `x-pcie-pm-init` (on; off through hw_compat_2_8, which also turns off
    /// `x-pcie-deverr-init` and `x-pcie-lnkctl-init`).
    pub fn virtio_pcie_pm_init(&self) -> bool {
        self.compat_bool(TYPE_VIRTIO_PCI, "x-pcie-pm-init", true)
    }

    /// pcie-root-port's `x-width` and `x-speed`: x32 at 16 GT/s by default, x1 at 2.5 GT/s
    /// through hw_compat_3_1.
    pub fn pcie_root_port_link(&self) -> (LinkWidth, LinkSpeed) {
        let width = self
            .compat(TYPE_PCIE_ROOT_PORT, "x-width")
            .and_then(|(_, p)| link_width(p.value))
            .unwrap_or(LinkWidth::X32);
        let speed = self
            .compat(TYPE_PCIE_ROOT_PORT, "x-speed")
            .and_then(|(_, p)| link_speed(p.value))
            .unwrap_or(LinkSpeed::Gt16);
        (width, speed)
    }

    /// The [`PcieCapOptions`] of a device on this machine (no slot link).
    pub fn pcie_cap_options(&self) -> PcieCapOptions {
        PcieCapOptions {
            ext_tag: self.pcie_ext_tag(),
            extcap_init: self.pcie_extcap_init(),
            slot_link: None,
        }
    }
}

impl fmt::Display for MachineType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// The family prefix of a versioned name, and the rest.
fn split_family(name: &str) -> Option<(MachineFamily, &str)> {
    if let Some(v) = name.strip_prefix("pc-q35-") {
        Some((MachineFamily::Q35, v))
    } else {
        name.strip_prefix("pc-i440fx-").map(|v| (MachineFamily::I440fx, v))
    }
}

/// A PCIE_LINK_WIDTH property value.
fn link_width(v: &str) -> Option<LinkWidth> {
    Some(match v {
        "1" => LinkWidth::X1,
        "2" => LinkWidth::X2,
        "4" => LinkWidth::X4,
        "8" => LinkWidth::X8,
        "12" => LinkWidth::X12,
        "16" => LinkWidth::X16,
        "32" => LinkWidth::X32,
        _ => return None,
    })
}

/// A PCIE_LINK_SPEED property value.
fn link_speed(v: &str) -> Option<LinkSpeed> {
    Some(match v {
        "2_5" => LinkSpeed::Gt2_5,
        "5" => LinkSpeed::Gt5,
        "8" => LinkSpeed::Gt8,
        "16" => LinkSpeed::Gt16,
        "32" => LinkSpeed::Gt32,
        "64" => LinkSpeed::Gt64,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_names_accept_qemus_list_and_aliases() {
        let m = MachineType::parse("pc-q35-9.0").unwrap();
        assert!(m.is_q35() && m.applies_hw_compat(9, 0));
        assert_eq!(MachineType::parse("pc").unwrap().name(), "pc-i440fx-10.0");
        assert_eq!(
            MachineType::parse("q35").unwrap(),
            MachineType::latest(MachineFamily::Q35)
        );
        // Names some QEMU pcimig knows defines parse; whether the destination defines them is
        // QemuVersion::defines.
        for good in ["pc-q35-10.1", "pc-q35-11.1", "pc-i440fx-2.3", "pc-i440fx-1.4"] {
            assert!(MachineType::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "pc-q35-9.3",
            "pc-q35-2.3",
            "pc-q35-11.2",
            "pc-i440fx-1.3",
            "virt-9.0",
            "pc-q35-x",
            "pc-q35-4.0.1",
        ] {
            assert!(MachineType::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            MachineType::parse("virt").unwrap_err().to_string(),
            "machine type 'virt': expected pc-q35-X.Y, pc-i440fx-X.Y, q35 or pc"
        );
    }

    #[test]
    fn config_section_names_take_suffixes_but_no_aliases() {
        let m = MachineType::from_config_section("pc-q35-4.0.1").unwrap();
        assert_eq!(m.version, (4, 0));
        assert_eq!(
            MachineType::from_config_section("pc-i440fx-9.2-x").unwrap().version,
            (9, 2)
        );
        assert!(MachineType::from_config_section("q35").is_err());
        assert_eq!(
            MachineType::from_config_section("pc-q35-11.1").unwrap().version,
            (11, 1)
        );
        assert_eq!(
            MachineType::from_config_section("pc-q35-11.2").unwrap_err().reason,
            "newer than every QEMU version pcimig knows (11.1)"
        );
    }

    /// The aliases resolve to the given QEMU's newest machine types.
    #[test]
    fn aliases_resolve_per_qemu_version() {
        let v = |s| QemuVersion::parse(s).unwrap();
        assert_eq!(MachineType::parse_for("q35", v("7.2")).unwrap().name(), "pc-q35-7.2");
        assert_eq!(MachineType::parse_for("pc", v("9.0")).unwrap().name(), "pc-i440fx-9.0");
        assert_eq!(
            MachineType::parse_for("q35", v("11.1.3")).unwrap().name(),
            "pc-q35-11.1"
        );
        assert_eq!(MachineType::parse("q35").unwrap().name(), "pc-q35-10.0");
    }

    /// hw_compat_X_Y exists only in QEMU versions newer than X.Y.
    #[test]
    fn compat_arrays_exist_from_their_next_release() {
        let v = |s| QemuVersion::parse(s).unwrap();
        let m = MachineType::parse("pc-q35-9.0").unwrap();
        assert!(m.compat_in(v("9.0"), TYPE_VFIO_PCI, "skip-vsc-check").is_none());
        assert!(m.compat_in(v("9.1"), TYPE_VFIO_PCI, "skip-vsc-check").is_some());
        let a = HW_COMPAT.iter().find(|a| a.version == (9, 0)).unwrap();
        assert_eq!(a.born_in(), (9, 1));
        assert_eq!(next_series((2, 12)), (3, 0));
        assert_eq!(next_series((3, 1)), (4, 0));
        assert_eq!(next_series((10, 2)), (11, 0));
        assert_eq!(next_series((7, 1)), (7, 2));
    }

    /// Each property flips exactly at its hw_compat array's version.
    #[test]
    fn compat_properties_flip_at_their_arrays() {
        let m = |s| MachineType::parse(s).unwrap();
        assert!(!m("pc-q35-9.0").skip_vsc_check() && m("pc-q35-9.1").skip_vsc_check());
        assert!(!m("pc-q35-9.1").pcie_ext_tag() && m("pc-q35-9.2").pcie_ext_tag());
        assert!(!m("pc-q35-7.2").pcie_err_unc_mask() && m("pc-q35-8.0").pcie_err_unc_mask());
        assert!(m("pc-q35-8.1").writeable_slt_bug() && !m("pc-q35-8.2").writeable_slt_bug());
        assert!(!m("pc-q35-2.8").virtio_pcie_pm_init() && m("pc-q35-2.9").virtio_pcie_pm_init());
        assert!(!m("pc-q35-2.8").pcie_extcap_init() && m("pc-q35-2.9").pcie_extcap_init());
        assert_eq!(m("pc-q35-3.1").pcie_root_port_link(), (LinkWidth::X1, LinkSpeed::Gt2_5));
        assert_eq!(m("pc-q35-4.0").pcie_root_port_link(), (LinkWidth::X32, LinkSpeed::Gt16));
        let (array, _) = m("pc-i440fx-2.12").compat(TYPE_VFIO_PCI, "skip-vsc-check").unwrap();
        assert_eq!(array.name(), "hw_compat_9_0");
    }
}
