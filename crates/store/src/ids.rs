//! A string column's ids at the width its dictionary needs: most columns have fewer than 256
//! distinct values (one byte a row), a few fewer than 65 536 (two), the unique ids need four.
//!
//! In a case file the columns of the cold dictionaries (`eventID`, `requestID`,
//! `sharedEventID`, module `cold`) are *packed*: their dictionary is saved in the order the
//! rows first use each id, so the column is nearly `1, 2, 3, ...`; saved as the differences of
//! neighbouring ids, compressed, it takes a fraction of a byte a row. It is unpacked whole the
//! first time it is read.

use std::sync::OnceLock;

use xxhash_rust::xxh3::xxh3_64;

use crate::column::Column;
use crate::dict::Sym;
use crate::payload::{self, Damage, Frame};

/// The stored ids of one column.
#[derive(Debug)]
pub(crate) enum Ids {
    U8(Column<u8>),
    U16(Column<u16>),
    U32(Column<Sym>),
    Packed(Packed),
}

/// A packed column of a case file (see the module docs).
#[derive(Debug)]
pub(crate) struct Packed {
    pub(crate) frame: Column<u8>,
    pub(crate) raw_len: u32,
    pub(crate) raw_sum: u64,
    pub(crate) rows: usize,
    /// Ids of the column's dictionary: every unpacked id must be below.
    pub(crate) dict_len: usize,
    /// The case file and column, for a damage message.
    pub(crate) label: String,
    pub(crate) damage: Damage,
    unpacked: OnceLock<Vec<Sym>>,
}

impl Packed {
    pub(crate) fn new(frame: Column<u8>, raw_len: u32, raw_sum: u64, rows: usize, dict_len: usize) -> Self {
        Packed {
            frame,
            raw_len,
            raw_sum,
            rows,
            dict_len,
            label: String::new(),
            damage: Damage::default(),
            unpacked: OnceLock::new(),
        }
    }

    fn ids(&self) -> &[Sym] {
        self.unpacked.get_or_init(|| {
            unpack(self).unwrap_or_else(|why| {
                let _ = self.damage.set(format!("{}: {why}; the column reads as absent values", self.label));
                vec![Sym::NULL; self.rows]
            })
        })
    }
}

/// Pack a column: differences of neighbouring ids (wrapping), compressed.
pub(crate) fn pack(col: impl Iterator<Item = Sym>) -> Frame {
    let mut raw = Vec::new();
    let mut prev = 0u32;
    for s in col {
        raw.extend_from_slice(&s.0.wrapping_sub(prev).to_le_bytes());
        prev = s.0;
    }
    (payload::compress(&raw), u32::try_from(raw.len()).expect("a column is below 4 GiB packed"), xxh3_64(&raw))
}

fn unpack(p: &Packed) -> Result<Vec<Sym>, String> {
    let raw = payload::unpack_frame(&p.frame, p.raw_len, p.raw_sum)?;
    if raw.len() != p.rows * 4 {
        return Err(format!("{} bytes unpacked for {} rows", raw.len(), p.rows));
    }
    let mut prev = 0u32;
    let ids: Vec<Sym> = raw
        .chunks_exact(4)
        .map(|c| {
            prev = prev.wrapping_add(u32::from_le_bytes(c.try_into().expect("4 bytes")));
            Sym(prev)
        })
        .collect();
    if ids.iter().any(|s| s.index() >= p.dict_len) {
        return Err("an id its dictionary lacks".into());
    }
    Ok(ids)
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
            Ids::Packed(p) => SymColumn::U32(p.ids()),
        }
    }

    /// The ids' bytes, as saved in place (`None` for a packed column).
    pub(crate) fn bytes(&self) -> Option<&[u8]> {
        match self {
            Ids::U8(c) => Some(c),
            Ids::U16(c) => Some(bytemuck::cast_slice(c)),
            Ids::U32(c) => Some(bytemuck::cast_slice(c)),
            Ids::Packed(_) => None,
        }
    }

    /// Bytes held: the column, or a packed column's frame and what was unpacked of it.
    pub(crate) fn held(&self) -> usize {
        match self {
            Ids::U8(c) => c.len(),
            Ids::U16(c) => c.len() * 2,
            Ids::U32(c) => c.len() * 4,
            Ids::Packed(p) => p.frame.len() + p.unpacked.get().map_or(0, |v| v.capacity() * 4),
        }
    }

    /// Bytes per row (a packed column counts as four, what it unpacks to).
    #[cfg(test)]
    pub(crate) fn width(&self) -> usize {
        match self {
            Ids::U8(_) => 1,
            Ids::U16(_) => 2,
            Ids::U32(_) | Ids::Packed(_) => 4,
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
        assert_eq!(big.bytes().unwrap().len(), 8);
        assert_eq!(small.view(), Ids::narrow(vec![Sym(0), Sym(1), Sym(255)], 70_000).view());
        assert!(mid.view().any(|s| s.0 == 65_535) && !mid.view().any(|s| s.0 == 1));
    }

    #[test]
    fn a_packed_column_unpacks_to_the_same_ids_and_checks_them() {
        let ids: Vec<Sym> = [1u32, 2, 0, 3, 5, 4, 0, 0, 6].into_iter().map(Sym).collect();
        let (frame, raw_len, raw_sum) = pack(ids.iter().copied());
        let packed = |dict_len| {
            let p = Packed::new(frame.clone().into(), raw_len, raw_sum, ids.len(), dict_len);
            Ids::Packed(p)
        };
        let col = packed(7);
        assert_eq!(col.view().to_vec(), ids);
        assert_eq!(col.held(), frame.len() + ids.len() * 4);
        // An id beyond the dictionary: recorded, and the column reads as absent values.
        let Ids::Packed(p) = packed(6) else { unreachable!() };
        assert_eq!(p.ids(), vec![Sym::NULL; ids.len()]);
        assert!(p.damage.get().unwrap().contains("an id its dictionary lacks"));
    }
}
