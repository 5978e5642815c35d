//! Loading rules: the built-in pack and rule directories, with every refusal counted and named.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use yaml_rust2::YamlLoader;

use trailscope_store::Field;

use crate::error::{RuleError, RuleErrorKind, RuleWarning, RuleWarningKind};
use crate::expr::{Expr, MatchOp, Test};
use crate::predicate::base_event_name;
use crate::rule::{Rule, RuleKind};
use crate::sigma::{parse_document, Parsed, Vars};

/// What loading read, kept and refused.
#[derive(Debug, Default, Clone)]
pub struct RuleLoadReport {
    /// Rule files read.
    pub files: usize,
    /// Rules loaded.
    pub loaded: usize,
    /// Documents for other log sources (skipped, by log source).
    pub not_applicable: Vec<(String, String)>,
    /// Rules refused.
    pub errors: Vec<RuleError>,
    /// Rules loaded that probably do not do what was meant (unknown fields, ANDs that never
    /// match): reported, never refused.
    pub warnings: Vec<RuleWarning>,
}

impl std::ops::AddAssign for RuleLoadReport {
    fn add_assign(&mut self, o: Self) {
        self.files += o.files;
        self.loaded += o.loaded;
        self.not_applicable.extend(o.not_applicable);
        self.errors.extend(o.errors);
        self.warnings.extend(o.warnings);
    }
}

/// Line (1-based) where each YAML document of `text` starts.
fn document_lines(text: &str) -> Vec<usize> {
    let mut starts = vec![1];
    for (i, line) in text.lines().enumerate() {
        if line.trim_end() == "---" || line.starts_with("--- ") {
            if starts.len() == 1 && text.lines().take(i).all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
            {
                starts[0] = i + 2;
            } else {
                starts.push(i + 2);
            }
        }
    }
    starts
}

/// Parse every document of one rule file's text.
pub fn parse_text(text: &str, source: &str, vars: &Vars, rules: &mut Vec<Rule>, report: &mut RuleLoadReport) {
    report.files += 1;
    let docs = match YamlLoader::load_from_str(text) {
        Ok(d) => d,
        Err(e) => {
            report.errors.push(RuleError {
                path: source.into(),
                line: e.marker().line(),
                rule: None,
                kind: RuleErrorKind::Yaml(e.info().to_owned()),
            });
            return;
        }
    };
    let lines = document_lines(text);
    let text_lines: Vec<&str> = text.lines().collect();
    for (i, doc) in docs.iter().enumerate() {
        if doc.is_null() {
            continue;
        }
        let line = lines.get(i).copied().unwrap_or(1);
        let end = lines.get(i + 1).map_or(text_lines.len() + 1, |next| next - 1);
        let at = Lines { text: &text_lines, start: line, end };
        let name = doc["title"].as_str().or(doc["id"].as_str()).map(str::to_owned);
        match parse_document(doc, source, vars) {
            Ok(Parsed::Rule(r)) => {
                lint(&r, &at, report);
                rules.push(r);
                report.loaded += 1;
            }
            Ok(Parsed::NotApplicable(what)) => report.not_applicable.push((format!("{source}:{line}"), what)),
            Err(kind) => {
                let line = error_line(&kind, &at);
                report.errors.push(RuleError { path: source.into(), line, rule: name, kind });
            }
        }
    }
}

/// One YAML document's lines, for pointing at the offending line. yaml-rust2's loader keeps
/// no position per node, so keys and values are found again in the text.
struct Lines<'a> {
    text: &'a [&'a str],
    /// 1-based first line of the document.
    start: usize,
    /// 1-based line after its last.
    end: usize,
}

