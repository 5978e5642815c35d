//! The generated dump against its ground truth: determinism, confounders, the data-event gap
//! and the attack's failed attempts.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::Value;
use trailscope_gen::{generate, GenConfig, GenSummary};

/// Smaller than the sample and without digests (RSA signing is slow in debug builds).
fn config() -> GenConfig {
    GenConfig { events: 800, digests: false, ..GenConfig::default() }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("trailscope-gen-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn files(dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.insert(path.strip_prefix(dir).unwrap_or(&path).to_owned(), std::fs::read(&path).unwrap());
        }
    }
}

/// Every record of the dump, by eventID.
fn records(dir: &Path) -> HashMap<String, Value> {
    let mut all = BTreeMap::new();
    files(dir, &mut all);
    let mut out = HashMap::new();
    for bytes in all.values() {
        let mut text = String::new();
        flate2::read::GzDecoder::new(&bytes[..]).read_to_string(&mut text).unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        for r in v["Records"].as_array().unwrap() {
            out.insert(r["eventID"].as_str().unwrap().to_owned(), r.clone());
        }
    }
    out
}

fn generated(name: &str) -> (GenSummary, HashMap<String, Value>) {
    let dir = scratch(name);
    let summary = generate(&config(), &dir).unwrap();
    let recs = records(&dir);
    std::fs::remove_dir_all(&dir).unwrap();
    (summary, recs)
}

#[test]
fn same_seed_same_bytes() {
    let (a, b) = (scratch("det-a"), scratch("det-b"));
    let (sa, sb) = (generate(&config(), &a).unwrap(), generate(&config(), &b).unwrap());
    assert_eq!(sa.truth, sb.truth);
    let (mut fa, mut fb) = (BTreeMap::new(), BTreeMap::new());
    files(&a, &mut fa);
    files(&b, &mut fb);
    assert!(!fa.is_empty());
    assert!(fa == fb, "two runs with the same config wrote different files");
    std::fs::remove_dir_all(&a).unwrap();
    std::fs::remove_dir_all(&b).unwrap();
}

#[test]
fn every_confounder_is_in_the_evidence_and_none_is_malicious() {
    let (summary, recs) = generated("conf");
    let truth = &summary.truth;
    let malicious: HashSet<&String> = truth.malicious_event_ids.iter().collect();
    assert!(malicious.iter().all(|id| recs.contains_key(*id)), "a malicious id is missing from the files");
    let mut seen = HashSet::new();
    for kind in [
        "owner-root-console-no-mfa",
        "owner-enables-logging",
        "iac-with-leaked-key",
        "failed-high-risk-calls",
        "owner-cleanup",
    ] {
        let c = truth.confounders.iter().find(|c| c.kind == kind).unwrap_or_else(|| panic!("no {kind}"));
        assert!(!c.event_ids.is_empty() && !c.principals.is_empty() && !c.source_ips.is_empty(), "{kind} is empty");
        for id in &c.event_ids {
            assert!(recs.contains_key(id), "{kind}: {id} not in the files");
            assert!(!malicious.contains(id), "{kind}: {id} is also malicious");
            assert!(seen.insert(id.clone()), "{kind}: {id} listed twice");
        }
    }
    // Every failed high-risk call failed, and the leaked key's Terraform runs are not the attacker's IP.
    let risky = truth.confounders.iter().find(|c| c.kind == "failed-high-risk-calls").unwrap();
    assert!(risky.event_ids.iter().all(|id| recs[id].get("errorCode").is_some()));
    let iac = truth.confounders.iter().find(|c| c.kind == "iac-with-leaked-key").unwrap();
    assert!(!iac.source_ips.iter().any(|ip| truth.attacker_ips.contains(ip)));
    assert!(iac.event_ids.iter().any(|id| recs[id]["userIdentity"]["accessKeyId"] == truth.leaked_access_key.as_str()));
    // Root signs in without MFA.
    let root = truth.confounders.iter().find(|c| c.kind == "owner-root-console-no-mfa").unwrap();
    let logins: Vec<_> =
        root.event_ids.iter().map(|id| &recs[id]).filter(|r| r["eventName"] == "ConsoleLogin").collect();
    assert_eq!(logins.len(), 2);
    assert!(logins.iter().all(|r| r["additionalEventData"]["MFAUsed"] == "No" && r["userIdentity"]["type"] == "Root"));
    // The ground truth round-trips, and older truth files without the new fields still load.
    let text = serde_json::to_string(truth).unwrap();
    assert_eq!(&serde_json::from_str::<trailscope_gen::GroundTruth>(&text).unwrap(), truth);
    let mut old: Value = serde_json::from_str(&text).unwrap();
    old.as_object_mut().unwrap().retain(|k, _| k != "confounders" && k != "unlogged_activity");
    serde_json::from_value::<trailscope_gen::GroundTruth>(old).unwrap();
}

#[test]
fn no_data_event_in_the_data_account_before_dave_enables_them() {
    let (summary, recs) = generated("gap");
    let data = trailscope_gen::world::DATA;
    let on = recs
        .values()
        .filter(|r| r["recipientAccountId"] == data && r["eventName"] == "PutEventSelectors")
        .map(|r| r["eventTime"].as_str().unwrap().to_owned())
        .min()
        .expect("dave's PutEventSelectors");
    let data_events: Vec<&str> = recs
        .values()
        .filter(|r| r["recipientAccountId"] == data && r["eventCategory"] == "Data")
        .map(|r| r["eventTime"].as_str().unwrap())
        .collect();
    assert!(data_events.iter().all(|t| *t >= on.as_str()), "data event before {on}");
    // The attacker's reads in that account are described, not in the evidence.
    let truth = &summary.truth;
    assert_eq!(truth.unlogged_activity.len(), 1);
    assert!(truth.unlogged_activity[0].contains("s3://acme-data-lake-exports"));
    assert!(!truth.buckets_accessed.iter().any(|b| b == "acme-data-lake-exports"));
    assert!(!recs.values().any(|r| r["requestParameters"]["bucketName"] == "acme-data-lake-exports"));
}

#[test]
fn the_attacks_failed_attempts_are_malicious() {
    let (summary, recs) = generated("fails");
    let truth = &summary.truth;
    for name in ["PutUserPolicy", "DeleteDetector"] {
        let hits: Vec<_> = truth
            .malicious_event_ids
            .iter()
            .map(|id| &recs[id])
            .filter(|r| r["eventName"] == name && r["errorCode"] == "AccessDenied")
            .collect();
        assert_eq!(hits.len(), 1, "{name}");
        assert_eq!(hits[0]["userIdentity"]["accessKeyId"], truth.leaked_access_key.as_str());
    }
}
