//! Shared test vocabulary: run the binary, build real-shaped CloudTrail files, compare goldens.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository's testdata directory.
pub fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
}

/// The bundled sample dump.
pub fn sample() -> PathBuf {
    testdata().join("sample")
}

/// Run `trailscope` with arguments.
pub fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trailscope")).args(args).output().expect("run trailscope")
}

/// Run with path arguments appended.
pub fn run_on(args: &[&str], paths: &[&Path]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trailscope"));
    cmd.args(args);
    for p in paths {
        cmd.arg(p);
    }
    cmd.output().expect("run trailscope")
}

/// stdout as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A real-shaped CloudTrail record (IAM user calling an API), unique by `n`.
pub fn record(n: usize, event_name: &str) -> serde_json::Value {
    serde_json::json!({
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "IAMUser", "principalId": "AIDAEXAMPLEPRINCIPAL1", "arn": "arn:aws:iam::111122223333:user/tester",
            "accountId": "111122223333", "accessKeyId": "AKIAEXAMPLEKEY000001", "userName": "tester"
        },
        "eventTime": format!("2024-05-01T10:{:02}:{:02}Z", (n / 60) % 60, n % 60),
        "eventSource": "ec2.amazonaws.com",
        "eventName": event_name,
        "awsRegion": "eu-west-1",
        "sourceIPAddress": "198.51.100.10",
        "userAgent": "aws-cli/2.15.30 Python/3.11.8 Linux/6.1 exe/x86_64 prompt/off",
        "requestParameters": {"instancesSet": {"items": [{"instanceId": format!("i-0{n:016x}")}]}, "filterSet": {}},
        "responseElements": null,
        "requestID": format!("a1b2c3d4-0000-4000-8000-{n:012}"),
        "eventID": format!("e0e0e0e0-0000-4000-8000-{n:012}"),
        "readOnly": true,
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": "111122223333",
        "eventCategory": "Management",
        "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256", "clientProvidedHostHeader": "ec2.eu-west-1.amazonaws.com"}
    })
}

/// `count` records starting at `first`.
pub fn records(first: usize, count: usize) -> Vec<serde_json::Value> {
    (first..first + count).map(|n| record(n, "DescribeInstances")).collect()
}

/// gzip bytes.
pub fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// S3 delivery body.
pub fn s3_body(recs: &[serde_json::Value]) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({ "Records": recs })).unwrap()
}

/// Write a file, creating parents.
pub fn write(dir: &Path, rel: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, bytes).unwrap();
    p
}

/// The value after `label` on the line that starts with it in `ingest` output.
pub fn line<'a>(out: &'a str, label: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(label))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no line {label:?} in:\n{out}"))
}

/// Compare with a golden file; `UPDATE_GOLDEN=1` rewrites it instead.
pub fn assert_golden(name: &str, got: &str) {
    let path = testdata().join("golden").join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("missing golden file {} (run with UPDATE_GOLDEN=1)", path.display()));
    if want != got {
        let diff: Vec<String> = want
            .lines()
            .zip(got.lines())
            .enumerate()
            .filter(|(_, (a, b))| a != b)
            .take(10)
            .map(|(i, (a, b))| format!("line {}:\n  want: {a}\n  got:  {b}", i + 1))
            .collect();
        panic!(
            "{} differs from the output ({} vs {} lines); rerun with UPDATE_GOLDEN=1 if the change is intended\n{}",
            path.display(),
            want.lines().count(),
            got.lines().count(),
            diff.join("\n")
        );
    }
}

/// Fixture enrichment databases for the sample, written into `dir`; returns the flags naming
/// them. The intruder's two networks are a Tor exit host (DE) and a VPS (NL); the owner's office
/// is an ISP; CI, the app servers and the Glue job run in EC2 us-east-1, as in life.
pub fn enrichment_flags(dir: &Path) -> Vec<String> {
    let amazon = "AMAZON-AES";
    let s = trailscope_enrich::testing::write_sources(
        dir,
        &[
            ("185.220.101.0/24", "DE", "Germany", Some("Frankfurt am Main")),
            ("45.137.21.0/24", "NL", "Netherlands", Some("Amsterdam")),
            ("198.51.100.0/24", "US", "United States", Some("Seattle")),
            ("203.0.113.0/24", "US", "United States", Some("Seattle")),
            ("52.20.0.0/14", "US", "United States", Some("Ashburn")),
            ("54.208.0.0/13", "US", "United States", Some("Ashburn")),
            ("44.192.0.0/11", "US", "United States", Some("Ashburn")),
        ],
        &[
            ("185.220.100.0/22", 64500, "Example Exit Hosting"),
            ("45.137.20.0/22", 64501, "Example VPS B.V."),
            ("198.51.100.0/24", 64502, "Example Office ISP"),
            ("203.0.113.0/24", 64502, "Example Office ISP"),
            ("52.20.0.0/14", 14618, amazon),
            ("54.208.0.0/13", 14618, amazon),
            ("44.192.0.0/11", 14618, amazon),
        ],
        &[
            ("52.0.0.0/11", "us-east-1", "AMAZON"),
            ("52.20.0.0/14", "us-east-1", "EC2"),
            ("54.208.0.0/13", "us-east-1", "AMAZON"),
            ("54.208.0.0/13", "us-east-1", "EC2"),
            ("44.192.0.0/11", "us-east-1", "AMAZON"),
            ("44.192.0.0/11", "us-east-1", "EC2"),
            ("52.94.0.0/22", "us-east-1", "DYNAMODB"),
            ("2600:1f18::/33", "us-east-1", "EC2"),
        ],
    );
    let path = |p: Option<PathBuf>| p.unwrap().to_str().unwrap().to_owned();
    vec!["--geoip".into(), path(s.geoip), "--asn".into(), path(s.asn), "--aws-ranges".into(), path(s.aws_ranges)]
}
