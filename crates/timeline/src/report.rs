//! The forensic report: a plain, serializable model computed once from the store and findings.
//! Writers (see [`crate::write`]) only format it.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use ahash::AHashMap;
use serde::Serialize;
use serde_json::Value;
use trailscope_enrich::{DatabaseInfo, IpInfo, NotLookedUp};
use trailscope_indicators::base_event_name;
use trailscope_indicators::useragent::{classify, normalize};
use trailscope_indicators::{Finding, Severity};
use trailscope_store::{chrono_free_iso, Field, Selection, Store};

use crate::actors::{attribute, outcome, Actor, ActorOptions, Actors, CallOutcome, Trust, Verdict};
use crate::change::{logging_direction, trail_name, Direction, EndState, Undos};
use crate::lineage::Lineage;
use crate::timeline::{action_name, principal_name, Activity, Timeline, TimelineEntry};
use crate::Time;

/// Version of the report's JSON form (`schema_version`); see `docs/report-format.md`.
pub const SCHEMA_VERSION: &str = "2.5";

/// Options of the report.
#[derive(Clone, Debug)]
pub struct ReportOptions {
    /// Sequence number of the case on its day (`AWS-IR-YYYYMMDD-SEQ`).
    pub case_seq: u32,
    /// Attribution settings (session gap, `--trust` overrides).
    pub actors: ActorOptions,
    /// The first-seen baselines' learning window, when baselines ran: `(from, to)` epoch ms.
    pub baseline_window: Option<(i64, i64)>,
    /// Where the baselines learned from, when not the evidence itself (`--baseline PATH`).
    pub baseline_source: Option<String>,
    /// Management-event silences at least this long in an account are listed as gaps.
    pub gap_ms: i64,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            case_seq: 1,
            actors: ActorOptions::default(),
            baseline_window: None,
            baseline_source: None,
            gap_ms: 12 * 3_600_000,
        }
    }
}

/// How a credential is held.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyKind {
    /// `AKIA...`
    LongTerm,
    /// `ASIA...`
    Temporary,
    /// Anything else.
    Other,
}

impl KeyKind {
    /// Kind of an access key id.
    pub fn of(key: &str) -> KeyKind {
        match key.get(..4).unwrap_or("") {
            "AKIA" => KeyKind::LongTerm,
            "ASIA" => KeyKind::Temporary,
            _ => KeyKind::Other,
        }
    }

    /// Label for reports.
    pub fn label(self) -> &'static str {
        match self {
            KeyKind::LongTerm => "long-term",
            KeyKind::Temporary => "temporary",
            KeyKind::Other => "other",
        }
    }
}

/// How the attacker came to hold a credential.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "how", rename_all = "kebab-case")]
pub enum Obtained {
    /// Already held when the evidence starts: used by a hostile actor, issuance not shown.
    InitialAccess {
        /// The actor that used it first.
        actor: usize,
    },
    /// Issued by a call the attacker made with another key.
    Issued {
        /// The call (`AssumeRole`, `CreateAccessKey`).
        via: String,
        /// The key that made the call.
        by_key: String,
        /// When.
        at: Time,
    },
}

impl std::fmt::Display for Obtained {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Obtained::InitialAccess { actor } => {
                write!(f, "initial access: held before its first use by actor #{actor}")
            }
            Obtained::Issued { via, by_key, at } => write!(f, "{via} by {by_key} at {at}"),
        }
    }
}

/// A credential the attacker held.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Credential {
    /// Access key id.
    pub access_key: String,
    /// Long-term, temporary, other.
    pub kind: KeyKind,
    /// Principals seen using it.
    pub principals: Vec<String>,
    /// How the attacker got it.
    pub obtained: Obtained,
    /// First attacker use (`null` when never used in the evidence).
    pub first_used: Option<Time>,
    /// Last attacker use.
    pub last_used: Option<Time>,
    /// Attacker events made with it.
    pub events: usize,
    /// Its deactivation or deletion, if the evidence shows one.
    pub end_state: EndState,
    /// Account it belongs to (where it was used or issued).
    pub account: String,
}

/// A source IP of attacker activity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SourceIp {
    /// The address.
    pub ip: String,
    /// Events from it.
    pub events: usize,
    /// First event.
    pub first_seen: Time,
    /// Last event.
    pub last_seen: Time,
    /// User agents seen from it (normalised).
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
    /// Calls refused for lack of permission.
    pub denied: usize,
    /// Calls that failed otherwise.
    pub failed: usize,
    /// First call.
    pub first: Time,
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

/// Something the attacker created or changed to keep or widen access, or to hide.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    /// When.
    pub time: Time,
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
    /// For logging changes: whether coverage went down or up.
    pub direction: Option<Direction>,
    /// As of the end of the evidence.
    pub end_state: EndState,
    /// The actor that made it.
    pub actor: usize,
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
    /// A hygiene/risk rule: reported, never evidence of an intruder by itself.
    pub risk: bool,
    /// MITRE techniques.
    pub techniques: Vec<String>,
    /// Findings raised.
    pub findings: usize,
    /// Of those, findings whose every event failed: attempts, not done.
    pub attempts: usize,
    /// Events involved.
    pub events: usize,
    /// Actors whose events raised it.
    pub actors: Vec<usize>,
}

