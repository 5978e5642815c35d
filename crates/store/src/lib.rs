//! # trailscope-store
//!
//! The columnar, in-memory store of CloudTrail events that every later stage reads. It owns the
//! layout and nothing about where events came from or what they mean.
//!
//! * [`Dict`] interns strings; a [`Sym`] is a `u32` id, with [`Sym::NULL`] for absent fields.
//! * Each [`Field`] (eventName, principal ARN, access key id, source IP, ...) is a column of
//!   `Sym`s with its own dictionary, so filters compare integers; a column takes one, two or
//!   four bytes a row as its dictionary needs ([`SymColumn`]).
//! * Each [`Flag`] (readOnly, managementEvent, MFA) is a tri-state byte column.
//! * `eventTime` is an `i64` column of epoch milliseconds (UTC).
//! * Every other field (requestParameters, responseElements, resources, ...) is kept as a
//!   minified JSON *payload* per event and read by dotted path on demand with
//!   [`Store::get_path`].
//! * Rows are sorted by `(eventTime, source file, record index)`: the order is total and does not
//!   depend on how many threads built the store.
//!
//! Build with [`ChunkBuilder`] (one per input file) and [`StoreBuilder`]; read with [`Store`]
//! and its borrowed row view [`Event`]. [`Store::save_case`] keeps a store as one case file and
//! [`CaseFile::open`] maps it back, checked, with the columns rules read in place and the rest
//! (payloads, the `eventID`/`requestID`/`sharedEventID` dictionaries) in zstd blocks
//! decompressed on first use (module `case`).
//!
//! ```
//! use trailscope_store::{ChunkBuilder, Field, RowValues, SourceFile, StoreBuilder};
//!
//! let mut chunk = ChunkBuilder::new();
//! let mut row = RowValues::default();
//! row.time_ms = 1_700_000_000_000;
//! row.strings[Field::EventName.index()] = Some("GetCallerIdentity");
//! row.strings[Field::EventId.index()] = Some("e-1");
//! row.payload = br#"{"requestParameters":null}"#;
//! chunk.push(&row).unwrap();
//!
//! let mut builder = StoreBuilder::new();
//! let src = builder.add_source(SourceFile { path: "a.json".into(), size: 1, sha256: String::new() });
//! builder.add_chunk(src, chunk);
//! let store = builder.finish();
//! assert_eq!(store.event(0).str(Field::EventName), Some("GetCallerIdentity"));
//! ```
#![deny(missing_docs)]

mod builder;
mod case;
mod cold;
mod column;
mod conflict;
mod dict;
mod ids;
mod payload;
mod provenance;
mod schema;
mod segment;
mod select;

pub use builder::{ChunkBuilder, ChunkFull, MergeStats, RowValues, StoreBuilder, WorkerState};
pub use case::{is_case_file, CaseError, CaseErrorKind, CaseFile, CaseTemporaries, FORMAT_VERSION, MAGIC};
use column::Column;
pub use conflict::{Conflict, Conflicts, ADDENDUM, MAX_CONFLICTS};
pub use dict::{Dict, Sym};
use ids::Ids;
pub use ids::SymColumn;
use payload::Payloads;
pub use payload::{Payload, DEFAULT_CACHE_BYTES as DEFAULT_PAYLOAD_CACHE_BYTES};
pub use provenance::{RecordRef, SourceFile, SourceId};
pub use schema::{flag_code, flag_value, Field, Flag};
pub use segment::{merge_segments, merge_segments_streaming, MergeSummary};
pub use select::Selection;

use serde_json::{Map, Value};

/// Location of one event's payload: a byte range in one of the payload buffers of a store built
/// by an ingest (a case file needs none: a row's payload block follows from its row number).
///
/// `repr(C)` (three `u32`s, no padding): a plain-data column like the others (`Column` holds `Pod`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct PayloadRef {
    chunk: u32,
    start: u32,
    end: u32,
}

// SAFETY: `repr(C)` of three `u32`: no padding, every bit pattern valid.
unsafe impl bytemuck::Zeroable for PayloadRef {}
// SAFETY: as above.
unsafe impl bytemuck::Pod for PayloadRef {}

/// The immutable event store. See the crate docs for the layout.
///
/// Built by [`StoreBuilder`] its storage is owned; opened from a case file
/// ([`CaseFile::open`]) its columns and dictionaries are read in place from the mapping, and its
/// payload blocks and cold dictionaries decompressed from it on first use.
#[derive(Debug)]
pub struct Store {
    times: Column<i64>,
    syms: Vec<Ids>,
    flags: Vec<Column<u8>>,
    refs: Column<RecordRef>,
    dicts: Vec<Dict>,
    payloads: Payloads,
    sources: Vec<SourceFile>,
}

