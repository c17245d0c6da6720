//! The emulated-device table: QEMU 10.0.2's PCI device models as the destination of a restore.
//!
//! Given a destination device's *current* config bytes (from a stream saved by the freshly
//! started destination VM), its section idstr and the machine type, [`build_destination`] returns
//! a [`ConfigSpace`] whose config is those bytes and whose cmask/wmask/w1cmask are what the
//! device's realize in QEMU 10.0.2 sets: `do_pci_register_device`'s header masks, then the
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
//! the ROM file is looked up in QEMU's data directories).

use pcimig_config::le;
use pcimig_config::presets::{msix_table_size, MsixLayout, SlotOptions};
use pcimig_config::regs::*;
use pcimig_config::{
    walk_ext, walk_std, Array, CapId, ConfigError, ConfigSize, ConfigSpace, DeviceIdentity, DeviceParams, ExtCapId,
    HeaderKind, Preset,
};
use std::fmt;
use std::path::{Path, PathBuf};

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
        source: ConfigError,
    },
}

// ---- machine types --------------------------------------------------------------------------------

pub use pcimig_config::machine::{MachineFamily, MachineType};

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

// ---- query-pci ----------------------------------------------------------------------------------------

/// One BAR or ROM of a `query-pci` device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryRegion {
    /// 0..=5, or 6 for the ROM.
    pub bar: usize,
    /// I/O space.
    pub io: bool,
    /// 64-bit memory.
    pub mem64: bool,
    /// Prefetchable memory.
    pub prefetch: bool,
    /// Size in bytes.
    pub size: u64,
}

/// One device of a `query-pci` answer, with its QEMU device path (`0000:00:03.0:00.0`, the part of
/// a section idstr before the `/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryDevice {
    /// Device path as QEMU's pcibus_get_dev_path writes it.
    pub path: String,
    /// Vendor ID.
    pub vendor: u16,
    /// Device ID.
    pub device: u16,
    /// `qdev_id` (the `-device id=`), if any.
    pub qdev_id: Option<String>,
    /// Registered regions.
    pub regions: Vec<QueryRegion>,
}

/// A parsed QMP `query-pci` answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryPci {
    /// Every device, depth first.
    pub devices: Vec<QueryDevice>,
}

impl QueryPci {
    /// Parse `query-pci` output: the QMP reply `{"return": [...]}` or the bare list of buses.
    /// Devices behind bridges get paths extended with `:SS.F` per level, as in section idstrs.
    pub fn parse(json: &str) -> Result<Self, DeviceError> {
        let v: serde_json::Value = serde_json::from_str(json).map_err(|e| DeviceError::QueryPci(e.to_string()))?;
        let buses = v.get("return").unwrap_or(&v);
        let buses = buses
            .as_array()
            .ok_or_else(|| DeviceError::QueryPci("expected a list of buses (or {\"return\": [...]})".into()))?;
        let mut out = QueryPci::default();
        for bus in buses {
            let devs = bus
                .get("devices")
                .and_then(|d| d.as_array())
                .cloned()
                .unwrap_or_default();
            // The root bus path is "0000:00" on the x86 machines (pci_root_bus_path of the host bridge).
            Self::walk(&devs, "0000:00", &mut out.devices)?;
        }
        Ok(out)
    }

    fn walk(devs: &[serde_json::Value], prefix: &str, out: &mut Vec<QueryDevice>) -> Result<(), DeviceError> {
        let num = |d: &serde_json::Value, k: &str| -> Result<u64, DeviceError> {
            d.get(k)
                .and_then(|x| x.as_u64())
                .ok_or_else(|| DeviceError::QueryPci(format!("device without a numeric {k:?}")))
        };
        for d in devs {
            let slot = num(d, "slot")?;
            let func = num(d, "function")?;
            let id = d
                .get("id")
                .ok_or_else(|| DeviceError::QueryPci("device without \"id\"".into()))?;
            let path = format!("{prefix}:{slot:02x}.{func:x}");
            let mut regions = Vec::new();
            for r in d.get("regions").and_then(|r| r.as_array()).into_iter().flatten() {
                let flag = |k: &str| r.get(k).and_then(|x| x.as_bool()).unwrap_or(false);
                regions.push(QueryRegion {
                    bar: num(r, "bar")? as usize,
                    io: r.get("type").and_then(|t| t.as_str()) == Some("io"),
                    mem64: flag("mem_type_64"),
                    prefetch: flag("prefetch"),
                    size: num(r, "size")?,
                });
            }
            out.push(QueryDevice {
                path: path.clone(),
                vendor: num(id, "vendor")? as u16,
                device: num(id, "device")? as u16,
                qdev_id: d.get("qdev_id").and_then(|x| x.as_str()).map(str::to_string),
                regions,
            });
            if let Some(sub) = d
                .get("pci_bridge")
                .and_then(|b| b.get("devices"))
                .and_then(|x| x.as_array())
            {
                Self::walk(sub, &path, out)?;
            }
        }
        Ok(())
    }

    /// The device at `path` (an idstr's part before `/`).
    pub fn find(&self, path: &str) -> Option<&QueryDevice> {
        self.devices.iter().find(|d| d.path == path)
    }
}

// ---- the table ---------------------------------------------------------------------------------------

/// A device the table knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    builder: Builder,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Builder {
    E1000,
    E1000e,
    Rtl8139,
    Vmxnet3,
    Xhci,
    IntelHda,
    Virtio,
    PcieRootPort,
    PciBridge,
    PciePciBridge,
    Ioh3420,
    /// BARs (region, type, size) and an option ROM file; no capabilities.
    Simple(&'static [(usize, u8, u64)], Option<&'static str>),
    Xio3130Up,
    Xio3130Down,
    Vga,
    Mch,
    Ich9Lpc,
    Ich9Ahci,
    Ich9Smb,
    I440fx,
    Piix3,
    PiixIde,
    Piix4Pm,
}

macro_rules! kind {
    ($t:expr, $vmsd:expr, $ven:expr, $dev:expr, $src:expr, $($b:tt)+) => {
        DeviceKind {
            type_name: $t,
            vmsd: $vmsd,
            vendor: $ven,
            device: $dev,
            source: $src,
            builder: Builder::$($b)+,
        }
    };
}

const VIRTIO_IDS: &[u16] = &[
    0x1000, 0x1001, 0x1002, 0x1003, 0x1004, 0x1005, 0x1009, 0x1041, 0x1042, 0x1043, 0x1044, 0x1045, 0x1048, 0x1049,
    0x1050, 0x1052, 0x1053,
];