/// A stretch when logging was off or absent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum CoverageGap {
    /// A trail stopped (or deleted) until started (or recreated) again, or the end of evidence.
    TrailOff {
        /// Account.
        account: String,
        /// Trail name.
        trail: String,
        /// From.
        from: Time,
        /// Until (`null`: still off at the end of the evidence).
        to: Option<Time>,
    },
    /// No management event at all in an account for a long stretch.
    Silence {
        /// Account.
        account: String,
        /// Last event before.
        from: Time,
        /// First event after.
        to: Time,
    },
    /// Data events (S3 object reads, Lambda invocations) absent before some time, or entirely.
    NoDataEvents {
        /// Account.
        account: String,
        /// First data event (`null`: none in the evidence).
        first_data_event: Option<Time>,
    },
}

/// What the evidence covers, per account, and where it is silent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Coverage {
    /// Gaps, by account then time.
    pub gaps: Vec<CoverageGap>,
    /// Consequences for this case: attacker activity inside a gap, so absence is not innocence.
    pub caveats: Vec<String>,
}

/// The first-seen baselines' learning window.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BaselineWindow {
    /// Start.
    pub from: Time,
    /// End.
    pub to: Time,
    /// Where it learned: `evidence` or the `--baseline` path.
    pub source: String,
    /// Attacker events inside the window (first-seen rules could not fire on them).
    pub attacker_events_inside: usize,
}

/// One containment or remediation step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Remediation {
    /// What to do, imperative (`Deactivate, then delete, access key`).
    pub step: Step,
    /// On what.
    pub target: String,
    /// Account.
    pub account: String,
    /// Why: the finding behind it.
    pub because: Because,
    /// Already done in the evidence (`reverted`), or still to do (`present`).
    pub status: EndState,
}

/// What a remediation step asks the examiner to do. Serialised as its sentence, so the JSON
/// report reads as the text one does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// A long-term key the attacker used.
    DeactivateKey,
    /// A temporary key: the role's older sessions.
    RevokeSessions,
    /// A user the attacker created.
    DeleteUser,
    /// A console password the attacker set.
    ResetConsolePassword,
    /// An access key the attacker made for someone.
    DeleteCreatedKey,
    /// A managed policy the attacker attached.
    DetachPolicy,
    /// An inline policy the attacker wrote.
    DeleteInlinePolicy,
    /// A role the attacker created.
    DeleteRole,
    /// A trust policy the attacker changed.
    RestoreTrustPolicy,
    /// A trail the attacker stopped.
    StartLogging,
    /// A trail the attacker deleted.
    RecreateTrail,
    /// A trail whose selection the attacker narrowed.
    RestoreTrailConfig,
    /// GuardDuty the attacker disabled or deleted.
    ReenableGuardDuty,
    /// Any other change the attacker made.
    ReviewAndUndo,
    /// A bucket the attacker read from.
    ReviewBucket,
    /// A secret the attacker read.
    RotateSecret,
    /// A SecureString parameter the attacker decrypted.
    RotateParameter,
    /// A KMS key the attacker decrypted with.
    ReviewKeyUse,
    /// Other data the attacker touched.
    ReviewData,
    /// Instances the attacker launched.
    TerminateInstances,
}

impl Step {
    /// The step as the report says it.
    pub fn text(self) -> &'static str {
        match self {
            Step::DeactivateKey => "Deactivate, then delete, access key",
            Step::RevokeSessions => "Revoke active sessions of the role behind temporary key",
            Step::DeleteUser => "Delete user (with its login profile, keys and policies)",
            Step::ResetConsolePassword => "Delete or reset the console password of",
            Step::DeleteCreatedKey => "Delete the access key created for",
            Step::DetachPolicy => "Detach the policy from",
            Step::DeleteInlinePolicy => "Delete the inline policy of",
            Step::DeleteRole => "Delete role",
            Step::RestoreTrustPolicy => "Restore the trust policy of",
            Step::StartLogging => "Start logging again on trail",
            Step::RecreateTrail => "Recreate trail",
            Step::RestoreTrailConfig => "Restore the logging configuration of trail",
            Step::ReenableGuardDuty => "Re-enable GuardDuty in",
            Step::ReviewAndUndo => "Review and undo",
            Step::ReviewBucket => "Review the data exposed in bucket",
            Step::RotateSecret => "Rotate secret",
            Step::RotateParameter => "Rotate parameter",
            Step::ReviewKeyUse => "Review what was decrypted with key",
            Step::ReviewData => "Review",
            Step::TerminateInstances => "Terminate the instances",
        }
    }

    /// The step that undoes a change made by this API call (the event name).
    fn undoing(event_name: &str) -> Step {
        match event_name {
            "CreateUser" => Step::DeleteUser,
            "CreateLoginProfile" | "UpdateLoginProfile" => Step::ResetConsolePassword,
            "CreateAccessKey" => Step::DeleteCreatedKey,
            "AttachUserPolicy" | "AttachRolePolicy" | "AttachGroupPolicy" => Step::DetachPolicy,
            "PutUserPolicy" | "PutRolePolicy" | "PutGroupPolicy" => Step::DeleteInlinePolicy,
            "CreateRole" => Step::DeleteRole,
            "UpdateAssumeRolePolicy" => Step::RestoreTrustPolicy,
            "StopLogging" => Step::StartLogging,
            "DeleteTrail" => Step::RecreateTrail,
            "PutEventSelectors" | "UpdateTrail" => Step::RestoreTrailConfig,
            "DeleteDetector" | "UpdateDetector" => Step::ReenableGuardDuty,
            _ => Step::ReviewAndUndo,
        }
    }
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.text())
    }
}

