//! What the CLI writes: `-o` files (atomically, never onto a special file or an input), and
//! text made safe for a terminal (every control character that came from an input escaped).

use anyhow::{bail, Context};
use std::borrow::Cow;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

/// `path` for a message: lossy UTF-8 (a non-UTF-8 name is still named), controls escaped.
pub fn path_text(path: &Path) -> String {
    terminal_safe(&path.to_string_lossy()).into_owned()
}

/// `s` with every control character that could drive a terminal written as a visible escape:
/// C0 controls other than newline and tab (`\x1b`, `\x07`, `\x00`, …), DEL, and the C1
/// controls U+0080–U+009F (`\u{9b}` is CSI on terminals that take 8-bit controls).
/// Newlines and tabs are kept: they are the report's own layout.
pub fn terminal_safe(s: &str) -> Cow<'_, str> {
    if !maybe_unsafe(s.as_bytes()) || !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if needs_escape(c) {
            let n = u32::from(c);
            if n < 0x80 {
                out.push_str(&format!("\\x{n:02x}"));
            } else {
                out.push_str(&format!("\\u{{{n:x}}}"));
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    c.is_control() && c != '\n' && c != '\t'
}

/// Whether `bytes` may hold a character [`needs_escape`] takes: a C0 control other than
/// newline and tab, DEL, or 0xc2 (the first byte of every C1 control). Branch-free over
/// 64-byte blocks, so it vectorizes: this runs over all of `show`'s output.
fn maybe_unsafe(bytes: &[u8]) -> bool {
    let risky = |b: u8| (b < 0x20 && b != b'\n' && b != b'\t') | (b == 0x7f) | (b == 0xc2);
    let mut blocks = bytes.chunks_exact(64);
    let hit = blocks
        .by_ref()
        .any(|blk| blk.iter().fold(false, |acc, &b| acc | risky(b)));
    hit || blocks.remainder().iter().any(|&b| risky(b))
}

/// JSON text with DEL and the C1 controls escaped as `\u00XX` (serde_json escapes only the C0
/// controls). These characters can only occur inside JSON strings, where the escape means the
/// same character, so the document's value is unchanged.
pub fn json_safe(json: &[u8]) -> Cow<'_, [u8]> {
    let risky = |i: usize| json[i] == 0x7f || (json[i] == 0xc2 && matches!(json.get(i + 1), Some(0x80..=0x9f)));
    let Some(first) = memchr::memchr2_iter(0x7f, 0xc2, json).find(|&i| risky(i)) else {
        return Cow::Borrowed(json);
    };
    let mut out = Vec::with_capacity(json.len() + 64);
    out.extend_from_slice(&json[..first]);
    let mut i = first;
    while i < json.len() {
        if json[i] == 0x7f {
            out.extend_from_slice(b"\\u007f");
            i += 1;
        } else if risky(i) {
            out.extend_from_slice(format!("\\u00{:02x}", json[i + 1]).as_bytes());
            i += 2;
        } else {
            out.push(json[i]);
            i += 1;
        }
    }
    Cow::Owned(out)
}

/// A SRC argument as text: sources are named in UTF-8 (`FILE#SELECTOR`, `sysfs:BDF`); a
/// non-UTF-8 name is refused, named lossily, with the way around it.
pub fn utf8_src(raw: &std::ffi::OsStr) -> Result<String, String> {
    raw.to_str().map(str::to_string).ok_or_else(|| {
        format!(
            "{}: the name is not valid UTF-8; pcimig takes SRC names as text (rename the file, or give \
             a dump or lspci text on standard input as `-`)",
            terminal_safe(&raw.to_string_lossy())
        )
    })
}

/// Print human text to stdout, terminal-safe.
pub fn print_text(s: &str) -> anyhow::Result<()> {
    write_stdout(terminal_safe(s).as_bytes())
}

/// Print a JSON document (and a newline) to stdout, terminal-safe.
pub fn print_json(v: &impl serde::Serialize) -> anyhow::Result<()> {
    let mut text = serde_json::to_vec_pretty(v)?;
    text.push(b'\n');
    write_stdout(&json_safe(&text))
}

/// Write to stdout. A reader that has gone (`pcimig … | head`) is not an error: the rest of
/// the output is dropped and the command still ends with its own exit code.
pub fn write_stdout(bytes: &[u8]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow::Error::new(e).context("writing standard output"))
        }
        _ => Ok(()),
    }
}

