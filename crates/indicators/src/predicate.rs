//! Compiled conditions: strings resolved to dictionary ids once per store, then integer tests.

use std::net::IpAddr;

use serde_json::Value;
use trailscope_store::{Field, Flag, Selection, Store, Sym, SymColumn};

use crate::expr::{Expr, StrMatch, Test};

/// Rows of `candidates` whose id (`id(row)`) is in `set`.
fn rows_in_set(candidates: &Selection, set: &SymSet, id: impl Fn(usize) -> Sym) -> Selection {
    let mut out = candidates.empty_like();
    for row in candidates.iter() {
        if set.contains(id(row)) {
            out.insert(row);
        }
    }
    out
}

/// A set of dictionary ids of one column, as a bitmap over the dictionary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SymSet {
    bits: Vec<u64>,
    len: usize,
}

impl SymSet {
    /// The ids of a dictionary of `dict_len` entries for which `f` holds.
    pub fn from_fn(dict_len: usize, mut f: impl FnMut(Sym) -> bool) -> Self {
        let mut bits = vec![0u64; dict_len.div_ceil(64)];
        let mut len = 0;
        for i in 0..dict_len {
            if f(Sym(i as u32)) {
                bits[i / 64] |= 1 << (i % 64);
                len += 1;
            }
        }
        SymSet { bits, len }
    }

    /// Does the set hold `s`?
    #[inline]
    pub fn contains(&self, s: Sym) -> bool {
        let i = s.index();
        self.bits.get(i / 64).is_some_and(|w| w >> (i % 64) & 1 == 1)
    }

