//! The case file: a [`Store`] saved as one file and opened again by mapping it.
//!
//! Layout (every integer little-endian, every section 8-byte aligned so that fixed-width columns
//! are read in place from the mapping):
//!
//! | offset | size | field |
//! |---:|---:|---|
//! | 0 | 8 | magic [`MAGIC`] |
//! | 8 | 4 | format version ([`FORMAT_VERSION`]) |
//! | 12 | 4 | header flags (0; reserved) |
//! | 16 | 8 | file length |
//! | 24 | 4 | section count N |
//! | 28 | 4 | reserved (0) |
//! | 32 | 8 | XXH3-64 of the header (this field as 0) and the section table |
//! | 40 | 8 | reserved (0) |
//! | 48 | N × 40 | section table: kind u32, param u32, flags u32, reserved u32, offset u64, length u64, XXH3-64 of the section u64 |
//!
//! Section kinds are listed in `Kind`; `param` is the column's index where a kind has one
//! section per column. A section whose flags have bit 0 set is optional: a reader that does not
//! know its kind skips it; an unknown section without that bit is refused. Opening checks the
//! magic, the version (a newer one, or format 1, is refused before anything else is read), the
//! length, every checksum, and every structural invariant the store relies on (ids within their
//! dictionary, offsets within their buffers, dictionary strings valid UTF-8, blocks covering
//! their sections), so a damaged file is refused, never misread.
//!
//! Format 2 keeps what payload-free rules read uncompressed and in place (times, flags, the
//! string columns at 1, 2 or 4 bytes a row, their dictionaries) and compresses the rest with
//! zstd, in blocks decompressed on first use: the payloads (module `payload`), the
//! `eventID`/`requestID`/`sharedEventID` dictionaries (module `cold`), and the manifest and source
//! list (unpacked at open). docs/design.md has the table of section kinds.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytemuck::Pod;
use memmap2::{Mmap, MmapOptions};
use rayon::prelude::*;
use xxhash_rust::xxh3::{xxh3_64, Xxh3};

use crate::cold::{self, Cold, ColdBlock};
use crate::column::Column;
use crate::dict::{Dict, Sym};
use crate::ids::{self, Ids, Packed};
use crate::payload::{self, Block, Blocks, Damage, Frame, Payloads};
use crate::provenance::{RecordRef, SourceFile};
use crate::schema::{Field, Flag};
use crate::Store;

/// The first eight bytes of a case file. The non-ASCII first byte and the line feed catch
/// transfers that alter bytes (as PNG's signature does).
pub const MAGIC: [u8; 8] = *b"\x89TSCASE\n";

/// The format version this build writes and the newest it reads.
pub const FORMAT_VERSION: u32 = 2;

pub(crate) const HEADER_LEN: usize = 48;
pub(crate) const ENTRY_LEN: usize = 40;
/// Section flag: readers that do not know the kind may skip the section.
const OPTIONAL: u32 = 1;

/// Section kinds. Numbers of kinds that a format no longer writes are not reused (format 1's
/// payload references 6, payload bytes 9 and payload chunks 10).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum Kind {
    /// `u64`s: rows, string columns, flag columns, payload blocks, bit mask of unindexed
    /// dictionaries, rows per payload block.
    Meta = 1,
    /// `i64` per row.
    Times = 2,
    /// A [`crate::Sym`] per row, one, two or four bytes each (the section's length over the rows);
    /// `param` is the [`Field`] index.
    Syms = 3,
    /// `u8` per row; `param` is the [`Flag`] index.
    Flags = 4,
    /// [`RecordRef`] (two `u32`) per row.
    RecordRefs = 5,
    /// A dictionary's string bytes; `param` is the [`Field`] index.
    DictBytes = 7,
    /// A dictionary's `u64` end offsets (ids + 1 of them, the first 0); `param` as above.
    DictOffsets = 8,
    /// Source files, packed (`u64` length, then a zstd frame) as they repeat paths: `u64` count,
    /// then per file `u64` size, `u32` path length, `u32` hash length, path bytes, hash bytes.
    Sources = 11,
    /// Bytes the caller saved with the store (the evidence manifest), packed as `Sources`; the
    /// store does not read them.
    Manifest = 12,
    /// The payload blocks' zstd frames, one after another (module `payload`).
    PayloadBlocks = 13,
    /// Per payload block four `u64`: start in `PayloadBlocks`, compressed length, decompressed
    /// length, XXH3-64 of the decompressed bytes.
    PayloadIndex = 14,
    /// A cold dictionary's zstd frames (module `cold`), in place of `DictBytes` and
    /// `DictOffsets`; `param` is the [`Field`] index.
    ColdBlocks = 15,
    /// A cold dictionary's `u64` ids (the null id included) and ids per block, then per block
    /// the four `u64` of a `PayloadIndex` entry; `param` as above.
    ColdIndex = 16,
    /// A packed column (module `ids`) in place of `Syms`, for the cold dictionaries' columns:
    /// `u64` raw length, `u64` XXH3-64 of the raw bytes, then the zstd frame of the `u32`
    /// differences of neighbouring ids; `param` is the [`Field`] index.
    PackedSyms = 17,
}

impl Kind {
    const ALL: [Kind; 14] = [
        Kind::Meta,
        Kind::Times,
        Kind::Syms,
        Kind::Flags,
        Kind::RecordRefs,
        Kind::DictBytes,
        Kind::DictOffsets,
        Kind::Sources,
        Kind::Manifest,
        Kind::PayloadBlocks,
        Kind::PayloadIndex,
        Kind::ColdBlocks,
        Kind::ColdIndex,
        Kind::PackedSyms,
    ];

    fn name(self) -> &'static str {
        match self {
            Kind::Meta => "meta",
            Kind::Times => "times",
            Kind::Syms => "column",
            Kind::Flags => "flags",
            Kind::RecordRefs => "provenance",
            Kind::DictBytes => "dictionary-bytes",
            Kind::DictOffsets => "dictionary-offsets",
            Kind::Sources => "sources",
            Kind::Manifest => "manifest",
            Kind::PayloadBlocks => "payload-blocks",
            Kind::PayloadIndex => "payload-index",
            Kind::ColdBlocks => "cold-dictionary",
            Kind::ColdIndex => "cold-dictionary-index",
            Kind::PackedSyms => "packed-column",
        }
    }

    /// The section's name for messages: `column eventName`, `times`.
    fn label(self, param: u32) -> String {
        match self {
            Kind::Syms
            | Kind::DictBytes
            | Kind::DictOffsets
            | Kind::ColdBlocks
            | Kind::ColdIndex
            | Kind::PackedSyms => {
                let field = Field::ALL.get(param as usize).map_or("?", |f| f.path());
                format!("{} {field}", self.name())
            }
            Kind::Flags => format!("{} {}", self.name(), Flag::ALL.get(param as usize).map_or("?", |f| f.path())),
            _ => self.name().to_owned(),
        }
    }
}

/// Why a case file could not be saved or opened, with the file it concerns.
#[derive(Debug, thiserror::Error)]
#[error("{}: {kind}", path.display())]
pub struct CaseError {
    /// The case file.
    pub path: PathBuf,
    /// What is wrong.
    pub kind: CaseErrorKind,
}

