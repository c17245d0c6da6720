//! The vfio-pci path against the real QEMU 10.0.x: `pcimig check` (vfio mode) compared with
//! what QEMU itself decides when a device presented by the VFIO stand-in
//! (`pcimig-vfio-standin`, loaded with `LD_PRELOAD`) migrates from a source presenting the saved
//! image to a destination presenting the destination image.
//!
//! For every case the verdict, the first failing offset and QEMU's line must be equal; a case
//! QEMU does not realize (or where it aborts or hangs) must be one pcimig cannot decide (exit 2).
//! The `known/` cases are the regression cases of issue 10's four fixes (machine reset,
//! Interrupt Pin above 4, extended next below 0x100, standard pointer into the header).
//! Cases: single- and multi-byte changes on the saved and the destination side over the header
//! (IDs, subsystem, BARs, Interrupt Pin …), every standard capability's bytes (PM, MSI, PCIe,
//! MSI-X, VSC header, length and payload) and extended capability headers and bodies; the
//! bundled demo images, the sample dumps and generated configs; slots `pcie-port` and
//! `q35-root`; machine types `pc-q35-9.0`/`9.1`/`10.0`; `skip-vsc-check` on, off and default;
//! BAR sizes given. Skipped (printing `SKIPPED: <reason>`) without QEMU 10.0.x or a C compiler.

use pcimig_testkit::Rng;
use pcimig_vfio::kernel::{present, KernelFacts};
use pcimig_vfio_standin::{harness, Case, Harness, Slot, Verdict};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_pcimig")
}

