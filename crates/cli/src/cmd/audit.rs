//! `trailscope audit verify`: the case's audit chain and every output hash.

use std::path::Path;

use trailscope_integrity::audit::verify_log;

use crate::Outcome;

pub fn run(case: &Path) -> anyhow::Result<Outcome> {
    if !case.is_dir() {
        anyhow::bail!("{}: not a case directory", case.display());
    }
    let (entries, broken) = verify_log(case)?;
    match broken {
        None => {
            println!("audit log intact: {entries} entries, every output file matches its recorded SHA-256");
            Ok(Outcome::Clean)
        }
        Some(first) => {
            println!("audit log BROKEN ({entries} entries): {first}");
            Ok(Outcome::Attention)
        }
    }
}
