//! The x86 machines' chipset devices with a PCIDevice in the stream: q35's mch, ICH9-LPC,
//! ICH9-SMB (ich9-ahci is in usb_audio_storage.rs); i440fx's host bridge, PIIX3, piix3-ide,
//! PIIX4_PM.

use super::ctx::Ctx;
use super::DeviceError;
use pcimig_config::regs::PCI_BASE_ADDRESS_SPACE_IO;

/// mch_realize, ich9_lpc_realize, i440fx_realize, piix_realize, piix4_pm_realize: header masks
/// only (their register edits are at 0x40 and above, writable or unchecked).
pub(super) fn header_only(c: &mut Ctx<'_>) -> Result<(), DeviceError> {
    c.note("header masks only: no BARs, no capabilities (registers at 0x40+ are writable and unchecked)");
    Ok(())
}

/// ich9_smbus_realize (hw/i2c/smbus_ich9.c): BAR4 I/O 64 B.
pub(super) fn ich9_smbus_realize(c: &mut Ctx<'_>) -> Result<(), DeviceError> {
    c.bar(4, PCI_BASE_ADDRESS_SPACE_IO, 64)?;
    c.note("BAR4 I/O (SMBus)");
    Ok(())
}

/// pci_piix_ide_realize (hw/ide/piix.c): BAR4 I/O 16 B (bus-master DMA).
pub(super) fn pci_piix_ide_realize(c: &mut Ctx<'_>) -> Result<(), DeviceError> {
    c.bar(4, PCI_BASE_ADDRESS_SPACE_IO, 16)?;
    c.note("BAR4 I/O (bus-master DMA)");
    Ok(())
}
