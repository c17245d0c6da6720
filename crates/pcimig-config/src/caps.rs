//! Capability lists: QEMU's add/delete/find (pci_add_capability, pci_del_capability,
//! pci_find_capability, pcie_add_capability) with their masks, and a tolerant walker that never
//! loops or reads out of range (for decoding real, possibly broken, config spaces).

use crate::error::ConfigError;
use crate::ids::{AnyCapId, CapId, ExtCapId};
use crate::le;
use crate::limits::{MAX_EXT_CAP_STEPS, MAX_STD_CAP_STEPS};
use crate::origin::Preset;
use crate::regs::*;
use crate::space::{Array, CapRecord, ConfigSpace};

/// One capability found on a chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CapEntry {
    /// Capability ID (8-bit standard, 16-bit extended).
    pub id: u16,
    /// Extended capability.
    pub extended: bool,
    /// Offset of its header.
    pub offset: usize,
    /// Capability version (extended capabilities; 0 for standard ones).
    pub version: u8,
    /// The next pointer as read (before any masking).
    pub next: usize,
}

/// Something wrong with a chain, reported where pciutils prints `<chain looped>` or
/// `<chain broken>`. The walk stops there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum ChainIssue {
    /// The pointer leads back to a capability already visited.
    Looped {
        /// The revisited offset.
        at: usize,
    },
    /// A standard capability with ID 0xff (what a read of absent hardware returns).
    Broken {
        /// Its offset.
        at: usize,
    },
    /// A pointer into the standard header (below 0x40).
    IntoHeader {
        /// The capability whose pointer it is (0x34 for the capabilities pointer).
        from: usize,
        /// Where it points.
        to: usize,
    },
    /// A pointer past the end of the config space (or of the bytes available).
    PastEnd {
        /// The capability whose pointer it is.
        from: usize,
        /// Where it points.
        to: usize,
    },
    /// An extended pointer below 0x100.
    BelowExtended {
        /// The capability whose pointer it is.
        from: usize,
        /// Where it points.
        to: usize,
    },
    /// The walk reached its step limit ([`crate::limits::MAX_STD_CAP_STEPS`],
    /// [`crate::limits::MAX_EXT_CAP_STEPS`]).
    TooManySteps {
        /// The capability it stopped at.
        at: usize,
        /// The limit.
        limit: usize,
    },
}

impl std::fmt::Display for ChainIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            ChainIssue::Looped { at } => write!(f, "chain looped at {at:#x}"),
            ChainIssue::Broken { at } => write!(f, "chain broken at {at:#x} (capability ID 0xff)"),
            ChainIssue::IntoHeader { from, to } => {
                write!(f, "pointer at {from:#x} points into the header ({to:#x})")
            }
            ChainIssue::PastEnd { from, to } => {
                write!(f, "pointer at {from:#x} points past the end ({to:#x})")
            }
            ChainIssue::BelowExtended { from, to } => {
                write!(f, "extended pointer at {from:#x} points below 0x100 ({to:#x})")
            }
            ChainIssue::TooManySteps { at, limit } => {
                write!(
                    f,
                    "chain longer than the limit of {limit} capabilities (stopped at {at:#x})"
                )
            }
        }
    }
}

/// A walked chain: the capabilities in chain order, and what stopped the walk early, if anything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CapChain {
    /// Capabilities in chain order.
    pub entries: Vec<CapEntry>,
    /// Why the walk stopped before a zero pointer, if it did.
    pub issue: Option<ChainIssue>,
}

impl CapEntry {
    /// The typed ID ([`AnyCapId::Std`] or [`AnyCapId::Ext`] after `extended`).
    pub fn cap_id(&self) -> AnyCapId {
        AnyCapId::from_raw(self.id, self.extended)
    }

    /// This capability has ID `id` (on the list `id` belongs to).
    pub fn is(&self, id: impl Into<AnyCapId>) -> bool {
        self.cap_id() == id.into()
    }
}

impl CapChain {
    /// Offsets sorted by address (the order vfio uses to size capabilities).
    pub fn offsets_by_address(&self) -> Vec<usize> {
        let mut v: Vec<usize> = self.entries.iter().map(|e| e.offset).collect();
        v.sort_unstable();
        v
    }
}

