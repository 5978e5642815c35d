//! AWS-owned address space from the `ip-ranges.json` AWS publishes (saved by the examiner).
//!
//! Every AWS prefix is listed under the catch-all service `AMAZON`, and many again under the
//! service using it (`EC2`, `CLOUDFRONT`, ...). An address is answered with its most specific
//! service (anything over `AMAZON`), then its longest prefix.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::path::Path;

use ipnet::IpNet;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

use crate::{read, DatabaseInfo, DatabaseKind, Error, ErrorKind};

/// The AWS range an address is in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AwsRange {
    /// The listed prefix (`3.80.0.0/12`).
    #[serde(serialize_with = "as_string")]
    pub prefix: IpNet,
    /// `EC2`, `S3`, `CLOUDFRONT`, ..., or `AMAZON` when no service lists it.
    pub service: String,
    /// `us-east-1`, ..., or `GLOBAL`.
    pub region: String,
}

fn as_string<S: Serializer>(n: &IpNet, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(n)
}

impl AwsRange {
    /// EC2 address space: instances anyone can rent, the typical intruder's VPS.
    pub fn is_ec2(&self) -> bool {
        self.service == "EC2"
    }
}

impl fmt::Display for AwsRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AWS {} {}", self.service, self.region)
    }
}

#[derive(Deserialize)]
struct File {
    #[serde(rename = "syncToken")]
    sync_token: Option<Value>,
    #[serde(rename = "createDate")]
    create_date: Option<String>,
    prefixes: Vec<Entry>,
    #[serde(default)]
    ipv6_prefixes: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    #[serde(alias = "ipv6_prefix")]
    ip_prefix: String,
    region: String,
    service: String,
}

/// `--aws-ranges`: AWS prefixes indexed by prefix length.
pub struct AwsRanges {
    ranges: Vec<AwsRange>,
    /// Per prefix length present, the ranges by network: a lookup masks the address once per
    /// length instead of scanning every prefix.
    by_len: Vec<(u8, HashMap<IpNet, Vec<usize>>)>,
    info: DatabaseInfo,
}

impl AwsRanges {
    /// Read and index an `ip-ranges.json`.
    ///
    /// # Errors
    /// Unreadable, not JSON, not in AWS's shape, or a prefix that is not a CIDR.
    pub fn open(path: &Path) -> Result<AwsRanges, Error> {
        let bytes = read(path)?;
        let mut info = DatabaseInfo::of_bytes(DatabaseKind::AwsRanges, path, &bytes);
        let bad = |m: String| Error::new(path, ErrorKind::NotIpRanges(m));
        let file: File = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
        let mut ranges = Vec::with_capacity(file.prefixes.len() + file.ipv6_prefixes.len());
        for (list, entries) in [("prefixes", &file.prefixes), ("ipv6_prefixes", &file.ipv6_prefixes)] {
            for (i, e) in entries.iter().enumerate() {
                let prefix: IpNet = e
                    .ip_prefix
                    .trim()
                    .parse()
                    .map_err(|_| bad(format!("{list}[{i}]: {:?} is not a CIDR prefix", e.ip_prefix)))?;
                ranges.push(AwsRange { prefix: prefix.trunc(), service: e.service.clone(), region: e.region.clone() });
            }
        }
        if ranges.is_empty() {
            return Err(bad("no prefixes listed".into()));
        }
        info.create_date = file.create_date;
        info.sync_token = file.sync_token.map(|v| match v {
            Value::String(s) => s,
            other => other.to_string(),
        });
        info.prefixes = Some(ranges.len());
        let mut by_len: HashMap<u8, HashMap<IpNet, Vec<usize>>> = HashMap::new();
        for (i, r) in ranges.iter().enumerate() {
            by_len.entry(r.prefix.prefix_len()).or_default().entry(r.prefix).or_default().push(i);
        }
        let mut by_len: Vec<_> = by_len.into_iter().collect();
        by_len.sort_by_key(|(len, _)| *len);
        Ok(AwsRanges { ranges, by_len, info })
    }

    /// The file, as the report names it.
    pub fn info(&self) -> &DatabaseInfo {
        &self.info
    }

