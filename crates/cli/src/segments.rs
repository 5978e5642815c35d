//! `ingest --save` within a memory budget: evidence that would not fit is ingested in batches of
//! files, each sealed as a segment beside the case file, then merged into it in one streaming
//! pass (`trailscope_store::merge_segments_streaming`).
//!
//! Nothing kept per evidence file grows in memory with the dump: each batch's manifest rows go
//! to a spill file beside the case file as the batch is sealed, and are streamed back into the
//! case file's manifest once the merge has counted the re-deliveries it dropped; what the
//! summary prints is kept as totals ([`Tally`]).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use trailscope_ingest::{
    discover::discover_noting_links, ingest_files, FileError, FileKind, FileOutcome, IngestReport, InputFile,
    RejectReason,
};
use trailscope_integrity::{Manifest, ManifestConflict, ManifestEntry};
use trailscope_store::{merge_segments_streaming, MergeSummary};

use crate::args::InputArgs;
use crate::evidence;
use crate::output;

/// Resident bytes per byte on disk that an ingest takes before it has seen any of the evidence:
/// gzip'd CloudTrail is about a fifth of its JSON, and a store holds about 600 bytes an event.
const GZ_FACTOR: f64 = 6.0;
const PLAIN_FACTOR: f64 = 1.0;
/// The share of the budget one store may take, whole or a batch's: building it and writing it
/// out need about as much again (measured: a 1.88 GB store of S3-data-heavy logs peaked at
/// 2.57 GB while saved).
const BATCH_SHARE: f64 = 0.4;

/// Estimated resident bytes of ingesting `files` at once.
pub fn estimate(files: &[InputFile]) -> u64 {
    files.iter().map(|f| file_estimate(f, 1.0)).sum()
}

fn file_estimate(f: &InputFile, learned: f64) -> u64 {
    let size = std::fs::metadata(&f.path).map_or(0, |m| m.len()) as f64;
    let gz = f.path.extension().is_some_and(|e| e.eq_ignore_ascii_case("gz"));
    (size * learned * if gz { GZ_FACTOR } else { PLAIN_FACTOR }) as u64
}

/// The discovered input files, when `--save` must stream them in segments; `None` when the
/// evidence fits the budget with room to write it out (one ingest, as without a budget).
/// The symbolic links not followed come with them, for the evidence coverage.
pub fn needs_segments(input: &InputArgs, budget: u64) -> anyhow::Result<Option<(Vec<InputFile>, Vec<String>)>> {
    let (files, links) = discover_noting_links(&input.paths, input.follow_links).context("ingest failed")?;
    Ok((estimate(&files) as f64 > budget as f64 * BATCH_SHARE).then_some((files, links)))
}

/// The totals `ingest` prints, kept as counts so that an ingest in segments need not hold every
/// file's outcome to the end.
#[derive(Debug, Default)]
pub struct Tally {
    /// Files by kind.
    pub kinds: BTreeMap<FileKind, usize>,
    /// Files by record wrapper.
    pub wrappers: BTreeMap<&'static str, usize>,
    pub files: usize,
    pub bytes_on_disk: u64,
    pub bytes_uncompressed: u64,
    pub records: u64,
    pub stored: u64,
    pub duplicates: u64,
    /// Duplicates whose content differs from the copy kept.
    pub conflicts: u64,
    pub rejected: u64,
    pub rejects_by_reason: BTreeMap<RejectReason, u64>,
    /// Files that could not be read (few; listed whole).
    pub errors: Vec<FileError>,
}

impl Tally {
    /// The totals of a whole ingest.
    pub fn of(report: &IngestReport) -> Tally {
        let mut t = Tally { rejects_by_reason: report.rejects_by_reason.clone(), ..Tally::default() };
        for f in &report.files {
            t.add(f);
        }
        t
    }

    fn add(&mut self, f: &FileOutcome) {
        *self.kinds.entry(f.kind).or_default() += 1;
        if let Some(w) = f.wrapper {
            *self.wrappers.entry(w.name()).or_default() += 1;
        }
        self.files += 1;
        self.bytes_on_disk += f.size;
        self.bytes_uncompressed += f.uncompressed;
        self.records += f.records;
        self.stored += f.stored;
        self.duplicates += f.duplicates;
        self.conflicts += f.conflicts;
        self.rejected += f.rejected;
        if let Some(kind) = &f.error {
            self.errors.push(FileError { path: f.path.clone(), kind: kind.clone() });
        }
    }

    /// Files of one kind.
    pub fn count(&self, kind: FileKind) -> usize {
        self.kinds.get(&kind).copied().unwrap_or(0)
    }
}

