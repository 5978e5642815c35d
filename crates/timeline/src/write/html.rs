//! The report as one self-contained HTML page for an offline browser: inline CSS, JS and SVG,
//! nothing fetched (a Content-Security-Policy forbids it), printable to PDF.
//!
//! Every value from the evidence goes through [`text`] or [`attr`] (control characters to `?`,
//! then HTML-escaped by `html-escape`); the raw records the page shows on click are embedded as
//! JSON with `<`, `>`, `&`, U+2028 and U+2029 escaped ([`script_json`]), so no value can close
//! the script block. The CSP allows only this page's own script and style, by hash: even markup
//! that escaped the escaping could not run.

use std::collections::{HashMap, HashSet};
use std::io::{self, Write};

use base64::Engine as _;
use serde_json::Value;
use sha2::{Digest, Sha256};
use trailscope_indicators::Severity;
use trailscope_store::Store;

use super::clean;
use super::timeline_csv::outcome;
use crate::actors::{Actor, Verdict};
use crate::change::EndState;
use crate::report::{Change, CoverageGap};
use crate::timeline::{ActorActivity, TimelineEntry};
use crate::{Report, Time};

/// Most rows in the page's timeline table (JSON and CSV have them all).
pub const TIMELINE_LIMIT: usize = 2000;
/// Most benign actors listed in the actors table (after every other verdict).
pub const BENIGN_ACTORS_LIMIT: usize = 200;
/// Attacker, suspicious and unknown actors shown (rank order; the rest are counted): a leaked
/// key used by thousands of strangers is thousands of actors, and the page must still open.
pub const OTHER_ACTORS_LIMIT: usize = 500;
/// Rows of the source IP, persistence, evasion and remediation lists.
pub const ROWS_LIMIT: usize = 1000;
/// Actors charted in the activity section (rank order).
pub const CHARTS_LIMIT: usize = 50;

/// The note under a capped list.
fn more<W: Write>(out: &mut W, total: usize, shown: usize, what: &str) -> io::Result<()> {
    super::more(out, total, shown, ("<p class=\"note\">", what, ": report.json has them all.</p>"))
}
/// Reasons listed per actor before the rest fold away (they print unfolded).
pub const REASONS_SHOWN: usize = 8;

/// The raw CloudTrail records the page embeds, by store row: the one thing the report model
/// does not hold.
pub trait RawRecords {
    /// The rebuilt record of a row, if there is one.
    fn record(&self, row: usize) -> Option<Value>;
}

impl RawRecords for Store {
    fn record(&self, row: usize) -> Option<Value> {
        (row < self.len()).then(|| self.event(row).to_json())
    }
}

/// Evidence text for an HTML text node.
fn text(s: &str) -> String {
    html_escape::encode_text(&clean(s)).into_owned()
}

/// Evidence text for a double-quoted attribute value.
fn attr(s: &str) -> String {
    html_escape::encode_double_quoted_attribute(&clean(s)).into_owned()
}

/// JSON for a `<script type="application/json">` block: nothing in it can end the block or
/// start markup (`</script>`, `<!--`), and JavaScript's line separators are escaped too.
pub fn script_json(v: &Value) -> String {
    let s = v.to_string();
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// CSP source for an inline block: `'sha256-<base64>'` of its exact text.
fn csp_hash(block: &str) -> String {
    format!("'sha256-{}'", base64::engine::general_purpose::STANDARD.encode(Sha256::digest(block.as_bytes())))
}

fn verdict_class(v: Verdict) -> &'static str {
    match v {
        Verdict::Attacker => "v-attacker",
        Verdict::Suspicious => "v-suspicious",
        Verdict::Unknown => "v-unknown",
        Verdict::Benign => "v-benign",
    }
}

fn dash(t: Option<Time>) -> String {
    t.map(|t| t.to_string()).unwrap_or_else(|| "-".into())
}

fn list(v: &[String]) -> String {
    if v.is_empty() {
        "-".into()
    } else {
        text(&v.join(", "))
    }
}

/// The page's raw-record index of each event id shown, and the records in that order.
struct Raw {
    index: HashMap<String, usize>,
    records: Vec<Value>,
}

impl Raw {
    /// A button that opens the raw record, or the id as text when the record is not embedded.
    fn link(&self, event_id: &str) -> String {
        match self.index.get(event_id) {
            Some(i) => format!("<button type=\"button\" class=\"raw\" data-raw=\"{i}\">{}</button>", text(event_id)),
            None => format!("<span class=\"mono\">{}</span>", text(event_id)),
        }
    }
}

