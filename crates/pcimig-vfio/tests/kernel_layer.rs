//! The kernel's vfio-pci layer (`pcimig_vfio::kernel`), rule by rule, against Linux 6.12.118's
//! `drivers/vfio/pci/vfio_pci_config.c`. Each test quotes the rule it checks; each expectation is
//! the exact set of bytes whose read differs from the device's, worked out from the kernel code.

use pcimig_config::regs::*;
use pcimig_config::{AnyCapId, CapId, ExtCapId};
use pcimig_vfio::kernel::{present, HiddenCap, KernelFacts, KernelLayerError, KernelView, VirtFn};
use pcimig_vfio::{virtualize, VfioOptions};

/// A 256-byte type 0 header: 10de:2330, Memory Space on, a capability list at `first` (none
/// when 0), Interrupt Pin A on line 0x0b, no BARs.
fn header(first: u8) -> Vec<u8> {
    let mut c = vec![0u8; PCI_CONFIG_SPACE_SIZE];
    c[0..4].copy_from_slice(&[0xde, 0x10, 0x30, 0x23]);
    c[PCI_COMMAND] = PCI_COMMAND_MEMORY as u8;
    if first != 0 {
        c[PCI_STATUS] = PCI_STATUS_CAP_LIST as u8;
    }
    c[PCI_CLASS_DEVICE + 1] = 0x03;
    c[PCI_CAPABILITY_LIST] = first;
    c[PCI_INTERRUPT_LINE] = 0x0b;
    c[PCI_INTERRUPT_PIN] = 1;
    c
}

