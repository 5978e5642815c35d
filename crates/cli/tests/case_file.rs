//! The examiner ingests once with `--save` and works on the case file from then on: every
//! command gives what it gives on the logs, and a damaged case file is refused, never misread.

mod common;

use std::path::Path;

use common::*;
use xxhash_rust::xxh3::{xxh3_64, Xxh3};

fn save_sample(dir: &Path) -> std::path::PathBuf {
    let case = dir.join("sample.tscase");
    let o = run_on(&["ingest", "-q", "--save"], &[&case, &sample()]);
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    assert!(line(&stdout(&o), "Saved:").contains("sample.tscase"), "{}", stdout(&o));
    case
}

/// stdout of the same command on the logs and on the case file, with the exit status.
fn both(dir: &Path, args: &[&str]) -> ((Option<i32>, String), (Option<i32>, String)) {
    let case = dir.join("sample.tscase");
    let on = |p: &Path| {
        let o = run_on(args, &[p]);
        (o.status.code(), stdout(&o))
    };
    (on(&sample()), on(&case))
}

#[test]
fn every_command_answers_the_same_on_the_case_file() {
    let dir = tempfile::tempdir().unwrap();
    save_sample(dir.path());
    for args in [
        &["analyze", "-q", "--format", "json"][..],
        &["analyze", "-q"],
        &["hunt", "-q", "--format", "jsonl"],
        &["events", "-q", "--format", "jsonl"],
        &["events", "-q", "--format", "csv", "--event-name", "CreateAccessKey", "--from", "2024-03-05"],
        &["summary", "-q", "--format", "json"],
    ] {
        let (logs, case) = both(dir.path(), args);
        assert_eq!(logs.0, case.0, "{args:?}: exit status");
        assert!(!case.1.is_empty(), "{args:?}");
        // The report names its evidence by the manifest's hash, which the case keeps: nothing
        // in the output differs, not even the fields that name the input.
        assert!(logs.1 == case.1, "{args:?}: output differs on the case file");
    }
}

#[test]
fn ingest_on_the_case_file_tells_what_it_was_made_from() {
    let dir = tempfile::tempdir().unwrap();
    let case = save_sample(dir.path());
    let o = run_on(&["ingest", "-q"], &[&case]);
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    let out = stdout(&o);
    assert!(line(&out, "Case file:").contains("format 2"), "{out}");
    // What the sample holds on disk: digest files live under CloudTrail-Digest/.
    let (mut digests, mut logs) = (0, 0);
    let mut stack = vec![sample()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().map(|e| e.unwrap().path()) {
            if e.is_dir() {
                stack.push(e);
            } else if e.to_string_lossy().contains("CloudTrail-Digest") {
                digests += 1;
            } else {
                logs += 1;
            }
        }
    }
    let made_from = format!("{} files (digest {digests}, log {logs})", digests + logs);
    assert!(line(&out, "Made from:").contains(&made_from), "want {made_from}: {out}");
    assert!(line(&out, "Records:").contains("4318 stored"), "{out}");
    assert!(line(&out, "Memory:").contains("mapped"), "{out}");
}

#[test]
fn the_payload_cache_of_a_case_is_the_examiners_choice_and_never_changes_findings() {
    let dir = tempfile::tempdir().unwrap();
    let case = save_sample(dir.path());
    let cache_line = |extra: &[&str]| {
        let o = run_on(&[&["ingest", "-q"][..], extra].concat(), &[&case]);
        assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
        line(&stdout(&o), "Payload cache:").to_owned()
    };
    assert!(cache_line(&[]).contains("at most 536870912 bytes"), "the default, 512 MiB");
    assert!(cache_line(&["--case-cache", "1M"]).contains("at most 1048576 bytes"));
    // Logs are read into memory: no cache to speak of.
    let o = run_on(&["ingest", "-q"], &[&sample()]);
    assert!(!stdout(&o).contains("Payload cache:"), "{}", stdout(&o));
    // Room for no block (one byte): only the block just read is kept; the findings stay.
    let hunt = |extra: &[&str]| run_on(&[&["hunt", "-q", "--format", "jsonl"][..], extra].concat(), &[&case]);
    let (roomy, none) = (hunt(&[]), hunt(&["--case-cache", "1"]));
    assert_eq!(roomy.status.code(), Some(1), "stderr: {}", stderr(&roomy));
    assert_eq!(stdout(&roomy), stdout(&none));
    assert!(stdout(&none).lines().count() > 10);
}

