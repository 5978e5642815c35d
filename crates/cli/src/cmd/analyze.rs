//! `trailscope analyze`: ingest, run the rules, attribute, print the forensic summary.

use std::io::Write;

use trailscope_indicators::RuleSet;
use trailscope_timeline::{write, Lineage, Report, ReportOptions};

use crate::args::{InputArgs, ReportFormat};
use crate::{evidence, Outcome};

pub fn run(input: &InputArgs, format: ReportFormat, case_seq: u32) -> anyhow::Result<Outcome> {
    let (store, ingest_report) = evidence::load(input)?;
    let rules = RuleSet::builtin();
    let findings = rules.run(&store);
    let lineage = Lineage::build(&store);
    let report = Report::build(&store, &findings, &lineage, &ReportOptions { case_seq, ..ReportOptions::default() });
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    match format {
        ReportFormat::Text => write::text::write_report(&mut out, &report)?,
        ReportFormat::Json => write::json::write_report(&mut out, &report)?,
    }
    out.flush()?;
    let clean = findings.is_empty() && !ingest_report.has_problems();
    Ok(if clean { Outcome::Clean } else { Outcome::Attention })
}
