//! Real QEMU across versions: a stream saved by one QEMU version and loaded by another with the
//! same versioned machine type; pcimig's verdict must equal the loading QEMU's.
//!
//! Version pairs: 7.2 <-> 10.0 on `pc-q35-7.2` and `pc-i440fx-7.2`, 10.0 <-> 11.1 on
//! `pc-q35-10.0`. 10.0 is the installed `qemu-system-x86_64` (`PCIMIG_QEMU_BIN`); 7.2 and 11.1 are
//! the wrappers `scripts/qemu-versions` unpacks (`PCIMIG_QEMU_7_2`, `PCIMIG_QEMU_11_1`, or
//! `target/qemu-versions/<series>`). Each scenario of the real-QEMU suite (`support/restore.rs`)
//! runs with its machine replaced by the pair's (q35 scenarios on q35 machines, i440fx ones on
//! i440fx). Every (version, machine, scenario) VM is saved once: the source's stream is mutated
//! (single bit flips over the header and capabilities of the primary devices, a few byte flips of
//! the others) and loaded by the destination version; the destination's own unmutated stream of
//! the same command line gives the destination devices' config, from which [`predict`] builds
//! pcimig's destination models.
//!
//! QEMU's outcome is classified (loaded, `Bad config data` with its section, `Size mismatch` of
//! a RAM block, unknown section, machine type, other) and compared with pcimig's prediction. The
//! suite prints `cross-version S->D MACHINE: N/M` per pair and every disagreement grouped by
//! category, and asserts that every case ran (no harness error) and agrees.
//!
//! A missing 7.2/11.1 binary skips the suite with a printed reason, but fails it when `CI` is set.
//! `PCIMIG_SKIP_QEMU=1` skips it; `PCIMIG_QEMU_JOBS` sets the concurrent QEMU processes (default
//! 3); `PCIMIG_XVER_PAIRS=7.2-10.0,...` runs only these pairs; `PCIMIG_QEMU_DRY=1` saves the VMs
//! and counts the cases without loading.

#[path = "support/restore.rs"]
mod restore;
#[path = "support/qemu.rs"]
mod support;

use pcimig_config::restore_check;
use pcimig_qemu::devices::rom_blocks::check_rom_blocks;
use pcimig_qemu::devices::{build_destination, qemu_data_dirs, Destination, QemuVersion, QueryPci, RomFiles};
use pcimig_qemu::Stream;
use restore::{
    cap_span, ext_caps, load_stream, qemu_jobs, run_parallel, save_stream, std_caps, Outcome, Scenario, TempDir,
    CHIPSET, SCENARIOS,
};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// One direction of a version pair on one machine type.
struct Pair {
    src: &'static str,
    dst: &'static str,
    machine: &'static str,
}

const PAIRS: &[Pair] = &[
    Pair {
        src: "7.2",
        dst: "10.0",
        machine: "pc-q35-7.2",
    },
    Pair {
        src: "10.0",
        dst: "7.2",
        machine: "pc-q35-7.2",
    },
    Pair {
        src: "7.2",
        dst: "10.0",
        machine: "pc-i440fx-7.2",
    },
    Pair {
        src: "10.0",
        dst: "7.2",
        machine: "pc-i440fx-7.2",
    },
    Pair {
        src: "10.0",
        dst: "11.1",
        machine: "pc-q35-10.0",
    },
    Pair {
        src: "11.1",
        dst: "10.0",
        machine: "pc-q35-10.0",
    },
];

/// A QEMU release series and how to run it.
struct Qemu {
    series: &'static str,
    /// The exact version the binary reports (`--version`).
    version: QemuVersion,
    bin: String,
    /// Its firmware (ROM) directories, searched in this order.
    data_dirs: Vec<PathBuf>,
}

