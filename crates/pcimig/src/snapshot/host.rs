//! Live host facts: host name and kernel (`/proc/sys/kernel`), the installed QEMUs and the
//! machine types each defines (`qemu-system-x86_64 --version` and `-machine help`), the files
//! in QEMU's data directories, and a driver's version (`/sys/module/MODULE/version`, or
//! `/proc/driver/nvidia/version` for NVIDIA's driver, whose module may not say).
//!
//! Every path is under a [`LiveRoots`], so tests and copied trees use a directory of their own.

use super::{DriverVersionSource, MachineTypesSource, QemuInstall, RomFile};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The QEMU binary looked for on `PATH`.
pub const QEMU_BINARY: &str = "qemu-system-x86_64";

/// Where the live facts are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveRoots {
    /// One directory per PCI device (`/sys/bus/pci/devices`).
    pub devices: PathBuf,
    /// Kernel modules (`/sys/module`).
    pub modules: PathBuf,
    /// procfs (`/proc`).
    pub proc: PathBuf,
}

impl LiveRoots {
    /// This system: [`crate::source::sysfs::devices_root`] (`$PCIMIG_SYSFS_ROOT` or
    /// `/sys/bus/pci/devices`), `/sys/module`, `/proc`.
    pub fn system() -> Self {
        LiveRoots {
            devices: crate::source::sysfs::devices_root(),
            modules: PathBuf::from("/sys/module"),
            proc: PathBuf::from("/proc"),
        }
    }

    /// A copied (or fake) tree: `ROOT/sys/bus/pci/devices`, `ROOT/sys/module`, `ROOT/proc`.
    pub fn under(root: &Path) -> Self {
        LiveRoots {
            devices: root.join("sys/bus/pci/devices"),
            modules: root.join("sys/module"),
            proc: root.join("proc"),
        }
    }

    /// The host name (`/proc/sys/kernel/hostname`).
    pub fn hostname(&self) -> Option<String> {
        read_line(&self.proc.join("sys/kernel/hostname"))
    }

    /// The kernel release (`/proc/sys/kernel/osrelease`, what `uname -r` prints).
    pub fn kernel(&self) -> Option<String> {
        read_line(&self.proc.join("sys/kernel/osrelease"))
    }

    /// The version of the driver bound to the device in `device_dir` (named `driver`): its
    /// module's `version` (the module is the driver's `module` link, else the driver's name with
    /// `-` as `_`), else, for `nvidia*`, the one in `/proc/driver/nvidia/version`.
    pub fn driver_version(&self, device_dir: &Path, driver: &str) -> Option<(String, DriverVersionSource)> {
        let module = std::fs::read_link(device_dir.join("driver/module"))
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| driver.replace('-', "_"));
        if let Some(v) = read_line(&self.modules.join(&module).join("version")) {
            return Some((v, DriverVersionSource::SysModule));
        }
        if driver.starts_with("nvidia") {
            let text = std::fs::read_to_string(self.proc.join("driver/nvidia/version")).ok()?;
            return nvidia_version(&text).map(|v| (v, DriverVersionSource::ProcDriverNvidia));
        }
        None
    }
}

/// The first line of a small file, trimmed; `None` when absent or empty.
fn read_line(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let line = text.lines().next()?.trim();
    (!line.is_empty()).then(|| line.to_string())
}

/// The version in `/proc/driver/nvidia/version`'s first line
/// (`NVRM version: NVIDIA UNIX x86_64 Kernel Module  580.159.04  Tue …`): the first token
/// of digits and dots after `Kernel Module` (the open and the proprietary module both say it).
pub fn nvidia_version(text: &str) -> Option<String> {
    let line = text.lines().next()?;
    let versionish = |t: &&str| t.contains('.') && t.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    let after = line.split_once("Kernel Module").map_or(line, |(_, rest)| rest);
    after.split_whitespace().find(versionish).map(str::to_string)
}