fn data(rel: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data").join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// BAR sizes of the vGPU-like and H100 images: MSI-X in BAR0 (at 0xb90000), 64-bit BARs.
const H100_BARS: [u64; 6] = [16 << 20, 0, 64 << 30, 0, 32 << 20, 0];
/// BAR sizes of the virtio sample dumps: one 64-bit BAR0 holding the MSI-X table and PBA.
const VIRTIO_BARS: [u64; 6] = [1 << 20, 0, 0, 0, 0, 0];
/// BAR sizes of the generated configs: BAR0 32-bit (MSI-X), BAR1/2 64-bit prefetchable, BAR3 I/O.
const GEN_BARS: [u64; 6] = [64 << 10, 1 << 20, 0, 256, 0, 0];

/// A device image with the BAR sizes it is presented with.
struct Base {
    name: &'static str,
    image: Vec<u8>,
    bars: [u64; 6],
}

fn bases() -> Vec<Base> {
    let s = "samples/h100-firecracker";
    vec![
        Base {
            name: "vgpu-a",
            image: data("demo/vgpu-host-a-r550.bin"),
            bars: H100_BARS,
        },
        Base {
            name: "h100",
            image: data(&format!("{s}/0000:00:06.0.config.bin")),
            bars: H100_BARS,
        },
        Base {
            name: "virtio-net",
            image: data(&format!("{s}/0000:00:03.0.config.bin")),
            bars: VIRTIO_BARS,
        },
        Base {
            name: "virtio-rng",
            image: data(&format!("{s}/0000:00:05.0.config.bin")),
            bars: VIRTIO_BARS,
        },
        Base {
            name: "gen-pcie",
            image: generated(true),
            bars: GEN_BARS,
        },
        Base {
            name: "gen-pci",
            image: generated(false),
            bars: GEN_BARS,
        },
    ]
}

fn put(c: &mut [u8], off: usize, bytes: &[u8]) {
    c[off..off + bytes.len()].copy_from_slice(bytes);
}

/// An extended capability header: ID, version 1, next pointer.
fn ext_header(id: u16, next: u16) -> [u8; 4] {
    (u32::from(id) | 1 << 16 | u32::from(next) << 20).to_le_bytes()
}

/// A generated endpoint: PM 0x40, MSI (64-bit, maskable, 8 vectors) 0x48, PCI Express 0x60
/// (`pcie` only), MSI-X 0xa0 (8 entries in BAR0), VSC 0xb0 (length 0x18); with `pcie`, 4096
/// bytes and AER 0x100, DSN 0x148, VSEC 0x154.
fn generated(pcie: bool) -> Vec<u8> {
    let mut c = vec![0u8; if pcie { 4096 } else { 256 }];
    put(
        &mut c,
        0x00,
        &[0x0f, 0x1d, 0xfe, 0xca, 0x06, 0x04, 0x10, 0x00, 0x01, 0x00, 0x00, 0x02],
    );
    put(
        &mut c,
        0x10,
        &[0x00, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00],
    );
    put(&mut c, 0x1c, &[0x01, 0x00, 0x00, 0x00]);
    put(&mut c, 0x2c, &[0x0f, 0x1d, 0x01, 0x00]);
    c[0x34] = 0x40;
    put(&mut c, 0x3c, &[0xff, 0x01, 0x00, 0x00]);
    put(&mut c, 0x40, &[0x01, 0x48, 0x03, 0x00, 0x08, 0x00, 0x00, 0x00]);
    put(&mut c, 0x48, &[0x05, if pcie { 0x60 } else { 0xa0 }, 0x86, 0x01]);
    if pcie {
        put(
            &mut c,
            0x60,
            &[0x10, 0xa0, 0x02, 0x00, 0x21, 0x80, 0x00, 0x10, 0x10, 0x28],
        );
        put(&mut c, 0x6c, &[0x03, 0x7d, 0x43, 0x00, 0x00, 0x00, 0x13, 0x10]);
        put(&mut c, 0x84, &[0x10, 0x08, 0x07, 0x00]);
    }
    put(
        &mut c,
        0xa0,
        &[0x11, 0xb0, 0x07, 0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x30, 0x00, 0x00],
    );
    put(&mut c, 0xb0, &[0x09, 0x00, 0x18]);
    for (i, b) in c[0xb3..0xc8].iter_mut().enumerate() {
        *b = 0x30 + i as u8;
    }
    if pcie {
        put(&mut c, 0x100, &ext_header(0x0001, 0x148));
        put(&mut c, 0x10c, &[0x30, 0xf0, 0x4e, 0x00]);
        put(&mut c, 0x148, &ext_header(0x0003, 0x154));
        put(&mut c, 0x14c, &[0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88]);
        put(&mut c, 0x154, &ext_header(0x000b, 0));
        put(&mut c, 0x158, &[0x01, 0x00, 0x41, 0x01, 0xaa, 0xbb, 0xcc, 0xdd]);
    }
    c
}

/// A standard capability's length as QEMU sizes the ones it knows; others: up to 8 bytes.
fn std_cap_len(c: &[u8], pos: usize) -> usize {
    match c[pos] {
        0x01 => 8,
        0x05 => {
            let flags = u16::from_le_bytes([c[pos + 2], c[pos + 3]]);
            10 + if flags & 0x80 != 0 { 4 } else { 0 } + if flags & 0x100 != 0 { 10 } else { 0 }
        }
        0x10 => 0x3c,
        0x11 => 12,
        0x09 => usize::from(c[pos + 2]).clamp(3, 24),
        _ => 8,
    }
}

/// Offsets worth changing: header registers, every standard capability's bytes (as far as its
/// length, at most 24), extended capability headers and their first 8 body bytes.
fn interesting_offsets(c: &[u8]) -> Vec<usize> {
    let mut v: Vec<usize> = vec![
        0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x13,
        0x14, 0x18, 0x1c, 0x20, 0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x34, 0x3c, 0x3d, 0x3e, 0x3f,
    ];
    let (mut pos, mut seen) = (usize::from(c[0x34]), 0);
    while (0x40..0xff).contains(&pos) && seen < 48 {
        v.extend(pos..(pos + std_cap_len(c, pos)).min(256));
        pos = usize::from(c[pos + 1]) & !3;
        seen += 1;
    }
    let mut pos = 0x100;
    while c.len() == 4096 && (0x100..0xffc).contains(&pos) && seen < 96 {
        v.extend(pos..(pos + 12).min(4096));
        pos = (u32::from_le_bytes([c[pos], c[pos + 1], c[pos + 2], c[pos + 3]]) >> 20) as usize & !3;
        seen += 1;
    }
    v.sort_unstable();
    v.dedup();
    v
}

/// Machine type, `skip-vsc-check` (None: the default) and slot: the 18 combinations.
fn combos() -> Vec<(&'static str, Option<&'static str>, Slot)> {
    let mut v = Vec::new();
    for m in ["pc-q35-9.0", "pc-q35-9.1", "pc-q35-10.0"] {
        for s in [None, Some("on"), Some("off")] {
            for slot in [Slot::PciePort, Slot::Q35Root] {
                v.push((m, s, slot));
            }
        }
    }
    v
}

/// One differential case: a name saying what changed, and the harness's case.
struct DiffCase {
    name: String,
    case: Case,
    /// For a case presented through the kernel's layer: the raw (physical) saved and destination
    /// images pcimig reads with `--kernel-layer on`, while the stand-in serves QEMU their views.
    raw: Option<(Vec<u8>, Vec<u8>)>,
}

fn make_case(name: String, base: &Base, saved: Vec<u8>, dest: Vec<u8>, combo: usize) -> DiffCase {
    let (machine, skip, slot) = combos()[combo % 18];
    let props = skip
        .map(|s| vec![("skip-vsc-check".to_string(), s.to_string())])
        .unwrap_or_default();
    let skip_name = skip.unwrap_or("default");
    DiffCase {
        name: format!("{name} [{machine} skip-vsc-check={skip_name} {}]", slot.name()),
        case: Case {
            saved,
            dest,
            bars: base.bars,
            rom: 0,
            machine: machine.into(),
            props,
            slot,
        },
        raw: None,
    }
}

/// Every fifth case again, presented through pcimig's model of the host kernel's vfio-pci
/// layer: the stand-in serves QEMU the layer's view of each image (what the kernel would
/// present), pcimig reads the raw images with `--kernel-layer on`. Cases where the layer
/// refuses an image (the kernel would not open the device, so QEMU never sees it) are left out.
fn kernel_layer_cases(plain: &[DiffCase], out: &mut Vec<DiffCase>) {
    for dc in plain.iter().step_by(5) {
        let facts = KernelFacts {
            bar_sizes: Some(dc.case.bars.map(Some)),
            rom_size: Some(dc.case.rom),
            ..KernelFacts::default()
        };
        let (Ok(saved), Ok(dest)) = (present(&dc.case.saved, &facts), present(&dc.case.dest, &facts)) else {
            continue;
        };
        let mut case = dc.case.clone();
        case.saved = saved.config;
        case.dest = dest.config;
        out.push(DiffCase {
            name: format!("kernel-layer/{}", dc.name),
            case,
            raw: Some((dc.case.saved.clone(), dc.case.dest.clone())),
        });
    }
}

/// Every base unchanged, in a third of the combinations each.
fn identity_cases(bases: &[Base], out: &mut Vec<DiffCase>) {
    for (n, b) in bases.iter().enumerate() {
        for i in 0..6 {
            out.push(make_case(
                format!("{}/identity", b.name),
                b,
                b.image.clone(),
                b.image.clone(),
                i * 3 + n,
            ));
        }
    }
}

/// The bases whose every interesting byte is changed: one of each family (the H100 sample and
/// virtio-rng share their layouts with vgpu-a and virtio-net).
const SWEPT: [&str; 4] = ["vgpu-a", "virtio-net", "gen-pcie", "gen-pci"];

/// One byte changed at every interesting offset of the swept bases: the side alternates per
/// offset (saved, dest) and so does the bit (0x01, 0x80); the saved side's combination cycles
/// through all 18, the destination's runs 9 ahead (the other slot).
fn single_byte_cases(bases: &[Base], out: &mut Vec<DiffCase>) {
    for b in bases.iter().filter(|b| SWEPT.contains(&b.name)) {
        for (k, off) in interesting_offsets(&b.image).into_iter().enumerate() {
            let side = ["saved", "dest"][k % 2];
            let mask = [0x01u8, 0x80][(k / 2) % 2];
            let mut changed = b.image.clone();
            changed[off] ^= mask;
            let (saved, dest, combo) = if side == "saved" {
                (changed, b.image.clone(), k / 2)
            } else {
                (b.image.clone(), changed, k / 2 + 9)
            };
            let name = format!("{}/{side}@0x{off:03x}^{mask:02x}", b.name);
            out.push(make_case(name, b, saved, dest, combo));
        }
    }
}

/// 2 to 4 random bytes changed, on one side or both, at interesting offsets.
fn multi_byte_cases(bases: &[Base], per_base: usize, out: &mut Vec<DiffCase>) {
    let mut rng = Rng::new(0x9e37_79b9_7f4a_7c15);
    for b in bases {
        let offs = interesting_offsets(&b.image);
        for i in 0..per_base {
            let (mut saved, mut dest) = (b.image.clone(), b.image.clone());
            let mut what = Vec::new();
            for _ in 0..2 + rng.below(3) as usize {
                let off = offs[rng.below(offs.len() as u64) as usize];
                let val = rng.next_u64() as u8;
                let side = rng.below(2) as usize;
                let target = if side == 0 { &mut saved } else { &mut dest };
                target[off] = val;
                what.push(format!("{}@0x{off:03x}={val:02x}", ["saved", "dest"][side]));
            }
            let name = format!("{}/multi{i}:{}", b.name, what.join(","));
            out.push(make_case(name, b, saved, dest, rng.below(18) as usize));
        }
    }
}

/// The first VSC's payload, length and next pointer changed on the destination of every base
/// with a VSC, in a third of the combinations each (cycling so that all 18 are covered).
fn vsc_cases(bases: &[Base], out: &mut Vec<DiffCase>) {
    let mut combo = 0;
    for b in bases {
        let offs = interesting_offsets(&b.image);
        let Some(pos) = offs
            .into_iter()
            .find(|&o| (0x40..0x100).contains(&o) && b.image[o] == 0x09)
        else {
            continue;
        };
        for (what, off) in [("payload", pos + 5), ("length", pos + 2), ("next", pos + 1)] {
            for _ in 0..6 {
                let mut dest = b.image.clone();
                dest[off] ^= if what == "payload" { 0x5a } else { 0x04 };
                let name = format!("{}/vsc-{what}@0x{off:03x}", b.name);
                out.push(make_case(name, b, b.image.clone(), dest, combo));
                combo += 1;
            }
        }
    }
}

/// The demo's driver-version pair: host A's saved state onto host B's devices.
fn demo_cases(out: &mut Vec<DiffCase>) {
    let a = Base {
        name: "demo",
        image: data("demo/vgpu-host-a-r550.bin"),
        bars: H100_BARS,
    };
    for b in [
        "vgpu-host-b-r570.bin",
        "vgpu-host-b-r570-vsc-len.bin",
        "vgpu-host-b-r570-other-type.bin",
    ] {
        for combo in 0..18 {
            let name = format!("demo/a-r550->{b}");
            out.push(make_case(name, &a, a.image.clone(), data(&format!("demo/{b}")), combo));
        }
    }
    let gpu0 = Base {
        name: "h100-pair",
        image: data("demo/h100-gpu0.bin"),
        bars: H100_BARS,
    };
    for combo in 0..18 {
        out.push(make_case(
            "h100-pair/gpu0->gpu1".into(),
            &gpu0,
            gpu0.image.clone(),
            data("demo/h100-gpu1.bin"),
            combo,
        ));
    }
}

/// A named change to a base: (name, base, [(offset, new value)]).
type KnownEdit<'a> = (&'static str, &'a Base, &'static [(usize, u8)]);

