//! Reading QEMU's error output from a failed incoming migration: the lines of interest as typed
//! events, whatever the prefix (`qemu-system-x86_64: `, `-msg timestamp=on`'s time, a libvirt
//! log's time and level) and whichever QEMU wrote them.
//!
//! QEMU 7.2 … 10.0 print one `error_report` line per level of the error chain
//! (`Failed to load PCIDevice:config`, `error while loading state for instance 0x0 of device
//! '…'`, `load of migration failed: Invalid argument`); QEMU 10.2 and newer (10.2.2's
//! `migration/savevm.c` and `migration.c`; 11.1.3 observed) propagate the errors as one `Error`
//! and print the chain on one line, `: `-separated (`load of migration failed: Invalid argument:
//! error while loading state for instance 0x0 of device '…': Failed to load …`), without the
//! `savevm` wording (`Unknown section or instance`, `unsupported version N for …`).
//! Each marker below is therefore searched anywhere in a line, and a line may hold several.

use serde::Serialize;

/// `get_pci_config_device`'s line: the first config byte whose checked bits differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BadConfig {
    /// The config offset (`i=`).
    pub offset: usize,
    /// The saved byte (`read:`).
    pub saved: u8,
    /// The destination device's byte (`device:`).
    pub device: u8,
    /// The destination's cmask at that byte.
    pub cmask: u8,
    /// The destination's wmask at that byte.
    pub wmask: u8,
    /// The destination's w1cmask at that byte.
    pub w1cmask: u8,
}

impl BadConfig {
    /// The bits QEMU refused: checked (cmask, not writable, not W1C) and different.
    pub fn bad_bits(&self) -> u8 {
        (self.saved ^ self.device) & self.cmask & !self.wmask & !self.w1cmask
    }
}

/// One line (or part of a line) of QEMU's output that explains the failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// `get_pci_config_device: Bad config data: i=0x.. read: .. device: .. cmask: .. wmask: ..
    /// w1cmask:..` (hw/pci/pci.c).
    BadConfig(BadConfig),
    /// `error while loading state for instance 0x.. of device '…'` (vmstate_load, savevm.c).
    LoadState {
        /// The section's instance id.
        instance_id: u32,
        /// The section idstr (`0000:00:03.0/e1000e`, or `ram`).
        idstr: String,
    },
    /// `Size mismatch: BLOCK: 0xSAVED != 0xDEST` (qemu_ram_resize since QEMU 6.0), or the older
    /// `Length mismatch: BLOCK: 0xSAVED in != 0xDEST`.
    RamBlockSize {
        /// The RAM block idstr (`0000:00:03.0/e1000e.rom`).
        block: String,
        /// The saved (incoming) length.
        saved: u64,
        /// The destination's length.
        dest: u64,
    },
    /// `Unknown ramblock "…", cannot accept migration` (ram.c).
    UnknownRamBlock {
        /// The RAM block idstr.
        block: String,
    },
    /// `Unknown savevm section or instance '…' N` (10.2 on: `Unknown section or instance`).
    UnknownSection {
        /// The section idstr.
        idstr: String,
        /// The instance id.
        instance_id: u32,
    },
    /// `savevm: unsupported version N for '…' vM` (10.2 on: without `savevm: `).
    UnsupportedVersion {
        /// The section idstr.
        idstr: String,
        /// The version in the stream.
        saved: u32,
        /// The newest version the destination loads.
        dest: u32,
    },
    /// `Machine type received is '…' and local is '…'` (configuration_post_load).
    MachineDiffers {
        /// The stream's machine type.
        received: String,
        /// The destination's.
        local: String,
    },
    /// `unsupported machine type` (10.0 and 11.1 add `: "NAME"`): the destination QEMU does not
    /// define the `-machine` it was started with.
    MachineUnsupported {
        /// The machine type, when QEMU names it.
        machine: Option<String>,
    },
    /// `load of migration failed: REASON` (process_incoming_migration_co): the final line.
    LoadFailed {
        /// Its text after the marker (10.2 on: the whole error chain).
        reason: String,
    },
}

