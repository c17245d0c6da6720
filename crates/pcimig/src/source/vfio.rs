//! Config space read through VFIO: `vfio:/dev/vfio/N#DDDD:BB:DD.F` opens the device of IOMMU
//! group N with the rust-vmm `vfio-ioctls` crate and reads its config region
//! (`VFIO_PCI_CONFIG_REGION_INDEX`), i.e. the config as the host's vfio-pci driver presents it.
//! Built only with the `vfio` cargo feature; without it the scheme is a clear error.

use super::lspci::Bdf;
use super::{ConfigSource, SourceError, SourceSpec, Truncation};
use pcimig_config::regs::{PCIE_CONFIG_SPACE_SIZE, PCI_CONFIG_SPACE_SIZE};
use std::path::Path;

fn target(spec: &SourceSpec) -> Result<(String, Bdf), SourceError> {
    let group = spec
        .path
        .strip_prefix("/dev/vfio/")
        .filter(|g| !g.is_empty() && g.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| SourceError::new(&spec.raw, "expected vfio:/dev/vfio/N#DDDD:BB:DD.F (N: the IOMMU group)"))?;
    let sel = spec.selector.as_deref().ok_or_else(|| {
        SourceError::new(
            &spec.raw,
            "a VFIO group can hold several devices: name one with #DDDD:BB:DD.F",
        )
    })?;
    let bdf = Bdf::parse(sel)
        .ok_or_else(|| SourceError::new(&spec.raw, format!("'#{sel}' is not a device address (DDDD:BB:DD.F)")))?;
    Ok((group.to_string(), bdf))
}

/// Check the device belongs to the group the SRC names (from sysfs `iommu_group`).
fn check_group(spec: &SourceSpec, group: &str, bdf: &Bdf) -> Result<std::path::PathBuf, SourceError> {
    let dev = super::sysfs::devices_root().join(bdf.full());
    if !dev.is_dir() {
        return Err(SourceError::new(
            &spec.raw,
            format!("no such PCI device ({} does not exist)", dev.display()),
        ));
    }
    let actual = std::fs::read_link(dev.join("iommu_group"))
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()));
    match actual {
        Some(g) if g == group => Ok(dev),
        Some(g) => Err(SourceError::new(
            &spec.raw,
            format!(
                "{} is in IOMMU group {g}, not {group}: use vfio:/dev/vfio/{g}#{}",
                bdf.full(),
                bdf.full()
            ),
        )),
        None => Err(SourceError::new(
            &spec.raw,
            format!("{} has no IOMMU group (is the IOMMU enabled?)", bdf.full()),
        )),
    }
}

#[cfg(feature = "vfio")]
fn read_region(spec: &SourceSpec, sysfs_dev: &Path) -> Result<Vec<u8>, SourceError> {
    use std::sync::Arc;
    use vfio_bindings::bindings::vfio::VFIO_PCI_CONFIG_REGION_INDEX;
    use vfio_ioctls::{VfioContainer, VfioDevice};
    let container = VfioContainer::new(None)
        .map_err(|e| SourceError::new(&spec.raw, format!("cannot open the VFIO container /dev/vfio/vfio: {e}")))?;
    let device = VfioDevice::new(sysfs_dev, Arc::new(container), false).map_err(|e| {
        SourceError::new(
            &spec.raw,
            format!("cannot open the device through VFIO (is it bound to vfio-pci?): {e}"),
        )
    })?;
    let size = device
        .get_region_size(VFIO_PCI_CONFIG_REGION_INDEX)
        .min(PCIE_CONFIG_SPACE_SIZE as u64) as usize;
    if size == 0 {
        return Err(SourceError::new(&spec.raw, "the device has no VFIO config region"));
    }
    let mut bytes = vec![0u8; size];
    // Dword reads, as the kernel's vfio-pci config handlers prefer aligned accesses.
    const DWORD: usize = 4;
    for (i, chunk) in bytes.chunks_mut(DWORD).enumerate() {
        device.region_read(VFIO_PCI_CONFIG_REGION_INDEX, chunk, (i * DWORD) as u64);
    }
    Ok(bytes)
}

#[cfg(not(feature = "vfio"))]
fn read_region(spec: &SourceSpec, _sysfs_dev: &Path) -> Result<Vec<u8>, SourceError> {
    Err(SourceError::new(
        &spec.raw,
        "this pcimig was built without VFIO support: rebuild with `--features vfio`, or read sysfs:BDF as root",
    ))
}

/// Read the device a `vfio:/dev/vfio/N#BDF` names.
pub(super) fn load(spec: &SourceSpec) -> Result<Vec<ConfigSource>, SourceError> {
    let (group, bdf) = target(spec)?;
    if !cfg!(feature = "vfio") {
        return read_region(spec, Path::new("")).map(|_| Vec::new());
    }
    let dev = check_group(spec, &group, &bdf)?;
    let bytes = read_region(spec, &dev)?;
    let mut src = ConfigSource::physical(spec.raw.clone(), Vec::new());
    src.bdf = Some(bdf.full());
    if bytes.len() != PCI_CONFIG_SPACE_SIZE && bytes.len() != PCIE_CONFIG_SPACE_SIZE {
        let full = if bytes.len() < PCI_CONFIG_SPACE_SIZE {
            PCI_CONFIG_SPACE_SIZE
        } else {
            PCIE_CONFIG_SPACE_SIZE
        };
        src.truncated = Some(Truncation {
            have: bytes.len(),
            full,
        });
        src.warnings.push(format!(
            "{}: the VFIO config region has {} bytes, a truncated view",
            spec.raw,
            bytes.len()
        ));
    }
    if let Ok(text) = std::fs::read_to_string(dev.join("resource")) {
        src.bar_sizes = Some(super::sysfs::parse_resource(&text));
    }
    src.driver = std::fs::read_link(dev.join("driver"))
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()));
    src.bytes = bytes;
    Ok(vec![src])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vfio_src_needs_a_group_path_and_a_bdf() {
        let e = target(&SourceSpec::parse("vfio:/dev/vfio/12")).unwrap_err();
        assert!(e.message.contains("#DDDD:BB:DD.F"), "{e}");
        let e = target(&SourceSpec::parse("vfio:/tmp/x#0000:01:00.0")).unwrap_err();
        assert!(e.message.contains("/dev/vfio/N"), "{e}");
        let (g, b) = target(&SourceSpec::parse("vfio:/dev/vfio/12#0000:3b:00.0")).unwrap();
        assert_eq!((g.as_str(), b.full().as_str()), ("12", "0000:3b:00.0"));
    }
}
