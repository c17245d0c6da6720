//! FULL sections: delimited by their vmdesc entry (or their footer), and the PCIDevice state in them.

use super::cursor::Cursor;
use super::entries::{pci_path_of, DeviceKind, PciDeviceEntry};
use super::format::*;
use super::pci_state::virtio_config_size;
use super::scan::find_footer;
use super::section::Walker;
use super::vfio::is_vfio;
use super::vmdesc::Content;
use crate::error::{ErrorKind, StreamError};

impl Walker {
    pub(super) fn full(&mut self, cur: &mut Cursor<'_>, index: usize) -> Result<(), StreamError> {
        let body = cur.pos();
        let (idstr, instance_id, version, id) = {
            let s = &self.sections[index];
            (s.idstr.clone(), s.instance_id, s.version_id, s.section_id)
        };
        let n = self.full_seen;
        self.full_seen += 1;
        let Some(desc) = self.desc.as_ref() else {
            return self.full_without_vmdesc(cur, index);
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
        let size = entry
            .body_size()
            .map_err(|m| cur.err(ErrorKind::Vmdesc, body, format!("vmdesc entry for '{idstr}': {m}")))?;
        self.sections[index].vmsd_name = entry.vmsd_name.clone();
        let content = entry.content();
        let vmsd_name = entry.vmsd_name.clone();
        cur.skip(size, "section body (size from the vmdesc)")?;
        if self.footers != Some(false) {
            // The footer must follow; if it does not, the vmdesc sizes are off (a field whose
            // elements differ in size): fall back to the footer itself, and say so.
            let mut f = [0u8; 5];
            let here = cur.pos();
            let at_footer = cur.read_exact_at(&mut f, here, "footer").is_ok()
                && f[0] == section_type::FOOTER
                && f[1..] == id.to_be_bytes();
            if !at_footer && self.footers == Some(true) {
                if let Some(fpos) = find_footer(cur, body, id, &mut self.scan_budget)? {
                    self.warnings.push(format!(
                        "{idstr}: the vmdesc puts the end of the section at byte {here:#x}, its footer is at {fpos:#x}; using the footer"
                    ));
                    cur.seek_to(fpos, "section end")?;
                }
            }
        }
        let end = cur.pos();
        let pci_path = pci_path_of(&idstr).map(str::to_string);
        let mk = |kind, field_path, config_size, config_offset| PciDeviceEntry {
            id: String::new(),
            idstr: idstr.clone(),
            instance_id,
            version,
            section_id: id,
            section_index: index,
            kind,
            vmsd_name: vmsd_name.clone(),
            field_path,
            pci_path: pci_path.clone(),
            config_size,
            config_offset,
        };
        match content {
            Content::Pci(loc) => {
                if loc.config_size != 256 && loc.config_size != 4096 {
                    return Err(cur.err(
                        ErrorKind::Vmdesc,
                        body,
                        format!(
                            "PCIDevice config of {} bytes in the vmdesc (expected 256 or 4096)",
                            loc.config_size
                        ),
                    ));
                }
                let cfg = body.saturating_add(loc.config_offset);
                if cfg.saturating_add(loc.config_size + 16) > end {
                    return Err(cur.err(
                        ErrorKind::Vmdesc,
                        body,
                        "the vmdesc places the PCIDevice state past the section",
                    ));
                }
                let dev = mk(DeviceKind::Vmsd, loc.path, loc.config_size as usize, cfg);
                self.devices.push(dev);
            }
            Content::Virtio { offset, size } if pci_path.is_some() && offset.saturating_add(size) <= end - body => {
                let state = body + offset;
                let cs = match virtio_config_size(cur, state, size, &mut self.virtio_searches) {
                    Some(cs) => cs,
                    None => self.pci_config_size(cur, state, size, None)?,
                };
                let dev = mk(DeviceKind::VirtioPci, vec!["virtio".to_string()], cs, state + 4);
                self.devices.push(dev);
            }
            Content::Other if entry.vmsd_name.is_none() && is_vfio(&idstr) => {
                if let Some((cs, cfg)) = self.vfio_config(cur, body, size)? {
                    let dev = mk(DeviceKind::VfioPci, Vec::new(), cs, cfg);
                    self.devices.push(dev);
                } else {
                    self.warnings.push(format!(
                        "{idstr}: the vfio config state is not in the main stream (multifd device-state transfer)"
                    ));
                }
            }
            _ => {}
        }
        Ok(())
    }

    pub(super) fn full_without_vmdesc(&mut self, cur: &mut Cursor<'_>, index: usize) -> Result<(), StreamError> {
        let body = cur.pos();
        let (idstr, id, instance_id, version) = {
            let s = &self.sections[index];
            (s.idstr.clone(), s.section_id, s.instance_id, s.version_id)
        };
        if self.footers == Some(false) {
            return Err(cur.err(
                ErrorKind::Vmdesc,
                body,
                "no vmdesc and no section footers: the length of this section is not recorded anywhere",
            ));
        }
        let end = find_footer(cur, body, id, &mut self.scan_budget)?.ok_or_else(|| {
            cur.err(
                ErrorKind::Vmdesc,
                body,
                "no vmdesc, and no section footer found: cannot delimit this section",
            )
        })?;
        cur.seek_to(end, "section end")?;
        // Without the vmdesc the layout is guessed: a section of a PCI path whose body starts
        // with the PCIDevice state (be32 2), as for virtio-pci and most vmsd devices, or vfio's
        // DEV_CONFIG_STATE marker.
        let Some(pci_path) = pci_path_of(&idstr).map(str::to_string) else {
            return Ok(());
        };
        let size = end - body;
        let (kind, state) = if is_vfio(&idstr) {
            match self.vfio_config(cur, body, size) {
                Ok(Some((_, cfg))) => (DeviceKind::VfioPci, cfg - 4),
                _ => return Ok(()),
            }
        } else {
            let mut v = [0u8; 4];
            if size < 4 + 256 + 16 || cur.read_exact_at(&mut v, body, "PCIDevice version").is_err() || v != [0, 0, 0, 2]
            {
                self.warnings.push(format!(
                    "{idstr}: no vmdesc, and the section does not start with a PCIDevice state"
                ));
                return Ok(());
            }
            let name = idstr.rsplit('/').next().unwrap_or("");
            (
                if name.starts_with("virtio-") {
                    DeviceKind::VirtioPci
                } else {
                    DeviceKind::Vmsd
                },
                body,
            )
        };
        let virtio = match kind {
            DeviceKind::VirtioPci => virtio_config_size(cur, state, size, &mut self.virtio_searches),
            _ => None,
        };
        let cs = match (kind, virtio) {
            (DeviceKind::VfioPci, _) => self.vfio_config(cur, body, size)?.map(|(cs, _)| cs).unwrap_or(256),
            (_, Some(cs)) => cs,
            _ => match self.pci_config_size(cur, state, size, None) {
                Ok(cs) => cs,
                Err(_) => return Ok(()),
            },
        };
        self.guessed += 1;
        self.devices.push(PciDeviceEntry {
            id: String::new(),
            idstr,
            instance_id,
            version,
            section_id: id,
            section_index: index,
            kind,
            vmsd_name: None,
            field_path: if kind == DeviceKind::VirtioPci {
                vec!["virtio".to_string()]
            } else {
                Vec::new()
            },
            pci_path: Some(pci_path),
            config_size: cs,
            config_offset: state + 4,
        });
        Ok(())
    }
}
