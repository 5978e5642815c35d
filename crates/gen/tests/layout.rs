//! The streamed dump's layout: every record in the 5-minute delivery window its file is named
//! for (across midnight too), one file per window unless split, the event count as configured.

use std::collections::{BTreeMap, HashSet};
use std::io::Read;
use std::path::Path;

use serde_json::Value;
use trailscope_gen::{generate, GenConfig};
use trailscope_store::{chrono_free_iso, days_from_civil};

fn walk(dir: &Path, base: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            walk(&path, base, out);
        } else {
            let rel = path.strip_prefix(base).unwrap().to_string_lossy().replace('\\', "/");
            out.push((rel, std::fs::read(&path).unwrap()));
        }
    }
}

/// `YYYYMMDDTHHMMZ` to epoch ms.
fn compact_ms(s: &str) -> i64 {
    let n = |r: std::ops::Range<usize>| s[r].parse::<i64>().unwrap();
    let days = days_from_civil(n(0..4), n(4..6) as u32, n(6..8) as u32);
    (days * 86_400 + n(9..11) * 3600 + n(11..13) * 60) * 1000
}

#[test]
fn files_hold_their_window_across_midnight_and_the_count_is_exact() {
    let dir = std::env::temp_dir().join(format!("trailscope-gen-{}-layout", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    // Small files, so that busy windows split; three days, so that bursts cross two midnights.
    let cfg = GenConfig { events: 2500, digests: false, max_records_per_file: 40, ..GenConfig::default() };
    let summary = generate(&cfg, &dir).unwrap();
    let mut files = Vec::new();
    walk(&dir, &dir, &mut files);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(files.len(), summary.files);

    let extra: usize = summary.truth.malicious_event_ids.len()
        + summary.truth.confounders.iter().map(|c| c.event_ids.len()).sum::<usize>();
    assert_eq!(summary.records, cfg.events + extra, "background events as configured, plus the attack's");

    let (mut records, mut ids, mut crossing) = (0, HashSet::new(), 0);
    // (account, region, window end) -> record counts of its files.
    let mut windows: BTreeMap<(String, String, i64), Vec<usize>> = BTreeMap::new();
    for (rel, gz) in &files {
        let parts: Vec<&str> = rel.split('/').collect();
        let [_, account, area, region, y, m, d, name] = parts[..] else { panic!("{rel}") };
        assert_eq!(area, "CloudTrail");
        let fields: Vec<&str> = name.split('_').collect();
        assert_eq!((fields[0], fields[1], fields[2]), (account, area, region), "{rel}");
        let end = compact_ms(fields[3]);
        assert_eq!(end % 300_000, 0, "{rel}");
        let start = end - 300_000;
        assert_eq!(&chrono_free_iso(start)[..10], format!("{y}-{m}-{d}"), "{rel}: filed under the window's start day");
        if start.div_euclid(86_400_000) != end.div_euclid(86_400_000) {
            crossing += 1;
        }
        let mut text = String::new();
        flate2::read::GzDecoder::new(&gz[..]).read_to_string(&mut text).unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        let recs = v["Records"].as_array().unwrap();
        assert!(!recs.is_empty() && recs.len() <= cfg.max_records_per_file, "{rel}");
        let mut last = String::new();
        for r in recs {
            let t = r["eventTime"].as_str().unwrap();
            assert!(t >= chrono_free_iso(start).as_str() && t < chrono_free_iso(end).as_str(), "{rel}: {t}");
            assert!(t >= last.as_str(), "{rel}: records out of order");
            last = t.to_owned();
            assert_eq!(r["recipientAccountId"], account);
            assert_eq!(r["awsRegion"], region);
            assert!(ids.insert(r["eventID"].as_str().unwrap().to_owned()), "{rel}: eventID twice");
        }
        records += recs.len();
        windows.entry((account.into(), region.into(), end)).or_default().push(recs.len());
    }
    assert_eq!(records, summary.records);
    assert!(crossing > 0, "no window ending at midnight: the test does not exercise the day boundary");
    // A window is split only when full: all its files but one hold the maximum.
    for (key, counts) in &windows {
        let short = counts.iter().filter(|&&n| n < cfg.max_records_per_file).count();
        assert!(short <= 1, "{key:?} written in pieces: {counts:?}");
    }
}