    /// Number of ids in the set.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no id is in the set.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// A condition ready to run against one store.
#[derive(Clone, Debug, PartialEq)]
pub enum Predicate {
    /// Every row.
    Always,
    /// No row (a literal absent from the dictionary ends up here).
    Never,
    /// The column's id is in the set.
    Sym {
        /// Column.
        field: Field,
        /// Accepted ids.
        set: SymSet,
        /// What the set was compiled from (for `explain`).
        source: String,
    },
    /// A flag column's code (0 absent, 1 false, 2 true) is accepted.
    Flag {
        /// Column.
        flag: Flag,
        /// Accepted, by code.
        accept: [bool; 3],
        /// What it was compiled from (for `explain`).
        source: String,
    },
    /// A test on a payload path; evaluated lazily, only on rows that survive the column tests
    /// around it.
    Path {
        /// Dotted path.
        path: String,
        /// The test.
        test: Test,
    },
    /// `eventTime` within inclusive bounds (epoch ms): a range of rows, since rows are in time
    /// order.
    Time {
        /// Earliest time, if bounded.
        from: Option<i64>,
        /// Latest time, if bounded.
        to: Option<i64>,
    },
    /// Text anywhere in the record: matching ids per column, then the payload text.
    Keyword {
        /// Per column, the ids whose string matches.
        columns: Vec<(Field, SymSet)>,
        /// The patterns, for the payload.
        any: Vec<StrMatch>,
    },
    /// All hold (column tests first).
    All(Vec<Predicate>),
    /// Any holds.
    Any(Vec<Predicate>),
    /// Negation.
    Not(Box<Predicate>),
}

/// Strip the API-version suffix Lambda puts on event names: `UpdateFunctionCode20150331v2` →
/// `UpdateFunctionCode`, `ListFunctions20150331` → `ListFunctions`. Other names are unchanged.
pub fn base_event_name(name: &str) -> &str {
    let cut = name.find(|c: char| c.is_ascii_digit()).unwrap_or(name.len());
    let suffix = &name[cut..];
    let dated = suffix.len() >= 8 && suffix.as_bytes()[..8].iter().all(u8::is_ascii_digit);
    if cut >= 4 && dated {
        &name[..cut]
    } else {
        name
    }
}

/// Does a string value pass a test (for column values and payload strings alike)?
pub(crate) fn str_passes(test: &Test, s: &str) -> bool {
    match test {
        Test::Str(any) => any.iter().any(|m| m.matches(s)),
        Test::Null => false,
        Test::Exists(e) => *e,
        Test::Cidr(nets) => s.parse::<IpAddr>().is_ok_and(|ip| nets.iter().any(|n| n.contains(&ip))),
        Test::Num(op, b) => s.trim().parse::<f64>().is_ok_and(|a| op.test(a, *b)),
        Test::FieldRef(_) | Test::Time { .. } => false,
    }
}

impl Predicate {
    /// Compile an expression against a store's dictionaries.
    pub fn compile(expr: &Expr, store: &Store) -> Predicate {
        match expr {
            Expr::True => Predicate::Always,
            Expr::Field { test: Test::Time { from, to }, .. } => match (from, to) {
                (Some(a), Some(b)) if a > b => Predicate::Never,
                (None, None) => Predicate::Always,
                _ => Predicate::Time { from: *from, to: *to },
            },
            Expr::Field { path, test } => match (Field::from_path(path), test) {
                (None, test) if !matches!(test, Test::FieldRef(_)) && Flag::column_only(path).is_some() => {
                    let flag = Flag::column_only(path).unwrap_or(Flag::ReadOnly);
                    // Three possible values (absent, false, true): the test is decided for each
                    // once, as a path test would decide it on that value.
                    let accept = [None, Some(false), Some(true)]
                        .map(|v| values_pass(&v.map(Value::Bool).into_iter().collect::<Vec<_>>(), test));
                    match accept {
                        [false, false, false] => Predicate::Never,
                        [true, true, true] => Predicate::Always,
                        accept => Predicate::Flag { flag, accept, source: describe(test) },
                    }
                }
                (_, Test::FieldRef(_)) | (None, _) => Predicate::Path { path: path.clone(), test: test.clone() },
                (Some(field), test) => {
                    let dict = store.dict(field);
                    // Lambda event names match with or without their API-version suffix.
                    let lambda = field == Field::EventName;
                    let set = SymSet::from_fn(dict.len(), |s| match test {
                        Test::Null => s.is_null(),
                        Test::Exists(e) => s.is_null() != *e,
                        _ if s.is_null() => false,
                        _ => {
                            let v = dict.get(s);
                            str_passes(test, v)
                                || (lambda && base_event_name(v) != v && str_passes(test, base_event_name(v)))
                        }
                    });
                    if set.is_empty() {
                        Predicate::Never
                    } else {
                        Predicate::Sym { field, set, source: describe(test) }
                    }
                }
            },
            Expr::Keyword(any) => {
                let columns = Field::ALL
                    .into_iter()
                    .map(|f| {
                        let d = store.dict(f);
                        (f, SymSet::from_fn(d.len(), |s| !s.is_null() && any.iter().any(|m| m.matches(d.get(s)))))
                    })
                    .filter(|(_, s)| !s.is_empty())
                    .collect();
                Predicate::Keyword { columns, any: any.clone() }
            }
            Expr::And(v) => {
                // Nested conjunctions are flattened so that every integer test of the rule runs
                // before any payload test, whatever the selection structure.
                let mut parts: Vec<Predicate> = Vec::new();
                for p in v.iter().map(|e| Predicate::compile(e, store)) {
                    match p {
                        Predicate::Always => {}
                        Predicate::All(inner) => parts.extend(inner),
                        p => parts.push(p),
                    }
                }
                if parts.contains(&Predicate::Never) {
                    return Predicate::Never;
                }
                // Cheap integer tests first, so lazy payload tests see as few rows as possible.
                parts.sort_by_key(Predicate::cost);
                match parts.len() {
                    0 => Predicate::Always,
                    1 => parts.pop().unwrap_or(Predicate::Always),
                    _ => Predicate::All(parts),
                }
            }
            Expr::Or(v) => {
                let mut parts: Vec<Predicate> = Vec::new();
                for p in v.iter().map(|e| Predicate::compile(e, store)) {
                    match p {
                        Predicate::Never => {}
                        Predicate::Any(inner) => parts.extend(inner),
                        p => parts.push(p),
                    }
                }
                if parts.contains(&Predicate::Always) {
                    return Predicate::Always;
                }
                parts.sort_by_key(Predicate::cost);
                match parts.len() {
                    0 => Predicate::Never,
                    1 => parts.pop().unwrap_or(Predicate::Never),
                    _ => Predicate::Any(parts),
                }
            }
            Expr::Not(e) => match Predicate::compile(e, store) {
                Predicate::Always => Predicate::Never,
                Predicate::Never => Predicate::Always,
                p => Predicate::Not(Box::new(p)),
            },
        }
    }

