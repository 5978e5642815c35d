//! Sigma semantics on ingested records: what a published rule means is what it matches.

use serde_json::{json, Value};
use trailscope_indicators::{RuleSet, Vars};
use trailscope_ingest::{ingest, IngestOptions};

fn event(n: usize, over: Value) -> Value {
    let mut r = json!({
        "eventVersion": "1.08",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/alice", "accountId": "111122223333", "accessKeyId": "AKIAEXAMPLEALICE0001", "userName": "alice"},
        "eventTime": format!("2024-05-01T10:00:{:02}Z", n % 60),
        "eventSource": "ec2.amazonaws.com", "eventName": "RunInstances", "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.10", "userAgent": "aws-cli/2.15.30",
        "requestParameters": {"instanceType": "t3.micro", "instancesSet": {"items": [{"maxCount": 1}]}},
        "responseElements": null, "eventID": format!("e-{n}"), "recipientAccountId": "111122223333"
    });
    if let (Value::Object(a), Value::Object(b)) = (&mut r, over) {
        for (k, v) in b {
            a.insert(k, v);
        }
    }
    r
}

/// Ids (`e-N`) of the events the rule matches.
fn matches(rule: &str, events: &[Value]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("r.yml"),
        format!("title: t\nid: t\nlogsource: {{product: aws, service: cloudtrail}}\nlevel: high\n{rule}"),
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("ev")).unwrap();
    std::fs::write(dir.path().join("ev/e.json"), serde_json::to_vec(&json!({ "Records": events })).unwrap()).unwrap();
    let (set, report) = RuleSet::load(false, &[dir.path().join("r.yml")], &Vars::new());
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let (store, _) = ingest(&[dir.path().join("ev")], &IngestOptions::default(), None).unwrap();
    let mut ids: Vec<String> = set
        .run(&store)
        .iter()
        .flat_map(|f| {
            f.rows.iter().map(|&r| store.event(r as usize).str(trailscope_store::Field::EventId).unwrap().to_owned())
        })
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

#[test]
fn null_means_absent_or_null_and_lists_may_mix_null() {
    let evs = [
        event(0, json!({})),
        event(1, json!({"errorCode": "AccessDenied"})),
        event(2, json!({"errorCode": "NoSuchEntity"})),
    ];
    assert_eq!(matches("detection: {sel: {errorCode: null}, condition: sel}", &evs), ["e-0"]);
    assert_eq!(matches("detection: {sel: {errorCode: [null, NoSuchEntity]}, condition: sel}", &evs), ["e-0", "e-2"]);
    assert_eq!(matches("detection: {sel: {requestParameters.notThere: null}, condition: sel}", &evs).len(), 3);
    assert_eq!(matches("detection: {sel: {errorCode|exists: false}, condition: sel}", &evs), ["e-0"]);
}

#[test]
fn numbers_nested_arrays_and_comparisons() {
    let evs = [
        event(
            0,
            json!({"requestParameters": {"instanceType": "p3.16xlarge", "instancesSet": {"items": [{"maxCount": 8}]}}}),
        ),
        event(1, json!({})),
    ];
    assert_eq!(
        matches("detection: {sel: {requestParameters.instancesSet.items.maxCount|gte: 5}, condition: sel}", &evs),
        ["e-0"]
    );
    assert_eq!(
        matches("detection: {sel: {requestParameters.instancesSet.items.maxCount: 1}, condition: sel}", &evs),
        ["e-1"]
    );
    assert_eq!(
        matches("detection: {sel: {requestParameters.instanceType|re: '^p[0-9]\\.'}, condition: sel}", &evs),
        ["e-0"]
    );
    assert_eq!(
        matches("detection: {sel: {requestParameters.instanceType|re: '^P3'}, condition: sel}", &evs),
        Vec::<String>::new(),
        "re is case-sensitive"
    );
    assert_eq!(
        matches("detection: {sel: {requestParameters.instanceType|re|i: '^P3'}, condition: sel}", &evs),
        ["e-0"]
    );
}