impl Serialize for Step {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.text())
    }
}

/// Why a remediation step is there. Times are typed so that human-readable writers show them in
/// the examiner's zone (`--tz`); serialised as its sentence in UTC.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Because {
    /// A long-term key the attacker used, as this principal.
    AttackerKey {
        /// The key's (first) principal ARN.
        principal: String,
    },
    /// An attacker session on a temporary key, as this principal.
    AttackerSession {
        /// The session's principal ARN.
        principal: String,
    },
    /// A change the attacker made.
    Change {
        /// `service:EventName`.
        action: String,
        /// When.
        time: Time,
        /// The actor's number in the report.
        actor: usize,
    },
    /// Successful reads of the data by the attacker.
    Reads {
        /// How many.
        count: usize,
    },
    /// A `RunInstances` call of the attacker.
    Launch {
        /// When.
        time: Time,
    },
}

impl std::fmt::Display for Because {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Because::AttackerKey { principal } => write!(f, "used by the attacker ({principal})"),
            Because::AttackerSession { principal } => {
                write!(f, "attacker session as {principal}; expires by itself, but revoke older sessions now")
            }
            Because::Change { action, time, actor } => write!(f, "{action} at {time} by actor #{actor}"),
            Because::Reads { count } => write!(f, "{count} successful reads by the attacker"),
            Because::Launch { time } => write!(f, "RunInstances by the attacker at {time}"),
        }
    }
}

impl Serialize for Because {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Machine output is UTC whatever zone a human-readable writer runs under.
        s.serialize_str(&crate::with_display_zone(crate::DisplayZone::Utc, || self.to_string()))
    }
}

/// What the examiner's GeoIP, ASN and AWS-ranges databases say about the source IPs.
///
/// One table for the whole report, keyed by address: actors, the source-IP table and timeline
/// entries name addresses, and writers look them up here.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Enrichment {
    /// Whether any database was given (`--geoip`, `--asn`, `--aws-ranges`).
    pub done: bool,
    /// The databases used: file, size, SHA-256, type and build time or publication date.
    pub databases: Vec<DatabaseInfo>,
    /// Every public source address of any actor, with what the databases say about it.
    pub addresses: BTreeMap<String, IpInfo>,
    /// Source values of actors that were not looked up, and why (service names, `AWS
    /// Internal`, private and link-local addresses).
    pub not_looked_up: BTreeMap<String, NotLookedUp>,
}

impl Enrichment {
    /// What the databases say about a source value (`None`: not enriched or not public).
    pub fn of(&self, source: &str) -> Option<&IpInfo> {
        self.addresses.get(source)
    }

    /// Look up every source value of the actors.
    fn build(actors: &[Actor], opts: &ActorOptions) -> Enrichment {
        let Some(enricher) = &opts.enricher else { return Enrichment::default() };
        let mut out = Enrichment { done: true, databases: enricher.databases().to_vec(), ..Enrichment::default() };
        for ip in actors.iter().flat_map(|a| &a.source_ips) {
            if out.addresses.contains_key(ip) || out.not_looked_up.contains_key(ip) {
                continue;
            }
            match enricher.enrich(ip) {
                Ok(info) => {
                    out.addresses.insert(ip.clone(), info);
                }
                Err(why) => {
                    out.not_looked_up.insert(ip.clone(), why);
                }
            }
        }
        out
    }
}

/// Why part of the evidence is missing from the conclusions.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceProblemKind {
    /// The file could not be read as CloudTrail at all (corrupt gzip, invalid JSON, unreadable).
    Unreadable,
    /// Only part of the file was read (records before a truncation were kept).
    Partial,
    /// Some of the file's records were rejected (no eventTime, eventName or eventSource...).
    RejectedRecords,
    /// A symbolic link not followed (without `--follow-links`).
    SkippedLink,
}

impl EvidenceProblemKind {
    /// How the examiner reads it.
    pub fn describe(self) -> &'static str {
        match self {
            EvidenceProblemKind::Unreadable => "unreadable",
            EvidenceProblemKind::Partial => "partial",
            EvidenceProblemKind::RejectedRecords => "records rejected",
            EvidenceProblemKind::SkippedLink => "link not followed",
        }
    }
}

/// One input file not fully in the conclusions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EvidenceProblem {
    /// The file, as the manifest names it.
    pub path: String,
    /// What went wrong.
    pub kind: EvidenceProblemKind,
    /// Records affected (rejected, or salvaged for a partial file); 0 when not counted.
    pub records: u64,
    /// The reason, as the ingest gave it.
    pub detail: String,
}

/// Two different records delivered under one event id (`eventID` and `recipientAccountId`).
/// CloudTrail re-delivers a record unchanged, so one of the two files was altered; the
/// conclusions rest on the kept copy (the first in file order).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConflictingDuplicate {
    /// The shared `eventID`.
    pub event_id: String,
    /// The shared `recipientAccountId`, when the records have one.
    pub account: Option<String>,
    /// The file holding the copy kept, as the manifest names it.
    pub kept_file: String,
    /// That copy's record index in its file.
    pub kept_record: u32,
    /// The file holding the other copy.
    pub other_file: String,
    /// That copy's record index in its file.
    pub other_record: u32,
    /// Top-level fields whose values differ.
    pub fields: Vec<String>,
}

