//! # trailscope-enrich
//!
//! Offline enrichment of the source IPs in CloudTrail evidence: where an address is
//! (country, city), whose network it is (autonomous system number and organisation), and
//! whether it is AWS address space (which service, which region). Nothing is fetched: the
//! examiner hands over the databases they saved, and the report names each one (file, SHA-256,
//! build date) so a reader knows what the answers rest on.
//!
//! * `--geoip FILE.mmdb`: a MaxMind or DB-IP City or Country database, read with the
//!   `maxminddb` crate;
//! * `--asn FILE.mmdb`: an ASN database (GeoLite2-ASN, DB-IP ASN);
//! * `--aws-ranges FILE`: AWS's published `ip-ranges.json` ([`AwsRanges`]): longest match, and
//!   a named service (`EC2`) over the catch-all `AMAZON`.
//!
//! An [`Enricher`] is opened once from [`Sources`] (every check — readable, a MaxMind DB, the
//! right kind of database, a well-formed ip-ranges file — happens there, and each failure is an
//! [`Error`] naming the file and the reason) and then answers [`Enricher::lookup`] with an
//! [`IpInfo`] whose fields are all optional: a database knows an address or it does not.
//!
//! Only public addresses are looked up. CloudTrail's `sourceIPAddress` also holds service names
//! (`s3.amazonaws.com`), `AWS Internal`, and private or link-local addresses of VPC endpoints;
//! [`public_address`] says why such a value is not looked up ([`NotLookedUp`]) instead of
//! asking a database about it.
//!
//! ```
//! use trailscope_enrich::{public_address, NotLookedUp};
//! assert!(public_address("185.220.101.47").is_ok());
//! assert_eq!(public_address("s3.amazonaws.com"), Err(NotLookedUp::ServiceName));
//! assert_eq!(public_address("10.0.3.7"), Err(NotLookedUp::Private));
//! ```
#![deny(missing_docs)]

mod aws;
mod mmdb;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

pub use aws::{AwsRange, AwsRanges};
pub use mmdb::{AsnDb, GeoDb};

/// Why an enrichment input was refused. Always names the file.
#[derive(Debug, thiserror::Error)]
#[error("{}: {kind}", path.display())]
pub struct Error {
    /// The file given.
    pub path: PathBuf,
    /// What is wrong with it.
    pub kind: ErrorKind,
}

/// What is wrong with an enrichment input.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The file could not be read.
    #[error("cannot read: {0}")]
    Io(#[source] std::io::Error),
    /// Not a MaxMind DB file, or a damaged one.
    #[error("not a readable MaxMind DB file: {0}")]
    NotMmdb(String),
    /// A MaxMind DB of the wrong kind for the flag (an ASN database given to `--geoip`).
    #[error("{flag} needs {expected} database, but this one is {found:?}")]
    WrongDatabase {
        /// The flag it was given to.
        flag: &'static str,
        /// What the flag needs.
        expected: &'static str,
        /// The database's `database_type` from its metadata.
        found: String,
    },
    /// Not AWS's `ip-ranges.json`.
    #[error("not an AWS ip-ranges.json: {0}")]
    NotIpRanges(String),
}

impl Error {
    pub(crate) fn new(path: &Path, kind: ErrorKind) -> Error {
        Error { path: path.to_path_buf(), kind }
    }
}

/// Why a source value was not looked up in any database.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NotLookedUp {
    /// An AWS service acting (`s3.amazonaws.com`, `cloudtrail.amazonaws.com`).
    ServiceName,
    /// `AWS Internal`: AWS's own network, no address logged.
    AwsInternal,
    /// Empty or neither an address nor a service name.
    NotAnAddress,
    /// RFC 1918 or IPv6 unique-local (`fc00::/7`): a VPC endpoint or on-premises address.
    Private,
    /// Carrier-grade NAT space (`100.64.0.0/10`).
    SharedAddressSpace,
    /// `127.0.0.0/8`, `::1`.
    Loopback,
    /// `169.254.0.0/16`, `fe80::/10`.
    LinkLocal,
    /// `0.0.0.0`, `::`, multicast and broadcast: not the address of a caller.
    Unspecified,
}

impl NotLookedUp {
    /// Label for reports.
    pub fn label(self) -> &'static str {
        match self {
            NotLookedUp::ServiceName => "AWS service name",
            NotLookedUp::AwsInternal => "AWS Internal",
            NotLookedUp::NotAnAddress => "not an address",
            NotLookedUp::Private => "private address",
            NotLookedUp::SharedAddressSpace => "shared (CGNAT) address",
            NotLookedUp::Loopback => "loopback address",
            NotLookedUp::LinkLocal => "link-local address",
            NotLookedUp::Unspecified => "unspecified, multicast or broadcast address",
        }
    }
}

