//! virtio-pci proxies (hw/virtio/virtio-pci.c): virtio_pci_realize, then
//! virtio_pci_device_plugged when the backend device is plugged.

use super::caps::aer;
use super::ctx::{Ctx, IO, MEM, MEM64_PREF};
use super::rom::pci_add_option_rom;
use super::{DeviceError, ModelBar, SizeSource};
use pcimig_config::le;
use pcimig_config::presets::msix_table_size;
use pcimig_config::regs::*;
use pcimig_config::{Array, CapId, ConfigSpace, ExtCapId, Preset};

/// Transitional (0x1000..) and modern (0x1040..) virtio-pci device IDs the table lists.
pub(super) const VIRTIO_IDS: &[u16] = &[
    0x1000, 0x1001, 0x1002, 0x1003, 0x1004, 0x1005, 0x1009, 0x1041, 0x1042, 0x1043, 0x1044, 0x1045, 0x1048, 0x1049,
    0x1050, 0x1052, 0x1053,
];

/// Any virtio-pci proxy: transitional IDs 0x1000-0x103f, modern 0x1040-0x107f, with a `virtio*` vmsd.
pub(super) fn is_virtio_pci_proxy(vmsd: &str, device: u16) -> bool {
    (0x1000..=0x107f).contains(&device) && vmsd.starts_with("virtio")
}

// virtio-pci.c: the proxy's BAR indexes, the modern notify region and sizes of its caps.
const LEGACY_IO_BAR_IDX: usize = 0;
const MSIX_BAR_IDX: usize = 1;
const MODERN_IO_BAR_IDX: usize = 2;
const MODERN_MEM_BAR_IDX: usize = 4;
/// virtio_pci_realize: notify.offset (after common, isr and device regions).
const VIRTIO_PCI_NOTIFY_OFFSET: u64 = 0x3000;
/// VIRTIO_QUEUE_MAX.
const VIRTIO_QUEUE_MAX: u64 = 1024;
/// notify_off_multiplier without `page-per-vq` (QEMU_VIRTIO_PCI_QUEUE_MEM_MULT with it).
const VIRTIO_PCI_NOTIFY_MULT_DEFAULT: u64 = 4;
/// sizeof(struct virtio_pci_notify_cap), also the PIO notify cap's length.
const VIRTIO_PCI_NOTIFY_CAP_SIZE: usize = 20;
/// sizeof(struct virtio_pci_cap).
const VIRTIO_PCI_CAP_SIZE: usize = 16;
/// The modern-pio-notify region (BAR2) size.
const VIRTIO_PCI_PIO_NOTIFY_SIZE: u64 = 4;

/// The QEMU type of a virtio-pci proxy from its device ID (or its vmsd for IDs the table does not
/// name).
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

/// virtio_pci_realize + virtio_pci_device_plugged.
pub(super) fn virtio_pci_realize(c: &mut Ctx<'_>) -> Result<(), DeviceError> {
    c.type_name = virtio_type_name(super::vmsd_of(c.d.idstr), le::word(c.d.config, PCI_DEVICE_ID));
    if c.space.is_express() {
        virtio_pci_express_init(c)?;
    }
    virtio_pci_device_plugged(c)
}

/// virtio_pci_realize's `pcie_port && pci_is_express` branch: PCIe endpoint cap, PM, optional AER,
/// deverr, lnkctl, PM wmask, optional ATS, FLR.
fn virtio_pci_express_init(c: &mut Ctx<'_>) -> Result<(), DeviceError> {
    let opts = c.machine.pcie_cap_options();
    c.space.pcie_endpoint_cap_init(0, false, &opts).map_err(|e| c.err(e))?;
    let pm_init = c.machine.virtio_pcie_pm_init(); // hw_compat_2_8: pm, deverr and lnkctl init off
    c.space.pm_init(0, pm_init).map_err(|e| c.err(e))?;
    let mut last = PCI_CONFIG_SPACE_SIZE;
    let has_aer = c.has_ext(ExtCapId::Err).is_some();
    if has_aer {
        aer(c, last, 0)?;
        last += PCI_ERR_SIZEOF;
    }
    if pm_init {
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
        "PCIe port: pcie_endpoint_cap_init (ext-tag {}), pci_pm_init (PMCSR state wmask {pm_init}), aer {has_aer}, \
         deverr/lnkctl {pm_init}, ats {}, flr {flr}",
        opts.ext_tag,
        ats.is_some()
    ));
    Ok(())
}

