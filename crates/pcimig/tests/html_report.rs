//! `pcimig check --html`: the report rendered by a real browser (headless Chromium), asserted on
//! the DOM as the browser holds it after the page's inline script ran, and a screenshot.
//!
//! Expectations come from QEMU's rules on the bundled demo data, not from the report itself:
//! - vGPU host A (r550) → host B (r570, another vGPU type): the Device ID at 0x02 differs and is
//!   checked (pci_init_cmask), so 0x02 is the one mismatch; skip-vsc-check is on by default for
//!   pc-q35-10.0, so the payload of the Vendor Specific capability at 0xc0 after its 3-byte
//!   header (0xc3..0x100, vfio_add_vendor_specific_cap) is exempt, including 0xca where the two
//!   drivers' payloads differ;
//! - host A → host B (r570, same type) with skip-vsc-check=off: the payload is checked and the
//!   bytes 0xca, 0xcc and 0xcd that the drivers write differently mismatch.
//!
//! Without Chromium the tests are skipped with a reason, except under `CI`, where they fail
//! (.ci/install-deps installs Debian's `chromium`).

use pcimig::report_html::{ByteClass, FleetMatrixView, MISMATCH_COLOUR};
use pcimig_config::CapId;
use pcimig_testkit::Phys;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const WINDOW: (u32, u32) = (1400, 1800);
const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn demo(name: &str) -> PathBuf {
    root().join("data/demo").join(name)
}

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("pcimig-html-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Chromium's binary (`PCIMIG_CHROMIUM`, else `chromium` or `chromium-browser` on PATH); `None`
/// outside CI when there is none, a failure under CI.
fn chromium() -> Option<PathBuf> {
    let found = std::env::var_os("PCIMIG_CHROMIUM").map(PathBuf::from).or_else(|| {
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path)
            .flat_map(|d| ["chromium", "chromium-browser"].map(|n| d.join(n)))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "the HTML report test needs Chromium under CI (.ci/install-deps installs Debian's chromium)"
        );
        eprintln!("skipped: no chromium on PATH (apt-get install chromium, or set PCIMIG_CHROMIUM)");
    }
    found
}

/// Run headless Chromium on `page` with `mode` (`--dump-dom` or `--screenshot=FILE`), with a
/// fresh profile, no network services, and a time limit; returns its stdout.
fn run_chromium(chromium: &Path, page: &Path, mode: &str, work: &Path) -> String {
    let profile = work.join(format!("profile-{}", mode.len()));
    let _ = std::fs::remove_dir_all(&profile);
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            &format!("--user-data-dir={}", profile.display()),
            &format!("--window-size={},{}", WINDOW.0, WINDOW.1),
            mode,
            &format!("file://{}", page.display()),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap_or_default());
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("chromium {mode} on {} did not finish in 120 s", page.display());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "chromium {mode} failed: {status}");
    reader.join().unwrap()
}

/// `pcimig check … --html FILE`; returns the exit code.
fn check_html(args: &[&str], html: &Path) -> i32 {
    let o = Command::new(env!("CARGO_BIN_EXE_pcimig"))
        .arg("check")
        .args(args)
        .arg("--html")
        .arg(html)
        .output()
        .expect("run pcimig");
    o.status.code().expect("exit code")
}

/// The attributes of every start tag named `tag` in `dom` (a serialized DOM), in order.
fn tags(dom: &str, tag: &str) -> Vec<HashMap<String, String>> {
    let open = format!("<{tag}");
    let mut out = Vec::new();
    let mut rest = dom;
    while let Some(i) = rest.find(&open) {
        let after = &rest[i + open.len()..];
        if !after.starts_with([' ', '>', '/']) {
            rest = after;
            continue;
        }
        let (attrs, len) = attributes(after);
        out.push(attrs);
        rest = &after[len..];
    }
    out
}

