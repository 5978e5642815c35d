//! One module per subcommand.

mod analyze;
mod events;
mod hunt;
mod ingest;
mod rules;

use crate::args::{Cli, Command};
use crate::Outcome;

/// Run the chosen subcommand.
pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        Command::Analyze { input, rules, format, case_seq } => analyze::run(&input, &rules, format, case_seq),
        Command::Hunt { input, rules, min_level, format } => hunt::run(&input, &rules, min_level, format),
        Command::Rules { command } => rules::run(&command),
        Command::Ingest { input } => ingest::run(&input),
        Command::Events { input, filter, format, limit } => events::run(&input, &filter, format, limit),
    }
}

/// Attention when the evidence was not fully read.
pub fn evidence_outcome(report: &trailscope_ingest::IngestReport) -> Outcome {
    if report.has_problems() {
        Outcome::Attention
    } else {
        Outcome::Clean
    }
}
