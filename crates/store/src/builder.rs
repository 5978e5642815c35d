//! Building a [`Store`]: one [`ChunkBuilder`] per input file, merged in a fixed order.

use ahash::{AHashMap, AHashSet};
use rayon::prelude::*;

use crate::column::Column;
use crate::conflict::{self, Conflict, Conflicts};
use crate::dict::{Dict, Sym};
use crate::ids::Ids;
use crate::payload::Payloads;
use crate::provenance::{RecordRef, SourceFile, SourceId};
use crate::schema::{flag_code, Field, Flag};
use crate::{PayloadRef, Store};

/// The values of one record, borrowed from the parser's buffers.
#[derive(Default, Debug)]
pub struct RowValues<'a> {
    /// `eventTime` in milliseconds since the Unix epoch (UTC).
    pub time_ms: i64,
    /// One entry per [`Field`], in [`Field::ALL`] order; `None` when absent, null or not a string.
    pub strings: [Option<&'a str>; Field::COUNT],
    /// One entry per [`Flag`].
    pub flags: [Option<bool>; Flag::ALL.len()],
    /// Minified JSON object with every field no column holds.
    pub payload: &'a [u8],
    /// Position of the record in its file.
    pub index: u32,
    /// Bit `Field::index()` set: that column's value was not a string (a number, boolean,
    /// object or array) and went to the payload as it was; the column gets its JSON text, so
    /// rules and filters answer the same whatever the value's type.
    pub spilled: u32,
}

impl RowValues<'_> {
    /// Reset for reuse.
    pub fn clear(&mut self) {
        self.time_ms = 0;
        self.strings = [None; Field::COUNT];
        self.flags = [None; Flag::ALL.len()];
        self.payload = &[];
        self.index = 0;
        self.spilled = 0;
    }
}

/// Columns whose values are stored per chunk, without a dictionary index: `eventID` (settled
/// against the store-wide dictionary at merge time, for de-duplication) and the unique columns.
#[inline]
fn per_chunk(col: usize) -> bool {
    col == Field::EventId.index() || Field::ALL[col].is_unique()
}

const FLAGS: usize = Flag::ALL.len();

/// What a worker thread keeps from file to file: the dictionaries it interns into, and a
/// payload buffer.
///
/// Real dumps hold many tiny files whose values repeat from file to file (the same callers,
/// services, regions): per-file dictionaries cost an allocation per column per file and one
/// store-wide hash look-up per distinct value per file. A worker's dictionaries pay for each
/// value once per worker; the chunks carry the strings their worker's dictionaries gained
/// with them ([`ChunkBuilder::seal`]), which the merger learns ([`StoreBuilder::learn`]).
#[derive(Debug, Default)]
pub struct WorkerState {
    /// One per column (none until first used); the per-chunk columns' stay empty.
    dicts: Vec<Dict>,
    /// Per column: ids below this were handed to the merger with an earlier chunk.
    sent: [u32; Field::COUNT],
    /// Payloads are written here and copied once, at their exact size, when the chunk is
    /// sealed: no growth by doubling (copies, fresh pages) and no shrinking afterwards.
    payload: Vec<u8>,
}

impl WorkerState {
    fn ready(&mut self) -> &mut [Dict] {
        if self.dicts.is_empty() {
            self.dicts = (0..Field::COUNT).map(|_| Dict::new()).collect();
            self.sent = [1; Field::COUNT];
        }
        &mut self.dicts
    }
}

/// Room for `more` values in a store-wide column under construction, growing it fourfold rather
/// than twofold: each growth copies everything so far (and faults in fresh pages for it), while
/// capacity never written costs no memory, and these vectors are freed once `finish` has sorted.
fn grow<T>(v: &mut Vec<T>, more: usize) {
    if v.capacity() - v.len() < more {
        v.reserve(more.max(v.len() * 3));
    }
}

/// No delivery of this `eventID` yet (never a dictionary id: ids stay below `u32::MAX`).
const UNSEEN: Sym = Sym(u32::MAX);

/// The first delivery of an `eventID` was not stored (a filtered scan passed over it): there is
/// no kept row to compare a later copy with.
const NO_ROW: u32 = u32::MAX;

/// Why a record does not fit in its file's chunk. The chunk is unchanged; the file as a whole
/// is rejected (its other records would be a silently incomplete file).
///
/// One file's content is at most 4 GiB (`--max-file-size`), but what the chunk holds can grow
/// past it: numbers are written back in their shortest exact form (`1E15`, 4 bytes, becomes
/// `1000000000000000.0`), and a column value that is not a string is kept in the payload and,
/// as text, in its column. Offsets within a chunk are `u32` (a payload's are part of the case
/// file format), so a chunk holds at most 4 GiB of payload and 4 GiB of each per-file column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChunkFull {
    /// The payloads (the fields no column holds, minified) pass the limit.
    #[error("payload of this file passes {}", size_text(*limit))]
    Payload {
        /// The limit in bytes (4 GiB, or [`ChunkBuilder::with_limit`]'s).
        limit: u64,
    },
    /// The values of a column kept per file without a dictionary (`eventID`, `requestID`) pass
    /// the limit.
    #[error("{column} values of this file pass {}", size_text(*limit))]
    Column {
        /// The column's CloudTrail path.
        column: &'static str,
        /// The limit in bytes.
        limit: u64,
    },
}

/// `4 GiB` for the real limit, bytes for a lowered one.
fn size_text(limit: u64) -> String {
    if limit >= u64::from(u32::MAX) {
        "4 GiB".to_owned()
    } else {
        format!("{limit} bytes")
    }
}

