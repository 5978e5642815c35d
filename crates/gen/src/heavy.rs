//! The `data-heavy` profile: background records shaped like a real trail that logs S3 data
//! events, where most records are object reads and writes and the management calls with the
//! largest documented payloads (EC2 describe responses, instance launches, role assumptions, KMS
//! decryptions with their encryption context) are common.
//!
//! Fields follow the record examples of the CloudTrail user guide and the S3, EC2, STS and KMS
//! CloudTrail pages. The EC2 fleet, security groups and volumes a describe call returns are
//! drawn from their own seeded stream per account and region, so the same instance looks the
//! same in every response (as it does in a real trail, and as compressors see it).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

use crate::world::{asia, Actor, CallSpec, Kind, Recorder, RngExt2};

/// Share of a person's or program's calls that are S3 data events (the default profile: 15 %).
pub const S3_DATA_SHARE: f64 = 0.55;
/// Share of calls that are one of the heavy management calls of [`HEAVY_CALLS`].
pub const HEAVY_SHARE: f64 = 0.15;

/// Heavy management calls by weight: (eventSource, eventName, weight).
const HEAVY_CALLS: &[(&str, &str, f64)] = &[
    ("ec2.amazonaws.com", "DescribeInstances", 3.0),
    ("ec2.amazonaws.com", "DescribeSecurityGroups", 1.5),
    ("ec2.amazonaws.com", "DescribeVolumes", 1.5),
    ("ec2.amazonaws.com", "RunInstances", 0.3),
    ("kms.amazonaws.com", "Decrypt", 4.0),
    ("kms.amazonaws.com", "GenerateDataKey", 1.5),
    ("sts.amazonaws.com", "AssumeRole", 2.0),
    ("sts.amazonaws.com", "GetCallerIdentity", 1.0),
    ("iam.amazonaws.com", "GetRole", 0.7),
    ("iam.amazonaws.com", "ListAttachedRolePolicies", 0.5),
    ("iam.amazonaws.com", "GetPolicyVersion", 0.3),
];

/// Buckets of the data-heavy organisation, with the key layouts their writers use.
const BUCKETS: &[&str] =
    &["acme-datalake-raw", "acme-datalake-curated", "acme-app-uploads", "acme-prod-assets", "acme-backups"];

const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn pick<'a>(rng: &mut ChaCha8Rng, v: &[&'a str]) -> &'a str {
    v[rng.random_range(0..v.len())]
}

/// A KMS key ARN of `account` in `region` (a handful per account, stable).
fn kms_key(account: &str, region: &str, n: usize) -> String {
    const KEYS: [&str; 4] = [
        "0f3a9c1e-5b7d-4e2f-9a61-3c8d7e2b1f40",
        "6d2e8b4a-1c9f-47a3-b5e0-92f1d3c6a7b8",
        "a41c7e93-2d58-4b6f-8e1a-c3f9b0d2e5a7",
        "c9b3f1d7-8a2e-4c5b-a0f6-1e7d4b9c3a28",
    ];
    format!("arn:aws:kms:{region}:{account}:key/{}", KEYS[n % KEYS.len()])
}

/// An object key as the bucket's writers lay them out: partitioned data-lake files, uploads
/// under a user prefix, hashed assets, dated backups.
fn object_key(rng: &mut ChaCha8Rng, bucket: &str, day: i64) -> String {
    let (y, m, d) = trailscope_store::civil_from_days(day);
    match bucket {
        "acme-datalake-raw" | "acme-datalake-curated" => format!(
            "{}/year={y:04}/month={m:02}/day={d:02}/hour={:02}/part-{:05}-{}.c000.snappy.parquet",
            pick(rng, &["clickstream", "orders", "payments", "inventory", "sessions"]),
            rng.random_range(0..24),
            rng.random_range(0..200),
            rng.uuid()
        ),
        "acme-app-uploads" => format!(
            "users/{}/uploads/{}.{}",
            rng.random_range(10_000..99_999),
            rng.uuid(),
            pick(rng, &["jpg", "png", "pdf", "csv"])
        ),
        "acme-prod-assets" => format!(
            "static/{}/{}.{}.{}",
            pick(rng, &["js", "css", "img"]),
            pick(rng, &["main", "vendor", "runtime", "logo", "hero"]),
            rng.hexid(20),
            pick(rng, &["js", "css", "png", "svg"])
        ),
        _ => format!(
            "rds/orders-db/{y:04}-{m:02}-{d:02}/{}/chunk-{:06}.gz",
            pick(rng, &["snapshot", "binlog"]),
            rng.random_range(0..5000)
        ),
    }
}

