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

/// User-agent fragments of attack tooling and offensive Linux distributions (matched as
/// substrings, any case): exploitation frameworks, attack simulators, secret and bucket hunters.
pub const OFFENSIVE_AGENTS: &[&str] = &[
    "kali",
    "parrot",
    "pentoo",
    "blackarch",
    "pacu",
    "cloudfox",
    "stratus",
    "grimoire",
    "weirdaal",
    "endgame",
    "trufflehog",
    "cloudgoat",
    "aws_pwn",
    "s3scanner",
];

/// User-agent fragments of security posture scanners. Owners run these on a schedule as much
/// as intruders run them to enumerate, so they are a weaker signal than [`OFFENSIVE_AGENTS`].
pub const SCANNER_AGENTS: &[&str] =
    &["prowler", "scoutsuite", "scout suite", "cloudsploit", "cloudmapper", "pmapper", "principalmapper"];
