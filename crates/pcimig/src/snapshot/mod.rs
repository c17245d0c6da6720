//! Host snapshots: one host's PCI devices (config bytes, BAR/ROM sizes, driver and its version)
//! and the host facts a migration check needs (QEMU installs and the machine types each
//! defines, QEMU's ROM files, kernel, host name, time), as a versioned JSON document.
//!
//! The format is described field by field in `docs/snapshot-format.md`. In short:
//!
//! ```json
//! { "format_version": "1.0", "source": "…",
//!   "host": { "name": "…", "kernel": "…", "time": "2025-06-01T12:00:00Z",
//!             "qemu": [ { "binary": "…", "version": "10.0.2", "machine_types": ["pc-q35-10.0", …],
//!                         "machine_types_source": "qemu-machine-help" } ],
//!             "rom_files": [ { "name": "efi-virtio.rom", "size": 160768, "dir": "/usr/share/qemu" } ] },
//!   "devices": [ { "bdf": "0000:3b:00.0", "vendor": "10de", "device": "2330", …,
//!                  "driver": "nvidia", "driver_version": "580.159.04", …, "config": "de102330…" } ] }
//! ```
//!
//! Reading ([`read_snapshot`], [`Snapshot::from_json`]) accepts every `1.x` and ignores fields
//! it does not know, so a newer minor version stays readable; a newer major is refused with both
//! versions named. Every value is validated (BDF, hex, config length, IDs against the config
//! bytes); an error names the file and the JSON path (`devices[2].config`) or line and column.
//!
//! Building: [`build::from_sysfs`] reads a live (or copied) sysfs tree, [`build::from_dumps`]
//! a directory of `DDDD:BB:DD.F.config.bin` dumps, a binary dump or `lspci -xxxx` text, through
//! the readers of [`crate::source`]. [`host`] gathers the live host facts.

pub mod build;
mod error;
pub mod filter;
mod format;
pub mod host;
pub mod time;

pub use error::SnapshotError;
pub use filter::DeviceFilter;

use crate::source::lspci::Bdf;
use crate::source::BarSizes;
use pcimig_config::le;
use pcimig_config::qemu_version::QemuVersion;
use pcimig_config::regs::{
    PCIE_CONFIG_SPACE_SIZE, PCI_CLASS_PROG, PCI_CONFIG_SPACE_SIZE, PCI_DEVICE_ID, PCI_HEADER_TYPE,
    PCI_HEADER_TYPE_MASK, PCI_HEADER_TYPE_NORMAL, PCI_REVISION_ID, PCI_SUBSYSTEM_ID, PCI_SUBSYSTEM_VENDOR_ID,
    PCI_VENDOR_ID,
};
use pcimig_qemu::devices::RomFiles;
use std::path::Path;

/// The format version this pcimig writes.
pub const FORMAT_VERSION: &str = "1.0";
/// The major format version this pcimig reads (any minor of it).
pub const FORMAT_MAJOR: u32 = 1;
/// The largest snapshot file read (a host with thousands of 4096-byte devices stays far below).
pub const MAX_SNAPSHOT_BYTES: u64 = 64 * 1024 * 1024;

/// One host's snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// `format_version` as read (`1.0` when built by this pcimig).
    pub format_version: String,
    /// Where the devices came from (`sysfs /sys/bus/pci/devices`, `dumps DIR`, `lspci FILE`).
    pub source: Option<String>,
    /// Facts about the host.
    pub host: HostFacts,
    /// The PCI devices, ordered by address.
    pub devices: Vec<SnapshotDevice>,
}

/// Facts about the host that the config bytes cannot carry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HostFacts {
    /// Host name (`None` when not known, e.g. built from dumps without `--host`).
    #[serde(default)]
    pub name: Option<String>,
    /// Kernel release (`uname -r`).
    #[serde(default)]
    pub kernel: Option<String>,
    /// When the snapshot was taken: RFC 3339, UTC (`2025-06-01T12:00:00Z`).
    pub time: String,
    /// The QEMU installs on the host.
    #[serde(default)]
    pub qemu: Vec<QemuInstall>,
    /// The files in QEMU's data directories (option ROMs among them), first directory first.
    #[serde(default)]
    pub rom_files: Vec<RomFile>,
}

