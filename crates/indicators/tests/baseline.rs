//! First-seen baselines learned from a separate, earlier dump (`--baseline PATH`) against the
//! same evidence learned from its own first part.

use serde_json::{json, Value};
use trailscope_indicators::baseline::{run, run_with_history, BaselineOptions};
use trailscope_indicators::Finding;
use trailscope_store::Store;

const LINUX_CLI: &str = "aws-cli/2.15.30 Python/3.11.8 Linux/6.1 exe/x86_64";

/// A call by IAM user `user` (key `AKIA<user>...`) at `day`/`minute` of May 2024.
fn call(n: usize, day: u32, minute: u32, user: &str, name: &str, ip: &str) -> Value {
    json!({
        "eventVersion": "1.08",
        "userIdentity": {"type": "IAMUser", "principalId": format!("AIDA{user}"), "arn": format!("arn:aws:iam::111122223333:user/{user}"),
            "accountId": "111122223333", "accessKeyId": format!("AKIA{:0<16}", user.to_uppercase()), "userName": user},
        "eventTime": format!("2024-05-{day:02}T10:{minute:02}:00Z"),
        "eventSource": if name == "GetCallerIdentity" { "sts.amazonaws.com" } else { "ec2.amazonaws.com" },
        "eventName": name, "awsRegion": "us-east-1",
        "sourceIPAddress": ip, "userAgent": LINUX_CLI, "requestParameters": null, "responseElements": null,
        "requestID": format!("req-{day}-{n}"), "eventID": format!("evt-{day}-{n}"), "readOnly": true,
        "eventType": "AwsApiCall", "managementEvent": true, "recipientAccountId": "111122223333", "eventCategory": "Management"
    })
}

use trailscope_testkit::store;

fn fired(findings: &[Finding], store: &Store, rule: &str) -> Vec<String> {
    findings
        .iter()
        .filter(|f| f.rule.id == rule)
        .map(|f| store.event(f.rows[0] as usize).str(trailscope_store::Field::EventId).unwrap().to_owned())
        .collect()
}

#[test]
fn ip_learned_in_the_history_is_known_and_a_new_one_fires_from_the_first_event() {
    // The history: alice works from the office; carol too (the evidence has no carol).
    let history = store(&[
        call(0, 1, 0, "alice", "DescribeInstances", "198.51.100.10"),
        call(1, 1, 5, "alice", "DescribeInstances", "198.51.100.10"),
        call(2, 1, 6, "carol", "DescribeVolumes", "198.51.100.99"),
    ]);
    // The evidence, a week later: alice's very first event comes from an unknown address, then
    // she is back at the office; bob, unknown to the history, starts with "whoami".
    let evidence = store(&[
        call(0, 8, 0, "alice", "DescribeInstances", "203.0.113.66"),
        call(1, 8, 1, "alice", "DescribeInstances", "198.51.100.10"),
        call(2, 8, 2, "bob", "GetCallerIdentity", "192.0.2.7"),
        call(3, 8, 3, "bob", "DescribeInstances", "192.0.2.8"),
    ]);

    let f = run_with_history(&evidence, &history);
    assert_eq!(fired(&f, &evidence, "ts-new-source-ip"), ["evt-8-0"], "only alice's new IP: {f:?}");
    assert_eq!(fired(&f, &evidence, "ts-first-call-get-caller-identity"), ["evt-8-2"], "bob is new");
    assert!(fired(&f, &evidence, "ts-new-api").is_empty(), "alice's API is known; bob has no history");
    assert!(f.iter().all(|x| x.group.as_deref().is_some_and(|g| !g.contains("carol"))));

    // Learning from the evidence itself, its first event is inside the window and cannot fire.
    let own = run(&evidence, &BaselineOptions::default());
    assert!(fired(&own, &evidence, "ts-new-source-ip").is_empty(), "{own:?}");
}

#[test]
fn history_with_another_os_for_a_key_fires_on_the_first_use() {
    let mut mac = call(0, 1, 0, "alice", "DescribeInstances", "198.51.100.10");
    mac["userAgent"] = json!("aws-cli/2.15.30 Python/3.11.8 Darwin/23.3.0 exe/x86_64");
    let history = store(&[mac]);
    let evidence = store(&[call(0, 8, 0, "alice", "DescribeInstances", "198.51.100.10")]);
    let f = run_with_history(&evidence, &history);
    assert_eq!(fired(&f, &evidence, "ts-key-os-change"), ["evt-8-0"], "{f:?}");
    assert_eq!(fired(&f, &evidence, "ts-new-user-agent"), ["evt-8-0"]);
    assert!(fired(&f, &evidence, "ts-new-source-ip").is_empty());
}

#[test]
fn one_finding_per_principal_and_new_value_with_every_later_event() {
    let history = store(&[call(0, 1, 0, "alice", "DescribeInstances", "198.51.100.10")]);
    // Alice then works from a new address five times, back at the office in between.
    let mut evidence = Vec::new();
    for i in 0..5 {
        evidence.push(call(2 * i, 8, 2 * i as u32, "alice", "DescribeInstances", "203.0.113.66"));
        evidence.push(call(2 * i + 1, 8, 2 * i as u32 + 1, "alice", "DescribeInstances", "198.51.100.10"));
    }
    let evidence = store(&evidence);
    let findings = run_with_history(&evidence, &history);
    let new_ip: Vec<&Finding> = findings.iter().filter(|f| f.rule.id == "ts-new-source-ip").collect();
    assert_eq!(new_ip.len(), 1, "one finding for (alice, 203.0.113.66), not one per event");
    let ips: Vec<&str> = new_ip[0]
        .rows
        .iter()
        .map(|&r| evidence.event(r as usize).str(trailscope_store::Field::SourceIp).unwrap())
        .collect();
    assert_eq!(ips, ["203.0.113.66"; 5], "every later event from the new address, and only those");
}
