//! The forensic summary as plain text, for the terminal and for review (golden files).
//! Evidence strings pass through [`clean`]: no control character reaches the terminal.

use std::io::{self, Write};

use super::clean;
use crate::actors::{Actor, Verdict};
use crate::change::EndState;
use crate::report::{Change, CoverageGap};
use crate::report::{Enrichment, EvidenceCoverage};
use crate::timeline::TimelineEntry;
use crate::{Report, Time};

/// Most timeline lines printed in the summary (the JSON report has them all).
pub const TIMELINE_LIMIT: usize = 200;
/// Benign and unknown actors listed one per line before the rest are counted.
pub const OTHER_ACTORS_LIMIT: usize = 12;
/// Attacker and suspicious actors shown with their reasons; the next ones get a line each, up to
/// [`HOSTILE_ACTORS_LIMIT`] in all (a leaked key used by thousands of strangers is thousands of
/// actors: the report must stay readable, and the JSON has them all).
pub const ACTORS_IN_FULL: usize = 30;
/// Attacker and suspicious actors listed before the rest are counted.
pub const HOSTILE_ACTORS_LIMIT: usize = 200;
/// Entries of a list section (source IPs, persistence, evasion, remediation) before the rest are
/// counted.
pub const SECTION_LIMIT: usize = 100;

/// The closing line of a capped section.
fn more<W: Write>(out: &mut W, total: usize, shown: usize, what: &str) -> io::Result<()> {
    super::more(out, total, shown, ("  ... ", what, " (JSON has them all)"))
}

