//! Why a query or an aggregation option was refused.

/// A refused query or option.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// The expression does not parse; `offset` is the byte where parsing failed.
    #[error("query, column {}: {reason}", .column)]
    Parse {
        /// Byte offset into the query text.
        offset: usize,
        /// 1-based character column (what the examiner counts).
        column: usize,
        /// What was expected or wrong.
        reason: String,
    },
    /// An aggregation or listing option is unusable.
    #[error("--{option}: {reason}")]
    Option {
        /// The option's name, without dashes.
        option: &'static str,
        /// Why.
        reason: String,
    },
}

impl QueryError {
    pub(crate) fn at(text: &str, offset: usize, reason: impl Into<String>) -> Self {
        let offset = offset.min(text.len());
        let column = text[..offset].chars().count() + 1;
        QueryError::Parse { offset, column, reason: reason.into() }
    }

    /// The query with a caret under the column where parsing failed (two lines), for a parse
    /// error; `None` otherwise.
    pub fn caret(&self, text: &str) -> Option<String> {
        let QueryError::Parse { column, .. } = self else { return None };
        // Control characters would move the caret (and could drive the terminal): shown as `?`.
        let shown: String = text.chars().map(|c| if c.is_control() { '?' } else { c }).collect();
        Some(format!("{shown}\n{}^", " ".repeat(column - 1)))
    }
}
