//! Little-endian reads from byte slices (config space is little-endian, as QEMU's
//! `pci_get_word` / `pci_get_long` read it), for code that holds raw bytes rather than a
//! [`ConfigSpace`](crate::ConfigSpace): physical configs, saved images, stream buffers.
//!
//! Every read is bounds-checked. The `*_at` functions return `None` when the bytes are not all
//! there; [`word`] and [`long`] return 0 instead, for callers whose offsets come from a layout
//! they have already validated.
//!
//! ```
//! use pcimig_config::le;
//! let b = [0x86, 0x80, 0x0e, 0x10];
//! assert_eq!(le::u16_at(&b, 0), Some(0x8086));
//! assert_eq!(le::u32_at(&b, 0), Some(0x100e_8086));
//! assert_eq!(le::u16_at(&b, 3), None);
//! assert_eq!(le::word(&b, 3), 0);
//! assert_eq!(le::uint_at(&b, 1, 3), Some(0x10_0e80));
//! ```

/// The `N` bytes at `off`, if they are all in `b`.
fn array_at<const N: usize>(b: &[u8], off: usize) -> Option<[u8; N]> {
    b.get(off..off.checked_add(N)?)?.try_into().ok()
}

/// The byte at `off`.
pub fn u8_at(b: &[u8], off: usize) -> Option<u8> {
    b.get(off).copied()
}

/// The little-endian 16-bit value at `off`.
pub fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    array_at(b, off).map(u16::from_le_bytes)
}

/// The little-endian 32-bit value at `off`.
pub fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    array_at(b, off).map(u32::from_le_bytes)
}

/// The little-endian 64-bit value at `off`.
pub fn u64_at(b: &[u8], off: usize) -> Option<u64> {
    array_at(b, off).map(u64::from_le_bytes)
}

/// The little-endian value of the `len` bytes (0..=8) at `off`; `None` when they are not all
/// in `b` or `len` is more than 8.
pub fn uint_at(b: &[u8], off: usize, len: usize) -> Option<u64> {
    if len > 8 {
        return None;
    }
    let bytes = b.get(off..off.checked_add(len)?)?;
    Some(bytes.iter().rev().fold(0u64, |v, &x| (v << 8) | u64::from(x)))
}

/// QEMU's `pci_get_word` on a byte slice: the 16-bit value at `off`, or 0 when it is not all in
/// `b`.
pub fn word(b: &[u8], off: usize) -> u16 {
    u16_at(b, off).unwrap_or(0)
}

/// QEMU's `pci_get_long` on a byte slice: the 32-bit value at `off`, or 0 when it is not all in
/// `b`.
pub fn long(b: &[u8], off: usize) -> u32 {
    u32_at(b, off).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_little_endian_and_bounds_checked() {
        let b = [1u8, 2, 3, 4, 5, 6, 7, 8, 9];
        assert_eq!(u8_at(&b, 8), Some(9));
        assert_eq!(u8_at(&b, 9), None);
        assert_eq!(u16_at(&b, 7), Some(0x0908));
        assert_eq!(u16_at(&b, 8), None);
        assert_eq!(u32_at(&b, 5), Some(0x0908_0706));
        assert_eq!(u32_at(&b, 6), None);
        assert_eq!(u64_at(&b, 1), Some(0x0908_0706_0504_0302));
        assert_eq!(u64_at(&b, 2), None);
        assert_eq!(uint_at(&b, 0, 3), Some(0x03_0201));
        assert_eq!(uint_at(&b, 0, 0), Some(0));
        assert_eq!(uint_at(&b, 0, 9), None);
        assert_eq!(uint_at(&b, usize::MAX, 2), None);
        assert_eq!(u16_at(&b, usize::MAX), None);
        assert_eq!(word(&b, 8), 0);
        assert_eq!(long(&b, 0), 0x0403_0201);
    }
}
