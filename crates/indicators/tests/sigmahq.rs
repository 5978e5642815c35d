//! SigmaHQ's published AWS CloudTrail rules (`../shared/corpora/sigma/`) load without a refusal
//! and fire where they should: on the Stratus Red Team detonation logs
//! (`../shared/corpora/stratus/`, original user agents) of the techniques they target.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;
use trailscope_indicators::{RuleLoadReport, RuleSet, Vars};

const SIGMA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/corpora/sigma");
const STRATUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/corpora/stratus");

/// Rules ready to run as published.
const RULES: &str = "rules/cloud/aws/cloudtrail";
/// Rules that need `--vars` placeholders.
const PLACEHOLDER_RULES: &str = "rules-placeholder/cloud/aws/cloudtrail";
/// Rules SigmaHQ keeps apart as legacy syntax (`count()` aggregations, `near`).
const LEGACY_RULES: &str = "unsupported/cloud";
/// The one legacy rule the engine refuses, and the construct it refuses it for.
const REFUSED_LEGACY: &[(&str, &str)] = &[("aws_lambda_function_created_or_invoked.yml", "near")];

/// (Stratus technique file, SigmaHQ rule id, SigmaHQ rule file): the rule clearly targets the
/// technique, so it must fire on that file's events.
const EXPECTED: &[(&str, &str, &str)] = &[
    (
        "aws.defense-evasion.cloudtrail-stop",
        "4db60cc0-36fb-42b7-9b58-a5b53019fb74",
        "aws_cloudtrail_disable_logging.yml",
    ),
    (
        "aws.defense-evasion.cloudtrail-delete",
        "4db60cc0-36fb-42b7-9b58-a5b53019fb74",
        "aws_cloudtrail_disable_logging.yml",
    ),
    (
        "aws.defense-evasion.vpc-remove-flow-logs",
        "e386b9b5-af12-450e-afff-761730fb8a98",
        "aws_cloudtrail_vpc_flow_logs_deleted.yml",
    ),
    (
        "aws.exfiltration.ec2-share-ebs-snapshot",
        "abae8fec-57bd-4f87-aff6-6e3db989843d",
        "aws_snapshot_backup_exfiltration.yml",
    ),
    (
        "aws.exfiltration.ec2-security-group-open-port-22-ingress",
        "6fb77778-040f-4015-9440-572aa9b6b580",
        "aws_cloudtrail_security_group_change_ingress_egress.yml",
    ),
    (
        "aws.persistence.lambda-layer-extension",
        "97fbabf8-8e1b-47a2-b7d5-a418d2b95e3d",
        "aws_new_lambda_layer_attached.yml",
    ),
    ("aws.persistence.iam-backdoor-user", "0a5177f4-6ca9-44c2-aacf-d3f3d8b6e4d2", "aws_iam_backdoor_users_keys.yml"),
    (
        "aws.persistence.iam-create-admin-user",
        "0a5177f4-6ca9-44c2-aacf-d3f3d8b6e4d2",
        "aws_iam_backdoor_users_keys.yml",
    ),
    (
        "aws.privilege-escalation.iam-update-user-login-profile",
        "055fb148-60f8-462d-ad16-26926ce050f1",
        "aws_update_login_profile.yml",
    ),
    (
        "aws.execution.ssm-send-command",
        "38e7f511-3f74-41d4-836e-f57dfa18eead",
        "aws_cloudtrail_ssm_malicious_usage.yml",
    ),
    (
        "aws.credential-access.ec2-steal-instance-credentials",
        "38e7f511-3f74-41d4-836e-f57dfa18eead",
        "aws_cloudtrail_ssm_malicious_usage.yml",
    ),
    (
        "aws.initial-access.console-login-without-mfa",
        "77caf516-34e5-4df9-b4db-20744fea0a60",
        "aws_cloudtrail_console_login_success_without_mfa.yml",
    ),
    // Legacy `count()` rules (unsupported/ in SigmaHQ's tree), which the engine runs.
    ("aws.discovery.ec2-download-user-data", "26ff4080-194e-47e7-9889-ef7602efed0c", "aws_ec2_download_userdata.yml"),
    ("aws.credential-access.ec2-get-password-data", "76255e09-755e-4675-8b6b-dbce9842cd2a", "aws_enum_backup.yml"),
];

/// Rules that target a technique but do not fire on its detonation log, with the reason.
/// Each is checked to stay silent, so a change that makes one fire moves it to [`EXPECTED`].
const EXPECTED_BUT_SILENT: &[(&str, &str, &str, &str)] = &[(
    "aws.execution.ec2-user-data",
    "1ab3c5ed-5baf-417b-bb6b-78ca33f6c3df",
    "aws_ec2_startup_script_change.yml",
    "field shape: the rule wants requestParameters.attribute = userData (a request that names the \
     attribute); the detonation's ModifyInstanceAttribute logs the new data as \
     requestParameters.userData and has no `attribute` key",
)];

fn placeholder_vars() -> Vars {
    let mut vars = Vars::new();
    vars.insert("Legitimate_Countries".into(), vec!["NL".into(), "DE".into()]);
    vars.insert("Legitimate_IP_Ranges".into(), vec!["198.51.100.0/24".into()]);
    vars
}

fn print_report(what: &str, report: &RuleLoadReport) {
    eprintln!("{what}: {} files, {} rules loaded, {} refused", report.files, report.loaded, report.errors.len());
    for (rule, source) in &report.not_applicable {
        eprintln!("  not applicable: {rule} ({source})");
    }
    for e in &report.errors {
        eprintln!("  refused: {} line {} {:?}: {:?}", e.path, e.line, e.rule, e.kind);
    }
}

