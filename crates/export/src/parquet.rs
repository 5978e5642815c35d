//! The store as Hive-partitioned Parquet (`account=/region=/date=`), files written in parallel.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{BooleanBuilder, Int64Builder, StringBuilder, TimestampMillisecondBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field as ArrowField, Schema, SchemaRef, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use rayon::prelude::*;
use serde_json::Value;
use trailscope_store::{civil_from_days, Field, Flag, Store, IDENTITY_KEYS, TLS_KEYS};

use crate::ExportError;

/// Rows per row group. Engines split work by row group; at the measured ~150-250 bytes per
/// compressed event this gives row groups of roughly 20-30 MB, inside the 16-128 MB that Spark,
/// Trino and DuckDB read best, while the writer's buffer for one group stays bounded.
pub const ROW_GROUP_ROWS: usize = 131_072;

/// Rows per file: a bigger partition rolls over to `part-1.parquet`, ... so no one file grows
/// past what one engine task should read.
pub const FILE_ROWS: usize = 1_048_576;

/// Rows converted to Arrow at a time: the only per-event memory the export holds.
const BATCH_ROWS: usize = 8_192;

/// Nested CloudTrail objects kept as JSON text, one column each, under their CloudTrail name.
pub const JSON_COLUMNS: [&str; 5] =
    ["requestParameters", "responseElements", "additionalEventData", "resources", "serviceEventDetails"];

/// The Parquet column name of a flat string field: its CloudTrail path with `.` as `_`
/// (`userIdentity.arn` → `userIdentity_arn`); top-level fields keep their CloudTrail name.
pub fn column_name(field: Field) -> String {
    field.path().replace('.', "_")
}

/// The Parquet column name of a flag.
pub fn flag_column(flag: Flag) -> &'static str {
    match flag {
        Flag::ReadOnly => "readOnly",
        Flag::ManagementEvent => "managementEvent",
        Flag::Mfa => "mfaUsed",
    }
}

/// The schema of every exported file (partition columns live in the directory names).
pub fn schema() -> SchemaRef {
    let mut fields =
        vec![ArrowField::new("eventTime", DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())), false)];
    fields.extend(Field::ALL.iter().map(|f| ArrowField::new(column_name(*f), DataType::Utf8, true)));
    fields.extend(Flag::ALL.iter().map(|f| ArrowField::new(flag_column(*f), DataType::Boolean, true)));
    fields.extend(JSON_COLUMNS.iter().map(|c| ArrowField::new(*c, DataType::Utf8, true)));
    fields.push(ArrowField::new("userIdentityRest", DataType::Utf8, true));
    fields.push(ArrowField::new("otherFields", DataType::Utf8, true));
    fields.push(ArrowField::new("sourceFile", DataType::Utf8, false));
    fields.push(ArrowField::new("recordIndex", DataType::Int64, false));
    Arc::new(Schema::new(fields))
}

/// What an export wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExportSummary {
    /// Events written.
    pub events: usize,
    /// Partitions (`account=/region=/date=` directories).
    pub partitions: usize,
    /// Parquet files.
    pub files: usize,
    /// Bytes written.
    pub bytes: u64,
}

/// A Hive partition value: safe in a path, `__HIVE_DEFAULT_PARTITION__` for a missing one (the
/// name Hive, Spark, Trino and DuckDB all read as null).
fn partition_value(v: Option<&str>) -> String {
    match v {
        None | Some("") => "__HIVE_DEFAULT_PARTITION__".into(),
        Some(s) => s
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c.to_string()
                } else {
                    format!("%{:02X}", c as u32)
                }
            })
            .collect(),
    }
}

fn day_of(ms: i64) -> String {
    let (y, m, d) = civil_from_days(ms.div_euclid(86_400_000));
    format!("{y:04}-{m:02}-{d:02}")
}

/// One batch of rows being turned into columns.
struct Columns {
    time: TimestampMillisecondBuilder,
    strings: Vec<StringBuilder>,
    flags: Vec<BooleanBuilder>,
    json: Vec<StringBuilder>,
    identity_rest: StringBuilder,
    other: StringBuilder,
    source: StringBuilder,
    index: Int64Builder,
}

impl Columns {
    fn new() -> Self {
        Columns {
            time: TimestampMillisecondBuilder::with_capacity(BATCH_ROWS).with_timezone("UTC"),
            strings: Field::ALL.iter().map(|_| StringBuilder::new()).collect(),
            flags: Flag::ALL.iter().map(|_| BooleanBuilder::new()).collect(),
            json: JSON_COLUMNS.iter().map(|_| StringBuilder::new()).collect(),
            identity_rest: StringBuilder::new(),
            other: StringBuilder::new(),
            source: StringBuilder::new(),
            index: Int64Builder::new(),
        }
    }

