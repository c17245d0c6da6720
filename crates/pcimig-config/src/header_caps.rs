//! Capabilities over header registers, as QEMU 10.0.2 adds them when a device's capability
//! pointer leads into the header (vfio-pci rebuilds whatever chain the device presents):
//! pci_add_capability checks only that the new capability overlaps no other one, not that it
//! lies past the header. [`ConfigSpace::add_capability`] keeps refusing such offsets; these are
//! the variants for 0x01..0x3f.

use crate::error::ConfigError;
use crate::ids::CapId;
use crate::origin::Preset;
use crate::regs::*;
use crate::space::{Array, ConfigSpace};

impl ConfigSpace {
    /// pci_add_capability at an offset inside the header (0x01..0x3f): the overlap check, then
    /// the ID and next bytes written over the header registers there, the list head and Status
    /// CAP_LIST set, and `size` bytes made read-only (wmask 0) and checked (cmask 0xff) — header
    /// registers included (e.g. Interrupt Line, which pci_do_device_reset then leaves alone).
    pub fn add_capability_in_header(
        &mut self,
        cap_id: CapId,
        offset: usize,
        size: usize,
        preset: Preset,
    ) -> Result<usize, ConfigError> {
        if offset == 0 || offset >= PCI_CONFIG_HEADER_SIZE || size == 0 || offset + size > PCI_CONFIG_SPACE_SIZE {
            return Err(ConfigError::StdCapOutOfRange { offset, size });
        }
        self.check_capability_overlap(cap_id, offset, size)?;
        self.link_capability(cap_id, offset, size, preset);
        Ok(offset)
    }

    /// pci_pm_init at an offset inside the header: [`ConfigSpace::add_capability_in_header`]
    /// over PCI_PM_SIZEOF bytes, recorded as the PM capability (pm_cap), PMCSR's power state
    /// writable on request as in [`ConfigSpace::pm_init`].
    pub fn pm_init_in_header(&mut self, offset: usize, pmcsr_state_writable: bool) -> Result<usize, ConfigError> {
        let pos = self.add_capability_in_header(CapId::Pm, offset, PCI_PM_SIZEOF, Preset::PciPmInit)?;
        self.pm_cap = Some(pos);
        if pmcsr_state_writable {
            self.set_word(Array::Wmask, pos + PCI_PM_CTRL, PCI_PM_CTRL_STATE_MASK);
        }
        Ok(pos)
    }
}

#[cfg(test)]
mod tests {
    use crate::regs::*;
    use crate::{CapId, ConfigSize, ConfigSpace, DeviceIdentity, DeviceParams, HeaderKind, Preset};

    #[test]
    fn a_capability_over_the_header_makes_its_bytes_read_only_and_checked() {
        let mut s = ConfigSpace::new_device(&DeviceParams {
            size: ConfigSize::Conventional,
            header: HeaderKind::Type0,
            identity: DeviceIdentity::default(),
            multifunction: false,
        });
        assert_eq!(s.wmask()[PCI_INTERRUPT_LINE], 0xff);
        s.pm_init_in_header(0x2e, true).unwrap();
        assert_eq!(s.config()[PCI_CAPABILITY_LIST], 0x2e);
        assert_eq!(s.config()[0x2e], CapId::Pm.value());
        assert_eq!(s.pm_cap(), Some(0x2e));
        assert!(s.cmask()[0x2e..0x36].iter().all(|&c| c == 0xff));
        assert_eq!(&s.wmask()[0x32..0x34], &[0x03, 0x00], "PMCSR power state writable");
        s.add_capability_in_header(CapId::Vndr, 0x10, 0x30, Preset::VfioAddStdCap)
            .unwrap_err();
        s.add_capability_in_header(CapId::Vndr, 0x38, 0x08, Preset::VfioAddStdCap)
            .unwrap();
        assert_eq!(s.wmask()[PCI_INTERRUPT_LINE], 0x00);
        assert!(s
            .add_capability_in_header(CapId::Vndr, 0x40, 8, Preset::VfioAddStdCap)
            .is_err());
    }
}
