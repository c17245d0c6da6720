//! Property tests for the invariants the spec states:
//! - the restore check (§3.2) fails exactly on the bytes where
//!   `(saved ^ device) & cmask & !wmask & !w1cmask != 0`, and QEMU reports the first of them;
//! - a guest write (§1.1, pci_default_write_config) never changes a bit outside
//!   `wmask | w1cmask`, and write-1-to-clear bits only go from 1 to 0;
//! - the PCIDevice state (§3.1) survives an encode/decode round trip in QEMU's wire format, and a
//!   device always accepts its own saved state.
//!
//! Expectations are computed here from those rules, independently of the model's code.

use pcimig_config::check::{failing_offsets, first_failing_offset};
use pcimig_config::regs::{PCI_PM_CAP_D1, PCI_PM_CAP_D2};
use pcimig_config::ExemptPolicy;
use pcimig_config::{
    restore_check, Array, ConfigError, ConfigSize, ConfigSpace, DeviceIdentity, DeviceParams, Embedding, HeaderKind,
    PciDeviceState,
};
use proptest::prelude::*;

/// The four arrays of a random config space.
#[derive(Debug, Clone)]
struct Arrays {
    config: Vec<u8>,
    cmask: Vec<u8>,
    wmask: Vec<u8>,
    w1cmask: Vec<u8>,
}

fn size() -> impl Strategy<Value = ConfigSize> {
    prop_oneof![Just(ConfigSize::Conventional), Just(ConfigSize::Express)]
}

/// `n` random bytes (drawn as u64 words: generating 4096 single bytes per case is slow).
fn bytes(n: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u64>(), n.div_ceil(8)).prop_map(move |words| {
        let mut v: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        v.truncate(n);
        v
    })
}

/// `n` bytes of `fill` with up to 64 random bytes at random places.
fn sparse(n: usize, fill: u8) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec((0..n, any::<u8>()), 0..64).prop_map(move |edits| {
        let mut v = vec![fill; n];
        for (i, x) in edits {
            v[i] = x;
        }
        v
    })
}

/// A mask array: all random, mostly zero, or mostly 0xff (so all-checked, never-checked and
/// mixed bytes all occur).
fn mask(n: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![bytes(n), sparse(n, 0), sparse(n, 0xff)]
}

/// Random arrays of `size` bytes. With `qemu_invariant`, w1cmask never overlaps wmask (QEMU
/// asserts `!(wmask & w1cmask)` on every write).
fn arrays(size: ConfigSize, qemu_invariant: bool) -> impl Strategy<Value = Arrays> {
    let n = size.bytes();
    (bytes(n), mask(n), mask(n), mask(n)).prop_map(move |(config, cmask, wmask, mut w1cmask)| {
        if qemu_invariant {
            for (w1, w) in w1cmask.iter_mut().zip(&wmask) {
                *w1 &= !w;
            }
        }
        Arrays {
            config,
            cmask,
            wmask,
            w1cmask,
        }
    })
}

fn space(size: ConfigSize, a: &Arrays) -> ConfigSpace {
    let mut s = ConfigSpace::zeroed(size);
    {
        let r = s.raw_mut();
        r.config.copy_from_slice(&a.config);
        r.cmask.copy_from_slice(&a.cmask);
        r.wmask.copy_from_slice(&a.wmask);
        r.w1cmask.copy_from_slice(&a.w1cmask);
    }
    s
}

/// A saved image: the device's bytes with a few random changes, or entirely random bytes.
fn saved_from(config: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    let n = config.len();
    prop_oneof![
        prop::collection::vec((0..n, any::<u8>()), 0..12).prop_map(move |edits| {
            let mut s = config.clone();
            for (i, x) in edits {
                s[i] ^= x;
            }
            s
        }),
        bytes(n),
    ]
}

fn space_and_saved() -> impl Strategy<Value = (ConfigSize, Arrays, Vec<u8>)> {
    size()
        .prop_flat_map(|sz| (Just(sz), arrays(sz, false)))
        .prop_flat_map(|(sz, a)| {
            let c = a.config.clone();
            (Just(sz), Just(a), saved_from(c))
        })
}

/// §3.2: the bytes get_pci_config_device would fail on, in increasing order.
fn expected_failures(a: &Arrays, saved: &[u8]) -> Vec<usize> {
    (0..saved.len())
        .filter(|&i| (saved[i] ^ a.config[i]) & a.cmask[i] & !a.wmask[i] & !a.w1cmask[i] != 0)
        .collect()
}

