//! `pcimig explain` on real QEMU output: the logs in `tests/data/explain` were captured from
//! QEMU 7.2.22, 10.0.2 and 11.1.3 loading mutated streams of a q35 VM with an e1000e at
//! 0000:00:03.0 (the config byte at 0x2, 0xec or 0x144 flipped; the device missing on the
//! destination; a section version of 9; another or an unknown machine type; a padded or absent
//! option ROM file). Each test states what QEMU failed on and checks explain names it.

use pcimig::explain::{self, CauseKind, Certainty, Explanation, FailureKind, Request};
use std::path::PathBuf;
use std::process::Command;

const VERSIONS: &[&str] = &["7.2", "10.0", "11.1"];
const E1000E: &str = "0000:00:03.0/e1000e";

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/explain")
        .join(name)
}

fn explain_fixture(name: &str) -> Explanation {
    let path = data(name);
    let log = explain::read_log(path.to_str().unwrap()).unwrap();
    let req = Request {
        log_name: name.into(),
        ..Request::default()
    };
    explain::explain(&log, &req).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn each_version(case: &str) -> impl Iterator<Item = (String, Explanation)> + '_ {
    VERSIONS.iter().map(move |v| {
        let name = format!("qemu-{v}-{case}.log");
        let e = explain_fixture(&name);
        (name, e)
    })
}

/// A config failure: the offset, the register and the device QEMU named.
fn assert_config(name: &str, e: &Explanation, offset: usize, register: &str, cause: CauseKind) {
    assert_eq!(e.failure, FailureKind::Config, "{name}");
    assert_eq!(e.offset(), Some(offset), "{name}");
    assert_eq!(e.device.as_ref().map(|d| d.idstr.as_str()), Some(E1000E), "{name}");
    assert_eq!(
        e.device.as_ref().and_then(|d| d.model.as_deref()),
        Some("e1000e"),
        "{name}"
    );
    assert_eq!(e.register.as_ref().unwrap().register, register, "{name}");
    assert_eq!(e.causes[0].kind, cause, "{name}: {:?}", e.causes);
}

#[test]
fn device_id_byte_is_named_from_the_header_in_every_version() {
    for (name, e) in each_version("devid") {
        assert_config(&name, &e, 0x2, "Device ID", CauseKind::DeviceId);
        assert_eq!(e.register.unwrap().certainty, Certainty::Header);
    }
}

#[test]
fn e1000e_link_capabilities_byte_is_named_from_the_device_models_layout() {
    for (name, e) in each_version("pcie-lnkcap") {
        assert_config(
            &name,
            &e,
            0xec,
            "PCI Express @0xe0 Link Capabilities",
            CauseKind::Capability,
        );
        assert_eq!(e.register.unwrap().certainty, Certainty::DeviceModel);
    }
}

#[test]
fn e1000e_serial_number_byte_is_a_dsn_cause() {
    for (name, e) in each_version("dsn") {
        assert_config(
            &name,
            &e,
            0x144,
            "Device Serial Number @0x140 Serial Number",
            CauseKind::Dsn,
        );
    }
}

#[test]
fn timestamped_lines_read_like_plain_ones() {
    let e = explain_fixture("qemu-10.0-timestamps-pcie-lnkcap.log");
    assert_config(
        "timestamps",
        &e,
        0xec,
        "PCI Express @0xe0 Link Capabilities",
        CauseKind::Capability,
    );
}

#[test]
fn rom_size_mismatch_names_the_block_device_and_both_lengths() {
    for (name, e) in each_version("rom-size") {
        assert_eq!(e.failure, FailureKind::RamBlockSize, "{name}");
        assert_eq!(e.device.as_ref().unwrap().idstr, E1000E, "{name}");
        assert_eq!(e.causes[0].kind, CauseKind::RamBlockSize);
        assert!(e.causes[0].text.contains("0x40000") && e.causes[0].text.contains("0x100000"));
    }
}

#[test]
fn missing_rom_block_and_missing_section_name_the_device() {
    for (name, e) in each_version("rom-unknown") {
        assert_eq!(e.failure, FailureKind::UnknownRamBlock, "{name}");
        assert_eq!(e.device.as_ref().unwrap().idstr, E1000E, "{name}");
    }
    for (name, e) in each_version("unknown-section") {
        assert_eq!(e.failure, FailureKind::UnknownSection, "{name}");
        assert_eq!(e.device.as_ref().unwrap().idstr, E1000E, "{name}");
        assert_eq!(e.device.as_ref().unwrap().instance_id, Some(0), "{name}");
    }
}

