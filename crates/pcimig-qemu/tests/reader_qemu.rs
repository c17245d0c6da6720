//! The reader against real QEMU 10.0.2 streams, generated here (TCG, -S, -m 32M, no network):
//! `stream ls` (Stream::pci_devices) finds every PCI device QMP query-pci lists, each with the
//! right ids, class and config size; and the offsets are QEMU's own: a value planted in the
//! irq_state right after each device's config makes QEMU's load fail with its irq message.
//! Skipped (loudly) when qemu-system-x86_64 is not installed or `PCIMIG_SKIP_QEMU` is set.

use pcimig_qemu::{pci_path_of, DeviceKind, Stream};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[path = "support/qemu.rs"]
mod support;
use support::{base_args, qemu_bin, skip_reason, Qmp};

fn qemu_available() -> bool {
    match skip_reason() {
        Some(why) => {
            eprintln!("SKIPPED: the real-QEMU reader tests did not run: {why}");
            false
        }
        None => true,
    }
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("pcimig-reader-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Start QEMU with `devices`, save to `out`, return query-pci.
fn save(dir: &Path, machine: &str, devices: &[&str], out: &Path) -> Value {
    save_with(dir, machine, devices, out, &[])
}

/// `save` with migration capabilities turned on first.
fn save_with(dir: &Path, machine: &str, devices: &[&str], out: &Path, caps: &[&str]) -> Value {
    let sock = dir.join("save.sock");
    let errf = dir.join("save.err");
    let mut args = base_args(machine);
    args.extend(devices.iter().map(|s| s.to_string()));
    args.push("-qmp".into());
    args.push(format!("unix:{},server=on,wait=off", sock.display()));
    let mut child = Command::new(qemu_bin())
        .args(&args)
        .stderr(std::fs::File::create(&errf).unwrap())
        .spawn()
        .unwrap();
    let mut q = Qmp::connect(
        &sock,
        &mut child,
        Instant::now() + Duration::from_secs(60),
        Some(Duration::from_secs(120)),
    )
    .unwrap_or_else(|| {
        panic!(
            "QEMU exited before QMP was up, or QMP never came up: {}",
            std::fs::read_to_string(&errf).unwrap_or_default()
        )
    });
    let mut run = |q: &mut Qmp, name: &str, a: Value| -> Value {
        q.try_cmd(name, a).unwrap_or_else(|| {
            let _ = child.wait();
            panic!(
                "QEMU went away during {name}: {}",
                std::fs::read_to_string(&errf).unwrap_or_default()
            )
        })
    };
    let pci = run(&mut q, "query-pci", json!({}));
    if !caps.is_empty() {
        let list: Vec<Value> = caps.iter().map(|c| json!({"capability": c, "state": true})).collect();
        run(&mut q, "migrate-set-capabilities", json!({ "capabilities": list }));
    }
    run(&mut q, "migrate", json!({"uri": format!("file:{}", out.display())}));
    loop {
        let st = run(&mut q, "query-migrate", json!({}));
        match st["status"].as_str() {
            Some("completed") => break,
            Some("failed") => panic!("migration failed: {st}"),
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    q.try_cmd("quit", json!({}));
    child.wait().unwrap();
    pci
}

/// Load `file` into the same command line; Ok on success, Err(stderr) when QEMU exits.
fn load(dir: &Path, machine: &str, devices: &[&str], file: &Path) -> Result<(), String> {
    let sock = dir.join(format!("load-{}.sock", file.file_name().unwrap().to_string_lossy()));
    let mut args = base_args(machine);
    args.extend(devices.iter().map(|s| s.to_string()));
    args.push("-incoming".into());
    args.push(format!("file:{}", file.display()));
    args.push("-qmp".into());
    args.push(format!("unix:{},server=on,wait=off", sock.display()));
    let errf = dir.join(format!("{}.err", file.file_name().unwrap().to_string_lossy()));
    let mut child = Command::new(qemu_bin())
        .args(&args)
        .stderr(std::fs::File::create(&errf).unwrap())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let exited = |child: &mut Child| -> Option<String> {
        child
            .try_wait()
            .unwrap()
            .map(|_| std::fs::read_to_string(&errf).unwrap_or_default())
    };
    // QMP comes up before the load starts; a load that fails makes QEMU exit with status 1.
    let Some(mut q) = Qmp::connect(&sock, &mut child, deadline, Some(Duration::from_secs(120))) else {
        assert!(Instant::now() <= deadline, "load timed out");
        child.wait().unwrap();
        return Err(exited(&mut child).unwrap_or_default());
    };
    let alive = |q: &mut Qmp, name: &str| -> Option<Value> { q.try_cmd(name, json!({})) };
    loop {
        match alive(&mut q, "query-migrate") {
            Some(st) if st["status"].as_str() == Some("completed") => {
                q.try_cmd("quit", json!({}));
                child.wait().unwrap();
                return Ok(());
            }
            Some(_) => {}
            None => {
                child.wait().unwrap();
                return Err(exited(&mut child).unwrap_or_default());
            }
        }
        assert!(Instant::now() < deadline, "load timed out");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// (qdev path, vendor, device, class) of every device query-pci lists.
fn pci_list(v: &Value) -> Vec<(String, u16, u16, u16)> {
    fn walk(devs: &Value, prefix: Option<&str>, out: &mut Vec<(String, u16, u16, u16)>) {
        for d in devs.as_array().unwrap() {
            let slot = d["slot"].as_u64().unwrap();
            let func = d["function"].as_u64().unwrap();
            let path = match prefix {
                None => format!("0000:{:02x}:{slot:02x}.{func}", d["bus"].as_u64().unwrap()),
                Some(p) => format!("{p}:{slot:02x}.{func}"),
            };
            out.push((
                path.clone(),
                d["id"]["vendor"].as_u64().unwrap() as u16,
                d["id"]["device"].as_u64().unwrap() as u16,
                d["class_info"]["class"].as_u64().unwrap() as u16,
            ));
            if let Some(children) = d.get("pci_bridge").and_then(|b| b.get("devices")) {
                walk(children, Some(&path), out);
            }
        }
    }
    let mut out = Vec::new();
    for bus in v.as_array().unwrap() {
        walk(&bus["devices"], None, &mut out);
    }
    out
}

/// What `check --emulated` takes from a destination stream: machine type, RAM blocks, every
/// PCI device with its kind, config size, offset and config bytes, the warnings.
fn devices_key(s: &Stream) -> String {
    let devices: Vec<_> = s
        .pci_devices()
        .iter()
        .map(|d| {
            (
                d.id.clone(),
                d.kind,
                d.config_size,
                d.config_offset,
                s.read_config(d).unwrap(),
            )
        })
        .collect();
    format!(
        "{:?}\n{:?}\n{devices:?}\n{:?}\n{}",
        s.machine_type(),
        s.ram_blocks(),
        s.warnings(),
        s.eof_offset()
    )
}

/// `Stream::open_devices` (the destination of `check --emulated`) finds what `Stream::open`
/// finds; returns whether it jumped over RAM pages (its RAM section is shorter).
fn devices_only_walk_agrees(whole: &Stream, file: &Path) -> bool {
    let devices_only = Stream::open_devices(file).unwrap();
    assert_eq!(devices_key(&devices_only), devices_key(whole), "{}", file.display());
    let ram_len = |s: &Stream| s.sections().iter().find(|x| x.idstr == "ram").map(|x| x.body_len);
    ram_len(&devices_only) < ram_len(whole)
}

fn check_machine(name: &str, machine: &str, devices: &[&str], expect: &[(&str, DeviceKind, usize)]) {
    if !qemu_available() {
        return;
    }
    let dir = scratch(name);
    let file = dir.join("vm.mig");
    let pci = save(&dir, machine, devices, &file);
    let s = Stream::open(&file).unwrap();
    let ram_pages_jumped = devices_only_walk_agrees(&s, &file);
    assert!(ram_pages_jumped, "{name}: the devices-only walk walked the RAM pages");
    assert!(s.machine_type().unwrap().starts_with(if machine.starts_with("q35") {
        "pc-q35-"
    } else {
        "pc-i440fx-"
    }));
    let listed = pci_list(&pci);
    assert!(!listed.is_empty());
    for (path, vendor, device, class) in &listed {
        if s.pci_sections_without_config()
            .iter()
            .any(|x| pci_path_of(&x.idstr) == Some(path.as_str()))
        {
            continue;
        }
        let d = s
            .pci_devices()
            .iter()
            .find(|d| d.pci_path.as_deref() == Some(path.as_str()))
            .unwrap_or_else(|| panic!("{name}: query-pci device {path} not found; stream has {:?}", ids(&s)));
        let c = s.read_config(d).unwrap();
        assert_eq!(u16::from_le_bytes([c[0], c[1]]), *vendor, "{}", d.id);
        assert_eq!(u16::from_le_bytes([c[2], c[3]]), *device, "{}", d.id);
        assert_eq!(u16::from_le_bytes([c[0x0a], c[0x0b]]), *class, "{}", d.id);
    }
    // With -S the firmware never numbered the bridges' buses, so query-pci lists only the
    // root bus; the stream also has the devices behind bridges and root ports.
    assert!(
        s.pci_devices().len() >= listed.len(),
        "{name}: {:?} vs {listed:?}",
        ids(&s)
    );
    for (id, kind, size) in expect {
        let d = s.find_device(id).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((d.kind, d.config_size), (*kind, *size), "{id}");
    }

    // QEMU agrees with the offsets: an irq_state of 2 right after each device's config makes
    // the load fail with "irq state 2: must be 0 or 1." (and the untouched stream loads).
    load(&dir, machine, devices, &file).unwrap_or_else(|e| panic!("{name}: unmodified stream refused: {e}"));
    let bytes = std::fs::read(&file).unwrap();
    std::fs::remove_file(&file).unwrap();
    let handles: Vec<_> = s
        .pci_devices()
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let mut b = bytes.clone();
            let irq = (d.config_offset + d.config_size as u64) as usize;
            assert_eq!(&b[irq..irq + 4], &[0, 0, 0, 0], "{}", d.id);
            b[irq + 3] = 2;
            let f = dir.join(format!("irq{i}.mig"));
            std::fs::write(&f, &b).unwrap();
            let (dir, machine, id) = (dir.clone(), machine.to_string(), d.id.clone());
            let devices: Vec<String> = devices.iter().map(|s| s.to_string()).collect();
            std::thread::spawn(move || {
                let dv: Vec<&str> = devices.iter().map(String::as_str).collect();
                let r = load(&dir, &machine, &dv, &f);
                std::fs::remove_file(&f).unwrap();
                (id, r)
            })
        })
        .collect();
    for h in handles {
        let (id, r) = h.join().unwrap();
        let e = r.expect_err(&format!("{name}: {id}: planted irq_state accepted"));
        assert!(e.contains("irq state 2: must be 0 or 1."), "{name}: {id}: {e}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

fn ids(s: &Stream) -> Vec<String> {
    s.pci_devices().iter().map(|d| d.id.clone()).collect()
}

#[test]
fn reader_q35_devices() {
    check_machine(
        "q35",
        "q35",
        &[
            "-device",
            "virtio-net-pci,vectors=4",
            "-device",
            "e1000",
            "-device",
            "e1000e",
            "-device",
            "vmxnet3",
            "-device",
            "qemu-xhci",
            "-device",
            "intel-hda",
            "-device",
            "pcie-root-port,id=rp1,chassis=1",
            "-blockdev",
            "null-co,node-name=d0",
            "-device",
            "virtio-blk-pci,bus=rp1,drive=d0,disable-legacy=on",
            "-device",
            "pcie-root-port,id=rp2,chassis=2",
            "-device",
            "virtio-net-pci,bus=rp2,disable-legacy=off",
            "-device",
            "pci-bridge,id=br1,chassis_nr=3",
            "-device",
            "rtl8139,bus=br1,addr=2",
        ],
        &[
            ("0000:00:01.0/virtio-net", DeviceKind::VirtioPci, 256),
            ("0000:00:02.0/e1000", DeviceKind::Vmsd, 256),
            ("0000:00:03.0/e1000e", DeviceKind::Vmsd, 4096),
            ("0000:00:07.0/pcie-root-port", DeviceKind::Vmsd, 4096),
            ("0000:00:07.0:00.0/virtio-blk", DeviceKind::VirtioPci, 4096),
            ("0000:00:08.0:00.0/virtio-net", DeviceKind::VirtioPci, 4096),
            ("0000:00:09.0:02.0/rtl8139", DeviceKind::Vmsd, 256),
        ],
    );
}

#[test]
fn reader_i440fx_devices() {
    check_machine(
        "i440fx",
        "pc",
        &[
            "-device",
            "e1000",
            "-blockdev",
            "null-co,node-name=d0",
            "-device",
            "virtio-blk-pci,drive=d0",
            "-device",
            "virtio-net-pci,disable-modern=on",
            "-device",
            "intel-hda",
            "-device",
            "pci-bridge,id=br1,chassis_nr=1",
            "-device",
            "e1000,bus=br1,addr=3",
            "-device",
            "rtl8139,bus=br1,addr=4",
        ],
        &[
            ("0000:00:02.0/e1000", DeviceKind::Vmsd, 256),
            ("0000:00:06.0:03.0/e1000", DeviceKind::Vmsd, 256),
        ],
    );
}

#[test]
fn reader_without_vmdesc_finds_the_same_devices() {
    if !qemu_available() {
        return;
    }
    let dir = scratch("novmdesc");
    let devices = [
        "-device",
        "virtio-net-pci",
        "-device",
        "e1000e",
        "-device",
        "pcie-root-port,id=rp1,chassis=1",
        "-blockdev",
        "null-co,node-name=d0",
        "-device",
        "virtio-blk-pci,bus=rp1,drive=d0",
        "-device",
        "qemu-xhci",
    ];
    let (a, b) = (dir.join("a.mig"), dir.join("b.mig"));
    save(&dir, "q35", &devices, &a);
    save(&dir, "q35,suppress-vmdesc=on", &devices, &b);
    let (sa, sb) = (Stream::open(&a).unwrap(), Stream::open(&b).unwrap());
    assert!(sa.vmdesc().is_some() && sb.vmdesc().is_none());
    let key = |s: &Stream| -> Vec<(String, DeviceKind, usize, Vec<u8>)> {
        s.pci_devices()
            .iter()
            .map(|d| (d.id.clone(), d.kind, d.config_size, s.read_config(d).unwrap()))
            .collect()
    };
    assert_eq!(key(&sa), key(&sb));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The other engineer's mutation suite patches header bytes in real streams: the reader must
/// keep finding the same config (offset and size) whatever the header says, including a
/// destroyed capability chain on a 4096-byte virtio config.
#[test]
fn reader_offsets_survive_header_mutations() {
    if !qemu_available() {
        return;
    }
    let dir = scratch("mutations");
    let file = dir.join("m.mig");
    let devices = [
        "-device",
        "virtio-net-pci",
        "-device",
        "e1000",
        "-device",
        "pcie-root-port,id=rp1,chassis=1",
        "-device",
        "virtio-net-pci,bus=rp1",
        "-device",
        "pcie-root-port,id=rp2,chassis=2",
        "-device",
        "virtio-net-pci,bus=rp2,vectors=0",
    ];
    save(&dir, "q35", &devices, &file);
    let bytes = std::fs::read(&file).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let s = Stream::from_bytes("m.mig", bytes.clone()).unwrap();
    let want: Vec<_> = s
        .pci_devices()
        .iter()
        .map(|d| (d.id.clone(), d.config_offset, d.config_size))
        .collect();
    assert!(
        want.iter()
            .any(|w| w.0 == "0000:00:03.0:00.0/virtio-net" && w.2 == 4096),
        "{want:?}"
    );
    assert!(
        want.iter()
            .any(|w| w.0 == "0000:00:04.0:00.0/virtio-net" && w.2 == 4096),
        "{want:?}"
    );
    for d in s.pci_devices() {
        let c = s.read_config(d).unwrap();
        let cap = c[0x34] as usize;
        let mut edits: Vec<Vec<(usize, u8)>> = vec![
            vec![(0x06, c[0x06] & !0x10)],
            vec![(0x34, 0)],
            vec![(0x34, 0xff)],
            vec![(0x06, 0xff), (0x07, 0xff), (0x34, 0x41)],
        ];
        if cap >= 0x40 {
            edits.push(vec![(cap, 0), (cap + 1, 0)]);
            edits.push(vec![(cap + 1, cap as u8)]);
        }
        for e in edits {
            let mut b = bytes.clone();
            for &(off, v) in &e {
                b[d.config_offset as usize + off] = v;
            }
            let m = Stream::from_bytes("m.mig", b).unwrap_or_else(|err| panic!("{} {e:?}: {err}", d.id));
            let got: Vec<_> = m
                .pci_devices()
                .iter()
                .map(|d| (d.id.clone(), d.config_offset, d.config_size))
                .collect();
            assert_eq!(got, want, "{} mutated {e:x?}", d.id);
        }
    }
}

#[test]
fn reader_format_capabilities() {
    if !qemu_available() {
        return;
    }
    let dir = scratch("caps");
    let devices = ["-device", "virtio-net-pci", "-device", "e1000", "-device", "qemu-xhci"];
    let key = |s: &Stream| -> Vec<(String, DeviceKind, usize, Vec<u8>)> {
        s.pci_devices()
            .iter()
            .map(|d| (d.id.clone(), d.kind, d.config_size, s.read_config(d).unwrap()))
            .collect()
    };
    let plain = dir.join("plain.mig");
    save(&dir, "q35", &devices, &plain);
    let want = key(&Stream::open(&plain).unwrap());
    for caps in [
        &["mapped-ram"][..],
        &["mapped-ram", "multifd"],
        &["x-ignore-shared"],
        &["xbzrle"],
    ] {
        let f = dir.join(format!("{}.mig", caps.join("+")));
        save_with(&dir, "q35", &devices, &f, caps);
        let s = Stream::open(&f).unwrap_or_else(|e| panic!("{caps:?}: {e}"));
        assert_eq!(key(&s), want, "{caps:?}");
        devices_only_walk_agrees(&s, &f);
        for c in caps.iter().filter(|c| **c != "multifd" && **c != "xbzrle") {
            assert!(
                s.capabilities().iter().any(|x| x == c),
                "{caps:?}: {:?}",
                s.capabilities()
            );
        }
        std::fs::remove_file(&f).unwrap();
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Random damage to a real stream's device sections and vmdesc: never a panic, never a hang.
#[test]
fn reader_survives_random_damage_to_a_real_stream() {
    if !qemu_available() {
        return;
    }
    let dir = scratch("damage");
    let file = dir.join("d.mig");
    let devices = [
        "-device",
        "virtio-net-pci",
        "-device",
        "e1000e",
        "-device",
        "pcie-root-port,id=rp1,chassis=1",
    ];
    save(&dir, "q35", &devices, &file);
    let bytes = std::fs::read(&file).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let s = Stream::from_bytes("d.mig", bytes.clone()).unwrap();
    // Damage after the RAM section (the device sections and the vmdesc).
    let ram_end = s
        .sections()
        .iter()
        .filter(|x| x.idstr != "ram")
        .map(|x| x.offset)
        .min()
        .unwrap();
    let span = bytes.len() as u64 - ram_end;
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let start = Instant::now();
    let (mut ok, mut err) = (0, 0);
    for _ in 0..400 {
        let mut b = bytes.clone();
        for _ in 0..(1 + next() % 3) {
            let i = (ram_end + next() % span) as usize;
            b[i] = next() as u8;
        }
        let t = Instant::now();
        match Stream::from_bytes("d.mig", b) {
            Ok(_) => ok += 1,
            Err(e) => {
                assert!(
                    e.offset.is_some() || e.kind == pcimig_qemu::ErrorKind::NoSuchDevice,
                    "{e}"
                );
                err += 1
            }
        }
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "a damaged stream took {:?}",
            t.elapsed()
        );
    }
    eprintln!("damaged real stream: {ok} parsed, {err} refused, {:?}", start.elapsed());
}

#[test]
fn reader_q35_wide() {
    // Many device models: vmsd shapes with PCIDevice at different depths and names, virtio
    // devices of every kind, PCIe switch ports, bridges of each type; sdhci-pci's vmsd has no
    // PCIDevice (QEMU saves no config for it).
    let devices: Vec<String> = [
        "-audiodev none,id=snd",
        "-device ich9-intel-hda",
        "-device usb-ehci",
        "-device AC97,audiodev=snd",
        "-device ES1370,audiodev=snd",
        "-device virtio-scsi-pci",
        "-device virtio-rng-pci",
        "-device virtio-balloon-pci",
        "-device virtio-serial-pci",
        "-device pcie-pci-bridge,id=ppb",
        "-device ioh3420,id=p1,chassis=5",
        "-device x3130-upstream,id=up,bus=p1",
        "-device xio3130-downstream,id=dn,bus=up,chassis=6",
        "-device e1000-82545em,bus=dn",
        "-device megasas",
        "-device lsi53c895a,bus=ppb,addr=1",
        "-device sdhci-pci",
        "-device pvpanic-pci",
        "-device i6300esb",
        "-device ich9-usb-uhci1",
        "-device virtio-gpu-pci",
        "-device VGA",
        "-device ne2k_pci,bus=ppb,addr=2",
        "-device pcnet,bus=ppb,addr=3",
        "-device virtio-keyboard-pci",
    ]
    .iter()
    .flat_map(|a| a.splitn(2, ' ').map(str::to_string).collect::<Vec<_>>())
    .collect();
    let dv: Vec<&str> = devices.iter().map(String::as_str).collect();
    check_machine(
        "wide",
        "q35",
        &dv,
        &[
            ("0000:00:0a.0:00.0:00.0:00.0/e1000", DeviceKind::Vmsd, 256),
            (
                "0000:00:0a.0:00.0:00.0/xio3130-express-downstream-port",
                DeviceKind::Vmsd,
                4096,
            ),
            ("0000:00:05.0/virtio-scsi", DeviceKind::VirtioPci, 256),
            ("0000:00:09.0:03.0/pcnet", DeviceKind::Vmsd, 256),
        ],
    );
}
