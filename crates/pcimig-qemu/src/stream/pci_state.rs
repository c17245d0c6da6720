//! The PCIDevice state's config size (256 or 4096), decided from the bytes around it: the
//! stream does not record it (QEMU reads as many bytes as the destination's config has).

use super::cursor::{be_u32, Cursor};
use super::format::{
    is_pci_irq_state, msix_save_len, MSIX_VECTORS_MAX, PCI_IRQ_STATE_LEN, PCI_STATE_VERSION_LEN, VIRTIO_CONFIG_LEN_MAX,
    VIRTIO_CONFIG_VECTOR_LEN, VIRTIO_QUEUE_MAX, VIRTIO_STATUS_TO_FEATURES_LEN, VIRTQUEUE_MAX_SIZE,
};
use super::section::Walker;
use crate::error::{ErrorKind, StreamError};
use pcimig_config::regs::{PCIE_CONFIG_SPACE_SIZE, PCI_CONFIG_SPACE_SIZE, PCI_MSIX_FLAGS};
use pcimig_config::vmstate::PCI_DEVICE_VMSTATE_VERSION;
use pcimig_config::CapId;

/// Whether a config size fits a section exactly (vfio), given the 256-byte header.
pub(super) type SizeCheck<'a> = dyn Fn(usize, &[u8]) -> bool + 'a;

/// The offset of a standard capability on the header's chain.
fn find_std_cap(config: &[u8], id: CapId) -> Option<usize> {
    pcimig_config::walk_std(config)
        .entries
        .into_iter()
        .find(|e| !e.extended && e.id == u16::from(id.value()))
        .map(|e| e.offset)
}

/// Whether the header's chain has a PCI Express capability.
fn has_express_cap(config: &[u8]) -> bool {
    find_std_cap(config, CapId::Exp).is_some()
}

/// The MSI-X vector count of the header's MSI-X capability (PCI_MSIX_FLAGS_QSIZE + 1).
fn msix_vectors(config: &[u8]) -> Option<u64> {
    let cap = find_std_cap(config, CapId::Msix)?;
    let flags = pcimig_config::le::u16_at(config, cap + PCI_MSIX_FLAGS)?;
    Some(u64::from(pcimig_config::presets::msix_table_size(flags)))
}

/// MSI-X table + PBA bytes msix_save writes for a config (0 without MSI-X).
pub(super) fn msix_bytes(config: &[u8]) -> u64 {
    msix_vectors(config).map_or(0, msix_save_len)
}

/// The config sizes to try, the likelier first: 4096 when the header has a PCI Express
/// capability.
fn config_sizes(express: bool) -> [usize; 2] {
    if express {
        [PCIE_CONFIG_SPACE_SIZE, PCI_CONFIG_SPACE_SIZE]
    } else {
        [PCI_CONFIG_SPACE_SIZE, PCIE_CONFIG_SPACE_SIZE]
    }
}

/// Whether a valid irq_state (each be32 0 or 1) is at `at`.
fn irq_state_at(cur: &Cursor<'_>, at: u64) -> bool {
    let mut irq = [0u8; PCI_IRQ_STATE_LEN as usize];
    cur.read_exact_at(&mut irq, at, "irq_state").is_ok() && irq.chunks(4).all(is_pci_irq_state)
}

/// What virtio_save writes after a virtio-pci proxy's PCIDevice state at `state`, in a field of
/// `room` bytes.
struct VirtioSave<'c, 'a> {
    cur: &'c Cursor<'a>,
    state: u64,
    room: u64,
}

impl VirtioSave<'_, '_> {
    /// Whether the layout fits a `cs`-byte config and `msix` MSI-X vectors (virtio_pci_save_config,
    /// then virtio_save): irq_state, MSI-X table and PBA and be16 config_vector (with MSI-X), u8
    /// status, u8 isr, be16 queue_sel, be32 features, be32 config_len, the config, the queues.
    fn fits(&self, cs: usize, msix: Option<u64>) -> bool {
        let mut p = self.state + PCI_STATE_VERSION_LEN + cs as u64;
        if !irq_state_at(self.cur, p) {
            return false;
        }
        p += PCI_IRQ_STATE_LEN;
        if let Some(n) = msix {
            p += msix_save_len(n) + VIRTIO_CONFIG_VECTOR_LEN;
        }
        p += VIRTIO_STATUS_TO_FEATURES_LEN;
        let Ok(config_len) = self.cur.be32_at(p, "config_len").map(u64::from) else {
            return false;
        };
        if config_len > VIRTIO_CONFIG_LEN_MAX {
            return false;
        }
        p += 4 + config_len;
        self.queues_at(p) && p + 8 <= self.state + self.room
    }

    /// Every virtio device has at least one queue (be32 count, at most VIRTIO_QUEUE_MAX), the
    /// first of at most VIRTQUEUE_MAX_SIZE entries (be32 size).
    fn queues_at(&self, p: u64) -> bool {
        let count = self.cur.be32_at(p, "queue count");
        let size = || self.cur.be32_at(p + 4, "queue size");
        count.is_ok_and(|n| (1..=VIRTIO_QUEUE_MAX).contains(&n))
            && size().is_ok_and(|n| (1..=VIRTQUEUE_MAX_SIZE).contains(&n))
    }
}

