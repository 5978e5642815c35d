//! Event filters from the command line, compiled through the indicator engine.

use anyhow::{bail, Context};
use trailscope_indicators::{and, contains, eq, null, or, Expr, Predicate, StrMatch, Test};
use trailscope_ingest::parse_event_time;
use trailscope_store::{Selection, Store};

use crate::args::FilterArgs;

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

/// Rows that pass the filters, in time order.
pub fn select(store: &Store, f: &FilterArgs) -> anyhow::Result<Vec<usize>> {
    let from = f.from.as_deref().map(|s| parse_bound(s, false)).transpose()?;
    let to = f.to.as_deref().map(|s| parse_bound(s, true)).transpose()?;
    if let (Some(a), Some(b)) = (from, to) {
        if a > b {
            bail!("--from is after --to");
        }
    }
    let times = store.times();
    let lo = from.map_or(0, |t| times.partition_point(|&x| x < t));
    let hi = to.map_or(times.len(), |t| times.partition_point(|&x| x <= t));
    let window = Selection::from_fn(store.len(), |r| r >= lo && r < hi);
    let sel = match expr(f) {
        Some(e) => Predicate::compile(&e, store).eval(store, &window),
        None => window,
    };
    Ok(sel.iter().collect())
}
