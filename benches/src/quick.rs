//! `bench-quick`: one short run that measures ingest, the decode+tape ceiling probe, hunt and
//! analyze on the same dump, writes a machine-readable summary and compares it with a
//! committed baseline.
//!
//! Only machine-independent figures are gated: ratios of the CPU time of stages measured in the
//! same run (a loaded or slower machine slows both sides) and resident bytes per event
//! (deterministic for a given dump). Absolute times, throughputs, wall-time ratios and peak RSS
//! are reported, never gated.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};
use trailscope_indicators::baseline::{self, learning_end, BaselineOptions};
use trailscope_indicators::{Finding, RuleSet};
use trailscope_ingest::{ingest, FileKind, IngestOptions, RecordGate};
use trailscope_store::{RowValues, Store};
use trailscope_timeline::{Lineage, Report, ReportOptions};

/// Default tolerance on ratio figures: a ratio may worsen by this fraction of its baseline.
pub const DEFAULT_TOLERANCE: f64 = 0.25;

/// Summary format version (bump when a figure changes meaning).
pub const FORMAT: u64 = 1;

/// A measured stage, for `TRAILSCOPE_BENCH_SLOWDOWN`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Stage {
    /// The decode+tape ceiling probe.
    Probe,
    /// `trailscope_ingest::ingest` storing nothing (a gate that admits no record): the read floor.
    Floor,
    /// `trailscope_ingest::ingest`.
    Ingest,
    /// Hunt's detection on the store.
    Hunt,
    /// Analyze's detection, lineage, actors and report.
    Analyze,
}

impl FromStr for Stage {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "probe" => Ok(Stage::Probe),
            "floor" => Ok(Stage::Floor),
            "ingest" => Ok(Stage::Ingest),
            "hunt" => Ok(Stage::Hunt),
            "analyze" => Ok(Stage::Analyze),
            _ => Err(format!("unknown stage {s:?} (probe, floor, ingest, hunt or analyze)")),
        }
    }
}

/// A deliberate slowdown of one stage: its measured wall time is stretched by `factor` (the
/// bench sleeps inside the timed region), to check that the gate notices.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct Slowdown {
    /// Stage slowed.
    pub stage: Stage,
    /// Its time is multiplied by this (> 1).
    pub factor: f64,
}

impl FromStr for Slowdown {
    type Err = String;
    /// `STAGE=FACTOR` (`ingest=2`), or `STAGE` alone for a factor of 2.
    fn from_str(s: &str) -> Result<Self, String> {
        let (stage, factor) = s.split_once('=').unwrap_or((s, "2"));
        let factor: f64 = factor.trim().parse().map_err(|_| format!("slowdown factor {factor:?} is not a number"))?;
        if !(factor >= 1.0 && factor.is_finite()) {
            return Err(format!("slowdown factor must be at least 1, got {factor}"));
        }
        Ok(Slowdown { stage: stage.trim().parse()?, factor })
    }
}

/// How to measure.
#[derive(Clone, Debug)]
pub struct Options {
    /// Worker threads for ingest and the probe; 0: one per core.
    pub threads: usize,
    /// Repetitions of each stage; the fastest is kept.
    pub reps: usize,
    /// A deliberate slowdown, if any.
    pub slowdown: Option<Slowdown>,
}

impl Default for Options {
    fn default() -> Self {
        Options { threads: 0, reps: 3, slowdown: None }
    }
}

/// Which way is better.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Better {
    /// Higher is better.
    Higher,
    /// Lower is better.
    Lower,
}

impl Better {
    fn name(self) -> &'static str {
        match self {
            Better::Higher => "higher",
            Better::Lower => "lower",
        }
    }
}

/// How a figure is compared with the baseline.
#[derive(Copy, Clone, Debug, PartialEq)]
pub enum Gate {
    /// Reported only (absolute times, throughput, RSS: they depend on the machine and its load).
    Report,
    /// A ratio: fails when it worsens by more than the tolerance (a fraction of the baseline).
    Ratio,
    /// Bytes per event: fails on any growth (deterministic for a given dump).
    NoGrowth,
}

impl Gate {
    fn name(self) -> &'static str {
        match self {
            Gate::Report => "report",
            Gate::Ratio => "ratio",
            Gate::NoGrowth => "no-growth",
        }
    }
}

