//! Gzip decompression: whole-buffer libdeflate for speed, flate2 streaming as the fallback.
//!
//! libdeflate decodes one gzip member into a buffer sized in advance. We size it from the
//! member's trailer (ISIZE, the length modulo 2^32), loop over members ourselves so that a
//! multi-member file is read whole. A trailer can claim anything, so the first guess is capped;
//! when it was too small, the member's size is counted by streaming it through flate2 (nothing
//! held, stopping at the per-file limit) and the member decoded once more into a buffer of that
//! size, so a bomb never costs more than the limit. Past [`MAX_OUTPUT`] we hand over to flate2's
//! streaming `MultiGzDecoder`, which needs no size.

use std::io::Read;
use std::ptr::NonNull;

/// The gzip magic bytes.
pub const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Largest output we decode in one buffer (the JSON parser also needs `u32` offsets).
pub const MAX_OUTPUT: usize = u32::MAX as usize - 4096;

/// Cap on the size we trust a trailer for before seeing data.
const FIRST_GUESS_CAP: usize = 256 << 20;

/// Why a gzip stream could not be decompressed (whole).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GzipError {
    /// The content does not start with a gzip member.
    #[error("not a gzip stream")]
    NotGzip,
    /// The stream stops before its end: the file was cut short (an interrupted copy or sync).
    #[error("gzip stream ends early (file truncated)")]
    Truncated,
    /// The compressed data is damaged.
    #[error("corrupt deflate data ({0})")]
    Corrupt(String),
    /// A member decoded but failed its CRC-32 or length check.
    #[error("gzip member failed its CRC or size check")]
    Checksum,
    /// Bytes that are no gzip member follow the last one.
    #[error("{bytes} bytes of trailing garbage after gzip data at offset {offset}")]
    TrailingGarbage {
        /// Where the garbage starts.
        offset: usize,
        /// How much of it there is.
        bytes: usize,
    },
    /// The content inflates beyond the per-file limit (`--max-file-size`): a decompression
    /// bomb, or a file far larger than CloudTrail writes.
    #[error("decompresses to more than {limit} bytes (the per-file limit, --max-file-size)")]
    TooLarge {
        /// The limit in bytes.
        limit: u64,
    },
}

/// A reusable libdeflate decompressor (one per worker thread).
pub struct Decompressor {
    raw: NonNull<libdeflate_sys::libdeflate_decompressor>,
}

// SAFETY: a libdeflate decompressor holds no thread-affine state; it is only used through
// `&mut self`, so never from two threads at once.
unsafe impl Send for Decompressor {}

impl Default for Decompressor {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Decompressor {
    fn drop(&mut self) {
        // SAFETY: `raw` came from `libdeflate_alloc_decompressor` and is freed once.
        unsafe { libdeflate_sys::libdeflate_free_decompressor(self.raw.as_ptr()) }
    }
}

enum Member {
    Done { consumed: usize, produced: usize },
    NeedSpace,
    Bad,
}

impl Decompressor {
    /// A new decompressor.
    ///
    /// # Panics
    /// If libdeflate cannot allocate its state (out of memory).
    pub fn new() -> Self {
        // SAFETY: plain allocation call; null is checked.
        let raw = unsafe { libdeflate_sys::libdeflate_alloc_decompressor() };
        Decompressor { raw: NonNull::new(raw).expect("libdeflate: out of memory") }
    }

    fn member(&mut self, input: &[u8], out: &mut [u8]) -> Member {
        let (mut consumed, mut produced) = (0usize, 0usize);
        // SAFETY: pointers and lengths describe live slices; libdeflate writes at most
        // `out.len()` bytes and reports how many it read and wrote.
        let r = unsafe {
            libdeflate_sys::libdeflate_gzip_decompress_ex(
                self.raw.as_ptr(),
                input.as_ptr().cast(),
                input.len(),
                out.as_mut_ptr().cast(),
                out.len(),
                &mut consumed,
                &mut produced,
            )
        };
        match r {
            libdeflate_sys::libdeflate_result_LIBDEFLATE_SUCCESS => Member::Done { consumed, produced },
            libdeflate_sys::libdeflate_result_LIBDEFLATE_INSUFFICIENT_SPACE => Member::NeedSpace,
            _ => Member::Bad,
        }
    }

