//! Re-deliveries whose content differs from the copy kept: *conflicting duplicates*.
//!
//! CloudTrail re-delivers some records (the same record in two log files); the merge keeps the
//! first delivery of each `(eventID, recipientAccountId)` in file order and counts the others as
//! duplicates. A plain re-delivery is the same record again. Two different records under one
//! event id are not something CloudTrail writes: AWS documents a record updated after the fact
//! (`addendum.reason` `UPDATED_DATA`) as a new record naming the one it updates
//! (`addendum.originalEventID`, `originalRequestID`), not as the old id with new content. So one
//! of the two files was altered, and the examiner must learn it, with both files named.
//!
//! The comparison runs only for rows settled as duplicates: column values are compared as
//! store-wide ids (or strings, for the columns kept without a dictionary), then the payloads'
//! bytes, and only when those differ are the payloads parsed to name the top-level members that
//! differ. A copy that differs from the kept one *only* by its `addendum` block is an ordinary
//! re-delivery (CloudTrail adds the block to a record it delivered late, `DELIVERY_DELAY`, or
//! after an outage, `SERVICE_OUTAGE`): it is not reported.

use serde_json::{Map, Value};

use crate::provenance::RecordRef;

/// How many conflicting duplicates are kept in a list (all are counted).
pub const MAX_CONFLICTS: usize = 500;

/// Stands for the fields of a conflict found by digest, not field by field (a segment merge over
/// more than 256 MiB of events in one second keeps digests beyond that).
pub const NOT_NAMED: &str = "(content: fields not named, over 256 MiB of events in one second)";

/// The member CloudTrail adds to a record delivered late or after an outage; a copy differing
/// only by it is not a conflict.
pub const ADDENDUM: &str = "addendum";

/// Two different records delivered under one `eventID` and `recipientAccountId`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    /// The shared `eventID`.
    pub event_id: String,
    /// The shared `recipientAccountId` (`None` when absent).
    pub account: Option<String>,
    /// The copy the store kept (the first delivery in file order).
    pub kept: RecordRef,
    /// The other copy, dropped as a duplicate.
    pub other: RecordRef,
    /// Top-level fields whose values differ (`sourceIPAddress`, `requestParameters`,
    /// `userIdentity`, `eventTime`, ...), sorted.
    pub fields: Vec<String>,
}

/// The conflicting duplicates of a merge: every one counted, [`MAX_CONFLICTS`] kept: the first
/// in evidence order of the other copy, then of the kept one ([`Conflict::order`]), whatever
/// order the merge meets them in, so that one ingest and a save in segments keep the same ones.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Conflicts {
    /// How many were found.
    pub total: u64,
    /// The first ones in evidence order (not sorted).
    pub listed: Vec<Conflict>,
}

impl Conflict {
    /// Evidence order: the other copy's file and record, then the kept copy's.
    pub fn order(other: RecordRef, kept: RecordRef) -> (u32, u32, u32, u32) {
        (other.source.0, other.index, kept.source.0, kept.index)
    }
}

impl Conflicts {
    /// Count one; keep it when it is among the first [`MAX_CONFLICTS`] in evidence order
    /// (`make` is called only then). One ingest meets them in that order (an append); a segment
    /// merge meets them by time and may replace a later one.
    pub fn note(&mut self, other: RecordRef, kept: RecordRef, make: impl FnOnce() -> Conflict) {
        self.total += 1;
        if self.listed.len() < MAX_CONFLICTS {
            self.listed.push(make());
            return;
        }
        let order = Conflict::order(other, kept);
        let (last, last_order) = self
            .listed
            .iter()
            .enumerate()
            .map(|(i, c)| (i, Conflict::order(c.other, c.kept)))
            .max_by_key(|&(_, o)| o)
            .expect("a full list");
        if order < last_order {
            self.listed[last] = make();
        }
    }
}

/// The top-level member a column's dotted path belongs to.
pub(crate) fn top_level(path: &str) -> &str {
    path.split('.').next().unwrap_or(path)
}

/// Add to `out` the top-level members whose values differ between two payloads (minified JSON
/// objects). Bytes are compared first: the parse is paid only when they differ.
pub(crate) fn payload_differences(a: &[u8], b: &[u8], out: &mut Vec<String>) {
    if a == b {
        return;
    }
    let parse = |p: &[u8]| serde_json::from_slice::<Map<String, Value>>(p).unwrap_or_default();
    let (a, b) = (parse(a), parse(b));
    for (k, v) in &a {
        if b.get(k) != Some(v) {
            out.push(k.clone());
        }
    }
    out.extend(b.keys().filter(|k| !a.contains_key(*k)).cloned());
}

/// Sort and de-duplicate the differing fields; `true` when they make the two copies different
/// records (anything differs but the `addendum` block).
pub(crate) fn settle(fields: &mut Vec<String>) -> bool {
    fields.sort();
    fields.dedup();
    fields.iter().any(|f| f != ADDENDUM)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn differences(a: &str, b: &str) -> Vec<String> {
        let mut out = Vec::new();
        payload_differences(a.as_bytes(), b.as_bytes(), &mut out);
        out.sort();
        out
    }

    #[test]
    fn members_that_differ_are_named_whatever_their_order() {
        let kept = r#"{"requestParameters":{"userName":"alice"},"responseElements":null}"#;
        assert!(differences(kept, kept).is_empty());
        assert!(differences(kept, r#"{"responseElements":null,"requestParameters":{"userName":"alice"}}"#).is_empty());
        assert_eq!(
            differences(kept, r#"{"requestParameters":{"userName":"backdoor"},"responseElements":null}"#),
            ["requestParameters"]
        );
        assert_eq!(
            differences(kept, r#"{"requestParameters":{"userName":"alice"},"additionalEventData":{}}"#),
            ["additionalEventData", "responseElements"]
        );
    }

    #[test]
    fn an_addendum_alone_is_no_conflict() {
        let kept = r#"{"requestParameters":null}"#;
        let late = r#"{"requestParameters":null,"addendum":{"reason":"DELIVERY_DELAY"}}"#;
        let mut fields = differences(kept, late);
        assert!(!settle(&mut fields));
        assert_eq!(fields, ["addendum"]);
        let edited = r#"{"requestParameters":{"x":1},"addendum":{"reason":"UPDATED_DATA"}}"#;
        let mut fields = differences(kept, edited);
        assert!(settle(&mut fields), "other fields differ too");
    }
}