/// Offsets of a chunk's string arenas: `u32` for the per-file columns (one per row and value),
/// `u64` for the strings a worker's dictionaries gained with the chunk, which cannot be refused
/// once interned (the merger must learn every one of them, or later chunks' ids would be wrong).
trait End: Copy {
    fn from_len(len: usize) -> Option<Self>;
    fn to_len(self) -> usize;
}

impl End for u32 {
    fn from_len(len: usize) -> Option<Self> {
        u32::try_from(len).ok()
    }
    fn to_len(self) -> usize {
        self as usize
    }
}

impl End for u64 {
    fn from_len(len: usize) -> Option<Self> {
        Some(len as u64)
    }
    fn to_len(self) -> usize {
        self as usize
    }
}

/// Strings one after another, named by position from 1 (no index, no de-duplication).
#[derive(Debug)]
struct Strings<E = u32> {
    bytes: Vec<u8>,
    ends: Vec<E>,
}

impl<E> Default for Strings<E> {
    fn default() -> Self {
        Strings { bytes: Vec::new(), ends: Vec::new() }
    }
}

impl<E: End> Strings<E> {
    /// Would `s` still end within `limit` bytes?
    fn fits(&self, s: &str, limit: usize) -> bool {
        self.bytes.len() + s.len() <= limit && E::from_len(self.bytes.len() + s.len()).is_some()
    }

    /// Append `s`; its id. `None` (nothing appended) when its end cannot be an offset.
    fn push(&mut self, s: &str) -> Option<Sym> {
        let end = E::from_len(self.bytes.len() + s.len())?;
        self.bytes.extend_from_slice(s.as_bytes());
        self.ends.push(end);
        // Ids count rows (or distinct values): each record takes tens of bytes of a file of at
        // most 4 GiB, so they stay far below `u32::MAX`.
        Some(Sym(self.ends.len() as u32))
    }

    fn get(&self, sym: Sym) -> &str {
        let i = sym.index() - 1;
        let start = if i == 0 { 0 } else { self.ends[i - 1].to_len() };
        // SAFETY: only whole `&str`s are pushed, and `ends` marks their ends.
        unsafe { std::str::from_utf8_unchecked(&self.bytes[start..self.ends[i].to_len()]) }
    }

    fn len(&self) -> usize {
        self.ends.len()
    }

    fn clear(&mut self) {
        self.bytes.clear();
        self.ends.clear();
    }
}

/// The per-chunk strings of column `col`.
#[inline]
fn own(own: &mut [(usize, Strings)], col: usize) -> &mut Strings {
    // `own` holds every per-chunk column (`ChunkBuilder::with_dicts`), and only those are asked for.
    &mut own.iter_mut().find(|(c, _)| *c == col).expect("a per-chunk column").1
}

/// Events of one input file.
///
/// Built on a worker thread without any shared state. Its column values are ids of the
/// worker's [`WorkerState`] (or of its own dictionaries, for a chunk made by
/// [`ChunkBuilder::new`]); [`StoreBuilder::add_chunk`] later maps them to the store's ids, one
/// hash look-up per value the worker had not yet seen at merge time.
#[derive(Debug, Default)]
pub struct ChunkBuilder {
    /// The dictionaries values are interned into (taken back by the worker on [`ChunkBuilder::seal`]).
    local: WorkerState,
    /// The worker whose dictionaries the ids refer to; `None`: the chunk's own `local`.
    worker: Option<u32>,
    /// Once sealed: per column, the first id the worker's dictionaries gained with this chunk,
    /// how many they gained, and those strings (column after column).
    new_from: [u32; Field::COUNT],
    new_counts: [u32; Field::COUNT],
    new_strings: Strings<u64>,
    /// Values of the per-chunk columns, unindexed (one id per row and value): `(column, values)`.
    own: Vec<(usize, Strings)>,
    /// Row after row, [`Field::COUNT`] ids per row.
    syms: Vec<Sym>,
    flags: Vec<[u8; FLAGS]>,
    times: Vec<i64>,
    indexes: Vec<u32>,
    payload: Vec<u8>,
    payload_ends: Vec<u32>,
    /// A limit below 4 GiB on the payload and each per-file column ([`ChunkBuilder::with_limit`]).
    lowered: Option<u32>,
    /// Records read but not stored (a filtered scan's "not matching"): their index and the hash
    /// of their `eventID` and `recipientAccountId`, so that a later delivery of the same event
    /// is still a duplicate, as in a full read ([`ChunkBuilder::pass_over`]).
    passed_over: Vec<(u32, u128)>,
}

/// The key of a delivery for de-duplication across records that were not stored.
fn delivery_key(event_id: &str, account: Option<&str>) -> u128 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(event_id.as_bytes());
    h.update(&[0xff]);
    h.update(account.unwrap_or("").as_bytes());
    h.digest128()
}

impl ChunkBuilder {
    /// An empty chunk with dictionaries of its own.
    pub fn new() -> Self {
        Self::with_dicts(WorkerState::default(), None)
    }

    /// An empty chunk interning into `worker`'s dictionaries. The worker takes them back with
    /// [`ChunkBuilder::seal`] before starting its next chunk; the merger must
    /// [`StoreBuilder::learn`] the chunks of one worker in the order they were sealed.
    pub fn with_dicts(mut local: WorkerState, worker: Option<u32>) -> Self {
        let mut payload = std::mem::take(&mut local.payload);
        payload.clear();
        ChunkBuilder {
            local,
            payload,
            worker,
            own: (0..Field::COUNT).filter(|&c| per_chunk(c)).map(|c| (c, Strings::default())).collect(),
            ..Default::default()
        }
    }

