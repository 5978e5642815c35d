//! Shared set-up for the benchmarks: a generated dump, made once and cached under
//! `target/bench-data/` (or `TRAILSCOPE_BENCH_DIR`).
//!
//! `TRAILSCOPE_BENCH_EVENTS` sets its size (default 200,000 background events, 3 days).

use std::path::PathBuf;

/// Path of a generated dump with `events` background events, generating it if absent.
pub fn dump(events: usize) -> PathBuf {
    let base = std::env::var_os("TRAILSCOPE_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench-data"));
    let dir = base.join(format!("dump-{events}"));
    let done = dir.join(".complete");
    if !done.exists() {
        let _ = std::fs::remove_dir_all(&dir);
        let cfg = trailscope_gen::GenConfig { events, days: 3, ..Default::default() };
        let s = trailscope_gen::generate(&cfg, &dir).expect("generate benchmark dump");
        eprintln!("generated {} records in {} files under {}", s.records, s.files, dir.display());
        std::fs::write(&done, b"").expect("mark dump complete");
    }
    dir
}

/// Size of the benchmark dump.
pub fn events() -> usize {
    std::env::var("TRAILSCOPE_BENCH_EVENTS").ok().and_then(|s| s.parse().ok()).unwrap_or(200_000)
}
