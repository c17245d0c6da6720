//! Building a snapshot's devices and host facts: from a live (or copied) sysfs tree, or from
//! dumps (a directory of `DDDD:BB:DD.F.config.bin`, a binary dump, `lspci -xxxx` text) with the
//! host facts given. The bytes are read by [`crate::source`]'s readers; nothing here parses a
//! config format of its own.

use super::filter::{any_matches, DeviceFilter};
use super::host::{self, LiveRoots};
use super::{DriverVersionSource, HostFacts, QemuInstall, SnapshotDevice, SnapshotError};
use crate::source::lspci::Bdf;
use crate::source::{self, ConfigSource, SourceKind};
use pcimig_config::qemu_version::QemuVersion;
use std::path::{Path, PathBuf};

/// The suffix of a dump file in a corpus directory (`0000:3b:00.0.config.bin`).
pub const DUMP_SUFFIX: &str = ".config.bin";

/// `--driver SELECTOR=NAME[:VERSION]`: the driver (and its version) of the devices a filter
/// selects, for snapshots built from dumps (or to override what sysfs says).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriverGiven {
    /// Which devices.
    pub filter: DeviceFilter,
    /// Driver name.
    pub name: String,
    /// Driver version, if given.
    pub version: Option<String>,
}

impl DriverGiven {
    /// Parse `SELECTOR=NAME[:VERSION]` (SELECTOR as `--devices`: `0000:3b:00.0`, `10de:`).
    pub fn parse(text: &str) -> Result<DriverGiven, String> {
        let usage = || {
            format!("--driver '{text}': expected SELECTOR=NAME[:VERSION], e.g. 0000:3b:00.0=nvidia:580.159.04 or 10de:=nvidia")
        };
        let (sel, rest) = text.split_once('=').ok_or_else(usage)?;
        let (name, version) = match rest.split_once(':') {
            Some((n, v)) => (n, Some(v)),
            None => (rest, None),
        };
        let plain = |s: &str| !s.is_empty() && !s.chars().any(|c| c.is_whitespace() || c.is_control());
        if !plain(name) || version.is_some_and(|v| !plain(v)) {
            return Err(usage());
        }
        Ok(DriverGiven {
            filter: DeviceFilter::parse(sel).map_err(|e| format!("--driver '{text}': {e}"))?,
            name: name.to_string(),
            version: version.map(str::to_string),
        })
    }
}

/// Which devices to keep and what to say about their drivers.
#[derive(Debug, Clone, Default)]
pub struct DeviceOptions {
    /// `--devices`: keep the devices any of these match (all when empty).
    pub filters: Vec<DeviceFilter>,
    /// `--driver`: later entries win.
    pub drivers: Vec<DriverGiven>,
}

/// The host facts given as options (and, for a live snapshot, what to look up).
#[derive(Debug, Clone, Default)]
pub struct HostOptions {
    /// `--host`.
    pub name: Option<String>,
    /// `--kernel`.
    pub kernel: Option<String>,
    /// `--time` (RFC 3339 UTC); now when absent.
    pub time: Option<String>,
    /// `--qemu VERSION`: installs known by version, machine types from pcimig's model.
    pub qemu: Vec<QemuVersion>,
    /// `--qemu-binary PATH`: installs asked directly.
    pub qemu_binaries: Vec<PathBuf>,
    /// `--rom-dir DIR`: QEMU data directories (live default: [`pcimig_qemu::devices::qemu_data_dirs`]).
    pub rom_dirs: Vec<PathBuf>,
}