/// Every `qemu-system-x86_64` on `PATH` (first of each real path only).
pub fn qemu_on_path() -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = Vec::new();
    let mut real = Vec::new();
    for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
        let p = dir.join(QEMU_BINARY);
        if p.is_file() {
            let r = std::fs::canonicalize(&p).unwrap_or_else(|_| p.clone());
            if !real.contains(&r) {
                real.push(r);
                found.push(p);
            }
        }
    }
    found
}

/// Ask a QEMU binary its version (`--version`) and machine types (`-machine help`).
pub fn qemu_install(binary: &Path) -> Result<QemuInstall, String> {
    let run = |args: &[&str]| -> Result<String, String> {
        let out = Command::new(binary)
            .args(args)
            .output()
            .map_err(|e| format!("{}: cannot run: {e}", binary.display()))?;
        if !out.status.success() {
            return Err(format!(
                "{} {}: {}",
                binary.display(),
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let version_text = run(&["--version"])?;
    let version = qemu_version_of(&version_text).ok_or_else(|| {
        format!(
            "{}: no 'QEMU emulator version X.Y.Z' in its --version output",
            binary.display()
        )
    })?;
    let machine_types = machine_help_names(&run(&["-machine", "help"])?);
    Ok(QemuInstall {
        binary: Some(binary.display().to_string()),
        version,
        machine_types,
        machine_types_source: MachineTypesSource::QemuMachineHelp,
    })
}

/// `QEMU emulator version 10.0.2 (Debian …)` → `10.0.2`.
pub fn qemu_version_of(text: &str) -> Option<String> {
    let rest = text.split_once("QEMU emulator version")?.1;
    let token = rest.split_whitespace().next()?;
    let v: String = token.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
    super::format::is_version_text(&v).then_some(v)
}

/// The machine names of `-machine help` (the first column after `Supported machines are:`),
/// in QEMU's order.
pub fn machine_help_names(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.starts_with("Supported machines"))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

/// The files directly in `dirs` with their sizes; a name found in an earlier directory hides
/// later ones (as QEMU's qemu_find_file searches its data directories in order, and as
/// [`pcimig_qemu::devices::RomFiles::from_data_dirs`] reads them). Sorted by name.
pub fn rom_files(dirs: &[PathBuf]) -> Vec<RomFile> {
    let mut files: Vec<RomFile> = Vec::new();
    for d in dirs {
        let Ok(entries) = std::fs::read_dir(d) else { continue };
        let mut here: Vec<RomFile> = entries
            .flatten()
            .filter_map(|e| {
                let meta = std::fs::metadata(e.path()).ok()?;
                meta.is_file().then(|| RomFile {
                    name: e.file_name().to_string_lossy().into_owned(),
                    size: meta.len(),
                    dir: d.display().to_string(),
                })
            })
            .filter(|f| !files.iter().any(|g| g.name == f.name))
            .collect();
        files.append(&mut here);
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nvidia_proc_version_line_gives_the_driver_version() {
        let text = "NVRM version: NVIDIA UNIX x86_64 Kernel Module  580.159.04  Tue Jun 17 12:00:00 UTC 2025\n\
                    GCC version:  gcc version 12.2.0 (Debian 12.2.0-14)\n";
        assert_eq!(nvidia_version(text).as_deref(), Some("580.159.04"));
        let open = "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  570.86.15  Release Build\n";
        assert_eq!(nvidia_version(open).as_deref(), Some("570.86.15"));
    }

    #[test]
    fn qemu_version_and_machine_help_are_read() {
        let v = "QEMU emulator version 10.0.2 (Debian 1:10.0.2+ds-2+deb13u1~bpo12+1)\nCopyright …\n";
        assert_eq!(qemu_version_of(v).as_deref(), Some("10.0.2"));
        assert_eq!(qemu_version_of("nothing"), None);
        let help = "Supported machines are:\nmicrovm              microvm (i386)\n\
                    pc                   Standard PC (alias of pc-i440fx-10.0)\nq35  x (default)\n";
        assert_eq!(machine_help_names(help), ["microvm", "pc", "q35"]);
    }
}
