//! What an ingest read, kept, skipped and why: the [`IngestReport`].

use std::collections::BTreeMap;
use std::time::Duration;

use crate::discover::ArchiveKey;
use crate::error::{FileError, FileErrorKind};

/// What a file turned out to be.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FileKind {
    /// A CloudTrail log file (events were read from it).
    Log,
    /// A CloudTrail Insights file (events stored, with eventType `AwsCloudTrailInsight`).
    Insight,
    /// A CloudTrail digest file (integrity data, not events).
    Digest,
    /// Not JSON and not named like CloudTrail: ignored.
    Other,
    /// A file that could not be read as CloudTrail (see its error).
    Error,
}

impl FileKind {
    /// Lower-case name used in output.
    pub fn name(self) -> &'static str {
        match self {
            FileKind::Log => "log",
            FileKind::Insight => "insight",
            FileKind::Digest => "digest",
            FileKind::Other => "other",
            FileKind::Error => "error",
        }
    }
}

/// How records were wrapped in a file.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Wrapper {
    /// S3 delivery: `{"Records":[...]}`.
    S3Records,
    /// `aws cloudtrail lookup-events` output: `{"Events":[{"CloudTrailEvent":"..."}]}`.
    LookupEvents,
    /// A bare JSON array of records.
    BareArray,
    /// One record per line.
    JsonLines,
    /// One record object alone.
    SingleRecord,
    /// A digest file's object.
    Digest,
}

impl Wrapper {
    /// Name used in output.
    pub fn name(self) -> &'static str {
        match self {
            Wrapper::S3Records => "s3-records",
            Wrapper::LookupEvents => "lookup-events",
            Wrapper::BareArray => "json-array",
            Wrapper::JsonLines => "json-lines",
            Wrapper::SingleRecord => "single-record",
            Wrapper::Digest => "digest",
        }
    }
}

/// Why a record was not stored.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RejectReason {
    /// The record is not a JSON object.
    NotAnObject,
    /// A field every CloudTrail record has is missing or not a string.
    MissingField(&'static str),
    /// `eventTime` is not an ISO 8601 time.
    BadEventTime,
    /// A JSON Lines line, or a lookup-events `CloudTrailEvent` string, is not valid JSON.
    InvalidJson,
    /// A lookup-events entry has no `CloudTrailEvent` string.
    NoCloudTrailEvent,
}

impl std::fmt::Display for RejectReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RejectReason::NotAnObject => f.write_str("record is not a JSON object"),
            RejectReason::MissingField(name) => write!(f, "missing or non-string {name}"),
            RejectReason::BadEventTime => f.write_str("eventTime is not an ISO 8601 time"),
            RejectReason::InvalidJson => f.write_str("invalid JSON"),
            RejectReason::NoCloudTrailEvent => f.write_str("lookup-events entry without CloudTrailEvent"),
        }
    }
}

/// One rejected record, named by file and position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reject {
    /// The file.
    pub path: String,
    /// 0-based record index (line number - 1 for JSON Lines).
    pub index: u32,
    /// Why.
    pub reason: RejectReason,
    /// Detail (the offending value or parser message), possibly empty.
    pub detail: String,
}

impl std::fmt::Display for Reject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: record {}: {}", self.path, self.index, self.reason)?;
        if !self.detail.is_empty() {
            write!(f, " ({})", self.detail)?;
        }
        Ok(())
    }
}

/// The outcome for one input file: the evidence manifest row plus counts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileOutcome {
    /// Path as found (to open it on this machine).
    pub path: String,
    /// Path relative to the input it was found under, prefixed with the input's name: what
    /// manifests record (see [`crate::InputFile::evidence_path`]).
    pub evidence_path: String,
    /// Size on disk.
    pub size: u64,
    /// Hex SHA-256 of the bytes on disk (empty only when the file could not be read).
    pub sha256: String,
    /// What the file is.
    pub kind: FileKind,
    /// How its records were wrapped, when it held any.
    pub wrapper: Option<Wrapper>,
    /// Whether it was gzip-compressed.
    pub gzip: bool,
    /// Bytes after decompression.
    pub uncompressed: u64,
    /// Records found in the file.
    pub records: u64,
    /// Records stored.
    pub stored: u64,
    /// Records already delivered by an earlier file (same eventID and recipientAccountId).
    pub duplicates: u64,
    /// Of the duplicates, those whose content differs from the copy kept: two different records
    /// under one event id, so one of the files holding them was altered
    /// ([`IngestReport::conflicts`] names them).
    pub conflicts: u64,
    /// Records rejected.
    pub rejected: u64,
    /// Valid records left out because the ingest's gate ([`crate::RecordGate`]) showed they
    /// cannot match the question asked (a filtered scan); 0 in a full ingest. Duplicates are
    /// only detected among the records kept.
    pub not_matching: u64,
    /// Why the file could not be read, if so.
    pub error: Option<FileErrorKind>,
    /// Account/region/date from the S3 key layout, when the path follows it.
    pub archive: Option<ArchiveKey>,
    /// Hex SHA-256 of the uncompressed content, when asked for (`hash_uncompressed`).
    pub sha256_uncompressed: Option<String>,
    /// For digest files: the digest's JSON text.
    pub digest: Option<String>,
}

