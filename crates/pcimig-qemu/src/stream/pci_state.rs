//! The PCIDevice state's config size (256 or 4096), decided from the bytes around it.

use super::cursor::Cursor;
use super::section::Walker;
use crate::error::{ErrorKind, StreamError};

/// Whether a config size fits a section exactly (vfio), given the 256-byte header.
pub(super) type SizeCheck<'a> = dyn Fn(usize, &[u8]) -> bool + 'a;

/// Offset of the PCI Express capability in a 256-byte header, if the chain has one.
pub(super) fn has_express_cap(config: &[u8]) -> bool {
    pcimig_config::walk_std(config)
        .entries
        .iter()
        .any(|e| !e.extended && e.id == 0x10)
}

/// MSI-X table + PBA bytes msix_save writes for a config (0 without MSI-X).
pub(super) fn msix_bytes(config: &[u8]) -> u64 {
    let Some(e) = pcimig_config::walk_std(config)
        .entries
        .into_iter()
        .find(|e| !e.extended && e.id == 0x11)
    else {
        return 0;
    };
    let Some(ctl) = config.get(e.offset + 2..e.offset + 4) else {
        return 0;
    };
    let n = u64::from(u16::from_le_bytes([ctl[0], ctl[1]]) & 0x7ff) + 1;
    n * 16 + n.div_ceil(8)
}

/// virtio-pci's config size (256 or 4096) from the layout virtio_save writes after the
/// PCIDevice state: MSI-X table and PBA and be16 config_vector (with MSI-X), u8 status, u8 isr,
/// be16 queue_sel, be32 features, be32 config_len, the config, be32 queue count (1..=1024),
/// be32 size of the first queue (1..=1024).
/// The MSI-X vector count comes from the saved header; if its capability chain does not give
/// one that fits, every count QEMU allows (1..=2048) is tried. `None` when nothing fits.
pub(super) fn virtio_config_size(cur: &Cursor<'_>, state: u64, room: u64, searches: &mut u32) -> Option<usize> {
    let mut head = [0u8; 256];
    cur.read_exact_at(&mut head, state + 4, "config header").ok()?;
    let fits = |cs: u64, msix: Option<u64>| -> bool {
        let mut p = state + 4 + cs;
        let mut irq = [0u8; 16];
        if cur.read_exact_at(&mut irq, p, "irq_state").is_err()
            || !irq.chunks(4).all(|c| c == [0, 0, 0, 0] || c == [0, 0, 0, 1])
        {
            return false;
        }
        p += 16;
        if let Some(n) = msix {
            p += n * 16 + n.div_ceil(8) + 2;
        }
        p += 8;
        let mut w = [0u8; 4];
        if cur.read_exact_at(&mut w, p, "config_len").is_err() {
            return false;
        }
        let config_len = u64::from(u32::from_be_bytes(w));
        if config_len > 65536 {
            return false;
        }
        p += 4 + config_len;
        // Every virtio device has at least one queue, of at most VIRTQUEUE_MAX_SIZE (1024).
        if cur.read_exact_at(&mut w, p, "queue count").is_err() || !(1..=1024).contains(&u32::from_be_bytes(w)) {
            return false;
        }
        if cur.read_exact_at(&mut w, p + 4, "queue size").is_err() || !(1..=1024).contains(&u32::from_be_bytes(w)) {
            return false;
        }
        p + 8 <= state + room
    };
    let from_chain = match msix_bytes(&head) {
        0 => None,
        _ => {
            let e = pcimig_config::walk_std(&head)
                .entries
                .into_iter()
                .find(|e| !e.extended && e.id == 0x11)?;
            Some(u64::from(u16::from_le_bytes([head[e.offset + 2], head[e.offset + 3]]) & 0x7ff) + 1)
        }
    };
    let first: u64 = if has_express_cap(&head) { 4096 } else { 256 };
    let order = [first, 4352 - first];
    for cs in order {
        if fits(cs, from_chain) {
            return Some(cs as usize);
        }
    }
    // The header's capability chain may be damaged (a mutated stream): try the other shapes
    // (a bounded number of times per stream).
    if *searches == 0 {
        return None;
    }
    *searches -= 1;
    for cs in order {
        if fits(cs, None) || (1..=2048).any(|n| Some(n) != from_chain && fits(cs, Some(n))) {
            return Some(cs as usize);
        }
    }
    None
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
        let mut head = [0u8; 4 + 256];
        cur.read_exact_at(&mut head, state, "PCIDevice state")?;
        let version = i32::from_be_bytes([head[0], head[1], head[2], head[3]]);
        if !(0..=2).contains(&version) {
            self.warnings.push(format!(
                "PCIDevice version_id {version} at byte {state:#x} (QEMU writes 2)"
            ));
        }
        let config = &head[4..];
        let irq_ok = |cs: usize| -> Result<bool, StreamError> {
            let at = state + 4 + cs as u64;
            if at + 16 > cur.len() || (room != 0 && 4 + cs as u64 + 16 > room) {
                return Ok(false);
            }
            let mut irq = [0u8; 16];
            cur.read_exact_at(&mut irq, at, "irq_state")?;
            Ok(irq.chunks(4).all(|c| c == [0, 0, 0, 0] || c == [0, 0, 0, 1]))
        };
        if let Some(check) = exact {
            for cs in [256usize, 4096] {
                if check(cs, config) {
                    return Ok(cs);
                }
            }
            return Err(cur.err(
                ErrorKind::Malformed,
                state,
                "neither a 256- nor a 4096-byte config fits the section",
            ));
        }
        let express = has_express_cap(config);
        let first = if express { 4096 } else { 256 };
        let second = if express { 256 } else { 4096 };
        if irq_ok(first)? {
            return Ok(first);
        }
        if irq_ok(second)? {
            self.warnings.push(format!(
                "config at byte {:#x}: {} PCI Express capability but the irq_state fits a {second}-byte config; using {second}",
                state + 4,
                if express { "has a" } else { "has no" }
            ));
            return Ok(second);
        }
        Err(cur.err(
            ErrorKind::Malformed,
            state + 4,
            "no valid irq_state after a 256- or 4096-byte config",
        ))
    }
}
