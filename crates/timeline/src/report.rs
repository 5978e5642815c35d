//! The forensic report: a plain, serializable model computed once from the store and findings.
//! Writers (see [`crate::write`]) only format it.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use ahash::{AHashMap, AHashSet};
use serde::Serialize;
use serde_json::Value;
use trailscope_indicators::base_event_name;
use trailscope_indicators::useragent::classify;
use trailscope_indicators::{Finding, Severity};
use trailscope_store::{chrono_free_iso, Field, Selection, Store, Sym};

use crate::lineage::Lineage;
use crate::timeline::{action_name, principal_name, Timeline, TimelineEntry};

/// Options of the report.
#[derive(Clone, Debug)]
pub struct ReportOptions {
    /// Sequence number of the case on its day (`AWS-IR-YYYYMMDD-SEQ`).
    pub case_seq: u32,
    /// Findings at or above this severity seed the attribution.
    pub seed_severity: Severity,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions { case_seq: 1, seed_severity: Severity::High }
    }
}

/// A credential the attacker held.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Credential {
    /// Access key id.
    pub access_key: String,
    /// `long-term` (AKIA) or `temporary` (ASIA) or `other`.
    pub kind: String,
    /// Principals seen using it.
    pub principals: Vec<String>,
    /// How the attacker got it: `flagged activity` for a seed, or the issuing call.
    pub obtained: String,
    /// First and last attacker use.
    pub first_used: String,
    /// Last attacker use.
    pub last_used: String,
    /// Attacker events made with it.
    pub events: usize,
}

/// A source IP of attacker activity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SourceIp {
    /// The address.
    pub ip: String,
    /// Events from it.
    pub events: usize,
    /// First event.
    pub first_seen: String,
    /// Last event.
    pub last_seen: String,
    /// User agents seen from it.
    pub user_agents: Vec<String>,
    /// What each user agent is (same order): console, AWS CLI, SDK, offensive tool, ...
    pub user_agent_kinds: Vec<String>,
}

/// One kind of action the attacker took.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Action {
    /// `service:EventName`.
    pub action: String,
    /// Calls that succeeded.
    pub succeeded: usize,
    /// Calls that failed.
    pub failed: usize,
    /// First call.
    pub first: String,
}

/// Data the attacker read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DataAccess {
    /// `s3`, `secretsmanager`, `ssm`, `kms`, ...
    pub service: String,
    /// Bucket, secret id, parameter name, key id.
    pub resource: String,
    /// Successful reads.
    pub reads: usize,
    /// Bytes sent out, when the log says (S3 `bytesTransferredOut`).
    pub bytes_out: u64,
    /// Account.
    pub account: String,
}

/// Something the attacker created or changed to keep or widen access.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    /// When.
    pub time: String,
    /// Account.
    pub account: String,
    /// `service:EventName`.
    pub action: String,
    /// What it acted on (user, role, trail, ...).
    pub target: String,
    /// Detail: new key id, policy, trusted principals, ...
    pub detail: String,
    /// Whether the call succeeded.
    pub succeeded: bool,
    /// `eventID`.
    pub event_id: String,
}

/// Count of findings for one rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RuleCount {
    /// Rule id.
    pub rule: String,
    /// Title.
    pub title: String,
    /// Severity.
    pub severity: Severity,
    /// MITRE technique.
    pub technique: String,
    /// Findings raised.
    pub findings: usize,
    /// Events involved.
    pub events: usize,
}

