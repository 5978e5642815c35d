//! # trailscope-gen
//!
//! A deterministic (seeded) generator of CloudTrail S3-sync trees for tests, the bundled sample
//! and benchmarks: several accounts, regions and days; hundreds of eventNames in a skewed mix;
//! IAM users, role sessions, root, AWS services and federated users; console sign-ins; errors;
//! S3 data events; nested payloads of realistic size; and, optionally, an embedded attack whose
//! every malicious `eventID` is written to a ground-truth file, together with benign confounders
//! (owners' and pipelines' activity that looks like the attack) listed by kind.
//!
//! The same [`GenConfig`] always yields byte-identical files.
#![deny(missing_docs)]

pub mod catalog;
pub mod confounders;
pub mod digest;
pub mod heavy;
pub mod payload;
pub mod scenario;
pub mod world;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use serde_json::{json, Value};
use trailscope_store::{civil_from_days, days_from_civil};

use catalog::{Call, Catalog};
use confounders::KeyRotation;
use world::{is_global, role_session, user, Actor, CallSpec, Kind, Recorder, RngExt2, DATA, DEV, PROD, REGIONS};

/// What to generate.
#[derive(Clone, Debug)]
pub struct GenConfig {
    /// RNG seed: same seed, same bytes.
    pub seed: u64,
    /// Background events (the attack and its confounders add their own).
    pub events: usize,
    /// Days covered, starting at `start_day`.
    pub days: u32,
    /// First day, as days since 1970-01-01 (default 2024-03-04).
    pub start_day: i64,
    /// Embed the attack scenario.
    pub attack: bool,
    /// Most records per file (a 5-minute delivery window is split beyond this).
    pub max_records_per_file: usize,
    /// Write hourly, signed digest files (log file integrity validation).
    pub digests: bool,
    /// What the background looks like.
    pub profile: Profile,
    /// Tampered re-deliveries to plant (with the attack only): copies of that many of the
    /// attacker's records, their `sourceIPAddress` rewritten, each in a file of its own beside
    /// the real delivery and absent from the digests, as an intruder covering their address
    /// would leave them. Listed in [`GroundTruth::tampered_redeliveries`]; 0 (the default)
    /// leaves every other byte as it was.
    pub tampered_redeliveries: usize,
}

/// The shape of the background traffic.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Profile {
    /// Management events in a skewed mix of hundreds of calls, 15 % S3 data events, small
    /// payloads, files of up to `max_records_per_file` records.
    #[default]
    Default,
    /// Shaped like a trail that logs S3 data events (module [`heavy`]): over half the records
    /// are object reads and writes with their full request, `additionalEventData`, resources and
    /// TLS details; EC2 describe calls return whole reservation, security-group and volume
    /// sets; AssumeRole and KMS Decrypt/GenerateDataKey are common; half the files hold one to
    /// eight records.
    DataHeavy,
}

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig {
            seed: 7,
            events: 3000,
            days: 3,
            start_day: days_from_civil(2024, 3, 4),
            attack: true,
            max_records_per_file: 1500,
            digests: true,
            profile: Profile::Default,
            tampered_redeliveries: 0,
        }
    }
}

/// What the attack did, for checking an analysis against.
#[derive(Clone, Debug, Default, Serialize, serde::Deserialize, PartialEq)]
pub struct GroundTruth {
    /// `eventID`s of every malicious record (both copies of cross-account calls).
    pub malicious_event_ids: Vec<String>,
    /// The leaked long-term access key.
    pub leaked_access_key: String,
    /// The IAM user it belongs to.
    pub compromised_principal: String,
    /// IPs the attacker called from.
    pub attacker_ips: Vec<String>,
    /// Temporary keys the attacker obtained.
    pub attacker_session_keys: Vec<String>,
    /// IAM user created for persistence.
    pub created_user: String,
    /// Access key created for it.
    pub created_access_key: String,
    /// Role created with a trust to a foreign account.
    pub backdoor_role: String,
    /// The foreign account trusted.
    pub foreign_account: String,
    /// Trails stopped or deleted.
    pub tampered_trails: Vec<String>,
    /// Buckets read from.
    pub buckets_accessed: Vec<String>,
    /// Secrets read.
    pub secrets_read: Vec<String>,
    /// Role assumed in the second account.
    pub assumed_role: String,
    /// Accounts the attacker acted in.
    pub accounts: Vec<String>,
    /// Benign activity that looks alarming, by kind: none of it is the attacker's.
    #[serde(default)]
    pub confounders: Vec<Confounder>,
    /// Object reads the attacker made while data events were not logged (absent from the evidence).
    #[serde(default)]
    pub unlogged_activity: Vec<String>,
    /// Re-deliveries of attacker records whose content was changed ([`GenConfig::tampered_redeliveries`]):
    /// an analysis must report each as two different records under one event id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tampered_redeliveries: Vec<TamperedRedelivery>,
}