proptest! {
    #[test]
    fn check_fails_exactly_where_checked_bits_differ((sz, a, saved) in space_and_saved()) {
        let s = space(sz, &a);
        let expected = expected_failures(&a, &saved);
        prop_assert_eq!(failing_offsets(&saved, &s).unwrap(), expected.clone());

        let report = restore_check(&saved, &s).unwrap();
        let got: Vec<usize> = report.mismatches.iter().map(|m| m.offset).collect();
        prop_assert_eq!(&got, &expected);
        prop_assert_eq!(report.passed(), expected.is_empty());
        for m in &report.mismatches {
            let i = m.offset;
            prop_assert_eq!(
                (m.saved, m.device, m.cmask, m.wmask, m.w1cmask),
                (saved[i], a.config[i], a.cmask[i], a.wmask[i], a.w1cmask[i])
            );
        }
        let checked_bytes = (0..saved.len()).filter(|&i| a.cmask[i] & !a.wmask[i] & !a.w1cmask[i] != 0).count();
        prop_assert_eq!(report.checked_bytes, checked_bytes);
    }

    #[test]
    fn the_first_failure_is_the_byte_and_line_qemu_reports((sz, a, saved) in space_and_saved()) {
        let s = space(sz, &a);
        let first = expected_failures(&a, &saved).first().copied();
        prop_assert_eq!(first_failing_offset(&saved, &s).unwrap(), first);
        let line = first.map(|i| format!(
            "get_pci_config_device: Bad config data: i=0x{:x} read: {:x} device: {:x} cmask: {:x} wmask: {:x} w1cmask:{:x}",
            i, saved[i], a.config[i], a.cmask[i], a.wmask[i], a.w1cmask[i]
        ));
        prop_assert_eq!(restore_check(&saved, &s).unwrap().qemu_line(), line);
    }

    #[test]
    fn a_saved_image_of_the_other_size_is_refused((sz, a) in size().prop_flat_map(|sz| (Just(sz), arrays(sz, false)))) {
        let s = space(sz, &a);
        let other = if sz == ConfigSize::Conventional { 4096 } else { 256 };
        let saved = vec![0u8; other];
        let is_size_mismatch = matches!(
            restore_check(&saved, &s),
            Err(ConfigError::SizeMismatch { saved, device }) if saved == other && device == sz.bytes()
        );
        prop_assert!(is_size_mismatch);
        prop_assert!(failing_offsets(&saved, &s).is_err());
    }
}

/// One mask edit through the public API: set 1..=8 bytes of an array, fill a range, or exempt
/// a range (the three ways builders outside this crate change masks).
#[derive(Debug, Clone)]
enum Edit {
    Set(Array, usize, usize, u64),
    Fill(Array, usize, usize, u8),
    Exempt(usize, usize),
}

fn edit(n: usize) -> impl Strategy<Value = Edit> {
    let array = prop_oneof![
        Just(Array::Config),
        Just(Array::Cmask),
        Just(Array::Wmask),
        Just(Array::W1cmask)
    ];
    prop_oneof![
        (array.clone(), 1usize..=8, any::<u64>())
            .prop_flat_map(move |(a, len, v)| (Just(a), 0..=n - len, Just(len), Just(v)))
            .prop_map(|(a, off, len, v)| Edit::Set(a, off, len, v)),
        (array, 0..n, 0usize..300, any::<u8>()).prop_map(move |(a, start, len, v)| Edit::Fill(
            a,
            start,
            (start + len).min(n),
            v
        )),
        (0..n, 0usize..300).prop_map(move |(start, len)| Edit::Exempt(start, (start + len).min(n))),
    ]
}

fn edited_device() -> impl Strategy<Value = (ConfigSpace, Vec<u8>)> {
    size()
        .prop_flat_map(|sz| (Just(sz), prop::collection::vec(edit(sz.bytes()), 0..40), any::<bool>()))
        .prop_map(|(sz, edits, bridge)| {
            let mut s = ConfigSpace::new_device(&DeviceParams {
                size: sz,
                header: if bridge { HeaderKind::Type1 } else { HeaderKind::Type0 },
                identity: DeviceIdentity {
                    vendor_id: 0x1af4,
                    device_id: 0x1000,
                    class_id: 0x0200,
                    ..Default::default()
                },
                multifunction: false,
            });
            for e in edits {
                match e {
                    Edit::Set(a, off, len, v) => s.set_le(a, off, len, v).unwrap(),
                    Edit::Fill(a, start, end, v) => s.fill_range(a, start..end, v).unwrap(),
                    Edit::Exempt(start, end) => s
                        .exempt(start..end, ExemptPolicy::SkipVscCheck, "property test")
                        .unwrap(),
                }
            }
            s
        })
        .prop_flat_map(|s| {
            let c = s.config().to_vec();
            (Just(s), saved_from(c))
        })
}

