//! Option ROM RAM blocks: a PCI device's option ROM is a RAM block whose length is a host fact
//! (the ROM file on each host), recorded in the saved stream's RAM block list and compared by
//! the destination before any device section is loaded.
//!
//! QEMU 10.0.2: pci_add_option_rom names the ROM region `"%s.rom"` (in a 32-byte buffer) after
//! the device's vmsd name, or its type name when it has no vmsd, and sizes it to the ROM file's
//! size rounded up to a power of two (pow2ceil; the `romsize` property when set). The file is
//! read for its size on an incoming migration too (only its contents are not loaded).
//! memory_region_init_rom registers the block with vmstate_register_ram, so its idstr is
//! `<device path>/<region name>` (qemu_ram_set_idstr; the path from pcibus_get_dev_path, e.g.
//! `0000:00:03.0`). The block is not resizeable: parse_ramblock calls qemu_ram_resize on any
//! length difference, which refuses with `Size mismatch: IDSTR: 0xSAVED != 0xLOCAL: Invalid
//! argument`; a block the destination lacks (`romfile=""`, `rombar=0`) is `Unknown ramblock
//! "IDSTR", cannot accept migration`. With `rombar=0` the ROM is loaded through fw_cfg instead
//! and, on the pc machines, is no RAM block at all.

use super::{QueryPci, RomFiles};
use crate::{pci_path_of, RamBlock};
use pcimig_config::regs::PCI_ROM_SLOT;
use serde::Serialize;

/// pci_add_option_rom's region name buffer (`char name[32]`): at most 31 characters.
const ROM_REGION_NAME_MAX: usize = 31;

/// The largest ROM file pci_add_option_rom accepts (2 GiB).
const MAX_ROM_FILE: u64 = 2 << 30;

/// QEMU 10.0.2's default option ROM files (the device class's `romfile`), by the name
/// pci_add_option_rom builds the region name from: the vmsd name, or the type name for a
/// device without a vmsd (eepro100's types, the virtio-pci proxies, virtio-vga).
const DEFAULT_ROMFILES: &[(&str, &str)] = &[
    ("e1000", "efi-e1000.rom"),
    ("e1000e", "efi-e1000e.rom"),
    ("rtl8139", "efi-rtl8139.rom"),
    ("vmxnet3", "efi-vmxnet3.rom"),
    ("pcnet", "efi-pcnet.rom"),
    ("ne2000", "efi-ne2k_pci.rom"),
    ("i82550", "pxe-eepro100.rom"),
    ("i82551", "pxe-eepro100.rom"),
    ("i82557a", "pxe-eepro100.rom"),
    ("i82557b", "pxe-eepro100.rom"),
    ("i82557c", "pxe-eepro100.rom"),
    ("i82558a", "pxe-eepro100.rom"),
    ("i82558b", "pxe-eepro100.rom"),
    ("i82559a", "pxe-eepro100.rom"),
    ("i82559b", "pxe-eepro100.rom"),
    ("i82559c", "pxe-eepro100.rom"),
    ("i82559er", "pxe-eepro100.rom"),
    ("i82562", "pxe-eepro100.rom"),
    ("i82801", "pxe-eepro100.rom"),
    ("virtio-net-pci", "efi-virtio.rom"),
    ("virtio-net-pci-transitional", "efi-virtio.rom"),
    ("virtio-net-pci-non-transitional", "efi-virtio.rom"),
    ("vga", "vgabios-stdvga.bin"),
    ("virtio-vga", "vgabios-virtio.bin"),
    ("qxl", "vgabios-qxl.bin"),
    ("bochs-display", "vgabios-bochs-display.bin"),
    ("vmware_vga", "vgabios-vmware.bin"),
    ("ati-vga", "vgabios-ati.bin"),
];

/// The ROM region name pci_add_option_rom gives a device whose vmsd (or type) name is `name`:
/// `name.rom`, cut to 31 characters (`virtio-net-pci-non-transitional` keeps no `.rom`).
pub fn rom_region_name(name: &str) -> String {
    let mut s = format!("{name}.rom");
    if s.len() > ROM_REGION_NAME_MAX {
        let mut cut = ROM_REGION_NAME_MAX;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    s
}

/// The default ROM file of the device whose ROM region is named `region`, when pcimig knows it.
pub fn default_romfile(region: &str) -> Option<&'static str> {
    DEFAULT_ROMFILES
        .iter()
        .find(|(name, _)| rom_region_name(name) == region)
        .map(|&(_, file)| file)
}

