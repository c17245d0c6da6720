//! Vendor and device IDs vfio's quirks look for (QEMU's include/hw/pci/pci_ids.h names; the
//! device lists as QEMU's hw/vfio sources spell them).

/// PCI_VENDOR_ID_INTEL.
pub(super) const PCI_VENDOR_ID_INTEL: u16 = 0x8086;
/// PCI_VENDOR_ID_NVIDIA.
pub(super) const PCI_VENDOR_ID_NVIDIA: u16 = 0x10de;
/// PCI_VENDOR_ID_BROADCOM.
pub(super) const PCI_VENDOR_ID_BROADCOM: u16 = 0x14e4;
/// PCI_VENDOR_ID_CHELSIO.
pub(super) const PCI_VENDOR_ID_CHELSIO: u16 = 0x1425;
/// PCI_VENDOR_ID_BAIDU.
pub(super) const PCI_VENDOR_ID_BAIDU: u16 = 0x1d22;
/// PCI_DEVICE_ID_KUNLUN_VF.
pub(super) const PCI_DEVICE_ID_KUNLUN_VF: u16 = 0x3685;
/// Broadcom BCM57810, the one entry of vfio_opt_rom_in_denylist (romblacklist).
pub(super) const PCI_DEVICE_ID_BCM57810: u16 = 0x168e;
/// Chelsio T5 Virtual Functions: device IDs 0x58xx (vfio_msix_early_setup).
pub(super) const CHELSIO_T5_VF_DEVICE_ID: u16 = 0x5800;
/// The device-ID bits that select the Chelsio T5 VF range.
pub(super) const CHELSIO_T5_VF_DEVICE_MASK: u16 = 0xff00;
/// Intel VMD devices that get the MEMBAR shadow capability (vfio_add_vmd_shadow_cap).
pub(super) const INTEL_VMD_SHADOW_DEVICE_IDS: [u16; 4] = [0x201d, 0x467f, 0x4c3d, 0x9a0b];
/// The vendor ID no device has (what a read of absent hardware returns); vfio_realize refuses
/// it as an `x-pci-vendor-id` (`vendor_id >= 0xffff`).
pub(super) const PCI_VENDOR_ID_INVALID: u16 = 0xffff;
