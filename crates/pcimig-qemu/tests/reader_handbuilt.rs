//! The reader on streams written by hand in QEMU 10.0.2's format (pcimig_qemu::build).
//! (Real vfio-pci streams, written by QEMU through the VFIO stand-in, are read in
//! `crates/pcimig/tests/vfio_qemu.rs`.)

use pcimig_qemu::build::StreamBuilder;
use pcimig_qemu::{DeviceKind, ErrorKind, SectionKind, Stream};

/// A config with vendor/device ids, optionally a PCI Express capability at 0x40 and an MSI-X
/// capability with `msix` vectors at 0x60.
fn config(size: usize, express: bool, msix: usize) -> Vec<u8> {
    let mut c = vec![0u8; size];
    c[..4].copy_from_slice(&[0xf4, 0x1a, 0x41, 0x10]);
    c[0x0e] = 0;
    let mut caps: Vec<(u8, u8)> = Vec::new();
    if express {
        caps.push((0x40, 0x10));
    }
    if msix > 0 {
        caps.push((0x60, 0x11));
    }
    if !caps.is_empty() {
        c[6] |= 0x10;
        c[0x34] = caps[0].0;
        for (i, &(off, id)) in caps.iter().enumerate() {
            c[off as usize] = id;
            c[off as usize + 1] = caps.get(i + 1).map_or(0, |n| n.0);
        }
        if msix > 0 {
            let ctl = (msix - 1) as u16;
            c[0x62..0x64].copy_from_slice(&ctl.to_le_bytes());
        }
    }
    c
}

#[test]
fn lists_sections_and_devices_in_stream_order() {
    let mut b = StreamBuilder::new("pc-q35-10.0");
    b.ram_section(&[0x0, 0x1000, 0x5000]);
    b.opaque("timer", 0, 24);
    let e1000 = b.pci_vmsd("0000:00:02.0/e1000", "e1000", 2, &config(256, false, 0), 0);
    let rp = b.pci_vmsd(
        "0000:00:03.0/pcie-root-port",
        "pcie-root-port",
        1,
        &config(4096, true, 0),
        12,
    );
    let vnet = b.virtio_pci("0000:00:01.0/virtio-net", "virtio-net", &config(256, false, 3), 3, 100);
    let vblk = b.virtio_pci(
        "0000:00:03.0:00.0/virtio-blk",
        "virtio-blk",
        &config(4096, true, 4),
        4,
        50,
    );
    b.command(11, &[]);
    let bytes = b.finish();
    let s = Stream::from_bytes("t.mig", bytes.clone()).unwrap();
    assert_eq!(s.machine_type(), Some("pc-q35-10.0"));
    let kinds: Vec<_> = s.sections().iter().map(|x| (x.idstr.as_str(), x.kind)).collect();
    assert_eq!(kinds[0], ("ram", SectionKind::Iterable));
    assert_eq!(s.sections()[0].chunks, 3);
    assert_eq!(kinds.len(), 6);
    let devs = s.pci_devices();
    let got: Vec<_> = devs
        .iter()
        .map(|d| (d.id.as_str(), d.kind, d.config_size, d.config_offset))
        .collect();
    assert_eq!(
        got,
        vec![
            ("0000:00:02.0/e1000", DeviceKind::Vmsd, 256, e1000),
            ("0000:00:03.0/pcie-root-port", DeviceKind::Vmsd, 4096, rp),
            ("0000:00:01.0/virtio-net", DeviceKind::VirtioPci, 256, vnet),
            ("0000:00:03.0:00.0/virtio-blk", DeviceKind::VirtioPci, 4096, vblk),
        ]
    );
    for d in devs {
        let c = s.read_config(d).unwrap();
        assert_eq!(c.len(), d.config_size);
        assert_eq!(&c[..4], &[0xf4, 0x1a, 0x41, 0x10]);
        assert_eq!(&bytes[d.config_offset as usize..][..4], &[0xf4, 0x1a, 0x41, 0x10]);
        let st = s.read_pci_state(d).unwrap();
        assert_eq!(st.version_id, 2);
        assert_eq!(st.config, c);
        assert_eq!(s.sections()[d.section_index].section_id, d.section_id);
    }
    assert_eq!(
        s.read_bytes(devs[0].config_offset, 4096).unwrap()[..256],
        s.read_config(&devs[0]).unwrap()[..]
    );
    assert_eq!(
        s.read_bytes(bytes.len() as u64 - 2, 4).unwrap_err().kind,
        ErrorKind::Truncated
    );
    assert_eq!(s.read_bytes(0, 2 << 20).unwrap_err().kind, ErrorKind::TooLarge);
    assert_eq!(devs[1].pci_path.as_deref(), Some("0000:00:03.0"));
    assert_eq!(devs[3].pci_path.as_deref(), Some("0000:00:03.0:00.0"));
    // Stream order: section indexes increase.
    assert!(devs.windows(2).all(|w| w[0].section_index < w[1].section_index));
    assert!(s.warnings().is_empty(), "{:?}", s.warnings());
}

