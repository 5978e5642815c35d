//! User-agent classification, in the examiner's words: console, AWS CLI, SDK, infrastructure as
//! code, AWS service, offensive tool, other.

use serde::Serialize;

use crate::builtin::{OFFENSIVE_AGENTS, SCANNER_AGENTS};
use crate::expr::contains_ignore_case;

/// What kind of client made a call.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", content = "detail", rename_all = "kebab-case")]
pub enum UserAgentClass {
    /// A known attack tool, or an offensive Linux distribution (the tool).
    OffensiveTool(String),
    /// A security posture scanner (Prowler, ScoutSuite, ...): owners' audits and intruders'
    /// enumeration alike.
    SecurityScanner(String),
    /// The AWS Management Console (a browser).
    Console,
    /// AWS CLI, with major version and version (`v2 2.15.30`).
    AwsCli(String),
    /// An AWS SDK, by language (`python`, `go`, `java`, `javascript`, `dotnet`, `ruby`, `php`, `rust`, `cpp`).
    Sdk(String),
    /// Terraform, CloudFormation, CDK, Pulumi.
    InfrastructureAsCode(String),
    /// An AWS service acting for a principal (`*.amazonaws.com`, `AWS Internal`).
    AwsService(String),
    /// Anything else.
    Other,
}

impl UserAgentClass {
    /// Short label for reports.
    pub fn label(&self) -> String {
        match self {
            UserAgentClass::OffensiveTool(t) => format!("offensive tool ({t})"),
            UserAgentClass::SecurityScanner(t) => format!("security scanner ({t})"),
            UserAgentClass::Console => "console".into(),
            UserAgentClass::AwsCli(v) => format!("AWS CLI {v}"),
            UserAgentClass::Sdk(l) => format!("SDK ({l})"),
            UserAgentClass::InfrastructureAsCode(t) => t.clone(),
            UserAgentClass::AwsService(s) => format!("AWS service ({s})"),
            UserAgentClass::Other => "other".into(),
        }
    }
}

fn version_after<'a>(ua: &'a str, prefix: &str) -> Option<&'a str> {
    let i = ua.to_ascii_lowercase().find(&prefix.to_ascii_lowercase())?;
    let rest = &ua[i + prefix.len()..];
    let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-')).unwrap_or(rest.len());
    Some(&rest[..end])
}

/// The agent as the examiner should compare it: trimmed, without the square brackets CloudTrail
/// sometimes writes around it (`[aws-cli/2.15 ...]` is the same agent as `aws-cli/2.15 ...`).
pub fn normalize(ua: &str) -> &str {
    let t = ua.trim();
    t.strip_prefix('[').and_then(|r| r.strip_suffix(']')).map(str::trim).unwrap_or(t)
}

/// Classify a `userAgent` value.
pub fn classify(ua: &str) -> UserAgentClass {
    let t = normalize(ua);
    if let Some(tool) = OFFENSIVE_AGENTS.iter().find(|a| contains_ignore_case(t, a)) {
        return UserAgentClass::OffensiveTool((*tool).to_owned());
    }
    if let Some(tool) = SCANNER_AGENTS.iter().find(|a| contains_ignore_case(t, a)) {
        return UserAgentClass::SecurityScanner((*tool).to_owned());
    }
    let lower = t.to_ascii_lowercase();
    // The console's own calls name it as their agent; they are a person at a browser.
    if lower == "console.amazonaws.com" || lower == "signin.amazonaws.com" {
        return UserAgentClass::Console;
    }
    if t == "AWS Internal" || (lower.ends_with(".amazonaws.com") && !lower.contains(' ')) {
        return UserAgentClass::AwsService(t.to_owned());
    }
    if lower.contains("terraform") || lower.contains("hashicorp") {
        return UserAgentClass::InfrastructureAsCode("Terraform".into());
    }
    if lower.contains("cloudformation") {
        return UserAgentClass::InfrastructureAsCode("CloudFormation".into());
    }
    if lower.contains("aws-cdk") || lower.contains("cdk/") {
        return UserAgentClass::InfrastructureAsCode("CDK".into());
    }
    if lower.contains("pulumi") {
        return UserAgentClass::InfrastructureAsCode("Pulumi".into());
    }
    if let Some(v) = version_after(t, "aws-cli/") {
        let major = if v.starts_with('1') { "v1" } else { "v2" };
        return UserAgentClass::AwsCli(format!("{major} {v}"));
    }
    if lower.contains("console.amazonaws.com")
        || lower.contains("signin.amazonaws.com")
        || lower.starts_with("mozilla/")
    {
        return UserAgentClass::Console;
    }
    let sdks = [
        ("boto3", "python"),
        ("botocore", "python"),
        ("aws-sdk-go", "go"),
        ("aws-sdk-java", "java"),
        ("aws-sdk-js", "javascript"),
        ("aws-sdk-nodejs", "javascript"),
        ("aws-sdk-dotnet", "dotnet"),
        ("aws-sdk-ruby", "ruby"),
        ("aws-sdk-php", "php"),
        ("aws-sdk-rust", "rust"),
        ("aws-sdk-cpp", "cpp"),
        ("aws-powershell", "powershell"),
        ("aws-tools-for-powershell", "powershell"),
    ];
    if let Some((_, lang)) = sdks.iter().find(|(k, _)| lower.contains(k)) {
        return UserAgentClass::Sdk((*lang).to_owned());
    }
    UserAgentClass::Other
}

