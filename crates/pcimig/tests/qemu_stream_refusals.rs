//! Streams QEMU refuses, or loads without the sections pcimig would check, never PASS: each is a
//! real QEMU 10.0.2 stream mutated one way, loaded by real QEMU (its behaviour asserted), and
//! given to `pcimig check --emulated` against the unmutated stream (the destination) and to
//! `pcimig stream ls`:
//! - a section version_id above the destination's: QEMU "savevm: unsupported version"; pcimig
//!   FAIL (exit 1) with that line;
//! - a section id changed in a section header: QEMU "Mismatched section id in footer"; pcimig
//!   exit 2 with that line;
//! - QEMU_VM_EOF in place of the first device section: QEMU loads (it stops at EOF, warns
//!   "Expected vmdescription section", and runs the VM with every device at reset); pcimig
//!   exit 2 (the bytes after EOF are refused);
//! - the same stream cut right after that EOF (no vmdesc): QEMU loads; pcimig exit 2 (no PCI
//!   device in the saved stream while the destination has some);
//! - a vmdesc whose PCIDevice field sizes disagree with the stream: QEMU loads (it does not
//!   read the vmdesc); pcimig exit 2 (the inconsistency), never a verdict from misplaced bytes.
//!
//! Skipped (with a printed reason) when qemu-system-x86_64 10.0.x is not installed or
//! `PCIMIG_SKIP_QEMU` is set.

#[path = "../../pcimig-qemu/tests/support/restore.rs"]
mod restore;
#[path = "../../pcimig-qemu/tests/support/qemu.rs"]
mod support;

use pcimig_qemu::{Section, Stream};
use restore::{load_stream, save_stream, Outcome, TempDir};
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use support::{qemu_bin, skip_reason};

const MACHINE: &str = "q35";
const DEVICES: &[&str] = &["-device e1000", "-device virtio-net-pci"];

/// `pcimig ARGS`: exit code and stdout + stderr.
fn pcimig(args: &[&str]) -> (i32, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_pcimig")).args(args).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    (o.status.code().unwrap_or(-1), text)
}

/// `pcimig check --emulated` of `saved` against `dest`.
fn check(saved: &Path, dest: &Path) -> (i32, String) {
    let (s, d) = (saved.display().to_string(), dest.display().to_string());
    pcimig(&["check", "--emulated", "--saved", &s, "--dest", &d])
}

/// Offset of a section header's version_id (type, be32 id, idstr, be32 instance id before it).
fn version_offset(sec: &Section) -> usize {
    sec.offset as usize + 1 + 4 + 1 + sec.idstr.len() + 4
}

/// The stream with its vmdesc JSON replaced by `desc`.
fn with_vmdesc(bytes: &[u8], s: &Stream, desc: &Value) -> Vec<u8> {
    let at = s.vmdesc().expect("the stream has a vmdesc").offset as usize;
    let json = serde_json::to_vec(desc).unwrap();
    let mut out = bytes[..at + 1].to_vec();
    out.extend_from_slice(&(json.len() as u32).to_be_bytes());
    out.extend_from_slice(&json);
    out
}

/// The vmdesc with the PCIDevice version_id field of section `idstr` 8 bytes long instead of 4.
fn vmdesc_with_wrong_field_size(bytes: &[u8], s: &Stream, idstr: &str) -> Value {
    let v = s.vmdesc().unwrap();
    let json = &bytes[v.offset as usize + 5..];
    let mut desc: Value = serde_json::from_slice(json).unwrap();
    let dev = desc["devices"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|d| d["name"] == idstr)
        .unwrap();
    let pci = dev["fields"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|f| f["type"] == "struct" && f["struct"]["vmsd_name"] == "PCIDevice")
        .unwrap();
    let version = pci["struct"]["fields"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|f| f["name"] == "version_id")
        .unwrap();
    version["size"] = 8.into();
    desc
}

/// One mutated stream: QEMU's outcome must satisfy `qemu_ok`, pcimig's check must exit `code`
/// with `says` in its output.
struct Case {
    name: &'static str,
    bytes: Vec<u8>,
    qemu_ok: fn(&Outcome) -> bool,
    code: i32,
    says: String,
}

