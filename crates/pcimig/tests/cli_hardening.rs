//! The CLI's inputs and outputs against hostile or odd files (issue 13, "Hardening"): `-o` never
//! follows a planted link, never replaces a special file or an input; a SRC that is not a regular
//! file is read (`-`) or refused at once, never a hang; every byte from an input is escaped
//! before it reaches a terminal; `show` streams its output. Every run ends with exit 0, 1 or 2
//! and no panic.

mod show_common;

use pcimig_qemu::build::StreamBuilder;
use show_common::*;
use std::io::Write;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Run pcimig with `stdin` as its standard input, under `timeout 60`: longer is a hang.
fn run(args: &[&std::ffi::OsStr], stdin: &[u8]) -> Output {
    let mut c = Command::new("timeout");
    c.arg("60")
        .arg(env!("CARGO_BIN_EXE_pcimig"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    let _ = feeder.join();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(124), "pcimig {args:?} hangs");
    assert!(!err.contains("panicked"), "{args:?}: {err}");
    assert!(
        matches!(out.status.code(), Some(0..=2)),
        "{args:?}: {:?} {err}",
        out.status
    );
    out
}

fn pcimig(args: &[&str]) -> Output {
    let a: Vec<&std::ffi::OsStr> = args.iter().map(|s| std::ffi::OsStr::new(*s)).collect();
    run(&a, b"")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// An exit-2 run; its error text.
fn fails(args: &[&str]) -> String {
    let o = pcimig(args);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    stderr(&o)
}

/// A stream with one pcie-root-port (config `c`) under `idstr`.
fn stream_with(idstr: &str) -> (Vec<u8>, Vec<u8>) {
    let mut c = vec![0u8; 4096];
    c[..4].copy_from_slice(&[0x36, 0x1b, 0x0c, 0x00]);
    let mut b = StreamBuilder::new("pc-q35-10.0");
    b.pci_vmsd(idstr, "pcie-root-port", 1, &c, 0);
    (b.finish(), c)
}

fn write(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    p
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn mkfifo(p: &Path) {
    assert!(Command::new("mkfifo").arg(p).status().unwrap().success());
}

/// lspci -xxx text of `n` generated 256-byte devices.
fn lspci_devices(n: usize) -> String {
    let mut t = String::new();
    let mut rng = Rng::new(n as u64);
    for i in 0..n {
        let mut b = generate(&mut rng, Shape::Presets);
        b.truncate(256);
        lspci_text(&mut t, &bdf(i), &b);
    }
    t
}

/// A PCI Express endpoint: PM, PCIe, AER and DSN.
fn express_base() -> Vec<u8> {
    let mut b = vec![0u8; 4096];
    b[0..4].copy_from_slice(&[0x86, 0x80, 0x34, 0x12]);
    b[6] = 0x10; // Status: capability list
    b[0x34] = 0x40;
    b[0x40..0x43].copy_from_slice(&[0x10, 0x50, 0x02]);
    b[0x50] = 0x01;
    b[0x100..0x104].copy_from_slice(&(0x0001u32 | 2 << 16 | 0x140 << 20).to_le_bytes());
    b[0x140..0x144].copy_from_slice(&(0x0003u32 | 1 << 16).to_le_bytes());
    b
}

const DEV: &str = "0000:00:03.0/pcie-root-port";

#[test]
fn output_never_goes_through_a_link_planted_at_a_predictable_temporary_name() {
    let d = temp_dir("harden-planted");
    let (stream, c) = stream_with(DEV);
    let mig = write(&d, "vm.mig", &stream);
    let victim = write(&d, "victim", b"precious");
    // The names the old writer used (`.NAME.PID.tmp`) for every pid the run could get, and
    // the other obvious ones: all links to the victim.
    let out_dir = d.join("shared");
    std::fs::create_dir(&out_dir).unwrap();
    let pid = std::process::id();
    for p in pid..pid + 3000 {
        std::os::unix::fs::symlink(&victim, out_dir.join(format!(".rp.bin.{p}.tmp"))).unwrap();
    }
    for name in [".rp.bin.tmp", "rp.bin.tmp", ".rp.bin~", "rp.bin.new"] {
        std::os::unix::fs::symlink(&victim, out_dir.join(name)).unwrap();
    }
    let before = std::fs::read_dir(&out_dir).unwrap().count();
    let out = out_dir.join("rp.bin");
    let o = pcimig(&["stream", "extract", &format!("{}#{DEV}", s(&mig)), "-o", s(&out)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    assert_eq!(std::fs::read(&out).unwrap(), c);
    assert_eq!(
        std::fs::read_dir(&out_dir).unwrap().count(),
        before + 1,
        "the output and no leftover temporary file"
    );
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn output_refuses_devices_fifos_directories_and_links_and_leaves_them_intact() {
    let d = temp_dir("harden-special");
    let (stream, _) = stream_with(DEV);
    let mig = write(&d, "vm.mig", &stream);
    let src = format!("{}#{DEV}", s(&mig));
    let err = fails(&["stream", "extract", &src, "-o", "/dev/null"]);
    assert!(err.contains("/dev/null") && err.contains("character device"), "{err}");
    assert!(std::fs::metadata("/dev/null").unwrap().file_type().is_char_device());
    let fifo = d.join("fifo");
    mkfifo(&fifo);
    let err = fails(&["stream", "extract", &src, "-o", s(&fifo)]);
    assert!(err.contains("FIFO"), "{err}");
    assert!(std::fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
    let err = fails(&["stream", "extract", &src, "-o", s(&d)]);
    assert!(err.contains("directory"), "{err}");
    // A link, even to a regular file, is refused (it may have been planted): the link and the
    // file it points to stay as they were.
    let target = write(&d, "target", b"keep");
    let link = d.join("link");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let err = fails(&["stream", "extract", &src, "-o", s(&link)]);
    assert!(err.contains("symbolic link"), "{err}");
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
    assert_eq!(std::fs::read(&target).unwrap(), b"keep");
    let dev_link = d.join("null-link");
    std::os::unix::fs::symlink("/dev/null", &dev_link).unwrap();
    fails(&["stream", "extract", &src, "-o", s(&dev_link)]);
    assert!(std::fs::metadata("/dev/null").unwrap().file_type().is_char_device());
    // A missing directory: an error, nothing created.
    fails(&["stream", "extract", &src, "-o", s(&d.join("no/such/dir/x.bin"))]);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn output_over_an_input_is_refused_by_any_name() {
    let d = temp_dir("harden-same");
    let (stream, _) = stream_with(DEV);
    let mig = write(&d, "vm.mig", &stream);
    let hard = d.join("hard.mig");
    std::fs::hard_link(&mig, &hard).unwrap();
    std::fs::create_dir(d.join("sub")).unwrap();
    let other = d.join("sub/../vm.mig");
    let src = format!("{}#{DEV}", s(&mig));
    for out in [&mig, &hard, &other] {
        let err = fails(&["stream", "extract", &src, "-o", s(out)]);
        assert!(err.contains("same file"), "{err}");
    }
    assert_eq!(std::fs::read(&mig).unwrap(), stream, "the stream is untouched");
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn report_and_snapshot_outputs_never_replace_their_inputs() {
    let d = temp_dir("harden-html-same");
    let dump = write(&d, "saved.bin", &express_base());
    let dest = write(&d, "dest.bin", &express_base());
    // check --html onto the saved dump, named with a scheme.
    let saved = format!("file:{}", s(&dump));
    let err = fails(&["check", "--saved", &saved, "--dest", s(&dest), "--html", s(&dump)]);
    assert!(err.contains("same file"), "{err}");
    let err = fails(&["check", "--saved", s(&dump), "--dest", s(&dest), "--html", "-"]);
    assert!(err.contains("--html -"), "{err}");
    assert_eq!(std::fs::read(&dump).unwrap(), express_base(), "the dump is untouched");
    // snapshot --out onto a dump of its --from directory.
    let dumps = d.join("dumps");
    std::fs::create_dir(&dumps).unwrap();
    let one = write(&dumps, "0000:3b:00.0.config.bin", &express_base());
    let err = fails(&["snapshot", "--from", s(&dumps), "--qemu", "10.0", "--out", s(&one)]);
    assert!(err.contains("same file"), "{err}");
    assert_eq!(std::fs::read(&one).unwrap(), express_base());
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn output_dash_is_standard_output_and_a_regular_file_is_replaced_keeping_its_mode() {
    let d = temp_dir("harden-dash");
    let (stream, c) = stream_with(DEV);
    let mig = write(&d, "vm.mig", &stream);
    let src = format!("{}#{DEV}", s(&mig));
    let o = pcimig(&["stream", "extract", &src, "-o", "-"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(o.stdout, c);
    let out = write(&d, "old.bin", b"old");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o640)).unwrap();
    let o = pcimig(&["stream", "extract", &src, "-o", s(&out)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(std::fs::read(&out).unwrap(), c);
    assert_eq!(std::fs::metadata(&out).unwrap().permissions().mode() & 0o777, 0o640);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn sources_that_are_not_regular_files_are_refused_at_once() {
    let d = temp_dir("harden-src");
    let fifo = d.join("fifo");
    mkfifo(&fifo);
    let dump = write(&d, "dump.bin", &express_base()[..256]);
    for (src, what) in [
        (s(&fifo), "FIFO"),
        ("/dev/zero", "character device"),
        (s(&d), "directory"),
    ] {
        let err = fails(&["show", src]);
        assert!(err.contains(what) && err.contains(src), "{err}");
        let err = fails(&["show", "--json", src]);
        assert!(err.contains(what), "{err}");
        let err = fails(&["check", "--saved", src, "--dest", s(&dump)]);
        assert!(err.contains(what), "{err}");
        let err = fails(&["check", "--saved", s(&dump), "--dest", src]);
        assert!(err.contains(what), "{err}");
    }
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn standard_input_is_read_for_dumps_and_lspci_text_but_not_streams() {
    let d = temp_dir("harden-stdin");
    let text = lspci_devices(3);
    let file = write(&d, "three.txt", text.as_bytes());
    let dash = std::ffi::OsStr::new("-");
    let json = std::ffi::OsStr::new("--json");
    let show = std::ffi::OsStr::new("show");
    let o = run(&[show, json, dash], text.as_bytes());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let from_stdin: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let from_file: serde_json::Value = serde_json::from_slice(&pcimig(&["show", "--json", s(&file)]).stdout).unwrap();
    assert_eq!(from_stdin["devices"].as_array().unwrap().len(), 3);
    for (a, b) in from_stdin["devices"]
        .as_array()
        .unwrap()
        .iter()
        .zip(from_file["devices"].as_array().unwrap())
    {
        assert_eq!(a["fields"], b["fields"]);
        assert_eq!(a["capabilities"], b["capabilities"]);
    }
    // One device selected from standard input; a binary dump on standard input.
    let sel = std::ffi::OsString::from(format!("-#{}", bdf(1)));
    let o = run(&[show, json, &sel], text.as_bytes());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let one: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(one["bdf"], from_file["devices"][1]["bdf"]);
    let o = run(&[show, dash], &express_base()[..256]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("<stdin>"));
    // A check with its saved side on standard input.
    let dump = write(&d, "dump.bin", &express_base()[..256]);
    let check = std::ffi::OsStr::new("check");
    let o = run(
        &[check, "--saved".as_ref(), dash, "--dest".as_ref(), dump.as_os_str()],
        &express_base()[..256],
    );
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    let err = fails(&["check", "--saved", "-", "--dest", "-"]);
    assert!(err.contains("at most one"), "{err}");
    // A stream needs a seekable file.
    let (stream, _) = stream_with(DEV);
    let o = run(&[show, dash], &stream);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("standard input"), "{}", stderr(&o));
    // Nothing on standard input.
    let o = run(&[show, dash], b"");
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("<stdin>"), "{}", stderr(&o));
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn file_names_with_a_hash_name_the_file_and_a_trailing_hash_is_the_escape() {
    let d = temp_dir("harden-hash");
    let text = lspci_devices(2);
    let p = write(&d, "a#b.txt", text.as_bytes());
    let whole = s(&p);
    for src in [whole.to_string(), format!("{whole}#")] {
        let o = pcimig(&["show", "--json", &src]);
        assert_eq!(o.status.code(), Some(0), "{src}: {}", stderr(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["devices"].as_array().unwrap().len(), 2);
    }
    let o = pcimig(&["show", "--json", &format!("{whole}#{}", bdf(1))]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["bdf"].is_string(), "{v}");
    // `./name` too (the old reader split it at the `#`).
    let o = Command::new(env!("CARGO_BIN_EXE_pcimig"))
        .current_dir(&d)
        .args(["show", "./a#b.txt"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn a_non_utf8_file_name_is_still_named_in_the_error() {
    use std::os::unix::ffi::OsStrExt;
    let d = temp_dir("harden-utf8");
    let mut name = d.as_os_str().as_bytes().to_vec();
    name.extend_from_slice(b"/dump\xff.bin");
    let p = std::ffi::OsStr::from_bytes(&name);
    std::fs::write(p, &express_base()[..256]).unwrap();
    for args in [
        vec!["show".as_ref(), p],
        vec!["check".as_ref(), "--saved".as_ref(), p, "--dest".as_ref(), p],
    ] {
        let o = run(&args, b"");
        assert_eq!(o.status.code(), Some(2));
        assert!(stderr(&o).contains("dump\u{fffd}.bin"), "{}", stderr(&o));
    }
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn a_device_given_twice_in_lspci_text_is_an_error_naming_both_lines() {
    let d = temp_dir("harden-dup");
    let mut t = lspci_devices(2);
    // The second device again, with the domain written this time.
    let again = lspci_devices(2);
    let second = again.split("\n\n").nth(1).unwrap();
    t.push_str(second);
    t.push_str("\n\n");
    let p = write(&d, "dup.txt", t.as_bytes());
    let first_line = t.lines().position(|l| l.starts_with(&bdf(1))).unwrap() + 1;
    let lines: Vec<&str> = t.lines().collect();
    let dup_line = lines.iter().rposition(|l| l.starts_with(&bdf(1))).unwrap() + 1;
    for json in [false, true] {
        let args: Vec<&str> = if json {
            vec!["show", "--json", s(&p)]
        } else {
            vec!["show", s(&p)]
        };
        let err = fails(&args);
        assert!(
            err.contains(&format!("line {dup_line}")) && err.contains(&format!("first at line {first_line}")),
            "{err}"
        );
    }
    let err = fails(&["show", &format!("{}#{}", s(&p), bdf(1))]);
    assert!(err.contains("appears again"), "{err}");
    std::fs::remove_dir_all(&d).unwrap();
}

/// Whether `out` holds a raw control byte a terminal would act on (newline and tab aside).
fn has_raw_controls(out: &[u8]) -> bool {
    out.iter().any(|&b| (b < 0x20 && b != b'\n' && b != b'\t') || b == 0x7f)
        || out.windows(2).any(|w| w[0] == 0xc2 && (0x80..=0x9f).contains(&w[1]))
}

#[test]
fn bytes_from_inputs_reach_the_terminal_escaped_in_output_and_errors() {
    let d = temp_dir("harden-escape");
    let evil = "0000:00:03.0/pcie\x1b]0;owned\x07-root\0port\u{9b}31m";
    let (stream, _) = stream_with(evil);
    let mig = write(&d, "vm.mig", &stream);
    for args in [vec!["stream", "ls", s(&mig)], vec!["stream", "ls", "--all", s(&mig)]] {
        let o = pcimig(&args);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert!(!has_raw_controls(&o.stdout) && !has_raw_controls(&o.stderr), "{args:?}");
        assert!(String::from_utf8_lossy(&o.stdout).contains("\\x1b]0;owned\\x07"));
    }
    let o = pcimig(&["stream", "ls", "--json", s(&mig)]);
    assert!(!has_raw_controls(&o.stdout));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v.to_string().contains("owned"));
    // An error about the device: the idstr in the message is escaped.
    let o = pcimig(&["stream", "extract", &format!("{}#nope", s(&mig)), "-o", "-"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!has_raw_controls(&o.stderr), "{}", stderr(&o));
    for args in [vec!["show", s(&mig)], vec!["show", "--json", s(&mig)]] {
        let o = pcimig(&args);
        assert!(!has_raw_controls(&o.stdout) && !has_raw_controls(&o.stderr), "{args:?}");
    }
    // lspci text whose description carries escapes.
    let mut t = lspci_devices(1);
    t = t.replacen("Generated device", "Evil \x1b[2J\x07\u{9b}device\x7f", 1);
    let p = write(&d, "evil.txt", t.as_bytes());
    for args in [vec!["show", s(&p)], vec!["show", "--json", s(&p)]] {
        let o = pcimig(&args);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert!(!has_raw_controls(&o.stdout), "{args:?}");
    }
    // A file name with escapes, in an error.
    let name = d.join("x\x1b[31m\x07.bin");
    let err = fails(&["show", s(&name)]);
    assert!(!has_raw_controls(err.as_bytes()) && err.contains("\\x1b[31m"), "{err}");
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn show_streams_a_large_file_as_one_valid_document_and_an_error_ends_it_unterminated() {
    let d = temp_dir("harden-stream");
    // Enough devices to pass the held-back output (8 MiB of JSON).
    let n = 2500;
    let text = lspci_devices(n);
    let p = write(&d, "many.txt", text.as_bytes());
    let o = pcimig(&["show", "--json", s(&p)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(o.stdout.len() > 8 << 20, "past the held-back output");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["devices"].as_array().unwrap().len(), n);
    let o = pcimig(&["show", s(&p)]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(out.matches("\tSource: ").count(), n);
    // A malformed line at the end: exit 2 naming the line; the document does not parse.
    let bad = format!("{text}0ab0:00:1f.7 Last\n00: 86 80 xx\n");
    let p = write(&d, "bad.txt", bad.as_bytes());
    let o = pcimig(&["show", "--json", s(&p)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains(&format!("line {}", bad.lines().count())),
        "{}",
        stderr(&o)
    );
    assert!(serde_json::from_slice::<serde_json::Value>(&o.stdout).is_err());
    std::fs::remove_dir_all(&d).unwrap();
}

/// Peak resident memory (KiB) of `pcimig ARGS`, through `/usr/bin/time`; `None` without it.
fn peak_kib(args: &[&str]) -> Option<u64> {
    let o = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%M")
        .arg(env!("CARGO_BIN_EXE_pcimig"))
        .args(args)
        .stdout(Stdio::null())
        .output()
        .ok()?;
    assert!(o.status.success(), "{}", stderr(&o));
    String::from_utf8_lossy(&o.stderr).lines().last()?.trim().parse().ok()
}

#[test]
fn show_memory_does_not_grow_with_the_number_of_devices() {
    let d = temp_dir("harden-memory");
    let small = write(&d, "small.txt", lspci_devices(2000).as_bytes());
    let large = write(&d, "large.txt", lspci_devices(16000).as_bytes());
    for json in [true, false] {
        let args = |p: &Path| -> Vec<String> {
            let mut a = vec!["show".to_string()];
            if json {
                a.push("--json".into());
            }
            a.push(p.display().to_string());
            a
        };
        let a_small = args(&small);
        let a_large = args(&large);
        let (Some(m_small), Some(m_large)) = (
            peak_kib(&a_small.iter().map(String::as_str).collect::<Vec<_>>()),
            peak_kib(&a_large.iter().map(String::as_str).collect::<Vec<_>>()),
        ) else {
            eprintln!("no /usr/bin/time: skipped");
            return;
        };
        // Eight times the devices (and tens of MB more output): at most a few MB more memory.
        assert!(
            m_large < m_small + 12 * 1024,
            "json {json}: {m_small} KiB for 2000 devices, {m_large} KiB for 16000"
        );
    }
    std::fs::remove_dir_all(&d).unwrap();
}

/// Writes the `show` benchmark inputs (BENCHMARKS.md, "show: streaming output"): the 8,000-device
/// file of `benches/show.rs` (`lspci -xxxx`, 91 MB) and a 100,000-device `lspci -xxx` one
/// (256 bytes a device, about 90 MB, as in the issue), under `target/bench-show/`.
#[test]
#[ignore = "writes benchmark inputs (about 180 MB); run by hand"]
fn write_show_bench_inputs() {
    let dir = repo_root().join("target/bench-show");
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("devices-8000.txt");
    if !f.exists() {
        // The same recipe as benches/show.rs.
        let mut rng = Rng::new(8000);
        let mut text = String::with_capacity(8000 * 14_000);
        let shapes = [Shape::Presets, Shape::Random, Shape::Malformed];
        for i in 0..8000 {
            let bytes = generate(&mut rng, shapes[i % 3]);
            lspci_text(&mut text, &bdf(i), &bytes);
        }
        std::fs::write(&f, text).unwrap();
    }
    let f = dir.join("devices-100000.txt");
    if !f.exists() {
        let mut rng = Rng::new(100_000);
        let mut out = std::io::BufWriter::new(std::fs::File::create(&f).unwrap());
        let shapes = [Shape::Presets, Shape::Random, Shape::Malformed];
        let mut text = String::new();
        for i in 0..100_000usize {
            text.clear();
            let mut bytes = generate(&mut rng, shapes[i % 3]);
            bytes.truncate(256);
            let addr = format!(
                "{:04x}:{:02x}:{:02x}.{}",
                i >> 16,
                (i >> 8) & 0xff,
                (i >> 3) & 31,
                i & 7
            );
            lspci_text(&mut text, &addr, &bytes);
            out.write_all(text.as_bytes()).unwrap();
        }
        out.flush().unwrap();
    }
}

#[test]
fn show_into_a_closed_pipe_stops_early_with_exit_0() {
    use std::io::Read;
    let d = temp_dir("harden-pipe");
    let p = write(&d, "many.txt", lspci_devices(3000).as_bytes());
    for json in [false, true] {
        let mut c = Command::new(env!("CARGO_BIN_EXE_pcimig"));
        c.arg("show");
        if json {
            c.arg("--json");
        }
        let mut child = c.arg(&p).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let mut head = [0u8; 100];
        child.stdout.take().unwrap().read_exact(&mut head).unwrap();
        // The pipe's read end is closed here, as `| head -c 100` closes it.
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert!(stderr(&out).is_empty(), "{}", stderr(&out));
    }
    std::fs::remove_dir_all(&d).unwrap();
}
