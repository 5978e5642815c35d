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
//! `GetCallerIdentity` after the window → `ts-first-call-get-caller-identity` (medium); after the
//! window, the first call from another AWS account (`userIdentity.accountId`) into an account
//! of the evidence (`recipientAccountId`) that had not called into it before →
//! `ts-new-external-account` (medium).
//!
//! With a separate, earlier dump of the same accounts ([`run_with_history`], `--baseline PATH`)
//! the whole dump is the learning window and the whole evidence comes after it. Both forms share
//! one per-row step ([`Seen::observe`]); the history's dictionary ids are translated to the
//! evidence's once per distinct value.

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;

use ahash::AHashMap;
use trailscope_store::{Field, Store, Sym, SymColumn};

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
        meta(
            "ts-new-external-account",
            "Another AWS account calls into the account for the first time",
            Severity::Medium,
            "initial-access",
            "T1078.004",
        ),
    ]
}

/// The learning window's end (epoch ms) for a store.
pub fn learning_end(store: &Store, opts: &BaselineOptions) -> Option<i64> {
    let (first, last) = (*store.times().first()?, *store.times().last()?);
    let learn = opts.learn_ms.unwrap_or_else(|| ((last - first) / 5).max(6 * 3_600_000));
    Some(first + learn)
}

/// Run the baselines, learning from the first part of the evidence (the learning window).
pub fn run(store: &Store, opts: &BaselineOptions) -> Vec<Finding> {
    let Some(end) = learning_end(store, opts) else { return Vec::new() };
    detect(store, Seen::default(), end)
}

/// Run the baselines, learning from `history`, a separate and earlier dump of the same
/// accounts: all of `store` is after the window, so even its first event can be first-seen. A
/// principal absent from `history` is new (`ts-first-call-get-caller-identity` applies).
pub fn run_with_history(store: &Store, history: &Store) -> Vec<Finding> {
    let mut seen = Seen::default();
    let cols = Columns::new(history);
    let to_evidence = Translation::new(history, store);
    for row in 0..history.len() {
        // Findings inside the history are not the case's: only what it teaches is kept.
        seen.observe(&to_evidence.obs(cols.obs(row)), false);
    }
    detect(store, seen, i64::MIN)
}

/// What one row says to the baselines, in one store's dictionary ids.
#[derive(Copy, Clone)]
struct Obs {
    principal: Sym,
    /// `None` when the source is a service name, not an address.
    ip: Option<Sym>,
    region: Sym,
    source: Sym,
    name: Sym,
    ua: Sym,
    key: Sym,
    os: Option<&'static str>,
    /// A successful `GetCallerIdentity`.
    whoami: bool,
    /// The caller's account when it is another account than the recipient (`None` otherwise,
    /// and for callers without a 12-digit account: AWS services, anonymous callers).
    external: Option<Sym>,
    recipient: Sym,
}

/// A store's columns and per-distinct-value facts, so that per row only ids are read.
struct Columns<'s> {
    principal: SymColumn<'s>,
    ips: SymColumn<'s>,
    regions: SymColumn<'s>,
    sources: SymColumn<'s>,
    names: SymColumn<'s>,
    uas: SymColumn<'s>,
    keys: SymColumn<'s>,
    errors: SymColumn<'s>,
    is_ip: Vec<bool>,
    os_of: Vec<Option<&'static str>>,
    gci: Option<Sym>,
    callers: SymColumn<'s>,
    recipients: SymColumn<'s>,
    /// Per caller account: its id in the recipient column's dictionary (`ABSENT` when no event
    /// is addressed to it), or `None` when it is not a 12-digit account.
    caller_as_recipient: Vec<Option<Sym>>,
}

