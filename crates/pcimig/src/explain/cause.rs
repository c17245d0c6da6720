//! The likely cause of a failure, from what QEMU says differs: the register of a `Bad config
//! data` line (device ID, revision, subsystem, a Vendor Specific payload that `skip-vsc-check`
//! leaves checked, a DSN, a field a machine type's compat property sets), a RAM block length, a
//! section or machine type the destination does not have.

use super::locate::{vmsd_of, Named};
use super::parse::{BadConfig, Event};
use pcimig_config::machine::HW_COMPAT;
use pcimig_config::{MachineType, QemuVersion};
use serde::Serialize;

/// What kind of cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CauseKind {
    /// Vendor or Device ID: another device model.
    DeviceId,
    /// Revision ID.
    Revision,
    /// Subsystem Vendor ID / Subsystem ID.
    Subsystem,
    /// Another header register (class code, BARs, interrupt pin, capability pointer …).
    Header,
    /// A Vendor Specific capability's payload checked because skip-vsc-check is off.
    VendorSpecific,
    /// An extended vendor-specific capability (VSEC/DVSEC), which QEMU always checks.
    ExtVendorSpecific,
    /// The Device Serial Number.
    Dsn,
    /// A field a machine type's compat property sets.
    CompatProperty,
    /// Another capability field.
    Capability,
    /// An option ROM (or other RAM block) of another length.
    RamBlockSize,
    /// A RAM block the destination does not have.
    UnknownRamBlock,
    /// A device section the destination does not have.
    UnknownSection,
    /// A section version newer than the destination loads.
    VmstateVersion,
    /// The destination runs another machine type.
    MachineTypeDiffers,
    /// The destination QEMU does not define the machine type.
    MachineTypeUnknown,
    /// Nothing more specific is known.
    Unknown,
}

/// One likely cause, with the sentence a report prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cause {
    /// What kind.
    pub kind: CauseKind,
    /// Why, and what to do.
    pub text: String,
}

impl Cause {
    fn new(kind: CauseKind, text: impl Into<String>) -> Cause {
        Cause {
            kind,
            text: text.into(),
        }
    }
}

/// What is known beyond the log: from `--stream`, `--dest-qemu`, `--skip-vsc-check`.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// The VM's machine type (from the saved stream).
    pub machine: Option<MachineType>,
    /// The destination's QEMU version.
    pub dest_qemu: Option<QemuVersion>,
    /// skip-vsc-check set explicitly on the destination's vfio-pci.
    pub skip_vsc_check: Option<bool>,
}

/// The idstr's device is vfio-pci (vmsd `vfio`, vmstate `vfio-pci`).
pub fn is_vfio(idstr: Option<&str>) -> bool {
    idstr.is_some_and(|i| matches!(vmsd_of(i), "vfio" | "vfio-pci"))
}

/// The causes of a `Bad config data` failure at the named register.
pub fn config_causes(bad: &BadConfig, named: &Named, idstr: Option<&str>, ctx: &Context) -> Vec<Cause> {
    if named.capability.is_none() && !named.register.is_empty() {
        return vec![header_cause(&named.register, bad)];
    }
    match named.capability_id.as_deref() {
        Some("0x09") if named.register.contains("payload") => vec![vsc_cause(idstr, ctx)],
        Some("0x0003") => vec![dsn_cause(idstr)],
        Some("0x000b") | Some("0x0023") => vec![Cause::new(
            CauseKind::ExtVendorSpecific,
            "an extended vendor-specific capability (VSEC/DVSEC): QEMU checks its read-only bytes whatever \
             skip-vsc-check says (that property covers standard Vendor Specific capabilities only); the \
             devices' firmware or driver differ",
        )],
        Some(_) => vec![capability_cause(named, idstr)],
        None => vec![Cause::new(
            CauseKind::Unknown,
            format!(
                "a read-only byte differs (saved {:02x}, destination {:02x}, bits {:02x}){}; give --stream to \
                 name the capability",
                bad.saved,
                bad.device,
                bad.bad_bits(),
                if is_vfio(idstr) {
                    ": on vfio-pci most often a Vendor Specific payload (skip-vsc-check off), the Device Serial \
                     Number or a PCI Express capability field"
                } else {
                    ""
                }
            ),
        )],
    }
}

