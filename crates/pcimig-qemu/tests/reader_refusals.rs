//! The reader's refusals of streams QEMU would refuse or load only in part, its named limits,
//! and the exact offsets of errors in RAM page runs parsed from its read buffer (real QEMU's
//! view of each refusal is asserted in crates/pcimig/tests/qemu_stream_refusals.rs).

use pcimig_qemu::build::{pci_desc_field, pci_state, StreamBuilder};
use pcimig_qemu::limits::{MAX_VMDESC, READ_CHUNK};
use pcimig_qemu::{ErrorKind, Stream, StreamError};

fn config() -> Vec<u8> {
    let mut c = vec![0u8; 256];
    c[..4].copy_from_slice(&[0x86, 0x80, 0x0e, 0x10]);
    c
}

fn err(bytes: Vec<u8>) -> StreamError {
    Stream::from_bytes("r.mig", bytes).expect_err("stream accepted")
}

/// A stream with a timer and an e1000 section; returns it, the e1000 section's offset and its
/// body's offset.
fn e1000_stream() -> (StreamBuilder, u64, u64) {
    let mut b = StreamBuilder::new("pc-q35-10.0");
    b.opaque("timer", 0, 8);
    let sec = b.bytes().len() as u64;
    let body = b.pci_vmsd("0000:00:02.0/e1000", "e1000", 2, &config(), 0);
    b.opaque("after", 0, 4);
    (b, sec, body)
}

#[test]
fn a_changed_section_id_is_a_footer_mismatch() {
    let (b, sec, _) = e1000_stream();
    let mut bytes = b.finish();
    let at = sec as usize + 1;
    bytes[at..at + 4].copy_from_slice(&0x7fffu32.to_be_bytes());
    let e = err(bytes);
    assert_eq!(e.kind, ErrorKind::Malformed);
    assert!(
        e.message
            .contains("Mismatched section id in footer for 0000:00:02.0/e1000 - read 0x1 expected 0x7fff"),
        "{e}"
    );
}

#[test]
fn bytes_after_an_eof_in_the_middle_are_refused() {
    let (b, sec, _) = e1000_stream();
    let mut bytes = b.finish();
    bytes[sec as usize] = 0;
    let e = err(bytes.clone());
    assert_eq!(e.kind, ErrorKind::Malformed);
    assert_eq!(e.offset, Some(sec + 1));
    assert!(
        e.message
            .contains("QEMU_VM_EOF after 1 device (FULL) sections, but the vmdesc describes 3"),
        "{e}"
    );
    // Without a vmdesc: the trailing bytes themselves.
    let mut b = StreamBuilder::new("pc-q35-10.0");
    b.vmdesc = false;
    b.opaque("timer", 0, 8);
    let sec = b.bytes().len();
    b.opaque("after", 0, 4);
    let mut bytes = b.finish();
    bytes[sec] = 0;
    let e = err(bytes.clone());
    assert!(
        e.message.contains("bytes follow the QEMU_VM_EOF byte at")
            && e.message.contains("Expected vmdescription section, but got 0"),
        "{e}"
    );
    // Cut right after that EOF: a valid stream (what QEMU loads).
    let s = Stream::from_bytes("r.mig", bytes[..=sec].to_vec()).unwrap();
    assert_eq!(s.sections().len(), 1);
}

#[test]
fn a_vmdesc_misplacing_the_pci_state_is_refused() {
    let mut b = StreamBuilder::new("pc-q35-10.0");
    let mut body = vec![0xa5u8; 4];
    body.extend(pci_state(&config()));
    // The vmdesc leaves out the 4 bytes before the PCIDevice state.
    let desc = serde_json::json!({"vmsd_name": "e1000", "version": 2, "fields": [
        pci_desc_field("parent_obj", 256), {"name": "x", "type": "buffer", "size": 4}]});
    let at = b.full("0000:00:02.0/e1000", 0, 2, &body, desc);
    let e = err(b.finish());
    assert_eq!(e.kind, ErrorKind::Vmdesc);
    assert_eq!(e.offset, Some(at));
    assert!(
        e.message.contains("the vmdesc's field sizes disagree with the stream"),
        "{e}"
    );
}

#[test]
fn a_vmdesc_over_the_limit_says_so() {
    let mut b = StreamBuilder::new("pc-q35-10.0");
    b.vmdesc = false;
    b.opaque("timer", 0, 8);
    let mut bytes = b.finish();
    let json_len = MAX_VMDESC as usize + 16;
    bytes.push(0x06);
    bytes.extend_from_slice(&(json_len as u32).to_be_bytes());
    bytes.push(b'{');
    bytes.extend(std::iter::repeat_n(b' ', json_len - 2));
    bytes.push(b'}');
    let e = err(bytes);
    assert_eq!(e.kind, ErrorKind::TooLarge);
    assert!(e.message.contains("larger than the limit MAX_VMDESC"), "{e}");
}

/// A stream whose RAM section holds `zeros` continued zero pages, then `pages` continued whole
/// pages, then one zero page with fill byte 1 (when `bad`), then EOS. Returns the bytes and
/// the offset of the page after the runs.
fn ram_runs(zeros: usize, pages: usize, bad: bool) -> (Vec<u8>, u64) {
    let mut b = StreamBuilder::new("pc-q35-10.0");
    let block = 1u64 << 32;
    let (id, mut raw) = b.ram_start(block);
    raw.extend_from_slice(&0x02u64.to_be_bytes());
    raw.push(6);
    raw.extend_from_slice(b"pc.ram");
    raw.push(0);
    for i in 0..zeros {
        raw.extend_from_slice(&((i as u64 + 1) << 12 | 0x22).to_be_bytes());
        raw.push(0);
    }
    for i in 0..pages {
        raw.extend_from_slice(&((i as u64 + 1) << 12 | 0x28).to_be_bytes());
        raw.extend(std::iter::repeat_n(0x5a, 4096));
    }
    let after = b.bytes().len() + raw.len();
    if bad {
        raw.extend_from_slice(&0x22u64.to_be_bytes());
        raw.push(1);
    }
    raw.extend_from_slice(&0x10u64.to_be_bytes());
    raw.push(0x7e);
    raw.extend_from_slice(&id.to_be_bytes());
    b.raw(&raw);
    (b.finish(), after as u64)
}

#[test]
fn page_runs_across_read_buffers_keep_exact_offsets() {
    let per_chunk = READ_CHUNK / 9;
    for zeros in [
        0,
        1,
        per_chunk - 2,
        per_chunk - 1,
        per_chunk,
        per_chunk + 1,
        3 * per_chunk + 5,
    ] {
        for pages in [0, 1, 63, 64, 65, 130] {
            let (good, _) = ram_runs(zeros, pages, false);
            let s = Stream::from_bytes("r.mig", good).unwrap();
            assert_eq!(
                s.sections()[0].body_len as usize,
                8 + 7 + 8 + 8 + 7 + 1 + zeros * 9 + pages * 4104 + 8
            );
            let (bad, at) = ram_runs(zeros, pages, true);
            let e = err(bad.clone());
            assert_eq!(e.offset, Some(at), "{zeros} {pages}: {e}");
            assert!(e.message.contains("Found a zero page with value 1"), "{e}");
            // Cut inside the last page's payload: the error is at its payload, as before.
            if pages > 0 {
                let cut = at as usize - 100;
                let e = err(bad[..cut].to_vec());
                assert_eq!(e.offset, Some(at - 4096), "{zeros} {pages}: {e}");
            }
        }
    }
}
