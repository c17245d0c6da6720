//! Network cards with capabilities or quirks: e1000 (hw/net/e1000.c), e1000e (hw/net/e1000e.c),
//! rtl8139 (hw/net/rtl8139.c), vmxnet3 (hw/net/vmxnet3.c).

use super::caps::{aer, msi};
use super::ctx::{Ctx, IO, MEM};
use super::rom::pci_add_option_rom;
use super::DeviceError;
use pcimig_config::presets::MsixLayout;
use pcimig_config::regs::*;
use pcimig_config::{Array, CapId};

/// pci_e1000_realize: BAR0 MMIO 128 KiB, BAR1 I/O 64 bytes, option ROM efi-e1000.rom. No capabilities.
pub(super) fn pci_e1000_realize(c: &mut Ctx<'_>) -> Result<(), DeviceError> {
    c.bar(0, MEM, 0x20000)?;
    c.bar(1, IO, 0x40)?;
    c.note("BAR0 mem 128 KiB, BAR1 I/O 64 B; no capabilities");
    pci_add_option_rom(c, "efi-e1000.rom")
}

/// pci_rtl8139_realize: BAR0 I/O 256 bytes, BAR1 MMIO alias 256 bytes; config[0x34] = 0xdc with
/// no capability (a fixed header byte, checked), option ROM efi-rtl8139.rom.
pub(super) fn pci_rtl8139_realize(c: &mut Ctx<'_>) -> Result<(), DeviceError> {
    c.bar(0, IO, 0x100)?;
    c.bar(1, MEM, 0x100)?;
    c.note("BAR0 I/O 256 B, BAR1 mem 256 B; capability pointer 0xdc without a capability (checked)");
    // pci_conf[PCI_CAPABILITY_LIST] = 0xdc with Status CAP_LIST clear: walk_std sees no chain.
    pci_add_option_rom(c, "efi-rtl8139.rom")
}

// e1000e.c: E1000E_*_IDX, E1000E_MSIX_*, e1000e_*_offset, E1000E_MSIX_VEC_NUM.
const E1000E_MMIO_IDX: usize = 0;
const E1000E_FLASH_IDX: usize = 1;
const E1000E_IO_IDX: usize = 2;
const E1000E_MSIX_IDX: usize = 3;
const E1000E_MSIX_SIZE: u64 = 16 * 1024;
const E1000E_MSIX_TABLE: u32 = 0x0000;
const E1000E_MSIX_PBA: u32 = 0x2000;
const E1000E_MSIX_CAP_ID_OFFSET: usize = 0xa0;
const E1000E_MSIX_VEC_NUM: u16 = 5;
const E1000E_MSI_CAP_OFFSET: usize = 0xd0;
const E1000E_PMRB_OFFSET: usize = 0xc8;
const E1000E_PCIE_OFFSET: usize = 0xe0;
const E1000E_AER_OFFSET: usize = 0x100;
const E1000E_DSN_OFFSET: usize = 0x140;

/// e1000e_pci_realize: four BARs, MSI-X (5 vectors, BAR3, cap 0xa0), PCIe v1 endpoint cap at 0xe0,
/// MSI at 0xd0 (1 vector, 64-bit), PM at 0xc8 with PMCSR wmask/w1cmask set by the device, AER at
/// 0x100 (log_max 0), DSN at 0x140.
pub(super) fn e1000e_pci_realize(c: &mut Ctx<'_>) -> Result<(), DeviceError> {
    c.bar(E1000E_MMIO_IDX, MEM, 128 * 1024)?;
    c.bar(E1000E_FLASH_IDX, MEM, 128 * 1024)?;
    c.bar(E1000E_IO_IDX, IO, 32)?;
    c.bar(E1000E_MSIX_IDX, MEM, E1000E_MSIX_SIZE)?;
    let msix_bar = c.bar_size(E1000E_MSIX_IDX, E1000E_MSIX_SIZE);
    let layout = MsixLayout {
        nentries: E1000E_MSIX_VEC_NUM,
        table_bar: E1000E_MSIX_IDX as u8,
        table_offset: E1000E_MSIX_TABLE,
        pba_bar: E1000E_MSIX_IDX as u8,
        pba_offset: E1000E_MSIX_PBA,
        bar_sizes: Some((msix_bar, msix_bar)),
    };
    c.space
        .msix_init(E1000E_MSIX_CAP_ID_OFFSET, &layout)
        .map_err(|e| c.err(e))?;
    let opts = c.machine.pcie_cap_options();
    c.space
        .pcie_cap_v1_init(E1000E_PCIE_OFFSET, PCI_EXP_TYPE_ENDPOINT, 0, opts.ext_tag)
        .map_err(|e| c.err(e))?;
    msi(c, E1000E_MSI_CAP_OFFSET, 1, true, false)?;
    e1000e_add_pm_capability(c)?;
    aer(c, E1000E_AER_OFFSET, 0)?;
    c.space.dsn_init(E1000E_DSN_OFFSET, 0).map_err(|e| c.err(e))?;
    c.note(format!(
        "BAR0 mem 128 KiB, BAR1 flash 128 KiB, BAR2 I/O 32 B, BAR3 MSI-X 16 KiB; msix_init(5 vectors, cap 0xa0); \
         pcie_endpoint_cap_v1_init(0xe0, ext-tag {}); msi_init(0xd0); PM at 0xc8 (PMCSR wmask 0x1f03, w1c 0x8000); \
         pcie_aer_init(0x100, x-pcie-err-unc-mask {}); DSN at 0x140",
        opts.ext_tag,
        c.machine.pcie_err_unc_mask()
    ));
    pci_add_option_rom(c, "efi-e1000e.rom")
}

