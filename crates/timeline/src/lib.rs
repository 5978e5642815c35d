//! # trailscope-timeline
//!
//! From a [`Store`](trailscope_store::Store) and its [`Finding`](trailscope_indicators::Finding)s
//! to what the examiner reads: the attacker [`Timeline`], credential [`Lineage`] and the
//! forensic [`Report`], and per-principal [`summary`]s. The report is computed once, as plain serializable data; the writers in
//! [`write`] only format it.
#![deny(missing_docs)]

pub mod actors;
pub mod change;
pub mod lineage;
pub mod report;
pub mod summary;
pub mod timeline;
pub mod write;
pub mod zone;

pub use actors::{Actor, ActorOptions, Actors, Trust, Verdict};
pub use lineage::{Issuance, Lineage};
pub use report::{Report, ReportOptions};
pub use summary::{summarize, PrincipalSummary};
pub use timeline::{Activity, ActorActivity, Timeline, TimelineEntry};
pub use trailscope_indicators::base_event_name;
pub use zone::{with_display_zone, DisplayZone};

/// A point in time from the evidence (epoch milliseconds, UTC). Serialised as ISO 8601 UTC
/// (`2024-03-05T02:13:23Z`); printed the same, or in the reader's zone inside
/// [`with_display_zone`] (human-readable writers under `--tz`). The model keeps the number and
/// writers choose the form.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time(pub i64);

impl std::fmt::Display for Time {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&zone::display_zone().format(self.0))
    }
}

impl serde::Serialize for Time {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Machine formats: always UTC, whatever zone a human-readable writer shows.
        s.collect_str(&trailscope_store::chrono_free_iso(self.0))
    }
}
