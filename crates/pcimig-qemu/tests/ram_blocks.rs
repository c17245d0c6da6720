//! `Stream::ram_blocks`: the RAM block list of streams written by hand in QEMU 10.0.2's format
//! (ram_save_setup: be64 total | RAM_SAVE_FLAG_MEM_SIZE, then each block's idstr and length).
//! Real streams are covered by pcimig's `qemu_rom_length` suite.

use pcimig_qemu::build::StreamBuilder;
use pcimig_qemu::{ErrorKind, RamBlock, Stream};

/// RAM_SAVE_FLAG_MEM_SIZE and RAM_SAVE_FLAG_EOS (migration/ram.c).
const MEM_SIZE: u64 = 0x04;
const EOS: u64 = 0x10;

/// A stream whose RAM section lists `blocks` (idstr, length), each followed by `extra` (what
/// parse_ramblock reads after a block, e.g. x-ignore-shared's address), then EOS; returns the
/// bytes and each entry's offset.
fn stream_with_blocks(blocks: &[(&str, u64)], total: Option<u64>) -> (Vec<u8>, Vec<u64>) {
    let mut b = StreamBuilder::new("pc-q35-10.0");
    let id = b.alloc_id();
    b.raw(&[0x01])
        .raw(&id.to_be_bytes())
        .raw(&[3])
        .raw(b"ram")
        .raw(&0u32.to_be_bytes())
        .raw(&4u32.to_be_bytes());
    let sum = total.unwrap_or_else(|| blocks.iter().map(|b| b.1).sum());
    b.raw(&(sum | MEM_SIZE).to_be_bytes());
    let mut offsets = Vec::new();
    for (name, len) in blocks {
        offsets.push(b.bytes().len() as u64);
        b.raw(&[name.len() as u8]).raw(name.as_bytes()).raw(&len.to_be_bytes());
    }
    b.raw(&EOS.to_be_bytes()).raw(&[0x7e]).raw(&id.to_be_bytes());
    b.opaque("timer", 0, 8);
    (b.finish(), offsets)
}

#[test]
fn lists_every_block_with_its_length_and_entry_offset() {
    let blocks = [
        ("pc.ram", 0x200_0000),
        ("0000:00:03.0/vga.vram", 0x100_0000),
        ("/rom@etc/acpi/tables", 0x20000),
        ("pc.bios", 0x40000),
        ("0000:00:01.0/e1000.rom", 0x40000),
        ("0000:00:02.0/virtio-net-pci.rom", 0x40000),
        ("0000:00:0c.0/virtio-net-pci-non-transitional", 0x40000),
    ];
    let (bytes, offsets) = stream_with_blocks(&blocks, None);
    let s = Stream::from_bytes("t.mig", bytes.clone()).unwrap();
    let got = s.ram_blocks();
    let want: Vec<RamBlock> = blocks
        .iter()
        .zip(&offsets)
        .map(|(&(idstr, length), &offset)| RamBlock {
            idstr: idstr.into(),
            length,
            offset,
        })
        .collect();
    assert_eq!(got, want.as_slice());
    // The offset is the entry's idstr length byte.
    for b in got {
        assert_eq!(bytes[b.offset as usize] as usize, b.idstr.len());
    }
}

#[test]
fn a_stream_without_ram_has_no_blocks() {
    let mut b = StreamBuilder::new("pc-q35-10.0");
    b.opaque("timer", 0, 8);
    let s = Stream::from_bytes("t.mig", b.finish()).unwrap();
    assert!(s.ram_blocks().is_empty());
}

#[test]
fn the_builders_ram_section_lists_pc_ram() {
    let mut b = StreamBuilder::new("pc-q35-10.0");
    b.ram_section(&[0x0, 0x1000]);
    let s = Stream::from_bytes("t.mig", b.finish()).unwrap();
    let got: Vec<(&str, u64)> = s.ram_blocks().iter().map(|b| (b.idstr.as_str(), b.length)).collect();
    assert_eq!(got, [("pc.ram", 0x10_0000)]);
}

#[test]
fn a_block_longer_than_the_total_is_an_error_at_its_length() {
    let (bytes, offsets) = stream_with_blocks(&[("pc.ram", 0x4000), ("x.rom", 0x2000)], Some(0x5000));
    let e = Stream::from_bytes("t.mig", bytes).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Malformed);
    let at = offsets[1] + 1 + "x.rom".len() as u64;
    assert_eq!(e.offset, Some(at), "{e}");
    assert!(e.to_string().contains("x.rom"), "{e}");
}
