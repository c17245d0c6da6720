//! # pcimig-config
//!
//! A PCI/PCIe configuration-space model with QEMU's exact semantics, for predicting whether a
//! live migration's restore will accept a device's config space — and for Rust VMMs that want
//! QEMU-compatible PCI device state.
//!
//! ## The domain in one paragraph
//! QEMU keeps five arrays per PCI device, one byte per config byte: `config` (the emulated
//! bytes), `cmask` (bits compared when a migration is loaded), `wmask` (bits the guest may
//! write), `w1cmask` (write-1-to-clear bits) and `used` (which bytes a standard capability owns).
//! When a VM is restored, QEMU's `get_pci_config_device` compares each incoming config byte with
//! the destination device's byte over `cmask & !wmask & !w1cmask` and fails the whole restore on
//! the first difference with `Bad config data: i=0x.. read: .. device: ..`. Which bits are checked
//! is decided entirely by how the destination device built its masks: header init, BAR
//! registration, capability presets (PM, MSI, MSI-X, PCI Express, AER …) and, for vfio-pci,
//! the virtualization rules in the `pcimig-vfio` crate.
//!
//! ## Map of the crate
//! - [`ConfigSpace`]: the five arrays, guest [`read`](ConfigSpace::read) /
//!   [`write`](ConfigSpace::write) with `pci_default_write_config` semantics.
//! - [`header`]: `do_pci_register_device`'s mask init for type 0 and type 1 headers, bridge
//!   setup, BAR/ROM registration.
//! - [`caps`]: capability add/delete/find, extended capabilities, a tolerant chain walker.
//! - [`presets`]: the masks of the capabilities QEMU implements.
//! - [`check`]: the restore check, reporting every mismatch and QEMU's exact line for the first.
//! - [`regmap`]: the register map as data (offset, width, name, bit fields per register).
//! - [`names`]: where any byte is (register, capability), named from the register map.
//! - [`le`]: bounds-checked little-endian reads from byte slices.
//! - [`machine`]: QEMU's x86 machine types and their compat table (`hw_compat_*`) as data.
//! - [`vmstate`]: the `PCIDevice` state in QEMU's wire format.
//!
//! No I/O happens here; readers live in the `pcimig` crate.
//!
//! ```
//! use pcimig_config::{ConfigSpace, ConfigSize, DeviceParams, DeviceIdentity, HeaderKind, restore_check};
//! let mut dest = ConfigSpace::new_device(&DeviceParams {
//!     size: ConfigSize::Conventional,
//!     header: HeaderKind::Type0,
//!     identity: DeviceIdentity { vendor_id: 0x8086, device_id: 0x100c, class_id: 0x0200, ..Default::default() },
//!     multifunction: false,
//! });
//! let mut saved = dest.config().to_vec();
//! saved[2] = 0x0e; // the source was a 0x100e
//! let report = restore_check(&saved, &dest).unwrap();
//! assert_eq!(report.qemu_line().unwrap(),
//!     "get_pci_config_device: Bad config data: i=0x2 read: e device: c cmask: ff wmask: 0 w1cmask:0");
//! assert_eq!(report.mismatches[0].location.to_string(), "Device ID");
//! ```
#![deny(missing_docs)]

pub mod caps;
pub mod check;
mod error;
pub mod header;
mod header_caps;
mod ids;
pub mod le;
pub mod limits;
pub mod machine;
pub mod names;
mod origin;
pub mod presets;
pub mod qemu_version;
pub mod regmap;
pub mod regs;
mod reset;
mod space;
pub mod vmstate;

pub use caps::{walk_ext, walk_ext_with, walk_std, walk_std_with, CapChain, CapEntry, ChainIssue, WalkRules};
pub use check::{restore_check, CheckReport, Mismatch};
pub use error::ConfigError;
pub use header::{DeviceIdentity, DeviceParams, HeaderKind};
pub use ids::{AnyCapId, CapId, ExtCapId};
pub use machine::{MachineFamily, MachineType, MachineTypeError};
pub use names::{locate_in_bytes, CapLocation, Location};
pub use origin::{ExemptPolicy, Preset};
pub use qemu_version::{QemuVersion, QemuVersionError};
pub use space::{Array, BarInfo, ByteMasks, CapRecord, ConfigSize, ConfigSpace, Exemption, PciAddress, RawMut};
pub use vmstate::{Embedding, PciDeviceState, VmstateError};
