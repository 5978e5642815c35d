//! String interning: each distinct string is stored once and named by a [`Sym`].

use std::hash::BuildHasher;
use std::sync::{Arc, OnceLock};

use foldhash::fast::FixedState as RandomState;
use hashbrown::HashTable;

use crate::cold::Cold;
use crate::column::Column;

/// A dictionary id. `Sym::NULL` (0) stands for a field that is absent or JSON `null`, so a
/// column needs no separate null bitmap and "is null" is an integer compare like any other.
///
/// `repr(transparent)` so that a column of ids can be read in place from a case file.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[repr(transparent)]
pub struct Sym(pub u32);

// SAFETY: a transparent `u32`: no padding, every bit pattern valid.
unsafe impl bytemuck::Zeroable for Sym {}
// SAFETY: as above.
unsafe impl bytemuck::Pod for Sym {}

impl Sym {
    /// Absent or `null`.
    pub const NULL: Sym = Sym(0);

    /// True when the field was absent or `null`.
    #[inline]
    pub fn is_null(self) -> bool {
        self.0 == 0
    }

    /// The id as an index into per-symbol tables.
    #[inline]
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// One seed per run, drawn at random (issue 13): the strings interned are chosen by whoever wrote
/// the evidence, and with a seed known in advance they could be chosen to collide, turning every
/// probe of the index into a walk. Ids never depend on the seed — they follow first-insertion
/// order — so output stays the same from run to run (the goldens prove it); only where an id
/// sits in the index changes. The index is built in memory and never saved. foldhash is faster
/// than ahash on the short strings interned here.
fn hasher() -> RandomState {
    static SEED: OnceLock<u64> = OnceLock::new();
    // std's RandomState is keyed from the operating system's random source once per process.
    let seed = *SEED.get_or_init(|| std::collections::hash_map::RandomState::new().hash_one(0x7261_696c_7363_6f70_u64));
    RandomState::with_seed(seed)
}

/// An append-only string interner: one byte buffer, an offsets array and an index of ids keyed
/// by hash (the index holds only `u32` ids; strings are compared in the buffer).
///
/// Id 0 is reserved for null; the first interned string gets id 1. Ids follow first-insertion
/// order, so interning the same sequence of strings always yields the same ids.
///
/// A dictionary opened from a case file borrows its bytes and offsets from the mapping; its
/// index is built on the first [`Dict::lookup`], so opening never pays for it. A *cold* one
/// (`eventID`, `requestID`, `sharedEventID` of a case file) holds compressed blocks instead,
/// each turned back into text the first time one of its ids is read.
#[derive(Clone)]
pub struct Dict {
    bytes: Column<u8>,
    offsets: Column<u64>,
    index: OnceLock<HashTable<u32>>,
    state: RandomState,
    /// Some strings were appended without the index (see [`Dict::push_unindexed`]).
    unindexed: bool,
    /// When set, the strings live here and `bytes`/`offsets` are unused.
    cold: Option<Arc<Cold>>,
}

impl Default for Dict {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Dict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dict").field("len", &self.len()).finish()
    }
}

impl Dict {
    /// An empty dictionary (holding only the null id).
    pub fn new() -> Self {
        Dict {
            bytes: Column::default(),
            offsets: vec![0, 0].into(),
            index: OnceLock::from(HashTable::new()),
            state: hasher(),
            unindexed: false,
            cold: None,
        }
    }

    /// A dictionary over existing storage (a case file's sections), checked by the caller:
    /// `offsets` start at 0, never decrease, end at `bytes.len()` and fall on UTF-8 boundaries
    /// of valid UTF-8 `bytes`.
    pub(crate) fn from_parts(bytes: Column<u8>, offsets: Column<u64>, unindexed: bool) -> Self {
        Dict { bytes, offsets, index: OnceLock::new(), state: hasher(), unindexed, cold: None }
    }

