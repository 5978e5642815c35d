//! `trailscope audit verify`: the case's audit chain, every output hash, the log against its
//! kept head, and files nobody accounts for.

use std::path::Path;

use trailscope_integrity::audit::{verify_case, Head, HEAD_FILE};

use crate::Outcome;

pub fn run(case: &Path, expected: Option<&Head>) -> anyhow::Result<Outcome> {
    if !case.is_dir() {
        anyhow::bail!("{}: not a case directory", case.display());
    }
    let check = verify_case(case, expected)?;
    match &check.head {
        // Printed on every run: recorded outside the case directory, it pins the log.
        Some(h) => println!("audit head: {h}  (record it in the case notes; `--head {h}` checks it later)"),
        None => println!("audit head: none (no entry)"),
    }
    for p in &check.problems {
        println!("audit log BROKEN ({} entries): {p}", check.entries);
    }
    for f in &check.unaccounted {
        let why = if f.contains(".tmp-") { " (a temporary file left by an interrupted run?)" } else { "" };
        println!("not accounted for: {f}{why} (no audit entry wrote it)");
    }
    if check.intact() {
        println!(
            "audit log intact: {} entries, every output file matches its recorded SHA-256, {HEAD_FILE} agrees, \
             no other file",
            check.entries
        );
        Ok(Outcome::Clean)
    } else {
        Ok(Outcome::Attention)
    }
}
