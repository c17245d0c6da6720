//! The stream walk (`Stream::open`) on the two shapes of RAM: a mostly-zero guest (every page a
//! 9-byte zero-page record) and incompressible RAM (every page a 4 KiB payload), each written
//! once to `target/bench-stream-walk/`. The whole-process comparison with `cat` and
//! analyze-migration.py on real QEMU streams is `scripts/bench-streams` (BENCHMARKS.md).
//!
//! Run: `cargo bench -p pcimig-qemu --bench stream_walk`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use pcimig_qemu::build::StreamBuilder;
use pcimig_qemu::Stream;
use std::path::PathBuf;
use std::time::Duration;

/// Guest RAM of the mostly-zero stream (its file is 9 bytes per 4 KiB page).
const ZERO_GUEST: u64 = 4 << 30;
/// Guest RAM of the incompressible stream (its file is about this size).
const RANDOM_GUEST: u64 = 256 << 20;
const PAGE: u64 = 4096;

/// A stream whose RAM section holds one block of `guest` bytes, each page written by `page`
/// (a continued zero page or a continued whole page), then an e1000 section.
fn ram_stream(guest: u64, zero: bool) -> Vec<u8> {
    let mut b = StreamBuilder::new("pc-q35-10.0");
    let (id, mut raw) = b.ram_start(guest);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for p in 0..guest / PAGE {
        let named = if p == 0 { 0 } else { 0x20 };
        let flags = if zero { 0x02 } else { 0x08 };
        raw.extend_from_slice(&((p * PAGE) | flags | named).to_be_bytes());
        if p == 0 {
            raw.push(6);
            raw.extend_from_slice(b"pc.ram");
        }
        if zero {
            raw.push(0);
        } else {
            for _ in 0..PAGE / 8 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                raw.extend_from_slice(&x.to_le_bytes());
            }
        }
    }
    raw.extend_from_slice(&0x10u64.to_be_bytes());
    raw.push(0x7e);
    raw.extend_from_slice(&id.to_be_bytes());
    b.raw(&raw);
    b.e1000();
    b.finish()
}

/// The stream file, written on first use.
fn input(name: &str, guest: u64, zero: bool) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-stream-walk");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(name);
    if !file.exists() {
        std::fs::write(&file, ram_stream(guest, zero)).unwrap();
    }
    file
}

fn walk(c: &mut Criterion) {
    let mut g = c.benchmark_group("stream_walk");
    g.measurement_time(Duration::from_secs(5)).sample_size(20);
    for (name, guest, zero) in [
        ("zero-4g.mig", ZERO_GUEST, true),
        ("random-256m.mig", RANDOM_GUEST, false),
    ] {
        let file = input(name, guest, zero);
        let len = std::fs::metadata(&file).unwrap().len();
        g.throughput(Throughput::Bytes(len));
        g.bench_function(name, |b| {
            b.iter(|| {
                let s = Stream::open(&file).unwrap();
                assert_eq!(s.pci_devices().len(), 1);
            })
        });
    }
    g.finish();
}

criterion_group!(benches, walk);
criterion_main!(benches);
