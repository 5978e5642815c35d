//! Saving a case larger than memory: sealed *segments*, merged into one case file in a single
//! streaming pass.
//!
//! An ingest that would not fit its memory budget builds one [`Store`] per batch of files and
//! seals each as a segment ([`Store::write_segment`]): a temporary, row-wise, zstd-compressed
//! file holding the batch's rows in store order, already free of duplicates within the batch,
//! with the batch's hot dictionaries up front. [`merge_segments`] then reads every segment
//! front to back at once and writes an ordinary format-2 case file:
//!
//! * rows come out in the store's total order `(eventTime, source file, record index)` by a
//!   k-way merge; source ids are global (the batches' sources one after another, in file order),
//!   so the order and the provenance are those of a single ingest;
//! * the hot dictionaries are the segments' dictionaries interned in segment order: the same ids,
//!   in the same order, as one ingest gives;
//! * a duplicate delivery across segments (same `eventTime`, `eventID` and
//!   `recipientAccountId`) is dropped keeping the first in file order, as one ingest does; only
//!   the rows of one `eventTime` are compared, so this needs no memory that grows with the dump;
//! * the cold dictionaries (`eventID`, `requestID`, `sharedEventID`) are written in the order
//!   rows first use them, as `Store::write_case` does; a repeated value gets the id it was
//!   given while it is among the last [`RECENT`] distinct values of its column;
//! * each section goes to its own temporary file, with its checksum taken on the way, and the
//!   case file is the header, the section table and those files one after another, written
//!   atomically.
//!
//! Memory is that of the dictionaries of the hot columns, a payload block per thread and a
//! reader buffer per segment: it does not grow with the number of rows.

use std::collections::BinaryHeap;

use ahash::AHashMap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use xxhash_rust::xxh3::Xxh3;

use crate::case::{self, CaseError, CaseErrorKind, Kind, Listed, COLD, HEADER_LEN};
use crate::cold;
use crate::conflict::{self, Conflict, Conflicts};
use crate::dict::{Dict, Sym};
use crate::payload::{self, Frame};
use crate::provenance::{RecordRef, SourceId};
use crate::schema::{Field, Flag};
use crate::Store;

const SEGMENT_MAGIC: [u8; 8] = *b"TSSEG\x00\x00\x01";
/// Segments are temporary and read once: fast compression is enough.
const SEGMENT_LEVEL: i32 = 1;
/// 128 KiB: rows are a few hundred bytes, and the merge opens every segment at once.
const SEGMENT_WINDOW_LOG: u32 = 17;
/// A cold column's repeated value keeps its id while it is among this many recent distinct
/// values (real repeats, `sharedEventID` across accounts, are seconds apart).
pub const RECENT: usize = 1 << 18;
const NULL_LEN: u32 = u32::MAX;
const FLAGS: usize = Flag::ALL.len();

fn is_cold(i: usize) -> bool {
    COLD.iter().any(|f| f.index() == i)
}

impl Store {
    /// Seal the store as a segment file at `path` (see the module docs). Returns the bytes written.
    ///
    /// # Errors
    /// [`CaseError`] on I/O failure.
    pub fn write_segment(&self, path: &Path) -> Result<u64, CaseError> {
        let err = |e: io::Error| CaseError { path: path.to_path_buf(), kind: e.into() };
        let file = File::create(path).map_err(err)?;
        let mut w = zstd::stream::Encoder::new(BufWriter::with_capacity(1 << 20, file), SEGMENT_LEVEL).map_err(err)?;
        // The merge holds a decoder per segment, each with a window this large: keep it small.
        w.window_log(SEGMENT_WINDOW_LOG).map_err(err)?;
        self.segment_to(&mut w).map_err(err)?;
        let mut inner = w.finish().map_err(err)?;
        inner.flush().map_err(err)?;
        let f = inner.into_inner().map_err(|e| err(e.into_error()))?;
        Ok(f.metadata().map_err(err)?.len())
    }

    fn segment_to(&self, w: &mut impl Write) -> io::Result<()> {
        let rows = self.len();
        let payload_bytes: usize = (0..rows).map(|r| self.payload(r).len()).sum();
        w.write_all(&SEGMENT_MAGIC)?;
        w.write_all(&(rows as u64).to_le_bytes())?;
        w.write_all(&(payload_bytes as u64).to_le_bytes())?;
        let sources = case::encode_sources(&self.sources);
        w.write_all(&(sources.len() as u64).to_le_bytes())?;
        w.write_all(&sources)?;
        for (_, d) in self.dicts.iter().enumerate().filter(|(i, _)| !is_cold(*i)) {
            w.write_all(&(d.len() as u64).to_le_bytes())?;
            for (_, s) in d.iter() {
                w.write_all(&(s.len() as u32).to_le_bytes())?;
                w.write_all(s.as_bytes())?;
            }
        }
        let cols: Vec<_> = Field::ALL.iter().map(|&f| self.column(f)).collect();
        for row in 0..rows {
            let r = self.refs[row];
            w.write_all(&self.times[row].to_le_bytes())?;
            w.write_all(&r.source.0.to_le_bytes())?;
            w.write_all(&r.index.to_le_bytes())?;
            let flags: [u8; FLAGS] = std::array::from_fn(|f| self.flags[f][row]);
            w.write_all(&flags)?;
            for (i, col) in cols.iter().enumerate() {
                let sym = col.get(row);
                if is_cold(i) {
                    match self.dicts[i].resolve(sym) {
                        Some(s) => {
                            w.write_all(&(s.len() as u32).to_le_bytes())?;
                            w.write_all(s.as_bytes())?;
                        }
                        None => w.write_all(&NULL_LEN.to_le_bytes())?,
                    }
                } else {
                    w.write_all(&sym.0.to_le_bytes())?;
                }
            }
            let p = self.payload(row);
            w.write_all(&(p.len() as u32).to_le_bytes())?;
            w.write_all(&p)?;
        }
        Ok(())
    }
}

