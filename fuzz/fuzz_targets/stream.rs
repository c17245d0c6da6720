//! The migration stream reader: `Stream::from_bytes` and everything a caller asks of an opened
//! stream (devices, config bytes, PCIDevice state, RAM blocks, vmdesc), then the whole-stream
//! check of the stream against itself; and the devices-only walk (`check --emulated`'s
//! destination), which must find what the whole walk finds whenever both open the stream.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pcimig::check::stream::check_streams;
use pcimig::check::{DestHost, QemuVersions};
use pcimig_config::QemuVersion;
use pcimig_qemu::devices::RomFiles;
use pcimig_qemu::Stream;

/// What `check --emulated` takes from a destination stream.
fn devices(s: &Stream) -> String {
    let configs: Vec<_> = s.pci_devices().iter().map(|d| s.read_config(d).ok()).collect();
    format!(
        "{:?} {:?} {:?} {configs:?}",
        s.machine_type(),
        s.ram_blocks(),
        s.pci_devices()
    )
}

fuzz_target!(|data: &[u8]| {
    let devices_only = Stream::devices_from_bytes("fuzz.mig", data.to_vec());
    let Ok(stream) = Stream::from_bytes("fuzz.mig", data.to_vec()) else {
        return;
    };
    if let Ok(d) = &devices_only {
        assert_eq!(devices(d), devices(&stream));
    }
    let _ = (
        stream.machine_type(),
        stream.page_size(),
        stream.capabilities(),
        stream.vmdesc(),
    );
    let _ = (
        stream.ram_blocks(),
        stream.sections(),
        stream.warnings(),
        stream.eof_offset(),
    );
    let _ = stream.pci_sections_without_config();
    for dev in stream.pci_devices() {
        let _ = stream.read_config(dev);
        let _ = stream.read_pci_state(dev);
        let _ = stream.find_device(&dev.id);
        let _ = stream.read_bytes(dev.config_offset, 4096);
    }
    let rom_files = RomFiles::default();
    let host = DestHost {
        query_pci: None,
        rom_files: &rom_files,
        qemu: QemuVersions {
            saved: QemuVersion::DEFAULT,
            dest: QemuVersion::DEFAULT,
        },
    };
    let _ = check_streams(&stream, &stream, &host);
});