/// The differences issue 10 lists, each on the saved side, the destination side and both, in
/// both slots: registers machine reset clears, Interrupt Pin above 4, an extended capability
/// whose next pointer is below 0x100 (onto a cleared BAR: dropped; onto a non-zero dword:
/// abort), a standard capability pointer into the header, and a capability walk that loops.
fn known_issue_cases(bases: &[Base], out: &mut Vec<DiffCase>) {
    let vgpu = &bases[0];
    let h100 = bases.iter().find(|b| b.name == "h100").expect("h100 base");
    let gen = bases.iter().find(|b| b.name == "gen-pcie").expect("gen-pcie base");
    let edits: [KnownEdit; 15] = [
        // (1) reset: MSI Message Address bits 1:0, Mask Bits beyond 16 vectors and Pending Bits
        // (msi_reset), Command, Cache Line Size and Interrupt Line (pci_do_device_reset).
        ("reset-msi-address-bits", h100, &[(0x4c, 0x03)]),
        (
            "reset-msi-mask-pending",
            h100,
            &[(0x5a, 0xff), (0x5b, 0xff), (0x5c, 0x01), (0x5f, 0x80)],
        ),
        ("reset-header", gen, &[(0x04, 0x07), (0x0c, 0x10), (0x3c, 0x0b)]),
        ("reset-msix-enable", gen, &[(0xa3, 0xc0)]),
        // (2) Interrupt Pin: 4 (INTD) realizes, above 4 aborts.
        ("interrupt-pin-4", gen, &[(0x3d, 0x04)]),
        ("interrupt-pin-5", vgpu, &[(0x3d, 0x05)]),
        ("interrupt-pin-ff", gen, &[(0x3d, 0xff)]),
        // (3) extended next below 0x100: onto BAR1 (0x0000000c, ID 0x000c: pcie_add_capability
        // aborts), onto BAR0 (0: dropped, the chain ends there and QEMU realizes).
        ("ext-next-below-0x100", gen, &[(0x14b, 0x01)]),
        ("ext-next-0", gen, &[(0x14a, 0x00), (0x14b, 0x00)]),
        ("ext-last-next-0x010", gen, &[(0x157, 0x01)]),
        // (4) standard pointers into the header: a capability over header registers (QEMU
        // realizes), or a walk that loops (QEMU hangs).
        ("cap-pointer-into-header", gen, &[(0x34, 0x10)]),
        ("cap-next-into-header", vgpu, &[(0xb1, 0x20)]),
        ("cap-pointer-0x3c", gen, &[(0x34, 0x3c)]),
        // PM's next onto 0x2e, whose byte (Subsystem ID low, 0x01) reads as a PM capability.
        ("cap-next-to-pm-in-header", gen, &[(0x41, 0x2e)]),
        ("cap-walk-loops", gen, &[(0xb1, 0x40)]),
    ];
    for (n, (what, base, bytes)) in edits.iter().enumerate() {
        let mut changed = base.image.clone();
        for &(off, val) in bytes.iter() {
            changed[off] = val;
        }
        let sides = [
            ("saved", &changed, &base.image),
            ("dest", &base.image, &changed),
            ("both", &changed, &changed),
        ];
        for (i, (side, saved, dest)) in sides.into_iter().enumerate() {
            // Both slots (the last index bit of a combination), machine and property cycling.
            for slot in 0..2 {
                let name = format!("known/{}/{what}/{side}", base.name);
                out.push(make_case(
                    name,
                    base,
                    saved.clone(),
                    dest.clone(),
                    (n + i) % 9 * 2 + slot,
                ));
            }
        }
    }
}

