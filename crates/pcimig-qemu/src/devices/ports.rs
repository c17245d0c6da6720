//! PCI Express ports: pcie-root-port (hw/pci-bridge/pcie_root_port.c rp_realize,
//! gen_pcie_root_port.c), ioh3420 (hw/pci-bridge/ioh3420.c), x3130-upstream and
//! xio3130-downstream (hw/pci-bridge/xio3130_*.c).

use super::caps::{aer, msi, port_aer_log, qemu_reserve_cap, slot_options};
use super::ctx::{Ctx, MEM};
use super::{DeviceError, SizeSource};
use pcimig_config::regs::*;
use pcimig_config::{CapId, ExtCapId};

// gen_pcie_root_port.c: GEN_PCIE_ROOT_PORT_AER_OFFSET, GEN_PCIE_ROOT_PORT_ACS_OFFSET, the vendor ID
// of its SSVID, its one MSI-X vector in the exclusive BAR0 (4 KiB).
const GEN_PCIE_ROOT_PORT_AER_OFFSET: usize = 0x100;
const GEN_PCIE_ROOT_PORT_ACS_OFFSET: usize = GEN_PCIE_ROOT_PORT_AER_OFFSET + PCI_ERR_SIZEOF;
const PCI_VENDOR_ID_REDHAT: u16 = 0x1b36;
const GEN_PCIE_ROOT_PORT_MSIX_NR_VECTOR: u16 = 1;
const GEN_PCIE_ROOT_PORT_MSIX_BAR: usize = 0;
const GEN_PCIE_ROOT_PORT_MSIX_BAR_SIZE: u64 = 4096;

/// rp_realize + gen_rp_realize (pcie-root-port).
pub(super) fn gen_rp_realize(c: &mut Ctx<'_>) -> Result<(), DeviceError> {
    let slt_bug = c.machine.writeable_slt_bug();
    c.space.pci_bridge_initfn(true, slt_bug);
    c.space.pcie_port_init_reg();
    c.space.ssvid_init(0, PCI_VENDOR_ID_REDHAT, 0).map_err(|e| c.err(e))?;
    if c.has_std(CapId::Msix).is_some() {
        gen_rp_interrupts_init(c)?;
    }
    let so = slot_options(c);
    let mut opts = c.machine.pcie_cap_options();
    opts.slot_link = Some(c.machine.pcie_root_port_link());
    c.space
        .pcie_cap_init(0, PCI_EXP_TYPE_ROOT_PORT, 0, &opts)
        .map_err(|e| c.err(e))?;
    c.space.pcie_cap_arifwd_init().map_err(|e| c.err(e))?;
    c.space.pcie_cap_deverr_init().map_err(|e| c.err(e))?;
    c.space.pcie_cap_slot_init(&so).map_err(|e| c.err(e))?;
    c.space.pcie_cap_root_init().map_err(|e| c.err(e))?;
    let log_max = port_aer_log(c);
    aer(c, GEN_PCIE_ROOT_PORT_AER_OFFSET, log_max)?;
    c.space.aer_root_init().map_err(|e| c.err(e))?;
    let acs = c.has_ext(ExtCapId::Acs).is_some();
    if acs {
        c.space
            .acs_init(GEN_PCIE_ROOT_PORT_ACS_OFFSET, true)
            .map_err(|e| c.err(e))?;
    }
    gen_rp_reserve_cap_init(c)?;
    c.note(format!(
        "pci_bridge_initfn (PCIe secondary, x-pci-express-writeable-slt-bug {slt_bug}), pcie_port_init_reg, \
         ssvid, msix_init_exclusive_bar(1, BAR0 4 KiB), pcie_cap_init(root port) + arifwd/deverr/slot (power \
         controller {})/root, pcie_aer_init(0x100, log {log_max}, x-pcie-err-unc-mask {}) + aer_root_init, acs {acs}",
        so.power_control,
        c.machine.pcie_err_unc_mask()
    ));
    Ok(())
}

/// gen_rp_interrupts_init: msix_init_exclusive_bar(1 vector, BAR0).
fn gen_rp_interrupts_init(c: &mut Ctx<'_>) -> Result<(), DeviceError> {
    c.space
        .msix_init_exclusive_bar(GEN_PCIE_ROOT_PORT_MSIX_NR_VECTOR, GEN_PCIE_ROOT_PORT_MSIX_BAR as u8)
        .map_err(|e| c.err(e))?;
    c.bars.push(super::ModelBar {
        region: GEN_PCIE_ROOT_PORT_MSIX_BAR,
        bar_type: MEM,
        size: GEN_PCIE_ROOT_PORT_MSIX_BAR_SIZE,
        source: SizeSource::Model,
    });
    Ok(())
}

/// gen_rp_realize's resource-reserve capability; `io-reserve=0` makes Command IO and the I/O
/// window read-only.
fn gen_rp_reserve_cap_init(c: &mut Ctx<'_>) -> Result<(), DeviceError> {
    if qemu_reserve_cap(c)? == Some(0) {
        let r = c.space.raw_mut();
        r.wmask[PCI_COMMAND] &= !(PCI_COMMAND_IO as u8);
        r.wmask[PCI_IO_BASE] = 0;
        r.wmask[PCI_IO_LIMIT] = 0;
    }
    Ok(())
}

