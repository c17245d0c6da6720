//! ROM block lengths: the saved stream's PCI option ROM RAM blocks against what the destination
//! allocates (`pcimig_qemu::devices::rom_blocks`). QEMU loads the RAM section first, so a
//! failing block is QEMU's first error, before any device section.

use super::{CheckOutput, StreamCheckOutput, Verdict, Warning, WarningKind};
use pcimig_qemu::devices::rom_blocks::{check_rom_blocks, DestRomSize, RomBlockCheck};
use pcimig_qemu::devices::{QueryPci, RomFiles};
use pcimig_qemu::Stream;
use serde::Serialize;
use std::fmt;

/// The JSON tag of a ROM length entry.
pub const ROM_LENGTH: &str = "rom_length";

/// One PCI option ROM block of the saved stream, compared with the destination's.
#[derive(Debug, Clone, Serialize)]
pub struct RomLength {
    /// Always `rom_length`: what was checked.
    pub check: &'static str,
    /// Pass, fail, or undecided (the destination's length is unknown).
    pub verdict: Verdict,
    /// The saved stream's device at the block's PCI path (`FILE#DEVICE` name), if it has one.
    pub device: Option<String>,
    /// The block and both lengths.
    #[serde(flatten)]
    pub block: RomBlockCheck,
    /// The length the destination stream's own block has, when it lists the block.
    pub dest_stream_length: Option<u64>,
}

impl RomLength {
    /// Whether QEMU refuses the stream at this block.
    pub fn fails(&self) -> bool {
        self.verdict == Verdict::Fail
    }

    /// The device, or the block's PCI path when the stream has no device section there.
    pub fn device_name(&self) -> &str {
        self.device.as_deref().unwrap_or(&self.block.pci_path)
    }

    /// A warning when the destination stream's block disagrees with the predicted length: the
    /// destination stream was saved with other ROM files than the ones pcimig read.
    pub fn dest_stream_warning(&self) -> Option<String> {
        let (Some(s), Some(d)) = (self.dest_stream_length, self.block.dest_length) else {
            return None;
        };
        (s != d).then(|| {
            format!(
                "ROM block {}: the destination stream's block is {s:#x} bytes but {} gives {d:#x}: the destination \
                 stream was saved with other ROM files (give --dest-datadir or --dest-query-pci of the destination)",
                self.block.idstr,
                source_text(&self.block)
            )
        })
    }
}

/// Where the destination's length came from, for messages.
fn source_text(b: &RomBlockCheck) -> String {
    let file = b.romfile.as_deref().unwrap_or("?");
    match &b.dest_size {
        DestRomSize::QueryPci { bar_size } => format!("--dest-query-pci (ROM BAR {bar_size:#x})"),
        DestRomSize::NoRomBar => "--dest-query-pci (no ROM BAR)".into(),
        DestRomSize::RomFile { file_size } => format!("ROM file {file} ({file_size} bytes)"),
        DestRomSize::Unknown { why } => why.clone(),
    }
}

impl fmt::Display for RomLength {
    /// `0000:00:01.0/e1000 (ROM file efi-e1000.rom, block 0000:00:01.0/e1000.rom): saved 0x40000
    /// bytes, destination 0x80000 (efi-e1000.rom is 300000 bytes, rounded up to a power of two)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = &self.block;
        write!(
            f,
            "{} (ROM file {}, block {}): saved {:#x} bytes, ",
            self.device_name(),
            b.romfile.as_deref().unwrap_or("unknown"),
            b.idstr,
            b.saved_length
        )?;
        match (&b.dest_size, b.dest_length) {
            (DestRomSize::RomFile { file_size }, Some(d)) => write!(
                f,
                "destination {d:#x} ({} is {file_size} bytes in the destination's data directories, rounded up to \
                 a power of two)",
                b.romfile.as_deref().unwrap_or("?")
            ),
            (DestRomSize::QueryPci { bar_size }, Some(d)) => {
                write!(f, "destination {d:#x} (ROM BAR {bar_size:#x} in --dest-query-pci)")
            }
            (DestRomSize::NoRomBar, _) => {
                f.write_str("destination none (--dest-query-pci lists the device without a ROM BAR)")
            }
            (DestRomSize::Unknown { why }, _) => write!(f, "destination unknown ({why})"),
            (_, None) => f.write_str("destination unknown"),
        }
    }
}

/// The PCI option ROM blocks of `saved` (every one, or those of the device at `only_path`)
/// against the destination: its `query-pci` when given, else its ROM files.
pub fn rom_lengths(
    saved: &Stream,
    dest: &Stream,
    only_path: Option<&str>,
    query_pci: Option<&QueryPci>,
    rom_files: &RomFiles,
) -> Vec<RomLength> {
    check_rom_blocks(saved.ram_blocks(), saved.page_size(), query_pci, rom_files)
        .into_iter()
        .filter(|b| only_path.is_none_or(|p| p == b.pci_path))
        .map(|block| {
            let verdict = match (block.fails(), &block.dest_size) {
                (true, _) => Verdict::Fail,
                (false, DestRomSize::Unknown { .. }) => Verdict::Undecided,
                (false, _) => Verdict::Pass,
            };
            let device = saved
                .pci_devices()
                .iter()
                .find(|d| d.pci_path.as_deref() == Some(block.pci_path.as_str()))
                .map(|d| d.id.clone());
            let dest_stream_length = dest
                .ram_blocks()
                .iter()
                .find(|b| b.idstr == block.idstr)
                .map(|b| b.length);
            RomLength {
                check: ROM_LENGTH,
                verdict,
                device,
                block,
                dest_stream_length,
            }
        })
        .collect()
}

/// The first failing block in list order: the one QEMU refuses the stream at.
pub fn first_failing(roms: &[RomLength]) -> Option<&RomLength> {
    roms.iter().find(|r| r.fails())
}

/// A device check with its ROM block: a failing block fails the restore, and QEMU's line is
/// the block's (the RAM section is loaded before the device's config is ever compared).
pub fn apply_to_device(out: &mut CheckOutput, roms: Vec<RomLength>) {
    if let Some(r) = first_failing(&roms) {
        out.verdict = Verdict::Fail;
        out.qemu_verdict = Verdict::Fail;
        out.qemu_line = r.block.qemu_line.clone();
    }
    for w in roms.iter().filter_map(RomLength::dest_stream_warning) {
        out.warnings.push(Warning::new(WarningKind::DeviceModel, w));
    }
    out.rom_lengths = roms;
}

/// A whole-stream check with every ROM block: the first failing block in the RAM block list
/// decides, before any device section (QEMU then reports the `ram` section).
pub fn apply_to_streams(out: &mut StreamCheckOutput, roms: Vec<RomLength>) {
    if let Some(r) = first_failing(&roms) {
        out.verdict = Verdict::Fail;
        out.first_failing = Some(r.device_name().to_string());
        out.qemu_line = r.block.qemu_line.clone();
    }
    out.warnings
        .extend(roms.iter().filter_map(RomLength::dest_stream_warning));
    out.rom_lengths = roms;
}
