//! Capability IDs of the standard (`PCI_CAP_ID_*`) and extended (`PCI_EXT_CAP_ID_*`) lists.
//!
//! Conversions from the raw ID are lossless: an ID this crate has no name for is kept as
//! [`CapId::Other`] / [`ExtCapId::Other`] with its value.

use std::fmt;

macro_rules! cap_ids {
    (
        $(#[$meta:meta])*
        $name:ident: $repr:ty {
            $( $(#[$vmeta:meta])* $variant:ident = $value:expr, $text:expr; )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )*
            /// An ID without a name here, kept as its value.
            Other($repr),
        }

        impl From<$repr> for $name {
            fn from(v: $repr) -> Self {
                match v {
                    $( $value => $name::$variant, )*
                    other => $name::Other(other),
                }
            }
        }

        impl From<$name> for $repr {
            fn from(id: $name) -> $repr {
                match id {
                    $( $name::$variant => $value, )*
                    $name::Other(v) => v,
                }
            }
        }

        impl $name {
            /// The raw ID value.
            pub fn value(self) -> $repr {
                self.into()
            }

            /// The capability's name as pciutils prints it, or `None` for an unnamed ID.
            pub fn known_name(self) -> Option<&'static str> {
                match self {
                    $( $name::$variant => Some($text), )*
                    $name::Other(_) => None,
                }
            }
        }
    };
}

cap_ids! {
    /// A standard capability ID (`PCI_CAP_ID_*`), the byte at offset 0 of a capability in
    /// 0x40..0xff.
    CapId: u8 {
        /// Null capability.
        Null = 0x00, "Null";
        /// Power Management.
        Pm = 0x01, "Power Management";
        /// Accelerated Graphics Port.
        Agp = 0x02, "AGP";
        /// Vital Product Data.
        Vpd = 0x03, "Vital Product Data";
        /// Slot identification.
        SlotId = 0x04, "Slot ID";
        /// Message Signalled Interrupts.
        Msi = 0x05, "MSI";
        /// CompactPCI hot swap.
        Chswp = 0x06, "CompactPCI hot-swap";
        /// PCI-X.
        Pcix = 0x07, "PCI-X";
        /// HyperTransport.
        Ht = 0x08, "HyperTransport";
        /// Vendor Specific Capability (VSC).
        Vndr = 0x09, "Vendor Specific";
        /// Debug port.
        Dbg = 0x0a, "Debug port";
        /// CompactPCI central resource control.
        Ccrc = 0x0b, "CompactPCI central resource control";
        /// PCI standard hot-plug controller.
        Shpc = 0x0c, "Hot-plug capable";
        /// Bridge subsystem vendor/device ID.
        Ssvid = 0x0d, "Subsystem";
        /// AGP 8x.
        Agp3 = 0x0e, "AGP3";
        /// Secure device.
        Secdev = 0x0f, "Secure device";
        /// PCI Express.
        Exp = 0x10, "Express";
        /// MSI-X.
        Msix = 0x11, "MSI-X";
        /// SATA index/data pair.
        Sata = 0x12, "SATA HBA";
        /// PCI Advanced Features.
        Af = 0x13, "PCI Advanced Features";
        /// Enhanced Allocation.
        Ea = 0x14, "Enhanced Allocation";
        /// Flattening Portal Bridge.
        Fpb = 0x15, "Flattening Portal Bridge";
    }
}

cap_ids! {
    /// An extended capability ID (`PCI_EXT_CAP_ID_*`), bits 15:0 of a header dword at 0x100 and
    /// above.
    ExtCapId: u16 {
        /// Null (ID 0: a capability the host hides, or QEMU's stub at 0x100).
        Null = 0x0000, "Null";
        /// Advanced Error Reporting.
        Err = 0x0001, "Advanced Error Reporting";
        /// Virtual Channel.
        Vc = 0x0002, "Virtual Channel";
        /// Device Serial Number.
        Dsn = 0x0003, "Device Serial Number";
        /// Power Budgeting.
        Pwr = 0x0004, "Power Budgeting";
        /// Root Complex Link Declaration.
        Rcld = 0x0005, "Root Complex Link";
        /// Root Complex Internal Link Control.
        Rcilc = 0x0006, "Root Complex Internal Link Control";
        /// Root Complex Event Collector endpoint association.
        Rcec = 0x0007, "Root Complex Event Collector";
        /// Multi-Function Virtual Channel.
        Mfvc = 0x0008, "Multi-Function Virtual Channel";
        /// Virtual Channel (alternate ID).
        Vc9 = 0x0009, "Virtual Channel";
        /// Root Complex Register Block.
        Rcrb = 0x000a, "Root Complex Register Block";
        /// Vendor-Specific Extended Capability (VSEC).
        Vndr = 0x000b, "Vendor Specific Information";
        /// Config Access Correlation.
        Cac = 0x000c, "Config Access Correlation";
        /// Access Control Services.
        Acs = 0x000d, "Access Control Services";
        /// Alternative Routing-ID Interpretation.
        Ari = 0x000e, "Alternative Routing-ID Interpretation (ARI)";
        /// Address Translation Services.
        Ats = 0x000f, "Address Translation Service (ATS)";
        /// Single Root I/O Virtualization.
        Sriov = 0x0010, "Single Root I/O Virtualization (SR-IOV)";
        /// Multi Root I/O Virtualization.
        Mriov = 0x0011, "Multi-Root I/O Virtualization (MR-IOV)";
        /// Multicast.
        Mcast = 0x0012, "Multicast";
        /// Page Request Interface.
        Pri = 0x0013, "Page Request Interface (PRI)";
        /// Reserved for AMD.
        AmdXxx = 0x0014, "Reserved for AMD";
        /// Resizable BAR.
        Rebar = 0x0015, "Physical Resizable BAR";
        /// Dynamic Power Allocation.
        Dpa = 0x0016, "Dynamic Power Allocation";
        /// TPH Requester.
        Tph = 0x0017, "Transaction Processing Hints";
        /// Latency Tolerance Reporting.
        Ltr = 0x0018, "Latency Tolerance Reporting";
        /// Secondary PCI Express.
        Secpci = 0x0019, "Secondary PCI Express";
        /// Protocol Multiplexing.
        Pmux = 0x001a, "Protocol Multiplexing";
        /// Process Address Space ID.
        Pasid = 0x001b, "Process Address Space ID (PASID)";
        /// LN Requester.
        Lnr = 0x001c, "LN Requester";
        /// Downstream Port Containment.
        Dpc = 0x001d, "Downstream Port Containment";
        /// L1 PM Substates.
        L1ss = 0x001e, "L1 PM Substates";
        /// Precision Time Measurement.
        Ptm = 0x001f, "Precision Time Measurement";
        /// PCI Express over M-PHY.
        Mpcie = 0x0020, "PCI Express over M_PHY";
        /// FRS Queueing.
        Frs = 0x0021, "FRS Queueing";
        /// Readiness Time Reporting.
        Rtr = 0x0022, "Readiness Time Reporting";
        /// Designated Vendor-Specific Extended Capability (DVSEC).
        Dvsec = 0x0023, "Designated Vendor-Specific";
        /// VF Resizable BAR.
        VfRebar = 0x0024, "VF Resizable BAR";
        /// Data Link Feature.
        Dlf = 0x0025, "Data Link Feature";
        /// Physical Layer 16.0 GT/s.
        Pl16gt = 0x0026, "Physical Layer 16.0 GT/s";
        /// Lane Margining at the Receiver.
        Lmr = 0x0027, "Lane Margining at the Receiver";
        /// Hierarchy ID.
        HierId = 0x0028, "Hierarchy ID";
        /// Native PCIe Enclosure Management.
        Npem = 0x0029, "Native PCIe Enclosure Management";
        /// Physical Layer 32.0 GT/s.
        Pl32gt = 0x002a, "Physical Layer 32.0 GT/s";
        /// Alternate Protocol.
        AltProto = 0x002b, "Alternate Protocol";
        /// System Firmware Intermediary.
        Sfi = 0x002c, "System Firmware Intermediary";
        /// Data Object Exchange.
        Doe = 0x002e, "Data Object Exchange";
        /// Integrity and Data Encryption.
        Ide = 0x0030, "Integrity & Data Encryption";
        /// Physical Layer 64.0 GT/s.
        Pl64gt = 0x0031, "Physical Layer 64.0 GT/s";
    }
}

impl CapId {
    /// The name used in reports: the pciutils name, with the ID for vendor-specific and unnamed
    /// capabilities (`Vendor Specific (09)`, `Capability 0x1f`).
    pub fn display_name(self) -> String {
        match self {
            CapId::Vndr => "Vendor Specific (09)".to_string(),
            CapId::Exp => "PCI Express".to_string(),
            CapId::Other(v) => format!("Capability 0x{v:02x}"),
            other => other.known_name().unwrap_or("?").to_string(),
        }
    }
}

impl ExtCapId {
    /// The name used in reports, with the ID for vendor-specific and unnamed capabilities.
    pub fn display_name(self) -> String {
        match self {
            ExtCapId::Vndr => "Vendor Specific Extended (000b)".to_string(),
            ExtCapId::Dvsec => "Designated Vendor-Specific (0023)".to_string(),
            ExtCapId::Other(v) => format!("Extended Capability 0x{v:04x}"),
            other => other.known_name().unwrap_or("?").to_string(),
        }
    }
}

/// A capability ID of either list: standard (`PCI_CAP_ID_*`) or extended (`PCI_EXT_CAP_ID_*`).
/// What a [`CapRecord`](crate::CapRecord) or a [`CapLocation`](crate::CapLocation) names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum AnyCapId {
    /// A standard capability (0x40..0x100).
    Std(CapId),
    /// An extended capability (0x100..0x1000).
    Ext(ExtCapId),
}

impl AnyCapId {
    /// The ID from its raw value and the list it is on.
    pub fn from_raw(id: u16, extended: bool) -> Self {
        if extended {
            AnyCapId::Ext(ExtCapId::from(id))
        } else {
            AnyCapId::Std(CapId::from(id as u8))
        }
    }

    /// The raw ID value (8-bit standard IDs widened).
    pub fn value(self) -> u16 {
        match self {
            AnyCapId::Std(id) => u16::from(id.value()),
            AnyCapId::Ext(id) => id.value(),
        }
    }

    /// On the extended list.
    pub fn is_extended(self) -> bool {
        matches!(self, AnyCapId::Ext(_))
    }

    /// The standard ID, if it is one.
    pub fn std(self) -> Option<CapId> {
        match self {
            AnyCapId::Std(id) => Some(id),
            AnyCapId::Ext(_) => None,
        }
    }

    /// The extended ID, if it is one.
    pub fn ext(self) -> Option<ExtCapId> {
        match self {
            AnyCapId::Ext(id) => Some(id),
            AnyCapId::Std(_) => None,
        }
    }

    /// The name used in reports ([`CapId::display_name`], [`ExtCapId::display_name`]).
    pub fn display_name(self) -> String {
        match self {
            AnyCapId::Std(id) => id.display_name(),
            AnyCapId::Ext(id) => id.display_name(),
        }
    }
}

impl From<CapId> for AnyCapId {
    fn from(id: CapId) -> Self {
        AnyCapId::Std(id)
    }
}

impl From<ExtCapId> for AnyCapId {
    fn from(id: ExtCapId) -> Self {
        AnyCapId::Ext(id)
    }
}

impl fmt::Display for AnyCapId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display_name())
    }
}

