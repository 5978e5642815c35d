//! `trailscope verify`: offline CloudTrail log file validation.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use anyhow::Context;
use trailscope_indicators::sigma::parse_duration;
use trailscope_integrity::{verify, PublicKeys, VerifyOptions, VerifyReport};

use crate::args::{InputArgs, OutArgs, ReportFormat};
use crate::output::{close, Tee};
use crate::{evidence, Outcome};

fn load_signatures(path: &Path) -> anyhow::Result<HashMap<String, String>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let v: serde_json::Value = serde_json::from_str(&text).with_context(|| format!("{}: not JSON", path.display()))?;
    let map = v
        .as_object()
        .with_context(|| format!("{}: expected an object of digest key -> hex signature", path.display()))?;
    map.iter()
        .map(|(k, s)| {
            Ok((
                k.clone(),
                s.as_str().with_context(|| format!("{}: signature of {k} is not a string", path.display()))?.to_owned(),
            ))
        })
        .collect()
}

fn write_text(out: &mut impl Write, r: &VerifyReport) -> std::io::Result<()> {
    let verdict = if !r.verifiable() {
        "NOT VERIFIABLE (no digest files: the trail had no log file validation, or digests were not synced)"
    } else if !r.intact() {
        "PROBLEMS FOUND"
    } else if signatures_proven(r) {
        "INTACT (hashes, chain and digest signatures verified)"
    } else {
        // Without AWS's signatures the digests could have been forged along with the logs.
        "HASHES AND CHAIN INTACT, signatures NOT checked (give --signatures and --public-keys to prove the digests are AWS's)"
    };
    writeln!(out, "Integrity: {verdict}")?;
    writeln!(out, "Digests:   {} files in {} chains", r.digests, r.chains)?;
    writeln!(
        out,
        "Log files: {} in evidence, {} match their digest, {} delivered after the newest digest (not yet covered)",
        r.log_files, r.log_files_verified, r.log_files_not_yet_covered
    )?;
    let s = &r.signatures;
    writeln!(out, "Signatures: {} valid, {} invalid, {} not checked", s.valid, s.invalid, s.unchecked)?;
    if let Some(why) = &s.not_checked_because {
        writeln!(out, "  note: {why}")?;
    }
    writeln!(out, "\nProblems ({})", r.problems.len())?;
    for p in &r.problems {
        writeln!(out, "  {p}")?;
    }
    writeln!(
        out,
        "\nEvent gaps per account and region ({}; information: quiet regions are normal)",
        r.event_gaps.len()
    )?;
    for g in &r.event_gaps {
        writeln!(out, "  {} {:<15} no events {} .. {}", g.account, g.region, g.from, g.to)?;
    }
    Ok(())
}

/// Every digest's signature was checked and valid (vacuously when there are no digests).
fn signatures_proven(r: &VerifyReport) -> bool {
    r.signatures.unchecked == 0 && r.signatures.invalid == 0
}

pub fn run(
    input: &InputArgs,
    signatures: Option<&Path>,
    public_keys: Option<&Path>,
    gap: &str,
    format: ReportFormat,
    out_args: &OutArgs,
) -> anyhow::Result<Outcome> {
    if format == ReportFormat::Markdown {
        anyhow::bail!("verify writes text or json (--format markdown is not supported here)");
    }
    let gap_ms =
        if gap == "0" { 0 } else { parse_duration(gap).with_context(|| format!("--gap: not a duration: {gap:?}"))? };
    let keys = match public_keys {
        Some(p) => {
            let text = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            Some(PublicKeys::from_json(&text).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?)
        }
        None => None,
    };
    let sigs = match signatures {
        Some(p) => load_signatures(p)?,
        None => HashMap::new(),
    };
    if let Some(case) = input.paths.iter().find(|p| trailscope_store::is_case_file(p).unwrap_or(false)) {
        anyhow::bail!(
            "{}: a case file cannot be verified: verify checks the original log and digest files \
             (the case's manifest lists them with their SHA-256); give those instead",
            case.display()
        );
    }
    let (store, ingest_report) = evidence::load_with(input, true)?;
    let report =
        verify(&store, &ingest_report, &VerifyOptions { signatures: sigs, public_keys: keys, event_gap_ms: gap_ms });
    let name = match format {
        ReportFormat::Json => "verify.json",
        ReportFormat::Markdown | ReportFormat::Text => "verify.txt",
    };
    let mut out = Tee::new(out_args.case(), name)?;
    match format {
        ReportFormat::Text | ReportFormat::Markdown => write_text(&mut out, &report)?,
        ReportFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &report)?;
            writeln!(out)?;
        }
    }
    let manifest = trailscope_integrity::Manifest::from_report(&ingest_report);
    // Digests vouch for files, not for which of two copies of an event is the true one.
    evidence::conflict_notes(&manifest, None, input.quiet, input.verbose);
    close(out, out_args.case(), Some(&manifest), None)?;
    // Clean only when everything is proven: unchecked signatures leave the examiner's question open.
    let proven = report.intact() && signatures_proven(&report);
    Ok(Outcome::of(!proven, ingest_report.has_problems()))
}
