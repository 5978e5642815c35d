//! Where the payloads (the fields no column holds) live: the ingest's uncompressed buffers, or a
//! case file's zstd blocks decompressed on first access.
//!
//! A block holds the payloads of `rows_per_block` consecutive rows (the last block fewer), so the
//! block of a row is `row / rows_per_block` and no per-row reference is stored. Decompressed, a
//! block is the rows' payload lengths (`u32` each), then the payloads one after another.
//!
//! Decompressed blocks are kept in a bounded cache ([`DEFAULT_CACHE_BYTES`], or
//! [`crate::Store::limit_payload_cache`]): a hunt over a case far larger than memory touches every
//! block, and holding them all would cost the raw payload bytes (several GB at 20M events). A
//! reader holds its block through an `Arc` ([`Payload`]), so eviction never pulls bytes from under
//! it. Eviction is second-chance (CLOCK): a block read since it was last considered stays.
//!
//! Grouping a block's records by `eventName` before compressing was measured on the generator's
//! dump: at zstd level 3 it saved 2.5 % of the payload bytes, at level 9 the slot table it needs
//! cost more than it saved; on the data-heavy dump it saves 1.7 % (512 KiB blocks) to 4 %
//! (2 MiB), slot table counted, less than block size does; rows stay in time order.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use xxhash_rust::xxh3::xxh3_64;

use crate::column::Column;
use crate::PayloadRef;

/// Raw bytes a block aims at: big enough for zstd to find the repeats between records of one
/// kind, small enough that touching one row decompresses little (a couple of milliseconds).
/// Measured at level 3 on the data-heavy dump (`trailscope-gen --profile data-heavy`, large EC2
/// responses and S3 data events), payload bytes per event: 167 at 512 KiB, 152 at 1 MiB, 135
/// at 2 MiB, 127 at 4 MiB (level 9 at 512 KiB: 150, for four times the time); larger blocks
/// reach the previous describe response of the same fleet, level 3's window being 2 MiB.
pub(crate) const BLOCK_TARGET_BYTES: usize = 2 << 20;
/// Bounds the decompressed row table of a block.
pub(crate) const MAX_ROWS_PER_BLOCK: usize = 1 << 16;
/// zstd level used when saving. On the generator's dump level 9 saves 15 % of the payload
/// bytes (4 % of the file) for three times the save time.
pub(crate) const ZSTD_LEVEL: i32 = 3;

/// Decompressed payload bytes a case keeps in memory at most, unless told otherwise: about 250
/// blocks, so the rules running in parallel each find the blocks they are reading.
pub const DEFAULT_CACHE_BYTES: usize = 512 << 20;

/// An empty payload, what a row of a damaged block reads as (the store records the damage).
const EMPTY: &[u8] = b"{}";

/// A compressed frame, the length of its raw bytes and their XXH3-64.
pub(crate) type Frame = (Vec<u8>, u32, u64);

/// Where lazily found damage is recorded: shared by a case's payload blocks and cold dictionaries.
pub(crate) type Damage = std::sync::Arc<OnceLock<String>>;

/// The payloads of a store.
#[derive(Debug)]
pub(crate) enum Payloads {
    /// Built by an ingest: one buffer per input chunk and a reference per row.
    Chunks { chunks: Vec<Column<u8>>, refs: Column<PayloadRef> },
    /// Opened from a case file.
    Blocks(Blocks),
}

/// One compressed block in a case file, as its index entry gives it.
#[derive(Debug)]
pub(crate) struct Block {
    /// The zstd frame, in place in the mapping.
    pub(crate) compressed: Column<u8>,
    /// Length once decompressed.
    pub(crate) raw_len: u32,
    /// XXH3-64 of the decompressed bytes, checked on first access.
    pub(crate) raw_sum: u64,
    /// The decompressed block while the cache holds it.
    decoded: Mutex<Option<Arc<Decoded>>>,
    /// Read since the cache last considered evicting it.
    referenced: AtomicBool,
}

/// A decompressed block: each row's byte range in `bytes`.
#[derive(Debug)]
pub(crate) struct Decoded {
    spans: Vec<(u32, u32)>,
    bytes: Vec<u8>,
}

impl Decoded {
    fn held(&self) -> usize {
        self.bytes.capacity() + self.spans.capacity() * 8
    }
}

/// The payload bytes of one row: borrowed from an ingest's buffer, or sharing a decompressed
/// block of a case file (which stays alive while this does, even if the cache lets it go).
pub struct Payload<'a>(Held<'a>);

enum Held<'a> {
    Borrowed(&'a [u8]),
    Block(Arc<Decoded>, u32, u32),
}

impl<'a> Payload<'a> {
    pub(crate) fn borrowed(bytes: &'a [u8]) -> Self {
        Payload(Held::Borrowed(bytes))
    }
}

