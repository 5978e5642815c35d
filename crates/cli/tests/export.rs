//! `export --parquet` and `rules export --sql duckdb`, checked on a real engine: DuckDB (the
//! Python package) reads the export back, and the exported SQL finds exactly what `hunt` finds.
//! Skips with a notice when python3 or its duckdb package is absent.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{run_on, sample, stderr, stdout};
use serde_json::Value;

/// Runs a Python script with DuckDB; `None` (after a notice) when DuckDB is not installed.
fn duckdb(script: &str, args: &[&Path]) -> Option<String> {
    let probe = Command::new("python3").args(["-c", "import duckdb"]).output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!("notice: python3 with the duckdb package is absent; skipping the DuckDB check (pip install duckdb)");
        return None;
    }
    let out = Command::new("python3").arg("-c").arg(script).args(args).output().expect("run python3");
    assert!(out.status.success(), "DuckDB script failed: {}", String::from_utf8_lossy(&out.stderr));
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Python: the export as the view `events`, then every statement of the SQL file, printing each
/// result row as a JSON array.
const RUN_SQL: &str = r#"
import duckdb, json, sys
con = duckdb.connect()
glob = (sys.argv[1] + "/**/*.parquet").replace("'", "''")
con.execute(f"CREATE VIEW events AS SELECT * FROM read_parquet('{glob}', hive_partitioning = true, hive_types_autocast = false)")
sql = open(sys.argv[2]).read()
for stmt in sql.split(";\n"):
    body = "\n".join(l for l in stmt.splitlines() if not l.startswith("--")).strip()
    if body:
        for row in con.execute(body).fetchall():
            print(json.dumps([str(c) if c is not None and not isinstance(c, (int, str, bool)) else c for c in row]))
"#;

fn export(evidence: &Path, dir: &Path) {
    let o = run_on(&["export", "-q", "--parquet", dir.to_str().unwrap()], &[evidence]);
    assert!(o.status.success(), "export failed: {}", stderr(&o));
}

fn write_sql(dir: &Path, sql: &str) -> PathBuf {
    let p = dir.join("q.sql");
    std::fs::write(&p, sql).unwrap();
    p
}

#[test]
fn duckdb_reads_back_every_event_with_its_values() {
    let tmp = tempfile::tempdir().unwrap();
    let pq = tmp.path().join("pq");
    export(&sample(), &pq);
    let sql = write_sql(
        tmp.path(),
        "SELECT eventID, eventName, userIdentity_arn, epoch_ms(eventTime), requestParameters, readOnly, account, region, \"date\", sourceFile, recordIndex FROM events;\n",
    );
    let Some(out) = duckdb(RUN_SQL, &[&pq, &sql]) else { return };
    let rows: BTreeMap<String, Value> = out
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|r| (r[0].as_str().unwrap_or_default().to_owned(), r))
        .collect();
    let events = run_on(&["events", "-q", "--format", "jsonl"], &[&sample()]);
    let records: Vec<Value> = stdout(&events).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(records.len() > 100, "the sample has events");
    assert_eq!(out.lines().count(), records.len(), "one row per event");
    for rec in &records {
        let id = rec["eventID"].as_str().unwrap();
        let row = &rows[id];
        assert_eq!(row[1], rec["eventName"], "{id}");
        assert_eq!(row[2].as_str(), rec["userIdentity"]["arn"].as_str(), "{id}");
        let t = rec["eventTime"].as_str().unwrap();
        let secs = chrono::DateTime::parse_from_rfc3339(t).unwrap().timestamp_millis();
        assert_eq!(row[3].as_i64(), Some(secs), "{id}: eventTime");
        let params: Option<Value> = row[4].as_str().map(|s| serde_json::from_str(s).unwrap());
        assert_eq!(params.as_ref(), rec.get("requestParameters"), "{id}: requestParameters");
        assert_eq!(row[5].as_bool(), rec["readOnly"].as_bool(), "{id}: readOnly");
        assert_eq!(row[6].as_str(), rec["recipientAccountId"].as_str(), "{id}: account partition");
        assert_eq!(row[7].as_str(), rec["awsRegion"].as_str(), "{id}: region partition");
        assert_eq!(row[8].as_str(), Some(&t[..10]), "{id}: date partition");
        assert!(row[9].as_str().unwrap().ends_with(".json.gz") || row[9].as_str().unwrap().ends_with(".json"));
        assert!(row[10].as_i64().is_some());
    }
}

/// User rules for the tests the built-in pack does not use (CIDR, keywords, numbers, `|cased`,
/// `|re`, wildcards, null, `exists: false`, `|fieldref`); each one fires on the sample.
const EXTRA_RULES: &str = r#"title: Calls from a documentation network
id: t-cidr
logsource: {product: aws, service: cloudtrail}
detection:
  selection:
    sourceIPAddress|cidr: [198.51.100.0/25, 44.198.0.0/16]
  condition: selection
level: low
---
title: Terraform keyword
id: t-keyword
logsource: {product: aws, service: cloudtrail}
detection:
  keywords: [terraform-provider, 'nextToken']
  condition: keywords