    /// Decompress every gzip member of `input` into the start of `out` and return the number
    /// of bytes produced. Afterwards `out` holds at least `padding` spare bytes beyond them
    /// (their content is unspecified), as the JSON parser needs.
    ///
    /// `out` is reused from file to file and never shrinks: re-zeroing a buffer the size of
    /// every file would cost as much as a memcpy of the whole dump.
    ///
    /// No more than `limit` bytes are produced (nor allocated, beyond the padding): a stream
    /// that would inflate further is refused as [`GzipError::TooLarge`].
    ///
    /// # Errors
    /// Why the stream is corrupt, truncated or too large.
    pub fn gunzip(&mut self, input: &[u8], out: &mut Vec<u8>, padding: usize, limit: u64) -> Result<usize, GzipError> {
        let limit = limit.min(MAX_OUTPUT as u64) as usize;
        let mut len = 0;
        let mut pos = 0;
        while pos < input.len() {
            let rest = &input[pos..];
            if rest.len() < 18 || rest[..2] != GZIP_MAGIC {
                if pos > 0 && rest.iter().all(|&b| b == 0) {
                    break; // zero padding after the last member, as some tape/S3 tools leave
                }
                return Err(if pos == 0 {
                    GzipError::NotGzip
                } else {
                    GzipError::TrailingGarbage { offset: pos, bytes: rest.len() }
                });
            }
            let isize = u32::from_le_bytes(rest[rest.len() - 4..].try_into().unwrap()) as usize;
            // One byte more than the limit allows tells "exactly the limit" from "beyond it".
            let room = limit - len + 1;
            // Deflate expands at most 1032 times: a trailer claiming more (a cut file's last bytes
            // are no trailer) is not believed, so a cut 8 KiB file no longer costs 256 MiB.
            let most = rest.len().saturating_mul(1032).max(4096);
            let mut want = isize.max(rest.len() * 4).min(most).clamp(4096, FIRST_GUESS_CAP).min(room);
            let mut counted = false;
            loop {
                if len + want + padding > MAX_OUTPUT {
                    return self.stream_fallback(input, out, padding, limit);
                }
                if out.len() < len + want + padding {
                    out.resize(len + want + padding, 0);
                }
                match self.member(rest, &mut out[len..len + want]) {
                    Member::Done { consumed, produced } => {
                        len += produced;
                        pos += consumed;
                        if len > limit {
                            return Err(GzipError::TooLarge { limit: limit as u64 });
                        }
                        break;
                    }
                    Member::NeedSpace if want >= room => return Err(GzipError::TooLarge { limit: limit as u64 }),
                    Member::NeedSpace if counted => {
                        return Err(GzipError::Corrupt("the member's size changed between two decodings".into()))
                    }
                    Member::NeedSpace => {
                        // The guess was too small. Count the member's size by streaming it
                        // (nothing held), then decode it once into a buffer of exactly that
                        // size: growing and retrying held several buffers at once (the
                        // allocator keeps freed ones a while), and a bomb at the 1 GiB limit
                        // peaked at 1.6 GB.
                        out.truncate(len);
                        out.shrink_to_fit();
                        want = member_size(rest, room - 1).ok_or(GzipError::TooLarge { limit: limit as u64 })??;
                        counted = true;
                    }
                    Member::Bad => return Err(truncation_or_corruption(rest)),
                }
            }
        }
        if out.len() < len + padding {
            out.resize(len + padding, 0);
        }
        Ok(len)
    }