/// The whole report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Report {
    /// `AWS-IR-<YYYYMMDD>-<SEQ>`, dated by the first attacker event (or the evidence start).
    pub id: String,
    /// Accounts in the evidence.
    pub accounts: Vec<String>,
    /// Accounts with attacker activity.
    pub affected_accounts: Vec<String>,
    /// Regions in the evidence.
    pub regions: Vec<String>,
    /// Evidence time range.
    pub evidence_from: Option<String>,
    /// Evidence time range end.
    pub evidence_to: Option<String>,
    /// First attacker event.
    pub activity_from: Option<String>,
    /// Last attacker event.
    pub activity_to: Option<String>,
    /// Events in the evidence.
    pub events_total: usize,
    /// Input files read (set by the caller from the ingest; the report does not see files).
    pub evidence_files: usize,
    /// SHA-256 of the evidence manifest (`manifest.json`), set by the caller.
    pub manifest_sha256: Option<String>,
    /// Attributed events plus other events with a finding of medium severity or more.
    pub suspicious_events: usize,
    /// Events attributed to the attacker.
    pub attacker_events: usize,
    /// Credentials the attacker held.
    pub compromised_credentials: Vec<Credential>,
    /// Where the attacker came from.
    pub source_ips: Vec<SourceIp>,
    /// What the attacker did.
    pub actions: Vec<Action>,
    /// What data the attacker read.
    pub data_accessed: Vec<DataAccess>,
    /// Persistence created.
    pub persistence: Vec<Change>,
    /// Logging and detection weakened.
    pub defense_evasion: Vec<Change>,
    /// Findings by rule.
    pub findings: Vec<RuleCount>,
    /// Attacker timeline.
    pub timeline: Timeline,
}

fn is_ip(s: &str) -> bool {
    s.parse::<IpAddr>().is_ok()
}

/// Calls that create or widen access.
pub const PERSISTENCE_CALLS: &[&str] = &[
    "CreateUser",
    "CreateLoginProfile",
    "UpdateLoginProfile",
    "CreateAccessKey",
    "AttachUserPolicy",
    "AttachRolePolicy",
    "AttachGroupPolicy",
    "PutUserPolicy",
    "PutRolePolicy",
    "PutGroupPolicy",
    "CreatePolicyVersion",
    "SetDefaultPolicyVersion",
    "CreateRole",
    "UpdateAssumeRolePolicy",
    "AddUserToGroup",
    "CreateFunction",
    "UpdateFunctionCode",
    "AddPermission",
    "PublishLayerVersion",
    "ImportKeyPair",
    "CreateKeyPair",
    "CreateInstanceProfile",
    "AddRoleToInstanceProfile",
    "CreateSAMLProvider",
    "CreateOpenIDConnectProvider",
    "CreateVirtualMFADevice",
    "EnableMFADevice",
];

/// Calls that weaken logging or detection.
pub const EVASION_CALLS: &[&str] = &[
    "StopLogging",
    "DeleteTrail",
    "UpdateTrail",
    "PutEventSelectors",
    "DeleteDetector",
    "UpdateDetector",
    "DisassociateFromMasterAccount",
    "DeleteConfigurationRecorder",
    "StopConfigurationRecorder",
    "DeleteDeliveryChannel",
    "DisableSecurityHub",
    "DeleteAnalyzer",
    "DeleteFlowLogs",
    "DeleteLogGroup",
    "PutBucketLogging",
    "LeaveOrganization",
];

