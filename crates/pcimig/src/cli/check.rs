//! `pcimig check`: predict QEMU's verdict on restoring the saved config onto the destination.

use super::output;
use clap::{Args, ValueEnum};
use pcimig::check::{self, CheckError, EmulatedRequest, Outcome, QemuVersions, Request, VfioRequest};
use pcimig::{report, report_html};
use pcimig_config::QemuVersion;
use pcimig_qemu::devices::{qemu_data_dirs, RomFiles};
use pcimig_vfio::Slot;

/// `on` / `off`, as QEMU spells boolean properties.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnOff {
    /// On.
    On,
    /// Off.
    Off,
}

impl OnOff {
    fn bool(self) -> bool {
        self == OnOff::On
    }
}

/// Where the device sits in the guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SlotArg {
    /// Behind a PCIe root/downstream port (default; where libvirt puts passthrough on q35).
    PciePort,
    /// On q35's PCIe root bus.
    Q35Root,
    /// Behind a conventional PCI bridge on q35.
    PciBridge,
    /// On i440fx.
    I440fx,
}

impl From<SlotArg> for Slot {
    fn from(s: SlotArg) -> Slot {
        match s {
            SlotArg::PciePort => Slot::PciePort,
            SlotArg::Q35Root => Slot::Q35Root,
            SlotArg::PciBridge => Slot::PciBridge,
            SlotArg::I440fx => Slot::I440fx,
        }
    }
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The saved side: the source host's physical config (virtualized as vfio-pci would), or a
    /// config from a migration stream (`stream:FILE#DEVICE`, used as saved).
    #[arg(long)]
    pub saved: std::ffi::OsString,
    /// The destination: the destination host's physical config of the same device model.
    #[arg(long)]
    pub dest: std::ffi::OsString,
    /// Both sides are physical configs virtualized as vfio-pci (the default for raw dumps).
    #[arg(long)]
    pub vfio: bool,
    /// The destination is an emulated QEMU device whose config is in a stream of the freshly
    /// started destination VM.
    #[arg(long, conflicts_with = "vfio")]
    pub emulated: bool,
    /// QMP `query-pci` output of the destination VM (BAR sizes for --emulated).
    #[arg(long, value_name = "FILE", requires = "emulated")]
    pub dest_query_pci: Option<std::path::PathBuf>,
    /// A data directory of the destination's QEMU (`-L DIR`), searched for ROM files before
    /// the host's (`qemu-system-x86_64 -L help`, or PCIMIG_QEMU_DATADIRS) as QEMU does;
    /// repeatable. The ROM files' sizes decide the ROM BARs and ROM block lengths.
    #[arg(long = "dest-datadir", value_name = "DIR", requires = "emulated")]
    pub dest_datadirs: Vec<std::path::PathBuf>,
    /// The vfio-pci property on the destination (default: on, off for machine types <= 9.0).
    #[arg(long, value_name = "on|off")]
    pub skip_vsc_check: Option<OnOff>,
    /// The destination's machine type (pc-q35-X.Y, pc-i440fx-X.Y, q35, pc).
    #[arg(long, value_name = "TYPE")]
    pub machine: Option<String>,
    /// Where the device sits in the guest (default pcie-port; i440fx with --machine pc-i440fx-*).
    #[arg(long, value_enum)]
    pub slot: Option<SlotArg>,
    /// A BAR's size, e.g. `--bar 0=16M` (repeatable).
    #[arg(long = "bar", value_name = "N=SIZE")]
    pub bars: Vec<String>,
    /// The expansion ROM's size, e.g. `--rom 512K`.
    #[arg(long, value_name = "SIZE")]
    pub rom: Option<String>,
    /// pcimig's opt-in policy: exempt extended vendor-specific (VSEC/DVSEC) payloads.
    #[arg(long, value_name = "on|off", default_value = "off")]
    pub exempt_ext_vendor: OnOff,
    /// Read the physical configs through the host kernel's vfio-pci layer (Linux 6.12) before
    /// QEMU's realize (default: on for dumps, lspci text and sysfs; off for `vfio:` sources; never
    /// for a saved config from a stream).
    #[arg(long, value_name = "on|off")]
    pub kernel_layer: Option<OnOff>,
    /// The destination's QEMU version, `X.Y` or `X.Y.Z` (7.2 … 11.1; default 10.0.2): the
    /// machine types, vfio-pci properties and masks it has.
    #[arg(long, value_name = "VERSION")]
    pub dest_qemu: Option<String>,
    /// The QEMU version that saved the VM, `X.Y` or `X.Y.Z` (default 10.0.2): it must define
    /// the machine type; a physical saved side is virtualized as it realizes vfio-pci.
    #[arg(long, value_name = "VERSION")]
    pub saved_qemu: Option<String>,
    /// Structured output (schema in README.md).
    #[arg(long)]
    pub json: bool,
    /// Also write a self-contained HTML report to FILE: a map of each device's config space
    /// coloured by what the check compares, every mismatch marked (README.md, "HTML report").
    #[arg(long, value_name = "FILE")]
    pub html: Option<std::path::PathBuf>,
}

