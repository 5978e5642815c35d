//! Loading rules: the built-in pack and rule directories, with every refusal counted and named.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use yaml_rust2::YamlLoader;

use crate::error::{RuleError, RuleErrorKind};
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
}

impl std::ops::AddAssign for RuleLoadReport {
    fn add_assign(&mut self, o: Self) {
        self.files += o.files;
        self.loaded += o.loaded;
        self.not_applicable.extend(o.not_applicable);
        self.errors.extend(o.errors);
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
    for (i, doc) in docs.iter().enumerate() {
        if doc.is_null() {
            continue;
        }
        let line = lines.get(i).copied().unwrap_or(1);
        let name = doc["title"].as_str().or(doc["id"].as_str()).map(str::to_owned);
        match parse_document(doc, source, vars) {
            Ok(Parsed::Rule(r)) => {
                rules.push(r);
                report.loaded += 1;
            }
            Ok(Parsed::NotApplicable(what)) => report.not_applicable.push((format!("{source}:{line}"), what)),
            Err(kind) => report.errors.push(RuleError { path: source.into(), line, rule: name, kind }),
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
