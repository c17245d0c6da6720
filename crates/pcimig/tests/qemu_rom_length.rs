//! Option ROM block lengths against real QEMU 10.0.x: a VM saved with the host's ROM files,
//! loaded by a destination whose data directory (`-L DIR`) holds a padded ROM file. pcimig,
//! given the same directory (`--dest-datadir DIR`), must predict QEMU's verdict and its exact
//! first error line (`Size mismatch: …`, `Unknown ramblock …`). Skipped (with a printed reason)
//! when qemu-system-x86_64 10.0.x is not installed or PCIMIG_SKIP_QEMU is set.

use pcimig_qemu::Stream;
use serde_json::{json, Value};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

#[path = "../../pcimig-qemu/tests/support/qemu.rs"]
mod support;
use support::{base_args, qemu_bin, skip_reason, Qmp};

/// The devices of the VM: three option ROMs (e1000, virtio-net-pci, VGA's vgabios).
const DEVICES: &str = "-device e1000 -device virtio-net-pci -device VGA";

/// The host's QEMU data directories (`qemu-system-x86_64 -L help`).
const HOST_DATADIRS: &[&str] = &["/usr/share/qemu", "/usr/share/seabios", "/usr/lib/ipxe/qemu"];

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
    let d = std::env::temp_dir().join(format!("pcimig-romlen-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    Dir(d)
}

fn s(p: &Path) -> String {
    p.to_string_lossy().to_string()
}

/// A destination data directory: `padded` (file, new size) as padded copies of the host's
/// files, and a symlink to every other file of the host's data directories (first one wins).
fn datadir(at: &Path, padded: &[(&str, u64)]) -> PathBuf {
    std::fs::create_dir_all(at).unwrap();
    for (name, size) in padded {
        let src = HOST_DATADIRS
            .iter()
            .map(|d| Path::new(d).join(name))
            .find(|p| p.exists())
            .unwrap_or_else(|| panic!("{name} is not in the host's data directories"));
        let bytes = std::fs::read(&src).unwrap();
        assert!(*size as usize >= bytes.len(), "{name}: pad, never cut");
        let mut padded = bytes;
        padded.resize(*size as usize, 0);
        std::fs::write(at.join(name), padded).unwrap();
    }
    for d in HOST_DATADIRS {
        for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
            let link = at.join(e.file_name());
            if !link.exists() {
                std::os::unix::fs::symlink(e.path(), link).unwrap();
            }
        }
    }
    at.to_path_buf()
}

fn qemu(devices: &str, datadir: Option<&Path>) -> Command {
    let mut c = Command::new(qemu_bin());
    c.args(base_args("q35")).args(["-nic", "none"]);
    if let Some(d) = datadir {
        c.arg("-L").arg(d);
    }
    c.args(devices.split(' '));
    c
}

fn qmp(sock: &Path, child: &mut Child) -> Option<Qmp> {
    Qmp::connect(sock, child, Instant::now() + Duration::from_secs(60), None)
}

/// Save a VM with `devices` (and `-L datadir`) to `out`; returns its query-pci reply.
fn save(d: &Path, devices: &str, datadir: Option<&Path>, out: &Path) -> Value {
    let sock = d.join("s.sock");
    let mut child = qemu(devices, datadir)
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

/// Load `stream` into a VM with `devices` (and `-L datadir`): QEMU's first error line (without
/// its prefix; warnings skipped), or `None` when it loaded the stream.
fn load(d: &Path, devices: &str, datadir: Option<&Path>, stream: &Path) -> Option<String> {
    let sock = d.join("d.sock");
    let mut child = qemu(devices, datadir)
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
        .filter_map(|l| l.strip_prefix("qemu-system-x86_64: "))
        .find(|l| !l.starts_with("warning:"))
        .map(str::to_string)
}

fn pcimig(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pcimig")).args(args).output().unwrap()
}

/// `pcimig check --emulated --json` of `saved` against `dest` with `extra` options.
fn check(saved: &str, dest: &str, extra: &[&str]) -> (Option<i32>, Value) {
    let mut args = vec!["check", "--emulated", "--json", "--saved", saved, "--dest", dest];
    args.extend_from_slice(extra);
    let o = pcimig(&args);
    let j = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stderr)));
    (o.status.code(), j)
}