    fn stream_fallback(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        padding: usize,
        limit: usize,
    ) -> Result<usize, GzipError> {
        out.clear();
        let mut dec = flate2::read::MultiGzDecoder::new(input);
        let mut buf = [0u8; 64 << 10];
        loop {
            let n = dec.read(&mut buf).map_err(|e| stream_error(&e))?;
            if n == 0 {
                break;
            }
            if out.len() + n > limit || out.len() + n + padding > MAX_OUTPUT {
                return Err(GzipError::TooLarge { limit: limit as u64 });
            }
            out.extend_from_slice(&buf[..n]);
        }
        let len = out.len();
        out.resize(len + padding, 0);
        Ok(len)
    }
}

/// The decoded size of the gzip member at the start of `input`, by streaming it through a small
/// buffer; `None` as soon as it passes `max`, an error when the member is cut short or damaged.
fn member_size(input: &[u8], max: usize) -> Option<Result<usize, GzipError>> {
    let mut dec = flate2::read::GzDecoder::new(input);
    let mut sink = vec![0u8; 256 << 10];
    let mut size = 0usize;
    loop {
        match dec.read(&mut sink) {
            Ok(0) => return Some(Ok(size)),
            Ok(n) => size += n,
            Err(e) => return Some(Err(stream_error(&e))),
        }
        if size > max {
            return None;
        }
    }
}

/// The streaming decoder's error as a [`GzipError`].
fn stream_error(e: &std::io::Error) -> GzipError {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        GzipError::Truncated
    } else {
        GzipError::Corrupt(e.to_string())
    }
}

/// Tell a cut-off file from a damaged one by asking the streaming decoder where it failed.
fn truncation_or_corruption(member: &[u8]) -> GzipError {
    let mut dec = flate2::read::GzDecoder::new(member);
    let mut sink = [0u8; 64 << 10];
    loop {
        match dec.read(&mut sink) {
            Ok(0) => return GzipError::Checksum,
            Ok(_) => continue,
            Err(e) => return stream_error(&e),
        }
    }
}