/// The operating system a user agent names, if any (`linux`, `macos`, `windows`, ...), to spot
/// one access key used from two kinds of machine.
pub fn operating_system(ua: &str) -> Option<&'static str> {
    let l = ua.to_ascii_lowercase();
    [
        ("kali", "kali-linux"),
        ("windows", "windows"),
        ("darwin", "macos"),
        ("mac os x", "macos"),
        ("macos", "macos"),
        ("android", "android"),
        ("iphone", "ios"),
        ("linux", "linux"),
    ]
    .iter()
    .find(|(k, _)| l.contains(k))
    .map(|(_, os)| *os)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        assert_eq!(
            classify("aws-cli/2.13.5 Python/3.11.4 Linux/6.5.0-kali3-amd64 exe/x86_64.kali.2023"),
            UserAgentClass::OffensiveTool("kali".into())
        );
        assert_eq!(classify("aws-cli/1.18.69 Python/2.7.18 Linux/4.14"), UserAgentClass::AwsCli("v1 1.18.69".into()));
        assert_eq!(
            classify("aws-cli/2.15.30 Python/3.11.8 Darwin/23.3.0"),
            UserAgentClass::AwsCli("v2 2.15.30".into())
        );
        assert_eq!(classify("Boto3/1.34.54 md/Botocore#1.34.54 ua/2.0 os/linux"), UserAgentClass::Sdk("python".into()));
        assert_eq!(classify("aws-sdk-go-v2/1.25.2 os/linux lang/go#1.21.7"), UserAgentClass::Sdk("go".into()));
        assert_eq!(
            classify("APN/1.0 HashiCorp/1.0 Terraform/1.7.4"),
            UserAgentClass::InfrastructureAsCode("Terraform".into())
        );
        assert_eq!(
            classify("cloudformation.amazonaws.com"),
            UserAgentClass::AwsService("cloudformation.amazonaws.com".into())
        );
        assert_eq!(classify("AWS Internal"), UserAgentClass::AwsService("AWS Internal".into()));
        assert_eq!(classify("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)"), UserAgentClass::Console);
        assert_eq!(classify("curl/8.4.0"), UserAgentClass::Other);
        assert_eq!(classify("console.amazonaws.com"), UserAgentClass::Console);
        assert_eq!(
            classify("[aws-cli/2.15.30 Python/3.11.8 Darwin/23.3.0]"),
            UserAgentClass::AwsCli("v2 2.15.30".into())
        );
        assert_eq!(normalize(" [Boto3/1.34.54] "), "Boto3/1.34.54");
        assert_eq!(operating_system("aws-cli/2 Python/3 Linux/6.5.0-kali3-amd64"), Some("kali-linux"));
        assert_eq!(operating_system("aws-cli/2 Python/3 Darwin/23.3.0"), Some("macos"));
    }
}