/// Write the report as one HTML page. `raw` gives the rebuilt records of the timeline rows shown.
///
/// # Errors
/// I/O errors from `out`.
pub fn write_report<W: Write>(out: &mut W, r: &Report, raw: &dyn RawRecords) -> io::Result<()> {
    let actor_of: HashMap<usize, &Actor> = r.actors.iter().map(|a| (a.id, a)).collect();
    let verdict_of = |id: usize| actor_of.get(&id).map(|a| a.verdict);
    // The attacker's events, and of the events to review those with a finding that counts
    // (non-risk, medium or more): the rest are in the CSV and JSON.
    let counts: HashSet<&str> =
        r.findings.iter().filter(|f| !f.risk && f.severity >= Severity::Medium).map(|f| f.rule.as_str()).collect();
    let review: Vec<&TimelineEntry> = r
        .suspicious_timeline
        .entries
        .iter()
        .filter(|e| e.findings.iter().any(|f| counts.contains(f.as_str())))
        .collect();
    let (review_total, review_shown) = (r.suspicious_timeline.entries.len(), review.len());
    // Over the cap, the attacker's rows go first.
    let omitted = (r.timeline.entries.len() + review.len()).saturating_sub(TIMELINE_LIMIT);
    let mut shown: Vec<&TimelineEntry> = r.timeline.entries.iter().chain(review).take(TIMELINE_LIMIT).collect();
    shown.sort_by_key(|e| (e.time, e.row));
    let mut rawv = Raw { index: HashMap::new(), records: Vec::new() };
    for e in &shown {
        if let Some(rec) = raw.record(e.row) {
            rawv.index.entry(e.event_id.clone()).or_insert(rawv.records.len());
            rawv.records.push(rec);
        }
    }

    let csp = format!(
        "default-src 'none'; script-src {} {}; style-src {}; img-src data:; base-uri 'none'; form-action 'none'",
        csp_hash(CHECK_SCRIPT),
        csp_hash(SCRIPT),
        csp_hash(STYLE)
    );
    writeln!(out, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">")?;
    writeln!(out, "<meta http-equiv=\"Content-Security-Policy\" content=\"{csp}\">")?;
    writeln!(out, "<meta name=\"referrer\" content=\"no-referrer\">")?;
    writeln!(out, "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")?;
    writeln!(out, "<title>Forensic Report: {}</title>", text(&r.id))?;
    writeln!(out, "<script>{CHECK_SCRIPT}</script>")?;
    writeln!(out, "<style>{STYLE}</style>\n</head>\n<body>")?;

    writeln!(out, "<header>\n<h1>Forensic Report: {}</h1>", text(&r.id))?;
    writeln!(out, "<dl class=\"facts\">")?;
    let fact = |out: &mut W, k: &str, v: String| writeln!(out, "<dt>{k}</dt><dd>{v}</dd>");
    fact(out, "Account(s)", list(&r.accounts))?;
    if !r.affected_accounts.is_empty() {
        fact(out, "Affected accounts", list(&r.affected_accounts))?;
    }
    fact(out, "Regions", list(&r.regions))?;
    fact(out, "Evidence", format!("{} events, {} .. {}", r.events_total, dash(r.evidence_from), dash(r.evidence_to)))?;
    if let Some(m) = &r.manifest_sha256 {
        fact(out, "Manifest", format!("{} files, SHA-256 <span class=\"mono\">{}</span>", r.evidence_files, text(m)))?;
    }
    let c = &r.evidence_coverage;
    let headline = text(&c.headline());
    let headline = if c.complete() && c.conflicting_duplicates == 0 {
        headline
    } else {
        format!("<strong class=\"warn\">{headline}</strong>")
    };
    let href = if c.problems.is_empty() && c.ignored.is_empty() && c.conflicts.is_empty() {
        ""
    } else {
        " (<a href=\"#evidence\">files</a>)"
    };
    fact(out, "Evidence coverage", format!("{headline}{href}"))?;
    match (r.activity_from, r.activity_to) {
        (Some(a), Some(b)) => fact(out, "Timeframe", format!("{a} .. {b} (attacker activity)"))?,
        _ => fact(out, "Timeframe", "no attacker activity attributed".into())?,
    }
    fact(
        out,
        "Suspicious Events",
        format!(
            "{} ({} by attacker actors, {} more with medium+ findings)",
            r.suspicious_events,
            r.attacker_events,
            r.suspicious_events.saturating_sub(r.attacker_events)
        ),
    )?;
    if !r.overrides.is_empty() {
        fact(out, "Overrides", format!("--trust {}", list(&r.overrides)))?;
    }
    if let Some(b) = &r.baseline {
        let warn = if b.attacker_events_inside > 0 {
            format!(
                " <strong class=\"warn\">{} attacker events inside the learning window: first-seen rules could not fire on them</strong>",
                b.attacker_events_inside
            )
        } else {
            String::new()
        };
        fact(out, "Baseline window", format!("{} .. {} (learned from {}){warn}", b.from, b.to, text(&b.source)))?;
    }
    fact(
        out,
        "Enrichment",
        super::text::enrichment_summary(&r.enrichment).iter().map(|l| text(l)).collect::<Vec<_>>().join("<br>"),
    )?;
    writeln!(out, "</dl>\n</header>")?;
    writeln!(
        out,
        "<nav><a href=\"#actors\">Actors</a> <a href=\"#activity\">Activity</a> <a href=\"#credentials\">Credentials</a> <a href=\"#source-ips\">Source IPs</a> <a href=\"#actions\">Actions</a> <a href=\"#data\">Data</a> <a href=\"#persistence\">Persistence</a> <a href=\"#evasion\">Evasion</a> <a href=\"#remediation\">Remediation</a> <a href=\"#coverage\">Coverage</a> <a href=\"#findings\">Findings</a> <a href=\"#timeline\">Timeline</a></nav>\n<main>"
    )?;

    write_evidence_coverage(out, &r.evidence_coverage)?;
    write_actors(out, r, &rawv)?;
    write_activity(out, r)?;

    section(out, "credentials", &format!("Compromised Credentials ({})", r.compromised_credentials.len()))?;
    table_head(out, "credentials-table", &["access key", "kind", "principals", "obtained", "used", "events", "now"])?;
    for c in &r.compromised_credentials {
        let used = match (c.first_used, c.last_used) {
            (Some(a), Some(b)) => format!("{a} .. {b}"),
            _ => "never in the evidence".into(),
        };
        writeln!(
            out,
            "<tr><td class=\"mono\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{used}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            text(&c.access_key),
            c.kind.label(),
            list(&c.principals),
            text(&c.obtained.to_string()),
            c.events,
            state(&c.end_state)
        )?;
    }
    table_end(out)?;
    writeln!(out, "</section>")?;

    section(out, "source-ips", &format!("Source IPs ({})", r.source_ips.len()))?;
    table_head(out, "source-ips-table", &["IP", "where", "events", "first seen", "last seen", "user agents"])?;
    for ip in r.source_ips.iter().take(ROWS_LIMIT) {
        // Place, autonomous system and AWS range from the examiner's databases, when given.
        let place = r.enrichment.of(&ip.ip).map(|i| text(&i.to_string())).unwrap_or_default();
        let uas: Vec<String> = ip
            .user_agents
            .iter()
            .zip(&ip.user_agent_kinds)
            .map(|(ua, kind)| format!("<li>[{}] {}</li>", text(kind), text(ua)))
            .collect();
        writeln!(
            out,
            "<tr><td class=\"mono\">{}</td><td>{place}</td><td class=\"n\">{}</td><td>{}</td><td>{}</td><td><ul class=\"plain\">{}</ul></td></tr>",
            text(&ip.ip),
            ip.events,
            ip.first_seen,
            ip.last_seen,
            uas.concat()
        )?;
    }
    table_end(out)?;
    more(out, r.source_ips.len(), ROWS_LIMIT, "source IPs")?;
    writeln!(out, "</section>")?;

    section(out, "actions", &format!("Actions Taken ({} kinds)", r.actions.len()))?;
    table_head(out, "actions-table", &["first", "action", "ok", "denied", "failed"])?;
    for a in &r.actions {
        writeln!(
            out,
            "<tr><td class=\"t\">{}</td><td class=\"mono\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            a.first,
            text(&a.action),
            a.succeeded,
            a.denied,
            a.failed
        )?;
    }
    table_end(out)?;
    writeln!(out, "</section>")?;

    section(out, "data", &format!("Data Accessed ({})", r.data_accessed.len()))?;
    table_head(out, "data-table", &["service", "resource", "reads", "bytes out", "account"])?;
    for d in &r.data_accessed {
        writeln!(
            out,
            "<tr><td>{}</td><td class=\"mono\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            text(&d.service),
            text(&d.resource),
            d.reads,
            d.bytes_out,
            text(&d.account)
        )?;
    }
    table_end(out)?;
    writeln!(out, "</section>")?;

    section(out, "persistence", &format!("Persistence Mechanisms ({})", r.persistence.len()))?;
    write_changes(out, "persistence-table", &r.persistence, &rawv)?;
    section(out, "evasion", &format!("Defense Evasion ({})", r.defense_evasion.len()))?;
    write_changes(out, "evasion-table", &r.defense_evasion, &rawv)?;

    section(out, "remediation", &format!("Remediation and Containment ({})", r.remediation.len()))?;
    writeln!(out, "<ul class=\"checklist\">")?;
    for m in r.remediation.iter().take(ROWS_LIMIT) {
        let mark = m.status.checkbox();
        let done = match &m.status {
            EndState::Reverted { .. } => format!(" — done: {}", text(&m.status.to_string())),
            _ => String::new(),
        };
        writeln!(
            out,
            "<li><span class=\"mono\">{mark}</span> {} <strong>{}</strong> (account {}) — {}{done}</li>",
            text(m.step.text()),
            text(&m.target),
            text(&m.account),
            text(&m.because.to_string())
        )?;
    }
    writeln!(out, "</ul>")?;
    more(out, r.remediation.len(), ROWS_LIMIT, "steps")?;
    writeln!(out, "</section>")?;

    section(out, "coverage", &format!("Coverage ({} gaps)", r.coverage.gaps.len()))?;
    writeln!(out, "<ul>")?;
    for g in &r.coverage.gaps {
        let line = match g {
            CoverageGap::TrailOff { account, trail, from, to } => {
                format!("{}: trail {} off {from} .. {}", text(account), text(trail), dash(*to))
            }
            CoverageGap::Silence { account, from, to } => {
                format!("{}: no management events {from} .. {to}", text(account))
            }
            CoverageGap::NoDataEvents { account, first_data_event: None } => {
                format!("{}: no data events (S3 objects, Lambda invocations) in the evidence", text(account))
            }
            CoverageGap::NoDataEvents { account, first_data_event: Some(t) } => {
                format!("{}: data events only from {t}", text(account))
            }
        };
        writeln!(out, "<li>{line}</li>")?;
    }
    for c in &r.coverage.caveats {
        writeln!(out, "<li class=\"warn\">CAVEAT: {}</li>", text(c))?;
    }
    writeln!(out, "</ul>\n</section>")?;

    for (id, title, risk) in [
        ("findings", "Findings by rule", false),
        ("risks", "Risk findings (hygiene: reported, never proof of an intruder)", true),
    ] {
        let rows: Vec<_> = r.findings.iter().filter(|f| f.risk == risk).collect();
        section(out, id, &format!("{title} ({})", rows.len()))?;
        filter_box(out, &format!("{id}-table"))?;
        table_head(
            out,
            &format!("{id}-table"),
            &["severity", "rule", "findings", "attempts", "events", "title", "ATT&amp;CK", "actors"],
        )?;
        for f in rows {
            let actors: Vec<String> = f.actors.iter().map(|a| format!("#{a}")).collect();
            writeln!(
                out,
                "<tr><td data-sort=\"{}\" class=\"sev-{}\">{}</td><td><button type=\"button\" class=\"rule\" data-rule=\"{}\" title=\"show its events in the timeline\">{}</button></td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                f.severity as u8,
                f.severity.name(),
                f.severity.name(),
                attr(&f.rule),
                text(&f.rule),
                f.findings,
                f.attempts,
                f.events,
                text(&f.title),
                text(&f.techniques.join(", ")),
                actors.join(", ")
            )?;
        }
        table_end(out)?;
        writeln!(out, "</section>")?;
    }

    section(
        out,
        "timeline",
        &format!(
            "Timeline ({} attacker events; {} of {} entries to review, those with a medium+ finding)",
            r.timeline.entries.len(),
            review_shown,
            review_total
        ),
    )?;
    writeln!(
        out,
        "<p class=\"note\">Every attacker event, and the events of suspicious and unknown actors with a non-risk finding of medium severity or more (of one kind on one day as one row, ×N); their other events are in timeline.csv and report.json. Click an event id for its raw record, a rule id above to filter by it.</p>"
    )?;
    filter_box(out, "timeline-table")?;
    table_head(
        out,
        "timeline-table",
        &[
            "time",
            "actor",
            "account, region",
            "source IP, access key",
            "action, outcome",
            "principal",
            "rules",
            "ATT&amp;CK",
            "event",
        ],
    )?;
    for e in &shown {
        let v = verdict_of(e.actor);
        let mut outcome = outcome(e);
        if let Some(last) = e.last_time.filter(|_| e.events > 1) {
            outcome = format!("{outcome} ×{} until {last}", e.events);
        }
        writeln!(
            out,
            "<tr class=\"{}\"><td class=\"t\">{}</td><td data-sort=\"{}\">#{} {}</td><td>{}<div class=\"small\">{}</div></td><td class=\"mono\">{}<div>{}</div></td><td data-sort=\"{}\"><span class=\"mono\">{}</span><div class=\"{}\">{}</div></td><td class=\"arn\">{}</td><td class=\"rules\">{}</td><td>{}</td><td>{}</td></tr>",
            v.map(verdict_class).unwrap_or_default(),
            e.time,
            e.actor,
            e.actor,
            v.map(Verdict::label).unwrap_or_default(),
            text(&e.account),
            text(&e.region),
            text(&e.source_ip),
            text(e.access_key.as_deref().unwrap_or("")),
            attr(&e.action),
            text(&e.action),
            if outcome.starts_with("ok") { "small" } else { "small warn" },
            text(&outcome),
            text(&e.principal),
            text(&e.findings.join(" ")),
            text(&e.techniques.join(" ")),
            rawv.link(&e.event_id)
        )?;
    }
    table_end(out)?;
    if omitted > 0 {
        writeln!(out, "<p class=\"note\">{omitted} more rows: timeline.csv and report.json have them all.</p>")?;
    }
    writeln!(out, "</section>\n</main>")?;

    writeln!(
        out,
        "<aside id=\"raw-view\" hidden><div class=\"raw-head\"><span id=\"raw-title\"></span><button type=\"button\" id=\"raw-close\">close</button></div><pre id=\"raw-json\"></pre></aside>"
    )?;
    writeln!(
        out,
        "<script type=\"application/json\" id=\"raw-records\">{}</script>",
        script_json(&Value::Array(rawv.records))
    )?;
    writeln!(out, "<script>{SCRIPT}</script>\n</body>\n</html>")
}

