//! Building a [`Store`]: one [`ChunkBuilder`] per input file, merged in a fixed order.

use ahash::AHashSet;
use rayon::prelude::*;

use crate::column::Column;
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

/// Events of one input file, with dictionaries local to the file.
///
/// Built on a worker thread without any shared state; [`StoreBuilder::add_chunk`] later maps the
/// local ids to the store's ids, which costs one hash look-up per *distinct* value of the file.
#[derive(Debug, Default)]
pub struct ChunkBuilder {
    dicts: Vec<Dict>,
    syms: Vec<Vec<Sym>>,
    flags: Vec<Vec<u8>>,
    times: Vec<i64>,
    indexes: Vec<u32>,
    payload: Vec<u8>,
    payload_ends: Vec<u32>,
}

impl ChunkBuilder {
    /// An empty chunk.
    pub fn new() -> Self {
        ChunkBuilder {
            dicts: (0..Field::COUNT).map(|_| Dict::new()).collect(),
            syms: vec![Vec::new(); Field::COUNT],
            flags: vec![Vec::new(); Flag::ALL.len()],
            ..Default::default()
        }
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
        self.syms.iter_mut().for_each(|c| c.reserve(rows));
        self.flags.iter_mut().for_each(|c| c.reserve(rows));
        self.times.reserve(rows);
        self.indexes.reserve(rows);
        self.payload_ends.reserve(rows);
    }

    /// Add `by` to the record index of rows `from_row..` (records of a later document in a file
    /// holding several).
    pub fn shift_indexes(&mut self, from_row: usize, by: u32) {
        self.indexes[from_row..].iter_mut().for_each(|i| *i += by);
    }

    /// Append one record.
    ///
    /// # Panics
    /// If the chunk's payload would exceed 4 GiB (one file never comes near).
    pub fn push(&mut self, row: &RowValues<'_>) {
        // Rare (old or hand-edited records): the text of non-string column values, from the payload.
        let spilled = if row.spilled == 0 { Vec::new() } else { spilled_texts(row) };
        for (i, s) in row.strings.iter().enumerate() {
            let s = match s {
                None => spilled.iter().find(|(f, _)| *f == i).map(|(_, t)| t.as_str()),
                s => *s,
            };
            let sym = match s {
                // Ids are unique within a file almost always: a local index would be wasted work
                // (eventID is de-duplicated against the global dictionary at merge time).
                Some(s) if Field::ALL[i].is_unique() || i == Field::EventId.index() => self.dicts[i].push_unindexed(s),
                Some(s) => {
                    // Neighbouring records often share a value (same caller, service, region):
                    // a compare with the previous row's value is cheaper than a hash probe.
                    let dict = &mut self.dicts[i];
                    match self.syms[i].last() {
                        Some(&last) if !last.is_null() && dict.get(last) == s => last,
                        _ => dict.intern(s),
                    }
                }
                None => Sym::NULL,
            };
            self.syms[i].push(sym);
        }
        for (i, f) in row.flags.iter().enumerate() {
            self.flags[i].push(flag_code(*f));
        }
        self.times.push(row.time_ms);
        self.indexes.push(row.index);
        self.payload.extend_from_slice(row.payload);
        self.payload_ends.push(u32::try_from(self.payload.len()).expect("payload of one file over 4 GiB"));
    }
}

// `RowValues::spilled` has one bit per column.
const _: () = assert!(Field::COUNT <= 32);

/// `(field index, JSON text)` of each spilled column value of a row, read back from its payload.
fn spilled_texts(row: &RowValues<'_>) -> Vec<(usize, String)> {
    let Ok(payload) = serde_json::from_slice::<serde_json::Value>(row.payload) else { return Vec::new() };
    Field::ALL
        .iter()
        .filter(|f| row.spilled & (1 << f.index()) != 0)
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
}

/// Merges chunks, removes duplicate deliveries, then sorts into a [`Store`].
///
/// Chunks must be added in a deterministic order (the file order): ids, duplicate choice and
/// the final order then never depend on thread scheduling.
///
/// [`StoreBuilder::add_chunk`] settles duplicates at once (it needs only the `eventID` and
/// `recipientAccountId` columns); [`StoreBuilder::finish`] then merges the other columns, one
/// column per task in parallel, and sorts.
#[derive(Debug)]
pub struct StoreBuilder {
    event_ids: Dict,
    accounts: Dict,
    seen: AHashSet<(Sym, Sym)>,
    parts: Vec<Part>,
    sources: Vec<SourceFile>,
}

