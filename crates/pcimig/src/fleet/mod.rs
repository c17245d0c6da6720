//! `pcimig fleet`: for every ordered pair of devices of the same kind across many hosts, would a
//! VM restore from the source onto the destination pass QEMU's config-space check?
//!
//! The check is asymmetric: the destination's masks (`cmask & !wmask & !w1cmask` after vfio-pci's
//! realize, the skip-vsc-check policy and the destination's QEMU version) select the compared
//! bytes, the source supplies the saved values. So instead of `n²` checks the engine
//! ([`run`]) realizes every device once ([`crate::check::vfio::destination_device`], the same
//! function `pcimig check` builds its destination with; devices with identical inputs share one
//! realize), interns the distinct masks per kind
//! (*mask classes*), and fingerprints every device's config under every mask class of its kind.
//! A source passes onto a destination iff its fingerprint under the destination's class equals
//! the destination's own: `(saved ^ dest) & checked == 0` on every byte, which is exactly
//! [`pcimig_config::restore_check`]'s condition. The non-mask conditions of `pcimig check` are
//! kept: a config of another size is incomparable (fail), and a host whose QEMU does not define
//! the VM's machine type can neither run the VM nor take it (fail both ways).
//!
//! Devices with the same kind, mask class and fingerprints are interchangeable as source and
//! as destination: they form a [`Group`]; the [`MatrixEntry`] list covers every ordered pair of
//! groups of a kind. The cost is about linear in devices (one realize each, then hashing),
//! plus the size of the matrix.
//!
//! A device's saved config is its own realized config: the source's QEMU realizes the same
//! physical bytes with the same placement, and skip-vsc-check only changes masks.

mod analysis;
mod engine;
pub mod export;
mod snapshots;
mod text;

pub use engine::{device_request, run, run_with_progress, skip_vsc_check_on};
pub use snapshots::{devices_from_snapshot, host_qemu};
pub use text::fleet_text;

use crate::source::BarSizes;
use pcimig_config::QemuVersion;
use pcimig_vfio::Slot;
use serde::Serialize;
use std::fmt;

/// One device of the fleet, as a host snapshot records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetDevice {
    /// `SNAPSHOT#DDDD:BB:DD.F`: the snapshot file as given and the full BDF.
    pub name: String,
    /// The snapshot file as given on the command line.
    pub snapshot: String,
    /// The host the snapshot was taken on.
    pub host: String,
    /// The full BDF, with domain (`0000:3b:00.0`).
    pub bdf: String,
    /// PCI vendor ID.
    pub vendor: u16,
    /// PCI device ID.
    pub device: u16,
    /// The bound host driver, when known.
    pub driver: Option<String>,
    /// The driver's version, when known.
    pub driver_version: Option<String>,
    /// The host's QEMU version.
    pub qemu: QemuVersion,
    /// The physical config (256 or 4096 bytes).
    pub config: Vec<u8>,
    /// BAR and ROM sizes, when the snapshot has them.
    pub bar_sizes: Option<BarSizes>,
}

impl FleetDevice {
    /// `driver version`, `driver` or `-`, as reports print it.
    pub fn driver_shown(&self) -> String {
        match (&self.driver, &self.driver_version) {
            (Some(d), Some(v)) => format!("{d} {v}"),
            (Some(d), None) => d.clone(),
            (None, _) => "-".into(),
        }
    }
}

/// What makes two devices "of the same kind" (only devices of one kind are paired).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum GroupBy {
    /// Same vendor and device ID (the default).
    #[default]
    VendorDevice,
    /// Same vendor ID.
    Vendor,
    /// Same host driver name.
    Driver,
    /// Every device is of one kind.
    All,
}

impl GroupBy {
    /// Parse `vendor-device`, `vendor`, `driver` or `all`.
    pub fn parse(s: &str) -> Result<GroupBy, String> {
        match s {
            "vendor-device" => Ok(GroupBy::VendorDevice),
            "vendor" => Ok(GroupBy::Vendor),
            "driver" => Ok(GroupBy::Driver),
            "all" => Ok(GroupBy::All),
            _ => Err(format!(
                "unknown grouping {s:?}: expected vendor-device, vendor, driver or all"
            )),
        }
    }

    /// The kind label of `d` under this grouping (`10de:2330`, `10de`, `nvidia`, `all`).
    pub fn kind_of(self, d: &FleetDevice) -> String {
        match self {
            GroupBy::VendorDevice => format!("{:04x}:{:04x}", d.vendor, d.device),
            GroupBy::Vendor => format!("{:04x}", d.vendor),
            GroupBy::Driver => d.driver.clone().unwrap_or_else(|| "(no driver)".into()),
            GroupBy::All => "all".into(),
        }
    }
}

/// The fleet-wide settings: the VM's placement and the skip-vsc-check policy.
#[derive(Debug, Clone, Default)]
pub struct FleetOptions {
    /// The VM's machine type (`-machine`); default: the newest q35 machine type every QEMU of
    /// the fleet defines. An alias (`q35`) resolves against the fleet's oldest QEMU.
    pub machine: Option<String>,
    /// Where the device sits in the guest (default: as `pcimig check` places it).
    pub slot: Option<Slot>,
    /// An explicit `skip-vsc-check` on every host whose QEMU has the property (9.1 and later);
    /// `None`: the machine type's default.
    pub skip_vsc_check: Option<bool>,
    /// What makes two devices of the same kind.
    pub group_by: GroupBy,
    /// Worker threads for the realize (0: the machine's parallelism).
    pub threads: usize,
}

