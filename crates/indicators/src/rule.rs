//! Rules: metadata plus a condition, and the findings they raise.

use std::sync::Arc;

use serde::Serialize;

use crate::expr::Expr;

/// How bad a finding is (Sigma's `level`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Context only.
    Informational,
    /// Worth a look.
    Low,
    /// Suspicious.
    #[default]
    Medium,
    /// Likely malicious.
    High,
    /// Malicious or directly harmful.
    Critical,
}

impl Severity {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Informational => "informational",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// Parse a Sigma level (`informational`, `low`, `medium`, `high`, `critical`).
    pub fn parse(s: &str) -> Option<Severity> {
        Some(match s.to_ascii_lowercase().as_str() {
            "informational" | "info" => Severity::Informational,
            "low" => Severity::Low,
            "medium" => Severity::Medium,
            "high" => Severity::High,
            "critical" => Severity::Critical,
            _ => return None,
        })
    }
}

/// What a rule is about, shared by all of its findings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Default)]
pub struct RuleMeta {
    /// Stable id (Sigma `id`, or a trailscope id such as `ts-cloudtrail-stopped`).
    pub id: String,
    /// Sigma `name`, used by correlation rules to refer to it.
    pub name: Option<String>,
    /// One-line title.
    pub title: String,
    /// Severity of a finding.
    pub severity: Severity,
    /// MITRE ATT&CK tactics, e.g. `defense-evasion`.
    pub tactics: Vec<String>,
    /// MITRE ATT&CK technique ids, e.g. `T1562.008`.
    pub techniques: Vec<String>,
    /// Description.
    pub description: String,
    /// Where the rule came from: `builtin:<file>` or a path.
    pub source: String,
    /// An examiner-supplied indicator (IOC): every event it hits is evidence on its own.
    pub indicator: bool,
    /// A hygiene or risk finding (root used, console without MFA): worth reporting, but the
    /// account owner trips it as often as an intruder, so it never makes an actor hostile.
    /// Set by the Sigma tag `trailscope.risk`, or for well-known public hygiene rules.
    pub risk: bool,
}

/// A count comparison (`> 10`, `gte: 5`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CountOp {
    /// `>`
    Gt,
    /// `>=`
    Gte,
    /// `<`
    Lt,
    /// `<=`
    Lte,
    /// `==`
    Eq,
}

impl CountOp {
    /// Apply.
    pub fn test(self, n: usize, v: u64) -> bool {
        let n = n as u64;
        match self {
            CountOp::Gt => n > v,
            CountOp::Gte => n >= v,
            CountOp::Lt => n < v,
            CountOp::Lte => n <= v,
            CountOp::Eq => n == v,
        }
    }

    /// The smallest count that can pass, for windows that must grow to pass (`>`, `>=`, `==`).
    pub fn threshold(self, v: u64) -> Option<usize> {
        match self {
            CountOp::Gt => Some(v as usize + 1),
            CountOp::Gte | CountOp::Eq => Some(v.max(1) as usize),
            CountOp::Lt | CountOp::Lte => None,
        }
    }
}

/// Sigma correlation types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CorrelationKind {
    /// Number of events of the referenced rules per group within the timespan.
    EventCount,
    /// Number of distinct values of a field per group within the timespan.
    ValueCount,
    /// All referenced rules matched per group within the timespan, in any order.
    Temporal,
    /// As `Temporal`, in the order the rules are listed.
    TemporalOrdered,
}

/// How a rule turns events into findings.
#[derive(Clone, Debug, PartialEq)]
pub enum RuleKind {
    /// Each matching event is a finding.
    Event(Expr),
    /// Matching events counted per group (legacy `| count(field) by group > N` with `timeframe`,
    /// or a trailscope threshold rule); one finding per burst.
    Aggregate {
        /// The events counted.
        expr: Expr,
        /// Grouping paths (a group needs all of them present).
        group_by: Vec<String>,
        /// Window length; `None` means the whole evidence.
        window_ms: Option<i64>,
        /// With a field: count its distinct values instead of events.
        distinct: Option<String>,
        /// Comparison.
        op: CountOp,
        /// Value compared with.
        value: u64,
    },
    /// A Sigma correlation over other rules' matches.
    Correlation {
        /// Type.
        kind: CorrelationKind,
        /// Referenced rules (ids or names).
        rules: Vec<String>,
        /// Grouping paths.
        group_by: Vec<String>,
        /// Timespan.
        window_ms: i64,
        /// Field for `value_count`.
        field: Option<String>,
        /// Comparison (`event_count`, `value_count`).
        op: CountOp,
        /// Value compared with.
        value: u64,
        /// Whether the referenced rules still raise findings of their own (Sigma `generate`).
        base_generate: bool,
    },
}

/// A rule ready to compile against a store.
#[derive(Clone, Debug)]
pub struct Rule {
    /// Metadata.
    pub meta: Arc<RuleMeta>,
    /// Condition.
    pub kind: RuleKind,
    /// False when the rule only feeds correlations (referenced by a correlation without
    /// `generate: true`): its matches are not findings of their own.
    pub generate: bool,
}

/// One detection: a rule and the events that raised it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The rule.
    pub rule: Arc<RuleMeta>,
    /// Rows of the store, ascending (one for event rules, the burst for threshold rules).
    pub rows: Vec<u32>,
    /// For grouped rules: the group's values, joined by `|`; for IOC hits, the indicator.
    pub group: Option<String>,
}

impl Finding {
    /// First row (earliest event).
    pub fn first_row(&self) -> usize {
        self.rows[0] as usize
    }

    /// When every event of the finding failed (any `errorCode`), the behaviour was attempted,
    /// not done: the first event's error code. `None` when at least one call succeeded.
    pub fn attempt<'s>(&self, store: &'s trailscope_store::Store) -> Option<&'s str> {
        let errors = store.column(trailscope_store::Field::ErrorCode);
        if self.rows.iter().all(|&r| !errors.get(r as usize).is_null()) {
            store.event(self.first_row()).str(trailscope_store::Field::ErrorCode)
        } else {
            None
        }
    }
}
