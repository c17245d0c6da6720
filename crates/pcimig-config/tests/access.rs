//! Guest config access as pci_default_write_config / pci_default_read_config do it (spec §1.1):
//! per byte `config = (config & !wmask) | (val & wmask)`, then the `val & w1cmask` bits are
//! cleared; 1, 2 or 4-byte accesses at any offset that fits; anything else is an error.

use pcimig_config::{Array, ConfigError, ConfigSize, ConfigSpace, DeviceIdentity, DeviceParams, HeaderKind};

fn e1000_like() -> ConfigSpace {
    let mut s = ConfigSpace::new_device(&DeviceParams {
        size: ConfigSize::Conventional,
        header: HeaderKind::Type0,
        identity: DeviceIdentity {
            vendor_id: 0x8086,
            device_id: 0x100e,
            revision: 3,
            class_id: 0x0200,
            ..Default::default()
        },
        multifunction: false,
    });
    s.register_bar(0, 0x00, 0x20000).unwrap();
    s.register_bar(1, 0x01, 0x40).unwrap();
    s
}

#[test]
fn status_error_bits_are_write_1_to_clear() {
    let mut s = e1000_like();
    s.raw_mut().config[0x07] = 0xf9; // every error bit set by the device
    s.write(0x06, 0x0100, 2).unwrap(); // clear PARITY only
    assert_eq!(s.read(0x06, 2).unwrap(), 0xf800);
    s.write(0x07, 0x00, 1).unwrap(); // writing 0 clears nothing
    assert_eq!(s.read(0x07, 1).unwrap(), 0xf8);
    s.write(0x06, 0xffff, 2).unwrap();
    assert_eq!(s.read(0x06, 2).unwrap(), 0x0000);
    s.write(0x06, 0xffff, 2).unwrap(); // and nothing sets them again
    assert_eq!(s.read(0x06, 2).unwrap(), 0x0000);
}

#[test]
fn read_only_registers_ignore_writes() {
    let mut s = e1000_like();
    let before = s.config().to_vec();
    s.write(0x00, 0xffff_ffff, 4).unwrap(); // vendor/device
    s.write(0x08, 0xffff_ffff, 4).unwrap(); // revision/class
    s.write(0x0d, 0xff, 1).unwrap(); // latency timer is not writable in QEMU
    s.write(0x0e, 0xff, 1).unwrap(); // header type
    s.write(0x2c, 0xffff_ffff, 4).unwrap(); // subsystem IDs
    s.write(0x34, 0x40, 1).unwrap(); // capabilities pointer
    s.write(0x3d, 0x04, 1).unwrap(); // interrupt pin
    assert_eq!(s.config(), &before[..]);
}

#[test]
fn command_register_takes_only_io_mem_master_serr_intx_disable() {
    let mut s = e1000_like();
    s.write(0x04, 0xffff, 2).unwrap();
    assert_eq!(s.read(0x04, 2).unwrap(), 0x0507);
    s.write(0x05, 0x00, 1).unwrap(); // byte write of the high half only
    assert_eq!(s.read(0x04, 2).unwrap(), 0x0007);
}

#[test]
fn unaligned_partial_writes_apply_each_byte_its_own_mask() {
    let mut s = e1000_like();
    // 0x0b class (RO), 0x0c cache line (RW), 0x0d latency (RO), 0x0e header type (RO)
    s.write(0x0b, 0xaabb_ccdd, 4).unwrap();
    assert_eq!(s.read(0x0b, 4).unwrap(), 0x0000_cc02);
    // 0x3b reserved (RO) and 0x3c interrupt line (RW), a 2-byte write straddling them
    s.write(0x3b, 0x0bff, 2).unwrap();
    assert_eq!(s.read(0x3b, 2).unwrap(), 0x0b00);
    // 2-byte write at an odd offset inside the writable area
    s.write(0x41, 0x1234, 2).unwrap();
    assert_eq!(s.read(0x40, 4).unwrap(), 0x0012_3400);
    // 1-byte write into the middle of a writable dword leaves its neighbours alone
    s.write(0x42, 0xee, 1).unwrap();
    assert_eq!(s.read(0x40, 4).unwrap(), 0x00ee_3400);
}

#[test]
fn bar_size_probe_reads_back_the_size_mask_and_the_type_bits() {
    let mut s = e1000_like();
    s.write(0x10, 0xffff_ffff, 4).unwrap();
    assert_eq!(s.read(0x10, 4).unwrap(), 0xfffe_0000, "128 KiB memory BAR");
    s.write(0x14, 0xffff_ffff, 4).unwrap();
    assert_eq!(s.read(0x14, 4).unwrap(), 0xffff_ffc1, "64-byte IO BAR keeps its IO bit");
    // An unregistered BAR is read-only zero.
    s.write(0x18, 0xffff_ffff, 4).unwrap();
    assert_eq!(s.read(0x18, 4).unwrap(), 0);
}

