//! The self-contained HTML report: one page, inline CSS and script, no network and no external
//! assets; every text that comes from the input is HTML-escaped.
//!
//! For `check`, each checked device gets a map of its config space (16×16 for 256 bytes,
//! 64×64 for 4096): one cell per byte, coloured by [`ByteClass`] (checked, exempt, writable,
//! W1C, unchecked, unused) from the destination's masks, the mismatching bytes outlined, the
//! register behind each byte (the register map, [`pcimig_config::ConfigSpace::locate`]) in its
//! title. For `fleet`, [`fleet_section`] draws the groups and the compatibility matrix from
//! plain data ([`FleetMatrixView`]).
//!
//! Stable hooks for tests and tools: `section.device[data-verdict]`, `#legend`,
//! `table.cfgmap td[data-off="0xca"][data-class="checked"][data-mismatch="1"]`, and after the
//! inline script ran, each cell's computed background in `data-bg`;
//! `table.fleet td[data-from][data-to][data-pass]`.

mod fleet;
mod grid;
mod page;

pub use fleet::{fleet_page, fleet_section, FleetMatrixView};
pub use grid::{columns, map_table, ByteClass};
pub use page::{legend, page, MISMATCH_COLOUR};

use crate::check::{CheckOutput, Outcome, StreamCheckOutput};
use crate::report::{self, QEMU_PREFIX};
use std::fmt::Write;

/// `text` with `&`, `<`, `>`, `"` and `'` replaced by entities: safe in element content and in
/// quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => s.push_str("&amp;"),
            '<' => s.push_str("&lt;"),
            '>' => s.push_str("&gt;"),
            '"' => s.push_str("&quot;"),
            '\'' => s.push_str("&#39;"),
            c => s.push(c),
        }
    }
    s
}

/// The page for a check: one device, or every device of a stream check.
pub fn check_page(out: &Outcome) -> String {
    match out {
        Outcome::Device(o) => device_page(o),
        Outcome::Streams(o) => streams_page(o),
    }
}

/// The page for a check of one device.
pub fn device_page(o: &CheckOutput) -> String {
    let text = report::check_text(o);
    let heading = format!("{} → {}", o.saved.origin, o.dest.origin);
    let body = format!("{}{}", legend(), device_section(o, &heading, &text));
    page(&format!("pcimig check: {}", o.verdict), &body)
}

/// The page for a whole-stream check: the stream's verdict and devices, then one section per
/// device that could be checked.
pub fn streams_page(o: &StreamCheckOutput) -> String {
    let text = report::streams_text(o);
    let mut body = String::new();
    let _ = writeln!(
        body,
        "<section class=\"streams\" data-verdict=\"{}\">\n<p class=\"verdict verdict-{}\">{}</p>",
        o.verdict,
        o.verdict,
        escape(headline(&text))
    );
    if let Some(r) = &o.refusal {
        let _ = writeln!(body, "<p class=\"refusal\">refused: {}</p>", escape(r));
    }
    qemu_line(&mut body, o.qemu.dest, o.qemu_line.as_deref());
    stream_devices_table(&mut body, o);
    list(&mut body, "Warnings", o.warnings.iter());
    text_report(&mut body, &text);
    body.push_str("</section>\n");
    body.push_str(&legend());
    for d in &o.devices {
        if let Some(r) = &d.report {
            body.push_str(&device_section(r, &d.id, &report::check_text(r)));
        }
    }
    page(&format!("pcimig check (streams): {}", o.verdict), &body)
}

/// One row per device in stream order: its verdict and first failing byte or why undecided.
fn stream_devices_table(s: &mut String, o: &StreamCheckOutput) {
    s.push_str("<h2>Devices (stream order)</h2>\n<table class=\"list devices\"><tr><th>device</th><th>verdict</th><th>detail</th></tr>\n");
    for d in &o.devices {
        let detail = crate::report::stream_device_detail(d);
        let _ = writeln!(
            s,
            "<tr data-device=\"{}\" data-verdict=\"{}\"><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&d.id),
            d.verdict,
            escape(&d.id),
            d.verdict,
            escape(&detail)
        );
    }
    s.push_str("</table>\n");
}