impl Report {
    /// Attribute activity and build the report.
    ///
    /// Attribution, step by step (documented in `docs/report-format.md`):
    /// 1. findings at or above `seed_severity` give seed access keys and (real) source IPs;
    /// 2. keys issued by calls made with a compromised key (lineage) are compromised too;
    /// 3. attacker events: any event from an attacker IP, and any use of a key the attacker
    ///    issued (whose source IPs then join the attacker IPs), repeated until nothing changes.
    ///    A seed key's uses from other IPs stay unattributed: a leaked key keeps being used by
    ///    its owner;
    /// 4. cross-account copies (same `sharedEventID`) of attacker events join them.
    pub fn build(store: &Store, findings: &[Finding], lineage: &Lineage, opts: &ReportOptions) -> Report {
        let keys_col = store.column(Field::AccessKeyId);
        let ip_col = store.column(Field::SourceIp);
        let key_str = |row: usize| store.dict(Field::AccessKeyId).resolve(keys_col[row]);
        let ip_str = |row: usize| store.dict(Field::SourceIp).resolve(ip_col[row]);

        let mut seed_keys: BTreeSet<String> = BTreeSet::new();
        let mut attacker_ips: BTreeSet<String> = BTreeSet::new();
        // Seeds come from single-event findings only: a burst or correlation also holds the
        // benign events around the malicious one (the owner's own calls with a leaked key).
        for f in
            findings.iter().filter(|f| f.rule.severity >= opts.seed_severity && (f.rows.len() == 1 || f.rule.indicator))
        {
            for &row in &f.rows {
                if let Some(k) = key_str(row as usize) {
                    seed_keys.insert(k.to_owned());
                }
                if let Some(ip) = ip_str(row as usize).filter(|s| is_ip(s)) {
                    attacker_ips.insert(ip.to_owned());
                }
            }
        }
        // Keys issued by attacker-held keys, transitively, with how they were obtained.
        let mut obtained: BTreeMap<String, String> = seed_keys
            .iter()
            .map(|k| (k.clone(), "initial access: used in high-severity findings".to_owned()))
            .collect();
        let mut issued: BTreeSet<String> = BTreeSet::new();
        let mut frontier: Vec<String> = seed_keys.iter().cloned().collect();
        while let Some(k) = frontier.pop() {
            let mut kids: Vec<_> = lineage.children(&k).collect();
            kids.sort_by_key(|i| i.row);
            for child in kids {
                if obtained.contains_key(&child.key) {
                    continue;
                }
                let how = format!("{} by {} at {}", child.via, k, chrono_free_iso(store.times()[child.row]));
                obtained.insert(child.key.clone(), how);
                issued.insert(child.key.clone());
                frontier.push(child.key.clone());
            }
        }

        // The scan compares dictionary ids, not strings: one hash look-up per distinct value.
        let sym_set = |field: Field, values: &BTreeSet<String>| -> AHashSet<Sym> {
            values.iter().filter_map(|v| store.dict(field).lookup(v)).collect()
        };
        let issued_syms = sym_set(Field::AccessKeyId, &issued);
        let mut ip_syms = sym_set(Field::SourceIp, &attacker_ips);
        let mut activity = Selection::none(store.len());
        loop {
            let before = (activity.count(), ip_syms.len());
            for row in 0..store.len() {
                let (key, ip) = (keys_col[row], ip_col[row]);
                let ip_hit = ip_syms.contains(&ip);
                let key_issued = issued_syms.contains(&key);
                if key_issued || ip_hit {
                    activity.insert(row);
                    if key_issued && !ip_hit {
                        if let Some(ip_s) = ip_str(row).filter(|s| is_ip(s)) {
                            attacker_ips.insert(ip_s.to_owned());
                            ip_syms.insert(ip);
                        }
                    }
                }
            }
            if (activity.count(), ip_syms.len()) == before {
                break;
            }
        }
        let shared: AHashSet<_> =
            activity.iter().map(|r| store.column(Field::SharedEventId)[r]).filter(|s| !s.is_null()).collect();
        if !shared.is_empty() {
            for (row, s) in store.column(Field::SharedEventId).iter().enumerate() {
                if shared.contains(s) {
                    activity.insert(row);
                }
            }
        }

        let mut rules_by_row: AHashMap<usize, Vec<String>> = AHashMap::new();
        let mut flagged = Selection::none(store.len());
        for f in findings {
            for &r in &f.rows {
                if f.rule.severity >= Severity::Medium {
                    flagged.insert(r as usize);
                }
                let ids = rules_by_row.entry(r as usize).or_default();
                if !ids.contains(&f.rule.id) {
                    ids.push(f.rule.id.clone());
                }
            }
        }
        let mut suspicious = flagged.clone();
        suspicious.or(&activity);
        let rows: Vec<usize> = activity.iter().collect();

        let timeline = Timeline {
            entries: rows
                .iter()
                .map(|&r| TimelineEntry::new(store, r, rules_by_row.get(&r).cloned().unwrap_or_default()))
                .collect(),
        };

        let accounts = distinct(store, Field::RecipientAccount, 0..store.len());
        let regions = distinct(store, Field::AwsRegion, 0..store.len());
        let affected_accounts = distinct(store, Field::RecipientAccount, rows.iter().copied());
        let times = store.times();
        let iso = |r: usize| chrono_free_iso(times[r]);

        // Prefer the issuing call over "flagged" when the evidence shows how a key came to be.
        let held: BTreeSet<String> = obtained.keys().cloned().collect();
        for (key, how) in obtained.iter_mut() {
            if let Some(i) = lineage.issuance(key) {
                if let Some(parent) = i.parent_key.as_ref().filter(|p| held.contains(*p)) {
                    *how = format!("{} by {} at {}", i.via, parent, chrono_free_iso(store.times()[i.row]));
                }
            }
        }
        let mut credentials = Vec::new();
        for (key, how) in &obtained {
            let used: Vec<usize> = rows.iter().copied().filter(|&r| key_str(r) == Some(key.as_str())).collect();
            if used.is_empty() && !issued.contains(key) {
                continue;
            }
            credentials.push(Credential {
                access_key: key.clone(),
                kind: match key.get(..4).unwrap_or("") {
                    "AKIA" => "long-term",
                    "ASIA" => "temporary",
                    _ => "other",
                }
                .into(),
                principals: match distinct(store, Field::PrincipalArn, used.iter().copied()) {
                    p if p.is_empty() => lineage.issuance(key).and_then(|i| i.subject.clone()).into_iter().collect(),
                    p => p,
                },
                obtained: how.clone(),
                first_used: used.first().map(|&r| iso(r)).unwrap_or_else(|| "never used".into()),
                last_used: used.last().map(|&r| iso(r)).unwrap_or_else(|| "never used".into()),
                events: used.len(),
            });
        }
        credentials.sort_by(|a, b| (a.first_used.as_str(), &a.access_key).cmp(&(b.first_used.as_str(), &b.access_key)));

        let mut ips: BTreeMap<&str, (usize, usize, usize, BTreeSet<&str>)> = BTreeMap::new();
        for &r in &rows {
            if let Some(ip) = ip_str(r).filter(|s| is_ip(s)) {
                let e = ips.entry(ip).or_insert((0, r, r, BTreeSet::new()));
                e.0 += 1;
                e.2 = r;
                if let Some(ua) = store.event(r).str(Field::UserAgent) {
                    e.3.insert(ua);
                }
            }
        }
        let mut source_ips: Vec<SourceIp> = ips
            .into_iter()
            .map(|(ip, (n, first, last, uas))| SourceIp {
                ip: ip.into(),
                events: n,
                first_seen: iso(first),
                last_seen: iso(last),
                user_agent_kinds: uas.iter().map(|u| classify(u).label()).collect(),
                user_agents: uas.into_iter().map(str::to_owned).collect(),
            })
            .collect();
        source_ips.sort_by(|a, b| (&a.first_seen, &a.ip).cmp(&(&b.first_seen, &b.ip)));

        let mut actions: Vec<Action> = Vec::new();
        let mut action_index: AHashMap<String, usize> = AHashMap::new();
        for &r in &rows {
            let name = action_name(store, r);
            let i = *action_index.entry(name.clone()).or_insert_with(|| {
                actions.push(Action { action: name.clone(), succeeded: 0, failed: 0, first: iso(r) });
                actions.len() - 1
            });
            if store.event(r).str(Field::ErrorCode).is_some() {
                actions[i].failed += 1;
            } else {
                actions[i].succeeded += 1;
            }
        }

        let (mut persistence, mut defense_evasion, data_accessed) = (Vec::new(), Vec::new(), data_access(store, &rows));
        for &r in &rows {
            let e = store.event(r);
            let name = base_event_name(e.str(Field::EventName).unwrap_or(""));
            let into = if PERSISTENCE_CALLS.contains(&name) {
                &mut persistence
            } else if EVASION_CALLS.contains(&name) {
                &mut defense_evasion
            } else {
                continue;
            };
            let (target, detail) = describe_change(store, r, name, &accounts);
            into.push(Change {
                time: iso(r),
                account: e.str(Field::RecipientAccount).unwrap_or("").into(),
                action: action_name(store, r),
                target,
                detail,
                succeeded: e.str(Field::ErrorCode).is_none(),
                event_id: e.str(Field::EventId).unwrap_or("").into(),
            });
        }

        let mut by_rule: BTreeMap<&str, RuleCount> = BTreeMap::new();
        for f in findings {
            let c = by_rule.entry(&f.rule.id).or_insert_with(|| RuleCount {
                rule: f.rule.id.clone(),
                title: f.rule.title.clone(),
                severity: f.rule.severity,
                technique: f.rule.techniques.join(", "),
                findings: 0,
                events: 0,
            });
            c.findings += 1;
            c.events += f.rows.len();
        }
        let mut rule_counts: Vec<RuleCount> = by_rule.into_values().collect();
        rule_counts.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.rule.cmp(&b.rule)));

        let day_of = rows.first().copied().map(|r| times[r]).or(times.first().copied());
        let date = day_of.map(|t| chrono_free_iso(t)[..10].replace('-', "")).unwrap_or_else(|| "00000000".into());
        Report {
            id: format!("AWS-IR-{date}-{:03}", opts.case_seq),
            accounts,
            affected_accounts,
            regions,
            evidence_from: times.first().map(|&t| chrono_free_iso(t)),
            evidence_to: times.last().map(|&t| chrono_free_iso(t)),
            activity_from: rows.first().map(|&r| iso(r)),
            activity_to: rows.last().map(|&r| iso(r)),
            events_total: store.len(),
            evidence_files: store.sources().len(),
            manifest_sha256: None,
            suspicious_events: suspicious.count(),
            attacker_events: rows.len(),
            compromised_credentials: credentials,
            source_ips,
            actions,
            data_accessed,
            persistence,
            defense_evasion,
            findings: rule_counts,
            timeline,
        }
    }
}