/// What a save in segments did.
pub struct Streamed {
    /// What the ingest read, counted (stored and duplicate rows as in the case file).
    pub tally: Tally,
    /// What the ingest read, keeping only the files worth a note (unreadable, with rejected
    /// records, or not CloudTrail), for `evidence::notes` and the exit status.
    pub report: IngestReport,
    /// The manifest saved in the case file, read back when a case directory keeps it as well.
    pub manifest: Option<Manifest>,
    /// The first conflicting duplicates, within batches and across segments (as the manifest
    /// lists them; the tally counts them all).
    pub conflicts: Vec<ManifestConflict>,
    /// What the merge wrote.
    pub summary: MergeSummary,
    /// Segments sealed.
    pub segments: usize,
    /// Largest resident size of one batch's store.
    pub largest_batch: usize,
    /// Time spent merging the segments into the case file.
    pub merge: Duration,
}

/// Ingest `files` in batches that fit `budget`, seal each as a segment beside `save`, merge them
/// into the case file `save`, and remove the segments and the manifest spill (also on failure).
/// `keep_manifest`: also return the manifest (a case directory writes it beside its outputs).
pub fn save_in_segments(
    input: &InputArgs,
    (files, links): (Vec<InputFile>, Vec<String>),
    save: &Path,
    budget: u64,
    keep_manifest: bool,
) -> anyhow::Result<Streamed> {
    let mut paths = Vec::new();
    let name = save.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let spill = save.with_file_name(format!(".{name}.manifest-{}", std::process::id()));
    let list = save.with_file_name(format!(".{name}.files-{}", std::process::id()));
    // The merge's section files and the case file's temporary: an interrupt removes them with
    // the rest.
    let case_temporaries = trailscope_store::CaseTemporaries::of(save);
    for t in [&spill, &list, &case_temporaries.sections, &case_temporaries.file] {
        output::temporary(t);
    }
    let result = FileList::spill(files, &list)
        .with_context(|| format!("writing {}", list.display()))
        .and_then(|files| run(input, files, save, budget, &spill, keep_manifest, &mut paths))
        .map(|mut s| {
            s.report.skipped_links = links;
            s
        });
    for p in paths.iter().chain([&spill, &list]) {
        let _ = std::fs::remove_file(p);
        output::forget_temporary(p);
    }
    output::forget_temporary(&case_temporaries.sections);
    output::forget_temporary(&case_temporaries.file);
    result
}

/// The discovered files, kept on disk until their batch is read: the list grows with the number
/// of files (hundreds of thousands in a real trail's archive of small files).
struct FileList {
    input: BufReader<File>,
    path: PathBuf,
    len: usize,
    left: usize,
    peeked: Option<InputFile>,
}

#[cfg(unix)]
fn path_bytes(p: &Path) -> io::Result<&[u8]> {
    use std::os::unix::ffi::OsStrExt;
    Ok(p.as_os_str().as_bytes())
}

#[cfg(not(unix))]
fn path_bytes(p: &Path) -> io::Result<&[u8]> {
    p.to_str().map(str::as_bytes).ok_or_else(|| io::Error::other(format!("{}: not a Unicode path", p.display())))
}

#[cfg(unix)]
fn path_of(b: Vec<u8>) -> io::Result<PathBuf> {
    use std::os::unix::ffi::OsStringExt;
    Ok(std::ffi::OsString::from_vec(b).into())
}

#[cfg(not(unix))]
fn path_of(b: Vec<u8>) -> io::Result<PathBuf> {
    String::from_utf8(b).map(PathBuf::from).map_err(io::Error::other)
}

impl FileList {
    /// Write `files` to `path` and free them.
    fn spill(files: Vec<InputFile>, path: &Path) -> io::Result<FileList> {
        let mut w = BufWriter::with_capacity(1 << 16, File::create(path)?);
        let put = |w: &mut BufWriter<File>, b: &[u8]| -> io::Result<()> {
            w.write_all(&(b.len() as u32).to_le_bytes())?;
            w.write_all(b)
        };
        for f in &files {
            put(&mut w, path_bytes(&f.path)?)?;
            put(&mut w, f.evidence_path.as_bytes())?;
            w.write_all(&[u8::from(f.explicit)])?;
        }
        w.flush()?;
        let len = files.len();
        drop(files);
        let input = BufReader::with_capacity(1 << 16, File::open(path)?);
        Ok(FileList { input, path: path.to_owned(), len, left: len, peeked: None })
    }

