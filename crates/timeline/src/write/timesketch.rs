//! The timeline (the attacker's and the suspicious actors' events, as in the CSV) as Timesketch
//! JSONL: one object per timeline entry with Timesketch's required `message`, `datetime` and
//! `timestamp_desc`, then the CSV timeline's columns.

use std::io::{self, Write};

use serde_json::{Map, Value};

use super::clean;
use super::timeline_csv::{rows, COLUMNS};
use crate::Report;

/// `timestamp_desc` of every line: the time is CloudTrail's `eventTime`.
pub const TIMESTAMP_DESC: &str = "Event Time";

/// Write one JSON object per line. Values are JSON-escaped, so no formula neutralisation; the
/// `message` alone has control characters replaced, since Timesketch shows it as text.
///
/// # Errors
/// I/O errors from `out`.
pub fn write_timeline<W: Write>(out: &mut W, report: &Report) -> io::Result<()> {
    for row in rows(report) {
        let cell = |name: &str| -> &str { COLUMNS.iter().position(|c| *c == name).map_or("", |i| &row[i]) };
        let mut message = format!(
            "actor {} ({}) {} {} by {} from {}",
            cell("actor"),
            cell("verdict"),
            cell("action"),
            cell("outcome"),
            cell("principal"),
            cell("source_ip")
        );
        if cell("events") != "1" {
            message += &format!(", {} times until {}", cell("events"), cell("last_datetime"));
        }
        let mut obj = Map::new();
        obj.insert("message".into(), clean(&message).into_owned().into());
        obj.insert("datetime".into(), cell("datetime").into());
        obj.insert("timestamp_desc".into(), TIMESTAMP_DESC.into());
        for (name, value) in COLUMNS.iter().zip(&row).skip(1) {
            // The actor id is a number everywhere else in the report's JSON.
            let v = match (*name, value.parse::<u64>()) {
                ("actor" | "events", Ok(n)) => Value::from(n),
                _ => Value::from(value.as_str()),
            };
            obj.insert((*name).into(), v);
        }
        serde_json::to_writer(&mut *out, &obj).map_err(io::Error::other)?;
        writeln!(out)?;
    }
    Ok(())
}