    fn cost(&self) -> u32 {
        match self {
            Predicate::Always | Predicate::Never | Predicate::Time { .. } => 0,
            Predicate::Sym { .. } | Predicate::Flag { .. } => 1,
            Predicate::Not(p) => p.cost(),
            Predicate::All(v) | Predicate::Any(v) => v.iter().map(Predicate::cost).max().unwrap_or(0) + 1,
            Predicate::Path { .. } => 100,
            Predicate::Keyword { .. } => 200,
        }
    }

    /// Rows of the whole store for which the predicate holds, read stretch by stretch (see
    /// [`eval_all`]).
    pub fn eval_store(&self, store: &Store) -> Selection {
        eval_all(&[Some(self)], store).pop().flatten().expect("one predicate, one selection")
    }

    /// Rows of `candidates` for which the predicate holds.
    pub fn eval(&self, store: &Store, candidates: &Selection) -> Selection {
        match self {
            Predicate::Always => candidates.clone(),
            Predicate::Never => candidates.empty_like(),
            Predicate::Sym { field, set, .. } => {
                // The column's width is matched once, not per row: one loop per width.
                match store.column(*field) {
                    SymColumn::U8(c) => rows_in_set(candidates, set, |r| Sym(u32::from(c[r]))),
                    SymColumn::U16(c) => rows_in_set(candidates, set, |r| Sym(u32::from(c[r]))),
                    SymColumn::U32(c) => rows_in_set(candidates, set, |r| c[r]),
                }
            }
            Predicate::Flag { flag, accept, .. } => {
                let codes = store.flags(*flag);
                let mut out = candidates.empty_like();
                for row in candidates.iter() {
                    if accept[usize::from(codes[row]).min(2)] {
                        out.insert(row);
                    }
                }
                out
            }
            Predicate::Time { from, to } => {
                let times = store.times();
                let lo = from.map_or(0, |t| times.partition_point(|&x| x < t));
                let hi = to.map_or(times.len(), |t| times.partition_point(|&x| x <= t)).max(lo);
                let mut out = candidates.clone();
                out.keep_range(lo..hi);
                out
            }
            Predicate::Path { path, test } => {
                let mut out = candidates.empty_like();
                for row in candidates.iter() {
                    if path_passes(store, row, path, test) {
                        out.insert(row);
                    }
                }
                out
            }
            Predicate::Keyword { columns, any } => {
                let mut out = candidates.empty_like();
                for row in candidates.iter() {
                    let in_column = columns.iter().any(|(f, set)| set.contains(store.column(*f).get(row)));
                    if in_column || payload_text_matches(&store.payload(row), any) {
                        out.insert(row);
                    }
                }
                out
            }
            Predicate::All(parts) => {
                let mut c = candidates.clone();
                for p in parts {
                    if c.is_empty() {
                        break;
                    }
                    c = p.eval(store, &c);
                }
                c
            }
            Predicate::Any(parts) => {
                let mut hit = candidates.empty_like();
                let mut rest = candidates.clone();
                for p in parts {
                    let h = p.eval(store, &rest);
                    rest.and_not(&h);
                    hit.or(&h);
                }
                hit
            }
            Predicate::Not(p) => {
                let mut c = candidates.clone();
                c.and_not(&p.eval(store, candidates));
                c
            }
        }
    }

