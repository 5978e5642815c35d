//! String interning: each distinct string is stored once and named by a [`Sym`].

use std::hash::BuildHasher;

use foldhash::fast::FixedState as RandomState;
use hashbrown::HashTable;

/// A dictionary id. `Sym::NULL` (0) stands for a field that is absent or JSON `null`, so a
/// column needs no separate null bitmap and "is null" is an integer compare like any other.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Sym(pub u32);

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

/// A fixed seed: the hash only places ids in the index (no untrusted-input flooding concern that
/// a random seed would address, since lookups compare the strings), and fixed seeds keep runs
/// reproducible when profiling. foldhash is faster than ahash on the short strings interned here.
fn hasher() -> RandomState {
    RandomState::with_seed(0x7261_696c_7363_6f70)
}

/// An append-only string interner: one byte buffer, an offsets array and an index of ids keyed
/// by hash (the index holds only `u32` ids; strings are compared in the buffer).
///
/// Id 0 is reserved for null; the first interned string gets id 1. Ids follow first-insertion
/// order, so interning the same sequence of strings always yields the same ids.
#[derive(Clone)]
pub struct Dict {
    bytes: Vec<u8>,
    offsets: Vec<u64>,
    index: HashTable<u32>,
    state: RandomState,
    /// Some strings were appended without the index (see [`Dict::push_unindexed`]).
    unindexed: bool,
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
        Dict { bytes: Vec::new(), offsets: vec![0, 0], index: HashTable::new(), state: hasher(), unindexed: false }
    }

    /// Number of ids, including the null id 0.
    pub fn len(&self) -> usize {
        self.offsets.len() - 1
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
        let (a, b) = (self.offsets[i] as usize, self.offsets[i + 1] as usize);
        // SAFETY: only whole `&str`s are ever appended to `bytes`, and offsets mark their ends.
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
        self.index.find(h, |&id| self.get(Sym(id)) == s).map(|&id| Sym(id))
    }

    /// Intern `s`, returning its id (existing or new).
    pub fn intern(&mut self, s: &str) -> Sym {
        let h = self.state.hash_one(s);
        let Dict { bytes, offsets, index, state, .. } = self;
        let eq = |&id: &u32| {
            let i = id as usize;
            &bytes[offsets[i] as usize..offsets[i + 1] as usize] == s.as_bytes()
        };
        if let Some(&id) = index.find(h, eq) {
            return Sym(id);
        }
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
        self.unindexed = true;
        let id = (self.offsets.len() - 1) as u32;
        self.bytes.extend_from_slice(s.as_bytes());
        self.offsets.push(self.bytes.len() as u64);
        Sym(id)
    }

    /// All non-null `(id, string)` pairs in id order.
    pub fn iter(&self) -> impl Iterator<Item = (Sym, &str)> + '_ {
        (1..self.len() as u32).map(move |i| (Sym(i), self.get(Sym(i))))
    }

    /// Bytes held, including the index.
    pub fn heap_bytes(&self) -> usize {
        self.bytes.capacity() + self.offsets.capacity() * 8 + self.index.capacity() * 4 + self.index.capacity()
    }

    /// Drop spare capacity once building is over.
    pub fn shrink_to_fit(&mut self) {
        self.bytes.shrink_to_fit();
        self.offsets.shrink_to_fit();
        let (b, o, state) = (&self.bytes, &self.offsets, &self.state);
        self.index.shrink_to_fit(|&id| {
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
