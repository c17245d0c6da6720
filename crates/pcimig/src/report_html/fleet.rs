//! The fleet section: the groups of devices and the matrix of which group's VMs a group can
//! take, from plain data the caller fills from the fleet's output.

use super::{escape, page};
use std::collections::HashMap;
use std::fmt::Write;

/// What the fleet section draws: the groups (id and the devices in it, `SNAPSHOT#BDF`) and,
/// for every ordered pair of groups of the same kind, whether a VM restored from a device of
/// `from` onto one of `to` would pass. Pairs not listed (different kinds) are drawn as `—`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FleetMatrixView {
    /// `(group id, devices)`, in the order to draw them.
    pub groups: Vec<(String, Vec<String>)>,
    /// `(from group id, to group id, pass)`.
    pub matrix: Vec<(String, String, bool)>,
}

/// The groups and the matrix as HTML: `table.fleet td[data-from][data-to][data-pass="1"|"0"]`.
pub fn fleet_section(view: &FleetMatrixView) -> String {
    let mut s = String::from("<section class=\"fleet-report\">\n<h2>Groups</h2>\n");
    s.push_str("<table class=\"list groups\"><tr><th>group</th><th>devices</th></tr>\n");
    for (id, devices) in &view.groups {
        let names: Vec<String> = devices.iter().map(|d| escape(d)).collect();
        let _ = writeln!(
            s,
            "<tr data-group=\"{}\"><td>{}</td><td>{} device{}: {}</td></tr>",
            escape(id),
            escape(id),
            devices.len(),
            if devices.len() == 1 { "" } else { "s" },
            names.join(", ")
        );
    }
    s.push_str("</table>\n");
    matrix_table(&mut s, view);
    s.push_str("</section>\n");
    s
}

/// Rows are sources (`from`), columns destinations (`to`).
fn matrix_table(s: &mut String, view: &FleetMatrixView) {
    let verdicts: HashMap<(&str, &str), bool> = view
        .matrix
        .iter()
        .map(|(f, t, p)| ((f.as_str(), t.as_str()), *p))
        .collect();
    s.push_str(
        "<h2>Matrix (row: source group, column: destination group)</h2>\n<table class=\"list fleet\"><tr><th>from \\ to</th>",
    );
    for (id, _) in &view.groups {
        let _ = write!(s, "<th>{}</th>", escape(id));
    }
    s.push_str("</tr>\n");
    for (from, _) in &view.groups {
        let _ = write!(s, "<tr><th>{}</th>", escape(from));
        for (to, _) in &view.groups {
            let (f, t) = (escape(from), escape(to));
            let _ = match verdicts.get(&(from.as_str(), to.as_str())) {
                Some(&pass) => write!(
                    s,
                    "<td class=\"{}\" data-from=\"{f}\" data-to=\"{t}\" data-pass=\"{}\" title=\"{f} → {t}: {}\">{}</td>",
                    if pass { "pass" } else { "fail" },
                    u8::from(pass),
                    if pass { "pass" } else { "fail" },
                    if pass { "✓" } else { "✗" }
                ),
                None => write!(
                    s,
                    "<td class=\"na\" title=\"{f} → {t}: different kinds\">—</td>"
                ),
            };
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</table>\n");
}

/// A page with only the fleet section.
pub fn fleet_page(view: &FleetMatrixView) -> String {
    page("pcimig fleet", &fleet_section(view))
}
