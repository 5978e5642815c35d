//! The actor model on small hand-made evidence, one test per way naive attribution goes wrong
//! on real dumps: owner hygiene, one key driving two tools, direction and outcome of calls, the
//! baseline's blind spot, a timeline that hides the attacker, and data access without coverage.

use serde_json::{json, Value};
use trailscope_indicators::RuleSet;
use trailscope_store::Store;
use trailscope_timeline::actors::{attribute, ReasonKind, Verdict};
use trailscope_timeline::change::EndState;
use trailscope_timeline::report::CoverageGap;
use trailscope_timeline::{ActorOptions, Lineage, Report, ReportOptions, Trust};

const ACCOUNT: &str = "111122223333";
const KALI: &str = "aws-cli/2.13.5 Python/3.11.4 Linux/6.5.0-kali3-amd64 exe/x86_64.kali.2023";
const TERRAFORM: &str = "APN/1.0 HashiCorp/1.0 Terraform/1.7.4 terraform-provider-aws/5.39.1 aws-sdk-go-v2/1.25.2";
const BOTO: &str = "Boto3/1.34.54 md/Botocore#1.34.54 ua/2.0 os/linux#5.10 lang/python#3.11.8";
const CHROME: &str =
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 Chrome/122.0.0.0 Safari/537.36";

/// Who makes a call.
#[derive(Clone)]
struct Who {
    identity: Value,
    ip: &'static str,
    ua: &'static str,
}

fn user(name: &str, key: &str, ip: &'static str, ua: &'static str) -> Who {
    Who {
        identity: json!({"type": "IAMUser", "principalId": format!("AIDA{name}"), "arn": format!("arn:aws:iam::{ACCOUNT}:user/{name}"),
            "accountId": ACCOUNT, "accessKeyId": key, "userName": name}),
        ip,
        ua,
    }
}

fn root_console(key: &str, ip: &'static str) -> Who {
    Who {
        identity: json!({"type": "Root", "principalId": ACCOUNT, "arn": format!("arn:aws:iam::{ACCOUNT}:root"), "accountId": ACCOUNT,
            "accessKeyId": key, "sessionContext": {"attributes": {"mfaAuthenticated": "false", "creationDate": "2024-05-01T09:00:00Z"}}}),
        ip,
        ua: CHROME,
    }
}

/// The evidence under construction: records with increasing times.
#[derive(Default)]
struct Case {
    records: Vec<Value>,
    t: i64,
}

impl Case {
    /// A call `secs` seconds after the previous one.
    fn call(&mut self, secs: i64, who: &Who, source: &str, name: &str, req: Value, error: Option<&str>) -> String {
        self.t += secs;
        let t = 1_714_550_400 + self.t; // 2024-05-01T08:00:00Z
        let (d, h, m, s) = (1 + t / 86_400 - 19_844, (t % 86_400) / 3600, (t % 3600) / 60, t % 60);
        let id = format!("evt-{:05}", self.records.len());
        let mut r = json!({
            "eventVersion": "1.08", "userIdentity": who.identity, "eventTime": format!("2024-05-{d:02}T{h:02}:{m:02}:{s:02}Z"),
            "eventSource": format!("{source}.amazonaws.com"), "eventName": name, "awsRegion": "us-east-1",
            "sourceIPAddress": who.ip, "userAgent": who.ua, "requestParameters": req, "responseElements": null,
            "requestID": format!("req-{id}"), "eventID": id, "readOnly": name.starts_with("Get") || name.starts_with("List") || name.starts_with("Describe"),
            "eventType": "AwsApiCall", "managementEvent": true, "recipientAccountId": ACCOUNT, "eventCategory": "Management"
        });
        if let Some(code) = error {
            r["errorCode"] = json!(code);
            r["errorMessage"] = json!(format!("{code} for {name}"));
        }
        if source == "signin" {
            r["eventType"] = json!("AwsConsoleSignIn");
            r["responseElements"] = json!({"ConsoleLogin": "Success"});
            r["additionalEventData"] = json!({"MFAUsed": "No"});
            r["userIdentity"].as_object_mut().unwrap().remove("accessKeyId");
        }
        if source == "s3" && name == "GetObject" {
            r["eventCategory"] = json!("Data");
            r["managementEvent"] = json!(false);
        }
        self.records.push(r);
        id
    }

    fn ok(&mut self, secs: i64, who: &Who, source: &str, name: &str, req: Value) -> String {
        self.call(secs, who, source, name, req, None)
    }

    fn store(&self) -> Store {
        trailscope_testkit::store(&self.records)
    }

