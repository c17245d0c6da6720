//! FULL sections (the vmstate_load of qemu_loadvm_section_start_full): each body delimited by
//! its vmdesc entry (or, without a vmdesc, by its footer), and the PCIDevice state found in it.

use super::cursor::Cursor;
use super::entries::{pci_path_of, DeviceKind, PciDeviceEntry, Section};
use super::format::{is_pci_irq_state, PCI_IRQ_STATE_LEN, PCI_STATE_VERSION_LEN};
use super::pci_state::virtio_config_size;
use super::scan::{find_footer, footer_at, other_footer_at};
use super::section::Walker;
use super::vfio::is_vfio;
use super::vmdesc::{Content, PciLoc};
use crate::error::{ErrorKind, StreamError};
use pcimig_config::regs::{PCIE_CONFIG_SPACE_SIZE, PCI_CONFIG_SPACE_SIZE};
use pcimig_config::vmstate::PCI_DEVICE_VMSTATE_VERSION;

/// The vmdesc field (and field type) of a virtio-pci proxy's VMSTATE_VIRTIO_DEVICE.
const VIRTIO_FIELD: &str = "virtio";
/// The vmsd name prefix of virtio devices (`virtio-net`, `virtio-blk`, …).
const VIRTIO_PREFIX: &str = "virtio-";

/// Where a FULL section's body is.
#[derive(Debug, Clone, Copy)]
struct Body {
    /// Its first byte.
    start: u64,
    /// One past its last byte (where its footer is).
    end: u64,
    /// Its length as the vmdesc gives it.
    described: u64,
}

/// The field path of a device kind's PCIDevice state when no vmdesc names it.
fn field_path_of(kind: DeviceKind) -> Vec<String> {
    match kind {
        DeviceKind::VirtioPci => vec![VIRTIO_FIELD.to_string()],
        DeviceKind::Vmsd | DeviceKind::VfioPci => Vec::new(),
    }
}

/// The PCIDevice state where the vmdesc places it (its config at `cfg`, `size` bytes) must be
/// one QEMU loads (vmstate_pci_device): a be32 version_id in 0..=2 (get_int32_le: "Invalid
/// value N expecting positive value <= 2") and an irq_state of 0s and 1s (get_pci_irq_state:
/// "irq state N: must be 0 or 1."). Otherwise the vmdesc's field sizes disagree with the
/// stream (QEMU does not read the vmdesc; pcimig would compare the wrong bytes), or QEMU
/// refuses the state: refused either way.
fn check_pci_state(cur: &Cursor<'_>, cfg: u64, size: u64) -> Result<(), StreamError> {
    let state = cfg - PCI_STATE_VERSION_LEN;
    let version = cur.be32_at(state, "PCIDevice version_id")? as i32;
    let mut irq = [0u8; PCI_IRQ_STATE_LEN as usize];
    cur.read_exact_at(&mut irq, cfg + size, "irq_state")?;
    let irq_ok = irq.chunks(4).all(is_pci_irq_state);
    if (0..=PCI_DEVICE_VMSTATE_VERSION).contains(&version) && irq_ok {
        return Ok(());
    }
    let what = if irq_ok {
        format!("version_id {version} (QEMU loads 0..={PCI_DEVICE_VMSTATE_VERSION})")
    } else {
        format!("an irq_state of other values than 0 and 1 at byte {:#x}", cfg + size)
    };
    Err(cur.err(
        ErrorKind::Vmdesc,
        state,
        format!(
            "the PCIDevice state where the vmdesc places it has {what}: the vmdesc's field sizes disagree with the \
             stream, or QEMU refuses the state"
        ),
    ))
}

impl Walker {
    /// A FULL section's body: its size from its vmdesc entry (which must name the same section),
    /// checked against the footer that follows; then the PCI device in it, if any.
    pub(super) fn full(&mut self, cur: &mut Cursor<'_>, sec: &Section) -> Result<(), StreamError> {
        let start = cur.pos();
        let Some(entry) = self.layout.next_entry_for(cur, &sec.idstr, sec.instance_id, start)? else {
            return self.full_without_vmdesc(cur, sec);
        };
        let described = entry.body_size().map_err(|m| {
            cur.err(
                ErrorKind::Vmdesc,
                start,
                format!("vmdesc entry for '{}': {m}", sec.idstr),
            )
        })?;
        let (content, vmsd_name) = (entry.content(), entry.vmsd_name.clone());
        self.found.sections[sec.index].vmsd_name = vmsd_name.clone();
        cur.skip(described, "section body (size from the vmdesc)")?;
        self.end_at_footer(cur, start, sec)?;
        let body = Body {
            start,
            end: cur.pos(),
            described,
        };
        self.device_from_vmdesc(cur, sec, body, content, vmsd_name)
    }

