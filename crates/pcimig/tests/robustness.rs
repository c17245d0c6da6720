//! Robustness: thousands of deterministically mutated real inputs — a migration stream saved by
//! the real QEMU 10.0.x (section headers, the vmdesc JSON, truncation at every section
//! boundary, byte flips), the bundled binary dumps and lspci text made from them — through the
//! library and through the CLI. Every CLI run must end with exit 0, 1 or 2 (never a panic's
//! 101, never a signal) within [`TIME_BOUND`] and under an address-space limit of [`AS_LIMIT`];
//! every library call must return.
//!
//! The stream is saved at test time by the real QEMU (skipped with a printed reason when QEMU
//! 10.0.x is not there or PCIMIG_SKIP_QEMU is set, except in CI), or read from
//! `$PCIMIG_ROBUSTNESS_STREAM`. `PCIMIG_ROBUSTNESS_SCALE` multiplies the number of mutants.

use pcimig::check::stream::check_streams;
use pcimig::check::{DestHost, QemuVersions};
use pcimig::show::{self, PciIds};
use pcimig::source::{self, lspci};
use pcimig_config::QemuVersion;
use pcimig_qemu::devices::RomFiles;
use pcimig_qemu::Stream;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[path = "../../pcimig-qemu/tests/support/qemu.rs"]
mod support;

/// Longest a single CLI run (or library call) may take.
const TIME_BOUND: Duration = Duration::from_secs(10);
/// The address-space limit of every CLI run.
const AS_LIMIT: u64 = 1 << 30;
/// The PRNG seed: every run mutates the same way.
const SEED: u64 = 0x5eed_0013_f022_2026;

/// splitmix64: small, deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn byte(&mut self) -> u8 {
        self.next() as u8
    }

    /// A byte that is often a boundary value.
    fn nasty_byte(&mut self) -> u8 {
        const NASTY: [u8; 10] = [0, 1, 2, 3, 4, 0x1f, 0x7f, 0x80, 0xfe, 0xff];
        if self.next() & 1 == 0 {
            NASTY[self.below(NASTY.len())]
        } else {
            self.byte()
        }
    }
}

fn scale() -> usize {
    std::env::var("PCIMIG_ROBUSTNESS_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let d = std::env::temp_dir().join(format!("pcimig-robust-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        TempDir(d)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One mutated input: what was done (for the failure message) and the bytes.
struct Mutant {
    what: String,
    bytes: Vec<u8>,
}

/// The CLI under the address-space limit: `prlimit` when util-linux has it, else `ulimit -v`.
fn limited(args: &[&str]) -> Command {
    let bin = env!("CARGO_BIN_EXE_pcimig");
    let have_prlimit = Path::new("/usr/bin/prlimit").exists() || Path::new("/bin/prlimit").exists();
    let mut c = if have_prlimit {
        let mut c = Command::new("prlimit");
        c.arg(format!("--as={AS_LIMIT}")).arg("--").arg(bin);
        c
    } else {
        let mut c = Command::new("sh");
        c.arg("-c")
            .arg(format!("ulimit -v {} && exec \"$0\" \"$@\"", AS_LIMIT / 1024))
            .arg(bin);
        c
    };
    c.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c
}

/// Run the CLI on one input; `Err` says how it misbehaved.
fn run_cli(args: &[&str]) -> Result<(), String> {
    let mut child = limited(args).spawn().map_err(|e| format!("cannot run pcimig: {e}"))?;
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().map_err(|e| e.to_string())? {
            break st;
        }
        if start.elapsed() > TIME_BOUND {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("still running after {TIME_BOUND:?}: killed"));
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        use std::io::Read;
        let _ = e.read_to_string(&mut err);
    }
    match status.code() {
        Some(0..=2) => Ok(()),
        Some(c) => Err(format!("exit {c}: {}", err.trim())),
        None => Err(format!("killed by a signal ({status}): {}", err.trim())),
    }
}

/// Run `argv` (with `{}` replaced by the mutant's file) for every mutant, on two threads;
/// returns the failures.
fn run_all_cli(dir: &Path, tag: &str, mutants: &[Mutant], argvs: &[&[&str]]) -> Vec<String> {
    let threads = 2;
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for t in 0..threads {
            let failures = &failures;
            s.spawn(move || {
                let file = dir.join(format!("{tag}-{t}"));
                let name = file.to_string_lossy().into_owned();
                for (i, m) in mutants.iter().enumerate().skip(t).step_by(threads) {
                    std::fs::write(&file, &m.bytes).unwrap();
                    let argv = argvs[i % argvs.len()];
                    let args: Vec<String> = argv.iter().map(|a| a.replace("{}", &name)).collect();
                    let args: Vec<&str> = args.iter().map(String::as_str).collect();
                    if let Err(e) = run_cli(&args) {
                        failures
                            .lock()
                            .unwrap()
                            .push(format!("{tag} #{i} ({}): {argv:?}: {e}", m.what));
                    }
                }
            });
        }
    });
    failures.into_inner().unwrap()
}

