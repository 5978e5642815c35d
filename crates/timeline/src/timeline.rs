//! The chronological attacker timeline.

use serde::Serialize;
use trailscope_store::{Field, Store};

use crate::Time;

/// One event on the timeline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TimelineEntry {
    /// Store row.
    #[serde(skip)]
    pub row: usize,
    /// `eventTime`.
    pub time: Time,
    /// The actor (rank in the report's actors).
    pub actor: usize,
    /// Account whose trail logged it.
    pub account: String,
    /// Region.
    pub region: String,
    /// Principal ARN (or identity type when there is none).
    pub principal: String,
    /// Access key id, if any.
    pub access_key: Option<String>,
    /// Source IP or service.
    pub source_ip: String,
    /// `eventSource` without `.amazonaws.com`, then `:eventName`.
    pub action: String,
    /// `errorCode`, when the call failed.
    pub error: Option<String>,
    /// `eventID`.
    pub event_id: String,
    /// Ids of rules that fired on this event.
    pub findings: Vec<String>,
    /// ATT&CK techniques of those rules.
    pub techniques: Vec<String>,
}

/// Attacker activity in time order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Timeline {
    /// Entries, oldest first.
    pub entries: Vec<TimelineEntry>,
}

/// Short form of an action: `iam:CreateUser`.
pub fn action_name(store: &Store, row: usize) -> String {
    let e = store.event(row);
    let src = e.str(Field::EventSource).unwrap_or("?");
    format!("{}:{}", src.strip_suffix(".amazonaws.com").unwrap_or(src), e.str(Field::EventName).unwrap_or("?"))
}

/// Who made the call, in the examiner's words.
pub fn principal_name(store: &Store, row: usize) -> String {
    let e = store.event(row);
    e.str(Field::PrincipalArn)
        .map(str::to_owned)
        .or_else(|| e.str(Field::InvokedBy).map(|s| format!("service:{s}")))
        .or_else(|| {
            e.str(Field::IdentityType)
                .map(|t| format!("{t}:{}", e.str(Field::IdentityAccount).or(e.str(Field::PrincipalId)).unwrap_or("?")))
        })
        .unwrap_or_else(|| "unknown".into())
}

impl TimelineEntry {
    /// Build the entry for a row.
    pub fn new(store: &Store, row: usize, actor: usize, findings: Vec<String>, techniques: Vec<String>) -> Self {
        let e = store.event(row);
        TimelineEntry {
            row,
            time: Time(e.time_ms()),
            actor,
            account: e.str(Field::RecipientAccount).or(e.str(Field::IdentityAccount)).unwrap_or("").into(),
            region: e.str(Field::AwsRegion).unwrap_or("").into(),
            principal: principal_name(store, row),
            access_key: e.str(Field::AccessKeyId).map(str::to_owned),
            source_ip: e.str(Field::SourceIp).unwrap_or("").into(),
            action: action_name(store, row),
            error: e.str(Field::ErrorCode).map(str::to_owned),
            event_id: e.str(Field::EventId).unwrap_or("").into(),
            findings,
            techniques,
        }
    }
}
