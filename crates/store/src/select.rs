//! Row sets as bitmaps.
//!
//! A selection may cover only a window of the store's rows ([`Selection::range`]): rules then run
//! over a store one stretch of rows at a time (a case file's payload blocks are read a stretch at
//! a time, so a bounded cache holds what every rule reads), at a cost in proportion to the
//! stretch, not to the store. Rows outside the window are never selected.

/// A set of rows of a [`crate::Store`], one bit per row of its window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selection {
    /// Bits of words `first_word..first_word + words.len()`.
    words: Vec<u64>,
    first_word: usize,
    rows: usize,
}

impl Selection {
    /// No row selected.
    pub fn none(rows: usize) -> Self {
        Selection { words: vec![0; rows.div_ceil(64)], first_word: 0, rows }
    }

    /// Every row selected.
    pub fn all(rows: usize) -> Self {
        Selection::range(rows, 0..rows)
    }

    /// The rows of `range` (of a store of `rows` rows) selected, over a window just covering them.
    pub fn range(rows: usize, range: std::ops::Range<usize>) -> Self {
        let lo = range.start.min(rows);
        let hi = range.end.min(rows).max(lo);
        let first_word = lo / 64;
        let mut s = Selection { words: vec![u64::MAX; hi.div_ceil(64) - first_word], first_word, rows };
        s.keep_range(lo..hi);
        s
    }

    /// No row selected, over the same window as `self`.
    pub fn empty_like(&self) -> Self {
        Selection { words: vec![0; self.words.len()], first_word: self.first_word, rows: self.rows }
    }

    /// Build from a per-row test.
    pub fn from_fn(rows: usize, mut f: impl FnMut(usize) -> bool) -> Self {
        let mut s = Selection::none(rows);
        for (w, word) in s.words.iter_mut().enumerate() {
            let base = w * 64;
            let end = (base + 64).min(rows);
            let mut bits = 0u64;
            for r in base..end {
                bits |= (f(r) as u64) << (r - base);
            }
            *word = bits;
        }
        s
    }

    fn clear_tail(&mut self) {
        let rem = self.rows % 64;
        if rem != 0 && self.first_word + self.words.len() == self.rows.div_ceil(64) {
            if let Some(last) = self.words.last_mut() {
                *last &= (1u64 << rem) - 1;
            }
        }
    }

    /// Number of rows the selection ranges over (the store's, whatever the window).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Select `row`, which must lie in the window.
    pub fn insert(&mut self, row: usize) {
        self.words[row / 64 - self.first_word] |= 1 << (row % 64);
    }

    /// Is `row` selected?
    #[inline]
    pub fn contains(&self, row: usize) -> bool {
        (row / 64)
            .checked_sub(self.first_word)
            .and_then(|w| self.words.get(w))
            .is_some_and(|w| w >> (row % 64) & 1 == 1)
    }