/// Every case; with `PCIMIG_VFIO_SUITE_FILTER` set, only those whose name contains it.
fn all_cases() -> Vec<DiffCase> {
    let bases = bases();
    let mut v = Vec::new();
    identity_cases(&bases, &mut v);
    demo_cases(&mut v);
    vsc_cases(&bases, &mut v);
    single_byte_cases(&bases, &mut v);
    multi_byte_cases(&bases, 12, &mut v);
    known_issue_cases(&bases, &mut v);
    let mut layered = Vec::new();
    kernel_layer_cases(&v, &mut layered);
    v.extend(layered);
    if let Ok(f) = std::env::var("PCIMIG_VFIO_SUITE_FILTER") {
        v.retain(|c| c.name.contains(&f));
    }
    v
}

/// A verdict in the terms both sides can be compared in.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Judgement {
    Pass,
    Fail { line: String },
    Undecided { why: String },
}

impl Judgement {
    fn same(&self, other: &Judgement) -> bool {
        match (self, other) {
            (Judgement::Undecided { .. }, Judgement::Undecided { .. }) => true,
            (a, b) => a == b,
        }
    }

    fn first_offset(&self) -> Option<String> {
        match self {
            Judgement::Fail { line } => line
                .split("i=")
                .nth(1)
                .and_then(|s| s.split(' ').next())
                .map(String::from),
            _ => None,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Judgement::Pass => "pass",
            Judgement::Fail { .. } => "fail",
            Judgement::Undecided { .. } => "undecided",
        }
    }
}

