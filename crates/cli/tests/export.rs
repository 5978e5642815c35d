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
/// `|re`, wildcards, null, `exists: false`, `|fieldref`), and counting rules with the shapes the
/// pack does not have (several group-by fields, JSON paths, `==`, `<`, no window, correlations
/// over two rules); each one fires on the sample.
const EXTRA_RULES: &str = r#"title: Writes that are management events (flag columns)
id: t-flags
logsource: {product: aws, service: cloudtrail}
detection:
  selection:
    readOnly: 'false'
    managementEvent: true
  condition: selection
level: low
---
title: Calls from a documentation network
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
---
title: Read bursts per principal and address
id: t-agg-count
logsource: {product: aws, service: cloudtrail}
detection:
  selection:
    eventName|startswith: [List, Describe, Get]
  timeframe: 2m
  condition: selection | count() by userIdentity.arn, sourceIPAddress >= 8
level: low
---
title: Many keys of one bucket
id: t-agg-json
logsource: {product: aws, service: cloudtrail}
detection:
  selection:
    eventSource: s3.amazonaws.com
  timeframe: 30m
  condition: selection | count(requestParameters.key) by requestParameters.bucketName > 3
level: low
---
title: Exactly four calls from an address in a minute
id: t-agg-eq
logsource: {product: aws, service: cloudtrail}
detection:
  selection:
    eventSource: [s3.amazonaws.com, sts.amazonaws.com, kms.amazonaws.com]
  timeframe: 1m
  condition: selection | count() by sourceIPAddress == 4
level: low
---
title: Principals calling many different APIs
id: t-agg-whole
logsource: {product: aws, service: cloudtrail}
detection:
  selection:
    errorCode: null
  condition: selection | count(eventName) by userIdentity.arn > 20
level: low
---
title: Regions with few denied calls
id: t-agg-few
logsource: {product: aws, service: cloudtrail}
detection:
  selection:
    errorCode|exists: true
  timeframe: 10m
  condition: selection | count() by awsRegion < 8
level: low
---
title: Calls from one address in bursts (correlation)
id: t-corr-events
logsource: {product: aws, service: cloudtrail}
correlation:
  type: event_count
  rules: [t-base-object, t-base-decrypt]
  group-by: [sourceIPAddress]
  timespan: 5m
  condition:
    gte: 6
level: low
---
title: Object call (correlation base)
id: t-base-object
name: t-base-object
logsource: {product: aws, service: cloudtrail}
detection:
  selection:
    eventName: [GetObject, PutObject, HeadObject]
  condition: selection
level: low
---
title: Decrypt (correlation base)
id: t-base-decrypt
name: t-base-decrypt
logsource: {product: aws, service: cloudtrail}
detection:
  selection:
    eventName: Decrypt
  condition: selection
level: low
---
title: One principal touching several buckets (correlation)
id: t-corr-values
logsource: {product: aws, service: cloudtrail}
correlation:
  type: value_count
  rules: [t-base-object]
  group-by: [userIdentity.arn]
  timespan: 20m
  condition:
    gte: 3
    field: requestParameters.bucketName
level: low
"#;

/// The user rules above that count events; each one fires on the sample.
const COUNTING_RULES: [&str; 7] =
    ["t-agg-count", "t-agg-json", "t-agg-eq", "t-agg-whole", "t-agg-few", "t-corr-events", "t-corr-values"];

/// A counting rule's finding: rule, group, its events.
type Finding = (String, String, BTreeSet<String>);

/// The (rule, eventID) pairs `hunt` reports for the given rules, and its grouped findings.
fn hunt_findings(
    evidence: &Path,
    extra: &Path,
    rules: &BTreeSet<String>,
) -> (BTreeSet<(String, String)>, BTreeSet<Finding>) {
    let o =
        run_on(&["hunt", "-q", "--no-baseline", "--format", "jsonl", "--rules", extra.to_str().unwrap()], &[evidence]);
    assert!(o.status.code().is_some_and(|c| c <= 1), "hunt failed: {}", stderr(&o));
    let (mut pairs, mut grouped) = (BTreeSet::new(), BTreeSet::new());
    for line in stdout(&o).lines() {
        let f: Value = serde_json::from_str(line).unwrap();
        let rule = f["rule"].as_str().unwrap().to_owned();
        if rules.contains(&rule) {
            let ids: BTreeSet<String> =
                f["event_ids"].as_array().unwrap().iter().map(|i| i.as_str().unwrap().to_owned()).collect();
            pairs.extend(ids.iter().map(|id| (rule.clone(), id.clone())));
            if let Some(g) = f["group"].as_str() {
                grouped.insert((rule, g.to_owned(), ids));
            }
        }
    }
    (pairs, grouped)
}

