//! Per-principal summaries ([`crate::summary`]) as an aligned table, CSV or JSON.

use std::io::{self, Write};

use super::{clean, csv_cell};
use crate::summary::PrincipalSummary;

fn list(v: &[String]) -> String {
    if v.is_empty() {
        "-".into()
    } else {
        clean(&v.join(", ")).into_owned()
    }
}

fn top_apis(s: &PrincipalSummary, sep: &str) -> String {
    s.top_apis.iter().map(|a| format!("{} ({})", a.api, a.calls)).collect::<Vec<_>>().join(sep)
}

/// Write the summaries as a table: one aligned line of counts per principal, its lists indented
/// below (lists of IPs and user agents would make a single line unreadable).
///
/// # Errors
/// I/O errors from `out`.
pub fn write_table<W: Write>(out: &mut W, summaries: &[PrincipalSummary]) -> io::Result<()> {
    let names: Vec<String> = summaries.iter().map(|s| clean(&s.principal).into_owned()).collect();
    let width = names.iter().map(|n| n.chars().count()).max().unwrap_or(0).max("PRINCIPAL".len());
    writeln!(
        out,
        "{:<width$}  {:>7}  {:>7}  {:>6}  {:>6}  {:>4}  {:<20}  LAST SEEN",
        "PRINCIPAL", "EVENTS", "OK", "DENIED", "FAILED", "APIS", "FIRST SEEN"
    )?;
    for (s, name) in summaries.iter().zip(&names) {
        writeln!(
            out,
            "{:<width$}  {:>7}  {:>7}  {:>6}  {:>6}  {:>4}  {:<20}  {}",
            name, s.events, s.calls_ok, s.calls_denied, s.calls_failed, s.distinct_apis, s.first_seen, s.last_seen
        )?;
        writeln!(out, "    accounts:     {}", list(&s.accounts))?;
        writeln!(out, "    top APIs:     {}", clean(&top_apis(s, ", ")))?;
        writeln!(out, "    denied APIs:  {}", list(&s.apis_denied))?;
        writeln!(out, "    regions:      {}", list(&s.regions))?;
        writeln!(out, "    source IPs:   {}", list(&s.source_ips))?;
        writeln!(out, "    user agents:  {}", list(&s.user_agents))?;
        writeln!(out, "    access keys:  {}", list(&s.access_keys))?;
    }
    let events: usize = summaries.iter().map(|s| s.events).sum();
    writeln!(out, "{} principals, {events} events", summaries.len())
}

/// CSV columns, in order.
pub const CSV_COLUMNS: [&str; 15] = [
    "principal",
    "accounts",
    "events",
    "first_seen",
    "last_seen",
    "calls_ok",
    "calls_denied",
    "calls_failed",
    "distinct_apis",
    "top_apis",
    "apis_denied",
    "regions",
    "source_ips",
    "user_agents",
    "access_keys",
];

/// Write the summaries as CSV with a header; lists are joined with `; `.
///
/// # Errors
/// I/O errors from `out`.
pub fn write_csv<W: Write>(out: &mut W, summaries: &[PrincipalSummary]) -> io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(CSV_COLUMNS)?;
    for s in summaries {
        let cells: [String; 15] = [
            s.principal.clone(),
            s.accounts.join("; "),
            s.events.to_string(),
            s.first_seen.to_string(),
            s.last_seen.to_string(),
            s.calls_ok.to_string(),
            s.calls_denied.to_string(),
            s.calls_failed.to_string(),
            s.distinct_apis.to_string(),
            top_apis(s, "; "),
            s.apis_denied.join("; "),
            s.regions.join("; "),
            s.source_ips.join("; "),
            s.user_agents.join("; "),
            s.access_keys.join("; "),
        ];
        w.write_record(cells.iter().map(|c| csv_cell(c).into_owned()))?;
    }
    w.flush()
}

/// Write the summaries as one pretty-printed JSON array (fields as in [`PrincipalSummary`]).
///
/// # Errors
/// I/O errors from `out`.
pub fn write_json<W: Write>(out: &mut W, summaries: &[PrincipalSummary]) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, summaries).map_err(io::Error::other)?;
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::ApiCount;
    use crate::Time;

    fn one(ua: &str) -> PrincipalSummary {
        PrincipalSummary {
            principal: "arn:aws:iam::111122223333:user/a\x1b[2J".into(),
            accounts: vec!["111122223333".into()],
            events: 3,
            first_seen: Time(0),
            last_seen: Time(1000),
            calls_ok: 2,
            calls_denied: 1,
            calls_failed: 0,
            distinct_apis: 2,
            top_apis: vec![ApiCount { api: "iam:ListUsers".into(), calls: 2 }],
            apis_denied: vec!["iam:ListRoles".into()],
            regions: vec!["us-east-1".into()],
            source_ips: vec!["198.51.100.7".into()],
            user_agents: vec![ua.into()],
            access_keys: vec![],
        }
    }

    #[test]
    fn csv_cells_cannot_start_a_formula() {
        for bad in ["=HYPERLINK(\"x\")", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"] {
            assert!(csv_cell(bad).starts_with('\''), "{bad:?}");
        }
        assert_eq!(csv_cell("aws-cli/2.0"), "aws-cli/2.0");
        let mut buf = Vec::new();
        write_csv(&mut buf, &[one("=cmd|' /C calc'!A0")]).unwrap();
        let text = String::from_utf8(buf).unwrap();
        assert!(text.contains("'=cmd"), "{text}");
        let mut r = csv::Reader::from_reader(text.as_bytes());
        let row = r.records().next().unwrap().unwrap();
        assert_eq!(&row[13], "'=cmd|' /C calc'!A0");
        assert_eq!(&row[9], "iam:ListUsers (2)");
    }

    #[test]
    fn table_is_clean_and_aligned() {
        let mut buf = Vec::new();
        write_table(&mut buf, &[one("aws-cli/2.0\x07")]).unwrap();
        let text = String::from_utf8(buf).unwrap();
        assert!(!text.chars().any(|c| c.is_control() && c != '\n'), "{text:?}");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0].find("EVENTS").map(|i| i + 6), lines[1].find("  3 ").map(|i| i + 3));
        assert!(text.ends_with("1 principals, 3 events\n"));
    }
}
