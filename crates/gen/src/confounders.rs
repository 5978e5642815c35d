//! Benign activity embedded next to the attack that naive forensic tools blame on the attacker:
//! the owner's root console sessions without MFA, owners turning logging on after the fact (and
//! the data account's coverage gap before that), the CI pipeline's Terraform runs with the very
//! key that leaked, benign calls to high-risk APIs that failed, and the owners' clean-up.
//!
//! Every record made here is listed by kind in [`GroundTruth::confounders`]; none is the
//! attacker's. A good analysis keeps all of it out of the attacker's timeline.

use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use trailscope_store::{chrono_free_iso, civil_from_days};

use crate::scenario::{Footprint, LEAKED_USER};
use crate::world::{akia, asia, Actor, CallSpec, Kind, Recorder, RngExt2, DATA, PROD};
use crate::{console_login, Confounder, Generated, GroundTruth, TERRAFORM_UA};

/// The office address the owners work from (alice's /24).
pub const OFFICE_IP: &str = "198.51.100.23";
/// The CI runners' address (the pipeline always deploys from it).
pub const CI_IP: &str = "52.23.180.11";
/// Bucket `backup-audit-trail` delivers to; the owner downloads it during the incident.
pub const LOG_BUCKET: &str = "acme-cloudtrail-logs";

const R: &str = "us-east-1";
const CHROME_UA: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36";
const ADMIN_POLICY: &str = "arn:aws:iam::aws:policy/AdministratorAccess";
const LAMBDA_BASIC: &str = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole";
const BACKUP_TRAIL: &str = "backup-audit-trail";
/// Seconds into the attack day when dave turns on S3 data events in the data account.
const DATA_EVENTS_ON_SECS: i64 = 6 * 3600 + 45 * 60 + 12;

/// When the data account starts logging S3 data events (epoch ms): dave's PutEventSelectors.
pub fn data_events_enabled_ms(attack_day: i64) -> i64 {
    (attack_day * 86_400 + DATA_EVENTS_ON_SECS) * 1000
}

fn at(day: i64, h: i64, m: i64) -> i64 {
    (day * 86_400 + h * 3600 + m * 60) * 1000
}

/// `Mar 5, 2024, 2:31:02 AM`, as IAM writes `createDate` in responses.
fn iam_date(ms: i64) -> String {
    let (y, mo, d) = civil_from_days(ms.div_euclid(86_400_000));
    let s = ms.rem_euclid(86_400_000) / 1000;
    let (h, m, sec) = (s / 3600, s % 3600 / 60, s % 60);
    let month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][mo as usize - 1];
    let h12 = if h % 12 == 0 { 12 } else { h % 12 };
    format!("{month} {d}, {y}, {h12}:{m:02}:{sec:02} {}", if h < 12 { "AM" } else { "PM" })
}

/// One confounder's records as they are made.
#[derive(Default)]
struct Track {
    ids: Vec<String>,
    principals: Vec<String>,
    ips: Vec<String>,
}

impl Track {
    fn note(&mut self, r: &Value) {
        self.ids.push(r["eventID"].as_str().unwrap_or_default().to_owned());
        for (v, list) in [(&r["userIdentity"]["arn"], &mut self.principals), (&r["sourceIPAddress"], &mut self.ips)] {
            if let Some(s) = v.as_str().filter(|s| !s.is_empty()) {
                if !list.iter().any(|x| x == s) {
                    list.push(s.to_owned());
                }
            }
        }
    }
    fn done(self, kind: &str, description: &str) -> Confounder {
        Confounder {
            kind: kind.into(),
            description: description.into(),
            principals: self.principals,
            source_ips: self.ips,
            event_ids: self.ids,
        }
    }
}

struct Emitter<'r> {
    rec: Recorder<'r>,
    out: &'r mut Vec<Generated>,
}

impl Emitter<'_> {
    fn emit(&mut self, track: &mut Track, actor: &Actor, t: i64, call: CallSpec<'_>) {
        let account = call.recipient.clone().unwrap_or_else(|| actor.account.clone());
        let r = self.rec.record(actor, t, call);
        self.push(track, r, t, account);
    }
    fn push(&mut self, track: &mut Track, r: Value, t: i64, account: String) {
        track.note(&r);
        let region = r["awsRegion"].as_str().unwrap_or(R).to_owned();
        self.out.push(Generated { time_ms: t, account, region, record: r });
    }
    fn ms(&mut self, lo: i64, hi: i64) -> i64 {
        self.rec.rng.random_range(lo..hi)
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.rec.rng.random_range(0..items.len())]
    }
}

fn find<'a>(actors: &'a [Actor], account: &str, name: &str) -> &'a Actor {
    actors.iter().find(|a| a.account == account && a.user_name.as_deref() == Some(name)).expect("background actor")
}

/// The actor with its aws-cli user agent naming `command` (the CLI appends the command run).
fn cli(actor: &Actor, command: &str) -> Actor {
    let mut a = actor.clone();
    let base = a.user_agent.find("command/").map_or(a.user_agent.len(), |i| i + "command/".len());
    a.user_agent = format!("{}{command}", &a.user_agent[..base]);
    a
}

/// The owners' rotation of the leaked key: after `after_ms` the pipeline's calls carry `rotated`.
#[derive(Clone, Debug)]
pub struct KeyRotation {
    /// The leaked key, retired.
    pub leaked: String,
    /// The key issued in its place.
    pub rotated: String,
    /// When the leaked key was deactivated (epoch ms).
    pub after_ms: i64,
}

impl KeyRotation {
    /// Swap the leaked key for the rotated one in a record made after the rotation.
    pub fn apply(&self, time_ms: i64, record: &mut Value) {
        if time_ms > self.after_ms && record["userIdentity"]["accessKeyId"] == self.leaked.as_str() {
            record["userIdentity"]["accessKeyId"] = json!(self.rotated);
        }
    }
}