    /// A cold dictionary (see the type's docs), its blocks checked by the caller.
    pub(crate) fn from_cold(cold: Cold, unindexed: bool) -> Self {
        Dict {
            bytes: Column::default(),
            offsets: vec![0].into(),
            index: OnceLock::new(),
            state: hasher(),
            unindexed,
            cold: Some(Arc::new(cold)),
        }
    }

    /// Make a cold dictionary an ordinary one (before it is extended).
    fn thaw(&mut self) {
        let Some(cold) = self.cold.take() else { return };
        let mut bytes = Vec::new();
        let mut offsets = vec![0, 0];
        for i in 1..cold.len {
            bytes.extend_from_slice(cold.get(i).as_bytes());
            offsets.push(bytes.len() as u64);
        }
        self.bytes = bytes.into();
        self.offsets = offsets.into();
    }

    /// The string bytes, the offsets and whether the dictionary is unindexed (for saving).
    pub(crate) fn parts(&self) -> (&[u8], &[u64], bool) {
        (&self.bytes, &self.offsets, self.unindexed)
    }

    fn hash_of(&self, id: u32) -> u64 {
        self.state.hash_one(self.get(Sym(id)))
    }

    /// The hash index, built now if the dictionary was opened from a case file.
    fn index(&self) -> &HashTable<u32> {
        self.index.get_or_init(|| {
            let mut t = HashTable::with_capacity(self.len() - 1);
            for id in 1..self.len() as u32 {
                t.insert_unique(self.hash_of(id), id, |&i| self.hash_of(i));
            }
            t
        })
    }

    /// Number of ids, including the null id 0.
    pub fn len(&self) -> usize {
        match &self.cold {
            Some(c) => c.len,
            None => self.offsets.len() - 1,
        }
    }

    /// True when only the null id exists.
    pub fn is_empty(&self) -> bool {
        self.len() == 1
    }

    /// The string of an id; the null id gives `""`.
    ///
    /// # Panics
    /// If `sym` was not issued by this dictionary.
    #[inline]
    pub fn get(&self, sym: Sym) -> &str {
        let i = sym.index();
        if let Some(cold) = &self.cold {
            assert!(i < cold.len, "id {i} not issued by this dictionary");
            return if i == 0 { "" } else { cold.get(i) };
        }
        let (a, b) = (self.offsets[i] as usize, self.offsets[i + 1] as usize);
        // SAFETY: only whole `&str`s are ever appended to `bytes`, and offsets mark their ends;
        // a case file's dictionaries are checked for exactly that when opened.
        unsafe { std::str::from_utf8_unchecked(&self.bytes[a..b]) }
    }

    /// Same as [`Dict::get`], but `None` for null.
    #[inline]
    pub fn resolve(&self, sym: Sym) -> Option<&str> {
        (!sym.is_null()).then(|| self.get(sym))
    }

    /// The id of `s`, if it was interned (the first one, for an unindexed dictionary).
    pub fn lookup(&self, s: &str) -> Option<Sym> {
        if self.unindexed {
            return self.iter().find(|(_, v)| *v == s).map(|(id, _)| id);
        }
        let h = self.state.hash_one(s);
        self.index().find(h, |&id| self.get(Sym(id)) == s).map(|&id| Sym(id))
    }

    /// Intern `s`, returning its id (existing or new).
    pub fn intern(&mut self, s: &str) -> Sym {
        self.thaw();
        let h = self.state.hash_one(s);
        if let Some(&id) = self.index().find(h, |&id| self.get(Sym(id)) == s) {
            return Sym(id);
        }
        let Dict { bytes, offsets, index, state, .. } = self;
        let (bytes, offsets) = (bytes.to_mut(), offsets.to_mut());
        let index = index.get_mut().expect("built by the find above");
        let id = (offsets.len() - 1) as u32;
        bytes.extend_from_slice(s.as_bytes());
        offsets.push(bytes.len() as u64);
        let (b, o) = (&*bytes, &*offsets);
        index.insert_unique(h, id, |&id| {
            let i = id as usize;
            // SAFETY: see `get`.
            state.hash_one(unsafe { std::str::from_utf8_unchecked(&b[o[i] as usize..o[i + 1] as usize]) })
        });
        Sym(id)
    }

