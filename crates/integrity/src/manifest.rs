//! The evidence manifest: every input file with its size, SHA-256, kind and counts, written as
//! JSON and CSV. The same evidence always gives the same bytes (no times, sorted by path).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Write as _;
use trailscope_ingest::{ConflictingDuplicate, FileOutcome, IngestReport};

/// The manifest's `format`.
const FORMAT: &str = "trailscope-manifest/1";

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
    /// Of the duplicates, those whose content differs from the copy kept (two different records
    /// under one event id). Absent when 0, so manifests of evidence without any read as before.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub conflicts: u64,
    /// Rejected records.
    pub rejected: u64,
    /// Why the file could not be read, if so.
    pub error: String,
}

impl From<&FileOutcome> for ManifestEntry {
    /// The row of one file as an ingest left it.
    fn from(f: &FileOutcome) -> Self {
        ManifestEntry {
            path: f.evidence_path.clone(),
            size: f.size,
            sha256: f.sha256.clone(),
            kind: f.kind.name().to_owned(),
            records: f.records,
            stored: f.stored,
            duplicates: f.duplicates,
            conflicts: f.conflicts,
            rejected: f.rejected,
            error: f.error.as_ref().map(|e| e.to_string()).unwrap_or_default(),
        }
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Two different records delivered under one event id, as the manifest lists them (files named
/// as in its rows): the ingest's own record of them.
pub type ManifestConflict = ConflictingDuplicate;

/// The manifest.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    /// Always `trailscope-manifest/1`.
    pub format: String,
    /// Files, sorted by path.
    pub files: Vec<ManifestEntry>,
    /// The first conflicting duplicates (at most 500; the rows' `conflicts` count them all),
    /// the first in evidence order (the other copy's file and record), listed in that order.
    /// Absent when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conflicting_duplicates: Vec<ManifestConflict>,
}

impl Manifest {
    /// Build from an ingest report.
    pub fn from_report(r: &IngestReport) -> Self {
        let files: Vec<ManifestEntry> = r.files.iter().map(ManifestEntry::from).collect();
        let mut m = Manifest::from_entries(files);
        m.conflicting_duplicates = r.conflicts.clone();
        ManifestConflict::sort(&mut m.conflicting_duplicates);
        m
    }

    /// The manifest listing `files` (sorted here by path).
    pub fn from_entries(mut files: Vec<ManifestEntry>) -> Self {
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Manifest { format: FORMAT.into(), files, conflicting_duplicates: Vec::new() }
    }

    /// Conflicting duplicates over all files (the list keeps the first ones only).
    pub fn conflicting(&self) -> u64 {
        self.files.iter().map(|f| f.conflicts).sum()
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

    /// Write the JSON of [`Manifest::to_json`] for the manifest holding `files` (already sorted by
    /// path) without holding them: a case saved in segments streams its manifest from a spill
    /// file, so its memory does not grow with the number of files.
    ///
    /// # Errors
    /// The first error of `files` or of `out`.
    pub fn write_json_streamed<I>(
        files: I,
        conflicting_duplicates: &[ManifestConflict],
        out: impl std::io::Write,
    ) -> std::io::Result<()>
    where
        I: IntoIterator<Item = std::io::Result<ManifestEntry>>,
    {
        /// Serializes as the `files` array, pulling one entry at a time.
        struct Files<I>(std::cell::RefCell<Option<I>>);
        impl<I: Iterator<Item = std::io::Result<ManifestEntry>>> Serialize for Files<I> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                use serde::ser::{Error, SerializeSeq};
                let files = self.0.borrow_mut().take().expect("serialized once");
                let mut seq = s.serialize_seq(None)?;
                for f in files {
                    seq.serialize_element(&f.map_err(S::Error::custom)?)?;
                }
                seq.end()
            }
        }
        #[derive(Serialize)]
        struct Streamed<'a, F> {
            format: &'a str,
            files: F,
            #[serde(skip_serializing_if = "<[_]>::is_empty")]
            conflicting_duplicates: &'a [ManifestConflict],
        }
        let doc = Streamed {
            format: FORMAT,
            files: Files(std::cell::RefCell::new(Some(files.into_iter()))),
            conflicting_duplicates,
        };
        let mut out = std::io::BufWriter::with_capacity(1 << 16, out);
        serde_json::to_writer_pretty(&mut out, &doc).map_err(std::io::Error::other)?;
        out.write_all(b"\n")?;
        out.flush()
    }

    /// CSV with a header row.
    pub fn to_csv(&self) -> Vec<u8> {
        let mut out = String::from("path,size,sha256,kind,records,stored,duplicates,conflicts,rejected,error\n");
        for f in &self.files {
            let q = |s: &str| {
                if s.contains([',', '"', '\n']) {
                    format!("\"{}\"", s.replace('"', "\"\""))
                } else {
                    s.to_owned()
                }
            };
            out.push_str(&format!(
                "{},{},{},{},{},{},{},{},{},{}\n",
                q(&f.path),
                f.size,
                f.sha256,
                f.kind,
                f.records,
                f.stored,
                f.duplicates,
                f.conflicts,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, stored: u64, error: &str) -> ManifestEntry {
        ManifestEntry {
            path: path.into(),
            size: 1_234,
            sha256: sha256_hex(path.as_bytes()),
            kind: if error.is_empty() { "log" } else { "error" }.into(),
            records: stored + 1,
            stored,
            duplicates: 1,
            conflicts: 0,
            rejected: 0,
            error: error.into(),
        }
    }

    #[test]
    fn streamed_json_is_the_bytes_of_to_json() {
        let files = vec![
            entry("logs/AWSLogs/111122223333/CloudTrail/eu-west-1/2024/05/01/a.json.gz", 40, ""),
            entry(
                "logs/AWSLogs/111122223333/CloudTrail/eu-west-1/2024/05/01/b \"q\".json.gz",
                0,
                "not gzip: bad magic",
            ),
        ];
        let conflict = ManifestConflict {
            event_id: "3f0c9a1e-5b7d-4c2a-9e8f-0a1b2c3d4e5f".into(),
            account: Some("111122223333".into()),
            kept_file: files[0].path.clone(),
            kept_record: 3,
            other_file: files[1].path.clone(),
            other_record: 0,
            fields: vec!["requestParameters".into(), "sourceIPAddress".into()],
        };
        let whole = Manifest { format: FORMAT.into(), files: files.clone(), conflicting_duplicates: Vec::new() };
        for (files, conflicts) in [(files.clone(), vec![conflict]), (files, Vec::new()), (Vec::new(), Vec::new())] {
            let whole = Manifest { files: files.clone(), conflicting_duplicates: conflicts.clone(), ..whole.clone() };
            let mut streamed = Vec::new();
            Manifest::write_json_streamed(files.into_iter().map(Ok), &conflicts, &mut streamed).unwrap();
            assert_eq!(String::from_utf8(streamed).unwrap(), String::from_utf8(whole.to_json()).unwrap());
            assert_eq!(Manifest::from_json(&whole.to_json()).unwrap(), whole);
            // Without conflicts the JSON is that of earlier versions: no new key at all.
            let text = String::from_utf8(whole.to_json()).unwrap();
            assert_eq!(text.contains("conflict"), !conflicts.is_empty(), "{text}");
        }
    }

    #[test]
    fn a_spill_read_error_stops_the_streamed_json() {
        let files = vec![Ok(entry("a.json", 1, "")), Err(std::io::Error::other("spill file truncated"))];
        let e = Manifest::write_json_streamed(files, &[], Vec::new()).unwrap_err();
        assert!(e.to_string().contains("spill file truncated"), "{e}");
    }
}
