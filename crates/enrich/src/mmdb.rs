//! The examiner's MaxMind DB files (MaxMind GeoIP2/GeoLite2, DB-IP), read with `maxminddb`.

use std::net::IpAddr;
use std::path::Path;

use maxminddb::{geoip2, MaxMindDbError, Reader};

use crate::{read, DatabaseInfo, DatabaseKind, Error, ErrorKind, IpInfo};

/// A MaxMind DB in memory, checked to be the kind its flag needs.
struct Mmdb {
    reader: Reader<Vec<u8>>,
    info: DatabaseInfo,
}

impl Mmdb {
    /// `accepts` is matched against the lower-cased `database_type`.
    fn open(path: &Path, kind: DatabaseKind, expected: &'static str, accepts: &[&str]) -> Result<Mmdb, Error> {
        let bytes = read(path)?;
        let mut info = DatabaseInfo::of_bytes(kind, path, &bytes);
        let reader = Reader::from_source(bytes).map_err(|e| Error::new(path, ErrorKind::NotMmdb(e.to_string())))?;
        let meta = reader.metadata();
        let found = meta.database_type.to_ascii_lowercase();
        if !accepts.iter().any(|a| found.contains(a)) {
            return Err(Error::new(
                path,
                ErrorKind::WrongDatabase { flag: kind.flag(), expected, found: meta.database_type.clone() },
            ));
        }
        info.database_type = Some(meta.database_type.clone());
        info.build_epoch = Some(meta.build_epoch);
        Ok(Mmdb { reader, info })
    }

    /// The record for `ip`, when the database has one.
    fn record<'a, T: serde::Deserialize<'a>>(&'a self, ip: IpAddr) -> Result<Option<T>, MaxMindDbError> {
        // An IPv4-only database knows nothing about IPv6 addresses: not found, not an error.
        if ip.is_ipv6() && self.reader.metadata().ip_version == 4 {
            return Ok(None);
        }
        self.reader.lookup(ip)?.decode()
    }
}

/// `--geoip`: a City or Country database (country ISO code and name; city when it has cities).
pub struct GeoDb(Mmdb);

impl GeoDb {
    /// Open and check a City or Country database.
    ///
    /// # Errors
    /// Unreadable, not a MaxMind DB, or another kind of database (ASN, ISP, ...).
    pub fn open(path: &Path) -> Result<GeoDb, Error> {
        Mmdb::open(path, DatabaseKind::Geoip, "a City or Country", &["city", "country", "enterprise"]).map(GeoDb)
    }

    /// The file, as the report names it.
    pub fn info(&self) -> &DatabaseInfo {
        &self.0.info
    }

    pub(crate) fn fill(&self, ip: IpAddr, info: &mut IpInfo) -> Result<(), MaxMindDbError> {
        // A Country record is a City record without the city: one shape reads both.
        let Some(rec) = self.0.record::<geoip2::City>(ip)? else { return Ok(()) };
        // Anycast and some hosting ranges carry only the registering country.
        let country = if rec.country.is_empty() { &rec.registered_country } else { &rec.country };
        info.country_code = country.iso_code.map(str::to_owned);
        info.country = country.names.english.map(str::to_owned);
        info.city = rec.city.names.english.map(str::to_owned);
        Ok(())
    }
}

/// `--asn`: an ASN database (number and organisation).
pub struct AsnDb(Mmdb);

impl AsnDb {
    /// Open and check an ASN database (an ISP database carries the same fields).
    ///
    /// # Errors
    /// Unreadable, not a MaxMind DB, or another kind of database (City, Country, ...).
    pub fn open(path: &Path) -> Result<AsnDb, Error> {
        Mmdb::open(path, DatabaseKind::Asn, "an ASN", &["asn", "isp"]).map(AsnDb)
    }

    /// The file, as the report names it.
    pub fn info(&self) -> &DatabaseInfo {
        &self.0.info
    }