impl<'s> Columns<'s> {
    fn new(store: &'s Store) -> Self {
        let ip_dict = store.dict(Field::SourceIp);
        let ua_dict = store.dict(Field::UserAgent);
        Columns {
            principal: store.column(Field::PrincipalArn),
            ips: store.column(Field::SourceIp),
            regions: store.column(Field::AwsRegion),
            sources: store.column(Field::EventSource),
            names: store.column(Field::EventName),
            uas: store.column(Field::UserAgent),
            keys: store.column(Field::AccessKeyId),
            errors: store.column(Field::ErrorCode),
            is_ip: (0..ip_dict.len() as u32).map(|i| i > 0 && ip_dict.get(Sym(i)).parse::<IpAddr>().is_ok()).collect(),
            os_of: (0..ua_dict.len() as u32)
                .map(|i| if i == 0 { None } else { operating_system(ua_dict.get(Sym(i))) })
                .collect(),
            gci: store.dict(Field::EventName).lookup("GetCallerIdentity"),
            callers: store.column(Field::IdentityAccount),
            recipients: store.column(Field::RecipientAccount),
            caller_as_recipient: {
                let (callers, recipients) = (store.dict(Field::IdentityAccount), store.dict(Field::RecipientAccount));
                (0..callers.len() as u32)
                    .map(|i| {
                        let account = callers.get(Sym(i));
                        (i > 0 && account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()))
                            .then(|| recipients.lookup(account).unwrap_or(ABSENT))
                    })
                    .collect()
            },
        }
    }

    fn obs(&self, row: usize) -> Obs {
        let ip = self.ips.get(row);
        Obs {
            principal: self.principal.get(row),
            ip: self.is_ip[ip.index()].then_some(ip),
            region: self.regions.get(row),
            source: self.sources.get(row),
            name: self.names.get(row),
            ua: self.uas.get(row),
            key: self.keys.get(row),
            os: self.os_of[self.uas.get(row).index()],
            whoami: Some(self.names.get(row)) == self.gci && self.errors.get(row).is_null(),
            external: {
                let (caller, recipient) = (self.callers.get(row), self.recipients.get(row));
                match self.caller_as_recipient[caller.index()] {
                    Some(as_recipient) if !recipient.is_null() && as_recipient != recipient => Some(caller),
                    _ => None,
                }
            },
            recipient: self.recipients.get(row),
        }
    }
}

/// Stands for a history value the evidence never holds: it can match nothing there.
const ABSENT: Sym = Sym(u32::MAX);

/// History ids to evidence ids, one dictionary look-up per distinct history value.
struct Translation {
    principal: Vec<Sym>,
    ip: Vec<Sym>,
    region: Vec<Sym>,
    source: Vec<Sym>,
    name: Vec<Sym>,
    ua: Vec<Sym>,
    key: Vec<Sym>,
    caller: Vec<Sym>,
    recipient: Vec<Sym>,
}

impl Translation {
    fn new(from: &Store, to: &Store) -> Self {
        let table = |f: Field| -> Vec<Sym> {
            let (src, dst) = (from.dict(f), to.dict(f));
            (0..src.len() as u32)
                .map(|i| if i == 0 { Sym::NULL } else { dst.lookup(src.get(Sym(i))).unwrap_or(ABSENT) })
                .collect()
        };
        Translation {
            principal: table(Field::PrincipalArn),
            ip: table(Field::SourceIp),
            region: table(Field::AwsRegion),
            source: table(Field::EventSource),
            name: table(Field::EventName),
            ua: table(Field::UserAgent),
            key: table(Field::AccessKeyId),
            caller: table(Field::IdentityAccount),
            recipient: table(Field::RecipientAccount),
        }
    }

    fn obs(&self, o: Obs) -> Obs {
        Obs {
            principal: self.principal[o.principal.index()],
            ip: o.ip.map(|s| self.ip[s.index()]),
            region: self.region[o.region.index()],
            source: self.source[o.source.index()],
            name: self.name[o.name.index()],
            ua: self.ua[o.ua.index()],
            key: self.key[o.key.index()],
            external: o.external.map(|s| self.caller[s.index()]),
            recipient: self.recipient[o.recipient.index()],
            ..o
        }
    }
}

/// Which rules a row raised.
#[derive(Default)]
struct Fired {
    /// The key's previous operating system, when it changed.
    os_change: Option<&'static str>,
    whoami_first: bool,
    ip: bool,
    region: bool,
    api: bool,
    ua: bool,
    external_account: bool,
}

