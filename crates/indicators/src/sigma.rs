//! Sigma rules (YAML) to [`Rule`]s: detection maps and lists, field modifiers, the condition
//! language, legacy `| count()` aggregations, and correlation rules.
//!
//! Field names are dotted CloudTrail paths (`userIdentity.type`, `requestParameters.policyArn`).
//! Values compare ignoring case unless `|cased`; `*`/`?` are wildcards, `\` escapes them.

use std::collections::HashMap;
use std::sync::Arc;

use ipnet::IpNet;
use yaml_rust2::Yaml;

use crate::error::RuleErrorKind;
use crate::expr::{Expr, MatchOp, NumOp, StrMatch, Test};
use crate::rule::{CorrelationKind, CountOp, Rule, RuleKind, RuleMeta, Severity};

/// Values for `|expand` placeholders (`%name%` → values).
pub type Vars = HashMap<String, Vec<String>>;

/// What a YAML document turned out to be.
pub enum Parsed {
    /// A rule to run.
    Rule(Rule),
    /// A rule for another log source (not AWS CloudTrail): skipped, not an error.
    NotApplicable(String),
}

type R<T> = Result<T, RuleErrorKind>;

fn unsupported(field: Option<&str>, what: impl Into<String>) -> RuleErrorKind {
    RuleErrorKind::Unsupported { field: field.map(str::to_owned), what: what.into() }
}

fn get<'a>(doc: &'a Yaml, key: &str) -> Option<&'a Yaml> {
    match &doc[key] {
        Yaml::BadValue => None,
        v => Some(v),
    }
}

/// A YAML scalar as text (numbers and booleans as written).
fn scalar(y: &Yaml) -> Option<String> {
    match y {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

fn str_list(y: Option<&Yaml>) -> Vec<String> {
    match y {
        Some(Yaml::Array(a)) => a.iter().filter_map(scalar).collect(),
        Some(v) => scalar(v).into_iter().collect(),
        None => Vec::new(),
    }
}

/// `30s`, `5m`, `1h`, `2d` to milliseconds.
pub fn parse_duration(s: &str) -> Option<i64> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit())?);
    let n: i64 = num.parse().ok()?;
    let ms = match unit.trim() {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        _ => return None,
    };
    Some(n * ms)
}

/// Sigma tag marking a rule as owner hygiene / risk rather than evidence of an intruder.
pub const RISK_TAG: &str = "trailscope.risk";

/// Public (SigmaHQ) rules that flag hygiene rather than intrusion, by id: root account usage,
/// console sign-in without MFA, failed console sign-in. Their findings are listed as risks.
pub const PUBLIC_RISK_RULES: &[&str] = &[
    "8ad1600d-e9dc-4251-b0ee-a65268f29add",
    "77caf516-34e5-4df9-b4db-20744fea0a60",
    "6393e346-1977-46ef-8987-ad414a145fad",
];

/// ATT&CK techniques and tactics from Sigma tags.
fn attack_tags(tags: &[String]) -> (Vec<String>, Vec<String>) {
    let (mut tactics, mut techniques) = (Vec::new(), Vec::new());
    for t in tags {
        let Some(rest) = t.strip_prefix("attack.") else { continue };
        let is_technique = rest.len() >= 5
            && rest.as_bytes()[0].eq_ignore_ascii_case(&b't')
            && rest[1..].chars().next().is_some_and(|c| c.is_ascii_digit());
        if is_technique {
            techniques.push(rest.to_ascii_uppercase());
        } else if !rest.starts_with('g') || !rest[1..].chars().all(|c| c.is_ascii_digit()) {
            tactics.push(rest.replace('_', "-"));
        }
    }
    (tactics, techniques)
}

