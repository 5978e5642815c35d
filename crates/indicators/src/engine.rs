//! Running rules over a store: event rules, aggregations and correlations.

use std::collections::{BTreeMap, HashMap};

use rayon::prelude::*;
use serde_json::Value;
use trailscope_store::{Field, Flag, Selection, Store};

use crate::predicate::{values_at, Predicate};
use crate::rule::{CorrelationKind, CountOp, Finding, Rule, RuleKind};

/// The value of a path for one row as text (column or payload), for grouping.
pub fn path_text(store: &Store, row: usize, path: &str) -> Option<String> {
    if let Some(f) = Field::from_path(path) {
        if let Some(s) = store.event(row).str(f) {
            return Some(s.to_owned());
        }
    }
    if let Some(flag) = Flag::column_only(path) {
        return store.event(row).flag(flag).map(|b| b.to_string());
    }
    let payload: Value = serde_json::from_slice(store.payload(row)).ok()?;
    let mut vals = Vec::new();
    values_at(&payload, path, &mut vals);
    vals.first().and_then(|v| match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        v => Some(v.to_string()),
    })
}

/// Ids for the value of a path on rows: dictionary ids for columns (no string work), interned
/// payload strings otherwise. `None` when absent.
struct Keyer<'s> {
    store: &'s Store,
    field: Option<Field>,
    path: String,
    interned: HashMap<String, u32>,
}

impl<'s> Keyer<'s> {
    fn new(store: &'s Store, path: &str) -> Self {
        Keyer { store, field: Field::from_path(path), path: path.to_owned(), interned: HashMap::new() }
    }
    fn key(&mut self, row: usize) -> Option<u32> {
        if let Some(f) = self.field {
            let s = self.store.column(f).get(row);
            if !s.is_null() {
                return Some(s.0);
            }
        }
        let text = path_text(self.store, row, &self.path)?;
        let next = self.interned.len() as u32 | 0x8000_0000;
        Some(*self.interned.entry(text).or_insert(next))
    }
}

fn group_rows(
    store: &Store,
    rows: impl Iterator<Item = usize>,
    group_by: &[String],
) -> BTreeMap<Vec<u32>, (String, Vec<u32>)> {
    let mut keyers: Vec<Keyer<'_>> = group_by.iter().map(|p| Keyer::new(store, p)).collect();
    let mut groups: BTreeMap<Vec<u32>, (String, Vec<u32>)> = BTreeMap::new();
    for row in rows {
        let key: Option<Vec<u32>> = keyers.iter_mut().map(|k| k.key(row)).collect();
        if let Some(key) = key {
            groups
                .entry(key)
                .or_insert_with(|| {
                    let label = group_by
                        .iter()
                        .map(|p| path_text(store, row, p).unwrap_or_default())
                        .collect::<Vec<_>>()
                        .join("|");
                    (label, Vec::new())
                })
                .1
                .push(row as u32);
        }
    }
    groups
}

