//! Why a check could not decide (exit code 2). Every variant that wraps another error keeps it
//! as its `source` and prints it at the end of its own message.

use crate::source::SourceError;
use pcimig_config::{ConfigError, MachineTypeError};
use pcimig_qemu::devices::DeviceError;
use pcimig_qemu::StreamError;
use pcimig_vfio::{KernelLayerError, VfioError};
use std::path::PathBuf;
use thiserror::Error;

/// What [`CheckError::Realize`] says.
const REALIZE_REFUSED: &str = "QEMU would not realize this device as vfio-pci";
/// What [`CheckError::KernelLayer`] says.
const KERNEL_LAYER_REFUSED: &str = "the host kernel's vfio-pci layer would not present this device to QEMU";

/// Why a check could not decide (exit code 2).
#[derive(Debug, Error)]
pub enum CheckError {
    /// A side could not be read.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// QEMU would not realize the device on that side.
    #[error("{side} ({origin}): {}: {error}", REALIZE_REFUSED)]
    Realize {
        /// `saved` or `dest`.
        side: &'static str,
        /// The SRC.
        origin: String,
        /// QEMU's reason.
        #[source]
        error: Box<VfioError>,
    },
    /// The host kernel's vfio-pci layer would not present the device on that side.
    #[error(
        "{side} ({origin}): {} (with --kernel-layer off the bytes are taken as what QEMU reads): {error}",
        KERNEL_LAYER_REFUSED
    )]
    KernelLayer {
        /// `saved` or `dest`.
        side: &'static str,
        /// The SRC.
        origin: String,
        /// The kernel's reason.
        #[source]
        error: Box<KernelLayerError>,
    },
    /// The options contradict each other or a value is malformed.
    #[error("{0}")]
    Options(String),
    /// `--machine` names no machine type QEMU 10.0.2 has.
    #[error("{0}")]
    Machine(#[source] MachineTypeError),
    /// The slot and the machine type contradict each other.
    #[error("{0}")]
    Placement(#[source] Box<VfioError>),
    /// The two sides cannot be compared.
    #[error("{0}")]
    Incomparable(#[source] ConfigError),
    /// A migration stream could not be read; `context` (`--dest: ` or empty) comes first.
    #[error("{context}{error}")]
    Stream {
        /// Which option named the stream, as a message prefix.
        context: &'static str,
        /// The reader's error.
        #[source]
        error: Box<StreamError>,
    },
    /// The saved config could not be read from its stream at the destination's config size.
    #[error("{context}: {error}")]
    ReadSaved {
        /// The file, and what was being read.
        context: String,
        /// The I/O error.
        #[source]
        error: std::io::Error,
    },
    /// `--dest-query-pci FILE` could not be read.
    #[error("--dest-query-pci {}: {error}", path.display())]
    QueryPciRead {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        error: std::io::Error,
    },
    /// `--dest-query-pci FILE` is not QMP `query-pci` output.
    #[error("--dest-query-pci {}: {error}", path.display())]
    QueryPci {
        /// The file.
        path: PathBuf,
        /// The parser's error.
        #[source]
        error: Box<DeviceError>,
    },
    /// The destination stream has no configuration section.
    #[error("{path}: the stream has no machine type (configuration section)")]
    NoMachineType {
        /// The stream file.
        path: String,
    },
    /// No destination model could be built for the device.
    #[error("{path}: {error}")]
    DeviceModel {
        /// The destination stream file.
        path: String,
        /// Why.
        #[source]
        error: Box<DeviceError>,
    },
    /// A device of the saved stream has no namesake in the destination stream.
    #[error(
        "no namesake in the destination stream: QEMU would fail with \"Unknown savevm section or instance '{idstr}' \
         {instance_id}\""
    )]
    NoNamesake {
        /// The section idstr.
        idstr: String,
        /// Its instance id.
        instance_id: u32,
    },
    /// The saved stream holds no PCI device while the destination has some: nothing to check
    /// (a stream cut short, or not this VM's).
    #[error(
        "{path}: the saved stream holds no PCI device while the destination has {dest_devices}: nothing to \
         check (a stream cut short, or not this VM's)"
    )]
    NoSavedDevices {
        /// The saved stream.
        path: String,
        /// PCI devices in the destination stream.
        dest_devices: usize,
    },
}

impl CheckError {
    /// The error without the side and SRC it names (for a report that names the device
    /// itself, and shares the reason between devices with the same inputs).
    pub fn reason(&self) -> String {
        match self {
            CheckError::Realize { error, .. } => format!("{REALIZE_REFUSED}: {error}"),
            CheckError::KernelLayer { error, .. } => format!("{KERNEL_LAYER_REFUSED}: {error}"),
            other => other.to_string(),
        }
    }
}