#[test]
fn reads_are_little_endian_at_any_offset_that_fits() {
    let s = e1000_like();
    assert_eq!(s.read(0x00, 4).unwrap(), 0x100e_8086);
    assert_eq!(s.read(0x01, 2).unwrap(), 0x0e80);
    assert_eq!(s.read(0x03, 1).unwrap(), 0x10);
    assert_eq!(s.read(0xfc, 4).unwrap(), 0);
    assert_eq!(s.read(0xff, 1).unwrap(), 0);
}

#[test]
fn accesses_that_do_not_fit_or_have_a_bad_length_are_errors() {
    let mut s = e1000_like();
    for (off, len) in [(0xfd, 4), (0xff, 2), (0x100, 1), (usize::MAX, 1), (usize::MAX - 1, 4)] {
        assert!(
            matches!(s.read(off, len), Err(ConfigError::AccessOutOfRange { size: 256, .. })),
            "read {off:#x}/{len}"
        );
        assert!(
            matches!(
                s.write(off, 0, len),
                Err(ConfigError::AccessOutOfRange { size: 256, .. })
            ),
            "write {off:#x}/{len}"
        );
    }
    for len in [0, 3, 5, 8] {
        assert!(matches!(s.read(0, len), Err(ConfigError::BadAccessLength { .. })));
        assert!(matches!(s.write(0, 0, len), Err(ConfigError::BadAccessLength { .. })));
    }
    assert_eq!(
        s.read(0xfe, 4).unwrap_err().to_string(),
        "access of 4 byte(s) at offset 0xfe is past the end of the 256-byte config space"
    );
    let mut e = ConfigSpace::zeroed(ConfigSize::Express);
    assert!(e.write(0xffc, 0, 4).is_ok());
    assert!(e.write(0xffd, 0, 4).is_err());
    assert!(s.set_le(Array::Wmask, 0xfc, 8, 0).is_err());
    assert!(s.get_le(Array::Wmask, 0, 9).is_err());
    assert!(s.byte(0x100).is_err());
}

// ---- msi_write_config side effects (hw/pci/msi.c) -------------------------------------------

#[test]
fn enabling_msi_clamps_multiple_message_enable_to_what_is_capable() {
    let mut s = e1000_like();
    let p = s.msi_init(0, 4, true, false).unwrap(); // MMC = log2(4) = 2
                                                    // QSIZE 5 (32 vectors) with ENABLE: clamped to QSIZE 2.
    s.write(p + 2, 0x0051, 2).unwrap();
    assert_eq!(s.read(p + 2, 2).unwrap(), 0x00a5, "64BIT | QSIZE 2 | MMC 2 | ENABLE");
    // Without ENABLE nothing is clamped.
    let mut t = e1000_like();
    let p = t.msi_init(0, 4, true, false).unwrap();
    t.write(p + 2, 0x0050, 2).unwrap();
    assert_eq!(t.read(p + 2, 2).unwrap(), 0x00d4);
}

#[test]
fn enabling_msi_discards_pending_bits_of_unallocated_and_unmasked_vectors() {
    let mut s = e1000_like();
    let p = s.msi_init(0x50, 8, false, true).unwrap(); // 32-bit with masking: mask +0x0c, pending +0x10
    s.raw_mut().config[p + 0x10..p + 0x14].copy_from_slice(&0xffu32.to_le_bytes()); // device-set pending
    s.write(p + 0x0c, 0b0000_0101, 4).unwrap(); // vectors 0 and 2 masked
    assert_eq!(s.read(p + 0x10, 4).unwrap(), 0xff, "MSI disabled: pending untouched");
    // Enable with 2 vectors allocated (QSIZE 1): vectors 2..7 are discarded, vector 1 (unmasked)
    // is delivered; only vector 0 (masked) stays pending.
    s.write(p + 2, 0x0011, 2).unwrap();
    assert_eq!(s.read(p + 0x10, 4).unwrap(), 0b0000_0001);
    // The pending bits themselves are read-only to the guest.
    s.write(p + 0x10, 0xffff_ffff, 4).unwrap();
    assert_eq!(s.read(p + 0x10, 4).unwrap(), 0b0000_0001);
}

#[test]
fn writes_outside_the_msi_capability_do_not_run_msi_side_effects() {
    let mut s = e1000_like();
    let p = s.msi_init(0x50, 1, false, false).unwrap();
    s.raw_mut().config[p + 2] |= 0x71; // enabled with an out-of-range QSIZE, set behind the guest
    s.write(0x04, 0x0002, 2).unwrap();
    assert_eq!(s.read(p + 2, 1).unwrap(), 0x71);
    s.write(p + 4, 0xfee0_0000, 4).unwrap(); // a write inside the capability clamps
    assert_eq!(s.read(p + 2, 1).unwrap(), 0x01);
}