/// Resident memory of a store, by part.
#[derive(Debug, Clone, Copy, Default)]
pub struct MemoryUse {
    /// Fixed-width columns: times, symbol ids, flags, provenance, payload locations.
    pub columns: usize,
    /// Dictionaries (strings, offsets, hash index).
    pub dictionaries: usize,
    /// Minified JSON payloads: as built, or compressed as mapped from a case file.
    pub payloads: usize,
    /// Payload blocks of a case file held decompressed now (a bounded cache).
    pub payload_cache: usize,
    /// Payload blocks decompressed so far; a block let go by the cache and read again counts
    /// again (how much the cache's limit costs in decompression).
    pub payload_blocks_decompressed: u64,
    /// The payload block cache's limit ([`Store::limit_payload_cache`]); `None` for a store
    /// built by an ingest, whose payloads are all in memory.
    pub payload_cache_limit: Option<usize>,
}

impl MemoryUse {
    /// Sum of the parts.
    pub fn total(&self) -> usize {
        self.columns + self.dictionaries + self.payloads + self.payload_cache
    }
}

impl Store {
    /// Number of events.
    pub fn len(&self) -> usize {
        self.times.len()
    }

    /// True when the store holds no event.
    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }

    /// The `eventTime` column (epoch ms, ascending).
    pub fn times(&self) -> &[i64] {
        &self.times
    }

    /// A string column (one, two or four bytes a row, as its dictionary needs).
    pub fn column(&self, field: Field) -> SymColumn<'_> {
        self.syms[field.index()].view()
    }

    /// A string column's dictionary.
    pub fn dict(&self, field: Field) -> &Dict {
        &self.dicts[field.index()]
    }

    /// A flag column (codes as in [`flag_code`]).
    pub fn flags(&self, flag: Flag) -> &[u8] {
        &self.flags[flag.index()]
    }

    /// The evidence files, indexed by [`SourceId`].
    pub fn sources(&self) -> &[SourceFile] {
        &self.sources
    }

    /// Origin of a row.
    pub fn record_ref(&self, row: usize) -> RecordRef {
        self.refs[row]
    }

    /// A row view.
    pub fn event(&self, row: usize) -> Event<'_> {
        Event { store: self, row }
    }

    /// All rows in time order.
    pub fn events(&self) -> impl Iterator<Item = Event<'_>> + '_ {
        (0..self.len()).map(|row| self.event(row))
    }

    /// The minified JSON payload (fields not held in columns) of a row.
    ///
    /// From a case file, reading a row decompresses its block unless the block cache holds it
    /// (see [`Store::limit_payload_cache`]). A block found damaged then reads as empty payloads
    /// (`{}`) and is reported by [`Store::damage`].
    pub fn payload(&self, row: usize) -> Payload<'_> {
        match &self.payloads {
            Payloads::Chunks { chunks, refs } => {
                let p = refs[row];
                Payload::borrowed(&chunks[p.chunk as usize][p.start as usize..p.end as usize])
            }
            Payloads::Blocks(blocks) => blocks.payload(row),
        }
    }

    /// The rows in consecutive stretches such that reading every payload of one stretch, as
    /// many times as wanted, decompresses each of its blocks once: the whole store when its
    /// payloads are in memory, stretches of about half the payload cache from a case file. Rules
    /// run stretch by stretch so that a hunt over a case larger than memory decompresses each
    /// block about once whatever the number of rules reading payloads.
    pub fn payload_stretches(&self) -> Vec<std::ops::Range<usize>> {
        match &self.payloads {
            Payloads::Blocks(blocks) if !self.is_empty() => blocks.stretches(),
            _ => std::iter::once(0..self.len()).collect(),
        }
    }

    /// Keep at most about `bytes` of decompressed payload blocks of a case file in memory
    /// (default [`DEFAULT_PAYLOAD_CACHE_BYTES`]); the block a thread has just decompressed is
    /// always kept, and a block let go stays readable to whoever holds a [`Payload`] of it (it is
    /// then no longer counted). No effect on a store built by an ingest, whose payloads are all in
    /// memory anyway.
    pub fn limit_payload_cache(&self, bytes: usize) {
        if let Payloads::Blocks(blocks) = &self.payloads {
            blocks.set_cache_limit(bytes);
        }
    }

    /// The first damaged payload block met so far, as a message naming the case file and the
    /// block. Opening a case checks every block's compressed bytes against its checksum, so this
    /// only reports a file changed while open or a writer's bug; a command that read payloads
    /// checks it before trusting its answer.
    pub fn damage(&self) -> Option<&str> {
        match &self.payloads {
            Payloads::Chunks { .. } => None,
            Payloads::Blocks(b) => b.damage.get().map(String::as_str),
        }
    }

    /// The value at a dotted path (`requestParameters.bucketName`, `userIdentity.arn`,
    /// `resources.0.ARN`), whether a column or the payload holds it.
    pub fn get_path(&self, row: usize, path: &str) -> Option<Value> {
        self.event(row).fields().get(path)
    }

    /// The value of a column or flag path, without touching the payload.
    fn column_value(&self, row: usize, path: &str) -> Option<Value> {
        if let Some(field) = Field::from_path(path) {
            if let Some(s) = self.dicts[field.index()].resolve(self.syms[field.index()].view().get(row)) {
                return Some(Value::String(s.to_owned()));
            }
        }
        if let Some(flag) = Flag::column_only(path) {
            return flag_value(self.flags[flag.index()][row]).map(Value::Bool);
        }
        None
    }

    /// True when the store was opened from a case file (its storage is a read-only mapping).
    pub fn is_mapped(&self) -> bool {
        self.times.is_mapped()
    }

    /// Resident memory by part (for an opened case file: the size of the mapped parts, which
    /// the page cache holds rather than the process heap).
    pub fn memory_use(&self) -> MemoryUse {
        let n = self.len();
        let ids: usize = self.syms.iter().map(Ids::held).sum();
        let mut columns = ids + n * (8 + self.flags.len() + std::mem::size_of::<RecordRef>());
        let (payloads, payload_cache, payload_blocks_decompressed, payload_cache_limit) = match &self.payloads {
            Payloads::Chunks { chunks, refs } => {
                columns += std::mem::size_of_val::<[PayloadRef]>(refs);
                (chunks.iter().map(|p| p.len()).sum(), 0, 0, None)
            }
            Payloads::Blocks(b) => {
                let (mapped, held, decoded) = b.sizes();
                (mapped, held, decoded, Some(b.cache_limit()))
            }
        };
        MemoryUse {
            columns,
            dictionaries: self.dicts.iter().map(Dict::heap_bytes).sum(),
            payloads,
            payload_cache,
            payload_blocks_decompressed,
            payload_cache_limit,
        }
    }
}

