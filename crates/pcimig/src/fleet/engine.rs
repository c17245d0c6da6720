//! The engine: realize every device once, intern the destination masks per kind (mask
//! classes), fingerprint every device under every mask class of its kind, and group.
//!
//! A device's config is kept as a sparse difference from its kind's reference config (the first
//! device of that kind and size), so memory stays small; a fingerprint key is the sparse
//! difference *under a mask*, compared exactly (no hash decides a verdict).

use super::{analysis, FleetDevice, FleetError, FleetOptions, FleetReport, Skipped};
use crate::check::vfio::{destination_device, VfioRequest};
use crate::check::QemuVersions;
use crate::source::ConfigSource;
use pcimig_config::{ConfigSpace, MachineFamily, MachineType, QemuVersion};
use pcimig_vfio::{resolve_slot_and_machine, Slot};
use std::collections::{BTreeSet, HashMap};

/// Devices realized per batch: bounds the full configs and masks in flight.
const BATCH: usize = 1024;

/// A sparse config: `(offset, byte)` where it differs from a reference, in offset order.
pub(super) type Sparse = Vec<(u16, u8)>;

/// The VM's placement, fleet-wide.
#[derive(Debug, Clone, Copy)]
pub(super) struct Placement {
    pub slot: Slot,
    pub machine: MachineType,
}

/// What realizing one device gave.
enum Realized {
    /// vfio-pci's realize: the guest-visible config and its masks.
    Device(Box<ConfigSpace>),
    /// The host's QEMU does not define the machine type.
    Refused(String),
    /// vfio-pci's realize refused the config (e.g. a bridge).
    Skipped(String),
}

/// One distinct destination mask of a kind.
pub(super) struct Class {
    /// Content-derived ID.
    pub id: String,
    pub kind: usize,
    pub size: usize,
    /// A destination with this mask (register names, checked bits).
    pub space: ConfigSpace,
    /// The fingerprint of the kind's reference config under this mask.
    pub base: u64,
    pub qemu: BTreeSet<String>,
    pub skip_vsc_check: bool,
    /// Interned fingerprint keys: key → value ID, and back.
    values: HashMap<Sparse, u32>,
    pub keys: Vec<Sparse>,
    /// The export's fingerprint of each value ID.
    pub hashes: Vec<u64>,
}

/// One kind of device.
pub(super) struct Kind {
    pub label: String,
    /// Reference configs, one per config size.
    pub refs: Vec<Vec<u8>>,
    /// Its mask classes (indexes into `Engine::classes`).
    pub classes: Vec<usize>,
}

impl Kind {
    /// The reference config of `size` bytes.
    pub fn reference(&self, size: usize) -> &[u8] {
        self.refs
            .iter()
            .find(|r| r.len() == size)
            .expect("a reference per size")
    }
}

/// One analysed device.
pub(super) struct Dev {
    /// Index into the input.
    pub input: usize,
    pub kind: usize,
    pub state: DevState,
}

/// A device's part in the fleet.
#[derive(Clone)]
pub(super) enum DevState {
    /// Its QEMU cannot run the VM: neither source nor destination.
    Refused(String),
    /// Realized: its destination mask class, config size and config (sparse).
    Live { class: usize, size: usize, diff: Sparse },
}

/// Everything interned while the devices stream through.
#[derive(Default)]
pub(super) struct Engine {
    pub kinds: Vec<Kind>,
    pub classes: Vec<Class>,
    pub devs: Vec<Dev>,
    pub skipped: Vec<Skipped>,
    kind_index: HashMap<String, usize>,
    class_index: HashMap<(usize, u64), Vec<usize>>,
}

/// Analyse a fleet: group its devices and compute the compatibility matrix of the groups.
pub fn run(devices: &[FleetDevice], opts: &FleetOptions) -> Result<FleetReport, FleetError> {
    run_with_progress(devices, opts, &|_, _| {})
}

/// [`run`], calling `progress(devices realized, devices)` after each batch of the realize (the
/// bulk of the time).
pub fn run_with_progress(
    devices: &[FleetDevice],
    opts: &FleetOptions,
    progress: &dyn Fn(usize, usize),
) -> Result<FleetReport, FleetError> {
    run_inner(devices, opts, progress, Seen::MAX)
}

