//! Garbage, truncated and hostile streams: clear errors with offsets, no panics, and bounded
//! memory on streams that claim huge sizes.

use pcimig_qemu::build::StreamBuilder;
use pcimig_qemu::{ErrorKind, Stream, StreamError};
use std::path::PathBuf;
use std::process::Command;

fn sample() -> Vec<u8> {
    let mut c = vec![0u8; 256];
    c[..4].copy_from_slice(&[0x86, 0x80, 0x0e, 0x10]);
    let mut b = StreamBuilder::new("pc-q35-10.0");
    b.ram_section(&[0x0, 0x1000]);
    b.opaque("timer", 0, 24);
    b.pci_vmsd("0000:00:02.0/e1000", "e1000", 2, &c, 16);
    b.virtio_pci("0000:00:03.0/virtio-net", "virtio-net", &c, 0, 40);
    b.vfio_iterable("0000:00:04.0/vfio", 64);
    b.vfio_pci("0000:00:04.0/vfio", &c, 0);
    b.finish()
}

fn err(bytes: Vec<u8>) -> StreamError {
    Stream::from_bytes("h.mig", bytes).expect_err("hostile stream accepted")
}

#[test]
fn sample_is_valid() {
    let s = Stream::from_bytes("h.mig", sample()).unwrap();
    assert_eq!(s.pci_devices().len(), 3);
}

#[test]
fn garbage_and_bad_headers() {
    let e = err(Vec::new());
    assert_eq!(e.kind, ErrorKind::BadMagic);
    let e = err(b"hello, world, this is not a stream".to_vec());
    assert_eq!(e.kind, ErrorKind::BadMagic);
    assert_eq!(e.offset, Some(0));
    assert!(
        e.to_string().starts_with("h.mig: at byte 0x0: not a migration stream"),
        "{e}"
    );
    let e = err(b"QEV".to_vec());
    assert_eq!(e.kind, ErrorKind::BadMagic);
    let e = err(b"QEVM\0\0".to_vec());
    assert_eq!(e.kind, ErrorKind::Truncated);
    let e = err(b"QEVM\0\0\0\x02".to_vec());
    assert_eq!(e.kind, ErrorKind::UnsupportedVersion);
    assert!(e.to_string().contains("obsolete"), "{e}");
    let e = err(b"QEVM\0\0\0\x07\x07".to_vec());
    assert_eq!(e.kind, ErrorKind::UnsupportedVersion);
    assert_eq!(e.offset, Some(4));
}

#[test]
fn every_truncation_is_an_error_with_an_offset() {
    let full = sample();
    for n in 0..full.len() {
        let r = Stream::from_bytes("h.mig", full[..n].to_vec());
        match r {
            Err(e) => {
                assert!(e.offset.is_some() || e.kind == ErrorKind::BadMagic, "cut at {n}: {e}");
                assert!(
                    e.offset.unwrap_or(0) <= n as u64,
                    "cut at {n}: offset past the end: {e}"
                );
            }
            // A cut exactly after the EOF byte (the vmdesc missing) is a valid stream.
            Ok(s) => assert!(s.vmdesc().is_none(), "cut at {n} accepted with a vmdesc"),
        }
    }
}

#[test]
fn truncated_vmdesc_is_named() {
    let full = sample();
    let s = Stream::from_bytes("h.mig", full.clone()).unwrap();
    let v = s.vmdesc().unwrap();
    let cut = full[..(v.offset as usize + 5 + v.len as usize / 2)].to_vec();
    let e = err(cut);
    assert_eq!(e.kind, ErrorKind::Vmdesc);
    assert_eq!(e.offset, Some(v.offset));
    assert!(e.to_string().contains("truncated vmdesc"), "{e}");
}

#[test]
fn unknown_section_type() {
    let mut b = StreamBuilder::new("pc-q35-10.0");
    b.opaque("timer", 0, 8);
    let at = b.bytes().len() as u64;
    b.raw(&[0x42]);
    let e = err(b.finish());
    assert_eq!(e.kind, ErrorKind::UnknownSectionType);
    assert_eq!(e.offset, Some(at));
    assert!(e.to_string().contains("unknown section type 0x42"), "{e}");
    let mut b = StreamBuilder::new("pc-q35-10.0");
    b.command(0x77, &[]);
    assert_eq!(err(b.finish()).kind, ErrorKind::UnknownSectionType);
}

