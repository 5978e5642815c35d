//! `trailscope`: the command-line front end. Parses arguments, runs one subcommand, and maps the
//! outcome to an exit status:
//!
//! * 0 — clean: every file read, nothing rejected, no finding (for `analyze`);
//! * 1 — findings (or integrity problems, refused rules): the evidence was read whole;
//! * 2 — usage error or a fatal error (missing input, strict-mode stop);
//! * 3 — evidence incomplete (files unreadable, records rejected, links not followed, no
//!   CloudTrail event at all), nothing found in what was read;
//! * 4 — evidence incomplete and findings.

mod args;
mod cmd;
mod detect;
mod enrichment;
mod evidence;
mod filter;
mod output;
mod segments;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

// Ingest makes and frees many small buffers per log file on every thread (real trails are tens of
// thousands of files of a few records each): glibc's allocator spent ~11 % of ingest in
// malloc/free and consolidation; mimalloc's per-thread free lists do not.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// What a subcommand found, for the exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing to report.
    Clean,
    /// Findings (or integrity problems, refused rules); the evidence was read whole.
    Attention,
    /// Evidence not fully read, and nothing found in what was.
    Incomplete,
    /// Evidence not fully read, and findings in what was.
    IncompleteAttention,
}

impl Outcome {
    /// The outcome of findings (`attention`) over evidence read whole or not.
    pub fn of(attention: bool, incomplete: bool) -> Self {
        match (attention, incomplete) {
            (false, false) => Outcome::Clean,
            (true, false) => Outcome::Attention,
            (false, true) => Outcome::Incomplete,
            (true, true) => Outcome::IncompleteAttention,
        }
    }
}

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    output::remove_temporaries_on_interrupt();
    match cmd::run(cli) {
        Ok(Outcome::Clean) => ExitCode::from(0),
        Ok(Outcome::Attention) => ExitCode::from(1),
        Ok(Outcome::Incomplete) => ExitCode::from(3),
        Ok(Outcome::IncompleteAttention) => ExitCode::from(4),
        Err(e) => {
            // A closed pipe (`| head`) is how the reader says "enough", not an error.
            let broken_pipe = |c: &(dyn std::error::Error + 'static)| {
                c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
                    || c.downcast_ref::<serde_json::Error>()
                        .is_some_and(|e| e.io_error_kind() == Some(std::io::ErrorKind::BrokenPipe))
                    || c.downcast_ref::<csv::Error>().is_some_and(
                        |e| matches!(e.kind(), csv::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::BrokenPipe),
                    )
            };
            if e.chain().any(broken_pipe) {
                return ExitCode::from(0);
            }
            let _ = writeln!(std::io::stderr(), "trailscope: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