/// `--saved-qemu` and `--dest-qemu` (10.0.2 each when not given); a bad version is bad input.
fn qemu_versions(a: &CheckArgs) -> Result<QemuVersions, CheckError> {
    let parse = |opt: &str, v: &Option<String>| match v {
        Some(text) => QemuVersion::parse(text).map_err(|e| CheckError::Options(format!("{opt}: {e}"))),
        None => Ok(QemuVersion::DEFAULT),
    };
    Ok(QemuVersions {
        saved: parse("--saved-qemu", &a.saved_qemu)?,
        dest: parse("--dest-qemu", &a.dest_qemu)?,
    })
}

/// Parse a size: decimal or 0x-hex bytes, with an optional K/M/G/T suffix (powers of 1024).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mult) = match t.chars().last().map(|c| c.to_ascii_uppercase()) {
        Some('K') => (&t[..t.len() - 1], 1u64 << 10),
        Some('M') => (&t[..t.len() - 1], 1 << 20),
        Some('G') => (&t[..t.len() - 1], 1 << 30),
        Some('T') => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    let v = if let Some(h) = num.strip_prefix("0x") {
        u64::from_str_radix(h, 16)
    } else {
        num.parse::<u64>()
    }
    .map_err(|_| format!("size '{s}' is not a number"))?;
    v.checked_mul(mult).ok_or_else(|| format!("size '{s}' is too large"))
}

/// `--bar N=SIZE`, repeatable: each index 0..5 at most once, each size a power of two.
fn parse_bars(args: &[String]) -> Result<[Option<u64>; 6], CheckError> {
    let mut bars = [None; 6];
    for b in args {
        let (i, sz) = b
            .split_once('=')
            .ok_or_else(|| CheckError::Options(format!("--bar {b}: expected N=SIZE")))?;
        let index_err = || CheckError::Options(format!("--bar {b}: BAR index must be 0..5"));
        let i: usize = i.trim().parse().map_err(|_| index_err())?;
        let slot: &mut Option<u64> = bars.get_mut(i).ok_or_else(index_err)?;
        let sz = parse_size(sz).map_err(|e| CheckError::Options(format!("--bar {b}: {e}")))?;
        if sz != 0 && !sz.is_power_of_two() {
            return Err(CheckError::Options(format!("--bar {b}: a BAR size is a power of two")));
        }
        if slot.is_some() {
            return Err(CheckError::Options(format!("--bar {i} given twice")));
        }
        *slot = Some(sz);
    }
    Ok(bars)
}

fn vfio_request(a: &CheckArgs) -> Result<VfioRequest, CheckError> {
    let bars = parse_bars(&a.bars)?;
    let rom = match &a.rom {
        Some(r) => Some(parse_size(r).map_err(|e| CheckError::Options(format!("--rom: {e}")))?),
        None => None,
    };
    Ok(VfioRequest {
        saved: src_arg("--saved", &a.saved)?,
        dest: src_arg("--dest", &a.dest)?,
        slot: a.slot.map(Slot::from),
        machine: a.machine.clone(),
        skip_vsc_check: a.skip_vsc_check.map(OnOff::bool),
        bars,
        rom,
        exempt_ext_vendor: a.exempt_ext_vendor.bool(),
        kernel_layer: a.kernel_layer.map(OnOff::bool),
        qemu: qemu_versions(a)?,
    })
}

