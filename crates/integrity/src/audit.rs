//! The case audit log: an append-only JSON Lines file (`audit.jsonl`) in the case directory,
//! one entry per command that wrote output, each entry carrying the hash of the previous one.
//!
//! Entry fields: `seq`, `time` (UTC), `tool`, `version`, `command` (the argument vector),
//! `rule_set_sha256`, `manifest_sha256`, `inputs` (reference databases read beside the evidence:
//! `role`, `path`, `size`, `sha256`; left out when none), `outputs` (`file`, `sha256`),
//! `previous_sha256` (the
//! previous entry's `entry_sha256`, or 64 zeros), `entry_sha256` (SHA-256 of the entry's JSON
//! with `entry_sha256` left out, keys in the order above). Changing, removing or reordering an
//! entry, or changing an output file, breaks the chain at that point.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::manifest::sha256_hex;

/// Name of the audit log inside a case directory.
pub const AUDIT_FILE: &str = "audit.jsonl";

/// An output file and its hash.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct OutputHash {
    /// File name inside the case directory.
    pub file: String,
    /// Hex SHA-256 of its bytes.
    pub sha256: String,
}

/// A reference file read beside the evidence (a GeoIP database, AWS's ip-ranges.json): what
/// the output rests on, so a later reader can check it is the same file.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct InputFile {
    /// What it was used as (`geoip`, `asn`, `aws-ranges`).
    pub role: String,
    /// Path as given.
    pub path: String,
    /// Bytes.
    pub size: u64,
    /// Hex SHA-256 of its bytes.
    pub sha256: String,
}

/// One audit entry.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct AuditEntry {
    /// 1-based position.
    pub seq: u64,
    /// When (UTC, ISO 8601).
    pub time: String,
    /// `trailscope`.
    pub tool: String,
    /// Tool version.
    pub version: String,
    /// The command line.
    pub command: Vec<String>,
    /// Hash of the rules, IOCs and variables used, if any.
    pub rule_set_sha256: Option<String>,
    /// Hash of the input manifest written with this entry.
    pub manifest_sha256: Option<String>,
    /// Reference files read beside the evidence; absent when none (so entries written before
    /// this field existed hash as they did).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<InputFile>,
    /// Files written.
    pub outputs: Vec<OutputHash>,
    /// `entry_sha256` of the previous entry.
    pub previous_sha256: String,
    /// SHA-256 of this entry without this field.
    #[serde(default)]
    pub entry_sha256: String,
}

/// Audit log errors.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// A line is not an entry.
    #[error("{path}:{line}: not an audit entry: {message}")]
    Parse {
        /// File.
        path: PathBuf,
        /// Line.
        line: usize,
        /// Why.
        message: String,
    },
}

impl AuditEntry {
    /// The entry's hash (over its JSON without `entry_sha256`).
    pub fn compute_hash(&self) -> String {
        let mut v = serde_json::to_value(self).expect("entry serializes");
        if let Value::Object(m) = &mut v {
            m.remove("entry_sha256");
        }
        sha256_hex(&serde_json::to_vec(&v).expect("entry serializes"))
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> AuditError + '_ {
    move |source| AuditError::Io { path: path.to_path_buf(), source }
}

/// Read every entry.
///
/// # Errors
/// When the file cannot be read or a line is not an entry.
pub fn read_log(case: &Path) -> Result<Vec<AuditEntry>, AuditError> {
    let path = case.join(AUDIT_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(&path)(e)),
    };
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| AuditError::Parse {
                path: path.clone(),
                line: i + 1,
                message: e.to_string(),
            })
        })
        .collect()
}

/// Write `bytes` to `dir/name` atomically (temporary file, then rename) and return its hash.
///
/// # Errors
/// I/O errors.
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<OutputHash, AuditError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(io(&tmp))?;
    let dest = dir.join(name);
    std::fs::rename(&tmp, &dest).map_err(io(&dest))?;
    Ok(OutputHash { file: name.to_owned(), sha256: sha256_hex(bytes) })
}

/// Append an entry (sequence number, previous hash and own hash are filled in).
///
/// # Errors
/// I/O errors, or an unreadable existing log.
pub fn append(case: &Path, mut entry: AuditEntry) -> Result<AuditEntry, AuditError> {
    let existing = read_log(case)?;
    entry.seq = existing.len() as u64 + 1;
    entry.previous_sha256 = existing.last().map(|e| e.entry_sha256.clone()).unwrap_or_else(|| "0".repeat(64));
    entry.entry_sha256 = String::new();
    entry.entry_sha256 = entry.compute_hash();
    let path = case.join(AUDIT_FILE);
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&path).map_err(io(&path))?;
    let mut line = serde_json::to_vec(&entry).expect("entry serializes");
    line.push(b'\n');
    f.write_all(&line).map_err(io(&path))?;
    f.sync_all().map_err(io(&path))?;
    Ok(entry)
}

