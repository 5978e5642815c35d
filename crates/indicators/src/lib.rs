//! # trailscope-indicators
//!
//! Detection rules, compiled against a [`Store`] and run over its columns, producing
//! [`Finding`]s.
//!
//! Rules are written in Sigma (YAML, `logsource: product: aws, service: cloudtrail`): the
//! built-in pack is compiled into the binary, examiners add directories with
//! [`RuleSet::load`]. A rule's condition becomes an [`Expr`]; compiling it against a store
//! ([`Predicate::compile`]) turns each test on a dictionary-encoded column into a bitmap of
//! accepted dictionary ids — string work once per *distinct value*, not per event — and keeps
//! tests on nested payload paths for last, so the payload is parsed only for events that passed
//! every column test. A literal that never occurs in the evidence compiles to
//! [`Predicate::Never`].
//!
//! [`RuleSet::run`] evaluates rules in parallel: event rules, legacy aggregations
//! (`| count() by ... > N` with `timeframe`) and Sigma correlations (`event_count`,
//! `value_count`, `temporal`, `temporal_ordered`).
#![deny(missing_docs)]

pub mod baseline;
mod builtin;
mod engine;
mod error;
mod expr;
mod gate;
pub mod ioc;
mod load;
mod predicate;
mod rule;
pub mod sigma;
pub mod useragent;

use std::path::PathBuf;

use trailscope_store::{Field, Store};

pub use builtin::{OFFENSIVE_AGENTS, SCANNER_AGENTS};
pub use engine::path_text;
pub use error::{RuleError, RuleErrorKind, RuleWarning, RuleWarningKind};
pub use expr::{
    and, contains, contains_ignore_case, ends_with, eq, not, null, or, starts_with, Expr, MatchOp, NumOp, StrMatch,
    Test,
};
pub use gate::{Gate, Verdict};
pub use load::{check_record_path, rule_files, RuleLoadReport};
pub use predicate::{base_event_name, eval_all, value_passes, values_at, Predicate, SymSet};
pub use rule::{CorrelationKind, CountOp, Finding, Rule, RuleKind, RuleMeta, Severity};
pub use sigma::Vars;

/// The built-in rule files, `(name, text)`, for hashing what ran.
pub fn builtin_files() -> &'static [(&'static str, &'static str)] {
    builtin::FILES
}

/// A loaded, linked set of rules.
#[derive(Clone, Debug, Default)]
pub struct RuleSet {
    /// The rules, in load order (built-in first).
    pub rules: Vec<Rule>,
}

impl RuleSet {
    /// The built-in pack alone.
    ///
    /// # Panics
    /// If a built-in rule does not load (a build-time mistake the test suite catches).
    pub fn builtin() -> Self {
        let (set, report) = Self::load(true, &[], &Vars::new());
        assert!(report.errors.is_empty(), "built-in rules must load: {:?}", report.errors);
        set
    }

    /// Load the built-in pack (when `builtin`) and every rule file under `paths`.
    /// Refused rules are reported, never silently dropped.
    pub fn load(builtin: bool, paths: &[PathBuf], vars: &Vars) -> (Self, RuleLoadReport) {
        let mut rules = Vec::new();
        let mut report = RuleLoadReport::default();
        if builtin {
            for (name, text) in builtin::FILES {
                load::parse_text(text, &format!("builtin:{name}"), vars, &mut rules, &mut report);
            }
        }
        load::load_paths(paths, vars, &mut rules, &mut report);
        load::link(&mut rules, &mut report);
        (RuleSet { rules }, report)
    }

    /// Load the rules of one text (a Sigma YAML document or several), named `source` in errors:
    /// what the loader does for each file, without the file.
    pub fn from_text(text: &str, source: &str, vars: &Vars) -> (Self, RuleLoadReport) {
        let mut rules = Vec::new();
        let mut report = RuleLoadReport::default();
        load::parse_text(text, source, vars, &mut rules, &mut report);
        load::link(&mut rules, &mut report);
        (RuleSet { rules }, report)
    }

    /// Each rule's compiled form against a store, one line per rule (`id: explanation`): shows
    /// which tests became dictionary-id sets, which run on payloads, and which rules can never
    /// match this evidence because a literal does not occur in it.
    pub fn explain(&self, store: &Store) -> Vec<String> {
        self.rules
            .iter()
            .map(|r| match &r.kind {
                RuleKind::Event(e) | RuleKind::Aggregate { expr: e, .. } => {
                    format!("{}: {}", r.meta.id, Predicate::compile(e, store).explain(store))
                }
                RuleKind::Correlation { kind, rules, .. } => {
                    format!("{}: {kind:?} over {}", r.meta.id, rules.join(", "))
                }
            })
            .collect()
    }

