//! # trailscope-query
//!
//! The event query language of `trailscope query`: an examiner's question (`eventName =
//! GetObject and sourceIPAddress in 203.0.113.0/24`) parsed into the same [`Expr`] the Sigma
//! loader produces, so it compiles through [`trailscope_indicators::Predicate`] — tests on
//! string columns become sets of dictionary ids (string work once per distinct value), tests
//! on payload paths run last and lazily — and aggregated over a [`trailscope_store::Store`]:
//! counts, group-bys on dictionary ids, first and last seen, distinct values, sums and time
//! buckets. The crate owns parsing, compiling and aggregating; the command line writes the
//! answers. The language reference is docs/query.md.
//!
//! ```
//! use trailscope_query::parse;
//!
//! let expr = parse("eventName in (CreateAccessKey, CreateUser) and not errorCode exists").unwrap();
//! let err = parse("eventName ~ CreateUser").unwrap_err();
//! assert_eq!(err.caret("eventName ~ CreateUser").unwrap(), "eventName ~ CreateUser\n          ^");
//! # let _ = expr;
//! ```
#![deny(missing_docs)]

mod agg;
mod error;
mod parse;

pub use agg::{answer, field_value, select, Aggregation, Answer, Table, DEFAULT_FIELDS};
pub use error::QueryError;
pub use parse::parse;
pub use trailscope_indicators::Expr;
