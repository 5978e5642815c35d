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
//!
//! Removing entries from the *end* leaves a valid, shorter chain, and removing the whole log
//! leaves nothing to check: so the newest entry's `seq` and `entry_sha256` are also kept in
//! `audit.head` beside the log ([`Head`]), and [`verify_case`] compares the two, and prints the
//! head for the examiner to record elsewhere. Outputs are never overwritten silently: [`place`]
//! picks a numbered name for different content unless the examiner forces the replacement, which
//! the output's `replaced_sha256` then records.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use sha2::Digest;

use crate::manifest::sha256_hex;

/// Name of the audit log inside a case directory.
pub const AUDIT_FILE: &str = "audit.jsonl";

/// Name of the file beside the log holding its newest entry ([`Head`]).
pub const HEAD_FILE: &str = "audit.head";

/// An output file and its hash.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct OutputHash {
    /// File name inside the case directory.
    pub file: String,
    /// Hex SHA-256 of its bytes.
    pub sha256: String,
    /// The SHA-256 of the different file of the same name that this output replaced (only with
    /// `--force`; absent otherwise, so entries written before it existed hash as they did).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced_sha256: Option<String>,
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
    Ok(OutputHash { file: name.to_owned(), sha256: sha256_hex(bytes), replaced_sha256: None })
}

/// Where a new output goes in a case directory, given its content's hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    /// File name to write (the one asked for, or a numbered one beside it).
    pub file: String,
    /// The hash of the different file that `file` replaces (only when forced).
    pub replaced_sha256: Option<String>,
}

/// Choose the name for an output `name` whose content hashes to `sha256`: the name itself when
/// it is free or already holds the same bytes; otherwise, when `force`, the name itself (noting
/// the hash of what it replaces); otherwise the first of `stem-2.ext`, `stem-3.ext`, ... that is
/// free or holds the same bytes. An existing report is evidence of what an earlier run said.
///
/// # Errors
/// When an existing file cannot be read.
pub fn place(dir: &Path, name: &str, sha256: &str, force: bool) -> Result<Placement, AuditError> {
    let existing = |file: &str| -> Result<Option<String>, AuditError> {
        let path = dir.join(file);
        match std::fs::File::open(&path) {
            Ok(mut f) => {
                let mut h = sha2::Sha256::new();
                std::io::copy(&mut f, &mut h).map_err(io(&path))?;
                Ok(Some(hex::encode(h.finalize())))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&path)(e)),
        }
    };
    match existing(name)? {
        None => return Ok(Placement { file: name.to_owned(), replaced_sha256: None }),
        Some(h) if h == sha256 => return Ok(Placement { file: name.to_owned(), replaced_sha256: None }),
        Some(h) if force => return Ok(Placement { file: name.to_owned(), replaced_sha256: Some(h) }),
        Some(_) => {}
    }
    let (stem, ext) = match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => (stem, format!(".{ext}")),
        _ => (name, String::new()),
    };
    for n in 2.. {
        let candidate = format!("{stem}-{n}{ext}");
        match existing(&candidate)? {
            None => return Ok(Placement { file: candidate, replaced_sha256: None }),
            Some(h) if h == sha256 => return Ok(Placement { file: candidate, replaced_sha256: None }),
            Some(_) => {}
        }
    }
    unreachable!("some numbered name is free")
}

/// The newest entry of a case's audit log, as kept in `audit.head`: what the examiner records
/// elsewhere to pin the log (`seq:entry_sha256`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    /// The newest entry's `seq`.
    pub seq: u64,
    /// The newest entry's `entry_sha256`.
    pub entry_sha256: String,
}

impl std::fmt::Display for Head {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.seq, self.entry_sha256)
    }
}

impl std::str::FromStr for Head {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (seq, hash) = s.trim().split_once(':').ok_or_else(|| format!("{s:?}: expected SEQ:SHA256"))?;
        let seq = seq.parse().map_err(|_| format!("{seq:?}: not an entry number"))?;
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("{hash:?}: not a hex SHA-256"));
        }
        Ok(Head { seq, entry_sha256: hash.to_ascii_lowercase() })
    }
}

