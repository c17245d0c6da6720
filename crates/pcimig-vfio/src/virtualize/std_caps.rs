//! vfio_add_capabilities and the standard chain: vfio_add_std_cap (recursive, so the rebuilt
//! chain keeps the physical order) and the setup of each capability it recognizes.

use super::{physical_std_chain, Realize};
use crate::VfioError;
use pcimig_config::le;
use pcimig_config::regs::*;
use pcimig_config::{CapId, ConfigError, ConfigSpace, ExemptPolicy, Preset};

/// vfio_std_cap_max_size: distance from `pos` to the smallest capability offset above it on the
/// current list, or to 0x100.
fn vfio_std_cap_max_size(space: &ConfigSpace, pos: usize) -> usize {
    let next = space
        .std_capabilities()
        .iter()
        .map(|e| e.offset)
        .filter(|&o| o > pos)
        .min()
        .unwrap_or(PCI_CONFIG_SPACE_SIZE);
    next - pos
}

/// QEMU's error_prepend in vfio_add_std_cap: `failed to add PCI capability 0x..[0x..]@0x..: `.
fn add_cap_error(cap_id: CapId, size: usize, pos: usize, reason: String) -> VfioError {
    VfioError::AddCapability {
        cap_id: cap_id.value(),
        size,
        pos,
        reason,
    }
}

