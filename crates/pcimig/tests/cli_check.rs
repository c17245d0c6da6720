//! `pcimig check` end to end: exit codes (0 pass, 1 fail, 2 could not decide), QEMU's line,
//! the JSON schema, and clear errors for bad input. Expectations come from the data we write
//! and QEMU's rules, not from the tool's own output.

use pcimig_config::CapId;
use pcimig_testkit::Phys;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_pcimig")
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn demo(name: &str) -> String {
    root().join("data/demo").join(name).to_string_lossy().to_string()
}

fn run(args: &[&str]) -> Output {
    Command::new(bin()).args(args).output().expect("run pcimig")
}

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("pcimig-cli-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p.to_string_lossy().to_string()
}

/// A minimal physical endpoint with one VSC at 0x40 (length 0x10) and nothing after it, its
/// payload byte at 0x45 `payload_byte`.
fn vsc_device(payload_byte: u8) -> Vec<u8> {
    Phys::new(256)
        .cap(0x40, CapId::Vndr, &[0x10, 0, 0, payload_byte])
        .build()
}

#[test]
fn exit_codes_follow_the_verdict() {
    let d = tmpdir("exit");
    let a = write(&d, "a.bin", &vsc_device(1));
    let b = write(&d, "b.bin", &vsc_device(2));
    // Default machine (pc-q35-10.0): payload exempt -> pass.
    let o = run(&["check", "--saved", &a, "--dest", &b]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    // pc-q35-9.0: strict -> fail at 0x45 with QEMU's exact line.
    let o = run(&["check", "--saved", &a, "--dest", &b, "--machine", "pc-q35-9.0"]);
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains(
        "qemu-system-x86_64: get_pci_config_device: Bad config data: i=0x45 read: 1 device: 2 cmask: ff wmask: 0 w1cmask:0"
    ));
    assert!(out.contains("Vendor Specific (09) @0x40 +0x05 payload"));
    assert!(out.contains("hw_compat_9_0"));
}

