//! `trailscope events`: list events with filters, as a table, JSON Lines or CSV.

use std::io::Write;

use trailscope_store::{chrono_free_iso, Field, Store};
use trailscope_timeline::timeline::{action_name, principal_name};

use trailscope_timeline::write::{clean, csv_cell};

use crate::args::{EnrichArgs, EventFormat, FilterArgs, InputArgs, OutArgs, RuleArgs};
use crate::detect::Detectors;
use crate::output::{close_with_inputs, Tee};
use crate::{enrichment, evidence, filter};

const COLUMNS: [&str; 10] =
    ["time", "account", "region", "principal", "access_key", "source_ip", "action", "error", "user_agent", "event_id"];

fn row_values(store: &Store, row: usize) -> [String; 10] {
    let e = store.event(row);
    let s = |f: Field| e.str(f).unwrap_or("").to_owned();
    [
        chrono_free_iso(e.time_ms()),
        e.str(Field::RecipientAccount).or(e.str(Field::IdentityAccount)).unwrap_or("").to_owned(),
        s(Field::AwsRegion),
        principal_name(store, row),
        s(Field::AccessKeyId),
        s(Field::SourceIp),
        action_name(store, row),
        s(Field::ErrorCode),
        s(Field::UserAgent),
        s(Field::EventId),
    ]
}

#[allow(clippy::too_many_arguments)] // one per events option group, parsed once by clap
pub fn run(
    input: &InputArgs,
    f: &FilterArgs,
    rule_args: &RuleArgs,
    format: EventFormat,
    limit: Option<usize>,
    prefilter: bool,
    enrich: &EnrichArgs,
    out_args: &OutArgs,
) -> anyhow::Result<crate::Outcome> {
    filter::bounds(&f.window)?;
    let enricher = enrichment::open(enrich)?;
    if rule_args.rule.is_empty() && (!rule_args.rules.is_empty() || !rule_args.ioc.is_empty()) {
        anyhow::bail!("--rules and --ioc only serve --rule here: name the rule whose events you want");
    }
    let detectors = (!rule_args.rule.is_empty()).then(|| Detectors::load_for(rule_args, input)).transpose()?;
    // A filtered scan of a raw dump stores only records the filters may match; not when a
    // rule needs every event, nor into a case directory (its manifest counts what was stored).
    let gate = if prefilter && detectors.is_none() && out_args.out.is_none() { filter::gate(f)? } else { None };
    let evidence = evidence::load_scan(input, gate)?;
    let store = &evidence.store;
    let mut rows = filter::select(store, f)?;
    if let Some(d) = &detectors {
        // The pivot from a rule to its evidence: the events behind its findings.
        let mut behind = vec![false; store.len()];
        for finding in d.run(store) {
            for &r in &finding.rows {
                behind[r as usize] = true;
            }
        }
        rows.retain(|&r| behind[r]);
    }
    if rows.is_empty() && !input.quiet {
        eprintln!("trailscope: 0 events matched");
    }
    let rows = &rows[..rows.len().min(limit.unwrap_or(usize::MAX))];
    let name = match format {
        EventFormat::Table => "events.txt",
        EventFormat::Csv => "events.csv",
        EventFormat::Jsonl => "events.jsonl",
    };
    let mut out = Tee::new(out_args.case(), name)?;
    match format {
        // The record as rebuilt from the store, as the trail wrote it: enrichment is not mixed in.
        EventFormat::Jsonl => {
            for &r in rows {
                serde_json::to_writer(&mut out, &store.event(r).to_json())?;
                out.write_all(b"\n")?;
            }
        }
        EventFormat::Csv => {
            let mut w = csv::Writer::from_writer(&mut out);
            let extra: &[&str] = if enricher.is_some() { &enrichment::COLUMNS } else { &[] };
            w.write_record(COLUMNS.iter().chain(extra))?;
            for &r in rows {
                let v = row_values(store, r);
                let place = enricher.as_deref().map(|e| enrichment::cells(e, &v[5])).into_iter().flatten();
                w.write_record(v.iter().cloned().chain(place).map(|c| csv_cell(&c).into_owned()))?;
            }
            w.flush()?;
        }
        EventFormat::Table => {
            // The user agent and event id make lines too long for a terminal; CSV has them.
            let tw = out_args.tz.unwrap_or_default().format(0).len();
            writeln!(
                out,
                "{:<tw$} {:<12} {:<14} {:<20} {:<16} {:<36} {:<22} PRINCIPAL",
                "TIME", "ACCOUNT", "REGION", "ACCESS_KEY", "SOURCE_IP", "ACTION", "ERROR"
            )?;
            for &r in rows {
                // Evidence values reach a terminal: escape sequences planted in them are disarmed.
                let mut v = row_values(store, r).map(|v| clean(&v).into_owned());
                v[0] = out_args.tz.unwrap_or_default().format(store.times()[r]);
                let at = enricher.as_deref().and_then(|e| enrichment::summary(e, &v[5]));
                let tw = out_args.tz.unwrap_or_default().format(0).len();
                writeln!(
                    out,
                    "{:<tw$} {:<12} {:<14} {:<20} {:<16} {:<36} {:<22} {}{}",
                    v[0],
                    v[1],
                    v[2],
                    v[4],
                    v[5],
                    v[6],
                    v[7],
                    v[3],
                    at.map(|a| format!("  [{}]", clean(&a))).unwrap_or_default()
                )?;
            }
        }
    }
    close_with_inputs(
        out,
        out_args.case(),
        Some(&evidence.manifest),
        None,
        enrichment::audit_inputs(enricher.as_deref()),
    )?;
    Ok(super::evidence_outcome(&evidence))
}