proptest! {
    /// The check stays exact when masks are edited through the API rather than all at once
    /// (the model keeps derived summaries of the masks in step with every edit).
    #[test]
    fn check_stays_exact_after_mask_edits((s, saved) in edited_device()) {
        let a = Arrays {
            config: s.config().to_vec(),
            cmask: s.cmask().to_vec(),
            wmask: s.wmask().to_vec(),
            w1cmask: s.w1cmask().to_vec(),
        };
        prop_assert_eq!(failing_offsets(&saved, &s).unwrap(), expected_failures(&a, &saved));
        let checked_bytes = (0..s.size()).filter(|&i| a.cmask[i] & !a.wmask[i] & !a.w1cmask[i] != 0).count();
        prop_assert_eq!(restore_check(&saved, &s).unwrap().checked_bytes, checked_bytes);
        prop_assert_eq!(restore_check(s.config(), &s).unwrap().passed(), true);
    }
}

// ---- writes ------------------------------------------------------------------------------------

/// A write that fits: (len, offset, value).
fn access(n: usize) -> impl Strategy<Value = (usize, usize, u32)> {
    prop_oneof![Just(1usize), Just(2), Just(4)].prop_flat_map(move |len| (Just(len), 0..=n - len, any::<u32>()))
}

fn space_and_write() -> impl Strategy<Value = (ConfigSize, Arrays, (usize, usize, u32))> {
    size().prop_flat_map(|sz| (Just(sz), arrays(sz, true), access(sz.bytes())))
}

/// The bit rules every write obeys (§1.1): bits outside `wmask | w1cmask` keep their value,
/// W1C bits never go from 0 to 1.
fn assert_write_rules(before: &ConfigSpace, after: &ConfigSpace) -> Result<(), TestCaseError> {
    for i in 0..before.size() {
        let (old, new) = (before.config()[i], after.config()[i]);
        let (w, w1) = (before.wmask()[i], before.w1cmask()[i]);
        prop_assert_eq!(
            (old ^ new) & !(w | w1),
            0,
            "byte {:#x}: a bit outside wmask|w1cmask changed",
            i
        );
        prop_assert_eq!(!old & new & w1, 0, "byte {:#x}: a W1C bit went from 0 to 1", i);
    }
    Ok(())
}

proptest! {
    #[test]
    fn a_write_changes_only_writable_bits_and_clears_only_w1c_bits((sz, a, (len, off, val)) in space_and_write()) {
        let before = space(sz, &a);
        let mut after = before.clone();
        after.write(off, val, len).unwrap();
        assert_write_rules(&before, &after)?;
        // Without a PM capability the result is exactly pci_default_write_config's formula.
        for i in 0..before.size() {
            let old = before.config()[i];
            let expected = if (off..off + len).contains(&i) {
                let v = (val >> (8 * (i - off))) as u8;
                let (w, w1) = (a.wmask[i], a.w1cmask[i]);
                ((old & !w) | (v & w)) & !(v & w1)
            } else {
                old
            };
            prop_assert_eq!(after.config()[i], expected, "byte {:#x}", i);
        }
    }

    #[test]
    fn a_read_returns_the_config_bytes_little_endian((sz, a, (len, off, _)) in space_and_write()) {
        let s = space(sz, &a);
        let expected = (0..len).fold(0u32, |v, k| v | (u32::from(a.config[off + k]) << (8 * k)));
        prop_assert_eq!(s.read(off, len).unwrap(), expected);
    }

    /// With a PM capability from pci_pm_init (PMCSR state writable), invalid power-state
    /// transitions are reverted (pci_pm_update): D1/D2 only when PMC advertises them, and from
    /// D1..D3 only to a deeper state or to D0. The bit rules still hold.
    #[test]
    fn pm_writes_keep_the_bit_rules_and_revert_invalid_transitions(
        (sz, a, (len, off, val)) in space_and_write(),
        pm_slot in 0usize..30,
        pmc in any::<u16>(),
        start_state in 0u8..4,
        writable in any::<bool>(),
    ) {
        let mut before = space(sz, &a);
        let pm = 0x40 + 4 * pm_slot;
        before.pm_init(pm, writable).unwrap();
        {
            let r = before.raw_mut();
            r.config[pm + 2..pm + 4].copy_from_slice(&pmc.to_le_bytes());
            r.config[pm + 4] = (r.config[pm + 4] & !3) | start_state;
            // keep QEMU's invariant where pm_init made bytes writable
            for i in 0..r.w1cmask.len() {
                r.w1cmask[i] &= !r.wmask[i];
            }
        }
        prop_assert_eq!(before.pm_state(), start_state);
        // Aim a third of the writes at PMCSR so transitions are exercised.
        let (len, off) = if val % 3 == 0 { (2, pm + 4) } else { (len, off) };
        let mut after = before.clone();
        after.write(off, val, len).unwrap();
        assert_write_rules(&before, &after)?;

        let covers_pmcsr = (off..off + len).contains(&(pm + 4));
        let old = start_state;
        // The power state after the byte rules of §1.1 (W1C bits of a random w1cmask included).
        let written = if covers_pmcsr {
            let v = (val >> (8 * (pm + 4 - off))) as u8;
            let (b, w, w1) = (before.config()[pm + 4], before.wmask()[pm + 4], before.w1cmask()[pm + 4]);
            (((b & !w) | (v & w)) & !(v & w1)) & 3
        } else {
            old
        };
        let invalid = (pmc & PCI_PM_CAP_D1 == 0 && written == 1)
            || (pmc & PCI_PM_CAP_D2 == 0 && written == 2)
            || (old != 0 && written != 0 && written < old);
        let expected = if written != old && invalid { old } else { written };
        prop_assert_eq!(after.pm_state(), expected);
    }
}

