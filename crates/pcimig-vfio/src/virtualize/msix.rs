//! vfio_msix_early_setup: the MSI-X table and PBA location from the physical capability, with
//! QEMU's PBA quirks.

use super::pci_ids::*;
use super::Realize;
use crate::VfioError;
use pcimig_config::le;
use pcimig_config::presets::{msix_table_size, MsixLayout};
use pcimig_config::regs::*;
use pcimig_config::CapId;

/// A device whose PBA offset lies outside its BAR, and what vfio_msix_early_setup does about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PbaQuirk {
    /// The PBA BAR's size as QEMU's comment gives it (used when BAR sizes are not given).
    bar_size: u64,
    /// The PBA offset QEMU substitutes.
    pba_offset: u32,
}

/// The PBA quirks of vfio_msix_early_setup, by the IDs the guest sees: Chelsio T5 VFs (0x58xx,
/// an 8 KiB BAR, PBA at 0x1000) and Baidu Kunlun VFs (a 0x10000 BAR, PBA at 0xb400).
fn msix_pba_quirk(vendor: u16, device: u16) -> Option<PbaQuirk> {
    if vendor == PCI_VENDOR_ID_CHELSIO && device & CHELSIO_T5_VF_DEVICE_MASK == CHELSIO_T5_VF_DEVICE_ID {
        Some(PbaQuirk {
            bar_size: 0x2000,
            pba_offset: 0x1000,
        })
    } else if (vendor, device) == (PCI_VENDOR_ID_BAIDU, PCI_DEVICE_ID_KUNLUN_VF) {
        Some(PbaQuirk {
            bar_size: 0x10000,
            pba_offset: 0xb400,
        })
    } else {
        None
    }
}

impl Realize<'_> {
    /// vfio_msix_early_setup: table and PBA BIR/offset and the vector count from the physical
    /// MSI-X capability; a PBA outside its BAR is refused unless a quirk moves it. QEMU always
    /// knows the PBA BAR's size; without BAR sizes only the quirky devices' sizes are known.
    pub(super) fn vfio_msix_early_setup(&mut self) -> Result<(), VfioError> {
        let Some(pos) = self
            .physical_std_caps
            .iter()
            .find(|e| e.is(CapId::Msix))
            .map(|e| e.offset)
        else {
            return Ok(());
        };
        let ctrl = le::word(self.physical, pos + PCI_MSIX_FLAGS);
        let table = le::long(self.physical, pos + PCI_MSIX_TABLE);
        let pba = le::long(self.physical, pos + PCI_MSIX_PBA);
        let (vendor, device) = self.ids();
        let quirk = msix_pba_quirk(vendor, device);
        let pba_bar = (pba & PCI_MSIX_FLAGS_BIRMASK) as u8;
        let mut pba_offset = pba & !PCI_MSIX_FLAGS_BIRMASK;
        let pba_bar_size = if self.opts.bar_sizes.is_some() {
            Some(self.bar_sizes.get(usize::from(pba_bar)).copied().flatten().unwrap_or(0))
        } else {
            quirk.map(|q| q.bar_size)
        };
        if pba_bar_size.is_some_and(|sz| u64::from(pba_offset) >= sz) {
            pba_offset = quirk
                .ok_or_else(|| {
                    VfioError::Msix("hardware reports invalid configuration, MSIX PBA outside of specified BAR".into())
                })?
                .pba_offset;
        }
        self.msix = Some(MsixLayout {
            nentries: msix_table_size(ctrl),
            table_bar: (table & PCI_MSIX_FLAGS_BIRMASK) as u8,
            table_offset: table & !PCI_MSIX_FLAGS_BIRMASK,
            pba_bar,
            pba_offset,
            bar_sizes: None,
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pba_quirks_match_qemus_id_rules() {
        assert_eq!(msix_pba_quirk(0x1425, 0x5801).map(|q| q.pba_offset), Some(0x1000));
        assert_eq!(msix_pba_quirk(0x1425, 0x5401), None);
        assert_eq!(msix_pba_quirk(0x1d22, 0x3685).map(|q| q.pba_offset), Some(0xb400));
        assert_eq!(msix_pba_quirk(0x10de, 0x5801), None);
    }
}