    /// Hand the worker's dictionaries back, keeping in the chunk the strings they gained while
    /// it was built. Rows may still be cleared afterwards ([`ChunkBuilder::clear_rows`]): the
    /// strings stay, so the merger's copy of the worker's dictionaries stays complete.
    pub fn seal(&mut self) -> WorkerState {
        let mut local = std::mem::take(&mut self.local);
        for (c, dict) in local.dicts.iter().enumerate() {
            let (from, to) = (local.sent[c], dict.len() as u32);
            self.new_from[c] = from;
            self.new_counts[c] = to - from;
            for id in from..to {
                // u64 offsets: never refused.
                let _ = self.new_strings.push(dict.get(Sym(id)));
            }
            local.sent[c] = to;
        }
        let exact = self.payload.clone();
        local.payload = std::mem::replace(&mut self.payload, exact);
        local
    }

    /// The same chunk, refusing records once its payload or a per-file column passes `bytes`
    /// rather than 4 GiB: lets a test (and `--test-chunk-limit`) cross the limit with a small file.
    pub fn with_limit(mut self, bytes: u32) -> Self {
        self.lowered = Some(bytes);
        self
    }

    fn limit(&self) -> usize {
        self.lowered.unwrap_or(u32::MAX) as usize
    }

    /// Drop every row (a file found unusable after some were pushed).
    pub fn clear_rows(&mut self) {
        self.own.iter_mut().for_each(|(_, s)| s.clear());
        self.syms.clear();
        self.flags.clear();
        self.times.clear();
        self.indexes.clear();
        self.payload.clear();
        self.payload_ends.clear();
        self.passed_over.clear();
    }

    /// Number of rows pushed.
    pub fn len(&self) -> usize {
        self.times.len()
    }

    /// True when no row was pushed.
    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }

    /// Make room for `rows` more records (the parser knows a file's record count up front).
    pub fn reserve(&mut self, rows: usize) {
        self.syms.reserve(rows * Field::COUNT);
        self.flags.reserve(rows);
        self.times.reserve(rows);
        self.indexes.reserve(rows);
        // eventID and requestID: UUIDs, 36 bytes.
        for (_, s) in &mut self.own {
            s.ends.reserve(rows);
            s.bytes.reserve(rows * 36);
        }
        self.payload_ends.reserve(rows);
    }

    /// Add `by` to the record index of rows `from_row..` (records of a later document in a file
    /// holding several).
    pub fn shift_indexes(&mut self, from_row: usize, by: u32) {
        self.indexes[from_row..].iter_mut().for_each(|i| *i += by);
    }

    /// Append one record, or refuse it (the chunk unchanged) when its payload or a per-file
    /// column value would pass the chunk's limit (4 GiB, see [`ChunkFull`]).
    pub fn push(&mut self, row: &RowValues<'_>) -> Result<(), ChunkFull> {
        self.push_row(row, false)
    }

    /// Note a valid record that is not stored (a filtered scan left it out): its delivery
    /// still counts for de-duplication, so a later record with the same `eventID` and account
    /// is a duplicate, as it would be had this one been stored.
    pub fn pass_over(&mut self, index: u32, event_id: Option<&str>, account: Option<&str>) {
        if let Some(id) = event_id {
            self.passed_over.push((index, delivery_key(id, account)));
        }
    }

    /// The payload buffer: a parser may write the next record's payload at its end and push the
    /// record with [`ChunkBuilder::push_written`], which saves copying it.
    pub fn payload_mut(&mut self) -> &mut Vec<u8> {
        &mut self.payload
    }

    /// Append one record whose payload is what was written to the end of
    /// [`ChunkBuilder::payload_mut`] since the previous record (`row.payload` is not read).
    ///
    /// Refused as [`ChunkBuilder::push`] refuses, the written payload then removed.
    pub fn push_written(&mut self, row: &RowValues<'_>) -> Result<(), ChunkFull> {
        self.push_row(row, true)
    }

    fn push_row(&mut self, row: &RowValues<'_>, written: bool) -> Result<(), ChunkFull> {
        // Everything is checked before anything is changed: a refused record leaves no trace.
        let start = self.payload_ends.last().map_or(0, |&e| e as usize);
        let limit = self.limit();
        let payload_end = if written { self.payload.len() } else { self.payload.len() + row.payload.len() };
        if payload_end > limit {
            self.payload.truncate(start);
            return Err(ChunkFull::Payload { limit: limit as u64 });
        }
        // Rare (old or hand-edited records): the text of non-string column values, from the payload.
        let spilled = match row.spilled {
            0 => Vec::new(),
            bits if written => spilled_texts(&self.payload[start..], bits),
            bits => spilled_texts(row.payload, bits),
        };
        let value = |i: usize| match row.strings[i] {
            None => spilled.iter().find(|(f, _)| *f == i).map(|(_, t)| t.as_str()),
            s => s,
        };
        for (c, strings) in &self.own {
            if value(*c).is_some_and(|s| !strings.fits(s, limit)) {
                self.payload.truncate(start);
                return Err(ChunkFull::Column { column: Field::ALL[*c].path(), limit: limit as u64 });
            }
        }
        let dicts = self.local.ready();
        let prev = self.syms.len().checked_sub(Field::COUNT);
        for (i, dict) in dicts.iter_mut().enumerate() {
            let sym = match value(i) {
                // Ids are unique within a file almost always: an index would be wasted work
                // (eventID is de-duplicated against the store-wide dictionary at merge time).
                // Checked above to fit.
                Some(s) if per_chunk(i) => own(&mut self.own, i).push(s).unwrap_or(Sym::NULL),
                Some(s) => {
                    // Neighbouring records often share a value (same caller, service, region):
                    // a compare with the previous row's value is cheaper than a hash probe.
                    match prev.map(|p| self.syms[p + i]) {
                        Some(last) if !last.is_null() && dict.get(last) == s => last,
                        _ => dict.intern(s),
                    }
                }
                None => Sym::NULL,
            };
            self.syms.push(sym);
        }
        self.flags.push(row.flags.map(flag_code));
        self.times.push(row.time_ms);
        self.indexes.push(row.index);
        if !written {
            self.payload.extend_from_slice(row.payload);
        }
        // Within the limit, itself at most `u32::MAX` (checked above).
        self.payload_ends.push(payload_end as u32);
        Ok(())
    }
}

