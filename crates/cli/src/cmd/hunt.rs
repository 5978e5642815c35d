//! `trailscope hunt`: findings of the rules, IOCs and baselines, one line each.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use serde_json::json;
use trailscope_enrich::Enricher;
use trailscope_indicators::{Finding, Severity};
use trailscope_integrity::sha256_hex;
use trailscope_store::{chrono_free_iso, Field, Store};
use trailscope_timeline::timeline::principal_name;
use trailscope_timeline::write::{clean, csv_cell};
use trailscope_timeline::DisplayZone;

use crate::args::{EnrichArgs, EventFormat, InputArgs, Level, OutArgs, RuleArgs, WindowArgs};
use crate::detect::Detectors;
use crate::output::{close_with_inputs, record_with_inputs, Tee};
use crate::{enrichment, evidence, filter, Outcome};

pub fn severity_of(l: Level) -> Severity {
    match l {
        Level::Informational => Severity::Informational,
        Level::Low => Severity::Low,
        Level::Medium => Severity::Medium,
        Level::High => Severity::High,
        Level::Critical => Severity::Critical,
    }
}

const COLUMNS: [&str; 12] = [
    "time",
    "severity",
    "rule",
    "title",
    "principal",
    "access_key",
    "source_ip",
    "event_name",
    "event_id",
    "events",
    "group",
    "attempt",
];

/// How the table names a rule: its id when an examiner can read it (`ts-new-source-ip`), its
/// title when the id is a Sigma UUID, and an IOC by its file's name and line, not its full path.
fn rule_label(f: &Finding) -> String {
    let id = &f.rule.id;
    if let Some(rest) = id.strip_prefix("ioc:") {
        // `ioc:<path>:<line>`: the path may itself hold colons (Windows drives), the line does not.
        if let Some((path, line)) = rest.rsplit_once(':') {
            let name = Path::new(path).file_name().map_or(path.into(), |n| n.to_string_lossy());
            return format!("ioc:{name}:{line}");
        }
    }
    let is_uuid = id.len() == 36
        && id.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        });
    if is_uuid {
        f.rule.title.clone()
    } else {
        id.clone()
    }
}

/// The last column, `attempt`, holds the error code when every event of the finding failed.
fn columns(store: &Store, f: &Finding) -> [String; 12] {
    let row = f.first_row();
    let e = store.event(row);
    let s = |x: Field| e.str(x).unwrap_or("").to_owned();
    [
        chrono_free_iso(e.time_ms()),
        f.rule.severity.name().to_owned(),
        f.rule.id.clone(),
        f.rule.title.clone(),
        principal_name(store, row),
        s(Field::AccessKeyId),
        s(Field::SourceIp),
        s(Field::EventName),
        s(Field::EventId),
        f.rows.len().to_string(),
        f.group.clone().unwrap_or_default(),
        f.attempt(store).unwrap_or("").to_owned(),
    ]
}

