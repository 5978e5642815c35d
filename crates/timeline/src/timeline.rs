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

impl Timeline {
    /// This timeline's entries and another's in one time order (ties by store row): the
    /// attacker's and the suspicious actors' events as one timeline for other tools.
    pub fn merged<'a>(&'a self, other: &'a Timeline) -> Vec<&'a TimelineEntry> {
        let mut all: Vec<&TimelineEntry> = self.entries.iter().chain(&other.entries).collect();
        all.sort_by_key(|e| (e.time, e.row));
        all
    }
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

/// Most buckets in an activity series: past this many hours of evidence a bucket spans several
/// hours, so a chart of months of evidence stays readable (and the JSON small).
pub const MAX_ACTIVITY_BUCKETS: i64 = 720;

/// Events over time of the actors on the timelines, on one time axis: the whole evidence, from
/// its first hour, in buckets of `bucket_hours`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Activity {
    /// Start of the first bucket (the evidence's first event, rounded down to the hour).
    pub from: Option<Time>,
    /// Width of a bucket in hours: 1, unless the evidence spans more than
    /// [`MAX_ACTIVITY_BUCKETS`] hours.
    pub bucket_hours: u32,
    /// Buckets in every series (up to the evidence's last event).
    pub buckets: usize,
    /// One series per actor on the timelines (attacker, suspicious, unknown with a finding that
    /// counts), in rank order.
    pub actors: Vec<ActorActivity>,
}

/// One actor's events per bucket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ActorActivity {
    /// The actor (rank in the report's actors).
    pub actor: usize,
    /// Its events per bucket.
    pub events: Vec<u32>,
    /// Of those, events with a non-risk finding of medium severity or more (the events
    /// `suspicious_events` counts).
    pub flagged: Vec<u32>,
}

impl Activity {
    /// The axis of evidence spanning `first..=last` (epoch ms), with no series yet.
    pub fn axis(first: Option<i64>, last: Option<i64>) -> Activity {
        let (Some(first), Some(last)) = (first, last) else { return Activity::default() };
        let hour = 3_600_000;
        let from = first.div_euclid(hour) * hour;
        let hours = (last - from).div_euclid(hour) + 1;
        let bucket_hours = ((hours + MAX_ACTIVITY_BUCKETS - 1) / MAX_ACTIVITY_BUCKETS).max(1);
        Activity {
            from: Some(Time(from)),
            bucket_hours: bucket_hours as u32,
            buckets: ((hours + bucket_hours - 1) / bucket_hours) as usize,
            actors: Vec::new(),
        }
    }

    /// Add an actor's series from its event times and whether each is flagged.
    pub fn add(&mut self, actor: usize, events: impl IntoIterator<Item = (i64, bool)>) {
        let Some(from) = self.from else { return };
        let width = i64::from(self.bucket_hours) * 3_600_000;
        let mut series = ActorActivity { actor, events: vec![0; self.buckets], flagged: vec![0; self.buckets] };
        for (t, flagged) in events {
            let i = ((t - from.0).div_euclid(width).max(0) as usize).min(self.buckets.saturating_sub(1));
            series.events[i] += 1;
            series.flagged[i] += u32::from(flagged);
        }
        self.actors.push(series);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activity_buckets_by_hour_from_the_first_hour() {
        // 2024-03-05T02:13:06Z .. 2024-03-05T05:40:00Z: hours 02, 03, 04, 05.
        let (first, last) = (1_709_604_786_000, 1_709_617_200_000);
        let mut a = Activity::axis(Some(first), Some(last));
        assert_eq!(a.from.map(|t| t.to_string()).as_deref(), Some("2024-03-05T02:00:00Z"));
        assert_eq!((a.bucket_hours, a.buckets), (1, 4));
        a.add(7, [(first, true), (first + 60_000, false), (last, true)]);
        assert_eq!(a.actors[0].actor, 7);
        assert_eq!(a.actors[0].events, [2, 0, 0, 1]);
        assert_eq!(a.actors[0].flagged, [1, 0, 0, 1]);
    }

    #[test]
    fn long_evidence_widens_the_buckets() {
        // 90 days: 2160 hours, so 3-hour buckets, 720 of them.
        let first = 1_709_604_000_000;
        let a = Activity::axis(Some(first), Some(first + 90 * 86_400_000 - 1));
        assert_eq!((a.bucket_hours, a.buckets), (3, 720));
        assert_eq!(Activity::axis(None, None), Activity::default());
    }
}
