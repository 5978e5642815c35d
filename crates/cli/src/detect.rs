//! Rules, IOCs and baselines from the command line to findings.

use anyhow::{bail, Context};
use trailscope_indicators::baseline::{self, BaselineOptions};
use trailscope_indicators::ioc::IocSet;
use trailscope_indicators::sigma::parse_duration;
use trailscope_indicators::{load_vars, Finding, RuleLoadReport, RuleSet, Vars};
use trailscope_integrity::sha256_hex;
use trailscope_store::Store;

use crate::args::{InputArgs, RuleArgs};

fn rule_set_hash(args: &RuleArgs, history: Option<&History>) -> anyhow::Result<String> {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    let mut feed = |label: &str, bytes: &[u8]| {
        h.update(label.as_bytes());
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    if !args.no_builtin {
        for (name, text) in trailscope_indicators::builtin_files() {
            feed(name, text.as_bytes());
        }
    }
    let mut files = Vec::new();
    for p in &args.rules {
        files.extend(trailscope_indicators::rule_files(p).with_context(|| format!("reading {}", p.display()))?);
    }
    files.extend(args.ioc.iter().cloned());
    files.extend(args.vars.iter().cloned());
    files.sort();
    for f in files {
        let bytes = std::fs::read(&f).with_context(|| format!("reading {}", f.display()))?;
        feed(&f.display().to_string(), &bytes);
    }
    feed("baseline", format!("{}:{:?}", args.no_baseline, args.learn).as_bytes());
    // `--rule` decides which findings exist as much as the rule files do.
    if !args.rule.is_empty() {
        feed("only", args.rule.join("\n").as_bytes());
    }
    // The dump the baselines learned from decides findings as much as a rule file does.
    if let Some(h) = history {
        feed("baseline-dump", h.manifest_sha256.as_bytes());
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// An earlier dump the baselines learn from (`--baseline`).
pub struct History {
    /// Its events and what they were made from (an ingest, or a case file).
    pub evidence: crate::evidence::Evidence,
    /// The paths as given, for the report.
    pub source: String,
    /// SHA-256 of its evidence manifest.
    pub manifest_sha256: String,
}

impl History {
    /// Ingest the `--baseline` paths with the evidence's reading options.
    fn load(paths: &[std::path::PathBuf], input: &InputArgs) -> anyhow::Result<Self> {
        let source = paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ");
        let input = InputArgs { paths: paths.to_vec(), ..input.clone() };
        let evidence = crate::evidence::load(&input).with_context(|| format!("--baseline {source}"))?;
        if evidence.store.is_empty() {
            bail!("--baseline {source}: no CloudTrail event to learn from");
        }
        let manifest_sha256 = sha256_hex(&evidence.manifest.to_json());
        Ok(History { evidence, source, manifest_sha256 })
    }

    /// First and last event (epoch ms).
    pub fn span(&self) -> (i64, i64) {
        let t = self.evidence.store.times();
        (t[0], t[t.len() - 1])
    }
}

/// Everything that detects, loaded once.
pub struct Detectors {
    /// Sigma rules (built-in and --rules).
    pub rules: RuleSet,
    /// What loading refused.
    pub report: RuleLoadReport,
    /// IOC lists.
    pub iocs: IocSet,
    /// Baselines, unless switched off.
    pub baseline: Option<BaselineOptions>,
    /// The dump baselines learn from, instead of the evidence's first part.
    pub history: Option<History>,
    /// SHA-256 over everything that decides findings: built-in rule texts (when used), rule,
    /// IOC and variables files (in path order), the baseline settings, `--rule` and the
    /// `--baseline` dump's manifest.
    pub rule_set_sha256: String,
    /// `--rule`: the only rules whose findings are kept (None: all).
    pub only: Option<Only>,
}

/// What `--rule` asked for beyond the Sigma rules (which `RuleSet::only` already narrowed).
#[derive(Debug, Clone)]
pub struct Only {
    /// IOC lists run (`--rule ioc`, or an IOC finding id).
    pub iocs: bool,
    /// Baseline ids and titles asked for, lower case.
    pub baselines: Vec<String>,
}

impl Only {
    /// Sort the names of `--rule` into IOC and baseline selections; the rest must be rules
    /// (`unknown` lists those that matched no rule), or it is an error.
    fn resolve(wanted: &[String], unknown: &[String]) -> anyhow::Result<Self> {
        let base = baseline::rules();
        let is_baseline =
            |w: &str| base.iter().any(|m| m.id.eq_ignore_ascii_case(w) || m.title.eq_ignore_ascii_case(w));
        let is_ioc = |w: &str| w.eq_ignore_ascii_case("ioc") || w.starts_with("ioc:");
        let missing: Vec<&String> = unknown.iter().filter(|w| !is_baseline(w) && !is_ioc(w)).collect();
        if !missing.is_empty() {
            bail!(
                "--rule {}: no such rule (ids and titles: `trailscope rules list`; `ioc` for the IOC lists)",
                missing.iter().map(|w| w.as_str()).collect::<Vec<_>>().join(", ")
            );
        }
        Ok(Only {
            iocs: wanted.iter().any(|w| is_ioc(w)),
            baselines: wanted.iter().filter(|w| is_baseline(w)).map(|w| w.to_lowercase()).collect(),
        })
    }

    fn keeps_baseline(&self, f: &Finding) -> bool {
        self.baselines.iter().any(|w| f.rule.id.eq_ignore_ascii_case(w) || f.rule.title.eq_ignore_ascii_case(w))
    }
}

impl Detectors {
    /// Load from arguments, without reading any `--baseline` dump (for listings).
    pub fn load(args: &RuleArgs, quiet: bool) -> anyhow::Result<Self> {
        Self::build(args, quiet, false)
    }

    /// Load from arguments for a run on evidence: a `--baseline` dump is ingested with the
    /// evidence's reading options.
    pub fn load_for(args: &RuleArgs, input: &InputArgs) -> anyhow::Result<Self> {
        // Rules and IOCs first: a typo should not wait for a long ingest to be reported.
        let mut d = Self::build(args, input.quiet, input.verbose)?;
        if !args.baseline.is_empty() {
            let history = History::load(&args.baseline, input)?;
            d.rule_set_sha256 = rule_set_hash(args, Some(&history))?;
            d.history = Some(history);
        }
        Ok(d)
    }

    /// Refused rules are printed on stderr (and make the exit status 1); a bad IOC line or
    /// variables file is fatal, since it would silently lose an indicator. Warnings about
    /// `--rules` files are printed only when `verbose`: `rules check` is where authors see them.
    fn build(args: &RuleArgs, quiet: bool, verbose: bool) -> anyhow::Result<Self> {
        let vars: Vars = match &args.vars {
            Some(p) => load_vars(p).map_err(|e| anyhow::anyhow!("{e}"))?,
            None => Vars::new(),
        };
        let (mut rules, report) = RuleSet::load(!args.no_builtin, &args.rules, &vars);
        let only = if args.rule.is_empty() {
            None
        } else {
            let unknown = rules.only(&args.rule);
            Some(Only::resolve(&args.rule, &unknown)?)
        };
        if !quiet {
            for e in &report.errors {
                eprintln!("trailscope: rule refused: {e}");
            }
        }
        if verbose {
            for w in report.warnings.iter().filter(|w| !w.path.starts_with("builtin:")) {
                eprintln!("trailscope: rule warning: {w}");
            }
        }
        let (iocs, errors) = IocSet::load(&args.ioc);
        if !errors.is_empty() {
            // Every bad line at once: fixing a list one error per run wastes the examiner's time.
            let lines: Vec<String> = errors.iter().map(|e| format!("  {e}")).collect();
            bail!("{} bad IOC line(s); no indicator was used:\n{}", errors.len(), lines.join("\n"));
        }
        let baseline = if args.no_baseline {
            None
        } else {
            let learn_ms = match &args.learn {
                Some(l) => Some(
                    parse_duration(l)
                        .with_context(|| format!("--learn: not a duration: {l:?} (use e.g. 36h or 7d)"))?,
                ),
                None => None,
            };
            Some(BaselineOptions { learn_ms })
        };
        let rule_set_sha256 = rule_set_hash(args, None)?;
        Ok(Detectors { rules, report, iocs, baseline, history: None, rule_set_sha256, only })
    }

    /// Clean only when nothing was found, every file (of the evidence and of a `--baseline`
    /// dump) was read and every rule loaded; evidence not read whole is told apart.
    pub fn outcome(&self, findings: &[Finding], evidence: &crate::evidence::Evidence) -> crate::Outcome {
        let history_problems = self.history.as_ref().is_some_and(|h| h.evidence.has_problems());
        crate::Outcome::of(
            !findings.is_empty() || !self.report.errors.is_empty(),
            evidence.has_problems() || history_problems,
        )
    }

    /// All findings, ordered by first event then rule id.
    pub fn run(&self, store: &Store) -> Vec<Finding> {
        let mut f = self.rules.run(store);
        if self.only.as_ref().is_none_or(|o| o.iocs) {
            f.extend(self.iocs.run(store));
        }
        let baselines = match (&self.baseline, &self.history) {
            _ if self.only.as_ref().is_some_and(|o| o.baselines.is_empty()) => Vec::new(),
            (Some(_), Some(h)) => baseline::run_with_history(store, &h.evidence.store),
            (Some(b), None) => baseline::run(store, b),
            (None, _) => Vec::new(),
        };
        f.extend(baselines.into_iter().filter(|b| self.only.as_ref().is_none_or(|o| o.keeps_baseline(b))));
        f.sort_by(|a, b| (a.rows[0], &a.rule.id, &a.group).cmp(&(b.rows[0], &b.rule.id, &b.group)));
        f
    }
}
