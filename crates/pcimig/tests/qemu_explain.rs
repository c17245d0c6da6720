//! `pcimig explain` against real QEMU 10.0.x: a q35 VM with an e1000e (with its option ROM)
//! behind nothing and a pcie-root-port is saved; single config bytes of the stream are flipped
//! (a header register, a PCI Express capability register of each device) and the destination's
//! ROM file padded; the destination QEMU loads each and its stderr goes to `explain`, which must
//! name the offset and the device QEMU failed on, with the register the check names at that
//! offset. With the saved stream and the destination's own stream, the re-run check must fail
//! first at QEMU's offset. Skipped (with a printed reason) when QEMU 10.0.x is missing or
//! PCIMIG_SKIP_QEMU is set; under CI (`CI` set) a missing QEMU fails instead.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[path = "../../pcimig-qemu/tests/support/qemu.rs"]
mod support;
use support::{base_args, qemu_bin, skip_reason, Qmp};

/// The e1000e's ROM file in the host's data directories.
const E1000E_ROM: &str = "/usr/lib/ipxe/qemu/efi-e1000e.rom";

fn devices(romfile: &str) -> String {
    format!("-device e1000e,addr=0x3,romfile={romfile} -device pcie-root-port,id=rp1,chassis=1,addr=0x4")
}

fn skip() -> bool {
    let Some(why) = skip_reason() else { return false };
    if std::env::var_os("CI").is_some() && std::env::var_os("PCIMIG_SKIP_QEMU").is_none() {
        panic!("real QEMU is required under CI: {why}");
    }
    println!("SKIPPED: {why}");
    true
}

struct Dir(PathBuf);
impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn qemu(devs: &str, sock: &Path) -> Command {
    let mut c = Command::new(qemu_bin());
    c.args(base_args("q35"))
        .args(["-nic", "none", "-serial", "none", "-monitor", "none"]);
    c.args(devs.split(' '));
    c.arg("-qmp").arg(format!("unix:{},server=on,wait=off", sock.display()));
    c.stdin(Stdio::null()).stdout(Stdio::null());
    c
}

fn save(d: &Path, devs: &str, out: &Path) {
    let sock = d.join("s.sock");
    let mut child = qemu(devs, &sock).stderr(Stdio::null()).spawn().unwrap();
    let mut q = Qmp::connect(&sock, &mut child, Instant::now() + Duration::from_secs(30), None).unwrap();
    q.cmd("migrate", json!({"uri": format!("file:{}", out.display())}));
    while q.cmd("query-migrate", json!({})).unwrap()["status"] != "completed" {
        std::thread::sleep(Duration::from_millis(20));
    }
    q.cmd("quit", json!({}));
    child.wait().unwrap();
    let _ = std::fs::remove_file(&sock);
}