#[allow(clippy::too_many_arguments)] // one per hunt option, parsed once by clap
pub fn run(
    input: &InputArgs,
    rule_args: &RuleArgs,
    window: &WindowArgs,
    min: Level,
    explain: bool,
    no_fold: bool,
    format: EventFormat,
    enrich: &EnrichArgs,
    out_args: &OutArgs,
) -> anyhow::Result<Outcome> {
    crate::filter::bounds(window)?;
    let enricher = enrichment::open(enrich)?;
    let detectors = Detectors::load_for(rule_args, input)?;
    let cases = evidence::case_inputs(&input.paths)?;
    if cases.len() > 1 {
        let how = CaseRun {
            quiet: input.quiet,
            verbose: input.verbose,
            cache_bytes: input.case_cache,
            min: severity_of(min),
            explain,
            no_fold,
            format,
        };
        return run_cases(&cases, &detectors, window, &how, enricher, out_args);
    }
    let evidence = evidence::load(input)?;
    let store = &evidence.store;
    if explain {
        for line in detectors.rules.explain(store) {
            eprintln!("{line}");
        }
    }
    let min = severity_of(min);
    let phase = evidence::Phase::start(
        input.quiet,
        format!("detecting: {} rules, IOCs and baselines over {} events", detectors.rules.rules.len(), store.len()),
    );
    let mut findings: Vec<Finding> = detectors.run(store).into_iter().filter(|f| f.rule.severity >= min).collect();
    drop(phase);
    filter::findings_in_window(store, &mut findings, window)?;
    let mut out = Tee::new(out_args.case(), file_name(format))?;
    let inputs = enrichment::audit_inputs(enricher.as_deref());
    let mut w = FindingWriter::new(format, false, !no_fold);
    w.zone = out_args.tz.unwrap_or_default();
    w.color = out_args.color();
    w.enricher = enricher;
    w.header(&mut out)?;
    w.write_all(&mut out, store, &findings, None)?;
    close_with_inputs(out, out_args.case(), Some(&evidence.manifest), Some(detectors.rule_set_sha256.clone()), inputs)?;
    Ok(detectors.outcome(&findings, &evidence))
}

fn file_name(format: EventFormat) -> &'static str {
    match format {
        EventFormat::Table => "findings.txt",
        EventFormat::Csv => "findings.csv",
        EventFormat::Jsonl => "findings.jsonl",
    }
}

/// Findings in one format, one after another; with `case`, each names the case file it is from.
struct FindingWriter {
    format: EventFormat,
    /// Table only: the zone times are shown in (`--tz`).
    zone: DisplayZone,
    /// Table only: severities in colour (a terminal, no `--no-color`/NO_COLOR).
    color: bool,
    with_case: bool,
    /// Table only: fold a rule's repeated findings for one principal into one line.
    fold: bool,
    /// With `--geoip`/`--asn`/`--aws-ranges`: where each finding's source IP is (columns at the
    /// end of CSV, keys in JSONL, a `[...]` suffix in the table).
    enricher: Option<Arc<Enricher>>,
}

/// A rule firing this often for one principal is a pattern, shown as one line with counts
/// (busy automation otherwise buries the few findings that matter under thousands of lines).
const FOLD_AT: usize = 3;

/// One CSV record, formula-looking cells neutralised (the values come from the evidence).
fn csv_row<'a>(out: &mut impl Write, cells: impl IntoIterator<Item = &'a str>) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(cells.into_iter().map(|c| csv_cell(c).into_owned()))?;
    w.flush()?;
    Ok(())
}

impl FindingWriter {
    fn new(format: EventFormat, with_case: bool, fold: bool) -> Self {
        FindingWriter { format, with_case, fold, enricher: None, zone: DisplayZone::Utc, color: false }
    }

    /// One table line: time, severity, rule, account, region, source IP, access key, event,
    /// principal, then `tail` (the enrichment note).
    fn table_row(&self, out: &mut impl Write, cells: [&str; 9], tail: &str) -> std::io::Result<()> {
        let tw = self.zone.format(0).len();
        let [time, severity, rule, account, region, ip, key, event, principal] = cells;
        writeln!(out, "{time:<tw$} {severity:<8} {rule:<44} {account:<12} {region:<14} {ip:<16} {key:<20} {event:<32} {principal}{tail}")
    }

    /// The severity cell, padded to its column, in colour when asked (padding first: escape
    /// codes have no width).
    fn severity(&self, name: &str, s: Severity) -> String {
        let padded = format!("{name:<8}");
        if !self.color {
            return padded;
        }
        let style = match s {
            Severity::Critical => anstyle::AnsiColor::Red.on_default().bold(),
            Severity::High => anstyle::AnsiColor::Red.on_default(),
            Severity::Medium => anstyle::AnsiColor::Yellow.on_default(),
            Severity::Low => anstyle::AnsiColor::Cyan.on_default(),
            Severity::Informational => anstyle::Style::new(),
        };
        format!("{style}{padded}{style:#}")
    }

