//! A devices-only walk of a stream whose RAM does not matter: `check --emulated`'s destination,
//! a freshly started VM whose stream holds as many zero pages as the guest has RAM. At the
//! first PART chunk of the RAM section, the walk jumps to the RAM section's END chunk, found
//! from the end of the stream (where QEMU writes it: after every PART chunk, before the FULL
//! sections of the devices, qemu_savevm_state_complete_precopy), and goes on from there as
//! usual: the END chunk's pages, every device section, EOF, the vmdesc, each checked as in a
//! whole walk.
//!
//! The END chunk is searched for within [`END_SEARCH`] bytes of EOF, in a stream with a vmdesc
//! and footers: first the last END chunk of the RAM section's id that is RAM_SAVE_FLAG_EOS and
//! the footer alone (a freshly started VM: its pages all went in PART chunks); failing that,
//! the last QEMU_VM_SECTION_END with the id followed by a RAM page header (the END chunk of a
//! VM whose last pages went in it). When there is none, or the walk from it fails,
//! [`crate::Stream::open_devices`] walks the whole stream.

use super::cursor::{be_u64, Cursor};
use super::format::{
    QEMU_VM_SECTION_END, QEMU_VM_SECTION_FOOTER, RAM_SAVE_FLAG_CONTINUE, RAM_SAVE_FLAG_EOS,
    RAM_SAVE_FLAG_MULTIFD_FLUSH, RAM_SAVE_FLAG_PAGE, RAM_SAVE_FLAG_XBZRLE, RAM_SAVE_FLAG_ZERO,
};
use super::scan::scan_back;

/// Bytes before EOF searched for the RAM section's END chunk (its pages and the device
/// sections after it).
const END_SEARCH: u64 = 64 << 20;
/// The bytes looked at from an END chunk's start: type, be32 id, a be64 page header, and for
/// an END chunk of RAM_SAVE_FLAG_EOS alone, the footer (type, be32 id).
const END_CHUNK_LEN: usize = 1 + 4 + 8 + 1 + 4;

/// The offset of the RAM section's END chunk (section `id`), searched backward from the EOF
/// byte at `eof` down to `from` (`page_size` gives a page header's flag bits).
pub(super) fn find_ram_end(cur: &Cursor<'_>, from: u64, eof: u64, id: u32, page_size: u64) -> Option<u64> {
    let mut eos_only = vec![QEMU_VM_SECTION_END];
    eos_only.extend_from_slice(&id.to_be_bytes());
    eos_only.extend_from_slice(&RAM_SAVE_FLAG_EOS.to_be_bytes());
    eos_only.push(QEMU_VM_SECTION_FOOTER);
    eos_only.extend_from_slice(&id.to_be_bytes());
    search_back(cur, from, eof, &eos_only, |_| true)
        .or_else(|| search_back(cur, from, eof, &eos_only[..5], |c| is_page_header(&c[5..13], page_size)))
}

/// The last offset in `from..eof`, within [`END_SEARCH`] of `eof`, where `pattern` is and
/// `accept` takes the [`END_CHUNK_LEN`] bytes there (fewer at the very end are never taken).
fn search_back(cur: &Cursor<'_>, from: u64, eof: u64, pattern: &[u8], accept: impl Fn(&[u8]) -> bool) -> Option<u64> {
    let finder = memchr::memmem::FinderRev::new(pattern);
    let lowest = from.max(eof.saturating_sub(END_SEARCH));
    let found = scan_back(
        cur,
        lowest,
        eof,
        END_CHUNK_LEN,
        "RAM END chunk search",
        |lo, buf, starts| {
            finder
                .rfind_iter(buf)
                .filter(|&at| at < starts)
                .find(|&at| buf.get(at..at + END_CHUNK_LEN).is_some_and(&accept))
                .map(|at| lo + at as u64)
        },
    );
    found.ok().flatten()
}

/// Whether `h` is a page header of a record ram_load_precopy reads in an END chunk.
fn is_page_header(h: &[u8], page_size: u64) -> bool {
    let flags = be_u64(h) & (page_size - 1) & !RAM_SAVE_FLAG_CONTINUE;
    [
        RAM_SAVE_FLAG_EOS,
        RAM_SAVE_FLAG_ZERO,
        RAM_SAVE_FLAG_PAGE,
        RAM_SAVE_FLAG_XBZRLE,
        RAM_SAVE_FLAG_MULTIFD_FLUSH,
    ]
    .contains(&flags)
}

#[cfg(test)]
mod tests {
    //! The devices-only walk against the whole walk on hand-built streams: the jump where the
    //! END chunk is QEMU's, and the whole walk (same result) wherever it is not.