level: low
---
title: Page size below 200
id: t-num
logsource: {product: aws, service: cloudtrail}
detection:
  selection:
    requestParameters.maxResults|lt: 200
  condition: selection
level: low
---
title: Cased and regex
id: t-cased
logsource: {product: aws, service: cloudtrail}
detection:
  a:
    userAgent|cased|contains: Boto3
  b:
    userAgent|re: '(?i)darwin/2[0-9]'
  c:
    eventName: 'Describe*'
  d:
    requestParameters.nextToken: null
  e:
    errorCode|exists: false
  condition: (a or b or c) and d and not e
level: low
---
title: Request names the caller
id: t-fieldref
logsource: {product: aws, service: cloudtrail}
detection:
  selection:
    requestParameters.userName|fieldref: userIdentity.userName
  condition: selection
level: low
"#;

/// The (rule, eventID) pairs `hunt` reports for the given rules.
fn hunt_pairs(evidence: &Path, extra: &Path, rules: &BTreeSet<String>) -> BTreeSet<(String, String)> {
    let o =
        run_on(&["hunt", "-q", "--no-baseline", "--format", "jsonl", "--rules", extra.to_str().unwrap()], &[evidence]);
    assert!(o.status.code().is_some_and(|c| c <= 1), "hunt failed: {}", stderr(&o));
    let mut pairs = BTreeSet::new();
    for line in stdout(&o).lines() {
        let f: Value = serde_json::from_str(line).unwrap();
        let rule = f["rule"].as_str().unwrap().to_owned();
        if rules.contains(&rule) {
            for id in f["event_ids"].as_array().unwrap() {
                pairs.insert((rule.clone(), id.as_str().unwrap().to_owned()));
            }
        }
    }
    pairs
}

/// Export `evidence`, run `rules export --sql duckdb` (built-in pack and [`EXTRA_RULES`]) over
/// it in DuckDB, compare with `hunt`; returns the pairs.
fn equivalence(evidence: &Path) -> BTreeSet<(String, String)> {
    let tmp = tempfile::tempdir().unwrap();
    let pq = tmp.path().join("pq");
    export(evidence, &pq);
    let extra = tmp.path().join("extra.yml");
    std::fs::write(&extra, EXTRA_RULES).unwrap();
    let o = common::run(&["rules", "export", "--sql", "duckdb", "--rules", extra.to_str().unwrap()]);
    assert!(o.status.success(), "rules export failed: {}", stderr(&o));
    let sql = stdout(&o);
    let translated: BTreeSet<String> = sql
        .lines()
        .filter_map(|l| l.strip_prefix("SELECT '")?.split_once("' AS rule_id").map(|(id, _)| id.to_owned()))
        .collect();
    assert!(translated.len() > 100, "most of the built-in pack translates ({} did)", translated.len());
    // Every rule left out is named with its reason.
    for line in stderr(&o).lines().filter(|l| l.starts_with("not translated: ")) {
        let id = line["not translated: ".len()..].split(':').next().unwrap();
        assert!(sql.contains(&format!("-- {id}: ")), "refusal of {id} is in the SQL too");
    }
    let file = write_sql(tmp.path(), &sql);
    let Some(out) = duckdb(RUN_SQL, &[&pq, &file]) else { return BTreeSet::new() };
    let got: BTreeSet<(String, String)> = out
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|r| (r[0].as_str().unwrap().to_owned(), r[1].as_str().unwrap_or_default().to_owned()))
        .collect();
    let want = hunt_pairs(evidence, &extra, &translated);
    assert!(!want.is_empty(), "the evidence raises findings");
    let missing: Vec<_> = want.difference(&got).collect();
    let extra: Vec<_> = got.difference(&want).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{}: DuckDB differs from hunt.\nmissed by SQL: {missing:#?}\nonly in SQL: {extra:#?}",
        evidence.display()
    );
    got
}

#[test]
fn exported_sql_on_duckdb_finds_what_hunt_finds_on_the_sample() {
    let pairs = equivalence(&sample());
    if pairs.is_empty() {
        return; // DuckDB absent (notice printed)
    }
    for id in ["t-cidr", "t-keyword", "t-num", "t-cased", "t-fieldref"] {
        assert!(pairs.iter().any(|(r, _)| r == id), "{id} fires on the sample, so its translation is checked");
    }
}

#[test]
fn exported_sql_on_duckdb_finds_what_hunt_finds_on_the_stratus_corpus() {
    let stratus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora/stratus");
    if !stratus.is_dir() {
        eprintln!("notice: {} is absent; skipping the Stratus equivalence check", stratus.display());
        return;
    }
    equivalence(&stratus);
}

#[test]
fn export_refuses_a_directory_that_is_not_empty() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("x"), "").unwrap();
    let o = run_on(&["export", "-q", "--parquet", tmp.path().to_str().unwrap()], &[&sample()]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("not empty"), "{}", stderr(&o));
}
