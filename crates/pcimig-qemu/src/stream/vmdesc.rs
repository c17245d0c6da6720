//! The trailing vmdesc JSON: what it says about each FULL section's layout, and the walk's use
//! of it (the entry the next FULL section must match).

use super::cursor::Cursor;
use super::entries::VmdescInfo;
use super::format::{subsection_header_len, TARGET_PAGE_BITS_MAX, TARGET_PAGE_BITS_MIN, VMDESC_HEADER_LEN};
use super::scan::locate_vmdesc;
use crate::error::{ErrorKind, StreamError};
use crate::limits::{MAX_VMDESC, MAX_VMDESC_DEPTH};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub(crate) struct Vmdesc {
    #[serde(default)]
    pub page_size: Option<u64>,
    #[serde(default)]
    pub configuration: Option<Vmsd>,
    #[serde(default)]
    pub devices: Vec<DescEntry>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct DescEntry {
    pub name: String,
    pub instance_id: u32,
    #[serde(default)]
    pub vmsd_name: Option<String>,
    #[serde(default)]
    pub size: Option<u64>,
    #[serde(default)]
    pub fields: Vec<Field>,
    #[serde(default)]
    pub subsections: Vec<Vmsd>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Vmsd {
    #[serde(default)]
    pub vmsd_name: String,
    #[serde(default)]
    pub fields: Vec<Field>,
    #[serde(default)]
    pub subsections: Vec<Vmsd>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Field {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: String,
    #[serde(default)]
    pub size: Option<u64>,
    #[serde(default)]
    pub array_len: Option<u64>,
    #[serde(rename = "struct", default)]
    pub strukt: Option<Box<Vmsd>>,
}

/// Where the PCIDevice state sits inside a vmsd section body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PciLoc {
    /// Offset of the config buffer from the start of the body.
    pub config_offset: u64,
    /// Its size from the vmdesc ("pci config" field size).
    pub config_size: u64,
    /// Field names from the top-level vmsd down to the PCIDevice struct.
    pub path: Vec<String>,
}

/// What a FULL section's vmdesc entry says its content is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Content {
    /// PCIDevice embedded in a vmsd.
    Pci(PciLoc),
    /// A VMSTATE_VIRTIO_DEVICE field at this body offset.
    Virtio { offset: u64, size: u64 },
    /// Anything else.
    Other,
}

fn field_total(f: &Field) -> Result<u64, String> {
    let size = f.size.ok_or_else(|| format!("field '{}' has no size", f.name))?;
    size.checked_mul(f.array_len.unwrap_or(1).max(1))
        .ok_or_else(|| format!("field '{}' size overflows", f.name))
}

fn fields_size(fields: &[Field], subsections: &[Vmsd]) -> Result<u64, String> {
    let mut total: u64 = 0;
    for f in fields {
        total = total.checked_add(field_total(f)?).ok_or("size overflows")?;
    }
    for s in subsections {
        // The subsection's header, then its state.
        let hdr = subsection_header_len(s.vmsd_name.len());
        total = total
            .checked_add(hdr)
            .and_then(|t| t.checked_add(fields_size(&s.fields, &s.subsections).ok()?))
            .ok_or("size overflows")?;
    }
    Ok(total)
}

impl DescEntry {
    /// The body length of the section this entry describes.
    pub(crate) fn body_size(&self) -> Result<u64, String> {
        if self.vmsd_name.is_none() {
            // Old-style section: "size" at the top.
            return self.size.ok_or_else(|| "old-style entry without a size".to_string());
        }
        fields_size(&self.fields, &self.subsections)
    }

    /// Find the PCIDevice (or a virtio field) in the layout.
    pub(crate) fn content(&self) -> Content {
        let mut path = Vec::new();
        if let Some(c) = find(&self.fields, &self.subsections, 0, &mut path, 0) {
            return c;
        }
        Content::Other
    }
}

/// Find the PCIDevice struct (or a virtio field) in a layout, its body offset from `base`.
fn find(fields: &[Field], subsections: &[Vmsd], base: u64, path: &mut Vec<String>, depth: usize) -> Option<Content> {
    if depth > MAX_VMDESC_DEPTH {
        return None;
    }
    let mut off = base;
    for f in fields {
        if f.ty == "struct" {
            if let Some(s) = &f.strukt {
                if s.vmsd_name == "PCIDevice" {
                    let mut inner = off;
                    for pf in &s.fields {
                        if pf.ty == "pci config" {
                            let mut p = path.clone();
                            p.push(f.name.clone());
                            return Some(Content::Pci(PciLoc {
                                config_offset: inner,
                                config_size: pf.size.unwrap_or(0),
                                path: p,
                            }));
                        }
                        inner = inner.checked_add(field_total(pf).ok()?)?;
                    }
                    return None;
                }
                path.push(f.name.clone());
                if let Some(c) = find(&s.fields, &s.subsections, off, path, depth + 1) {
                    return Some(c);
                }
                path.pop();
            }
        } else if f.ty == "virtio" {
            return Some(Content::Virtio {
                offset: off,
                size: f.size.unwrap_or(0),
            });
        }
        off = off.checked_add(field_total(f).ok()?)?;
    }
    for s in subsections {
        off = off.checked_add(subsection_header_len(s.vmsd_name.len()))?;
        path.push(s.vmsd_name.clone());
        if let Some(c) = find(&s.fields, &s.subsections, off, path, depth + 1) {
            return Some(c);
        }
        path.pop();
        off = off.checked_add(fields_size(&s.fields, &s.subsections).ok()?)?;
    }
    None
}

/// Read and parse the vmdesc at `off` (the QEMU_VM_VMDESCRIPTION byte), `len` JSON bytes.
fn read(cur: &Cursor<'_>, off: u64, len: u32) -> Result<Vmdesc, StreamError> {
    let json = off + VMDESC_HEADER_LEN;
    let mut buf = vec![0u8; len as usize];
    cur.read_exact_at(&mut buf, json, "vmdesc JSON")?;
    serde_json::from_slice(&buf)
        .map_err(|e| cur.err(ErrorKind::Vmdesc, json, format!("vmdesc JSON is not usable: {e}")))
}

impl Vmdesc {
    /// The page size the vmdesc gives, when it is one the reader accepts.
    fn accepted_page_size(&self) -> Option<u64> {
        self.page_size
            .filter(|ps| ps.is_power_of_two() && (1 << TARGET_PAGE_BITS_MIN..=1 << TARGET_PAGE_BITS_MAX).contains(ps))
    }

    /// The state size of a configuration subsection the vmdesc describes (its fields' sizes).
    pub(crate) fn configuration_subsection_len(&self, name: &str) -> Option<u64> {
        self.configuration
            .as_ref()
            .and_then(|c| c.subsections.iter().find(|s| s.vmsd_name == name))
            .map(|s| {
                s.fields
                    .iter()
                    .map(|f| f.size.unwrap_or(0).saturating_mul(f.array_len.unwrap_or(1).max(1)))
                    .fold(0u64, u64::saturating_add)
            })
    }
}

/// The vmdesc as the walk uses it.
#[derive(Debug, Default)]
pub(crate) struct Layout {
    /// The parsed JSON, when the stream has a vmdesc.
    pub(crate) desc: Option<Vmdesc>,
    /// Where its record is.
    pub(crate) info: Option<VmdescInfo>,
    /// The entry the next FULL section must match (QEMU writes one per FULL section, in order).
    pub(crate) next_entry: usize,
}

impl Layout {
    /// Find the vmdesc record from the end of the file (QEMU writes it last) and parse it: it is
    /// read before the sections, because it delimits FULL sections.
    pub(crate) fn load(cur: &Cursor<'_>) -> Result<Layout, StreamError> {
        let Some((off, len)) = locate_vmdesc(cur)? else {
            return Ok(Layout::default());
        };
        if u64::from(len) > MAX_VMDESC {
            return Err(cur.err(
                ErrorKind::TooLarge,
                off + 1,
                format!("vmdesc length {len:#x} exceeds the limit MAX_VMDESC ({MAX_VMDESC:#x} bytes)"),
            ));
        }
        Ok(Layout {
            desc: Some(read(cur, off, len)?),
            info: Some(VmdescInfo { offset: off, len }),
            next_entry: 0,
        })
    }

    /// The page size the vmdesc gives, when it is one the reader accepts.
    pub(crate) fn page_size(&self) -> Option<u64> {
        self.desc.as_ref().and_then(Vmdesc::accepted_page_size)
    }

    /// The entry for the next FULL section, `sec`, whose body starts at `body`: it must be there
    /// and name the same idstr and instance.
    pub(crate) fn next_entry_for(
        &mut self,
        cur: &Cursor<'_>,
        idstr: &str,
        instance_id: u32,
        body: u64,
    ) -> Result<Option<&DescEntry>, StreamError> {
        let n = self.next_entry;
        self.next_entry += 1;
        let Some(desc) = self.desc.as_ref() else {
            return Ok(None);
        };
        let Some(entry) = desc.devices.get(n) else {
            return Err(cur.err(
                ErrorKind::Vmdesc,
                body,
                format!(
                    "the vmdesc describes {} sections, the stream has more",
                    desc.devices.len()
                ),
            ));
        };
        if entry.name != idstr || entry.instance_id != instance_id {
            return Err(cur.err(
                ErrorKind::Vmdesc,
                body,
                format!(
                    "vmdesc entry {n} is '{}' instance {}, the stream's section is '{idstr}' instance {instance_id}",
                    entry.name, entry.instance_id
                ),
            ));
        }
        Ok(Some(entry))
    }
}
