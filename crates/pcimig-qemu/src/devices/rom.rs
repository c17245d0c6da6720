//! Option ROM files: their sizes are a host fact (they differ between QEMU builds), so they are
//! an input of the model ([`RomFiles`], read once by the caller with
//! [`RomFiles::from_data_dirs`]), and `pci_add_option_rom` sizes the ROM BAR from query-pci or
//! from them.

use super::ctx::Ctx;
use super::{DeviceError, SizeSource};
use pcimig_config::regs::PCI_ROM_SLOT;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The ROM BAR assumed when neither query-pci nor the ROM file gives a size.
const ASSUMED_ROM_SIZE: u64 = 256 * 1024;

/// Sizes of the option ROM files QEMU would load (`romfile` name -> file size in bytes), as found
/// in QEMU's data directories. Empty ([`RomFiles::default`]) means no file is found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RomFiles {
    sizes: BTreeMap<String, u64>,
}

impl RomFiles {
    /// The files in `dirs` (the first directory that has a name wins, as QEMU's
    /// qemu_find_file searches its data directories in order). Directories that cannot be read
    /// are skipped.
    pub fn from_data_dirs(dirs: &[PathBuf]) -> Self {
        let mut roms = RomFiles::default();
        for d in dirs {
            let Ok(entries) = std::fs::read_dir(d) else { continue };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if roms.sizes.contains_key(&name) {
                    continue;
                }
                if let Ok(m) = std::fs::metadata(Path::new(d).join(&name)) {
                    roms.sizes.insert(name, m.len());
                }
            }
        }
        roms
    }

    /// Record `romfile` with a size of `size` bytes.
    pub fn insert(&mut self, romfile: impl Into<String>, size: u64) {
        self.sizes.insert(romfile.into(), size);
    }

    /// The size of `romfile`, or `None` when it was not found.
    pub fn file_size(&self, romfile: &str) -> Option<u64> {
        self.sizes.get(romfile).copied()
    }

    /// Size of the ROM BAR QEMU registers for `romfile`: the file's size rounded up to a power
    /// of two (pci_add_option_rom), or `None` when the file was not found.
    pub fn bar_size(&self, romfile: &str) -> Option<u64> {
        self.file_size(romfile).map(|s| s.max(1).next_power_of_two())
    }
}

/// QEMU's data directories (`qemu-system-x86_64 -L help`), overridable with
/// `PCIMIG_QEMU_DATADIRS` (colon-separated; empty for none).
pub fn qemu_data_dirs() -> Vec<PathBuf> {
    if let Ok(v) = std::env::var("PCIMIG_QEMU_DATADIRS") {
        return v.split(':').filter(|s| !s.is_empty()).map(PathBuf::from).collect();
    }
    [
        "/usr/share/qemu",
        "/usr/share/seabios",
        "/usr/lib/ipxe/qemu",
        "/usr/local/share/qemu",
    ]
    .iter()
    .map(PathBuf::from)
    .collect()
}

/// pci_add_option_rom: the option ROM registered after realize (`romfile`), sized by query-pci
/// when it lists the device, else by the ROM file.
pub(super) fn pci_add_option_rom(c: &mut Ctx<'_>, romfile: &str) -> Result<(), DeviceError> {
    let listed = c.query_device().is_some();
    let found = match (c.d.query_pci.is_some(), listed) {
        (true, true) => c.query_region_size(PCI_ROM_SLOT).map(|s| (s, SizeSource::QueryPci)),
        (true, false) => {
            let w = format!(
                "query-pci has no device at {}; option ROM size taken from the ROM file",
                c.d.idstr
            );
            c.warn(w);
            rom_file_bar(c, romfile)
        }
        (false, _) => rom_file_bar(c, romfile),
    };
    let (size, source) = match found {
        Some(x) => x,
        None if c.d.query_pci.is_some() && listed => {
            c.note("no option ROM (query-pci lists none: romfile=\"\" or rombar=0)");
            return Ok(());
        }
        None => {
            c.warn(format!(
                "ROM file {romfile} not found in QEMU's data directories; assuming a 256 KiB ROM BAR \
                 (give --dest-query-pci for the real size)"
            ));
            (ASSUMED_ROM_SIZE, SizeSource::Model)
        }
    };
    c.register_bar(PCI_ROM_SLOT, 0, size, source)
}

fn rom_file_bar(c: &Ctx<'_>, romfile: &str) -> Option<(u64, SizeSource)> {
    c.d.rom_files.bar_size(romfile).map(|s| (s, SizeSource::RomFile))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bar_size_is_a_power_of_two_and_missing_files_say_so() {
        let mut r = RomFiles::default();
        r.insert("efi-e1000.rom", 197_120);
        assert_eq!(r.bar_size("efi-e1000.rom"), Some(262_144));
        assert_eq!(r.file_size("efi-e1000.rom"), Some(197_120));
        assert_eq!(r.bar_size("vgabios-stdvga.bin"), None);
    }

    #[test]
    fn from_data_dirs_takes_the_first_directory_with_the_file() {
        let base = std::env::temp_dir().join(format!("pcimig-romfiles-{}", std::process::id()));
        let (a, b) = (base.join("a"), base.join("b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        std::fs::write(a.join("x.rom"), [0u8; 3]).unwrap();
        std::fs::write(b.join("x.rom"), [0u8; 5]).unwrap();
        std::fs::write(b.join("y.rom"), [0u8; 7]).unwrap();
        let r = RomFiles::from_data_dirs(&[base.join("missing"), a, b]);
        std::fs::remove_dir_all(&base).unwrap();
        assert_eq!(r.file_size("x.rom"), Some(3));
        assert_eq!(r.file_size("y.rom"), Some(7));
        assert_eq!(r.file_size("z.rom"), None);
    }
}
