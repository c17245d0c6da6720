//! The fleet engine against the check itself: on generated fleets (≥ 200 devices across driver
//! versions, device and subsystem IDs, serial numbers and QEMU 7.2 … 11.1, with and without the
//! VSC policy), the verdict of every ordered pair of devices of one kind equals a direct
//! `pcimig check` (`check::vfio::run`) of the pair's dumps.

mod fleet_common;

use fleet_common::{fleet, BARS};
use pcimig::check::vfio::{self, VfioRequest};
use pcimig::check::{QemuVersions, Verdict};
use pcimig::fleet::{self as pfleet, FleetDevice, FleetOptions, FleetReport};
use pcimig_config::MachineType;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Each distinct physical config once on disk (a binary dump), by its bytes.
fn dumps(devices: &[FleetDevice], dir: &Path) -> HashMap<Vec<u8>, PathBuf> {
    let mut files = HashMap::new();
    for d in devices {
        let n = files.len();
        files.entry(d.config.clone()).or_insert_with(|| {
            let p = dir.join(format!("dev{n}.bin"));
            std::fs::write(&p, &d.config).unwrap();
            p
        });
    }
    files
}

/// `pcimig check --vfio` of one pair, as the CLI runs it: the fleet's machine type, the
/// destination's skip-vsc-check where its QEMU has the property, both hosts' QEMU versions.
/// An error is a failed move only when the source's QEMU cannot run the machine type.
fn direct(
    src: &FleetDevice,
    dst: &FleetDevice,
    files: &HashMap<Vec<u8>, PathBuf>,
    machine: &str,
    policy: Option<bool>,
) -> bool {
    let req = VfioRequest {
        saved: files[&src.config].display().to_string(),
        dest: files[&dst.config].display().to_string(),
        machine: Some(machine.into()),
        skip_vsc_check: pfleet::skip_vsc_check_on(dst.qemu, policy),
        bars: BARS,
        qemu: QemuVersions {
            saved: src.qemu,
            dest: dst.qemu,
        },
        ..VfioRequest::default()
    };
    match vfio::run(&req) {
        Ok(o) => o.verdict == Verdict::Pass,
        Err(e) => {
            let m = MachineType::parse(machine).unwrap();
            assert!(
                src.qemu.lacks_machine(&m).is_some(),
                "{} -> {}: {e}",
                src.name,
                dst.name
            );
            false
        }
    }
}

/// A pair's inputs: source config and QEMU, destination config and QEMU.
type PairKey<'a> = (&'a [u8], String, &'a [u8], String);

/// Every ordered pair of same-kind devices: the fleet's group verdict equals the direct check
/// (memoized on identical inputs: the check is a function of the two configs and QEMUs).
fn assert_every_pair(devices: &[FleetDevice], opts: &FleetOptions, dir: &Path) -> FleetReport {
    let report = pfleet::run(devices, opts).unwrap();
    assert!(report.skipped.is_empty(), "{:?}", report.skipped.first());
    let group_of: HashMap<&str, &str> = report
        .groups
        .iter()
        .flat_map(|g| g.devices.iter().map(move |d| (d.as_str(), g.id.as_str())))
        .collect();
    let verdict: HashMap<(&str, &str), bool> = report
        .matrix
        .iter()
        .map(|m| ((m.from.as_str(), m.to.as_str()), m.pass))
        .collect();
    let files = dumps(devices, dir);
    let mut memo: HashMap<PairKey, bool> = HashMap::new();
    let mut pairs = 0;
    for s in devices {
        for d in devices.iter().filter(|d| (d.vendor, d.device) == (s.vendor, s.device)) {
            let key = (&s.config[..], s.qemu.to_string(), &d.config[..], d.qemu.to_string());
            let want = *memo
                .entry(key)
                .or_insert_with(|| direct(s, d, &files, &report.machine, opts.skip_vsc_check));
            let got = verdict[&(group_of[s.name.as_str()], group_of[d.name.as_str()])];
            assert_eq!(got, want, "{} -> {} ({opts:?})", s.name, d.name);
            pairs += 1;
        }
    }
    assert!(pairs > 20_000, "{pairs} pairs");
    report
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pcimig-fleet-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn every_pair_matches_the_direct_check_under_each_vsc_policy() {
    let devices = fleet(216);
    let dir = temp_dir("policy");
    for policy in [None, Some(true), Some(false)] {
        let opts = FleetOptions {
            skip_vsc_check: policy,
            ..FleetOptions::default()
        };
        let r = assert_every_pair(&devices, &opts, &dir);
        assert_eq!(r.machine, "pc-q35-7.2", "the newest q35 machine type QEMU 7.2 defines");
        assert!(r.matrix.iter().any(|m| m.pass) && r.matrix.iter().any(|m| !m.pass));
        assert!(
            r.hazards.iter().any(|h| h.register.contains("Serial Number")),
            "{:?}",
            r.hazards
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_machine_type_a_newer_qemu_dropped_refuses_its_hosts_both_ways() {
    // QEMU 11.1's oldest q35 machine type is 5.2: its hosts can neither run nor take the VM.
    let devices = fleet(216);
    let dir = temp_dir("refusal");
    let opts = FleetOptions {
        machine: Some("pc-q35-5.1".into()),
        ..FleetOptions::default()
    };
    let r = assert_every_pair(&devices, &opts, &dir);
    assert!(r.groups.iter().any(|g| g.refusal.is_some() && g.qemu == ["11.1.3"]));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_vsc_policy_lets_driver_versions_move_where_qemu_has_it() {
    // With skip-vsc-check on, a vGPU on R550 moves onto R570 on QEMU 10.0 (payload exempt);
    // with it off, the payload is checked and the move fails.
    let devices = fleet(216);
    let on = pfleet::run(
        &devices,
        &FleetOptions {
            skip_vsc_check: Some(true),
            ..FleetOptions::default()
        },
    )
    .unwrap();
    let off = pfleet::run(
        &devices,
        &FleetOptions {
            skip_vsc_check: Some(false),
            ..FleetOptions::default()
        },
    )
    .unwrap();
    let passes = |r: &FleetReport| r.matrix.iter().filter(|m| m.pass).count();
    assert!(passes(&on) > passes(&off), "{} vs {}", passes(&on), passes(&off));
    assert!(off.split_bytes.iter().any(|b| b.register.contains("Vendor Specific")));
}
