//! Rules as SQL over the Parquet export, one query per rule, in the dialect of the engine that
//! runs it: event rules as filters, aggregation rules and `event_count` / `value_count`
//! correlations as window queries that reproduce hunt's bursts. A rule the translation cannot
//! express faithfully is refused with the reason, never dropped.
//!
//! Semantics follow the store's matcher (`trailscope_indicators::Predicate`): string tests ignore
//! case unless `|cased` (Sigma's rule), arrays met on a path are searched element-wise, a whole
//! object is tested as its JSON text, `null` means absent or null, `exists` counts null as
//! present, and Lambda event names match with or without their API-version suffix. DuckDB
//! reproduces all of it (checked by the equivalence test); Trino, Athena and Spark read JSON paths
//! as scalars (see docs/export.md).

use std::fmt::Write as _;

use ipnet::IpNet;
use trailscope_indicators::{CorrelationKind, CountOp, Expr, MatchOp, NumOp, Rule, RuleKind, StrMatch, Test};
use trailscope_store::Field;

use crate::parquet::{column_name, JSON_COLUMNS};

/// The SQL engine a translation is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// DuckDB (JSON extension built in).
    DuckDb,
    /// Trino.
    Trino,
    /// Amazon Athena (engine 3, Trino's SQL).
    Athena,
    /// Spark SQL 3.3 or later.
    Spark,
}

impl Dialect {
    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::DuckDb => "duckdb",
            Dialect::Trino => "trino",
            Dialect::Athena => "athena",
            Dialect::Spark => "spark",
        }
    }

    fn trino(self) -> bool {
        matches!(self, Dialect::Trino | Dialect::Athena)
    }
}

/// The SQL script for a rule set, and what was left out.
#[derive(Clone, Debug, Default)]
pub struct Translation {
    /// Statements separated by `;`, each preceded by a comment naming the rule; refusals as
    /// comments at the end.
    pub sql: String,
    /// Ids of the rules translated, in order.
    pub translated: Vec<String>,
    /// `(rule id, reason)` of every rule not translated.
    pub refused: Vec<(String, String)>,
}

/// Translate every finding-raising rule of `rules` into one query each over `table`, returning
/// the rule id and the `eventID` as its first two columns: event rules, aggregation rules, and
/// `event_count` / `value_count` correlations (the last two also name the group and number the
/// bursts, one finding of `hunt` per group and burst).
pub fn translate(rules: &[Rule], dialect: Dialect, table: &str) -> Translation {
    let g = Gen { d: dialect };
    let mut t = Translation::default();
    let _ = writeln!(
        t.sql,
        "-- trailscope rules as {} SQL over the Parquet export (table {table}); one query per rule.",
        dialect.name()
    );
    for rule in rules.iter().filter(|r| r.generate) {
        let id = &rule.meta.id;
        let res = match &rule.kind {
            RuleKind::Event(expr) => g.cond(expr).map(|cond| {
                format!(
                    "SELECT {} AS rule_id, {}, {} FROM {table}\nWHERE {cond};",
                    g.lit(id),
                    g.ident("eventID"),
                    g.ident("eventTime"),
                )
            }),
            RuleKind::Aggregate { expr, group_by, window_ms, distinct, op, value } => g.cond(expr).and_then(|cond| {
                g.counting(
                    id,
                    table,
                    &Counting {
                        cond,
                        group_by,
                        window_ms: *window_ms,
                        distinct: distinct.as_deref(),
                        op: *op,
                        value: *value,
                    },
                )
            }),
            RuleKind::Correlation { kind, rules: refs, group_by, window_ms, field, op, value, .. } => match kind {
                CorrelationKind::EventCount | CorrelationKind::ValueCount => {
                    g.correlation_base(rules, refs).and_then(|cond| {
                        let distinct = if *kind == CorrelationKind::ValueCount { field.as_deref() } else { None };
                        g.counting(
                            id,
                            table,
                            &Counting { cond, group_by, window_ms: Some(*window_ms), distinct, op: *op, value: *value },
                        )
                    })
                }
                CorrelationKind::Temporal | CorrelationKind::TemporalOrdered => Err(TEMPORAL_REFUSAL.into()),
            },
        };
        match res {
            Ok(query) => {
                let _ = writeln!(t.sql, "\n-- {id}: {}\n{query}", rule.meta.title.replace('\n', " "));
                t.translated.push(id.clone());
            }
            Err(reason) => t.refused.push((id.clone(), reason)),
        }
    }
    if !t.refused.is_empty() {
        let _ = writeln!(t.sql, "\n-- Not translated ({}):", t.refused.len());
        for (id, why) in &t.refused {
            let _ = writeln!(t.sql, "-- {id}: {why}");
        }
    }
    t
}

