//! vfio_add_virt_caps (hw/vfio/pci-quirks.c): capabilities QEMU adds that the physical device
//! does not have. Both are added with plain pci_add_capability: fully checked.

use super::pci_ids::{INTEL_VMD_SHADOW_DEVICE_IDS, PCI_VENDOR_ID_INTEL, PCI_VENDOR_ID_NVIDIA};
use super::Realize;
use crate::VfioError;
use pcimig_config::regs::*;
use pcimig_config::{CapId, Preset};

/// Where vfio_add_nv_gpudirect_cap puts its capability: 0xc8 unless the physical chain has a
/// capability there, then 0xd4.
const NV_GPUDIRECT_CAP_POSITIONS: [usize; 2] = [0xc8, 0xd4];
/// Length of the GPUDirect clique capability.
const NV_GPUDIRECT_CAP_LEN: usize = 8;
/// Largest `x-nv-gpudirect-clique` (a 4-bit field).
const NV_GPUDIRECT_CLIQUE_MAX: u8 = 15;
/// Shift of the clique ID in its byte.
const NV_GPUDIRECT_CLIQUE_SHIFT: u8 = 3;
/// Where vfio_add_vmd_shadow_cap puts its capability (reserved space after VMD's PM capability).
const VMD_SHADOW_CAP_POS: usize = 0xe8;
/// VMD_SHADOW_CAP_LEN.
const VMD_SHADOW_CAP_LEN: usize = 24;
/// VMD_SHADOW_CAP_VER.
const VMD_SHADOW_CAP_VER: u8 = 1;
/// The shadow capability's signature, "SHDW".
const VMD_SHADOW_SIGNATURE: u32 = 0x5348_4457;
/// The physical MEMBAR dwords the shadow capability copies (BAR2..BAR5).
const VMD_MEMBAR_PHYS_LEN: usize = 16;

impl Realize<'_> {
    /// vfio_add_virt_caps: the NVIDIA GPUDirect clique VSC, then the Intel VMD MEMBAR shadow VSC.
    pub(super) fn vfio_add_virt_caps(&mut self) -> Result<(), VfioError> {
        self.vfio_add_nv_gpudirect_cap()?;
        self.vfio_add_vmd_shadow_cap()
    }

    /// vfio_add_nv_gpudirect_cap: with `x-nv-gpudirect-clique`, an 8-byte VSC ("P2P", the
    /// clique ID) on an NVIDIA display device, at 0xc8 or 0xd4, whichever the physical chain
    /// leaves free.
    fn vfio_add_nv_gpudirect_cap(&mut self) -> Result<(), VfioError> {
        let Some(clique) = self.opts.nv_gpudirect_clique else {
            return Ok(());
        };
        if clique > NV_GPUDIRECT_CLIQUE_MAX {
            return Err(VfioError::BadOption(format!(
                "x-nv-gpudirect-clique {clique}: valid values are 0..15"
            )));
        }
        if self.ids().0 != PCI_VENDOR_ID_NVIDIA {
            return Err(VfioError::BadOption(
                "NVIDIA GPUDirect Clique ID: invalid device vendor".into(),
            ));
        }
        if self.space.config()[PCI_CLASS_DEVICE + 1] != PCI_BASE_CLASS_DISPLAY {
            return Err(VfioError::BadOption(
                "NVIDIA GPUDirect Clique ID: unsupported PCI class".into(),
            ));
        }
        let pos = NV_GPUDIRECT_CAP_POSITIONS
            .into_iter()
            .find(|&p| !self.physical_std_caps.iter().any(|e| e.offset == p))
            .ok_or_else(|| VfioError::BadOption("NVIDIA GPUDirect Clique ID: invalid config space".into()))?;
        self.space
            .add_capability(CapId::Vndr, pos, NV_GPUDIRECT_CAP_LEN, Preset::VfioAddNvGpudirectCap)
            .map_err(|e| VfioError::BadOption(format!("Failed to add NVIDIA GPUDirect cap: {e}")))?;
        let payload = [
            NV_GPUDIRECT_CAP_LEN as u8,
            b'P',
            b'2',
            b'P',
            clique << NV_GPUDIRECT_CLIQUE_SHIFT,
            0,
        ];
        self.space.config_mut()[pos + PCI_CAP_FLAGS..pos + NV_GPUDIRECT_CAP_LEN].copy_from_slice(&payload);
        self.notes.push(format!(
            "QEMU's NVIDIA GPUDirect clique VSC added at {pos:#x} (fully checked)"
        ));
        Ok(())
    }

    /// vfio_add_vmd_shadow_cap: on Intel VMD devices, a 24-byte VSC at 0xe8 (length, version,
    /// "SHDW", the physical MEMBAR2..5 dwords).
    fn vfio_add_vmd_shadow_cap(&mut self) -> Result<(), VfioError> {
        let (vendor, device) = self.ids();
        if vendor != PCI_VENDOR_ID_INTEL || !INTEL_VMD_SHADOW_DEVICE_IDS.contains(&device) {
            return Ok(());
        }
        let pos = VMD_SHADOW_CAP_POS;
        self.space
            .add_capability(CapId::Vndr, pos, VMD_SHADOW_CAP_LEN, Preset::VfioAddVmdShadowCap)
            .map_err(|e| VfioError::BadOption(format!("Failed to add VMD MEMBAR Shadow cap: {e}")))?;
        let membar_phys = &self.physical[PCI_BASE_ADDRESS_2..PCI_BASE_ADDRESS_2 + VMD_MEMBAR_PHYS_LEN];
        let cfg = self.space.config_mut();
        let mut at = pos + PCI_CAP_FLAGS;
        cfg[at] = VMD_SHADOW_CAP_LEN as u8;
        cfg[at + 1] = VMD_SHADOW_CAP_VER;
        at += 2;
        cfg[at..at + 4].copy_from_slice(&VMD_SHADOW_SIGNATURE.to_le_bytes());
        cfg[at + 4..at + 4 + VMD_MEMBAR_PHYS_LEN].copy_from_slice(membar_phys);
        self.notes
            .push("QEMU's Intel VMD MEMBAR shadow VSC added at 0xe8 (fully checked)".into());
        Ok(())
    }
}