impl Lines<'_> {
    fn numbered(&self) -> impl Iterator<Item = (usize, &str)> {
        let (from, to) = (self.start.saturating_sub(1), self.end.saturating_sub(1).min(self.text.len()));
        self.text.get(from..to).unwrap_or_default().iter().enumerate().map(move |(i, l)| (self.start + i, *l))
    }

    /// Lines holding `key` as a mapping key (`key:` or `key|...`): block style first (the line
    /// starts with it), then flow style (`{key: ...}`) anywhere on a line.
    fn key_lines(&self, key: &str) -> Vec<usize> {
        let block: Vec<usize> = self
            .numbered()
            .filter(|(_, l)| {
                let t = l.trim_start().trim_start_matches("- ").trim_start_matches(['\'', '"']);
                t.strip_prefix(key).is_some_and(|rest| rest.starts_with([':', '|', '\'', '"']))
            })
            .map(|(n, _)| n)
            .collect();
        if !block.is_empty() {
            return block;
        }
        self.numbered()
            .filter(|(_, l)| {
                l.match_indices(key).any(|(i, _)| {
                    let before = l[..i].chars().next_back();
                    let rest = &l[i + key.len()..];
                    before.is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '.'))
                        && rest.starts_with([':', '|', '\'', '"'])
                })
            })
            .map(|(n, _)| n)
            .collect()
    }

    /// The line of `key`, else of the word anywhere (`count() by key`), else the document start.
    fn key(&self, key: &str) -> usize {
        self.key_lines(key).first().copied().or_else(|| self.word_from(self.start, key)).unwrap_or(self.start)
    }

    /// The line of a detection field or of `condition`: searched from `detection:` (or
    /// `correlation:`) on, so that a field named like a metadata key (`status`) is not found
    /// in the metadata.
    fn field(&self, key: &str) -> usize {
        let section =
            self.numbered().find(|(_, l)| l.starts_with("detection:") || l.starts_with("correlation:")).map(|(n, _)| n);
        match section {
            Some(n) if n > self.start => Lines { text: self.text, start: n, end: self.end }.key(key),
            _ => self.key(key),
        }
    }

    /// The first line at or after `from` holding `word` as a whole token.
    fn word_from(&self, from: usize, word: &str) -> Option<usize> {
        self.numbered().filter(|(n, _)| *n >= from).find(|(_, l)| has_token(l, word)).map(|(n, _)| n)
    }
}

fn has_token(line: &str, word: &str) -> bool {
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    !word.is_empty()
        && line.match_indices(word).any(|(i, _)| {
            !line[..i].chars().next_back().is_some_and(ident)
                && !line[i + word.len()..].chars().next().is_some_and(ident)
        })
}

/// Where a refusal's cause is written: the field, the condition, the placeholder, the key.
fn error_line(kind: &RuleErrorKind, at: &Lines) -> usize {
    match kind {
        RuleErrorKind::Unsupported { field: Some(f), .. } | RuleErrorKind::BadValue { field: f, .. } => at.field(f),
        RuleErrorKind::Condition(_) => at.field("condition"),
        // Refusals without a field come from the condition (`near`, aggregations) or from the
        // correlation block; their reason says which.
        RuleErrorKind::Unsupported { field: None, what } if what.contains("correlation") => at.key("correlation"),
        RuleErrorKind::Unsupported { field: None, what } if what.contains("aggregation") || what.contains("`near`") => {
            at.field("condition")
        }
        RuleErrorKind::Placeholder(names) => {
            names.first().and_then(|n| at.word_from(at.start, &format!("%{n}%"))).unwrap_or(at.start)
        }
        RuleErrorKind::Missing(what) => at.key(what.rsplit('.').next().unwrap_or(what)),
        _ => at.start,
    }
}

/// Top-level keys of a CloudTrail record (AWS's "CloudTrail record contents", management, data,
/// network activity and Insights events). The `lookup-events` wrapper (`CloudTrailEvent`,
/// `Username`, ...) is not a record.
const RECORD_KEYS: &[&str] = &[
    "eventVersion",
    "userIdentity",
    "eventTime",
    "eventSource",
    "eventName",
    "awsRegion",
    "sourceIPAddress",
    "userAgent",
    "errorCode",
    "errorMessage",
    "requestParameters",
    "responseElements",
    "additionalEventData",
    "requestID",
    "eventID",
    "readOnly",
    "resources",
    "eventType",
    "apiVersion",
    "managementEvent",
    "recipientAccountId",
    "sharedEventID",
    "vpcEndpointId",
    "vpcEndpointAccountId",
    "eventCategory",
    "tlsDetails",
    "sessionCredentialFromConsole",
    "edgeDeviceDetails",
    "insightDetails",
    "serviceEventDetails",
    "addendum",
    "eventContext",
];

/// Keys directly under `userIdentity` (AWS's "CloudTrail userIdentity element").
const IDENTITY_KEYS: &[&str] = &[
    "type",
    "principalId",
    "arn",
    "accountId",
    "accessKeyId",
    "userName",
    "sessionContext",
    "invokedBy",
    "identityProvider",
    "credentialId",
    "onBehalfOf",
    "inScopeOf",
];