/// Two different records delivered under one `eventID` and `recipientAccountId`: CloudTrail
/// re-delivers a record unchanged, so one of the two files was altered. The store keeps the first
/// copy in file order. The evidence manifest lists these as they are (serialised).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ConflictingDuplicate {
    /// The shared `eventID`.
    pub event_id: String,
    /// The shared `recipientAccountId` (`None` when the records have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// The file holding the copy kept, as the manifest names it ([`FileOutcome::evidence_path`]).
    pub kept_file: String,
    /// The kept copy's record index in that file.
    pub kept_record: u32,
    /// The file holding the other copy (dropped as a duplicate).
    pub other_file: String,
    /// The other copy's record index in its file.
    pub other_record: u32,
    /// Top-level fields whose values differ, sorted (`requestParameters`, `sourceIPAddress`, ...).
    pub fields: Vec<String>,
}

impl ConflictingDuplicate {
    /// A store's [`Conflict`](trailscope_store::Conflict) with its two files named by `file`
    /// (from the copy's source id to the path the manifest uses).
    pub fn named(c: trailscope_store::Conflict, file: impl Fn(trailscope_store::RecordRef) -> String) -> Self {
        ConflictingDuplicate {
            kept_file: file(c.kept),
            kept_record: c.kept.index,
            other_file: file(c.other),
            other_record: c.other.index,
            event_id: c.event_id,
            account: c.account,
            fields: c.fields,
        }
    }

    /// The manifest's order: by the other copy's file and record, then the kept copy's, paths
    /// compared component by component as the files were read (`export/` before `export-2/`).
    /// It is the evidence order in which a merge keeps the first conflicts, so an ingest at once
    /// and one in segments list the same ones.
    pub fn sort(list: &mut [ConflictingDuplicate]) {
        use std::path::Path;
        list.sort_by(|a, b| {
            (Path::new(&a.other_file), a.other_record, Path::new(&a.kept_file), a.kept_record, &a.event_id).cmp(&(
                Path::new(&b.other_file),
                b.other_record,
                Path::new(&b.kept_file),
                b.kept_record,
                &b.event_id,
            ))
        });
    }
}

impl std::fmt::Display for ConflictingDuplicate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "eventID {}", self.event_id)?;
        if let Some(a) = &self.account {
            write!(f, " (account {a})")?;
        }
        write!(
            f,
            ": kept {} record {}, other copy {} record {}, differing in {}",
            self.kept_file,
            self.kept_record,
            self.other_file,
            self.other_record,
            self.fields.join(", ")
        )
    }
}

/// Totals and details of one ingest.
#[derive(Clone, Debug, Default)]
pub struct IngestReport {
    /// Every file seen, in path order.
    pub files: Vec<FileOutcome>,
    /// Rejected records by reason.
    pub rejects_by_reason: BTreeMap<RejectReason, u64>,
    /// The first rejected records (at most [`IngestReport::MAX_EXAMPLES`]).
    pub reject_examples: Vec<Reject>,
    /// Wall time of the ingest.
    pub elapsed: Duration,
    /// Worker threads used.
    pub threads: usize,
    /// Symbolic links met while walking and not followed (evidence paths): what they point to
    /// was not read.
    pub skipped_links: Vec<String>,
    /// The first conflicting duplicates found (at most `trailscope_store::MAX_CONFLICTS`; the
    /// files' [`FileOutcome::conflicts`] count them all).
    pub conflicts: Vec<ConflictingDuplicate>,
}

impl IngestReport {
    /// How many rejected records are kept as examples.
    pub const MAX_EXAMPLES: usize = 100;

    /// Files of one kind.
    pub fn count(&self, kind: FileKind) -> usize {
        self.files.iter().filter(|f| f.kind == kind).count()
    }

    /// Per-file errors.
    pub fn file_errors(&self) -> impl Iterator<Item = FileError> + '_ {
        self.files.iter().filter_map(|f| f.error.clone().map(|kind| FileError { path: f.path.clone(), kind }))
    }

    /// Bytes read from disk.
    pub fn bytes_on_disk(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }

    /// Bytes after decompression (of files that were parsed).
    pub fn bytes_uncompressed(&self) -> u64 {
        self.files.iter().map(|f| f.uncompressed).sum()
    }

    /// Records found.
    pub fn records(&self) -> u64 {
        self.files.iter().map(|f| f.records).sum()
    }

    /// Records stored.
    pub fn stored(&self) -> u64 {
        self.files.iter().map(|f| f.stored).sum()
    }

    /// Duplicate records dropped.
    pub fn duplicates(&self) -> u64 {
        self.files.iter().map(|f| f.duplicates).sum()
    }

    /// Conflicting duplicates: re-deliveries whose content differs from the copy kept.
    pub fn conflicting(&self) -> u64 {
        self.files.iter().map(|f| f.conflicts).sum()
    }

    /// Records rejected.
    pub fn rejected(&self) -> u64 {
        self.files.iter().map(|f| f.rejected).sum()
    }

    /// Valid records left out as not matching the filter (a filtered scan).
    pub fn not_matching(&self) -> u64 {
        self.files.iter().map(|f| f.not_matching).sum()
    }

    /// True when a file failed or a record was rejected: the exit status must say so.
    pub fn has_problems(&self) -> bool {
        self.rejected() > 0 || self.files.iter().any(|f| f.error.is_some()) || !self.skipped_links.is_empty()
    }
}