#[test]
fn json_output_has_the_documented_schema() {
    let o = run(&[
        "check",
        "--saved",
        &demo("vgpu-host-a-r550.bin"),
        "--dest",
        &demo("vgpu-host-b-r570.bin"),
        "--json",
        "--skip-vsc-check",
        "off",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["verdict"], "fail");
    assert_eq!(v["qemu_verdict"], "fail");
    assert!(v["qemu_line"]
        .as_str()
        .unwrap()
        .starts_with("get_pci_config_device: Bad config data: i=0xca "));
    assert!(v["checked_bytes"].as_u64().unwrap() > 0);
    let m = &v["mismatches"][0];
    for k in ["offset", "saved", "device", "cmask", "wmask", "w1cmask"] {
        assert!(m[k].is_u64(), "{k} is an integer");
    }
    assert_eq!(m["offset"], 0xca);
    assert_eq!(m["register"], "+0x0a payload");
    assert_eq!(m["capability"]["id"], 9);
    assert_eq!(m["capability"]["extended"], false);
    assert_eq!(m["capability"]["offset"], 0xc0);
    assert!(
        v["exempt"].as_array().unwrap().is_empty(),
        "skip-vsc-check off: nothing exempt"
    );
    assert_eq!(v["assumptions"]["skip_vsc_check"]["value"], "off");
    assert!(v["warnings"].is_array());

    let o = run(&[
        "check",
        "--saved",
        &demo("vgpu-host-a-r550.bin"),
        "--dest",
        &demo("vgpu-host-b-r570.bin"),
        "--json",
    ]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["verdict"], "pass");
    assert_eq!(v["qemu_line"], Value::Null);
    let e = &v["exempt"][0];
    assert_eq!((e["start"].as_u64(), e["end"].as_u64()), (Some(0xc3), Some(0x100)));
    assert_eq!(e["policy"], "skip-vsc-check");
    assert_eq!(v["mismatches"].as_array().unwrap().len(), 0);
}

/// With --exempt-ext-vendor on, `verdict` follows the policy and `qemu_verdict` stays stock QEMU's.
#[test]
fn exempt_ext_vendor_changes_verdict_but_not_qemu_verdict() {
    let d = tmpdir("extv");
    let mut a = vec![0u8; 4096];
    a[0..4].copy_from_slice(&[0xde, 0x10, 0x30, 0x23]);
    a[0x06] = 0x10;
    a[0x34] = 0x40;
    a[0x40..0x44].copy_from_slice(&[0x10, 0x00, 0x02, 0x00]); // PCIe endpoint v2
    a[0x100..0x104].copy_from_slice(&(0x000bu32 | (1 << 16)).to_le_bytes()); // VSEC, last
    a[0x104..0x108].copy_from_slice(&(0x0100_0001u32 | (0x20 << 20)).to_le_bytes());
    let mut b = a.clone();
    a[0x110] = 1;
    b[0x110] = 2;
    let (pa, pb) = (write(&d, "a.bin", &a), write(&d, "b.bin", &b));
    let o = run(&[
        "check",
        "--saved",
        &pa,
        "--dest",
        &pb,
        "--json",
        "--exempt-ext-vendor",
        "on",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["verdict"], "pass");
    assert_eq!(v["qemu_verdict"], "fail");
    assert!(v["qemu_line"].as_str().unwrap().contains("i=0x110 read: 1 device: 2"));
    assert_eq!(v["exempt"][0]["policy"], "exempt-ext-vendor");
    assert_eq!(v["exempt"][0]["start"], 0x108);
    let o = run(&["check", "--saved", &pa, "--dest", &pb]);
    assert_eq!(o.status.code(), Some(1), "off by default");
}

#[test]
fn bad_input_is_exit_2_with_a_clear_error() {
    let d = tmpdir("bad");
    let good = write(&d, "good.bin", &vsc_device(0));
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![write(&d, "odd.bin", &[0u8; 300]), good.clone()],
            "odd.bin: not a config source: 300 bytes",
        ),
        (vec![write(&d, "trunc.bin", &[0u8; 64]), good.clone()], "truncated"),
        (
            vec![d.join("missing.bin").to_string_lossy().to_string(), good.clone()],
            "missing.bin: cannot read",
        ),
        (
            vec![good.clone(), write(&d, "big.bin", &[0u8; 4096])],
            "256-byte image cannot be restored into a 4096-byte",
        ),
        (
            vec![format!("{good}#00:01.0"), good.clone()],
            "single-device binary dump",
        ),
        (
            {
                let mut bridge = vsc_device(0);
                bridge[0x0e] = 0x01;
                vec![good.clone(), write(&d, "bridge.bin", &bridge)]
            },
            "binds only type 0",
        ),
        (
            {
                let mut looped = vsc_device(0);
                looped[0x41] = 0x40;
                vec![good.clone(), write(&d, "loop.bin", &looped)]
            },
            "chain loops at 0x40",
        ),
    ];
    for (args, want) in cases {
        let o = run(&["check", "--saved", &args[0], "--dest", &args[1]]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: stderr {err:?} lacks {want:?}");
    }
    for extra in [
        vec!["--slot", "pcie-port", "--machine", "pc-i440fx-9.0"],
        vec!["--machine", "pc-q35-11.0"],
        vec!["--bar", "0=3000"],
        vec!["--bar", "9=4K"],
    ] {
        let mut a = vec!["check", "--saved", &good, "--dest", &good];
        a.extend(extra.iter().copied());
        let o = run(&a);
        assert_eq!(o.status.code(), Some(2), "{extra:?}");
    }
}

/// A minimal physical endpoint whose chain is 0x40 Hot-plug (SHPC, ID 0x0c) -> 0x50 VSC (length
/// 0x10): the kernel knows no length for the SHPC capability and hides it (vfio_cap_init).
fn shpc_device(shpc_byte: u8) -> Vec<u8> {
    let mut c = vsc_device(0);
    c[0x40..0x44].copy_from_slice(&[0x0c, 0x50, shpc_byte, 0x00]);
    c[0x50..0x53].copy_from_slice(&[0x09, 0x00, 0x10]);
    c
}

/// The kernel's vfio-pci layer runs on physical dumps by default: a capability it hides is not
/// in the chain QEMU reads, so its bytes are not checked; with `--kernel-layer off` the bytes are
/// what QEMU reads, and QEMU checks the capability up to the next one.
#[test]
fn kernel_layer_hides_what_the_kernel_hides() {
    let d = tmpdir("klayer");
    let (a, b) = (write(&d, "a.bin", &shpc_device(1)), write(&d, "b.bin", &shpc_device(2)));
    let o = run(&["check", "--saved", &a, "--dest", &b, "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let k = &v["assumptions"]["kernel_layer"];
    for side in ["saved", "dest"] {
        assert_eq!(k[side]["value"], "on", "{side}");
        assert!(k[side]["reason"]
            .as_str()
            .unwrap()
            .starts_with("default for a physical config"));
    }
    assert!(k["kernel"].as_str().unwrap().starts_with("Linux 6.12.118"));
    let notes: Vec<&str> = v["assumptions"]["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("kernel layer: ") && n.contains("at 0x40 hidden") && n.contains("0x34 reads 0x50")),
        "{notes:?}"
    );

    let o = run(&["check", "--saved", &a, "--dest", &b, "--kernel-layer", "off"]);
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("Bad config data: i=0x42 read: 1 device: 2 cmask: ff wmask: 0 w1cmask:0"),
        "{out}"
    );
    assert!(out.contains("kernel layer: off, both sides (--kernel-layer)"), "{out}");
    assert!(
        !out.contains("  - kernel layer"),
        "no layer notes when it is off: {out}"
    );
}

/// A device the kernel would not open is exit 2 naming the side, the file and the offset; with
/// `--kernel-layer off` QEMU's realize decides; `--emulated` refuses the option.
#[test]
fn kernel_layer_errors_are_exit_2() {
    let d = tmpdir("klayer-err");
    let good = write(&d, "good.bin", &vsc_device(0));
    let mut odd = vsc_device(0);
    odd[0x34] = 0x41; // MSI at an odd offset: its flags word is misaligned
    odd[0x40..0x55].fill(0);
    odd[0x41..0x45].copy_from_slice(&[0x05, 0x00, 0x00, 0x00]);
    let odd = write(&d, "odd-msi.bin", &odd);
    let o = run(&["check", "--saved", &good, "--dest", &odd]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("dest ("), "{err}");
    assert!(err.contains("odd-msi.bin): the host kernel's vfio-pci layer"), "{err}");
    assert!(err.contains("at 0x43"), "{err}");
    let o = run(&["check", "--saved", &good, "--dest", &good, "--kernel-layer", "maybe"]);
    assert_eq!(o.status.code(), Some(2));
    let o = run(&[
        "check",
        "--emulated",
        "--saved",
        &good,
        "--dest",
        &good,
        "--kernel-layer",
        "on",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--kernel-layer does not apply with --emulated"));
}

#[test]
fn machine_i440fx_implies_the_i440fx_slot() {
    let o = run(&[
        "check",
        "--saved",
        &demo("h100-gpu0.bin"),
        "--dest",
        &demo("h100-gpu1.bin"),
        "--machine",
        "pc-i440fx-9.2",
        "--json",
    ]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["assumptions"]["slot"]["value"], "i440fx");
    // No extended capabilities on a conventional bus: the DSN is not checked there.
    assert_eq!(v["verdict"], "pass");
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn demo_runs_every_scenario_as_expected() {
    let o = Command::new(bin()).arg("demo").current_dir(root()).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("6/6 scenarios came out as expected"));
}

/// The committed demo data is exactly what `pcimig::demo::derive_files` derives from the H100.
#[test]
fn demo_data_is_derived_from_the_h100_sample() {
    let h100 = std::fs::read(root().join("data/samples/h100-firecracker/0000:00:06.0.config.bin")).unwrap();
    for (name, bytes) in pcimig::demo::derive_files(&h100) {
        assert_eq!(
            std::fs::read(root().join("data/demo").join(name)).unwrap(),
            bytes,
            "{name}"
        );
    }
}

// ---- QEMU versions (--saved-qemu, --dest-qemu) -------------------------------------------------

fn json_of(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).expect("JSON on stdout")
}

/// Both versions are reported in the JSON assumptions, 10.0.2 each by default.
#[test]
fn qemu_versions_are_reported_in_json() {
    let (a, b) = (demo("h100-gpu0.bin"), demo("h100-gpu1.bin"));
    let o = run(&["check", "--saved", &a, "--dest", &b, "--json"]);
    let q = &json_of(&o)["assumptions"]["qemu"];
    assert_eq!(
        (q["saved"].as_str(), q["dest"].as_str()),
        (Some("10.0.2"), Some("10.0.2"))
    );
    let o = run(&[
        "check",
        "--saved",
        &a,
        "--dest",
        &b,
        "--json",
        "--saved-qemu",
        "9.0",
        "--dest-qemu",
        "11.1.3",
        "--machine",
        "pc-q35-9.0",
    ]);
    let j = json_of(&o);
    assert_eq!(j["assumptions"]["qemu"]["saved"], "9.0");
    assert_eq!(j["assumptions"]["qemu"]["dest"], "11.1.3");
    assert!(j.get("refusal").is_none());
}

#[test]
fn bad_qemu_versions_exit_2_with_the_reason() {
    let (a, b) = (demo("h100-gpu0.bin"), demo("h100-gpu1.bin"));
    for (opt, v) in [("--dest-qemu", "6.2"), ("--saved-qemu", "ten"), ("--dest-qemu", "10.3")] {
        let o = run(&["check", "--saved", &a, "--dest", &b, opt, v]);
        assert_eq!(o.status.code(), Some(2), "{opt} {v}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(&format!("{opt}: QEMU version '{v}'")), "{err}");
    }
}

/// A machine type newer than the destination's QEMU is a failed migration naming both.
#[test]
fn machine_type_newer_than_the_destination_fails() {
    let (a, b) = (demo("h100-gpu0.bin"), demo("h100-gpu1.bin"));
    let args = [
        "check",
        "--saved",
        &a,
        "--dest",
        &b,
        "--dest-qemu",
        "9.0",
        "--machine",
        "pc-q35-10.0",
    ];
    let o = run(&[&args[..], &["--json"]].concat());
    assert_eq!(o.status.code(), Some(1));
    let j = json_of(&o);
    assert_eq!(j["verdict"], "fail");
    assert!(j["refusal"]
        .as_str()
        .unwrap()
        .starts_with("QEMU 9.0 does not define machine type pc-q35-10.0"));
    let text = String::from_utf8_lossy(&run(&args).stdout).to_string();
    assert!(
        text.contains("refused: QEMU 9.0 does not define machine type pc-q35-10.0"),
        "{text}"
    );
    // The alias is the destination's newest: pc-q35-9.0 on 9.0.
    let o = run(&[
        "check",
        "--saved",
        &a,
        "--dest",
        &b,
        "--dest-qemu",
        "9.0",
        "--saved-qemu",
        "9.0",
        "--machine",
        "q35",
        "--json",
    ]);
    assert_eq!(json_of(&o)["assumptions"]["machine"]["value"], "pc-q35-9.0");
}

/// skip-vsc-check exists from 9.1: setting it for a 9.0 destination is an error, as in QEMU.
#[test]
fn skip_vsc_check_on_a_9_0_destination_is_an_error() {
    let (a, b) = (demo("h100-gpu0.bin"), demo("h100-gpu1.bin"));
    let base = [
        "check",
        "--saved",
        &a,
        "--dest",
        &b,
        "--saved-qemu",
        "9.0",
        "--machine",
        "pc-q35-9.0",
    ];
    let o = run(&[&base[..], &["--dest-qemu", "9.0", "--skip-vsc-check", "on"]].concat());
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("QEMU 9.0's vfio-pci has no property skip-vsc-check"),
        "{err}"
    );
    let o = run(&[&base[..], &["--dest-qemu", "9.0", "--json"]].concat());
    let r = json_of(&o)["assumptions"]["skip_vsc_check"]["reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(r.contains("no skip-vsc-check"), "{r}");
    let o = run(&[&base[..], &["--dest-qemu", "9.1", "--skip-vsc-check", "on"]].concat());
    assert_ne!(o.status.code(), Some(2));
}
