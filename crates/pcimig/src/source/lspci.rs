//! `lspci -x`, `-xxx` and `-xxxx` text, read as pciutils' dump reader (`lib/dump.c`, what
//! `lspci -F FILE` uses) reads it:
//!
//! - a device starts at a line beginning `BB:DD.F ` or `DDDD:BB:DD.F ` (a domain of 4 to 6 hex
//!   digits), followed by a space and whatever lspci printed after it;
//! - hex lines `OFF: xx xx …` (2 to 8 hex digits of offset) fill that device's bytes; every other
//!   line (decoded text, `-v` output) is skipped; a blank line ends the device;
//! - bytes a dump does not give read as 0xff, as in pciutils; the device has as many bytes as the
//!   highest offset written (64 for `-x`, 256 for `-xxx`, 4096 for `-xxxx`);
//! - CRLF line ends are accepted; a hex line with anything but pairs of hex digits separated by
//!   single spaces is an error (pciutils: `dump: Malformed line`), named by line and file offset.
//!
//! Unlike pciutils, a last line without a newline and lines longer than 255 bytes are accepted.

use super::{ConfigSource, SourceError, SourceSpec, Truncation};
use pcimig_config::regs::{
    PCIE_CONFIG_SPACE_SIZE, PCI_CAPABILITY_LIST, PCI_CONFIG_HEADER_SIZE, PCI_CONFIG_SPACE_SIZE, PCI_STATUS,
    PCI_STATUS_CAP_LIST,
};
use std::io::BufRead;

/// Highest config offset a dump may hold (pciutils: "At most 4096 bytes of config space").
const MAX_CONFIG: usize = PCIE_CONFIG_SPACE_SIZE;

/// A device address as lspci writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bdf {
    /// PCI domain (segment); `None` when the text gives none (domain 0).
    pub domain: Option<u32>,
    /// Bus.
    pub bus: u8,
    /// Device (slot) 0..31.
    pub device: u8,
    /// Function 0..7.
    pub function: u8,
}

impl Bdf {
    /// The domain, 0 when none is written.
    pub fn domain_or_zero(&self) -> u32 {
        self.domain.unwrap_or(0)
    }

    /// `DDDD:BB:DD.F`, always with the domain.
    pub fn full(&self) -> String {
        format!(
            "{:04x}:{:02x}:{:02x}.{}",
            self.domain_or_zero(),
            self.bus,
            self.device,
            self.function
        )
    }

    /// Parse `BB:DD.F` or `DDDD:BB:DD.F` (domain of 1 to 8 hex digits, case-insensitive) exactly;
    /// `None` for anything else.
    pub fn parse(s: &str) -> Option<Bdf> {
        let s = s.trim();
        let (domain, rest) = match s.matches(':').count() {
            2 => {
                let (d, rest) = s.split_once(':')?;
                if d.is_empty() || d.len() > 8 || !d.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return None;
                }
                (Some(u32::from_str_radix(d, 16).ok()?), rest)
            }
            1 => (None, s),
            _ => return None,
        };
        let (bus, rest) = rest.split_once(':')?;
        let (dev, func) = rest.split_once('.')?;
        let hex = |t: &str, max: usize| -> Option<u8> {
            if t.is_empty() || t.len() > max || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            u8::from_str_radix(t, 16).ok()
        };
        let bus = hex(bus, 2)?;
        let device = hex(dev, 2)?;
        if device > 31 || func.len() != 1 {
            return None;
        }
        let function = func.parse::<u8>().ok().filter(|f| *f < 8)?;
        Some(Bdf {
            domain,
            bus,
            device,
            function,
        })
    }

    /// Whether a selector names this device: a selector without a domain matches any domain.
    pub fn matches(&self, selector: &Bdf) -> bool {
        (selector.bus, selector.device, selector.function) == (self.bus, self.device, self.function)
            && selector.domain.is_none_or(|d| d == self.domain_or_zero())
    }
}

impl std::fmt::Display for Bdf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.domain {
            Some(d) => write!(f, "{d:04x}:{:02x}:{:02x}.{}", self.bus, self.device, self.function),
            None => write!(f, "{:02x}:{:02x}.{}", self.bus, self.device, self.function),
        }
    }
}

