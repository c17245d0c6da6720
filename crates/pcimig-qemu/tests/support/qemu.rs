//! Shared by the real-QEMU tests (pcimig-qemu's `reader_qemu` and `qemu_restore`, pcimig's
//! `qemu_check_stream`): which QEMU to run, whether the suite can run, the base command line,
//! and a QMP client over a unix socket (the QEMU binary, skip reason and QMP client are
//! `pcimig-vfio-standin`'s, shared with the vfio-pci suite).
#![allow(dead_code)]

pub use pcimig_vfio_standin::qemu_bin;
pub use pcimig_vfio_standin::qemu_skip_reason as skip_reason;
pub use pcimig_vfio_standin::qmp::Qmp;

/// `-machine MACHINE` and the options every test VM shares: TCG, no default devices, no
/// display, stopped (`-S`), 32 MiB of RAM.
pub fn base_args(machine: &str) -> Vec<String> {
    [
        "-machine",
        machine,
        "-accel",
        "tcg",
        "-nodefaults",
        "-display",
        "none",
        "-S",
        "-m",
        "32M",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}