/// Keys directly under `tlsDetails`.
const TLS_KEYS: &[&str] = &["tlsVersion", "cipherSuite", "clientProvidedHostHeader"];

/// Can `path` occur in a CloudTrail record? `Err` with the likely intended spelling (a
/// case-insensitive match) when it cannot: the query language refuses such paths rather than
/// silently matching nothing.
pub fn check_record_path(path: &str) -> Result<(), Option<String>> {
    match unknown_field(path) {
        Some(RuleWarningKind::UnknownField { suggestion, .. }) => Err(suggestion),
        _ => Ok(()),
    }
}

/// Why `path` cannot occur in a CloudTrail record, as a warning kind; `None` when it can (or
/// when its keys are service-defined, as under `requestParameters`).
fn unknown_field(path: &str) -> Option<RuleWarningKind> {
    let mut seg = path.split('.');
    let first = seg.next().unwrap_or_default();
    let known = |keys: &[&str], k: &str| keys.contains(&k);
    let like = |keys: &[&str], k: &str| keys.iter().find(|c| c.eq_ignore_ascii_case(k)).map(|c| c.to_string());
    let (keys, key, prefix) = if !known(RECORD_KEYS, first) {
        (RECORD_KEYS, first, String::new())
    } else {
        let sub = match first {
            "userIdentity" => IDENTITY_KEYS,
            "tlsDetails" => TLS_KEYS,
            _ => return None,
        };
        match seg.next() {
            Some(k) if !known(sub, k) => (sub, k, format!("{first}.")),
            _ => return None,
        }
    };
    let rest: String = path[prefix.len() + key.len()..].to_owned();
    let suggestion = like(keys, key).map(|k| format!("{prefix}{k}{rest}"));
    Some(RuleWarningKind::UnknownField { field: path.to_owned(), suggestion })
}

/// Paths holding one scalar per record, so that two equality tests on them in one AND must
/// agree. Payload paths may cross arrays, where each test can hold on a different element.
fn single_valued(path: &str) -> bool {
    Field::from_path(path).is_some()
        || matches!(
            path,
            "eventTime"
                | "readOnly"
                | "managementEvent"
                | "apiVersion"
                | "vpcEndpointAccountId"
                | "sessionCredentialFromConsole"
                | "userIdentity.identityProvider"
                | "userIdentity.credentialId"
                | "userIdentity.sessionContext.sourceIdentity"
                | "userIdentity.sessionContext.attributes.mfaAuthenticated"
                | "userIdentity.sessionContext.attributes.creationDate"
                | "userIdentity.sessionContext.sessionIssuer.type"
                | "userIdentity.sessionContext.sessionIssuer.principalId"
                | "userIdentity.sessionContext.sessionIssuer.accountId"
                | "userIdentity.sessionContext.sessionIssuer.userName"
        )
}

/// What one AND member requires of a single-valued field, when it can be decided exactly.
#[derive(Debug, Clone)]
enum Need {
    /// Null or absent.
    Null,
    /// Equal to one of these `(text, cased)` (no wildcard, no modifier).
    OneOf(Vec<(String, bool)>),
}

impl Need {
    fn of(test: &Test) -> Option<Need> {
        match test {
            Test::Null => Some(Need::Null),
            Test::Str(v) if v.iter().all(|m| m.op == MatchOp::Eq) => {
                Some(Need::OneOf(v.iter().map(|m| (m.text.clone(), m.cased)).collect()))
            }
            _ => None,
        }
    }

    fn show(&self) -> String {
        match self {
            Need::Null => "null".into(),
            Need::OneOf(v) if v.len() == 1 => format!("{:?}", v[0].0),
            Need::OneOf(v) => {
                format!("any of [{}]", v.iter().map(|(t, _)| format!("{t:?}")).collect::<Vec<_>>().join(", "))
            }
        }
    }

    /// Can one value satisfy both? `eventName` also matches without a Lambda API version.
    fn compatible(&self, o: &Need, path: &str) -> bool {
        let same = |a: &(String, bool), b: &(String, bool)| {
            let eq = |x: &str, y: &str| {
                if a.1 && b.1 {
                    x == y
                } else {
                    x.to_lowercase() == y.to_lowercase()
                }
            };
            eq(&a.0, &b.0)
                || (path == "eventName"
                    && (eq(base_event_name(&a.0), &b.0)
                        || eq(&a.0, base_event_name(&b.0))
                        || eq(base_event_name(&a.0), base_event_name(&b.0))))
        };
        match (self, o) {
            (Need::Null, Need::Null) => true,
            (Need::OneOf(a), Need::OneOf(b)) => a.iter().any(|x| b.iter().any(|y| same(x, y))),
            _ => false,
        }
    }
}

