//! Offline log file validation: digests against the log files on disk, the digest chain, time
//! gaps, and (with public keys) the digests' RSA signatures.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;
use trailscope_ingest::{FileKind, FileOutcome, IngestReport};
use trailscope_store::{chrono_free_iso, Field, Store};

use crate::digest::DigestDoc;
use crate::signature::PublicKeys;

/// What validation needs besides the evidence.
#[derive(Clone, Debug, Default)]
pub struct VerifyOptions {
    /// Digest signatures (S3 `x-amz-meta-signature`) by digest S3 key or file name.
    pub signatures: HashMap<String, String>,
    /// Public keys from `list-public-keys`.
    pub public_keys: Option<PublicKeys>,
    /// Report event gaps longer than this per account and region (milliseconds).
    pub event_gap_ms: i64,
}

/// One problem found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Problem {
    /// A log file a digest lists is not in the evidence (deleted, or not synced).
    MissingLog {
        /// The digest listing it.
        digest: String,
        /// Its S3 key.
        log: String,
    },
    /// A log file's content differs from what its digest recorded.
    ModifiedLog {
        /// The file.
        path: String,
        /// Hash the digest recorded.
        expected: String,
        /// Hash of the file now.
        actual: String,
        /// The digest.
        digest: String,
    },
    /// A log file no digest lists although digests cover its delivery time.
    UnlistedLog {
        /// The file.
        path: String,
    },
    /// A digest named as previous by the next one is not in the evidence.
    MissingDigest {
        /// Its S3 key.
        digest: String,
        /// The digest that names it.
        referenced_by: String,
    },
    /// A digest's content differs from the hash its successor recorded.
    ModifiedDigest {
        /// The file.
        path: String,
        /// Hash recorded by the successor.
        expected: String,
        /// Hash of the file now.
        actual: String,
        /// The successor.
        referenced_by: String,
    },
    /// Hours with no digest inside a chain.
    DigestGap {
        /// The chain (bucket/account/region_trail_region).
        stream: String,
        /// End of the last digest before the gap.
        from: String,
        /// Start of the first digest after it.
        to: String,
    },
    /// A digest starts a new chain after an earlier one: validation or logging was off between.
    ChainRestart {
        /// The chain.
        stream: String,
        /// The digest starting again.
        digest: String,
    },
    /// A digest signature does not verify.
    BadSignature {
        /// The digest file.
        path: String,
        /// Why.
        reason: String,
    },
    /// A digest file that cannot be read as a digest.
    UnreadableDigest {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::MissingLog { digest, log } => write!(f, "log file missing (deleted?): {log} (listed in {digest})"),
            Problem::ModifiedLog { path, expected, actual, digest } => {
                write!(f, "log file modified: {path}: SHA-256 of its content is {actual}, digest {digest} recorded {expected}")
            }
            Problem::UnlistedLog { path } => {
                write!(f, "log file listed in no digest (injected, or from another trail): {path}")
            }
            Problem::MissingDigest { digest, referenced_by } => {
                write!(f, "digest missing (deleted?): {digest} (previous digest of {referenced_by})")
            }
            Problem::ModifiedDigest { path, expected, actual, referenced_by } => {
                write!(
                    f,
                    "digest modified: {path}: SHA-256 is {actual}, the next digest {referenced_by} recorded {expected}"
                )
            }
            Problem::DigestGap { stream, from, to } => {
                write!(f, "no digest from {from} to {to} in {stream} (logging stopped or digests deleted)")
            }
            Problem::ChainRestart { stream, digest } => {
                write!(f, "digest chain restarts in {stream} at {digest} (logging or validation was off before it)")
            }
            Problem::BadSignature { path, reason } => write!(f, "digest signature invalid: {path}: {reason}"),
            Problem::UnreadableDigest { path, reason } => write!(f, "digest unreadable: {path}: {reason}"),
        }
    }
}

/// A stretch without events for an account and region (information, not a failure: quiet
/// regions are normal).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EventGap {
    /// Account (recipient).
    pub account: String,
    /// Region.
    pub region: String,
    /// Last event before.
    pub from: String,
    /// First event after.
    pub to: String,
}

