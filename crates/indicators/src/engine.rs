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
    let payload: Value = serde_json::from_slice(&store.payload(row)).ok()?;
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

/// Rows of one counting rule (an aggregation or a correlation) by group: the group's label,
/// its rows in time order, and for a distinct count the value of each row.
#[derive(Default)]
struct Group {
    label: String,
    rows: Vec<u32>,
    values: Vec<Option<u32>>,
}

/// The grouping of one counting rule, filled stretch by stretch (see `Store::payload_stretches`),
/// so that keys read from payloads decompress a case file's blocks once for all rules.
struct Grouping<'s> {
    /// Where its rows come from: the rule itself (an aggregation) or the rules it correlates.
    sources: Vec<usize>,
    group_by: &'s [String],
    keyers: Vec<Keyer<'s>>,
    distinct: Option<Keyer<'s>>,
    groups: BTreeMap<Vec<u32>, Group>,
}

impl<'s> Grouping<'s> {
    fn new(store: &'s Store, sources: Vec<usize>, group_by: &'s [String], distinct: Option<&str>) -> Self {
        Grouping {
            sources,
            group_by,
            keyers: group_by.iter().map(|p| Keyer::new(store, p)).collect(),
            distinct: distinct.map(|p| Keyer::new(store, p)),
            groups: BTreeMap::new(),
        }
    }

    /// Add rows (in time order, after those added before).
    fn add(&mut self, store: &Store, rows: impl Iterator<Item = usize>) {
        for row in rows {
            let key: Option<Vec<u32>> = self.keyers.iter_mut().map(|k| k.key(row)).collect();
            let Some(key) = key else { continue };
            let group = self.groups.entry(key).or_insert_with(|| Group {
                label: self
                    .group_by
                    .iter()
                    .map(|p| path_text(store, row, p).unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join("|"),
                ..Group::default()
            });
            group.rows.push(row as u32);
            if let Some(k) = &mut self.distinct {
                group.values.push(k.key(row));
            }
        }
    }
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
    group: &Group,
    distinct: bool,
    window_ms: Option<i64>,
    op: CountOp,
    value: u64,
) -> Vec<Vec<u32>> {
    let rows = &group.rows;
    let values = distinct.then_some(&group.values);
    match (window_ms, op.threshold(value)) {
        (Some(w), Some(_)) => bursts(store.times(), rows, values.map(Vec::as_slice), w, |n| op.test(n, value)),
        // Whole evidence (no window), or "at most" tests: one verdict per group.
        _ => {
            let n = match values {
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
    let index: HashMap<&str, usize> = rules
        .iter()
        .enumerate()
        .flat_map(|(i, r)| std::iter::once((r.meta.id.as_str(), i)).chain(r.meta.name.as_deref().map(|n| (n, i))))
        .collect();
    // Event-rule matches are computed once and shared with correlations. All rules read the
    // store together, one stretch of rows after the other (see `Store::payload_stretches`):
    // predicates first, then the grouping of counting rules, whose keys may come from payloads;
    // from a large case file each payload block is then decompressed once.
    let compiled: Vec<Option<Predicate>> = rules
        .par_iter()
        .map(|r| match &r.kind {
            RuleKind::Event(e) | RuleKind::Aggregate { expr: e, .. } => Some(Predicate::compile(e, store)),
            RuleKind::Correlation { .. } => None,
        })
        .collect();
    let sources = |refs: &[String]| -> Vec<usize> {
        refs.iter().filter_map(|n| index.get(n.as_str()).copied()).filter(|&i| compiled[i].is_some()).collect()
    };
    let mut groupings: Vec<Option<Grouping<'_>>> = rules
        .iter()
        .enumerate()
        .map(|(i, rule)| match &rule.kind {
            _ if !rule.generate => None,
            RuleKind::Aggregate { group_by, distinct, .. } => {
                Some(Grouping::new(store, vec![i], group_by, distinct.as_deref()))
            }
            RuleKind::Correlation { kind, rules: refs, group_by, field, .. } => {
                let distinct = if *kind == CorrelationKind::ValueCount { field.as_deref() } else { None };
                Some(Grouping::new(store, sources(refs), group_by, distinct))
            }
            RuleKind::Event(_) => None,
        })
        .collect();
    let n = store.len();
    let mut matches: Vec<Option<Selection>> = compiled.iter().map(|p| p.as_ref().map(|_| Selection::none(n))).collect();
    for stretch in store.payload_stretches() {
        let candidates = Selection::range(n, stretch);
        let parts: Vec<Option<Selection>> =
            compiled.par_iter().map(|p| p.as_ref().map(|p| p.eval(store, &candidates))).collect();
        groupings.par_iter_mut().flatten().for_each(|g| match g.sources.as_slice() {
            [one] => g.add(store, parts[*one].iter().flat_map(Selection::iter)),
            many => {
                let mut union = candidates.empty_like();
                many.iter().filter_map(|&i| parts[i].as_ref()).for_each(|s| union.or(s));
                g.add(store, union.iter());
            }
        });
        for (total, part) in matches.iter_mut().zip(parts) {
            if let (Some(t), Some(p)) = (total, part) {
                t.or(&p);
            }
        }
    }
    let bases = |refs: &[String]| -> Vec<&Selection> {
        sources(refs).into_iter().filter_map(|i| matches[i].as_ref()).collect()
    };
    let mut findings: Vec<Finding> = rules
        .par_iter()
        .zip(&matches)
        .zip(groupings)
        .filter(|((r, _), _)| r.generate)
        .flat_map_iter(|((rule, sel), grouping)| {
            let mk =
                |rows: Vec<u32>, group: &str| Finding { rule: rule.meta.clone(), rows, group: Some(group.to_owned()) };
            let groups = grouping.map(|g| g.groups).unwrap_or_default();
            let out: Vec<Finding> = match (&rule.kind, sel) {
                (RuleKind::Event(_), Some(sel)) => sel
                    .iter()
                    .map(|row| Finding { rule: rule.meta.clone(), rows: vec![row as u32], group: None })
                    .collect(),
                (RuleKind::Aggregate { window_ms, distinct, op, value, .. }, Some(_)) => groups
                    .values()
                    .flat_map(|g| {
                        counted(store, g, distinct.is_some(), *window_ms, *op, *value)
                            .into_iter()
                            .map(|b| mk(b, &g.label))
                    })
                    .collect(),
                (RuleKind::Correlation { kind, rules: refs, window_ms, field, op, value, .. }, _) => {
                    let base = bases(refs);
                    let mut out = Vec::new();
                    for g in groups.values() {
                        let bursts = match kind {
                            CorrelationKind::EventCount => counted(store, g, false, Some(*window_ms), *op, *value),
                            CorrelationKind::ValueCount => {
                                counted(store, g, field.is_some(), Some(*window_ms), *op, *value)
                            }
                            CorrelationKind::Temporal | CorrelationKind::TemporalOrdered => {
                                // A row can match several referenced rules: tag it with each.
                                let tagged: Vec<(u32, usize)> = g
                                    .rows
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
                        out.extend(bursts.into_iter().map(|b| mk(b, &g.label)));
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
