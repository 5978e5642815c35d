//! Building a [`Store`]: one [`ChunkBuilder`] per input file, merged in a fixed order.

use ahash::AHashSet;

use crate::dict::{Dict, Sym};
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
}

impl RowValues<'_> {
    /// Reset for reuse.
    pub fn clear(&mut self) {
        self.time_ms = 0;
        self.strings = [None; Field::COUNT];
        self.flags = [None; Flag::ALL.len()];
        self.payload = &[];
        self.index = 0;
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

    /// Append one record.
    ///
    /// # Panics
    /// If the chunk's payload would exceed 4 GiB (one file never comes near).
    pub fn push(&mut self, row: &RowValues<'_>) {
        for (i, s) in row.strings.iter().enumerate() {
            let sym = match s {
                Some(s) => self.dicts[i].intern(s),
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
#[derive(Debug)]
pub struct StoreBuilder {
    dicts: Vec<Dict>,
    syms: Vec<Vec<Sym>>,
    flags: Vec<Vec<u8>>,
    times: Vec<i64>,
    refs: Vec<RecordRef>,
    payloads: Vec<Box<[u8]>>,
    payload_refs: Vec<PayloadRef>,
    sources: Vec<SourceFile>,
    seen: AHashSet<(Sym, Sym)>,
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
            syms: vec![Vec::new(); Field::COUNT],
            flags: vec![Vec::new(); Flag::ALL.len()],
            times: Vec::new(),
            refs: Vec::new(),
            payloads: Vec::new(),
            payload_refs: Vec::new(),
            sources: Vec::new(),
            seen: AHashSet::new(),
        }
    }

    /// Register an evidence file; its id is used by [`StoreBuilder::add_chunk`].
    pub fn add_source(&mut self, file: SourceFile) -> SourceId {
        self.sources.push(file);
        SourceId((self.sources.len() - 1) as u32)
    }

    /// Merge the rows of one file.
    pub fn add_chunk(&mut self, source: SourceId, chunk: ChunkBuilder) -> MergeStats {
        let mut stats = MergeStats::default();
        if chunk.is_empty() {
            return stats;
        }
        let remaps: Vec<Vec<Sym>> = chunk
            .dicts
            .iter()
            .zip(&mut self.dicts)
            .map(|(local, global)| {
                let mut map = Vec::with_capacity(local.len());
                map.push(Sym::NULL);
                map.extend(local.iter().map(|(_, s)| global.intern(s)));
                map
            })
            .collect();
        let chunk_id = self.payloads.len() as u32;
        let (id_col, acct_col) = (Field::EventId.index(), Field::RecipientAccount.index());
        for row in 0..chunk.len() {
            let event_id = remaps[id_col][chunk.syms[id_col][row].index()];
            if !event_id.is_null() {
                let account = remaps[acct_col][chunk.syms[acct_col][row].index()];
                if !self.seen.insert((event_id, account)) {
                    stats.duplicates += 1;
                    continue;
                }
            }
            stats.stored += 1;
            for (col, map) in remaps.iter().enumerate() {
                self.syms[col].push(map[chunk.syms[col][row].index()]);
            }
            for (col, flags) in chunk.flags.iter().enumerate() {
                self.flags[col].push(flags[row]);
            }
            self.times.push(chunk.times[row]);
            self.refs.push(RecordRef { source, index: chunk.indexes[row] });
            let start = if row == 0 { 0 } else { chunk.payload_ends[row - 1] };
            self.payload_refs.push(PayloadRef { chunk: chunk_id, start, end: chunk.payload_ends[row] });
        }
        self.payloads.push(chunk.payload.into_boxed_slice());
        stats
    }

    /// Sort by `(eventTime, source file, record index)` and freeze.
    pub fn finish(self) -> Store {
        let StoreBuilder { mut dicts, syms, flags, times, refs, payloads, payload_refs, sources, seen } = self;
        drop(seen);
        let mut order: Vec<u32> = (0..times.len() as u32).collect();
        order.sort_unstable_by_key(|&i| (times[i as usize], refs[i as usize]));
        fn permute<T: Copy>(v: &[T], order: &[u32]) -> Vec<T> {
            order.iter().map(|&i| v[i as usize]).collect()
        }
        for d in &mut dicts {
            d.shrink_to_fit();
        }
        Store {
            times: permute(&times, &order),
            syms: syms.iter().map(|c| permute(c, &order)).collect(),
            flags: flags.iter().map(|c| permute(c, &order)).collect(),
            refs: permute(&refs, &order),
            payload_refs: permute(&payload_refs, &order),
            dicts,
            payloads,
            sources,
        }
    }
}