#[test]
fn newer_section_version_is_a_vmstate_version_cause() {
    for (name, e) in each_version("version") {
        assert_eq!(e.failure, FailureKind::VmstateVersion, "{name}");
        assert!(e.causes[0].text.contains("version 9"), "{name}");
        assert!(e.causes[0].text.contains("at most version 1"), "{name}");
    }
}

#[test]
fn machine_type_failures_are_told_apart() {
    for (name, e) in each_version("machine-differs") {
        assert_eq!(e.failure, FailureKind::MachineTypeDiffers, "{name}");
        assert!(e.causes[0].text.contains("pc-q35-7.1"), "{name}");
    }
    for (name, e) in each_version("machine-unknown") {
        assert_eq!(e.failure, FailureKind::MachineTypeUnknown, "{name}");
        // 7.2 does not name the machine type; 10.0 and 11.1 do.
        assert_eq!(
            e.causes[0].text.contains("pc-q35-99.0"),
            !name.contains("7.2"),
            "{name}"
        );
    }
}

/// The reference layouts are QEMU's: the chains of real QEMU 10.0.2 configs of the same devices.
#[test]
fn reference_layouts_match_real_qemu_configs() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../pcimig-qemu/tests/data");
    for (file, idstr) in [
        ("q35-10.0-e1000e.bin", "0000:00:02.0/e1000e"),
        ("q35-10.0-pcie-root-port.bin", "0000:00:1c.0/pcie-root-port"),
        ("q35-10.0-pci-bridge.bin", "0000:00:05.0/pci_bridge"),
    ] {
        let config = std::fs::read(dir.join(file)).unwrap();
        let mut real: Vec<(bool, u16, usize)> = pcimig_config::walk_std(&config)
            .entries
            .iter()
            .chain(pcimig_config::walk_ext(&config).entries.iter())
            .map(|e| (e.extended, e.id, e.offset))
            .collect();
        let mut ours = explain::locate::reference_layout(idstr).unwrap().capabilities();
        real.sort_unstable();
        ours.sort_unstable();
        assert_eq!(ours, real, "{file}");
    }
}

fn pcimig(args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
    use std::io::Write;
    let mut c = Command::new(env!("CARGO_BIN_EXE_pcimig"));
    c.args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(input);
    let out = child.wait_with_output().unwrap();
    let text = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
    (out.status.code().unwrap_or(-1), text(out.stdout), text(out.stderr))
}

#[test]
fn cli_explains_from_stdin_with_json() {
    let log = std::fs::read_to_string(data("qemu-11.1-pcie-lnkcap.log")).unwrap();
    let (code, out, err) = pcimig(&["explain", "-", "--json"], Some(&log));
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["failure"], "config");
    assert_eq!(v["bad_config"]["offset"], 0xec);
    assert_eq!(v["device"]["idstr"], E1000E);
    assert_eq!(v["register"]["register"], "PCI Express @0xe0 Link Capabilities");
    assert_eq!(v["register"]["capability_id"], "0x10");
}

#[test]
fn cli_exits_2_without_a_failure_or_with_bad_input() {
    let (code, _, err) = pcimig(
        &["explain", "-"],
        Some("qemu-system-x86_64: warning: nic e1000e.0 has no peer\n"),
    );
    assert_eq!(code, 2);
    assert!(err.contains("no QEMU incoming-migration failure found"), "{err}");
    let (code, _, err) = pcimig(&["explain", "/nonexistent/qemu.log"], None);
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent/qemu.log"), "{err}");
    let (code, _, err) = pcimig(&["explain", "-"], Some("\u{0}\u{1}Bad config data: i=0x\u{ff}"));
    assert_eq!(code, 2, "{err}");
    let log = data("qemu-10.0-devid.log");
    let (code, _, err) = pcimig(
        &["explain", log.to_str().unwrap(), "--stream", "/nonexistent.mig"],
        None,
    );
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent.mig"), "{err}");
}

