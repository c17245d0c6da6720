//! Shared by the `show_*` tests and the `show` bench: config spaces generated with the
//! pcimig-config model, `lspci -xxxx`-style text writing, and locating `../shared` and `lspci`.
#![allow(dead_code)]

use pcimig_config::presets::{MsixLayout, PcieCapOptions};
use pcimig_config::regs::*;
use pcimig_config::{
    Array, CapId, ConfigSize, ConfigSpace, DeviceIdentity, DeviceParams, ExtCapId, HeaderKind, Preset,
};
use std::path::PathBuf;

/// A small deterministic PRNG (xorshift64*), so generated sets are the same on every run.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            v.swap(i, j);
        }
    }
}

/// What a generated config is meant to exercise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Built with the model's QEMU presets (PM, MSI, PCIe, MSI-X, AER, ATS, ACS, ARI, DSN …).
    Presets,
    /// Random capability IDs (every standard and extended ID, and unknown ones) in random order,
    /// with garbage in the low pointer bits.
    Random,
    /// A chain with a defect: loop, ID 0xff, pointer into the header, ext pointer below 0x100.
    Malformed,
}

fn set(s: &mut ConfigSpace, off: usize, len: usize, v: u64) {
    s.set_le(Array::Config, off, len, v).expect("in range");
}

fn fill_random(rng: &mut Rng, s: &mut ConfigSpace, start: usize, end: usize) {
    for o in start..end {
        set(s, o, 1, rng.below(256));
    }
}

/// A generated config space (256 or 4096 bytes).
pub fn generate(rng: &mut Rng, shape: Shape) -> Vec<u8> {
    match shape {
        Shape::Presets => presets(rng),
        Shape::Random => random_chain(rng, false),
        Shape::Malformed => random_chain(rng, true),
    }
}

fn presets(rng: &mut Rng) -> Vec<u8> {
    let express = rng.chance(80);
    let header = if rng.chance(20) {
        HeaderKind::Type1
    } else {
        HeaderKind::Type0
    };
    let mut s = ConfigSpace::new_device(&DeviceParams {
        size: if express {
            ConfigSize::Express
        } else {
            ConfigSize::Conventional
        },
        header,
        identity: DeviceIdentity {
            vendor_id: [0x8086, 0x10de, 0x1af4, 0x15b3, 0x1234][rng.below(5) as usize],
            device_id: rng.below(0x10000) as u16,
            class_id: [0x0200, 0x0302, 0x0108, 0x0604, 0x0c03][rng.below(5) as usize],
            revision: rng.below(256) as u8,
            ..Default::default()
        },
        multifunction: rng.chance(10),
    });
    // Add order decides chain order (each add goes to the head of the list).
    let mut steps: Vec<u8> = vec![0, 1, 2, 3, 4];
    rng.shuffle(&mut steps);
    for step in steps {
        let _ = match step {
            0 => s.pm_init(0, rng.chance(50)).map(|_| ()),
            1 => s
                .msi_init(0, 1 << rng.below(6), rng.chance(50), rng.chance(50))
                .map(|_| ()),
            2 if express => {
                let t = [0u8, 0, 4, 6, 9][rng.below(5) as usize];
                s.pcie_cap_init(0, t, rng.below(8) as u8, &PcieCapOptions::default())
                    .map(|_| ())
            }
            3 => {
                let n = 1 + rng.below(64) as u16;
                let layout = MsixLayout {
                    nentries: n,
                    table_bar: 0,
                    table_offset: 0,
                    pba_bar: 0,
                    pba_offset: 0x800,
                    bar_sizes: None,
                };
                s.msix_init(0, &layout).map(|_| ())
            }
            4 => s.ssvid_init(0, 0x1af4, rng.below(0x10000) as u16).map(|_| ()),
            _ => Ok(()),
        };
    }
    if express && s.exp_cap().is_some() {
        // Extended capabilities at 0x100 upwards, in a shuffled order of placement.
        let mut ext: Vec<u8> = vec![0, 1, 2, 3, 4, 5];
        rng.shuffle(&mut ext);
        let mut off = 0x100;
        for e in ext {
            if rng.chance(30) {
                continue;
            }
            let r = match e {
                0 => s.aer_init(2, off, 0x48, 1, false).map(|_| 0x48),
                1 => s.dsn_init(off, rng.next()).map(|_| 0xc),
                2 => s.ats_init(off, rng.chance(50)).map(|_| 8),
                3 => s.acs_init(off, rng.chance(50)).map(|_| 8),
                4 => s.ari_init(off, rng.chance(50)).map(|_| 8),
                _ => s
                    .add_ext_capability(ExtCapId::Vndr, 1, off, 0x18, Preset::PcieAddCapability)
                    .map(|_| 0x18),
            };
            if let Ok(size) = r {
                off += size;
                off = off.next_multiple_of(4);
            }
        }
    }
    s.config().to_vec()
}

