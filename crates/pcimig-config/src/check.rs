//! The restore check: QEMU's get_pci_config_device, reporting every mismatch instead of the
//! first.
//!
//! A byte fails where `(saved ^ device.config) & cmask & !wmask & !w1cmask != 0`, compared in
//! increasing offset order. QEMU stops at the first failing byte and prints it; we keep going so
//! a report can explain all of them, and render the first exactly as QEMU does.

use crate::error::ConfigError;
use crate::names::Location;
use crate::space::{ConfigSpace, Exemption};

/// One byte where the saved image and the device differ in checked bits.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Mismatch {
    /// Config offset.
    pub offset: usize,
    /// The incoming (saved) byte: QEMU's `read:`.
    pub saved: u8,
    /// The destination device's byte: QEMU's `device:`.
    pub device: u8,
    /// Destination cmask.
    pub cmask: u8,
    /// Destination wmask.
    pub wmask: u8,
    /// Destination w1cmask.
    pub w1cmask: u8,
    /// Register / capability location of the byte in the destination device (serialized as
    /// its `register` and `capability` keys).
    #[cfg_attr(feature = "serde", serde(flatten))]
    pub location: Location,
}

impl Mismatch {
    /// The bits that differ and are checked.
    pub fn bad_bits(&self) -> u8 {
        (self.saved ^ self.device) & self.cmask & !self.wmask & !self.w1cmask
    }

    /// The line QEMU 10.0.2 prints for this byte, after its `qemu-system-x86_64: ` prefix:
    /// `get_pci_config_device: Bad config data: i=0x45 read: 12 device: 34 cmask: ff wmask: 0 w1cmask:0`
    /// (lower-case hex, no padding, no space after `w1cmask:`).
    pub fn qemu_line(&self) -> String {
        format!(
            "get_pci_config_device: Bad config data: i=0x{:x} read: {:x} device: {:x} cmask: {:x} wmask: {:x} w1cmask:{:x}",
            self.offset, self.saved, self.device, self.cmask, self.wmask, self.w1cmask
        )
    }
}

/// Result of [`restore_check`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CheckReport {
    /// Size of the compared spaces.
    pub size: usize,
    /// Bytes of the device with any checked bit (`cmask & !wmask & !w1cmask != 0`).
    pub checked_bytes: usize,
    /// Every failing byte in offset order; QEMU reports only the first.
    pub mismatches: Vec<Mismatch>,
    /// Ranges a policy exempted from the check on this device.
    pub exemptions: Vec<Exemption>,
}

impl CheckReport {
    /// The restore would be accepted.
    pub fn passed(&self) -> bool {
        self.mismatches.is_empty()
    }

    /// The byte QEMU would report.
    pub fn first(&self) -> Option<&Mismatch> {
        self.mismatches.first()
    }

    /// QEMU's line for the first failing byte, or `None` when the restore passes.
    pub fn qemu_line(&self) -> Option<String> {
        self.first().map(Mismatch::qemu_line)
    }
}

/// Bytes per block of the scan (one bit of the device's block summary).
const BLOCK: usize = crate::space::CHECK_BLOCK;
/// Bytes compared at once with a slice compare before the masked scan of their blocks.
const SEGMENT: usize = 256;
/// Bytes compared at once before the segments of a differing span are looked at.
const QUARTER: usize = 1024;
/// Width of the accumulator: one SSE2 register, the baseline x86-64 vector.
const LANES: usize = 16;

/// Offsets of every failing byte, without building locations: the hot path.
///
/// See [`scan`] for how it stays within a small factor of a plain compare.
pub fn failing_offsets(saved: &[u8], device: &ConfigSpace) -> Result<Vec<usize>, ConfigError> {
    let mut out = Vec::new();
    scan(saved, device, |i| {
        out.push(i);
        true
    })?;
    Ok(out)
}

/// The first failing offset, as QEMU reports it (`None`: the restore passes).
pub fn first_failing_offset(saved: &[u8], device: &ConfigSpace) -> Result<Option<usize>, ConfigError> {
    let mut first = None;
    scan(saved, device, |i| {
        first = Some(i);
        false
    })?;
    Ok(first)
}

