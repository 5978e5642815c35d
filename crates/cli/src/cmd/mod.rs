//! One module per subcommand.

mod analyze;
mod events;
mod ingest;

use crate::args::{Cli, Command};
use crate::Outcome;

/// Run the chosen subcommand.
pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        Command::Analyze { input, format, case_seq } => analyze::run(&input, format, case_seq),
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
