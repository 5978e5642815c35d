//! Reading a file's bytes: a memory map for large files, a plain read for small ones.

use std::fs::File;
use std::path::Path;

/// Files at least this large are memory-mapped; below it a `read` is cheaper than the mapping.
const MMAP_THRESHOLD: u64 = 1 << 20;

/// The bytes of one file, mapped or owned.
pub enum FileBytes {
    /// Memory-mapped.
    Mapped(memmap2::Mmap),
    /// Read into memory.
    Owned(Vec<u8>),
}

impl std::ops::Deref for FileBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            FileBytes::Mapped(m) => m,
            FileBytes::Owned(v) => v,
        }
    }
}

/// Open read-only and read or map the whole file.
///
/// # Errors
/// Any I/O error from opening, sizing, mapping or reading.
pub fn read_file(path: &Path) -> std::io::Result<FileBytes> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    if len >= MMAP_THRESHOLD {
        // SAFETY: the map is read-only and lives only while this file is processed. If another
        // process truncated the file meanwhile, reads could fault; evidence is expected to be
        // at rest, and ripgrep makes the same trade for the same speed.
        if let Ok(map) = unsafe { memmap2::Mmap::map(&file) } {
            return Ok(FileBytes::Mapped(map));
        }
    }
    let mut buf = Vec::with_capacity(len as usize);
    std::io::Read::read_to_end(&mut file, &mut buf)?;
    Ok(FileBytes::Owned(buf))
}
