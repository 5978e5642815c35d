//! Shared set-up for the benchmarks: a generated dump, made once and cached under
//! `target/bench-data/` (or `TRAILSCOPE_BENCH_DIR`).
//!
//! `TRAILSCOPE_BENCH_EVENTS` sets its size (default 200,000 background events, 3 days).
//!
//! [`quick`] is the CI check (`bench-quick`), [`probe`] its decode+tape ceiling probe.

use std::path::PathBuf;

pub mod probe;
pub mod quick;

/// Where generated dumps are cached: `TRAILSCOPE_BENCH_DIR`, else `bench-data/` under
/// `CARGO_TARGET_DIR`, else under the workspace's `target/`.
pub fn bench_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("TRAILSCOPE_BENCH_DIR") {
        return PathBuf::from(d);
    }
    target_dir().join("bench-data")
}

/// `CARGO_TARGET_DIR` when set, else the workspace's `target/`.
/// (A relative `CARGO_TARGET_DIR` is taken from the workspace root, where cargo is run.)
pub fn target_dir() -> PathBuf {
    let root = workspace_dir();
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) => root.join(d),
        None => root.join("target"),
    }
}

/// The workspace root (where `benches/baseline.json` lives).
pub fn workspace_dir() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    root.canonicalize().unwrap_or(root)
}

/// Path of a generated dump with `events` background events, generating it if absent.
pub fn dump(events: usize) -> PathBuf {
    let dir = bench_dir().join(format!("dump-{events}"));
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