/// The rules a capability-chain walk follows: which pointers it follows as read, and which
/// headers end it. Whatever stops a walk before a zero pointer is a [`ChainIssue`] on the
/// returned [`CapChain`]; a reader reports it inline ([`WalkRules::PCIUTILS`]), QEMU's vfio
/// cannot realize such a device and refuses it ([`WalkRules::QEMU_VFIO`]).
///
/// Rules shared by every walk: a standard chain is followed only if Status has CAP_LIST and
/// ends at a zero pointer; a revisited offset is [`ChainIssue::Looped`]; a standard pointer
/// into the header is [`ChainIssue::IntoHeader`], one without room for its next pointer
/// [`ChainIssue::PastEnd`]; an extended chain starts at 0x100 (a zero header there means no
/// chain), follows dword-aligned pointers, and a pointer below 0x100 is
/// [`ChainIssue::BelowExtended`], one past the bytes available [`ChainIssue::PastEnd`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalkRules {
    /// Standard pointers are followed with their low two bits masked off (pciutils); QEMU's
    /// recursive vfio_add_std_cap follows the raw byte.
    pub std_pointer_masked: bool,
    /// A standard capability with ID 0xff (what absent hardware reads as) ends the walk as
    /// [`ChainIssue::Broken`] (pciutils); to QEMU it is a capability like any other.
    pub std_absent_id_ends: bool,
    /// An extended header of 0 or 0xffffffff ends the walk (pciutils' show_ext_caps); to
    /// QEMU's vfio_add_ext_cap both are capabilities (ID 0, ID 0xffff), only a zero header at
    /// 0x100 means there is no chain.
    pub ext_empty_header_ends: bool,
    /// [`CapEntry::next`] of an extended capability records the pointer as QEMU reads it
    /// (PCI_EXT_CAP_NEXT, masked to 0xffc) rather than the raw 12-bit field.
    pub ext_next_masked: bool,
}

impl WalkRules {
    /// pciutils' show_caps / show_ext_caps: a tolerant decoder for real, possibly broken,
    /// config spaces.
    pub const PCIUTILS: WalkRules = WalkRules {
        std_pointer_masked: true,
        std_absent_id_ends: true,
        ext_empty_header_ends: true,
        ext_next_masked: false,
    };
    /// QEMU 10.0.2's vfio_add_std_cap / vfio_add_ext_cap: raw standard pointers, every header
    /// a capability; any [`ChainIssue`] is a device QEMU cannot realize.
    pub const QEMU_VFIO: WalkRules = WalkRules {
        std_pointer_masked: false,
        std_absent_id_ends: false,
        ext_empty_header_ends: false,
        ext_next_masked: true,
    };
}

/// Walk the standard capability chain of `config` (any length) as pciutils' show_caps does:
/// only if Status has the capability-list bit; pointers with the low two bits masked off; stop
/// at a zero pointer, at a revisited offset (`Looped`), at ID 0xff (`Broken`), at a pointer into
/// the header or past the available bytes. Never loops, never reads out of range.
pub fn walk_std(config: &[u8]) -> CapChain {
    walk_std_with(config, WalkRules::PCIUTILS)
}

/// Walk the extended capability chain from 0x100 as pciutils' show_ext_caps does: stop at a
/// header of 0 or 0xffffffff, at a revisited offset, at a pointer below 0x100 or past the end.
/// Returns an empty chain for a config shorter than 0x104 bytes.
pub fn walk_ext(config: &[u8]) -> CapChain {
    walk_ext_with(config, WalkRules::PCIUTILS)
}

