//! `pcimig stream ls|extract` (streams issue).

use anyhow::Context;
use clap::{Args, Subcommand};
use pcimig_qemu::{SectionKind, Stream};

#[derive(Debug, Subcommand)]
pub enum StreamCommand {
    /// List the sections and PCI devices of a migration stream.
    Ls(LsArgs),
    /// Extract one PCI device's saved config space.
    Extract(ExtractArgs),
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// The stream file.
    pub file: String,
    /// Structured output.
    #[arg(long)]
    pub json: bool,
    /// Also list every section (not only the PCI devices).
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct ExtractArgs {
    /// FILE#DEVICE.
    pub src: String,
    /// Output file (written atomically).
    #[arg(short, long)]
    pub output: std::path::PathBuf,
}

pub fn run(cmd: StreamCommand) -> anyhow::Result<u8> {
    match cmd {
        StreamCommand::Ls(a) => ls(a),
        StreamCommand::Extract(a) => extract(a),
    }
}

fn ls(a: LsArgs) -> anyhow::Result<u8> {
    let s = Stream::open(&a.file)?;
    if a.json {
        let v = serde_json::json!({
            "file": a.file,
            "machine_type": s.machine_type(),
            "page_size": s.page_size(),
            "capabilities": s.capabilities(),
            "sections": s.sections(),
            "devices": s.pci_devices(),
            "vmdesc": s.vmdesc(),
            "warnings": s.warnings(),
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(super::EXIT_PASS);
    }
    let iterable = s.sections().iter().filter(|x| x.kind == SectionKind::Iterable).count();
    println!(
        "{}: machine {}, {} sections ({} iterable), {} PCI devices",
        a.file,
        s.machine_type().unwrap_or("(no configuration section)"),
        s.sections().len(),
        iterable,
        s.pci_devices().len()
    );
    if a.all {
        println!();
        println!(
            "{:>4} {:<40} {:>4} {:>4} {:<8} {:>12} {:>12}",
            "ID", "IDSTR", "INST", "VER", "KIND", "OFFSET", "BYTES"
        );
        for x in s.sections() {
            let kind = match x.kind {
                SectionKind::Full => "full".to_string(),
                SectionKind::Iterable => format!("iter/{}", x.chunks),
            };
            println!(
                "{:>4} {:<40} {:>4} {:>4} {:<8} {:>#12x} {:>12}",
                x.section_id, x.idstr, x.instance_id, x.version_id, kind, x.offset, x.body_len
            );
        }
    }
    println!();
    println!(
        "{:>4} {:<40} {:>4} {:>4} {:<10} {:>6} {:>12}",
        "SEC", "DEVICE", "INST", "VER", "KIND", "CONFIG", "AT"
    );
    for d in s.pci_devices() {
        println!(
            "{:>4} {:<40} {:>4} {:>4} {:<10} {:>6} {:>#12x}",
            d.section_id,
            d.id,
            d.instance_id,
            d.version,
            d.kind.to_string(),
            d.config_size,
            d.config_offset
        );
    }
    for w in s.warnings() {
        eprintln!("pcimig: warning: {}: {w}", a.file);
    }
    Ok(super::EXIT_PASS)
}

fn extract(a: ExtractArgs) -> anyhow::Result<u8> {
    let raw = a.src.strip_prefix("stream:").unwrap_or(&a.src);
    let Some((file, dev)) = raw.rsplit_once('#') else {
        anyhow::bail!(
            "{}: name the device as FILE#DEVICE (see `pcimig stream ls FILE`)",
            a.src
        );
    };
    let s = Stream::open(file)?;
    let d = s.find_device(dev)?;
    let bytes = s.read_config(d)?;
    super::write_atomic(&a.output, &bytes).with_context(|| format!("writing {}", a.output.display()))?;
    eprintln!(
        "{}#{}: {} bytes of config (section {}, {}, stream byte {:#x}) written to {}",
        file,
        d.id,
        bytes.len(),
        d.section_id,
        d.kind,
        d.config_offset,
        a.output.display()
    );
    Ok(super::EXIT_PASS)
}
