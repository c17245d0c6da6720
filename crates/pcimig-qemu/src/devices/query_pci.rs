//! The destination's QMP `query-pci` answer: BAR and ROM sizes per device path.

use super::DeviceError;

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
