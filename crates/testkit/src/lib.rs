//! # trailscope-testkit
//!
//! What the crates' tests share, so that a test record means the same everywhere: a base
//! CloudTrail record ([`record`]) overridden per test ([`with`], a deep [`merge`]), evidence from
//! records ingested exactly as files are ([`store`]), and the public corpora beside the project
//! ([`corpus`], [`technique_files`]). Used only as a dev-dependency.
#![deny(missing_docs)]

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use trailscope_ingest::{ingest, IngestOptions};
use trailscope_store::Store;

/// Account of the base record.
pub const ACCOUNT: &str = "111122223333";

/// `2024-05-01T10:00:00Z` plus `secs`, as CloudTrail writes it.
pub fn time(secs: i64) -> String {
    let t = 1_714_557_600 + secs;
    let days = t.div_euclid(86_400);
    let (y, m, d) = trailscope_store::civil_from_days(days);
    let s = t.rem_euclid(86_400);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", s / 3600, s % 3600 / 60, s % 60)
}

/// A complete, successful management event: IAM user alice (`AKIAEXAMPLEALICE0001`) calls
/// `sts:GetCallerIdentity` from 198.51.100.10 with the AWS CLI, `secs` seconds after
/// 2024-05-01T10:00:00Z; `n` makes `eventID` (`evt-N`) and `requestID` unique.
pub fn record(n: usize, secs: i64) -> Value {
    json!({
        "eventVersion": "1.08",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLEALICE0001", "arn": format!("arn:aws:iam::{ACCOUNT}:user/alice"),
            "accountId": ACCOUNT, "accessKeyId": "AKIAEXAMPLEALICE0001", "userName": "alice"},
        "eventTime": time(secs),
        "eventSource": "sts.amazonaws.com", "eventName": "GetCallerIdentity", "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.10", "userAgent": "aws-cli/2.15.30 Python/3.11.8 Linux/6.1 exe/x86_64",
        "requestParameters": null, "responseElements": null,
        "requestID": format!("req-{n}"), "eventID": format!("evt-{n}"), "readOnly": false,
        "eventType": "AwsApiCall", "managementEvent": true, "recipientAccountId": ACCOUNT, "eventCategory": "Management"
    })
}

/// [`record`] with `over` merged in (objects deeply, anything else replaced).
pub fn with(n: usize, secs: i64, over: &Value) -> Value {
    let mut r = record(n, secs);
    merge(&mut r, over);
    r
}

/// Merge `over` into `into`: objects key by key, recursively; any other value replaces.
pub fn merge(into: &mut Value, over: &Value) {
    match (into, over) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(k) {
                    Some(slot) if slot.is_object() && v.is_object() => merge(slot, v),
                    _ => {
                        a.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (slot, v) => *slot = v.clone(),
    }
}

/// The records as evidence: written as one S3-delivery file and ingested like any dump (one
/// thread, so nothing depends on scheduling). Panics unless every record was stored.
pub fn store(records: &[Value]) -> Store {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("case.json"), serde_json::to_vec(&json!({ "Records": records })).expect("json"))
        .expect("write records");
    let (store, report) =
        ingest(&[dir.path().to_path_buf()], &IngestOptions { threads: 1, ..Default::default() }, None)
            .expect("ingest records");
    assert_eq!(report.stored() as usize, records.len(), "every test record must ingest");
    store
}

/// A folder of `../shared/corpora/` beside the project (SigmaHQ rules, Stratus detonation
/// logs), or `None` with a notice on stderr when it is not there: tests that need it skip.
pub fn corpus(name: &str) -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora").join(name);
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("notice: {} not found; skipping (CI provides ../shared/corpora)", dir.display());
        None
    }
}

/// The JSON files directly in `dir` (one Stratus technique each), sorted.
pub fn technique_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(dir).map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect()).unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|x| x == "json"));
    files.sort();
    files
}

/// Every file under `dir`, relative path → bytes (to compare two output trees byte for byte).
pub fn files_under(dir: &Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.insert(p.strip_prefix(dir).unwrap().to_path_buf(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_build_and_ingest() {
        assert_eq!(time(0), "2024-05-01T10:00:00Z");
        assert_eq!(time(86_400 + 61), "2024-05-02T10:01:01Z");
        let r = with(3, 5, &json!({"eventName": "ListUsers", "userIdentity": {"userName": "bob"}}));
        assert_eq!((r["eventName"].as_str(), r["userIdentity"]["userName"].as_str()), (Some("ListUsers"), Some("bob")));
        assert_eq!(r["userIdentity"]["type"], "IAMUser", "merge is deep");
        let s = store(&[r, record(4, 6)]);
        assert_eq!(s.len(), 2);
    }
}
