//! `trailscope rules check` warnings: fields CloudTrail never has, ANDs that never match, every
//! missing placeholder at once, each at its file and line; and the built-in pack is clean.

mod common;

use common::*;

const WARNED: &str = "title: Login from a country
id: w-country
logsource: {product: aws, service: cloudtrail}
detection:
  selection:
    eventName: ConsoleLogin
    src_country: RU
  condition: selection
---
title: Two calls at once
id: w-never
logsource: {product: aws, service: cloudtrail}
detection:
  create:
    eventName: CreateUser
  delete:
    eventName: DeleteUser
  condition: create and delete
---
title: Failed but no error
id: w-null
logsource: {product: aws, service: cloudtrail}
detection:
  selection:
    errorCode: null
    userIdentity.name: admin
  failed:
    errorCode: AccessDenied
  condition: selection and failed
";

#[test]
fn rules_check_prints_each_warning_at_its_line_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let warned = write(dir.path(), "warned.yml", WARNED.as_bytes());
    let f = warned.display();
    let o = run_on(&["rules", "check"], &[&warned]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    for expected in [
        format!("warning: {f}:7: rule w-country: field \"src_country\" never occurs in CloudTrail"),
        format!(
            "warning: {f}:17: rule w-never: field \"eventName\" must be both \"CreateUser\" and \"DeleteUser\": this AND never matches"
        ),
        format!("warning: {f}:26: rule w-null: field \"userIdentity.name\" never occurs in CloudTrail"),
        format!(
            "warning: {f}:28: rule w-null: field \"errorCode\" must be both null and \"AccessDenied\": this AND never matches"
        ),
    ] {
        assert!(out.contains(&expected), "missing {expected:?} in\n{out}");
    }
    assert!(out.contains("1 files, 3 rules loaded, 0 refused, 0 for other log sources, 4 warnings"), "{out}");

    let ok = write(
        dir.path(),
        "ok.yml",
        b"title: Fine\nlogsource: {product: aws, service: cloudtrail}\ndetection: {sel: {eventName: CreateUser, userIdentity.type: IAMUser}, condition: sel}\n",
    );
    let o = run_on(&["rules", "check"], &[&ok]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(!stdout(&o).contains("warning:"));
}

#[test]
fn rules_check_names_every_missing_placeholder_in_one_refusal() {
    let dir = tempfile::tempdir().unwrap();
    let rule = write(
        dir.path(),
        "vars.yml",
        b"title: Crown jewels\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n  sel:\n    eventName: GetSecretValue\n    requestParameters.secretId|expand: '%secrets%'\n    userIdentity.arn|expand: ['%admins%', '%breakglass%']\n  condition: sel\n",
    );
    let o = run_on(&["rules", "check"], &[&rule]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains(&format!(
            "{}:6: rule `Crown jewels`: placeholders %secrets%, %admins%, %breakglass% have no value",
            rule.display()
        )),
        "{out}"
    );
}

#[test]
fn hunt_prints_rule_warnings_only_when_verbose() {
    let dir = tempfile::tempdir().unwrap();
    let rules = write(dir.path(), "rules/warned.yml", WARNED.as_bytes());
    let args = ["hunt", "--quiet", "--no-builtin", "--no-baseline", "--format", "jsonl", "--rules"];
    let mut quiet: Vec<&str> = args.to_vec();
    quiet.push(rules.to_str().unwrap());
    let o = run_on(&quiet, &[&sample()]);
    assert!(!stderr(&o).contains("rule warning"), "{}", stderr(&o));
    let mut verbose = quiet.clone();
    verbose.push("--verbose");
    let o = run_on(&verbose, &[&sample()]);
    assert!(stderr(&o).contains("rule warning: ") && stderr(&o).contains("\"src_country\""), "{}", stderr(&o));
}

/// Built-in rules that `rules check` warns about today, as `file:rule`. Empty: keep it so; a
/// rule added here needs a reason, and the list only shrinks.
const BUILTIN_WARNING_EXCEPTIONS: &[&str] = &[];

#[test]
fn builtin_rules_raise_no_warning() {
    let dir = testdata().join("../crates/indicators/rules/builtin");
    let o = run_on(&["rules", "check"], &[&dir]);
    let out = stdout(&o);
    let unexpected: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("warning:"))
        .filter(|l| {
            !BUILTIN_WARNING_EXCEPTIONS.iter().any(|e| {
                let (file, rule) = e.split_once(':').unwrap_or((e, ""));
                l.contains(file) && l.contains(&format!("rule {rule}:"))
            })
        })
        .collect();
    assert!(unexpected.is_empty(), "built-in rules with warnings:\n{}", unexpected.join("\n"));
    // The test-case files beside the rules (tests.yml, tests/*.yml) are not rules: they are
    // refused as before, and nothing else is.
    let refused: Vec<&str> = out.lines().filter(|l| l.starts_with("refused:")).collect();
    assert!(refused.iter().all(|l| l.contains("tests.yml:") || l.contains("/tests/")), "{out}");
    assert!(!refused.is_empty(), "{out}");
    // The rule files alone check clean.
    let files: Vec<std::path::PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n != "tests.yml"))
        .collect();
    let paths: Vec<&std::path::Path> = files.iter().map(|p| p.as_path()).collect();
    let o = run_on(&["rules", "check"], &paths);
    let expected = if BUILTIN_WARNING_EXCEPTIONS.is_empty() { 0 } else { 1 };
    assert_eq!(o.status.code(), Some(expected), "{}", stdout(&o));
}
