//! `trailscope summary`: what each principal did, as a table, JSON or CSV.

use trailscope_timeline::{summarize, write};

use crate::args::{InputArgs, OutArgs, SummaryFormat};
use crate::evidence;
use crate::output::{close, Tee};

pub fn run(input: &InputArgs, format: SummaryFormat, out_args: &OutArgs) -> anyhow::Result<crate::Outcome> {
    let evidence = evidence::load(input)?;
    let store = &evidence.store;
    let summaries = summarize(store);
    let name = match format {
        SummaryFormat::Table => "summary.txt",
        SummaryFormat::Json => "summary.json",
        SummaryFormat::Csv => "summary.csv",
    };
    let mut out = Tee::new(out_args.case(), name)?;
    match format {
        SummaryFormat::Table => trailscope_timeline::with_display_zone(out_args.tz.unwrap_or_default(), || {
            write::summary::write_table(&mut out, &summaries)
        })?,
        SummaryFormat::Json => write::summary::write_json(&mut out, &summaries)?,
        SummaryFormat::Csv => write::summary::write_csv(&mut out, &summaries)?,
    }
    close(out, out_args.case(), Some(&evidence.manifest), None)?;
    Ok(super::evidence_outcome(&evidence))
}