// `RowValues::spilled` has one bit per column.
const _: () = assert!(Field::COUNT <= 32);

/// `(field index, JSON text)` of each spilled column value of a row (bits of
/// [`RowValues::spilled`]), read back from its payload.
fn spilled_texts(payload: &[u8], spilled: u32) -> Vec<(usize, String)> {
    let Ok(payload) = serde_json::from_slice::<serde_json::Value>(payload) else { return Vec::new() };
    Field::ALL
        .iter()
        .filter(|f| spilled & (1 << f.index()) != 0)
        .filter_map(|f| {
            let v = crate::lookup_path(&payload, f.path())?;
            let text = match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Null => return None,
                other => other.to_string(),
            };
            Some((f.index(), text))
        })
        .collect()
}

/// What happened to one chunk's rows when it was merged.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct MergeStats {
    /// Rows kept.
    pub stored: u64,
    /// Rows dropped because an earlier row had the same `eventID` and `recipientAccountId`.
    pub duplicates: u64,
    /// Of the duplicates, those whose content differs from the copy kept (more than by an
    /// `addendum` block): two different records under one event id ([`Conflict`]).
    pub conflicts: u64,
}

/// Merges chunks, removes duplicate deliveries, then sorts into a [`Store`].
///
/// Chunks must be added in a deterministic order (the file order): ids, duplicate choice and
/// the final order then never depend on thread scheduling. A value gets its store-wide id when
/// the first added row holding it is added (rows of duplicates included), whichever worker
/// parsed it.
///
/// [`StoreBuilder::add_chunk`] settles duplicates and maps every column value to its store-wide
/// id at once, so a chunk's rows are held only once; [`StoreBuilder::finish`] sorts.
#[derive(Debug)]
pub struct StoreBuilder {
    /// Store-wide dictionaries, one per column.
    dicts: Vec<Dict>,
    /// Per `eventID` id: the `recipientAccountId` id of its first delivery ([`UNSEEN`] before).
    first_account: Vec<Sym>,
    /// Per `eventID` id: the row (in `columns`) kept for its first delivery ([`NO_ROW`] when it
    /// was passed over), what a later copy is compared with.
    first_row: Vec<u32>,
    /// `(eventID, recipientAccountId)` ids delivered with another account than the first, and
    /// the row kept for each.
    seen_other: AHashMap<(Sym, Sym), u32>,
    /// Duplicates whose content differs from the copy kept.
    conflicts: Conflicts,
    /// Deliveries read but not stored, by key ([`ChunkBuilder::pass_over`]).
    passed_over: AHashSet<u128>,
    /// What the merger knows of each worker's dictionaries.
    workers: Vec<WorkerDicts>,
    /// Rows kept so far, in file order: ids per column, flags per flag, and row-wise data.
    columns: Vec<Vec<Sym>>,
    flags: Vec<Vec<u8>>,
    times: Vec<i64>,
    refs: Vec<RecordRef>,
    payload_refs: Vec<PayloadRef>,
    parts: Vec<Part>,
    sources: Vec<SourceFile>,
}

/// The merger's copy of one worker's dictionaries: per column, the strings by the worker's id
/// and the store-wide id of each (null until a kept or duplicate row needed it).
#[derive(Debug)]
struct WorkerDicts {
    strings: Vec<Dict>,
    global: Vec<Vec<Sym>>,
}

impl WorkerDicts {
    fn new() -> Self {
        WorkerDicts {
            strings: (0..Field::COUNT).map(|_| Dict::new()).collect(),
            global: vec![vec![Sym::NULL]; Field::COUNT],
        }
    }
}

/// The payload bytes of one added chunk (referred to by its position).
#[derive(Debug)]
struct Part {
    payload: Vec<u8>,
}

