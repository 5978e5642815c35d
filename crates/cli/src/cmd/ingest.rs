//! `trailscope ingest`: what was read, kept, skipped and why, and how fast.

use std::collections::BTreeMap;
use std::io::Write;

use trailscope_ingest::FileKind;
use trailscope_store::{chrono_free_iso, Field};

use crate::args::{InputArgs, OutArgs};
use crate::output::{close, Tee};
use crate::{evidence, Outcome};

fn distinct(store: &trailscope_store::Store, field: Field) -> Vec<String> {
    trailscope_indicators::distinct(store, field, 0..store.len()).into_iter().map(str::to_owned).collect()
}

pub fn run(input: &InputArgs, out_args: &OutArgs) -> anyhow::Result<Outcome> {
    let (store, r) = evidence::load(input)?;
    let mut out = Tee::new(out_args.out.as_deref(), "ingest.txt")?;
    let kinds = [FileKind::Log, FileKind::Insight, FileKind::Digest, FileKind::Other, FileKind::Error];
    let by_kind: Vec<String> = kinds.iter().map(|k| format!("{} {}", k.name(), r.count(*k))).collect();
    writeln!(out, "Files:        {} ({})", r.files.len(), by_kind.join(", "))?;
    let mut wrappers: BTreeMap<&str, usize> = BTreeMap::new();
    for f in &r.files {
        if let Some(w) = f.wrapper {
            *wrappers.entry(w.name()).or_default() += 1;
        }
    }
    let w: Vec<String> = wrappers.iter().map(|(k, v)| format!("{k} {v}")).collect();
    writeln!(out, "Formats:      {}", if w.is_empty() { "-".into() } else { w.join(", ") })?;
    writeln!(out, "Bytes:        {} on disk, {} uncompressed", r.bytes_on_disk(), r.bytes_uncompressed())?;
    writeln!(
        out,
        "Records:      {} found, {} stored, {} duplicates, {} rejected",
        r.records(),
        r.stored(),
        r.duplicates(),
        r.rejected()
    )?;
    for (reason, n) in &r.rejects_by_reason {
        writeln!(out, "  rejected:   {n} {reason}")?;
    }
    for e in r.file_errors() {
        writeln!(out, "  error:      {e}")?;
    }
    writeln!(out, "Accounts:     {}", distinct(&store, Field::RecipientAccount).join(", "))?;
    writeln!(out, "Regions:      {}", distinct(&store, Field::AwsRegion).join(", "))?;
    let t = store.times();
    if let (Some(a), Some(b)) = (t.first(), t.last()) {
        writeln!(out, "Time range:   {} .. {}", chrono_free_iso(*a), chrono_free_iso(*b))?;
    }
    let secs = r.elapsed.as_secs_f64().max(1e-9);
    writeln!(
        out,
        "Throughput:   {:.0} events/s, {:.1} MB/s uncompressed ({:.3} s, {} threads)",
        r.records() as f64 / secs,
        r.bytes_uncompressed() as f64 / 1e6 / secs,
        secs,
        r.threads
    )?;
    let mem = store.memory_use();
    let per = if store.is_empty() { 0 } else { mem.total() / store.len() };
    writeln!(
        out,
        "Memory:       {} bytes resident, {per} bytes/event (columns {}, dictionaries {}, payloads {})",
        mem.total(),
        mem.columns,
        mem.dictionaries,
        mem.payloads
    )?;
    close(out, out_args.out.as_deref(), Some(&r), None)?;
    Ok(super::evidence_outcome(&r))
}
