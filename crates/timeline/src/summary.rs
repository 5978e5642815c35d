//! Per-principal summaries: what each principal did over the whole evidence, whatever its
//! verdict. The examiner's first look at "who is in these logs" before reading any finding.
//!
//! One pass over the rows; the per-row work hashes dictionary ids only, and strings are
//! resolved once per distinct value at the end.

use std::collections::{BTreeMap, BTreeSet};

use ahash::{AHashMap, AHashSet};
use serde::Serialize;
use trailscope_indicators::useragent::normalize;
use trailscope_store::{Field, Store, Sym, SymColumn};

use crate::actors::{outcome, CallOutcome};
use crate::timeline::principal_name;
use crate::Time;

/// How many of a principal's most used APIs are listed.
pub const TOP_APIS: usize = 5;

/// An API and how often it was called.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ApiCount {
    /// `service:EventName`.
    pub api: String,
    /// Calls, whatever their outcome.
    pub calls: usize,
}

/// One principal's activity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PrincipalSummary {
    /// As named in the report (ARN, `service:...`, `Type:account`).
    pub principal: String,
    /// Accounts whose trails logged it.
    pub accounts: Vec<String>,
    /// Events.
    pub events: usize,
    /// First event.
    pub first_seen: Time,
    /// Last event.
    pub last_seen: Time,
    /// Calls that succeeded.
    pub calls_ok: usize,
    /// Calls refused for lack of permission.
    pub calls_denied: usize,
    /// Calls that failed otherwise.
    pub calls_failed: usize,
    /// Distinct APIs (`service:EventName`) called.
    pub distinct_apis: usize,
    /// The most called APIs, most calls first (at most [`TOP_APIS`]).
    pub top_apis: Vec<ApiCount>,
    /// APIs with at least one denied call.
    pub apis_denied: Vec<String>,
    /// Regions.
    pub regions: Vec<String>,
    /// Source IPs (or service names).
    pub source_ips: Vec<String>,
    /// User agents, normalised.
    pub user_agents: Vec<String>,
    /// Access key ids.
    pub access_keys: Vec<String>,
}

#[derive(Default)]
struct Acc {
    rows: usize,
    first: i64,
    last: i64,
    ok: usize,
    denied: usize,
    failed: usize,
    apis: AHashMap<(Sym, Sym), usize>,
    denied_apis: AHashSet<(Sym, Sym)>,
    recipients: AHashSet<Sym>,
    callers: AHashSet<Sym>,
    regions: AHashSet<Sym>,
    ips: AHashSet<Sym>,
    uas: AHashSet<Sym>,
    keys: AHashSet<Sym>,
}

/// The identity columns `principal_name` reads: equal ids, equal name.
const IDENTITY: [Field; 5] =
    [Field::PrincipalArn, Field::InvokedBy, Field::IdentityType, Field::IdentityAccount, Field::PrincipalId];