#[test]
fn names_get_instance_suffix_only_when_idstr_repeats() {
    let mut b = StreamBuilder::new("pc-i440fx-10.0");
    b.pci_vmsd("0000:00:04.0/e1000", "e1000", 2, &config(256, false, 0), 0);
    // Two sections sharing an idstr (instance 0 and 1).
    let c = config(256, false, 0);
    let mut body = pcimig_qemu::build::pci_state(&c);
    body.extend_from_slice(&[0; 8]);
    let desc = serde_json::json!({"vmsd_name": "dup", "version": 1, "fields": [
        pcimig_qemu::build::pci_desc_field("parent_obj", 256),
        {"name": "x", "type": "uint64", "size": 8}]});
    b.full("0000:00:05.0/dup", 0, 1, &body, desc.clone());
    b.full("0000:00:05.0/dup", 1, 1, &body, desc);
    let s = Stream::from_bytes("t.mig", b.finish()).unwrap();
    let ids: Vec<_> = s.pci_devices().iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["0000:00:04.0/e1000", "0000:00:05.0/dup@0", "0000:00:05.0/dup@1"]);
    assert_eq!(s.find_device("0000:00:05.0/dup@1").unwrap().instance_id, 1);
    assert_eq!(s.find_device("0000:00:04.0").unwrap().id, "0000:00:04.0/e1000");
    assert_eq!(s.find_device("0000:00:04.0/e1000@0").unwrap().id, "0000:00:04.0/e1000");
    let e = s.find_device("0000:00:05.0").unwrap_err();
    assert_eq!(e.kind, ErrorKind::NoSuchDevice);
    assert!(e.to_string().contains("several"), "{e}");
    let e = s.find_device("nope").unwrap_err();
    assert!(e.to_string().contains("0000:00:05.0/dup@0"), "{e}");
}

#[test]
fn vfio_pci_config_found_after_the_config_state_marker() {
    for (size, express, msix) in [(256, false, 0), (256, false, 5), (4096, true, 0), (4096, true, 17)] {
        let mut b = StreamBuilder::new("pc-q35-10.0");
        b.ram_section(&[0x2000]);
        let id = b.vfio_iterable("0000:00:05.0/vfio", 300);
        let at = b.vfio_pci("0000:00:05.0/vfio", &config(size, express, msix), msix);
        let s = Stream::from_bytes("vfio.mig", b.finish()).unwrap();
        let d = &s.pci_devices()[0];
        assert_eq!(d.kind, DeviceKind::VfioPci);
        assert_eq!(d.config_size, size, "size {size} msix {msix}");
        assert_eq!(d.config_offset, at);
        assert_eq!(d.vmsd_name, None);
        // The FULL section is a second section with the same idstr: "@0" is appended.
        assert_eq!(d.id, "0000:00:05.0/vfio@0");
        // Both under the same section id, as QEMU writes them.
        let both: Vec<_> = s.sections().iter().filter(|x| x.section_id == id).collect();
        assert_eq!(both.len(), 2);
        assert_eq!((both[0].kind, both[0].chunks), (SectionKind::Iterable, 3));
        assert_eq!((both[1].kind, both[1].chunks), (SectionKind::Full, 1));
        assert_eq!(s.read_config(d).unwrap(), config(size, express, msix));
    }
}

