//! The embedded attack: a leaked CI access key used from a new IP with a Kali user agent, through
//! recon, privilege escalation, defense evasion, persistence, collection, lateral movement into a
//! second account, and a later return through the backdoor user. Every record it adds is listed
//! in the [`GroundTruth`]; its object reads in the data account, made before that account logged
//! data events, are only described there (`unlogged_activity`).

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

use crate::world::{akia, asia, user, Actor, CallSpec, Kind, Recorder, RngExt2, DATA, PROD};
use crate::{console_login, Generated, GroundTruth};

/// The IAM user whose key leaks.
pub const LEAKED_USER: &str = "ci-deployer";
/// Attacker IP of the first phase.
pub const ATTACKER_IP: &str = "185.220.101.47";
/// Attacker IP of the return visit.
pub const ATTACKER_IP_2: &str = "45.137.21.9";
/// Account trusted by the backdoor role.
pub const FOREIGN_ACCOUNT: &str = "999988887777";

const KALI_CLI: &str = "aws-cli/2.13.5 Python/3.11.4 Linux/6.5.0-kali3-amd64 exe/x86_64.kali.2023 prompt/off command/";
const KALI_BOTO: &str = "Boto3/1.28.62 md/Botocore#1.31.62 ua/2.0 os/linux#6.5.0-kali3-amd64 md/arch#x86_64 lang/python#3.11.6 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.31.62";
const ADMIN_POLICY: &str = "arn:aws:iam::aws:policy/AdministratorAccess";

struct Attack<'r> {
    rec: Recorder<'r>,
    t: i64,
    out: &'r mut Vec<Generated>,
    ids: Vec<String>,
}

impl Attack<'_> {
    fn step(&mut self, actor: &Actor, call: CallSpec<'_>) -> Value {
        self.t += self.rec.rng.random_range(2_000..25_000);
        let region = call.region.to_owned();
        let recipient = call.recipient.clone().unwrap_or_else(|| actor.account.clone());
        let r = self.rec.record(actor, self.t, call);
        self.push(r.clone(), recipient, region);
        r
    }
    fn push(&mut self, r: Value, account: String, region: String) {
        self.ids.push(r["eventID"].as_str().unwrap_or_default().to_owned());
        self.out.push(Generated { time_ms: self.t, account, region, record: r });
    }
    fn denied(&mut self, actor: &Actor, source: &'static str, name: &'static str, region: &'static str) {
        let action = format!("{}:{name}", source.split('.').next().unwrap_or(""));
        let msg = format!("User: {} is not authorized to perform: {action} on resource: * because no identity-based policy allows the {action} action", actor.arn);
        self.step(actor, CallSpec::new(source, name, region).fail("AccessDenied", msg));
    }
    fn s3_read(&mut self, actor: &Actor, name: &'static str, bucket: &str, key: &str, region: &'static str) {
        let bytes = self.rec.rng.random_range(20_000..4_000_000);
        self.step(actor, CallSpec::s3_data(name, bucket, key, region, &actor.account, bytes));
    }
    /// A read made where data events were not logged: time passes, nothing reaches the evidence.
    fn unlogged_read(&mut self) -> i64 {
        self.t += self.rec.rng.random_range(2_000..25_000);
        self.t
    }
}