/// Standard IDs to draw from: every ID pciutils knows, plus unknown ones.
const STD_IDS: &[u8] = &[
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12,
    0x13, 0x14, 0x15, 0x16, 0x20, 0x7f, 0xfe,
];

fn random_chain(rng: &mut Rng, malformed: bool) -> Vec<u8> {
    let express = rng.chance(85);
    let mut s = ConfigSpace::zeroed(if express {
        ConfigSize::Express
    } else {
        ConfigSize::Conventional
    });
    let htype = random_header(rng, &mut s);
    let order = random_std_chain(rng, &mut s, express, malformed, htype);
    let ext_order = if express {
        random_ext_chain(rng, &mut s)
    } else {
        Vec::new()
    };
    if malformed {
        break_chain(rng, &mut s, express, &order, &ext_order);
    }
    s.config().to_vec()
}

/// Random IDs, class and header type (0 mostly, sometimes a bridge or CardBus), Status with
/// the capability-list bit; returns the header type.
fn random_header(rng: &mut Rng, s: &mut ConfigSpace) -> u8 {
    set(
        s,
        PCI_VENDOR_ID,
        2,
        [0x8086, 0x10de, 0x1af4, 0x1022][rng.below(4) as usize],
    );
    set(s, PCI_DEVICE_ID, 2, rng.below(0x10000));
    set(s, PCI_REVISION_ID, 4, rng.below(1 << 32) & 0xffff_ff00 | 0x01);
    let htype = match rng.below(20) {
        0..=15 => PCI_HEADER_TYPE_NORMAL,
        16..=18 => PCI_HEADER_TYPE_BRIDGE,
        _ => PCI_HEADER_TYPE_CARDBUS,
    };
    let multi = if rng.chance(10) {
        PCI_HEADER_TYPE_MULTI_FUNCTION
    } else {
        0
    };
    set(s, PCI_HEADER_TYPE, 1, u64::from(htype | multi));
    set(s, PCI_STATUS, 2, u64::from(PCI_STATUS_CAP_LIST));
    htype
}

