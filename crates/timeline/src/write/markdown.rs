//! The forensic report as Markdown, for case notes and tickets. Same content as the text form,
//! as tables; table cells are escaped so that values cannot break the layout.

use std::io::{self, Write};

use super::text::SECTION_LIMIT;
use crate::Report;

fn dash(t: Option<crate::Time>) -> String {
    t.map(|t| t.to_string()).unwrap_or_else(|| "-".into())
}

/// Escape a value for a Markdown table cell. Values come from the evidence, so an attacker
/// chooses some of them (user agents, names): HTML is escaped (html-escape) so a renderer shows
/// it as text, and Markdown's table and code delimiters are escaped too.
fn cell(s: &str) -> String {
    html_escape::encode_text(&super::clean(&s.replace(['\n', '\r'], " ")))
        .replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('`', "\\`")
}

/// The files not fully read, and the first ignored ones, under their own heading.
fn write_evidence_coverage<W: Write>(out: &mut W, c: &crate::report::EvidenceCoverage) -> io::Result<()> {
    if c.problems.is_empty() && c.ignored.is_empty() && c.conflicts.is_empty() {
        return Ok(());
    }
    writeln!(out, "\n## Evidence coverage\n\n{}\n", cell(&c.headline()))?;
    if !c.conflicts.is_empty() {
        writeln!(
            out,
            "Two different records under one event id: one of these files was altered. The report rests on the kept copy.\n"
        )?;
        writeln!(out, "| eventID | Account | Kept copy | Other copy | Fields that differ |\n|---|---|---|---|---|")?;
        for d in &c.conflicts {
            writeln!(
                out,
                "| {} | {} | {} record {} | {} record {} | {} |",
                cell(&d.event_id),
                cell(d.account.as_deref().unwrap_or("-")),
                cell(&d.kept_file),
                d.kept_record,
                cell(&d.other_file),
                d.other_record,
                cell(&d.fields.join(", "))
            )?;
        }
        let total = usize::try_from(c.conflicting_duplicates).unwrap_or(usize::MAX);
        super::more(
            out,
            total,
            c.conflicts.len(),
            ("\n... ", "conflicting duplicates", " (manifest.csv counts them per file)"),
        )?;
        if c.problems.is_empty() && c.ignored.is_empty() {
            return Ok(());
        }
        writeln!(out)?;
    }
    writeln!(out, "| File | Problem | Records | Reason |\n|---|---|---:|---|")?;
    for p in &c.problems {
        writeln!(out, "| {} | {} | {} | {} |", cell(&p.path), p.kind.describe(), p.records, cell(&p.detail))?;
    }
    let named = super::text::IGNORED_NAMED;
    for f in c.ignored.iter().take(named) {
        writeln!(out, "| {} | ignored | 0 | not CloudTrail |", cell(f))?;
    }
    if c.ignored.len() > named {
        writeln!(out, "| ... {} more ignored | | | manifest.csv lists every file |", c.ignored.len() - named)?;
    }
    Ok(())
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
    writeln!(out, "| Evidence | {} events, {} .. {} |", r.events_total, dash(r.evidence_from), dash(r.evidence_to))?;
    if let Some(m) = &r.manifest_sha256 {
        writeln!(out, "| Manifest | {} files, SHA-256 `{m}` |", r.evidence_files)?;
    }
    writeln!(out, "| Evidence coverage | {} |", cell(&r.evidence_coverage.headline()))?;
    match (r.activity_from, r.activity_to) {
        (Some(a), Some(b)) => writeln!(out, "| Timeframe | {a} .. {b} (attacker activity) |")?,
        _ => writeln!(out, "| Timeframe | no attacker activity attributed |")?,
    }
    writeln!(
        out,
        "| Suspicious Events | {} ({} attributed to the attacker) |",
        r.suspicious_events, r.attacker_events
    )?;

    if !r.overrides.is_empty() {
        writeln!(out, "| Overrides | --trust {} |", cell(&r.overrides.join(", ")))?;
    }
    if let Some(b) = &r.baseline {
        let warn = if b.attacker_events_inside > 0 {
            format!(
                " — **{} attacker events inside: first-seen rules could not fire on them**",
                b.attacker_events_inside
            )
        } else {
            String::new()
        };
        writeln!(out, "| Baseline window | {} .. {} (learned from {}){warn} |", b.from, b.to, cell(&b.source))?;
    }
    let enrichment = super::text::enrichment_summary(&r.enrichment);
    let enrichment: Vec<String> = enrichment.iter().map(|l| cell(l)).collect();
    writeln!(out, "| Enrichment | {} |", enrichment.join("<br>"))?;

    write_evidence_coverage(out, &r.evidence_coverage)?;
    writeln!(out, "\n## Actors\n\n| # | verdict | confidence | score | credential | network | tool | first .. last seen | events | errors | top reasons |\n|---:|---|---:|---:|---|---|---|---|---:|---:|---|")?;
    // Attackers rank first, so a cap keeps them; the rest are counted below the table.
    for a in r.actors.iter().take(ACTORS_LIMIT) {
        let reasons: Vec<String> =
            a.reasons.iter().take(3).map(|x| format!("{:+} {}", x.points, cell(&x.detail))).collect();
        writeln!(
            out,
            "| {} | {} | {:.2} | {} | `{}` | {} | {} | {} .. {} | {} | {} | {} |",
            a.id,
            a.verdict.label(),
            a.confidence,
            a.score,
            cell(&a.credential),
            cell(&a.network),
            a.tool.label(),
            a.first_seen,
            a.last_seen,
            a.events,
            a.errors,
            reasons.join("<br>")
        )?;
    }
    more(out, r.actors.len(), ACTORS_LIMIT, "actors")?;

    writeln!(out, "\n## Compromised Credentials\n\n| access key | kind | principals | obtained | attacker events | first .. last use |\n|---|---|---|---|---:|---|")?;
    for c in &r.compromised_credentials {
        writeln!(
            out,
            "| `{}` | {} | {} | {} | {} | {} .. {} |",
            cell(&c.access_key),
            c.kind.label(),
            cell(&c.principals.join(", ")),
            cell(&c.obtained.to_string()),
            c.events,
            dash(c.first_used),
            dash(c.last_used)
        )?;
    }
    writeln!(
        out,
        "\n## Source IPs\n\n| IP | events | first .. last seen | user agents | where |\n|---|---:|---|---|---|"
    )?;
    for ip in r.source_ips.iter().take(SECTION_LIMIT) {
        let uas: Vec<String> =
            ip.user_agents.iter().zip(&ip.user_agent_kinds).map(|(u, k)| format!("{} ({k})", cell(u))).collect();
        let place = r.enrichment.of(&ip.ip).map(|i| cell(&i.to_string())).unwrap_or_default();
        writeln!(
            out,
            "| {} | {} | {} .. {} | {} | {place} |",
            cell(&ip.ip),
            ip.events,
            ip.first_seen,
            ip.last_seen,
            uas.join("<br>")
        )?;
    }
    more(out, r.source_ips.len(), SECTION_LIMIT, "source IPs")?;
    writeln!(out, "\n## Actions Taken\n\n| first | action | succeeded | denied | failed |\n|---|---|---:|---:|---:|")?;
    for a in &r.actions {
        writeln!(out, "| {} | `{}` | {} | {} | {} |", a.first, cell(&a.action), a.succeeded, a.denied, a.failed)?;
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
            "\n## {title}\n\n| time | account | actor | action | target | detail | end state |\n|---|---|---:|---|---|---|---|"
        )?;
        for c in changes.iter().take(SECTION_LIMIT) {
            writeln!(
                out,
                "| {} | {} | #{} | `{}` | {} | {} | {} |",
                c.time,
                c.account,
                c.actor,
                cell(&c.action),
                cell(&c.target),
                cell(&c.detail),
                cell(&c.end_state.to_string())
            )?;
        }
        more(out, changes.len(), SECTION_LIMIT, "changes")?;
    }
    writeln!(
        out,
        "\n## Remediation and Containment\n\n| step | target | account | because | status |\n|---|---|---|---|---|"
    )?;
    for m in r.remediation.iter().take(SECTION_LIMIT) {
        writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            cell(m.step.text()),
            cell(&m.target),
            m.account,
            cell(&m.because.to_string()),
            cell(&m.status.to_string())
        )?;
    }
    more(out, r.remediation.len(), SECTION_LIMIT, "steps")?;
    writeln!(out, "\n## Coverage\n")?;
    for g in &r.coverage.gaps {
        writeln!(out, "- {}", cell(&serde_json::to_string(g).unwrap_or_default()))?;
    }
    for c in &r.coverage.caveats {
        writeln!(out, "- **Caveat:** {}", cell(c))?;
    }
    writeln!(out, "\n## Findings by rule\n\n| severity | rule | risk | findings | events | title | techniques |\n|---|---|---|---:|---:|---|---|")?;
    for f in &r.findings {
        writeln!(
            out,
            "| {} | `{}` | {} | {} | {} | {} | {} |",
            f.severity.name(),
            cell(&f.rule),
            if f.risk { "risk" } else { "" },
            f.findings,
            f.events,
            cell(&f.title),
            cell(&f.techniques.join(", "))
        )?;
    }
    writeln!(
        out,
        "\n## Attacker Timeline\n\n| time | actor | account | region | source IP | access key | action | error | principal | rules | ATT&CK | event id |\n|---|---:|---|---|---|---|---|---|---|---|---|---|"
    )?;
    for e in r.timeline.entries.iter().take(TIMELINE_LIMIT) {
        writeln!(
            out,
            "| {} | #{} | {} | {} | {} | {} | `{}` | {} | {} | {} | {} | {} |",
            e.time,
            e.actor,
            e.account,
            e.region,
            cell(&e.source_ip),
            cell(e.access_key.as_deref().unwrap_or("-")),
            cell(&e.action),
            cell(e.error.as_deref().unwrap_or("")),
            cell(&e.principal),
            cell(&e.findings.join(", ")),
            e.techniques.join(", "),
            cell(&e.event_id)
        )?;
    }
    more(out, r.timeline.entries.len(), TIMELINE_LIMIT, "attacker events (timeline.csv too)")
}

/// Actors in the table: attacker and suspicious ones rank first.
pub const ACTORS_LIMIT: usize = super::text::HOSTILE_ACTORS_LIMIT;
/// Rows of the attacker timeline.
pub const TIMELINE_LIMIT: usize = 1000;

/// The closing line of a capped table.
fn more<W: Write>(out: &mut W, total: usize, shown: usize, what: &str) -> io::Result<()> {
    super::more(out, total, shown, ("\n*... ", what, ": report.json has them all.*"))
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