    /// Every finding; in the table, repeats of a rule for one principal folded when asked.
    fn write_all(
        &mut self,
        out: &mut impl Write,
        store: &Store,
        findings: &[Finding],
        case: Option<&str>,
    ) -> anyhow::Result<()> {
        if self.format != EventFormat::Table || !self.fold {
            for f in findings {
                self.write(out, store, f, case)?;
            }
            return Ok(());
        }
        // The source IP is part of the key: an intruder on a leaked key shares its principal with
        // the owner's automation, and folding the two together would hide the intrusion.
        let key = |f: &Finding| {
            let e = store.event(f.first_row());
            (f.rule.id.clone(), principal_name(store, f.first_row()), e.sym(Field::SourceIp))
        };
        let mut groups: std::collections::HashMap<_, Vec<usize>> = Default::default();
        for (i, f) in findings.iter().enumerate() {
            groups.entry(key(f)).or_default().push(i);
        }
        for (i, f) in findings.iter().enumerate() {
            let members = &groups[&key(f)];
            if members.len() < FOLD_AT {
                self.write(out, store, f, case)?;
            } else if members[0] == i {
                self.write_folded(out, store, members.iter().map(|&j| &findings[j]).collect())?;
            }
        }
        Ok(())
    }

    /// One table line for many findings of a rule and principal: the first, with counts, the
    /// span, and how many distinct IPs and keys were involved.
    fn write_folded(&mut self, out: &mut impl Write, store: &Store, group: Vec<&Finding>) -> anyhow::Result<()> {
        let first = group[0];
        let mut c = columns(store, first).map(|v| clean(&v).into_owned());
        c[0] = self.zone.format(store.times()[first.first_row()]);
        c[1] = self.severity(&c[1], first.rule.severity);
        let e = store.event(first.first_row());
        let distinct = |field: Field| {
            let set: std::collections::BTreeSet<&str> =
                group.iter().flat_map(|f| f.rows.iter()).filter_map(|&r| store.event(r as usize).str(field)).collect();
            set
        };
        let one_or_count = |set: std::collections::BTreeSet<&str>, what: &str| match set.len() {
            0 => String::new(),
            1 => clean(set.first().copied().unwrap_or("")).into_owned(),
            n => format!("{n} {what}"),
        };
        let events: usize = group.iter().map(|f| f.rows.len()).sum();
        let last = group.iter().flat_map(|f| f.rows.last()).max().copied().unwrap_or(0) as usize;
        let failed = group.iter().filter(|f| f.attempt(store).is_some()).count();
        let mut what =
            format!("{} x{} ({events} events, until {})", c[7], group.len(), self.zone.format(store.times()[last]));
        if failed > 0 {
            what += &format!(" [{failed} failed attempts]");
        }
        // The fold key holds the first event's source IP: where it is describes the group.
        let at = self.enricher.as_deref().and_then(|en| enrichment::summary(en, &c[6]));
        let account = clean(e.str(Field::RecipientAccount).or(e.str(Field::IdentityAccount)).unwrap_or(""));
        let region = clean(e.str(Field::AwsRegion).unwrap_or(""));
        let tail = at.map(|a| format!("  [{}]", clean(&a))).unwrap_or_default();
        let (ips, keys) =
            (one_or_count(distinct(Field::SourceIp), "IPs"), one_or_count(distinct(Field::AccessKeyId), "keys"));
        self.table_row(
            out,
            [&c[0], &c[1], &clean(&rule_label(first)), &account, &region, &ips, &keys, &what, &c[4]],
            &tail,
        )?;
        Ok(())
    }

