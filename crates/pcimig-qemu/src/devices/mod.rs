//! The emulated-device table: QEMU's PCI device models as the destination of a restore, as the
//! destination's QEMU version ([`Destination::qemu`], 7.2 … 11.1) realizes them.
//!
//! Given a destination device's *current* config bytes (from a stream saved by the freshly
//! started destination VM), its section idstr and the machine type, [`build_destination`] returns
//! a [`ConfigSpace`] whose config is those bytes and whose cmask/wmask/w1cmask are what the
//! device's realize in the destination's QEMU sets (10.0.2's functions, with the differences
//! of other versions listed in `docs/qemu-versions.md`): `do_pci_register_device`'s header masks, then the
//! device's own BAR registrations and capability init helpers, in QEMU's order, with the compat
//! properties of the machine type applied. The restore check of a saved config against that space
//! is then exactly QEMU's `get_pci_config_device`.
//!
//! Where a property changes the layout (number of MSI/MSI-X vectors, optional AER/ATS/ACS, SHPC,
//! modern/legacy virtio), the table reads it back from the destination's own config bytes; where it
//! changes only masks and cannot be seen in the bytes, the machine type's default is used (see
//! `docs/device-models.md`). The built space's capability layout is compared with the destination's
//! bytes, and a mismatch is an error ([`DeviceError::Layout`]): the device was configured in a way
//! the table does not model.
//!
//! BAR sizes are QEMU's constants; the QMP `query-pci` output of the destination
//! ([`QueryPci`]) overrides them, and is the only reliable source for option-ROM sizes (without it
//! the ROM file's size comes from [`RomFiles`], an input the caller reads from QEMU's data
//! directories with [`RomFiles::from_data_dirs`]).

mod bar_only;
mod bridges;
mod caps;
mod chipset;
mod ctx;
mod display;
mod net;
mod ports;
mod query_pci;
mod rom;
pub mod rom_blocks;
mod usb_audio_storage;
mod virtio;

pub use query_pci::{QueryDevice, QueryPci, QueryRegion};
pub use rom::{qemu_data_dirs, RomFiles};

use ctx::Ctx;
use pcimig_config::le;
use pcimig_config::regs::*;
use pcimig_config::{
    walk_ext, walk_std, ConfigError, ConfigSize, ConfigSpace, DeviceIdentity, DeviceParams, HeaderKind,
};
use std::fmt;

/// Why no destination model could be built.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// The device is not in the table.
    #[error(
        "device {idstr} (vmsd {vmsd:?}, PCI ID {vendor:04x}:{device:04x}) is not in pcimig's table of QEMU 10.0.2 \
         emulated devices; supported: {supported}"
    )]
    Unknown {
        /// Section idstr.
        idstr: String,
        /// vmsd name (the idstr after its last '/').
        vmsd: String,
        /// Vendor ID from the config.
        vendor: u16,
        /// Device ID from the config.
        device: u16,
        /// The supported QEMU types.
        supported: String,
    },
    /// The destination's config bytes do not look like what the table's device builds.
    #[error("device {idstr} ({type_name}): {why}")]
    Layout {
        /// Section idstr.
        idstr: String,
        /// QEMU type the table chose.
        type_name: &'static str,
        /// What differs.
        why: String,
    },
    /// The machine type is not one the table knows the compat properties of.
    #[error("machine type {0:?}: {1}")]
    Machine(String, String),
    /// Bad `query-pci` JSON.
    #[error("query-pci output: {0}")]
    QueryPci(String),
    /// A model-building step failed (a bug in the table, or an impossible configuration).
    #[error("device {idstr} ({type_name}): building the model failed: {source}")]
    Config {
        /// Section idstr.
        idstr: String,
        /// QEMU type.
        type_name: &'static str,
        /// The model crate's error.
        #[source]
        source: ConfigError,
    },
}

// ---- machine types --------------------------------------------------------------------------------

