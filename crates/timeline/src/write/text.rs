//! The forensic summary as plain text, for the terminal and for review (golden files).

use std::io::{self, Write};

use crate::Report;

/// Most timeline lines printed in the summary (the JSON report has them all).
pub const TIMELINE_LIMIT: usize = 200;

fn bytes(n: u64) -> String {
    match n {
        0 => "-".into(),
        n if n >= 1 << 30 => format!("{:.1} GiB", n as f64 / (1u64 << 30) as f64),
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}

/// Write the summary.
///
/// # Errors
/// I/O errors from `out`.
pub fn write_report<W: Write>(out: &mut W, r: &Report) -> io::Result<()> {
    writeln!(out, "Forensic Report: {}", r.id)?;
    writeln!(out, "{}", "=".repeat(17 + r.id.len()))?;
    writeln!(out, "Account(s):        {}", if r.accounts.is_empty() { "-".into() } else { r.accounts.join(", ") })?;
    if !r.affected_accounts.is_empty() {
        writeln!(out, "Affected accounts: {}", r.affected_accounts.join(", "))?;
    }
    writeln!(out, "Regions:           {}", r.regions.join(", "))?;
    writeln!(
        out,
        "Evidence:          {} events, {} .. {}",
        r.events_total,
        r.evidence_from.as_deref().unwrap_or("-"),
        r.evidence_to.as_deref().unwrap_or("-")
    )?;
    if let Some(m) = &r.manifest_sha256 {
        writeln!(out, "Manifest:          {} files, SHA-256 {m}", r.evidence_files)?;
    }
    match (&r.activity_from, &r.activity_to) {
        (Some(a), Some(b)) => writeln!(out, "Timeframe:         {a} .. {b} (attacker activity)")?,
        _ => writeln!(out, "Timeframe:         no attacker activity attributed")?,
    }
    writeln!(
        out,
        "Suspicious Events: {} ({} attributed to the attacker, {} more with medium+ findings)",
        r.suspicious_events,
        r.attacker_events,
        r.suspicious_events - r.attacker_events
    )?;

    writeln!(out, "\nCompromised Credentials ({})", r.compromised_credentials.len())?;
    for c in &r.compromised_credentials {
        writeln!(
            out,
            "  {} [{}] {}",
            c.access_key,
            c.kind,
            if c.principals.is_empty() { "-".into() } else { c.principals.join(", ") }
        )?;
        writeln!(out, "      obtained: {}", c.obtained)?;
        writeln!(out, "      used: {} events, {} .. {}", c.events, c.first_used, c.last_used)?;
    }

    writeln!(out, "\nSource IPs ({})", r.source_ips.len())?;
    for ip in &r.source_ips {
        writeln!(out, "  {:<40} {:>5} events  {} .. {}", ip.ip, ip.events, ip.first_seen, ip.last_seen)?;
        for (ua, kind) in ip.user_agents.iter().zip(&ip.user_agent_kinds) {
            writeln!(out, "      user agent [{kind}]: {ua}")?;
        }
    }

    writeln!(out, "\nActions Taken ({} kinds)", r.actions.len())?;
    for a in &r.actions {
        let failed = if a.failed > 0 { format!(", {} denied/failed", a.failed) } else { String::new() };
        writeln!(out, "  {}  {:<45} {} ok{failed}", a.first, a.action, a.succeeded)?;
    }

    writeln!(out, "\nData Accessed ({})", r.data_accessed.len())?;
    for d in &r.data_accessed {
        writeln!(
            out,
            "  {:<15} {:<45} {:>4} reads  {:>10}  account {}",
            d.service,
            d.resource,
            d.reads,
            bytes(d.bytes_out),
            d.account
        )?;
    }

    writeln!(out, "\nPersistence Mechanisms ({})", r.persistence.len())?;
    for c in &r.persistence {
        let status = if c.succeeded { "" } else { " [FAILED]" };
        let detail = if c.detail.is_empty() { String::new() } else { format!(" — {}", c.detail) };
        writeln!(out, "  {}  {}  {} {}{detail}{status}", c.time, c.account, c.action, c.target)?;
    }

    writeln!(out, "\nDefense Evasion ({})", r.defense_evasion.len())?;
    for c in &r.defense_evasion {
        let status = if c.succeeded { "" } else { " [FAILED]" };
        let detail = if c.detail.is_empty() { String::new() } else { format!(" — {}", c.detail) };
        writeln!(out, "  {}  {}  {} {}{detail}{status}", c.time, c.account, c.action, c.target)?;
    }

    writeln!(out, "\nFindings by rule ({})", r.findings.len())?;
    for f in &r.findings {
        writeln!(
            out,
            "  {:<9} {:<32} {:>5} findings {:>5} events  {} ({})",
            f.severity.name(),
            f.rule,
            f.findings,
            f.events,
            f.title,
            f.technique
        )?;
    }

    writeln!(out, "\nAttacker Timeline ({} events)", r.timeline.entries.len())?;
    for e in r.timeline.entries.iter().take(TIMELINE_LIMIT) {
        let err = e.error.as_deref().map(|c| format!(" !{c}")).unwrap_or_default();
        let rules = if e.findings.is_empty() { String::new() } else { format!("  [{}]", e.findings.join(",")) };
        writeln!(
            out,
            "  {} {} {:<14} {:<16} {:<20} {}{err}  {}{rules}",
            e.time,
            e.account,
            e.region,
            e.source_ip,
            e.access_key.as_deref().unwrap_or("-"),
            e.action,
            e.principal
        )?;
    }
    if r.timeline.entries.len() > TIMELINE_LIMIT {
        writeln!(
            out,
            "  ... {} more (use --format json for the full timeline)",
            r.timeline.entries.len() - TIMELINE_LIMIT
        )?;
    }
    Ok(())
}