#[test]
fn streams_qemu_refuses_never_pass() {
    if let Some(why) = skip_reason() {
        println!("SKIPPED: {why}");
        return;
    }
    let tmp = TempDir::new("refusals");
    let orig = tmp.0.join("orig.mig");
    save_stream(&qemu_bin(), MACHINE, DEVICES, &tmp.0, &orig).expect("source QEMU saves");
    let bytes = std::fs::read(&orig).unwrap();
    let s = Stream::open(&orig).unwrap();
    let e1000 = s.pci_devices().iter().find(|d| d.idstr.ends_with("/e1000")).unwrap();
    let idstr = e1000.idstr.clone();
    let sec = s.sections()[e1000.section_index].clone();
    let first_full = s
        .sections()
        .iter()
        .find(|x| x.kind == pcimig_qemu::SectionKind::Full)
        .unwrap();

    let mut version = bytes.clone();
    let v = version_offset(&sec);
    version[v..v + 4].copy_from_slice(&(sec.version_id + 1).to_be_bytes());
    let mut id = bytes.clone();
    id[sec.offset as usize + 1..sec.offset as usize + 5].copy_from_slice(&0x7fffu32.to_be_bytes());
    let mut eof = bytes.clone();
    eof[first_full.offset as usize] = 0;
    let cut = eof[..first_full.offset as usize + 1].to_vec();
    let desc = with_vmdesc(&bytes, &s, &vmdesc_with_wrong_field_size(&bytes, &s, &idstr));
    let cases = vec![
        Case {
            name: "version",
            bytes: version,
            qemu_ok: |o| matches!(o, Outcome::OtherFailure(e) if e.contains("savevm: unsupported version")),
            code: 1,
            says: format!(
                "savevm: unsupported version {} for '{idstr}' v{}",
                sec.version_id + 1,
                sec.version_id
            ),
        },
        Case {
            name: "section-id",
            bytes: id,
            qemu_ok: |o| matches!(o, Outcome::OtherFailure(e) if e.contains("Mismatched section id in footer")),
            code: 2,
            says: format!(
                "Mismatched section id in footer for {idstr} - read {:#x} expected 0x7fff",
                sec.section_id
            ),
        },
        Case {
            name: "eof-in-the-middle",
            bytes: eof,
            qemu_ok: |o| *o == Outcome::Loaded,
            code: 2,
            says: "QEMU_VM_EOF after 0 device (FULL) sections".into(),
        },
        Case {
            name: "eof-then-cut",
            bytes: cut,
            qemu_ok: |o| *o == Outcome::Loaded,
            code: 2,
            says: "the saved stream holds no PCI device while the destination has".into(),
        },
        Case {
            name: "vmdesc-field-size",
            bytes: desc,
            qemu_ok: |o| *o == Outcome::Loaded,
            code: 2,
            says: "the vmdesc's field sizes disagree with the stream".into(),
        },
    ];
    for c in cases {
        let f = tmp.0.join(format!("{}.mig", c.name));
        std::fs::write(&f, &c.bytes).unwrap();
        let outcome = load_stream(&qemu_bin(), MACHINE, DEVICES, &tmp.0, &f);
        assert!((c.qemu_ok)(&outcome), "{}: QEMU: {outcome:?}", c.name);
        let (code, out) = check(&f, &orig);
        assert_eq!(code, c.code, "{}: {out}", c.name);
        assert!(out.contains(&c.says), "{}: {out}", c.name);
        assert!(!out.contains("verdict: PASS"), "{}: {out}", c.name);
    }
}

/// The same refusals without QEMU, on streams built with the StreamBuilder: a section version
/// above the destination's fails with QEMU's line; a saved stream without PCI devices is
/// refused.
#[test]
fn built_streams_version_and_empty() {
    use pcimig_qemu::build::StreamBuilder;
    let tmp = TempDir::new("refusals-built");
    let mut c = vec![0u8; 256];
    c[..4].copy_from_slice(&[0x86, 0x80, 0x0e, 0x10]);
    c[0x0a..0x0c].copy_from_slice(&[0x00, 0x02]);
    let stream = |version: u32, with_device: bool| {
        let mut b = StreamBuilder::new("pc-q35-10.0");
        b.opaque("timer", 0, 8);
        if with_device {
            b.pci_vmsd("0000:00:02.0/e1000", "e1000", version, &c, 0);
        }
        b.finish()
    };
    let (dest, newer, empty) = (tmp.0.join("d.mig"), tmp.0.join("n.mig"), tmp.0.join("e.mig"));
    std::fs::write(&dest, stream(2, true)).unwrap();
    std::fs::write(&newer, stream(3, true)).unwrap();
    std::fs::write(&empty, stream(2, false)).unwrap();
    let (code, out) = check(&dest, &dest);
    assert!(code != 2 || !out.contains("unsupported version"), "{out}");
    let (code, out) = check(&newer, &dest);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("savevm: unsupported version 3 for '0000:00:02.0/e1000' v2"),
        "{out}"
    );
    let (code, out) = check(&empty, &dest);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("the saved stream holds no PCI device while the destination has 1"),
        "{out}"
    );
}
