//! The config space: QEMU's five per-byte arrays and the guest access semantics of
//! `pci_default_write_config`.

use crate::error::ConfigError;
use crate::ids::AnyCapId;
use crate::le;
use crate::origin::{ExemptPolicy, Preset};
use crate::regs::*;
use std::fmt;
use std::ops::Range;

/// Size class of a config space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum ConfigSize {
    /// 256 bytes (conventional PCI, or a PCIe device QEMU presents as conventional).
    Conventional,
    /// 4096 bytes (PCI Express, with the extended area 0x100..0x1000).
    Express,
}

impl ConfigSize {
    /// Number of bytes.
    pub fn bytes(self) -> usize {
        match self {
            ConfigSize::Conventional => PCI_CONFIG_SPACE_SIZE,
            ConfigSize::Express => PCIE_CONFIG_SPACE_SIZE,
        }
    }

    /// The size class of a byte count, if it is 256 or 4096.
    pub fn from_len(len: usize) -> Result<Self, ConfigError> {
        match len {
            PCI_CONFIG_SPACE_SIZE => Ok(ConfigSize::Conventional),
            PCIE_CONFIG_SPACE_SIZE => Ok(ConfigSize::Express),
            other => Err(ConfigError::BadSize(other)),
        }
    }
}

/// The device's address, used only to render QEMU's messages that name it
/// (`pci_root_bus_path:bus:slot.func`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PciAddress {
    /// PCI domain (segment).
    pub domain: u16,
    /// Bus number.
    pub bus: u8,
    /// Slot (device) number, 0..32.
    pub slot: u8,
    /// Function number, 0..8.
    pub func: u8,
}

impl PciAddress {
    /// QEMU's rendering in pci_add_capability's overlap error: root bus path (`DDDD:00`), then
    /// bus, slot and function.
    pub fn qemu_display(&self) -> String {
        format!(
            "{:04x}:00:{:02x}:{:02x}.{:x}",
            self.domain, self.bus, self.slot, self.func
        )
    }
}

impl fmt::Display for PciAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04x}:{:02x}:{:02x}.{:x}",
            self.domain, self.bus, self.slot, self.func
        )
    }
}

/// One of the per-byte arrays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Array {
    /// The emulated config bytes.
    Config,
    /// Bits compared on restore.
    Cmask,
    /// Bits the guest may write.
    Wmask,
    /// Bits that are write-1-to-clear.
    W1cmask,
    /// Standard-capability allocation map.
    Used,
}

/// A capability added through the model (by a preset, by [`ConfigSpace::add_capability`] or by
/// [`ConfigSpace::add_ext_capability`]), with the byte range whose masks it set.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CapRecord {
    /// Capability ID, standard or extended.
    pub id: AnyCapId,
    /// Offset of the capability header.
    pub offset: usize,
    /// Number of bytes the capability was added with (the range that got cmask 0xff).
    pub size: usize,
    /// The QEMU function that added it (for explanations), e.g. [`Preset::MsixInit`].
    pub preset: Preset,
}

impl CapRecord {
    /// Extended (0x100 and above) rather than standard.
    pub fn extended(&self) -> bool {
        self.id.is_extended()
    }

    /// The byte range `offset..offset+size`.
    pub fn range(&self) -> Range<usize> {
        self.offset..self.offset + self.size
    }
}

/// A byte range whose cmask a named policy cleared, so the restore check skips it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Exemption {
    /// First exempt byte.
    pub start: usize,
    /// One past the last exempt byte.
    pub end: usize,
    /// The policy that exempted it, e.g. [`ExemptPolicy::SkipVscCheck`] (`skip-vsc-check`).
    pub policy: ExemptPolicy,
    /// Why, in a sentence (which capability, which rule).
    pub reason: String,
}

/// The five arrays of one byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteMasks {
    /// Current config value.
    pub config: u8,
    /// Check mask.
    pub cmask: u8,
    /// Write mask.
    pub wmask: u8,
    /// Write-1-to-clear mask.
    pub w1cmask: u8,
    /// Capability allocation.
    pub used: u8,
}

impl ByteMasks {
    /// The bits the restore check compares: `cmask & !wmask & !w1cmask`.
    pub fn checked(&self) -> u8 {
        self.cmask & !self.wmask & !self.w1cmask
    }
}

