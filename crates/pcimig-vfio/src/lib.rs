//! # pcimig-vfio
//!
//! Build the guest-visible config space of a vfio-pci device, and the masks QEMU checks it
//! with, from the physical device's config space — exactly as QEMU 10.0.2's `hw/vfio/pci.c`
//! does at realize time.
//!
//! ## Why this matters for migration
//! On restore, QEMU compares the saved config of a vfio-pci device with the *destination's*
//! realize-time view of its own physical device, over the bits the destination's masks check.
//! Those masks come from vfio's virtualization: BARs and ROM registered by size, the standard
//! capability chain rebuilt from the physical one (each capability sized by the distance to the
//! next one by address), PM/MSI/MSI-X/PCIe special cases, and the extended chain re-linked with
//! some capabilities dropped. NVIDIA vGPU drivers change the payload of Vendor Specific
//! Capabilities (ID 0x09) between driver versions; since QEMU 9.1 the `skip-vsc-check`
//! property (default on, off for machine types 9.0 and older) exempts everything after a VSC's
//! 3-byte header from the check.
//!
//! ## Use
//! ```
//! use pcimig_vfio::{virtualize, VfioOptions};
//! let mut phys = vec![0u8; 256];
//! phys[0..4].copy_from_slice(&[0xde, 0x10, 0x30, 0x23]); // 10de:2330
//! phys[6] = 0x10; // capability list
//! phys[0x34] = 0x40;
//! phys[0x40..0x44].copy_from_slice(&[0x09, 0x00, 0x14, 0xaa]); // a VSC, last in the chain
//! let dev = virtualize(&phys, &VfioOptions::default()).unwrap();
//! // Header of the VSC checked, its payload (up to 0x100) exempt by skip-vsc-check.
//! assert_eq!(dev.space.checked()[0x42], 0xff);
//! assert_eq!(dev.space.checked()[0x43], 0x00);
//! assert_eq!(dev.space.exemptions()[0].policy, "skip-vsc-check");
//! ```
#![deny(missing_docs)]

pub mod kernel;
mod policy;
mod virtualize;

pub use kernel::{present as kernel_present, KernelFacts, KernelLayerError, KernelView, KERNEL_VERSION};
pub use pcimig_config::QemuVersion;
pub use policy::{
    effective_skip_vsc_check, effective_skip_vsc_check_in, resolve_slot_and_machine, vfio_pci_property_since,
    Effective, MachineFamily, MachineType, MachineTypeError, Slot, LATEST_MACHINE,
};
pub use virtualize::{virtualize, DroppedCap, VfioDevice};

use thiserror::Error;

use pcimig_config::ConfigError;
pub use pcimig_config::ExemptPolicy;

/// Name of the QEMU policy that exempts VSC payloads ([`ExemptPolicy::SkipVscCheck`]).
pub const POLICY_SKIP_VSC_CHECK: &str = ExemptPolicy::SkipVscCheck.as_str();
/// Name of pcimig's opt-in policy that exempts extended vendor-specific payloads
/// ([`ExemptPolicy::ExemptExtVendor`]).
pub const POLICY_EXEMPT_EXT_VENDOR: &str = ExemptPolicy::ExemptExtVendor.as_str();

/// Options of the virtualization: what config bytes cannot say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VfioOptions {
    /// Where the device sits in the guest.
    pub slot: Slot,
    /// The machine type (decides the `skip-vsc-check` default).
    pub machine: MachineType,
    /// The destination's QEMU version: which vfio-pci properties exist and what its realize
    /// does ([`vfio_pci_property_since`], `docs/qemu-versions.md`).
    pub qemu: QemuVersion,
    /// An explicit `skip-vsc-check` property (wins over the machine-type compat).
    pub skip_vsc_check: Option<bool>,
    /// BAR 0..5 sizes in bytes, when known (`Some(0)` / `None` entry: not implemented).
    pub bar_sizes: Option<[Option<u64>; 6]>,
    /// Expansion ROM size, when known (`Some(0)`: no ROM). Without it the ROM is not registered.
    pub rom_size: Option<u64>,
    /// pcimig's opt-in policy (never on by default): exempt the payload of extended Vendor
    /// Specific (0x000b) and DVSEC (0x0023) capabilities after their headers.
    pub exempt_ext_vendor: bool,
    /// QEMU's `multifunction` property (header type bit 0x80 is emulated).
    pub multifunction: bool,
    /// `x-nv-gpudirect-clique` (0..15): adds QEMU's GPUDirect P2P clique VSC.
    pub nv_gpudirect_clique: Option<u8>,
    /// `x-pci-vendor-id`, `x-pci-device-id`, `x-pci-sub-vendor-id`, `x-pci-sub-device-id`.
    pub id_overrides: IdOverrides,
}