pub use pcimig_config::machine::{MachineFamily, MachineType};
pub use pcimig_config::QemuVersion;

/// The oldest machine version the table models (the compat properties of older ones are not).
pub const OLDEST_MODELLED_MACHINE: (u32, u32) = (2, 12);

/// The machine type of a stream's configuration section, as the table models it:
/// [`MachineType::from_config_section`], refusing versions before [`OLDEST_MODELLED_MACHINE`].
pub fn parse_stream_machine(name: &str) -> Result<MachineType, DeviceError> {
    let bad = |why: &str| DeviceError::Machine(name.to_string(), why.to_string());
    let m = MachineType::from_config_section(name).map_err(|e| bad(e.reason))?;
    if m.version < OLDEST_MODELLED_MACHINE {
        return Err(bad("machine types before 2.12 are not modelled"));
    }
    Ok(m)
}

// ---- the table ---------------------------------------------------------------------------------------

/// A device's realize: BARs, capabilities and mask edits on the context's space, in QEMU's order.
type Realize = fn(&mut Ctx<'_>) -> Result<(), DeviceError>;

/// How a row recognises a destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Match {
    /// `vendor`, one of `device`, and the vmsd name.
    Ids,
    /// Any virtio-pci proxy (`vendor`, a virtio-pci device ID, a `virtio*` vmsd).
    VirtioPciProxy,
}

/// A device the table knows: one row, with the function that realizes it.
#[derive(Debug, Clone, Copy)]
pub struct DeviceKind {
    /// QEMU type name (`-device` name), e.g. `e1000e`.
    pub type_name: &'static str,
    /// vmsd name, as in the section idstr after its `/`.
    pub vmsd: &'static str,
    /// PCI vendor ID.
    pub vendor: u16,
    /// PCI device IDs (any of them).
    pub device: &'static [u16],
    /// QEMU source file of the realize function.
    pub source: &'static str,
    realize: Realize,
    matches: Match,
}

impl DeviceKind {
    /// A row matched by vendor, device ID and vmsd name.
    const fn new(
        type_name: &'static str,
        vmsd: &'static str,
        vendor: u16,
        device: &'static [u16],
        source: &'static str,
        realize: Realize,
    ) -> Self {
        DeviceKind {
            type_name,
            vmsd,
            vendor,
            device,
            source,
            realize,
            matches: Match::Ids,
        }
    }

    /// This row stands for every virtio-pci proxy.
    const fn any_virtio_pci_proxy(self) -> Self {
        DeviceKind {
            matches: Match::VirtioPciProxy,
            ..self
        }
    }

    /// Whether a destination with these IDs and vmsd name is this row's device.
    fn is(&self, vendor: u16, device: u16, vmsd: &str) -> bool {
        self.vendor == vendor
            && match self.matches {
                Match::Ids => self.device.contains(&device) && self.vmsd == vmsd,
                Match::VirtioPciProxy => virtio::is_virtio_pci_proxy(vmsd, device),
            }
    }
}

impl PartialEq for DeviceKind {
    /// Rows are equal when they name the same QEMU type, vmsd and IDs (the realize is the row's).
    fn eq(&self, other: &Self) -> bool {
        (self.type_name, self.vmsd, self.vendor, self.device, self.source)
            == (other.type_name, other.vmsd, other.vendor, other.device, other.source)
    }
}

impl Eq for DeviceKind {}