/// A PCI configuration space as QEMU models it: `config`, `cmask`, `wmask`, `w1cmask` and `used`,
/// one byte each per config byte, 256 or 4096 bytes long.
///
/// Builders ([`ConfigSpace::new_device`], the capability presets, vfio-pci virtualization) set
/// the masks; [`ConfigSpace::write`] applies guest writes; [`crate::check::restore_check`]
/// compares a saved image with it.
#[derive(Clone, PartialEq, Eq)]
pub struct ConfigSpace {
    pub(crate) config: Vec<u8>,
    pub(crate) cmask: Vec<u8>,
    pub(crate) wmask: Vec<u8>,
    pub(crate) w1cmask: Vec<u8>,
    pub(crate) used: Vec<u8>,
    /// Derived: `cmask & !wmask & !w1cmask`, kept in step by every mutation.
    pub(crate) checked: Vec<u8>,
    /// Derived: number of non-zero bytes in `checked`, kept in step with it.
    pub(crate) checked_count: usize,
    /// Derived: bit `b` is set when `checked[64*b..64*b+64]` has a non-zero byte (64 blocks
    /// cover 4096 bytes), so the restore check can skip blocks with nothing to compare.
    pub(crate) checked_blocks: u64,
    pub(crate) caps: Vec<CapRecord>,
    pub(crate) exemptions: Vec<Exemption>,
    pub(crate) address: PciAddress,
    pub(crate) pm_cap: Option<usize>,
    pub(crate) msi_cap: Option<usize>,
    pub(crate) msix_cap: Option<usize>,
    pub(crate) exp_cap: Option<usize>,
    pub(crate) aer_cap: Option<usize>,
    pub(crate) bars: [Option<BarInfo>; PCI_NUM_REGIONS],
}

/// A registered BAR or expansion ROM (pci_register_bar).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct BarInfo {
    /// Size in bytes (a power of two).
    pub size: u64,
    /// Type bits: IO 0x1, or memory with 64-bit 0x4 and prefetch 0x8.
    pub bar_type: u8,
}

impl BarInfo {
    /// A 64-bit memory BAR (occupies two BAR slots).
    pub fn is_64bit(&self) -> bool {
        self.bar_type & PCI_BASE_ADDRESS_SPACE_IO == 0 && self.bar_type & PCI_BASE_ADDRESS_MEM_TYPE_64 != 0
    }
}

impl fmt::Debug for ConfigSpace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfigSpace")
            .field("size", &self.size())
            .field("vendor_id", &format_args!("{:#06x}", self.get_word(PCI_VENDOR_ID)))
            .field("device_id", &format_args!("{:#06x}", self.get_word(PCI_DEVICE_ID)))
            .field("caps", &self.caps)
            .field("exemptions", &self.exemptions)
            .finish_non_exhaustive()
    }
}

/// Mutable access to all five arrays at once, for builders that mirror QEMU code which edits
/// masks directly. The derived checked mask is recomputed when the guard is dropped.
pub struct RawMut<'a> {
    /// Config bytes.
    pub config: &'a mut [u8],
    /// Check mask.
    pub cmask: &'a mut [u8],
    /// Write mask.
    pub wmask: &'a mut [u8],
    /// Write-1-to-clear mask.
    pub w1cmask: &'a mut [u8],
    /// Capability allocation map.
    pub used: &'a mut [u8],
    checked: &'a mut [u8],
    checked_count: &'a mut usize,
    checked_blocks: &'a mut u64,
}

impl Drop for RawMut<'_> {
    fn drop(&mut self) {
        let mut count = 0;
        for i in 0..self.checked.len() {
            self.checked[i] = self.cmask[i] & !self.wmask[i] & !self.w1cmask[i];
            count += usize::from(self.checked[i] != 0);
        }
        *self.checked_count = count;
        *self.checked_blocks = block_summary(self.checked, 0..self.checked.len(), 0);
    }
}

/// Bytes summarised by one bit of `checked_blocks`.
pub(crate) const CHECK_BLOCK: usize = 64;