    fn push(&mut self, store: &Store, row: usize) {
        let ev = store.event(row);
        self.time.append_value(ev.time_ms());
        for (b, f) in self.strings.iter_mut().zip(Field::ALL) {
            b.append_option(ev.str(f));
        }
        for (b, f) in self.flags.iter_mut().zip(Flag::ALL) {
            b.append_option(ev.flag(f));
        }
        let Value::Object(mut rec) = ev.to_json() else { unreachable!("to_json builds an object") };
        for (b, key) in self.json.iter_mut().zip(JSON_COLUMNS) {
            b.append_option(rec.remove(key).map(|v| v.to_string()));
        }
        let rest = |obj: Option<Value>, keys: &[(&str, Field)]| -> Option<Value> {
            match obj? {
                Value::Object(mut m) => {
                    for (k, f) in keys {
                        if ev.str(*f).is_some() && m.get(*k).is_some_and(Value::is_string) {
                            m.remove(*k);
                        }
                    }
                    (!m.is_empty()).then_some(Value::Object(m))
                }
                other => Some(other),
            }
        };
        let identity = rest(rec.remove("userIdentity"), &IDENTITY_KEYS);
        self.identity_rest.append_option(identity.map(|v| v.to_string()));
        if let Some(tls) = rest(rec.remove("tlsDetails"), &TLS_KEYS) {
            rec.insert("tlsDetails".into(), tls);
        }
        // What the flat columns hold as strings (or booleans) leaves the record; anything typed
        // otherwise, or unknown to the schema, stays in `otherFields`.
        rec.remove("eventTime");
        for f in Field::ALL {
            if !f.path().contains('.') && ev.str(f).is_some() && rec.get(f.path()).is_some_and(Value::is_string) {
                rec.remove(f.path());
            }
        }
        for f in [Flag::ReadOnly, Flag::ManagementEvent] {
            if rec.get(f.path()).is_some_and(Value::is_boolean) {
                rec.remove(f.path());
            }
        }
        self.other.append_option((!rec.is_empty()).then(|| Value::Object(rec).to_string()));
        let (src, index) = ev.source();
        self.source.append_value(&src.path);
        self.index.append_value(i64::from(index));
    }

