//! `trailscope hunt` and `trailscope rules`: Sigma rules from a directory, IOC lists,
//! placeholders, refusals, and what the built-in pack says about the sample and benign data.

mod common;

use std::collections::BTreeSet;

use common::*;

fn truth() -> trailscope_gen::GroundTruth {
    serde_json::from_slice(&std::fs::read(testdata().join("sample-truth.json")).unwrap()).unwrap()
}

fn hunt_jsonl(args: &[&str], paths: &[&std::path::Path]) -> (Vec<serde_json::Value>, std::process::Output) {
    let mut all = vec!["hunt", "--quiet", "--format", "jsonl"];
    all.extend_from_slice(args);
    let o = run_on(&all, paths);
    let lines = stdout(&o).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    (lines, o)
}

#[test]
fn every_attack_event_is_flagged_and_high_findings_are_attack_or_confounders() {
    let t = truth();
    let malicious: BTreeSet<String> = t.malicious_event_ids.iter().cloned().collect();
    // Confounders are benign activity built to look alarming (root without MFA, Terraform,
    // failed deletions): rules may fire on them; attribution must not blame them (analyze
    // tests). Plain background activity must stay below high.
    let confounders: BTreeSet<String> = t.confounders.iter().flat_map(|c| c.event_ids.iter().cloned()).collect();
    let (findings, o) = hunt_jsonl(&[], &[&sample()]);
    assert_eq!(o.status.code(), Some(1));
    let mut flagged = BTreeSet::new();
    let mut high_benign = Vec::new();
    for f in &findings {
        let sev = f["severity"].as_str().unwrap();
        for id in f["event_ids"].as_array().unwrap() {
            let id = id.as_str().unwrap().to_owned();
            if (sev == "high" || sev == "critical") && !malicious.contains(&id) && !confounders.contains(&id) {
                high_benign.push(format!("{} {}", f["rule"], id));
            }
            flagged.insert(id);
        }
    }
    let missed: Vec<_> = malicious.difference(&flagged).collect();
    assert!(missed.is_empty(), "attack events without any finding: {missed:?}");
    assert!(high_benign.is_empty(), "benign events with high/critical findings: {high_benign:?}");
    let rules: BTreeSet<&str> = findings.iter().map(|f| f["rule"].as_str().unwrap()).collect();
    for step in [
        "ts-offensive-user-agent",
        "ts-access-denied-burst",
        "ts-iam-admin-policy-attached",
        "ts-iam-user-created",
        "ts-iam-login-profile",
        "ts-iam-access-key-for-other-user",
        "ts-iam-role-trusts-account",
        "ts-cloudtrail-stopped",
        "ts-cloudtrail-weakened",
        "ts-secrets-volume",
        "ts-s3-getobject-volume",
        "ts-ec2-large-instances",
        "ts-recon-then-escalation",
        "ts-key-os-change",
        "ts-new-source-ip",
    ] {
        assert!(rules.contains(step), "{step} did not fire on the attack");
    }
}

#[test]
fn benign_background_raises_no_high_or_critical_finding() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = trailscope_gen::GenConfig { attack: false, seed: 11, events: 4000, ..Default::default() };
    trailscope_gen::generate(&cfg, dir.path()).unwrap();
    let (findings, _) = hunt_jsonl(&["--min-level", "high"], &[dir.path()]);
    assert!(findings.is_empty(), "{findings:#?}");
}