/// `blocks` with the bits of the blocks overlapping `range` recomputed from `checked`.
fn block_summary(checked: &[u8], range: Range<usize>, mut blocks: u64) -> u64 {
    if range.is_empty() {
        return blocks;
    }
    for b in range.start / CHECK_BLOCK..range.end.div_ceil(CHECK_BLOCK) {
        let start = b * CHECK_BLOCK;
        let end = (start + CHECK_BLOCK).min(checked.len());
        if checked[start..end].iter().any(|&c| c != 0) {
            blocks |= 1 << b;
        } else {
            blocks &= !(1 << b);
        }
    }
    blocks
}

impl ConfigSpace {
    /// A config space of the given size with every array zero: no bit checked, nothing writable.
    /// Use it for a raw image; use [`ConfigSpace::new_device`] for a device with QEMU's masks.
    pub fn zeroed(size: ConfigSize) -> Self {
        let n = size.bytes();
        ConfigSpace {
            config: vec![0; n],
            cmask: vec![0; n],
            wmask: vec![0; n],
            w1cmask: vec![0; n],
            used: vec![0; n],
            checked: vec![0; n],
            checked_count: 0,
            checked_blocks: 0,
            caps: Vec::new(),
            exemptions: Vec::new(),
            address: PciAddress::default(),
            pm_cap: None,
            msi_cap: None,
            msix_cap: None,
            exp_cap: None,
            aer_cap: None,
            bars: [None; PCI_NUM_REGIONS],
        }
    }

