//! `show --masks`: which bytes QEMU would check, exempt, treat as writable or W1C, as vfio-pci
//! presents the device with its default options (from `pcimig_vfio::virtualize`).

use serde::Serialize;

/// A run of bytes with the same masks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MaskRun {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
    /// `checked`, `partly_checked`, `unchecked`, `writable`, `w1c`, `mixed`.
    pub class: &'static str,
    /// cmask of each byte of the run (same for all).
    pub cmask: u8,
    /// wmask.
    pub wmask: u8,
    /// w1cmask.
    pub w1cmask: u8,
    /// Bits the restore check compares: `cmask & !wmask & !w1cmask`.
    pub checked: u8,
    /// Register the run starts in.
    pub register: String,
    /// The policy that exempted these bytes, if one did.
    pub exempted_by: Option<String>,
}

/// The masks of one device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MaskReport {
    /// How the masks were made.
    pub model: String,
    /// Runs covering the whole space, in address order.
    pub runs: Vec<MaskRun>,
}

/// Render masks as text.
pub fn render(out: &mut String, m: &MaskReport) {
    use std::fmt::Write;
    let _ = writeln!(out, "\tMasks ({}):", m.model);
    for r in &m.runs {
        let _ = writeln!(
            out,
            "\t\t{:03x}-{:03x} {:<14} cmask {:02x} wmask {:02x} w1cmask {:02x}  {}{}",
            r.start,
            r.end - 1,
            r.class,
            r.cmask,
            r.wmask,
            r.w1cmask,
            r.register,
            r.exempted_by
                .as_deref()
                .map(|p| format!(" (exempt: {p})"))
                .unwrap_or_default()
        );
    }
}

/// The masks vfio-pci would present for `src` by default.
pub fn compute(src: &crate::source::ConfigSource) -> Result<MaskReport, crate::source::SourceError> {
    Err(crate::source::SourceError::new(
        &src.origin,
        "--masks needs the vfio-pci model (pcimig-vfio), which is not available in this build yet",
    ))
}