/// Fail with every misbehaving input listed.
fn assert_no_failures(what: &str, failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{what}: {} inputs misbehaved:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// Streams

/// A stream saved by the real QEMU, or `None` (with the reason printed) where none can be had.
fn real_stream(dir: &Path) -> Option<Vec<u8>> {
    if let Some(p) = std::env::var_os("PCIMIG_ROBUSTNESS_STREAM") {
        return Some(std::fs::read(&p).expect("read $PCIMIG_ROBUSTNESS_STREAM"));
    }
    if let Some(why) = support::skip_reason() {
        let in_ci = std::env::var_os("CI").is_some() && std::env::var_os("PCIMIG_SKIP_QEMU").is_none();
        assert!(!in_ci, "CI has no real QEMU to save a stream with: {why}");
        println!("SKIPPED the stream part: {why} (set PCIMIG_ROBUSTNESS_STREAM=FILE to use a saved stream)");
        return None;
    }
    let out = dir.join("saved.mig");
    save_stream(dir, &out);
    Some(std::fs::read(&out).expect("QEMU wrote the stream"))
}

/// Save a stopped q35 VM with a mix of devices (root port, virtio behind it, e1000e, a PCI
/// bridge with virtio-rng behind it) through QMP `migrate file:`.
fn save_stream(dir: &Path, out: &Path) {
    let sock = dir.join("q.sock");
    let devices = "-device pcie-root-port,id=rp1,chassis=1 -device virtio-net-pci,bus=rp1,romfile= \
                   -device e1000e,romfile= -device pci-bridge,chassis_nr=2,id=br -device virtio-rng-pci,bus=br";
    let mut child = Command::new(support::qemu_bin())
        .args(support::base_args("q35"))
        .args(["-nic", "none"])
        .args(devices.split_whitespace())
        .arg("-qmp")
        .arg(format!("unix:{},server=on,wait=off", sock.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("QEMU starts");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut q = support::Qmp::connect(&sock, &mut child, deadline, None).expect("QMP connects");
    q.cmd("migrate", json!({"uri": format!("file:{}", out.display())}))
        .expect("migrate");
    while q.cmd("query-migrate", json!({})).expect("query-migrate")["status"] != "completed" {
        assert!(Instant::now() < deadline, "QEMU did not finish saving the stream");
        std::thread::sleep(Duration::from_millis(20));
    }
    q.cmd("quit", json!({}));
    child.wait().unwrap();
}

/// Where the mutations aim: each section's header and body, the vmdesc, the EOF byte.
struct Layout {
    /// (offset of the type byte, offset of the body, body length, idstr) per section.
    sections: Vec<(usize, usize, usize, String)>,
    vmdesc: Option<(usize, usize)>,
    eof: usize,
}

fn layout_of(bytes: &[u8]) -> Layout {
    let s = Stream::from_bytes("saved.mig", bytes.to_vec()).expect("the real stream opens");
    Layout {
        sections: s
            .sections()
            .iter()
            .map(|x| {
                (
                    x.offset as usize,
                    x.body_offset as usize,
                    x.body_len as usize,
                    x.idstr.clone(),
                )
            })
            .collect(),
        // QEMU_VM_VMDESCRIPTION byte, 4-byte length, then the JSON.
        vmdesc: s.vmdesc().map(|v| (v.offset as usize, v.len as usize)),
        eof: s.eof_offset() as usize,
    }
}

/// Truncations at every section boundary (its type byte, one past it, its body, its body's
/// end), at the EOF byte and inside the vmdesc.
fn truncations(base: &[u8], l: &Layout) -> Vec<Mutant> {
    let mut cuts = Vec::new();
    for &(off, body, len, ref id) in &l.sections {
        for (at, how) in [
            (off, "type byte"),
            (off + 1, "section id"),
            (body, "body"),
            (body + len, "body end"),
        ] {
            cuts.push((at, format!("truncated at section '{id}' {how} ({at:#x})")));
        }
    }
    cuts.push((l.eof, "truncated at the EOF byte".to_string()));
    cuts.push((l.eof + 1, "truncated after the EOF byte".to_string()));
    if let Some((off, len)) = l.vmdesc {
        for at in [off, off + 1, off + 5, off + 5 + len / 2, off + 4 + len] {
            cuts.push((at, format!("truncated in the vmdesc ({at:#x})")));
        }
    }
    cuts.into_iter()
        .filter(|&(at, _)| at < base.len())
        .map(|(at, what)| Mutant {
            what,
            bytes: base[..at].to_vec(),
        })
        .collect()
}

/// A section header changed: its type, id, idstr length, instance or version (all but the
/// type are big-endian u32/u8 fields between the type byte and the body).
fn header_mutant(base: &[u8], l: &Layout, rng: &mut Rng) -> Mutant {
    let (off, body, _, ref id) = l.sections[rng.below(l.sections.len())];
    let mut b = base.to_vec();
    let what = match rng.below(6) {
        0 => {
            b[off] = rng.nasty_byte();
            format!("section '{id}' type byte {:#x}", b[off])
        }
        1 => {
            let other = l.sections[rng.below(l.sections.len())].0;
            b.copy_within(other + 1..other + 5, off + 1);
            format!("section '{id}' id copied from the section at {other:#x}")
        }
        2 if body >= off + 8 => {
            let v = [rng.nasty_byte(), rng.nasty_byte(), rng.nasty_byte(), rng.nasty_byte()];
            b[body - 4..body].copy_from_slice(&v);
            format!("section '{id}' version_id {v:02x?}")
        }
        3 if body >= off + 8 => {
            b[body - 8..body - 4].copy_from_slice(&rng.next().to_be_bytes()[..4]);
            format!("section '{id}' instance_id changed")
        }
        4 if body > off + 5 => {
            b[off + 5] = rng.nasty_byte();
            format!("section '{id}' idstr length {:#x}", b[off + 5])
        }
        _ => {
            let at = off + rng.below(body.saturating_sub(off).max(1));
            b[at] = rng.nasty_byte();
            format!("section '{id}' header byte {at:#x} = {:#x}", b[at])
        }
    };
    Mutant { what, bytes: b }
}

/// The vmdesc changed: its length field, a JSON byte (digits, brackets, quotes), or cut short.
fn vmdesc_mutant(base: &[u8], (off, len): (usize, usize), rng: &mut Rng) -> Mutant {
    const JSON_BYTES: &[u8] = b"{}[]\":,0123456789-e.tfn \\\x00\x1b";
    let json = off + 5;
    let mut b = base.to_vec();
    let what = match rng.below(4) {
        0 => {
            let v = [rng.nasty_byte(), rng.nasty_byte(), rng.nasty_byte(), rng.nasty_byte()];
            b[off + 1..off + 5].copy_from_slice(&v);
            format!("vmdesc length {v:02x?}")
        }
        1 => {
            // A number in the JSON (a size, an offset, a version) replaced by another.
            let at = json + rng.below(len);
            let digit = (at..json + len).find(|&i| b[i].is_ascii_digit()).unwrap_or(at);
            b[digit] = b"0123456789"[rng.below(10)];
            format!("vmdesc digit at {digit:#x}")
        }
        2 => {
            let at = json + rng.below(len);
            b[at] = JSON_BYTES[rng.below(JSON_BYTES.len())];
            format!("vmdesc byte at {at:#x} = {:#x}", b[at])
        }
        _ => {
            let at = json + rng.below(len);
            let n = 1 + rng.below(64);
            b.drain(at..(at + n).min(b.len()));
            format!("vmdesc: {n} bytes removed at {at:#x}")
        }
    };
    Mutant { what, bytes: b }
}

/// Bytes flipped, inserted or removed in a section (header or body) or anywhere.
fn byte_mutant(base: &[u8], l: &Layout, rng: &mut Rng) -> Mutant {
    let (off, body, len, ref id) = l.sections[rng.below(l.sections.len())];
    let span = (body - off + len.min(4096)).max(1);
    let at = if rng.next() & 3 == 0 {
        rng.below(base.len())
    } else {
        (off + rng.below(span)).min(base.len() - 1)
    };
    let mut b = base.to_vec();
    let what = match rng.below(4) {
        0 | 1 => {
            for i in 0..1 + rng.below(4) {
                if let Some(x) = b.get_mut(at + i) {
                    *x = rng.nasty_byte();
                }
            }
            format!("bytes changed at {at:#x} (near section '{id}')")
        }
        2 => {
            let n = 1 + rng.below(8);
            let ins: Vec<u8> = (0..n).map(|_| rng.nasty_byte()).collect();
            b.splice(at..at, ins);
            format!("{n} bytes inserted at {at:#x} (near section '{id}')")
        }
        _ => {
            let n = 1 + rng.below(8);
            b.drain(at..(at + n).min(b.len()));
            format!("{n} bytes removed at {at:#x} (near section '{id}')")
        }
    };
    Mutant { what, bytes: b }
}

fn stream_mutants(base: &[u8], n: usize, rng: &mut Rng) -> Vec<Mutant> {
    let l = layout_of(base);
    let mut out = truncations(base, &l);
    for i in 0..n {
        out.push(match (i % 3, l.vmdesc) {
            (0, _) => header_mutant(base, &l, rng),
            (1, Some(v)) => vmdesc_mutant(base, v, rng),
            _ => byte_mutant(base, &l, rng),
        });
    }
    out
}

/// Everything a library caller asks of a stream, and the whole-stream check (the mutant as the
/// saved side, or as the destination when `as_dest`).
fn stream_through_library(m: &Mutant, base: &Stream, as_dest: bool) {
    let start = Instant::now();
    let Ok(s) = Stream::from_bytes("mutant.mig", m.bytes.clone()) else {
        return;
    };
    for d in s.pci_devices() {
        let _ = s.read_config(d);
        let _ = s.read_pci_state(d);
        let _ = s.find_device(&d.id);
    }
    let _ = (s.ram_blocks(), s.vmdesc(), s.pci_sections_without_config());
    let roms = RomFiles::default();
    let host = DestHost {
        query_pci: None,
        rom_files: &roms,
        qemu: QemuVersions {
            saved: QemuVersion::DEFAULT,
            dest: QemuVersion::DEFAULT,
        },
    };
    let _ = if as_dest {
        check_streams(base, &s, &host)
    } else {
        check_streams(&s, base, &host)
    };
    assert!(
        start.elapsed() < TIME_BOUND,
        "{}: the library took {:?}",
        m.what,
        start.elapsed()
    );
}

#[test]
fn mutated_streams_end_cleanly() {
    let dir = TempDir::new("stream");
    let Some(base) = real_stream(&dir.0) else {
        return;
    };
    let mut rng = Rng(SEED);
    let t0 = Instant::now();
    let lib = stream_mutants(&base, 1500 * scale(), &mut rng);
    let base_stream = Stream::from_bytes("saved.mig", base.clone()).unwrap();
    for (i, m) in lib.iter().enumerate() {
        stream_through_library(m, &base_stream, i % 2 == 1);
    }
    let t_lib = t0.elapsed();
    let base_file = dir.0.join("base.mig");
    std::fs::write(&base_file, &base).unwrap();
    let base_name = base_file.to_string_lossy().into_owned();
    let check_arg = ["check", "--emulated", "--saved", "{}", "--dest", base_name.as_str()];
    let extract = ["stream", "extract", "-o", "{}.out", "{}#0000:00:02.0/e1000e"];
    let argvs: [&[&str]; 5] = [
        &["stream", "ls", "{}"],
        &check_arg,
        &["show", "{}"],
        &["show", "--json", "{}"],
        &extract,
    ];
    // The CLI: every truncation, then the first mutants of each kind.
    let cli: Vec<Mutant> = stream_mutants(&base, 300 * scale(), &mut Rng(SEED ^ 1));
    let failures = run_all_cli(&dir.0, "stream", &cli, &argvs);
    println!(
        "streams: {} through the library ({t_lib:.1?}), {} through the CLI ({:.1?})",
        lib.len(),
        cli.len(),
        t0.elapsed() - t_lib
    );
    assert_no_failures("mutated streams", &failures);
}

// ---------------------------------------------------------------------------------------------
// Binary dumps and lspci text

/// The bundled dumps (ours: data/ and pcimig-qemu's test data).
fn bundled_dumps() -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = Vec::new();
    for d in [
        "data/demo",
        "data/samples/h100-firecracker",
        "crates/pcimig-qemu/tests/data",
    ] {
        for e in std::fs::read_dir(root.join(d)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "bin") {
                files.push(p);
            }
        }
    }
    files.sort();
    files.into_iter().map(|p| std::fs::read(p).unwrap()).collect()
}

/// A dump changed where it matters: a capability pointer, an extended header, any byte, or
/// its size.
fn dump_mutant(dumps: &[Vec<u8>], rng: &mut Rng) -> Mutant {
    let mut b = dumps[rng.below(dumps.len())].clone();
    let what = match rng.below(6) {
        0 => {
            b[0x34] = rng.nasty_byte();
            format!("capabilities pointer {:#x}", b[0x34])
        }
        1 => {
            let chain = pcimig_config::walk_std(&b);
            let at = chain
                .entries
                .get(rng.below(chain.entries.len()))
                .map_or(0x34, |e| e.offset + 1);
            b[at] = rng.nasty_byte();
            format!("next pointer at {at:#x} = {:#x}", b[at])
        }
        2 if b.len() == 4096 => {
            let at = 0x100 + 4 * rng.below(0x3c0);
            b[at + 2..at + 4].copy_from_slice(&[rng.nasty_byte(), rng.nasty_byte()]);
            format!("extended header at {at:#x}")
        }
        3 => {
            let n = [0, 1, 63, 64, 65, 255, 257, 4095, 4097, 8192][rng.below(10)];
            b.resize(n, 0xff);
            format!("resized to {n} bytes")
        }
        _ => {
            let at = rng.below(b.len());
            b[at] = rng.nasty_byte();
            format!("byte at {at:#x} = {:#x}", b[at])
        }
    };
    Mutant { what, bytes: b }
}

/// `lspci -xxxx`-style text of a dump.
fn lspci_text(bdf: &str, d: &[u8]) -> String {
    let mut t = format!(
        "{bdf} Non-Volatile memory controller: Device {:02x}{:02x}\n",
        d[1], d[0]
    );
    for (i, row) in d.chunks(16).enumerate() {
        let hex: Vec<String> = row.iter().map(|b| format!("{b:02x}")).collect();
        t.push_str(&format!("{:02x}: {}\n", i * 16, hex.join(" ")));
    }
    t.push('\n');
    t
}

/// A many-device lspci file changed: a line removed, duplicated or swapped, a character
/// replaced (non-hex, NUL, ESC), a BDF line rewritten, or cut short.
fn lspci_mutant(text: &str, rng: &mut Rng) -> Mutant {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let i = rng.below(lines.len());
    let what = match rng.below(6) {
        0 => {
            lines.remove(i);
            format!("line {i} removed")
        }
        1 => {
            let l = lines[i].clone();
            lines.insert(rng.below(lines.len()), l);
            format!("line {i} duplicated")
        }
        2 => {
            let j = rng.below(lines.len());
            lines.swap(i, j);
            format!("lines {i} and {j} swapped")
        }
        3 if !lines[i].is_empty() => {
            let mut b = std::mem::take(&mut lines[i]).into_bytes();
            let at = rng.below(b.len());
            const ODD: &[u8] = b"g: \x00\x1b\x07Zf0:.";
            b[at] = ODD[rng.below(ODD.len())];
            lines[i] = String::from_utf8_lossy(&b).into_owned();
            format!("line {i} byte {at} replaced")
        }
        4 => {
            lines[i] = ["ff:1f.7 x", "0000:00:00.0 y", "zz:00.0 z", "00:00.0", "fff: 00"][rng.below(5)].to_string();
            format!("line {i} rewritten")
        }
        _ => {
            lines.truncate(i);
            format!("cut after line {i}")
        }
    };
    let mut bytes = lines.join("\n").into_bytes();
    bytes.push(b'\n');
    Mutant { what, bytes }
}

/// The library over one dump or text file: the reader, `show`'s decoder and renderer, the
/// vfio virtualization of every device it yields.
fn file_through_library(m: &Mutant, path: &Path) {
    let start = Instant::now();
    std::fs::write(path, &m.bytes).unwrap();
    let _ = lspci::parse("mutant", &m.bytes);
    if let Ok(sources) = source::load_all(&path.to_string_lossy()) {
        let ids = PciIds::empty();
        let reports: Vec<_> = sources.iter().map(|s| show::decode(s, &ids)).collect();
        let _ = show::render::all(&reports);
        for s in &sources {
            let _ = pcimig_vfio::virtualize(&s.bytes, &pcimig_vfio::VfioOptions::default());
        }
    }
    assert!(
        start.elapsed() < TIME_BOUND,
        "{}: the library took {:?}",
        m.what,
        start.elapsed()
    );
}

#[test]
fn mutated_dumps_and_lspci_text_end_cleanly() {
    let dir = TempDir::new("dump");
    let dumps = bundled_dumps();
    let mut rng = Rng(SEED ^ 2);
    let text: String = dumps
        .iter()
        .enumerate()
        .map(|(i, d)| lspci_text(&format!("00:{i:02x}.0"), d))
        .collect();
    let dump_mutants: Vec<Mutant> = (0..1200 * scale()).map(|_| dump_mutant(&dumps, &mut rng)).collect();
    let text_mutants: Vec<Mutant> = (0..800 * scale()).map(|_| lspci_mutant(&text, &mut rng)).collect();
    let t0 = Instant::now();
    let lib_file = dir.0.join("lib-input");
    for m in dump_mutants.iter().chain(&text_mutants) {
        file_through_library(m, &lib_file);
    }
    let t_lib = t0.elapsed();
    let base = dir.0.join("base.bin");
    std::fs::write(&base, &dumps[0]).unwrap();
    let base = base.to_string_lossy().into_owned();
    let check: [&str; 5] = ["check", "--saved", "{}", "--dest", &base];
    let check_sel: [&str; 5] = ["check", "--saved", "{}#00:01.0", "--dest", &base];
    let argvs: [&[&str]; 5] = [
        &["show", "{}"],
        &["show", "--json", "{}"],
        &check,
        &["show", "--masks", "{}"],
        &check_sel,
    ];
    let mut failures = run_all_cli(&dir.0, "dump", &dump_mutants[..300 * scale()], &argvs);
    failures.extend(run_all_cli(&dir.0, "lspci", &text_mutants[..200 * scale()], &argvs));
    println!(
        "dumps: {} and lspci files: {} through the library ({t_lib:.1?}), {} and {} through the CLI ({:.1?})",
        dump_mutants.len(),
        text_mutants.len(),
        300 * scale(),
        200 * scale(),
        t0.elapsed() - t_lib
    );
    assert_no_failures("mutated dumps and lspci text", &failures);
}
