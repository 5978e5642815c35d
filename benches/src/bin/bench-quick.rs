//! `bench-quick`: the CI benchmark. See `docs/performance.md` ("Benchmarks in CI").
//!
//! ```text
//! bench-quick [OPTIONS] [PATH...]
//! ```
//!
//! Without PATH it measures the deterministic quick dump (generated once, in a child process,
//! under `target/bench-data/quick-EVENTS/`) and compares with `benches/baseline.json`; with PATH
//! it measures those files and compares only with a `--baseline` given.
//! Exit status: 0 clean, 1 a gated figure regressed, 2 usage or other error.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use trailscope_benches::quick::{self, DumpShape, Options, Shape, DEFAULT_TOLERANCE};

// The allocator the `trailscope` binary uses, so that ingest is measured as it runs there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USAGE: &str = "\
usage: bench-quick [OPTIONS] [PATH...]

Measures ingest, the decode+tape ceiling probe, hunt and analyze in one run, writes
target/bench-summary.json, prints a table and compares with a baseline.

  PATH...              dump(s) to measure (default: the generated quick dump)
  --events N           size of the generated quick dump (default 200000)
  --shape SHAPE        files of the generated quick dump: mixed (default: half in files of at
                       most 20 records, half in ten large files), tiny (at most 8 records per
                       file) or large (about 1,500 records per file); only mixed is compared with
                       benches/baseline.json by default
  --threads N          ingest and probe threads (default 0: one per core)
  --reps N             repetitions per stage, fastest kept (default 3)
  --baseline FILE      baseline to compare with (default benches/baseline.json for the mixed
                       quick dump, none with PATH or another shape)
  --no-compare         do not compare
  --write-baseline     write this run as the baseline (review its diff like a golden file)
  --summary FILE       where to write the summary (default target/bench-summary.json)
  --tolerance F        allowed worsening of ratio figures, a fraction (default 0.25;
                       env TRAILSCOPE_BENCH_TOLERANCE)
  --slowdown STAGE=F   stretch one stage's time by F: probe, floor, ingest, hunt or analyze
                       (env TRAILSCOPE_BENCH_SLOWDOWN), to check that the gate fails
  --probe-count NAME   only run the probe and print how many records have eventName NAME
                       (benches/compare)
";

struct Args {
    paths: Vec<PathBuf>,
    events: usize,
    shape: Shape,
    opts: Options,
    baseline: Option<PathBuf>,
    compare: bool,
    write_baseline: bool,
    summary: PathBuf,
    tolerance: f64,
    generate: Option<PathBuf>,
    count: Option<String>,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        paths: Vec::new(),
        events: 200_000,
        shape: Shape::Mixed,
        opts: Options::default(),
        baseline: None,
        compare: true,
        write_baseline: false,
        summary: trailscope_benches::target_dir().join("bench-summary.json"),
        tolerance: match std::env::var("TRAILSCOPE_BENCH_TOLERANCE") {
            Ok(t) => t.parse().map_err(|_| format!("TRAILSCOPE_BENCH_TOLERANCE={t:?} is not a number"))?,
            Err(_) => DEFAULT_TOLERANCE,
        },
        generate: None,
        count: None,
    };
    if let Ok(s) = std::env::var("TRAILSCOPE_BENCH_SLOWDOWN") {
        if !s.is_empty() {
            a.opts.slowdown = Some(s.parse().map_err(|e| format!("TRAILSCOPE_BENCH_SLOWDOWN: {e}"))?);
        }
    }
    let mut it = std::env::args_os().skip(1);
    while let Some(arg) = it.next() {
        let s = arg.to_string_lossy().into_owned();
        let mut value = |name: &str| {
            it.next().map(|v| v.to_string_lossy().into_owned()).ok_or_else(|| format!("{name} needs a value"))
        };
        let num = |name: &str, v: String| v.parse::<usize>().map_err(|_| format!("{name}: not a number: {v:?}"));
        match s.as_str() {
            "-h" | "--help" => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            "--events" => a.events = num("--events", value("--events")?)?,
            "--shape" => a.shape = value("--shape")?.parse()?,
            "--threads" | "-j" => a.opts.threads = num("--threads", value("--threads")?)?,
            "--reps" => a.opts.reps = num("--reps", value("--reps")?)?,
            "--baseline" => a.baseline = Some(value("--baseline")?.into()),
            "--no-compare" => a.compare = false,
            "--write-baseline" => a.write_baseline = true,
            "--summary" => a.summary = value("--summary")?.into(),
            "--tolerance" => {
                let v = value("--tolerance")?;
                a.tolerance = v.parse().map_err(|_| format!("--tolerance: not a number: {v:?}"))?;
            }
            "--slowdown" => a.opts.slowdown = Some(value("--slowdown")?.parse()?),
            "--generate" => a.generate = Some(value("--generate")?.into()),
            "--probe-count" => a.count = Some(value("--probe-count")?),
            _ if s.starts_with('-') => return Err(format!("unknown option {s}")),
            _ => a.paths.push(arg.into()),
        }
    }
    if !(0.0..1.0).contains(&a.tolerance) {
        return Err(format!("tolerance must be in [0, 1), got {}", a.tolerance));
    }
    if a.paths.is_empty() && a.shape == Shape::Mixed && a.baseline.is_none() {
        a.baseline = Some(trailscope_benches::workspace_dir().join("benches/baseline.json"));
    }
    if a.write_baseline && a.baseline.is_none() {
        return Err("--write-baseline with PATH or --shape tiny|large needs --baseline FILE".to_owned());
    }
    Ok(a)
}

