//! Rules: metadata plus a condition, and the findings they raise.

use std::sync::Arc;

use serde::Serialize;
use trailscope_store::Field;

use crate::expr::Expr;

/// How bad a finding is (Sigma's `level`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Context only.
    Informational,
    /// Worth a look.
    Low,
    /// Suspicious.
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RuleMeta {
    /// Stable id, e.g. `ts-cloudtrail-tamper`.
    pub id: String,
    /// One-line title.
    pub title: String,
    /// Severity of a finding.
    pub severity: Severity,
    /// MITRE ATT&CK tactic, e.g. `defense-evasion`.
    pub tactic: String,
    /// MITRE ATT&CK technique id, e.g. `T1562.008`.
    pub technique: String,
}

/// How a rule turns events into findings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuleKind {
    /// Each matching event is a finding.
    Event(Expr),
    /// At least `min_count` matching events of one group (same values of `group_by`) within
    /// `window_ms` form one finding per burst.
    Threshold {
        /// The events counted.
        expr: Expr,
        /// Grouping columns (a group needs all of them non-null).
        group_by: Vec<Field>,
        /// Window length.
        window_ms: i64,
        /// Events needed in a window.
        min_count: usize,
    },
}

/// A rule ready to compile against a store.
#[derive(Clone, Debug)]
pub struct Rule {
    /// Metadata.
    pub meta: Arc<RuleMeta>,
    /// Condition.
    pub kind: RuleKind,
}

/// One detection: a rule and the events that raised it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The rule.
    pub rule: Arc<RuleMeta>,
    /// Rows of the store, ascending (one for event rules, the burst for threshold rules).
    pub rows: Vec<u32>,
    /// For threshold rules: the group's values, joined by `|`.
    pub group: Option<String>,
}

impl Finding {
    /// First row (earliest event).
    pub fn first_row(&self) -> usize {
        self.rows[0] as usize
    }
}
