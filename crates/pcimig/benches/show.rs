//! `pcimig show --json` vs `lspci -vvv -F` on the same generated `lspci -xxxx` file of 8,000
//! devices, side by side in one run (both as processes, output to /dev/null), plus the
//! in-process read + decode + JSON of the same file.
//!
//! Run: `cargo bench -p pcimig --bench show` (see BENCHMARKS.md, "pcimig show").

use criterion::{criterion_group, criterion_main, Criterion};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

#[path = "../tests/show_common/mod.rs"]
mod show_common;

const DEVICES: usize = 8000;

fn input() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-show");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("devices-8000.txt");
    if !file.exists() {
        let mut rng = show_common::Rng::new(8000);
        let mut text = String::with_capacity(DEVICES * 14_000);
        let shapes = [
            show_common::Shape::Presets,
            show_common::Shape::Random,
            show_common::Shape::Malformed,
        ];
        for i in 0..DEVICES {
            let bytes = show_common::generate(&mut rng, shapes[i % 3]);
            show_common::lspci_text(&mut text, &show_common::bdf(i), &bytes);
        }
        std::fs::write(&file, text).unwrap();
    }
    file
}

fn run(cmd: &mut Command) {
    let st = cmd.stdout(Stdio::null()).stderr(Stdio::null()).status().unwrap();
    assert!(st.success(), "{cmd:?} failed");
}

fn bench(c: &mut Criterion) {
    let file = input();
    let size = std::fs::metadata(&file).unwrap().len();
    eprintln!("input: {} ({DEVICES} devices, {size} bytes)", file.display());
    let pcimig = env!("CARGO_BIN_EXE_pcimig");
    let mut g = c.benchmark_group("show_8000_devices");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(30))
        .warm_up_time(Duration::from_secs(3));
    g.bench_function("pcimig show --json FILE", |b| {
        b.iter(|| run(Command::new(pcimig).args(["show", "--json"]).arg(&file)))
    });
    g.bench_function("pcimig show FILE (text)", |b| {
        b.iter(|| run(Command::new(pcimig).arg("show").arg(&file)))
    });
    if show_common::have_lspci() {
        g.bench_function("lspci -vvv -F FILE", |b| {
            b.iter(|| run(Command::new("lspci").args(["-vvv", "-F"]).arg(&file)))
        });
    } else {
        eprintln!("lspci is not installed: the comparison is skipped");
    }
    g.bench_function("in-process: load_all + decode_all + JSON", |b| {
        b.iter(|| {
            let s = pcimig::source::load_all(Path::new(&file).to_str().unwrap()).unwrap();
            let r = pcimig::show::decode_all(&s);
            let mut out = Vec::with_capacity(64 << 20);
            serde_json::to_writer(&mut out, &pcimig::show::Devices { devices: &r }).unwrap();
            out.len()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