/// A planted copy of a record, delivered in another file with one field changed.
#[derive(Clone, Debug, Default, Serialize, serde::Deserialize, PartialEq)]
pub struct TamperedRedelivery {
    /// The record's `eventID` (the same in both copies).
    pub event_id: String,
    /// The field changed in the copy.
    pub field: String,
    /// Its value in the real record.
    pub original: String,
    /// Its value in the planted copy.
    pub planted: String,
    /// The planted file, relative to the output directory.
    pub file: String,
}

/// The address a tampered copy shows instead of the attacker's: the owner's office network, so
/// the copy would clear the attacker if it were the one believed.
const PLANTED_IP: &str = "192.0.2.44";

/// One kind of benign activity that naive analysis blames on the attacker.
#[derive(Clone, Debug, Default, Serialize, serde::Deserialize, PartialEq)]
pub struct Confounder {
    /// Stable kind: `owner-root-console-no-mfa`, `owner-enables-logging`, `iac-with-leaked-key`, `failed-high-risk-calls`, `owner-cleanup`.
    pub kind: String,
    /// One line for humans.
    pub description: String,
    /// Principal ARNs involved.
    pub principals: Vec<String>,
    /// Source IPs involved.
    pub source_ips: Vec<String>,
    /// Every eventID of the confounder's records.
    pub event_ids: Vec<String>,
}

/// The CI pipeline's Terraform user agent (`api/ec2#...` names the SDK client making the call).
pub const TERRAFORM_UA: &str = "APN/1.0 HashiCorp/1.0 Terraform/1.7.4 (+https://www.terraform.io) terraform-provider-aws/5.39.1 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.25.2 os/linux lang/go#1.21.7 md/GOOS#linux md/GOARCH#amd64 api/ec2#1.149.1";

/// The day the attack runs (days since 1970-01-01): the second configured day.
pub fn attack_day(cfg: &GenConfig) -> i64 {
    cfg.start_day + (cfg.days.max(2) as i64 - 1).min(1)
}

/// Whether `account`'s trail logged S3 data events at `time_ms`. With the attack embedded, the
/// data account only turns them on hours after the intrusion (a coverage gap to reason about).
pub fn data_events_logged(cfg: &GenConfig, account: &str, time_ms: i64) -> bool {
    !(cfg.attack && account == DATA && time_ms < confounders::data_events_enabled_ms(attack_day(cfg)))
}

/// What was written.
#[derive(Clone, Debug, Default)]
pub struct GenSummary {
    /// Log files written.
    pub files: usize,
    /// Records written.
    pub records: usize,
    /// Compressed bytes written.
    pub bytes: u64,
    /// The attack's ground truth (empty when `attack` is off).
    pub truth: GroundTruth,
    /// Digest files written.
    pub digest_files: usize,
    /// Digest signatures (S3 `x-amz-meta-signature`), by digest S3 key.
    pub signatures: Value,
    /// The signing public key, shaped like `aws cloudtrail list-public-keys` output.
    pub public_keys: Value,
}

/// One generated record with the keys needed to place it in a file.
pub struct Generated {
    /// Epoch ms.
    pub time_ms: i64,
    /// Account whose trail logged it.
    pub account: String,
    /// Region of the trail file.
    pub region: String,
    /// The record.
    pub record: Value,
}

