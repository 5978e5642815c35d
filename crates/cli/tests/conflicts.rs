//! Conflicting duplicates: an event delivered twice with different content (one of the files
//! was altered) is reported with both files named, on stderr, in `ingest`'s summary, in the
//! manifest and in every report format, the same on the logs and on a case file made of them.

mod common;

use std::path::Path;

use common::*;
use serde_json::{json, Value};
use trailscope_testkit::{record, with};

/// Evidence with three conflicting re-deliveries and two that are not conflicts:
/// * `export-1/a.json`: events 0 to 4, then event 4 again with its requestParameters rewritten
///   (within one file);
/// * `export-2/b.json`: event 0 unchanged (an ordinary re-delivery), event 1 from another source
///   address, event 2 under another user agent, event 3 with only an `addendum` block added (a
///   late delivery, not a conflict).
fn tampered(dir: &Path) {
    let a: Vec<Value> = (0..5)
        .map(|n| record(n, n as i64))
        .chain([with(4, 4, &json!({"requestParameters": {"userName": "backdoor"}}))])
        .collect();
    write(dir, "export-1/a.json", &s3_body(&a));
    let b = [
        record(0, 0),
        with(1, 1, &json!({"sourceIPAddress": "203.0.113.66"})),
        with(2, 2, &json!({"userAgent": "Boto3/1.34.0 Python/3.12.1 Linux/6.5"})),
        with(3, 3, &json!({"addendum": {"reason": "DELIVERY_DELAY"}})),
    ];
    write(dir, "export-2/b.json", &s3_body(&b));
}

