//! `trailscope events` filters on the bundled sample.

mod common;

use common::*;

fn csv_rows(args: &[&str]) -> Vec<Vec<String>> {
    let mut all = vec!["events", "--quiet", "--format", "csv"];
    all.extend_from_slice(args);
    let o = run_on(&all, &[&sample()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut r = csv::Reader::from_reader(o.stdout.as_slice());
    r.records().map(|x| x.unwrap().iter().map(str::to_owned).collect()).collect()
}

#[test]
fn filters_narrow_by_key_ip_name_error_and_time() {
    let truth: trailscope_gen::GroundTruth =
        serde_json::from_slice(&std::fs::read(testdata().join("sample-truth.json")).unwrap()).unwrap();
    let by_key = csv_rows(&["--access-key", &truth.created_access_key]);
    assert!(!by_key.is_empty() && by_key.iter().all(|r| r[4] == truth.created_access_key));

    let by_ip = csv_rows(&["--ip", &truth.attacker_ips[1]]);
    assert!(by_ip.iter().all(|r| r[5] == truth.attacker_ips[1]));
    assert_eq!(by_ip.len(), 8);

    let denied = csv_rows(&[
        "--error",
        "AccessDenied",
        "--principal",
        "ci-deployer",
        "--from",
        "2024-03-05T02:00:00Z",
        "--to",
        "2024-03-05T03:00:00Z",
    ]);
    // Twelve denied recon calls and two denied attempts (PutUserPolicy, DeleteDetector).
    assert_eq!(denied.len(), 14, "the attacker's denied calls");
    assert!(denied.iter().all(|r| r[7] == "AccessDenied" && r[0].starts_with("2024-03-05T02:")));

    // Lambda event names carry API versions; the plain name finds them.
    let lambda = csv_rows(&["--event-name", "ListFunctions", "--event-source", "lambda"]);
    assert!(!lambda.is_empty() && lambda.iter().all(|r| r[6] == "lambda:ListFunctions20150331"));

    let day =
        csv_rows(&["--from", "2024-03-04", "--to", "2024-03-04", "--region", "eu-west-1", "--account", "123456789012"]);
    assert!(
        !day.is_empty()
            && day.iter().all(|r| r[0].starts_with("2024-03-04") && r[2] == "eu-west-1" && r[1] == "123456789012")
    );

    let bad = run_on(&["events", "--from", "yesterday"], &[&sample()]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("not an ISO 8601 time or date"));
}

#[test]
fn jsonl_reproduces_the_records() {
    // The attacker's CreateRole (Terraform creates roles from the CI network too).
    let o = run_on(
        &["events", "--quiet", "--format", "jsonl", "--event-name", "CreateRole", "--ip", "185.220.101.47"],
        &[&sample()],
    );
    let lines: Vec<serde_json::Value> = stdout(&o).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 1);
    let r = &lines[0];
    assert_eq!(r["eventName"], "CreateRole");
    assert_eq!(r["userIdentity"]["userName"], "ci-deployer");
    assert!(r["requestParameters"]["assumeRolePolicyDocument"].as_str().unwrap().contains("999988887777"));
    assert_eq!(r["tlsDetails"]["tlsVersion"], "TLSv1.3");
    assert_eq!(r["readOnly"], false);
}
