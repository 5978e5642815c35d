//! Rules, IOCs and baselines from the command line to findings.

use anyhow::{bail, Context};
use trailscope_indicators::baseline::{self, BaselineOptions};
use trailscope_indicators::ioc::IocSet;
use trailscope_indicators::sigma::parse_duration;
use trailscope_indicators::{load_vars, Finding, RuleLoadReport, RuleSet, Vars};
use trailscope_store::Store;

use crate::args::RuleArgs;

fn rule_set_hash(args: &RuleArgs) -> anyhow::Result<String> {
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
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
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
    /// SHA-256 over everything that decides findings: built-in rule texts (when used), rule,
    /// IOC and variables files (in path order), and the baseline settings.
    pub rule_set_sha256: String,
}

impl Detectors {
    /// Load from arguments. Refused rules are printed on stderr (and make the exit status 1);
    /// a bad IOC line or variables file is fatal, since it would silently lose an indicator.
    pub fn load(args: &RuleArgs, quiet: bool) -> anyhow::Result<Self> {
        let vars: Vars = match &args.vars {
            Some(p) => load_vars(p).map_err(|e| anyhow::anyhow!("{e}"))?,
            None => Vars::new(),
        };
        let (rules, report) = RuleSet::load(!args.no_builtin, &args.rules, &vars);
        if !quiet {
            for e in &report.errors {
                eprintln!("trailscope: rule refused: {e}");
            }
        }
        let (iocs, errors) = IocSet::load(&args.ioc);
        if let Some(e) = errors.first() {
            bail!(
                "{e}{}",
                if errors.len() > 1 { format!(" (and {} more IOC errors)", errors.len() - 1) } else { String::new() }
            );
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
        let rule_set_sha256 = rule_set_hash(args)?;
        Ok(Detectors { rules, report, iocs, baseline, rule_set_sha256 })
    }

    /// Clean only when nothing was found, every file was read and every rule loaded.
    pub fn outcome(&self, findings: &[Finding], ingest: &trailscope_ingest::IngestReport) -> crate::Outcome {
        if findings.is_empty() && !ingest.has_problems() && self.report.errors.is_empty() {
            crate::Outcome::Clean
        } else {
            crate::Outcome::Attention
        }
    }

    /// All findings, ordered by first event then rule id.
    pub fn run(&self, store: &Store) -> Vec<Finding> {
        let mut f = self.rules.run(store);
        f.extend(self.iocs.run(store));
        if let Some(b) = &self.baseline {
            f.extend(baseline::run(store, b));
        }
        f.sort_by(|a, b| (a.rows[0], &a.rule.id, &a.group).cmp(&(b.rows[0], &b.rule.id, &b.group)));
        f
    }
}
