//! `trailscope export --parquet DIR`: the events as Hive-partitioned Parquet for other engines.

use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use trailscope_export::{export_parquet, write_partitions, ExportSummary};

use crate::args::InputArgs;
use crate::evidence;

pub fn run(input: &InputArgs, dir: &Path) -> anyhow::Result<crate::Outcome> {
    let started = Instant::now();
    let threads = evidence::ingest_options(input, false).threads;
    let cases = evidence::case_inputs(&input.paths)?;
    let mut total = ExportSummary::default();
    let mut outcome = crate::Outcome::Clean;
    let add = |t: &mut ExportSummary, s: ExportSummary| {
        t.events += s.events;
        t.partitions += s.partitions;
        t.files += s.files;
        t.bytes += s.bytes;
    };
    if cases.len() > 1 {
        // Several cases go into one export, each under its own file prefix; the first one
        // checks that the directory is new.
        for (i, case) in cases.iter().enumerate() {
            let ev = evidence::open_case(case, input.case_cache)?;
            evidence::conflict_notes(&ev.manifest, Some(&case.display().to_string()), input.quiet, input.verbose);
            let s = if i == 0 {
                write_first(&ev.store, dir, &format!("case{i}-"), threads)?
            } else {
                write_partitions(&ev.store, dir, &format!("case{i}-"), threads)
                    .with_context(|| format!("exporting {}", case.display()))?
            };
            add(&mut total, s);
            // One case read incompletely makes the whole export incomplete (exit 3).
            if super::evidence_outcome(&ev) != crate::Outcome::Clean {
                outcome = super::evidence_outcome(&ev);
            }
        }
    } else {
        let ev = evidence::load(input)?;
        add(&mut total, export_parquet(&ev.store, dir, threads)?);
        outcome = super::evidence_outcome(&ev);
    }
    if !input.quiet {
        eprintln!(
            "exported {} events to {} ({} partitions, {} files, {:.1} MB) in {:.1} s",
            total.events,
            dir.display(),
            total.partitions,
            total.files,
            total.bytes as f64 / 1e6,
            started.elapsed().as_secs_f64()
        );
    }
    Ok(outcome)
}

fn write_first(
    store: &trailscope_store::Store,
    dir: &Path,
    prefix: &str,
    threads: usize,
) -> anyhow::Result<ExportSummary> {
    if dir.read_dir().is_ok_and(|mut d| d.next().is_some()) {
        return Err(trailscope_export::ExportError::NotEmpty(dir.to_path_buf()).into());
    }
    Ok(write_partitions(store, dir, prefix, threads)?)
}