/// Parse one YAML document.
pub fn parse_document(doc: &Yaml, source: &str, vars: &Vars) -> R<Parsed> {
    let title = get(doc, "title").and_then(scalar).ok_or(RuleErrorKind::Missing("title"))?;
    let id = get(doc, "id").and_then(scalar).unwrap_or_else(|| format!("{source}#{title}"));
    let severity = match get(doc, "level").and_then(scalar) {
        None => Severity::Medium,
        Some(l) => Severity::parse(&l).ok_or(RuleErrorKind::Missing("level"))?,
    };
    let tags = str_list(get(doc, "tags"));
    let (tactics, techniques) = attack_tags(&tags);
    let risk = tags.iter().any(|t| t.eq_ignore_ascii_case(RISK_TAG)) || PUBLIC_RISK_RULES.contains(&id.as_str());
    let meta = RuleMeta {
        risk,
        id,
        name: get(doc, "name").and_then(scalar),
        title,
        severity,
        tactics,
        techniques,
        description: get(doc, "description").and_then(scalar).unwrap_or_default().trim().to_owned(),
        source: source.to_owned(),
        indicator: false,
    };
    if let Some(c) = get(doc, "correlation") {
        let kind = correlation(c)?;
        return Ok(Parsed::Rule(Rule { meta: Arc::new(meta), kind, generate: true }));
    }
    if let Some(ls) = get(doc, "logsource") {
        let product = get(ls, "product").and_then(scalar).map(|s| s.to_ascii_lowercase());
        let service = get(ls, "service").and_then(scalar).map(|s| s.to_ascii_lowercase());
        let aws = product.as_deref().is_none_or(|p| p == "aws");
        let cloudtrail = service.as_deref().is_none_or(|s| s == "cloudtrail");
        if !aws || !cloudtrail || (product.is_none() && service.is_none()) {
            let what = format!("logsource {}/{}", product.unwrap_or_default(), service.unwrap_or_default());
            return Ok(Parsed::NotApplicable(what));
        }
    }
    let detection = get(doc, "detection").ok_or(RuleErrorKind::Missing("detection"))?;
    let kind = detection_kind(detection, vars)?;
    Ok(Parsed::Rule(Rule { meta: Arc::new(meta), kind, generate: true }))
}

fn correlation(c: &Yaml) -> R<RuleKind> {
    let kind = match get(c, "type").and_then(scalar).as_deref() {
        Some("event_count") => CorrelationKind::EventCount,
        Some("value_count") => CorrelationKind::ValueCount,
        Some("temporal") => CorrelationKind::Temporal,
        Some("temporal_ordered") => CorrelationKind::TemporalOrdered,
        Some(other) => return Err(unsupported(None, format!("correlation type `{other}`"))),
        None => return Err(RuleErrorKind::Missing("correlation.type")),
    };
    if get(c, "aliases").is_some() {
        return Err(unsupported(None, "correlation `aliases` (field renaming across rules)"));
    }
    let rules = str_list(get(c, "rules"));
    if rules.is_empty() {
        return Err(RuleErrorKind::Missing("correlation.rules"));
    }
    let group_by = str_list(get(c, "group-by"));
    let window_ms = get(c, "timespan")
        .and_then(scalar)
        .and_then(|t| parse_duration(&t))
        .ok_or(RuleErrorKind::Missing("correlation.timespan"))?;
    let (mut op, mut value, mut field) = (CountOp::Gte, 1u64, None);
    if let Some(cond) = get(c, "condition") {
        let Yaml::Hash(h) = cond else { return Err(RuleErrorKind::Missing("correlation.condition")) };
        for (k, v) in h {
            match k.as_str() {
                Some("field") => field = scalar(v),
                Some(o) => {
                    op = match o {
                        "gt" => CountOp::Gt,
                        "gte" => CountOp::Gte,
                        "lt" => CountOp::Lt,
                        "lte" => CountOp::Lte,
                        "eq" => CountOp::Eq,
                        other => return Err(unsupported(None, format!("correlation condition `{other}`"))),
                    };
                    value =
                        v.as_i64().filter(|n| *n >= 0).ok_or(RuleErrorKind::Missing("correlation.condition"))? as u64;
                }
                None => return Err(RuleErrorKind::Missing("correlation.condition")),
            }
        }
    } else if matches!(kind, CorrelationKind::EventCount | CorrelationKind::ValueCount) {
        return Err(RuleErrorKind::Missing("correlation.condition"));
    }
    if kind == CorrelationKind::ValueCount && field.is_none() {
        return Err(RuleErrorKind::Missing("correlation.condition.field"));
    }
    let base_generate = matches!(get(c, "generate"), Some(Yaml::Boolean(true)));
    Ok(RuleKind::Correlation { kind, rules, group_by, window_ms, field, op, value, base_generate })
}

