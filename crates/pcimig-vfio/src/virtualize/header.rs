//! The header part of vfio_realize: emulated IDs and header bits, the ROM (vfio_pci_size_rom)
//! and the BARs (vfio_bars_prepare / vfio_bars_register).

use super::pci_ids::{PCI_DEVICE_ID_BCM57810, PCI_VENDOR_ID_BROADCOM, PCI_VENDOR_ID_INVALID};
use super::Realize;
use crate::VfioError;
use pcimig_config::le;
use pcimig_config::regs::*;

/// A BAR as vfio_bar_prepare reads it from the physical config.
struct PreparedBar {
    /// The type bits pci_register_bar gets.
    bar_type: u8,
    /// A 64-bit memory BAR (the next BAR is its upper half).
    mem64: bool,
}

/// vfio_bar_prepare: the type bits of BAR `nr` from the physical dword.
fn vfio_bar_prepare(physical: &[u8], nr: usize) -> (PreparedBar, u32) {
    let dword = le::long(physical, PCI_BASE_ADDRESS_0 + 4 * nr);
    let io = dword & u32::from(PCI_BASE_ADDRESS_SPACE_IO) != 0;
    let bar_type = if io {
        (dword & PCI_BASE_ADDRESS_IO_FLAGS) as u8
    } else {
        (dword & PCI_BASE_ADDRESS_MEM_FLAGS) as u8
    };
    let mem64 = !io && bar_type & PCI_BASE_ADDRESS_MEM_TYPE_64 != 0;
    (PreparedBar { bar_type, mem64 }, dword)
}

/// The least size QEMU could register for a present BAR: 4 bytes of I/O or 16 of memory.
fn minimal_bar_size(dword: u32) -> u64 {
    if dword & u32::from(PCI_BASE_ADDRESS_SPACE_IO) != 0 {
        4
    } else {
        16
    }
}

impl Realize<'_> {
    /// The part of vfio_realize between the pread of the config and vfio_pci_size_rom: the
    /// `x-pci-*-id` overrides (vfio_add_emulated_word with a full mask), QEMU's multifunction
    /// bit, and the BARs and ROM cleared of host addresses.
    pub(super) fn vfio_emulate_ids_and_header(&mut self) -> Result<(), VfioError> {
        let ids = self.opts.id_overrides;
        for (off, v) in [
            (PCI_VENDOR_ID, ids.vendor_id),
            (PCI_DEVICE_ID, ids.device_id),
            (PCI_SUBSYSTEM_VENDOR_ID, ids.sub_vendor_id),
            (PCI_SUBSYSTEM_ID, ids.sub_device_id),
        ] {
            if let Some(v) = v {
                self.add_emulated(off, 2, u32::from(v), u32::from(u16::MAX))?;
            }
        }
        if ids.vendor_id == Some(PCI_VENDOR_ID_INVALID) {
            return Err(VfioError::BadOption("invalid PCI vendor ID provided".into()));
        }
        let multifunction = self.opts.multifunction;
        let cfg = self.space.config_mut();
        if multifunction {
            cfg[PCI_HEADER_TYPE] |= PCI_HEADER_TYPE_MULTI_FUNCTION;
        } else {
            cfg[PCI_HEADER_TYPE] &= !PCI_HEADER_TYPE_MULTI_FUNCTION;
        }
        cfg[PCI_BASE_ADDRESS_0..PCI_BASE_ADDRESS_5 + 4].fill(0);
        cfg[PCI_ROM_ADDRESS..PCI_ROM_ADDRESS + 4].fill(0);
        Ok(())
    }

    /// vfio_pci_size_rom: the ROM is registered with the physical ROM's size. With rombar at
    /// its default, vfio_opt_rom_in_denylist keeps QEMU from exposing the ROM of the Broadcom
    /// BCM57810 (14e4:168e).
    pub(super) fn vfio_pci_size_rom(&mut self) -> Result<(), VfioError> {
        let rom_denied = self.ids() == (PCI_VENDOR_ID_BROADCOM, PCI_DEVICE_ID_BCM57810);
        match self.opts.rom_size {
            Some(n) if n != 0 && rom_denied => self.notes.push(
                "expansion ROM not registered: QEMU's ROM denylist (14e4:168e, known to cause instability) skips it unless rombar=1 or romfile= is set"
                    .into(),
            ),
            Some(0) => self.notes.push("expansion ROM: none (size 0 given)".into()),
            Some(sz) => {
                if !sz.is_power_of_two() {
                    return Err(VfioError::BadBar(format!("ROM size {sz:#x} is not a power of two")));
                }
                self.space.register_bar(PCI_ROM_SLOT, 0, sz).map_err(VfioError::Bar)?;
                self.notes.push(format!("expansion ROM registered with size {sz:#x}"));
            }
            None => self.notes.push(
                "ROM size not given: the ROM BAR is not registered (unchecked); if the host device has a ROM, QEMU registers it and checks its size bits"
                    .into(),
            ),
        }
        Ok(())
    }

    /// vfio_bars_prepare + vfio_bars_register: type bits from the physical BAR, size from the
    /// host's region info (`bar_sizes`; without them, a minimal size for each BAR whose dword is
    /// non-zero). Registered before vfio_msix_early_setup, which only reads the sizes.
    pub(super) fn vfio_bars_register(&mut self) -> Result<(), VfioError> {
        let mut nr = 0;
        while nr < PCI_NUM_BARS {
            nr += if self.vfio_bar_register(nr)? { 2 } else { 1 };
        }
        if self.opts.bar_sizes.is_some() {
            self.notes
                .push("BAR sizes given: BAR size bits checked as QEMU registers them".into());
        } else {
            self.notes.push(
                "BAR sizes not given: each BAR whose dword is non-zero counts as present with its type bits checked and its address bits writable (the least QEMU checks); MSI-X placement not validated"
                    .into(),
            );
        }
        Ok(())
    }

    /// vfio_bar_register: pci_register_bar for BAR `nr` if it has a size. Returns true when it
    /// was a 64-bit BAR (the next one is its upper half).
    fn vfio_bar_register(&mut self, nr: usize) -> Result<bool, VfioError> {
        let (bar, dword) = vfio_bar_prepare(self.physical, nr);
        let size = match self.opts.bar_sizes {
            Some(sizes) => sizes[nr].filter(|&s| s != 0),
            None if dword != 0 => Some(minimal_bar_size(dword)),
            None => None,
        };
        let Some(sz) = size else {
            return Ok(false);
        };
        if !sz.is_power_of_two() {
            return Err(VfioError::BadBar(format!("BAR{nr} size {sz:#x} is not a power of two")));
        }
        if bar.mem64 && nr == PCI_NUM_BARS - 1 {
            return Err(VfioError::BadBar("BAR5 is a 64-bit BAR: it has no upper half".into()));
        }
        self.space.register_bar(nr, bar.bar_type, sz).map_err(VfioError::Bar)?;
        self.bar_sizes[nr] = Some(sz);
        if bar.mem64 {
            if let Some(sizes) = self.opts.bar_sizes {
                if sizes[nr + 1].is_some_and(|s| s != 0) {
                    return Err(VfioError::BadBar(format!(
                        "BAR{} is the upper half of 64-bit BAR{nr}: it cannot have a size of its own",
                        nr + 1
                    )));
                }
            }
        }
        Ok(bar.mem64)
    }
}