    /// A config space holding `bytes` (256 or 4096 of them) with every mask zero.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ConfigError> {
        let mut s = Self::zeroed(ConfigSize::from_len(bytes.len())?);
        s.config.copy_from_slice(bytes);
        Ok(s)
    }

    /// Number of bytes (256 or 4096).
    pub fn size(&self) -> usize {
        self.config.len()
    }

    /// The size class.
    pub fn config_size(&self) -> ConfigSize {
        if self.size() == PCIE_CONFIG_SPACE_SIZE {
            ConfigSize::Express
        } else {
            ConfigSize::Conventional
        }
    }

    /// A 4096-byte (PCI Express) config space.
    pub fn is_express(&self) -> bool {
        self.config_size() == ConfigSize::Express
    }

    /// The config bytes.
    pub fn config(&self) -> &[u8] {
        &self.config
    }
    /// The check mask.
    pub fn cmask(&self) -> &[u8] {
        &self.cmask
    }
    /// The write mask.
    pub fn wmask(&self) -> &[u8] {
        &self.wmask
    }
    /// The write-1-to-clear mask.
    pub fn w1cmask(&self) -> &[u8] {
        &self.w1cmask
    }
    /// The standard-capability allocation map (0xff where a capability owns the byte).
    pub fn used(&self) -> &[u8] {
        &self.used
    }
    /// The bits the restore check compares, per byte: `cmask & !wmask & !w1cmask`.
    pub fn checked(&self) -> &[u8] {
        &self.checked
    }
    /// Number of bytes with any checked bit (non-zero bytes of [`ConfigSpace::checked`]).
    pub fn checked_bytes(&self) -> usize {
        self.checked_count
    }

    /// One array by name.
    pub fn array(&self, a: Array) -> &[u8] {
        match a {
            Array::Config => &self.config,
            Array::Cmask => &self.cmask,
            Array::Wmask => &self.wmask,
            Array::W1cmask => &self.w1cmask,
            Array::Used => &self.used,
        }
    }

    /// The five arrays of one byte.
    pub fn byte(&self, offset: usize) -> Result<ByteMasks, ConfigError> {
        self.bounds(offset, 1)?;
        Ok(ByteMasks {
            config: self.config[offset],
            cmask: self.cmask[offset],
            wmask: self.wmask[offset],
            w1cmask: self.w1cmask[offset],
            used: self.used[offset],
        })
    }

    /// Mutable access to all arrays (see [`RawMut`]).
    pub fn raw_mut(&mut self) -> RawMut<'_> {
        RawMut {
            config: &mut self.config,
            cmask: &mut self.cmask,
            wmask: &mut self.wmask,
            w1cmask: &mut self.w1cmask,
            used: &mut self.used,
            checked: &mut self.checked,
            checked_count: &mut self.checked_count,
            checked_blocks: &mut self.checked_blocks,
        }
    }

    /// Capabilities added through the model, in the order they were added.
    pub fn cap_records(&self) -> &[CapRecord] {
        &self.caps
    }

    /// Byte ranges a policy exempted from the restore check.
    pub fn exemptions(&self) -> &[Exemption] {
        &self.exemptions
    }

    /// Registered BARs (index 0..6) and the ROM (index 6).
    pub fn bars(&self) -> &[Option<BarInfo>; PCI_NUM_REGIONS] {
        &self.bars
    }

    /// The device address used in QEMU-worded messages.
    pub fn address(&self) -> PciAddress {
        self.address
    }

    /// Set the device address used in QEMU-worded messages.
    pub fn set_address(&mut self, address: PciAddress) {
        self.address = address;
    }

    /// Offset of the PM capability added by [`ConfigSpace::pm_init`], if any (QEMU's pm_cap).
    pub fn pm_cap(&self) -> Option<usize> {
        self.pm_cap
    }
    /// Offset of the MSI capability added by [`ConfigSpace::msi_init`], if any.
    pub fn msi_cap(&self) -> Option<usize> {
        self.msi_cap
    }
    /// Offset of the MSI-X capability added by [`ConfigSpace::msix_init`], if any.
    pub fn msix_cap(&self) -> Option<usize> {
        self.msix_cap
    }
    /// Offset of the PCI Express capability added by a PCIe preset, if any.
    pub fn exp_cap(&self) -> Option<usize> {
        self.exp_cap
    }
    /// Offset of the AER capability added by [`ConfigSpace::aer_init`], if any.
    pub fn aer_cap(&self) -> Option<usize> {
        self.aer_cap
    }

    // ---- bounds-checked guest access ---------------------------------------------------------

    pub(crate) fn bounds(&self, offset: usize, len: usize) -> Result<(), ConfigError> {
        match offset.checked_add(len) {
            Some(end) if end <= self.size() => Ok(()),
            _ => Err(ConfigError::AccessOutOfRange {
                offset,
                len,
                size: self.size(),
            }),
        }
    }

    fn access(&self, offset: usize, len: usize) -> Result<(), ConfigError> {
        if !matches!(len, 1 | 2 | 4) {
            return Err(ConfigError::BadAccessLength { len });
        }
        self.bounds(offset, len)
    }

    /// A guest read of 1, 2 or 4 bytes at any offset that fits (little-endian), as
    /// pci_default_read_config returns it.
    pub fn read(&self, offset: usize, len: usize) -> Result<u32, ConfigError> {
        self.access(offset, len)?;
        let mut v = 0u32;
        for i in (0..len).rev() {
            v = (v << 8) | u32::from(self.config[offset + i]);
        }
        Ok(v)
    }

    /// A guest write of 1, 2 or 4 bytes, applied byte by byte as pci_default_write_config does:
    /// `config = (config & !wmask) | (val & wmask)`, then the `val & w1cmask` bits are cleared.
    ///
    /// Two side effects of pci_default_write_config change config bytes as well:
    /// - with a PM capability added by [`ConfigSpace::pm_init`], a write that makes an invalid
    ///   power-state transition is reverted as QEMU's pci_pm_update does (D1/D2 only if PMC says
    ///   so; from D1..D3 only to a deeper state or D0);
    /// - with an MSI capability added by [`ConfigSpace::msi_init`], a write that touches it while
    ///   MSI is enabled runs msi_write_config: Multiple Message Enable is clamped to Multiple
    ///   Message Capable, and with per-vector masking the pending bits of unimplemented vectors
    ///   are discarded and those of unmasked vectors cleared (QEMU delivers them).
    pub fn write(&mut self, offset: usize, value: u32, len: usize) -> Result<(), ConfigError> {
        self.access(offset, len)?;
        let old_pm = self.pm_state();
        let mut val = value;
        for i in 0..len {
            let a = offset + i;
            let byte = (val & 0xff) as u8;
            let wmask = self.wmask[a];
            let w1c = self.w1cmask[a];
            self.config[a] = (self.config[a] & !wmask) | (byte & wmask);
            self.config[a] &= !(byte & w1c);
            val >>= 8;
        }
        self.pm_update(offset, len, old_pm);
        self.msi_write_config(offset, len);
        Ok(())
    }

    /// msi_write_config's config side effects (hw/pci/msi.c).
    fn msi_write_config(&mut self, offset: usize, len: usize) {
        let Some(pos) = self.msi_cap else { return };
        let flags_off = pos + PCI_MSI_FLAGS;
        let mut flags = self.get_word(flags_off);
        let msi64 = flags & PCI_MSI_FLAGS_64BIT != 0;
        let size = crate::presets::msi_cap_sizeof(flags);
        // ranges_overlap(addr, len, msi_cap, msi_cap_sizeof(flags))
        if !(offset < pos + size && pos < offset + len) || flags & PCI_MSI_FLAGS_ENABLE == 0 {
            return;
        }
        let log_num = (flags & PCI_MSI_FLAGS_QSIZE) >> PCI_MSI_FLAGS_QSIZE_SHIFT;
        let log_max = (flags & PCI_MSI_FLAGS_QMASK) >> PCI_MSI_FLAGS_QMASK_SHIFT;
        if log_num > log_max {
            flags = (flags & !PCI_MSI_FLAGS_QSIZE) | (log_max << PCI_MSI_FLAGS_QSIZE_SHIFT);
            self.set_word(Array::Config, flags_off, flags);
        }
        if flags & PCI_MSI_FLAGS_MASKBIT == 0 {
            return;
        }
        let nr_vectors = 1u32 << ((flags & PCI_MSI_FLAGS_QSIZE) >> PCI_MSI_FLAGS_QSIZE_SHIFT);
        let implemented = u32::MAX
            .checked_shr(PCI_MSI_VECTORS_MAX.saturating_sub(nr_vectors))
            .unwrap_or(0);
        let (mask_off, pending_off) = if msi64 {
            (PCI_MSI_MASK_64, PCI_MSI_PENDING_64)
        } else {
            (PCI_MSI_MASK_32, PCI_MSI_PENDING_32)
        };
        let masked = self.get_long(pos + mask_off);
        // Pending bits of vectors >= nr_vectors are discarded; unmasked pending vectors are
        // delivered (msi_notify) and their pending bit cleared.
        let pending = self.get_long(pos + pending_off) & implemented & masked;
        self.set_long(Array::Config, pos + pending_off, pending);
    }

    /// Current PM D-state (0..3) if the space has a PM capability from [`ConfigSpace::pm_init`].
    pub fn pm_state(&self) -> u8 {
        match self.pm_cap {
            Some(pm) => (self.get_word(pm + PCI_PM_CTRL) & PCI_PM_CTRL_STATE_MASK) as u8,
            None => 0,
        }
    }

    fn pm_update(&mut self, offset: usize, len: usize, old: u8) {
        let Some(pm) = self.pm_cap else { return };
        let ctrl = pm + PCI_PM_CTRL;
        if !(offset <= ctrl && ctrl < offset + len) {
            return;
        }
        let new = self.pm_state();
        if new == old {
            return;
        }
        let pmc = self.get_word(pm + PCI_PM_PMC);
        if (pmc & PCI_PM_CAP_D1 == 0 && new == 1)
            || (pmc & PCI_PM_CAP_D2 == 0 && new == 2)
            || (old != 0 && new != 0 && new < old)
        {
            let v = (self.get_word(ctrl) & !PCI_PM_CTRL_STATE_MASK) | u16::from(old);
            self.set_word(Array::Config, ctrl, v);
        }
    }

    // ---- crate-internal unchecked helpers (offsets computed by the model) ----------------------

    pub(crate) fn arr_mut(&mut self, a: Array) -> &mut [u8] {
        match a {
            Array::Config => &mut self.config,
            Array::Cmask => &mut self.cmask,
            Array::Wmask => &mut self.wmask,
            Array::W1cmask => &mut self.w1cmask,
            Array::Used => &mut self.used,
        }
    }

    pub(crate) fn refresh_checked(&mut self, range: Range<usize>) {
        // Written as zipped slices so the compiler vectorizes it (this runs over up to 4096 bytes
        // for every mask change of a builder).
        let r = range.clone();
        let masks = self.cmask[r.clone()]
            .iter()
            .zip(&self.wmask[r.clone()])
            .zip(&self.w1cmask[r]);
        // One pass: the new checked bits and how many bytes gained (or lost) any.
        let (mut gained, mut lost) = (0usize, 0usize);
        for (k, ((c, w), w1)) in self.checked[range.clone()].iter_mut().zip(masks) {
            let new = c & !w & !w1;
            gained += usize::from(new != 0 && *k == 0);
            lost += usize::from(new == 0 && *k != 0);
            *k = new;
        }
        self.checked_count = self.checked_count + gained - lost;
        self.checked_blocks = block_summary(&self.checked, range, self.checked_blocks);
    }

    /// Bit `b` set: bytes `64*b..64*b+64` have a checked bit (see [`ConfigSpace::checked`]).
    pub(crate) fn checked_blocks(&self) -> u64 {
        self.checked_blocks
    }

    pub(crate) fn get_word(&self, off: usize) -> u16 {
        le::word(&self.config, off)
    }

    pub(crate) fn get_long(&self, off: usize) -> u32 {
        le::long(&self.config, off)
    }

    #[cfg(test)]
    pub(crate) fn get_arr_word(&self, a: Array, off: usize) -> u16 {
        le::word(self.array(a), off)
    }

    pub(crate) fn set_bytes(&mut self, a: Array, off: usize, bytes: &[u8]) {
        self.arr_mut(a)[off..off + bytes.len()].copy_from_slice(bytes);
        self.refresh_checked(off..off + bytes.len());
    }

    pub(crate) fn fill(&mut self, a: Array, range: Range<usize>, v: u8) {
        self.arr_mut(a)[range.clone()].fill(v);
        self.refresh_checked(range);
    }

    /// Fill cmask, wmask and w1cmask over `range` with one refresh of the checked bits.
    pub(crate) fn fill_masks(&mut self, range: Range<usize>, cmask: u8, wmask: u8, w1cmask: u8) {
        self.cmask[range.clone()].fill(cmask);
        self.wmask[range.clone()].fill(wmask);
        self.w1cmask[range.clone()].fill(w1cmask);
        self.refresh_checked(range);
    }

    pub(crate) fn set_byte(&mut self, a: Array, off: usize, v: u8) {
        self.set_bytes(a, off, &[v]);
    }

    pub(crate) fn set_word(&mut self, a: Array, off: usize, v: u16) {
        self.set_bytes(a, off, &v.to_le_bytes());
    }

    pub(crate) fn set_long(&mut self, a: Array, off: usize, v: u32) {
        self.set_bytes(a, off, &v.to_le_bytes());
    }

    pub(crate) fn set_quad(&mut self, a: Array, off: usize, v: u64) {
        self.set_bytes(a, off, &v.to_le_bytes());
    }

    fn update_le(&mut self, a: Array, off: usize, len: usize, f: impl Fn(u64) -> u64) {
        let arr = self.array(a);
        let mut v = 0u64;
        for i in (0..len).rev() {
            v = (v << 8) | u64::from(arr[off + i]);
        }
        let v = f(v);
        let bytes = v.to_le_bytes();
        self.set_bytes(a, off, &bytes[..len]);
    }

    /// pci_word_test_and_set_mask.
    pub(crate) fn or_word(&mut self, a: Array, off: usize, m: u16) {
        self.update_le(a, off, 2, |v| v | u64::from(m));
    }
    /// pci_word_test_and_clear_mask.
    pub(crate) fn clear_word(&mut self, a: Array, off: usize, m: u16) {
        self.update_le(a, off, 2, |v| v & !u64::from(m));
    }
    /// pci_long_test_and_set_mask.
    pub(crate) fn or_long(&mut self, a: Array, off: usize, m: u32) {
        self.update_le(a, off, 4, |v| v | u64::from(m));
    }
    /// pci_long_test_and_clear_mask.
    pub(crate) fn clear_long(&mut self, a: Array, off: usize, m: u32) {
        self.update_le(a, off, 4, |v| v & !u64::from(m));
    }

    // ---- public, bounds-checked mask editing ----------------------------------------------------

    /// Set `len` bytes (1..=8) of one array at `offset` to `value` (little-endian), as QEMU's
    /// pci_set_byte/word/long/quad do on a mask array.
    pub fn set_le(&mut self, a: Array, offset: usize, len: usize, value: u64) -> Result<(), ConfigError> {
        if !(1..=8).contains(&len) {
            return Err(ConfigError::BadAccessLength { len });
        }
        self.bounds(offset, len)?;
        self.set_bytes(a, offset, &value.to_le_bytes()[..len]);
        Ok(())
    }

    /// Read `len` bytes (1..=8) of one array at `offset` (little-endian).
    pub fn get_le(&self, a: Array, offset: usize, len: usize) -> Result<u64, ConfigError> {
        if !(1..=8).contains(&len) {
            return Err(ConfigError::BadAccessLength { len });
        }
        self.bounds(offset, len)?;
        let arr = self.array(a);
        Ok((0..len).rev().fold(0u64, |v, i| (v << 8) | u64::from(arr[offset + i])))
    }

    /// Fill a byte range of one array with `value`.
    pub fn fill_range(&mut self, a: Array, range: Range<usize>, value: u8) -> Result<(), ConfigError> {
        if range.start > range.end {
            return Err(ConfigError::AccessOutOfRange {
                offset: range.start,
                len: 0,
                size: self.size(),
            });
        }
        self.bounds(range.start, range.end - range.start)?;
        self.fill(a, range, value);
        Ok(())
    }

    /// Clear cmask over `range` on behalf of a named policy, and record the exemption so reports
    /// can say which policy made these bytes unchecked.
    pub fn exempt(&mut self, range: Range<usize>, policy: ExemptPolicy, reason: &str) -> Result<(), ConfigError> {
        if range.start >= range.end {
            return Ok(());
        }
        self.fill_range(Array::Cmask, range.clone(), 0)?;
        self.exemptions.push(Exemption {
            start: range.start,
            end: range.end,
            policy,
            reason: reason.to_string(),
        });
        Ok(())
    }

    /// Mutable access to the config bytes alone (what QEMU's device code does with
    /// `pdev->config`). No mask changes, so nothing derived needs recomputing; use
    /// [`ConfigSpace::raw_mut`] to edit masks.
    pub fn config_mut(&mut self) -> &mut [u8] {
        &mut self.config
    }

    /// Replace all config bytes (e.g. with a physical device's config, as vfio-pci's realize
    /// preads it over QEMU's initial config). Masks are untouched.
    pub fn load_config_bytes(&mut self, bytes: &[u8]) -> Result<(), ConfigError> {
        if bytes.len() > self.size() {
            return Err(ConfigError::SizeMismatch {
                saved: bytes.len(),
                device: self.size(),
            });
        }
        self.config[..bytes.len()].copy_from_slice(bytes);
        Ok(())
    }

    /// Record a capability added by a builder outside this crate that edited masks directly.
    pub fn record_capability(&mut self, record: CapRecord) {
        self.caps
            .retain(|c| !(c.extended() == record.extended() && c.offset == record.offset));
        self.caps.push(record);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_past_the_end_is_an_error_not_a_panic() {
        let mut s = ConfigSpace::zeroed(ConfigSize::Conventional);
        assert!(matches!(
            s.read(0xfe, 4),
            Err(ConfigError::AccessOutOfRange {
                offset: 0xfe,
                len: 4,
                size: 256
            })
        ));
        assert!(s.write(0x100, 0, 1).is_err());
        assert!(s.write(usize::MAX, 0, 4).is_err());
        assert!(matches!(s.read(0, 3), Err(ConfigError::BadAccessLength { len: 3 })));
        assert!(s.read(0xfc, 4).is_ok());
        assert!(s.set_le(Array::Cmask, usize::MAX - 1, 4, 0).is_err());
        assert!(s.fill_range(Array::Cmask, 0xf0..0x101, 0).is_err());
    }

    #[test]
    fn raw_mut_keeps_checked_in_step() {
        let mut s = ConfigSpace::zeroed(ConfigSize::Conventional);
        {
            let r = s.raw_mut();
            r.cmask[0x50] = 0xff;
            r.wmask[0x50] = 0x0f;
            r.w1cmask[0x50] = 0x30;
        }
        assert_eq!(s.checked()[0x50], 0xc0);
    }
}
