//! Compiled conditions: strings resolved to dictionary ids once per store, then integer tests.

use serde_json::Value;
use trailscope_store::{lookup_path, Field, Selection, Store, Sym};

use crate::expr::{Expr, StrMatch};

/// A set of dictionary ids of one column, as a bitmap over the dictionary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SymSet {
    bits: Vec<u64>,
    len: usize,
}

impl SymSet {
    fn from_fn(dict_len: usize, mut f: impl FnMut(Sym) -> bool) -> Self {
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
    /// The value at a payload path matches; evaluated lazily, only on rows that survive the
    /// column tests around it.
    Path {
        /// Dotted path.
        path: String,
        /// Alternatives.
        any: Vec<StrMatch>,
    },
    /// The payload path is absent or null.
    PathNull(String),
    /// All hold (column tests first).
    All(Vec<Predicate>),
    /// Any holds.
    Any(Vec<Predicate>),
    /// Negation.
    Not(Box<Predicate>),
}

impl Predicate {
    /// Compile an expression against a store's dictionaries.
    pub fn compile(expr: &Expr, store: &Store) -> Predicate {
        match expr {
            Expr::Match { path, any } => match Field::from_path(path) {
                Some(field) => {
                    let dict = store.dict(field);
                    let set =
                        SymSet::from_fn(dict.len(), |s| !s.is_null() && any.iter().any(|m| m.matches(dict.get(s))));
                    if set.is_empty() {
                        Predicate::Never
                    } else {
                        Predicate::Sym { field, set, source: describe(any) }
                    }
                }
                None => Predicate::Path { path: path.clone(), any: any.clone() },
            },
            Expr::IsNull(path) => match Field::from_path(path) {
                Some(field) => Predicate::Sym {
                    field,
                    set: SymSet::from_fn(store.dict(field).len(), Sym::is_null),
                    source: "null".into(),
                },
                None => Predicate::PathNull(path.clone()),
            },
            Expr::And(v) => {
                let mut parts: Vec<Predicate> =
                    v.iter().map(|e| Predicate::compile(e, store)).filter(|p| *p != Predicate::Always).collect();
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
                let mut parts: Vec<Predicate> =
                    v.iter().map(|e| Predicate::compile(e, store)).filter(|p| *p != Predicate::Never).collect();
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
            Predicate::Always | Predicate::Never => 0,
            Predicate::Sym { .. } => 1,
            Predicate::Not(p) => p.cost(),
            Predicate::All(v) | Predicate::Any(v) => v.iter().map(Predicate::cost).max().unwrap_or(0) + 1,
            Predicate::Path { .. } | Predicate::PathNull(_) => 100,
        }
    }

    /// Rows of `candidates` for which the predicate holds.
    pub fn eval(&self, store: &Store, candidates: &Selection) -> Selection {
        match self {
            Predicate::Always => candidates.clone(),
            Predicate::Never => Selection::none(candidates.rows()),
            Predicate::Sym { field, set, .. } => {
                let col = store.column(*field);
                let mut out = Selection::none(candidates.rows());
                for row in candidates.iter() {
                    if set.contains(col[row]) {
                        out.insert(row);
                    }
                }
                out
            }
            Predicate::Path { path, any } => {
                eval_path(store, candidates, path, |v| v.is_some_and(|v| value_matches(v, any)))
            }
            Predicate::PathNull(path) => eval_path(store, candidates, path, |v| v.is_none_or(Value::is_null)),
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
                let mut hit = Selection::none(candidates.rows());
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
            Predicate::Path { path, any } => format!("payload {path} ~ {}", describe(any)),
            Predicate::PathNull(p) => format!("payload {p} is null"),
            Predicate::All(v) => format!("all({})", v.iter().map(|p| p.explain(store)).collect::<Vec<_>>().join(", ")),
            Predicate::Any(v) => format!("any({})", v.iter().map(|p| p.explain(store)).collect::<Vec<_>>().join(", ")),
            Predicate::Not(p) => format!("not({})", p.explain(store)),
        }
    }
}

/// Test a payload path on each candidate row (the payload is parsed only for these rows).
fn eval_path(store: &Store, candidates: &Selection, path: &str, test: impl Fn(Option<&Value>) -> bool) -> Selection {
    let mut out = Selection::none(candidates.rows());
    for row in candidates.iter() {
        let payload: Option<Value> = serde_json::from_slice(store.payload(row)).ok();
        if test(payload.as_ref().and_then(|p| lookup_path(p, path))) {
            out.insert(row);
        }
    }
    out
}

/// Sigma semantics for a JSON value: strings as is, numbers and booleans as text, arrays match
/// when any element does, objects by their JSON text.
pub fn value_matches(v: &Value, any: &[StrMatch]) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => any.iter().any(|m| m.matches(s)),
        Value::Bool(b) => any.iter().any(|m| m.matches(if *b { "true" } else { "false" })),
        Value::Number(n) => {
            let s = n.to_string();
            any.iter().any(|m| m.matches(&s))
        }
        Value::Array(a) => a.iter().any(|e| value_matches(e, any)),
        Value::Object(_) => {
            let s = v.to_string();
            any.iter().any(|m| m.matches(&s))
        }
    }
}

fn describe(any: &[StrMatch]) -> String {
    any.iter()
        .map(|m| match m {
            StrMatch::Eq(p) => format!("={p}"),
            StrMatch::Contains(p) => format!("*{p}*"),
            StrMatch::StartsWith(p) => format!("{p}*"),
            StrMatch::EndsWith(p) => format!("*{p}"),
        })
        .collect::<Vec<_>>()
        .join("|")
}