/// One device of a dump, before it becomes a [`ConfigSource`].
#[derive(Debug, Clone)]
pub struct DumpDevice {
    /// Its address as the text writes it.
    pub bdf: Bdf,
    /// 1-based line number of its header line.
    pub line: usize,
    /// The rest of the header line (lspci's description), trimmed.
    pub description: String,
    /// The bytes, 0xff where the dump gives none; as long as the highest byte written.
    pub bytes: Vec<u8>,
    /// Which bytes the dump gave (1) or not (0): bytes, so that memchr finds the gaps.
    present: Vec<u8>,
}

fn is_hex(b: u8) -> bool {
    HEX[usize::from(b)] != 0xff
}

fn hex_val(b: u8) -> u8 {
    HEX[usize::from(b)]
}

/// A device header line: `BB:DD.F ` or `DDDD:BB:DD.F ` with a 4..6 digit domain, as pciutils'
/// dump_validate patterns. Returns the address and the rest of the line.
fn device_line(line: &[u8]) -> Option<(Bdf, &[u8])> {
    // Position of the bus: after an optional domain and ':'.
    let mut domain = None;
    let mut p = 0;
    let hex_run = line.iter().take_while(|&&b| is_hex(b)).count();
    if (4..=6).contains(&hex_run) && line.get(hex_run) == Some(&b':') {
        domain = Some(
            line[..hex_run]
                .iter()
                .fold(0u32, |v, &b| (v << 4) | u32::from(hex_val(b))),
        );
        p = hex_run + 1;
    }
    let rest = &line[p..];
    // "##:##.# "
    if rest.len() < 8
        || !(is_hex(rest[0]) && is_hex(rest[1]) && rest[2] == b':' && is_hex(rest[3]) && is_hex(rest[4]))
        || rest[5] != b'.'
        || !is_hex(rest[6])
        || rest[7] != b' '
    {
        return None;
    }
    let bus = (hex_val(rest[0]) << 4) | hex_val(rest[1]);
    let device = (hex_val(rest[3]) << 4) | hex_val(rest[4]);
    let function = match rest[6] {
        f @ b'0'..=b'7' => f - b'0',
        _ => return None,
    };
    if device > 31 {
        return None;
    }
    Some((
        Bdf {
            domain,
            bus,
            device,
            function,
        },
        &rest[8..],
    ))
}

/// A hex line `OFF: ` with 2..8 hex digits of offset; returns the offset and the rest.
fn hex_line(line: &[u8]) -> Option<(usize, &[u8])> {
    let n = line.iter().take_while(|&&b| is_hex(b)).count();
    if !(2..=8).contains(&n) || line.get(n) != Some(&b':') || line.get(n + 1) != Some(&b' ') {
        return None;
    }
    let off = line[..n].iter().fold(0u64, |v, &b| (v << 4) | u64::from(hex_val(b)));
    Some((usize::try_from(off).unwrap_or(usize::MAX), &line[n + 2..]))
}

/// Whether `data` looks like lspci text: some line in the first 64 KiB is a device header line.
pub(super) fn looks_like_lspci(data: &[u8]) -> bool {
    let head = &data[..data.len().min(64 * 1024)];
    if head.contains(&0) {
        return false;
    }
    head.split(|&b| b == b'\n').any(|l| device_line(l).is_some())
}

/// Hex digit values; 0xff for a non-hex byte.
const HEX: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

/// Longest line kept; the rest of a longer line is skipped without being stored.
const MAX_LINE: usize = 64 * 1024;

/// Parse every device of a dump held in memory. Errors name the file, line and byte offset.
pub fn parse(origin: &str, data: &[u8]) -> Result<Vec<DumpDevice>, SourceError> {
    parse_reader(origin, data)
}

struct Parser<'o, 'e> {
    origin: &'o str,
    emit: &'e mut dyn FnMut(DumpDevice) -> Result<(), SourceError>,
    current: Option<DumpDevice>,
    lineno: usize,
    /// Every device address seen (domain, bus, device, function packed), with its line: a
    /// device given twice is an error, not last-wins (8 bytes and a line per device).
    seen: std::collections::HashMap<u64, usize>,
}

/// The device length is the highest byte written, as pciutils counts it.
fn finish(mut d: DumpDevice) -> DumpDevice {
    let len = memchr::memrchr(1, &d.present).map_or(0, |i| i + 1);
    d.bytes.truncate(len);
    d.present.truncate(len);
    d
}

impl Parser<'_, '_> {
    fn close(&mut self) -> Result<(), SourceError> {
        match self.current.take() {
            Some(d) => (self.emit)(finish(d)),
            None => Ok(()),
        }
    }