/// One destination: pcimig's verdict and line against QEMU's when it loads `src`.
fn agree(d: &Path, src: &Path, dest_devices: &str, datadir: Option<&Path>, tag: &str) -> (Option<String>, Value) {
    let dst = d.join(format!("{tag}.dst.mig"));
    save(d, dest_devices, datadir, &dst);
    let qemu_line = load(d, dest_devices, datadir, src);
    let dd: Vec<String> = datadir.map(|p| vec!["--dest-datadir".into(), s(p)]).unwrap_or_default();
    let dd: Vec<&str> = dd.iter().map(String::as_str).collect();
    let (code, j) = check(&s(src), &s(&dst), &dd);
    println!("{tag}: QEMU {qemu_line:?}; pcimig {} {}", j["verdict"], j["qemu_line"]);
    assert_eq!(j["qemu_line"].as_str(), qemu_line.as_deref(), "{tag}: {j:#}");
    let want = if qemu_line.is_some() { 1 } else { 0 };
    assert_eq!(code, Some(want), "{tag}: {j:#}");
    (qemu_line, j)
}

/// Padded ROM files: (file, new size).
type Pads = &'static [(&'static str, u64)];

#[test]
fn rom_block_lengths_agree_with_qemu() {
    if skip() {
        return;
    }
    let d = dir("main");
    let src = d.0.join("src.mig");
    save(&d.0, DEVICES, None, &src);
    blocks_are_listed(&src);

    // The host's own files: every block agrees.
    let (_, j) = agree(&d.0, &src, DEVICES, None, "host");
    assert_eq!(j["rom_lengths"].as_array().unwrap().len(), 3, "{j:#}");

    // Padded within the same power of two: still the same block lengths.
    let within = datadir(
        &d.0.join("within"),
        &[("efi-e1000.rom", 260_000), ("vgabios-stdvga.bin", 65_536)],
    );
    agree(&d.0, &src, DEVICES, Some(&within), "within");

    across_a_power_of_two(&d.0, &src);
    rom_failure_comes_before_configs(&d.0, &src);
    one_device(&d.0, &src);
}

/// The stream lists each option ROM block with the power of two of its host file.
fn blocks_are_listed(src: &Path) {
    let st = Stream::open(src).unwrap();
    let blocks: Vec<(&str, u64)> = st.ram_blocks().iter().map(|b| (b.idstr.as_str(), b.length)).collect();
    for want in [
        ("0000:00:01.0/e1000.rom", 0x40000),
        ("0000:00:02.0/virtio-net-pci.rom", 0x40000),
        ("0000:00:03.0/vga.rom", 0x10000),
        ("pc.ram", 32 << 20),
    ] {
        assert!(blocks.contains(&want), "{want:?} in {blocks:?}");
    }
    let bytes = std::fs::read(src).unwrap();
    for b in st.ram_blocks() {
        assert_eq!(bytes[b.offset as usize] as usize, b.idstr.len());
    }
}

/// Across a power of two: QEMU refuses the block, before any device.
fn across_a_power_of_two(d: &Path, src: &Path) {
    let cases: &[(&str, Pads, &str)] = &[
        ("e1000", &[("efi-e1000.rom", 300_000)], "0000:00:01.0/e1000"),
        ("virtio", &[("efi-virtio.rom", 270_000)], "0000:00:02.0/virtio-net"),
        ("vga", &[("vgabios-stdvga.bin", 70_000)], "0000:00:03.0/vga"),
        (
            "all",
            &[
                ("efi-e1000.rom", 600_000),
                ("efi-virtio.rom", 270_000),
                ("vgabios-stdvga.bin", 70_000),
            ],
            "0000:00:01.0/e1000",
        ),
    ];
    for (tag, pads, device) in cases {
        let dd = datadir(&d.join(tag), pads);
        let (line, j) = agree(d, src, DEVICES, Some(&dd), tag);
        let line = line.unwrap_or_else(|| panic!("{tag}: QEMU loaded the stream"));
        assert!(line.starts_with("Size mismatch: "), "{line}");
        assert_eq!(j["first_failing"], *device, "{tag}");
        let rom = j["rom_lengths"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["verdict"] == "fail")
            .unwrap();
        assert_eq!(rom["check"], "rom_length");
        assert_eq!(rom["romfile"], pads[0].0, "{tag}");
        assert_eq!(rom["dest_size"]["file_size"], pads[0].1, "{tag}");
    }
}

