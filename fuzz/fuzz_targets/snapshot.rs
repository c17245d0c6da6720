//! The snapshot reader: `Snapshot::from_json` on any bytes; a snapshot it accepts must survive
//! its own round trip (written and read again, equal), answer every query, and become fleet
//! devices that the fleet engine analyses.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pcimig::fleet::{self, FleetOptions};
use pcimig::snapshot::Snapshot;
use pcimig_config::QemuVersion;

fuzz_target!(|data: &[u8]| {
    let Ok(snap) = Snapshot::from_json("fuzz.json", data) else {
        return;
    };
    let text = snap.to_json();
    let again = Snapshot::from_json("again.json", text.as_bytes()).expect("a written snapshot reads back");
    assert_eq!(again, snap, "the round trip changed the snapshot");
    let _ = (snap.qemu_versions(), snap.rom_files(), fleet::host_qemu(&snap));
    for d in &snap.devices {
        let _ = (d.ids(), d.address(), snap.device(&d.bdf));
    }
    let Ok(devices) = fleet::devices_from_snapshot("fuzz.json", &snap, Some(QemuVersion::DEFAULT)) else {
        return;
    };
    let opts = FleetOptions {
        threads: 1,
        ..FleetOptions::default()
    };
    let _ = fleet::run(&devices[..devices.len().min(16)], &opts);
});