/// Why temporal correlations stay out.
const TEMPORAL_REFUSAL: &str = "temporal correlation: hunt reports greedy, non-overlapping windows, \
each one opened only after the previous one closed, which is a sequential scan (a recursive query) that \
Spark before 4.0 and Trino/Athena cannot run; not translated";

/// A rule that counts matching events per group, in the shape `hunt` runs it (engine.rs:
/// `group_rows`, `counted`, `bursts`).
struct Counting<'r> {
    /// The condition an event must meet to be counted.
    cond: String,
    group_by: &'r [String],
    window_ms: Option<i64>,
    distinct: Option<&'r str>,
    op: CountOp,
    value: u64,
}

/// Where a rule path's values come from.
enum Source {
    /// A flat string column; `lambda` for `eventName` (API-version suffixes).
    Flat { col: String, lambda: bool },
    /// A boolean column.
    Flag(&'static str),
    /// A path inside a JSON text column.
    Json { col: &'static str, segs: Vec<String> },
}

fn resolve(path: &str) -> Result<Source, String> {
    if let Some(f) = Field::from_path(path) {
        return Ok(Source::Flat { col: column_name(f), lambda: f == Field::EventName });
    }
    match path {
        "readOnly" => return Ok(Source::Flag("readOnly")),
        "managementEvent" => return Ok(Source::Flag("managementEvent")),
        "eventTime" => return Err("tests eventTime, which the export holds as a timestamp, not text".into()),
        _ => {}
    }
    let segs: Vec<String> = path.split('.').map(str::to_owned).collect();
    if let Some(col) = JSON_COLUMNS.iter().find(|c| **c == segs[0]) {
        return Ok(Source::Json { col, segs: segs[1..].to_vec() });
    }
    if segs[0] == "userIdentity" || segs[0] == "tlsDetails" {
        if segs.len() == 1 {
            return Err(format!("tests the whole {path} object, which the export splits across columns"));
        }
        if segs[0] == "userIdentity" {
            return Ok(Source::Json { col: "userIdentityRest", segs: segs[1..].to_vec() });
        }
    }
    Ok(Source::Json { col: "otherFields", segs })
}

struct Gen {
    d: Dialect,
}

impl Gen {
    fn ident(&self, name: &str) -> String {
        match self.d {
            Dialect::Spark => format!("`{name}`"),
            _ => format!("\"{name}\""),
        }
    }

    /// A string literal. Spark reads backslash escapes inside literals; the others do not.
    fn lit(&self, s: &str) -> String {
        let s = s.replace('\'', "''");
        match self.d {
            Dialect::Spark => format!("'{}'", s.replace('\\', "\\\\")),
            _ => format!("'{s}'"),
        }
    }

    fn regex_match(&self, text: &str, re: &str) -> String {
        match self.d {
            Dialect::DuckDb => format!("regexp_matches({text}, {})", self.lit(re)),
            Dialect::Trino | Dialect::Athena => format!("regexp_like({text}, {})", self.lit(re)),
            Dialect::Spark => format!("({text} RLIKE {})", self.lit(re)),
        }
    }

    /// One string test on a text expression; may be NULL when `text` is.
    fn str_test(&self, text: &str, m: &StrMatch) -> Result<String, String> {
        if matches!(m.op, MatchOp::Glob | MatchOp::Regex) {
            let re = m.regex_source().ok_or("a pattern test without its compiled expression")?;
            return Ok(self.regex_match(text, re));
        }
        let (t, p) =
            if m.cased { (text.to_owned(), m.text.clone()) } else { (format!("lower({text})"), m.text.to_lowercase()) };
        let n = p.chars().count();
        let lit = self.lit(&p);
        Ok(match m.op {
            MatchOp::Eq => format!("{t} = {lit}"),
            MatchOp::Contains if n == 0 => format!("({t} IS NOT NULL)"),
            MatchOp::Contains => match self.d {
                Dialect::DuckDb => format!("contains({t}, {lit})"),
                Dialect::Trino | Dialect::Athena => format!("strpos({t}, {lit}) > 0"),
                Dialect::Spark => format!("instr({t}, {lit}) > 0"),
            },
            MatchOp::StartsWith => format!("substr({t}, 1, {n}) = {lit}"),
            MatchOp::EndsWith if n == 0 => format!("({t} IS NOT NULL)"),
            MatchOp::EndsWith => format!("(length({t}) >= {n} AND substr({t}, length({t}) - {}) = {lit})", n - 1),
            MatchOp::Glob | MatchOp::Regex => unreachable!("handled above"),
        })
    }

    /// A test of a scalar text (string, or number or boolean as text); may be NULL.
    fn text_test(&self, text: &str, test: &Test) -> Result<String, String> {
        match test {
            Test::Str(any) if any.is_empty() => Ok("FALSE".into()),
            Test::Str(any) => {
                let parts = any.iter().map(|m| self.str_test(text, m)).collect::<Result<Vec<_>, _>>()?;
                Ok(format!("({})", parts.join(" OR ")))
            }
            Test::Num(op, b) => {
                let op = match op {
                    NumOp::Lt => "<",
                    NumOp::Lte => "<=",
                    NumOp::Gt => ">",
                    NumOp::Gte => ">=",
                };
                Ok(format!("TRY_CAST(trim({text}) AS DOUBLE) {op} {b:?}"))
            }
            Test::Cidr(nets) => self.cidr(text, nets),
            Test::Null | Test::Exists(_) | Test::FieldRef(_) => Err("internal: not a text test".into()),
            // Only the query language makes time ranges; no rule format has one.
            Test::Time { .. } => Err("a time-range test has no rule form to translate".into()),
        }
    }

    fn cidr(&self, text: &str, nets: &[IpNet]) -> Result<String, String> {
        const OCTET: &str = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])";
        let mut ranges = Vec::new();
        for n in nets {
            match n {
                IpNet::V4(v4) => ranges.push((u32::from(v4.network()), u32::from(v4.broadcast()))),
                IpNet::V6(_) => return Err(format!("IPv6 CIDR {n}: no portable SQL for IPv6 arithmetic")),
            }
        }
        let shape = format!("^{OCTET}\\.{OCTET}\\.{OCTET}\\.{OCTET}$");
        let octet = |i: usize| {
            // TRY_CAST: engines may evaluate the arithmetic before the shape test rules a value out.
            format!(
                "TRY_CAST(regexp_extract({text}, {}, {i}) AS BIGINT)",
                self.lit("^([0-9]+)\\.([0-9]+)\\.([0-9]+)\\.([0-9]+)$")
            )
        };
        let value = format!("({} * 16777216 + {} * 65536 + {} * 256 + {})", octet(1), octet(2), octet(3), octet(4));
        let within: Vec<String> = ranges.iter().map(|(lo, hi)| format!("{value} BETWEEN {lo} AND {hi}")).collect();
        Ok(format!("({} AND ({}))", self.regex_match(text, &shape), within.join(" OR ")))
    }

