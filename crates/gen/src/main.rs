//! `trailscope-gen`: write a generated CloudTrail dump and its ground truth.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use trailscope_gen::{generate, GenConfig, Profile};

/// Generate a realistic, deterministic CloudTrail S3-sync tree.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Directory to write into (an AWSLogs/ tree is created inside).
    #[arg(long)]
    out: PathBuf,
    /// Background events to generate.
    #[arg(long, default_value_t = 3000)]
    events: usize,
    /// Days covered.
    #[arg(long, default_value_t = 3)]
    days: u32,
    /// RNG seed.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Leave the attack out.
    #[arg(long)]
    no_attack: bool,
    /// Most records per file.
    #[arg(long, default_value_t = 1500)]
    max_records_per_file: usize,
    /// Where to write the attack's ground truth (JSON). Keep it outside --out.
    #[arg(long)]
    truth: Option<PathBuf>,
    /// Leave out digest files.
    #[arg(long)]
    no_digests: bool,
    /// Where to write the digest signatures (S3 object metadata in real life), as JSON.
    #[arg(long)]
    signatures: Option<PathBuf>,
    /// Shape of the background: `default` (management-heavy, small payloads) or `data-heavy`
    /// (mostly S3 data events, large EC2 describe responses, KMS and STS calls, half the files
    /// holding 1-8 records), for measuring on a trail like those that log data events.
    #[arg(long, value_enum, default_value_t = Profile::Default)]
    profile: Profile,
    /// Where to write the signing public key, as `aws cloudtrail list-public-keys` output.
    #[arg(long)]
    public_keys: Option<PathBuf>,
    /// Plant this many tampered re-deliveries of attacker records (their source address
    /// rewritten, each in a file of its own, not in the digests), listed in the ground truth.
    #[arg(long, default_value_t = 0)]
    tampered_redeliveries: usize,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let cfg = GenConfig {
        seed: args.seed,
        events: args.events,
        days: args.days,
        attack: !args.no_attack,
        max_records_per_file: args.max_records_per_file,
        digests: !args.no_digests,
        profile: args.profile,
        tampered_redeliveries: args.tampered_redeliveries,
        ..GenConfig::default()
    };
    let summary = generate(&cfg, &args.out).with_context(|| format!("writing {}", args.out.display()))?;
    if let Some(path) = args.truth {
        std::fs::write(&path, serde_json::to_string_pretty(&summary.truth)? + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
    }
    for (path, value) in [(&args.signatures, &summary.signatures), (&args.public_keys, &summary.public_keys)] {
        if let Some(p) = path {
            std::fs::write(p, serde_json::to_string_pretty(value)? + "\n")
                .with_context(|| format!("writing {}", p.display()))?;
        }
    }
    eprintln!(
        "wrote {} records in {} files ({} bytes gzipped) under {}",
        summary.records,
        summary.files,
        summary.bytes,
        args.out.display()
    );
    Ok(())
}