    fn report(&self, opts: &ReportOptions) -> (Store, Report) {
        let store = self.store();
        let findings = RuleSet::builtin().run(&store);
        let lineage = Lineage::build(&store);
        let report = Report::build(&store, &findings, &lineage, opts);
        if opts.actors.enricher.is_none() {
            // Every scenario again with every network in EC2 space and an AS of its own:
            // enrichment may add reasons, never move the line between attacker and the rest.
            let dir = tempfile::tempdir().unwrap();
            let mut with = opts.clone();
            with.actors.enricher = Some(everything_in_ec2(dir.path()));
            let enriched = Report::build(&store, &findings, &lineage, &with);
            assert_eq!(attacker_ids(&enriched), attacker_ids(&report), "enrichment moved the attacker line");
        }
        (store, report)
    }
}

/// The intruder of most tests: a leaked IAM user key from a VPS, an offensive distribution,
/// denied recon, its own policy widened, a key for a new user.
fn intrusion(c: &mut Case, key: &str) -> Vec<String> {
    let who = user("ci-deployer", key, "185.220.101.47", KALI);
    let mut ids = vec![c.ok(30, &who, "sts", "GetCallerIdentity", json!(null))];
    for name in
        ["ListUsers", "ListRoles", "ListPolicies", "GetAccountAuthorizationDetails", "ListGroups", "ListAccessKeys"]
    {
        ids.push(c.call(5, &who, "iam", name, json!(null), Some("AccessDenied")));
    }
    ids.push(c.ok(5, &who, "iam", "ListAttachedUserPolicies", json!({"userName": "ci-deployer"})));
    ids.push(c.ok(
        5,
        &who,
        "iam",
        "PutUserPolicy",
        json!({"userName": "ci-deployer", "policyName": "x", "policyDocument": "{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}]}"}),
    ));
    ids.push(c.ok(5, &who, "iam", "CreateUser", json!({"userName": "backup-svc"})));
    ids.push(c.ok(5, &who, "iam", "CreateAccessKey", json!({"userName": "backup-svc"})));
    ids
}

fn attacker_ids(r: &Report) -> Vec<String> {
    r.actors.iter().filter(|a| a.verdict == Verdict::Attacker).flat_map(|a| a.event_ids.clone()).collect()
}

#[test]
fn owner_root_console_without_mfa_is_a_risk_not_the_attacker() {
    let mut c = Case::default();
    let owner = root_console("ASIAOWNERCONSOLE0001", "198.51.100.23");
    c.ok(0, &owner, "signin", "ConsoleLogin", json!(null));
    let mut owner_ids = Vec::new();
    for i in 0..60 {
        let (src, name) = [
            ("ec2", "DescribeInstances"),
            ("iam", "ListUsers"),
            ("s3", "ListBuckets"),
            ("cloudtrail", "DescribeTrails"),
        ][i % 4];
        owner_ids.push(c.ok(20, &owner, src, name, json!(null)));
    }
    for i in 0..30 {
        let key = format!("AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/2024/05/01/f{i}.json.gz");
        owner_ids.push(c.ok(3, &owner, "s3", "GetObject", json!({"bucketName": "acme-cloudtrail-logs", "key": key})));
    }
    let bad = intrusion(&mut c, "AKIALEAKEDKEY0000001");
    let (_, r) = c.report(&ReportOptions::default());

    let first = &r.actors[0];
    assert_eq!(first.verdict, Verdict::Attacker);
    assert_eq!(first.source_ips, ["185.220.101.47"]);
    let root = r.actors.iter().find(|a| a.principals.iter().any(|p| p.ends_with(":root"))).unwrap();
    assert_ne!(root.verdict, Verdict::Attacker, "owner root: {:?}", root.reasons);
    assert!(
        root.risks.iter().any(|x| x.contains("root")),
        "root's hygiene findings are listed as risks: {:?}",
        root.risks
    );
    let got = attacker_ids(&r);
    assert!(bad.iter().all(|i| got.contains(i)));
    assert!(owner_ids.iter().all(|i| !got.contains(i)), "owner's console calls are not the attacker's");
    assert!(r.data_accessed.iter().all(|d| d.resource != "acme-cloudtrail-logs"), "{:?}", r.data_accessed);
    assert_eq!(r.compromised_credentials[0].access_key, "AKIALEAKEDKEY0000001");
    assert!(r.findings.iter().any(|f| f.risk && f.rule == "ts-root-activity"));
}

