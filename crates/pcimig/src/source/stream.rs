//! QEMU migration streams as a config source (streams issue).

use super::{ConfigSource, SourceError, SourceSpec};

/// Read the PCI device(s) a `stream:FILE[#DEVICE]` (or a file with the QEVM magic) names.
#[allow(dead_code)]
pub(super) fn load(spec: &SourceSpec) -> Result<Vec<ConfigSource>, SourceError> {
    Err(SourceError::new(&spec.raw, "migration streams are not supported yet"))
}