impl ConflictingDuplicate {
    /// One line in the examiner's words.
    pub fn describe(&self) -> String {
        let account = self.account.as_ref().map(|a| format!(" (account {a})")).unwrap_or_default();
        format!(
            "eventID {}{account}: kept {} record {}, other copy {} record {}, differing in {}",
            self.event_id,
            self.kept_file,
            self.kept_record,
            self.other_file,
            self.other_record,
            self.fields.join(", ")
        )
    }
}

/// What part of the evidence the conclusions rest on, shown in every report format (not only on
/// stderr, and never hidden by `--quiet`): the report itself does not see files, so the caller
/// fills this from the ingest or the case file's manifest.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct EvidenceCoverage {
    /// Input files seen.
    pub files: usize,
    /// Log and Insights files read.
    pub log_files: usize,
    /// Digest files (integrity data, not events).
    pub digest_files: usize,
    /// Records rejected, over all files.
    pub rejected_records: u64,
    /// Files that are not CloudTrail (ignored), by name.
    pub ignored: Vec<String>,
    /// Files unreadable, partial, with rejected records, or links not followed.
    pub problems: Vec<EvidenceProblem>,
    /// Re-deliveries whose content differs from the copy kept: two different records under one
    /// event id (counted over all files).
    pub conflicting_duplicates: u64,
    /// The first of them (the manifest keeps up to 500), both files named.
    pub conflicts: Vec<ConflictingDuplicate>,
}

impl EvidenceCoverage {
    /// Files of one problem kind.
    pub fn count(&self, kind: EvidenceProblemKind) -> usize {
        self.problems.iter().filter(|p| p.kind == kind).count()
    }

    /// True when every file was read whole and no record was rejected.
    pub fn complete(&self) -> bool {
        self.problems.is_empty()
    }

    /// One line: counts of what was read and what was not.
    pub fn headline(&self) -> String {
        let mut s = format!(
            "{} files: {} logs read, {} digests, {} ignored (not CloudTrail)",
            self.files,
            self.log_files,
            self.digest_files,
            self.ignored.len()
        );
        let n = |k| self.count(k);
        let (unreadable, partial, links) =
            (n(EvidenceProblemKind::Unreadable), n(EvidenceProblemKind::Partial), n(EvidenceProblemKind::SkippedLink));
        s.push_str(&format!(
            "; {unreadable} unreadable, {partial} partial, {} records rejected, {links} links not followed",
            self.rejected_records
        ));
        if self.conflicting_duplicates > 0 {
            let (n, what) = match self.conflicting_duplicates {
                1 => (1, "conflicting duplicate (two different records under one event id: a file holding one was altered)"),
                n => (n, "conflicting duplicates (two different records under one event id: a file holding one of each pair was altered)"),
            };
            s.push_str(&format!("; {n} {what}"));
        }
        if self.complete() {
            s.push_str(" (complete)");
        } else {
            s.push_str(" (INCOMPLETE: the conclusions do not cover the files below)");
        }
        s
    }
}

/// The whole report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// Version of this JSON form.
    pub schema_version: &'static str,
    /// `AWS-IR-<YYYYMMDD>-<SEQ>`, dated by the first attacker event (or the evidence start).
    pub id: String,
    /// Accounts in the evidence.
    pub accounts: Vec<String>,
    /// Accounts with attacker activity.
    pub affected_accounts: Vec<String>,
    /// Regions in the evidence.
    pub regions: Vec<String>,
    /// Evidence time range.
    pub evidence_from: Option<Time>,
    /// Evidence time range end.
    pub evidence_to: Option<Time>,
    /// First attacker event.
    pub activity_from: Option<Time>,
    /// Last attacker event.
    pub activity_to: Option<Time>,
    /// Events in the evidence.
    pub events_total: usize,
    /// Input files read (set by the caller from the ingest; the report does not see files).
    pub evidence_files: usize,
    /// SHA-256 of the evidence manifest (`manifest.json`), set by the caller.
    pub manifest_sha256: Option<String>,
    /// What of the evidence was read and what was not, set by the caller.
    pub evidence_coverage: EvidenceCoverage,
    /// Examiner overrides in force (`--trust`).
    pub overrides: Vec<String>,
    /// Attacker events plus other events with a non-risk finding of medium severity or more.
    pub suspicious_events: usize,
    /// Events of attacker actors.
    pub attacker_events: usize,
    /// Every actor, ranked (attackers first).
    pub actors: Vec<Actor>,
    /// Credentials the attacker held.
    pub compromised_credentials: Vec<Credential>,
    /// Where the attacker came from.
    pub source_ips: Vec<SourceIp>,
    /// What the attacker did.
    pub actions: Vec<Action>,
    /// What data the attacker read.
    pub data_accessed: Vec<DataAccess>,
    /// Persistence created (or attempted).
    pub persistence: Vec<Change>,
    /// Logging and detection weakened (or attempted).
    pub defense_evasion: Vec<Change>,
    /// Containment and remediation checklist.
    pub remediation: Vec<Remediation>,
    /// Findings by rule (risk rules flagged).
    pub findings: Vec<RuleCount>,
    /// What the evidence covers.
    pub coverage: Coverage,
    /// The baselines' learning window, when baselines ran.
    pub baseline: Option<BaselineWindow>,
    /// GeoIP, ASN and AWS address space of the source IPs (or that enrichment was not done).
    pub enrichment: Enrichment,
    /// Attacker timeline.
    pub timeline: Timeline,
    /// Activity to review, not attributed to the attacker: every event of `suspicious` actors
    /// and the events of `unknown` actors with a non-risk finding of medium severity or more,
    /// in time order.
    pub suspicious_timeline: Timeline,
    /// Events over time of the actors on the two timelines.
    pub activity: Activity,
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