/// One measured figure.
#[derive(Clone, Debug)]
pub struct Figure {
    /// Stable name (the key in the summary).
    pub name: &'static str,
    /// Value.
    pub value: f64,
    /// Unit.
    pub unit: &'static str,
    /// Which way is better.
    pub better: Better,
    /// How it is gated.
    pub gate: Gate,
}

/// What one run measured.
#[derive(Clone, Debug)]
pub struct Summary {
    /// Input paths.
    pub inputs: Vec<String>,
    /// Events stored.
    pub events: usize,
    /// Files ingest read as CloudTrail (logs, insights, digests).
    pub files: usize,
    /// Bytes on disk of those files.
    pub bytes_on_disk: u64,
    /// Bytes after decompression.
    pub bytes_uncompressed: u64,
    /// Cores of the machine.
    pub cores: usize,
    /// Worker threads used by ingest and the probe.
    pub threads: usize,
    /// Repetitions per stage.
    pub reps: usize,
    /// Commit measured (`git describe`), or `unknown`.
    pub commit: String,
    /// The slowdown applied, if any.
    pub slowdown: Option<Slowdown>,
    /// The figures, in display order.
    pub figures: Vec<Figure>,
}

/// Figures planned but not measured yet, with the reason (listed in the summary, never faked).
pub const NOT_MEASURED: &[(&str, &str)] = &[];

/// CPU time (user + system) of this process so far, all threads included.
pub fn cpu_time() -> Duration {
    // SAFETY: `getrusage` only writes the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) } != 0 {
        return Duration::ZERO;
    }
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(u.ru_utime) + tv(u.ru_stime)
}

/// The read floor's gate: every file is still read, hashed, inflated and parsed, and every
/// record walked and checked, but none is stored.
#[derive(Debug)]
struct AdmitsNothing;

impl RecordGate for AdmitsNothing {
    fn admits(&self, _: &RowValues<'_>) -> bool {
        false
    }
}

/// Wall and CPU time of one stage.
#[derive(Copy, Clone, Debug)]
struct Times {
    wall: Duration,
    cpu: Duration,
}

impl Times {
    const MAX: Times = Times { wall: Duration::MAX, cpu: Duration::MAX };
    fn min(self, o: Times) -> Times {
        Times { wall: self.wall.min(o.wall), cpu: self.cpu.min(o.cpu) }
    }
}

/// Run a stage, timed. A slowdown of this stage busy-works on this thread, inside the timed
/// region, until both its wall and its CPU time are at least `factor` times what they were.
fn timed<T>(stage: Stage, opts: &Options, f: impl FnOnce() -> T) -> (T, Times) {
    let (w0, c0) = (Instant::now(), cpu_time());
    let r = f();
    if let Some(s) = opts.slowdown.filter(|s| s.stage == stage) {
        let (wall, cpu) = (w0.elapsed().mul_f64(s.factor), (cpu_time() - c0).mul_f64(s.factor));
        let mut x = 0u64;
        while w0.elapsed() < wall || cpu_time() - c0 < cpu {
            for i in 0..10_000u64 {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(i));
            }
        }
    }
    (r, Times { wall: w0.elapsed(), cpu: cpu_time() - c0 })
}

/// Payload blocks decompressed by a hunt over `store` saved as a case file and opened with an
/// 8 MiB block cache, per block a hunt with an unbounded cache decompresses; and the time of the
/// bounded hunt.
fn case_block_reads(store: &Store, rules: &RuleSet) -> Result<(f64, Times), String> {
    let path = std::env::temp_dir().join(format!("trailscope-bench-quick-{}.tscase", std::process::id()));
    store.save_case(&path, b"{}").map_err(|e| e.to_string())?;
    let opened = |limit: usize| -> Result<trailscope_store::CaseFile, String> {
        let case = trailscope_store::CaseFile::open(&path).map_err(|e| e.to_string())?;
        case.store.limit_payload_cache(limit);
        Ok(case)
    };
    let all = opened(usize::MAX)?;
    drop(hunt(rules, &all.store));
    let touched = all.store.memory_use().payload_blocks_decompressed;
    drop(all);
    let bounded = opened(8 << 20)?;
    let (w0, c0) = (Instant::now(), cpu_time());
    drop(hunt(rules, &bounded.store));
    let t = Times { wall: w0.elapsed(), cpu: cpu_time() - c0 };
    let reads = bounded.store.memory_use().payload_blocks_decompressed;
    drop(bounded);
    let _ = std::fs::remove_file(&path);
    Ok((reads as f64 / touched.max(1) as f64, t))
}

