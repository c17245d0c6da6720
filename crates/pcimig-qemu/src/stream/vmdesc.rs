//! The trailing vmdesc JSON: where it is, and what it says about each FULL section's layout.

use super::cursor::Cursor;
use crate::error::{ErrorKind, StreamError};
use serde::Deserialize;

/// The largest vmdesc read (analyze-migration.py looks at the last 10 MiB only).
pub const MAX_VMDESC: u64 = 10 * 1024 * 1024;

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
        // QEMU_VM_SUBSECTION, name length, name, be32 version, then the subsection's state.
        let hdr = 1 + 1 + s.vmsd_name.len() as u64 + 4;
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

fn find(fields: &[Field], subsections: &[Vmsd], base: u64, path: &mut Vec<String>, depth: usize) -> Option<Content> {
    if depth > 32 {
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
        off = off.checked_add(1 + 1 + s.vmsd_name.len() as u64 + 4)?;
        path.push(s.vmsd_name.clone());
        if let Some(c) = find(&s.fields, &s.subsections, off, path, depth + 1) {
            return Some(c);
        }
        path.pop();
        off = off.checked_add(fields_size(&s.fields, &s.subsections).ok()?)?;
    }
    None
}

/// Where the vmdesc record (0x06, be32 length, JSON) is: found from the end of the file, as
/// QEMU writes it last. Returns the offset of the 0x06 byte and the JSON length.
pub(crate) fn locate(cur: &Cursor<'_>) -> Result<Option<(u64, u32)>, StreamError> {
    let len = cur.len();
    let window = len.min(MAX_VMDESC + 6);
    let start = len - window;
    const CHUNK: u64 = 64 * 1024;
    let mut buf = vec![0u8; (CHUNK + 8) as usize];
    // Walk backwards in chunks that overlap by 8 bytes; the candidate nearest the end wins
    // (JSON text holds no raw 0x06 byte, so only the real header can satisfy the length check).
    let mut hi = len;
    while hi > start {
        let lo = hi.saturating_sub(CHUNK).max(start);
        let end = (hi + 8).min(len);
        let n = (end - lo) as usize;
        cur.read_exact_at(&mut buf[..n], lo, "vmdesc search")?;
        for i in (0..n).rev() {
            if buf[i] != 0x06 {
                continue;
            }
            let p = lo + i as u64;
            if p + 6 > len {
                continue;
            }
            let mut h = [0u8; 6];
            if i + 6 <= n {
                h.copy_from_slice(&buf[i..i + 6]);
            } else {
                cur.read_exact_at(&mut h, p, "vmdesc header")?;
            }
            let l = u32::from_be_bytes([h[1], h[2], h[3], h[4]]);
            if p + 5 + u64::from(l) == len && h[5] == b'{' {
                return Ok(Some((p, l)));
            }
        }
        hi = lo;
    }
    Ok(None)
}

/// Read and parse the vmdesc at `off` (the 0x06 byte), `len` JSON bytes.
pub(crate) fn read(cur: &Cursor<'_>, path: &str, off: u64, len: u32) -> Result<Vmdesc, StreamError> {
    let mut buf = vec![0u8; len as usize];
    cur.read_exact_at(&mut buf, off + 5, "vmdesc JSON")?;
    serde_json::from_slice(&buf).map_err(|e| {
        StreamError::at(
            path,
            ErrorKind::Vmdesc,
            off + 5,
            format!("vmdesc JSON is not usable: {e}"),
        )
    })
}