/// The installed 10.0 and the fetched 7.2 and 11.1, or `None` after printing why the suite skips.
fn qemus() -> Option<Vec<Qemu>> {
    if let Some(why) = support::skip_reason() {
        println!("SKIPPED: cross-version suite needs qemu-system-x86_64 10.0.x: {why}");
        return None;
    }
    let bin = support::qemu_bin();
    let mut out = vec![Qemu {
        series: "10.0",
        version: binary_version(&bin),
        bin,
        data_dirs: qemu_data_dirs(),
    }];
    for series in ["7.2", "11.1"] {
        let bin = pcimig_vfio_standin::versioned_qemu_or_skip(series, "the cross-version suite")?;
        let root = Path::new(&bin).parent().unwrap_or(Path::new(".")).join("root");
        let data_dirs = ["usr/share/qemu", "usr/share/seabios", "usr/lib/ipxe/qemu"]
            .iter()
            .map(|d| root.join(d))
            .collect();
        out.push(Qemu {
            series,
            version: binary_version(&bin),
            bin,
            data_dirs,
        });
    }
    Some(out)
}

/// The exact version a QEMU binary reports.
fn binary_version(bin: &str) -> QemuVersion {
    let v = pcimig_vfio_standin::qemu_version_of(bin).unwrap_or_else(|e| panic!("{e}"));
    QemuVersion::parse(&v).unwrap_or_else(|e| panic!("{bin}: {e}"))
}

/// One device of a saved base stream.
struct BaseDev {
    idstr: String,
    section_index: usize,
    config_offset: u64,
    config: Vec<u8>,
}

/// A VM (scenario on a machine) saved by one QEMU version, unmutated.
struct Base {
    machine: &'static str,
    scenario: &'static Scenario,
    bytes: Vec<u8>,
    query_pci: QueryPci,
    devs: Vec<BaseDev>,
}

fn save_base(q: &Qemu, machine: &'static str, sc: &'static Scenario, dir: &Path) -> Result<Base, String> {
    // Own directory per VM: save_stream's QMP socket is `src.sock` in it.
    let dir = dir.join(format!("{}-{machine}-{}", q.series, sc.name));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let path = dir.join("base.mig");
    let pci = save_stream(&q.bin, machine, sc.devices, &dir, &path)?;
    let query_pci = QueryPci::parse(&pci.to_string()).map_err(|e| e.to_string())?;
    let stream = Stream::open(&path).map_err(|e| format!("pcimig cannot read QEMU {}'s stream: {e}", q.series))?;
    let mut devs = Vec::new();
    for e in stream.pci_devices() {
        devs.push(BaseDev {
            idstr: e.idstr.clone(),
            section_index: e.section_index,
            config_offset: e.config_offset,
            config: stream.read_config(e).map_err(|err| format!("{}: {err}", e.idstr))?,
        });
    }
    devs.sort_by_key(|d| d.section_index);
    // pcimig reads this version's stream: every device query-pci lists has its PCI section.
    for qd in &query_pci.devices {
        if !devs.iter().any(|d| d.idstr.split('/').next() == Some(qd.path.as_str())) {
            return Err(format!(
                "QEMU {} {machine} {}: query-pci device {} has no PCI section pcimig reads",
                q.series, sc.name, qd.path
            ));
        }
    }
    let bytes = std::fs::read(&path).map_err(|e| e.to_string())?;
    let _ = std::fs::remove_file(&path);
    Ok(Base {
        machine,
        scenario: sc,
        bytes,
        query_pci,
        devs,
    })
}

/// The destination side of a case: what pcimig knows of the destination host and VM.
struct DestSide<'a> {
    /// The destination QEMU's own unmutated stream of the same command line.
    base: &'a Base,
    /// The destination host's ROM files.
    rom_files: &'a RomFiles,
    /// The destination's QEMU version.
    qemu: QemuVersion,
}

/// What QEMU did, or pcimig predicts, with a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    Loads,
    /// `get_pci_config_device: Bad config data: …` in the section `idstr`.
    BadConfig {
        idstr: String,
        line: String,
    },
    /// Another failure, by kind (`Length mismatch`, `unknown section`, `machine type`, `other`).
    Other {
        kind: &'static str,
        detail: String,
    },
}

