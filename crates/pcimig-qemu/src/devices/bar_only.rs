//! Devices whose realize registers BARs (and maybe an option ROM) and no capability: EHCI, UHCI,
//! AC97, ES1370, lsi53c895a, pcnet, ne2k_pci, i6300esb.

use super::ctx::{Ctx, IO, MEM};
use super::rom::pci_add_option_rom;
use super::DeviceError;
use pcimig_config::regs::PCI_BASE_ADDRESS_SPACE_IO;

/// Register `bars` (region, type, size) and the option ROM `romfile`, noting them.
fn bars_only(c: &mut Ctx<'_>, bars: &[(usize, u8, u64)], romfile: Option<&str>) -> Result<(), DeviceError> {
    let mut list = Vec::new();
    for &(region, t, size) in bars {
        c.bar(region, t, size)?;
        let space = if t & PCI_BASE_ADDRESS_SPACE_IO != 0 {
            "I/O"
        } else {
            "mem"
        };
        list.push(format!("BAR{region} {space} {size} B"));
    }
    c.note(format!("{}; no capabilities", list.join(", ")));
    match romfile {
        Some(r) => pci_add_option_rom(c, r),
        None => Ok(()),
    }
}

/// usb_ehci_pci_realize (hw/usb/hcd-ehci-pci.c): BAR0 mem 4 KiB.
pub(super) fn usb_ehci_pci_realize(c: &mut Ctx<'_>) -> Result<(), DeviceError> {
    bars_only(c, &[(0, MEM, 0x1000)], None)
}

/// usb_uhci_common_realize (hw/usb/hcd-uhci.c): BAR4 I/O 32 B.
pub(super) fn usb_uhci_common_realize(c: &mut Ctx<'_>) -> Result<(), DeviceError> {
    bars_only(c, &[(4, IO, 0x20)], None)
}

/// ac97_realize (hw/audio/ac97.c): BAR0 I/O 1 KiB (NAM), BAR1 I/O 256 B (NABM).
pub(super) fn ac97_realize(c: &mut Ctx<'_>) -> Result<(), DeviceError> {
    bars_only(c, &[(0, IO, 1024), (1, IO, 256)], None)
}

/// es1370_realize (hw/audio/es1370.c): BAR0 I/O 256 B.
pub(super) fn es1370_realize(c: &mut Ctx<'_>) -> Result<(), DeviceError> {
    bars_only(c, &[(0, IO, 256)], None)
}

/// lsi_scsi_realize (hw/scsi/lsi53c895a.c): BAR0 I/O 256 B, BAR1 mem 1 KiB, BAR2 RAM 8 KiB.
pub(super) fn lsi_scsi_realize(c: &mut Ctx<'_>) -> Result<(), DeviceError> {
    bars_only(c, &[(0, IO, 256), (1, MEM, 1024), (2, MEM, 8192)], None)
}

/// pci_pcnet_realize (hw/net/pcnet-pci.c): BAR0 I/O 32 B, BAR1 mem 32 B, ROM efi-pcnet.rom.
pub(super) fn pci_pcnet_realize(c: &mut Ctx<'_>) -> Result<(), DeviceError> {
    bars_only(c, &[(0, IO, 32), (1, MEM, 32)], Some("efi-pcnet.rom"))
}

/// pci_ne2000_realize (hw/net/ne2000-pci.c): BAR0 I/O 256 B, ROM efi-ne2k_pci.rom.
pub(super) fn pci_ne2000_realize(c: &mut Ctx<'_>) -> Result<(), DeviceError> {
    bars_only(c, &[(0, IO, 256)], Some("efi-ne2k_pci.rom"))
}

/// i6300esb_realize (hw/watchdog/wdt_i6300esb.c): BAR0 mem 16 B.
pub(super) fn i6300esb_realize(c: &mut Ctx<'_>) -> Result<(), DeviceError> {
    bars_only(c, &[(0, MEM, 16)], None)
}
