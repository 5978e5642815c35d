//! Errors: fatal ones ([`IngestError`]) and per-file ones ([`FileError`]) that the run survives.

use std::path::PathBuf;

/// A failure that stops the whole ingest (the evidence could not be enumerated).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IngestError {
    /// An input path given by the user does not exist or cannot be read.
    // The reason is in the message and not a `source`: an error chain (anyhow's `{:#}`) would
    // print it twice ("x: No such file or directory: No such file or directory").
    #[error("{path}: {error}")]
    Input {
        /// The path as given.
        path: PathBuf,
        /// What went wrong.
        error: std::io::Error,
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
    /// The gzip stream is corrupt, truncated or too large (nothing could be kept).
    #[error("corrupt or truncated gzip: {0}")]
    Gzip(crate::decode::GzipError),
    /// Only part of the file could be read: the complete records before the damage were kept
    /// (and are counted as the file's records); the rest is lost.
    #[error("partly read ({cause}): the {records} complete records before the damage were kept")]
    Partial {
        /// What cut the file short.
        cause: crate::decode::GzipError,
        /// Complete records salvaged.
        records: u64,
    },
    /// The (decompressed) content is not valid JSON.
    #[error("invalid JSON: {0}")]
    Json(String),
    /// Valid JSON, but no CloudTrail shape was recognised.
    #[error("not a CloudTrail file: {0}")]
    NotCloudTrail(String),
    /// A record would take what one file may hold in the store past its limit (its payload, or
    /// the values of a per-file column, past 4 GiB: numbers are written back longer than a file
    /// may spell them). The whole file is refused rather than kept in part.
    #[error("{0}")]
    Capacity(trailscope_store::ChunkFull),
    /// The (decompressed) content is larger than the per-file limit (`--max-file-size`, at most
    /// what the parser accepts in one piece, 4 GiB).
    #[error("file too large: {size} bytes uncompressed (limit {limit}, --max-file-size)")]
    TooLarge {
        /// Bytes of content.
        size: u64,
        /// The limit in bytes.
        limit: u64,
    },
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
