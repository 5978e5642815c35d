//! CloudTrail digest files for a generated dump, in AWS's format, signed with a test key.
//!
//! One digest per hour per account and region (CloudTrail delivers them even for hours without
//! log files), chained through `previousDigest*`. Each lists the log files delivered in its hour
//! with the SHA-256 of their *uncompressed* content. The signature (S3 object metadata in real
//! life) goes to a separate signatures file; the public key to a `list-public-keys`-shaped file.
//! The key is a throwaway test key committed with the generator; never use it for anything else.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use base64::Engine;
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPublicKey};
use rsa::{Pkcs1v15Sign, RsaPrivateKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use trailscope_store::{chrono_free_iso, civil_from_days};

/// The committed test signing key (PKCS#1 DER, RSA 2048).
const TEST_KEY: &[u8] = include_bytes!("../keys/test-signing-key.pkcs1.der");

/// Bucket name the generated trail delivers to.
pub const BUCKET: &str = "acme-cloudtrail-archive";
/// Trail name.
pub const TRAIL: &str = "management-events";

/// A log file as delivered, for the digests.
#[derive(Clone, Debug)]
pub struct Delivered {
    /// Account.
    pub account: String,
    /// Region.
    pub region: String,
    /// S3 key (`AWSLogs/...`).
    pub key: String,
    /// Delivery time (epoch ms; the time in the file name).
    pub delivered_ms: i64,
    /// Hex SHA-256 of the uncompressed file.
    pub sha256: String,
    /// Oldest and newest event times (epoch ms).
    pub oldest_ms: i64,
    /// Newest event time.
    pub newest_ms: i64,
}

fn key() -> RsaPrivateKey {
    RsaPrivateKey::from_pkcs1_der(TEST_KEY).expect("committed test key parses")
}

/// The public key's fingerprint as written in digests and the public-keys file.
pub fn fingerprint() -> String {
    let der = key().to_public_key().to_pkcs1_der().expect("encode public key");
    hex::encode(&Sha256::digest(der.as_bytes())[..16])
}

fn compact_time(ms: i64, with_seconds: bool) -> String {
    let iso = chrono_free_iso(ms / 1000 * 1000);
    let digits: String = iso.chars().filter(|c| c.is_ascii_digit()).collect();
    let (date, time) = digits.split_at(8);
    if with_seconds {
        format!("{date}T{time}Z")
    } else {
        format!("{date}T{}Z", &time[..4])
    }
}

/// Write hourly digests from `first_ms` to `last_ms` for every (account, region) seen, plus
/// `signatures.json`-style and `public-keys.json`-style values returned for the caller to save.
/// Returns `(digest files written, signatures map, public keys document)`.
pub fn write_digests(
    out: &Path,
    delivered: &[Delivered],
    first_ms: i64,
    last_ms: i64,
) -> std::io::Result<(usize, Value, Value)> {
    let key = key();
    let fp = fingerprint();
    let mut by_stream: BTreeMap<(String, String), Vec<&Delivered>> = BTreeMap::new();
    for d in delivered {
        by_stream.entry((d.account.clone(), d.region.clone())).or_default().push(d);
    }
    let hour = 3_600_000;
    let start = first_ms.div_euclid(hour) * hour;
    let mut signatures = serde_json::Map::new();
    let mut files = 0;
    for ((account, region), mut logs) in by_stream {
        logs.sort_by(|a, b| (a.delivered_ms, &a.key).cmp(&(b.delivered_ms, &b.key)));
        let mut prev: Option<(String, String, String)> = None; // (s3 key, sha256, signature)
        let mut t = start;
        while t <= last_ms + hour {
            // Digest windows end 31 s past the hour, as real ones drift past it.
            let (from, to) = (t + 31_000, t + hour + 31_000);
            let in_window: Vec<&&Delivered> =
                logs.iter().filter(|d| d.delivered_ms >= from && d.delivered_ms < to).collect();
            let (y, m, dd) = civil_from_days(to.div_euclid(86_400_000));
            let name =
                format!("{account}_CloudTrail-Digest_{region}_{TRAIL}_{region}_{}.json.gz", compact_time(to, true));
            let s3_key = format!("AWSLogs/{account}/CloudTrail-Digest/{region}/{y:04}/{m:02}/{dd:02}/{name}");
            let oldest = in_window.iter().map(|d| d.oldest_ms).min();
            let newest = in_window.iter().map(|d| d.newest_ms).max();
            let doc = json!({
                "awsAccountId": account,
                "digestStartTime": chrono_free_iso(from),
                "digestEndTime": chrono_free_iso(to),
                "digestS3Bucket": BUCKET,
                "digestS3Object": s3_key,
                "digestPublicKeyFingerprint": fp,
                "digestSignatureAlgorithm": "SHA256withRSA",
                "newestEventTime": newest.map(chrono_free_iso),
                "oldestEventTime": oldest.map(chrono_free_iso),
                "previousDigestS3Bucket": prev.as_ref().map(|_| BUCKET),
                "previousDigestS3Object": prev.as_ref().map(|p| p.0.clone()),
                "previousDigestHashValue": prev.as_ref().map(|p| p.1.clone()),
                "previousDigestHashAlgorithm": prev.as_ref().map(|_| "SHA-256"),
                "previousDigestSignature": prev.as_ref().map(|p| p.2.clone()),
                "logFiles": in_window.iter().map(|d| json!({
                    "s3Bucket": BUCKET,
                    "s3Object": d.key,
                    "hashValue": d.sha256,
                    "hashAlgorithm": "SHA-256",
                    "newestEventTime": chrono_free_iso(d.newest_ms),
                    "oldestEventTime": chrono_free_iso(d.oldest_ms),
                })).collect::<Vec<_>>(),
            });
            let body = serde_json::to_vec(&doc)?;
            let sha = hex::encode(Sha256::digest(&body));
            let prev_sig = prev.as_ref().map(|p| p.2.clone()).unwrap_or_else(|| "null".into());
            let to_sign = format!("{}\n{BUCKET}/{s3_key}\n{sha}\n{prev_sig}", chrono_free_iso(to));
            let sig = key
                .sign(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(to_sign.as_bytes()))
                .map_err(std::io::Error::other)?;
            let sig = hex::encode(sig);
            let path = out.join(&s3_key);
            std::fs::create_dir_all(path.parent().expect("digest path has a parent"))?;
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
            enc.write_all(&body)?;
            std::fs::write(&path, enc.finish()?)?;
            signatures.insert(s3_key.clone(), Value::String(sig.clone()));
            prev = Some((s3_key, sha, sig));
            files += 1;
            t += hour;
        }
    }
    let public = key.to_public_key().to_pkcs1_der().map_err(std::io::Error::other)?;
    let keys = json!({"PublicKeyList": [{
        "Value": base64::engine::general_purpose::STANDARD.encode(public.as_bytes()),
        "ValidityStartTime": chrono_free_iso(start),
        "ValidityEndTime": chrono_free_iso(last_ms + 30 * 86_400_000),
        "Fingerprint": fp,
    }]});
    Ok((files, Value::Object(signatures), keys))
}

/// Compact S3 file-name time (`YYYYMMDDTHHmmZ`) of the log files, shared with the writer.
pub fn log_name_time(ms: i64) -> String {
    compact_time(ms, false)
}
