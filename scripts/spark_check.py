#!/usr/bin/env python3
"""The exported rule SQL (--sql spark) on Spark in local mode over the Parquet export, compared
with hunt's (rule, eventID) pairs. Usage: spark_check.py EXPORT_DIR RULES_SQL HUNT_JSONL.
Prints the figures and every rule whose pairs differ; exit 1 when any differ."""
import json
import re
import sys
import time

from pyspark.sql import SparkSession

export_dir, sql_file, hunt_file = sys.argv[1:4]
spark = (
    SparkSession.builder.master("local[2]")
    .appName("trailscope-spark-check")
    .config("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
    .config("spark.ui.enabled", "false")
    .config("spark.ui.showConsoleProgress", "false")
    .getOrCreate()
)
spark.sparkContext.setLogLevel("ERROR")
started = time.time()
spark.read.parquet(export_dir).createOrReplaceTempView("events")
rows = spark.sql("SELECT count(*) FROM events").collect()[0][0]
got, failed = set(), []
statements = [s for s in open(sql_file).read().split(";\n")]
translated = set()
for stmt in statements:
    body = "\n".join(l for l in stmt.splitlines() if not l.startswith("--")).strip()
    if not body:
        continue
    # The query's last SELECT names the rule (counting rules open with WITH).
    rule = re.findall(r"^SELECT '([^']*)' AS rule_id", body, re.M)[-1]
    translated.add(rule)
    try:
        for r in spark.sql(body).collect():
            got.add((r[0], r[1]))
    except Exception as e:  # a statement Spark refuses is a finding of this check
        failed.append((rule, str(e).splitlines()[0]))
want = set()
for line in open(hunt_file):
    f = json.loads(line)
    if f["rule"] in translated:
        for i in f["event_ids"]:
            want.add((f["rule"], i))
elapsed = time.time() - started
diff_rules = sorted({r for r, _ in want ^ got})
print(f"spark {spark.version}: {rows} events, {len(translated)} queries, {len(failed)} refused by Spark, "
      f"{len(got)} pairs (hunt {len(want)}), {len(diff_rules)} rules differ, {elapsed:.1f} s")
for rule, err in failed:
    print(f"  spark error: {rule}: {err}")
for rule in diff_rules:
    miss = sorted(i for r, i in want - got if r == rule)
    extra = sorted(i for r, i in got - want if r == rule)
    print(f"  differs: {rule}: missed {len(miss)}, extra {len(extra)}")
sys.exit(1 if failed or diff_rules else 0)
