//! Loading evidence: ingest with a progress bar, then notes on stderr about anything skipped; or
//! open a saved case file (`ingest --save`), recognised by its magic bytes.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressStyle};
use trailscope_indicators::Gate;
use trailscope_ingest::{ingest, FileErrorKind, FileKind, IngestOptions, IngestReport, ProgressEvent, RecordGate};
use trailscope_integrity::{Manifest, ManifestConflict};
use trailscope_store::{is_case_file, CaseFile, RowValues, Store};
use trailscope_timeline::report::{ConflictingDuplicate, EvidenceCoverage, EvidenceProblem, EvidenceProblemKind};

use crate::args::InputArgs;

/// The events a command works on, and what they were made from.
pub struct Evidence {
    /// The events.
    pub store: Store,
    /// What the ingest read, skipped and why (None for a case file: its manifest says it).
    pub ingest: Option<IngestReport>,
    /// The evidence manifest: of this ingest, or the one saved in the case file.
    pub manifest: Manifest,
    /// The case file, when the evidence was opened from one.
    pub case: Option<OpenedCase>,
    /// The store's damage was already told (commands ask `has_problems` more than once).
    damage_told: std::sync::atomic::AtomicBool,
}

/// A case file that was opened.
pub struct OpenedCase {
    /// Its path.
    pub path: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// Its format version.
    pub version: u32,
    /// How long opening (mapping and checking) took.
    pub elapsed: Duration,
}

impl Evidence {
    /// What of the evidence the conclusions rest on, for the report's evidence-coverage section:
    /// from the manifest (of this ingest or saved in the case file), plus links not followed.
    pub fn coverage(&self) -> EvidenceCoverage {
        let mut c = EvidenceCoverage { files: self.manifest.files.len(), ..EvidenceCoverage::default() };
        for f in &self.manifest.files {
            match f.kind.as_str() {
                "log" | "insight" => c.log_files += 1,
                "digest" => c.digest_files += 1,
                "other" => c.ignored.push(f.path.clone()),
                _ => {}
            }
            c.rejected_records += f.rejected;
            if !f.error.is_empty() {
                // A file that also has a kind of its own was read in part (its complete records
                // kept); one of kind `error` gave nothing.
                let kind =
                    if f.kind == "error" { EvidenceProblemKind::Unreadable } else { EvidenceProblemKind::Partial };
                c.problems.push(EvidenceProblem {
                    path: f.path.clone(),
                    kind,
                    records: f.stored,
                    detail: f.error.clone(),
                });
            } else if f.rejected > 0 {
                c.problems.push(EvidenceProblem {
                    path: f.path.clone(),
                    kind: EvidenceProblemKind::RejectedRecords,
                    records: f.rejected,
                    detail: format!("{} of {} records rejected", f.rejected, f.records),
                });
            }
        }
        c.conflicting_duplicates = self.manifest.conflicting();
        c.conflicts = self
            .manifest
            .conflicting_duplicates
            .iter()
            .map(|d| ConflictingDuplicate {
                event_id: d.event_id.clone(),
                account: d.account.clone(),
                kept_file: d.kept_file.clone(),
                kept_record: d.kept_record,
                other_file: d.other_file.clone(),
                other_record: d.other_record,
                fields: d.fields.clone(),
            })
            .collect();
        for link in self.ingest.iter().flat_map(|r| &r.skipped_links) {
            c.problems.push(EvidenceProblem {
                path: link.clone(),
                kind: EvidenceProblemKind::SkippedLink,
                records: 0,
                detail: "symbolic link not followed (--follow-links reads it)".into(),
            });
        }
        c
    }

    /// Valid records a filtered scan left out as not matching its filter (0 for a full ingest
    /// or a case file).
    pub fn not_matching(&self) -> u64 {
        self.ingest.as_ref().map_or(0, IngestReport::not_matching)
    }