    fn header(&mut self, out: &mut impl Write) -> anyhow::Result<()> {
        match self.format {
            EventFormat::Table => self.table_row(
                out,
                ["TIME", "SEVERITY", "RULE", "ACCOUNT", "REGION", "SOURCE_IP", "ACCESS_KEY", "EVENT", "PRINCIPAL"],
                "",
            )?,
            EventFormat::Csv => {
                let case = self.with_case.then_some("case");
                let extra: &[&str] = if self.enricher.is_some() { &enrichment::COLUMNS } else { &[] };
                csv_row(out, case.into_iter().chain(COLUMNS).chain(extra.iter().copied()))?;
            }
            EventFormat::Jsonl => {}
        }
        Ok(())
    }

    fn write(&mut self, out: &mut impl Write, store: &Store, f: &Finding, case: Option<&str>) -> anyhow::Result<()> {
        let c = columns(store, f);
        let place: Vec<String> =
            self.enricher.as_deref().map(|e| enrichment::cells(e, &c[6])).into_iter().flatten().collect();
        match self.format {
            EventFormat::Table => {
                // Evidence values reach a terminal: escape sequences planted in them are disarmed.
                let mut c = c.map(|v| clean(&v).into_owned());
                c[0] = self.zone.format(store.times()[f.first_row()]);
                c[1] = self.severity(&c[1], f.rule.severity);
                let mut more =
                    if f.rows.len() > 1 { format!(" (+{} events)", f.rows.len() - 1) } else { String::new() };
                if !c[11].is_empty() {
                    more += &format!(" [attempt, failed: {}]", c[11]);
                }
                let e = store.event(f.first_row());
                let account = e.str(Field::RecipientAccount).or(e.str(Field::IdentityAccount)).unwrap_or("");
                let region = e.str(Field::AwsRegion).unwrap_or("");
                let at = self.enricher.as_deref().and_then(|e| enrichment::summary(e, &c[6]));
                let tail = at.map(|a| format!("  [{}]", clean(&a))).unwrap_or_default();
                let (account, region) = (clean(account), clean(region));
                let event = format!("{}{more}", c[7]);
                self.table_row(
                    out,
                    [&c[0], &c[1], &clean(&rule_label(f)), &account, &region, &c[6], &c[5], &event, &c[4]],
                    &tail,
                )?;
            }
            EventFormat::Csv => {
                let case = self.with_case.then_some(case.unwrap_or(""));
                csv_row(
                    out,
                    case.into_iter().chain(c.iter().map(String::as_str)).chain(place.iter().map(String::as_str)),
                )?;
            }
            EventFormat::Jsonl => {
                let ids: Vec<&str> =
                    f.rows.iter().filter_map(|&r| store.event(r as usize).str(Field::EventId)).collect();
                let mut v = json!({
                    "time": c[0], "severity": c[1], "rule": c[2], "title": c[3], "tactics": f.rule.tactics,
                    "techniques": f.rule.techniques, "principal": c[4], "access_key": c[5], "source_ip": c[6],
                    "event_name": c[7], "event_ids": ids, "group": f.group, "rule_source": f.rule.source,
                    "attempt": f.attempt(store),
                });
                if self.with_case {
                    v["case"] = json!(case);
                }
                for (k, cell) in enrichment::COLUMNS.iter().zip(&place) {
                    v[*k] = json!(cell);
                }
                serde_json::to_writer(&mut *out, &v)?;
                out.write_all(b"\n")?;
            }
        }
        Ok(())
    }
}

/// What one case of a bulk hunt gave.
struct CaseSummary {
    path: String,
    /// Why the case could not be hunted (it is then skipped, and the run needs attention).
    refused: Option<String>,
    events: usize,
    span: Option<(i64, i64)>,
    /// Findings per severity, most severe first (critical .. informational).
    by_severity: [usize; 5],
    /// Rule id and finding count, most findings first.
    rules: Vec<(String, usize)>,
    /// SHA-256 of the evidence manifest saved in the case: which logs the case was made of.
    manifest_sha256: String,
    problems: bool,
}

const SEVERITIES: [Severity; 5] =
    [Severity::Critical, Severity::High, Severity::Medium, Severity::Low, Severity::Informational];