/// What is wrong with a case file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaseErrorKind {
    /// Reading or writing failed.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The file does not start with [`MAGIC`].
    #[error("not a trailscope case file (wrong magic bytes)")]
    BadMagic,
    /// Written by a newer trailscope.
    #[error("case file format version {found} is newer than this trailscope reads (up to {supported}); open it with a newer trailscope")]
    NewerVersion {
        /// The file's version.
        found: u32,
        /// The newest this build reads.
        supported: u32,
    },
    /// Written by an older trailscope, in a format this build no longer reads.
    #[error("written by an older trailscope (case format {found}; this trailscope reads format {supported}); re-run `trailscope ingest EVIDENCE... --save CASE` on the evidence to make it again")]
    OlderVersion {
        /// The file's version.
        found: u32,
        /// The only version this build reads.
        supported: u32,
    },
    /// Shorter than its header says.
    #[error("truncated: {found} bytes, the case file needs {expected}")]
    Truncated {
        /// Bytes the header (or the smallest case file) needs.
        expected: u64,
        /// Bytes on disk.
        found: u64,
    },
    /// A section's content does not match its checksum.
    #[error("checksum mismatch in section {section}: the file is damaged")]
    Checksum {
        /// Which section (`column eventName`, `payload-bytes`, `header`).
        section: String,
    },
    /// Any other inconsistency.
    #[error("corrupt: {0}")]
    Corrupt(String),
    /// Case files are little-endian and read in place.
    #[error("case files are little-endian and this machine is not")]
    BigEndian,
}

/// A store opened from a case file, with what was saved beside it.
#[derive(Debug)]
pub struct CaseFile {
    /// The events, read in place from the mapping.
    pub store: Store,
    /// The bytes saved with the store (the evidence manifest the case was made from).
    pub manifest: Vec<u8>,
    /// The file's format version.
    pub version: u32,
    /// Size of the file in bytes.
    pub size: u64,
}

/// True when the file at `path` starts with the case file magic (it may still be damaged).
///
/// # Errors
/// When the file cannot be opened or read.
pub fn is_case_file(path: &Path) -> io::Result<bool> {
    if !path.is_file() {
        return Ok(false);
    }
    let mut head = [0u8; 8];
    let mut f = File::open(path)?;
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n == head.len() && head == MAGIC)
}

pub(crate) fn align8(n: u64) -> u64 {
    n.div_ceil(8) * 8
}

/// One section to write: its bytes in one or more parts (payload chunks are not concatenated).
struct Out<'a> {
    kind: Kind,
    param: u32,
    parts: Vec<&'a [u8]>,
}

impl Out<'_> {
    fn len(&self) -> u64 {
        self.parts.iter().map(|p| p.len() as u64).sum()
    }
    fn checksum(&self) -> u64 {
        let mut h = Xxh3::new();
        self.parts.iter().for_each(|p| h.update(p));
        h.digest()
    }
}

fn bytes_of<T: Pod>(v: &[T]) -> &[u8] {
    bytemuck::cast_slice(v)
}

impl Store {
    /// Write the store as a case file to `path`, atomically: into a temporary file beside it,
    /// flushed to disk, then renamed (the same pattern as the case directory's outputs), so a
    /// crash never leaves a half-written file under the final name. `manifest` is saved as is.
    /// Returns the file's size.
    ///
    /// # Errors
    /// [`CaseError`] on I/O failure.
    pub fn save_case(&self, path: &Path, manifest: &[u8]) -> Result<u64, CaseError> {
        write_atomically(path, |w| self.write_case(w, manifest))
    }

    /// Write the store as a case file to `w` (see the module docs for the layout); returns the
    /// bytes written.
    ///
    /// # Errors
    /// I/O errors of `w`.
    pub fn write_case(&self, w: &mut impl Write, manifest: &[u8]) -> io::Result<u64> {
        self.write_case_in_blocks(w, manifest, None)
    }

    /// [`Store::save_case`] with `rows_per_block` payload rows per block instead of about
    /// 2 MiB of payload per block: for tests that want a small case file spread over many blocks.
    #[doc(hidden)]
    pub fn save_case_in_blocks_of(
        &self,
        path: &Path,
        manifest: &[u8],
        rows_per_block: usize,
    ) -> Result<u64, CaseError> {
        write_atomically(path, |w| self.write_case_in_blocks(w, manifest, Some(rows_per_block)))
    }