/// Everything a cut-short gzip file decodes to before the cut (every member, then the partial
/// one), at most `limit` bytes: what a truncated file still says. The buffer has room for
/// `spare` more bytes (the parser's padding and closing brackets), so it never grows again.
///
/// Decoded twice, counting then keeping: a buffer grown to the limit by doubling would hold its
/// old and new copies at once (a cut 1 MB bomb cost 2.6 GB before), and this path is rare.
pub fn salvage(input: &[u8], limit: u64, spare: usize) -> Vec<u8> {
    let decode = |keep: &mut dyn FnMut(&[u8]) -> bool| {
        let mut dec = flate2::read::MultiGzDecoder::new(input);
        let mut buf = [0u8; 64 << 10];
        let mut total = 0u64;
        while let Ok(n) = dec.read(&mut buf) {
            let n = n.min((limit - total).min(buf.len() as u64) as usize);
            if n == 0 || !keep(&buf[..n]) {
                break;
            }
            total += n as u64;
        }
    };
    let mut size = 0;
    decode(&mut |b| {
        size += b.len();
        true
    });
    let mut out = Vec::with_capacity(size + spare);
    decode(&mut |b| {
        let take = b.len().min(size - out.len());
        out.extend_from_slice(&b[..take]);
        out.len() < size
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn single_and_multi_member() {
        let mut d = Decompressor::new();
        let mut out = Vec::new();
        let n = d.gunzip(&gz(b"{\"Records\":[]}"), &mut out, 64, u64::MAX).unwrap();
        assert_eq!(&out[..n], b"{\"Records\":[]}");
        assert!(out.len() >= n + 64);
        let mut two = gz(b"hello ");
        two.extend(gz(b"world"));
        let n = d.gunzip(&two, &mut out, 0, u64::MAX).unwrap();
        assert_eq!(&out[..n], b"hello world");
    }

    #[test]
    fn trailer_that_lies_is_survived() {
        let data: Vec<u8> = (0..200_000u32).flat_map(|i| (i % 251).to_le_bytes()).collect();
        let mut z = gz(&data);
        let n = z.len();
        z[n - 4..].copy_from_slice(&7u32.to_le_bytes());
        let mut out = Vec::new();
        // ISIZE is also checked by libdeflate, so a lying trailer is reported, never trusted.
        let r = Decompressor::new().gunzip(&z, &mut out, 0, u64::MAX);
        assert!(r.as_ref().is_err() || r.as_ref().is_ok_and(|n| out[..*n] == data[..]));
    }

    #[test]
    fn a_member_past_the_first_guess_is_counted_then_decoded_once() {
        // A first member of 1 MiB packed into about 1 KiB, then one whose trailer (the file's
        // last four bytes, what the first guess reads) says 1 byte: the guess is far too small.
        let mut z = gz(&vec![b' '; 1 << 20]);
        z.extend(gz(b"x"));
        let mut out = Vec::new();
        let n = Decompressor::new().gunzip(&z, &mut out, 64, 4 << 20).unwrap();
        assert_eq!(n, (1 << 20) + 1);
        assert!(out[..1 << 20].iter().all(|&b| b == b' ') && out[1 << 20] == b'x');
        // Under a limit it passes, it is refused while counted: nothing near its size is held.
        let mut out = Vec::new();
        let err = Decompressor::new().gunzip(&z, &mut out, 64, 512 << 10).unwrap_err();
        assert_eq!(err, GzipError::TooLarge { limit: 512 << 10 });
        assert!(out.capacity() < 64 << 10, "{} bytes held", out.capacity());
    }

    #[test]
    fn a_cut_file_trailer_is_not_believed_past_what_deflate_can_expand() {
        let data: Vec<u8> = (0..20_000u32).flat_map(|i| format!("{i},").into_bytes()).collect();
        let mut z = gz(&data);
        z.truncate(z.len() / 2);
        z.extend_from_slice(&u32::MAX.to_le_bytes()); // the "trailer" claims 4 GiB
        let mut out = Vec::new();
        assert!(Decompressor::new().gunzip(&z, &mut out, 0, u64::MAX).is_err());
        assert!(out.capacity() <= z.len() * 1032 + 4096, "{} bytes held for {}", out.capacity(), z.len());
    }

    #[test]
    fn truncated_and_corrupt_are_told_apart() {
        let data = vec![b'x'; 100_000];
        let z = gz(&data);
        let mut out = Vec::new();
        let err = Decompressor::new().gunzip(&z[..z.len() / 2], &mut out, 0, u64::MAX).unwrap_err();
        assert_eq!(err, GzipError::Truncated);
        let mut bad = z.clone();
        for b in &mut bad[12..40] {
            *b ^= 0x5a;
        }
        let err = Decompressor::new().gunzip(&bad, &mut out, 0, u64::MAX).unwrap_err();
        assert!(matches!(err, GzipError::Corrupt(_) | GzipError::Checksum), "{err:?}");
        let mut garbage = z.clone();
        garbage.extend_from_slice(b"junk-after-member-that-is-long");
        let err = Decompressor::new().gunzip(&garbage, &mut out, 0, u64::MAX).unwrap_err();
        assert_eq!(err, GzipError::TrailingGarbage { offset: z.len(), bytes: 30 });
        assert_eq!(
            Decompressor::new().gunzip(b"plain text, long enough", &mut out, 0, 9).unwrap_err(),
            GzipError::NotGzip
        );
    }

    #[test]
    fn a_bomb_stops_at_the_limit_without_holding_it() {
        // 64 MiB of whitespace packs into ~64 KiB; a limit of 1 MiB refuses it, and the buffer
        // never grows much past the limit.
        let bomb = gz(&vec![b' '; 64 << 20]);
        let mut out = Vec::new();
        let err = Decompressor::new().gunzip(&bomb, &mut out, 64, 1 << 20).unwrap_err();
        assert_eq!(err, GzipError::TooLarge { limit: 1 << 20 });
        assert!(out.len() <= (1 << 20) + 4096 + 64, "{} bytes held", out.len());
        // Exactly at the limit is fine.
        let n = Decompressor::new().gunzip(&gz(&[b'a'; 1000]), &mut out, 0, 1000).unwrap();
        assert_eq!(n, 1000);
    }

    #[test]
    fn a_cut_file_salvages_what_came_before_the_cut() {
        let data: Vec<u8> = (0..50_000u32).flat_map(|i| format!("line {i}\n").into_bytes()).collect();
        let z = gz(&data);
        let got = salvage(&z[..z.len() * 3 / 4], u64::MAX, 64);
        assert!(got.len() > data.len() / 2, "{} of {}", got.len(), data.len());
        assert_eq!(got[..], data[..got.len()], "a prefix of the content, byte for byte");
        assert!(got.capacity() >= got.len() + 64, "room for the padding: the buffer never grows again");
        // At most the limit, and the same prefix.
        let capped = salvage(&z[..z.len() * 3 / 4], 1000, 0);
        assert_eq!(capped.len(), 1000);
        assert_eq!(capped[..], data[..capped.len()]);
    }
}