/// The host facts: options first; on a live host (`roots`), host name and kernel from procfs,
/// the QEMUs on `PATH` when none is named, and QEMU's data directories when none is named.
/// Returns warnings (a QEMU that cannot be asked) beside the facts.
pub fn host_facts(opts: &HostOptions, roots: Option<&LiveRoots>) -> Result<(HostFacts, Vec<String>), SnapshotError> {
    let time = match &opts.time {
        Some(t) => {
            super::time::check_rfc3339_utc(t).map_err(|m| SnapshotError::Source(format!("--time: {m}")))?;
            t.clone()
        }
        None => super::time::now_rfc3339(),
    };
    for (what, v) in [("--host", &opts.name), ("--kernel", &opts.kernel)] {
        if v.as_deref()
            .is_some_and(|v| v.is_empty() || v.chars().any(char::is_control))
        {
            return Err(SnapshotError::Source(format!(
                "{what}: empty, or holds control characters"
            )));
        }
    }
    let mut warnings = Vec::new();
    let mut qemu: Vec<QemuInstall> = opts.qemu.iter().map(|v| QemuInstall::from_model(*v)).collect();
    let binaries = match (roots, opts.qemu.is_empty() && opts.qemu_binaries.is_empty()) {
        (Some(_), true) => host::qemu_on_path(),
        _ => opts.qemu_binaries.clone(),
    };
    for b in &binaries {
        match host::qemu_install(b) {
            Ok(q) => qemu.push(q),
            Err(e) if opts.qemu_binaries.is_empty() => warnings.push(e),
            Err(e) => return Err(SnapshotError::Source(format!("--qemu-binary: {e}"))),
        }
    }
    let rom_dirs = match (roots, opts.rom_dirs.is_empty()) {
        (Some(_), true) => pcimig_qemu::devices::qemu_data_dirs(),
        _ => opts.rom_dirs.clone(),
    };
    let facts = HostFacts {
        name: opts.name.clone().or_else(|| roots.and_then(LiveRoots::hostname)),
        kernel: opts.kernel.clone().or_else(|| roots.and_then(LiveRoots::kernel)),
        time,
        qemu,
        rom_files: host::rom_files(&rom_dirs),
    };
    Ok((facts, warnings))
}

/// Every device of a sysfs tree (`roots.devices`) that the filters keep, with its driver's
/// version. `progress(done, total)` is called after each device. Returns warnings beside the
/// devices (e.g. a `resource` file that cannot be read).
pub fn from_sysfs(
    roots: &LiveRoots,
    opts: &DeviceOptions,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<(Vec<SnapshotDevice>, Vec<String>), SnapshotError> {
    let entries = std::fs::read_dir(&roots.devices)
        .map_err(|e| SnapshotError::Source(format!("{}: cannot read: {e}", roots.devices.display())))?;
    let mut names: Vec<(Bdf, String)> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            Bdf::parse(&name).filter(|b| b.domain.is_some()).map(|b| (b, name))
        })
        .collect();
    names.sort_by_key(|(b, _)| super::bdf_key(b));
    let (mut devices, mut warnings) = (Vec::new(), Vec::new());
    for (i, (bdf, name)) in names.iter().enumerate() {
        let dir = roots.devices.join(name);
        let src = source::sysfs::load_device(&dir, bdf.full())?;
        if let Some(mut dev) = keep(src, bdf, opts, &mut warnings)? {
            if let Some(driver) = dev.driver.clone() {
                if let Some((v, from)) = roots.driver_version(&dir, &driver) {
                    dev.driver_version = Some(v);
                    dev.driver_version_source = Some(from);
                }
            }
            apply_drivers_given(&mut dev, &opts.drivers);
            devices.push(dev);
        }
        progress(i + 1, names.len());
    }
    Ok((devices, warnings))
}

/// The device of `src` at `bdf` when the filters keep it; an error when its bytes cannot make a
/// snapshot device (a truncated read, a saved config from a stream).
fn keep(
    src: ConfigSource,
    bdf: &Bdf,
    opts: &DeviceOptions,
    warnings: &mut Vec<String>,
) -> Result<Option<SnapshotDevice>, SnapshotError> {
    let ids = (src.bytes.len() >= 4).then(|| {
        (
            pcimig_config::le::word(&src.bytes, 0),
            pcimig_config::le::word(&src.bytes, 2),
        )
    });
    let (vendor, device) = ids.unwrap_or((0xffff, 0xffff));
    if !any_matches(&opts.filters, bdf, vendor, device) {
        return Ok(None);
    }
    if src.kind == SourceKind::Saved {
        return Err(SnapshotError::Source(format!(
            "{}: a saved config from a migration stream is a VM's state, not a host's device",
            src.origin
        )));
    }
    if let Some(t) = src.truncated {
        return Err(SnapshotError::Source(format!(
            "{}: only {} of {} config bytes (a read without CAP_SYS_ADMIN returns the 64-byte header): \
             a snapshot needs whole config spaces; run as root, or leave the device out with --devices",
            src.origin, t.have, t.full
        )));
    }
    warnings.extend(src.warnings.iter().cloned());
    let mut dev = SnapshotDevice::from_config(&bdf.full(), src.bytes)
        .map_err(|m| SnapshotError::Source(format!("{}: {m}", src.origin)))?;
    dev.driver = src.driver;
    dev.bar_sizes = src.bar_sizes;
    Ok(Some(dev))
}