/// vfio-pci through the stand-in on QEMU 10.0.2, machine pc-q35-9.0: the vGPU of
/// `data/demo/vgpu-host-a-r550.bin` saved, loaded onto `vgpu-host-b-r570.bin`. QEMU refuses a
/// byte of the Vendor Specific capability's payload at 0xca (hw_compat_9_0 turns skip-vsc-check
/// off). The saved config is the one QEMU wrote (taken from the real stream; the stream is
/// rebuilt around it).
const VFIO_LOG: &str = "qemu-10.0-vfio-vsc-pc-q35-9.0.log";
const VFIO_IDSTR: &str = "0000:00:02.0:00.0/vfio";

#[test]
fn vfio_vsc_byte_past_the_header_is_unknown_from_the_log_alone() {
    let e = explain_fixture(VFIO_LOG);
    assert_eq!(e.offset(), Some(0xca));
    let d = e.device.unwrap();
    assert_eq!((d.idstr.as_str(), d.model.as_deref()), (VFIO_IDSTR, Some("vfio-pci")));
    assert_eq!(e.register.unwrap().certainty, Certainty::Unknown);
}

fn vfio_stream(dir: &std::path::Path) -> PathBuf {
    let config = std::fs::read(data("qemu-10.0-vfio-vsc-saved-config.bin")).unwrap();
    let mut b = pcimig_qemu::build::StreamBuilder::new("pc-q35-9.0");
    b.vfio_pci(VFIO_IDSTR, &config, 9); // MSI-X Table Size 9 (Message Control 0x0008)
    let path = dir.join("vfio-vsc.mig");
    std::fs::write(&path, b.finish()).unwrap();
    path
}

#[test]
fn vfio_vsc_byte_is_named_from_the_stream_and_the_cause_is_hw_compat_9_0() {
    let dir = std::env::temp_dir().join(format!("pcimig-explain-vfio-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let stream = vfio_stream(&dir);
    let log = std::fs::read_to_string(data(VFIO_LOG)).unwrap();
    let demo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/demo/vgpu-host-b-r570.bin");
    let mut req = Request {
        log_name: VFIO_LOG.into(),
        stream: Some(stream),
        ..Request::default()
    };
    let e = explain::explain(&log, &req).unwrap();
    let r = e.register.as_ref().unwrap();
    assert_eq!(r.register, "Vendor Specific (09) @0xc0 +0x0a payload");
    assert_eq!(r.certainty, Certainty::SavedConfig);
    assert_eq!(e.causes[0].kind, CauseKind::VendorSpecific);
    assert!(e.causes[0].text.contains("hw_compat_9_0"), "{}", e.causes[0].text);
    req.dest = Some(demo.to_string_lossy().into_owned());
    let e = explain::explain(&log, &req).unwrap();
    let re = e.recheck.as_ref().unwrap();
    assert_eq!((re.mode, re.first_offset), ("vfio", Some(0xca)));
    let offsets: Vec<usize> = re.mismatches.iter().map(|m| m.offset).collect();
    assert_eq!(offsets, [0xca, 0xcc, 0xcd], "every mismatch, not only QEMU's first");
    assert!(e.notes.is_empty(), "{:?}", e.notes);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A log cut anywhere (a partial write, a rotated file) is read without a panic: every prefix
/// of every captured log either explains a failure or says there is none.
#[test]
fn every_prefix_of_every_log_is_read_without_panic() {
    for entry in std::fs::read_dir(data("")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "log") {
            continue;
        }
        let log = std::fs::read_to_string(&path).unwrap();
        for cut in (0..=log.len()).filter(|&i| log.is_char_boundary(i)) {
            let req = Request::default();
            match explain::explain(&log[..cut], &req) {
                Ok(_) | Err(explain::ExplainError::NoFailure { .. }) => {}
                Err(e) => panic!("{}: prefix {cut}: {e}", path.display()),
            }
        }
    }
}

/// A libvirt log keeps every start of the VM: the last failed attempt is the one explained.
#[test]
fn the_last_of_several_attempts_is_explained() {
    let first = std::fs::read_to_string(data("qemu-10.0-rom-size.log")).unwrap();
    let second = std::fs::read_to_string(data("qemu-10.0-dsn.log")).unwrap();
    let req = Request::default();
    let e = explain::explain(&format!("{first}{second}"), &req).unwrap();
    assert_eq!(e.failure, FailureKind::Config);
    assert_eq!(e.offset(), Some(0x144));
    assert!(
        e.notes.iter().any(|n| n.contains("2 failed incoming migrations")),
        "{:?}",
        e.notes
    );
    let e = explain::explain(&format!("{second}{first}"), &req).unwrap();
    assert_eq!(e.failure, FailureKind::RamBlockSize);
}
