//! Who did it: activity clustered into **actors**, each scored from its own evidence and given
//! a verdict with the reasons behind it.
//!
//! An actor is one originating credential (followed back through the lineage: a role session
//! belongs to the key that assumed it) × one source network (IPv4 /24, IPv6 /48, or "AWS") ×
//! one tool class (console, CLI, SDK, infrastructure as code, offensive tool, AWS service).
//! Two actors are merged in judgement, never by accident: a hostile verdict passes to another
//! actor only when evidence ties them — it uses a key the hostile actor issued, it is a user or
//! role the hostile actor created, or it shares the hostile actor's credential *and* network
//! with a hands-on tool (CLI, SDK, console). Infrastructure as code sharing a key and network
//! is noted, not convicted: pipelines and intruders share leaked keys.
//!
//! Owner-hygiene findings (rules marked `risk`: root sign-in, console without MFA) are listed
//! as risks and add nothing to a score. Findings on failed calls count as attempts (denied) or
//! barely at all (failed on a resource fault or limit). See `docs/report-format.md`.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;

use ahash::{AHashMap, AHashSet};
use serde::Serialize;
use trailscope_enrich::{Enricher, IpInfo};
use trailscope_indicators::useragent::{classify, normalize, UserAgentClass};
use trailscope_indicators::{base_event_name, Finding, Severity};
use trailscope_store::{Field, Store, Sym, SymColumn};

use crate::change::{logging_direction, Direction};
use crate::lineage::Lineage;
use crate::Time;

/// What kind of client an actor uses, coarse enough that one person's tool stays one class.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ToolClass {
    /// A browser on the AWS console.
    Console,
    /// The AWS CLI.
    Cli,
    /// An AWS SDK.
    Sdk,
    /// Terraform, CloudFormation, CDK, Pulumi.
    InfrastructureAsCode,
    /// A known offensive tool or offensive Linux distribution.
    OffensiveTool,
    /// A security posture scanner (Prowler, ScoutSuite, ...).
    Scanner,
    /// An AWS service acting on its own or for a principal.
    AwsService,
    /// Anything else, or no user agent.
    Other,
}

impl ToolClass {
    /// Label for reports.
    pub fn label(self) -> &'static str {
        match self {
            ToolClass::Console => "console",
            ToolClass::Cli => "CLI",
            ToolClass::Sdk => "SDK",
            ToolClass::InfrastructureAsCode => "IaC",
            ToolClass::OffensiveTool => "offensive tool",
            ToolClass::Scanner => "security scanner",
            ToolClass::AwsService => "AWS service",
            ToolClass::Other => "other",
        }
    }

    fn of(ua: &str) -> ToolClass {
        match classify(ua) {
            UserAgentClass::OffensiveTool(_) => ToolClass::OffensiveTool,
            UserAgentClass::SecurityScanner(_) => ToolClass::Scanner,
            UserAgentClass::Console => ToolClass::Console,
            UserAgentClass::AwsCli(_) => ToolClass::Cli,
            UserAgentClass::Sdk(_) => ToolClass::Sdk,
            UserAgentClass::InfrastructureAsCode(_) => ToolClass::InfrastructureAsCode,
            UserAgentClass::AwsService(_) => ToolClass::AwsService,
            UserAgentClass::Other => ToolClass::Other,
        }
    }

    /// A person or script typing commands: a hostile verdict passes between such tools on the
    /// same credential and network.
    fn hands_on(self) -> bool {
        !matches!(self, ToolClass::InfrastructureAsCode | ToolClass::AwsService)
    }
}

/// The conclusion about an actor.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// The intruder.
    Attacker,
    /// Hostile signs, not enough to conclude.
    Suspicious,
    /// Not enough evidence either way.
    Unknown,
    /// The account's owner, its automation, or AWS itself.
    Benign,
}

impl Verdict {
    /// Label for reports.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Attacker => "attacker",
            Verdict::Suspicious => "suspicious",
            Verdict::Unknown => "unknown",
            Verdict::Benign => "benign/owner",
        }
    }
}

/// Why an actor scored what it did.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReasonKind {
    /// An examiner's IOC matched.
    Ioc,
    /// A detection rule fired on its events.
    Finding,
    /// Calls from an offensive tool or distribution.
    OffensiveTool,
    /// Calls from a security posture scanner.
    Scanner,
    /// It widened its own rights.
    SelfEscalation,
    /// Reconnaissance with many denials.
    ReconWithDenials,
    /// It created users, passwords or keys for others.
    NewCredentials,
    /// It reduced logging or detection.
    LoggingWeakened,
    /// The credential's first use from this network, after history elsewhere.
    NewNetworkForCredential,
    /// The credential's first use with this tool, after history with others.
    NewToolForCredential,
    /// Its first call was `GetCallerIdentity` ("whoami").
    WhoAmIFirst,
    /// It used a key a hostile actor issued.
    IssuedByHostileActor,
    /// It is a user or role a hostile actor created.
    CreatedByHostileActor,
    /// Same credential and network as a hostile actor, with a hands-on tool.
    SameCredentialAndNetwork,
    /// Same credential and network as a hostile actor, but automation (noted, not convicted).
    SharesCredentialWithHostileActor,
    /// The examiner vouched for it (`--trust`).
    Trusted,
    /// Active from the start of the evidence with this credential, network and tool: findings
    /// and new credentials weigh half (owners administer; intruders arrive).
    Established,
    /// Findings on resources its own credential created earlier (set-up and tear-down).
    OwnResources,
    /// An established actor's new access key for a user whose other key it retired within a
    /// day: a rotation, not a new way in.
    KeyRotation,
    /// Calls from EC2 address space (`--aws-ranges`) with a user's credential, from a network
    /// neither it nor its principals used before: a rented cloud server is typical of intruders.
    AwsAddressSpace,
    /// The credential's first use from an autonomous system (`--asn`) after history in others.
    NewAsnForCredential,
    /// An EC2 instance's role session (named after the instance) calling from a public address
    /// outside AWS's published ranges (`--aws-ranges`): the instance's credentials were copied
    /// off it.
    InstanceCredentialsOutsideAws,
}

/// One reason, with its weight and the evidence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Reason {
    /// What kind of evidence.
    pub kind: ReasonKind,
    /// Points added to the score.
    pub points: i32,
    /// In the examiner's words.
    pub detail: String,
    /// Rule id, for findings.
    pub rule: Option<String>,
    /// Up to five event ids showing it.
    pub event_ids: Vec<String>,
    /// The first row showing it: findings on one event count once, at their heaviest.
    #[serde(skip)]
    anchor: Option<u32>,
}

/// A stretch of activity without a pause longer than the session gap.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Session {
    /// First event.
    pub start: Time,
    /// Last event.
    pub end: Time,
    /// Events.
    pub events: usize,
    /// Failed calls.
    pub errors: usize,
}

/// One actor.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Actor {
    /// Rank, from 1 (most hostile first).
    pub id: usize,
    /// Verdict.
    pub verdict: Verdict,
    /// How sure (0..1).
    pub confidence: f64,
    /// Sum of the reasons' points.
    pub score: i32,
    /// The originating credential: a long-term key, or a principal ARN when the evidence shows
    /// no key (console sign-ins, sessions issued outside the evidence).
    pub credential: String,
    /// Access keys used, in order of first use.
    pub access_keys: Vec<String>,
    /// Principals (ARNs) acting.
    pub principals: Vec<String>,
    /// Accounts whose trails logged it.
    pub accounts: Vec<String>,
    /// Source network: `a.b.c.0/24`, `x:y:z::/48`, or `AWS` for AWS services.
    pub network: String,
    /// Source IPs (or service names).
    pub source_ips: Vec<String>,
    /// Tool class.
    pub tool: ToolClass,
    /// User agents (normalised), most used first.
    pub user_agents: Vec<String>,
    /// First event.
    pub first_seen: Time,
    /// Last event.
    pub last_seen: Time,
    /// Events.
    pub events: usize,
    /// Failed calls.
    pub errors: usize,
    /// Calls denied for lack of permission.
    pub denied: usize,
    /// Reasons, heaviest first.
    pub reasons: Vec<Reason>,
    /// Risk (hygiene) rules that fired on its events: reported, never scored.
    pub risks: Vec<String>,
    /// Actors the evidence ties it to (by id).
    pub linked_to: Vec<usize>,
    /// Sessions, split at inactivity.
    pub sessions: Vec<Session>,
    /// Every event id, in time order.
    pub event_ids: Vec<String>,
    /// Store rows, ascending.
    #[serde(skip)]
    pub rows: Vec<u32>,
}

