//! First-seen baselines, the offline form of "new terms" detections: a principal doing
//! something it had not done earlier in the evidence.
//!
//! The first part of the evidence is the *learning window* (default: the first 20 % of its time
//! span, at least six hours; `--learn` sets it). Behaviour seen there, and any behaviour once seen,
//! is known. After the window, the first time a principal that was active during the window
//!
//! * calls from a source IP it had not used → `ts-new-source-ip` (medium);
//! * uses a region it had not used → `ts-new-region` (low);
//! * calls an API (`eventSource:eventName`) it had not called → `ts-new-api` (low);
//! * uses a user agent it had not used → `ts-new-user-agent` (low);
//!
//! and, at any time, an access key whose user agent names another operating system than before
//! → `ts-key-os-change` (medium); a principal never seen before whose first call is
//! `GetCallerIdentity` after the window → `ts-first-call-get-caller-identity` (medium).

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;

use ahash::AHashMap;
use trailscope_store::{Field, Store, Sym};

use crate::rule::{Finding, RuleMeta, Severity};
use crate::useragent::operating_system;

/// Baseline settings.
#[derive(Clone, Debug, Default)]
pub struct BaselineOptions {
    /// Learning window length; `None` for the default (20 % of the span, at least six hours).
    pub learn_ms: Option<i64>,
}

fn meta(id: &str, title: &str, severity: Severity, tactic: &str, technique: &str) -> Arc<RuleMeta> {
    Arc::new(RuleMeta {
        id: id.into(),
        title: title.into(),
        severity,
        tactics: vec![tactic.into()],
        techniques: vec![technique.into()],
        description: "First-seen baseline (see docs/rules.md)".into(),
        source: "builtin:baseline".into(),
        ..RuleMeta::default()
    })
}

/// The baseline rules' metadata, for listings.
pub fn rules() -> Vec<Arc<RuleMeta>> {
    vec![
        meta(
            "ts-new-source-ip",
            "Principal calls from a source IP it had not used",
            Severity::Medium,
            "initial-access",
            "T1078.004",
        ),
        meta("ts-new-region", "Principal uses a region it had not used", Severity::Low, "defense-evasion", "T1535"),
        meta("ts-new-api", "Principal calls an API it had not called", Severity::Low, "discovery", "T1526"),
        meta(
            "ts-new-user-agent",
            "Principal uses a user agent it had not used",
            Severity::Low,
            "initial-access",
            "T1078.004",
        ),
        meta(
            "ts-key-os-change",
            "Access key used from another operating system",
            Severity::Medium,
            "initial-access",
            "T1078.004",
        ),
        meta(
            "ts-first-call-get-caller-identity",
            "Never-seen principal starts with GetCallerIdentity",
            Severity::Medium,
            "discovery",
            "T1087.004",
        ),
    ]
}

/// The learning window's end (epoch ms) for a store.
pub fn learning_end(store: &Store, opts: &BaselineOptions) -> Option<i64> {
    let (first, last) = (*store.times().first()?, *store.times().last()?);
    let learn = opts.learn_ms.unwrap_or_else(|| ((last - first) / 5).max(6 * 3_600_000));
    Some(first + learn)
}

/// Run the baselines.
pub fn run(store: &Store, opts: &BaselineOptions) -> Vec<Finding> {
    let Some(end) = learning_end(store, opts) else { return Vec::new() };
    let r = rules();
    let (ip_rule, region_rule, api_rule, ua_rule, os_rule, gci_rule) = (&r[0], &r[1], &r[2], &r[3], &r[4], &r[5]);
    let principal = store.column(Field::PrincipalArn);
    let ips = store.column(Field::SourceIp);
    let regions = store.column(Field::AwsRegion);
    let sources = store.column(Field::EventSource);
    let names = store.column(Field::EventName);
    let uas = store.column(Field::UserAgent);
    let keys = store.column(Field::AccessKeyId);
    let errors = store.column(Field::ErrorCode);
    let ip_dict = store.dict(Field::SourceIp);
    let is_ip: Vec<bool> =
        (0..ip_dict.len() as u32).map(|i| i > 0 && ip_dict.get(Sym(i)).parse::<IpAddr>().is_ok()).collect();
    let ua_dict = store.dict(Field::UserAgent);
    let os_of: Vec<Option<&str>> =
        (0..ua_dict.len() as u32).map(|i| if i == 0 { None } else { operating_system(ua_dict.get(Sym(i))) }).collect();
    let gci = store.dict(Field::EventName).lookup("GetCallerIdentity");

    let mut learned: HashSet<Sym> = HashSet::new();
    let mut seen_any: HashSet<Sym> = HashSet::new();
    let mut seen_ip: HashSet<(Sym, Sym)> = HashSet::new();
    let mut seen_region: HashSet<(Sym, Sym)> = HashSet::new();
    let mut seen_api: HashSet<(Sym, Sym, Sym)> = HashSet::new();
    let mut seen_ua: HashSet<(Sym, Sym)> = HashSet::new();
    let mut key_os: AHashMap<Sym, &str> = AHashMap::new();
    let mut out = Vec::new();
    let mut push = |rule: &Arc<RuleMeta>, row: usize, group: String| {
        out.push(Finding { rule: rule.clone(), rows: vec![row as u32], group: Some(group) })
    };
    let pstr = |s: Sym| store.dict(Field::PrincipalArn).get(s).to_owned();
    for row in 0..store.len() {
        let p = principal[row];
        let after = store.times()[row] >= end;
        if let (Some(os), k) = (os_of[uas[row].index()], keys[row]) {
            if !k.is_null() {
                match key_os.get(&k) {
                    Some(prev) if *prev != os => {
                        push(os_rule, row, format!("{}: {prev} -> {os}", store.dict(Field::AccessKeyId).get(k)));
                        key_os.insert(k, os);
                    }
                    Some(_) => {}
                    None => {
                        key_os.insert(k, os);
                    }
                }
            }
        }
        if p.is_null() {
            continue;
        }
        let new_principal = seen_any.insert(p);
        if !after {
            learned.insert(p);
        }
        if after && new_principal && Some(names[row]) == gci && errors[row].is_null() {
            push(gci_rule, row, pstr(p));
        }
        let known = learned.contains(&p) && after;
        if is_ip[ips[row].index()] && seen_ip.insert((p, ips[row])) && known {
            push(ip_rule, row, format!("{} from {}", pstr(p), ip_dict.get(ips[row])));
        }
        if seen_region.insert((p, regions[row])) && known && !regions[row].is_null() {
            push(region_rule, row, format!("{} in {}", pstr(p), store.dict(Field::AwsRegion).get(regions[row])));
        }
        if seen_api.insert((p, sources[row], names[row])) && known {
            push(api_rule, row, format!("{} called {}", pstr(p), store.dict(Field::EventName).get(names[row])));
        }
        if !uas[row].is_null() && seen_ua.insert((p, uas[row])) && known {
            push(ua_rule, row, format!("{} with {}", pstr(p), ua_dict.get(uas[row])));
        }
    }
    out
}
