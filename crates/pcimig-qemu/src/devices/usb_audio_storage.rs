//! USB, audio and storage controllers with capabilities: xhci (hw/usb/hcd-xhci-pci.c), intel-hda
//! (hw/audio/intel-hda.c), ich9-ahci (hw/ide/ich.c).

use super::caps::{msi, msi_geometry};
use super::ctx::{Ctx, IO, MEM, MEM64};
use super::DeviceError;
use pcimig_config::le;
use pcimig_config::presets::{msix_table_size, MsixLayout};
use pcimig_config::regs::*;
use pcimig_config::{CapId, Preset};

// hcd-xhci-pci.c: the capability offsets of usb_xhci_pci_realize, OFF_MSIX_TABLE, OFF_MSIX_PBA.
const XHCI_MSI_OFFSET: usize = 0x70;
const XHCI_EXP_OFFSET: usize = 0xa0;
const XHCI_MSIX_OFFSET: usize = 0x90;
const XHCI_BAR_SIZE: u64 = 0x4000;
const OFF_MSIX_TABLE: u32 = 0x3000;
const OFF_MSIX_PBA: u32 = 0x3800;

/// usb_xhci_pci_realize: MSI at 0x70 (`intrs` vectors, 64-bit), BAR0 64-bit 16 KiB, PCIe endpoint
/// cap at 0xa0 on a PCIe bus, MSI-X at 0x90 (`intrs` vectors in BAR0 at 0x3000/0x3800).
pub(super) fn usb_xhci_pci_realize(c: &mut Ctx<'_>) -> Result<(), DeviceError> {
    if let Some(pos) = c.has_std(CapId::Msi) {
        let (n, b64, m) = msi_geometry(c, pos);
        msi(c, XHCI_MSI_OFFSET, n, b64, m)?;
    }
    c.bar(0, MEM64, XHCI_BAR_SIZE)?;
    if c.has_std(CapId::Exp).is_some() {
        let opts = c.machine.pcie_cap_options();
        c.space
            .pcie_endpoint_cap_init(XHCI_EXP_OFFSET, false, &opts)
            .map_err(|e| c.err(e))?;
        c.note(format!(
            "pcie_endpoint_cap_init(0xa0, ext-tag {}) (PCIe bus)",
            opts.ext_tag
        ));
    }
    if let Some(pos) = c.has_std(CapId::Msix) {
        let n = msix_table_size(le::word(c.d.config, pos + PCI_MSIX_FLAGS));
        let bar0 = c.bar_size(0, XHCI_BAR_SIZE);
        let layout = MsixLayout {
            nentries: n,
            table_bar: 0,
            table_offset: OFF_MSIX_TABLE,
            pba_bar: 0,
            pba_offset: OFF_MSIX_PBA,
            bar_sizes: Some((bar0, bar0)),
        };
        c.space.msix_init(XHCI_MSIX_OFFSET, &layout).map_err(|e| c.err(e))?;
        c.note(format!("msix_init(0x90, {n} vectors, BAR0)"));
    }
    c.note("BAR0 mem64 16 KiB");
    Ok(())
}

/// intel_hda_realize: MSI at 0x60 (0x50 with old_msi_addr; 1 vector, 64-bit), BAR0 16 KiB.
pub(super) fn intel_hda_realize(c: &mut Ctx<'_>) -> Result<(), DeviceError> {
    if let Some(pos) = c.has_std(CapId::Msi) {
        msi(c, pos, 1, true, false)?;
    }
    c.bar(0, MEM, 0x4000)?;
    c.note("BAR0 mem 16 KiB");
    Ok(())
}

// ich.c: ICH9_MSI_CAP_OFFSET, ICH9_SATA_CAP_OFFSET.
const ICH9_MSI_CAP_OFFSET: usize = 0x80;
const ICH9_SATA_CAP_OFFSET: usize = 0xa8;

/// pci_ich9_ahci_realize: BAR4 I/O 32 B (IDP), BAR5 mem 4 KiB (ABAR), SATA cap at 0xa8 (8 bytes,
/// read-only), MSI at 0x80 (1 vector, 64-bit).
pub(super) fn pci_ich9_ahci_realize(c: &mut Ctx<'_>) -> Result<(), DeviceError> {
    c.bar(4, IO, 32)?;
    c.bar(5, MEM, 0x1000)?;
    c.space
        .add_capability(
            CapId::Sata,
            ICH9_SATA_CAP_OFFSET,
            SATA_CAP_SIZE,
            Preset::PciIch9AhciRealize,
        )
        .map_err(|e| c.err(e))?;
    if c.has_std(CapId::Msi).is_some() {
        msi(c, ICH9_MSI_CAP_OFFSET, 1, true, false)?;
    }
    c.note("BAR4 I/O 32 B, BAR5 mem 4 KiB; SATA cap at 0xa8");
    Ok(())
}