/// Bytes of full copies of one second's first deliveries kept for comparison in a segment
/// merge; past it, digests ([`Row::digest`]).
/// (A few rows in unit tests, so that they reach the digests.)
const KEPT_BYTES_PER_SECOND: usize = if cfg!(test) { 512 } else { 256 << 20 };

/// One row read back from a segment, ids already global.
#[derive(Default)]
struct Row {
    time: i64,
    source: u32,
    index: u32,
    flags: [u8; FLAGS],
    hot: [Sym; Field::COUNT],
    cold: [Option<String>; 3],
    payload: Vec<u8>,
}

impl Row {
    /// Become a copy of `other`, reusing this row's buffers (the merge keeps the rows of the
    /// current `eventTime` this way, to compare a re-delivery with the copy kept).
    fn copy_from(&mut self, other: &Row) {
        self.time = other.time;
        self.source = other.source;
        self.index = other.index;
        self.flags = other.flags;
        self.hot = other.hot;
        for (mine, theirs) in self.cold.iter_mut().zip(&other.cold) {
            match (mine.as_mut(), theirs) {
                (Some(m), Some(t)) => m.clone_from(t),
                (_, t) => mine.clone_from(t),
            }
        }
        self.payload.clone_from(&other.payload);
    }

    /// What a copy costs to keep: its strings and payload.
    fn held_bytes(&self) -> usize {
        self.payload.len() + self.cold.iter().flatten().map(String::len).sum::<usize>()
    }

    /// A 128-bit digest of everything compared ([`Row::differences`]), for rows of a time run
    /// past [`KEPT_BYTES_PER_SECOND`].
    fn digest(&self) -> u128 {
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        h.update(&self.time.to_le_bytes());
        h.update(&self.flags);
        for s in &self.hot {
            h.update(&s.0.to_le_bytes());
        }
        for c in &self.cold {
            match c {
                Some(c) => {
                    h.update(&[1]);
                    h.update(&(c.len() as u64).to_le_bytes());
                    h.update(c.as_bytes());
                }
                None => h.update(&[0]),
            }
        }
        h.update(&self.payload);
        h.digest128()
    }

    /// The top-level fields in which `other` (a re-delivery of the same event at the same time)
    /// differs from this row, sorted; see [`conflict::settle`].
    fn differences(&self, other: &Row) -> Vec<String> {
        let mut fields = Vec::new();
        let mut c = 0;
        for (i, f) in Field::ALL.iter().enumerate() {
            let differs = if is_cold(i) {
                c += 1;
                self.cold[c - 1] != other.cold[c - 1]
            } else {
                self.hot[i] != other.hot[i]
            };
            if differs {
                fields.push(conflict::top_level(f.path()).to_owned());
            }
        }
        for (f, flag) in Flag::ALL.iter().enumerate() {
            if self.flags[f] != other.flags[f] {
                fields.push(conflict::top_level(flag.path()).to_owned());
            }
        }
        conflict::payload_differences(&self.payload, &other.payload, &mut fields);
        fields
    }
}

struct Reader {
    /// Buffered after decompression: rows are read a few bytes at a time.
    input: BufReader<zstd::stream::Decoder<'static, BufReader<File>>>,
    left: u64,
    /// Local id → global id, per field (empty for the cold fields).
    remap: Vec<Vec<Sym>>,
    source_base: u32,
    row: Row,
    path: PathBuf,
}

fn u32_of(r: &mut impl Read) -> io::Result<u32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_le_bytes(b))
}

fn u64_of(r: &mut impl Read) -> io::Result<u64> {
    let mut b = [0u8; 8];
    r.read_exact(&mut b)?;
    Ok(u64::from_le_bytes(b))
}

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

fn string_of(r: &mut impl Read, len: u32, out: &mut String) -> io::Result<()> {
    let mut bytes = std::mem::take(out).into_bytes();
    bytes.clear();
    bytes.resize(len as usize, 0);
    r.read_exact(&mut bytes)?;
    *out = String::from_utf8(bytes).map_err(|_| bad("a string is not UTF-8"))?;
    Ok(())
}

impl Reader {
    /// Open a segment; its sources are written to `sources` (encoded as in the case file, without
    /// the count) and counted in `count`, its hot dictionaries interned into `dicts`. Returns the
    /// reader, its rows and its payload bytes.
    fn open(
        path: &Path,
        sources: &mut impl Write,
        count: &mut u64,
        dicts: &mut [Dict],
    ) -> io::Result<(Reader, u64, u64)> {
        // One reader per segment, all open at once: their buffers are what grows with the dump.
        let file = BufReader::with_capacity(32 << 10, File::open(path)?);
        let mut input = BufReader::with_capacity(64 << 10, zstd::stream::Decoder::with_buffer(file)?);
        let mut magic = [0u8; 8];
        input.read_exact(&mut magic)?;
        if magic != SEGMENT_MAGIC {
            return Err(bad("not a segment file"));
        }
        let rows = u64_of(&mut input)?;
        let payload_bytes = u64_of(&mut input)?;
        let len = u64_of(&mut input)?;
        let mut raw = Vec::new();
        (&mut input).take(len).read_to_end(&mut raw)?;
        let mine = case::decode_sources(&raw).ok_or_else(|| bad("malformed source list"))?.len() as u64;
        let source_base = u32::try_from(*count).map_err(|_| bad("more than 4 billion source files"))?;
        // Kept on disk, not in memory: the list grows with the number of files.
        sources.write_all(&raw[8..])?;
        *count += mine;
        let mut remap = vec![Vec::new(); Field::COUNT];
        let mut s = String::new();
        for (i, dict) in dicts.iter_mut().enumerate().filter(|(i, _)| !is_cold(*i)) {
            let n = u64_of(&mut input)?;
            let map = &mut remap[i];
            map.push(Sym::NULL);
            for _ in 1..n {
                let len = u32_of(&mut input)?;
                string_of(&mut input, len, &mut s)?;
                map.push(dict.intern(&s));
            }
        }
        let reader = Reader { input, left: rows, remap, source_base, row: Row::default(), path: path.to_owned() };
        Ok((reader, rows, payload_bytes))
    }

