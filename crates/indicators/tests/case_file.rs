//! A case file opened again is the same evidence: every event, every finding of the built-in
//! pack and of the baselines (learned from the evidence itself and from a separate dump).

use std::path::Path;

use trailscope_indicators::baseline::{self, BaselineOptions};
use trailscope_indicators::{Finding, RuleSet};
use trailscope_ingest::{ingest, IngestOptions};
use trailscope_store::{CaseFile, Field, Store};

fn sample() -> Store {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/sample");
    ingest(&[dir], &IngestOptions::default(), None).expect("sample ingests").0
}

/// Rule id, group, rows and their event ids.
type Described = (String, Option<String>, Vec<u32>, Vec<String>);

/// What a finding says, with the rows as event ids (row numbers are the same too, but ids are
/// what an examiner compares).
fn described(findings: &[Finding], store: &Store) -> Vec<Described> {
    findings
        .iter()
        .map(|f| {
            let ids = f.rows.iter().map(|&r| store.event(r as usize).str(Field::EventId).unwrap_or("").to_owned());
            (f.rule.id.clone(), f.group.clone(), f.rows.clone(), ids.collect())
        })
        .collect()
}

fn all_findings(store: &Store, history: Option<&Store>) -> Vec<Finding> {
    let mut f = RuleSet::builtin().run(store);
    match history {
        Some(h) => f.extend(baseline::run_with_history(store, h)),
        None => f.extend(baseline::run(store, &BaselineOptions::default())),
    }
    f
}

#[test]
fn the_sample_saved_and_opened_gives_the_same_events_and_findings() {
    let built = sample();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sample.tscase");
    built.save_case(&path, b"{}").unwrap();
    let case = CaseFile::open(&path).unwrap();
    let opened = &case.store;
    assert!(opened.is_mapped());
    assert_eq!(opened.len(), built.len());
    assert_eq!(opened.len(), 4318);
    for row in 0..built.len() {
        assert_eq!(opened.event(row).to_json(), built.event(row).to_json(), "row {row}");
        assert_eq!(opened.event(row).source(), built.event(row).source(), "row {row}");
    }

    let (a, b) = (all_findings(&built, None), all_findings(opened, None));
    assert!(a.len() > 50, "the sample raises findings ({})", a.len());
    assert_eq!(described(&b, opened), described(&a, &built));

    // Baselines learned from a separate dump: the case as the history, and as the evidence.
    let (a, b) = (all_findings(&built, Some(&built)), all_findings(opened, Some(opened)));
    assert_eq!(described(&b, opened), described(&a, &built));
}

/// A case far larger than the payload cache: rules run over it one stretch of rows at a time,
/// and aggregations, correlations and baselines still see the rows of every stretch together.
#[test]
fn a_case_read_stretch_by_stretch_through_a_small_cache_gives_the_same_findings() {
    let built = sample();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blocks.tscase");
    // 64 rows a block, about 68 blocks; a cache of one block makes one stretch a block.
    built.save_case_in_blocks_of(&path, b"{}", 64).unwrap();
    let case = CaseFile::open(&path).unwrap();
    let opened = &case.store;
    opened.limit_payload_cache(1);
    let stretches = opened.payload_stretches();
    assert!(stretches.len() > 60, "{} stretches", stretches.len());
    assert_eq!(stretches.first().map(|s| s.start), Some(0));
    assert!(stretches.windows(2).all(|w| w[0].end == w[1].start));

    let (a, b) = (all_findings(&built, None), all_findings(opened, None));
    assert_eq!(described(&b, opened), described(&a, &built));
    // Counting findings spanning stretches are among them: a group is not cut at a boundary.
    let boundaries: Vec<usize> = stretches.iter().map(|s| s.end).collect();
    assert!(
        a.iter().any(|f| f.rows.len() > 1
            && boundaries.iter().any(|&e| f.rows.first().is_some_and(|&r| (r as usize) < e)
                && f.rows.last().is_some_and(|&r| r as usize >= e))),
        "some counting finding straddles a stretch boundary"
    );
    // The rules read each block about once, not once per rule reading payloads.
    let blocks = stretches.len() as u64;
    let read = opened.memory_use().payload_blocks_decompressed;
    assert!(read <= 3 * blocks, "{read} blocks decompressed for {blocks} blocks");
    assert!(opened.memory_use().payload_cache <= 64 * 8 + 256 * 1024, "{:?}", opened.memory_use());
}