/// Every `%name%` of the rule's `|expand` values that `vars` lacks, in order of appearance.
fn missing_placeholders(y: &Yaml, vars: &Vars, expanding: bool, out: &mut Vec<String>) {
    match y {
        Yaml::Hash(h) => {
            for (k, v) in h {
                let expands = k.as_str().is_some_and(|k| k.split('|').skip(1).any(|m| m == "expand"));
                missing_placeholders(v, vars, expands, out);
            }
        }
        Yaml::Array(a) => a.iter().for_each(|i| missing_placeholders(i, vars, expanding, out)),
        Yaml::String(s) if expanding => {
            // Same pairing of `%` signs as `expand`: each name sits between two of them.
            let mut rest = s.as_str();
            while let Some(start) = rest.find('%') {
                let Some(len) = rest[start + 1..].find('%') else { break };
                let name = &rest[start + 1..start + 1 + len];
                if !vars.contains_key(name) && !out.iter().any(|n| n == name) {
                    out.push(name.to_owned());
                }
                rest = &rest[start + 2 + len..];
            }
        }
        _ => {}
    }
}

fn detection_kind(det: &Yaml, vars: &Vars) -> R<RuleKind> {
    let Yaml::Hash(h) = det else { return Err(RuleErrorKind::Missing("detection")) };
    let mut missing = Vec::new();
    missing_placeholders(det, vars, false, &mut missing);
    if !missing.is_empty() {
        return Err(RuleErrorKind::Placeholder(missing));
    }
    let mut selections: Vec<(String, Expr)> = Vec::new();
    for (k, v) in h {
        let Some(name) = k.as_str() else { continue };
        if name == "condition" || name == "timeframe" {
            continue;
        }
        selections.push((name.to_owned(), selection(v, vars)?));
    }
    let conditions = match get(det, "condition") {
        Some(Yaml::Array(a)) => a.iter().filter_map(scalar).collect(),
        Some(c) => scalar(c).into_iter().collect::<Vec<_>>(),
        None => return Err(RuleErrorKind::Missing("detection.condition")),
    };
    if conditions.is_empty() {
        return Err(RuleErrorKind::Missing("detection.condition"));
    }
    let timeframe = get(det, "timeframe").and_then(scalar);
    let window_ms = match &timeframe {
        Some(t) => Some(parse_duration(t).ok_or_else(|| RuleErrorKind::Condition(format!("bad timeframe `{t}`")))?),
        None => None,
    };
    let mut exprs = Vec::new();
    let mut aggregate = None;
    for c in &conditions {
        let (base, agg) = match split_top_pipe(c) {
            Some((b, a)) => (b, Some(a)),
            None => (c.as_str(), None),
        };
        exprs.push(condition::parse(base, &selections)?);
        if let Some(a) = agg {
            if conditions.len() > 1 {
                return Err(unsupported(None, "aggregation in a list of conditions"));
            }
            aggregate = Some(parse_aggregation(a)?);
        }
    }
    let expr = if exprs.len() == 1 { exprs.pop().unwrap_or(Expr::True) } else { Expr::Or(exprs) };
    Ok(match aggregate {
        None => RuleKind::Event(expr),
        Some((distinct, group_by, op, value)) => RuleKind::Aggregate { expr, group_by, window_ms, distinct, op, value },
    })
}

fn split_top_pipe(c: &str) -> Option<(&str, &str)> {
    c.find('|').map(|i| (&c[..i], &c[i + 1..]))
}

