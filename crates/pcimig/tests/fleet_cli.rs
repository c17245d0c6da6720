//! `pcimig fleet` on snapshot files: the CLI reads `pcimig snapshot`'s format, names devices
//! `SNAPSHOT#BDF` as given on the command line, and its groups and matrix equal the library's.

mod fleet_common;

use pcimig::fleet::{self, FleetDevice, FleetOptions};
use pcimig::snapshot::{HostFacts, QemuInstall, Snapshot, SnapshotDevice};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("pcimig-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn pcimig(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pcimig"))
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
        .args(args)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// One snapshot per host of `devices`, written to `dir`; the devices renamed after the files.
fn write_snapshots(devices: &[FleetDevice], dir: &Path) -> (Vec<String>, Vec<FleetDevice>) {
    let mut files: Vec<String> = Vec::new();
    let mut renamed = Vec::new();
    let mut hosts: Vec<&str> = devices.iter().map(|d| d.host.as_str()).collect();
    hosts.dedup();
    for host in hosts {
        let members: Vec<&FleetDevice> = devices.iter().filter(|d| d.host == host).collect();
        let path = dir.join(format!("{host}.json")).to_string_lossy().into_owned();
        let snap_devices = members
            .iter()
            .map(|d| {
                let mut s = SnapshotDevice::from_config(&d.bdf, d.config.clone()).unwrap();
                s.driver = d.driver.clone();
                s.driver_version = d.driver_version.clone();
                s.bar_sizes = d.bar_sizes;
                s
            })
            .collect();
        let facts = HostFacts {
            name: Some(host.to_string()),
            kernel: None,
            time: "2025-06-01T12:00:00Z".into(),
            qemu: vec![QemuInstall::from_model(members[0].qemu)],
            rom_files: Vec::new(),
        };
        std::fs::write(&path, Snapshot::new(None, facts, snap_devices).to_json()).unwrap();
        for d in members {
            let mut r = d.clone();
            r.name = format!("{path}#{}", d.bdf);
            r.snapshot = path.clone();
            renamed.push(r);
        }
        files.push(path);
    }
    (files, renamed)
}

#[test]
fn the_cli_over_snapshot_files_equals_the_library_on_the_same_devices() {
    let dir = temp_dir("fleet-cli");
    let (files, devices) = write_snapshots(&fleet_common::fleet(64), &dir);
    for vsc in [None, Some("off")] {
        let mut args = vec!["fleet", "--json"];
        if let Some(v) = vsc {
            args.extend(["--skip-vsc-check", v]);
        }
        args.extend(files.iter().map(String::as_str));
        let out = pcimig(&args);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let got: Value = serde_json::from_slice(&out.stdout).unwrap();
        let opts = FleetOptions {
            skip_vsc_check: vsc.map(|v| v == "on"),
            ..FleetOptions::default()
        };
        let want = serde_json::to_value(fleet::run(&devices, &opts).unwrap()).unwrap();
        assert_eq!(got["groups"], want["groups"]);
        assert_eq!(got["matrix"], want["matrix"]);
        assert!(got["matrix"].as_array().unwrap().iter().any(|m| m["pass"] == false));
        let first = &got["groups"][0]["devices"][0];
        assert!(
            first.as_str().unwrap().starts_with(&format!("{}#0000:", files[0])),
            "{first}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_example_snapshots_give_groups_a_matrix_and_an_html_page() {
    let dir = temp_dir("fleet-examples");
    let html = dir.join("fleet.html");
    let html_arg = html.to_string_lossy().into_owned();
    let snaps = [
        "data/snapshots/host-a.json",
        "data/snapshots/host-b.json",
        "data/snapshots/gpu-host-c.json",
        "data/snapshots/gpu-host-d.json",
    ];
    let mut args = vec!["fleet", "--json", "--html", &html_arg];
    args.extend(snaps);
    let out = pcimig(&args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let groups = v["groups"].as_array().unwrap();
    // The two vGPU hosts (R550, R570) move both ways under the machine type's skip-vsc-check;
    // the passthrough GPUs differ in their serial numbers: a group each.
    let vgpu: Vec<&str> = groups
        .iter()
        .find(|g| g["devices"].as_array().unwrap().len() == 2)
        .map(|g| {
            g["devices"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_str().unwrap())
                .collect()
        })
        .expect("a group of the two vGPU hosts");
    assert_eq!(
        vgpu,
        [
            "data/snapshots/host-a.json#0000:3b:00.0",
            "data/snapshots/host-b.json#0000:3b:00.0"
        ]
    );
    assert_eq!(groups.len(), 3);
    assert_eq!(v["matrix"].as_array().unwrap().len(), 9);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("data-from=") && page.contains("host-b.json#0000:3b:00.0"));
    // Never written over an input.
    let out = pcimig(&["fleet", "--export", snaps[0], snaps[0], snaps[1]]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("the same file"), "{}", stderr(&out));
    // Outputs of their own: not standard output, not each other.
    let out = pcimig(&["fleet", "--html", "-", snaps[0]]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let same = dir.join("same").to_string_lossy().into_owned();
    let out = pcimig(&["fleet", "--html", &same, "--export", &same, snaps[0]]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("same file"), "{}", stderr(&out));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_snapshots_are_named_and_exit_2() {
    let dir = temp_dir("fleet-bad");
    let garbage = dir.join("garbage.json");
    std::fs::write(&garbage, b"\x00\x01 not json").unwrap();
    let g = garbage.to_string_lossy().into_owned();
    let out = pcimig(&["fleet", "data/snapshots/host-a.json", &g]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("garbage.json"), "{}", stderr(&out));

    // A snapshot that records no QEMU: its host's version must be given.
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/snapshots/host-a.json"))
        .unwrap();
    let mut v: Value = serde_json::from_str(&text).unwrap();
    v["host"]["qemu"] = Value::Array(Vec::new());
    let bare = dir.join("no-qemu.json");
    std::fs::write(&bare, serde_json::to_vec(&v).unwrap()).unwrap();
    let b = bare.to_string_lossy().into_owned();
    let out = pcimig(&["fleet", &b]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no QEMU install") && stderr(&out).contains("--qemu"),
        "{}",
        stderr(&out)
    );
    let out = pcimig(&["fleet", "--qemu", "10.0", "--json", &b]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["masks"][0]["qemu"][0], "10.0");
    let out = pcimig(&["fleet", "--qemu", "6.0", &b]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--qemu"), "{}", stderr(&out));
    std::fs::remove_dir_all(&dir).unwrap();
}
