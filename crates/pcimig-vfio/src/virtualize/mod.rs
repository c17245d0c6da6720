//! vfio-pci's realize, step by step (QEMU 10.0.2 hw/vfio/pci.c vfio_realize and what it calls),
//! one Rust function per QEMU function, on a [`Realize`] context that stands for QEMU's
//! `VFIOPCIDevice`.
//!
//! - `header`: the emulated IDs and header bits, vfio_pci_size_rom, vfio_bars_prepare /
//!   vfio_bars_register;
//! - `msix`: vfio_msix_early_setup and its PBA quirks;
//! - `std_caps`: vfio_add_capabilities, vfio_add_std_cap and the per-capability setups
//!   (vfio_add_vendor_specific_cap among them);
//! - `pcie`: vfio_setup_pcie_cap;
//! - `virt_caps`: vfio_add_virt_caps (hw/vfio/pci-quirks.c);
//! - `ext_caps`: vfio_add_ext_cap and vfio_setup_rebar_ecap;
//! - `reset`: what machine reset runs before the guest (vfio_pci_reset, pci_do_device_reset).

mod ext_caps;
mod header;
mod msix;
mod pci_ids;
mod pcie;
mod reset;
mod std_caps;
mod virt_caps;

use crate::policy::{effective_skip_vsc_check_in, Effective, MachineType, Slot};
use crate::{VfioError, VfioOptions};
use pcimig_config::le;
use pcimig_config::presets::MsixLayout;
use pcimig_config::regs::*;
use pcimig_config::{
    walk_ext, AnyCapId, Array, CapEntry, CapId, ConfigSize, ConfigSpace, DeviceIdentity, DeviceParams, ExtCapId,
    HeaderKind, Preset,
};

/// A capability of the physical device that the guest does not see.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct DroppedCap {
    /// Capability ID.
    pub id: u16,
    /// Extended capability.
    pub extended: bool,
    /// Offset in the physical config.
    pub offset: usize,
    /// Why vfio drops or hides it.
    pub reason: String,
}

/// The guest-visible device: config and masks as QEMU's vfio-pci builds them, and what was
/// assumed and decided on the way.
#[derive(Debug, Clone)]
pub struct VfioDevice {
    /// Config and masks after realize.
    pub space: ConfigSpace,
    /// The slot used.
    pub slot: Slot,
    /// The machine type used.
    pub machine: MachineType,
    /// Effective `skip-vsc-check` and why.
    pub skip_vsc_check: Effective,
    /// The opt-in extended vendor policy was on.
    pub exempt_ext_vendor: bool,
    /// BAR sizes were given (else BARs are assumed minimal, see [`VfioDevice::notes`]).
    pub bar_sizes_given: bool,
    /// The physical standard chain, in chain order.
    pub physical_std_caps: Vec<CapEntry>,
    /// The physical extended chain, in chain order, as vfio_add_ext_cap walks it.
    pub physical_ext_caps: Vec<CapEntry>,
    /// Physical capabilities the guest does not see (hidden PCIe cap, dropped extended caps).
    pub dropped: Vec<DroppedCap>,
    /// Assumptions and decisions, one sentence each.
    pub notes: Vec<String>,
    /// Migration hazards found on the way (they never change a verdict).
    pub warnings: Vec<String>,
}

/// The device while vfio_realize builds it (QEMU's `VFIOPCIDevice`): the physical config it
/// reads from, the options, the guest view being built, and what is decided on the way.
struct Realize<'a> {
    /// The physical config as the host's vfio-pci driver presents it (QEMU's pread()s).
    physical: &'a [u8],
    /// The device's properties and the facts config bytes cannot carry.
    opts: &'a VfioOptions,
    /// The guest view: QEMU's `pdev` config and masks.
    space: ConfigSpace,
    /// Effective `skip-vsc-check` (QEMU's `vdev->skip_vsc_check`) and why.
    skip: Effective,
    /// The physical standard chain, in chain order (validated: no loop, no bad pointer).
    physical_std_caps: Vec<CapEntry>,
    /// The size of each registered BAR (QEMU's `vdev->bars[nr].size`).
    bar_sizes: [Option<u64>; PCI_NUM_BARS],
    /// The MSI-X layout vfio_msix_early_setup found (QEMU's `vdev->msix`).
    msix: Option<MsixLayout>,
    /// Physical capabilities the guest does not see.
    dropped: Vec<DroppedCap>,
    /// Assumptions and decisions, one sentence each.
    notes: Vec<String>,
    /// Migration hazards.
    warnings: Vec<String>,
}

