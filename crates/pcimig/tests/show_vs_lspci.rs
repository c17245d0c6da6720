//! `pcimig show --json` lists the same capabilities (IDs and offsets, standard then extended, in
//! chain order) as the real `lspci -vvv -F FILE` decodes from the same bytes, for every config of
//! `../shared/corpus` and for hundreds of configs generated with the pcimig-config model; and the
//! bytes read back from `lspci -xxxx` text equal the binary.
//!
//! Where pcimig deliberately differs from lspci (documented in `pcimig::show` and
//! docs/show-json.md), the comparison says so explicitly:
//! - a standard pointer into the header (0x04..0x3f) ends pcimig's walk with an `into_header`
//!   entry; lspci decodes the header bytes as a capability and goes on. pcimig's list is then
//!   lspci's list up to that entry.
//! - an extended pointer below 0x100 ends pcimig's walk with `below_extended`; lspci reads a
//!   "capability" there and goes on. Same rule.
//! - lspci's `<access denied>` (the dump ends before the capability) is pcimig's `not_in_dump`.

mod show_common;

use serde_json::Value;
use show_common::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One capability line as lspci prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum LsCap {
    Cap {
        offset: usize,
        extended: bool,
        ids: Vec<u16>,
    },
    Looped {
        offset: usize,
        extended: bool,
    },
    Broken {
        offset: usize,
    },
    AccessDenied,
}

/// Standard capability names as pciutils 3.9 prints them (ls-caps.c), to the ID.
const STD_NAMES: &[(&str, u16)] = &[
    ("Null", 0x00),
    ("Power Management version", 0x01),
    ("AGP3", 0x0e),
    ("AGP version", 0x02),
    ("Vital Product Data", 0x03),
    ("Slot ID", 0x04),
    ("MSI-X:", 0x11),
    ("MSI:", 0x05),
    ("CompactPCI hot-swap", 0x06),
    ("PCI-X ", 0x07),
    ("HyperTransport", 0x08),
    ("VirtIO:", 0x09),
    ("Vendor Specific Information", 0x09),
    ("Debug port", 0x0a),
    ("CompactPCI central resource control", 0x0b),
    ("Hot-plug capable", 0x0c),
    ("Subsystem:", 0x0d),
    ("Secure device", 0x0f),
    ("Express ", 0x10),
    ("SATA HBA", 0x12),
    ("PCI Advanced Features", 0x13),
    ("Enhanced Allocation", 0x14),
];

/// Extended capability names as pciutils 3.9 prints them (ls-ecaps.c), to the ID(s).
const EXT_NAMES: &[(&str, &[u16])] = &[
    ("Null", &[0x00]),
    ("Advanced Error Reporting", &[0x01]),
    ("Multi-Function Virtual Channel", &[0x08]),
    ("Virtual Channel", &[0x02, 0x09]),
    ("Device Serial Number", &[0x03]),
    ("Power Budgeting", &[0x04]),
    ("Root Complex Link", &[0x05]),
    ("Root Complex Internal Link", &[0x06]),
    ("Root Complex Event Collector", &[0x07]),
    ("Root Complex Register Block", &[0x0a]),
    ("Vendor Specific Information", &[0x0b]),
    ("Access Control Services", &[0x0d]),
    ("Alternative Routing-ID Interpretation", &[0x0e]),
    ("Address Translation Service", &[0x0f]),
    ("Single Root I/O Virtualization", &[0x10]),
    ("Multi-Root I/O Virtualization", &[0x11]),
    ("Multicast", &[0x12]),
    ("Page Request Interface", &[0x13]),
    ("Physical Resizable BAR", &[0x15]),
    ("Dynamic Power Allocation", &[0x16]),
    ("Transaction Processing Hints", &[0x17]),
    ("Latency Tolerance Reporting", &[0x18]),
    ("Secondary PCI Express", &[0x19]),
    ("Protocol Multiplexing", &[0x1a]),
    ("Process Address Space ID", &[0x1b]),
    ("LN Requester", &[0x1c]),
    ("Downstream Port Containment", &[0x1d]),
    ("L1 PM Substates", &[0x1e]),
    ("Precision Time Measurement", &[0x1f]),
    ("PCI Express over M_PHY", &[0x20]),
    ("FRS Queueing", &[0x21]),
    ("Readiness Time Reporting", &[0x22]),
    ("Designated Vendor-Specific", &[0x23]),
    ("Virtual Resizable BAR", &[0x24]),
    ("Data Link Feature", &[0x25]),
    ("Physical Layer 16.0 GT/s", &[0x26]),
    ("Lane Margining at the Receiver", &[0x27]),
    ("Hierarchy ID", &[0x28]),
    ("Native PCIe Enclosure Management", &[0x29]),
    ("Physical Layer 32.0 GT/s", &[0x2a]),
    ("Data Object Exchange", &[0x2e]),
    ("Integrity & Data Encryption", &[0x30]),
    ("Physical Layer 64.0 GT/s", &[0x31]),
];

