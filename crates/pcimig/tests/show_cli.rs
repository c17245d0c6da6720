//! `pcimig show` end to end on the bundled H100/virtio samples (data/samples, documented in
//! /work/shared/corpus/README.md): capability lists, hazards, names, `--masks`, JSON shape.

mod show_common;

use serde_json::Value;
use show_common::*;
use std::process::{Command, Output};

fn sample(name: &str) -> String {
    repo_root()
        .join("data/samples/h100-firecracker")
        .join(name)
        .to_str()
        .unwrap()
        .to_string()
}

fn pcimig(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pcimig"));
    c.args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn json(args: &[&str], env: &[(&str, &str)]) -> Value {
    let out = pcimig(args, env);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn caps(v: &Value) -> Vec<(u64, u64, bool)> {
    v["capabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_u64().unwrap(),
                c["offset"].as_u64().unwrap(),
                c["extended"].as_bool().unwrap(),
            )
        })
        .collect()
}

#[test]
fn h100_capabilities_in_chain_order_std_then_extended() {
    let v = json(&["show", "--json", &sample("0000:00:06.0.config.bin")], &[]);
    let c = caps(&v);
    // The README: PM 0x40, MSI 0x48, PCIe 0x60, MSI-X 0xb0; extended chain from 0x100 (an ID-0
    // stub first) with a VSEC at 0x2a4 and a DSN at 0x2f0.
    assert_eq!(
        &c[..4],
        &[
            (0x01, 0x40, false),
            (0x05, 0x48, false),
            (0x10, 0x60, false),
            (0x11, 0xb0, false)
        ]
    );
    assert_eq!(c[4], (0x0000, 0x100, true));
    assert!(c.contains(&(0x000b, 0x2a4, true)) && c.contains(&(0x0003, 0x2f0, true)));
    for cap in v["capabilities"].as_array().unwrap() {
        assert!(
            cap["name"].is_string() && cap["id"].is_u64() && cap["offset"].is_u64() && cap["extended"].is_boolean()
        );
    }
    let kinds: Vec<&str> = v["hazards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"device_serial_number") && kinds.contains(&"vendor_specific"),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&"hidden_by_vfio"),
        "the ID-0 stubs are hidden by the host kernel: {kinds:?}"
    );
    let dsn = v["hazards"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["kind"] == "device_serial_number")
        .unwrap();
    assert_eq!(dsn["range"], serde_json::json!([0x2f4, 0x2fc]));
    assert_eq!(
        dsn["checked_bytes"], 8,
        "vfio-pci exposes the DSN and QEMU checks all 8 bytes"
    );
    assert_eq!(v["header"]["vendor_id"], 0x10de);
    assert_eq!(v["header"]["device_id"], 0x2330);
    let fields = &v["capabilities"][3]["fields"];
    assert_eq!(fields[0]["name"], "Message Control");
    assert_eq!(fields[0]["offset"], 0xb2);
}

#[test]
fn text_output_reads_like_lspci() {
    let out = pcimig(&["show", &sample("0000:00:06.0.config.bin")], &[("PCIMIG_PCI_IDS", "")]);
    assert!(out.status.success());
    let t = String::from_utf8(out.stdout).unwrap();
    assert!(t.contains("Capabilities: [40] Power Management (v3) [id 01]"), "{t}");
    assert!(
        t.contains("Capabilities: [2f0 v1] Device Serial Number [id 0003]"),
        "{t}"
    );
    assert!(t.contains("[10de:2330]"), "{t}");
    assert!(t.contains("Migration hazards:"), "{t}");
}

#[test]
fn names_come_from_pci_ids_when_present_and_are_never_required() {
    let dir = temp_dir("pciids");
    let ids = dir.join("pci.ids");
    std::fs::write(
        &ids,
        "10de  NVIDIA Corporation\n\t2330  GH100 [H100 SXM5 80GB]\n\t\t10de 16c1  H100 SXM5 80GB\n",
    )
    .unwrap();
    let v = json(
        &["show", "--json", &sample("0000:00:06.0.config.bin")],
        &[("PCIMIG_PCI_IDS", ids.to_str().unwrap())],
    );
    assert_eq!(v["names"]["vendor"], "NVIDIA Corporation");
    assert_eq!(v["names"]["device"], "GH100 [H100 SXM5 80GB]");
    assert_eq!(v["names"]["subsystem"], "H100 SXM5 80GB");
    let v = json(
        &["show", "--json", &sample("0000:00:06.0.config.bin")],
        &[("PCIMIG_PCI_IDS", "")],
    );
    assert!(v["names"]["vendor"].is_null());
}

