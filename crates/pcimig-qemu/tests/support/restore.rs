//! The real-QEMU restore suite's scenarios, mutation generators and QEMU driving (save a VM's
//! stream, load a stream with `-incoming`), shared by `qemu_restore` (QEMU 10.0.2 against itself)
//! and `qemu_cross_version` (streams saved by one QEMU version, loaded by another). Included with
//! `#[path]` next to `support/qemu.rs` (as `mod support`).
#![allow(dead_code)]

use super::support::{base_args, qemu_bin, Qmp};
use pcimig_config::{restore_check, Array};
use pcimig_qemu::devices::{build_destination, qemu_data_dirs, Destination, EmulatedDevice, QueryPci, RomFiles};
use pcimig_qemu::Stream;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

// ---- QEMU process + QMP -----------------------------------------------------------------------------

pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let base = std::env::temp_dir().join(format!(
            "pcimig-qemu-{tag}-{}-{}",
            std::process::id(),
            Instant::now().elapsed().as_nanos() ^ (std::ptr::from_ref(&tag) as usize as u128)
        ));
        std::fs::create_dir_all(&base).unwrap();
        TempDir(base)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn qemu_command(bin: &str, machine: &str, devices: &[&str], sock: &Path) -> Command {
    let mut c = Command::new(bin);
    c.args(base_args(machine));
    c.args(["-nic", "none", "-serial", "none", "-monitor", "none"]);
    for d in devices {
        for a in d.split(' ') {
            c.arg(a);
        }
    }
    c.arg("-qmp").arg(format!("unix:{},server=on,wait=off", sock.display()));
    c.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
    c
}

pub fn read_stderr(child: &mut Child) -> String {
    let mut s = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut s);
    }
    s
}

/// Saving to or loading from a file.
#[derive(Clone, Copy)]
pub enum Direction {
    Save,
    Load,
}

/// The migration URI of `file` for `bin`: `file:` (QEMU 8.2 and newer), or `exec:cat` for an
/// older QEMU (7.2), which has no `file:` migration.
pub fn migration_uri(bin: &str, file: &Path, dir: Direction) -> String {
    if has_file_migration(bin) {
        return format!("file:{}", file.display());
    }
    match dir {
        Direction::Save => format!("exec:cat > '{}'", file.display()),
        Direction::Load => format!("exec:cat '{}'", file.display()),
    }
}

