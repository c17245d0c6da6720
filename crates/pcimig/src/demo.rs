//! `pcimig demo`: the bundled scenarios, and how their data derives from the real H100 config.
//!
//! 1. vGPU across driver versions: a vGPU-like device derived from the real H100 config
//!    (`data/samples/h100-firecracker/0000:00:06.0.config.bin`) with a Vendor Specific
//!    Capability added to its standard chain at 0xc0 (the H100 has none there) and without a
//!    Device Serial Number; host A's and host B's drivers fill the VSC payload differently.
//! 2. Whole-GPU passthrough between two physical H100s whose Device Serial Numbers differ.
//!
//! Every expected outcome is derived from the data and QEMU's rules (which bytes differ, which
//! are checked), not from running the checker.

use crate::check::{vfio::VfioRequest, CheckOutput, Verdict, WarningKind};
use pcimig_config::regs::*;
use pcimig_config::{le, walk_ext, walk_std, CapId, ExtCapId};
use std::ops::Range;
use std::path::{Path, PathBuf};

/// Offset of the VSC added to the vGPU-like device.
pub const VSC_OFFSET: usize = 0xc0;
/// The VSC's length byte.
pub const VSC_LEN: u8 = 0x18;
/// Where the VSC's length byte is.
const VSC_LEN_AT: usize = VSC_OFFSET + PCI_VNDR_CAP_LEN;

/// The VSC payload (from +3) a host's vendor driver presents: a signature, the driver branch
/// and the capability bits that branch advertises.
fn vsc_payload(branch: &[u8; 4], caps: u32) -> Vec<u8> {
    let mut p = vec![0x01]; // +3: layout version
    p.extend_from_slice(b"vGPU"); // +4..+8
    p.extend_from_slice(branch); // +8..+0xc: driver branch
    p.extend_from_slice(&caps.to_le_bytes()); // +0xc..+0x10: capability bits
    p.extend_from_slice(&[0x00, 0x10, 0x00, 0x00]); // +0x10..+0x14: framebuffer GiB
    p.extend_from_slice(&[0; 4]); // up to the declared length 0x18
    p
}

/// The vGPU-like config a host with the given driver branch presents.
pub fn vgpu_config(h100: &[u8], branch: &[u8; 4], caps: u32) -> Vec<u8> {
    let mut c = h100.to_vec();
    // Standard chain: link a VSC after the last capability (MSI-X at 0xb0 on the H100).
    let last = last_std_cap(&c);
    c[last + PCI_CAP_LIST_NEXT] = VSC_OFFSET as u8;
    c[VSC_OFFSET + PCI_CAP_LIST_ID] = CapId::Vndr.value();
    c[VSC_OFFSET + PCI_CAP_LIST_NEXT] = 0x00;
    c[VSC_OFFSET + PCI_VNDR_CAP_LEN] = VSC_LEN;
    let p = vsc_payload(branch, caps);
    let payload = VSC_OFFSET + PCI_VNDR_CAP_HEADER_SIZEOF;
    c[payload..payload + p.len()].copy_from_slice(&p);
    // No Device Serial Number: unlink it from the extended chain (on the H100 the capability
    // at 0x2b8 points to the DSN at 0x2f0, the last one) and clear it.
    let dsn = dsn_offset(&c);
    let before = ext_cap_before(&c, dsn);
    let h = le::long(&c, before) & PCI_EXT_CAP_ID_VER_MASK;
    c[before..before + PCI_EXT_CAP_HEADER_SIZEOF].copy_from_slice(&h.to_le_bytes());
    c[dsn..dsn + PCI_EXT_CAP_DSN_SIZEOF].fill(0);
    c
}

/// The offset of the last capability of the standard chain.
fn last_std_cap(config: &[u8]) -> usize {
    walk_std(config)
        .entries
        .last()
        .expect("the H100 has standard capabilities")
        .offset
}

/// The offset of the Device Serial Number capability.
fn dsn_offset(config: &[u8]) -> usize {
    walk_ext(config)
        .entries
        .iter()
        .find(|e| ExtCapId::from(e.id) == ExtCapId::Dsn)
        .expect("the H100 has a Device Serial Number")
        .offset
}

