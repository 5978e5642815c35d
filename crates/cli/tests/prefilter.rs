//! The filtered scan of a raw dump (`events`/`query` storing only records their filter may
//! match) answers byte for byte as reading the whole dump (`--no-prefilter`), and accounts for
//! every record it read.

mod common;

use std::path::Path;

use common::{gz, record, run, s3_body, sample, stderr, stdout, write};

/// The `filtered scan:` line's counts: found, stored, duplicates, rejected, not matching.
fn scan_counts(err: &str) -> Option<[u64; 5]> {
    let line = err.lines().find(|l| l.starts_with("trailscope: filtered scan:"))?;
    let re = regex::Regex::new(
        r"(\d+) records found, (\d+) stored, (\d+) duplicates, (\d+) rejected, (\d+) not matching the filter",
    )
    .unwrap();
    let c = re.captures(line)?;
    Some([1, 2, 3, 4, 5].map(|i| c[i].parse().unwrap()))
}

/// Records `trailscope ingest` finds in the dump.
fn found(dump: &Path) -> u64 {
    let o = run(&["ingest", dump.to_str().unwrap()]);
    let out = stdout(&o);
    let line = out.lines().find(|l| l.starts_with("Records:")).expect("ingest summary");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Run `args` on `dump` with and without the prefilter, in CSV and JSON Lines: the same bytes,
/// the same exit status, a non-empty answer, and a scan that left records out and counted them.
fn same_answer(dump: &Path, args: &[&str], total: u64) {
    for format in ["csv", "jsonl"] {
        let mut a: Vec<&str> = args.to_vec();
        a.insert(1, dump.to_str().unwrap());
        a.extend(["--format", format]);
        let full = run(&[a.as_slice(), &["--no-prefilter"]].concat());
        let scan = run(&a);
        assert_eq!(full.status.code(), scan.status.code(), "{a:?}: {}", stderr(&scan));
        assert!(full.status.success(), "{a:?}: {}", stderr(&full));
        assert!(
            !full.stdout.is_empty() && stdout(&full).lines().count() > usize::from(format == "csv"),
            "{a:?}: nothing matched"
        );
        assert!(stdout(&full) == stdout(&scan), "{a:?}: the scan answered differently");
        assert_eq!(scan_counts(&stderr(&full)), None, "{a:?}: --no-prefilter stores every record");
        let [records, stored, dups, rejected, not_matching] =
            scan_counts(&stderr(&scan)).unwrap_or_else(|| panic!("{a:?}: no scan line in {}", stderr(&scan)));
        assert_eq!(records, total, "{a:?}");
        assert_eq!(records, stored + dups + rejected + not_matching, "{a:?}");
        assert!(not_matching > 0 && stored > 0, "{a:?}: the filter should narrow the dump");
    }
}

#[test]
fn events_filters_answer_as_a_full_read() {
    let dump = sample();
    let total = found(&dump);
    for args in [
        vec!["events", "--event-name", "GetObject"],
        // Lambda's versioned names (ListFunctions20150331), and a name in another case.
        vec!["events", "--event-name", "ListFunctions"],
        vec!["events", "--event-name", "getbucketacl", "--event-name", "DESCRIBEKEY"],
        // Either of two account fields; a principal as part of an ARN, any case.
        vec!["events", "--account", "345678901234"],
        vec!["events", "--principal", "ALICE"],
        vec!["events", "--ip", "203.0.113.16", "--region", "us-east-1"],
        vec!["events", "--from", "2024-03-05T02:00:00Z", "--to", "2024-03-05T03:00:00Z"],
        vec!["events", "--to", "2024-03-04", "--user-agent", "boto"],
        vec!["events", "--event-source", "s3", "--error"],
        // --text is applied after the scan, on what the filters kept.
        vec!["events", "--event-name", "GetObject", "--text", "alice"],
    ] {
        same_answer(&dump, &args, total);
    }
}

#[test]
fn query_where_clauses_and_answers_are_the_same_after_a_scan() {
    let dump = sample();
    let total = found(&dump);
    for args in [
        vec!["query", "not eventName in (GetObject, ListBuckets) and recipientAccountId = 210987654321"],
        vec!["query", "eventName startswith get and eventName endswith 20150331v2"],
        vec!["query", "eventName matches /^Describe(Key|Table)$/ or sourceIPAddress in 203.0.113.0/24"],
        // A payload path: left to the query, after the scan kept alice's events.
        vec!["query", "userIdentity.arn contains alice and requestParameters.bucketName exists"],
        vec!["query", "eventTime between 2024-03-05 and 2024-03-05 and not userIdentity.userName exists"],
        vec!["query", "eventSource = s3.amazonaws.com", "--group-by", "eventName,userIdentity.arn"],
        vec!["query", "eventSource = s3.amazonaws.com", "--bucket", "1h", "--distinct", "sourceIPAddress"],
        vec!["query", "errorCode exists", "--count"],
        vec!["query", "awsRegion = eu-west-1", "--distinct", "eventName"],
    ] {
        same_answer(&dump, &args, total);
    }
}

/// The Stratus Red Team detonation logs: names, principals and accounts as AWS wrote them.
#[test]
fn stratus_logs_answer_as_a_full_read() {
    let Some(dir) = trailscope_testkit::corpus("stratus") else { return };
    let total = found(&dir);
    let top = |path: &str| -> Vec<String> {
        let o = run(&["query", "-q", dir.to_str().unwrap(), "*", "--group-by", path, "--format", "csv"]);
        let out = stdout(&o);
        out.lines().skip(1).map(|l| l.split(',').next().unwrap().to_owned()).filter(|v| !v.is_empty()).collect()
    };
    let names = top("eventName");
    let arns = top("userIdentity.arn");
    let accounts = top("recipientAccountId");
    assert!(names.len() > 3 && !arns.is_empty() && !accounts.is_empty());
    let lower = names[1].to_lowercase();
    let role = arns[0].rsplit('/').next().unwrap().to_owned();
    let not_top = format!("not eventName = {}", names[0]);
    for args in [
        vec!["events", "--event-name", names[0].as_str()],
        vec!["events", "--event-name", lower.as_str(), "--event-name", names[2].as_str()],
        vec!["events", "--principal", role.as_str()],
        vec!["query", not_top.as_str()],
        vec!["query", "eventName startswith Describe", "--group-by", "eventName"],
    ] {
        same_answer(&dir, &args, total);
    }
    // One account holds everything: filtering by it keeps all, which the scan may not narrow.
    let o = run(&["events", "-q", dir.to_str().unwrap(), "--account", accounts[0].as_str(), "--format", "jsonl"]);
    let full = run(&[
        "events",
        "-q",
        dir.to_str().unwrap(),
        "--account",
        accounts[0].as_str(),
        "--format",
        "jsonl",
        "--no-prefilter",
    ]);
    assert!(o.stdout == full.stdout);
}

/// A filter nothing matches: the scan stored no event, yet every record was examined, so the
/// exit status is the same clean one and nothing claims the evidence held no CloudTrail event.
#[test]
fn a_scan_that_keeps_nothing_is_not_empty_evidence() {
    let dump = sample();
    for extra in [&[][..], &["--no-prefilter"][..]] {
        let args =
            [&["events", dump.to_str().unwrap(), "--event-name", "NoSuchCall", "--format", "csv"][..], extra].concat();
        let o = run(&args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("0 events matched"), "{}", stderr(&o));
        assert!(!stderr(&o).contains("no CloudTrail event"), "{}", stderr(&o));
    }
}

/// Two different records under one eventID and account (CloudTrail does not write that; an
/// edited copy does): a full read keeps the first in file order and drops the later one as a
/// duplicate. The scan must too, even when the first does not match the filter and the later
/// one does, and even when the first sits earlier in the same file.
#[test]
fn a_later_copy_of_an_event_left_out_is_still_a_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let base = "AWSLogs/111122223333/CloudTrail/eu-west-1/2024/05/01";
    let first = record(1, "ListUsers");
    let mut edited = record(1, "CreateUser");
    edited["eventTime"] = serde_json::json!("2024-05-01T11:00:00Z");
    // Across files (a.json.gz before b.json.gz) and within one file (record 0 before 1).
    write(dir.path(), &format!("{base}/a.json.gz"), &gz(&s3_body(&[first.clone(), record(2, "GetUser")])));
    write(dir.path(), &format!("{base}/b.json.gz"), &gz(&s3_body(&[edited.clone(), record(3, "CreateUser")])));
    let mut same = record(4, "ListUsers");
    let mut same_edited = record(4, "CreateUser");
    same["eventID"] = serde_json::json!("f0f0f0f0-0000-4000-8000-000000000004");
    same_edited["eventID"] = same["eventID"].clone();
    write(dir.path(), &format!("{base}/c.json.gz"), &gz(&s3_body(&[same, same_edited])));
    let dump = dir.path().join("AWSLogs");
    let d = dump.to_str().unwrap();
    for format in ["csv", "jsonl"] {
        let args = ["events", d, "--event-name", "CreateUser", "--format", format];
        let full = run(&[&args[..], &["--no-prefilter"]].concat());
        let scan = run(&args);
        assert!(full.status.success() && scan.status.success(), "{}", stderr(&scan));
        assert_eq!(stdout(&scan), stdout(&full), "the scan kept a copy a full read drops");
        assert!(stdout(&full).contains("000000000003") && !stdout(&full).contains("000000000001"));
        // 6 found: CreateUser #3 stored, the two edited copies duplicates, three left out.
        assert_eq!(scan_counts(&stderr(&scan)), Some([6, 1, 2, 0, 3]), "{}", stderr(&scan));
    }
    let count = |extra: &[&str]| {
        let o = run(&[&["query", d, "eventName = CreateUser", "--count"][..], extra].concat());
        stdout(&o)
    };
    assert_eq!(count(&[]), count(&["--no-prefilter"]));
}