/// Every device of the table.
pub const TABLE: &[DeviceKind] = &[
    kind!(
        "e1000",
        "e1000",
        0x8086,
        &[0x100e, 0x100c, 0x100f],
        "hw/net/e1000.c",
        E1000
    ),
    kind!("e1000e", "e1000e", 0x8086, &[0x10d3], "hw/net/e1000e.c", E1000e),
    kind!("rtl8139", "rtl8139", 0x10ec, &[0x8139], "hw/net/rtl8139.c", Rtl8139),
    kind!("vmxnet3", "vmxnet3", 0x15ad, &[0x07b0], "hw/net/vmxnet3.c", Vmxnet3),
    kind!("qemu-xhci", "xhci", 0x1b36, &[0x000d], "hw/usb/hcd-xhci-pci.c", Xhci),
    kind!("nec-usb-xhci", "xhci", 0x1033, &[0x0194], "hw/usb/hcd-xhci-pci.c", Xhci),
    kind!(
        "intel-hda",
        "intel-hda",
        0x8086,
        &[0x2668],
        "hw/audio/intel-hda.c",
        IntelHda
    ),
    kind!(
        "ich9-intel-hda",
        "intel-hda",
        0x8086,
        &[0x293e],
        "hw/audio/intel-hda.c",
        IntelHda
    ),
    kind!(
        "virtio-*-pci",
        "virtio-*",
        0x1af4,
        VIRTIO_IDS,
        "hw/virtio/virtio-pci.c",
        Virtio
    ),
    kind!(
        "pcie-root-port",
        "pcie-root-port",
        0x1b36,
        &[0x000c],
        "hw/pci-bridge/gen_pcie_root_port.c",
        PcieRootPort
    ),
    kind!(
        "pci-bridge",
        "pci_bridge",
        0x1b36,
        &[0x0001],
        "hw/pci-bridge/pci_bridge_dev.c",
        PciBridge
    ),
    kind!(
        "pcie-pci-bridge",
        "pcie-pci-bridge",
        0x1b36,
        &[0x000e],
        "hw/pci-bridge/pcie_pci_bridge.c",
        PciePciBridge
    ),
    kind!(
        "ioh3420",
        "ioh-3240-express-root-port",
        0x8086,
        &[0x3420],
        "hw/pci-bridge/ioh3420.c",
        Ioh3420
    ),
    kind!(
        "x3130-upstream",
        "xio3130-express-upstream-port",
        0x104c,
        &[0x8232],
        "hw/pci-bridge/xio3130_upstream.c",
        Xio3130Up
    ),
    kind!(
        "xio3130-downstream",
        "xio3130-express-downstream-port",
        0x104c,
        &[0x8233],
        "hw/pci-bridge/xio3130_downstream.c",
        Xio3130Down
    ),
    kind!(
        "usb-ehci",
        "ehci",
        0x8086,
        &[0x24cd],
        "hw/usb/hcd-ehci-pci.c",
        Simple(&[(0, MEM, 0x1000)], None)
    ),
    kind!(
        "ich9-usb-ehci1/2",
        "ehci",
        0x8086,
        &[0x293a, 0x293c],
        "hw/usb/hcd-ehci-pci.c",
        Simple(&[(0, MEM, 0x1000)], None)
    ),
    kind!(
        "ich9-usb-uhci1..6",
        "uhci",
        0x8086,
        &[0x2934, 0x2935, 0x2936, 0x2937, 0x2938, 0x2939],
        "hw/usb/hcd-uhci.c",
        Simple(&[(4, IO, 0x20)], None)
    ),
    kind!(
        "piix3/piix4-usb-uhci",
        "uhci",
        0x8086,
        &[0x7020, 0x7112],
        "hw/usb/hcd-uhci.c",
        Simple(&[(4, IO, 0x20)], None)
    ),
    kind!(
        "AC97",
        "ac97",
        0x8086,
        &[0x2415],
        "hw/audio/ac97.c",
        Simple(&[(0, IO, 1024), (1, IO, 256)], None)
    ),
    kind!(
        "ES1370",
        "es1370",
        0x1274,
        &[0x5000],
        "hw/audio/es1370.c",
        Simple(&[(0, IO, 256)], None)
    ),
    kind!(
        "lsi53c895a/lsi53c810",
        "lsiscsi",
        0x1000,
        &[0x0012, 0x0001],
        "hw/scsi/lsi53c895a.c",
        Simple(&[(0, IO, 256), (1, MEM, 1024), (2, MEM, 8192)], None)
    ),
    kind!(
        "pcnet",
        "pcnet",
        0x1022,
        &[0x2000],
        "hw/net/pcnet-pci.c",
        Simple(&[(0, IO, 32), (1, MEM, 32)], Some("efi-pcnet.rom"))
    ),
    kind!(
        "ne2k_pci",
        "ne2000",
        0x10ec,
        &[0x8029],
        "hw/net/ne2000-pci.c",
        Simple(&[(0, IO, 256)], Some("efi-ne2k_pci.rom"))
    ),
    kind!(
        "i6300esb",
        "i6300esb_wdt",
        0x8086,
        &[0x25ab],
        "hw/watchdog/wdt_i6300esb.c",
        Simple(&[(0, MEM, 16)], None)
    ),
    kind!("VGA", "vga", 0x1234, &[0x1111], "hw/display/vga-pci.c", Vga),
    kind!("mch", "mch", 0x8086, &[0x29c0], "hw/pci-host/q35.c", Mch),
    kind!("ICH9-LPC", "ICH9LPC", 0x8086, &[0x2918], "hw/isa/lpc_ich9.c", Ich9Lpc),
    kind!("ich9-ahci", "ich9_ahci", 0x8086, &[0x2922], "hw/ide/ich.c", Ich9Ahci),
    kind!(
        "ICH9-SMB",
        "ich9_smb",
        0x8086,
        &[0x2930],
        "hw/i2c/smbus_ich9.c",
        Ich9Smb
    ),
    kind!("i440FX", "I440FX", 0x8086, &[0x1237], "hw/pci-host/i440fx.c", I440fx),
    kind!("PIIX3", "PIIX3", 0x8086, &[0x7000], "hw/isa/piix.c", Piix3),
    kind!("piix3-ide", "ide", 0x8086, &[0x7010], "hw/ide/piix.c", PiixIde),
    kind!("PIIX4_PM", "piix4_pm", 0x8086, &[0x7113], "hw/acpi/piix4.c", Piix4Pm),
];

fn virtio_type_name(vmsd: &str, device_id: u16) -> &'static str {
    let v = match device_id {
        0x1000 | 0x1041 => "net",
        0x1001 | 0x1042 => "blk",
        0x1002 | 0x1045 => "balloon",
        0x1003 | 0x1043 => "serial",
        0x1004 | 0x1048 => "scsi",
        0x1005 | 0x1044 => "rng",
        0x1009 | 0x1049 => "9p",
        0x1052 => "input",
        0x1050 => "gpu",
        0x1053 => "vsock",
        0x1057 => "iommu",
        _ => vmsd.strip_prefix("virtio-").unwrap_or("?"),
    };
    match v {
        "net" => "virtio-net-pci",
        "blk" => "virtio-blk-pci",
        "balloon" => "virtio-balloon-pci",
        "serial" => "virtio-serial-pci",
        "scsi" => "virtio-scsi-pci",
        "rng" => "virtio-rng-pci",
        "9p" => "virtio-9p-pci",
        "input" => "virtio-input-pci",
        "gpu" => "virtio-gpu-pci",
        "vsock" => "vhost-vsock-pci",
        "iommu" => "virtio-iommu-pci",
        _ => "virtio-pci",
    }
}

/// Find the table entry for a device: by vendor/device ID from its config, with the vmsd name
/// (idstr after `/`) as a cross-check.
pub fn identify(idstr: &str, config: &[u8]) -> Option<&'static DeviceKind> {
    if config.len() < 4 {
        return None;
    }
    let vendor = le::word(config, PCI_VENDOR_ID);
    let device = le::word(config, PCI_DEVICE_ID);
    let vmsd = vmsd_of(idstr);
    TABLE.iter().find(|k| {
        k.vendor == vendor
            && if k.builder == Builder::Virtio {
                // Any virtio-pci proxy: transitional IDs 0x1000-0x103f, modern 0x1040-0x107f.
                (0x1000..=0x107f).contains(&device) && vmsd.starts_with("virtio")
            } else {
                k.device.contains(&device) && k.vmsd == vmsd
            }
    })
}

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
}