/// Whether `(s ^ c) & k` has a set bit. Written as an element-wise loop over fixed-size arrays
/// and a reduction over 16-byte lanes, which the compiler turns into straight-line vector code
/// (SSE2 on baseline x86-64). (Accumulating into one 16-byte array instead, or reducing through
/// two u64 words, makes it fall back to scalar code.)
#[inline(always)]
fn any_bad(s: &[u8; BLOCK], c: &[u8; BLOCK], k: &[u8; BLOCK]) -> bool {
    let mut diff = [0u8; BLOCK];
    for (((d, s), c), k) in diff.iter_mut().zip(s).zip(c).zip(k) {
        *d = (s ^ c) & k;
    }
    diff.chunks_exact(LANES).fold(0u128, |a, l| {
        a | u128::from_ne_bytes(l.try_into().expect("16-byte lane"))
    }) != 0
}

/// The block of `a` at `base` as a fixed-size array reference (no copy, no bounds checks inside).
fn block(a: &[u8], base: usize) -> &[u8; BLOCK] {
    a[base..base + BLOCK].try_into().expect("blocks lie inside the space")
}

/// Call `on_fail` with each failing offset in increasing order until it returns false.
///
/// Only checked bytes that differ can fail. The device keeps a `u64` summary of which 64-byte
/// blocks have a checked bit, and the scan picks one of two strategies from it:
/// - **sparse** (at most half the blocks checked, the usual emulated device): only the checked
///   blocks are visited, with a masked compare per block ([`scan_blocks`]), so unchecked bytes
///   are never read;
/// - **dense** (e.g. a vfio device whose capabilities run to the end of the space): images are
///   mostly identical, so slice compares (memcmp/bcmp, which the C library runs with the widest
///   vectors the CPU has) find the differing 256-byte segments, only the checked blocks of those
///   get the masked compare, and after each differing segment one compare of the rest ends the
///   scan when nothing else differs.
fn scan(saved: &[u8], device: &ConfigSpace, mut on_fail: impl FnMut(usize) -> bool) -> Result<(), ConfigError> {
    if saved.len() != device.size() {
        return Err(ConfigError::SizeMismatch {
            saved: saved.len(),
            device: device.size(),
        });
    }
    let (cfg, chk) = (device.config(), device.checked());
    let blocks = device.checked_blocks();
    if blocks.count_ones() as usize * BLOCK * 2 <= saved.len() {
        scan_blocks(saved, cfg, chk, blocks, &mut on_fail);
        return Ok(());
    }
    let mut start = 0;
    while start < saved.len() {
        // Equal spans are skipped a quarter of the space at a time (few calls of a wide compare),
        // then the differing quarter a segment at a time.
        let quarter = start..(start + QUARTER).min(saved.len());
        if saved[quarter.clone()] == cfg[quarter.clone()] {
            start = quarter.end;
            continue;
        }
        let mut seg = quarter.start;
        while seg < quarter.end {
            let range = seg..(seg + SEGMENT).min(quarter.end);
            seg = range.end;
            if saved[range.clone()] == cfg[range.clone()] {
                continue;
            }
            let in_seg = blocks & segment_blocks(range.clone());
            if !scan_blocks(saved, cfg, chk, in_seg, &mut on_fail) {
                return Ok(());
            }
            // Differences cluster (header, MSI/MSI-X); settle the rest with one compare if it
            // is identical.
            if saved[range.end..] == cfg[range.end..] {
                return Ok(());
            }
        }
        start = quarter.end;
    }
    Ok(())
}

/// The block-summary bits of the blocks in `range` (64-byte aligned).
fn segment_blocks(range: std::ops::Range<usize>) -> u64 {
    let n = range.len().div_ceil(BLOCK);
    let bits = if n >= 64 { u64::MAX } else { (1u64 << n) - 1 };
    bits << (range.start / BLOCK)
}

/// The masked compare over the blocks set in `blocks`, in increasing order. Returns false when
/// `on_fail` asked to stop.
fn scan_blocks(saved: &[u8], cfg: &[u8], chk: &[u8], mut blocks: u64, on_fail: &mut impl FnMut(usize) -> bool) -> bool {
    while blocks != 0 {
        let base = blocks.trailing_zeros() as usize * BLOCK;
        blocks &= blocks - 1;
        let (s, c, k) = (block(saved, base), block(cfg, base), block(chk, base));
        if !any_bad(s, c, k) {
            continue;
        }
        // The failing bytes of the block, eight at a time: a word's set bytes in order.
        for w in 0..BLOCK / 8 {
            let word = |a: &[u8; BLOCK]| u64::from_le_bytes(a[w * 8..w * 8 + 8].try_into().expect("8 bytes"));
            let mut bad = (word(s) ^ word(c)) & word(k);
            while bad != 0 {
                let j = w * 8 + bad.trailing_zeros() as usize / 8;
                if !on_fail(base + j) {
                    return false;
                }
                bad &= !(0xffu64 << ((j % 8) * 8));
            }
        }
    }
    true
}