    /// Read the next row into `self.row`; false at the end.
    fn next(&mut self) -> io::Result<bool> {
        if self.left == 0 {
            return Ok(false);
        }
        self.left -= 1;
        let (r, row) = (&mut self.input, &mut self.row);
        row.time = u64_of(r)? as i64;
        row.source = u32_of(r)? + self.source_base;
        row.index = u32_of(r)?;
        r.read_exact(&mut row.flags)?;
        let mut c = 0;
        for i in 0..Field::COUNT {
            let v = u32_of(r)?;
            if is_cold(i) {
                let slot = &mut row.cold[c];
                c += 1;
                if v == NULL_LEN {
                    *slot = None;
                } else {
                    let s = slot.get_or_insert_with(String::new);
                    string_of(r, v, s)?;
                }
            } else {
                row.hot[i] = *self.remap[i].get(v as usize).ok_or_else(|| bad("an id its dictionary lacks"))?;
            }
        }
        let len = u32_of(r)? as usize;
        row.payload.resize(len, 0);
        r.read_exact(&mut row.payload)?;
        Ok(true)
    }
}

/// What [`merge_segments`] wrote.
#[derive(Debug, Default, Clone)]
pub struct MergeSummary {
    /// Rows in the case file.
    pub rows: u64,
    /// Per source file (global [`SourceId`] order): rows dropped as duplicates of a row of an
    /// earlier segment.
    pub duplicates: Vec<u64>,
    /// Per source file, as [`MergeSummary::duplicates`]: of those duplicates, the ones whose
    /// content differs from the copy kept ([`Conflict`]).
    pub conflicts: Vec<u64>,
    /// The conflicting duplicates found across segments (the segments' own were found when
    /// each batch was built).
    pub conflict_list: Conflicts,
    /// How many evidence files (sources) the case file lists; [`MergeSummary::duplicates`] is
    /// indexed by their [`crate::SourceId`].
    pub sources: u64,
    /// First and last `eventTime` (epoch ms).
    pub time_range: Option<(i64, i64)>,
    /// Distinct `recipientAccountId` values, sorted.
    pub accounts: Vec<String>,
    /// Distinct `awsRegion` values, sorted.
    pub regions: Vec<String>,
    /// Size of the case file in bytes.
    pub size: u64,
}

/// A section being written to its own temporary file, checksummed on the way.
struct Section {
    kind: Kind,
    param: u32,
    path: PathBuf,
    out: BufWriter<File>,
    hash: Xxh3,
    len: u64,
}

impl Section {
    fn new(dir: &Path, kind: Kind, param: u32) -> io::Result<Section> {
        let path = dir.join(format!("{}-{param}", kind as u32));
        let out = BufWriter::with_capacity(256 << 10, File::create(&path)?);
        Ok(Section { kind, param, path, out, hash: Xxh3::new(), len: 0 })
    }

    fn put(&mut self, b: &[u8]) -> io::Result<()> {
        self.hash.update(b);
        self.len += b.len() as u64;
        self.out.write_all(b)
    }

    /// A section holding [`case::pack`] of `prefix` followed by the file `raw`, compressed as it
    /// is read (the source list and the manifest grow with the number of evidence files).
    fn packed(dir: &Path, kind: Kind, prefix: &[u8], raw: &Path) -> io::Result<Section> {
        let len = prefix.len() as u64 + std::fs::metadata(raw)?.len();
        let mut s = Section::new(dir, kind, 0)?;
        s.put(&len.to_le_bytes())?;
        let mut z = zstd::stream::Encoder::new(&mut s, payload::ZSTD_LEVEL)?;
        // With the size pledged the frame header carries it, as `pack`'s does.
        z.set_pledged_src_size(Some(len))?;
        z.include_contentsize(true)?;
        z.write_all(prefix)?;
        io::copy(&mut BufReader::with_capacity(1 << 16, File::open(raw)?), &mut z)?;
        z.finish()?;
        Ok(s)
    }
}

