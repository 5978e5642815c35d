//! The background mix: real CloudTrail event names per service, weighted by a skewed (Zipf-like)
//! popularity so that a few calls dominate, as in real trails.

/// One API call the background may produce.
#[derive(Clone, Copy, Debug)]
pub struct Call {
    /// `eventSource`.
    pub source: &'static str,
    /// `eventName`.
    pub name: &'static str,
    /// `readOnly`.
    pub read_only: bool,
}

const SERVICES: &[(&str, &[&str])] = &[
    (
        "ec2.amazonaws.com",
        &[
            "DescribeInstances",
            "DescribeInstanceStatus",
            "DescribeSecurityGroups",
            "DescribeVolumes",
            "DescribeSnapshots",
            "DescribeImages",
            "DescribeSubnets",
            "DescribeVpcs",
            "DescribeRouteTables",
            "DescribeNetworkInterfaces",
            "DescribeAddresses",
            "DescribeKeyPairs",
            "DescribeTags",
            "DescribeRegions",
            "DescribeAvailabilityZones",
            "DescribeLaunchTemplates",
            "DescribeInstanceTypes",
            "DescribeNatGateways",
            "DescribeVpcEndpoints",
            "CreateTags",
            "DeleteTags",
            "StartInstances",
            "StopInstances",
            "CreateSnapshot",
            "DeleteSnapshot",
            "AttachVolume",
            "CreateVolume",
            "ModifyInstanceAttribute",
            "RunInstances",
            "TerminateInstances",
            "CreateNetworkInterface",
            "DeleteNetworkInterface",
            "AuthorizeSecurityGroupEgress",
        ],
    ),
    (
        "s3.amazonaws.com",
        &[
            "ListBuckets",
            "GetBucketLocation",
            "GetBucketPolicy",
            "GetBucketAcl",
            "GetBucketVersioning",
            "GetBucketEncryption",
            "GetBucketTagging",
            "GetBucketLogging",
            "GetBucketPublicAccessBlock",
            "GetBucketOwnershipControls",
            "GetBucketLifecycle",
            "PutBucketTagging",
            "CreateBucket",
        ],
    ),
    (
        "iam.amazonaws.com",
        &[
            "GetUser",
            "GetRole",
            "GetPolicy",
            "GetPolicyVersion",
            "ListRoles",
            "ListUsers",
            "ListPolicies",
            "ListAttachedRolePolicies",
            "ListRolePolicies",
            "ListInstanceProfilesForRole",
            "ListAccessKeys",
            "GetAccountSummary",
            "ListGroups",
            "ListMFADevices",
            "GetAccessKeyLastUsed",
            "ListRoleTags",
            "GenerateCredentialReport",
            "GetCredentialReport",
            "TagRole",
            "UpdateRoleDescription",
        ],
    ),
    ("sts.amazonaws.com", &["GetCallerIdentity", "AssumeRole", "GetSessionToken", "DecodeAuthorizationMessage"]),
    (
        "lambda.amazonaws.com",
        &[
            "ListFunctions20150331",
            "GetFunction20150331v2",
            "GetFunctionConfiguration20150331v2",
            "ListAliases20150331",
            "ListVersionsByFunction20150331",
            "ListEventSourceMappings20150331",
            "GetPolicy20150331v2",
            "ListTags20170331",
            "UpdateFunctionConfiguration20150331v2",
            "PublishVersion20150331",
        ],
    ),
    (
        "kms.amazonaws.com",
        &[
            "Decrypt",
            "GenerateDataKey",
            "Encrypt",
            "DescribeKey",
            "ListAliases",
            "ListKeys",
            "GetKeyPolicy",
            "ListGrants",
            "GetKeyRotationStatus",
        ],
    ),
    (
        "logs.amazonaws.com",
        &[
            "DescribeLogGroups",
            "DescribeLogStreams",
            "FilterLogEvents",
            "GetLogEvents",
            "CreateLogStream",
            "PutRetentionPolicy",
            "DescribeMetricFilters",
            "StartQuery",
            "GetQueryResults",
            "DescribeSubscriptionFilters",
        ],
    ),
    (
        "monitoring.amazonaws.com",
        &[
            "DescribeAlarms",
            "GetMetricData",
            "ListMetrics",
            "PutMetricAlarm",
            "DescribeAlarmHistory",
            "GetDashboard",
            "ListDashboards",
        ],
    ),
    (
        "dynamodb.amazonaws.com",
        &[
            "DescribeTable",
            "ListTables",
            "DescribeContinuousBackups",
            "DescribeTimeToLive",
            "ListTagsOfResource",
            "UpdateTable",
            "DescribeKinesisStreamingDestination",
        ],
    ),
    (
        "rds.amazonaws.com",
        &[
            "DescribeDBInstances",
            "DescribeDBClusters",
            "DescribeDBSnapshots",
            "DescribeDBParameterGroups",
            "DescribeEvents",
            "DescribeDBSubnetGroups",
            "ListTagsForResource",
            "ModifyDBInstance",
        ],
    ),
    (
        "ecs.amazonaws.com",
        &[
            "DescribeClusters",
            "ListClusters",
            "ListServices",
            "DescribeServices",
            "DescribeTaskDefinition",
            "ListTasks",
            "DescribeTasks",
            "UpdateService",
            "RegisterTaskDefinition",
        ],
    ),
    (
        "ecr.amazonaws.com",
        &[
            "GetAuthorizationToken",
            "DescribeRepositories",
            "DescribeImages",
            "BatchCheckLayerAvailability",
            "ListImages",
            "GetRepositoryPolicy",
            "DescribeImageScanFindings",
        ],
    ),
    (
        "ssm.amazonaws.com",
        &[
            "GetParameter",
            "GetParameters",
            "GetParametersByPath",
            "DescribeParameters",
            "DescribeInstanceInformation",
            "ListCommands",
            "ListAssociations",
            "UpdateInstanceInformation",
            "DescribeAssociation",
            "GetDocument",
        ],
    ),
    (
        "secretsmanager.amazonaws.com",
        &["DescribeSecret", "ListSecrets", "GetResourcePolicy", "ListSecretVersionIds", "RotateSecret"],
    ),
    (
        "sns.amazonaws.com",
        &["ListTopics", "GetTopicAttributes", "ListSubscriptions", "Publish", "ListSubscriptionsByTopic"],
    ),
    ("sqs.amazonaws.com", &["ListQueues", "GetQueueAttributes", "ListQueueTags", "SetQueueAttributes"]),
    (
        "cloudformation.amazonaws.com",
        &[
            "DescribeStacks",
            "ListStacks",
            "DescribeStackEvents",
            "DescribeStackResources",
            "GetTemplate",
            "ListStackResources",
            "ValidateTemplate",
            "UpdateStack",
            "CreateChangeSet",
            "DescribeChangeSet",
        ],
    ),
    (
        "config.amazonaws.com",
        &[
            "DescribeConfigRules",
            "DescribeConfigurationRecorders",
            "DescribeConfigurationRecorderStatus",
            "GetComplianceDetailsByConfigRule",
            "DescribeDeliveryChannels",
            "PutEvaluations",
        ],
    ),
    (
        "guardduty.amazonaws.com",
        &["ListDetectors", "GetDetector", "ListFindings", "GetFindings", "GetFindingsStatistics"],
    ),
    (
        "elasticloadbalancing.amazonaws.com",
        &[
            "DescribeLoadBalancers",
            "DescribeTargetGroups",
            "DescribeTargetHealth",
            "DescribeListeners",
            "DescribeRules",
            "DescribeLoadBalancerAttributes",
            "RegisterTargets",
            "DeregisterTargets",
        ],
    ),
    (
        "autoscaling.amazonaws.com",
        &[
            "DescribeAutoScalingGroups",
            "DescribeLaunchConfigurations",
            "DescribeScalingActivities",
            "DescribePolicies",
            "UpdateAutoScalingGroup",
            "SetDesiredCapacity",
        ],
    ),
    (
        "route53.amazonaws.com",
        &[
            "ListHostedZones",
            "ListResourceRecordSets",
            "GetHostedZone",
            "ChangeResourceRecordSets",
            "GetChange",
            "ListHealthChecks",
        ],
    ),
    (
        "cloudtrail.amazonaws.com",
        &["DescribeTrails", "GetTrailStatus", "LookupEvents", "GetEventSelectors", "ListTrails", "GetInsightSelectors"],
    ),
    ("organizations.amazonaws.com", &["DescribeOrganization", "ListAccounts", "ListPolicies", "DescribeAccount"]),
    ("sso.amazonaws.com", &["ListInstances", "ListPermissionSets", "DescribePermissionSet"]),
    ("elasticfilesystem.amazonaws.com", &["DescribeFileSystems", "DescribeMountTargets", "DescribeBackupPolicy"]),
    ("apigateway.amazonaws.com", &["GetRestApis", "GetStages", "GetResources", "GetDeployments"]),
    ("events.amazonaws.com", &["ListRules", "DescribeRule", "ListTargetsByRule", "PutEvents"]),
    ("kinesis.amazonaws.com", &["DescribeStream", "ListStreams", "DescribeStreamSummary"]),
    ("elasticache.amazonaws.com", &["DescribeCacheClusters", "DescribeReplicationGroups", "DescribeCacheSubnetGroups"]),
    ("acm.amazonaws.com", &["ListCertificates", "DescribeCertificate"]),
    ("health.amazonaws.com", &["DescribeEvents", "DescribeEventAggregates"]),
    ("securityhub.amazonaws.com", &["GetFindings", "DescribeHub", "GetEnabledStandards", "BatchImportFindings"]),
    ("access-analyzer.amazonaws.com", &["ListAnalyzers", "ListFindings"]),
    ("backup.amazonaws.com", &["ListBackupPlans", "ListBackupJobs", "DescribeBackupVault", "StartBackupJob"]),
    ("athena.amazonaws.com", &["StartQueryExecution", "GetQueryExecution", "GetQueryResults", "ListWorkGroups"]),
    ("glue.amazonaws.com", &["GetDatabases", "GetTables", "GetTable", "GetPartitions"]),
];