    /// The AWS range holding `ip`: a named service over `AMAZON`, then the longest prefix.
    pub fn lookup(&self, ip: IpAddr) -> Option<&AwsRange> {
        let max = if ip.is_ipv4() { 32 } else { 128 };
        self.by_len
            .iter()
            .filter(|(len, _)| *len <= max)
            .filter_map(|(len, map)| map.get(&IpNet::new(ip, *len).ok()?.trunc()))
            .flatten()
            .map(|&i| &self.ranges[i])
            .filter(|r| r.prefix.contains(&ip))
            .max_by(|a, b| {
                (a.service != "AMAZON", a.prefix.prefix_len(), &b.service).cmp(&(
                    b.service != "AMAZON",
                    b.prefix.prefix_len(),
                    &a.service,
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn open(v: &serde_json::Value) -> Result<AwsRanges, Error> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ip-ranges.json");
        std::fs::write(&p, v.to_string()).unwrap();
        AwsRanges::open(&p)
    }

    #[test]
    fn most_specific_service_then_longest_prefix() {
        let r = open(&json!({
            "syncToken": "1709316787",
            "createDate": "2024-03-01-18-13-07",
            "prefixes": [
                {"ip_prefix": "52.0.0.0/11", "region": "us-east-1", "service": "AMAZON", "network_border_group": "us-east-1"},
                {"ip_prefix": "52.20.0.0/14", "region": "us-east-1", "service": "EC2", "network_border_group": "us-east-1"},
                {"ip_prefix": "52.23.180.0/24", "region": "us-east-1", "service": "AMAZON", "network_border_group": "us-east-1"},
                {"ip_prefix": "52.94.0.0/22", "region": "us-east-1", "service": "AMAZON", "network_border_group": "us-east-1"},
                {"ip_prefix": "52.94.0.0/22", "region": "us-east-1", "service": "DYNAMODB", "network_border_group": "us-east-1"},
                {"ip_prefix": "15.177.0.0/18", "region": "GLOBAL", "service": "ROUTE53_HEALTHCHECKS", "network_border_group": "GLOBAL"}
            ],
            "ipv6_prefixes": [
                {"ipv6_prefix": "2600:1f18::/33", "region": "us-east-1", "service": "EC2", "network_border_group": "us-east-1"}
            ]
        }))
        .unwrap();
        assert_eq!(r.info().create_date.as_deref(), Some("2024-03-01-18-13-07"));
        assert_eq!(r.info().sync_token.as_deref(), Some("1709316787"));
        assert_eq!(r.info().prefixes, Some(7));
        let at = |ip: &str| r.lookup(ip.parse().unwrap()).map(|x| format!("{x} {}", x.prefix));
        // The AMAZON /24 is longer, but EC2 says what the address is.
        assert_eq!(at("52.23.180.11").as_deref(), Some("AWS EC2 us-east-1 52.20.0.0/14"));
        assert_eq!(at("52.94.0.9").as_deref(), Some("AWS DYNAMODB us-east-1 52.94.0.0/22"));
        assert_eq!(at("52.1.2.3").as_deref(), Some("AWS AMAZON us-east-1 52.0.0.0/11"));
        assert_eq!(at("2600:1f18:4a3:6900::5").as_deref(), Some("AWS EC2 us-east-1 2600:1f18::/33"));
        assert_eq!(at("185.220.101.47"), None);
        assert!(r.lookup("52.23.180.11".parse().unwrap()).unwrap().is_ec2());
    }

    #[test]
    fn wrong_files_name_the_problem() {
        let e = open(&json!({"ranges": []})).err().unwrap();
        assert!(e.to_string().contains("ip-ranges.json: not an AWS ip-ranges.json: missing field `prefixes`"), "{e}");
        let e =
            open(&json!({"prefixes": [{"ip_prefix": "52.0.0.0/33", "region": "x", "service": "EC2"}]})).err().unwrap();
        assert!(e.to_string().contains("prefixes[0]: \"52.0.0.0/33\" is not a CIDR prefix"), "{e}");
        let e = open(&json!({"prefixes": []})).err().unwrap();
        assert!(e.to_string().ends_with("no prefixes listed"), "{e}");
        // A number as syncToken is read as written.
        let r =
            open(&json!({"syncToken": 17, "prefixes": [{"ip_prefix": "3.0.0.0/15", "region": "r", "service": "EC2"}]}))
                .unwrap();
        assert_eq!(r.info().sync_token.as_deref(), Some("17"));
    }
}