/// Hunt's detection on a store: the built-in rules and the first-seen baselines.
pub fn hunt(rules: &RuleSet, store: &Store) -> Vec<Finding> {
    let mut f = rules.run(store);
    f.extend(baseline::run(store, &BaselineOptions::default()));
    f.sort_by(|a, b| (a.rows[0], &a.rule.id, &a.group).cmp(&(b.rows[0], &b.rule.id, &b.group)));
    f
}

/// Analyze after ingest: hunt's detection, lineage, actors, the report and its text rendering.
/// Returns the rendered length.
pub fn analyze(rules: &RuleSet, store: &Store) -> usize {
    let findings = hunt(rules, store);
    let lineage = Lineage::build(store);
    let b = BaselineOptions::default();
    let baseline_window = store.times().first().and_then(|&from| Some((from, learning_end(store, &b)?)));
    let opts = ReportOptions { baseline_window, ..ReportOptions::default() };
    let report = Report::build(store, &findings, &lineage, &opts);
    let mut out = Vec::new();
    trailscope_timeline::write::text::write_report(&mut out, &report).expect("render report");
    out.len()
}

/// Peak resident set size of this process (`VmHWM`), on Linux.
pub fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.trim_start_matches("VmHWM:").trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kb * 1024)
}

/// The commit measured: `GITHUB_SHA`/`CI_COMMIT_SHA` or `git describe --always --dirty`.
pub fn commit() -> String {
    for var in ["GITHUB_SHA", "CI_COMMIT_SHA"] {
        if let Ok(v) = std::env::var(var) {
            if !v.is_empty() {
                return v;
            }
        }
    }
    std::process::Command::new("git")
        .args(["describe", "--always", "--dirty", "--abbrev=12"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Measure everything on `inputs` in one run.
///
/// # Errors
/// When the inputs cannot be ingested or hold no event.
pub fn measure(inputs: &[PathBuf], opts: &Options) -> Result<Summary, String> {
    let reps = opts.reps.max(1);
    let iopts = IngestOptions { threads: opts.threads, ..IngestOptions::default() };
    // A first ingest warms the page cache and tells which files are CloudTrail: the probe reads
    // exactly those (ingest also walks and skips the others, which the probe does not).
    let (_, first) = ingest(inputs, &iopts, None).map_err(|e| e.to_string())?;
    let files: Vec<PathBuf> =
        first.files.iter().filter(|f| f.kind != FileKind::Other).map(|f| PathBuf::from(&f.path)).collect();
    let threads = first.threads;
    drop(first);

    // Probe, read floor and ingest alternate, so that all three see the same machine load; the
    // fastest of each is kept.
    let floor_opts = IngestOptions { gate: Some(std::sync::Arc::new(AdmitsNothing)), ..iopts.clone() };
    let (mut probe_t, mut floor_t, mut ingest_t) = (Times::MAX, Times::MAX, Times::MAX);
    let mut kept = None;
    for _ in 0..reps {
        let (_, t) = timed(Stage::Probe, opts, || crate::probe::probe(&files, threads));
        probe_t = probe_t.min(t);
        let (r, t) = timed(Stage::Floor, opts, || ingest(inputs, &floor_opts, None));
        floor_t = floor_t.min(t);
        let stored = r.map_err(|e| e.to_string())?.0.len();
        if stored != 0 {
            return Err(format!("the read floor stored {stored} records: its gate must admit none"));
        }
        drop(kept.take()); // free the previous store before the next ingest
        let (r, t) = timed(Stage::Ingest, opts, || ingest(inputs, &iopts, None));
        ingest_t = ingest_t.min(t);
        kept = Some(r.map_err(|e| e.to_string())?);
    }
    let (store, report) = kept.expect("at least one repetition");
    if store.is_empty() {
        return Err("no CloudTrail event in the inputs".to_owned());
    }

    let rules = RuleSet::builtin();
    let (mut hunt_t, mut analyze_t) = (Times::MAX, Times::MAX);
    for _ in 0..reps {
        let (f, t) = timed(Stage::Hunt, opts, || hunt(&rules, &store));
        drop(f);
        hunt_t = hunt_t.min(t);
        let (_, t) = timed(Stage::Analyze, opts, || analyze(&rules, &store));
        analyze_t = analyze_t.min(t);
    }

    let n = store.len() as f64;
    let mem = store.memory_use();
    let wall = |t: Times| t.wall.as_secs_f64();
    let cpu = |t: Times| t.cpu.as_secs_f64().max(1e-6);
    let fig = |name, value, unit, better, gate| Figure { name, value, unit, better, gate };
    use Better::{Higher, Lower};
    use Gate::{NoGrowth, Ratio, Report as Rep};
    let mut figures = vec![
        fig("ingest_s", wall(ingest_t), "s", Lower, Rep),
        fig("ingest_events_per_s", n / wall(ingest_t), "events/s", Higher, Rep),
        fig("ingest_mb_per_s", report.bytes_uncompressed() as f64 / 1e6 / wall(ingest_t), "MB/s", Higher, Rep),
        fig("probe_s", wall(probe_t), "s", Lower, Rep),
        fig("probe_events_per_s", n / wall(probe_t), "events/s", Higher, Rep),
        // CPU seconds (user + system, all threads) of the fastest repetition: what the gated
        // ratio is made of, for reading a change's effect on each side.
        fig("ingest_cpu_s", cpu(ingest_t), "s", Lower, Rep),
        fig("probe_cpu_s", cpu(probe_t), "s", Lower, Rep),
        fig("read_floor_cpu_s", cpu(floor_t), "s", Lower, Rep),
        fig("hunt_s", wall(hunt_t), "s", Lower, Rep),
        fig("analyze_s", wall(analyze_t), "s", Lower, Rep),
        // Wall-time ratios swing by ±20 % on a loaded machine (threads descheduled unevenly):
        // reported. CPU-time ratios (the work each stage does) stay within ±5 %: gated.
        fig("ingest_over_probe_wall", wall(probe_t) / wall(ingest_t), "ratio", Higher, Rep),
        fig("hunt_over_ingest_wall", wall(hunt_t) / wall(ingest_t), "ratio", Lower, Rep),
        fig("analyze_over_hunt_wall", wall(analyze_t) / wall(hunt_t), "ratio", Lower, Rep),
        fig("ingest_over_probe_cpu", cpu(probe_t) / cpu(ingest_t), "ratio", Higher, Ratio),
        // What ingest does before it stores anything (every file read, hashed, inflated and
        // tape-parsed, every record walked and checked), over the probe: the most
        // `ingest_over_probe_cpu` can reach while the store costs nothing. Reported.
        fig("read_floor_over_probe_cpu", cpu(probe_t) / cpu(floor_t), "ratio", Higher, Rep),
        fig("ingest_over_read_floor_cpu", cpu(floor_t) / cpu(ingest_t), "ratio", Higher, Rep),
        fig("hunt_over_ingest_cpu", cpu(hunt_t) / cpu(ingest_t), "ratio", Lower, Ratio),
        fig("analyze_over_hunt_cpu", cpu(analyze_t) / cpu(hunt_t), "ratio", Lower, Ratio),
        fig("bytes_per_event_columns", mem.columns as f64 / n, "B/event", Lower, NoGrowth),
        fig("bytes_per_event_dictionaries", mem.dictionaries as f64 / n, "B/event", Lower, NoGrowth),
        fig("bytes_per_event_payloads", mem.payloads as f64 / n, "B/event", Lower, NoGrowth),
        fig("bytes_per_event_total", mem.total() as f64 / n, "B/event", Lower, NoGrowth),
    ];
    // What `ingest --save` would write (the manifest aside), against the logs on disk: the case
    // store's size target is at most 1. Gated as a ratio, not "no growth": the case file lists
    // the source files' paths, so it differs by a few bytes with where the checkout lives.
    let case_bytes = store.write_case(&mut std::io::sink(), b"").map_err(|e| e.to_string())?;
    let gz: u64 = report.files.iter().filter(|f| f.kind != FileKind::Other).map(|f| f.size).sum();
    figures.push(fig("case_file_over_gz", case_bytes as f64 / gz.max(1) as f64, "ratio", Lower, Ratio));
    // A case far larger than memory, in miniature: hunted through a block cache of a few blocks,
    // each payload block should still be decompressed about once (rules run stretch by stretch),
    // not once per rule reading payloads.
    let (reads, case_hunt_t) = case_block_reads(&store, &rules)?;
    figures.push(fig("case_hunt_s", wall(case_hunt_t), "s", Lower, Rep));
    figures.push(fig("case_hunt_block_reads_per_block", reads, "ratio", Lower, Ratio));
    if let Some(rss) = peak_rss() {
        figures.push(fig("peak_rss_bytes", rss as f64, "bytes", Lower, Rep));
        figures.push(fig("peak_rss_bytes_per_event", rss as f64 / n, "B/event", Lower, Rep));
    }
    Ok(Summary {
        inputs: inputs.iter().map(|p| p.display().to_string()).collect(),
        events: store.len(),
        files: files.len(),
        bytes_on_disk: report.files.iter().filter(|f| f.kind != FileKind::Other).map(|f| f.size).sum(),
        bytes_uncompressed: report.bytes_uncompressed(),
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        threads,
        reps,
        commit: commit(),
        slowdown: opts.slowdown,
        figures,
    })
}

impl Summary {
    /// The summary as JSON (what `target/bench-summary.json` and `benches/baseline.json` hold).
    pub fn to_json(&self, tolerance: f64) -> Value {
        let mut figures = Map::new();
        for f in &self.figures {
            let tol = match f.gate {
                Gate::Ratio => json!(tolerance),
                Gate::NoGrowth => json!(0.0),
                Gate::Report => Value::Null,
            };
            figures.insert(
                f.name.to_owned(),
                json!({
                    "value": round(f.value),
                    "unit": f.unit,
                    "better": f.better.name(),
                    "gate": f.gate.name(),
                    "tolerance": tol,
                    "cores": self.cores,
                    "commit": self.commit,
                }),
            );
        }
        let not_measured: Map<String, Value> =
            NOT_MEASURED.iter().map(|(k, why)| ((*k).to_owned(), json!(why))).collect();
        json!({
            "format": FORMAT,
            "commit": self.commit,
            "cores": self.cores,
            "threads": self.threads,
            "reps": self.reps,
            "slowdown": self.slowdown.map(|s| format!("{:?}={}", s.stage, s.factor).to_lowercase()),
            "dump": {
                "inputs": self.inputs,
                "events": self.events,
                "files": self.files,
                "bytes_on_disk": self.bytes_on_disk,
                "bytes_uncompressed": self.bytes_uncompressed,
            },
            "figures": figures,
            "not_measured": not_measured,
        })
    }
}

/// Six significant digits: enough for any gate, and a stable baseline diff.
fn round(v: f64) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    let digits = 6 - (v.abs().log10().floor() as i32 + 1);
    let p = 10f64.powi(digits);
    (v * p).round() / p
}

/// A gated figure that got worse than its baseline allows.
#[derive(Clone, Debug, PartialEq)]
pub struct Regression {
    /// Figure name.
    pub figure: String,
    /// Its value now.
    pub value: f64,
    /// Its baseline value.
    pub baseline: f64,
    /// Tolerance (fraction of the baseline).
    pub tolerance: f64,
    /// The worst value still accepted.
    pub limit: f64,
    /// Which way is better.
    pub better: Better,
}

impl std::fmt::Display for Regression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (dir, cmp) = match self.better {
            Better::Higher => ("fell", ">="),
            Better::Lower => ("rose", "<="),
        };
        write!(
            f,
            "{} {dir} to {} (baseline {}, tolerance {} %: must stay {cmp} {})",
            self.figure,
            round(self.value),
            round(self.baseline),
            round(self.tolerance * 100.0),
            round(self.limit)
        )
    }
}

