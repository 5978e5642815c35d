//! # trailscope-indicators
//!
//! Detection rules, compiled against a [`Store`] and run over its columns, producing
//! [`Finding`]s.
//!
//! A rule's condition is an [`Expr`] (paths and string patterns, as written). Compiling it
//! against a store ([`Predicate::compile`]) turns each test on a dictionary-encoded column into a
//! bitmap of accepted dictionary ids — the string work is done once per *distinct value*, not per
//! event — and keeps tests on nested payload paths for last, so the payload is parsed only for
//! events that passed every column test. A literal that never occurs in the evidence compiles to
//! [`Predicate::Never`].
//!
//! [`RuleSet::run`] evaluates all rules in parallel. Threshold rules (bursts per group within a
//! window) produce one finding per burst.
#![deny(missing_docs)]

mod builtin;
mod expr;
mod predicate;
mod rule;

use std::collections::HashMap;

use rayon::prelude::*;
use trailscope_store::{Field, Selection, Store, Sym};

pub use builtin::{ADMIN_POLICIES, DENIED_CODES, OFFENSIVE_AGENTS};
pub use expr::{and, contains, contains_ignore_case, ends_with, eq, not, null, or, Expr, StrMatch};
pub use predicate::{value_matches, Predicate, SymSet};
pub use rule::{Finding, Rule, RuleKind, RuleMeta, Severity};

/// A loaded set of rules.
#[derive(Clone, Debug, Default)]
pub struct RuleSet {
    /// The rules, in load order.
    pub rules: Vec<Rule>,
}

impl RuleSet {
    /// The built-in pack.
    pub fn builtin() -> Self {
        RuleSet { rules: builtin::rules() }
    }

    /// Run every rule over the store. Findings are ordered by first event, then rule id, so the
    /// output does not depend on thread scheduling.
    pub fn run(&self, store: &Store) -> Vec<Finding> {
        let all = Selection::all(store.len());
        let mut findings: Vec<Finding> =
            self.rules.par_iter().flat_map_iter(|rule| run_rule(rule, store, &all)).collect();
        findings.sort_by(|a, b| (a.rows[0], &a.rule.id).cmp(&(b.rows[0], &b.rule.id)));
        findings
    }
}

fn run_rule(rule: &Rule, store: &Store, all: &Selection) -> Vec<Finding> {
    match &rule.kind {
        RuleKind::Event(expr) => {
            let sel = Predicate::compile(expr, store).eval(store, all);
            sel.iter().map(|row| Finding { rule: rule.meta.clone(), rows: vec![row as u32], group: None }).collect()
        }
        RuleKind::Threshold { expr, group_by, window_ms, min_count } => {
            let sel = Predicate::compile(expr, store).eval(store, all);
            let mut groups: HashMap<Vec<Sym>, Vec<u32>> = HashMap::new();
            for row in sel.iter() {
                let key: Vec<Sym> = group_by.iter().map(|f| store.column(*f)[row]).collect();
                if key.iter().all(|s| !s.is_null()) {
                    groups.entry(key).or_default().push(row as u32);
                }
            }
            let mut out = Vec::new();
            for (key, rows) in groups {
                for burst in bursts(store.times(), &rows, *window_ms, *min_count) {
                    let group =
                        key.iter().zip(group_by).map(|(s, f)| store.dict(*f).get(*s)).collect::<Vec<_>>().join("|");
                    out.push(Finding { rule: rule.meta.clone(), rows: burst, group: Some(group) });
                }
            }
            out
        }
    }
}

/// Maximal runs of `rows` (time-ordered) in which every event lies in some window of
/// `window_ms` holding at least `min_count` events.
fn bursts(times: &[i64], rows: &[u32], window_ms: i64, min_count: usize) -> Vec<Vec<u32>> {
    let min_count = min_count.max(1);
    let mut marked = vec![false; rows.len()];
    let mut lo = 0;
    for hi in 0..rows.len() {
        while times[rows[hi] as usize] - times[rows[lo] as usize] > window_ms {
            lo += 1;
        }
        if hi + 1 - lo >= min_count {
            marked[lo..=hi].iter_mut().for_each(|m| *m = true);
        }
    }
    let mut out: Vec<Vec<u32>> = Vec::new();
    let mut prev: Option<usize> = None;
    for (i, m) in marked.iter().enumerate() {
        if !m {
            continue;
        }
        match (prev, out.last_mut()) {
            // Adjacent marked rows belong to one burst unless a window-sized gap splits them.
            (Some(p), Some(last)) if p + 1 == i && times[rows[i] as usize] - times[rows[p] as usize] <= window_ms => {
                last.push(rows[i])
            }
            _ => out.push(vec![rows[i]]),
        }
        prev = Some(i);
    }
    out
}

/// Convenience: the distinct non-null values of a column over some rows.
pub fn distinct(store: &Store, field: Field, rows: impl Iterator<Item = usize>) -> Vec<&str> {
    let mut seen = std::collections::BTreeSet::new();
    for r in rows {
        if let Some(s) = store.dict(field).resolve(store.column(field)[r]) {
            seen.insert(s);
        }
    }
    seen.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_need_enough_events_inside_the_window() {
        let times: Vec<i64> = vec![0, 1000, 2000, 3000, 100_000, 100_500, 500_000];
        let rows: Vec<u32> = (0..7).collect();
        assert_eq!(bursts(&times, &rows, 5_000, 3), vec![vec![0, 1, 2, 3]]);
        assert_eq!(bursts(&times, &rows, 5_000, 2), vec![vec![0, 1, 2, 3], vec![4, 5]]);
        assert!(bursts(&times, &rows, 5_000, 5).is_empty());
    }
}