/// [`run_with_progress`], keeping at most `seen_max` realized inputs for reuse.
fn run_inner(
    devices: &[FleetDevice],
    opts: &FleetOptions,
    progress: &dyn Fn(usize, usize),
    seen_max: usize,
) -> Result<FleetReport, FleetError> {
    let placement = placement(devices, opts)?;
    let threads = match opts.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let mut engine = Engine::default();
    let mut seen = Seen {
        map: HashMap::new(),
        max: seen_max,
    };
    for (b, batch) in devices.chunks(BATCH).enumerate() {
        // Realize only what this run has not realized yet: the first of identical inputs.
        let keys: Vec<SeenKey> = batch.iter().map(|d| SeenKey::of(d, opts)).collect();
        let mut firsts = std::collections::HashSet::new();
        let todo: Vec<&FleetDevice> = batch
            .iter()
            .zip(&keys)
            .filter(|(_, k)| !seen.map.contains_key(*k) && firsts.insert(*k))
            .map(|(d, _)| d)
            .collect();
        let mut realized = realize_batch(&todo, placement, opts.skip_vsc_check, threads).into_iter();
        // This batch's own results, all kept until the batch is done.
        let mut local: HashMap<SeenKey, Known> = HashMap::new();
        for ((i, d), key) in batch.iter().enumerate().zip(keys) {
            let input = b * BATCH + i;
            match seen.map.get(&key).or_else(|| local.get(&key)).cloned() {
                Some(known) => engine.add_known(input, d, known, opts),
                None => {
                    let r = realized.next().expect("one realize per first input");
                    local.insert(key, engine.add(input, d, r, opts));
                }
            }
        }
        seen.keep(local);
        progress((b * BATCH + batch.len()).min(devices.len()), devices.len());
    }
    let fps = engine.fingerprints();
    Ok(analysis::report(&engine, &fps, devices, opts, placement))
}

/// The fleet's placement: the machine type given (an alias resolved against the oldest QEMU of
/// the fleet), else the newest machine type of the slot's chipset that the oldest QEMU defines.
pub(super) fn placement(devices: &[FleetDevice], opts: &FleetOptions) -> Result<Placement, FleetError> {
    let oldest = devices
        .iter()
        .map(|d| d.qemu)
        .min_by_key(|q| (q.series(), q.micro))
        .unwrap_or(QemuVersion::DEFAULT);
    let machine = match &opts.machine {
        Some(m) => MachineType::parse_for(m, oldest).map_err(|e| FleetError(format!("--machine: {e}")))?,
        None => {
            let family = match opts.slot {
                Some(Slot::I440fx) => MachineFamily::I440fx,
                _ => MachineFamily::Q35,
            };
            MachineType::newest_in(oldest, family)
        }
    };
    let (slot, machine) = resolve_slot_and_machine(opts.slot, Some(machine)).map_err(|e| FleetError(e.to_string()))?;
    Ok(Placement { slot, machine })
}

/// What realizing a device gave, as the engine keeps it: its state, or why it was skipped.
#[derive(Clone)]
pub(super) enum Known {
    State(DevState),
    Skipped(String),
}

/// Everything a realize depends on that differs between devices: the kind, the host's QEMU,
/// the BAR sizes and the physical config (placement and policy are fleet-wide). Hashed by a
/// digest of the config, compared in full.
#[derive(PartialEq, Eq)]
struct SeenKey {
    digest: u64,
    kind: String,
    qemu: QemuVersion,
    bars: Option<crate::source::BarSizes>,
    config: Vec<u8>,
}

impl std::hash::Hash for SeenKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.digest);
    }
}

impl SeenKey {
    fn of(d: &FleetDevice, opts: &FleetOptions) -> SeenKey {
        SeenKey {
            digest: config_digest(&d.config),
            kind: opts.group_by.kind_of(d),
            qemu: d.qemu,
            bars: d.bar_sizes,
            config: d.config.clone(),
        }
    }
}

/// A fast 64-bit digest of a config (8-byte words, multiply and rotate): only a hash-table
/// key; equal digests are compared byte for byte.
fn config_digest(config: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h = config.len() as u64;
    let mut words = config.chunks_exact(8);
    for w in words.by_ref() {
        let v = u64::from_le_bytes(w.try_into().expect("8 bytes"));
        h = (h ^ v).wrapping_mul(K).rotate_left(29);
    }
    for &b in words.remainder() {
        h = (h ^ u64::from(b)).wrapping_mul(K).rotate_left(29);
    }
    h
}

/// Inputs already realized, so identical devices (vGPUs of one driver and profile, whose
/// virtual configs are equal across hosts) are realized once. Compared exactly; bounded to
/// `max` entries ([`Seen::MAX`] by default) (a fleet of unique configs gains nothing and keeps no more memory).
struct Seen {
    map: HashMap<SeenKey, Known>,
    max: usize,
}

impl Seen {
    /// Entries kept at most (each holds one physical config).
    const MAX: usize = 8192;

