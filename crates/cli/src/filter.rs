//! Event filters from the command line, compiled through the indicator engine.

use anyhow::{bail, Context};
use trailscope_indicators::{and, contains, eq, null, or, Expr, Gate, Predicate, StrMatch, Test};
use trailscope_ingest::parse_event_time;
use trailscope_store::{Selection, Store};

use trailscope_indicators::Finding;

use crate::args::{FilterArgs, WindowArgs};

/// Parse `--from`/`--to`: a full time, or a date (start of day for `from`, end for `to`).
pub fn parse_bound(s: &str, end_of_day: bool) -> anyhow::Result<i64> {
    if let Some(t) = parse_event_time(s) {
        return Ok(t);
    }
    let suffix = if end_of_day { "T23:59:59.999Z" } else { "T00:00:00Z" };
    parse_event_time(&format!("{s}{suffix}")).with_context(|| format!("not an ISO 8601 time or date: {s:?}"))
}

fn any_of(path: &str, values: &[String], m: impl Fn(String) -> StrMatch) -> Expr {
    Expr::Field { path: path.into(), test: Test::Str(values.iter().cloned().map(m).collect()) }
}

/// The filters as one expression (None when no field filter was given).
pub fn expr(f: &FilterArgs) -> Option<Expr> {
    let mut parts = Vec::new();
    if !f.account.is_empty() {
        parts.push(or(vec![
            any_of("recipientAccountId", &f.account, StrMatch::eq),
            any_of("userIdentity.accountId", &f.account, StrMatch::eq),
        ]));
    }
    if !f.region.is_empty() {
        parts.push(any_of("awsRegion", &f.region, StrMatch::eq));
    }
    if !f.principal.is_empty() {
        parts.push(or(vec![
            any_of("userIdentity.arn", &f.principal, StrMatch::contains),
            any_of("userIdentity.userName", &f.principal, StrMatch::eq),
            any_of("userIdentity.sessionContext.sessionIssuer.arn", &f.principal, StrMatch::contains),
            any_of("userIdentity.principalId", &f.principal, StrMatch::eq),
        ]));
    }
    if !f.access_key.is_empty() {
        parts.push(any_of("userIdentity.accessKeyId", &f.access_key, StrMatch::eq));
    }
    if !f.event_id.is_empty() {
        parts.push(any_of("eventID", &f.event_id, StrMatch::eq));
    }
    if !f.request_id.is_empty() {
        parts.push(any_of("requestID", &f.request_id, StrMatch::eq));
    }
    if !f.user_agent.is_empty() {
        parts.push(any_of("userAgent", &f.user_agent, StrMatch::contains));
    }
    if !f.ip.is_empty() {
        parts.push(any_of("sourceIPAddress", &f.ip, StrMatch::eq));
    }
    if !f.event_name.is_empty() {
        // Lambda names carry API versions (UpdateFunctionCode20150331v2): match the prefix.
        let names: Vec<Expr> = f
            .event_name
            .iter()
            .map(|n| {
                or(vec![
                    eq("eventName", &[n]),
                    Expr::Field {
                        path: "eventName".into(),
                        test: Test::Str(vec![StrMatch::starts_with(format!("{n}20"))]),
                    },
                ])
            })
            .collect();
        parts.push(or(names));
    }
    if !f.event_source.is_empty() {
        let full: Vec<String> = f
            .event_source
            .iter()
            .map(|s| if s.contains('.') { s.clone() } else { format!("{s}.amazonaws.com") })
            .collect();
        parts.push(any_of("eventSource", &full, StrMatch::eq));
    }
    match f.error.as_deref() {
        None => {}
        Some("*") => parts.push(not_null("errorCode")),
        Some(code) => parts.push(contains("errorCode", &[code])),
    }
    (!parts.is_empty()).then(|| and(parts))
}

fn not_null(path: &str) -> Expr {
    trailscope_indicators::not(null(path))
}

/// The filters and window as a gate for a filtered scan (None when it could reject nothing).
/// `--text` is left to [`select`]: the gate only narrows what is stored.
pub fn gate(f: &FilterArgs) -> anyhow::Result<Option<Gate>> {
    let (from, to) = bounds(&f.window)?;
    let mut parts: Vec<Expr> = expr(f).into_iter().collect();
    if from.is_some() || to.is_some() {
        parts.push(Expr::Field { path: "eventTime".into(), test: Test::Time { from, to } });
    }
    Ok(Gate::of(&and(parts)))
}

/// The window's bounds (epoch ms, inclusive), checked.
pub fn bounds(w: &WindowArgs) -> anyhow::Result<(Option<i64>, Option<i64>)> {
    let from = w.from.as_deref().map(|s| parse_bound(s, false)).transpose().context("--from")?;
    let to = w.to.as_deref().map(|s| parse_bound(s, true)).transpose().context("--to")?;
    if let (Some(a), Some(b)) = (from, to) {
        if a > b {
            bail!("--from is after --to");
        }
    }
    Ok((from, to))
}

/// The store's rows inside the window: a range, since rows are in time order.
fn window_rows(store: &Store, w: &WindowArgs) -> anyhow::Result<std::ops::Range<usize>> {
    let (from, to) = bounds(w)?;
    let times = store.times();
    let lo = from.map_or(0, |t| times.partition_point(|&x| x < t));
    let hi = to.map_or(times.len(), |t| times.partition_point(|&x| x <= t));
    Ok(lo..hi.max(lo))
}

/// Keep the findings with at least one event in the window.
pub fn findings_in_window(store: &Store, findings: &mut Vec<Finding>, w: &WindowArgs) -> anyhow::Result<()> {
    if w.from.is_some() || w.to.is_some() {
        let rows = window_rows(store, w)?;
        findings.retain(|f| f.rows.iter().any(|&r| rows.contains(&(r as usize))));
    }
    Ok(())
}

/// Rows that pass the filters, in time order.
pub fn select(store: &Store, f: &FilterArgs) -> anyhow::Result<Vec<usize>> {
    let range = window_rows(store, &f.window)?;
    let window = Selection::from_fn(store.len(), |r| range.contains(&r));
    let sel = match expr(f) {
        Some(e) => Predicate::compile(&e, store).eval(store, &window),
        None => window,
    };
    let rows = sel.iter();
    Ok(match f.text.as_deref().map(str::to_lowercase) {
        // The whole rebuilt record, as the examiner would grep the raw JSON: only for rows the
        // column filters left.
        Some(text) => rows.filter(|&r| value_contains(&store.event(r).to_json(), &text)).collect(),
        None => rows.collect(),
    })
}

/// True when any key, string, number or boolean in `v` contains `needle` (lower case),
/// case-insensitively: text as the record holds it, not as JSON escapes it.
fn value_contains(v: &serde_json::Value, needle: &str) -> bool {
    use serde_json::Value;
    let has = |s: &str| s.to_lowercase().contains(needle);
    match v {
        Value::String(s) => has(s),
        Value::Number(n) => has(&n.to_string()),
        Value::Bool(b) => has(if *b { "true" } else { "false" }),
        Value::Null => false,
        Value::Array(a) => a.iter().any(|x| value_contains(x, needle)),
        Value::Object(o) => o.iter().any(|(k, x)| has(k) || value_contains(x, needle)),
    }
}
