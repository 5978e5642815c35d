//! Command-line arguments (clap derive), as argument groups shared by subcommands.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Offline AWS CloudTrail forensics.
#[derive(Parser, Debug)]
#[command(name = "trailscope", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Ingest, detect and print the forensic summary (the main job).
    Analyze {
        /// Evidence to read.
        #[command(flatten)]
        input: InputArgs,
        /// Rules and indicators.
        #[command(flatten)]
        rules: RuleArgs,
        /// Only findings with an event in this window (detection still sees all the evidence:
        /// baselines and correlations need what came before).
        #[command(flatten)]
        window: WindowArgs,
        /// Output format; several, comma-separated, need --out (each goes to its own file).
        #[arg(long, value_enum, value_delimiter = ',', default_value = "text")]
        format: Vec<AnalyzeFormat>,
        /// Case sequence number for the report id (AWS-IR-<date>-<seq>).
        #[arg(long, default_value_t = 1)]
        case_seq: u32,
        /// Who is who: overrides and session splitting.
        #[command(flatten)]
        attribution: AttributionArgs,
        /// Offline IP enrichment.
        #[command(flatten)]
        enrich: EnrichArgs,
        /// Case directory for output files.
        #[command(flatten)]
        out: OutArgs,
    },
    /// Ingest only and summarise what was read, skipped and why; `--save` keeps the result.
    Ingest {
        /// Evidence to read.
        #[command(flatten)]
        input: InputArgs,
        /// Save the ingested events and the evidence manifest as one case file, which every
        /// command (but `verify`) then opens in place of the logs, without ingesting again.
        #[arg(long, value_name = "FILE")]
        save: Option<PathBuf>,
        /// Memory budget of `--save` (bytes, or with K, M, G or T: 512M, 2G). Evidence that would
        /// not fit is saved in segments: batches of files sealed to temporary files beside the
        /// case file, then merged into it, so memory does not grow with the evidence.
        #[arg(long, value_name = "SIZE", default_value = "2G", value_parser = parse_size)]
        max_memory: u64,
        /// Case directory for output files.
        #[command(flatten)]
        out: OutArgs,
    },
    /// Validate the logs against CloudTrail digest files, offline (hashes, chain, gaps,
    /// signatures).
    Verify {
        /// Evidence to read (logs and digests).
        #[command(flatten)]
        input: InputArgs,
        /// Digest signatures (the S3 `x-amz-meta-signature` of each digest), as JSON:
        /// `{"<digest S3 key or file name>": "<hex signature>", ...}`.
        #[arg(long, value_name = "FILE")]
        signatures: Option<PathBuf>,
        /// Public keys saved from `aws cloudtrail list-public-keys` (JSON).
        #[arg(long, value_name = "FILE")]
        public_keys: Option<PathBuf>,
        /// Report event gaps per account and region longer than this (e.g. 6h; 0 to skip).
        #[arg(long, default_value = "6h")]
        gap: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
        format: ReportFormat,
        /// Case directory for output files.
        #[command(flatten)]
        out: OutArgs,
    },
    /// Shell completions on stdout: `trailscope completions bash > /etc/bash_completion.d/trailscope`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// The manual page (roff) on stdout: `trailscope man > trailscope.1; man ./trailscope.1`.
    Man,
    /// Case audit log.
    Audit {
        /// What to do.
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Run the rules, IOCs and baselines and list the findings.
    Hunt {
        /// Evidence to read.
        #[command(flatten)]
        input: InputArgs,
        /// Rules and indicators.
        #[command(flatten)]
        rules: RuleArgs,
        /// Only findings with an event in this window (detection still sees all the evidence:
        /// baselines and correlations need what came before).
        #[command(flatten)]
        window: WindowArgs,
        /// Only findings at or above this level.
        #[arg(long, value_enum, default_value_t = Level::Informational)]
        min_level: Level,
        /// Print each rule's compiled form on stderr (which tests use dictionary ids, which read
        /// payloads, which can never match this evidence).
        #[arg(long)]
        explain: bool,
        /// Table: one line per finding, even when a rule fires again and again for one principal
        /// (by default 3 or more are folded into one line with counts; CSV and JSONL never fold).
        #[arg(long)]
        no_fold: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t = EventFormat::Table)]
        format: EventFormat,
        /// Offline IP enrichment.
        #[command(flatten)]
        enrich: EnrichArgs,
        /// Case directory for output files.
        #[command(flatten)]
        out: OutArgs,
    },
    /// Export the events for other engines: Hive-partitioned Parquet (see docs/export.md).
    Export {
        /// Evidence to read.
        #[command(flatten)]
        input: InputArgs,
        /// Directory to write the Parquet partitions to (must be new or empty).
        #[arg(long, value_name = "DIR", required = true)]
        parquet: PathBuf,
    },
    /// Rule management.
    Rules {
        /// What to do with rules.
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// Per-principal summaries: counts, outcomes, APIs, regions, IPs, user agents, keys.
    Summary {
        /// Evidence to read.
        #[command(flatten)]
        input: InputArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t = SummaryFormat::Table)]
        format: SummaryFormat,
        /// Case directory for output files.
        #[command(flatten)]
        out: OutArgs,
    },
    /// Ask the evidence a question in the query language (docs/query.md): list the matching
    /// events, or count, group, bucket and sum them.
    Query {
        /// Evidence to read, then the query as the last argument, quoted:
        /// `trailscope query DUMP 'eventName = GetObject and sourceIPAddress in 203.0.113.0/24'`.
        #[command(flatten)]
        input: InputArgs,
        /// The query (quote it): `eventName = GetObject and sourceIPAddress in 203.0.113.0/24`;
        /// `*` for every event.
        #[arg(value_name = "EXPRESSION", required = true)]
        expression: String,
        /// What to compute.
        #[command(flatten)]
        agg: QueryArgs,
        /// Print the query's compiled form on stderr (which tests use dictionary ids, which
        /// read payloads).
        #[arg(long)]
        explain: bool,
        /// Read the whole dump into the store before filtering, as a saved case or `hunt` does
        /// (by default, records of a raw dump that surely cannot match are left out as they are
        /// parsed, and counted; the answer is the same, but for a file too large to store
        /// whole, and conflicting duplicates are only looked for among the records kept, see
        /// docs/query.md).
        #[arg(long)]
        no_prefilter: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t = EventFormat::Table)]
        format: EventFormat,
        /// Case directory for output files.
        #[command(flatten)]
        out: OutArgs,
    },
    /// List events, filtered.
    Events {
        /// Evidence to read.
        #[command(flatten)]
        input: InputArgs,
        /// Which events.
        #[command(flatten)]
        filter: Box<FilterArgs>,
        /// With `--rule`: only the events behind that rule's findings (the rules are loaded as
        /// for `hunt`).
        #[command(flatten)]
        rules: Box<RuleArgs>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = EventFormat::Table)]
        format: EventFormat,
        /// Print at most this many events.
        #[arg(long)]
        limit: Option<usize>,
        /// Read the whole dump into the store before filtering, as a saved case or `hunt` does
        /// (by default, records of a raw dump that surely cannot match are left out as they are
        /// parsed, and counted; the answer is the same, but for a file too large to store
        /// whole, and conflicting duplicates are only looked for among the records kept, see
        /// docs/query.md).
        #[arg(long)]
        no_prefilter: bool,
        /// Offline IP enrichment.
        #[command(flatten)]
        enrich: EnrichArgs,
        /// Case directory for output files.
        #[command(flatten)]
        out: OutArgs,
    },
}

