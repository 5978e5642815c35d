//! `--baseline PATH`: first-seen baselines learned from a separate, earlier dump of the same
//! accounts, end to end on the bundled sample.

mod common;

use std::path::Path;

use common::*;
use serde_json::Value;

/// A quiet week of the same accounts, ending before the sample starts (2024-03-04).
fn earlier_dump(dir: &Path) {
    let sample_start = trailscope_gen::GenConfig::default().start_day;
    let cfg = trailscope_gen::GenConfig {
        seed: 23,
        events: 1500,
        days: 3,
        start_day: sample_start - 7,
        attack: false,
        digests: false,
        ..Default::default()
    };
    trailscope_gen::generate(&cfg, dir).unwrap();
}

fn truth() -> trailscope_gen::GroundTruth {
    serde_json::from_slice(&std::fs::read(testdata().join("sample-truth.json")).unwrap()).unwrap()
}

fn rule_set_sha256(case: &Path) -> String {
    let log = std::fs::read_to_string(case.join("audit.jsonl")).unwrap();
    let last: Value = serde_json::from_str(log.lines().last().unwrap()).unwrap();
    last["rule_set_sha256"].as_str().unwrap().to_owned()
}

#[test]
fn analyze_learns_from_the_earlier_dump_and_names_it() {
    let t = truth();
    let tmp = tempfile::tempdir().unwrap();
    let dump = tmp.path().join("last-week");
    earlier_dump(&dump);
    let case = tmp.path().join("case");
    let o = run_on(
        &[
            "analyze",
            "--quiet",
            "--format",
            "json",
            "--baseline",
            dump.to_str().unwrap(),
            "--out",
            case.to_str().unwrap(),
        ],
        &[&sample()],
    );
    assert_eq!(o.status.code(), Some(1), "findings give exit 1; stderr: {}", stderr(&o));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();

    let b = &r["baseline"];
    assert_eq!(b["source"], dump.display().to_string(), "{b}");
    assert_eq!(b["attacker_events_inside"], 0);
    let (to, evidence_from) = (b["to"].as_str().unwrap(), r["evidence_from"].as_str().unwrap());
    assert!(to < evidence_from, "the window is the earlier dump: {to} vs evidence from {evidence_from}");

    // The compromised principal is known from the dump: the intruder's address is first-seen.
    let new_ip = r["timeline"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["findings"].as_array().unwrap().iter().any(|f| f == "ts-new-source-ip"))
        .find(|e| e["principal"] == t.compromised_principal.as_str())
        .unwrap_or_else(|| panic!("no ts-new-source-ip on {} in the timeline", t.compromised_principal));
    assert!(t.attacker_ips.contains(&new_ip["source_ip"].as_str().unwrap().to_owned()), "{new_ip}");
    let counted = r["findings"].as_array().unwrap().iter().find(|c| c["rule"] == "ts-new-source-ip").unwrap();
    assert!(!counted["actors"].as_array().unwrap().is_empty());

    // The audit trail names the dump: its manifest is part of the rule-set hash.
    let plain = tmp.path().join("plain");
    let o = run_on(&["analyze", "--quiet", "--format", "json", "--out", plain.to_str().unwrap()], &[&sample()]);
    assert_eq!(o.status.code(), Some(1));
    assert_ne!(rule_set_sha256(&case), rule_set_sha256(&plain));
}

#[test]
fn a_missing_baseline_or_one_mixed_with_learn_is_a_usage_error() {
    let o = run_on(&["analyze", "--quiet", "--baseline", "/nonexistent/last-week"], &[&sample()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--baseline /nonexistent/last-week"), "{}", stderr(&o));

    let o = run_on(&["hunt", "--quiet", "--baseline", "/tmp", "--learn", "2d"], &[&sample()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("cannot be used with"), "{}", stderr(&o));
}

#[test]
fn hunt_takes_the_baseline_too() {
    let tmp = tempfile::tempdir().unwrap();
    earlier_dump(tmp.path());
    let o = run_on(&["hunt", "--quiet", "--format", "csv", "--baseline", tmp.path().to_str().unwrap()], &[&sample()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let mut r = csv::Reader::from_reader(&o.stdout[..]);
    let first_seen_ip = r.records().map(Result::unwrap).filter(|row| &row[2] == "ts-new-source-ip").count();
    assert!(first_seen_ip > 0, "no ts-new-source-ip finding");
}