/// Add every confounder's records to `out` and return them by kind, with the key rotation the
/// records made later (the background's included) must follow.
pub fn add(
    rng: &mut ChaCha8Rng,
    actors: &[Actor],
    day: i64,
    truth: &GroundTruth,
    footprint: &Footprint,
    out: &mut Vec<Generated>,
) -> (Vec<Confounder>, KeyRotation) {
    let mut e = Emitter { rec: Recorder { rng }, out };
    // The key the owner issues to the pipeline when retiring the leaked one.
    let rotated = akia(e.rec.rng);
    let root = root_console(&mut e, day);
    let logging = enable_logging(&mut e, actors, day);
    let mut risky = Track::default();
    let iac = terraform_runs(&mut e, actors, day, &rotated, &mut risky);
    failed_owner_calls(&mut e, actors, day, &mut risky);
    let (cleanup, retired_ms) = cleanup(&mut e, actors, day, truth, footprint, &rotated);
    // After the rotation the pipeline's everyday calls carry the new key, as they would.
    let rotation = KeyRotation { leaked: truth.leaked_access_key.clone(), rotated, after_ms: retired_ms };
    for g in e.out.iter_mut() {
        rotation.apply(g.time_ms, &mut g.record);
    }
    let kinds = vec![
        root.done(
            "owner-root-console-no-mfa",
            "The account owner signs in as root without MFA from the office, twice on the attack day, browses the console and downloads CloudTrail logs",
        ),
        logging.done(
            "owner-enables-logging",
            "Owners turn logging on after the intrusion: S3 data events, CloudWatch Logs delivery, the deleted backup trail recreated, GuardDuty",
        ),
        iac.done(
            "iac-with-leaked-key",
            "The nightly CI pipeline runs Terraform (plan, apply, destroy of a test stack) with ci-deployer's key from the CI runners",
        ),
        risky.done(
            "failed-high-risk-calls",
            "Benign principals' high-risk calls that failed: RDS delete without snapshot, GPU RunInstances, StopLogging/DeleteTrail, DeleteDetector",
        ),
        cleanup.done(
            "owner-cleanup",
            "Incident response: the leaked key deactivated and rotated, the backdoor user and role deleted, the attacker's key for dave deleted",
        ),
    ];
    (kinds, rotation)
}

/// The console pages the root user browses, with their share of the session.
const CONSOLE_PAGES: &[(&str, u32, &[&str])] = &[
    (
        "ec2.amazonaws.com",
        3,
        &[
            "DescribeInstances",
            "DescribeInstanceStatus",
            "DescribeVolumes",
            "DescribeSecurityGroups",
            "DescribeVpcs",
            "DescribeSubnets",
            "DescribeAddresses",
            "DescribeKeyPairs",
            "DescribeSnapshots",
            "DescribeRegions",
            "DescribeAccountAttributes",
            "DescribeAvailabilityZones",
        ],
    ),
    (
        "iam.amazonaws.com",
        3,
        &[
            "GetAccountSummary",
            "ListUsers",
            "ListRoles",
            "ListPolicies",
            "ListGroups",
            "GetAccountPasswordPolicy",
            "ListMFADevices",
            "ListVirtualMFADevices",
            "ListAccessKeys",
            "ListAccountAliases",
            "GetLoginProfile",
            "ListAttachedUserPolicies",
            "GetUser",
        ],
    ),
    (
        "s3.amazonaws.com",
        2,
        &[
            "ListBuckets",
            "GetBucketLocation",
            "GetBucketAcl",
            "GetBucketPolicy",
            "GetBucketPolicyStatus",
            "GetBucketPublicAccessBlock",
            "GetBucketVersioning",
            "GetBucketEncryption",
            "GetBucketTagging",
            "GetBucketLogging",
        ],
    ),
    (
        "cloudtrail.amazonaws.com",
        2,
        &["DescribeTrails", "ListTrails", "GetTrailStatus", "GetEventSelectors", "LookupEvents", "LookupEvents"],
    ),
    ("ce.amazonaws.com", 1, &["GetCostAndUsage", "GetCostForecast", "GetDimensionValues", "GetCostAndUsage"]),
    (
        "organizations.amazonaws.com",
        1,
        &["DescribeOrganization", "ListAccounts", "ListRoots", "DescribeAccount", "ListOrganizationalUnitsForParent"],
    ),
];

const PROD_BUCKETS: &[&str] = &[
    "acme-prod-assets",
    "acme-app-uploads",
    "acme-analytics-raw",
    "acme-backups",
    LOG_BUCKET,
    "acme-prod-customer-data",
];

/// requestParameters of a console read.
fn console_request(e: &mut Emitter<'_>, day: i64, source: &str, name: &str) -> Value {
    let trail = format!("arn:aws:cloudtrail:{R}:{PROD}:trail/{}", crate::digest::TRAIL);
    match (source.split('.').next().unwrap_or(""), name) {
        ("s3", "ListBuckets") => json!({"Host": "s3.amazonaws.com"}),
        ("s3", n) => {
            let bucket = e.pick(PROD_BUCKETS);
            // GetBucketPolicyStatus is the `?policyStatus` subresource, and so on.
            let sub = n.trim_start_matches("GetBucket");
            let sub = format!("{}{}", sub[..1].to_lowercase(), &sub[1..]);
            json!({"bucketName": bucket, "Host": format!("{bucket}.s3.amazonaws.com"), sub: ""})
        }
        ("cloudtrail", "LookupEvents") => {
            let (key, value) = [
                ("EventName", "ConsoleLogin"),
                ("EventName", "StopLogging"),
                ("EventName", "CreateUser"),
                ("Username", LEAKED_USER),
                ("ResourceType", "AWS::IAM::User"),
            ][e.rec.rng.random_range(0..5)];
            json!({"lookupAttributes": [{"attributeKey": key, "attributeValue": value}], "startTime": chrono_free_iso((day - 1) * 86_400_000), "endTime": chrono_free_iso((day + 1) * 86_400_000), "maxResults": 50})
        }
        ("cloudtrail", "GetTrailStatus") => json!({"name": trail}),
        ("cloudtrail", "GetEventSelectors") => json!({"trailName": trail}),
        ("cloudtrail", _) => json!({"includeShadowTrails": true, "trailNameList": []}),
        ("ce", _) => {
            let (y, m, d) = civil_from_days(day);
            json!({"timePeriod": {"start": format!("{y}-{m:02}-01"), "end": format!("{y}-{m:02}-{d:02}")}, "granularity": "DAILY", "metrics": ["UnblendedCost"], "groupBy": [{"type": "DIMENSION", "key": "SERVICE"}]})
        }
        _ => crate::payload::for_call(e.rec.rng, source, name, R, PROD).0,
    }
}