    fn finish(&mut self, schema: &SchemaRef) -> Result<RecordBatch, arrow_schema::ArrowError> {
        let mut cols: Vec<ArrayRef> = vec![Arc::new(self.time.finish())];
        cols.extend(self.strings.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
        cols.extend(self.flags.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
        cols.extend(self.json.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
        cols.push(Arc::new(self.identity_rest.finish()));
        cols.push(Arc::new(self.other.finish()));
        cols.push(Arc::new(self.source.finish()));
        cols.push(Arc::new(self.index.finish()));
        RecordBatch::try_new(schema.clone(), cols)
    }
}

fn props() -> WriterProperties {
    // zstd: the workspace already builds the zstd crate (case files), so it adds no C library
    // to the build; and DuckDB, Spark, Trino and Athena all read it, at better ratios than
    // snappy on CloudTrail's repetitive text.
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).expect("3 is a valid zstd level")))
        .set_max_row_group_size(ROW_GROUP_ROWS)
        .set_created_by(format!("trailscope {}", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Write the store's events under `dir` as `account=<recipientAccountId>/region=<awsRegion>/
/// date=<YYYY-MM-DD>/part-<n>.parquet`.
///
/// `dir` must not exist or be empty: exports are never mixed. Files are written in parallel on
/// `threads` threads (0: one per core), one file per thread at a time; per event only a row number is held beyond
/// the batches being converted.
///
/// # Errors
/// When `dir` is not empty, or a file cannot be written.
pub fn export_parquet(store: &Store, dir: &Path, threads: usize) -> Result<ExportSummary, ExportError> {
    if dir.exists() {
        let mut entries = std::fs::read_dir(dir).map_err(|e| ExportError::io(dir, e))?;
        if entries.next().is_some() {
            return Err(ExportError::NotEmpty(dir.to_path_buf()));
        }
    }
    write_partitions(store, dir, "", threads)
}

/// Add the store's events to the partitions under `dir`, in files named `<prefix>part-<n>.parquet`
/// (several stores, e.g. several case files, go into one export under different prefixes).
///
/// # Errors
/// When a file cannot be written.
pub fn write_partitions(store: &Store, dir: &Path, prefix: &str, threads: usize) -> Result<ExportSummary, ExportError> {
    // Rows per partition, in time order (the store's order).
    let mut parts: BTreeMap<(String, String, String), Vec<u32>> = BTreeMap::new();
    let accounts = store.column(Field::RecipientAccount);
    let regions = store.column(Field::AwsRegion);
    let mut names: BTreeMap<(u32, u32, i64), (String, String, String)> = BTreeMap::new();
    for (row, &t) in store.times().iter().enumerate() {
        let (a, r) = (accounts.get(row), regions.get(row));
        let day = t.div_euclid(86_400_000);
        let key = names.entry((a.0, r.0, day)).or_insert_with(|| {
            (
                partition_value(store.dict(Field::RecipientAccount).resolve(a)),
                partition_value(store.dict(Field::AwsRegion).resolve(r)),
                day_of(t),
            )
        });
        parts.entry(key.clone()).or_default().push(row as u32);
    }
    let schema = schema();
    let mut summary = ExportSummary { partitions: parts.len(), ..Default::default() };
    // Every file is independent: written in parallel, each by one thread from its own rows,
    // so the bytes do not depend on the number of threads. Each thread holds one file's
    // current row group and batch, so memory grows with threads, not with the export.
    let mut files: Vec<(PathBuf, &[u32])> = Vec::new();
    for ((account, region, date), rows) in &parts {
        let pdir = dir.join(format!("account={account}")).join(format!("region={region}")).join(format!("date={date}"));
        std::fs::create_dir_all(&pdir).map_err(|e| ExportError::io(&pdir, e))?;
        for (n, file_rows) in rows.chunks(FILE_ROWS).enumerate() {
            files.push((pdir.join(format!("{prefix}part-{n}.parquet")), file_rows));
        }
        summary.events += rows.len();
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| ExportError::Threads(e.to_string()))?;
    // Files are taken in the order of their first event, each thread taking the next one
    // free: threads then read neighbouring stretches of the store, so a case file's payload
    // blocks are decompressed about once per day rather than once per partition (the block
    // cache holds a day or so; see `Store::payload_stretches`).
    let mut order: Vec<usize> = (0..files.len()).collect();
    order.sort_by_key(|&i| files[i].1.first().copied());
    let mut sizes: Vec<(usize, Result<u64, ExportError>)> = pool.install(|| {
        order.iter().par_bridge().map(|&i| (i, write_file(store, &files[i].0, files[i].1, &schema))).collect()
    });
    sizes.sort_by_key(|(i, _)| *i);
    for (_, size) in sizes {
        summary.bytes += size?;
        summary.files += 1;
    }
    Ok(summary)
}

fn write_file(store: &Store, path: &PathBuf, rows: &[u32], schema: &SchemaRef) -> Result<u64, ExportError> {
    let file = File::create(path).map_err(|e| ExportError::io(path, e))?;
    let mut w = ArrowWriter::try_new(file, schema.clone(), Some(props()))
        .map_err(|e| ExportError::Parquet(path.clone(), e.to_string()))?;
    let mut cols = Columns::new();
    for batch in rows.chunks(BATCH_ROWS) {
        for &row in batch {
            cols.push(store, row as usize);
        }
        let rb = cols.finish(schema).map_err(|e| ExportError::Parquet(path.clone(), e.to_string()))?;
        w.write(&rb).map_err(|e| ExportError::Parquet(path.clone(), e.to_string()))?;
    }
    w.close().map_err(|e| ExportError::Parquet(path.clone(), e.to_string()))?;
    Ok(std::fs::metadata(path).map_err(|e| ExportError::io(path, e))?.len())
}

/// The keys of a JSON object.
#[cfg(test)]
fn keys(v: &str) -> Vec<String> {
    serde_json::from_str::<serde_json::Map<String, Value>>(v).map(|m| m.keys().cloned().collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::cast::AsArray;
    use arrow_array::Array;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use trailscope_store::{ChunkBuilder, RowValues, SourceFile, StoreBuilder};

    fn store() -> Store {
        let mut c = ChunkBuilder::new();
        let payloads: [&[u8]; 2] = [
            br#"{"userIdentity":{"sessionContext":{"attributes":{"mfaAuthenticated":"true"}}},"requestParameters":{"userName":"bob"},"insightDetails":{"x":1}}"#,
            br#"{"resources":[{"ARN":"arn:aws:s3:::b"}]}"#,
        ];
        for (i, p) in payloads.iter().enumerate() {
            let mut r =
                RowValues { time_ms: 1_709_294_400_000 + i as i64 * 86_400_000, payload: p, ..Default::default() };
            r.strings[Field::EventName.index()] = Some("CreateAccessKey");
            r.strings[Field::EventId.index()] = Some(if i == 0 { "e-0" } else { "e-1" });
            r.strings[Field::RecipientAccount.index()] = Some("111122223333");
            r.strings[Field::AwsRegion.index()] = Some("us-east-1");
            r.strings[Field::PrincipalArn.index()] = Some("arn:aws:iam::111122223333:user/alice");
            c.push(&r).unwrap();
        }
        let mut b = StoreBuilder::new();
        let src = b.add_source(SourceFile { path: "logs/a.json".into(), size: 0, sha256: String::new() });
        b.add_chunk(src, c);
        b.finish()
    }

    #[test]
    fn partitions_by_account_region_and_day_and_splits_nested_objects() {
        let dir = tempfile::tempdir().unwrap();
        let s = store();
        let sum = export_parquet(&s, dir.path(), 0).unwrap();
        assert_eq!((sum.events, sum.partitions, sum.files), (2, 2, 2));
        let f = dir.path().join("account=111122223333/region=us-east-1/date=2024-03-01/part-0.parquet");
        let b = ParquetRecordBatchReaderBuilder::try_new(File::open(&f).unwrap()).unwrap();
        assert_eq!(b.metadata().file_metadata().num_rows(), 1);
        let batch = b.build().unwrap().next().unwrap().unwrap();
        let text = |name: &str| batch.column_by_name(name).unwrap().as_string::<i32>().value(0).to_owned();
        assert_eq!(text("eventID"), "e-0");
        assert_eq!(text("userIdentity_arn"), "arn:aws:iam::111122223333:user/alice");
        assert_eq!(text("requestParameters"), r#"{"userName":"bob"}"#);
        assert_eq!(keys(&text("userIdentityRest")), vec!["sessionContext"]);
        assert_eq!(text("otherFields"), r#"{"insightDetails":{"x":1}}"#);
        assert_eq!(text("sourceFile"), "logs/a.json");
        assert!(batch.column_by_name("resources").unwrap().is_null(0));
        assert!(export_parquet(&s, dir.path(), 1).is_err(), "a second export into the same directory is refused");
    }

    #[test]
    fn one_thread_and_several_write_the_same_bytes() {
        let mut c = ChunkBuilder::new();
        let regions = ["us-east-1", "eu-west-1", "ap-south-1"];
        let ids: Vec<String> = (0..3000).map(|i| format!("e-{i}")).collect();
        let payloads: Vec<String> = (0..3000)
            .map(|i| format!(r#"{{"requestParameters":{{"bucketName":"b{}","key":"k{i}"}}}}"#, i % 7))
            .collect();
        for i in 0..3000 {
            let mut r = RowValues {
                time_ms: 1_709_294_400_000 + i as i64 * 97_000,
                payload: payloads[i].as_bytes(),
                ..Default::default()
            };
            r.strings[Field::EventName.index()] = Some("GetObject");
            r.strings[Field::EventId.index()] = Some(&ids[i]);
            r.strings[Field::RecipientAccount.index()] = Some("111122223333");
            r.strings[Field::AwsRegion.index()] = Some(regions[i % 3]);
            c.push(&r).unwrap();
        }
        let mut b = StoreBuilder::new();
        let src = b.add_source(SourceFile { path: "logs/a.json".into(), size: 0, sha256: String::new() });
        b.add_chunk(src, c);
        let s = b.finish();
        let export = |threads: usize| {
            let dir = tempfile::tempdir().unwrap();
            let sum = export_parquet(&s, dir.path(), threads).unwrap();
            (sum, trailscope_testkit::files_under(dir.path()))
        };
        let (one, one_files) = export(1);
        let (four, four_files) = export(4);
        assert_eq!(one.events, 3000);
        assert!(one.partitions >= 6, "several partitions to share out ({})", one.partitions);
        assert_eq!(one, four);
        assert_eq!(one_files.len(), one.files);
        assert!(one_files == four_files, "the files differ between 1 and 4 threads");
    }

    #[test]
    fn partition_values_are_path_safe() {
        assert_eq!(partition_value(Some("us-east-1")), "us-east-1");
        assert_eq!(partition_value(Some("a/b")), "a%2Fb");
        assert_eq!(partition_value(None), "__HIVE_DEFAULT_PARTITION__");
        assert_eq!(day_of(0), "1970-01-01");
    }
}
