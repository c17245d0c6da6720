//! The sysfs reader: a fake `$PCIMIG_SYSFS_ROOT/0000:00:00.0/{config,resource}` from the input
//! (the first byte chooses how much of the rest is `config`), read as `sysfs:0000:00:00.0`;
//! and `parse_resource` on the text directly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pcimig::source::{self, sysfs};
use std::path::PathBuf;
use std::sync::OnceLock;

fn device_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = std::env::temp_dir().join(format!("pcimig-fuzz-sysfs-{}", std::process::id()));
        let dir = root.join("0000:00:00.0");
        std::fs::create_dir_all(&dir).expect("create the fake sysfs tree");
        std::env::set_var(sysfs::SYSFS_ROOT_ENV, &root);
        dir
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    // 0 → 0 bytes, 1 → 64, 2 → 256, 3 → 4096, else the selector times 16.
    let want = match sel {
        0 => 0,
        1 => 64,
        2 => 256,
        3 => 4096,
        n => usize::from(n) * 16,
    };
    let (config, resource) = rest.split_at(want.min(rest.len()));
    let _ = sysfs::parse_resource(&String::from_utf8_lossy(resource));
    let dir = device_dir();
    std::fs::write(dir.join("config"), config).expect("write config");
    std::fs::write(dir.join("resource"), resource).expect("write resource");
    let _ = source::load_all("sysfs:0000:00:00.0");
});
