//! Host snapshots (`pcimig snapshot`, `pcimig::snapshot`): the round trip, forward-compatible
//! reading (unknown fields, newer minors; a newer major refused), clear errors (exit 2, file and
//! location), building from the corpus, from lspci text and from a fake sysfs tree, the bundled
//! examples kept current, and an interrupted write that leaves the old file intact.
//! Expectations come from the input bytes and the format's rules, not from the tool's output.

use pcimig::snapshot::{
    read_snapshot, DriverVersionSource, MachineTypesSource, Snapshot, SnapshotDevice, SnapshotError,
};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_pcimig")
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Run pcimig from the repository root (the paths the examples name are relative to it).
fn run(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .current_dir(root())
        .output()
        .expect("run pcimig")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("pcimig-snapshot-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

const TIME: &str = "2025-06-01T12:00:00Z";
const SAMPLES: &str = "data/samples/h100-firecracker";

fn samples_snapshot(extra: &[&str]) -> Output {
    let mut args = vec![
        "snapshot", "--from", SAMPLES, "--time", TIME, "--host", "h", "--qemu", "10.0.2",
    ];
    args.extend_from_slice(extra);
    run(&args)
}

fn write_json(dir: &Path, name: &str, v: &Value) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_string_pretty(v).unwrap()).unwrap();
    p
}

fn example(name: &str) -> Value {
    serde_json::from_slice(&std::fs::read(root().join("data/snapshots").join(name)).unwrap()).unwrap()
}