fn flatten_and<'a>(v: &'a [Expr], out: &mut Vec<&'a Expr>) {
    for e in v {
        match e {
            Expr::And(inner) => flatten_and(inner, out),
            e => out.push(e),
        }
    }
}

/// `(field, first, second)` for every AND that requires one single-valued field to be two
/// incompatible things.
fn contradictions(e: &Expr, out: &mut Vec<(String, Need, Need)>) {
    match e {
        Expr::And(v) => {
            let mut members = Vec::new();
            flatten_and(v, &mut members);
            let mut seen: Vec<(&str, Need)> = Vec::new();
            let mut reported: Vec<&str> = Vec::new();
            for m in &members {
                let Expr::Field { path, test } = m else { continue };
                if !single_valued(path) || reported.contains(&path.as_str()) {
                    continue;
                }
                let Some(need) = Need::of(test) else { continue };
                if let Some((_, first)) = seen.iter().find(|(p, n)| p == path && !n.compatible(&need, path)) {
                    out.push((path.clone(), first.clone(), need));
                    reported.push(path);
                } else {
                    seen.push((path, need));
                }
            }
            members.iter().for_each(|m| contradictions(m, out));
        }
        Expr::Or(v) => v.iter().for_each(|m| contradictions(m, out)),
        Expr::Not(inner) => contradictions(inner, out),
        _ => {}
    }
}

fn field_paths<'a>(e: &'a Expr, out: &mut Vec<&'a str>) {
    match e {
        Expr::Field { path, test } => {
            out.push(path);
            if let Test::FieldRef(other) = test {
                out.push(other);
            }
        }
        Expr::And(v) | Expr::Or(v) => v.iter().for_each(|m| field_paths(m, out)),
        Expr::Not(inner) => field_paths(inner, out),
        Expr::Keyword(_) | Expr::True => {}
    }
}

/// Warnings for a rule that loaded: fields CloudTrail never has, ANDs that never match.
fn lint(rule: &Rule, at: &Lines, report: &mut RuleLoadReport) {
    let (expr, mut paths): (Option<&Expr>, Vec<&str>) = match &rule.kind {
        RuleKind::Event(e) => (Some(e), Vec::new()),
        RuleKind::Aggregate { expr, group_by, distinct, .. } => {
            (Some(expr), group_by.iter().map(String::as_str).chain(distinct.as_deref()).collect())
        }
        RuleKind::Correlation { group_by, field, .. } => {
            (None, group_by.iter().map(String::as_str).chain(field.as_deref()).collect())
        }
    };
    if let Some(e) = expr {
        field_paths(e, &mut paths);
    }
    let mut warnings = Vec::new();
    for p in paths {
        if let Some(kind) = unknown_field(p) {
            warnings.push((at.field(p), kind));
        }
    }
    let mut found = Vec::new();
    if let Some(e) = expr {
        contradictions(e, &mut found);
    }
    for (field, first, second) in found {
        // Point at the second requirement: the line (at or after the field's first mention)
        // that holds its value.
        let key_at = at.field(&field);
        let line = match &second {
            Need::OneOf(v) => at.word_from(key_at, &v[0].0),
            Need::Null => at.word_from(key_at, "null"),
        }
        .unwrap_or(key_at);
        warnings.push((line, RuleWarningKind::NeverMatches { field, first: first.show(), second: second.show() }));
    }
    warnings.sort_by_key(|(line, _)| *line);
    for (line, kind) in warnings {
        let w = RuleWarning { path: rule.meta.source.clone(), line, rule: rule.meta.id.clone(), kind };
        if !report.warnings.contains(&w) {
            report.warnings.push(w);
        }
    }
}