impl fmt::Display for CapId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display_name())
    }
}

impl fmt::Display for ExtCapId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_are_lossless_for_every_value() {
        for v in 0..=u8::MAX {
            assert_eq!(u8::from(CapId::from(v)), v);
        }
        for v in 0..=0x40u16 {
            assert_eq!(u16::from(ExtCapId::from(v)), v);
        }
        assert_eq!(CapId::from(0x09), CapId::Vndr);
        assert_eq!(ExtCapId::from(0x23), ExtCapId::Dvsec);
        assert_eq!(CapId::from(0x7f), CapId::Other(0x7f));
        for v in 0..=u8::MAX {
            assert_eq!(AnyCapId::from_raw(u16::from(v), false).value(), u16::from(v));
        }
        assert_eq!(AnyCapId::from_raw(0x23, true), AnyCapId::Ext(ExtCapId::Dvsec));
        assert!(!AnyCapId::from(CapId::Vndr).is_extended());
    }

    #[test]
    fn report_names_carry_the_vendor_specific_id() {
        assert_eq!(CapId::Vndr.display_name(), "Vendor Specific (09)");
        assert_eq!(CapId::Msix.display_name(), "MSI-X");
        assert_eq!(CapId::Other(0x33).display_name(), "Capability 0x33");
    }
}
