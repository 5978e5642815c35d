//! The decode-and-tape ceiling probe: read each file as ingest does, gunzip it with libdeflate
//! (the `libdeflater` crate; ingest calls the same C library through `libdeflate-sys`) and run
//! simd-json's tape stage over the whole document, with reused buffers — and nothing else: no
//! field extraction, no payloads, no dictionaries, no merge, no sort, no hashing.
//!
//! It is the floor under any ingest built on these two libraries, so `ingest time / probe
//! time` on the same files with the same threads says how much of ingest is trailscope's own
//! work, independently of how fast or loaded the machine is.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use rayon::prelude::*;
use simd_json::{Buffers, Node, Tape, INPUT_PADDING};

/// What one probe pass saw.
#[derive(Clone, Debug, Default)]
pub struct ProbeResult {
    /// Files read.
    pub files: usize,
    /// Files whose whole content parsed as one JSON document.
    pub parsed: usize,
    /// Files that failed to gunzip or to parse as one document (JSON Lines, corrupt gzip).
    pub failed: usize,
    /// Bytes after gunzip.
    pub bytes_uncompressed: u64,
    /// Tape nodes produced (kept so that the work cannot be optimised away).
    pub tape_nodes: u64,
    /// Records with the `eventName` asked for ([`probe_counting`]), else 0.
    pub matches: u64,
    /// Wall time of the pass.
    pub elapsed: Duration,
}

/// Largest first guess at a file's uncompressed size taken from its gzip trailer.
const FIRST_GUESS_CAP: usize = 256 << 20;

struct Worker {
    gunzip: libdeflater::Decompressor,
    buf: Vec<u8>,
    buffers: Buffers,
    tape: Option<Tape<'static>>,
}

impl Worker {
    fn new() -> Self {
        Worker {
            gunzip: libdeflater::Decompressor::new(),
            buf: Vec::new(),
            buffers: Buffers::new(1 << 20),
            tape: Some(Tape::null()),
        }
    }

    /// `(parsed, uncompressed bytes, tape nodes, matches)`; `parsed` is false on any failure.
    fn file(&mut self, path: &std::path::Path, event_name: Option<&str>) -> (bool, u64, u64, u64) {
        let Ok(bytes) = trailscope_ingest::read::read_file(path) else { return (false, 0, 0, 0) };
        let len = if bytes.starts_with(&[0x1f, 0x8b]) && bytes.len() >= 18 {
            // Size the output from the trailer (ISIZE), capped; grow when it lied. libdeflate
            // decodes the first gzip member only (the generated dumps have one per file).
            let isize = u32::from_le_bytes(bytes[bytes.len() - 4..].try_into().unwrap()) as usize;
            let mut want = isize.max(bytes.len() * 2).clamp(4096, FIRST_GUESS_CAP);
            loop {
                if self.buf.len() < want + INPUT_PADDING {
                    self.buf.resize(want + INPUT_PADDING, 0);
                }
                match self.gunzip.gzip_decompress(&bytes, &mut self.buf[..want]) {
                    Ok(n) => break n,
                    Err(libdeflater::DecompressionError::InsufficientSpace) if want < u32::MAX as usize / 2 => {
                        want *= 2
                    }
                    Err(_) => return (false, 0, 0, 0),
                }
            }
        } else {
            self.buf.clear();
            self.buf.extend_from_slice(&bytes);
            self.buf.resize(bytes.len() + INPUT_PADDING, 0);
            bytes.len()
        };
        drop(bytes);
        let mut tape = self.tape.take().unwrap_or_else(Tape::null).reset();
        let r = simd_json::fill_tape_padded(&mut self.buf, len, &mut self.buffers, &mut tape);
        let nodes = tape.0.len() as u64;
        // For the comparison harness: a key `eventName` followed by the string asked for.
        let matches = match event_name {
            Some(want) if r.is_ok() => tape
                .0
                .windows(2)
                .filter(|w| matches!(w, [Node::String("eventName"), Node::String(v)] if *v == want))
                .count() as u64,
            _ => 0,
        };
        self.tape = Some(tape.reset());
        (r.is_ok(), len as u64, nodes, matches)
    }
}

/// Run the probe over `files` on `threads` worker threads (0: one per core).
///
/// # Panics
/// If the thread pool cannot be built.
pub fn probe(files: &[PathBuf], threads: usize) -> ProbeResult {
    probe_counting(files, threads, None)
}

/// [`probe`], also counting the records whose `eventName` is `event_name` (a scan of the tape;
/// the comparison harness asks every tool the same question).
///
/// # Panics
/// If the thread pool cannot be built.
pub fn probe_counting(files: &[PathBuf], threads: usize, event_name: Option<&str>) -> ProbeResult {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("probe thread pool");
    let started = Instant::now();
    let (parsed, bytes, nodes, matches) = pool.install(|| {
        files
            .par_iter()
            .map_init(Worker::new, |w, f| {
                let (ok, bytes, nodes, matches) = w.file(f, event_name);
                (usize::from(ok), bytes, nodes, matches)
            })
            .reduce(|| (0, 0, 0, 0), |a, b| (a.0 + b.0, a.1 + b.1, a.2 + b.2, a.3 + b.3))
    });
    ProbeResult {
        files: files.len(),
        parsed,
        failed: files.len() - parsed,
        bytes_uncompressed: bytes,
        tape_nodes: nodes,
        matches,
        elapsed: started.elapsed(),
    }
}