/// Rule files under a directory (or the file itself), sorted: `.yml` and `.yaml`.
pub fn rule_files(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out = Vec::new();
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let p = entry?.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "yml" || e == "yaml") {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Load rule files and directories.
pub fn load_paths(paths: &[PathBuf], vars: &Vars, rules: &mut Vec<Rule>, report: &mut RuleLoadReport) {
    for root in paths {
        let files = match rule_files(root) {
            Ok(f) => f,
            Err(e) => {
                report.errors.push(RuleError {
                    path: root.display().to_string(),
                    line: 0,
                    rule: None,
                    kind: RuleErrorKind::Io(e.to_string()),
                });
                continue;
            }
        };
        for f in files {
            match std::fs::read_to_string(&f) {
                Ok(text) => parse_text(&text, &f.display().to_string(), vars, rules, report),
                Err(e) => report.errors.push(RuleError {
                    path: f.display().to_string(),
                    line: 0,
                    rule: None,
                    kind: RuleErrorKind::Io(e.to_string()),
                }),
            }
        }
    }
}

/// Check cross-rule facts: unique ids, correlation references resolve; switch off findings of
/// rules that only feed a correlation (`generate: false`). Refused rules are removed.
pub fn link(rules: &mut Vec<Rule>, report: &mut RuleLoadReport) {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut keep = vec![true; rules.len()];
    for (i, r) in rules.iter().enumerate() {
        if seen.insert(r.meta.id.clone(), i).is_some() {
            keep[i] = false;
            report.errors.push(RuleError {
                path: r.meta.source.clone(),
                line: 0,
                rule: Some(r.meta.title.clone()),
                kind: RuleErrorKind::DuplicateId(r.meta.id.clone()),
            });
        }
    }
    let find = |name: &str, rules: &[Rule]| {
        rules.iter().position(|r| r.meta.id == name || r.meta.name.as_deref() == Some(name))
    };
    let mut silence = Vec::new();
    for (i, r) in rules.iter().enumerate() {
        if let RuleKind::Correlation { rules: refs, base_generate, .. } = &r.kind {
            for name in refs {
                match find(name, rules) {
                    Some(j) if matches!(rules[j].kind, RuleKind::Event(_)) => {
                        if !base_generate {
                            silence.push(j);
                        }
                    }
                    Some(_) => {
                        keep[i] = false;
                        report.errors.push(RuleError {
                            path: r.meta.source.clone(),
                            line: 0,
                            rule: Some(r.meta.title.clone()),
                            kind: RuleErrorKind::Unsupported {
                                field: None,
                                what: format!(
                                    "correlation over `{name}`, which is itself an aggregation or correlation"
                                ),
                            },
                        });
                    }
                    None => {
                        keep[i] = false;
                        report.errors.push(RuleError {
                            path: r.meta.source.clone(),
                            line: 0,
                            rule: Some(r.meta.title.clone()),
                            kind: RuleErrorKind::UnknownRule(name.clone()),
                        });
                    }
                }
            }
        }
    }
    for j in silence {
        rules[j].generate = false;
    }
    let before = rules.len();
    let mut it = keep.iter();
    rules.retain(|_| *it.next().unwrap_or(&true));
    report.loaded -= before - rules.len();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_start_lines() {
        assert_eq!(document_lines("a: 1\n---\nb: 2\n"), vec![1, 3]);
        assert_eq!(document_lines("# c\n---\na: 1\n---\nb: 2\n"), vec![3, 5]);
    }

    fn load(text: &str) -> (Vec<Rule>, RuleLoadReport) {
        let (mut rules, mut report) = (Vec::new(), RuleLoadReport::default());
        parse_text(text, "w.yml", &Vars::new(), &mut rules, &mut report);
        (rules, report)
    }

    #[test]
    fn fields_cloudtrail_never_has_are_warnings_at_their_line() {
        let text = "title: Fields\nid: f1\nstatus: test\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n  sel:\n    eventName: ConsoleLogin\n    src_country|contains: RU\n    status: success\n    user.name: admin\n    tlsDetails.version: TLSv1\n    EventSource: signin.amazonaws.com\n  words: [kali]\n  condition: sel and words | count() by ClientIP > 3\n";
        let (rules, report) = load(text);
        assert_eq!(rules.len(), 1, "warnings do not refuse: {:?}", report.errors);
        let got: Vec<String> = report.warnings.iter().map(ToString::to_string).collect();
        assert_eq!(
            got,
            [
                "w.yml:8: rule f1: field \"src_country\" never occurs in CloudTrail",
                "w.yml:9: rule f1: field \"status\" never occurs in CloudTrail",
                "w.yml:10: rule f1: field \"user.name\" never occurs in CloudTrail",
                "w.yml:11: rule f1: field \"tlsDetails.version\" never occurs in CloudTrail",
                "w.yml:12: rule f1: field \"EventSource\" never occurs in CloudTrail (did you mean \"eventSource\"?)",
                "w.yml:14: rule f1: field \"ClientIP\" never occurs in CloudTrail",
            ]
        );
        assert!(
            matches!(&report.warnings[0].kind, RuleWarningKind::UnknownField { field, suggestion: None } if field == "src_country")
        );
    }

    #[test]
    fn ands_that_never_match_are_warnings() {
        let text = "title: Never\nid: n1\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n  create:\n    eventName: CreateUser\n  delete:\n    eventName: DeleteUser\n  ok_null: {errorCode: null}\n  failed:\n    errorCode: AccessDenied\n  condition: (create and delete) or (ok_null and failed)\n---\ntitle: Fine\nid: n2\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n  a: {eventName: [CreateUser, DeleteUser], eventSource: iam.amazonaws.com}\n  b: {eventName: deleteuser, userAgent|contains: x}\n  c: {eventName|startswith: Create}\n  lambda: {eventName: ListFunctions20150331}\n  p1: {requestParameters.items.name: a}\n  p2: {requestParameters.items.name: b}\n  condition: (a and b and not c) or (lambda and 1 of b) or (p1 and p2) or (c and a)\n";
        let (rules, report) = load(text);
        assert_eq!(rules.len(), 2);
        let got: Vec<String> = report.warnings.iter().map(ToString::to_string).collect();
        assert_eq!(
            got,
            [
                "w.yml:8: rule n1: field \"eventName\" must be both \"CreateUser\" and \"DeleteUser\": this AND never matches",
                "w.yml:11: rule n1: field \"errorCode\" must be both null and \"AccessDenied\": this AND never matches",
            ]
        );
        assert!(
            matches!(&report.warnings[0].kind, RuleWarningKind::NeverMatches { field, .. } if field == "eventName")
        );
        // `|all` over a single-valued field is the same mistake.
        let (_, report) = load("title: All\nid: a1\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n  sel:\n    eventName|all:\n      - CreateUser\n      - DeleteUser\n  condition: sel\n");
        assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
        assert_eq!(report.warnings[0].line, 8);
    }

    #[test]
    fn refusals_point_at_the_offending_line() {
        // The bad modifier is on the rule's 9th line (the file's 13th).
        let text = "title: Fine\nlogsource: {product: aws, service: cloudtrail}\ndetection: {sel: {eventName: x}, condition: sel}\n---\ntitle: Encoded\nid: e1\nstatus: test\ndescription: a rule\nlevel: high\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n  sel:\n    requestParameters.userData|base64offset|contains: curl\n  condition: sel\n---\ntitle: Cond\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n  sel: {eventName: x}\n  condition: sel and (\n---\ntitle: Near\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n  sel: {eventName: x}\n  condition: sel | near sel\n---\ntitle: Vars\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n  sel:\n    eventName: x\n    userIdentity.arn|expand: '%admins%'\n  condition: sel\n---\ntitle: Level\nlogsource: {product: aws, service: cloudtrail}\nlevel: severe\n";
        let (_, report) = load(text);
        let lines: Vec<(usize, &str)> =
            report.errors.iter().map(|e| (e.line, e.rule.as_deref().unwrap_or_default())).collect();
        assert_eq!(lines, [(13, "Encoded"), (20, "Cond"), (26, "Near"), (33, "Vars"), (38, "Level")]);
    }

    #[test]
    fn correlation_links_and_silences_its_base_rule() {
        let text = "title: base\nname: base_rule\nlogsource: {product: aws, service: cloudtrail}\ndetection: {sel: {eventName: GetObject}, condition: sel}\n---\ntitle: corr\ncorrelation:\n  type: event_count\n  rules: base_rule\n  group-by: [userIdentity.arn]\n  timespan: 5m\n  condition: {gte: 3}\n---\ntitle: broken\ncorrelation: {type: temporal, rules: [nope], timespan: 1m}\n";
        let (mut rules, mut report) = (Vec::new(), RuleLoadReport::default());
        parse_text(text, "c.yml", &Vars::new(), &mut rules, &mut report);
        link(&mut rules, &mut report);
        assert_eq!(rules.len(), 2);
        assert!(!rules[0].generate && rules[1].generate);
        assert_eq!(report.errors.len(), 1);
        assert!(report.errors[0].to_string().contains("unknown rule `nope`"), "{}", report.errors[0]);
    }
}
