//! Real QEMU as the ground truth: pcimig's restore verdict must equal QEMU 10.0.2's.
//!
//! For each scenario (a machine type and a set of `-device`s), the test starts
//! `qemu-system-x86_64` (TCG, `-nodefaults -display none -S -m 32M`, no network, QMP on a unix
//! socket in a temp dir), takes `query-pci`, saves the VM with `migrate` to a `file:` URI, and
//! reads the stream with [`pcimig_qemu::Stream`]. Every PCI device of the stream gets a
//! destination model from the device table, built from the *unmutated* stream of the same command
//! line (the destination's current config) and the machine type.
//!
//! Then config bytes are mutated inside copies of the stream, at the reader's config offsets
//! (header registers, capability bytes, virtio vendor capabilities, extended config, several
//! bytes at once, several devices at once), and each copy is loaded with `-incoming file:` into
//! the same command line. QEMU's outcome (its `Bad config data: i=0x…` line and the section it
//! names, or a completed load) must equal pcimig's prediction: restore_check of each device's
//! saved config against its model, first failure in stream order. The suite prints
//! `agreement: N/M cases` and fails on any disagreement.
//!
//! Nothing is cached across runs. Without qemu-system-x86_64 10.0.x the test is skipped with a
//! printed reason; `PCIMIG_SKIP_QEMU=1` skips it on purpose (e.g. for a quick local `cargo test`).
//! `PCIMIG_QEMU_JOBS` sets the number of concurrent QEMU processes (default 3);
//! `PCIMIG_QEMU_BIN` the binary; `PCIMIG_QEMU_ONLY=a,b` runs only the named scenarios;
//! `PCIMIG_QEMU_DRY=1` saves and models the scenarios, counts the cases and loads nothing.

#[path = "support/restore.rs"]
mod restore;
#[path = "support/qemu.rs"]
mod support;
use restore::*;
use std::time::Instant;
use support::skip_reason;

#[test]
fn qemu_restore_verdicts_equal_pcimig() {
    if std::env::var_os("PCIMIG_SKIP_QEMU").is_some() {
        println!("SKIPPED: PCIMIG_SKIP_QEMU is set");
        return;
    }
    if let Some(why) = skip_reason() {
        println!("SKIPPED: real-QEMU suite needs qemu-system-x86_64 10.0.x: {why}");
        return;
    }
    let start = Instant::now();
    let jobs = qemu_jobs();
    let ps = prepare_scenarios(jobs);
    let (cases, devices) = build_cases(&ps);
    println!(
        "{} scenarios, {devices} PCI devices, {} mutation cases, {jobs} QEMU processes at a time",
        ps.len(),
        cases.len()
    );
    let total = cases.len();
    if std::env::var_os("PCIMIG_QEMU_DRY").is_some() {
        print_dry_summary(&cases);
        return;
    }
    let results = run_parallel(cases.iter().enumerate().collect(), jobs, |(n, case)| {
        run_case(&ps[case.scenario], case, n)
    });
    let t = Tally::of(&cases, &results);
    for f in &t.failures {
        println!("DISAGREE {f}");
    }
    println!(
        "agreement: {}/{total} cases (QEMU rejected {}, loaded {}, failed after the config check {}); {:.0} s",
        t.agree,
        t.rejected,
        t.loaded,
        t.other,
        start.elapsed().as_secs_f64()
    );
    assert!(t.failures.is_empty(), "{} of {total} cases disagree", t.failures.len());
}