/// Calls that can weaken logging or detection (whether one did is decided per call, by
/// [`logging_direction`]).
pub const EVASION_CALLS: &[&str] = &[
    "StopLogging",
    "DeleteTrail",
    "UpdateTrail",
    "PutEventSelectors",
    "PutInsightSelectors",
    "DeleteDetector",
    "UpdateDetector",
    "DisassociateFromMasterAccount",
    "DisassociateFromAdministratorAccount",
    "DeleteConfigurationRecorder",
    "StopConfigurationRecorder",
    "DeleteDeliveryChannel",
    "DisableSecurityHub",
    "DeleteAnalyzer",
    "DeleteFlowLogs",
    "DeleteLogGroup",
    "PutBucketLogging",
    "LeaveOrganization",
    "DeleteEventDataStore",
    "StopEventDataStoreIngestion",
];

impl Report {
    /// Attribute activity to actors and build the report.
    ///
    /// The actor model ([`crate::actors`]) decides who the attacker is; every section below the
    /// actors table is computed from the events of `attacker` actors only.
    pub fn build(store: &Store, findings: &[Finding], lineage: &Lineage, opts: &ReportOptions) -> Report {
        let actors = attribute(store, findings, lineage, &opts.actors);
        Self::from_actors(store, findings, lineage, actors, opts)
    }