/// The organisation's everyday principals.
pub fn background_actors(rng: &mut ChaCha8Rng) -> Vec<Actor> {
    let cli = "aws-cli/2.15.30 Python/3.11.8 Darwin/23.3.0 exe/x86_64 prompt/off command/";
    let boto = "Boto3/1.34.54 md/Botocore#1.34.54 ua/2.0 os/linux#5.10.210-201.852.amzn2.x86_64 md/arch#x86_64 lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.54";
    let console = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36";
    let tf = TERRAFORM_UA;
    let ci_ua =
        "aws-cli/2.15.30 Python/3.11.8 Linux/5.10.210-201.852.amzn2.x86_64 exe/x86_64.amzn.2 prompt/off command/";
    let mut alice = user(rng, PROD, "alice", &["198.51.100.23", "198.51.100.24"], &format!("{cli}s3.ls"), 3.0, &[]);
    alice.mfa = true;
    let app_session = format!("i-0{}", rng.hexid(16));
    let mut v = vec![
        alice,
        user(
            rng,
            PROD,
            "bob",
            &["198.51.100.77"],
            console,
            2.0,
            &["ec2.amazonaws.com", "logs.amazonaws.com", "monitoring.amazonaws.com"],
        ),
        user(
            rng,
            PROD,
            scenario::LEAKED_USER,
            &["52.23.180.11", "52.23.180.12"],
            &format!("{ci_ua}ecs.update-service"),
            2.5,
            &[
                "ecs.amazonaws.com",
                "ecr.amazonaws.com",
                "s3.amazonaws.com",
                "lambda.amazonaws.com",
                "cloudformation.amazonaws.com",
            ],
        ),
        user(
            rng,
            PROD,
            "svc-backup",
            &["52.23.180.40"],
            boto,
            1.0,
            &["s3.amazonaws.com", "backup.amazonaws.com", "rds.amazonaws.com"],
        ),
        role_session(
            rng,
            PROD,
            "app-server",
            &app_session,
            &["54.210.33.14", "54.210.33.15"],
            boto,
            6.0,
            &[
                "s3.amazonaws.com",
                "ssm.amazonaws.com",
                "kms.amazonaws.com",
                "dynamodb.amazonaws.com",
                "logs.amazonaws.com",
                "sqs.amazonaws.com",
            ],
        ),
        role_session(rng, PROD, "terraform-deploy", "terraform-run", &["52.23.180.11"], tf, 2.0, &[]),
        role_session(
            rng,
            DATA,
            "etl-job",
            "glue-etl",
            &["44.198.10.5"],
            boto,
            3.0,
            &["s3.amazonaws.com", "glue.amazonaws.com", "athena.amazonaws.com", "kms.amazonaws.com"],
        ),
        user(rng, DATA, "dave", &["198.51.100.90"], &format!("{cli}athena.start-query-execution"), 1.0, &[]),
        user(rng, DEV, "erin", &["203.0.113.15"], console, 1.5, &[]),
        user(
            rng,
            DEV,
            "frank",
            &["203.0.113.16"],
            &format!("{cli}lambda.list-functions"),
            1.5,
            &["lambda.amazonaws.com", "logs.amazonaws.com", "iam.amazonaws.com"],
        ),
        role_session(rng, DEV, "dev-sandbox", "frank", &["203.0.113.16"], tf, 1.0, &[]),
    ];
    for (account, svc, w) in [
        (PROD, "config.amazonaws.com", 1.5),
        (PROD, "autoscaling.amazonaws.com", 0.5),
        (DATA, "glue.amazonaws.com", 0.5),
        (DEV, "lambda.amazonaws.com", 0.5),
    ] {
        v.push(Actor {
            kind: Kind::Service(svc.into()),
            account: account.into(),
            arn: String::new(),
            principal_id: String::new(),
            access_key: String::new(),
            user_name: None,
            ips: vec![svc.into()],
            user_agent: svc.into(),
            mfa: false,
            weight: w,
            focus: vec!["sts.amazonaws.com", "kms.amazonaws.com", "ec2.amazonaws.com"],
        });
    }
    // The root user of the dev account signs in now and then (with MFA) for account chores.
    let mut root =
        user(rng, DEV, "root", &["203.0.113.15"], console, 0.06, &["iam.amazonaws.com", "organizations.amazonaws.com"]);
    root.kind = Kind::Root;
    root.arn = format!("arn:aws:iam::{DEV}:root");
    root.principal_id = DEV.to_owned();
    root.access_key = world::asia(rng);
    root.user_name = None;
    root.mfa = true;
    v.push(root);
    let mut fed = user(
        rng,
        DEV,
        "erin",
        &["203.0.113.15"],
        &format!("{cli}sts.get-federation-token"),
        0.3,
        &["s3.amazonaws.com"],
    );
    fed.kind = Kind::Federated { user_arn: fed.arn.clone() };
    fed.arn = format!("arn:aws:sts::{DEV}:federated-user/erin-tooling");
    fed.principal_id = format!("{DEV}:erin-tooling");
    fed.access_key = world::asia(rng);
    v.push(fed);
    v
}

