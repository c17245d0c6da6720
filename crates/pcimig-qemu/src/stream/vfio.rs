//! vfio-pci sections (hw/vfio/migration.c): the iterable device data walked by its markers, and
//! the old-style `<path>/vfio` section holding the config state.

use super::cursor::Cursor;
use super::format::{
    PCI_IRQ_STATE_LEN, PCI_STATE_VERSION_LEN, QEMU_VM_SUBSECTION, VFIO_MIG_FLAG_DEV_CONFIG_STATE,
    VFIO_MIG_FLAG_DEV_DATA_STATE, VFIO_MIG_FLAG_DEV_INIT_DATA_SENT, VFIO_MIG_FLAG_DEV_SETUP_STATE,
    VFIO_MIG_FLAG_END_OF_STATE, VFIO_MIG_FLAG_LEN,
};
use super::pci_state::msix_bytes;
use super::section::Walker;
use crate::error::{ErrorKind, StreamError};
use crate::limits::MAX_VFIO_RECORDS;

/// The idstr of vfio-pci's sections (`vfio`, `0000:00:04.0/vfio`).
const VFIO_IDSTR: &str = "vfio";

/// Whether a section is vfio-pci's.
pub(super) fn is_vfio(idstr: &str) -> bool {
    idstr == VFIO_IDSTR || idstr.strip_suffix(VFIO_IDSTR).is_some_and(|p| p.ends_with('/'))
}

/// One chunk of an iterable vfio section (vfio_load_state): markers until END_OF_STATE (or
/// DEV_INIT_DATA_SENT), each DEV_DATA_STATE record (be64 length, data) skipped.
pub(super) fn vfio_load_state(cur: &mut Cursor<'_>) -> Result<(), StreamError> {
    let mut n = 0u64;
    loop {
        let off = cur.pos();
        match cur.be64("vfio marker")? {
            VFIO_MIG_FLAG_END_OF_STATE | VFIO_MIG_FLAG_DEV_INIT_DATA_SENT => return Ok(()),
            VFIO_MIG_FLAG_DEV_SETUP_STATE => {}
            VFIO_MIG_FLAG_DEV_DATA_STATE => {
                let l = cur.be64("vfio data length")?;
                cur.skip(l, "vfio device data")?;
            }
            VFIO_MIG_FLAG_DEV_CONFIG_STATE => {
                return Err(cur.err(
                    ErrorKind::Malformed,
                    off,
                    "DEV_CONFIG_STATE in an iterable vfio section",
                ));
            }
            other => return Err(cur.err(ErrorKind::Malformed, off, format!("Unknown tag {other:#x}"))),
        }
        n += 1;
        if n > MAX_VFIO_RECORDS {
            return Err(cur.err(ErrorKind::TooLarge, off, "too many vfio records"));
        }
    }
}

/// Whether a subsection starts at `off`.
fn subsection_at(cur: &Cursor<'_>, off: u64) -> bool {
    cur.u8_at(off, "subsection").is_ok_and(|b| b == QEMU_VM_SUBSECTION)
}

/// The marker that ends the config state, at `off`.
fn check_end_of_state(cur: &Cursor<'_>, off: u64) -> Result<(), StreamError> {
    let marker = cur.be64_at(off, "vfio end marker")?;
    if marker != VFIO_MIG_FLAG_END_OF_STATE {
        return Err(cur.err(
            ErrorKind::Malformed,
            off,
            format!("vfio config state does not end with END_OF_STATE (read {marker:#018x})"),
        ));
    }
    Ok(())
}

impl Walker {
    /// The config state in an old-style vfio section of `size` bytes at `body`
    /// (vfio_save_device_config_state): be64 DEV_CONFIG_STATE, the PCIDevice state, the MSI-X
    /// table and PBA, an optional display subsection, be64 END_OF_STATE. Returns the config size
    /// (the one of 256/4096 for which that layout fills the section) and the config's offset;
    /// `None` for a section holding END_OF_STATE only (multifd device-state transfer).
    pub(super) fn vfio_config(
        &mut self,
        cur: &Cursor<'_>,
        body: u64,
        size: u64,
    ) -> Result<Option<(usize, u64)>, StreamError> {
        if size < VFIO_MIG_FLAG_LEN {
            return Err(cur.err(ErrorKind::Malformed, body, "vfio section body shorter than a marker"));
        }
        let marker = cur.be64_at(body, "vfio marker")?;
        if marker == VFIO_MIG_FLAG_END_OF_STATE && size == VFIO_MIG_FLAG_LEN {
            return Ok(None);
        }
        if marker != VFIO_MIG_FLAG_DEV_CONFIG_STATE {
            return Err(cur.err(
                ErrorKind::Malformed,
                body,
                format!(
                    "vfio section starts with {marker:#018x}, expected DEV_CONFIG_STATE {VFIO_MIG_FLAG_DEV_CONFIG_STATE:#018x}"
                ),
            ));
        }
        check_end_of_state(cur, body + size - VFIO_MIG_FLAG_LEN)?;
        let state = body + VFIO_MIG_FLAG_LEN;
        let fills_section = |cs: usize, config: &[u8]| -> bool {
            let fixed = VFIO_MIG_FLAG_LEN
                + PCI_STATE_VERSION_LEN
                + cs as u64
                + PCI_IRQ_STATE_LEN
                + msix_bytes(config)
                + VFIO_MIG_FLAG_LEN;
            fixed == size || (fixed < size && subsection_at(cur, body + fixed - VFIO_MIG_FLAG_LEN))
        };
        let cs = self.pci_config_size(cur, state, size - 2 * VFIO_MIG_FLAG_LEN, Some(&fills_section))?;
        Ok(Some((cs, state + PCI_STATE_VERSION_LEN)))
    }
}