#[test]
fn one_key_and_ip_two_tools_only_the_technique_is_hostile() {
    let mut c = Case::default();
    let tf = user("ci-deployer", "AKIALEAKEDKEY0000001", "185.220.101.47", TERRAFORM);
    let mut iac = Vec::new();
    for i in 0..40 {
        iac.push(c.ok(2, &tf, "ec2", "DescribeVpcs", json!({"i": i})));
    }
    iac.push(c.ok(2, &tf, "iam", "CreateRole", json!({"roleName": "stratus-role", "assumeRolePolicyDocument": "{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"lambda.amazonaws.com\"},\"Action\":\"sts:AssumeRole\"}]}"})));
    iac.push(c.call(2, &tf, "ec2", "DeleteVpc", json!({"vpcId": "vpc-1"}), Some("DependencyViolation")));
    // The technique: the same key and IP, an SDK this time.
    let sdk = user("ci-deployer", "AKIALEAKEDKEY0000001", "185.220.101.47", BOTO);
    let mut technique = Vec::new();
    for name in ["ListUsers", "ListRoles", "ListPolicies", "ListGroups", "GetAccountAuthorizationDetails"] {
        technique.push(c.call(3, &sdk, "iam", name, json!(null), Some("AccessDenied")));
    }
    technique.push(c.ok(
        3,
        &sdk,
        "iam",
        "AttachUserPolicy",
        json!({"userName": "ci-deployer", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}),
    ));
    technique.push(c.ok(3, &sdk, "cloudtrail", "StopLogging", json!({"name": "main"})));
    let (_, r) = c.report(&ReportOptions::default());

    let got = attacker_ids(&r);
    assert!(technique.iter().all(|i| got.contains(i)), "technique attributed: {got:?}");
    assert!(iac.iter().all(|i| !got.contains(i)), "Terraform set-up is not the attacker's: {:?}", r.actors);
    let tf_actor = r.actors.iter().find(|a| a.event_ids.contains(&iac[0])).unwrap();
    assert!(
        tf_actor.reasons.iter().any(|x| x.kind == ReasonKind::SharesCredentialWithHostileActor),
        "the shared key is noted: {:?}",
        tf_actor.reasons
    );
}

#[test]
fn direction_and_outcome_decide_what_counts() {
    let mut c = Case::default();
    let owner = user("alice", "AKIAALICE00000000001", "198.51.100.23", BOTO);
    // Turning logging ON is not evasion.
    let on = c.ok(10, &owner, "cloudtrail", "PutEventSelectors", json!({"trailName": "main", "eventSelectors": [{"readWriteType": "All", "includeManagementEvents": true, "dataResources": [{"type": "AWS::S3::Object", "values": ["arn:aws:s3"]}]}]}));
    c.ok(
        10,
        &owner,
        "cloudtrail",
        "UpdateTrail",
        json!({"name": "main", "cloudWatchLogsLogGroupArn": "arn:aws:logs:us-east-1:111122223333:log-group:ct"}),
    );
    // Failed calls that would be alarming had they worked.
    c.call(
        10,
        &owner,
        "rds",
        "DeleteDBInstance",
        json!({"dBInstanceIdentifier": "db1", "skipFinalSnapshot": true}),
        Some("InvalidDBInstanceStateFault"),
    );
    c.call(10, &owner, "cloudtrail", "StopLogging", json!({"name": "tf-test-trail"}), Some("TrailNotFoundException"));
    c.call(10, &owner, "ec2", "RunInstances", json!({"instanceType": "p3.16xlarge"}), Some("VcpuLimitExceeded"));
    // The intruder narrows logging, fails once, and is later cleaned up by the owner.
    let bad = user("ci-deployer", "AKIALEAKEDKEY0000001", "185.220.101.47", KALI);
    c.call(10, &bad, "guardduty", "DeleteDetector", json!({"detectorId": "d1"}), Some("AccessDenied"));
    let narrowed = c.ok(10, &bad, "cloudtrail", "PutEventSelectors", json!({"trailName": "main", "eventSelectors": [{"readWriteType": "WriteOnly", "includeManagementEvents": true}]}));
    let created = c.ok(10, &bad, "iam", "CreateUser", json!({"userName": "backup-svc"}));
    c.ok(
        10,
        &bad,
        "iam",
        "AttachUserPolicy",
        json!({"userName": "ci-deployer", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}),
    );
    let cleanup = c.ok(3600, &owner, "iam", "DeleteUser", json!({"userName": "backup-svc"}));
    let (_, r) = c.report(&ReportOptions::default());

    let owner_actor = r.actors.iter().find(|a| a.source_ips == ["198.51.100.23"]).unwrap();
    assert_eq!(owner_actor.verdict, Verdict::Benign, "{:?}", owner_actor.reasons);
    assert!(r.defense_evasion.iter().all(|e| e.event_id != on), "enabling data events is not evasion");
    let weakened = r.defense_evasion.iter().find(|e| e.event_id == narrowed).expect("narrowing is evasion");
    assert_eq!(weakened.end_state, EndState::Present);
    let attempt = r.defense_evasion.iter().find(|e| e.action == "guardduty:DeleteDetector").unwrap();
    assert!(matches!(&attempt.end_state, EndState::Attempted { error } if error == "AccessDenied"));
    let user = r.persistence.iter().find(|p| p.event_id == created).unwrap();
    match &user.end_state {
        EndState::Reverted { event_id, by_principal, .. } => {
            assert_eq!(event_id, &cleanup);
            assert!(by_principal.ends_with("user/alice"));
        }
        other => panic!("CreateUser should be undone by the owner's DeleteUser, is {other:?}"),
    }
    assert!(r.persistence.iter().all(|p| p.action != "iam:DeleteUser"), "clean-up is not persistence");
    let action = r.actions.iter().find(|a| a.action == "guardduty:DeleteDetector").unwrap();
    assert_eq!((action.succeeded, action.denied), (0, 1));
}