/// The kind of a QEMU failure that is not a config mismatch, from its stderr.
fn failure_kind(text: &str) -> &'static str {
    if text.contains("Size mismatch") || text.contains("Length mismatch") {
        "Size mismatch"
    } else if text.contains("Unknown savevm section") || text.contains("Unknown ramblock") {
        "unknown section"
    } else if text.contains("machine type") || text.contains("Machine type") {
        "machine type"
    } else {
        "other"
    }
}

fn qemu_verdict(o: Outcome) -> Verdict {
    match o {
        Outcome::Loaded => Verdict::Loads,
        Outcome::BadConfig { line, idstr } => Verdict::BadConfig { idstr, line },
        Outcome::OtherFailure(text) => Verdict::Other {
            kind: failure_kind(&text),
            detail: text,
        },
    }
}

/// pcimig's prediction for a stream saved by one QEMU (`saved`, `saved_bytes`) and loaded by the
/// destination `dest`, in QEMU's order: the option ROM RAM blocks (RAM is loaded before the
/// devices), then each saved PCI device, in stream order, against the destination model [`build_destination`] makes of the
/// destination device's config for the destination's QEMU version; the first failure wins.
fn predict(saved: &Stream, saved_bytes: &[u8], dest: &DestSide) -> Result<Verdict, String> {
    let machine = saved.machine_type().ok_or("stream without a machine type")?;
    let roms = check_rom_blocks(
        saved.ram_blocks(),
        saved.page_size(),
        Some(&dest.base.query_pci),
        dest.rom_files,
    );
    if let Some(line) = roms.into_iter().find_map(|b| b.qemu_line) {
        return Ok(Verdict::Other {
            kind: failure_kind(&line),
            detail: line,
        });
    }
    let mut devs: Vec<_> = saved.pci_devices().to_vec();
    devs.sort_by_key(|d| d.section_index);
    for e in devs {
        let Some(d) = dest.base.devs.iter().find(|d| d.idstr == e.idstr) else {
            return Ok(Verdict::Other {
                kind: "unknown section",
                detail: e.idstr.clone(),
            });
        };
        let model = build_destination(&Destination {
            idstr: &e.idstr,
            config: &d.config,
            machine,
            query_pci: Some(&dest.base.query_pci),
            rom_files: dest.rom_files,
            qemu: dest.qemu,
        })
        .map_err(|err| format!("{}: {err}", e.idstr))?;
        // QEMU reads as many bytes as the destination config has (pci_config_size).
        let size = model.space.size();
        let config = if e.config_size == size {
            saved.read_config(&e).map_err(|err| err.to_string())?
        } else {
            let at = e.config_offset as usize;
            saved_bytes
                .get(at..at + size)
                .ok_or("config past the stream's end")?
                .to_vec()
        };
        let r = restore_check(&config, &model.space).map_err(|err| err.to_string())?;
        if let Some(line) = r.qemu_line() {
            return Ok(Verdict::BadConfig {
                idstr: e.idstr.clone(),
                line,
            });
        }
    }
    Ok(Verdict::Loads)
}

/// A mutation of a source stream: (device index, config offset, XOR bits).
struct XCase {
    pair: usize,
    scenario: usize,
    label: String,
    flips: Vec<(usize, usize, u8)>,
}

/// The sampled bit flips per primary device and pair (an even sample of [`bit_flips`]'s
/// candidates), besides every bit of the PCI Express Link and Slot Status registers.
const BITS_PER_DEVICE: usize = 64;

