//! Why a snapshot cannot be read or built. Every message names the file (or the source) and,
//! where it applies, the JSON path or line and column.

use thiserror::Error;

/// A snapshot that cannot be read or built.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SnapshotError {
    /// A value of the document is wrong: `path` is its JSON path (`devices[2].config`).
    #[error("{file}: {path}: {message}")]
    Invalid {
        /// The file.
        file: String,
        /// JSON path of the value.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The file cannot be read.
    #[error("{file}: cannot read: {message}")]
    Io {
        /// The file.
        file: String,
        /// The system's message.
        message: String,
    },
    /// The file is not JSON of the snapshot's shape.
    #[error("{file}: line {line}, column {column}: {message}")]
    Json {
        /// The file.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// serde_json's message.
        message: String,
    },
    /// A source the snapshot is built from cannot be used (a dump, lspci text, sysfs, an option).
    #[error("{0}")]
    Source(String),
    /// The file is larger than any snapshot pcimig reads.
    #[error("{file}: {size} bytes is too large for a snapshot (limit {limit})")]
    TooLarge {
        /// The file.
        file: String,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The file is of a newer major format version than this pcimig reads.
    #[error(
        "{file}: format_version {found} is newer than this pcimig reads ({supported}.x): \
         use a newer pcimig, or write the snapshot with format_version {supported}.x"
    )]
    UnsupportedVersion {
        /// The file.
        file: String,
        /// The version it declares.
        found: String,
        /// The major version this pcimig reads.
        supported: u32,
    },
}

impl SnapshotError {
    /// An invalid value at `path` of `file`.
    pub(crate) fn invalid(file: &str, path: impl Into<String>, message: impl Into<String>) -> Self {
        SnapshotError::Invalid {
            file: file.to_string(),
            path: path.into(),
            message: message.into(),
        }
    }
}

impl From<crate::source::SourceError> for SnapshotError {
    fn from(e: crate::source::SourceError) -> Self {
        SnapshotError::Source(e.to_string())
    }
}