/// The PCI path and region name of a RAM block that is a PCI device's option ROM
/// (`0000:00:03.0/e1000.rom`): a block registered with a PCI device whose region name ends in
/// `.rom`, or is one of the cut names of [`DEFAULT_ROMFILES`].
pub fn pci_rom_block(idstr: &str) -> Option<(&str, &str)> {
    let path = pci_path_of(idstr)?;
    let region = &idstr[path.len() + 1..];
    (region.ends_with(".rom") || default_romfile(region).is_some()).then_some((path, region))
}

/// Where the destination's length of a ROM block came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum DestRomSize {
    /// The destination's `query-pci` ROM BAR (the region's size).
    QueryPci {
        /// The ROM BAR size.
        bar_size: u64,
    },
    /// The destination's `query-pci` lists the device without a ROM BAR (`romfile=""` or
    /// `rombar=0`): it has no such block.
    NoRomBar,
    /// The ROM file in the destination's data directories.
    RomFile {
        /// The file's size in bytes.
        file_size: u64,
    },
    /// Neither query-pci nor a ROM file gives the destination's length.
    Unknown {
        /// Why.
        why: String,
    },
}

/// One option ROM block of the saved stream, compared with what the destination allocates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RomBlockCheck {
    /// The block's idstr, e.g. `0000:00:03.0/e1000.rom`.
    pub idstr: String,
    /// The PCI path of its device.
    pub pci_path: String,
    /// The ROM file the destination loads (the device's default), when pcimig knows it.
    pub romfile: Option<String>,
    /// The block's length in the saved stream.
    pub saved_length: u64,
    /// The length of the destination's block (page-aligned), when known; `None` also when
    /// the destination has no such block.
    pub dest_length: Option<u64>,
    /// Where the destination's length came from.
    pub dest_size: DestRomSize,
    /// Stream offset of the block's entry in the RAM block list.
    pub offset: u64,
    /// What QEMU 10.0.2 prints when it refuses the block (without the program prefix); `None`
    /// when the lengths agree or the destination's is unknown.
    pub qemu_line: Option<String>,
}

impl RomBlockCheck {
    /// Whether QEMU refuses the stream at this block.
    pub fn fails(&self) -> bool {
        self.qemu_line.is_some()
    }
}

/// qemu_ram_resize's refusal of a length change of a block that is not resizeable
/// (`Size mismatch`, the wording since QEMU 6.0; `Length mismatch: … in != …` before), with
/// error_setg_errno's `: Invalid argument`.
pub fn size_mismatch_line(idstr: &str, saved: u64, dest: u64) -> String {
    format!("Size mismatch: {idstr}: {saved:#x} != {dest:#x}: Invalid argument")
}

/// parse_ramblocks' refusal of a block the destination does not have.
pub fn unknown_ramblock_line(idstr: &str) -> String {
    format!("Unknown ramblock \"{idstr}\", cannot accept migration")
}

/// Round `n` up to a multiple of `page` (TARGET_PAGE_ALIGN, REAL_HOST_PAGE_ALIGN: 4 KiB on x86).
fn page_align(n: u64, page: u64) -> u64 {
    n.div_ceil(page).saturating_mul(page)
}

/// The destination's ROM BAR size of the device at `path`, from its `query-pci`: `Some(None)`
/// when it lists the device without a ROM BAR, `None` when it does not list the device.
fn query_pci_rom(qp: &QueryPci, path: &str) -> Option<Option<u64>> {
    let dev = qp.find(path)?;
    Some(dev.regions.iter().find(|r| r.bar == PCI_ROM_SLOT).map(|r| r.size))
}

