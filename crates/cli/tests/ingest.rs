//! Ingest end to end: every wrapper, gz and plain, and every kind of bad input.

mod common;

use common::*;
use serde_json::json;

#[test]
fn every_wrapper_gz_and_plain_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let lookup = json!({"Events": records(10, 3).iter().map(|r| json!({"EventId": r["eventID"], "EventName": r["eventName"], "CloudTrailEvent": r.to_string()})).collect::<Vec<_>>(), "NextToken": null});
    let jsonl: String = records(20, 4).iter().map(|r| r.to_string() + "\n").collect();
    write(d, "AWSLogs/111122223333/CloudTrail/eu-west-1/2024/05/01/111122223333_CloudTrail_eu-west-1_20240501T1005Z_aaaa.json.gz", &gz(&s3_body(&records(0, 2))));
    write(d, "plain/s3.json", &s3_body(&records(2, 2)));
    write(d, "exports/lookup.json", &serde_json::to_vec(&lookup).unwrap());
    write(
        d,
        "exports/lookup.json.gz",
        &gz(&serde_json::to_vec(
            &json!({"Events": [json!({"CloudTrailEvent": record(13, "GetCallerIdentity").to_string()})]}),
        )
        .unwrap()),
    );
    write(d, "sim/array.json", &serde_json::to_vec(&records(30, 5)).unwrap());
    write(d, "sim/array.json.gz", &gz(&serde_json::to_vec(&records(40, 1)).unwrap()));
    write(d, "lines/events.jsonl", jsonl.as_bytes());
    write(
        d,
        "lines/events.jsonl.gz",
        &gz(records(50, 2).iter().map(|r| r.to_string() + "\n").collect::<String>().as_bytes()),
    );
    write(d, "renamed/no-extension", &gz(&s3_body(&records(60, 1))));
    write(d, "notes/README.txt", b"case notes, not evidence\n");
    write(d, "plain/._s3.json", b"\x00\x05\x16\x07 AppleDouble side file");
    let mut bom = vec![0xEF, 0xBB, 0xBF];
    bom.extend(s3_body(&records(70, 1)));
    write(d, "windows/export-with-bom.json", &bom);

    let o = run_on(&["ingest"], &[d]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{}", stderr(&o));
    assert_eq!(line(&out, "Files:"), "12 (log 10, insight 0, digest 0, other 2, error 0)");
    assert_eq!(line(&out, "Formats:"), "json-array 2, json-lines 2, lookup-events 2, s3-records 4");
    assert_eq!(line(&out, "Records:"), "22 found, 22 stored, 0 duplicates, 0 rejected");
    assert_eq!(line(&out, "Accounts:"), "111122223333");

    let csv = stdout(&run_on(&["events", "--format", "csv", "--event-name", "GetCallerIdentity"], &[d]));
    assert_eq!(csv.lines().count(), 2, "{csv}");
    assert!(csv.contains("e0e0e0e0-0000-4000-8000-000000000013"));
}

