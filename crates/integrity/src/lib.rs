//! # trailscope-integrity
//!
//! Proving what the evidence is and whether it is complete, without AWS:
//!
//! * [`verify()`]: CloudTrail log file validation, offline — every log file a digest lists is
//!   present and has the SHA-256 (of its uncompressed content) the digest recorded; digests
//!   chain (`previousDigestHashValue`, `previousDigestSignature`) without missing links or
//!   hours; no log file sits outside the digests; and with the public keys from
//!   `aws cloudtrail list-public-keys`, each digest's SHA256withRSA signature verifies (the
//!   signature of every digest but the newest is carried by its successor, so the newest needs
//!   the S3 metadata signature, `--signatures`).
//! * [`Manifest`]: the input files with sizes and hashes, as JSON and CSV, byte-reproducible.
//! * [`audit`]: an append-only, hash-chained log of every output written for a case.
#![deny(missing_docs)]

pub mod audit;
mod digest;
mod manifest;
mod signature;
mod verify;

pub use digest::{DigestDoc, LogFileEntry};
pub use manifest::{sha256_hex, Manifest, ManifestConflict, ManifestEntry};
pub use signature::PublicKeys;
pub use verify::{verify, EventGap, Problem, SignatureSummary, VerifyOptions, VerifyReport};