/// virtio-pci's config size (256 or 4096) from the layout virtio_save writes after the
/// PCIDevice state at `state` (see [`VirtioSave::fits`]). The MSI-X vector count comes from the
/// saved header; if its capability chain does not give one that fits, every count QEMU allows
/// (1..=2048) is tried, at most `searches` times per stream. `None` when nothing fits.
pub(super) fn virtio_config_size(cur: &Cursor<'_>, state: u64, room: u64, searches: &mut u32) -> Option<usize> {
    let mut head = [0u8; PCI_CONFIG_SPACE_SIZE];
    cur.read_exact_at(&mut head, state + PCI_STATE_VERSION_LEN, "config header")
        .ok()?;
    let layout = VirtioSave { cur, state, room };
    let from_chain = msix_vectors(&head);
    let order = config_sizes(has_express_cap(&head));
    if let Some(cs) = order.into_iter().find(|&cs| layout.fits(cs, from_chain)) {
        return Some(cs);
    }
    // The header's capability chain may be damaged (a mutated stream): try the other shapes.
    if *searches == 0 {
        return None;
    }
    *searches -= 1;
    order.into_iter().find(|&cs| {
        layout.fits(cs, None) || (1..=MSIX_VECTORS_MAX).any(|n| Some(n) != from_chain && layout.fits(cs, Some(n)))
    })
}

/// The one of 256/4096 for which `fits` says the layout fills the section exactly (vfio).
fn exact_config_size(cur: &Cursor<'_>, state: u64, config: &[u8], fits: &SizeCheck) -> Result<usize, StreamError> {
    [PCI_CONFIG_SPACE_SIZE, PCIE_CONFIG_SPACE_SIZE]
        .into_iter()
        .find(|&cs| fits(cs, config))
        .ok_or_else(|| {
            cur.err(
                ErrorKind::Malformed,
                state,
                "neither a 256- nor a 4096-byte config fits the section",
            )
        })
}

/// Whether a valid irq_state follows a `cs`-byte config of the PCIDevice state at `state`,
/// inside a field of `room` bytes (0: unknown).
fn irq_state_follows(cur: &Cursor<'_>, state: u64, room: u64, cs: usize) -> Result<bool, StreamError> {
    let at = state + PCI_STATE_VERSION_LEN + cs as u64;
    if at + PCI_IRQ_STATE_LEN > cur.len() || (room != 0 && PCI_STATE_VERSION_LEN + cs as u64 + PCI_IRQ_STATE_LEN > room)
    {
        return Ok(false);
    }
    let mut irq = [0u8; PCI_IRQ_STATE_LEN as usize];
    cur.read_exact_at(&mut irq, at, "irq_state")?;
    Ok(irq.chunks(4).all(is_pci_irq_state))
}

impl Walker {
    /// Decide 256 or 4096 for a PCIDevice state at `state` (be32 version, config, irq) whose
    /// enclosing field has `room` bytes (0: unknown). `exact`: the state must end exactly at
    /// one of the candidate sizes plus a known tail (vfio).
    pub(super) fn pci_config_size(
        &mut self,
        cur: &Cursor<'_>,
        state: u64,
        room: u64,
        exact: Option<&SizeCheck>,
    ) -> Result<usize, StreamError> {
        let mut head = [0u8; PCI_STATE_VERSION_LEN as usize + PCI_CONFIG_SPACE_SIZE];
        cur.read_exact_at(&mut head, state, "PCIDevice state")?;
        let version = be_u32(&head) as i32;
        if !(0..=PCI_DEVICE_VMSTATE_VERSION).contains(&version) {
            self.found.warn(format!(
                "PCIDevice version_id {version} at byte {state:#x} (QEMU writes {PCI_DEVICE_VMSTATE_VERSION})"
            ));
        }
        let config = &head[PCI_STATE_VERSION_LEN as usize..];
        match exact {
            Some(fits) => exact_config_size(cur, state, config, fits),
            None => self.config_size_by_irq_state(cur, state, room, config),
        }
    }

    /// The config size after which a valid irq_state follows, the likelier (by the header's
    /// PCI Express capability) first; a warning when only the other one fits.
    fn config_size_by_irq_state(
        &mut self,
        cur: &Cursor<'_>,
        state: u64,
        room: u64,
        config: &[u8],
    ) -> Result<usize, StreamError> {
        let express = has_express_cap(config);
        let [first, second] = config_sizes(express);
        if irq_state_follows(cur, state, room, first)? {
            return Ok(first);
        }
        if irq_state_follows(cur, state, room, second)? {
            self.found.warn(format!(
                "config at byte {:#x}: {} PCI Express capability but the irq_state fits a {second}-byte config; using {second}",
                state + PCI_STATE_VERSION_LEN,
                if express { "has a" } else { "has no" }
            ));
            return Ok(second);
        }
        Err(cur.err(
            ErrorKind::Malformed,
            state + PCI_STATE_VERSION_LEN,
            "no valid irq_state after a 256- or 4096-byte config",
        ))
    }
}
