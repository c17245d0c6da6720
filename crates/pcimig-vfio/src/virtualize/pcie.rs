//! vfio_setup_pcie_cap: what vfio-pci does with the PCI Express capability, by the slot the
//! device sits in.

use super::Realize;
use crate::policy::Slot;
use crate::VfioError;
use pcimig_config::le;
use pcimig_config::regs::*;
use pcimig_config::{CapId, Preset};

/// What vfio_setup_pcie_cap does with the capability after the slot's rules.
enum PcieCap {
    /// Added (possibly with emulated registers).
    Keep,
    /// Hidden from the guest, with the reason.
    Hide(&'static str),
}

/// The device/port type field of PCI Express Capabilities.
fn pcie_type(flags: u16) -> u8 {
    ((flags & PCI_EXP_FLAGS_TYPE) >> PCI_EXP_FLAGS_TYPE_SHIFT) as u8
}

/// A Device/Port Type field holding `t` (for vfio_add_emulated_word under PCI_EXP_FLAGS_TYPE).
fn type_field(t: u8) -> u32 {
    u32::from(t) << PCI_EXP_FLAGS_TYPE_SHIFT
}

impl Realize<'_> {
    /// vfio_setup_pcie_cap: only Endpoints, Legacy Endpoints and Root Complex Integrated
    /// Endpoints can be assigned; the slot decides whether the capability is hidden, kept, or
    /// kept with its type and link registers emulated; a version 0 capability is presented as
    /// version 1; then pci_add_capability over `size` bytes.
    pub(super) fn vfio_setup_pcie_cap(&mut self, pos: usize, size: usize) -> Result<(), VfioError> {
        let flags = le::word(self.physical, pos + PCI_EXP_FLAGS);
        let t = pcie_type(flags);
        let fail = |reason: String| VfioError::AddCapability {
            cap_id: CapId::Exp.value(),
            size,
            pos,
            reason,
        };
        if !matches!(t, PCI_EXP_TYPE_ENDPOINT | PCI_EXP_TYPE_LEG_END | PCI_EXP_TYPE_RC_END) {
            return Err(fail(format!(
                "assignment of PCIe type 0x{t:x} devices is not currently supported"
            )));
        }
        let verdict = match self.opts.slot {
            Slot::PciBridge => PcieCap::Hide("PCI Express capability hidden: device on a conventional bus of a PCIe machine (q35, behind a PCI bridge)"),
            Slot::I440fx => {
                self.notes
                    .push("PCI Express capability kept unchanged: conventional root bus (i440fx)".into());
                PcieCap::Keep
            }
            Slot::Q35Root => self.pcie_on_root_bus(pos, size, t)?,
            Slot::PciePort => self.pcie_behind_port(pos, t)?,
        };
        if let PcieCap::Hide(why) = verdict {
            self.drop_cap(u16::from(CapId::Exp.value()), false, pos, why);
            return Ok(());
        }
        if flags & PCI_EXP_FLAGS_VERS == 0 {
            self.add_emulated(pos + PCI_EXP_FLAGS, 2, 1, u32::from(PCI_EXP_FLAGS_VERS))?;
        }
        self.space
            .add_capability(CapId::Exp, pos, size, Preset::VfioSetupPcieCap)
            .map_err(|e| fail(e.to_string()))?;
        Ok(())
    }

    /// vfio_setup_pcie_cap on a PCIe root bus (q35's pcie.0): an Endpoint is presented as a
    /// Root Complex Integrated Endpoint with its link registers (as far as `size` reaches)
    /// zeroed; a Legacy Endpoint loses the capability.
    fn pcie_on_root_bus(&mut self, pos: usize, size: usize, t: u8) -> Result<PcieCap, VfioError> {
        if t == PCI_EXP_TYPE_LEG_END {
            return Ok(PcieCap::Hide(
                "PCI Express capability hidden: Legacy Endpoint on a PCIe root bus",
            ));
        }
        if t != PCI_EXP_TYPE_ENDPOINT {
            return Ok(PcieCap::Keep);
        }
        let word = u32::from(u16::MAX);
        self.add_emulated(
            pos + PCI_EXP_FLAGS,
            2,
            type_field(PCI_EXP_TYPE_RC_END),
            u32::from(PCI_EXP_FLAGS_TYPE),
        )?;
        if size > PCI_EXP_LNKCTL {
            self.add_emulated(pos + PCI_EXP_LNKCAP, 4, 0, u32::MAX)?;
            self.add_emulated(pos + PCI_EXP_LNKCTL, 2, 0, word)?;
            self.add_emulated(pos + PCI_EXP_LNKSTA, 2, 0, word)?;
            if size > PCI_EXP_LNKCAP2 {
                self.add_emulated(pos + PCI_EXP_LNKCAP2, 4, 0, u32::MAX)?;
                self.add_emulated(pos + PCI_EXP_LNKCTL2, 2, 0, word)?;
                self.add_emulated(pos + PCI_EXP_LNKSTA2, 2, 0, word)?;
            }
        }
        self.notes.push(
            "PCIe root bus: Endpoint presented as Root Complex Integrated Endpoint, link registers zeroed".into(),
        );
        Ok(PcieCap::Keep)
    }

    /// vfio_setup_pcie_cap behind a PCIe root or downstream port: a Root Complex Integrated
    /// Endpoint is presented as an Endpoint with an x1 2.5GT/s link.
    fn pcie_behind_port(&mut self, pos: usize, t: u8) -> Result<PcieCap, VfioError> {
        if t == PCI_EXP_TYPE_RC_END {
            self.add_emulated(
                pos + PCI_EXP_FLAGS,
                2,
                type_field(PCI_EXP_TYPE_ENDPOINT),
                u32::from(PCI_EXP_FLAGS_TYPE),
            )?;
            let x1_2_5gt =
                (u32::from(QEMU_PCI_EXP_LNK_X1) << PCI_EXP_LNK_MLW_SHIFT) | u32::from(QEMU_PCI_EXP_LNK_2_5GT);
            self.add_emulated(pos + PCI_EXP_LNKCAP, 4, x1_2_5gt, u32::MAX)?;
            self.add_emulated(pos + PCI_EXP_LNKCTL, 2, 0, u32::from(u16::MAX))?;
            self.notes.push(
                "behind a PCIe port: Root Complex Integrated Endpoint presented as Endpoint with an x1 2.5GT/s link"
                    .into(),
            );
        }
        self.notes.push(
            "behind a PCIe port, QEMU may also set AtomicOp completer bits in the parent root port's DEVCAP2 (vfio_pci_enable_rp_atomics); that register is checked in the root port's own section"
                .into(),
        );
        Ok(PcieCap::Keep)
    }
}
