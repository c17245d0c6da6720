//! # pcimig-qemu
//!
//! A reader of QEMU 10.0.2 migration streams (`migrate` to a `file:` URI, or a captured
//! outgoing stream saved to a file) that finds every PCI device's saved config space.
//!
//! ```no_run
//! use pcimig_qemu::Stream;
//! let stream = Stream::open("vm.mig")?;
//! println!("machine {:?}", stream.machine_type());
//! for dev in stream.pci_devices() {
//!     // dev.id is the name `vm.mig#DEVICE` accepts, e.g. "0000:00:03.0/virtio-net".
//!     let config = stream.read_config(dev)?; // 256 or 4096 bytes
//!     println!("{} {} {} bytes at {:#x}", dev.id, dev.kind, config.len(), dev.config_offset);
//! }
//! # Ok::<(), pcimig_qemu::StreamError>(())
//! ```
//!
//! ## What it reads
//! The QEVM magic and version 3, the configuration section (machine type, target page bits,
//! format capabilities), START/PART/END/FULL sections with their footers, COMMAND sections,
//! EOF and the trailing vmdesc JSON. Only regular files are read: a pipe or FIFO is refused
//! ([`ErrorKind::NotSeekable`]), because the vmdesc is needed first and it is at the end.
//!
//! * **RAM** (`ram`, iterable, version 4) is walked page header by page header and every page
//!   payload is skipped without being read (mapped-ram layouts are skipped by their offsets),
//!   so memory stays bounded (a 64 KiB read window, plus the vmdesc, at most 10 MiB).
//! * **FULL sections** have no length in the stream: their length comes from their vmdesc
//!   entry (the sum of the field sizes QEMU recorded, plus subsection headers), checked
//!   against the footer that follows. Without a vmdesc, the footer is searched for.
//! * **vfio iterable sections** are walked by their VFIO_MIG_FLAG markers. Other iterable
//!   sections (`dirty-bitmap`, …) are refused with [`ErrorKind::Unsupported`].
//!
//! ## Where the PCI config is ([`DeviceKind`])
//! * [`DeviceKind::Vmsd`]: a vmsd that embeds the `PCIDevice` struct (e1000, e1000e, rtl8139,
//!   vmxnet3, xhci, intel-hda, bridges, root ports, mch, ICH9 LPC/SMBus/AHCI…). The vmdesc
//!   field walk gives the struct's offset and the config size.
//! * [`DeviceKind::VirtioPci`]: the `virtio` field of a section whose idstr has a PCI path;
//!   the proxy's PCIDevice state comes first (config at body offset 4). Its size (256 or 4096)
//!   is decided from the stream: 4096 when the saved header has a PCI Express capability,
//!   confirmed by the layout virtio_save writes after it (irq_state, MSI-X table and PBA,
//!   config_len, queue count), which also decides when the header's capability chain is damaged.
//! * [`DeviceKind::VfioPci`]: the old-style `<path>/vfio` section: be64 DEV_CONFIG_STATE, then
//!   the PCIDevice state, MSI-X table and PBA, optional display subsection, be64 END_OF_STATE.
//!   The size is the one of 256/4096 for which that layout fills the section exactly.
//!
//! Each [`PciDeviceEntry`] gives the absolute byte offset of the config buffer
//! ([`PciDeviceEntry::config_offset`]) and its size, so callers can patch bytes in place, and
//! the section's position in stream order ([`PciDeviceEntry::section_index`]).
//! [`Stream::read_config`] reads the saved bytes, [`Stream::read_bytes`] any other size at an
//! offset (QEMU reads as many bytes as the *destination* device's config has), and
//! [`Stream::find_device`] resolves the name `FILE#DEVICE` takes. Sections of PCI devices whose
//! vmsd saves no PCIDevice state (sdhci-pci) are in [`Stream::pci_sections_without_config`].
//!
//! Streams without a vmdesc (`-machine suppress-vmdesc=on`) are read by their section footers,
//! with the PCIDevice state assumed at the start of each PCI device section (a warning says so).
//! [`build::StreamBuilder`] writes streams in QEMU's format for tests (vfio-pci included).
//!
//! ## Errors
//! [`StreamError`] names the file, the byte offset and the section, e.g.
//! `stream.mig: section 12 '0000:00:03.0/virtio-net' at byte 0x1f2a0: length 0xffffffff exceeds the file`.
//! Lengths read from the stream are checked against the file size (and fixed caps) before
//! anything is allocated.
#![deny(missing_docs)]

pub mod build;
mod error;
pub mod limits;
mod stream;

pub use error::{ErrorKind, SectionRef, StreamError};
pub use limits::{MAX_SECTIONS, MAX_VMDESC};
pub use stream::{
    pci_path_of, section_type, vfio_flag, DeviceKind, PciDeviceEntry, RamBlock, Section, SectionKind, Stream,
    VmdescInfo, QEMU_VM_FILE_MAGIC, QEMU_VM_FILE_VERSION, QEMU_VM_FILE_VERSION_COMPAT,
};
pub mod devices;
