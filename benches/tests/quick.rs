//! bench-quick's gate: a deliberate slowdown fails naming the figure; unchanged figures pass;
//! bytes per event may not grow at all. Runs the bench in-process on a tiny dump.

use serde_json::{json, Value};
use trailscope_benches::quick::{self, compare, DumpShape, Options, Slowdown, Stage};

fn tiny() -> (tempfile::TempDir, Vec<std::path::PathBuf>) {
    let dir = tempfile::tempdir().unwrap();
    quick::generate(dir.path(), &DumpShape { events: 1_200, small_events: 600, small_per_file: 20, large_files: 2 })
        .unwrap();
    let paths = vec![dir.path().to_path_buf()];
    (dir, paths)
}

#[test]
fn slowed_stage_fails_naming_its_figure_and_the_summary_is_complete() {
    let (_dir, paths) = tiny();
    let opts = Options { threads: 2, reps: 1, slowdown: None };
    let base = quick::measure(&paths, &opts).unwrap().to_json(0.25);
    assert!(base["dump"]["events"].as_u64().unwrap() >= 1_200);
    for name in [
        "ingest_events_per_s",
        "ingest_over_probe_wall",
        "ingest_over_probe_cpu",
        "hunt_over_ingest_cpu",
        "analyze_over_hunt_cpu",
        "bytes_per_event_columns",
        "bytes_per_event_dictionaries",
        "bytes_per_event_payloads",
        "bytes_per_event_total",
        "case_file_over_gz",
    ] {
        let f = &base["figures"][name];
        assert!(f["value"].as_f64().is_some_and(|v| v > 0.0), "{name}: {f}");
        for k in ["unit", "better", "gate", "cores", "commit"] {
            assert!(!f[k].is_null(), "{name} lacks {k}");
        }
    }
    assert!(base["not_measured"].as_object().is_some_and(|m| m.is_empty()), "nothing left unmeasured");
    assert!(compare(&base, &base, 0.25).regressions.is_empty());

    // Ingest 20 times slower (busy work: wall and CPU time): its ratio to the probe collapses,
    // far beyond any noise.
    let slow = Options { slowdown: Some(Slowdown { stage: Stage::Ingest, factor: 20.0 }), ..opts };
    let now = quick::measure(&paths, &slow).unwrap().to_json(0.25);
    // Bytes per event are deterministic for a dump: the same store, whatever the timing.
    for name in ["bytes_per_event_total", "bytes_per_event_dictionaries"] {
        assert_eq!(now["figures"][name]["value"], base["figures"][name]["value"], "{name}");
    }
    let c = compare(&now, &base, 0.25);
    let r =
        c.regressions.iter().find(|r| r.figure == "ingest_over_probe_cpu").expect("ingest_over_probe_cpu must fail");
    let msg = r.to_string();
    assert!(msg.starts_with("ingest_over_probe_cpu fell to "), "{msg}");
    assert!(msg.contains("baseline ") && msg.contains("tolerance 25 %"), "{msg}");
}

fn summary(figures: Value) -> Value {
    json!({"threads": 2, "dump": {"events": 100, "files": 3, "bytes_on_disk": 1000}, "figures": figures})
}

fn fig(value: f64, better: &str, gate: &str) -> Value {
    json!({"value": value, "better": better, "gate": gate})
}

#[test]
fn ratios_have_a_tolerance_bytes_none_and_times_are_never_gated() {
    let base = summary(json!({
        "ingest_over_probe": fig(0.5, "higher", "ratio"),
        "analyze_over_hunt": fig(2.0, "lower", "ratio"),
        "bytes_per_event_total": fig(600.0, "lower", "no-growth"),
        "ingest_s": fig(1.0, "lower", "report"),
    }));
    let within = summary(json!({
        "ingest_over_probe": fig(0.38, "higher", "ratio"),
        "analyze_over_hunt": fig(2.49, "lower", "ratio"),
        "bytes_per_event_total": fig(600.0, "lower", "no-growth"),
        "ingest_s": fig(100.0, "lower", "report"),
    }));
    assert!(compare(&within, &base, 0.25).regressions.is_empty());
    let beyond = summary(json!({
        "ingest_over_probe": fig(0.37, "higher", "ratio"),
        "analyze_over_hunt": fig(2.51, "lower", "ratio"),
        "bytes_per_event_total": fig(600.01, "lower", "no-growth"),
        "ingest_s": fig(100.0, "lower", "report"),
    }));
    let c = compare(&beyond, &base, 0.25);
    let mut names: Vec<&str> = c.regressions.iter().map(|r| r.figure.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["analyze_over_hunt", "bytes_per_event_total", "ingest_over_probe"]);
    let bytes = c.regressions.iter().find(|r| r.figure == "bytes_per_event_total").unwrap();
    assert_eq!(
        bytes.to_string(),
        "bytes_per_event_total rose to 600.01 (baseline 600, tolerance 0 %: must stay <= 600)"
    );

    // Another dump: bytes per event are not comparable, ratios still are.
    let mut other = beyond.clone();
    other["dump"]["events"] = json!(5000);
    let c = compare(&other, &base, 0.25);
    assert_eq!(c.regressions.len(), 2);
    assert!(c.notices.iter().any(|n| n.contains("another dump")));
}

#[test]
fn slowdown_spec_parses() {
    assert_eq!("hunt=3".parse::<Slowdown>().unwrap(), Slowdown { stage: Stage::Hunt, factor: 3.0 });
    assert_eq!("ingest".parse::<Slowdown>().unwrap(), Slowdown { stage: Stage::Ingest, factor: 2.0 });
    assert!("ingest=0.5".parse::<Slowdown>().is_err());
    assert!("parse=2".parse::<Slowdown>().is_err());
}

/// Records per CloudTrail file of a generated quick dump, and how many of its files lie under `small/`.
fn records_per_file(shape: quick::Shape, events: usize) -> (Vec<u64>, usize) {
    let dir = tempfile::tempdir().unwrap();
    quick::generate(dir.path(), &DumpShape::of(shape, events)).unwrap();
    let opts = trailscope_ingest::IngestOptions { threads: 2, ..Default::default() };
    let (_, report) = trailscope_ingest::ingest(&[dir.path().to_path_buf()], &opts, None).unwrap();
    let logs: Vec<_> = report.files.iter().filter(|f| f.kind == trailscope_ingest::FileKind::Log).collect();
    let small = logs.iter().filter(|f| f.path.contains("/small/")).count();
    (logs.iter().map(|f| f.records).collect(), small)
}

#[test]
fn shapes_put_events_in_tiny_or_large_files() {
    let (tiny, small) = records_per_file(quick::Shape::Tiny, 3_000);
    assert_eq!(small, tiny.len(), "tiny: the generator's S3 tree only");
    assert!(tiny.iter().all(|&n| (1..=8).contains(&n)), "tiny: at most 8 records per file");
    assert!(tiny.iter().sum::<u64>() >= 3_000);

    let (large, small) = records_per_file(quick::Shape::Large, 4_500);
    assert_eq!(small, 0, "large: no small files");
    assert!(large.len() >= 3 && large.iter().all(|&n| n <= 1_500 + 1_500 / 10), "{large:?}");
    assert!(
        large.iter().filter(|&&n| n >= 1_000).count() >= large.len() - 1,
        "large: ~1,500 records per file: {large:?}"
    );

    assert_eq!("tiny".parse::<quick::Shape>(), Ok(quick::Shape::Tiny));
    assert!("huge".parse::<quick::Shape>().unwrap_err().contains("mixed, tiny or large"));
}