/// Every file not fully read, and the first ignored, before the conclusions that lack them.
fn write_evidence_coverage<W: Write>(out: &mut W, c: &crate::report::EvidenceCoverage) -> io::Result<()> {
    if c.problems.is_empty() && c.ignored.is_empty() && c.conflicts.is_empty() {
        return Ok(());
    }
    let title = match (c.problems.len(), c.conflicting_duplicates) {
        (files, 0) => format!("Evidence coverage ({files} files not fully read)"),
        (0, _) => "Evidence coverage (every file read whole; conflicting duplicates)".to_owned(),
        (files, _) => format!("Evidence coverage ({files} files not fully read; conflicting duplicates)"),
    };
    section(out, "evidence", &title)?;
    if !c.conflicts.is_empty() {
        writeln!(
            out,
            "<p class=\"warn\">{} conflicting duplicate{}: two different records under one event id, so a file holding one of them was altered. The report rests on the kept copy.</p>",
            c.conflicting_duplicates,
            if c.conflicting_duplicates == 1 { "" } else { "s" }
        )?;
        table_head(out, "conflict-table", &["eventID", "Account", "Kept copy", "Other copy", "Fields that differ"])?;
        for d in &c.conflicts {
            writeln!(
                out,
                "<tr><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td class=\"mono\">{} record {}</td><td class=\"mono\">{} record {}</td><td>{}</td></tr>",
                text(&d.event_id),
                text(d.account.as_deref().unwrap_or("-")),
                text(&d.kept_file),
                d.kept_record,
                text(&d.other_file),
                d.other_record,
                text(&d.fields.join(", "))
            )?;
        }
        table_end(out)?;
        let total = usize::try_from(c.conflicting_duplicates).unwrap_or(usize::MAX);
        super::more(
            out,
            total,
            c.conflicts.len(),
            ("<p>... ", "conflicting duplicates", " (manifest.csv counts them per file)</p>"),
        )?;
    }
    if c.problems.is_empty() && c.ignored.is_empty() {
        return writeln!(out, "</section>");
    }
    table_head(out, "evidence-table", &["File", "Problem", "Records", "Reason"])?;
    for p in &c.problems {
        writeln!(
            out,
            "<tr><td class=\"mono\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            text(&p.path),
            p.kind.describe(),
            p.records,
            text(&p.detail)
        )?;
    }
    let named = super::text::IGNORED_NAMED;
    for f in c.ignored.iter().take(named) {
        writeln!(out, "<tr><td class=\"mono\">{}</td><td>ignored</td><td>0</td><td>not CloudTrail</td></tr>", text(f))?;
    }
    if c.ignored.len() > named {
        writeln!(
            out,
            "<tr><td colspan=\"4\">... {} more ignored (manifest.csv lists every file)</td></tr>",
            c.ignored.len() - named
        )?;
    }
    table_end(out)?;
    writeln!(out, "</section>")
}