fn name_to_ids(text: &str, extended: bool) -> Vec<u16> {
    if let Some(rest) = text
        .strip_prefix("Extended Capability ID ")
        .or_else(|| text.strip_prefix("Capability ID "))
    {
        let tok = rest.split_whitespace().next().unwrap_or("");
        let v = u16::from_str_radix(tok.trim_start_matches("0x"), 16).unwrap_or_else(|_| panic!("id in {text:?}"));
        return vec![v];
    }
    if extended {
        for (n, ids) in EXT_NAMES {
            if text.starts_with(n) {
                return ids.to_vec();
            }
        }
    } else {
        for (n, id) in STD_NAMES {
            if text.starts_with(n) {
                return vec![*id];
            }
        }
    }
    panic!("lspci capability name not in the test's table: {text:?} (extended: {extended})")
}

/// Parse `lspci -D -vvv -F` output: BDF → capability lines, in order.
fn parse_lspci_vvv(out: &str) -> BTreeMap<String, Vec<LsCap>> {
    let mut map = BTreeMap::new();
    let mut cur: Option<String> = None;
    for line in out.lines() {
        if !line.starts_with(char::is_whitespace) && !line.is_empty() {
            let bdf = line.split_whitespace().next().unwrap().to_string();
            map.insert(bdf.clone(), Vec::new());
            cur = Some(bdf);
            continue;
        }
        let Some(line_rest) = line.strip_prefix("\tCapabilities: ") else {
            continue;
        };
        let caps = map
            .get_mut(cur.as_ref().expect("capability line before a device line"))
            .unwrap();
        // pciutils prints nothing after "[off] " for a PCI-X capability on a CardBus header
        // (cap_pcix handles header types 0 and 1 only), so the next capability shares the line.
        for rest in line_rest.split("\tCapabilities: ") {
            if rest.starts_with("<access denied>") {
                caps.push(LsCap::AccessDenied);
                continue;
            }
            let close = rest.find(']').expect("] in capability line");
            let inside = &rest[1..close];
            let text = rest[close + 1..].trim_start();
            let off_txt = inside.split_whitespace().next().unwrap();
            let offset = usize::from_str_radix(off_txt, 16).unwrap();
            let extended = off_txt.len() == 3;
            if text.starts_with("<chain looped>") {
                caps.push(LsCap::Looped { offset, extended });
            } else if text.starts_with("<chain broken>") {
                caps.push(LsCap::Broken { offset });
            } else if text.is_empty() && !extended {
                caps.push(LsCap::Cap {
                    offset,
                    extended,
                    ids: vec![0x07],
                });
            } else {
                caps.push(LsCap::Cap {
                    offset,
                    extended,
                    ids: name_to_ids(text, extended),
                });
            }
        }
    }
    map
}

/// One capability entry of `pcimig show --json`.
#[derive(Debug, Clone)]
struct PmCap {
    id: Option<u16>,
    offset: usize,
    extended: bool,
    issue: Option<String>,
}

fn run_pcimig_json(src: &str) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_pcimig"))
        .args(["show", "--json", src])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pcimig show --json {src}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn caps_of(dev: &Value) -> Vec<PmCap> {
    dev["capabilities"]
        .as_array()
        .expect("capabilities array")
        .iter()
        .map(|c| PmCap {
            id: c["id"].as_u64().map(|v| v as u16),
            offset: c["offset"].as_u64().unwrap() as usize,
            extended: c["extended"].as_bool().unwrap(),
            issue: c["issue"]["kind"].as_str().map(str::to_string),
        })
        .collect()
}

