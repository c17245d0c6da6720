//! QEMU's `vmstate_pci_device` ("PCIDevice", version 2) wire format, so a Rust VMM can produce
//! and consume device state that QEMU loads and saves:
//!
//! | field | encoding |
//! |---|---|
//! | `version_id` ("int32 le": less-or-equal) | be32, 0 <= v <= the device's version_id (2) |
//! | `config` | 256 or 4096 raw bytes; the size is implied by the destination |
//! | `irq_state` | 4 × be32, each 0 or 1 |

use crate::check::{restore_check, Mismatch};
use crate::error::ConfigError;
use crate::regs::{PCI_STATUS, PCI_STATUS_INTERRUPT};
use crate::space::ConfigSpace;
use thiserror::Error;

/// vmstate_pci_device's version_id, the value a device starts with.
pub const PCI_DEVICE_VMSTATE_VERSION: i32 = 2;
/// Number of INTx pins (PCI_NUM_PINS).
pub const PCI_NUM_PINS: usize = 4;

/// Errors decoding or loading a PCIDevice state. Messages are QEMU's where QEMU has one.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum VmstateError {
    /// Fewer bytes than the layout needs.
    #[error("PCIDevice state truncated at byte {at}: {needed} bytes needed for {what}, {available} available")]
    Truncated {
        /// Offset in the state where the field starts.
        at: usize,
        /// Bytes the field needs.
        needed: usize,
        /// Bytes left.
        available: usize,
        /// The field.
        what: &'static str,
    },
    /// QEMU's get_int32_le failure.
    #[error("Invalid value {loaded} expecting positive value <= {current}")]
    Version {
        /// The incoming version_id.
        loaded: i32,
        /// The device's version_id.
        current: i32,
    },
    /// QEMU's get_pci_irq_state failure (printed with a plain fprintf, no program prefix).
    #[error("irq state {0}: must be 0 or 1.")]
    IrqState(i32),
    /// The restore check failed at this byte (QEMU prints [`Mismatch::qemu_line`]).
    #[error("{}", .0.qemu_line())]
    BadConfig(Box<Mismatch>),
    /// The model refused the input (size).
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// The fields of one PCIDevice state.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PciDeviceState {
    /// The int32 version field (2 when written by current QEMU).
    pub version_id: i32,
    /// The config bytes (256 or 4096).
    pub config: Vec<u8>,
    /// INTx levels, each 0 or 1 when valid.
    pub irq_state: [u32; PCI_NUM_PINS],
}

impl PciDeviceState {
    /// Encoded size for a config of `config_size` bytes.
    pub fn encoded_len(config_size: usize) -> usize {
        4 + config_size + 4 * PCI_NUM_PINS
    }

    /// Encode as QEMU writes it.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(Self::encoded_len(self.config.len()));
        out.extend_from_slice(&self.version_id.to_be_bytes());
        out.extend_from_slice(&self.config);
        for v in self.irq_state {
            out.extend_from_slice(&v.to_be_bytes());
        }
        out
    }

    /// Decode the fields (no validation of their values) from the start of `bytes`, with the
    /// config size implied by the destination (`config_size`, 256 or 4096). Returns the state
    /// and the number of bytes consumed.
    pub fn decode(bytes: &[u8], config_size: usize) -> Result<(Self, usize), VmstateError> {
        crate::space::ConfigSize::from_len(config_size)?;
        let take = |at: usize, n: usize, what: &'static str| -> Result<&[u8], VmstateError> {
            bytes.get(at..at + n).ok_or(VmstateError::Truncated {
                at,
                needed: n,
                available: bytes.len().saturating_sub(at),
                what,
            })
        };
        let v = take(0, 4, "version_id")?;
        let version_id = i32::from_be_bytes([v[0], v[1], v[2], v[3]]);
        let config = take(4, config_size, "config")?.to_vec();
        let mut irq_state = [0u32; PCI_NUM_PINS];
        for (i, slot) in irq_state.iter_mut().enumerate() {
            let b = take(4 + config_size + 4 * i, 4, "irq_state")?;
            *slot = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        }
        Ok((
            PciDeviceState {
                version_id,
                config,
                irq_state,
            },
            Self::encoded_len(config_size),
        ))
    }
}

/// How the state is embedded, which decides what happens to Status bit 0x08 (INTERRUPT).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Embedding {
    /// VMSTATE_PCI_DEVICE inside a device's vmsd (e1000, root ports, vfio): config as is.
    Struct,
    /// pci_device_save / pci_device_load (virtio-pci): Status INTERRUPT cleared before saving
    /// and recomputed from irq_state after loading.
    SaveLoad,
}

impl ConfigSpace {
    /// The state QEMU would save for this device (version 2, the config bytes, `irq_state`).
    pub fn save_state(&self, irq_state: [u32; PCI_NUM_PINS], embedding: Embedding) -> PciDeviceState {
        let mut config = self.config.clone();
        if embedding == Embedding::SaveLoad {
            config[PCI_STATUS] &= !(PCI_STATUS_INTERRUPT as u8);
        }
        PciDeviceState {
            version_id: PCI_DEVICE_VMSTATE_VERSION,
            config,
            irq_state,
        }
    }

