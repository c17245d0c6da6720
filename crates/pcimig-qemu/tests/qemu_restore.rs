//! Real QEMU as the ground truth: pcimig's restore verdict must equal QEMU 10.0.2's.
//!
//! For each scenario (a machine type and a set of `-device`s), the test starts
//! `qemu-system-x86_64` (TCG, `-nodefaults -display none -S -m 32M`, no network, QMP on a unix
//! socket in a temp dir), takes `query-pci`, saves the VM with `migrate` to a `file:` URI, and
//! reads the stream with [`pcimig_qemu::Stream`]. Every PCI device of the stream gets a
//! destination model from the device table, built from the *unmutated* stream of the same command
//! line (the destination's current config) and the machine type.
//!
//! Then config bytes are mutated inside copies of the stream, at the reader's config offsets
//! (header registers, capability bytes, virtio vendor capabilities, extended config, several
//! bytes at once, several devices at once), and each copy is loaded with `-incoming file:` into
//! the same command line. QEMU's outcome (its `Bad config data: i=0x…` line and the section it
//! names, or a completed load) must equal pcimig's prediction: restore_check of each device's
//! saved config against its model, first failure in stream order. The suite prints
//! `agreement: N/M cases` and fails on any disagreement.
//!
//! Nothing is cached across runs. Without qemu-system-x86_64 10.0.x the test is skipped with a
//! printed reason; `PCIMIG_SKIP_QEMU=1` skips it on purpose (e.g. for a quick local `cargo test`).
//! `PCIMIG_QEMU_JOBS` sets the number of concurrent QEMU processes (default 3);
//! `PCIMIG_QEMU_BIN` the binary; `PCIMIG_QEMU_ONLY=a,b` runs only the named scenarios;
//! `PCIMIG_QEMU_DRY=1` saves and models the scenarios, counts the cases and loads nothing.

use pcimig_config::{restore_check, Array};
use pcimig_qemu::devices::{build_destination, qemu_data_dirs, Destination, EmulatedDevice, QueryPci, RomFiles};
use pcimig_qemu::Stream;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

// ---- QEMU process + QMP -----------------------------------------------------------------------------

#[path = "support/qemu.rs"]
mod support;
use support::{base_args, qemu_bin, skip_reason, Qmp};

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
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

fn qemu_command(machine: &str, devices: &[String], sock: &Path) -> Command {
    let mut c = Command::new(qemu_bin());
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

fn read_stderr(child: &mut Child) -> String {
    let mut s = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut s);
    }
    s
}