/// Aggregations of `trailscope query`.
#[derive(Args, Debug, Clone, Default)]
pub struct QueryArgs {
    /// Only the number of rows the answer has: events, groups (with --group-by or --bucket),
    /// or distinct values (with --distinct alone).
    #[arg(long)]
    pub count: bool,
    /// Count events per distinct combination of these paths (comma-separated), with first
    /// and last seen.
    #[arg(long, value_delimiter = ',', value_name = "PATH,...")]
    pub group_by: Vec<String>,
    /// Keep the N largest groups (without groups: the first N events).
    #[arg(long, value_name = "N")]
    pub top: Option<usize>,
    /// Alone: the distinct values of this path. With --group-by/--bucket: how many per group.
    #[arg(long, value_name = "PATH")]
    pub distinct: Option<String>,
    /// Add up this numeric path per group (e.g. additionalEventData.bytesTransferredOut).
    #[arg(long, value_name = "PATH")]
    pub sum: Option<String>,
    /// Counts over time, in buckets of this width (15m, 1h, 1d), oldest first.
    #[arg(long, value_name = "WIDTH")]
    pub bucket: Option<String>,
    /// The listing's columns (comma-separated paths); with --format jsonl, without this, the
    /// full records.
    #[arg(long, value_delimiter = ',', value_name = "PATH,...")]
    pub fields: Vec<String>,
}