/// Parse `name="value" …>` up to the tag's end; returns the attributes (entities in values
/// decoded) and the length consumed.
fn attributes(s: &str) -> (HashMap<String, String>, usize) {
    let mut attrs = HashMap::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && b[i] != b'>' {
        if b[i].is_ascii_whitespace() || b[i] == b'/' {
            i += 1;
            continue;
        }
        let name_start = i;
        while i < b.len() && !matches!(b[i], b'=' | b'>' | b' ' | b'\n') {
            i += 1;
        }
        let name = s[name_start..i].to_string();
        let mut value = String::new();
        if i < b.len() && b[i] == b'=' && b.get(i + 1) == Some(&b'"') {
            let end = s[i + 2..].find('"').expect("closing quote") + i + 2;
            value = unescape(&s[i + 2..end]);
            i = end + 1;
        }
        attrs.insert(name, value);
    }
    (attrs, i + 1)
}

fn unescape(v: &str) -> String {
    v.replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The map's cells by offset.
fn cells(dom: &str) -> HashMap<usize, HashMap<String, String>> {
    tags(dom, "td")
        .into_iter()
        .filter_map(|a| {
            let off = usize::from_str_radix(a.get("data-off")?.strip_prefix("0x")?, 16).ok()?;
            Some((off, a))
        })
        .collect()
}

/// `#rrggbb` as the browser's computed `rgb(r, g, b)`.
fn rgb(hex: &str) -> String {
    let v = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).unwrap();
    format!("rgb({}, {}, {})", v(1), v(3), v(5))
}

/// The cell at `off` has `class`, and the browser drew it in that class's colour.
fn assert_cell(cells: &HashMap<usize, HashMap<String, String>>, off: usize, class: ByteClass, mismatch: bool) {
    let c = cells.get(&off).unwrap_or_else(|| panic!("no cell for {off:#x}"));
    assert_eq!(
        c.get("data-class").map(String::as_str),
        Some(class.as_str()),
        "{off:#x}: {c:?}"
    );
    assert_eq!(
        c.get("data-bg"),
        Some(&rgb(class.colour())),
        "{off:#x} drawn colour: {c:?}"
    );
    assert_eq!(
        c.contains_key("data-mismatch"),
        mismatch,
        "{off:#x} mismatch mark: {c:?}"
    );
    if mismatch {
        let outline = c.get("data-outline").expect("computed outline of a mismatch");
        assert_eq!(outline, &format!("{} solid", rgb(MISMATCH_COLOUR)), "{off:#x}");
    }
}

/// The screenshot is a PNG of the window's size with real content.
fn assert_screenshot(png: &Path) {
    let bytes = std::fs::read(png).expect("screenshot written");
    assert_eq!(bytes[..8], PNG_SIGNATURE, "PNG signature");
    let be = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap());
    assert_eq!(&bytes[12..16], b"IHDR");
    assert_eq!((be(16), be(20)), WINDOW, "screenshot size");
    assert!(
        bytes.len() > 20_000,
        "a screenshot of a drawn map is not tiny: {} bytes",
        bytes.len()
    );
}

/// The page's own checks: the script ran, one legend with every class and the mismatch mark.
fn assert_page(dom: &str) {
    let body = &tags(dom, "body")[0];
    assert_eq!(
        body.get("data-rendered").map(String::as_str),
        Some("1"),
        "inline script ran"
    );
    let legend: Vec<_> = tags(dom, "ul")
        .into_iter()
        .filter(|u| u.get("id").is_some_and(|i| i == "legend"))
        .collect();
    assert_eq!(legend.len(), 1, "one legend");
    let items: Vec<String> = tags(dom, "li")
        .into_iter()
        .filter_map(|l| l.get("data-class").cloned())
        .collect();
    for c in ByteClass::ALL {
        assert!(items.iter().any(|i| i == c.as_str()), "legend names {}", c.as_str());
    }
    assert!(items.iter().any(|i| i == "mismatch"), "legend names the mismatch mark");
    assert!(
        !dom.contains("http://") && !dom.contains("https://"),
        "no external reference"
    );
}