/// The `x-pci-*-id` properties that replace IDs in the guest's view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IdOverrides {
    /// `x-pci-vendor-id`.
    pub vendor_id: Option<u16>,
    /// `x-pci-device-id`.
    pub device_id: Option<u16>,
    /// `x-pci-sub-vendor-id`.
    pub sub_vendor_id: Option<u16>,
    /// `x-pci-sub-device-id`.
    pub sub_device_id: Option<u16>,
}

impl Default for VfioOptions {
    /// A device behind a PCIe port on the current q35 machine, default properties, no BAR sizes.
    fn default() -> Self {
        VfioOptions {
            slot: Slot::PciePort,
            machine: MachineType::latest(MachineFamily::Q35),
            qemu: QemuVersion::DEFAULT,
            skip_vsc_check: None,
            bar_sizes: None,
            rom_size: None,
            exempt_ext_vendor: false,
            multifunction: false,
            nv_gpudirect_clique: None,
            id_overrides: IdOverrides::default(),
        }
    }
}

/// Why a physical config cannot be virtualized: the reason QEMU (or the host's vfio-pci
/// driver) would refuse the device, in its words where it has some.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum VfioError {
    /// A config that is not 256 or 4096 bytes.
    #[error("a vfio-pci config region is 256 or 4096 bytes, not {0}")]
    BadSize(usize),
    /// A header type other than 0: the host's vfio-pci driver refuses to bind it.
    #[error("header type {0:#04x}: the host vfio-pci driver binds only type 0 (endpoint) headers (vfio_pci_probe refuses bridges), so QEMU never sees this device")]
    NotType0(u8),
    /// A standard or extended capability chain that loops: QEMU's recursive walk never ends.
    #[error("{kind} capability chain loops at {at:#x}: QEMU's vfio capability walk would not terminate: QEMU hangs at realize")]
    CapLoop {
        /// `standard` or `extended`.
        kind: &'static str,
        /// The revisited offset.
        at: usize,
    },
    /// A capability pointer QEMU cannot use.
    #[error("{0}")]
    BadPointer(String),
    /// An Interrupt Pin above 4 (INTD): QEMU aborts at machine reset, before the guest runs
    /// (vfio_intx_enable takes INTx pin `pin - 1`; vfio_pci_pre_reset -> vfio_intx_disable ->
    /// pci_irq_deassert -> pci_irq_handler asserts `irq_num < PCI_NUM_PINS`).
    #[error("Interrupt Pin (0x3d) is {0:#04x}, above 4 (INTD): QEMU would abort when it resets the device, before the guest runs (vfio_intx_enable takes INTx pin {0} - 1; vfio_pci_pre_reset -> vfio_intx_disable -> pci_irq_deassert -> pci_irq_handler: Assertion `0 <= irq_num && irq_num < PCI_NUM_PINS' failed)")]
    InterruptPin(u8),
    /// QEMU's realize error for a capability (prefixed as vfio_add_std_cap prefixes it).
    #[error("failed to add PCI capability {cap_id:#x}[{size:#x}]@{pos:#x}: {reason}")]
    AddCapability {
        /// Capability ID.
        cap_id: u8,
        /// Size vfio computed.
        size: usize,
        /// Offset.
        pos: usize,
        /// QEMU's message.
        reason: String,
    },
    /// MSI-X setup failure (vfio_msix_early_setup / msix_init).
    #[error("{0}")]
    Msix(String),
    /// A BAR or ROM size that cannot be registered.
    #[error("{0}")]
    BadBar(String),
    /// An option that cannot be applied.
    #[error("{0}")]
    BadOption(String),
    /// A BAR or ROM that the model cannot register (pci_register_bar's checks).
    #[error("{0}")]
    Bar(#[source] ConfigError),
    /// The config-space model refused an access or a capability while realizing.
    #[error("{0}")]
    Config(#[from] ConfigError),
}