/// Whether `bin --version` is QEMU 8.2 or newer (the `file:` migration URI), asked once per binary.
fn has_file_migration(bin: &str) -> bool {
    static KNOWN: Mutex<Vec<(String, bool)>> = Mutex::new(Vec::new());
    if let Some(&(_, v)) = KNOWN.lock().unwrap().iter().find(|(b, _)| b == bin) {
        return v;
    }
    let out = Command::new(bin).arg("--version").output();
    let text = out
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let version = text.split("version ").nth(1).unwrap_or("");
    let mut parts = version
        .split(|c: char| !c.is_ascii_digit())
        .map(|n| n.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    let v = (major, minor) >= (8, 2) || version.is_empty();
    KNOWN.lock().unwrap().push((bin.to_string(), v));
    v
}

/// Start the source (`bin`), query-pci, migrate to `file:out`, quit. Returns the query-pci answer.
pub fn save_stream(bin: &str, machine: &str, devices: &[&str], dir: &Path, out: &Path) -> Result<Value, String> {
    let sock = dir.join("src.sock");
    let mut child = qemu_command(bin, machine, devices, &sock)
        .spawn()
        .map_err(|e| format!("spawn: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(60);
    let Some(mut q) = Qmp::connect(&sock, &mut child, deadline, Some(Duration::from_secs(30))) else {
        let _ = child.kill();
        let _ = child.wait();
        return Err(format!("source QEMU did not start: {}", read_stderr(&mut child)));
    };
    let pci = q.cmd("query-pci", json!({})).ok_or("query-pci failed")?;
    let r = q
        .cmd("migrate", json!({"uri": migration_uri(bin, out, Direction::Save)}))
        .ok_or("migrate failed")?;
    if r.get("error").is_some() {
        let _ = child.kill();
        let _ = child.wait();
        return Err(format!("migrate: {r}"));
    }
    loop {
        let st = q.cmd("query-migrate", json!({})).ok_or("query-migrate failed")?;
        match st.get("status").and_then(|s| s.as_str()) {
            Some("completed") => break,
            Some("failed") | Some("cancelled") => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("migration {st}"));
            }
            _ => {}
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err("migration timed out".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = q.cmd("quit", json!({}));
    let _ = child.wait();
    Ok(pci)
}

/// What the destination QEMU did with a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Loaded (the destination left `inmigrate`).
    Loaded,
    /// get_pci_config_device failed: its line and the section named by the error chain.
    BadConfig { line: String, idstr: String },
    /// Failed otherwise (exit status, last stderr lines).
    OtherFailure(String),
}

/// Loads `stream` with `-incoming` into `bin` running the same command line.
pub fn load_stream(bin: &str, machine: &str, devices: &[&str], dir: &Path, stream: &Path) -> Outcome {
    let sock = dir.join(format!(
        "d{}.sock",
        stream.file_stem().unwrap_or_default().to_string_lossy()
    ));
    let mut cmd = qemu_command(bin, machine, devices, &sock);
    cmd.arg("-incoming").arg(migration_uri(bin, stream, Direction::Load));
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return Outcome::OtherFailure(format!("spawn: {e}")),
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut loaded = false;
    if let Some(mut q) = Qmp::connect(&sock, &mut child, deadline, Some(Duration::from_secs(30))) {
        while let Some(st) = q.cmd("query-status", json!({})) {
            let s = st.get("status").and_then(|s| s.as_str()).unwrap_or("");
            if s != "inmigrate" {
                loaded = !s.is_empty();
                let _ = q.cmd("quit", json!({}));
                break;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    let status = child.wait();
    let err = read_stderr(&mut child);
    let _ = std::fs::remove_file(&sock);
    if let Some(line) = err.lines().find(|l| l.contains("Bad config data")) {
        let line = line.trim_start_matches("qemu-system-x86_64: ").to_string();
        let idstr = err
            .lines()
            .find_map(|l| {
                let i = l.find("of device '")?;
                let rest = &l[i + "of device '".len()..];
                Some(rest[..rest.find('\'')?].to_string())
            })
            .unwrap_or_default();
        return Outcome::BadConfig { line, idstr };
    }
    if loaded {
        return Outcome::Loaded;
    }
    let tail: Vec<&str> = err.lines().filter(|l| !l.contains("has no peer")).collect();
    Outcome::OtherFailure(format!("{status:?}: {}", tail.join(" | ")))
}

// ---- scenarios and mutations ------------------------------------------------------------------------

pub struct Scenario {
    pub name: &'static str,
    pub machine: &'static str,
    /// `-device` (and backend) options, each split at spaces into arguments.
    pub devices: &'static [&'static str],
    /// Devices (idstr suffix after '/') whose header and capabilities get the full sweep.
    pub primary: &'static [&'static str],
    /// The table's own BAR/ROM sizes must equal query-pci's (false when `romfile=`/`rombar=0` hide
    /// the ROM, which only query-pci shows).
    pub own_sizes: bool,
}

/// Null block backends for the virtio-blk devices (`drive=nb0`).
pub const BLK: &str = "-blockdev null-co,node-name=nb0 -blockdev null-co,node-name=nb1";

pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "q35-root-bus",
        machine: "q35",
        devices: &[
            "-device e1000",
            "-device e1000e",
            "-device virtio-net-pci",
            "-device qemu-xhci",
            "-device ich9-intel-hda",
            "-device VGA",
        ],
        primary: &["e1000", "e1000e", "virtio-net", "xhci"],
        own_sizes: true,
    },
    Scenario {
        name: "q35-root-ports",
        machine: "q35",
        devices: &[
            BLK,
            "-device pcie-root-port,id=rp1,chassis=1,slot=1",
            "-device pcie-root-port,id=rp2,chassis=2,slot=2",
            "-device pcie-root-port,id=rp3,chassis=3,slot=3",
            "-device virtio-net-pci,bus=rp1,aer=on,ats=on",
            "-device virtio-blk-pci,bus=rp2,drive=nb0",
            "-device qemu-xhci,bus=rp3",
            "-device pcie-pci-bridge,id=pb1",
            "-device e1000,bus=pb1,addr=1",
        ],
        primary: &["pcie-root-port", "virtio-net", "virtio-blk", "pcie-pci-bridge"],
        own_sizes: true,
    },
    Scenario {
        name: "q35-legacy-modern-bridge",
        machine: "q35",
        devices: &[
            BLK,
            "-device virtio-net-pci,disable-legacy=on",
            "-device virtio-blk-pci,disable-modern=on,drive=nb0",
            "-device rtl8139",
            "-device vmxnet3",
            "-device nec-usb-xhci",
            "-device pci-bridge,id=br1,chassis_nr=1",
            "-device e1000,bus=br1,addr=1",
        ],
        primary: &["pci_bridge", "virtio-blk", "rtl8139", "vmxnet3"],
        own_sizes: true,
    },
    Scenario {
        name: "i440fx",
        machine: "pc",
        devices: &[
            BLK,
            "-device e1000",
            "-device virtio-net-pci",
            "-device virtio-blk-pci,drive=nb0",
            "-device intel-hda",
            "-device e1000e",
            "-device vmxnet3",
            "-device pci-bridge,id=br1,chassis_nr=1",
            "-device virtio-net-pci,bus=br1,addr=2,disable-legacy=on",
        ],
        primary: &["PIIX3", "ide", "intel-hda", "piix4_pm", "I440FX"],
        own_sizes: true,
    },
    Scenario {
        // Properties the table reads back from the destination's bytes.
        name: "q35-properties",
        machine: "q35",
        devices: &[
            BLK,
            "-device virtio-net-pci,modern-pio-notify=on,page-per-vq=on",
            "-device virtio-blk-pci,drive=nb0,vectors=0",
            "-device pcie-root-port,id=rp1,chassis=1,io-reserve=0,bus-reserve=2,disable-acs=on,aer_log_max=0",
            "-device pcie-root-port,id=rp2,chassis=2,hotplug=off,x-do-not-expose-native-hotplug-cap=on",
            "-device virtio-net-pci,bus=rp2,ats=on,x-ats-page-aligned=off,x-pcie-flr-init=off",
            "-device pci-bridge,id=br1,chassis_nr=3,shpc=off",
            "-device qemu-xhci,msi=off,p2=8",
            "-device intel-hda,old_msi_addr=on",
            "-device vmxnet3,x-disable-pcie=on",
            "-device e1000-82545em,romfile=",
            "-device rtl8139,rombar=0",
        ],
        primary: &[],
        own_sizes: false,
    },
    Scenario {
        name: "i440fx-virtio-family",
        machine: "pc",
        devices: &[
            "-device virtio-rng-pci",
            "-device virtio-balloon-pci",
            "-device virtio-scsi-pci",
            "-device virtio-serial-pci",
            "-device virtio-keyboard-pci",
            "-device virtio-iommu-pci",
            "-device virtio-rng-pci,disable-modern=on",
            "-device qemu-xhci",
            "-device rtl8139",
            "-device secondary-vga",
        ],
        primary: &[],
        own_sizes: true,
    },
    Scenario {
        name: "q35-switch",
        machine: "q35",
        devices: &[
            "-device ioh3420,id=ioh1,chassis=1,slot=1",
            "-device x3130-upstream,id=up1,bus=ioh1",
            "-device xio3130-downstream,id=dn1,bus=up1,chassis=2,slot=0",
            "-device virtio-net-pci,bus=dn1",
        ],
        primary: &[
            "ioh-3240-express-root-port",
            "xio3130-express-upstream-port",
            "xio3130-express-downstream-port",
        ],
        own_sizes: true,
    },
    Scenario {
        name: "q35-simple-devices",
        machine: "q35",
        devices: &[
            "-audiodev none,id=snd0",
            "-device usb-ehci",
            "-device ich9-usb-ehci1",
            "-device ich9-usb-uhci1",
            "-device piix3-usb-uhci",
            "-device AC97,audiodev=snd0",
            "-device ES1370,audiodev=snd0",
            "-device lsi53c895a",
            "-device pcnet",
            "-device ne2k_pci",
            "-device i6300esb",
        ],
        primary: &[],
        own_sizes: true,
    },
    Scenario {
        name: "q35-9.1",
        machine: "pc-q35-9.1",
        devices: &[
            "-device pcie-root-port,id=rp1,chassis=1",
            "-device virtio-net-pci,bus=rp1",
            "-device e1000e",
        ],
        primary: &[],
        own_sizes: true,
    },
    Scenario {
        name: "q35-7.2",
        machine: "pc-q35-7.2",
        devices: &[
            "-device pcie-root-port,id=rp1,chassis=1",
            "-device virtio-net-pci,bus=rp1,aer=on",
        ],
        primary: &[],
        own_sizes: true,
    },
];

/// One device of a saved stream.
pub struct Dev {
    pub idstr: String,
    pub section_index: usize,
    pub config_offset: u64,
    pub config: Vec<u8>,
    pub model: EmulatedDevice,
}

pub struct Prepared {
    pub scenario: &'static Scenario,
    pub dir: TempDir,
    pub base: Vec<u8>,
    pub devs: Vec<Dev>,
}

/// A mutation: (device index, config offset, new byte) triples.
#[derive(Debug, Clone)]
pub struct Case {
    pub scenario: usize,
    pub label: String,
    pub patches: Vec<(usize, usize, u8)>,
}

pub fn std_caps(cfg: &[u8]) -> Vec<(u8, usize)> {
    pcimig_config::walk_std(cfg)
        .entries
        .iter()
        .map(|e| (e.id as u8, e.offset))
        .collect()
}

pub fn ext_caps(cfg: &[u8]) -> Vec<(u16, usize)> {
    if cfg.len() < 4096 {
        return vec![];
    }
    pcimig_config::walk_ext(cfg)
        .entries
        .iter()
        .map(|e| (e.id, e.offset))
        .collect()
}

/// Size of a standard capability for the sweep: up to the next capability, at most 0x3c.
pub fn cap_span(cfg: &[u8], off: usize) -> usize {
    let mut next = 0x100;
    for (_, o) in std_caps(cfg) {
        if o > off && o < next {
            next = o;
        }
    }
    (next - off).min(0x3c)
}

/// (machine, config) pairs already mutated, plus the `…/full-sweep` keys of swept device models.
pub type Seen = std::collections::HashSet<(String, Vec<u8>)>;

/// The chipset devices are the same in every scenario of a machine: mutate them in the two
/// scenarios that list them as primary (q35-root-bus samples them, i440fx sweeps them).
pub const CHIPSET: &[&str] = &[
    "mch",
    "ICH9LPC",
    "ich9_ahci",
    "ich9_smb",
    "I440FX",
    "PIIX3",
    "ide",
    "piix4_pm",
];

/// The header offsets of a sampled (not primary) device.
pub const SAMPLED_HEADER: &[usize] = &[
    0x00, 0x02, 0x04, 0x06, 0x08, 0x0a, 0x0e, 0x10, 0x14, 0x19, 0x1c, 0x24, 0x2c, 0x30, 0x34, 0x3c,
];

/// Partially checked bits (offset, bits): BAR low bits, Status, Command.
pub const PARTIAL_BITS: &[(usize, u8)] = &[
    (0x10, 0x08),
    (0x11, 0x01),
    (0x06, 0x10),
    (0x07, 0x01),
    (0x04, 0x40),
    (0x30, 0x02),
];

/// Bytes of every extended capability (all of them for AER, id 1; the first 8 for the others).
pub const EXT_CAP_BYTES: &[usize] = &[0, 2, 3, 4, 6, 8, 0x0c, 0x10, 0x14, 0x18, 0x19, 0x2c, 0x30, 0x33];

/// Bytes of extended config outside any capability.
pub const EXT_SPACE: &[usize] = &[0x100, 0x102, 0x200, 0x800, 0xffc];

/// The cases of one device of a scenario, labelled `scenario:idstr what`.
pub struct DeviceCases<'a> {
    pub out: &'a mut Vec<Case>,
    pub scenario: usize,
    pub prefix: String,
    pub di: usize,
    pub cfg: &'a [u8],
}

impl DeviceCases<'_> {
    pub fn add(&mut self, what: &str, patches: Vec<(usize, usize, u8)>) {
        self.out.push(Case {
            scenario: self.scenario,
            label: format!("{} {what}", self.prefix),
            patches,
        });
    }

    /// The patch that flips `bits` of this device's config byte at `off`.
    pub fn xor(&self, off: usize, bits: u8) -> (usize, usize, u8) {
        (self.di, off, self.cfg[off] ^ bits)
    }
}