/// Every device of the table: adding a device is one row here and its realize function in the
/// family's file.
pub const TABLE: &[DeviceKind] = &[
    DeviceKind::new(
        "e1000",
        "e1000",
        0x8086,
        &[0x100e, 0x100c, 0x100f],
        "hw/net/e1000.c",
        net::pci_e1000_realize,
    ),
    DeviceKind::new(
        "e1000e",
        "e1000e",
        0x8086,
        &[0x10d3],
        "hw/net/e1000e.c",
        net::e1000e_pci_realize,
    ),
    DeviceKind::new(
        "rtl8139",
        "rtl8139",
        0x10ec,
        &[0x8139],
        "hw/net/rtl8139.c",
        net::pci_rtl8139_realize,
    ),
    DeviceKind::new(
        "vmxnet3",
        "vmxnet3",
        0x15ad,
        &[0x07b0],
        "hw/net/vmxnet3.c",
        net::vmxnet3_pci_realize,
    ),
    DeviceKind::new(
        "qemu-xhci",
        "xhci",
        0x1b36,
        &[0x000d],
        "hw/usb/hcd-xhci-pci.c",
        usb_audio_storage::usb_xhci_pci_realize,
    ),
    DeviceKind::new(
        "nec-usb-xhci",
        "xhci",
        0x1033,
        &[0x0194],
        "hw/usb/hcd-xhci-pci.c",
        usb_audio_storage::usb_xhci_pci_realize,
    ),
    DeviceKind::new(
        "intel-hda",
        "intel-hda",
        0x8086,
        &[0x2668],
        "hw/audio/intel-hda.c",
        usb_audio_storage::intel_hda_realize,
    ),
    DeviceKind::new(
        "ich9-intel-hda",
        "intel-hda",
        0x8086,
        &[0x293e],
        "hw/audio/intel-hda.c",
        usb_audio_storage::intel_hda_realize,
    ),
    DeviceKind::new(
        "virtio-*-pci",
        "virtio-*",
        0x1af4,
        virtio::VIRTIO_IDS,
        "hw/virtio/virtio-pci.c",
        virtio::virtio_pci_realize,
    )
    .any_virtio_pci_proxy(),
    DeviceKind::new(
        "pcie-root-port",
        "pcie-root-port",
        0x1b36,
        &[0x000c],
        "hw/pci-bridge/gen_pcie_root_port.c",
        ports::gen_rp_realize,
    ),
    DeviceKind::new(
        "pci-bridge",
        "pci_bridge",
        0x1b36,
        &[0x0001],
        "hw/pci-bridge/pci_bridge_dev.c",
        bridges::pci_bridge_dev_realize,
    ),
    DeviceKind::new(
        "pcie-pci-bridge",
        "pcie-pci-bridge",
        0x1b36,
        &[0x000e],
        "hw/pci-bridge/pcie_pci_bridge.c",
        bridges::pcie_pci_bridge_realize,
    ),
    DeviceKind::new(
        "ioh3420",
        "ioh-3240-express-root-port",
        0x8086,
        &[0x3420],
        "hw/pci-bridge/ioh3420.c",
        ports::ioh3420_realize,
    ),
    DeviceKind::new(
        "x3130-upstream",
        "xio3130-express-upstream-port",
        0x104c,
        &[0x8232],
        "hw/pci-bridge/xio3130_upstream.c",
        ports::xio3130_upstream_realize,
    ),
    DeviceKind::new(
        "xio3130-downstream",
        "xio3130-express-downstream-port",
        0x104c,
        &[0x8233],
        "hw/pci-bridge/xio3130_downstream.c",
        ports::xio3130_downstream_realize,
    ),
    DeviceKind::new(
        "usb-ehci",
        "ehci",
        0x8086,
        &[0x24cd],
        "hw/usb/hcd-ehci-pci.c",
        bar_only::usb_ehci_pci_realize,
    ),
    DeviceKind::new(
        "ich9-usb-ehci1/2",
        "ehci",
        0x8086,
        &[0x293a, 0x293c],
        "hw/usb/hcd-ehci-pci.c",
        bar_only::usb_ehci_pci_realize,
    ),
    DeviceKind::new(
        "ich9-usb-uhci1..6",
        "uhci",
        0x8086,
        &[0x2934, 0x2935, 0x2936, 0x2937, 0x2938, 0x2939],
        "hw/usb/hcd-uhci.c",
        bar_only::usb_uhci_common_realize,
    ),
    DeviceKind::new(
        "piix3/piix4-usb-uhci",
        "uhci",
        0x8086,
        &[0x7020, 0x7112],
        "hw/usb/hcd-uhci.c",
        bar_only::usb_uhci_common_realize,
    ),
    DeviceKind::new(
        "AC97",
        "ac97",
        0x8086,
        &[0x2415],
        "hw/audio/ac97.c",
        bar_only::ac97_realize,
    ),
    DeviceKind::new(
        "ES1370",
        "es1370",
        0x1274,
        &[0x5000],
        "hw/audio/es1370.c",
        bar_only::es1370_realize,
    ),
    DeviceKind::new(
        "lsi53c895a/lsi53c810",
        "lsiscsi",
        0x1000,
        &[0x0012, 0x0001],
        "hw/scsi/lsi53c895a.c",
        bar_only::lsi_scsi_realize,
    ),
    DeviceKind::new(
        "pcnet",
        "pcnet",
        0x1022,
        &[0x2000],
        "hw/net/pcnet-pci.c",
        bar_only::pci_pcnet_realize,
    ),
    DeviceKind::new(
        "ne2k_pci",
        "ne2000",
        0x10ec,
        &[0x8029],
        "hw/net/ne2000-pci.c",
        bar_only::pci_ne2000_realize,
    ),
    DeviceKind::new(
        "i6300esb",
        "i6300esb_wdt",
        0x8086,
        &[0x25ab],
        "hw/watchdog/wdt_i6300esb.c",
        bar_only::i6300esb_realize,
    ),
    DeviceKind::new(
        "VGA",
        "vga",
        0x1234,
        &[0x1111],
        "hw/display/vga-pci.c",
        display::pci_vga_realize,
    ),
    DeviceKind::new(
        "mch",
        "mch",
        0x8086,
        &[0x29c0],
        "hw/pci-host/q35.c",
        chipset::header_only,
    ),
    DeviceKind::new(
        "ICH9-LPC",
        "ICH9LPC",
        0x8086,
        &[0x2918],
        "hw/isa/lpc_ich9.c",
        chipset::header_only,
    ),
    DeviceKind::new(
        "ich9-ahci",
        "ich9_ahci",
        0x8086,
        &[0x2922],
        "hw/ide/ich.c",
        usb_audio_storage::pci_ich9_ahci_realize,
    ),
    DeviceKind::new(
        "ICH9-SMB",
        "ich9_smb",
        0x8086,
        &[0x2930],
        "hw/i2c/smbus_ich9.c",
        chipset::ich9_smbus_realize,
    ),
    DeviceKind::new(
        "i440FX",
        "I440FX",
        0x8086,
        &[0x1237],
        "hw/pci-host/i440fx.c",
        chipset::header_only,
    ),
    DeviceKind::new(
        "PIIX3",
        "PIIX3",
        0x8086,
        &[0x7000],
        "hw/isa/piix.c",
        chipset::header_only,
    ),
    DeviceKind::new(
        "piix3-ide",
        "ide",
        0x8086,
        &[0x7010],
        "hw/ide/piix.c",
        chipset::pci_piix_ide_realize,
    ),
    DeviceKind::new(
        "PIIX4_PM",
        "piix4_pm",
        0x8086,
        &[0x7113],
        "hw/acpi/piix4.c",
        chipset::header_only,
    ),
];

