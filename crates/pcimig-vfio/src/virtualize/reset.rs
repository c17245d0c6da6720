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
    pub(super) fn vfio_pci_reset(&mut self) -> Result<(), VfioError> {
        let pin = self.space.config()[PCI_INTERRUPT_PIN];
        if usize::from(pin) > PCI_NUM_PINS {
            return Err(VfioError::InterruptPin(pin));
        }
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