/// The mutation cases of one scenario. A device whose (machine, config) was already mutated in an
/// earlier scenario (the same model, same masks) gets only a few cases.
pub fn mutations(si: usize, p: &Prepared, seen: &mut Seen) -> Vec<Case> {
    let mut out = Vec::new();
    for (di, d) in p.devs.iter().enumerate() {
        let vmsd = d.idstr.rsplit('/').next().unwrap_or("");
        // One full sweep per (machine, device model, size) in a run; further instances are sampled.
        let primary = p.scenario.primary.contains(&vmsd)
            && seen.insert((
                format!("{}/{vmsd}/{}/full-sweep", p.scenario.machine, d.config.len()),
                Vec::new(),
            ));
        if CHIPSET.contains(&vmsd) && !primary && p.scenario.name != "q35-root-bus" {
            continue;
        }
        let mut c = DeviceCases {
            out: &mut out,
            scenario: si,
            prefix: format!("{}:{}", p.scenario.name, d.idstr),
            di,
            cfg: &d.config,
        };
        if !primary && !seen.insert((p.scenario.machine.to_string(), d.config.clone())) {
            seen_device_cases(&mut c);
            continue;
        }
        header_cases(&mut c, primary);
        partial_bit_cases(&mut c);
        std_cap_cases(&mut c, primary);
        if d.config.len() == 4096 {
            ext_cap_cases(&mut c);
        }
        multi_byte_cases(&mut c);
    }
    multi_device_cases(si, p, &mut out);
    out
}

