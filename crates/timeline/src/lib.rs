//! # trailscope-timeline
//!
//! From a [`Store`](trailscope_store::Store) and its [`Finding`](trailscope_indicators::Finding)s
//! to what the examiner reads: the attacker [`Timeline`], credential [`Lineage`] and the
//! forensic [`Report`]. The report is computed once, as plain serializable data; the writers in
//! [`write`] only format it.
#![deny(missing_docs)]

pub mod lineage;
pub mod report;
pub mod timeline;
pub mod write;

pub use lineage::{Issuance, Lineage};
pub use report::{Report, ReportOptions};
pub use timeline::{Timeline, TimelineEntry};
pub use trailscope_indicators::base_event_name;