/// Walk the standard capability chain of `config` (any length) under `rules`. Never loops,
/// never reads out of range.
pub fn walk_std_with(config: &[u8], rules: WalkRules) -> CapChain {
    let mut chain = CapChain::default();
    if config.len() < PCI_CONFIG_HEADER_SIZE {
        return chain;
    }
    let status = le::word(config, PCI_STATUS);
    if status & PCI_STATUS_CAP_LIST == 0 {
        return chain;
    }
    let follow = |ptr: u8| usize::from(if rules.std_pointer_masked { ptr & !3 } else { ptr });
    let limit = config.len().min(PCI_CONFIG_SPACE_SIZE);
    let mut visited = [false; PCI_CONFIG_SPACE_SIZE];
    let mut from = PCI_CAPABILITY_LIST;
    let mut pos = follow(config[PCI_CAPABILITY_LIST]);
    while pos != 0 {
        if pos < PCI_CONFIG_HEADER_SIZE {
            chain.issue = Some(ChainIssue::IntoHeader { from, to: pos });
            break;
        }
        if pos + PCI_CAP_LIST_NEXT >= limit {
            chain.issue = Some(ChainIssue::PastEnd { from, to: pos });
            break;
        }
        if visited[pos] {
            chain.issue = Some(ChainIssue::Looped { at: pos });
            break;
        }
        if chain.entries.len() >= MAX_STD_CAP_STEPS {
            chain.issue = Some(ChainIssue::TooManySteps {
                at: pos,
                limit: MAX_STD_CAP_STEPS,
            });
            break;
        }
        visited[pos] = true;
        let id = config[pos + PCI_CAP_LIST_ID];
        if rules.std_absent_id_ends && id == PCI_CAP_ID_ABSENT {
            chain.issue = Some(ChainIssue::Broken { at: pos });
            break;
        }
        let next = config[pos + PCI_CAP_LIST_NEXT];
        chain.entries.push(CapEntry {
            id: u16::from(id),
            extended: false,
            offset: pos,
            version: 0,
            next: usize::from(next),
        });
        from = pos + PCI_CAP_LIST_NEXT;
        pos = follow(next);
    }
    chain
}

/// Walk the extended capability chain from 0x100 under `rules`. Returns an empty chain for a
/// config shorter than 0x104 bytes or a zero header at 0x100. Never loops, never reads out of
/// range.
pub fn walk_ext_with(config: &[u8], rules: WalkRules) -> CapChain {
    let mut chain = CapChain::default();
    let mut visited = vec![false; PCIE_CONFIG_SPACE_SIZE];
    let mut from = 0usize;
    let mut pos = PCI_CONFIG_SPACE_SIZE;
    loop {
        let end = pos + PCI_EXT_CAP_HEADER_SIZEOF;
        if end > config.len() || end > PCIE_CONFIG_SPACE_SIZE {
            if from != 0 {
                chain.issue = Some(ChainIssue::PastEnd { from, to: pos });
            }
            break;
        }
        let header = le::long(config, pos);
        let empty = header == 0 || header == u32::MAX;
        if (header == 0 && pos == PCI_CONFIG_SPACE_SIZE) || (rules.ext_empty_header_ends && empty) {
            break;
        }
        if visited[pos] {
            chain.issue = Some(ChainIssue::Looped { at: pos });
            break;
        }
        if chain.entries.len() >= MAX_EXT_CAP_STEPS {
            chain.issue = Some(ChainIssue::TooManySteps {
                at: pos,
                limit: MAX_EXT_CAP_STEPS,
            });
            break;
        }
        visited[pos] = true;
        let n = pci_ext_cap_next(header);
        chain.entries.push(CapEntry {
            id: pci_ext_cap_id(header),
            extended: true,
            offset: pos,
            version: pci_ext_cap_ver(header),
            next: if rules.ext_next_masked {
                n
            } else {
                pci_ext_cap_next_raw(header)
            },
        });
        if n == 0 {
            break;
        }
        if n < PCI_CONFIG_SPACE_SIZE {
            chain.issue = Some(ChainIssue::BelowExtended { from: pos, to: n });
            break;
        }
        from = pos;
        pos = n;
    }
    chain
}

impl ConfigSpace {
    /// pci_find_space: the first run of `size` free bytes in `used[0x40..0x100]`.
    pub fn find_space(&self, size: usize) -> Option<usize> {
        let mut offset = PCI_CONFIG_HEADER_SIZE;
        for i in PCI_CONFIG_HEADER_SIZE..PCI_CONFIG_SPACE_SIZE {
            if self.used[i] != 0 {
                offset = i + 1;
            } else if i + 1 - offset == size {
                return Some(offset);
            }
        }
        None
    }

    /// QEMU's list walk from config[0x34] (bounded: a looped list ends at the first revisit).
    fn std_list(&self) -> Vec<(usize, usize)> {
        // (prev pointer offset, cap offset)
        let mut out = Vec::new();
        if self.config[PCI_STATUS] & PCI_STATUS_CAP_LIST as u8 == 0 {
            return out;
        }
        let mut visited = [false; PCI_CONFIG_SPACE_SIZE];
        let mut prev = PCI_CAPABILITY_LIST;
        loop {
            let next = usize::from(self.config[prev]);
            if next == 0 || visited[next] || next + 1 >= PCI_CONFIG_SPACE_SIZE {
                break;
            }
            visited[next] = true;
            out.push((prev, next));
            prev = next + PCI_CAP_LIST_NEXT;
        }
        out
    }