/// Summarise every principal, most events first, then by name.
pub fn summarize(store: &Store) -> Vec<PrincipalSummary> {
    let ident: Vec<SymColumn<'_>> = IDENTITY.iter().map(|&f| store.column(f)).collect();
    let col = |f: Field| store.column(f);
    let (recipient, caller, region, ip, ua, key, err, source, name) = (
        col(Field::RecipientAccount),
        col(Field::IdentityAccount),
        col(Field::AwsRegion),
        col(Field::SourceIp),
        col(Field::UserAgent),
        col(Field::AccessKeyId),
        col(Field::ErrorCode),
        col(Field::EventSource),
        col(Field::EventName),
    );
    let times = store.times();

    // Names and outcomes are worked out once per distinct identity and error code.
    let mut slot_of_identity: AHashMap<[Sym; 5], usize> = AHashMap::new();
    let mut slot_of_name: AHashMap<String, usize> = AHashMap::new();
    let mut names: Vec<String> = Vec::new();
    let mut outcome_of_err: AHashMap<Sym, CallOutcome> = AHashMap::new();
    let mut accs: Vec<Acc> = Vec::new();

    for (row, &t) in times.iter().enumerate() {
        let id = [ident[0].get(row), ident[1].get(row), ident[2].get(row), ident[3].get(row), ident[4].get(row)];
        let slot = *slot_of_identity.entry(id).or_insert_with(|| {
            let n = principal_name(store, row);
            *slot_of_name.entry(n.clone()).or_insert_with(|| {
                names.push(n);
                accs.push(Acc { first: t, ..Acc::default() });
                accs.len() - 1
            })
        });
        let a = &mut accs[slot];
        a.rows += 1;
        // Rows are in time order: the last row seen is the latest.
        a.last = t;
        let api = (source.get(row), name.get(row));
        *a.apis.entry(api).or_default() += 1;
        match *outcome_of_err.entry(err.get(row)).or_insert_with(|| outcome(store, row)) {
            CallOutcome::Ok => a.ok += 1,
            CallOutcome::Denied => {
                a.denied += 1;
                a.denied_apis.insert(api);
            }
            CallOutcome::Failed => a.failed += 1,
        }
        if recipient.get(row).is_null() {
            a.callers.insert(caller.get(row));
        } else {
            a.recipients.insert(recipient.get(row));
        }
        a.regions.insert(region.get(row));
        a.ips.insert(ip.get(row));
        a.uas.insert(ua.get(row));
        a.keys.insert(key.get(row));
    }

    let strs = |field: Field, set: &AHashSet<Sym>| -> BTreeSet<String> {
        set.iter().filter_map(|&s| store.dict(field).resolve(s)).map(str::to_owned).collect()
    };
    let api_name = |(src, n): (Sym, Sym)| {
        let src = store.dict(Field::EventSource).resolve(src).unwrap_or("?");
        format!(
            "{}:{}",
            src.strip_suffix(".amazonaws.com").unwrap_or(src),
            store.dict(Field::EventName).resolve(n).unwrap_or("?")
        )
    };
    let mut out: Vec<PrincipalSummary> = names
        .into_iter()
        .zip(accs)
        .map(|(principal, a)| {
            let mut accounts = strs(Field::RecipientAccount, &a.recipients);
            accounts.extend(strs(Field::IdentityAccount, &a.callers));
            // Two sources can print alike (`iam` and `iam.amazonaws.com`): count by the name shown.
            let mut calls: BTreeMap<String, usize> = BTreeMap::new();
            for (&api, &n) in &a.apis {
                *calls.entry(api_name(api)).or_default() += n;
            }
            let distinct_apis = calls.len();
            let mut top: Vec<ApiCount> = calls.into_iter().map(|(api, calls)| ApiCount { api, calls }).collect();
            top.sort_by(|x, y| y.calls.cmp(&x.calls).then_with(|| x.api.cmp(&y.api)));
            top.truncate(TOP_APIS);
            let apis_denied: BTreeSet<String> = a.denied_apis.iter().map(|&api| api_name(api)).collect();
            let user_agents: BTreeSet<String> =
                strs(Field::UserAgent, &a.uas).iter().map(|u| normalize(u).to_owned()).collect();
            PrincipalSummary {
                principal,
                accounts: accounts.into_iter().collect(),
                events: a.rows,
                first_seen: Time(a.first),
                last_seen: Time(a.last),
                calls_ok: a.ok,
                calls_denied: a.denied,
                calls_failed: a.failed,
                distinct_apis,
                top_apis: top,
                apis_denied: apis_denied.into_iter().collect(),
                regions: strs(Field::AwsRegion, &a.regions).into_iter().collect(),
                source_ips: strs(Field::SourceIp, &a.ips).into_iter().collect(),
                user_agents: user_agents.into_iter().collect(),
                access_keys: strs(Field::AccessKeyId, &a.keys).into_iter().collect(),
            }
        })
        .collect();
    out.sort_by(|x, y| y.events.cmp(&x.events).then_with(|| x.principal.cmp(&y.principal)));
    out
}
