//! Row sets as bitmaps.

/// A set of rows of a [`crate::Store`], one bit per row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selection {
    words: Vec<u64>,
    rows: usize,
}

impl Selection {
    /// No row selected.
    pub fn none(rows: usize) -> Self {
        Selection { words: vec![0; rows.div_ceil(64)], rows }
    }

    /// Every row selected.
    pub fn all(rows: usize) -> Self {
        let mut s = Selection { words: vec![u64::MAX; rows.div_ceil(64)], rows };
        s.clear_tail();
        s
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
        if rem != 0 {
            if let Some(last) = self.words.last_mut() {
                *last &= (1u64 << rem) - 1;
            }
        }
    }

    /// Number of rows the selection ranges over.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Select `row`.
    pub fn insert(&mut self, row: usize) {
        self.words[row / 64] |= 1 << (row % 64);
    }

    /// Is `row` selected?
    #[inline]
    pub fn contains(&self, row: usize) -> bool {
        self.words[row / 64] >> (row % 64) & 1 == 1
    }

    /// Number of selected rows.
    pub fn count(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// True when nothing is selected.
    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|&w| w == 0)
    }

    /// Keep rows selected in both.
    pub fn and(&mut self, other: &Selection) {
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a &= b;
        }
    }

    /// Keep rows selected in either.
    pub fn or(&mut self, other: &Selection) {
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a |= b;
        }
    }

    /// Drop rows selected in `other`.
    pub fn and_not(&mut self, other: &Selection) {
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a &= !b;
        }
    }

    /// Keep only the rows inside `range` (word by word: a time range over sorted rows).
    pub fn keep_range(&mut self, range: std::ops::Range<usize>) {
        let lo = range.start.min(self.rows);
        let hi = range.end.min(self.rows).max(lo);
        for (w, word) in self.words.iter_mut().enumerate() {
            let (base, end) = (w * 64, w * 64 + 64);
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

    /// Invert.
    pub fn not(&mut self) {
        for w in &mut self.words {
            *w = !*w;
        }
        self.clear_tail();
    }

    /// Selected rows in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.words.iter().enumerate().flat_map(|(i, &w)| {
            let mut bits = w;
            std::iter::from_fn(move || {
                if bits == 0 {
                    return None;
                }
                let t = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                Some(i * 64 + t)
            })
        })
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
}