impl std::ops::Deref for Payload<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match &self.0 {
            Held::Borrowed(b) => b,
            Held::Block(d, a, z) => &d.bytes[*a as usize..*z as usize],
        }
    }
}

impl AsRef<[u8]> for Payload<'_> {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl std::fmt::Debug for Payload<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Payload({})", String::from_utf8_lossy(self))
    }
}

/// Which blocks are decompressed, oldest first, and their bytes.
#[derive(Debug, Default)]
pub(crate) struct Cache {
    /// Block and the bytes it holds decompressed.
    order: VecDeque<(usize, usize)>,
    held: usize,
    /// Blocks decompressed so far (a block evicted and read again counts twice).
    decoded: u64,
}

/// The payload blocks of an opened case file.
#[derive(Debug)]
pub(crate) struct Blocks {
    pub(crate) rows: usize,
    pub(crate) rows_per_block: usize,
    pub(crate) blocks: Vec<Block>,
    /// The case file, for the damage message.
    pub(crate) path: PathBuf,
    /// The first damaged block met (here or in a cold dictionary), as a message naming the
    /// file and the block.
    pub(crate) damage: Damage,
    pub(crate) cache: Mutex<Cache>,
    /// Most decompressed bytes to keep (at least the blocks in use are kept).
    pub(crate) cache_limit: std::sync::atomic::AtomicUsize,
}

impl Block {
    pub(crate) fn new(compressed: Column<u8>, raw_len: u32, raw_sum: u64) -> Self {
        Block { compressed, raw_len, raw_sum, decoded: Mutex::new(None), referenced: AtomicBool::new(false) }
    }
}

impl Blocks {
    /// Rows in block `b`.
    fn rows_in(&self, b: usize) -> usize {
        self.rows_per_block.min(self.rows - b * self.rows_per_block)
    }

    pub(crate) fn new(rows: usize, rows_per_block: usize, blocks: Vec<Block>, path: PathBuf, damage: Damage) -> Self {
        Blocks {
            rows,
            rows_per_block,
            blocks,
            path,
            damage,
            cache: Mutex::default(),
            cache_limit: DEFAULT_CACHE_BYTES.into(),
        }
    }

    pub(crate) fn payload(&self, row: usize) -> Payload<'_> {
        let b = row / self.rows_per_block;
        let block = &self.blocks[b];
        block.referenced.store(true, Ordering::Relaxed);
        // The block's lock is held while it decompresses, so a second reader waits for it
        // rather than decompressing it again.
        let mut slot = block.decoded.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(d) = slot.as_ref() {
            let (a, z) = d.spans[row % self.rows_per_block];
            return Payload(Held::Block(Arc::clone(d), a, z));
        }
        let d = Arc::new(decode(block, self.rows_in(b)).unwrap_or_else(|why| {
            let _ = self.damage.set(format!(
                "{}: payload block {b} (rows {}..{}) is damaged ({why}); those rows read as empty",
                self.path.display(),
                b * self.rows_per_block,
                b * self.rows_per_block + self.rows_in(b)
            ));
            Decoded { spans: vec![(0, EMPTY.len() as u32); self.rows_in(b)], bytes: EMPTY.to_vec() }
        }));
        *slot = Some(Arc::clone(&d));
        drop(slot);
        self.admit(b, d.held());
        let (a, z) = d.spans[row % self.rows_per_block];
        Payload(Held::Block(d, a, z))
    }

    /// Count a newly decompressed block in the cache, then keep to the limit.
    fn admit(&self, b: usize, bytes: usize) {
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        cache.order.push_back((b, bytes));
        cache.held += bytes;
        cache.decoded += 1;
        self.trim(cache, Some(b));
    }

    /// Set the most decompressed bytes to keep, letting blocks go now if over it.
    pub(crate) fn set_cache_limit(&self, bytes: usize) {
        self.cache_limit.store(bytes, Ordering::Relaxed);
        self.trim(self.cache.lock().unwrap_or_else(PoisonError::into_inner), None);
    }

    /// Let the oldest blocks not read since they were last looked at go while the cache is over
    /// its limit (`keep`, the block just read, stays). Victims are chosen under the cache's lock
    /// and released after it: a reader may hold a block's lock and then take the cache's, never
    /// the other way round.
    fn trim(&self, mut cache: std::sync::MutexGuard<'_, Cache>, keep: Option<usize>) {
        let limit = self.cache_limit.load(Ordering::Relaxed);
        let mut victims = Vec::new();
        // Each block is looked at at most twice: once to clear its mark, once to let it go.
        let mut looked = 0;
        while cache.held > limit && !cache.order.is_empty() && looked < 2 * cache.order.len() {
            looked += 1;
            let (v, held) = cache.order.pop_front().expect("not empty");
            if Some(v) == keep || self.blocks[v].referenced.swap(false, Ordering::Relaxed) {
                cache.order.push_back((v, held));
                continue;
            }
            cache.held -= held;
            victims.push(v);
        }
        drop(cache);
        for v in victims {
            self.blocks[v].decoded.lock().unwrap_or_else(PoisonError::into_inner).take();
        }
    }

    /// Consecutive stretches of rows whose blocks together reach half the cache (the last
    /// block crossing it included: at most half the cache and one block), for reading every
    /// row's payload in passes that each decompress a block once.
    pub(crate) fn stretches(&self) -> Vec<std::ops::Range<usize>> {
        let budget = self.cache_limit.load(Ordering::Relaxed) / 2;
        let mut out = Vec::new();
        let (mut start, mut bytes) = (0, 0usize);
        for (b, block) in self.blocks.iter().enumerate() {
            let end = (b * self.rows_per_block + self.rows_in(b)).min(self.rows);
            bytes += block.raw_len as usize;
            if bytes >= budget || b + 1 == self.blocks.len() {
                out.push(start..end);
                (start, bytes) = (end, 0);
            }
        }
        out
    }

    /// The most decompressed bytes kept.
    pub(crate) fn cache_limit(&self) -> usize {
        self.cache_limit.load(Ordering::Relaxed)
    }

    /// Compressed bytes (mapped), decompressed bytes held now, and blocks decompressed so far.
    pub(crate) fn sizes(&self) -> (usize, usize, u64) {
        let mapped = self.blocks.iter().map(|b| b.compressed.len()).sum();
        let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        (mapped, cache.held, cache.decoded)
    }
}