/// Find the table entry for a device: by vendor/device ID from its config, with the vmsd name
/// (idstr after `/`) as a cross-check.
pub fn identify(idstr: &str, config: &[u8]) -> Option<&'static DeviceKind> {
    if config.len() < 4 {
        return None;
    }
    let vendor = le::word(config, PCI_VENDOR_ID);
    let device = le::word(config, PCI_DEVICE_ID);
    let vmsd = vmsd_of(idstr);
    TABLE.iter().find(|k| k.is(vendor, device, vmsd))
}

/// The vmsd name of a section idstr (after its last `/`).
fn vmsd_of(idstr: &str) -> &str {
    idstr.rsplit('/').next().unwrap_or(idstr)
}

/// The supported QEMU device types, for messages.
pub fn supported_types() -> String {
    let mut v: Vec<&str> = TABLE.iter().map(|k| k.type_name).collect();
    v.dedup();
    v.join(", ")
}

/// Inputs of [`build_destination`].
#[derive(Debug, Clone, Copy)]
pub struct Destination<'a> {
    /// Section idstr, e.g. `0000:00:02.0/e1000`.
    pub idstr: &'a str,
    /// The destination device's current config (256 or 4096 bytes), from a stream of the freshly
    /// started destination VM.
    pub config: &'a [u8],
    /// Machine type from the stream's configuration section, e.g. `pc-q35-10.0`.
    pub machine: &'a str,
    /// The destination's `query-pci` answer, for BAR and ROM sizes.
    pub query_pci: Option<&'a QueryPci>,
    /// The option ROM files of the destination host (sizes), for ROM BARs query-pci does not give.
    pub rom_files: &'a RomFiles,
    /// The destination's QEMU version: the masks its realize sets (`docs/qemu-versions.md`).
    pub qemu: QemuVersion,
}