    /// The footer must follow a body the vmdesc delimited. A footer of another section id there
    /// is QEMU's check_section_footer failure (the section's id was changed, or the sections
    /// merged): refused with QEMU's line. No footer there: the vmdesc sizes are off (a field whose
    /// elements differ in size): the body ends at the footer, and a warning says so.
    fn end_at_footer(&mut self, cur: &mut Cursor<'_>, start: u64, sec: &Section) -> Result<(), StreamError> {
        let here = cur.pos();
        if self.format.footers == Some(false) || footer_at(cur, here, sec.section_id) {
            return Ok(());
        }
        if let Some(read) = other_footer_at(cur, here) {
            return Err(cur.err(
                ErrorKind::Malformed,
                here,
                format!(
                    "Mismatched section id in footer for {} - read {read:#x} expected {:#x}",
                    sec.idstr, sec.section_id
                ),
            ));
        }
        if self.format.footers.is_none() {
            return Ok(());
        }
        if let Some(fpos) = find_footer(cur, start, sec.section_id, &mut self.budget.footer_scan)? {
            self.found.warn(format!(
                "{}: the vmdesc puts the end of the section at byte {here:#x}, its footer is at {fpos:#x}; using the footer",
                sec.idstr
            ));
            cur.seek_to(fpos, "section end")?;
        }
        Ok(())
    }

    /// The PCI device the vmdesc entry's layout shows: an embedded PCIDevice, a virtio-pci
    /// proxy's virtio field, or vfio-pci's old-style section.
    fn device_from_vmdesc(
        &mut self,
        cur: &Cursor<'_>,
        sec: &Section,
        body: Body,
        content: Content,
        vmsd_name: Option<String>,
    ) -> Result<(), StreamError> {
        match content {
            Content::Pci(loc) => self.vmsd_device(cur, sec, body, loc, vmsd_name),
            Content::Virtio { offset, size }
                if pci_path_of(&sec.idstr).is_some() && offset.saturating_add(size) <= body.end - body.start =>
            {
                self.virtio_device(cur, sec, body.start + offset, size, vmsd_name)
            }
            Content::Other if vmsd_name.is_none() && is_vfio(&sec.idstr) => {
                self.vfio_device(cur, sec, body.start, body.described)
            }
            _ => Ok(()),
        }
    }

    /// A vmsd embedding the PCIDevice struct: its config where the vmdesc field walk puts it.
    fn vmsd_device(
        &mut self,
        cur: &Cursor<'_>,
        sec: &Section,
        body: Body,
        loc: PciLoc,
        vmsd_name: Option<String>,
    ) -> Result<(), StreamError> {
        let size = loc.config_size;
        if size != PCI_CONFIG_SPACE_SIZE as u64 && size != PCIE_CONFIG_SPACE_SIZE as u64 {
            return Err(cur.err(
                ErrorKind::Vmdesc,
                body.start,
                format!("PCIDevice config of {size} bytes in the vmdesc (expected 256 or 4096)"),
            ));
        }
        let cfg = body.start.saturating_add(loc.config_offset);
        if cfg.saturating_add(size + PCI_IRQ_STATE_LEN) > body.end {
            return Err(cur.err(
                ErrorKind::Vmdesc,
                body.start,
                "the vmdesc places the PCIDevice state past the section",
            ));
        }
        check_pci_state(cur, cfg, size)?;
        let dev = PciDeviceEntry::found_in(sec, DeviceKind::Vmsd, vmsd_name, loc.path, size as usize, cfg);
        self.found.push_device(cur, dev)
    }

    /// A virtio-pci proxy: its PCIDevice state starts the virtio field at `state`, `room`
    /// bytes long.
    fn virtio_device(
        &mut self,
        cur: &Cursor<'_>,
        sec: &Section,
        state: u64,
        room: u64,
        vmsd_name: Option<String>,
    ) -> Result<(), StreamError> {
        let cs = match virtio_config_size(cur, state, room, &mut self.budget.virtio_searches) {
            Some(cs) => cs,
            None => self.pci_config_size(cur, state, room, None)?,
        };
        let kind = DeviceKind::VirtioPci;
        let dev = PciDeviceEntry::found_in(
            sec,
            kind,
            vmsd_name,
            field_path_of(kind),
            cs,
            state + PCI_STATE_VERSION_LEN,
        );
        self.found.push_device(cur, dev)
    }

