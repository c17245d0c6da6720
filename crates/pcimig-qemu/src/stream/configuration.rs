//! The configuration section (vmstate_configuration): machine type, target page bits, capabilities.

use super::cursor::Cursor;
use super::format::*;
use super::section::Walker;
use crate::error::{ErrorKind, StreamError};

impl Walker {
    pub(super) fn configuration(&mut self, cur: &mut Cursor<'_>) -> Result<(), StreamError> {
        cur.u8("configuration")?;
        let at = cur.pos();
        let l = cur.be32("machine type length")?;
        let name = cur
            .bytes(u64::from(l), 256, "machine type")
            .map_err(|e| StreamError { offset: Some(at), ..e })?;
        self.machine_type = Some(String::from_utf8_lossy(&name).into_owned());
        while cur.peek_u8() == Some(section_type::SUBSECTION) {
            let off = cur.pos();
            cur.u8("subsection")?;
            let name = cur.short_str("subsection name")?;
            let _version = cur.be32("subsection version")?;
            match name.as_str() {
                "configuration/target-page-bits" => {
                    let bits = cur.be32("target page bits")?;
                    if !(9..=20).contains(&bits) {
                        return Err(cur.err(
                            ErrorKind::Malformed,
                            off,
                            format!("target page bits {bits} out of range"),
                        ));
                    }
                    self.page_size = 1 << bits;
                }
                "configuration/capabilities" => {
                    let n = cur.be32("capability count")?;
                    if n > 256 {
                        return Err(cur.err(ErrorKind::TooLarge, off, format!("{n} capabilities")));
                    }
                    for _ in 0..n {
                        let c = cur.short_str("capability")?;
                        self.capabilities.push(c);
                    }
                }
                "configuration/uuid" => cur.skip(16, "uuid")?,
                other => {
                    // Size it from the vmdesc if it describes it.
                    let size = self
                        .desc
                        .as_ref()
                        .and_then(|d| d.configuration.as_ref())
                        .and_then(|c| c.subsections.iter().find(|s| s.vmsd_name == other))
                        .map(|s| {
                            s.fields
                                .iter()
                                .map(|f| f.size.unwrap_or(0) * f.array_len.unwrap_or(1).max(1))
                                .sum::<u64>()
                        });
                    match size {
                        Some(n) => cur.skip(n, "configuration subsection")?,
                        None => {
                            return Err(cur.err(
                                ErrorKind::Unsupported,
                                off,
                                format!("unknown configuration subsection '{other}'"),
                            ))
                        }
                    }
                }
            }
        }
        Ok(())
    }
}
