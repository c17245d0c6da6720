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

#[cfg(test)]
mod tests {
    use super::super::{load_all, load_one, SourceKind};
    use pcimig_qemu::build::StreamBuilder;

    fn stream_file(name: &str) -> (std::path::PathBuf, Vec<u8>) {
        let mut c = vec![0u8; 256];
        c[..4].copy_from_slice(&[0x86, 0x80, 0x0e, 0x10]);
        let mut b = StreamBuilder::new("pc-q35-10.0");
        b.ram_section(&[0x1000]);
        b.pci_vmsd("0000:00:02.0/e1000", "e1000", 2, &c, 0);
        let mut v = c.clone();
        v[..4].copy_from_slice(&[0xf4, 0x1a, 0x00, 0x10]);
        b.virtio_pci("0000:00:03.0/virtio-net", "virtio-net", &v, 0, 10);
        let dir = std::env::temp_dir().join(format!("pcimig-src-stream-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("vm.mig");
        std::fs::write(&p, b.finish()).unwrap();
        (p, c)
    }

    #[test]
    fn stream_sources_by_scheme_and_by_magic() {
        let (p, c) = stream_file("a");
        let path = p.display().to_string();
        let one = load_one(&format!("stream:{path}#0000:00:02.0/e1000")).unwrap();
        assert_eq!(one.bytes, c);
        assert_eq!(one.kind, SourceKind::Saved);
        assert_eq!(one.origin, format!("{path}#0000:00:02.0/e1000"));
        assert_eq!(one.bdf.as_deref(), Some("0000:00:02.0/e1000"));
        // Detected by its magic, with and without a selector.
        let all = load_all(&path).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(&all[1].bytes[..2], &[0xf4, 0x1a]);
        let v = load_one(&format!("{path}#0000:00:03.0/virtio-net")).unwrap();
        assert_eq!(v.bytes.len(), 256);
        // Errors name the device list.
        let e = load_one(&format!("stream:{path}#nope")).unwrap_err();
        assert!(e.to_string().contains("0000:00:03.0/virtio-net"), "{e}");
        let e = load_one(&format!("stream:{path}")).unwrap_err();
        assert!(e.to_string().contains("holds 2 devices"), "{e}");
        std::fs::remove_dir_all(p.parent().unwrap()).unwrap();
    }

    #[test]
    fn stream_errors_carry_the_offset() {
        let (p, _) = stream_file("b");
        let mut bytes = std::fs::read(&p).unwrap();
        bytes.truncate(40);
        std::fs::write(&p, &bytes).unwrap();
        let e = load_all(&format!("stream:{}", p.display())).unwrap_err();
        assert!(e.offset.is_some(), "{e}");
        assert!(e.to_string().contains("at byte 0x"), "{e}");
        std::fs::remove_dir_all(p.parent().unwrap()).unwrap();
    }
}
