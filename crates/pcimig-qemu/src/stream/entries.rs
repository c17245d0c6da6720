//! What the walk finds: sections and PCI device entries, and the names they go by.

use super::format::PCI_STATE_VERSION_LEN;
use serde::Serialize;
use std::collections::HashMap;

/// Whether a section is written once or in chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SectionKind {
    /// QEMU_VM_SECTION_FULL: a device's non-iterable state.
    Full,
    /// QEMU_VM_SECTION_START, then PART…, then END (RAM, vfio device data).
    Iterable,
}

/// One section of the stream (all chunks of an iterable section together).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Section {
    /// Position in stream order (first appearance), 0-based.
    pub index: usize,
    /// The section id QEMU assigned.
    pub section_id: u32,
    /// The idstr, e.g. `0000:00:03.0/virtio-net`, `ram`, `cpu`.
    pub idstr: String,
    /// The instance id.
    pub instance_id: u32,
    /// The section's version_id.
    pub version_id: u32,
    /// FULL or iterable.
    pub kind: SectionKind,
    /// Offset of the section type byte of its first chunk.
    pub offset: u64,
    /// Offset of the body of its first chunk (after the header).
    pub body_offset: u64,
    /// Body bytes (summed over all chunks for an iterable section; footers and headers excluded).
    pub body_len: u64,
    /// Chunks (1 for FULL; START + PARTs + END for iterable sections).
    pub chunks: u32,
    /// The vmsd name from the vmdesc (None for old-style and iterable sections).
    pub vmsd_name: Option<String>,
}

/// How a PCI device's config is stored in its section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeviceKind {
    /// A device vmsd embedding the PCIDevice struct (e1000, xhci, root ports, chipset…).
    Vmsd,
    /// virtio-pci: the proxy's PCIDevice state at the start of the VMSTATE_VIRTIO_DEVICE field.
    VirtioPci,
    /// vfio-pci: old-style section, DEV_CONFIG_STATE marker, then VFIOPCIDevice state.
    VfioPci,
}

impl std::fmt::Display for DeviceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DeviceKind::Vmsd => "vmsd",
            DeviceKind::VirtioPci => "virtio-pci",
            DeviceKind::VfioPci => "vfio-pci",
        })
    }
}

/// A PCI device found in the stream, with where its saved config lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PciDeviceEntry {
    /// The name `FILE#DEVICE` accepts: the idstr, with `@N` (instance id) appended only when
    /// several sections share the idstr.
    pub id: String,
    /// The section idstr, e.g. `0000:00:03.0/virtio-net`.
    pub idstr: String,
    /// The section's instance id.
    pub instance_id: u32,
    /// The section's version_id.
    pub version: u32,
    /// The section id.
    pub section_id: u32,
    /// Index of the section in stream order (see [`Stream::sections`](super::Stream::sections)); QEMU loads, and fails,
    /// in this order.
    pub section_index: usize,
    /// How the config is stored.
    pub kind: DeviceKind,
    /// The vmsd name (`e1000`, `virtio-net`, …; `None` for vfio's old-style section).
    pub vmsd_name: Option<String>,
    /// The vmdesc field path from the section's vmsd down to the PCIDevice struct
    /// (e.g. `["parent_obj"]`; `["virtio"]` for virtio-pci; empty for vfio-pci).
    pub field_path: Vec<String>,
    /// The qdev path part of the idstr (`0000:00:03.0`, or `0000:00:03.0:00.0` behind a bridge).
    pub pci_path: Option<String>,
    /// Config bytes saved: 256 or 4096.
    pub config_size: usize,
    /// Stream byte offset of the config buffer (the PCIDevice be32 version_id is the 4 bytes
    /// before it; the 4 × be32 irq_state follow it).
    pub config_offset: u64,
}

impl PciDeviceEntry {
    /// Stream byte offset of the PCIDevice state (its be32 version_id).
    pub fn state_offset(&self) -> u64 {
        self.config_offset - PCI_STATE_VERSION_LEN
    }

    /// The entry of a device found in section `sec`, its config buffer `config_size` bytes at
    /// `config_offset`. Its [`PciDeviceEntry::id`] is given once all sections are known
    /// ([`name_devices`]).
    pub(super) fn found_in(
        sec: &Section,
        kind: DeviceKind,
        vmsd_name: Option<String>,
        field_path: Vec<String>,
        config_size: usize,
        config_offset: u64,
    ) -> PciDeviceEntry {
        PciDeviceEntry {
            id: String::new(),
            idstr: sec.idstr.clone(),
            instance_id: sec.instance_id,
            version: sec.version_id,
            section_id: sec.section_id,
            section_index: sec.index,
            kind,
            vmsd_name,
            field_path,
            pci_path: pci_path_of(&sec.idstr).map(str::to_string),
            config_size,
            config_offset,
        }
    }
}

/// Where the vmdesc JSON is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct VmdescInfo {
    /// Offset of the QEMU_VM_VMDESCRIPTION byte.
    pub offset: u64,
    /// JSON length.
    pub len: u32,
}

/// Whether `p` is a qdev PCI path: `DDDD:BB:SS.F`, then `:SS.F` for each bridge on the way.
fn is_pci_path(p: &str) -> bool {
    // DDDD:BB:SS.F then (:SS.F)*
    let b = p.as_bytes();
    let hex = |s: &[u8]| s.iter().all(|c| c.is_ascii_hexdigit());
    if b.len() < 12 || !hex(&b[0..4]) || b[4] != b':' || !hex(&b[5..7]) || b[7] != b':' {
        return false;
    }
    let mut rest = &b[8..];
    loop {
        if rest.len() < 4 || !hex(&rest[0..2]) || rest[2] != b'.' || !rest[3].is_ascii_digit() {
            return false;
        }
        rest = &rest[4..];
        if rest.is_empty() {
            return true;
        }
        if rest[0] != b':' {
            return false;
        }
        rest = &rest[1..];
    }
}

/// The qdev PCI path of an idstr (`0000:00:03.0/virtio-net` → `0000:00:03.0`).
pub fn pci_path_of(idstr: &str) -> Option<&str> {
    let (p, _) = idstr.split_once('/')?;
    is_pci_path(p).then_some(p)
}

/// Give each device the name `FILE#DEVICE` takes: its idstr, with `@instance` when several
/// sections share the idstr.
pub(super) fn name_devices(sections: &[Section], devices: &mut [PciDeviceEntry]) {
    let mut count: HashMap<&str, usize> = HashMap::new();
    for s in sections {
        *count.entry(s.idstr.as_str()).or_default() += 1;
    }
    for d in devices.iter_mut() {
        d.id = if count.get(d.idstr.as_str()).copied().unwrap_or(0) > 1 {
            format!("{}@{}", d.idstr, d.instance_id)
        } else {
            d.idstr.clone()
        };
    }
}
