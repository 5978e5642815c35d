//! Detection must not rest on the attacker's tool announcing itself: every Stratus Red Team
//! detonation log (`../shared/corpora/stratus/`, one technique per file), with its
//! `stratus-red-team` user agent rewritten to a plain SDK agent, still raises a finding of
//! severity medium or above from a built-in rule other than `ts-offensive-user-agent`.

use std::path::Path;

use serde_json::{json, Value};
use trailscope_indicators::{Finding, RuleSet, Severity};

/// What an ordinary Go SDK client sends: nothing in it names an offensive tool.
const PLAIN_AGENT: &str = "aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64";

/// The user-agent rule that would otherwise detect every file by its name alone.
const TOOL_RULE: &str = "ts-offensive-user-agent";

fn technique(path: &Path) -> String {
    path.file_stem().unwrap().to_string_lossy().into_owned()
}

/// The file's records with any `stratus-red-team` user agent replaced by [`PLAIN_AGENT`].
fn detoolled(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut records: Vec<Value> = match serde_json::from_str(&text).unwrap() {
        Value::Array(a) => a,
        Value::Object(mut o) => match o.remove("Records") {
            Some(Value::Array(a)) => a,
            _ => panic!("{}: neither a record array nor {{\"Records\": [...]}}", path.display()),
        },
        _ => panic!("{}: not a record array", path.display()),
    };
    for r in &mut records {
        let tool = r.get("userAgent").and_then(Value::as_str).is_some_and(|ua| ua.contains("stratus-red-team"));
        if tool {
            r["userAgent"] = json!(PLAIN_AGENT);
        }
    }
    records
}

fn summary(findings: &[Finding]) -> String {
    let mut seen: Vec<String> =
        findings.iter().map(|f| format!("{} ({})", f.rule.id, f.rule.severity.name())).collect();
    seen.sort();
    seen.dedup();
    if seen.is_empty() {
        "no findings".into()
    } else {
        seen.join(", ")
    }
}

#[test]
fn every_stratus_technique_is_detected_without_its_user_agent() {
    let Some(dir) = trailscope_testkit::corpus("stratus") else { return };
    let rules = RuleSet::builtin();
    let files = trailscope_testkit::technique_files(&dir);
    assert!(!files.is_empty(), "no technique files in {}", dir.display());
    let mut failures = Vec::new();
    let mut passed = 0;
    for path in &files {
        let name = technique(path);
        let records = detoolled(path);
        assert!(
            records.iter().all(|r| !r["userAgent"].as_str().unwrap_or("").contains("stratus")),
            "{name}: user agent still names the tool"
        );
        let store = trailscope_testkit::store(&records);
        let findings = rules.run(&store);
        let detected = findings.iter().any(|f| f.rule.id != TOOL_RULE && f.rule.severity >= Severity::Medium);
        eprintln!("{name}: {}", summary(&findings));
        if detected {
            passed += 1;
        } else {
            failures.push(format!("{name}: {}", summary(&findings)));
        }
    }
    eprintln!("{passed} of {} techniques detected on behaviour", files.len());
    assert!(
        failures.is_empty(),
        "techniques without a medium-or-above finding besides {TOOL_RULE}:\n{}",
        failures.join("\n")
    );
}
