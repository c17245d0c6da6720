//! Capability init helpers several device families share (msi_init, pcie_aer_init, shpc_init's
//! capability, the QEMU resource-reserve capability), with the properties they read back from the
//! destination's bytes.

use super::ctx::Ctx;
use super::DeviceError;
use pcimig_config::le;
use pcimig_config::presets::SlotOptions;
use pcimig_config::regs::*;
use pcimig_config::{Array, CapId, ExtCapId, Preset};

/// PCIEPort's `aer_log_max` default (PCIE_AER_LOG_MAX_DEFAULT).
const PCIE_AER_LOG_MAX_DEFAULT: u16 = 8;

/// MSI geometry from the destination's MSI flags at `pos`: (vectors, 64-bit, per-vector mask).
pub(super) fn msi_geometry(c: &Ctx<'_>, pos: usize) -> (u32, bool, bool) {
    let flags = le::word(c.d.config, pos + PCI_MSI_FLAGS);
    let log2 = (flags & PCI_MSI_FLAGS_QMASK) >> PCI_MSI_FLAGS_QMASK_SHIFT;
    (
        (1u32 << log2).min(PCI_MSI_VECTORS_MAX),
        flags & PCI_MSI_FLAGS_64BIT != 0,
        flags & PCI_MSI_FLAGS_MASKBIT != 0,
    )
}

/// msi_init at `offset` (0: auto-placed).
pub(super) fn msi(c: &mut Ctx<'_>, offset: usize, vectors: u32, bit64: bool, mask: bool) -> Result<(), DeviceError> {
    c.space.msi_init(offset, vectors, bit64, mask).map_err(|e| c.err(e))?;
    c.note(format!(
        "msi_init({offset:#x}, {vectors} vector(s), 64-bit {bit64}, per-vector mask {mask})"
    ));
    Ok(())
}

/// pcie_aer_init at `offset` with QEMU's size and version, `x-pcie-err-unc-mask` from the
/// machine type.
pub(super) fn aer(c: &mut Ctx<'_>, offset: usize, log_max: u16) -> Result<(), DeviceError> {
    let unc_mask = c.machine.pcie_err_unc_mask();
    c.space
        .aer_init(PCI_ERR_VER, offset, PCI_ERR_SIZEOF, log_max, unc_mask)
        .map_err(|e| c.err(e))
}

/// AER log_max from the destination's AER capability (MHRC set only with a log), or `default`
/// when the destination has no AER.
pub(super) fn aer_log(c: &Ctx<'_>, default: u16) -> u16 {
    c.has_ext(ExtCapId::Err)
        .map(|a| u16::from(le::long(c.d.config, a + PCI_ERR_CAP) & PCI_ERR_CAP_MHRC != 0) * PCIE_AER_LOG_MAX_DEFAULT)
        .unwrap_or(default)
}

/// AER log_max of a PCIe port (`aer_log_max`, default 8).
pub(super) fn port_aer_log(c: &Ctx<'_>) -> u16 {
    aer_log(c, PCIE_AER_LOG_MAX_DEFAULT)
}

/// The destination's Slot Capabilities (0 without a PCI Express capability).
pub(super) fn dest_sltcap(c: &Ctx<'_>) -> u32 {
    match c.has_std(CapId::Exp) {
        Some(exp) if exp != 0 => le::long(c.d.config, exp + PCI_EXP_SLTCAP),
        _ => 0,
    }
}

/// SlotOptions (`slot`, hotplug, power controller) from the destination's SLTCAP; Presence
/// Detect State checked before QEMU 8.1 ("pcie: Add hotplug detect state register to cmask").
pub(super) fn slot_options(c: &Ctx<'_>) -> SlotOptions {
    let sltcap = dest_sltcap(c);
    SlotOptions {
        slot: (sltcap >> PCI_EXP_SLTCAP_PSN_SHIFT) as u16,
        hotplug: sltcap & PCI_EXP_SLTCAP_HPC != 0,
        power_control: sltcap & PCI_EXP_SLTCAP_PCP != 0,
        presence_detect_checked: !c.d.qemu.at_least(8, 1),
    }
}

/// SHPC capability (shpc_cap_add_config): 8 bytes, dword select (+2) and dword data (+4) writable.
pub(super) fn shpc_cap(c: &mut Ctx<'_>) -> Result<(), DeviceError> {
    let pos = c
        .space
        .add_capability(CapId::Shpc, 0, SHPC_CAP_LENGTH, Preset::ShpcCapAddConfig)
        .map_err(|e| c.err(e))?;
    let select = pos + SHPC_CAP_DWORD_SELECT;
    c.space
        .fill_range(Array::Wmask, select..select + 1, 0xff)
        .map_err(|e| c.err(e))?;
    let data = pos + SHPC_CAP_DWORD_DATA;
    c.space
        .fill_range(Array::Wmask, data..data + 4, 0xff)
        .map_err(|e| c.err(e))?;
    Ok(())
}

/// PCIBridgeQemuCap (pci_bridge_qemu_reserve_cap_init): a vendor cap with the reservations.
/// Returns the `io` reservation when the destination has the capability.
pub(super) fn qemu_reserve_cap(c: &mut Ctx<'_>) -> Result<Option<u64>, DeviceError> {
    let Some(pos) = c.has_std(CapId::Vndr) else {
        return Ok(None);
    };
    let len = usize::from(c.byte(pos + PCI_VNDR_CAP_LEN));
    c.space
        .add_capability(CapId::Vndr, pos, len.max(2), Preset::PciBridgeQemuReserveCapInit)
        .map_err(|e| c.err(e))?;
    // pci_get_quad as two pci_get_longs (each 0 past the end of the bytes).
    let io_at = pos + QEMU_RESERVE_CAP_IO;
    let io = u64::from(le::long(c.d.config, io_at)) | (u64::from(le::long(c.d.config, io_at + 4)) << 32);
    c.note(format!("QEMU resource-reserve vendor cap at {pos:#x}"));
    Ok(Some(io))
}