    /// pci_find_capability_at_offset: the capability on the current list that owns byte
    /// `offset` (the largest start <= offset), if the byte is marked used.
    pub fn capability_owning(&self, offset: usize) -> Option<usize> {
        if offset >= self.size() || self.used[offset] == 0 {
            return None;
        }
        self.std_list()
            .into_iter()
            .map(|(_, c)| c)
            .filter(|&c| c <= offset)
            .max()
    }

    /// pci_find_capability: offset of the first capability with `cap_id` on the list.
    pub fn find_capability(&self, cap_id: CapId) -> Option<usize> {
        self.std_list()
            .into_iter()
            .map(|(_, c)| c)
            .find(|&c| self.config[c] == cap_id.value())
    }

    /// The standard chain as QEMU follows it (raw pointers, no masking), bounded.
    pub fn std_capabilities(&self) -> Vec<CapEntry> {
        self.std_list()
            .into_iter()
            .map(|(_, c)| CapEntry {
                id: u16::from(self.config[c]),
                extended: false,
                offset: c,
                version: 0,
                next: usize::from(self.config[c + 1]),
            })
            .collect()
    }

    /// The extended chain from 0x100 (empty for a conventional space); see [`walk_ext`].
    pub fn ext_capabilities(&self) -> CapChain {
        walk_ext(&self.config)
    }

    /// pci_add_capability: add a standard capability at `offset` (0 = first fit in
    /// 0x40..0x100, pci_find_space), inserted at the head of the list. Checks overlap with
    /// capabilities already on the list exactly where QEMU does (bytes marked `used`, owned by
    /// a listed capability) and fails with QEMU's message. Sets config[offset] = ID,
    /// config[offset+1] = old head, config[0x34] = offset, Status CAP_LIST; used over
    /// align_up(size, 4); wmask 0 and cmask 0xff over `size` bytes; w1cmask untouched.
    /// Returns the offset.
    pub fn add_capability(
        &mut self,
        cap_id: CapId,
        offset: usize,
        size: usize,
        preset: Preset,
    ) -> Result<usize, ConfigError> {
        if size == 0 || size > PCI_CONFIG_SPACE_SIZE - PCI_CONFIG_HEADER_SIZE {
            return Err(ConfigError::StdCapOutOfRange { offset, size });
        }
        let offset = if offset == 0 {
            self.find_space(size).ok_or(ConfigError::NoSpace { size })?
        } else {
            if offset < PCI_CONFIG_HEADER_SIZE || offset + size > PCI_CONFIG_SPACE_SIZE {
                return Err(ConfigError::StdCapOutOfRange { offset, size });
            }
            self.check_capability_overlap(cap_id, offset, size)?;
            offset
        };
        self.link_capability(cap_id, offset, size, preset);
        Ok(offset)
    }

    /// pci_add_capability's overlap check: no byte of `offset..offset + size` may belong to a
    /// capability already on the list (QEMU's message names the first such byte).
    pub(crate) fn check_capability_overlap(
        &self,
        cap_id: CapId,
        offset: usize,
        size: usize,
    ) -> Result<(), ConfigError> {
        for i in offset..offset + size {
            if let Some(existing) = self.capability_owning(i) {
                return Err(ConfigError::CapabilityOverlap {
                    address: self.address.qemu_display(),
                    cap_id: cap_id.value(),
                    offset,
                    existing,
                    at: i,
                });
            }
        }
        Ok(())
    }

    /// The rest of pci_add_capability once `offset` is accepted: ID and next bytes, the list
    /// head and Status CAP_LIST, used over align_up(size, 4), wmask 0 and cmask 0xff over
    /// `size` bytes, and the record of which preset added it.
    pub(crate) fn link_capability(&mut self, cap_id: CapId, offset: usize, size: usize, preset: Preset) {
        let head = self.config[PCI_CAPABILITY_LIST];
        self.set_byte(Array::Config, offset + PCI_CAP_LIST_ID, cap_id.value());
        self.set_byte(Array::Config, offset + PCI_CAP_LIST_NEXT, head);
        self.set_byte(Array::Config, PCI_CAPABILITY_LIST, offset as u8);
        let st = self.config[PCI_STATUS] | PCI_STATUS_CAP_LIST as u8;
        self.set_byte(Array::Config, PCI_STATUS, st);
        let used_end = (offset + size.next_multiple_of(4)).min(self.size());
        self.fill(Array::Used, offset..used_end, 0xff);
        self.fill(Array::Wmask, offset..offset + size, 0);
        self.fill(Array::Cmask, offset..offset + size, 0xff);
        self.record_capability(CapRecord {
            id: AnyCapId::Std(cap_id),
            offset,
            size,
            preset,
        });
    }