/// The offset of the extended capability whose next pointer is `offset`.
fn ext_cap_before(config: &[u8], offset: usize) -> usize {
    walk_ext(config)
        .entries
        .iter()
        .find(|e| e.next == offset)
        .expect("the capability is not the first of the extended chain")
        .offset
}

/// The serial number bytes of a config's Device Serial Number.
fn dsn_serial(config: &[u8]) -> Range<usize> {
    let serial = dsn_offset(config) + PCI_DSN_SERIAL;
    serial..dsn_offset(config) + PCI_EXT_CAP_DSN_SIZEOF
}

/// Host B's other vGPU type: device ID 0x2331 (the H100's is 0x2330), its low byte.
const OTHER_TYPE_DEVICE_ID_LO: u8 = 0x31;
/// The longer VSC length host B's driver declares.
const VSC_LEN_LONGER: u8 = 0x1c;
/// Another board's Device Serial Number.
const OTHER_SERIAL: u64 = 0x1b2e_7c40_99aa_5106;

/// Every demo data file, derived from the H100 config: `(file name, bytes)`.
pub fn derive_files(h100: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let a = vgpu_config(h100, b"R550", 0x0000_00f3);
    let b = vgpu_config(h100, b"R570", 0x0000_01f7);
    let mut other_type = b.clone();
    other_type[PCI_DEVICE_ID] = OTHER_TYPE_DEVICE_ID_LO;
    let mut vsc_len = b.clone();
    vsc_len[VSC_OFFSET + PCI_VNDR_CAP_LEN] = VSC_LEN_LONGER;
    let gpu0 = h100.to_vec();
    let mut gpu1 = h100.to_vec();
    gpu1[dsn_serial(h100)].copy_from_slice(&OTHER_SERIAL.to_le_bytes());
    vec![
        ("vgpu-host-a-r550.bin", a),
        ("vgpu-host-b-r570.bin", b),
        ("vgpu-host-b-r570-other-type.bin", other_type),
        ("vgpu-host-b-r570-vsc-len.bin", vsc_len),
        ("h100-gpu0.bin", gpu0),
        ("h100-gpu1.bin", gpu1),
    ]
}

/// What a scenario must come out as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// Pass or fail.
    pub verdict: Verdict,
    /// QEMU's line, when it fails.
    pub qemu_line: Option<String>,
    /// A warning that must be present.
    pub warning: Option<WarningKind>,
}

/// One scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Title.
    pub title: String,
    /// Why it comes out this way.
    pub why: String,
    /// The check.
    pub request: VfioRequest,
    /// The command line that runs it.
    pub command: String,
    /// Expected outcome.
    pub expected: Expected,
}

fn qemu_line(i: usize, read: u8, device: u8) -> String {
    format!("get_pci_config_device: Bad config data: i=0x{i:x} read: {read:x} device: {device:x} cmask: ff wmask: 0 w1cmask:0")
}

fn first_diff(a: &[u8], b: &[u8], range: std::ops::Range<usize>) -> usize {
    range
        .clone()
        .find(|&i| a[i] != b[i])
        .expect("the derived files differ in this range")
}

