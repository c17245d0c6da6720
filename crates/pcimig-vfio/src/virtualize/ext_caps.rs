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
    fn vfio_add_one_ext_cap(&mut self, e: &CapEntry, size: usize) -> Result<(), VfioError> {
        let id = ExtCapId::from(e.id);
        if let Some(why) = ext_cap_drop_reason(id) {
            self.drop_cap(e.id, true, e.offset, why);
            return Ok(());
        }
        if id == ExtCapId::Rebar && !self.vfio_setup_rebar_ecap(e.offset)? {
            let why = "Resizable BAR dropped: a current BAR size is outside 1 MiB..512 GiB";
            self.drop_cap(e.id, true, e.offset, why);
            return Ok(());
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