/// Where a BAR's size came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeSource {
    /// QEMU's source constant for this device.
    Model,
    /// The destination's `query-pci`.
    QueryPci,
    /// The ROM file's size in QEMU's data directories ([`RomFiles`]).
    RomFile,
}

/// One BAR the model registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelBar {
    /// Region 0..=5, 6 for the ROM.
    pub region: usize,
    /// Type bits.
    pub bar_type: u8,
    /// Size.
    pub size: u64,
    /// Where the size came from.
    pub source: SizeSource,
}

/// A built destination.
#[derive(Debug, Clone)]
pub struct EmulatedDevice {
    /// QEMU type, e.g. `virtio-net-pci`.
    pub type_name: &'static str,
    /// QEMU source of its realize.
    pub source: &'static str,
    /// Config = the destination's bytes; masks = QEMU's realize.
    pub space: ConfigSpace,
    /// BARs registered.
    pub bars: Vec<ModelBar>,
    /// How the model was shaped (helpers, compat properties), one line each.
    pub notes: Vec<String>,
    /// Things the model had to assume.
    pub warnings: Vec<String>,
}

impl fmt::Display for EmulatedDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): ", self.type_name, self.source)?;
        write!(f, "{}", self.notes.join("; "))
    }
}

// ---- building a destination ---------------------------------------------------------------------------

/// Build the destination model of one emulated device: pci_qdev_realize's order
/// (do_pci_register_device, the device's realize, pci_add_option_rom), then the layout check
/// and the destination's bytes.
pub fn build_destination(d: &Destination<'_>) -> Result<EmulatedDevice, DeviceError> {
    let machine = parse_stream_machine(d.machine)?;
    if let Some(why) = d.qemu.lacks_machine(&machine) {
        return Err(DeviceError::Machine(d.machine.to_string(), why));
    }
    let size = ConfigSize::from_len(d.config.len()).map_err(|e| DeviceError::Config {
        idstr: d.idstr.to_string(),
        type_name: "?",
        source: e,
    })?;
    let kind = identify(d.idstr, d.config).ok_or_else(|| unknown_device(d))?;
    let mut c = Ctx::new(d, kind.type_name, machine, do_pci_register_device(d.config, size));
    c.note(format!("machine {}", d.machine));
    if d.qemu != QemuVersion::DEFAULT {
        c.note(format!("QEMU {}", d.qemu));
    }
    (kind.realize)(&mut c)?;
    verify_layout(&c)?;
    let type_name = c.type_name;
    let mut space = c.space;
    space.load_config_bytes(d.config).map_err(|e| DeviceError::Config {
        idstr: d.idstr.to_string(),
        type_name,
        source: e,
    })?;
    Ok(EmulatedDevice {
        type_name,
        source: kind.source,
        space,
        bars: c.bars,
        notes: c.notes,
        warnings: c.warnings,
    })
}

