#!/usr/bin/env bash
# The CI benchmark (`just bench-quick`, last step of .ci/run): builds only the bench-quick
# binary, in release mode, and runs it with the given arguments (see `bench-quick --help` and
# docs/performance.md). Exit status: 0 clean, 1 a gated figure regressed, 2 error.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo run --release --quiet -p trailscope-benches --bin bench-quick -- "$@"
