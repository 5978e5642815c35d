//! The built-in rule pack: first-line CloudTrail detections, in our own words.

use std::sync::Arc;

use trailscope_store::Field;

use crate::expr::{and, contains, ends_with, eq, not, null, or, Expr};
use crate::rule::{Rule, RuleKind, RuleMeta, Severity};

/// User-agent fragments of offensive and audit tooling (lower case, matched as substrings).
pub const OFFENSIVE_AGENTS: &[&str] = &[
    "kali",
    "parrot",
    "pentoo",
    "blackarch",
    "pacu",
    "scoutsuite",
    "scout suite",
    "prowler",
    "cloudsploit",
    "cloudfox",
    "stratus",
    "cloudmapper",
    "weirdaal",
    "endgame",
    "trufflehog",
    "cloudgoat",
    "aws_pwn",
];

/// Error codes that mean "not allowed".
pub const DENIED_CODES: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "Client.UnauthorizedOperation",
    "UnauthorizedOperation",
    "UnauthorizedAccess",
    "Forbidden",
];

/// Policies that grant (near) full control.
pub const ADMIN_POLICIES: &[&str] =
    &["/AdministratorAccess", "/IAMFullAccess", "/PowerUserAccess", "/AWSOrganizationsFullAccess"];

fn rule(id: &str, title: &str, severity: Severity, tactic: &str, technique: &str, kind: RuleKind) -> Rule {
    Rule {
        meta: Arc::new(RuleMeta {
            id: id.into(),
            title: title.into(),
            severity,
            tactic: tactic.into(),
            technique: technique.into(),
        }),
        kind,
    }
}

fn ev(source: &str, names: &[&str]) -> Expr {
    and(vec![eq("eventSource", &[source]), eq("eventName", names)])
}

fn succeeded() -> Expr {
    null("errorCode")
}

/// The built-in rules.
pub fn rules() -> Vec<Rule> {
    use RuleKind::{Event, Threshold};
    use Severity::*;
    vec![
        rule(
            "ts-root-activity",
            "Root account used",
            High,
            "privilege-escalation",
            "T1078.004",
            Event(and(vec![
                eq("userIdentity.type", &["Root"]),
                null("userIdentity.invokedBy"),
                not(eq("eventType", &["AwsServiceEvent"])),
                not(eq("eventName", &["ConsoleLogin"])),
            ])),
        ),
        rule(
            "ts-root-console-login",
            "Root console sign-in",
            Critical,
            "initial-access",
            "T1078.004",
            Event(and(vec![
                eq("userIdentity.type", &["Root"]),
                eq("eventName", &["ConsoleLogin"]),
                eq("responseElements.ConsoleLogin", &["Success"]),
            ])),
        ),
        rule(
            "ts-console-login-without-mfa",
            "Console sign-in without MFA",
            Medium,
            "initial-access",
            "T1078.004",
            Event(and(vec![
                eq("eventName", &["ConsoleLogin"]),
                eq("userIdentity.type", &["IAMUser", "Root"]),
                eq("responseElements.ConsoleLogin", &["Success"]),
                eq("additionalEventData.MFAUsed", &["No"]),
            ])),
        ),
        rule(
            "ts-cloudtrail-tamper",
            "CloudTrail logging stopped, deleted or weakened",
            High,
            "defense-evasion",
            "T1562.008",
            Event(and(vec![
                ev(
                    "cloudtrail.amazonaws.com",
                    &[
                        "StopLogging",
                        "DeleteTrail",
                        "UpdateTrail",
                        "PutEventSelectors",
                        "DeleteEventDataStore",
                        "StopEventDataStoreIngestion",
                    ],
                ),
                succeeded(),
            ])),
        ),
        rule(
            "ts-iam-user-created",
            "IAM user created",
            Medium,
            "persistence",
            "T1136.003",
            Event(and(vec![ev("iam.amazonaws.com", &["CreateUser"]), succeeded()])),
        ),
        rule(
            "ts-iam-access-key-created",
            "IAM access key created",
            Medium,
            "persistence",
            "T1098.001",
            Event(and(vec![ev("iam.amazonaws.com", &["CreateAccessKey"]), succeeded()])),
        ),
        rule(
            "ts-iam-login-profile",
            "Console password created or changed for an IAM user",
            Medium,
            "persistence",
            "T1098",
            Event(and(vec![ev("iam.amazonaws.com", &["CreateLoginProfile", "UpdateLoginProfile"]), succeeded()])),
        ),
        rule(
            "ts-iam-admin-policy-attached",
            "Administrator-level managed policy attached",
            High,
            "privilege-escalation",
            "T1098.003",
            Event(and(vec![
                ev("iam.amazonaws.com", &["AttachUserPolicy", "AttachRolePolicy", "AttachGroupPolicy"]),
                ends_with("requestParameters.policyArn", ADMIN_POLICIES),
                succeeded(),
            ])),
        ),
        rule(
            "ts-iam-inline-wildcard-policy",
            "Inline policy granting every action",
            High,
            "privilege-escalation",
            "T1098.003",
            Event(and(vec![
                ev(
                    "iam.amazonaws.com",
                    &["PutUserPolicy", "PutRolePolicy", "PutGroupPolicy", "CreatePolicyVersion", "CreatePolicy"],
                ),
                contains(
                    "requestParameters.policyDocument",
                    &["\"Action\":\"*\"", "\"Action\": \"*\"", "\"Action\":[\"*\"]", "\"Action\": [\"*\"]"],
                ),
                succeeded(),
            ])),
        ),
        rule(
            "ts-iam-policy-version-default",
            "New policy version set as default",
            Medium,
            "privilege-escalation",
            "T1098.003",
            Event(and(vec![
                ev("iam.amazonaws.com", &["CreatePolicyVersion"]),
                eq("requestParameters.setAsDefault", &["true"]),
                succeeded(),
            ])),
        ),
        rule(
            "ts-iam-role-trust-changed",
            "Role created or trust policy changed to trust an account principal",
            Medium,
            "persistence",
            "T1098.003",
            Event(and(vec![
                or(vec![
                    and(vec![
                        ev("iam.amazonaws.com", &["CreateRole"]),
                        contains(
                            "requestParameters.assumeRolePolicyDocument",
                            &["arn:aws:iam::", "\"AWS\":\"*\"", "\"AWS\": \"*\""],
                        ),
                    ]),
                    ev("iam.amazonaws.com", &["UpdateAssumeRolePolicy"]),
                ]),
                succeeded(),
            ])),
        ),
        rule(
            "ts-offensive-user-agent",
            "API call from an offensive security tool or distribution",
            High,
            "execution",
            "T1059.009",
            Event(contains("userAgent", OFFENSIVE_AGENTS)),
        ),
        rule(
            "ts-access-denied-burst",
            "Burst of access-denied errors from one principal",
            Medium,
            "discovery",
            "T1580",
            Threshold {
                expr: eq("errorCode", DENIED_CODES),
                group_by: vec![Field::PrincipalArn],
                window_ms: 10 * 60_000,
                min_count: 10,
            },
        ),
        rule(
            "ts-secret-read",
            "Secret value or decrypted parameter read",
            Low,
            "credential-access",
            "T1555.006",
            Event(and(vec![
                or(vec![
                    ev("secretsmanager.amazonaws.com", &["GetSecretValue", "BatchGetSecretValue"]),
                    and(vec![
                        ev("ssm.amazonaws.com", &["GetParameter", "GetParameters", "GetParametersByPath"]),
                        eq("requestParameters.withDecryption", &["true"]),
                    ]),
                ]),
                succeeded(),
            ])),
        ),
    ]
}