/// Everything seen so far, per principal (and per key for the operating system).
#[derive(Default)]
struct Seen {
    learned: HashSet<Sym>,
    any: HashSet<Sym>,
    ip: HashSet<(Sym, Sym)>,
    region: HashSet<(Sym, Sym)>,
    api: HashSet<(Sym, Sym, Sym)>,
    ua: HashSet<(Sym, Sym)>,
    key_os: AHashMap<Sym, &'static str>,
    /// (caller account, recipient account) pairs of cross-account calls.
    accounts: HashSet<(Sym, Sym)>,
}

impl Seen {
    /// Record a row; `after` the learning window, report what it does for the first time.
    fn observe(&mut self, o: &Obs, after: bool) -> Fired {
        let mut fired = Fired::default();
        if let (Some(os), false) = (o.os, o.key.is_null()) {
            if let Some(prev) = self.key_os.insert(o.key, os).filter(|&prev| prev != os) {
                fired.os_change = Some(prev);
            }
        }
        // Whoever the principal (a role session, an anonymous-looking service call): the account.
        fired.external_account = o.external.is_some_and(|a| self.accounts.insert((a, o.recipient))) && after;
        let p = o.principal;
        if p.is_null() {
            return fired;
        }
        let new_principal = self.any.insert(p);
        if !after {
            self.learned.insert(p);
        }
        fired.whoami_first = after && new_principal && o.whoami;
        let known = after && self.learned.contains(&p);
        fired.ip = o.ip.is_some_and(|ip| self.ip.insert((p, ip))) && known;
        fired.region = self.region.insert((p, o.region)) && known && !o.region.is_null();
        fired.api = self.api.insert((p, o.source, o.name)) && known;
        fired.ua = !o.ua.is_null() && self.ua.insert((p, o.ua)) && known;
        fired
    }
}