    /// A condition that is never NULL, so that `NOT` keeps its meaning.
    fn cond(&self, e: &Expr) -> Result<String, String> {
        Ok(match e {
            Expr::True => "TRUE".into(),
            Expr::And(v) if v.is_empty() => "TRUE".into(),
            Expr::Or(v) if v.is_empty() => "FALSE".into(),
            Expr::And(v) => {
                format!("({})", v.iter().map(|x| self.cond(x)).collect::<Result<Vec<_>, _>>()?.join(" AND "))
            }
            Expr::Or(v) => format!("({})", v.iter().map(|x| self.cond(x)).collect::<Result<Vec<_>, _>>()?.join(" OR ")),
            Expr::Not(x) => format!("(NOT {})", self.cond(x)?),
            Expr::Keyword(any) => self.keyword(any)?,
            Expr::Field { path, test } => self.field(path, test)?,
        })
    }

    fn keyword(&self, any: &[StrMatch]) -> Result<String, String> {
        // A keyword found inside a value is found in its column; one anchored to the whole
        // payload text is not (the export splits it into columns).
        let unanchored = |m: &StrMatch| match m.op {
            MatchOp::Contains | MatchOp::Regex => true,
            MatchOp::Glob => m.text.starts_with('*') && m.text.ends_with('*') && !m.text.ends_with("\\*"),
            _ => false,
        };
        if let Some(m) = any.iter().find(|m| !unanchored(m)) {
            return Err(format!(
                "keyword {}: a whole-value keyword test depends on the store's payload text, which the export splits into columns",
                m.describe()
            ));
        }
        let mut cols: Vec<String> = Field::ALL.iter().map(|f| column_name(*f)).collect();
        cols.extend(JSON_COLUMNS.iter().map(|c| (*c).to_owned()));
        cols.push("userIdentityRest".into());
        cols.push("otherFields".into());
        let mut parts = Vec::new();
        for c in cols {
            let t = self.text_test(&self.ident(&c), &Test::Str(any.to_vec()))?;
            parts.push(format!("coalesce({t}, FALSE)"));
        }
        Ok(format!("({})", parts.join(" OR ")))
    }