#[test]
fn round_trip_build_write_read_is_equal() {
    let dir = tmpdir("roundtrip");
    let out = dir.join("s.json");
    let o = samples_snapshot(&["--out", out.to_str().unwrap(), "--driver", "10de:=nvidia:580.159.04"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let s = read_snapshot(&out).unwrap();
    // Every dump of the directory, in address order, with its bytes unchanged.
    assert_eq!(s.devices.len(), 7);
    for d in &s.devices {
        let file = root().join(SAMPLES).join(format!("{}.config.bin", d.bdf));
        assert_eq!(d.config(), std::fs::read(file).unwrap().as_slice(), "{}", d.bdf);
    }
    let h100 = s.device("00:06.0").unwrap();
    assert_eq!((h100.vendor, h100.device), (0x10de, 0x2330));
    assert_eq!(
        (h100.subsystem_vendor, h100.subsystem_device),
        (Some(0x10de), Some(0x16c1))
    );
    assert_eq!(h100.class, 0x030200);
    assert_eq!(h100.driver.as_deref(), Some("nvidia"));
    assert_eq!(h100.driver_version.as_deref(), Some("580.159.04"));
    assert_eq!(h100.driver_version_source, Some(DriverVersionSource::Given));
    assert_eq!(s.devices[1].driver, None, "--driver 10de: names NVIDIA devices only");
    assert_eq!(s.host.time, TIME);
    assert_eq!(
        s.qemu_versions(),
        [pcimig_config::qemu_version::QemuVersion::parse("10.0.2").unwrap()]
    );
    assert!(s.host.qemu[0].machine_types.iter().any(|m| m == "pc-q35-10.0"));
    assert_eq!(s.host.qemu[0].machine_types_source, MachineTypesSource::PcimigModel);
    // Written again, the same text; read again, the same value.
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(s.to_json(), text);
    assert_eq!(Snapshot::from_json("again", text.as_bytes()).unwrap(), s);
}

#[test]
fn stdout_is_the_default_output_and_devices_filters() {
    let o = samples_snapshot(&["--devices", "1af4:1042,0000:00:06."]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let s = Snapshot::from_json("stdout", &o.stdout).unwrap();
    let bdfs: Vec<&str> = s.devices.iter().map(|d| d.bdf.as_str()).collect();
    assert_eq!(bdfs, ["0000:00:01.0", "0000:00:02.0", "0000:00:06.0"]);
}

#[test]
fn newer_minor_versions_and_unknown_fields_are_read() {
    let dir = tmpdir("forward");
    let mut v = example("host-a.json");
    v["format_version"] = "1.7".into();
    v["new_top_level"] = serde_json::json!({"anything": [1, 2]});
    v["host"]["new_host_fact"] = "x".into();
    v["host"]["qemu"][0]["new_qemu_fact"] = 3.into();
    v["host"]["qemu"][0]["machine_types_source"] = "some-future-source".into();
    v["devices"][0]["new_device_fact"] = serde_json::json!(null);
    v["devices"][0]["driver_version_source"] = "some-future-source".into();
    let s = read_snapshot(write_json(&dir, "future.json", &v)).unwrap();
    let a = read_snapshot(root().join("data/snapshots/host-a.json")).unwrap();
    assert_eq!(s.format_version, "1.7");
    assert_eq!(s.devices[0].config(), a.devices[0].config());
    assert_eq!(s.host.qemu[0].machine_types_source, MachineTypesSource::Other);
    assert_eq!(s.devices[0].driver_version_source, Some(DriverVersionSource::Other));
}

#[test]
fn a_newer_major_version_is_refused_naming_the_file_and_both_versions() {
    let dir = tmpdir("major");
    let mut v = example("host-a.json");
    v["format_version"] = "2.0".into();
    // The rest of a 2.0 document may have any shape: the version is judged first.
    v["devices"] = "a 2.0 layout".into();
    let p = write_json(&dir, "v2.json", &v);
    let e = read_snapshot(&p).unwrap_err();
    assert!(matches!(e, SnapshotError::UnsupportedVersion { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("v2.json") && msg.contains("2.0") && msg.contains("1.x"),
        "{msg}"
    );
}

/// A change made to a valid document.
type Edit = Box<dyn Fn(&mut Value)>;

/// Each broken document gives an error naming the file and the JSON path (or line/column).
#[test]
fn invalid_documents_name_the_file_and_the_json_path() {
    let dir = tmpdir("invalid");
    let base = example("host-a.json");
    let hex = base["devices"][0]["config"].as_str().unwrap().to_string();
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "bad-hex",
            Box::new(move |v| v["devices"][0]["config"] = format!("zz{}", &hex[2..]).into()),
            "devices[0].config: character 0",
        ),
        (
            "short",
            Box::new(|v| v["devices"][0]["config"] = "00".repeat(100).into()),
            "devices[0].config: 100 config bytes",
        ),
        (
            "bdf",
            Box::new(|v| v["devices"][0]["bdf"] = "3b:00.0".into()),
            "devices[0].bdf",
        ),
        (
            "bdf-fn",
            Box::new(|v| v["devices"][0]["bdf"] = "0000:3b:00.9".into()),
            "devices[0].bdf",
        ),
        (
            "vendor",
            Box::new(|v| v["devices"][0]["vendor"] = "8086".into()),
            "devices[0].vendor: \"8086\" differs",
        ),
        ("time", Box::new(|v| v["host"]["time"] = "June 1st".into()), "host.time"),
        (
            "qemu",
            Box::new(|v| v["host"]["qemu"][0]["version"] = "ten".into()),
            "host.qemu[0].version",
        ),
        (
            "no-version",
            Box::new(|v| {
                v.as_object_mut().unwrap().remove("format_version");
            }),
            "format_version: missing",
        ),
        (
            "dup",
            Box::new(|v| {
                let d = v["devices"][0].clone();
                v["devices"].as_array_mut().unwrap().push(d);
            }),
            "devices[1].bdf: 0000:3b:00.0 appears twice",
        ),
        (
            "type",
            Box::new(|v| v["devices"][0]["bar_sizes"] = "big".into()),
            "line ",
        ),
    ];
    for (name, edit, want) in cases {
        let mut v = base.clone();
        edit(&mut v);
        let p = write_json(&dir, &format!("{name}.json"), &v);
        let msg = read_snapshot(&p).unwrap_err().to_string();
        assert!(
            msg.contains(&format!("{name}.json")) && msg.contains(want),
            "{name}: {msg}"
        );
    }
    let p = dir.join("truncated.json");
    std::fs::write(&p, b"{\"format_version\": \"1.0\", \"host\": {").unwrap();
    let msg = read_snapshot(&p).unwrap_err().to_string();
    assert!(msg.contains("truncated.json: line 1, column"), "{msg}");
    let msg = read_snapshot(dir.join("absent.json")).unwrap_err().to_string();
    assert!(msg.contains("absent.json: cannot read"), "{msg}");
}

#[test]
fn an_oversized_file_is_refused_before_it_is_read() {
    let dir = tmpdir("huge");
    let p = dir.join("huge.json");
    let f = std::fs::File::create(&p).unwrap();
    f.set_len(pcimig::snapshot::MAX_SNAPSHOT_BYTES + 1).unwrap();
    let msg = read_snapshot(&p).unwrap_err().to_string();
    assert!(msg.contains("huge.json") && msg.contains("too large"), "{msg}");
}

/// Bad command-line input: exit 2, a message naming what is wrong and where, nothing on stdout.
#[test]
fn bad_inputs_exit_2_naming_the_file_and_location() {
    let dir = tmpdir("badcli");
    let lspci = dir.join("bad-lspci.txt");
    std::fs::write(&lspci, "3b:00.0 VGA compatible controller: x\n00: de 10 30 2x\n").unwrap();
    let odd = dir.join("0000:3b:00.0.config.bin");
    std::fs::write(&odd, vec![0x5au8; 300]).unwrap();
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let unnamed = dir.join("gpu.bin");
    std::fs::write(&unnamed, vec![0u8; 256]).unwrap();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["--from".into(), lspci.display().to_string()],
            "bad-lspci.txt: at byte 0x",
        ),
        (vec!["--from".into(), odd.display().to_string()], "300 bytes"),
        (vec!["--from".into(), unnamed.display().to_string()], "@DDDD:BB:DD.F"),
        (
            vec!["--from".into(), format!("{}@3b:00.9", unnamed.display())],
            "'3b:00.9' is not a device address",
        ),
        (vec!["--from".into(), "no/such/dir".into()], "no/such/dir"),
        (
            vec![
                "--from".into(),
                SAMPLES.into(),
                "--time".into(),
                "2025-06-01T12:00:00+02:00".into(),
            ],
            "--time",
        ),
        (
            vec!["--from".into(), SAMPLES.into(), "--qemu".into(), "6.2".into()],
            "--qemu: QEMU version '6.2'",
        ),
        (
            vec!["--from".into(), SAMPLES.into(), "--driver".into(), "nvidia".into()],
            "SELECTOR=NAME",
        ),
        (
            vec!["--from".into(), SAMPLES.into(), "--devices".into(), "nvidia".into()],
            "--devices",
        ),
        (
            vec!["--from".into(), empty.display().to_string()],
            "no DDDD:BB:DD.F.config.bin",
        ),
    ];
    for (args, want) in cases {
        let mut all = vec!["snapshot".to_string()];
        all.extend(args.iter().cloned());
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        let o = run(&refs);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(o.stdout.is_empty(), "{args:?}");
    }
}

/// `--from` on the shared corpus directory and on its lspci text: the same devices, the same
/// bytes.
#[test]
fn corpus_directory_and_its_lspci_text_give_the_same_devices() {
    let corpus = root().join("../shared/corpus/h100-firecracker");
    if !corpus.is_dir() {
        println!(
            "skipped: {} is absent (the shared corpus is not beside the repository)",
            corpus.display()
        );
        return;
    }
    let from_dir = run(&["snapshot", "--from", corpus.to_str().unwrap(), "--time", TIME]);
    assert_eq!(from_dir.status.code(), Some(0), "{}", stderr(&from_dir));
    let a = Snapshot::from_json("dir", &from_dir.stdout).unwrap();
    let text = corpus.join("lspci-vvv-xxxx.txt");
    let from_text = run(&["snapshot", "--from", text.to_str().unwrap(), "--time", TIME]);
    assert_eq!(from_text.status.code(), Some(0), "{}", stderr(&from_text));
    let b = Snapshot::from_json("text", &from_text.stdout).unwrap();
    assert_eq!(a.devices.len(), 7);
    assert_eq!(a.devices, b.devices);
    // index.txt lists each device's IDs and size: the snapshot agrees.
    let index = std::fs::read_to_string(corpus.join("index.txt")).unwrap();
    for line in index.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let d = a.device(f[0]).unwrap();
        let hex = |s: &str| u32::from_str_radix(s.trim_start_matches("0x"), 16).unwrap();
        assert_eq!(
            (u32::from(d.vendor), u32::from(d.device), d.class),
            (hex(f[1]), hex(f[2]), hex(f[3]))
        );
        assert_eq!(format!("size={}", d.config().len()), f[7]);
    }
}

