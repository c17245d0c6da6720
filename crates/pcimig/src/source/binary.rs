//! Binary dumps: a copy of sysfs `config` (256 or 4096 bytes), or the 64 bytes an unprivileged
//! read of it returns.

use super::{ConfigSource, SourceError, SourceSpec, Truncation};
use pcimig_config::regs::{PCIE_CONFIG_SPACE_SIZE, PCI_CONFIG_HEADER_SIZE, PCI_CONFIG_SPACE_SIZE};

/// Read a binary dump's bytes. 256 and 4096 bytes are whole configs; 64 bytes is the header
/// an unprivileged sysfs read returns (kept, marked truncated); anything else is refused.
pub(super) fn load(spec: &SourceSpec, data: Vec<u8>) -> Result<Vec<ConfigSource>, SourceError> {
    if spec.selector.is_some() {
        return Err(SourceError::new(
            &spec.raw,
            format!(
                "{} is a single-device binary dump: '#…' selects a device only in lspci text or a stream",
                spec.path
            ),
        ));
    }
    let mut src = ConfigSource::physical(&spec.path, Vec::new());
    match data.len() {
        PCI_CONFIG_SPACE_SIZE | PCIE_CONFIG_SPACE_SIZE => {}
        PCI_CONFIG_HEADER_SIZE => {
            src.truncated = Some(Truncation {
                have: PCI_CONFIG_HEADER_SIZE,
                full: PCI_CONFIG_SPACE_SIZE,
            });
            src.warnings.push(format!(
                "{}: only 64 bytes, the header an unprivileged read of sysfs config returns; capabilities are not visible (read it as root)",
                spec.path
            ));
        }
        n => {
            return Err(SourceError::new(
                &spec.path,
                format!(
                    "{n} bytes is not a config space dump (expected 256 or 4096 bytes, or 64 for a truncated header)"
                ),
            ))
        }
    }
    src.bytes = data;
    Ok(vec![src])
}