/// `--emulated`: the vfio-pci options do not apply (the machine type and slot come from the
/// destination stream, BAR sizes from the device model or --dest-query-pci).
fn emulated_request(a: &CheckArgs) -> Result<EmulatedRequest, CheckError> {
    let vfio_only = [
        ("--machine", a.machine.is_some()),
        ("--slot", a.slot.is_some()),
        ("--bar", !a.bars.is_empty()),
        ("--rom", a.rom.is_some()),
        ("--skip-vsc-check", a.skip_vsc_check.is_some()),
    ];
    if let Some((opt, _)) = vfio_only.iter().find(|(_, set)| *set) {
        return Err(CheckError::Options(format!(
            "{opt} does not apply with --emulated: the machine type and slot come from the destination stream, BAR sizes from the device model or --dest-query-pci"
        )));
    }
    if a.kernel_layer.is_some() {
        return Err(CheckError::Options(
            "--kernel-layer does not apply with --emulated: both sides come from migration streams, QEMU's own configs, not physical reads through the host kernel".into(),
        ));
    }
    Ok(EmulatedRequest {
        saved: src_arg("--saved", &a.saved)?,
        dest: src_arg("--dest", &a.dest)?,
        dest_query_pci: a.dest_query_pci.clone(),
        // The destination's ROM files, read once per run: an input of the device models.
        rom_files: dest_rom_files(&a.dest_datadirs)?,
        qemu: qemu_versions(a)?,
    })
}

/// The ROM files of `--dest-datadir DIR…` then the host's data directories, in QEMU's order
/// (qemu_add_data_dir for each `-L`, then qemu_add_default_firmwarepath); a DIR that is not a
/// readable directory is an error.
fn dest_rom_files(dirs: &[std::path::PathBuf]) -> Result<RomFiles, CheckError> {
    for d in dirs {
        std::fs::read_dir(d).map_err(|e| {
            CheckError::Options(format!(
                "--dest-datadir {}: cannot read the directory: {e}",
                d.display()
            ))
        })?;
    }
    let all: Vec<std::path::PathBuf> = dirs.iter().cloned().chain(qemu_data_dirs()).collect();
    Ok(RomFiles::from_data_dirs(&all))
}

/// A SRC argument as the library takes it (UTF-8).
fn src_arg(opt: &str, raw: &std::ffi::OsStr) -> Result<String, CheckError> {
    super::output::utf8_src(raw).map_err(|e| CheckError::Options(format!("{opt} {e}")))
}

/// The library's request for these arguments.
fn request(a: &CheckArgs) -> Result<Request, CheckError> {
    let stdin = |s: &std::ffi::OsStr| s == "-" || s.to_str().is_some_and(|s| s.starts_with("-#"));
    if stdin(&a.saved) && stdin(&a.dest) {
        return Err(CheckError::Options(
            "--saved and --dest both read standard input (`-`); at most one can".into(),
        ));
    }
    if a.html.as_deref().is_some_and(|h| h.as_os_str() == "-") {
        return Err(CheckError::Options(
            "--html -: the report already goes to standard output; give the page a file name".into(),
        ));
    }
    if a.emulated {
        emulated_request(a).map(Request::Emulated)
    } else {
        vfio_request(a).map(Request::Vfio)
    }
}

/// The files `--saved` and `--dest` read (the SRC as given and its path without a scheme or
/// selector), which an output must not replace.
fn input_files(a: &CheckArgs) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for raw in [&a.saved, &a.dest] {
        files.push(std::path::PathBuf::from(raw));
        if let Some(text) = raw.to_str() {
            let spec = pcimig::source::SourceSpec::parse(text);
            if !matches!(spec.scheme.as_deref(), Some("sysfs" | "vfio")) {
                files.push(spec.path.into());
            }
        }
    }
    files
}

pub fn run(args: CheckArgs) -> anyhow::Result<u8> {
    let out = request(&args).and_then(|r| check::run(&r))?;
    if let Some(path) = &args.html {
        super::output::write_output(path, report_html::check_page(&out).as_bytes(), &input_files(&args))?;
    }
    if args.json {
        output::print_json(&out)?;
    } else {
        match &out {
            Outcome::Device(o) => output::print_text(&report::check_text(o))?,
            Outcome::Streams(o) => output::print_text(&report::streams_text(o))?,
        }
    }
    Ok(out.verdict().exit_code())
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_parse_with_binary_suffixes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("16M"), Ok(16 << 20));
        assert_eq!(parse_size("512k"), Ok(512 << 10));
        assert_eq!(parse_size("0x1000"), Ok(0x1000));
        assert_eq!(parse_size("64G"), Ok(64 << 30));
        assert!(parse_size("12Q").is_err());
        assert!(parse_size("").is_err());
        assert!(parse_size("abc").is_err());
        assert!(parse_size("99999999999T").is_err());
    }
}