fn report_json(o: &std::process::Output) -> Value {
    assert!(o.status.code().is_some_and(|c| c <= 1), "{}", stderr(o));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn a_re_delivery_with_other_content_is_reported_with_both_files() {
    let dir = tempfile::tempdir().unwrap();
    let ev = dir.path().join("evidence");
    tampered(&ev);
    let o = run_on(&["ingest"], &[&ev]);
    let (out, err) = (stdout(&o), stderr(&o));
    assert_eq!(o.status.code(), Some(0), "every record was read: {err}");
    assert_eq!(line(&out, "Records:"), "10 found, 5 stored, 5 duplicates, 0 rejected");
    assert!(line(&out, "Conflicts:").starts_with("3 of the duplicates differ from the copy kept"), "{out}");
    assert!(err.contains("warning: 3 conflicting duplicates: two different records under one event id"), "{err}");
    for expected in [
        "eventID evt-4 (account 111122223333): kept evidence/export-1/a.json record 4, other copy \
         evidence/export-1/a.json record 5, differing in requestParameters",
        "eventID evt-1 (account 111122223333): kept evidence/export-1/a.json record 1, other copy \
         evidence/export-2/b.json record 1, differing in sourceIPAddress",
        "eventID evt-2 (account 111122223333): kept evidence/export-1/a.json record 2, other copy \
         evidence/export-2/b.json record 2, differing in userAgent",
    ] {
        assert!(err.contains(expected), "{expected}\nnot in:\n{err}");
    }
    assert!(!err.contains("evt-3") && !err.contains("evt-0"), "an addendum alone or an identical copy is no conflict");

    // --quiet keeps the warning line, not the list.
    let q = stderr(&run_on(&["ingest", "-q"], &[&ev]));
    assert_eq!(q.lines().count(), 1, "{q}");
    assert!(q.contains("3 conflicting duplicates"), "{q}");

    // The filtered scan stores only what may match: no conflict to report among these records.
    let o = run_on(&["events", "--event-name", "ListUsers", "--format", "jsonl"], &[&ev]);
    assert!(!stderr(&o).contains("conflicting"), "{}", stderr(&o));
}

#[test]
fn the_report_shows_them_in_every_format_and_the_case_file_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let ev = dir.path().join("evidence");
    tampered(&ev);
    let logs = report_json(&run_on(&["analyze", "-q", "--format", "json"], &[&ev]));
    let c = &logs["evidence_coverage"];
    assert_eq!(logs["schema_version"], "2.5");
    assert_eq!(c["conflicting_duplicates"], 3);
    let listed: Vec<(&str, &str, &str)> = c["conflicts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["event_id"].as_str().unwrap(), d["other_file"].as_str().unwrap(), d["fields"][0].as_str().unwrap()))
        .collect();
    assert_eq!(
        listed,
        [
            ("evt-4", "evidence/export-1/a.json", "requestParameters"),
            ("evt-1", "evidence/export-2/b.json", "sourceIPAddress"),
            ("evt-2", "evidence/export-2/b.json", "userAgent"),
        ]
    );

    // Saved at once and in segments (one file each), then opened: the same coverage.
    let (whole, parts) = (dir.path().join("whole.tscase"), dir.path().join("parts.tscase"));
    assert_eq!(run_on(&["ingest", "-q", "--save"], &[&whole, &ev]).status.code(), Some(0));
    let o = run_on(&["ingest", "-q", "--max-memory", "1K", "--save"], &[&parts, &ev]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(line(&stdout(&o), "Memory:").contains("saved in 2 segments"), "{}", stdout(&o));
    assert!(line(&stdout(&o), "Conflicts:").starts_with("3 of"), "{}", stdout(&o));
    for case in [&whole, &parts] {
        let o = run_on(&["analyze", "-q", "--format", "json"], &[case]);
        assert_eq!(report_json(&o)["evidence_coverage"], logs["evidence_coverage"], "{}", case.display());
        let o = run_on(&["ingest"], &[case]);
        assert!(line(&stdout(&o), "Conflicts:").starts_with("3 of"), "{}", stdout(&o));
        assert!(stderr(&o).contains("kept evidence/export-1/a.json record 1"), "{}", stderr(&o));
    }

    // Text, Markdown and HTML name both files; the manifest keeps the list and the counts.
    let out = dir.path().join("case-out");
    let o = run_on(&["analyze", "-q", "--format", "text,markdown,html", "--out"], &[&out, &ev]);
    assert!(o.status.code().is_some_and(|c| c <= 1), "{}", stderr(&o));
    let read = |name: &str| std::fs::read_to_string(out.join(name)).unwrap();
    let text = read("report.txt");
    assert!(text.contains("3 conflicting duplicates (two different records under one event id"), "{text}");
    assert!(
        text.contains(
            "  conflicting duplicate: eventID evt-1 (account 111122223333): kept evidence/export-1/a.json record 1, \
             other copy evidence/export-2/b.json record 1, differing in sourceIPAddress (one of these files was altered)"
        ),
        "{text}"
    );
    let md = read("report.md");
    assert!(
        md.contains("| evt-2 | 111122223333 | evidence/export-1/a.json record 2 | evidence/export-2/b.json record 2 | userAgent |"),
        "{md}"
    );
    let html = read("report.html");
    assert!(html.contains("id=\"conflict-table\"") && html.contains("3 conflicting duplicates"), "{html}");
    let manifest: Value = serde_json::from_str(&read("manifest.json")).unwrap();
    assert_eq!(manifest["conflicting_duplicates"].as_array().unwrap().len(), 3);
    let b = manifest["files"].as_array().unwrap().iter().find(|f| f["path"] == "evidence/export-2/b.json").unwrap();
    assert_eq!((b["duplicates"].as_u64(), b["conflicts"].as_u64()), (Some(4), Some(2)));
    assert!(
        read("manifest.csv").starts_with("path,size,sha256,kind,records,stored,duplicates,conflicts,rejected,error\n")
    );
}

#[test]
fn the_generators_tampered_re_deliveries_are_each_reported() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = trailscope_gen::GenConfig { events: 800, digests: false, tampered_redeliveries: 3, ..Default::default() };
    let truth = trailscope_gen::generate(&cfg, dir.path()).unwrap().truth.tampered_redeliveries;
    assert_eq!(truth.len(), 3);
    let r = report_json(&run_on(&["analyze", "-q", "--format", "json"], &[dir.path()]));
    let c = &r["evidence_coverage"];
    assert_eq!(c["conflicting_duplicates"], 3, "{c}");
    for t in &truth {
        let d = c["conflicts"].as_array().unwrap().iter().find(|d| d["event_id"] == t.event_id.as_str()).unwrap();
        assert_eq!(d["fields"], json!([t.field]), "{d}");
        // Which copy sorts first depends on the files' names: the planted one is either.
        let files = [d["kept_file"].as_str().unwrap(), d["other_file"].as_str().unwrap()];
        assert!(files.iter().any(|f| f.ends_with(&t.file)), "{} not in {files:?}", t.file);
        assert_ne!(files[0], files[1], "a file of its own");
    }
}

/// More conflicts than the manifest lists (500): one ingest and a save in segments (one file a
/// batch) keep the same first ones, so the manifest, and its hash, do not depend on
/// `--max-memory`. Files whose names only a component-wise order sorts as they were read
/// (`part/` before `part-2/`) are among them.
#[test]
fn over_the_listed_conflicts_a_save_in_segments_keeps_the_same_ones() {
    let dir = tempfile::tempdir().unwrap();
    let ev = dir.path().join("evidence");
    let originals: Vec<Value> = (0..400).map(|n| record(n, n as i64)).collect();
    write(&ev, "part/a.json", &s3_body(&originals));
    // Three later files each re-deliver every event with another source address.
    for (i, name) in ["part-2/b.json", "part/c.json", "part/d.json"].iter().enumerate() {
        let altered: Vec<Value> =
            (0..400).map(|n| with(n, n as i64, &json!({"sourceIPAddress": format!("203.0.113.{}", i + 1)}))).collect();
        write(&ev, name, &s3_body(&altered));
    }
    let manifest = |extra: &[&str], out: &str| {
        let out = dir.path().join(out);
        let case = dir.path().join(format!("{}.tscase", out.display()));
        let args = [&["ingest", "-q"][..], extra].concat();
        let o = run_on(&args, &[Path::new("--out"), &out, Path::new("--save"), &case, &ev]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        std::fs::read(out.join("manifest.json")).unwrap()
    };
    let (once, parts) = (manifest(&[], "once"), manifest(&["--max-memory", "1K"], "parts"));
    let m: Value = serde_json::from_slice(&once).unwrap();
    assert_eq!(m["conflicting_duplicates"].as_array().unwrap().len(), 500);
    let conflicts: u64 = m["files"].as_array().unwrap().iter().map(|f| f["conflicts"].as_u64().unwrap_or(0)).sum();
    assert_eq!(conflicts, 1200);
    assert!(once == parts, "the manifests differ between one ingest and a save in segments");
}