/// How long the destination's block is: query-pci first (the running destination), then the
/// ROM file (pci_add_option_rom: the file's size rounded up to a power of two).
fn dest_rom_size(path: &str, romfile: Option<&str>, query_pci: Option<&QueryPci>, rom_files: &RomFiles) -> DestRomSize {
    if let Some(found) = query_pci.and_then(|qp| query_pci_rom(qp, path)) {
        return match found {
            Some(bar_size) => DestRomSize::QueryPci { bar_size },
            None => DestRomSize::NoRomBar,
        };
    }
    let Some(file) = romfile else {
        return DestRomSize::Unknown {
            why: "pcimig does not know this device's ROM file (give --dest-query-pci)".into(),
        };
    };
    match rom_files.file_size(file) {
        Some(0) => DestRomSize::Unknown {
            why: format!("ROM file {file} is empty: the destination QEMU refuses to start (pci_add_option_rom)"),
        },
        Some(n) if n > MAX_ROM_FILE => DestRomSize::Unknown {
            why: format!("ROM file {file} is over 2 GiB: the destination QEMU refuses to start (pci_add_option_rom)"),
        },
        Some(file_size) => DestRomSize::RomFile { file_size },
        None => DestRomSize::Unknown {
            why: format!("ROM file {file} not found in the destination's data directories"),
        },
    }
}

