//! Linux sysfs: `/sys/bus/pci/devices/DDDD:BB:DD.F/{config,resource,driver}`.
//!
//! The kernel sizes the `config` file at 256 or 4096 bytes but lets a process without
//! CAP_SYS_ADMIN read only the first 64; a short read is reported as a truncated view, never
//! as a config whose capabilities are missing. `resource` gives the BAR and ROM sizes (one
//! `start end flags` line per resource), `driver` the bound host driver.
//!
//! The sysfs root is `/sys/bus/pci/devices`, or `$PCIMIG_SYSFS_ROOT` when set (for tests and for
//! reading a copied tree).

use super::lspci::Bdf;
use super::{BarSizes, ConfigSource, SourceError, SourceSpec, Truncation};
use pcimig_config::regs::{PCIE_CONFIG_SPACE_SIZE, PCI_CONFIG_HEADER_SIZE, PCI_CONFIG_SPACE_SIZE};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The environment variable that replaces `/sys/bus/pci/devices`.
pub const SYSFS_ROOT_ENV: &str = "PCIMIG_SYSFS_ROOT";

/// The directory holding one entry per PCI device.
pub fn devices_root() -> PathBuf {
    std::env::var_os(SYSFS_ROOT_ENV).map_or_else(|| PathBuf::from("/sys/bus/pci/devices"), PathBuf::from)
}

/// Whether a bare SRC (no scheme) is a device address rather than a file name.
pub(super) fn is_bare_bdf(s: &str) -> bool {
    Bdf::parse(s).is_some()
}

/// Parse sysfs `resource`: the size of each of the first six lines (BARs) and the seventh (ROM).
pub fn parse_resource(text: &str) -> BarSizes {
    let mut sizes = BarSizes::default();
    for (i, line) in text.lines().enumerate().take(7) {
        let mut it = line
            .split_whitespace()
            .map(|t| u64::from_str_radix(t.trim_start_matches("0x"), 16).ok());
        let (Some(Some(start)), Some(Some(end))) = (it.next(), it.next()) else {
            continue;
        };
        let size = if end > start || (end == start && end != 0) {
            Some(end - start + 1)
        } else {
            None
        };
        if i < 6 {
            sizes.bars[i] = size;
        } else {
            sizes.rom = size;
        }
    }
    sizes
}

/// Read the device a `sysfs:BDF` (or bare BDF) names.
pub(super) fn load(spec: &SourceSpec) -> Result<Vec<ConfigSource>, SourceError> {
    if spec.selector.is_some() {
        return Err(SourceError::new(
            &spec.raw,
            "'#…' has no meaning for a sysfs device: the BDF already names one",
        ));
    }
    let Some(bdf) = Bdf::parse(&spec.path) else {
        return Err(SourceError::new(
            &spec.raw,
            format!(
                "'{}' is not a device address: use DDDD:BB:DD.F (or BB:DD.F for domain 0)",
                spec.path
            ),
        ));
    };
    let name = bdf.full();
    load_device(&devices_root().join(&name), name).map(|src| vec![src])
}

/// Read one device directory of a sysfs tree (`DIR/{config,resource,driver}`); `name` is its
/// full BDF. The origin is `sysfs:NAME`.
pub fn load_device(dir: &Path, name: String) -> Result<ConfigSource, SourceError> {
    let origin = format!("sysfs:{name}");
    if !dir.is_dir() {
        return Err(SourceError::new(
            &origin,
            format!("no such PCI device ({} does not exist)", dir.display()),
        ));
    }
    let config_path = dir.join("config");
    let (bytes, file_len) = read_config(&config_path, &origin)?;
    let mut src = ConfigSource::physical(origin.clone(), Vec::new());
    src.bdf = Some(name);
    let full = match usize::try_from(file_len).unwrap_or(usize::MAX) {
        n @ (PCI_CONFIG_SPACE_SIZE | PCIE_CONFIG_SPACE_SIZE) => n,
        n if n > PCIE_CONFIG_SPACE_SIZE => PCIE_CONFIG_SPACE_SIZE,
        _ => PCI_CONFIG_SPACE_SIZE,
    };
    match bytes.len() {
        0 => return Err(SourceError::new(&origin, format!("{} is empty", config_path.display()))),
        n if n == full => {}
        n if n < full => {
            src.truncated = Some(Truncation { have: n, full });
            src.warnings.push(if n == PCI_CONFIG_HEADER_SIZE {
                format!(
                    "{origin}: the kernel returned only 64 of {full} config bytes, as it does for a read without CAP_SYS_ADMIN: \
                     the header only, a truncated view; capabilities are not visible (run as root)"
                )
            } else {
                format!("{origin}: read {n} of {full} config bytes, a truncated view")
            });
        }
        _ => {}
    }
    let mut bytes = bytes;
    bytes.truncate(full);
    src.bytes = bytes;
    match std::fs::read_to_string(dir.join("resource")) {
        Ok(text) => src.bar_sizes = Some(parse_resource(&text)),
        Err(e) => src
            .warnings
            .push(format!("{origin}: cannot read resource ({e}); BAR sizes unknown")),
    }
    src.driver = std::fs::read_link(dir.join("driver"))
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()));
    Ok(src)
}

/// Read at most 4096 bytes of `config`; returns the bytes and the size the file claims.
fn read_config(path: &Path, origin: &str) -> Result<(Vec<u8>, u64), SourceError> {
    let f = std::fs::File::open(path)
        .map_err(|e| SourceError::new(origin, format!("cannot open {}: {e}", path.display())))?;
    let file_len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let mut bytes = Vec::with_capacity(PCIE_CONFIG_SPACE_SIZE);
    f.take(PCIE_CONFIG_SPACE_SIZE as u64)
        .read_to_end(&mut bytes)
        .map_err(|e| SourceError::new(origin, format!("cannot read {}: {e}", path.display())))?;
    Ok((bytes, file_len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_sizes_from_start_end_pairs() {
        let text = "0x00000000fb000000 0x00000000fbffffff 0x0000000000040200\n\
                    0x0000000000000000 0x0000000000000000 0x0000000000000000\n\
                    0x000000e000000000 0x000000e3ffffffff 0x000000000014220c\n\
                    0x0000000000000000 0x0000000000000000 0x0000000000000000\n\
                    0x0000000000000000 0x0000000000000000 0x0000000000000000\n\
                    0x0000000000000000 0x0000000000000000 0x0000000000000000\n\
                    0x00000000fc000000 0x00000000fc07ffff 0x0000000000046200\n";
        let s = parse_resource(text);
        assert_eq!(s.bars[0], Some(16 << 20));
        assert_eq!(s.bars[1], None);
        assert_eq!(s.bars[2], Some(16 << 30));
        assert_eq!(s.rom, Some(512 << 10));
    }
}