/// Read `audit.head` (None when absent).
///
/// # Errors
/// When it cannot be read or is not a head.
pub fn read_head(case: &Path) -> Result<Option<Head>, AuditError> {
    let path = case.join(HEAD_FILE);
    match std::fs::read_to_string(&path) {
        Ok(t) => t.parse().map(Some).map_err(|message| AuditError::Parse { path, line: 1, message }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(&path)(e)),
    }
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
    let head = Head { seq: entry.seq, entry_sha256: entry.entry_sha256.clone() };
    write_atomic(case, HEAD_FILE, format!("{head}\n").as_bytes())?;
    Ok(entry)
}

/// What `audit verify` found in a case directory.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CaseCheck {
    /// Entries read.
    pub entries: usize,
    /// The log's newest entry (what to record), if any.
    pub head: Option<Head>,
    /// Problems, the first broken link first: each makes the case unverified.
    pub problems: Vec<String>,
    /// Files in the case directory that no entry lists as an output (relative paths).
    pub unaccounted: Vec<String>,
}

impl CaseCheck {
    /// True when nothing is wrong.
    pub fn intact(&self) -> bool {
        self.problems.is_empty() && self.unaccounted.is_empty()
    }
}

/// Check a case directory: the chain and every output hash ([`verify_log`]), the log against
/// `audit.head` (and against `expected`, a head the examiner recorded), and files no entry
/// accounts for.
///
/// # Errors
/// When the directory or a file in it cannot be read at all.
pub fn verify_case(case: &Path, expected: Option<&Head>) -> Result<CaseCheck, AuditError> {
    let mut check = CaseCheck::default();
    let log_present = case.join(AUDIT_FILE).exists();
    let kept = read_head(case)?;
    if !log_present {
        check.problems.push(match &kept {
            Some(h) => format!("{AUDIT_FILE} is missing (audit.head says it had {} entries)", h.seq),
            None => format!("{AUDIT_FILE} is missing: nothing vouches for the files here"),
        });
    }
    // A line that is no entry (a log cut mid-line, or edited) is a broken log, not a failure to
    // check: the entries before it are still checked and the rest of the report still made.
    let (logged, damaged) = match read_log(case) {
        Ok(entries) => (entries, None),
        Err(AuditError::Parse { line, message, .. }) => {
            let good = read_entries_before(case, line)?;
            (good, Some(format!("{AUDIT_FILE} line {line} is not an entry (cut short or edited): {message}")))
        }
        Err(e) => return Err(e),
    };
    check.problems.extend(damaged);
    check.entries = logged.len();
    check.problems.extend(check_chain(case, &logged));
    check.head = logged.last().map(|e| Head { seq: e.seq, entry_sha256: e.entry_sha256.clone() });
    match (&kept, &check.head) {
        (Some(k), Some(h)) if k != h => check.problems.push(format!(
            "{AUDIT_FILE} ends at entry {h} but {HEAD_FILE} records entry {k}: entries removed from the end, \
             or one of the two edited"
        )),
        (Some(_), None) if log_present => {
            check.problems.push(format!("{AUDIT_FILE} is empty but {HEAD_FILE} records entries"))
        }
        (None, Some(_)) => check.problems.push(format!(
            "{HEAD_FILE} is missing: a truncated log cannot be told from a short one (compare the head below with \
             the one recorded for this case)"
        )),
        _ => {}
    }
    if let (Some(want), Some(h)) = (expected, &check.head) {
        if want != h {
            check.problems.push(format!("the log's head is {h}, not the recorded {want}"));
        }
    } else if let (Some(want), None) = (expected, &check.head) {
        check.problems.push(format!("the log has no entry; the recorded head is {want}"));
    }
    let accounted: std::collections::HashSet<&str> =
        logged.iter().flat_map(|e| e.outputs.iter().map(|o| o.file.as_str())).collect();
    let mut files = Vec::new();
    list_files(case, case, &mut files)?;
    files.sort();
    check.unaccounted =
        files.into_iter().filter(|f| f != AUDIT_FILE && f != HEAD_FILE && !accounted.contains(f.as_str())).collect();
    Ok(check)
}