#[test]
fn masks_cover_the_space_and_name_the_vsc_policy() {
    let v = json(&["show", "--json", "--masks", &sample("0000:00:03.0.config.bin")], &[]);
    let runs = v["masks"]["runs"].as_array().unwrap();
    let mut at = 0;
    for r in runs {
        assert_eq!(r["start"].as_u64().unwrap(), at, "runs are contiguous");
        at = r["end"].as_u64().unwrap();
    }
    assert_eq!(at, 256);
    // virtio-net's first VSC at 0x40: its 3-byte header is checked, the payload exempt by
    // skip-vsc-check (on by default for the latest machine type).
    let at = |off: u64| {
        runs.iter()
            .find(|r| r["start"].as_u64().unwrap() <= off && off < r["end"].as_u64().unwrap())
            .unwrap()
    };
    assert_eq!(at(0x42)["checked"], 0xff);
    assert_eq!(at(0x44)["checked"], 0);
    assert_eq!(at(0x44)["exempted_by"], "skip-vsc-check");
    // The exempt payload (0x43..0x50, up to the next VSC) is one run, not one per byte.
    assert_eq!(
        (at(0x44)["start"].as_u64(), at(0x44)["end"].as_u64()),
        (Some(0x43), Some(0x50))
    );
    assert_eq!(at(0x00)["class"], "checked");
    // The H100: the DSN is checked.
    let v = json(&["show", "--json", "--masks", &sample("0000:00:06.0.config.bin")], &[]);
    let runs = v["masks"]["runs"].as_array().unwrap();
    let dsn = runs
        .iter()
        .find(|r| r["start"].as_u64().unwrap() <= 0x2f4 && 0x2f4 < r["end"].as_u64().unwrap())
        .unwrap();
    assert_eq!(dsn["checked"], 0xff);
    assert!(v["masks"]["model"].as_str().unwrap().contains("QEMU 10.0.2"));
    // Text form.
    let out = pcimig(&["show", "--masks", &sample("0000:00:03.0.config.bin")], &[]);
    let t = String::from_utf8(out.stdout).unwrap();
    assert!(t.contains("(exempt: skip-vsc-check)"), "{t}");
}

#[test]
fn masks_of_a_truncated_view_are_a_clear_error() {
    let dir = temp_dir("masks-trunc");
    let bytes = std::fs::read(sample("0000:00:06.0.config.bin")).unwrap();
    let p = dir.join("h64.bin");
    std::fs::write(&p, &bytes[..64]).unwrap();
    let out = pcimig(&["show", "--masks", p.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("h64.bin") && err.contains("truncated view"), "{err}");
    // Without --masks the same file decodes, with a warning.
    assert!(pcimig(&["show", p.to_str().unwrap()], &[]).status.success());
}

#[test]
fn many_device_json_has_a_bdf_per_device_and_masks_notes_per_device() {
    let dir = temp_dir("many");
    let mut text = String::new();
    let mut rng = Rng::new(3);
    for i in 0..40 {
        lspci_text(&mut text, &bdf(i), &generate(&mut rng, Shape::Random));
    }
    let p = dir.join("many.txt");
    std::fs::write(&p, text).unwrap();
    let v = json(&["show", "--json", "--masks", p.to_str().unwrap()], &[]);
    let devs = v["devices"].as_array().unwrap();
    assert_eq!(devs.len(), 40);
    for (i, d) in devs.iter().enumerate() {
        assert_eq!(d["bdf"], bdf(i), "file order");
        assert!(
            d["masks"].is_object() || d["warnings"].to_string().contains("--masks"),
            "{d}"
        );
    }
}

/// A 64-bit memory BAR takes the next slot for its upper dword: virtio-net's BAR0 dword
/// 0x00100004 with BAR1 0x00000040 is memory at 0x40_0010_0000, as lspci's "Region 0: Memory at
/// 4000100000 (64-bit, non-prefetchable)" in the corpus text says.
#[test]
fn sixty_four_bit_bars_are_decoded_with_their_upper_dword() {
    let v = json(&["show", "--json", &sample("0000:00:03.0.config.bin")], &[]);
    let fields = v["header"]["fields"].as_array().unwrap();
    let text = |name: &str| {
        fields.iter().find(|f| f["name"] == name).unwrap()["text"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(text("BAR0"), "Memory at 4000100000 (64-bit, non-prefetchable)");
    assert_eq!(text("BAR1"), "upper 32 bits of BAR0: 00000040");
}