    /// Build the report from actors already attributed.
    pub fn from_actors(
        store: &Store,
        findings: &[Finding],
        lineage: &Lineage,
        actors: Actors,
        opts: &ReportOptions,
    ) -> Report {
        let key_str = |row: usize| store.event(row).str(Field::AccessKeyId);
        let ip_str = |row: usize| store.event(row).str(Field::SourceIp);
        let times = store.times();
        let rows: Vec<usize> = actors.attacker_rows();
        let mut attacker_row = Selection::none(store.len());
        for &r in &rows {
            attacker_row.insert(r);
        }
        let actor_of = |row: usize| actors.of_row[row] as usize + 1;
        let undos = Undos::build(store);

        let mut rules_by_row: AHashMap<usize, Vec<&Finding>> = AHashMap::new();
        let mut flagged = Selection::none(store.len());
        for f in findings {
            for &r in &f.rows {
                if f.rule.severity >= Severity::Medium && !f.rule.risk {
                    flagged.insert(r as usize);
                }
                rules_by_row.entry(r as usize).or_default().push(f);
            }
        }
        let mut suspicious = flagged.clone();
        suspicious.or(&attacker_row);

        let entry = |r: usize| {
            let (mut ids, mut techniques): (Vec<String>, Vec<String>) = (Vec::new(), Vec::new());
            for f in rules_by_row.get(&r).into_iter().flatten() {
                if !ids.contains(&f.rule.id) {
                    ids.push(f.rule.id.clone());
                }
                for t in &f.rule.techniques {
                    if !techniques.contains(t) {
                        techniques.push(t.clone());
                    }
                }
            }
            TimelineEntry::new(store, r, actor_of(r), ids, techniques)
        };
        let timeline = Timeline { entries: rows.iter().map(|&r| entry(r)).collect() };
        // Suspicious actors in full; of unknown ones only the events with a finding that counts
        // (non-risk, medium or more, as in `suspicious_events`): their other calls are mostly the
        // owner's routine and would bury it.
        let mut review_rows: Vec<usize> = Vec::new();
        let mut activity = Activity::axis(times.first().copied(), times.last().copied());
        for a in &actors.actors {
            let flagged_rows = a.rows.iter().map(|&r| r as usize).filter(|&r| flagged.contains(r));
            match a.verdict {
                Verdict::Suspicious => review_rows.extend(a.rows.iter().map(|&r| r as usize)),
                Verdict::Unknown => review_rows.extend(flagged_rows.clone()),
                Verdict::Attacker => {}
                Verdict::Benign => continue,
            }
            if a.verdict != Verdict::Unknown || flagged_rows.clone().next().is_some() {
                activity.add(a.id, a.rows.iter().map(|&r| (times[r as usize], flagged.contains(r as usize))));
            }
        }
        review_rows.sort_unstable();
        let suspicious_timeline = Timeline::folded_by_day(review_rows.into_iter().map(entry));

        let accounts = distinct(store, Field::RecipientAccount, 0..store.len());
        let regions = distinct(store, Field::AwsRegion, 0..store.len());
        let affected_accounts = distinct(store, Field::RecipientAccount, rows.iter().copied());

        // Credentials: every key an attacker actor used, and every key it issued.
        let mut used: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for &r in &rows {
            if let Some(k) = key_str(r) {
                used.entry(k).or_default().push(r);
            }
        }
        let mut held: BTreeSet<String> = used.keys().map(|k| k.to_string()).collect();
        let mut frontier: Vec<String> = held.iter().cloned().collect();
        while let Some(k) = frontier.pop() {
            for child in lineage.children(&k) {
                if attacker_row.contains(child.row) && held.insert(child.key.clone()) {
                    frontier.push(child.key.clone());
                }
            }
        }
        let mut credentials = Vec::new();
        for key in &held {
            let used_rows = used.get(key.as_str()).cloned().unwrap_or_default();
            let obtained = match lineage.issuance(key) {
                Some(i) if attacker_row.contains(i.row) => Obtained::Issued {
                    via: i.via.clone(),
                    by_key: i.parent_key.clone().unwrap_or_default(),
                    at: Time(times[i.row]),
                },
                _ => Obtained::InitialAccess { actor: used_rows.first().map(|&r| actor_of(r)).unwrap_or(0) },
            };
            let end_state = undos.key_state(store, key);
            let account = used_rows
                .first()
                .copied()
                .or_else(|| lineage.issuance(key).map(|i| i.row))
                .and_then(|r| store.event(r).str(Field::RecipientAccount))
                .unwrap_or("")
                .to_owned();
            credentials.push(Credential {
                access_key: key.clone(),
                kind: KeyKind::of(key),
                principals: match distinct(store, Field::PrincipalArn, used_rows.iter().copied()) {
                    p if p.is_empty() => lineage.issuance(key).and_then(|i| i.subject.clone()).into_iter().collect(),
                    p => p,
                },
                obtained,
                first_used: used_rows.first().map(|&r| Time(times[r])),
                last_used: used_rows.last().map(|&r| Time(times[r])),
                events: used_rows.len(),
                end_state,
                account,
            });
        }
        // Initial access first (the credential the intrusion started with), then by first use.
        credentials.sort_by(|a, b| {
            let rank = |c: &Credential| (!matches!(c.obtained, Obtained::InitialAccess { .. }), c.first_used.is_none());
            (rank(a), a.first_used, &a.access_key).cmp(&(rank(b), b.first_used, &b.access_key))
        });

        let mut ips: BTreeMap<&str, (usize, usize, usize, Vec<String>)> = BTreeMap::new();
        for &r in &rows {
            if let Some(ip) = ip_str(r).filter(|s| is_ip(s)) {
                let e = ips.entry(ip).or_insert((0, r, r, Vec::new()));
                e.0 += 1;
                e.2 = r;
                if let Some(ua) = store.event(r).str(Field::UserAgent) {
                    let ua = normalize(ua).to_owned();
                    if !e.3.contains(&ua) {
                        e.3.push(ua);
                    }
                }
            }
        }
        let mut source_ips: Vec<SourceIp> = ips
            .into_iter()
            .map(|(ip, (n, first, last, mut uas))| {
                uas.sort();
                SourceIp {
                    ip: ip.into(),
                    events: n,
                    first_seen: Time(times[first]),
                    last_seen: Time(times[last]),
                    user_agent_kinds: uas.iter().map(|u| classify(u).label()).collect(),
                    user_agents: uas,
                }
            })
            .collect();
        source_ips.sort_by(|a, b| (a.first_seen, &a.ip).cmp(&(b.first_seen, &b.ip)));

        let mut actions: Vec<Action> = Vec::new();
        let mut action_index: AHashMap<String, usize> = AHashMap::new();
        for &r in &rows {
            let name = action_name(store, r);
            let i = *action_index.entry(name.clone()).or_insert_with(|| {
                actions.push(Action {
                    action: name.clone(),
                    succeeded: 0,
                    denied: 0,
                    failed: 0,
                    first: Time(times[r]),
                });
                actions.len() - 1
            });
            match outcome(store, r) {
                CallOutcome::Ok => actions[i].succeeded += 1,
                CallOutcome::Denied => actions[i].denied += 1,
                CallOutcome::Failed => actions[i].failed += 1,
            }
        }

        let (mut persistence, mut defense_evasion, data_accessed) = (Vec::new(), Vec::new(), data_access(store, &rows));
        for &r in &rows {
            let e = store.event(r);
            let name = base_event_name(e.str(Field::EventName).unwrap_or(""));
            let direction = logging_direction(store, r);
            let into = if PERSISTENCE_CALLS.contains(&name) {
                &mut persistence
            } else if EVASION_CALLS.contains(&name) && direction != Some(Direction::Strengthens) {
                &mut defense_evasion
            } else {
                continue;
            };
            let (target, detail) = describe_change(store, r, name, &accounts);
            into.push(Change {
                time: Time(times[r]),
                account: e.str(Field::RecipientAccount).unwrap_or("").into(),
                action: action_name(store, r),
                target,
                detail,
                succeeded: e.str(Field::ErrorCode).is_none(),
                direction,
                end_state: undos.end_state(store, r),
                actor: actor_of(r),
                event_id: e.str(Field::EventId).unwrap_or("").into(),
            });
        }

        let mut by_rule: BTreeMap<&str, (RuleCount, BTreeSet<usize>)> = BTreeMap::new();
        for f in findings {
            let c = by_rule.entry(&f.rule.id).or_insert_with(|| {
                (
                    RuleCount {
                        rule: f.rule.id.clone(),
                        title: f.rule.title.clone(),
                        severity: f.rule.severity,
                        risk: f.rule.risk,
                        techniques: f.rule.techniques.clone(),
                        findings: 0,
                        attempts: 0,
                        events: 0,
                        actors: Vec::new(),
                    },
                    BTreeSet::new(),
                )
            });
            c.0.findings += 1;
            c.0.attempts += f.attempt(store).is_some() as usize;
            c.0.events += f.rows.len();
            c.1.extend(f.rows.iter().map(|&r| actor_of(r as usize)));
        }
        let mut rule_counts: Vec<RuleCount> = by_rule
            .into_values()
            .map(|(mut c, a)| {
                c.actors = a.into_iter().collect();
                c
            })
            .collect();
        rule_counts.sort_by(|a, b| a.risk.cmp(&b.risk).then(b.severity.cmp(&a.severity)).then(a.rule.cmp(&b.rule)));

        let coverage = coverage(store, &rows, opts.gap_ms);
        let baseline = opts.baseline_window.map(|(from, to)| BaselineWindow {
            from: Time(from),
            to: Time(to),
            source: opts.baseline_source.clone().unwrap_or_else(|| "evidence".into()),
            attacker_events_inside: if opts.baseline_source.is_some() {
                0
            } else {
                rows.iter().filter(|&&r| times[r] >= from && times[r] < to).count()
            },
        });
        let remediation = remediation(&credentials, &persistence, &defense_evasion, &data_accessed, store, &rows);

        let enrichment = Enrichment::build(&actors.actors, &opts.actors);
        let day_of = rows.first().copied().map(|r| times[r]).or(times.first().copied());
        let date = day_of.map(|t| chrono_free_iso(t)[..10].replace('-', "")).unwrap_or_else(|| "00000000".into());
        Report {
            schema_version: SCHEMA_VERSION,
            id: format!("AWS-IR-{date}-{:03}", opts.case_seq),
            accounts,
            affected_accounts,
            regions,
            evidence_from: times.first().map(|&t| Time(t)),
            evidence_to: times.last().map(|&t| Time(t)),
            activity_from: rows.first().map(|&r| Time(times[r])),
            activity_to: rows.last().map(|&r| Time(times[r])),
            events_total: store.len(),
            evidence_files: store.sources().len(),
            manifest_sha256: None,
            evidence_coverage: EvidenceCoverage::default(),
            overrides: opts.actors.trust.iter().map(Trust::describe).collect(),
            suspicious_events: suspicious.count(),
            attacker_events: rows.len(),
            actors: actors.actors,
            compromised_credentials: credentials,
            source_ips,
            actions,
            data_accessed,
            persistence,
            defense_evasion,
            remediation,
            findings: rule_counts,
            coverage,
            baseline,
            enrichment,
            timeline,
            suspicious_timeline,
            activity,
        }
    }

