//! vfio-pci's virtualization: an arbitrary physical config (256 or 4096 bytes) and options
//! taken from the input's first bytes (`vfio_input`), then the restore check of the result
//! against itself and against the physical bytes.
#![no_main]

mod vfio_input;

use libfuzzer_sys::fuzz_target;
use pcimig_config::restore_check;
use pcimig_vfio::virtualize;

fuzz_target!(|data: &[u8]| {
    let Some((opts, physical)) = vfio_input::split(data) else {
        return;
    };
    if let Ok(dev) = virtualize(&physical, &opts) {
        let space = &dev.space;
        let _ = restore_check(space.config(), space);
        let _ = restore_check(&physical, space);
    }
});
