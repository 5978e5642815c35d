//! `trailscope ingest`: what was read, kept, skipped and why, and how fast; `--save` keeps the
//! result as a case file.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use trailscope_ingest::{FileKind, IngestReport};
use trailscope_store::{chrono_free_iso, Field, Store};

use crate::args::{InputArgs, OutArgs};
use crate::evidence::{Evidence, OpenedCase};
use crate::output::{record_with_inputs, Tee};
use crate::segments::Tally;
use crate::{evidence, segments, Outcome};

/// A case file saved straight into the case directory is one of its outputs: the audit entry
/// lists it (and `audit verify` then accounts for it).
fn saved_in_case(path: &Path, out_args: &OutArgs) -> anyhow::Result<Option<trailscope_integrity::audit::OutputHash>> {
    use sha2::Digest;
    let Some(case) = out_args.case() else { return Ok(None) };
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else { return Ok(None) };
    let parent = if parent.as_os_str().is_empty() { Path::new(".") } else { parent };
    if parent.canonicalize()? != case.dir.canonicalize()? {
        return Ok(None);
    }
    let mut hasher = sha2::Sha256::new();
    std::io::copy(&mut std::fs::File::open(path)?, &mut hasher)?;
    Ok(Some(trailscope_integrity::audit::OutputHash {
        file: name.to_string_lossy().into_owned(),
        sha256: hex::encode(hasher.finalize()),
        replaced_sha256: None,
    }))
}

fn distinct(store: &trailscope_store::Store, field: Field) -> Vec<String> {
    trailscope_indicators::distinct(store, field, 0..store.len()).into_iter().map(str::to_owned).collect()
}

pub fn run(input: &InputArgs, save: Option<&Path>, max_memory: u64, out_args: &OutArgs) -> anyhow::Result<Outcome> {
    if let Some(path) = save {
        // Logs (not a case file) too large for the budget are saved in segments.
        if evidence::case_input(&input.paths)?.is_none() {
            if let Some(files) = segments::needs_segments(input, max_memory)? {
                return run_in_segments(input, files, path, max_memory, out_args);
            }
        }
    }
    let ev = evidence::load(input)?;
    let mut out = Tee::new(out_args.case(), "ingest.txt")?;
    match (&ev.ingest, &ev.case) {
        (Some(r), _) => write_ingest(&mut out, &Tally::of(r))?,
        (None, Some(case)) => write_case(&mut out, &ev, case)?,
        (None, None) => unreachable!("evidence comes from an ingest or a case file"),
    }
    write_scope(&mut out, &ev.store)?;
    if let Some(r) = &ev.ingest {
        write_throughput(&mut out, &Tally::of(r), r)?;
    }
    write_memory(&mut out, &ev.store)?;
    let mut saved_here = None;
    if let Some(path) = save {
        let started = Instant::now();
        // An interrupt while the case file is written removes its temporary.
        let temporary = trailscope_store::CaseTemporaries::of(path).file;
        crate::output::temporary(&temporary);
        let saved = ev.store.save_case(path, &ev.manifest.to_json());
        crate::output::forget_temporary(&temporary);
        let size = saved.with_context(|| format!("saving the case file {}", path.display()))?;
        writeln!(
            out,
            "Saved:        {} ({size} bytes, {} files in its manifest, {:.3} s)",
            path.display(),
            ev.manifest.files.len(),
            started.elapsed().as_secs_f64()
        )?;
        saved_here = saved_in_case(path, out_args)?;
    }
    let outputs = out.finish()?.into_iter().chain(saved_here).collect();
    record_with_inputs(out_args.case(), Some(&ev.manifest), None, Vec::new(), outputs)?;
    Ok(super::evidence_outcome(&ev))
}

/// `ingest --save` in segments: the same summary, from the merge rather than a store.
fn run_in_segments(
    input: &InputArgs,
    files: (Vec<trailscope_ingest::InputFile>, Vec<String>),
    path: &Path,
    budget: u64,
    out_args: &OutArgs,
) -> anyhow::Result<Outcome> {
    let mut out = Tee::new(out_args.case(), "ingest.txt")?;
    let s = segments::save_in_segments(input, files, path, budget, out_args.case().is_some())?;
    write_ingest(&mut out, &s.tally)?;
    writeln!(out, "Accounts:     {}", s.summary.accounts.join(", "))?;
    writeln!(out, "Regions:      {}", s.summary.regions.join(", "))?;
    if let Some((a, b)) = s.summary.time_range {
        writeln!(out, "Time range:   {} .. {}", chrono_free_iso(a), chrono_free_iso(b))?;
    }
    write_throughput(&mut out, &s.tally, &s.report)?;
    writeln!(
        out,
        "Memory:       budget {budget} bytes: saved in {} segments, the largest {} bytes resident",
        s.segments, s.largest_batch
    )?;
    writeln!(
        out,
        "Saved:        {} ({} bytes, {} files in its manifest, {:.3} s merging)",
        path.display(),
        s.summary.size,
        s.tally.files,
        s.merge.as_secs_f64()
    )?;
    // The case file, when saved into the case directory, is one of its outputs (as a one-shot save's).
    let saved_here = saved_in_case(path, out_args)?;
    let outputs = out.finish()?.into_iter().chain(saved_here).collect();
    record_with_inputs(out_args.case(), s.manifest.as_ref(), None, Vec::new(), outputs)?;
    // Unread evidence is said even with -q (links not followed included), as for a one-shot save.
    evidence::notes_or_warning(input, &s.report);
    evidence::conflict_lines(s.tally.conflicts, &s.conflicts, None, input.quiet, input.verbose);
    if s.summary.rows == 0 {
        eprintln!("trailscope: no CloudTrail event in the evidence ({} files)", s.tally.files);
    }
    // No event, or evidence not read whole, is incomplete evidence (exit 3), never clean.
    Ok(Outcome::of(false, s.summary.rows == 0 || s.report.has_problems()))
}