    fn read(&mut self) -> io::Result<Option<InputFile>> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        let mut bytes = || -> io::Result<Vec<u8>> {
            let mut n = [0u8; 4];
            io::Read::read_exact(&mut self.input, &mut n)?;
            let mut b = vec![0u8; u32::from_le_bytes(n) as usize];
            io::Read::read_exact(&mut self.input, &mut b)?;
            Ok(b)
        };
        let path = path_of(bytes()?)?;
        let evidence_path = String::from_utf8(bytes()?).map_err(io::Error::other)?;
        let mut explicit = [0u8];
        io::Read::read_exact(&mut self.input, &mut explicit)?;
        Ok(Some(InputFile { path, explicit: explicit[0] == 1, evidence_path }))
    }

    /// The next file, left in the list.
    fn peek(&mut self) -> anyhow::Result<Option<&InputFile>> {
        if self.peeked.is_none() {
            self.peeked = self.read().with_context(|| format!("reading back {}", self.path.display()))?;
        }
        Ok(self.peeked.as_ref())
    }
}

/// The manifest rows of the files ingested so far, one JSON line each, in ingest order.
struct Spill {
    out: BufWriter<File>,
    /// Rows written.
    rows: u32,
    /// Whether the rows came in manifest (evidence path) order: they do when the files were
    /// discovered under one input; otherwise they are sorted in memory at the end.
    sorted: bool,
    last: String,
}

impl Spill {
    fn push(&mut self, f: &FileOutcome) -> io::Result<()> {
        let e = ManifestEntry::from(f);
        if self.rows > 0 && e.path < self.last {
            self.sorted = false;
        }
        self.last.clone_from(&e.path);
        serde_json::to_writer(&mut self.out, &e)?;
        self.out.write_all(b"\n")?;
        self.rows += 1;
        Ok(())
    }
}

/// The spill's rows back, in ingest order, with the re-deliveries the merge dropped (`moved`:
/// spill row, rows, and of those the conflicting ones; ascending) moved from stored to
/// duplicates.
fn read_spill<'a>(
    path: &Path,
    moved: &'a [(u32, u64, u64)],
) -> io::Result<impl Iterator<Item = io::Result<ManifestEntry>> + 'a> {
    let mut moved = moved.iter().peekable();
    let lines = BufReader::with_capacity(1 << 16, File::open(path)?).lines();
    Ok(lines.enumerate().map(move |(i, line)| {
        let mut e: ManifestEntry = serde_json::from_str(&line?).map_err(io::Error::other)?;
        if let Some(&(_, dups, conflicts)) = moved.next_if(|(at, _, _)| *at as usize == i) {
            e.stored -= dups;
            e.duplicates += dups;
            e.conflicts += conflicts;
        }
        Ok(e)
    }))
}

/// The conflicting duplicates the merge found across segments, named by the files' evidence
/// paths (read back from the spill: only the rows they name are kept), added to `list`, which
/// keeps the first in evidence order ([`keep_first_conflicts`]).
fn name_conflicts(
    spill: &Path,
    source_rows: &[u32],
    found: &trailscope_store::Conflicts,
    list: &mut Vec<ManifestConflict>,
) -> io::Result<()> {
    let found = &found.listed[..];
    let mut wanted: BTreeMap<u32, String> = BTreeMap::new();
    for c in found {
        for r in [c.kept, c.other] {
            wanted.insert(source_rows[r.source.0 as usize], String::new());
        }
    }
    if !wanted.is_empty() {
        for (i, e) in read_spill(spill, &[])?.enumerate() {
            let e = e?;
            if let Some(path) = wanted.get_mut(&(i as u32)) {
                *path = e.path;
            }
        }
    }
    let path = |r: trailscope_store::RecordRef| wanted[&source_rows[r.source.0 as usize]].clone();
    list.extend(found.iter().cloned().map(|c| ManifestConflict::named(c, path)));
    keep_first_conflicts(list);
    Ok(())
}

/// Keep the first [`trailscope_store::MAX_CONFLICTS`] conflicts in evidence order, sorted as
/// the manifest lists them: each batch and the segment merge keep their own first ones, so the
/// first of their union are the ones one ingest of all the evidence keeps.
fn keep_first_conflicts(list: &mut Vec<ManifestConflict>) {
    ManifestConflict::sort(list);
    list.truncate(trailscope_store::MAX_CONFLICTS);
}