/// What the examiner vouches for (`--trust KIND=VALUE`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Trust {
    /// A principal: full ARN, or a part of it (`user/alice`).
    Principal(String),
    /// A source IP or CIDR.
    Ip(ipnet::IpNet),
    /// An access key id.
    Key(String),
    /// A user agent substring.
    UserAgent(String),
}

impl Trust {
    /// Parse `principal=...`, `ip=...` (address or CIDR), `key=...` or `ua=...`.
    ///
    /// # Errors
    /// A message naming what is wrong.
    pub fn parse(s: &str) -> Result<Trust, String> {
        let (kind, value) = s.split_once('=').ok_or_else(|| format!("{s:?}: expected KIND=VALUE"))?;
        let value = value.trim();
        if value.is_empty() {
            return Err(format!("{s:?}: empty value"));
        }
        Ok(match kind.trim() {
            "principal" => Trust::Principal(value.into()),
            "ip" => Trust::Ip(match value.parse::<ipnet::IpNet>() {
                Ok(n) => n,
                Err(_) => ipnet::IpNet::from(
                    value.parse::<IpAddr>().map_err(|_| format!("{s:?}: not an IP address or CIDR"))?,
                ),
            }),
            "key" => Trust::Key(value.into()),
            "ua" => Trust::UserAgent(value.into()),
            k => return Err(format!("{s:?}: unknown kind {k:?} (principal, ip, key or ua)")),
        })
    }

    /// As given on the command line.
    pub fn describe(&self) -> String {
        match self {
            Trust::Principal(p) => format!("principal={p}"),
            Trust::Ip(n) => format!("ip={n}"),
            Trust::Key(k) => format!("key={k}"),
            Trust::UserAgent(u) => format!("ua={u}"),
        }
    }
}

/// Attribution settings.
#[derive(Clone, Debug)]
pub struct ActorOptions {
    /// A pause longer than this starts a new session.
    pub session_gap_ms: i64,
    /// Examiner overrides.
    pub trust: Vec<Trust>,
    /// The examiner's GeoIP/ASN/AWS-ranges databases (`--geoip`, `--asn`, `--aws-ranges`):
    /// with them, AWS address space and autonomous-system novelty are scored, and the report
    /// enriches every public source IP.
    pub enricher: Option<Arc<Enricher>>,
}

impl Default for ActorOptions {
    fn default() -> Self {
        ActorOptions { session_gap_ms: 30 * 60_000, trust: Vec::new(), enricher: None }
    }
}

/// Score at or above which an actor is the attacker.
pub const ATTACKER_SCORE: i32 = 50;
/// Score at or above which an actor is suspicious.
pub const SUSPICIOUS_SCORE: i32 = 20;
/// Score at or above which an actor is unknown rather than benign.
pub const UNKNOWN_SCORE: i32 = 10;
const TIE_POINTS: i32 = 50;

/// Every actor, ranked, and which actor each event belongs to.
#[derive(Clone, Debug, Default)]
pub struct Actors {
    /// Ranked: attackers first, then suspicious, unknown, benign; by score within each.
    pub actors: Vec<Actor>,
    /// Per store row, the index into `actors`.
    pub of_row: Vec<u32>,
}

impl Actors {
    /// Rows of hostile (attacker-verdict) actors, ascending.
    pub fn attacker_rows(&self) -> Vec<usize> {
        (0..self.of_row.len()).filter(|&r| self.actors[self.of_row[r] as usize].verdict == Verdict::Attacker).collect()
    }

    /// The actor of a row.
    pub fn of(&self, row: usize) -> &Actor {
        &self.actors[self.of_row[row] as usize]
    }
}

/// Outcome of a call.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum CallOutcome {
    /// No error.
    Ok,
    /// Refused for lack of permission.
    Denied,
    /// Failed otherwise (resource state, limits, not found, throttling).
    Failed,
}

/// Whether an error code means "not allowed".
pub fn is_denial(code: &str) -> bool {
    let c = code.to_ascii_lowercase();
    // Some records (old or re-exported) carry the HTTP status instead of a name.
    c.contains("accessdenied")
        || c.contains("unauthorized")
        || c.contains("notauthorized")
        || c.contains("forbidden")
        || c == "403"
        || c == "401"
}

/// The outcome of a row's call.
pub fn outcome(store: &Store, row: usize) -> CallOutcome {
    match store.event(row).str(Field::ErrorCode) {
        None => CallOutcome::Ok,
        Some(c) if is_denial(c) => CallOutcome::Denied,
        // ConsoleLogin failures carry the error and a "Failure" response.
        Some(_) => CallOutcome::Failed,
    }
}

fn network_of(ip: &str) -> String {
    match ip.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => {
            let o = v4.octets();
            format!("{}.{}.{}.0/24", o[0], o[1], o[2])
        }
        Ok(IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
        }
        Err(_) if ip.is_empty() => "unknown".into(),
        Err(_) if ip.ends_with("amazonaws.com") || ip == "AWS Internal" => "AWS".into(),
        Err(_) => ip.to_owned(),
    }
}

/// `(account, name)` of the IAM user or role behind a principal ARN.
fn principal_entity(arn: &str) -> Option<(String, String)> {
    let rest = arn.strip_prefix("arn:aws")?;
    let mut parts = rest.splitn(5, ':');
    let (_, _svc, _, account, res) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if let Some(u) = res.strip_prefix("user/") {
        return Some((account.into(), u.rsplit('/').next()?.into()));
    }
    if let Some(r) = res.strip_prefix("assumed-role/") {
        return Some((account.into(), r.split('/').next()?.into()));
    }
    if let Some(r) = res.strip_prefix("role/") {
        return Some((account.into(), r.rsplit('/').next()?.into()));
    }
    None
}

#[derive(Default)]
struct Cluster {
    origin: u32,
    network: u32,
    tool: Option<ToolClass>,
    rows: Vec<u32>,
    keys: Vec<Sym>,
    ips: AHashSet<Sym>,
    uas: AHashMap<Sym, usize>,
    principals: AHashSet<Sym>,
    accounts: AHashSet<Sym>,
    errors: usize,
    denied: usize,
    reasons: Vec<Reason>,
    risks: BTreeSet<String>,
    linked: BTreeSet<usize>,
    trusted: Option<String>,
    tied: bool,
}

impl Cluster {
    fn score(&self) -> i32 {
        self.reasons.iter().map(|r| r.points).sum()
    }
    /// A medium-or-above finding counted at full weight, and nothing saying the actor has been
    /// here all along.
    fn unvouched_finding(&self) -> bool {
        let established = self.reasons.iter().any(|r| r.kind == ReasonKind::Established);
        !established
            && self.reasons.iter().any(|r| {
                matches!(r.kind, ReasonKind::Finding | ReasonKind::NewCredentials | ReasonKind::LoggingWeakened)
                    && r.points >= 8
            })
    }

    fn hostile(&self) -> bool {
        self.trusted.is_none() && (self.tied || self.score() >= ATTACKER_SCORE)
    }
    fn add(&mut self, kind: ReasonKind, points: i32, detail: String, rule: Option<String>, event_ids: Vec<String>) {
        if let Some(r) = self.reasons.iter_mut().find(|r| r.kind == kind && r.rule == rule) {
            if points > r.points {
                r.points = points;
                r.detail = detail;
            }
            for e in event_ids {
                if r.event_ids.len() < 5 && !r.event_ids.contains(&e) {
                    r.event_ids.push(e);
                }
            }
            return;
        }
        self.reasons.push(Reason { kind, points, detail, rule, event_ids, anchor: None });
    }
}

