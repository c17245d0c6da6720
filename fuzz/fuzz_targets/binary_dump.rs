//! The binary dump reader: any bytes as a file given as SRC (format detection, the binary
//! reader, and `show`'s decoder and renderer over what it returns).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pcimig::show::{self, PciIds};
use pcimig::source;

fuzz_target!(|data: &[u8]| {
    let _ = source::detect(data);
    let path = std::env::temp_dir().join(format!("pcimig-fuzz-dump-{}.bin", std::process::id()));
    std::fs::write(&path, data).expect("write the temp input");
    if let Ok(sources) = source::load_all(&path.to_string_lossy()) {
        let ids = PciIds::empty();
        let reports: Vec<_> = sources.iter().map(|s| show::decode(s, &ids)).collect();
        let _ = show::render::all(&reports);
    }
});