    fn field(&self, path: &str, test: &Test) -> Result<String, String> {
        let src = resolve(path)?;
        if let Test::FieldRef(other) = test {
            return self.field_ref(&src, &resolve(other)?);
        }
        match src {
            Source::Flat { col, lambda } => {
                let c = self.ident(&col);
                Ok(match test {
                    Test::Null => format!("({c} IS NULL)"),
                    Test::Exists(true) => format!("({c} IS NOT NULL)"),
                    Test::Exists(false) => format!("({c} IS NULL)"),
                    _ if lambda => {
                        let base = self.base_event_name(&c);
                        format!("coalesce({} OR {}, FALSE)", self.text_test(&c, test)?, self.text_test(&base, test)?)
                    }
                    _ => format!("coalesce({}, FALSE)", self.text_test(&c, test)?),
                })
            }
            Source::Flag(col) => {
                let c = self.ident(col);
                let text = match self.d {
                    Dialect::Spark => format!("CAST({c} AS STRING)"),
                    _ => format!("CAST({c} AS VARCHAR)"),
                };
                Ok(match test {
                    Test::Null | Test::Exists(false) => format!("({c} IS NULL)"),
                    Test::Exists(true) => format!("({c} IS NOT NULL)"),
                    _ => format!("coalesce({}, FALSE)", self.text_test(&text, test)?),
                })
            }
            Source::Json { col, segs } => match self.d {
                Dialect::DuckDb => self.duck_json(col, &segs, test),
                _ => self.scalar_json(col, &segs, test),
            },
        }
    }

    /// `eventName` without a Lambda API-version suffix (see `base_event_name`).
    fn base_event_name(&self, c: &str) -> String {
        let re = self.lit("^([^0-9]{4,})[0-9]{8}.*$");
        let back = if self.d == Dialect::DuckDb { "\\1" } else { "$1" };
        format!("regexp_replace({c}, {re}, {})", self.lit(back))
    }

    /// Every JSON path a dotted path can take through objects and arrays (DuckDB's `[*]`), so
    /// that arrays anywhere on the way are searched element-wise, as the store does.
    fn duck_paths(segs: &[String]) -> Result<Vec<(String, bool)>, String> {
        // Choice points: the column's root and each named segment may be an array.
        let named = segs.iter().filter(|s| s.parse::<usize>().is_err()).count();
        if named + 1 > 6 {
            return Err(format!("path of {} levels: too deep to expand every array on the way", segs.len()));
        }
        let mut out = Vec::new();
        for mask in 0u32..(1 << (named + 1)) {
            let mut p = String::from("$");
            let mut bit = 0;
            let mut wild = mask & 1 == 1;
            if wild {
                p.push_str("[*]");
            }
            for s in segs {
                if let Ok(i) = s.parse::<usize>() {
                    let _ = write!(p, "[{i}]");
                    continue;
                }
                bit += 1;
                let _ = write!(p, ".\"{}\"", s.replace('"', "\\\""));
                if mask >> bit & 1 == 1 {
                    p.push_str("[*]");
                    wild = true;
                }
            }
            out.push((p, wild));
        }
        Ok(out)
    }

    /// Every value at the path, as a DuckDB `JSON[]` (arrays themselves included).
    fn duck_values(&self, col: &str, segs: &[String]) -> Result<String, String> {
        let c = self.ident(col);
        let parts: Vec<String> = Self::duck_paths(segs)?
            .into_iter()
            .map(|(p, wild)| {
                if wild {
                    format!("coalesce(json_extract({c}, {}), [])", self.lit(&p))
                } else {
                    format!("[json_extract({c}, {})]", self.lit(&p))
                }
            })
            .collect();
        Ok(format!("({})", parts.join(" || ")))
    }

