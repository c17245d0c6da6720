//! vfio_add_ext_cap: the extended chain rebuilt behind a stub at 0x100, with some capabilities
//! dropped and Resizable BAR emulated (vfio_setup_rebar_ecap).

use super::{physical_ext_chain, Realize};
use crate::VfioError;
use pcimig_config::le;
use pcimig_config::regs::*;
use pcimig_config::{Array, CapEntry, ExemptPolicy, ExtCapId, Preset};

/// The header vfio_add_ext_cap seeds 0x100 with: ID 0xffff, version 0, next 0.
const EXT_CAP_STUB_HEADER: u64 = 0x0000_ffff;
/// The stub's ID (what remains at 0x100 if nothing is added there).
const EXT_CAP_STUB_ID: u16 = 0xffff;
/// The largest Resizable BAR size field whose bit fits a 32-bit CAP dword.
const PCI_REBAR_CTRL_BAR_SIZE_MAX: u32 = 27;
/// The bit of a size field in the Resizable BAR CAP dword sits this many places above it.
const PCI_REBAR_CAP_SIZE_SHIFT: u32 = 4;

/// vfio_ext_cap_max_size: distance from `pos` to the smallest physical extended capability
/// offset above it, or to 0x1000.
fn vfio_ext_cap_max_size(offsets: &[usize], pos: usize) -> usize {
    offsets
        .iter()
        .copied()
        .filter(|&o| o > pos)
        .min()
        .unwrap_or(PCIE_CONFIG_SPACE_SIZE)
        - pos
}

/// Why vfio_add_ext_cap drops a capability with this ID (Resizable BAR aside), if it does.
fn ext_cap_drop_reason(id: ExtCapId) -> Option<&'static str> {
    match id {
        ExtCapId::Null => Some("ID 0: hidden by the host kernel"),
        ExtCapId::Sriov => Some("SR-IOV dropped by vfio-pci (read-only VF BARs confuse OVMF)"),
        ExtCapId::Ari => Some("ARI dropped by vfio-pci (needs next-function virtualization)"),
        _ => None,
    }
}