fn bytes(n: u64) -> String {
    match n {
        0 => "-".into(),
        n if n >= 1 << 30 => format!("{:.1} GiB", n as f64 / (1u64 << 30) as f64),
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}

fn list(v: &[String]) -> String {
    if v.is_empty() {
        "-".into()
    } else {
        clean(&v.join(", ")).into_owned()
    }
}

fn actor_line(a: &Actor) -> String {
    format!(
        "#{:<3} {:<12} {:.2}  score {:>4}  {}  from {}  [{}]  {} .. {}  {} events, {} errors ({} denied)",
        a.id,
        a.verdict.label(),
        a.confidence,
        a.score,
        clean(&a.credential),
        a.network,
        a.tool.label(),
        a.first_seen,
        a.last_seen,
        a.events,
        a.errors,
        a.denied
    )
}

/// The report's enrichment line(s): the databases used, or that enrichment was not done.
pub(crate) fn enrichment_summary(e: &Enrichment) -> Vec<String> {
    if !e.done {
        return vec!["not done (no --geoip, --asn or --aws-ranges given)".into()];
    }
    e.databases
        .iter()
        .map(|d| {
            let mut about = Vec::new();
            if let Some(t) = &d.database_type {
                about.push(t.clone());
            }
            if let Some(b) = d.build_epoch {
                about.push(format!("built {}", Time(b as i64 * 1000)));
            }
            if let Some(c) = &d.create_date {
                about.push(format!("created {c}"));
            }
            if let Some(t) = &d.sync_token {
                about.push(format!("sync token {t}"));
            }
            if let Some(n) = d.prefixes {
                about.push(format!("{n} prefixes"));
            }
            about.push(format!("SHA-256 {}", d.sha256));
            format!("{} {} ({})", d.kind.flag().trim_start_matches('-'), d.file, about.join(", "))
        })
        .collect()
}

/// `ip (what the databases say)`, or the address alone when not enriched.
fn with_info(e: &Enrichment, ip: &str) -> String {
    match e.of(ip) {
        Some(i) => format!("{ip} ({i})"),
        None => ip.to_owned(),
    }
}

fn write_actor<W: Write>(out: &mut W, a: &Actor, e: &Enrichment) -> io::Result<()> {
    writeln!(out, "  {}", actor_line(a))?;
    writeln!(out, "      principals: {}", list(&a.principals))?;
    if !a.access_keys.is_empty() {
        writeln!(out, "      access keys: {}", list(&a.access_keys))?;
    }
    let ips: Vec<String> = a.source_ips.iter().map(|ip| with_info(e, ip)).collect();
    writeln!(out, "      source IPs: {}", list(&ips))?;
    for ua in a.user_agents.iter().take(3) {
        writeln!(out, "      user agent: {}", clean(ua))?;
    }
    writeln!(out, "      sessions: {}", a.sessions.len())?;
    for r in a.reasons.iter().take(8) {
        let ev = r.event_ids.first().map(|e| format!("  (e.g. {e})")).unwrap_or_default();
        writeln!(out, "      {:+4} {}{ev}", r.points, clean(&r.detail))?;
    }
    if a.reasons.len() > 8 {
        writeln!(out, "      ... {} more reasons (JSON has them all)", a.reasons.len() - 8)?;
    }
    if !a.linked_to.is_empty() {
        let ids: Vec<String> = a.linked_to.iter().map(|i| format!("#{i}")).collect();
        writeln!(out, "      tied to: {}", ids.join(", "))?;
    }
    if !a.risks.is_empty() {
        writeln!(out, "      risk findings (not scored): {}", list(&a.risks))?;
    }
    Ok(())
}

fn state(s: &EndState) -> String {
    match s {
        EndState::Present => "[still present]".into(),
        EndState::Attempted { error } => format!("[ATTEMPT, failed: {}]", clean(error)),
        EndState::Reverted { at, by_call, by_principal, .. } => {
            format!("[undone {at} by {} ({by_call})]", clean(by_principal))
        }
    }
}

fn write_changes<W: Write>(out: &mut W, changes: &[Change]) -> io::Result<()> {
    for c in changes.iter().take(SECTION_LIMIT) {
        let detail = if c.detail.is_empty() { String::new() } else { format!(" — {}", clean(&c.detail)) };
        writeln!(
            out,
            "  {}  {}  #{}  {} {}{detail}  {}",
            c.time,
            c.account,
            c.actor,
            c.action,
            clean(&c.target),
            state(&c.end_state)
        )?;
    }
    more(out, changes.len(), SECTION_LIMIT, "changes")
}

/// Timeline rows folded: consecutive calls of one actor with the same action, outcome and
/// source collapse into one line with a count.
fn fold(entries: &[TimelineEntry]) -> Vec<(&TimelineEntry, usize)> {
    let mut out: Vec<(&TimelineEntry, usize)> = Vec::new();
    for e in entries {
        match out.last_mut() {
            Some((p, n))
                if p.actor == e.actor
                    && p.action == e.action
                    && p.error == e.error
                    && p.source_ip == e.source_ip
                    && p.account == e.account =>
            {
                *n += 1
            }
            _ => out.push((e, 1)),
        }
    }
    out
}

/// How many ignored files are named before "... N more" (the manifest lists them all).
pub(crate) const IGNORED_NAMED: usize = 20;

/// The evidence-coverage lines: counts, then every file not fully read (and the first ignored).
fn write_evidence_coverage<W: Write>(out: &mut W, c: &EvidenceCoverage) -> io::Result<()> {
    writeln!(out, "Evidence coverage: {}", c.headline())?;
    for p in &c.problems {
        let records = if p.records > 0 { format!(", {} records", p.records) } else { String::new() };
        writeln!(out, "  {}: {}{records} ({})", p.kind.describe(), clean(&p.path), clean(&p.detail))?;
    }
    for f in c.ignored.iter().take(IGNORED_NAMED) {
        writeln!(out, "  ignored: {}", clean(f))?;
    }
    if c.ignored.len() > IGNORED_NAMED {
        writeln!(out, "  ... {} more ignored (manifest.csv lists every file)", c.ignored.len() - IGNORED_NAMED)?;
    }
    for d in &c.conflicts {
        writeln!(out, "  conflicting duplicate: {} (one of these files was altered)", clean(&d.describe()))?;
    }
    let total = usize::try_from(c.conflicting_duplicates).unwrap_or(usize::MAX);
    super::more(
        out,
        total,
        c.conflicts.len(),
        ("  ... ", "conflicting duplicates", " (manifest.csv counts them per file)"),
    )?;
    Ok(())
}

/// Write the summary.
///
/// # Errors
/// I/O errors from `out`.
pub fn write_report<W: Write>(out: &mut W, r: &Report) -> io::Result<()> {
    writeln!(out, "Forensic Report: {}", r.id)?;
    writeln!(out, "{}", "=".repeat(17 + r.id.len()))?;
    writeln!(out, "Account(s):        {}", list(&r.accounts))?;
    if !r.affected_accounts.is_empty() {
        writeln!(out, "Affected accounts: {}", list(&r.affected_accounts))?;
    }
    writeln!(out, "Regions:           {}", list(&r.regions))?;
    let or_dash = |t: Option<crate::Time>| t.map(|t| t.to_string()).unwrap_or_else(|| "-".into());
    writeln!(
        out,
        "Evidence:          {} events, {} .. {}",
        r.events_total,
        or_dash(r.evidence_from),
        or_dash(r.evidence_to)
    )?;
    if let Some(m) = &r.manifest_sha256 {
        writeln!(out, "Manifest:          {} files, SHA-256 {m}", r.evidence_files)?;
    }
    write_evidence_coverage(out, &r.evidence_coverage)?;
    match (r.activity_from, r.activity_to) {
        (Some(a), Some(b)) => writeln!(out, "Timeframe:         {a} .. {b} (attacker activity)")?,
        _ => {
            writeln!(out, "Timeframe:         no attacker activity attributed")?;
            let suspicious = r.actors.iter().filter(|a| a.verdict == Verdict::Suspicious).count();
            if suspicious > 0 {
                writeln!(
                    out,
                    "                   no actor reached the attacker threshold; {suspicious} suspicious actor(s) below, with their reasons, need review"
                )?;
            }
        }
    }
    writeln!(
        out,
        "Suspicious Events: {} ({} by attacker actors, {} more with medium+ findings)",
        r.suspicious_events,
        r.attacker_events,
        r.suspicious_events - r.attacker_events
    )?;
    if !r.overrides.is_empty() {
        writeln!(out, "Overrides:         --trust {}", list(&r.overrides))?;
    }
    if let Some(b) = &r.baseline {
        writeln!(out, "Baseline window:   {} .. {} (learned from {})", b.from, b.to, clean(&b.source))?;
        if b.attacker_events_inside > 0 {
            writeln!(
                out,
                "  WARNING: {} attacker events lie inside the learning window: first-seen rules could not fire on them (use --baseline or --learn)",
                b.attacker_events_inside
            )?;
        }
    }
    for (i, line) in enrichment_summary(&r.enrichment).iter().enumerate() {
        let label = if i == 0 { "Enrichment:" } else { "" };
        writeln!(out, "{label:<19}{}", clean(line))?;
    }

    let count = |v: Verdict| r.actors.iter().filter(|a| a.verdict == v).count();
    writeln!(
        out,
        "\nActors ({}: {} attacker, {} suspicious, {} unknown, {} benign/owner)",
        r.actors.len(),
        count(Verdict::Attacker),
        count(Verdict::Suspicious),
        count(Verdict::Unknown),
        count(Verdict::Benign)
    )?;
    let hostile: Vec<&Actor> =
        r.actors.iter().filter(|a| matches!(a.verdict, Verdict::Attacker | Verdict::Suspicious)).collect();
    for (i, a) in hostile.iter().take(HOSTILE_ACTORS_LIMIT).enumerate() {
        if i < ACTORS_IN_FULL {
            write_actor(out, a, &r.enrichment)?;
        } else {
            writeln!(out, "  {}", actor_line(a))?;
        }
    }
    if hostile.len() > HOSTILE_ACTORS_LIMIT {
        let events: usize = hostile[HOSTILE_ACTORS_LIMIT..].iter().map(|a| a.events).sum();
        more(out, hostile.len(), HOSTILE_ACTORS_LIMIT, &format!("attacker or suspicious actors with {events} events"))?;
    }
    let others: Vec<&Actor> =
        r.actors.iter().filter(|a| matches!(a.verdict, Verdict::Unknown | Verdict::Benign)).collect();
    if !others.is_empty() {
        writeln!(out, "  Others (owners, automation, AWS services; most eventful first):")?;
        let mut by_events = others.clone();
        by_events.sort_by(|a, b| (a.verdict, b.events, a.id).cmp(&(b.verdict, a.events, b.id)));
        for a in by_events.iter().take(OTHER_ACTORS_LIMIT) {
            writeln!(out, "  {}", actor_line(a))?;
        }
        if others.len() > OTHER_ACTORS_LIMIT {
            let events: usize = by_events[OTHER_ACTORS_LIMIT..].iter().map(|a| a.events).sum();
            writeln!(out, "  ... {} more actors with {events} events", others.len() - OTHER_ACTORS_LIMIT)?;
        }
    }

    writeln!(out, "\nCompromised Credentials ({})", r.compromised_credentials.len())?;
    for c in &r.compromised_credentials {
        writeln!(out, "  {} [{}] {}", c.access_key, c.kind.label(), list(&c.principals))?;
        writeln!(out, "      obtained: {}", clean(&c.obtained.to_string()))?;
        match (c.first_used, c.last_used) {
            (Some(a), Some(b)) => writeln!(out, "      used: {} events, {a} .. {b}", c.events)?,
            _ => writeln!(out, "      used: never in the evidence")?,
        }
        if c.end_state != EndState::Present {
            writeln!(out, "      now: {}", clean(&c.end_state.to_string()))?;
        }
    }

    writeln!(out, "\nSource IPs ({})", r.source_ips.len())?;
    for ip in r.source_ips.iter().take(SECTION_LIMIT) {
        writeln!(out, "  {:<40} {:>5} events  {} .. {}", ip.ip, ip.events, ip.first_seen, ip.last_seen)?;
        if let Some(i) = r.enrichment.of(&ip.ip) {
            writeln!(out, "      where: {}", clean(&i.to_string()))?;
        }
        for (ua, kind) in ip.user_agents.iter().zip(&ip.user_agent_kinds) {
            writeln!(out, "      user agent [{kind}]: {}", clean(ua))?;
        }
    }
    more(out, r.source_ips.len(), SECTION_LIMIT, "source IPs")?;

    writeln!(out, "\nActions Taken ({} kinds)", r.actions.len())?;
    for a in &r.actions {
        let mut tail = String::new();
        if a.denied > 0 {
            tail += &format!(", {} denied", a.denied);
        }
        if a.failed > 0 {
            tail += &format!(", {} failed", a.failed);
        }
        writeln!(out, "  {}  {:<45} {} ok{tail}", a.first, clean(&a.action), a.succeeded)?;
    }

    writeln!(out, "\nData Accessed ({})", r.data_accessed.len())?;
    for d in &r.data_accessed {
        writeln!(
            out,
            "  {:<15} {:<45} {:>4} reads  {:>10}  account {}",
            d.service,
            clean(&d.resource),
            d.reads,
            bytes(d.bytes_out),
            d.account
        )?;
    }

    writeln!(out, "\nPersistence Mechanisms ({})", r.persistence.len())?;
    write_changes(out, &r.persistence)?;
    writeln!(out, "\nDefense Evasion ({})", r.defense_evasion.len())?;
    write_changes(out, &r.defense_evasion)?;

    writeln!(out, "\nRemediation and Containment ({})", r.remediation.len())?;
    for m in r.remediation.iter().take(SECTION_LIMIT) {
        let mark = m.status.checkbox();
        let done = match &m.status {
            EndState::Reverted { .. } => format!("  — done: {}", clean(&m.status.to_string())),
            _ => String::new(),
        };
        writeln!(
            out,
            "  {mark} {} {} (account {}) — {}{done}",
            m.step,
            clean(&m.target),
            m.account,
            clean(&m.because.to_string())
        )?;
    }

    more(out, r.remediation.len(), SECTION_LIMIT, "steps")?;

    writeln!(out, "\nCoverage ({} gaps)", r.coverage.gaps.len())?;
    for g in &r.coverage.gaps {
        match g {
            CoverageGap::TrailOff { account, trail, from, to } => writeln!(
                out,
                "  {account}  trail {} off {from} .. {}",
                clean(trail),
                to.map(|t| t.to_string()).unwrap_or_else(|| "end of evidence".into())
            )?,
            CoverageGap::Silence { account, from, to } => {
                writeln!(out, "  {account}  no management events {from} .. {to}")?
            }
            CoverageGap::NoDataEvents { account, first_data_event: None } => {
                writeln!(out, "  {account}  no data events (S3 objects, Lambda invocations) in the evidence")?
            }
            CoverageGap::NoDataEvents { account, first_data_event: Some(t) } => {
                writeln!(out, "  {account}  data events only from {t}")?
            }
        }
    }
    for c in &r.coverage.caveats {
        writeln!(out, "  CAVEAT: {}", clean(c))?;
    }

    for (title, risk) in
        [("Findings by rule", false), ("Risk findings (hygiene: reported, never proof of an intruder)", true)]
    {
        let rows: Vec<_> = r.findings.iter().filter(|f| f.risk == risk).collect();
        writeln!(out, "\n{title} ({})", rows.len())?;
        for f in rows {
            let actors: Vec<String> = f.actors.iter().take(6).map(|a| format!("#{a}")).collect();
            let more = if f.actors.len() > 6 { format!(" +{}", f.actors.len() - 6) } else { String::new() };
            let attempts = if f.attempts > 0 { format!(" ({} attempts only)", f.attempts) } else { String::new() };
            writeln!(
                out,
                "  {:<9} {:<36} {:>5} findings{attempts} {:>5} events  {} ({})  actors {}{more}",
                f.severity.name(),
                clean(&f.rule),
                f.findings,
                f.events,
                clean(&f.title),
                f.techniques.join(", "),
                actors.join(",")
            )?;
        }
    }

    let folded = fold(&r.timeline.entries);
    writeln!(
        out,
        "\nAttacker Timeline ({} events in {} lines; repeats folded)",
        r.timeline.entries.len(),
        folded.len()
    )?;
    // Grouped by actor in rank order, so the most hostile actor's rows come first whatever the cap.
    let mut by_actor: Vec<(&TimelineEntry, usize)> = folded;
    by_actor.sort_by_key(|(e, _)| (e.actor, e.row));
    let mut current = 0;
    for (e, n) in by_actor.iter().take(TIMELINE_LIMIT) {
        if e.actor != current {
            current = e.actor;
            if let Some(a) = r.actors.get(current - 1) {
                writeln!(
                    out,
                    "  -- actor #{current}: {} from {} [{}]",
                    clean(&a.credential),
                    a.network,
                    a.tool.label()
                )?;
            }
        }
        let err = e.error.as_deref().map(|c| format!(" !{}", clean(c))).unwrap_or_default();
        let times = if *n > 1 { format!(" x{n}") } else { String::new() };
        let rules = if e.findings.is_empty() { String::new() } else { format!("  [{}]", clean(&e.findings.join(","))) };
        let att = if e.techniques.is_empty() { String::new() } else { format!(" {{{}}}", e.techniques.join(",")) };
        writeln!(
            out,
            "  {} {} {:<14} {:<16} {:<20} {}{err}{times}  {}{rules}{att}  {}",
            e.time,
            e.account,
            clean(&e.region),
            clean(&e.source_ip),
            clean(e.access_key.as_deref().unwrap_or("-")),
            clean(&e.action),
            clean(&e.principal),
            e.event_id
        )?;
    }
    if by_actor.len() > TIMELINE_LIMIT {
        writeln!(
            out,
            "  ... {} more lines (use --format json for the full timeline)",
            by_actor.len() - TIMELINE_LIMIT
        )?;
    }
    Ok(())
}
