//! Where the payloads (the fields no column holds) live: the ingest's uncompressed buffers, or a
//! case file's zstd blocks decompressed on first access.
//!
//! A block holds the payloads of `rows_per_block` consecutive rows (the last block fewer), so the
//! block of a row is `row / rows_per_block` and no per-row reference is stored. Decompressed, a
//! block is the rows' payload lengths (`u32` each), then the payloads one after another.
//!
//! Grouping a block's records by `eventName` before compressing was measured on the generator's
//! dump: at zstd level 3 it saved 2.5 % of the payload bytes, at level 9 the slot table it needs
//! cost more than it saved; on the data-heavy dump it saves 1.7 % (512 KiB blocks) to 4 %
//! (2 MiB), slot table counted, less than block size does; rows stay in time order.

use std::path::PathBuf;
use std::sync::OnceLock;

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
    decoded: OnceLock<Decoded>,
}

/// A decompressed block: each row's byte range in `bytes`.
#[derive(Debug)]
struct Decoded {
    spans: Vec<(u32, u32)>,
    bytes: Vec<u8>,
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
}

impl Block {
    pub(crate) fn new(compressed: Column<u8>, raw_len: u32, raw_sum: u64) -> Self {
        Block { compressed, raw_len, raw_sum, decoded: OnceLock::new() }
    }
}

impl Blocks {
    /// Rows in block `b`.
    fn rows_in(&self, b: usize) -> usize {
        self.rows_per_block.min(self.rows - b * self.rows_per_block)
    }

    pub(crate) fn payload(&self, row: usize) -> &[u8] {
        let b = row / self.rows_per_block;
        let block = &self.blocks[b];
        let decoded = block.decoded.get_or_init(|| {
            decode(block, self.rows_in(b)).unwrap_or_else(|why| {
                let _ = self.damage.set(format!(
                    "{}: payload block {b} (rows {}..{}) is damaged ({why}); those rows read as empty",
                    self.path.display(),
                    b * self.rows_per_block,
                    b * self.rows_per_block + self.rows_in(b)
                ));
                Decoded { spans: vec![(0, EMPTY.len() as u32); self.rows_in(b)], bytes: EMPTY.to_vec() }
            })
        });
        let (a, z) = decoded.spans[row % self.rows_per_block];
        &decoded.bytes[a as usize..z as usize]
    }

    /// Compressed bytes (mapped) and decompressed bytes (held in memory so far).
    pub(crate) fn sizes(&self) -> (usize, usize) {
        let mapped = self.blocks.iter().map(|b| b.compressed.len()).sum();
        let cached = self
            .blocks
            .iter()
            .filter_map(|b| b.decoded.get())
            .map(|d| d.bytes.capacity() + d.spans.capacity() * 8)
            .sum();
        (mapped, cached)
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
pub(crate) fn encode<'a>(rows: std::ops::Range<usize>, payload: impl Fn(usize) -> &'a [u8]) -> Frame {
    let bytes: usize = rows.clone().map(|r| payload(r).len()).sum();
    let mut raw = Vec::with_capacity(rows.len() * 4 + bytes);
    for r in rows.clone() {
        raw.extend_from_slice(&(payload(r).len() as u32).to_le_bytes());
    }
    for r in rows {
        raw.extend_from_slice(payload(r));
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