/// `hunt case1.tscase case2.tscase ...`: the same detectors over each saved case in turn (one
/// case in memory at a time, so years of incidents need no more memory than the largest), the
/// findings of all, then a summary per case.
/// How a bulk hunt runs and prints.
struct CaseRun {
    quiet: bool,
    verbose: bool,
    cache_bytes: u64,
    min: Severity,
    explain: bool,
    no_fold: bool,
    format: EventFormat,
}

fn run_cases(
    cases: &[&Path],
    detectors: &Detectors,
    window: &WindowArgs,
    how: &CaseRun,
    enricher: Option<Arc<Enricher>>,
    out_args: &OutArgs,
) -> anyhow::Result<Outcome> {
    let CaseRun { quiet, verbose, cache_bytes, min, explain, no_fold, format } = *how;
    let case_dir = out_args.case();
    let mut out = Tee::new(case_dir, file_name(format))?;
    let inputs = enrichment::audit_inputs(enricher.as_deref());
    let mut w = FindingWriter::new(format, true, !no_fold);
    w.zone = out_args.tz.unwrap_or_default();
    w.color = out_args.color();
    w.enricher = enricher;
    if format != EventFormat::Table {
        w.header(&mut out)?;
    }
    let mut summaries = Vec::new();
    for path in cases {
        let label = path.display().to_string();
        let evidence = match evidence::open_case(path, cache_bytes) {
            Ok(e) => e,
            Err(e) => {
                eprintln!("trailscope: {label}: skipped: {e:#}");
                summaries.push(CaseSummary {
                    path: label,
                    refused: Some(format!("{e:#}")),
                    events: 0,
                    span: None,
                    by_severity: [0; 5],
                    rules: Vec::new(),
                    manifest_sha256: String::new(),
                    problems: true,
                });
                continue;
            }
        };
        evidence::conflict_notes(&evidence.manifest, Some(&label), quiet, verbose);
        let store = &evidence.store;
        if explain {
            for line in detectors.rules.explain(store) {
                eprintln!("{label}: {line}");
            }
        }
        let mut findings: Vec<Finding> = detectors.run(store).into_iter().filter(|f| f.rule.severity >= min).collect();
        filter::findings_in_window(store, &mut findings, window)?;
        let span = (!store.is_empty()).then(|| (store.times()[0], store.times()[store.len() - 1]));
        if format == EventFormat::Table {
            writeln!(out, "== {label}: {} events, {} findings", store.len(), findings.len())?;
            w.header(&mut out)?;
        }
        let mut by_severity = [0; 5];
        let mut rules: std::collections::BTreeMap<&str, usize> = Default::default();
        w.write_all(&mut out, store, &findings, Some(&label))?;
        for f in &findings {
            by_severity[SEVERITIES.iter().position(|&s| s == f.rule.severity).unwrap_or(4)] += 1;
            *rules.entry(&f.rule.id).or_default() += 1;
        }
        if format == EventFormat::Table {
            writeln!(out)?;
        }
        let mut rules: Vec<(String, usize)> = rules.into_iter().map(|(r, n)| (r.to_owned(), n)).collect();
        rules.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        summaries.push(CaseSummary {
            path: label,
            refused: None,
            events: store.len(),
            span,
            by_severity,
            rules,
            manifest_sha256: sha256_hex(&evidence.manifest.to_json()),
            problems: evidence.has_problems(),
        });
    }
    if format == EventFormat::Table {
        write_summary_table(&mut out, &summaries)?;
    } else if !quiet {
        // stdout stays one parseable stream: the summary goes beside it.
        write_summary_table(&mut std::io::stderr().lock(), &summaries)?;
    }
    let mut outputs: Vec<_> = out.finish()?.into_iter().collect();
    if let Some(dir) = case_dir {
        let mut table = Tee::file_only(dir, "hunt-cases.csv")?;
        write_summary_csv(&mut table, &summaries)?;
        outputs.extend(table.finish()?);
    }
    record_with_inputs(case_dir, None, Some(detectors.rule_set_sha256.clone()), inputs, outputs)?;
    let history_problems = detectors.history.as_ref().is_some_and(|h| h.evidence.has_problems());
    let attention =
        summaries.iter().any(|s| s.by_severity.iter().any(|&n| n > 0)) || !detectors.report.errors.is_empty();
    let incomplete = summaries.iter().any(|s| s.problems) || history_problems;
    Ok(Outcome::of(attention, incomplete))
}

