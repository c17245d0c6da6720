//! # pcimig-testkit
//!
//! Test fixtures shared by pcimig's crates (a dev-dependency only, never published): [`Phys`],
//! a builder of physical config spaces with named capabilities, linked in the order they are
//! added; [`Rng`], a deterministic generator for tests that make many inputs.
//!
//! ```
//! use pcimig_config::{CapId, ExtCapId};
//! use pcimig_testkit::Phys;
//! let p = Phys::new(4096)
//!     .cap(0x40, CapId::Vndr, &[0x14])
//!     .cap(0x60, CapId::Exp, &[0x02, 0x00])
//!     .ext(0x100, ExtCapId::Dsn, 1, &[1, 2, 3, 4, 5, 6, 7, 8])
//!     .build();
//! assert_eq!((p[0x34], p[0x40], p[0x41], p[0x42]), (0x40, 0x09, 0x60, 0x14));
//! assert_eq!(p[0x61], 0);
//! assert_eq!(&p[0x100..0x104], &[0x03, 0x00, 0x01, 0x00]);
//! ```
#![deny(missing_docs)]

use pcimig_config::regs::*;
use pcimig_config::{CapId, ExtCapId};

/// The identity every fixture starts with: NVIDIA 10de:2330 (an H100), class 0x0302 (3D
/// controller), header type 0.
pub const VENDOR_DEVICE: [u8; 4] = [0xde, 0x10, 0x30, 0x23];
/// Sub-class of the fixture (3D controller).
pub const CLASS_SUB: u8 = 0x02;
/// Base class of the fixture (display).
pub const CLASS_BASE: u8 = PCI_BASE_CLASS_DISPLAY;

/// A physical type 0 config space under construction. Standard capabilities are linked in the
/// order [`Phys::cap`] adds them (the first one from 0x34, with Status CAP_LIST set), extended
/// ones in the order [`Phys::ext`] adds them; [`Phys::next`] and [`Phys::bytes`] break the rules
/// where a test needs a broken chain.
#[derive(Debug, Clone)]
pub struct Phys {
    config: Vec<u8>,
    last_std: Option<usize>,
    last_ext: Option<usize>,
}

impl Phys {
    /// A `size`-byte config (256 or 4096, or any length a test needs) of 10de:2330, class
    /// 0x0302, with no capabilities.
    pub fn new(size: usize) -> Self {
        let mut config = vec![0u8; size];
        config[PCI_VENDOR_ID..PCI_VENDOR_ID + 4].copy_from_slice(&VENDOR_DEVICE);
        config[PCI_CLASS_DEVICE] = CLASS_SUB;
        config[PCI_CLASS_DEVICE + 1] = CLASS_BASE;
        Phys {
            config,
            last_std: None,
            last_ext: None,
        }
    }

    /// Add a standard capability `id` at `offset` with `payload` from offset + 2 (after the ID
    /// and next bytes), linked after the previous one (its next pointer 0 until another follows).
    pub fn cap(self, offset: usize, id: CapId, payload: &[u8]) -> Self {
        self.cap_raw(offset, id.value(), payload)
    }

    /// [`Phys::cap`] with a raw ID byte (for IDs no [`CapId`] names, e.g. 0xff).
    pub fn cap_raw(mut self, offset: usize, id: u8, payload: &[u8]) -> Self {
        match self.last_std {
            None => {
                self.config[PCI_STATUS] |= PCI_STATUS_CAP_LIST as u8;
                self.config[PCI_CAPABILITY_LIST] = offset as u8;
            }
            Some(prev) => self.config[prev + PCI_CAP_LIST_NEXT] = offset as u8,
        }
        self.config[offset + PCI_CAP_LIST_ID] = id;
        self.config[offset + PCI_CAP_LIST_NEXT] = 0;
        let start = offset + PCI_CAP_FLAGS;
        self.config[start..start + payload.len()].copy_from_slice(payload);
        self.last_std = Some(offset);
        self
    }

    /// Overwrite the next pointer of the standard capability at `offset` (loops, pointers into
    /// the header).
    pub fn next(mut self, offset: usize, to: u8) -> Self {
        self.config[offset + PCI_CAP_LIST_NEXT] = to;
        self
    }

    /// Add an extended capability `id` (version `version`) at `offset` with `data` after its
    /// 4-byte header, linked after the previous one (its next pointer 0 until another follows).
    pub fn ext(self, offset: usize, id: ExtCapId, version: u8, data: &[u8]) -> Self {
        self.ext_raw(offset, id.value(), version, data)
    }

    /// [`Phys::ext`] with a raw 16-bit ID.
    pub fn ext_raw(mut self, offset: usize, id: u16, version: u8, data: &[u8]) -> Self {
        if let Some(prev) = self.last_ext {
            let header = le_u32(&self.config, prev) & PCI_EXT_CAP_ID_VER_MASK;
            self.put_u32(prev, header | pci_ext_cap(0, 0, offset));
        }
        self.put_u32(offset, pci_ext_cap(id, version, 0));
        let start = offset + PCI_EXT_CAP_HEADER_SIZEOF;
        self.config[start..start + data.len()].copy_from_slice(data);
        self.last_ext = Some(offset);
        self
    }

    /// Write raw bytes at `offset` (BARs, IDs, anything the builder does not name).
    pub fn bytes(mut self, offset: usize, bytes: &[u8]) -> Self {
        self.config[offset..offset + bytes.len()].copy_from_slice(bytes);
        self
    }

    /// The config bytes.
    pub fn build(self) -> Vec<u8> {
        self.config
    }

    fn put_u32(&mut self, offset: usize, v: u32) {
        self.config[offset..offset + 4].copy_from_slice(&v.to_le_bytes());
    }
}

fn le_u32(b: &[u8], offset: usize) -> u32 {
    pcimig_config::le::long(b, offset)
}

/// A small deterministic generator (xorshift64): tests that make many inputs make the same ones
/// on every run.
pub struct Rng(u64);

impl Rng {
    /// A generator started from `seed` (0 is replaced: xorshift never leaves 0).
    pub fn new(seed: u64) -> Self {
        Rng(if seed == 0 { 0x9e37_79b9_7f4a_7c15 } else { seed })
    }

    /// The next 64 bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}
