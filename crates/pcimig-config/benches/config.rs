//! pcimig-config benchmarks: guest config access and the restore check of a 4096-byte space,
//! with a plain 4096-byte compare (`saved == device.config()`) measured in the same run as the
//! reference; the target is the check within 2x of that compare. Cases: identical images (the
//! pass case), a passing image that differs in writable/unchecked bytes, one checked byte
//! differing late in the space, and a worst-case device whose every byte is checked.
//!
//! Run with `cargo bench -p pcimig-config --bench config`. Not part of CI.

use criterion::{criterion_group, criterion_main, Criterion};
use pcimig_config::check::{failing_offsets, first_failing_offset};
use pcimig_config::presets::PcieCapOptions;
use pcimig_config::{
    restore_check, CapId, ConfigSize, ConfigSpace, DeviceIdentity, DeviceParams, ExtCapId, HeaderKind, Preset,
};
use std::hint::black_box;

/// A PCIe endpoint as QEMU builds one: header, BARs, PM, MSI-X, PCIe v2 with its helpers, AER,
/// ATS and DSN, so the masks are realistic (checked bytes spread over the whole space).
fn express_device() -> ConfigSpace {
    let mut s = ConfigSpace::new_device(&DeviceParams {
        size: ConfigSize::Express,
        header: HeaderKind::Type0,
        identity: DeviceIdentity {
            vendor_id: 0x1af4,
            device_id: 0x1041,
            class_id: 0x0200,
            revision: 1,
            ..Default::default()
        },
        multifunction: false,
    });
    s.register_bar(4, 0x0c, 0x4000).unwrap();
    s.pcie_endpoint_cap_init(0, false, &PcieCapOptions::default()).unwrap();
    s.pcie_cap_deverr_init().unwrap();
    s.pcie_cap_lnkctl_init().unwrap();
    s.pcie_cap_flr_init().unwrap();
    s.pm_init(0, true).unwrap();
    for _ in 0..4 {
        s.add_capability(CapId::Vndr, 0, 0x10, Preset::VirtioPciAddMemCap)
            .unwrap();
    }
    s.msix_init_exclusive_bar(8, 1).unwrap();
    s.aer_init(2, 0x100, 0x48, 128, true).unwrap();
    s.ats_init(0x148, true).unwrap();
    s.dsn_init(0x150, 0x1234_5678_9abc_def0).unwrap();
    // A vendor-specific ext cap near the end, so bytes up to 0xfff are checked too.
    s.add_ext_capability(ExtCapId::Vndr, 1, 0xf00, 0x100, Preset::PcieAddCapability)
        .unwrap();
    s
}

/// Guest reads and writes.
fn access(c: &mut Criterion, dev: &ConfigSpace) {
    let mut g = c.benchmark_group("access");
    g.bench_function("read4", |b| {
        let mut off = 0usize;
        b.iter(|| {
            off = (off + 4) & 0xffc;
            black_box(dev.read(black_box(off), 4).unwrap())
        })
    });
    g.bench_function("write4", |b| {
        let mut d = dev.clone();
        let mut off = 0usize;
        b.iter(|| {
            off = (off + 4) & 0xffc;
            d.write(black_box(off), black_box(0x5a5a_5a5a), 4).unwrap();
        })
    });
    g.finish();
}

fn benches(c: &mut Criterion) {
    let dev = express_device();
    access(c, &dev);

    let equal = dev.config().to_vec();
    let mut one_off = equal.clone();
    one_off[0xf80] ^= 0x01; // one checked byte differs, late in the space
    assert_eq!(failing_offsets(&one_off, &dev).unwrap(), vec![0xf80]);
    // A passing image that is not byte-identical: what a guest changes in writable bytes
    // (Command, BAR4 address, MSI-X enable) and bytes no capability claims.
    let mut writable_differ = equal.clone();
    writable_differ[0x04] = 0x07;
    writable_differ[0x22..0x28].copy_from_slice(&[0x80, 0xfe, 0, 0, 0, 0]);
    let msix = dev.msix_cap().unwrap();
    writable_differ[msix + 3] |= 0x80;
    writable_differ[0x800..0x810].fill(0xa5);
    assert!(failing_offsets(&writable_differ, &dev).unwrap().is_empty());

    let mut g = c.benchmark_group("check4096");
    g.bench_function("plain_compare", |b| {
        b.iter(|| black_box(black_box(&equal[..]) == black_box(dev.config())))
    });
    g.bench_function("failing_offsets_equal", |b| {
        b.iter(|| black_box(failing_offsets(black_box(&equal), black_box(&dev)).unwrap()))
    });
    g.bench_function("failing_offsets_one_mismatch", |b| {
        b.iter(|| black_box(failing_offsets(black_box(&one_off), black_box(&dev)).unwrap()))
    });
    g.bench_function("first_failing_offset_equal", |b| {
        b.iter(|| black_box(first_failing_offset(black_box(&equal), black_box(&dev)).unwrap()))
    });
    g.bench_function("first_failing_offset_one_mismatch", |b| {
        b.iter(|| black_box(first_failing_offset(black_box(&one_off), black_box(&dev)).unwrap()))
    });
    g.bench_function("failing_offsets_writable_differ", |b| {
        b.iter(|| black_box(failing_offsets(black_box(&writable_differ), black_box(&dev)).unwrap()))
    });
    g.bench_function("restore_check_writable_differ", |b| {
        b.iter(|| black_box(restore_check(black_box(&writable_differ), black_box(&dev)).unwrap()))
    });
    g.bench_function("restore_check_equal", |b| {
        b.iter(|| black_box(restore_check(black_box(&equal), black_box(&dev)).unwrap()))
    });
    g.bench_function("restore_check_one_mismatch", |b| {
        b.iter(|| black_box(restore_check(black_box(&one_off), black_box(&dev)).unwrap()))
    });

    // Worst case: every byte checked (a vfio device whose capabilities cover the whole space).
    let mut all = ConfigSpace::from_bytes(&equal).unwrap();
    all.raw_mut().cmask.fill(0xff);
    let mut all_one_off = equal.clone();
    all_one_off[0xf80] ^= 0x01;
    assert_eq!(failing_offsets(&all_one_off, &all).unwrap(), vec![0xf80]);
    // One difference at the start (a BAR address), the rest identical: every block is checked,
    // the whole-space compare fails at once, and the scan has to visit all 64 blocks.
    let mut early = equal.clone();
    early[0x20] ^= 0x01;
    assert_eq!(failing_offsets(&early, &all).unwrap(), vec![0x20]);
    g.bench_function("all_checked_failing_offsets_equal", |b| {
        b.iter(|| black_box(failing_offsets(black_box(&equal), black_box(&all)).unwrap()))
    });
    g.bench_function("all_checked_failing_offsets_early_difference", |b| {
        b.iter(|| black_box(failing_offsets(black_box(&early), black_box(&all)).unwrap()))
    });
    g.bench_function("all_checked_failing_offsets_one_mismatch", |b| {
        b.iter(|| black_box(failing_offsets(black_box(&all_one_off), black_box(&all)).unwrap()))
    });
    g.bench_function("all_checked_restore_check_equal", |b| {
        b.iter(|| black_box(restore_check(black_box(&equal), black_box(&all)).unwrap()))
    });
    g.bench_function("all_checked_restore_check_one_mismatch", |b| {
        b.iter(|| black_box(restore_check(black_box(&all_one_off), black_box(&all)).unwrap()))
    });
    g.finish();
}

criterion_group!(group, benches);
criterion_main!(group);