#[test]
fn the_case_directory_gets_the_same_manifest_and_baselines_learn_from_a_case() {
    let dir = tempfile::tempdir().unwrap();
    let case = save_sample(dir.path());
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let o = run_on(&["summary", "-q", "--out"], &[&a, &sample()]);
    assert_eq!(o.status.code(), Some(0));
    let o = run_on(&["summary", "-q", "--out"], &[&b, &case]);
    assert_eq!(o.status.code(), Some(0));
    let manifest = |d: &Path| std::fs::read(d.join("manifest.json")).unwrap();
    assert_eq!(manifest(&a), manifest(&b));
    assert_eq!(run_on(&["audit", "verify"], &[&b]).status.code(), Some(0));

    let o = run_on(&["hunt", "-q", "--format", "jsonl", "--baseline"], &[&case, &sample()]);
    let p = run_on(&["hunt", "-q", "--format", "jsonl", "--baseline"], &[&sample(), &case]);
    assert_eq!(o.status.code(), Some(1), "stderr: {}", stderr(&o));
    assert_eq!(stdout(&o), stdout(&p));
}

#[test]
fn case_files_are_refused_where_they_cannot_serve() {
    let dir = tempfile::tempdir().unwrap();
    let case = save_sample(dir.path());
    let o = run_on(&["verify"], &[&case]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("a case file cannot be verified"), "{}", stderr(&o));

    let o = run_on(&["hunt", "-q"], &[&case, &sample()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("give it alone"), "{}", stderr(&o));

    let other = dir.path().join("copy.bin");
    std::fs::copy(&case, &other).unwrap();
    let o = run_on(&["events", "-q"], &[&case, &other]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("2 case files given"), "{}", stderr(&o));
}

#[test]
fn a_damaged_case_file_is_refused_naming_it_and_why() {
    let dir = tempfile::tempdir().unwrap();
    let case = save_sample(dir.path());
    let good = std::fs::read(&case).unwrap();

    let mut flipped = good.clone();
    let at = good.len() - 1000;
    flipped[at] ^= 0x01;
    std::fs::write(&case, &flipped).unwrap();
    let o = run_on(&["hunt", "-q"], &[&case]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("sample.tscase") && err.contains("checksum mismatch in section payload-blocks"), "{err}");

    std::fs::write(&case, &good[..good.len() / 2]).unwrap();
    let err = stderr(&run_on(&["analyze", "-q"], &[&case]));
    assert!(err.contains("sample.tscase") && err.contains("truncated"), "{err}");

    let mut newer = good.clone();
    newer[8] = 9;
    std::fs::write(&case, &newer).unwrap();
    let err = stderr(&run_on(&["events", "-q"], &[&case]));
    assert!(err.contains("version 9 is newer"), "{err}");

    // A case saved by the first generation (format 1) is refused by its version, saying how
    // to make it again.
    let mut older = good.clone();
    older[8] = 1;
    std::fs::write(&case, &older).unwrap();
    let o = run_on(&["hunt", "-q"], &[&case]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("sample.tscase") && err.contains("written by an older trailscope (case format 1"), "{err}");
    assert!(err.contains("--save"), "{err}");
}

/// A payload block whose bytes pass the checksums checked at open but not the one checked when
/// it is decompressed (a writer's bug, a file changed while open) is reported on first read,
/// naming the file and the block, and the command exits 1 (evidence not fully read): never 0
/// with fields silently missing.
#[test]
fn a_payload_block_found_damaged_on_first_read_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let case = save_sample(dir.path());
    let o = run_on(&["events", "-q", "--format", "jsonl"], &[&case]);
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));

    let mut bytes = std::fs::read(&case).unwrap();
    let u32_at = |b: &[u8], at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap());
    let u64_at = |b: &[u8], at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap()) as usize;
    let count = u32_at(&bytes, 24) as usize;
    // Section kind 14 is the payload index: four u64 per block, the fourth the XXH3 of the
    // block's decompressed bytes.
    let entry = (0..count).map(|i| 48 + i * 40).find(|&e| u32_at(&bytes, e) == 14).expect("payload index");
    let (index, len) = (u64_at(&bytes, entry + 16), u64_at(&bytes, entry + 24));
    bytes[index + 24] ^= 1;
    // Seal it again: the section's checksum, then the header's over the table.
    let sum = xxh3_64(&bytes[index..index + len]);
    bytes[entry + 32..entry + 40].copy_from_slice(&sum.to_le_bytes());
    let mut h = Xxh3::new();
    h.update(&bytes[..32]);
    h.update(&[0; 8]);
    h.update(&bytes[40..48]);
    h.update(&bytes[48..48 + count * 40]);
    let sum = h.digest();
    bytes[32..40].copy_from_slice(&sum.to_le_bytes());
    std::fs::write(&case, &bytes).unwrap();

    let o = run_on(&["events", "-q", "--format", "jsonl"], &[&case]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(3), "evidence not read whole: {err}");
    assert!(err.contains("sample.tscase: payload block 0 (rows 0.."), "{err}");
    assert!(err.contains("checksum mismatch after decompression"), "{err}");
}