/// `count() by a, b > 10`, `count(field) by g >= 3`, `count() > 5`.
fn parse_aggregation(a: &str) -> R<(Option<String>, Vec<String>, CountOp, u64)> {
    let a = a.trim();
    let bad = || RuleErrorKind::Condition(format!("cannot read aggregation `{a}`"));
    let Some(rest) = a.strip_prefix("count") else {
        let func = a.split('(').next().unwrap_or(a).trim();
        return Err(unsupported(None, format!("aggregation function `{func}` (only count is supported)")));
    };
    let rest = rest.trim_start();
    let close = rest.find(')').ok_or_else(bad)?;
    let inner = rest.strip_prefix('(').ok_or_else(bad)?[..close - 1].trim();
    let distinct = (!inner.is_empty()).then(|| inner.to_owned());
    let mut tail = rest[close + 1..].trim();
    let mut group_by = Vec::new();
    if let Some(by) = tail.strip_prefix("by ") {
        let end = by.find(['<', '>', '=']).ok_or_else(bad)?;
        group_by = by[..end].split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect();
        tail = by[end..].trim();
    }
    let (op, num) = if let Some(n) = tail.strip_prefix(">=") {
        (CountOp::Gte, n)
    } else if let Some(n) = tail.strip_prefix("<=") {
        (CountOp::Lte, n)
    } else if let Some(n) = tail.strip_prefix('>') {
        (CountOp::Gt, n)
    } else if let Some(n) = tail.strip_prefix('<') {
        (CountOp::Lt, n)
    } else if let Some(n) = tail.strip_prefix("==").or_else(|| tail.strip_prefix('=')) {
        (CountOp::Eq, n)
    } else {
        return Err(bad());
    };
    let value = num.trim().parse::<u64>().map_err(|_| bad())?;
    Ok((distinct, group_by, op, value))
}

/// A search identifier's value: a map (AND), a list of maps (OR), or keywords.
fn selection(v: &Yaml, vars: &Vars) -> R<Expr> {
    match v {
        Yaml::Hash(h) => {
            let mut parts = Vec::new();
            for (k, val) in h {
                let key = scalar(k).ok_or(RuleErrorKind::Missing("detection field name"))?;
                parts.push(field_expr(&key, val, vars)?);
            }
            Ok(if parts.len() == 1 { parts.pop().unwrap_or(Expr::True) } else { Expr::And(parts) })
        }
        Yaml::Array(items) if items.iter().all(|i| matches!(i, Yaml::Hash(_))) => {
            Ok(Expr::Or(items.iter().map(|i| selection(i, vars)).collect::<R<Vec<_>>>()?))
        }
        Yaml::Array(items) => {
            let words: Vec<String> = items
                .iter()
                .map(|i| scalar(i).ok_or(unsupported(None, "a keyword list mixing maps and values")))
                .collect::<R<_>>()?;
            keywords(&words)
        }
        other => match scalar(other) {
            Some(w) => keywords(&[w]),
            None => Err(unsupported(None, "an empty or null search identifier")),
        },
    }
}

fn keywords(words: &[String]) -> R<Expr> {
    let any = words
        .iter()
        .map(|w| {
            let w = if has_wildcard(w) { w.clone() } else { format!("*{w}*") };
            StrMatch::glob(&w, false)
                .map_err(|e| RuleErrorKind::BadValue { field: "keywords".into(), message: e.to_string() })
        })
        .collect::<R<Vec<_>>>()?;
    Ok(Expr::Keyword(any))
}

fn has_wildcard(s: &str) -> bool {
    let b = s.as_bytes();
    b.iter().enumerate().any(|(i, &c)| (c == b'*' || c == b'?') && (i == 0 || b[i - 1] != b'\\'))
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(&n @ ('*' | '?' | '\\')) = chars.peek() {
                out.push(n);
                chars.next();
                continue;
            }
        }
        out.push(c);
    }
    out
}