    /// Append `s` as a new id without de-duplicating or indexing it.
    ///
    /// For columns whose values are (nearly) all distinct, such as `requestID`, where a hash
    /// index would cost more than it saves. [`Dict::lookup`] then scans; do not mix with
    /// [`Dict::intern`] on the same dictionary.
    pub fn push_unindexed(&mut self, s: &str) -> Sym {
        self.thaw();
        self.unindexed = true;
        let id = (self.offsets.len() - 1) as u32;
        let bytes = self.bytes.to_mut();
        bytes.extend_from_slice(s.as_bytes());
        let end = bytes.len() as u64;
        self.offsets.to_mut().push(end);
        Sym(id)
    }

    /// All non-null `(id, string)` pairs in id order.
    pub fn iter(&self) -> impl Iterator<Item = (Sym, &str)> + '_ {
        (1..self.len() as u32).map(move |i| (Sym(i), self.get(Sym(i))))
    }

    /// Bytes held, including the index.
    /// (For a dictionary opened from a case file, the strings and offsets are mapped, not
    /// allocated, and the index counts only once built.)
    pub fn heap_bytes(&self) -> usize {
        let capacity = |c: &Column<u8>| match c {
            Column::Owned(v) => v.capacity(),
            Column::Mapped(_) => c.len(),
        };
        let index = self.index.get().map_or(0, |i| i.capacity() * 5);
        let cold = self.cold.as_ref().map_or(0, |c| {
            let (mapped, text) = c.sizes();
            mapped + text
        });
        capacity(&self.bytes) + self.offsets.len() * 8 + index + cold
    }

    /// Drop spare capacity once building is over.
    pub fn shrink_to_fit(&mut self) {
        if let Column::Owned(b) = &mut self.bytes {
            b.shrink_to_fit();
        }
        if let Column::Owned(o) = &mut self.offsets {
            o.shrink_to_fit();
        }
        let Some(index) = self.index.get_mut() else { return };
        let (b, o, state) = (&self.bytes, &self.offsets, &self.state);
        index.shrink_to_fit(|&id| {
            let i = id as usize;
            state.hash_one(unsafe { std::str::from_utf8_unchecked(&b[o[i] as usize..o[i + 1] as usize]) })
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interning_is_stable_and_null_is_reserved() {
        let mut d = Dict::new();
        let a = d.intern("GetObject");
        let b = d.intern("ConsoleLogin");
        assert_eq!(a, Sym(1));
        assert_eq!(b, Sym(2));
        assert_eq!(d.intern("GetObject"), a);
        assert_eq!(d.get(b), "ConsoleLogin");
        assert_eq!(d.lookup("ConsoleLogin"), Some(b));
        assert_eq!(d.lookup("consolelogin"), None);
        assert_eq!(d.resolve(Sym::NULL), None);
        assert_eq!(d.len(), 3);
    }

    #[test]
    fn many_strings_survive_index_growth() {
        let mut d = Dict::new();
        let ids: Vec<Sym> = (0..10_000).map(|i| d.intern(&format!("key-{i}"))).collect();
        d.shrink_to_fit();
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(d.get(*id), format!("key-{i}"));
            assert_eq!(d.lookup(&format!("key-{i}")), Some(*id));
        }
        assert_eq!(d.intern(""), Sym(10_001));
        assert_eq!(d.get(Sym(10_001)), "");
    }

    #[test]
    fn unindexed_values_keep_duplicates_and_are_found_by_scan() {
        let mut d = Dict::new();
        let a = d.push_unindexed("req-1");
        let b = d.push_unindexed("req-1");
        assert_ne!(a, b);
        assert_eq!(d.get(b), "req-1");
        assert_eq!(d.lookup("req-1"), Some(a));
        assert_eq!(d.lookup("req-2"), None);
    }
}
