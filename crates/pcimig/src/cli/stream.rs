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

fn ls(mut a: LsArgs) -> anyhow::Result<u8> {
    if let Some(f) = a.file.strip_prefix("stream:") {
        a.file = f.to_string();
    }
    let s = Stream::open(&a.file)?;
    if a.json {
        let v = serde_json::json!({
            "file": a.file,
            "machine_type": s.machine_type(),
            "page_size": s.page_size(),
            "capabilities": s.capabilities(),
            "sections": s.sections(),
            "devices": s.pci_devices(),
            "pci_sections_without_config": s.pci_sections_without_config(),
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
    let bare = s.pci_sections_without_config();
    if !bare.is_empty() {
        println!();
        println!(
            "PCI device sections without a saved config (their vmsd does not embed PCIDevice; QEMU checks nothing):"
        );
        for x in bare {
            println!(
                "{:>4} {:<40} {:>4} {:>4}",
                x.section_id, x.idstr, x.instance_id, x.version_id
            );
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use pcimig_qemu::build::StreamBuilder;

    #[test]
    fn ls_and_extract() {
        let dir = std::env::temp_dir().join(format!("pcimig-cli-stream-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut c = vec![0u8; 4096];
        c[..4].copy_from_slice(&[0x36, 0x1b, 0x0c, 0x00]);
        let mut b = StreamBuilder::new("pc-q35-10.0");
        b.pci_vmsd("0000:00:03.0/pcie-root-port", "pcie-root-port", 1, &c, 0);
        let file = dir.join("vm.mig");
        std::fs::write(&file, b.finish()).unwrap();
        let f = file.display().to_string();
        assert_eq!(
            run(StreamCommand::Ls(LsArgs {
                file: f.clone(),
                json: true,
                all: true
            }))
            .unwrap(),
            0
        );
        assert_eq!(
            run(StreamCommand::Ls(LsArgs {
                file: f.clone(),
                json: false,
                all: true
            }))
            .unwrap(),
            0
        );
        let out = dir.join("rp.bin");
        let src = format!("{f}#0000:00:03.0/pcie-root-port");
        assert_eq!(
            run(StreamCommand::Extract(ExtractArgs {
                src,
                output: out.clone()
            }))
            .unwrap(),
            0
        );
        assert_eq!(std::fs::read(&out).unwrap(), c);
        let src = format!("stream:{f}#0000:00:03.0");
        assert_eq!(
            run(StreamCommand::Extract(ExtractArgs {
                src,
                output: out.clone()
            }))
            .unwrap(),
            0
        );
        assert!(run(StreamCommand::Extract(ExtractArgs {
            src: f.clone(),
            output: out.clone()
        }))
        .is_err());
        let src = format!("{f}#0000:00:09.0");
        let e = run(StreamCommand::Extract(ExtractArgs {
            src,
            output: out.clone(),
        }))
        .unwrap_err();
        assert!(e.to_string().contains("no PCI device"), "{e}");
        let e = run(StreamCommand::Ls(LsArgs {
            file: "/dev/null".into(),
            json: false,
            all: false,
        }))
        .unwrap_err();
        assert!(e.to_string().contains("seekable"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