/// Build the guest-visible device from the physical config (`physical`: 256 or 4096 bytes as
/// the host's vfio-pci driver presents them), in vfio_realize's order, then reset as machine
/// reset leaves it before the guest runs (what the source saves and the destination compares).
pub fn virtualize(physical: &[u8], opts: &VfioOptions) -> Result<VfioDevice, VfioError> {
    let mut vdev = Realize::new(physical, opts)?;
    vdev.vfio_emulate_ids_and_header()?;
    vdev.vfio_pci_size_rom()?;
    vdev.vfio_bars_register()?;
    vdev.vfio_msix_early_setup()?;
    vdev.vfio_add_capabilities()?;
    vdev.vfio_pci_reset()?;
    vdev.hazards();
    Ok(vdev.into_device())
}

impl<'a> Realize<'a> {
    /// vfio_realize up to the pread of the physical config: the host driver's checks, then
    /// do_pci_register_device on a (4096 or 256-byte) config and the physical bytes read over
    /// it (every byte replaced, masks untouched).
    fn new(physical: &'a [u8], opts: &'a VfioOptions) -> Result<Self, VfioError> {
        let size = ConfigSize::from_len(physical.len()).map_err(|_| VfioError::BadSize(physical.len()))?;
        let header_type = physical[PCI_HEADER_TYPE] & !PCI_HEADER_TYPE_MULTI_FUNCTION;
        if header_type != PCI_HEADER_TYPE_NORMAL {
            return Err(VfioError::NotType0(physical[PCI_HEADER_TYPE]));
        }
        // What vfio_msix_early_setup finds MSI-X on; vfio_add_capabilities walks the chain again
        // over the emulated header (and refuses a loop there).
        let physical_std_caps = physical_std_chain(physical).unwrap_or_default();
        let skip = effective_skip_vsc_check_in(opts.qemu, opts.skip_vsc_check, &opts.machine)?;
        let mut space = ConfigSpace::new_device(&DeviceParams {
            size,
            header: HeaderKind::Type0,
            identity: DeviceIdentity::default(),
            multifunction: false,
        });
        space.load_config_bytes(physical)?;
        Ok(Realize {
            physical,
            opts,
            space,
            skip,
            physical_std_caps,
            bar_sizes: [None; PCI_NUM_BARS],
            msix: None,
            dropped: Vec::new(),
            notes: Vec::new(),
            warnings: Vec::new(),
        })
    }

    /// The guest view's vendor and device IDs (QEMU's `vdev->vendor_id` / `device_id`: the
    /// `x-pci-*-id` values when set).
    fn ids(&self) -> (u16, u16) {
        let cfg = self.space.config();
        (le::word(cfg, PCI_VENDOR_ID), le::word(cfg, PCI_DEVICE_ID))
    }

    /// vfio_add_emulated_word / _long: config bits under `mask` replaced by `val`; the wmask
    /// word becomes `(wmask & !mask) | !mask` (QEMU writes the complement of the mask: bits
    /// outside a partial mask turn writable until pci_add_capability resets the capability's
    /// wmask).
    fn add_emulated(&mut self, pos: usize, len: usize, val: u32, mask: u32) -> Result<(), VfioError> {
        let full = if len == 2 { u32::from(u16::MAX) } else { u32::MAX };
        let (val, mask) = (val & full, mask & full);
        let cfg = self.space.get_le(Array::Config, pos, len)? as u32;
        self.space
            .set_le(Array::Config, pos, len, u64::from((cfg & !mask) | val))?;
        let wm = self.space.get_le(Array::Wmask, pos, len)? as u32;
        self.space
            .set_le(Array::Wmask, pos, len, u64::from(((wm & !mask) | !mask) & full))?;
        Ok(())
    }

    /// Record a physical capability the guest does not see.
    fn drop_cap(&mut self, id: u16, extended: bool, offset: usize, reason: &str) {
        self.dropped.push(DroppedCap {
            id,
            extended,
            offset,
            reason: reason.to_string(),
        });
    }

    /// Migration hazards visible in the guest view, and what pcimig does not model.
    fn hazards(&mut self) {
        let cfg = self.space.config();
        if le::word(cfg, PCI_VENDOR_ID) == pci_ids::PCI_VENDOR_ID_INTEL
            && cfg[PCI_CLASS_DEVICE + 1] == PCI_BASE_CLASS_DISPLAY
        {
            self.warnings.push(
                "Intel integrated graphics: QEMU's IGD quirks (hw/vfio/igd.c: OpRegion/legacy mode) change wmask at 0x50 (GMCH), 0x5c or 0xc0 (BDSM) and 0xfc (ASLS) after the capabilities are added; pcimig does not model them"
                    .into(),
            );
        }
        for r in self.space.cap_records() {
            if r.id == AnyCapId::Ext(ExtCapId::Dsn) {
                self.warnings.push(format!(
                    "Device Serial Number at {:#05x} is exposed and checked: two physical devices never share a serial number, so migrating between different physical devices fails there (unless the host's variant driver hides the DSN)",
                    r.offset
                ));
            }
            if r.id == AnyCapId::Std(CapId::Vndr) && !self.skip.value && r.preset == Preset::VfioAddVendorSpecificCap {
                self.warnings.push(format!(
                    "Vendor Specific (09) at {:#04x} is fully checked ({}): a host driver that changes its payload breaks migration",
                    r.offset, self.skip.reason
                ));
            }
        }
    }

