//! Device reset as QEMU 10.0.2 runs it for every PCI device at machine reset, before the guest
//! runs: `hw/pci/pci.c` pci_do_device_reset (called from pcibus_reset_hold), with `hw/pci/msi.c`
//! msi_reset and `hw/pci/msix.c` msix_reset. A source QEMU saves the config after it; a
//! destination started with `-incoming` compares the incoming config with its own after it.

use crate::le;
use crate::regs::*;
use crate::space::{Array, ConfigSpace};

impl ConfigSpace {
    /// pci_do_device_reset: clear the writable (wmask | w1cmask) bits of Command, Status and
    /// Interrupt Line, zero Cache Line Size, put PM in D0, rewrite the registered BARs and ROM
    /// with their type bits alone (pci_reset_regions), then [`ConfigSpace::msi_reset`] and
    /// [`ConfigSpace::msix_reset`]. (pci_device_deassert_intx and pcie_sriov_pf_reset change no
    /// config byte of a device without INTx asserted or SR-IOV.)
    pub fn pci_do_device_reset(&mut self) {
        for (off, len) in [(PCI_COMMAND, 2), (PCI_STATUS, 2), (PCI_INTERRUPT_LINE, 1)] {
            let get = |a| self.get_le(a, off, len).expect("header register in range");
            let v = get(Array::Config) & !(get(Array::Wmask) | get(Array::W1cmask));
            self.set_le(Array::Config, off, len, v)
                .expect("header register in range");
        }
        self.config_mut()[PCI_CACHE_LINE_SIZE] = 0;
        if let Some(pm) = self.pm_cap() {
            let ctrl = le::word(self.config(), pm + PCI_PM_CTRL) & !PCI_PM_CTRL_STATE_MASK;
            self.config_mut()[pm + PCI_PM_CTRL..pm + PCI_PM_CTRL + 2].copy_from_slice(&ctrl.to_le_bytes());
        }
        self.pci_reset_regions();
        self.msi_reset();
        self.msix_reset();
    }

    /// pci_reset_regions: every registered BAR (and the ROM) holds its type bits only, a
    /// 64-bit BAR's upper dword zero.
    fn pci_reset_regions(&mut self) {
        for region in 0..PCI_NUM_REGIONS {
            let (Some(bar), Some(addr)) = (self.bars()[region], self.bar_offset(region)) else {
                continue;
            };
            if bar.is_64bit() {
                self.set_quad(Array::Config, addr, u64::from(bar.bar_type));
            } else {
                self.set_long(Array::Config, addr, u32::from(bar.bar_type));
            }
        }
    }

    /// msi_reset: Multiple Message Enable and MSI Enable cleared, Message Address (both
    /// dwords when 64-bit) and Message Data zeroed, and with per-vector masking the Mask Bits
    /// and Pending Bits dwords zeroed (all 32 bits, whatever the vector count).
    pub fn msi_reset(&mut self) {
        let Some(cap) = self.msi_cap() else { return };
        let flags = le::word(self.config(), cap + PCI_MSI_FLAGS) & !(PCI_MSI_FLAGS_QSIZE | PCI_MSI_FLAGS_ENABLE);
        let msi64 = flags & PCI_MSI_FLAGS_64BIT != 0;
        self.set_le(Array::Config, cap + PCI_MSI_FLAGS, 2, u64::from(flags))
            .expect("MSI flags in range");
        self.set_long(Array::Config, cap + PCI_MSI_ADDRESS_LO, 0);
        if msi64 {
            self.set_long(Array::Config, cap + PCI_MSI_ADDRESS_HI, 0);
        }
        let (data, mask, pending) = if msi64 {
            (PCI_MSI_DATA_64, PCI_MSI_MASK_64, PCI_MSI_PENDING_64)
        } else {
            (PCI_MSI_DATA_32, PCI_MSI_MASK_32, PCI_MSI_PENDING_32)
        };
        self.set_le(Array::Config, cap + data, 2, 0).expect("MSI data in range");
        if flags & PCI_MSI_FLAGS_MASKBIT != 0 {
            self.set_long(Array::Config, cap + mask, 0);
            self.set_long(Array::Config, cap + pending, 0);
        }
    }

    /// msix_reset: the writable bits of the Message Control's upper byte (MSI-X Enable,
    /// Function Mask) cleared; the table and PBA it also resets live in BAR memory, not in
    /// config space.
    pub fn msix_reset(&mut self) {
        let Some(cap) = self.msix_cap() else { return };
        let off = cap + MSIX_CONTROL_OFFSET;
        let wmask = self.wmask()[off];
        self.config_mut()[off] &= !wmask;
    }
}

#[cfg(test)]
mod tests {
    use crate::regs::*;
    use crate::{ConfigSize, ConfigSpace, DeviceIdentity, DeviceParams, HeaderKind};

    fn device() -> ConfigSpace {
        ConfigSpace::new_device(&DeviceParams {
            size: ConfigSize::Express,
            header: HeaderKind::Type0,
            identity: DeviceIdentity::default(),
            multifunction: false,
        })
    }

    #[test]
    fn pci_do_device_reset_clears_writable_header_bits() {
        let mut s = device();
        let before = s.config().to_vec();
        let c = s.config_mut();
        c[PCI_COMMAND] = 0x07; // I/O, Memory, Bus Master: writable
        c[PCI_STATUS + 1] = 0xf9; // error bits: write-1-to-clear
        c[PCI_CACHE_LINE_SIZE] = 0x10;
        c[PCI_INTERRUPT_LINE] = 0xff;
        s.pci_do_device_reset();
        assert_eq!(s.config(), &before[..]);
    }

    #[test]
    fn msi_reset_clears_address_data_mask_and_pending_dwords() {
        let mut s = device();
        s.msi_init(0x50, 8, true, true).unwrap();
        let c = s.config_mut();
        c[0x52] |= 0x31; // MME 3, enable
        c[0x54..0x68].fill(0xff); // address lo/hi, data, mask, pending
        s.msi_reset();
        let c = s.config();
        assert_eq!(c[0x52] & 0x71, 0);
        assert!(c[0x54..0x5e].iter().all(|&b| b == 0), "{:x?}", &c[0x54..0x5e]);
        // Message Data is a word (pci_set_word): the two bytes after it keep their value.
        assert_eq!(&c[0x5e..0x60], &[0xff, 0xff]);
        assert!(c[0x60..0x68].iter().all(|&b| b == 0), "{:x?}", &c[0x60..0x68]);
    }

    #[test]
    fn pm_state_goes_to_d0() {
        let mut s = device();
        s.pm_init(0x40, true).unwrap();
        s.config_mut()[0x44] |= 0x03;
        s.pci_do_device_reset();
        assert_eq!(s.config()[0x44] & 0x03, 0);
    }
}