fn severity_points(s: Severity) -> i32 {
    match s {
        Severity::Critical => 40,
        Severity::High => 25,
        Severity::Medium => 8,
        Severity::Low => 2,
        Severity::Informational => 0,
    }
}

/// Calls that widen the rights of a user or role named in the request.
const ESCALATION_CALLS: &[&str] = &[
    "AttachUserPolicy",
    "PutUserPolicy",
    "AttachRolePolicy",
    "PutRolePolicy",
    "AddUserToGroup",
    "CreatePolicyVersion",
];
/// Calls that give someone a new way in.
const NEW_CREDENTIAL_CALLS: &[&str] = &["CreateUser", "CreateLoginProfile", "UpdateLoginProfile", "CreateAccessKey"];

/// Cluster the store's activity into actors, score and rank them.
pub fn attribute(store: &Store, findings: &[Finding], lineage: &Lineage, opts: &ActorOptions) -> Actors {
    let n = store.len();
    let event_id = |row: usize| store.event(row).str(Field::EventId).unwrap_or("").to_owned();
    let (key_col, ip_col, ua_col) =
        (store.column(Field::AccessKeyId), store.column(Field::SourceIp), store.column(Field::UserAgent));
    let (arn_col, type_col, acct_col) =
        (store.column(Field::PrincipalArn), store.column(Field::IdentityType), store.column(Field::RecipientAccount));
    let err_col = store.column(Field::ErrorCode);

    // Labels interned once per distinct value: the per-row loop only hashes small integers.
    let mut labels: Vec<String> = Vec::new();
    let mut label_ids: AHashMap<String, u32> = AHashMap::new();
    let mut intern = |s: String| -> u32 {
        if let Some(&i) = label_ids.get(&s) {
            return i;
        }
        labels.push(s.clone());
        label_ids.insert(s, labels.len() as u32 - 1);
        labels.len() as u32 - 1
    };
    let mut origin_of_key: AHashMap<Sym, u32> = AHashMap::new();
    let mut origin_of_principal: AHashMap<(Sym, Sym, Sym), u32> = AHashMap::new();
    let mut network_of_ip: AHashMap<Sym, u32> = AHashMap::new();
    let mut tool_of_ua: AHashMap<Sym, ToolClass> = AHashMap::new();
    let mut denial_of_err: AHashMap<Sym, bool> = AHashMap::new();
    let mut cluster_of: AHashMap<(u32, u32, ToolClass), u32> = AHashMap::new();
    let mut clusters: Vec<Cluster> = Vec::new();
    let mut of_row: Vec<u32> = Vec::with_capacity(n);

    let service_type = store.dict(Field::IdentityType).lookup("AWSService");
    for row in 0..n {
        let e = store.event(row);
        let service = service_type.is_some() && Some(type_col.get(row)) == service_type;
        // Services are named by what they are, whatever identity fields they carry; everyone
        // else as the report names principals.
        let principal_label = |e: &trailscope_store::Event<'_>| -> String {
            if service {
                format!("service:{}", e.str(Field::InvokedBy).or(e.str(Field::SourceIp)).unwrap_or("?"))
            } else {
                crate::timeline::principal_name(store, row)
            }
        };
        let origin = if !key_col.get(row).is_null() && !service {
            match origin_of_key.get(&key_col.get(row)) {
                Some(&o) => o,
                None => {
                    let key = store.dict(Field::AccessKeyId).get(key_col.get(row));
                    let label = match lineage.origin(key) {
                        Some((k, _)) if k.starts_with("AKIA") => k.to_owned(),
                        Some((_, Some(p))) => p.to_owned(),
                        Some((k, None)) => k.to_owned(),
                        None if key.starts_with("AKIA") => key.to_owned(),
                        // Console and instance sessions rotate keys the evidence never issues:
                        // the principal is the stable credential.
                        None => principal_label(&e),
                    };
                    let o = intern(label);
                    origin_of_key.insert(key_col.get(row), o);
                    o
                }
            }
        } else {
            let k = (arn_col.get(row), type_col.get(row), if service { ip_col.get(row) } else { Sym::NULL });
            match origin_of_principal.get(&k) {
                Some(&o) => o,
                None => {
                    let o = intern(principal_label(&e));
                    origin_of_principal.insert(k, o);
                    o
                }
            }
        };
        let network = match network_of_ip.get(&ip_col.get(row)) {
            Some(&w) => w,
            None => {
                let w = intern(network_of(e.str(Field::SourceIp).unwrap_or("")));
                network_of_ip.insert(ip_col.get(row), w);
                w
            }
        };
        let tool = if service {
            ToolClass::AwsService
        } else {
            *tool_of_ua.entry(ua_col.get(row)).or_insert_with(|| ToolClass::of(e.str(Field::UserAgent).unwrap_or("")))
        };
        let id = *cluster_of.entry((origin, network, tool)).or_insert_with(|| {
            clusters.push(Cluster { origin, network, tool: Some(tool), ..Cluster::default() });
            clusters.len() as u32 - 1
        });
        of_row.push(id);
    }

    // The copy of a cross-account call that the target account logs names only the calling
    // account: it belongs with its twin (same sharedEventID).
    let shared_col = store.column(Field::SharedEventId);
    let account_type = store.dict(Field::IdentityType).lookup("AWSAccount");
    if account_type.is_some() {
        let mut twin: AHashMap<Sym, u32> = AHashMap::new();
        for (row, &c) in of_row.iter().enumerate() {
            if !shared_col.get(row).is_null() && Some(type_col.get(row)) != account_type {
                twin.entry(shared_col.get(row)).or_insert(c);
            }
        }
        for (row, slot) in of_row.iter_mut().enumerate() {
            if !shared_col.get(row).is_null() && Some(type_col.get(row)) == account_type {
                if let Some(&c) = twin.get(&shared_col.get(row)) {
                    *slot = c;
                }
            }
        }
    }

    for (row, &c) in of_row.iter().enumerate() {
        let cl = &mut clusters[c as usize];
        cl.rows.push(row as u32);
        if !key_col.get(row).is_null() && !cl.keys.contains(&key_col.get(row)) {
            cl.keys.push(key_col.get(row));
        }
        cl.ips.insert(ip_col.get(row));
        *cl.uas.entry(ua_col.get(row)).or_default() += 1;
        cl.principals.insert(arn_col.get(row));
        cl.accounts.insert(acct_col.get(row));
        if !err_col.get(row).is_null() {
            cl.errors += 1;
            let denied = *denial_of_err
                .entry(err_col.get(row))
                .or_insert_with(|| is_denial(store.dict(Field::ErrorCode).get(err_col.get(row))));
            if denied {
                cl.denied += 1;
            }
        }
    }

    // Examiner overrides.
    for cl in clusters.iter_mut() {
        for t in &opts.trust {
            let hit = match t {
                Trust::Principal(p) => cl
                    .principals
                    .iter()
                    .any(|&s| store.dict(Field::PrincipalArn).resolve(s).is_some_and(|a| a.contains(p.as_str()))),
                Trust::Ip(net) => cl.ips.iter().any(|&s| {
                    store
                        .dict(Field::SourceIp)
                        .resolve(s)
                        .and_then(|i| i.parse::<IpAddr>().ok())
                        .is_some_and(|i| net.contains(&i))
                }),
                Trust::Key(k) => {
                    labels[cl.origin as usize] == *k
                        || cl.keys.iter().any(|&s| store.dict(Field::AccessKeyId).get(s) == k.as_str())
                }
                Trust::UserAgent(u) => cl
                    .uas
                    .keys()
                    .any(|&s| store.dict(Field::UserAgent).resolve(s).is_some_and(|a| a.contains(u.as_str()))),
            };
            if hit && cl.trusted.is_none() {
                cl.trusted = Some(t.describe());
            }
        }
    }

    let own = OwnResources::build(store, &of_row, &clusters);
    score_findings(store, findings, &of_row, &mut clusters, &event_id, &own);
    score_behaviour(store, &mut clusters, &labels, &event_id, &own);
    settle(store, &mut clusters);
    if let Some(enricher) = &opts.enricher {
        score_enrichment(store, &mut clusters, &labels, enricher, lineage, &event_id);
    }
    propagate(store, lineage, &of_row, &mut clusters, &labels, &event_id);

    // Rank and build the public model.
    let mut order: Vec<usize> = (0..clusters.len()).filter(|&c| !clusters[c].rows.is_empty()).collect();
    let verdict_of = |cl: &Cluster| -> Verdict {
        if cl.trusted.is_some() || cl.tool == Some(ToolClass::AwsService) && !cl.hostile() {
            return Verdict::Benign;
        }
        match cl.score() {
            _ if cl.hostile() => Verdict::Attacker,
            s if s >= SUSPICIOUS_SCORE => Verdict::Suspicious,
            s if s >= UNKNOWN_SCORE => Verdict::Unknown,
            // Benign needs evidence of ownership: an actor with no history whose activity still
            // raised a medium-or-above finding is unknown, not the owner.
            _ if cl.unvouched_finding() => Verdict::Unknown,
            _ => Verdict::Benign,
        }
    };
    let times = store.times();
    order.sort_by(|&a, &b| {
        let (ca, cb) = (&clusters[a], &clusters[b]);
        (verdict_of(ca), -ca.score(), times[ca.rows[0] as usize], a).cmp(&(
            verdict_of(cb),
            -cb.score(),
            times[cb.rows[0] as usize],
            b,
        ))
    });
    let mut rank = vec![0usize; clusters.len()];
    for (i, &c) in order.iter().enumerate() {
        rank[c] = i;
    }
    let actors = order
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            let cl = &mut clusters[c];
            let verdict = verdict_of(cl);
            let score = cl.score();
            let confidence = match verdict {
                Verdict::Attacker => {
                    let own = 0.6 + 0.4 * ((score - ATTACKER_SCORE).max(0) as f64 / 100.0).min(1.0);
                    if cl.tied {
                        own.max(0.85)
                    } else {
                        own
                    }
                }
                Verdict::Suspicious => 0.5 + 0.3 * (score - SUSPICIOUS_SCORE) as f64 / 30.0,
                Verdict::Unknown => 0.5,
                Verdict::Benign if cl.trusted.is_some() => 1.0,
                Verdict::Benign if cl.tool == Some(ToolClass::AwsService) => 0.95,
                Verdict::Benign => 0.9 - 0.04 * score.max(0) as f64,
            };
            let mut reasons = std::mem::take(&mut cl.reasons);
            if let Some(t) = &cl.trusted {
                reasons.push(Reason {
                    kind: ReasonKind::Trusted,
                    points: 0,
                    detail: format!("trusted by the examiner (--trust {t})"),
                    rule: None,
                    event_ids: Vec::new(),
                    anchor: None,
                });
            }
            reasons.sort_by(|a, b| b.points.cmp(&a.points).then(a.kind.cmp(&b.kind)));
            let strs = |field: Field, set: &mut dyn Iterator<Item = Sym>| -> Vec<String> {
                let v: BTreeSet<String> = set.filter_map(|s| store.dict(field).resolve(s).map(str::to_owned)).collect();
                v.into_iter().collect()
            };
            let mut uas: Vec<(&Sym, &usize)> = cl.uas.iter().collect();
            uas.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            let mut user_agents: Vec<String> = Vec::new();
            for (s, _) in uas {
                if let Some(u) = store.dict(Field::UserAgent).resolve(*s) {
                    let u = normalize(u).to_owned();
                    if !user_agents.contains(&u) {
                        user_agents.push(u);
                    }
                }
            }
            let rows = std::mem::take(&mut cl.rows);
            Actor {
                id: i + 1,
                verdict,
                confidence: (confidence.clamp(0.0, 1.0) * 100.0).round() / 100.0,
                score,
                credential: labels[cl.origin as usize].clone(),
                access_keys: cl.keys.iter().map(|&k| store.dict(Field::AccessKeyId).get(k).to_owned()).collect(),
                principals: strs(Field::PrincipalArn, &mut cl.principals.iter().copied()),
                accounts: strs(Field::RecipientAccount, &mut cl.accounts.iter().copied()),
                network: labels[cl.network as usize].clone(),
                source_ips: strs(Field::SourceIp, &mut cl.ips.iter().copied()),
                tool: cl.tool.unwrap_or(ToolClass::Other),
                user_agents,
                first_seen: Time(times[rows[0] as usize]),
                last_seen: Time(times[*rows.last().unwrap_or(&rows[0]) as usize]),
                events: rows.len(),
                errors: cl.errors,
                denied: cl.denied,
                reasons,
                risks: cl.risks.iter().cloned().collect(),
                linked_to: cl.linked.iter().map(|&l| rank[l] + 1).collect(),
                sessions: sessions(times, &rows, err_col, opts.session_gap_ms),
                event_ids: rows.iter().map(|&r| event_id(r as usize)).collect(),
                rows,
            }
        })
        .collect();
    let of_row = of_row.into_iter().map(|c| rank[c as usize] as u32).collect();
    Actors { actors, of_row }
}

