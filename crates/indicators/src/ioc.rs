//! Indicator-of-compromise lists: IPs and CIDRs (v4/v6), access key ids, ARNs, account ids and
//! user-agent fragments, one a line, compiled to dictionary-id lookups. Every hit names the
//! indicator and its file line.
//!
//! Format: `#` starts a comment; blank lines are skipped. A line is typed by its shape (an IP, a
//! CIDR, an `AKIA`/`ASIA`... key id, an `arn:` ARN, a 12-digit account id) or by an explicit
//! prefix: `ip:`, `cidr:`, `key:`, `arn:`, `account:`, `ua:` (user-agent fragments need `ua:`).

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use ipnet::IpNet;
use trailscope_store::{Field, Store};

use crate::error::{RuleError, RuleErrorKind};
use crate::expr::contains_ignore_case;
use crate::rule::{Finding, RuleMeta, Severity};

/// What an indicator is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IocKind {
    /// One address.
    Ip(IpAddr),
    /// A network.
    Cidr(IpNet),
    /// An access key id.
    AccessKey(String),
    /// A principal or role ARN.
    Arn(String),
    /// An AWS account id.
    Account(String),
    /// A user-agent fragment (case-insensitive).
    UserAgent(String),
}

/// One indicator with where it was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ioc {
    /// The indicator.
    pub kind: IocKind,
    /// As written.
    pub text: String,
    /// File.
    pub path: String,
    /// 1-based line.
    pub line: usize,
}

/// A loaded set of indicators.
#[derive(Clone, Debug, Default)]
pub struct IocSet {
    /// All indicators, in file order.
    pub iocs: Vec<Ioc>,
}