fn section<W: Write>(out: &mut W, id: &str, title: &str) -> io::Result<()> {
    writeln!(out, "<section id=\"{id}\">\n<h2>{title}</h2>")
}

fn filter_box<W: Write>(out: &mut W, table: &str) -> io::Result<()> {
    writeln!(
        out,
        "<p class=\"tools\"><input type=\"search\" class=\"filter\" data-for=\"{table}\" placeholder=\"filter rows\" aria-label=\"filter rows\"> <span class=\"count\" data-for=\"{table}\"></span></p>"
    )
}

fn table_head<W: Write>(out: &mut W, id: &str, columns: &[&str]) -> io::Result<()> {
    let ths: Vec<String> = columns.iter().map(|c| format!("<th>{c}</th>")).collect();
    writeln!(
        out,
        "<div class=\"scroll\"><table id=\"{id}\" class=\"sortable\">\n<thead><tr>{}</tr></thead>\n<tbody>",
        ths.concat()
    )
}

fn table_end<W: Write>(out: &mut W) -> io::Result<()> {
    writeln!(out, "</tbody>\n</table></div>")
}

fn state(s: &EndState) -> String {
    let class = match s {
        EndState::Present => "present",
        EndState::Reverted { .. } => "reverted",
        EndState::Attempted { .. } => "attempted",
    };
    format!("<span class=\"state-{class}\">{}</span>", text(&s.to_string()))
}

fn write_changes<W: Write>(out: &mut W, id: &str, changes: &[Change], raw: &Raw) -> io::Result<()> {
    table_head(out, id, &["time", "account", "actor", "action", "target", "detail", "end state", "event"])?;
    for c in changes.iter().take(ROWS_LIMIT) {
        writeln!(
            out,
            "<tr><td class=\"t\">{}</td><td>{}</td><td class=\"n\" data-sort=\"{}\">#{}</td><td class=\"mono\">{}</td><td>{}</td><td class=\"detail\">{}</td><td>{}</td><td>{}</td></tr>",
            c.time,
            text(&c.account),
            c.actor,
            c.actor,
            text(&c.action),
            text(&c.target),
            text(&c.detail),
            state(&c.end_state),
            raw.link(&c.event_id)
        )?;
    }
    table_end(out)?;
    more(out, changes.len(), ROWS_LIMIT, "changes")?;
    writeln!(out, "</section>")
}

fn write_actors<W: Write>(out: &mut W, r: &Report, raw: &Raw) -> io::Result<()> {
    let count = |v: Verdict| r.actors.iter().filter(|a| a.verdict == v).count();
    section(
        out,
        "actors",
        &format!(
            "Actors ({}: {} attacker, {} suspicious, {} unknown, {} benign/owner)",
            r.actors.len(),
            count(Verdict::Attacker),
            count(Verdict::Suspicious),
            count(Verdict::Unknown),
            count(Verdict::Benign)
        ),
    )?;
    filter_box(out, "actors-table")?;
    table_head(
        out,
        "actors-table",
        &["#", "verdict", "score", "who", "network, tool", "active", "events", "errors (denied)", "reasons"],
    )?;
    let (mut benign, mut others) = (0, 0);
    for a in &r.actors {
        if a.verdict == Verdict::Benign {
            benign += 1;
            if benign > BENIGN_ACTORS_LIMIT {
                continue;
            }
        } else {
            others += 1;
            if others > OTHER_ACTORS_LIMIT {
                continue;
            }
        }
        let mut who = format!("<strong class=\"mono\">{}</strong>", text(&a.credential));
        who += &format!("<div class=\"small\">principals: {}</div>", list(&a.principals));
        if !a.access_keys.is_empty() {
            who += &format!("<div class=\"small\">access keys: {}</div>", list(&a.access_keys));
        }
        let ips: Vec<String> = a
            .source_ips
            .iter()
            .map(|ip| match r.enrichment.of(ip) {
                Some(i) => format!("{} ({})", text(ip), text(&i.to_string())),
                None => text(ip),
            })
            .collect();
        who += &format!("<div class=\"small\">source IPs: {}</div>", ips.join(", "));
        for ua in a.user_agents.iter().take(3) {
            who += &format!("<div class=\"small ua\">user agent: {}</div>", text(ua));
        }
        who += &format!("<div class=\"small\">sessions: {}</div>", a.sessions.len());
        if !a.linked_to.is_empty() {
            let ids: Vec<String> = a.linked_to.iter().map(|i| format!("#{i}")).collect();
            who += &format!("<div class=\"small\">tied to: {}</div>", ids.join(", "));
        }
        if !a.risks.is_empty() {
            who += &format!("<div class=\"small\">risk findings (not scored): {}</div>", list(&a.risks));
        }
        let reason = |reason: &crate::actors::Reason| {
            let ev = reason
                .event_ids
                .first()
                .map(|e| format!(" <span class=\"eg\">e.g. {}</span>", raw.link(e)))
                .unwrap_or_default();
            format!("<li><span class=\"pts\">{:+}</span> {}{ev}</li>", reason.points, text(&reason.detail))
        };
        let shown: String = a.reasons.iter().take(REASONS_SHOWN).map(reason).collect();
        let more = if a.reasons.len() > REASONS_SHOWN {
            let rest: String = a.reasons.iter().skip(REASONS_SHOWN).map(reason).collect();
            format!(
                "<details><summary>{} more reasons</summary><ul class=\"reasons\">{rest}</ul></details>",
                a.reasons.len() - REASONS_SHOWN
            )
        } else {
            String::new()
        };
        writeln!(
            out,
            "<tr class=\"{}\"><td class=\"n\" data-sort=\"{}\">#{}</td><td data-sort=\"{}\">{}<div class=\"small\">confidence {:.2}</div></td><td class=\"n\">{}</td><td class=\"who\">{who}</td><td data-sort=\"{}\"><span class=\"mono\">{}</span><div class=\"small\">{}</div></td><td data-sort=\"{}\">{}<div class=\"small\">.. {}</div></td><td class=\"n\">{}</td><td class=\"n\" data-sort=\"{}\">{} ({})</td><td class=\"why\"><ul class=\"reasons\">{shown}</ul>{more}</td></tr>",
            verdict_class(a.verdict),
            a.id,
            a.id,
            a.verdict as u8,
            a.verdict.label(),
            a.confidence,
            a.score,
            attr(&a.network),
            text(&a.network),
            a.tool.label(),
            a.first_seen,
            a.first_seen,
            a.last_seen,
            a.events,
            a.errors,
            a.errors,
            a.denied,
        )?;
    }
    table_end(out)?;
    more(out, others, OTHER_ACTORS_LIMIT, "attacker, suspicious and unknown actors")?;
    if benign > BENIGN_ACTORS_LIMIT {
        writeln!(
            out,
            "<p class=\"note\">{} more benign actors: report.json has them all.</p>",
            benign - BENIGN_ACTORS_LIMIT
        )?;
    }
    writeln!(out, "</section>")
}