    /// True when a file could not be read or a record was rejected (when the case was made,
    /// for a case file): the exit status must say so.
    pub fn has_problems(&self) -> bool {
        // A case file's payload block found damaged on first read (the store says which).
        if let Some(damage) = self.store.damage() {
            if !self.damage_told.swap(true, std::sync::atomic::Ordering::Relaxed) {
                eprintln!("trailscope: warning: {damage}");
            }
            return true;
        }
        // No event at all is never a clean result: nothing was examined. (A filtered scan that
        // stored none examined every record.)
        self.store.is_empty() && self.not_matching() == 0
            || match &self.ingest {
                Some(r) => r.has_problems(),
                None => self.manifest.has_problems(),
            }
    }
}

/// The case files among the inputs: all of them when every input is a case file, none when
/// none is. A case file mixed with logs is refused: each case is its own store.
pub fn case_inputs(paths: &[PathBuf]) -> anyhow::Result<Vec<&Path>> {
    let mut cases = Vec::new();
    for p in paths {
        if is_case_file(p).with_context(|| format!("reading {}", p.display()))? {
            cases.push(p.as_path());
        }
    }
    if let Some(one) = cases.first().filter(|_| cases.len() < paths.len()) {
        bail!(
            "{} is a case file: give it alone (a case file cannot be combined with other evidence; \
             ingest the logs again with --save to make one case of them all)",
            one.display()
        );
    }
    Ok(cases)
}

