//! Where each event came from: the evidence file and the record's position in it.

/// Index of a [`SourceFile`] in [`crate::Store::sources`].
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(transparent)]
pub struct SourceId(pub u32);

/// An evidence file as read: its path, size and the SHA-256 of its bytes as stored on disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceFile {
    /// Path as given or found by the walk (relative to the input root where possible).
    pub path: String,
    /// Size on disk in bytes.
    pub size: u64,
    /// Lower-case hex SHA-256 of the bytes on disk.
    pub sha256: String,
}

/// The origin of one event: source file and 0-based record index within it.
///
/// `repr(C)` (two `u32`s, no padding) so that the column can be read in place from a case file.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(C)]
pub struct RecordRef {
    /// The file.
    pub source: SourceId,
    /// Position of the record in the file's record list (or line for JSON Lines).
    pub index: u32,
}

// SAFETY: `repr(C)` of two `u32`s (`SourceId` is a transparent `u32`): no padding, every bit
// pattern valid.
unsafe impl bytemuck::Zeroable for RecordRef {}
// SAFETY: as above.
unsafe impl bytemuck::Pod for RecordRef {}