/// Resources each credential created in the evidence, so that acting on them later (a tear-down
/// deleting the log group its own set-up made) is not read as an attack on someone else's.
struct OwnResources {
    created: AHashMap<(String, String), (u32, usize)>,
    of_row: Vec<u32>,
    origins: Vec<u32>,
    /// `CreateAccessKey` rows whose principal deactivated or deleted another key of the same
    /// user within a day, before or after ([`key_rotations`]).
    rotations: AHashSet<usize>,
}

/// How far apart the new key and the retired one may be for a rotation.
const ROTATION_WINDOW_MS: i64 = 24 * 3_600_000;

/// Successful `CreateAccessKey` calls that are half of a rotation: the same principal made a
/// key for a user and deactivated (`UpdateAccessKey` to `Inactive`) or deleted another key of
/// that user, in the same account, within [`ROTATION_WINDOW_MS`]. Owners rotate keys, and do so
/// when cleaning up after an intrusion; an intruder making a key for someone rarely retires
/// theirs (the owner would notice), and only established actors get the benefit.
fn key_rotations(store: &Store) -> AHashSet<usize> {
    let dict = store.dict(Field::EventName);
    let (create, update, delete) =
        (dict.lookup("CreateAccessKey"), dict.lookup("UpdateAccessKey"), dict.lookup("DeleteAccessKey"));
    if create.is_none() || (update.is_none() && delete.is_none()) {
        return AHashSet::new();
    }
    let (names, principals, times) = (store.column(Field::EventName), store.column(Field::PrincipalArn), store.times());
    // (account, user) -> (time, principal, new or retired key) of each call.
    type Calls = AHashMap<(String, String), Vec<(i64, Sym, String, usize)>>;
    let (mut made, mut retired): (Calls, Calls) = (AHashMap::new(), AHashMap::new());
    for (row, name) in names.iter().enumerate() {
        let kind = Some(name);
        if (kind != create && kind != update && kind != delete) || outcome(store, row) != CallOutcome::Ok {
            continue;
        }
        let e = store.event(row);
        let f = e.fields();
        // Without a user name the call is about the caller's own keys: not someone else's.
        let Some(user) = f.get_str("requestParameters.userName") else { continue };
        let target = (e.str(Field::RecipientAccount).unwrap_or("").to_owned(), user);
        let call = |key: Option<String>| (times[row], principals.get(row), key.unwrap_or_default(), row);
        if kind == create {
            made.entry(target).or_default().push(call(f.get_str("responseElements.accessKey.accessKeyId")));
        } else if kind == delete
            || f.get_str("requestParameters.status").is_some_and(|s| s.eq_ignore_ascii_case("Inactive"))
        {
            retired.entry(target).or_default().push(call(f.get_str("requestParameters.accessKeyId")));
        }
    }
    let mut rotations = AHashSet::new();
    for (target, creates) in &made {
        let Some(retires) = retired.get(target) else { continue };
        for (t, who, key, row) in creates {
            let rotated = retires.iter().any(|(t2, who2, old, _)| {
                who2 == who && !who.is_null() && old != key && (t2 - t).abs() <= ROTATION_WINDOW_MS
            });
            if rotated {
                rotations.insert(*row);
            }
        }
    }
    rotations
}