/// A fleet that cannot be analysed (bad options); bad devices are skipped, not errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetError(pub String);

impl fmt::Display for FleetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FleetError {}

/// Everything `pcimig fleet` reports. JSON is its serde form.
#[derive(Debug, Clone, Serialize)]
pub struct FleetReport {
    /// The VM's machine type, as resolved.
    pub machine: String,
    /// The slot.
    pub slot: String,
    /// `on`, `off` or `machine type default`.
    pub skip_vsc_check: String,
    /// What makes two devices of the same kind.
    pub group_by: String,
    /// Devices analysed.
    pub devices: usize,
    /// The distinct destination masks.
    pub masks: Vec<MaskClass>,
    /// Interchangeable devices.
    pub groups: Vec<Group>,
    /// Every ordered pair of groups of the same kind.
    pub matrix: Vec<MatrixEntry>,
    /// Bytes whose values split groups.
    pub split_bytes: Vec<SplitByte>,
    /// Per-device registers that make otherwise equal devices incompatible.
    pub hazards: Vec<Hazard>,
    /// Devices vfio-pci's realize refuses (not in any group).
    pub skipped: Vec<Skipped>,
    /// One row per device (the export's source; not in the JSON).
    #[serde(skip)]
    pub rows: Vec<DeviceRow>,
}

/// One distinct destination mask of a kind.
#[derive(Debug, Clone, Serialize)]
pub struct MaskClass {
    /// Content-derived ID (`m` + 16 hex digits), stable across runs and machines.
    pub id: String,
    /// The kind.
    pub kind: String,
    /// Config size.
    pub size: usize,
    /// Bytes with any checked bit.
    pub checked_bytes: usize,
    /// The QEMU versions of the destinations with this mask.
    pub qemu: Vec<String>,
    /// Effective skip-vsc-check of those destinations.
    pub skip_vsc_check: bool,
}

/// Devices interchangeable both as source and as destination.
#[derive(Debug, Clone, Serialize)]
pub struct Group {
    /// `g1`, `g2`, … in order of each group's first device.
    pub id: String,
    /// The kind.
    pub kind: String,
    /// `SNAPSHOT#BDF` of each member.
    pub devices: Vec<String>,
    /// The destination mask class (`None` when refused).
    pub mask: Option<String>,
    /// The members' QEMU versions.
    pub qemu: Vec<String>,
    /// The members' drivers and versions.
    pub drivers: Vec<String>,
    /// Why these hosts cannot run the VM (their QEMU lacks the machine type).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
}

/// Whether a VM moves from every device of one group onto every device of another.
#[derive(Debug, Clone, Serialize)]
pub struct MatrixEntry {
    /// Source group.
    pub from: String,
    /// Destination group.
    pub to: String,
    /// The restore passes.
    pub pass: bool,
    /// The first failing config offset (QEMU's `i=`), when a byte fails.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<usize>,
    /// Why it fails: the register at `offset`, another config size, or a refusal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A byte whose value (or checked bits) differs between groups so that a move fails on it.
#[derive(Debug, Clone, Serialize)]
pub struct SplitByte {
    /// The kind.
    pub kind: String,
    /// Config offset.
    pub offset: usize,
    /// The register (from the register map).
    pub register: String,
    /// The byte in each group of the kind.
    pub values: Vec<GroupByte>,
}

/// One group's byte at a split offset.
#[derive(Debug, Clone, Serialize)]
pub struct GroupByte {
    /// The group.
    pub group: String,
    /// The config byte (hex).
    pub value: String,
    /// The checked bits of the group's destination mask there (hex).
    pub checked: String,
}

/// A register whose value is per device (a serial number): equal hosts still fail on it.
#[derive(Debug, Clone, Serialize)]
pub struct Hazard {
    /// The kind.
    pub kind: String,
    /// The register's config offsets.
    pub offsets: Vec<usize>,
    /// The register (from the register map).
    pub register: String,
    /// Distinct values among the kind's devices.
    pub distinct_values: usize,
    /// Devices of the kind compared.
    pub devices: usize,
    /// Why it is a hazard.
    pub reason: String,
}

/// A device left out.
#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    /// `SNAPSHOT#BDF`.
    pub device: String,
    /// Why.
    pub reason: String,
}

/// One device as the export writes it.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceRow {
    /// `SNAPSHOT#BDF`.
    pub device: String,
    /// The snapshot file.
    pub snapshot: String,
    /// The host.
    pub host: String,
    /// The BDF.
    pub bdf: String,
    /// Vendor ID (4 hex digits).
    pub vendor: String,
    /// Device ID (4 hex digits).
    pub device_id: String,
    /// The kind.
    pub kind: String,
    /// The driver, if known.
    pub driver: Option<String>,
    /// The driver version, if known.
    pub driver_version: Option<String>,
    /// The QEMU version.
    pub qemu: String,
    /// Config size.
    pub size: usize,
    /// The device's destination mask class (`None`: refused).
    pub dest_mask: Option<String>,
    /// Why the host cannot run the VM, if so.
    pub refusal: Option<String>,
    /// The group pcimig put it in.
    pub group: String,
    /// `(mask class, fingerprint)` for every mask class of its kind; `None`: another size.
    pub fingerprints: Vec<(String, Option<String>)>,
    /// The hazard registers of its kind.
    pub hazards: Vec<String>,
}
