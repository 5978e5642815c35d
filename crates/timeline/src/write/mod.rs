//! Output writers. Each takes a finished model and a `W: io::Write`; none computes anything.

pub mod html;
pub mod json;
pub mod markdown;
pub mod navigator;
pub mod summary;
pub mod text;
pub mod timeline_csv;
pub mod timesketch;

/// The closing line of a list capped in a form meant for reading: how many entries of `what`
/// were left out, between `before` and `after` (each form's wording and markup); nothing when
/// none was.
pub(crate) fn more<W: std::io::Write>(
    out: &mut W,
    total: usize,
    shown: usize,
    (before, what, after): (&str, &str, &str),
) -> std::io::Result<()> {
    if total > shown {
        writeln!(out, "{before}{} more {what}{after}", total - shown)?;
    }
    Ok(())
}

/// Evidence text made safe for a terminal or a plain-text file: control characters (escape
/// sequences an attacker can plant in a user agent or a name) become `?`.
pub fn clean(s: &str) -> std::borrow::Cow<'_, str> {
    if s.chars().any(char::is_control) {
        s.chars().map(|c| if c.is_control() { '?' } else { c }).collect::<String>().into()
    } else {
        s.into()
    }
}

/// A cell a spreadsheet would read as a formula (`=`, `+`, `-`, `@`, tab, CR first) gets a
/// leading quote: user agents and names are attacker-controlled.
pub fn csv_cell(s: &str) -> std::borrow::Cow<'_, str> {
    match s.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => format!("'{s}").into(),
        _ => s.into(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn control_characters_are_neutralised() {
        assert_eq!(super::clean("aws-cli\x1b[31mred\x07"), "aws-cli?[31mred?");
        assert_eq!(super::clean("plain"), "plain");
        assert_eq!(super::clean("tab\there\u{9b}"), "tab?here?");
    }
}