/// The verdict sentence: the text report's first line without its `verdict: ` label.
fn headline(text: &str) -> &str {
    let first = text.lines().next().unwrap_or_default();
    first.strip_prefix("verdict: ").unwrap_or(first)
}

/// One device: verdict, QEMU's line, both sides, the map, the mismatches, exemptions and
/// warnings, and the text report.
fn device_section(o: &CheckOutput, heading: &str, text: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<section class=\"device\" data-device=\"{}\" data-verdict=\"{}\">\n<h2>{}</h2>\n\
         <p class=\"verdict verdict-{}\">{}</p>",
        escape(heading),
        o.verdict,
        escape(heading),
        o.verdict,
        escape(headline(text))
    );
    if let Some(r) = &o.refusal {
        let _ = writeln!(s, "<p class=\"refusal\">refused: {}</p>", escape(r));
    }
    qemu_line(&mut s, o.assumptions.qemu.dest, o.qemu_line.as_deref());
    sides_table(&mut s, o);
    let _ = writeln!(
        s,
        "<h3>Config space ({} bytes, {} checked)</h3>",
        o.dest_space.size(),
        o.checked_bytes
    );
    s.push_str(&map_table(&o.dest_space, &o.mismatches));
    s.push_str("<div class=\"detail\">Hover over a byte, or click it, for its register and masks.</div>\n");
    mismatches_table(&mut s, o);
    let exempt = o
        .dest_space
        .exemptions()
        .iter()
        .map(|e| format!("{:#05x}..{:#05x} by {}: {}", e.start, e.end, e.policy, e.reason));
    list(&mut s, "Exempt ranges", exempt);
    list(&mut s, "Warnings (they do not change the verdict)", o.warnings.iter());
    text_report(&mut s, text);
    s.push_str("</section>\n");
    s
}

/// QEMU's line for the first failing byte, as QEMU prints it, or that it prints none.
fn qemu_line(s: &mut String, qemu: pcimig_config::QemuVersion, line: Option<&str>) {
    match line {
        Some(l) => {
            let _ = writeln!(
                s,
                "<p>QEMU {qemu} would print:</p>\n<pre class=\"qemu-line\">{}</pre>",
                escape(&format!("{QEMU_PREFIX}{l}"))
            );
        }
        None => {
            let _ = writeln!(
                s,
                "<p class=\"qemu-line none\">QEMU {qemu} would print no config error.</p>"
            );
        }
    }
}

/// Both sides and the settings the verdict depends on.
fn sides_table(s: &mut String, o: &CheckOutput) {
    let a = &o.assumptions;
    let (vsc, vsc_reason) = a.skip_vsc_check_shown();
    let rows = [
        (
            "saved",
            format!("{} [{}] {}", o.saved.origin, o.saved.id, o.saved.treatment),
        ),
        (
            "dest",
            format!("{} [{}] {}", o.dest.origin, o.dest.id, o.dest.treatment),
        ),
        ("machine", format!("{} ({})", a.machine.value, a.machine.reason)),
        ("QEMU", a.qemu.shown()),
        ("skip-vsc-check", format!("{vsc} ({vsc_reason})")),
    ];
    s.push_str("<table class=\"list sides\">\n");
    for (k, v) in rows {
        let _ = writeln!(s, "<tr><th>{k}</th><td>{}</td></tr>", escape(&v));
    }
    s.push_str("</table>\n");
}