    /// A device line: the same address (domain 0 when none is written) twice is an error
    /// naming both lines.
    fn first_time(&mut self, bdf: &Bdf) -> Result<(), SourceError> {
        let key = (u64::from(bdf.domain_or_zero()) << 16)
            | (u64::from(bdf.bus) << 8)
            | (u64::from(bdf.device) << 3)
            | u64::from(bdf.function);
        match self.seen.insert(key, self.lineno) {
            None => Ok(()),
            Some(first) => Err(SourceError::new(
                self.origin,
                format!(
                    "line {}: device {} appears again (first at line {first}); a dump holds each device once, and \
                     pcimig does not pick one of two",
                    self.lineno,
                    bdf.full()
                ),
            )),
        }
    }

    /// One line (without its newline) starting at file offset `line_start`.
    fn line(&mut self, mut line: &[u8], line_start: usize) -> Result<(), SourceError> {
        self.lineno += 1;
        if line.last() == Some(&b'\r') {
            line = &line[..line.len() - 1];
        }
        let Some(&first) = line.first() else {
            return self.close();
        };
        // Decoded text (lspci -v lines) starts with white space: neither a device nor hex.
        if first == b'\t' || first == b' ' || HEX[usize::from(first)] == 0xff {
            return Ok(());
        }
        if let Some((off, rest)) = hex_line(line) {
            return self.hex_bytes(line, line_start, off, rest);
        }
        if let Some((bdf, rest)) = device_line(line) {
            self.close()?;
            self.first_time(&bdf)?;
            self.current = Some(DumpDevice {
                bdf,
                line: self.lineno,
                description: String::from_utf8_lossy(rest).trim().to_string(),
                bytes: Vec::new(),
                present: Vec::new(),
            });
        }
        Ok(())
    }

    /// The bytes of one hex line (`rest`, after the offset `off`) into the current device;
    /// hex lines before any device line are skipped.
    fn hex_bytes(
        &mut self,
        line: &[u8],
        line_start: usize,
        mut off: usize,
        mut rest: &[u8],
    ) -> Result<(), SourceError> {
        let Some(dev) = self.current.as_mut() else {
            return Ok(());
        };
        if whole_line(dev, off, rest) {
            return Ok(());
        }
        while rest.len() >= 2 {
            let (hi, lo) = (HEX[usize::from(rest[0])], HEX[usize::from(rest[1])]);
            if hi | lo == 0xff || (rest.len() > 2 && rest[2] != b' ') {
                break;
            }
            if off >= MAX_CONFIG {
                return Err(SourceError::at(
                    self.origin,
                    (line_start + line.len() - rest.len()) as u64,
                    format!(
                        "line {}: config offset {off:#x} is past 4096 bytes, the most a config space has",
                        self.lineno
                    ),
                ));
            }
            if off >= dev.bytes.len() {
                dev.cover(off + 1);
            }
            dev.bytes[off] = (hi << 4) | lo;
            dev.present[off] = 1;
            off += 1;
            rest = if rest.len() > 2 { &rest[3..] } else { &rest[2..] };
        }
        if rest.is_empty() {
            return Ok(());
        }
        let col = line.len() - rest.len();
        let shown: String = String::from_utf8_lossy(&rest[..rest.len().min(16)]).into_owned();
        Err(SourceError::at(
            self.origin,
            (line_start + col) as u64,
            format!(
                "line {}, column {}: malformed hex line: expected two hex digits and a space, found {shown:?}",
                self.lineno,
                col + 1
            ),
        ))
    }
}

/// Bytes on one whole hex line, as lspci writes it.
const LINE_BYTES: usize = 16;
/// The text of a whole hex line after its offset: `LINE_BYTES` pairs of digits, single spaces.
const WHOLE_LINE_TEXT: usize = 3 * LINE_BYTES - 1;

/// Fast path: a whole line of 16 bytes, as lspci writes it. Whether it was one (and stored).
fn whole_line(dev: &mut DumpDevice, off: usize, rest: &[u8]) -> bool {
    if rest.len() != WHOLE_LINE_TEXT || off + LINE_BYTES > MAX_CONFIG {
        return false;
    }
    let mut out = [0u8; LINE_BYTES];
    let mut ok = true;
    for (k, o) in out.iter_mut().enumerate() {
        let (hi, lo) = (HEX[usize::from(rest[3 * k])], HEX[usize::from(rest[3 * k + 1])]);
        ok &= (hi | lo) != 0xff && (k == LINE_BYTES - 1 || rest[3 * k + 2] == b' ');
        *o = (hi << 4) | (lo & 0xf);
    }
    if !ok {
        return false;
    }
    dev.cover(off + LINE_BYTES);
    dev.bytes[off..off + LINE_BYTES].copy_from_slice(&out);
    dev.present[off..off + LINE_BYTES].fill(1);
    true
}