/// Decompress a frame and check it against the length and XXH3 its index gives.
pub(crate) fn unpack_frame(frame: &[u8], raw_len: u32, raw_sum: u64) -> Result<Vec<u8>, String> {
    let raw = zstd::bulk::decompress(frame, raw_len as usize).map_err(|e| e.to_string())?;
    if raw.len() != raw_len as usize {
        return Err(format!("{} bytes decompressed, {} expected", raw.len(), raw_len));
    }
    if xxh3_64(&raw) != raw_sum {
        return Err("checksum mismatch after decompression".into());
    }
    Ok(raw)
}

/// Decompress and check one block.
fn decode(block: &Block, rows: usize) -> Result<Decoded, String> {
    let raw = unpack_frame(&block.compressed, block.raw_len, block.raw_sum)?;
    let table = rows * 4;
    if raw.len() < table {
        return Err("shorter than its table".into());
    }
    let mut spans = Vec::with_capacity(rows);
    let mut at = table as u64;
    for c in raw[..table].chunks_exact(4) {
        let end = at + u64::from(u32::from_le_bytes(c.try_into().expect("4 bytes")));
        if end > raw.len() as u64 {
            return Err("its table does not match its bytes".into());
        }
        spans.push((at as u32, end as u32));
        at = end;
    }
    if at != raw.len() as u64 {
        return Err("its table does not match its bytes".into());
    }
    Ok(Decoded { spans, bytes: raw })
}

/// Rows per block for `rows` payloads of `total_bytes` in all.
pub(crate) fn rows_per_block(total_bytes: usize, rows: usize) -> usize {
    let avg = total_bytes.div_ceil(rows.max(1)).max(1);
    (BLOCK_TARGET_BYTES / avg).clamp(64, MAX_ROWS_PER_BLOCK)
}

/// Encode and compress the payloads of `rows` (`payload(row)` reads one from the store).
/// Returns the frame, the raw length and the raw checksum.
pub(crate) fn encode<P: std::ops::Deref<Target = [u8]>>(
    rows: std::ops::Range<usize>,
    payload: impl Fn(usize) -> P,
) -> Frame {
    let bytes: usize = rows.clone().map(|r| payload(r).len()).sum();
    let mut raw = Vec::with_capacity(rows.len() * 4 + bytes);
    for r in rows.clone() {
        raw.extend_from_slice(&(payload(r).len() as u32).to_le_bytes());
    }
    for r in rows {
        raw.extend_from_slice(&payload(r));
    }
    (compress(&raw), u32::try_from(raw.len()).expect("a block is far below 4 GiB"), xxh3_64(&raw))
}

/// zstd at [`ZSTD_LEVEL`].
pub(crate) fn compress(raw: &[u8]) -> Vec<u8> {
    let mut frame = zstd::bulk::compress(raw, ZSTD_LEVEL).expect("compressing to memory does not fail");
    // The frame was given room for the worst case (the raw size): a save holds every frame
    // until it writes them, so keep only what is used.
    frame.shrink_to_fit();
    frame
}