/// The address to look up for a `sourceIPAddress` value, or why there is none.
///
/// IPv4-mapped IPv6 (`::ffff:192.0.2.1`) is read as the IPv4 address it carries.
///
/// # Errors
/// The reason the value is not a public address.
pub fn public_address(source: &str) -> Result<IpAddr, NotLookedUp> {
    let source = source.trim();
    let ip = match source.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(IpAddr::V6(v6)),
        Ok(ip) => ip,
        Err(_) if source.eq_ignore_ascii_case("AWS Internal") => return Err(NotLookedUp::AwsInternal),
        Err(_) if source.ends_with(".amazonaws.com") || is_host_name(source) => return Err(NotLookedUp::ServiceName),
        Err(_) => return Err(NotLookedUp::NotAnAddress),
    };
    match ip {
        IpAddr::V4(v4) => v4_reason(v4),
        IpAddr::V6(v6) => v6_reason(v6),
    }
    .map_or(Ok(ip), Err)
}

/// `service.domain` shapes: letters, digits, dots and dashes, at least one dot.
fn is_host_name(s: &str) -> bool {
    s.contains('.')
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        && s.bytes().any(|b| b.is_ascii_alphabetic())
}

fn v4_reason(v4: Ipv4Addr) -> Option<NotLookedUp> {
    let o = v4.octets();
    if v4.is_private() {
        Some(NotLookedUp::Private)
    } else if o[0] == 100 && (o[1] & 0xc0) == 64 {
        Some(NotLookedUp::SharedAddressSpace)
    } else if v4.is_loopback() {
        Some(NotLookedUp::Loopback)
    } else if v4.is_link_local() {
        Some(NotLookedUp::LinkLocal)
    } else if v4.is_unspecified() || v4.is_multicast() || v4.is_broadcast() || o[0] == 0 {
        Some(NotLookedUp::Unspecified)
    } else {
        None
    }
}

fn v6_reason(v6: Ipv6Addr) -> Option<NotLookedUp> {
    let first = v6.segments()[0];
    if (first & 0xfe00) == 0xfc00 {
        Some(NotLookedUp::Private)
    } else if v6.is_loopback() {
        Some(NotLookedUp::Loopback)
    } else if (first & 0xffc0) == 0xfe80 {
        Some(NotLookedUp::LinkLocal)
    } else if v6.is_unspecified() || v6.is_multicast() {
        Some(NotLookedUp::Unspecified)
    } else {
        None
    }
}

/// What the databases say about one public address. Every field is optional: a database may
/// not know the address, and a database not given answers nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct IpInfo {
    /// ISO 3166-1 alpha-2 code of the country (`--geoip`).
    pub country_code: Option<String>,
    /// Country name, in English.
    pub country: Option<String>,
    /// City name, in English (City databases only).
    pub city: Option<String>,
    /// Autonomous system number (`--asn`).
    pub asn: Option<u32>,
    /// Organisation holding the autonomous system.
    pub as_org: Option<String>,
    /// AWS address space holding it (`--aws-ranges`).
    pub aws: Option<AwsRange>,
    /// Databases whose record for this address could not be decoded (file name and reason):
    /// the other fields still hold what the rest said.
    pub lookup_errors: Vec<String>,
}

impl IpInfo {
    /// Nothing known.
    pub fn is_empty(&self) -> bool {
        *self == IpInfo::default()
    }

    /// `DE`, `DE Frankfurt am Main`, or `Germany` when only the name is known.
    pub fn place(&self) -> Option<String> {
        let country = self.country_code.clone().or_else(|| self.country.clone());
        match (country, &self.city) {
            (Some(c), Some(city)) => Some(format!("{c} {city}")),
            (Some(c), None) => Some(c),
            (None, Some(city)) => Some(city.clone()),
            (None, None) => None,
        }
    }

    /// `AS64500 Example Hosting`, `AS64500`, or the organisation alone.
    pub fn autonomous_system(&self) -> Option<String> {
        match (self.asn, &self.as_org) {
            (Some(n), Some(o)) => Some(format!("AS{n} {o}")),
            (Some(n), None) => Some(format!("AS{n}")),
            (None, Some(o)) => Some(o.clone()),
            (None, None) => None,
        }
    }

