//! `trailscope verify` detects every kind of tampering on a copy of a generated dump; manifests
//! are reproducible; the case audit log catches edited outputs.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};

use common::*;

/// A fresh generated dump with digests, plus its signatures and public keys files.
fn dump() -> (tempfile::TempDir, PathBuf, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let evidence = dir.path().join("evidence");
    let cfg = trailscope_gen::GenConfig { events: 600, days: 2, seed: 3, ..Default::default() };
    let s = trailscope_gen::generate(&cfg, &evidence).unwrap();
    let sigs = dir.path().join("signatures.json");
    let keys = dir.path().join("public-keys.json");
    std::fs::write(&sigs, serde_json::to_vec(&s.signatures).unwrap()).unwrap();
    std::fs::write(&keys, serde_json::to_vec(&s.public_keys).unwrap()).unwrap();
    (dir, evidence, sigs, keys)
}

fn files(dir: &Path, area: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> =
        walk(dir).into_iter().filter(|p| p.to_string_lossy().contains(&format!("/{area}/"))).collect();
    out.sort();
    out
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn gunzip(p: &Path) -> String {
    let mut s = String::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(p).unwrap()).read_to_string(&mut s).unwrap();
    s
}

fn verify(evidence: &Path, extra: &[&str]) -> (i32, String) {
    let mut args = vec!["verify", "--quiet", "--gap", "0"];
    args.extend_from_slice(extra);
    let o = run_on(&args, &[evidence]);
    (o.status.code().unwrap(), stdout(&o))
}

/// The log file with the most records (so a digest certainly lists it).
fn a_log(evidence: &Path) -> PathBuf {
    files(evidence, "CloudTrail").into_iter().max_by_key(|p| std::fs::metadata(p).unwrap().len()).unwrap()
}

/// A digest in the middle of a chain that lists at least one log file.
fn a_digest(evidence: &Path) -> PathBuf {
    let all = files(evidence, "CloudTrail-Digest");
    all[all.len() / 2..].iter().find(|p| gunzip(p).contains("\"hashValue\"")).unwrap().clone()
}