fn pick_weighted<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T], weight: impl Fn(&T) -> f64) -> &'a T {
    let total: f64 = items.iter().map(&weight).sum();
    let mut x = rng.random::<f64>() * total;
    for it in items {
        x -= weight(it);
        if x <= 0.0 {
            return it;
        }
    }
    &items[items.len() - 1]
}

/// A time on `day`, mostly in working hours.
fn background_time(rng: &mut ChaCha8Rng, day: i64) -> i64 {
    let secs = if rng.random_bool(0.75) { rng.random_range(8 * 3600..19 * 3600) } else { rng.random_range(0..86_400) };
    (day * 86_400 + secs) * 1000
}

/// The background events of day `index` (0-based): an even share of `cfg.events`, the first
/// `cfg.events % days` days taking one more.
pub fn events_on_day(cfg: &GenConfig, index: u32) -> usize {
    let days = cfg.days.max(1) as usize;
    cfg.events / days + usize::from((index as usize) < cfg.events % days)
}

/// One burst of background activity: people and programs work in bursts, one principal, one
/// region, calls seconds apart, sticking to one to three services as a console page or a
/// script does.
pub struct Burst<'a> {
    /// When it starts (epoch ms); its first call comes a moment later.
    pub start_ms: i64,
    /// Who.
    pub actor: &'a Actor,
    /// Where.
    pub region: &'static str,
    /// How many calls.
    pub calls: usize,
    /// The services it sticks to.
    pub sources: Vec<&'static str>,
}

/// The organisation's everyday activity, made a day's plan and a burst at a time so that a dump
/// of any size is written with little memory.
pub struct Background<'a> {
    cfg: &'a GenConfig,
    actors: &'a [Actor],
    catalog: Catalog,
    /// Every event source of the catalogue.
    sources: Vec<&'static str>,
    /// The catalogue's calls by source, most popular first.
    by_source: HashMap<&'static str, Vec<Call>>,
    /// The leaked key's rotation, once the owners retire it.
    rotation: Option<KeyRotation>,
}

impl<'a> Background<'a> {
    /// The background of `actors` under `cfg`; records made after `rotation` carry the new key.
    pub fn new(cfg: &'a GenConfig, actors: &'a [Actor], rotation: Option<KeyRotation>) -> Self {
        let catalog = Catalog::new();
        let mut sources: Vec<&'static str> = catalog.calls.iter().map(|c| c.source).collect();
        sources.sort_unstable();
        sources.dedup();
        let mut by_source: HashMap<&'static str, Vec<Call>> = HashMap::new();
        for c in &catalog.calls {
            by_source.entry(c.source).or_default().push(*c);
        }
        Background { cfg, actors, catalog, sources, by_source, rotation }
    }

    /// The bursts of day `index` (0-based), adding up to [`events_on_day`], by start time.
    pub fn plan_day(&self, rng: &mut ChaCha8Rng, index: u32) -> Vec<Burst<'a>> {
        let quota = events_on_day(self.cfg, index);
        let day = self.cfg.start_day + i64::from(index);
        let (mut bursts, mut planned) = (Vec::new(), 0usize);
        while planned < quota {
            let actor = pick_weighted(rng, self.actors, |a| a.weight);
            let start_ms = background_time(rng, day);
            let region = pick_weighted(rng, REGIONS, |r| r.1).0;
            let calls = 1 + (-(1.0 - rng.random::<f64>()).ln() * 9.0) as usize;
            let pool: &[&'static str] = if actor.focus.is_empty() { &self.sources } else { &actor.focus };
            let sources = (0..rng.random_range(1..=3)).map(|_| pool[rng.random_range(0..pool.len())]).collect();
            let calls = calls.min(quota - planned);
            planned += calls;
            bursts.push(Burst { start_ms, actor, region, calls, sources });
        }
        bursts.sort_by_key(|b| b.start_ms);
        bursts
    }