/// Standard caps: slots of 16 bytes in 0x40..0x100, random IDs, random order, garbage in the
/// low pointer bits; returns the chain order.
fn random_std_chain(rng: &mut Rng, s: &mut ConfigSpace, express: bool, malformed: bool, htype: u8) -> Vec<usize> {
    let mut slots: Vec<usize> = (PCI_CONFIG_HEADER_SIZE..PCI_CONFIG_SPACE_SIZE).step_by(16).collect();
    rng.shuffle(&mut slots);
    let n = 1 + rng.below(slots.len() as u64) as usize;
    let mut order: Vec<usize> = slots[..n].to_vec();
    if express && !malformed {
        // Make sure most Express devices carry the PCIe capability somewhere in the chain.
        order.sort_unstable_by_key(|_| rng.next());
    }
    let mut ids: Vec<u8> = (0..n)
        .map(|_| STD_IDS[rng.below(STD_IDS.len() as u64) as usize])
        .collect();
    if express && rng.chance(85) {
        let i = rng.below(n as u64) as usize;
        ids[i] = CapId::Exp.value();
    }
    for (i, &off) in order.iter().enumerate() {
        fill_random(rng, s, off + PCI_CAP_FLAGS, off + 16);
        if ids[i] == CapId::Exp.value() {
            set(
                s,
                off + PCI_EXP_FLAGS,
                2,
                u64::from(PCI_EXP_FLAGS_VER2) | (rng.below(11) << PCI_EXP_FLAGS_TYPE_SHIFT),
            );
        }
        if ids[i] == CapId::Ea.value() {
            // Enhanced Allocation with no entries: pciutils 3.9's EA decoder reads entries past
            // the bytes it fetched ("Internal bug: Accessing non-read configuration byte").
            set(s, off + PCI_CAP_FLAGS, 2, 0);
        }
        set(s, off + PCI_CAP_LIST_ID, 1, u64::from(ids[i]));
        let next = order.get(i + 1).copied().unwrap_or(0);
        let garbage = if next != 0 { rng.below(4) as usize } else { 0 };
        set(s, off + PCI_CAP_LIST_NEXT, 1, (next | garbage) as u64);
    }
    let cap_ptr = if htype == PCI_HEADER_TYPE_CARDBUS {
        PCI_CB_CAPABILITY_LIST
    } else {
        PCI_CAPABILITY_LIST
    };
    let garbage = rng.below(4) as usize;
    set(s, cap_ptr, 1, (order[0] | garbage) as u64);
    if htype == PCI_HEADER_TYPE_CARDBUS {
        // CardBus needs 0x34 to be something else; leave random bytes.
        set(s, PCI_CAPABILITY_LIST, 1, rng.below(256));
    }
    order
}

/// Extended caps: slots of 64 bytes from 0x100, most chains starting at 0x100, random IDs
/// (known, unknown, 0) and versions; returns the chain order.
fn random_ext_chain(rng: &mut Rng, s: &mut ConfigSpace) -> Vec<usize> {
    let mut eslots: Vec<usize> = (PCI_CONFIG_SPACE_SIZE..PCIE_CONFIG_SPACE_SIZE).step_by(64).collect();
    rng.shuffle(&mut eslots);
    let m = rng.below(eslots.len() as u64 + 1) as usize;
    let mut ext_order = eslots[..m].to_vec();
    if !ext_order.is_empty() && ext_order[0] != PCI_CONFIG_SPACE_SIZE && rng.chance(80) {
        ext_order.insert(0, PCI_CONFIG_SPACE_SIZE);
        ext_order.dedup();
        let mut seen = std::collections::HashSet::new();
        ext_order.retain(|o| seen.insert(*o));
    }
    for (i, &off) in ext_order.iter().enumerate() {
        fill_random(rng, s, off + PCI_EXT_CAP_HEADER_SIZEOF, off + 64);
        let id = match rng.below(10) {
            0 => 0x0040 + rng.below(0x100),
            1 => 0,
            _ => rng.below(0x32),
        };
        let next = ext_order.get(i + 1).copied().unwrap_or(0);
        let header = id | (rng.below(16) << PCI_EXT_CAP_VER_SHIFT) | ((next as u64) << PCI_EXT_CAP_NEXT_SHIFT);
        set(
            s,
            off,
            4,
            if header == 0 || header == 0xffff_ffff {
                1
            } else {
                header
            },
        );
    }
    if ext_order.first() != Some(&PCI_CONFIG_SPACE_SIZE) && rng.chance(50) {
        set(s, PCI_CONFIG_SPACE_SIZE, 4, 0);
    }
    ext_order
}