/// e1000e_add_pm_capability: pci_pm_init at 0xc8, then PMCSR wmask STATE|PME_ENABLE|DATA_SEL and
/// w1cmask PME_STATUS.
fn e1000e_add_pm_capability(c: &mut Ctx<'_>) -> Result<(), DeviceError> {
    let pm = c.space.pm_init(E1000E_PMRB_OFFSET, false).map_err(|e| c.err(e))?;
    let wmask = PCI_PM_CTRL_STATE_MASK | PCI_PM_CTRL_PME_ENABLE | PCI_PM_CTRL_DATA_SEL_MASK;
    c.space
        .set_le(Array::Wmask, pm + PCI_PM_CTRL, 2, u64::from(wmask))
        .map_err(|e| c.err(e))?;
    c.space
        .set_le(Array::W1cmask, pm + PCI_PM_CTRL, 2, u64::from(PCI_PM_CTRL_PME_STATUS))
        .map_err(|e| c.err(e))?;
    Ok(())
}

// vmxnet3.c: VMXNET3_*_OFFSET, VMXNET3_*_IDX, VMXNET3_OFF_MSIX_*, VMXNET3_MAX_INTRS.
const VMXNET3_BAR0_IDX: usize = 0;
const VMXNET3_BAR1_IDX: usize = 1;
const VMXNET3_MSIX_BAR_IDX: usize = 2;
const VMXNET3_MSIX_BAR_SIZE: u64 = 0x2000;
const VMXNET3_OFF_MSIX_TABLE: u32 = 0x000;
const VMXNET3_MAX_INTRS: u16 = 25;
const VMXNET3_EXP_EP_OFFSET: usize = 0x48;
const VMXNET3_DSN_OFFSET: usize = 0x100;
/// (MSI, MSI-X, PBA) offsets: current, and with `x-old-msi-offsets`.
const VMXNET3_MSI_OFFSETS: (usize, usize, u32) = (0x84, 0x9c, 0x1000);
const VMXNET3_OLD_MSI_OFFSETS: (usize, usize, u32) = (0x50, 0, 0x800);

/// vmxnet3_pci_realize: BAR0/1 4 KiB, BAR2 MSI-X 8 KiB; MSI at 0x84 (1 vector, 64-bit); MSI-X 25
/// vectors at 0x9c (table 0, PBA 0x1000); PCIe endpoint cap at 0x48 only on a PCIe bus; DSN at 0x100
/// when express.
pub(super) fn vmxnet3_pci_realize(c: &mut Ctx<'_>) -> Result<(), DeviceError> {
    c.bar(VMXNET3_BAR0_IDX, MEM, 0x1000)?;
    c.bar(VMXNET3_BAR1_IDX, MEM, 0x1000)?;
    c.bar(VMXNET3_MSIX_BAR_IDX, MEM, VMXNET3_MSIX_BAR_SIZE)?;
    let (msi_off, msix_off, pba) = if c.has_std(CapId::Msi) == Some(VMXNET3_OLD_MSI_OFFSETS.0) {
        c.note("x-old-msi-offsets (MSI at 0x50, MSI-X auto, PBA 0x800)");
        VMXNET3_OLD_MSI_OFFSETS
    } else {
        VMXNET3_MSI_OFFSETS
    };
    if c.has_std(CapId::Msi).is_some() {
        msi(c, msi_off, 1, true, false)?;
    }
    let bar2 = c.bar_size(VMXNET3_MSIX_BAR_IDX, VMXNET3_MSIX_BAR_SIZE);
    let layout = MsixLayout {
        nentries: VMXNET3_MAX_INTRS,
        table_bar: VMXNET3_MSIX_BAR_IDX as u8,
        table_offset: VMXNET3_OFF_MSIX_TABLE,
        pba_bar: VMXNET3_MSIX_BAR_IDX as u8,
        pba_offset: pba,
        bar_sizes: Some((bar2, bar2)),
    };
    c.space.msix_init(msix_off, &layout).map_err(|e| c.err(e))?;
    if c.space.is_express() {
        if c.has_std(CapId::Exp).is_some() {
            let opts = c.machine.pcie_cap_options();
            c.space
                .pcie_endpoint_cap_init(VMXNET3_EXP_EP_OFFSET, false, &opts)
                .map_err(|e| c.err(e))?;
            c.note("pcie_endpoint_cap_init(0x48) (PCIe bus)");
        }
        c.space.dsn_init(VMXNET3_DSN_OFFSET, 0).map_err(|e| c.err(e))?;
        c.note("DSN at 0x100");
    }
    c.note("BAR0/BAR1 mem 4 KiB, BAR2 MSI-X 8 KiB; msix_init(25 vectors)");
    pci_add_option_rom(c, "efi-vmxnet3.rom")
}