/// The quick dump, generated in a child process so that the generator's memory does not count
/// in this process's peak RSS.
fn quick_dump(shape: Shape, events: usize) -> Result<PathBuf, String> {
    // The mixed dump keeps its historical directory name, so existing caches stay valid.
    let name = match shape {
        Shape::Mixed => format!("quick-{events}"),
        other => format!("quick-{}-{events}", other.name()),
    };
    let dir = trailscope_benches::bench_dir().join(name);
    if dir.join(".complete").exists() {
        return Ok(dir);
    }
    let t = Instant::now();
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let status = std::process::Command::new(exe)
        .arg("--generate")
        .arg(&dir)
        .args(["--events", &events.to_string(), "--shape", shape.name()])
        .status()
        .map_err(|e| format!("starting the generator: {e}"))?;
    if !status.success() {
        return Err(format!("generating {} failed ({status})", dir.display()));
    }
    eprintln!("bench-quick: generated {} in {:.1} s", dir.display(), t.elapsed().as_secs_f64());
    Ok(dir)
}

fn run() -> Result<bool, String> {
    let a = parse()?;
    if let Some(dir) = &a.generate {
        let _ = std::fs::remove_dir_all(dir);
        quick::generate(dir, &DumpShape::of(a.shape, a.events)).map_err(|e| format!("{}: {e}", dir.display()))?;
        std::fs::write(dir.join(".complete"), b"").map_err(|e| e.to_string())?;
        return Ok(true);
    }
    let paths = if a.paths.is_empty() { vec![quick_dump(a.shape, a.events)?] } else { a.paths.clone() };
    if let Some(name) = &a.count {
        // For benches/compare: the probe alone, answering "how many NAME events".
        let files: Vec<PathBuf> = trailscope_ingest::discover(&paths, false)
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|f| f.path)
            .collect();
        let r = trailscope_benches::probe::probe_counting(&files, a.opts.threads, Some(name));
        println!("{}", r.matches);
        return Ok(true);
    }
    let t = Instant::now();
    let mut summary = quick::measure(&paths, &a.opts)?;
    if a.paths.is_empty() {
        // Not the local path: the baseline should read the same on every machine.
        summary.inputs = match a.shape {
            Shape::Mixed => vec![format!("generated: quick dump, {} events (bench-quick --events)", a.events)],
            s => vec![format!(
                "generated: quick dump, {} shape, {} events (bench-quick --shape --events)",
                s.name(),
                a.events
            )],
        };
    }
    let json = summary.to_json(a.tolerance);
    let text = serde_json::to_string_pretty(&json).expect("summary to JSON") + "\n";
    if let Some(dir) = a.summary.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(&a.summary, &text).map_err(|e| format!("{}: {e}", a.summary.display()))?;
    println!(
        "bench-quick: {} events in {} files ({:.0} MB gz, {:.0} MB uncompressed), {} threads on {} cores, commit {}{}",
        summary.events,
        summary.files,
        summary.bytes_on_disk as f64 / 1e6,
        summary.bytes_uncompressed as f64 / 1e6,
        summary.threads,
        summary.cores,
        summary.commit,
        summary.slowdown.map(|s| format!(", SLOWDOWN {:?} x{}", s.stage, s.factor)).unwrap_or_default(),
    );

    if a.write_baseline {
        let path = a.baseline.as_ref().expect("checked in parse");
        std::fs::write(path, &text).map_err(|e| format!("{}: {e}", path.display()))?;
        print!("{}", quick::table(&json, None, &[]));
        println!("bench-quick: baseline written to {} (review its diff before committing)", path.display());
        return Ok(true);
    }
    let baseline = match (&a.baseline, a.compare) {
        (Some(p), true) => {
            let b = std::fs::read_to_string(p).map_err(|e| format!("baseline {}: {e}", p.display()))?;
            Some(serde_json::from_str(&b).map_err(|e| format!("baseline {}: {e}", p.display()))?)
        }
        _ => None,
    };
    let cmp = baseline.as_ref().map(|b| quick::compare(&json, b, a.tolerance)).unwrap_or_default();
    print!("{}", quick::table(&json, baseline.as_ref(), &cmp.regressions));
    println!("bench-quick: measured in {:.1} s; summary in {}", t.elapsed().as_secs_f64(), a.summary.display());
    if !quick::NOT_MEASURED.is_empty() {
        println!(
            "bench-quick: not measured yet: {}",
            quick::NOT_MEASURED.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(", ")
        );
    }
    for n in &cmp.notices {
        println!("bench-quick: notice: {n}");
    }
    match (&baseline, cmp.regressions.is_empty()) {
        (None, _) => println!("bench-quick: no baseline compared"),
        (Some(_), true) => println!(
            "bench-quick: OK against {} (ratios within {} %, bytes per event not grown)",
            a.baseline.as_ref().expect("baseline path").display(),
            a.tolerance * 100.0
        ),
        (Some(_), false) => {
            for r in &cmp.regressions {
                eprintln!("bench-quick: REGRESSION: {r}");
            }
            eprintln!(
                "bench-quick: if the change is intended, update the baseline with `just bench-baseline` and review its diff"
            );
        }
    }
    Ok(cmp.regressions.is_empty())
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("bench-quick: {e}");
            ExitCode::from(2)
        }
    }
}