    /// Keep a batch's results while there is room.
    fn keep(&mut self, batch: HashMap<SeenKey, Known>) {
        for (k, v) in batch {
            if self.map.len() >= self.max {
                break;
            }
            self.map.insert(k, v);
        }
    }
}

/// Realize a batch on `threads` workers, in input order.
fn realize_batch(batch: &[&FleetDevice], p: Placement, policy: Option<bool>, threads: usize) -> Vec<Realized> {
    let per = batch.len().div_ceil(threads.max(1)).max(1);
    std::thread::scope(|s| {
        let workers: Vec<_> = batch
            .chunks(per)
            .map(|chunk| s.spawn(move || chunk.iter().map(|d| realize(d, p, policy)).collect::<Vec<_>>()))
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("a realize worker panicked"))
            .collect()
    })
}

/// One device as the destination `pcimig check` builds: the host's own QEMU version, the
/// fleet's placement, skip-vsc-check explicit where the host's QEMU has the property, BAR sizes
/// from the snapshot, through the kernel's vfio-pci layer (a physical read).
fn realize(d: &FleetDevice, p: Placement, policy: Option<bool>) -> Realized {
    if let Some(why) = d.qemu.lacks_machine(&p.machine) {
        return Realized::Refused(why);
    }
    let req = device_request(d, policy);
    let mut src = ConfigSource::physical(d.name.clone(), d.config.clone());
    src.bar_sizes = d.bar_sizes;
    match destination_device(&req, &src, (p.slot, p.machine)) {
        Ok(dev) => Realized::Device(Box::new(dev.space)),
        // Without the device's name: devices with the same inputs share the reason.
        Err(e) => Realized::Skipped(e.reason()),
    }
}

/// The check request a device's host implies: both sides its own QEMU, the policy where the
/// property exists, the kernel's layer on.
pub fn device_request(d: &FleetDevice, policy: Option<bool>) -> VfioRequest {
    VfioRequest {
        skip_vsc_check: skip_vsc_check_on(d.qemu, policy),
        kernel_layer: Some(true),
        qemu: QemuVersions {
            saved: d.qemu,
            dest: d.qemu,
        },
        ..VfioRequest::default()
    }
}

/// The explicit skip-vsc-check a host with `qemu` gets: the fleet's policy where its vfio-pci
/// has the property (9.1, commit "vfio/pci: migration: Skip config space check for Vendor
/// Specific Information in VSC during restore/load"), else none.
pub fn skip_vsc_check_on(qemu: QemuVersion, policy: Option<bool>) -> Option<bool> {
    policy.filter(|_| qemu.at_least(9, 1))
}

impl Engine {
    /// Take one realized device in; what it became, for devices with the same inputs.
    fn add(&mut self, input: usize, d: &FleetDevice, r: Realized, opts: &FleetOptions) -> Known {
        let label = opts.group_by.kind_of(d);
        let known = match r {
            Realized::Skipped(reason) => Known::Skipped(reason),
            Realized::Refused(why) => Known::State(DevState::Refused(why)),
            Realized::Device(space) => {
                let kind = self.kind(&label);
                Known::State(self.live(kind, d, *space))
            }
        };
        self.add_known(input, d, known.clone(), opts);
        known
    }

    /// Take in a device whose inputs equal an earlier device's: the same state (its class
    /// already counts this QEMU, its kind already has its reference).
    fn add_known(&mut self, input: usize, d: &FleetDevice, known: Known, opts: &FleetOptions) {
        match known {
            Known::Skipped(reason) => self.skipped.push(Skipped {
                device: d.name.clone(),
                reason,
            }),
            Known::State(state) => {
                let kind = self.kind(&opts.group_by.kind_of(d));
                self.devs.push(Dev { input, kind, state });
            }
        }
    }

    /// The index of kind `label`, added when new.
    fn kind(&mut self, label: &str) -> usize {
        if let Some(&k) = self.kind_index.get(label) {
            return k;
        }
        self.kinds.push(Kind {
            label: label.into(),
            refs: Vec::new(),
            classes: Vec::new(),
        });
        self.kind_index.insert(label.into(), self.kinds.len() - 1);
        self.kinds.len() - 1
    }

    /// A realized device: its class (interned) and its config relative to the reference.
    fn live(&mut self, kind: usize, d: &FleetDevice, space: ConfigSpace) -> DevState {
        let size = space.size();
        if !self.kinds[kind].refs.iter().any(|r| r.len() == size) {
            self.kinds[kind].refs.push(space.config().to_vec());
        }
        let diff = sparse_diff(space.config(), self.kinds[kind].reference(size));
        let class = self.class(kind, d.qemu, space);
        DevState::Live { class, size, diff }
    }