/// A device already mutated in an earlier scenario: its device ID, interrupt line and first
/// capability's next pointer.
pub fn seen_device_cases(c: &mut DeviceCases) {
    c.add("id (seen)", vec![c.xor(0x02, 0x01)]);
    c.add("line (seen)", vec![c.xor(0x3c, 0xff)]);
    if let Some(&(_, off)) = std_caps(c.cfg).first() {
        c.add("cap head (seen)", vec![c.xor(off + 2, 0xff)]);
    }
}

/// Header registers: every byte of a primary device, [`SAMPLED_HEADER`] of the others.
pub fn header_cases(c: &mut DeviceCases, primary: bool) {
    let header: Vec<usize> = if primary {
        (0..0x40).collect()
    } else {
        SAMPLED_HEADER.to_vec()
    };
    for off in header {
        if off == 0x3d {
            // Interrupt Pin: unchecked, but a pin outside 1-4 aborts QEMU when the device raises INTx.
            let pin = if c.cfg[off] == 1 { 2 } else { 1 };
            c.add(&format!("pin {off:#x}"), vec![(c.di, off, pin)]);
            continue;
        }
        c.add(&format!("hdr {off:#x} ^ff"), vec![c.xor(off, 0xff)]);
    }
}

/// Partially checked bits: [`PARTIAL_BITS`].
pub fn partial_bit_cases(c: &mut DeviceCases) {
    for &(off, x) in PARTIAL_BITS {
        c.add(&format!("bits {off:#x} ^{x:#x}"), vec![c.xor(off, x)]);
    }
}