/// What signature checking could do.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SignatureSummary {
    /// Signatures that verified.
    pub valid: usize,
    /// Signatures that did not.
    pub invalid: usize,
    /// Digests whose signature was not available or not checked.
    pub unchecked: usize,
    /// Why signatures were not checked at all, if so.
    pub not_checked_because: Option<String>,
}

/// The outcome of `verify`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// Digest files read.
    pub digests: usize,
    /// Digest chains (bucket/account/region/trail).
    pub chains: usize,
    /// Log files in the evidence.
    pub log_files: usize,
    /// Log files whose hash matched a digest.
    pub log_files_verified: usize,
    /// Log files delivered after the newest digest of their chain (not yet covered).
    pub log_files_not_yet_covered: usize,
    /// Problems (any problem means the evidence is not proven intact).
    pub problems: Vec<Problem>,
    /// Signatures.
    pub signatures: SignatureSummary,
    /// Event gaps per account and region.
    pub event_gaps: Vec<EventGap>,
}

impl VerifyReport {
    /// True when nothing contradicts integrity.
    pub fn intact(&self) -> bool {
        self.problems.is_empty() && self.verifiable()
    }

    /// False when there are log files but no digest to check them against: nothing is proven.
    pub fn verifiable(&self) -> bool {
        self.digests > 0 || self.log_files == 0
    }
}

/// The S3-style key of a local file: its path from `AWSLogs/` on, else its file name.
fn local_key(path: &str) -> String {
    let p = path.replace('\\', "/");
    match p.find("AWSLogs/") {
        Some(i) => p[i..].to_owned(),
        None => p.rsplit('/').next().unwrap_or(&p).to_owned(),
    }
}

fn base_name(key: &str) -> &str {
    key.rsplit('/').next().unwrap_or(key)
}

/// Delivery time in a log file's name (`..._YYYYMMDDTHHmmZ_xxxx.json.gz`), as epoch ms.
fn delivery_ms(name: &str) -> Option<i64> {
    let part =
        name.split('_').find(|p| p.len() == 14 && p.is_ascii() && p.as_bytes()[8] == b'T' && p.ends_with('Z'))?;
    let iso = format!("{}-{}-{}T{}:{}:00Z", &part[0..4], &part[4..6], &part[6..8], &part[9..11], &part[11..13]);
    trailscope_ingest::parse_event_time(&iso)
}

struct Local<'a> {
    by_key: HashMap<String, &'a FileOutcome>,
    by_name: HashMap<String, Vec<&'a FileOutcome>>,
}

impl<'a> Local<'a> {
    fn new(files: impl Iterator<Item = &'a FileOutcome>) -> Self {
        let mut by_key = HashMap::new();
        let mut by_name: HashMap<String, Vec<&FileOutcome>> = HashMap::new();
        for f in files {
            let k = local_key(&f.path);
            by_name.entry(base_name(&k).to_owned()).or_default().push(f);
            by_key.insert(k, f);
        }
        Local { by_key, by_name }
    }
    /// Find the local copy of an S3 key: same key, else the one file with the same name.
    fn find(&self, key: &str) -> Option<&'a FileOutcome> {
        self.by_key.get(key).copied().or_else(|| match self.by_name.get(base_name(key)).map(Vec::as_slice) {
            Some([one]) => Some(*one),
            _ => None,
        })
    }
}