#[derive(Debug)]
struct Part {
    source: SourceId,
    chunk: ChunkBuilder,
    /// Rows kept (not duplicates).
    keep: Vec<bool>,
    /// `eventID` and `recipientAccountId` ids, already global.
    event_ids: Vec<Sym>,
    accounts: Vec<Sym>,
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
            event_ids: Dict::new(),
            accounts: Dict::new(),
            seen: AHashSet::new(),
            parts: Vec::new(),
            sources: Vec::new(),
        }
    }

    /// Register an evidence file; its id is used by [`StoreBuilder::add_chunk`].
    pub fn add_source(&mut self, file: SourceFile) -> SourceId {
        self.sources.push(file);
        SourceId((self.sources.len() - 1) as u32)
    }

    /// Add the rows of one file, dropping deliveries already seen.
    pub fn add_chunk(&mut self, source: SourceId, chunk: ChunkBuilder) -> MergeStats {
        let mut stats = MergeStats::default();
        if chunk.is_empty() {
            return stats;
        }
        let (id_col, acct_col) = (Field::EventId.index(), Field::RecipientAccount.index());
        let id_map = remap(&chunk.dicts[id_col], &mut self.event_ids);
        let acct_map = remap(&chunk.dicts[acct_col], &mut self.accounts);
        let event_ids: Vec<Sym> = chunk.syms[id_col].iter().map(|s| id_map[s.index()]).collect();
        let accounts: Vec<Sym> = chunk.syms[acct_col].iter().map(|s| acct_map[s.index()]).collect();
        let keep: Vec<bool> =
            event_ids.iter().zip(&accounts).map(|(&id, &acct)| id.is_null() || self.seen.insert((id, acct))).collect();
        stats.stored = keep.iter().filter(|&&k| k).count() as u64;
        stats.duplicates = chunk.len() as u64 - stats.stored;
        self.parts.push(Part { source, chunk, keep, event_ids, accounts });
        stats
    }

    /// Merge the remaining columns, sort by `(eventTime, source file, record index)` and freeze.
    pub fn finish(self) -> Store {
        let StoreBuilder { event_ids, accounts, seen, parts, sources } = self;
        drop(seen);
        let kept = |p: &Part| p.keep.iter().filter(|&&k| k).count();
        let rows: usize = parts.iter().map(kept).sum();

        // Row-wise data, concatenated in part order.
        let mut times = Vec::with_capacity(rows);
        let mut refs = Vec::with_capacity(rows);
        let mut payload_refs = Vec::with_capacity(rows);
        for (chunk_id, p) in parts.iter().enumerate() {
            for row in (0..p.chunk.len()).filter(|&r| p.keep[r]) {
                times.push(p.chunk.times[row]);
                refs.push(RecordRef { source: p.source, index: p.chunk.indexes[row] });
                let start = if row == 0 { 0 } else { p.chunk.payload_ends[row - 1] };
                payload_refs.push(PayloadRef { chunk: chunk_id as u32, start, end: p.chunk.payload_ends[row] });
            }
        }
        let mut order: Vec<u32> = (0..rows as u32).collect();
        order.par_sort_unstable_by_key(|&i| (times[i as usize], refs[i as usize]));
        fn permute<T: Copy>(v: &[T], order: &[u32]) -> Vec<T> {
            order.iter().map(|&i| v[i as usize]).collect()
        }

        // One task per column: each builds its global dictionary in part order, so ids are
        // the same whatever the thread count.
        let mut given: Vec<Option<Dict>> = vec![None; Field::COUNT];
        given[Field::EventId.index()] = Some(event_ids);
        given[Field::RecipientAccount.index()] = Some(accounts);
        let columns: Vec<(Dict, Vec<Sym>)> = given
            .into_par_iter()
            .enumerate()
            .map(|(col, dict)| {
                let mut col_values = Vec::with_capacity(rows);
                let dict = match dict {
                    Some(dict) => {
                        for p in &parts {
                            let global = if col == Field::EventId.index() { &p.event_ids } else { &p.accounts };
                            col_values.extend(global.iter().zip(&p.keep).filter(|(_, &k)| k).map(|(s, _)| *s));
                        }
                        dict
                    }
                    None if Field::ALL[col].is_unique() => {
                        let mut dict = Dict::new();
                        for p in &parts {
                            let local = &p.chunk.dicts[col];
                            col_values.extend(p.chunk.syms[col].iter().zip(&p.keep).filter(|(_, &k)| k).map(
                                |(s, _)| {
                                    if s.is_null() {
                                        Sym::NULL
                                    } else {
                                        dict.push_unindexed(local.get(*s))
                                    }
                                },
                            ));
                        }
                        dict
                    }
                    None => {
                        let mut dict = Dict::new();
                        for p in &parts {
                            let map = remap(&p.chunk.dicts[col], &mut dict);
                            col_values.extend(
                                p.chunk.syms[col].iter().zip(&p.keep).filter(|(_, &k)| k).map(|(s, _)| map[s.index()]),
                            );
                        }
                        dict
                    }
                };
                let mut dict = dict;
                dict.shrink_to_fit();
                (dict, permute(&col_values, &order))
            })
            .collect();
        let flags: Vec<Vec<u8>> = (0..Flag::ALL.len())
            .into_par_iter()
            .map(|f| {
                let mut v = Vec::with_capacity(rows);
                for p in &parts {
                    v.extend(p.chunk.flags[f].iter().zip(&p.keep).filter(|(_, &k)| k).map(|(c, _)| *c));
                }
                permute(&v, &order)
            })
            .collect();
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
                let mut v = p.chunk.payload;
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

/// Local id → global id for every entry of a chunk's dictionary (index 0 stays null).
fn remap(local: &Dict, global: &mut Dict) -> Vec<Sym> {
    let mut map = Vec::with_capacity(local.len());
    map.push(Sym::NULL);
    map.extend(local.iter().map(|(_, s)| global.intern(s)));
    map
}