fn distinct(store: &Store, field: Field, rows: impl Iterator<Item = usize>) -> Vec<String> {
    trailscope_indicators::distinct(store, field, rows).into_iter().map(str::to_owned).collect()
}

fn data_access(store: &Store, rows: &[usize]) -> Vec<DataAccess> {
    let mut acc: BTreeMap<(String, String, String), (usize, u64)> = BTreeMap::new();
    for &r in rows {
        let e = store.event(r);
        if e.str(Field::ErrorCode).is_some() {
            continue;
        }
        let f = e.fields();
        let name = e.str(Field::EventName).unwrap_or("");
        let (service, resource) = match name {
            "GetObject" | "SelectObjectContent" | "RestoreObject" => ("s3", f.get_str("requestParameters.bucketName")),
            "GetSecretValue" => ("secretsmanager", f.get_str("requestParameters.secretId")),
            "BatchGetSecretValue" => ("secretsmanager", Some("(batch)".into())),
            "GetParameter" | "GetParameters" | "GetParametersByPath"
                if f.get_str("requestParameters.withDecryption").as_deref() == Some("true") =>
            {
                (
                    "ssm",
                    f.get_str("requestParameters.name")
                        .or_else(|| f.get_str("requestParameters.path"))
                        .or_else(|| f.get("requestParameters.names").map(|v| v.to_string())),
                )
            }
            "Decrypt" => ("kms", f.get_str("requestParameters.keyId").or(Some("(key in ciphertext)".into()))),
            "CopySnapshot" | "CreateDBSnapshot" | "ModifySnapshotAttribute" | "ModifyDBSnapshotAttribute" => (
                "snapshot",
                f.get_str("requestParameters.snapshotId")
                    .or_else(|| f.get_str("requestParameters.dBSnapshotIdentifier")),
            ),
            _ => continue,
        };
        let bytes = match f.get("additionalEventData.bytesTransferredOut") {
            Some(Value::Number(n)) => n.as_f64().unwrap_or(0.0) as u64,
            Some(Value::String(s)) => s.parse().unwrap_or(0),
            _ => 0,
        };
        let account = e.str(Field::RecipientAccount).unwrap_or("").to_owned();
        let slot =
            acc.entry((service.to_owned(), resource.unwrap_or_else(|| "(unknown)".into()), account)).or_default();
        slot.0 += 1;
        slot.1 += bytes;
    }
    acc.into_iter()
        .map(|((service, resource, account), (reads, bytes_out))| DataAccess {
            service,
            resource,
            reads,
            bytes_out,
            account,
        })
        .collect()
}

