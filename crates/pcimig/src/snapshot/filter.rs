//! `--devices FILTER`: which devices a snapshot keeps (and which `--driver` names).
//!
//! - `VENDOR:DEVICE`, either part optional, 1 to 4 hex digits each, as `lspci -d`: `10de:`
//!   (every NVIDIA device), `10de:2330`, `:2330`;
//! - otherwise an address pattern, matched case-insensitively as a prefix (an implicit `*` at
//!   the end), `*` and `?` as in a shell glob: `0000:3b:` (bus 0x3b of domain 0),
//!   `0000:3b:00.0`, `*:3b:00.` (every function of 3b:00 in any domain), `0001:*` (domain 1).
//!   A pattern with two colons, or whose part before the first colon is longer than a bus (two
//!   digits), is matched against `DDDD:BB:DD.F`; any other against `BB:DD.F` (any domain):
//!   `3b:00.` — write the `.` (or a `*`) to tell a bus:device prefix from `VENDOR:DEVICE`.
//!
//! Several filters (repeated, or separated by commas) keep a device any of them matches.

use crate::source::lspci::Bdf;

/// One device filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceFilter {
    /// `VENDOR:DEVICE`, as `lspci -d`.
    Ids {
        /// Vendor ID; `None` for any.
        vendor: Option<u16>,
        /// Device ID; `None` for any.
        device: Option<u16>,
    },
    /// An address glob, lower case; `with_domain` when it is matched against `DDDD:BB:DD.F`.
    Address {
        /// The pattern.
        pattern: String,
        /// Matched against the address with its domain.
        with_domain: bool,
    },
}

impl DeviceFilter {
    /// Parse one filter (see the module documentation).
    pub fn parse(text: &str) -> Result<DeviceFilter, String> {
        let t = text.trim().to_ascii_lowercase();
        if t.is_empty() {
            return Err("an empty device filter".to_string());
        }
        if let Some(ids) = parse_ids(&t) {
            return Ok(ids);
        }
        if !t
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || matches!(b, b':' | b'.' | b'*' | b'?'))
        {
            return Err(format!(
                "device filter '{text}' is neither VENDOR:DEVICE (hex, as lspci -d: 10de:, 10de:2330) \
                 nor an address pattern (0000:3b:00.0, 0000:3b:, *:3b:00.*)"
            ));
        }
        let first = t.split(':').next().unwrap_or_default();
        Ok(DeviceFilter::Address {
            with_domain: t.matches(':').count() >= 2 || first.len() > 2,
            pattern: t,
        })
    }

    /// Parse a comma-separated list of filters.
    pub fn parse_list(text: &str) -> Result<Vec<DeviceFilter>, String> {
        text.split(',').map(DeviceFilter::parse).collect()
    }

    /// Whether the device at `bdf` with these IDs matches.
    pub fn matches(&self, bdf: &Bdf, vendor: u16, device: u16) -> bool {
        match self {
            DeviceFilter::Ids { vendor: v, device: d } => {
                v.is_none_or(|v| v == vendor) && d.is_none_or(|d| d == device)
            }
            DeviceFilter::Address { pattern, with_domain } => {
                let full = bdf.full();
                let subject = if *with_domain {
                    &full[..]
                } else {
                    &full[full.len() - 7..]
                };
                glob_prefix(pattern.as_bytes(), subject.as_bytes())
            }
        }
    }
}

/// Whether any of `filters` matches (every device when there are none).
pub fn any_matches(filters: &[DeviceFilter], bdf: &Bdf, vendor: u16, device: u16) -> bool {
    filters.is_empty() || filters.iter().any(|f| f.matches(bdf, vendor, device))
}

/// `VENDOR:DEVICE` with 0 to 4 hex digits on each side.
fn parse_ids(t: &str) -> Option<DeviceFilter> {
    let (v, d) = t.split_once(':')?;
    let part = |s: &str| -> Option<Option<u16>> {
        if s.is_empty() {
            return Some(None);
        }
        (s.len() <= 4 && s.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| u16::from_str_radix(s, 16).ok())
            .flatten()
            .map(Some)
    };
    Some(DeviceFilter::Ids {
        vendor: part(v)?,
        device: part(d)?,
    })
}

/// Shell-glob match of `pattern` against a prefix of `text` (`*` any run, `?` one byte).
fn glob_prefix(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => true,
        Some((b'*', rest)) => (0..=text.len()).any(|i| glob_prefix(rest, &text[i..])),
        Some((&p, rest)) => match text.split_first() {
            Some((&c, tail)) => (p == b'?' || p == c) && glob_prefix(rest, tail),
            None => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(filter: &str, bdf: &str, vendor: u16, device: u16) -> bool {
        DeviceFilter::parse(filter)
            .unwrap()
            .matches(&Bdf::parse(bdf).unwrap(), vendor, device)
    }

    #[test]
    fn vendor_device_filters_work_as_lspci_d() {
        assert!(hit("10de:", "0000:3b:00.0", 0x10de, 0x2330));
        assert!(hit("10DE:2330", "0000:3b:00.0", 0x10de, 0x2330));
        assert!(hit(":2330", "0000:3b:00.0", 0x10de, 0x2330));
        assert!(!hit("10de:", "0000:3b:00.0", 0x8086, 0x2330));
        assert!(!hit("10de:2331", "0000:3b:00.0", 0x10de, 0x2330));
    }

    #[test]
    fn address_patterns_match_as_prefixes_and_globs() {
        assert!(hit("0000:3b:", "0000:3b:00.1", 0, 0));
        assert!(!hit("0000:3b:", "0001:3b:00.1", 0, 0));
        assert!(hit("3b:00.", "0001:3b:00.1", 0, 0));
        assert!(hit("*:3b:00.?", "0002:3b:00.7", 0, 0));
        assert!(hit("0000:3b:00.0", "0000:3b:00.0", 0, 0));
        assert!(!hit("0000:3b:00.0", "0000:3b:00.1", 0, 0));
        assert!(hit("*", "0000:3b:00.1", 0, 0));
        assert!(hit("0001:*", "0001:00:03.0", 0, 0));
        assert!(!hit("0001:*", "0000:00:03.0", 0, 0));
    }

    #[test]
    fn nonsense_is_refused() {
        assert!(DeviceFilter::parse("nvidia").is_err());
        assert!(DeviceFilter::parse("").is_err());
    }
}
