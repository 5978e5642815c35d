//! The built-in rule pack: Sigma YAML files compiled into the binary (`rules/builtin/`).

/// `(file name, text)` of every built-in rule file.
pub const FILES: &[(&str, &str)] = &[
    ("initial-access.yml", include_str!("../rules/builtin/initial-access.yml")),
    ("execution.yml", include_str!("../rules/builtin/execution.yml")),
    ("persistence.yml", include_str!("../rules/builtin/persistence.yml")),
    ("privilege-escalation.yml", include_str!("../rules/builtin/privilege-escalation.yml")),
    ("defense-evasion.yml", include_str!("../rules/builtin/defense-evasion.yml")),
    ("credential-access.yml", include_str!("../rules/builtin/credential-access.yml")),
    ("discovery.yml", include_str!("../rules/builtin/discovery.yml")),
    ("exfiltration.yml", include_str!("../rules/builtin/exfiltration.yml")),
    ("impact.yml", include_str!("../rules/builtin/impact.yml")),
    // By service theme (rules whose tactic varies with the call; test cases in rules/builtin/tests/).
    ("rds.yml", include_str!("../rules/builtin/rds.yml")),
    ("s3-protection.yml", include_str!("../rules/builtin/s3-protection.yml")),
    ("network.yml", include_str!("../rules/builtin/network.yml")),
    ("monitoring.yml", include_str!("../rules/builtin/monitoring.yml")),
    ("identity.yml", include_str!("../rules/builtin/identity.yml")),
    ("services.yml", include_str!("../rules/builtin/services.yml")),
];

/// User-agent fragments of offensive and audit tooling (matched as substrings, any case).
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
    "s3scanner",
];