/// Fill `%name%` placeholders, each value of each variable in turn.
fn expand(value: &str, vars: &Vars) -> R<Vec<String>> {
    let Some(start) = value.find('%') else { return Ok(vec![value.to_owned()]) };
    let Some(len) = value[start + 1..].find('%') else { return Ok(vec![value.to_owned()]) };
    let name = &value[start + 1..start + 1 + len];
    let values = vars.get(name).ok_or_else(|| RuleErrorKind::Placeholder(vec![name.to_owned()]))?;
    let mut out = Vec::new();
    for v in values {
        let filled = format!("{}{v}{}", &value[..start], &value[start + 2 + len..]);
        out.extend(expand(&filled, vars)?);
    }
    Ok(out)
}

/// `field|mod|mod: value(s)` to an expression.
fn field_expr(key: &str, val: &Yaml, vars: &Vars) -> R<Expr> {
    let mut parts = key.split('|');
    let path = parts.next().unwrap_or_default().trim().to_owned();
    if path.is_empty() {
        return Err(unsupported(Some(key), "a field modifier without a field name"));
    }
    let mut op = MatchOp::Eq;
    let (mut all, mut cased, mut re, mut cidr, mut exists, mut fieldref, mut expand_vars) =
        (false, false, false, false, false, false, false);
    let mut num: Option<NumOp> = None;
    let mut re_flags = String::new();
    for m in parts {
        match m {
            "contains" => op = MatchOp::Contains,
            "startswith" => op = MatchOp::StartsWith,
            "endswith" => op = MatchOp::EndsWith,
            "all" => all = true,
            "cased" => cased = true,
            "re" => re = true,
            "i" | "m" | "s" if re => re_flags.push_str(m),
            "cidr" => cidr = true,
            "exists" => exists = true,
            "fieldref" => fieldref = true,
            "expand" => expand_vars = true,
            "lt" => num = Some(NumOp::Lt),
            "lte" => num = Some(NumOp::Lte),
            "gt" => num = Some(NumOp::Gt),
            "gte" => num = Some(NumOp::Gte),
            "base64" | "base64offset" | "utf16le" | "utf16be" | "utf16" | "wide" | "windash" => {
                return Err(unsupported(
                    Some(key),
                    format!("modifier `{m}` encodes Windows command lines; CloudTrail fields are plain JSON text"),
                ));
            }
            other => return Err(unsupported(Some(key), format!("modifier `{other}`"))),
        }
    }
    let raw: Vec<&Yaml> = match val {
        Yaml::Array(a) => a.iter().collect(),
        v => vec![v],
    };
    if exists {
        let b = match val {
            Yaml::Boolean(b) => *b,
            _ => {
                return Err(RuleErrorKind::BadValue {
                    field: key.into(),
                    message: "`|exists` takes true or false".into(),
                })
            }
        };
        return Ok(Expr::Field { path, test: Test::Exists(b) });
    }
    if raw.is_empty() {
        return Err(RuleErrorKind::BadValue { field: key.into(), message: "empty value list".into() });
    }
    let mut values: Vec<Option<String>> = Vec::new();
    for y in raw {
        match y {
            Yaml::Null => values.push(None),
            y => {
                let s = scalar(y).ok_or_else(|| RuleErrorKind::BadValue {
                    field: key.into(),
                    message: "value is not a scalar".into(),
                })?;
                if expand_vars {
                    values.extend(expand(&s, vars)?.into_iter().map(Some));
                } else {
                    values.push(Some(s));
                }
            }
        }
    }
    let bad = |message: String| RuleErrorKind::BadValue { field: key.into(), message };
    let mut tests: Vec<Test> = Vec::new();
    for v in values {
        let Some(v) = v else {
            tests.push(Test::Null);
            continue;
        };
        let test = if fieldref {
            Test::FieldRef(v)
        } else if cidr {
            Test::Cidr(vec![v
                .parse::<IpNet>()
                .or_else(|_| v.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|e| bad(format!("bad CIDR `{v}`: {e}")))?])
        } else if let Some(op) = num {
            Test::Num(op, v.parse::<f64>().map_err(|_| bad(format!("`{v}` is not a number")))?)
        } else if re {
            let flags = if re_flags.is_empty() { String::new() } else { format!("(?{re_flags})") };
            let compiled = regex::RegexBuilder::new(&format!("{flags}{v}"))
                .size_limit(1 << 22)
                .build()
                .map_err(|e| bad(e.to_string()))?;
            Test::Str(vec![StrMatch::regex(v, compiled)])
        } else {
            Test::Str(vec![string_match(op, &v, cased).map_err(|e| bad(e.to_string()))?])
        };
        tests.push(test);
    }
    let field = |test: Test| Expr::Field { path: path.clone(), test };
    if all && tests.len() > 1 {
        return Ok(Expr::And(tests.into_iter().map(field).collect()));
    }
    // Merge plain string alternatives into one test (one dictionary pass instead of many).
    let mut strs: Vec<StrMatch> = Vec::new();
    let mut others: Vec<Expr> = Vec::new();
    for t in tests {
        match t {
            Test::Str(s) => strs.extend(s),
            t => others.push(field(t)),
        }
    }
    if !strs.is_empty() {
        others.insert(0, field(Test::Str(strs)));
    }
    Ok(if others.len() == 1 { others.pop().unwrap_or(Expr::True) } else { Expr::Or(others) })
}