/// The ids of the rules that raise a finding on one technique file's records, as published.
fn fired(rules: &RuleSet, path: &Path) -> BTreeSet<String> {
    let records: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let store = trailscope_testkit::store(&records);
    rules.run(&store).iter().map(|f| f.rule.id.clone()).collect()
}

#[test]
fn sigmahq_cloudtrail_rules_load_without_refusal() {
    let root = Path::new(SIGMA);
    if !root.join(RULES).is_dir() {
        eprintln!("notice: {} is absent; SigmaHQ load test skipped", root.join(RULES).display());
        return;
    }
    let (set, report) = RuleSet::load(false, &[root.join(RULES)], &Vars::new());
    print_report(RULES, &report);
    assert!(report.errors.is_empty(), "SigmaHQ rules refused: {:#?}", report.errors);
    assert!(report.loaded >= 50 && set.rules.len() == report.loaded, "only {} rules loaded", report.loaded);

    if root.join(PLACEHOLDER_RULES).is_dir() {
        // Without values every placeholder rule is refused by name...
        let (_, bare) = RuleSet::load(false, &[root.join(PLACEHOLDER_RULES)], &Vars::new());
        assert!(bare.loaded == 0 && !bare.errors.is_empty(), "placeholder rules need their --vars values");
        // ... with them, all load.
        let (_, report) = RuleSet::load(false, &[root.join(PLACEHOLDER_RULES)], &placeholder_vars());
        print_report(PLACEHOLDER_RULES, &report);
        assert!(report.errors.is_empty(), "SigmaHQ placeholder rules refused: {:#?}", report.errors);
        assert!(report.loaded >= 1, "no placeholder rule loaded");
    } else {
        eprintln!("notice: {PLACEHOLDER_RULES} is absent; placeholder rules not loaded");
    }
}

#[test]
fn sigmahq_legacy_count_rules_load_and_near_is_refused_with_its_reason() {
    let dir = Path::new(SIGMA).join(LEGACY_RULES);
    if !dir.is_dir() {
        eprintln!("notice: {} is absent; legacy-syntax test skipped", dir.display());
        return;
    }
    let (_, report) = RuleSet::load(false, std::slice::from_ref(&dir), &Vars::new());
    print_report(LEGACY_RULES, &report);
    for e in &report.errors {
        let known = REFUSED_LEGACY.iter().find(|(file, _)| e.path.ends_with(file));
        let Some((_, construct)) = known else { panic!("legacy rule refused: {e:?}") };
        assert!(format!("{:?}", e.kind).contains(construct), "{}: refused for another reason: {:?}", e.path, e.kind);
    }
    assert_eq!(report.errors.len(), REFUSED_LEGACY.len(), "every `near` rule is refused, by name");
    assert!(report.loaded + report.errors.len() >= report.files, "a legacy rule went missing");
}

#[test]
fn sigmahq_rules_fire_on_the_stratus_techniques_they_target() {
    let (sigma, stratus) = (Path::new(SIGMA), Path::new(STRATUS));
    if !sigma.join(RULES).is_dir() || !stratus.is_dir() {
        eprintln!("notice: SigmaHQ or Stratus corpus absent; firing test skipped");
        return;
    }
    let mut paths = vec![sigma.join(RULES)];
    for extra in [PLACEHOLDER_RULES, LEGACY_RULES] {
        if sigma.join(extra).is_dir() {
            paths.push(sigma.join(extra));
        }
    }
    let (rules, report) = RuleSet::load(false, &paths, &placeholder_vars());
    let refused: Vec<_> =
        report.errors.iter().filter(|e| !REFUSED_LEGACY.iter().any(|(file, _)| e.path.ends_with(file))).collect();
    assert!(refused.is_empty(), "{refused:#?}");
    let files: BTreeMap<String, PathBuf> = trailscope_testkit::technique_files(stratus)
        .into_iter()
        .map(|p| (p.file_stem().unwrap().to_string_lossy().into_owned(), p))
        .collect();

    let mut by_technique = BTreeMap::new();
    for (name, path) in &files {
        let ids = fired(&rules, path);
        eprintln!(
            "{name}: {}",
            if ids.is_empty() { "-".into() } else { ids.iter().cloned().collect::<Vec<_>>().join(", ") }
        );
        by_technique.insert(name.clone(), ids);
    }

    let mut missing = Vec::new();
    for (technique, id, file) in EXPECTED {
        if !rules.rules.iter().any(|r| r.meta.id == *id) {
            let present = [RULES, LEGACY_RULES].iter().any(|d| sigma.join(d).join(file).exists());
            assert!(!present, "{id} ({file}) did not load");
            eprintln!("notice: {file} absent from the corpus; not checked");
            continue;
        }
        let Some(ids) = by_technique.get(*technique) else {
            panic!("{technique}: no such Stratus file");
        };
        if !ids.contains(*id) {
            missing.push(format!("{technique}: {file} ({id}) did not fire"));
        }
    }
    for (technique, id, file, why) in EXPECTED_BUT_SILENT {
        eprintln!("expected but silent: {technique}: {file}: {why}");
        if by_technique.get(*technique).is_some_and(|ids| ids.contains(*id)) {
            missing.push(format!("{technique}: {file} ({id}) fires now: move it to EXPECTED"));
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}