/// Standard capabilities: the bytes [`std_cap_bytes`] picks of each.
pub fn std_cap_cases(c: &mut DeviceCases, primary: bool) {
    for (id, off) in std_caps(c.cfg) {
        for b in std_cap_bytes(id, cap_span(c.cfg, off), primary) {
            c.add(&format!("cap {id:#x}@{off:#x}+{b:#x} ^ff"), vec![c.xor(off + b, 0xff)]);
        }
    }
}

/// The bytes of a standard capability (id, `span` bytes long) to mutate.
pub fn std_cap_bytes(id: u8, span: usize, primary: bool) -> Vec<usize> {
    if primary && span <= 0x18 {
        (0..span).collect()
    } else if primary {
        // Long capabilities (PCIe): the first 0x14 bytes, then every register's low and
        // high byte.
        (0..span).filter(|&b| b < 0x14 || b % 2 == 0 || b % 4 == 3).collect()
    } else if id == 0x09 {
        // virtio vendor caps of a sampled device: header, bar, id, offset, length, data.
        [0usize, 1, 2, 3, 4, 5, 6, 8, 0x0c, 0x10, span.saturating_sub(1)]
            .into_iter()
            .filter(|&b| b < span)
            .collect()
    } else {
        [0usize, 1, 2, 3, 4, 8, span.saturating_sub(1)]
            .into_iter()
            .filter(|&b| b < span)
            .collect()
    }
}