/// Width of one bucket's bar, in SVG units: the chart stays about 960 wide.
fn bar_width(buckets: usize) -> usize {
    (960 / buckets.max(1)).clamp(2, 14)
}

fn write_activity<W: Write>(out: &mut W, r: &Report) -> io::Result<()> {
    let act = &r.activity;
    let per = if act.bucket_hours == 1 { "hour".to_owned() } else { format!("{} hours", act.bucket_hours) };
    section(out, "activity", "Activity over time")?;
    writeln!(
        out,
        "<p class=\"note\">Events per {per} of each actor on the timelines, over the whole evidence; red, with a dot above: events with a non-risk finding of medium severity or more.</p>"
    )?;
    let Some(from) = act.from else {
        return writeln!(out, "<p>No events.</p>\n</section>");
    };
    // Actors are ranked 1.. in `r.actors` order.
    let mut drawn = 0;
    for series in act.actors.iter().take(CHARTS_LIMIT) {
        let Some(a) = r.actors.get(series.actor.wrapping_sub(1)).filter(|a| a.id == series.actor) else { continue };
        writeln!(
            out,
            "<figure class=\"chart {}\">\n<figcaption>#{} {} — {} from {} [{}]: {} events, peak {} per {per}</figcaption>",
            verdict_class(a.verdict),
            a.id,
            a.verdict.label(),
            text(&a.credential),
            text(&a.network),
            a.tool.label(),
            a.events,
            series.events.iter().max().copied().unwrap_or(0)
        )?;
        write_chart(out, from, act.bucket_hours, series, &format!("actor {} events per {per}", a.id))?;
        writeln!(out, "</figure>")?;
        drawn += 1;
    }
    more(out, act.actors.len(), drawn, "actors' charts")?;
    writeln!(out, "</section>")
}

/// One actor's series as an SVG bar chart: day lines and dates below, a dot above each bucket
/// with findings.
fn write_chart<W: Write>(out: &mut W, from: Time, bucket_hours: u32, s: &ActorActivity, label: &str) -> io::Result<()> {
    const TOP: usize = 8;
    const H: usize = 48;
    let n = s.events.len();
    let bw = bar_width(n);
    let width = n * bw;
    let peak = s.events.iter().max().copied().unwrap_or(0).max(1) as usize;
    let bucket_ms = i64::from(bucket_hours) * 3_600_000;
    writeln!(
        out,
        "<svg class=\"activity\" viewBox=\"0 0 {width} 74\" width=\"{width}\" height=\"74\" role=\"img\" aria-label=\"{label}\">"
    )?;
    // Midnight lines, dated where there is room for the label.
    let px_per_day = 24 * bw / bucket_hours as usize;
    let every = 70usize.div_ceil(px_per_day.max(1)).max(1);
    let mut day = 0;
    for i in 0..=n {
        let t = from.0 + i as i64 * bucket_ms;
        if t % 86_400_000 >= bucket_ms {
            continue;
        }
        let x = i * bw;
        writeln!(out, "<line class=\"day\" x1=\"{x}\" y1=\"{TOP}\" x2=\"{x}\" y2=\"{}\"/>", TOP + H + 4)?;
        if day % every == 0 && x + 60 <= width {
            writeln!(out, "<text x=\"{}\" y=\"70\">{}</text>", x + 2, &Time(t).to_string()[..10])?;
        }
        day += 1;
    }
    writeln!(out, "<line class=\"axis\" x1=\"0\" y1=\"{}\" x2=\"{width}\" y2=\"{}\"/>", TOP + H, TOP + H)?;
    for (i, (&e, &f)) in s.events.iter().zip(&s.flagged).enumerate() {
        if e == 0 {
            continue;
        }
        let x = i * bw;
        let h = (e as usize * H).div_ceil(peak).max(1);
        let at = Time(from.0 + i as i64 * bucket_ms);
        writeln!(
            out,
            "<rect class=\"bar\" x=\"{x}\" y=\"{}\" width=\"{}\" height=\"{h}\"><title>{at}: {e} events, {f} flagged</title></rect>",
            TOP + H - h,
            bw.saturating_sub(1).max(1)
        )?;
        if f > 0 {
            let fh = (f as usize * H).div_ceil(peak).max(1);
            writeln!(
                out,
                "<rect class=\"flag\" x=\"{x}\" y=\"{}\" width=\"{}\" height=\"{fh}\"/><circle class=\"mark\" cx=\"{}\" cy=\"3\" r=\"2.5\"/>",
                TOP + H - fh,
                bw.saturating_sub(1).max(1),
                x as f64 + bw as f64 / 2.0
            )?;
        }
    }
    writeln!(out, "</svg>")
}