const CREATE_CALLS: &[&str] = &[
    "CreateRole",
    "CreateUser",
    "CreateLogGroup",
    "CreateFunction20150331",
    "CreateFunction",
    "CreateBucket",
    "CreateSecurityGroup",
    "CreateTrail",
    "CreatePolicy",
    "CreateDetector",
    "CreateFlowLogs",
    "CreateVpc",
];
const HANDLE_KEYS: &[&str] =
    &["roleName", "userName", "logGroupName", "functionName", "bucketName", "groupName", "policyName", "name"];

fn handles(f: &trailscope_store::Fields<'_>, account: &str) -> Vec<(String, String)> {
    HANDLE_KEYS
        .iter()
        .filter_map(|k| {
            let v = f.get_str(&format!("requestParameters.{k}"))?;
            let v = if *k == "name" { crate::change::trail_name(&v) } else { v };
            Some((account.to_owned(), format!("{k}={v}")))
        })
        .collect()
}

impl OwnResources {
    fn build(store: &Store, of_row: &[u32], clusters: &[Cluster]) -> OwnResources {
        let dict = store.dict(Field::EventName);
        let syms: Vec<Sym> = CREATE_CALLS.iter().filter_map(|n| dict.lookup(n)).collect();
        let origins: Vec<u32> = clusters.iter().map(|c| c.origin).collect();
        let mut created = AHashMap::new();
        for (row, s) in store.column(Field::EventName).iter().enumerate() {
            if !syms.contains(&s) || outcome(store, row) != CallOutcome::Ok {
                continue;
            }
            let e = store.event(row);
            let account = e.str(Field::RecipientAccount).unwrap_or("");
            for h in handles(&e.fields(), account) {
                created.entry(h).or_insert((origins[of_row[row] as usize], row));
            }
        }
        OwnResources { created, of_row: of_row.to_vec(), origins, rotations: key_rotations(store) }
    }

    /// The call at `row` made a key that replaced another of the same user ([`key_rotations`]).
    fn rotates(&self, row: usize) -> bool {
        self.rotations.contains(&row)
    }

    fn cluster_of(&self, row: usize) -> u32 {
        self.of_row[row]
    }

    /// The call at `row` (by cluster `c`) names a resource its credential created before.
    fn acts_on_own(&self, store: &Store, row: usize, c: u32) -> bool {
        if self.created.is_empty() {
            return false;
        }
        let e = store.event(row);
        let account = e.str(Field::RecipientAccount).unwrap_or("");
        let hs = handles(&e.fields(), account);
        !hs.is_empty()
            && hs.iter().all(|h| {
                self.created.get(h).is_some_and(|&(origin, at)| origin == self.origins[c as usize] && at < row)
            })
    }
}

/// Active from the start of the evidence (its first fifth, at least 6 h) for at least a day.
fn established(times: &[i64], rows: &[u32]) -> bool {
    let (Some(&start), Some(&end)) = (times.first(), times.last()) else { return false };
    let early = start + ((end - start) / 5).max(6 * 3_600_000);
    let (Some(&a), Some(&b)) = (rows.first(), rows.last()) else { return false };
    let (first, last) = (times[a as usize], times[b as usize]);
    first <= early && last - first >= 24 * 3_600_000
}

/// Points for calls from EC2 address space; for the first use of an autonomous system.
const AWS_SPACE_POINTS: i32 = 10;
const NEW_ASN_POINTS: i32 = 10;
/// The metadata service hands instance credentials out on the instance only, but addresses
/// outside the published ranges can still be the owner's (an outdated ranges file, Elastic IPs
/// from the owner's own block, egress through an on-premises proxy). A first call from outside
/// also scores the new network (15) and usually `ts-new-source-ip` (8): together suspicious, an
/// attacker with anything more.
const INSTANCE_OUTSIDE_AWS_POINTS: i32 = 20;

/// The instance id when `arn` is an EC2 instance profile's role session
/// (`arn:aws:sts::<account>:assumed-role/<role>/i-<8 or 17 hex digits>`).
pub fn instance_session(arn: &str) -> Option<&str> {
    let (_, role_and_session) = arn.split_once(":assumed-role/")?;
    let (_, session) = role_and_session.rsplit_once('/')?;
    let hex = session.strip_prefix("i-")?;
    (matches!(hex.len(), 8 | 17) && hex.bytes().all(|b| b.is_ascii_hexdigit())).then_some(session)
}

/// With the examiner's databases: a user's credential calling from EC2 address space new to it,
/// and a credential's first use from an autonomous system after history in others.
///
/// History is the credential's and its principals' (a rotated key inherits where its user
/// worked). EC2 space is not held against infrastructure as code, AWS services, role sessions
/// (the way workloads on EC2 call AWS) or established actors: owners run automation there too.
fn score_enrichment(
    store: &Store,
    clusters: &mut [Cluster],
    labels: &[String],
    enricher: &Enricher,
    lineage: &Lineage,
    event_id: &dyn Fn(usize) -> String,
) {
    let times = store.times();
    let ip_col = store.column(Field::SourceIp);
    let dict = store.dict(Field::SourceIp);
    let principals = store.dict(Field::PrincipalArn);
    let (principal_col, key_col, keys) =
        (store.column(Field::PrincipalArn), store.column(Field::AccessKeyId), store.dict(Field::AccessKeyId));
    let mut cache: AHashMap<Sym, Option<IpInfo>> = AHashMap::new();
    // Per cluster: its public addresses in order, with what the databases say.
    let facts: Vec<Vec<(Sym, String, IpInfo)>> = clusters
        .iter()
        .map(|cl| {
            let mut ips: Vec<(Sym, String, IpInfo)> = cl
                .ips
                .iter()
                .filter_map(|&s| {
                    let ip = dict.resolve(s)?;
                    let info = cache.entry(s).or_insert_with(|| enricher.enrich(ip).ok()).clone()?;
                    Some((s, ip.to_owned(), info))
                })
                .collect();
            ips.sort_by(|a, b| a.1.cmp(&b.1));
            ips
        })
        .collect();
    let asns = |c: usize| -> BTreeMap<u32, String> {
        facts[c].iter().filter_map(|(_, _, i)| i.asn.map(|n| (n, i.autonomous_system().unwrap_or_default()))).collect()
    };
    let start = |cl: &Cluster| times[cl.rows[0] as usize];
    let live = |cl: &Cluster| !cl.rows.is_empty() && cl.tool != Some(ToolClass::AwsService);
    let mut by_origin: AHashMap<u32, Vec<usize>> = AHashMap::new();
    let mut by_principal: AHashMap<Sym, Vec<usize>> = AHashMap::new();
    for (i, cl) in clusters.iter().enumerate().filter(|(_, cl)| live(cl)) {
        by_origin.entry(cl.origin).or_default().push(i);
        for &p in cl.principals.iter().filter(|p| !p.is_null()) {
            by_principal.entry(p).or_default().push(i);
        }
    }
    let mut adds: Vec<(usize, ReasonKind, i32, String, usize)> = Vec::new();
    for (c, cl) in clusters.iter().enumerate() {
        if !live(cl) || cl.trusted.is_some() {
            continue;
        }
        let origin = labels[cl.origin as usize].as_str();
        // Actors of the same credential or principals that started earlier: its history.
        let earlier: BTreeSet<usize> = by_origin[&cl.origin]
            .iter()
            .chain(cl.principals.iter().filter_map(|p| by_principal.get(p)).flatten())
            .copied()
            .filter(|&o| o != c && start(&clusters[o]) < start(cl))
            .collect();
        let network_known = earlier.iter().any(|&o| clusters[o].network == cl.network);
        let cloud_expected = matches!(cl.tool, Some(ToolClass::InfrastructureAsCode))
            || origin.contains(":assumed-role/")
            || established(times, &cl.rows);
        if !network_known && !cloud_expected {
            let ec2 = facts[c].iter().find_map(|(s, ip, i)| i.aws.as_ref().filter(|r| r.is_ec2()).map(|r| (*s, ip, r)));
            if let Some((s, ip, range)) = ec2 {
                let detail = format!(
                    "from {range} address space ({ip} in {}): a rented cloud server is typical of intruders",
                    range.prefix
                );
                let row =
                    cl.rows.iter().map(|&r| r as usize).find(|&r| ip_col.get(r) == s).unwrap_or(cl.rows[0] as usize);
                adds.push((c, ReasonKind::AwsAddressSpace, AWS_SPACE_POINTS, detail, row));
            }
        }
        // Instance credentials outside AWS: the instance session's own calls, from a public
        // address outside the ranges, with a key no principal's call issued (a session a user
        // named `i-...` with AssumeRole is not an instance's).
        let outside: AHashMap<Sym, &str> =
            facts[c].iter().filter(|(_, _, i)| i.aws.is_none()).map(|(s, ip, _)| (*s, ip.as_str())).collect();
        let has_session =
            cl.principals.iter().filter_map(|&p| principals.resolve(p)).any(|p| instance_session(p).is_some());
        if enricher.knows_aws_ranges() && has_session && !outside.is_empty() {
            let hit = cl.rows.iter().map(|&r| r as usize).find_map(|r| {
                let session = principals.resolve(principal_col.get(r)).and_then(instance_session)?;
                let ip = outside.get(&ip_col.get(r))?;
                let issued_by_a_principal = keys
                    .resolve(key_col.get(r))
                    .and_then(|k| lineage.issuance(k))
                    .is_some_and(|i| i.parent_key.is_some());
                (!issued_by_a_principal).then_some((r, session, *ip))
            });
            if let Some((row, session, ip)) = hit {
                let detail = format!(
                    "credentials of EC2 instance {session} used from {ip}, outside AWS's published address ranges: \
                     the instance metadata service hands them out on the instance only"
                );
                adds.push((c, ReasonKind::InstanceCredentialsOutsideAws, INSTANCE_OUTSIDE_AWS_POINTS, detail, row));
            }
        }
        let before: BTreeMap<u32, String> = earlier.iter().flat_map(|&o| asns(o)).collect();
        let mine = asns(c);
        if !before.is_empty() && !mine.is_empty() && !mine.keys().any(|n| before.contains_key(n)) {
            let detail = format!(
                "first use of {origin} from {} (it and its principals used before {})",
                mine.values().cloned().collect::<Vec<_>>().join(", "),
                before.values().cloned().collect::<Vec<_>>().join(", ")
            );
            adds.push((c, ReasonKind::NewAsnForCredential, NEW_ASN_POINTS, detail, cl.rows[0] as usize));
        }
    }
    for (c, kind, points, detail, row) in adds {
        clusters[c].add(kind, points, detail, None, vec![event_id(row)]);
    }
}