fn is_key_id(s: &str) -> bool {
    s.len() == 20
        && ["AKIA", "ASIA", "ABIA", "ACCA", "AIDA", "AROA", "AIPA"].iter().any(|p| s.starts_with(p))
        && s.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// Type one indicator line (already stripped of comments).
pub fn parse_line(s: &str) -> Result<IocKind, String> {
    let (prefix, value) = match s.split_once(':') {
        Some((p, v)) if ["ip", "cidr", "key", "account", "ua", "user-agent"].contains(&p.trim()) => {
            (Some(p.trim()), v.trim())
        }
        _ => (None, s),
    };
    let bad = |what: &str| format!("`{value}` is not {what}");
    match prefix {
        Some("ip") => value.parse().map(IocKind::Ip).map_err(|_| bad("an IP address")),
        Some("cidr") => value.parse().map(IocKind::Cidr).map_err(|_| bad("a CIDR")),
        Some("key") => Ok(IocKind::AccessKey(value.to_owned())),
        Some("account") if value.len() == 12 && value.bytes().all(|b| b.is_ascii_digit()) => {
            Ok(IocKind::Account(value.to_owned()))
        }
        Some("account") => Err(bad("a 12-digit account id")),
        Some(_) => Ok(IocKind::UserAgent(value.to_owned())),
        None => {
            if let Ok(ip) = value.parse::<IpAddr>() {
                Ok(IocKind::Ip(ip))
            } else if let Ok(net) = value.parse::<IpNet>() {
                Ok(IocKind::Cidr(net))
            } else if is_key_id(value) {
                Ok(IocKind::AccessKey(value.to_owned()))
            } else if value.starts_with("arn:") {
                Ok(IocKind::Arn(value.to_owned()))
            } else if value.len() == 12 && value.bytes().all(|b| b.is_ascii_digit()) {
                Ok(IocKind::Account(value.to_owned()))
            } else {
                Err(format!("cannot tell what `{value}` is: prefix it with ip:, cidr:, key:, account: or ua:"))
            }
        }
    }
}

impl IocSet {
    /// Load IOC files. Every bad line is an error naming file and line.
    pub fn load(paths: &[impl AsRef<Path>]) -> (IocSet, Vec<RuleError>) {
        let mut set = IocSet::default();
        let mut errors = Vec::new();
        for p in paths {
            let p = p.as_ref();
            let path = p.display().to_string();
            let text = match std::fs::read_to_string(p) {
                Ok(t) => t,
                Err(e) => {
                    errors.push(RuleError { path, line: 0, rule: None, kind: RuleErrorKind::Io(e.to_string()) });
                    continue;
                }
            };
            // Lists saved by Windows editors start with a byte-order mark.
            let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
            for (i, raw) in text.lines().enumerate() {
                let line = raw.split(" #").next().unwrap_or("").trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                match parse_line(line) {
                    Ok(kind) => set.iocs.push(Ioc { kind, text: line.to_owned(), path: path.clone(), line: i + 1 }),
                    Err(message) => errors.push(RuleError {
                        path: path.clone(),
                        line: i + 1,
                        rule: None,
                        kind: RuleErrorKind::BadValue { field: "ioc".into(), message },
                    }),
                }
            }
        }
        (set, errors)
    }

    /// Does `value` of column `field` hit indicator `ioc`?
    fn hits(ioc: &IocKind, field: Field, value: &str) -> bool {
        match (ioc, field) {
            (IocKind::Ip(ip), Field::SourceIp) => value.parse::<IpAddr>().is_ok_and(|v| v == *ip),
            (IocKind::Cidr(n), Field::SourceIp) => value.parse::<IpAddr>().is_ok_and(|v| n.contains(&v)),
            (IocKind::AccessKey(k), Field::AccessKeyId) => value == k,
            (IocKind::Arn(a), Field::PrincipalArn | Field::SessionIssuerArn) => value == a,
            (IocKind::Account(a), Field::IdentityAccount | Field::RecipientAccount) => value == a,
            (IocKind::UserAgent(u), Field::UserAgent) => contains_ignore_case(value, u),
            _ => false,
        }
    }

    /// One finding per indicator that hits, with every event it hits.
    pub fn run(&self, store: &Store) -> Vec<Finding> {
        const FIELDS: [Field; 7] = [
            Field::SourceIp,
            Field::AccessKeyId,
            Field::PrincipalArn,
            Field::SessionIssuerArn,
            Field::IdentityAccount,
            Field::RecipientAccount,
            Field::UserAgent,
        ];
        let mut findings = Vec::new();
        for ioc in &self.iocs {
            // Per column: which dictionary ids hit (string work once per distinct value).
            let sets: Vec<(Field, Vec<bool>)> = FIELDS
                .iter()
                .map(|&f| {
                    let d = store.dict(f);
                    (
                        f,
                        (0..d.len() as u32)
                            .map(|i| i > 0 && Self::hits(&ioc.kind, f, d.get(trailscope_store::Sym(i))))
                            .collect::<Vec<bool>>(),
                    )
                })
                .filter(|(_, hits)| hits.iter().any(|h| *h))
                .collect();
            if sets.is_empty() {
                continue;
            }
            let rows: Vec<u32> = (0..store.len())
                .filter(|&r| sets.iter().any(|(f, hits)| hits[store.column(*f).get(r).index()]))
                .map(|r| r as u32)
                .collect();
            if rows.is_empty() {
                continue;
            }
            let meta = RuleMeta {
                id: format!("ioc:{}:{}", ioc.path, ioc.line),
                title: format!("IOC match: {}", ioc.text),
                severity: Severity::High,
                description: format!("Indicator from {} line {}", ioc.path, ioc.line),
                source: ioc.path.clone(),
                indicator: true,
                ..RuleMeta::default()
            };
            findings.push(Finding { rule: Arc::new(meta), rows, group: Some(ioc.text.clone()) });
        }
        findings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_by_shape_or_prefix() {
        assert!(matches!(parse_line("185.220.101.47"), Ok(IocKind::Ip(_))));
        assert!(matches!(parse_line("2001:db8::/32"), Ok(IocKind::Cidr(_))));
        assert!(matches!(parse_line("10.0.0.0/8"), Ok(IocKind::Cidr(_))));
        assert!(matches!(parse_line("AKIAIOSFODNN7EXAMPLE"), Ok(IocKind::AccessKey(_))));
        assert!(matches!(parse_line("arn:aws:iam::123456789012:user/x"), Ok(IocKind::Arn(_))));
        assert!(matches!(parse_line("123456789012"), Ok(IocKind::Account(_))));
        assert_eq!(parse_line("ua: pacu"), Ok(IocKind::UserAgent("pacu".into())));
        assert!(parse_line("pacu").unwrap_err().contains("prefix it"));
        assert!(parse_line("ip: 999.1.1.1").is_err());
    }

    #[test]
    fn a_byte_order_mark_is_not_part_of_the_first_indicator_and_every_bad_line_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("iocs.txt");
        std::fs::write(
            &p,
            "\u{feff}185.220.101.47\r\nnot-an-ioc\r\n# note\r\nip: 999.1.1.1\r\nAKIAIOSFODNN7EXAMPLE\r\n",
        )
        .unwrap();
        let (set, errors) = IocSet::load(&[&p]);
        assert_eq!(set.iocs.len(), 2);
        assert!(matches!(set.iocs[0].kind, IocKind::Ip(_)), "{:?}", set.iocs[0]);
        let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [2, 4]);
    }
}
