//! A small MaxMind DB writer for test fixtures (feature `testing`), written from the format's
//! specification: a binary search tree of 24-bit records, 16 zero bytes, a data section of
//! typed fields, then `\xAB\xCD\xEFMaxMind.com` and the metadata map. Tests build the tiny
//! databases they need instead of downloading or committing binary files.
//!
//! It writes what fixtures need and no more: 24-bit records, no pointers (every record is
//! written out in full), and prefixes that do not nest inside each other.

use std::net::IpAddr;

use ipnet::IpNet;

/// A value of the data section.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// UTF-8 string (type 2).
    Str(String),
    /// Unsigned 16-bit integer (type 5).
    U16(u16),
    /// Unsigned 32-bit integer (type 6).
    U32(u32),
    /// Unsigned 64-bit integer (type 9).
    U64(u64),
    /// Map with string keys (type 7).
    Map(Vec<(String, Value)>),
    /// Array (type 11).
    Array(Vec<Value>),
}

impl Value {
    /// A map from `(key, value)` pairs.
    pub fn map<const N: usize>(pairs: [(&str, Value); N]) -> Value {
        Value::Map(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    }
    /// A string.
    pub fn str(s: &str) -> Value {
        Value::Str(s.to_owned())
    }
}

/// Control byte and size bytes; types above 7 are "extended" (type byte after the control).
fn control(out: &mut Vec<u8>, kind: u8, size: usize) {
    let (bits, extra): (u8, Vec<u8>) = match size {
        0..=28 => (size as u8, vec![]),
        29..=284 => (29, vec![(size - 29) as u8]),
        285..=65_820 => (30, ((size - 285) as u16).to_be_bytes().to_vec()),
        _ => (31, ((size - 65_821) as u32).to_be_bytes()[1..].to_vec()),
    };
    if kind <= 7 {
        out.push(kind << 5 | bits);
    } else {
        out.push(bits);
        out.push(kind - 7);
    }
    out.extend(extra);
}

fn uint(out: &mut Vec<u8>, kind: u8, v: u64) {
    let bytes = v.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count();
    control(out, kind, 8 - skip);
    out.extend(&bytes[skip..]);
}

/// Append the encoding of `v`.
pub fn encode(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Str(s) => {
            control(out, 2, s.len());
            out.extend(s.as_bytes());
        }
        Value::U16(n) => uint(out, 5, u64::from(*n)),
        Value::U32(n) => uint(out, 6, u64::from(*n)),
        Value::U64(n) => uint(out, 9, *n),
        Value::Map(pairs) => {
            control(out, 7, pairs.len());
            for (k, v) in pairs {
                encode(&Value::Str(k.clone()), out);
                encode(v, out);
            }
        }
        Value::Array(items) => {
            control(out, 11, items.len());
            for v in items {
                encode(v, out);
            }
        }
    }
}

#[derive(Copy, Clone)]
enum Record {
    Empty,
    Node(u32),
    Data(u32),
}

/// Builds one MaxMind DB in memory.
pub struct MmdbWriter {
    database_type: String,
    ip_version: u16,
    build_epoch: u64,
    nodes: Vec<[Record; 2]>,
    data: Vec<u8>,
}

impl MmdbWriter {
    /// An empty database of a type (`GeoLite2-City`) for IPv4 (4) or IPv6 and IPv4 (6).
    pub fn new(database_type: &str, ip_version: u16) -> MmdbWriter {
        MmdbWriter {
            database_type: database_type.to_owned(),
            ip_version,
            build_epoch: 1_709_251_200, // 2024-03-01T00:00:00Z
            nodes: vec![[Record::Empty; 2]],
            data: Vec::new(),
        }
    }

    /// Set the metadata's `build_epoch` (Unix seconds).
    pub fn build_epoch(mut self, epoch: u64) -> MmdbWriter {
        self.build_epoch = epoch;
        self
    }

    /// Map a prefix (`185.220.101.0/24`, `2a01:4f8::/32`) to a record.
    ///
    /// # Panics
    /// On a bad CIDR, or a prefix nesting with one inserted before (fixtures only).
    pub fn insert(&mut self, cidr: &str, value: Value) {
        let net: IpNet = cidr.parse().expect("fixture CIDR");
        let (addr, len): (u128, usize) = match (net.addr(), self.ip_version) {
            (IpAddr::V4(a), 4) => (u128::from(u32::from(a)) << 96, usize::from(net.prefix_len())),
            // IPv4 lives in the IPv6 tree under ::/96.
            (IpAddr::V4(a), _) => (u128::from(u32::from(a)), 96 + usize::from(net.prefix_len())),
            (IpAddr::V6(a), 6) => (u128::from(a), usize::from(net.prefix_len())),
            (IpAddr::V6(_), _) => panic!("IPv6 prefix in an IPv4 database"),
        };
        let offset = self.data.len() as u32;
        encode(&value, &mut self.data);
        let bit = |i: usize| ((addr >> (127 - i)) & 1) as usize;
        let mut node = 0usize;
        for i in 0..len - 1 {
            node = match self.nodes[node][bit(i)] {
                Record::Node(n) => n as usize,
                Record::Empty => {
                    self.nodes.push([Record::Empty; 2]);
                    let n = self.nodes.len() - 1;
                    self.nodes[node][bit(i)] = Record::Node(n as u32);
                    n
                }
                Record::Data(_) => panic!("{cidr} nests inside a prefix inserted before"),
            };
        }
        self.nodes[node][bit(len - 1)] = Record::Data(offset);
    }