    /// A one-line description of the compiled form.
    pub fn explain(&self, store: &Store) -> String {
        match self {
            Predicate::Always => "always".into(),
            Predicate::Never => "never (a literal is absent from the evidence)".into(),
            Predicate::Sym { field, set, source } => {
                format!("{} in {{{} of {} ids}} ({source})", field.path(), set.len(), store.dict(*field).len())
            }
            Predicate::Time { from, to } => format!(
                "eventTime rows {}..{}",
                from.map(trailscope_store::chrono_free_iso).unwrap_or_default(),
                to.map(trailscope_store::chrono_free_iso).unwrap_or_default()
            ),
            Predicate::Flag { flag, accept, source } => {
                let values: Vec<&str> =
                    ["absent", "false", "true"].into_iter().zip(accept).filter(|(_, a)| **a).map(|(v, _)| v).collect();
                format!("{} in {{{}}} ({source})", flag.path(), values.join(", "))
            }
            Predicate::Path { path, test } => format!("payload {path} {}", describe(test)),
            Predicate::Keyword { columns, any } => format!(
                "keyword {} ({} columns hit, then payload text)",
                any.iter().map(StrMatch::describe).collect::<Vec<_>>().join("|"),
                columns.len()
            ),
            Predicate::All(v) => format!("all({})", v.iter().map(|p| p.explain(store)).collect::<Vec<_>>().join(", ")),
            Predicate::Any(v) => format!("any({})", v.iter().map(|p| p.explain(store)).collect::<Vec<_>>().join(", ")),
            Predicate::Not(p) => format!("not({})", p.explain(store)),
        }
    }
}

/// Rows of the whole store for which each predicate holds (`None` where no predicate is given).
/// The store is read in [`Store::payload_stretches`], the predicates running in parallel over
/// one stretch before the next: from a case file whose payload blocks do not all fit the block
/// cache, each block is then decompressed about once, not once per rule reading payloads.
pub fn eval_all(preds: &[Option<&Predicate>], store: &Store) -> Vec<Option<Selection>> {
    use rayon::prelude::*;
    let n = store.len();
    let mut out: Vec<Option<Selection>> = preds.iter().map(|p| p.map(|_| Selection::none(n))).collect();
    for stretch in store.payload_stretches() {
        let candidates = Selection::range(n, stretch);
        let parts: Vec<Option<Selection>> = preds.par_iter().map(|p| p.map(|p| p.eval(store, &candidates))).collect();
        for (total, part) in out.iter_mut().zip(parts) {
            if let (Some(t), Some(p)) = (total, part) {
                t.or(&p);
            }
        }
    }
    out
}

/// Every value reached by a dotted path; arrays met on the way are searched element-wise
/// (a numeric part indexes an array instead).
pub fn values_at<'v>(v: &'v Value, path: &str, out: &mut Vec<&'v Value>) {
    fn walk<'v>(v: &'v Value, parts: &[&str], out: &mut Vec<&'v Value>) {
        let Some((first, rest)) = parts.split_first() else {
            out.push(v);
            return;
        };
        match v {
            Value::Object(m) => {
                if let Some(x) = m.get(*first) {
                    walk(x, rest, out);
                }
            }
            Value::Array(a) => match first.parse::<usize>() {
                Ok(i) => {
                    if let Some(x) = a.get(i) {
                        walk(x, rest, out);
                    }
                }
                Err(_) => a.iter().for_each(|x| walk(x, parts, out)),
            },
            _ => {}
        }
    }
    let parts: Vec<&str> = path.split('.').collect();
    walk(v, &parts, out);
}

/// The value(s) of a path for one row, from its column or its payload, as JSON.
fn row_values(store: &Store, row: usize, path: &str, payload: &Option<Value>) -> Vec<Value> {
    // Columns, flags and objects split between columns and payload come from the store whole.
    if Field::from_path(path).is_some() || Flag::column_only(path).is_some() || trailscope_store::is_split_object(path)
    {
        if let Some(v) = store.get_path(row, path) {
            return vec![v];
        }
    }
    let mut out = Vec::new();
    if let Some(p) = payload {
        values_at(p, path, &mut out);
    }
    out.into_iter().cloned().collect()
}

/// Evaluate a path test on one row (payload parsed once for the row).
fn path_passes(store: &Store, row: usize, path: &str, test: &Test) -> bool {
    let payload: Option<Value> = serde_json::from_slice(&store.payload(row)).ok();
    let values = row_values(store, row, path, &payload);
    if let Test::FieldRef(other) = test {
        let others = row_values(store, row, other, &payload);
        return values.iter().any(|a| !a.is_null() && others.iter().any(|b| scalar_text(a) == scalar_text(b)));
    }
    values_pass(&values, test)
}