impl std::fmt::Display for Judgement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Judgement::Pass => write!(f, "pass"),
            Judgement::Fail { line } => write!(f, "fail: {line}"),
            Judgement::Undecided { why } => write!(f, "undecided: {why}"),
        }
    }
}

fn qemu_judgement(v: &Verdict) -> Judgement {
    match v {
        Verdict::Accepted => Judgement::Pass,
        Verdict::Rejected { line } => Judgement::Fail { line: line.clone() },
        other => Judgement::Undecided { why: other.to_string() },
    }
}

/// `pcimig check` on the case's two images with the same machine, property, slot and sizes.
fn pcimig_judgement(dir: &Path, dc: &DiffCase, qemu: Option<&str>) -> Judgement {
    let c = &dc.case;
    let (saved, dest) = (dir.join("saved.bin"), dir.join("dest.bin"));
    let (saved_bytes, dest_bytes, layer) = match &dc.raw {
        Some((s, d)) => (s, d, "on"),
        None => (&c.saved, &c.dest, "off"),
    };
    std::fs::write(&saved, saved_bytes).unwrap();
    std::fs::write(&dest, dest_bytes).unwrap();
    let mut cmd = Command::new(bin());
    cmd.arg("check").arg("--saved").arg(&saved).arg("--dest").arg(&dest);
    cmd.args([
        "--machine",
        &c.machine,
        "--slot",
        c.slot.name(),
        "--rom",
        &c.rom.to_string(),
        // The stand-in is the kernel: the image it serves is what the kernel presents to QEMU
        // (raw cases: the image itself; layered cases: the layer's view of the raw image).
        "--kernel-layer",
        layer,
        "--json",
    ]);
    for (k, v) in &c.props {
        cmd.arg(format!("--{k}")).arg(v);
    }
    if let Some(v) = qemu {
        // The harness saves and loads with the same binary.
        cmd.args(["--saved-qemu", v, "--dest-qemu", v]);
    }
    for (i, size) in c.bars.iter().enumerate() {
        cmd.arg("--bar").arg(format!("{i}={size}"));
    }
    let o = cmd.output().expect("run pcimig");
    match o.status.code() {
        Some(0) | Some(1) => {
            let j: Value = serde_json::from_slice(&o.stdout).expect("pcimig --json output");
            match j["qemu_line"].as_str() {
                Some(line) if j["qemu_verdict"] == "fail" => Judgement::Fail { line: line.to_string() },
                _ => Judgement::Pass,
            }
        }
        _ => Judgement::Undecided {
            why: String::from_utf8_lossy(&o.stderr).trim().to_string(),
        },
    }
}

