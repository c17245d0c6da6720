//! The lspci-text reader: `lspci::parse` in memory, the streaming reader through a file
//! (`load_each`), and `show` over every device it yields.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pcimig::show::{self, PciIds};
use pcimig::source::{self, lspci};

fuzz_target!(|data: &[u8]| {
    let _ = lspci::parse("fuzz", data);
    let _ = lspci::parse_reader("fuzz", std::io::Cursor::new(data));
    let path = std::env::temp_dir().join(format!("pcimig-fuzz-lspci-{}.txt", std::process::id()));
    std::fs::write(&path, data).expect("write the temp input");
    let ids = PciIds::empty();
    let mut out = String::new();
    let _ = source::load_each(&path.to_string_lossy(), &mut |s| {
        show::render::device(&mut out, &show::decode(&s, &ids));
    });
});
