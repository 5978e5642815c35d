//! What a change did and what became of it: whether a logging change adds or removes coverage,
//! and, for persistence and evasion, the end state as of the end of the evidence (still present,
//! reverted or deleted — when and by whom).

use ahash::AHashMap;
use serde::Serialize;
use serde_json::Value;
use trailscope_indicators::base_event_name;
use trailscope_store::{Field, Fields, Store};

use crate::actors::{outcome, CallOutcome};
use crate::Time;

/// Whether a change to logging or detection adds or removes coverage.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// Less is logged or detected.
    Weakens,
    /// More is logged or detected.
    Strengthens,
    /// Neither, as far as the request shows.
    Neutral,
}

fn is_false(v: &Value) -> bool {
    matches!(v, Value::Bool(false)) || v.as_str().is_some_and(|s| s.eq_ignore_ascii_case("false"))
}

fn is_true(v: &Value) -> bool {
    matches!(v, Value::Bool(true)) || v.as_str().is_some_and(|s| s.eq_ignore_ascii_case("true"))
}

fn non_empty(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(o)) => !o.is_empty(),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Null) | None => false,
        Some(_) => true,
    }
}

fn selectors_direction(f: &Fields<'_>) -> Direction {
    let mut adds = false;
    if let Some(Value::Array(sel)) = f.get("requestParameters.eventSelectors") {
        for s in &sel {
            let rw = s.get("readWriteType").and_then(Value::as_str).unwrap_or("All");
            if rw != "All"
                || s.get("includeManagementEvents").is_some_and(is_false)
                || non_empty(s.get("excludeManagementEventSources"))
            {
                return Direction::Weakens;
            }
            adds |= non_empty(s.get("dataResources"));
        }
    }
    if let Some(Value::Array(adv)) = f.get("requestParameters.advancedEventSelectors") {
        for s in &adv {
            let Some(Value::Array(fs)) = s.get("fieldSelectors") else { continue };
            for fsel in fs {
                let field = fsel.get("field").and_then(Value::as_str).unwrap_or("");
                let negated = non_empty(fsel.get("notEquals")) || non_empty(fsel.get("notStartsWith"));
                if field == "readOnly" || (negated && (field == "eventSource" || field == "eventCategory")) {
                    return Direction::Weakens;
                }
                if field == "eventCategory" && fsel.get("equals").is_some_and(|v| v.to_string().contains("Data")) {
                    adds = true;
                }
            }
        }
    }
    if adds {
        Direction::Strengthens
    } else {
        Direction::Neutral
    }
}

