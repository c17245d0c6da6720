//! `pcimig stream ls|extract` (streams issue).

use super::output;
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
    /// The stream file (a regular file: streams are read by seeking).
    pub file: std::path::PathBuf,
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
    /// Output file: written atomically, never over the stream itself, a link or a special
    /// file; `-` writes to standard output.
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
    if let Some(f) = a.file.to_str().and_then(|f| f.strip_prefix("stream:")) {
        a.file = f.into();
    }
    let s = Stream::open(&a.file)?;
    let name = a.file.to_string_lossy();
    if a.json {
        let v = serde_json::json!({
            "file": name,
            "machine_type": s.machine_type(),
            "page_size": s.page_size(),
            "capabilities": s.capabilities(),
            "sections": s.sections(),
            "devices": s.pci_devices(),
            "pci_sections_without_config": s.pci_sections_without_config(),
            "vmdesc": s.vmdesc(),
            "warnings": s.warnings(),
        });
        output::print_json(&v)?;
        return Ok(super::EXIT_PASS);
    }
    output::print_text(&ls_text(&s, &name, a.all))?;
    for w in s.warnings() {
        eprintln!("pcimig: warning: {}", output::terminal_safe(&format!("{name}: {w}")));
    }
    Ok(super::EXIT_PASS)
}

/// `stream ls`'s human listing.
fn ls_text(s: &Stream, name: &str, all: bool) -> String {
    use std::fmt::Write;
    let mut t = String::new();
    let iterable = s.sections().iter().filter(|x| x.kind == SectionKind::Iterable).count();
    let _ = writeln!(
        t,
        "{}: machine {}, {} sections ({} iterable), {} PCI devices",
        name,
        s.machine_type().unwrap_or("(no configuration section)"),
        s.sections().len(),
        iterable,
        s.pci_devices().len()
    );
    if all {
        t.push('\n');
        let _ = writeln!(
            t,
            "{:>4} {:<40} {:>4} {:>4} {:<8} {:>12} {:>12}",
            "ID", "IDSTR", "INST", "VER", "KIND", "OFFSET", "BYTES"
        );
        for x in s.sections() {
            let kind = match x.kind {
                SectionKind::Full => "full".to_string(),
                SectionKind::Iterable => format!("iter/{}", x.chunks),
            };
            let _ = writeln!(
                t,
                "{:>4} {:<40} {:>4} {:>4} {:<8} {:>#12x} {:>12}",
                x.section_id, x.idstr, x.instance_id, x.version_id, kind, x.offset, x.body_len
            );
        }
    }
    t.push('\n');
    let _ = writeln!(
        t,
        "{:>4} {:<40} {:>4} {:>4} {:<10} {:>6} {:>12}",
        "SEC", "DEVICE", "INST", "VER", "KIND", "CONFIG", "AT"
    );
    for d in s.pci_devices() {
        let _ = writeln!(
            t,
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
        t.push('\n');
        let _ = writeln!(
            t,
            "PCI device sections without a saved config (their vmsd does not embed PCIDevice; QEMU checks nothing):"
        );
        for x in bare {
            let _ = writeln!(
                t,
                "{:>4} {:<40} {:>4} {:>4}",
                x.section_id, x.idstr, x.instance_id, x.version_id
            );
        }
    }
    t
}

fn extract(a: ExtractArgs) -> anyhow::Result<u8> {
    let raw = a.src.strip_prefix("stream:").unwrap_or(&a.src);
    let shown = output::terminal_safe(&a.src);
    let Some((file, dev)) = raw.rsplit_once('#') else {
        anyhow::bail!("{shown}: name the device as FILE#DEVICE (see `pcimig stream ls FILE`)");
    };
    let s = Stream::open(file)?;
    let d = s.find_device(dev)?;
    let bytes = s.read_config(d)?;
    output::write_output(&a.output, &bytes, &[std::path::Path::new(file)])?;
    let to = if a.output.as_os_str() == "-" {
        "standard output".to_string()
    } else {
        output::path_text(&a.output)
    };
    let what = format!(
        "{}#{}: {} bytes of config (section {}, {}, stream byte {:#x}) written to {to}",
        file,
        d.id,
        bytes.len(),
        d.section_id,
        d.kind,
        d.config_offset,
    );
    eprintln!("{}", output::terminal_safe(&what));
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
                file: f.clone().into(),
                json: true,
                all: true
            }))
            .unwrap(),
            0
        );
        assert_eq!(
            run(StreamCommand::Ls(LsArgs {
                file: f.clone().into(),
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