/// A header register's cause, by its name.
fn header_cause(register: &str, bad: &BadConfig) -> Cause {
    let (kind, text) = match register {
        "Vendor ID" | "Device ID" => (
            CauseKind::DeviceId,
            "the destination device has another PCI ID: another device model, VF or vGPU type, or an \
             x-pci-vendor-id/x-pci-device-id override on one side only"
                .to_string(),
        ),
        "Revision ID" => (
            CauseKind::Revision,
            "the Revision ID differs: another stepping of the device, or another firmware or vGPU driver \
             version presenting it"
                .to_string(),
        ),
        "Subsystem Vendor ID" | "Subsystem ID" => (
            CauseKind::Subsystem,
            "the subsystem IDs differ: another board or vGPU type, or an \
             x-pci-sub-vendor-id/x-pci-sub-device-id override on one side only"
                .to_string(),
        ),
        "Secondary Latency Timer" => (
            CauseKind::CompatProperty,
            compat_text("x-pci-express-writeable-slt-bug"),
        ),
        other => (
            CauseKind::Header,
            format!(
                "{other} differs (saved {:02x}, destination {:02x}): the two devices or their QEMU \
                 configuration (BAR/ROM sizes, multifunction, interrupt pin, capability list) differ",
                bad.saved, bad.device
            ),
        ),
    };
    Cause::new(kind, text)
}

/// Why a VSC payload byte was checked: skip-vsc-check was off on the destination's vfio-pci.
fn vsc_cause(idstr: Option<&str>, ctx: &Context) -> Cause {
    let why = match (&ctx.machine, ctx.dest_qemu) {
        (Some(m), q) => {
            let q = q.unwrap_or(QemuVersion::DEFAULT);
            match pcimig_vfio::effective_skip_vsc_check_in(q, ctx.skip_vsc_check, m) {
                Ok(e) if !e.value => format!("it is off here: {}", e.reason),
                Ok(e) => format!(
                    "pcimig would have it on here ({}), so the destination must have set it off explicitly or \
                     runs a QEMU older than 9.1",
                    e.reason
                ),
                Err(e) => e.to_string(),
            }
        }
        (None, _) => "it is off when the machine type is 9.0 or older (hw_compat_9_0), when set off \
                      explicitly (skip-vsc-check=off), or always on a destination QEMU older than 9.1 \
                      (no such property); give --stream to tell which"
            .to_string(),
    };
    let subject = if is_vfio(idstr) || idstr.is_none() {
        "a Vendor Specific capability's payload (driver/firmware data, e.g. a vGPU's version)"
    } else {
        "a Vendor Specific capability's payload of an emulated device"
    };
    Cause::new(
        CauseKind::VendorSpecific,
        format!("{subject}: vfio-pci leaves it unchecked only with skip-vsc-check on (QEMU 9.1 and newer); {why}"),
    )
}

fn dsn_cause(idstr: Option<&str>) -> Cause {
    let text = match idstr.map(vmsd_of) {
        Some("e1000e") => "the Device Serial Number differs: QEMU's e1000e derives it from the NIC's MAC \
                           address, so the two command lines give different MACs"
            .to_string(),
        _ => "the Device Serial Number differs: it is unique to each physical device, so a restore onto \
              another device fails wherever it is checked; only a variant driver that virtualizes it helps"
            .to_string(),
    };
    Cause::new(CauseKind::Dsn, text)
}

/// A capability field: a compat property's field when one sets it, else the field itself.
fn capability_cause(named: &Named, idstr: Option<&str>) -> Cause {
    let r = named.register.as_str();
    let vmsd = idstr.map(vmsd_of).unwrap_or("");
    let compat = if r.ends_with("Device Capabilities") {
        Some("x-pcie-ext-tag")
    } else if r.ends_with("Uncorrectable Error Mask") {
        Some("x-pcie-err-unc-mask")
    } else if vmsd == "pcie-root-port" && (r.contains("Link Capabilities") || r.contains("Link Status")) {
        Some("x-speed")
    } else {
        None
    };
    if let Some(p) = compat {
        return Cause::new(CauseKind::CompatProperty, compat_text(p));
    }
    let hint = if r.contains("Link") {
        "the link (speed, width, ASPM) differs: another slot or device"
    } else if r.contains("Message Control") {
        "the number of MSI/MSI-X vectors or their layout differs (a `vectors` property, or another device)"
    } else if r.contains("Slot") {
        "the slot (chassis, slot number, hot-plug) differs: the ports' properties differ"
    } else {
        "a read-only capability field differs: another device, firmware or QEMU configuration"
    };
    Cause::new(CauseKind::Capability, format!("{r}: {hint}"))
}

/// A compat property's sentence: its array, the machine types it applies to, the QEMU that added
/// it ([`HW_COMPAT`]).
fn compat_text(property: &str) -> String {
    let found = HW_COMPAT
        .iter()
        .find_map(|a| a.properties.iter().find(|p| p.property == property).map(|p| (a, p)));
    match found {
        Some((a, p)) => format!(
            "{}.{}={} is set by {} (machine types {}.{} and older): source and destination differ in \
             machine type or QEMU version across {}.{}; run both with the same versioned machine type",
            p.driver,
            p.property,
            p.value,
            a.name(),
            a.version.0,
            a.version.1,
            a.born_in().0,
            a.born_in().1
        ),
        None => format!("the compat property {property} differs between the two machine types"),
    }
}