/// The direction of a logging or detection change, or `None` when the call is no such change.
pub fn logging_direction(store: &Store, row: usize) -> Option<Direction> {
    let e = store.event(row);
    let name = base_event_name(e.str(Field::EventName)?);
    Some(match name {
        "StopLogging"
        | "DeleteTrail"
        | "DeleteDetector"
        | "DisassociateFromMasterAccount"
        | "DisassociateFromAdministratorAccount"
        | "DisassociateMembers"
        | "DeleteMembers"
        | "StopMonitoringMembers"
        | "DeleteConfigurationRecorder"
        | "StopConfigurationRecorder"
        | "DeleteDeliveryChannel"
        | "DisableSecurityHub"
        | "DeleteAnalyzer"
        | "DeleteFlowLogs"
        | "DeleteLogGroup"
        | "DeleteLogStream"
        | "LeaveOrganization"
        | "DeleteEventDataStore"
        | "StopEventDataStoreIngestion" => Direction::Weakens,
        "StartLogging"
        | "CreateTrail"
        | "CreateDetector"
        | "StartConfigurationRecorder"
        | "PutConfigurationRecorder"
        | "EnableSecurityHub"
        | "CreateFlowLogs"
        | "CreateLogGroup"
        | "StartEventDataStoreIngestion"
        | "CreateEventDataStore" => Direction::Strengthens,
        "UpdateDetector" => {
            let f = e.fields();
            match f.get("requestParameters.enable") {
                Some(v) if is_false(&v) => Direction::Weakens,
                Some(v) if is_true(&v) => Direction::Strengthens,
                _ => Direction::Neutral,
            }
        }
        "PutEventSelectors" => selectors_direction(&e.fields()),
        "UpdateTrail" => {
            let f = e.fields();
            let p = |k: &str| f.get(&format!("requestParameters.{k}"));
            if ["isMultiRegionTrail", "includeGlobalServiceEvents", "enableLogFileValidation"]
                .iter()
                .any(|k| p(k).is_some_and(|v| is_false(&v)))
            {
                Direction::Weakens
            } else if non_empty(p("cloudWatchLogsLogGroupArn").as_ref())
                || ["isMultiRegionTrail", "includeGlobalServiceEvents", "enableLogFileValidation"]
                    .iter()
                    .any(|k| p(k).is_some_and(|v| is_true(&v)))
            {
                Direction::Strengthens
            } else {
                Direction::Neutral
            }
        }
        "PutBucketLogging" => {
            let f = e.fields();
            let status = f.get("requestParameters.BucketLoggingStatus");
            let on = status.as_ref().is_some_and(|s| s.to_string().contains("LoggingEnabled"));
            if on {
                Direction::Strengthens
            } else {
                Direction::Weakens
            }
        }
        "PutInsightSelectors" => match e.fields().get("requestParameters.insightSelectors") {
            Some(Value::Array(a)) if a.is_empty() => Direction::Weakens,
            Some(_) => Direction::Strengthens,
            None => Direction::Neutral,
        },
        _ => return None,
    })
}

/// What became of a change by the end of the evidence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum EndState {
    /// Nothing in the evidence undoes it.
    Present,
    /// Undone later.
    Reverted {
        /// When.
        at: Time,
        /// The undoing call (`iam:DeleteUser`).
        by_call: String,
        /// Who undid it (principal ARN).
        by_principal: String,
        /// The undoing event.
        event_id: String,
    },
    /// The call failed: an attempt, nothing changed.
    Attempted {
        /// Its error code.
        error: String,
    },
}

impl EndState {
    /// The checklist mark of a remediation step on this change: `[x]` already undone, `[-]`
    /// only attempted, `[ ]` still to do.
    pub fn checkbox(&self) -> &'static str {
        match self {
            EndState::Reverted { .. } => "[x]",
            EndState::Attempted { .. } => "[-]",
            EndState::Present => "[ ]",
        }
    }
}

/// A trail's name from its name or ARN.
pub fn trail_name(s: &str) -> String {
    s.rsplit_once("trail/").map(|(_, n)| n).unwrap_or(s).to_owned()
}

/// Handles that identify what a change created or altered, so a later call can be matched as
/// undoing it. The same handles come from [`undone_by`] for the undoing calls.
fn handles_of_change(name: &str, f: &Fields<'_>, region: &str) -> Vec<String> {
    let g = |p: &str| f.get_str(&format!("requestParameters.{p}"));
    let user = g("userName");
    let role = g("roleName");
    let mut out = Vec::new();
    let mut push = |h: Option<String>| out.extend(h);
    match name {
        "CreateUser" => push(user.map(|u| format!("user:{u}"))),
        "CreateLoginProfile" | "UpdateLoginProfile" => {
            push(user.as_ref().map(|u| format!("login:{u}")));
            push(user.map(|u| format!("user:{u}")));
        }
        "CreateAccessKey" => {
            push(f.get_str("responseElements.accessKey.accessKeyId").map(|k| format!("key:{k}")));
            push(user.map(|u| format!("user:{u}")));
        }
        "AttachUserPolicy" | "PutUserPolicy" | "AddUserToGroup" => {
            let what = g("policyArn").or_else(|| g("policyName")).or_else(|| g("groupName")).unwrap_or_default();
            push(user.as_ref().map(|u| format!("user-grant:{u}:{what}")));
            push(user.map(|u| format!("user:{u}")));
        }
        "AttachRolePolicy" | "PutRolePolicy" => {
            let what = g("policyArn").or_else(|| g("policyName")).unwrap_or_default();
            push(role.as_ref().map(|r| format!("role-grant:{r}:{what}")));
            push(role.map(|r| format!("role:{r}")));
        }
        "CreateRole" | "UpdateAssumeRolePolicy" => push(role.map(|r| format!("role:{r}"))),
        "CreateFunction" | "UpdateFunctionCode" | "AddPermission" => {
            push(g("functionName").map(|n| format!("function:{n}")))
        }
        "ImportKeyPair" | "CreateKeyPair" => push(g("keyName").map(|k| format!("keypair:{k}"))),
        "StopLogging" => push(g("name").map(|t| format!("trail-logging:{}", trail_name(&t)))),
        "DeleteTrail" => push(g("name").map(|t| format!("trail:{}", trail_name(&t)))),
        "PutEventSelectors" | "UpdateTrail" => {
            push(g("trailName").or_else(|| g("name")).map(|t| format!("trail-config:{}", trail_name(&t))))
        }
        "DeleteDetector" | "UpdateDetector" => out.push(format!("detector:{region}")),
        "StopConfigurationRecorder" | "DeleteConfigurationRecorder" => out.push(format!("recorder:{region}")),
        _ => {}
    }
    out
}

