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
        "--error=AccessDenied",
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

fn jsonl_all() -> Vec<serde_json::Value> {
    let o = run_on(&["events", "--quiet", "--format", "jsonl"], &[&sample()]);
    assert!(o.status.success(), "{}", stderr(&o));
    stdout(&o).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn ids(rows: &[Vec<String>]) -> Vec<String> {
    rows.iter().map(|r| r[9].clone()).collect()
}

/// From a finding to its evidence: by event id, request id, user agent, free text, or rule.
#[test]
fn pivots_by_event_id_request_id_user_agent_text_and_rule() {
    let all = jsonl_all();
    let str_of = |r: &serde_json::Value, k: &str| r[k].as_str().unwrap_or("").to_owned();

    let pick = &all[all.len() / 3];
    let by_id = csv_rows(&["--event-id", &str_of(pick, "eventID")]);
    assert_eq!(ids(&by_id), [str_of(pick, "eventID")]);
    let by_request = csv_rows(&["--request-id", &str_of(pick, "requestID")]);
    let same_request = all.iter().filter(|r| r["requestID"] == pick["requestID"]).count();
    assert_eq!(by_request.len(), same_request);

    // Substring, any case.
    let kali = csv_rows(&["--user-agent", "KALI"]);
    let expected = all.iter().filter(|r| str_of(r, "userAgent").to_lowercase().contains("kali")).count();
    assert!(expected > 0);
    assert_eq!(kali.len(), expected);

    // Free text reaches nested request parameters; compared with a plain search of each record.
    let truth: trailscope_gen::GroundTruth =
        serde_json::from_slice(&std::fs::read(testdata().join("sample-truth.json")).unwrap()).unwrap();
    let needle = truth.backdoor_role.to_lowercase();
    let expected: Vec<String> =
        all.iter().filter(|r| r.to_string().to_lowercase().contains(&needle)).map(|r| str_of(r, "eventID")).collect();
    assert!(expected.len() >= 2, "the backdoor role is created and used");
    assert_eq!(ids(&csv_rows(&["--text", &needle.to_uppercase()])), expected);

    // A rule's findings, as hunt lists them, and the events behind them.
    let o = run_on(&["hunt", "-q", "--format", "jsonl", "--rule", "ts-recon-then-escalation"], &[&sample()]);
    let mut from_hunt: Vec<String> = stdout(&o)
        .lines()
        .flat_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["event_ids"].as_array().unwrap().iter().map(|x| x.as_str().unwrap().to_owned()).collect::<Vec<_>>()
        })
        .collect();
    from_hunt.sort();
    from_hunt.dedup();
    assert!(from_hunt.len() >= 2);
    let mut behind = ids(&csv_rows(&["--rule", "ts-recon-then-escalation"]));
    behind.sort();
    assert_eq!(behind, from_hunt);

    // Nothing matched: said, not silent.
    let o = run_on(&["events", "--text", "no-such-text-anywhere-42"], &[&sample()]);
    assert!(o.status.success());
    assert!(stderr(&o).contains("0 events matched"), "{}", stderr(&o));
}

/// `--error` without a code keeps the next word a path; `--error=CODE` names the code.
#[test]
fn error_without_a_code_does_not_swallow_the_path() {
    let o = run_on(&["events", "-q", "--format", "csv", "--error"], &[&sample()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = csv::Reader::from_reader(o.stdout.as_slice()).records().count();
    let failed = jsonl_all().iter().filter(|r| !r["errorCode"].is_null()).count();
    assert_eq!(rows, failed);
}

/// Escape sequences planted in evidence never reach the terminal raw, and CSV cells that a
/// spreadsheet would run as formulas are neutralised.
#[test]
fn hostile_values_are_disarmed_in_the_table_and_csv() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = record(1, "ListBuckets");
    r["userIdentity"]["arn"] = serde_json::json!("arn:aws:iam::111122223333:user/\u{1b}[2J\u{1b}[31mevil");
    r["userAgent"] = serde_json::json!("=HYPERLINK(\"http://x.example/\",\"click\")");
    let p = write(dir.path(), "AWSLogs/111122223333/CloudTrail/eu-west-1/2024/05/01/x.json.gz", &gz(&s3_body(&[r])));
    let o = run_on(&["events", "-q"], &[&p]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!o.stdout.contains(&0x1b), "{:?}", stdout(&o));
    assert!(stdout(&o).contains("user/?[2J?[31mevil"), "{}", stdout(&o));
    let o = run_on(&["events", "-q", "--format", "csv"], &[&p]);
    let rows: Vec<csv::StringRecord> =
        csv::Reader::from_reader(o.stdout.as_slice()).records().map(Result::unwrap).collect();
    assert!(rows[0][8].starts_with("'=HYPERLINK"), "{:?}", rows[0]);
    let o = run_on(&["hunt", "-q", "--no-baseline"], &[&p]);
    assert!(!o.stdout.contains(&0x1b), "{:?}", stdout(&o));
}

/// `--tz` changes what a person reads, never what a tool parses.
#[test]
fn tz_moves_human_readable_times_only() {
    let o = run_on(&["events", "-q", "--limit", "1", "--tz", "Asia/Tokyo"], &[&sample()]);
    let table = stdout(&o);
    let first = jsonl_all()[0]["eventTime"].as_str().unwrap().to_owned();
    assert!(table.lines().nth(1).unwrap().contains("+09:00"), "{table}");
    let csv = stdout(&run_on(&["events", "-q", "--limit", "1", "--tz", "Asia/Tokyo", "--format", "csv"], &[&sample()]));
    assert!(csv.lines().nth(1).unwrap().starts_with(&first), "CSV stays UTC: {csv}");

    let text = stdout(&run_on(&["analyze", "-q", "--tz=-05:00"], &[&sample()]));
    assert!(line(&text, "Evidence:").contains("-05:00"), "{text}");
    let json = stdout(&run_on(&["analyze", "-q", "--tz=-05:00", "--format", "json"], &[&sample()]));
    assert!(!json.contains("-05:00") && json.contains("Z\""), "JSON stays UTC");
    let o = run_on(&["hunt", "-q", "--tz", "Mars/Base"], &[&sample()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not a time zone"), "{}", stderr(&o));
}
