//! `pcimig check --emulated` against real QEMU 10.0.x: streams saved by real VMs, the verdict
//! and QEMU's line compared with what QEMU prints when it loads the same stream. Skipped (with a
//! printed reason) when qemu-system-x86_64 10.0.x is not installed.

use serde_json::{json, Value};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_pcimig")
}

#[path = "../../pcimig-qemu/tests/support/qemu.rs"]
mod support;
use support::{base_args, qemu_bin, skip_reason, Qmp};

fn skip() -> bool {
    match skip_reason() {
        Some(why) => {
            println!("SKIPPED: {why}");
            true
        }
        None => false,
    }
}

struct Dir(PathBuf);
impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn dir(tag: &str) -> Dir {
    let d = std::env::temp_dir().join(format!("pcimig-qcs-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    Dir(d)
}

fn base_cmd(devices: &str) -> Command {
    let mut c = Command::new(qemu_bin());
    c.args(base_args("q35")).args(["-nic", "none"]);
    c.args(devices.split(' '));
    c
}

fn qmp(sock: &Path, child: &mut Child) -> Option<Qmp> {
    Qmp::connect(sock, child, Instant::now() + Duration::from_secs(60), None)
}

/// Save a VM with `devices` to `out`; returns the query-pci reply.
fn save(d: &Path, devices: &str, out: &Path) -> Value {
    let sock = d.join("s.sock");
    let mut child = base_cmd(devices)
        .arg("-qmp")
        .arg(format!("unix:{},server=on,wait=off", sock.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut q = qmp(&sock, &mut child).expect("source QEMU starts");
    let pci = q.cmd("query-pci", json!({})).unwrap();
    q.cmd("migrate", json!({"uri": format!("file:{}", out.display())}))
        .unwrap();
    while q.cmd("query-migrate", json!({})).unwrap()["status"] != "completed" {
        std::thread::sleep(Duration::from_millis(20));
    }
    q.cmd("quit", json!({}));
    child.wait().unwrap();
    let _ = std::fs::remove_file(&sock);
    json!({ "return": pci })
}

/// Load `stream` into `devices`; QEMU's `Bad config data` line (without prefix) if it failed there.
fn load(d: &Path, devices: &str, stream: &Path) -> Option<String> {
    let sock = d.join("d.sock");
    let mut child = base_cmd(devices)
        .arg("-qmp")
        .arg(format!("unix:{},server=on,wait=off", sock.display()))
        .arg("-incoming")
        .arg(format!("file:{}", stream.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(mut q) = qmp(&sock, &mut child) {
        while let Some(st) = q.cmd("query-status", json!({})) {
            if st["status"] != "inmigrate" {
                q.cmd("quit", json!({}));
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let _ = child.wait();
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    let _ = std::fs::remove_file(&sock);
    err.lines()
        .find(|l| l.contains("Bad config data"))
        .map(|l| l.trim_start_matches("qemu-system-x86_64: ").to_string())
}

fn pcimig(args: &[&str]) -> Output {
    Command::new(bin()).args(args).output().unwrap()
}

#[test]
fn emulated_check_agrees_with_qemu_on_real_streams() {
    if skip() {
        return;
    }
    let d = dir("main");
    let src = "-device e1000 -device virtio-net-pci,vectors=4";
    let dst = "-device e1000-82544gc -device virtio-net-pci,vectors=8";
    let a = d.0.join("a.mig");
    let b = d.0.join("b.mig");
    let a2 = d.0.join("a2.mig");
    save(&d.0, src, &a);
    let pci = save(&d.0, dst, &b);
    save(&d.0, src, &a2);
    let qp = d.0.join("b.pci.json");
    std::fs::write(&qp, pci.to_string()).unwrap();
    let (a_s, b_s, a2_s, qp_s) = (
        a.to_string_lossy().to_string(),
        b.to_string_lossy().to_string(),
        a2.to_string_lossy().to_string(),
        qp.to_string_lossy().to_string(),
    );

    // Whole stream: the first failing section in stream order is the e1000, as QEMU says.
    let qemu_line = load(&d.0, dst, &a).expect("QEMU refuses the stream");
    let o = pcimig(&[
        "check",
        "--saved",
        &format!("stream:{a_s}"),
        "--dest",
        &format!("stream:{b_s}"),
        "--emulated",
        "--dest-query-pci",
        &qp_s,
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", String::from_utf8_lossy(&o.stderr));
    let j: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["qemu_line"].as_str(), Some(qemu_line.as_str()));
    assert_eq!(j["first_failing"], "0000:00:01.0/e1000");
    assert!(j["scope"].as_str().unwrap().contains("post-load"));
    let n = j["devices"].as_array().unwrap().len();
    assert!(n >= 6, "every PCI device of the stream is checked: {n}");

    // One device: the virtio-net MSI-X table size (TV14).
    let o = pcimig(&[
        "check",
        "--saved",
        &format!("stream:{a_s}#0000:00:02.0/virtio-net"),
        "--dest",
        &format!("stream:{b_s}#0000:00:02.0/virtio-net"),
        "--emulated",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("get_pci_config_device: Bad config data: i=0x9a read: 3 device: 7 cmask: ff wmask: 0 w1cmask:0"),
        "{text}"
    );
    assert!(text.contains("post-load checks are out of scope"));

    // Same command line: every device passes, and QEMU loads it.
    assert_eq!(load(&d.0, src, &a), None);
    let o = pcimig(&["check", "--saved", &a_s, "--dest", &a2_s, "--emulated"]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stdout));

    // Interrupt Pin 0 on the e1000: passes the check (pin unchecked) with a hazard warning.
    let s = pcimig_qemu::Stream::open(&a).unwrap();
    let e = s.find_device("0000:00:01.0/e1000").unwrap();
    let mut bytes = std::fs::read(&a).unwrap();
    bytes[e.config_offset as usize + 0x3d] = 0;
    let pin = d.0.join("pin.mig");
    std::fs::write(&pin, &bytes).unwrap();
    let pin_s = pin.to_string_lossy().to_string();
    let o = pcimig(&[
        "check",
        "--saved",
        &format!("{pin_s}#0000:00:01.0/e1000"),
        "--dest",
        &format!("{a2_s}#0000:00:01.0/e1000"),
        "--emulated",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let j: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(j["warnings"].to_string().contains("Interrupt Pin"), "{j}");
}

#[test]
fn emulated_check_names_a_device_missing_from_the_table() {
    if skip() {
        return;
    }
    let d = dir("unknown");
    let s = d.0.join("w.mig");
    save(&d.0, "-device megasas", &s);
    let s_s = s.to_string_lossy().to_string();
    let o = pcimig(&[
        "check",
        "--saved",
        &format!("stream:{s_s}#0000:00:01.0/megasas"),
        "--dest",
        &format!("stream:{s_s}#0000:00:01.0/megasas"),
        "--emulated",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("megasas") && err.contains("1000:0060") && err.contains("not in"),
        "{err}"
    );
    // Whole stream: undecided (exit 2), the chipset devices before it still checked.
    let o = pcimig(&["check", "--saved", &s_s, "--dest", &s_s, "--emulated", "--json"]);
    assert_eq!(o.status.code(), Some(2));
    let j: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["verdict"], "undecided");
}
