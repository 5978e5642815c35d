#!/usr/bin/env bash
# Run every fuzz target for a bounded time (seconds each, default 120) with AFL++ (cargo-afl),
# then print executions, run time and findings per target. Findings land in
# fuzz/out/<target>/default/crashes and hangs: replay one with
# `target/release/<target> < file`, then make it a regression test (fuzz/README.md).
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-120}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(read_file sigma condition ioc time)
bin="${CARGO_TARGET_DIR:-target}/release"
export AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_AFFINITY=1
for t in "${targets[@]}"; do
    mkdir -p "out/$t"
    # -V: stop after this many seconds; an existing out/<t> resumes ("-i -").
    if [ -f "out/$t/default/fuzzer_stats" ]; then input=(-i -); else input=(-i "corpus/$t"); fi
    cargo afl fuzz -V "$secs" "${input[@]}" -o "out/$t" "$bin/$t" >"out/$t.log" 2>&1 || {
        echo "$t: afl-fuzz failed, see fuzz/out/$t.log" >&2
        continue
    }
done
printf '%-10s %12s %8s %10s %8s %6s\n' target executions seconds exec/s crashes hangs
for t in "${targets[@]}"; do
    s="out/$t/default/fuzzer_stats"
    [ -f "$s" ] || { echo "$t: no stats"; continue; }
    v() { awk -F' *: *' -v k="$1" '$1==k {print $2}' "$s"; }
    printf '%-10s %12s %8s %10s %8s %6s\n' "$t" "$(v execs_done)" "$(v run_time)" "$(v execs_per_sec)" \
        "$(v saved_crashes)" "$(v saved_hangs)"
done
