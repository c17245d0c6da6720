//! QEMU migration streams as a config source (streams issue): `stream:FILE[#DEVICE]`, or a
//! file detected by its QEVM magic. The bytes are the saved config, taken as saved.

use super::{ConfigSource, SourceError, SourceKind, SourceSpec};
use pcimig_qemu::{Stream, StreamError};

fn to_source_error(raw: &str, e: StreamError) -> SourceError {
    // "section 12 'idstr': message", the offset kept structured (SourceError prints it).
    let message = match &e.section {
        Some(sec) => format!("section {} '{}': {}", sec.section_id, sec.idstr, e.message),
        None => e.message.clone(),
    };
    let origin = if e.path.is_empty() {
        raw.to_string()
    } else {
        e.path.clone()
    };
    SourceError {
        origin,
        offset: e.offset,
        message,
    }
}

/// Read the PCI device(s) a `stream:FILE[#DEVICE]` (or a file with the QEVM magic) names:
/// one device with `#DEVICE`, every PCI device of the stream (in stream order) without it.
pub(super) fn load(spec: &SourceSpec) -> Result<Vec<ConfigSource>, SourceError> {
    let stream = Stream::open(&spec.path).map_err(|e| to_source_error(&spec.raw, e))?;
    let devices: Vec<&pcimig_qemu::PciDeviceEntry> = match spec.selector.as_deref() {
        Some(sel) => vec![stream.find_device(sel).map_err(|e| to_source_error(&spec.raw, e))?],
        None => stream.pci_devices().iter().collect(),
    };
    let mut out = Vec::with_capacity(devices.len());
    for d in devices {
        let bytes = stream.read_config(d).map_err(|e| to_source_error(&spec.raw, e))?;
        let mut src = ConfigSource::physical(format!("{}#{}", spec.path, d.id), bytes);
        src.kind = SourceKind::Saved;
        src.bdf = Some(d.id.clone());
        src.warnings = stream
            .warnings()
            .iter()
            .map(|w| format!("{}: {w}", spec.path))
            .collect();
        out.push(src);
    }
    Ok(out)
}