/// The single bits of a primary device to flip: every bit of the PCI Express capability's Link
/// Status and Slot Status registers (their checked bits differ between QEMU versions), and an
/// even sample (from `phase`) of one bit per header and capability byte (rotating through the
/// bits), every bit of Link and Slot Control, and one bit of each extended capability's header
/// and first registers.
fn bit_flips(cfg: &[u8], phase: usize) -> Vec<(usize, u8)> {
    let mut must = Vec::new();
    let mut all: Vec<(usize, u8)> = (0..0x40).filter(|o| *o != 0x3d).map(|o| (o, 1u8 << (o % 8))).collect();
    for (id, off) in std_caps(cfg) {
        for b in 0..cap_span(cfg, off) {
            let at = off + b;
            match (id, b) {
                (0x10, 0x12 | 0x13 | 0x1a | 0x1b) => must.extend((0..8).map(|k| (at, 1u8 << k))),
                (0x10, 0x10 | 0x11 | 0x18 | 0x19) => all.extend((0..8).map(|k| (at, 1u8 << k))),
                _ => all.push((at, 1 << ((at + b) % 8))),
            }
        }
    }
    for (_, off) in ext_caps(cfg) {
        for b in [0usize, 2, 3, 4, 6, 8] {
            if off + b < cfg.len() {
                all.push((off + b, 1 << ((off + b) % 8)));
            }
        }
    }
    let step = all.len().div_ceil(BITS_PER_DEVICE).max(1);
    must.extend(all.into_iter().skip(phase % step).step_by(step));
    must
}

/// The byte flips of a device: Device ID, Status and the first capability's next pointer.
fn byte_flips(cfg: &[u8]) -> Vec<(usize, u8)> {
    let mut out: Vec<(usize, u8)> = [0x02, 0x06].iter().map(|&o| (o, 0xff)).collect();
    if let Some(&(_, off)) = std_caps(cfg).first() {
        out.push((off + 2, 0xff));
    }
    out
}

/// The cases of one pair and scenario: the unmodified stream, bit flips of the primary devices
/// (one full sweep per device model and pair), byte flips of the others (once per config).
fn cases_of(pi: usize, si: usize, src: &Base, seen: &mut HashSet<(usize, String, Vec<u8>)>) -> Vec<XCase> {
    let sc = src.scenario;
    let mut out = vec![XCase {
        pair: pi,
        scenario: si,
        label: format!("{}: unmodified", sc.name),
        flips: vec![],
    }];
    for (di, d) in src.devs.iter().enumerate() {
        let vmsd = d.idstr.rsplit('/').next().unwrap_or("").to_string();
        let primary = sc.primary.contains(&vmsd.as_str()) && seen.insert((pi, vmsd.clone(), vec![]));
        if !primary && (CHIPSET.contains(&vmsd.as_str()) || !seen.insert((pi, vmsd.clone(), d.config.clone()))) {
            continue;
        }
        let flips = if primary {
            bit_flips(&d.config, pi)
        } else {
            byte_flips(&d.config)
        };
        for (off, bits) in flips {
            let what = if bits.count_ones() == 1 {
                format!("bit {off:#x}.{}", bits.trailing_zeros())
            } else {
                format!("byte {off:#x} ^{bits:#x}")
            };
            out.push(XCase {
                pair: pi,
                scenario: si,
                label: format!("{}:{} {what}", sc.name, d.idstr),
                flips: vec![(di, off, bits)],
            });
        }
    }
    out
}

/// Runs one case: the mutated source stream loaded by the destination QEMU, and the prediction.
fn run_case(c: &XCase, n: usize, src: &Base, dst: &Base, q: &Qemu, dir: &Path) -> Result<(Verdict, Verdict), String> {
    let mut bytes = src.bytes.clone();
    for &(di, off, bits) in &c.flips {
        bytes[src.devs[di].config_offset as usize + off] ^= bits;
    }
    let path = dir.join(format!("x{n}.mig"));
    std::fs::write(&path, &bytes).map_err(|e| e.to_string())?;
    let rom_files = RomFiles::from_data_dirs(&q.data_dirs);
    let saved = Stream::open(&path).map_err(|e| e.to_string());
    let predicted = saved.and_then(|s| {
        predict(
            &s,
            &bytes,
            &DestSide {
                base: dst,
                rom_files: &rom_files,
                qemu: q.version,
            },
        )
    });
    let outcome = load_stream(&q.bin, src.machine, src.scenario.devices, dir, &path);
    let _ = std::fs::remove_file(&path);
    Ok((qemu_verdict(outcome), predicted?))
}

