#!/usr/bin/env python3
"""Time tools on one question over one dump: how many CreateUser events.

usage: compare.py BIN_DIR DUMP   (BIN_DIR holds the release `trailscope` and `bench-quick`)

Each tool runs as a child process; wall time and peak RSS (ru_maxrss of the child and the
processes it waited for) come from wait4. Absent peers print a notice and are skipped.
"""
import os
import shutil
import subprocess
import sys
import time

QUESTION = "CreateUser"

PY_LOOP = r"""
import gzip, json, os, sys
from multiprocessing import Pool
def count(path):
    with open(path, 'rb') as f:
        data = f.read()
    if data[:2] == b'\x1f\x8b':
        data = gzip.decompress(data)
    try:
        doc = json.loads(data)
    except ValueError:
        return 0
    recs = doc.get('Records', []) if isinstance(doc, dict) else []
    return sum(1 for r in recs if r.get('eventName') == sys.argv[2])
files = [os.path.join(d, f) for d, _, fs in os.walk(sys.argv[1]) for f in fs if not f.startswith('.')]
with Pool(os.cpu_count()) as p:
    print(sum(p.map(count, sorted(files), chunksize=16)))
"""

DUCKDB = r"""
import duckdb, sys
con = duckdb.connect()
con.execute(f"SET threads TO {__import__('os').cpu_count()}")
q = f'''SELECT count(*) FROM (
  SELECT unnest(Records) AS r
  FROM read_json('{sys.argv[1]}/**/*.json.gz', columns={{'Records': 'JSON[]'}}, maximum_object_size=1073741824)
) WHERE r->>'eventName' = '{sys.argv[2]}' '''
print(con.execute(q).fetchone()[0])
"""

# The same with the one field declared: DuckDB parses only eventName (its fastest honest form).
DUCKDB_DECLARED = r"""
import duckdb, sys
con = duckdb.connect()
con.execute(f"SET threads TO {__import__('os').cpu_count()}")
q = f'''SELECT count(*) FROM (
  SELECT unnest(Records) AS r
  FROM read_json('{sys.argv[1]}/**/*.json.gz', columns={{'Records': 'STRUCT("eventName" VARCHAR)[]'}},
                 maximum_object_size=1073741824)
) WHERE r.eventName = '{sys.argv[2]}' '''
print(con.execute(q).fetchone()[0])
"""


def run(cmd, shell=False):
    """(seconds, peak RSS bytes, stdout) of one child process."""
    start = time.monotonic()
    p = subprocess.Popen(cmd, shell=shell, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = p.stdout.read()
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    secs = time.monotonic() - start
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise RuntimeError(err.decode(errors="replace").strip()[-500:])
    return secs, ru.ru_maxrss * 1024, out.decode().strip()


def main():
    bin_dir, dump = sys.argv[1], sys.argv[2]
    trailscope = os.path.join(bin_dir, "trailscope")
    quick = os.path.join(bin_dir, "bench-quick")
    # The number of events, from trailscope's own ingest (JSON summary of `ingest`).
    tools = [
        ("trailscope", [trailscope, "events", "-q", dump, "--event-name", QUESTION, "--format", "csv"], False, "csv"),
        ("ceiling probe", [quick, "--probe-count", QUESTION, dump], False, "n"),
    ]
    if shutil.which("jq") and shutil.which("gzip"):
        cmd = (f"find '{dump}' -name '*.json.gz' -print0 | xargs -0 -n 256 -P {os.cpu_count()} sh -c "
               f"'gzip -dc \"$@\" | jq -c \".Records[]? | select(.eventName == \\\"{QUESTION}\\\") | 1\"' sh | wc -l")
        tools.append(("jq (gzip -dc | jq)", cmd, True, "n"))
    else:
        print("compare: jq not installed, skipped (Debian: apt-get install jq)")
    tools.append(("Python gzip+json", [sys.executable, "-c", PY_LOOP, dump, QUESTION], False, "n"))
    try:
        import duckdb  # noqa: F401
        tools.append(("DuckDB read_json", [sys.executable, "-c", DUCKDB, dump, QUESTION], False, "n"))
        tools.append(("DuckDB, field declared", [sys.executable, "-c", DUCKDB_DECLARED, dump, QUESTION], False, "n"))
    except ImportError:
        print("compare: DuckDB not installed, skipped (pip install duckdb)")

    # trailscope on a case file saved once (`ingest --save`, not timed): re-analysis of an incident.
    case = os.path.join(bin_dir, "compare-case.tscase")
    try:
        run([trailscope, "ingest", "-q", dump, "--save", case])
        tools.insert(1, ("trailscope, saved case", [trailscope, "events", "-q", case, "--event-name", QUESTION,
                                                    "--format", "csv"], False, "csv"))
    except (RuntimeError, OSError) as e:
        print(f"compare: could not save a case file, skipped: {e}")

    events = None
    rows = []
    for name, cmd, shell, kind in tools:
        try:
            secs, rss, out = run(cmd, shell)
        except (RuntimeError, OSError) as e:
            print(f"compare: {name} failed, skipped: {e}")
            continue
        if kind == "csv":
            count = max(len(out.splitlines()) - 1, 0)
        else:
            count = int(out.split()[-1]) if out else 0
        rows.append((name, secs, rss, count))
    # Events in the dump: trailscope's ingest count ("Records: N found, M stored, ...").
    _, _, out = run([trailscope, "ingest", "-q", dump])
    line = next((l for l in out.splitlines() if l.startswith("Records:")), "")
    words = line.split()
    events = int(words[3]) if len(words) > 3 and words[3].isdigit() else None
    base = next((r for r in rows if r[0] == "trailscope"), None)
    print(f"dump: {dump}  events: {events if events is not None else '?'}  question: count {QUESTION}")
    print(f"{'tool':<22} {'count':>6} {'time s':>8} {'events/s':>11} {'peak RSS MiB':>13} {'time vs trailscope':>20}")
    for name, secs, rss, count in rows:
        evs = f"{events / secs:,.0f}" if events else "?"
        ratio = f"{secs / base[1]:.2f}x" if base else "-"
        print(f"{name:<22} {count:>6} {secs:>8.2f} {evs:>11} {rss / 2**20:>13.0f} {ratio:>20}")
    if base:
        for name, secs, _, _ in rows:
            if name.startswith("DuckDB") or name.startswith("jq"):
                print(f"trailscope / {name}: {secs / base[1]:.1f}x faster")
    counts = {r[3] for r in rows}
    if len(counts) > 1:
        print("compare: WARNING: the tools disagree on the count")


if __name__ == "__main__":
    main()