/// Walk a dotted path through objects (by key) and arrays (by decimal index).
pub fn lookup_path<'v>(mut v: &'v Value, path: &str) -> Option<&'v Value> {
    for part in path.split('.') {
        v = match v {
            Value::Object(m) => m.get(part)?,
            Value::Array(a) => a.get(part.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(v)
}

/// A borrowed view of one stored event.
#[derive(Copy, Clone)]
pub struct Event<'a> {
    store: &'a Store,
    row: usize,
}

impl std::fmt::Debug for Event<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Event")
            .field("row", &self.row)
            .field("time_ms", &self.time_ms())
            .field("eventName", &self.str(Field::EventName))
            .finish()
    }
}

impl<'a> Event<'a> {
    /// Row number in the store.
    pub fn row(&self) -> usize {
        self.row
    }

    /// `eventTime` as epoch milliseconds (UTC).
    pub fn time_ms(&self) -> i64 {
        self.store.times[self.row]
    }

    /// The id of a string field.
    pub fn sym(&self, field: Field) -> Sym {
        self.store.syms[field.index()].view().get(self.row)
    }

    /// The string of a field, `None` when absent or null.
    pub fn str(&self, field: Field) -> Option<&'a str> {
        self.store.dicts[field.index()].resolve(self.sym(field))
    }

    /// A flag, `None` when absent.
    pub fn flag(&self, flag: Flag) -> Option<bool> {
        flag_value(self.store.flags[flag.index()][self.row])
    }

    /// Where the event came from.
    pub fn source(&self) -> (&'a SourceFile, u32) {
        let r = self.store.refs[self.row];
        (&self.store.sources[r.source.0 as usize], r.index)
    }

    /// The value at a dotted path; see [`Store::get_path`].
    pub fn get(&self, path: &str) -> Option<Value> {
        self.fields().get(path)
    }

    /// The value at a dotted path as a string (`None` for absent, null, objects and arrays).
    pub fn get_str(&self, path: &str) -> Option<String> {
        self.fields().get_str(path)
    }

    /// Path lookups that parse the payload at most once, for several lookups on one event.
    pub fn fields(&self) -> Fields<'a> {
        Fields { event: *self, payload: std::cell::OnceCell::new() }
    }

    /// An object whose keys are split between columns and the payload (`userIdentity`,
    /// `tlsDetails`), put back together; the payload part is taken out of `payload`.
    fn merged_object(&self, payload: &mut Map<String, Value>, key: &str, columns: &[(&str, Field)]) -> Option<Value> {
        let mut obj = Map::new();
        for (k, field) in columns {
            if let Some(s) = self.str(*field) {
                obj.insert((*k).into(), Value::String(s.into()));
            }
        }
        match payload.remove(key) {
            Some(Value::Object(rest)) => {
                obj.extend(rest);
                Some(Value::Object(obj))
            }
            Some(other) if obj.is_empty() => Some(other),
            _ if obj.is_empty() => None,
            _ => Some(Value::Object(obj)),
        }
    }

    /// The whole record as JSON, rebuilt from columns and payload, keys in CloudTrail's usual
    /// order (unknown keys after the known ones, as they came).
    pub fn to_json(&self) -> Value {
        let mut payload = match serde_json::from_slice::<Value>(&self.store.payload(self.row)) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        };
        let identity_value = self.merged_object(&mut payload, "userIdentity", &IDENTITY_KEYS);
        let tls_value = self.merged_object(&mut payload, "tlsDetails", &TLS_KEYS);
        let mut record = Map::new();
        let col = |f: Field| self.str(f).map(|s| Value::String(s.to_owned()));
        let flag = |f: Flag| self.flag(f).map(Value::Bool);
        let order: [(&str, Option<Value>); 24] = [
            ("eventVersion", col(Field::EventVersion)),
            ("userIdentity", identity_value),
            ("eventTime", Some(Value::String(chrono_free_iso(self.time_ms())))),
            ("eventSource", col(Field::EventSource)),
            ("eventName", col(Field::EventName)),
            ("awsRegion", col(Field::AwsRegion)),
            ("sourceIPAddress", col(Field::SourceIp)),
            ("userAgent", col(Field::UserAgent)),
            ("errorCode", col(Field::ErrorCode)),
            ("errorMessage", col(Field::ErrorMessage)),
            ("requestParameters", payload.remove("requestParameters")),
            ("responseElements", payload.remove("responseElements")),
            ("additionalEventData", payload.remove("additionalEventData")),
            ("requestID", col(Field::RequestId)),
            ("eventID", col(Field::EventId)),
            ("readOnly", flag(Flag::ReadOnly)),
            ("resources", payload.remove("resources")),
            ("eventType", col(Field::EventType)),
            ("managementEvent", flag(Flag::ManagementEvent)),
            ("recipientAccountId", col(Field::RecipientAccount)),
            ("sharedEventID", col(Field::SharedEventId)),
            ("vpcEndpointId", col(Field::VpcEndpointId)),
            ("eventCategory", col(Field::EventCategory)),
            ("tlsDetails", tls_value),
        ];
        for (k, v) in order {
            if let Some(v) = v {
                record.insert(k.into(), v);
            }
        }
        // Columns that held a non-string value kept it in the payload, typed as it came (the
        // column holds its text): the payload's value wins, in place. Anything else follows.
        for (k, v) in payload {
            record.insert(k, v);
        }
        Value::Object(record)
    }
}

