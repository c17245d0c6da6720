//! Malformed and odd inputs: each is a clear error naming the file (and line/offset where there
//! is one) with exit status 2, or a decode with a warning — never a panic, hang or unbounded read.

mod show_common;

use serde_json::Value;
use show_common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn pcimig(args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pcimig"));
    c.args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn show_json(src: &Path) -> Value {
    let out = pcimig(&["show", "--json", src.to_str().unwrap()], &[]);
    assert!(
        out.status.success(),
        "{}: {}",
        src.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn show_fails(src: &str) -> String {
    let out = pcimig(&["show", src], &[]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{src} should exit 2; stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!err.contains("panicked"), "{err}");
    err
}

fn issues(v: &Value) -> Vec<(String, u64)> {
    v["capabilities"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| Some((c["issue"]["kind"].as_str()?.to_string(), c["offset"].as_u64()?)))
        .collect()
}

/// A 4096-byte Express config: PCIe cap at 0x40 → MSI at 0x50; ext caps AER 0x100 → DSN 0x140.
fn express_base() -> Vec<u8> {
    let mut b = vec![0u8; 4096];
    b[0..4].copy_from_slice(&[0x86, 0x80, 0x34, 0x12]);
    b[6] = 0x10; // Status: capability list
    b[0x34] = 0x40;
    b[0x40] = 0x10;
    b[0x41] = 0x50;
    b[0x42] = 0x02;
    b[0x50] = 0x05;
    b[0x51] = 0x00;
    b[0x100..0x104].copy_from_slice(&(0x0001u32 | 2 << 16 | 0x140 << 20).to_le_bytes());
    b[0x140..0x144].copy_from_slice(&(0x0003u32 | 1 << 16).to_le_bytes());
    b
}

fn write(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    p
}

#[test]
fn standard_capability_loop_is_reported_inline() {
    let d = temp_dir("std-loop");
    let mut b = express_base();
    b[0x51] = 0x40; // MSI → back to PCIe
    let v = show_json(&write(&d, "loop.bin", &b));
    assert_eq!(issues(&v), vec![("looped".to_string(), 0x40)]);
    // The walk stopped in the standard chain after the PCIe cap: the extended caps are still shown.
    assert!(v["capabilities"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["offset"] == 0x140));
}

#[test]
fn pointer_into_header_and_id_ff_are_reported_inline() {
    let d = temp_dir("into-header");
    let mut b = express_base();
    b[0x51] = 0x0c;
    assert_eq!(
        issues(&show_json(&write(&d, "hdr.bin", &b))),
        vec![("into_header".to_string(), 0x0c)]
    );
    let mut b = express_base();
    b[0x50] = 0xff;
    assert_eq!(
        issues(&show_json(&write(&d, "ff.bin", &b))),
        vec![("broken".to_string(), 0x50)]
    );
    // Low pointer bits are masked as pciutils does: 0x53 is 0x50.
    let mut b = express_base();
    b[0x41] = 0x53;
    let v = show_json(&write(&d, "mask.bin", &b));
    assert!(issues(&v).is_empty());
    assert_eq!(v["capabilities"][1]["offset"], 0x50);
}

#[test]
fn extended_chain_loop_and_pointer_below_0x100() {
    let d = temp_dir("ext");
    let mut b = express_base();
    b[0x140..0x144].copy_from_slice(&(0x0003u32 | 1 << 16 | 0x100 << 20).to_le_bytes());
    assert_eq!(
        issues(&show_json(&write(&d, "eloop.bin", &b))),
        vec![("looped".to_string(), 0x100)]
    );
    let mut b = express_base();
    b[0x140..0x144].copy_from_slice(&(0x0003u32 | 1 << 16 | 0x80 << 20).to_le_bytes());
    assert_eq!(
        issues(&show_json(&write(&d, "below.bin", &b))),
        vec![("below_extended".to_string(), 0x80)]
    );
    // A header of all ones ends the chain quietly.
    let mut b = express_base();
    b[0x140..0x144].copy_from_slice(&[0xff; 4]);
    let v = show_json(&write(&d, "ones.bin", &b));
    assert!(issues(&v).is_empty());
    assert_eq!(v["capabilities"].as_array().unwrap().len(), 3);
}

#[test]
fn no_extended_capabilities_without_a_pcie_capability() {
    let d = temp_dir("no-exp");
    let mut b = express_base();
    b[0x40] = 0x01; // PM instead of PCIe
    let v = show_json(&write(&d, "conv.bin", &b));
    assert!(v["capabilities"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["extended"] == false));
    assert!(
        v["warnings"][0].as_str().unwrap().contains("not decoded as extended"),
        "{v}"
    );
}

#[test]
fn truncated_sources_say_so() {
    let d = temp_dir("trunc");
    let b = express_base();
    // 64-byte binary: the header, decoded with a warning; the chain leads beyond the dump.
    let v = show_json(&write(&d, "h64.bin", &b[..64]));
    assert_eq!(v["truncated"]["have"], 64);
    assert_eq!(issues(&v), vec![("not_in_dump".to_string(), 0x40)]);
    assert!(v["warnings"][0].as_str().unwrap().contains("64 bytes"));
    // A dump of another size is an error naming the file.
    let p = write(&d, "odd.bin", &b[..100]);
    let err = show_fails(p.to_str().unwrap());
    assert!(err.contains("odd.bin") && err.contains("not a config source"), "{err}");
    // lspci -xxx text of a PCIe device: a truncated view, never silently conventional.
    let mut t = String::new();
    lspci_text(&mut t, "00:02.0", &b[..256]);
    let v = show_json(&write(&d, "xxx.txt", t.as_bytes()));
    assert_eq!(v["truncated"]["full"], 4096);
    assert!(
        v["warnings"][0].as_str().unwrap().contains("extended config space"),
        "{v}"
    );
    // lspci -x text: 64 bytes.
    let mut t = String::new();
    lspci_text(&mut t, "00:02.0", &b[..64]);
    let v = show_json(&write(&d, "x.txt", t.as_bytes()));
    assert_eq!(v["truncated"]["have"], 64);
}

#[test]
fn lspci_text_with_crlf_decoded_lines_and_domains() {
    let d = temp_dir("crlf");
    let b = express_base();
    let mut t = String::new();
    lspci_text(&mut t, "10000:00:02.0", &b);
    let t = t.replacen(
        '\n',
        "\n\tSubsystem: decoded text between the header and the hex lines\n",
        1,
    );
    let t = t.replace('\n', "\r\n");
    let v = show_json(&write(&d, "crlf.txt", t.as_bytes()));
    assert_eq!(v["bdf"], "10000:00:02.0");
    assert_eq!(v["size"], 4096);
}

#[test]
fn odd_hex_text_is_an_error_naming_file_line_and_offset() {
    let d = temp_dir("hex");
    let p = write(&d, "bad.txt", b"00:02.0 Device\n00: 86 80 zz 12\n");
    let err = show_fails(p.to_str().unwrap());
    assert!(
        err.contains("bad.txt") && err.contains("line 2") && err.contains("at byte 0x19"),
        "{err}"
    );
    // A malformed line late in a many-device file: an error, and no partial output.
    let mut t = String::new();
    for i in 0..100 {
        lspci_text(&mut t, &bdf(i), &express_base());
    }
    t.push_str("00:1f.7 Last\n00: 86 80 xx\n");
    let p = write(&d, "late.txt", t.as_bytes());
    let out = pcimig(&["show", "--json", p.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "no partial output before the error");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("late.txt") && err.contains(&format!("line {}", t.lines().count())),
        "{err}"
    );
    // lspci -v text (no hex lines): nothing to read.
    let p = write(&d, "nohex.txt", b"00:01.0 PCI bridge: Intel\n\tFlags: bus master\n");
    let err = show_fails(p.to_str().unwrap());
    assert!(
        err.contains("nohex.txt") && err.contains("without hex dump lines"),
        "{err}"
    );
    let p = write(&d, "far.txt", b"00:02.0 Device\n1000: 00\n");
    let err = show_fails(p.to_str().unwrap());
    assert!(err.contains("far.txt") && err.contains("past 4096"), "{err}");
    let p = write(&d, "prose.txt", b"this is a shopping list\nmilk\n");
    let err = show_fails(p.to_str().unwrap());
    assert!(
        err.contains("prose.txt") && err.contains("not a config source"),
        "{err}"
    );
    // 256 bytes of plain text are not a binary dump.
    let p = write(&d, "notes256.txt", &[b'a'; 256]);
    let err = show_fails(p.to_str().unwrap());
    assert!(
        err.contains("notes256.txt") && err.contains("not a config source"),
        "{err}"
    );
    let p = write(&d, "empty.bin", b"");
    assert!(show_fails(p.to_str().unwrap()).contains("empty"));
    let p = write(
        &d,
        "random.bin",
        &(0..1000u32).map(|i| (i * 7 % 251) as u8).collect::<Vec<_>>(),
    );
    assert!(show_fails(p.to_str().unwrap()).contains("random.bin"));
}

#[test]
fn device_selection_in_many_device_text() {
    let d = temp_dir("select");
    let b = express_base();
    let mut t = String::new();
    lspci_text(&mut t, "0000:00:02.0", &b);
    lspci_text(&mut t, "0001:00:02.0", &b[..256]);
    lspci_text(&mut t, "0000:00:03.0", &b);
    let p = write(&d, "many.txt", t.as_bytes());
    let v = show_json(&p);
    assert_eq!(v["devices"].as_array().unwrap().len(), 3);
    assert_eq!(v["devices"][1]["bdf"], "0001:00:02.0");
    let one = show_json(Path::new(&format!("{}#00:03.0", p.display())));
    assert_eq!(one["bdf"], "0000:00:03.0");
    let one = show_json(Path::new(&format!("{}#0001:00:02.0", p.display())));
    assert_eq!(one["size"], 256);
    let err = show_fails(&format!("{}#00:02.0", p.display()));
    assert!(
        err.contains("0000:00:02.0") && err.contains("0001:00:02.0"),
        "ambiguous short BDF lists both: {err}"
    );
    let err = show_fails(&format!("{}#00:09.0", p.display()));
    assert!(err.contains("no device"), "{err}");
    let err = show_fails(&format!("{}#nonsense", p.display()));
    assert!(err.contains("not a device address"), "{err}");
    let bin = write(&d, "one.bin", &b);
    let err = show_fails(&format!("{}#00:02.0", bin.display()));
    assert!(err.contains("single-device binary dump"), "{err}");
}

#[test]
fn huge_files_are_refused_without_reading_them() {
    let d = temp_dir("huge");
    let p = d.join("huge.txt");
    let f = std::fs::File::create(&p).unwrap();
    f.set_len(300 * 1024 * 1024).unwrap(); // sparse: no disk used
    let err = show_fails(p.to_str().unwrap());
    assert!(err.contains("huge.txt") && err.contains("too large"), "{err}");
    // A long text file without a single newline is read in linear time and refused.
    let p = write(&d, "oneline.txt", &vec![b'a'; 8 * 1024 * 1024]);
    assert!(show_fails(p.to_str().unwrap()).contains("oneline.txt"));
}

#[test]
fn stream_magic_goes_to_the_stream_reader() {
    let d = temp_dir("stream");
    let p = write(&d, "vm.mig", &[0x51, 0x45, 0x56, 0x4d, 0, 0, 0, 3]);
    let out = pcimig(&["show", p.to_str().unwrap()], &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        !err.contains("not a config source"),
        "a QEVM file is a stream, not an unknown format: {err}"
    );
}

#[test]
fn sysfs_device_with_resource_and_driver() {
    let root = temp_dir("sysfs");
    let dev = root.join("0000:3b:00.0");
    std::fs::create_dir_all(&dev).unwrap();
    std::fs::write(dev.join("config"), express_base()).unwrap();
    std::fs::write(
        dev.join("resource"),
        "0x00000000fb000000 0x00000000fbffffff 0x0000000000040200\n\
         0x0000000000000000 0x0000000000000000 0x0000000000000000\n",
    )
    .unwrap();
    std::os::unix::fs::symlink("../../../bus/pci/drivers/vfio-pci", dev.join("driver")).unwrap();
    let env = [("PCIMIG_SYSFS_ROOT", root.as_path())];
    for src in ["sysfs:0000:3b:00.0", "3b:00.0"] {
        let out = pcimig(&["show", "--json", src], &env);
        assert!(out.status.success(), "{src}: {}", String::from_utf8_lossy(&out.stderr));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["origin"], "sysfs:0000:3b:00.0");
        assert_eq!(v["driver"], "vfio-pci");
        assert_eq!(v["bar_sizes"]["bars"][0], 16 << 20);
        assert_eq!(v["size"], 4096);
    }
    // An unprivileged read gets 64 bytes: said, not reported as a config without capabilities.
    let dev2 = root.join("0000:3c:00.0");
    std::fs::create_dir_all(&dev2).unwrap();
    std::fs::write(dev2.join("config"), &express_base()[..64]).unwrap();
    let out = pcimig(&["show", "--json", "sysfs:0000:3c:00.0"], &env);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["truncated"]["have"], 64);
    assert!(v["warnings"].to_string().contains("CAP_SYS_ADMIN"), "{v}");
    let out = pcimig(&["show", "sysfs:0000:99:00.0"], &env);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such PCI device"));
}

#[test]
fn vfio_sources_fail_clearly_without_a_device() {
    let out = pcimig(&["show", "vfio:/dev/vfio/4242#0000:99:00.0"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("vfio:/dev/vfio/4242"), "{err}");
    // A real device, where there is one: the first device of the first VFIO group.
    let group = std::fs::read_dir("/dev/vfio").ok().and_then(|d| {
        d.filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .find(|n| n != "vfio")
    });
    let Some(group) = group else {
        println!("SKIPPED reading a real VFIO device: no VFIO group under /dev/vfio on this machine");
        return;
    };
    if !cfg!(feature = "vfio") {
        println!("SKIPPED reading VFIO group {group}: built without the `vfio` feature");
        return;
    }
    let dev = std::fs::read_dir(format!("/sys/kernel/iommu_groups/{group}/devices"))
        .ok()
        .and_then(|mut d| d.next())
        .and_then(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned());
    let Some(dev) = dev else {
        println!("SKIPPED reading VFIO group {group}: no device listed in /sys/kernel/iommu_groups/{group}");
        return;
    };
    let src = format!("vfio:/dev/vfio/{group}#{dev}");
    let out = pcimig(&["show", "--json", &src], &[]);
    if out.status.success() {
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["bdf"], dev.as_str());
        assert!(matches!(v["size"].as_u64(), Some(256 | 4096)), "{v}");
    } else {
        // In use by a VM, or no permission: still a clear error naming the source.
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2));
        assert!(err.contains(&src), "{err}");
        println!("reading {src} failed cleanly (device busy or no permission): {err}");
    }
}

