//! Writing streams in QEMU 10.0.2's format, for tests: hand-built streams with exactly the
//! sections a test needs (real QEMU cannot run vfio-pci here, so vfio sections are written
//! this way), and hostile variants of them.
//!
//! ```
//! use pcimig_qemu::build::StreamBuilder;
//! let mut b = StreamBuilder::new("pc-q35-10.0");
//! b.ram_section(&[0x1000, 0x2000]);
//! let mut config = vec![0u8; 256];
//! config[..4].copy_from_slice(&[0x86, 0x80, 0x0e, 0x10]);
//! b.pci_vmsd("0000:00:02.0/e1000", "e1000", 2, &config, 8);
//! let bytes = b.finish();
//! let s = pcimig_qemu::Stream::from_bytes("t.mig", bytes).unwrap();
//! assert_eq!(s.pci_devices()[0].id, "0000:00:02.0/e1000");
//! ```

use crate::stream::{section_type as st, vfio_flag};
use serde_json::{json, Value};

/// Builds a stream: header and configuration on creation, sections in call order, then EOF
/// and the vmdesc on [`StreamBuilder::finish`].
#[derive(Debug, Clone)]
pub struct StreamBuilder {
    buf: Vec<u8>,
    next_id: u32,
    /// The iterable sections started: (idstr, instance, section id).
    started: Vec<(String, u32, u32)>,
    devices: Vec<Value>,
    /// Write section footers (QEMU does on machines >= 2.6).
    pub footers: bool,
    /// Write the vmdesc after EOF.
    pub vmdesc: bool,
    /// Page size for RAM sections.
    pub page_size: u64,
}

fn put_str(buf: &mut Vec<u8>, s: &str) {
    buf.push(s.len() as u8);
    buf.extend_from_slice(s.as_bytes());
}

/// The PCIDevice state QEMU writes: be32 version 2, config, 4 × be32 irq_state 0.
pub fn pci_state(config: &[u8]) -> Vec<u8> {
    let mut v = 2u32.to_be_bytes().to_vec();
    v.extend_from_slice(config);
    v.extend_from_slice(&[0u8; 16]);
    v
}

/// The vmdesc "struct" field for an embedded PCIDevice of `config_size` bytes.
pub fn pci_desc_field(name: &str, config_size: usize) -> Value {
    json!({"name": name, "type": "struct", "struct": {"vmsd_name": "PCIDevice", "version": 2, "fields": [
        {"name": "version_id", "type": "int32 le", "size": 4},
        {"name": "config[0]", "type": "pci config", "size": config_size},
        {"name": "irq_state", "type": "pci irq state", "size": 16}]}, "size": 4 + config_size + 16})
}

impl StreamBuilder {
    /// Header (magic, version 3) and a configuration section naming `machine`.
    pub fn new(machine: &str) -> Self {
        let mut b = Self::bare();
        b.buf.push(st::CONFIGURATION);
        b.buf.extend_from_slice(&(machine.len() as u32).to_be_bytes());
        b.buf.extend_from_slice(machine.as_bytes());
        b
    }

    /// Header only, no configuration section.
    pub fn bare() -> Self {
        let mut buf = Vec::new();
        buf.extend_from_slice(&crate::QEMU_VM_FILE_MAGIC.to_be_bytes());
        buf.extend_from_slice(&crate::QEMU_VM_FILE_VERSION.to_be_bytes());
        StreamBuilder {
            buf,
            next_id: 0,
            started: Vec::new(),
            devices: Vec::new(),
            footers: true,
            vmdesc: true,
            page_size: 4096,
        }
    }

