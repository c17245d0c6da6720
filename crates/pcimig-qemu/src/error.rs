//! Errors of the stream reader: every one names the file and, where it applies, the stream byte
//! offset and the section it happened in.

use std::fmt;
use thiserror::Error;

/// What went wrong, for callers that branch on it (the message says the rest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The file could not be opened or read.
    Io,
    /// Not a regular file (a pipe, FIFO, socket or character device): streams are read from
    /// seekable files because the vmdesc is at the end.
    NotSeekable,
    /// The first four bytes are not "QEVM".
    BadMagic,
    /// The file version is not 3.
    UnsupportedVersion,
    /// The stream ends in the middle of something.
    Truncated,
    /// A length or count is larger than the file or than a sane bound.
    TooLarge,
    /// A section type byte (or command, or RAM flag) the reader does not know.
    UnknownSectionType,
    /// A structural inconsistency (footer mismatch, bad marker, vmdesc disagreeing with the stream).
    Malformed,
    /// The trailing vmdesc JSON is missing, truncated or unusable.
    Vmdesc,
    /// A section whose format the reader cannot walk (its length is not recorded anywhere).
    Unsupported,
    /// No device of that name in the stream (or several match).
    NoSuchDevice,
}

/// The section an error happened in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectionRef {
    /// The section id.
    pub section_id: u32,
    /// Its idstr (empty when not known yet).
    pub idstr: String,
}

/// An error reading a migration stream. Displayed as
/// `stream.mig: section 12 '0000:00:03.0/virtio-net' at byte 0x1f2a0: length 0xffffffff exceeds the file`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{}", render(self))]
pub struct StreamError {
    /// The file as given.
    pub path: String,
    /// What kind of error.
    pub kind: ErrorKind,
    /// Stream byte offset the problem is at, when there is one.
    pub offset: Option<u64>,
    /// The section it happened in, when there is one.
    pub section: Option<SectionRef>,
    /// What is wrong.
    pub message: String,
}

fn render(e: &StreamError) -> String {
    let mut s = e.path.clone();
    if let Some(sec) = &e.section {
        s.push_str(&format!(": section {} '{}'", sec.section_id, sec.idstr));
    }
    if let Some(o) = e.offset {
        if e.section.is_some() {
            s.push_str(&format!(" at byte {o:#x}"));
        } else {
            s.push_str(&format!(": at byte {o:#x}"));
        }
    }
    s.push_str(": ");
    s.push_str(&e.message);
    s
}

impl StreamError {
    /// An error with no offset or section.
    pub fn new(path: impl Into<String>, kind: ErrorKind, message: impl fmt::Display) -> Self {
        StreamError {
            path: path.into(),
            kind,
            offset: None,
            section: None,
            message: message.to_string(),
        }
    }

    /// An error at a stream offset.
    pub fn at(path: impl Into<String>, kind: ErrorKind, offset: u64, message: impl fmt::Display) -> Self {
        StreamError {
            path: path.into(),
            kind,
            offset: Some(offset),
            section: None,
            message: message.to_string(),
        }
    }

    /// Attach the section (kept if one is already set).
    pub fn in_section(mut self, section_id: u32, idstr: &str) -> Self {
        if self.section.is_none() {
            self.section = Some(SectionRef {
                section_id,
                idstr: idstr.to_string(),
            });
        }
        self
    }
}
