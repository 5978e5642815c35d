//! Plausible `requestParameters` / `responseElements` for background calls, sized like real ones.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

use crate::world::RngExt2;

/// Request and response for a background call.
pub fn for_call(rng: &mut ChaCha8Rng, source: &str, name: &str, region: &str, account: &str) -> (Value, Value) {
    let svc = source.split('.').next().unwrap_or("svc");
    let inst = format!("i-0{}", rng.hexid(16));
    match (svc, name) {
        ("ec2", "DescribeInstances") => (
            json!({"instancesSet": {"items": [{"instanceId": inst}]}, "filterSet": {"items": [{"name": "instance-state-name", "valueSet": {"items": [{"value": "running"}, {"value": "stopped"}]}}]}, "maxResults": 1000}),
            Value::Null,
        ),
        ("ec2", "RunInstances") => {
            let ty = ["t3.micro", "t3.large", "m5.xlarge"][rng.random_range(0..3)];
            (
                json!({"instancesSet": {"items": [{"imageId": format!("ami-0{}", rng.hexid(16)), "minCount": 1, "maxCount": 1}]}, "instanceType": ty, "blockDeviceMapping": {}, "monitoring": {"enabled": false}, "disableApiTermination": false, "subnetId": format!("subnet-0{}", rng.hexid(16)), "tagSpecificationSet": {"items": [{"resourceType": "instance", "tags": [{"key": "team", "value": "platform"}]}]}}),
                json!({"requestId": rng.uuid(), "reservationId": format!("r-0{}", rng.hexid(16)), "ownerId": account, "instancesSet": {"items": [{"instanceId": inst, "instanceType": ty, "placement": {"availabilityZone": format!("{region}a"), "tenancy": "default"}, "privateIpAddress": format!("10.0.{}.{}", rng.random_range(0..255), rng.random_range(1..255)), "instanceState": {"code": 0, "name": "pending"}}]}}),
            )
        }
        ("ec2", n) if n.starts_with("Describe") => {
            (json!({"maxResults": 1000, "filterSet": {}, "DescribeFlowLogsRequest": Value::Null}), Value::Null)
        }
        ("ec2", n) => (
            json!({"resourcesSet": {"items": [{"resourceId": inst}]}, "instancesSet": {"items": [{"instanceId": inst}]}, "dryRun": false}),
            json!({"requestId": rng.uuid(), "_return": true, "instancesSet": {"items": [{"instanceId": inst, "currentState": {"code": 16, "name": "running"}, "previousState": {"code": 80, "name": if n == "StartInstances" { "stopped" } else { "running" }}}]}}),
        ),
        ("s3", "ListBuckets") => (json!({"Host": "s3.amazonaws.com"}), Value::Null),
        ("s3", _) => (
            json!({"bucketName": format!("acme-{}-logs", ["prod", "app", "analytics", "backup"][rng.random_range(0..4)]), "Host": format!("s3.{region}.amazonaws.com"), "acl": ""}),
            Value::Null,
        ),
        ("iam", n) if n.contains("Role") => (
            json!({"roleName": (["app-server", "lambda-exec", "etl-job", "AdminRole", "ReadOnlyRole"][rng.random_range(0..5)]), "maxItems": 100}),
            Value::Null,
        ),
        ("iam", n) if n.contains("Polic") => (
            json!({"policyArn": format!("arn:aws:iam::{account}:policy/team-{}", rng.hexid(6)), "onlyAttached": true, "scope": "Local"}),
            Value::Null,
        ),
        ("iam", _) => (
            json!({"userName": (["alice", "bob", "ci-deployer", "svc-backup"][rng.random_range(0..4)]), "maxItems": 100}),
            Value::Null,
        ),
        ("sts", "GetCallerIdentity") => (Value::Null, Value::Null),
        ("lambda", n) => (
            json!({"functionName": format!("arn:aws:lambda:{region}:{account}:function:{}", ["orders-api", "thumbnailer", "nightly-report", "auth-hook"][rng.random_range(0..4)]), "maxItems": 50}),
            if n.starts_with("Update") || n.starts_with("Publish") {
                json!({"functionArn": format!("arn:aws:lambda:{region}:{account}:function:orders-api"), "runtime": "python3.12", "codeSize": rng.random_range(1000..900000), "memorySize": 512, "timeout": 30, "lastModified": "2024-03-04T10:00:00.000+0000", "codeSha256": rng.hexid(43), "version": "$LATEST", "state": "Active"})
            } else {
                Value::Null
            },
        ),
        ("kms", _) => (
            json!({"keyId": format!("arn:aws:kms:{region}:{account}:key/{}", rng.uuid()), "encryptionAlgorithm": "SYMMETRIC_DEFAULT", "encryptionContext": {"aws:s3:arn": format!("arn:aws:s3:::acme-prod-data/{}", rng.hexid(12))}}),
            Value::Null,
        ),
        ("logs", _) => (
            json!({"logGroupName": format!("/aws/lambda/{}", ["orders-api", "thumbnailer", "nightly-report"][rng.random_range(0..3)]), "limit": 50, "startTime": 1709510400000u64, "endTime": 1709596800000u64, "interleaved": true}),
            Value::Null,
        ),
        ("ssm", "GetParameter" | "GetParameters") => (
            json!({"name": format!("/app/{}/{}", ["prod", "staging"][rng.random_range(0..2)], ["db-host", "feature-flags", "api-url"][rng.random_range(0..3)]), "withDecryption": false}),
            Value::Null,
        ),
        ("ssm", "UpdateInstanceInformation") => (
            json!({"instanceId": inst, "agentVersion": "3.3.40.0", "platformType": "Linux", "platformName": "Amazon Linux", "platformVersion": "2023", "iPAddress": format!("10.0.{}.{}", rng.random_range(0..255), rng.random_range(1..255)), "computerName": format!("ip-10-0-{}-{}.ec2.internal", rng.random_range(0..255), rng.random_range(1..255)), "agentName": "amazon-ssm-agent", "availabilityZone": format!("{region}b")}),
            Value::Null,
        ),
        ("secretsmanager", _) => (
            json!({"secretId": format!("prod/{}", ["orders-db", "stripe-api"][rng.random_range(0..2)]), "maxResults": 100}),
            Value::Null,
        ),
        ("dynamodb", _) => {
            (json!({"tableName": (["orders", "sessions", "inventory"][rng.random_range(0..3)])}), Value::Null)
        }
        ("cloudformation", _) => (
            json!({"stackName": format!("arn:aws:cloudformation:{region}:{account}:stack/platform-{}/{}", rng.hexid(4), rng.uuid())}),
            Value::Null,
        ),
        (_, n) if crate::catalog::is_read_only(n) => {
            (json!({"maxResults": 100, "nextToken": Value::Null}), Value::Null)
        }
        (_, _) => (
            json!({"resourceArn": format!("arn:aws:{svc}:{region}:{account}:resource/{}", rng.hexid(12)), "clientToken": rng.uuid()}),
            json!({"requestId": rng.uuid()}),
        ),
    }
}