#[test]
fn baseline_window_covering_the_attack_is_reported() {
    let mut c = Case::default();
    intrusion(&mut c, "AKIALEAKEDKEY0000001");
    let owner = user("alice", "AKIAALICE00000000001", "198.51.100.23", BOTO);
    for _ in 0..20 {
        c.ok(3600, &owner, "ec2", "DescribeInstances", json!(null));
    }
    let store = c.store();
    let window = Some((store.times()[0], store.times()[0] + 6 * 3_600_000));
    let findings = RuleSet::builtin().run(&store);
    let r = Report::build(
        &store,
        &findings,
        &Lineage::build(&store),
        &ReportOptions { baseline_window: window, ..ReportOptions::default() },
    );
    let b = r.baseline.clone().expect("baseline window reported");
    assert_eq!(b.attacker_events_inside, r.attacker_events, "the whole attack lies inside the window");
    let mut text = Vec::new();
    trailscope_timeline::write::text::write_report(&mut text, &r).unwrap();
    assert!(String::from_utf8(text).unwrap().contains("attacker events lie inside the learning window"));
}

#[test]
fn text_timeline_shows_the_attacker_first_whatever_the_cap() {
    let mut c = Case::default();
    // A second hostile actor early on, with many rows, then the main intruder.
    let noisy = user("ci-deployer", "AKIALEAKEDKEY0000001", "203.0.113.99", KALI);
    for i in 0..300 {
        c.ok(1, &noisy, "s3", "ListBuckets", json!({"n": i % 7}));
    }
    let bad = intrusion(&mut c, "AKIAOTHERKEY00000002");
    let (_, r) = c.report(&ReportOptions::default());
    let mut text = Vec::new();
    trailscope_timeline::write::text::write_report(&mut text, &r).unwrap();
    let text = String::from_utf8(text).unwrap();
    let timeline = &text[text.find("Attacker Timeline").unwrap()..];
    let first_actor = &r.actors[0];
    assert!(first_actor.event_ids.contains(&bad[0]), "the intruder with the heaviest evidence ranks first");
    assert!(timeline.contains(&bad[0]), "the top actor's first row is printed");
    assert!(timeline.contains(" x"), "repeats are folded: {}", &timeline[..timeline.len().min(2000)]);
    assert!(timeline.lines().count() < 250);
}

#[test]
fn data_access_before_data_events_were_on_is_flagged() {
    let mut c = Case::default();
    let owner = user("alice", "AKIAALICE00000000001", "198.51.100.23", BOTO);
    for _ in 0..10 {
        c.ok(3600, &owner, "ec2", "DescribeInstances", json!(null));
    }
    intrusion(&mut c, "AKIALEAKEDKEY0000001");
    for _ in 0..10 {
        c.ok(3600, &owner, "ec2", "DescribeInstances", json!(null));
    }
    c.ok(10, &owner, "cloudtrail", "PutEventSelectors", json!({"trailName": "main", "eventSelectors": [{"readWriteType": "All", "includeManagementEvents": true, "dataResources": [{"type": "AWS::S3::Object", "values": ["arn:aws:s3"]}]}]}));
    for i in 0..5 {
        c.ok(60, &owner, "s3", "GetObject", json!({"bucketName": "b", "key": format!("k{i}")}));
    }
    let (_, r) = c.report(&ReportOptions::default());
    assert!(r
        .coverage
        .gaps
        .iter()
        .any(|g| matches!(g, CoverageGap::NoDataEvents { account, first_data_event: Some(_) } if account == ACCOUNT)));
    assert!(
        r.coverage.caveats.iter().any(|c| c.contains("object reads before")),
        "caveat names the blind spot: {:?}",
        r.coverage.caveats
    );
}

#[test]
fn trust_overrides_reshape_verdicts() {
    let mut c = Case::default();
    intrusion(&mut c, "AKIALEAKEDKEY0000001");
    let store = c.store();
    let findings = RuleSet::builtin().run(&store);
    let lineage = Lineage::build(&store);
    let plain = attribute(&store, &findings, &lineage, &ActorOptions::default());
    assert_eq!(plain.actors[0].verdict, Verdict::Attacker);
    let opts = ActorOptions { trust: vec![Trust::parse("ip=185.220.101.0/24").unwrap()], ..ActorOptions::default() };
    let trusted = attribute(&store, &findings, &lineage, &opts);
    assert!(trusted.actors.iter().all(|a| a.verdict == Verdict::Benign));
    assert!(trusted.actors[0].reasons.iter().any(|r| r.kind == ReasonKind::Trusted));
}