    /// The records of one burst, in time order.
    pub fn burst(&self, rng: &mut ChaCha8Rng, b: &Burst<'_>, mut emit: impl FnMut(Generated)) {
        let buckets = ["acme-prod-assets", "acme-app-uploads", "acme-analytics-raw", "acme-backups"];
        let (actor, region, cfg) = (b.actor, b.region, self.cfg);
        let mut t = b.start_ms;
        for _ in 0..b.calls {
            t += rng.random_range(300..20_000);
            let roll = rng.random::<f64>();
            let mut rec = Recorder { rng: &mut *rng };
            let heavy = cfg.profile == Profile::DataHeavy;
            let mut record = if heavy
                && roll < heavy::S3_DATA_SHARE
                && !matches!(actor.kind, Kind::Service(_))
                && data_events_logged(cfg, &actor.account, t)
            {
                heavy::s3_data_event(&mut rec, actor, t, region)
            } else if heavy && roll > 1.0 - heavy::HEAVY_SHARE {
                heavy::management_event(&mut rec, cfg.seed, actor, t, region)
            } else if !heavy
                && roll < 0.15
                && !matches!(actor.kind, Kind::Service(_))
                && data_events_logged(cfg, &actor.account, t)
            {
                // S3 data event.
                let name = ["GetObject", "GetObject", "GetObject", "PutObject", "HeadObject", "ListObjects"]
                    [rec.rng.random_range(0..6)];
                let bucket = buckets[rec.rng.random_range(0..buckets.len())];
                let key = format!(
                    "{}/{}/{}.parquet",
                    ["events", "images", "exports"][rec.rng.random_range(0..3)],
                    2024,
                    rec.rng.hexid(10)
                );
                let mut call = CallSpec::new("s3.amazonaws.com", name, region).req(
                    json!({"bucketName": bucket, "Host": format!("{bucket}.s3.{region}.amazonaws.com"), "key": key}),
                );
                call.read_only = name != "PutObject";
                call.data_resources = Some(
                    json!([{"type": "AWS::S3::Object", "ARN": format!("arn:aws:s3:::{bucket}/{key}")}, {"accountId": actor.account, "type": "AWS::S3::Bucket", "ARN": format!("arn:aws:s3:::{bucket}")}]),
                );
                call.additional = Some(
                    json!({"SignatureVersion": "SigV4", "CipherSuite": "TLS_AES_128_GCM_SHA256", "bytesTransferredIn": 0, "AuthenticationMethod": "AuthHeader", "x-amz-id-2": rec.rng.chars(60, b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/"), "bytesTransferredOut": rec.rng.random_range(100..5_000_000)}),
                );
                rec.record(actor, t, call)
            } else if (if heavy {
                (heavy::S3_DATA_SHARE..heavy::S3_DATA_SHARE + 0.02).contains(&roll)
            } else {
                roll < 0.17
            }) && matches!(actor.kind, Kind::IamUser | Kind::Root)
                && actor.user_agent.starts_with("Mozilla")
            {
                console_login(&mut rec, actor, t, region)
            } else {
                // People wander into other services now and then; programs do not.
                let call = if actor.focus.is_empty() && rec.rng.random_bool(0.08) {
                    self.catalog.pick(rec.rng.random::<f64>())
                } else {
                    let src = b.sources[rec.rng.random_range(0..b.sources.len())];
                    let candidates = self.by_source.get(src).map_or(&[][..], Vec::as_slice);
                    candidates[((rec.rng.random::<f64>().powi(2)) * candidates.len() as f64) as usize]
                };
                let region = if is_global(call.source) { "us-east-1" } else { region };
                let (req, resp) = payload::for_call(rec.rng, call.source, call.name, region, &actor.account);
                let mut spec = CallSpec::new(call.source, call.name, region).req(req).resp(resp);
                spec.read_only = call.read_only;
                let e = rec.rng.random::<f64>();
                if e < 0.012 && !matches!(actor.kind, Kind::Service(_)) {
                    let who = if actor.arn.is_empty() { "a service".to_owned() } else { actor.arn.clone() };
                    let action = format!("{}:{}", call.source.split('.').next().unwrap_or(""), call.name);
                    spec = spec.fail("AccessDenied", format!("User: {who} is not authorized to perform: {action} because no identity-based policy allows the {action} action"));
                } else if e < 0.02 {
                    spec = spec.fail("ThrottlingException", "Rate exceeded".into());
                }
                rec.record(actor, t, spec)
            };
            if let Some(rotation) = self.rotation.as_ref().filter(|r| r.leaked == actor.access_key) {
                // After the rotation the pipeline's everyday calls carry the new key, as they would.
                rotation.apply(t, &mut record);
            }
            let region_of = record["awsRegion"].as_str().unwrap_or("us-east-1").to_owned();
            emit(Generated { time_ms: t, account: actor.account.clone(), region: region_of, record });
        }
    }
}

/// A console sign-in (success with the actor's MFA setting, sometimes a failed attempt first).
pub fn console_login(rec: &mut Recorder<'_>, actor: &Actor, t: i64, region: &str) -> Value {
    let failed = rec.rng.random_bool(0.05);
    let mut call = CallSpec::new("signin.amazonaws.com", "ConsoleLogin", region)
        .resp(json!({"ConsoleLogin": if failed { "Failure" } else { "Success" }}));
    call.read_only = false;
    call.event_type = Some("AwsConsoleSignIn");
    call.additional = Some(
        json!({"LoginTo": "https://console.aws.amazon.com/console/home", "MobileVersion": "No", "MFAIdentifier": if actor.mfa { json!(format!("arn:aws:iam::{}:mfa/{}", actor.account, actor.user_name.clone().unwrap_or_default())) } else { Value::Null }, "MFAUsed": if actor.mfa { "Yes" } else { "No" }}),
    );
    if failed {
        call.error = Some(("Failed authentication".into(), "Failed authentication".into()));
    }
    let mut r = rec.record(actor, t, call);
    if let Some(ui) = r["userIdentity"].as_object_mut() {
        ui.remove("accessKeyId");
        ui.remove("sessionContext");
    }
    r
}

/// Generate a dump under `out` (an `AWSLogs/...` tree is created inside it).
///
/// The dump is written as it is made: the attack and its confounders (a few hundred records)
/// first, in memory; then the background a day's plan and a burst at a time, each 5-minute
/// delivery window written and dropped as soon as no later record can fall in it. Memory stays
/// bounded by the activity of a few windows and one day's burst plan, whatever the event count.
///
/// # Errors
/// Any I/O error while writing.
pub fn generate(cfg: &GenConfig, out: &Path) -> std::io::Result<GenSummary> {
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let actors = background_actors(&mut rng);
    let mut extra = Vec::new();
    let mut truth = GroundTruth::default();
    let mut rotation = None;
    if cfg.attack {
        let day = attack_day(cfg);
        // The attack and the confounders have their own streams, so the background's bytes do
        // not depend on them and tuning the confounders leaves the attack's bytes alone.
        let mut arng = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x6174_7461_636b);
        let footprint;
        (truth, footprint) = scenario::attack(&mut arng, &actors, day, &mut extra);
        let mut crng = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x636f_6e66_6f75_6e64);
        let (kinds, key_rotation) = confounders::add(&mut crng, &actors, day, &truth, &footprint, &mut extra);
        truth.confounders = kinds;
        rotation = Some(key_rotation);
    }
    extra.sort_by_key(|g| g.time_ms);
    let planted = plant_redeliveries(cfg, &extra, &mut truth);
    let mut extra = extra.into_iter().peekable();
    let mut writer = TreeWriter::new(cfg, out);
    let background = Background::new(cfg, &actors, rotation);
    for index in 0..cfg.days.max(1) {
        for burst in background.plan_day(&mut rng, index) {
            // Every later record comes after this burst starts: earlier windows are complete.
            writer.flush_before(burst.start_ms, &mut extra)?;
            let mut failed = Ok(());
            background.burst(&mut rng, &burst, |g| {
                if failed.is_ok() {
                    failed = writer.add(g);
                }
            });
            failed?;
        }
    }
    writer.flush_before(i64::MAX, &mut extra)?;
    for (g, t) in planted.into_iter().zip(&mut truth.tampered_redeliveries) {
        t.file = writer.plant(g)?;
    }
    let TreeWriter { files, bytes, records, delivered, .. } = writer;
    let mut summary = GenSummary { files, records, bytes, truth, ..Default::default() };
    if cfg.digests {
        let first = cfg.start_day * 86_400_000;
        let last = delivered.iter().map(|d| d.delivered_ms).max().unwrap_or(first);
        let (n, sigs, keys) = digest::write_digests(out, &delivered, first, last)?;
        summary.digest_files = n;
        summary.signatures = sigs;
        summary.public_keys = keys;
    }
    Ok(summary)
}

/// The tampered copies to plant: of every attacker record with a source address in the
/// attack's time order, evenly spaced, `cfg.tampered_redeliveries` of them, their address
/// rewritten; noted in the ground truth (files named once written).
fn plant_redeliveries(cfg: &GenConfig, extra: &[Generated], truth: &mut GroundTruth) -> Vec<Generated> {
    if cfg.tampered_redeliveries == 0 {
        return Vec::new();
    }
    let malicious: HashSet<&str> = truth.malicious_event_ids.iter().map(String::as_str).collect();
    let candidates: Vec<&Generated> = extra
        .iter()
        .filter(|g| g.record["eventID"].as_str().is_some_and(|id| malicious.contains(id)))
        .filter(|g| g.record["sourceIPAddress"].as_str().is_some_and(|ip| ip.parse::<std::net::IpAddr>().is_ok()))
        .collect();
    let n = cfg.tampered_redeliveries.min(candidates.len());
    let mut planted = Vec::with_capacity(n);
    for k in 0..n {
        let g = candidates[k * candidates.len() / n];
        let mut copy = Generated {
            time_ms: g.time_ms,
            account: g.account.clone(),
            region: g.region.clone(),
            record: g.record.clone(),
        };
        let original = copy.record["sourceIPAddress"].as_str().unwrap_or_default().to_owned();
        copy.record["sourceIPAddress"] = json!(PLANTED_IP);
        truth.tampered_redeliveries.push(TamperedRedelivery {
            event_id: copy.record["eventID"].as_str().unwrap_or_default().to_owned(),
            field: "sourceIPAddress".into(),
            original,
            planted: PLANTED_IP.into(),
            file: String::new(),
        });
        planted.push(copy);
    }
    planted
}

/// CloudTrail delivers a trail's records in files covering five minutes each.
const WINDOW_MS: i64 = 300_000;

/// A record waiting for its delivery window to close: its time and its JSON.
struct Packed {
    time_ms: i64,
    json: Box<[u8]>,
}

/// Open delivery windows: (window, account, Insight or not, region) to their records.
type Windows = BTreeMap<(i64, String, bool, String), Vec<Packed>>;

/// Writes records into 5-minute delivery files per account and region, gzipped, a window at a
/// time, keeping only what the digests need of each file.
struct TreeWriter<'a> {
    cfg: &'a GenConfig,
    out: &'a Path,
    /// File names' random suffixes have their own stream.
    names: ChaCha8Rng,
    /// File sizes of the data-heavy profile have theirs.
    splits: ChaCha8Rng,
    pending: Windows,
    dirs: HashSet<PathBuf>,
    delivered: Vec<digest::Delivered>,
    files: usize,
    bytes: u64,
    records: usize,
    /// The last file written, relative to the output directory.
    last_file: String,
}

