//! Who set a mask: the QEMU function that added a capability ([`Preset`]) and the policy that
//! exempted bytes from the restore check ([`ExemptPolicy`]). Both are closed vocabularies, so a
//! report can name the exact QEMU function or property behind any byte.

use std::fmt;

macro_rules! named_enum {
    (
        $(#[$meta:meta])*
        $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
        pub enum $name {
            $(
                $(#[$vmeta])*
                #[cfg_attr(feature = "serde", serde(rename = $text))]
                $variant,
            )*
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// The name, as reports and JSON spell it.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )*
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| format!("unknown {} '{s}'", stringify!($name)))
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }
    };
}

named_enum! {
    /// The QEMU 10.0.2 function that added a capability (and set its masks), recorded in
    /// [`CapRecord::preset`](crate::CapRecord::preset). Displays as the function's name.
    Preset {
        /// hw/pci/pci.c pci_add_capability, called directly (no init helper).
        PciAddCapability = "pci_add_capability",
        /// hw/pci/pcie.c pcie_add_capability, called directly (no init helper).
        PcieAddCapability = "pcie_add_capability",
        /// hw/pci/pci.c pci_pm_init.
        PciPmInit = "pci_pm_init",
        /// hw/pci/msi.c msi_init.
        MsiInit = "msi_init",
        /// hw/pci/msix.c msix_init.
        MsixInit = "msix_init",
        /// hw/pci/pcie.c pcie_cap_init.
        PcieCapInit = "pcie_cap_init",
        /// hw/pci/pcie.c pcie_cap_v1_init.
        PcieCapV1Init = "pcie_cap_v1_init",
        /// hw/pci/pcie_aer.c pcie_aer_init.
        PcieAerInit = "pcie_aer_init",
        /// hw/pci/pcie.c pcie_ats_init.
        PcieAtsInit = "pcie_ats_init",
        /// hw/pci/pcie.c pcie_acs_init.
        PcieAcsInit = "pcie_acs_init",
        /// hw/pci/pcie.c pcie_ari_init.
        PcieAriInit = "pcie_ari_init",
        /// hw/pci/pcie.c pcie_dev_ser_num_init.
        PcieDevSerNumInit = "pcie_dev_ser_num_init",
        /// hw/pci/pci_bridge.c pci_bridge_ssvid_init.
        PciBridgeSsvidInit = "pci_bridge_ssvid_init",
        /// hw/pci/pci_bridge.c pci_bridge_qemu_reserve_cap_init.
        PciBridgeQemuReserveCapInit = "pci_bridge_qemu_reserve_cap_init",
        /// hw/pci/shpc.c shpc_cap_add_config.
        ShpcCapAddConfig = "shpc_cap_add_config",
        /// hw/pci/slotid_cap.c slotid_cap_init.
        SlotidCapInit = "slotid_cap_init",
        /// hw/ide/ich.c pci_ich9_ahci_realize (the SATA capability).
        PciIch9AhciRealize = "pci_ich9_ahci_realize",
        /// hw/virtio/virtio-pci.c virtio_pci_add_mem_cap.
        VirtioPciAddMemCap = "virtio_pci_add_mem_cap",
        /// hw/vfio/pci.c vfio_add_std_cap (a capability vfio copies as it is).
        VfioAddStdCap = "vfio_add_std_cap",
        /// hw/vfio/pci.c vfio_add_vendor_specific_cap (where skip-vsc-check applies).
        VfioAddVendorSpecificCap = "vfio_add_vendor_specific_cap",
        /// hw/vfio/pci.c vfio_setup_pcie_cap.
        VfioSetupPcieCap = "vfio_setup_pcie_cap",
        /// hw/vfio/pci.c vfio_add_ext_cap.
        VfioAddExtCap = "vfio_add_ext_cap",
        /// hw/vfio/pci-quirks.c vfio_add_nv_gpudirect_cap.
        VfioAddNvGpudirectCap = "vfio_add_nv_gpudirect_cap",
        /// hw/vfio/pci-quirks.c vfio_add_vmd_shadow_cap.
        VfioAddVmdShadowCap = "vfio_add_vmd_shadow_cap",
    }
}

named_enum! {
    /// The policy behind an [`Exemption`](crate::Exemption): why a byte range's cmask was
    /// cleared. Displays (and serializes) as the property or option name.
    ExemptPolicy {
        /// QEMU's vfio-pci `skip-vsc-check` property (on by default since 9.1): the payload of a
        /// standard Vendor Specific Capability after its 3-byte header is not checked.
        SkipVscCheck = "skip-vsc-check",
        /// pcimig's opt-in `--exempt-ext-vendor` policy: the payload of extended vendor-specific
        /// capabilities (VSEC, DVSEC) after their headers is not checked. Stock QEMU checks it.
        ExemptExtVendor = "exempt-ext-vendor",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_compare_with_strings() {
        for p in Preset::ALL {
            assert_eq!(p.as_str().parse::<Preset>().unwrap(), *p);
        }
        assert_eq!(
            Preset::VfioAddVendorSpecificCap.to_string(),
            "vfio_add_vendor_specific_cap"
        );
        assert_eq!(ExemptPolicy::SkipVscCheck, "skip-vsc-check");
        assert_eq!(ExemptPolicy::ExemptExtVendor.as_str(), "exempt-ext-vendor");
        assert!("no-such-policy".parse::<ExemptPolicy>().is_err());
    }
}