/// A config mismatch in an earlier device section (e1000 → e1000-82544gc: Device ID) and a ROM
/// block mismatch of a later device: the RAM section is loaded first, so QEMU's first error is
/// the ROM block's.
fn rom_failure_comes_before_configs(d: &Path, src: &Path) {
    let dd = datadir(&d.join("order"), &[("vgabios-stdvga.bin", 70_000)]);
    let dest = "-device e1000-82544gc -device virtio-net-pci -device VGA";
    let (line, j) = agree(d, src, dest, Some(&dd), "order");
    assert!(line.unwrap().starts_with("Size mismatch: 0000:00:03.0/vga.rom"));
    assert_eq!(j["first_failing"], "0000:00:03.0/vga");
    let e1000 = j["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == "0000:00:01.0/e1000")
        .unwrap();
    assert_eq!(
        e1000["verdict"], "fail",
        "the config mismatch is still reported: {e1000:#}"
    );
}

/// One device: its own ROM block decides, and the text names the file and both sizes; another
/// device of the same streams passes.
fn one_device(d: &Path, src: &Path) {
    let dd = s(&d.join("e1000"));
    let dst = s(&d.join("e1000.dst.mig"));
    let run = |dev: &str| {
        pcimig(&[
            "check",
            "--emulated",
            "--saved",
            &format!("stream:{}#{dev}", s(src)),
            "--dest",
            &format!("stream:{dst}#{dev}"),
            "--dest-datadir",
            &dd,
        ])
    };
    let o = run("0000:00:01.0/e1000");
    assert_eq!(o.status.code(), Some(1));
    let text = String::from_utf8_lossy(&o.stdout);
    for want in [
        "Size mismatch: 0000:00:01.0/e1000.rom: 0x40000 != 0x80000: Invalid argument",
        "efi-e1000.rom is 300000 bytes",
        "saved 0x40000 bytes, destination 0x80000",
    ] {
        assert!(text.contains(want), "{want} in {text}");
    }
    let o = run("0000:00:02.0/virtio-net");
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stdout));
}

#[test]
fn romfile_and_rombar_properties_agree_with_qemu() {
    if skip() {
        return;
    }
    let d = dir("props");
    let padded = datadir(&d.0.join("padded"), &[("efi-e1000.rom", 300_000)]);

    // romfile= on the source: the block is the size of that file's power of two.
    let src = d.0.join("romfile.mig");
    save(&d.0, "-device e1000,romfile=pxe-e1000.rom", None, &src);
    let (line, _) = agree(&d.0, &src, "-device e1000", None, "romfile");
    assert_eq!(
        line.as_deref(),
        Some("Size mismatch: 0000:00:01.0/e1000.rom: 0x20000 != 0x40000: Invalid argument")
    );

    // rombar=0: the ROM goes through fw_cfg, no RAM block; any ROM file size loads.
    let src = d.0.join("rombar.mig");
    save(&d.0, "-device e1000,rombar=0", None, &src);
    let (line, j) = agree(&d.0, &src, "-device e1000,rombar=0", Some(&padded), "rombar0");
    assert_eq!(line, None);
    assert!(j.get("rom_lengths").is_none(), "{j:#}");

    // romfile="" on the destination, seen in its query-pci: the block is unknown there.
    let src = d.0.join("plain.mig");
    save(&d.0, "-device e1000", None, &src);
    let dst = d.0.join("norom.dst.mig");
    let pci = save(&d.0, "-device e1000,romfile=", None, &dst);
    let qp = d.0.join("norom.pci.json");
    std::fs::write(&qp, pci.to_string()).unwrap();
    let qemu_line = load(&d.0, "-device e1000,romfile=", None, &src);
    let (code, j) = check(&s(&src), &s(&dst), &["--dest-query-pci", &s(&qp)]);
    assert_eq!(
        qemu_line.as_deref(),
        Some("Unknown ramblock \"0000:00:01.0/e1000.rom\", cannot accept migration")
    );
    assert_eq!(j["qemu_line"].as_str(), qemu_line.as_deref(), "{j:#}");
    assert_eq!(code, Some(1));
}