impl Write for Section {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.put(b)?;
        Ok(b.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// A cold column being written: its dictionary blocks and its packed ids.
struct ColdOut {
    field: Field,
    /// Recent values and their ids: two generations, the older dropped when the newer fills.
    recent: [AHashMap<String, u32>; 2],
    next_id: u32,
    block: Vec<String>,
    index: Vec<u64>,
    at: u64,
    blocks: Section,
    packed: zstd::stream::Encoder<'static, BufWriter<File>>,
    packed_path: PathBuf,
    packed_hash: Xxh3,
    packed_len: u64,
    prev: u32,
}

impl ColdOut {
    fn new(dir: &Path, field: Field) -> io::Result<ColdOut> {
        let p = field.index() as u32;
        let packed_path = dir.join(format!("packed-{p}"));
        let file = BufWriter::with_capacity(256 << 10, File::create(&packed_path)?);
        Ok(ColdOut {
            field,
            recent: [AHashMap::new(), AHashMap::new()],
            next_id: 1,
            block: Vec::new(),
            index: vec![0, cold::IDS_PER_BLOCK as u64],
            at: 0,
            blocks: Section::new(dir, Kind::ColdBlocks, p)?,
            packed: zstd::stream::Encoder::new(file, payload::ZSTD_LEVEL)?,
            packed_path,
            packed_hash: Xxh3::new(),
            packed_len: 0,
            prev: 0,
        })
    }

    fn push(&mut self, value: Option<&str>) -> io::Result<()> {
        let id = match value {
            None => 0,
            // requestID is one id per row, as `StoreBuilder` gives it.
            Some(s) => {
                match self.recent[0].get(s).or_else(|| self.recent[1].get(s)).filter(|_| !self.field.is_unique()) {
                    Some(&id) => id,
                    None => {
                        let id = self.next_id;
                        self.next_id += 1;
                        if self.recent[0].len() >= RECENT {
                            self.recent.swap(0, 1);
                            self.recent[0].clear();
                        }
                        // A unique column never looks its values up again.
                        if !self.field.is_unique() {
                            self.recent[0].insert(s.to_owned(), id);
                        }
                        self.block.push(s.to_owned());
                        if self.block.len() == cold::IDS_PER_BLOCK {
                            self.flush_block()?;
                        }
                        id
                    }
                }
            }
        };
        let delta = id.wrapping_sub(self.prev).to_le_bytes();
        self.prev = id;
        self.packed_hash.update(&delta);
        self.packed_len += 4;
        self.packed.write_all(&delta)
    }

    fn flush_block(&mut self) -> io::Result<()> {
        if self.block.is_empty() {
            return Ok(());
        }
        let frame = cold::encode(0..self.block.len(), |i| &self.block[i]);
        self.blocks.put(&frame.0)?;
        case::index_frames(&mut self.index, std::slice::from_ref(&frame));
        // `index_frames` counts from 0: place this frame after the earlier ones.
        let n = self.index.len();
        self.index[n - 4] = self.at;
        self.at += frame.0.len() as u64;
        self.block.clear();
        Ok(())
    }
}

/// Merge sealed segments (in file order) into one case file at `path`, written atomically; the
/// manifest is made by `manifest` once the merge knows what it dropped. Segments are left in
/// place (the caller removes them).
///
/// # Errors
/// [`CaseError`] naming the case file, or the segment that could not be read.
pub fn merge_segments(
    segments: &[PathBuf],
    path: &Path,
    manifest: impl FnOnce(&MergeSummary) -> Vec<u8>,
) -> Result<MergeSummary, CaseError> {
    merge_segments_streaming(segments, path, |s, w| w.write_all(&manifest(s)))
}

/// [`merge_segments`], the manifest written by `manifest` to a temporary file beside the case
/// file rather than returned whole: the manifest of a large dump lists hundreds of thousands of
/// files, and is packed into the case file as it is read back.
///
/// # Errors
/// [`CaseError`] naming the case file (also when `manifest` fails), or the segment that could
/// not be read.
pub fn merge_segments_streaming(
    segments: &[PathBuf],
    path: &Path,
    manifest: impl FnOnce(&MergeSummary, &mut dyn Write) -> io::Result<()>,
) -> Result<MergeSummary, CaseError> {
    let err = |e: io::Error| CaseError { path: path.to_path_buf(), kind: CaseErrorKind::Io(e) };
    path.file_name().ok_or_else(|| err(io::ErrorKind::InvalidInput.into()))?;
    let dir = crate::case::CaseTemporaries::of(path).sections;
    std::fs::create_dir_all(&dir).map_err(err)?;
    let result = merge_into(segments, path, &dir, manifest);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn merge_into(
    segments: &[PathBuf],
    path: &Path,
    dir: &Path,
    manifest: impl FnOnce(&MergeSummary, &mut dyn Write) -> io::Result<()>,
) -> Result<MergeSummary, CaseError> {
    let err = |e: io::Error| CaseError { path: path.to_path_buf(), kind: CaseErrorKind::Io(e) };
    // Segments first: global sources and hot dictionaries, in segment (file) order.
    let sources_raw = dir.join("sources.raw");
    let mut sources = BufWriter::with_capacity(1 << 16, File::create(&sources_raw).map_err(err)?);
    let mut source_count = 0u64;
    let mut dicts: Vec<Dict> = (0..Field::COUNT).map(|_| Dict::new()).collect();
    let mut readers = Vec::with_capacity(segments.len());
    let (mut rows_in, mut payload_in) = (0u64, 0u64);
    for seg in segments {
        let (r, rows, bytes) = Reader::open(seg, &mut sources, &mut source_count, &mut dicts).map_err(|e| {
            CaseError { path: seg.clone(), kind: CaseErrorKind::Corrupt(format!("segment unreadable: {e}")) }
        })?;
        readers.push(r);
        rows_in += rows;
        payload_in += bytes;
    }
    sources.flush().map_err(err)?;
    drop(sources);
    let per_block = payload::rows_per_block(payload_in as usize, rows_in as usize);
    let width = |d: &Dict| match d.len() {
        n if n <= 1 << 8 => 1,
        n if n <= 1 << 16 => 2,
        _ => 4,
    };

    let mut times = Section::new(dir, Kind::Times, 0).map_err(err)?;
    let mut syms: Vec<Option<Section>> = (0..Field::COUNT)
        .map(|i| (!is_cold(i)).then(|| Section::new(dir, Kind::Syms, i as u32)).transpose())
        .collect::<io::Result<_>>()
        .map_err(err)?;
    let widths: Vec<usize> = dicts.iter().map(width).collect();
    let mut flags: Vec<Section> =
        (0..FLAGS).map(|f| Section::new(dir, Kind::Flags, f as u32)).collect::<io::Result<_>>().map_err(err)?;
    let mut refs = Section::new(dir, Kind::RecordRefs, 0).map_err(err)?;
    let mut colds: Vec<ColdOut> = COLD.iter().map(|&f| ColdOut::new(dir, f)).collect::<io::Result<_>>().map_err(err)?;
    let mut blocks = Section::new(dir, Kind::PayloadBlocks, 0).map_err(err)?;
    let mut payload_index: Vec<u64> = Vec::new();
    let mut payload_at = 0u64;
    // Payload blocks waiting to be compressed, several at once on all cores.
    let batch = 4 * rayon::current_num_threads().max(1);
    let mut pending: Vec<Vec<u8>> = Vec::new();
    let mut block_lens: Vec<u8> = Vec::new();
    let mut block_bytes: Vec<u8> = Vec::new();
    let mut block_rows = 0usize;
    let mut flush_pending = |pending: &mut Vec<Vec<u8>>, blocks: &mut Section| -> io::Result<()> {
        let frames: Vec<Frame> = pending
            .par_iter()
            .map(|raw| (payload::compress(raw), raw.len() as u32, xxhash_rust::xxh3::xxh3_64(raw)))
            .collect();
        for f in &frames {
            blocks.put(&f.0)?;
            payload_index.extend([payload_at, f.0.len() as u64, u64::from(f.1), f.2]);
            payload_at += f.0.len() as u64;
        }
        pending.clear();
        Ok(())
    };

    let mut summary = MergeSummary {
        duplicates: vec![0; source_count as usize],
        conflicts: vec![0; source_count as usize],
        sources: source_count,
        ..Default::default()
    };
    let mut used_accounts = vec![false; dicts[Field::RecipientAccount.index()].len()];
    let mut used_regions = vec![false; dicts[Field::AwsRegion.index()].len()];
    let mut heap = BinaryHeap::new();
    for (k, r) in readers.iter_mut().enumerate() {
        if r.next().map_err(|e| seg_err(&r.path, e))? {
            heap.push(std::cmp::Reverse((r.row.time, r.row.source, r.row.index, k)));
        }
    }
    // Deliveries of the current `eventTime`: (eventID, recipientAccountId id) → the row kept,
    // a copy in `kept` (whose buffers are reused from one time to the next). Past
    // KEPT_BYTES_PER_SECOND of copies in one run (hostile evidence can put millions of events in
    // one second), a row is kept as its digest and position only (`digests`): memory stays
    // bounded, and a differing re-delivery is still reported, without the fields named.
    let mut run_time = i64::MIN;
    let mut run: AHashMap<(String, Sym), usize> = AHashMap::new();
    let mut kept: Vec<Row> = Vec::new();
    let mut digests: Vec<Option<(u128, u32, u32)>> = Vec::new();
    let mut kept_bytes = 0usize;
    let (event_id, account) =
        (COLD.iter().position(|f| *f == Field::EventId).expect("eventID is cold"), Field::RecipientAccount.index());
    while let Some(std::cmp::Reverse((time, _, _, k))) = heap.pop() {
        let row = &readers[k].row;
        if time != run_time {
            run_time = time;
            run.clear();
            kept_bytes = 0;
        }
        let duplicate = match &row.cold[event_id] {
            Some(id) => {
                let next = run.len();
                match run.entry((id.clone(), row.hot[account])) {
                    std::collections::hash_map::Entry::Occupied(e) => Some(*e.get()),
                    std::collections::hash_map::Entry::Vacant(e) => {
                        e.insert(next);
                        if kept.len() <= next {
                            kept.push(Row::default());
                            digests.push(None);
                        }
                        if kept_bytes + row.held_bytes() <= KEPT_BYTES_PER_SECOND {
                            kept_bytes += row.held_bytes();
                            kept[next].copy_from(row);
                            digests[next] = None;
                        } else {
                            digests[next] = Some((row.digest(), row.source, row.index));
                        }
                        None
                    }
                }
            }
            None => None,
        };
        if let Some(at) = duplicate {
            summary.duplicates[row.source as usize] += 1;
            // Only a re-delivery is compared with the copy kept: the cost follows the duplicates.
            let (mut fields, first) = match digests[at] {
                None => (kept[at].differences(row), (kept[at].source, kept[at].index)),
                Some((digest, source, index)) => {
                    let fields = if row.digest() == digest { Vec::new() } else { vec![conflict::NOT_NAMED.to_owned()] };
                    (fields, (source, index))
                }
            };
            if conflict::settle(&mut fields) {
                summary.conflicts[row.source as usize] += 1;
                let acct = row.hot[account];
                let kept = RecordRef { source: SourceId(first.0), index: first.1 };
                let other = RecordRef { source: SourceId(row.source), index: row.index };
                summary.conflict_list.note(other, kept, || Conflict {
                    event_id: row.cold[event_id].clone().unwrap_or_default(),
                    account: (!acct.is_null()).then(|| dicts[account].get(acct).to_owned()),
                    kept,
                    other,
                    fields,
                });
            }
        } else {
            (|| -> io::Result<()> {
                times.put(&row.time.to_le_bytes())?;
                for (i, s) in syms.iter_mut().enumerate() {
                    if let Some(s) = s {
                        s.put(&row.hot[i].0.to_le_bytes()[..widths[i]])?;
                    }
                }
                for (f, s) in flags.iter_mut().enumerate() {
                    s.put(&[row.flags[f]])?;
                }
                refs.put(&row.source.to_le_bytes())?;
                refs.put(&row.index.to_le_bytes())?;
                for (c, out) in colds.iter_mut().enumerate() {
                    out.push(row.cold[c].as_deref())?;
                }
                block_lens.extend_from_slice(&(row.payload.len() as u32).to_le_bytes());
                block_bytes.extend_from_slice(&row.payload);
                block_rows += 1;
                if block_rows == per_block {
                    let mut raw = std::mem::take(&mut block_lens);
                    raw.extend_from_slice(&block_bytes);
                    block_bytes.clear();
                    block_rows = 0;
                    pending.push(raw);
                    if pending.len() >= batch {
                        flush_pending(&mut pending, &mut blocks)?;
                    }
                }
                Ok(())
            })()
            .map_err(err)?;
            used_accounts[row.hot[account].index()] = true;
            used_regions[row.hot[Field::AwsRegion.index()].index()] = true;
            summary.time_range = Some((summary.time_range.map_or(time, |r| r.0), time));
            summary.rows += 1;
        }
        let r = &mut readers[k];
        if r.next().map_err(|e| seg_err(&r.path, e))? {
            heap.push(std::cmp::Reverse((r.row.time, r.row.source, r.row.index, k)));
        }
    }
    drop(run);
    if block_rows > 0 {
        let mut raw = std::mem::take(&mut block_lens);
        raw.extend_from_slice(&block_bytes);
        pending.push(raw);
    }
    flush_pending(&mut pending, &mut blocks).map_err(err)?;
    for c in &mut colds {
        c.flush_block().map_err(err)?;
    }
    drop(readers);

    let used = |d: &Dict, used: &[bool]| {
        let mut v: Vec<String> = d.iter().filter(|(s, _)| used[s.index()]).map(|(_, s)| s.to_owned()).collect();
        v.sort();
        v.dedup();
        v
    };
    summary.accounts = used(&dicts[account], &used_accounts);
    summary.regions = used(&dicts[Field::AwsRegion.index()], &used_regions);
    let rows = summary.rows;
    let blocks_n = payload_index.len() / 4;
    let unindexed: u64 =
        colds.iter().filter(|c| c.field.is_unique() && c.next_id > 1).map(|c| 1u64 << c.field.index()).sum();
    let meta: Vec<u64> = vec![rows, Field::COUNT as u64, FLAGS as u64, blocks_n as u64, unindexed, per_block as u64];
    let manifest_raw = dir.join("manifest.raw");
    (|| -> io::Result<()> {
        let mut w = BufWriter::with_capacity(1 << 16, File::create(&manifest_raw)?);
        manifest(&summary, &mut w)?;
        w.flush()
    })()
    .map_err(err)?;

    // The small sections are written here; every section then lists in `write_case`'s order.
    let small = |kind: Kind, param: u32, bytes: &[u8]| -> io::Result<Section> {
        let mut s = Section::new(dir, kind, param)?;
        s.put(bytes)?;
        Ok(s)
    };
    let assembled = (|| -> io::Result<Vec<(Section, Vec<u8>)>> {
        let mut out: Vec<(Section, Vec<u8>)> = Vec::new();
        out.push((small(Kind::Meta, 0, bytemuck::cast_slice(&meta))?, Vec::new()));
        out.push((times, Vec::new()));
        let mut packed_of: Vec<Option<(Section, Vec<u8>)>> = (0..Field::COUNT).map(|_| None).collect();
        let mut cold_of: Vec<Option<(Section, Section)>> = (0..Field::COUNT).map(|_| None).collect();
        for c in colds {
            let i = c.field.index();
            let mut file = c.packed.finish()?;
            file.flush()?;
            drop(file);
            // The packed column's head (raw length and checksum) is known only now: it goes in
            // front of the frame, and the section's checksum is taken over both when listed.
            let head = [c.packed_len.to_le_bytes(), c.packed_hash.digest().to_le_bytes()].concat();
            let packed = Section {
                kind: Kind::PackedSyms,
                param: i as u32,
                out: BufWriter::new(File::open(&c.packed_path)?),
                path: c.packed_path,
                hash: Xxh3::new(),
                len: 0,
            };
            packed_of[i] = Some((packed, head));
            let mut index = c.index;
            index[0] = u64::from(c.next_id);
            cold_of[i] = Some((small(Kind::ColdIndex, i as u32, bytemuck::cast_slice(&index))?, c.blocks));
        }
        for (i, s) in syms.into_iter().enumerate() {
            match s {
                Some(s) => out.push((s, Vec::new())),
                None => out.push(packed_of[i].take().expect("a cold column")),
            }
        }
        out.extend(flags.into_iter().map(|s| (s, Vec::new())));
        out.push((refs, Vec::new()));
        for (i, d) in dicts.iter().enumerate() {
            if let Some((index, frames)) = cold_of[i].take() {
                out.push((index, Vec::new()));
                out.push((frames, Vec::new()));
                continue;
            }
            let (bytes, offsets, _) = d.parts();
            out.push((small(Kind::DictBytes, i as u32, bytes)?, Vec::new()));
            out.push((small(Kind::DictOffsets, i as u32, bytemuck::cast_slice(offsets))?, Vec::new()));
        }
        out.push((Section::packed(dir, Kind::Sources, &source_count.to_le_bytes(), &sources_raw)?, Vec::new()));
        std::fs::remove_file(&sources_raw)?;
        out.push((Section::packed(dir, Kind::Manifest, &[], &manifest_raw)?, Vec::new()));
        std::fs::remove_file(&manifest_raw)?;
        out.push((small(Kind::PayloadIndex, 0, bytemuck::cast_slice(&payload_index))?, Vec::new()));
        out.push((blocks, Vec::new()));
        Ok(out)
    })()
    .map_err(err)?;
    drop(dicts);

    // Close every section file and list it (the packed columns are hashed with their head).
    let mut listed = Vec::with_capacity(assembled.len());
    let mut parts = Vec::with_capacity(assembled.len());
    for (mut s, head) in assembled {
        s.out.flush().map_err(err)?;
        drop(s.out);
        let (len, sum) = if head.is_empty() {
            (s.len, s.hash.digest())
        } else {
            let mut h = Xxh3::new();
            h.update(&head);
            let mut f = BufReader::new(File::open(&s.path).map_err(err)?);
            let mut buf = vec![0u8; 1 << 16];
            let mut len = head.len() as u64;
            loop {
                let n = f.read(&mut buf).map_err(err)?;
                if n == 0 {
                    break;
                }
                h.update(&buf[..n]);
                len += n as u64;
            }
            (len, h.digest())
        };
        listed.push(Listed { kind: s.kind, param: s.param, len, sum });
        parts.push((s.path, head));
    }
    let (header, table, offsets, file_len) = case::header_and_table(&listed);
    summary.size = case::write_atomically(path, |w| {
        w.write_all(&header)?;
        w.write_all(&table)?;
        let mut at = (HEADER_LEN + table.len()) as u64;
        for ((file, head), (&start, l)) in parts.iter().zip(offsets.iter().zip(&listed)) {
            w.write_all(&[0u8; 8][..(start - at) as usize])?;
            w.write_all(head)?;
            let n = io::copy(&mut File::open(file)?, w)?;
            if n + head.len() as u64 != l.len {
                return Err(bad(format!("section file {} changed while merging", file.display())));
            }
            std::fs::remove_file(file)?;
            at = start + l.len;
        }
        w.write_all(&[0u8; 8][..(file_len - at) as usize])?;
        w.flush()?;
        Ok(file_len)
    })?;
    Ok(summary)
}

fn seg_err(path: &Path, e: io::Error) -> CaseError {
    CaseError { path: path.to_owned(), kind: CaseErrorKind::Corrupt(format!("segment unreadable: {e}")) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provenance::SourceFile;
    use crate::{CaseFile, ChunkBuilder, RowValues, StoreBuilder};

    /// File `f`'s rows: times interleave across files, file 3 re-delivers two rows of file 0
    /// (same time, eventID and account), sharedEventIDs repeat across files, and the accounts
    /// and user agents first appear in different files.
    fn chunk(f: u32) -> ChunkBuilder {
        let mut c = ChunkBuilder::new();
        for i in 0..40u32 {
            let (file, row) = if f == 3 && i < 2 { (0, i) } else { (f, i) };
            let id = format!("e-{file}-{row}");
            let req = format!("r-{}", row % 7);
            let shared = format!("s-{}", row % 5);
            let agent = format!("agent-{}", (file + row) % 9);
            let payload = format!(r#"{{"requestParameters":{{"n":{row},"f":{file}}}}}"#);
            let mut r = RowValues {
                time_ms: 1_700_000_000_000 + i64::from(row * 1000 + (file % 2) * 500),
                index: i,
                ..Default::default()
            };
            r.payload = payload.as_bytes();
            r.strings[Field::EventName.index()] = Some(["GetObject", "ListBuckets", "CreateUser"][(row % 3) as usize]);
            r.strings[Field::EventId.index()] = Some(&id);
            r.strings[Field::RequestId.index()] = (row % 4 != 0).then_some(req.as_str());
            r.strings[Field::SharedEventId.index()] = (row % 3 == 0).then_some(shared.as_str());
            r.strings[Field::RecipientAccount.index()] = Some(["111122223333", "444455556666"][(file % 2) as usize]);
            r.strings[Field::AwsRegion.index()] = Some("eu-west-1");
            r.strings[Field::UserAgent.index()] = Some(&agent);
            r.flags[Flag::ReadOnly.index()] = Some(row % 2 == 0);
            c.push(&r).unwrap();
        }
        c
    }

    fn source(f: u32) -> SourceFile {
        SourceFile { path: format!("f{f}.json"), size: 100 + u64::from(f), sha256: String::new() }
    }

    fn build(files: std::ops::Range<u32>) -> Store {
        let mut b = StoreBuilder::new();
        for f in files {
            let s = b.add_source(source(f));
            b.add_chunk(s, chunk(f));
        }
        b.finish()
    }

    #[test]
    fn merged_segments_read_as_the_store_of_one_ingest() {
        let dir = tempfile::tempdir().unwrap();
        let whole = build(0..6);
        let one = dir.path().join("one.tscase");
        whole.save_case(&one, b"{}").unwrap();
        let segments: Vec<PathBuf> = [0..2, 2..4, 4..6]
            .into_iter()
            .enumerate()
            .map(|(k, files)| {
                let p = dir.path().join(format!("seg-{k}"));
                build(files).write_segment(&p).unwrap();
                p
            })
            .collect();
        let merged = dir.path().join("merged.tscase");
        let summary = merge_segments(&segments, &merged, |s| format!("{}", s.rows).into_bytes()).unwrap();
        let (a, b) = (CaseFile::open(&one).unwrap(), CaseFile::open(&merged).unwrap());
        let (a, b) = (&a.store, &b.store);
        // File 3's re-deliveries of file 0 were dropped, and counted against file 3.
        assert_eq!(a.len(), 6 * 40 - 2);
        assert_eq!(b.len(), a.len());
        assert_eq!(summary.rows as usize, a.len());
        assert_eq!(summary.duplicates, [0, 0, 0, 2, 0, 0]);
        assert_eq!(CaseFile::open(&merged).unwrap().manifest, format!("{}", a.len()).into_bytes());
        assert_eq!(summary.accounts, ["111122223333", "444455556666"]);
        assert_eq!(summary.time_range, Some((a.times()[0], *a.times().last().unwrap())));
        assert_eq!(b.sources(), a.sources());
        assert_eq!(b.times(), a.times());
        for f in Field::ALL {
            if COLD.contains(&f) {
                assert_eq!(b.dict(f).len(), a.dict(f).len(), "{f:?}");
            } else {
                assert_eq!(b.dict(f).iter().collect::<Vec<_>>(), a.dict(f).iter().collect::<Vec<_>>(), "{f:?}");
            }
            assert_eq!(b.column(f), a.column(f), "{f:?}");
        }
        for row in 0..a.len() {
            assert_eq!(b.event(row).to_json(), a.event(row).to_json());
            assert_eq!(b.record_ref(row), a.record_ref(row));
        }
        // The merge leaves no section file behind; the segments are the caller's.
        let mut names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        names.sort();
        assert_eq!(names, ["merged.tscase", "one.tscase", "seg-0", "seg-1", "seg-2"]);
    }

    /// `(eventID, seconds after the hour, sourceIPAddress)` of each record of one file.
    fn deliveries(records: &[(&str, i64, &str)]) -> ChunkBuilder {
        let mut c = ChunkBuilder::new();
        for (i, (id, secs, ip)) in records.iter().enumerate() {
            let mut r = RowValues { time_ms: 1_714_557_600_000 + secs * 1000, index: i as u32, ..Default::default() };
            r.payload = br#"{"requestParameters":{"userName":"alice"}}"#;
            r.strings[Field::EventId.index()] = Some(id);
            r.strings[Field::EventName.index()] = Some("CreateUser");
            r.strings[Field::SourceIp.index()] = Some(ip);
            r.strings[Field::RecipientAccount.index()] = Some("111122223333");
            c.push(&r).unwrap();
        }
        c
    }

    /// Each file's deliveries sealed as a segment of its own, then merged.
    fn merged_one_file_a_segment(files: &[&[(&str, i64, &str)]]) -> MergeSummary {
        let dir = tempfile::tempdir().unwrap();
        let segments: Vec<PathBuf> = files
            .iter()
            .enumerate()
            .map(|(f, records)| {
                let mut b = StoreBuilder::new();
                let s = b.add_source(source(f as u32));
                b.add_chunk(s, deliveries(records));
                let p = dir.path().join(format!("seg-{f}"));
                b.finish().write_segment(&p).unwrap();
                p
            })
            .collect();
        merge_segments(&segments, &dir.path().join("c.tscase"), |_| b"{}".to_vec()).unwrap()
    }

    #[test]
    fn past_the_copies_of_one_second_re_deliveries_are_compared_by_digest() {
        let ids: Vec<String> = (0..40).map(|i| format!("e{i}")).collect();
        let first: Vec<(&str, i64, &str)> = ids.iter().map(|id| (id.as_str(), 0, "198.51.100.10")).collect();
        let mut second = first.clone();
        // One altered copy among the rows copied whole, one among those kept as digests.
        second[5].2 = "203.0.113.66";
        second[35].2 = "203.0.113.66";
        let summary = merged_one_file_a_segment(&[&first, &second]);
        assert_eq!(
            (summary.rows, summary.duplicates.as_slice(), summary.conflicts.as_slice()),
            (40, &[0, 40][..], &[0, 2][..])
        );
        let mut found: Vec<(String, Vec<String>, RecordRef)> =
            summary.conflict_list.listed.into_iter().map(|c| (c.event_id, c.fields, c.kept)).collect();
        found.sort();
        assert_eq!(
            found,
            [
                ("e35".into(), vec![conflict::NOT_NAMED.to_owned()], RecordRef { source: SourceId(0), index: 35 }),
                ("e5".into(), vec!["sourceIPAddress".to_owned()], RecordRef { source: SourceId(0), index: 5 }),
            ]
        );
    }

    #[test]
    fn conflicts_across_segments_are_found_at_the_same_event_time_only() {
        let first: &[(&str, i64, &str)] =
            &[("e1", 0, "198.51.100.10"), ("e2", 0, "198.51.100.10"), ("e3", 0, "198.51.100.10")];
        // e1 re-delivered as it was, e2 from another address, e3 moved one second later.
        let second: &[(&str, i64, &str)] =
            &[("e1", 0, "198.51.100.10"), ("e2", 0, "203.0.113.66"), ("e3", 1, "198.51.100.10")];
        // One ingest of both files compares every re-delivery.
        let mut b = StoreBuilder::new();
        for (f, records) in [first, second].into_iter().enumerate() {
            let s = b.add_source(source(f as u32));
            b.add_chunk(s, deliveries(records));
        }
        let at_once: Vec<(String, Vec<String>)> =
            b.take_conflicts().listed.into_iter().map(|c| (c.event_id, c.fields)).collect();
        assert_eq!(at_once, [("e2".into(), vec!["sourceIPAddress".into()]), ("e3".into(), vec!["eventTime".into()])]);
        // In segments, one file each: only rows of one eventTime are compared, so the copy of e3
        // moved to another second is kept as an event of its own.
        let summary = merged_one_file_a_segment(&[first, second]);
        assert_eq!(
            (summary.rows, summary.duplicates.as_slice(), summary.conflicts.as_slice()),
            (4, &[0, 2][..], &[0, 1][..])
        );
        let c = &summary.conflict_list.listed[..];
        assert_eq!(summary.conflict_list.total, 1);
        assert_eq!((c[0].event_id.as_str(), c[0].account.as_deref()), ("e2", Some("111122223333")));
        assert_eq!(
            (c[0].kept, c[0].other),
            (RecordRef { source: SourceId(0), index: 1 }, RecordRef { source: SourceId(1), index: 1 })
        );
        assert_eq!(c[0].fields, ["sourceIPAddress"]);
    }

    #[test]
    fn a_section_packed_from_a_file_unpacks_to_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let sources: Vec<SourceFile> = (0..5000).map(source).collect();
        let encoded = case::encode_sources(&sources);
        let raw = dir.path().join("sources.raw");
        std::fs::write(&raw, &encoded[8..]).unwrap();
        let mut s = Section::packed(dir.path(), Kind::Sources, &encoded[..8], &raw).unwrap();
        s.flush().unwrap();
        let bytes = std::fs::read(&s.path).unwrap();
        // The frame is not the one `pack` makes of the bytes at once (zstd's one-shot mode splits
        // blocks differently) but holds the same bytes.
        assert_eq!(case::unpack(&bytes).unwrap(), encoded);
        assert_eq!((s.len, s.hash.digest()), (bytes.len() as u64, xxhash_rust::xxh3::xxh3_64(&bytes)));
        assert_eq!(case::decode_sources(&case::unpack(&bytes).unwrap()).unwrap(), sources);
    }

    #[test]
    fn a_failing_manifest_writer_fails_the_merge_naming_the_case_file() {
        let dir = tempfile::tempdir().unwrap();
        let seg = dir.path().join("seg-0");
        build(0..2).write_segment(&seg).unwrap();
        let out = dir.path().join("c.tscase");
        let e = merge_segments_streaming(std::slice::from_ref(&seg), &out, |_, _| Err(io::Error::other("spill gone")))
            .unwrap_err();
        assert_eq!(e.path, out);
        assert!(e.to_string().contains("spill gone"), "{e}");
        assert!(!out.exists());
        let mut names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        names.sort();
        assert_eq!(names, ["seg-0"]);
    }

    #[test]
    fn a_damaged_segment_is_refused_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let seg = dir.path().join("seg-0");
        build(0..2).write_segment(&seg).unwrap();
        let bytes = std::fs::read(&seg).unwrap();
        std::fs::write(&seg, &bytes[..bytes.len() / 2]).unwrap();
        let out = dir.path().join("c.tscase");
        let e = merge_segments(std::slice::from_ref(&seg), &out, |_| Vec::new()).unwrap_err();
        assert_eq!(e.path, seg);
        assert!(e.to_string().contains("segment unreadable"), "{e}");
        assert!(!out.exists());
    }
}