    fn write_case_in_blocks(
        &self,
        w: &mut impl Write,
        manifest: &[u8],
        rows_per_block: Option<usize>,
    ) -> io::Result<u64> {
        let unindexed: u64 = self.dicts.iter().enumerate().filter(|(_, d)| d.parts().2).map(|(i, _)| 1u64 << i).sum();
        let rows = self.len();
        let total: usize = (0..rows).map(|r| self.payload(r).len()).sum();
        let per_block = rows_per_block
            .map_or_else(|| payload::rows_per_block(total, rows), |n| n.clamp(1, payload::MAX_ROWS_PER_BLOCK));
        let blocks: Vec<Frame> = (0..rows.div_ceil(per_block))
            .into_par_iter()
            .map(|b| {
                let range = b * per_block..((b + 1) * per_block).min(rows);
                payload::encode(range, |r| self.payload(r))
            })
            .collect();
        let mut index: Vec<u64> = Vec::with_capacity(blocks.len() * 4);
        index_frames(&mut index, &blocks);
        // Cold dictionaries: their blocks and index, and their packed column, per field. The
        // dictionary is saved in the order rows first use its ids, so the column packs to almost
        // nothing (an opened case is already in that order: saving it again gives the same bytes).
        type Cold = (usize, Vec<u64>, Vec<Frame>, Vec<u8>);
        let cold: Vec<Cold> = COLD
            .par_iter()
            .map(|&f| {
                let (dict, col) = (&self.dicts[f.index()], self.column(f));
                let ids = dict.len();
                let mut new_of_old = vec![0u32; ids];
                let mut old_of_new = vec![0u32];
                let first_use = col.iter().filter(|s| !s.is_null()).map(|s| s.index());
                for old in first_use.chain(1..ids) {
                    if new_of_old[old] == 0 {
                        new_of_old[old] = old_of_new.len() as u32;
                        old_of_new.push(old as u32);
                    }
                }
                let frames: Vec<_> = (0..(ids - 1).div_ceil(cold::IDS_PER_BLOCK))
                    .into_par_iter()
                    .map(|b| {
                        let first = 1 + b * cold::IDS_PER_BLOCK;
                        let range = first..(first + cold::IDS_PER_BLOCK).min(ids);
                        cold::encode(range, |i| dict.get(Sym(old_of_new[i])))
                    })
                    .collect();
                let mut index = vec![ids as u64, cold::IDS_PER_BLOCK as u64];
                index_frames(&mut index, &frames);
                let (frame, raw_len, raw_sum) = ids::pack(col.iter().map(|s| Sym(new_of_old[s.index()])));
                let packed = [&u64::from(raw_len).to_le_bytes()[..], &raw_sum.to_le_bytes(), &frame].concat();
                (f.index(), index, frames, packed)
            })
            .collect();
        let meta: Vec<u64> = vec![
            rows as u64,
            Field::COUNT as u64,
            Flag::ALL.len() as u64,
            blocks.len() as u64,
            unindexed,
            per_block as u64,
        ];
        let sources = pack(&encode_sources(&self.sources));
        let manifest = &pack(manifest)[..];

        let mut out = vec![
            Out { kind: Kind::Meta, param: 0, parts: vec![bytes_of(&meta)] },
            Out { kind: Kind::Times, param: 0, parts: vec![bytes_of(&self.times)] },
        ];
        for (i, c) in self.syms.iter().enumerate() {
            match (cold.iter().find(|c| c.0 == i), c.bytes()) {
                (Some(cold), _) => out.push(Out { kind: Kind::PackedSyms, param: i as u32, parts: vec![&cold.3] }),
                (None, Some(bytes)) => out.push(Out { kind: Kind::Syms, param: i as u32, parts: vec![bytes] }),
                (None, None) => unreachable!("only the cold dictionaries' columns are packed"),
            }
        }
        for (i, c) in self.flags.iter().enumerate() {
            out.push(Out { kind: Kind::Flags, param: i as u32, parts: vec![&c[..]] });
        }
        out.push(Out { kind: Kind::RecordRefs, param: 0, parts: vec![bytes_of(&self.refs)] });
        for (i, d) in self.dicts.iter().enumerate() {
            if let Some((_, index, frames, _)) = cold.iter().find(|c| c.0 == i) {
                out.push(Out { kind: Kind::ColdIndex, param: i as u32, parts: vec![bytes_of(index)] });
                let parts = frames.iter().map(|f| &f.0[..]).collect();
                out.push(Out { kind: Kind::ColdBlocks, param: i as u32, parts });
                continue;
            }
            let (bytes, offsets, _) = d.parts();
            out.push(Out { kind: Kind::DictBytes, param: i as u32, parts: vec![bytes] });
            out.push(Out { kind: Kind::DictOffsets, param: i as u32, parts: vec![bytes_of(offsets)] });
        }
        out.push(Out { kind: Kind::Sources, param: 0, parts: vec![&sources] });
        out.push(Out { kind: Kind::Manifest, param: 0, parts: vec![manifest] });
        out.push(Out { kind: Kind::PayloadIndex, param: 0, parts: vec![bytes_of(&index)] });
        // The big section last, so everything a command needs first sits together at the front.
        out.push(Out { kind: Kind::PayloadBlocks, param: 0, parts: blocks.iter().map(|b| &b.0[..]).collect() });

        let checksums: Vec<u64> = out.par_iter().map(Out::checksum).collect();
        let listed: Vec<Listed> = out
            .iter()
            .zip(&checksums)
            .map(|(s, &sum)| Listed { kind: s.kind, param: s.param, len: s.len(), sum })
            .collect();
        let (header, table, offsets, file_len) = header_and_table(&listed);
        w.write_all(&header)?;
        w.write_all(&table)?;
        let mut at = (HEADER_LEN + table.len()) as u64;
        for (s, &start) in out.iter().zip(&offsets) {
            w.write_all(&[0u8; 8][..(start - at) as usize])?;
            for p in &s.parts {
                w.write_all(p)?;
            }
            at = start + s.len();
        }
        w.write_all(&[0u8; 8][..(file_len - at) as usize])?;
        w.flush()?;
        Ok(file_len)
    }
}

/// What writing the case file `path` creates beside it before it is in place: the temporary
/// file (renamed to `path` at the end) and, for a save in segments, the merge's directory of
/// section files. A caller that removes leftovers on an interrupt registers these.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseTemporaries {
    /// The file renamed to the case file's name when complete.
    pub file: PathBuf,
    /// The merge's section files (only a save in segments makes it).
    pub sections: PathBuf,
}

impl CaseTemporaries {
    /// The temporaries of writing `path` from this process.
    pub fn of(path: &Path) -> CaseTemporaries {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let pid = std::process::id();
        CaseTemporaries {
            file: path.with_file_name(format!(".{name}.tmp-{pid}")),
            sections: path.with_file_name(format!(".{name}.sections-{pid}")),
        }
    }
}

/// Write a file through `write` into a temporary file beside `path`, flushed to disk, then
/// renamed over `path`: a crash never leaves a half-written file under the final name.
pub(crate) fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> io::Result<u64>,
) -> Result<u64, CaseError> {
    let err = |kind: CaseErrorKind| CaseError { path: path.to_path_buf(), kind };
    path.file_name().ok_or_else(|| err(CaseErrorKind::Io(io::ErrorKind::InvalidInput.into())))?;
    let tmp = CaseTemporaries::of(path).file;
    let written = (|| {
        let mut w = BufWriter::with_capacity(1 << 20, File::create(&tmp)?);
        let n = write(&mut w)?;
        let f = w.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        Ok(n)
    })();
    written.map_err(|e: io::Error| {
        let _ = std::fs::remove_file(&tmp);
        err(e.into())
    })
}

/// A section as the table lists it.
pub(crate) struct Listed {
    pub(crate) kind: Kind,
    pub(crate) param: u32,
    pub(crate) len: u64,
    pub(crate) sum: u64,
}