    /// The bytes so far.
    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Append raw bytes.
    pub fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(bytes);
        self
    }

    /// Allocate the next section id.
    pub fn alloc_id(&mut self) -> u32 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn header(&mut self, t: u8, id: u32, idstr: &str, instance: u32, version: u32) {
        self.buf.push(t);
        self.buf.extend_from_slice(&id.to_be_bytes());
        if t == st::START || t == st::FULL {
            put_str(&mut self.buf, idstr);
            self.buf.extend_from_slice(&instance.to_be_bytes());
            self.buf.extend_from_slice(&version.to_be_bytes());
        }
    }

    fn footer(&mut self, id: u32) {
        if self.footers {
            self.buf.push(st::FOOTER);
            self.buf.extend_from_slice(&id.to_be_bytes());
        }
    }

    /// A FULL section with `body` and its vmdesc entry `desc` (the object without
    /// "name"/"instance_id", which are added). Returns the stream offset of the body.
    /// Like QEMU, a FULL section of an entry whose iterable section has started (vfio's config
    /// state after its device state) reuses that section's id.
    pub fn full(&mut self, idstr: &str, instance: u32, version: u32, body: &[u8], desc: Value) -> u64 {
        let id = match self.started.iter().find(|(s, i, _)| s == idstr && *i == instance) {
            Some(&(_, _, id)) => id,
            None => self.alloc_id(),
        };
        self.header(st::FULL, id, idstr, instance, version);
        let at = self.buf.len() as u64;
        self.buf.extend_from_slice(body);
        self.footer(id);
        let mut entry = json!({"name": idstr, "instance_id": instance});
        if let (Some(e), Some(d)) = (entry.as_object_mut(), desc.as_object()) {
            for (k, v) in d {
                e.insert(k.clone(), v.clone());
            }
        }
        self.devices.push(entry);
        at
    }

    /// A FULL vmsd section holding one opaque buffer of `len` bytes.
    pub fn opaque(&mut self, idstr: &str, instance: u32, len: usize) -> u64 {
        let body = vec![0xa5u8; len];
        let desc =
            json!({"vmsd_name": idstr, "version": 1, "fields": [{"name": "data", "type": "buffer", "size": len}]});
        self.full(idstr, instance, 1, &body, desc)
    }

    /// A vmsd device embedding PCIDevice after `before` bytes of other fields (and 8 bytes
    /// after it). Returns the stream offset of the config.
    pub fn pci_vmsd(&mut self, idstr: &str, vmsd: &str, version: u32, config: &[u8], before: usize) -> u64 {
        let mut body = vec![0x11u8; before];
        body.extend_from_slice(&pci_state(config));
        body.extend_from_slice(&[0x22u8; 8]);
        let mut fields = Vec::new();
        if before > 0 {
            fields.push(json!({"name": "pre", "type": "buffer", "size": before}));
        }
        fields.push(pci_desc_field("parent_obj", config.len()));
        fields.push(json!({"name": "regs", "array_len": 2, "type": "uint32", "size": 4}));
        let desc = json!({"vmsd_name": vmsd, "version": version, "fields": fields});
        self.full(idstr, 0, version, &body, desc) + before as u64 + 4
    }

    /// An e1000 at 00:02.0 ([`StreamBuilder::pci_vmsd`]) whose config holds only its IDs: the
    /// device after hand-written RAM in tests and benchmarks.
    pub fn e1000(&mut self) -> u64 {
        let mut c = vec![0u8; 256];
        c[..4].copy_from_slice(&[0x86, 0x80, 0x0e, 0x10]);
        self.pci_vmsd("0000:00:02.0/e1000", "e1000", 2, &c, 0)
    }

    /// A virtio-pci device section: the proxy's PCIDevice state, MSI-X table and PBA for
    /// `vectors` (0: no MSI-X), be16 config vector, virtio_save's common part (8-byte config,
    /// one queue), then `tail` bytes of device state, all in one "virtio" field. Returns the stream offset of the config.
    pub fn virtio_pci(&mut self, idstr: &str, vmsd: &str, config: &[u8], vectors: usize, tail: usize) -> u64 {
        let mut body = pci_state(config);
        if vectors > 0 {
            body.extend(std::iter::repeat_n(0u8, vectors * 16 + vectors.div_ceil(8)));
            body.extend_from_slice(&0xffffu16.to_be_bytes());
        }
        // virtio_save: status, isr, queue_sel, features, config_len, config, one queue of 256.
        body.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0]);
        body.extend_from_slice(&8u32.to_be_bytes());
        body.extend_from_slice(&[0x52, 0x54, 0, 0x12, 0x34, 0x56, 0, 1]);
        body.extend_from_slice(&1u32.to_be_bytes());
        body.extend_from_slice(&256u32.to_be_bytes());
        body.extend_from_slice(&[0; 10]);
        if vectors > 0 {
            body.extend_from_slice(&0xffffu16.to_be_bytes());
        }
        body.extend(std::iter::repeat_n(0x33u8, tail));
        let desc = json!({"vmsd_name": vmsd, "version": 11, "fields": [{"name": "virtio", "type": "virtio", "size": body.len()}]});
        self.full(idstr, 0, 11, &body, desc) + 4
    }

    /// A vfio-pci FULL section (old-style): DEV_CONFIG_STATE, PCIDevice state, MSI-X table and
    /// PBA for `msix_vectors`, END_OF_STATE. Returns the stream offset of the config.
    pub fn vfio_pci(&mut self, idstr: &str, config: &[u8], msix_vectors: usize) -> u64 {
        let mut body = vfio_flag::DEV_CONFIG_STATE.to_be_bytes().to_vec();
        body.extend_from_slice(&pci_state(config));
        body.extend(std::iter::repeat_n(0u8, msix_vectors * 16 + msix_vectors.div_ceil(8)));
        body.extend_from_slice(&vfio_flag::END_OF_STATE.to_be_bytes());
        let n = body.len();
        let desc = json!({"size": n, "fields": [{"name": "data", "size": n, "type": "buffer"}]});
        self.full(idstr, 0, 1, &body, desc) + 12
    }

    /// vfio-pci's iterable sections: START (SETUP_STATE, END_OF_STATE), one PART with a data
    /// record of `data_len` bytes, END (END_OF_STATE). Returns the section id.
    pub fn vfio_iterable(&mut self, idstr: &str, data_len: usize) -> u32 {
        let id = self.alloc_id();
        self.started.push((idstr.to_string(), 0, id));
        self.header(st::START, id, idstr, 0, 1);
        self.buf.extend_from_slice(&vfio_flag::DEV_SETUP_STATE.to_be_bytes());
        self.buf.extend_from_slice(&vfio_flag::END_OF_STATE.to_be_bytes());
        self.footer(id);
        self.header(st::PART, id, "", 0, 0);
        self.buf.extend_from_slice(&vfio_flag::DEV_DATA_STATE.to_be_bytes());
        self.buf.extend_from_slice(&(data_len as u64).to_be_bytes());
        self.buf.extend(std::iter::repeat_n(0x44u8, data_len));
        self.buf.extend_from_slice(&vfio_flag::END_OF_STATE.to_be_bytes());
        self.footer(id);
        self.header(st::END, id, "", 0, 0);
        self.buf.extend_from_slice(&vfio_flag::END_OF_STATE.to_be_bytes());
        self.footer(id);
        id
    }

    /// The start of a RAM section written by hand: a new section id, the START header of "ram"
    /// version 4 and the MEM_SIZE record listing one block "pc.ram" of `block` bytes. The
    /// caller appends page records, EOS and the footer. Returns the id and the bytes (not yet
    /// in the stream: append them with [`StreamBuilder::raw`]).
    pub fn ram_start(&mut self, block: u64) -> (u32, Vec<u8>) {
        let id = self.alloc_id();
        let mut raw = vec![st::START];
        raw.extend_from_slice(&id.to_be_bytes());
        put_str(&mut raw, "ram");
        raw.extend_from_slice(&0u32.to_be_bytes());
        raw.extend_from_slice(&4u32.to_be_bytes()); // RAM_SECTION_VERSION
        raw.extend_from_slice(&(block | 0x04).to_be_bytes());
        put_str(&mut raw, "pc.ram");
        raw.extend_from_slice(&block.to_be_bytes());
        (id, raw)
    }

    /// A RAM section ("ram", version 4) for one block "pc.ram" of 1 MiB: START with the block
    /// list and a data page for each address in `pages` (the first without CONTINUE), a zero
    /// page, EOS; then END with EOS. Returns the section id.
    pub fn ram_section(&mut self, pages: &[u64]) -> u32 {
        let ps = self.page_size;
        let (id, start) = self.ram_start(1 << 20);
        self.buf.extend_from_slice(&start);
        self.buf.extend_from_slice(&0x10u64.to_be_bytes());
        self.footer(id);
        self.header(st::PART, id, "", 0, 0);
        for (i, &a) in pages.iter().enumerate() {
            let flags = if i == 0 { 0x08 } else { 0x08 | 0x20 };
            self.buf.extend_from_slice(&(a | flags).to_be_bytes());
            if i == 0 {
                put_str(&mut self.buf, "pc.ram");
            }
            self.buf
                .extend(std::iter::repeat_n((i as u8).wrapping_add(1), ps as usize));
        }
        self.buf
            .extend_from_slice(&(0x02u64 | if pages.is_empty() { 0 } else { 0x20 }).to_be_bytes());
        if pages.is_empty() {
            put_str(&mut self.buf, "pc.ram");
        }
        self.buf.push(0);
        self.buf.extend_from_slice(&0x10u64.to_be_bytes());
        self.footer(id);
        self.header(st::END, id, "", 0, 0);
        self.buf.extend_from_slice(&0x10u64.to_be_bytes());
        self.footer(id);
        id
    }

    /// A COMMAND record.
    pub fn command(&mut self, cmd: u16, data: &[u8]) -> &mut Self {
        self.buf.push(st::COMMAND);
        self.buf.extend_from_slice(&cmd.to_be_bytes());
        self.buf.extend_from_slice(&(data.len() as u16).to_be_bytes());
        self.buf.extend_from_slice(data);
        self
    }

    /// The vmdesc JSON as it would be written now.
    pub fn vmdesc_json(&self) -> String {
        json!({"page_size": self.page_size, "devices": self.devices}).to_string()
    }

    /// EOF, then the vmdesc (unless disabled).
    pub fn finish(mut self) -> Vec<u8> {
        self.buf.push(st::EOF);
        if self.vmdesc {
            let j = self.vmdesc_json();
            self.buf.push(st::VMDESCRIPTION);
            self.buf.extend_from_slice(&(j.len() as u32).to_be_bytes());
            self.buf.extend_from_slice(j.as_bytes());
        }
        self.buf
    }
}