/// `trailscope audit ...`
#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Check a case directory's audit chain and every output hash; name the first broken link,
    /// a log truncated or missing (against audit.head), and files no entry accounts for. Prints
    /// the log's head (SEQ:SHA256) to record in the case notes.
    Verify {
        /// The case directory (given to --out).
        #[arg(value_name = "CASE_DIR")]
        case: PathBuf,
        /// The head recorded earlier (SEQ:SHA256, as printed): the log must still end there.
        #[arg(long, value_name = "SEQ:SHA256")]
        head: Option<trailscope_integrity::audit::Head>,
    },
}

/// Output files for a case.
#[derive(Args, Debug, Clone, Default)]
pub struct OutArgs {
    /// Case directory: also write the output, the evidence manifest (manifest.json,
    /// manifest.csv) and an audit-log entry there. Evidence is never written to otherwise.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Show times in this zone in human-readable outputs (text, Markdown and HTML reports,
    /// tables): UTC, an offset (+02:00; --tz=-05:00) or an IANA name (Europe/Berlin). Machine formats (JSON,
    /// CSV, JSONL) stay UTC.
    #[arg(long, value_name = "ZONE", value_parser = parse_zone)]
    pub tz: Option<trailscope_timeline::DisplayZone>,
    /// Replace an output already in the case directory with other content (its SHA-256 is kept
    /// in the audit entry). Without it the new output gets a numbered name (report-2.txt).
    #[arg(long, requires = "out")]
    pub force: bool,
    /// No colours in terminal tables (also when the NO_COLOR environment variable is set; never
    /// coloured when stdout is not a terminal or with --out).
    #[arg(long)]
    pub no_color: bool,
}

impl OutArgs {
    /// Colour severities in a table: only for a person at a terminal, and never into a file
    /// (`--out` writes the same bytes as stdout).
    pub fn color(&self) -> bool {
        use std::io::IsTerminal;
        !self.no_color
            && self.out.is_none()
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            && std::io::stdout().is_terminal()
    }
}

fn parse_zone(s: &str) -> Result<trailscope_timeline::DisplayZone, String> {
    s.parse().map_err(|e: trailscope_timeline::zone::BadZone| e.to_string())
}

/// `trailscope rules ...`
#[derive(Subcommand, Debug)]
pub enum RulesCommand {
    /// Show the loaded rules (built-in pack plus --rules).
    List {
        /// Rules to add.
        #[command(flatten)]
        rules: RuleArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
    },
    /// Every event rule, aggregation rule and counting correlation as one SQL query over the
    /// Parquet export (`export --parquet`); the rules that cannot be translated are listed with the reason (stderr and SQL comments).
    Export {
        /// Rules to add.
        #[command(flatten)]
        rules: RuleArgs,
        /// SQL dialect.
        #[arg(long, value_enum, value_name = "DIALECT")]
        sql: SqlDialect,
        /// The table or view over the export.
        #[arg(long, default_value = "events")]
        table: String,
    },
    /// Validate rule files: load them and report every refusal (exit 1 if any).
    Check {
        /// Rule files or directories.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// Values for `|expand` placeholders.
        #[arg(long, value_name = "FILE")]
        vars: Option<PathBuf>,
    },
}