/// Compare every PCI option ROM block of a saved stream's RAM block list with the block the
/// destination allocates (parse_ramblocks → parse_ramblock → qemu_ram_resize), in list order;
/// QEMU refuses the stream at the first failing one. `page_size` is the stream's target page size.
pub fn check_rom_blocks(
    blocks: &[RamBlock],
    page_size: u64,
    query_pci: Option<&QueryPci>,
    rom_files: &RomFiles,
) -> Vec<RomBlockCheck> {
    let page = page_size.max(1);
    blocks
        .iter()
        .filter_map(|b| {
            let (path, region) = pci_rom_block(&b.idstr)?;
            let romfile = default_romfile(region);
            let dest_size = dest_rom_size(path, romfile, query_pci, rom_files);
            let dest_length = match &dest_size {
                DestRomSize::QueryPci { bar_size } => Some(page_align(*bar_size, page)),
                DestRomSize::RomFile { file_size } => Some(page_align(file_size.next_power_of_two(), page)),
                DestRomSize::NoRomBar | DestRomSize::Unknown { .. } => None,
            };
            let saved = page_align(b.length, page);
            let qemu_line = match (&dest_size, dest_length) {
                (DestRomSize::NoRomBar, _) => Some(unknown_ramblock_line(&b.idstr)),
                (_, Some(d)) if d != saved => Some(size_mismatch_line(&b.idstr, saved, d)),
                _ => None,
            };
            Some(RomBlockCheck {
                idstr: b.idstr.clone(),
                pci_path: path.to_string(),
                romfile: romfile.map(str::to_string),
                saved_length: b.length,
                dest_length,
                dest_size,
                offset: b.offset,
                qemu_line,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(idstr: &str, length: u64) -> RamBlock {
        RamBlock {
            idstr: idstr.into(),
            length,
            offset: 0x100,
        }
    }

    #[test]
    fn region_names_are_cut_to_31_characters_as_pci_add_option_rom_does() {
        assert_eq!(rom_region_name("e1000"), "e1000.rom");
        assert_eq!(
            rom_region_name("virtio-net-pci-transitional"),
            "virtio-net-pci-transitional.rom"
        );
        assert_eq!(
            rom_region_name("virtio-net-pci-non-transitional"),
            "virtio-net-pci-non-transitional"
        );
        assert_eq!(
            default_romfile("virtio-net-pci-non-transitional"),
            Some("efi-virtio.rom")
        );
        assert_eq!(default_romfile("vga.rom"), Some("vgabios-stdvga.bin"));
    }

    #[test]
    fn only_pci_rom_blocks_are_recognised() {
        assert_eq!(
            pci_rom_block("0000:00:03.0/e1000.rom"),
            Some(("0000:00:03.0", "e1000.rom"))
        );
        assert_eq!(
            pci_rom_block("0000:00:0d.0:00.0/e1000.rom"),
            Some(("0000:00:0d.0:00.0", "e1000.rom"))
        );
        assert_eq!(pci_rom_block("0000:00:03.0/vga.vram"), None);
        assert_eq!(pci_rom_block("pc.rom"), None);
        assert_eq!(pci_rom_block("/rom@etc/acpi/tables"), None);
        assert_eq!(pci_rom_block("/rom@genroms/efi-e1000.rom"), None);
    }

    #[test]
    fn a_rom_file_across_a_power_of_two_is_a_size_mismatch() {
        let mut roms = RomFiles::default();
        roms.insert("efi-e1000.rom", 300_000);
        roms.insert("vgabios-stdvga.bin", 39_936);
        let blocks = [
            block("pc.ram", 0x200_0000),
            block("0000:00:01.0/e1000.rom", 0x40000),
            block("0000:00:03.0/vga.rom", 0x10000),
        ];
        let got = check_rom_blocks(&blocks, 4096, None, &roms);
        assert_eq!(got.len(), 2);
        assert_eq!(
            got[0].qemu_line.as_deref(),
            Some("Size mismatch: 0000:00:01.0/e1000.rom: 0x40000 != 0x80000: Invalid argument")
        );
        assert_eq!(got[0].dest_length, Some(0x80000));
        assert_eq!(got[0].romfile.as_deref(), Some("efi-e1000.rom"));
        assert_eq!(got[0].dest_size, DestRomSize::RomFile { file_size: 300_000 });
        assert!(!got[1].fails());
    }

    #[test]
    fn padding_within_the_power_of_two_passes_and_small_roms_are_page_aligned() {
        let mut roms = RomFiles::default();
        roms.insert("efi-e1000.rom", 260_000);
        roms.insert("vgabios-stdvga.bin", 1500);
        let blocks = [
            block("0000:00:01.0/e1000.rom", 0x40000),
            block("0000:00:03.0/vga.rom", 0x1000),
        ];
        let got = check_rom_blocks(&blocks, 4096, None, &roms);
        assert!(got.iter().all(|c| !c.fails()), "{got:?}");
        assert_eq!(got[1].dest_length, Some(0x1000));
    }

    #[test]
    fn query_pci_wins_and_a_missing_rom_bar_is_an_unknown_ramblock() {
        let qp = QueryPci::parse(
            r#"{"return": [{"bus": 0, "devices": [
                {"bus": 0, "slot": 1, "function": 0, "class_info": {"class": 512},
                 "id": {"vendor": 32902, "device": 4110}, "regions": [], "qdev_id": ""},
                {"bus": 0, "slot": 2, "function": 0, "class_info": {"class": 512},
                 "id": {"vendor": 6900, "device": 4096}, "qdev_id": "",
                 "regions": [{"bar": 6, "type": "memory", "address": 0, "size": 524288,
                              "prefetch": false, "mem_type_64": false}]}]}]}"#,
        )
        .unwrap();
        let mut roms = RomFiles::default();
        roms.insert("efi-virtio.rom", 249_344);
        let blocks = [
            block("0000:00:01.0/e1000.rom", 0x40000),
            block("0000:00:02.0/virtio-net-pci.rom", 0x40000),
        ];
        let got = check_rom_blocks(&blocks, 4096, Some(&qp), &roms);
        assert_eq!(
            got[0].qemu_line.as_deref(),
            Some("Unknown ramblock \"0000:00:01.0/e1000.rom\", cannot accept migration")
        );
        assert_eq!(got[1].dest_size, DestRomSize::QueryPci { bar_size: 0x80000 });
        assert_eq!(
            got[1].qemu_line.as_deref(),
            Some("Size mismatch: 0000:00:02.0/virtio-net-pci.rom: 0x40000 != 0x80000: Invalid argument")
        );
    }

    #[test]
    fn unknown_files_and_devices_decide_nothing() {
        let blocks = [
            block("0000:00:01.0/e1000.rom", 0x40000),
            block("0000:00:05.0/foo.rom", 0x8000),
        ];
        let got = check_rom_blocks(&blocks, 4096, None, &RomFiles::default());
        assert!(got.iter().all(|c| !c.fails() && c.dest_length.is_none()));
        assert!(matches!(got[0].dest_size, DestRomSize::Unknown { .. }));
        assert_eq!(got[1].romfile, None);
    }
}