/// A fake sysfs/procfs tree: config, resource, the driver link and where its version is.
fn fake_tree(dir: &Path) {
    let devs = dir.join("sys/bus/pci/devices");
    let h100 = std::fs::read(root().join(SAMPLES).join("0000:00:06.0.config.bin")).unwrap();
    let net = std::fs::read(root().join(SAMPLES).join("0000:00:03.0.config.bin")).unwrap();
    let mut lpc = h100[..64].to_vec();
    lpc[..4].copy_from_slice(&[0x86, 0x80, 0x16, 0x7a]);
    let resource = "0x00000000fb000000 0x00000000fbffffff 0x0000000000040200\n\
                    0x0000000000000000 0x0000000000000000 0x0000000000000000\n\
                    0x000000e000000000 0x000000e3ffffffff 0x000000000014220c\n\
                    0x0000000000000000 0x0000000000000000 0x0000000000000000\n\
                    0x0000000000000000 0x0000000000000000 0x0000000000000000\n\
                    0x0000000000000000 0x0000000000000000 0x0000000000000000\n\
                    0x00000000fc000000 0x00000000fc07ffff 0x0000000000046200\n";
    for (bdf, config, driver) in [
        ("0000:3b:00.0", &h100[..], "nvidia"),
        ("0001:00:03.0", &net[..], "virtio-pci"),
        ("0000:00:1f.0", &lpc[..], "lpc_ich"),
    ] {
        let d = devs.join(bdf);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("config"), config).unwrap();
        std::fs::write(d.join("resource"), resource).unwrap();
        let drv = dir.join("sys/bus/pci/drivers").join(driver);
        std::fs::create_dir_all(&drv).unwrap();
        std::os::unix::fs::symlink(&drv, d.join("driver")).unwrap();
    }
    // virtio-pci's module says its version; nvidia's is only in /proc/driver/nvidia/version.
    std::fs::create_dir_all(dir.join("sys/module/virtio_pci")).unwrap();
    std::fs::write(dir.join("sys/module/virtio_pci/version"), "1\n").unwrap();
    std::fs::create_dir_all(dir.join("proc/driver/nvidia")).unwrap();
    std::fs::write(
        dir.join("proc/driver/nvidia/version"),
        "NVRM version: NVIDIA UNIX x86_64 Kernel Module  580.159.04  Tue Jun 17 2025\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("proc/sys/kernel")).unwrap();
    std::fs::write(dir.join("proc/sys/kernel/hostname"), "fake-host\n").unwrap();
    std::fs::write(dir.join("proc/sys/kernel/osrelease"), "6.8.0-fake\n").unwrap();
    std::fs::create_dir_all(dir.join("roms")).unwrap();
    std::fs::write(dir.join("roms/efi-virtio.rom"), vec![0u8; 160_768]).unwrap();
}