#[test]
fn a_section_id_is_reused_only_by_the_full_section_of_its_own_iterable_entry() {
    // Another entry's FULL section under a started section's id: refused.
    let mut b = StreamBuilder::new("pc-q35-10.0");
    let id = b.vfio_iterable("0000:00:05.0/vfio", 16);
    b.raw(&[0x04]) // QEMU_VM_SECTION_FULL, the id, idstr "cpu", instance 0, version 1
        .raw(&id.to_be_bytes())
        .raw(b"\x03cpu")
        .raw(&0u32.to_be_bytes())
        .raw(&1u32.to_be_bytes());
    let e = Stream::from_bytes("dup.mig", b.finish()).unwrap_err();
    assert!(e.to_string().contains(&format!("section id {id} appears twice")), "{e}");

    // The entry's own FULL section, twice: QEMU writes it once.
    let mut b = StreamBuilder::new("pc-q35-10.0");
    b.vfio_iterable("0000:00:05.0/vfio", 16);
    b.vfio_pci("0000:00:05.0/vfio", &config(256, false, 0), 0);
    b.vfio_pci("0000:00:05.0/vfio", &config(256, false, 0), 0);
    let e = Stream::from_bytes("dup2.mig", b.finish()).unwrap_err();
    assert!(e.to_string().contains("appears twice"), "{e}");
}

#[test]
fn vfio_without_pcie_cap_but_4096_bytes_is_sized_by_the_section_length() {
    // A 4096-byte config whose header has no PCIe capability: the layout (markers, MSI-X)
    // decides, not the capability.
    let mut b = StreamBuilder::new("pc-q35-10.0");
    let at = b.vfio_pci("0000:00:05.0/vfio", &config(4096, false, 2), 2);
    let s = Stream::from_bytes("vfio.mig", b.finish()).unwrap();
    assert_eq!(s.pci_devices()[0].config_size, 4096);
    assert_eq!(s.pci_devices()[0].config_offset, at);
}

#[test]
fn vfio_multifd_config_not_in_main_stream_is_a_warning() {
    let mut b = StreamBuilder::new("pc-q35-10.0");
    let body = pcimig_qemu::vfio_flag::END_OF_STATE.to_be_bytes();
    b.full(
        "0000:00:05.0/vfio",
        0,
        1,
        &body,
        serde_json::json!({"size": 8, "fields": []}),
    );
    let s = Stream::from_bytes("vfio.mig", b.finish()).unwrap();
    assert!(s.pci_devices().is_empty());
    assert!(s.warnings().iter().any(|w| w.contains("multifd")), "{:?}", s.warnings());
}

#[test]
fn vfio_bad_markers_are_errors_with_offsets() {
    let mut b = StreamBuilder::new("pc-q35-10.0");
    let mut body = 0xffff_ffff_ef10_0009u64.to_be_bytes().to_vec();
    body.extend_from_slice(&[0; 300]);
    let at = b.full(
        "0000:00:05.0/vfio",
        0,
        1,
        &body,
        serde_json::json!({"size": body.len(), "fields": []}),
    );
    let e = Stream::from_bytes("vfio.mig", b.finish()).unwrap_err();
    assert_eq!(e.offset, Some(at));
    assert_eq!(e.section.as_ref().unwrap().idstr, "0000:00:05.0/vfio");
    assert!(e.to_string().contains("expected DEV_CONFIG_STATE"), "{e}");
}

#[test]
fn streams_without_footers_and_with_subsections() {
    let mut b = StreamBuilder::new("pc-i440fx-2.5");
    b.footers = false;
    b.ram_section(&[]);
    // A device with a subsection after the PCIDevice.
    let c = config(256, false, 0);
    let mut body = pcimig_qemu::build::pci_state(&c);
    body.push(0x05);
    body.push(7);
    body.extend_from_slice(b"e1000/x");
    body.extend_from_slice(&1u32.to_be_bytes());
    body.extend_from_slice(&[9; 6]);
    let desc = serde_json::json!({"vmsd_name": "e1000", "version": 2,
        "fields": [pcimig_qemu::build::pci_desc_field("parent_obj", 256)],
        "subsections": [{"vmsd_name": "e1000/x", "version": 1, "fields": [{"name": "y", "type": "buffer", "size": 6}]}]});
    let at = b.full("0000:00:03.0/e1000", 0, 2, &body, desc);
    b.opaque("after", 0, 5);
    let s = Stream::from_bytes("nf.mig", b.finish()).unwrap();
    assert_eq!(s.pci_devices()[0].config_offset, at + 4);
    assert_eq!(s.sections().last().unwrap().idstr, "after");
}