impl DumpDevice {
    /// Grow the bytes (0xff, not present) to the config size that holds bytes up to `end`
    /// (exclusive): the header, the standard config space or the extended one, as lspci's
    /// `-x`, `-xxx` and `-xxxx` dump them.
    fn cover(&mut self, end: usize) {
        let need = if end <= PCI_CONFIG_HEADER_SIZE {
            PCI_CONFIG_HEADER_SIZE
        } else if end <= PCI_CONFIG_SPACE_SIZE {
            PCI_CONFIG_SPACE_SIZE
        } else {
            MAX_CONFIG
        };
        if self.bytes.len() < need {
            self.bytes.resize(need, 0xff);
            self.present.resize(need, 0);
        }
    }
}

/// Parse every device of a dump read through a buffer (memory: the devices, not the text).
pub fn parse_reader<R: BufRead>(origin: &str, reader: R) -> Result<Vec<DumpDevice>, SourceError> {
    let mut devices = Vec::new();
    parse_each(origin, reader, &mut |d| {
        devices.push(d);
        Ok(())
    })?;
    Ok(devices)
}

/// Parse a dump, handing each device to `emit` as soon as it is complete (at the next device
/// line, a blank line or the end), in file order. Lines are taken from the reader's buffer in
/// place; only a line split across two buffer fills is copied, and only its first 64 KiB are
/// kept.
pub fn parse_each<R: BufRead>(
    origin: &str,
    mut reader: R,
    emit: &mut dyn FnMut(DumpDevice) -> Result<(), SourceError>,
) -> Result<(), SourceError> {
    let mut p = Parser {
        origin,
        emit,
        current: None,
        lineno: 0,
        seen: std::collections::HashMap::new(),
    };
    let mut pos = 0usize;
    let mut partial: Vec<u8> = Vec::new();
    let mut partial_len = 0usize;
    loop {
        let chunk = match reader.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(SourceError::at(origin, pos as u64, format!("cannot read: {e}"))),
        };
        if chunk.is_empty() {
            if partial_len > 0 {
                p.line(&partial, pos - partial_len)?;
            }
            break;
        }
        let mut used = 0;
        while let Some(i) = memchr::memchr(b'\n', &chunk[used..]) {
            let end = used + i;
            if partial_len > 0 {
                let room = MAX_LINE.saturating_sub(partial.len());
                partial.extend_from_slice(&chunk[used..end.min(used + room)]);
                p.line(&partial, pos - partial_len)?;
                pos += end - used + 1;
                partial.clear();
                partial_len = 0;
            } else {
                p.line(&chunk[used..end.min(used + MAX_LINE)], pos)?;
                pos += end - used + 1;
            }
            used = end + 1;
        }
        let rest = &chunk[used..];
        let room = MAX_LINE.saturating_sub(partial.len());
        partial.extend_from_slice(&rest[..rest.len().min(room)]);
        partial_len += rest.len();
        pos += rest.len();
        let n = chunk.len();
        reader.consume(n);
    }
    p.close()
}

fn has_express_cap(bytes: &[u8]) -> bool {
    if bytes.len() <= PCI_CAPABILITY_LIST {
        return false;
    }
    let status = pcimig_config::le::word(bytes, PCI_STATUS);
    status & PCI_STATUS_CAP_LIST != 0
        && pcimig_config::walk_std(bytes)
            .entries
            .iter()
            .any(|e| e.id == u16::from(pcimig_config::CapId::Exp.value()))
}

