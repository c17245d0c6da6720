//! `cargo run --example ls -- FILE`: list a stream's sections and PCI devices (a debugging aid;
//! the user-facing command is `pcimig stream ls`).

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: ls FILE");
        std::process::exit(2);
    };
    match pcimig_qemu::Stream::open(&path) {
        Ok(s) => {
            println!(
                "machine {:?}, page size {}, caps {:?}",
                s.machine_type(),
                s.page_size(),
                s.capabilities()
            );
            for x in s.sections() {
                println!(
                    "{:>4} {:<40} {:>3} {:>3} {:?} at {:#x} body {} chunks {}",
                    x.section_id, x.idstr, x.instance_id, x.version_id, x.kind, x.offset, x.body_len, x.chunks
                );
            }
            for d in s.pci_devices() {
                println!(
                    "{:<40} {:<10} {:>5} at {:#x} path {:?}",
                    d.id,
                    d.kind.to_string(),
                    d.config_size,
                    d.config_offset,
                    d.field_path
                );
            }
            for w in s.warnings() {
                eprintln!("warning: {w}");
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    }
}