/// `header` grown to 4096 bytes with a PCI Express v2 endpoint capability at 0x40 (the only
/// standard one) and `ext` as the extended chain's dwords.
fn pcie(ext: &[(usize, u32)]) -> Vec<u8> {
    let mut c = header(0x40);
    c.resize(PCIE_CONFIG_SPACE_SIZE, 0);
    put(&mut c, 0x40, &[0x10, 0x00, 0x02, 0x00]);
    for &(at, v) in ext {
        c[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }
    c
}

fn put(c: &mut [u8], at: usize, bytes: &[u8]) {
    c[at..at + bytes.len()].copy_from_slice(bytes);
}

/// An extended header.
fn ext(id: u16, ver: u8, next: usize) -> u32 {
    pci_ext_cap(id, ver, next)
}

fn view(phys: &[u8]) -> KernelView {
    present(phys, &KernelFacts::default()).unwrap()
}

/// The bytes whose read differs from the device's: (offset, device, read).
fn diff(phys: &[u8], v: &KernelView) -> Vec<(usize, u8, u8)> {
    phys.iter()
        .zip(&v.config)
        .enumerate()
        .filter(|(_, (a, b))| a != b)
        .map(|(i, (&a, &b))| (i, a, b))
        .collect()
}

fn has_note(v: &KernelView, text: &str) -> bool {
    v.notes.iter().any(|n| n.contains(text))
}

fn std(id: CapId, offset: usize) -> HiddenCap {
    HiddenCap {
        id: AnyCapId::Std(id),
        offset,
        placeholder: false,
    }
}

// ---- vfio_cap_init --------------------------------------------------------------------------

/// `vfio_cap_len`: "case PCI_CAP_ID_VNDR: /* length follows next field */ ... return byte;" —
/// the VSC is kept with the length its third byte gives, and reads as the device holds it.
#[test]
fn vendor_specific_kept_with_its_length_byte() {
    let mut c = header(0x40);
    put(&mut c, 0x40, &[0x09, 0x00, 0x14, 0xaa, 0xbb]);
    let v = view(&c);
    assert_eq!(diff(&c, &v), []);
    assert_eq!(
        (v.kept[0].id, v.kept[0].offset, v.kept[0].len),
        (AnyCapId::Std(CapId::Vndr), 0x40, 0x14)
    );
    assert_eq!(
        v.kept[0].to_string(),
        "Vendor Specific capability (0x09) at 0x40 kept (0x14 bytes: from its length byte)"
    );
}

/// `vfio_cap_init`: "if (!len) { ... hiding cap ...; *prev = next; pos = next; continue; }" with
/// `pci_cap_length[PCI_CAP_ID_SHPC] = 0` — the PM capability's next pointer skips the SHPC.
#[test]
fn capability_of_unknown_length_hidden_by_the_previous_next_pointer() {
    let mut c = header(0x40);
    put(&mut c, 0x40, &[0x01, 0x50, 0x03, 0x00, 0x08, 0x00, 0x00, 0x00]);
    put(&mut c, 0x50, &[0x0c, 0x60, 0x00, 0x00]);
    put(&mut c, 0x60, &[0x09, 0x00, 0x08, 0x00]);
    let v = view(&c);
    assert_eq!(diff(&c, &v), [(0x41, 0x50, 0x60)]);
    assert_eq!(v.hidden, [std(CapId::Shpc, 0x50)]);
    assert!(has_note(
        &v,
        "at 0x50 hidden (unknown or zero length): the next pointer at 0x41 reads 0x60"
    ));
}

/// "Mark the previous position in case we want to skip a capability: prev =
/// &vdev->vconfig[PCI_CAPABILITY_LIST]" — a hidden first capability moves the pointer at 0x34.
#[test]
fn first_capability_hidden_moves_the_capabilities_pointer() {
    let mut c = header(0x40);
    put(&mut c, 0x40, &[0x04, 0x50, 0x00, 0x00]); // Slot ID: "bridge - don't care"
    put(&mut c, 0x50, &[0x09, 0x00, 0x08, 0x00]);
    let v = view(&c);
    assert_eq!(diff(&c, &v), [(0x34, 0x40, 0x50)]);
}

/// A VSC whose length byte is 0 gets `len = 0` from `vfio_cap_len`, so it is hidden like an
/// unknown one.
#[test]
fn vendor_specific_of_length_zero_hidden() {
    let mut c = header(0x40);
    put(&mut c, 0x40, &[0x09, 0x48, 0x00, 0x00]);
    put(&mut c, 0x48, &[0x01, 0x00, 0x03, 0x00]);
    let v = view(&c);
    assert_eq!(diff(&c, &v), [(0x34, 0x40, 0x48)]);
    assert_eq!(v.hidden, [std(CapId::Vndr, 0x40)]);
}

/// "ID 0 is a NULL capability, conflicting with our fake PCI_CAP_ID_BASIC ... consider it
/// hidden"; `if (cap && cap <= PCI_CAP_ID_MAX)` — Enhanced Allocation (0x14, no table entry) and
/// 0x15 (above PCI_CAP_ID_MAX) are hidden too.
#[test]
fn null_enhanced_allocation_and_unknown_ids_hidden() {
    let mut c = header(0x40);
    put(&mut c, 0x40, &[0x00, 0x48, 0x00, 0x00]);
    put(&mut c, 0x48, &[0x14, 0x50, 0x00, 0x00]);
    put(&mut c, 0x50, &[0x15, 0x58, 0x00, 0x00]);
    put(&mut c, 0x58, &[0x01, 0x00, 0x03, 0x00]);
    let v = view(&c);
    assert_eq!(diff(&c, &v), [(0x34, 0x40, 0x58)]);
    assert_eq!(
        v.hidden,
        [std(CapId::Null, 0x40), std(CapId::Ea, 0x48), std(CapId::Fpb, 0x50)]
    );
}

/// "If we didn't fill any capabilities, clear the status flag" — and the pointer at 0x34 reads
/// the last hidden capability's next (0).
#[test]
fn nothing_kept_clears_capabilities_list() {
    let mut c = header(0x40);
    put(&mut c, 0x40, &[0x0c, 0x00, 0x00, 0x00]);
    let v = view(&c);
    assert_eq!(diff(&c, &v), [(0x06, 0x10, 0x00), (0x34, 0x40, 0x00)]);
}

/// "loops = (PCI_CFG_SPACE_SIZE - PCI_STD_HEADER_SIZEOF) / PCI_CAP_SIZEOF; while (pos &&
/// loops--)" — a chain that loops ends after 48 entries; a kept capability's looping next
/// pointer stays visible.
#[test]
fn looping_chain_bounded_by_48_entries() {
    let mut c = header(0x40);
    put(&mut c, 0x40, &[0x09, 0x40, 0x08, 0x00]);
    let v = view(&c);
    assert_eq!(diff(&c, &v), []);
    assert!(has_note(&v, "stopped after 48 entries with next 0x40"));
    // A looping hidden capability: 0x34 is rewritten to its own next (0x40) 48 times, and as
    // nothing was kept the Capabilities List bit reads 0.
    put(&mut c, 0x40, &[0x0c, 0x40, 0x00, 0x00]);
    let v = view(&c);
    assert_eq!(diff(&c, &v), [(0x06, 0x10, 0x00)]);
}

/// `vfio_msi_cap_len`: "len = 10; if (flags & PCI_MSI_FLAGS_64BIT) len += 4; if (flags &
/// PCI_MSI_FLAGS_MASKBIT) len += 10;".
#[test]
fn msi_length_by_its_flags() {
    for (flags, len) in [(0x0000u16, 10), (0x0080, 14), (0x0100, 20), (0x0180, 24)] {
        let mut c = header(0x40);
        put(&mut c, 0x40, &[0x05, 0x00]);
        put(&mut c, 0x42, &flags.to_le_bytes());
        let v = view(&c);
        assert_eq!(v.kept[0].len, len, "flags {flags:#x}");
        assert_eq!(diff(&c, &v), [], "flags {flags:#x}");
    }
}

/// `vfio_cap_len` for PCI_CAP_ID_EXP: "if ((pcie_caps_reg(pdev) & PCI_EXP_FLAGS_VERS) == 1) {
/// if (pci_pcie_type(pdev) == PCI_EXP_TYPE_RC_END) return 0xc; return
/// PCI_CAP_EXP_ENDPOINT_SIZEOF_V1; } else { if (... RC_END) return 0x2c; return
/// PCI_CAP_EXP_ENDPOINT_SIZEOF_V2; }" (20 and 0x34 in 6.12's pci_regs.h).
#[test]
fn pcie_length_by_version_and_type() {
    for (flags, len) in [(0x0002u16, 0x34), (0x0001, 0x14), (0x0092, 0x2c), (0x0091, 0xc)] {
        let mut c = header(0x40);
        put(&mut c, 0x40, &[0x10, 0x00]);
        put(&mut c, 0x42, &flags.to_le_bytes());
        assert_eq!(view(&c).kept[0].len, len, "flags {flags:#x}");
    }
}

/// `vfio_update_pm_vconfig_bytes`: "Clear vconfig PME_Support, PME_Status, and PME_En bits",
/// which `init_pci_cap_pm_perm` virtualizes; and `vfio_pci_core_enable`'s runtime resume puts the
/// device in D0.
#[test]
fn pm_pme_bits_read_zero_and_the_device_is_in_d0() {
    let mut c = header(0x40);
    put(&mut c, 0x40, &[0x01, 0x00, 0x03, 0xc8, 0x03, 0x81, 0x00, 0x00]);
    let v = view(&c);
    assert_eq!(
        diff(&c, &v),
        [(0x43, 0xc8, 0x00), (0x44, 0x03, 0x00), (0x45, 0x81, 0x00)]
    );
}

/// `vfio_find_cap_start`: "XXX Can we have to abutting capabilities of the same type?" — two
/// abutting VSCs read as one capability, so the second one's next pointer is not at offset 1 and
/// `vfio_direct_config_read` passes the device's byte through although `vfio_cap_init`
/// rewrote it in vconfig.
#[test]
fn abutting_capabilities_of_one_id_read_as_one() {
    let mut c = header(0x40);
    put(&mut c, 0x40, &[0x09, 0x48, 0x08, 0x00]);
    put(&mut c, 0x48, &[0x09, 0x50, 0x08, 0x00]);
    put(&mut c, 0x50, &[0x0c, 0x00, 0x00, 0x00]);
    let v = view(&c);
    assert_eq!(diff(&c, &v), [], "the hidden SHPC stays linked from 0x49");
    // With a gap between them the second VSC starts its own capability: its next reads 0.
    c[0x42] = 0x06;
    let v = view(&c);
    assert_eq!(diff(&c, &v), [(0x49, 0x50, 0x00)]);
}

/// `unassigned_perms`: "Default unassigned regions to raw read-write access. Some devices require
/// this to function as they hide registers between the gaps in config space (be2net)."
#[test]
fn bytes_outside_every_capability_read_raw() {
    let mut c = header(0x40);
    put(&mut c, 0x40, &[0x09, 0x00, 0x08, 0x00]);
    for (i, b) in c.iter_mut().enumerate().skip(0x48) {
        *b = i as u8 ^ 0x5a;
    }
    let v = view(&c);
    assert_eq!(diff(&c, &v), []);
}

/// A capability pointer into the header: `vfio_cap_init` does not check `pos`, so
/// `memset(map + pos, cap, len)` maps header bytes 0x08..0x10 to a PM capability. Their reads
/// then go through the PM table with `vfio_find_cap_start` returning each chunk's own start
/// (below 0x40), so both dwords read as if at offset 0: byte 1 (the next pointer) and the top bits
/// of byte 3 (PME_Support) come from vconfig, which `vfio_update_pm_vconfig_bytes` cleared at
/// 0x0b (PMC) and 0x0d (PMCSR). The PCI core's walk stops below 0x40, so no D0 write.
#[test]
fn capability_pointer_into_the_header_maps_header_bytes() {
    let mut c = header(0x08);
    put(&mut c, 0x08, &[0x01, 0x00, 0x80, 0xff, 0x10, 0x81, 0x00, 0xff]);
    let v = view(&c);
    assert_eq!(diff(&c, &v), [(0x0b, 0xff, 0x07), (0x0d, 0x81, 0x00)]);
    assert_eq!(v.kept[0].offset, 0x08);
}

// ---- vfio_ecap_init -------------------------------------------------------------------------

/// `vfio_ecap_init`: "If not the first in the chain, we can skip over it: *prev &=
/// cpu_to_le32(~(0xffcU << 20)); *prev |= cpu_to_le32(val << 20);" — L1 PM Substates has no
/// `pci_ext_cap_length` entry, so AER's next skips it.
#[test]
fn extended_capability_of_unknown_length_unlinked() {
    let c = pcie(&[
        (0x100, ext(0x01, 2, 0x140)),
        (0x140, ext(0x1e, 1, 0x150)),
        (0x150, ext(0x03, 1, 0)),
    ]);
    let v = view(&c);
    assert_eq!(diff(&c, &v), [(0x103, 0x14, 0x15)]);
    assert_eq!(
        v.hidden,
        [HiddenCap {
            id: AnyCapId::Ext(ExtCapId::L1ss),
            offset: 0x140,
            placeholder: false
        }]
    );
    let kept: Vec<_> = v.kept.iter().map(|k| (k.offset, k.len)).collect();
    assert_eq!(kept, [(0x40, 0x34), (0x100, PCI_ERR_ROOT_COMMAND), (0x150, 12)]);
}

/// "Otherwise, fill in a placeholder, the direct readfn will virtualize this automatically ...
/// if (hidden) *(__le32 *)&vdev->vconfig[epos] &= cpu_to_le32((0xffcU << 20));" — a hidden first
/// entry reads ID 0, version 0, its own next pointer.
#[test]
fn hidden_first_extended_capability_kept_as_placeholder() {
    let c = pcie(&[(0x100, ext(0x1e, 1, 0x140)), (0x140, ext(0x03, 1, 0))]);
    let v = view(&c);
    assert_eq!(diff(&c, &v), [(0x100, 0x1e, 0x00), (0x102, 0x01, 0x00)]);
    assert!(v.hidden[0].placeholder);
}

/// The placeholder's map byte is its ID's low byte; for ID 0 that is PCI_CAP_ID_BASIC, for which
/// `vfio_find_cap_start` returns 0, so `vfio_direct_config_read` sees offset 0x100 (not < 4) and
/// passes the device's header through, version bits included.
#[test]
fn hidden_first_extended_capability_of_id_zero_reads_as_the_device_holds_it() {
    let c = pcie(&[(0x100, ext(0x00, 1, 0x140)), (0x140, ext(0x03, 1, 0))]);
    let v = view(&c);
    assert_eq!(diff(&c, &v), []);
    assert!(has_note(&v, "vfio_find_cap_start returns 0"));
}

/// "if (!ecaps) *(u32 *)&vdev->vconfig[PCI_CFG_SPACE_SIZE] = 0;" — nothing kept: 0x100 reads 0.
#[test]
fn no_extended_capability_kept_reads_zero_at_0x100() {
    let c = pcie(&[(0x100, ext(0x1e, 1, 0))]);
    let v = view(&c);
    assert_eq!(diff(&c, &v), [(0x100, 0x1e, 0x00), (0x102, 0x01, 0x00)]);
}

/// `vfio_ext_cap_len`: VNDR "return dword >> PCI_VSEC_HDR_LEN_SHIFT;", DVSEC "return
/// PCI_DVSEC_HEADER1_LEN(dword);", ACS 8 without egress control.
#[test]
fn vsec_dvsec_and_acs_lengths_from_their_headers() {
    let c = pcie(&[
        (0x100, ext(0x0b, 1, 0x140)),
        (0x104, 0x0180_0001),
        (0x140, ext(0x23, 1, 0x180)),
        (0x144, 0x0200_1e98),
        (0x180, ext(0x0d, 1, 0)),
    ]);
    let v = view(&c);
    let kept: Vec<_> = v.kept.iter().skip(1).map(|k| (k.offset, k.len)).collect();
    assert_eq!(kept, [(0x100, 0x18), (0x140, 0x20), (0x180, 8)]);
    assert_eq!(diff(&c, &v), []);
}

/// `vdev->extended_caps` is set only by `vfio_cap_len` for a PCI Express (or PCI-X 2.0)
/// capability; without one `vfio_ecap_init` returns at once and 0x100.. keep `unassigned_perms`.
#[test]
fn extended_chain_untouched_without_a_pcie_capability() {
    let mut c = pcie(&[(0x100, ext(0x1e, 1, 0))]);
    put(&mut c, 0x40, &[0x09, 0x00, 0x08, 0x00]);
    let v = view(&c);
    assert_eq!(diff(&c, &v), []);
    assert!(has_note(&v, "extended capabilities not virtualized"));
}

// ---- the header -----------------------------------------------------------------------------

/// `vfio_bar_fixup`: "mask = ~(pci_resource_len(pdev, bar) - 1); *vbar &= mask; *vbar |=
/// vfio_generate_bar_flags(pdev, bar);" (64-bit: the upper dword "&= mask >> 32"); "if
/// (!pci_resource_start(pdev, bar)) *vbar = 0; /* Unmapped by host = unimplemented to user */";
/// the ROM "mask |= PCI_ROM_ADDRESS_ENABLE". `pci_enable_device` turns on Memory and I/O Space.
#[test]
fn bars_and_rom_masked_by_their_sizes() {
    let mut c = header(0);
    put(&mut c, 0x10, &0xfe12_3000u32.to_le_bytes()); // BAR0: 32-bit memory, 1 MiB
    put(&mut c, 0x14, &0x2000_000cu32.to_le_bytes()); // BAR1/2: 64-bit prefetchable, 1 GiB
    put(&mut c, 0x18, &0x0000_0040u32.to_le_bytes());
    put(&mut c, 0x1c, &0x0000_e0f1u32.to_le_bytes()); // BAR3: I/O, 128 bytes
    put(&mut c, 0x20, &0x000c_4002u32.to_le_bytes()); // BAR4: memory below 1M, 16 KiB
    put(&mut c, 0x24, &0xfd00_0000u32.to_le_bytes()); // BAR5: no resource
    put(&mut c, 0x30, &0xfe00_07ffu32.to_le_bytes()); // ROM: 64 KiB
    let facts = KernelFacts {
        bar_sizes: Some([Some(1 << 20), Some(1 << 30), None, Some(0x80), Some(0x4000), None]),
        rom_size: Some(0x10000),
        ..KernelFacts::default()
    };
    let v = present(&c, &facts).unwrap();
    let dword = |at: usize| u32::from_le_bytes(v.config[at..at + 4].try_into().unwrap());
    assert_eq!(dword(0x10), 0xfe10_0000);
    assert_eq!((dword(0x14), dword(0x18)), (0x0000_000c, 0x40));
    assert_eq!(dword(0x1c), 0x0000_e081);
    assert_eq!(dword(0x20), 0x000c_4000, "the below-1M type bit is not a resource flag");
    assert_eq!(dword(0x24), 0);
    assert_eq!(dword(0x30), 0xfe00_0001);
    assert_eq!(v.config[PCI_COMMAND], (PCI_COMMAND_MEMORY | PCI_COMMAND_IO) as u8);
}

/// Without sizes the fixup cannot be computed: the BARs and ROM read as the device holds them,
/// and the notes say so. A ROM of size 0 (`!pci_resource_start`): "*vbar = 0".
#[test]
fn bars_kept_without_sizes_and_rom_zero_without_a_resource() {
    let mut c = header(0);
    put(&mut c, 0x10, &0xfe12_3000u32.to_le_bytes());
    put(&mut c, 0x30, &0xfe00_0001u32.to_le_bytes());
    let v = view(&c);
    assert_eq!(diff(&c, &v), []);
    assert!(has_note(&v, "BAR sizes not given"));
    assert!(has_note(&v, "ROM size not given"));
    let v = present(
        &c,
        &KernelFacts {
            rom_size: Some(0),
            ..KernelFacts::default()
        },
    )
    .unwrap();
    assert_eq!(diff(&c, &v), [(0x30, 0x01, 0x00), (0x33, 0xfe, 0x00)]);
}

/// `vfio_config_init`: "if (!IS_ENABLED(CONFIG_VFIO_PCI_INTX) || vdev->nointx ||
/// vdev->pdev->irq == IRQ_NOTCONNECTED) vconfig[PCI_INTERRUPT_PIN] = 0;".
#[test]
fn interrupt_pin_zero_without_intx() {
    let c = header(0);
    for facts in [
        KernelFacts {
            irq_connected: false,
            ..KernelFacts::default()
        },
        KernelFacts {
            config_vfio_pci_intx: false,
            ..KernelFacts::default()
        },
    ] {
        let v = present(&c, &facts).unwrap();
        assert_eq!(diff(&c, &v), [(PCI_INTERRUPT_PIN, 1, 0)], "{facts:?}");
    }
    // Interrupt Line is virtualized but starts as the device's value.
    assert_eq!(view(&c).config[PCI_INTERRUPT_LINE], 0x0b);
}

/// `vfio_pci_core_enable`: "if (vfio_pci_nointx(pdev)) { ... vdev->nointx = true; pci_intx(pdev,
/// 0); } else vdev->pci_2_3 = pci_intx_mask_supported(pdev); ... if (vdev->pci_2_3 && (cmd &
/// PCI_COMMAND_INTX_DISABLE)) cmd &= ~PCI_COMMAND_INTX_DISABLE;", after `pci_clear_master`.
#[test]
fn command_after_open_bus_master_and_intx_disable() {
    let mut c = header(0);
    c[PCI_COMMAND] |= PCI_COMMAND_MASTER as u8;
    c[PCI_COMMAND + 1] = (PCI_COMMAND_INTX_DISABLE >> 8) as u8;
    let v = view(&c);
    assert_eq!(diff(&c, &v), [(0x04, 0x06, 0x02), (0x05, 0x04, 0x00)]);
    // An X710 (vfio_pci_nointx): INTx Disable set, Interrupt Pin 0.
    let mut x710 = header(0);
    x710[0..4].copy_from_slice(&[0x86, 0x80, 0x72, 0x15]);
    let v = view(&x710);
    assert_eq!(diff(&x710, &v), [(0x05, 0x00, 0x04), (PCI_INTERRUPT_PIN, 1, 0)]);
    // nointxmask: neither.
    let v = present(
        &c,
        &KernelFacts {
            nointxmask: true,
            ..KernelFacts::default()
        },
    )
    .unwrap();
    assert_eq!(diff(&c, &v), [(0x04, 0x06, 0x02)]);
}

/// `vfio_config_init` for a VF: "*(__le16 *)&vconfig[PCI_VENDOR_ID] = cpu_to_le16(pdev->vendor);
/// ... vconfig[PCI_INTERRUPT_PIN] = 0;" and for `no_command_memory` "set the virtual enable bit",
/// which `vfio_basic_config_read` masks into Command reads.
#[test]
fn sriov_vf_ids_pin_and_memory_enable() {
    let mut c = header(0);
    c[0..4].copy_from_slice(&[0xff; 4]);
    c[PCI_COMMAND] = 0;
    let facts = KernelFacts {
        virtfn: Some(VirtFn {
            vendor_id: 0x15b3,
            device_id: 0x101e,
        }),
        ..KernelFacts::default()
    };
    let v = present(&c, &facts).unwrap();
    assert_eq!(
        diff(&c, &v),
        [
            (0, 0xff, 0xb3),
            (1, 0xff, 0x15),
            (2, 0xff, 0x1e),
            (3, 0xff, 0x10),
            (4, 0x00, 0x02),
            (PCI_INTERRUPT_PIN, 1, 0)
        ]
    );
}

// ---- errors ---------------------------------------------------------------------------------

/// `vfio_pci_core_register_device`: "if (pdev->hdr_type != PCI_HEADER_TYPE_NORMAL) return
/// -EINVAL;"; config sizes other than 256/4096 are not a device.
#[test]
fn refuses_bridges_and_odd_sizes() {
    let mut c = header(0);
    c[PCI_HEADER_TYPE] = 0x81;
    assert_eq!(
        present(&c, &KernelFacts::default()),
        Err(KernelLayerError::NotType0 { header_type: 1 })
    );
    assert_eq!(
        present(&c[..100], &KernelFacts::default()),
        Err(KernelLayerError::BadSize(100))
    );
}

/// `vfio_msi_cap_len`'s `pci_read_config_word(pdev, pos + PCI_MSI_FLAGS, &flags)` at an odd
/// offset fails (PCIBIOS_BAD_REGISTER_NUMBER): the device does not open. The error names it.
#[test]
fn unaligned_msi_fails_open_naming_the_offset() {
    let mut c = header(0x41);
    put(&mut c, 0x41, &[0x05, 0x00, 0x80, 0x00]);
    let e = present(&c, &KernelFacts::default()).unwrap_err();
    assert_eq!(
        e,
        KernelLayerError::UnalignedRead {
            offset: 0x43,
            width: 2,
            what: "vfio_msi_cap_len"
        }
    );
    assert!(e.to_string().contains("at 0x43"));
}

/// A capability longer than the config space would make `memset(map + pos, cap, len)` write
/// past the kernel's map: refused, naming the capability's offset.
#[test]
fn capability_past_the_end_refused() {
    let mut c = header(0xf0);
    put(&mut c, 0xf0, &[0x09, 0x00, 0x20, 0x00]);
    let e = present(&c, &KernelFacts::default()).unwrap_err();
    assert!(
        matches!(
            e,
            KernelLayerError::CapPastEnd {
                offset: 0xf0,
                len: 0x20,
                ..
            }
        ),
        "{e}"
    );
    let c = pcie(&[
        (0xff0, ext(0x0b, 1, 0)),
        (0xff4, 0x0400_0001),
        (0x100, ext(0x03, 1, 0xff0)),
    ]);
    let e = present(&c, &KernelFacts::default()).unwrap_err();
    assert!(
        matches!(
            e,
            KernelLayerError::CapPastEnd {
                offset: 0xff0,
                len: 0x40,
                ..
            }
        ),
        "{e}"
    );
    let bad = KernelFacts {
        bar_sizes: Some([Some(3), None, None, None, None, None]),
        ..KernelFacts::default()
    };
    let e = present(&header(0), &bad).unwrap_err();
    assert!(
        matches!(
            e,
            KernelLayerError::BadBarSize {
                offset: 0x10,
                size: 3,
                ..
            }
        ),
        "{e}"
    );
}

/// Whatever the bytes, `present` returns (no panic, no hang) a view as long as its input.
#[test]
fn never_panics_on_mutated_or_random_configs() {
    let mut seeds: Vec<Vec<u8>> = vec![data("data/samples/h100-firecracker/0000:00:06.0.config.bin")];
    seeds.push(data("data/samples/h100-firecracker/0000:00:03.0.config.bin"));
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for round in 0..3000 {
        let mut c = seeds[round % seeds.len()].clone();
        if round % 5 == 4 {
            c.iter_mut().for_each(|b| *b = rnd() as u8);
        }
        for _ in 0..(rnd() % 12) {
            let at = (rnd() as usize) % c.len();
            let at = if rnd() % 2 == 0 { at % 0x100 } else { at };
            c[at] = rnd() as u8;
        }
        c[PCI_HEADER_TYPE] &= 0x80;
        let facts = KernelFacts {
            bar_sizes: (rnd() % 2 == 0)
                .then(|| [0, 1, 2, 3, 4, 5].map(|_| (rnd() % 3 != 0).then(|| 1u64 << (rnd() % 40)))),
            rom_size: (rnd() % 2 == 0).then(|| 1u64 << (rnd() % 20)),
            ..KernelFacts::default()
        };
        if let Ok(v) = present(&c, &facts) {
            assert_eq!(v.config.len(), c.len());
        }
    }
}

// ---- the bundled data -----------------------------------------------------------------------

fn data(rel: &str) -> Vec<u8> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The H100's BARs as `pcimig/tests/vfio_qemu.rs` gives them: 16 MiB, 64 GiB, 32 MiB.
const H100_BARS: [Option<u64>; 6] = [Some(16 << 20), None, Some(64 << 30), None, Some(32 << 20), None];

/// The bundled H100 (a Firecracker guest's view: its hidden extended capabilities already read
/// ID 0). Linux 6.12 keeps PM, MSI (24 bytes: 64-bit, per-vector masking), PCIe (v2 endpoint,
/// 0x34) and MSI-X; LTR, AER, the VSEC (0x14 from its header), Power Budgeting and DSN; it hides
/// the ID-0 entries at 0x134, 0x248 and 0x250 by re-linking LTR to 0x1b8 and AER to 0x2a4 and
/// keeps 0x100 as a placeholder that reads as the device holds it. Opening it clears Bus Master
/// and INTx Disable; the BARs' address bits are already size-aligned.
#[test]
fn h100_sample_through_the_kernel_layer() {
    let phys = data("data/samples/h100-firecracker/0000:00:06.0.config.bin");
    let facts = KernelFacts {
        bar_sizes: Some(H100_BARS),
        ..KernelFacts::default()
    };
    let v = present(&phys, &facts).unwrap();
    let kept: Vec<_> = v.kept.iter().map(|k| (k.id, k.offset, k.len)).collect();
    use AnyCapId::{Ext, Std};
    assert_eq!(
        kept,
        [
            (Std(CapId::Pm), 0x40, 8),
            (Std(CapId::Msi), 0x48, 0x18),
            (Std(CapId::Exp), 0x60, 0x34),
            (Std(CapId::Msix), 0xb0, 12),
            (Ext(ExtCapId::Ltr), 0x12c, 8),
            (Ext(ExtCapId::Err), 0x1b8, 0x2c),
            (Ext(ExtCapId::Vndr), 0x2a4, 0x14),
            (Ext(ExtCapId::Pwr), 0x2b8, 0x10),
            (Ext(ExtCapId::Dsn), 0x2f0, 12),
        ]
    );
    let hidden: Vec<_> = v.hidden.iter().map(|h| (h.offset, h.placeholder)).collect();
    assert_eq!(hidden, [(0x100, true), (0x134, false), (0x248, false), (0x250, false)]);
    assert_eq!(
        diff(&phys, &v),
        [
            (0x04, 0x06, 0x02),
            (0x05, 0x04, 0x00),
            (0x12e, 0x41, 0x81),
            (0x12f, 0x13, 0x1b),
            (0x1ba, 0x82, 0x42),
            (0x1bb, 0x24, 0x2a)
        ]
    );
    // The view feeds QEMU's virtualization as a physical config would.
    let opts = VfioOptions {
        bar_sizes: Some(H100_BARS),
        ..VfioOptions::default()
    };
    virtualize(&v.config, &opts).unwrap();
    assert_eq!(
        pcimig_vfio::kernel::KernelFacts::from_vfio_options(&opts).bar_sizes,
        Some(H100_BARS)
    );
}

/// Every bundled image opens, and in every view each capability reachable from 0x34 and 0x100 is
/// one the kernel kept (or the placeholder at 0x100).
#[test]
fn bundled_images_chains_hold_only_kept_capabilities() {
    let files = [
        "data/demo/h100-gpu0.bin",
        "data/demo/h100-gpu1.bin",
        "data/demo/vgpu-host-a-r550.bin",
        "data/demo/vgpu-host-b-r570-other-type.bin",
        "data/demo/vgpu-host-b-r570-vsc-len.bin",
        "data/demo/vgpu-host-b-r570.bin",
        "data/samples/h100-firecracker/0000:00:00.0.config.bin",
        "data/samples/h100-firecracker/0000:00:01.0.config.bin",
        "data/samples/h100-firecracker/0000:00:03.0.config.bin",
        "data/samples/h100-firecracker/0000:00:04.0.config.bin",
        "data/samples/h100-firecracker/0000:00:05.0.config.bin",
        "data/samples/h100-firecracker/0000:00:06.0.config.bin",
    ];
    for f in files {
        let phys = data(f);
        if phys[PCI_HEADER_TYPE] & 0x7f != 0 {
            assert!(matches!(
                present(&phys, &KernelFacts::default()),
                Err(KernelLayerError::NotType0 { .. })
            ));
            continue;
        }
        let v = present(&phys, &KernelFacts::default()).unwrap_or_else(|e| panic!("{f}: {e}"));
        let kept: Vec<usize> = v.kept.iter().map(|k| k.offset).collect();
        let mut pos = usize::from(v.config[PCI_CAPABILITY_LIST]);
        for _ in 0..48 {
            if pos == 0 {
                break;
            }
            assert!(kept.contains(&pos), "{f}: {pos:#x} reachable but not kept");
            pos = usize::from(v.config[pos + 1]);
        }
        if v.config.len() > PCI_CONFIG_SPACE_SIZE && v.kept.iter().any(|k| matches!(k.id, AnyCapId::Ext(_))) {
            let mut epos = PCI_CONFIG_SPACE_SIZE;
            for _ in 0..960 {
                if epos == 0 {
                    break;
                }
                let header = u32::from_le_bytes(v.config[epos..epos + 4].try_into().unwrap());
                assert!(
                    kept.contains(&epos) || epos == PCI_CONFIG_SPACE_SIZE,
                    "{f}: {epos:#x} reachable but not kept"
                );
                epos = pci_ext_cap_next(header);
            }
        }
    }
}