    /// The class of `space`'s checked bits in `kind`, added when new.
    fn class(&mut self, kind: usize, qemu: QemuVersion, space: ConfigSpace) -> usize {
        // Looked up by a fast digest, compared exactly; the content ID only for a new class.
        let digest = config_digest(space.checked());
        let found = self.class_index.get(&(kind, digest)).and_then(|cands| {
            cands
                .iter()
                .copied()
                .find(|&c| self.classes[c].space.checked() == space.checked())
        });
        let c = match found {
            Some(c) => c,
            None => self.new_class(kind, digest, space),
        };
        self.classes[c].qemu.insert(qemu.to_string());
        c
    }

    fn new_class(&mut self, kind: usize, digest: u64, space: ConfigSpace) -> usize {
        let hash = mask_hash(space.checked());
        let reference = self.kinds[kind].reference(space.size());
        let base = value_base(reference, space.checked());
        let skip_vsc_check = space
            .exemptions()
            .iter()
            .any(|e| e.policy == pcimig_vfio::POLICY_SKIP_VSC_CHECK);
        let c = self.classes.len();
        self.classes.push(Class {
            id: format!("m{hash:016x}"),
            kind,
            size: space.size(),
            space,
            base,
            qemu: BTreeSet::new(),
            skip_vsc_check,
            values: HashMap::new(),
            keys: Vec::new(),
            hashes: Vec::new(),
        });
        self.kinds[kind].classes.push(c);
        self.class_index.entry((kind, digest)).or_default().push(c);
        c
    }

    /// Every device's value ID under every class of its kind (in the kind's class order;
    /// `None`: another config size, or refused).
    fn fingerprints(&mut self) -> Vec<Vec<Option<u32>>> {
        let mut out = Vec::with_capacity(self.devs.len());
        for i in 0..self.devs.len() {
            let kind = self.devs[i].kind;
            let DevState::Live { size, ref diff, .. } = self.devs[i].state else {
                out.push(vec![None; self.kinds[kind].classes.len()]);
                continue;
            };
            let mut fps = Vec::with_capacity(self.kinds[kind].classes.len());
            for &c in &self.kinds[kind].classes {
                let class = &mut self.classes[c];
                if class.size != size {
                    fps.push(None);
                    continue;
                }
                let reference = self.kinds[kind].reference(size);
                let key = masked_key(diff, reference, class.space.checked());
                fps.push(Some(class.intern(key, reference)));
            }
            out.push(fps);
        }
        out
    }
}

impl Class {
    /// The value ID of `key`, added (with its export fingerprint) when new.
    fn intern(&mut self, key: Sparse, reference: &[u8]) -> u32 {
        if let Some(&v) = self.values.get(&key) {
            return v;
        }
        let chk = self.space.checked();
        let hash = key.iter().fold(self.base, |h, &(o, v)| {
            let o = usize::from(o);
            h.wrapping_add(byte_term(o, v))
                .wrapping_sub(byte_term(o, reference[o] & chk[o]))
        });
        let id = self.keys.len() as u32;
        self.values.insert(key.clone(), id);
        self.keys.push(key);
        self.hashes.push(hash);
        id
    }
}

/// Where `config` differs from `reference` (same length).
fn sparse_diff(config: &[u8], reference: &[u8]) -> Sparse {
    let mut out = Sparse::new();
    if config == reference {
        return out;
    }
    for (o, (&c, &r)) in config.iter().zip(reference).enumerate() {
        if c != r {
            out.push((o as u16, c));
        }
    }
    out
}

/// The fingerprint key of a config (its difference from the reference) under `checked`: the
/// offsets where the masked byte differs from the reference's masked byte, with the masked
/// byte. Two configs have equal keys iff they agree on every checked bit.
pub(super) fn masked_key(diff: &Sparse, reference: &[u8], checked: &[u8]) -> Sparse {
    diff.iter()
        .filter(|&&(o, v)| (v ^ reference[usize::from(o)]) & checked[usize::from(o)] != 0)
        .map(|&(o, v)| (o, v & checked[usize::from(o)]))
        .collect()
}

/// splitmix64's finalizer: a 64-bit mixer.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// One checked byte's term of a value fingerprint.
fn byte_term(offset: usize, value: u8) -> u64 {
    mix(((offset as u64) << 8) | u64::from(value))
}

/// A mask's content ID: the wrapping sum of a term per checked byte, and its size.
fn mask_hash(checked: &[u8]) -> u64 {
    let size = mix(1 << 62 | checked.len() as u64);
    checked
        .iter()
        .enumerate()
        .filter(|(_, &m)| m != 0)
        .fold(size, |h, (o, &m)| {
            h.wrapping_add(mix(1 << 40 | (o as u64) << 8 | u64::from(m)))
        })
}