#[test]
fn a_newcomer_with_a_medium_finding_is_unknown_not_the_owner() {
    let mut c = Case::default();
    let who = user("deployer", "AKIANEWCOMER00000001", "192.0.2.10", BOTO);
    c.ok(0, &who, "ssm", "SendCommand", json!({"documentName": "AWS-RunShellScript", "instanceIds": ["i-0abc"]}));
    let (_, r) = c.report(&ReportOptions::default());
    let a = &r.actors[0];
    assert!(a.reasons.iter().any(|x| x.kind == ReasonKind::Finding), "{:?}", a.reasons);
    assert_eq!(a.verdict, Verdict::Unknown, "no history vouches for it: {:?}", a.reasons);
}

/// Only an ASN database (no AWS ranges): nothing can be said to lie outside AWS.
fn asn_only_enricher(dir: &std::path::Path) -> std::sync::Arc<trailscope_enrich::Enricher> {
    std::fs::create_dir_all(dir).unwrap();
    let mut sources =
        trailscope_enrich::testing::write_sources(dir, &[], &[("203.0.113.0/24", 64511, "Example Hosting")], &[]);
    sources.aws_ranges = None;
    sources.geoip = None;
    std::sync::Arc::new(trailscope_enrich::Enricher::open(&sources).unwrap().unwrap())
}

/// Stress databases: every network of these tests in EC2 address space, each /24 its own AS, so
/// both enrichment reasons fire wherever they can.
fn everything_in_ec2(dir: &std::path::Path) -> std::sync::Arc<trailscope_enrich::Enricher> {
    let nets = ["185.220.101.0/24", "198.51.100.0/24", "192.0.2.0/24", "203.0.113.0/24", "3.80.0.0/12", "52.20.0.0/14"];
    let asns: Vec<(&str, u32, &str)> =
        nets.iter().enumerate().map(|(i, n)| (*n, 64500 + i as u32, "Example Cloud Tenant")).collect();
    let ranges: Vec<(&str, &str, &str)> = nets.iter().map(|n| (*n, "us-east-1", "EC2")).collect();
    let sources = trailscope_enrich::testing::write_sources(dir, &[], &asns, &ranges);
    std::sync::Arc::new(trailscope_enrich::Enricher::open(&sources).unwrap().unwrap())
}

/// Databases for the enrichment tests: the owner's office ISP, EC2 in us-east-1, a VPS host.
fn enricher(dir: &std::path::Path) -> std::sync::Arc<trailscope_enrich::Enricher> {
    let sources = trailscope_enrich::testing::write_sources(
        dir,
        &[("198.51.100.0/24", "US", "United States", Some("Seattle")), ("3.80.0.0/12", "US", "United States", None)],
        &[
            ("198.51.100.0/24", 64502, "Example Office ISP"),
            ("3.80.0.0/12", 14618, "AMAZON-AES"),
            ("52.20.0.0/14", 14618, "AMAZON-AES"),
            ("54.208.0.0/13", 14618, "AMAZON-AES"),
        ],
        &[
            ("3.0.0.0/8", "us-east-1", "AMAZON"),
            ("3.80.0.0/12", "us-east-1", "EC2"),
            ("52.20.0.0/14", "us-east-1", "EC2"),
            ("54.208.0.0/13", "us-east-1", "EC2"),
        ],
    );
    std::sync::Arc::new(trailscope_enrich::Enricher::open(&sources).unwrap().unwrap())
}

/// The owner rotates a service user's key (a new one made, the old one deactivated and deleted):
/// owner's routine, and the clean-up after an intrusion. A newcomer doing the same, or the owner
/// making a key for someone without retiring one, is still a new way in.
#[test]
fn an_established_owners_key_rotation_is_not_a_new_way_in() {
    let cli = "aws-cli/2.15.30 Python/3.11.8 Darwin/23.3.0 exe/x86_64";
    let owner = user("alice", "AKIAALICEKEY00000001", "198.51.100.23", cli);
    let newcomer = user("mallory", "AKIAMALLORYKEY000001", "203.0.113.66", KALI);
    let mut c = Case::default();
    for _ in 0..5 {
        c.ok(9 * 3600, &owner, "iam", "ListUsers", json!(null));
    }
    let rotation = c.ok(600, &owner, "iam", "CreateAccessKey", json!({"userName": "backup-svc"}));
    c.ok(
        300,
        &owner,
        "iam",
        "UpdateAccessKey",
        json!({"userName": "backup-svc", "accessKeyId": "AKIAOLDBACKUPKEY0001", "status": "Inactive"}),
    );
    c.ok(
        300,
        &owner,
        "iam",
        "DeleteAccessKey",
        json!({"userName": "backup-svc", "accessKeyId": "AKIAOLDBACKUPKEY0001"}),
    );
    // A key for another user, nothing retired: a new way in even from the owner.
    let plain = c.ok(3 * 3600, &owner, "iam", "CreateAccessKey", json!({"userName": "reporting"}));
    // Someone new does the same rotation dance.
    let takeover = c.ok(600, &newcomer, "iam", "CreateAccessKey", json!({"userName": "deploy"}));
    c.ok(60, &newcomer, "iam", "DeleteAccessKey", json!({"userName": "deploy", "accessKeyId": "AKIAOLDDEPLOYKEY0001"}));

    let (_, r) = c.report(&ReportOptions::default());
    let actor = |id: &str| r.actors.iter().find(|a| a.event_ids.iter().any(|e| e == id)).unwrap();
    let reasons_on = |id: &str| -> Vec<(ReasonKind, i32)> {
        actor(id).reasons.iter().filter(|x| x.event_ids.iter().any(|e| e == id)).map(|x| (x.kind, x.points)).collect()
    };
    let on_rotation = reasons_on(&rotation);
    assert!(on_rotation.iter().any(|&(k, p)| k == ReasonKind::KeyRotation && p == 0), "{on_rotation:?}");
    assert!(on_rotation.iter().all(|&(k, _)| k != ReasonKind::NewCredentials), "{on_rotation:?}");
    let on_plain = reasons_on(&plain);
    assert!(on_plain.iter().any(|&(k, _)| k == ReasonKind::NewCredentials), "{on_plain:?}");
    let on_takeover = reasons_on(&takeover);
    assert!(on_takeover.iter().all(|&(k, _)| k != ReasonKind::KeyRotation), "{on_takeover:?}");
    assert!(on_takeover.iter().any(|&(k, p)| k == ReasonKind::NewCredentials && p > 0), "{on_takeover:?}");
    assert_eq!(actor(&rotation).id, actor(&plain).id, "one owner actor");
}