/// Write `data` to `path` atomically (see [`write_output`]); no input to protect.
pub fn write_atomic(path: &Path, data: &[u8]) -> anyhow::Result<()> {
    write_output::<&Path>(path, data, &[])
}

/// Write an output file: `-` is standard output; otherwise `path` must be absent or a regular
/// file that is none of `inputs` (compared by device and inode, so another name or a hard link
/// of an input is caught). A device node, FIFO, socket, directory or symbolic link (to
/// anything, even a regular file: it may have been planted in a shared directory) is refused
/// and left as it is.
///
/// The data goes to a temporary file created exclusively (`O_EXCL`, an unpredictable name) in
/// the target's directory, is flushed to disk, renamed over `path`, and the directory is
/// flushed; on any failure the temporary file is removed and `path` is untouched.
pub fn write_output<P: AsRef<Path>>(path: &Path, data: &[u8], inputs: &[P]) -> anyhow::Result<()> {
    if path.as_os_str() == "-" {
        return write_stdout(data);
    }
    let shown = path_text(path);
    let existing = check_target(path, &shown)?;
    if let Some(meta) = &existing {
        refuse_input(meta, inputs, &shown)?;
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if path.file_name().is_none() {
        bail!("{shown}: an output path must name a file");
    }
    let mode = existing.as_ref().map_or(0o666, |m| m.mode() & 0o7777);
    let mut tmp = tempfile::Builder::new()
        .prefix(".pcimig-")
        .suffix(".tmp")
        .permissions(std::fs::Permissions::from_mode(mode))
        .tempfile_in(dir)
        .with_context(|| format!("{shown}: cannot create a temporary file in {}", path_text(dir)))?;
    tmp.write_all(data)
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("{shown}: cannot write the temporary file"))?;
    // On failure the temporary file is removed when `persist`'s error is dropped.
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("{shown}: cannot rename the temporary file over it"))?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("{shown}: written, but cannot flush its directory"))?;
    Ok(())
}

/// The metadata of an existing regular file at `path` (not following a symbolic link), `None`
/// when nothing is there; an error for anything else.
fn check_target(path: &Path, shown: &str) -> anyhow::Result<Option<std::fs::Metadata>> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("{shown}: cannot check the output path")),
    };
    let t = meta.file_type();
    if t.is_file() {
        return Ok(Some(meta));
    }
    let what = if t.is_symlink() {
        let to = std::fs::read_link(path).map(|p| path_text(&p)).unwrap_or_default();
        format!("is a symbolic link (to {to}); pcimig does not write through links: give the file's own path")
    } else {
        format!(
            "is {}, not a regular file; pcimig replaces only regular files (`-o -` writes to standard output)",
            pcimig::source::file_kind(&t)
        )
    };
    bail!("{shown}: refusing to write the output: it {what}")
}

/// Refuse an output that is one of the inputs (same device and inode).
fn refuse_input<P: AsRef<Path>>(out: &std::fs::Metadata, inputs: &[P], shown: &str) -> anyhow::Result<()> {
    for input in inputs.iter().map(AsRef::as_ref) {
        if let Ok(m) = std::fs::metadata(input) {
            if (m.dev(), m.ino()) == (out.dev(), out.ino()) {
                bail!(
                    "{shown}: refusing to write the output over the input {} (the same file)",
                    path_text(input)
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_from_inputs_are_escaped_and_layout_kept() {
        assert_eq!(terminal_safe("a\x1b[31mb\x07\0\n\tc"), "a\\x1b[31mb\\x07\\x00\n\tc");
        assert_eq!(terminal_safe("x\u{9b}y\x7f"), "x\\u{9b}y\\x7f");
        assert!(matches!(terminal_safe("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn json_c1_and_del_become_unicode_escapes_with_the_same_value() {
        let v = serde_json::json!({"s": "a\u{9b}b\u{7f}c\u{e9}\u{1b}"});
        let raw = serde_json::to_vec(&v).unwrap();
        let safe = json_safe(&raw);
        assert!(!safe.iter().any(|&b| b == 0x7f || b == 0x1b));
        assert!(!safe.windows(2).any(|w| w[0] == 0xc2 && (0x80..=0x9f).contains(&w[1])));
        let back: serde_json::Value = serde_json::from_slice(&safe).unwrap();
        assert_eq!(back, v);
    }
}