#[test]
fn a_device_id_mismatch_is_marked_and_the_vsc_payload_is_exempt() {
    let Some(chromium) = chromium() else { return };
    let dir = tmpdir("devid");
    // A file name with markup in it: the report must show it as text.
    let saved = dir.join("host-a<i>&\"'.bin");
    std::fs::copy(demo("vgpu-host-a-r550.bin"), &saved).unwrap();
    let dest = demo("vgpu-host-b-r570-other-type.bin");
    let html = dir.join("report.html");
    let code = check_html(
        &["--saved", saved.to_str().unwrap(), "--dest", dest.to_str().unwrap()],
        &html,
    );
    assert_eq!(code, 1, "the Device ID differs: fail");
    let dom = run_chromium(&chromium, &html, "--dump-dom", &dir);
    assert_page(&dom);
    let cells = cells(&dom);
    assert_eq!(cells.len(), 4096, "a 64x64 map of the 4096-byte space");
    assert_cell(&cells, 0x02, ByteClass::Checked, true);
    assert!(cells[&0x02]["title"].contains("Device ID"), "{:?}", cells[&0x02]);
    for off in 0xc3..0x100 {
        assert_cell(&cells, off, ByteClass::Exempt, false);
        assert!(cells[&off]["title"].contains("skip-vsc-check"), "{off:#x}");
    }
    // The capability header stays checked (only the payload is exempt).
    assert_cell(&cells, 0xc0, ByteClass::Checked, false);
    assert_eq!(cells.values().filter(|c| c.contains_key("data-mismatch")).count(), 1);
    let sections = tags(&dom, "section");
    assert_eq!(sections[0].get("data-verdict").map(String::as_str), Some("fail"));
    assert!(
        sections[0]["data-device"].contains("host-a<i>&\"'.bin"),
        "{:?}",
        sections[0]
    );
    assert!(!dom.contains("<i>&"), "input text is escaped, not markup");
    assert!(dom.contains("get_pci_config_device: Bad config data: i=0x2 read: 30 device: 31"));
    let png = dir.join("report.png");
    run_chromium(&chromium, &html, &format!("--screenshot={}", png.display()), &dir);
    assert_screenshot(&png);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn with_skip_vsc_check_off_the_vsc_payload_is_checked_and_its_differences_marked() {
    let Some(chromium) = chromium() else { return };
    let dir = tmpdir("vsc");
    let html = dir.join("report.html");
    let (saved, dest) = (demo("vgpu-host-a-r550.bin"), demo("vgpu-host-b-r570.bin"));
    let args = [
        "--saved",
        saved.to_str().unwrap(),
        "--dest",
        dest.to_str().unwrap(),
        "--skip-vsc-check",
        "off",
    ];
    assert_eq!(check_html(&args, &html), 1);
    let dom = run_chromium(&chromium, &html, "--dump-dom", &dir);
    assert_page(&dom);
    let cells = cells(&dom);
    for off in [0xca, 0xcc, 0xcd] {
        assert_cell(&cells, off, ByteClass::Checked, true);
        assert!(cells[&off]["title"].contains("Vendor Specific (09) @0xc0"), "{off:#x}");
    }
    assert_cell(&cells, 0xcb, ByteClass::Checked, false);
    assert!(cells.values().all(|c| c["data-class"] != "exempt"), "nothing exempt");
    assert_eq!(cells.values().filter(|c| c.contains_key("data-mismatch")).count(), 3);
    std::fs::remove_dir_all(&dir).ok();
}

/// A 256-byte endpoint with one Vendor Specific capability at 0x40 (length 0x10) whose payload
/// byte at 0x45 is `payload_byte`.
fn vsc_device(payload_byte: u8) -> Vec<u8> {
    Phys::new(256)
        .cap(0x40, CapId::Vndr, &[0x10, 0, 0, payload_byte])
        .build()
}

#[test]
fn a_256_byte_space_is_a_16_by_16_map_with_values() {
    let Some(chromium) = chromium() else { return };
    let dir = tmpdir("small");
    let (a, b) = (dir.join("a.bin"), dir.join("b.bin"));
    std::fs::write(&a, vsc_device(1)).unwrap();
    std::fs::write(&b, vsc_device(2)).unwrap();
    let html = dir.join("report.html");
    // pc-q35-9.0: skip-vsc-check defaults to off, so the payload byte 0x45 fails.
    let args = [
        "--saved",
        a.to_str().unwrap(),
        "--dest",
        b.to_str().unwrap(),
        "--machine",
        "pc-q35-9.0",
    ];
    assert_eq!(check_html(&args, &html), 1);
    let dom = run_chromium(&chromium, &html, "--dump-dom", &dir);
    assert_page(&dom);
    let cells = cells(&dom);
    assert_eq!(cells.len(), 256);
    assert_cell(&cells, 0x45, ByteClass::Checked, true);
    assert!(dom.contains("data-off=\"0x45\""));
    let tables = tags(&dom, "table");
    let map = tables.iter().find(|t| t.contains_key("data-cols")).unwrap();
    assert_eq!(map["data-cols"], "16");
    let png = dir.join("report.png");
    run_chromium(&chromium, &html, &format!("--screenshot={}", png.display()), &dir);
    assert_screenshot(&png);
    std::fs::remove_dir_all(&dir).ok();
}

/// The fleet matrix's cells in the rendered DOM: `(from, to, pass)`.
fn matrix_cells(dom: &str) -> Vec<(String, String, String)> {
    tags(dom, "td")
        .into_iter()
        .filter_map(|t| {
            Some((
                t.get("data-from")?.clone(),
                t.get("data-to")?.clone(),
                t.get("data-pass")?.clone(),
            ))
        })
        .collect()
}

#[test]
fn the_fleet_matrix_draws_every_pair_of_the_same_kind() {
    let Some(chromium) = chromium() else { return };
    let dir = tmpdir("fleet");
    let view = FleetMatrixView {
        groups: vec![
            (
                "g1".into(),
                vec!["a.json#0000:3b:00.0".into(), "b.json#0000:3b:00.0".into()],
            ),
            ("g2".into(), vec!["c.json#0000:5e:00.0".into()]),
            ("g<3>".into(), vec!["d.json#0000:00:02.0".into()]),
        ],
        matrix: vec![
            ("g1".into(), "g1".into(), true),
            ("g1".into(), "g2".into(), false),
            ("g2".into(), "g1".into(), true),
            ("g2".into(), "g2".into(), true),
            ("g<3>".into(), "g<3>".into(), true),
        ],
    };
    let html = dir.join("fleet.html");
    std::fs::write(&html, pcimig::report_html::fleet_page(&view)).unwrap();
    let dom = run_chromium(&chromium, &html, "--dump-dom", &dir);
    let pairs = matrix_cells(&dom);
    let want: Vec<(String, String, String)> = view
        .matrix
        .iter()
        .map(|(f, t, p)| (f.clone(), t.clone(), u8::from(*p).to_string()))
        .collect();
    let mut got = pairs.clone();
    got.sort();
    let mut want_sorted = want;
    want_sorted.sort();
    assert_eq!(got, want_sorted);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn fleet_html_over_the_example_snapshots_draws_the_json_matrix() {
    let Some(chromium) = chromium() else { return };
    let dir = tmpdir("fleet-cli");
    let html = dir.join("fleet.html");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pcimig"))
        .current_dir(&root)
        .args(["fleet", "--json", "--html"])
        .arg(&html)
        .args([
            "data/snapshots/host-a.json",
            "data/snapshots/host-b.json",
            "data/snapshots/gpu-host-c.json",
            "data/snapshots/gpu-host-d.json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut want: Vec<(String, String, String)> = report["matrix"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let pass = u8::from(m["pass"].as_bool().unwrap()).to_string();
            (
                m["from"].as_str().unwrap().to_string(),
                m["to"].as_str().unwrap().to_string(),
                pass,
            )
        })
        .collect();
    want.sort();
    let dom = run_chromium(&chromium, &html, "--dump-dom", &dir);
    let mut got = matrix_cells(&dom);
    got.sort();
    assert_eq!(got, want);
    // The two vGPU hosts are one group that takes its own VMs; the passthrough GPUs (their own
    // serial numbers) refuse each other.
    assert!(got.iter().any(|(f, t, p)| f == t && p == "1"));
    assert!(got.iter().any(|(f, t, p)| f != t && p == "0"));
    assert!(dom.contains("host-a.json#0000:3b:00.0"));
    std::fs::remove_dir_all(&dir).ok();
}