/// `--driver`: the last entry that selects the device names its driver (and version).
fn apply_drivers_given(dev: &mut SnapshotDevice, drivers: &[DriverGiven]) {
    let bdf = dev.address();
    if let Some(d) = drivers
        .iter()
        .rev()
        .find(|d| d.filter.matches(&bdf, dev.vendor, dev.device))
    {
        dev.driver = Some(d.name.clone());
        dev.driver_version = d.version.clone();
        dev.driver_version_source = d.version.as_ref().map(|_| DriverVersionSource::Given);
    }
}

/// The devices of `--from` paths: a directory of `DDDD:BB:DD.F.config.bin` dumps (other files
/// ignored), a binary dump named so, `FILE@DDDD:BB:DD.F` for a binary dump named otherwise, or
/// `lspci -xxx`/`-xxxx` text (addresses from the text). `progress(done, total)` is called after
/// each path. Two devices at one address are an error.
pub fn from_dumps(
    paths: &[String],
    opts: &DeviceOptions,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<(Vec<SnapshotDevice>, Vec<String>), SnapshotError> {
    let (mut devices, mut warnings): (Vec<SnapshotDevice>, Vec<String>) = (Vec::new(), Vec::new());
    for (i, raw) in paths.iter().enumerate() {
        for (src, bdf) in load_from(raw)? {
            if let Some(mut dev) = keep(src, &bdf, opts, &mut warnings)? {
                if devices.iter().any(|d| d.bdf == dev.bdf) {
                    return Err(SnapshotError::Source(format!(
                        "--from {raw}: a second device at {}",
                        dev.bdf
                    )));
                }
                apply_drivers_given(&mut dev, &opts.drivers);
                devices.push(dev);
            }
        }
        progress(i + 1, paths.len());
    }
    Ok((devices, warnings))
}

/// The sources one `--from` argument names, each with its address.
fn load_from(raw: &str) -> Result<Vec<(ConfigSource, Bdf)>, SnapshotError> {
    let path = Path::new(raw);
    if path.is_dir() {
        return load_dir(path);
    }
    let (file, placed) = match raw.rsplit_once('@') {
        Some((f, b)) if !path.exists() => match Bdf::parse(b) {
            Some(bdf) => (f, Some(bdf)),
            None => {
                return Err(SnapshotError::Source(format!(
                    "--from {raw}: '{b}' is not a device address"
                )))
            }
        },
        _ => (raw, None),
    };
    let sources = source::load_all(&format!("file:{file}"))?;
    if sources.len() > 1 && placed.is_some() {
        return Err(SnapshotError::Source(format!(
            "--from {raw}: @ADDRESS places a single binary dump; {file} holds {} devices with addresses of their own",
            sources.len()
        )));
    }
    sources
        .into_iter()
        .map(|src| {
            let bdf = placed
                .or_else(|| src.bdf.as_deref().and_then(Bdf::parse))
                .or_else(|| bdf_of_dump_name(Path::new(file)))
                .ok_or_else(|| {
                    SnapshotError::Source(format!(
                        "--from {raw}: a binary dump does not say its device's address: name the file \
                         DDDD:BB:DD.F{DUMP_SUFFIX} or write {file}@DDDD:BB:DD.F"
                    ))
                })?;
            Ok((src, bdf))
        })
        .collect()
}

/// `0000:3b:00.0.config.bin` → 0000:3b:00.0.
fn bdf_of_dump_name(path: &Path) -> Option<Bdf> {
    let name = path.file_name()?.to_str()?;
    Bdf::parse(name.strip_suffix(DUMP_SUFFIX)?).filter(|b| b.domain.is_some())
}

/// Every `DDDD:BB:DD.F.config.bin` of a directory, in address order.
fn load_dir(dir: &Path) -> Result<Vec<(ConfigSource, Bdf)>, SnapshotError> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| SnapshotError::Source(format!("{}: cannot read: {e}", dir.display())))?;
    let mut dumps: Vec<(Bdf, PathBuf)> = entries
        .flatten()
        .filter_map(|e| bdf_of_dump_name(&e.path()).map(|b| (b, e.path())))
        .collect();
    if dumps.is_empty() {
        return Err(SnapshotError::Source(format!(
            "{}: no DDDD:BB:DD.F{DUMP_SUFFIX} dumps in this directory",
            dir.display()
        )));
    }
    dumps.sort_by_key(|(b, _)| super::bdf_key(b));
    dumps
        .into_iter()
        .map(|(bdf, p)| {
            let mut all = source::load_all(&format!("file:{}", p.display()))?;
            match all.len() {
                1 => Ok((all.remove(0), bdf)),
                n => Err(SnapshotError::Source(format!(
                    "{}: {n} devices in one dump file; expected one binary config",
                    p.display()
                ))),
            }
        })
        .collect()
}
