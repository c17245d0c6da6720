//! VGA and secondary-vga (hw/display/vga-pci.c).

use super::ctx::{Ctx, MEM};
use super::rom::pci_add_option_rom;
use super::DeviceError;
use pcimig_config::le;
use pcimig_config::regs::*;

/// secondary-vga has VGA's IDs and vmsd; its class is "other display" (0x0380).
fn is_secondary_vga(c: &Ctx<'_>) -> bool {
    le::word(c.d.config, PCI_CLASS_DEVICE) == PCI_CLASS_DISPLAY_OTHER
}

/// pci_std_vga_realize / pci_secondary_vga_realize: BAR0 prefetchable 32-bit VRAM (`vgamem_mb`,
/// 16 MiB), BAR2 MMIO 4 KiB (`mmio`, always for secondary-vga), option ROM vgabios-stdvga.bin for
/// VGA only. No capabilities.
pub(super) fn pci_vga_realize(c: &mut Ctx<'_>) -> Result<(), DeviceError> {
    if is_secondary_vga(c) {
        c.type_name = "secondary-vga";
    }
    c.bar(0, MEM | PCI_BASE_ADDRESS_MEM_PREFETCH, 16 << 20)?;
    c.bar(2, MEM, 0x1000)?;
    c.note("BAR0 prefetchable VRAM 16 MiB (vgamem_mb), BAR2 MMIO 4 KiB; no capabilities");
    if c.type_name == "VGA" {
        pci_add_option_rom(c, "vgabios-stdvga.bin")?;
    }
    Ok(())
}