/// Maximal runs of time-ordered `rows` in which every row lies in some window of `window_ms`
/// whose count (events, or distinct values when `values` is given) passes `ok`.
/// One pass with two pointers: counts are kept incrementally, never recomputed per window.
fn bursts(
    times: &[i64],
    rows: &[u32],
    values: Option<&[Option<u32>]>,
    window_ms: i64,
    ok: impl Fn(usize) -> bool,
) -> Vec<Vec<u32>> {
    let mut marked = vec![false; rows.len()];
    let mut counts: HashMap<u32, usize> = HashMap::new();
    let mut distinct = 0usize;
    let mut lo = 0;
    // Rows before this are already marked: marking never goes back, so the pass stays linear.
    let mut unmarked = 0;
    for hi in 0..rows.len() {
        if let Some(v) = values.and_then(|v| v[hi]) {
            let c = counts.entry(v).or_insert(0);
            if *c == 0 {
                distinct += 1;
            }
            *c += 1;
        }
        while times[rows[hi] as usize] - times[rows[lo] as usize] > window_ms {
            if let Some(v) = values.and_then(|v| v[lo]) {
                let c = counts.get_mut(&v).expect("counted on entry");
                *c -= 1;
                if *c == 0 {
                    distinct -= 1;
                }
            }
            lo += 1;
        }
        let n = if values.is_some() { distinct } else { hi + 1 - lo };
        if ok(n) {
            marked[lo.max(unmarked)..=hi].iter_mut().for_each(|m| *m = true);
            unmarked = hi + 1;
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

/// Windows of a group passing a count test: events, or distinct values of `distinct`.
fn counted(
    store: &Store,
    rows: &[u32],
    window_ms: Option<i64>,
    distinct: Option<&str>,
    op: CountOp,
    value: u64,
) -> Vec<Vec<u32>> {
    let values: Option<Vec<Option<u32>>> = distinct.map(|path| {
        let mut k = Keyer::new(store, path);
        rows.iter().map(|&r| k.key(r as usize)).collect()
    });
    match (window_ms, op.threshold(value)) {
        (Some(w), Some(_)) => bursts(store.times(), rows, values.as_deref(), w, |n| op.test(n, value)),
        // Whole evidence (no window), or "at most" tests: one verdict per group.
        _ => {
            let n = match &values {
                Some(v) => v.iter().flatten().collect::<std::collections::HashSet<_>>().len(),
                None => rows.len(),
            };
            if op.test(n, value) {
                vec![rows.to_vec()]
            } else {
                vec![]
            }
        }
    }
}

/// Per group, windows in which every referenced rule matched (in order when `ordered`).
fn temporal(times: &[i64], tagged: &[(u32, usize)], n_rules: usize, window_ms: i64, ordered: bool) -> Vec<Vec<u32>> {
    let mut out: Vec<Vec<u32>> = Vec::new();
    let mut last_end: Option<i64> = None;
    for (start_i, &(row0, rule0)) in tagged.iter().enumerate() {
        if ordered && rule0 != 0 {
            continue;
        }
        let t0 = times[row0 as usize];
        if last_end.is_some_and(|e| t0 <= e) {
            continue; // already inside a reported window
        }
        let mut seen = vec![false; n_rules];
        seen[rule0] = true;
        let mut want = 1;
        let mut rows = vec![row0];
        for &(row, rule) in &tagged[start_i + 1..] {
            if times[row as usize] - t0 > window_ms {
                break;
            }
            let take = if ordered { rule == want } else { !seen[rule] };
            if take {
                seen[rule] = true;
                want += 1;
                rows.push(row);
            }
            if seen.iter().all(|s| *s) {
                last_end = Some(times[row as usize]);
                rows.sort_unstable();
                out.push(rows);
                break;
            }
        }
    }
    out
}

/// Run rules over a store. Findings are ordered by first event, then rule id.
pub fn run(rules: &[Rule], store: &Store) -> Vec<Finding> {
    let all = Selection::all(store.len());
    let index: HashMap<&str, usize> = rules
        .iter()
        .enumerate()
        .flat_map(|(i, r)| std::iter::once((r.meta.id.as_str(), i)).chain(r.meta.name.as_deref().map(|n| (n, i))))
        .collect();
    // Event-rule matches are computed once and shared with correlations.
    let matches: Vec<Option<Selection>> = rules
        .par_iter()
        .map(|r| match &r.kind {
            RuleKind::Event(e) | RuleKind::Aggregate { expr: e, .. } => {
                Some(Predicate::compile(e, store).eval(store, &all))
            }
            RuleKind::Correlation { .. } => None,
        })
        .collect();
    let mut findings: Vec<Finding> = rules
        .par_iter()
        .zip(&matches)
        .filter(|(r, _)| r.generate)
        .flat_map_iter(|(rule, sel)| {
            let mk = |rows: Vec<u32>, group: Option<String>| Finding { rule: rule.meta.clone(), rows, group };
            let out: Vec<Finding> = match (&rule.kind, sel) {
                (RuleKind::Event(_), Some(sel)) => sel.iter().map(|row| mk(vec![row as u32], None)).collect(),
                (RuleKind::Aggregate { group_by, window_ms, distinct, op, value, .. }, Some(sel)) => {
                    group_rows(store, sel.iter(), group_by)
                        .into_values()
                        .flat_map(|(label, rows)| {
                            counted(store, &rows, *window_ms, distinct.as_deref(), *op, *value)
                                .into_iter()
                                .map(move |b| (label.clone(), b))
                        })
                        .map(|(k, b)| mk(b, Some(k)))
                        .collect()
                }
                (RuleKind::Correlation { kind, rules: refs, group_by, window_ms, field, op, value, .. }, _) => {
                    let base: Vec<&Selection> = refs
                        .iter()
                        .filter_map(|n| index.get(n.as_str()))
                        .filter_map(|&i| matches[i].as_ref())
                        .collect();
                    let mut union = Selection::none(store.len());
                    base.iter().for_each(|s| union.or(s));
                    let groups = group_rows(store, union.iter(), group_by);
                    let mut out = Vec::new();
                    for (label, rows) in groups.into_values() {
                        let bursts = match kind {
                            CorrelationKind::EventCount => counted(store, &rows, Some(*window_ms), None, *op, *value),
                            CorrelationKind::ValueCount => {
                                counted(store, &rows, Some(*window_ms), field.as_deref(), *op, *value)
                            }
                            CorrelationKind::Temporal | CorrelationKind::TemporalOrdered => {
                                // A row can match several referenced rules: tag it with each.
                                let tagged: Vec<(u32, usize)> = rows
                                    .iter()
                                    .flat_map(|&r| {
                                        base.iter()
                                            .enumerate()
                                            .filter(move |(_, s)| s.contains(r as usize))
                                            .map(move |(i, _)| (r, i))
                                    })
                                    .collect();
                                temporal(
                                    store.times(),
                                    &tagged,
                                    base.len(),
                                    *window_ms,
                                    *kind == CorrelationKind::TemporalOrdered,
                                )
                            }
                        };
                        out.extend(bursts.into_iter().map(|b| mk(b, Some(label.clone()))));
                    }
                    out
                }
                _ => Vec::new(),
            };
            out
        })
        .collect();
    findings.sort_by(|a, b| (a.rows[0], &a.rule.id, &a.group).cmp(&(b.rows[0], &b.rule.id, &b.group)));
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_need_enough_events_inside_the_window() {
        let times: Vec<i64> = vec![0, 1000, 2000, 3000, 100_000, 100_500, 500_000];
        let rows: Vec<u32> = (0..7).collect();
        let min = |n: usize| move |c: usize| c >= n;
        assert_eq!(bursts(&times, &rows, None, 5_000, min(3)), vec![vec![0, 1, 2, 3]]);
        assert_eq!(bursts(&times, &rows, None, 5_000, min(2)), vec![vec![0, 1, 2, 3], vec![4, 5]]);
        assert!(bursts(&times, &rows, None, 5_000, min(5)).is_empty());
        // Distinct values: rows 0..3 carry values a, a, b, c.
        let values = [Some(1), Some(1), Some(2), Some(3), Some(1), Some(1), Some(1)];
        assert_eq!(bursts(&times, &rows, Some(&values), 5_000, min(3)), vec![vec![0, 1, 2, 3]]);
        assert!(bursts(&times, &rows, Some(&values), 5_000, min(4)).is_empty());
    }

    #[test]
    fn temporal_windows_in_any_order_and_in_order() {
        let times: Vec<i64> = vec![0, 10, 20, 1000, 1010];
        // rows tagged with rule indexes: B then A (unordered ok, ordered needs A first)
        let tagged = vec![(0, 1), (1, 0), (3, 0), (4, 1)];
        assert_eq!(temporal(&times, &tagged, 2, 100, false), vec![vec![0, 1], vec![3, 4]]);
        assert_eq!(temporal(&times, &tagged, 2, 100, true), vec![vec![3, 4]]);
    }
}