impl Realize<'_> {
    /// vfio_add_ext_cap: only on a PCIe device on a PCIe bus with a chain at 0x100. The head is
    /// seeded with a read-only stub, each physical capability is added (pcie_add_capability)
    /// sized by the distance to the next one by address, or dropped; a stub still at 0x100
    /// gets ID 0.
    pub(super) fn vfio_add_ext_cap(&mut self) -> Result<(), VfioError> {
        if !self.space.is_express() {
            return Ok(());
        }
        if !self.opts.slot.bus_is_express() {
            self.notes.push(format!(
                "slot {}: not a PCIe bus, so no extended capabilities are exposed (0x100.. unchecked)",
                self.opts.slot
            ));
            return Ok(());
        }
        let copy = self.space.config().to_vec();
        if le::long(&copy, PCI_CONFIG_SPACE_SIZE) == 0 {
            return Ok(());
        }
        let chain = physical_ext_chain(&copy)?;
        let mut offsets: Vec<usize> = chain.iter().map(|e| e.offset).collect();
        offsets.sort_unstable();
        self.space
            .set_le(Array::Config, PCI_CONFIG_SPACE_SIZE, 4, EXT_CAP_STUB_HEADER)?;
        self.space.set_le(Array::Wmask, PCI_CONFIG_SPACE_SIZE, 4, 0)?;
        for e in &chain {
            self.vfio_add_one_ext_cap(e, vfio_ext_cap_max_size(&offsets, e.offset))?;
        }
        if le::word(self.space.config(), PCI_CONFIG_SPACE_SIZE) == EXT_CAP_STUB_ID {
            let cfg = self.space.config_mut();
            cfg[PCI_CONFIG_SPACE_SIZE..PCI_CONFIG_SPACE_SIZE + 2].fill(0);
            self.notes.push("extended chain head dropped: a stub header (ID 0) at 0x100 links to the first exposed capability; 0x100..0x104 unchecked".into());
        }
        Ok(())
    }

    /// One iteration of vfio_add_ext_cap's loop: drop the capability, or add it over `size`
    /// bytes (after vfio_setup_rebar_ecap for a Resizable BAR).
    /// A next pointer below 0x100 reads its "header" from the standard space as QEMU copied it
    /// at the start of vfio_add_ext_cap: ID 0 (as a cleared 32-bit BAR reads), SR-IOV or ARI is
    /// dropped and the walk goes on from its next field; anything QEMU would add aborts in
    /// pcie_add_capability (`assert(offset >= PCI_CONFIG_SPACE_SIZE)`).
    fn vfio_add_one_ext_cap(&mut self, e: &CapEntry, size: usize) -> Result<(), VfioError> {
        let id = ExtCapId::from(e.id);
        if let Some(why) = ext_cap_drop_reason(id) {
            let why = if e.offset < PCI_CONFIG_SPACE_SIZE {
                format!("reached through a next pointer below 0x100: the standard-space dword there reads as ID {:#06x}, which vfio_add_ext_cap drops ({why})", e.id)
            } else {
                why.to_string()
            };
            self.drop_cap(e.id, true, e.offset, &why);
            return Ok(());
        }
        if id == ExtCapId::Rebar && !self.opts.qemu.at_least(8, 1) {
            let why =
                "Resizable BAR dropped: QEMU before 8.1 hides it (8.1's \"vfio/pci: Static Resizable BAR capability\")";
            self.drop_cap(e.id, true, e.offset, why);
            return Ok(());
        }
        if id == ExtCapId::Rebar && !self.vfio_setup_rebar_ecap(e.offset)? {
            let why = "Resizable BAR dropped: a current BAR size is outside 1 MiB..512 GiB";
            self.drop_cap(e.id, true, e.offset, why);
            return Ok(());
        }
        if e.offset < PCI_CONFIG_SPACE_SIZE {
            return Err(VfioError::BadPointer(format!(
                "extended capability chain reaches {:#x}, below 0x100, where the standard-space dword reads as capability ID {:#06x}: QEMU's pcie_add_capability would abort (assert offset >= PCI_CONFIG_SPACE_SIZE)",
                e.offset, e.id
            )));
        }
        if size < PCI_EXT_CAP_MIN_SIZEOF {
            return Err(VfioError::BadPointer(format!(
                "extended capability at {:#x} is only {size} bytes before the next one: QEMU's pcie_add_capability asserts size >= 8",
                e.offset
            )));
        }
        self.space
            .add_ext_capability(id, e.version, e.offset, size, Preset::VfioAddExtCap)?;
        self.ext_vendor_payload(id, e.offset, size)
    }

    /// The payload of an extended Vendor Specific or DVSEC capability: exempt under pcimig's
    /// opt-in `exempt-ext-vendor` policy, else fully checked as stock QEMU checks it (a
    /// warning: `skip-vsc-check` covers only standard-space VSCs).
    fn ext_vendor_payload(&mut self, id: ExtCapId, pos: usize, size: usize) -> Result<(), VfioError> {
        let from = match id {
            ExtCapId::Vndr => PCI_VNDR_PAYLOAD,
            ExtCapId::Dvsec => PCI_DVSEC_PAYLOAD,
            _ => return Ok(()),
        };
        let name = id.display_name();
        if self.opts.exempt_ext_vendor && size > from {
            self.space.exempt(
                pos + from..pos + size,
                ExemptPolicy::ExemptExtVendor,
                &format!("{name} @{pos:#05x}: payload after its headers, up to the next extended capability (pcimig opt-in policy; stock QEMU checks it)"),
            )?;
        } else {
            self.warnings.push(format!(
                "{name} at {pos:#05x} is fully checked by QEMU ({size:#x} bytes up to the next extended capability): skip-vsc-check covers only standard-space VSCs; a host driver that changes its contents breaks migration (pcimig --exempt-ext-vendor on shows the effect of exempting it)"
            ));
        }
        Ok(())
    }

    /// vfio_setup_rebar_ecap: each entry's CAP and CTRL dwords emulated to report only the
    /// current size. Returns false (capability dropped) when a current size is outside
    /// PCI_REBAR_CAP_SIZES (1 MiB..512 GiB in QEMU 10.0.2's pci_regs.h); entries already
    /// rewritten keep their emulated values.
    fn vfio_setup_rebar_ecap(&mut self, pos: usize) -> Result<bool, VfioError> {
        let ctrl0 = self.space.get_le(Array::Config, pos + PCI_REBAR_CTRL, 4)? as u32;
        let nbar = ((ctrl0 & PCI_REBAR_CTRL_NBAR_MASK) >> PCI_REBAR_CTRL_NBAR_SHIFT) as usize;
        for i in 0..nbar {
            let off = pos + PCI_REBAR_CTRL + i * PCI_REBAR_ENTRY_SIZEOF;
            if off + 4 > self.space.size() {
                return Ok(false);
            }
            let ctrl = self.space.get_le(Array::Config, off, 4)? as u32;
            let sz = (ctrl & PCI_REBAR_CTRL_BAR_SIZE) >> PCI_REBAR_CTRL_BAR_SHIFT;
            let cap = if sz <= PCI_REBAR_CTRL_BAR_SIZE_MAX {
                1u32 << (sz + PCI_REBAR_CAP_SIZE_SHIFT)
            } else {
                0
            };
            if cap & PCI_REBAR_CAP_SIZES == 0 {
                return Ok(false);
            }
            let ctrl = ctrl & (PCI_REBAR_CTRL_BAR_SIZE | PCI_REBAR_CTRL_NBAR_MASK | PCI_REBAR_CTRL_BAR_IDX);
            self.add_emulated(pos + PCI_REBAR_CAP + i * PCI_REBAR_ENTRY_SIZEOF, 4, cap, u32::MAX)?;
            self.add_emulated(off, 4, ctrl, u32::MAX)?;
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use crate::{virtualize, VfioError, VfioOptions};
    use pcimig_config::{CapId, ExtCapId};
    use pcimig_testkit::Phys;

    /// A PCIe endpoint with AER at 0x100 and DSN at 0x148 whose next pointer is `next`.
    fn dsn_next(next: u16) -> Vec<u8> {
        let mut p = Phys::new(4096)
            .cap(0x40, CapId::Exp, &[0x02, 0x00])
            .ext(0x100, ExtCapId::Err, 2, &[])
            .ext(0x148, ExtCapId::Dsn, 1, &[0x11; 8])
            .build();
        let header = u32::from_le_bytes(p[0x148..0x14c].try_into().unwrap()) | u32::from(next) << 20;
        p[0x148..0x14c].copy_from_slice(&header.to_le_bytes());
        p
    }

    #[test]
    fn next_below_0x100_onto_a_zero_dword_is_dropped_and_ends_the_chain() {
        // vfio_add_ext_cap reads the dword at 0x10 of its copy of the config: BAR0 unimplemented,
        // cleared by vfio_realize, so ID 0: "kernel masked capability", dropped; its next is 0.
        let d = virtualize(&dsn_next(0x010), &VfioOptions::default()).unwrap();
        let ext: Vec<_> = d
            .space
            .ext_capabilities()
            .entries
            .iter()
            .map(|e| (e.offset, e.id))
            .collect();
        assert_eq!(ext, vec![(0x100, 0x0001), (0x148, 0x0003)]);
        assert_eq!(
            d.space.config()[0x14b] >> 4,
            0,
            "DSN's next stays 0: nothing added after it"
        );
        assert!(d.dropped.iter().any(|c| c.offset == 0x10 && c.id == 0 && c.extended));
        assert!(d.physical_ext_caps.iter().all(|e| e.offset >= 0x100));
    }

    #[test]
    fn next_below_0x100_onto_a_nonzero_id_aborts_in_pcie_add_capability() {
        // A raw next of 0x001 is masked to 0x000 (PCI_EXT_CAP_NEXT): the end of the chain.
        assert!(virtualize(&dsn_next(0x001), &VfioOptions::default()).is_ok());
        // 0x2c holds subsystem vendor 1d0f: pcie_add_capability(pdev, 0x1d0f, .., 0x2c, ..)
        // asserts offset >= PCI_CONFIG_SPACE_SIZE.
        let mut p = dsn_next(0x02c);
        p[0x2c..0x30].copy_from_slice(&[0x0f, 0x1d, 0x01, 0x00]);
        let e = virtualize(&p, &VfioOptions::default()).unwrap_err();
        assert!(matches!(e, VfioError::BadPointer(_)), "{e:?}");
        assert!(e.to_string().contains("reaches 0x2c, below 0x100"), "{e}");
        assert!(e.to_string().contains("ID 0x1d0f"), "{e}");
        assert!(e.to_string().contains("pcie_add_capability would abort"), "{e}");
    }

    /// Resizable BAR: exposed (read-only) from QEMU 8.1, hidden before.
    #[test]
    fn resizable_bar_is_hidden_before_qemu_8_1() {
        // One BAR, current size 256 MiB (8 = 2^(8+20)), supported sizes 1 MiB .. 256 MiB.
        let ctrl: u32 = (1 << 5) | (8 << 8);
        let mut data = Vec::new();
        data.extend_from_slice(&0x0000_1ff0u32.to_le_bytes());
        data.extend_from_slice(&ctrl.to_le_bytes());
        let p = Phys::new(4096)
            .cap(0x40, CapId::Exp, &[0x02, 0x00])
            .ext(0x100, ExtCapId::Rebar, 1, &data)
            .build();
        let ext_ids = |qemu: &str| {
            let opts = VfioOptions {
                qemu: crate::QemuVersion::parse(qemu).unwrap(),
                ..VfioOptions::default()
            };
            let d = virtualize(&p, &opts).unwrap();
            let ids: Vec<u16> = d.space.ext_capabilities().entries.iter().map(|e| e.id).collect();
            (ids, d.dropped.iter().map(|c| c.reason.clone()).collect::<Vec<_>>())
        };
        assert_eq!(ext_ids("8.1").0, vec![ExtCapId::Rebar.value()]);
        let (ids, dropped) = ext_ids("7.2.22");
        assert!(!ids.contains(&ExtCapId::Rebar.value()), "{ids:x?}");
        assert!(dropped.iter().any(|r| r.contains("before 8.1")), "{dropped:?}");
    }
}
