//! The configuration section (vmstate_configuration, migration/savevm.c): the machine type, the
//! target page size and the capabilities that change the stream's format; with what the walk
//! learns of the format elsewhere (postcopy page sizes, section footers).

use super::cursor::Cursor;
use super::format::{
    CAPABILITY_MAPPED_RAM, CAPABILITY_X_IGNORE_SHARED, CONFIGURATION_CAPABILITIES, CONFIGURATION_TARGET_PAGE_BITS,
    CONFIGURATION_UUID, QEMU_VM_CONFIGURATION, QEMU_VM_SUBSECTION, TARGET_PAGE_BITS_MAX, TARGET_PAGE_BITS_MIN,
    UUID_LEN,
};
use super::section::Walker;
use super::vmdesc::Vmdesc;
use crate::error::{ErrorKind, StreamError};
use crate::limits::{MAX_CAPABILITIES, MAX_MACHINE_TYPE_LEN};

/// The page size when neither the configuration nor the vmdesc gives one (x86's).
const DEFAULT_PAGE_SIZE: u64 = 4096;

/// The stream's format: what the configuration section says, what the postcopy advise command
/// says, and whether sections end with footers.
#[derive(Debug)]
pub(super) struct StreamFormat {
    /// The machine type (e.g. `pc-q35-10.0`).
    pub(super) machine_type: Option<String>,
    /// The target page size (RAM page headers hold flags in its low bits).
    pub(super) page_size: u64,
    /// The format-changing capabilities (`x-ignore-shared`, `mapped-ram`).
    pub(super) capabilities: Vec<String>,
    /// MIG_CMD_POSTCOPY_ADVISE's page-size summary: RAM blocks with other page sizes carry one
    /// more word.
    pub(super) postcopy_page_sizes: Option<u64>,
    /// Whether sections end with footers (known once the first section has ended).
    pub(super) footers: Option<bool>,
}

impl StreamFormat {
    /// The format before the configuration section: `page_size` from the vmdesc, if it has one.
    pub(super) fn new(page_size: Option<u64>) -> StreamFormat {
        StreamFormat {
            machine_type: None,
            page_size: page_size.unwrap_or(DEFAULT_PAGE_SIZE),
            capabilities: Vec::new(),
            postcopy_page_sizes: None,
            footers: None,
        }
    }

    /// Whether the configuration lists a capability.
    fn has_capability(&self, name: &str) -> bool {
        self.capabilities.iter().any(|c| c == name)
    }

    /// mapped-ram: RAM pages at fixed file offsets after each block's header.
    pub(super) fn mapped_ram(&self) -> bool {
        self.has_capability(CAPABILITY_MAPPED_RAM)
    }

    /// x-ignore-shared: each RAM block's guest address follows its length.
    pub(super) fn ignore_shared(&self) -> bool {
        self.has_capability(CAPABILITY_X_IGNORE_SHARED)
    }
}

impl Walker {
    /// The configuration section, when the stream starts with one (QEMU refuses streams without
    /// it on machines that send one; a warning says so).
    pub(super) fn load_configuration(&mut self, cur: &mut Cursor<'_>) -> Result<(), StreamError> {
        if cur.peek_u8() == Some(QEMU_VM_CONFIGURATION) {
            return configuration(cur, &mut self.format, self.layout.desc.as_ref());
        }
        self.found
            .warn("no configuration section (QEMU refuses this stream on machines that send one)".into());
        Ok(())
    }
}

/// The configuration's load (qemu_loadvm_state_header, vmstate_configuration): be32 length and
/// the machine type, then its subsections.
fn configuration(cur: &mut Cursor<'_>, format: &mut StreamFormat, desc: Option<&Vmdesc>) -> Result<(), StreamError> {
    cur.u8("configuration")?;
    let at = cur.pos();
    let l = cur.be32("machine type length")?;
    let name = cur
        .bytes(u64::from(l), MAX_MACHINE_TYPE_LEN, "machine type")
        .map_err(|e| StreamError { offset: Some(at), ..e })?;
    format.machine_type = Some(String::from_utf8_lossy(&name).into_owned());
    while cur.peek_u8() == Some(QEMU_VM_SUBSECTION) {
        configuration_subsection(cur, format, desc)?;
    }
    Ok(())
}

/// One subsection of the configuration: QEMU_VM_SUBSECTION, its name, be32 version, its state.
fn configuration_subsection(
    cur: &mut Cursor<'_>,
    format: &mut StreamFormat,
    desc: Option<&Vmdesc>,
) -> Result<(), StreamError> {
    let off = cur.pos();
    cur.u8("subsection")?;
    let name = cur.short_str("subsection name")?;
    let _version = cur.be32("subsection version")?;
    match name.as_str() {
        CONFIGURATION_TARGET_PAGE_BITS => format.page_size = target_page_size(cur, off)?,
        CONFIGURATION_CAPABILITIES => capabilities(cur, off, &mut format.capabilities)?,
        CONFIGURATION_UUID => cur.skip(UUID_LEN, "uuid")?,
        other => match desc.and_then(|d| d.configuration_subsection_len(other)) {
            Some(n) => cur.skip(n, "configuration subsection")?,
            None => {
                return Err(cur.err(
                    ErrorKind::Unsupported,
                    off,
                    format!("unknown configuration subsection '{other}'"),
                ))
            }
        },
    }
    Ok(())
}

/// vmstate_target_page_bits: be32 TARGET_PAGE_BITS.
fn target_page_size(cur: &mut Cursor<'_>, off: u64) -> Result<u64, StreamError> {
    let bits = cur.be32("target page bits")?;
    if !(TARGET_PAGE_BITS_MIN..=TARGET_PAGE_BITS_MAX).contains(&bits) {
        return Err(cur.err(
            ErrorKind::Malformed,
            off,
            format!("target page bits {bits} out of range"),
        ));
    }
    Ok(1 << bits)
}

/// vmstate_capabilites (sic): be32 count, then each capability's name (one-byte length).
fn capabilities(cur: &mut Cursor<'_>, off: u64, into: &mut Vec<String>) -> Result<(), StreamError> {
    let n = cur.be32("capability count")?;
    if n > MAX_CAPABILITIES {
        return Err(cur.err(ErrorKind::TooLarge, off, format!("{n} capabilities")));
    }
    for _ in 0..n {
        into.push(cur.short_str("capability")?);
    }
    Ok(())
}
