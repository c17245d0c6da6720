//! Errors of the model. Every message names the offset (and, where QEMU has one, uses QEMU's
//! wording) so that a report can be traced back to a register.

use thiserror::Error;

/// An error raised by the config-space model. Never a panic: every offset and length a caller
/// passes is checked.
///
/// It is `Clone + Send + Sync + 'static`, so other crates keep it as the source of their own
/// errors instead of flattening it to a string:
///
/// ```
/// #[derive(Debug, thiserror::Error)]
/// enum RealizeError {
///     #[error("building the model: {0}")]
///     Model(#[from] pcimig_config::ConfigError),
/// }
/// let e: RealizeError = pcimig_config::ConfigError::NotExpress.into();
/// let source = std::error::Error::source(&e).unwrap();
/// assert_eq!(
///     source.downcast_ref::<pcimig_config::ConfigError>(),
///     Some(&pcimig_config::ConfigError::NotExpress)
/// );
/// ```
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// An access that does not fit in the config space.
    #[error("access of {len} byte(s) at offset {offset:#x} is past the end of the {size}-byte config space")]
    AccessOutOfRange {
        /// First byte of the access.
        offset: usize,
        /// Length of the access.
        len: usize,
        /// Size of the config space.
        size: usize,
    },
    /// A config access whose length is not 1, 2 or 4.
    #[error("invalid access length {len}: config accesses are 1, 2 or 4 bytes")]
    BadAccessLength {
        /// The length asked for.
        len: usize,
    },
    /// A standard capability that overlaps one already on the list (QEMU's pci_add_capability
    /// message, word for word; `existing` is the owning capability's offset, as in QEMU).
    #[error("{address} Attempt to add PCI capability {cap_id:x} at offset {offset:x} overlaps existing capability {existing:x} at offset {at:x}")]
    CapabilityOverlap {
        /// QEMU's `root-bus-path:bus:slot.func` rendering of the device address.
        address: String,
        /// ID of the capability being added.
        cap_id: u8,
        /// Offset it was to be added at.
        offset: usize,
        /// Offset of the capability that owns the overlapping byte.
        existing: usize,
        /// The first overlapping byte.
        at: usize,
    },
    /// No free run of bytes in 0x40..0x100 for an auto-placed capability.
    #[error("no free space for a {size}-byte capability in 0x40..0x100")]
    NoSpace {
        /// Size asked for.
        size: usize,
    },
    /// A standard capability outside 0x40..0x100.
    #[error("standard capability at {offset:#x} with size {size:#x} does not fit in 0x40..0x100")]
    StdCapOutOfRange {
        /// Offset asked for.
        offset: usize,
        /// Size asked for.
        size: usize,
    },
    /// An extended capability outside 0x100..0x1000, not dword-aligned, or smaller than its
    /// 8-byte minimum.
    #[error(
        "extended capability at {offset:#x} with size {size:#x} must be dword-aligned, lie in 0x100..0x1000 and be at least 8 bytes"
    )]
    ExtCapOutOfRange {
        /// Offset asked for.
        offset: usize,
        /// Size asked for.
        size: usize,
    },
    /// Extended capabilities on a conventional (256-byte) config space.
    #[error("extended capabilities need a 4096-byte PCI Express config space")]
    NotExpress,
    /// The extended chain loops or points out of range, so its tail cannot be found.
    #[error("extended capability chain is broken at {at:#x} ({why})")]
    ExtChainBroken {
        /// Offset of the header where the walk stopped.
        at: usize,
        /// What is wrong there.
        why: &'static str,
    },
    /// A capability preset needs a capability the space does not have.
    #[error("{what}: no {cap} capability has been added")]
    MissingCapability {
        /// The preset that needed it.
        what: &'static str,
        /// The capability it needed.
        cap: &'static str,
    },
    /// A preset argument outside what QEMU accepts.
    #[error("{what}: {why}")]
    InvalidPreset {
        /// The preset.
        what: &'static str,
        /// Why the arguments are refused.
        why: String,
    },
    /// A BAR registration QEMU would refuse (it asserts on these).
    #[error("BAR {region}: {why}")]
    InvalidBar {
        /// Region number (6 = expansion ROM).
        region: usize,
        /// Why it is refused.
        why: String,
    },
    /// A saved image whose size differs from the device's config space.
    #[error("saved config space is {saved} bytes but the device's is {device} bytes: a {saved}-byte image cannot be restored into a {device}-byte config space (QEMU has no message for this; its stream would desynchronize)")]
    SizeMismatch {
        /// Size of the saved image.
        saved: usize,
        /// Size of the device's config space.
        device: usize,
    },
    /// A config space size other than 256 or 4096 bytes.
    #[error("a config space is 256 or 4096 bytes, not {0}")]
    BadSize(usize),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wrappable<E: std::error::Error + Clone + Send + Sync + 'static>() {}

    #[test]
    fn errors_can_be_kept_as_sources_across_threads() {
        wrappable::<ConfigError>();
        wrappable::<crate::machine::MachineTypeError>();
        wrappable::<crate::vmstate::VmstateError>();
    }
}
