//! What QEMU runs at machine reset for a vfio-pci device, before the guest runs (and so before
//! the source saves its state or the destination loads one): the device's own reset
//! (vfio_pci_reset: vfio_pci_pre_reset, the host reset, vfio_pci_post_reset), then the bus's
//! (pcibus_reset_hold -> pci_do_device_reset).

use super::Realize;
use crate::VfioError;
use pcimig_config::regs::*;
use pcimig_config::vmstate::PCI_NUM_PINS;

impl Realize<'_> {
    /// vfio_pci_reset. vfio_pci_pre_reset -> vfio_disable_interrupts -> vfio_intx_disable ->
    /// pci_irq_deassert -> pci_irq_handler on INTx pin `Interrupt Pin - 1` (vfio_intx_enable
    /// set it at realize from the physical Interrupt Pin, when non-zero): above 4, QEMU's
    /// `assert(0 <= irq_num && irq_num < PCI_NUM_PINS)` aborts.
    ///
    /// What else it does leaves no trace in the emulated config once pci_do_device_reset has
    /// run after it: vfio_pci_pre_reset writes Command with I/O, Memory, Bus Master and INTx
    /// Disable cleared and PMCSR in D0 through vfio_pci_write_config (pci_default_write_config
    /// changes only wmask/w1cmask bits, which pci_do_device_reset then clears); the host reset
    /// (VFIO_DEVICE_RESET) and vfio_pci_post_reset (vfio_intx_enable sets the same Interrupt Pin,
    /// the BARs are zeroed on the device, not in QEMU's copy) change nothing QEMU saves. Then
    /// pcibus_reset_hold runs pci_do_device_reset (with msi_reset and msix_reset), modelled by
    /// [`pcimig_config::ConfigSpace::pci_do_device_reset`].
    pub(super) fn vfio_pci_reset(&mut self) -> Result<(), VfioError> {
        let pin = self.space.config()[PCI_INTERRUPT_PIN];
        if usize::from(pin) > PCI_NUM_PINS {
            return Err(VfioError::InterruptPin(pin));
        }
        self.space.pci_do_device_reset();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::{virtualize, VfioError, VfioOptions};
    use pcimig_testkit::Phys;

    fn with_pin(pin: u8) -> Result<crate::VfioDevice, VfioError> {
        let mut p = Phys::new(256).build();
        p[0x3d] = pin;
        virtualize(&p, &VfioOptions::default())
    }

    #[test]
    fn interrupt_pin_0_to_4_realizes() {
        // vfio_realize enables INTx only for a non-zero pin; pins 1..4 are INTA..INTD.
        for pin in 0..=4 {
            assert!(with_pin(pin).is_ok(), "pin {pin}");
        }
    }

    #[test]
    fn interrupt_pin_above_4_aborts_naming_the_register() {
        for pin in [5u8, 0x10, 0xff] {
            let e = with_pin(pin).unwrap_err();
            assert_eq!(e, VfioError::InterruptPin(pin));
            let msg = e.to_string();
            assert!(msg.starts_with("Interrupt Pin (0x3d) is"), "{msg}");
            assert!(msg.contains("irq_num < PCI_NUM_PINS"), "{msg}");
        }
    }
}

#[cfg(test)]
mod reset_tests {
    use crate::{virtualize, VfioOptions};
    use pcimig_config::CapId;
    use pcimig_testkit::Phys;

    #[test]
    fn the_guest_view_is_the_config_after_machine_reset() {
        // MSI at 0x48: 64-bit, per-vector masking, 16 vectors (MMC 4), enabled with MME 4;
        // Message Address with bits 1:0 set, every Mask and Pending bit set (as a dump of a
        // running device can hold them); Interrupt Line 0xff, Cache Line Size 0x10, Command 0x07.
        let mut p = Phys::new(256)
            .cap(0x48, CapId::Msi, &[0xc9, 0x01])
            .bytes(
                0x4c,
                &[0x03, 0x00, 0xe0, 0xfe, 0x00, 0x00, 0x00, 0x00, 0x21, 0x43, 0x00, 0x00],
            )
            .bytes(0x58, &[0xff; 8])
            .build();
        p[0x04] = 0x07;
        p[0x0c] = 0x10;
        p[0x3c] = 0xff;
        p[0x3d] = 0x01;
        let d = virtualize(&p, &VfioOptions::default()).unwrap();
        let c = d.space.config();
        // msi_reset: flags without MME and Enable, address/data/mask/pending zero.
        assert_eq!(&c[0x4a..0x4c], &[0x88, 0x01]);
        assert!(c[0x4c..0x56].iter().all(|&b| b == 0), "{:x?}", &c[0x4c..0x56]);
        assert!(c[0x58..0x60].iter().all(|&b| b == 0), "{:x?}", &c[0x58..0x60]);
        // pci_do_device_reset: writable Command and Interrupt Line bits, Cache Line Size.
        assert_eq!((c[0x04], c[0x0c], c[0x3c], c[0x3d]), (0, 0, 0, 1));
    }
}
