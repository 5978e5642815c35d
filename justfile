# Developer conveniences; the README's two commands need only cargo.

# Run the main job on the bundled sample.
analyze:
    cargo run --release -- analyze testdata/sample

# Everything CI runs.
ci:
    bash .ci/run

test:
    cargo test --workspace

# Rewrite golden files after an intended output change (review the diff!).
golden:
    UPDATE_GOLDEN=1 cargo test --workspace

# Regenerate the bundled sample dump and its ground truth (deterministic).
sample:
    rm -rf testdata/sample
    cargo run --release -p trailscope-gen -- --out testdata/sample --truth testdata/sample-truth.json

# Generate a large dump for benchmarks (1M events by default) under bench-data/. The generator
# streams to disk (peak memory well under 2 GB), so `just bench-data 20000000` works too.
bench-data events="1000000":
    rm -rf bench-data/dump-{{events}}
    cargo run --release -p trailscope-gen -- --out bench-data/dump-{{events}} --events {{events}} --days 7 --truth bench-data/truth-{{events}}.json

# The same, shaped like a trail that logs S3 data events (large payloads, many tiny files).
bench-data-heavy events="1000000":
    rm -rf bench-data/heavy-{{events}}
    cargo run --release -p trailscope-gen -- --out bench-data/heavy-{{events}} --events {{events}} --days 7 --profile data-heavy --truth bench-data/heavy-truth-{{events}}.json

bench:
    cargo bench -p trailscope-benches

# The CI benchmark: ratios and bytes per event against benches/baseline.json (see
# docs/performance.md). With a PATH, measures your own archive: `just bench-quick --baseline
# ci/bench-baseline.json /data/AWSLogs`. TRAILSCOPE_BENCH_SLOWDOWN=ingest=2 checks the gate.
bench-quick *args:
    bash benches/quick.sh {{args}}

# Rewrite the baseline from this machine (review the diff like a golden file!). With a PATH,
# give --baseline FILE too.
bench-baseline *args:
    bash benches/quick.sh --write-baseline {{args}}

# Issue 10's comparison: trailscope, the ceiling probe, and jq / DuckDB / Python when installed.
compare *args:
    bash benches/compare/run.sh {{args}}

# Coverage-guided fuzzing with AFL++ on the stable toolchain (needs `cargo install cargo-afl`
# once; it builds AFL++ itself on first use). Every target runs SECS seconds (default 120);
# the table at the end gives executions, time and findings per target. See fuzz/README.md.
fuzz secs="120" *targets: fuzz-build
    bash fuzz/run.sh {{secs}} {{targets}}

# Build the instrumented fuzz targets only.
fuzz-build:
    cd fuzz && cargo afl build --release
# The exported rule SQL on Spark (local mode, pyspark + Java 17) over the Parquet export of
# EVIDENCE, compared with hunt (docs/export.md). Not in CI: slow, and it downloads pyspark.
spark-check evidence="testdata/sample":
    #!/usr/bin/env bash
    set -euo pipefail
    python3 -c "import pyspark" 2>/dev/null || python3 -m pip install -q pyspark
    tmp=$(mktemp -d)
    cargo build --release -q
    bin=${CARGO_TARGET_DIR:-target}/release/trailscope
    "$bin" export -q {{evidence}} --parquet "$tmp/pq"
    "$bin" rules export --sql spark > "$tmp/rules.sql" 2> "$tmp/refused.txt" || true
    "$bin" hunt -q --no-baseline --format jsonl {{evidence}} > "$tmp/hunt.jsonl" || true
    python3 scripts/spark_check.py "$tmp/pq" "$tmp/rules.sql" "$tmp/hunt.jsonl"