/// Compare one device; returns a description of the difference, if any.
fn compare(what: &str, ours: &[PmCap], theirs: &[LsCap]) -> Result<(), String> {
    let mut i = 0;
    let diff = |msg: String| Err(format!("{what}: {msg}\n  pcimig: {ours:?}\n  lspci:  {theirs:?}"));
    for (k, o) in ours.iter().enumerate() {
        match (o.issue.as_deref(), theirs.get(i)) {
            (None, Some(LsCap::Cap { offset, extended, ids })) => {
                if o.offset != *offset || o.extended != *extended || !ids.contains(&o.id.unwrap()) {
                    return diff(format!("entry {k} differs"));
                }
            }
            (Some("looped"), Some(LsCap::Looped { offset, extended }))
                if *offset == o.offset && *extended == o.extended => {}
            (Some("broken"), Some(LsCap::Broken { offset })) if *offset == o.offset => {}
            (Some("not_in_dump"), Some(LsCap::AccessDenied)) => {}
            (Some("below_extended"), None) => {
                // lspci read a header of 0 or 0xffffffff at the low offset and stopped silently.
                continue;
            }
            (Some("not_in_dump"), None) if o.extended => {
                // lspci stops silently when an extended pointer leads beyond the dump.
                continue;
            }
            (
                Some("into_header"),
                Some(LsCap::Cap {
                    offset,
                    extended: false,
                    ..
                }),
            ) if *offset == o.offset => {
                // Deliberate difference: lspci decodes header bytes as a capability and goes on.
                // Skip lspci's remaining standard entries.
                while matches!(
                    theirs.get(i),
                    Some(
                        LsCap::Cap { extended: false, .. }
                            | LsCap::Looped { extended: false, .. }
                            | LsCap::Broken { .. }
                    )
                ) {
                    i += 1;
                }
                continue;
            }
            (
                Some("below_extended"),
                Some(LsCap::Cap {
                    offset, extended: true, ..
                }),
            ) if *offset == o.offset => {
                // Deliberate difference: lspci reads below 0x100 as an extended capability and goes on.
                while matches!(
                    theirs.get(i),
                    Some(LsCap::Cap { extended: true, .. } | LsCap::Looped { extended: true, .. })
                ) {
                    i += 1;
                }
                continue;
            }
            _ => return diff(format!("entry {k} ({o:?}) has no counterpart")),
        }
        i += 1;
    }
    if i != theirs.len() {
        return diff(format!("lspci lists {} more entries", theirs.len() - i));
    }
    Ok(())
}

fn lspci_vvv(file: &Path) -> String {
    let out = Command::new("lspci")
        .args(["-D", "-vvv", "-F"])
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "lspci -F {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Compare every device of one lspci-text file; returns (devices compared, failures, issue
/// kinds seen).
fn compare_file(file: &Path) -> (usize, Vec<String>, std::collections::BTreeSet<String>) {
    let theirs = parse_lspci_vvv(&lspci_vvv(file));
    let json = run_pcimig_json(file.to_str().unwrap());
    let devices: Vec<Value> = match json.get("devices") {
        Some(d) => d.as_array().unwrap().clone(),
        None => vec![json],
    };
    let mut failures = Vec::new();
    let mut kinds = std::collections::BTreeSet::new();
    for d in &devices {
        kinds.extend(caps_of(d).into_iter().filter_map(|c| c.issue));
        let bdf = d["bdf"].as_str().expect("bdf").to_string();
        let Some(ls) = theirs.get(&bdf) else {
            failures.push(format!("{}: lspci does not list {bdf}", file.display()));
            continue;
        };
        if let Err(e) = compare(&format!("{} {bdf}", file.display()), &caps_of(d), ls) {
            failures.push(e);
        }
    }
    if devices.len() != theirs.len() {
        failures.push(format!(
            "{}: pcimig shows {} devices, lspci {}",
            file.display(),
            devices.len(),
            theirs.len()
        ));
    }
    (devices.len(), failures, kinds)
}

fn prerequisites(test: &str) -> Option<PathBuf> {
    if !have_lspci() {
        println!("SKIPPED {test}: lspci (pciutils) is not installed; .ci/install-deps installs it");
        return None;
    }
    Some(temp_dir(test))
}

#[test]
fn corpus_capability_lists_equal_lspci() {
    let Some(tmp) = prerequisites("corpus") else { return };
    let Some(corpus) = shared_corpus() else {
        println!("SKIPPED corpus_capability_lists_equal_lspci: ../shared/corpus is absent");
        return;
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus.join("pciutils-tests"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    // The binary dumps become -xxxx text for lspci; pcimig reads the binary itself too.
    let h100 = corpus.join("h100-firecracker");
    let mut bins: Vec<PathBuf> = std::fs::read_dir(&h100)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "bin"))
        .collect();
    bins.sort();
    let mut total = 0;
    let mut failures = Vec::new();
    for f in &files {
        let (n, mut fails, _) = compare_file(f);
        total += n;
        failures.append(&mut fails);
    }
    for b in &bins {
        let bytes = std::fs::read(b).unwrap();
        let bdf = b
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .trim_end_matches(".config.bin")
            .to_string();
        let mut text = String::new();
        lspci_text(&mut text, &bdf, &bytes);
        let t = tmp.join(format!("{bdf}.txt"));
        std::fs::write(&t, text).unwrap();
        let theirs = parse_lspci_vvv(&lspci_vvv(&t));
        let ours = caps_of(&run_pcimig_json(b.to_str().unwrap()));
        if let Err(e) = compare(&b.display().to_string(), &ours, &theirs[&bdf]) {
            failures.push(e);
        }
        total += 1;
    }
    println!("compared {total} corpus devices with lspci -vvv -F");
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        total > 100,
        "the corpus should hold well over 100 devices, found {total}"
    );
}