/// Export `evidence`, run `rules export --sql duckdb` (built-in pack and [`EXTRA_RULES`]) over
/// it in DuckDB, compare with `hunt`: the (rule, eventID) pairs, and for counting rules the
/// findings (group and burst). Returns the pairs.
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
    for id in COUNTING_RULES {
        assert!(translated.contains(id), "{id} translates");
    }
    // Every rule left out is named with its reason.
    for line in stderr(&o).lines().filter(|l| l.starts_with("not translated: ")) {
        let id = line["not translated: ".len()..].split(':').next().unwrap();
        assert!(sql.contains(&format!("-- {id}: ")), "refusal of {id} is in the SQL too");
    }
    let file = write_sql(tmp.path(), &sql);
    let Some(out) = duckdb(RUN_SQL, &[&pq, &file]) else { return BTreeSet::new() };
    let rows: Vec<Value> = out.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()).collect();
    let got: BTreeSet<(String, String)> = rows
        .iter()
        .map(|r| (r[0].as_str().unwrap().to_owned(), r[1].as_str().unwrap_or_default().to_owned()))
        .collect();
    // Counting rules' rows carry the group and the burst: one finding each.
    let mut bursts: BTreeMap<(String, String, i64), BTreeSet<String>> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.as_array().unwrap().len() == 5) {
        let key = (r[0].as_str().unwrap().to_owned(), r[3].as_str().unwrap().to_owned(), r[4].as_i64().unwrap());
        bursts.entry(key).or_default().insert(r[1].as_str().unwrap_or_default().to_owned());
    }
    let got_findings: BTreeSet<Finding> = bursts.into_iter().map(|((rule, g, _), ids)| (rule, g, ids)).collect();
    let (want, want_findings) = hunt_findings(evidence, &extra, &translated);
    assert!(!want.is_empty(), "the evidence raises findings");
    let missing: Vec<_> = want.difference(&got).collect();
    let extra: Vec<_> = got.difference(&want).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{}: DuckDB differs from hunt.\nmissed by SQL: {missing:#?}\nonly in SQL: {extra:#?}",
        evidence.display()
    );
    let counting: BTreeSet<&String> = got_findings.iter().map(|f| &f.0).collect();
    let want_findings: BTreeSet<Finding> = want_findings.into_iter().filter(|f| counting.contains(&f.0)).collect();
    assert_eq!(got_findings, want_findings, "{}: counting rules' findings (group, burst) differ", evidence.display());
    got
}

#[test]
fn exported_sql_on_duckdb_finds_what_hunt_finds_on_the_sample() {
    let pairs = equivalence(&sample());
    if pairs.is_empty() {
        return; // DuckDB absent (notice printed)
    }
    for id in ["t-cidr", "t-keyword", "t-num", "t-cased", "t-fieldref"].into_iter().chain(COUNTING_RULES) {
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
fn export_writes_the_same_files_on_one_thread_and_on_several() {
    let tmp = tempfile::tempdir().unwrap();
    let (one, three) = (tmp.path().join("one"), tmp.path().join("three"));
    for (dir, j) in [(&one, "1"), (&three, "3")] {
        let o = run_on(&["export", "-q", "-j", j, "--parquet", dir.to_str().unwrap()], &[&sample()]);
        assert!(o.status.success(), "export -j {j} failed: {}", stderr(&o));
    }
    let (a, b) = (trailscope_testkit::files_under(&one), trailscope_testkit::files_under(&three));
    assert!(a.len() > 3, "the sample spans several partitions ({} files)", a.len());
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (path, bytes) in &a {
        assert!(bytes == &b[path], "{} differs between -j 1 and -j 3", path.display());
    }
}

#[test]
fn export_refuses_a_directory_that_is_not_empty() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("x"), "").unwrap();
    let o = run_on(&["export", "-q", "--parquet", tmp.path().to_str().unwrap()], &[&sample()]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("not empty"), "{}", stderr(&o));
}