#[test]
fn cidr_keywords_all_and_conditions() {
    let evs = [
        event(0, json!({"sourceIPAddress": "203.0.113.9", "userAgent": "Boto3/1.28 os/linux#6.5.0-kali3"})),
        event(1, json!({"sourceIPAddress": "AWS Internal"})),
        event(2, json!({"sourceIPAddress": "2001:db8::5", "eventName": "DescribeInstances"})),
    ];
    assert_eq!(
        matches("detection: {sel: {sourceIPAddress|cidr: [203.0.113.0/24, '2001:db8::/32']}, condition: sel}", &evs),
        ["e-0", "e-2"]
    );
    assert_eq!(matches("detection: {keywords: [KALI], condition: keywords}", &evs), ["e-0"]);
    assert_eq!(matches("detection: {sel: {userAgent|contains|all: [boto3, linux]}, condition: sel}", &evs), ["e-0"]);
    assert_eq!(
        matches("detection: {sel: {userAgent|contains|all: [boto3, windows]}, condition: sel}", &evs),
        Vec::<String>::new()
    );
    let cond = "detection:\n  sel_a: {eventName: RunInstances}\n  sel_b: {sourceIPAddress: AWS Internal}\n  _helper: {eventName: DescribeInstances}\n  condition: (1 of sel_* and not sel_b) or all of _helper\n";
    assert_eq!(matches(cond, &evs), ["e-0", "e-2"]);
    assert_eq!(
        matches(
            "detection:\n  a: {eventName: RunInstances}\n  b: {awsRegion: us-east-1}\n  condition: all of them\n",
            &evs
        ),
        ["e-0", "e-1"]
    );
}

#[test]
fn objects_split_between_columns_and_payload_match_whole() {
    let evs = [
        event(0, json!({"tlsDetails": {"tlsVersion": "TLSv1.2", "clientProvidedHostHeader": "evil.example"}})),
        event(
            1,
            json!({"tlsDetails": {"tlsVersion": "TLSv1.3", "clientProvidedHostHeader": "ec2.us-east-1.amazonaws.com"}}),
        ),
    ];
    assert_eq!(
        matches("detection: {sel: {userIdentity|contains: 'user/alice'}, condition: sel}", &evs),
        ["e-0", "e-1"]
    );
    assert_eq!(matches("detection: {sel: {tlsDetails|contains: 'TLSv1.2'}, condition: sel}", &evs), ["e-0"]);
    assert_eq!(
        matches(
            "detection: {sel: {tlsDetails.clientProvidedHostHeader|endswith: '.amazonaws.com'}, condition: sel}",
            &evs
        ),
        ["e-1"]
    );
}

#[test]
fn wildcards_and_escapes() {
    let evs = [event(0, json!({"userAgent": "a*b"})), event(1, json!({"userAgent": "axb"}))];
    assert_eq!(matches("detection: {sel: {userAgent: 'a\\*b'}, condition: sel}", &evs), ["e-0"]);
    assert_eq!(matches("detection: {sel: {userAgent: 'a?b'}, condition: sel}", &evs), ["e-0", "e-1"]);
    assert_eq!(
        matches("detection: {sel: {userAgent: 'A*'}, condition: sel}", &evs),
        ["e-0", "e-1"],
        "case-insensitive"
    );
    assert_eq!(matches("detection: {sel: {userAgent|cased: 'A*'}, condition: sel}", &evs), Vec::<String>::new());
}

#[test]
fn correlation_in_another_file_and_value_count() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("base.yml"), "title: base\nname: denied\nlogsource: {product: aws, service: cloudtrail}\ndetection: {sel: {errorCode: AccessDenied}, condition: sel}\nlevel: low\n").unwrap();
    std::fs::write(dir.path().join("corr.yml"), "title: many APIs denied\nid: corr\ncorrelation:\n  type: value_count\n  rules: denied\n  group-by: [userIdentity.arn]\n  timespan: 1m\n  condition: {field: eventName, gte: 3}\nlevel: high\n").unwrap();
    let evs: Vec<Value> = ["A", "B", "B", "C"]
        .iter()
        .enumerate()
        .map(|(i, n)| event(i, json!({"eventName": n, "errorCode": "AccessDenied"})))
        .collect();
    std::fs::create_dir(dir.path().join("ev")).unwrap();
    std::fs::write(dir.path().join("ev/e.json"), serde_json::to_vec(&json!({ "Records": evs })).unwrap()).unwrap();
    let (set, report) = RuleSet::load(false, &[dir.path().to_path_buf()], &Vars::new());
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let (store, _) = ingest(&[dir.path().join("ev")], &IngestOptions::default(), None).unwrap();
    let findings = set.run(&store);
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0].rule.id, "corr");
    assert_eq!(findings[0].rows.len(), 4);
}