#[test]
fn no_vmdesc_sections_are_delimited_by_their_footers() {
    let mut b = StreamBuilder::new("pc-q35-10.0");
    b.vmdesc = false;
    b.ram_section(&[0x3000]);
    b.opaque("timer", 0, 24);
    b.pci_vmsd("0000:00:02.0/e1000", "e1000", 2, &config(256, false, 0), 0);
    let s = Stream::from_bytes("nd.mig", b.finish()).unwrap();
    assert_eq!(s.sections().len(), 3);
    assert!(s.vmdesc().is_none());
    let d = &s.pci_devices()[0];
    assert_eq!(
        (d.id.as_str(), d.kind, d.config_size),
        ("0000:00:02.0/e1000", DeviceKind::Vmsd, 256)
    );
    assert_eq!(&s.read_config(d).unwrap()[..4], &[0xf4, 0x1a, 0x41, 0x10]);
    assert!(s.warnings().iter().any(|w| w.contains("vmdesc")), "{:?}", s.warnings());
}

#[test]
fn mapped_ram_and_capabilities() {
    // configuration/capabilities with mapped-ram: the block's pages live at pages_offset and
    // the stream continues after them.
    let mut b = StreamBuilder::bare();
    b.raw(&[0x07]);
    b.raw(&11u32.to_be_bytes()).raw(b"pc-q35-10.0");
    b.raw(&[0x05, 26])
        .raw(b"configuration/capabilities")
        .raw(&1u32.to_be_bytes());
    b.raw(&1u32.to_be_bytes()).raw(&[10]).raw(b"mapped-ram");
    let id = b.alloc_id();
    b.raw(&[0x01])
        .raw(&id.to_be_bytes())
        .raw(&[3])
        .raw(b"ram")
        .raw(&0u32.to_be_bytes())
        .raw(&4u32.to_be_bytes());
    let block = 0x4000u64;
    b.raw(&(block | 0x04).to_be_bytes())
        .raw(&[6])
        .raw(b"pc.ram")
        .raw(&block.to_be_bytes());
    let hdr_end = b.bytes().len() as u64 + 28;
    let pages_offset = (hdr_end + 0xfff) & !0xfff;
    b.raw(&1u32.to_be_bytes())
        .raw(&4096u64.to_be_bytes())
        .raw(&hdr_end.to_be_bytes())
        .raw(&pages_offset.to_be_bytes());
    let pad = (pages_offset + block) as usize - b.bytes().len();
    b.raw(&vec![0x77; pad]);
    b.raw(&0x10u64.to_be_bytes()).raw(&[0x7e]).raw(&id.to_be_bytes());
    b.alloc_id();
    b.pci_vmsd("0000:00:02.0/e1000", "e1000", 2, &config(256, false, 0), 0);
    let s = Stream::from_bytes("mr.mig", b.finish()).unwrap();
    assert_eq!(s.capabilities(), ["mapped-ram"]);
    assert_eq!(s.pci_devices().len(), 1);
}

#[test]
fn vmdesc_size_off_falls_back_to_the_footer() {
    let mut b = StreamBuilder::new("pc-q35-10.0");
    b.opaque("timer", 0, 8);
    // The vmdesc says 300 bytes; the body is 300 + 12.
    let c = config(256, false, 0);
    let mut body = pcimig_qemu::build::pci_state(&c);
    body.extend_from_slice(&[0; 24]);
    let desc = serde_json::json!({"vmsd_name": "e1000", "version": 2, "fields": [
        pcimig_qemu::build::pci_desc_field("parent_obj", 256),
        {"name": "x", "type": "buffer", "size": 12}]});
    let at = b.full("0000:00:02.0/e1000", 0, 2, &body, desc);
    b.opaque("after", 0, 4);
    let s = Stream::from_bytes("t.mig", b.finish()).unwrap();
    assert_eq!(s.pci_devices()[0].config_offset, at + 4);
    assert_eq!(s.sections().len(), 3);
    assert!(
        s.warnings().iter().any(|w| w.contains("using the footer")),
        "{:?}",
        s.warnings()
    );
}
