//! Property: whatever bytes a file holds, reading it never panics and never stops the ingest:
//! each file is read, or named with its error, and the report's counts match the store.

use std::io::Write;

use proptest::prelude::*;
use trailscope_ingest::{ingest, IngestOptions};

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Bytes that look like the start of a CloudTrail file more often than chance would.
fn evidence_like() -> impl Strategy<Value = Vec<u8>> {
    let record = r#"{"eventTime":"2024-05-01T10:00:00Z","eventName":"GetObject","eventSource":"s3.amazonaws.com","eventID":"E","recipientAccountId":"111122223333"}"#;
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..512),
        proptest::collection::vec(any::<u8>(), 0..256).prop_map(|tail| [b"{\"Records\":[".as_slice(), &tail].concat()),
        (0usize..record.len(), proptest::collection::vec(any::<u8>(), 0..64)).prop_map(move |(cut, tail)| {
            [b"{\"Records\":[".as_slice(), record.as_bytes(), b",", &record.as_bytes()[..cut], &tail].concat()
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_never_panic_the_reader(data in evidence_like(), cut in 0usize..64) {
        let dir = tempfile::tempdir().unwrap();
        let packed = gz(&data);
        let truncated = &packed[..packed.len().saturating_sub(cut)];
        for (name, bytes) in [("raw.json", &data[..]), ("packed.json.gz", &packed[..]), ("cut.json.gz", truncated)] {
            std::fs::write(dir.path().join(name), bytes).unwrap();
        }
        let opts = IngestOptions { threads: 1, ..IngestOptions::default() };
        let (store, report) = ingest(&[dir.path().to_path_buf()], &opts, None).unwrap();
        prop_assert_eq!(report.files.len(), 3);
        prop_assert_eq!(store.len() as u64, report.stored());
        for f in &report.files {
            prop_assert!(f.stored + f.duplicates + f.rejected <= f.records, "{}: {:?}", f.path, f);
        }
    }
}