/// virtio_pci_device_plugged: the modern vendor caps and BARs, MSI-X, the legacy I/O BAR and
/// (virtio-net-pci) the option ROM.
fn virtio_pci_device_plugged(c: &mut Ctx<'_>) -> Result<(), DeviceError> {
    let vndr = c.dest_caps(CapId::Vndr);
    let modern = !vndr.is_empty();
    let legacy = c.byte(PCI_BASE_ADDRESS_0) & PCI_BASE_ADDRESS_SPACE_IO != 0 || vndr.is_empty();
    if modern {
        virtio_pci_modern_regions(c, &vndr)?;
    }
    if let Some(pos) = c.has_std(CapId::Msix) {
        virtio_pci_msix_init(c, pos)?;
    }
    if legacy {
        virtio_pci_legacy_io_bar(c)?;
    }
    if c.type_name == "virtio-net-pci" {
        pci_add_option_rom(c, "efi-virtio.rom")?;
    }
    Ok(())
}

/// One modern vendor capability of the destination: (offset, cap_len, cfg_type).
type VirtioCap = (usize, usize, u8);

/// The modern regions: virtio_pci_modern_mem_region_map/virtio_pci_modern_io_region_map add one
/// vendor cap per region (auto-placed, read-only), then the PCI_CFG cap with its access window
/// writable; BAR2 I/O with `modern-pio-notify`, BAR4 the memory regions.
fn virtio_pci_modern_regions(c: &mut Ctx<'_>, vndr: &[usize]) -> Result<(), DeviceError> {
    // Chain order is reversed insertion order; cap_len sits at +2 of each.
    let mut caps: Vec<VirtioCap> = vndr
        .iter()
        .map(|&o| {
            (
                o,
                usize::from(c.byte(o + VIRTIO_PCI_CAP_LEN)),
                c.byte(o + VIRTIO_PCI_CAP_CFG_TYPE),
            )
        })
        .collect();
    caps.reverse();
    let notify_caps = caps.iter().filter(|x| x.2 == VIRTIO_PCI_CAP_NOTIFY_CFG).count();
    let mut pio = false;
    for &(_, len, cfg_type) in &caps {
        if cfg_type == VIRTIO_PCI_CAP_NOTIFY_CFG && len == VIRTIO_PCI_NOTIFY_CAP_SIZE && notify_caps == 2 {
            pio = true;
        }
        let off = c
            .space
            .add_capability(CapId::Vndr, 0, len.max(VIRTIO_PCI_CAP_SIZE), Preset::VirtioPciAddMemCap)
            .map_err(|e| c.err(e))?;
        if cfg_type == VIRTIO_PCI_CAP_PCI_CFG {
            virtio_pci_cfg_cap_wmask(c, off)?;
        }
    }
    if pio {
        c.bar(MODERN_IO_BAR_IDX, IO, VIRTIO_PCI_PIO_NOTIFY_SIZE)?;
    }
    let modern_size = virtio_pci_modern_bar_size(c, &caps);
    c.bar(MODERN_MEM_BAR_IDX, MEM64_PREF, modern_size)?;
    let list: Vec<String> = caps.iter().map(|x| format!("type {} len {}", x.2, x.1)).collect();
    c.note(format!(
        "modern: vendor caps [{}] auto-placed (cmask 0xff), BAR4 mem64 pref {} KiB{}",
        list.join(", "),
        modern_size / 1024,
        if pio { ", BAR2 I/O 4 B (modern-pio-notify)" } else { "" }
    ));
    Ok(())
}