/// Two root console sessions without MFA on the attack day, one before the intrusion and one
/// during it; the second downloads CloudTrail log files.
fn root_console(e: &mut Emitter<'_>, day: i64) -> Track {
    let mut track = Track::default();
    for (session, (h, m)) in [(1, 40), (4, 10)].into_iter().enumerate() {
        let root = Actor {
            kind: Kind::Root,
            account: PROD.into(),
            arn: format!("arn:aws:iam::{PROD}:root"),
            principal_id: PROD.into(),
            access_key: asia(e.rec.rng),
            user_name: None,
            ips: vec![OFFICE_IP.into()],
            user_agent: CHROME_UA.into(),
            mfa: false,
            weight: 0.0,
            focus: vec![],
        };
        let mut t = at(day, h, m) + e.ms(0, 180_000);
        let mut login = console_login(&mut e.rec, &root, t, R);
        // The owner knows the password: no failed first attempt here.
        login["responseElements"] = json!({"ConsoleLogin": "Success"});
        login.as_object_mut().map(|r| (r.remove("errorCode"), r.remove("errorMessage")));
        e.push(&mut track, login, t, PROD.into());

        let calls = e.rec.rng.random_range(100..=200);
        let step = e.rec.rng.random_range(30..=60) * 60_000 / calls;
        let (mut page, mut left) = (CONSOLE_PAGES[0], 0);
        for i in 0..calls {
            t += e.ms(step / 3, step * 5 / 3);
            // A few writes among the reads: account chores.
            if session == 0 && i == calls / 3 {
                let mut call = CallSpec::new("iam.amazonaws.com", "UpdateAccountPasswordPolicy", R).req(json!({"minimumPasswordLength": 14, "requireSymbols": true, "requireNumbers": true, "requireUppercaseCharacters": true, "requireLowercaseCharacters": true, "allowUsersToChangePassword": true, "maxPasswordAge": 90, "passwordReusePrevention": 24, "hardExpiry": false}));
                call.read_only = false;
                e.emit(&mut track, &root, t, call.console());
                continue;
            }
            if (session == 0 && i == 2 * calls / 3) || (session == 1 && i == calls / 4) {
                let bucket = if session == 0 { "acme-prod-assets" } else { "acme-backups" };
                let call = CallSpec::new("s3.amazonaws.com", "PutBucketTagging", R).req(json!({"bucketName": bucket, "Host": format!("{bucket}.s3.amazonaws.com"), "tagging": "", "Tagging": {"xmlns": "http://s3.amazonaws.com/doc/2006-03-01/", "TagSet": {"Tag": [{"Key": "cost-center", "Value": "platform"}, {"Key": "owner", "Value": "ops"}]}}}));
                e.emit(&mut track, &root, t, call.console());
                continue;
            }
            if session == 1 && i == calls / 2 {
                t = download_logs(e, &mut track, &root, day, t);
                continue;
            }
            if left == 0 {
                // A console page issues a handful of calls to its own service.
                let total: u32 = CONSOLE_PAGES.iter().map(|p| p.1).sum();
                let mut x = e.rec.rng.random_range(0..total);
                for p in CONSOLE_PAGES {
                    if x < p.1 {
                        page = *p;
                        break;
                    }
                    x -= p.1;
                }
                left = e.rec.rng.random_range(3..12);
            }
            left -= 1;
            let name = e.pick(page.2);
            let req = console_request(e, day, page.0, name);
            e.emit(&mut track, &root, t, CallSpec::new(page.0, name, R).req(req).console());
        }
    }
    track
}