/// One case's result.
struct Outcome {
    name: String,
    qemu: Judgement,
    pcimig: Judgement,
}

/// Run `cases` on `workers` threads; every outcome in case order.
/// One run of QEMU cases at a time: the tests of this file would otherwise run their workers
/// side by side (twice the QEMU processes on a 2-core machine, and the 3 s timeouts with them).
static QEMU_RUNS: Mutex<()> = Mutex::new(());
/// Numbers the runs of this process (each gets its own work directory).
static RUN_ID: AtomicUsize = AtomicUsize::new(0);

/// `version`: the QEMU version the harness runs, when not pcimig's default (`--dest-qemu`).
fn run_cases(h: &Harness, cases: &[DiffCase], workers: usize, version: Option<&str>) -> Vec<Outcome> {
    let _one_at_a_time = QEMU_RUNS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(first) = cases.first() {
        warm_up(h, &first.case);
    }
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Outcome>>> = Mutex::new((0..cases.len()).map(|_| None).collect());
    let root = std::env::temp_dir().join(format!(
        "pcimig-vfio-suite-{}-{}",
        std::process::id(),
        RUN_ID.fetch_add(1, Ordering::Relaxed)
    ));
    std::thread::scope(|s| {
        for w in 0..workers {
            let (next, results, root) = (&next, &results, &root);
            s.spawn(move || {
                let dir = root.join(w.to_string());
                std::fs::create_dir_all(&dir).unwrap();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(dc) = cases.get(i) else { break };
                    let qemu = match h.run(&dc.case) {
                        Ok(v) => qemu_judgement(&v),
                        Err(e) => panic!("{}: harness error: {e}", dc.name),
                    };
                    let pcimig = pcimig_judgement(&dir, dc, version);
                    results.lock().unwrap()[i] = Some(Outcome {
                        name: dc.name.clone(),
                        qemu,
                        pcimig,
                    });
                }
            });
        }
    });
    let _ = std::fs::remove_dir_all(&root);
    results
        .into_inner()
        .unwrap()
        .into_iter()
        .map(|o| o.expect("every case ran"))
        .collect()
}

/// How long the warm-up run may take.
const WARM_UP_TIMEOUT: Duration = Duration::from_secs(30);

/// Start QEMU once with a long timeout before a suite, its result unused: the first start of a
/// QEMU (11.1 through its own loader and libraries, read from disk the first time) can take
/// longer than the cases' short timeout on a busy machine, which would look like a hang.
fn warm_up(h: &Harness, case: &Case) {
    let _ = h.clone().with_timeout(WARM_UP_TIMEOUT).run(case);
}

/// Print the agreement figure and every disagreement (grouped by QEMU's and pcimig's verdict
/// kinds); returns the number of disagreements.
fn report(outcomes: &[Outcome], elapsed: Duration) -> usize {
    let bad: Vec<&Outcome> = outcomes.iter().filter(|o| !o.qemu.same(&o.pcimig)).collect();
    println!(
        "vfio agreement: {}/{} cases ({:.1}s)",
        outcomes.len() - bad.len(),
        outcomes.len(),
        elapsed.as_secs_f64()
    );
    let mut groups: BTreeMap<String, Vec<&Outcome>> = BTreeMap::new();
    for o in &bad {
        let key = format!("QEMU {} / pcimig {}", o.qemu.kind(), o.pcimig.kind());
        groups.entry(key).or_default().push(o);
    }
    for (key, list) in &groups {
        println!("\n== {key}: {} cases", list.len());
        for o in list {
            let offsets = format!("{:?} vs {:?}", o.qemu.first_offset(), o.pcimig.first_offset());
            println!("  {}  (first offset QEMU/pcimig: {offsets})", o.name);
            println!("    QEMU:   {}", o.qemu);
            println!("    pcimig: {}", o.pcimig);
        }
    }
    bad.len()
}

