//! The JSON form of a snapshot (format 1.x, `docs/snapshot-format.md`): writing, and reading
//! with validation. The document is read in two steps: `format_version` first (so a newer
//! major is refused before its shape is judged), then the whole document into the wire structs
//! below (unknown fields ignored), then every value checked with its JSON path.

use super::{header_ids, DriverVersionSource, HostFacts, Snapshot, SnapshotDevice, SnapshotError, FORMAT_MAJOR};
use crate::source::lspci::Bdf;
use crate::source::BarSizes;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct SnapshotJson {
    format_version: String,
    #[serde(default)]
    source: Option<String>,
    host: HostFacts,
    devices: Vec<DeviceJson>,
}

#[derive(Serialize, Deserialize)]
struct DeviceJson {
    bdf: String,
    vendor: String,
    device: String,
    #[serde(default)]
    subsystem_vendor: Option<String>,
    #[serde(default)]
    subsystem_device: Option<String>,
    class: String,
    revision: String,
    #[serde(default)]
    driver: Option<String>,
    #[serde(default)]
    driver_version: Option<String>,
    #[serde(default)]
    driver_version_source: Option<DriverVersionSource>,
    #[serde(default)]
    bar_sizes: Option<BarSizesJson>,
    config: String,
}

#[derive(Serialize, Deserialize)]
struct BarSizesJson {
    bars: [Option<u64>; 6],
    rom: Option<u64>,
}

#[derive(Deserialize)]
struct VersionOnly {
    format_version: Option<serde_json::Value>,
}

/// The document, pretty-printed, with a final newline.
pub(super) fn to_json(s: &Snapshot) -> String {
    let doc = SnapshotJson {
        format_version: s.format_version.clone(),
        source: s.source.clone(),
        host: s.host.clone(),
        devices: s.devices.iter().map(device_json).collect(),
    };
    let mut text = serde_json::to_string_pretty(&doc).expect("a snapshot serializes");
    text.push('\n');
    text
}

fn device_json(d: &SnapshotDevice) -> DeviceJson {
    DeviceJson {
        bdf: d.bdf.clone(),
        vendor: format!("{:04x}", d.vendor),
        device: format!("{:04x}", d.device),
        subsystem_vendor: d.subsystem_vendor.map(|v| format!("{v:04x}")),
        subsystem_device: d.subsystem_device.map(|v| format!("{v:04x}")),
        class: format!("{:06x}", d.class),
        revision: format!("{:02x}", d.revision),
        driver: d.driver.clone(),
        driver_version: d.driver_version.clone(),
        driver_version_source: d.driver_version_source,
        bar_sizes: d.bar_sizes.map(|b| BarSizesJson {
            bars: b.bars,
            rom: b.rom,
        }),
        config: hex_encode(d.config()),
    }
}

/// Read and validate a document; `file` is named in every error.
pub(super) fn from_json(file: &str, text: &[u8]) -> Result<Snapshot, SnapshotError> {
    let json_err = |e: serde_json::Error| SnapshotError::Json {
        file: file.to_string(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    };
    let v: VersionOnly = serde_json::from_slice(text).map_err(json_err)?;
    let version = match v.format_version {
        Some(serde_json::Value::String(s)) => s,
        Some(other) => {
            return Err(SnapshotError::invalid(
                file,
                "format_version",
                format!("{other} is not a version string like \"1.0\""),
            ))
        }
        None => {
            return Err(SnapshotError::invalid(
                file,
                "format_version",
                "missing: not a pcimig snapshot",
            ))
        }
    };
    check_version(file, &version)?;
    let doc: SnapshotJson = serde_json::from_slice(text).map_err(json_err)?;
    check_host(file, &doc.host)?;
    let mut devices = Vec::with_capacity(doc.devices.len());
    let mut seen = std::collections::HashSet::new();
    for (i, d) in doc.devices.into_iter().enumerate() {
        let dev = device_from_json(file, i, d)?;
        if !seen.insert(dev.bdf.clone()) {
            return Err(SnapshotError::invalid(
                file,
                format!("devices[{i}].bdf"),
                format!("{} appears twice", dev.bdf),
            ));
        }
        devices.push(dev);
    }
    let mut s = Snapshot::new(doc.source, doc.host, devices);
    s.format_version = version;
    Ok(s)
}

/// `MAJOR.MINOR`: major 1 is read (any minor), a newer major refused.
fn check_version(file: &str, version: &str) -> Result<(), SnapshotError> {
    let parsed = version.split_once('.').and_then(|(a, b)| {
        let digits = |s: &str| !s.is_empty() && s.len() <= 6 && s.bytes().all(|c| c.is_ascii_digit());
        (digits(a) && digits(b)).then(|| a.parse::<u32>().ok()).flatten()
    });
    match parsed {
        Some(FORMAT_MAJOR) => Ok(()),
        Some(m) if m > FORMAT_MAJOR => Err(SnapshotError::UnsupportedVersion {
            file: file.to_string(),
            found: version.to_string(),
            supported: FORMAT_MAJOR,
        }),
        _ => Err(SnapshotError::invalid(
            file,
            "format_version",
            format!("\"{version}\" is not a snapshot format version this pcimig reads ({FORMAT_MAJOR}.x)"),
        )),
    }
}

fn check_host(file: &str, host: &HostFacts) -> Result<(), SnapshotError> {
    super::time::check_rfc3339_utc(&host.time).map_err(|m| SnapshotError::invalid(file, "host.time", m))?;
    for (i, q) in host.qemu.iter().enumerate() {
        if !is_version_text(&q.version) {
            return Err(SnapshotError::invalid(
                file,
                format!("host.qemu[{i}].version"),
                format!("\"{}\" is not a QEMU version X.Y or X.Y.Z", q.version),
            ));
        }
    }
    Ok(())
}

/// `X.Y` or `X.Y.Z`, digits (whether pcimig models that series is asked later).
pub(super) fn is_version_text(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    (2..=3).contains(&parts.len())
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 4 && p.bytes().all(|c| c.is_ascii_digit()))
}

