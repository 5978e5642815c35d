#!/usr/bin/env bash
# Issue 10's comparison (`just compare [DUMP]`): the same dump through trailscope, the ceiling
# probe and, when installed, jq, DuckDB and a plain Python gzip+json loop, each counting
# CreateUser events. Not part of CI. See docs/performance.md ("Comparison with other tools").
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --quiet -p trailscope -p trailscope-benches --bin trailscope --bin bench-quick
target="${CARGO_TARGET_DIR:-target}"
dump="${1:-}"
if [ -z "$dump" ]; then
    # The CI quick dump (generated on first use).
    "$target/release/bench-quick" --probe-count CreateUser >/dev/null
    dump="${TRAILSCOPE_BENCH_DIR:-$target/bench-data}/quick-200000"
fi
exec python3 benches/compare/compare.py "$target/release" "$dump"