/// The header and the section table for sections laid out in order, each 8-byte aligned; also
/// each section's offset and the file's length.
pub(crate) fn header_and_table(sections: &[Listed]) -> ([u8; HEADER_LEN], Vec<u8>, Vec<u64>, u64) {
    let mut table = Vec::with_capacity(sections.len() * ENTRY_LEN);
    let mut offset = align8((HEADER_LEN + sections.len() * ENTRY_LEN) as u64);
    let mut offsets = Vec::with_capacity(sections.len());
    for s in sections {
        offsets.push(offset);
        table.extend_from_slice(&(s.kind as u32).to_le_bytes());
        table.extend_from_slice(&s.param.to_le_bytes());
        table.extend_from_slice(&0u32.to_le_bytes()); // flags: every format-2 section is required
        table.extend_from_slice(&0u32.to_le_bytes());
        table.extend_from_slice(&offset.to_le_bytes());
        table.extend_from_slice(&s.len.to_le_bytes());
        table.extend_from_slice(&s.sum.to_le_bytes());
        offset = align8(offset + s.len);
    }
    let file_len = offset;
    let mut header = [0u8; HEADER_LEN];
    header[0..8].copy_from_slice(&MAGIC);
    header[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    header[16..24].copy_from_slice(&file_len.to_le_bytes());
    header[24..28].copy_from_slice(&(sections.len() as u32).to_le_bytes());
    let sum = table_checksum(&header, &table);
    header[32..40].copy_from_slice(&sum.to_le_bytes());
    (header, table, offsets, file_len)
}

/// Dictionaries kept cold (module `cold`): values nearly all distinct, mostly UUIDs, rarely read.
pub(crate) const COLD: [Field; 3] = [Field::EventId, Field::RequestId, Field::SharedEventId];

/// Append the index entries (start, compressed length, raw length, raw XXH3) of `frames`,
/// laid one after another.
pub(crate) fn index_frames(index: &mut Vec<u64>, frames: &[Frame]) {
    let mut at = 0u64;
    for (frame, raw_len, raw_sum) in frames {
        index.extend([at, frame.len() as u64, u64::from(*raw_len), *raw_sum]);
        at += frame.len() as u64;
    }
}

/// The frames an index (four `u64` per frame) gives in `section`, checked to lie one after
/// another and cover it; `min_raw(b)` is the least raw length frame `b` can have.
fn frames_of(
    map: &Arc<Mmap>,
    section: Entry,
    index: &[u64],
    min_raw: impl Fn(usize) -> u64,
) -> Result<Vec<(Column<u8>, u32, u64)>, CaseErrorKind> {
    let mut at = 0u64;
    let mut out = Vec::with_capacity(index.len() / 4);
    for (b, e) in index.chunks_exact(4).enumerate() {
        let (start, len, raw, sum) = (e[0], e[1], e[2], e[3]);
        if start != at || raw > u64::from(u32::MAX) || raw < min_raw(b) {
            return Err(corrupt(format!("block {b} of section {} is not where its index says", section.label())));
        }
        at = start
            .checked_add(len)
            .filter(|&end| end <= section.len)
            .ok_or_else(|| corrupt(format!("block {b} runs past the end of section {}", section.label())))?;
        let range = (section.offset + start) as usize..(section.offset + at) as usize;
        let frame = Column::mapped(map, range).expect("bytes are always aligned and in range (checked above)");
        out.push((frame, raw as u32, sum));
    }
    if at != section.len {
        return Err(corrupt(format!("the blocks of section {} do not cover it", section.label())));
    }
    Ok(out)
}

/// `bytes` as a `u64` length and a zstd frame: the manifest and the source list (JSON and paths
/// that repeat) shrink to about a fifth, and unpacking them at open costs milliseconds.
pub(crate) fn pack(bytes: &[u8]) -> Vec<u8> {
    let mut v = (bytes.len() as u64).to_le_bytes().to_vec();
    v.extend_from_slice(&payload::compress(bytes));
    v
}

/// Inverse of [`pack`]; `None` when the frame does not decompress to the length given.
pub(crate) fn unpack(packed: &[u8]) -> Option<Vec<u8>> {
    let len = usize::try_from(u64::from_le_bytes(packed.get(..8)?.try_into().ok()?)).ok()?;
    // A sane bound before allocating: zstd cannot expand a frame more than about 32 000 times.
    if len > (packed.len() - 8).saturating_mul(1 << 15) {
        return None;
    }
    let raw = zstd::bulk::decompress(&packed[8..], len).ok()?;
    (raw.len() == len).then_some(raw)
}

/// XXH3 of the header with its checksum field zeroed, then the table.
fn table_checksum(header: &[u8], table: &[u8]) -> u64 {
    let mut h = Xxh3::new();
    h.update(&header[..32]);
    h.update(&[0u8; 8]);
    h.update(&header[40..HEADER_LEN]);
    h.update(table);
    h.digest()
}

pub(crate) fn encode_sources(sources: &[SourceFile]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&(sources.len() as u64).to_le_bytes());
    for s in sources {
        v.extend_from_slice(&s.size.to_le_bytes());
        v.extend_from_slice(&(s.path.len() as u32).to_le_bytes());
        v.extend_from_slice(&(s.sha256.len() as u32).to_le_bytes());
        v.extend_from_slice(s.path.as_bytes());
        v.extend_from_slice(s.sha256.as_bytes());
    }
    v
}

pub(crate) fn decode_sources(mut b: &[u8]) -> Option<Vec<SourceFile>> {
    fn take<'a>(b: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        if b.len() < n {
            return None;
        }
        let (head, rest) = b.split_at(n);
        *b = rest;
        Some(head)
    }
    let u64_of = |s: &[u8]| u64::from_le_bytes(s.try_into().expect("8 bytes"));
    let u32_of = |s: &[u8]| u32::from_le_bytes(s.try_into().expect("4 bytes")) as usize;
    let count = u64_of(take(&mut b, 8)?);
    // Each entry takes at least 16 bytes: a count larger than that is damage, not a reason to
    // reserve memory.
    let mut out = Vec::with_capacity(usize::try_from(count).ok()?.min(b.len() / 16));
    for _ in 0..count {
        let size = u64_of(take(&mut b, 8)?);
        let path_len = u32_of(take(&mut b, 4)?);
        let sha_len = u32_of(take(&mut b, 4)?);
        let path = std::str::from_utf8(take(&mut b, path_len)?).ok()?.to_owned();
        let sha256 = std::str::from_utf8(take(&mut b, sha_len)?).ok()?.to_owned();
        out.push(SourceFile { path, size, sha256 });
    }
    b.is_empty().then_some(out)
}

/// One section table entry.
#[derive(Copy, Clone, Debug)]
struct Entry {
    kind: Kind,
    param: u32,
    offset: u64,
    len: u64,
    checksum: u64,
}

impl Entry {
    fn range(&self) -> std::ops::Range<usize> {
        self.offset as usize..(self.offset + self.len) as usize
    }
    fn label(&self) -> String {
        self.kind.label(self.param)
    }
}

impl CaseFile {
    /// Open a case file: map it, check it whole, and read the store in place.
    ///
    /// The mapping is read-only. Like any mapped file it must not be changed by another program
    /// while open; [`Store::save_case`] never rewrites a file in place (it renames a new one over
    /// it), so saving a case again is safe.
    ///
    /// # Errors
    /// [`CaseError`] naming the file and the reason: not a case file, a newer format version,
    /// truncation, a checksum mismatch (naming the section) or any other inconsistency.
    pub fn open(path: &Path) -> Result<CaseFile, CaseError> {
        open(path).map_err(|kind| CaseError { path: path.to_path_buf(), kind })
    }
}

fn corrupt(msg: impl Into<String>) -> CaseErrorKind {
    CaseErrorKind::Corrupt(msg.into())
}

