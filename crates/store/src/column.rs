//! Storage for columns, dictionaries and payloads that is either owned (built by an ingest) or
//! borrowed in place from a mapped case file, behind one `&[T]` view.

use std::ops::Deref;
use std::sync::Arc;

use bytemuck::Pod;
use memmap2::Mmap;

/// A slice of `T`: an owned `Vec`, or a range of a shared read-only mapping.
pub(crate) enum Column<T: Pod> {
    Owned(Vec<T>),
    Mapped(Mapped<T>),
}

/// A typed range of a mapping. The `Arc` keeps the mapping alive as long as any view of it.
pub(crate) struct Mapped<T> {
    _map: Arc<Mmap>,
    ptr: *const T,
    len: usize,
}

// SAFETY: the mapping is read-only and never changes while mapped views exist (the case file is
// opened read-only and `Mapped` never writes), so sharing the pointer between threads is sound
// exactly as sharing a `&[T]` is.
unsafe impl<T: Sync> Send for Mapped<T> {}
// SAFETY: see `Send`.
unsafe impl<T: Sync> Sync for Mapped<T> {}

impl<T: Pod> Column<T> {
    /// View `range` of `map` as `[T]`, or `None` when the range is out of bounds, not aligned
    /// for `T`, or not a whole number of `T`.
    pub(crate) fn mapped(map: &Arc<Mmap>, range: std::ops::Range<usize>) -> Option<Self> {
        let bytes = map.get(range)?;
        let typed: &[T] = bytemuck::try_cast_slice(bytes).ok()?;
        Some(Column::Mapped(Mapped { _map: Arc::clone(map), ptr: typed.as_ptr(), len: typed.len() }))
    }

    /// The owned vector, copying a mapped range first (only dictionaries that are extended after
    /// opening ever need this).
    pub(crate) fn to_mut(&mut self) -> &mut Vec<T> {
        if let Column::Mapped(m) = self {
            *self = Column::Owned(m.as_slice().to_vec());
        }
        match self {
            Column::Owned(v) => v,
            Column::Mapped(_) => unreachable!("converted above"),
        }
    }

    /// True when borrowed from a mapping.
    pub(crate) fn is_mapped(&self) -> bool {
        matches!(self, Column::Mapped(_))
    }
}

impl<T> Mapped<T> {
    fn as_slice(&self) -> &[T] {
        // SAFETY: `ptr` and `len` came from a checked `&[T]` into the mapping that `_map` keeps
        // alive and unchanged.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl<T: Pod> Deref for Column<T> {
    type Target = [T];

    #[inline]
    fn deref(&self) -> &[T] {
        match self {
            Column::Owned(v) => v,
            Column::Mapped(m) => m.as_slice(),
        }
    }
}

impl<T: Pod> From<Vec<T>> for Column<T> {
    fn from(v: Vec<T>) -> Self {
        Column::Owned(v)
    }
}

impl<T: Pod> Default for Column<T> {
    fn default() -> Self {
        Column::Owned(Vec::new())
    }
}

impl<T: Pod> Clone for Column<T> {
    fn clone(&self) -> Self {
        match self {
            Column::Owned(v) => Column::Owned(v.clone()),
            Column::Mapped(m) => Column::Mapped(Mapped { _map: Arc::clone(&m._map), ptr: m.ptr, len: m.len }),
        }
    }
}

impl<T: Pod + std::fmt::Debug> std::fmt::Debug for Column<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = if self.is_mapped() { "mapped" } else { "owned" };
        write!(f, "Column({kind}, {} items)", self.len())
    }
}
