//! `trailscope analyze`: ingest, run the rules, attribute, print the forensic summary.

use std::io::Write;

use trailscope_timeline::{write, Lineage, Report, ReportOptions};

use crate::args::{InputArgs, ReportFormat, RuleArgs};
use crate::detect::Detectors;
use crate::{evidence, Outcome};

pub fn run(input: &InputArgs, rule_args: &RuleArgs, format: ReportFormat, case_seq: u32) -> anyhow::Result<Outcome> {
    let detectors = Detectors::load(rule_args, input.quiet)?;
    let (store, ingest_report) = evidence::load(input)?;
    let findings = detectors.run(&store);
    let lineage = Lineage::build(&store);
    let report = Report::build(&store, &findings, &lineage, &ReportOptions { case_seq, ..ReportOptions::default() });
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    match format {
        ReportFormat::Text => write::text::write_report(&mut out, &report)?,
        ReportFormat::Json => write::json::write_report(&mut out, &report)?,
    }
    out.flush()?;
    let clean = findings.is_empty() && !ingest_report.has_problems() && detectors.report.errors.is_empty();
    Ok(if clean { Outcome::Clean } else { Outcome::Attention })
}