/// Handles a call undoes (see [`handles_of_change`]).
fn undone_by(name: &str, f: &Fields<'_>, region: &str, weakens: bool) -> Vec<String> {
    let g = |p: &str| f.get_str(&format!("requestParameters.{p}"));
    let user = g("userName");
    let role = g("roleName");
    match name {
        "DeleteUser" => user.map(|u| format!("user:{u}")).into_iter().collect(),
        "DeleteLoginProfile" => user.map(|u| format!("login:{u}")).into_iter().collect(),
        "DeleteAccessKey" => g("accessKeyId").map(|k| format!("key:{k}")).into_iter().collect(),
        "UpdateAccessKey" if g("status").as_deref() == Some("Inactive") => {
            g("accessKeyId").map(|k| format!("key:{k}")).into_iter().collect()
        }
        "DetachUserPolicy" | "DeleteUserPolicy" | "RemoveUserFromGroup" => {
            let what = g("policyArn").or_else(|| g("policyName")).or_else(|| g("groupName")).unwrap_or_default();
            user.map(|u| format!("user-grant:{u}:{what}")).into_iter().collect()
        }
        "DetachRolePolicy" | "DeleteRolePolicy" => {
            let what = g("policyArn").or_else(|| g("policyName")).unwrap_or_default();
            role.map(|r| format!("role-grant:{r}:{what}")).into_iter().collect()
        }
        "DeleteRole" => role.map(|r| format!("role:{r}")).into_iter().collect(),
        "DeleteFunction" | "DeleteFunction20150331" => {
            g("functionName").map(|n| format!("function:{n}")).into_iter().collect()
        }
        "DeleteKeyPair" => g("keyName").map(|k| format!("keypair:{k}")).into_iter().collect(),
        "StartLogging" => g("name").map(|t| format!("trail-logging:{}", trail_name(&t))).into_iter().collect(),
        "CreateTrail" => g("name")
            .map(|t| trail_name(&t))
            .into_iter()
            .flat_map(|t| [format!("trail:{t}"), format!("trail-logging:{t}")])
            .collect(),
        "PutEventSelectors" | "UpdateTrail" if !weakens => g("trailName")
            .or_else(|| g("name"))
            .map(|t| format!("trail-config:{}", trail_name(&t)))
            .into_iter()
            .collect(),
        "CreateDetector" => vec![format!("detector:{region}")],
        "UpdateDetector" if f.get("requestParameters.enable").is_some_and(|v| is_true(&v)) => {
            vec![format!("detector:{region}")]
        }
        "StartConfigurationRecorder" | "PutConfigurationRecorder" => vec![format!("recorder:{region}")],
        _ => Vec::new(),
    }
}