/// The scenarios over the data in `dir` (files named as [`derive_files`] names them).
pub fn scenarios(dir: &Path) -> std::io::Result<Vec<Scenario>> {
    let f = |n: &str| dir.join(n).to_string_lossy().to_string();
    let read = |n: &str| std::fs::read(dir.join(n));
    let (a, b) = (read("vgpu-host-a-r550.bin")?, read("vgpu-host-b-r570.bin")?);
    let other = read("vgpu-host-b-r570-other-type.bin")?;
    let vlen = read("vgpu-host-b-r570-vsc-len.bin")?;
    let (g0, g1) = (read("h100-gpu0.bin")?, read("h100-gpu1.bin")?);
    // The VSC's payload (after its 3-byte header, up to the next capability or 0x100) is the
    // only part host A and B differ in.
    let p = first_diff(&a, &b, VSC_OFFSET + PCI_VNDR_CAP_HEADER_SIZEOF..PCI_CONFIG_SPACE_SIZE);
    let dsn = first_diff(&g0, &g1, dsn_serial(&g0));
    let base = |saved: &str, dest: &str| VfioRequest {
        saved: f(saved),
        dest: f(dest),
        ..VfioRequest::default()
    };
    let cmd =
        |extra: &str, saved: &str, dest: &str| format!("pcimig check --saved {} --dest {}{}", f(saved), f(dest), extra);
    let (sa, sb) = ("vgpu-host-a-r550.bin", "vgpu-host-b-r570.bin");
    Ok(vec![
        Scenario {
            title: "1a. vGPU, host A (driver R550) -> host B (driver R570), destination machine pc-q35-9.0".into(),
            why: "hw_compat_9_0 turns skip-vsc-check off: the whole VSC is checked, and the drivers fill its payload differently".into(),
            request: VfioRequest { machine: Some("pc-q35-9.0".into()), ..base(sa, sb) },
            command: cmd(" --machine pc-q35-9.0", sa, sb),
            expected: Expected { verdict: Verdict::Fail, qemu_line: Some(qemu_line(p, a[p], b[p])), warning: None },
        },
        Scenario {
            title: "1b. the same with skip-vsc-check=off on the current machine type".into(),
            why: "an explicit property wins over the machine type's default".into(),
            request: VfioRequest { skip_vsc_check: Some(false), ..base(sa, sb) },
            command: cmd(" --skip-vsc-check off", sa, sb),
            expected: Expected { verdict: Verdict::Fail, qemu_line: Some(qemu_line(p, a[p], b[p])), warning: None },
        },
        Scenario {
            title: "1c. the same on the current machine type (pc-q35-10.0): the default".into(),
            why: "skip-vsc-check is on: only the VSC's 3-byte header (ID, next, length) is checked".into(),
            request: base(sa, sb),
            command: cmd("", sa, sb),
            expected: Expected { verdict: Verdict::Pass, qemu_line: None, warning: None },
        },
        Scenario {
            title: "1d. host B presents another vGPU type (device ID 0x2331)".into(),
            why: "the exemption covers VSC payloads only: the Device ID is always checked".into(),
            request: base(sa, "vgpu-host-b-r570-other-type.bin"),
            command: cmd("", sa, "vgpu-host-b-r570-other-type.bin"),
            expected: Expected { verdict: Verdict::Fail, qemu_line: Some(qemu_line(PCI_DEVICE_ID, a[PCI_DEVICE_ID], other[PCI_DEVICE_ID])), warning: None },
        },
        Scenario {
            title: "1e. host B's driver declares a longer VSC (length byte 0x1c)".into(),
            why: "the VSC header (ID, next pointer, length) stays checked under skip-vsc-check".into(),
            request: base(sa, "vgpu-host-b-r570-vsc-len.bin"),
            command: cmd("", sa, "vgpu-host-b-r570-vsc-len.bin"),
            expected: Expected {
                verdict: Verdict::Fail,
                qemu_line: Some(qemu_line(VSC_LEN_AT, a[VSC_LEN_AT], vlen[VSC_LEN_AT])),
                warning: None,
            },
        },
        Scenario {
            title: "2. whole-GPU passthrough, H100 -> another H100 (Device Serial Numbers differ)".into(),
            why: "vfio-pci exposes the DSN and checks it fully; no exemption covers extended capabilities".into(),
            request: base("h100-gpu0.bin", "h100-gpu1.bin"),
            command: cmd("", "h100-gpu0.bin", "h100-gpu1.bin"),
            expected: Expected { verdict: Verdict::Fail, qemu_line: Some(qemu_line(dsn, g0[dsn], g1[dsn])), warning: Some(WarningKind::DsnHazard) },
        },
    ])
}

/// Whether an outcome is what the scenario expects.
pub fn matches(out: &CheckOutput, e: &Expected) -> bool {
    out.verdict == e.verdict
        && out.qemu_verdict == e.verdict
        && out.qemu_line == e.qemu_line
        && e.warning.is_none_or(|w| out.warnings.iter().any(|x| x.kind == w))
}

/// Find the demo data: `data/demo` under the current directory, else in the source tree this
/// binary was built from.
pub fn default_dir() -> PathBuf {
    let cwd = PathBuf::from("data/demo");
    if cwd.is_dir() {
        return cwd;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/demo")
}