#[test]
fn sigma_rules_iocs_and_placeholders_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let t = truth();
    write(
        dir.path(),
        "rules/secrets.yml",
        br#"title: Secret names from a placeholder
id: 11111111-2222-3333-4444-555555555555
tags: [attack.credential-access, attack.t1555.006]
logsource: {product: aws, service: cloudtrail}
detection:
  selection:
    eventName: GetSecretValue
    requestParameters.secretId|expand: '%crown_jewels%'
  condition: selection
level: critical
---
title: Lambda listing, written without the API version
id: 22222222-3333-4444-5555-666666666666
logsource: {product: aws, service: cloudtrail}
detection:
  selection: {eventSource: lambda.amazonaws.com, eventName: ListFunctions}
  condition: selection
level: low
---
title: Windows rule in the same tree
logsource: {product: windows, category: process_creation}
detection: {selection: {Image|endswith: '\cmd.exe'}, condition: selection}
"#,
    );
    write(dir.path(), "vars.yml", b"crown_jewels: [prod/stripe-api, prod/admin-sso]\n");
    let ioc = format!("# case 42\n{}\n{}  # backdoor key\nua: kali\n", t.attacker_ips[1], t.created_access_key);
    write(dir.path(), "iocs.txt", ioc.as_bytes());
    let rules = dir.path().join("rules");
    let vars = dir.path().join("vars.yml");
    let iocs = dir.path().join("iocs.txt");
    let (findings, o) = hunt_jsonl(
        &[
            "--no-builtin",
            "--no-baseline",
            "--rules",
            rules.to_str().unwrap(),
            "--vars",
            vars.to_str().unwrap(),
            "--ioc",
            iocs.to_str().unwrap(),
        ],
        &[&sample()],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let by_rule = |id: &str| findings.iter().filter(|f| f["rule"].as_str().unwrap().contains(id)).count();
    assert_eq!(by_rule("11111111-2222"), 2, "two of the three secrets are crown jewels");
    assert!(by_rule("22222222-3333") >= 1, "ListFunctions matches ListFunctions20150331");
    assert_eq!(by_rule("iocs.txt:2"), 1, "one finding for the IP indicator");
    let ip_hit = findings.iter().find(|f| f["rule"].as_str().unwrap().ends_with("iocs.txt:2")).unwrap();
    assert_eq!(ip_hit["event_ids"].as_array().unwrap().len(), 8, "every event from that IP");
    assert_eq!(by_rule("iocs.txt:3"), 1);
    assert_eq!(by_rule("iocs.txt:4"), 1);
    assert!(findings.iter().all(|f| f["rule"] != "ts-offensive-user-agent"), "--no-builtin");

    // A missing placeholder value refuses the rule, loudly.
    let o = run_on(&["hunt", "--quiet", "--no-baseline", "--rules", rules.to_str().unwrap()], &[&sample()]);
    assert_eq!(o.status.code(), Some(1));
    let list = run(&["rules", "list", "--rules", rules.to_str().unwrap()]);
    assert!(stderr(&list).contains("placeholder %crown_jewels% has no value"), "{}", stderr(&list));
}

#[test]
fn rules_check_names_file_line_rule_and_field_of_every_refusal() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "ok.yml",
        b"title: Fine\nlogsource: {product: aws, service: cloudtrail}\ndetection: {sel: {eventName|contains|all: [Create, User]}, condition: sel}\nlevel: low\n",
    );
    write(
        dir.path(),
        "bad.yml",
        b"title: Good one\nlogsource: {product: aws, service: cloudtrail}\ndetection: {sel: {eventName: x}, condition: sel}\n---\ntitle: Encoded\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n  sel:\n    requestParameters.userData|base64offset|contains: curl\n  condition: sel\n---\ntitle: Broken condition\nlogsource: {product: aws, service: cloudtrail}\ndetection: {sel: {eventName: x}, condition: sel and (}\n",
    );
    write(dir.path(), "not-yaml.yml", b"title: [unclosed\n");
    let o = run_on(&["rules", "check"], &[dir.path()]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains(
            "bad.yml:9: rule `Encoded`: unsupported in field `requestParameters.userData|base64offset|contains`"
        ),
        "{out}"
    );
    assert!(out.contains("bad.yml:14: rule `Broken condition`: condition:"), "{out}");
    assert!(out.contains("not-yaml.yml:"), "{out}");
    assert!(out.contains("3 files, 2 rules loaded, 3 refused"), "{out}");
    let ok = run_on(&["rules", "check"], &[&dir.path().join("ok.yml")]);
    assert_eq!(ok.status.code(), Some(0));
}

#[test]
fn docs_rules_table_matches_the_loaded_pack() {
    let o = run(&["rules", "list", "--format", "markdown"]);
    assert!(o.status.success());
    let table = stdout(&o);
    let doc = std::fs::read_to_string(testdata().join("../docs/rules.md")).unwrap();
    assert!(
        doc.contains(&table),
        "docs/rules.md is out of date: paste the output of `trailscope rules list --format markdown`\n{table}"
    );
}