/// Target and detail of a persistence or evasion call, from its request and response.
fn describe_change(store: &Store, row: usize, name: &str, known_accounts: &[String]) -> (String, String) {
    let e = store.event(row);
    let f = e.fields();
    let g = |p: &str| f.get_str(p);
    let user = g("requestParameters.userName");
    let role = g("requestParameters.roleName");
    match name {
        "CreateAccessKey" => (
            user.unwrap_or_else(|| format!("{} (self)", principal_name(store, row))),
            g("responseElements.accessKey.accessKeyId").map(|k| format!("new key {k}")).unwrap_or_default(),
        ),
        "AttachUserPolicy" | "AttachRolePolicy" | "AttachGroupPolicy" => (
            user.or(role).or_else(|| g("requestParameters.groupName")).unwrap_or_default(),
            g("requestParameters.policyArn").unwrap_or_default(),
        ),
        "PutUserPolicy" | "PutRolePolicy" | "PutGroupPolicy" => (
            user.or(role).or_else(|| g("requestParameters.groupName")).unwrap_or_default(),
            format!("inline policy {}", g("requestParameters.policyName").unwrap_or_default()),
        ),
        "CreateRole" | "UpdateAssumeRolePolicy" => {
            let doc = g("requestParameters.assumeRolePolicyDocument")
                .or_else(|| g("requestParameters.policyDocument"))
                .unwrap_or_default();
            let principals = trust_principals(&doc);
            let foreign: Vec<&String> = principals.iter().filter(|p| is_foreign(p, known_accounts)).collect();
            let detail = if principals.is_empty() {
                "trust policy not logged".to_owned()
            } else if foreign.is_empty() {
                format!("trusts {}", principals.join(", "))
            } else {
                format!(
                    "trusts {} (FOREIGN: {})",
                    principals.join(", "),
                    foreign.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                )
            };
            (role.unwrap_or_default(), detail)
        }
        "CreateUser" | "CreateLoginProfile" | "UpdateLoginProfile" | "AddUserToGroup" => (
            user.unwrap_or_default(),
            g("requestParameters.groupName").map(|gr| format!("group {gr}")).unwrap_or_default(),
        ),
        "StopLogging" | "DeleteTrail" | "UpdateTrail" => {
            (g("requestParameters.name").unwrap_or_default(), String::new())
        }
        "PutEventSelectors" => (
            g("requestParameters.trailName").unwrap_or_default(),
            f.get("requestParameters.eventSelectors")
                .or_else(|| f.get("requestParameters.advancedEventSelectors"))
                .map(|v| v.to_string())
                .unwrap_or_default(),
        ),
        _ => {
            let target =
                ["functionName", "detectorId", "keyName", "bucketName", "logGroupName", "instanceProfileName", "name"]
                    .iter()
                    .find_map(|k| g(&format!("requestParameters.{k}")))
                    .unwrap_or_default();
            (target, String::new())
        }
    }
}