fn span_text(s: &CaseSummary) -> (String, String) {
    s.span.map_or((String::new(), String::new()), |(a, b)| (chrono_free_iso(a), chrono_free_iso(b)))
}

fn top_rules(s: &CaseSummary, n: usize) -> String {
    let mut t: Vec<String> = s.rules.iter().take(n).map(|(r, c)| format!("{r} ({c})")).collect();
    if s.rules.len() > n {
        t.push(format!("+{} more", s.rules.len() - n));
    }
    t.join(", ")
}

fn write_summary_table(out: &mut impl Write, summaries: &[CaseSummary]) -> anyhow::Result<()> {
    let hit = summaries.iter().filter(|s| s.by_severity.iter().any(|&n| n > 0)).count();
    writeln!(out, "Cases: {} hunted, {hit} with findings", summaries.len())?;
    writeln!(
        out,
        "{:<40} {:>10} {:<20} {:<20} {:>5} {:>5} {:>5} {:>5} {:>5}  TOP RULES",
        "CASE", "EVENTS", "FIRST", "LAST", "CRIT", "HIGH", "MED", "LOW", "INFO"
    )?;
    for s in summaries {
        if let Some(why) = &s.refused {
            writeln!(out, "{:<40} skipped: {why}", s.path)?;
            continue;
        }
        let (first, last) = span_text(s);
        let [c, h, m, l, i] = s.by_severity;
        writeln!(
            out,
            "{:<40} {:>10} {:<20} {:<20} {c:>5} {h:>5} {m:>5} {l:>5} {i:>5}  {}{}",
            s.path,
            s.events,
            first,
            last,
            top_rules(s, 3),
            if s.problems { "  [evidence had unreadable files or rejected records]" } else { "" }
        )?;
    }
    Ok(())
}

fn write_summary_csv(out: &mut impl Write, summaries: &[CaseSummary]) -> anyhow::Result<()> {
    csv_row(
        out,
        [
            "case",
            "status",
            "events",
            "first_event",
            "last_event",
            "critical",
            "high",
            "medium",
            "low",
            "informational",
            "rules",
            "evidence_problems",
            "manifest_sha256",
        ],
    )?;
    for s in summaries {
        let (first, last) = span_text(s);
        let status = s.refused.as_ref().map_or("hunted".to_owned(), |why| format!("skipped: {why}"));
        let mut row = vec![s.path.clone(), status, s.events.to_string(), first, last];
        row.extend(s.by_severity.iter().map(|n| n.to_string()));
        row.push(s.rules.iter().map(|(r, c)| format!("{r}:{c}")).collect::<Vec<_>>().join(" "));
        row.push(s.problems.to_string());
        row.push(s.manifest_sha256.clone());
        csv_row(out, row.iter().map(String::as_str))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_are_coloured_only_when_asked_and_keep_their_width() {
        let mut w = FindingWriter::new(EventFormat::Table, false, true);
        assert_eq!(w.severity("high", Severity::High), "high    ");
        w.color = true;
        let c = w.severity("critical", Severity::Critical);
        assert!(c.starts_with('\x1b') && c.contains("critical") && c.ends_with("\x1b[0m"), "{c:?}");
        let plain: String = c.split('\x1b').map(|p| p.split_once('m').map_or(p, |(_, rest)| rest)).collect();
        assert_eq!(plain, "critical");
    }
}