    /// The finished device, with the physical extended chain as vfio_add_ext_cap walks it (a
    /// header of 0xffffffff is a capability with ID 0xffff to QEMU, not the end of the chain as
    /// it is to pciutils; a chain QEMU cannot walk is listed as pciutils walks it; a pointer below
    /// 0x100 ends the list).
    fn into_device(self) -> VfioDevice {
        let physical_ext_caps =
            if self.space.size() == PCIE_CONFIG_SPACE_SIZE && le::long(self.physical, PCI_CONFIG_SPACE_SIZE) != 0 {
                match physical_ext_chain(self.physical) {
                    Ok(chain) => chain
                        .into_iter()
                        .filter(|e| e.offset >= PCI_CONFIG_SPACE_SIZE)
                        .collect(),
                    Err(_) => walk_ext(self.physical).entries,
                }
            } else {
                Vec::new()
            };
        VfioDevice {
            space: self.space,
            slot: self.opts.slot,
            machine: self.opts.machine,
            skip_vsc_check: self.skip,
            exempt_ext_vendor: self.opts.exempt_ext_vendor,
            bar_sizes_given: self.opts.bar_sizes.is_some(),
            physical_std_caps: self.physical_std_caps,
            physical_ext_caps,
            dropped: self.dropped,
            notes: self.notes,
            warnings: self.warnings,
        }
    }
}

/// The standard chain as QEMU's recursive vfio_add_std_cap descends it (vfio_add_capabilities:
/// only with Status CAP_LIST and a non-zero Capabilities Pointer; each `cap_id` and `next` read
/// raw from `cfg`, QEMU's `pdev->config` before the rebuild, until a zero `next`). A pointer into
/// the header is followed like any other: QEMU reads its ID and next from the emulated header
/// bytes there (BARs and ROM hold only their type bits by then) and adds a capability over them.
/// Refuses what QEMU cannot survive: a loop (the recursion never ends) and a capability at 0xff
/// (its next pointer is past standard config space).
pub(super) fn physical_std_chain(cfg: &[u8]) -> Result<Vec<CapEntry>, VfioError> {
    let mut entries: Vec<CapEntry> = Vec::new();
    if cfg[PCI_STATUS] & PCI_STATUS_CAP_LIST as u8 == 0 {
        return Ok(entries);
    }
    let mut pos = usize::from(cfg[PCI_CAPABILITY_LIST]);
    while pos != 0 {
        if entries.iter().any(|e| e.offset == pos) {
            return Err(VfioError::CapLoop {
                kind: "standard",
                at: pos,
            });
        }
        if pos + PCI_CAP_LIST_NEXT >= PCI_CONFIG_SPACE_SIZE {
            return Err(VfioError::BadPointer(format!(
                "capability at {pos:#x} has no room for its next pointer inside standard config space"
            )));
        }
        let next = usize::from(cfg[pos + PCI_CAP_LIST_NEXT]);
        entries.push(CapEntry {
            id: u16::from(cfg[pos + PCI_CAP_LIST_ID]),
            extended: false,
            offset: pos,
            version: 0,
            next,
        });
        pos = next;
    }
    Ok(entries)
}