/// Where a BAR's size came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeSource {
    /// QEMU's source constant for this device.
    Model,
    /// The destination's `query-pci`.
    QueryPci,
    /// The ROM file's size in QEMU's data directories.
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

struct Ctx<'a> {
    d: &'a Destination<'a>,

    type_name: &'static str,
    machine: MachineType,
    space: ConfigSpace,
    bars: Vec<ModelBar>,
    notes: Vec<String>,
    warnings: Vec<String>,
    std_caps: Vec<(u8, usize)>,
    ext_caps: Vec<(u16, usize)>,
}

impl Ctx<'_> {
    fn err(&self, source: ConfigError) -> DeviceError {
        DeviceError::Config {
            idstr: self.d.idstr.to_string(),
            type_name: self.type_name,
            source,
        }
    }

    fn layout(&self, why: impl Into<String>) -> DeviceError {
        DeviceError::Layout {
            idstr: self.d.idstr.to_string(),
            type_name: self.type_name,
            why: why.into(),
        }
    }

    fn has_std(&self, id: CapId) -> Option<usize> {
        self.std_caps.iter().find(|c| c.0 == id.value()).map(|c| c.1)
    }

    fn has_ext(&self, id: ExtCapId) -> Option<usize> {
        self.ext_caps.iter().find(|c| c.0 == id.value()).map(|c| c.1)
    }

    fn query_device(&self) -> Option<&QueryDevice> {
        let path = self.d.idstr.rsplit_once('/').map(|p| p.0).unwrap_or(self.d.idstr);
        self.d.query_pci.and_then(|q| q.find(path))
    }

    /// pci_register_bar with QEMU's constant `size`, overridden by query-pci.
    fn bar(&mut self, region: usize, bar_type: u8, size: u64) -> Result<(), DeviceError> {
        let (size, source) = match self
            .query_device()
            .and_then(|q| q.regions.iter().find(|r| r.bar == region))
        {
            Some(r) => (r.size, SizeSource::QueryPci),
            None => (size, SizeSource::Model),
        };
        self.space
            .register_bar(region, bar_type, size)
            .map_err(|e| self.err(e))?;
        self.bars.push(ModelBar {
            region,
            bar_type,
            size,
            source,
        });
        Ok(())
    }

    /// The option ROM pci_add_option_rom registers after realize (`romfile`), if any.
    fn rom(&mut self, romfile: &str) -> Result<(), DeviceError> {
        let found = match self.d.query_pci {
            Some(_) => match self.query_device() {
                Some(q) => q
                    .regions
                    .iter()
                    .find(|r| r.bar == PCI_ROM_SLOT)
                    .map(|r| (r.size, SizeSource::QueryPci)),
                None => {
                    self.warnings.push(format!(
                        "query-pci has no device at {}; option ROM size taken from the ROM file",
                        self.d.idstr
                    ));
                    rom_file_size(romfile).map(|s| (s, SizeSource::RomFile))
                }
            },
            None => rom_file_size(romfile).map(|s| (s, SizeSource::RomFile)),
        };
        let (size, source) = match found {
            Some(x) => x,
            None if self.d.query_pci.is_some() && self.query_device().is_some() => {
                self.notes
                    .push("no option ROM (query-pci lists none: romfile=\"\" or rombar=0)".into());
                return Ok(());
            }
            None => {
                self.warnings.push(format!(
                    "ROM file {romfile} not found in QEMU's data directories; assuming a 256 KiB ROM BAR \
                     (give --dest-query-pci for the real size)"
                ));
                (256 * 1024, SizeSource::Model)
            }
        };
        self.space
            .register_bar(PCI_ROM_SLOT, 0, size)
            .map_err(|e| self.err(e))?;
        self.bars.push(ModelBar {
            region: PCI_ROM_SLOT,
            bar_type: 0,
            size,
            source,
        });
        Ok(())
    }

    fn note(&mut self, s: impl Into<String>) {
        self.notes.push(s.into());
    }
}

/// QEMU's data directories (`qemu-system-x86_64 -L help`), overridable with
/// `PCIMIG_QEMU_DATADIRS` (colon-separated).
pub fn qemu_data_dirs() -> Vec<PathBuf> {
    if let Ok(v) = std::env::var("PCIMIG_QEMU_DATADIRS") {
        return v.split(':').filter(|s| !s.is_empty()).map(PathBuf::from).collect();
    }
    [
        "/usr/share/qemu",
        "/usr/share/seabios",
        "/usr/lib/ipxe/qemu",
        "/usr/local/share/qemu",
    ]
    .iter()
    .map(PathBuf::from)
    .collect()
}

/// Size of the ROM BAR QEMU registers for `romfile`: the file's size rounded up to a power of two.
pub fn rom_file_size(romfile: &str) -> Option<u64> {
    qemu_data_dirs().iter().find_map(|d| {
        let p: PathBuf = Path::new(d).join(romfile);
        std::fs::metadata(p).ok().map(|m| m.len().max(1).next_power_of_two())
    })
}