/// Random bytes of random lengths, and random mutations of valid configs, through the readers
/// and the decoder: never a panic.
#[test]
fn decoder_never_panics_on_random_bytes() {
    let mut rng = Rng::new(99);
    let ids = pcimig::show::PciIds::empty();
    for i in 0..3000 {
        let mut b = if i % 2 == 0 {
            generate(&mut rng, [Shape::Presets, Shape::Random, Shape::Malformed][i % 3])
        } else {
            let len = [0, 1, 63, 64, 65, 200, 256, 300, 4096][rng.below(9) as usize];
            (0..len).map(|_| rng.below(256) as u8).collect()
        };
        for _ in 0..rng.below(16) {
            if !b.is_empty() {
                let at = rng.below(b.len() as u64) as usize;
                b[at] = rng.below(256) as u8;
            }
        }
        let src = pcimig::source::ConfigSource::physical("random", b.clone());
        let r = pcimig::show::decode(&src, &ids);
        let _ = serde_json::to_string(&r).unwrap();
        let _ = pcimig::show::render::all(&[r]);
        // The same bytes as lspci text, cut at a random point.
        let mut t = String::new();
        if b.len() >= 4 {
            lspci_text(&mut t, "00:01.0", &b);
            let cut = rng.below(t.len() as u64) as usize;
            let _ = pcimig::source::lspci::parse("t", &t.as_bytes()[..cut]);
        }
    }
}