const UNDOING_CALLS: &[&str] = &[
    "DeleteUser",
    "DeleteLoginProfile",
    "DeleteAccessKey",
    "UpdateAccessKey",
    "DetachUserPolicy",
    "DeleteUserPolicy",
    "RemoveUserFromGroup",
    "DetachRolePolicy",
    "DeleteRolePolicy",
    "DeleteRole",
    "DeleteFunction",
    "DeleteFunction20150331",
    "DeleteKeyPair",
    "StartLogging",
    "CreateTrail",
    "PutEventSelectors",
    "UpdateTrail",
    "CreateDetector",
    "UpdateDetector",
    "StartConfigurationRecorder",
    "PutConfigurationRecorder",
];

/// Successful undoing calls in the whole evidence, by `(account, handle)`, oldest first.
#[derive(Debug, Default)]
pub struct Undos {
    by_handle: AHashMap<(String, String), Vec<usize>>,
}

impl Undos {
    /// Index the store's undoing calls (one pass over rows whose event name can undo).
    pub fn build(store: &Store) -> Undos {
        let dict = store.dict(Field::EventName);
        let syms: Vec<_> = UNDOING_CALLS.iter().filter_map(|n| dict.lookup(n)).collect();
        let names = store.column(Field::EventName);
        let mut by_handle: AHashMap<(String, String), Vec<usize>> = AHashMap::new();
        for (row, s) in names.iter().enumerate() {
            if !syms.contains(&s) || outcome(store, row) != CallOutcome::Ok {
                continue;
            }
            let e = store.event(row);
            let name = e.str(Field::EventName).unwrap_or("");
            let region = e.str(Field::AwsRegion).unwrap_or("");
            let weakens = logging_direction(store, row) == Some(Direction::Weakens);
            let account = e.str(Field::RecipientAccount).unwrap_or("").to_owned();
            for h in undone_by(name, &e.fields(), region, weakens) {
                by_handle.entry((account.clone(), h)).or_default().push(row);
            }
        }
        Undos { by_handle }
    }

    /// Whether a key was deactivated or deleted in the evidence (its owner's user deleted too).
    pub fn key_state(&self, store: &Store, key: &str) -> EndState {
        let first = self
            .by_handle
            .iter()
            .filter(|((_, h), _)| h.strip_prefix("key:") == Some(key))
            .flat_map(|(_, rows)| rows.iter().copied())
            .min();
        match first {
            None => EndState::Present,
            Some(r) => self.reverted(store, r),
        }
    }

    fn reverted(&self, store: &Store, r: usize) -> EndState {
        let u = store.event(r);
        EndState::Reverted {
            at: Time(u.time_ms()),
            by_call: crate::timeline::action_name(store, r),
            by_principal: crate::timeline::principal_name(store, r),
            event_id: u.str(Field::EventId).unwrap_or("").to_owned(),
        }
    }

    /// The end state of the change made at `row`.
    pub fn end_state(&self, store: &Store, row: usize) -> EndState {
        let e = store.event(row);
        if let Some(code) = e.str(Field::ErrorCode) {
            return EndState::Attempted { error: code.to_owned() };
        }
        let name = base_event_name(e.str(Field::EventName).unwrap_or(""));
        let account = e.str(Field::RecipientAccount).unwrap_or("").to_owned();
        let region = e.str(Field::AwsRegion).unwrap_or("");
        let undo = handles_of_change(name, &e.fields(), region)
            .into_iter()
            .filter_map(|h| self.by_handle.get(&(account.clone(), h)))
            .filter_map(|rows| rows.iter().copied().find(|&r| r > row))
            .min();
        match undo {
            None => EndState::Present,
            Some(r) => self.reverted(store, r),
        }
    }
}

impl std::fmt::Display for EndState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EndState::Present => f.write_str("still present"),
            EndState::Reverted { at, by_call, by_principal, .. } => {
                write!(f, "undone {at} by {by_principal} ({by_call})")
            }
            EndState::Attempted { error } => write!(f, "attempt only, failed: {error}"),
        }
    }
}
