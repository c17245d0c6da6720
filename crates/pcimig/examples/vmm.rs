//! A Rust VMM's view of pcimig: build a vfio-pci device from a physical config, serve the
//! guest's config reads and writes, save the device's PCI state in QEMU's wire format, and
//! restore it on a destination whose vendor driver changed the VSC payload.
//!
//! Run: `cargo run -p pcimig --example vmm`

use pcimig::demo::vgpu_config;
use pcimig_config::vmstate::Embedding;
use pcimig_vfio::{virtualize, MachineType, VfioOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sample = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/samples/h100-firecracker/0000:00:06.0.config.bin"
    );
    let h100 = std::fs::read(sample)?;
    // Host A's and host B's drivers present the same vGPU with different VSC payloads.
    let host_a = vgpu_config(&h100, b"R550", 0xf3);
    let host_b = vgpu_config(&h100, b"R570", 0x1f7);

    // 1. Realize the device on the source as QEMU's vfio-pci would (behind a PCIe port, q35).
    let opts = VfioOptions {
        bar_sizes: Some([Some(16 << 20), None, Some(1 << 30), None, Some(32 << 20), None]),
        ..VfioOptions::default()
    };
    let mut src = virtualize(&host_a, &opts)?;
    println!(
        "source device: {} capabilities, {} checked bytes",
        src.space.std_capabilities().len(),
        src.space.checked().iter().filter(|&&c| c != 0).count()
    );

    // 2. Serve guest config accesses with QEMU's semantics.
    let space = &mut src.space;
    println!("guest reads vendor:device = {:08x}", space.read(0x00, 4)?);
    space.write(0x04, 0x0006, 2)?; // Command: MEM | MASTER
    space.write(0x10, 0xffff_ffff, 4)?; // BAR0 sizing probe
    println!(
        "BAR0 after sizing probe = {:08x} (16 MiB, 64-bit prefetchable)",
        space.read(0x10, 4)?
    );
    space.write(0x10, 0xfd00_0000, 4)?;
    space.write(0xb2, 0x8008, 2)?; // MSI-X enable
    let before = space.read(0xc8, 4)?;
    space.write(0xc8, 0xdead_beef, 4)?; // VSC payload: read-only to the guest
    assert_eq!(space.read(0xc8, 4)?, before);
    println!(
        "command = {:04x}, MSI-X control = {:04x}",
        space.read(0x04, 2)?,
        space.read(0xb2, 2)?
    );

    // 3. Save the PCIDevice state exactly as QEMU writes it into the migration stream.
    let wire = space.save_state([0; 4], Embedding::Struct).encode();
    println!(
        "saved PCIDevice state: {} bytes (be32 version, {} config bytes, 4 x be32 irq)",
        wire.len(),
        space.size()
    );

    // 4. Restore on host B (newer driver): the default machine type exempts the VSC payload.
    let mut dest = virtualize(&host_b, &opts)?;
    dest.space.load_state(&wire, Embedding::Struct)?;
    println!(
        "restore on host B (pc-q35-10.0, skip-vsc-check on): accepted; command = {:04x}",
        dest.space.read(0x04, 2)?
    );

    // 5. The same restore on an old machine type fails exactly as QEMU does.
    let old = VfioOptions {
        machine: MachineType::parse("pc-q35-9.0")?,
        ..opts
    };
    let mut dest_old = virtualize(&host_b, &old)?;
    match dest_old.space.load_state(&wire, Embedding::Struct) {
        Ok(_) => println!("unexpected: restore accepted on pc-q35-9.0"),
        Err(e) => println!("restore on host B (pc-q35-9.0, strict): qemu-system-x86_64: {e}"),
    }
    Ok(())
}