/// The device is not in the table: name it.
fn unknown_device(d: &Destination<'_>) -> DeviceError {
    let (vendor, device) = if d.config.len() >= 4 {
        (le::word(d.config, PCI_VENDOR_ID), le::word(d.config, PCI_DEVICE_ID))
    } else {
        (0, 0)
    };
    DeviceError::Unknown {
        idstr: d.idstr.to_string(),
        vmsd: vmsd_of(d.idstr).to_string(),
        vendor,
        device,
        supported: supported_types(),
    }
}

/// do_pci_register_device's header masks: type 0 or 1 from the destination's header type byte,
/// 256 or 4096 bytes. The IDs only set config bytes, which are replaced by the destination's.
fn do_pci_register_device(config: &[u8], size: ConfigSize) -> ConfigSpace {
    let header = if config[PCI_HEADER_TYPE] & PCI_HEADER_TYPE_MASK == PCI_HEADER_TYPE_BRIDGE {
        HeaderKind::Type1
    } else {
        HeaderKind::Type0
    };
    ConfigSpace::new_device(&DeviceParams {
        size,
        header,
        identity: DeviceIdentity::default(),
        multifunction: false,
    })
}

/// The model's capability chains must be the destination's (same IDs at the same offsets).
fn verify_layout(c: &Ctx<'_>) -> Result<(), DeviceError> {
    let mut model: Vec<(u8, usize)> = walk_std(c.space.config())
        .entries
        .iter()
        .map(|e| (e.id as u8, e.offset))
        .collect();
    let mut dest = c.std_caps.clone();
    model.sort_unstable();
    dest.sort_unstable();
    if model != dest {
        return Err(c.layout(format!(
            "capabilities of QEMU's realize {} differ from the destination's {} (a property the table does not \
             model?)",
            fmt_caps(&model),
            fmt_caps(&dest)
        )));
    }
    if c.space.size() == PCIE_CONFIG_SPACE_SIZE {
        let mut model: Vec<(u16, usize)> = walk_ext(c.space.config())
            .entries
            .iter()
            .map(|e| (e.id, e.offset))
            .collect();
        let mut dest = c.ext_caps.clone();
        model.sort_unstable();
        dest.sort_unstable();
        if model != dest {
            return Err(c.layout(format!(
                "extended capabilities of QEMU's realize {model:x?} differ from the destination's {dest:x?}"
            )));
        }
    }
    Ok(())
}