/// One installed QEMU.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct QemuInstall {
    /// The `qemu-system-x86_64` binary (`None` when the version was given, not found).
    #[serde(default)]
    pub binary: Option<String>,
    /// Its version, `X.Y` or `X.Y.Z` ([`QemuVersion`]'s form).
    pub version: String,
    /// The machine types it defines.
    #[serde(default)]
    pub machine_types: Vec<String>,
    /// Where `machine_types` came from.
    pub machine_types_source: MachineTypesSource,
}

impl QemuInstall {
    /// An install known by its version only: machine types from pcimig's model
    /// ([`QemuVersion::machine_types`]).
    pub fn from_model(version: QemuVersion) -> Self {
        QemuInstall {
            binary: None,
            version: version.to_string(),
            machine_types: version.machine_types().iter().map(|m| m.name()).collect(),
            machine_types_source: MachineTypesSource::PcimigModel,
        }
    }

    /// The version as pcimig models it; an error for a series pcimig does not know.
    pub fn qemu_version(&self) -> Result<QemuVersion, pcimig_config::qemu_version::QemuVersionError> {
        QemuVersion::parse(&self.version)
    }
}

/// Where a QEMU install's machine types came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MachineTypesSource {
    /// `qemu-system-x86_64 -machine help`, run on the host.
    QemuMachineHelp,
    /// pcimig's model of the version ([`QemuVersion::machine_types`]).
    PcimigModel,
    /// A value a newer 1.x writer used.
    #[serde(other)]
    Other,
}

/// One file in a QEMU data directory.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RomFile {
    /// File name (QEMU's `romfile` property names it).
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// The directory it is in.
    pub dir: String,
}

/// Where a device's driver version came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DriverVersionSource {
    /// `/sys/module/MODULE/version`.
    SysModule,
    /// `/proc/driver/nvidia/version`.
    ProcDriverNvidia,
    /// Given on the command line (`--driver`).
    Given,
    /// A value a newer 1.x writer used.
    #[serde(other)]
    Other,
}

/// One PCI device of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotDevice {
    /// Full address with domain, `0000:3b:00.0`.
    pub bdf: String,
    /// Vendor ID (config 0x00).
    pub vendor: u16,
    /// Device ID (config 0x02).
    pub device: u16,
    /// Subsystem vendor ID (0x2c, type 0 headers only).
    pub subsystem_vendor: Option<u16>,
    /// Subsystem ID (0x2e, type 0 headers only).
    pub subsystem_device: Option<u16>,
    /// Class code, 24 bits (base, sub, prog-if).
    pub class: u32,
    /// Revision ID.
    pub revision: u8,
    /// Bound host driver (sysfs `driver` link name).
    pub driver: Option<String>,
    /// The driver's version, where the system exposes it.
    pub driver_version: Option<String>,
    /// Where `driver_version` came from.
    pub driver_version_source: Option<DriverVersionSource>,
    /// BAR and ROM sizes (sysfs `resource`); `None` when not known.
    pub bar_sizes: Option<BarSizes>,
    config: Vec<u8>,
}

/// The IDs a config's header holds: (vendor, device, subsystem vendor, subsystem, class, revision).
type HeaderIds = (u16, u16, Option<u16>, Option<u16>, u32, u8);

fn header_ids(config: &[u8]) -> HeaderIds {
    let normal = config[PCI_HEADER_TYPE] & PCI_HEADER_TYPE_MASK == PCI_HEADER_TYPE_NORMAL;
    let class = le::long(config, PCI_REVISION_ID) >> 8;
    debug_assert_eq!(PCI_CLASS_PROG, PCI_REVISION_ID + 1);
    (
        le::word(config, PCI_VENDOR_ID),
        le::word(config, PCI_DEVICE_ID),
        normal.then(|| le::word(config, PCI_SUBSYSTEM_VENDOR_ID)),
        normal.then(|| le::word(config, PCI_SUBSYSTEM_ID)),
        class,
        config[PCI_REVISION_ID],
    )
}

