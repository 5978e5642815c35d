//! # trailscope-ingest
//!
//! Turns a CloudTrail dump on disk into a [`Store`] and an [`IngestReport`].
//!
//! The steps, per file and in parallel (rayon, one reusable worker per thread):
//! 1. [`discover`] walks the inputs (sorted by path, so every run sees the same order);
//! 2. the file is read (memory-mapped when large) and its SHA-256 taken from those same bytes;
//! 3. gzip is decoded by libdeflate into a reused buffer ([`decode`]), flate2 as fallback;
//! 4. the wrapper is recognised by content (S3 `Records`, lookup-events `Events`, bare array,
//!    JSON Lines, single record, digest) and each record is split on simd-json's tape into
//!    columns and a compact payload, inside a per-file [`ChunkBuilder`] whose values are
//!    interned into the worker's dictionaries, kept from file to file.
//!
//! The chunks are then merged in file order (each value getting its store-wide id there, so ids
//! never depend on which thread read what), duplicates (same `eventID` and
//! `recipientAccountId`) are dropped — those whose content differs from the copy kept are
//! counted and named as conflicting duplicates ([`ConflictingDuplicate`]) — and the store is
//! sorted by time. Nothing is dropped
//! silently: every file gets a [`FileOutcome`], every skipped record is counted by reason.
//!
//! ```no_run
//! use trailscope_ingest::{ingest, IngestOptions};
//! let (store, report) = ingest(&["AWSLogs".into()], &IngestOptions::default(), None).unwrap();
//! println!("{} events from {} files", store.len(), report.files.len());
//! ```
#![deny(missing_docs)]

pub mod decode;
pub mod discover;
mod error;
mod parse;
pub mod read;
mod report;
mod time;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use rayon::prelude::*;
use sha2::{Digest, Sha256};
use trailscope_store::{ChunkBuilder, RowValues, SourceFile, Store, StoreBuilder, WorkerState};

pub use discover::{archive_key, discover, ArchiveKey, InputFile};
pub use error::{FileError, FileErrorKind, IngestError};
pub use report::{ConflictingDuplicate, FileKind, FileOutcome, IngestReport, Reject, RejectReason, Wrapper};
pub use time::parse_event_time;

/// How to ingest.
#[derive(Clone, Debug, Default)]
pub struct IngestOptions {
    /// Worker threads; 0 means one per core.
    pub threads: usize,
    /// Follow symbolic links while walking directories.
    pub follow_links: bool,
    /// Fail on the first file error or rejected record instead of reporting and going on.
    pub strict: bool,
    /// Also take the SHA-256 of each file's uncompressed content (what CloudTrail digest files
    /// record), in the same pass.
    pub hash_uncompressed: bool,
    /// Largest content (after decompression) read from one file, in bytes; None means
    /// [`DEFAULT_MAX_FILE_SIZE`]. A larger file is refused, named, before it is held in memory.
    pub max_file_size: Option<u64>,
    /// Test knob (the cli's hidden `--test-chunk-limit`): refuse a file once its payload or a
    /// per-file column passes this many bytes instead of 4 GiB, so that tests reach the limit
    /// without writing 4 GiB. `None` in real use.
    pub chunk_limit: Option<u32>,
    /// Store only the records this gate admits (a filtered scan: `events`/`query` on a raw
    /// dump). The others are counted per file as not matching ([`FileOutcome::not_matching`]);
    /// files are still read, hashed and parsed whole, and bad records rejected as without it.
    pub gate: Option<Arc<dyn RecordGate>>,
}