#[test]
fn huge_lengths_are_refused_before_allocation() {
    for (what, bytes) in hostile_streams() {
        let e = err(bytes);
        assert!(e.offset.is_some(), "{what}: {e}");
        assert!(
            matches!(
                e.kind,
                ErrorKind::TooLarge | ErrorKind::Truncated | ErrorKind::Malformed | ErrorKind::Vmdesc
            ),
            "{what}: {e:?}"
        );
    }
}

#[test]
fn footer_mismatch_and_missing_footer() {
    let mut b = StreamBuilder::new("pc-q35-10.0");
    b.footers = true;
    b.opaque("timer", 0, 8);
    let mut bytes = b.finish();
    // The footer of section 0 ("timer") is after its 8-byte body.
    let pos = bytes.windows(5).position(|w| w == [0x7e, 0, 0, 0, 0]).unwrap();
    bytes[pos + 4] = 9;
    let e = err(bytes);
    assert_eq!(e.kind, ErrorKind::Malformed);
    assert!(
        e.to_string()
            .contains("Mismatched section id in footer for timer - read 0x9 expected 0x0"),
        "{e}"
    );
}

#[test]
fn vmdesc_disagreeing_with_the_stream() {
    let mut b = StreamBuilder::new("pc-q35-10.0");
    b.opaque("timer", 0, 8);
    let bytes = b.finish();
    // Rename the section in the stream only.
    let mut bad = bytes.clone();
    let p = bad.windows(5).position(|w| w == b"timer").unwrap();
    bad[p] = b'T';
    let e = err(bad);
    assert_eq!(e.kind, ErrorKind::Vmdesc);
    assert!(e.to_string().contains("section 0 'Timer'"), "{e}");
}

#[test]
fn random_corruption_never_panics() {
    let base = sample();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for _ in 0..3000 {
        let mut b = base.clone();
        for _ in 0..(1 + next() % 4) {
            let i = (next() % b.len() as u64) as usize;
            b[i] = next() as u8;
        }
        let _ = Stream::from_bytes("f.mig", b);
    }
}

#[test]
fn pipes_and_devices_are_refused() {
    let dir = std::env::temp_dir().join(format!("pcimig-fifo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("s.mig");
    let ok = Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if ok {
        let e = Stream::open(&fifo).unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotSeekable);
        assert!(e.to_string().contains("seekable"), "{e}");
    }
    let e = Stream::open("/dev/null").unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotSeekable);
    let e = Stream::open(&dir).unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotSeekable);
    std::fs::remove_dir_all(&dir).unwrap();
    let e = Stream::open("/nonexistent/x.mig").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Io);
}

/// Streams whose lengths claim far more than the file holds.
fn hostile_streams() -> Vec<(&'static str, Vec<u8>)> {
    let mut out = Vec::new();
    let head = |machine_len: u32| {
        let mut v = b"QEVM\0\0\0\x03\x07".to_vec();
        v.extend_from_slice(&machine_len.to_be_bytes());
        v
    };
    out.push(("machine type length", head(0xffff_ffff)));
    // vmdesc record length 0xffffffff after EOF.
    let mut v = head(3);
    v.extend_from_slice(b"pc\0\x00\x06\xff\xff\xff\xff{}");
    out.push(("vmdesc length", v));
    // vmdesc claiming a FULL section of 2^40 bytes.
    let mut b = StreamBuilder::new("pc-q35-10.0");
    b.full(
        "big",
        0,
        1,
        &[1, 2, 3],
        serde_json::json!({"vmsd_name": "big", "version": 1,
        "fields": [{"name": "x", "type": "buffer", "size": 1u64 << 40}]}),
    );
    out.push(("vmdesc field size", b.finish()));
    // array_len * size overflowing.
    let mut b = StreamBuilder::new("pc-q35-10.0");
    b.full(
        "big",
        0,
        1,
        &[1, 2, 3],
        serde_json::json!({"vmsd_name": "big", "version": 1,
        "fields": [{"name": "x", "type": "uint64", "size": u64::MAX / 2, "array_len": 16}]}),
    );
    out.push(("vmdesc array overflow", b.finish()));
    // RAM: MEM_SIZE claiming 2^50 bytes with a block of 2^50.
    let mut b = StreamBuilder::new("pc-q35-10.0");
    b.raw(&[0x01, 0, 0, 0, 0, 3])
        .raw(b"ram")
        .raw(&0u32.to_be_bytes())
        .raw(&4u32.to_be_bytes());
    b.raw(&((1u64 << 50) | 0x04).to_be_bytes())
        .raw(&[6])
        .raw(b"pc.ram")
        .raw(&(1u64 << 50).to_be_bytes());
    b.raw(&0x08u64.to_be_bytes()).raw(&[6]).raw(b"pc.ram");
    out.push(("RAM page past the end", b.finish()));
    // vfio data record of 2^63 bytes.
    let mut b = StreamBuilder::new("pc-q35-10.0");
    b.raw(&[0x01, 0, 0, 0, 0, 4])
        .raw(b"vfio")
        .raw(&0u32.to_be_bytes())
        .raw(&1u32.to_be_bytes());
    b.raw(&pcimig_qemu::vfio_flag::DEV_DATA_STATE.to_be_bytes())
        .raw(&(1u64 << 63).to_be_bytes());
    out.push(("vfio data length", b.finish()));
    // Command length past the end.
    let mut b = StreamBuilder::new("pc-q35-10.0");
    b.raw(&[0x08, 0, 2, 0xff, 0xff, 1, 2]);
    out.push(("command length", b.finish()));
    out
}

