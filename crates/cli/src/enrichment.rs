//! Offline IP enrichment for the commands: the examiner's databases opened once, before any
//! evidence is read (a wrong file should cost nothing), the extra columns of `hunt` and
//! `events`, and the audit log's record of the files used.

use std::sync::Arc;

use anyhow::Context;
use trailscope_enrich::Enricher;
use trailscope_integrity::audit::InputFile;

use crate::args::EnrichArgs;

/// Open the databases named on the command line; `None` when none is.
pub fn open(args: &EnrichArgs) -> anyhow::Result<Option<Arc<Enricher>>> {
    Ok(Enricher::open(&args.sources()).context("offline IP enrichment")?.map(Arc::new))
}

/// Columns appended to `hunt` and `events` CSV when databases are given.
pub const COLUMNS: [&str; 4] = ["country", "asn", "as_org", "cloud"];

/// The [`COLUMNS`] for a source value: empty cells when not public or not in the databases.
pub fn cells(e: &Enricher, source: &str) -> [String; 4] {
    match e.enrich(source) {
        Ok(i) => [
            i.country_code.clone().unwrap_or_default(),
            i.asn.map(|n| n.to_string()).unwrap_or_default(),
            i.as_org.clone().unwrap_or_default(),
            i.cloud().unwrap_or_default(),
        ],
        Err(_) => Default::default(),
    }
}

/// One line for tables: `DE Frankfurt; AS64500 Example; AWS EC2 us-east-1`, or nothing.
pub fn summary(e: &Enricher, source: &str) -> Option<String> {
    e.enrich(source).ok().filter(|i| !i.is_empty()).map(|i| i.to_string())
}

/// The databases as audit-log inputs.
pub fn audit_inputs(e: Option<&Enricher>) -> Vec<InputFile> {
    e.map(|e| e.databases())
        .unwrap_or_default()
        .iter()
        .map(|d| InputFile {
            role: d.kind.flag().trim_start_matches('-').to_owned(),
            path: d.path.clone(),
            size: d.size,
            sha256: d.sha256.clone(),
        })
        .collect()
}