    /// `AWS EC2 us-east-1`, when in AWS address space.
    pub fn cloud(&self) -> Option<String> {
        self.aws.as_ref().map(AwsRange::to_string)
    }
}

impl fmt::Display for IpInfo {
    /// One line: place; autonomous system; cloud (the parts known, `;`-separated).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = [self.place(), self.autonomous_system(), self.cloud()].into_iter().flatten().collect();
        if parts.is_empty() {
            f.write_str("not in the databases")
        } else {
            f.write_str(&parts.join("; "))
        }
    }
}

/// Which input a database is.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DatabaseKind {
    /// `--geoip`: a City or Country MaxMind DB.
    Geoip,
    /// `--asn`: an ASN MaxMind DB.
    Asn,
    /// `--aws-ranges`: AWS's `ip-ranges.json`.
    AwsRanges,
}

impl DatabaseKind {
    /// The command-line flag that gives it.
    pub fn flag(self) -> &'static str {
        match self {
            DatabaseKind::Geoip => "--geoip",
            DatabaseKind::Asn => "--asn",
            DatabaseKind::AwsRanges => "--aws-ranges",
        }
    }
}

/// One database used, as the report and the audit log name it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DatabaseInfo {
    /// Which input.
    pub kind: DatabaseKind,
    /// File name.
    pub file: String,
    /// Path as given.
    pub path: String,
    /// Bytes.
    pub size: u64,
    /// SHA-256 of the bytes read.
    pub sha256: String,
    /// MaxMind DB `database_type` (`GeoLite2-City`, `DBIP-ASN-Lite`).
    pub database_type: Option<String>,
    /// MaxMind DB `build_epoch`: when the database was built (Unix seconds).
    pub build_epoch: Option<u64>,
    /// ip-ranges.json `createDate` (`2024-03-01-21-13-07`, UTC).
    pub create_date: Option<String>,
    /// ip-ranges.json `syncToken` (publication time, Unix seconds, as AWS writes it).
    pub sync_token: Option<String>,
    /// ip-ranges.json: IPv4 and IPv6 prefixes read.
    pub prefixes: Option<usize>,
}

impl DatabaseInfo {
    fn of_bytes(kind: DatabaseKind, path: &Path, bytes: &[u8]) -> DatabaseInfo {
        DatabaseInfo {
            kind,
            file: path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            path: path.display().to_string(),
            size: bytes.len() as u64,
            sha256: hex::encode(Sha256::digest(bytes)),
            database_type: None,
            build_epoch: None,
            create_date: None,
            sync_token: None,
            prefixes: None,
        }
    }
}

pub(crate) fn read(path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|e| Error::new(path, ErrorKind::Io(e)))
}

/// The databases the examiner gave (`--geoip`, `--asn`, `--aws-ranges`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sources {
    /// City or Country MaxMind DB.
    pub geoip: Option<PathBuf>,
    /// ASN MaxMind DB.
    pub asn: Option<PathBuf>,
    /// AWS `ip-ranges.json`.
    pub aws_ranges: Option<PathBuf>,
}

impl Sources {
    /// No database given: enrichment is not done.
    pub fn is_empty(&self) -> bool {
        self.geoip.is_none() && self.asn.is_none() && self.aws_ranges.is_none()
    }
}

/// Opened databases, answering lookups. Immutable once opened, so one can be shared by threads.
pub struct Enricher {
    geo: Option<GeoDb>,
    asn: Option<AsnDb>,
    aws: Option<AwsRanges>,
    databases: Vec<DatabaseInfo>,
}

impl fmt::Debug for Enricher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Enricher").field("databases", &self.databases).finish()
    }
}

impl Enricher {
    /// Open every database given, checking each; `None` when none is given.
    ///
    /// # Errors
    /// The first input that is missing, unreadable, damaged or of the wrong kind.
    pub fn open(sources: &Sources) -> Result<Option<Enricher>, Error> {
        if sources.is_empty() {
            return Ok(None);
        }
        let geo = sources.geoip.as_deref().map(GeoDb::open).transpose()?;
        let asn = sources.asn.as_deref().map(AsnDb::open).transpose()?;
        let aws = sources.aws_ranges.as_deref().map(AwsRanges::open).transpose()?;
        Ok(Some(Enricher::from_parts(geo, asn, aws)))
    }