#[test]
fn fake_sysfs_tree_gives_devices_drivers_versions_and_sizes() {
    let dir = tmpdir("sysfs");
    fake_tree(&dir);
    let tree = dir.to_str().unwrap();
    let roms = dir.join("roms");
    let base = [
        "snapshot",
        "--root",
        tree,
        "--qemu",
        "11.1",
        "--rom-dir",
        roms.to_str().unwrap(),
        "--time",
        TIME,
    ];
    // The 64-byte (unprivileged) read of 00:1f.0 cannot make a snapshot device.
    let o = run(&base);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("sysfs:0000:00:1f.0: only 64 of 256 config bytes"),
        "{}",
        stderr(&o)
    );
    // Left out by --devices, the rest is read.
    let mut args = base.to_vec();
    args.extend(["--devices", "10de:,0001:*"]);
    let o = run(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let s = Snapshot::from_json("stdout", &o.stdout).unwrap();
    assert_eq!(s.host.name.as_deref(), Some("fake-host"));
    assert_eq!(s.host.kernel.as_deref(), Some("6.8.0-fake"));
    assert_eq!(s.host.rom_files.len(), 1);
    assert_eq!(
        (s.host.rom_files[0].name.as_str(), s.host.rom_files[0].size),
        ("efi-virtio.rom", 160_768)
    );
    assert_eq!(s.rom_files().bar_size("efi-virtio.rom"), Some(256 * 1024));
    let gpu = s.device("0000:3b:00.0").unwrap();
    assert_eq!(gpu.driver.as_deref(), Some("nvidia"));
    assert_eq!(gpu.driver_version.as_deref(), Some("580.159.04"));
    assert_eq!(gpu.driver_version_source, Some(DriverVersionSource::ProcDriverNvidia));
    let sizes = gpu.bar_sizes.unwrap();
    assert_eq!(
        (sizes.bars[0], sizes.bars[2], sizes.rom),
        (Some(16 << 20), Some(16 << 30), Some(512 << 10))
    );
    let net = s.device("0001:00:03.0").unwrap();
    assert_eq!(net.driver_version.as_deref(), Some("1"));
    assert_eq!(net.driver_version_source, Some(DriverVersionSource::SysModule));
    assert_eq!(s.devices.len(), 2);
}