/// A test of one record, made before its payload is written or its values interned: a record
/// it does not admit is counted, not stored. It must admit every record the question it stands
/// for could accept (a filter's conservative form), so that the answer over the stored records
/// is the answer over all of them. Unwind-safe, so that ingest options can cross a
/// `catch_unwind` boundary (the fuzz targets run the reader under one).
pub trait RecordGate: Send + Sync + std::panic::RefUnwindSafe + std::fmt::Debug {
    /// Whether to store the record. `row` holds its column strings (`None`: absent, null, or not
    /// a string; [`RowValues::spilled`] tells the last apart), its flags and its `eventTime`;
    /// its payload is not written yet. Only valid records are shown (rejects stay rejects).
    fn admits(&self, row: &RowValues<'_>) -> bool;
}

/// The default per-file limit on decompressed content: 1 GiB. CloudTrail's own log files are a
/// few MB; a file inflating past this is a decompression bomb or not a log, and would cost its
/// size in memory on every worker. At most 4 GiB (what the parser takes in one piece).
pub const DEFAULT_MAX_FILE_SIZE: u64 = 1 << 30;

/// What progress displays are told, from worker threads.
#[derive(Debug)]
pub enum ProgressEvent<'a> {
    /// Discovery is over: this many files will be read.
    Started {
        /// Files found.
        files: usize,
    },
    /// One file is done.
    File(&'a FileOutcome),
}

/// A progress callback.
pub type Progress<'a> = &'a (dyn Fn(ProgressEvent<'_>) + Sync);

/// Ingest the given files and directories.
///
/// # Errors
/// [`IngestError`] when an input path is missing or a walk fails, or in strict mode on the first
/// problem. Per-file problems otherwise go into the report.
pub fn ingest(
    inputs: &[PathBuf],
    opts: &IngestOptions,
    progress: Option<Progress<'_>>,
) -> Result<(Store, IngestReport), IngestError> {
    let started = Instant::now();
    let (files, skipped_links) = discover::discover_noting_links(inputs, opts.follow_links)?;
    let (store, mut report) = ingest_files(&files, opts, progress, started)?;
    // Links not followed are reported with the evidence they would have led to.
    report.skipped_links = skipped_links;
    Ok((store, report))
}

/// Ingest files already found by [`discover`] (a batch of them, for a save in segments);
/// `started` is when the report's elapsed time counts from.
///
/// # Errors
/// As [`ingest`].
pub fn ingest_files(
    files: &[InputFile],
    opts: &IngestOptions,
    progress: Option<Progress<'_>>,
    started: Instant,
) -> Result<(Store, IngestReport), IngestError> {
    if let Some(p) = progress {
        p(ProgressEvent::Started { files: files.len() });
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads)
        .build()
        .map_err(|e| IngestError::Threads(e.to_string()))?;
    let threads = pool.current_num_threads();

    // Workers parse files in parallel while this thread merges their results in file order,
    // so duplicate removal and dictionary merging overlap with parsing.
    let stop = AtomicBool::new(false);
    // Files go to workers in small batches (one channel message and wake-up per batch rather
    // than per file: real dumps hold many tiny files).
    const BATCH: usize = 16;
    let (tx, rx) = std::sync::mpsc::channel::<(usize, Vec<FileResult>)>();
    // One worker per pool thread for the whole run (rayon's `for_each_init` would make one per
    // job split): its buffers and dictionaries serve every file the thread reads.
    let workers: Vec<Mutex<Worker>> = (0..threads).map(|t| Mutex::new(Worker::new(opts, t as u32))).collect();
    let mut builder = StoreBuilder::new();
    let mut report = IngestReport { threads, ..Default::default() };
    // Evidence path of each source file, by `SourceId`: what conflicting duplicates are named by.
    let mut source_paths: Vec<String> = Vec::new();
    let merged: Result<(), IngestError> = std::thread::scope(|scope| {
        scope.spawn(|| {
            pool.install(|| {
                files.par_chunks(BATCH).enumerate().for_each(|(i, batch)| {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    // Only this thread takes its slot, so the lock is never contended; it
                    // is held over the send, so a worker's chunks arrive in the order it
                    // sealed them (what `StoreBuilder::learn` needs).
                    let slot = rayon::current_thread_index().unwrap_or(0) % workers.len();
                    let mut w = workers[slot].lock().unwrap_or_else(PoisonError::into_inner);
                    let results: Vec<FileResult> = batch
                        .iter()
                        .map(|f| {
                            let r = w.process(f);
                            if let Some(p) = progress {
                                p(ProgressEvent::File(&r.0));
                            }
                            r
                        })
                        .collect();
                    // The merger only hangs up after a strict-mode stop.
                    let _ = tx.send((i, results));
                })
            });
            drop(tx);
        });
        let mut pending: BTreeMap<usize, Vec<FileResult>> = BTreeMap::new();
        let mut next = 0;
        for (i, r) in rx.iter() {
            // The strings a worker's dictionaries gained, learned in the order it sealed its
            // chunks, before file order puts them to use.
            for (_, chunk, _) in &r {
                builder.learn(chunk);
            }
            pending.insert(i, r);
            while let Some(batch) = pending.remove(&next) {
                next += 1;
                for r in batch {
                    if let Err(e) = merge_one(&mut builder, &mut report, &mut source_paths, r, opts.strict) {
                        stop.store(true, Ordering::Relaxed);
                        return Err(e);
                    }
                }
            }
        }
        Ok(())
    });
    merged?;
    report.conflicts = builder
        .take_conflicts()
        .listed
        .into_iter()
        .map(|c| ConflictingDuplicate::named(c, |r| source_paths[r.source.0 as usize].clone()))
        .collect();
    drop(workers); // their dictionaries and buffers, before finish's copies
    let store = pool.install(|| builder.finish());
    report.elapsed = started.elapsed();
    Ok((store, report))
}

/// A file's outcome, its rows, and its rejected records `(index, reason, detail)`.
type FileResult = (FileOutcome, ChunkBuilder, Vec<(u32, RejectReason, String)>);

/// Fold one file's result into the store and the report.
fn merge_one(
    builder: &mut StoreBuilder,
    report: &mut IngestReport,
    source_paths: &mut Vec<String>,
    r: FileResult,
    strict: bool,
) -> Result<(), IngestError> {
    let (mut outcome, chunk, rejects) = r;
    if !chunk.is_empty() {
        let id = builder.add_source(SourceFile {
            path: outcome.path.clone(),
            size: outcome.size,
            sha256: outcome.sha256.clone(),
        });
        source_paths.push(outcome.evidence_path.clone());
        let merged = builder.add_chunk(id, chunk);
        outcome.stored = merged.stored;
        outcome.duplicates = merged.duplicates;
        outcome.conflicts = merged.conflicts;
    } else {
        builder.add_passed_over(&chunk);
    }
    for (index, reason, detail) in rejects {
        *report.rejects_by_reason.entry(reason).or_default() += 1;
        if report.reject_examples.len() < IngestReport::MAX_EXAMPLES {
            report.reject_examples.push(Reject { path: outcome.path.clone(), index, reason, detail });
        }
    }
    if strict {
        if let Some(e) = &outcome.error {
            return Err(IngestError::Strict(format!("{}: {e}", outcome.path)));
        }
        if let Some(r) = report.reject_examples.first() {
            return Err(IngestError::Strict(r.to_string()));
        }
    }
    report.files.push(outcome);
    Ok(())
}

/// Digest files larger than this are not kept in memory (real ones are a few KB to a few MB).
const MAX_DIGEST_BYTES: usize = 64 << 20;

/// One thread's reusable state.
struct Worker {
    /// Which worker this is (the id its chunks carry).
    id: u32,
    hash_uncompressed: bool,
    /// The per-file limit on content, in bytes.
    max_file_size: u64,
    chunk_limit: Option<u32>,
    gunzip: decode::Decompressor,
    buf: Vec<u8>,
    parser: parse::Parser,
    /// The dictionaries this worker's chunks intern into, from file to file.
    state: WorkerState,
}

impl Worker {
    fn new(opts: &IngestOptions, id: u32) -> Self {
        Worker {
            id,
            hash_uncompressed: opts.hash_uncompressed,
            max_file_size: opts.max_file_size.unwrap_or(DEFAULT_MAX_FILE_SIZE).min(u32::MAX as u64),
            chunk_limit: opts.chunk_limit,
            gunzip: decode::Decompressor::new(),
            buf: Vec::new(),
            parser: parse::Parser::new().with_gate(opts.gate.clone()),
            state: WorkerState::default(),
        }
    }

    /// Read and parse one file into a chunk of its own; the chunk is sealed, so the merger can
    /// learn the strings it added to the worker's dictionaries, whether its rows are kept or not.
    fn process(&mut self, file: &InputFile) -> FileResult {
        let mut chunk = ChunkBuilder::with_dicts(std::mem::take(&mut self.state), Some(self.id));
        if let Some(bytes) = self.chunk_limit {
            chunk = chunk.with_limit(bytes);
        }
        let (outcome, rejects) = self.read_and_parse(file, &mut chunk);
        self.state = chunk.seal();
        // A partly read file keeps the complete records it had; any other error keeps none.
        if outcome.error.as_ref().is_some_and(|e| !matches!(e, FileErrorKind::Partial { .. })) {
            chunk.clear_rows();
        }
        (outcome, chunk, rejects)
    }

    fn read_and_parse(
        &mut self,
        file: &InputFile,
        chunk: &mut ChunkBuilder,
    ) -> (FileOutcome, Vec<(u32, RejectReason, String)>) {
        // The path as text once (each conversion validates it as UTF-8).
        let path = file.path.to_string_lossy().into_owned();
        let mut outcome = FileOutcome {
            path,
            evidence_path: file.evidence_path.clone(),
            size: 0,
            sha256: String::new(),
            kind: FileKind::Error,
            wrapper: None,
            gzip: false,
            uncompressed: 0,
            records: 0,
            stored: 0,
            duplicates: 0,
            conflicts: 0,
            rejected: 0,
            not_matching: 0,
            error: None,
            archive: archive_key(&file.path),
            sha256_uncompressed: None,
            digest: None,
        };
        let bytes = match read::read_file(&file.path) {
            Ok(b) => b,
            Err(e) => {
                outcome.error = Some(FileErrorKind::Io(e.to_string()));
                return (outcome, Vec::new());
            }
        };
        outcome.size = bytes.len() as u64;
        outcome.sha256 = hex(&Sha256::digest(&bytes[..]));
        let json_name = file.explicit || discover::has_json_name(&file.path);
        if discover::is_os_metadata(&file.path) {
            // Finder/Explorer side files (`._x.json.gz`, `.DS_Store`, `Thumbs.db`) travel with
            // copied evidence; they are listed as ignored, not reported as broken logs.
            outcome.kind = FileKind::Other;
            return (outcome, Vec::new());
        }

        let pad = simd_json::INPUT_PADDING;
        // `self.buf[..len]` is the content; the buffer may be longer (it is reused, never shrunk).
        let mut cut_short = None;
        let mut len = if bytes.starts_with(&decode::GZIP_MAGIC) {
            outcome.gzip = true;
            match self.gunzip.gunzip(&bytes, &mut self.buf, pad, self.max_file_size) {
                Ok(n) => n,
                Err(decode::GzipError::Truncated) => {
                    // Keep the complete records decoded before the cut: a file cut short by an
                    // interrupted copy still holds most of its evidence.
                    // The failed attempt's buffer (up to the limit) goes first, and the
                    // salvaged text becomes the buffer, cut in place: one copy of it at a time.
                    self.buf = Vec::new();
                    let mut kept = decode::salvage(&bytes, self.max_file_size, pad + 2);
                    if !parse::complete_prefix(&mut kept) {
                        outcome.error = Some(FileErrorKind::Gzip(decode::GzipError::Truncated));
                        return (outcome, Vec::new());
                    }
                    cut_short = Some(decode::GzipError::Truncated);
                    self.buf = kept;
                    self.buf.len()
                }
                Err(e) => {
                    outcome.error = Some(FileErrorKind::Gzip(e));
                    return (outcome, Vec::new());
                }
            }
        } else if bytes.len() as u64 > self.max_file_size {
            outcome.error = Some(FileErrorKind::TooLarge { size: bytes.len() as u64, limit: self.max_file_size });
            return (outcome, Vec::new());
        } else {
            self.buf.clear();
            self.buf.extend_from_slice(&bytes);
            bytes.len()
        };
        drop(bytes);
        outcome.uncompressed = len as u64;
        if self.hash_uncompressed {
            outcome.sha256_uncompressed = Some(hex(&Sha256::digest(&self.buf[..len])));
        }
        // A UTF-8 byte-order mark (Windows exports) is not part of the JSON.
        if self.buf[..len].starts_with(&[0xEF, 0xBB, 0xBF]) {
            self.buf.copy_within(3..len, 0);
            len -= 3;
        }
        let first = self.buf[..len].iter().find(|b| !b.is_ascii_whitespace()).copied();
        if !matches!(first, Some(b'{' | b'[')) {
            if json_name || outcome.gzip && outcome.path.contains("CloudTrail") {
                let why = if len == 0 {
                    "file is empty".to_owned()
                } else {
                    "content does not start with '{' or '['".to_owned()
                };
                outcome.error = Some(FileErrorKind::Json(why));
            } else {
                outcome.kind = FileKind::Other;
            }
            return (outcome, Vec::new());
        }
        if len > u32::MAX as usize - pad {
            outcome.error = Some(FileErrorKind::TooLarge { size: len as u64, limit: u32::MAX as u64 - pad as u64 });
            return (outcome, Vec::new());
        }
        // Digest files are small; their text is kept for integrity checks (parsing is in place).
        let head = &self.buf[..len.min(2048)];
        let maybe_digest = outcome.path.contains("CloudTrail-Digest")
            || memchr::memmem::find(head, b"\"digestStartTime\"").is_some()
            || memchr::memmem::find(head, b"\"digestS3Object\"").is_some();
        let text_copy =
            (maybe_digest && len <= MAX_DIGEST_BYTES).then(|| String::from_utf8_lossy(&self.buf[..len]).into_owned());
        if self.buf.len() < len + pad {
            self.buf.resize(len + pad, 0);
        }
        let mut parsed = self.parser.parse(&mut self.buf, len, chunk);
        if matches!(parsed, Err(parse::DocError::Json(_))) {
            // Parsing works in place, so the sequence check reads the file again: a rare path.
            if let Some(original) = self.reread(file) {
                if let Some(seq) = self.parser.parse_sequence(&original, chunk) {
                    parsed = seq;
                }
            }
        }
        match parsed {
            Err(parse::DocError::Json(m)) => {
                outcome.error = Some(FileErrorKind::Json(m));
                (outcome, Vec::new())
            }
            Err(parse::DocError::NotCloudTrail(m)) => {
                outcome.error = Some(FileErrorKind::NotCloudTrail(m));
                (outcome, Vec::new())
            }
            Err(parse::DocError::Full(e)) => {
                outcome.error = Some(FileErrorKind::Capacity(e));
                (outcome, Vec::new())
            }
            Ok(parsed) => {
                outcome.wrapper = parsed.wrapper;
                outcome.records = parsed.records;
                outcome.rejected = parsed.rejects.len() as u64;
                outcome.not_matching = parsed.not_matching;
                let insight_path = outcome.archive.as_ref().is_some_and(|a| a.area == "CloudTrail-Insight");
                outcome.kind = match parsed.wrapper {
                    Some(Wrapper::Digest) => {
                        outcome.digest = text_copy;
                        FileKind::Digest
                    }
                    _ if insight_path || (parsed.records > 0 && parsed.insight_records == parsed.records) => {
                        FileKind::Insight
                    }
                    _ => FileKind::Log,
                };
                if let Some(cause) = cut_short {
                    outcome.error = Some(FileErrorKind::Partial { cause, records: parsed.records });
                }
                (outcome, parsed.rejects)
            }
        }
    }
}

impl Worker {
    /// The file's content again (decompressed), for the rare second look.
    fn reread(&mut self, file: &InputFile) -> Option<Vec<u8>> {
        let bytes = read::read_file(&file.path).ok()?;
        let mut out = if bytes.starts_with(&decode::GZIP_MAGIC) {
            let mut v = Vec::new();
            let n = self.gunzip.gunzip(&bytes, &mut v, 0, self.max_file_size).ok()?;
            v.truncate(n);
            v
        } else {
            bytes.to_vec()
        };
        if out.starts_with(&[0xEF, 0xBB, 0xBF]) {
            out.drain(..3);
        }
        Some(out)
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}
