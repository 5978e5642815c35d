//! The timeline as CSV in Timeline Explorer's conventions: one row per timeline entry,
//! `datetime` first, ISO 8601 UTC. The attacker's events (the report's `timeline`, a row each)
//! and the events to review (`suspicious_timeline`, a row per kind of event and day: `events`
//! counts them) are written in one time order; the `actor` and `verdict` columns tell them apart.

use std::collections::HashMap;
use std::io::{self, Write};

use super::{clean, csv_cell};
use trailscope_enrich::IpInfo;

use crate::actors::is_denial;
use crate::{Report, TimelineEntry};

/// CSV columns, in order.
pub const COLUMNS: [&str; 22] = [
    "datetime",
    "actor",
    "verdict",
    "source_ip",
    "user_agent_class",
    "action",
    "outcome",
    "resource",
    "rules",
    "attack",
    "event_id",
    "account",
    "region",
    "principal",
    "access_key",
    // Events the row stands for (1 for each attacker event), and the last of them.
    "events",
    "last_datetime",
    "last_event_id",
    // Enrichment of source_ip (empty without --geoip/--asn/--aws-ranges, or when unknown).
    "country",
    "asn",
    "as_org",
    "cloud",
];

/// `ok`, `denied`, or `failed:<errorCode>`.
pub(crate) fn outcome(e: &TimelineEntry) -> String {
    match &e.error {
        None => "ok".into(),
        Some(c) if is_denial(c) => "denied".into(),
        Some(c) => format!("failed:{c}"),
    }
}

/// One timeline entry with its actor and resource looked up: the cells of [`COLUMNS`], raw.
pub(crate) fn rows(report: &Report) -> Vec<[String; 22]> {
    let actors: HashMap<usize, _> = report.actors.iter().map(|a| (a.id, a)).collect();
    // Only persistence and evasion calls carry a target in the model; other rows stay empty.
    let targets: HashMap<&str, &str> = report
        .persistence
        .iter()
        .chain(&report.defense_evasion)
        .filter(|c| !c.target.is_empty())
        .map(|c| (c.event_id.as_str(), c.target.as_str()))
        .collect();
    report
        .timeline
        .merged(&report.suspicious_timeline)
        .into_iter()
        .map(|e| {
            let actor = actors.get(&e.actor);
            let info = report.enrichment.of(&e.source_ip);
            let known = |f: fn(&IpInfo) -> Option<String>| info.and_then(f).unwrap_or_default();
            [
                e.time.to_string(),
                e.actor.to_string(),
                actor.map(|a| a.verdict.label()).unwrap_or_default().to_owned(),
                e.source_ip.clone(),
                actor.map(|a| a.tool.label()).unwrap_or_default().to_owned(),
                e.action.clone(),
                outcome(e),
                targets.get(e.event_id.as_str()).copied().unwrap_or_default().to_owned(),
                e.findings.join(";"),
                e.techniques.join(";"),
                e.event_id.clone(),
                e.account.clone(),
                e.region.clone(),
                e.principal.clone(),
                e.access_key.clone().unwrap_or_default(),
                e.events.to_string(),
                e.last_time.map(|t| t.to_string()).unwrap_or_default(),
                e.last_event_id.clone().unwrap_or_default(),
                known(|i| i.country_code.clone()),
                known(|i| i.asn.map(|n| n.to_string())),
                known(|i| i.as_org.clone()),
                known(IpInfo::cloud),
            ]
        })
        .collect()
}

/// Write the timeline as CSV with a header. Every cell is formula-neutralised (the
/// leading character decides, so a leading tab is still quoted) and then stripped of control
/// characters, since the file is as often `cat`-ed as opened in a spreadsheet.
///
/// # Errors
/// I/O errors from `out`.
pub fn write_timeline<W: Write>(out: &mut W, report: &Report) -> io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(COLUMNS)?;
    for row in rows(report) {
        w.write_record(row.iter().map(|c| clean(&csv_cell(c)).into_owned()))?;
    }
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Lineage, ReportOptions, Time};
    use serde_json::json;
    use trailscope_testkit::{store, with};

    #[test]
    fn hostile_cells_cannot_start_a_formula_or_carry_escapes() {
        let rec = with(1, 0, &json!({"userAgent": "aws-cli/2.0 \u{1b}[31mred\u{1b}[0m", "awsRegion": "@SUM(A1)"}));
        let s = store(&[rec]);
        let mut report = Report::build(&s, &[], &Lineage::build(&s), &ReportOptions::default());
        let mut entry = TimelineEntry::new(&s, 0, 1, vec!["+cmd".into()], vec!["T1098.003".into()]);
        entry.principal = "=HYPERLINK(\"http://x\",\"y\")".into();
        entry.source_ip = "\t198.51.100.10".into();
        entry.access_key = Some("-2+3".into());
        entry.error = Some("\u{1b}[2JThrottling".into());
        report.timeline.entries = vec![entry];
        let mut buf = Vec::new();
        write_timeline(&mut buf, &report).unwrap();
        let text = String::from_utf8(buf).unwrap();
        assert!(!text.chars().any(|c| c.is_control() && c != '\n'), "{text:?}");
        let mut r = csv::Reader::from_reader(text.as_bytes());
        assert_eq!(r.headers().unwrap().iter().collect::<Vec<_>>(), COLUMNS);
        let row = r.records().next().unwrap().unwrap();
        assert_eq!(&row[0], Time(s.times()[0]).to_string());
        for cell in row.iter() {
            assert!(!matches!(cell.as_bytes().first(), Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')), "{cell:?}");
        }
        assert_eq!(&row[13], "'=HYPERLINK(\"http://x\",\"y\")");
        assert_eq!(&row[8], "'+cmd");
        assert_eq!(&row[12], "'@SUM(A1)");
        assert_eq!(&row[3], "'?198.51.100.10");
        assert_eq!(&row[14], "'-2+3");
        assert_eq!(&row[6], "failed:?[2JThrottling");
        assert_eq!(&row[9], "T1098.003");
    }
}