/// Every file below `dir`, as paths relative to `root` with `/` separators.
fn list_files(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<(), AuditError> {
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let path = entry.path();
        if entry.file_type().map_err(io(&path))?.is_dir() {
            list_files(root, &path, out)?;
        } else {
            let rel = path.strip_prefix(root).unwrap_or(&path);
            out.push(rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/"));
        }
    }
    Ok(())
}

/// The first problem in a case's audit trail, if any.
///
/// # Errors
/// When the log cannot be read at all.
pub fn verify_log(case: &Path) -> Result<(usize, Option<String>), AuditError> {
    let entries = read_log(case)?;
    Ok((entries.len(), check_chain(case, &entries)))
}

/// The entries on the lines before `line` (1-based) of a log whose line `line` is no entry.
fn read_entries_before(case: &Path, line: usize) -> Result<Vec<AuditEntry>, AuditError> {
    let path = case.join(AUDIT_FILE);
    let text = std::fs::read(&path).map_err(io(&path))?;
    let text = String::from_utf8_lossy(&text);
    Ok(text
        .lines()
        .take(line.saturating_sub(1))
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect())
}

/// The first problem in a chain of entries read from `case`'s log: numbering, links, entry
/// hashes, and the outputs' current bytes.
fn check_chain(case: &Path, entries: &[AuditEntry]) -> Option<String> {
    let mut prev = "0".repeat(64);
    for (i, e) in entries.iter().enumerate() {
        let n = i + 1;
        if e.seq != n as u64 {
            return Some(format!(
                "entry {n}: sequence number is {}, expected {n} (entries removed or reordered)",
                e.seq
            ));
        }
        if e.previous_sha256 != prev {
            return Some(format!("entry {n}: previous_sha256 does not match entry {} (chain broken)", n - 1));
        }
        if e.compute_hash() != e.entry_sha256 {
            return Some(format!("entry {n}: content does not match its entry_sha256 (entry edited)"));
        }
        for o in &e.outputs {
            let p = case.join(&o.file);
            match std::fs::read(&p) {
                Err(err) => return Some(format!("entry {n}: output {} cannot be read: {err}", o.file)),
                Ok(bytes) if sha256_hex(&bytes) != o.sha256 => {
                    // A later entry may have rewritten the file legitimately; only the newest
                    // writer of a file vouches for its current bytes.
                    let rewritten =
                        entries[i + 1..].iter().any(|later| later.outputs.iter().any(|lo| lo.file == o.file));
                    if !rewritten {
                        return Some(format!("entry {n}: output {} was modified after it was written", o.file));
                    }
                }
                Ok(_) => {}
            }
        }
        prev = e.entry_sha256.clone();
    }
    None
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

    #[test]
    fn a_different_output_gets_a_numbered_name_unless_forced() {
        let dir = tempfile::tempdir().unwrap();
        let case = dir.path();
        let (old, new) = (sha256_hex(b"old\n"), sha256_hex(b"new\n"));
        let at = |name: &str, sha: &str, force| place(case, name, sha, force).unwrap();
        assert_eq!(at("report.txt", &new, false).file, "report.txt", "a free name is used");
        std::fs::write(case.join("report.txt"), b"old\n").unwrap();
        assert_eq!(at("report.txt", &old, false), Placement { file: "report.txt".into(), replaced_sha256: None });
        assert_eq!(at("report.txt", &new, false).file, "report-2.txt");
        std::fs::write(case.join("report-2.txt"), b"other\n").unwrap();
        assert_eq!(at("report.txt", &new, false).file, "report-3.txt");
        std::fs::write(case.join("report-3.txt"), b"new\n").unwrap();
        assert_eq!(at("report.txt", &new, false).file, "report-3.txt", "same bytes: the same numbered file");
        assert_eq!(
            at("report.txt", &new, true),
            Placement { file: "report.txt".into(), replaced_sha256: Some(old.clone()) },
            "forced: replaced, and what it replaced is named"
        );
        std::fs::write(case.join("README"), b"x").unwrap();
        assert_eq!(at("README", &new, false).file, "README-2", "no extension");
    }

    #[test]
    fn the_head_catches_a_truncated_or_missing_log_and_stray_files_are_flagged() {
        let dir = tempfile::tempdir().unwrap();
        let case = dir.path();
        let mut e1 = entry("analyze");
        e1.outputs.push(write_atomic(case, "report.txt", b"report\n").unwrap());
        append(case, e1).unwrap();
        let second = append(case, entry("hunt")).unwrap();
        let check = verify_case(case, None).unwrap();
        assert!(check.intact(), "{check:?}");
        let head = Head { seq: 2, entry_sha256: second.entry_sha256.clone() };
        assert_eq!(check.head.as_ref(), Some(&head));
        assert_eq!(head.to_string().parse::<Head>().unwrap(), head);
        assert_eq!(std::fs::read_to_string(case.join(HEAD_FILE)).unwrap(), format!("{head}\n"));
        assert!(verify_case(case, Some(&head)).unwrap().intact());
        let stale = Head { seq: 3, entry_sha256: "ab".repeat(32) };
        assert!(verify_case(case, Some(&stale)).unwrap().problems[0].contains("not the recorded 3:abab"));

        // The last entry removed: the chain alone still verifies, the head does not.
        let text = std::fs::read_to_string(case.join(AUDIT_FILE)).unwrap();
        std::fs::write(case.join(AUDIT_FILE), format!("{}\n", text.lines().next().unwrap())).unwrap();
        assert_eq!(verify_log(case).unwrap(), (1, None));
        let check = verify_case(case, None).unwrap();
        assert!(
            check.problems.iter().any(|p| p.contains("ends at entry 1:") && p.contains("records entry 2:")),
            "{check:?}"
        );

        // Cut mid-line (an interrupted copy): a broken log, reported, not a failure to check.
        std::fs::write(case.join(AUDIT_FILE), &text.as_bytes()[..text.len() - 40]).unwrap();
        let check = verify_case(case, None).unwrap();
        assert_eq!(check.entries, 1, "{check:?}");
        assert!(check.problems[0].starts_with("audit.jsonl line 2 is not an entry (cut short or edited)"), "{check:?}");
        assert!(check.problems.iter().any(|p| p.contains("ends at entry 1:")), "{check:?}");
        assert!(verify_log(case).is_err(), "the strict reader still refuses it");

        std::fs::remove_file(case.join(AUDIT_FILE)).unwrap();
        let check = verify_case(case, None).unwrap();
        assert!(check.problems[0].contains("audit.jsonl is missing (audit.head says it had 2 entries)"), "{check:?}");
        assert_eq!(check.unaccounted, vec!["report.txt"], "no entry vouches for the report any more");
        std::fs::remove_file(case.join(HEAD_FILE)).unwrap();
        assert!(verify_case(case, None).unwrap().problems[0].contains("nothing vouches"));

        std::fs::write(case.join(AUDIT_FILE), text.as_bytes()).unwrap();
        std::fs::create_dir(case.join("notes")).unwrap();
        std::fs::write(case.join("notes/planted.txt"), b"x").unwrap();
        std::fs::write(case.join(HEAD_FILE), format!("{head}\n")).unwrap();
        let check = verify_case(case, None).unwrap();
        assert!(check.problems.is_empty(), "{check:?}");
        assert_eq!(check.unaccounted, vec!["notes/planted.txt"]);
        assert!(!check.intact());
    }
}