#[test]
fn corrupt_and_truncated_gzip_and_non_cloudtrail_json_are_named_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let good = gz(&s3_body(&records(0, 50)));
    let mut corrupt = good.clone();
    for b in &mut corrupt[20..60] {
        *b = !*b;
    }
    write(d, "a/good.json.gz", &good);
    write(d, "a/corrupt.json.gz", &corrupt);
    write(d, "a/truncated.json.gz", &good[..good.len() / 2]);
    write(d, "a/truncated-plain.json", &s3_body(&records(100, 3))[..200]);
    write(d, "a/package.json", br#"{"name":"left-pad","version":"1.3.0"}"#);
    write(d, "a/empty.json.gz", b"");

    let o = run_on(&["ingest"], &[d]);
    let (out, err) = (stdout(&o), stderr(&o));
    assert_eq!(o.status.code(), Some(3), "file errors: evidence incomplete, exit 3");
    // The truncated gzip is read in part (issue 13): its complete records are kept.
    assert_eq!(line(&out, "Files:"), "6 (log 2, insight 0, digest 0, other 0, error 4)");
    // It is a cut copy of good.json.gz: what it salvages are duplicates of that file's records.
    let found: u64 = line(&out, "Records:").split_whitespace().next().unwrap().parse().unwrap();
    assert!(found > 50 && found < 100, "{out}");
    assert_eq!(line(&out, "Records:"), format!("{found} found, 50 stored, {} duplicates, 0 rejected", found - 50));
    assert!(
        err.contains(&format!(
            "a/truncated.json.gz: partly read (gzip stream ends early (file truncated)): the {} complete records",
            found - 50
        )),
        "{err}"
    );
    assert!(err.contains("a/corrupt.json.gz: corrupt or truncated gzip"), "{err}");
    assert!(err.contains("a/truncated-plain.json: invalid JSON"), "{err}");
    assert!(err.contains("a/package.json: not a CloudTrail file: JSON object without Records, Events or record fields (keys: name, version)"), "{err}");
    assert!(err.contains("a/empty.json.gz: invalid JSON: file is empty"), "{err}");

    let strict = run_on(&["ingest", "--strict"], &[d]);
    assert_eq!(strict.status.code(), Some(2));
    assert!(stderr(&strict).contains("strict mode"), "{}", stderr(&strict));
}

#[test]
fn invalid_records_among_valid_ones_are_rejected_by_file_and_index() {
    let dir = tempfile::tempdir().unwrap();
    let mut recs = records(0, 4);
    recs[1]["eventTime"] = json!("last tuesday");
    recs[2].as_object_mut().unwrap().remove("eventName");
    recs.push(json!("not a record"));
    write(dir.path(), "mixed.json", &s3_body(&recs));
    let o = run_on(&["ingest"], &[dir.path()]);
    let (out, err) = (stdout(&o), stderr(&o));
    assert_eq!(o.status.code(), Some(3), "records rejected: evidence incomplete");
    assert_eq!(line(&out, "Records:"), "5 found, 2 stored, 0 duplicates, 3 rejected");
    assert!(err.contains("mixed.json: record 1: eventTime is not an ISO 8601 time (last tuesday)"), "{err}");
    assert!(err.contains("mixed.json: record 2: missing or non-string eventName"), "{err}");
    assert!(err.contains("mixed.json: record 4: record is not a JSON object"), "{err}");
}

#[test]
fn duplicates_across_files_are_counted_once_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "export-1/a.json.gz", &gz(&s3_body(&records(0, 10))));
    write(d, "export-2/a.json.gz", &gz(&s3_body(&records(5, 10))));
    // The same event id in another recipient account is a different delivery, not a duplicate.
    let mut other = record(0, "DescribeInstances");
    other["recipientAccountId"] = json!("444455556666");
    write(d, "export-3/b.json", &s3_body(&[other]));
    let o = run_on(&["ingest"], &[d]);
    assert_eq!(o.status.code(), Some(0), "duplicates are expected, not errors");
    assert_eq!(line(&stdout(&o), "Records:"), "21 found, 16 stored, 5 duplicates, 0 rejected");
}

#[test]
fn empty_records_file_is_fine_and_clean_evidence_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01/x.json.gz", &gz(br#"{"Records":[]}"#));
    write(dir.path(), "b.json", &s3_body(&records(0, 3)));
    let o = run_on(&["ingest"], &[dir.path()]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(line(&stdout(&o), "Records:"), "3 found, 3 stored, 0 duplicates, 0 rejected");
    let a = run_on(&["analyze", "--quiet"], &[dir.path()]);
    assert_eq!(a.status.code(), Some(0), "no finding, nothing unread: {}", stdout(&a));
    assert!(stdout(&a).contains("no attacker activity attributed"));
}

#[test]
fn pages_of_lookup_events_saved_one_after_another_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let page = |first: usize| {
        let events: Vec<_> = records(first, 2)
            .iter()
            .map(|r| json!({"EventId": r["eventID"], "CloudTrailEvent": r.to_string()}))
            .collect();
        serde_json::to_string_pretty(&json!({"Events": events, "NextToken": "abc"})).unwrap()
    };
    write(dir.path(), "lookup-pages.json", format!("{}\n{}\n", page(0), page(2)).as_bytes());
    let o = run_on(&["ingest"], &[dir.path()]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{}", stderr(&o));
    assert_eq!(line(&out, "Records:"), "4 found, 4 stored, 0 duplicates, 0 rejected");
    assert_eq!(line(&out, "Formats:"), "lookup-events 1");
}