/// The result of comparing a summary with a baseline.
#[derive(Clone, Debug, Default)]
pub struct Comparison {
    /// Gated figures beyond their tolerance.
    pub regressions: Vec<Regression>,
    /// Things a reader should know (figures missing on one side, a different dump or thread
    /// count, gates skipped).
    pub notices: Vec<String>,
}

/// Compare a summary with a baseline (both as written by [`Summary::to_json`]).
///
/// Ratio figures fail when they worsen by more than `tolerance` (a fraction of the baseline
/// value); bytes-per-event figures fail on any growth, but only when both ran on the same dump
/// (same events and files: on another dump they differ legitimately). Other figures are never
/// gated.
pub fn compare(summary: &Value, baseline: &Value, tolerance: f64) -> Comparison {
    let mut c = Comparison::default();
    let same_dump = ["events", "files", "bytes_on_disk"].iter().all(|k| summary["dump"][k] == baseline["dump"][k]);
    if !same_dump {
        c.notices.push(format!(
            "baseline was measured on another dump ({} events in {} files, now {} in {}): bytes per event not gated",
            baseline["dump"]["events"], baseline["dump"]["files"], summary["dump"]["events"], summary["dump"]["files"]
        ));
    }
    if summary["threads"] != baseline["threads"] {
        c.notices.push(format!(
            "baseline used {} threads, this run {}: ratios may shift",
            baseline["threads"], summary["threads"]
        ));
    }
    let empty = Map::new();
    let base = baseline["figures"].as_object().unwrap_or(&empty);
    for (name, f) in summary["figures"].as_object().unwrap_or(&empty) {
        let gate = f["gate"].as_str().unwrap_or("report");
        let tol = match gate {
            "ratio" => tolerance,
            "no-growth" if same_dump => 0.0,
            _ => continue,
        };
        let Some(b) = base.get(name).and_then(|b| b["value"].as_f64()) else {
            c.notices.push(format!("{name}: not in the baseline (new figure), not gated"));
            continue;
        };
        let Some(v) = f["value"].as_f64() else { continue };
        let better = if f["better"] == "higher" { Better::Higher } else { Better::Lower };
        let (limit, bad) = match better {
            Better::Higher => (b * (1.0 - tol), v < b * (1.0 - tol)),
            Better::Lower => (b * (1.0 + tol), v > b * (1.0 + tol)),
        };
        if bad {
            c.regressions.push(Regression {
                figure: name.clone(),
                value: v,
                baseline: b,
                tolerance: tol,
                limit,
                better,
            });
        }
    }
    for name in base.keys() {
        if summary["figures"].get(name).is_none() {
            c.notices.push(format!("{name}: in the baseline but not measured now"));
        }
    }
    c
}