/// virtio_pci_device_plugged on the VIRTIO_PCI_CAP_PCI_CFG cap: bar, offset, length and
/// pci_cfg_data writable.
fn virtio_pci_cfg_cap_wmask(c: &mut Ctx<'_>, off: usize) -> Result<(), DeviceError> {
    let w = |s: &mut ConfigSpace, o: usize, n: usize| s.fill_range(Array::Wmask, o..o + n, 0xff);
    w(&mut c.space, off + VIRTIO_PCI_CAP_BAR, 1).map_err(|e| c.err(e))?;
    w(&mut c.space, off + VIRTIO_PCI_CAP_OFFSET, 4).map_err(|e| c.err(e))?;
    w(&mut c.space, off + VIRTIO_PCI_CAP_LENGTH, 4).map_err(|e| c.err(e))?;
    w(&mut c.space, off + VIRTIO_PCI_CFG_CAP_DATA, 4).map_err(|e| c.err(e))?;
    c.note(format!(
        "PCI_CFG vendor cap at {off:#x}: +4 (bar), +8..+0x13 (offset, length, data) writable, unchecked"
    ));
    Ok(())
}

/// modern_bar size: pow2ceil(notify.offset 0x3000 + notify_off_multiplier * VIRTIO_QUEUE_MAX), the
/// multiplier (4, or 0x1000 with page-per-vq) being in the memory NOTIFY cap at +16.
fn virtio_pci_modern_bar_size(c: &Ctx<'_>, caps: &[VirtioCap]) -> u64 {
    let mult = caps
        .iter()
        .find(|x| {
            x.2 == VIRTIO_PCI_CAP_NOTIFY_CFG && usize::from(c.byte(x.0 + VIRTIO_PCI_CAP_BAR)) == MODERN_MEM_BAR_IDX
        })
        .map(|x| u64::from(le::long(c.d.config, x.0 + VIRTIO_PCI_NOTIFY_CAP_MULT)))
        .unwrap_or(VIRTIO_PCI_NOTIFY_MULT_DEFAULT);
    (VIRTIO_PCI_NOTIFY_OFFSET + mult * VIRTIO_QUEUE_MAX).next_power_of_two()
}

/// msix_init_exclusive_bar(`vectors`, BAR1), the vector count read from the destination's MSI-X
/// capability at `pos`; query-pci's BAR1 only cross-checks it.
fn virtio_pci_msix_init(c: &mut Ctx<'_>, pos: usize) -> Result<(), DeviceError> {
    let n = msix_table_size(le::word(c.d.config, pos + PCI_MSIX_FLAGS));
    c.space
        .msix_init_exclusive_bar(n, MSIX_BAR_IDX as u8)
        .map_err(|e| c.err(e))?;
    let built = c.space.bars()[MSIX_BAR_IDX].map(|b| b.size);
    if let Some(q) = c.query_region_size(MSIX_BAR_IDX) {
        if Some(q) != built {
            c.warn(format!(
                "query-pci BAR1 is {q} bytes but msix_init_exclusive_bar({n}) makes {built:?}"
            ));
        }
    }
    let sz = built.unwrap_or(0);
    c.bars.push(ModelBar {
        region: MSIX_BAR_IDX,
        bar_type: MEM,
        size: sz,
        source: SizeSource::Model,
    });
    c.note(format!("msix_init_exclusive_bar({n} vectors, BAR1 {sz} B)"));
    Ok(())
}

/// The legacy I/O BAR0: VIRTIO_PCI_REGION_SIZE (20, 24 with MSI-X) + device config length,
/// rounded up. Observed with QEMU 10.0.2's default features (query-pci): net 32, blk 128, rng 32,
/// balloon/scsi/serial 64.
fn virtio_pci_legacy_io_bar(c: &mut Ctx<'_>) -> Result<(), DeviceError> {
    let default = match c.type_name {
        "virtio-net-pci" | "virtio-rng-pci" => 32,
        "virtio-blk-pci" => 128,
        _ => 64,
    };
    c.bar(LEGACY_IO_BAR_IDX, IO, default)?;
    c.note("legacy: BAR0 I/O");
    Ok(())
}