#[test]
fn insight_files_are_ingested_and_marked() {
    let dir = tempfile::tempdir().unwrap();
    let mut insight = record(0, "RunInstances");
    insight["eventType"] = json!("AwsCloudTrailInsight");
    insight["eventCategory"] = json!("Insight");
    insight["insightDetails"] = json!({"state": "Start", "insightType": "ApiCallRateInsight", "insightContext": {"statistics": {"baseline": {"average": 0.1}, "insight": {"average": 9.0}}}});
    write(dir.path(), "AWSLogs/111122223333/CloudTrail-Insight/us-east-1/2024/05/01/111122223333_CloudTrail-Insight_us-east-1_20240501T1005Z_abc.json.gz", &gz(&s3_body(&[insight])));
    write(dir.path(), "b.json", &s3_body(&records(1, 2)));
    let o = run_on(&["ingest"], &[dir.path()]);
    assert_eq!(line(&stdout(&o), "Files:"), "2 (log 1, insight 1, digest 0, other 0, error 0)");
    let jsonl = stdout(&run_on(&["events", "--quiet", "--format", "jsonl"], &[dir.path()]));
    let insight_line = jsonl.lines().find(|l| l.contains("AwsCloudTrailInsight")).expect("insight event stored");
    let v: serde_json::Value = serde_json::from_str(insight_line).unwrap();
    assert_eq!(v["insightDetails"]["insightType"], "ApiCallRateInsight", "nested insight data kept");
}

#[test]
fn missing_input_is_a_fatal_error() {
    let o = run(&["ingest", "/definitely/not/here"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("/definitely/not/here: No such file or directory"), "{err}");
    assert_eq!(err.matches("No such file").count(), 1, "the reason once: {err}");
    assert_eq!(run(&["ingest"]).status.code(), Some(2), "usage error");
}

/// A tree with nothing of CloudTrail in it is not a clean result, whatever the command.
#[test]
fn evidence_without_any_event_is_never_clean() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "notes/readme.txt", b"collected by J. Doe\n");
    write(dir.path(), "AWSLogs/111122223333/CloudTrail/eu-west-1/2024/05/01/empty.json.gz", &gz(b"{\"Records\":[]}"));
    for cmd in ["analyze", "hunt", "events", "summary", "ingest"] {
        let o = run_on(&[cmd, "-q"], &[dir.path()]);
        assert_eq!(o.status.code(), Some(3), "{cmd}: {}", stderr(&o));
        assert!(stderr(&o).contains("no CloudTrail event in the evidence"), "{cmd}: {}", stderr(&o));
    }
}

/// Absurd thread counts are refused or reduced with a message, never obeyed.
#[test]
fn absurd_thread_counts_are_refused_or_reduced() {
    let o = run_on(&["ingest", "-q", "-j", "100000"], &[&sample()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("at most 1024"), "{}", stderr(&o));
    let o = run_on(&["ingest", "-q", "-j", "1000"], &[&sample()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("more than 4 threads per core"), "{}", stderr(&o));
}

/// A case directory inside the evidence would change the evidence: refused, before any output.
#[test]
fn out_inside_the_evidence_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ev = dir.path().join("evidence");
    write(&ev, "AWSLogs/111122223333/CloudTrail/eu-west-1/2024/05/01/a.json.gz", &gz(&s3_body(&records(0, 3))));
    let inside = ev.join("AWSLogs/case-42");
    let o = run_on(&["hunt", "-q", "--out", inside.to_str().unwrap()], &[&ev]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("inside the evidence"), "{}", stderr(&o));
    assert!(!inside.exists(), "nothing written");
    let beside = ev.join("..").join("case-42");
    let o = run_on(&["ingest", "-q", "--out", beside.to_str().unwrap()], &[&ev]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(dir.path().join("case-42/ingest.txt").exists());
}