/// The fingerprint of `config` under `checked`: the wrapping sum of a term per checked byte of
/// the masked config. A sum, so a device's fingerprint is the reference's plus its differences,
/// and equal whichever device is the reference (stable across runs and shards).
fn value_base(config: &[u8], checked: &[u8]) -> u64 {
    checked
        .iter()
        .zip(config)
        .enumerate()
        .filter(|(_, (&m, _))| m != 0)
        .fold(0u64, |h, (o, (&m, &c))| h.wrapping_add(byte_term(o, c & m)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fingerprint_does_not_depend_on_the_reference() {
        let checked = [0xffu8, 0x0f, 0x00, 0xff];
        let a = [1u8, 0x12, 7, 9];
        let b = [1u8, 0x32, 8, 10];
        let via_b = {
            let mut class_base = value_base(&b, &checked);
            for (o, v) in masked_key(&sparse_diff(&a, &b), &b, &checked) {
                let o = usize::from(o);
                class_base = class_base
                    .wrapping_add(byte_term(o, v))
                    .wrapping_sub(byte_term(o, b[o] & checked[o]));
            }
            class_base
        };
        assert_eq!(via_b, value_base(&a, &checked));
    }

    #[test]
    fn masked_keys_are_equal_iff_the_checked_bits_agree() {
        let checked = [0xffu8, 0x0f, 0x00];
        let reference = [0u8, 0, 0];
        let key = |c: [u8; 3]| masked_key(&sparse_diff(&c, &reference), &reference, &checked);
        assert_eq!(key([0, 0xf0, 0x55]), key([0, 0, 0]));
        assert_ne!(key([0, 0x01, 0]), key([0, 0, 0]));
        assert_ne!(key([1, 0, 0]), key([2, 0, 0]));
    }
}

#[cfg(test)]
mod reuse_tests {
    use super::*;
    use crate::fleet::GroupBy;
    use pcimig_config::regs;

    /// The first byte of the H100's Device Serial Number (its DSN capability at 0x2f0).
    const H100_DSN_SERIAL: usize = 0x2f4;

    /// Hosts with the same config and others with unique serial numbers, over two QEMU
    /// versions: whatever the bound on kept realizes (0: only a batch's own duplicates are
    /// reused; 1 and 3: full after a few devices), the report is the same. (That reuse gives
    /// the verdicts of direct checks is `tests/fleet.rs`.)
    #[test]
    fn reused_realizes_give_the_same_report() {
        let h100 = include_bytes!("../../../../data/demo/h100-gpu0.bin");
        let devices: Vec<FleetDevice> = (0..40)
            .map(|i| {
                let mut config = h100.to_vec();
                if i % 3 == 0 {
                    config[H100_DSN_SERIAL] = i as u8; // a serial number of its own
                }
                FleetDevice {
                    name: format!("s{i}.json#0000:3b:00.0"),
                    snapshot: format!("s{i}.json"),
                    host: format!("h{i}"),
                    bdf: "0000:3b:00.0".into(),
                    vendor: 0x10de,
                    device: 0x2330,
                    driver: Some("vfio-pci".into()),
                    driver_version: None,
                    qemu: QemuVersion::parse(if i % 2 == 0 { "10.0.2" } else { "9.0" }).unwrap(),
                    config,
                    bar_sizes: None,
                }
            })
            .collect();
        let opts = FleetOptions {
            group_by: GroupBy::VendorDevice,
            threads: 2,
            ..FleetOptions::default()
        };
        let json = |max| serde_json::to_string(&run_inner(&devices, &opts, &|_, _| {}, max).unwrap()).unwrap();

        let all = json(0);
        for max in [1, 3, Seen::MAX] {
            assert_eq!(json(max), all, "bound {max}");
        }
        // Devices vfio-pci refuses (a bridge's header type), several with the same inputs: each
        // skipped device is named, and a shared reason names none.
        let mut bridges = devices.clone();
        for d in &mut bridges {
            d.config[regs::PCI_HEADER_TYPE] = regs::PCI_HEADER_TYPE_BRIDGE;
        }
        let report = run_inner(&bridges, &opts, &|_, _| {}, Seen::MAX).unwrap();
        assert_eq!(report.skipped.len(), bridges.len());
        for (s, d) in report.skipped.iter().zip(&bridges) {
            assert_eq!(s.device, d.name);
            assert!(!s.reason.contains(".json#"), "a reason names no device: {}", s.reason);
        }
    }
}
