//! `ingest --save` within a memory budget: evidence that would not fit is ingested in batches of
//! files, each sealed as a segment beside the case file, then merged into it in one streaming
//! pass (`trailscope_store::merge_segments`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use trailscope_ingest::{discover, ingest_files, IngestReport, InputFile};
use trailscope_integrity::Manifest;
use trailscope_store::{merge_segments, MergeSummary};

use crate::args::InputArgs;
use crate::evidence;

/// Resident bytes per byte on disk that an ingest takes before it has seen any of the evidence:
/// gzip'd CloudTrail is about a fifth of its JSON, and a store holds about 600 bytes an event.
const GZ_FACTOR: f64 = 6.0;
const PLAIN_FACTOR: f64 = 1.0;
/// The share of the budget one batch's store may take: building it and writing it out need
/// about as much again.
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
/// evidence fits the budget (one ingest, as without a budget).
pub fn needs_segments(input: &InputArgs, budget: u64) -> anyhow::Result<Option<Vec<InputFile>>> {
    let files = discover(&input.paths, input.follow_links).context("ingest failed")?;
    Ok((estimate(&files) > budget).then_some(files))
}

/// What a save in segments did.
pub struct Streamed {
    /// What the ingest read (per-file counts of stored and duplicate rows as in the case file).
    pub report: IngestReport,
    /// The manifest saved in the case file.
    pub manifest: Manifest,
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
/// into the case file `save`, and remove the segments (also on failure).
pub fn save_in_segments(input: &InputArgs, files: &[InputFile], save: &Path, budget: u64) -> anyhow::Result<Streamed> {
    let mut paths = Vec::new();
    let result = run(input, files, save, budget, &mut paths);
    for p in &paths {
        let _ = std::fs::remove_file(p);
    }
    result
}

fn run(
    input: &InputArgs,
    files: &[InputFile],
    save: &Path,
    budget: u64,
    paths: &mut Vec<PathBuf>,
) -> anyhow::Result<Streamed> {
    let started = Instant::now();
    let opts = evidence::ingest_options(input, false);
    let bar = evidence::progress_bar(input);
    if let Some(pb) = &bar {
        pb.set_length(files.len() as u64);
    }
    let progress = evidence::progress_of(bar.as_ref());
    let name = save.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let share = (budget as f64 * BATCH_SHARE) as u64;
    // Resident bytes per estimated byte, learned from each batch (the first uses the constants).
    let mut learned = 1.0f64;
    let mut report = IngestReport::default();
    let mut largest_batch = 0;
    let mut at = 0;
    while at < files.len() {
        let mut end = at;
        let mut planned = 0u64;
        while end < files.len() {
            let e = file_estimate(&files[end], learned);
            if end > at && planned + e > share {
                break;
            }
            planned += e;
            end += 1;
        }
        let (store, part) = ingest_files(&files[at..end], &opts, Some(&progress), started).context("ingest failed")?;
        let held = store.memory_use().total();
        largest_batch = largest_batch.max(held);
        if planned > 0 && held > 0 {
            learned = (learned * held as f64 / planned as f64).max(0.05);
        }
        let seg = save.with_file_name(format!(".{name}.segment-{}-{}", std::process::id(), paths.len()));
        paths.push(seg.clone());
        store.write_segment(&seg).with_context(|| format!("sealing a segment of {}", save.display()))?;
        drop(store);
        report.threads = part.threads;
        for (reason, n) in part.rejects_by_reason {
            *report.rejects_by_reason.entry(reason).or_default() += n;
        }
        let room = IngestReport::MAX_EXAMPLES.saturating_sub(report.reject_examples.len());
        report.reject_examples.extend(part.reject_examples.into_iter().take(room));
        report.files.extend(part.files);
        at = end;
    }
    drop(progress);
    if let Some(pb) = bar {
        pb.finish_and_clear();
    }
    report.elapsed = started.elapsed();
    let merging = Instant::now();
    let mut manifest = None;
    let summary = merge_segments(paths, save, |s| {
        // Re-deliveries found across segments: count them where one ingest would have.
        let mut files = report.files.iter_mut();
        for (source, &dups) in s.sources.iter().zip(&s.duplicates) {
            let Some(f) = files.by_ref().find(|f| f.path == source.path) else { break };
            f.stored -= dups;
            f.duplicates += dups;
        }
        let m = Manifest::from_report(&report);
        let json = m.to_json();
        manifest = Some(m);
        json
    })
    .with_context(|| format!("saving the case file {}", save.display()))?;
    let manifest = manifest.expect("the merge asks for the manifest");
    if !input.quiet {
        evidence::notes(&report, input.verbose);
    }
    Ok(Streamed { report, manifest, summary, segments: paths.len(), largest_batch, merge: merging.elapsed() })
}
