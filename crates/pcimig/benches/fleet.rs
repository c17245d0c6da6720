//! The fleet engine on synthetic fleets: `cargo bench -p pcimig --bench fleet -- N` prints the
//! time of `fleet::run` on N devices (default 100,000; peak memory: run it under
//! `/usr/bin/time -v`), and, in the same run, the grouped computation against the naive
//! pairwise check (every ordered pair realized and `restore_check`) on 2,000 devices. The
//! fleet is timed twice: as generated (identical vGPU configs realized once), and with every
//! physical config made distinct in bytes QEMU does not check (every device realized).

#[path = "../tests/fleet_common/mod.rs"]
mod fleet_common;

use pcimig::check::vfio::{destination_device, placement, VfioRequest};
use pcimig::fleet::{self, device_request, FleetOptions};
use pcimig::source::ConfigSource;
use pcimig_config::regs::{PCI_CACHE_LINE_SIZE, PCI_INTERRUPT_LINE};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args.iter().find_map(|a| a.parse().ok()).unwrap_or(100_000);
    // `generated`, `distinct` or `compare` runs only that part (for its peak memory alone).
    let only = args
        .iter()
        .find(|a| matches!(a.as_str(), "generated" | "distinct" | "compare"));
    let part = |p: &str| only.is_none_or(|o| o == p);
    let devices = fleet_common::fleet(n);
    if part("generated") {
        generated(&devices);
    }
    if part("compare") {
        compare(&devices);
    }
    if part("distinct") {
        distinct(devices);
    }
}

/// The generated fleet, as is.
fn generated(devices: &[pcimig::fleet::FleetDevice]) {
    let n = devices.len();
    let t = Instant::now();
    let r = fleet::run(devices, &FleetOptions::default()).unwrap();
    println!(
        "fleet of {n}: {:?}, {} groups, {} matrix entries",
        t.elapsed(),
        r.groups.len(),
        r.matrix.len()
    );
}

/// The same fleet with every physical config distinct (among the first 65,536) in bytes
/// QEMU does not check (Cache Line Size, Interrupt Line: writable): no realize can be
/// reused, the groups stay the same.
fn distinct(mut distinct: Vec<pcimig::fleet::FleetDevice>) {
    let n = distinct.len();
    for (i, d) in distinct.iter_mut().enumerate() {
        d.config[PCI_CACHE_LINE_SIZE] = i as u8;
        d.config[PCI_INTERRUPT_LINE] = (i >> 8) as u8;
    }
    let t = Instant::now();
    let u = fleet::run(&distinct, &FleetOptions::default()).unwrap();
    println!(
        "fleet of {n}, configs distinct: {:?}, {} groups, {} matrix entries",
        t.elapsed(),
        u.groups.len(),
        u.matrix.len()
    );
}

/// Grouped against naive pairwise on the first 2,000 devices.
fn compare(devices: &[pcimig::fleet::FleetDevice]) {
    let sub = &devices[..2000.min(devices.len())];
    let t = Instant::now();
    let machine = fleet::run(sub, &FleetOptions::default()).unwrap().machine;
    let grouped = t.elapsed();
    let t = Instant::now();
    let p = placement(&VfioRequest {
        machine: Some(machine),
        ..VfioRequest::default()
    })
    .unwrap();
    let spaces: Vec<_> = sub
        .iter()
        .map(|d| {
            let mut src = ConfigSource::physical(d.name.clone(), d.config.clone());
            src.bar_sizes = d.bar_sizes;
            destination_device(&device_request(d, None), &src, p)
                .ok()
                .map(|v| v.space)
        })
        .collect();
    let mut passes = 0usize;
    for (i, s) in spaces.iter().enumerate() {
        for (j, d) in spaces.iter().enumerate() {
            let same_kind = (sub[i].vendor, sub[i].device) == (sub[j].vendor, sub[j].device);
            if let (Some(s), Some(d), true) = (s, d, same_kind) {
                passes += usize::from(pcimig_config::restore_check(s.config(), d).is_ok_and(|c| c.passed()));
            }
        }
    }
    let naive = t.elapsed();
    println!(
        "2000 devices: grouped {grouped:?}, naive pairwise {naive:?} ({passes} passing pairs), ratio {:.1}x",
        naive.as_secs_f64() / grouped.as_secs_f64()
    );
}