/// The page's style: screen and print.
const STYLE: &str = r#"
:root{--attacker:#b71c1c;--suspicious:#e65100;--unknown:#8d6e00;--benign:#2e7d32;--line:#ccc}
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 1.5rem 3rem;color:#222;background:#fff}
h1{font-size:1.6rem;margin:1rem 0 .5rem}h2{font-size:1.2rem;margin:2rem 0 .5rem;border-bottom:2px solid #333}
.facts{display:grid;grid-template-columns:max-content 1fr;gap:.15rem 1rem;margin:0}.facts dt{font-weight:600}.facts dd{margin:0}
nav{position:sticky;top:0;background:#f5f5f5;padding:.4rem .5rem;margin:1rem 0;border-bottom:1px solid var(--line);z-index:1}
nav a{margin-right:.8rem;color:#0d47a1}
table{border-collapse:collapse;width:100%;margin:.3rem 0}
th,td{border:1px solid var(--line);padding:.2rem .35rem;vertical-align:top;text-align:left}
th{background:#eee;cursor:pointer;user-select:none;white-space:nowrap}
th[aria-sort=ascending]::after{content:" \25B2"}th[aria-sort=descending]::after{content:" \25BC"}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.mono{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.92em;overflow-wrap:break-word}
#timeline-table{font-size:12.5px}td.rules{font-size:.9em;min-width:12rem}td.arn{overflow-wrap:anywhere;min-width:12rem}
.t{white-space:nowrap}.scroll{overflow-x:auto}
.small{font-size:.85em;color:#444;overflow-wrap:anywhere}
td.who{min-width:16rem}td.why{min-width:20rem}.eg{font-size:.85em;color:#555}
details summary{cursor:pointer;color:#0d47a1;font-size:.9em}
ul.reasons,ul.plain{margin:0;padding-left:1rem}
.pts{display:inline-block;min-width:2.5em;text-align:right;font-variant-numeric:tabular-nums;font-weight:600}
tr.v-attacker td:first-child{border-left:4px solid var(--attacker)}tr.v-suspicious td:first-child{border-left:4px solid var(--suspicious)}
tr.v-unknown td:first-child{border-left:4px solid var(--unknown)}tr.v-benign td:first-child{border-left:4px solid var(--benign)}
.sev-critical,.sev-high{color:var(--attacker);font-weight:600}.sev-medium{color:var(--suspicious)}
.warn{color:var(--attacker)}.note{color:#555;font-size:.9em}
.state-reverted{color:var(--benign)}.state-attempted{color:#666}
button.raw,button.rule{font:inherit;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.85em;color:#0d47a1;background:none;border:0;padding:0;cursor:pointer;text-decoration:underline;overflow-wrap:anywhere;text-align:left}button.rule,button.raw{white-space:nowrap}
figure.chart{margin:.8rem 0}figcaption{font-size:.9em;margin-bottom:.2rem}
svg.activity{display:block;max-width:100%;height:auto;background:#fafafa;border:1px solid #eee}
svg .bar{fill:#78909c}svg .flag{fill:var(--attacker)}svg .mark{fill:var(--attacker)}
svg .day{stroke:#ddd;stroke-width:1}svg .axis{stroke:#999;stroke-width:1}svg text{font-size:10px;fill:#555}
.tools{margin:.3rem 0}.filter{font:inherit;padding:.15rem .3rem;width:20rem;max-width:100%}.count{color:#555;font-size:.9em}
#raw-view{position:fixed;right:1rem;bottom:1rem;width:min(48rem,90vw);max-height:70vh;display:flex;flex-direction:column;background:#fff;border:1px solid #888;box-shadow:0 4px 18px rgba(0,0,0,.25);z-index:2}
#raw-view[hidden]{display:none}
.raw-head{display:flex;justify-content:space-between;padding:.3rem .5rem;background:#eee;font-weight:600}
#raw-json{margin:0;padding:.5rem;overflow:auto;font-size:12px;white-space:pre-wrap;word-break:break-all}
@media print{
body{margin:0;font-size:9pt}.scroll{overflow:visible}nav,.tools,#raw-view{display:none!important}
h2{break-after:avoid}tr,figure.chart{break-inside:avoid}thead{display:table-header-group}
details>summary{display:none}
th{background:none}button.raw,button.rule{color:#000;text-decoration:none;white-space:normal}
td.who,td.why,td.arn,td.rules{min-width:0}.mono,button.raw,button.rule,td.arn,td.rules{overflow-wrap:anywhere}
#timeline-table{font-size:7.5pt}
svg.activity{background:none}
@page{size:A4 landscape;margin:12mm}
}
"#;

/// The first script in `<head>`: collects script errors and CSP violations from the start of
/// the page, before [`SCRIPT`] runs at its end.
const CHECK_SCRIPT: &str = r#"
(function () {
  'use strict';
  var check = window.trailscopeCheck = { errors: [], violations: [], update: function () {} };
  window.addEventListener('error', function (e) { check.errors.push(String(e.message)); check.update(); });
  document.addEventListener('securitypolicyviolation', function (e) {
    check.violations.push(e.violatedDirective + ' ' + e.blockedURI);
    check.update();
  });
}());
"#;

/// The page's script: sortable and filterable tables, the raw-record viewer, and a self-check
/// in `data-*` attributes of `<body>` (script errors and CSP violations that [`CHECK_SCRIPT`]
/// collected, resources fetched, and whether the actors table and charts laid out), read back by
/// the headless-browser test.
const SCRIPT: &str = r#"
(function () {
  'use strict';
  var body = document.body, errors = window.trailscopeCheck.errors, violations = window.trailscopeCheck.violations;
  function status() {
    body.setAttribute('data-script-errors', String(errors.length));
    body.setAttribute('data-error-messages', errors.join(' | '));
    body.setAttribute('data-csp-violations', String(violations.length));
    body.setAttribute('data-csp-messages', violations.join(' | '));
    body.setAttribute('data-resources', String(performance.getEntriesByType('resource').length));
  }
  window.trailscopeCheck.update = status;

  function key(row, col) {
    var c = row.cells[col];
    if (!c) { return ''; }
    return c.hasAttribute('data-sort') ? c.getAttribute('data-sort') : c.textContent.trim();
  }
  function sortBy(table, col, th) {
    var asc = th.getAttribute('aria-sort') !== 'ascending';
    Array.prototype.forEach.call(th.parentNode.cells, function (h) { h.removeAttribute('aria-sort'); });
    th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
    var tbody = table.tBodies[0];
    var rows = Array.prototype.slice.call(tbody.rows);
    rows.forEach(function (r, i) { r.dataset.order = r.dataset.order || String(i); });
    rows.sort(function (a, b) {
      var x = key(a, col), y = key(b, col), nx = Number(x), ny = Number(y), d;
      if (x !== '' && y !== '' && !isNaN(nx) && !isNaN(ny)) { d = nx - ny; } else { d = x < y ? -1 : x > y ? 1 : 0; }
      if (d === 0) { d = Number(a.dataset.order) - Number(b.dataset.order); return d; }
      return asc ? d : -d;
    });
    rows.forEach(function (r) { tbody.appendChild(r); });
  }
  Array.prototype.forEach.call(document.querySelectorAll('table.sortable'), function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
      th.tabIndex = 0;
      th.addEventListener('click', function () { sortBy(table, col, th); });
      th.addEventListener('keydown', function (e) {
        if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); sortBy(table, col, th); }
      });
    });
  });

  function filter(input) {
    var table = document.getElementById(input.getAttribute('data-for'));
    var q = input.value.toLowerCase(), shown = 0, rows = table.tBodies[0].rows;
    Array.prototype.forEach.call(rows, function (r) {
      var hit = q === '' || r.textContent.toLowerCase().indexOf(q) >= 0;
      r.hidden = !hit;
      if (hit) { shown += 1; }
    });
    var count = document.querySelector('.count[data-for="' + input.getAttribute('data-for') + '"]');
    if (count) { count.textContent = shown + ' of ' + rows.length + ' rows'; }
  }
  var filters = document.querySelectorAll('input.filter');
  Array.prototype.forEach.call(filters, function (input) {
    input.addEventListener('input', function () { filter(input); });
    filter(input);
  });

  var records = JSON.parse(document.getElementById('raw-records').textContent);
  var view = document.getElementById('raw-view');
  document.addEventListener('click', function (e) {
    var b = e.target.closest('[data-raw]');
    if (b) {
      var rec = records[Number(b.getAttribute('data-raw'))];
      document.getElementById('raw-title').textContent = 'eventID ' + (rec && rec.eventID ? rec.eventID : '?');
      document.getElementById('raw-json').textContent = JSON.stringify(rec, null, 2);
      view.hidden = false;
      return;
    }
    var rule = e.target.closest('[data-rule]');
    if (rule) {
      var input = document.querySelector('input.filter[data-for="timeline-table"]');
      input.value = rule.getAttribute('data-rule');
      filter(input);
      document.getElementById('timeline').scrollIntoView();
    }
  });
  document.getElementById('raw-close').addEventListener('click', function () { view.hidden = true; });
  document.addEventListener('keydown', function (e) { if (e.key === 'Escape') { view.hidden = true; } });
  // Folded reasons print unfolded.
  window.addEventListener('beforeprint', function () {
    Array.prototype.forEach.call(document.querySelectorAll('details'), function (d) { d.open = true; });
  });

  var actors = document.getElementById('actors-table');
  if (actors && actors.tBodies[0].rows.length > 0 && actors.getBoundingClientRect().height > 0) {
    body.setAttribute('data-actors-rendered', String(actors.tBodies[0].rows.length));
  }
  var charts = Array.prototype.filter.call(document.querySelectorAll('svg.activity'), function (svg) {
    return svg.querySelector('rect.bar') && svg.getBoundingClientRect().width > 0;
  });
  body.setAttribute('data-charts-rendered', String(charts.length));
  status();
  window.addEventListener('load', function () {
    if (location.hash === '#self-test') { selfTest(); }
    status();
    body.setAttribute('data-check', 'done');
  });

  // Opened as report.html#self-test (by the headless-browser test): use the page as an examiner
  // would and record what happened.
  function selfTest() {
    var button = document.querySelector('#timeline-table button.raw');
    if (button) {
      button.click();
      var rec = JSON.parse(document.getElementById('raw-json').textContent);
      body.setAttribute('data-raw-opened', !view.hidden && rec.eventID === button.textContent ? 'ok' : 'wrong record');
    } else {
      body.setAttribute('data-raw-opened', 'no rows');
    }
    var table = document.getElementById('timeline-table'), th = table.tHead.rows[0].cells[0];
    th.click();
    th.click();
    var rows = table.tBodies[0].rows, n = rows.length;
    var first = n ? rows[0].cells[0].textContent : '', last = n ? rows[n - 1].cells[0].textContent : '';
    body.setAttribute('data-sorted', th.getAttribute('aria-sort') === 'descending' && first >= last ? 'ok' : 'not sorted');
    var input = document.querySelector('input.filter[data-for="timeline-table"]');
    input.value = '#1 attacker';
    filter(input);
    body.setAttribute('data-filtered', String(Array.prototype.filter.call(rows, function (r) { return !r.hidden; }).length));
  }
}());
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Lineage, ReportOptions};
    use serde_json::json;
    use trailscope_testkit::{store, with};

    const SCRIPT_TAG: &str = "<script>alert(1)</script>";
    const FORMULA: &str = "=HYPERLINK(\"http://x\")";

    /// An intruder whose name, user agent, trail, bucket and new user are hostile strings.
    fn hostile_store() -> Store {
        let who = json!({
            "userIdentity": {"arn": format!("arn:aws:iam::111122223333:user/{SCRIPT_TAG}"), "userName": SCRIPT_TAG},
            "userAgent": format!("aws-cli/2.13.5 Python/3.11.4 Linux/6.5.0-kali3-amd64 \u{1b}[31m{SCRIPT_TAG}\u{1b}[0m"),
        });
        let call = |n: usize, source: &str, name: &str, params: Value| {
            let mut over = who.clone();
            trailscope_testkit::merge(
                &mut over,
                &json!({"eventSource": source, "eventName": name, "requestParameters": params}),
            );
            with(n, n as i64 * 60, &over)
        };
        store(&[
            call(1, "sts.amazonaws.com", "GetCallerIdentity", Value::Null),
            call(2, "cloudtrail.amazonaws.com", "StopLogging", json!({"name": FORMULA})),
            call(3, "s3.amazonaws.com", "GetObject", json!({"bucketName": FORMULA, "key": "a"})),
            call(4, "iam.amazonaws.com", "CreateUser", json!({"userName": "<img src=x onerror=alert(1)>"})),
        ])
    }

    #[test]
    fn hostile_values_are_neutralised_in_html_and_csv() {
        let s = hostile_store();
        let report = Report::build(&s, &[], &Lineage::build(&s), &ReportOptions::default());
        assert_eq!(report.actors[0].verdict, Verdict::Attacker, "{:?}", report.actors[0].reasons);
        assert_eq!(report.timeline.entries.len(), 4);
        assert_eq!(report.defense_evasion[0].target, FORMULA);

        let mut buf = Vec::new();
        write_report(&mut buf, &report, &s).unwrap();
        let html = String::from_utf8(buf).unwrap();
        // Only the page's own three script blocks, no planted element, no terminal escape.
        assert_eq!(html.matches("<script").count(), 3, "{html}");
        assert!(!html.contains("<img") && !html.contains('\u{1b}'), "{html}");
        assert!(html.contains("user/&lt;script&gt;alert(1)&lt;/script&gt;"), "principal shown as text");
        assert!(html.contains("kali3-amd64 ?[31m&lt;script&gt;"), "user agent shown as text");
        assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"), "new user shown as text");
        assert!(html.contains(">=HYPERLINK(\"http://x\")<"), "trail shown as text (a page runs no formula)");
        // The raw records: escaped inside their block, and still the records.
        let start = html.find("<script type=\"application/json\" id=\"raw-records\">").unwrap();
        let block = &html[start..];
        let block = &block[block.find('>').unwrap() + 1..block.find("</script>").unwrap()];
        assert!(block.contains("\\u003cscript\\u003ealert(1)\\u003c/script\\u003e"), "{block}");
        let records: Vec<Value> = serde_json::from_str(block).unwrap();
        assert_eq!(records.len(), 4);
        assert_eq!(records[1], s.event(1).to_json());
        assert_eq!(records[1]["requestParameters"]["name"], FORMULA);

        let mut buf = Vec::new();
        super::super::timeline_csv::write_timeline(&mut buf, &report).unwrap();
        let csv_text = String::from_utf8(buf).unwrap();
        assert!(!csv_text.chars().any(|c| c.is_control() && c != '\n'), "{csv_text:?}");
        let mut r = csv::Reader::from_reader(csv_text.as_bytes());
        let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
        assert_eq!(&rows[1][7], format!("'{FORMULA}"), "resource: quoted, never a formula");
        assert!(rows.iter().all(|row| row.iter().all(|c| !c.starts_with(['=', '+', '-', '@']))));
        assert_eq!(&rows[0][13], format!("arn:aws:iam::111122223333:user/{SCRIPT_TAG}"));
    }

    #[test]
    fn thousands_of_hostile_actors_keep_every_report_form_readable() {
        // A leaked key used by thousands of strangers: thousands of attacker actors, source
        // IPs, created users and remediation steps. Every form shows the first ones (rank or
        // time order) and counts the rest; nothing claims to be complete when it is not.
        let s = hostile_store();
        let mut report = Report::build(&s, &[], &Lineage::build(&s), &ReportOptions::default());
        let n = 3000;
        let attacker = report.actors.iter().find(|a| a.verdict == Verdict::Attacker).expect("an attacker").clone();
        report.actors = (1..=n).map(|id| Actor { id, ..attacker.clone() }).collect();
        let ip = report.source_ips[0].clone();
        report.source_ips = (0..n)
            .map(|i| crate::report::SourceIp { ip: format!("203.0.{}.{}", i / 250, i % 250), ..ip.clone() })
            .collect();
        report.persistence = vec![report.persistence[0].clone(); n];
        report.remediation = vec![report.remediation[0].clone(); n];
        report.activity.actors = (1..=n)
            .map(|actor| crate::timeline::ActorActivity { actor, ..report.activity.actors[0].clone() })
            .collect();

        let mut buf = Vec::new();
        super::super::text::write_report(&mut buf, &report).unwrap();
        let text = String::from_utf8(buf).unwrap();
        use super::super::text::{ACTORS_IN_FULL, HOSTILE_ACTORS_LIMIT, SECTION_LIMIT};
        assert_eq!(text.matches("      principals:").count(), ACTORS_IN_FULL, "actors in full");
        assert!(text.contains(&format!("#{HOSTILE_ACTORS_LIMIT:<3} attacker")), "then a line each");
        assert!(!text.contains(&format!("#{:<3} attacker", HOSTILE_ACTORS_LIMIT + 1)));
        let events = (n - HOSTILE_ACTORS_LIMIT) * attacker.events;
        assert!(text.contains(&format!(
            "... {} more attacker or suspicious actors with {events} events",
            n - HOSTILE_ACTORS_LIMIT
        )));
        for what in ["source IPs", "changes", "steps"] {
            assert!(text.contains(&format!("... {} more {what} (JSON has them all)", n - SECTION_LIMIT)), "{what}");
        }
        assert!(text.lines().count() < 2000, "{} lines", text.lines().count());

        let mut buf = Vec::new();
        super::super::markdown::write_report(&mut buf, &report).unwrap();
        let md = String::from_utf8(buf).unwrap();
        assert!(md.contains(&format!("*... {} more actors: report.json has them all.*", n - HOSTILE_ACTORS_LIMIT)));
        assert!(md.contains(&format!("*... {} more source IPs: report.json has them all.*", n - SECTION_LIMIT)));

        let mut buf = Vec::new();
        write_report(&mut buf, &report, &s).unwrap();
        let html = String::from_utf8(buf).unwrap();
        assert_eq!(html.matches("<tr class=\"v-attacker\"><td class=\"n\" data-sort").count(), OTHER_ACTORS_LIMIT);
        assert!(html.contains(&format!(
            "{} more attacker, suspicious and unknown actors: report.json",
            n - OTHER_ACTORS_LIMIT
        )));
        assert!(html.contains(&format!("{} more source IPs: report.json", n - ROWS_LIMIT)));
        assert!(html.contains(&format!("{} more steps: report.json", n - ROWS_LIMIT)));
        assert_eq!(html.matches("<figure class=\"chart").count(), CHARTS_LIMIT);
        assert!(html.contains(&format!("{} more actors' charts", n - CHARTS_LIMIT)));
    }

    #[test]
    fn over_the_cap_the_attackers_rows_come_first() {
        let s = store(&[trailscope_testkit::record(1, 0)]);
        let mut report = Report::build(&s, &[], &Lineage::build(&s), &ReportOptions::default());
        report.findings.push(crate::report::RuleCount {
            rule: "medium-rule".into(),
            title: "a medium finding".into(),
            severity: Severity::Medium,
            risk: false,
            techniques: vec![],
            findings: 1,
            attempts: 0,
            events: 1,
            actors: vec![1],
        });
        let entry = TimelineEntry::new(&s, 0, 1, vec!["medium-rule".into()], vec![]);
        // Every attacker row later than every row to review.
        let late =
            TimelineEntry { time: Time(entry.time.0 + 60_000), event_id: "attacker-late".into(), ..entry.clone() };
        let early = TimelineEntry { event_id: "review-early".into(), ..entry };
        report.timeline.entries = vec![late; TIMELINE_LIMIT];
        report.suspicious_timeline.entries = vec![early; 5];
        let mut buf = Vec::new();
        write_report(&mut buf, &report, &s).unwrap();
        let html = String::from_utf8(buf).unwrap();
        assert_eq!(html.matches(">attacker-late</button>").count(), TIMELINE_LIMIT);
        assert!(!html.contains("review-early"), "rows to review make way for the attacker's");
        assert!(html.contains("5 more rows: timeline.csv and report.json have them all."));
    }

    #[test]
    fn json_in_a_script_block_cannot_close_it() {
        let v = serde_json::json!({"userAgent": "</script><script>alert(1)</script>", "x": "a&b\u{2028}c\u{2029}<!--"});
        let s = script_json(&v);
        assert!(!s.contains('<') && !s.contains('>') && !s.contains('&'), "{s}");
        assert!(!s.contains('\u{2028}') && !s.contains('\u{2029}'));
        assert_eq!(serde_json::from_str::<Value>(&s).unwrap(), v, "still the same JSON");
    }

    #[test]
    fn evidence_text_is_escaped_and_stripped_of_control_characters() {
        assert_eq!(text("<b>\x1b[31m&"), "&lt;b&gt;?[31m&amp;");
        assert_eq!(attr("\"><img src=x>"), "&quot;&gt;&lt;img src=x&gt;");
    }

    #[test]
    fn csp_hashes_are_sha256_base64() {
        // The empty string's SHA-256, base64: a published constant.
        assert_eq!(csp_hash(""), "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='");
    }
}