    /// The database file's bytes.
    pub fn finish(self) -> Vec<u8> {
        let count = self.nodes.len() as u32;
        let mut out = Vec::with_capacity(self.nodes.len() * 6 + 16 + self.data.len() + 256);
        for node in &self.nodes {
            for r in node {
                let v = match *r {
                    Record::Empty => count,
                    Record::Node(n) => n,
                    Record::Data(off) => count + 16 + off,
                };
                assert!(v < 1 << 24, "fixture too large for 24-bit records");
                out.extend(&v.to_be_bytes()[1..]);
            }
        }
        out.extend([0u8; 16]);
        out.extend(&self.data);
        out.extend(b"\xAB\xCD\xEFMaxMind.com");
        let meta = Value::map([
            ("binary_format_major_version", Value::U16(2)),
            ("binary_format_minor_version", Value::U16(0)),
            ("build_epoch", Value::U64(self.build_epoch)),
            ("database_type", Value::Str(self.database_type.clone())),
            ("description", Value::map([("en", Value::str("trailscope test fixture"))])),
            ("ip_version", Value::U16(self.ip_version)),
            ("languages", Value::Array(vec![Value::str("en")])),
            ("node_count", Value::U32(count)),
            ("record_size", Value::U16(24)),
        ]);
        encode(&meta, &mut out);
        out
    }
}

/// A `GeoLite2-City` database: `(cidr, country ISO code, country name, city)`.
pub fn city_db(rows: &[(&str, &str, &str, Option<&str>)]) -> Vec<u8> {
    let mut w = MmdbWriter::new("GeoLite2-City", 6);
    for (cidr, iso, name, city) in rows {
        let country = Value::map([("iso_code", Value::str(iso)), ("names", Value::map([("en", Value::str(name))]))]);
        let mut rec = vec![("country".to_owned(), country.clone()), ("registered_country".to_owned(), country)];
        if let Some(c) = city {
            rec.push(("city".into(), Value::map([("names", Value::map([("en", Value::str(c))]))])));
        }
        w.insert(cidr, Value::Map(rec));
    }
    w.finish()
}

/// A `GeoLite2-ASN` database: `(cidr, AS number, organisation)`.
pub fn asn_db(rows: &[(&str, u32, &str)]) -> Vec<u8> {
    let mut w = MmdbWriter::new("GeoLite2-ASN", 6);
    for (cidr, asn, org) in rows {
        w.insert(
            cidr,
            Value::map([
                ("autonomous_system_number", Value::U32(*asn)),
                ("autonomous_system_organization", Value::str(org)),
            ]),
        );
    }
    w.finish()
}

/// An `ip-ranges.json` as AWS writes it: `(cidr, region, service)`, IPv4 and IPv6 sorted into
/// their lists.
pub fn aws_ranges(rows: &[(&str, &str, &str)]) -> String {
    let entry = |key: &str, (cidr, region, service): &(&str, &str, &str)| serde_json::json!({key: cidr, "region": region, "service": service, "network_border_group": region});
    let v4: Vec<_> = rows.iter().filter(|r| !r.0.contains(':')).map(|r| entry("ip_prefix", r)).collect();
    let v6: Vec<_> = rows.iter().filter(|r| r.0.contains(':')).map(|r| entry("ipv6_prefix", r)).collect();
    serde_json::json!({"syncToken": "1709316787", "createDate": "2024-03-01-18-13-07", "prefixes": v4, "ipv6_prefixes": v6})
        .to_string()
}

/// Write `city.mmdb`, `asn.mmdb` and `ip-ranges.json` into `dir` and name them as sources.
pub fn write_sources(
    dir: &std::path::Path,
    city: &[(&str, &str, &str, Option<&str>)],
    asn: &[(&str, u32, &str)],
    ranges: &[(&str, &str, &str)],
) -> crate::Sources {
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.join(name);
        std::fs::write(&p, bytes).expect("write fixture");
        p
    };
    crate::Sources {
        geoip: Some(write("city.mmdb", &city_db(city))),
        asn: Some(write("asn.mmdb", &asn_db(asn))),
        aws_ranges: Some(write("ip-ranges.json", aws_ranges(ranges).as_bytes())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_types_encode_as_the_spec_says() {
        let mut b = Vec::new();
        encode(&Value::str("en"), &mut b);
        assert_eq!(b, [0x42, b'e', b'n']);
        b.clear();
        encode(&Value::U32(0), &mut b);
        assert_eq!(b, [0xc0]);
        b.clear();
        encode(&Value::U16(24), &mut b);
        assert_eq!(b, [0xa1, 24]);
        b.clear();
        // uint64 is extended type 9: control byte with type 0, then 9 - 7.
        encode(&Value::U64(0x0102), &mut b);
        assert_eq!(b, [0x02, 0x02, 0x01, 0x02]);
        b.clear();
        encode(&Value::Str("x".repeat(300)), &mut b);
        assert_eq!(&b[..3], [0x5e, 0x00, 15]);
        b.clear();
        encode(&Value::Array(vec![]), &mut b);
        assert_eq!(b, [0x00, 0x04]);
    }

    #[test]
    fn an_ipv4_only_database_reads_back() {
        let mut w = MmdbWriter::new("GeoLite2-Country", 4).build_epoch(1_700_000_000);
        w.insert("45.137.21.0/24", Value::map([("country", Value::map([("iso_code", Value::str("NL"))]))]));
        let r = maxminddb::Reader::from_source(w.finish()).unwrap();
        assert_eq!(r.metadata().build_epoch, 1_700_000_000);
        assert_eq!(r.metadata().ip_version, 4);
        let c: maxminddb::geoip2::Country =
            r.lookup("45.137.21.9".parse().unwrap()).unwrap().decode().unwrap().unwrap();
        assert_eq!(c.country.iso_code, Some("NL"));
        assert!(!r.lookup("45.137.22.9".parse().unwrap()).unwrap().has_data());
    }
}