    fn duck_json(&self, col: &'static str, segs: &[String], test: &Test) -> Result<String, String> {
        let vals = self.duck_values(col, segs)?;
        Ok(match test {
            Test::Null => format!("(len(list_filter({vals}, lambda v: json_type(v) != 'NULL')) = 0)"),
            Test::Exists(e) => format!("((len(list_filter({vals}, lambda v: v IS NOT NULL)) > 0) = {e})"),
            _ => {
                let text = "(v ->> '$')";
                let plain = self.text_test(text, test)?;
                // An object is tested as its JSON text, and again with string escapes undone
                // (a pattern written for an embedded policy document).
                let obj_text = text;
                let unescaped = format!("replace(replace({obj_text}, '\\\"', '\"'), '\\\\', '\\')");
                let obj = format!(
                    "(coalesce({}, FALSE) OR coalesce({}, FALSE))",
                    self.text_test(obj_text, test)?,
                    self.text_test(&unescaped, test)?
                );
                format!(
                    "(len(list_filter({vals}, lambda v: CASE json_type(v) WHEN 'OBJECT' THEN {obj} WHEN 'ARRAY' THEN FALSE WHEN 'NULL' THEN FALSE ELSE coalesce({plain}, FALSE) END)) > 0)"
                )
            }
        })
    }

    /// Trino, Athena, Spark: the path read as one scalar (no array expansion).
    fn scalar_json(&self, col: &'static str, segs: &[String], test: &Test) -> Result<String, String> {
        let c = self.ident(col);
        let mut p = String::from("$");
        for s in segs {
            if let Ok(i) = s.parse::<usize>() {
                let _ = write!(p, "[{i}]");
            } else if self.d == Dialect::Spark {
                let _ = write!(p, "['{s}']");
            } else {
                let _ = write!(p, "[\"{s}\"]");
            }
        }
        let (scalar, any) = if segs.is_empty() {
            (c.clone(), c.clone())
        } else if self.d.trino() {
            (format!("json_extract_scalar({c}, {})", self.lit(&p)), format!("json_extract({c}, {})", self.lit(&p)))
        } else {
            let g = format!("get_json_object({c}, {})", self.lit(&p));
            (g.clone(), g)
        };
        Ok(match test {
            Test::Null | Test::Exists(false) => format!("({any} IS NULL)"),
            Test::Exists(true) => format!("({any} IS NOT NULL)"),
            _ => format!("coalesce({}, FALSE)", self.text_test(&scalar, test)?),
        })
    }

    fn field_ref(&self, a: &Source, b: &Source) -> Result<String, String> {
        if self.d != Dialect::DuckDb {
            let (x, y) = (self.scalar_of(a)?, self.scalar_of(b)?);
            return Ok(format!("coalesce({x} = {y}, FALSE)"));
        }
        let list = |s: &Source| -> Result<String, String> {
            Ok(match s {
                Source::Flat { col, .. } => format!("[{}]", self.ident(col)),
                Source::Flag(c) => format!("[CAST({} AS VARCHAR)]", self.ident(c)),
                Source::Json { col, segs } => format!(
                    "list_transform(list_filter({}, lambda v: json_type(v) IN ('VARCHAR', 'BIGINT', 'UBIGINT', 'DOUBLE', 'BOOLEAN')), lambda v: v ->> '$')",
                    self.duck_values(col, segs)?
                ),
            })
        };
        Ok(format!("(len(list_filter({}, lambda x: x IS NOT NULL AND list_contains({}, x))) > 0)", list(a)?, list(b)?))
    }

    /// The event time as epoch milliseconds (BIGINT), what hunt's windows measure.
    fn epoch_ms(&self) -> String {
        let t = self.ident("eventTime");
        match self.d {
            Dialect::DuckDb => format!("epoch_ms({t})"),
            Dialect::Trino | Dialect::Athena => format!("CAST(to_unixtime({t}) * 1000 AS BIGINT)"),
            Dialect::Spark => format!("unix_millis({t})"),
        }
    }

    /// A path's value as grouping text, as hunt's `path_text` keys it: a string as itself, any
    /// other value as its JSON text, null or absent as NULL. A value under an array on the way
    /// is not searched for (hunt takes the first one found; see docs/export.md).
    fn key_text(&self, path: &str) -> Result<String, String> {
        Ok(match resolve(path)? {
            Source::Flat { col, .. } => self.ident(&col),
            Source::Flag(c) => match self.d {
                Dialect::Spark => format!("CAST({} AS STRING)", self.ident(c)),
                _ => format!("CAST({} AS VARCHAR)", self.ident(c)),
            },
            Source::Json { col, segs } if segs.is_empty() => self.ident(col),
            Source::Json { col, segs } => {
                let c = self.ident(col);
                let mut p = String::from("$");
                for s in &segs {
                    if let Ok(i) = s.parse::<usize>() {
                        let _ = write!(p, "[{i}]");
                    } else {
                        match self.d {
                            Dialect::DuckDb => {
                                let _ = write!(p, ".\"{}\"", s.replace('"', "\\\""));
                            }
                            Dialect::Spark => {
                                let _ = write!(p, "['{s}']");
                            }
                            _ => {
                                let _ = write!(p, "[\"{s}\"]");
                            }
                        }
                    }
                }
                let p = self.lit(&p);
                match self.d {
                    Dialect::DuckDb => format!("json_extract_string({c}, {p})"),
                    Dialect::Trino | Dialect::Athena => format!(
                        "coalesce(json_extract_scalar({c}, {p}), nullif(json_format(json_extract({c}, {p})), 'null'))"
                    ),
                    Dialect::Spark => format!("get_json_object({c}, {p})"),
                }
            }
        })
    }