/// Extended capabilities ([`EXT_CAP_BYTES`]) and extended config ([`EXT_SPACE`]).
pub fn ext_cap_cases(c: &mut DeviceCases) {
    for (id, off) in ext_caps(c.cfg) {
        for &b in EXT_CAP_BYTES {
            if off + b < 4096 && (id == 1 || b < 8) {
                c.add(&format!("ext {id:#x}@{off:#x}+{b:#x} ^ff"), vec![c.xor(off + b, 0xff)]);
            }
        }
    }
    for &off in EXT_SPACE {
        c.add(&format!("ext-space {off:#x} ^5a"), vec![c.xor(off, 0x5a)]);
    }
}

/// Several bytes at once: an unchecked byte, then checked ones (the lowest checked wins).
pub fn multi_byte_cases(c: &mut DeviceCases) {
    c.add(
        "multi 0x0c+0x2e+0x08",
        vec![c.xor(0x0c, 0xff), c.xor(0x2e, 1), c.xor(0x08, 1)],
    );
    c.add(
        "multi 0x3c+0x44+0x0b",
        vec![c.xor(0x3c, 0x0f), c.xor(0x44, 0xff), c.xor(0x0b, 0x80)],
    );
    if let Some(&(_, off)) = std_caps(c.cfg).first() {
        c.add(
            "multi cap-head+0x0d",
            vec![c.xor(0x0d, 0xff), c.xor(off + 2, 0xff), c.xor(off, 1)],
        );
    }
}

/// Several devices at once: every pair of adjacent devices, mutated in a checked byte (device
/// ID) or an unchecked one (interrupt line); QEMU stops at the first failing section.
pub fn multi_device_cases(si: usize, p: &Prepared, out: &mut Vec<Case>) {
    let n = p.devs.len();
    for i in 0..n.saturating_sub(1) {
        let (a, b) = (&p.devs[i], &p.devs[i + 1]);
        let name = format!("{}:multi-dev {} + {}", p.scenario.name, a.idstr, b.idstr);
        let mut add = |what: &str, patches: Vec<(usize, usize, u8)>| {
            out.push(Case {
                scenario: si,
                label: format!("{name} {what}"),
                patches,
            })
        };
        add("(id,id)", vec![(i, 2, a.config[2] ^ 1), (i + 1, 2, b.config[2] ^ 1)]);
        add(
            "(line,id)",
            vec![(i, 0x3c, a.config[0x3c] ^ 0xff), (i + 1, 0x02, b.config[2] ^ 0x80)],
        );
        add(
            "(id reversed)",
            vec![(i + 1, 0x03, b.config[3] ^ 0x10), (i, 0x0a, a.config[0x0a] ^ 0x01)],
        );
    }
}

/// pcimig's prediction for a mutated stream: first failing device in stream order and QEMU's line.
pub fn predict(p: &Prepared, mutated: &Path, bytes: &[u8]) -> Result<Option<(String, String)>, String> {
    let s = Stream::open(mutated).map_err(|e| e.to_string())?;
    let mut devs: Vec<_> = s.pci_devices().to_vec();
    devs.sort_by_key(|d| d.section_index);
    for e in devs {
        let Some(d) = p.devs.iter().find(|d| d.idstr == e.idstr) else {
            return Err(format!("{} not in the base stream", e.idstr));
        };
        // QEMU reads as many bytes as the *destination* config has (pci_config_size); the reader's
        // size for a virtio section is inferred from the saved bytes, which a mutation can fool.
        let saved = if e.config_size == d.model.space.size() {
            s.read_config(&e).map_err(|e| e.to_string())?
        } else {
            let at = d.config_offset as usize;
            bytes[at..at + d.model.space.size()].to_vec()
        };
        let r = restore_check(&saved, &d.model.space).map_err(|e| e.to_string())?;
        if let Some(line) = r.qemu_line() {
            return Ok(Some((e.idstr.clone(), line)));
        }
    }
    Ok(None)
}

