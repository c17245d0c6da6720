//! Findings of the `vfio_virtualize` fuzz target (fuzz/), replayed through the same input
//! decoding and `virtualize`: each must return (a device or an error), never panic.
//! - an MSI-X capability reached by vfio_add_capabilities' walk but not by
//!   vfio_msix_early_setup's walk of the physical chain (no MSI-X layout): was a panic;
//! - an MSI-X table or PBA BIR of 6 or 7 with BAR sizes given: was an index out of bounds.

#[path = "../../../fuzz/fuzz_targets/vfio_input.rs"]
mod vfio_input;

use std::path::Path;

#[test]
fn fuzz_findings_return_without_panicking() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fuzz");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let path = e.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        let (opts, physical) = vfio_input::split(&data).expect("at least 12 bytes");
        let result = std::panic::catch_unwind(|| pcimig_vfio::virtualize(&physical, &opts));
        assert!(result.is_ok(), "{}: virtualize panicked", path.display());
        n += 1;
    }
    assert!(n >= 2, "the fuzz findings are in {}", dir.display());
}
