//! One module per subcommand.

mod analyze;
mod audit;
mod events;
mod export;
mod hunt;
mod ingest;
mod query;
mod rules;
mod summary;
mod verify;

use crate::args::{Cli, Command};
use crate::Outcome;

/// Refuse a case directory inside (or equal to) an evidence path: outputs written there would
/// become evidence of the next run, and the evidence must not change.
fn out_outside_evidence(
    flag: &str,
    dir: Option<&std::path::Path>,
    inputs: &[std::path::PathBuf],
) -> anyhow::Result<()> {
    let Some(dir) = dir else { return Ok(()) };
    // The directory may not exist yet: resolve its nearest existing ancestor, then add the rest.
    let absolute = std::path::absolute(dir)?;
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    while !existing.exists() {
        rest.push(existing.file_name().unwrap_or_default().to_owned());
        existing = existing.parent().unwrap_or(std::path::Path::new("/"));
    }
    let mut resolved = existing.canonicalize()?;
    resolved.extend(rest.iter().rev());
    for input in inputs {
        let Ok(input) = input.canonicalize() else { continue };
        if input.is_dir() && resolved.starts_with(&input) {
            anyhow::bail!(
                "{flag} {}: inside the evidence ({}); choose a directory outside it",
                dir.display(),
                input.display()
            );
        }
    }
    Ok(())
}

/// Run the chosen subcommand.
pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    match &cli.command {
        Command::Analyze { input, out, .. }
        | Command::Hunt { input, out, .. }
        | Command::Ingest { input, out, .. }
        | Command::Summary { input, out, .. }
        | Command::Events { input, out, .. }
        | Command::Query { input, out, .. }
        | Command::Verify { input, out, .. } => out_outside_evidence("--out", out.out.as_deref(), &input.paths)?,
        Command::Export { input, parquet } => out_outside_evidence("--parquet", Some(parquet), &input.paths)?,
        _ => {}
    }
    match cli.command {
        Command::Analyze { input, rules, window, format, case_seq, attribution, enrich, out } => {
            analyze::run(&input, &rules, &window, &format, case_seq, &attribution, &enrich, &out)
        }
        Command::Hunt { input, rules, window, min_level, explain, no_fold, format, enrich, out } => {
            hunt::run(&input, &rules, &window, min_level, explain, no_fold, format, &enrich, &out)
        }
        Command::Rules { command } => rules::run(&command),
        Command::Export { input, parquet } => export::run(&input, &parquet),
        Command::Ingest { input, save, max_memory, out } => ingest::run(&input, save.as_deref(), max_memory, &out),
        Command::Summary { input, format, out } => summary::run(&input, format, &out),
        Command::Events { input, filter, rules, format, limit, no_prefilter, enrich, out } => {
            events::run(&input, &filter, &rules, format, limit, !no_prefilter, &enrich, &out)
        }
        Command::Query { input, expression, agg, explain, no_prefilter, format, out } => {
            query::run(&input, &expression, &agg, explain, !no_prefilter, format, &out)
        }
        Command::Verify { input, signatures, public_keys, gap, format, out } => {
            verify::run(&input, signatures.as_deref(), public_keys.as_deref(), &gap, format, &out)
        }
        Command::Audit { command: crate::args::AuditCommand::Verify { case, head } } => {
            audit::run(&case, head.as_ref())
        }
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "trailscope", &mut std::io::stdout());
            Ok(Outcome::Clean)
        }
        Command::Man => {
            let cmd = <Cli as clap::CommandFactory>::command();
            // One page: the command, then each subcommand's options, as `man git` readers expect.
            let mut out = std::io::stdout().lock();
            clap_mangen::Man::new(cmd.clone()).render(&mut out)?;
            for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
                use std::io::Write;
                writeln!(out, ".SH \"TRAILSCOPE {}\"", sub.get_name().to_uppercase())?;
                clap_mangen::Man::new(sub.clone()).render_description_section(&mut out)?;
                clap_mangen::Man::new(sub.clone()).render_options_section(&mut out)?;
            }
            Ok(Outcome::Clean)
        }
    }
}

/// Incomplete when the evidence was not fully read.
pub fn evidence_outcome(evidence: &crate::evidence::Evidence) -> Outcome {
    Outcome::of(false, evidence.has_problems())
}
