//! vfio-pci's realize, step by step (QEMU 10.0.2 hw/vfio/pci.c vfio_realize and what it calls).

use crate::policy::{effective_skip_vsc_check, Effective, MachineType, Slot};
use crate::{VfioError, VfioOptions};
use pcimig_config::le;
use pcimig_config::presets::{msix_table_size, MsixLayout};
use pcimig_config::regs::*;
use pcimig_config::{
    walk_ext, AnyCapId, Array, CapEntry, CapId, ConfigError, ConfigSize, ConfigSpace, DeviceIdentity, DeviceParams,
    ExemptPolicy, ExtCapId, HeaderKind, Preset,
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

fn cfg_err(e: ConfigError) -> VfioError {
    VfioError::BadOption(e.to_string())
}

/// vfio_add_emulated_word / _long: config bits under `mask` replaced by `val`; the wmask word
/// becomes `(wmask & !mask) | !mask` (QEMU writes the complement of the mask: bits outside a
/// partial mask turn writable until pci_add_capability resets the capability's wmask).
fn add_emulated(space: &mut ConfigSpace, pos: usize, len: usize, val: u32, mask: u32) -> Result<(), VfioError> {
    let full = if len == 2 { 0xffffu32 } else { u32::MAX };
    let (val, mask) = (val & full, mask & full);
    let cfg = space.get_le(Array::Config, pos, len).map_err(cfg_err)? as u32;
    space
        .set_le(Array::Config, pos, len, u64::from((cfg & !mask) | val))
        .map_err(cfg_err)?;
    let wm = space.get_le(Array::Wmask, pos, len).map_err(cfg_err)? as u32;
    space
        .set_le(Array::Wmask, pos, len, u64::from(((wm & !mask) | !mask) & full))
        .map_err(cfg_err)?;
    Ok(())
}

/// Walk the physical standard chain as QEMU follows it (raw next pointers), refusing what
/// QEMU cannot survive: loops (infinite recursion) and pointers into the header.
fn physical_std_chain(cfg: &[u8]) -> Result<Vec<CapEntry>, VfioError> {
    let mut out = Vec::new();
    if cfg[PCI_STATUS] & PCI_STATUS_CAP_LIST as u8 == 0 || cfg[PCI_CAPABILITY_LIST] == 0 {
        return Ok(out);
    }
    let mut seen = [false; PCI_CONFIG_SPACE_SIZE];
    let mut from = PCI_CAPABILITY_LIST;
    let mut pos = usize::from(cfg[PCI_CAPABILITY_LIST]);
    while pos != 0 {
        if pos < PCI_CONFIG_HEADER_SIZE {
            return Err(VfioError::BadPointer(format!(
                "capability pointer at {from:#x} points into the standard header ({pos:#x}): QEMU would add a capability over header registers"
            )));
        }
        if pos + PCI_CAP_LIST_NEXT >= PCI_CONFIG_SPACE_SIZE {
            return Err(VfioError::BadPointer(format!(
                "capability at {pos:#x} has no room for its next pointer inside standard config space"
            )));
        }
        if seen[pos] {
            return Err(VfioError::CapLoop {
                kind: "standard",
                at: pos,
            });
        }
        seen[pos] = true;
        let next = usize::from(cfg[pos + PCI_CAP_LIST_NEXT]);
        out.push(CapEntry {
            id: u16::from(cfg[pos + PCI_CAP_LIST_ID]),
            extended: false,
            offset: pos,
            version: 0,
            next,
        });
        from = pos + PCI_CAP_LIST_NEXT;
        pos = next;
    }
    Ok(out)
}

/// Walk the physical extended chain as vfio_add_ext_cap does (next masked to 0xffc), refusing
/// loops and pointers below 0x100 (pcie_add_capability asserts on them).
fn physical_ext_chain(cfg: &[u8]) -> Result<Vec<CapEntry>, VfioError> {
    let mut out = Vec::new();
    let mut seen = vec![false; PCIE_CONFIG_SPACE_SIZE];
    let mut pos = PCI_CONFIG_SPACE_SIZE;
    loop {
        if seen[pos] {
            return Err(VfioError::CapLoop {
                kind: "extended",
                at: pos,
            });
        }
        seen[pos] = true;
        let header = le::long(cfg, pos);
        let next = pci_ext_cap_next(header);
        out.push(CapEntry {
            id: pci_ext_cap_id(header),
            extended: true,
            offset: pos,
            version: pci_ext_cap_ver(header),
            next,
        });
        if next == 0 {
            return Ok(out);
        }
        if next < PCI_CONFIG_SPACE_SIZE {
            return Err(VfioError::BadPointer(format!(
                "extended capability at {pos:#x} points below 0x100 ({next:#x}): QEMU's pcie_add_capability would abort"
            )));
        }
        pos = next;
    }
}

/// vfio_std_cap_max_size: distance from `pos` to the smallest capability offset above it on the
/// current list, or to 0x100.
fn std_cap_max_size(space: &ConfigSpace, pos: usize) -> usize {
    let next = space
        .std_capabilities()
        .iter()
        .map(|e| e.offset)
        .filter(|&o| o > pos)
        .min()
        .unwrap_or(PCI_CONFIG_SPACE_SIZE);
    next - pos
}

/// Build the guest-visible device from the physical config (`physical`: 256 or 4096 bytes as
/// the host's vfio-pci driver presents them), in vfio_realize's order.
pub fn virtualize(physical: &[u8], opts: &VfioOptions) -> Result<VfioDevice, VfioError> {
    let size = ConfigSize::from_len(physical.len()).map_err(|_| VfioError::BadSize(physical.len()))?;
    let header_type = physical[PCI_HEADER_TYPE] & !PCI_HEADER_TYPE_MULTI_FUNCTION;
    if header_type != PCI_HEADER_TYPE_NORMAL {
        return Err(VfioError::NotType0(physical[PCI_HEADER_TYPE]));
    }
    let physical_std_caps = physical_std_chain(physical)?;
    let has_std_caps = !physical_std_caps.is_empty();
    let mut notes = Vec::new();
    let mut warnings = Vec::new();
    let mut dropped = Vec::new();
    let skip = effective_skip_vsc_check(opts.skip_vsc_check, &opts.machine);

    // 1. do_pci_register_device on a (4096 or 256-byte) config, then the pread of the physical
    //    config over it: every byte replaced, masks untouched.
    let mut space = ConfigSpace::new_device(&DeviceParams {
        size,
        header: HeaderKind::Type0,
        identity: DeviceIdentity::default(),
        multifunction: false,
    });
    space.load_config_bytes(physical).map_err(cfg_err)?;

    // 2. x-pci-*-id overrides (vfio_add_emulated_word with a full mask).
    let ids = opts.id_overrides;
    for (off, v) in [
        (PCI_VENDOR_ID, ids.vendor_id),
        (PCI_DEVICE_ID, ids.device_id),
        (PCI_SUBSYSTEM_VENDOR_ID, ids.sub_vendor_id),
        (PCI_SUBSYSTEM_ID, ids.sub_device_id),
    ] {
        if let Some(v) = v {
            add_emulated(&mut space, off, 2, u32::from(v), 0xffff)?;
        }
    }
    if ids.vendor_id == Some(0xffff) {
        return Err(VfioError::BadOption("invalid PCI vendor ID provided".into()));
    }

    // 3. Multifunction bit is QEMU's; BARs and ROM are cleared of host addresses.
    {
        let cfg = space.config_mut();
        if opts.multifunction {
            cfg[PCI_HEADER_TYPE] |= PCI_HEADER_TYPE_MULTI_FUNCTION;
        } else {
            cfg[PCI_HEADER_TYPE] &= !PCI_HEADER_TYPE_MULTI_FUNCTION;
        }
        cfg[PCI_BASE_ADDRESS_0..PCI_BASE_ADDRESS_5 + 4].fill(0);
        cfg[PCI_ROM_ADDRESS..PCI_ROM_ADDRESS + 4].fill(0);
    }

    // 4. vfio_pci_size_rom: the ROM is registered with the physical ROM's size.
    // vfio_opt_rom_in_denylist: with rombar left at its default, QEMU does not expose the ROM of
    // the Broadcom BCM57810 (14e4:168e).
    let rom_denied =
        le::word(space.config(), PCI_VENDOR_ID) == 0x14e4 && le::word(space.config(), PCI_DEVICE_ID) == 0x168e;
    match opts.rom_size {
        Some(n) if n != 0 && rom_denied => notes.push(
            "expansion ROM not registered: QEMU's ROM denylist (14e4:168e, known to cause instability) skips it unless rombar=1 or romfile= is set"
                .into(),
        ),
        Some(0) => notes.push("expansion ROM: none (size 0 given)".into()),
        Some(sz) => {
            if !sz.is_power_of_two() {
                return Err(VfioError::BadBar(format!("ROM size {sz:#x} is not a power of two")));
            }
            space.register_bar(PCI_ROM_SLOT, 0, sz).map_err(|e| VfioError::BadBar(e.to_string()))?;
            notes.push(format!("expansion ROM registered with size {sz:#x}"));
        }
        None => notes.push(
            "ROM size not given: the ROM BAR is not registered (unchecked); if the host device has a ROM, QEMU registers it and checks its size bits"
                .into(),
        ),
    }

    // 5. vfio_bars_prepare + vfio_bars_register: type bits from the physical BAR, size from the
    //    host's region info.
    let mut bar_sizes: [Option<u64>; PCI_NUM_BARS] = [None; PCI_NUM_BARS];
    let mut i = 0;
    while i < PCI_NUM_BARS {
        let dword = le::long(physical, PCI_BASE_ADDRESS_0 + 4 * i);
        let io = dword & u32::from(PCI_BASE_ADDRESS_SPACE_IO) != 0;
        let bar_type = if io {
            (dword & PCI_BASE_ADDRESS_IO_FLAGS) as u8
        } else {
            (dword & PCI_BASE_ADDRESS_MEM_FLAGS) as u8
        };
        let is64 = !io && bar_type & PCI_BASE_ADDRESS_MEM_TYPE_64 != 0;
        let size = match opts.bar_sizes {
            Some(sizes) => sizes[i].filter(|&s| s != 0),
            None if dword != 0 => Some(if io { 4 } else { 16 }),
            None => None,
        };
        if let Some(sz) = size {
            if !sz.is_power_of_two() {
                return Err(VfioError::BadBar(format!("BAR{i} size {sz:#x} is not a power of two")));
            }
            if is64 && i == PCI_NUM_BARS - 1 {
                return Err(VfioError::BadBar("BAR5 is a 64-bit BAR: it has no upper half".into()));
            }
            space
                .register_bar(i, bar_type, sz)
                .map_err(|e| VfioError::BadBar(e.to_string()))?;
            bar_sizes[i] = Some(sz);
            if is64 {
                if let Some(sizes) = opts.bar_sizes {
                    if sizes[i + 1].is_some_and(|s| s != 0) {
                        return Err(VfioError::BadBar(format!(
                            "BAR{} is the upper half of 64-bit BAR{i}: it cannot have a size of its own",
                            i + 1
                        )));
                    }
                }
                i += 1;
            }
        }
        i += 1;
    }
    let bar_sizes_given = opts.bar_sizes.is_some();
    if bar_sizes_given {
        notes.push("BAR sizes given: BAR size bits checked as QEMU registers them".into());
    } else {
        notes.push(
            "BAR sizes not given: each BAR whose dword is non-zero counts as present with its type bits checked and its address bits writable (the least QEMU checks); MSI-X placement not validated"
                .into(),
        );
    }

    // 6. vfio_msix_early_setup: the MSI-X table/PBA location from the physical capability.
    let msix = physical_std_caps.iter().find(|e| e.is(CapId::Msix)).map(|e| {
        let ctrl = le::word(physical, e.offset + PCI_MSIX_FLAGS);
        let table = le::long(physical, e.offset + PCI_MSIX_TABLE);
        let pba = le::long(physical, e.offset + PCI_MSIX_PBA);
        // vdev->vendor_id/device_id: the x-pci-*-id values when set.
        let vendor = le::word(space.config(), PCI_VENDOR_ID);
        let device = le::word(space.config(), PCI_DEVICE_ID);
        let mut pba_offset = pba & !PCI_MSIX_FLAGS_BIRMASK;
        let pba_bar = (pba & PCI_MSIX_FLAGS_BIRMASK) as u8;
        let chelsio_t5_vf = vendor == 0x1425 && device & 0xff00 == 0x5800;
        let kunlun_vf = vendor == 0x1d22 && device == 0x3685;
        // QEMU always knows the PBA BAR's size; without sizes, the quirky devices' BARs are the
        // sizes QEMU's comments give (Chelsio T5 VF: 8 KiB, Kunlun VF: 0x10000).
        let pba_bar_size = if bar_sizes_given {
            Some(bar_sizes.get(usize::from(pba_bar)).copied().flatten().unwrap_or(0))
        } else if chelsio_t5_vf {
            Some(0x2000)
        } else if kunlun_vf {
            Some(0x10000)
        } else {
            None
        };
        if pba_bar_size.is_some_and(|sz| u64::from(pba_offset) >= sz) {
            if chelsio_t5_vf {
                pba_offset = 0x1000; // Chelsio T5 VF quirk
            } else if kunlun_vf {
                pba_offset = 0xb400; // Baidu Kunlun VF quirk
            } else {
                return Err(VfioError::Msix(
                    "hardware reports invalid configuration, MSIX PBA outside of specified BAR".into(),
                ));
            }
        }
        Ok((
            e.offset,
            MsixLayout {
                nentries: msix_table_size(ctrl),
                table_bar: (table & PCI_MSIX_FLAGS_BIRMASK) as u8,
                table_offset: table & !PCI_MSIX_FLAGS_BIRMASK,
                pba_bar,
                pba_offset,
                bar_sizes: None,
            },
        ))
    });
    let msix = msix.transpose()?;

    // 7. vfio_add_capabilities → vfio_add_std_cap (recursive from the tail) → vfio_add_ext_cap.
    if has_std_caps {
        // Sizes are computed on the way down, on the physical list.
        let sizes: Vec<usize> = physical_std_caps
            .iter()
            .map(|e| std_cap_max_size(&space, e.offset))
            .collect();
        {
            let cfg = space.config_mut();
            cfg[PCI_CAPABILITY_LIST] = 0;
        }
        add_virt_caps(&mut space, physical, &physical_std_caps, opts, &mut notes)?;
        for (entry, &pre) in physical_std_caps.iter().zip(&sizes).rev() {
            let pos = entry.offset;
            let cap_id = CapId::from(entry.id as u8);
            let size = pre.min(std_cap_max_size(&space, pos));
            let fail = |reason: String| VfioError::AddCapability {
                cap_id: cap_id.value(),
                size,
                pos,
                reason,
            };
            match cap_id {
                CapId::Msi => {
                    let ctrl = le::word(physical, pos + PCI_MSI_FLAGS);
                    let mmc = (ctrl & PCI_MSI_FLAGS_QMASK) >> 1;
                    if mmc > 5 {
                        return Err(fail(format!(
                            "msi_init: Multiple Message Capable {mmc} ({} vectors) is reserved: QEMU asserts at most 32 vectors",
                            1u32 << mmc
                        )));
                    }
                    space
                        .msi_init(
                            pos,
                            1 << mmc,
                            ctrl & PCI_MSI_FLAGS_64BIT != 0,
                            ctrl & PCI_MSI_FLAGS_MASKBIT != 0,
                        )
                        .map_err(|e| fail(format!("msi_init failed: {e}")))?;
                }
                CapId::Exp => setup_pcie_cap(&mut space, physical, pos, size, opts.slot, &mut dropped, &mut notes)
                    .map_err(|e| match e {
                        VfioError::AddCapability { .. } => e,
                        other => fail(other.to_string()),
                    })?,
                CapId::Msix => {
                    let (_, mut layout) = msix.expect("MSI-X found in the physical chain");
                    if bar_sizes_given {
                        let t = bar_sizes[usize::from(layout.table_bar)].unwrap_or(0);
                        let p = bar_sizes[usize::from(layout.pba_bar)].unwrap_or(0);
                        layout.bar_sizes = Some((t, p));
                    }
                    space.msix_init(pos, &layout).map_err(|e| match e {
                        ConfigError::InvalidPreset { why, .. } => fail(why),
                        other => fail(other.to_string()),
                    })?;
                }
                CapId::Pm => {
                    space.pm_init(pos, true).map_err(|e| fail(e.to_string()))?;
                }
                CapId::Vndr => {
                    space
                        .add_capability(CapId::Vndr, pos, size, Preset::VfioAddVendorSpecificCap)
                        .map_err(|e| fail(e.to_string()))?;
                    if skip.value && size > PCI_VNDR_CAP_HEADER_SIZEOF {
                        space
                            .exempt(
                                pos + PCI_VNDR_CAP_HEADER_SIZEOF..pos + size,
                                ExemptPolicy::SkipVscCheck,
                                &format!(
                                    "Vendor Specific (09) @{pos:#04x}: payload after the 3-byte header, up to the next capability ({}; {})",
                                    if pos + size == PCI_CONFIG_SPACE_SIZE { "end of standard space".to_string() } else { format!("{:#04x}", pos + size) },
                                    skip.reason
                                ),
                            )
                            .map_err(cfg_err)?;
                    }
                }
                _ => {
                    space
                        .add_capability(cap_id, pos, size, Preset::VfioAddStdCap)
                        .map_err(|e| fail(e.to_string()))?;
                }
            }
        }
        add_ext_caps(&mut space, opts, &mut dropped, &mut notes, &mut warnings)?;
    } else {
        notes.push("no standard capability list: QEMU adds no capabilities, and no extended ones either".into());
    }
    // The chain as vfio_add_ext_cap walks it (a header of 0xffffffff is a capability with ID
    // 0xffff to QEMU, not the end of the chain as it is to pciutils).
    let physical_ext_caps = if size == ConfigSize::Express && le::long(physical, PCI_CONFIG_SPACE_SIZE) != 0 {
        physical_ext_chain(physical).unwrap_or_else(|_| walk_ext(physical).entries)
    } else {
        Vec::new()
    };

    hazards(&space, &skip, &mut warnings);
    Ok(VfioDevice {
        space,
        slot: opts.slot,
        machine: opts.machine,
        skip_vsc_check: skip,
        exempt_ext_vendor: opts.exempt_ext_vendor,
        bar_sizes_given,
        physical_std_caps,
        physical_ext_caps,
        dropped,
        notes,
        warnings,
    })
}

/// vfio_add_virt_caps: NVIDIA GPUDirect clique VSC (with `x-nv-gpudirect-clique`) and the Intel
/// VMD MEMBAR shadow VSC. Both are added with plain pci_add_capability: fully checked.
fn add_virt_caps(
    space: &mut ConfigSpace,
    physical: &[u8],
    chain: &[CapEntry],
    opts: &VfioOptions,
    notes: &mut Vec<String>,
) -> Result<(), VfioError> {
    let vendor = le::word(space.config(), PCI_VENDOR_ID);
    let device = le::word(space.config(), PCI_DEVICE_ID);
    if let Some(clique) = opts.nv_gpudirect_clique {
        if clique > 15 {
            return Err(VfioError::BadOption(format!(
                "x-nv-gpudirect-clique {clique}: valid values are 0..15"
            )));
        }
        if vendor != 0x10de {
            return Err(VfioError::BadOption(
                "NVIDIA GPUDirect Clique ID: invalid device vendor".into(),
            ));
        }
        if space.config()[PCI_CLASS_DEVICE + 1] != PCI_BASE_CLASS_DISPLAY {
            return Err(VfioError::BadOption(
                "NVIDIA GPUDirect Clique ID: unsupported PCI class".into(),
            ));
        }
        let c8 = chain.iter().any(|e| e.offset == 0xc8);
        let d4 = chain.iter().any(|e| e.offset == 0xd4);
        let pos = match (c8, d4) {
            (false, _) => 0xc8,
            (true, false) => 0xd4,
            (true, true) => {
                return Err(VfioError::BadOption(
                    "NVIDIA GPUDirect Clique ID: invalid config space".into(),
                ))
            }
        };
        space
            .add_capability(CapId::Vndr, pos, 8, Preset::VfioAddNvGpudirectCap)
            .map_err(|e| VfioError::BadOption(format!("Failed to add NVIDIA GPUDirect cap: {e}")))?;
        let cfg = space.config_mut();
        cfg[pos + 2..pos + 8].copy_from_slice(&[8, b'P', b'2', b'P', clique << 3, 0]);
        notes.push(format!(
            "QEMU's NVIDIA GPUDirect clique VSC added at {pos:#x} (fully checked)"
        ));
    }
    if vendor == 0x8086 && matches!(device, 0x201d | 0x467f | 0x4c3d | 0x9a0b) {
        let pos = 0xe8;
        space
            .add_capability(CapId::Vndr, pos, 24, Preset::VfioAddVmdShadowCap)
            .map_err(|e| VfioError::BadOption(format!("Failed to add VMD MEMBAR Shadow cap: {e}")))?;
        let cfg = space.config_mut();
        cfg[pos + 2] = 24;
        cfg[pos + 3] = 1;
        cfg[pos + 4..pos + 8].copy_from_slice(&0x5348_4457u32.to_le_bytes());
        cfg[pos + 8..pos + 24].copy_from_slice(&physical[0x18..0x28]);
        notes.push("QEMU's Intel VMD MEMBAR shadow VSC added at 0xe8 (fully checked)".into());
    }
    Ok(())
}

/// vfio_setup_pcie_cap.
fn setup_pcie_cap(
    space: &mut ConfigSpace,
    physical: &[u8],
    pos: usize,
    size: usize,
    slot: Slot,
    dropped: &mut Vec<DroppedCap>,
    notes: &mut Vec<String>,
) -> Result<(), VfioError> {
    let flags = le::word(physical, pos + PCI_EXP_FLAGS);
    let t = ((flags & PCI_EXP_FLAGS_TYPE) >> PCI_EXP_FLAGS_TYPE_SHIFT) as u8;
    if !matches!(t, PCI_EXP_TYPE_ENDPOINT | PCI_EXP_TYPE_LEG_END | PCI_EXP_TYPE_RC_END) {
        return Err(VfioError::AddCapability {
            cap_id: CapId::Exp.value(),
            size,
            pos,
            reason: format!("assignment of PCIe type 0x{t:x} devices is not currently supported"),
        });
    }
    let hide = |dropped: &mut Vec<DroppedCap>, why: &str| {
        dropped.push(DroppedCap {
            id: u16::from(CapId::Exp.value()),
            extended: false,
            offset: pos,
            reason: why.to_string(),
        });
    };
    match slot {
        Slot::PciBridge => {
            hide(dropped, "PCI Express capability hidden: device on a conventional bus of a PCIe machine (q35, behind a PCI bridge)");
            return Ok(());
        }
        Slot::I440fx => notes.push("PCI Express capability kept unchanged: conventional root bus (i440fx)".into()),
        Slot::Q35Root => {
            if t == PCI_EXP_TYPE_ENDPOINT {
                add_emulated(
                    space,
                    pos + PCI_EXP_FLAGS,
                    2,
                    u32::from(PCI_EXP_TYPE_RC_END) << PCI_EXP_FLAGS_TYPE_SHIFT,
                    u32::from(PCI_EXP_FLAGS_TYPE),
                )?;
                if size > PCI_EXP_LNKCTL {
                    add_emulated(space, pos + PCI_EXP_LNKCAP, 4, 0, u32::MAX)?;
                    add_emulated(space, pos + PCI_EXP_LNKCTL, 2, 0, 0xffff)?;
                    add_emulated(space, pos + PCI_EXP_LNKSTA, 2, 0, 0xffff)?;
                    if size > PCI_EXP_LNKCAP2 {
                        add_emulated(space, pos + PCI_EXP_LNKCAP2, 4, 0, u32::MAX)?;
                        add_emulated(space, pos + PCI_EXP_LNKCTL2, 2, 0, 0xffff)?;
                        add_emulated(space, pos + PCI_EXP_LNKSTA2, 2, 0, 0xffff)?;
                    }
                }
                notes.push(
                    "PCIe root bus: Endpoint presented as Root Complex Integrated Endpoint, link registers zeroed"
                        .into(),
                );
            } else if t == PCI_EXP_TYPE_LEG_END {
                hide(
                    dropped,
                    "PCI Express capability hidden: Legacy Endpoint on a PCIe root bus",
                );
                return Ok(());
            }
        }
        Slot::PciePort => {
            if t == PCI_EXP_TYPE_RC_END {
                add_emulated(
                    space,
                    pos + PCI_EXP_FLAGS,
                    2,
                    u32::from(PCI_EXP_TYPE_ENDPOINT) << PCI_EXP_FLAGS_TYPE_SHIFT,
                    u32::from(PCI_EXP_FLAGS_TYPE),
                )?;
                let x1_2_5gt =
                    (u32::from(QEMU_PCI_EXP_LNK_X1) << PCI_EXP_LNK_MLW_SHIFT) | u32::from(QEMU_PCI_EXP_LNK_2_5GT);
                add_emulated(space, pos + PCI_EXP_LNKCAP, 4, x1_2_5gt, u32::MAX)?;
                add_emulated(space, pos + PCI_EXP_LNKCTL, 2, 0, 0xffff)?;
                notes.push("behind a PCIe port: Root Complex Integrated Endpoint presented as Endpoint with an x1 2.5GT/s link".into());
            }
            notes.push(
                "behind a PCIe port, QEMU may also set AtomicOp completer bits in the parent root port's DEVCAP2 (vfio_pci_enable_rp_atomics); that register is checked in the root port's own section"
                    .into(),
            );
        }
    }
    if flags & PCI_EXP_FLAGS_VERS == 0 {
        add_emulated(space, pos + PCI_EXP_FLAGS, 2, 1, u32::from(PCI_EXP_FLAGS_VERS))?;
    }
    space
        .add_capability(CapId::Exp, pos, size, Preset::VfioSetupPcieCap)
        .map_err(|e| VfioError::AddCapability {
            cap_id: CapId::Exp.value(),
            size,
            pos,
            reason: e.to_string(),
        })?;
    Ok(())
}

/// vfio_setup_rebar_ecap: each entry's CAP and CTRL dwords emulated to report only the current
/// size. Returns false (capability dropped) when a current size is outside 1 MiB..512 GiB;
/// entries already rewritten keep their emulated values.
fn setup_rebar(space: &mut ConfigSpace, pos: usize) -> Result<bool, VfioError> {
    let ctrl0 = space.get_le(Array::Config, pos + PCI_REBAR_CTRL, 4).map_err(cfg_err)? as u32;
    let nbar = ((ctrl0 & PCI_REBAR_CTRL_NBAR_MASK) >> PCI_REBAR_CTRL_NBAR_SHIFT) as usize;
    for i in 0..nbar {
        let off = pos + PCI_REBAR_CTRL + i * PCI_REBAR_ENTRY_SIZEOF;
        if off + 4 > space.size() {
            return Ok(false);
        }
        let ctrl = space.get_le(Array::Config, off, 4).map_err(cfg_err)? as u32;
        let sz = (ctrl & PCI_REBAR_CTRL_BAR_SIZE) >> PCI_REBAR_CTRL_BAR_SHIFT;
        let cap = if sz <= 27 { 1u32 << (sz + 4) } else { 0 };
        // PCI_REBAR_CAP_SIZES in QEMU 10.0.2's pci_regs.h: 1 MiB .. 512 GiB.
        if cap & PCI_REBAR_CAP_SIZES == 0 {
            return Ok(false);
        }
        let ctrl = ctrl & (PCI_REBAR_CTRL_BAR_SIZE | PCI_REBAR_CTRL_NBAR_MASK | PCI_REBAR_CTRL_BAR_IDX);
        add_emulated(
            space,
            pos + PCI_REBAR_CAP + i * PCI_REBAR_ENTRY_SIZEOF,
            4,
            cap,
            u32::MAX,
        )?;
        add_emulated(space, off, 4, ctrl, u32::MAX)?;
    }
    Ok(true)
}

/// vfio_add_ext_cap.
fn add_ext_caps(
    space: &mut ConfigSpace,
    opts: &VfioOptions,
    dropped: &mut Vec<DroppedCap>,
    notes: &mut Vec<String>,
    warnings: &mut Vec<String>,
) -> Result<(), VfioError> {
    if !space.is_express() {
        return Ok(());
    }
    if !opts.slot.bus_is_express() {
        notes.push(format!(
            "slot {}: not a PCIe bus, so no extended capabilities are exposed (0x100.. unchecked)",
            opts.slot
        ));
        return Ok(());
    }
    let copy = space.config().to_vec();
    if le::long(&copy, PCI_CONFIG_SPACE_SIZE) == 0 {
        return Ok(());
    }
    let chain = physical_ext_chain(&copy)?;
    let mut offsets: Vec<usize> = chain.iter().map(|e| e.offset).collect();
    offsets.sort_unstable();
    let max_size = |pos: usize| {
        offsets
            .iter()
            .copied()
            .filter(|&o| o > pos)
            .min()
            .unwrap_or(PCIE_CONFIG_SPACE_SIZE)
            - pos
    };
    // Seed: ID 0xffff, version 0, next 0; read-only.
    space
        .set_le(Array::Config, PCI_CONFIG_SPACE_SIZE, 4, 0x0000_ffff)
        .map_err(cfg_err)?;
    space
        .set_le(Array::Wmask, PCI_CONFIG_SPACE_SIZE, 4, 0)
        .map_err(cfg_err)?;
    for e in &chain {
        let size = max_size(e.offset);
        let mut drop = |why: &str| {
            dropped.push(DroppedCap {
                id: e.id,
                extended: true,
                offset: e.offset,
                reason: why.into(),
            })
        };
        let id = ExtCapId::from(e.id);
        let add = match id {
            ExtCapId::Null => {
                drop("ID 0: hidden by the host kernel");
                false
            }
            ExtCapId::Sriov => {
                drop("SR-IOV dropped by vfio-pci (read-only VF BARs confuse OVMF)");
                false
            }
            ExtCapId::Ari => {
                drop("ARI dropped by vfio-pci (needs next-function virtualization)");
                false
            }
            ExtCapId::Rebar => {
                let ok = setup_rebar(space, e.offset)?;
                if !ok {
                    drop("Resizable BAR dropped: a current BAR size is outside 1 MiB..512 GiB");
                }
                ok
            }
            _ => true,
        };
        if add {
            if size < PCI_EXT_CAP_MIN_SIZEOF {
                return Err(VfioError::BadPointer(format!(
                    "extended capability at {:#x} is only {size} bytes before the next one: QEMU's pcie_add_capability asserts size >= 8",
                    e.offset
                )));
            }
            space
                .add_ext_capability(id, e.version, e.offset, size, Preset::VfioAddExtCap)
                .map_err(cfg_err)?;
            let payload_from = match id {
                ExtCapId::Vndr => Some(PCI_VNDR_PAYLOAD),
                ExtCapId::Dvsec => Some(PCI_DVSEC_PAYLOAD),
                _ => None,
            };
            if let Some(from) = payload_from {
                let name = id.display_name();
                if opts.exempt_ext_vendor && size > from {
                    space
                        .exempt(
                            e.offset + from..e.offset + size,
                            ExemptPolicy::ExemptExtVendor,
                            &format!("{name} @{:#05x}: payload after its headers, up to the next extended capability (pcimig opt-in policy; stock QEMU checks it)", e.offset),
                        )
                        .map_err(cfg_err)?;
                } else {
                    warnings.push(format!(
                        "{name} at {:#05x} is fully checked by QEMU ({size:#x} bytes up to the next extended capability): skip-vsc-check covers only standard-space VSCs; a host driver that changes its contents breaks migration (pcimig --exempt-ext-vendor on shows the effect of exempting it)",
                        e.offset
                    ));
                }
            }
        }
    }
    if le::word(space.config(), PCI_CONFIG_SPACE_SIZE) == 0xffff {
        let cfg = space.config_mut();
        cfg[PCI_CONFIG_SPACE_SIZE] = 0;
        cfg[PCI_CONFIG_SPACE_SIZE + 1] = 0;
        notes.push("extended chain head dropped: a stub header (ID 0) at 0x100 links to the first exposed capability; 0x100..0x104 unchecked".into());
    }
    Ok(())
}

/// Migration hazards visible in the guest view, and what pcimig does not model.
fn hazards(space: &ConfigSpace, skip: &Effective, warnings: &mut Vec<String>) {
    let cfg = space.config();
    if le::word(cfg, PCI_VENDOR_ID) == 0x8086 && cfg[PCI_CLASS_DEVICE + 1] == PCI_BASE_CLASS_DISPLAY {
        warnings.push(
            "Intel integrated graphics: QEMU's IGD quirks (hw/vfio/igd.c: OpRegion/legacy mode) change wmask at 0x50 (GMCH), 0x5c or 0xc0 (BDSM) and 0xfc (ASLS) after the capabilities are added; pcimig does not model them"
                .into(),
        );
    }
    for r in space.cap_records() {
        if r.id == AnyCapId::Ext(ExtCapId::Dsn) {
            warnings.push(format!(
                "Device Serial Number at {:#05x} is exposed and checked: two physical devices never share a serial number, so migrating between different physical devices fails there (unless the host's variant driver hides the DSN)",
                r.offset
            ));
        }
        if r.id == AnyCapId::Std(CapId::Vndr) && !skip.value && r.preset == Preset::VfioAddVendorSpecificCap {
            warnings.push(format!(
                "Vendor Specific (09) at {:#04x} is fully checked ({}): a host driver that changes its payload breaks migration",
                r.offset, skip.reason
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A physical type 0 config with the given standard caps `(offset, id, next, extra bytes)`.
    fn phys(size: usize, caps: &[(usize, u8, u8, &[u8])]) -> Vec<u8> {
        let mut c = vec![0u8; size];
        c[0..4].copy_from_slice(&[0xde, 0x10, 0x30, 0x23]);
        c[0x0a] = 0x02;
        c[0x0b] = 0x03;
        if let Some(first) = caps.first() {
            c[PCI_STATUS] = 0x10;
            c[PCI_CAPABILITY_LIST] = first.0 as u8;
        }
        for &(off, id, next, extra) in caps {
            c[off] = id;
            c[off + 1] = next;
            c[off + 2..off + 2 + extra.len()].copy_from_slice(extra);
        }
        c
    }

    #[test]
    fn rebuilt_chain_keeps_physical_order_and_next_pointers() {
        let p = phys(
            256,
            &[
                (0x40, 0x01, 0x50, &[0x03, 0x00]),
                (0x50, 0x05, 0x70, &[0x80, 0x00]),
                (0x70, 0x09, 0, &[0x10]),
            ],
        );
        let d = virtualize(&p, &VfioOptions::default()).unwrap();
        let order: Vec<_> = d.space.std_capabilities().iter().map(|e| (e.offset, e.id)).collect();
        assert_eq!(order, vec![(0x40, 1), (0x50, 5), (0x70, 9)]);
        assert_eq!(d.space.config()[0x34], 0x40);
        assert_eq!(d.space.config()[0x41], 0x50);
        assert_eq!(d.space.config()[0x71], 0x00);
    }

    #[test]
    fn loops_and_header_pointers_are_refused() {
        let p = phys(256, &[(0x40, 0x09, 0x50, &[4]), (0x50, 0x09, 0x40, &[4])]);
        assert!(matches!(
            virtualize(&p, &VfioOptions::default()),
            Err(VfioError::CapLoop {
                kind: "standard",
                at: 0x40
            })
        ));
        let p = phys(256, &[(0x40, 0x09, 0x20, &[4])]);
        assert!(matches!(
            virtualize(&p, &VfioOptions::default()),
            Err(VfioError::BadPointer(_))
        ));
        let mut p = phys(256, &[]);
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
    fn msi_uses_the_physical_flags_and_only_its_own_size_is_checked() {
        // MSI 64-bit, 4 vectors (MMC 2), at 0x50; next cap at 0x70.
        let p = phys(256, &[(0x50, 0x05, 0x70, &[0x84, 0x00]), (0x70, 0x09, 0, &[4])]);
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
        let p = phys(4096, &[(0x40, 0x10, 0, &[0x42, 0x00])]); // root port type 4
        let e = virtualize(&p, &VfioOptions::default()).unwrap_err();
        assert_eq!(e.to_string(), "failed to add PCI capability 0x10[0xc0]@0x40: assignment of PCIe type 0x4 devices is not currently supported");
    }
}