#[test]
fn a_qemu_binary_is_asked_for_its_version_and_machine_types() {
    let qemu = Path::new("/usr/bin/qemu-system-x86_64");
    if !qemu.is_file() {
        println!("skipped: {} is absent", qemu.display());
        return;
    }
    let o = samples_snapshot(&["--devices", "10de:", "--qemu-binary", qemu.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let s = Snapshot::from_json("stdout", &o.stdout).unwrap();
    let q = &s.host.qemu[1];
    assert_eq!(q.binary.as_deref(), qemu.to_str());
    assert_eq!(q.machine_types_source, MachineTypesSource::QemuMachineHelp);
    // Every machine type pcimig's model says this version defines, QEMU lists.
    let v = q.qemu_version().unwrap();
    for m in v.machine_types() {
        assert!(
            q.machine_types.contains(&m.name()),
            "{} missing from -machine help",
            m.name()
        );
    }
}

/// The committed examples are what `scripts/snapshot-examples` writes now.
#[test]
fn bundled_examples_equal_what_the_script_writes() {
    let dir = tmpdir("examples");
    let o = Command::new("sh")
        .arg("scripts/snapshot-examples")
        .arg(&dir)
        .env("PCIMIG", bin())
        .current_dir(root())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let committed = root().join("data/snapshots");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["gpu-host-c.json", "gpu-host-d.json", "host-a.json", "host-b.json"]
    );
    for n in &names {
        let now = std::fs::read_to_string(dir.join(n)).unwrap();
        let was = std::fs::read_to_string(committed.join(n)).unwrap();
        assert!(now == was, "data/snapshots/{n} is stale: run scripts/snapshot-examples");
        read_snapshot(committed.join(n)).unwrap();
    }
    // What the examples show: the vGPU hosts differ in driver version and VSC payload only.
    let a = read_snapshot(committed.join("host-a.json")).unwrap();
    let b = read_snapshot(committed.join("host-b.json")).unwrap();
    let (da, db): (&SnapshotDevice, &SnapshotDevice) = (&a.devices[0], &b.devices[0]);
    assert_eq!((da.bdf.as_str(), da.ids()), (db.bdf.as_str(), db.ids()));
    assert_ne!(da.driver_version, db.driver_version);
    let differ: Vec<usize> = (0..da.config().len())
        .filter(|&i| da.config()[i] != db.config()[i])
        .collect();
    assert!(
        !differ.is_empty() && differ.iter().all(|&i| (0xc0..0xd8).contains(&i)),
        "{differ:x?}"
    );
    assert_eq!(b.qemu_versions().len(), 2);
}

/// A write cut off part-way (the file-size limit kills the process while it writes the
/// temporary file) leaves the old snapshot in place, whole; a later run replaces it.
#[test]
fn an_interrupted_write_leaves_the_old_file_intact() {
    let dir = tmpdir("interrupt");
    let target = dir.join("host.json");
    let old = std::fs::read(root().join("data/snapshots/host-a.json")).unwrap();
    std::fs::write(&target, &old).unwrap();
    // `ulimit -f 4`: at most 2 or 4 KiB per file (512- or 1024-byte blocks, by shell); the new
    // snapshot of 7 devices is about 20 KiB, so the write is stopped part-way.
    let o = Command::new("sh")
        .args(["-c", "ulimit -f 4; exec \"$0\" \"$@\""])
        .arg(bin())
        .args(["snapshot", "--from", SAMPLES, "--time", TIME, "--out"])
        .arg(&target)
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        !o.status.success(),
        "the write should have been cut off: {}",
        stderr(&o)
    );
    assert_eq!(std::fs::read(&target).unwrap(), old, "the old snapshot changed");
    read_snapshot(&target).unwrap();
    // Whatever the interrupted run left behind is hidden (a dot file), never the target's name.
    for e in std::fs::read_dir(&dir).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(name == "host.json" || name.starts_with('.'), "left visible: {name}");
    }
    let o = run(&[
        "snapshot",
        "--from",
        SAMPLES,
        "--time",
        TIME,
        "--out",
        target.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(read_snapshot(&target).unwrap().devices.len(), 7);
}
