//! The QEMU version running on one side of a migration (`--dest-qemu`, `--saved-qemu`).
//!
//! A version is written `X.Y` (a release series: its newest micro release is meant) or `X.Y.Z`.
//! pcimig knows the release series in [`KNOWN_SERIES`]; anything else is refused with the list.
//!
//! ```
//! use pcimig_config::qemu_version::QemuVersion;
//! let v = QemuVersion::parse("10.0.2").unwrap();
//! assert_eq!(v, QemuVersion::DEFAULT);
//! assert!(QemuVersion::parse("7.2").unwrap() < v);
//! assert_eq!(QemuVersion::parse("11.1").unwrap().to_string(), "11.1");
//! assert!(QemuVersion::parse("6.2").is_err());
//! ```

use crate::machine::{oldest_machine, MachineFamily, MachineType, MACHINE_VERSIONS};
use std::cmp::Ordering;
use std::fmt;
use thiserror::Error;

/// The release series (X.Y) pcimig models, oldest first.
pub const KNOWN_SERIES: &[(u32, u32)] = &[
    (7, 2),
    (8, 0),
    (8, 1),
    (8, 2),
    (9, 0),
    (9, 1),
    (9, 2),
    (10, 0),
    (10, 1),
    (10, 2),
    (11, 0),
    (11, 1),
];

/// A QEMU version: a release series and, optionally, the micro release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct QemuVersion {
    /// X of X.Y.
    pub major: u32,
    /// Y of X.Y.
    pub minor: u32,
    /// Z of X.Y.Z, when given.
    pub micro: Option<u32>,
}

/// A version string pcimig cannot use, and why.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("QEMU version '{given}': {reason}")]
pub struct QemuVersionError {
    /// The text as given.
    pub given: String,
    /// Why it is refused.
    pub reason: String,
}

impl QemuVersion {
    /// QEMU 10.0.2: the version pcimig assumes when none is given (Debian bookworm-backports and
    /// trixie ship 10.0.x).
    pub const DEFAULT: QemuVersion = QemuVersion {
        major: 10,
        minor: 0,
        micro: Some(2),
    };

    /// Parse `X.Y` or `X.Y.Z`; X.Y must be one of [`KNOWN_SERIES`].
    pub fn parse(text: &str) -> Result<QemuVersion, QemuVersionError> {
        let bad = |reason: String| QemuVersionError {
            given: text.to_string(),
            reason,
        };
        let num = |s: &str| -> Result<u32, QemuVersionError> {
            if s.is_empty() || s.len() > 4 || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad("expected X.Y or X.Y.Z, e.g. 10.0 or 10.0.2".to_string()));
            }
            s.parse().map_err(|_| bad("expected X.Y or X.Y.Z".to_string()))
        };
        let parts: Vec<&str> = text.split('.').collect();
        if parts.len() < 2 || parts.len() > 3 {
            return Err(bad("expected X.Y or X.Y.Z, e.g. 10.0 or 10.0.2".to_string()));
        }
        let v = QemuVersion {
            major: num(parts[0])?,
            minor: num(parts[1])?,
            micro: parts.get(2).map(|p| num(p)).transpose()?,
        };
        if !KNOWN_SERIES.contains(&v.series()) {
            return Err(bad(format!("pcimig knows QEMU {}", known_series_list())));
        }
        Ok(v)
    }

    /// (X, Y).
    pub fn series(&self) -> (u32, u32) {
        (self.major, self.minor)
    }

    /// At least X.Y (the micro release is not compared).
    pub fn at_least(&self, major: u32, minor: u32) -> bool {
        self.series() >= (major, minor)
    }

    /// This QEMU registers the machine type: its version lies between the family's oldest in
    /// this QEMU ([`oldest_machine`]) and the QEMU's own series (the newest,
    /// `DEFINE_*_MACHINE_AS_LATEST`).
    pub fn defines(&self, machine: &MachineType) -> bool {
        MACHINE_VERSIONS.contains(&machine.version)
            && machine.version >= oldest_machine(*self, machine.family)
            && machine.version <= self.series()
    }

    /// Every versioned x86 machine type this QEMU defines, q35 first, oldest first (as
    /// `-machine help` lists them, without the `pc-q35-4.0.1` bugfix machine of QEMU ≤ 10.0).
    pub fn machine_types(&self) -> Vec<MachineType> {
        [MachineFamily::Q35, MachineFamily::I440fx]
            .into_iter()
            .flat_map(|family| {
                MACHINE_VERSIONS
                    .iter()
                    .map(move |&version| MachineType { family, version })
            })
            .filter(|m| self.defines(m))
            .collect()
    }

    /// Why this QEMU cannot run `machine` (`None` when it defines it): newer than the QEMU, or
    /// removed from it.
    pub fn lacks_machine(&self, machine: &MachineType) -> Option<String> {
        if self.defines(machine) {
            return None;
        }
        let why = if machine.version > self.series() {
            "it is newer than this QEMU".to_string()
        } else {
            let (x, y) = oldest_machine(*self, machine.family);
            format!("its oldest {} machine type is {x}.{y}", machine.family.name())
        };
        Some(format!("QEMU {self} does not define machine type {machine} ({why})"))
    }
}