impl Default for StoreBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl StoreBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        StoreBuilder {
            dicts: (0..Field::COUNT).map(|_| Dict::new()).collect(),
            first_account: Vec::new(),
            first_row: Vec::new(),
            seen_other: AHashMap::new(),
            conflicts: Conflicts::default(),
            passed_over: AHashSet::new(),
            workers: Vec::new(),
            columns: vec![Vec::new(); Field::COUNT],
            flags: vec![Vec::new(); FLAGS],
            times: Vec::new(),
            refs: Vec::new(),
            payload_refs: Vec::new(),
            parts: Vec::new(),
            sources: Vec::new(),
        }
    }

    /// Register an evidence file; its id is used by [`StoreBuilder::add_chunk`].
    pub fn add_source(&mut self, file: SourceFile) -> SourceId {
        self.sources.push(file);
        SourceId((self.sources.len() - 1) as u32)
    }

    /// Take note of the strings a worker's dictionaries gained with a sealed chunk (empty or
    /// not). Call it for every chunk a worker sealed, in the order the worker sealed them, and
    /// before [`StoreBuilder::add_chunk`] of that chunk or any later one of the worker.
    ///
    /// # Panics
    /// If a chunk of the worker was skipped or learned out of order.
    pub fn learn(&mut self, chunk: &ChunkBuilder) {
        let Some(w) = chunk.worker else { return };
        let w = w as usize;
        if self.workers.len() <= w {
            self.workers.resize_with(w + 1, WorkerDicts::new);
        }
        let mirror = &mut self.workers[w];
        let mut k = 0;
        for c in 0..Field::COUNT {
            let strings = &mut mirror.strings[c];
            if chunk.new_counts[c] == 0 {
                continue;
            }
            assert_eq!(strings.len() as u32, chunk.new_from[c], "chunks of worker {w} learned out of order");
            for _ in 0..chunk.new_counts[c] {
                k += 1;
                strings.push_unindexed(chunk.new_strings.get(Sym(k)));
            }
            mirror.global[c].resize(strings.len(), Sym::NULL);
        }
    }

    /// Count the deliveries of a file none of whose records was stored (a filtered scan left
    /// them all out), so that later deliveries of the same events stay duplicates.
    pub fn add_passed_over(&mut self, chunk: &ChunkBuilder) {
        self.passed_over.extend(chunk.passed_over.iter().map(|(_, key)| *key));
    }

    /// Add the rows of one file, dropping deliveries already seen.
    ///
    /// # Panics
    /// If the chunk was built with a worker's dictionaries and not sealed and learned first.
    pub fn add_chunk(&mut self, source: SourceId, mut chunk: ChunkBuilder) -> MergeStats {
        let mut stats = MergeStats::default();
        if chunk.is_empty() {
            self.add_passed_over(&chunk);
            return stats;
        }
        let rows = chunk.len();
        let StoreBuilder {
            dicts,
            first_account,
            first_row,
            seen_other,
            passed_over,
            conflicts,
            workers,
            columns,
            flags,
            times,
            refs,
            payload_refs,
            parts,
            ..
        } = self;

        // Worker ids to store-wide ids, row after row: a value gets its id where it first
        // appears, as if the chunk's values were interned in file order.
        let mut own_global;
        let (strings, global): (&[Dict], &mut [Vec<Sym>]) = match chunk.worker {
            Some(w) => {
                assert!(chunk.local.dicts.is_empty(), "chunk of worker {w} added before it was sealed");
                let m = &mut workers[w as usize];
                (&m.strings, &mut m.global)
            }
            None => {
                chunk.local.ready();
                own_global = chunk.local.dicts.iter().map(|d| vec![Sym::NULL; d.len()]).collect::<Vec<_>>();
                (&chunk.local.dicts, &mut own_global)
            }
        };
        for row in chunk.syms.chunks_exact_mut(Field::COUNT) {
            for (c, sym) in row.iter_mut().enumerate() {
                if sym.is_null() || per_chunk(c) {
                    continue;
                }
                let g = &mut global[c][sym.index()];
                if g.is_null() {
                    *g = dicts[c].intern(strings[c].get(*sym));
                }
                *sym = *g;
            }
        }
        let (id_col, acct_col) = (Field::EventId.index(), Field::RecipientAccount.index());
        let ids = own(&mut chunk.own, id_col);
        let id_map: Vec<Sym> = std::iter::once(Sym::NULL)
            .chain((1..=ids.len() as u32).map(|i| dicts[id_col].intern(ids.get(Sym(i)))))
            .collect();
        for row in chunk.syms.chunks_exact_mut(Field::COUNT) {
            row[id_col] = id_map[row[id_col].index()];
        }
        // A delivery is a duplicate when an earlier one had the same eventID and account: one
        // compare with the first delivery's account, a map only for the rare others.
        first_account.resize(dicts[id_col].len(), UNSEEN);
        first_row.resize(dicts[id_col].len(), NO_ROW);
        // The store-wide row the next kept row of this chunk becomes.
        let mut next_row = times.len() as u32;
        // Duplicates whose kept copy is a stored row: (row in this chunk, row kept), compared
        // once the chunk's own kept rows are appended.
        let mut dup_of: Vec<(usize, u32)> = Vec::new();
        // Records passed over before a row (file order, then record order) make it a duplicate.
        let mut over = chunk.passed_over.iter().peekable();
        let keep: Vec<bool> = chunk
            .syms
            .chunks_exact(Field::COUNT)
            .zip(&chunk.indexes)
            .enumerate()
            .map(|(r, (row, &index))| {
                while let Some((_, key)) = over.next_if(|(i, _)| *i < index) {
                    passed_over.insert(*key);
                }
                let (id, acct) = (row[id_col], row[acct_col]);
                if id.is_null() {
                    next_row += 1;
                    return true;
                }
                let first = first_account[id.index()];
                let seen = match first {
                    UNSEEN => None,
                    a if a == acct => Some(first_row[id.index()]),
                    _ => seen_other.get(&(id, acct)).copied(),
                };
                if let Some(kept) = seen {
                    if kept != NO_ROW {
                        dup_of.push((r, kept));
                    }
                    return false;
                }
                let passed = !passed_over.is_empty()
                    && passed_over.contains(&delivery_key(
                        dicts[id_col].get(id),
                        (!acct.is_null()).then(|| dicts[acct_col].get(acct)),
                    ));
                let row = if passed { NO_ROW } else { next_row };
                if first == UNSEEN {
                    first_account[id.index()] = acct;
                    first_row[id.index()] = row;
                } else {
                    seen_other.insert((id, acct), row);
                }
                next_row += u32::from(!passed);
                !passed
            })
            .collect();
        passed_over.extend(over.map(|(_, key)| *key));
        stats.stored = keep.iter().filter(|&&k| k).count() as u64;
        stats.duplicates = rows as u64 - stats.stored;

        // Column after column: each store-wide column grows once per chunk, not once per row.
        let chunk_id = parts.len() as u32;
        let kept = || (0..rows).filter(|&r| keep[r]);
        for (c, column) in columns.iter_mut().enumerate() {
            grow(column, stats.stored as usize);
            let at = |r: usize| chunk.syms[r * Field::COUNT + c];
            if per_chunk(c) && c != id_col {
                let strings = own(&mut chunk.own, c);
                let dict = &mut dicts[c];
                column.extend(kept().map(|r| match at(r) {
                    sym if sym.is_null() => sym,
                    sym => dict.push_unindexed(strings.get(sym)),
                }));
            } else {
                column.extend(kept().map(at));
            }
        }
        let stored = stats.stored as usize;
        grow(times, stored);
        grow(refs, stored);
        grow(payload_refs, stored);
        for (f, flag) in flags.iter_mut().enumerate() {
            grow(flag, stored);
            flag.extend(kept().map(|r| chunk.flags[r][f]));
        }
        times.extend(kept().map(|r| chunk.times[r]));
        refs.extend(kept().map(|r| RecordRef { source, index: chunk.indexes[r] }));
        payload_refs.extend(kept().map(|r| {
            let start = if r == 0 { 0 } else { chunk.payload_ends[r - 1] };
            PayloadRef { chunk: chunk_id, start, end: chunk.payload_ends[r] }
        }));
        // Only the duplicates are compared with their kept copy: the cost follows them.
        for &(r, g) in &dup_of {
            let g = g as usize;
            let dup = &chunk.syms[r * Field::COUNT..(r + 1) * Field::COUNT];
            let mut fields: Vec<String> = Vec::new();
            for (c, column) in columns.iter().enumerate() {
                let differs = if per_chunk(c) && c != id_col {
                    // Kept without a dictionary: the chunk's strings against the store's.
                    let strings = &chunk.own.iter().find(|(o, _)| *o == c).expect("a per-chunk column").1;
                    let other = (!dup[c].is_null()).then(|| strings.get(dup[c]));
                    let kept = (!column[g].is_null()).then(|| dicts[c].get(column[g]));
                    other != kept
                } else {
                    column[g] != dup[c]
                };
                if differs {
                    fields.push(conflict::top_level(Field::ALL[c].path()).to_owned());
                }
            }
            if times[g] != chunk.times[r] {
                fields.push("eventTime".to_owned());
            }
            for (f, flag) in flags.iter().enumerate() {
                if flag[g] != chunk.flags[r][f] {
                    fields.push(conflict::top_level(Flag::ALL[f].path()).to_owned());
                }
            }
            let at = payload_refs[g];
            let kept = if at.chunk == chunk_id { &chunk.payload } else { &parts[at.chunk as usize].payload };
            let start = if r == 0 { 0 } else { chunk.payload_ends[r - 1] as usize };
            conflict::payload_differences(
                &kept[at.start as usize..at.end as usize],
                &chunk.payload[start..chunk.payload_ends[r] as usize],
                &mut fields,
            );
            if conflict::settle(&mut fields) {
                stats.conflicts += 1;
                let (id, acct) = (dup[id_col], dup[acct_col]);
                let other = RecordRef { source, index: chunk.indexes[r] };
                conflicts.note(other, refs[g], || Conflict {
                    event_id: dicts[id_col].get(id).to_owned(),
                    account: (!acct.is_null()).then(|| dicts[acct_col].get(acct).to_owned()),
                    kept: refs[g],
                    other,
                    fields,
                });
            }
        }
        parts.push(Part { payload: chunk.payload });
        stats
    }

    /// Take the conflicting duplicates found so far (before [`StoreBuilder::finish`]).
    pub fn take_conflicts(&mut self) -> Conflicts {
        std::mem::take(&mut self.conflicts)
    }

    /// Sort by `(eventTime, source file, record index)` and freeze.
    pub fn finish(self) -> Store {
        let StoreBuilder {
            dicts,
            columns,
            flags,
            times,
            refs,
            payload_refs,
            parts,
            sources,
            workers,
            first_account,
            first_row,
            seen_other,
            passed_over,
            conflicts,
        } = self;
        // Only needed while merging: free them before the sort's copies.
        drop((workers, first_account, first_row, seen_other, passed_over, conflicts));
        let rows = times.len();
        let mut order: Vec<u32> = (0..rows as u32).collect();
        order.par_sort_unstable_by_key(|&i| (times[i as usize], refs[i as usize]));
        fn permute<T: Copy>(v: &[T], order: &[u32]) -> Vec<T> {
            order.iter().map(|&i| v[i as usize]).collect()
        }

        let columns: Vec<(Dict, Vec<Sym>)> = dicts
            .into_par_iter()
            .zip(columns)
            .map(|(mut dict, col_values)| {
                dict.shrink_to_fit();
                (dict, permute(&col_values, &order))
            })
            .collect();
        let flags: Vec<Vec<u8>> = flags.into_par_iter().map(|v| permute(&v, &order)).collect();
        let (dicts, syms): (Vec<Dict>, Vec<Ids>) = columns
            .into_iter()
            .map(|(d, c)| {
                let ids = Ids::narrow(c, d.len());
                (d, ids)
            })
            .unzip();
        let chunks = parts
            .into_iter()
            .map(|p| {
                let mut v = p.payload;
                v.shrink_to_fit();
                Column::from(v)
            })
            .collect();
        Store {
            times: permute(&times, &order).into(),
            syms,
            flags: flags.into_iter().map(Column::from).collect(),
            refs: permute(&refs, &order).into(),
            dicts,
            payloads: Payloads::Chunks { chunks, refs: permute(&payload_refs, &order).into() },
            sources,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(eventID, eventName, userAgent, requestID)` of each record of one file.
    type File = &'static [(&'static str, &'static str, &'static str, &'static str)];

    fn push_file(chunk: &mut ChunkBuilder, file: File) {
        for (i, (id, name, agent, request)) in file.iter().enumerate() {
            let payload = format!(r#"{{"requestParameters":{{"n":{i}}}}}"#);
            let mut r = RowValues { time_ms: 1_700_000_000_000 + i as i64 % 2, index: i as u32, ..Default::default() };
            r.payload = payload.as_bytes();
            r.strings[Field::EventId.index()] = Some(id);
            r.strings[Field::EventName.index()] = Some(name);
            r.strings[Field::UserAgent.index()] = Some(agent);
            r.strings[Field::RequestId.index()] = Some(request);
            r.strings[Field::RecipientAccount.index()] = Some("111122223333");
            r.flags[Flag::ReadOnly.index()] = Some(i % 2 == 0);
            chunk.push(&r).unwrap();
        }
    }

    fn case_bytes(store: &Store) -> Vec<u8> {
        let mut out = Vec::new();
        store.write_case(&mut out, b"").unwrap();
        out
    }

    const FILES: [File; 4] = [
        &[("a1", "GetObject", "cli", "r1"), ("a2", "ListBuckets", "cli", "r2")],
        &[("b1", "ListBuckets", "console", "r3"), ("a2", "ListBuckets", "cli", "r2")],
        &[("c1", "PutObject", "sdk", "r4"), ("c2", "GetObject", "console", "r5")],
        &[("d1", "DeleteObject", "sdk", "r6"), ("d2", "PutObject", "terraform", "r7")],
    ];

    #[test]
    fn worker_dictionaries_give_the_store_of_per_file_dictionaries() {
        // Each file with dictionaries of its own, added in file order.
        let mut expected = StoreBuilder::new();
        for (f, file) in FILES.iter().enumerate() {
            let mut c = ChunkBuilder::new();
            push_file(&mut c, file);
            let src = expected.add_source(SourceFile { path: format!("f{f}"), size: 1, sha256: String::new() });
            expected.add_chunk(src, c);
        }
        let expected = expected.finish();

        // Two workers: worker 0 reads files 0 and 2, worker 1 reads file 3 *before* file 1
        // (so file 1 uses strings that file 3's chunk carries), and between them a file that
        // turned out unusable after interning a value no kept row has.
        let mut w0 = WorkerState::default();
        let mut w1 = WorkerState::default();
        let build = |dicts: &mut WorkerState, worker: u32, file: File, broken: bool| {
            let mut c = ChunkBuilder::with_dicts(std::mem::take(dicts), Some(worker));
            push_file(&mut c, file);
            if broken {
                push_file(&mut c, &[("x1", "Broken", "nobody", "rx")]);
            }
            *dicts = c.seal();
            if broken {
                c.clear_rows();
            }
            c
        };
        let c0 = build(&mut w0, 0, FILES[0], false);
        let c3 = build(&mut w1, 1, FILES[3], false);
        let broken = build(&mut w1, 1, &[], true);
        let c2 = build(&mut w0, 0, FILES[2], false);
        let c1 = build(&mut w1, 1, FILES[1], false);
        assert!(broken.is_empty());

        let mut b = StoreBuilder::new();
        for c in [&c3, &c0, &broken, &c2, &c1] {
            b.learn(c);
        }
        let mut stats = Vec::new();
        for (f, c) in [c0, c1, c2, c3].into_iter().enumerate() {
            let src = b.add_source(SourceFile { path: format!("f{f}"), size: 1, sha256: String::new() });
            stats.push(b.add_chunk(src, c));
        }
        let store = b.finish();
        assert_eq!(stats[1], MergeStats { stored: 1, duplicates: 1, conflicts: 0 }, "a2 delivered twice");
        assert_eq!(store.len(), 7);
        assert_eq!(case_bytes(&store), case_bytes(&expected));
        assert!(store.dict(Field::EventName).lookup("Broken").is_none(), "rows of a cleared file leave no value");
    }

    #[test]
    fn a_delivery_is_a_duplicate_only_with_the_same_event_id_and_account() {
        let mut b = StoreBuilder::new();
        let mut c = ChunkBuilder::new();
        for (id, account) in [("e1", "111"), ("e1", "222"), ("e1", "111"), ("e2", "111"), ("e1", "222"), ("e1", "333")]
        {
            let mut r = RowValues { time_ms: 1, ..Default::default() };
            r.strings[Field::EventId.index()] = Some(id);
            r.strings[Field::RecipientAccount.index()] = Some(account);
            c.push(&r).unwrap();
        }
        let src = b.add_source(SourceFile { path: "f".into(), size: 1, sha256: String::new() });
        assert_eq!(b.add_chunk(src, c), MergeStats { stored: 4, duplicates: 2, conflicts: 0 });
    }

    /// One delivery: `(eventID, sourceIPAddress, requestID, payload)` at a fixed time.
    type Delivery = (&'static str, &'static str, &'static str, &'static str);

    fn deliveries(b: &mut StoreBuilder, path: &str, records: &[Delivery]) -> MergeStats {
        let mut c = ChunkBuilder::new();
        for (i, (id, ip, request, payload)) in records.iter().enumerate() {
            let mut r = RowValues {
                time_ms: 1_714_557_600_000,
                index: i as u32,
                payload: payload.as_bytes(),
                ..Default::default()
            };
            r.strings[Field::EventId.index()] = Some(id);
            r.strings[Field::EventName.index()] = Some("CreateUser");
            r.strings[Field::SourceIp.index()] = Some(ip);
            r.strings[Field::RequestId.index()] = Some(request);
            r.strings[Field::RecipientAccount.index()] = Some("111122223333");
            r.flags[Flag::ReadOnly.index()] = Some(false);
            c.push(&r).unwrap();
        }
        let src = b.add_source(SourceFile { path: path.into(), size: 1, sha256: String::new() });
        b.add_chunk(src, c)
    }

    const ALICE: &str = r#"{"requestParameters":{"userName":"alice"}}"#;

    #[test]
    fn a_re_delivery_that_differs_from_the_kept_copy_is_a_conflict_naming_both_files() {
        let mut b = StoreBuilder::new();
        let first = deliveries(
            &mut b,
            "a.json",
            &[
                ("e1", "198.51.100.10", "r1", ALICE),
                ("e2", "198.51.100.10", "r2", ALICE),
                // Within one file: the same event again, its requestParameters rewritten.
                ("e2", "198.51.100.10", "r2", r#"{"requestParameters":{"userName":"backdoor"}}"#),
            ],
        );
        assert_eq!(first, MergeStats { stored: 2, duplicates: 1, conflicts: 1 });
        let second = deliveries(
            &mut b,
            "b.json",
            &[
                // An ordinary re-delivery: identical.
                ("e1", "198.51.100.10", "r1", ALICE),
                // Across files: the source address changed.
                ("e2", "203.0.113.66", "r2", ALICE),
                // Only an addendum added (a late delivery): not a conflict.
                (
                    "e1",
                    "198.51.100.10",
                    "r1",
                    r#"{"requestParameters":{"userName":"alice"},"addendum":{"reason":"DELIVERY_DELAY"}}"#,
                ),
                // The requestID column (kept without a dictionary) differs.
                ("e1", "198.51.100.10", "r9", ALICE),
            ],
        );
        assert_eq!(second, MergeStats { stored: 0, duplicates: 4, conflicts: 2 });
        let found = b.take_conflicts();
        assert_eq!(found.total, 3);
        let named: Vec<_> = found
            .listed
            .iter()
            .map(|c| {
                (
                    c.event_id.as_str(),
                    c.kept.source.0,
                    c.kept.index,
                    c.other.source.0,
                    c.other.index,
                    c.fields.join(","),
                )
            })
            .collect();
        assert_eq!(
            named,
            [
                ("e2", 0, 1, 0, 2, "requestParameters".to_owned()),
                ("e2", 0, 1, 1, 1, "sourceIPAddress".to_owned()),
                ("e1", 0, 0, 1, 3, "requestID".to_owned()),
            ]
        );
        assert_eq!(found.listed[0].account.as_deref(), Some("111122223333"));
        let store = b.finish();
        assert_eq!(store.len(), 2, "the first copy is the one kept");
        assert_eq!(store.event(1).get_str("requestParameters.userName").as_deref(), Some("alice"));
    }

    #[test]
    fn a_copy_of_a_record_passed_over_is_a_duplicate_without_comparison() {
        // A filtered scan keeps only a hash of what it passed over: nothing to compare with.
        let mut b = StoreBuilder::new();
        let mut c = ChunkBuilder::new();
        c.pass_over(0, Some("e1"), Some("111122223333"));
        let src = b.add_source(SourceFile { path: "a.json".into(), size: 1, sha256: String::new() });
        b.add_chunk(src, c);
        let stats = deliveries(&mut b, "b.json", &[("e1", "203.0.113.66", "r1", ALICE)]);
        assert_eq!(stats, MergeStats { stored: 0, duplicates: 1, conflicts: 0 });
        assert_eq!(b.take_conflicts().total, 0);
    }

    #[test]
    #[should_panic(expected = "learned out of order")]
    fn chunks_of_a_worker_learned_out_of_order_are_refused() {
        let mut w = WorkerState::default();
        let mut first = ChunkBuilder::with_dicts(std::mem::take(&mut w), Some(0));
        push_file(&mut first, FILES[0]);
        w = first.seal();
        let mut second = ChunkBuilder::with_dicts(w, Some(0));
        push_file(&mut second, FILES[2]);
        second.seal();
        StoreBuilder::new().learn(&second);
    }

    #[test]
    fn a_record_past_the_chunk_limit_is_refused_and_leaves_no_trace() {
        let row = |id: &'static str, payload: &'static [u8]| {
            let mut r = RowValues { time_ms: 1, payload, ..Default::default() };
            r.strings[Field::EventId.index()] = Some(id);
            r.strings[Field::EventName.index()] = Some("GetObject");
            r
        };
        let mut c = ChunkBuilder::new().with_limit(40);
        c.push(&row("e1", br#"{"requestParameters":{"n":1}}"#)).unwrap();
        let full = c.push(&row("e2", br#"{"requestParameters":{"n":2}}"#)).unwrap_err();
        assert_eq!(full, ChunkFull::Payload { limit: 40 });
        assert_eq!(full.to_string(), "payload of this file passes 40 bytes");

        // The same through the parser's path: the payload written in place is taken back.
        c.payload_mut().extend_from_slice(br#"{"requestParameters":{"n":3}}"#);
        assert!(matches!(c.push_written(&row("e3", b"")), Err(ChunkFull::Payload { .. })));

        // A per-file column (spilled values can make it pass the payload).
        let long = "x".repeat(41);
        let mut r = row("e4", b"{}");
        r.strings[Field::RequestId.index()] = Some(&long);
        let full = c.push(&r).unwrap_err();
        assert_eq!(full.to_string(), "requestID values of this file pass 40 bytes");

        // A record that fits still goes in after the refusals, as if they never happened.
        c.push(&row("e5", b"{}")).unwrap();
        let mut b = StoreBuilder::new();
        let src = b.add_source(SourceFile { path: "f".into(), size: 1, sha256: String::new() });
        assert_eq!(b.add_chunk(src, c).stored, 2);
        let store = b.finish();
        let ids: Vec<&str> = store.events().map(|e| e.str(Field::EventId).unwrap_or("")).collect();
        assert_eq!(ids, ["e1", "e5"]);
        assert_eq!(&*store.payload(1), b"{}");
        assert_eq!(ChunkFull::Payload { limit: u32::MAX.into() }.to_string(), "payload of this file passes 4 GiB");
    }
}
