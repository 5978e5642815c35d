//! Rules, IOCs and baselines from the command line to findings.

use anyhow::{bail, Context};
use trailscope_indicators::baseline::{self, BaselineOptions};
use trailscope_indicators::ioc::IocSet;
use trailscope_indicators::sigma::parse_duration;
use trailscope_indicators::{load_vars, Finding, RuleLoadReport, RuleSet, Vars};
use trailscope_store::Store;

use crate::args::RuleArgs;

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
        Ok(Detectors { rules, report, iocs, baseline })
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