/// AWS principals named in a trust policy document (as logged: a JSON string).
pub fn trust_principals(doc: &str) -> Vec<String> {
    let Ok(v) = serde_json::from_str::<Value>(doc) else { return Vec::new() };
    let mut out = BTreeSet::new();
    let statements = match &v["Statement"] {
        Value::Array(a) => a.clone(),
        s @ Value::Object(_) => vec![s.clone()],
        _ => vec![],
    };
    for s in statements {
        match &s["Principal"] {
            Value::String(p) => {
                out.insert(p.clone());
            }
            Value::Object(m) => {
                for (kind, val) in m {
                    let items = match val {
                        Value::Array(a) => a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect(),
                        Value::String(x) => vec![x.clone()],
                        _ => vec![],
                    };
                    for it in items {
                        out.insert(if kind == "AWS" { it } else { format!("{kind}:{it}") });
                    }
                }
            }
            _ => {}
        }
    }
    out.into_iter().collect()
}

/// An AWS principal outside the accounts in the evidence (or anyone: `*`).
fn is_foreign(principal: &str, known: &[String]) -> bool {
    if principal == "*" {
        return true;
    }
    let account = if principal.len() == 12 && principal.bytes().all(|b| b.is_ascii_digit()) {
        Some(principal)
    } else {
        principal.strip_prefix("arn:aws:iam::").and_then(|r| r.split(':').next())
    };
    account.is_some_and(|a| !known.iter().any(|k| k == a))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trust_documents() {
        let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::999988887777:root","123456789012"],"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
        let p = trust_principals(doc);
        assert_eq!(p, ["123456789012", "Service:ec2.amazonaws.com", "arn:aws:iam::999988887777:root"]);
        let known = vec!["123456789012".to_owned()];
        assert!(is_foreign("arn:aws:iam::999988887777:root", &known));
        assert!(!is_foreign("123456789012", &known));
        assert!(is_foreign("*", &known));
        assert!(!is_foreign("Service:ec2.amazonaws.com", &known));
        assert!(trust_principals("not json").is_empty());
    }
}
