//! The evidence manifest: every input file with its size, SHA-256, kind and counts, written as
//! JSON and CSV. The same evidence always gives the same bytes (no times, sorted by path).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use trailscope_ingest::IngestReport;

/// One manifest row.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ManifestEntry {
    /// Path relative to the input it was found under, prefixed with the input's name.
    pub path: String,
    /// Bytes on disk.
    pub size: u64,
    /// Hex SHA-256 of the bytes on disk.
    pub sha256: String,
    /// `log`, `insight`, `digest`, `other`, `error`.
    pub kind: String,
    /// Records found.
    pub records: u64,
    /// Records stored.
    pub stored: u64,
    /// Duplicate records.
    pub duplicates: u64,
    /// Rejected records.
    pub rejected: u64,
    /// Why the file could not be read, if so.
    pub error: String,
}

/// The manifest.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    /// Always `trailscope-manifest/1`.
    pub format: String,
    /// Files, sorted by path.
    pub files: Vec<ManifestEntry>,
}

impl Manifest {
    /// Build from an ingest report.
    pub fn from_report(r: &IngestReport) -> Self {
        let mut files: Vec<ManifestEntry> = r
            .files
            .iter()
            .map(|f| ManifestEntry {
                path: f.evidence_path.clone(),
                size: f.size,
                sha256: f.sha256.clone(),
                kind: f.kind.name().to_owned(),
                records: f.records,
                stored: f.stored,
                duplicates: f.duplicates,
                rejected: f.rejected,
                error: f.error.as_ref().map(|e| e.to_string()).unwrap_or_default(),
            })
            .collect();
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Manifest { format: "trailscope-manifest/1".into(), files }
    }

    /// Read back the JSON of [`Manifest::to_json`] (as a case file keeps it).
    ///
    /// # Errors
    /// When the bytes are not a manifest.
    pub fn from_json(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// True when a listed file could not be read or a record was rejected (as
    /// `IngestReport::has_problems` said when the manifest was made).
    pub fn has_problems(&self) -> bool {
        self.files.iter().any(|f| f.rejected > 0 || !f.error.is_empty() || f.kind == "error")
    }

    /// Pretty JSON, newline-terminated.
    pub fn to_json(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).expect("manifest serializes");
        v.push(b'\n');
        v
    }

    /// CSV with a header row.
    pub fn to_csv(&self) -> Vec<u8> {
        let mut out = String::from("path,size,sha256,kind,records,stored,duplicates,rejected,error\n");
        for f in &self.files {
            let q = |s: &str| {
                if s.contains([',', '"', '\n']) {
                    format!("\"{}\"", s.replace('"', "\"\""))
                } else {
                    s.to_owned()
                }
            };
            out.push_str(&format!(
                "{},{},{},{},{},{},{},{},{}\n",
                q(&f.path),
                f.size,
                f.sha256,
                f.kind,
                f.records,
                f.stored,
                f.duplicates,
                f.rejected,
                q(&f.error)
            ));
        }
        out.into_bytes()
    }
}

/// Hex SHA-256 of bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
