//! A string column's ids at the width its dictionary needs: most columns have fewer than 256
//! distinct values (one byte a row), a few fewer than 65 536 (two), the unique ids need four.

use crate::column::Column;
use crate::dict::Sym;

/// The stored ids of one column.
#[derive(Debug, Clone)]
pub(crate) enum Ids {
    U8(Column<u8>),
    U16(Column<u16>),
    U32(Column<Sym>),
}

impl Ids {
    /// Store `ids` at the narrowest width that holds ids below `dict_len`.
    pub(crate) fn narrow(ids: Vec<Sym>, dict_len: usize) -> Ids {
        if dict_len <= 1 << 8 {
            Ids::U8(ids.iter().map(|s| s.0 as u8).collect::<Vec<_>>().into())
        } else if dict_len <= 1 << 16 {
            Ids::U16(ids.iter().map(|s| s.0 as u16).collect::<Vec<_>>().into())
        } else {
            Ids::U32(ids.into())
        }
    }

    pub(crate) fn view(&self) -> SymColumn<'_> {
        match self {
            Ids::U8(c) => SymColumn::U8(c),
            Ids::U16(c) => SymColumn::U16(c),
            Ids::U32(c) => SymColumn::U32(c),
        }
    }

    /// The ids' bytes, as saved.
    pub(crate) fn bytes(&self) -> &[u8] {
        match self {
            Ids::U8(c) => c,
            Ids::U16(c) => bytemuck::cast_slice(c),
            Ids::U32(c) => bytemuck::cast_slice(c),
        }
    }

    /// Bytes per row.
    pub(crate) fn width(&self) -> usize {
        match self {
            Ids::U8(_) => 1,
            Ids::U16(_) => 2,
            Ids::U32(_) => 4,
        }
    }
}

/// A string column: one [`Sym`] per row, read with [`SymColumn::get`] or [`SymColumn::iter`].
///
/// Stored one, two or four bytes a row, whichever the column's dictionary needs. Hot loops
/// match on the variant once and run over the plain slice.
#[derive(Debug, Clone, Copy)]
pub enum SymColumn<'a> {
    /// Fewer than 256 ids.
    U8(&'a [u8]),
    /// Fewer than 65 536 ids.
    U16(&'a [u16]),
    /// Any number of ids.
    U32(&'a [Sym]),
}

impl<'a> SymColumn<'a> {
    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            SymColumn::U8(s) => s.len(),
            SymColumn::U16(s) => s.len(),
            SymColumn::U32(s) => s.len(),
        }
    }

    /// True when the column has no row.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The id of a row.
    ///
    /// # Panics
    /// If `row` is out of range.
    #[inline]
    pub fn get(&self, row: usize) -> Sym {
        match self {
            SymColumn::U8(s) => Sym(u32::from(s[row])),
            SymColumn::U16(s) => Sym(u32::from(s[row])),
            SymColumn::U32(s) => s[row],
        }
    }

    /// Every row's id in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Sym> + 'a {
        let col = *self;
        (0..col.len()).map(move |row| col.get(row))
    }

    /// The ids as a `Vec` (tests and small columns).
    pub fn to_vec(&self) -> Vec<Sym> {
        match self {
            SymColumn::U8(s) => s.iter().map(|&i| Sym(u32::from(i))).collect(),
            SymColumn::U16(s) => s.iter().map(|&i| Sym(u32::from(i))).collect(),
            SymColumn::U32(s) => s.to_vec(),
        }
    }

    /// Rows of `rows` whose id `hit` says yes to, the width matched once rather than per row.
    pub fn filter_rows(&self, rows: impl Iterator<Item = usize>, mut hit: impl FnMut(Sym) -> bool) -> Vec<usize> {
        match self {
            SymColumn::U8(s) => rows.filter(|&r| hit(Sym(u32::from(s[r])))).collect(),
            SymColumn::U16(s) => rows.filter(|&r| hit(Sym(u32::from(s[r])))).collect(),
            SymColumn::U32(s) => rows.filter(|&r| hit(s[r])).collect(),
        }
    }
}

impl SymColumn<'_> {
    /// Does any row's id satisfy `f`? (The width matched once.)
    pub fn any(&self, mut f: impl FnMut(Sym) -> bool) -> bool {
        match self {
            SymColumn::U8(s) => s.iter().any(|&i| f(Sym(u32::from(i)))),
            SymColumn::U16(s) => s.iter().any(|&i| f(Sym(u32::from(i)))),
            SymColumn::U32(s) => s.iter().any(|&i| f(i)),
        }
    }
}

impl PartialEq for SymColumn<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn width_follows_the_dictionary_size_and_ids_read_back() {
        let ids: Vec<Sym> = [0u32, 1, 255].into_iter().map(Sym).collect();
        let small = Ids::narrow(ids.clone(), 256);
        assert_eq!(small.width(), 1);
        assert_eq!(small.view().to_vec(), ids);
        let ids: Vec<Sym> = [0u32, 256, 65_535].into_iter().map(Sym).collect();
        let mid = Ids::narrow(ids.clone(), 65_536);
        assert_eq!((mid.width(), mid.view().get(1)), (2, Sym(256)));
        assert_eq!(mid.view().iter().collect::<Vec<_>>(), ids);
        let big = Ids::narrow(vec![Sym(65_536), Sym(0)], 65_537);
        assert_eq!((big.width(), big.view().get(0)), (4, Sym(65_536)));
        assert_eq!(big.bytes().len(), 8);
        assert_eq!(small.view(), Ids::narrow(vec![Sym(0), Sym(1), Sym(255)], 70_000).view());
        assert_eq!(mid.view().filter_rows(0..3, |s| s.0 > 0), [1, 2]);
    }
}