/// Every event of `log`, in order. Lines are taken as text (invalid UTF-8 replaced).
pub fn events(log: &str) -> Vec<Event> {
    log.lines().flat_map(line_events).collect()
}

/// The events of one line: each marker found anywhere in it.
fn line_events(line: &str) -> Vec<Event> {
    let mut out = Vec::new();
    if let Some(e) = bad_config(line) {
        out.push(Event::BadConfig(e));
    }
    out.extend(ram_block_size(line));
    out.extend(quoted_after(line, "Unknown ramblock \"", '"').map(|block| Event::UnknownRamBlock { block }));
    out.extend(unknown_section(line));
    out.extend(unsupported_version(line));
    out.extend(machine_differs(line));
    out.extend(machine_unsupported(line));
    out.extend(load_state(line));
    if let Some(reason) = after(line, "load of migration failed: ") {
        out.push(Event::LoadFailed {
            reason: reason.trim().to_string(),
        });
    }
    out
}

/// The text after the first `marker` in `line`.
fn after<'a>(line: &'a str, marker: &str) -> Option<&'a str> {
    line.find(marker).map(|i| &line[i + marker.len()..])
}

/// The text after `marker` up to the next `close`.
fn quoted_after(line: &str, marker: &str, close: char) -> Option<String> {
    let rest = after(line, marker)?;
    Some(rest[..rest.find(close)?].to_string())
}

/// A hexadecimal number with or without `0x`, as QEMU's `%x` and `0x%x` print it.
fn hex(s: &str) -> Option<u64> {
    let s = s.trim();
    let digits = s.strip_prefix("0x").unwrap_or(s);
    u64::from_str_radix(digits, 16).ok()
}

/// The hex value after `key` (`i=`, `read:`) up to the next space.
fn field(rest: &str, key: &str) -> Option<u64> {
    let v = after(rest, key)?.trim_start();
    hex(v.split_whitespace().next()?)
}

fn byte_field(rest: &str, key: &str) -> Option<u8> {
    u8::try_from(field(rest, key)?).ok()
}

/// get_pci_config_device's `Bad config data: i=0x%x read: %x device: %x cmask: %x wmask: %x
/// w1cmask:%x`.
fn bad_config(line: &str) -> Option<BadConfig> {
    let rest = after(line, "Bad config data:")?;
    Some(BadConfig {
        offset: usize::try_from(field(rest, "i=")?).ok()?,
        saved: byte_field(rest, "read:")?,
        device: byte_field(rest, "device:")?,
        cmask: byte_field(rest, "cmask:")?,
        wmask: byte_field(rest, "wmask:")?,
        w1cmask: byte_field(rest, "w1cmask:")?,
    })
}

/// qemu_ram_resize's `Size mismatch: %s: 0x%x != 0x%x` (since QEMU 6.0) or `Length mismatch:
/// %s: 0x%x in != 0x%x` (before): the incoming length first.
fn ram_block_size(line: &str) -> Option<Event> {
    let rest = after(line, "Size mismatch: ").or_else(|| after(line, "Length mismatch: "))?;
    let (block, sizes) = rest.rsplit_once(": 0x").map(|(b, s)| (b, format!("0x{s}")))?;
    let sizes = sizes.split(": ").next().unwrap_or("");
    let (saved, dest) = sizes.split_once("!=")?;
    Some(Event::RamBlockSize {
        block: block.to_string(),
        saved: hex(saved.split_whitespace().next()?)?,
        dest: hex(dest.split_whitespace().next()?)?,
    })
}

/// `Unknown savevm section or instance '%s' %u` (10.2 on: `Unknown section or instance`).
fn unknown_section(line: &str) -> Option<Event> {
    let marker = if line.contains("Unknown savevm section or instance '") {
        "Unknown savevm section or instance '"
    } else {
        "Unknown section or instance '"
    };
    let rest = after(line, marker)?;
    let end = rest.find('\'')?;
    let instance_id = rest[end + 1..]
        .trim_start()
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()?;
    Some(Event::UnknownSection {
        idstr: rest[..end].to_string(),
        instance_id,
    })
}