/// `7.2, 8.0, …, 11.1`.
pub fn known_series_list() -> String {
    KNOWN_SERIES
        .iter()
        .map(|(a, b)| format!("{a}.{b}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl PartialOrd for QemuVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for QemuVersion {
    /// By series, then micro; a bare X.Y sorts after every X.Y.Z (it means the newest).
    fn cmp(&self, other: &Self) -> Ordering {
        let micro = |v: &QemuVersion| v.micro.map_or(u64::MAX, u64::from);
        (self.major, self.minor, micro(self)).cmp(&(other.major, other.minor, micro(other)))
    }
}

impl fmt::Display for QemuVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.micro {
            Some(z) => write!(f, "{}.{}.{z}", self.major, self.minor),
            None => write!(f, "{}.{}", self.major, self.minor),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_series_and_micro_releases() {
        assert_eq!(QemuVersion::parse("7.2").unwrap().series(), (7, 2));
        assert_eq!(QemuVersion::parse("11.1.3").unwrap().micro, Some(3));
        for bad in [
            "",
            "10",
            "10.",
            "10.0.",
            "x.y",
            "10.0.2.1",
            "10.3",
            "6.2",
            "+10.0",
            "10.0.99999",
        ] {
            let e = QemuVersion::parse(bad).unwrap_err();
            assert!(e.to_string().starts_with(&format!("QEMU version '{bad}'")), "{e}");
        }
    }

    /// The lists of the real binaries' `-machine help` (7.2.22, 10.0.2, 11.1.3).
    #[test]
    fn machine_lists_match_the_real_binaries() {
        let p = |s: &str| QemuVersion::parse(s).unwrap();
        let names = |v: &str| -> Vec<String> { p(v).machine_types().iter().map(|m| m.name()).collect() };
        let n72 = names("7.2.22");
        assert_eq!(n72.first().unwrap(), "pc-q35-2.4");
        assert!(n72.contains(&"pc-i440fx-1.4".to_string()) && n72.last().unwrap() == "pc-i440fx-7.2");
        assert_eq!(n72.len(), 23 + 31);
        let n100 = names("10.0.2");
        assert_eq!(n100.len(), 2 * 30);
        let n111 = names("11.1.3");
        assert_eq!((n111.first().unwrap().as_str(), n111.len()), ("pc-q35-5.2", 2 * 18));
        let first_i440fx = |v: &str| names(v).into_iter().find(|n| n.starts_with("pc-i440fx")).unwrap();
        assert_eq!(first_i440fx("8.1"), "pc-i440fx-1.4");
        assert_eq!(first_i440fx("8.2"), "pc-i440fx-2.0");
        assert_eq!(first_i440fx("9.1"), "pc-i440fx-2.4");
        assert_eq!(names("10.1")[0], "pc-q35-4.2");
        assert_eq!(names("10.2")[0], "pc-q35-5.0");
        assert_eq!(names("11.0")[0], "pc-q35-5.1");
    }

    #[test]
    fn a_machine_newer_than_the_qemu_or_removed_from_it_is_named() {
        let p = |s| QemuVersion::parse(s).unwrap();
        let m = |s| MachineType::parse(s).unwrap();
        assert_eq!(
            p("9.0").lacks_machine(&m("pc-q35-10.0")).unwrap(),
            "QEMU 9.0 does not define machine type pc-q35-10.0 (it is newer than this QEMU)"
        );
        assert_eq!(
            p("11.1").lacks_machine(&m("pc-i440fx-5.1")).unwrap(),
            "QEMU 11.1 does not define machine type pc-i440fx-5.1 (its oldest i440fx machine type is 5.2)"
        );
        assert!(p("10.0.2").lacks_machine(&m("pc-q35-10.0")).is_none());
        assert!(p("7.2").lacks_machine(&m("pc-i440fx-1.4")).is_none());
    }

    #[test]
    fn orders_by_series_then_micro() {
        let p = |s| QemuVersion::parse(s).unwrap();
        assert!(p("7.2") < p("8.0.0"));
        assert!(p("10.0.2") < p("10.0"));
        assert!(p("10.0.2") < p("10.0.3"));
        assert!(p("9.1").at_least(9, 1) && !p("9.0").at_least(9, 1));
    }
}