    /// pci_del_capability: unlink the first capability with `cap_id` and make its `size` bytes
    /// writable and unchecked again (wmask 0xff, w1cmask 0, cmask 0, used cleared over
    /// align_up(size, 4)); clear Status CAP_LIST if the list becomes empty. Returns the offset it
    /// removed, or `None` if there was no such capability (QEMU does nothing then).
    pub fn del_capability(&mut self, cap_id: CapId, size: usize) -> Result<Option<usize>, ConfigError> {
        let id = cap_id.value();
        let Some((prev, offset)) = self.std_list().into_iter().find(|&(_, c)| self.config[c] == id) else {
            return Ok(None);
        };
        self.bounds(offset, size)?;
        let next = self.config[offset + PCI_CAP_LIST_NEXT];
        self.set_byte(Array::Config, prev, next);
        self.fill_masks(offset..offset + size, 0, 0xff, 0);
        let used_end = (offset + size.next_multiple_of(4)).min(self.size());
        self.fill(Array::Used, offset..used_end, 0);
        if self.config[PCI_CAPABILITY_LIST] == 0 {
            let st = self.config[PCI_STATUS] & !(PCI_STATUS_CAP_LIST as u8);
            self.set_byte(Array::Config, PCI_STATUS, st);
        }
        self.caps.retain(|c| c.extended() || c.offset != offset);
        for slot in [
            &mut self.pm_cap,
            &mut self.msi_cap,
            &mut self.msix_cap,
            &mut self.exp_cap,
        ] {
            if *slot == Some(offset) {
                *slot = None;
            }
        }
        Ok(Some(offset))
    }

    /// pcie_add_capability: append an extended capability at `offset` (>= 0x100, dword-aligned,
    /// size >= 8, inside 4096 bytes). Unless `offset` is 0x100, the Next field of the last header on the
    /// chain from 0x100 is set to `offset`. Writes the header (ID, version, next 0) and sets
    /// wmask 0, w1cmask 0 and cmask 0xff over `size` bytes. No overlap check, as in QEMU.
    pub fn add_ext_capability(
        &mut self,
        cap_id: ExtCapId,
        version: u8,
        offset: usize,
        size: usize,
        preset: Preset,
    ) -> Result<(), ConfigError> {
        if !self.is_express() {
            return Err(ConfigError::NotExpress);
        }
        // pcie_ext_cap_set_next asserts the new offset is dword-aligned (PCI_EXT_CAP_ALIGN): the
        // Next field cannot point anywhere else.
        if offset < PCI_CONFIG_SPACE_SIZE
            || offset % PCI_EXT_CAP_ALIGN != 0
            || size < PCI_EXT_CAP_MIN_SIZEOF
            || offset.checked_add(size).is_none_or(|e| e > PCIE_CONFIG_SPACE_SIZE)
        {
            return Err(ConfigError::ExtCapOutOfRange { offset, size });
        }
        if offset != PCI_CONFIG_SPACE_SIZE {
            let last = self.ext_chain_tail()?;
            let header = self.get_long(last);
            let header = (header & PCI_EXT_CAP_ID_VER_MASK) | pci_ext_cap(0, 0, offset);
            self.set_long(Array::Config, last, header);
        }
        let header = pci_ext_cap(cap_id.value(), version, 0);
        self.set_long(Array::Config, offset, header);
        self.fill_masks(offset..offset + size, 0xff, 0, 0);
        self.record_capability(CapRecord {
            id: AnyCapId::Ext(cap_id),
            offset,
            size,
            preset,
        });
        Ok(())
    }