impl Realize<'_> {
    /// vfio_add_capabilities: the standard chain rebuilt (vfio_add_std_cap from its head), then
    /// the extended one (vfio_add_ext_cap). Without a standard chain QEMU adds neither.
    pub(super) fn vfio_add_capabilities(&mut self) -> Result<(), VfioError> {
        // QEMU descends pdev->config as it stands now: BARs and ROM already emulated.
        self.physical_std_caps = physical_std_chain(self.space.config())?;
        if self.physical_std_caps.is_empty() {
            self.notes
                .push("no standard capability list: QEMU adds no capabilities, and no extended ones either".into());
            return Ok(());
        }
        self.vfio_add_std_cap(0)?;
        self.vfio_add_ext_cap()
    }

    /// vfio_add_std_cap for the `i`-th capability of the physical chain: its size is computed
    /// on the way down (on the physical list), the rest of the chain is added first (the tail
    /// clears the list and adds vfio_add_virt_caps), then this capability is added at the head,
    /// its size scaled down to what the list now leaves it.
    fn vfio_add_std_cap(&mut self, i: usize) -> Result<(), VfioError> {
        let entry = self.physical_std_caps[i];
        let pos = entry.offset;
        let size = vfio_std_cap_max_size(&self.space, pos);
        if i + 1 < self.physical_std_caps.len() {
            self.vfio_add_std_cap(i + 1)?;
        } else {
            self.space.config_mut()[PCI_CAPABILITY_LIST] = 0;
            self.vfio_add_virt_caps()?;
        }
        let size = size.min(vfio_std_cap_max_size(&self.space, pos));
        let cap_id = CapId::from(entry.id as u8);
        let fail = |reason: String| add_cap_error(cap_id, size, pos, reason);
        match cap_id {
            CapId::Msi => self.vfio_msi_setup(pos).map_err(fail),
            CapId::Exp => self.vfio_setup_pcie_cap(pos, size).map_err(|e| match e {
                VfioError::AddCapability { .. } => e,
                other => fail(other.to_string()),
            }),
            CapId::Msix => self.vfio_msix_setup(pos).map_err(fail),
            CapId::Pm => self.vfio_pm_init(pos).map_err(|e| fail(e.to_string())),
            CapId::Vndr => self.vfio_add_vendor_specific_cap(pos, size),
            _ => self
                .pci_add_capability(cap_id, pos, size, Preset::VfioAddStdCap)
                .map_err(|e| fail(e.to_string())),
        }
    }

    /// pci_add_capability with an explicit offset: [`ConfigSpace::add_capability`], or inside
    /// the header (reached through a pointer into it) [`ConfigSpace::add_capability_in_header`]:
    /// QEMU checks only for overlap, so the capability lands over header registers.
    fn pci_add_capability(
        &mut self,
        cap_id: CapId,
        pos: usize,
        size: usize,
        preset: Preset,
    ) -> Result<(), ConfigError> {
        if pos >= PCI_CONFIG_HEADER_SIZE {
            return self.space.add_capability(cap_id, pos, size, preset).map(drop);
        }
        self.space.add_capability_in_header(cap_id, pos, size, preset)?;
        self.header_cap_note(cap_id, pos, size);
        Ok(())
    }

    /// pci_pm_init (vfio_add_std_cap's PM case: PMCSR power state writable), over header
    /// registers when the pointer leads into the header. Before QEMU 10.0 the case was a plain
    /// pci_add_capability: PMCSR stays read-only and checked (10.0's "pci: Use PCI PM capability
    /// initializer", Alex Williamson, added the wmask).
    fn vfio_pm_init(&mut self, pos: usize) -> Result<(), ConfigError> {
        let state_writable = self.opts.qemu.at_least(10, 0);
        if pos >= PCI_CONFIG_HEADER_SIZE {
            return self.space.pm_init(pos, state_writable).map(drop);
        }
        self.space.pm_init_in_header(pos, state_writable)?;
        self.header_cap_note(CapId::Pm, pos, PCI_PM_SIZEOF);
        Ok(())
    }

    /// The note for a capability QEMU adds over header registers.
    fn header_cap_note(&mut self, cap_id: CapId, pos: usize, size: usize) {
        self.notes.push(format!(
            "capability pointer into the header: QEMU adds capability {:#04x} at {pos:#04x} over {size:#x} bytes of header registers (read-only and checked from there)",
            cap_id.value()
        ));
    }

    /// vfio_msi_setup: msi_init with the physical flags (vector count, 64-bit, per-vector
    /// masking). Returns QEMU's message on failure.
    fn vfio_msi_setup(&mut self, pos: usize) -> Result<(), String> {
        let ctrl = le::word(self.physical, pos + PCI_MSI_FLAGS);
        let mmc = (ctrl & PCI_MSI_FLAGS_QMASK) >> PCI_MSI_FLAGS_QMASK_SHIFT;
        if 1u32 << mmc > PCI_MSI_VECTORS_MAX {
            return Err(format!(
                "msi_init: Multiple Message Capable {mmc} ({} vectors) is reserved: QEMU asserts at most 32 vectors",
                1u32 << mmc
            ));
        }
        self.space
            .msi_init(
                pos,
                1 << mmc,
                ctrl & PCI_MSI_FLAGS_64BIT != 0,
                ctrl & PCI_MSI_FLAGS_MASKBIT != 0,
            )
            .map(drop)
            .map_err(|e| format!("msi_init failed: {e}"))
    }

    /// vfio_msix_setup: msix_init with the layout vfio_msix_early_setup found (and the BAR
    /// sizes, when given, for msix_init's placement checks). Returns QEMU's message on failure.
    fn vfio_msix_setup(&mut self, pos: usize) -> Result<(), String> {
        // The chain walked here (over the emulated header) can reach an MSI-X capability that
        // vfio_msix_early_setup's walk of the physical chain did not (a broken physical chain).
        let Some(mut layout) = self.msix else {
            return Err(format!(
                "MSI-X at {pos:#04x} is not on the physical capability chain vfio_msix_early_setup walked: no MSI-X layout"
            ));
        };
        if self.opts.bar_sizes.is_some() {
            // A BIR of 6 or 7 names no BAR: size 0, which msix_init's placement check refuses.
            let size = |bar: u8| self.bar_sizes.get(usize::from(bar)).copied().flatten().unwrap_or(0);
            let (t, p) = (size(layout.table_bar), size(layout.pba_bar));
            layout.bar_sizes = Some((t, p));
        }
        self.space.msix_init(pos, &layout).map(drop).map_err(|e| match e {
            ConfigError::InvalidPreset { why, .. } => why,
            other => other.to_string(),
        })
    }

    /// vfio_add_vendor_specific_cap: the VSC added with pci_add_capability over `size` bytes
    /// (fully checked); with `skip-vsc-check` on, cmask cleared over `pos + 3 .. pos + size`
    /// (recorded as an exemption naming the policy): the 3-byte header stays checked.
    fn vfio_add_vendor_specific_cap(&mut self, pos: usize, size: usize) -> Result<(), VfioError> {
        self.pci_add_capability(CapId::Vndr, pos, size, Preset::VfioAddVendorSpecificCap)
            .map_err(|e| add_cap_error(CapId::Vndr, size, pos, e.to_string()))?;
        if self.skip.value && size > PCI_VNDR_CAP_HEADER_SIZEOF {
            let end = pos + size;
            let next = if end == PCI_CONFIG_SPACE_SIZE {
                "end of standard space".to_string()
            } else {
                format!("{end:#04x}")
            };
            let reason = format!(
                "Vendor Specific (09) @{pos:#04x}: payload after the 3-byte header, up to the next capability ({next}; {})",
                self.skip.reason
            );
            self.space.exempt(
                pos + PCI_VNDR_CAP_HEADER_SIZEOF..end,
                ExemptPolicy::SkipVscCheck,
                &reason,
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MachineType, VfioOptions};
    use pcimig_testkit::Phys;

    fn machine(name: &str) -> VfioOptions {
        VfioOptions {
            machine: MachineType::parse(name).unwrap(),
            ..VfioOptions::default()
        }
    }

    /// vfio_add_vendor_specific_cap on a bare device: the VSC added at `pos` over `size` bytes.
    fn add_vsc(opts: &VfioOptions, pos: usize, size: usize) -> ConfigSpace {
        let phys = Phys::new(PCI_CONFIG_SPACE_SIZE).build();
        let mut vdev = Realize::new(&phys, opts).unwrap();
        vdev.vfio_add_vendor_specific_cap(pos, size).unwrap();
        vdev.space
    }

    #[test]
    fn vsc_payload_is_exempt_by_skip_vsc_check_and_the_policy_is_recorded() {
        let s = add_vsc(&machine("pc-q35-9.1"), 0x40, 0x20);
        assert!(
            s.cmask()[0x43..0x60].iter().all(|&c| c == 0),
            "payload pos+3..pos+size unchecked"
        );
        let ex = s.exemptions();
        assert_eq!(ex.len(), 1);
        assert_eq!((ex[0].start, ex[0].end), (0x43, 0x60));
        assert_eq!(ex[0].policy, ExemptPolicy::SkipVscCheck);
        assert!(ex[0].reason.contains("Vendor Specific (09) @0x40"), "{}", ex[0].reason);
    }

    #[test]
    fn vsc_header_bytes_0_to_3_stay_checked() {
        let s = add_vsc(&machine("pc-q35-9.1"), 0x40, 0x20);
        assert_eq!(&s.checked()[0x40..0x43], &[0xff, 0xff, 0xff]);
        assert_eq!(s.config()[0x40], CapId::Vndr.value());
    }

    #[test]
    fn vsc_with_skip_vsc_check_off_is_fully_checked() {
        let s = add_vsc(&machine("pc-q35-9.0"), 0x40, 0x20);
        assert!(s.checked()[0x40..0x60].iter().all(|&c| c == 0xff));
        assert!(s.exemptions().is_empty());
        let explicit_off = VfioOptions {
            skip_vsc_check: Some(false),
            ..machine("pc-q35-10.0")
        };
        assert!(add_vsc(&explicit_off, 0x40, 0x20).exemptions().is_empty());
    }

    #[test]
    fn vsc_size_is_the_distance_to_the_next_capability() {
        // VSC at 0x40 (length byte 0x08) followed by a capability at 0x58: QEMU sizes it 0x18.
        let p = Phys::new(PCI_CONFIG_SPACE_SIZE)
            .cap(0x40, CapId::Vndr, &[0x08])
            .cap(0x58, CapId::Vndr, &[0x03])
            .build();
        let d = crate::virtualize(&p, &machine("pc-q35-9.1")).unwrap();
        let mut ex = d.space.exemptions().to_vec();
        ex.sort_by_key(|e| e.start);
        assert_eq!((ex[0].start, ex[0].end), (0x43, 0x58));
        assert!(
            ex[0].reason.contains("up to the next capability (0x58;"),
            "{}",
            ex[0].reason
        );
        // The last VSC runs to the end of standard space.
        assert_eq!((ex[1].start, ex[1].end), (0x5b, 0x100));
    }

    #[test]
    fn vsc_of_length_3_has_no_payload_to_exempt() {
        let s = add_vsc(&machine("pc-q35-9.1"), 0x40, 3);
        assert!(s.exemptions().is_empty());
        assert_eq!(&s.checked()[0x40..0x43], &[0xff, 0xff, 0xff]);
        assert_eq!(s.checked()[0x43], 0);
    }

    /// PMCSR's power state: writable (unchecked) from QEMU 10.0, read-only and checked before.
    #[test]
    fn pmcsr_power_state_is_checked_before_qemu_10_0() {
        let p = Phys::new(PCI_CONFIG_SPACE_SIZE)
            .cap(0x40, CapId::Pm, &[0x03, 0x00, 0x00, 0x00])
            .build();
        let state_checked = |qemu: &str| {
            let opts = VfioOptions {
                qemu: crate::QemuVersion::parse(qemu).unwrap(),
                ..VfioOptions::default()
            };
            crate::virtualize(&p, &opts).unwrap().space.checked()[0x40 + PCI_PM_CTRL] & 0x03
        };
        assert_eq!(state_checked("9.2"), 0x03);
        assert_eq!(state_checked("7.2.22"), 0x03);
        assert_eq!(state_checked("10.0.2"), 0x00);
        assert_eq!(state_checked("11.1"), 0x00);
    }
}
