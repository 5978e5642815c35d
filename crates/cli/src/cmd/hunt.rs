//! `trailscope hunt`: findings of the rules, IOCs and baselines, one line each.

use std::io::Write;

use serde_json::json;
use trailscope_indicators::{Finding, Severity};
use trailscope_store::{chrono_free_iso, Field, Store};
use trailscope_timeline::timeline::principal_name;

use crate::args::{EnrichArgs, EventFormat, InputArgs, Level, OutArgs, RuleArgs};
use crate::detect::Detectors;
use crate::output::{close_with_inputs, Tee};
use crate::{enrichment, evidence, Outcome};

pub fn severity_of(l: Level) -> Severity {
    match l {
        Level::Informational => Severity::Informational,
        Level::Low => Severity::Low,
        Level::Medium => Severity::Medium,
        Level::High => Severity::High,
        Level::Critical => Severity::Critical,
    }
}

const COLUMNS: [&str; 12] = [
    "time",
    "severity",
    "rule",
    "title",
    "principal",
    "access_key",
    "source_ip",
    "event_name",
    "event_id",
    "events",
    "group",
    "attempt",
];

/// The last column, `attempt`, holds the error code when every event of the finding failed.
fn columns(store: &Store, f: &Finding) -> [String; 12] {
    let row = f.first_row();
    let e = store.event(row);
    let s = |x: Field| e.str(x).unwrap_or("").to_owned();
    [
        chrono_free_iso(e.time_ms()),
        f.rule.severity.name().to_owned(),
        f.rule.id.clone(),
        f.rule.title.clone(),
        principal_name(store, row),
        s(Field::AccessKeyId),
        s(Field::SourceIp),
        s(Field::EventName),
        s(Field::EventId),
        f.rows.len().to_string(),
        f.group.clone().unwrap_or_default(),
        f.attempt(store).unwrap_or("").to_owned(),
    ]
}

pub fn run(
    input: &InputArgs,
    rule_args: &RuleArgs,
    min: Level,
    explain: bool,
    format: EventFormat,
    enrich: &EnrichArgs,
    out_args: &OutArgs,
) -> anyhow::Result<Outcome> {
    let enricher = enrichment::open(enrich)?;
    // With databases, each line also says where its source IP is (columns at the end).
    let place = |ip: &str| enricher.as_deref().map(|e| enrichment::cells(e, ip)).into_iter().flatten();
    let detectors = Detectors::load_for(rule_args, input)?;
    let evidence = evidence::load(input)?;
    let store = &evidence.store;
    if explain {
        for line in detectors.rules.explain(store) {
            eprintln!("{line}");
        }
    }
    let min = severity_of(min);
    let findings: Vec<Finding> = detectors.run(store).into_iter().filter(|f| f.rule.severity >= min).collect();
    let name = match format {
        EventFormat::Table => "findings.txt",
        EventFormat::Csv => "findings.csv",
        EventFormat::Jsonl => "findings.jsonl",
    };
    let mut out = Tee::new(out_args.out.as_deref(), name)?;
    match format {
        EventFormat::Table => {
            writeln!(
                out,
                "{:<20} {:<13} {:<36} {:<16} {:<20} {:<32} PRINCIPAL",
                "TIME", "SEVERITY", "RULE", "SOURCE_IP", "ACCESS_KEY", "EVENT"
            )?;
            for f in &findings {
                let c = columns(store, f);
                let mut more =
                    if f.rows.len() > 1 { format!(" (+{} events)", f.rows.len() - 1) } else { String::new() };
                if !c[11].is_empty() {
                    more += &format!(" [attempt, failed: {}]", c[11]);
                }
                let at = enricher.as_deref().and_then(|e| enrichment::summary(e, &c[6]));
                writeln!(
                    out,
                    "{:<20} {:<13} {:<36} {:<16} {:<20} {:<32} {}{}",
                    c[0],
                    c[1],
                    c[2],
                    c[6],
                    c[5],
                    format!("{}{more}", c[7]),
                    c[4],
                    at.map(|a| format!("  [{a}]")).unwrap_or_default()
                )?;
            }
        }
        EventFormat::Csv => {
            let mut w = csv::Writer::from_writer(&mut out);
            let extra: &[&str] = if enricher.is_some() { &enrichment::COLUMNS } else { &[] };
            w.write_record(COLUMNS.iter().chain(extra))?;
            for f in &findings {
                let c = columns(store, f);
                let more: Vec<String> = place(&c[6]).collect();
                w.write_record(c.iter().chain(&more))?;
            }
            w.flush()?;
        }
        EventFormat::Jsonl => {
            for f in &findings {
                let c = columns(store, f);
                let ids: Vec<&str> =
                    f.rows.iter().filter_map(|&r| store.event(r as usize).str(Field::EventId)).collect();
                let mut v = json!({
                    "time": c[0], "severity": c[1], "rule": c[2], "title": c[3], "tactics": f.rule.tactics,
                    "techniques": f.rule.techniques, "principal": c[4], "access_key": c[5], "source_ip": c[6],
                    "event_name": c[7], "event_ids": ids, "group": f.group, "rule_source": f.rule.source,
                    "attempt": f.attempt(store),
                });
                for (k, cell) in enrichment::COLUMNS.iter().zip(place(&c[6])) {
                    v[*k] = cell.into();
                }
                serde_json::to_writer(&mut out, &v)?;
                out.write_all(b"\n")?;
            }
        }
    }
    close_with_inputs(
        out,
        out_args.out.as_deref(),
        Some(&evidence.manifest),
        Some(detectors.rule_set_sha256.clone()),
        enrichment::audit_inputs(enricher.as_deref()),
    )?;
    Ok(detectors.outcome(&findings, &evidence))
}