    /// The condition of a correlation's events: any of the rules it references (by id or name)
    /// that match events by themselves; hunt ignores references to other correlations.
    fn correlation_base(&self, rules: &[Rule], refs: &[String]) -> Result<String, String> {
        let mut parts = Vec::new();
        for name in refs {
            let Some(r) = rules.iter().find(|r| r.meta.id == *name || r.meta.name.as_deref() == Some(name)) else {
                continue;
            };
            match &r.kind {
                RuleKind::Event(e) | RuleKind::Aggregate { expr: e, .. } => {
                    parts.push(self.cond(e).map_err(|why| format!("referenced rule {name}: {why}"))?)
                }
                RuleKind::Correlation { .. } => {}
            }
        }
        Ok(if parts.is_empty() { "FALSE".into() } else { format!("({})", parts.join(" OR ")) })
    }

    /// A counting rule as one query: the events of each finding hunt would raise, with the
    /// group's values (`|`-joined, as hunt labels it) and the burst's number within the group.
    ///
    /// With a window and a test that needs enough events (`>`, `>=`, `==`), hunt slides over
    /// each group's events in time order and, for every event, counts the events (or distinct
    /// values) from the earliest one inside the window up to it; where the count passes, all
    /// of those events belong to findings. In SQL: `rn` numbers a group's events in the
    /// store's order, `lo` counts the events before the window (a RANGE frame), so the window
    /// ending at an event is `lo < rn' <= rn`; an event is in a finding when some passing
    /// window at or after it starts at or before it (a MIN over the following rows). Bursts
    /// split where an event is not in a finding or a window-sized gap opens. Without a window,
    /// or with `<` / `<=`, hunt judges each group's whole count once.
    fn counting(&self, id: &str, table: &str, c: &Counting<'_>) -> Result<String, String> {
        let keys: Vec<String> = c.group_by.iter().map(|p| self.key_text(p)).collect::<Result<_, _>>()?;
        let value = c.distinct.map(|p| self.key_text(p)).transpose()?;
        let g: Vec<String> = (0..keys.len()).map(|i| format!("g{i}")).collect();
        let op = match c.op {
            CountOp::Gt => ">",
            CountOp::Gte => ">=",
            CountOp::Lt => "<",
            CountOp::Lte => "<=",
            CountOp::Eq => "=",
        };
        let (ev, et, sf, ri) =
            (self.ident("eventID"), self.ident("eventTime"), self.ident("sourceFile"), self.ident("recordIndex"));
        let mut cols = vec![ev.clone(), et.clone(), format!("{} AS ms", self.epoch_ms()), sf.clone(), ri.clone()];
        cols.extend(keys.iter().zip(&g).map(|(k, g)| format!("{k} AS {g}")));
        if let Some(v) = &value {
            cols.push(format!("{v} AS v"));
        }
        let present: Vec<String> = g.iter().map(|g| format!(" AND {g} IS NOT NULL")).collect();
        let m = format!(
            "WITH m AS (SELECT * FROM (SELECT {} FROM {table} WHERE {}) x WHERE TRUE{})",
            cols.join(", "),
            c.cond,
            present.concat()
        );
        let label = |q: &str| -> String {
            if g.is_empty() {
                "''".into()
            } else {
                g.iter().map(|g| format!("{q}{g}")).collect::<Vec<_>>().join(" || '|' || ")
            }
        };
        let on = |a: &str, b: &str| -> Vec<String> { g.iter().map(|g| format!("{a}.{g} = {b}.{g}")).collect() };
        let counted = if value.is_some() { "COUNT(DISTINCT v)" } else { "COUNT(*)" };
        let head = format!("SELECT {} AS rule_id, ", self.lit(id));
        let windowed = c.window_ms.filter(|_| c.op.threshold(c.value).is_some());
        let Some(w) = windowed else {
            // One verdict per group over the whole evidence.
            let (grouped, join) = if g.is_empty() {
                (format!("SELECT {counted} AS n FROM m"), "CROSS JOIN c".to_owned())
            } else {
                (
                    format!("SELECT {}, {counted} AS n FROM m GROUP BY {}", g.join(", "), g.join(", ")),
                    format!("JOIN c ON {}", on("m", "c").join(" AND ")),
                )
            };
            return Ok(format!(
                "{m},\nc AS ({grouped})\n{head}m.{ev}, m.{et}, {} AS group_key, 1 AS burst FROM m {join} WHERE c.n {op} {};",
                label("m."),
                c.value
            ));
        };
        let part = if g.is_empty() { String::new() } else { format!("PARTITION BY {} ", g.join(", ")) };
        let order = format!("({part}ORDER BY rn)");
        let r = format!(
            "r AS (SELECT m.*, ROW_NUMBER() OVER ({part}ORDER BY ms, {sf}, {ri}) AS rn, \
             COUNT(*) OVER ({part}ORDER BY ms RANGE BETWEEN UNBOUNDED PRECEDING AND {} PRECEDING) AS lo FROM m)",
            w + 1
        );
        let k = if value.is_some() {
            // No engine but DuckDB counts distinct values in a window: join each event to the
            // events of its window instead.
            let mut inner = on("a", "b");
            inner.push("b.rn > a.lo AND b.rn <= a.rn".into());
            let mut outer = on("r", "d");
            outer.push("r.rn = d.rn".into());
            let by: Vec<String> = g.iter().map(|g| format!("a.{g}")).chain(["a.rn".to_owned()]).collect();
            format!(
                "k AS (SELECT r.*, d.n FROM r JOIN (SELECT {}, COUNT(DISTINCT b.v) AS n FROM r a JOIN r b ON {} GROUP BY {}) d ON {})",
                by.join(", "),
                inner.join(" AND "),
                by.join(", "),
                outer.join(" AND ")
            )
        } else {
            "k AS (SELECT r.*, rn - lo AS n FROM r)".to_owned()
        };
        Ok(format!(
            "{m},\n{r},\n{k},\n\
             p AS (SELECT k.*, MIN(CASE WHEN n {op} {} THEN lo + 1 END) OVER ({part}ORDER BY rn ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) AS reach FROM k),\n\
             q AS (SELECT p.*, coalesce(reach <= rn, FALSE) AS marked FROM p),\n\
             s AS (SELECT q.*, CASE WHEN marked AND NOT coalesce(LAG(marked) OVER {order} AND ms - LAG(ms) OVER {order} <= {w}, FALSE) THEN 1 ELSE 0 END AS starts FROM q)\n\
             {head}{ev}, {et}, {} AS group_key, burst FROM (SELECT s.*, SUM(starts) OVER ({part}ORDER BY rn ROWS UNBOUNDED PRECEDING) AS burst FROM s) b WHERE marked;",
            c.value,
            label("")
        ))
    }

