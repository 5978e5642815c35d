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
    /// Events the entry stands for: 1 on the attacker timeline; on the review timeline, the
    /// events of one kind on one UTC day ([`Timeline::folded_by_day`]).
    pub events: usize,
    /// Time of the last of them; `None` when the entry is one event.
    pub last_time: Option<Time>,
    /// `eventID` of the last of them; `None` when the entry is one event.
    pub last_event_id: Option<String>,
}

/// Attacker activity in time order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Timeline {
    /// Entries, oldest first.
    pub entries: Vec<TimelineEntry>,
}

impl Timeline {
    /// The review timeline from its events in time order: the events of one kind (same actor,
    /// account, region, principal, access key, source, action, outcome and findings) on one UTC
    /// day become one entry at the first of them, counting them and naming the last. A busy
    /// actor's routine is hundreds of thousands of calls of a few dozen kinds; listed one by one
    /// it buries the review (and made a 10M-event report 2.4 GB); folded, the entries grow with
    /// the kinds of activity and the days, not with the volume. Each event stays countable and
    /// findable: `trailscope events` with the entry's principal, action and day lists them.
    pub fn folded_by_day(events: impl IntoIterator<Item = TimelineEntry>) -> Timeline {
        const DAY_MS: i64 = 86_400_000;
        let mut entries: Vec<TimelineEntry> = Vec::new();
        let mut by_kind: ahash::AHashMap<u64, Vec<usize>> = ahash::AHashMap::new();
        for e in events {
            let day = e.time.0.div_euclid(DAY_MS);
            let slot = by_kind.entry(e.kind_hash(day)).or_default();
            match slot
                .iter()
                .copied()
                .find(|&i| entries[i].same_kind(&e) && entries[i].time.0.div_euclid(DAY_MS) == day)
            {
                Some(i) => {
                    let first = &mut entries[i];
                    first.events += 1;
                    first.last_time = Some(e.time);
                    first.last_event_id = Some(e.event_id);
                }
                None => {
                    slot.push(entries.len());
                    entries.push(e);
                }
            }
        }
        Timeline { entries }
    }

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
            events: 1,
            last_time: None,
            last_event_id: None,
        }
    }

    /// Whether `other` is the same kind of event: same actor, account, region, principal,
    /// access key, source, action, outcome and findings.
    fn same_kind(&self, other: &TimelineEntry) -> bool {
        (self.actor, &self.account, &self.region, &self.principal, &self.access_key, &self.source_ip)
            == (other.actor, &other.account, &other.region, &other.principal, &other.access_key, &other.source_ip)
            && (&self.action, &self.error, &self.findings) == (&other.action, &other.error, &other.findings)
    }

    fn kind_hash(&self, day: i64) -> u64 {
        use std::hash::{BuildHasher, Hash, Hasher};
        let mut h = ahash::RandomState::with_seeds(1, 2, 3, 4).build_hasher();
        (day, self.actor, &self.account, &self.region, &self.principal, &self.access_key).hash(&mut h);
        (&self.source_ip, &self.action, &self.error, &self.findings).hash(&mut h);
        h.finish()
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
    fn review_events_of_one_kind_on_one_day_fold_into_their_first() {
        use serde_json::json;
        use trailscope_testkit::{store, with};
        let day = 86_400;
        let s = store(&[
            with(0, 0, &json!({})),
            with(1, 60, &json!({"eventName": "ListBuckets", "eventSource": "s3.amazonaws.com"})),
            with(2, 120, &json!({})),
            // Same call, failed: another kind.
            with(3, 180, &json!({"errorCode": "AccessDenied"})),
            with(4, 240, &json!({})),
            // Another source IP: another kind.
            with(5, 300, &json!({"sourceIPAddress": "203.0.113.9"})),
            // The next UTC day (the base time is 10:00Z): a new entry.
            with(6, day, &json!({})),
            with(7, day + 60, &json!({})),
        ]);
        let entry = |row: usize, actor: usize, rules: &[&str]| {
            TimelineEntry::new(&s, row, actor, rules.iter().map(|r| r.to_string()).collect(), Vec::new())
        };
        let mut events: Vec<TimelineEntry> = (0..s.len()).map(|r| entry(r, 1, &[])).collect();
        // The same call by another actor, and by the first with a finding: other kinds.
        events.insert(3, entry(2, 2, &[]));
        events.insert(4, entry(2, 1, &["ts-recon-burst"]));
        let folded = Timeline::folded_by_day(events.clone());
        let id = |r: usize| s.event(r).str(Field::EventId).unwrap().to_owned();
        let got: Vec<(String, usize, usize, Option<String>)> =
            folded.entries.iter().map(|e| (e.event_id.clone(), e.actor, e.events, e.last_event_id.clone())).collect();
        let want = vec![
            (id(0), 1, 3, Some(id(4))), // rows 0, 2, 4: GetCallerIdentity, ok, same IP, first day
            (id(1), 1, 1, None),        // ListBuckets
            (id(2), 2, 1, None),
            (id(2), 1, 1, None), // with a finding
            (id(3), 1, 1, None), // denied
            (id(5), 1, 1, None), // another IP
            (id(6), 1, 2, Some(id(7))),
        ];
        assert_eq!(got, want);
        assert_eq!(folded.entries[0].last_time, Some(Time(s.times()[4])));
        // Nothing is lost: the entries count every event, and stay in order of their first.
        assert_eq!(folded.entries.iter().map(|e| e.events).sum::<usize>(), events.len());
        assert!(folded.entries.windows(2).all(|w| w[0].time <= w[1].time));
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
