//! The standard and extended capability walkers (pciutils' and QEMU vfio's rules), the model's
//! own find/list over the same bytes, and naming every byte the chain covers.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pcimig_config::{locate_in_bytes, walk_ext_with, walk_std_with, ConfigSpace, WalkRules};

fuzz_target!(|data: &[u8]| {
    for rules in [WalkRules::PCIUTILS, WalkRules::QEMU_VFIO] {
        let std = walk_std_with(data, rules);
        let ext = walk_ext_with(data, rules);
        for e in std.entries.iter().chain(ext.entries.iter()) {
            let _ = locate_in_bytes(data, e.offset);
        }
        let _ = std.offsets_by_address();
        let _ = ext.offsets_by_address();
    }
    // A config of the sizes the model takes: the input padded or cut to 256 / 4096 bytes.
    for size in [256usize, 4096] {
        let mut bytes = data.to_vec();
        bytes.resize(size, 0);
        if let Ok(space) = ConfigSpace::from_bytes(&bytes) {
            let _ = space.std_capabilities();
            let _ = space.ext_capabilities();
            for off in (0..size).step_by(61) {
                let _ = space.capability_owning(off);
            }
        }
    }
});