    /// Keep only the rules `wanted` names (by id, correlation name, or title, case-insensitive),
    /// with the rules their correlations are built on (kept silent unless wanted too), so that
    /// one rule of a large pack can be run alone. Returns the names that matched no rule.
    pub fn only(&mut self, wanted: &[String]) -> Vec<String> {
        let hit = |r: &Rule, w: &str| {
            r.meta.id.eq_ignore_ascii_case(w)
                || r.meta.name.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(w))
                || r.meta.title.eq_ignore_ascii_case(w)
        };
        let unknown: Vec<String> = wanted.iter().filter(|w| !self.rules.iter().any(|r| hit(r, w))).cloned().collect();
        let chosen: Vec<bool> = self.rules.iter().map(|r| wanted.iter().any(|w| hit(r, w))).collect();
        let mut needed = chosen.clone();
        for (i, r) in self.rules.iter().enumerate() {
            if let (true, RuleKind::Correlation { rules: refs, .. }) = (chosen[i], &r.kind) {
                for (j, base) in self.rules.iter().enumerate() {
                    if refs.iter().any(|n| *n == base.meta.id || base.meta.name.as_deref() == Some(n)) {
                        needed[j] = true;
                    }
                }
            }
        }
        let mut i = 0;
        self.rules.retain_mut(|r| {
            let keep = needed[i];
            // A base rule pulled in only for its correlation does not report on its own.
            r.generate &= chosen[i];
            i += 1;
            keep
        });
        unknown
    }

    /// Run every rule over the store. Findings are ordered by first event, then rule id, so the
    /// output does not depend on thread scheduling.
    pub fn run(&self, store: &Store) -> Vec<Finding> {
        engine::run(&self.rules, store)
    }
}

/// Read a `--vars` file: YAML or JSON mapping each placeholder name to a value or a list.
///
/// # Errors
/// When the file cannot be read or is not such a mapping.
pub fn load_vars(path: &std::path::Path) -> Result<Vars, RuleError> {
    let err = |kind| RuleError { path: path.display().to_string(), line: 0, rule: None, kind };
    let text = std::fs::read_to_string(path).map_err(|e| err(RuleErrorKind::Io(e.to_string())))?;
    let docs = yaml_rust2::YamlLoader::load_from_str(&text).map_err(|e| err(RuleErrorKind::Yaml(e.to_string())))?;
    let mut vars = Vars::new();
    let Some(yaml_rust2::Yaml::Hash(h)) = docs.first() else {
        return Err(err(RuleErrorKind::Missing("placeholder mapping")));
    };
    for (k, v) in h {
        let Some(name) = k.as_str() else { continue };
        let values = match v {
            yaml_rust2::Yaml::Array(a) => a
                .iter()
                .filter_map(|x| x.as_str().map(str::to_owned).or_else(|| x.as_i64().map(|i| i.to_string())))
                .collect(),
            x => x.as_str().map(str::to_owned).or_else(|| x.as_i64().map(|i| i.to_string())).into_iter().collect(),
        };
        vars.insert(name.to_owned(), values);
    }
    Ok(vars)
}

/// The distinct non-null values of a column over some rows, sorted.
pub fn distinct(store: &Store, field: Field, rows: impl Iterator<Item = usize>) -> Vec<&str> {
    let mut seen = std::collections::BTreeSet::new();
    for r in rows {
        if let Some(s) = store.dict(field).resolve(store.column(field).get(r)) {
            seen.insert(s);
        }
    }
    seen.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_keeps_the_named_rules_and_what_their_correlations_need() {
        let mut set = RuleSet::builtin();
        let unknown = set.only(&[
            "TS-RECON-THEN-ESCALATION".to_owned(),
            "Root user signed in to the console without MFA".to_owned(),
            "no-such-rule".to_owned(),
        ]);
        assert_eq!(unknown, ["no-such-rule"]);
        let ids: Vec<(&str, bool)> = set.rules.iter().map(|r| (r.meta.id.as_str(), r.generate)).collect();
        assert_eq!(ids.len(), 4, "{ids:?}");
        assert!(ids.contains(&("ts-recon-then-escalation", true)), "{ids:?}");
        assert!(ids.contains(&("ts-root-console-login-without-mfa", true)), "{ids:?}");
        // The correlation's bases run, silently.
        assert!(ids.contains(&("ts-base-get-caller-identity", false)), "{ids:?}");
        assert!(ids.contains(&("ts-base-iam-policy-change", false)), "{ids:?}");
    }
}