    /// Actors with a given verdict.
    pub fn actors_with(&self, verdict: Verdict) -> impl Iterator<Item = &Actor> {
        self.actors.iter().filter(move |a| a.verdict == verdict)
    }
}

/// Trail-off stretches, long silences and missing data events, with what they mean for the
/// attacker's activity.
fn coverage(store: &Store, attacker_rows: &[usize], gap_ms: i64) -> Coverage {
    let times = store.times();
    let mut gaps = Vec::new();
    let mut per_account: BTreeMap<&str, (Option<i64>, Vec<i64>)> = BTreeMap::new();
    let mut trail_off: BTreeMap<(String, String), i64> = BTreeMap::new();
    let mut closed: Vec<CoverageGap> = Vec::new();
    for (row, &time) in times.iter().enumerate() {
        let e = store.event(row);
        let account = e.str(Field::RecipientAccount).unwrap_or("");
        let slot = per_account.entry(account).or_default();
        if e.str(Field::EventCategory) == Some("Data") {
            slot.0.get_or_insert(time);
        } else {
            slot.1.push(time);
        }
        let name = e.str(Field::EventName).unwrap_or("");
        if !matches!(name, "StopLogging" | "DeleteTrail" | "StartLogging" | "CreateTrail")
            || e.str(Field::ErrorCode).is_some()
        {
            continue;
        }
        let Some(trail) = e.fields().get_str("requestParameters.name").map(|t| trail_name(&t)) else { continue };
        let k = (account.to_owned(), trail);
        match name {
            "StopLogging" | "DeleteTrail" => {
                trail_off.entry(k).or_insert(time);
            }
            _ => {
                if let Some(from) = trail_off.remove(&k) {
                    closed.push(CoverageGap::TrailOff {
                        account: k.0,
                        trail: k.1,
                        from: Time(from),
                        to: Some(Time(time)),
                    });
                }
            }
        }
    }
    for ((account, trail), from) in trail_off {
        closed.push(CoverageGap::TrailOff { account, trail, from: Time(from), to: None });
    }
    let evidence_start = times.first().copied().unwrap_or(0);
    let span = times.last().copied().unwrap_or(0) - evidence_start;
    for (account, (first_data, mgmt)) in &per_account {
        match first_data {
            None => gaps.push(CoverageGap::NoDataEvents { account: (*account).into(), first_data_event: None }),
            // Data events that start well after the evidence does were switched on meanwhile
            // (sparse data events in a quiet account start late by chance, hence the margin).
            Some(t) if *t - evidence_start > (6 * 3_600_000).max(span / 10) => {
                gaps.push(CoverageGap::NoDataEvents { account: (*account).into(), first_data_event: Some(Time(*t)) })
            }
            _ => {}
        }
        for w in mgmt.windows(2) {
            if w[1] - w[0] >= gap_ms {
                gaps.push(CoverageGap::Silence { account: (*account).into(), from: Time(w[0]), to: Time(w[1]) });
            }
        }
    }
    gaps.extend(closed);
    let mut caveats = Vec::new();
    let mut first_attack: BTreeMap<&str, i64> = BTreeMap::new();
    for &r in attacker_rows {
        first_attack.entry(store.event(r).str(Field::RecipientAccount).unwrap_or("")).or_insert(times[r]);
    }
    for g in &gaps {
        match g {
            CoverageGap::NoDataEvents { account, first_data_event } => {
                if let Some(&t) = first_attack.get(account.as_str()) {
                    match first_data_event {
                        None => caveats.push(format!(
                            "account {account}: no data events in the evidence; the attacker was active there from {}, so S3 object reads and Lambda invocations are unknown, not absent",
                            Time(t)
                        )),
                        Some(d) if d.0 > t => caveats.push(format!(
                            "account {account}: data events only from {d}; the attacker was active there from {}, so object reads before {d} are not in the evidence",
                            Time(t)
                        )),
                        _ => {}
                    }
                }
            }
            CoverageGap::TrailOff { account, trail, from, to } => caveats.push(format!(
                "account {account}: trail {trail} off from {from} to {}: activity it alone would have logged is missing",
                to.map(|t| t.to_string()).unwrap_or_else(|| "the end of the evidence".into())
            )),
            CoverageGap::Silence { account, from, to } => {
                if first_attack.contains_key(account.as_str()) {
                    caveats.push(format!("account {account}: no management events from {from} to {to}"));
                }
            }
        }
    }
    Coverage { gaps, caveats }
}