/// A test (not a field reference) on the values a path reached: none when absent.
fn values_pass(values: &[Value], test: &Test) -> bool {
    match test {
        Test::Null => values.iter().all(Value::is_null),
        Test::Exists(e) => values.is_empty() != *e,
        _ => values.iter().any(|v| value_passes(v, test)),
    }
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Sigma semantics for a JSON value: strings as they are, numbers and booleans as text, arrays
/// when any element passes, objects by their JSON text.
pub fn value_passes(v: &Value, test: &Test) -> bool {
    match v {
        Value::Null => matches!(test, Test::Null | Test::Exists(true)),
        Value::String(s) => str_passes(test, s),
        Value::Bool(b) => str_passes(test, if *b { "true" } else { "false" }),
        Value::Number(n) => match test {
            Test::Num(op, b) => n.as_f64().is_some_and(|a| op.test(a, *b)),
            _ => str_passes(test, &n.to_string()),
        },
        Value::Array(a) => a.iter().any(|e| value_passes(e, test)),
        // A whole object is tested as its JSON text, and again with string escapes undone, so
        // that a pattern written as `"Action": "*"` finds it inside an embedded JSON document.
        Value::Object(_) => {
            let text = v.to_string();
            str_passes(test, &text)
                || (text.contains('\\') && str_passes(test, &text.replace("\\\"", "\"").replace("\\\\", "\\")))
        }
    }
}

/// Keyword search in the payload's JSON text.
fn payload_text_matches(payload: &[u8], any: &[StrMatch]) -> bool {
    let text = String::from_utf8_lossy(payload);
    any.iter().any(|m| m.matches(&text))
}

fn describe(test: &Test) -> String {
    match test {
        Test::Str(any) => any.iter().map(StrMatch::describe).collect::<Vec<_>>().join("|"),
        Test::Null => "is null".into(),
        Test::Exists(e) => format!("exists={e}"),
        Test::Cidr(n) => format!("cidr {}", n.iter().map(|n| n.to_string()).collect::<Vec<_>>().join("|")),
        Test::Num(op, v) => format!("{op:?} {v}"),
        Test::FieldRef(f) => format!("= field {f}"),
        Test::Time { from, to } => format!("time {from:?}..{to:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::{eq, not};
    use trailscope_store::{ChunkBuilder, RowValues, SourceFile, StoreBuilder};

    fn store() -> Store {
        let mut c = ChunkBuilder::new();
        for (i, name) in ["CreateAccessKey", "ListUsers"].iter().enumerate() {
            let mut r = RowValues {
                time_ms: i as i64,
                payload: br#"{"requestParameters":{"userName":"bob"}}"#,
                ..Default::default()
            };
            r.strings[Field::EventName.index()] = Some(name);
            r.strings[Field::EventId.index()] = Some(if i == 0 { "a" } else { "b" });
            c.push(&r).unwrap();
        }
        let mut b = StoreBuilder::new();
        let src = b.add_source(SourceFile { path: "t".into(), size: 0, sha256: String::new() });
        b.add_chunk(src, c);
        b.finish()
    }

    #[test]
    fn lambda_versions_are_stripped() {
        assert_eq!(base_event_name("UpdateFunctionCode20150331v2"), "UpdateFunctionCode");
        assert_eq!(base_event_name("ListFunctions20150331"), "ListFunctions");
        assert_eq!(base_event_name("CreateUser"), "CreateUser");
        assert_eq!(base_event_name("GetObject"), "GetObject");
        assert_eq!(base_event_name("DescribeDBInstances"), "DescribeDBInstances");
        assert_eq!(base_event_name("PutObject2"), "PutObject2");
    }

    #[test]
    fn nested_conjunctions_put_every_column_test_first() {
        let s = store();
        let path = |t: Test| Expr::Field { path: "requestParameters.userName".into(), test: t };
        let e = Expr::And(vec![
            Expr::And(vec![path(Test::Exists(true)), eq("eventName", &["CreateAccessKey"])]),
            not(path(Test::FieldRef("userIdentity.userName".into()))),
        ]);
        let Predicate::All(parts) = Predicate::compile(&e, &s) else { panic!("expected a flat conjunction") };
        assert_eq!(parts.len(), 3);
        assert!(matches!(parts[0], Predicate::Sym { field: Field::EventName, .. }), "{parts:?}");
        let hit = Predicate::compile(&e, &s).eval_store(&s);
        assert_eq!(hit.iter().collect::<Vec<_>>(), vec![0]);
        assert_eq!(Predicate::compile(&eq("eventName", &["DeleteTrail"]), &s), Predicate::Never, "absent literal");
    }
}
