//! `explain`'s log parser: any bytes as QEMU's error output (lossy UTF-8, as `read_log` takes
//! it), through the event parser, the failure and device picking, the register naming and the
//! cause, and both renderings.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pcimig::explain::{self, Request};

fuzz_target!(|data: &[u8]| {
    let log = String::from_utf8_lossy(data);
    let _ = explain::parse::events(&log);
    let req = Request {
        log_name: "fuzz.log".into(),
        stream: None,
        dest: None,
        dest_qemu: None,
        saved_qemu: None,
        skip_vsc_check: None,
        dest_datadirs: Vec::new(),
    };
    if let Ok(out) = explain::explain(&log, &req) {
        let _ = explain::text(&out);
        let _ = serde_json::to_string(&out).expect("an explanation serializes");
    }
});