fn remediation(
    credentials: &[Credential],
    persistence: &[Change],
    evasion: &[Change],
    data: &[DataAccess],
    store: &Store,
    rows: &[usize],
) -> Vec<Remediation> {
    let mut out = Vec::new();
    for c in credentials {
        let principal = c.principals.first().cloned().unwrap_or_default();
        let account = c.account.clone();
        let (step, because) = match c.kind {
            KeyKind::LongTerm => (Step::DeactivateKey, Because::AttackerKey { principal }),
            _ => (Step::RevokeSessions, Because::AttackerSession { principal }),
        };
        out.push(Remediation { step, target: c.access_key.clone(), account, because, status: c.end_state.clone() });
    }
    for ch in persistence.iter().chain(evasion).filter(|c| c.succeeded) {
        let name = ch.action.rsplit(':').next().unwrap_or("");
        let step = Step::undoing(name);
        let target = if ch.detail.is_empty() { ch.target.clone() } else { format!("{} ({})", ch.target, ch.detail) };
        out.push(Remediation {
            step,
            target,
            account: ch.account.clone(),
            because: Because::Change { action: ch.action.clone(), time: ch.time, actor: ch.actor },
            status: ch.end_state.clone(),
        });
    }
    for d in data {
        let step = match d.service.as_str() {
            "s3" => Step::ReviewBucket,
            "secretsmanager" => Step::RotateSecret,
            "ssm" => Step::RotateParameter,
            "kms" => Step::ReviewKeyUse,
            _ => Step::ReviewData,
        };
        out.push(Remediation {
            step,
            target: d.resource.clone(),
            account: d.account.clone(),
            because: Because::Reads { count: d.reads },
            status: EndState::Present,
        });
    }
    let launches: Vec<usize> = rows
        .iter()
        .copied()
        .filter(|&r| {
            store.event(r).str(Field::EventName) == Some("RunInstances") && outcome(store, r) == CallOutcome::Ok
        })
        .collect();
    for r in launches {
        let e = store.event(r);
        let ids = e
            .fields()
            .get("responseElements.instancesSet.items")
            .and_then(|v| {
                v.as_array().map(|a| {
                    a.iter().filter_map(|i| i.get("instanceId").and_then(Value::as_str)).collect::<Vec<_>>().join(", ")
                })
            })
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| format!("launched in {}", e.str(Field::AwsRegion).unwrap_or("?")));
        out.push(Remediation {
            step: Step::TerminateInstances,
            target: ids,
            account: e.str(Field::RecipientAccount).unwrap_or("").into(),
            because: Because::Launch { time: Time(e.time_ms()) },
            status: EndState::Present,
        });
    }
    out
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

    /// The reason behind a step is typed: a text report shows its time in the examiner's zone,
    /// the JSON report in UTC, whatever zone the writer runs under.
    #[test]
    fn a_reason_time_follows_the_display_zone_and_serialises_in_utc() {
        let because = Because::Change { action: "iam:CreateUser".into(), time: Time(1_709_608_403_000), actor: 2 };
        let zone: crate::DisplayZone = "+02:00".parse().unwrap();
        let shown = crate::with_display_zone(zone, || because.to_string());
        assert_eq!(shown, "iam:CreateUser at 2024-03-05T05:13:23+02:00 by actor #2");
        let json = crate::with_display_zone(zone, || serde_json::to_string(&because).unwrap());
        assert_eq!(json, "\"iam:CreateUser at 2024-03-05T03:13:23Z by actor #2\"");
        assert_eq!(serde_json::to_string(&Step::undoing("StopLogging")).unwrap(), "\"Start logging again on trail\"");
    }
}