/// An instance's role credentials, used for days from the instance's EC2 address, then from an
/// address outside AWS: copied off the instance (Stratus Red Team's ec2-steal-instance-
/// credentials). Told only when AWS's ranges are given; the instance itself is not blamed.
#[test]
fn instance_credentials_outside_aws_are_told_with_the_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let session = |ip: &'static str, ua: &'static str| Who {
        identity: json!({"type": "AssumedRole", "principalId": "AROAAPP:i-0123456789abcdef0", "accountId": ACCOUNT,
            "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/app-server/i-0123456789abcdef0"),
            "accessKeyId": "ASIAAPPSESSION000001",
            "sessionContext": {"sessionIssuer": {"type": "Role", "arn": format!("arn:aws:iam::{ACCOUNT}:role/app-server")},
                "ec2RoleDelivery": "2.0"}}),
        ip,
        ua,
    };
    let on_instance = session("54.210.33.5", BOTO);
    let cli = "aws-cli/2.15.30 Python/3.11.8 Linux/6.1 exe/x86_64 prompt/off";
    let copied = session("203.0.113.50", cli);
    let mut c = Case::default();
    for _ in 0..6 {
        c.ok(6 * 3600, &on_instance, "s3", "ListBuckets", json!(null));
    }
    let first = c.ok(600, &copied, "sts", "GetCallerIdentity", json!(null));
    c.ok(30, &copied, "ec2", "DescribeInstances", json!(null));
    // A user names an AssumeRole session like an instance and uses it from outside AWS: the
    // evidence shows a principal issued it, so it is no instance's.
    let bob = user("bob", "AKIABOBKEY0000000001", "198.51.100.77", cli);
    c.ok(
        600,
        &bob,
        "sts",
        "AssumeRole",
        json!({"roleArn": format!("arn:aws:iam::{ACCOUNT}:role/ops"), "roleSessionName": "i-0fedcba9876543210"}),
    );
    c.records.last_mut().unwrap()["responseElements"] = json!({"credentials": {"accessKeyId": "ASIABOBSESSION000001"},
        "assumedRoleUser": {"arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/ops/i-0fedcba9876543210")}});
    let named = Who {
        identity: json!({"type": "AssumedRole", "principalId": "AROAOPS:i-0fedcba9876543210", "accountId": ACCOUNT,
            "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/ops/i-0fedcba9876543210"), "accessKeyId": "ASIABOBSESSION000001"}),
        ip: "203.0.113.61",
        ua: cli,
    };
    c.ok(60, &named, "s3", "ListBuckets", json!(null));

    let outside = |r: &Report, ip: &str| {
        let a = r.actors.iter().find(|a| a.source_ips.iter().any(|i| i == ip)).unwrap();
        a.reasons.iter().find(|x| x.kind == ReasonKind::InstanceCredentialsOutsideAws).cloned()
    };
    let (_, plain) = c.report(&ReportOptions::default());
    assert_eq!(outside(&plain, "203.0.113.50"), None, "without ranges, outside AWS is unknown");
    let with = |enricher| ReportOptions {
        actors: ActorOptions { enricher: Some(enricher), ..ActorOptions::default() },
        ..ReportOptions::default()
    };
    let (_, asn_only) = c.report(&with(asn_only_enricher(&dir.path().join("asn"))));
    assert_eq!(outside(&asn_only, "203.0.113.50"), None, "an ASN database does not say what is AWS");

    let (_, r) = c.report(&with(enricher(dir.path())));
    let reason = outside(&r, "203.0.113.50").expect("told");
    assert_eq!(reason.points, 20);
    assert_eq!(reason.event_ids, [first]);
    assert!(
        reason
            .detail
            .starts_with("credentials of EC2 instance i-0123456789abcdef0 used from 203.0.113.50, outside AWS"),
        "{}",
        reason.detail
    );
    assert_eq!(outside(&r, "54.210.33.5"), None, "the instance's own calls are not held against it");
    let thief = r.actors.iter().find(|a| a.source_ips == ["203.0.113.50"]).unwrap();
    let plain_thief = plain.actors.iter().find(|a| a.source_ips == ["203.0.113.50"]).unwrap();
    assert!(thief.score >= plain_thief.score + 20 && thief.verdict <= Verdict::Suspicious, "{thief:?}");
    assert_eq!(outside(&r, "203.0.113.61"), None, "a user's session named like an instance");
}