    /// Load an encoded state into this device as QEMU does: version_id must be 0..=2
    /// (get_int32_le), then the config is checked (get_pci_config_device) and, when it passes,
    /// copied whole; then each irq_state word must be 0 or 1 (get_pci_irq_state; the config has
    /// already been copied when this fails, as in QEMU). With [`Embedding::SaveLoad`] the Status
    /// INTERRUPT bit is recomputed from irq_state afterwards (cleared when irq_state was
    /// refused: the destination's own INTx levels, none asserted, are kept). Returns the decoded state and the
    /// number of bytes consumed.
    pub fn load_state(&mut self, bytes: &[u8], embedding: Embedding) -> Result<(PciDeviceState, usize), VmstateError> {
        let (state, used) = PciDeviceState::decode(bytes, self.size())?;
        if !(0..=PCI_DEVICE_VMSTATE_VERSION).contains(&state.version_id) {
            return Err(VmstateError::Version {
                loaded: state.version_id,
                current: PCI_DEVICE_VMSTATE_VERSION,
            });
        }
        let report = restore_check(&state.config, self)?;
        if let Some(first) = report.mismatches.into_iter().next() {
            return Err(VmstateError::BadConfig(Box::new(first)));
        }
        self.config.copy_from_slice(&state.config);
        let result = state
            .irq_state
            .iter()
            .find(|&&v| v > 1)
            .map(|&v| VmstateError::IrqState(v as i32));
        if embedding == Embedding::SaveLoad {
            // pci_device_load recomputes the bit from the device's irq_state, which
            // get_pci_irq_state updates only when all four words are valid. On failure it keeps
            // the destination's own levels: none asserted on a device waiting for an incoming
            // migration (the model does not track INTx levels otherwise).
            let any = result.is_none() && state.irq_state.contains(&1);
            let st = if any {
                self.config[PCI_STATUS] | PCI_STATUS_INTERRUPT as u8
            } else {
                self.config[PCI_STATUS] & !(PCI_STATUS_INTERRUPT as u8)
            };
            self.config[PCI_STATUS] = st;
        }
        match result {
            Some(e) => Err(e),
            None => Ok((state, used)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::{DeviceIdentity, DeviceParams, HeaderKind};
    use crate::space::ConfigSize;

    fn dev() -> ConfigSpace {
        ConfigSpace::new_device(&DeviceParams {
            size: ConfigSize::Conventional,
            header: HeaderKind::Type0,
            identity: DeviceIdentity {
                vendor_id: 0x1af4,
                device_id: 0x1000,
                class_id: 0x0200,
                ..Default::default()
            },
            multifunction: false,
        })
    }

    #[test]
    fn wire_layout_is_be32_version_config_and_four_be32_irqs() {
        let d = dev();
        let st = d.save_state([0, 1, 0, 0], Embedding::Struct);
        let b = st.encode();
        assert_eq!(b.len(), 4 + 256 + 16);
        assert_eq!(&b[..4], &[0, 0, 0, 2]);
        assert_eq!(&b[4..8], &[0xf4, 0x1a, 0x00, 0x10]);
        assert_eq!(&b[260..276], &[0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
        let (back, used) = PciDeviceState::decode(&b, 256).unwrap();
        assert_eq!(used, 276);
        assert_eq!(back, st);
    }

    #[test]
    fn load_refuses_bad_version_bad_irq_and_bad_config_with_qemu_messages() {
        let mut d = dev();
        let mut st = d.save_state([0; 4], Embedding::Struct);
        st.version_id = 3;
        assert_eq!(
            d.load_state(&st.encode(), Embedding::Struct).unwrap_err().to_string(),
            "Invalid value 3 expecting positive value <= 2"
        );
        st.version_id = -1;
        assert!(matches!(
            d.load_state(&st.encode(), Embedding::Struct),
            Err(VmstateError::Version { loaded: -1, .. })
        ));
        st.version_id = 1;
        st.irq_state = [0, 0, 0xffff_ffff, 0];
        assert_eq!(
            d.load_state(&st.encode(), Embedding::Struct).unwrap_err().to_string(),
            "irq state -1: must be 0 or 1."
        );
        st.irq_state = [0; 4];
        st.config[0x02] = 0x01;
        assert_eq!(
            d.load_state(&st.encode(), Embedding::Struct).unwrap_err().to_string(),
            "get_pci_config_device: Bad config data: i=0x2 read: 1 device: 0 cmask: ff wmask: 0 w1cmask:0"
        );
        let b = st.encode();
        assert!(matches!(
            d.load_state(&b[..100], Embedding::Struct),
            Err(VmstateError::Truncated { what: "config", .. })
        ));
        assert!(matches!(
            d.load_state(&b[..2], Embedding::Struct),
            Err(VmstateError::Truncated { what: "version_id", .. })
        ));
    }

    #[test]
    fn load_copies_every_byte_and_recomputes_intx_status_for_save_load() {
        let mut d = dev();
        let mut st = d.save_state([1, 0, 0, 0], Embedding::SaveLoad);
        st.config[0x2c] = 0x55; // unchecked
        st.config[0x80] = 0x66; // writable
        d.load_state(&st.encode(), Embedding::SaveLoad).unwrap();
        assert_eq!(d.config()[0x2c], 0x55);
        assert_eq!(d.config()[0x80], 0x66);
        assert_eq!(d.config()[PCI_STATUS] & 0x08, 0x08);
    }
}