#[allow(clippy::too_many_arguments)]
fn run(
    input: &InputArgs,
    mut files: FileList,
    save: &Path,
    budget: u64,
    spill_path: &Path,
    keep_manifest: bool,
    paths: &mut Vec<PathBuf>,
) -> anyhow::Result<Streamed> {
    let started = Instant::now();
    let opts = evidence::ingest_options(input, false);
    let bar = evidence::progress_bar(input);
    if let Some(pb) = &bar {
        pb.set_length(files.len as u64);
    }
    let progress = evidence::progress_of(bar.as_ref());
    let name = save.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let share = (budget as f64 * BATCH_SHARE) as u64;
    let spill_err = |e: io::Error| anyhow::Error::new(e).context(format!("writing {}", spill_path.display()));
    let mut spill = Spill {
        out: BufWriter::with_capacity(1 << 16, File::create(spill_path).map_err(spill_err)?),
        rows: 0,
        sorted: true,
        last: String::new(),
    };
    // Spill row of each source file, in `SourceId` order (what the merge counts duplicates by).
    let mut source_rows: Vec<u32> = Vec::new();
    // Resident bytes per estimated byte, learned from each batch (the first uses the constants).
    let mut learned = 1.0f64;
    let mut tally = Tally::default();
    let mut report = IngestReport::default();
    let mut conflicts: Vec<ManifestConflict> = Vec::new();
    let mut largest_batch = 0;
    loop {
        let mut batch = Vec::new();
        let mut planned = 0u64;
        while let Some(f) = files.peek()? {
            let e = file_estimate(f, learned);
            if !batch.is_empty() && planned + e > share {
                break;
            }
            planned += e;
            batch.extend(files.peeked.take());
        }
        if batch.is_empty() {
            break;
        }
        let (store, part) = ingest_files(&batch, &opts, Some(&progress), started).context("ingest failed")?;
        drop(batch);
        let held = store.memory_use().total();
        largest_batch = largest_batch.max(held);
        if planned > 0 && held > 0 {
            learned = (learned * held as f64 / planned as f64).max(0.05);
        }
        let seg = save.with_file_name(format!(".{name}.segment-{}-{}", std::process::id(), paths.len()));
        output::temporary(&seg);
        paths.push(seg.clone());
        store.write_segment(&seg).with_context(|| format!("sealing a segment of {}", save.display()))?;
        // A batch's sources are a subsequence of its files, in the same order.
        let first = spill.rows;
        let mut outcomes = part.files.iter().enumerate();
        for source in store.sources() {
            let Some((i, _)) = outcomes.by_ref().find(|(_, f)| f.path == source.path) else { break };
            source_rows.push(first + i as u32);
        }
        drop(store);
        for f in &part.files {
            spill.push(f).map_err(spill_err)?;
            tally.add(f);
        }
        report.threads = part.threads;
        conflicts.extend(part.conflicts.iter().cloned());
        keep_first_conflicts(&mut conflicts);
        for (reason, n) in part.rejects_by_reason {
            *report.rejects_by_reason.entry(reason).or_default() += n;
        }
        let room = IngestReport::MAX_EXAMPLES.saturating_sub(report.reject_examples.len());
        report.reject_examples.extend(part.reject_examples.into_iter().take(room));
        report.files.extend(
            part.files.into_iter().filter(|f| f.error.is_some() || f.rejected > 0 || f.kind == FileKind::Other),
        );
    }
    spill.out.flush().map_err(spill_err)?;
    drop(spill.out);
    tally.rejects_by_reason.clone_from(&report.rejects_by_reason);
    drop(progress);
    if let Some(pb) = bar {
        pb.finish_and_clear();
    }
    report.elapsed = started.elapsed();
    let merging = Instant::now();
    let mut moved: Vec<(u32, u64, u64)> = Vec::new();
    let summary = merge_segments_streaming(paths, save, |s, w| {
        // Re-deliveries found across segments: count them where one ingest would have.
        moved = source_rows
            .iter()
            .zip(s.duplicates.iter().zip(&s.conflicts))
            .filter(|(_, (&d, _))| d > 0)
            .map(|(&r, (&d, &c))| (r, d, c))
            .collect();
        name_conflicts(spill_path, &source_rows, &s.conflict_list, &mut conflicts)?;
        let entries = read_spill(spill_path, &moved)?;
        if spill.sorted {
            Manifest::write_json_streamed(entries, &conflicts, w)
        } else {
            let all = Manifest::from_entries(entries.collect::<io::Result<_>>()?);
            Manifest::write_json_streamed(all.files.into_iter().map(Ok), &conflicts, w)
        }
    })
    .with_context(|| format!("saving the case file {}", save.display()))?;
    for &(_, dups, conflicting) in &moved {
        tally.stored -= dups;
        tally.duplicates += dups;
        tally.conflicts += conflicting;
    }
    let manifest = if keep_manifest {
        let files = read_spill(spill_path, &moved)
            .and_then(Iterator::collect)
            .with_context(|| format!("reading back {}", spill_path.display()))?;
        let mut m = Manifest::from_entries(files);
        m.conflicting_duplicates.clone_from(&conflicts);
        Some(m)
    } else {
        None
    };
    Ok(Streamed {
        tally,
        report,
        manifest,
        conflicts,
        summary,
        segments: paths.len(),
        largest_batch,
        merge: merging.elapsed(),
    })
}