/// A value with the modifier's operation, wildcards honoured.
fn string_match(op: MatchOp, v: &str, cased: bool) -> Result<StrMatch, regex::Error> {
    if has_wildcard(v) {
        let pattern = match op {
            MatchOp::Contains => format!("*{v}*"),
            MatchOp::StartsWith => format!("{v}*"),
            MatchOp::EndsWith => format!("*{v}"),
            _ => v.to_owned(),
        };
        // `*text*`, `text*`, `*text` with no other wildcard are plain string tests (faster).
        let inner = pattern.trim_matches('*');
        if !has_wildcard(inner) && !inner.is_empty() && !pattern.ends_with("\\*") {
            let (lead, trail) = (pattern.starts_with('*'), pattern.ends_with('*'));
            let simple = match (lead, trail) {
                (true, true) => MatchOp::Contains,
                (true, false) => MatchOp::EndsWith,
                (false, true) => MatchOp::StartsWith,
                (false, false) => MatchOp::Eq,
            };
            let m = StrMatch::new(simple, unescape(inner));
            return Ok(if cased { m.cased() } else { m });
        }
        return StrMatch::glob(&pattern, cased);
    }
    let m = StrMatch::new(op, unescape(v));
    Ok(if cased { m.cased() } else { m })
}

/// The condition language: `and`, `or`, `not`, parentheses, `1 of x*`, `all of x*`,
/// `1 of them`, `all of them`.
pub mod condition {
    use super::*;

    #[derive(Debug, Clone, PartialEq)]
    enum Tok {
        LParen,
        RParen,
        And,
        Or,
        Not,
        OneOf,
        AllOf,
        Ident(String),
    }

    fn lex(s: &str) -> R<Vec<Tok>> {
        let mut toks = Vec::new();
        let words: Vec<String> =
            s.replace('(', " ( ").replace(')', " ) ").split_whitespace().map(str::to_owned).collect();
        let mut i = 0;
        while i < words.len() {
            let w = words[i].as_str();
            let lw = w.to_ascii_lowercase();
            let next_is_of = words.get(i + 1).is_some_and(|n| n.eq_ignore_ascii_case("of"));
            let t = match lw.as_str() {
                "(" => Tok::LParen,
                ")" => Tok::RParen,
                "and" => Tok::And,
                "or" => Tok::Or,
                "not" => Tok::Not,
                "1" | "any" if next_is_of => {
                    i += 1;
                    Tok::OneOf
                }
                "all" if next_is_of => {
                    i += 1;
                    Tok::AllOf
                }
                "near" => return Err(unsupported(None, "the `near` condition operator")),
                _ if w.chars().all(|c| c.is_alphanumeric() || "_-*.".contains(c)) => Tok::Ident(w.to_owned()),
                _ => return Err(RuleErrorKind::Condition(format!("unexpected `{w}`"))),
            };
            toks.push(t);
            i += 1;
        }
        Ok(toks)
    }