    pub(crate) fn fill(&self, ip: IpAddr, info: &mut IpInfo) -> Result<(), MaxMindDbError> {
        let Some(rec) = self.0.record::<geoip2::Asn>(ip)? else { return Ok(()) };
        info.asn = rec.autonomous_system_number;
        info.as_org = rec.autonomous_system_organization.map(str::to_owned);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{asn_db, city_db, MmdbWriter, Value};
    use crate::Enricher;

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    #[test]
    fn city_and_asn_fixtures_answer_lookups() {
        let dir = tempfile::tempdir().unwrap();
        let city = write(
            dir.path(),
            "city.mmdb",
            &city_db(&[
                ("185.220.101.0/24", "DE", "Germany", Some("Frankfurt am Main")),
                ("2a01:4f8::/32", "FI", "Finland", None),
            ]),
        );
        let asn = write(dir.path(), "asn.mmdb", &asn_db(&[("185.220.100.0/22", 64500, "Example Exit Hosting")]));
        let geo = GeoDb::open(&city).unwrap();
        assert_eq!(geo.info().database_type.as_deref(), Some("GeoLite2-City"));
        assert_eq!(geo.info().file, "city.mmdb");
        assert_eq!(geo.info().sha256.len(), 64);
        let e = Enricher::from_parts(Some(geo), Some(AsnDb::open(&asn).unwrap()), None);
        let i = e.lookup("185.220.101.47".parse().unwrap());
        assert_eq!(i.country_code.as_deref(), Some("DE"));
        assert_eq!(i.country.as_deref(), Some("Germany"));
        assert_eq!(i.city.as_deref(), Some("Frankfurt am Main"));
        assert_eq!(i.asn, Some(64500));
        assert_eq!(i.as_org.as_deref(), Some("Example Exit Hosting"));
        // The /22 of the ASN database covers a /24 the City database does not.
        let j = e.lookup("185.220.102.1".parse().unwrap());
        assert_eq!((j.country_code, j.asn), (None, Some(64500)));
        let v6 = e.lookup("2a01:4f8:c17::1".parse().unwrap());
        assert_eq!((v6.country_code.as_deref(), v6.city, v6.asn), (Some("FI"), None, None));
        assert!(e.lookup("198.51.100.7".parse().unwrap()).is_empty());
    }

    #[test]
    fn bad_databases_are_refused_with_file_and_reason() {
        let dir = tempfile::tempdir().unwrap();
        let asn = write(dir.path(), "asn.mmdb", &asn_db(&[("185.220.100.0/22", 64500, "X")]));
        let e = GeoDb::open(&asn).err().unwrap();
        assert!(matches!(&e.kind, ErrorKind::WrongDatabase { found, .. } if found == "GeoLite2-ASN"), "{e}");
        let msg = e.to_string();
        assert!(msg.contains("asn.mmdb") && msg.contains("--geoip needs a City or Country database"), "{msg}");
        let city = write(dir.path(), "city.mmdb", &city_db(&[("185.220.101.0/24", "DE", "Germany", None)]));
        let e = AsnDb::open(&city).err().unwrap();
        assert!(e.to_string().contains("--asn needs an ASN database, but this one is \"GeoLite2-City\""), "{e}");

        let text = write(dir.path(), "notes.mmdb", b"just some text, no metadata marker");
        let e = GeoDb::open(&text).err().unwrap();
        assert!(matches!(e.kind, ErrorKind::NotMmdb(_)), "{e}");
        assert!(e.to_string().starts_with(&format!("{}: not a readable MaxMind DB file", text.display())), "{e}");

        // A real database cut short (an interrupted copy): the metadata ends mid-map.
        let mut bytes = city_db(&[("185.220.101.0/24", "DE", "Germany", None)]);
        let marker = bytes.windows(14).position(|w| w == b"\xAB\xCD\xEFMaxMind.com").unwrap();
        bytes.truncate(marker + 14 + 20);
        let cut = write(dir.path(), "cut.mmdb", &bytes);
        assert!(matches!(GeoDb::open(&cut).err().unwrap().kind, ErrorKind::NotMmdb(_)));
    }

    #[test]
    fn a_record_of_another_shape_is_a_lookup_error_not_a_crash() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = MmdbWriter::new("GeoLite2-City", 6);
        w.insert("203.0.113.0/24", Value::Map(vec![("country".into(), Value::Str("not a map".into()))]));
        let p = write(dir.path(), "odd.mmdb", &w.finish());
        let e = Enricher::from_parts(Some(GeoDb::open(&p).unwrap()), None, None);
        let i = e.lookup("203.0.113.9".parse().unwrap());
        assert_eq!(i.country_code, None);
        assert_eq!(i.lookup_errors.len(), 1, "{i:?}");
        assert!(i.lookup_errors[0].starts_with("odd.mmdb: "), "{i:?}");
    }
}
