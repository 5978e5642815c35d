//! The forensic report as Markdown, for case notes and tickets. Same content as the text form,
//! as tables; table cells are escaped so that values cannot break the layout.

use std::io::{self, Write};

use crate::Report;

/// Escape a value for a Markdown table cell. Values come from the evidence, so an attacker
/// chooses some of them (user agents, names): HTML is escaped (html-escape) so a renderer shows
/// it as text, and Markdown's table and code delimiters are escaped too.
fn cell(s: &str) -> String {
    html_escape::encode_text(s).replace('\\', "\\\\").replace('|', "\\|").replace(['\n', '\r'], " ").replace('`', "\\`")
}

/// Write the report as Markdown.
///
/// # Errors
/// I/O errors from `out`.
pub fn write_report<W: Write>(out: &mut W, r: &Report) -> io::Result<()> {
    writeln!(out, "# Forensic Report: {}\n", r.id)?;
    writeln!(out, "| | |\n|---|---|")?;
    writeln!(out, "| Account(s) | {} |", cell(&r.accounts.join(", ")))?;
    writeln!(out, "| Affected accounts | {} |", cell(&r.affected_accounts.join(", ")))?;
    writeln!(out, "| Regions | {} |", cell(&r.regions.join(", ")))?;
    writeln!(
        out,
        "| Evidence | {} events, {} .. {} |",
        r.events_total,
        r.evidence_from.as_deref().unwrap_or("-"),
        r.evidence_to.as_deref().unwrap_or("-")
    )?;
    if let Some(m) = &r.manifest_sha256 {
        writeln!(out, "| Manifest | {} files, SHA-256 `{m}` |", r.evidence_files)?;
    }
    match (&r.activity_from, &r.activity_to) {
        (Some(a), Some(b)) => writeln!(out, "| Timeframe | {a} .. {b} (attacker activity) |")?,
        _ => writeln!(out, "| Timeframe | no attacker activity attributed |")?,
    }
    writeln!(
        out,
        "| Suspicious Events | {} ({} attributed to the attacker) |",
        r.suspicious_events, r.attacker_events
    )?;

    writeln!(out, "\n## Compromised Credentials\n\n| access key | kind | principals | obtained | attacker events | first .. last use |\n|---|---|---|---|---:|---|")?;
    for c in &r.compromised_credentials {
        writeln!(
            out,
            "| `{}` | {} | {} | {} | {} | {} .. {} |",
            cell(&c.access_key),
            c.kind,
            cell(&c.principals.join(", ")),
            cell(&c.obtained),
            c.events,
            c.first_used,
            c.last_used
        )?;
    }
    writeln!(out, "\n## Source IPs\n\n| IP | events | first .. last seen | user agents |\n|---|---:|---|---|")?;
    for ip in &r.source_ips {
        let uas: Vec<String> =
            ip.user_agents.iter().zip(&ip.user_agent_kinds).map(|(u, k)| format!("{} ({k})", cell(u))).collect();
        writeln!(out, "| {} | {} | {} .. {} | {} |", ip.ip, ip.events, ip.first_seen, ip.last_seen, uas.join("<br>"))?;
    }
    writeln!(out, "\n## Actions Taken\n\n| first | action | succeeded | failed |\n|---|---|---:|---:|")?;
    for a in &r.actions {
        writeln!(out, "| {} | `{}` | {} | {} |", a.first, cell(&a.action), a.succeeded, a.failed)?;
    }
    writeln!(
        out,
        "\n## Data Accessed\n\n| service | resource | reads | bytes out | account |\n|---|---|---:|---:|---|"
    )?;
    for d in &r.data_accessed {
        writeln!(out, "| {} | {} | {} | {} | {} |", d.service, cell(&d.resource), d.reads, d.bytes_out, d.account)?;
    }
    for (title, changes) in [("Persistence Mechanisms", &r.persistence), ("Defense Evasion", &r.defense_evasion)] {
        writeln!(
            out,
            "\n## {title}\n\n| time | account | action | target | detail | result |\n|---|---|---|---|---|---|"
        )?;
        for c in changes.iter() {
            let result = if c.succeeded { "succeeded" } else { "FAILED" };
            writeln!(
                out,
                "| {} | {} | `{}` | {} | {} | {result} |",
                c.time,
                c.account,
                cell(&c.action),
                cell(&c.target),
                cell(&c.detail)
            )?;
        }
    }
    writeln!(out, "\n## Findings by rule\n\n| severity | rule | findings | events | title | techniques |\n|---|---|---:|---:|---|---|")?;
    for f in &r.findings {
        writeln!(
            out,
            "| {} | `{}` | {} | {} | {} | {} |",
            f.severity.name(),
            cell(&f.rule),
            f.findings,
            f.events,
            cell(&f.title),
            cell(&f.technique)
        )?;
    }
    writeln!(
        out,
        "\n## Attacker Timeline\n\n| time | account | region | source IP | access key | action | error | principal | rules |\n|---|---|---|---|---|---|---|---|---|"
    )?;
    for e in &r.timeline.entries {
        writeln!(
            out,
            "| {} | {} | {} | {} | {} | `{}` | {} | {} | {} |",
            e.time,
            e.account,
            e.region,
            cell(&e.source_ip),
            e.access_key.as_deref().unwrap_or("-"),
            cell(&e.action),
            e.error.as_deref().unwrap_or(""),
            cell(&e.principal),
            e.findings.join(", ")
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::cell;

    #[test]
    fn hostile_values_stay_text() {
        assert_eq!(
            cell("Mozilla <script>alert(1)</script> | x `y`"),
            "Mozilla &lt;script&gt;alert(1)&lt;/script&gt; \\| x \\`y\\`"
        );
        assert_eq!(cell("a\nb"), "a b");
    }
}