// ioh3420.c: IOH_EP_*_OFFSET, the SSVID it writes (Intel, subsystem 0).
const IOH_EP_SSVID_OFFSET: usize = 0x40;
const IOH_EP_SSVID_SVID: u16 = 0x8086;
const IOH_EP_MSI_OFFSET: usize = 0x60;
const IOH_EP_MSI_NR_VECTOR: u32 = 2;
const IOH_EP_EXP_OFFSET: usize = 0x90;
const IOH_EP_AER_OFFSET: usize = 0x100;

/// rp_realize for ioh3420 (Intel X58 root port): SSVID at 0x40 (8086:0000), MSI at 0x60 (2 vectors,
/// 32-bit, maskable), PCIe root-port cap at 0x90 + arifwd/deverr/slot/root, AER at 0x100 + root.
/// No ACS (acs_offset 0), no resource-reserve cap.
pub(super) fn ioh3420_realize(c: &mut Ctx<'_>) -> Result<(), DeviceError> {
    c.space.pci_bridge_initfn(true, c.machine.writeable_slt_bug());
    c.space.pcie_port_init_reg();
    c.space
        .ssvid_init(IOH_EP_SSVID_OFFSET, IOH_EP_SSVID_SVID, 0)
        .map_err(|e| c.err(e))?;
    if c.has_std(CapId::Msi).is_some() {
        msi(c, IOH_EP_MSI_OFFSET, IOH_EP_MSI_NR_VECTOR, false, true)?;
    }
    let opts = c.machine.pcie_cap_options();
    c.space
        .pcie_cap_init(IOH_EP_EXP_OFFSET, PCI_EXP_TYPE_ROOT_PORT, 0, &opts)
        .map_err(|e| c.err(e))?;
    c.space.pcie_cap_arifwd_init().map_err(|e| c.err(e))?;
    c.space.pcie_cap_deverr_init().map_err(|e| c.err(e))?;
    let so = slot_options(c);
    c.space.pcie_cap_slot_init(&so).map_err(|e| c.err(e))?;
    c.space.pcie_cap_root_init().map_err(|e| c.err(e))?;
    let log = port_aer_log(c);
    aer(c, IOH_EP_AER_OFFSET, log)?;
    c.space.aer_root_init().map_err(|e| c.err(e))?;
    c.note(format!(
        "pci_bridge_initfn (PCIe secondary), pcie_port_init_reg, SSVID 0x40, MSI 0x60, pcie_cap_init(root port, \
         0x90) + arifwd/deverr/slot (power controller {})/root, pcie_aer_init(0x100, log {log}) + aer_root_init",
        so.power_control
    ));
    Ok(())
}

// xio3130_upstream.c / xio3130_downstream.c: XIO3130_*_OFFSET.
const XIO3130_MSI_OFFSET: usize = 0x70;
const XIO3130_SSVID_OFFSET: usize = 0x80;
const XIO3130_EXP_OFFSET: usize = 0x90;
const XIO3130_AER_OFFSET: usize = 0x100;

/// xio3130_upstream_realize.
pub(super) fn xio3130_upstream_realize(c: &mut Ctx<'_>) -> Result<(), DeviceError> {
    xio3130_realize(c, false)
}

/// xio3130_downstream_realize.
pub(super) fn xio3130_downstream_realize(c: &mut Ctx<'_>) -> Result<(), DeviceError> {
    xio3130_realize(c, true)
}

/// xio3130_upstream_realize / xio3130_downstream_realize (TI XIO3130 switch ports): MSI at 0x70
/// (1 vector, 64-bit), SSVID at 0x80 (0000:0000), PCIe cap at 0x90 (upstream/downstream) + FLR +
/// deverr (+ slot and arifwd downstream), AER at 0x100.
fn xio3130_realize(c: &mut Ctx<'_>, downstream: bool) -> Result<(), DeviceError> {
    c.space.pci_bridge_initfn(true, c.machine.writeable_slt_bug());
    c.space.pcie_port_init_reg();
    if c.has_std(CapId::Msi).is_some() {
        msi(c, XIO3130_MSI_OFFSET, 1, true, false)?;
    }
    c.space.ssvid_init(XIO3130_SSVID_OFFSET, 0, 0).map_err(|e| c.err(e))?;
    let opts = c.machine.pcie_cap_options();
    let t = if downstream {
        PCI_EXP_TYPE_DOWNSTREAM
    } else {
        PCI_EXP_TYPE_UPSTREAM
    };
    c.space
        .pcie_cap_init(XIO3130_EXP_OFFSET, t, 0, &opts)
        .map_err(|e| c.err(e))?;
    c.space.pcie_cap_flr_init().map_err(|e| c.err(e))?;
    c.space.pcie_cap_deverr_init().map_err(|e| c.err(e))?;
    if downstream {
        let so = slot_options(c);
        c.space.pcie_cap_slot_init(&so).map_err(|e| c.err(e))?;
        c.space.pcie_cap_arifwd_init().map_err(|e| c.err(e))?;
    }
    let log = port_aer_log(c);
    aer(c, XIO3130_AER_OFFSET, log)?;
    c.note(format!(
        "pci_bridge_initfn (PCIe secondary), pcie_port_init_reg, MSI 0x70, SSVID 0x80, pcie_cap_init({}, 0x90) + \
         flr + deverr{}, pcie_aer_init(0x100, log {log})",
        if downstream { "downstream" } else { "upstream" },
        if downstream { " + slot + arifwd" } else { "" }
    ));
    Ok(())
}
