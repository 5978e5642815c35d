//! Gzip decompression: whole-buffer libdeflate for speed, flate2 streaming as the fallback.
//!
//! libdeflate decodes one gzip member into a buffer sized in advance. We size it from the
//! member's trailer (ISIZE, the length modulo 2^32), loop over members ourselves so that a
//! multi-member file is read whole, and grow the buffer when the trailer lied. A trailer can claim
//! anything, so the first guess is capped; past [`MAX_OUTPUT`] we hand over to flate2's streaming
//! `MultiGzDecoder`, which needs no size.

use std::io::Read;
use std::ptr::NonNull;

/// The gzip magic bytes.
pub const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Largest output we decode in one buffer (the JSON parser also needs `u32` offsets).
pub const MAX_OUTPUT: usize = u32::MAX as usize - 4096;

/// Cap on the size we trust a trailer for before seeing data.
const FIRST_GUESS_CAP: usize = 256 << 20;

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
    /// # Errors
    /// A message saying why the stream is corrupt, truncated or too large.
    pub fn gunzip(&mut self, input: &[u8], out: &mut Vec<u8>, padding: usize) -> Result<usize, String> {
        let mut len = 0;
        let mut pos = 0;
        while pos < input.len() {
            let rest = &input[pos..];
            if rest.len() < 18 || rest[..2] != GZIP_MAGIC {
                if pos > 0 && rest.iter().all(|&b| b == 0) {
                    break; // zero padding after the last member, as some tape/S3 tools leave
                }
                return Err(if pos == 0 {
                    "not a gzip stream".to_owned()
                } else {
                    format!("{} bytes of trailing garbage after gzip data at offset {pos}", rest.len())
                });
            }
            let isize = u32::from_le_bytes(rest[rest.len() - 4..].try_into().unwrap()) as usize;
            let mut want = isize.max(rest.len() * 4).clamp(4096, FIRST_GUESS_CAP);
            loop {
                if len + want + padding > MAX_OUTPUT {
                    return self.stream_fallback(input, out, padding);
                }
                if out.len() < len + want + padding {
                    out.resize(len + want + padding, 0);
                }
                match self.member(rest, &mut out[len..len + want]) {
                    Member::Done { consumed, produced } => {
                        len += produced;
                        pos += consumed;
                        break;
                    }
                    Member::NeedSpace => want = want.saturating_mul(2),
                    Member::Bad => return Err(truncation_or_corruption(rest)),
                }
            }
        }
        if out.len() < len + padding {
            out.resize(len + padding, 0);
        }
        Ok(len)
    }

    fn stream_fallback(&mut self, input: &[u8], out: &mut Vec<u8>, padding: usize) -> Result<usize, String> {
        out.clear();
        let mut dec = flate2::read::MultiGzDecoder::new(input);
        let mut buf = [0u8; 64 << 10];
        loop {
            let n = dec.read(&mut buf).map_err(|e| e.to_string())?;
            if n == 0 {
                break;
            }
            if out.len() + n + padding > MAX_OUTPUT {
                return Err(format!("decompressed size exceeds {MAX_OUTPUT} bytes"));
            }
            out.extend_from_slice(&buf[..n]);
        }
        let len = out.len();
        out.resize(len + padding, 0);
        Ok(len)
    }
}

/// Tell a cut-off file from a damaged one by asking the streaming decoder where it failed.
fn truncation_or_corruption(member: &[u8]) -> String {
    let mut dec = flate2::read::GzDecoder::new(member);
    let mut sink = [0u8; 64 << 10];
    loop {
        match dec.read(&mut sink) {
            Ok(0) => return "gzip member failed its CRC or size check".to_owned(),
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return "gzip stream ends early (file truncated)".to_owned()
            }
            Err(e) => return format!("corrupt deflate data ({e})"),
        }
    }
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
        let n = d.gunzip(&gz(b"{\"Records\":[]}"), &mut out, 64).unwrap();
        assert_eq!(&out[..n], b"{\"Records\":[]}");
        assert!(out.len() >= n + 64);
        let mut two = gz(b"hello ");
        two.extend(gz(b"world"));
        let n = d.gunzip(&two, &mut out, 0).unwrap();
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
        let r = Decompressor::new().gunzip(&z, &mut out, 0);
        assert!(r.as_ref().is_err() || r.as_ref().is_ok_and(|n| out[..*n] == data[..]));
    }

    #[test]
    fn truncated_and_corrupt_are_told_apart() {
        let data = vec![b'x'; 100_000];
        let z = gz(&data);
        let mut out = Vec::new();
        let err = Decompressor::new().gunzip(&z[..z.len() / 2], &mut out, 0).unwrap_err();
        assert!(err.contains("truncated"), "{err}");
        let mut bad = z.clone();
        for b in &mut bad[12..40] {
            *b ^= 0x5a;
        }
        let err = Decompressor::new().gunzip(&bad, &mut out, 0).unwrap_err();
        assert!(!err.is_empty());
        let mut garbage = z.clone();
        garbage.extend_from_slice(b"junk-after-member-that-is-long");
        let err = Decompressor::new().gunzip(&garbage, &mut out, 0).unwrap_err();
        assert!(err.contains("trailing garbage"), "{err}");
    }
}
