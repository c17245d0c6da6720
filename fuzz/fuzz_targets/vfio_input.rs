//! The fuzz input of `vfio_virtualize`: 12 option bytes, then the physical config (padded
//! to 256 bytes, or to 4096 when longer). Shared with pcimig-vfio's regression test, which
//! replays the target's findings through the same decoding.

use pcimig_config::{MachineFamily, MachineType, QemuVersion};
use pcimig_vfio::{IdOverrides, Slot, VfioOptions};

const QEMUS: [&str; 6] = ["7.2", "8.2", "9.1", "9.2", "10.0", "11.1"];

fn options(o: &[u8; 12]) -> VfioOptions {
    let slot = [Slot::PciePort, Slot::Q35Root, Slot::PciBridge, Slot::I440fx][usize::from(o[0] & 3)];
    let family = if o[0] & 4 == 0 {
        MachineFamily::Q35
    } else {
        MachineFamily::I440fx
    };
    let qemu = QemuVersion::parse(QEMUS[usize::from(o[1]) % QEMUS.len()]).unwrap_or(QemuVersion::DEFAULT);
    let size = |b: u8| match b >> 6 {
        0 => None,
        1 => Some(0),
        _ => Some(1u64 << (b & 0x3f)),
    };
    let bar_sizes = (o[2] & 1 == 1).then(|| std::array::from_fn(|i| size(o[3 + i])));
    VfioOptions {
        slot,
        machine: MachineType::latest(family),
        qemu,
        skip_vsc_check: [None, Some(false), Some(true)][usize::from(o[2] >> 1) % 3],
        bar_sizes,
        rom_size: size(o[9]),
        exempt_ext_vendor: o[2] & 0x10 != 0,
        multifunction: o[2] & 0x20 != 0,
        nv_gpudirect_clique: (o[10] & 0x80 != 0).then_some(o[10] & 0x1f),
        id_overrides: IdOverrides {
            vendor_id: (o[11] & 1 != 0).then_some(0x10de),
            device_id: (o[11] & 2 != 0).then_some(0x2330),
            sub_vendor_id: (o[11] & 4 != 0).then_some(0x1af4),
            sub_device_id: (o[11] & 8 != 0).then_some(0x1100),
        },
    }
}

/// The options and the physical config an input stands for; `None` for fewer than 12 bytes.
pub fn split(data: &[u8]) -> Option<(VfioOptions, Vec<u8>)> {
    if data.len() < 12 {
        return None;
    }
    let (head, rest) = data.split_at(12);
    let mut physical = rest.to_vec();
    physical.resize(if rest.len() > 256 { 4096 } else { 256 }, 0);
    Some((options(head.try_into().expect("12 bytes")), physical))
}