fn harness_or_skip() -> Option<Harness> {
    match harness() {
        Ok(h) => Some(h.with_timeout(Duration::from_secs(3))),
        Err(why) => {
            println!("SKIPPED: {why}");
            None
        }
    }
}

/// The whole differential suite (500+ cases, 2 workers).
#[test]
fn vfio_differential_suite_agrees_with_qemu() {
    let Some(h) = harness_or_skip() else { return };
    let cases = all_cases();
    println!("vfio suite: {} cases on 2 workers", cases.len());
    let start = Instant::now();
    let outcomes = run_cases(&h, &cases, 2, None);
    let bad = report(&outcomes, start.elapsed());
    assert!(
        cases.len() >= 500,
        "the suite has {} cases, fewer than 500",
        cases.len()
    );
    assert_eq!(
        bad, 0,
        "pcimig disagrees with QEMU 10.0.2 on {bad} cases (listed above)"
    );
}

/// The demo's scenarios and a few single-register changes, which pcimig models today.
#[test]
fn vfio_demo_scenarios_agree_with_qemu() {
    let Some(h) = harness_or_skip() else { return };
    let mut cases = Vec::new();
    demo_cases(&mut cases);
    let a = Base {
        name: "vgpu-a",
        image: data("demo/vgpu-host-a-r550.bin"),
        bars: H100_BARS,
    };
    for (what, off) in [
        ("device-id", 0x02),
        ("subsystem-id", 0x2e),
        ("class", 0x0b),
        ("vsc-id", 0xc0),
    ] {
        let mut dest = a.image.clone();
        dest[off] ^= 0x01;
        cases.push(make_case(format!("vgpu-a/dest-{what}"), &a, a.image.clone(), dest, 17));
    }
    let start = Instant::now();
    let outcomes = run_cases(&h, &cases, 2, None);
    assert_eq!(
        report(&outcomes, start.elapsed()),
        0,
        "pcimig disagrees with QEMU (listed above)"
    );
}

/// `dc` again, on `machine` instead of its own machine type when given.
fn on_machine(dc: &DiffCase, machine: Option<&str>) -> DiffCase {
    let mut case = dc.case.clone();
    let mut name = dc.name.clone();
    if let Some(m) = machine {
        name = name.replace(&format!("[{} ", case.machine), &format!("[{m} "));
        case.machine = m.to_string();
    }
    DiffCase {
        name,
        case,
        raw: dc.raw.clone(),
    }
}

/// The differential suite on QEMU 11.1 (the wrapper `scripts/qemu-versions` unpacks,
/// `PCIMIG_QEMU_11_1`): every `PCIMIG_VFIO_11_1_EVERY`-th case (default 1, all of them), and
/// every tenth of those again on `pc-q35-10.1` and `pc-q35-11.1` (machine types 10.0.2 lacks),
/// with pcimig told the QEMU version (`--saved-qemu`/`--dest-qemu`). Every case must agree;
/// skipped without QEMU 11.1, but failing under `CI`.
#[test]
fn vfio_differential_suite_on_qemu_11_1() {
    if harness_or_skip().is_none() {
        return;
    }
    let Some(qemu) = pcimig_vfio_standin::versioned_qemu_or_skip("11.1", "the vfio suite on 11.1") else {
        return;
    };
    let version = pcimig_vfio_standin::qemu_version_of(&qemu).expect("QEMU 11.1 --version");
    let h = match Harness::new(&qemu) {
        Ok(h) => h.with_timeout(Duration::from_secs(3)),
        Err(why) => {
            println!("SKIPPED: {why}");
            return;
        }
    };
    let every = std::env::var("PCIMIG_VFIO_11_1_EVERY")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1usize)
        .max(1);
    let all = all_cases();
    let mut cases: Vec<DiffCase> = all.iter().step_by(every).map(|dc| on_machine(dc, None)).collect();
    // 11.1's own newest machine types, which 10.0.2 does not define.
    for (i, dc) in all.iter().step_by(10 * every).enumerate() {
        cases.push(on_machine(dc, Some(["pc-q35-10.1", "pc-q35-11.1"][i % 2])));
    }
    println!("vfio suite on QEMU 11.1: {} cases on 2 workers", cases.len());
    let start = Instant::now();
    let outcomes = run_cases(&h, &cases, 2, Some(&version));
    let bad = report(&outcomes, start.elapsed());
    println!(
        "vfio suite on QEMU {version}: {}/{} agree",
        outcomes.len() - bad,
        outcomes.len()
    );
    assert_eq!(
        bad, 0,
        "pcimig disagrees with QEMU {version} on {bad} cases (listed above)"
    );
}