    /// vfio-pci's old-style section of `size` bytes at `start`; its config state may instead
    /// travel outside the main stream (multifd device-state transfer), which a warning says.
    fn vfio_device(&mut self, cur: &Cursor<'_>, sec: &Section, start: u64, size: u64) -> Result<(), StreamError> {
        match self.vfio_config(cur, start, size)? {
            Some((cs, cfg)) => {
                let kind = DeviceKind::VfioPci;
                let dev = PciDeviceEntry::found_in(sec, kind, None, field_path_of(kind), cs, cfg);
                self.found.push_device(cur, dev)?;
            }
            None => self.found.warn(format!(
                "{}: the vfio config state is not in the main stream (multifd device-state transfer)",
                sec.idstr
            )),
        }
        Ok(())
    }

    /// A FULL section without a vmdesc: delimited by its footer, and the layout guessed: a
    /// section of a PCI path whose body starts with the PCIDevice state (be32 2), as for
    /// virtio-pci and most vmsd devices, or with vfio's DEV_CONFIG_STATE marker.
    fn full_without_vmdesc(&mut self, cur: &mut Cursor<'_>, sec: &Section) -> Result<(), StreamError> {
        let start = cur.pos();
        let end = self.footer_after(cur, start, sec.section_id)?;
        cur.seek_to(end, "section end")?;
        if pci_path_of(&sec.idstr).is_none() {
            return Ok(());
        }
        let size = end - start;
        let Some((kind, state)) = self.guess_state(cur, sec, start, size) else {
            return Ok(());
        };
        let Some(cs) = self.guess_config_size(cur, kind, start, state, size)? else {
            return Ok(());
        };
        let dev = PciDeviceEntry::found_in(sec, kind, None, field_path_of(kind), cs, state + PCI_STATE_VERSION_LEN);
        self.found.push_device(cur, dev)
    }

    /// Where the footer of a section whose body starts at `start` is (its body's end), found by
    /// searching for it.
    fn footer_after(&mut self, cur: &Cursor<'_>, start: u64, id: u32) -> Result<u64, StreamError> {
        if self.format.footers == Some(false) {
            return Err(cur.err(
                ErrorKind::Vmdesc,
                start,
                "no vmdesc and no section footers: the length of this section is not recorded anywhere",
            ));
        }
        find_footer(cur, start, id, &mut self.budget.footer_scan)?.ok_or_else(|| {
            cur.err(
                ErrorKind::Vmdesc,
                start,
                "no vmdesc, and no section footer found: cannot delimit this section",
            )
        })
    }

    /// The device kind and where its PCIDevice state starts, guessed from the section's idstr
    /// and first bytes; `None` (with a warning for a non-vfio section) when they do not fit.
    fn guess_state(&mut self, cur: &Cursor<'_>, sec: &Section, start: u64, size: u64) -> Option<(DeviceKind, u64)> {
        if is_vfio(&sec.idstr) {
            return match self.vfio_config(cur, start, size) {
                Ok(Some((_, cfg))) => Some((DeviceKind::VfioPci, cfg - PCI_STATE_VERSION_LEN)),
                _ => None,
            };
        }
        let smallest = PCI_STATE_VERSION_LEN + PCI_CONFIG_SPACE_SIZE as u64 + PCI_IRQ_STATE_LEN;
        let version = || cur.be32_at(start, "PCIDevice version").ok();
        if size < smallest || version() != Some(PCI_DEVICE_VMSTATE_VERSION as u32) {
            self.found.warn(format!(
                "{}: no vmdesc, and the section does not start with a PCIDevice state",
                sec.idstr
            ));
            return None;
        }
        let name = sec.idstr.rsplit('/').next().unwrap_or("");
        let kind = if name.starts_with(VIRTIO_PREFIX) {
            DeviceKind::VirtioPci
        } else {
            DeviceKind::Vmsd
        };
        Some((kind, start))
    }

    /// The config size of a guessed PCIDevice state at `state`, in a section of `size` bytes at
    /// `start`; `None` when no size fits.
    fn guess_config_size(
        &mut self,
        cur: &Cursor<'_>,
        kind: DeviceKind,
        start: u64,
        state: u64,
        size: u64,
    ) -> Result<Option<usize>, StreamError> {
        if kind == DeviceKind::VfioPci {
            // Decided again, as the reader always has (so a version_id warning appears twice).
            let cs = self.vfio_config(cur, start, size)?.map(|(cs, _)| cs);
            return Ok(Some(cs.unwrap_or(PCI_CONFIG_SPACE_SIZE)));
        }
        if kind == DeviceKind::VirtioPci {
            if let Some(cs) = virtio_config_size(cur, state, size, &mut self.budget.virtio_searches) {
                return Ok(Some(cs));
            }
        }
        Ok(self.pci_config_size(cur, state, size, None).ok())
    }
}