/// The scenarios of a machine type: the q35 ones on q35 machines, the i440fx ones on i440fx;
/// not `q35-properties`, whose device properties 7.2 (`x-do-not-expose-native-hotplug-cap`) and
/// 11.1 (`disable-acs` of pcie-root-port) do not have.
fn scenarios_for(machine: &str) -> Vec<usize> {
    let family = if machine.starts_with("pc-q35") { "q35" } else { "pc" };
    (0..SCENARIOS.len())
        .filter(|&i| SCENARIOS[i].machine == family && SCENARIOS[i].name != "q35-properties")
        .collect()
}

fn selected_pairs() -> Vec<usize> {
    let only = std::env::var("PCIMIG_XVER_PAIRS").ok();
    (0..PAIRS.len())
        .filter(|&i| {
            let name = format!("{}-{}", PAIRS[i].src, PAIRS[i].dst);
            only.as_deref().is_none_or(|o| o.split(',').any(|n| n == name))
        })
        .collect()
}

/// Saves every (version, machine, scenario) VM the selected pairs need, in parallel.
fn save_bases(
    qs: &[Qemu],
    pairs: &[usize],
    dir: &Path,
    jobs: usize,
) -> BTreeMap<(&'static str, &'static str, usize), Result<Base, String>> {
    let mut keys = Vec::new();
    for &pi in pairs {
        let p = &PAIRS[pi];
        for si in scenarios_for(p.machine) {
            for series in [p.src, p.dst] {
                if !keys.contains(&(series, p.machine, si)) {
                    keys.push((series, p.machine, si));
                }
            }
        }
    }
    let results = run_parallel(keys.clone(), jobs, |(series, machine, si)| {
        let q = qs.iter().find(|q| q.series == series).expect("known series");
        save_base(q, machine, &SCENARIOS[si], dir)
    });
    keys.into_iter().zip(results).collect()
}

/// A disagreement's category: QEMU's verdict class against pcimig's, with the device model and
/// the offset of QEMU's line.
fn category(q: &Verdict, p: &Verdict) -> String {
    let class = |v: &Verdict| match v {
        Verdict::Loads => "loads".to_string(),
        Verdict::BadConfig { idstr, line } => {
            let i = line.split("i=").nth(1).and_then(|s| s.split(' ').next()).unwrap_or("?");
            let cmask = line
                .split("cmask: ")
                .nth(1)
                .and_then(|s| s.split(' ').next())
                .unwrap_or("?");
            format!(
                "Bad config {} i={i} cmask {cmask}",
                idstr.rsplit('/').next().unwrap_or("")
            )
        }
        Verdict::Other { kind, .. } => kind.to_string(),
    };
    format!("QEMU {} / pcimig {}", class(q), class(p))
}

fn show(v: &Verdict) -> String {
    match v {
        Verdict::Loads => "loads".into(),
        Verdict::BadConfig { idstr, line } => format!("{idstr}: {line}"),
        Verdict::Other { kind, detail } => format!("{kind}: {detail}"),
    }
}

/// `PCIMIG_QEMU_DRY`: the number of cases per pair and device, and any harness error.
fn print_dry_summary(cases: &[XCase], harness_errors: &[String]) {
    let mut per: BTreeMap<String, usize> = BTreeMap::new();
    for c in cases {
        let p = &PAIRS[c.pair];
        let dev = c.label.split(' ').next().unwrap_or("");
        *per.entry(format!("{}->{} {} {dev}", p.src, p.dst, p.machine))
            .or_default() += 1;
    }
    for (k, n) in per {
        println!("  {n:5} {k}");
    }
    for e in harness_errors {
        println!("HARNESS ERROR {e}");
    }
    println!("PCIMIG_QEMU_DRY: not loading");
}

/// Agreeing and total cases per pair, disagreements by [`category`]; harness errors go to
/// `harness_errors`.
type PerPair = BTreeMap<usize, (usize, usize)>;