/// A number for people: thousands separators for large values, four significant digits for
/// small ones.
pub fn fmt_value(v: f64) -> String {
    if v.abs() >= 1000.0 {
        let s = format!("{:.0}", v);
        let (sign, digits) = s.split_at(usize::from(s.starts_with('-')));
        let mut out = String::new();
        for (i, ch) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(ch);
        }
        format!("{sign}{out}")
    } else if v.abs() >= 100.0 {
        format!("{v:.1}")
    } else if v.abs() >= 1.0 {
        format!("{v:.3}")
    } else {
        format!("{v:.4}")
    }
}

/// The short table printed after a run: figure, value, unit, better, baseline, gate and verdict.
pub fn table(summary: &Value, baseline: Option<&Value>, regressions: &[Regression]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{:<30} {:>14} {:<9} {:<7} {:>14}  gate", "figure", "value", "unit", "better", "baseline");
    let empty = Map::new();
    for (name, f) in summary["figures"].as_object().unwrap_or(&empty) {
        let v = f["value"].as_f64().unwrap_or(f64::NAN);
        let b = baseline.and_then(|b| b["figures"][name]["value"].as_f64());
        let gate = match f["gate"].as_str().unwrap_or("") {
            "ratio" => format!("ratio ±{} %", f["tolerance"].as_f64().unwrap_or(0.0) * 100.0),
            "no-growth" => "no growth".to_owned(),
            _ => "reported".to_owned(),
        };
        let verdict = if regressions.iter().any(|r| &r.figure == name) {
            "  REGRESSION"
        } else if b.is_some() && f["gate"] != "report" {
            "  ok"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "{:<30} {:>14} {:<9} {:<7} {:>14}  {gate}{verdict}",
            name,
            fmt_value(v),
            f["unit"].as_str().unwrap_or(""),
            f["better"].as_str().unwrap_or(""),
            b.map(fmt_value).unwrap_or_else(|| "-".to_owned()),
        );
    }
    out
}