#[test]
fn generated_capability_lists_equal_lspci() {
    let Some(tmp) = prerequisites("generated") else { return };
    let mut rng = Rng::new(0x5eed);
    let mut text = String::new();
    let shapes = [Shape::Presets, Shape::Random, Shape::Malformed];
    let mut counts = [0usize; 3];
    let n = 600;
    for i in 0..n {
        let k = i % 3;
        counts[k] += 1;
        let bytes = generate(&mut rng, shapes[k]);
        lspci_text(&mut text, &bdf(i), &bytes);
    }
    let file = tmp.join("generated.txt");
    std::fs::write(&file, &text).unwrap();
    let (compared, failures, kinds) = compare_file(&file);
    println!("chain issues exercised: {kinds:?}");
    for k in ["looped", "broken", "into_header", "below_extended"] {
        assert!(kinds.contains(k), "the generated set should exercise '{k}' chains");
    }
    println!(
        "compared {compared} generated devices (presets {}, random {}, malformed {})",
        counts[0], counts[1], counts[2]
    );
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.iter().take(10).cloned().collect::<Vec<_>>().join("\n")
    );
    assert_eq!(compared, n);
}

/// Parse `lspci -xxxx` output with pcimig's reader and compare to the bytes it came from.
#[test]
fn bytes_read_back_from_lspci_xxxx_equal_the_binary() {
    let Some(tmp) = prerequisites("readback") else { return };
    let mut rng = Rng::new(7);
    let mut originals: Vec<(String, Vec<u8>)> = Vec::new();
    let mut text = String::new();
    for i in 0..200 {
        let bytes = generate(&mut rng, [Shape::Presets, Shape::Random, Shape::Malformed][i % 3]);
        lspci_text(&mut text, &bdf(i), &bytes);
        originals.push((bdf(i), bytes));
    }
    if let Some(corpus) = shared_corpus() {
        for e in std::fs::read_dir(corpus.join("h100-firecracker")).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "bin") {
                let bdf = p
                    .file_name()
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .trim_end_matches(".config.bin")
                    .replace("0000:00", "0009:00");
                let bytes = std::fs::read(&p).unwrap();
                lspci_text(&mut text, &bdf, &bytes);
                originals.push((bdf, bytes));
            }
        }
    } else {
        println!("../shared/corpus is absent: read-back checked on generated configs only");
    }
    let input = tmp.join("in.txt");
    std::fs::write(&input, &text).unwrap();
    let out = Command::new("lspci")
        .args(["-D", "-xxxx", "-F"])
        .arg(&input)
        .output()
        .unwrap();
    assert!(out.status.success());
    let lspci_out = tmp.join("lspci-xxxx.txt");
    std::fs::write(&lspci_out, &out.stdout).unwrap();
    let sources = pcimig::source::load_all(lspci_out.to_str().unwrap()).unwrap();
    assert_eq!(sources.len(), originals.len());
    for (bdf, bytes) in &originals {
        let s = sources
            .iter()
            .find(|s| s.bdf.as_deref() == Some(bdf.as_str()))
            .unwrap_or_else(|| panic!("{bdf} missing"));
        assert_eq!(&s.bytes, bytes, "{bdf}: bytes read back from lspci -xxxx differ");
    }
    println!(
        "{} devices read back from lspci -xxxx equal their binaries",
        originals.len()
    );
}