/// Build the destination model of one emulated device.
pub fn build_destination(d: &Destination<'_>) -> Result<EmulatedDevice, DeviceError> {
    let machine = parse_stream_machine(d.machine)?;
    let size = ConfigSize::from_len(d.config.len()).map_err(|e| DeviceError::Config {
        idstr: d.idstr.to_string(),
        type_name: "?",
        source: e,
    })?;
    let Some(kind) = identify(d.idstr, d.config) else {
        let (vendor, device) = if d.config.len() >= 4 {
            (le::word(d.config, PCI_VENDOR_ID), le::word(d.config, PCI_DEVICE_ID))
        } else {
            (0, 0)
        };
        return Err(DeviceError::Unknown {
            idstr: d.idstr.to_string(),
            vmsd: vmsd_of(d.idstr).to_string(),
            vendor,
            device,
            supported: supported_types(),
        });
    };
    let type_name = match kind.builder {
        Builder::Virtio => virtio_type_name(vmsd_of(d.idstr), le::word(d.config, PCI_DEVICE_ID)),
        // secondary-vga: same IDs and vmsd, class "other display" (0x0380), no ROM.
        Builder::Vga
            if d.config[PCI_CLASS_DEVICE + 1] == PCI_BASE_CLASS_DISPLAY
                && d.config[PCI_CLASS_DEVICE] == PCI_CLASS_DISPLAY_OTHER_SUB =>
        {
            "secondary-vga"
        }
        _ => kind.type_name,
    };
    let header = if d.config[PCI_HEADER_TYPE] & PCI_HEADER_TYPE_MASK == PCI_HEADER_TYPE_BRIDGE {
        HeaderKind::Type1
    } else {
        HeaderKind::Type0
    };
    // The IDs only set config bytes, which are replaced by the destination's below.
    let space = ConfigSpace::new_device(&DeviceParams {
        size,
        header,
        identity: DeviceIdentity::default(),
        multifunction: false,
    });
    let std_caps = walk_std(d.config)
        .entries
        .iter()
        .map(|e| (e.id as u8, e.offset))
        .collect();
    let ext_caps = if size == ConfigSize::Express {
        walk_ext(d.config).entries.iter().map(|e| (e.id, e.offset)).collect()
    } else {
        Vec::new()
    };
    let mut c = Ctx {
        d,

        type_name,
        machine,
        space,
        bars: Vec::new(),
        notes: Vec::new(),
        warnings: Vec::new(),
        std_caps,
        ext_caps,
    };
    c.note(format!("machine {}", d.machine));
    match kind.builder {
        Builder::E1000 => e1000(&mut c)?,
        Builder::E1000e => e1000e(&mut c)?,
        Builder::Rtl8139 => rtl8139(&mut c)?,
        Builder::Vmxnet3 => vmxnet3(&mut c)?,
        Builder::Xhci => xhci(&mut c)?,
        Builder::IntelHda => intel_hda(&mut c)?,
        Builder::Virtio => virtio(&mut c)?,
        Builder::PcieRootPort => pcie_root_port(&mut c)?,
        Builder::PciBridge => pci_bridge(&mut c)?,
        Builder::Vga => vga(&mut c)?,
        Builder::PciePciBridge => pcie_pci_bridge(&mut c)?,
        Builder::Ioh3420 => ioh3420(&mut c)?,
        Builder::Simple(bars, rom) => {
            let mut list = Vec::new();
            for &(region, t, size) in bars {
                c.bar(region, t, size)?;
                list.push(format!(
                    "BAR{region} {} {size} B",
                    if t & PCI_BASE_ADDRESS_SPACE_IO != 0 {
                        "I/O"
                    } else {
                        "mem"
                    }
                ));
            }
            c.note(format!("{}; no capabilities", list.join(", ")));
            if let Some(r) = rom {
                c.rom(r)?;
            }
        }
        Builder::Xio3130Up | Builder::Xio3130Down => xio3130(&mut c, kind.builder == Builder::Xio3130Down)?,
        Builder::Mch | Builder::Ich9Lpc | Builder::I440fx | Builder::Piix3 | Builder::Piix4Pm => {
            c.note("header masks only: no BARs, no capabilities (registers at 0x40+ are writable and unchecked)");
        }
        Builder::Ich9Ahci => ich9_ahci(&mut c)?,
        Builder::Ich9Smb => {
            c.bar(4, PCI_BASE_ADDRESS_SPACE_IO, 64)?;
            c.note("BAR4 I/O (SMBus)");
        }
        Builder::PiixIde => {
            c.bar(4, PCI_BASE_ADDRESS_SPACE_IO, 16)?;
            c.note("BAR4 I/O (bus-master DMA)");
        }
    }
    verify_layout(&c)?;
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

// ---- device realizes -----------------------------------------------------------------------------------

const MEM: u8 = PCI_BASE_ADDRESS_SPACE_MEMORY;
const IO: u8 = PCI_BASE_ADDRESS_SPACE_IO;
const MEM64: u8 = PCI_BASE_ADDRESS_SPACE_MEMORY | PCI_BASE_ADDRESS_MEM_TYPE_64;
const MEM64_PREF: u8 = MEM64 | PCI_BASE_ADDRESS_MEM_PREFETCH;

/// MSI geometry from the destination's MSI flags: (vectors, 64-bit, per-vector mask).
fn msi_geometry(c: &Ctx<'_>, pos: usize) -> (u32, bool, bool) {
    let flags = le::word(c.d.config, pos + PCI_MSI_FLAGS);
    let log2 = (flags & PCI_MSI_FLAGS_QMASK) >> PCI_MSI_FLAGS_QMASK_SHIFT;
    (
        1 << log2.min(5),
        flags & PCI_MSI_FLAGS_64BIT != 0,
        flags & PCI_MSI_FLAGS_MASKBIT != 0,
    )
}

fn msi(c: &mut Ctx<'_>, offset: usize, vectors: u32, bit64: bool, mask: bool) -> Result<(), DeviceError> {
    c.space.msi_init(offset, vectors, bit64, mask).map_err(|e| c.err(e))?;
    c.note(format!(
        "msi_init({offset:#x}, {vectors} vector(s), 64-bit {bit64}, per-vector mask {mask})"
    ));
    Ok(())
}

/// pci_e1000_realize: BAR0 MMIO 128 KiB, BAR1 I/O 64 bytes, option ROM efi-e1000.rom. No capabilities.
fn e1000(c: &mut Ctx<'_>) -> Result<(), DeviceError> {
    c.bar(0, MEM, 0x20000)?;
    c.bar(1, IO, 0x40)?;
    c.note("BAR0 mem 128 KiB, BAR1 I/O 64 B; no capabilities");
    c.rom("efi-e1000.rom")
}

/// rtl8139: BAR0 I/O 256 bytes, BAR1 MMIO alias 256 bytes; config[0x34] = 0xdc with no capability
/// (a fixed header byte, checked), option ROM efi-rtl8139.rom.
fn rtl8139(c: &mut Ctx<'_>) -> Result<(), DeviceError> {
    c.bar(0, IO, 0x100)?;
    c.bar(1, MEM, 0x100)?;
    c.note("BAR0 I/O 256 B, BAR1 mem 256 B; capability pointer 0xdc without a capability (checked)");
    // pci_conf[PCI_CAPABILITY_LIST] = 0xdc with Status CAP_LIST clear: walk_std sees no chain.
    c.rom("efi-rtl8139.rom")
}

/// e1000e_pci_realize: four BARs, MSI-X (5 vectors, BAR3, cap 0xa0), PCIe v1 endpoint cap at 0xe0,
/// MSI at 0xd0 (1 vector, 64-bit), PM at 0xc8 with PMCSR wmask/w1cmask set by the device, AER at
/// 0x100 (log_max 0), DSN at 0x140.
fn e1000e(c: &mut Ctx<'_>) -> Result<(), DeviceError> {
    c.bar(0, MEM, 128 * 1024)?;
    c.bar(1, MEM, 128 * 1024)?;
    c.bar(2, IO, 32)?;
    c.bar(3, MEM, 16 * 1024)?;
    let msix_bar = c.space.bars()[3].map(|b| b.size).unwrap_or(16 * 1024);
    c.space
        .msix_init(
            0xa0,
            &MsixLayout {
                nentries: 5,
                table_bar: 3,
                table_offset: 0,
                pba_bar: 3,
                pba_offset: 0x2000,
                bar_sizes: Some((msix_bar, msix_bar)),
            },
        )
        .map_err(|e| c.err(e))?;
    let opts = c.machine.pcie_cap_options();
    c.space
        .pcie_cap_v1_init(0xe0, PCI_EXP_TYPE_ENDPOINT, 0, opts.ext_tag)
        .map_err(|e| c.err(e))?;
    msi(c, 0xd0, 1, true, false)?;
    let pm = c.space.pm_init(0xc8, false).map_err(|e| c.err(e))?;
    // e1000e_add_pm_capability: PMCSR wmask STATE|PME_ENABLE|DATA_SEL, w1cmask PME_STATUS.
    c.space
        .set_le(
            Array::Wmask,
            pm + PCI_PM_CTRL,
            2,
            u64::from(PCI_PM_CTRL_STATE_MASK | PCI_PM_CTRL_PME_ENABLE | PCI_PM_CTRL_DATA_SEL_MASK),
        )
        .map_err(|e| c.err(e))?;
    c.space
        .set_le(Array::W1cmask, pm + PCI_PM_CTRL, 2, u64::from(PCI_PM_CTRL_PME_STATUS))
        .map_err(|e| c.err(e))?;
    aer(c, 0x100, 0)?;
    c.space.dsn_init(0x140, 0).map_err(|e| c.err(e))?;
    c.note(format!(
        "BAR0 mem 128 KiB, BAR1 flash 128 KiB, BAR2 I/O 32 B, BAR3 MSI-X 16 KiB; msix_init(5 vectors, cap 0xa0); \
         pcie_endpoint_cap_v1_init(0xe0, ext-tag {}); msi_init(0xd0); PM at 0xc8 (PMCSR wmask 0x1f03, w1c 0x8000); \
         pcie_aer_init(0x100, x-pcie-err-unc-mask {}); DSN at 0x140",
        opts.ext_tag,
        c.machine.pcie_err_unc_mask()
    ));
    c.rom("efi-e1000e.rom")
}

/// vmxnet3_pci_realize: BAR0/1 4 KiB, BAR2 MSI-X 8 KiB; MSI at 0x84 (1 vector, 64-bit); MSI-X 25
/// vectors at 0x9c (table 0, PBA 0x1000); PCIe endpoint cap at 0x48 only on a PCIe bus; DSN at 0x100
/// when express.
fn vmxnet3(c: &mut Ctx<'_>) -> Result<(), DeviceError> {
    c.bar(0, MEM, 0x1000)?;
    c.bar(1, MEM, 0x1000)?;
    c.bar(2, MEM, 0x2000)?;
    let (msi_off, msix_off, pba) = if c.has_std(CapId::Msi) == Some(0x50) {
        c.note("x-old-msi-offsets (MSI at 0x50, MSI-X auto, PBA 0x800)");
        (0x50, 0, 0x800)
    } else {
        (0x84, 0x9c, 0x1000)
    };
    if c.has_std(CapId::Msi).is_some() {
        msi(c, msi_off, 1, true, false)?;
    }
    let bar2 = c.space.bars()[2].map(|b| b.size).unwrap_or(0x2000);
    c.space
        .msix_init(
            msix_off,
            &MsixLayout {
                nentries: 25,
                table_bar: 2,
                table_offset: 0,
                pba_bar: 2,
                pba_offset: pba,
                bar_sizes: Some((bar2, bar2)),
            },
        )
        .map_err(|e| c.err(e))?;
    if c.space.is_express() {
        if c.has_std(CapId::Exp).is_some() {
            let opts = c.machine.pcie_cap_options();
            c.space
                .pcie_endpoint_cap_init(0x48, false, &opts)
                .map_err(|e| c.err(e))?;
            c.note("pcie_endpoint_cap_init(0x48) (PCIe bus)");
        }
        c.space.dsn_init(0x100, 0).map_err(|e| c.err(e))?;
        c.note("DSN at 0x100");
    }
    c.note("BAR0/BAR1 mem 4 KiB, BAR2 MSI-X 8 KiB; msix_init(25 vectors)");
    c.rom("efi-vmxnet3.rom")
}

/// usb_xhci_pci_realize: MSI at 0x70 (`intrs` vectors, 64-bit), BAR0 64-bit 16 KiB, PCIe endpoint
/// cap at 0xa0 on a PCIe bus, MSI-X at 0x90 (`intrs` vectors in BAR0 at 0x3000/0x3800).
fn xhci(c: &mut Ctx<'_>) -> Result<(), DeviceError> {
    if let Some(pos) = c.has_std(CapId::Msi) {
        let (n, b64, m) = msi_geometry(c, pos);
        msi(c, 0x70, n, b64, m)?;
    }
    c.bar(0, MEM64, 0x4000)?;
    if c.has_std(CapId::Exp).is_some() {
        let opts = c.machine.pcie_cap_options();
        c.space
            .pcie_endpoint_cap_init(0xa0, false, &opts)
            .map_err(|e| c.err(e))?;
        c.note(format!(
            "pcie_endpoint_cap_init(0xa0, ext-tag {}) (PCIe bus)",
            opts.ext_tag
        ));
    }
    if let Some(pos) = c.has_std(CapId::Msix) {
        let n = msix_table_size(le::word(c.d.config, pos + PCI_MSIX_FLAGS));
        let bar0 = c.space.bars()[0].map(|b| b.size).unwrap_or(0x4000);
        c.space
            .msix_init(
                0x90,
                &MsixLayout {
                    nentries: n,
                    table_bar: 0,
                    table_offset: 0x3000,
                    pba_bar: 0,
                    pba_offset: 0x3800,
                    bar_sizes: Some((bar0, bar0)),
                },
            )
            .map_err(|e| c.err(e))?;
        c.note(format!("msix_init(0x90, {n} vectors, BAR0)"));
    }
    c.note("BAR0 mem64 16 KiB");
    Ok(())
}

/// intel_hda_realize: MSI at 0x60 (0x50 with old_msi_addr; 1 vector, 64-bit), BAR0 16 KiB.
fn intel_hda(c: &mut Ctx<'_>) -> Result<(), DeviceError> {
    if let Some(pos) = c.has_std(CapId::Msi) {
        msi(c, pos, 1, true, false)?;
    }
    c.bar(0, MEM, 0x4000)?;
    c.note("BAR0 mem 16 KiB");
    Ok(())
}

/// ich9-ahci (pci_ich9_ahci_realize): BAR4 I/O 32 B (IDP), BAR5 mem 4 KiB (ABAR), SATA cap at 0xa8
/// (8 bytes, read-only), MSI at 0x80 (1 vector, 64-bit).
fn ich9_ahci(c: &mut Ctx<'_>) -> Result<(), DeviceError> {
    c.bar(4, IO, 32)?;
    c.bar(5, MEM, 0x1000)?;
    c.space
        .add_capability(CapId::Sata, 0xa8, SATA_CAP_SIZE, Preset::PciIch9AhciRealize)
        .map_err(|e| c.err(e))?;
    if c.has_std(CapId::Msi).is_some() {
        msi(c, 0x80, 1, true, false)?;
    }
    c.note("BAR4 I/O 32 B, BAR5 mem 4 KiB; SATA cap at 0xa8");
    Ok(())
}

/// Standard capabilities of one ID in the destination, in chain order (head first).
fn dest_caps(c: &Ctx<'_>, id: CapId) -> Vec<usize> {
    c.std_caps.iter().filter(|x| x.0 == id.value()).map(|x| x.1).collect()
}

/// virtio_pci_realize + virtio_pci_device_plugged.
fn virtio(c: &mut Ctx<'_>) -> Result<(), DeviceError> {
    let express = c.space.is_express();
    if express {
        // pcie_port && pci_is_express: PCIe endpoint cap, PM, optional AER, deverr, lnkctl, PM wmask,
        // optional ATS, FLR.
        let opts = c.machine.pcie_cap_options();
        c.space.pcie_endpoint_cap_init(0, false, &opts).map_err(|e| c.err(e))?;
        let old28 = !c.machine.virtio_pcie_pm_init(); // hw_compat_2_8: pm, deverr and lnkctl init off
        let pm = c.space.pm_init(0, !old28).map_err(|e| c.err(e))?;
        let mut last = PCI_CONFIG_SPACE_SIZE;
        let has_aer = c.has_ext(ExtCapId::Err).is_some();
        if has_aer {
            aer(c, last, 0)?;
            last += PCI_ERR_SIZEOF;
        }
        if !old28 {
            c.space.pcie_cap_deverr_init().map_err(|e| c.err(e))?;
            c.space.pcie_cap_lnkctl_init().map_err(|e| c.err(e))?;
        }
        let ats = c.has_ext(ExtCapId::Ats);
        if let Some(off) = ats {
            let aligned = off + PCI_ATS_CAP < c.d.config.len()
                && le::word(c.d.config, off + PCI_ATS_CAP) & PCI_ATS_CAP_PAGE_ALIGNED != 0;
            c.space.ats_init(last, aligned).map_err(|e| c.err(e))?;
        }
        let exp = c.space.exp_cap().unwrap_or(0);
        let flr = le::long(c.d.config, exp + PCI_EXP_DEVCAP) & PCI_EXP_DEVCAP_FLR != 0;
        if flr {
            c.space.pcie_cap_flr_init().map_err(|e| c.err(e))?;
        }
        c.note(format!(
            "PCIe port: pcie_endpoint_cap_init (ext-tag {}), pci_pm_init (PMCSR state wmask {}), aer {has_aer}, \
             deverr/lnkctl {}, ats {}, flr {flr}",
            opts.ext_tag,
            !old28,
            !old28,
            ats.is_some()
        ));
        let _ = pm;
    }
    let vndr = dest_caps(c, CapId::Vndr);
    let modern = !vndr.is_empty();
    let legacy = c.d.config[PCI_BASE_ADDRESS_0] & PCI_BASE_ADDRESS_SPACE_IO != 0 || vndr.is_empty();
    if modern {
        // Chain order is reversed insertion order; cap_len sits at +2 of each.
        let mut caps: Vec<(usize, usize, u8)> = vndr
            .iter()
            .map(|&o| {
                (
                    o,
                    usize::from(c.d.config[o + VIRTIO_PCI_CAP_LEN]),
                    c.d.config[o + VIRTIO_PCI_CAP_CFG_TYPE],
                )
            })
            .collect();
        caps.reverse();
        let mut pio = false;
        for &(_, len, cfg_type) in &caps {
            let notify = VIRTIO_PCI_CAP_NOTIFY_CFG;
            if cfg_type == notify && len == 20 && caps.iter().filter(|x| x.2 == notify).count() == 2 {
                pio = true;
            }
            let off = c
                .space
                .add_capability(CapId::Vndr, 0, len.max(16), Preset::VirtioPciAddMemCap)
                .map_err(|e| c.err(e))?;
            if cfg_type == VIRTIO_PCI_CAP_PCI_CFG {
                // VIRTIO_PCI_CAP_PCI_CFG: bar, offset, length and pci_cfg_data writable.
                let w = |s: &mut ConfigSpace, o: usize, n: usize| s.fill_range(Array::Wmask, o..o + n, 0xff);
                w(&mut c.space, off + VIRTIO_PCI_CAP_BAR, 1).map_err(|e| c.err(e))?;
                w(&mut c.space, off + VIRTIO_PCI_CAP_OFFSET, 4).map_err(|e| c.err(e))?;
                w(&mut c.space, off + VIRTIO_PCI_CAP_LENGTH, 4).map_err(|e| c.err(e))?;
                w(&mut c.space, off + VIRTIO_PCI_CFG_CAP_DATA, 4).map_err(|e| c.err(e))?;
                c.note(format!(
                    "PCI_CFG vendor cap at {off:#x}: +4 (bar), +8..+0x13 (offset, length, data) writable, \
                     unchecked"
                ));
            }
        }
        if pio {
            c.bar(2, IO, 4)?;
        }
        // modern_bar: pow2ceil(notify.offset 0x3000 + notify_off_multiplier * VIRTIO_QUEUE_MAX 1024), the
        // multiplier (4, or 0x1000 with page-per-vq) being in the memory NOTIFY cap at +16.
        let mult = caps
            .iter()
            .find(|x| x.2 == VIRTIO_PCI_CAP_NOTIFY_CFG && c.d.config[x.0 + VIRTIO_PCI_CAP_BAR] == 4)
            .map(|x| u64::from(le::long(c.d.config, x.0 + VIRTIO_PCI_NOTIFY_CAP_MULT)))
            .unwrap_or(4);
        let modern_size = (0x3000 + mult * 1024).next_power_of_two();
        c.bar(4, MEM64_PREF, modern_size)?;
        let list: Vec<String> = caps.iter().map(|x| format!("type {} len {}", x.2, x.1)).collect();
        c.note(format!(
            "modern: vendor caps [{}] auto-placed (cmask 0xff), BAR4 mem64 pref {} KiB{}",
            list.join(", "),
            modern_size / 1024,
            if pio { ", BAR2 I/O 4 B (modern-pio-notify)" } else { "" }
        ));
    }
    if let Some(pos) = c.has_std(CapId::Msix) {
        let n = msix_table_size(le::word(c.d.config, pos + PCI_MSIX_FLAGS));
        c.space.msix_init_exclusive_bar(n, 1).map_err(|e| c.err(e))?;
        if let Some(q) = c
            .query_device()
            .and_then(|q| q.regions.iter().find(|r| r.bar == 1))
            .copied()
        {
            if Some(q.size) != c.space.bars()[1].map(|b| b.size) {
                c.warnings.push(format!(
                    "query-pci BAR1 is {} bytes but msix_init_exclusive_bar({n}) makes {:?}",
                    q.size,
                    c.space.bars()[1].map(|b| b.size)
                ));
            }
        }
        let sz = c.space.bars()[1].map(|b| b.size).unwrap_or(0);
        c.bars.push(ModelBar {
            region: 1,
            bar_type: MEM,
            size: sz,
            source: SizeSource::Model,
        });
        c.note(format!("msix_init_exclusive_bar({n} vectors, BAR1 {sz} B)"));
    }
    if legacy {
        // VIRTIO_PCI_REGION_SIZE (20, 24 with MSI-X) + device config length, rounded up.
        // Observed with QEMU 10.0.2's default features (query-pci): net 32, blk 128, rng 32,
        // balloon/scsi/serial 64.
        let default = match c.type_name {
            "virtio-net-pci" | "virtio-rng-pci" => 32,
            "virtio-blk-pci" => 128,
            _ => 64,
        };
        c.bar(0, IO, default)?;
        c.note("legacy: BAR0 I/O");
    }
    if c.type_name == "virtio-net-pci" {
        c.rom("efi-virtio.rom")?;
    }
    Ok(())
}

/// SHPC capability (shpc_cap_add_config): 8 bytes, dword select (+2) and dword data (+4) writable.
fn shpc_cap(c: &mut Ctx<'_>) -> Result<(), DeviceError> {
    let pos = c
        .space
        .add_capability(CapId::Shpc, 0, SHPC_CAP_LENGTH, Preset::ShpcCapAddConfig)
        .map_err(|e| c.err(e))?;
    c.space
        .fill_range(
            Array::Wmask,
            pos + SHPC_CAP_DWORD_SELECT..pos + SHPC_CAP_DWORD_SELECT + 1,
            0xff,
        )
        .map_err(|e| c.err(e))?;
    c.space
        .fill_range(
            Array::Wmask,
            pos + SHPC_CAP_DWORD_DATA..pos + SHPC_CAP_DWORD_DATA + 4,
            0xff,
        )
        .map_err(|e| c.err(e))?;
    Ok(())
}

/// pcie_pci_bridge_realize (pcie-pci-bridge): pci_bridge_initfn with a conventional secondary bus,
/// SHPC, PCIe v2 cap of type PCI/PCI-X bridge + PM (PMC 3, no wmask) + arifwd + deverr, AER at 0x100,
/// MSI (1 vector, 64-bit, maskable; `msi`), BAR0 mem64 256 B for the SHPC.
fn pcie_pci_bridge(c: &mut Ctx<'_>) -> Result<(), DeviceError> {
    c.space.pci_bridge_initfn(false, c.machine.writeable_slt_bug());
    shpc_cap(c)?;
    let opts = c.machine.pcie_cap_options();
    c.space
        .pcie_cap_init(0, PCI_EXP_TYPE_PCI_BRIDGE, 0, &opts)
        .map_err(|e| c.err(e))?;
    c.space.pm_init(0, false).map_err(|e| c.err(e))?;
    c.space.pcie_cap_arifwd_init().map_err(|e| c.err(e))?;
    c.space.pcie_cap_deverr_init().map_err(|e| c.err(e))?;
    let log_max = aer_log(c, 0);
    aer(c, 0x100, log_max)?;
    if c.has_std(CapId::Msi).is_some() {
        msi(c, 0, 1, true, true)?;
    }
    c.bar(0, MEM64, 256)?;
    c.note(format!(
        "pci_bridge_initfn (conventional secondary), SHPC cap + BAR0 mem64 256 B, pcie_cap_init(PCI bridge, ext-tag \
         {}) + pci_pm_init + arifwd + deverr, pcie_aer_init(0x100, x-pcie-err-unc-mask {})",
        opts.ext_tag,
        c.machine.pcie_err_unc_mask()
    ));
    Ok(())
}

/// SlotOptions from the destination's SLTCAP.
fn slot_options(c: &Ctx<'_>) -> SlotOptions {
    let exp = c.has_std(CapId::Exp).unwrap_or(0);
    let sltcap = if exp != 0 {
        le::long(c.d.config, exp + PCI_EXP_SLTCAP)
    } else {
        0
    };
    SlotOptions {
        slot: (sltcap >> PCI_EXP_SLTCAP_PSN_SHIFT) as u16,
        hotplug: sltcap & PCI_EXP_SLTCAP_HPC != 0,
        power_control: sltcap & PCI_EXP_SLTCAP_PCP != 0,
    }
}

/// AER log_max from the destination's AER capability (MHRC set only with a log), or `default`
/// when the destination has no AER; PCIEPort's `aer_log_max` defaults to 8.
fn aer_log(c: &Ctx<'_>, default: u16) -> u16 {
    c.has_ext(ExtCapId::Err)
        .map(|a| u16::from(le::long(c.d.config, a + PCI_ERR_CAP) & PCI_ERR_CAP_MHRC != 0) * 8)
        .unwrap_or(default)
}

/// AER log_max of a PCIe port.
fn port_aer_log(c: &Ctx<'_>) -> u16 {
    aer_log(c, 8)
}

/// pcie_aer_init at `offset` with QEMU's size and version, `x-pcie-err-unc-mask` from the
/// machine type.
fn aer(c: &mut Ctx<'_>, offset: usize, log_max: u16) -> Result<(), DeviceError> {
    let unc_mask = c.machine.pcie_err_unc_mask();
    c.space
        .aer_init(PCI_ERR_VER, offset, PCI_ERR_SIZEOF, log_max, unc_mask)
        .map_err(|e| c.err(e))
}

/// rp_realize for ioh3420 (Intel X58 root port): SSVID at 0x40 (8086:0000), MSI at 0x60 (2 vectors,
/// 32-bit, maskable), PCIe root-port cap at 0x90 + arifwd/deverr/slot/root, AER at 0x100 + root.
/// No ACS (acs_offset 0), no resource-reserve cap.
fn ioh3420(c: &mut Ctx<'_>) -> Result<(), DeviceError> {
    c.space.pci_bridge_initfn(true, c.machine.writeable_slt_bug());
    c.space.pcie_port_init_reg();
    c.space.ssvid_init(0x40, 0x8086, 0).map_err(|e| c.err(e))?;
    if c.has_std(CapId::Msi).is_some() {
        msi(c, 0x60, 2, false, true)?;
    }
    let opts = c.machine.pcie_cap_options();
    c.space
        .pcie_cap_init(0x90, PCI_EXP_TYPE_ROOT_PORT, 0, &opts)
        .map_err(|e| c.err(e))?;
    c.space.pcie_cap_arifwd_init().map_err(|e| c.err(e))?;
    c.space.pcie_cap_deverr_init().map_err(|e| c.err(e))?;
    let so = slot_options(c);
    c.space.pcie_cap_slot_init(&so).map_err(|e| c.err(e))?;
    c.space.pcie_cap_root_init().map_err(|e| c.err(e))?;
    let log = port_aer_log(c);
    aer(c, 0x100, log)?;
    c.space.aer_root_init().map_err(|e| c.err(e))?;
    c.note(format!(
        "pci_bridge_initfn (PCIe secondary), pcie_port_init_reg, SSVID 0x40, MSI 0x60, pcie_cap_init(root port, \
         0x90) + arifwd/deverr/slot (power controller {})/root, pcie_aer_init(0x100, log {log}) + aer_root_init",
        so.power_control
    ));
    Ok(())
}

/// xio3130_upstream_realize / xio3130_downstream_realize (TI XIO3130 switch ports): MSI at 0x70
/// (1 vector, 64-bit), SSVID at 0x80 (0000:0000), PCIe cap at 0x90 (upstream/downstream) + FLR +
/// deverr (+ slot and arifwd downstream), AER at 0x100.
fn xio3130(c: &mut Ctx<'_>, downstream: bool) -> Result<(), DeviceError> {
    c.space.pci_bridge_initfn(true, c.machine.writeable_slt_bug());
    c.space.pcie_port_init_reg();
    if c.has_std(CapId::Msi).is_some() {
        msi(c, 0x70, 1, true, false)?;
    }
    c.space.ssvid_init(0x80, 0, 0).map_err(|e| c.err(e))?;
    let opts = c.machine.pcie_cap_options();
    let t = if downstream {
        PCI_EXP_TYPE_DOWNSTREAM
    } else {
        PCI_EXP_TYPE_UPSTREAM
    };
    c.space.pcie_cap_init(0x90, t, 0, &opts).map_err(|e| c.err(e))?;
    c.space.pcie_cap_flr_init().map_err(|e| c.err(e))?;
    c.space.pcie_cap_deverr_init().map_err(|e| c.err(e))?;
    if downstream {
        let so = slot_options(c);
        c.space.pcie_cap_slot_init(&so).map_err(|e| c.err(e))?;
        c.space.pcie_cap_arifwd_init().map_err(|e| c.err(e))?;
    }
    let log = port_aer_log(c);
    aer(c, 0x100, log)?;
    c.note(format!(
        "pci_bridge_initfn (PCIe secondary), pcie_port_init_reg, MSI 0x70, SSVID 0x80, pcie_cap_init({}, 0x90) + \
         flr + deverr{}, pcie_aer_init(0x100, log {log})",
        if downstream { "downstream" } else { "upstream" },
        if downstream { " + slot + arifwd" } else { "" }
    ));
    Ok(())
}

/// pci_std_vga_realize / pci_secondary_vga_realize: BAR0 prefetchable 32-bit VRAM (`vgamem_mb`,
/// 16 MiB), BAR2 MMIO 4 KiB (`mmio`, always for secondary-vga), option ROM vgabios-stdvga.bin for
/// VGA only. No capabilities.
fn vga(c: &mut Ctx<'_>) -> Result<(), DeviceError> {
    c.bar(0, MEM | PCI_BASE_ADDRESS_MEM_PREFETCH, 16 << 20)?;
    c.bar(2, MEM, 0x1000)?;
    c.note("BAR0 prefetchable VRAM 16 MiB (vgamem_mb), BAR2 MMIO 4 KiB; no capabilities");
    if c.type_name == "VGA" {
        c.rom("vgabios-stdvga.bin")?;
    }
    Ok(())
}

/// PCIBridgeQemuCap (pci_bridge_qemu_reserve_cap_init): a vendor cap with the reservations.
fn qemu_reserve_cap(c: &mut Ctx<'_>) -> Result<Option<u64>, DeviceError> {
    let Some(pos) = c.has_std(CapId::Vndr) else {
        return Ok(None);
    };
    let len = usize::from(c.d.config[pos + PCI_VNDR_CAP_LEN]);
    c.space
        .add_capability(CapId::Vndr, pos, len.max(2), Preset::PciBridgeQemuReserveCapInit)
        .map_err(|e| c.err(e))?;
    let io_at = pos + QEMU_RESERVE_CAP_IO;
    let io = u64::from(le::long(c.d.config, io_at)) | (u64::from(le::long(c.d.config, io_at + 4)) << 32);
    c.note(format!("QEMU resource-reserve vendor cap at {pos:#x}"));
    Ok(Some(io))
}

/// rp_realize + gen_rp_realize (pcie-root-port).
fn pcie_root_port(c: &mut Ctx<'_>) -> Result<(), DeviceError> {
    let slt_bug = c.machine.writeable_slt_bug();
    c.space.pci_bridge_initfn(true, slt_bug);
    c.space.pcie_port_init_reg();
    c.space.ssvid_init(0, 0x1b36, 0).map_err(|e| c.err(e))?;
    if c.has_std(CapId::Msix).is_some() {
        c.space.msix_init_exclusive_bar(1, 0).map_err(|e| c.err(e))?;
        c.bars.push(ModelBar {
            region: 0,
            bar_type: MEM,
            size: 4096,
            source: SizeSource::Model,
        });
    }
    let exp = c.has_std(CapId::Exp).unwrap_or(0);
    let sltcap = if exp != 0 {
        le::long(c.d.config, exp + PCI_EXP_SLTCAP)
    } else {
        0
    };
    let mut opts = c.machine.pcie_cap_options();
    opts.slot_link = Some(c.machine.pcie_root_port_link());
    c.space
        .pcie_cap_init(0, PCI_EXP_TYPE_ROOT_PORT, 0, &opts)
        .map_err(|e| c.err(e))?;
    c.space.pcie_cap_arifwd_init().map_err(|e| c.err(e))?;
    c.space.pcie_cap_deverr_init().map_err(|e| c.err(e))?;
    c.space
        .pcie_cap_slot_init(&SlotOptions {
            slot: (sltcap >> PCI_EXP_SLTCAP_PSN_SHIFT) as u16,
            hotplug: sltcap & PCI_EXP_SLTCAP_HPC != 0,
            power_control: sltcap & PCI_EXP_SLTCAP_PCP != 0,
        })
        .map_err(|e| c.err(e))?;
    c.space.pcie_cap_root_init().map_err(|e| c.err(e))?;
    let log_max = port_aer_log(c);
    aer(c, 0x100, log_max)?;
    c.space.aer_root_init().map_err(|e| c.err(e))?;
    let acs = c.has_ext(ExtCapId::Acs).is_some();
    if acs {
        c.space.acs_init(0x148, true).map_err(|e| c.err(e))?;
    }
    let io = qemu_reserve_cap(c)?;
    if io == Some(0) {
        let r = c.space.raw_mut();
        r.wmask[PCI_COMMAND] &= !(PCI_COMMAND_IO as u8);
        r.wmask[PCI_IO_BASE] = 0;
        r.wmask[PCI_IO_LIMIT] = 0;
    }
    c.note(format!(
        "pci_bridge_initfn (PCIe secondary, x-pci-express-writeable-slt-bug {slt_bug}), pcie_port_init_reg, \
         ssvid, msix_init_exclusive_bar(1, BAR0 4 KiB), pcie_cap_init(root port) + arifwd/deverr/slot (power \
         controller {})/root, pcie_aer_init(0x100, log {log_max}, x-pcie-err-unc-mask {}) + aer_root_init, acs {acs}",
        sltcap & PCI_EXP_SLTCAP_PCP != 0,
        c.machine.pcie_err_unc_mask()
    ));
    Ok(())
}

/// pci_bridge_dev_realize (pci-bridge): SHPC cap + 64-bit BAR0 (when `shpc`), slot-ID cap, MSI (1
/// vector, 64-bit, maskable; only with SHPC), optional reserve cap.
fn pci_bridge(c: &mut Ctx<'_>) -> Result<(), DeviceError> {
    c.space.pci_bridge_initfn(false, c.machine.writeable_slt_bug());
    let shpc = c.has_std(CapId::Shpc).is_some();
    if shpc {
        shpc_cap(c)?;
    }
    // slotid_cap_init(nslots 0, chassis, offset 0): 4 bytes, ESR cmask 0xff, chassis number writable.
    let sid = c
        .space
        .add_capability(CapId::SlotId, 0, SLOTID_CAP_LENGTH, Preset::SlotidCapInit)
        .map_err(|e| c.err(e))?;
    c.space
        .fill_range(Array::Cmask, sid + PCI_SID_ESR..sid + PCI_SID_ESR + 1, 0xff)
        .map_err(|e| c.err(e))?;
    c.space
        .fill_range(
            Array::Wmask,
            sid + PCI_SID_CHASSIS_NR..sid + PCI_SID_CHASSIS_NR + 1,
            0xff,
        )
        .map_err(|e| c.err(e))?;
    if c.has_std(CapId::Msi).is_some() {
        msi(c, 0, 1, true, true)?;
    }
    qemu_reserve_cap(c)?;
    if shpc {
        // shpc_bar_size: pow2roundup32(SHPC_SLOT_REG(SHPC_MAX_SLOTS)) = 256 bytes.
        c.bar(0, MEM64, 256)?;
    }
    c.note(format!(
        "pci_bridge_initfn (conventional secondary), {}, slotid_cap_init (ESR checked, chassis writable)",
        if shpc {
            "SHPC cap (dword select +2 and data +4 writable) + BAR0 mem64 256 B + MSI (1 vector, maskable)"
        } else {
            "no SHPC (shpc=off), no MSI"
        }
    ));
    Ok(())
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
        })
        .unwrap();
        assert_eq!(d.space.checked()[0x10], 0xff);
        assert_eq!(d.space.checked()[0x11], 0xff);
        assert_eq!(d.space.checked()[0x12], 0x01);
        assert_eq!(d.space.checked()[0x14], 0x3f);
        assert_eq!(d.space.config(), &cfg[..]);
    }
}
