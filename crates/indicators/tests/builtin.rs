//! Every built-in rule fires on its positive case and stays quiet on its negative case
//! (`rules/builtin/tests.yml` and every `rules/builtin/tests/*.yml`), on records ingested exactly
//! as evidence would be.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};
use trailscope_indicators::RuleSet;
use yaml_rust2::{Yaml, YamlLoader};

fn to_json(y: &Yaml) -> Value {
    match y {
        Yaml::String(s) => json!(s),
        Yaml::Integer(i) => json!(i),
        Yaml::Real(r) => r.parse::<f64>().map(|f| json!(f)).unwrap_or(json!(r)),
        Yaml::Boolean(b) => json!(b),
        Yaml::Array(a) => Value::Array(a.iter().map(to_json).collect()),
        Yaml::Hash(h) => Value::Object(h.iter().map(|(k, v)| (k.as_str().unwrap().to_owned(), to_json(v))).collect()),
        _ => Value::Null,
    }
}

fn fill(v: &Value, i: usize) -> Value {
    match v {
        Value::String(s) => json!(s.replace("{i}", &i.to_string())),
        Value::Array(a) => Value::Array(a.iter().map(|x| fill(x, i)).collect()),
        Value::Object(m) => Value::Object(m.iter().map(|(k, x)| (k.clone(), fill(x, i))).collect::<Map<_, _>>()),
        v => v.clone(),
    }
}

/// Records of one case (a partial record or a list of them).
fn records(case: &Value) -> Vec<Value> {
    let parts: Vec<Value> = match case {
        Value::Array(a) => a.clone(),
        v => vec![v.clone()],
    };
    let mut out = Vec::new();
    for p in parts {
        let repeat = p.get("_repeat").and_then(Value::as_u64).unwrap_or(1) as usize;
        let at = p.get("_at").and_then(Value::as_i64);
        let mut partial = p.clone();
        partial.as_object_mut().unwrap().retain(|k, _| !k.starts_with('_'));
        for i in 0..repeat {
            let n = out.len();
            let r = trailscope_testkit::with(n, at.unwrap_or(0) + 20 * i as i64, &fill(&partial, i));
            out.push(r);
        }
    }
    out
}

fn fires(rules: &RuleSet, id: &str, recs: &[Value]) -> bool {
    let store = trailscope_testkit::store(recs);
    rules.run(&store).iter().any(|f| f.rule.id == id)
}

/// Every test case by rule id, from `tests.yml` and the per-theme files under `tests/`; a rule
/// with cases in two files is a mistake.
fn test_cases() -> BTreeMap<String, Value> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/builtin");
    let mut files = vec![root.join("tests.yml")];
    let mut themed: Vec<_> = std::fs::read_dir(root.join("tests"))
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|x| x == "yml")).collect()
        })
        .unwrap_or_default();
    themed.sort();
    files.extend(themed);
    let mut cases = BTreeMap::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let Some(doc) = YamlLoader::load_from_str(&text).unwrap().into_iter().next() else { continue };
        for (id, case) in to_json(&doc).as_object().cloned().unwrap_or_default() {
            assert!(cases.insert(id.clone(), case).is_none(), "{id}: test cases in two files ({})", f.display());
        }
    }
    cases
}

#[test]
fn every_builtin_rule_has_a_passing_positive_and_negative_case() {
    let rules = RuleSet::builtin();
    let cases = test_cases();
    let generating: Vec<&str> = rules.rules.iter().filter(|r| r.generate).map(|r| r.meta.id.as_str()).collect();
    assert!(generating.len() >= 60, "the pack has {} rules", generating.len());
    let mut failures = Vec::new();
    for id in &generating {
        let Some(case) = cases.get(*id) else {
            failures.push(format!("{id}: no test case"));
            continue;
        };
        if !fires(&rules, id, &records(&case["match"])) {
            failures.push(format!("{id}: positive case did not fire"));
        }
        if fires(&rules, id, &records(&case["nomatch"])) {
            failures.push(format!("{id}: negative case fired"));
        }
    }
    for id in cases.keys() {
        if !generating.contains(&id.as_str()) {
            failures.push(format!("{id}: test case for an unknown rule"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
