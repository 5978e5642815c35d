//! Reading digest files (AWS's JSON) into typed values.

use serde::Deserialize;

/// One log file a digest vouches for.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct LogFileEntry {
    /// Bucket.
    pub s3_bucket: String,
    /// Key.
    pub s3_object: String,
    /// Hex hash of the uncompressed log file.
    pub hash_value: String,
    /// `SHA-256`.
    pub hash_algorithm: String,
}

/// A digest file's fields (the ones validation uses; others are ignored).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DigestDoc {
    /// Account.
    pub aws_account_id: String,
    /// Start of the hour covered.
    pub digest_start_time: String,
    /// End of the hour covered.
    pub digest_end_time: String,
    /// Bucket the digest was delivered to.
    pub digest_s3_bucket: String,
    /// Its key.
    pub digest_s3_object: String,
    /// Fingerprint of the signing key.
    #[serde(default)]
    pub digest_public_key_fingerprint: Option<String>,
    /// `SHA256withRSA`.
    #[serde(default)]
    pub digest_signature_algorithm: Option<String>,
    /// Previous digest's bucket (null in the first digest of a chain).
    #[serde(default)]
    pub previous_digest_s3_bucket: Option<String>,
    /// Previous digest's key.
    #[serde(default)]
    pub previous_digest_s3_object: Option<String>,
    /// Hex SHA-256 of the previous digest's uncompressed content.
    #[serde(default)]
    pub previous_digest_hash_value: Option<String>,
    /// Hex signature of the previous digest.
    #[serde(default)]
    pub previous_digest_signature: Option<String>,
    /// Log files delivered in the hour.
    #[serde(default)]
    pub log_files: Vec<LogFileEntry>,
}

impl DigestDoc {
    /// Parse a digest's JSON text.
    ///
    /// # Errors
    /// When the text is not a digest document.
    pub fn parse(text: &str) -> Result<Self, String> {
        serde_json::from_str(text).map_err(|e| e.to_string())
    }

    /// The stream the digest belongs to: one chain per bucket, account, region and trail, read
    /// from the key's file name (`<acct>_CloudTrail-Digest_<region>_<trail>_<region>_<time>.json.gz`).
    pub fn stream(&self) -> String {
        let name = self.digest_s3_object.rsplit('/').next().unwrap_or(&self.digest_s3_object);
        let middle = name.split_once("_CloudTrail-Digest_").map(|(_, rest)| rest).unwrap_or(name);
        let middle = middle.rsplit_once('_').map(|(m, _)| m).unwrap_or(middle);
        format!("{}/{}/{}", self.digest_s3_bucket, self.aws_account_id, middle)
    }

    /// The string CloudTrail signs: end time, `bucket/key`, hex SHA-256 of the uncompressed
    /// digest, previous signature (`null` for the first digest of a chain), joined by newlines.
    pub fn string_to_sign(&self, sha256_hex: &str) -> String {
        format!(
            "{}\n{}/{}\n{}\n{}",
            self.digest_end_time,
            self.digest_s3_bucket,
            self.digest_s3_object,
            sha256_hex,
            self.previous_digest_signature.as_deref().unwrap_or("null")
        )
    }
}
