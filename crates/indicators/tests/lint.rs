//! Rule warnings on real rule packs: the built-in pack raises none, and SigmaHQ's CloudTrail
//! rules raise exactly the known ones.

use trailscope_indicators::{RuleSet, RuleWarningKind, Vars};

#[test]
fn the_builtin_pack_raises_no_warning() {
    let (_, report) = RuleSet::load(true, &[], &Vars::new());
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let w: Vec<String> = report.warnings.iter().map(ToString::to_string).collect();
    assert!(w.is_empty(), "built-in rules with warnings:\n{}", w.join("\n"));
}

#[test]
fn sigmahq_cloudtrail_rules_warn_only_where_they_name_a_field_cloudtrail_lacks() {
    let Some(sigma) = trailscope_testkit::corpus("sigma") else { return };
    let corpus = sigma.join("rules/cloud/aws/cloudtrail");
    let (set, report) = RuleSet::load(false, &[corpus], &Vars::new());
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(set.rules.len(), 57);
    // SAML provider deletion tests `status: success`, a field of other log sources: the rule
    // loads and runs, but can never match a CloudTrail record.
    let got: Vec<(String, usize, &RuleWarningKind)> = report
        .warnings
        .iter()
        .map(|w| (w.path.rsplit('/').next().unwrap_or_default().to_owned(), w.line, &w.kind))
        .collect();
    assert_eq!(
        got,
        [(
            "aws_delete_saml_provider.yml".to_owned(),
            26,
            &RuleWarningKind::UnknownField { field: "status".into(), suggestion: None }
        )]
    );
}