/// Compare a saved config image (from a migration) with the destination `device`, as QEMU's
/// get_pci_config_device does, and report every failing byte with its location. A saved image
/// whose size differs from the device's is refused.
pub fn restore_check(saved: &[u8], device: &ConfigSpace) -> Result<CheckReport, ConfigError> {
    let offsets = failing_offsets(saved, device)?;
    let mismatches = offsets
        .into_iter()
        .map(|i| Mismatch {
            offset: i,
            saved: saved[i],
            device: device.config()[i],
            cmask: device.cmask()[i],
            wmask: device.wmask()[i],
            w1cmask: device.w1cmask()[i],
            location: device.locate(i),
        })
        .collect();
    Ok(CheckReport {
        size: device.size(),
        checked_bytes: device.checked_bytes(),
        mismatches,
        exemptions: device.exemptions().to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::{DeviceIdentity, DeviceParams, HeaderKind};
    use crate::space::{Array, ConfigSize};

    fn dev() -> ConfigSpace {
        ConfigSpace::new_device(&DeviceParams {
            size: ConfigSize::Conventional,
            header: HeaderKind::Type0,
            identity: DeviceIdentity {
                vendor_id: 0x8086,
                device_id: 0x100e,
                class_id: 0x0200,
                ..Default::default()
            },
            multifunction: false,
        })
    }

    #[test]
    fn qemu_line_has_qemu_spacing_and_no_padding() {
        let m = Mismatch {
            offset: 0x45,
            saved: 0x12,
            device: 0x34,
            cmask: 0xff,
            wmask: 0,
            w1cmask: 0,
            location: Location {
                register: String::new(),
                capability: None,
            },
        };
        assert_eq!(
            m.qemu_line(),
            "get_pci_config_device: Bad config data: i=0x45 read: 12 device: 34 cmask: ff wmask: 0 w1cmask:0"
        );
    }

    #[test]
    fn reports_all_mismatches_in_order_and_qemu_line_for_the_first() {
        let d = dev();
        let mut saved = d.config().to_vec();
        saved[0x02] = 0x0c; // device ID: checked
        saved[0x2c] = 0x00; // subsystem vendor: not checked (TV8)
        saved[0x07] = 0x00; // status high: W1C, not checked (TV8)
        saved[0x06] = 0x10; // cap list bit: checked (device has 0)
        saved[0x0e] = 0x80; // header type
        let r = restore_check(&saved, &d).unwrap();
        let offs: Vec<_> = r.mismatches.iter().map(|m| m.offset).collect();
        assert_eq!(offs, vec![0x02, 0x06, 0x0e]);
        assert_eq!(
            r.qemu_line().unwrap(),
            "get_pci_config_device: Bad config data: i=0x2 read: c device: e cmask: ff wmask: 0 w1cmask:0"
        );
        assert_eq!(
            r.mismatches[1].qemu_line(),
            "get_pci_config_device: Bad config data: i=0x6 read: 10 device: 0 cmask: 10 wmask: 0 w1cmask:0"
        );
        assert_eq!(r.mismatches[0].location.register, "Device ID");
        assert_eq!(first_failing_offset(&saved, &d).unwrap(), Some(2));
        assert!(!r.passed());
    }

    #[test]
    fn size_mismatch_is_refused() {
        let d = dev();
        let e = restore_check(&[0u8; 4096], &d).unwrap_err();
        assert!(matches!(
            e,
            ConfigError::SizeMismatch {
                saved: 4096,
                device: 256
            }
        ));
        assert!(e
            .to_string()
            .contains("4096-byte image cannot be restored into a 256-byte"));
    }

    #[test]
    fn checked_bytes_counts_bytes_with_any_checked_bit() {
        let mut d = dev();
        // Header: 0..4 IDs, 0x06 (cap bit), 0x08..0x0c, 0x0e, 0x34 = 4 + 1 + 4 + 1 + 1 = 11
        assert_eq!(restore_check(d.config(), &d).unwrap().checked_bytes, 11);
        d.exempt(0x00..0x02, crate::ExemptPolicy::SkipVscCheck, "test").unwrap();
        let r = restore_check(d.config(), &d).unwrap();
        assert_eq!(r.checked_bytes, 9);
        assert_eq!(r.exemptions.len(), 1);
        d.set_le(Array::Wmask, 0x02, 1, 0xff).unwrap();
        assert_eq!(restore_check(d.config(), &d).unwrap().checked_bytes, 8);
    }
}
