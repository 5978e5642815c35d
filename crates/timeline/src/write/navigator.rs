//! The report's findings as an ATT&CK Navigator layer (layer format 4.5): one technique entry per
//! technique of any finding, scored by finding count weighted by severity.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{self, Write};

use serde_json::{json, Value};
use trailscope_indicators::Severity;

use crate::Report;

/// Weight of one finding in a technique's score.
pub fn weight(s: Severity) -> u64 {
    match s {
        Severity::Critical => 5,
        Severity::High => 4,
        Severity::Medium => 3,
        Severity::Low => 2,
        Severity::Informational => 1,
    }
}

/// `T1234` or `T1234.567`, as Navigator expects a `techniqueID`.
pub fn is_technique_id(t: &str) -> bool {
    let b = t.as_bytes();
    let digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    match b.len() {
        5 => b[0] == b'T' && digits(&b[1..]),
        9 => b[0] == b'T' && digits(&b[1..5]) && b[5] == b'.' && digits(&b[6..]),
        _ => false,
    }
}

#[derive(Default)]
struct Acc {
    score: u64,
    rules: BTreeSet<String>,
    actors: BTreeSet<usize>,
}

/// The layer as a JSON value. Every finding counts, risk (hygiene) rules included; each
/// technique's `metadata` names the actors that raised it, with their verdicts, so the examiner
/// can tell the intruder's techniques from the owner's. Tags that are not technique ids (after
/// upper-casing) are left out: Navigator would reject the layer.
pub fn layer(report: &Report) -> Value {
    let verdicts: HashMap<usize, &str> = report.actors.iter().map(|a| (a.id, a.verdict.label())).collect();
    let mut by_technique: BTreeMap<String, Acc> = BTreeMap::new();
    for f in &report.findings {
        for t in &f.techniques {
            let id = t.to_ascii_uppercase();
            if !is_technique_id(&id) {
                continue;
            }
            let acc = by_technique.entry(id).or_default();
            acc.score += weight(f.severity) * f.findings as u64;
            acc.rules.insert(f.rule.clone());
            acc.actors.extend(&f.actors);
        }
    }
    let max = by_technique.values().map(|a| a.score).max().unwrap_or(1);
    let techniques: Vec<Value> = by_technique
        .into_iter()
        .map(|(id, acc)| {
            let actors: Vec<String> = acc
                .actors
                .iter()
                .map(|a| format!("#{a} ({})", verdicts.get(a).copied().unwrap_or("unknown")))
                .collect();
            json!({
                "techniqueID": id,
                "score": acc.score,
                "comment": format!("rules: {}", acc.rules.into_iter().collect::<Vec<_>>().join(", ")),
                "enabled": true,
                "metadata": [{"name": "actors", "value": actors.join(", ")}],
            })
        })
        .collect();
    json!({
        "name": format!("trailscope {}", report.id),
        "versions": {"attack": "16", "navigator": "5.1.0", "layer": "4.5"},
        "domain": "enterprise-attack",
        "description": format!(
            "Techniques of the findings of {} (all findings, risk rules included). Score: finding count weighted by severity (critical 5, high 4, medium 3, low 2, informational 1).",
            report.id
        ),
        "techniques": techniques,
        "gradient": {"colors": ["#ffffff", "#ff6666"], "minValue": 0, "maxValue": max},
        "legendItems": [],
    })
}

/// Write the layer as pretty-printed JSON.
///
/// # Errors
/// I/O errors from `out`.
pub fn write_layer<W: Write>(out: &mut W, report: &Report) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &layer(report)).map_err(io::Error::other)?;
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn technique_ids() {
        for ok in ["T1098", "T1098.003"] {
            assert!(is_technique_id(ok), "{ok}");
        }
        for bad in ["t1098", "T109", "T1098.03", "T1098-003", "TA0001", "attack.t1098"] {
            assert!(!is_technique_id(bad), "{bad}");
        }
        assert_eq!(weight(Severity::Critical), 5);
        assert_eq!(weight(Severity::Informational), 1);
    }
}