/// Validate the evidence. `report` must come from an ingest with `hash_uncompressed` on.
pub fn verify(store: &Store, report: &IngestReport, opts: &VerifyOptions) -> VerifyReport {
    let mut out = VerifyReport::default();
    let logs: Vec<&FileOutcome> =
        report.files.iter().filter(|f| matches!(f.kind, FileKind::Log | FileKind::Insight)).collect();
    out.log_files = logs.len();
    let local_logs = Local::new(logs.iter().copied());
    let digest_files: Vec<&FileOutcome> = report.files.iter().filter(|f| f.kind == FileKind::Digest).collect();
    let local_digests = Local::new(digest_files.iter().copied());
    out.digests = digest_files.len();

    let mut docs: Vec<(&FileOutcome, DigestDoc)> = Vec::new();
    for f in &digest_files {
        match f.digest.as_deref().map(DigestDoc::parse) {
            Some(Ok(d)) => docs.push((f, d)),
            Some(Err(e)) => out.problems.push(Problem::UnreadableDigest { path: f.path.clone(), reason: e }),
            None => out.problems.push(Problem::UnreadableDigest {
                path: f.path.clone(),
                reason: "content not kept (too large)".into(),
            }),
        }
    }

    // Every log file each digest lists: present, and with the recorded content.
    let mut listed: HashSet<&str> = HashSet::new();
    for (f, d) in &docs {
        for lf in &d.log_files {
            match local_logs.find(&lf.s3_object) {
                None => out.problems.push(Problem::MissingLog { digest: f.path.clone(), log: lf.s3_object.clone() }),
                Some(local) => {
                    listed.insert(local.path.as_str());
                    let actual = local.sha256_uncompressed.clone().unwrap_or_default();
                    if actual.eq_ignore_ascii_case(&lf.hash_value) {
                        out.log_files_verified += 1;
                    } else {
                        out.problems.push(Problem::ModifiedLog {
                            path: local.path.clone(),
                            expected: lf.hash_value.clone(),
                            actual,
                            digest: f.path.clone(),
                        });
                    }
                }
            }
        }
    }

    // Chains: per stream in time order; each digest vouches for its predecessor's hash and
    // carries its predecessor's signature.
    let mut streams: BTreeMap<String, Vec<(&FileOutcome, &DigestDoc)>> = BTreeMap::new();
    for (f, d) in &docs {
        streams.entry(d.stream()).or_default().push((f, d));
    }
    out.chains = streams.len();
    let mut known_sigs: HashMap<&str, String> = HashMap::new();
    let mut coverage: HashMap<(String, String), i64> = HashMap::new();
    for (stream, chain) in &mut streams {
        chain.sort_by(|a, b| a.1.digest_end_time.cmp(&b.1.digest_end_time));
        for (i, (f, d)) in chain.iter().enumerate() {
            let end = trailscope_ingest::parse_event_time(&d.digest_end_time).unwrap_or(0);
            let region = d.digest_s3_object.split('/').nth(3).unwrap_or_default().to_owned();
            let slot = coverage.entry((d.aws_account_id.clone(), region)).or_insert(end);
            *slot = (*slot).max(end);
            match (&d.previous_digest_s3_object, i) {
                (None, 0) => {}
                (None, _) => {
                    out.problems.push(Problem::ChainRestart { stream: stream.clone(), digest: f.path.clone() })
                }
                (Some(prev_key), _) => match local_digests.find(prev_key) {
                    None => out
                        .problems
                        .push(Problem::MissingDigest { digest: prev_key.clone(), referenced_by: f.path.clone() }),
                    Some(prev) => {
                        let actual = prev.sha256_uncompressed.clone().unwrap_or_default();
                        let expected = d.previous_digest_hash_value.clone().unwrap_or_default();
                        if !actual.eq_ignore_ascii_case(&expected) {
                            out.problems.push(Problem::ModifiedDigest {
                                path: prev.path.clone(),
                                expected,
                                actual,
                                referenced_by: f.path.clone(),
                            });
                        }
                        if let Some(sig) = &d.previous_digest_signature {
                            known_sigs.insert(prev.path.as_str(), sig.clone());
                        }
                    }
                },
            }
            if i > 0 {
                let prev_end = &chain[i - 1].1.digest_end_time;
                let (a, b) = (
                    trailscope_ingest::parse_event_time(prev_end),
                    trailscope_ingest::parse_event_time(&d.digest_start_time),
                );
                if let (Some(a), Some(b)) = (a, b) {
                    if b - a > 60_000 {
                        out.problems.push(Problem::DigestGap {
                            stream: stream.clone(),
                            from: prev_end.clone(),
                            to: d.digest_start_time.clone(),
                        });
                    }
                }
            }
        }
    }

    // Log files in no digest: suspicious where digests cover their delivery time.
    for f in &logs {
        if listed.contains(f.path.as_str()) {
            continue;
        }
        let covered_until = f.archive.as_ref().and_then(|a| coverage.get(&(a.account.clone(), a.region.clone())));
        let delivered = delivery_ms(base_name(&f.path));
        match (covered_until, delivered) {
            (Some(until), Some(at)) if at > *until => out.log_files_not_yet_covered += 1,
            (None, _) if docs.is_empty() => {}
            _ => out.problems.push(Problem::UnlistedLog { path: f.path.clone() }),
        }
    }

    // Signatures: from --signatures, and each digest's from its successor.
    match &opts.public_keys {
        None => {
            out.signatures.unchecked = docs.len();
            out.signatures.not_checked_because =
                Some("no --public-keys given: digest signatures were NOT checked".into());
        }
        Some(keys) => {
            for (f, d) in &docs {
                let given = opts
                    .signatures
                    .get(&d.digest_s3_object)
                    .or_else(|| opts.signatures.get(base_name(&f.path)))
                    .or_else(|| opts.signatures.get(&f.path))
                    .cloned()
                    .or_else(|| known_sigs.get(f.path.as_str()).cloned());
                let Some(sig) = given else {
                    out.signatures.unchecked += 1;
                    continue;
                };
                let sha = f.sha256_uncompressed.clone().unwrap_or_default();
                let fp = d.digest_public_key_fingerprint.clone().unwrap_or_default();
                match keys.verify(&fp, &d.string_to_sign(&sha), &sig) {
                    Ok(()) => out.signatures.valid += 1,
                    Err(reason) => {
                        out.signatures.invalid += 1;
                        out.problems.push(Problem::BadSignature { path: f.path.clone(), reason });
                    }
                }
            }
            if out.signatures.unchecked > 0 && opts.signatures.is_empty() {
                out.signatures.not_checked_because = Some(format!(
                    "{} digests (the newest of each chain) have no known signature: give --signatures to check them",
                    out.signatures.unchecked
                ));
            }
        }
    }

    out.event_gaps = event_gaps(store, opts.event_gap_ms);
    out
}