/// The causes of a failure that is not a config byte.
pub fn other_causes(e: &Event, ctx: &Context) -> Option<Cause> {
    let c = match e {
        Event::RamBlockSize { block, saved, dest } => ram_block_cause(block, *saved, *dest),
        Event::UnknownRamBlock { block } => Cause::new(
            CauseKind::UnknownRamBlock,
            if block.ends_with(".rom") {
                format!(
                    "the destination has no option ROM block {block}: the device has no ROM there (romfile= \
                     empty, rombar=0, or a ROM file missing), while the source had one"
                )
            } else {
                format!("the destination has no RAM block {block}: the command lines differ (memory backends, devices)")
            },
        ),
        Event::UnknownSection { idstr, instance_id } => Cause::new(
            CauseKind::UnknownSection,
            format!(
                "the destination has no device '{idstr}' (instance {instance_id}): start it with the source's \
                 devices at the same addresses, including hot-plugged ones"
            ),
        ),
        Event::UnsupportedVersion { idstr, saved, dest } => Cause::new(
            CauseKind::VmstateVersion,
            format!(
                "'{idstr}' was saved as version {saved} and the destination loads at most version {dest}: the \
                 destination's QEMU is older than the source's (a backward migration it does not support)"
            ),
        ),
        Event::MachineDiffers { received, local } => Cause::new(
            CauseKind::MachineTypeDiffers,
            format!(
                "the VM runs machine type {received} and the destination was started with {local}: start the \
                 destination with -machine {received}{}",
                lacks(received, ctx)
            ),
        ),
        Event::MachineUnsupported { machine } => Cause::new(
            CauseKind::MachineTypeUnknown,
            match machine {
                Some(m) => format!(
                    "the destination's QEMU does not define machine type {m}{}",
                    lacks(m, ctx)
                ),
                None => "the destination's QEMU does not define the machine type it was started with".into(),
            },
        ),
        _ => return None,
    };
    Some(c)
}

/// `(QEMU X defines A … B)` when the destination's QEMU is known and lacks `machine`.
fn lacks(machine: &str, ctx: &Context) -> String {
    let (Some(q), Ok(m)) = (ctx.dest_qemu, MachineType::parse(machine)) else {
        return String::new();
    };
    q.lacks_machine(&m).map(|why| format!(" ({why})")).unwrap_or_default()
}

fn ram_block_cause(block: &str, saved: u64, dest: u64) -> Cause {
    let text = if block.ends_with(".rom") {
        format!(
            "the option ROM block {block} is {saved:#x} bytes in the stream and {dest:#x} on the destination: \
             QEMU sizes it from the ROM file (rounded up to a power of two), so the hosts have different ROM \
             files (ipxe-qemu/seabios package versions, romfile=); install the same ROM files or pin romfile= \
             to the source's file"
        )
    } else {
        format!(
            "the RAM block {block} is {saved:#x} bytes in the stream and {dest:#x} on the destination: the \
             command lines differ (-m, a device's memory size)"
        )
    };
    Cause::new(CauseKind::RamBlockSize, text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explain::locate::{name_from_log, Certainty};

    fn bad(offset: usize) -> BadConfig {
        BadConfig {
            offset,
            saved: 1,
            device: 2,
            cmask: 0xff,
            wmask: 0,
            w1cmask: 0,
        }
    }

    #[test]
    fn vsc_payload_with_a_9_0_machine_names_hw_compat_9_0() {
        let named = Named {
            register: "Vendor Specific (09) @0x40 +0x05 payload".into(),
            capability: Some("Vendor Specific (09)".into()),
            capability_id: Some("0x09".into()),
            certainty: Certainty::SavedConfig,
            note: None,
        };
        let ctx = Context {
            machine: Some(MachineType::parse("pc-q35-9.0").unwrap()),
            ..Context::default()
        };
        let c = config_causes(&bad(0x45), &named, Some("0000:01:00.0/vfio"), &ctx);
        assert_eq!(c[0].kind, CauseKind::VendorSpecific);
        assert!(c[0].text.contains("hw_compat_9_0"), "{}", c[0].text);
    }

    #[test]
    fn device_capabilities_names_the_ext_tag_compat_property() {
        let n = name_from_log(Some("0000:00:03.0/e1000e"), 0xe4);
        let c = config_causes(&bad(0xe4), &n, Some("0000:00:03.0/e1000e"), &Context::default());
        assert_eq!(c[0].kind, CauseKind::CompatProperty);
        assert!(c[0].text.contains("hw_compat_9_1"), "{}", c[0].text);
    }

    #[test]
    fn unknown_machine_names_what_the_destination_defines() {
        let ctx = Context {
            dest_qemu: Some(QemuVersion::parse("7.2").unwrap()),
            ..Context::default()
        };
        let e = Event::MachineUnsupported {
            machine: Some("pc-q35-10.0".into()),
        };
        let c = other_causes(&e, &ctx).unwrap();
        assert_eq!(c.kind, CauseKind::MachineTypeUnknown);
        assert!(c.text.contains("7.2"), "{}", c.text);
    }
}