    struct P<'a> {
        toks: Vec<Tok>,
        pos: usize,
        sel: &'a [(String, Expr)],
    }

    impl P<'_> {
        fn peek(&self) -> Option<&Tok> {
            self.toks.get(self.pos)
        }
        fn next(&mut self) -> Option<Tok> {
            let t = self.toks.get(self.pos).cloned();
            self.pos += 1;
            t
        }
        fn or(&mut self) -> R<Expr> {
            let mut v = vec![self.and()?];
            while self.peek() == Some(&Tok::Or) {
                self.next();
                v.push(self.and()?);
            }
            Ok(if v.len() == 1 { v.pop().unwrap_or(Expr::True) } else { Expr::Or(v) })
        }
        fn and(&mut self) -> R<Expr> {
            let mut v = vec![self.not()?];
            while self.peek() == Some(&Tok::And) {
                self.next();
                v.push(self.not()?);
            }
            Ok(if v.len() == 1 { v.pop().unwrap_or(Expr::True) } else { Expr::And(v) })
        }
        fn not(&mut self) -> R<Expr> {
            if self.peek() == Some(&Tok::Not) {
                self.next();
                return Ok(Expr::Not(Box::new(self.not()?)));
            }
            self.atom()
        }
        fn atom(&mut self) -> R<Expr> {
            match self.next() {
                Some(Tok::LParen) => {
                    let e = self.or()?;
                    match self.next() {
                        Some(Tok::RParen) => Ok(e),
                        _ => Err(RuleErrorKind::Condition("missing `)`".into())),
                    }
                }
                Some(q @ (Tok::OneOf | Tok::AllOf)) => {
                    let Some(Tok::Ident(pat)) = self.next() else {
                        return Err(RuleErrorKind::Condition(
                            "`of` must be followed by a name pattern or `them`".into(),
                        ));
                    };
                    let matched: Vec<Expr> = if pat == "them" {
                        self.sel.iter().filter(|(n, _)| !n.starts_with('_')).map(|(_, e)| e.clone()).collect()
                    } else {
                        let g = StrMatch::glob(&pat, true).map_err(|e| RuleErrorKind::Condition(e.to_string()))?;
                        self.sel.iter().filter(|(n, _)| g.matches(n)).map(|(_, e)| e.clone()).collect()
                    };
                    if matched.is_empty() {
                        return Err(RuleErrorKind::Condition(format!("`{pat}` matches no search identifier")));
                    }
                    Ok(if q == Tok::OneOf { Expr::Or(matched) } else { Expr::And(matched) })
                }
                Some(Tok::Ident(name)) => self
                    .sel
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, e)| e.clone())
                    .ok_or_else(|| RuleErrorKind::Condition(format!("unknown search identifier `{name}`"))),
                Some(t) => Err(RuleErrorKind::Condition(format!("unexpected {t:?}"))),
                None => Err(RuleErrorKind::Condition("ends too early".into())),
            }
        }
    }

    /// Parse a condition over named selections.
    pub fn parse(text: &str, selections: &[(String, Expr)]) -> R<Expr> {
        let mut p = P { toks: lex(text)?, pos: 0, sel: selections };
        let e = p.or()?;
        if p.pos < p.toks.len() {
            return Err(RuleErrorKind::Condition(format!("unexpected {:?}", p.toks[p.pos])));
        }
        Ok(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use yaml_rust2::YamlLoader;

    fn rule(text: &str) -> R<Rule> {
        let docs = YamlLoader::load_from_str(text).unwrap();
        match parse_document(&docs[0], "test.yml", &Vars::new())? {
            Parsed::Rule(r) => Ok(r),
            Parsed::NotApplicable(w) => panic!("not applicable: {w}"),
        }
    }

    #[test]
    fn selections_modifiers_and_conditions() {
        let r = rule(
            "title: t\nid: x\nlevel: high\ntags: [attack.persistence, attack.t1098.001]\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n  sel:\n    eventSource: iam.amazonaws.com\n    eventName|startswith: [Create, Update]\n  filter_a:\n    userAgent|contains|all: [aws-cli, linux]\n  filter_b:\n    errorCode: null\n  condition: sel and not 1 of filter_*\n",
        )
        .unwrap();
        assert_eq!(r.meta.techniques, ["T1098.001"]);
        assert_eq!(r.meta.tactics, ["persistence"]);
        let RuleKind::Event(Expr::And(parts)) = &r.kind else { panic!("{:?}", r.kind) };
        assert_eq!(parts.len(), 2);
        assert!(matches!(&parts[1], Expr::Not(inner) if matches!(**inner, Expr::Or(ref v) if v.len() == 2)));
    }

    #[test]
    fn legacy_aggregation_and_timeframe() {
        let r = rule("title: t\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n  sel: {errorCode: AccessDenied}\n  timeframe: 10m\n  condition: sel | count(eventName) by userIdentity.arn, sourceIPAddress >= 5\n").unwrap();
        let RuleKind::Aggregate { group_by, window_ms, distinct, op, value, .. } = r.kind else { panic!() };
        assert_eq!(group_by, ["userIdentity.arn", "sourceIPAddress"]);
        assert_eq!((window_ms, distinct.as_deref(), op, value), (Some(600_000), Some("eventName"), CountOp::Gte, 5));
    }

    #[test]
    fn refusals_name_the_field() {
        let e = rule("title: t\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n  sel: {requestParameters.userData|base64offset|contains: curl}\n  condition: sel\n").unwrap_err();
        assert!(e.to_string().contains("requestParameters.userData|base64offset|contains"), "{e}");
        let e = rule("title: t\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n  sel: {eventName: x}\n  condition: sel and nope\n").unwrap_err();
        assert!(e.to_string().contains("unknown search identifier `nope`"), "{e}");
        let e = rule("title: t\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n  sel: {eventName|expand: '%names%'}\n  condition: sel\n").unwrap_err();
        assert_eq!(e, RuleErrorKind::Placeholder(vec!["names".into()]));
    }

    #[test]
    fn every_missing_placeholder_in_one_error() {
        let e = rule("title: t\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n  a: {eventName|expand: '%names%', userIdentity.arn|expand: ['%admins%', 'x%names%']}\n  b:\n    - requestParameters.bucketName|expand: '%buckets%-%region%'\n  condition: a or b\n").unwrap_err();
        assert_eq!(
            e,
            RuleErrorKind::Placeholder(vec!["names".into(), "admins".into(), "buckets".into(), "region".into()])
        );
        assert_eq!(
            e.to_string(),
            "placeholders %names%, %admins%, %buckets%, %region% have no value (give them in --vars)"
        );
        // With some given, only the others are named.
        let docs = YamlLoader::load_from_str("title: t\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n  a: {eventName|expand: '%names%', userIdentity.arn|expand: '%admins%'}\n  condition: a\n").unwrap();
        let vars: Vars = [("names".to_owned(), vec!["GetObject".to_owned()])].into();
        let Err(e) = parse_document(&docs[0], "t.yml", &vars) else { panic!() };
        assert_eq!(e.to_string(), "placeholder %admins% has no value (give it in --vars)");
    }

    #[test]
    fn wildcards_become_the_cheapest_test() {
        assert_eq!(string_match(MatchOp::Eq, "*kali*", false).unwrap().op, MatchOp::Contains);
        assert_eq!(string_match(MatchOp::Eq, "Describe*", false).unwrap().op, MatchOp::StartsWith);
        assert_eq!(string_match(MatchOp::Contains, "a*b", false).unwrap().op, MatchOp::Glob);
        assert_eq!(string_match(MatchOp::Eq, r"a\*b", false).unwrap().text, "a*b");
        assert_eq!(parse_duration("15m"), Some(900_000));
    }

    #[test]
    fn other_logsources_are_not_applicable() {
        let docs = YamlLoader::load_from_str("title: t\nlogsource: {product: windows, category: process_creation}\ndetection: {sel: {Image: x}, condition: sel}\n").unwrap();
        assert!(matches!(parse_document(&docs[0], "w.yml", &Vars::new()), Ok(Parsed::NotApplicable(_))));
    }
}
