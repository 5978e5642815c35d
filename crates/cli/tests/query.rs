//! `trailscope query` on the bundled sample: the ten incident-response questions of
//! docs/query.md, each answer checked against the same question answered here, independently,
//! from the records `trailscope events --format jsonl` prints (plain serde_json, no query code).

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::*;
use serde_json::Value;

/// Every record of the sample, as `events` rebuilds it.
fn records() -> Vec<Value> {
    let o = run_on(&["events", "--quiet", "--format", "jsonl"], &[&sample()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let recs: Vec<Value> = stdout(&o).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(recs.len() > 4000, "the whole sample");
    recs
}

/// The query's answer as JSON Lines.
fn query(expression: &str, options: &[&str]) -> Vec<Value> {
    let mut args = vec!["query", "--quiet", "--format", "jsonl"];
    args.extend_from_slice(options);
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_trailscope"));
    let o = cmd.args(&args).arg(sample()).arg(expression).output().unwrap();
    assert!(o.status.success(), "{expression}: {}", stderr(&o));
    stdout(&o).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// What a group holds, computed either way.
#[derive(Debug, Default, PartialEq)]
struct Group {
    count: u64,
    first: String,
    last: String,
    distinct: BTreeSet<String>,
    sum: i64,
}

fn at<'v>(r: &'v Value, path: &str) -> &'v Value {
    path.split('.').fold(r, |v, k| v.get(k).unwrap_or(&Value::Null))
}

fn time(r: &Value) -> &str {
    r["eventTime"].as_str().unwrap()
}

/// Group the records that pass `keep` by `key`, with the distinct values of `distinct` and the
/// sum of `sum`.
fn expected(
    recs: &[Value],
    keep: impl Fn(&Value) -> bool,
    key: impl Fn(&Value) -> Vec<Value>,
    distinct: Option<&str>,
    sum: Option<&str>,
) -> BTreeMap<String, Group> {
    let mut out: BTreeMap<String, Group> = BTreeMap::new();
    for r in recs.iter().filter(|r| keep(r)) {
        let g = out.entry(serde_json::to_string(&key(r)).unwrap()).or_default();
        let t = time(r).to_owned();
        if g.count == 0 || t < g.first {
            g.first = t.clone();
        }
        if t > g.last {
            g.last = t;
        }
        g.count += 1;
        if let Some(v) = distinct.and_then(|d| at(r, d).as_str()) {
            g.distinct.insert(v.to_owned());
        }
        if let Some(s) = sum {
            g.sum += at(r, s).as_i64().unwrap_or(0);
        }
    }
    out
}

/// The query's groups keyed as [`expected`] keys them; the distinct count goes into
/// `distinct` as that many placeholders, for comparison by size.
fn actual(rows: &[Value], keys: &[&str]) -> BTreeMap<String, Group> {
    rows.iter()
        .map(|row| {
            let key: Vec<Value> = keys.iter().map(|k| row[*k].clone()).collect();
            let distinct = row
                .as_object()
                .unwrap()
                .iter()
                .find(|(k, _)| k.starts_with("distinct("))
                .map(|(_, v)| (0..v.as_u64().unwrap()).map(|i| i.to_string()).collect())
                .unwrap_or_default();
            let sum = row
                .as_object()
                .unwrap()
                .iter()
                .find(|(k, _)| k.starts_with("sum("))
                .map_or(0, |(_, v)| v.as_i64().unwrap());
            let g = Group {
                count: row["count"].as_u64().unwrap(),
                first: row["first_seen"].as_str().unwrap().to_owned(),
                last: row["last_seen"].as_str().unwrap().to_owned(),
                distinct,
                sum,
            };
            (serde_json::to_string(&key).unwrap(), g)
        })
        .collect()
}

/// Compare counts, first and last seen, and (by size) distinct values and sums.
fn same(question: &str, got: BTreeMap<String, Group>, want: BTreeMap<String, Group>) {
    assert!(!want.is_empty(), "{question}: the sample must have an answer");
    let sized = |m: BTreeMap<String, Group>| -> BTreeMap<String, (u64, String, String, usize, i64)> {
        m.into_iter().map(|(k, g)| (k, (g.count, g.first, g.last, g.distinct.len(), g.sum))).collect()
    };
    assert_eq!(sized(got), sized(want), "{question}");
}

fn largest_first(question: &str, rows: &[Value]) {
    let counts: Vec<u64> = rows.iter().map(|r| r["count"].as_u64().unwrap()).collect();
    assert!(counts.windows(2).all(|w| w[0] >= w[1]), "{question}: largest groups first: {counts:?}");
}

#[test]
fn ten_incident_response_questions() {
    let recs = records();
    let s = |v: &Value| v.as_str().map(str::to_owned);
    let arn = |r: &Value| at(r, "userIdentity.arn").clone();

    // 1. Activity by principal.
    let rows = query("*", &["--group-by", "userIdentity.arn"]);
    largest_first("1", &rows);
    same("1", actual(&rows, &["userIdentity.arn"]), expected(&recs, |_| true, |r| vec![arn(r)], None, None));

    // 2. Activity from the attacker's network, by address.
    let rows = query("sourceIPAddress in 185.220.101.0/24", &["--group-by", "sourceIPAddress,eventName"]);
    let want = expected(
        &recs,
        |r| s(&r["sourceIPAddress"]).is_some_and(|ip| ip.starts_with("185.220.101.")),
        |r| vec![r["sourceIPAddress"].clone(), r["eventName"].clone()],
        None,
        None,
    );
    same("2", actual(&rows, &["sourceIPAddress", "eventName"]), want);

    // 3. Errors by principal.
    let rows = query("errorCode exists", &["--group-by", "userIdentity.arn,errorCode"]);
    let want = expected(&recs, |r| !at(r, "errorCode").is_null(), |r| vec![arn(r), r["errorCode"].clone()], None, None);
    same("3", actual(&rows, &["userIdentity.arn", "errorCode"]), want);

    // 4. First use of each access key, and from how many addresses.
    let rows = query(
        "userIdentity.accessKeyId exists",
        &["--group-by", "userIdentity.accessKeyId", "--distinct", "sourceIPAddress"],
    );
    let want = expected(
        &recs,
        |r| !at(r, "userIdentity.accessKeyId").is_null(),
        |r| vec![at(r, "userIdentity.accessKeyId").clone()],
        Some("sourceIPAddress"),
        None,
    );
    same("4", actual(&rows, &["userIdentity.accessKeyId"]), want);

    // 5. New regions: when each region was first used, and by how many principals.
    let rows = query("*", &["--group-by", "awsRegion", "--distinct", "userIdentity.arn"]);
    let want = expected(&recs, |_| true, |r| vec![r["awsRegion"].clone()], Some("userIdentity.arn"), None);
    same("5", actual(&rows, &["awsRegion"]), want);

    // 6. Data read per bucket.
    let rows = query(
        "eventName = GetObject",
        &["--group-by", "requestParameters.bucketName", "--sum", "additionalEventData.bytesTransferredOut"],
    );
    let want = expected(
        &recs,
        |r| r["eventName"] == "GetObject",
        |r| vec![at(r, "requestParameters.bucketName").clone()],
        None,
        Some("additionalEventData.bytesTransferredOut"),
    );
    same("6", actual(&rows, &["requestParameters.bucketName"]), want);

    // 7. What the leaked key's user did in the first hour of the intrusion.
    let rows = query(
        "userIdentity.arn endswith user/ci-deployer and eventTime between 2024-03-05T02:00:00Z and 2024-03-05T03:00:00Z",
        &["--group-by", "eventName"],
    );
    let window = |r: &Value| ("2024-03-05T02:00:00Z"..="2024-03-05T03:00:00Z").contains(&time(r));
    let want = expected(
        &recs,
        |r| s(&arn(r)).is_some_and(|a| a.ends_with("user/ci-deployer")) && window(r),
        |r| vec![r["eventName"].clone()],
        None,
        None,
    );
    same("7", actual(&rows, &["eventName"]), want);

    // 8. Denied calls per hour.
    let rows = query("errorCode = AccessDenied", &["--bucket", "1h"]);
    let want = expected(
        &recs,
        |r| r["errorCode"] == "AccessDenied",
        |r| vec![Value::String(format!("{}:00:00Z", &time(r)[..13]))],
        None,
        None,
    );
    let buckets: Vec<&str> = rows.iter().map(|r| r["bucket"].as_str().unwrap()).collect();
    assert!(buckets.windows(2).all(|w| w[0] < w[1]), "8: oldest bucket first");
    same("8", actual(&rows, &["bucket"]), want);

    // 9. IAM persistence: users, keys, logins and policies created or attached.
    let names = ["CreateUser", "CreateAccessKey", "CreateLoginProfile", "AttachUserPolicy", "PutUserPolicy"];
    let rows = query(
        "eventSource = iam.amazonaws.com and eventName in (CreateUser, CreateAccessKey, CreateLoginProfile, AttachUserPolicy, PutUserPolicy)",
        &["--fields", "eventTime,eventName,userIdentity.arn,requestParameters.userName,errorCode,eventID"],
    );
    let want: Vec<Value> = recs
        .iter()
        .filter(|r| r["eventSource"] == "iam.amazonaws.com" && names.iter().any(|n| r["eventName"] == *n))
        .map(|r| {
            serde_json::json!({
                "eventTime": r["eventTime"], "eventName": r["eventName"], "userIdentity.arn": arn(r),
                "requestParameters.userName": at(r, "requestParameters.userName"),
                "errorCode": at(r, "errorCode"), "eventID": r["eventID"],
            })
        })
        .collect();
    assert!(want.len() >= 5, "9: the sample's persistence");
    assert_eq!(rows, want, "9");

    // 10. Every user agent the attacker's tools announce.
    let rows = query("userAgent matches /(kali|parrot|pentoo|pacu)/i", &["--distinct", "userAgent"]);
    let tools = ["kali", "parrot", "pentoo", "pacu"];
    let want: BTreeSet<String> = recs
        .iter()
        .filter_map(|r| s(&r["userAgent"]))
        .filter(|ua| tools.iter().any(|t| ua.to_lowercase().contains(t)))
        .collect();
    assert!(!want.is_empty(), "10: the sample's attack tools");
    let got: Vec<String> = rows.iter().map(|r| r["userAgent"].as_str().unwrap().to_owned()).collect();
    assert_eq!(got, want.into_iter().collect::<Vec<_>>(), "10: sorted distinct values");
}

#[test]
fn counts_top_and_outputs() {
    let recs = records();
    let failed = recs.iter().filter(|r| !r["errorCode"].is_null()).count();
    let n = query("errorCode exists", &["--count"]);
    assert_eq!(n, [serde_json::json!({"count": failed})]);
    let top = query("*", &["--group-by", "eventName", "--top", "3"]);
    assert_eq!(top.len(), 3);
    let all = query("*", &["--group-by", "eventName"]);
    assert_eq!(top, all[..3]);

    // CSV through the case directory, with the audit entry naming it.
    let dir = tempfile::tempdir().unwrap();
    let case = dir.path().join("case");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_trailscope"));
    let o = cmd
        .args(["query", "-q", "--format", "csv", "--group-by", "eventName", "--top", "3", "--out"])
        .arg(&case)
        .arg(sample())
        .arg("*")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let written = std::fs::read_to_string(case.join("query.csv")).unwrap();
    assert_eq!(written, stdout(&o));
    assert!(written.starts_with("eventName,count,first_seen,last_seen\n"), "{written}");
    assert_eq!(written.lines().count(), 4);
    let audit = std::fs::read_to_string(case.join("audit.jsonl")).unwrap();
    assert!(audit.contains("query.csv"), "{audit}");
    let ok = run(&["audit", "verify", case.to_str().unwrap()]);
    assert!(ok.status.success(), "{}", stderr(&ok));
}

/// `--tz` moves the table's times (bucket, first and last seen, eventTime) into the zone; the
/// instants are the ones JSON Lines give in UTC.
#[test]
fn the_table_shows_times_in_the_display_zone() {
    let utc = query("eventName = ConsoleLogin", &["--bucket", "1h"]);
    let table = |extra: &[&str]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_trailscope"));
        let o = cmd.args(["query", "-q", "--bucket", "1h"]).args(extra).arg(sample()).arg("eventName = ConsoleLogin");
        let o = o.output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o)
    };
    let shifted = table(&["--tz", "+02:00"]);
    let rows: Vec<Vec<&str>> = shifted.lines().skip(1).map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows.len(), utc.len(), "{shifted}");
    let instant = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis();
    for (row, want) in rows.iter().zip(&utc) {
        assert!(row[0].ends_with("+02:00") && row[2].ends_with("+02:00"), "{shifted}");
        assert_eq!(instant(row[0]), instant(want["bucket"].as_str().unwrap()));
        assert_eq!(instant(row[2]), instant(want["first_seen"].as_str().unwrap()));
        assert_eq!(row[1], want["count"].to_string());
    }
    assert!(!table(&[]).contains("+02:00"), "UTC without --tz");
}

#[test]
fn a_bad_query_is_refused_with_a_caret_before_reading_evidence() {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_trailscope"));
    // The evidence path does not exist: the query is refused first.
    let q = "eventName = CreateUser and sourceIPAddress in 10.0.0.0/33";
    let o = cmd.args(["query", "/nonexistent/evidence", q]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    let column = q.find("10.0.0.0").unwrap() + 1;
    assert!(err.contains(&format!("column {column}: `10.0.0.0/33` is not a CIDR")), "{err}");
    assert!(err.contains(&format!("{q}\n{}^", " ".repeat(column - 1))), "{err}");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_trailscope"))
        .args(["query", "/nonexistent/evidence", "*", "--group-by", "eventname"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--group-by: CloudTrail records have no field `eventname` (did you mean eventName?)"),
        "{}",
        stderr(&o)
    );
}