fn fmt_caps(v: &[(u8, usize)]) -> String {
    let items: Vec<String> = v.iter().map(|(id, off)| format!("{id:#04x}@{off:#04x}")).collect();
    format!("[{}]", items.join(", "))
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_types_and_compat() {
        let m = parse_stream_machine("pc-q35-10.0").unwrap();
        assert_eq!(m.family, MachineFamily::Q35);
        assert!(m.pcie_ext_tag() && m.pcie_err_unc_mask() && !m.writeable_slt_bug());
        let m = parse_stream_machine("pc-i440fx-9.1").unwrap();
        assert!(!m.pcie_ext_tag());
        assert!(parse_stream_machine("pc-q35-8.1").unwrap().writeable_slt_bug());
        assert!(parse_stream_machine("microvm").is_err());
        assert!(parse_stream_machine("pc-q35-2.4").is_err());
    }

    #[test]
    fn query_pci_paths_follow_bridges() {
        let j = r#"{"return":[{"bus":0,"devices":[{"bus":0,"slot":3,"function":0,"id":{"vendor":6966,"device":12},
            "regions":[{"bar":0,"type":"memory","address":0,"size":4096,"prefetch":false,"mem_type_64":false}],
            "pci_bridge":{"bus":{"number":0},"devices":[{"bus":0,"slot":0,"function":0,
            "id":{"vendor":6900,"device":4161},"regions":[{"bar":6,"type":"memory","size":262144}]}]}}]}]}"#;
        let q = QueryPci::parse(j).unwrap();
        assert_eq!(q.devices[0].path, "0000:00:03.0");
        assert_eq!(q.devices[1].path, "0000:00:03.0:00.0");
        assert_eq!(q.find("0000:00:03.0:00.0").unwrap().regions[0].size, 262144);
    }

    #[test]
    fn unknown_device_names_itself() {
        let mut cfg = vec![0u8; 256];
        cfg[0..4].copy_from_slice(&[0x34, 0x12, 0x78, 0x56]);
        let e = build_destination(&Destination {
            idstr: "0000:00:05.0/nvme",
            config: &cfg,
            machine: "pc-q35-10.0",
            query_pci: None,
            rom_files: &RomFiles::default(),
            qemu: QemuVersion::DEFAULT,
        })
        .unwrap_err();
        let s = e.to_string();
        assert!(s.contains("0000:00:05.0/nvme") && s.contains("1234:5678"), "{s}");
    }

    #[test]
    fn e1000_masks() {
        let mut cfg = vec![0u8; 256];
        cfg[0..4].copy_from_slice(&[0x86, 0x80, 0x0e, 0x10]);
        cfg[8] = 3;
        cfg[0x0b] = 2;
        let d = build_destination(&Destination {
            idstr: "0000:00:02.0/e1000",
            config: &cfg,
            machine: "pc-q35-10.0",
            query_pci: None,
            rom_files: &RomFiles::default(),
            qemu: QemuVersion::DEFAULT,
        })
        .unwrap();
        assert_eq!(d.space.checked()[0x10], 0xff);
        assert_eq!(d.space.checked()[0x11], 0xff);
        assert_eq!(d.space.checked()[0x12], 0x01);
        assert_eq!(d.space.checked()[0x14], 0x3f);
        assert_eq!(d.space.config(), &cfg[..]);
    }

    fn root_port(machine: &str, qemu: &str) -> Result<EmulatedDevice, DeviceError> {
        let cfg = std::fs::read(format!(
            "{}/tests/data/q35-10.0-pcie-root-port.bin",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        build_destination(&Destination {
            idstr: "0000:00:02.0/pcie-root-port",
            config: &cfg,
            machine,
            query_pci: None,
            rom_files: &RomFiles::default(),
            qemu: QemuVersion::parse(qemu).unwrap(),
        })
    }

    /// SLTSTA Presence Detect State: checked by QEMU before 8.1 (7.2.22 included), not after.
    #[test]
    fn root_port_presence_detect_is_checked_before_8_1() {
        let pds_checked = |qemu| {
            let d = root_port("pc-q35-7.2", qemu).unwrap();
            let exp = d.space.find_capability(pcimig_config::CapId::Exp).unwrap();
            d.space.checked()[exp + PCI_EXP_SLTSTA] & PCI_EXP_SLTSTA_PDS as u8 != 0
        };
        assert!(pds_checked("7.2.22") && pds_checked("8.0"));
        assert!(!pds_checked("8.1") && !pds_checked("10.0.2") && !pds_checked("11.1"));
    }

    /// A destination QEMU that lacks the machine type cannot build the device.
    #[test]
    fn machine_type_newer_than_the_destination_is_refused() {
        let e = root_port("pc-q35-10.0", "9.0").unwrap_err().to_string();
        assert!(e.contains("QEMU 9.0 does not define machine type pc-q35-10.0"), "{e}");
        assert!(root_port("pc-q35-10.0", "11.1").is_ok());
    }
}
