//! The map of one device's config space: one cell per byte, coloured by what QEMU's restore
//! check does with it (get_pci_config_device compares `cmask & !wmask & !w1cmask`), the
//! mismatching bytes marked, the register behind each byte in its title.

use super::escape;
use pcimig_config::regs::PCI_CONFIG_HEADER_SIZE;
use pcimig_config::{ConfigSpace, Mismatch};
use std::fmt::Write;

/// What the restore check does with one byte of the destination device. A byte with bits of
/// several kinds takes the first kind in this order: exempt, checked, W1C, writable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteClass {
    /// Some bit is compared: `cmask & !wmask & !w1cmask != 0`.
    Checked,
    /// A policy cleared its cmask (e.g. a VSC payload under `skip-vsc-check`).
    Exempt,
    /// Not compared; some bit is guest-writable (`wmask`).
    Writable,
    /// Not compared; some bit is write-1-to-clear (`w1cmask`).
    W1c,
    /// Inside the header or a capability, but no bit is compared, writable or W1C.
    Unchecked,
    /// Outside the header and every capability, and not compared.
    Unused,
}

impl ByteClass {
    /// Every class, in legend order.
    pub const ALL: [ByteClass; 6] = [
        ByteClass::Checked,
        ByteClass::Exempt,
        ByteClass::Writable,
        ByteClass::W1c,
        ByteClass::Unchecked,
        ByteClass::Unused,
    ];

    /// The `data-class` value: `checked`, `exempt`, `writable`, `w1c`, `unchecked`, `unused`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ByteClass::Checked => "checked",
            ByteClass::Exempt => "exempt",
            ByteClass::Writable => "writable",
            ByteClass::W1c => "w1c",
            ByteClass::Unchecked => "unchecked",
            ByteClass::Unused => "unused",
        }
    }

    /// The cell's background colour, `#rrggbb` (the page's CSS is generated from these).
    pub const fn colour(self) -> &'static str {
        match self {
            ByteClass::Checked => "#8fb8ef",
            ByteClass::Exempt => "#ffd966",
            ByteClass::Writable => "#9fdf9f",
            ByteClass::W1c => "#d2b0f0",
            ByteClass::Unchecked => "#dcdcdc",
            ByteClass::Unused => "#fbfbfb",
        }
    }

    /// The legend's explanation.
    pub const fn meaning(self) -> &'static str {
        match self {
            ByteClass::Checked => "checked: compared on restore (cmask & ~wmask & ~w1cmask)",
            ByteClass::Exempt => "exempt: a policy cleared its cmask (e.g. skip-vsc-check)",
            ByteClass::Writable => "writable: guest-writable bits (wmask), not compared",
            ByteClass::W1c => "W1C: write-1-to-clear bits (w1cmask), not compared",
            ByteClass::Unchecked => "unchecked: a register or capability byte QEMU does not compare",
            ByteClass::Unused => "unused: outside the header and every capability",
        }
    }

    /// The class of byte `offset` of `space` (`offset < space.size()`).
    pub fn of(space: &ConfigSpace, offset: usize) -> ByteClass {
        let (cmask, wmask, w1c) = (space.cmask()[offset], space.wmask()[offset], space.w1cmask()[offset]);
        let checked = cmask & !wmask & !w1c;
        if checked == 0 && space.exemptions().iter().any(|e| (e.start..e.end).contains(&offset)) {
            ByteClass::Exempt
        } else if checked != 0 {
            ByteClass::Checked
        } else if w1c != 0 {
            ByteClass::W1c
        } else if wmask != 0 {
            ByteClass::Writable
        } else if in_register(space, offset) {
            ByteClass::Unchecked
        } else {
            ByteClass::Unused
        }
    }
}

/// Whether `offset` is in the header or a capability the model added (`used`, or a recorded
/// capability range: extended capabilities do not set `used`).
fn in_register(space: &ConfigSpace, offset: usize) -> bool {
    offset < PCI_CONFIG_HEADER_SIZE
        || space.used()[offset] != 0
        || space.cap_records().iter().any(|r| r.range().contains(&offset))
}

/// Columns of the map: 16 for the 256-byte space, 64 for the 4096-byte one.
pub fn columns(size: usize) -> usize {
    if size > 256 {
        64
    } else {
        16
    }
}

/// The map as an HTML table: `<td data-off="0xca" data-class="checked" data-mismatch="1"
/// title="…">` per byte; the 16-column map shows each byte's value.
pub fn map_table(space: &ConfigSpace, mismatches: &[Mismatch]) -> String {
    let size = space.size();
    let cols = columns(size);
    let mut s = String::with_capacity(size * 160);
    let _ = write!(
        s,
        "<table class=\"cfgmap cols{cols}\" data-size=\"{size}\" data-cols=\"{cols}\">\n<thead><tr><th></th>"
    );
    for c in 0..cols {
        let label = if cols == 16 || c % 8 == 0 {
            format!("{c:x}")
        } else {
            String::new()
        };
        let _ = write!(s, "<th>{label}</th>");
    }
    s.push_str("</tr></thead>\n<tbody>\n");
    for row in 0..size / cols {
        let _ = write!(s, "<tr><th>{:#05x}</th>", row * cols);
        for off in row * cols..(row + 1) * cols {
            cell(
                &mut s,
                space,
                off,
                mismatches.iter().find(|m| m.offset == off),
                cols == 16,
            );
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</tbody></table>\n");
    s
}

/// One byte's cell.
fn cell(s: &mut String, space: &ConfigSpace, off: usize, mismatch: Option<&Mismatch>, show_value: bool) {
    let class = ByteClass::of(space, off);
    let _ = write!(s, "<td data-off=\"{off:#x}\" data-class=\"{}\"", class.as_str());
    if mismatch.is_some() {
        s.push_str(" data-mismatch=\"1\"");
    }
    let _ = write!(s, " title=\"{}\">", escape(&cell_title(space, off, class, mismatch)));
    if show_value {
        let _ = write!(s, "{:02x}", space.config()[off]);
    }
    s.push_str("</td>");
}

/// `0x0ca Vendor Specific (09) @0xc0 +0x0a payload: checked; device 37; cmask ff wmask 00
/// w1cmask 00`, with the saved byte for a mismatch and the policy for an exempt byte.
fn cell_title(space: &ConfigSpace, off: usize, class: ByteClass, mismatch: Option<&Mismatch>) -> String {
    let location = match mismatch {
        Some(m) => m.location.to_string(),
        None => space.locate(off).to_string(),
    };
    let mut t = format!(
        "{off:#05x} {location}: {}; device {:02x}",
        class.as_str(),
        space.config()[off]
    );
    if let Some(m) = mismatch {
        let _ = write!(t, "; MISMATCH: saved {:02x} (bad bits {:02x})", m.saved, m.bad_bits());
    }
    let _ = write!(
        t,
        "; cmask {:02x} wmask {:02x} w1cmask {:02x}",
        space.cmask()[off],
        space.wmask()[off],
        space.w1cmask()[off]
    );
    if let Some(e) = space.exemptions().iter().find(|e| (e.start..e.end).contains(&off)) {
        let _ = write!(t, "; exempt by {}: {}", e.policy, e.reason);
    }
    t
}
