//! Errors: fatal ones ([`IngestError`]) and per-file ones ([`FileError`]) that the run survives.

use std::path::PathBuf;

/// A failure that stops the whole ingest (the evidence could not be enumerated).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IngestError {
    /// An input path given by the user does not exist or cannot be read.
    #[error("{path}: {source}")]
    Input {
        /// The path as given.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// Walking a directory failed.
    #[error("{path}: {message}")]
    Walk {
        /// Where the walk failed.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// `strict` was set and a file had an error or a rejected record.
    #[error("strict mode: {0}")]
    Strict(String),
    /// The worker thread pool could not be built.
    #[error("cannot start worker threads: {0}")]
    Threads(String),
}

/// Why one file could not be (fully) read. The run goes on; the report and exit status say so.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FileErrorKind {
    /// Opening or reading the file failed.
    #[error("cannot read file: {0}")]
    Io(String),
    /// The gzip stream is corrupt or truncated.
    #[error("corrupt or truncated gzip: {0}")]
    Gzip(String),
    /// The (decompressed) content is not valid JSON.
    #[error("invalid JSON: {0}")]
    Json(String),
    /// Valid JSON, but no CloudTrail shape was recognised.
    #[error("not a CloudTrail file: {0}")]
    NotCloudTrail(String),
    /// The file is larger than the parser accepts in one piece.
    #[error("file too large: {0} bytes uncompressed (limit 4 GiB)")]
    TooLarge(u64),
}

/// A per-file error, naming the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {kind}")]
pub struct FileError {
    /// The file.
    pub path: String,
    /// What went wrong.
    pub kind: FileErrorKind,
}