// ---- vmstate -----------------------------------------------------------------------------------

fn state() -> impl Strategy<Value = PciDeviceState> {
    size().prop_flat_map(|sz| {
        (any::<i32>(), bytes(sz.bytes()), prop::array::uniform4(any::<u32>())).prop_map(
            |(version_id, config, irq_state)| PciDeviceState {
                version_id,
                config,
                irq_state,
            },
        )
    })
}

proptest! {
    #[test]
    fn encode_then_decode_is_lossless(st in state()) {
        let bytes = st.encode();
        let n = st.config.len();
        prop_assert_eq!(bytes.len(), 4 + n + 16);
        // §3.1: version_id be32, the raw config, 4 x be32 irq_state.
        prop_assert_eq!(&bytes[..4], &st.version_id.to_be_bytes()[..]);
        prop_assert_eq!(&bytes[4..4 + n], &st.config[..]);
        for k in 0..4 {
            prop_assert_eq!(&bytes[4 + n + 4 * k..8 + n + 4 * k], &st.irq_state[k].to_be_bytes()[..]);
        }
        let (back, used) = PciDeviceState::decode(&bytes, n).unwrap();
        prop_assert_eq!(used, bytes.len());
        prop_assert_eq!(back, st);
    }

    #[test]
    fn decode_then_encode_reproduces_the_bytes(
        (n, bytes) in size().prop_flat_map(|sz| (Just(sz.bytes()), bytes(4 + sz.bytes() + 16)))
    ) {
        let (st, _) = PciDeviceState::decode(&bytes, n).unwrap();
        prop_assert_eq!(st.encode(), bytes);
    }

    #[test]
    fn a_device_accepts_its_own_saved_state(
        (sz, a) in size().prop_flat_map(|sz| (Just(sz), arrays(sz, false))),
        irq in prop::array::uniform4(0u32..=1),
        save_load in any::<bool>(),
    ) {
        let mut a = a;
        let embedding = if save_load {
            // pci_device_save clears Status INTERRUPT (0x08) before saving; QEMU never checks
            // that bit (pci_init_cmask checks only CAP_LIST in Status), so keep it unchecked.
            a.cmask[0x06] &= !0x08;
            Embedding::SaveLoad
        } else {
            Embedding::Struct
        };
        let mut dev = space(sz, &a);
        let st = dev.save_state(irq, embedding);
        let (loaded, used) = dev.load_state(&st.encode(), embedding).unwrap();
        prop_assert_eq!(used, 4 + sz.bytes() + 16);
        prop_assert_eq!(&loaded, &st);
        // Every byte is copied; with pci_device_load the INTERRUPT bit follows irq_state.
        let mut expected = st.config.clone();
        if save_load {
            expected[0x06] = (expected[0x06] & !0x08) | if irq.contains(&1) { 0x08 } else { 0 };
        }
        prop_assert_eq!(dev.config(), &expected[..]);
    }
}