/// The owner's key used from a rented EC2 server after days from the office: EC2 space and a
/// new autonomous system are reasons; the owner's Terraform on EC2, an instance role on EC2 and
/// a VPC endpoint's private address are not held against anyone.
#[test]
fn enrichment_scores_cloud_space_and_new_autonomous_systems_not_automation() {
    let dir = tempfile::tempdir().unwrap();
    let cli = "aws-cli/2.15.30 Python/3.11.8 Linux/6.1 exe/x86_64 prompt/off";
    let owner = user("alice", "AKIAOWNERKEY00000001", "198.51.100.23", cli);
    let ci = user("ci", "AKIACIKEY00000000001", "52.23.180.11", TERRAFORM);
    let app = Who {
        identity: json!({"type": "AssumedRole", "principalId": "AROAAPP:i-0abc", "accountId": ACCOUNT,
            "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/app-server/i-0abc"), "accessKeyId": "ASIAAPPSESSION000001"}),
        ip: "54.210.33.5",
        ua: BOTO,
    };
    let endpoint = user("bob", "AKIABOBKEY0000000001", "10.0.3.7", BOTO);
    let mut c = Case::default();
    for _ in 0..4 {
        c.ok(9 * 3600, &owner, "ec2", "DescribeInstances", json!(null));
        c.ok(60, &ci, "ec2", "DescribeVpcs", json!(null));
        c.ok(60, &app, "s3", "ListBuckets", json!(null));
        c.ok(60, &endpoint, "ec2", "DescribeSubnets", json!(null));
    }
    // CI's key rotated: the new key works from where its user always did.
    let rotated = user("ci", "AKIACIROTATEDKEY0001", "52.23.180.12", cli);
    c.ok(60, &rotated, "ec2", "DescribeInstances", json!(null));
    let stolen = user("alice", "AKIAOWNERKEY00000001", "3.90.1.2", cli);
    let first = c.ok(3600, &stolen, "ec2", "DescribeInstances", json!(null));

    let (_, plain) = c.report(&ReportOptions::default());
    assert!(!plain.enrichment.done && plain.enrichment.addresses.is_empty());
    let kinds = |r: &Report, ip: &str| -> Vec<ReasonKind> {
        let a = r.actors.iter().find(|a| a.source_ips.iter().any(|i| i == ip)).unwrap();
        a.reasons.iter().map(|x| x.kind).collect()
    };
    assert!(!kinds(&plain, "3.90.1.2").contains(&ReasonKind::AwsAddressSpace));

    let opts = ReportOptions {
        actors: ActorOptions { enricher: Some(enricher(dir.path())), ..ActorOptions::default() },
        ..ReportOptions::default()
    };
    let (_, r) = c.report(&opts);
    let thief = r.actors.iter().find(|a| a.source_ips == ["3.90.1.2"]).unwrap();
    let reason = |k: ReasonKind| {
        thief.reasons.iter().find(|x| x.kind == k).unwrap_or_else(|| panic!("{k:?}: {:?}", thief.reasons))
    };
    let ec2 = reason(ReasonKind::AwsAddressSpace);
    assert_eq!(ec2.points, 10);
    assert!(ec2.detail.starts_with("from AWS EC2 us-east-1 address space (3.90.1.2 in 3.80.0.0/12)"), "{}", ec2.detail);
    assert_eq!(ec2.event_ids, [first]);
    let asn = reason(ReasonKind::NewAsnForCredential);
    assert_eq!(
        asn.detail,
        "first use of AKIAOWNERKEY00000001 from AS14618 AMAZON-AES (it and its principals used before AS64502 Example Office ISP)"
    );
    let plain_thief = plain.actors.iter().find(|a| a.source_ips == ["3.90.1.2"]).unwrap();
    assert_eq!(thief.score, plain_thief.score + 20);
    for ip in ["52.23.180.11", "52.23.180.12", "54.210.33.5", "10.0.3.7", "198.51.100.23"] {
        let k = kinds(&r, ip);
        assert!(
            !k.contains(&ReasonKind::AwsAddressSpace) && !k.contains(&ReasonKind::NewAsnForCredential),
            "{ip}: {k:?}"
        );
        assert_eq!(kinds(&plain, ip).len(), k.len(), "{ip}: enrichment changed nothing else");
    }

    // The report's table: every public address of every actor, and why the rest was not looked up.
    let e = &r.enrichment;
    assert!(e.done);
    assert_eq!(
        e.databases.iter().map(|d| d.file.as_str()).collect::<Vec<_>>(),
        ["city.mmdb", "asn.mmdb", "ip-ranges.json"]
    );
    assert_eq!(e.of("198.51.100.23").unwrap().to_string(), "US Seattle; AS64502 Example Office ISP");
    assert_eq!(e.of("52.23.180.11").unwrap().cloud().as_deref(), Some("AWS EC2 us-east-1"));
    assert_eq!(e.not_looked_up.get("10.0.3.7"), Some(&trailscope_enrich::NotLookedUp::Private));
    assert!(e.of("10.0.3.7").is_none());
}

