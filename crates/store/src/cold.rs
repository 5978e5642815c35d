//! Cold dictionaries: `eventID`, `requestID` and `sharedEventID` of a case file, whose values
//! are nearly all distinct and rarely read (a finding's events, an export), so they are kept
//! small rather than ready: zstd blocks of [`IDS_PER_BLOCK`] ids, a canonical UUID as its 16
//! bytes, turned back into text block by block on first use.
//!
//! Decompressed, a block is one tag byte per id ([`TEXT`], [`LOWER_UUID`], [`UPPER_UUID`], so
//! the text comes back exactly, case included), the 16 bytes of each UUID in id order, the
//! `u32` length of each other string in id order, then those strings' bytes.

use std::sync::OnceLock;

use xxhash_rust::xxh3::xxh3_64;

use crate::column::Column;
use crate::payload::{self, Damage};

/// Ids per block: about 150 KB of text once turned back, decoded in well under a millisecond.
pub(crate) const IDS_PER_BLOCK: usize = 4096;

const TEXT: u8 = 0;
const LOWER_UUID: u8 = 1;
const UPPER_UUID: u8 = 2;

/// The strings (ids 1..) of a cold dictionary.
pub(crate) struct Cold {
    /// Ids including the null id 0.
    pub(crate) len: usize,
    pub(crate) blocks: Vec<ColdBlock>,
    /// What to name in a damage message: the case file and the field.
    pub(crate) label: String,
    pub(crate) damage: Damage,
}

/// One block: its frame as the index gives it, and its text once decoded.
pub(crate) struct ColdBlock {
    pub(crate) frame: Column<u8>,
    pub(crate) raw_len: u32,
    pub(crate) raw_sum: u64,
    text: OnceLock<Text>,
}

/// Decoded strings of a block: `ends[i]` is where the block's `i`-th string ends in `bytes`.
struct Text {
    bytes: String,
    ends: Vec<u32>,
}

impl ColdBlock {
    pub(crate) fn new(frame: Column<u8>, raw_len: u32, raw_sum: u64) -> Self {
        ColdBlock { frame, raw_len, raw_sum, text: OnceLock::new() }
    }
}

impl std::fmt::Debug for Cold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cold").field("len", &self.len).field("blocks", &self.blocks.len()).finish()
    }
}

impl Cold {
    /// Ids in block `b`.
    fn ids_in(&self, b: usize) -> usize {
        IDS_PER_BLOCK.min(self.len - 1 - b * IDS_PER_BLOCK)
    }

    /// The string of id `i` (1..len).
    pub(crate) fn get(&self, i: usize) -> &str {
        let (b, k) = ((i - 1) / IDS_PER_BLOCK, (i - 1) % IDS_PER_BLOCK);
        let block = &self.blocks[b];
        let text = block.text.get_or_init(|| {
            let n = self.ids_in(b);
            payload::unpack_frame(&block.frame, block.raw_len, block.raw_sum)
                .and_then(|raw| decode(&raw, n))
                .unwrap_or_else(|why| {
                    let first = 1 + b * IDS_PER_BLOCK;
                    let _ = self.damage.set(format!(
                        "{}: block {b} (ids {first}..{}) is damaged ({why}); those ids read as empty",
                        self.label,
                        first + n
                    ));
                    Text { bytes: String::new(), ends: vec![0; n] }
                })
        });
        let a = if k == 0 { 0 } else { text.ends[k - 1] as usize };
        &text.bytes[a..text.ends[k] as usize]
    }

    /// Mapped frame bytes, and text decoded so far.
    pub(crate) fn sizes(&self) -> (usize, usize) {
        let mapped = self.blocks.iter().map(|b| b.frame.len()).sum();
        let text = self.blocks.iter().filter_map(|b| b.text.get()).map(|t| t.bytes.capacity() + t.ends.capacity() * 4);
        (mapped, text.sum())
    }
}

/// The tag of `s`, and its 16 bytes when it is a canonical UUID
/// (`xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, hex digits all lower-case or all upper-case).
fn uuid_of(s: &str) -> Option<(u8, [u8; 16])> {
    let b = s.as_bytes();
    if b.len() != 36 || [8, 13, 18, 23].iter().any(|&i| b[i] != b'-') {
        return None;
    }
    let (mut lower, mut upper) = (false, false);
    let mut out = [0u8; 16];
    let mut at = 0;
    for byte in &mut out {
        // Skip the dashes (positions 8, 13, 18, 23, checked above).
        if matches!(at, 8 | 13 | 18 | 23) {
            at += 1;
        }
        let mut v = 0u8;
        for c in [b[at], b[at + 1]] {
            let d = match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'f' => {
                    lower = true;
                    c - b'a' + 10
                }
                b'A'..=b'F' => {
                    upper = true;
                    c - b'A' + 10
                }
                _ => return None,
            };
            v = v << 4 | d;
        }
        *byte = v;
        at += 2;
    }
    match (lower, upper) {
        (true, true) => None,
        (false, true) => Some((UPPER_UUID, out)),
        _ => Some((LOWER_UUID, out)),
    }
}

