//! vfio-pci sections: the iterable device data by its markers, and the old-style config section.

use super::cursor::Cursor;
use super::format::*;
use super::pci_state::msix_bytes;
use super::section::Walker;
use crate::error::{ErrorKind, StreamError};

pub(super) fn is_vfio(idstr: &str) -> bool {
    idstr == "vfio" || idstr.ends_with("/vfio")
}

pub(super) fn subsection_at(cur: &Cursor<'_>, off: u64) -> bool {
    let mut b = [0u8; 1];
    cur.read_exact_at(&mut b, off, "subsection").is_ok() && b[0] == section_type::SUBSECTION
}

pub(super) fn vfio_iterable(cur: &mut Cursor<'_>) -> Result<(), StreamError> {
    let mut n = 0u64;
    loop {
        let off = cur.pos();
        let m = cur.be64("vfio marker")?;
        match m {
            vfio_flag::END_OF_STATE | vfio_flag::DEV_INIT_DATA_SENT => return Ok(()),
            vfio_flag::DEV_SETUP_STATE => {}
            vfio_flag::DEV_DATA_STATE => {
                let l = cur.be64("vfio data length")?;
                cur.skip(l, "vfio device data")?;
            }
            vfio_flag::DEV_CONFIG_STATE => {
                return Err(cur.err(
                    ErrorKind::Malformed,
                    off,
                    "DEV_CONFIG_STATE in an iterable vfio section",
                ));
            }
            other => return Err(cur.err(ErrorKind::Malformed, off, format!("Unknown tag {other:#x}"))),
        }
        n += 1;
        if n > 1 << 32 {
            return Err(cur.err(ErrorKind::TooLarge, off, "too many vfio records"));
        }
    }
}

impl Walker {
    pub(super) fn vfio_config(
        &mut self,
        cur: &mut Cursor<'_>,
        body: u64,
        size: u64,
    ) -> Result<Option<(usize, u64)>, StreamError> {
        let mut m = [0u8; 8];
        if size < 8 {
            return Err(cur.err(ErrorKind::Malformed, body, "vfio section body shorter than a marker"));
        }
        cur.read_exact_at(&mut m, body, "vfio marker")?;
        let marker = u64::from_be_bytes(m);
        if marker == vfio_flag::END_OF_STATE && size == 8 {
            return Ok(None);
        }
        if marker != vfio_flag::DEV_CONFIG_STATE {
            return Err(cur.err(
                ErrorKind::Malformed,
                body,
                format!(
                    "vfio section starts with {marker:#018x}, expected DEV_CONFIG_STATE {:#018x}",
                    vfio_flag::DEV_CONFIG_STATE
                ),
            ));
        }
        let mut tail = [0u8; 8];
        cur.read_exact_at(&mut tail, body + size - 8, "vfio end marker")?;
        if u64::from_be_bytes(tail) != vfio_flag::END_OF_STATE {
            return Err(cur.err(
                ErrorKind::Malformed,
                body + size - 8,
                format!(
                    "vfio config state does not end with END_OF_STATE (read {:#018x})",
                    u64::from_be_bytes(tail)
                ),
            ));
        }
        // body = marker(8) + PCIDevice(4 + cs + 16) + MSI-X table and PBA + [display subsection] + marker(8)
        let state = body + 8;
        let check = |cs: usize, config: &[u8]| -> bool {
            let msix = msix_bytes(config);
            let fixed = 8 + 4 + cs as u64 + 16 + msix + 8;
            fixed == size || (fixed < size && subsection_at(cur, body + fixed - 8))
        };
        let cs = self.pci_config_size(cur, state, size - 16, Some(&check))?;
        Ok(Some((cs, state + 4)))
    }
}