fn tally(
    cases: &[XCase],
    results: Vec<Result<(Verdict, Verdict), String>>,
    harness_errors: &mut Vec<String>,
) -> (PerPair, BTreeMap<String, Vec<String>>) {
    let mut per_pair = PerPair::new();
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (c, r) in cases.iter().zip(results) {
        let p = &PAIRS[c.pair];
        let tag = format!("{}->{} {}", p.src, p.dst, p.machine);
        let e = per_pair.entry(c.pair).or_default();
        e.1 += 1;
        match r {
            Ok((q, pred)) if agree(&q, &pred) => e.0 += 1,
            Ok((q, pred)) => groups.entry(category(&q, &pred)).or_default().push(format!(
                "{tag} {}: QEMU {} | pcimig {}",
                c.label,
                show(&q),
                show(&pred)
            )),
            Err(err) => harness_errors.push(format!("{tag} {}: {err}", c.label)),
        }
    }
    (per_pair, groups)
}

/// The same verdict and line, or the same kind of other failure.
fn agree(q: &Verdict, p: &Verdict) -> bool {
    match (q, p) {
        (Verdict::Other { kind: a, .. }, Verdict::Other { kind: b, .. }) => a == b,
        _ => q == p,
    }
}

/// Every disagreement by category, the harness errors and the figure per pair.
fn print_tally(per_pair: &PerPair, groups: &BTreeMap<String, Vec<String>>, harness_errors: &[String]) {
    for (cat, list) in groups {
        println!("DISAGREE [{cat}] {} cases", list.len());
        for l in list {
            println!("  {l}");
        }
    }
    for e in harness_errors {
        println!("HARNESS ERROR {e}");
    }
    for (pi, (agree, total)) in per_pair {
        let p = &PAIRS[*pi];
        println!("cross-version {}->{} {}: {agree}/{total}", p.src, p.dst, p.machine);
    }
}

#[test]
fn cross_version_verdicts_equal_pcimig() {
    let Some(qs) = qemus() else { return };
    let start = Instant::now();
    let jobs = qemu_jobs();
    let dir = TempDir::new("xver");
    let pairs = selected_pairs();
    let bases = save_bases(&qs, &pairs, &dir.0, jobs);
    let mut cases = Vec::new();
    let mut seen = HashSet::new();
    let mut harness_errors = Vec::new();
    for &pi in &pairs {
        let p = &PAIRS[pi];
        for si in scenarios_for(p.machine) {
            let (src, dst) = (&bases[&(p.src, p.machine, si)], &bases[&(p.dst, p.machine, si)]);
            match (src, dst) {
                (Ok(src), Ok(_)) => cases.extend(cases_of(pi, si, src, &mut seen)),
                (Err(e), _) | (_, Err(e)) => harness_errors.push(format!(
                    "{}->{} {} {}: saving: {e}",
                    p.src, p.dst, p.machine, SCENARIOS[si].name
                )),
            }
        }
    }
    println!(
        "{} cases over {} pairs, {jobs} QEMU processes at a time; saved in {:.0} s",
        cases.len(),
        pairs.len(),
        start.elapsed().as_secs_f64()
    );
    if std::env::var_os("PCIMIG_QEMU_DRY").is_some() {
        print_dry_summary(&cases, &harness_errors);
        return;
    }
    let results = run_parallel(cases.iter().enumerate().collect(), jobs, |(n, c)| {
        let p = &PAIRS[c.pair];
        let src = bases[&(p.src, p.machine, c.scenario)].as_ref().expect("saved");
        let dst = bases[&(p.dst, p.machine, c.scenario)].as_ref().expect("saved");
        let q = qs.iter().find(|q| q.series == p.dst).expect("known series");
        run_case(c, n, src, dst, q, &dir.0)
    });
    let (per_pair, groups) = tally(&cases, results, &mut harness_errors);
    print_tally(&per_pair, &groups, &harness_errors);
    println!("cross-version suite: {:.0} s", start.elapsed().as_secs_f64());
    assert!(harness_errors.is_empty(), "{} harness errors", harness_errors.len());
    let n: usize = groups.values().map(Vec::len).sum();
    assert_eq!(n, 0, "{n} cases disagree");
}