fn to_source(spec_path: &str, origin: String, d: DumpDevice) -> ConfigSource {
    let have = d.bytes.len();
    let missing: Vec<(usize, usize)> = gaps(&d.present);
    let mut src = ConfigSource::physical(origin, Vec::new());
    src.bdf = Some(d.bdf.full());
    let what = format!("{spec_path} line {} ({})", d.line, d.bdf);
    match have {
        0 => {
            src.truncated = Some(Truncation {
                have: 0,
                full: PCI_CONFIG_SPACE_SIZE,
            });
            src.warnings.push(format!(
                "{what}: no hex dump lines; run lspci with -xxx (or -xxxx as root) to get the bytes"
            ));
        }
        1..=PCI_CONFIG_HEADER_SIZE => {
            src.truncated = Some(Truncation {
                have,
                full: PCI_CONFIG_SPACE_SIZE,
            });
            src.warnings.push(format!(
                "{what}: {have} bytes (lspci -x): the header only, a truncated view; capabilities are not visible (use lspci -xxxx as root)"
            ));
        }
        _ if have < PCI_CONFIG_SPACE_SIZE => {
            src.truncated = Some(Truncation {
                have,
                full: PCI_CONFIG_SPACE_SIZE,
            });
            src.warnings.push(format!(
                "{what}: only {have} bytes; the dump ends early, a truncated view"
            ));
        }
        PCI_CONFIG_SPACE_SIZE => {
            if has_express_cap(&d.bytes) {
                src.truncated = Some(Truncation {
                    have,
                    full: PCIE_CONFIG_SPACE_SIZE,
                });
                src.warnings.push(format!(
                    "{what}: 256 bytes (lspci -xxx) of a PCI Express device, a truncated view: the extended config space (0x100-0xfff) is not visible (use lspci -xxxx as root)"
                ));
            }
        }
        PCIE_CONFIG_SPACE_SIZE => {}
        _ => {
            src.truncated = Some(Truncation {
                have,
                full: PCIE_CONFIG_SPACE_SIZE,
            });
            src.warnings.push(format!(
                "{what}: only {have} of 4096 bytes; the dump ends early, a truncated view"
            ));
        }
    }
    if !missing.is_empty() {
        let list: Vec<String> = missing
            .iter()
            .take(8)
            .map(|(a, b)| format!("{a:#x}..{:#x}", b - 1))
            .collect();
        src.warnings.push(format!(
            "{what}: the dump gives no bytes for {}{}; they read as 0xff, as lspci reads them",
            list.join(", "),
            if missing.len() > 8 { ", …" } else { "" }
        ));
    }
    src.bytes = d.bytes;
    src
}

/// The runs of bytes the dump does not give (0 in `present`), as (start, end) half-open.
fn gaps(present: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(k) = memchr::memchr(0, &present[i..]) {
        let start = i + k;
        let end = memchr::memchr(1, &present[start..]).map_or(present.len(), |n| start + n);
        out.push((start, end));
        i = end;
    }
    out
}

/// Hand every device of lspci text to `emit` as soon as it is read, named as [`load`] names
/// them, until `emit` returns false (the reader stops there); returns how many were read.
pub(super) fn stream<R: BufRead>(
    spec: &SourceSpec,
    reader: R,
    emit: &mut dyn FnMut(ConfigSource) -> bool,
) -> Result<usize, SourceError> {
    let mut first: Option<DumpDevice> = None;
    let mut count = 0usize;
    let mut with_bytes = 0usize;
    let mut stopped = false;
    let parsed = parse_each(&spec.path, reader, &mut |d| {
        count += 1;
        with_bytes += usize::from(!d.bytes.is_empty());
        if count == 1 {
            first = Some(d);
            return Ok(());
        }
        let mut more = true;
        if let Some(f) = first.take() {
            let origin = format!("{}#{}", spec.path, f.bdf);
            more = emit(to_source(&spec.path, origin, f));
        }
        let origin = format!("{}#{}", spec.path, d.bdf);
        more = more && emit(to_source(&spec.path, origin, d));
        if !more {
            stopped = true;
            return Err(SourceError::new(&spec.path, "stopped by the consumer"));
        }
        Ok(())
    });
    if stopped {
        return Ok(count);
    }
    parsed?;
    if let Some(f) = first.take() {
        emit(to_source(&spec.path, spec.path.clone(), f));
    }
    check_some_bytes(&spec.path, count, with_bytes)?;
    Ok(count)
}

/// A dump with no device, or with no device that has bytes, is an error.
fn check_some_bytes(path: &str, devices: usize, with_bytes: usize) -> Result<(), SourceError> {
    if devices == 0 {
        return Err(no_devices(path));
    }
    if with_bytes == 0 {
        return Err(no_hex(path));
    }
    Ok(())
}

fn no_hex(path: &str) -> SourceError {
    SourceError::new(
        path,
        "lspci text without hex dump lines: no config bytes to read (run lspci with -xxx, or -xxxx as root)",
    )
}

fn no_devices(path: &str) -> SourceError {
    SourceError::new(
        path,
        "lspci text without any device line (a line starting 'BB:DD.F ' or 'DDDD:BB:DD.F ')",
    )
}

