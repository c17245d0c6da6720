//! A fleet from host snapshots (`pcimig snapshot`, `docs/snapshot-format.md`).

use super::FleetDevice;
use crate::snapshot::Snapshot;
use pcimig_config::QemuVersion;

/// The fleet devices of one snapshot, named `NAME#DDDD:BB:DD.F` with `name` the snapshot file
/// as the user gave it.
///
/// The host's QEMU is the newest install the snapshot records that pcimig models (a host with
/// several installs starts new VMs with whichever its management stack picks; the newest is
/// the one an upgrade moves to); `fallback` stands in when it records none. An error when
/// neither is there: without a QEMU version the destination's masks are unknown.
pub fn devices_from_snapshot(
    name: &str,
    snap: &Snapshot,
    fallback: Option<QemuVersion>,
) -> Result<Vec<FleetDevice>, String> {
    let qemu = host_qemu(snap)
        .or(fallback)
        .ok_or_else(|| no_qemu_message(name, snap))?;
    let host = snap.host.name.clone().unwrap_or_else(|| name.to_string());
    Ok(snap
        .devices
        .iter()
        .map(|d| FleetDevice {
            name: format!("{name}#{}", d.bdf),
            snapshot: name.to_string(),
            host: host.clone(),
            bdf: d.bdf.clone(),
            vendor: d.vendor,
            device: d.device,
            driver: d.driver.clone(),
            driver_version: d.driver_version.clone(),
            qemu,
            config: d.config().to_vec(),
            bar_sizes: d.bar_sizes,
        })
        .collect())
}

/// The newest QEMU install of the host that pcimig models.
pub fn host_qemu(snap: &Snapshot) -> Option<QemuVersion> {
    snap.qemu_versions().into_iter().max_by_key(|q| (q.series(), q.micro))
}

fn no_qemu_message(name: &str, snap: &Snapshot) -> String {
    let unknown: Vec<&str> = snap.host.qemu.iter().map(|q| q.version.as_str()).collect();
    if unknown.is_empty() {
        format!("{name}: the snapshot records no QEMU install; give the hosts' QEMU with --qemu VERSION")
    } else {
        format!(
            "{name}: the snapshot's QEMU ({}) is no version pcimig models; give one with --qemu VERSION",
            unknown.join(", ")
        )
    }
}