/// Walk the evidence: rows from `end` on are after the learning window. One finding per
/// (principal, new value), holding every later event with that value, so its count and span show
/// how the new thing was used (not one finding per event).
fn detect(store: &Store, mut seen: Seen, end: i64) -> Vec<Finding> {
    let r = rules();
    let (ip_rule, region_rule, api_rule, ua_rule, os_rule, gci_rule, account_rule) =
        (&r[0], &r[1], &r[2], &r[3], &r[4], &r[5], &r[6]);
    let cols = Columns::new(store);
    let name = |f: Field, s: Sym| store.dict(f).get(s);
    let mut out: Vec<Finding> = Vec::new();
    // Open first-seen findings by (rule, principal, value, second value) -> index in `out`.
    let mut open: AHashMap<(u8, Sym, Sym, Sym), usize> = AHashMap::new();
    let mut with_open: HashSet<Sym> = HashSet::new();
    // Open new-external-account findings by (caller account, recipient account).
    let mut open_accounts: AHashMap<(Sym, Sym), usize> = AHashMap::new();
    let push = |out: &mut Vec<Finding>, rule: &Arc<RuleMeta>, row: usize, group: String| {
        out.push(Finding { rule: rule.clone(), rows: vec![row as u32], group: Some(group) });
        out.len() - 1
    };
    for (row, &t) in store.times().iter().enumerate() {
        let o = cols.obs(row);
        let f = seen.observe(&o, t >= end);
        if let (Some(prev), Some(os)) = (f.os_change, o.os) {
            push(&mut out, os_rule, row, format!("{}: {prev} -> {os}", name(Field::AccessKeyId, o.key)));
        }
        let p = || name(Field::PrincipalArn, o.principal);
        if f.whoami_first {
            push(&mut out, gci_rule, row, p().to_owned());
        }
        if let Some(caller) = o.external {
            if f.external_account {
                let group = format!(
                    "account {} in {}",
                    name(Field::IdentityAccount, caller),
                    name(Field::RecipientAccount, o.recipient)
                );
                let at = push(&mut out, account_rule, row, group);
                open_accounts.insert((caller, o.recipient), at);
            } else if let Some(&at) = open_accounts.get(&(caller, o.recipient)) {
                out[at].rows.push(row as u32);
            }
        }
        let keys = [
            (0u8, o.ip.unwrap_or(Sym::NULL), Sym::NULL),
            (1, o.region, Sym::NULL),
            (2, o.source, o.name),
            (3, o.ua, Sym::NULL),
        ];
        let fired = [f.ip, f.region, f.api, f.ua];
        if with_open.contains(&o.principal) {
            for (i, &(kind, a, b)) in keys.iter().enumerate() {
                if !fired[i] {
                    if let Some(&at) = open.get(&(kind, o.principal, a, b)) {
                        out[at].rows.push(row as u32);
                    }
                }
            }
        }
        for (i, &(kind, a, b)) in keys.iter().enumerate() {
            if !fired[i] {
                continue;
            }
            let (rule, group) = match kind {
                0 => (ip_rule, format!("{} from {}", p(), name(Field::SourceIp, cols.ips.get(row)))),
                1 => (region_rule, format!("{} in {}", p(), name(Field::AwsRegion, o.region))),
                2 => (api_rule, format!("{} called {}", p(), name(Field::EventName, o.name))),
                _ => (ua_rule, format!("{} with {}", p(), name(Field::UserAgent, o.ua))),
            };
            let at = push(&mut out, rule, row, group);
            open.insert((kind, o.principal, a, b), at);
            with_open.insert(o.principal);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use trailscope_testkit::{store, with, ACCOUNT};

    /// A call into the evidence's account by `account`'s role `who`, `secs` after the base time.
    fn from_account(n: usize, secs: i64, account: &str, who: &str) -> serde_json::Value {
        with(
            n,
            secs,
            &json!({"userIdentity": {"type": "AssumedRole", "accountId": account, "principalId": format!("AROAX:{who}"),
                "arn": format!("arn:aws:sts::{account}:assumed-role/{who}/{who}"), "accessKeyId": format!("ASIA{n:016}")},
                "eventSource": "s3.amazonaws.com", "eventName": "GetObject", "recipientAccountId": ACCOUNT}),
        )
    }

    #[test]
    fn a_new_external_account_is_told_once_with_its_later_calls() {
        let hour = 3600;
        let s = store(&[
            // Learning window: the owner, and a partner account that reads a shared bucket.
            with(0, 0, &json!({})),
            from_account(1, 60, "444455556666", "partner"),
            // After the window.
            with(2, 10 * hour, &json!({})),
            from_account(3, 10 * hour + 60, "444455556666", "partner-other-role"),
            from_account(4, 11 * hour, "777788889999", "stranger"),
            from_account(5, 12 * hour, "777788889999", "stranger"),
            // An AWS service and an anonymous caller carry no 12-digit account of their own.
            with(
                6,
                12 * hour + 60,
                &json!({"userIdentity": {"type": "AWSService", "invokedBy": "config.amazonaws.com",
                "accountId": null, "arn": null, "principalId": null, "accessKeyId": null}}),
            ),
            with(
                7,
                12 * hour + 120,
                &json!({"userIdentity": {"type": "AWSAccount", "accountId": "ANONYMOUS_PRINCIPAL",
                "principalId": null, "arn": null, "accessKeyId": null}}),
            ),
        ]);
        let findings = run(&s, &BaselineOptions { learn_ms: Some(6 * 3_600_000) });
        let new_accounts: Vec<&Finding> = findings.iter().filter(|f| f.rule.id == "ts-new-external-account").collect();
        assert_eq!(new_accounts.len(), 1, "{findings:?}");
        let f = new_accounts[0];
        assert_eq!(f.group.as_deref(), Some(format!("account 777788889999 in {ACCOUNT}").as_str()));
        let ids: Vec<&str> = f.rows.iter().map(|&r| s.event(r as usize).str(Field::EventId).unwrap()).collect();
        assert_eq!(ids, ["evt-4", "evt-5"], "the first call and the later ones");

        // With the history as its own dump, the partner is known and the stranger new.
        let history = store(&[from_account(1, 0, "444455556666", "partner")]);
        let evidence =
            store(&[from_account(3, 60, "444455556666", "partner"), from_account(4, 120, "777788889999", "x")]);
        let f: Vec<Finding> = run_with_history(&evidence, &history)
            .into_iter()
            .filter(|f| f.rule.id == "ts-new-external-account")
            .collect();
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].group.as_deref(), Some(format!("account 777788889999 in {ACCOUNT}").as_str()));
    }
}