/// Which files the quick dump is made of (`bench-quick --shape`).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum Shape {
    /// Half in files of at most 20 records, half in ten large files: the CI shape.
    #[default]
    Mixed,
    /// Every event in files of at most 8 records (real trails of quiet accounts and regions).
    Tiny,
    /// Every event in files of about 1,500 records (busy accounts, exports).
    Large,
}

impl Shape {
    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Shape::Mixed => "mixed",
            Shape::Tiny => "tiny",
            Shape::Large => "large",
        }
    }
}

impl FromStr for Shape {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "mixed" => Ok(Shape::Mixed),
            "tiny" => Ok(Shape::Tiny),
            "large" => Ok(Shape::Large),
            _ => Err(format!("unknown dump shape {s:?} (mixed, tiny or large)")),
        }
    }
}

/// Shape of the quick dump.
#[derive(Clone, Debug)]
pub struct DumpShape {
    /// Events in all.
    pub events: usize,
    /// Events in small files (the generator's S3 tree, with the attack); the rest go to large files.
    pub small_events: usize,
    /// Most records per small file.
    pub small_per_file: usize,
    /// Number of large files.
    pub large_files: usize,
}

impl DumpShape {
    /// The CI shape for `events` events: half in files of at most 20 records (the generator's
    /// S3 layout, with the attack), half in ten large files.
    pub fn new(events: usize) -> Self {
        Self::of(Shape::Mixed, events)
    }