/// One rule of the pack, alone; a time window keeps findings with an event inside it.
#[test]
fn a_single_rule_and_a_time_window() {
    let (all, _) = hunt_jsonl(&[], &[&sample()]);
    let (one, o) = hunt_jsonl(&["--rule", "TS-RECON-THEN-ESCALATION"], &[&sample()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let expected: Vec<&serde_json::Value> = all.iter().filter(|f| f["rule"] == "ts-recon-then-escalation").collect();
    assert!(!expected.is_empty());
    assert_eq!(one.iter().collect::<Vec<_>>(), expected, "the same findings as in the whole pack's run");

    // A baseline by id, the IOC lists by `ioc`.
    let (base, _) = hunt_jsonl(&["--rule", "ts-new-source-ip"], &[&sample()]);
    assert!(!base.is_empty() && base.iter().all(|f| f["rule"] == "ts-new-source-ip"));

    let o = run_on(&["hunt", "-q", "--rule", "no-such-rule"], &[&sample()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--rule no-such-rule: no such rule"), "{}", stderr(&o));

    // Findings whose first event is in the window are kept; all kept ones touch it.
    let from = "2024-03-05T02:00:00Z";
    let (windowed, _) = hunt_jsonl(&["--from", from, "--to", "2024-03-05"], &[&sample()]);
    let in_window = |t: &str| (from..="2024-03-05T23:59:59Z").contains(&t);
    let first_in: Vec<&serde_json::Value> = all.iter().filter(|f| in_window(f["time"].as_str().unwrap())).collect();
    assert!(!first_in.is_empty());
    for f in &first_in {
        assert!(windowed.contains(f), "{f}");
    }
    for f in &windowed {
        assert!(all.contains(f), "a finding the full run does not have: {f}");
    }
    let o = run_on(&["hunt", "-q", "--from", "2024-03-06", "--to", "2024-03-05"], &[&sample()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--from is after --to"));
}

/// The table names Sigma rules by title and IOCs by file name, with account and region.
#[test]
fn the_table_reads_as_an_examiner_would_write_it() {
    let dir = tempfile::tempdir().unwrap();
    let rule = write(
        dir.path(),
        "r/uuid.yml",
        br#"title: Instance user data read (test)
id: 7b0c3f55-5d0e-4a57-9f0c-3c2a1d8e9b10
logsource: {product: aws, service: cloudtrail}
detection: {selection: {eventName: GetCallerIdentity}, condition: selection}
level: high
"#,
    );
    let truth: trailscope_gen::GroundTruth =
        serde_json::from_slice(&std::fs::read(testdata().join("sample-truth.json")).unwrap()).unwrap();
    let ioc = write(dir.path(), "deep/inside/iocs.txt", format!("{}\n", truth.attacker_ips[0]).as_bytes());
    let o = run_on(
        &[
            "hunt",
            "-q",
            "--no-builtin",
            "--no-baseline",
            "--rules",
            rule.to_str().unwrap(),
            "--ioc",
            ioc.to_str().unwrap(),
        ],
        &[&sample()],
    );
    let out = stdout(&o);
    let header = out.lines().next().unwrap();
    for col in ["RULE", "ACCOUNT", "REGION", "SOURCE_IP"] {
        assert!(header.contains(col), "{header}");
    }
    assert!(out.contains("Instance user data read (test)") && !out.contains("7b0c3f55"), "{out}");
    assert!(out.contains("ioc:iocs.txt:1") && !out.contains("deep/inside"), "{out}");
    let has_account = |l: &str| l.split_whitespace().any(|t| t.len() == 12 && t.bytes().all(|b| b.is_ascii_digit()));
    assert!(out.lines().skip(1).all(has_account), "{out}");
}

/// Repeats of a rule for one principal and source IP fold into one table line with counts;
/// every finding is still accounted for, and the intruder's are never folded into the owner's.
#[test]
fn the_table_folds_repeats_without_hiding_a_source() {
    let t = truth();
    let (findings, _) = hunt_jsonl(&["--min-level", "medium"], &[&sample()]);
    let table = |extra: &[&str]| {
        let mut args = vec!["hunt", "-q", "--min-level", "medium"];
        args.extend_from_slice(extra);
        stdout(&run_on(&args, &[&sample()]))
    };
    let folded = table(&[]);
    let unfolded = table(&["--no-fold"]);
    assert_eq!(unfolded.lines().count(), findings.len() + 1, "one line per finding with --no-fold");
    assert!(folded.lines().count() * 5 < unfolded.lines().count(), "{folded}");
    let count = |l: &str| {
        l.split_whitespace().find_map(|w| w.strip_prefix('x').and_then(|n| n.parse::<usize>().ok())).unwrap_or(1)
    };
    assert_eq!(folded.lines().skip(1).map(count).sum::<usize>(), findings.len(), "{folded}");
    // Lines that name an attacker IP name only that IP.
    for l in folded.lines().filter(|l| t.attacker_ips.iter().any(|ip| l.contains(ip.as_str()))) {
        assert!(!l.contains(" IPs "), "{l}");
    }
    assert!(folded.lines().any(|l| l.contains(&t.attacker_ips[0]) && l.contains("ts-recon-then-escalation")));
}