    /// Build from databases already opened (tests, library users).
    pub fn from_parts(geo: Option<GeoDb>, asn: Option<AsnDb>, aws: Option<AwsRanges>) -> Enricher {
        let databases = geo
            .iter()
            .map(|g| g.info().clone())
            .chain(asn.iter().map(|a| a.info().clone()))
            .chain(aws.iter().map(|a| a.info().clone()))
            .collect();
        Enricher { geo, asn, aws, databases }
    }

    /// Whether AWS's published ranges were given: only then does "no AWS range" mean outside
    /// AWS rather than unknown.
    pub fn knows_aws_ranges(&self) -> bool {
        self.aws.is_some()
    }

    /// The databases in use, in flag order (geoip, asn, aws-ranges).
    pub fn databases(&self) -> &[DatabaseInfo] {
        &self.databases
    }

    /// What the databases say about an address. Callers pass public addresses (see
    /// [`Enricher::enrich`]); any address is answered from what the databases hold.
    pub fn lookup(&self, ip: IpAddr) -> IpInfo {
        let mut info = IpInfo::default();
        if let Some(g) = &self.geo {
            if let Err(e) = g.fill(ip, &mut info) {
                info.lookup_errors.push(format!("{}: {e}", g.info().file));
            }
        }
        if let Some(a) = &self.asn {
            if let Err(e) = a.fill(ip, &mut info) {
                info.lookup_errors.push(format!("{}: {e}", a.info().file));
            }
        }
        if let Some(r) = &self.aws {
            info.aws = r.lookup(ip).cloned();
        }
        info
    }

    /// Look up a `sourceIPAddress` value when it is a public address.
    ///
    /// # Errors
    /// Why it is not looked up (a service name, `AWS Internal`, a private address, ...).
    pub fn enrich(&self, source: &str) -> Result<IpInfo, NotLookedUp> {
        public_address(source).map(|ip| self.lookup(ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_are_looked_up() {
        for (s, want) in [
            ("s3.amazonaws.com", NotLookedUp::ServiceName),
            ("cloudtrail.amazonaws.com", NotLookedUp::ServiceName),
            ("AWS Internal", NotLookedUp::AwsInternal),
            ("", NotLookedUp::NotAnAddress),
            ("<script>", NotLookedUp::NotAnAddress),
            ("10.1.2.3", NotLookedUp::Private),
            ("172.31.255.9", NotLookedUp::Private),
            ("192.168.0.1", NotLookedUp::Private),
            ("fd12:3456::1", NotLookedUp::Private),
            ("100.72.0.1", NotLookedUp::SharedAddressSpace),
            ("127.0.0.1", NotLookedUp::Loopback),
            ("::1", NotLookedUp::Loopback),
            ("169.254.169.254", NotLookedUp::LinkLocal),
            ("fe80::1", NotLookedUp::LinkLocal),
            ("0.0.0.0", NotLookedUp::Unspecified),
            ("224.0.0.5", NotLookedUp::Unspecified),
            ("::ffff:10.0.0.1", NotLookedUp::Private),
        ] {
            assert_eq!(public_address(s), Err(want), "{s:?}");
        }
        assert_eq!(public_address("185.220.101.47"), Ok("185.220.101.47".parse().unwrap()));
        assert_eq!(public_address("::ffff:45.137.21.9"), Ok("45.137.21.9".parse().unwrap()));
        assert_eq!(public_address("2600:1f18:4a3:6900::5"), Ok("2600:1f18:4a3:6900::5".parse().unwrap()));
        // The edges of the private ranges are public.
        assert!(public_address("172.32.0.1").is_ok() && public_address("100.128.0.1").is_ok());
    }

    #[test]
    fn info_reads_in_the_examiners_words() {
        let mut i = IpInfo::default();
        assert_eq!(i.to_string(), "not in the databases");
        i.country_code = Some("NL".into());
        i.city = Some("Amsterdam".into());
        i.asn = Some(64500);
        i.as_org = Some("Example Hosting".into());
        assert_eq!(i.to_string(), "NL Amsterdam; AS64500 Example Hosting");
        assert_eq!(i.autonomous_system().as_deref(), Some("AS64500 Example Hosting"));
    }

    #[test]
    fn no_sources_no_enricher() {
        assert!(Enricher::open(&Sources::default()).unwrap().is_none());
        let missing = Sources { asn: Some("/nonexistent/asn.mmdb".into()), ..Sources::default() };
        let e = Enricher::open(&missing).unwrap_err();
        assert!(matches!(e.kind, ErrorKind::Io(_)));
        assert!(e.to_string().starts_with("/nonexistent/asn.mmdb: cannot read"), "{e}");
    }
}
