//! `trailscope query`: the query language (crate trailscope-query) over a dump or a saved case.

use std::io::Write;

use anyhow::anyhow;
use serde_json::Value;
use trailscope_ingest::parse_event_time;
use trailscope_query::{answer, field_value, parse, select, Aggregation, Answer, Table};
use trailscope_store::Store;
use trailscope_timeline::write::{clean, csv_cell};
use trailscope_timeline::DisplayZone;

use crate::args::{EventFormat, InputArgs, OutArgs, QueryArgs};
use crate::evidence;
use crate::output::{close, Tee};

/// Longest cell of the table format; CSV and JSONL carry whole values.
const MAX_CELL: usize = 100;

pub fn run(
    input: &InputArgs,
    expression: &str,
    q: &QueryArgs,
    explain: bool,
    prefilter: bool,
    format: EventFormat,
    out_args: &OutArgs,
) -> anyhow::Result<crate::Outcome> {
    // The query is checked before any evidence is read: a typo costs nothing.
    let expr = parse(expression).map_err(|e| match e.caret(expression) {
        Some(caret) => anyhow!("{e}\n{caret}"),
        None => anyhow!("{e}"),
    })?;
    let agg = Aggregation {
        count: q.count,
        group_by: q.group_by.clone(),
        top: q.top,
        distinct: q.distinct.clone(),
        sum: q.sum.clone(),
        bucket: q.bucket.clone(),
        fields: q.fields.clone(),
    };
    // Options are checked on an empty store first, for the same reason.
    let empty = trailscope_store::StoreBuilder::new().finish();
    answer(&empty, &select(&empty, &expr), &agg)?;
    // Every answer (listing, counts, groups, buckets, distinct values, sums) is computed over
    // the matching events alone, so a raw dump's records that surely cannot match need not be
    // stored. Not with --explain (it describes the compiled query against all the evidence),
    // nor into a case directory (its manifest counts what was stored).
    let gate =
        if prefilter && !explain && out_args.out.is_none() { trailscope_indicators::Gate::of(&expr) } else { None };
    let evidence = evidence::load_scan(input, gate)?;
    let store = &evidence.store;
    if explain {
        eprintln!("{}", trailscope_indicators::Predicate::compile(&expr, store).explain(store));
    }
    let result = answer(store, &select(store, &expr), &agg)?;
    if matches!(&result, Answer::Events { rows, .. } if rows.is_empty()) && !input.quiet {
        eprintln!("trailscope: 0 events matched");
    }
    let name = match format {
        EventFormat::Table => "query.txt",
        EventFormat::Csv => "query.csv",
        EventFormat::Jsonl => "query.jsonl",
    };
    let zone = out_args.tz.unwrap_or_default();
    let mut out = Tee::new(out_args.case(), name)?;
    match result {
        // Without --fields, JSON Lines are the records themselves, as `events` writes them.
        Answer::Events { rows, .. } if format == EventFormat::Jsonl && q.fields.is_empty() => {
            for r in rows {
                serde_json::to_writer(&mut out, &store.event(r).to_json())?;
                out.write_all(b"\n")?;
            }
        }
        Answer::Events { rows, fields } => write_table(&mut out, format, &listing(store, &rows, fields), zone)?,
        Answer::Table(t) => write_table(&mut out, format, &t, zone)?,
    }
    close(out, out_args.case(), Some(&evidence.manifest), None)?;
    Ok(super::evidence_outcome(&evidence))
}

/// The listed events as a table of the chosen paths.
fn listing(store: &Store, rows: &[usize], fields: Vec<String>) -> Table {
    let rows = rows
        .iter()
        .map(|&r| {
            let f = store.event(r).fields();
            fields.iter().map(|p| field_value(store, r, &f, p)).collect()
        })
        .collect();
    Table { columns: fields, rows }
}

/// A cell as text: strings as they are, absent as empty, anything else as JSON.
fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A cell of a time column (`eventTime`, `--bucket`, a group's first and last seen) in the display zone; other cells as they are.
/// Only the table is for people: CSV and JSON Lines stay UTC, like every machine format.
fn shown(v: &Value, time_column: bool, zone: DisplayZone) -> String {
    match v {
        Value::String(s) if time_column => parse_event_time(s).map_or_else(|| s.clone(), |ms| zone.format(ms)),
        v => text(v),
    }
}

fn write_table(out: &mut Tee, format: EventFormat, t: &Table, zone: DisplayZone) -> anyhow::Result<()> {
    match format {
        EventFormat::Jsonl => {
            for row in &t.rows {
                let obj: serde_json::Map<String, Value> = t.columns.iter().cloned().zip(row.iter().cloned()).collect();
                serde_json::to_writer(&mut *out, &Value::Object(obj))?;
                out.write_all(b"\n")?;
            }
        }
        EventFormat::Csv => {
            let mut w = csv::Writer::from_writer(&mut *out);
            w.write_record(&t.columns)?;
            for row in &t.rows {
                // Evidence text opened in a spreadsheet must not run as a formula.
                w.write_record(row.iter().map(|v| csv_cell(&text(v)).into_owned()))?;
            }
            w.flush()?;
        }
        EventFormat::Table => {
            // Evidence values reach a terminal: control characters (escape sequences) disarmed.
            let time_columns: Vec<bool> = t
                .columns
                .iter()
                .map(|c| matches!(c.as_str(), "eventTime" | "bucket" | "first_seen" | "last_seen"))
                .collect();
            let cells: Vec<Vec<String>> = t
                .rows
                .iter()
                .map(|row| {
                    row.iter()
                        .zip(&time_columns)
                        .map(|(v, &time_column)| {
                            let s = clean(&shown(v, time_column, zone)).into_owned();
                            let s = if s.is_empty() { "-".to_owned() } else { s };
                            if s.chars().count() > MAX_CELL {
                                format!("{}…", s.chars().take(MAX_CELL - 1).collect::<String>())
                            } else {
                                s
                            }
                        })
                        .collect()
                })
                .collect();
            let header: Vec<String> = t.columns.iter().map(|c| clean(c).to_uppercase()).collect();
            let widths: Vec<usize> = (0..header.len())
                .map(|i| {
                    cells.iter().map(|r| r[i].chars().count()).chain([header[i].chars().count()]).max().unwrap_or(0)
                })
                .collect();
            let line = |cols: &[String]| {
                let mut l = String::new();
                for (i, c) in cols.iter().enumerate() {
                    if i + 1 == cols.len() {
                        l.push_str(c);
                    } else {
                        l.push_str(&format!("{c:<w$}  ", w = widths[i]));
                    }
                }
                l.trim_end().to_owned()
            };
            writeln!(out, "{}", line(&header))?;
            for row in &cells {
                writeln!(out, "{}", line(row))?;
            }
        }
    }
    Ok(())
}