pub fn prepare(sc: &'static Scenario) -> Result<Prepared, String> {
    let dir = TempDir::new(sc.name);
    let base_path = dir.0.join("base.mig");
    let pci = save_stream(&qemu_bin(), sc.machine, sc.devices, &dir.0, &base_path)?;
    let qp = QueryPci::parse(&pci.to_string()).map_err(|e| e.to_string())?;
    // The destination's stream, opened as `check --emulated` opens its --dest: devices only.
    let stream = Stream::open_devices(&base_path).map_err(|e| e.to_string())?;
    let machine = stream
        .machine_type()
        .ok_or("stream without a machine type")?
        .to_string();
    let roms = RomFiles::from_data_dirs(&qemu_data_dirs());
    let mut devs = Vec::new();
    for e in stream.pci_devices() {
        let config = stream.read_config(e).map_err(|e| e.to_string())?;
        let model = build_destination(&Destination {
            idstr: &e.idstr,
            config: &config,
            machine: &machine,
            query_pci: Some(&qp),
            rom_files: &roms,
            qemu: pcimig_qemu::devices::QemuVersion::DEFAULT,
        })
        .map_err(|err| format!("{}: {err}", sc.name))?;
        // Without query-pci the table's own BAR sizes (and the ROM file's size) must give the same masks.
        let own = build_destination(&Destination {
            idstr: &e.idstr,
            config: &config,
            machine: &machine,
            query_pci: None,
            rom_files: &roms,
            qemu: pcimig_qemu::devices::QemuVersion::DEFAULT,
        })
        .map_err(|err| format!("{} (no query-pci): {err}", sc.name))?;
        for (a, name) in [
            (Array::Cmask, "cmask"),
            (Array::Wmask, "wmask"),
            (Array::W1cmask, "w1cmask"),
        ] {
            if sc.own_sizes && own.space.array(a) != model.space.array(a) {
                let i = (0..config.len())
                    .find(|&i| own.space.array(a)[i] != model.space.array(a)[i])
                    .unwrap_or(0);
                return Err(format!(
                    "{}: {}: {name} at {i:#x} differs without query-pci ({:#x}) and with it ({:#x})",
                    sc.name,
                    e.idstr,
                    own.space.array(a)[i],
                    model.space.array(a)[i]
                ));
            }
        }
        devs.push(Dev {
            idstr: e.idstr.clone(),
            section_index: e.section_index,
            config_offset: e.config_offset,
            config,
            model,
        });
    }
    devs.sort_by_key(|d| d.section_index);
    // Every device query-pci lists has a PCI section in the stream.
    for q in &qp.devices {
        if !devs.iter().any(|d| d.idstr.split('/').next() == Some(q.path.as_str())) {
            return Err(format!(
                "{}: query-pci device {} ({:04x}:{:04x}) has no PCI section in the stream",
                sc.name, q.path, q.vendor, q.device
            ));
        }
    }
    let base = std::fs::read(&base_path).map_err(|e| e.to_string())?;
    let _ = std::fs::remove_file(&base_path);
    Ok(Prepared {
        scenario: sc,
        dir,
        base,
        devs,
    })
}

pub fn run_case(p: &Prepared, case: &Case, n: usize) -> Result<(Outcome, Option<(String, String)>), String> {
    let mut bytes = p.base.clone();
    for &(di, off, val) in &case.patches {
        let d = &p.devs[di];
        bytes[d.config_offset as usize + off] = val;
    }
    let path = p.dir.0.join(format!("m{n}.mig"));
    std::fs::write(&path, &bytes).map_err(|e| e.to_string())?;
    let predicted = predict(p, &path, &bytes);
    let outcome = load_stream(&qemu_bin(), p.scenario.machine, p.scenario.devices, &p.dir.0, &path);
    let _ = std::fs::remove_file(&path);
    Ok((outcome, predicted?))
}