/// What a case file holds and was made from (its manifest), and how long opening took.
fn write_case(out: &mut impl Write, ev: &Evidence, case: &OpenedCase) -> anyhow::Result<()> {
    writeln!(
        out,
        "Case file:    {} (format {}, {} bytes, opened in {:.3} s)",
        case.path.display(),
        case.version,
        case.size,
        case.elapsed.as_secs_f64()
    )?;
    let files = &ev.manifest.files;
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    for f in files {
        *kinds.entry(f.kind.as_str()).or_default() += 1;
    }
    let by_kind: Vec<String> = kinds.iter().map(|(k, n)| format!("{k} {n}")).collect();
    writeln!(out, "Made from:    {} files ({}), {} bytes on disk", files.len(), by_kind.join(", "), {
        files.iter().map(|f| f.size).sum::<u64>()
    })?;
    let sum = |f: fn(&trailscope_integrity::ManifestEntry) -> u64| files.iter().map(f).sum::<u64>();
    writeln!(
        out,
        "Records:      {} found, {} stored, {} duplicates, {} rejected",
        sum(|f| f.records),
        sum(|f| f.stored),
        sum(|f| f.duplicates),
        sum(|f| f.rejected)
    )?;
    write_conflicts(out, ev.manifest.conflicting())?;
    for f in files.iter().filter(|f| !f.error.is_empty()) {
        writeln!(out, "  error:      {}: {}", f.path, f.error)?;
    }
    Ok(())
}

/// The conflicting duplicates' line, when there are any (stderr names them).
fn write_conflicts(out: &mut impl Write, conflicts: u64) -> anyhow::Result<()> {
    if conflicts > 0 {
        writeln!(
            out,
            "Conflicts:    {conflicts} of the duplicates differ from the copy kept (two different records under one \
             event id: one of the files was altered)"
        )?;
    }
    Ok(())
}

fn write_ingest(out: &mut impl Write, t: &Tally) -> anyhow::Result<()> {
    let kinds = [FileKind::Log, FileKind::Insight, FileKind::Digest, FileKind::Other, FileKind::Error];
    let by_kind: Vec<String> = kinds.iter().map(|k| format!("{} {}", k.name(), t.count(*k))).collect();
    writeln!(out, "Files:        {} ({})", t.files, by_kind.join(", "))?;
    let w: Vec<String> = t.wrappers.iter().map(|(k, v)| format!("{k} {v}")).collect();
    writeln!(out, "Formats:      {}", if w.is_empty() { "-".into() } else { w.join(", ") })?;
    writeln!(out, "Bytes:        {} on disk, {} uncompressed", t.bytes_on_disk, t.bytes_uncompressed)?;
    writeln!(
        out,
        "Records:      {} found, {} stored, {} duplicates, {} rejected",
        t.records, t.stored, t.duplicates, t.rejected
    )?;
    write_conflicts(out, t.conflicts)?;
    for (reason, n) in &t.rejects_by_reason {
        writeln!(out, "  rejected:   {n} {reason}")?;
    }
    for e in &t.errors {
        writeln!(out, "  error:      {e}")?;
    }
    Ok(())
}

/// `r`: the ingest's time and threads.
fn write_throughput(out: &mut impl Write, t: &Tally, r: &IngestReport) -> anyhow::Result<()> {
    let secs = r.elapsed.as_secs_f64().max(1e-9);
    writeln!(
        out,
        "Throughput:   {:.0} events/s, {:.1} MB/s uncompressed ({:.3} s, {} threads)",
        t.records as f64 / secs,
        t.bytes_uncompressed as f64 / 1e6 / secs,
        secs,
        r.threads
    )?;
    Ok(())
}

/// Accounts, regions and time range: the same for an ingest and a case file.
fn write_scope(out: &mut impl Write, store: &Store) -> anyhow::Result<()> {
    writeln!(out, "Accounts:     {}", distinct(store, Field::RecipientAccount).join(", "))?;
    writeln!(out, "Regions:      {}", distinct(store, Field::AwsRegion).join(", "))?;
    let t = store.times();
    if let (Some(a), Some(b)) = (t.first(), t.last()) {
        writeln!(out, "Time range:   {} .. {}", chrono_free_iso(*a), chrono_free_iso(*b))?;
    }
    Ok(())
}

fn write_memory(out: &mut impl Write, store: &Store) -> anyhow::Result<()> {
    let mem = store.memory_use();
    let per = if store.is_empty() { 0 } else { mem.total() / store.len() };
    writeln!(
        out,
        "Memory:       {} bytes {}, {per} bytes/event (columns {}, dictionaries {}, payloads {})",
        mem.total(),
        if store.is_mapped() { "mapped from the case file" } else { "resident" },
        mem.columns,
        mem.dictionaries,
        mem.payloads
    )?;
    if let Some(limit) = mem.payload_cache_limit {
        writeln!(out, "Payload cache: at most {limit} bytes of decompressed payload blocks (--case-cache)")?;
    }
    Ok(())
}