/// Append the text of a UUID's 16 bytes.
fn push_uuid(out: &mut String, bytes: &[u8], upper: bool) {
    let digits: &[u8; 16] = if upper { b"0123456789ABCDEF" } else { b"0123456789abcdef" };
    for (i, &v) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push(digits[usize::from(v >> 4)] as char);
        out.push(digits[usize::from(v & 15)] as char);
    }
}

/// Encode and compress the strings `get(i)` of ids `ids`. Returns the frame, the raw length and
/// the raw checksum.
pub(crate) fn encode<'a>(ids: std::ops::Range<usize>, get: impl Fn(usize) -> &'a str) -> payload::Frame {
    let mut tags = Vec::with_capacity(ids.len());
    let mut uuids = Vec::with_capacity(ids.len() * 16);
    let (mut lens, mut texts) = (Vec::new(), Vec::new());
    for i in ids {
        let s = get(i);
        match uuid_of(s) {
            Some((tag, bytes)) => {
                tags.push(tag);
                uuids.extend_from_slice(&bytes);
            }
            None => {
                tags.push(TEXT);
                lens.extend_from_slice(&(s.len() as u32).to_le_bytes());
                texts.extend_from_slice(s.as_bytes());
            }
        }
    }
    let raw = [tags, uuids, lens, texts].concat();
    (payload::compress(&raw), u32::try_from(raw.len()).expect("a block is far below 4 GiB"), xxh3_64(&raw))
}

/// Turn a decompressed block of `n` ids back into text.
fn decode(raw: &[u8], n: usize) -> Result<Text, String> {
    let bad = || "its layout does not match its length".to_string();
    let tags = raw.get(..n).ok_or_else(bad)?;
    let uuids = tags.iter().filter(|&&t| t != TEXT).count();
    let texts = n - uuids;
    let mut uuid_at = n;
    let mut len_at = n + uuids * 16;
    let mut text_at = len_at + texts * 4;
    if text_at > raw.len() || tags.iter().any(|&t| t > UPPER_UUID) {
        return Err(bad());
    }
    let mut out = Text { bytes: String::with_capacity(n * 36), ends: Vec::with_capacity(n) };
    for &tag in tags {
        if tag == TEXT {
            let len = u32::from_le_bytes(raw[len_at..len_at + 4].try_into().expect("4 bytes")) as usize;
            len_at += 4;
            let s = raw.get(text_at..text_at + len).ok_or_else(bad)?;
            out.bytes.push_str(std::str::from_utf8(s).map_err(|_| "a string is not UTF-8".to_string())?);
            text_at += len;
        } else {
            push_uuid(&mut out.bytes, &raw[uuid_at..uuid_at + 16], tag == UPPER_UUID);
            uuid_at += 16;
        }
        out.ends.push(u32::try_from(out.bytes.len()).map_err(|_| bad())?);
    }
    if text_at != raw.len() {
        return Err(bad());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_shrink_to_16_bytes_and_every_string_comes_back_exactly() {
        let values = [
            "3c4a1f0e-9b2d-4e7f-8a61-0c2b5d9e7f13",
            "3C4A1F0E-9B2D-4E7F-8A61-0C2B5D9E7F13",
            "3C4a1F0E-9B2D-4E7F-8A61-0C2B5D9E7F13", // mixed case: kept as text
            "12345678-1234-1234-1234-123456789012", // digits only
            "3E8F4A1B2C9D0E7F",                     // an S3 request id
            "",
            "g0000000-0000-0000-0000-000000000000",
            "ünïcode",
            "3c4a1f0e-9b2d-4e7f-8a61-0c2b5d9e7f1", // 35 characters
        ];
        assert_eq!(uuid_of(values[0]).unwrap().0, LOWER_UUID);
        assert_eq!(uuid_of(values[1]).unwrap().0, UPPER_UUID);
        assert!(uuid_of(values[2]).is_none() && uuid_of(values[6]).is_none() && uuid_of(values[8]).is_none());
        let (frame, raw_len, raw_sum) = encode(0..values.len(), |i| values[i]);
        let raw = payload::unpack_frame(&frame, raw_len, raw_sum).unwrap();
        // Tags, three UUIDs of 16 bytes, six lengths, the text.
        let text: usize = values.iter().filter(|v| uuid_of(v).is_none()).map(|v| v.len()).sum();
        assert_eq!(raw.len(), values.len() + 3 * 16 + 6 * 4 + text);
        let back = decode(&raw, values.len()).unwrap();
        let mut at = 0;
        for (v, &end) in values.iter().zip(&back.ends) {
            assert_eq!(&back.bytes[at..end as usize], *v);
            at = end as usize;
        }
        assert!(decode(&raw[..raw.len() - 1], values.len()).is_err());
        assert!(decode(&raw, values.len() + 1).is_err());
    }
}
