//! The realize context: what one device's realize reads (the destination's bytes and capability
//! chains, the machine type, query-pci) and what it builds (the space, BARs, notes, warnings).

use super::query_pci::QueryDevice;
use super::{Destination, DeviceError, ModelBar, SizeSource};
use pcimig_config::regs::*;
use pcimig_config::{walk_ext, walk_std, CapId, ConfigError, ConfigSpace, ExtCapId, MachineType};

/// Memory BAR.
pub(super) const MEM: u8 = PCI_BASE_ADDRESS_SPACE_MEMORY;
/// I/O BAR.
pub(super) const IO: u8 = PCI_BASE_ADDRESS_SPACE_IO;
/// 64-bit memory BAR.
pub(super) const MEM64: u8 = PCI_BASE_ADDRESS_SPACE_MEMORY | PCI_BASE_ADDRESS_MEM_TYPE_64;
/// 64-bit prefetchable memory BAR.
pub(super) const MEM64_PREF: u8 = MEM64 | PCI_BASE_ADDRESS_MEM_PREFETCH;

/// One device's realize in progress.
pub(crate) struct Ctx<'a> {
    /// The inputs.
    pub(super) d: &'a Destination<'a>,
    /// The QEMU type being realized (a realize may refine the row's name, e.g. `secondary-vga`).
    pub(super) type_name: &'static str,
    /// The destination's machine type (compat properties).
    pub(super) machine: MachineType,
    /// The space being built: header masks of do_pci_register_device, then the realize's.
    pub(super) space: ConfigSpace,
    /// BARs registered.
    pub(super) bars: Vec<ModelBar>,
    /// How the model was shaped.
    pub(super) notes: Vec<String>,
    /// What the model had to assume.
    pub(super) warnings: Vec<String>,
    /// The destination's standard capabilities (ID, offset), in chain order.
    pub(super) std_caps: Vec<(u8, usize)>,
    /// The destination's extended capabilities (ID, offset), in chain order.
    pub(super) ext_caps: Vec<(u16, usize)>,
}

impl<'a> Ctx<'a> {
    /// A context over `space` (header masks only) for the destination `d`.
    pub(super) fn new(
        d: &'a Destination<'a>,
        type_name: &'static str,
        machine: MachineType,
        space: ConfigSpace,
    ) -> Self {
        let std_caps = walk_std(d.config)
            .entries
            .iter()
            .map(|e| (e.id as u8, e.offset))
            .collect();
        let ext_caps = if space.size() == PCIE_CONFIG_SPACE_SIZE {
            walk_ext(d.config).entries.iter().map(|e| (e.id, e.offset)).collect()
        } else {
            Vec::new()
        };
        Ctx {
            d,
            type_name,
            machine,
            space,
            bars: Vec::new(),
            notes: Vec::new(),
            warnings: Vec::new(),
            std_caps,
            ext_caps,
        }
    }
}

impl Ctx<'_> {
    /// A model-building step failed.
    pub(super) fn err(&self, source: ConfigError) -> DeviceError {
        DeviceError::Config {
            idstr: self.d.idstr.to_string(),
            type_name: self.type_name,
            source,
        }
    }

    /// The destination's bytes do not look like what the realize builds.
    pub(super) fn layout(&self, why: impl Into<String>) -> DeviceError {
        DeviceError::Layout {
            idstr: self.d.idstr.to_string(),
            type_name: self.type_name,
            why: why.into(),
        }
    }

    /// Offset of the destination's first standard capability `id`.
    pub(super) fn has_std(&self, id: CapId) -> Option<usize> {
        self.std_caps.iter().find(|c| c.0 == id.value()).map(|c| c.1)
    }

    /// Offset of the destination's first extended capability `id`.
    pub(super) fn has_ext(&self, id: ExtCapId) -> Option<usize> {
        self.ext_caps.iter().find(|c| c.0 == id.value()).map(|c| c.1)
    }

    /// Standard capabilities of one ID in the destination, in chain order (head first).
    pub(super) fn dest_caps(&self, id: CapId) -> Vec<usize> {
        self.std_caps
            .iter()
            .filter(|x| x.0 == id.value())
            .map(|x| x.1)
            .collect()
    }

    /// The destination's byte at `off`.
    pub(super) fn byte(&self, off: usize) -> u8 {
        self.d.config[off]
    }

    /// This device in the destination's query-pci answer.
    pub(super) fn query_device(&self) -> Option<&QueryDevice> {
        let path = self.d.idstr.rsplit_once('/').map(|p| p.0).unwrap_or(self.d.idstr);
        self.d.query_pci.and_then(|q| q.find(path))
    }

    /// Size of `region` (`PCI_ROM_SLOT` for the ROM) in query-pci, if it lists one.
    pub(super) fn query_region_size(&self, region: usize) -> Option<u64> {
        self.query_device()
            .and_then(|q| q.regions.iter().find(|r| r.bar == region))
            .map(|r| r.size)
    }

    /// pci_register_bar with QEMU's constant `size`, overridden by query-pci.
    pub(super) fn bar(&mut self, region: usize, bar_type: u8, size: u64) -> Result<(), DeviceError> {
        let (size, source) = match self.query_region_size(region) {
            Some(s) => (s, SizeSource::QueryPci),
            None => (size, SizeSource::Model),
        };
        self.register_bar(region, bar_type, size, source)
    }

    /// pci_register_bar with a size already decided.
    pub(super) fn register_bar(
        &mut self,
        region: usize,
        bar_type: u8,
        size: u64,
        source: SizeSource,
    ) -> Result<(), DeviceError> {
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

    /// Size of a BAR the space has registered, or `default`.
    pub(super) fn bar_size(&self, region: usize, default: u64) -> u64 {
        self.space.bars()[region].map(|b| b.size).unwrap_or(default)
    }

    /// One line of how the model was shaped.
    pub(super) fn note(&mut self, s: impl Into<String>) {
        self.notes.push(s.into());
    }

    /// One thing the model had to assume.
    pub(super) fn warn(&mut self, s: impl Into<String>) {
        self.warnings.push(s.into());
    }
}