/// The first problem in a case's audit trail, if any.
///
/// # Errors
/// When the log cannot be read at all.
pub fn verify_log(case: &Path) -> Result<(usize, Option<String>), AuditError> {
    let entries = read_log(case)?;
    let mut prev = "0".repeat(64);
    for (i, e) in entries.iter().enumerate() {
        let n = i + 1;
        if e.seq != n as u64 {
            return Ok((
                entries.len(),
                Some(format!("entry {n}: sequence number is {}, expected {n} (entries removed or reordered)", e.seq)),
            ));
        }
        if e.previous_sha256 != prev {
            return Ok((
                entries.len(),
                Some(format!("entry {n}: previous_sha256 does not match entry {} (chain broken)", n - 1)),
            ));
        }
        if e.compute_hash() != e.entry_sha256 {
            return Ok((
                entries.len(),
                Some(format!("entry {n}: content does not match its entry_sha256 (entry edited)")),
            ));
        }
        for o in &e.outputs {
            let p = case.join(&o.file);
            match std::fs::read(&p) {
                Err(err) => {
                    return Ok((entries.len(), Some(format!("entry {n}: output {} cannot be read: {err}", o.file))))
                }
                Ok(bytes) if sha256_hex(&bytes) != o.sha256 => {
                    // A later entry may have rewritten the file legitimately; only the newest
                    // writer of a file vouches for its current bytes.
                    let rewritten =
                        entries[i + 1..].iter().any(|later| later.outputs.iter().any(|lo| lo.file == o.file));
                    if !rewritten {
                        return Ok((
                            entries.len(),
                            Some(format!("entry {n}: output {} was modified after it was written", o.file)),
                        ));
                    }
                }
                Ok(_) => {}
            }
        }
        prev = e.entry_sha256.clone();
    }
    Ok((entries.len(), None))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(cmd: &str) -> AuditEntry {
        AuditEntry {
            seq: 0,
            time: "2026-11-25T00:00:00Z".into(),
            tool: "trailscope".into(),
            version: "0".into(),
            command: vec![cmd.into()],
            rule_set_sha256: None,
            manifest_sha256: None,
            inputs: vec![],
            outputs: vec![],
            previous_sha256: String::new(),
            entry_sha256: String::new(),
        }
    }

    #[test]
    fn chain_detects_edits_removals_and_changed_outputs() {
        let dir = tempfile::tempdir().unwrap();
        let case = dir.path();
        let mut e1 = entry("analyze");
        e1.outputs.push(write_atomic(case, "report.txt", b"report\n").unwrap());
        append(case, e1).unwrap();
        append(case, entry("hunt")).unwrap();
        append(case, entry("verify")).unwrap();
        assert_eq!(verify_log(case).unwrap(), (3, None));

        std::fs::write(case.join("report.txt"), b"doctored\n").unwrap();
        assert!(verify_log(case).unwrap().1.unwrap().contains("entry 1: output report.txt was modified"));
        std::fs::write(case.join("report.txt"), b"report\n").unwrap();

        let text = std::fs::read_to_string(case.join(AUDIT_FILE)).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        std::fs::write(case.join(AUDIT_FILE), format!("{}\n{}\n", lines[0], lines[2])).unwrap();
        assert!(verify_log(case).unwrap().1.unwrap().starts_with("entry 2: sequence number is 3"));
        std::fs::write(
            case.join(AUDIT_FILE),
            format!("{}\n{}\n{}\n", lines[0], lines[1].replace("hunt", "HUNT"), lines[2]),
        )
        .unwrap();
        assert!(verify_log(case).unwrap().1.unwrap().contains("entry 2: content does not match"));
    }

    #[test]
    fn inputs_are_hashed_and_absent_inputs_leave_old_entries_valid() {
        let dir = tempfile::tempdir().unwrap();
        let case = dir.path();
        // An entry as written before `inputs` existed.
        let old = append(case, entry("analyze")).unwrap();
        assert!(!serde_json::to_string(&old).unwrap().contains("inputs"));
        let mut e = entry("analyze --geoip city.mmdb");
        e.inputs.push(InputFile { role: "geoip".into(), path: "city.mmdb".into(), size: 3, sha256: "ab".repeat(32) });
        append(case, e).unwrap();
        assert_eq!(verify_log(case).unwrap(), (2, None));
        let text = std::fs::read_to_string(case.join(AUDIT_FILE)).unwrap();
        std::fs::write(case.join(AUDIT_FILE), text.replace("\"size\":3", "\"size\":4")).unwrap();
        assert!(verify_log(case).unwrap().1.unwrap().contains("entry 2: content does not match"));
    }
}