/// Every failing byte, in offset order (QEMU stops at the first).
fn mismatches_table(s: &mut String, o: &CheckOutput) {
    if o.mismatches.is_empty() {
        return;
    }
    s.push_str(
        "<h3>Mismatches (QEMU stops at the first)</h3>\n<table class=\"list mismatches\"><tr><th>offset</th>\
         <th>saved</th><th>device</th><th>cmask</th><th>wmask</th><th>w1cmask</th><th>location</th></tr>\n",
    );
    for m in &o.mismatches {
        let _ = writeln!(
            s,
            "<tr data-off=\"{:#x}\"><td>{:#05x}</td><td>{:02x}</td><td>{:02x}</td><td>{:02x}</td><td>{:02x}</td>\
             <td>{:02x}</td><td>{}</td></tr>",
            m.offset,
            m.offset,
            m.saved,
            m.device,
            m.cmask,
            m.wmask,
            m.w1cmask,
            escape(&m.location.to_string())
        );
    }
    s.push_str("</table>\n");
}

/// A titled list of sentences, nothing when empty.
fn list<T: std::fmt::Display>(s: &mut String, title: &str, items: impl Iterator<Item = T>) {
    let items: Vec<String> = items.map(|i| format!("<li>{}</li>", escape(&i.to_string()))).collect();
    if !items.is_empty() {
        let _ = writeln!(s, "<h3>{}</h3>\n<ul>{}</ul>", escape(title), items.join(""));
    }
}

/// The terminal report, folded.
fn text_report(s: &mut String, text: &str) {
    let _ = writeln!(
        s,
        "<details><summary>Text report</summary><pre>{}</pre></details>",
        escape(text)
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{self, Request, VfioRequest};

    fn demo(name: &str) -> String {
        format!("{}/../../data/demo/{name}", env!("CARGO_MANIFEST_DIR"))
    }

    /// The opening tag of the cell at `off` (`{off:#x}`, as `data-off` spells it).
    fn cell_tag(page: &str, off: usize) -> &str {
        let at = page.find(&format!("<td data-off=\"{off:#x}\"")).expect("cell");
        &page[at..at + page[at..].find('>').unwrap()]
    }

    #[test]
    fn escape_replaces_every_markup_character() {
        assert_eq!(escape(r#"<a href="x">&'"#), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
        assert_eq!(escape("Vendor Specific (09) @0xc0"), "Vendor Specific (09) @0xc0");
    }

    #[test]
    fn the_device_id_cell_is_a_checked_mismatch_and_the_vsc_payload_exempt() {
        let req = Request::Vfio(VfioRequest {
            saved: demo("vgpu-host-a-r550.bin"),
            dest: demo("vgpu-host-b-r570-other-type.bin"),
            ..VfioRequest::default()
        });
        let page = check_page(&check::run(&req).unwrap());
        let id = cell_tag(&page, 0x02);
        assert!(id.contains("data-class=\"checked\" data-mismatch=\"1\""), "{id}");
        assert!(id.contains("Device ID"), "{id}");
        for off in 0xc3..0x100 {
            let c = cell_tag(&page, off);
            assert!(
                c.contains("data-class=\"exempt\"") && !c.contains("data-mismatch"),
                "{c}"
            );
        }
        assert_eq!(page.matches("data-mismatch=\"1\" title=").count(), 1);
        assert_eq!(page.matches("<td data-off=").count(), 4096);
        assert!(page.contains("id=\"legend\""));
        assert!(!page.contains("src=") && !page.contains("href="), "no external asset");
    }

    #[test]
    fn the_fleet_matrix_marks_pairs_of_other_kinds_as_not_applicable() {
        let view = FleetMatrixView {
            groups: vec![("a".into(), vec!["s1#0000:01:00.0".into()]), ("b&".into(), vec![])],
            matrix: vec![("a".into(), "a".into(), true), ("b&".into(), "b&".into(), false)],
        };
        let s = fleet_section(&view);
        assert!(s.contains("data-from=\"a\" data-to=\"a\" data-pass=\"1\""));
        assert!(s.contains("data-from=\"b&amp;\" data-to=\"b&amp;\" data-pass=\"0\""));
        assert_eq!(s.matches("class=\"na\"").count(), 2);
    }
}