fn device_from_json(file: &str, i: usize, d: DeviceJson) -> Result<SnapshotDevice, SnapshotError> {
    let at = |field: &str| format!("devices[{i}].{field}");
    let bdf = Bdf::parse(&d.bdf).filter(|b| b.domain.is_some()).ok_or_else(|| {
        SnapshotError::invalid(
            file,
            at("bdf"),
            format!("\"{}\" is not a full device address DDDD:BB:DD.F", d.bdf),
        )
    })?;
    let config = hex_decode(&d.config).map_err(|m| SnapshotError::invalid(file, at("config"), m))?;
    let mut dev =
        SnapshotDevice::from_config(&bdf.full(), config).map_err(|m| SnapshotError::invalid(file, at("config"), m))?;
    check_ids(file, i, &d, &dev)?;
    for (name, value) in [("driver", &d.driver), ("driver_version", &d.driver_version)] {
        if value
            .as_deref()
            .is_some_and(|v| v.is_empty() || v.chars().any(char::is_control))
        {
            return Err(SnapshotError::invalid(
                file,
                at(name),
                "empty, or holds control characters",
            ));
        }
    }
    dev.driver = d.driver;
    dev.driver_version = d.driver_version;
    dev.driver_version_source = d.driver_version_source;
    dev.bar_sizes = d.bar_sizes.map(|b| BarSizes {
        bars: b.bars,
        rom: b.rom,
    });
    Ok(dev)
}

/// The IDs written beside the config must be the config's own (a hand edit of one and not the
/// other is caught here).
fn check_ids(file: &str, i: usize, d: &DeviceJson, dev: &SnapshotDevice) -> Result<(), SnapshotError> {
    let (vendor, device, sv, sd, class, revision) = header_ids(dev.config());
    let hex = |v: u64, w: usize| format!("{v:0w$x}");
    let opt = |v: Option<u16>| v.map(|v| hex(u64::from(v), 4));
    let checks = [
        ("vendor", Some(d.vendor.clone()), Some(hex(u64::from(vendor), 4))),
        ("device", Some(d.device.clone()), Some(hex(u64::from(device), 4))),
        ("subsystem_vendor", d.subsystem_vendor.clone(), opt(sv)),
        ("subsystem_device", d.subsystem_device.clone(), opt(sd)),
        ("class", Some(d.class.clone()), Some(hex(u64::from(class), 6))),
        ("revision", Some(d.revision.clone()), Some(hex(u64::from(revision), 2))),
    ];
    for (name, written, from_config) in checks {
        if written.as_ref().map(|w| w.to_ascii_lowercase()) != from_config {
            return Err(SnapshotError::invalid(
                file,
                format!("devices[{i}].{name}"),
                format!(
                    "{} differs from the config bytes, which hold {}",
                    written.map_or("null".to_string(), |w| format!("\"{w}\"")),
                    from_config.map_or("none".to_string(), |c| format!("\"{c}\"")),
                ),
            ));
        }
    }
    Ok(())
}

/// Lower-case hex, two digits a byte.
pub(super) fn hex_encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    s
}

/// Hex (either case) to bytes; the message names the first bad character's position.
pub(super) fn hex_decode(s: &str) -> Result<Vec<u8>, String> {
    if let Some((pos, c)) = s.char_indices().find(|(_, c)| !c.is_ascii_hexdigit()) {
        return Err(format!("character {pos} ({c:?}) is not a hex digit"));
    }
    if s.len() % 2 != 0 {
        return Err(format!("{} hex digits: an odd number, not whole bytes", s.len()));
    }
    let digit = |b: u8| (b as char).to_digit(16).unwrap_or(0) as u8;
    Ok(s.as_bytes()
        .chunks_exact(2)
        .map(|p| (digit(p[0]) << 4) | digit(p[1]))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_names_the_bad_character() {
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(hex_decode(&hex_encode(&bytes)).unwrap(), bytes);
        assert_eq!(hex_decode("0A0b").unwrap(), vec![0x0a, 0x0b]);
        assert!(hex_decode("0a0g").unwrap_err().contains("character 3"));
        assert!(hex_decode("0a0").unwrap_err().contains("odd"));
    }

    #[test]
    fn versions_of_major_one_are_read_and_newer_majors_refused() {
        check_version("f", "1.0").unwrap();
        check_version("f", "1.7").unwrap();
        assert!(matches!(
            check_version("f", "2.0"),
            Err(SnapshotError::UnsupportedVersion { .. })
        ));
        assert!(matches!(check_version("f", "0.9"), Err(SnapshotError::Invalid { .. })));
        assert!(matches!(check_version("f", "1"), Err(SnapshotError::Invalid { .. })));
    }
}