pub fn agrees(outcome: &Outcome, predicted: &Option<(String, String)>) -> bool {
    match (outcome, predicted) {
        (Outcome::BadConfig { line, idstr }, Some((pi, pl))) => line == pl && idstr == pi,
        (Outcome::Loaded, None) => true,
        // The config check passed and something after it (post-load) failed: still a pass for the
        // config-space check.
        (Outcome::OtherFailure(_), None) => true,
        _ => false,
    }
}

/// Runs `f` on every item with `jobs` worker threads taking items from one queue; the results
/// come back in the items' order.
pub fn run_parallel<T: Send, R: Send>(items: Vec<T>, jobs: usize, f: impl Fn(T) -> R + Sync) -> Vec<R> {
    let queue = Mutex::new(items.into_iter().enumerate().collect::<VecDeque<_>>());
    let results = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| loop {
                let Some((i, item)) = queue.lock().unwrap().pop_front() else {
                    break;
                };
                let r = f(item);
                results.lock().unwrap().push((i, r));
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|x| x.0);
    results.into_iter().map(|(_, r)| r).collect()
}

/// `PCIMIG_QEMU_JOBS`, default 3.
pub fn qemu_jobs() -> usize {
    std::env::var("PCIMIG_QEMU_JOBS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3)
}

/// Prepares the scenarios (source VMs) in parallel. `PCIMIG_QEMU_ONLY=name[,name]`: only these
/// scenarios (for development).
pub fn prepare_scenarios(jobs: usize) -> Vec<Prepared> {
    let only = std::env::var("PCIMIG_QEMU_ONLY").ok();
    let selected: Vec<&'static Scenario> = SCENARIOS
        .iter()
        .filter(|s| only.as_deref().is_none_or(|o| o.split(',').any(|n| n == s.name)))
        .collect();
    run_parallel(selected, jobs, prepare)
        .into_iter()
        .map(|r| r.unwrap_or_else(|e| panic!("preparing a scenario: {e}")))
        .collect()
}

/// Prints every device's model and returns the mutation cases of all scenarios and the number of
/// devices.
pub fn build_cases(ps: &[Prepared]) -> (Vec<Case>, usize) {
    let mut cases = Vec::new();
    let mut seen = Seen::new();
    let mut devices = 0;
    for (i, p) in ps.iter().enumerate() {
        devices += p.devs.len();
        for d in &p.devs {
            println!("{}: {} -> {}", p.scenario.name, d.idstr, d.model);
        }
        cases.extend(mutations(i, p, &mut seen));
    }
    (cases, devices)
}

/// `PCIMIG_QEMU_DRY`: the number of cases per scenario:device.
pub fn print_dry_summary(cases: &[Case]) {
    let mut per: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for c in cases {
        let key = c.label.split(' ').next().unwrap_or("").to_string();
        *per.entry(key).or_default() += 1;
    }
    for (k, n) in per {
        println!("  {n:5} {k}");
    }
    println!("PCIMIG_QEMU_DRY: not loading");
}

pub type CaseResult = Result<(Outcome, Option<(String, String)>), String>;

/// QEMU's outcomes counted, and the cases where pcimig disagrees.
#[derive(Default)]
pub struct Tally {
    pub agree: usize,
    pub rejected: usize,
    pub loaded: usize,
    pub other: usize,
    pub failures: Vec<String>,
}

impl Tally {
    pub fn of(cases: &[Case], results: &[CaseResult]) -> Tally {
        let mut t = Tally::default();
        for (case, r) in cases.iter().zip(results) {
            match r {
                Ok((o, p)) => {
                    match o {
                        Outcome::BadConfig { .. } => t.rejected += 1,
                        Outcome::Loaded => t.loaded += 1,
                        Outcome::OtherFailure(_) => t.other += 1,
                    }
                    if agrees(o, p) {
                        t.agree += 1;
                    } else {
                        t.failures.push(format!("{}: QEMU {o:?}, pcimig {p:?}", case.label));
                    }
                }
                Err(e) => t.failures.push(format!("{}: harness error {e}", case.label)),
            }
        }
        t
    }
}