/// Findings on one event count once, at their heaviest; established actors weigh half.
fn settle(store: &Store, clusters: &mut [Cluster]) {
    let times = store.times();
    for cl in clusters.iter_mut() {
        let mut best: AHashMap<u32, i32> = AHashMap::new();
        for r in &cl.reasons {
            if let Some(a) = r.anchor {
                let b = best.entry(a).or_insert(0);
                *b = (*b).max(r.points);
            }
        }
        for r in cl.reasons.iter_mut() {
            if let Some(a) = r.anchor {
                if best.get(&a) == Some(&r.points) {
                    best.insert(a, i32::MIN); // keep the first at the top weight
                } else if r.points > 0 {
                    r.detail += " (same event as a heavier finding: not counted again)";
                    r.points = 0;
                }
            }
        }
        if cl.rows.is_empty() || cl.tool == Some(ToolClass::AwsService) {
            continue;
        }
        let (first, last) = (times[cl.rows[0] as usize], times[*cl.rows.last().unwrap() as usize]);
        if established(times, &cl.rows) {
            let soft: i32 = cl
                .reasons
                .iter()
                .filter(|r| matches!(r.kind, ReasonKind::Finding | ReasonKind::NewCredentials))
                .map(|r| r.points)
                .sum();
            if soft >= 2 {
                cl.add(
                    ReasonKind::Established,
                    -(soft / 2),
                    format!(
                        "established: active from {} to {} with this credential, network and tool",
                        Time(first),
                        Time(last)
                    ),
                    None,
                    Vec::new(),
                );
            }
        }
    }
}

/// An actor's rows split at pauses longer than `gap`; `errors` is the error-code column.
fn sessions(times: &[i64], rows: &[u32], errors: SymColumn<'_>, gap: i64) -> Vec<Session> {
    let mut out: Vec<Session> = Vec::new();
    for &r in rows {
        let t = times[r as usize];
        let failed = !errors.get(r as usize).is_null() as usize;
        match out.last_mut() {
            Some(s) if t - s.end.0 <= gap => {
                s.end = Time(t);
                s.events += 1;
                s.errors += failed;
            }
            _ => out.push(Session { start: Time(t), end: Time(t), events: 1, errors: failed }),
        }
    }
    out
}

fn score_findings(
    store: &Store,
    findings: &[Finding],
    of_row: &[u32],
    clusters: &mut [Cluster],
    event_id: &dyn Fn(usize) -> String,
    own: &OwnResources,
) {
    for f in findings {
        // A burst or correlation holds the events around the hostile one too: it speaks for
        // the actors that hold a real share of it.
        let mut share: AHashMap<u32, Vec<u32>> = AHashMap::new();
        for &r in &f.rows {
            share.entry(of_row[r as usize]).or_default().push(r);
        }
        let need = if f.rows.len() == 1 || f.rule.indicator { 1 } else { 3.min(f.rows.len()).max(f.rows.len() / 2) };
        for (c, rows) in share {
            if rows.len() < need {
                continue;
            }
            let cl = &mut clusters[c as usize];
            if f.rule.risk {
                cl.risks.insert(f.rule.id.clone());
                continue;
            }
            let ids: Vec<String> = rows.iter().take(5).map(|&r| event_id(r as usize)).collect();
            if f.rule.indicator {
                cl.add(ReasonKind::Ioc, 60, f.rule.title.clone(), Some(f.rule.id.clone()), ids);
                continue;
            }
            let base = severity_points(f.rule.severity);
            if base == 0 {
                continue;
            }
            // Judge the call by how it ended: a denied attempt shows intent, a call that failed
            // on a resource fault or a limit shows little.
            let ok = rows.iter().any(|&r| outcome(store, r as usize) == CallOutcome::Ok);
            let denied = rows.iter().any(|&r| outcome(store, r as usize) == CallOutcome::Denied);
            let (points, how) = if ok {
                (base, String::new())
            } else if denied {
                (base / 2, " (attempted, denied)".to_owned())
            } else {
                let code = store.event(rows[0] as usize).str(Field::ErrorCode).unwrap_or("error").to_owned();
                (base / 10, format!(" (failed: {code})"))
            };
            if rows.iter().all(|&r| own.rotates(r as usize)) && established(store.times(), &cl.rows) {
                let detail = format!(
                    "{} [{}]: a key rotation (it retired another key of the user within a day)",
                    f.rule.title,
                    f.rule.severity.name()
                );
                cl.add(ReasonKind::KeyRotation, 0, detail, Some(f.rule.id.clone()), ids);
                continue;
            }
            if rows.iter().all(|&r| own.acts_on_own(store, r as usize, c)) {
                let detail = format!("{} [{}] on a resource it created itself", f.rule.title, f.rule.severity.name());
                cl.add(ReasonKind::OwnResources, 0, detail, Some(f.rule.id.clone()), ids);
                continue;
            }
            let detail = format!("{} [{}]{how}", f.rule.title, f.rule.severity.name());
            cl.add(ReasonKind::Finding, points, detail, Some(f.rule.id.clone()), ids);
            if let Some(r) = cl.reasons.iter_mut().find(|r| r.rule.as_deref() == Some(f.rule.id.as_str())) {
                r.anchor = r.anchor.min(Some(rows[0])).or(Some(rows[0]));
            }
        }
    }
}