/// Child side of `memory_stays_bounded`: parse the file named by the environment, print the
/// peak RSS. Does nothing when run as a normal test.
#[test]
fn memory_child() {
    let Ok(path) = std::env::var("PCIMIG_MEM_CHILD") else {
        return;
    };
    let r = Stream::open(&path);
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let hwm = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap().to_string();
    println!("RESULT {} {hwm}", if r.is_ok() { "ok" } else { "err" });
}

#[test]
fn memory_stays_bounded_on_streams_claiming_huge_sizes() {
    let dir = std::env::temp_dir().join(format!("pcimig-mem-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut files: Vec<(String, PathBuf)> = Vec::new();
    for (i, (what, bytes)) in hostile_streams().into_iter().enumerate() {
        let p = dir.join(format!("h{i}.mig"));
        std::fs::write(&p, bytes).unwrap();
        files.push((what.to_string(), p));
    }
    // The largest vmdesc the reader accepts, made of the smallest fields (the parsed form is
    // the biggest allocation the reader makes).
    {
        let mut b = StreamBuilder::new("pc-q35-10.0");
        b.raw(&[0x04, 0, 0, 0, 0, 1, b'x'])
            .raw(&0u32.to_be_bytes())
            .raw(&1u32.to_be_bytes())
            .raw(&[0x7e, 0, 0, 0, 0]);
        b.raw(&[0x00, 0x06]);
        let field = r#"{"name":"","type":"","size":0},"#;
        let head = r#"{"devices":[{"name":"x","instance_id":0,"vmsd_name":"x","fields":["#;
        let n = (pcimig_qemu::MAX_VMDESC as usize - head.len() - 8) / field.len();
        let mut j = String::from(head);
        for _ in 0..n {
            j.push_str(field);
        }
        j.pop();
        j.push_str("]}]}");
        let mut bytes = b.bytes().to_vec();
        bytes.extend_from_slice(&(j.len() as u32).to_be_bytes());
        bytes.extend_from_slice(j.as_bytes());
        let p = dir.join("bigdesc.mig");
        std::fs::write(&p, bytes).unwrap();
        files.push(("10 MiB vmdesc".into(), p));
    }
    // A sparse 16 GiB file: a RAM section that pages through it (zero bytes = bad flags).
    let p = dir.join("sparse.mig");
    {
        let mut b = StreamBuilder::new("pc-q35-10.0");
        b.raw(&[0x01, 0, 0, 0, 0, 3])
            .raw(b"ram")
            .raw(&0u32.to_be_bytes())
            .raw(&4u32.to_be_bytes());
        b.raw(&((16u64 << 30) | 0x04).to_be_bytes())
            .raw(&[6])
            .raw(b"pc.ram")
            .raw(&(16u64 << 30).to_be_bytes());
        std::fs::write(&p, b.bytes()).unwrap();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&p)
            .unwrap()
            .set_len(16 << 30)
            .unwrap();
        files.push(("sparse 16 GiB".into(), p));
    }
    for (what, p) in &files {
        // Address space capped at 1 GiB: any allocation of a claimed size aborts the child.
        let out = Command::new("sh")
            .arg("-c")
            .arg("ulimit -v 1048576; exec \"$0\" --exact memory_child --nocapture --test-threads=1")
            .arg(&exe)
            .env("PCIMIG_MEM_CHILD", p)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{what}: child failed: {stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let line = stdout
            .lines()
            .find_map(|l| l.find("RESULT").map(|i| &l[i..]))
            .unwrap_or_else(|| panic!("{what}: {stdout}"));
        let kb: u64 = line.split_whitespace().nth(3).unwrap().parse().unwrap();
        eprintln!("{what}: {line}");
        assert!(kb < 64 * 1024, "{what}: peak RSS {kb} kB");
        if what != "10 MiB vmdesc" {
            assert!(line.contains("RESULT err"), "{what}: {line}");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn vmdesc_offsets_beyond_the_section_are_refused() {
    // The outer struct field claims 300 bytes, its inner fields put the PCIDevice 2^63 bytes in.
    let mut b = StreamBuilder::new("pc-q35-10.0");
    let desc = serde_json::json!({"vmsd_name": "d", "version": 1, "fields": [{"name": "s", "type": "struct", "size": 300,
        "struct": {"vmsd_name": "inner", "version": 1, "fields": [
            {"name": "pad", "type": "buffer", "size": 1u64 << 63},
            pcimig_qemu::build::pci_desc_field("p", 256)]}}]});
    b.full("0000:00:02.0/d", 0, 1, &[0u8; 300], desc);
    let e = err(b.finish());
    assert_eq!(e.kind, ErrorKind::Vmdesc, "{e}");
    // A virtio field placed past the section's end.
    let mut b = StreamBuilder::new("pc-q35-10.0");
    let desc = serde_json::json!({"vmsd_name": "v", "version": 1, "fields": [
        {"name": "pad", "type": "buffer", "size": 100},
        {"name": "virtio", "type": "virtio", "size": u64::MAX - 50}]});
    b.full("0000:00:02.0/virtio-net", 0, 1, &[0u8; 300], desc);
    let _ = Stream::from_bytes("h.mig", b.finish());
    // PCIDevice fields whose sizes overflow.
    let mut b = StreamBuilder::new("pc-q35-10.0");
    let desc = serde_json::json!({"vmsd_name": "d", "version": 1, "fields": [{"name": "s", "type": "struct", "size": 300,
        "struct": {"vmsd_name": "PCIDevice", "version": 2, "fields": [
            {"name": "version_id", "type": "int32 le", "size": u64::MAX},
            {"name": "a", "type": "int32 le", "size": u64::MAX},
            {"name": "config", "type": "pci config", "size": 256}]}}]});
    b.full("0000:00:02.0/d", 0, 1, &[0u8; 300], desc);
    let _ = Stream::from_bytes("h.mig", b.finish());
}

/// Random vmdesc layouts (sizes from tiny to u64::MAX, nested structs, PCIDevice and virtio
/// fields anywhere, subsections) over random bodies: errors or devices, never a panic.
#[test]
fn random_vmdesc_layouts_never_panic() {
    let mut x: u64 = 0x1234_5678_9abc_def1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    fn size(r: u64) -> u64 {
        [0, 1, 4, 16, 256, 4096, 1 << 20, 1 << 40, u64::MAX / 3, u64::MAX][(r % 10) as usize]
    }
    fn fields(next: &mut dyn FnMut() -> u64, depth: u32) -> serde_json::Value {
        let n = next() % 4;
        let mut v = Vec::new();
        for i in 0..n {
            let r = next();
            let f = match r % 5 {
                0 if depth < 3 => serde_json::json!({"name": format!("s{i}"), "type": "struct", "size": size(next()),
                    "struct": {"vmsd_name": "inner", "version": 1, "fields": fields(next, depth + 1)}}),
                1 => pcimig_qemu::build::pci_desc_field("p", if next() % 2 == 0 { 256 } else { 4096 }),
                2 => serde_json::json!({"name": "virtio", "type": "virtio", "size": size(next())}),
                3 => {
                    serde_json::json!({"name": "a", "type": "uint32", "size": size(next()), "array_len": size(next())})
                }
                _ => serde_json::json!({"name": "b", "type": "buffer", "size": size(next())}),
            };
            v.push(f);
        }
        serde_json::Value::Array(v)
    }
    for _ in 0..2000 {
        let mut b = StreamBuilder::new("pc-q35-10.0");
        let mut desc = serde_json::json!({"vmsd_name": "d", "version": 1, "fields": fields(&mut next, 0)});
        if next() % 3 == 0 {
            desc["subsections"] =
                serde_json::json!([{"vmsd_name": "d/sub", "version": 1, "fields": fields(&mut next, 1)}]);
        }
        let len = (next() % 6000) as usize;
        let body: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        let name = if next() % 2 == 0 {
            "0000:00:02.0/virtio-net"
        } else {
            "0000:00:02.0/d"
        };
        b.full(name, 0, 1, &body, desc);
        let _ = Stream::from_bytes("r.mig", b.finish());
    }
}
