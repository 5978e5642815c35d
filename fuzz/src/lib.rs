//! What each fuzz target does with one input, kept apart from the `afl::fuzz!` entry points so
//! that a crash found by a target replays as an ordinary unit test (`regressions` below, and the
//! property tests in the crates themselves).

use std::path::PathBuf;

use trailscope_indicators::sigma::condition;
use trailscope_indicators::{eq, ioc, RuleSet, Vars};
use trailscope_ingest::{ingest, parse_event_time, IngestOptions};

/// A file of `data` read as evidence, the way `trailscope ingest` reads one: gzip detection
/// and inflation, wrapper detection, record parsing, the store. Must never panic; every bad
/// input is a file error or a rejected record.
pub struct FileReader {
    _dir: tempfile::TempDir,
    path: PathBuf,
    opts: IngestOptions,
}

impl FileReader {
    /// A scratch directory for the one evidence file.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("scratch directory");
        // A .json name: the reader then tries every input as JSON, whatever its first bytes.
        let path = dir.path().join("input.json");
        let opts = IngestOptions { threads: 1, ..IngestOptions::default() };
        FileReader { _dir: dir, path, opts }
    }

    /// Read `data` as one evidence file.
    pub fn read(&self, data: &[u8]) {
        std::fs::write(&self.path, data).expect("scratch file");
        let (store, report) = ingest(std::slice::from_ref(&self.path), &self.opts, None).expect("one readable file");
        assert_eq!(report.files.len(), 1, "one file in, one file reported");
        assert_eq!(store.len() as u64, report.files[0].stored, "what the report says was stored, was");
    }
}

impl Default for FileReader {
    fn default() -> Self {
        Self::new()
    }
}

/// A Sigma rule file's text through the loader (YAML, detection, condition, correlation links).
pub fn sigma(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = RuleSet::from_text(text, "fuzz.yml", &Vars::new());
    }
}

/// A condition over three named selections.
pub fn condition(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let selections = [
            ("selection".to_owned(), eq("eventName", &["GetObject"])),
            ("filter_main".to_owned(), eq("errorCode", &["AccessDenied"])),
            ("keywords".to_owned(), eq("userAgent", &["kali"])),
        ];
        let _ = condition::parse(text, &selections);
    }
}

/// Each line of an IOC list.
pub fn ioc(data: &[u8]) {
    for line in String::from_utf8_lossy(data).lines() {
        let _ = ioc::parse_line(line);
    }
}

/// A CloudTrail time (also what `--from`/`--to` accept).
pub fn time(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = parse_event_time(text);
    }
}

#[cfg(test)]
mod regressions {
    //! Every crash a target found, replayed (see fuzz/README.md).

    #[test]
    fn corpus_seeds_run_clean() {
        let reader = super::FileReader::new();
        for (dir, run) in [
            ("sigma", super::sigma as fn(&[u8])),
            ("condition", super::condition),
            ("ioc", super::ioc),
            ("time", super::time),
        ] {
            for e in std::fs::read_dir(format!("{}/corpus/{dir}", env!("CARGO_MANIFEST_DIR"))).unwrap() {
                run(&std::fs::read(e.unwrap().path()).unwrap());
            }
        }
        for e in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/corpus/read_file")).unwrap() {
            reader.read(&std::fs::read(e.unwrap().path()).unwrap());
        }
    }
}
