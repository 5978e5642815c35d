//! Exporting a trailscope store to other engines: the events as Hive-partitioned Parquet, and
//! the rules as SQL over that Parquet (DuckDB, Trino, Athena, Spark), so that an archive
//! too big for one machine runs the same detections on a cluster.

use std::path::{Path, PathBuf};

pub mod parquet;
pub mod sql;

pub use crate::parquet::{export_parquet, write_partitions, ExportSummary};
pub use crate::sql::{translate, Dialect, Translation};

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Reading or writing a file or directory.
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    /// The Parquet writer refused.
    #[error("{0}: writing Parquet: {1}")]
    Parquet(PathBuf, String),
    /// The output directory already holds files.
    #[error("{0}: the export directory is not empty (exports are never mixed; choose a new directory)")]
    NotEmpty(PathBuf),
    /// The worker threads could not be started.
    #[error("starting the export's worker threads: {0}")]
    Threads(String),
}

impl ExportError {
    fn io(path: &Path, e: std::io::Error) -> Self {
        ExportError::Io(path.to_path_buf(), e)
    }
}
