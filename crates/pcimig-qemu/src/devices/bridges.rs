//! PCI-to-PCI bridges with a conventional secondary bus: pci-bridge
//! (hw/pci-bridge/pci_bridge_dev.c) and pcie-pci-bridge (hw/pci-bridge/pcie_pci_bridge.c).

use super::caps::{aer, aer_log, msi, qemu_reserve_cap, shpc_cap};
use super::ctx::{Ctx, MEM64};
use super::DeviceError;
use pcimig_config::regs::*;
use pcimig_config::{Array, CapId, Preset};

/// shpc_bar_size: pow2roundup32(SHPC_SLOT_REG(SHPC_MAX_SLOTS)) = 256 bytes.
const SHPC_BAR_SIZE: u64 = 256;
/// pcie_pci_bridge_realize's AER offset (0x100, the first extended capability).
const PCIE_PCI_BRIDGE_AER_OFFSET: usize = PCI_CONFIG_SPACE_SIZE;

/// pcie_pci_bridge_realize (pcie-pci-bridge): pci_bridge_initfn with a conventional secondary bus,
/// SHPC, PCIe v2 cap of type PCI/PCI-X bridge + PM (PMC 3, no wmask) + arifwd + deverr, AER at 0x100,
/// MSI (1 vector, 64-bit, maskable; `msi`), BAR0 mem64 256 B for the SHPC.
pub(super) fn pcie_pci_bridge_realize(c: &mut Ctx<'_>) -> Result<(), DeviceError> {
    c.space.pci_bridge_initfn(false, c.machine.writeable_slt_bug());
    shpc_cap(c)?;
    let opts = c.machine.pcie_cap_options();
    c.space
        .pcie_cap_init(0, PCI_EXP_TYPE_PCI_BRIDGE, 0, &opts)
        .map_err(|e| c.err(e))?;
    c.space.pm_init(0, false).map_err(|e| c.err(e))?;
    c.space.pcie_cap_arifwd_init().map_err(|e| c.err(e))?;
    c.space.pcie_cap_deverr_init().map_err(|e| c.err(e))?;
    let log_max = aer_log(c, 0);
    aer(c, PCIE_PCI_BRIDGE_AER_OFFSET, log_max)?;
    if c.has_std(CapId::Msi).is_some() {
        msi(c, 0, 1, true, true)?;
    }
    c.bar(0, MEM64, SHPC_BAR_SIZE)?;
    c.note(format!(
        "pci_bridge_initfn (conventional secondary), SHPC cap + BAR0 mem64 256 B, pcie_cap_init(PCI bridge, ext-tag \
         {}) + pci_pm_init + arifwd + deverr, pcie_aer_init(0x100, x-pcie-err-unc-mask {})",
        opts.ext_tag,
        c.machine.pcie_err_unc_mask()
    ));
    Ok(())
}

/// slotid_cap_init(nslots 0, chassis, offset 0): 4 bytes, ESR cmask 0xff, chassis number writable.
fn slotid_cap_init(c: &mut Ctx<'_>) -> Result<(), DeviceError> {
    let sid = c
        .space
        .add_capability(CapId::SlotId, 0, SLOTID_CAP_LENGTH, Preset::SlotidCapInit)
        .map_err(|e| c.err(e))?;
    let esr = sid + PCI_SID_ESR;
    c.space
        .fill_range(Array::Cmask, esr..esr + 1, 0xff)
        .map_err(|e| c.err(e))?;
    let chassis = sid + PCI_SID_CHASSIS_NR;
    c.space
        .fill_range(Array::Wmask, chassis..chassis + 1, 0xff)
        .map_err(|e| c.err(e))?;
    Ok(())
}

/// pci_bridge_dev_realize (pci-bridge): SHPC cap + 64-bit BAR0 (when `shpc`), slot-ID cap, MSI (1
/// vector, 64-bit, maskable; only with SHPC), optional reserve cap.
pub(super) fn pci_bridge_dev_realize(c: &mut Ctx<'_>) -> Result<(), DeviceError> {
    c.space.pci_bridge_initfn(false, c.machine.writeable_slt_bug());
    let shpc = c.has_std(CapId::Shpc).is_some();
    if shpc {
        shpc_cap(c)?;
    }
    slotid_cap_init(c)?;
    if c.has_std(CapId::Msi).is_some() {
        msi(c, 0, 1, true, true)?;
    }
    qemu_reserve_cap(c)?;
    if shpc {
        c.bar(0, MEM64, SHPC_BAR_SIZE)?;
    }
    c.note(format!(
        "pci_bridge_initfn (conventional secondary), {}, slotid_cap_init (ESR checked, chassis writable)",
        if shpc {
            "SHPC cap (dword select +2 and data +4 writable) + BAR0 mem64 256 B + MSI (1 vector, maskable)"
        } else {
            "no SHPC (shpc=off), no MSI"
        }
    ));
    Ok(())
}