/// The one case file among the inputs, if they are a case file. Several case files are refused
/// here: only `hunt` runs over several cases, one after another.
pub fn case_input(paths: &[PathBuf]) -> anyhow::Result<Option<&Path>> {
    match case_inputs(paths)?.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one)),
        many => bail!(
            "{} case files given ({}): give one case file at a time (only `hunt` runs over several cases)",
            many.len(),
            many.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// Open a case file: its store, with a payload block cache of `cache_bytes`, and the manifest
/// saved in it.
pub fn open_case(path: &Path, cache_bytes: u64) -> anyhow::Result<Evidence> {
    let started = Instant::now();
    let case = CaseFile::open(path)?;
    case.store.limit_payload_cache(usize::try_from(cache_bytes).unwrap_or(usize::MAX));
    let manifest = Manifest::from_json(&case.manifest)
        .with_context(|| format!("{}: the evidence manifest saved in the case file is unreadable", path.display()))?;
    let opened =
        OpenedCase { path: path.to_owned(), size: case.size, version: case.version, elapsed: started.elapsed() };
    Ok(Evidence { store: case.store, ingest: None, manifest, case: Some(opened), damage_told: Default::default() })
}

/// Ingest the inputs, or open the case file given instead. The progress bar shows on a
/// terminal only, and never with `--quiet`.
pub fn load(input: &InputArgs) -> anyhow::Result<Evidence> {
    load_scan(input, None)
}

/// As [`load`], storing from a raw dump only the records `gate` admits (a filtered scan for
/// `events` and `query`: the rest are counted as not matching). A case file is opened whole.
pub fn load_scan(input: &InputArgs, gate: Option<Gate>) -> anyhow::Result<Evidence> {
    let evidence = match case_input(&input.paths)? {
        Some(case) => open_case(case, input.case_cache)?,
        None => {
            let mut opts = ingest_options(input, false);
            opts.gate = gate.map(|g| Arc::new(FilterGate(g)) as Arc<dyn RecordGate>);
            let (store, report) = ingest_with(input, &opts)?;
            let manifest = Manifest::from_report(&report);
            Evidence { store, ingest: Some(report), manifest, case: None, damage_told: Default::default() }
        }
    };
    conflict_notes(&evidence.manifest, None, input.quiet, input.verbose);
    if evidence.store.is_empty() && evidence.not_matching() == 0 {
        // Said even with --quiet: every answer below is about nothing.
        eprintln!(
            "trailscope: no CloudTrail event in the evidence ({} files, none holding a CloudTrail record; \
             `trailscope ingest -v` lists what was read and ignored)",
            evidence.manifest.files.len()
        );
    }
    Ok(evidence)
}

/// A filter's gate, as the ingest takes it.
#[derive(Debug)]
struct FilterGate(Gate);

impl RecordGate for FilterGate {
    fn admits(&self, row: &RowValues<'_>) -> bool {
        self.0.admits(row)
    }
}

/// Ingest the inputs, optionally hashing uncompressed content too (for digest validation).
pub fn load_with(input: &InputArgs, hash_uncompressed: bool) -> anyhow::Result<(Store, IngestReport)> {
    ingest_with(input, &ingest_options(input, hash_uncompressed))
}

fn ingest_with(input: &InputArgs, opts: &IngestOptions) -> anyhow::Result<(Store, IngestReport)> {
    let bar = progress_bar(input);
    let result = {
        let progress = progress_of(bar.as_ref());
        ingest(&input.paths, opts, Some(&progress)).context("ingest failed")
    };
    if let Some(pb) = bar {
        pb.finish_and_clear();
    }
    let (store, report) = result?;
    notes_or_warning(input, &report);
    Ok((store, report))
}

/// The ingest's notes on stderr; with --quiet, still the fact that the evidence was not all read.
pub fn notes_or_warning(input: &InputArgs, report: &IngestReport) {
    if !input.quiet {
        notes(report, input.verbose);
    } else if report.has_problems() {
        // --quiet silences notes, never the fact that the evidence was not all read.
        // A partly read file is not an unreadable one (the report's coverage tells them apart too).
        let partial = report.file_errors().filter(|e| matches!(e.kind, FileErrorKind::Partial { .. })).count();
        eprintln!(
            "trailscope: evidence incomplete: {} files unreadable, {partial} partial, {} records rejected, {} links \
             not followed (the report's evidence coverage names them)",
            report.file_errors().count() - partial,
            report.rejected(),
            report.skipped_links.len()
        );
    }
}

/// The ingest options the arguments ask for.
pub fn ingest_options(input: &InputArgs, hash_uncompressed: bool) -> IngestOptions {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let threads = if input.threads > 4 * cores {
        eprintln!(
            "trailscope: -j {}: more than 4 threads per core only slows reading down; using {}",
            input.threads,
            4 * cores
        );
        4 * cores
    } else {
        input.threads
    };
    IngestOptions {
        threads,
        follow_links: input.follow_links,
        strict: input.strict,
        hash_uncompressed,
        max_file_size: Some(input.max_file_size),
        chunk_limit: input.test_chunk_limit,
        gate: None,
    }
}

/// The progress bar: on a terminal only, and never with `--quiet`.
pub fn progress_bar(input: &InputArgs) -> Option<ProgressBar> {
    (!input.quiet && std::io::stderr().is_terminal()).then(|| {
        let pb = ProgressBar::new(0);
        pb.set_style(
            ProgressStyle::with_template("{bar:32} {pos}/{len} files  {msg}  [{elapsed}, eta {sane_eta}]")
                .expect("static template")
                .with_key("sane_eta", sane_eta),
        );
        pb
    })
}

/// The ingest's progress callback, moving `bar` (if any). The file count is set by the caller
/// when it ingests in batches (each batch says only its own).
pub fn progress_of(bar: Option<&ProgressBar>) -> impl Fn(ProgressEvent<'_>) + Sync + '_ {
    let bytes_done = std::sync::atomic::AtomicU64::new(0);
    move |e: ProgressEvent<'_>| {
        let Some(pb) = bar else { return };
        match e {
            ProgressEvent::Started { files } => {
                if pb.length().unwrap_or(0) == 0 {
                    pb.set_length(files as u64)
                }
            }
            ProgressEvent::File(o) => {
                let b = bytes_done.fetch_add(o.size, std::sync::atomic::Ordering::Relaxed) + o.size;
                pb.inc(1);
                if pb.position().is_multiple_of(64) {
                    pb.set_message(format!("{:.1} MB read", b as f64 / 1e6));
                }
            }
        }
    }
}

/// The time left, once there is enough to go on: indicatif's own estimate starts from the first
/// files' rate (a 2 s job showed "16m"). Before 2 s and 5 % of the files it says so instead; then
/// it extrapolates the average rate so far, which file-size variation barely moves.
fn sane_eta(state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write) {
    let (done, total, elapsed) = (state.pos(), state.len().unwrap_or(0), state.elapsed());
    if total == 0 || done * 20 < total || elapsed < Duration::from_secs(2) {
        let _ = w.write_str("estimating");
        return;
    }
    let left = elapsed.as_secs_f64() * (total - done.min(total)) as f64 / done as f64;
    let _ = write!(w, "{}", indicatif::HumanDuration(Duration::from_secs_f64(left)));
}

/// A spinner on stderr for an analysis phase after ingest (rules, attribution), shown only on a
/// terminal and never with `--quiet`; dropped (cleared) when the phase ends.
pub struct Phase(Option<ProgressBar>);

impl Phase {
    /// Start showing `what`.
    pub fn start(quiet: bool, what: impl Into<String>) -> Phase {
        if quiet || !std::io::stderr().is_terminal() {
            return Phase(None);
        }
        let pb = ProgressBar::new_spinner();
        pb.set_style(ProgressStyle::with_template("{spinner} {msg}  [{elapsed}]").expect("static template"));
        pb.set_message(what.into());
        pb.enable_steady_tick(Duration::from_millis(120));
        Phase(Some(pb))
    }
}

impl Drop for Phase {
    fn drop(&mut self) {
        if let Some(pb) = self.0.take() {
            pb.finish_and_clear();
        }
    }
}

/// Tell the examiner on stderr that two different records came under one event id (from the
/// manifest: of this ingest, or saved in the case file). Said even with --quiet, in one line:
/// it is a sign that the evidence was altered.
/// `case`: the case file's name, when several are examined one after another.
pub fn conflict_notes(manifest: &Manifest, case: Option<&str>, quiet: bool, verbose: bool) {
    conflict_lines(manifest.conflicting(), &manifest.conflicting_duplicates, case, quiet, verbose);
}

/// [`conflict_notes`] from the count and the list.
pub fn conflict_lines(total: u64, listed: &[ManifestConflict], case: Option<&str>, quiet: bool, verbose: bool) {
    if total == 0 {
        return;
    }
    // Event ids, accounts and paths come from the altered evidence itself: cleaned of control
    // characters before they reach a terminal.
    let clean = trailscope_timeline::write::clean;
    let case = case.map(|c| format!("{}: ", clean(c))).unwrap_or_default();
    let (what, them) = if total == 1 {
        ("conflicting duplicate: two different records", "the file holding one of them")
    } else {
        ("conflicting duplicates: two different records", "a file holding one of each pair")
    };
    eprintln!(
        "trailscope: warning: {case}{total} {what} under one event id, so {them} was altered (the first copy in file \
         order is the one examined)"
    );
    if quiet {
        return;
    }
    let shown = if verbose { listed.len() } else { listed.len().min(5) };
    for c in &listed[..shown] {
        eprintln!("trailscope:   {}", clean(&c.to_string()));
    }
    let more = total - shown as u64;
    if more > 0 && shown < listed.len() {
        eprintln!(
            "trailscope:   ... {more} more (-v lists the first {}; the evidence manifest and the report's evidence \
             coverage keep them)",
            listed.len()
        );
    } else if more > 0 {
        eprintln!("trailscope:   ... {more} more, counted but not listed (the first {} are kept)", listed.len());
    }
}

/// Tell the examiner on stderr what could not be read, so it is never lost silently.
pub fn notes(report: &IngestReport, verbose: bool) {
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
    for link in &report.skipped_links {
        eprintln!("trailscope: symbolic link not followed (--follow-links reads it): {link}");
    }
    if report.not_matching() > 0 {
        // A filtered scan: what was read and what of it was kept, so nothing goes unaccounted.
        eprintln!(
            "trailscope: filtered scan: {} records found, {} stored, {} duplicates, {} rejected, {} not matching \
             the filter (not stored; duplicates are looked for among stored records only; --no-prefilter \
             stores every record)",
            report.records(),
            report.stored(),
            report.duplicates(),
            report.rejected(),
            report.not_matching()
        );
    }
    if verbose {
        for f in report.files.iter().filter(|f| f.kind == FileKind::Other) {
            eprintln!("trailscope: ignored (not CloudTrail): {}", f.path);
        }
    }
}