/// Is `path` an object whose keys are split between columns and the payload (`userIdentity`,
/// `tlsDetails`)? [`Store::get_path`] answers such paths with the whole object put back together.
pub fn is_split_object(path: &str) -> bool {
    matches!(path, "userIdentity" | "tlsDetails")
}

/// Keys of `userIdentity` held in columns, in CloudTrail's order (the rest of the object is
/// payload).
pub const IDENTITY_KEYS: [(&str, Field); 7] = [
    ("type", Field::IdentityType),
    ("principalId", Field::PrincipalId),
    ("arn", Field::PrincipalArn),
    ("accountId", Field::IdentityAccount),
    ("accessKeyId", Field::AccessKeyId),
    ("userName", Field::UserName),
    ("invokedBy", Field::InvokedBy),
];

/// Keys of `tlsDetails` held in columns.
pub const TLS_KEYS: [(&str, Field); 3] = [
    ("tlsVersion", Field::TlsVersion),
    ("cipherSuite", Field::CipherSuite),
    ("clientProvidedHostHeader", Field::TlsHost),
];

/// Several path lookups on one event; the payload is parsed on the first lookup that needs it.
pub struct Fields<'a> {
    event: Event<'a>,
    payload: std::cell::OnceCell<Value>,
}

impl Fields<'_> {
    fn payload_value(&self) -> &Value {
        let store = self.event.store;
        self.payload.get_or_init(|| serde_json::from_slice(&store.payload(self.event.row)).unwrap_or(Value::Null))
    }

    /// The value at a dotted path (column first, then payload).
    pub fn get(&self, path: &str) -> Option<Value> {
        let store = self.event.store;
        if let Some(v) = store.column_value(self.event.row, path) {
            return Some(v);
        }
        // Objects split between columns and payload are answered whole.
        let split = [("userIdentity", &IDENTITY_KEYS[..]), ("tlsDetails", &TLS_KEYS[..])];
        if let Some((key, columns)) = split.iter().find(|(k, _)| *k == path) {
            let mut payload = match self.payload_value() {
                Value::Object(m) => m.clone(),
                _ => Map::new(),
            };
            return self.event.merged_object(&mut payload, key, columns);
        }
        lookup_path(self.payload_value(), path).cloned()
    }

    /// The value as a string (`None` for absent, null, objects and arrays).
    pub fn get_str(&self, path: &str) -> Option<String> {
        match self.get(path)? {
            Value::String(s) => Some(s),
            Value::Bool(b) => Some(b.to_string()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }
}

/// Format epoch milliseconds as `YYYY-MM-DDTHH:MM:SSZ` (with `.mmm` when not whole seconds).
///
/// Kept here, without a date library, so that the store stays dependency-light.
pub fn chrono_free_iso(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let milli = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let (hh, mm, ss) = (sod / 3600, sod % 3600 / 60, sod % 60);
    if milli == 0 {
        format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z")
    } else {
        format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.{milli:03}Z")
    }
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A proleptic Gregorian date to days since 1970-01-01 (inverse of [`civil_from_days`]).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row<'a>(t: i64, name: &'a str, id: &'a str, acct: &'a str, payload: &'a [u8], index: u32) -> RowValues<'a> {
        let mut r = RowValues { time_ms: t, payload, index, ..Default::default() };
        r.strings[Field::EventName.index()] = Some(name);
        r.strings[Field::EventId.index()] = Some(id);
        r.strings[Field::RecipientAccount.index()] = Some(acct);
        r
    }

    fn store_of(chunks: Vec<Vec<RowValues<'_>>>) -> (Store, Vec<MergeStats>) {
        let mut b = StoreBuilder::new();
        let mut stats = vec![];
        for (i, rows) in chunks.into_iter().enumerate() {
            let mut c = ChunkBuilder::new();
            rows.iter().for_each(|r| c.push(r).unwrap());
            let id = b.add_source(SourceFile { path: format!("f{i}"), size: 0, sha256: String::new() });
            stats.push(b.add_chunk(id, c));
        }
        (b.finish(), stats)
    }

    #[test]
    fn sorted_by_time_then_source_then_index_and_duplicates_dropped() {
        let p = br#"{"requestParameters":{"bucketName":"b1","list":[{"k":"v"}]}}"#;
        let (store, stats) = store_of(vec![
            vec![row(2000, "B", "e2", "111", p, 0), row(1000, "A", "e1", "111", b"{}", 1)],
            vec![
                row(2000, "C", "e3", "111", b"{}", 0),
                row(1000, "A", "e1", "111", b"{}", 1),
                row(1000, "A", "e1", "222", b"{}", 2),
            ],
        ]);
        assert_eq!(stats[0], MergeStats { stored: 2, duplicates: 0, conflicts: 0 });
        assert_eq!(stats[1], MergeStats { stored: 2, duplicates: 1, conflicts: 0 });
        let names: Vec<_> = store.events().map(|e| e.str(Field::EventName).unwrap()).collect();
        assert_eq!(names, ["A", "A", "B", "C"]);
        let b = store.event(2);
        assert_eq!(b.get_str("requestParameters.bucketName").as_deref(), Some("b1"));
        assert_eq!(b.get_str("requestParameters.list.0.k").as_deref(), Some("v"));
        assert_eq!(b.get_str("eventName").as_deref(), Some("B"));
        assert_eq!(b.get("requestParameters.missing"), None);
        assert_eq!(b.source().0.path, "f0");
        assert_eq!(b.get("userIdentity"), None, "no identity at all stays absent");
        let json = b.to_json();
        assert_eq!(json["eventTime"], "1970-01-01T00:00:02Z");
        assert_eq!(json["requestParameters"]["bucketName"], "b1");
        assert!(store.memory_use().total() > 0);
    }

    #[test]
    fn civil_dates_round_trip() {
        for days in [-800_000, -1, 0, 1, 11_016, 19_782, 20_000, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(chrono_free_iso(1_709_296_496_000), "2024-03-01T12:34:56Z");
        assert_eq!(chrono_free_iso(1_709_296_496_123), "2024-03-01T12:34:56.123Z");
    }
}
