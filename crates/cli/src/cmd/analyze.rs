//! `trailscope analyze`: ingest, run the rules, attribute, print the forensic summary.

use anyhow::Context;
use clap::ValueEnum;
use trailscope_indicators::baseline::learning_end;
use trailscope_indicators::sigma::parse_duration;
use trailscope_integrity::sha256_hex;
use trailscope_store::Store;
use trailscope_timeline::{with_display_zone, write, ActorOptions, DisplayZone, Lineage, Report, ReportOptions, Trust};

use crate::args::{AnalyzeFormat, AttributionArgs, EnrichArgs, InputArgs, OutArgs, RuleArgs, WindowArgs};
use crate::detect::Detectors;
use crate::output::{close_with_inputs, record_with_inputs, Tee};
use crate::{enrichment, evidence, Outcome};

#[allow(clippy::too_many_arguments)] // one per analyze option group, parsed once by clap
pub fn run(
    input: &InputArgs,
    rule_args: &RuleArgs,
    window: &WindowArgs,
    formats: &[AnalyzeFormat],
    case_seq: u32,
    attribution: &AttributionArgs,
    enrich: &EnrichArgs,
    out_args: &OutArgs,
) -> anyhow::Result<Outcome> {
    let formats = distinct(formats);
    // Checked before any evidence is read: a usage error should cost nothing.
    if formats.len() != 1 && out_args.out.is_none() {
        anyhow::bail!(
            "several formats ({}) need --out DIR: each is written to its own file there",
            formats
                .iter()
                .filter_map(|f| f.to_possible_value())
                .map(|v| v.get_name().to_owned())
                .collect::<Vec<_>>()
                .join(",")
        );
    }
    let mut actors = actor_options(attribution)?;
    actors.enricher = enrichment::open(enrich)?;
    let inputs = enrichment::audit_inputs(actors.enricher.as_deref());
    crate::filter::bounds(window)?;
    let detectors = Detectors::load_for(rule_args, input)?;
    let evidence = evidence::load(input)?;
    let store = &evidence.store;
    let phase = evidence::Phase::start(
        input.quiet,
        format!("detecting: {} rules, IOCs and baselines over {} events", detectors.rules.rules.len(), store.len()),
    );
    let mut findings = detectors.run(store);
    drop(phase);
    let phase = evidence::Phase::start(input.quiet, "attributing: lineage, actors, report");
    crate::filter::findings_in_window(store, &mut findings, window)?;
    let lineage = Lineage::build(store);
    // With --baseline the window is the earlier dump; otherwise the evidence's first part.
    let (baseline_window, baseline_source) = match (&detectors.baseline, &detectors.history) {
        (Some(_), Some(h)) => (Some(h.span()), Some(h.source.clone())),
        (Some(b), None) => (store.times().first().and_then(|&from| Some((from, learning_end(store, b)?))), None),
        (None, _) => (None, None),
    };
    let opts = ReportOptions { case_seq, actors, baseline_window, baseline_source, ..ReportOptions::default() };
    let mut report = Report::build(store, &findings, &lineage, &opts);
    drop(phase);
    // The report names the exact evidence it describes: the manifest's hash (the same bytes
    // `--out` writes as manifest.json).
    report.evidence_files = evidence.manifest.files.len();
    report.manifest_sha256 = Some(sha256_hex(&evidence.manifest.to_json()));
    report.evidence_coverage = evidence.coverage();
    let (case, manifest, rule_set) = (out_args.case(), Some(&evidence.manifest), detectors.rule_set_sha256.clone());
    match (formats.as_slice(), case) {
        ([one], _) => {
            let mut out = Tee::new(case, one.file_name())?;
            write_one(&mut out, *one, &report, store, out_args.tz.unwrap_or_default())?;
            close_with_inputs(out, case, manifest, Some(rule_set), inputs)?;
        }
        (several, Some(dir)) => {
            // One audit entry lists every file of the run.
            let mut written = Vec::new();
            for &f in several {
                let mut out = Tee::file_only(dir, f.file_name())?;
                write_one(&mut out, f, &report, store, out_args.tz.unwrap_or_default())?;
                written.extend(out.finish()?);
            }
            record_with_inputs(case, manifest, Some(rule_set), inputs, written)?;
        }
        (_, None) => unreachable!("checked above"),
    }
    Ok(detectors.outcome(&findings, &evidence))
}

/// The formats in the order given, each once.
fn distinct(formats: &[AnalyzeFormat]) -> Vec<AnalyzeFormat> {
    let mut seen = Vec::new();
    for &f in formats {
        if !seen.contains(&f) {
            seen.push(f);
        }
    }
    seen
}

/// Write one format; the HTML page also embeds raw records, rebuilt from the store.
fn write_one(
    out: &mut Tee,
    format: AnalyzeFormat,
    report: &Report,
    store: &Store,
    zone: DisplayZone,
) -> std::io::Result<()> {
    // Human-readable forms in the reader's zone; machine formats stay UTC.
    let human = |f: &mut dyn FnMut() -> std::io::Result<()>| with_display_zone(zone, f);
    match format {
        AnalyzeFormat::Text => human(&mut || write::text::write_report(out, report)),
        AnalyzeFormat::Json => write::json::write_report(out, report),
        AnalyzeFormat::Markdown => human(&mut || write::markdown::write_report(out, report)),
        AnalyzeFormat::Csv => write::timeline_csv::write_timeline(out, report),
        AnalyzeFormat::Jsonl => write::timesketch::write_timeline(out, report),
        AnalyzeFormat::Navigator => write::navigator::write_layer(out, report),
        AnalyzeFormat::Html => human(&mut || write::html::write_report(out, report, store)),
    }
}

/// Attribution options from the command line, checked before any evidence is read.
fn actor_options(args: &AttributionArgs) -> anyhow::Result<ActorOptions> {
    let trust = args
        .trust
        .iter()
        .map(|t| Trust::parse(t).map_err(|e| anyhow::anyhow!("--trust {e}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let session_gap_ms = parse_duration(&args.session_gap)
        .with_context(|| format!("--session-gap: not a duration: {:?} (use e.g. 30m or 2h)", args.session_gap))?;
    Ok(ActorOptions { session_gap_ms, trust, enricher: None })
}
