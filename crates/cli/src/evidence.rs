//! Loading evidence: ingest with a progress bar, then notes on stderr about anything skipped.

use std::io::IsTerminal;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use trailscope_ingest::{ingest, FileKind, IngestOptions, IngestReport, ProgressEvent};
use trailscope_store::Store;

use crate::args::InputArgs;

/// Ingest the inputs. The progress bar shows on a terminal only, and never with `--quiet`.
pub fn load(input: &InputArgs) -> anyhow::Result<(Store, IngestReport)> {
    load_with(input, false)
}

/// As [`load`], optionally hashing uncompressed content too (for digest validation).
pub fn load_with(input: &InputArgs, hash_uncompressed: bool) -> anyhow::Result<(Store, IngestReport)> {
    let opts = IngestOptions {
        threads: input.threads,
        follow_links: input.follow_links,
        strict: input.strict,
        hash_uncompressed,
    };
    let bar = (!input.quiet && std::io::stderr().is_terminal()).then(|| {
        let pb = ProgressBar::new(0);
        pb.set_style(
            ProgressStyle::with_template("{bar:32} {pos}/{len} files  {msg}  [{elapsed}, eta {eta}]")
                .expect("static template"),
        );
        pb
    });
    let bytes_done = std::sync::atomic::AtomicU64::new(0);
    let progress = |e: ProgressEvent<'_>| {
        let Some(pb) = &bar else { return };
        match e {
            ProgressEvent::Started { files } => pb.set_length(files as u64),
            ProgressEvent::File(o) => {
                let b = bytes_done.fetch_add(o.size, std::sync::atomic::Ordering::Relaxed) + o.size;
                pb.inc(1);
                if pb.position().is_multiple_of(64) {
                    pb.set_message(format!("{:.1} MB read", b as f64 / 1e6));
                }
            }
        }
    };
    let result = ingest(&input.paths, &opts, Some(&progress)).context("ingest failed");
    if let Some(pb) = bar {
        pb.finish_and_clear();
    }
    let (store, report) = result?;
    if !input.quiet {
        notes(&report, input.verbose);
    }
    Ok((store, report))
}

/// Tell the examiner on stderr what could not be read, so it is never lost silently.
fn notes(report: &IngestReport, verbose: bool) {
    let errors: Vec<_> = report.file_errors().collect();
    for e in errors.iter().take(if verbose { usize::MAX } else { 20 }) {
        eprintln!("trailscope: {e}");
    }
    if errors.len() > 20 && !verbose {
        eprintln!("trailscope: ... {} more file errors (--verbose lists all)", errors.len() - 20);
    }
    if report.rejected() > 0 {
        let by: Vec<String> = report.rejects_by_reason.iter().map(|(r, n)| format!("{r}: {n}")).collect();
        eprintln!("trailscope: {} records rejected ({})", report.rejected(), by.join("; "));
        for r in report.reject_examples.iter().take(if verbose { usize::MAX } else { 5 }) {
            eprintln!("trailscope:   {r}");
        }
    }
    if verbose {
        for f in report.files.iter().filter(|f| f.kind == FileKind::Other) {
            eprintln!("trailscope: ignored (not CloudTrail): {}", f.path);
        }
    }
}