fn open(path: &Path) -> Result<CaseFile, CaseErrorKind> {
    let mut file = File::open(path)?;
    let size = file.metadata()?.len();
    let mut header = [0u8; HEADER_LEN];
    let got = file.read(&mut header)?;
    let got = if got < HEADER_LEN && (got as u64) < size {
        // A short read is allowed by `read`; read the rest of the header properly.
        file.read_exact(&mut header[got..(size as usize).min(HEADER_LEN)])?;
        (size as usize).min(HEADER_LEN)
    } else {
        got
    };
    // Magic first, then version: a newer file is refused before its layout is interpreted.
    if got < MAGIC.len() {
        return Err(if MAGIC.starts_with(&header[..got]) && got > 0 {
            CaseErrorKind::Truncated { expected: HEADER_LEN as u64, found: size }
        } else {
            CaseErrorKind::BadMagic
        });
    }
    if header[..8] != MAGIC {
        return Err(CaseErrorKind::BadMagic);
    }
    if got < 12 {
        return Err(CaseErrorKind::Truncated { expected: HEADER_LEN as u64, found: size });
    }
    let version = u32::from_le_bytes(header[8..12].try_into().expect("4 bytes"));
    if version > FORMAT_VERSION {
        return Err(CaseErrorKind::NewerVersion { found: version, supported: FORMAT_VERSION });
    }
    if version == 0 {
        return Err(corrupt("format version 0"));
    }
    if version < FORMAT_VERSION {
        return Err(CaseErrorKind::OlderVersion { found: version, supported: FORMAT_VERSION });
    }
    if got < HEADER_LEN {
        return Err(CaseErrorKind::Truncated { expected: HEADER_LEN as u64, found: size });
    }
    if cfg!(target_endian = "big") {
        return Err(CaseErrorKind::BigEndian);
    }
    let u32_at = |b: &[u8], at: usize| u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"));
    let u64_at = |b: &[u8], at: usize| u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"));
    let declared = u64_at(&header, 16);
    if size < declared {
        return Err(CaseErrorKind::Truncated { expected: declared, found: size });
    }
    if size > declared {
        return Err(corrupt(format!("{} bytes after the end the header gives ({declared})", size - declared)));
    }
    let sections = u32_at(&header, 24) as u64;
    let table_end = HEADER_LEN as u64 + sections * ENTRY_LEN as u64;
    if table_end > size {
        return Err(corrupt(format!("section table of {sections} entries does not fit in the file")));
    }

    // SAFETY: the file is opened read-only and case files are never modified in place (see
    // `CaseFile::open`). Populating up front costs the same page faults the checksum pass would
    // take one by one.
    let map = Arc::new(unsafe { MmapOptions::new().populate().map(&file)? });
    let table = &map[HEADER_LEN..table_end as usize];
    if table_checksum(&map[..HEADER_LEN], table) != u64_at(&header, 32) {
        return Err(CaseErrorKind::Checksum { section: "header".into() });
    }
    let mut entries: Vec<Entry> = Vec::with_capacity(sections as usize);
    for e in table.chunks_exact(ENTRY_LEN) {
        let (kind, param, flags) = (u32_at(e, 0), u32_at(e, 4), u32_at(e, 8));
        let Some(kind) = Kind::ALL.into_iter().find(|k| *k as u32 == kind) else {
            if flags & OPTIONAL != 0 {
                continue;
            }
            return Err(corrupt(format!("unknown required section kind {kind} (written by a newer trailscope?)")));
        };
        let entry = Entry { kind, param, offset: u64_at(e, 16), len: u64_at(e, 24), checksum: u64_at(e, 32) };
        let end = entry.offset.checked_add(entry.len);
        if !entry.offset.is_multiple_of(8) || entry.offset < table_end || end.is_none_or(|end| end > size) {
            return Err(corrupt(format!("section {} lies outside the file or is misaligned", entry.label())));
        }
        if entries.iter().any(|x| x.kind == kind && x.param == param) {
            return Err(corrupt(format!("section {} appears twice", entry.label())));
        }
        entries.push(entry);
    }
    // Every section is checked in full: XXH3 runs at memory speed, so this costs about what
    // reading the file from the page cache costs.
    if let Some(bad) = entries.par_iter().find_first(|e| xxh3_64(&map[e.range()]) != e.checksum) {
        return Err(CaseErrorKind::Checksum { section: bad.label() });
    }

    let find = |kind: Kind, param: u32| -> Result<Entry, CaseErrorKind> {
        entries
            .iter()
            .find(|e| e.kind == kind && e.param == param)
            .copied()
            .ok_or_else(|| corrupt(format!("section {} is missing", kind.label(param))))
    };
    fn typed<T: Pod>(map: &Arc<Mmap>, e: Entry, items: Option<usize>) -> Result<Column<T>, CaseErrorKind> {
        let col = Column::<T>::mapped(map, e.range())
            .ok_or_else(|| corrupt(format!("section {} is not a whole number of aligned items", e.label())))?;
        match items {
            Some(n) if col.len() != n => {
                Err(corrupt(format!("section {} holds {} items, {n} expected", e.label(), col.len())))
            }
            _ => Ok(col),
        }
    }

    let meta: Column<u64> = typed(&map, find(Kind::Meta, 0)?, Some(6))?;
    let (rows, fields, flag_count, blocks, unindexed, per_block) =
        (meta[0], meta[1], meta[2], meta[3], meta[4], meta[5]);
    if fields != Field::COUNT as u64 || flag_count != Flag::ALL.len() as u64 {
        return Err(corrupt(format!(
            "{fields} string columns and {flag_count} flags; this trailscope has {} and {}",
            Field::COUNT,
            Flag::ALL.len()
        )));
    }
    let rows = usize::try_from(rows).map_err(|_| corrupt("row count too large"))?;
    let blocks = usize::try_from(blocks).map_err(|_| corrupt("payload block count too large"))?;

    let times: Column<i64> = typed(&map, find(Kind::Times, 0)?, Some(rows))?;
    if times.windows(2).any(|w| w[0] > w[1]) {
        return Err(corrupt("times are not in ascending order"));
    }
    let sources = unpack(&map[find(Kind::Sources, 0)?.range()])
        .and_then(|raw| decode_sources(&raw))
        .ok_or_else(|| corrupt("source file list is malformed"))?;
    let refs: Column<RecordRef> = typed(&map, find(Kind::RecordRefs, 0)?, Some(rows))?;
    if refs.iter().any(|r| r.source.0 as usize >= sources.len()) {
        return Err(corrupt("provenance names a source file that is not listed"));
    }

    // Payload blocks: each frame within the section, one after another.
    let section = find(Kind::PayloadBlocks, 0)?;
    let index: Column<u64> = typed(&map, find(Kind::PayloadIndex, 0)?, Some(blocks * 4))?;
    let per_block = usize::try_from(per_block).map_err(|_| corrupt("rows per payload block too large"))?;
    if per_block == 0 || per_block > payload::MAX_ROWS_PER_BLOCK || rows.div_ceil(per_block) != blocks {
        return Err(corrupt(format!("{blocks} payload blocks of {per_block} rows do not hold {rows} rows")));
    }
    let list = frames_of(&map, section, &index, |b| (per_block.min(rows - b * per_block) * 4) as u64)?
        .into_iter()
        .map(|(frame, raw_len, raw_sum)| Block::new(frame, raw_len, raw_sum))
        .collect();
    let damage = Damage::default();
    let payloads = Payloads::Blocks(Blocks::new(rows, per_block, list, path.to_path_buf(), Arc::clone(&damage)));

    // Dictionaries and columns, one task per column.
    let columns: Vec<(Dict, Ids)> = (0..Field::COUNT)
        .into_par_iter()
        .map(|i| -> Result<_, CaseErrorKind> {
            let p = i as u32;
            let name = Field::ALL[i].path();
            let dict = match entries.iter().find(|e| e.kind == Kind::ColdIndex && e.param == p) {
                Some(&e) => {
                    let index: Column<u64> = typed(&map, e, None)?;
                    let (ids, per_block) = (index.first().copied().unwrap_or(0), index.get(1).copied().unwrap_or(0));
                    let ids = usize::try_from(ids).unwrap_or(usize::MAX);
                    if index.len() % 4 != 2
                        || ids == 0
                        || per_block != cold::IDS_PER_BLOCK as u64
                        || (index.len() - 2) / 4 != (ids - 1).div_ceil(cold::IDS_PER_BLOCK)
                    {
                        return Err(corrupt(format!("cold dictionary {name} has an inconsistent index")));
                    }
                    let n = |b: usize| cold::IDS_PER_BLOCK.min(ids - 1 - b * cold::IDS_PER_BLOCK) as u64;
                    let blocks = frames_of(&map, find(Kind::ColdBlocks, p)?, &index[2..], n)?
                        .into_iter()
                        .map(|(frame, raw_len, raw_sum)| ColdBlock::new(frame, raw_len, raw_sum))
                        .collect();
                    let label = format!("{}: cold dictionary {name}", path.display());
                    let cold = Cold { len: ids, blocks, label, damage: Arc::clone(&damage) };
                    Dict::from_cold(cold, unindexed & (1 << i) != 0)
                }
                None => {
                    let bytes: Column<u8> = typed(&map, find(Kind::DictBytes, p)?, None)?;
                    let offsets: Column<u64> = typed(&map, find(Kind::DictOffsets, p)?, None)?;
                    let text =
                        std::str::from_utf8(&bytes).map_err(|_| corrupt(format!("dictionary {name} is not UTF-8")))?;
                    let ok = offsets.len() >= 2
                        && offsets[0] == 0
                        && offsets[1] == 0
                        && offsets.last() == Some(&(bytes.len() as u64))
                        && offsets.windows(2).all(|w| w[0] <= w[1] && text.is_char_boundary(w[1] as usize));
                    if !ok {
                        return Err(corrupt(format!("dictionary {name} has inconsistent offsets")));
                    }
                    Dict::from_parts(bytes, offsets, unindexed & (1 << i) != 0)
                }
            };
            if let Some(&e) = entries.iter().find(|e| e.kind == Kind::PackedSyms && e.param == p) {
                // Checked when unpacked, on first read.
                let head: Column<u64> = Column::mapped(&map, e.offset as usize..e.offset as usize + 16)
                    .filter(|_| e.len >= 16)
                    .ok_or_else(|| corrupt(format!("section {} is too short", e.label())))?;
                if head[0] != rows as u64 * 4 {
                    return Err(corrupt(format!("section {} does not hold {rows} rows", e.label())));
                }
                let frame = Column::mapped(&map, e.offset as usize + 16..(e.offset + e.len) as usize)
                    .expect("bytes are always aligned and in range (checked above)");
                let mut packed = Packed::new(frame, head[0] as u32, head[1], rows, dict.len());
                packed.label = format!("{}: column {name}", path.display());
                packed.damage = Arc::clone(&damage);
                return Ok((dict, Ids::Packed(packed)));
            }
            let e = find(Kind::Syms, p)?;
            let syms = match (e.len as usize).checked_div(rows) {
                None | Some(1) => Ids::U8(typed(&map, e, Some(rows))?),
                Some(2) => Ids::U16(typed(&map, e, Some(rows))?),
                Some(4) => Ids::U32(typed(&map, e, Some(rows))?),
                Some(_) => return Err(corrupt(format!("section {} is not 1, 2 or 4 bytes a row", e.label()))),
            };
            let ids = dict.len() as u32;
            if syms.view().any(|s| s.0 >= ids) {
                return Err(corrupt(format!("column {name} holds an id its dictionary lacks")));
            }
            Ok((dict, syms))
        })
        .collect::<Result<_, _>>()?;
    let (dicts, syms): (Vec<Dict>, Vec<Ids>) = columns.into_iter().unzip();
    let flags = (0..Flag::ALL.len() as u32)
        .map(|i| typed::<u8>(&map, find(Kind::Flags, i)?, Some(rows)))
        .collect::<Result<Vec<_>, _>>()?;
    if flags.iter().any(|f| f.iter().any(|&c| c > 2)) {
        return Err(corrupt("a flag column holds a code other than 0, 1 or 2"));
    }
    let manifest =
        unpack(&map[find(Kind::Manifest, 0)?.range()]).ok_or_else(|| corrupt("the manifest does not unpack"))?;
    let store = Store { times, syms, flags, refs, dicts, payloads, sources };
    Ok(CaseFile { store, manifest, version, size })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ChunkBuilder, RowValues, StoreBuilder};

    /// A small store with every kind of section non-empty: two files, payloads, a flag, an
    /// unindexed column (requestID).
    fn sample() -> Store {
        let mut b = StoreBuilder::new();
        for f in 0..2u32 {
            let mut c = ChunkBuilder::new();
            for i in 0..5u32 {
                let id = format!("e-{f}-{i}");
                let payload = format!(r#"{{"requestParameters":{{"bucketName":"b{i}"}}}}"#);
                let mut r =
                    RowValues { time_ms: 1_700_000_000_000 + i64::from(i * 1000 + f), index: i, ..Default::default() };
                r.payload = payload.as_bytes();
                r.strings[Field::EventName.index()] = Some(if i % 2 == 0 { "GetObject" } else { "ListBuckets" });
                r.strings[Field::EventId.index()] = Some(&id);
                r.strings[Field::RequestId.index()] = Some(&id);
                r.strings[Field::RecipientAccount.index()] = Some("111122223333");
                r.strings[Field::UserAgent.index()] = Some("aws-cli/2 ünïcode");
                r.flags[Flag::ReadOnly.index()] = Some(i % 2 == 0);
                c.push(&r).unwrap();
            }
            let src = b.add_source(SourceFile {
                path: format!("f{f}.json"),
                size: 10 + u64::from(f),
                sha256: "ab".repeat(32),
            });
            b.add_chunk(src, c);
        }
        b.finish()
    }

    fn saved(dir: &Path) -> (Store, PathBuf) {
        let store = sample();
        let path = dir.join("case.tscase");
        store.save_case(&path, br#"{"format":"trailscope-manifest/1"}"#).unwrap();
        (store, path)
    }

    fn refusal(path: &Path) -> CaseErrorKind {
        let e = CaseFile::open(path).expect_err("must be refused");
        assert_eq!(e.path, path);
        assert!(e.to_string().starts_with(&path.display().to_string()), "{e}");
        e.kind
    }

    #[test]
    fn round_trip_reads_the_same_store_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let (store, path) = saved(dir.path());
        assert!(is_case_file(&path).unwrap());
        let case = CaseFile::open(&path).unwrap();
        let back = &case.store;
        assert!(back.is_mapped() && !store.is_mapped());
        assert_eq!(case.manifest, br#"{"format":"trailscope-manifest/1"}"#);
        assert_eq!(case.version, FORMAT_VERSION);
        assert_eq!(back.len(), store.len());
        assert_eq!(back.sources(), store.sources());
        assert_eq!(back.times(), store.times());
        for f in Field::ALL {
            let (a, b) = (back.dict(f), store.dict(f));
            if COLD.contains(&f) {
                // Saved in the order rows first use them: the same strings row by row.
                let text = |s: &Store| (0..s.len()).map(|r| s.event(r).str(f).map(str::to_owned)).collect::<Vec<_>>();
                assert_eq!(text(back), text(&store), "{f:?}");
                assert_eq!(a.len(), b.len(), "{f:?}");
                continue;
            }
            assert_eq!(back.column(f), store.column(f), "{f:?}");
            assert_eq!(a.iter().collect::<Vec<_>>(), b.iter().collect::<Vec<_>>(), "{f:?}");
        }
        for row in 0..store.len() {
            assert_eq!(back.event(row).to_json(), store.event(row).to_json());
            assert_eq!(back.record_ref(row), store.record_ref(row));
        }
        // The hash index is built on first use, and unindexed dictionaries stay scans.
        let name = back.dict(Field::EventName);
        assert_eq!(name.lookup("ListBuckets"), store.dict(Field::EventName).lookup("ListBuckets"));
        // Cold dictionaries (eventID, requestID) answer the same, and can be extended too.
        let mut ids = back.dict(Field::EventId).clone();
        let found = ids.lookup("e-1-4").unwrap();
        assert_eq!(ids.get(found), "e-1-4");
        assert_eq!(
            back.dict(Field::RequestId).lookup("e-0-2").map(|s| back.dict(Field::RequestId).get(s)),
            Some("e-0-2")
        );
        let new = ids.intern("e-new");
        assert_eq!((ids.get(new), ids.len()), ("e-new", store.dict(Field::EventId).len() + 1));
        assert_eq!(ids.get(found), "e-1-4");
        // A mapped dictionary can still be extended (it copies itself first).
        let mut d = back.dict(Field::EventName).clone();
        let new = d.intern("PutObject");
        assert_eq!(d.get(new), "PutObject");
        assert_eq!(d.lookup("GetObject"), name.lookup("GetObject"));
    }

    /// Payloads big enough that 320 rows fill several blocks (about 2 MiB each).
    fn big_payloads() -> Store {
        let mut b = StoreBuilder::new();
        let mut c = ChunkBuilder::new();
        for i in 0..320u32 {
            let id = format!("e-{i}");
            // Instances of a describe response: repetitive, as real ones are, but each distinct.
            let items: Vec<String> = (0..700).map(|k| format!(r#"{{"instanceId":"i-{i:05}{k:06}"}}"#)).collect();
            let payload = format!(r#"{{"responseElements":{{"items":[{}]}}}}"#, items.join(","));
            let mut r = RowValues { time_ms: 1_700_000_000_000 + i64::from(i), index: i, ..Default::default() };
            r.payload = payload.as_bytes();
            r.strings[Field::EventId.index()] = Some(&id);
            c.push(&r).unwrap();
        }
        let src = b.add_source(SourceFile { path: "f.json".into(), size: 1, sha256: "ab".repeat(32) });
        b.add_chunk(src, c);
        b.finish()
    }

    #[test]
    fn the_payload_cache_keeps_to_its_limit_and_never_changes_what_is_read() {
        use rayon::prelude::*;
        let dir = tempfile::tempdir().unwrap();
        let store = big_payloads();
        let path = dir.path().join("big.tscase");
        store.save_case(&path, b"{}").unwrap();
        let case = CaseFile::open(&path).unwrap();
        let Payloads::Blocks(blocks) = &case.store.payloads else { panic!("a case has blocks") };
        let (n, per_block) = (blocks.blocks.len(), blocks.rows_per_block);
        assert!(n >= 3, "the test wants several blocks, not {n}");
        let block_bytes = blocks.blocks[0].raw_len as usize;

        // Unbounded, as before: every block read once stays.
        case.store.limit_payload_cache(usize::MAX);
        for row in 0..store.len() {
            assert_eq!(&*case.store.payload(row), &*store.payload(row));
        }
        let all = case.store.memory_use();
        assert_eq!(all.payload_blocks_decompressed, n as u64);
        assert!(all.payload_cache >= (n - 1) * block_bytes, "{all:?}");

        // Limited to one block: reading the rows in a scattered order, from several threads,
        // still gives every payload exactly, and the cache holds the blocks in use, no more.
        case.store.limit_payload_cache(block_bytes);
        let order: Vec<usize> = (0..store.len() * 3).map(|k| (k * 97) % store.len()).collect();
        order.par_iter().for_each(|&row| {
            assert_eq!(&*case.store.payload(row), &*store.payload(row), "row {row}");
        });
        let limited = case.store.memory_use();
        assert!(limited.payload_cache <= 2 * (block_bytes + per_block * 8), "{limited:?}");
        assert!(limited.payload_blocks_decompressed > 2 * n as u64, "blocks were let go and read again: {limited:?}");
        // A payload read before the block was let go stays readable.
        let kept = case.store.payload(0);
        for row in (per_block..store.len()).step_by(per_block) {
            let _ = case.store.payload(row);
        }
        assert_eq!(&*kept, &*store.payload(0));
    }
    #[test]
    fn an_empty_store_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty.tscase");
        StoreBuilder::new().finish().save_case(&path, b"{}").unwrap();
        let case = CaseFile::open(&path).unwrap();
        assert!(case.store.is_empty());
        assert_eq!(case.store.dict(Field::EventId).len(), 1);
        assert_eq!(case.store.column(Field::EventId).len(), 0);
        assert_eq!(case.manifest, b"{}");
    }

    #[test]
    fn saving_is_deterministic_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let (_, path) = saved(dir.path());
        let first = std::fs::read(&path).unwrap();
        let (_, path) = saved(dir.path());
        assert_eq!(std::fs::read(&path).unwrap(), first);
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["case.tscase"]);
        // A case saved from an opened case is byte for byte the same.
        let reopened = CaseFile::open(&path).unwrap();
        let mut again = Vec::new();
        reopened.store.write_case(&mut again, &reopened.manifest).unwrap();
        assert_eq!(again, first);
    }

    #[test]
    fn a_flipped_byte_in_any_section_is_refused_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let (_, path) = saved(dir.path());
        let good = std::fs::read(&path).unwrap();
        let count = u32::from_le_bytes(good[24..28].try_into().unwrap()) as usize;
        let mut kinds_seen = std::collections::BTreeSet::new();
        for i in 0..count {
            let e = &good[HEADER_LEN + i * ENTRY_LEN..][..ENTRY_LEN];
            let kind = u32::from_le_bytes(e[0..4].try_into().unwrap());
            let param = u32::from_le_bytes(e[4..8].try_into().unwrap());
            let offset = u64::from_le_bytes(e[16..24].try_into().unwrap()) as usize;
            let len = u64::from_le_bytes(e[24..32].try_into().unwrap()) as usize;
            if len == 0 {
                continue;
            }
            kinds_seen.insert(kind);
            let mut bad = good.clone();
            bad[offset + len / 2] ^= 0x20;
            std::fs::write(&path, &bad).unwrap();
            let label = Kind::ALL.into_iter().find(|k| *k as u32 == kind).unwrap().label(param);
            match refusal(&path) {
                CaseErrorKind::Checksum { section } => assert_eq!(section, label),
                other => panic!("{label}: {other}"),
            }
        }
        assert_eq!(kinds_seen.len(), Kind::ALL.len(), "every section kind was damaged once");
        // The header and the table are covered too.
        for at in [20, 30, HEADER_LEN + 5, HEADER_LEN + 20] {
            let mut bad = good.clone();
            bad[at] ^= 1;
            std::fs::write(&path, &bad).unwrap();
            assert!(
                matches!(
                    refusal(&path),
                    CaseErrorKind::Checksum { .. } | CaseErrorKind::Truncated { .. } | CaseErrorKind::Corrupt(_)
                ),
                "byte {at}"
            );
        }
    }

    #[test]
    fn truncated_bad_magic_and_newer_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (_, path) = saved(dir.path());
        let good = std::fs::read(&path).unwrap();
        for keep in [0, 4, 8, 11, 30, HEADER_LEN, HEADER_LEN + 50, good.len() / 2, good.len() - 1] {
            std::fs::write(&path, &good[..keep]).unwrap();
            match refusal(&path) {
                CaseErrorKind::Truncated { found, .. } => assert_eq!(found, keep as u64),
                CaseErrorKind::BadMagic if keep == 0 => {}
                other => panic!("cut at {keep}: {other}"),
            }
        }
        let mut bad = good.clone();
        bad[1] = b'X';
        std::fs::write(&path, &bad).unwrap();
        assert!(matches!(refusal(&path), CaseErrorKind::BadMagic));
        assert!(!is_case_file(&path).unwrap());

        let mut newer = good.clone();
        newer[8..12].copy_from_slice(&3u32.to_le_bytes());
        std::fs::write(&path, &newer).unwrap();
        let e = CaseFile::open(&path).unwrap_err();
        assert!(matches!(e.kind, CaseErrorKind::NewerVersion { found: 3, supported: 2 }));
        assert!(e.to_string().contains("version 3 is newer"), "{e}");

        // Format 1 laid the payloads out differently: refused by its version, before its
        // sections are read, with what to do.
        let mut older = good.clone();
        older[8..12].copy_from_slice(&1u32.to_le_bytes());
        std::fs::write(&path, &older).unwrap();
        let e = CaseFile::open(&path).unwrap_err();
        assert!(matches!(e.kind, CaseErrorKind::OlderVersion { found: 1, supported: 2 }));
        let msg = e.to_string();
        assert!(msg.contains("written by an older trailscope (case format 1") && msg.contains("--save"), "{msg}");

        let mut longer = good.clone();
        longer.extend_from_slice(&[0; 8]);
        std::fs::write(&path, &longer).unwrap();
        assert!(matches!(refusal(&path), CaseErrorKind::Corrupt(_)));
    }

    #[test]
    fn structural_damage_with_valid_checksums_is_refused() {
        // A writer bug (right checksums over wrong content) must not be misread either.
        let store = sample();
        let mut bytes = Vec::new();
        store.write_case(&mut bytes, b"").unwrap();
        let count = u32::from_le_bytes(bytes[24..28].try_into().unwrap()) as usize;
        let entry_of = |kind: Kind, param: u32, bytes: &[u8]| {
            (0..count)
                .map(|i| HEADER_LEN + i * ENTRY_LEN)
                .find(|&at| {
                    u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) == kind as u32
                        && u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) == param
                })
                .unwrap()
        };
        let reseal = |bytes: &mut Vec<u8>, at: usize| {
            let offset = u64::from_le_bytes(bytes[at + 16..at + 24].try_into().unwrap()) as usize;
            let len = u64::from_le_bytes(bytes[at + 24..at + 32].try_into().unwrap()) as usize;
            let sum = xxh3_64(&bytes[offset..offset + len]);
            bytes[at + 32..at + 40].copy_from_slice(&sum.to_le_bytes());
            let table_end = HEADER_LEN + count * ENTRY_LEN;
            let t = table_checksum(&bytes[..HEADER_LEN], &bytes[HEADER_LEN..table_end]);
            bytes[32..40].copy_from_slice(&t.to_le_bytes());
            offset
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.tscase");
        // An id beyond its dictionary.
        let mut bad = bytes.clone();
        let at = entry_of(Kind::Syms, Field::EventName.index() as u32, &bad);
        let offset = u64::from_le_bytes(bad[at + 16..at + 24].try_into().unwrap()) as usize;
        bad[offset] = 99; // eventName has 3 ids: one byte a row
        reseal(&mut bad, at);
        std::fs::write(&path, &bad).unwrap();
        assert!(matches!(refusal(&path), CaseErrorKind::Corrupt(m) if m.contains("eventName")));
        // Invalid UTF-8 in a dictionary.
        let mut bad = bytes.clone();
        let at = entry_of(Kind::DictBytes, Field::UserAgent.index() as u32, &bad);
        let offset = u64::from_le_bytes(bad[at + 16..at + 24].try_into().unwrap()) as usize;
        bad[offset] = 0xff;
        reseal(&mut bad, at);
        std::fs::write(&path, &bad).unwrap();
        assert!(matches!(refusal(&path), CaseErrorKind::Corrupt(m) if m.contains("UTF-8")));
        // A payload block that does not decompress to what its index says opens (blocks are
        // only decompressed when read), then reads as empty and is reported naming the block.
        let mut bad = bytes.clone();
        let at = entry_of(Kind::PayloadIndex, 0, &bad);
        let offset = u64::from_le_bytes(bad[at + 16..at + 24].try_into().unwrap()) as usize;
        bad[offset + 24] ^= 1; // the first block's checksum of its decompressed bytes
        reseal(&mut bad, at);
        std::fs::write(&path, &bad).unwrap();
        let case = CaseFile::open(&path).unwrap();
        assert_eq!(case.store.damage(), None, "nothing read yet");
        assert_eq!(case.store.get_path(0, "requestParameters.bucketName"), None);
        assert_eq!(&*case.store.payload(0), b"{}");
        let damage = case.store.damage().expect("recorded");
        assert!(damage.starts_with(&path.display().to_string()), "{damage}");
        assert!(damage.contains("payload block 0 (rows 0..10)") && damage.contains("checksum"), "{damage}");
        // The columns still answer.
        assert_eq!(case.store.event(0).str(Field::EventName), store.event(0).str(Field::EventName));
        // The same for a block of a cold dictionary.
        let mut bad = bytes.clone();
        let at = entry_of(Kind::ColdIndex, Field::RequestId.index() as u32, &bad);
        let offset = u64::from_le_bytes(bad[at + 16..at + 24].try_into().unwrap()) as usize;
        bad[offset + 40] ^= 1; // after ids and ids per block: the first block's raw checksum
        reseal(&mut bad, at);
        std::fs::write(&path, &bad).unwrap();
        let case = CaseFile::open(&path).unwrap();
        assert_eq!(case.store.event(3).str(Field::EventId), store.event(3).str(Field::EventId));
        assert_eq!(case.store.damage(), None);
        assert_eq!(case.store.event(3).str(Field::RequestId), Some(""));
        let damage = case.store.damage().expect("recorded");
        assert!(damage.contains("cold dictionary requestID: block 0 (ids 1..11)"), "{damage}");
    }
}