/// A stream a real vfio-pci migration writes: the device's iterative section (START … END)
/// and, under the same section id, the FULL section with its config state (QEMU's
/// `qemu_savevm_state_complete_precopy_non_iterable` saves `save_state` entries again). The
/// readers take it, and `check` with the stream as the saved side agrees with QEMU's load.
#[test]
fn a_real_vfio_stream_is_read_and_checked() {
    let Some(h) = harness_or_skip() else { return };
    let a = data("demo/vgpu-host-a-r550.bin");
    let b = data("demo/vgpu-host-b-r570.bin");
    let dir = std::env::temp_dir().join(format!("pcimig-vfio-stream-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mig = dir.join("vgpu-a.mig");
    let case = Case {
        saved: a.clone(),
        dest: b.clone(),
        bars: H100_BARS,
        rom: 0,
        machine: "pc-q35-9.0".into(),
        props: Vec::new(),
        slot: Slot::PciePort,
    };
    h.save_stream(&case, &mig).expect("the source saves");
    let out = Command::new(bin())
        .args(["stream", "ls", "--json"])
        .arg(&mig)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let ls: Value = serde_json::from_slice(&out.stdout).unwrap();
    let sections = ls["sections"].as_array().unwrap();
    let vfio: Vec<&Value> = sections
        .iter()
        .filter(|s| s["idstr"].as_str().is_some_and(|i| i.ends_with("/vfio")))
        .collect();
    assert_eq!(vfio.len(), 2, "START and FULL of the vfio device: {vfio:?}");
    assert_eq!(vfio[0]["section_id"], vfio[1]["section_id"]);
    let devices = ls["devices"].as_array().unwrap();
    let vfio_dev: Vec<&Value> = devices.iter().filter(|d| d["kind"] == "vfio-pci").collect();
    assert_eq!(vfio_dev.len(), 1, "{}", ls["devices"]);

    // pc-q35-9.0 has no skip-vsc-check: R550's VSC payload against R570's fails as in QEMU.
    let qemu = h.run(&case).unwrap();
    let dest = dir.join("b.bin");
    std::fs::write(&dest, &b).unwrap();
    let saved = format!("{}#0000:00:02.0:00.0/vfio", mig.display());
    let out = Command::new(bin())
        .args([
            "check",
            "--machine",
            "pc-q35-9.0",
            "--slot",
            "pcie-port",
            "--json",
            "--saved",
            &saved,
            "--dest",
        ])
        .arg(&dest)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    let line = match &qemu {
        Verdict::Rejected { line } => line.clone(),
        other => panic!("QEMU accepted or failed otherwise: {other:?}"),
    };
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(v["qemu_line"].as_str(), Some(line.as_str()));

    explain_names_the_vsc_byte(&dir, &mig, &dest, &line);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// explain on QEMU's `line` with the real stream and the destination: the register named, and
/// the re-run check's first offset is QEMU's.
fn explain_names_the_vsc_byte(dir: &Path, mig: &Path, dest: &Path, line: &str) {
    let log = dir.join("qemu.log");
    let text = format!(
        "qemu-system-x86_64: {line}\nqemu-system-x86_64: error while loading state for instance 0x0 of device \
         '0000:00:02.0:00.0/vfio'\nqemu-system-x86_64: load of migration failed: Invalid argument\n"
    );
    std::fs::write(&log, text).unwrap();
    let out = Command::new(bin())
        .arg("explain")
        .arg(&log)
        .arg("--stream")
        .arg(mig)
        .arg("--dest")
        .arg(dest)
        .arg("--json")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let e: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(e["register"]["certainty"], "destination_model", "{e}");
    assert!(
        e["register"]["register"]
            .as_str()
            .unwrap()
            .starts_with("Vendor Specific (09)"),
        "{e}"
    );
    assert_eq!(e["recheck"]["first_offset"], e["bad_config"]["offset"], "{e}");
}
