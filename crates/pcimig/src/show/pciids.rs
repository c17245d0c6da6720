//! Names from the system's `pci.ids` (Debian: `/usr/share/misc/pci.ids`), when there is one.
//! Never required: without it, devices are shown by number only.
//!
//! `$PCIMIG_PCI_IDS` names another file; set it to an empty string to use none.

use std::collections::{HashMap, HashSet};

/// Environment variable naming the pci.ids file to use (empty: none).
pub const PCI_IDS_ENV: &str = "PCIMIG_PCI_IDS";

const CANDIDATES: &[&str] = &[
    "/usr/share/misc/pci.ids",
    "/usr/share/hwdata/pci.ids",
    "/usr/share/pci.ids",
];

/// The names needed for a set of devices.
#[derive(Debug, Default)]
pub struct PciIds {
    vendors: HashMap<u16, String>,
    devices: HashMap<(u16, u16), String>,
    subsystems: HashMap<(u16, u16, u16, u16), String>,
    classes: HashMap<(u8, Option<u8>), String>,
}

fn hex4(s: &str) -> Option<u16> {
    if s.len() == 4 {
        u16::from_str_radix(s, 16).ok()
    } else {
        None
    }
}

impl PciIds {
    /// No names at all.
    pub fn empty() -> Self {
        PciIds::default()
    }

    /// Load the names of the vendors in `wanted` (device and subsystem names are kept only under
    /// them; vendor and class names are kept for all). Missing or unreadable file: no names.
    pub fn load(wanted: &HashSet<u16>) -> Self {
        Self::load_filtered(Some(wanted))
    }

    /// Load the names of every vendor (for a stream of devices not known in advance).
    pub fn load_every_vendor() -> Self {
        Self::load_filtered(None)
    }

    fn load_filtered(wanted: Option<&HashSet<u16>>) -> Self {
        let path = match std::env::var(PCI_IDS_ENV) {
            Ok(p) if p.is_empty() => return PciIds::empty(),
            Ok(p) => Some(p),
            Err(_) => CANDIDATES
                .iter()
                .find(|p| std::path::Path::new(p).exists())
                .map(|s| s.to_string()),
        };
        let Some(text) = path.and_then(|p| std::fs::read(p).ok()) else {
            return PciIds::empty();
        };
        Self::parse_filtered(&String::from_utf8_lossy(&text), wanted)
    }

    /// Parse pci.ids text, keeping device names of the `wanted` vendors.
    pub fn parse(text: &str, wanted: &HashSet<u16>) -> Self {
        Self::parse_filtered(text, Some(wanted))
    }

    fn parse_filtered(text: &str, wanted: Option<&HashSet<u16>>) -> Self {
        let mut ids = PciIds::default();
        let mut vendor: Option<u16> = None;
        let mut device: Option<u16> = None;
        let mut class: Option<u8> = None;
        for line in text.lines() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            if let Some(rest) = line.strip_prefix("C ") {
                vendor = None;
                let (id, name) = rest.split_once("  ").unwrap_or((rest, ""));
                class = u8::from_str_radix(id.trim(), 16).ok();
                if let Some(c) = class {
                    ids.classes.insert((c, None), name.trim().to_string());
                }
                continue;
            }
            if let Some(rest) = line.strip_prefix("\t\t") {
                if let (Some(v), Some(d)) = (vendor, device) {
                    let mut parts = rest.splitn(3, ' ');
                    if let (Some(sv), Some(sd)) = (parts.next().and_then(hex4), parts.next().and_then(hex4)) {
                        let name = parts.next().unwrap_or("").trim();
                        ids.subsystems.insert((v, d, sv, sd), name.to_string());
                    }
                }
                continue;
            }
            if let Some(rest) = line.strip_prefix('\t') {
                let (id, name) = rest.split_once("  ").unwrap_or((rest, ""));
                if let Some(c) = class {
                    if let Ok(sub) = u8::from_str_radix(id.trim(), 16) {
                        ids.classes.insert((c, Some(sub)), name.trim().to_string());
                    }
                } else if let Some(v) = vendor {
                    device = hex4(id.trim());
                    if let Some(d) = device {
                        ids.devices.insert((v, d), name.trim().to_string());
                    }
                }
                continue;
            }
            class = None;
            device = None;
            let (id, name) = line.split_once("  ").unwrap_or((line, ""));
            let v = hex4(id.trim());
            if let Some(v) = v {
                ids.vendors.insert(v, name.trim().to_string());
            }
            vendor = v.filter(|v| wanted.is_none_or(|w| w.contains(v)));
        }
        ids
    }

    /// Vendor name.
    pub fn vendor(&self, v: u16) -> Option<&str> {
        self.vendors.get(&v).map(String::as_str)
    }

    /// Device name.
    pub fn device(&self, v: u16, d: u16) -> Option<&str> {
        self.devices.get(&(v, d)).map(String::as_str)
    }

    /// Subsystem name (listed under the device).
    pub fn subsystem(&self, v: u16, d: u16, sv: u16, sd: u16) -> Option<&str> {
        self.subsystems.get(&(v, d, sv, sd)).map(String::as_str)
    }

    /// Class name: the subclass name if known, else the base class name.
    pub fn class(&self, base: u8, sub: u8) -> Option<&str> {
        self.classes
            .get(&(base, Some(sub)))
            .or_else(|| self.classes.get(&(base, None)))
            .map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_vendors_devices_subsystems_and_classes() {
        let text = "# c\n10de  NVIDIA Corporation\n\t2330  GH100 [H100 SXM5 80GB]\n\t\t10de 16c1  H100 SXM5 80GB\n\
                    1af4  Red Hat, Inc.\n\t1041  Virtio network device\nC 03  Display controller\n\t02  3D controller\n";
        let ids = PciIds::parse(text, &HashSet::from([0x10de]));
        assert_eq!(ids.vendor(0x1af4), Some("Red Hat, Inc."));
        assert_eq!(ids.device(0x10de, 0x2330), Some("GH100 [H100 SXM5 80GB]"));
        assert_eq!(ids.device(0x1af4, 0x1041), None, "devices only for wanted vendors");
        assert_eq!(ids.subsystem(0x10de, 0x2330, 0x10de, 0x16c1), Some("H100 SXM5 80GB"));
        assert_eq!(ids.class(3, 2), Some("3D controller"));
        assert_eq!(ids.class(3, 9), Some("Display controller"));
    }
}