/// Prowler run by the owner's security team every day is an audit, not an intrusion; the same
/// scanner on a leaked key from a new network is worth a review.
#[test]
fn a_scheduled_security_scanner_is_not_the_attacker() {
    const PROWLER: &str = "Boto3/1.34.54 Python/3.11.8 Linux/6.1 Botocore/1.34.54 prowler/4.2.1";
    const SCOUT: &str = "Scout Suite/5.14.0 Boto3/1.34.54 Python/3.11.8 Linux/6.1";
    let mut c = Case::default();
    let secops = user("secops", "AKIASECOPSKEY0000001", "198.51.100.10", PROWLER);
    let dev = user("dev", "AKIADEVKEY0000000001", "198.51.100.11", BOTO);
    let scan = |c: &mut Case, who: &Who, denied: usize| {
        let mut ids = Vec::new();
        for (i, name) in ["ListUsers", "ListRoles", "ListPolicies", "GetAccountPasswordPolicy", "ListBuckets"]
            .iter()
            .cycle()
            .take(40)
            .enumerate()
        {
            let source = if *name == "ListBuckets" { "s3" } else { "iam" };
            let err = (i < denied).then_some("AccessDenied");
            ids.push(c.call(3, who, source, name, json!({"i": i}), err));
        }
        ids
    };
    // Three daily audits, the developer busy in between.
    let mut audits = Vec::new();
    for _day in 0..3 {
        audits.extend(scan(&mut c, &secops, 6));
        for i in 0..30 {
            c.ok(1800, &dev, "ec2", "DescribeInstances", json!({"i": i}));
        }
    }
    // The developer's key leaks: ScoutSuite from a VPS.
    let thief = user("dev", "AKIADEVKEY0000000001", "203.0.113.66", SCOUT);
    let stolen = scan(&mut c, &thief, 8);
    let (_, r) = c.report(&ReportOptions::default());

    let owner = r.actors.iter().find(|a| a.event_ids.contains(&audits[0])).unwrap();
    assert_ne!(owner.verdict, Verdict::Attacker, "{owner:?}");
    assert!(owner.reasons.iter().any(|x| x.kind == ReasonKind::Scanner), "{:?}", owner.reasons);
    let intruder = r.actors.iter().find(|a| a.event_ids.contains(&stolen[0])).unwrap();
    assert!(matches!(intruder.verdict, Verdict::Attacker | Verdict::Suspicious), "{intruder:?}");
    assert!(intruder.score > owner.score, "{} vs {}", intruder.score, owner.score);
}

/// A key first used on a network the account's established automation works from is a small
/// change; first used on a network nobody there has used, a strong one.
#[test]
fn a_new_network_weighs_less_when_it_is_the_accounts_own() {
    let mut c = Case::default();
    let ci = user("ci", "AKIACIKEY00000000001", "52.23.180.11", BOTO);
    let alice_office = user("alice", "AKIAALICEKEY00000001", "198.51.100.10", BOTO);
    // Both established: active from the start, for days.
    for i in 0..60 {
        c.ok(3600, &ci, "ec2", "DescribeInstances", json!({"i": i}));
        c.ok(60, &alice_office, "s3", "ListBuckets", json!({"i": i}));
    }
    let alice_ci = user("alice", "AKIAALICEKEY00000001", "52.23.180.12", BOTO);
    let on_ci = c.ok(60, &alice_ci, "ec2", "DescribeVpcs", json!(null));
    let alice_away = user("alice", "AKIAALICEKEY00000001", "203.0.113.99", BOTO);
    let away = c.ok(60, &alice_away, "ec2", "DescribeSubnets", json!(null));
    let (_, r) = c.report(&ReportOptions::default());
    let points = |id: &str| {
        let a = r.actors.iter().find(|a| a.event_ids.contains(&id.to_owned())).unwrap();
        a.reasons.iter().find(|x| x.kind == ReasonKind::NewNetworkForCredential).map(|x| x.points)
    };
    assert_eq!(points(&on_ci), Some(5));
    assert_eq!(points(&away), Some(15));
}