/// Start the source, query-pci, migrate to `file:out`, quit. Returns the query-pci answer.
fn save_stream(machine: &str, devices: &[String], dir: &Path, out: &Path) -> Result<Value, String> {
    let sock = dir.join("src.sock");
    let mut child = qemu_command(machine, devices, &sock)
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
        .cmd("migrate", json!({"uri": format!("file:{}", out.display())}))
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
enum Outcome {
    /// Loaded (the destination left `inmigrate`).
    Loaded,
    /// get_pci_config_device failed: its line and the section named by the error chain.
    BadConfig { line: String, idstr: String },
    /// Failed otherwise (exit status, last stderr lines).
    OtherFailure(String),
}

fn load_stream(machine: &str, devices: &[String], dir: &Path, stream: &Path) -> Outcome {
    let sock = dir.join(format!(
        "d{}.sock",
        stream.file_stem().unwrap_or_default().to_string_lossy()
    ));
    let mut cmd = qemu_command(machine, devices, &sock);
    cmd.arg("-incoming").arg(format!("file:{}", stream.display()));
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

struct Scenario {
    name: &'static str,
    machine: &'static str,
    devices: Vec<String>,
    /// Devices (idstr suffix after '/') whose header and capabilities get the full sweep.
    primary: Vec<&'static str>,
    /// The table's own BAR/ROM sizes must equal query-pci's (false when `romfile=`/`rombar=0` hide
    /// the ROM, which only query-pci shows).
    own_sizes: bool,
}

fn scenarios() -> Vec<Scenario> {
    let d = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let blk = "-blockdev null-co,node-name=nb0 -blockdev null-co,node-name=nb1";
    vec![
        Scenario {
            name: "q35-root-bus",
            machine: "q35",
            devices: d(&[
                "-device e1000",
                "-device e1000e",
                "-device virtio-net-pci",
                "-device qemu-xhci",
                "-device ich9-intel-hda",
                "-device VGA",
            ]),
            primary: vec!["e1000", "e1000e", "virtio-net", "xhci"],
            own_sizes: true,
        },
        Scenario {
            name: "q35-root-ports",
            machine: "q35",
            devices: d(&[
                blk,
                "-device pcie-root-port,id=rp1,chassis=1,slot=1",
                "-device pcie-root-port,id=rp2,chassis=2,slot=2",
                "-device pcie-root-port,id=rp3,chassis=3,slot=3",
                "-device virtio-net-pci,bus=rp1,aer=on,ats=on",
                "-device virtio-blk-pci,bus=rp2,drive=nb0",
                "-device qemu-xhci,bus=rp3",
                "-device pcie-pci-bridge,id=pb1",
                "-device e1000,bus=pb1,addr=1",
            ]),
            primary: vec!["pcie-root-port", "virtio-net", "virtio-blk", "pcie-pci-bridge"],
            own_sizes: true,
        },
        Scenario {
            name: "q35-legacy-modern-bridge",
            machine: "q35",
            devices: d(&[
                blk,
                "-device virtio-net-pci,disable-legacy=on",
                "-device virtio-blk-pci,disable-modern=on,drive=nb0",
                "-device rtl8139",
                "-device vmxnet3",
                "-device nec-usb-xhci",
                "-device pci-bridge,id=br1,chassis_nr=1",
                "-device e1000,bus=br1,addr=1",
            ]),
            primary: vec!["pci_bridge", "virtio-blk", "rtl8139", "vmxnet3"],
            own_sizes: true,
        },
        Scenario {
            name: "i440fx",
            machine: "pc",
            devices: d(&[
                blk,
                "-device e1000",
                "-device virtio-net-pci",
                "-device virtio-blk-pci,drive=nb0",
                "-device intel-hda",
                "-device e1000e",
                "-device vmxnet3",
                "-device pci-bridge,id=br1,chassis_nr=1",
                "-device virtio-net-pci,bus=br1,addr=2,disable-legacy=on",
            ]),
            primary: vec!["PIIX3", "ide", "intel-hda", "piix4_pm", "I440FX"],
            own_sizes: true,
        },
        Scenario {
            // Properties the table reads back from the destination's bytes.
            name: "q35-properties",
            machine: "q35",
            devices: d(&[
                blk,
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
            ]),
            primary: vec![],
            own_sizes: false,
        },
        Scenario {
            name: "i440fx-virtio-family",
            machine: "pc",
            devices: d(&[
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
            ]),
            primary: vec![],
            own_sizes: true,
        },
        Scenario {
            name: "q35-switch",
            machine: "q35",
            devices: d(&[
                "-device ioh3420,id=ioh1,chassis=1,slot=1",
                "-device x3130-upstream,id=up1,bus=ioh1",
                "-device xio3130-downstream,id=dn1,bus=up1,chassis=2,slot=0",
                "-device virtio-net-pci,bus=dn1",
            ]),
            primary: vec![
                "ioh-3240-express-root-port",
                "xio3130-express-upstream-port",
                "xio3130-express-downstream-port",
            ],
            own_sizes: true,
        },
        Scenario {
            name: "q35-simple-devices",
            machine: "q35",
            devices: d(&[
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
            ]),
            primary: vec![],
            own_sizes: true,
        },
        Scenario {
            name: "q35-9.1",
            machine: "pc-q35-9.1",
            devices: d(&[
                "-device pcie-root-port,id=rp1,chassis=1",
                "-device virtio-net-pci,bus=rp1",
                "-device e1000e",
            ]),
            primary: vec![],
            own_sizes: true,
        },
        Scenario {
            name: "q35-7.2",
            machine: "pc-q35-7.2",
            devices: d(&[
                "-device pcie-root-port,id=rp1,chassis=1",
                "-device virtio-net-pci,bus=rp1,aer=on",
            ]),
            primary: vec![],
            own_sizes: true,
        },
    ]
}

/// One device of a saved stream.
struct Dev {
    idstr: String,
    section_index: usize,
    config_offset: u64,
    config: Vec<u8>,
    model: EmulatedDevice,
}

struct Prepared {
    scenario: Scenario,
    dir: TempDir,
    base: Vec<u8>,
    devs: Vec<Dev>,
}

/// A mutation: (device index, config offset, new byte) triples.
#[derive(Debug, Clone)]
struct Case {
    scenario: usize,
    label: String,
    patches: Vec<(usize, usize, u8)>,
}

fn std_caps(cfg: &[u8]) -> Vec<(u8, usize)> {
    pcimig_config::walk_std(cfg)
        .entries
        .iter()
        .map(|e| (e.id as u8, e.offset))
        .collect()
}

fn ext_caps(cfg: &[u8]) -> Vec<(u16, usize)> {
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
fn cap_span(cfg: &[u8], off: usize) -> usize {
    let mut next = 0x100;
    for (_, o) in std_caps(cfg) {
        if o > off && o < next {
            next = o;
        }
    }
    (next - off).min(0x3c)
}

/// The mutation cases of one scenario. A device whose (machine, config) was already mutated in an
/// earlier scenario (the same model, same masks) gets only a few cases.
fn mutations(si: usize, p: &Prepared, seen: &mut std::collections::HashSet<(String, Vec<u8>)>) -> Vec<Case> {
    let mut out = Vec::new();
    let mut add = |label: String, patches: Vec<(usize, usize, u8)>| {
        out.push(Case {
            scenario: si,
            label,
            patches,
        })
    };
    // The chipset devices are the same in every scenario of a machine: mutate them in the two
    // scenarios that list them as primary (q35-root-bus samples them, i440fx sweeps them).
    const CHIPSET: &[&str] = &[
        "mch",
        "ICH9LPC",
        "ich9_ahci",
        "ich9_smb",
        "I440FX",
        "PIIX3",
        "ide",
        "piix4_pm",
    ];
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
        let cfg = &d.config;
        if !primary && !seen.insert((p.scenario.machine.to_string(), cfg.clone())) {
            let tag = |what: &str| format!("{}:{} {} (seen)", p.scenario.name, d.idstr, what);
            add(tag("id"), vec![(di, 0x02, cfg[0x02] ^ 0x01)]);
            add(tag("line"), vec![(di, 0x3c, cfg[0x3c] ^ 0xff)]);
            if let Some(&(_, off)) = std_caps(cfg).first() {
                add(tag("cap head"), vec![(di, off + 2, cfg[off + 2] ^ 0xff)]);
            }
            continue;
        }
        let tag = |what: String| format!("{}:{} {}", p.scenario.name, d.idstr, what);
        // Header registers.
        let header: Vec<usize> = if primary {
            (0..0x40).collect()
        } else {
            vec![
                0x00, 0x02, 0x04, 0x06, 0x08, 0x0a, 0x0e, 0x10, 0x14, 0x19, 0x1c, 0x24, 0x2c, 0x30, 0x34, 0x3c,
            ]
        };
        for off in header {
            if off == 0x3d {
                // Interrupt Pin: unchecked, but a pin outside 1-4 aborts QEMU when the device raises INTx.
                add(
                    tag(format!("pin {off:#x}")),
                    vec![(di, off, if cfg[off] == 1 { 2 } else { 1 })],
                );
                continue;
            }
            add(tag(format!("hdr {off:#x} ^ff")), vec![(di, off, cfg[off] ^ 0xff)]);
        }
        // Partially checked bits: BAR low bits, Status, Command.
        for (off, x) in [
            (0x10, 0x08),
            (0x11, 0x01),
            (0x06, 0x10),
            (0x07, 0x01),
            (0x04, 0x40),
            (0x30, 0x02),
        ] {
            add(tag(format!("bits {off:#x} ^{x:#x}")), vec![(di, off, cfg[off] ^ x)]);
        }
        // Standard capabilities.
        for (id, off) in std_caps(cfg) {
            let span = cap_span(cfg, off);
            let bytes: Vec<usize> = if primary && span <= 0x18 {
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
            };
            for b in bytes {
                add(
                    tag(format!("cap {id:#x}@{off:#x}+{b:#x} ^ff")),
                    vec![(di, off + b, cfg[off + b] ^ 0xff)],
                );
            }
        }
        // Extended capabilities and extended config.
        if cfg.len() == 4096 {
            for (id, off) in ext_caps(cfg) {
                for b in [0usize, 2, 3, 4, 6, 8, 0x0c, 0x10, 0x14, 0x18, 0x19, 0x2c, 0x30, 0x33] {
                    if off + b < 4096 && (id == 1 || b < 8) {
                        add(
                            tag(format!("ext {id:#x}@{off:#x}+{b:#x} ^ff")),
                            vec![(di, off + b, cfg[off + b] ^ 0xff)],
                        );
                    }
                }
            }
            for off in [0x100usize, 0x102, 0x200, 0x800, 0xffc] {
                add(tag(format!("ext-space {off:#x} ^5a")), vec![(di, off, cfg[off] ^ 0x5a)]);
            }
        }
        // Several bytes at once: an unchecked byte, then checked ones (the lowest checked wins).
        add(
            tag("multi 0x0c+0x2e+0x08".into()),
            vec![
                (di, 0x0c, cfg[0x0c] ^ 0xff),
                (di, 0x2e, cfg[0x2e] ^ 1),
                (di, 0x08, cfg[0x08] ^ 1),
            ],
        );
        add(
            tag("multi 0x3c+0x44+0x0b".into()),
            vec![
                (di, 0x3c, cfg[0x3c] ^ 0x0f),
                (di, 0x44, cfg[0x44] ^ 0xff),
                (di, 0x0b, cfg[0x0b] ^ 0x80),
            ],
        );
        if let Some(&(_, off)) = std_caps(cfg).first() {
            add(
                tag("multi cap-head+0x0d".into()),
                vec![
                    (di, 0x0d, cfg[0x0d] ^ 0xff),
                    (di, off + 2, cfg[off + 2] ^ 0xff),
                    (di, off, cfg[off] ^ 1),
                ],
            );
        }
    }
    // Several devices at once: every pair of adjacent devices, mutated in a checked byte (device
    // ID) or an unchecked one (interrupt line); QEMU stops at the first failing section.
    let n = p.devs.len();
    for i in 0..n.saturating_sub(1) {
        let (a, b) = (&p.devs[i], &p.devs[i + 1]);
        let name = format!("{}:multi-dev {} + {}", p.scenario.name, a.idstr, b.idstr);
        add(
            format!("{name} (id,id)"),
            vec![(i, 2, a.config[2] ^ 1), (i + 1, 2, b.config[2] ^ 1)],
        );
        add(
            format!("{name} (line,id)"),
            vec![(i, 0x3c, a.config[0x3c] ^ 0xff), (i + 1, 0x02, b.config[2] ^ 0x80)],
        );
        add(
            format!("{name} (id reversed)"),
            vec![(i + 1, 0x03, b.config[3] ^ 0x10), (i, 0x0a, a.config[0x0a] ^ 0x01)],
        );
    }
    out
}

/// pcimig's prediction for a mutated stream: first failing device in stream order and QEMU's line.
fn predict(p: &Prepared, mutated: &Path, bytes: &[u8]) -> Result<Option<(String, String)>, String> {
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

fn prepare(sc: Scenario) -> Result<Prepared, String> {
    let dir = TempDir::new(sc.name);
    let base_path = dir.0.join("base.mig");
    let pci = save_stream(sc.machine, &sc.devices, &dir.0, &base_path)?;
    let qp = QueryPci::parse(&pci.to_string()).map_err(|e| e.to_string())?;
    let stream = Stream::open(&base_path).map_err(|e| e.to_string())?;
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
        })
        .map_err(|err| format!("{}: {err}", sc.name))?;
        // Without query-pci the table's own BAR sizes (and the ROM file's size) must give the same masks.
        let own = build_destination(&Destination {
            idstr: &e.idstr,
            config: &config,
            machine: &machine,
            query_pci: None,
            rom_files: &roms,
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

fn run_case(p: &Prepared, case: &Case, n: usize) -> Result<(Outcome, Option<(String, String)>), String> {
    let mut bytes = p.base.clone();
    for &(di, off, val) in &case.patches {
        let d = &p.devs[di];
        bytes[d.config_offset as usize + off] = val;
    }
    let path = p.dir.0.join(format!("m{n}.mig"));
    std::fs::write(&path, &bytes).map_err(|e| e.to_string())?;
    let predicted = predict(p, &path, &bytes);
    let outcome = load_stream(p.scenario.machine, &p.scenario.devices, &p.dir.0, &path);
    let _ = std::fs::remove_file(&path);
    Ok((outcome, predicted?))
}

fn agrees(outcome: &Outcome, predicted: &Option<(String, String)>) -> bool {
    match (outcome, predicted) {
        (Outcome::BadConfig { line, idstr }, Some((pi, pl))) => line == pl && idstr == pi,
        (Outcome::Loaded, None) => true,
        // The config check passed and something after it (post-load) failed: still a pass for the
        // config-space check.
        (Outcome::OtherFailure(_), None) => true,
        _ => false,
    }
}

#[test]
fn qemu_restore_verdicts_equal_pcimig() {
    if std::env::var_os("PCIMIG_SKIP_QEMU").is_some() {
        println!("SKIPPED: PCIMIG_SKIP_QEMU is set");
        return;
    }
    if let Some(why) = skip_reason() {
        println!("SKIPPED: real-QEMU suite needs qemu-system-x86_64 10.0.x: {why}");
        return;
    }
    let start = Instant::now();
    let jobs: usize = std::env::var("PCIMIG_QEMU_JOBS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    // Prepare the scenarios (source VMs) in parallel.
    // PCIMIG_QEMU_ONLY=name[,name]: run only these scenarios (for development).
    let only = std::env::var("PCIMIG_QEMU_ONLY").ok();
    let selected: VecDeque<_> = scenarios()
        .into_iter()
        .filter(|s| only.as_deref().is_none_or(|o| o.split(',').any(|n| n == s.name)))
        .enumerate()
        .collect();
    let queue = Arc::new(Mutex::new(selected));
    type Slot = (usize, Result<Prepared, String>);
    let prepared: Arc<Mutex<Vec<Slot>>> = Arc::new(Mutex::new(Vec::new()));
    std::thread::scope(|s| {
        for _ in 0..jobs {
            let queue = Arc::clone(&queue);
            let prepared = Arc::clone(&prepared);
            s.spawn(move || loop {
                let Some((i, sc)) = queue.lock().unwrap().pop_front() else {
                    break;
                };
                let r = prepare(sc);
                prepared.lock().unwrap().push((i, r));
            });
        }
    });
    let mut prepared = Arc::try_unwrap(prepared).ok().unwrap().into_inner().unwrap();
    prepared.sort_by_key(|x| x.0);
    let mut ps = Vec::new();
    for (_, r) in prepared {
        ps.push(r.unwrap_or_else(|e| panic!("preparing a scenario: {e}")));
    }
    let mut cases = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut devices = 0;
    for (i, p) in ps.iter().enumerate() {
        devices += p.devs.len();
        for d in &p.devs {
            println!("{}: {} -> {}", p.scenario.name, d.idstr, d.model);
        }
        cases.extend(mutations(i, p, &mut seen));
    }
    println!(
        "{} scenarios, {devices} PCI devices, {} mutation cases, {jobs} QEMU processes at a time",
        ps.len(),
        cases.len()
    );
    let total = cases.len();
    if std::env::var_os("PCIMIG_QEMU_DRY").is_some() {
        let mut per: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
        for c in &cases {
            let key = c.label.split(' ').next().unwrap_or("").to_string();
            *per.entry(key).or_default() += 1;
        }
        for (k, n) in per {
            println!("  {n:5} {k}");
        }
        println!("PCIMIG_QEMU_DRY: not loading");
        return;
    }
    let queue = Arc::new(Mutex::new(cases.into_iter().enumerate().collect::<VecDeque<_>>()));
    type Res = (Case, Result<(Outcome, Option<(String, String)>), String>);
    let results: Arc<Mutex<Vec<Res>>> = Arc::new(Mutex::new(Vec::new()));
    std::thread::scope(|s| {
        for _ in 0..jobs {
            let queue = Arc::clone(&queue);
            let results = Arc::clone(&results);
            let ps = &ps;
            s.spawn(move || loop {
                let Some((n, case)) = queue.lock().unwrap().pop_front() else {
                    break;
                };
                let r = run_case(&ps[case.scenario], &case, n);
                results.lock().unwrap().push((case, r));
            });
        }
    });
    let results = Arc::try_unwrap(results).ok().unwrap().into_inner().unwrap();
    let mut agree = 0;
    let (mut rejected, mut loaded, mut other) = (0, 0, 0);
    let mut failures = Vec::new();
    for (case, r) in &results {
        match r {
            Ok((o, p)) => {
                match o {
                    Outcome::BadConfig { .. } => rejected += 1,
                    Outcome::Loaded => loaded += 1,
                    Outcome::OtherFailure(_) => other += 1,
                }
                if agrees(o, p) {
                    agree += 1;
                } else {
                    failures.push(format!("{}: QEMU {o:?}, pcimig {p:?}", case.label));
                }
            }
            Err(e) => failures.push(format!("{}: harness error {e}", case.label)),
        }
    }
    for f in &failures {
        println!("DISAGREE {f}");
    }
    println!(
        "agreement: {agree}/{total} cases (QEMU rejected {rejected}, loaded {loaded}, failed after the config \
         check {other}); {:.0} s",
        start.elapsed().as_secs_f64()
    );
    assert!(failures.is_empty(), "{} of {total} cases disagree", failures.len());
}