/// One S3 data event as CloudTrail logs it for object-level API calls.
pub fn s3_data_event(rec: &mut Recorder<'_>, actor: &Actor, t: i64, region: &str) -> Value {
    let rng = &mut *rec.rng;
    let name = pick(
        rng,
        &[
            "GetObject",
            "GetObject",
            "GetObject",
            "GetObject",
            "PutObject",
            "PutObject",
            "HeadObject",
            "HeadObject",
            "ListObjects",
            "DeleteObject",
        ],
    );
    let bucket = pick(rng, BUCKETS);
    let host = format!("{bucket}.s3.{region}.amazonaws.com");
    let key = if name == "ListObjects" { String::new() } else { object_key(rng, bucket, t.div_euclid(86_400_000)) };
    let kms = kms_key(&actor.account, region, BUCKETS.iter().position(|b| *b == bucket).unwrap_or(0));
    let (request, response, bytes_in, bytes_out) = match name {
        "ListObjects" => {
            let prefix = format!("{}/", pick(rng, &["clickstream", "orders", "users", "static", "rds"]));
            (
                json!({"list-type": "2", "bucketName": bucket, "encoding-type": "url", "prefix": prefix, "delimiter": "/", "max-keys": "1000", "Host": host}),
                Value::Null,
                0,
                rng.random_range(300..60_000),
            )
        }
        "PutObject" => {
            let size = rng.random_range(1_000..80_000_000u64);
            (
                json!({"bucketName": bucket, "Host": host, "key": key, "x-amz-server-side-encryption": "aws:kms", "x-amz-server-side-encryption-aws-kms-key-id": kms, "x-id": "PutObject"}),
                json!({"x-amz-server-side-encryption": "aws:kms", "x-amz-server-side-encryption-aws-kms-key-id": kms, "x-amz-version-id": rng.chars(32, b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._"), "x-amz-server-side-encryption-bucket-key-enabled": "true"}),
                size,
                0,
            )
        }
        "GetObject" => (
            json!({"bucketName": bucket, "Host": host, "key": key, "x-id": "GetObject"}),
            Value::Null,
            0,
            rng.random_range(1_000..80_000_000u64),
        ),
        _ => (json!({"bucketName": bucket, "Host": host, "key": key}), Value::Null, 0, 0),
    };
    let mut call = CallSpec::new("s3.amazonaws.com", name, region).req(request).resp(response);
    call.read_only = matches!(name, "GetObject" | "HeadObject" | "ListObjects");
    let object = if key.is_empty() { format!("arn:aws:s3:::{bucket}") } else { format!("arn:aws:s3:::{bucket}/{key}") };
    call.data_resources = Some(if key.is_empty() {
        json!([{"accountId": actor.account, "type": "AWS::S3::Bucket", "ARN": object}])
    } else {
        json!([{"type": "AWS::S3::Object", "ARN": object}, {"accountId": actor.account, "type": "AWS::S3::Bucket", "ARN": format!("arn:aws:s3:::{bucket}")}])
    });
    call.additional = Some(json!({
        "SignatureVersion": "SigV4", "CipherSuite": "TLS_AES_128_GCM_SHA256", "bytesTransferredIn": bytes_in,
        "AuthenticationMethod": "AuthHeader", "x-amz-id-2": rng.chars(76, B64), "bytesTransferredOut": bytes_out,
    }));
    let mut r = rec.record(actor, t, call);
    r["tlsDetails"]["clientProvidedHostHeader"] = json!(host);
    r
}

/// Pick one heavy management call by weight.
pub fn pick_call(rng: &mut ChaCha8Rng) -> (&'static str, &'static str) {
    let total: f64 = HEAVY_CALLS.iter().map(|c| c.2).sum();
    let mut x = rng.random::<f64>() * total;
    for &(source, name, w) in HEAVY_CALLS {
        x -= w;
        if x <= 0.0 {
            return (source, name);
        }
    }
    (HEAVY_CALLS[0].0, HEAVY_CALLS[0].1)
}

/// One heavy management call by `actor` (see [`pick_call`]).
pub fn management_event(rec: &mut Recorder<'_>, seed: u64, actor: &Actor, t: i64, region: &str) -> Value {
    let (source, name) = pick_call(rec.rng);
    let region = if source == "iam.amazonaws.com" { "us-east-1" } else { region };
    let account = actor.account.clone();
    let rng = &mut *rec.rng;
    let mut resources = None;
    let call = CallSpec::new(source, name, region);
    let call = match name {
        "DescribeInstances" => {
            let fleet = fleet_size(&account);
            let (first, n) = window(rng, fleet);
            let ids: Vec<Value> =
                if rng.random_bool(0.3) { (first..first + n.min(5)).map(|i| json!({"instanceId": instance_id(seed, &account, region, i)})).collect() } else { Vec::new() };
            let filters = if ids.is_empty() {
                json!({"items": [{"name": "instance-state-name", "valueSet": {"items": [{"value": "running"}, {"value": "stopped"}]}}, {"name": "tag:team", "valueSet": {"items": [{"value": pick(rng, &["platform", "data", "web"])}]}}]})
            } else {
                json!({})
            };
            let n = if ids.is_empty() { n } else { ids.len() };
            let items: Vec<Value> = (first..first + n).map(|i| instance(seed, &account, region, i)).collect();
            CallSpec::new(source, name, region)
                .req(json!({"instancesSet": {"items": ids}, "filterSet": filters, "maxResults": 1000}))
                .resp(json!({"requestId": rng.uuid(), "reservationSet": {"items": reservations(seed, &account, items)}}))
        }
        "DescribeSecurityGroups" => {
            let (first, n) = window(rng, 24);
            call.req(json!({"securityGroupSet": {}, "securityGroupIdSet": {}, "filterSet": {}}))
                .resp(json!({"requestId": rng.uuid(), "securityGroupInfo": {"items": (first..first + n).map(|i| security_group(seed, &account, region, i)).collect::<Vec<_>>()}}))
        }
        "DescribeVolumes" => {
            let fleet = fleet_size(&account);
            let (first, n) = window(rng, fleet);
            call.req(json!({"volumeSet": {}, "filterSet": {"items": [{"name": "status", "valueSet": {"items": [{"value": "in-use"}]}}]}, "maxResults": 500}))
                .resp(json!({"requestId": rng.uuid(), "volumeSet": {"items": (first..first + n).map(|i| volume(seed, &account, region, i)).collect::<Vec<_>>()}}))
        }
        "RunInstances" => {
            let fleet = fleet_size(&account);
            let i = rng.random_range(0..fleet);
            let mut inst = instance(seed, &account, region, i);
            inst["instanceState"] = json!({"code": 0, "name": "pending"});
            call.req(json!({"instancesSet": {"items": [{"imageId": inst["imageId"], "minCount": 1, "maxCount": 1}]}, "instanceType": inst["instanceType"], "blockDeviceMapping": {}, "monitoring": {"enabled": false}, "disableApiTermination": false, "disableApiStop": false, "clientToken": rng.uuid(), "subnetId": inst["subnetId"], "tagSpecificationSet": {"items": [{"resourceType": "instance", "tags": inst["tagSet"]["items"]}]}, "metadataOptions": {"httpTokens": "required"}}))
                .resp(json!({"requestId": rng.uuid(), "reservationId": format!("r-0{}", rng.hexid(16)), "ownerId": account, "groupSet": {}, "instancesSet": {"items": [inst]}, "requesterId": Value::Null}))
        }
        "Decrypt" | "GenerateDataKey" => {
            let key = kms_key(&account, region, rng.random_range(0..4));
            let context = match rng.random_range(0..4) {
                0 | 1 => {
                    let bucket = pick(rng, BUCKETS);
                    json!({"aws:s3:arn": format!("arn:aws:s3:::{bucket}/{}", object_key(rng, bucket, t.div_euclid(86_400_000)))})
                }
                2 => json!({"SecretARN": format!("arn:aws:secretsmanager:{region}:{account}:secret:prod/orders-db-{}", rng.chars(6, b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")), "SecretVersionId": rng.uuid()}),
                _ => json!({"aws:lambda:FunctionArn": format!("arn:aws:lambda:{region}:{account}:function:{}", pick(rng, &["orders-api", "thumbnailer", "nightly-report", "auth-hook"]))}),
            };
            resources = Some(json!([{"accountId": account, "type": "AWS::KMS::Key", "ARN": key}]));
            let req = if name == "Decrypt" {
                json!({"encryptionAlgorithm": "SYMMETRIC_DEFAULT", "encryptionContext": context})
            } else {
                json!({"keyId": key, "encryptionContext": context, "keySpec": "AES_256"})
            };
            call.req(req)
        }
        "AssumeRole" => {
            let role = pick(rng, &["etl-job", "app-server", "ReadOnlyRole", "deploy", "backup-operator"]);
            let role_arn = format!("arn:aws:iam::{account}:role/{role}");
            let session = format!("{}-{}", pick(rng, &["botocore-session", "aws-go-sdk", "terraform"]), rng.random_range(1_700_000_000u64..1_720_000_000));
            resources = Some(json!([{"accountId": account, "type": "AWS::IAM::Role", "ARN": role_arn}]));
            let key = asia(rng);
            call.req(json!({"roleArn": role_arn, "roleSessionName": session, "durationSeconds": 3600}))
                .resp(json!({"credentials": {"accessKeyId": key, "sessionToken": rng.chars(620, B64), "expiration": "Mar 5, 2024, 2:00:00 PM"}, "assumedRoleUser": {"assumedRoleId": format!("AROA{}:{session}", rng.upper(17)), "arn": format!("arn:aws:sts::{account}:assumed-role/{role}/{session}")}}))
        }
        "GetRole" | "ListAttachedRolePolicies" => call.req(json!({"roleName": pick(rng, &["etl-job", "app-server", "ReadOnlyRole", "deploy", "backup-operator"])})),
        "GetPolicyVersion" => call.req(json!({"policyArn": format!("arn:aws:iam::{account}:policy/{}", pick(rng, &["data-read", "deploy-boundary", "kms-use"])), "versionId": format!("v{}", rng.random_range(1..9))})),
        _ => call,
    };
    let mut r = rec.record(actor, t, call);
    if let Some(res) = resources {
        r["resources"] = res;
    }
    if matches!(actor.kind, Kind::Service(_)) {
        r.as_object_mut().map(|o| o.remove("tlsDetails"));
    }
    r
}

/// Instances per account (the fleet a describe call pages through).
fn fleet_size(account: &str) -> usize {
    match account {
        crate::world::PROD => 60,
        crate::world::DATA => 30,
        _ => 12,
    }
}

/// A run of `1..=cap` consecutive items (of `total`) starting at a random one.
fn window(rng: &mut ChaCha8Rng, total: usize) -> (usize, usize) {
    let n = if rng.random_bool(0.5) { rng.random_range(1..=total.min(4)) } else { rng.random_range(1..=total) };
    (rng.random_range(0..=total - n), n)
}

/// The stream that makes item `i` of a kind in `account` and `region`: the same item every time.
fn item_rng(seed: u64, kind: u64, account: &str, region: &str, i: usize) -> ChaCha8Rng {
    let mut h = seed ^ kind.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    for b in account.bytes().chain(region.bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    ChaCha8Rng::seed_from_u64(h ^ i as u64)
}

fn instance_id(seed: u64, account: &str, region: &str, i: usize) -> String {
    format!("i-0{}", item_rng(seed, 1, account, region, i).hexid(16))
}

fn reservations(seed: u64, account: &str, items: Vec<Value>) -> Vec<Value> {
    // A reservation per launch: neighbouring instances were launched together in threes.
    items
        .chunks(3)
        .map(|c| {
            let mut r = item_rng(seed, 5, account, c[0]["instanceId"].as_str().unwrap_or(""), 0);
            json!({"reservationId": format!("r-0{}", r.hexid(16)), "ownerId": account, "groupSet": {}, "instancesSet": {"items": c}})
        })
        .collect()
}

/// Instance `i` of the account's fleet in `region`, as DescribeInstances returns it.
fn instance(seed: u64, account: &str, region: &str, i: usize) -> Value {
    let id = instance_id(seed, account, region, i);
    let mut r = item_rng(seed, 2, account, region, i);
    let team = pick(&mut r, &["platform", "data", "web"]);
    let ty = pick(&mut r, &["t3.medium", "m6i.large", "m6i.xlarge", "c6g.2xlarge", "r6i.4xlarge"]);
    let az = format!("{region}{}", pick(&mut r, &["a", "b", "c"]));
    let subnet = format!("subnet-0{}", r.hexid(16));
    let vpc = format!("vpc-0{}", r.hexid(16));
    let ip = format!("10.{}.{}.{}", r.random_range(0..4), r.random_range(0..255), r.random_range(1..255));
    let dns = format!("ip-{}.{region}.compute.internal", ip.replace('.', "-"));
    let sg = format!("sg-0{}", r.hexid(16));
    let eni = format!("eni-0{}", r.hexid(16));
    let mac = format!("0e:{}:{}:{}:{}:{}", r.hexid(2), r.hexid(2), r.hexid(2), r.hexid(2), r.hexid(2));
    let launch = 1_706_745_600_000u64 + r.random_range(0..2_500_000_000u64);
    let vol = format!("vol-0{}", r.hexid(16));
    let running = r.random_bool(0.85);
    let interface = json!({
        "networkInterfaceId": eni, "subnetId": subnet, "vpcId": vpc, "ownerId": account, "status": "in-use",
        "macAddress": mac, "privateIpAddress": ip, "privateDnsName": dns, "sourceDestCheck": true,
        "groupSet": {"items": [{"groupId": sg, "groupName": format!("{team}-app")}]},
        "attachment": {"attachmentId": format!("eni-attach-0{}", r.hexid(16)), "deviceIndex": 0, "networkCardIndex": 0, "status": "attached", "attachTime": launch, "deleteOnTermination": true},
        "privateIpAddressesSet": {"item": [{"privateIpAddress": ip, "privateDnsName": dns, "primary": true}]},
        "ipv6AddressesSet": {}, "tagSet": {}, "interfaceType": "interface",
    });
    let mut v = json!({
        "instanceId": id, "imageId": format!("ami-0{}", r.hexid(16)),
        "instanceState": if running { json!({"code": 16, "name": "running"}) } else { json!({"code": 80, "name": "stopped"}) },
        "privateDnsName": dns, "dnsName": "", "keyName": format!("{team}-ops"), "amiLaunchIndex": 0, "productCodes": {},
        "instanceType": ty, "launchTime": launch,
        "placement": {"availabilityZone": az, "groupName": "", "tenancy": "default"},
        "monitoring": {"state": "disabled"}, "subnetId": subnet, "vpcId": vpc, "privateIpAddress": ip,
        "sourceDestCheck": true, "groupSet": {"items": [{"groupId": sg, "groupName": format!("{team}-app")}]},
        "architecture": if ty.starts_with("c6g") { "arm64" } else { "x86_64" }, "rootDeviceType": "ebs", "rootDeviceName": "/dev/xvda",
        "blockDeviceMapping": {"items": [{"deviceName": "/dev/xvda", "ebs": {"volumeId": vol, "status": "attached", "attachTime": launch + 1000, "deleteOnTermination": true}}]},
        "virtualizationType": "hvm", "clientToken": format!("terraform-{}", r.hexid(26)),
        "tagSet": {"items": [
            {"key": "Name", "value": format!("{team}-{}-{}", pick(&mut r, &["api", "worker", "batch"]), i)},
            {"key": "team", "value": team}, {"key": "env", "value": "prod"},
            {"key": "aws:autoscaling:groupName", "value": format!("{team}-asg")},
            {"key": "cost-center", "value": format!("cc-{}", r.random_range(1000..9999))},
        ]},
    });
    let rest = json!({
        "hypervisor": "xen",
        "networkInterfaceSet": {"items": [interface]},
        "ebsOptimized": true, "enaSupport": true,
        "cpuOptions": {"coreCount": 2, "threadsPerCore": 2},
        "capacityReservationSpecification": {"capacityReservationPreference": "open"},
        "hibernationOptions": {"configured": false}, "enclaveOptions": {"enabled": false},
        "metadataOptions": {"state": "applied", "httpTokens": "required", "httpPutResponseHopLimit": 2, "httpEndpoint": "enabled", "httpProtocolIpv4": "enabled", "httpProtocolIpv6": "disabled", "instanceMetadataTags": "disabled"},
        "maintenanceOptions": {"autoRecovery": "default"}, "currentInstanceBootMode": "legacy-bios",
        "platformDetails": "Linux/UNIX", "usageOperation": "RunInstances", "usageOperationUpdateTime": launch,
        "privateDnsNameOptions": {"hostnameType": "ip-name", "enableResourceNameDnsARecord": false, "enableResourceNameDnsAAAARecord": false},
        "iamInstanceProfile": {"arn": format!("arn:aws:iam::{account}:instance-profile/{team}-app"), "id": format!("AIPA{}", r.upper(17))},
    });
    if let (Some(v), Value::Object(rest)) = (v.as_object_mut(), rest) {
        v.extend(rest);
    }
    v
}

/// Security group `i` of the account in `region`, as DescribeSecurityGroups returns it.
fn security_group(seed: u64, account: &str, region: &str, i: usize) -> Value {
    let mut r = item_rng(seed, 3, account, region, i);
    let team = pick(&mut r, &["platform", "data", "web"]);
    let rules: Vec<Value> = (0..r.random_range(1..6))
        .map(|_| {
            let port = pick(&mut r, &["22", "443", "80", "5432", "6379", "8080"]).parse::<u16>().unwrap_or(443);
            json!({"ipProtocol": "tcp", "fromPort": port, "toPort": port, "groups": {}, "ipRanges": {"items": [{"cidrIp": format!("10.{}.0.0/16", r.random_range(0..4)), "description": format!("{team} internal")}]}, "ipv6Ranges": {}, "prefixListIds": {}})
        })
        .collect();
    json!({
        "ownerId": account, "groupId": format!("sg-0{}", r.hexid(16)), "groupName": format!("{team}-{}-{i}", pick(&mut r, &["app", "db", "lb", "cache"])),
        "groupDescription": format!("Managed by Terraform ({team})"), "vpcId": format!("vpc-0{}", r.hexid(16)),
        "ipPermissions": {"items": rules},
        "ipPermissionsEgress": {"items": [{"ipProtocol": "-1", "groups": {}, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}, "ipv6Ranges": {}, "prefixListIds": {}}]},
        "tagSet": {"items": [{"key": "team", "value": team}, {"key": "managed-by", "value": "terraform"}]},
    })
}

/// Volume `i` of the account in `region`, as DescribeVolumes returns it.
fn volume(seed: u64, account: &str, region: &str, i: usize) -> Value {
    let instance = instance_id(seed, account, region, i);
    let mut r = item_rng(seed, 4, account, region, i);
    let vol = format!("vol-0{}", r.hexid(16));
    let created = 1_706_745_600_000u64 + r.random_range(0..2_500_000_000u64);
    json!({
        "volumeId": vol, "size": pick(&mut r, &["8", "20", "50", "100", "500"]).parse::<u32>().unwrap_or(8),
        "snapshotId": format!("snap-0{}", r.hexid(16)), "availabilityZone": format!("{region}{}", pick(&mut r, &["a", "b", "c"])),
        "status": "in-use", "createTime": created,
        "attachmentSet": {"items": [{"volumeId": vol, "instanceId": instance, "device": "/dev/xvda", "status": "attached", "attachTime": created, "deleteOnTermination": true}]},
        "volumeType": "gp3", "iops": 3000, "throughput": 125, "encrypted": true,
        "kmsKeyId": kms_key(account, region, i), "multiAttachEnabled": false,
        "tagSet": {"items": [{"key": "Name", "value": format!("root-{instance}")}, {"key": "backup", "value": "daily"}]},
    })
}

/// How many records a file of the data-heavy profile holds: trails of busy accounts deliver
/// many small files (a handful of records, per region, every few minutes) beside large ones.
pub fn file_size(rng: &mut ChaCha8Rng, most: usize) -> usize {
    if rng.random_bool(0.5) {
        rng.random_range(1..=8).min(most)
    } else {
        rng.random_range(1..=most)
    }
}
