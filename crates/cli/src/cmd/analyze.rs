//! `trailscope analyze`: ingest, run the rules, attribute, print the forensic summary.

use trailscope_integrity::{sha256_hex, Manifest};
use trailscope_timeline::{write, Lineage, Report, ReportOptions};

use crate::args::{InputArgs, OutArgs, ReportFormat, RuleArgs};
use crate::detect::Detectors;
use crate::output::{close, Tee};
use crate::{evidence, Outcome};

pub fn run(
    input: &InputArgs,
    rule_args: &RuleArgs,
    format: ReportFormat,
    case_seq: u32,
    out_args: &OutArgs,
) -> anyhow::Result<Outcome> {
    let detectors = Detectors::load(rule_args, input.quiet)?;
    let (store, ingest_report) = evidence::load(input)?;
    let findings = detectors.run(&store);
    let lineage = Lineage::build(&store);
    let mut report =
        Report::build(&store, &findings, &lineage, &ReportOptions { case_seq, ..ReportOptions::default() });
    // The report names the exact evidence it describes: the manifest's hash (the same bytes
    // `--out` writes as manifest.json).
    report.evidence_files = ingest_report.files.len();
    report.manifest_sha256 = Some(sha256_hex(&Manifest::from_report(&ingest_report).to_json()));
    let name = match format {
        ReportFormat::Text => "report.txt",
        ReportFormat::Json => "report.json",
        ReportFormat::Markdown => "report.md",
    };
    let mut out = Tee::new(out_args.out.as_deref(), name)?;
    match format {
        ReportFormat::Text => write::text::write_report(&mut out, &report)?,
        ReportFormat::Json => write::json::write_report(&mut out, &report)?,
        ReportFormat::Markdown => write::markdown::write_report(&mut out, &report)?,
    }
    close(out, out_args.out.as_deref(), Some(&ingest_report), Some(detectors.rule_set_sha256.clone()))?;
    Ok(detectors.outcome(&findings, &ingest_report))
}