/// A new rule over years of saved incidents: `hunt case1 case2 ... --rules new/` gives, case by
/// case, exactly what hunting each case alone gives, then a summary per case; a damaged case is
/// skipped, named with the reason, and the run says it needs attention.
#[test]
fn bulk_hunt_over_saved_cases_matches_each_case_alone() {
    let dir = tempfile::tempdir().unwrap();
    let sample_case = save_sample(dir.path());

    // A second incident: EC2 recon, and one read of an instance's user data (where secrets hide).
    let mut recs = records(0, 30);
    let mut userdata = record(30, "DescribeInstanceAttribute");
    userdata["requestParameters"] = serde_json::json!({"instanceId": "i-0abc", "attribute": "userData"});
    userdata["readOnly"] = serde_json::json!(true);
    recs.push(userdata);
    let logs = dir.path().join("incident-2");
    write(&logs, "AWSLogs/111122223333/CloudTrail/eu-west-1/2024/05/01/a.json.gz", &gz(&s3_body(&recs)));
    let second = dir.path().join("incident-2.tscase");
    let o = run_on(&["ingest", "-q", "--save"], &[&second, &logs]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    let rules = write(
        dir.path(),
        "new/userdata.yml",
        br#"title: Instance user data read
id: 7b0c3f55-5d0e-4a57-9f0c-3c2a1d8e9b10
logsource: {product: aws, service: cloudtrail}
detection:
  selection:
    eventName: DescribeInstanceAttribute
    requestParameters.attribute: userData
  condition: selection
level: medium
---
title: Any DescribeInstances
id: 0e6d1a7c-8f1b-4c3e-9a55-6b2f0d4c7e21
logsource: {product: aws, service: cloudtrail}
detection:
  selection: {eventName: DescribeInstances}
  condition: selection
level: low
"#,
    );
    let rule_args = ["hunt", "-q", "--no-builtin", "--no-baseline", "--format", "jsonl", "--rules"];
    let rules_dir = rules.parent().unwrap().to_owned();
    let hunt = |cases: &[&Path], out: Option<&Path>| {
        let mut args: Vec<&str> = rule_args.to_vec();
        args.push(rules_dir.to_str().unwrap());
        if let Some(o) = out {
            args.extend(["--out", o.to_str().unwrap()]);
        }
        run_on(&args, cases)
    };
    let lines = |o: &std::process::Output| -> Vec<serde_json::Value> {
        stdout(o).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    };

    // Each case alone.
    let alone: Vec<Vec<serde_json::Value>> = [&sample_case, &second].iter().map(|c| lines(&hunt(&[c], None))).collect();
    assert!(alone[1].iter().any(|f| f["title"] == "Instance user data read"), "{:?}", alone[1]);

    // A damaged copy among them: skipped, named, the others still hunted.
    let damaged = dir.path().join("damaged.tscase");
    let mut bytes = std::fs::read(&second).unwrap();
    let at = bytes.len() - 100;
    bytes[at] ^= 0x40;
    std::fs::write(&damaged, &bytes).unwrap();

    let out_dir = dir.path().join("out");
    let o = hunt(&[&sample_case, &damaged, &second], Some(&out_dir));
    assert_eq!(o.status.code(), Some(4), "findings, and a case not read: {}", stderr(&o));
    assert!(stderr(&o).contains("damaged.tscase: skipped"), "{}", stderr(&o));
    let bulk = lines(&o);
    for (case, expected) in [(&sample_case, &alone[0]), (&second, &alone[1])] {
        let name = case.display().to_string();
        let got: Vec<serde_json::Value> = bulk
            .iter()
            .filter(|f| f["case"] == name.as_str())
            .map(|f| {
                let mut f = f.clone();
                f.as_object_mut().unwrap().remove("case");
                f
            })
            .collect();
        assert_eq!(&got, expected, "{name}: bulk findings differ from the case hunted alone");
    }
    assert_eq!(bulk.len(), alone[0].len() + alone[1].len(), "no finding without its case");

    // The per-case summary, also kept in the case directory.
    let table = std::fs::read_to_string(out_dir.join("hunt-cases.csv")).unwrap();
    let mut rows = csv::Reader::from_reader(table.as_bytes());
    let rows: Vec<csv::StringRecord> = rows.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 3, "{table}");
    assert!(rows[1][1].starts_with("skipped: ") && rows[1][1].contains("checksum"), "{table}");
    let second_row = &rows[2];
    assert_eq!(&second_row[2], "31", "events of the second case");
    let count = |sev: &str| alone[1].iter().filter(|f| f["severity"] == sev).count().to_string();
    assert_eq!((&second_row[7], &second_row[8]), (count("medium").as_str(), count("low").as_str()), "{table}");
    let audit = std::fs::read_to_string(out_dir.join("audit.jsonl")).unwrap();
    assert!(audit.contains("hunt-cases.csv") && audit.contains("findings.jsonl"), "{audit}");
}

