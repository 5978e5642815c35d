//! `trailscope rules list|check`.

use std::io::Write;

use trailscope_indicators::baseline;
use trailscope_indicators::{load_vars, RuleKind, RuleMeta, RuleSet, Vars};

use trailscope_export::{translate, Dialect};

use crate::args::{ListFormat, RuleArgs, RulesCommand, SqlDialect};
use crate::detect::Detectors;
use crate::Outcome;

fn kind_name(k: &RuleKind) -> &'static str {
    match k {
        RuleKind::Event(_) => "event",
        RuleKind::Aggregate { .. } => "aggregation",
        RuleKind::Correlation { .. } => "correlation",
    }
}

fn list(args: &RuleArgs, format: ListFormat) -> anyhow::Result<Outcome> {
    let d = Detectors::load(args, false)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut rows: Vec<(&RuleMeta, &str)> =
        d.rules.rules.iter().filter(|r| r.generate).map(|r| (&*r.meta, kind_name(&r.kind))).collect();
    let base = baseline::rules();
    if d.baseline.is_some() {
        rows.extend(base.iter().map(|m| (&**m, "baseline")));
    }
    match format {
        ListFormat::Table => {
            writeln!(out, "{:<38} {:<13} {:<12} {:<30} TITLE", "RULE", "LEVEL", "KIND", "ATT&CK")?;
            for (m, kind) in &rows {
                writeln!(
                    out,
                    "{:<38} {:<13} {:<12} {:<30} {}",
                    m.id,
                    m.severity.name(),
                    kind,
                    m.techniques.join(","),
                    m.title
                )?;
            }
        }
        ListFormat::Markdown => {
            writeln!(out, "| rule | level | kind | tactics | techniques | title |")?;
            writeln!(out, "|---|---|---|---|---|---|")?;
            for (m, kind) in &rows {
                writeln!(
                    out,
                    "| `{}` | {} | {} | {} | {} | {} |",
                    m.id,
                    m.severity.name(),
                    kind,
                    m.tactics.join(", "),
                    m.techniques.join(", "),
                    m.title
                )?;
            }
        }
    }
    writeln!(
        std::io::stderr(),
        "{} rules loaded from {} files; {} refused; {} for other log sources",
        d.report.loaded,
        d.report.files,
        d.report.errors.len(),
        d.report.not_applicable.len()
    )?;
    out.flush()?;
    Ok(if d.report.errors.is_empty() { Outcome::Clean } else { Outcome::Attention })
}

fn check(paths: &[std::path::PathBuf], vars: Option<&std::path::Path>) -> anyhow::Result<Outcome> {
    let vars = match vars {
        Some(p) => load_vars(p).map_err(|e| anyhow::anyhow!("{e}"))?,
        None => Vars::new(),
    };
    let (set, report) = RuleSet::load(false, paths, &vars);
    let mut out = std::io::stdout().lock();
    for e in &report.errors {
        writeln!(out, "refused: {e}")?;
    }
    for w in &report.warnings {
        writeln!(out, "warning: {w}")?;
    }
    for (at, what) in &report.not_applicable {
        writeln!(out, "skipped: {at}: not AWS CloudTrail ({what})")?;
    }
    writeln!(
        out,
        "{} files, {} rules loaded, {} refused, {} for other log sources, {} warnings",
        report.files,
        set.rules.len(),
        report.errors.len(),
        report.not_applicable.len(),
        report.warnings.len()
    )?;
    // A warned rule still loads, but checking is for authors: anything to fix is attention.
    Ok(if report.errors.is_empty() && report.warnings.is_empty() { Outcome::Clean } else { Outcome::Attention })
}

/// Every translatable rule as SQL over the Parquet export; refusals on stderr and as comments.
fn export(args: &RuleArgs, dialect: SqlDialect, table: &str) -> anyhow::Result<Outcome> {
    let d = Detectors::load(args, false)?;
    let dialect = match dialect {
        SqlDialect::Duckdb => Dialect::DuckDb,
        SqlDialect::Trino => Dialect::Trino,
        SqlDialect::Athena => Dialect::Athena,
        SqlDialect::Spark => Dialect::Spark,
    };
    let t = translate(&d.rules.rules, dialect, table);
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    out.write_all(t.sql.as_bytes())?;
    out.flush()?;
    let mut err = std::io::stderr().lock();
    for (id, why) in &t.refused {
        writeln!(err, "not translated: {id}: {why}")?;
    }
    writeln!(
        err,
        "{} rules translated to {} SQL, {} not translated",
        t.translated.len(),
        dialect.name(),
        t.refused.len()
    )?;
    Ok(if d.report.errors.is_empty() { Outcome::Clean } else { Outcome::Attention })
}

pub fn run(cmd: &RulesCommand) -> anyhow::Result<Outcome> {
    match cmd {
        RulesCommand::List { rules, format } => list(rules, *format),
        RulesCommand::Check { paths, vars } => check(paths, vars.as_deref()),
        RulesCommand::Export { rules, sql, table } => export(rules, *sql, table),
    }
}
