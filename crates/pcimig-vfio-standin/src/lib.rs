//! Test support for pcimig: a userspace stand-in for the Linux VFIO user API and a harness that
//! migrates a device it presents between two unmodified QEMUs.
//!
//! QEMU talks to the kernel's vfio-pci only through the VFIO user API: it opens
//! `/dev/vfio/vfio` and `/dev/vfio/N`, asks for device, region and IRQ info with ioctls, reads
//! and writes the config region with `pread`/`pwrite`, and drives the v2 migration state machine
//! with `VFIO_DEVICE_FEATURE`. The stand-in (`csrc/vfio_standin.c`, built by `build.rs` with the
//! system C compiler) interposes those calls with `LD_PRELOAD` and presents a config image as a
//! vfio-pci device, so QEMU 10.0.2's real `vfio_realize`, masks, `skip-vsc-check`, machine
//! compat and `get_pci_config_device` judge it, without root, KVM or a kernel module.
//! See `docs/vfio-standin.md`.

pub mod harness;
pub mod qmp;

pub use harness::{bad_config_line, Case, Harness, HarnessError, Slot, Stage, Verdict};

use std::path::Path;
use std::process::Command;

/// The stand-in shared object, or why it is unavailable (no C compiler when this crate was built).
pub fn standin_path() -> Result<&'static Path, String> {
    let so = env!("PCIMIG_VFIO_STANDIN_SO");
    if so.is_empty() {
        return Err(format!(
            "the VFIO stand-in is unavailable: {}",
            env!("PCIMIG_VFIO_STANDIN_UNAVAILABLE")
        ));
    }
    Ok(Path::new(so))
}

/// The QEMU binary: `$PCIMIG_QEMU_BIN`, else `qemu-system-x86_64`.
pub fn qemu_bin() -> String {
    std::env::var("PCIMIG_QEMU_BIN").unwrap_or_else(|_| "qemu-system-x86_64".to_string())
}

/// `Some(reason)` when tests that run the real QEMU must be skipped: `PCIMIG_SKIP_QEMU` is set,
/// or the QEMU binary is missing or not 10.0.x.
pub fn qemu_skip_reason() -> Option<String> {
    if std::env::var_os("PCIMIG_SKIP_QEMU").is_some() {
        return Some("PCIMIG_SKIP_QEMU is set".to_string());
    }
    let out = match Command::new(qemu_bin()).arg("--version").output() {
        Ok(o) => o,
        Err(e) => return Some(format!("{} not runnable: {e}", qemu_bin())),
    };
    let v = String::from_utf8_lossy(&out.stdout);
    if !v.contains("version 10.0.") {
        return Some(format!(
            "{} is not QEMU 10.0.x: {}",
            qemu_bin(),
            v.lines().next().unwrap_or("")
        ));
    }
    None
}

/// `Some(reason)` when the stand-in tests must be skipped: [`qemu_skip_reason`], or the
/// stand-in could not be built (no C compiler).
pub fn skip_reason() -> Option<String> {
    if std::env::var_os("PCIMIG_SKIP_QEMU").is_some() {
        return Some("PCIMIG_SKIP_QEMU is set".to_string());
    }
    if let Err(why) = standin_path() {
        return Some(why);
    }
    qemu_skip_reason()
}

/// The harness for [`qemu_bin`], or the reason to skip ([`skip_reason`]).
pub fn harness() -> Result<Harness, String> {
    match skip_reason() {
        Some(why) => Err(why),
        None => Harness::new(&qemu_bin()),
    }
}

/// The wrapper of an extra QEMU release series (`"7.2"`, `"11.1"`) that `scripts/qemu-versions`
/// fetched: `$PCIMIG_QEMU_7_2` / `$PCIMIG_QEMU_11_1`, else
/// `$PCIMIG_QEMU_VERSIONS_DIR/<series>/qemu-system-x86_64` (default `target/qemu-versions` of
/// the workspace). `Err(reason)` when it is missing or runs another version.
pub fn versioned_qemu_bin(series: &str) -> Result<String, String> {
    let var = format!("PCIMIG_QEMU_{}", series.replace('.', "_"));
    let bin = std::env::var(&var).unwrap_or_else(|_| {
        let dir = std::env::var("PCIMIG_QEMU_VERSIONS_DIR")
            .unwrap_or_else(|_| format!("{}/../../target/qemu-versions", env!("CARGO_MANIFEST_DIR")));
        format!("{dir}/{series}/qemu-system-x86_64")
    });
    let v = qemu_version_of(&bin)
        .map_err(|e| format!("QEMU {series} ({bin}, ${var}) not runnable: {e}; run scripts/qemu-versions"))?;
    if !v.starts_with(&format!("{series}.")) {
        return Err(format!("{bin} (${var}) is not QEMU {series} but {v}"));
    }
    Ok(bin)
}

/// The version a QEMU binary reports, `X.Y.Z` from `QEMU emulator version X.Y.Z (…)`.
pub fn qemu_version_of(bin: &str) -> Result<String, String> {
    let out = Command::new(bin)
        .arg("--version")
        .output()
        .map_err(|e| format!("{bin} --version: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.split("version ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .map(str::to_string)
        .ok_or_else(|| format!("{bin} --version printed {:?}", text.trim()))
}

/// [`versioned_qemu_bin`], or `None` after printing why the caller skips; panics instead when
/// `CI` is set (CI must run the cross-version suites).
pub fn versioned_qemu_or_skip(series: &str, what: &str) -> Option<String> {
    match versioned_qemu_bin(series) {
        Ok(bin) => Some(bin),
        Err(why) if std::env::var_os("CI").is_some() => panic!("{what} needs QEMU {series} under CI: {why}"),
        Err(why) => {
            println!("SKIPPED: {what} needs QEMU {series}: {why}");
            None
        }
    }
}