    use crate::build::StreamBuilder;
    use crate::Stream;

    const EOS: u64 = 0x10;

    /// A stream like a freshly started VM's: RAM START (block list), PART chunks of zero pages,
    /// an END chunk (only EOS unless `end_pages`), then an e1000 whose config holds, with
    /// `decoy`, a copy of that END chunk at 0x40.
    fn fresh_vm(end_pages: bool, decoy: bool, vmdesc: bool) -> Vec<u8> {
        let mut b = StreamBuilder::new("pc-q35-10.0");
        b.vmdesc = vmdesc;
        let (id, mut raw) = b.ram_start(1 << 30);
        let chunk_end = |raw: &mut Vec<u8>| {
            raw.extend_from_slice(&EOS.to_be_bytes());
            raw.push(0x7e);
            raw.extend_from_slice(&id.to_be_bytes());
        };
        chunk_end(&mut raw);
        for part in 0..3u64 {
            raw.push(0x02);
            raw.extend_from_slice(&id.to_be_bytes());
            for p in 0..1000u64 {
                let named = if p == 0 { 0 } else { 0x20 };
                raw.extend_from_slice(&(((part * 1000 + p) << 12) | 0x02 | named).to_be_bytes());
                if p == 0 {
                    raw.push(6);
                    raw.extend_from_slice(b"pc.ram");
                }
                raw.push(0);
            }
            chunk_end(&mut raw);
        }
        raw.push(0x03);
        raw.extend_from_slice(&id.to_be_bytes());
        if end_pages {
            raw.extend_from_slice(&((5000u64 << 12) | 0x02 | 0x20).to_be_bytes());
            raw.push(0);
        }
        chunk_end(&mut raw);
        b.raw(&raw);
        let mut c = vec![0u8; 256];
        c[..4].copy_from_slice(&[0x86, 0x80, 0x0e, 0x10]);
        if decoy {
            let mut end = vec![0x03];
            end.extend_from_slice(&id.to_be_bytes());
            end.extend_from_slice(&EOS.to_be_bytes());
            end.push(0x7e);
            end.extend_from_slice(&id.to_be_bytes());
            c[0x40..0x40 + end.len()].copy_from_slice(&end);
        }
        b.pci_vmsd("0000:00:02.0/e1000", "e1000", 2, &c, 0);
        b.finish()
    }

    /// Walk `bytes` whole and devices-only (from a file, as the CLI does); both must find the
    /// same. Returns whether the devices-only walk jumped over the RAM pages.
    fn agree(name: &str, bytes: &[u8]) -> bool {
        let dir = std::env::temp_dir().join(format!("pcimig-skip-ram-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("s.mig");
        std::fs::write(&file, bytes).unwrap();
        let whole = Stream::open(&file);
        let devices = Stream::open_devices(&file);
        std::fs::remove_dir_all(&dir).unwrap();
        let key = |s: &Result<Stream, crate::StreamError>| match s {
            Ok(s) => format!(
                "{:?} {:?} {:?} {:?} {:?}",
                s.machine_type(),
                s.ram_blocks(),
                s.pci_devices(),
                s.pci_devices()
                    .iter()
                    .map(|d| s.read_config(d).unwrap())
                    .collect::<Vec<_>>(),
                s.eof_offset()
            ),
            Err(e) => format!("error: {e}"),
        };
        assert_eq!(key(&devices), key(&whole), "{name}");
        let ram_len = |s: &Stream| s.sections().iter().find(|x| x.idstr == "ram").map(|x| x.body_len);
        match (devices, whole) {
            (Ok(d), Ok(w)) => ram_len(&d) < ram_len(&w),
            _ => false,
        }
    }

    #[test]
    fn the_pages_of_a_fresh_vm_are_jumped_over() {
        assert!(agree("fresh", &fresh_vm(false, false, true)));
    }

    #[test]
    fn an_end_chunk_with_pages_is_found_too() {
        assert!(agree("end-pages", &fresh_vm(true, false, true)));
    }

    #[test]
    fn without_a_vmdesc_the_whole_stream_is_walked() {
        assert!(!agree("no-vmdesc", &fresh_vm(false, false, false)));
    }

    #[test]
    fn a_decoy_end_chunk_in_device_state_changes_nothing() {
        // The RAM section's END chunk planted in the e1000's config is found first from the
        // end: the walk from it fails and the whole stream is walked.
        assert!(!agree("decoy", &fresh_vm(false, true, true)));
    }

    #[test]
    fn a_broken_device_section_is_the_same_error() {
        let mut bytes = fresh_vm(false, false, true);
        let at = bytes.len() - 400;
        bytes[at] ^= 0xff;
        agree("broken", &bytes);
    }
}