    /// Number of selected rows.
    pub fn count(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// True when nothing is selected.
    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|&w| w == 0)
    }

    /// `other`'s word for this selection's `w`-th word (0 outside its window).
    fn word_of(&self, other: &Selection, w: usize) -> u64 {
        (self.first_word + w).checked_sub(other.first_word).and_then(|i| other.words.get(i)).copied().unwrap_or(0)
    }

    /// Keep rows selected in both.
    pub fn and(&mut self, other: &Selection) {
        for w in 0..self.words.len() {
            self.words[w] &= self.word_of(other, w);
        }
    }

    /// Keep rows selected in either. `other`'s selected rows must lie in this window.
    pub fn or(&mut self, other: &Selection) {
        let start = other.first_word.checked_sub(self.first_word).expect("the other window lies inside this one");
        for (a, b) in self.words[start..start + other.words.len()].iter_mut().zip(&other.words) {
            *a |= b;
        }
    }

    /// Drop rows selected in `other`.
    pub fn and_not(&mut self, other: &Selection) {
        for w in 0..self.words.len() {
            self.words[w] &= !self.word_of(other, w);
        }
    }

    /// Keep only the rows inside `range` (word by word: a time range over sorted rows).
    pub fn keep_range(&mut self, range: std::ops::Range<usize>) {
        let lo = range.start.min(self.rows);
        let hi = range.end.min(self.rows).max(lo);
        for (w, word) in self.words.iter_mut().enumerate() {
            let base = (self.first_word + w) * 64;
            let end = base + 64;
            if end <= lo || base >= hi {
                *word = 0;
            } else {
                let from = lo.saturating_sub(base);
                let to = (hi - base).min(64);
                let mask = if to - from == 64 { u64::MAX } else { ((1u64 << (to - from)) - 1) << from };
                *word &= mask;
            }
        }
    }

    /// Invert, within the window.
    pub fn not(&mut self) {
        for w in &mut self.words {
            *w = !*w;
        }
        self.clear_tail();
    }

    /// Selected rows inside `range`, in ascending order (from the range's first word on).
    pub fn iter_in(&self, range: std::ops::Range<usize>) -> impl Iterator<Item = usize> + '_ {
        let (lo, hi) = (range.start, range.end);
        let from = (lo / 64).saturating_sub(self.first_word).min(self.words.len());
        let to = hi.div_ceil(64).saturating_sub(self.first_word).clamp(from, self.words.len());
        let first = self.first_word + from;
        self.words[from..to]
            .iter()
            .enumerate()
            .flat_map(move |(i, &w)| {
                let mut bits = w;
                std::iter::from_fn(move || {
                    if bits == 0 {
                        return None;
                    }
                    let t = bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    Some((first + i) * 64 + t)
                })
            })
            .filter(move |r| (lo..hi).contains(r))
    }

    /// Selected rows in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.iter_in(0..self.rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keep_range_matches_a_row_by_row_filter() {
        for (lo, hi) in [(0, 130), (3, 70), (64, 128), (65, 66), (10, 5), (120, 500)] {
            let mut s = Selection::from_fn(130, |r| r % 3 != 1);
            s.keep_range(lo..hi);
            let want: Vec<usize> = (0..130).filter(|r| r % 3 != 1 && *r >= lo && *r < hi).collect();
            assert_eq!(s.iter().collect::<Vec<_>>(), want, "{lo}..{hi}");
        }
    }

    #[test]
    fn set_algebra() {
        let mut a = Selection::from_fn(130, |r| r % 2 == 0);
        let b = Selection::from_fn(130, |r| r % 3 == 0);
        assert_eq!(a.count(), 65);
        let mut both = a.clone();
        both.and(&b);
        assert_eq!(both.iter().collect::<Vec<_>>(), (0..130).filter(|r| r % 6 == 0).collect::<Vec<_>>());
        a.or(&b);
        assert_eq!(a.count(), (0..130).filter(|r| r % 2 == 0 || r % 3 == 0).count());
        a.not();
        assert!(a.contains(1) && !a.contains(0) && !a.contains(128));
        assert_eq!(Selection::all(130).count(), 130);
        assert!(Selection::none(5).is_empty());
    }

    #[test]
    fn a_window_behaves_as_the_whole_selection_restricted_to_it() {
        let rows = 1000;
        let every = Selection::from_fn(rows, |r| r % 7 != 3);
        for (lo, hi) in [(0, 1000), (100, 420), (64, 128), (65, 66), (900, 1000), (999, 1000), (500, 500)] {
            let window = Selection::range(rows, lo..hi);
            let mut whole = Selection::all(rows);
            whole.keep_range(lo..hi);
            assert_eq!(window.iter().collect::<Vec<_>>(), whole.iter().collect::<Vec<_>>(), "{lo}..{hi}");
            assert_eq!(window.count(), hi - lo);
            // Algebra in the window agrees with algebra on the whole, restricted.
            let mut a = window.clone();
            a.and(&every);
            let mut b = whole.clone();
            b.and(&every);
            assert_eq!(a.iter().collect::<Vec<_>>(), b.iter().collect::<Vec<_>>());
            let mut c = window.clone();
            c.and_not(&a);
            assert_eq!(c.count(), (lo..hi).filter(|r| r % 7 == 3).count());
            let mut d = a.empty_like();
            for r in (lo..hi).filter(|r| r % 5 == 0) {
                d.insert(r);
            }
            assert!((0..rows).all(|r| d.contains(r) == ((lo..hi).contains(&r) && r % 5 == 0)));
            // A window's rows OR-ed into a whole selection land at their rows.
            let mut total = Selection::none(rows);
            total.or(&d);
            assert_eq!(total.iter().collect::<Vec<_>>(), d.iter().collect::<Vec<_>>());
            let inside: Vec<usize> = every.iter_in(lo..hi).collect();
            assert_eq!(inside, (lo..hi).filter(|r| r % 7 != 3).collect::<Vec<_>>());
            assert_eq!(a.iter_in(0..rows).collect::<Vec<_>>(), inside);
            let mut n = window.clone();
            n.not();
            assert!(n.iter().all(|r| !(lo..hi).contains(&r) && r < rows));
        }
    }
}