#[test]
fn untouched_dump_is_intact_with_every_signature_valid() {
    let (_d, ev, sigs, keys) = dump();
    let (code, out) = verify(&ev, &["--signatures", sigs.to_str().unwrap(), "--public-keys", keys.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Integrity: INTACT"), "{out}");
    assert!(out.contains(" 0 invalid, 0 not checked"), "{out}");
    // Without the keys nothing proves the digests are AWS's: never a bare INTACT, never clean.
    let (code, out) = verify(&ev, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("Integrity: HASHES AND CHAIN INTACT, signatures NOT checked"), "{out}");
    assert!(out.contains("digest signatures were NOT checked"), "{out}");
    let o = run_on(&["verify", "--quiet", "--format", "markdown"], &[&ev]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("verify writes text or json"), "{}", stderr(&o));
}

#[test]
fn logs_without_digests_are_not_verifiable() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.json", &s3_body(&records(0, 3)));
    let (code, out) = verify(dir.path(), &[]);
    assert_eq!(code, 1);
    assert!(out.contains("Integrity: NOT VERIFIABLE"), "{out}");
}

#[test]
fn modified_log_is_named() {
    let (_d, ev, _, _) = dump();
    let log = a_log(&ev);
    let text =
        gunzip(&log).replacen("198.51.100", "198.51.199", 1).replacen("\"eventName\":\"", "\"eventName\":\"X", 1);
    std::fs::write(&log, gz(text.as_bytes())).unwrap();
    let (code, out) = verify(&ev, &[]);
    assert_eq!(code, 1);
    assert!(out.contains(&format!("log file modified: {}", log.display())), "{out}");
}

#[test]
fn deleted_log_is_named() {
    let (_d, ev, _, _) = dump();
    let log = a_log(&ev);
    std::fs::remove_file(&log).unwrap();
    let key = log.to_string_lossy().split_once("evidence/").unwrap().1.to_owned();
    let (code, out) = verify(&ev, &[]);
    assert_eq!(code, 1);
    assert!(out.contains(&format!("log file missing (deleted?): {key}")), "{out}");
}

#[test]
fn injected_log_is_named() {
    let (_d, ev, _, _) = dump();
    let log = a_log(&ev);
    let fake = log.with_file_name(log.file_name().unwrap().to_string_lossy().replace(".json.gz", "X.json.gz"));
    let text = gunzip(&log).replace("\"eventID\":\"", "\"eventID\":\"f");
    std::fs::write(&fake, gz(text.as_bytes())).unwrap();
    let (code, out) = verify(&ev, &[]);
    assert_eq!(code, 1);
    assert!(
        out.contains(&format!("log file listed in no digest (injected, or from another trail): {}", fake.display())),
        "{out}"
    );
}

#[test]
fn deleted_digest_is_named() {
    let (_d, ev, _, _) = dump();
    let digest = a_digest(&ev);
    std::fs::remove_file(&digest).unwrap();
    let name = digest.file_name().unwrap().to_string_lossy().into_owned();
    let (code, out) = verify(&ev, &[]);
    assert_eq!(code, 1);
    assert!(out.lines().any(|l| l.contains("digest missing (deleted?)") && l.contains(&name)), "{out}");
}

#[test]
fn edited_digest_is_named_and_its_signature_fails() {
    let (_d, ev, sigs, keys) = dump();
    let digest = a_digest(&ev);
    let text = gunzip(&digest);
    let at = text.find("\"hashValue\":\"").unwrap() + 13;
    let mut edited = text.clone();
    edited.replace_range(at..at + 4, "0000");
    std::fs::write(&digest, gz(edited.as_bytes())).unwrap();
    let (code, out) = verify(&ev, &["--signatures", sigs.to_str().unwrap(), "--public-keys", keys.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(out.contains(&format!("digest modified: {}", digest.display())), "{out}");
    assert!(
        out.contains(&format!("digest signature invalid: {}: signature does not match", digest.display())),
        "{out}"
    );
    assert!(out.contains("log file modified"), "the log no longer matches the edited hash: {out}");
}

#[test]
fn manifest_is_reproducible_and_the_audit_log_catches_edits() {
    let case1 = tempfile::tempdir().unwrap();
    let case2 = tempfile::tempdir().unwrap();
    let a = run_on(&["analyze", "--quiet", "--out", case1.path().to_str().unwrap()], &[&sample()]);
    assert_eq!(a.status.code(), Some(1));
    let b = run_on(&["ingest", "--quiet", "-j", "1", "--out", case2.path().to_str().unwrap()], &[&sample()]);
    assert_eq!(b.status.code(), Some(0));
    let m1 = std::fs::read(case1.path().join("manifest.json")).unwrap();
    assert_eq!(m1, std::fs::read(case2.path().join("manifest.json")).unwrap(), "same evidence, same manifest bytes");
    let csv = std::fs::read_to_string(case1.path().join("manifest.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + walk(&sample()).len(), "header plus every file of the sample");
    assert_eq!(
        std::fs::read(case1.path().join("report.txt")).unwrap(),
        a.stdout,
        "the saved report is what was printed"
    );

    let keys = testdata().join("sample-public-keys.json");
    let sigs = testdata().join("sample-signatures.json");
    let v = run_on(
        &[
            "verify",
            "--quiet",
            "--signatures",
            sigs.to_str().unwrap(),
            "--public-keys",
            keys.to_str().unwrap(),
            "--out",
            case1.path().to_str().unwrap(),
        ],
        &[&sample()],
    );
    assert_eq!(v.status.code(), Some(0), "{}", stdout(&v));
    let audit = run(&["audit", "verify", case1.path().to_str().unwrap()]);
    assert_eq!(audit.status.code(), Some(0), "{}", stdout(&audit));
    assert!(stdout(&audit).contains("2 entries"));
    let log = std::fs::read_to_string(case1.path().join("audit.jsonl")).unwrap();
    let first: serde_json::Value = serde_json::from_str(log.lines().next().unwrap()).unwrap();
    assert_eq!(first["manifest_sha256"].as_str().unwrap(), trailscope_integrity_sha(&m1));
    assert!(
        stdout(&a).contains(&format!("SHA-256 {}", trailscope_integrity_sha(&m1))),
        "the report names its manifest"
    );
    assert!(
        std::str::from_utf8(&m1).unwrap().contains("\"path\": \"sample/AWSLogs/"),
        "manifest paths do not depend on where the evidence sits"
    );
    assert!(first["rule_set_sha256"].is_string());

    std::fs::write(case1.path().join("report.txt"), b"nothing happened\n").unwrap();
    let audit = run(&["audit", "verify", case1.path().to_str().unwrap()]);
    assert_eq!(audit.status.code(), Some(1));
    assert!(
        stdout(&audit).contains("entry 1: output report.txt was modified after it was written"),
        "{}",
        stdout(&audit)
    );
}

fn trailscope_integrity_sha(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}