/// SQL dialects for `rules export`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SqlDialect {
    /// DuckDB.
    Duckdb,
    /// Trino.
    Trino,
    /// Amazon Athena (engine 3).
    Athena,
    /// Spark SQL (3.3 or later).
    Spark,
}

/// Which rules, indicators and baselines run.
#[derive(Args, Debug, Clone, Default)]
pub struct RuleArgs {
    /// Sigma rule file or directory (recursive), repeatable; added to the built-in pack.
    #[arg(long = "rules", value_name = "PATH")]
    pub rules: Vec<PathBuf>,
    /// IOC list (IPs, CIDRs, access keys, ARNs, accounts, ua: fragments), repeatable.
    #[arg(long = "ioc", value_name = "FILE")]
    pub ioc: Vec<PathBuf>,
    /// Values for `|expand` placeholders (YAML or JSON: name -> value or list).
    #[arg(long, value_name = "FILE")]
    pub vars: Option<PathBuf>,
    /// Leave the built-in pack out.
    #[arg(long)]
    pub no_builtin: bool,
    /// Leave the first-seen baselines out.
    #[arg(long)]
    pub no_baseline: bool,
    /// Baseline learning window (e.g. 7d, 36h); default: first 20 % of the evidence, at least 6 hours.
    #[arg(long, value_name = "DURATION")]
    pub learn: Option<String>,
    /// Learn the first-seen baselines from this earlier dump of the same accounts (file or
    /// directory, repeatable) instead of the evidence's first part: then every evidence event,
    /// the first included, is compared with what each principal did there.
    #[arg(long = "baseline", value_name = "PATH", conflicts_with_all = ["learn", "no_baseline"])]
    pub baseline: Vec<PathBuf>,
    /// Run only this rule: its id, correlation name or title (case-insensitive), a baseline id,
    /// or `ioc` for the IOC lists; repeatable. A correlation brings the rules it is built on.
    #[arg(long = "rule", value_name = "ID")]
    pub rule: Vec<String>,
}

/// Offline enrichment of source IPs from the examiner's saved databases (nothing is fetched).
/// Service names, `AWS Internal` and private addresses are never looked up.
#[derive(Args, Debug, Clone, Default)]
pub struct EnrichArgs {
    /// GeoIP City or Country database (MaxMind/DB-IP .mmdb): country and city of source IPs.
    #[arg(long, value_name = "FILE.mmdb")]
    pub geoip: Option<PathBuf>,
    /// ASN database (.mmdb): autonomous system number and organisation of source IPs.
    #[arg(long, value_name = "FILE.mmdb")]
    pub asn: Option<PathBuf>,
    /// AWS's ip-ranges.json, saved: AWS address space (service and region) of source IPs.
    #[arg(long, value_name = "FILE")]
    pub aws_ranges: Option<PathBuf>,
}

impl EnrichArgs {
    /// The databases named.
    pub fn sources(&self) -> trailscope_enrich::Sources {
        trailscope_enrich::Sources {
            geoip: self.geoip.clone(),
            asn: self.asn.clone(),
            aws_ranges: self.aws_ranges.clone(),
        }
    }
}

/// Attribution options of `analyze`.
#[derive(Args, Debug, Clone, Default)]
pub struct AttributionArgs {
    /// Vouch for activity: `principal=ARN-or-part`, `ip=ADDRESS-or-CIDR`, `key=AKIA...` or
    /// `ua=SUBSTRING`. Matching actors are benign/owner whatever their findings; the report
    /// lists the overrides used. Repeatable.
    #[arg(long, value_name = "KIND=VALUE")]
    pub trust: Vec<String>,
    /// A pause longer than this starts a new session of an actor.
    #[arg(long, value_name = "DURATION", default_value = "30m")]
    pub session_gap: String,
}

/// Severity levels for `--min-level`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Everything.
    Informational,
    /// Low and above.
    Low,
    /// Medium and above.
    Medium,
    /// High and above.
    High,
    /// Critical only.
    Critical,
}

/// Rule list formats.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListFormat {
    /// Aligned columns.
    Table,
    /// A Markdown table (as in docs/rules.md).
    Markdown,
}