/// True for calls that only read.
pub fn is_read_only(name: &str) -> bool {
    ["Describe", "List", "Get", "Head", "Lookup", "Search", "Validate", "Filter", "BatchCheck", "Decode"]
        .iter()
        .any(|p| name.starts_with(p))
        || matches!(name, "Decrypt" | "GenerateDataKey" | "Encrypt")
}

/// The background catalogue with cumulative weights for sampling.
pub struct Catalog {
    /// Every call, most popular first.
    pub calls: Vec<Call>,
    cumulative: Vec<f64>,
}

impl Catalog {
    /// Build the catalogue. Popularity is a deterministic shuffle of services and names
    /// interleaved, then weighted `1 / rank^1.15`.
    pub fn new() -> Self {
        let mut calls = Vec::new();
        let longest = SERVICES.iter().map(|(_, n)| n.len()).max().unwrap_or(0);
        // Round-robin by service so that popular calls come from many services.
        for i in 0..longest {
            for (source, names) in SERVICES {
                if let Some(name) = names.get(i) {
                    calls.push(Call { source, name, read_only: is_read_only(name) });
                }
            }
        }
        let mut total = 0.0;
        let cumulative = (0..calls.len())
            .map(|rank| {
                total += 1.0 / ((rank + 1) as f64).powf(1.15);
                total
            })
            .collect();
        Catalog { calls, cumulative }
    }

    /// Pick a call for a uniform `u` in `[0, 1)`.
    pub fn pick(&self, u: f64) -> Call {
        let target = u * self.cumulative.last().copied().unwrap_or(0.0);
        let i = self.cumulative.partition_point(|&c| c < target).min(self.calls.len() - 1);
        self.calls[i]
    }
}

impl Default for Catalog {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hundreds_of_names_and_a_skewed_mix() {
        let c = Catalog::new();
        assert!(c.calls.len() >= 200, "{}", c.calls.len());
        let first = c.pick(0.0).name;
        let hits = (0..10_000).filter(|i| c.pick(*i as f64 / 10_000.0).name == first).count();
        assert!(hits > 500, "most popular call drawn {hits} times");
        assert!(is_read_only("DescribeInstances") && !is_read_only("RunInstances"));
    }
}