/// One defect: a loop, ID 0xff, a pointer into the header, an extended loop or pointer below
/// 0x100, no capability list, or an all-ones extended header / a self-pointing cap.
fn break_chain(rng: &mut Rng, s: &mut ConfigSpace, express: bool, order: &[usize], ext_order: &[usize]) {
    /// The extended header's ID and version bits, with a new next pointer.
    fn relink_ext(s: &mut ConfigSpace, at: usize, next: u64) {
        let h = s.get_le(Array::Config, at, 4).unwrap_or(0) & u64::from(PCI_EXT_CAP_ID_VER_MASK);
        set(s, at, 4, h | (next << PCI_EXT_CAP_NEXT_SHIFT) | 1);
    }
    match rng.below(7) {
        0 => {
            // std loop: last cap points back to one earlier in the chain.
            let last = *order.last().unwrap_or(&PCI_CONFIG_HEADER_SIZE);
            let back = order[rng.below(order.len() as u64) as usize];
            set(s, last + PCI_CAP_LIST_NEXT, 1, back as u64);
        }
        1 => {
            // ID 0xff somewhere in the chain.
            let at = order[rng.below(order.len() as u64) as usize];
            set(s, at + PCI_CAP_LIST_ID, 1, u64::from(PCI_CAP_ID_ABSENT));
        }
        2 => {
            // pointer into the header
            let at = order[rng.below(order.len() as u64) as usize];
            set(s, at + PCI_CAP_LIST_NEXT, 1, PCI_COMMAND as u64 + 4 * rng.below(15));
        }
        3 if express && !ext_order.is_empty() => {
            // ext loop
            let last = *ext_order.last().unwrap_or(&PCI_CONFIG_SPACE_SIZE);
            let back = ext_order[rng.below(ext_order.len() as u64) as usize];
            relink_ext(s, last, back as u64);
        }
        4 if express && !ext_order.is_empty() => {
            // ext pointer below 0x100
            let last = *ext_order.last().unwrap_or(&PCI_CONFIG_SPACE_SIZE);
            relink_ext(s, last, PCI_CONFIG_HEADER_SIZE as u64 + 4 * rng.below(48));
        }
        5 => {
            // Status without the capability-list bit: no capabilities at all.
            set(s, PCI_STATUS, 2, 0);
        }
        _ => {
            // ext header all ones, or a std cap pointing to itself
            if express {
                set(s, PCI_CONFIG_SPACE_SIZE, 4, 0xffff_ffff);
            } else {
                let at = order[0];
                set(s, at + PCI_CAP_LIST_NEXT, 1, at as u64);
            }
        }
    }
}

/// A device's bytes as `lspci -xxxx` (or -xxx for 256 bytes) prints them, with a header line.
pub fn lspci_text(out: &mut String, bdf: &str, bytes: &[u8]) {
    use std::fmt::Write;
    let _ = writeln!(
        out,
        "{bdf} Generated device [{:02x}{:02x}:{:02x}{:02x}]",
        bytes[1], bytes[0], bytes[3], bytes[2]
    );
    for (i, chunk) in bytes.chunks(16).enumerate() {
        let off = i * 16;
        if off < 0x100 {
            let _ = write!(out, "{off:02x}:");
        } else {
            let _ = write!(out, "{off:03x}:");
        }
        for b in chunk {
            let _ = write!(out, " {b:02x}");
        }
        out.push('\n');
    }
    out.push('\n');
}

/// The BDF of the i-th generated device (spread over buses, a few in other domains).
pub fn bdf(i: usize) -> String {
    let domain = if i % 97 == 96 { 1 + (i % 3) } else { 0 };
    format!("{domain:04x}:{:02x}:{:02x}.{}", (i / 256) % 256, (i / 8) % 32, i % 8)
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `../shared/corpus` relative to the repository root, if present.
pub fn shared_corpus() -> Option<PathBuf> {
    let p = repo_root().join("../shared/corpus");
    p.is_dir().then_some(p)
}

/// Whether the real `lspci` is installed.
pub fn have_lspci() -> bool {
    std::process::Command::new("lspci")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A fresh temporary directory for one test.
pub fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("pcimig-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}