/// Where the evidence is and how to read it.
#[derive(Args, Debug, Clone)]
pub struct InputArgs {
    /// Files and directories (an S3 sync of AWSLogs/, exports, JSON Lines; gzipped or not), or
    /// one case file saved by `ingest --save` (`hunt`: several, hunted one after another).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Worker threads (0: one per core; at most 1024, and more than 4 per core are reduced to that).
    #[arg(long, short = 'j', default_value_t = 0, value_parser = threads_in_range)]
    pub threads: usize,
    /// Follow symbolic links while walking directories.
    #[arg(long)]
    pub follow_links: bool,
    /// Largest content one file may decompress to (e.g. 512MiB, 2GiB, at most 4GiB): a larger
    /// file is refused and named, never held in memory (decompression bombs).
    #[arg(long, value_name = "SIZE", default_value = "1GiB", value_parser = parse_file_size)]
    pub max_file_size: u64,
    /// Memory for decompressed payload blocks when the input is a case file (bytes, or with K,
    /// M, G or T). Payloads are decompressed block by block on demand and this many bytes of
    /// blocks are kept; a larger cache helps repeated payload reads, a smaller one bounds memory
    /// when hunting a case larger than memory. No effect on logs, which are read into memory.
    #[arg(long, value_name = "SIZE", default_value = "512M", value_parser = parse_size)]
    pub case_cache: u64,
    /// Stop at the first unreadable file or rejected record.
    #[arg(long)]
    pub strict: bool,
    /// No progress bar and no ingest notes on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// List ignored files and every file error on stderr.
    #[arg(long, short = 'v')]
    pub verbose: bool,
    /// Test knob, hidden: refuse a file once its stored payload (or a per-file column) passes
    /// this many bytes instead of 4 GiB, so that tests reach that limit with a small file
    /// (docs/design.md, "Hostile evidence").
    #[arg(long, hide = true, value_name = "BYTES")]
    pub test_chunk_limit: Option<u32>,
}

/// A time window.
#[derive(Args, Debug, Clone, Default)]
pub struct WindowArgs {
    /// At or after this time (ISO 8601, or a date).
    #[arg(long)]
    pub from: Option<String>,
    /// At or before this time (ISO 8601, or a date meaning the whole day).
    #[arg(long)]
    pub to: Option<String>,
}

/// Event filters (all given filters must hold).
#[derive(Args, Debug, Clone, Default)]
pub struct FilterArgs {
    /// Events in this window.
    #[command(flatten)]
    pub window: WindowArgs,
    /// eventID, repeatable (the pivot from a finding to its event).
    #[arg(long = "event-id", value_name = "ID")]
    pub event_id: Vec<String>,
    /// requestID, repeatable.
    #[arg(long = "request-id", value_name = "ID")]
    pub request_id: Vec<String>,
    /// User agent containing this text (case-insensitive), repeatable.
    #[arg(long = "user-agent", value_name = "TEXT")]
    pub user_agent: Vec<String>,
    /// Free text anywhere in the record (case-insensitive; every field, nested ones included).
    #[arg(long, value_name = "TEXT")]
    pub text: Option<String>,
    /// Account id (recipient or caller), repeatable.
    #[arg(long)]
    pub account: Vec<String>,
    /// Region, repeatable.
    #[arg(long)]
    pub region: Vec<String>,
    /// Principal: ARN, user/role name or any part of the ARN (case-insensitive), repeatable.
    #[arg(long)]
    pub principal: Vec<String>,
    /// Access key id, repeatable.
    #[arg(long)]
    pub access_key: Vec<String>,
    /// Source IP address (or service name), repeatable.
    #[arg(long)]
    pub ip: Vec<String>,
    /// eventName, repeatable (Lambda version suffixes ignored).
    #[arg(long)]
    pub event_name: Vec<String>,
    /// eventSource, e.g. iam.amazonaws.com or iam, repeatable.
    #[arg(long)]
    pub event_source: Vec<String>,
    /// Failed calls only; `--error=CODE`: only errorCodes containing CODE (the `=` keeps a
    /// path after `--error` a path).
    #[arg(long, num_args = 0..=1, default_missing_value = "*", require_equals = true, value_name = "CODE")]
    pub error: Option<String>,
}