/// `unsupported version %d for '%s' v%d` (with `savevm: ` before QEMU 10.2).
fn unsupported_version(line: &str) -> Option<Event> {
    let rest = after(line, "unsupported version ")?;
    let (saved, rest) = rest.split_once(" for '")?;
    let (idstr, rest) = rest.split_once("' v")?;
    let dest = rest.split(|c: char| !c.is_ascii_digit()).next()?;
    Some(Event::UnsupportedVersion {
        idstr: idstr.to_string(),
        saved: saved.trim().parse().ok()?,
        dest: dest.parse().ok()?,
    })
}

/// configuration_post_load's `Machine type received is '%s' and local is '%s'`.
fn machine_differs(line: &str) -> Option<Event> {
    let received = quoted_after(line, "Machine type received is '", '\'')?;
    let local = quoted_after(line, "' and local is '", '\'')?;
    Some(Event::MachineDiffers { received, local })
}

/// `unsupported machine type` (7.2), `unsupported machine type: "NAME"` (10.0, 11.1).
fn machine_unsupported(line: &str) -> Option<Event> {
    let rest = after(line, "unsupported machine type")?;
    let machine = quoted_after(rest, "\"", '"');
    Some(Event::MachineUnsupported { machine })
}

/// vmstate_load's `error while loading state for instance 0x%x of device '%s'`.
fn load_state(line: &str) -> Option<Event> {
    let rest = after(line, "error while loading state for instance ")?;
    let (instance, rest) = rest.split_once(" of device '")?;
    let idstr = rest[..rest.find('\'')?].to_string();
    Some(Event::LoadState {
        instance_id: u32::try_from(hex(instance)?).ok()?,
        idstr,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_config_line_reads_every_field_after_any_prefix() {
        let line = "2026-12-03T01:57:57.025551Z qemu-system-x86_64: get_pci_config_device: Bad config data: \
                    i=0xec read: 10 device: 11 cmask: ff wmask: 0 w1cmask:0";
        let e = bad_config(line).unwrap();
        assert_eq!(
            e,
            BadConfig {
                offset: 0xec,
                saved: 0x10,
                device: 0x11,
                cmask: 0xff,
                wmask: 0,
                w1cmask: 0
            }
        );
        assert_eq!(e.bad_bits(), 0x01);
    }

    #[test]
    fn old_length_mismatch_wording_names_the_incoming_length_first() {
        let e = ram_block_size("Length mismatch: 0000:00:03.0/e1000.rom: 0x40000 in != 0x80000: Invalid argument");
        assert_eq!(
            e,
            Some(Event::RamBlockSize {
                block: "0000:00:03.0/e1000.rom".into(),
                saved: 0x40000,
                dest: 0x80000
            })
        );
    }

    #[test]
    fn one_line_may_hold_the_whole_chain() {
        let line = "qemu-system-x86_64: load of migration failed: Invalid argument: error while loading state \
                    for instance 0x1 of device '0000:00:03.0/e1000e': Failed to load element";
        let ev = line_events(line);
        assert!(ev.contains(&Event::LoadState {
            instance_id: 1,
            idstr: "0000:00:03.0/e1000e".into()
        }));
        assert!(matches!(ev.last(), Some(Event::LoadFailed { .. })));
    }

    #[test]
    fn truncated_lines_give_no_event_and_no_panic() {
        for l in [
            "Bad config data: i=0x",
            "Bad config data: i=0x2 read: zz",
            "Size mismatch: x",
            "Unknown ramblock \"abc",
            "unsupported version 3 for 'x",
            "error while loading state for instance 0x",
            "Machine type received is 'a",
        ] {
            assert!(line_events(l).is_empty(), "{l}");
        }
    }
}