/// Read the device(s) of lspci text: all of them, or the one `#BDF` selects.
pub(super) fn load<R: BufRead>(spec: &SourceSpec, reader: R) -> Result<Vec<ConfigSource>, SourceError> {
    let Some(sel) = spec.selector.as_deref() else {
        let devices = parse_reader(&spec.path, reader)?;
        check_some_bytes(
            &spec.path,
            devices.len(),
            devices.iter().filter(|d| !d.bytes.is_empty()).count(),
        )?;
        let many = devices.len() > 1;
        return Ok(devices
            .into_iter()
            .map(|d| {
                let origin = if many {
                    format!("{}#{}", spec.path, d.bdf)
                } else {
                    spec.path.clone()
                };
                to_source(&spec.path, origin, d)
            })
            .collect());
    };
    let Some(want) = Bdf::parse(sel) else {
        return Err(SourceError::new(
            &spec.raw,
            format!("'#{sel}' is not a device address: use BB:DD.F or DDDD:BB:DD.F as lspci writes it"),
        ));
    };
    // Only the devices the selector names are kept, however many the file holds.
    let (mut count, mut with_bytes) = (0, 0);
    let mut hits: Vec<DumpDevice> = Vec::new();
    parse_each(&spec.path, reader, &mut |d| {
        count += 1;
        with_bytes += usize::from(!d.bytes.is_empty());
        if d.bdf.matches(&want) {
            hits.push(d);
        }
        Ok(())
    })?;
    check_some_bytes(&spec.path, count, with_bytes)?;
    match hits.len() {
        0 => Err(SourceError::new(&spec.raw, format!("no device {sel} in {}", spec.path))),
        1 => {
            let d = hits.remove(0);
            Ok(vec![to_source(&spec.path, spec.raw.clone(), d)])
        }
        _ => {
            let list: Vec<String> = hits
                .iter()
                .map(|d| format!("{} (line {})", d.bdf.full(), d.line))
                .collect();
            Err(SourceError::new(
                &spec.raw,
                format!(
                    "{sel} matches {} devices: {}; give the domain to pick one",
                    hits.len(),
                    list.join(", ")
                ),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_lines_follow_pciutils_patterns() {
        assert!(device_line(b"00:1f.3 Audio device").is_some());
        assert_eq!(device_line(b"0000:3b:00.0 x").unwrap().0.domain, Some(0));
        assert_eq!(device_line(b"10000:00:00.0 x").unwrap().0.domain, Some(0x10000));
        assert!(
            device_line(b"00:1f.3").is_none(),
            "pciutils needs the space after the address"
        );
        assert!(device_line(b"00: 86 80").is_none());
        assert!(
            device_line(b"000:00:00.0 x").is_none(),
            "a 3-digit domain is not a pattern pciutils knows"
        );
        assert!(device_line(b"00:1f.9 x").is_none());
    }

    #[test]
    fn bdf_selectors_with_and_without_domain() {
        let b = Bdf::parse("0001:02:03.4").unwrap();
        assert_eq!(b.full(), "0001:02:03.4");
        let s = Bdf::parse("02:03.4").unwrap();
        assert!(b.matches(&s));
        assert!(!b.matches(&Bdf::parse("0000:02:03.4").unwrap()));
        assert!(Bdf::parse("02:03").is_none());
        assert!(Bdf::parse("zz:03.1").is_none());
    }

    #[test]
    fn sparse_hex_lines_leave_0xff_and_length_is_the_highest_byte() {
        let t = b"00:00.0 Host bridge\n00: 86 80 00 00\r\n30: 01\n\n10: 55\n";
        let d = parse("t", t).unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].bytes.len(), 0x31);
        assert_eq!(d[0].bytes[4], 0xff);
        assert_eq!(d[0].bytes[0x30], 1);
        assert_eq!(
            d[0].bytes[0x10], 0xff,
            "a hex line after the blank line belongs to no device"
        );
    }

    #[test]
    fn malformed_hex_line_names_line_and_offset() {
        let e = parse("f.txt", b"00:00.0 x\n00: 86 8g 00\n").unwrap_err();
        assert_eq!(e.offset, Some(17), "the offset of the bad pair \"8g\"");
        assert!(e.message.contains("line 2"), "{e}");
        let e = parse(
            "f.txt",
            b"00:00.0 x\nff0: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00\n",
        )
        .unwrap_err();
        assert!(e.message.contains("past 4096"), "{e}");
    }
}