/// The extended chain as vfio_add_ext_cap's loop walks `cfg` (QEMU's
/// `for (next = PCI_CONFIG_SPACE_SIZE; next; next = PCI_EXT_CAP_NEXT(...))`): from 0x100, every
/// header a capability, the next pointer masked to 0xffc and followed wherever it points — a
/// pointer below 0x100 reads a "header" out of the standard space (what vfio_add_ext_cap then
/// does with it is in `vfio_add_one_ext_cap`). Refuses only a loop (QEMU's walk never ends).
fn physical_ext_chain(cfg: &[u8]) -> Result<Vec<CapEntry>, VfioError> {
    let mut entries: Vec<CapEntry> = Vec::new();
    let mut next = PCI_CONFIG_SPACE_SIZE;
    while next != 0 {
        if entries.iter().any(|e| e.offset == next) {
            return Err(VfioError::CapLoop {
                kind: "extended",
                at: next,
            });
        }
        let header = le::long(cfg, next);
        entries.push(CapEntry {
            id: pci_ext_cap_id(header),
            extended: true,
            offset: next,
            version: pci_ext_cap_ver(header),
            next: pci_ext_cap_next_raw(header),
        });
        next = pci_ext_cap_next(header);
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::VfioOptions;
    use pcimig_testkit::Phys;

    #[test]
    fn rebuilt_chain_keeps_physical_order_and_next_pointers() {
        let p = Phys::new(256)
            .cap(0x40, CapId::Pm, &[0x03, 0x00])
            .cap(0x50, CapId::Msi, &[0x80, 0x00])
            .cap(0x70, CapId::Vndr, &[0x10])
            .build();
        let d = virtualize(&p, &VfioOptions::default()).unwrap();
        let order: Vec<_> = d.space.std_capabilities().iter().map(|e| (e.offset, e.id)).collect();
        assert_eq!(order, vec![(0x40, 1), (0x50, 5), (0x70, 9)]);
        assert_eq!(d.space.config()[0x34], 0x40);
        assert_eq!(d.space.config()[0x41], 0x50);
        assert_eq!(d.space.config()[0x71], 0x00);
    }

    #[test]
    fn loops_and_non_type0_headers_are_refused() {
        let p = Phys::new(256)
            .cap(0x40, CapId::Vndr, &[4])
            .cap(0x50, CapId::Vndr, &[4])
            .next(0x50, 0x40)
            .build();
        assert!(matches!(
            virtualize(&p, &VfioOptions::default()),
            Err(VfioError::CapLoop {
                kind: "standard",
                at: 0x40
            })
        ));
        let mut p = Phys::new(256).build();
        p[0x0e] = 1;
        assert!(matches!(
            virtualize(&p, &VfioOptions::default()),
            Err(VfioError::NotType0(1))
        ));
        assert!(matches!(
            virtualize(&[0u8; 100], &VfioOptions::default()),
            Err(VfioError::BadSize(100))
        ));
    }

    #[test]
    fn a_pointer_into_the_header_adds_a_capability_over_header_registers() {
        // Issue 10 (4): QEMU 10.0.2 realizes this device. vfio_add_std_cap reads ID 0 and next 0
        // at 0x20 (BAR4, unimplemented: cleared), sizes it to the next capability on the list
        // (0x40: 0x20 bytes) and pci_add_capability makes 0x20..0x40 read-only and checked, so
        // pci_do_device_reset leaves Interrupt Line (0x3c) as it was.
        let mut p = Phys::new(256).cap(0x40, CapId::Vndr, &[4]).next(0x40, 0x20).build();
        p[0x3c] = 0xff;
        let d = virtualize(&p, &VfioOptions::default()).unwrap();
        let s = &d.space;
        assert_eq!(
            (s.config()[0x34], s.config()[0x41], s.config()[0x21]),
            (0x40, 0x20, 0x00)
        );
        assert!(s.wmask()[0x20..0x40].iter().all(|&m| m == 0));
        assert!(s.cmask()[0x20..0x40].iter().all(|&m| m == 0xff));
        assert_eq!(s.config()[0x3c], 0xff, "Interrupt Line read-only: not cleared by reset");
        let caps: Vec<_> = d.physical_std_caps.iter().map(|e| (e.offset, e.id)).collect();
        assert_eq!(caps, vec![(0x40, 0x09), (0x20, 0x00)]);
    }

    #[test]
    fn msi_uses_the_physical_flags_and_only_its_own_size_is_checked() {
        // MSI 64-bit, 4 vectors (MMC 2), at 0x50; next cap at 0x70.
        let p = Phys::new(256)
            .cap(0x50, CapId::Msi, &[0x84, 0x00])
            .cap(0x70, CapId::Vndr, &[4])
            .build();
        let d = virtualize(&p, &VfioOptions::default()).unwrap();
        assert_eq!(d.space.config()[0x52], 0x84);
        assert_eq!(d.space.cmask()[0x50 + 0x0d], 0xff);
        assert_eq!(
            d.space.cmask()[0x50 + 0x0e],
            0x00,
            "bytes after msi_cap_sizeof keep cmask 0"
        );
        assert_eq!(d.space.wmask()[0x50 + 0x0e], 0xff);
    }

    #[test]
    fn type1_header_and_bad_pcie_type_are_refused_with_qemu_reason() {
        let p = Phys::new(4096).cap(0x40, CapId::Exp, &[0x42, 0x00]).build(); // root port type 4
        let e = virtualize(&p, &VfioOptions::default()).unwrap_err();
        assert_eq!(e.to_string(), "failed to add PCI capability 0x10[0xc0]@0x40: assignment of PCIe type 0x4 devices is not currently supported");
    }
}