    fn scalar_of(&self, s: &Source) -> Result<String, String> {
        Ok(match s {
            Source::Flat { col, .. } => self.ident(col),
            Source::Flag(c) => self.ident(c),
            Source::Json { col, segs } => {
                let p = format!("$.{}", segs.join("."));
                if self.d.trino() {
                    format!("json_extract_scalar({}, {})", self.ident(col), self.lit(&p))
                } else {
                    format!("get_json_object({}, {})", self.ident(col), self.lit(&p))
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use trailscope_indicators::{contains, eq, not, null, RuleMeta};

    fn rule(id: &str, kind: RuleKind) -> Rule {
        Rule {
            meta: Arc::new(RuleMeta { id: id.into(), title: "t".into(), ..Default::default() }),
            kind,
            generate: true,
        }
    }

    fn correlation(id: &str, kind: trailscope_indicators::CorrelationKind) -> Rule {
        rule(
            id,
            RuleKind::Correlation {
                kind,
                rules: vec!["a".into()],
                group_by: vec!["userIdentity.arn".into()],
                window_ms: 60_000,
                field: Some("sourceIPAddress".into()),
                op: CountOp::Gte,
                value: 3,
                base_generate: true,
            },
        )
    }

    #[test]
    fn event_and_counting_rules_become_one_query_each_and_temporal_ones_are_refused_with_a_reason() {
        use trailscope_indicators::CorrelationKind::{EventCount, Temporal, ValueCount};
        let rules = vec![
            rule("a", RuleKind::Event(Expr::And(vec![eq("eventName", &["DeleteTrail"]), not(null("errorCode"))]))),
            rule("b", RuleKind::Event(contains("requestParameters.policyDocument", &["\"Action\":\"*\""]))),
            correlation("c", Temporal),
            correlation("d", EventCount),
            correlation("e", ValueCount),
        ];
        let t = translate(&rules, Dialect::DuckDb, "events");
        assert_eq!(t.translated, vec!["a", "b", "d", "e"]);
        assert_eq!(t.refused.len(), 1);
        assert!(t.sql.contains("-- c: temporal correlation"), "{}", t.sql);
        assert!(t.sql.contains("SELECT 'a' AS rule_id, \"eventID\""), "{}", t.sql);
        assert!(t.sql.contains("lower(\"eventName\") = 'deletetrail'"), "{}", t.sql);
        // The correlations count rule a's events per principal within a minute (+1 ms: the
        // frame ends before the window's first millisecond); value_count joins for distinct values.
        let d = &t.sql[t.sql.find("-- d:").unwrap()..t.sql.find("-- e:").unwrap()];
        assert!(d.contains("\"userIdentity_arn\" AS g0") && d.contains("AND 60001 PRECEDING"), "{d}");
        assert!(d.contains("rn - lo AS n") && !d.contains("COUNT(DISTINCT"), "{d}");
        assert!(d.contains("WHEN n >= 3 THEN") && d.contains("SELECT 'd' AS rule_id"), "{d}");
        let e = &t.sql[t.sql.find("-- e:").unwrap()..];
        assert!(e.contains("\"sourceIPAddress\" AS v") && e.contains("COUNT(DISTINCT b.v)"), "{e}");
        let spark = translate(&rules, Dialect::Spark, "events");
        assert!(spark.sql.contains("get_json_object(`requestParameters`"), "{}", spark.sql);
        assert!(spark.sql.contains("unix_millis(`eventTime`) AS ms"), "{}", spark.sql);
    }

    #[test]
    fn counting_without_a_window_or_below_a_ceiling_judges_each_whole_group() {
        let agg = |op, window_ms| {
            rule(
                "x",
                RuleKind::Aggregate {
                    expr: eq("eventName", &["GetObject"]),
                    group_by: vec!["requestParameters.bucketName".into(), "sourceIPAddress".into()],
                    window_ms,
                    distinct: None,
                    op,
                    value: 5,
                },
            )
        };
        for (op, window) in [(CountOp::Gt, None), (CountOp::Lt, Some(60_000))] {
            let t = translate(&[agg(op, window)], Dialect::Trino, "events");
            assert!(t.sql.contains("GROUP BY g0, g1") && !t.sql.contains("PRECEDING"), "{}", t.sql);
            assert!(t.sql.contains("json_extract_scalar(\"requestParameters\", '$[\"bucketName\"]')"), "{}", t.sql);
            assert!(t.sql.contains("m.g0 || '|' || m.g1 AS group_key"), "{}", t.sql);
        }
        let t = translate(&[agg(CountOp::Gt, Some(60_000))], Dialect::Trino, "events");
        assert!(t.sql.contains("CAST(to_unixtime(\"eventTime\") * 1000 AS BIGINT)"), "{}", t.sql);
        assert!(t.sql.contains("PARTITION BY g0, g1 ORDER BY ms RANGE"), "{}", t.sql);
    }

    #[test]
    fn every_array_on_a_path_is_expanded_for_duckdb() {
        let p = Gen::duck_paths(&["a".into(), "0".into(), "b".into()]).unwrap();
        assert_eq!(p.len(), 8);
        assert!(p.contains(&("$.\"a\"[0].\"b\"".into(), false)));
        assert!(p.contains(&("$[*].\"a\"[0].\"b\"[*]".into(), true)));
    }

    #[test]
    fn literals_are_quoted_for_each_dialect() {
        assert_eq!(Gen { d: Dialect::DuckDb }.lit(r"it's \d"), r"'it''s \d'");
        assert_eq!(Gen { d: Dialect::Spark }.lit(r"it's \d"), r"'it''s \\d'");
        assert!(Gen { d: Dialect::Trino }
            .cidr("x", &["10.0.0.0/8".parse().unwrap()])
            .unwrap()
            .contains("167772160 AND 184549375"));
        assert!(Gen { d: Dialect::Trino }.cidr("x", &["::/0".parse().unwrap()]).is_err());
    }
}
