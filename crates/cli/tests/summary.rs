//! `trailscope summary` on the bundled sample, checked against the generator's ground truth.

mod common;

use std::collections::BTreeSet;

use common::*;
use serde_json::Value;

fn truth() -> trailscope_gen::GroundTruth {
    serde_json::from_slice(&std::fs::read(testdata().join("sample-truth.json")).unwrap()).unwrap()
}

fn summary(format: &str) -> std::process::Output {
    let o = run_on(&["summary", "--quiet", "--format", format], &[&sample()]);
    assert_eq!(o.status.code(), Some(0), "clean ingest gives exit 0; stderr: {}", stderr(&o));
    o
}

fn strs(v: &Value) -> BTreeSet<String> {
    v.as_array().unwrap().iter().map(|x| x.as_str().unwrap().to_owned()).collect()
}

#[test]
fn json_names_the_compromised_principal_with_its_denials_and_attacker_ips() {
    let t = truth();
    let v: Value = serde_json::from_slice(&summary("json").stdout).unwrap();
    let all = v.as_array().unwrap();

    let events = run_on(&["events", "--quiet", "--format", "csv"], &[&sample()]);
    let total = csv::Reader::from_reader(&events.stdout[..]).records().count();
    let sum: u64 = all.iter().map(|p| p["events"].as_u64().unwrap()).sum();
    assert_eq!(sum as usize, total, "every event belongs to exactly one principal");
    for p in all {
        let outcomes = ["calls_ok", "calls_denied", "calls_failed"].iter().map(|k| p[k].as_u64().unwrap()).sum::<u64>();
        assert_eq!(outcomes, p["events"].as_u64().unwrap(), "{}", p["principal"]);
        assert!(p["top_apis"].as_array().unwrap().len() <= 5);
    }
    let counts: Vec<u64> = all.iter().map(|p| p["events"].as_u64().unwrap()).collect();
    assert!(counts.windows(2).all(|w| w[0] >= w[1]), "most events first: {counts:?}");

    let cp = all.iter().find(|p| p["principal"] == t.compromised_principal.as_str()).expect("compromised principal");
    assert!(cp["calls_denied"].as_u64().unwrap() > 0, "{cp}");
    assert!(!cp["apis_denied"].as_array().unwrap().is_empty(), "{cp}");
    let ips = strs(&cp["source_ips"]);
    assert!(t.attacker_ips.iter().any(|ip| ips.contains(ip)), "no attacker IP among {ips:?}");
    assert!(strs(&cp["access_keys"]).contains(&t.leaked_access_key));
    let everywhere: BTreeSet<String> = all.iter().flat_map(|p| strs(&p["source_ips"])).collect();
    for ip in &t.attacker_ips {
        assert!(everywhere.contains(ip), "{ip} missing from every principal");
    }
}

#[test]
fn csv_parses_with_one_row_per_principal_and_table_lists_them() {
    let t = truth();
    let json: Value = serde_json::from_slice(&summary("json").stdout).unwrap();
    let o = summary("csv");
    let mut r = csv::Reader::from_reader(&o.stdout[..]);
    assert_eq!(r.headers().unwrap().get(0), Some("principal"));
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), json.as_array().unwrap().len());
    for row in &rows {
        for cell in row.iter() {
            assert!(!cell.starts_with(['=', '+', '-', '@', '\t', '\r']), "unneutralised cell {cell:?}");
        }
    }
    let cp = rows.iter().find(|r| r[0] == *t.compromised_principal).expect("compromised principal row");
    assert!(cp[12].split("; ").any(|ip| t.attacker_ips.contains(&ip.to_owned())), "{cp:?}");

    let text = stdout(&summary("table"));
    assert!(text.starts_with("PRINCIPAL"), "{text}");
    assert!(text.contains(&t.compromised_principal));
    let events: usize = rows.iter().map(|r| r[2].parse::<usize>().unwrap()).sum();
    assert!(text.trim_end().ends_with(&format!("{} principals, {events} events", rows.len())), "{text}");
}

#[test]
fn writes_the_case_directory_and_fails_on_missing_input() {
    let dir = tempfile::tempdir().unwrap();
    let case = dir.path().join("case");
    let o = run_on(&["summary", "--quiet", "--format", "csv", "--out", case.to_str().unwrap()], &[&sample()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(std::fs::read(case.join("summary.csv")).unwrap(), o.stdout);
    assert!(case.join("manifest.json").exists());

    let o = run(&["summary", "--quiet", "/nonexistent/trail"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("/nonexistent/trail"), "{}", stderr(&o));
}