/// Report formats.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportFormat {
    /// The forensic summary.
    Text,
    /// The full report model as JSON.
    Json,
    /// The report as Markdown tables (case notes, tickets).
    Markdown,
}

/// Formats of `analyze`: the report, and the timeline for other tools.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnalyzeFormat {
    /// The forensic summary.
    Text,
    /// The full report model as JSON.
    Json,
    /// The report as Markdown tables (case notes, tickets).
    Markdown,
    /// The timeline (attacker and suspicious actors' events) as CSV (Timeline Explorer).
    Csv,
    /// The timeline (attacker and suspicious actors' events) as JSON lines (Timesketch).
    Jsonl,
    /// The findings' techniques as an ATT&CK Navigator layer.
    Navigator,
    /// The report as one self-contained HTML page (offline: nothing fetched).
    Html,
}

impl AnalyzeFormat {
    /// File name in the case directory.
    pub fn file_name(self) -> &'static str {
        match self {
            AnalyzeFormat::Text => "report.txt",
            AnalyzeFormat::Json => "report.json",
            AnalyzeFormat::Markdown => "report.md",
            AnalyzeFormat::Csv => "timeline.csv",
            AnalyzeFormat::Jsonl => "timeline.jsonl",
            AnalyzeFormat::Navigator => "attack-layer.json",
            AnalyzeFormat::Html => "report.html",
        }
    }
}

/// Event list formats.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventFormat {
    /// Aligned columns.
    Table,
    /// One JSON object per line: `events` the full CloudTrail record, `hunt` one finding.
    Jsonl,
    /// CSV with a header.
    Csv,
}

/// Summary formats.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SummaryFormat {
    /// Aligned columns, lists indented below each principal.
    Table,
    /// A JSON array, one object per principal.
    Json,
    /// CSV with a header, one row per principal.
    Csv,
}

/// `-j`: thousands of threads only thrash (and can exhaust the process's stack mappings).
fn threads_in_range(s: &str) -> Result<usize, String> {
    let n: usize = s.parse().map_err(|_| format!("not a number of threads: {s:?}"))?;
    if n > 1024 {
        return Err(format!("{n} threads is absurd: at most 1024 (0 means one per core)"));
    }
    Ok(n)
}

/// A size in bytes: a number, optionally followed by K, M, G or T (powers of 1024; `B`, `iB` and
/// lower case accepted: `512M`, `2GiB`, `1g`).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let t = t.strip_suffix(['b', 'B']).unwrap_or(t);
    let t = t.strip_suffix(['i', 'I']).unwrap_or(t);
    let (digits, shift) = match t.chars().last().map(|c| c.to_ascii_uppercase()) {
        Some('K') => (&t[..t.len() - 1], 10),
        Some('M') => (&t[..t.len() - 1], 20),
        Some('G') => (&t[..t.len() - 1], 30),
        Some('T') => (&t[..t.len() - 1], 40),
        _ => (t, 0),
    };
    let n: u64 = digits.trim().parse().map_err(|_| format!("`{s}` is not a size (say 512M or 2G)"))?;
    n.checked_mul(1 << shift).filter(|&n| n > 0).ok_or_else(|| format!("`{s}` is not a usable size"))
}

/// `--max-file-size`: a size between 1 byte and 4 GiB (a file's payload offsets are 32-bit).
fn parse_file_size(s: &str) -> Result<u64, String> {
    let n = parse_size(s)?;
    if (1..=4 << 30).contains(&n) {
        Ok(n)
    } else {
        Err(format!("`{s}`: the file size limit must be between 1 byte and 4GiB"))
    }
}

#[cfg(test)]
mod size_tests {
    use super::parse_size;

    #[test]
    fn sizes_read_as_powers_of_1024() {
        assert_eq!(parse_size("512M"), Ok(512 << 20));
        assert_eq!(parse_size("2G"), Ok(2 << 30));
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        assert_eq!(parse_size("64k"), Ok(64 << 10));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("0").is_err());
        assert!(parse_size("99999999999T").is_err());
    }
}