impl<'a> TreeWriter<'a> {
    fn new(cfg: &'a GenConfig, out: &'a Path) -> Self {
        TreeWriter {
            cfg,
            out,
            names: ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x006e_616d_6573),
            splits: ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x7370_6c69_7473),
            pending: BTreeMap::new(),
            dirs: HashSet::new(),
            delivered: Vec::new(),
            files: 0,
            bytes: 0,
            records: 0,
            last_file: String::new(),
        }
    }

    /// Hold a record until its window is written.
    fn add(&mut self, g: Generated) -> std::io::Result<()> {
        let insight = g.record["eventType"] == "AwsCloudTrailInsight";
        let json = serde_json::to_vec(&g.record)?.into_boxed_slice();
        let key = (g.time_ms.div_euclid(WINDOW_MS), g.account, insight, g.region);
        self.pending.entry(key).or_default().push(Packed { time_ms: g.time_ms, json });
        self.records += 1;
        Ok(())
    }

    /// Write every window that ends by `cutoff_ms`, with the `extra` records (sorted by time)
    /// that fall in them. No record may be added to those windows afterwards.
    fn flush_before(
        &mut self,
        cutoff_ms: i64,
        extra: &mut std::iter::Peekable<std::vec::IntoIter<Generated>>,
    ) -> std::io::Result<()> {
        let limit = cutoff_ms.div_euclid(WINDOW_MS);
        while let Some(g) = extra.next_if(|g| g.time_ms.div_euclid(WINDOW_MS) < limit) {
            self.add(g)?;
        }
        while let Some(entry) = self.pending.first_entry() {
            if entry.key().0 >= limit {
                break;
            }
            let ((window, account, insight, region), group) = entry.remove_entry();
            self.write_window(window, &account, insight, &region, group)?;
        }
        Ok(())
    }

    /// Write a planted copy in a file of its own, in its window's directory, left out of the
    /// digests (it was never delivered); its path relative to the output directory.
    fn plant(&mut self, g: Generated) -> std::io::Result<String> {
        let json = serde_json::to_vec(&g.record)?.into_boxed_slice();
        let (files, delivered) = (self.files, self.delivered.len());
        let window = g.time_ms.div_euclid(WINDOW_MS);
        self.write_window(window, &g.account, false, &g.region, vec![Packed { time_ms: g.time_ms, json }])?;
        debug_assert_eq!(self.files, files + 1);
        self.delivered.truncate(delivered);
        self.records += 1;
        Ok(std::mem::take(&mut self.last_file))
    }

    /// One window's files (split beyond `max_records_per_file`).
    fn write_window(
        &mut self,
        window: i64,
        account: &str,
        insight: bool,
        region: &str,
        mut group: Vec<Packed>,
    ) -> std::io::Result<()> {
        let area = if insight { "CloudTrail-Insight" } else { "CloudTrail" };
        group.sort_by_key(|g| g.time_ms);
        // Files are named for the end of their window (the next day's date for the last window
        // of a day) and filed under the day the window starts.
        let end_ms = (window + 1) * WINDOW_MS;
        let (y, m, d) = civil_from_days((window * WINDOW_MS).div_euclid(86_400_000));
        let (ey, em, ed) = civil_from_days(end_ms.div_euclid(86_400_000));
        let sod = end_ms.rem_euclid(86_400_000) / 1000;
        let dir: PathBuf = self.out.join(format!("AWSLogs/{account}/{area}/{region}/{y:04}/{m:02}/{d:02}"));
        if !self.dirs.contains(&dir) {
            std::fs::create_dir_all(&dir)?;
            self.dirs.insert(dir.clone());
        }
        let most = self.cfg.max_records_per_file.max(1);
        let mut rest = &group[..];
        while !rest.is_empty() {
            let n = match self.cfg.profile {
                Profile::Default => most,
                Profile::DataHeavy => heavy::file_size(&mut self.splits, most),
            };
            let (part, tail) = rest.split_at(n.min(rest.len()));
            rest = tail;
            let name = format!(
                "{account}_{area}_{region}_{ey:04}{em:02}{ed:02}T{:02}{:02}Z_{}.json.gz",
                sod / 3600,
                sod % 3600 / 60,
                self.names.chars(16, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
            );
            let mut body = Vec::with_capacity(part.iter().map(|g| g.json.len() + 1).sum::<usize>() + 16);
            body.extend_from_slice(b"{\"Records\":[");
            for (i, g) in part.iter().enumerate() {
                if i > 0 {
                    body.push(b',');
                }
                body.extend_from_slice(&g.json);
            }
            body.extend_from_slice(b"]}");
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
            enc.write_all(&body)?;
            let gz = enc.finish()?;
            if !insight {
                let rel = format!("AWSLogs/{account}/{area}/{region}/{y:04}/{m:02}/{d:02}/{name}");
                self.delivered.push(digest::Delivered {
                    account: account.to_owned(),
                    region: region.to_owned(),
                    key: rel,
                    delivered_ms: end_ms,
                    sha256: hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&body)),
                    oldest_ms: part.iter().map(|g| g.time_ms / 1000 * 1000).min().unwrap_or(end_ms),
                    newest_ms: part.iter().map(|g| g.time_ms / 1000 * 1000).max().unwrap_or(end_ms),
                });
            }
            self.bytes += gz.len() as u64;
            std::fs::File::create(dir.join(&name))?.write_all(&gz)?;
            self.last_file = format!("AWSLogs/{account}/{area}/{region}/{y:04}/{m:02}/{d:02}/{name}");
            self.files += 1;
        }
        Ok(())
    }
}