    /// The last header on the extended chain from 0x100 (pcie_find_capability_list with an
    /// impossible ID). QEMU asserts the chain has a header at 0x100; here a missing or broken
    /// chain is an error.
    fn ext_chain_tail(&self) -> Result<usize, ConfigError> {
        let mut visited = vec![false; PCIE_CONFIG_SPACE_SIZE];
        let mut pos = PCI_CONFIG_SPACE_SIZE;
        if self.get_long(pos) == 0 {
            return Err(ConfigError::ExtChainBroken {
                at: pos,
                why: "no extended capability at 0x100 to append after",
            });
        }
        loop {
            visited[pos] = true;
            let next = pci_ext_cap_next(self.get_long(pos));
            if next == 0 {
                return Ok(pos);
            }
            if next < PCI_CONFIG_SPACE_SIZE || next + PCI_EXT_CAP_HEADER_SIZEOF > PCIE_CONFIG_SPACE_SIZE {
                return Err(ConfigError::ExtChainBroken {
                    at: pos,
                    why: "next pointer out of range",
                });
            }
            if visited[next] {
                return Err(ConfigError::ExtChainBroken {
                    at: pos,
                    why: "chain loops",
                });
            }
            pos = next;
        }
    }

    /// Offset of the first extended capability with `cap_id` (pcie_find_capability).
    pub fn find_ext_capability(&self, cap_id: ExtCapId) -> Option<usize> {
        self.ext_capabilities()
            .entries
            .iter()
            .find(|e| e.id == cap_id.value())
            .map(|e| e.offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::{DeviceIdentity, DeviceParams, HeaderKind};
    use crate::space::ConfigSize;

    fn dev(size: ConfigSize) -> ConfigSpace {
        ConfigSpace::new_device(&DeviceParams {
            size,
            header: HeaderKind::Type0,
            identity: DeviceIdentity {
                vendor_id: 0x1af4,
                device_id: 0x1000,
                class_id: 0x0200,
                ..Default::default()
            },
            multifunction: false,
        })
    }

    #[test]
    fn add_inserts_at_head_and_sets_masks() {
        let mut s = dev(ConfigSize::Conventional);
        assert_eq!(
            s.add_capability(CapId::Vndr, 0, 0x10, Preset::PciAddCapability)
                .unwrap(),
            0x40
        );
        assert_eq!(
            s.add_capability(CapId::Vndr, 0, 0x14, Preset::PciAddCapability)
                .unwrap(),
            0x50
        );
        assert_eq!(s.config()[0x34], 0x50);
        assert_eq!(s.config()[0x51], 0x40);
        assert_eq!(s.config()[0x41], 0x00);
        assert_eq!(s.config()[0x06] & 0x10, 0x10);
        // used is aligned up to 4: 0x50..0x64
        assert!(s.used()[0x50..0x64].iter().all(|&u| u == 0xff));
        assert_eq!(s.used()[0x64], 0);
        // cmask/wmask only over size bytes
        assert_eq!(s.cmask()[0x63], 0xff);
        assert_eq!(s.cmask()[0x64], 0);
        assert_eq!(s.wmask()[0x63], 0);
        assert_eq!(s.wmask()[0x64], 0xff);
        let ids: Vec<_> = s.std_capabilities().iter().map(|e| e.offset).collect();
        assert_eq!(ids, vec![0x50, 0x40]);
        assert_eq!(s.find_space(8), Some(0x64));
    }

    #[test]
    fn overlap_error_is_worded_as_qemu_words_it() {
        let mut s = dev(ConfigSize::Conventional);
        s.add_capability(CapId::Msi, 0x60, 0x0a, Preset::PciAddCapability)
            .unwrap();
        let e = s
            .add_capability(CapId::Exp, 0x5c, 0x3c, Preset::PciAddCapability)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "0000:00:00:00.0 Attempt to add PCI capability 10 at offset 5c overlaps existing capability 60 at offset 60"
        );
        // The alignment padding after a capability counts as used (owned by it).
        let e = s
            .add_capability(CapId::Vndr, 0x6a, 4, Preset::PciAddCapability)
            .unwrap_err();
        assert!(matches!(
            e,
            ConfigError::CapabilityOverlap {
                existing: 0x60,
                at: 0x6a,
                ..
            }
        ));
        // Right after the padding is free.
        s.add_capability(CapId::Vndr, 0x6c, 4, Preset::PciAddCapability)
            .unwrap();
    }

    #[test]
    fn out_of_range_capabilities_are_errors() {
        let mut s = dev(ConfigSize::Conventional);
        assert!(matches!(
            s.add_capability(CapId::Pm, 0xfc, 8, Preset::PciAddCapability),
            Err(ConfigError::StdCapOutOfRange { .. })
        ));
        assert!(matches!(
            s.add_capability(CapId::Pm, 0x20, 8, Preset::PciAddCapability),
            Err(ConfigError::StdCapOutOfRange { .. })
        ));
        assert!(matches!(
            s.add_capability(CapId::Pm, 0, 0xc1, Preset::PciAddCapability),
            Err(ConfigError::StdCapOutOfRange { .. })
        ));
        assert!(matches!(
            s.add_ext_capability(ExtCapId::Err, 1, 0x100, 8, Preset::PcieAddCapability),
            Err(ConfigError::NotExpress)
        ));
        let mut e = dev(ConfigSize::Express);
        assert!(matches!(
            e.add_ext_capability(ExtCapId::Err, 1, 0xff8, 0x10, Preset::PcieAddCapability),
            Err(ConfigError::ExtCapOutOfRange { .. })
        ));
        assert!(matches!(
            e.add_ext_capability(ExtCapId::Err, 1, 0x100, 4, Preset::PcieAddCapability),
            Err(ConfigError::ExtCapOutOfRange { .. })
        ));
        assert!(matches!(
            e.add_ext_capability(ExtCapId::Err, 1, 0x200, 8, Preset::PcieAddCapability),
            Err(ConfigError::ExtChainBroken { .. })
        ));
    }

    #[test]
    fn no_space_is_an_error() {
        let mut s = dev(ConfigSize::Conventional);
        s.add_capability(CapId::Vndr, 0x40, 0xb0, Preset::PciAddCapability)
            .unwrap();
        assert!(matches!(
            s.add_capability(CapId::Vndr, 0, 0x14, Preset::PciAddCapability),
            Err(ConfigError::NoSpace { size: 0x14 })
        ));
        assert_eq!(
            s.add_capability(CapId::Vndr, 0, 0x10, Preset::PciAddCapability)
                .unwrap(),
            0xf0
        );
    }

    #[test]
    fn delete_unlinks_and_restores_writable_masks() {
        let mut s = dev(ConfigSize::Conventional);
        s.add_capability(CapId::Pm, 0x40, 8, Preset::PciAddCapability).unwrap();
        s.add_capability(CapId::Msi, 0x50, 0x0a, Preset::PciAddCapability)
            .unwrap();
        assert_eq!(s.del_capability(CapId::Pm, 8).unwrap(), Some(0x40));
        assert_eq!(s.config()[0x51], 0);
        assert!(s.cmask()[0x40..0x48].iter().all(|&c| c == 0));
        assert!(s.wmask()[0x40..0x48].iter().all(|&w| w == 0xff));
        assert_eq!(s.config()[0x06] & 0x10, 0x10);
        assert_eq!(s.del_capability(CapId::Msi, 0x0a).unwrap(), Some(0x50));
        assert_eq!(s.config()[0x34], 0);
        assert_eq!(s.config()[0x06] & 0x10, 0);
        assert_eq!(s.del_capability(CapId::Msi, 0x0a).unwrap(), None);
    }

    #[test]
    fn ext_caps_append_at_the_tail() {
        let mut s = dev(ConfigSize::Express);
        s.add_ext_capability(ExtCapId::Err, 2, 0x100, 0x48, Preset::PcieAddCapability)
            .unwrap();
        s.add_ext_capability(ExtCapId::Acs, 1, 0x148, 8, Preset::PcieAddCapability)
            .unwrap();
        s.add_ext_capability(ExtCapId::Dsn, 1, 0x150, 12, Preset::PcieAddCapability)
            .unwrap();
        let chain = s.ext_capabilities();
        let got: Vec<_> = chain.entries.iter().map(|e| (e.id, e.offset, e.version)).collect();
        assert_eq!(got, vec![(1, 0x100, 2), (0xd, 0x148, 1), (3, 0x150, 1)]);
        assert_eq!(s.get_long(0x100), 0x1482_0001);
        assert!(s.cmask()[0x100..0x15c].iter().all(|&c| c == 0xff));
        assert!(s.wmask()[0x100..0x15c].iter().all(|&c| c == 0));
        assert_eq!(s.cmask()[0x15c], 0);
        assert_eq!(s.find_ext_capability(ExtCapId::Dsn), Some(0x150));
    }

    #[test]
    fn walkers_stop_on_loops_and_bad_pointers() {
        let mut c = vec![0u8; 256];
        c[6] = 0x10;
        c[0x34] = 0x40;
        c[0x40] = 0x01;
        c[0x41] = 0x50;
        c[0x50] = 0x05;
        c[0x51] = 0x40; // loop back
        let w = walk_std(&c);
        assert_eq!(w.entries.len(), 2);
        assert_eq!(w.issue, Some(ChainIssue::Looped { at: 0x40 }));
        c[0x51] = 0x10;
        assert_eq!(
            walk_std(&c).issue,
            Some(ChainIssue::IntoHeader { from: 0x51, to: 0x10 })
        );
        c[0x51] = 0x60;
        c[0x60] = 0xff;
        assert_eq!(walk_std(&c).issue, Some(ChainIssue::Broken { at: 0x60 }));
        c[0x51] = 0xfe; // masked to 0xfc; fits 2 bytes
        c[0xfc] = 0x09;
        assert_eq!(walk_std(&c).entries.last().unwrap().offset, 0xfc);
        // truncated: a 0x44-byte view
        c[0x51] = 0x60;
        assert_eq!(
            walk_std(&c[..0x58]).issue,
            Some(ChainIssue::PastEnd { from: 0x51, to: 0x60 })
        );

        let mut e = vec![0u8; 4096];
        e[0x100..0x104].copy_from_slice(&(0x2000_0001u32 | (1 << 16)).to_le_bytes());
        e[0x200..0x204].copy_from_slice(&(0x1000_0003u32).to_le_bytes());
        let w = walk_ext(&e);
        assert_eq!(w.entries.len(), 2);
        assert_eq!(w.issue, Some(ChainIssue::Looped { at: 0x100 }));
        e[0x200..0x204].copy_from_slice(&(0x0800_0003u32).to_le_bytes());
        assert_eq!(
            walk_ext(&e).issue,
            Some(ChainIssue::BelowExtended { from: 0x200, to: 0x80 })
        );
        assert!(walk_ext(&e[..256]).entries.is_empty());
        e[0x200..0x204].copy_from_slice(&(0x9000_0003u32).to_le_bytes());
        assert_eq!(
            walk_ext(&e[..0x800]).issue,
            Some(ChainIssue::PastEnd { from: 0x200, to: 0x900 })
        );
    }
    #[test]
    fn qemu_vfio_rules_follow_raw_pointers_and_take_every_header_as_a_capability() {
        let mut c = vec![0u8; 4096];
        c[6] = 0x10;
        c[0x34] = 0x41; // raw: QEMU reads the capability at 0x41
        c[0x40] = 0xff; // pciutils reads the capability at 0x40
        c[0x41] = 0xff;
        c[0x42] = 0x00;
        let q = walk_std_with(&c, WalkRules::QEMU_VFIO);
        assert_eq!(
            q.entries.iter().map(|e| (e.offset, e.id)).collect::<Vec<_>>(),
            vec![(0x41, 0xff)]
        );
        assert_eq!(q.issue, None);
        assert_eq!(walk_std(&c).issue, Some(ChainIssue::Broken { at: 0x40 }));

        // 0xffffffff at 0x100: ID 0xffff with next 0xffc to QEMU, the end of the chain to pciutils.
        c[0x100..0x104].copy_from_slice(&[0xff; 4]);
        let q = walk_ext_with(&c, WalkRules::QEMU_VFIO);
        let got: Vec<_> = q.entries.iter().map(|e| (e.offset, e.id, e.next)).collect();
        assert_eq!(got, vec![(0x100, 0xffff, 0xffc), (0xffc, 0, 0)]);
        assert!(walk_ext(&c).entries.is_empty());
        // A zero header at 0x100 is no chain under either rules.
        c[0x100..0x104].fill(0);
        assert!(walk_ext_with(&c, WalkRules::QEMU_VFIO).entries.is_empty());
        // The recorded next: raw 12 bits for pciutils, masked for QEMU.
        c[0x100..0x104].copy_from_slice(&(0x2030_0001u32).to_le_bytes());
        assert_eq!(walk_ext(&c).entries[0].next, 0x203);
        assert_eq!(walk_ext_with(&c, WalkRules::QEMU_VFIO).entries[0].next, 0x200);
    }
}