    /// `events` events laid out as `shape` says.
    pub fn of(shape: Shape, events: usize) -> Self {
        match shape {
            Shape::Mixed => DumpShape { events, small_events: events / 2, small_per_file: 20, large_files: 10 },
            Shape::Tiny => DumpShape { events, small_events: events, small_per_file: 8, large_files: 0 },
            Shape::Large => {
                DumpShape { events, small_events: 0, small_per_file: 20, large_files: events.div_ceil(1500) }
            }
        }
    }
}

/// Write the quick dump under `dir`: `small/` (the generator's S3 tree with the attack, at most
/// `small_per_file` records per file, no digests) and `large/` (background events of another
/// seed in `large_files` big `{"Records":[…]}` files, as an export or a concatenated archive
/// would have). Either part is left out when it gets no events. Deterministic: same shape, same
/// bytes.
///
/// # Errors
/// I/O errors while writing.
pub fn generate(dir: &Path, shape: &DumpShape) -> std::io::Result<()> {
    use rand::SeedableRng;
    use std::io::Write;
    let half = shape.small_events.min(shape.events);
    let cfg = trailscope_gen::GenConfig {
        events: half,
        days: 3,
        max_records_per_file: shape.small_per_file,
        digests: false,
        ..Default::default()
    };
    if half > 0 {
        trailscope_gen::generate(&cfg, &dir.join("small"))?;
    }
    if shape.events == half || shape.large_files == 0 {
        return Ok(());
    }

    let cfg = trailscope_gen::GenConfig { events: shape.events - half, seed: cfg.seed + 1, ..cfg };
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(cfg.seed);
    let actors = trailscope_gen::background_actors(&mut rng);
    let background = trailscope_gen::Background::new(&cfg, &actors, None);
    let mut records = Vec::new();
    for day in 0..cfg.days.max(1) {
        for burst in background.plan_day(&mut rng, day) {
            background.burst(&mut rng, &burst, |g| records.push(g));
        }
    }
    records.sort_by(|a, b| (&a.account, a.time_ms).cmp(&(&b.account, b.time_ms)));
    let large = dir.join("large");
    std::fs::create_dir_all(&large)?;
    let per_file = records.len().div_ceil(shape.large_files.max(1)).max(1);
    for (i, part) in records.chunks(per_file).enumerate() {
        let body = serde_json::to_vec(&json!({"Records": part.iter().map(|g| &g.record).collect::<Vec<_>>()}))?;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
        enc.write_all(&body)?;
        std::fs::write(large.join(format!("{}_CloudTrail_export_{i:03}.json.gz", part[0].account)), enc.finish()?)?;
    }
    Ok(())
}