/// Save `evidence` at once and in segments (a budget so small that every file is its own
/// segment); every command answers the same on both cases. Returns the two cases.
fn saved_both_ways(dir: &Path, evidence: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let (whole, parts) = (dir.join("whole.tscase"), dir.join("parts.tscase"));
    let o = run_on(&["ingest", "-q", "--save"], &[&whole, evidence]);
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    assert!(line(&stdout(&o), "Memory:").contains("resident"), "fits the default budget: {}", stdout(&o));
    let o = run_on(&["ingest", "-q", "--max-memory", "1K", "--save"], &[&parts, evidence]);
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    let out = stdout(&o);
    let segments: usize =
        line(&out, "Memory:").split("saved in ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    let logs: usize = line(&out, "Files:").split("(log ").nth(1).unwrap().split(',').next().unwrap().parse().unwrap();
    assert!(segments >= logs, "one log file per segment: {out}");
    // Nothing is left beside the case file but the two cases.
    let mut names: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    names.sort();
    assert_eq!(names, ["parts.tscase", "whole.tscase"]);
    for args in [
        &["analyze", "-q", "--format", "json"][..],
        &["hunt", "-q", "--format", "jsonl"],
        &["events", "-q", "--format", "jsonl"],
        &["summary", "-q", "--format", "json"],
        &["ingest", "-q"],
    ] {
        let a = run_on(args, &[&whole]);
        let b = run_on(args, &[&parts]);
        assert_eq!(a.status.code(), b.status.code(), "{args:?}: exit status");
        let clean = |s: String| {
            s.lines()
                .filter(|l| !l.starts_with("Case file:") && !l.starts_with("Memory:"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert!(clean(stdout(&a)) == clean(stdout(&b)), "{args:?}: output differs on the case saved in segments");
    }
    (whole, parts)
}

/// The log files (under `dir`) holding each of `ids`.
fn files_holding(dir: &Path, ids: &[String]) -> std::collections::BTreeSet<std::path::PathBuf> {
    let mut found = std::collections::BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.to_string_lossy().ends_with(".json.gz") && !p.to_string_lossy().contains("Digest") {
                let mut text = String::new();
                std::io::Read::read_to_string(
                    &mut flate2::read::GzDecoder::new(std::fs::File::open(&p).unwrap()),
                    &mut text,
                )
                .unwrap();
                if ids.iter().any(|id| text.contains(id.as_str())) {
                    found.insert(p);
                }
            }
        }
    }
    found
}

/// The recon-then-escalation correlation and the first-seen baselines join events of different
/// files, so of different segments here: the case saved in segments finds them all the same.
fn correlation_straddles_segments(case: &Path, evidence: &Path) {
    let o = run_on(&["hunt", "-q", "--format", "jsonl"], &[case]);
    let hits: Vec<serde_json::Value> = stdout(&o).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let corr = hits.iter().find(|h| h["rule"] == "ts-recon-then-escalation").expect("the correlation fires");
    let ids: Vec<String> =
        corr["event_ids"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect();
    assert!(files_holding(evidence, &ids).len() >= 2, "its events come from several files (segments): {ids:?}");
    assert!(hits.iter().any(|h| h["rule"] == "ts-new-api"), "first-seen baselines fire too");
}

#[test]
fn a_case_saved_in_segments_answers_as_one_saved_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (_, parts) = saved_both_ways(dir.path(), &sample());
    correlation_straddles_segments(&parts, &sample());
}

/// The manifest a case saved in segments streams into itself is the one a save at once keeps,
/// and so is the one written to the case directory beside it.
#[test]
fn a_case_saved_in_segments_keeps_the_manifest_of_one_saved_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (whole, parts) = (dir.path().join("whole.tscase"), dir.path().join("parts.tscase"));
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let o = run_on(&["ingest", "-q", "--out"], &[&a, Path::new("--save"), &whole, &sample()]);
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    let o = run_on(&["ingest", "-q", "--max-memory", "1K", "--out"], &[&b, Path::new("--save"), &parts, &sample()]);
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    assert!(line(&stdout(&o), "Memory:").contains("segments"), "{}", stdout(&o));
    for name in ["manifest.json", "manifest.csv"] {
        let read = |d: &Path| std::fs::read_to_string(d.join(name)).unwrap();
        assert!(read(&a).contains("CloudTrail"), "{name} lists the logs");
        assert_eq!(read(&a), read(&b), "{name}");
    }
    assert_eq!(run_on(&["audit", "verify"], &[&b]).status.code(), Some(0));
    // What the case files themselves keep.
    let (c, d) = (dir.path().join("c"), dir.path().join("d"));
    assert_eq!(run_on(&["summary", "-q", "--out"], &[&c, &whole]).status.code(), Some(0));
    assert_eq!(run_on(&["summary", "-q", "--out"], &[&d, &parts]).status.code(), Some(0));
    let manifest = |d: &Path| std::fs::read(d.join("manifest.json")).unwrap();
    assert_eq!(manifest(&c), manifest(&a));
    assert_eq!(manifest(&d), manifest(&a));
}

#[test]
fn generated_evidence_saved_in_segments_keeps_its_correlations() {
    let evidence = tempfile::tempdir().unwrap();
    // Another world than the sample's, in many small files.
    let cfg = trailscope_gen::GenConfig {
        seed: 11,
        events: 1500,
        days: 2,
        max_records_per_file: 40,
        digests: false,
        ..Default::default()
    };
    trailscope_gen::generate(&cfg, evidence.path()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (_, parts) = saved_both_ways(dir.path(), evidence.path());
    correlation_straddles_segments(&parts, evidence.path());
}

#[test]
fn data_heavy_evidence_answers_the_same_from_its_case() {
    // Large payloads (S3 data events, EC2 describe responses) span several payload blocks.
    let evidence = tempfile::tempdir().unwrap();
    let cfg = trailscope_gen::GenConfig {
        seed: 5,
        events: 1500,
        days: 2,
        digests: false,
        profile: trailscope_gen::Profile::DataHeavy,
        ..Default::default()
    };
    trailscope_gen::generate(&cfg, evidence.path()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (whole, _) = saved_both_ways(dir.path(), evidence.path());
    for args in [&["hunt", "-q", "--format", "jsonl"][..], &["events", "-q", "--format", "jsonl"]] {
        let a = run_on(args, &[evidence.path()]);
        let b = run_on(args, &[&whole]);
        assert_eq!(a.status.code(), b.status.code(), "{args:?}: exit status");
        assert!(!stdout(&a).is_empty(), "{args:?}: no output");
        assert!(stdout(&a) == stdout(&b), "{args:?}: output differs between the dump and its case");
    }
}

/// A save in segments tells incomplete evidence as a save at once does: exit 3, one line even
/// with -q, links not followed in the coverage; the case file saved into the case directory is
/// in its audit log; no temporary is left beside it.
#[test]
fn a_save_in_segments_reports_incomplete_evidence_like_a_save_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let ev = dir.path().join("ev");
    for i in 0..4 {
        write(
            &ev,
            &format!("AWSLogs/111122223333/CloudTrail/us-east-1/2024/03/0{}/f{i}.json.gz", i + 1),
            &gz(&s3_body(&records(i * 10, 10))),
        );
    }
    write(&ev, "AWSLogs/111122223333/CloudTrail/us-east-1/2024/03/05/cut.json.gz", b"\x1f\x8b\x08\x00garbage");
    #[cfg(unix)]
    std::os::unix::fs::symlink(ev.join("AWSLogs/111122223333/CloudTrail/us-east-1/2024/03/01"), ev.join("link"))
        .unwrap();
    for (name, budget) in [("whole", "2G"), ("parts", "1K")] {
        let case = dir.path().join(name);
        let save = case.join(format!("{name}.tscase"));
        let o = run_on(&["ingest", "-q", "--max-memory", budget, "--out"], &[&case, Path::new("--save"), &save, &ev]);
        assert_eq!(o.status.code(), Some(3), "{name}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(err.contains("evidence incomplete: 1 files unreadable"), "{name}: {err}");
        #[cfg(unix)]
        assert!(err.contains("1 links not followed"), "{name}: {err}");
        let verified = run_on(&["audit", "verify"], &[&case]);
        assert_eq!(verified.status.code(), Some(0), "{name}: {}", stdout(&verified));
        let left: Vec<_> = std::fs::read_dir(&case)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.'))
            .collect();
        assert!(left.is_empty(), "{name}: temporaries left: {left:?}");
    }
}