impl SnapshotDevice {
    /// A device at `bdf` (`DDDD:BB:DD.F`, or `BB:DD.F` for domain 0) with `config` (256 or 4096
    /// bytes); its IDs are taken from the config. No driver, no BAR sizes.
    pub fn from_config(bdf: &str, config: Vec<u8>) -> Result<Self, String> {
        let bdf = Bdf::parse(bdf)
            .ok_or_else(|| format!("'{bdf}' is not a device address (DDDD:BB:DD.F)"))?
            .full();
        if !matches!(config.len(), PCI_CONFIG_SPACE_SIZE | PCIE_CONFIG_SPACE_SIZE) {
            return Err(format!(
                "{} config bytes: a snapshot holds whole config spaces (256 or 4096 bytes)",
                config.len()
            ));
        }
        let (vendor, device, subsystem_vendor, subsystem_device, class, revision) = header_ids(&config);
        Ok(SnapshotDevice {
            bdf,
            vendor,
            device,
            subsystem_vendor,
            subsystem_device,
            class,
            revision,
            driver: None,
            driver_version: None,
            driver_version_source: None,
            bar_sizes: None,
            config,
        })
    }

    /// The config bytes (256 or 4096).
    pub fn config(&self) -> &[u8] {
        &self.config
    }

    /// `vendor:device` as lspci writes it (`10de:2330`).
    pub fn ids(&self) -> String {
        format!("{:04x}:{:04x}", self.vendor, self.device)
    }

    /// The address, parsed.
    pub fn address(&self) -> Bdf {
        Bdf::parse(&self.bdf).expect("validated when the device was made")
    }
}

impl Snapshot {
    /// A snapshot of `devices` (sorted here by address) on a host.
    pub fn new(source: Option<String>, host: HostFacts, mut devices: Vec<SnapshotDevice>) -> Self {
        devices.sort_by_key(|d| bdf_key(&d.address()));
        Snapshot {
            format_version: FORMAT_VERSION.to_string(),
            source,
            host,
            devices,
        }
    }

    /// The QEMU versions installed, as pcimig models them; installs whose version pcimig does
    /// not know are left out (see [`QemuInstall::qemu_version`]).
    pub fn qemu_versions(&self) -> Vec<QemuVersion> {
        self.host.qemu.iter().filter_map(|q| q.qemu_version().ok()).collect()
    }

    /// The ROM files as the emulated-device model takes them.
    pub fn rom_files(&self) -> RomFiles {
        let mut roms = RomFiles::default();
        for f in &self.host.rom_files {
            if roms.file_size(&f.name).is_none() {
                roms.insert(f.name.clone(), f.size);
            }
        }
        roms
    }

    /// The device at `bdf` (any form [`Bdf::parse`] takes).
    pub fn device(&self, bdf: &str) -> Option<&SnapshotDevice> {
        let want = Bdf::parse(bdf)?.full();
        self.devices.iter().find(|d| d.bdf == want)
    }

    /// The JSON document, pretty-printed, ending in a newline.
    pub fn to_json(&self) -> String {
        format::to_json(self)
    }

    /// Read a snapshot from JSON text; `origin` (the file name) is named in errors.
    pub fn from_json(origin: &str, text: &[u8]) -> Result<Snapshot, SnapshotError> {
        format::from_json(origin, text)
    }
}

/// Sort key of an address: (domain, bus, device, function).
fn bdf_key(b: &Bdf) -> (u32, u8, u8, u8) {
    (b.domain_or_zero(), b.bus, b.device, b.function)
}

/// Read and validate a snapshot file (at most [`MAX_SNAPSHOT_BYTES`]).
pub fn read_snapshot(path: impl AsRef<Path>) -> Result<Snapshot, SnapshotError> {
    use std::io::Read;
    let path = path.as_ref();
    let file = path.display().to_string();
    let io = |e: std::io::Error| SnapshotError::Io {
        file: file.clone(),
        message: e.to_string(),
    };
    let f = std::fs::File::open(path).map_err(io)?;
    let len = f.metadata().map_err(io)?.len();
    if len > MAX_SNAPSHOT_BYTES {
        return Err(SnapshotError::TooLarge {
            file,
            size: len,
            limit: MAX_SNAPSHOT_BYTES,
        });
    }
    let mut text = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    f.take(MAX_SNAPSHOT_BYTES + 1).read_to_end(&mut text).map_err(io)?;
    if text.len() as u64 > MAX_SNAPSHOT_BYTES {
        return Err(SnapshotError::TooLarge {
            file,
            size: text.len() as u64,
            limit: MAX_SNAPSHOT_BYTES,
        });
    }
    Snapshot::from_json(&file, &text)
}
