//! The report as one pretty-printed JSON document (the [`crate::Report`] fields, as named there).

use std::io::{self, Write};

use crate::Report;

/// Write the report as JSON.
///
/// # Errors
/// I/O errors from `out`.
pub fn write_report<W: Write>(out: &mut W, report: &Report) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report).map_err(io::Error::other)?;
    writeln!(out)
}