fn score_behaviour(
    store: &Store,
    clusters: &mut [Cluster],
    labels: &[String],
    event_id: &dyn Fn(usize) -> String,
    owned: &OwnResources,
) {
    let names = store.column(Field::EventName);
    let name_dict = store.dict(Field::EventName);
    let interesting: AHashSet<Sym> = ESCALATION_CALLS
        .iter()
        .chain(NEW_CREDENTIAL_CALLS)
        .chain(&["PutEventSelectors", "UpdateTrail", "StopLogging", "DeleteTrail", "GetCallerIdentity"])
        .chain(crate::report::EVASION_CALLS)
        .filter_map(|n| name_dict.lookup(n))
        .collect();
    for cl in clusters.iter_mut() {
        if cl.rows.is_empty() || cl.trusted.is_some() {
            continue;
        }
        // The tool by name, from the actor's user agent: an attack tool weighs much more than a
        // posture scanner, which owners run on a schedule (denied recon, new networks or
        // findings decide then).
        let tool_reason = match cl.tool {
            Some(ToolClass::OffensiveTool) => {
                Some((ReasonKind::OffensiveTool, 40, "calls made with an offensive tool or distribution", ""))
            }
            Some(ToolClass::Scanner) => Some((
                ReasonKind::Scanner,
                10,
                "calls made with a security scanner",
                ": owners audit with these, intruders enumerate",
            )),
            _ => None,
        };
        if let Some((kind, points, what, why)) = tool_reason {
            let ua = cl.uas.keys().find_map(|&s| store.dict(Field::UserAgent).resolve(s)).unwrap_or("");
            let tool = match classify(ua) {
                UserAgentClass::OffensiveTool(t) | UserAgentClass::SecurityScanner(t) => t,
                _ => "unnamed".into(),
            };
            let ids = cl.rows.iter().take(3).map(|&r| event_id(r as usize)).collect();
            cl.add(kind, points, format!("{what} ({tool}){why}"), None, ids);
        }
        let first = cl.rows[0] as usize;
        if name_dict.resolve(names.get(first)) == Some("GetCallerIdentity") {
            cl.add(ReasonKind::WhoAmIFirst, 5, "first call was GetCallerIdentity".into(), None, vec![event_id(first)]);
        }
        let own: BTreeSet<(String, String)> = cl
            .principals
            .iter()
            .filter_map(|&p| store.dict(Field::PrincipalArn).resolve(p).and_then(principal_entity))
            .collect();
        let mut created_kinds: BTreeSet<&str> = BTreeSet::new();
        let established = established(store.times(), &cl.rows);
        for i in 0..cl.rows.len() {
            let row = cl.rows[i] as usize;
            if !interesting.contains(&names.get(row)) {
                continue;
            }
            let e = store.event(row);
            let name = base_event_name(e.str(Field::EventName).unwrap_or(""));
            let result = outcome(store, row);
            if result == CallOutcome::Failed || owned.acts_on_own(store, row, owned.cluster_of(row)) {
                continue;
            }
            let account = e.str(Field::RecipientAccount).unwrap_or("").to_owned();
            if ESCALATION_CALLS.contains(&name) {
                let f = e.fields();
                let target =
                    f.get_str("requestParameters.userName").or_else(|| f.get_str("requestParameters.roleName"));
                if let Some(t) = target.filter(|t| own.contains(&(account.clone(), t.clone()))) {
                    let (points, how) = if result == CallOutcome::Ok { (35, "") } else { (10, " (denied)") };
                    cl.add(
                        ReasonKind::SelfEscalation,
                        points,
                        format!("widened its own rights: {name} on {t}{how}"),
                        None,
                        vec![event_id(row)],
                    );
                }
            } else if NEW_CREDENTIAL_CALLS.contains(&name)
                && result == CallOutcome::Ok
                && !(established && owned.rotates(row))
            {
                let target = e.fields().get_str("requestParameters.userName");
                let for_other = target.as_ref().is_some_and(|t| !own.contains(&(account.clone(), t.clone())));
                if name == "CreateUser" || for_other {
                    created_kinds.insert(name);
                    let points = (15 * created_kinds.len() as i32).min(30);
                    let what: Vec<&str> = created_kinds.iter().copied().collect();
                    cl.add(
                        ReasonKind::NewCredentials,
                        points,
                        format!("gave someone a new way in: {}", what.join(", ")),
                        None,
                        vec![event_id(row)],
                    );
                }
            } else if let Some(Direction::Weakens) = logging_direction(store, row) {
                let (points, how) = if result == CallOutcome::Ok { (30, "") } else { (10, " (denied)") };
                cl.add(
                    ReasonKind::LoggingWeakened,
                    points,
                    format!("reduced logging or detection: {name}{how}"),
                    None,
                    vec![event_id(row)],
                );
            }
        }
        // Probing shows as many denials across APIs, and as a real share of the calls: busy
        // automation collects a few denials over days without probing anything.
        if cl.denied >= 5 && cl.denied * 20 >= cl.rows.len() {
            let denied_apis: AHashSet<Sym> = cl
                .rows
                .iter()
                .filter(|&&r| outcome(store, r as usize) == CallOutcome::Denied)
                .map(|&r| names.get(r as usize))
                .collect();
            // One API hammered (e.g. GetPasswordData on every instance) probes as well when most
            // of the actor's calls are refused.
            if denied_apis.len() >= 3 || cl.denied * 2 >= cl.rows.len() {
                let ids = cl
                    .rows
                    .iter()
                    .filter(|&&r| outcome(store, r as usize) == CallOutcome::Denied)
                    .take(5)
                    .map(|&r| event_id(r as usize))
                    .collect();
                cl.add(
                    ReasonKind::ReconWithDenials,
                    20,
                    format!("{} calls denied across {} APIs (probing its permissions)", cl.denied, denied_apis.len()),
                    None,
                    ids,
                );
            }
        }
    }

    // A credential seen from a network or with a tool it had not used before: only meaningful
    // where the credential has a history in the evidence.
    let times = store.times();
    let mut by_origin: AHashMap<u32, Vec<usize>> = AHashMap::new();
    for (i, cl) in clusters.iter().enumerate() {
        if !cl.rows.is_empty() && cl.tool != Some(ToolClass::AwsService) {
            by_origin.entry(cl.origin).or_default().push(i);
        }
    }
    // Networks the account's own established actors (active from the start for a day or more)
    // work from: an owner's key showing up on the organisation's CI or office network is far
    // less telling than one showing up on a network nobody there has used.
    let home: AHashSet<u32> = clusters
        .iter()
        .filter(|cl| cl.tool != Some(ToolClass::AwsService) && established(times, &cl.rows))
        .map(|cl| cl.network)
        .collect();
    // Members in order of their first event, so that what came before each is gathered once
    // (a leaked key used from thousands of networks made this quadratic, and the reason listed
    // every network: 25 KB per actor).
    const NETWORKS_NAMED: usize = 5;
    for members in by_origin.values() {
        if members.len() < 2 {
            continue;
        }
        let mut order: Vec<(i64, usize)> = members.iter().map(|&c| (times[clusters[c].rows[0] as usize], c)).collect();
        order.sort_unstable();
        // Networks (in order of first use) and tools of the members that started earlier.
        let (mut nets, mut net_seen, mut tools) = (Vec::new(), AHashSet::new(), BTreeSet::new());
        let mut i = 0;
        while i < order.len() {
            let same_start = order[i..].iter().take_while(|&&(t, _)| t == order[i].0).count();
            let group: Vec<usize> = order[i..i + same_start].iter().map(|&(_, c)| c).collect();
            for &c in &group {
                if clusters[c].trusted.is_some() || nets.is_empty() {
                    continue;
                }
                let first_row = clusters[c].rows[0] as usize;
                let network = labels[clusters[c].network as usize].as_str();
                if !net_seen.contains(network) {
                    let at_home = home.contains(&clusters[c].network);
                    let before = match nets.len() {
                        n if n <= NETWORKS_NAMED => nets.join(", "),
                        n => format!("{n} networks, first {}, ...", nets[..NETWORKS_NAMED].join(", ")),
                    };
                    let detail = format!(
                        "first use of {} from {network} (used before from {before}){}",
                        labels[clusters[c].origin as usize],
                        if at_home { "; a network the account's established actors work from" } else { "" }
                    );
                    let points = if at_home { 5 } else { 15 };
                    clusters[c].add(
                        ReasonKind::NewNetworkForCredential,
                        points,
                        detail,
                        None,
                        vec![event_id(first_row)],
                    );
                }
                if let Some(t) = clusters[c].tool.filter(|t| !tools.contains(t)) {
                    let detail = format!("first use of {} with {}", labels[clusters[c].origin as usize], t.label());
                    clusters[c].add(ReasonKind::NewToolForCredential, 5, detail, None, vec![event_id(first_row)]);
                }
            }
            for &c in &group {
                let network = labels[clusters[c].network as usize].as_str();
                if net_seen.insert(network) {
                    nets.push(network);
                }
                tools.extend(clusters[c].tool);
            }
            i += same_start;
        }
    }
}