fn event_gaps(store: &Store, gap_ms: i64) -> Vec<EventGap> {
    if gap_ms <= 0 {
        return Vec::new();
    }
    let (acct, region) = (store.column(Field::RecipientAccount), store.column(Field::AwsRegion));
    let mut last: HashMap<(u32, u32), i64> = HashMap::new();
    let mut gaps = Vec::new();
    for (row, &t) in store.times().iter().enumerate() {
        let key = (acct.get(row).0, region.get(row).0);
        if let Some(prev) = last.insert(key, t) {
            if t - prev > gap_ms {
                gaps.push(EventGap {
                    account: store.dict(Field::RecipientAccount).get(acct.get(row)).to_owned(),
                    region: store.dict(Field::AwsRegion).get(region.get(row)).to_owned(),
                    from: chrono_free_iso(prev),
                    to: chrono_free_iso(t),
                });
            }
        }
    }
    gaps.sort_by(|a, b| (&a.account, &a.region, &a.from).cmp(&(&b.account, &b.region, &b.from)));
    gaps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_delivery_times_from_paths() {
        assert_eq!(
            local_key("/case/x/AWSLogs/1/CloudTrail/r/2024/03/05/f.json.gz"),
            "AWSLogs/1/CloudTrail/r/2024/03/05/f.json.gz"
        );
        assert_eq!(local_key("flat/f.json.gz"), "f.json.gz");
        assert_eq!(
            delivery_ms("123456789012_CloudTrail_us-east-1_20240305T0215Z_abc.json.gz"),
            trailscope_ingest::parse_event_time("2024-03-05T02:15:00Z")
        );
        assert_eq!(delivery_ms("notes.json"), None);
    }
}
