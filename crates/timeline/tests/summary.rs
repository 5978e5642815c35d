//! Per-principal summaries on a small hand-made store.

use serde_json::{json, Value};
use trailscope_timeline::summary::{summarize, ApiCount};

const ACCOUNT: &str = "111122223333";

fn rec(n: usize, identity: Value, source: &str, name: &str, ip: &str, ua: &str, error: Option<&str>) -> Value {
    let mut r = json!({
        "eventVersion": "1.08", "userIdentity": identity,
        "eventTime": format!("2024-05-01T10:{:02}:{:02}Z", n / 60, n % 60),
        "eventSource": format!("{source}.amazonaws.com"), "eventName": name,
        "awsRegion": if n.is_multiple_of(2) { "us-east-1" } else { "eu-west-1" },
        "sourceIPAddress": ip, "userAgent": ua, "requestParameters": null, "responseElements": null,
        "requestID": format!("req-{n}"), "eventID": format!("evt-{n:04}"), "readOnly": true,
        "eventType": "AwsApiCall", "managementEvent": true, "recipientAccountId": ACCOUNT, "eventCategory": "Management"
    });
    if let Some(code) = error {
        r["errorCode"] = json!(code);
    }
    r
}

use trailscope_testkit::store;

#[test]
fn summarises_each_principal_by_name_with_outcomes_and_lists() {
    let alice = json!({"type": "IAMUser", "principalId": "AIDAALICE", "arn": format!("arn:aws:iam::{ACCOUNT}:user/alice"),
        "accountId": ACCOUNT, "accessKeyId": "AKIAALICE00000000001", "userName": "alice"});
    let alice_other_key = json!({"type": "IAMUser", "principalId": "AIDAALICE", "arn": format!("arn:aws:iam::{ACCOUNT}:user/alice"),
        "accountId": ACCOUNT, "accessKeyId": "AKIAALICE00000000002", "userName": "alice"});
    let service = json!({"type": "AWSService", "invokedBy": "cloudtrail.amazonaws.com"});
    let cli = "aws-cli/2.15.30 Python/3.11.8 Linux/6.1";
    let mut r = Vec::new();
    let mut n = 0;
    let mut add = |identity: &Value, source: &str, name: &str, ip: &str, ua: &str, error: Option<&str>| {
        r.push(rec(n, identity.clone(), source, name, ip, ua, error));
        n += 1;
    };
    for _ in 0..3 {
        add(&alice, "ec2", "DescribeInstances", "198.51.100.10", cli, None);
    }
    add(&alice, "iam", "ListUsers", "198.51.100.10", cli, Some("AccessDenied"));
    add(&alice, "iam", "ListUsers", "203.0.113.5", &format!("[{cli}]"), Some("AccessDenied"));
    add(&alice_other_key, "rds", "DeleteDBInstance", "203.0.113.5", cli, Some("InvalidDBInstanceStateFault"));
    add(&alice, "sts", "GetCallerIdentity", "203.0.113.5", cli, None);
    for _ in 0..2 {
        add(&service, "kms", "Decrypt", "cloudtrail.amazonaws.com", "cloudtrail.amazonaws.com", None);
    }
    let s = summarize(&store(&r));

    assert_eq!(s.len(), 2);
    assert_eq!(s.iter().map(|p| p.events).sum::<usize>(), 9, "every event belongs to one principal");
    let a = &s[0];
    assert_eq!(a.principal, format!("arn:aws:iam::{ACCOUNT}:user/alice"), "most events first");
    assert_eq!((a.events, a.calls_ok, a.calls_denied, a.calls_failed), (7, 4, 2, 1));
    assert_eq!(a.first_seen.to_string(), "2024-05-01T10:00:00Z");
    assert_eq!(a.last_seen.to_string(), "2024-05-01T10:00:06Z");
    assert_eq!(a.distinct_apis, 4);
    assert_eq!(a.top_apis[0], ApiCount { api: "ec2:DescribeInstances".into(), calls: 3 });
    assert_eq!(a.top_apis[1], ApiCount { api: "iam:ListUsers".into(), calls: 2 });
    assert_eq!(a.top_apis.len(), 4);
    assert_eq!(a.apis_denied, vec!["iam:ListUsers"]);
    assert_eq!(a.accounts, vec![ACCOUNT]);
    assert_eq!(a.regions, vec!["eu-west-1", "us-east-1"]);
    assert_eq!(a.source_ips, vec!["198.51.100.10", "203.0.113.5"]);
    assert_eq!(a.user_agents, vec![cli], "bracketed console form normalised to the same agent");
    assert_eq!(a.access_keys, vec!["AKIAALICE00000000001", "AKIAALICE00000000002"]);

    let svc = &s[1];
    assert_eq!(svc.principal, "service:cloudtrail.amazonaws.com");
    assert_eq!((svc.events, svc.calls_ok, svc.distinct_apis), (2, 2, 1));
    assert!(svc.access_keys.is_empty() && svc.apis_denied.is_empty());
}

#[test]
fn ties_order_by_name() {
    let who = |name: &str| {
        json!({"type": "IAMUser", "principalId": format!("AIDA{name}"), "arn": format!("arn:aws:iam::{ACCOUNT}:user/{name}"),
            "accountId": ACCOUNT, "userName": name})
    };
    let r = vec![
        rec(0, who("zed"), "s3", "ListBuckets", "198.51.100.1", "Boto3/1.34", None),
        rec(1, who("amy"), "s3", "ListBuckets", "198.51.100.2", "Boto3/1.34", None),
    ];
    let s = summarize(&store(&r));
    let names: Vec<&str> = s.iter().map(|p| p.principal.as_str()).collect();
    assert_eq!(names, [format!("arn:aws:iam::{ACCOUNT}:user/amy"), format!("arn:aws:iam::{ACCOUNT}:user/zed")]);
}