/// Pass hostile verdicts along evidence that ties actors, until nothing changes.
fn propagate(
    store: &Store,
    lineage: &Lineage,
    of_row: &[u32],
    clusters: &mut [Cluster],
    labels: &[String],
    event_id: &dyn Fn(usize) -> String,
) {
    let times = store.times();
    // Which cluster issued each key a cluster uses.
    let issuer: Vec<Vec<(usize, String, usize)>> = clusters
        .iter()
        .map(|cl| {
            cl.keys
                .iter()
                .filter_map(|&k| {
                    let key = store.dict(Field::AccessKeyId).get(k);
                    lineage.issuance(key).map(|i| (of_row[i.row] as usize, key.to_owned(), i.row))
                })
                .collect()
        })
        .collect();
    let own: Vec<BTreeSet<(String, String)>> = clusters
        .iter()
        .map(|cl| {
            cl.principals
                .iter()
                .filter_map(|&p| store.dict(Field::PrincipalArn).resolve(p).and_then(principal_entity))
                .collect()
        })
        .collect();
    let creation_names: AHashSet<Sym> = ["CreateUser", "CreateLoginProfile", "UpdateLoginProfile", "CreateRole"]
        .iter()
        .filter_map(|n| store.dict(Field::EventName).lookup(n))
        .collect();
    let names = store.column(Field::EventName);
    loop {
        let hostile: Vec<bool> = clusters.iter().map(Cluster::hostile).collect();
        // Users and roles hostile actors created: (account, name) -> (row, creator, console only after).
        let mut created: AHashMap<(String, String), (usize, usize, Option<i64>)> = AHashMap::new();
        for (c, cl) in clusters.iter().enumerate().filter(|(c, _)| hostile[*c]) {
            for &r in &cl.rows {
                let row = r as usize;
                if !creation_names.contains(&names.get(row)) || outcome(store, row) != CallOutcome::Ok {
                    continue;
                }
                let e = store.event(row);
                let f = e.fields();
                let account = e.str(Field::RecipientAccount).unwrap_or("").to_owned();
                let name = e.str(Field::EventName).unwrap_or("");
                let (target, console_after) = match name {
                    "CreateRole" => (f.get_str("requestParameters.roleName"), None),
                    "CreateUser" => (f.get_str("requestParameters.userName"), None),
                    // A password set by the intruder makes later console sign-ins theirs.
                    _ => (f.get_str("requestParameters.userName"), Some(times[row])),
                };
                if let Some(t) = target {
                    created.entry((account, t)).or_insert((row, c, console_after));
                }
            }
        }
        // Hostile actors by credential and network: the same-credential tie looks up, not scans.
        let mut hostile_here: AHashMap<(u32, u32), Vec<usize>> = AHashMap::new();
        for (o, cl) in clusters.iter().enumerate().filter(|(o, _)| hostile[*o]) {
            hostile_here.entry((cl.origin, cl.network)).or_default().push(o);
        }
        let mut changed = false;
        for c in 0..clusters.len() {
            // Ties are recorded for hostile actors too (the report shows how actors connect),
            // but only a newly hostile actor makes the loop go round again.
            if clusters[c].rows.is_empty() || clusters[c].trusted.is_some() {
                continue;
            }
            let mut ties: Vec<(ReasonKind, String, usize, usize)> = Vec::new();
            for (src, key, row) in &issuer[c] {
                if hostile[*src] && *src != c {
                    let via = lineage.issuance(key).map(|i| i.via.clone()).unwrap_or_default();
                    ties.push((
                        ReasonKind::IssuedByHostileActor,
                        format!("uses {key}, issued by a hostile actor ({via} at {})", Time(times[*row])),
                        *src,
                        *row,
                    ));
                }
            }
            for ent in &own[c] {
                if let Some(&(row, creator, console_after)) = created.get(ent) {
                    let first = times[clusters[c].rows[0] as usize];
                    let applies = match console_after {
                        None => true,
                        Some(t) => clusters[c].tool == Some(ToolClass::Console) && first >= t,
                    };
                    if applies && creator != c {
                        let what = store.event(row).str(Field::EventName).unwrap_or("").to_owned();
                        ties.push((
                            ReasonKind::CreatedByHostileActor,
                            format!("{} {} set up by a hostile actor ({what} at {})", ent.0, ent.1, Time(times[row])),
                            creator,
                            row,
                        ));
                    }
                }
            }
            for &o in hostile_here.get(&(clusters[c].origin, clusters[c].network)).into_iter().flatten() {
                let other = &clusters[o];
                if o != c {
                    let tool = clusters[c].tool.unwrap_or(ToolClass::Other);
                    let kind = if tool.hands_on() && other.tool.is_some_and(ToolClass::hands_on) {
                        ReasonKind::SameCredentialAndNetwork
                    } else {
                        ReasonKind::SharesCredentialWithHostileActor
                    };
                    let detail = format!(
                        "same credential {} and network {} as a hostile actor ({})",
                        labels[other.origin as usize],
                        labels[other.network as usize],
                        other.tool.unwrap_or(ToolClass::Other).label()
                    );
                    ties.push((kind, detail, o, other.rows[0] as usize));
                }
            }
            for (kind, detail, src, row) in ties {
                let cl = &mut clusters[c];
                if cl.linked.insert(src) || !cl.reasons.iter().any(|r| r.kind == kind) {
                    let points = if kind == ReasonKind::SharesCredentialWithHostileActor { 10 } else { TIE_POINTS };
                    cl.add(kind, points, detail, None, vec![event_id(row)]);
                    if kind != ReasonKind::SharesCredentialWithHostileActor {
                        cl.tied = true;
                        changed |= !hostile[c];
                    }
                }
            }
        }
        if !changed {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_and_entities() {
        assert_eq!(network_of("185.220.101.47"), "185.220.101.0/24");
        assert_eq!(network_of("2001:db8:1:2::5"), "2001:db8:1::/48");
        assert_eq!(network_of("ec2.amazonaws.com"), "AWS");
        assert_eq!(
            principal_entity("arn:aws:iam::123456789012:user/ops/ci-deployer"),
            Some(("123456789012".into(), "ci-deployer".into()))
        );
        assert_eq!(
            principal_entity("arn:aws:sts::210987654321:assumed-role/OrgRole/ci-sync"),
            Some(("210987654321".into(), "OrgRole".into()))
        );
        assert_eq!(principal_entity("arn:aws:iam::123456789012:root"), None);
        assert!(is_denial("AccessDenied") && is_denial("Client.UnauthorizedOperation"));
        assert!(!is_denial("InvalidDBInstanceStateFault"));
        assert!(is_denial("403") && !is_denial("404"));
    }

    #[test]
    fn trust_parses() {
        assert_eq!(Trust::parse("ip=198.51.100.0/24").unwrap().describe(), "ip=198.51.100.0/24");
        assert_eq!(Trust::parse("ip=198.51.100.7").unwrap().describe(), "ip=198.51.100.7/32");
        assert!(Trust::parse("ip=nope").is_err());
        assert!(Trust::parse("colour=red").is_err());
        assert_eq!(Trust::parse("key=AKIAX").unwrap(), Trust::Key("AKIAX".into()));
    }
}