#[test]
fn a_finding_whose_every_event_failed_is_an_attempt() {
    let dir = tempfile::tempdir().unwrap();
    let events = [
        event(0, json!({"errorCode": "VcpuLimitExceeded", "errorMessage": "limit"})),
        event(1, json!({})),
        event(2, json!({"errorCode": "UnauthorizedOperation"})),
    ];
    std::fs::write(dir.path().join("e.json"), serde_json::to_vec(&json!({ "Records": events })).unwrap()).unwrap();
    let (store, _) = ingest(&[dir.path().to_path_buf()], &IngestOptions::default(), None).unwrap();
    let rule = "detection:\n  sel:\n    eventName: RunInstances\n  condition: sel\n";
    let rdir = tempfile::tempdir().unwrap();
    std::fs::write(
        rdir.path().join("r.yml"),
        format!("title: t\nid: t\nlogsource: {{product: aws, service: cloudtrail}}\n{rule}"),
    )
    .unwrap();
    let (set, _) = RuleSet::load(false, &[rdir.path().join("r.yml")], &Vars::new());
    let found = set.run(&store);
    let attempts: Vec<Option<&str>> = found.iter().map(|f| f.attempt(&store)).collect();
    assert_eq!(attempts, [Some("VcpuLimitExceeded"), None, Some("UnauthorizedOperation")]);
}

#[test]
fn column_fields_answer_the_same_whatever_their_json_type() {
    // `errorCode` as a number (seen in old and hand-made records), `userIdentity.accountId` as
    // a number: the rule, the filter text and the rebuilt record must all see them.
    let events = [
        event(
            0,
            json!({"errorCode": 403, "userIdentity": {"type": "IAMUser", "accountId": 111122223333u64, "arn": "arn:aws:iam::111122223333:user/bob"}}),
        ),
        event(1, json!({})),
    ];
    let ok = "detection:\n  sel:\n    eventName: RunInstances\n    errorCode: null\n  condition: sel\n";
    assert_eq!(matches(ok, &events), ["e-1"], "a numeric errorCode is an error, not a success");
    let coded =
        "detection:\n  sel:\n    errorCode: 403\n    userIdentity.accountId: '111122223333'\n  condition: sel\n";
    assert_eq!(matches(coded, &events), ["e-0"]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("e.json"), serde_json::to_vec(&json!({ "Records": events })).unwrap()).unwrap();
    let (store, _) = ingest(&[dir.path().to_path_buf()], &IngestOptions::default(), None).unwrap();
    let row = (0..store.len()).find(|&r| store.event(r).str(trailscope_store::Field::EventId) == Some("e-0")).unwrap();
    assert_eq!(store.event(row).str(trailscope_store::Field::ErrorCode), Some("403"));
    let rebuilt = store.event(row).to_json();
    assert_eq!(rebuilt["errorCode"], json!(403), "the record rebuilds with its original type");
    assert_eq!(rebuilt["userIdentity"]["accountId"], json!(111122223333u64));
}

/// `readOnly` and `managementEvent` live only in flag columns: a rule on them must read the
/// column (it once looked in the payload, where they are not, and never fired).
#[test]
fn read_only_and_management_event_flags_match_as_published_rules_write_them() {
    let evs = [
        event(0, json!({"readOnly": false, "managementEvent": true})),
        event(1, json!({"readOnly": true, "managementEvent": true})),
        event(2, json!({"managementEvent": false})),
        event(3, json!({"readOnly": false, "managementEvent": false})),
    ];
    assert_eq!(matches("detection: {sel: {readOnly: false}, condition: sel}", &evs), ["e-0", "e-3"]);
    assert_eq!(matches("detection: {sel: {readOnly: 'false'}, condition: sel}", &evs), ["e-0", "e-3"]);
    assert_eq!(matches("detection: {sel: {readOnly: true}, condition: not sel}", &evs), ["e-0", "e-2", "e-3"]);
    assert_eq!(matches("detection: {sel: {readOnly|exists: false}, condition: sel}", &evs), ["e-2"]);
    assert_eq!(matches("detection: {sel: {readOnly: null}, condition: sel}", &evs), ["e-2"]);
    assert_eq!(matches("detection: {sel: {readOnly: false, managementEvent: true}, condition: sel}", &evs), ["e-0"]);
    assert_eq!(matches("detection: {sel: {managementEvent: false}, condition: sel}", &evs), ["e-2", "e-3"]);
    // Grouping by a flag: one burst per value.
    let counted = "detection: {sel: {eventName: RunInstances}, condition: sel | count() by readOnly >= 2}";
    assert_eq!(matches(counted, &evs), ["e-0", "e-3"]);
}