/// The S3 console download of CloudTrail log files (object reads by root during the incident).
fn download_logs(e: &mut Emitter<'_>, track: &mut Track, root: &Actor, day: i64, mut t: i64) -> i64 {
    let prefix = |d: i64| {
        let (y, m, dd) = civil_from_days(d);
        (format!("AWSLogs/{PROD}/CloudTrail/{R}/{y}/{m:02}/{dd:02}/"), format!("{y}{m:02}{dd:02}"))
    };
    for d in [None, Some(day - 1), Some(day)] {
        t += e.ms(2_000, 9_000);
        let p = d.map_or(format!("AWSLogs/{PROD}/CloudTrail/{R}/"), |d| prefix(d).0);
        let mut call = CallSpec::s3_data("ListObjects", LOG_BUCKET, "", R, PROD, e.ms(2_000, 40_000) as u64);
        call.request = json!({"bucketName": LOG_BUCKET, "Host": format!("{LOG_BUCKET}.s3.amazonaws.com"), "list-type": "2", "prefix": p, "delimiter": "/", "encoding-type": "url"});
        e.emit(track, root, t, call.console());
    }
    for i in 0..40 {
        t += e.ms(1_000, 6_000);
        // Most of the day before, then this night's files up to the sign-in.
        let (d, hour) = if i < 28 { (day - 1, e.ms(0, 24)) } else { (day, e.ms(0, 4)) };
        let (dir, date) = prefix(d);
        let key = format!(
            "{dir}{PROD}_CloudTrail_{R}_{date}T{hour:02}{:02}Z_{}.json.gz",
            e.ms(0, 12) * 5,
            e.rec.rng.chars(16, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        );
        let mut call = CallSpec::s3_data("GetObject", LOG_BUCKET, &key, R, PROD, e.ms(2_000, 60_000) as u64);
        // Console downloads go through a pre-signed URL.
        if let Some(add) = call.additional.as_mut() {
            add["AuthenticationMethod"] = json!("QueryString");
        }
        e.emit(track, root, t, call.console());
    }
    t
}

/// Hours after the intrusion the owners turn logging on: data events, CloudWatch Logs delivery,
/// the backup trail the attacker deleted, GuardDuty. In the data account dave turns on S3 data
/// events, which ends that account's coverage gap.
fn enable_logging(e: &mut Emitter<'_>, actors: &[Actor], day: i64) -> Track {
    let mut track = Track::default();
    let alice = find(actors, PROD, "alice");
    let main = format!("arn:aws:cloudtrail:{R}:{PROD}:trail/{}", crate::digest::TRAIL);
    let backup = format!("arn:aws:cloudtrail:{R}:{PROD}:trail/{BACKUP_TRAIL}");
    let group = format!("aws-cloudtrail-logs-{PROD}");
    let group_arn = format!("arn:aws:logs:{R}:{PROD}:log-group:{group}:*");
    let cw_role = format!("arn:aws:iam::{PROD}:role/CloudTrail_CloudWatchLogs_Role");
    let selectors = json!([{"readWriteType": "All", "includeManagementEvents": true, "dataResources": [{"type": "AWS::S3::Object", "values": ["arn:aws:s3"]}], "excludeManagementEventSources": []}]);
    let detector = e.rec.rng.hexid(32);
    let steps: Vec<(&'static str, &'static str, &str, Value, Value)> = vec![
        (
            "cloudtrail.amazonaws.com",
            "DescribeTrails",
            "describe-trails",
            json!({"trailNameList": [], "includeShadowTrails": true}),
            Value::Null,
        ),
        (
            "cloudtrail.amazonaws.com",
            "GetEventSelectors",
            "get-event-selectors",
            json!({"trailName": crate::digest::TRAIL}),
            Value::Null,
        ),
        (
            "cloudtrail.amazonaws.com",
            "PutEventSelectors",
            "put-event-selectors",
            json!({"trailName": crate::digest::TRAIL, "eventSelectors": selectors}),
            json!({"trailARN": main, "eventSelectors": selectors}),
        ),
        ("logs.amazonaws.com", "CreateLogGroup", "create-log-group", json!({"logGroupName": group}), Value::Null),
        (
            "iam.amazonaws.com",
            "GetRole",
            "get-role",
            json!({"roleName": "CloudTrail_CloudWatchLogs_Role"}),
            Value::Null,
        ),
        (
            "cloudtrail.amazonaws.com",
            "UpdateTrail",
            "update-trail",
            json!({"name": crate::digest::TRAIL, "cloudWatchLogsLogGroupArn": group_arn, "cloudWatchLogsRoleArn": cw_role}),
            json!({"name": crate::digest::TRAIL, "s3BucketName": crate::digest::BUCKET, "includeGlobalServiceEvents": true, "isMultiRegionTrail": true, "trailARN": main, "logFileValidationEnabled": true, "cloudWatchLogsLogGroupArn": group_arn, "cloudWatchLogsRoleArn": cw_role, "isOrganizationTrail": false}),
        ),
        (
            "cloudtrail.amazonaws.com",
            "CreateTrail",
            "create-trail",
            json!({"name": BACKUP_TRAIL, "s3BucketName": LOG_BUCKET, "includeGlobalServiceEvents": true, "isMultiRegionTrail": true, "enableLogFileValidation": true}),
            json!({"name": BACKUP_TRAIL, "s3BucketName": LOG_BUCKET, "includeGlobalServiceEvents": true, "isMultiRegionTrail": true, "trailARN": backup, "logFileValidationEnabled": true, "isOrganizationTrail": false}),
        ),
        ("cloudtrail.amazonaws.com", "StartLogging", "start-logging", json!({"name": backup}), Value::Null),
        ("cloudtrail.amazonaws.com", "GetTrailStatus", "get-trail-status", json!({"name": backup}), Value::Null),
        (
            "guardduty.amazonaws.com",
            "CreateDetector",
            "create-detector",
            json!({"enable": true, "findingPublishingFrequency": "FIFTEEN_MINUTES", "dataSources": {"s3Logs": {"enable": true}}}),
            json!({"detectorId": detector}),
        ),
        ("guardduty.amazonaws.com", "ListDetectors", "list-detectors", Value::Null, Value::Null),
    ];
    let mut t = at(day, 6, 30) + e.ms(0, 120_000);
    for (source, name, command, req, resp) in steps {
        t += e.ms(15_000, 90_000);
        let actor = cli(alice, &format!("{}.{command}", source.split('.').next().unwrap_or("")));
        e.emit(&mut track, &actor, t, CallSpec::new(source, name, R).req(req).resp(resp));
    }

    let dave = find(actors, DATA, "dave");
    let on = data_events_enabled_ms(day);
    let trail = format!("arn:aws:cloudtrail:{R}:{DATA}:trail/{}", crate::digest::TRAIL);
    for (dt, name, command, req, resp) in [
        (
            -75_000,
            "DescribeTrails",
            "describe-trails",
            json!({"trailNameList": [], "includeShadowTrails": true}),
            Value::Null,
        ),
        (-40_000, "GetEventSelectors", "get-event-selectors", json!({"trailName": crate::digest::TRAIL}), Value::Null),
        (
            0,
            "PutEventSelectors",
            "put-event-selectors",
            json!({"trailName": crate::digest::TRAIL, "eventSelectors": selectors}),
            json!({"trailARN": trail, "eventSelectors": selectors}),
        ),
    ] {
        let actor = cli(dave, &format!("cloudtrail.{command}"));
        e.emit(&mut track, &actor, on + dt, CallSpec::new("cloudtrail.amazonaws.com", name, R).req(req).resp(resp));
    }
    track
}

/// Terraform's user agent names the SDK client of each service.
fn terraform_ua(source: &str) -> String {
    let api = match source.split('.').next().unwrap_or("") {
        "iam" => "api/iam#1.31.1",
        "lambda" => "api/lambda#1.53.1",
        "s3" => "api/s3#1.51.1",
        "logs" => "api/cloudwatchlogs#1.34.1",
        "sts" => "api/sts#1.28.1",
        "cloudtrail" => "api/cloudtrail#1.39.1",
        _ => "api/ec2#1.149.1",
    };
    TERRAFORM_UA.replace("api/ec2#1.149.1", api)
}

/// One refresh read: source, eventName, requestParameters, and the error it always meets.
type Read = (&'static str, &'static str, Value, Option<(&'static str, String)>);

/// The long-lived estate the pipeline manages: every plan and apply refreshes it first.
fn estate(e: &mut Emitter<'_>) -> Vec<Read> {
    let mut v: Vec<Read> = Vec::new();
    let ec2 = "ec2.amazonaws.com";
    let id = |e: &mut Emitter<'_>, p: &str| format!("{p}-0{}", e.rec.rng.hexid(16));
    for _ in 0..2 {
        let vpc = id(e, "vpc");
        v.push((ec2, "DescribeVpcs", json!({"vpcSet": {"items": [{"vpcId": vpc}]}, "filterSet": {}}), None));
        for attr in ["enableDnsSupport", "enableDnsHostnames"] {
            v.push((ec2, "DescribeVpcAttribute", json!({"vpcId": vpc, "attribute": attr}), None));
        }
    }
    for _ in 0..6 {
        let subnet = id(e, "subnet");
        v.push((
            ec2,
            "DescribeSubnets",
            json!({"subnetSet": {"items": [{"subnetId": subnet}]}, "filterSet": {}}),
            None,
        ));
    }
    for _ in 0..6 {
        let sg = id(e, "sg");
        v.push((
            ec2,
            "DescribeSecurityGroups",
            json!({"securityGroupSet": {}, "securityGroupIdSet": {"items": [{"groupId": sg}]}, "filterSet": {}}),
            None,
        ));
        v.push((ec2, "DescribeSecurityGroupRules", json!({"filterSet": {"items": [{"name": "group-id", "valueSet": {"items": [{"value": sg}]}}]}, "maxResults": 1000}), None));
    }
    for _ in 0..3 {
        let rtb = id(e, "rtb");
        v.push((
            ec2,
            "DescribeRouteTables",
            json!({"routeTableIdSet": {"items": [{"routeTableId": rtb}]}, "filterSet": {}}),
            None,
        ));
        let inst = id(e, "i");
        v.push((
            ec2,
            "DescribeInstances",
            json!({"instancesSet": {"items": [{"instanceId": inst}]}, "filterSet": {}}),
            None,
        ));
        v.push((
            ec2,
            "DescribeInstanceAttribute",
            json!({"instanceId": inst, "attribute": "disableApiTermination"}),
            None,
        ));
        v.push((ec2, "DescribeVolumes", json!({"volumeSet": {}, "filterSet": {"items": [{"name": "attachment.instance-id", "valueSet": {"items": [{"value": inst}]}}]}}), None));
    }
    let igw = id(e, "igw");
    v.push((
        ec2,
        "DescribeInternetGateways",
        json!({"internetGatewayIdSet": {"items": [{"internetGatewayId": igw}]}, "filterSet": {}}),
        None,
    ));
    let nat = id(e, "nat");
    v.push((
        ec2,
        "DescribeNatGateways",
        json!({"DescribeNatGatewaysRequest": {"NatGatewayId": {"content": nat, "tag": 1}}}),
        None,
    ));
    for name in [
        "DescribeAvailabilityZones",
        "DescribeAccountAttributes",
        "DescribeImages",
        "DescribePrefixLists",
        "DescribeLaunchTemplates",
        "DescribeLaunchTemplateVersions",
    ] {
        v.push((ec2, name, json!({"filterSet": {}, "maxResults": 1000}), None));
    }
    let iam = "iam.amazonaws.com";
    for role in ["app-server", "etl-job", "lambda-exec", "terraform-deploy", "ci-artifacts"] {
        for name in ["GetRole", "ListRolePolicies", "ListAttachedRolePolicies"] {
            v.push((iam, name, json!({"roleName": role}), None));
        }
    }
    for policy in ["app-server-s3", "etl-job-glue", "ci-artifacts-push"] {
        let arn = format!("arn:aws:iam::{PROD}:policy/{policy}");
        v.push((iam, "GetPolicy", json!({"policyArn": arn}), None));
        v.push((iam, "GetPolicyVersion", json!({"policyArn": arn, "versionId": "v3"}), None));
    }
    for profile in ["app-server", "etl-job"] {
        v.push((iam, "GetInstanceProfile", json!({"instanceProfileName": profile}), None));
    }
    for function in ["orders-api", "thumbnailer", "nightly-report", "auth-hook"] {
        for name in ["GetFunction20150331v2", "ListVersionsByFunction20150331", "GetFunctionCodeSigningConfig"] {
            v.push(("lambda.amazonaws.com", name, json!({"functionName": function}), None));
        }
        let msg = format!(
            "The resource you requested does not exist. (Service: Lambda, Status Code: 404, Request ID: {})",
            e.rec.rng.uuid()
        );
        v.push((
            "lambda.amazonaws.com",
            "GetPolicy20150331v2",
            json!({"functionName": function}),
            if function == "auth-hook" { None } else { Some(("ResourceNotFoundException", msg)) },
        ));
        let group = format!("/aws/lambda/{function}");
        v.push(("logs.amazonaws.com", "DescribeLogGroups", json!({"logGroupNamePrefix": group}), None));
        v.push(("logs.amazonaws.com", "ListTagsLogGroup", json!({"logGroupName": group}), None));
    }
    // The provider reads every bucket subresource; the unset ones answer with errors.
    for (i, bucket) in
        ["acme-prod-assets", "acme-app-uploads", "acme-analytics-raw", "acme-backups"].into_iter().enumerate()
    {
        for (name, sub, missing) in [
            ("GetBucketAcl", "acl", None),
            (
                "GetBucketPolicy",
                "policy",
                if i % 2 == 1 { Some(("NoSuchBucketPolicy", "The bucket policy does not exist")) } else { None },
            ),
            ("GetBucketCors", "cors", Some(("NoSuchCORSConfiguration", "The CORS configuration does not exist"))),
            (
                "GetBucketWebsite",
                "website",
                Some(("NoSuchWebsiteConfiguration", "The specified bucket does not have a website configuration")),
            ),
            ("GetBucketVersioning", "versioning", None),
            ("GetAccelerateConfiguration", "accelerate", None),
            ("GetBucketRequestPayment", "requestPayment", None),
            ("GetBucketLogging", "logging", None),
            ("GetBucketLifecycle", "lifecycle", None),
            (
                "GetBucketReplication",
                "replication",
                Some(("ReplicationConfigurationNotFoundError", "The replication configuration was not found")),
            ),
            ("GetBucketEncryption", "encryption", None),
            ("GetBucketTagging", "tagging", None),
        ] {
            let req = json!({"bucketName": bucket, "Host": format!("{bucket}.s3.amazonaws.com"), sub: ""});
            v.push(("s3.amazonaws.com", name, req, missing.map(|(c, m)| (c, m.to_owned()))));
        }
    }
    v
}

/// The nightly pipeline: one Terraform run a day around the attack day, from the CI runners with
/// ci-deployer's key (the rotated one once the owners have retired the leaked key).
fn terraform_runs(e: &mut Emitter<'_>, actors: &[Actor], day: i64, rotated: &str, risky: &mut Track) -> Track {
    let mut track = Track::default();
    let mut ci = find(actors, PROD, LEAKED_USER).clone();
    ci.ips = vec![CI_IP.into()];
    let reads = estate(e);
    for d in [day - 1, day, day + 1] {
        let mut actor = ci.clone();
        if d > day {
            actor.access_key = rotated.to_owned();
        }
        let start = at(d, 2, 30) + e.ms(0, 150_000);
        terraform_run(e, &mut actor, start, &reads, d == day, &mut track, risky);
    }
    track
}

/// One run: `terraform plan` and `terraform apply` of the estate plus an integration-test stack,
/// then `terraform destroy` of that stack. `risky` puts the run's alarming failures (a GPU
/// instance over the vCPU quota, a stale test trail) in `risky_track`.
fn terraform_run(
    e: &mut Emitter<'_>,
    ci: &mut Actor,
    mut t: i64,
    reads: &[Read],
    risky: bool,
    track: &mut Track,
    risky_track: &mut Track,
) {
    let mut call = |e: &mut Emitter<'_>, track: &mut Track, t: i64, c: CallSpec<'_>| {
        ci.user_agent = terraform_ua(c.source);
        e.emit(track, ci, t, c);
    };
    for phase in ["plan", "apply"] {
        call(e, track, t, CallSpec::new("sts.amazonaws.com", "GetCallerIdentity", R));
        let mut order: Vec<&Read> = reads.iter().collect();
        order.shuffle(e.rec.rng);
        for (source, name, req, err) in order {
            // Terraform refreshes in parallel; some resources are targeted out of a run.
            if e.rec.rng.random_bool(0.8) {
                t += e.ms(100, 2_500);
                let mut c = CallSpec::new(source, name, R).req(req.clone());
                if let Some((code, msg)) = err {
                    c = c.fail(code, msg.clone());
                }
                call(e, track, t, c);
            }
        }
        // The pipeline builds and unit-tests between plan and apply.
        t += if phase == "plan" { e.ms(180_000, 360_000) } else { e.ms(5_000, 20_000) };
    }

    // The integration-test stack.
    let stack = format!("it-{}", e.rec.rng.hexid(6));
    let ec2 = "ec2.amazonaws.com";
    let vpc = format!("vpc-0{}", e.rec.rng.hexid(16));
    let tags = |kind: &str| json!({"items": [{"resourceType": kind, "tags": [{"key": "Name", "value": stack}, {"key": "ManagedBy", "value": "terraform"}]}]});
    let ok = |e: &mut Emitter<'_>| json!({"requestId": e.rec.rng.uuid(), "_return": true});
    t += e.ms(1_000, 5_000);
    let resp = json!({"requestId": e.rec.rng.uuid(), "vpc": {"vpcId": vpc, "state": "pending", "ownerId": PROD, "cidrBlock": "10.0.0.0/16", "cidrBlockAssociationSet": {"items": [{"cidrBlock": "10.0.0.0/16", "associationId": format!("vpc-cidr-assoc-0{}", e.rec.rng.hexid(16)), "cidrBlockState": {"state": "associated"}}]}, "ipv6CidrBlockAssociationSet": {}, "dhcpOptionsId": format!("dopt-0{}", e.rec.rng.hexid(16)), "instanceTenancy": "default", "isDefault": false}});
    call(e, track, t, CallSpec::new(ec2, "CreateVpc", R).req(json!({"cidrBlock": "10.0.0.0/16", "instanceTenancy": "default", "amazonProvidedIpv6CidrBlock": false, "tagSpecificationSet": tags("vpc")})).resp(resp));
    let describe_vpc = json!({"vpcSet": {"items": [{"vpcId": vpc}]}, "filterSet": {}});
    for _ in 0..2 {
        t += e.ms(1_000, 4_000);
        call(e, track, t, CallSpec::new(ec2, "DescribeVpcs", R).req(describe_vpc.clone()));
    }
    t += e.ms(500, 2_000);
    let resp = ok(e);
    call(
        e,
        track,
        t,
        CallSpec::new(ec2, "ModifyVpcAttribute", R)
            .req(json!({"vpcId": vpc, "enableDnsHostnames": {"value": true}}))
            .resp(resp),
    );
    let mut subnets = Vec::new();
    for (i, az) in [(1, "us-east-1a"), (2, "us-east-1b")] {
        t += e.ms(300, 2_000);
        let subnet = format!("subnet-0{}", e.rec.rng.hexid(16));
        let cidr = format!("10.0.{i}.0/24");
        let resp = json!({"requestId": e.rec.rng.uuid(), "subnet": {"subnetId": subnet, "subnetArn": format!("arn:aws:ec2:{R}:{PROD}:subnet/{subnet}"), "state": "pending", "vpcId": vpc, "cidrBlock": cidr, "availableIpAddressCount": 251, "availabilityZone": az, "ownerId": PROD, "defaultForAz": false, "mapPublicIpOnLaunch": false}});
        call(e, track, t, CallSpec::new(ec2, "CreateSubnet", R).req(json!({"vpcId": vpc, "cidrBlock": cidr, "availabilityZone": az, "tagSpecificationSet": tags("subnet")})).resp(resp));
        t += e.ms(1_000, 3_000);
        call(
            e,
            track,
            t,
            CallSpec::new(ec2, "DescribeSubnets", R)
                .req(json!({"subnetSet": {"items": [{"subnetId": subnet}]}, "filterSet": {}})),
        );
        subnets.push(subnet);
    }
    let sg = format!("sg-0{}", e.rec.rng.hexid(16));
    t += e.ms(500, 3_000);
    let resp = json!({"requestId": e.rec.rng.uuid(), "_return": true, "groupId": sg});
    call(e, track, t, CallSpec::new(ec2, "CreateSecurityGroup", R).req(json!({"groupName": format!("{stack}-lambda"), "groupDescription": "Managed by Terraform", "vpcId": vpc, "tagSpecificationSet": tags("security-group")})).resp(resp));
    t += e.ms(1_000, 3_000);
    call(
        e,
        track,
        t,
        CallSpec::new(ec2, "DescribeSecurityGroups", R)
            .req(json!({"securityGroupSet": {}, "securityGroupIdSet": {"items": [{"groupId": sg}]}, "filterSet": {}})),
    );
    // The provider drops the default egress rule, then writes the declared rules.
    t += e.ms(500, 2_000);
    let resp = ok(e);
    call(e, track, t, CallSpec::new(ec2, "RevokeSecurityGroupEgress", R).req(json!({"groupId": sg, "ipPermissions": {"items": [{"ipProtocol": "-1", "groups": {}, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}, "ipv6Ranges": {}, "prefixListIds": {}}]}})).resp(resp));
    t += e.ms(500, 2_000);
    let rule = format!("sgr-0{}", e.rec.rng.hexid(16));
    let resp = json!({"requestId": e.rec.rng.uuid(), "_return": true, "securityGroupRuleSet": {"items": [{"groupOwnerId": PROD, "groupId": sg, "securityGroupRuleId": rule, "isEgress": false, "ipProtocol": "tcp", "fromPort": 443, "toPort": 443, "cidrIpv4": "10.0.0.0/16"}]}});
    call(e, track, t, CallSpec::new(ec2, "AuthorizeSecurityGroupIngress", R).req(json!({"groupId": sg, "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": 443, "toPort": 443, "groups": {}, "ipRanges": {"items": [{"cidrIp": "10.0.0.0/16", "description": "HTTPS inside the VPC"}]}, "ipv6Ranges": {}, "prefixListIds": {}}]}})).resp(resp));

    let iam = "iam.amazonaws.com";
    let role = format!("{stack}-probe");
    let role_arn = format!("arn:aws:iam::{PROD}:role/{role}");
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let inline = format!("{stack}-logs");
    let inline_doc = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":["logs:CreateLogStream","logs:PutLogEvents"],"Resource":"arn:aws:logs:{R}:{PROD}:log-group:/aws/lambda/{stack}-probe:*"}}]}}"#
    );
    t += e.ms(500, 3_000);
    let resp = json!({"role": {"path": "/", "roleName": role, "roleId": format!("AROA{}", e.rec.rng.upper(17)), "arn": role_arn, "createDate": iam_date(t), "assumeRolePolicyDocument": trust}});
    call(e, track, t, CallSpec::new(iam, "CreateRole", R).req(json!({"roleName": role, "path": "/", "assumeRolePolicyDocument": trust, "description": "Integration-test probe", "tags": [{"key": "ManagedBy", "value": "terraform"}]})).resp(resp));
    for name in ["GetRole", "ListRolePolicies", "ListAttachedRolePolicies"] {
        t += e.ms(300, 1_500);
        call(e, track, t, CallSpec::new(iam, name, R).req(json!({"roleName": role})));
    }
    t += e.ms(500, 2_000);
    call(
        e,
        track,
        t,
        CallSpec::new(iam, "PutRolePolicy", R)
            .req(json!({"roleName": role, "policyName": inline, "policyDocument": inline_doc})),
    );
    t += e.ms(500, 2_000);
    call(e, track, t, CallSpec::new(iam, "GetRolePolicy", R).req(json!({"roleName": role, "policyName": inline})));
    t += e.ms(500, 2_000);
    call(
        e,
        track,
        t,
        CallSpec::new(iam, "AttachRolePolicy", R).req(json!({"roleName": role, "policyArn": LAMBDA_BASIC})),
    );
    t += e.ms(500, 2_000);
    call(e, track, t, CallSpec::new(iam, "ListAttachedRolePolicies", R).req(json!({"roleName": role})));

    let function = format!("{stack}-probe");
    let group = format!("/aws/lambda/{function}");
    t += e.ms(500, 2_000);
    call(e, track, t, CallSpec::new("logs.amazonaws.com", "CreateLogGroup", R).req(json!({"logGroupName": group})));
    t += e.ms(500, 2_000);
    call(
        e,
        track,
        t,
        CallSpec::new("logs.amazonaws.com", "PutRetentionPolicy", R)
            .req(json!({"logGroupName": group, "retentionInDays": 7})),
    );
    let lambda = "lambda.amazonaws.com";
    let vpc_config = json!({"subnetIds": subnets, "securityGroupIds": [sg]});
    let create = json!({"functionName": function, "runtime": "python3.12", "role": role_arn, "handler": "probe.handler", "code": {}, "timeout": 30, "memorySize": 128, "publish": false, "vpcConfig": vpc_config, "packageType": "Zip", "architectures": ["arm64"]});
    // A new role is not assumable by Lambda for a few seconds; the provider retries.
    t += e.ms(500, 2_000);
    call(
        e,
        track,
        t,
        CallSpec::new(lambda, "CreateFunction20150331", R).req(create.clone()).fail(
            "InvalidParameterValueException",
            "The role defined for the function cannot be assumed by Lambda.".into(),
        ),
    );
    t += e.ms(5_000, 12_000);
    let function_arn = format!("arn:aws:lambda:{R}:{PROD}:function:{function}");
    let resp = json!({"functionName": function, "functionArn": function_arn, "runtime": "python3.12", "role": role_arn, "handler": "probe.handler", "codeSize": e.ms(900, 40_000), "description": "", "timeout": 30, "memorySize": 128, "lastModified": chrono_free_iso(t / 1000 * 1000).replace('Z', ".000+0000"), "codeSha256": e.rec.rng.chars(43, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") + "=", "version": "$LATEST", "vpcConfig": {"subnetIds": subnets, "securityGroupIds": [sg], "vpcId": vpc}, "tracingConfig": {"mode": "PassThrough"}, "revisionId": e.rec.rng.uuid(), "state": "Pending", "stateReason": "The function is being created.", "stateReasonCode": "Creating", "packageType": "Zip", "architectures": ["arm64"]});
    call(e, track, t, CallSpec::new(lambda, "CreateFunction20150331", R).req(create).resp(resp));
    // Waiting for the function in a VPC to become Active.
    for _ in 0..e.rec.rng.random_range(3..7) {
        t += e.ms(10_000, 25_000);
        call(e, track, t, CallSpec::new(lambda, "GetFunction20150331v2", R).req(json!({"functionName": function})));
    }
    for name in ["ListVersionsByFunction20150331", "GetFunctionCodeSigningConfig"] {
        t += e.ms(300, 1_500);
        call(e, track, t, CallSpec::new(lambda, name, R).req(json!({"functionName": function})));
    }
    if risky {
        // A GPU benchmark instance in the test stack: over the account's vCPU quota.
        t += e.ms(1_000, 5_000);
        let req = json!({"instancesSet": {"items": [{"imageId": format!("ami-0{}", e.rec.rng.hexid(16)), "minCount": 1, "maxCount": 1}]}, "instanceType": "p3.16xlarge", "subnetId": subnets[0], "groupSet": {"items": [{"groupId": sg}]}, "blockDeviceMapping": {}, "monitoring": {"enabled": false}, "disableApiTermination": false, "tagSpecificationSet": tags("instance")});
        call(e, risky_track, t, CallSpec::new(ec2, "RunInstances", R).req(req).fail("VcpuLimitExceeded", "You have requested more vCPU capacity than your current vCPU limit of 32 allows for the instance bucket that the specified instance type belongs to. Please visit http://aws.amazon.com/contact-us/ec2-request to request an adjustment to this limit.".into()));
    }

    // The pipeline's tests run, then `terraform destroy`.
    t += e.ms(900_000, 1_500_000);
    call(e, track, t, CallSpec::new(lambda, "DeleteFunction20150331", R).req(json!({"functionName": function})));
    t += e.ms(500, 2_000);
    call(e, track, t, CallSpec::new("logs.amazonaws.com", "DeleteLogGroup", R).req(json!({"logGroupName": group})));
    t += e.ms(500, 2_000);
    call(e, track, t, CallSpec::new(iam, "ListAttachedRolePolicies", R).req(json!({"roleName": role})));
    t += e.ms(500, 2_000);
    call(
        e,
        track,
        t,
        CallSpec::new(iam, "DetachRolePolicy", R).req(json!({"roleName": role, "policyArn": LAMBDA_BASIC})),
    );
    t += e.ms(500, 2_000);
    call(e, track, t, CallSpec::new(iam, "DeleteRolePolicy", R).req(json!({"roleName": role, "policyName": inline})));
    // The role's inline_policy block deletes the same policy again.
    t += e.ms(300, 1_500);
    call(
        e,
        track,
        t,
        CallSpec::new(iam, "DeleteRolePolicy", R)
            .req(json!({"roleName": role, "policyName": inline}))
            .fail("NoSuchEntity", format!("The role policy with name {inline} cannot be found.")),
    );
    for name in ["ListRolePolicies", "ListInstanceProfilesForRole", "DeleteRole"] {
        t += e.ms(300, 1_500);
        call(e, track, t, CallSpec::new(iam, name, R).req(json!({"roleName": role})));
    }
    if risky {
        // The state still holds a test trail someone already removed by hand.
        let trail = format!("arn:aws:cloudtrail:{R}:{PROD}:trail/tf-test-trail");
        for name in ["StopLogging", "DeleteTrail"] {
            t += e.ms(500, 2_000);
            let msg = format!("Unknown trail: {trail} for the user: {PROD}");
            call(
                e,
                risky_track,
                t,
                CallSpec::new("cloudtrail.amazonaws.com", name, R)
                    .req(json!({"name": "tf-test-trail"}))
                    .fail("TrailNotFoundException", msg),
            );
        }
    }
    t += e.ms(500, 2_000);
    let resp = ok(e);
    call(e, track, t, CallSpec::new(ec2, "DeleteSecurityGroup", R).req(json!({"groupId": sg})).resp(resp));
    for subnet in &subnets {
        t += e.ms(500, 2_000);
        let resp = ok(e);
        call(e, track, t, CallSpec::new(ec2, "DeleteSubnet", R).req(json!({"subnetId": subnet})).resp(resp));
    }
    // Lambda's network interfaces linger after the function is gone.
    t += e.ms(500, 2_000);
    call(
        e,
        track,
        t,
        CallSpec::new(ec2, "DeleteVpc", R)
            .req(json!({"vpcId": vpc}))
            .fail("DependencyViolation", format!("The vpc '{vpc}' has dependencies and cannot be deleted.")),
    );
    t += e.ms(20_000, 60_000);
    call(e, track, t, CallSpec::new(ec2, "DescribeNetworkInterfaces", R).req(json!({"networkInterfaceIdSet": {}, "filterSet": {"items": [{"name": "vpc-id", "valueSet": {"items": [{"value": vpc}]}}]}})));
    t += e.ms(5_000, 20_000);
    let resp = ok(e);
    call(e, track, t, CallSpec::new(ec2, "DeleteVpc", R).req(json!({"vpcId": vpc})).resp(resp));
}

/// Owners' own high-risk calls that failed: svc-backup deleting a restore-test database that is
/// still restoring, bob deleting a GuardDuty detector id that no longer exists.
fn failed_owner_calls(e: &mut Emitter<'_>, actors: &[Actor], day: i64, risky: &mut Track) {
    let backup = find(actors, PROD, "svc-backup");
    let db = "orders-db-restore-check";
    let t = at(day, 2, 47) + e.ms(0, 240_000);
    e.emit(
        risky,
        backup,
        t,
        CallSpec::new("rds.amazonaws.com", "DeleteDBInstance", R)
            .req(json!({"dBInstanceIdentifier": db, "skipFinalSnapshot": true, "deleteAutomatedBackups": true}))
            .fail("InvalidDBInstanceStateFault", format!("Instance {db} is not in available state.")),
    );
    let bob = find(actors, PROD, "bob");
    let t = at(day, 9, 20) + e.ms(0, 600_000);
    let detector = e.rec.rng.hexid(32);
    e.emit(
        risky,
        bob,
        t,
        CallSpec::new("guardduty.amazonaws.com", "DeleteDetector", R).req(json!({"detectorId": detector})).fail(
            "BadRequestException",
            "The request is rejected because the input detectorId is not owned by the current account.".into(),
        ),
    );
}

/// The morning after: alice retires and rotates the leaked key, strips its admin grant and deletes
/// the backdoor user and role; dave deletes the key the attacker made for him. Returns the track
/// and when the leaked key stopped working.
fn cleanup(
    e: &mut Emitter<'_>,
    actors: &[Actor],
    day: i64,
    truth: &GroundTruth,
    footprint: &Footprint,
    rotated: &str,
) -> (Track, i64) {
    let mut track = Track::default();
    let alice = find(actors, PROD, "alice");
    let backdoor = truth.created_user.as_str();
    let role = truth.backdoor_role.as_str();
    let mut t = at(day, 10, 0) + e.ms(0, 240_000);
    let mut retired = t;
    let steps: Vec<(&'static str, &str, Value, Value)> = vec![
        ("ListAccessKeys", "list-access-keys", json!({"userName": LEAKED_USER}), Value::Null),
        (
            "UpdateAccessKey",
            "update-access-key",
            json!({"userName": LEAKED_USER, "accessKeyId": truth.leaked_access_key, "status": "Inactive"}),
            Value::Null,
        ),
        (
            "CreateAccessKey",
            "create-access-key",
            json!({"userName": LEAKED_USER}),
            json!({"accessKey": {"userName": LEAKED_USER, "accessKeyId": rotated, "status": "Active"}}),
        ),
        ("ListAttachedUserPolicies", "list-attached-user-policies", json!({"userName": LEAKED_USER}), Value::Null),
        (
            "DetachUserPolicy",
            "detach-user-policy",
            json!({"userName": LEAKED_USER, "policyArn": ADMIN_POLICY}),
            Value::Null,
        ),
        ("GetUser", "get-user", json!({"userName": backdoor}), Value::Null),
        ("ListAccessKeys", "list-access-keys", json!({"userName": backdoor}), Value::Null),
        (
            "DeleteAccessKey",
            "delete-access-key",
            json!({"userName": backdoor, "accessKeyId": truth.created_access_key}),
            Value::Null,
        ),
        ("DeleteLoginProfile", "delete-login-profile", json!({"userName": backdoor}), Value::Null),
        ("ListAttachedUserPolicies", "list-attached-user-policies", json!({"userName": backdoor}), Value::Null),
        (
            "DetachUserPolicy",
            "detach-user-policy",
            json!({"userName": backdoor, "policyArn": ADMIN_POLICY}),
            Value::Null,
        ),
        ("DeleteUser", "delete-user", json!({"userName": backdoor}), Value::Null),
        ("GetRole", "get-role", json!({"roleName": role}), Value::Null),
        ("ListAttachedRolePolicies", "list-attached-role-policies", json!({"roleName": role}), Value::Null),
        ("DetachRolePolicy", "detach-role-policy", json!({"roleName": role, "policyArn": ADMIN_POLICY}), Value::Null),
        ("DeleteRole", "delete-role", json!({"roleName": role}), Value::Null),
    ];
    for (name, command, req, mut resp) in steps {
        t += e.ms(10_000, 90_000);
        if name == "UpdateAccessKey" {
            retired = t;
        }
        if let Some(key) = resp.get_mut("accessKey") {
            key["createDate"] = json!(iam_date(t));
        }
        e.emit(
            &mut track,
            &cli(alice, &format!("iam.{command}")),
            t,
            CallSpec::new("iam.amazonaws.com", name, R).req(req).resp(resp),
        );
    }
    let dave = find(actors, DATA, "dave");
    let mut t = at(day, 10, 20) + e.ms(0, 300_000);
    for (name, command, req) in [
        ("ListAccessKeys", "list-access-keys", json!({"userName": "dave"})),
        ("DeleteAccessKey", "delete-access-key", json!({"userName": "dave", "accessKeyId": footprint.data_user_key})),
    ] {
        t += e.ms(10_000, 60_000);
        e.emit(
            &mut track,
            &cli(dave, &format!("iam.{command}")),
            t,
            CallSpec::new("iam.amazonaws.com", name, R).req(req),
        );
    }
    (track, retired)
}