/// Add the attack's records to `out`, starting at 02:13 on `day`, and return what it did.
pub fn attack(rng: &mut ChaCha8Rng, actors: &[Actor], day: i64, out: &mut Vec<Generated>) -> (GroundTruth, Footprint) {
    let ci = actors
        .iter()
        .find(|a| a.user_name.as_deref() == Some(LEAKED_USER) && a.account == PROD)
        .expect("leaked user")
        .clone();
    let mut leaked = ci.clone();
    leaked.ips = vec![ATTACKER_IP.into()];
    leaked.user_agent = format!("{KALI_CLI}sts.get-caller-identity");
    let mut a = Attack { rec: Recorder { rng }, t: (day * 86_400 + 2 * 3600 + 13 * 60) * 1000, out, ids: Vec::new() };

    // Recon, much of it denied.
    a.step(&leaked, CallSpec::new("sts.amazonaws.com", "GetCallerIdentity", "us-east-1"));
    a.step(&leaked, CallSpec::new("iam.amazonaws.com", "GetUser", "us-east-1").req(json!({"userName": LEAKED_USER})));
    a.step(
        &leaked,
        CallSpec::new("iam.amazonaws.com", "ListAttachedUserPolicies", "us-east-1")
            .req(json!({"userName": LEAKED_USER})),
    );
    for (src, name) in [
        ("iam.amazonaws.com", "ListUsers"),
        ("iam.amazonaws.com", "ListRoles"),
        ("iam.amazonaws.com", "ListPolicies"),
        ("iam.amazonaws.com", "GetAccountAuthorizationDetails"),
        ("iam.amazonaws.com", "ListGroups"),
        ("organizations.amazonaws.com", "ListAccounts"),
        ("organizations.amazonaws.com", "DescribeOrganization"),
        ("guardduty.amazonaws.com", "ListDetectors"),
        ("securityhub.amazonaws.com", "DescribeHub"),
        ("secretsmanager.amazonaws.com", "ListSecrets"),
        ("kms.amazonaws.com", "ListKeys"),
        ("rds.amazonaws.com", "DescribeDBInstances"),
    ] {
        a.denied(&leaked, src, name, "us-east-1");
    }
    a.step(
        &leaked,
        CallSpec::new("s3.amazonaws.com", "ListBuckets", "us-east-1").req(json!({"Host": "s3.amazonaws.com"})),
    );
    a.step(
        &leaked,
        CallSpec::new("ec2.amazonaws.com", "DescribeRegions", "us-east-1")
            .req(json!({"regionSet": {}, "allRegions": true})),
    );
    for region in ["us-east-1", "us-west-2", "eu-west-1"] {
        a.step(
            &leaked,
            CallSpec::new("ec2.amazonaws.com", "DescribeInstances", region).req(json!({"maxResults": 1000})),
        );
    }
    a.step(&leaked, CallSpec::new("lambda.amazonaws.com", "ListFunctions20150331", "us-east-1"));
    // An enumeration tool sweeps every service it knows.
    for (src, name) in [
        ("ecs.amazonaws.com", "ListClusters"),
        ("dynamodb.amazonaws.com", "ListTables"),
        ("sns.amazonaws.com", "ListTopics"),
        ("sqs.amazonaws.com", "ListQueues"),
        ("logs.amazonaws.com", "DescribeLogGroups"),
        ("ssm.amazonaws.com", "DescribeParameters"),
    ] {
        a.step(&leaked, CallSpec::new(src, name, "us-east-1"));
    }

    // First tries that fail: an inline admin policy on itself, and blinding GuardDuty.
    let inline =
        "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}]}";
    let msg = format!("User: {} is not authorized to perform: iam:PutUserPolicy on resource: user {LEAKED_USER} because no identity-based policy allows the iam:PutUserPolicy action", leaked.arn);
    a.step(
        &leaked,
        CallSpec::new("iam.amazonaws.com", "PutUserPolicy", "us-east-1")
            .req(json!({"userName": LEAKED_USER, "policyName": "sync", "policyDocument": inline}))
            .fail("AccessDenied", msg),
    );
    let detector = a.rec.rng.hexid(32);
    let msg = format!("User: {} is not authorized to perform: guardduty:DeleteDetector on resource: arn:aws:guardduty:us-east-1:{PROD}:detector/{detector} because no identity-based policy allows the guardduty:DeleteDetector action", leaked.arn);
    a.step(
        &leaked,
        CallSpec::new("guardduty.amazonaws.com", "DeleteDetector", "us-east-1")
            .req(json!({"detectorId": detector}))
            .fail("AccessDenied", msg),
    );

    // Privilege escalation through a misconfigured iam:AttachUserPolicy grant.
    a.step(
        &leaked,
        CallSpec::new("iam.amazonaws.com", "AttachUserPolicy", "us-east-1")
            .req(json!({"userName": LEAKED_USER, "policyArn": ADMIN_POLICY})),
    );
    for (src, name) in [
        ("iam.amazonaws.com", "ListUsers"),
        ("iam.amazonaws.com", "ListRoles"),
        ("iam.amazonaws.com", "GetAccountAuthorizationDetails"),
        ("secretsmanager.amazonaws.com", "ListSecrets"),
        ("cloudtrail.amazonaws.com", "DescribeTrails"),
        ("guardduty.amazonaws.com", "ListDetectors"),
    ] {
        a.step(&leaked, CallSpec::new(src, name, "us-east-1").req(json!({"maxItems": 1000})));
    }
    let main_trail = format!("arn:aws:cloudtrail:us-east-1:{PROD}:trail/management-events");
    let backup_trail = format!("arn:aws:cloudtrail:us-east-1:{PROD}:trail/backup-audit-trail");
    a.step(
        &leaked,
        CallSpec::new("cloudtrail.amazonaws.com", "GetTrailStatus", "us-east-1").req(json!({"name": main_trail})),
    );

    // Defense evasion.
    a.step(
        &leaked,
        CallSpec::new("cloudtrail.amazonaws.com", "StopLogging", "us-east-1").req(json!({"name": backup_trail})),
    );
    a.step(
        &leaked,
        CallSpec::new("cloudtrail.amazonaws.com", "DeleteTrail", "us-east-1").req(json!({"name": backup_trail})),
    );
    a.step(
        &leaked,
        CallSpec::new("cloudtrail.amazonaws.com", "PutEventSelectors", "us-east-1")
            .req(json!({"trailName": main_trail, "eventSelectors": [{"readWriteType": "WriteOnly", "includeManagementEvents": true, "dataResources": [], "excludeManagementEventSources": []}]}))
            .resp(json!({"trailARN": main_trail, "eventSelectors": [{"readWriteType": "WriteOnly", "includeManagementEvents": true, "dataResources": [], "excludeManagementEventSources": []}]})),
    );

    // Persistence.
    let backdoor = "aws-support-sync";
    let backdoor_key = akia(a.rec.rng);
    let uid = format!("AIDA{}", a.rec.rng.upper(17));
    a.step(
        &leaked,
        CallSpec::new("iam.amazonaws.com", "CreateUser", "us-east-1")
            .req(json!({"userName": backdoor, "path": "/"}))
            .resp(json!({"user": {"path": "/", "userName": backdoor, "userId": uid, "arn": format!("arn:aws:iam::{PROD}:user/{backdoor}"), "createDate": "Mar 5, 2024, 2:31:02 AM"}})),
    );
    a.step(&leaked, CallSpec::new("iam.amazonaws.com", "CreateLoginProfile", "us-east-1").req(json!({"userName": backdoor, "passwordResetRequired": false})).resp(json!({"loginProfile": {"userName": backdoor, "createDate": "Mar 5, 2024, 2:31:20 AM", "passwordResetRequired": false}})));
    a.step(
        &leaked,
        CallSpec::new("iam.amazonaws.com", "CreateAccessKey", "us-east-1")
            .req(json!({"userName": backdoor}))
            .resp(json!({"accessKey": {"userName": backdoor, "accessKeyId": backdoor_key, "status": "Active", "createDate": "Mar 5, 2024, 2:31:41 AM"}})),
    );
    a.step(
        &leaked,
        CallSpec::new("iam.amazonaws.com", "AttachUserPolicy", "us-east-1")
            .req(json!({"userName": backdoor, "policyArn": ADMIN_POLICY})),
    );
    let role = "OrganizationSyncRole";
    let trust = format!("{{\"Version\":\"2012-10-17\",\"Statement\":[{{\"Effect\":\"Allow\",\"Principal\":{{\"AWS\":\"arn:aws:iam::{FOREIGN_ACCOUNT}:root\"}},\"Action\":\"sts:AssumeRole\"}}]}}");
    let role_id = format!("AROA{}", a.rec.rng.upper(17));
    a.step(
        &leaked,
        CallSpec::new("iam.amazonaws.com", "CreateRole", "us-east-1")
            .req(json!({"roleName": role, "assumeRolePolicyDocument": trust, "description": "Support synchronisation"}))
            .resp(json!({"role": {"path": "/", "roleName": role, "roleId": role_id, "arn": format!("arn:aws:iam::{PROD}:role/{role}"), "assumeRolePolicyDocument": trust}})),
    );
    a.step(
        &leaked,
        CallSpec::new("iam.amazonaws.com", "AttachRolePolicy", "us-east-1")
            .req(json!({"roleName": role, "policyArn": ADMIN_POLICY})),
    );

    // Collection.
    let secrets = ["prod/orders-db", "prod/stripe-api", "prod/admin-sso"];
    for s in secrets {
        a.step(
            &leaked,
            CallSpec::new("secretsmanager.amazonaws.com", "GetSecretValue", "us-east-1").req(json!({"secretId": s})),
        );
    }
    for p in ["/app/prod/db-password", "/app/prod/jwt-signing-key"] {
        a.step(
            &leaked,
            CallSpec::new("ssm.amazonaws.com", "GetParameter", "us-east-1")
                .req(json!({"name": p, "withDecryption": true})),
        );
    }
    let bucket = "acme-prod-customer-data";
    a.s3_read(&leaked, "ListObjects", bucket, "", "us-east-1");
    for i in 0..40 {
        a.s3_read(&leaked, "GetObject", bucket, &format!("customers/2024/export-{i:04}.csv"), "us-east-1");
    }

    // Lateral movement into the data account.
    let role_b = "OrganizationAccountAccessRole";
    let role_b_arn = format!("arn:aws:iam::{DATA}:role/{role_b}");
    let session_key = asia(a.rec.rng);
    let role_b_id = format!("AROA{}", a.rec.rng.upper(17));
    let shared = a.rec.rng.uuid();
    let mut call = CallSpec::new("sts.amazonaws.com", "AssumeRole", "us-east-1")
        .req(json!({"roleArn": role_b_arn, "roleSessionName": "ci-sync", "durationSeconds": 3600}))
        .resp(json!({"credentials": {"accessKeyId": session_key, "sessionToken": a.rec.rng.chars(180, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"), "expiration": "Mar 5, 2024, 3:41:00 AM"}, "assumedRoleUser": {"assumedRoleId": format!("{role_b_id}:ci-sync"), "arn": format!("arn:aws:sts::{DATA}:assumed-role/{role_b}/ci-sync")}}));
    call.shared_event_id = Some(shared.clone());
    call.read_only = false;
    let mut in_prod = a.step(&leaked, call);
    // The role's account logs its own copy, with the caller seen as an account.
    in_prod["eventID"] = json!(a.rec.rng.uuid());
    in_prod["recipientAccountId"] = json!(DATA);
    in_prod["userIdentity"] = json!({"type": "AWSAccount", "principalId": ci.principal_id, "accountId": PROD});
    in_prod["resources"] = json!([{"ARN": role_b_arn, "accountId": DATA, "type": "AWS::IAM::Role"}]);
    a.push(in_prod, DATA.into(), "us-east-1".into());

    let mut session = Actor {
        kind: Kind::AssumedRole {
            role_arn: role_b_arn.clone(),
            role_name: role_b.into(),
            role_id: role_b_id.clone(),
            session: "ci-sync".into(),
        },
        account: DATA.into(),
        arn: format!("arn:aws:sts::{DATA}:assumed-role/{role_b}/ci-sync"),
        principal_id: format!("{role_b_id}:ci-sync"),
        access_key: session_key.clone(),
        user_name: None,
        ips: vec![ATTACKER_IP.into()],
        user_agent: KALI_BOTO.into(),
        mfa: false,
        weight: 0.0,
        focus: vec![],
    };
    a.step(&session, CallSpec::new("sts.amazonaws.com", "GetCallerIdentity", "us-east-1"));
    a.step(&session, CallSpec::new("s3.amazonaws.com", "ListBuckets", "us-east-1"));
    let lake = "acme-data-lake-exports";
    // DATA's trail logs no data events until its owner turns them on hours later (see
    // `confounders`), so these reads happened but are not in the evidence.
    let first_read = a.unlogged_read();
    for _ in 0..15 {
        a.unlogged_read();
    }
    debug_assert!(a.t < crate::confounders::data_events_enabled_ms(day));
    let unlogged = format!(
        "15 GetObject and 1 ListObjects on s3://{lake} in {DATA} at {} before data events were enabled",
        trailscope_store::chrono_free_iso(first_read / 1000 * 1000)
    );
    let dave_key = akia(a.rec.rng);
    a.step(
        &session,
        CallSpec::new("iam.amazonaws.com", "CreateAccessKey", "us-east-1")
            .req(json!({"userName": "dave"}))
            .resp(json!({"accessKey": {"userName": "dave", "accessKeyId": dave_key, "status": "Active", "createDate": "Mar 5, 2024, 2:58:10 AM"}})),
    );
    session.user_agent = format!("{KALI_CLI}ec2.run-instances");
    let (req, resp) = crate::payload::for_call(a.rec.rng, "ec2.amazonaws.com", "RunInstances", "us-west-2", DATA);
    let mut req = req;
    req["instanceType"] = json!("p3.16xlarge");
    req["instancesSet"]["items"][0]["maxCount"] = json!(8);
    a.step(&session, CallSpec::new("ec2.amazonaws.com", "RunInstances", "us-west-2").req(req).resp(resp));

    // Three hours later: back in through the backdoor user.
    a.t += 3 * 3_600_000;
    let mut back = user(a.rec.rng, PROD, backdoor, &[ATTACKER_IP_2], KALI_BOTO, 0.0, &[]);
    back.access_key = backdoor_key.clone();
    back.principal_id = uid;
    a.step(&back, CallSpec::new("sts.amazonaws.com", "GetCallerIdentity", "us-east-1"));
    a.step(&back, CallSpec::new("s3.amazonaws.com", "ListBuckets", "us-east-1"));
    for i in 40..45 {
        a.s3_read(&back, "GetObject", bucket, &format!("customers/2024/export-{i:04}.csv"), "us-east-1");
    }
    back.user_agent = "Mozilla/5.0 (X11; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/115.0".into();
    a.t += 60_000;
    let mut login = console_login(&mut a.rec, &back, a.t, "us-east-1");
    login["responseElements"] = json!({"ConsoleLogin": "Success"});
    login.as_object_mut().map(|m| (m.remove("errorCode"), m.remove("errorMessage")));
    a.push(login, PROD.into(), "us-east-1".into());

    let truth = GroundTruth {
        malicious_event_ids: a.ids,
        leaked_access_key: ci.access_key.clone(),
        compromised_principal: ci.arn.clone(),
        attacker_ips: vec![ATTACKER_IP.into(), ATTACKER_IP_2.into()],
        attacker_session_keys: vec![session_key],
        created_user: backdoor.into(),
        created_access_key: backdoor_key,
        backdoor_role: role.into(),
        foreign_account: FOREIGN_ACCOUNT.into(),
        tampered_trails: vec![backup_trail, main_trail],
        // Only reads that are in the evidence.
        buckets_accessed: vec![bucket.into()],
        secrets_read: secrets.iter().map(|s| s.to_string()).collect(),
        assumed_role: role_b_arn,
        accounts: vec![PROD.into(), DATA.into()],
        unlogged_activity: vec![unlogged],
        ..GroundTruth::default()
    };
    (truth, Footprint { data_user_key: dave_key })
}

/// What the attack left that the owners' later clean-up needs to name.
#[derive(Clone, Debug)]
pub struct Footprint {
    /// The access key the attacker created for `dave` in the data account.
    pub data_user_key: String,
}
