//! `trailscope analyze` on the bundled sample, checked against the generator's ground truth.

mod common;

use std::collections::BTreeSet;

use common::*;
use serde_json::Value;

fn truth() -> trailscope_gen::GroundTruth {
    serde_json::from_slice(&std::fs::read(testdata().join("sample-truth.json")).unwrap()).unwrap()
}

fn report_json(extra: &[&str]) -> Value {
    let mut args = vec!["analyze", "--quiet", "--format", "json"];
    args.extend_from_slice(extra);
    let o = run_on(&args, &[&sample()]);
    assert_eq!(o.status.code(), Some(1), "findings give exit 1; stderr: {}", stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn strings(v: &Value, key: &str) -> BTreeSet<String> {
    v.as_array().unwrap().iter().map(|x| x[key].as_str().unwrap().to_owned()).collect()
}

#[test]
fn names_the_leaked_key_attacker_ips_persistence_and_data() {
    let t = truth();
    let r = report_json(&[]);

    let keys = strings(&r["compromised_credentials"], "access_key");
    assert!(keys.contains(&t.leaked_access_key), "leaked key missing from {keys:?}");
    assert!(keys.contains(&t.created_access_key), "backdoor key missing from {keys:?}");
    for k in &t.attacker_session_keys {
        assert!(keys.contains(k), "session key {k} missing");
    }

    let ips = strings(&r["source_ips"], "ip");
    assert_eq!(ips, t.attacker_ips.iter().cloned().collect::<BTreeSet<_>>(), "attacker IPs");

    let persistence: Vec<String> = r["persistence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| format!("{} {} {}", c["action"], c["target"], c["detail"]))
        .collect();
    let all = persistence.join("\n");
    assert!(all.contains(&format!("\"iam:CreateUser\" \"{}\"", t.created_user)), "{all}");
    assert!(all.contains("iam:CreateLoginProfile"), "{all}");
    assert!(all.contains(&t.created_access_key), "{all}");
    assert!(
        all.contains(&t.backdoor_role) && all.contains(&format!("FOREIGN: arn:aws:iam::{}:root", t.foreign_account)),
        "{all}"
    );

    let data: BTreeSet<String> = strings(&r["data_accessed"], "resource");
    for b in t.buckets_accessed.iter().chain(&t.secrets_read) {
        assert!(data.contains(b), "{b} missing from data accessed {data:?}");
    }
    let evasion = r["defense_evasion"].to_string();
    for trail in &t.tampered_trails {
        assert!(evasion.contains(trail), "{trail} missing from {evasion}");
    }
    let affected: BTreeSet<&str> =
        r["affected_accounts"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    assert_eq!(affected, t.accounts.iter().map(String::as_str).collect());
}

#[test]
fn attributed_events_match_ground_truth() {
    attributed_events_match_ground_truth_with(&[]);
}

/// The same attribution with GeoIP, ASN and AWS ranges: the owner's CI and app servers in EC2
/// and the credential's new autonomous systems must not move the line.
#[test]
fn attributed_events_match_ground_truth_with_enrichment() {
    let dir = tempfile::tempdir().unwrap();
    let flags = enrichment_flags(dir.path());
    attributed_events_match_ground_truth_with(&flags.iter().map(String::as_str).collect::<Vec<_>>());
}

fn attributed_events_match_ground_truth_with(extra: &[&str]) {
    let t = truth();
    let r = report_json(extra);
    let got: BTreeSet<String> = strings(&r["timeline"]["entries"], "event_id");
    let want: BTreeSet<String> = t.malicious_event_ids.iter().cloned().collect();
    let hit = got.intersection(&want).count();
    let recall = hit as f64 / want.len() as f64;
    let precision = hit as f64 / got.len() as f64;
    eprintln!(
        "attribution: {} attributed, {} malicious, recall {recall:.3}, precision {precision:.3}",
        got.len(),
        want.len()
    );
    assert!(recall >= 0.99, "recall {recall:.3}; missed: {:?}", want.difference(&got).collect::<Vec<_>>());
    assert!(precision >= 0.95, "precision {precision:.3}; extra: {:?}", got.difference(&want).collect::<Vec<_>>());
}

/// Actor-level: the events of `attacker` actors against the truth, with the owner's root console
/// sessions, Terraform on the leaked key, failed high-risk calls, logging switched on and the
/// clean-up all in the same evidence.
#[test]
fn attacker_actors_are_the_intruder_and_never_the_confounders() {
    attacker_actors_are_the_intruder_and_never_the_confounders_with(&[]);
}

#[test]
fn attacker_actors_are_the_intruder_and_never_the_confounders_with_enrichment() {
    let dir = tempfile::tempdir().unwrap();
    let flags = enrichment_flags(dir.path());
    attacker_actors_are_the_intruder_and_never_the_confounders_with(
        &flags.iter().map(String::as_str).collect::<Vec<_>>(),
    );
}

fn attacker_actors_are_the_intruder_and_never_the_confounders_with(extra: &[&str]) {
    let t = truth();
    let r = report_json(extra);
    let actors = r["actors"].as_array().unwrap();
    let attacker: BTreeSet<String> = actors
        .iter()
        .filter(|a| a["verdict"] == "attacker")
        .flat_map(|a| a["event_ids"].as_array().unwrap().iter().map(|e| e.as_str().unwrap().to_owned()))
        .collect();
    let want: BTreeSet<String> = t.malicious_event_ids.iter().cloned().collect();
    let hit = attacker.intersection(&want).count();
    let (recall, precision) = (hit as f64 / want.len() as f64, hit as f64 / attacker.len() as f64);
    eprintln!("actor attribution: recall {recall:.3}, precision {precision:.3}");
    assert!(recall >= 0.95 && precision >= 0.95, "recall {recall:.3}, precision {precision:.3}");
    assert!(t.confounders.len() >= 5, "the sample carries its confounders");
    for c in &t.confounders {
        let blamed = c.event_ids.iter().filter(|e| attacker.contains(*e)).count();
        assert_eq!(blamed, 0, "confounder {} ({}) blamed on the attacker {blamed} times", c.kind, c.description);
    }
    // The first actor and the first compromised credential are the intruder's.
    let first = &actors[0];
    assert_eq!(first["verdict"], "attacker");
    assert!(t.attacker_ips.contains(&first["source_ips"][0].as_str().unwrap().to_owned()), "{first}");
    assert_eq!(r["compromised_credentials"][0]["access_key"], t.leaked_access_key.as_str());
    // Every actor says why; JSON types are clean.
    for a in actors.iter().filter(|a| a["verdict"] == "attacker") {
        assert!(!a["reasons"].as_array().unwrap().is_empty());
    }
    assert_eq!(r["schema_version"], "2.5");
    for c in r["compromised_credentials"].as_array().unwrap() {
        assert!(c["first_used"].is_null() || c["first_used"].as_str().unwrap().ends_with('Z'));
    }
    // The owner's clean-up shows as the end state of the attacker's persistence.
    let persistence = r["persistence"].to_string();
    assert!(persistence.contains("\"state\":\"reverted\""), "{persistence}");
    // The data account's object reads happened before data events were switched on.
    let caveats = r["coverage"]["caveats"].to_string();
    assert!(caveats.contains("210987654321") && caveats.contains("object reads before"), "{caveats}");
}

#[test]
fn trust_override_is_applied_and_reported() {
    let t = truth();
    let ip = &t.attacker_ips[1];
    let r = report_json(&["--trust", &format!("ip={ip}")]);
    assert_eq!(r["overrides"][0], format!("ip={ip}/32").as_str());
    let ips = strings(&r["source_ips"], "ip");
    assert!(!ips.contains(ip), "a trusted IP is not an attacker IP: {ips:?}");
    let o = run_on(&["analyze", "--quiet", "--trust", "colour=red"], &[&sample()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("unknown kind"), "{}", stderr(&o));
}

#[test]
fn text_summary_matches_golden() {
    let o = run_on(&["analyze", "--quiet"], &[&sample()]);
    assert_eq!(o.status.code(), Some(1));
    let text = stdout(&o);
    for heading in [
        "Forensic Report: AWS-IR-",
        "Account(s):",
        "Timeframe:",
        "Compromised Credentials",
        "Suspicious Events:",
        "Source IPs",
        "Actions Taken",
        "Data Accessed",
        "Persistence Mechanisms",
    ] {
        assert!(text.contains(heading), "missing {heading}");
    }
    assert_golden("analyze-sample.txt", &text);
    let md = run_on(&["analyze", "--quiet", "--format", "markdown"], &[&sample()]);
    let md = stdout(&md);
    assert!(md.starts_with("# Forensic Report: AWS-IR-") && md.contains("## Persistence Mechanisms"));
    assert_golden("analyze-sample.md", &md);
    // The complete model: every change to the JSON schema or its values shows in review.
    let json = stdout(&run_on(&["analyze", "--quiet", "--format", "json"], &[&sample()]));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(v["schema_version"].is_string() || v["schema"].is_string(), "schema version present");
    assert_golden("analyze-sample.json", &json);
}

#[test]
fn output_is_identical_for_one_thread_and_the_default() {
    let one = run_on(&["analyze", "--quiet", "--format", "json", "--threads", "1"], &[&sample()]);
    let many = run_on(&["analyze", "--quiet", "--format", "json"], &[&sample()]);
    assert!(!one.stdout.is_empty());
    assert_eq!(one.stdout, many.stdout);
    let one = run_on(&["events", "--quiet", "--format", "jsonl", "-j", "1"], &[&sample()]);
    let many = run_on(&["events", "--quiet", "--format", "jsonl", "-j", "3"], &[&sample()]);
    assert_eq!(one.stdout, many.stdout);
    assert_eq!(
        stdout(&one).lines().count(),
        trailscope_gen::GenConfig::default().events
            + truth().malicious_event_ids.len()
            + truth().confounders.iter().map(|c| c.event_ids.len()).sum::<usize>()
    );
}

#[test]
fn an_ioc_alone_seeds_the_attribution() {
    let t = truth();
    let dir = tempfile::tempdir().unwrap();
    let ioc = dir.path().join("iocs.txt");
    std::fs::write(&ioc, format!("{}\n", t.attacker_ips[1])).unwrap();
    let o = run_on(
        &["analyze", "--quiet", "--format", "json", "--no-builtin", "--no-baseline", "--ioc", ioc.to_str().unwrap()],
        &[&sample()],
    );
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(strings(&r["source_ips"], "ip").contains(&t.attacker_ips[1]));
    assert!(strings(&r["compromised_credentials"], "access_key").contains(&t.created_access_key));
    let with_ioc = r["actors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["reasons"].as_array().unwrap().iter().any(|x| x["kind"] == "ioc"))
        .expect("an actor carries the IOC reason");
    assert_eq!(with_ioc["verdict"], "attacker");
    assert!(with_ioc["source_ips"].to_string().contains(&t.attacker_ips[1]));
}

#[test]
fn csv_timeline_matches_golden() {
    let o = run_on(&["analyze", "--quiet", "--format", "csv"], &[&sample()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.starts_with("datetime,actor,verdict,source_ip,"), "{text}");
    let report = report_json(&[]);
    let mut csv = csv::Reader::from_reader(text.as_bytes());
    let rows: Vec<csv::StringRecord> = csv.records().map(Result::unwrap).collect();
    // Beside the attacker's events, the events to review: every event of a suspicious actor and
    // the flagged ones of an unknown actor (its `flagged` activity), in rows of one kind of event
    // and day whose `events` count every one of them.
    let events = |r: &csv::StringRecord| r[15].parse::<u64>().unwrap();
    let review: Vec<&Value> = report["activity"]["actors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| report["actors"][s["actor"].as_u64().unwrap() as usize - 1]["verdict"] != "attacker")
        .collect();
    assert!(!review.is_empty(), "the sample has events to review");
    for series in review {
        let a = &report["actors"][series["actor"].as_u64().unwrap() as usize - 1];
        let want = match a["verdict"].as_str().unwrap() {
            "suspicious" => a["events"].as_u64().unwrap(),
            _ => series["flagged"].as_array().unwrap().iter().map(|n| n.as_u64().unwrap()).sum(),
        };
        let id = a["id"].to_string();
        let n: u64 = rows.iter().filter(|r| r[1] == *id).map(events).sum();
        assert_eq!(n, want, "actor #{id}");
    }
    // The attacker's events are a row each.
    let attacker_rows: Vec<_> = rows.iter().filter(|r| &r[2] == "attacker").collect();
    assert!(attacker_rows.iter().all(|r| events(r) == 1 && r[16].is_empty()));
    assert_eq!(attacker_rows.len() as u64, report["attacker_events"].as_u64().unwrap());
    // Of unknown actors only events a rule flagged are there; nothing of benign ones.
    let verdict = |id: &Value| report["actors"][id.as_u64().unwrap() as usize - 1]["verdict"].as_str().unwrap();
    for e in report["suspicious_timeline"]["entries"].as_array().unwrap() {
        match verdict(&e["actor"]) {
            "suspicious" => {}
            "unknown" => assert!(!e["findings"].as_array().unwrap().is_empty(), "{e}"),
            other => panic!("{other} actor on the suspicious timeline: {e}"),
        }
    }
    // Each charted actor's events per hour add up to its events.
    for series in report["activity"]["actors"].as_array().unwrap() {
        let actor = &report["actors"][series["actor"].as_u64().unwrap() as usize - 1];
        let sum: u64 = series["events"].as_array().unwrap().iter().map(|n| n.as_u64().unwrap()).sum();
        assert_eq!(sum, actor["events"].as_u64().unwrap(), "{}", actor["id"]);
    }
    assert_eq!(report["activity"]["bucket_hours"], 1);
    assert_golden("analyze-sample.csv", &text);
}

#[test]
fn jsonl_timeline_has_timesketch_fields_and_matches_golden() {
    let o = run_on(&["analyze", "--quiet", "--format", "jsonl"], &[&sample()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let text = stdout(&o);
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let report = report_json(&[]);
    let entries = |key: &str| report[key]["entries"].as_array().unwrap().len();
    assert_eq!(lines.len(), entries("timeline") + entries("suspicious_timeline"));
    // The attacker's events and the events to review, told apart by the verdict; in time order.
    let verdicts: BTreeSet<&str> = lines.iter().map(|l| l["verdict"].as_str().unwrap()).collect();
    assert!(verdicts.contains("attacker") && verdicts.len() > 1, "{verdicts:?}");
    assert!(!verdicts.contains("benign/owner"), "{verdicts:?}");
    let times: Vec<&str> = lines.iter().map(|l| l["datetime"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "time order");
    for l in &lines {
        assert!(!l["message"].as_str().unwrap().is_empty(), "{l}");
        let dt = l["datetime"].as_str().unwrap();
        assert!(dt.len() >= 20 && dt.as_bytes()[10] == b'T' && dt.ends_with('Z'), "{dt}");
        assert_eq!(l["timestamp_desc"], "Event Time");
        assert!(l["actor"].is_u64() && l["action"].is_string() && l["event_id"].is_string(), "{l}");
    }
    assert_golden("analyze-sample.jsonl", &text);
}

#[test]
fn navigator_layer_has_required_keys_and_matches_golden() {
    let o = run_on(&["analyze", "--quiet", "--format", "navigator"], &[&sample()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let layer: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(layer["name"].as_str().unwrap().contains("AWS-IR-"));
    assert_eq!(layer["versions"], serde_json::json!({"attack": "16", "navigator": "5.1.0", "layer": "4.5"}));
    assert_eq!(layer["domain"], "enterprise-attack");
    assert!(layer["description"].is_string());
    let id = regex::Regex::new(r"^T\d{4}(\.\d{3})?$").unwrap();
    let techniques = layer["techniques"].as_array().unwrap();
    assert!(techniques.iter().any(|t| t["techniqueID"] == "T1098.003"), "{layer}");
    for t in techniques {
        assert!(id.is_match(t["techniqueID"].as_str().unwrap()), "{t}");
        assert!(t["score"].as_u64().unwrap() > 0 && t["enabled"] == true, "{t}");
        assert!(t["comment"].as_str().unwrap().starts_with("rules: "), "{t}");
        assert_eq!(t["metadata"][0]["name"], "actors");
    }
    assert_golden("analyze-sample.navigator.json", &stdout(&o));
}

#[test]
fn several_formats_go_to_their_files_and_the_audit_entry() {
    let formats = "text,json,csv,jsonl,navigator,markdown,html";
    let o = run_on(&["analyze", "--quiet", "--format", formats], &[&sample()]);
    assert_eq!(o.status.code(), Some(2), "several formats without --out is a usage error");
    assert!(stderr(&o).contains("need --out DIR"), "{}", stderr(&o));

    let case = tempfile::tempdir().unwrap();
    let dir = case.path().to_str().unwrap();
    let o = run_on(&["analyze", "--quiet", "--format", formats, "--out", dir], &[&sample()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(o.stdout.is_empty(), "several formats print nothing to stdout");
    let names = [
        "report.txt",
        "report.json",
        "timeline.csv",
        "timeline.jsonl",
        "attack-layer.json",
        "report.md",
        "report.html",
    ];
    // Each file is what the single format prints.
    let single = run_on(&["analyze", "--quiet", "--format", "csv"], &[&sample()]);
    assert_eq!(std::fs::read(case.path().join("timeline.csv")).unwrap(), single.stdout);
    let log = std::fs::read_to_string(case.path().join("audit.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 1, "one run, one audit entry");
    let entry: Value = serde_json::from_str(log.lines().next().unwrap()).unwrap();
    let listed = strings(&entry["outputs"], "file");
    for n in names.iter().chain(&["manifest.json", "manifest.csv"]) {
        assert!(case.path().join(n).is_file(), "{n} missing");
        assert!(listed.contains(*n), "{n} not in the audit entry: {listed:?}");
    }
    let audit = run(&["audit", "verify", dir]);
    assert_eq!(audit.status.code(), Some(0), "{}", stdout(&audit));
}