/// Load `stream` into a destination with `devs`: QEMU's stderr once it has left `inmigrate`.
fn load(d: &Path, devs: &str, stream: &Path) -> String {
    let sock = d.join("d.sock");
    let mut child = qemu(devs, &sock)
        .arg("-incoming")
        .arg(format!("file:{}", stream.display()))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(mut q) = Qmp::connect(&sock, &mut child, Instant::now() + Duration::from_secs(30), None) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while let Some(st) = q.cmd("query-status", json!({})) {
            if st["status"] != "inmigrate" || Instant::now() > deadline {
                q.cmd("quit", json!({}));
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    let out = child.wait_with_output().unwrap();
    let _ = std::fs::remove_file(&sock);
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The offset and section QEMU's own lines name (read here without pcimig).
fn qemu_failure(stderr: &str) -> (Option<usize>, Option<String>) {
    let offset = stderr.split("Bad config data: i=0x").nth(1).and_then(|r| {
        let hex: String = r.chars().take_while(char::is_ascii_hexdigit).collect();
        usize::from_str_radix(&hex, 16).ok()
    });
    let device = stderr
        .split("of device '")
        .nth(1)
        .and_then(|r| r.split('\'').next())
        .map(str::to_string);
    (offset, device)
}

fn explain(log: &Path, extra: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_pcimig"))
        .arg("explain")
        .arg(log)
        .arg("--json")
        .args(extra)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The config offset of `idstr` in a stream, from `pcimig stream ls --json`.
fn config_offset(stream: &Path, idstr: &str) -> u64 {
    let out = Command::new(env!("CARGO_BIN_EXE_pcimig"))
        .args(["stream", "ls", "--json"])
        .arg(stream)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let devs = v["devices"].as_array().unwrap();
    let d = devs.iter().find(|d| d["idstr"] == idstr).unwrap();
    d["config_offset"].as_u64().unwrap()
}

/// A mutation: flip `xor` in byte `offset` of `idstr`'s config; QEMU must fail there, and
/// explain must name `register` for it.
struct Case {
    idstr: &'static str,
    offset: usize,
    xor: u8,
    register: &'static str,
}

const CASES: &[Case] = &[
    Case {
        idstr: "0000:00:03.0/e1000e",
        offset: 0x02,
        xor: 0x01,
        register: "Device ID",
    },
    Case {
        idstr: "0000:00:03.0/e1000e",
        offset: 0xec,
        xor: 0x01,
        register: "PCI Express @0xe0 Link Capabilities",
    },
    Case {
        idstr: "0000:00:04.0/pcie-root-port",
        offset: 0x60,
        xor: 0x01,
        register: "PCI Express @0x54 Link Capabilities",
    },
    Case {
        idstr: "0000:00:04.0/pcie-root-port",
        offset: 0x0e,
        xor: 0x80,
        register: "Header Type",
    },
];

fn check_case(d: &Path, c: &Case, saved: &Path, bytes: &[u8]) {
    let devs = devices(E1000E_ROM);
    let at = config_offset(saved, c.idstr) as usize + c.offset;
    let mut m = bytes.to_vec();
    m[at] ^= c.xor;
    let mutated = d.join(format!("m{:x}.mig", at));
    std::fs::write(&mutated, &m).unwrap();
    let stderr = load(d, &devs, &mutated);
    let (offset, device) = qemu_failure(&stderr);
    assert_eq!(offset, Some(c.offset), "QEMU's failure: {stderr}");
    assert_eq!(device.as_deref(), Some(c.idstr), "QEMU's failure: {stderr}");
    let log = d.join("qemu.log");
    std::fs::write(&log, &stderr).unwrap();
    let e = explain(&log, &[]);
    assert_eq!(e["bad_config"]["offset"], c.offset, "{e:#}");
    assert_eq!(e["device"]["idstr"], c.idstr, "{e:#}");
    assert_eq!(e["register"]["register"], c.register, "{e:#}");
    let dest = d.join("dest.mig");
    let full = explain(
        &log,
        &["--stream", mutated.to_str().unwrap(), "--dest", dest.to_str().unwrap()],
    );
    assert_eq!(full["recheck"]["first_offset"], c.offset, "{full:#}");
    assert_eq!(full["register"]["register"], c.register, "{full:#}");
    assert_eq!(full["register"]["certainty"], "destination_model", "{full:#}");
    assert!(full["notes"].as_array().unwrap().is_empty(), "{full:#}");
    let _ = std::fs::remove_file(&mutated);
}

#[test]
fn explain_names_the_register_and_device_qemu_failed_on() {
    if skip() {
        return;
    }
    let d = Dir(std::env::temp_dir().join(format!("pcimig-qexplain-{}", std::process::id())));
    std::fs::create_dir_all(&d.0).unwrap();
    let devs = devices(E1000E_ROM);
    let saved = d.0.join("saved.mig");
    save(&d.0, &devs, &saved);
    // The destination's own stream: the same command line, freshly started.
    save(&d.0, &devs, &d.0.join("dest.mig"));
    let bytes = std::fs::read(&saved).unwrap();
    for c in CASES {
        check_case(&d.0, c, &saved, &bytes);
    }
    rom_size_case(&d.0, &saved);
}

/// A destination whose e1000e ROM file is larger: QEMU fails at the ROM block, before any
/// config; explain names the block's device and, with `--dest-datadir`, the check agrees.
fn rom_size_case(d: &Path, saved: &Path) {
    let datadir = d.join("datadir");
    std::fs::create_dir_all(&datadir).unwrap();
    let mut rom = std::fs::read(E1000E_ROM).unwrap();
    rom.resize(rom.len() * 3, 0);
    let padded = datadir.join("efi-e1000e.rom");
    std::fs::write(&padded, &rom).unwrap();
    let stderr = load(d, &devices(padded.to_str().unwrap()), saved);
    assert!(stderr.contains("Size mismatch"), "{stderr}");
    let log = d.join("rom.log");
    std::fs::write(&log, &stderr).unwrap();
    let e = explain(&log, &[]);
    assert_eq!(e["failure"], "ram_block_size", "{e:#}");
    assert_eq!(e["device"]["idstr"], "0000:00:03.0/e1000e", "{e:#}");
    let dest = d.join("dest.mig");
    let args = [
        "--stream",
        saved.to_str().unwrap(),
        "--dest",
        dest.to_str().unwrap(),
        "--dest-datadir",
        datadir.to_str().unwrap(),
    ];
    let full = explain(&log, &args);
    let other = full["recheck"]["other_failures"].as_array().unwrap();
    assert!(
        other
            .iter()
            .any(|o| o.as_str().unwrap().starts_with("option ROM block")),
        "{full:#}"
    );
    assert!(full["notes"].as_array().unwrap().is_empty(), "{full:#}");
}
