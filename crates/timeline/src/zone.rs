//! The time zone human-readable outputs show times in (`--tz`). Machine formats (JSON, CSV,
//! JSONL, Navigator) always carry UTC ISO 8601: they are compared and merged by other tools.

use std::cell::Cell;
use std::str::FromStr;

use chrono::{FixedOffset, TimeZone, Utc};

/// Where a reader lives: UTC, a fixed offset, or an IANA zone (daylight saving applied per
/// instant).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum DisplayZone {
    /// `2024-03-05T02:13:23Z`, as every machine format.
    #[default]
    Utc,
    /// `+02:00`, `-0530`.
    Fixed(FixedOffset),
    /// `Europe/Berlin`.
    Named(chrono_tz::Tz),
}

/// Why a `--tz` value is not a zone.
#[derive(Debug, thiserror::Error)]
#[error("not a time zone: {0:?} (use UTC, an offset such as +02:00, or an IANA name such as Europe/Berlin)")]
pub struct BadZone(String);

impl FromStr for DisplayZone {
    type Err = BadZone;

    fn from_str(s: &str) -> Result<Self, BadZone> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("utc") || t == "Z" {
            return Ok(DisplayZone::Utc);
        }
        if let Some(sign) = t.chars().next().filter(|c| *c == '+' || *c == '-') {
            let digits: String = t[1..].chars().filter(|c| *c != ':').collect();
            let (h, m) = match digits.len() {
                1 | 2 => (digits.parse::<i32>().ok(), Some(0)),
                4 => (digits[..2].parse::<i32>().ok(), digits[2..].parse::<i32>().ok()),
                _ => (None, None),
            };
            let secs = match (h, m) {
                (Some(h), Some(m)) if h <= 14 && m < 60 => (h * 3600 + m * 60) * if sign == '-' { -1 } else { 1 },
                _ => return Err(BadZone(s.to_owned())),
            };
            return FixedOffset::east_opt(secs).map(DisplayZone::Fixed).ok_or_else(|| BadZone(s.to_owned()));
        }
        t.parse::<chrono_tz::Tz>().map(DisplayZone::Named).map_err(|_| BadZone(s.to_owned()))
    }
}

impl DisplayZone {
    /// An instant (epoch ms) in this zone: ISO 8601 with its offset (`2024-03-05T03:13:23+01:00`),
    /// or with `Z` for UTC.
    pub fn format(self, ms: i64) -> String {
        let Some(utc) = Utc.timestamp_millis_opt(ms).single() else {
            return trailscope_store::chrono_free_iso(ms);
        };
        let fmt = "%Y-%m-%dT%H:%M:%S%:z";
        match self {
            DisplayZone::Utc => trailscope_store::chrono_free_iso(ms),
            DisplayZone::Fixed(o) => utc.with_timezone(&o).format(fmt).to_string(),
            DisplayZone::Named(z) => utc.with_timezone(&z).format(fmt).to_string(),
        }
    }
}

thread_local! {
    static ZONE: Cell<DisplayZone> = const { Cell::new(DisplayZone::Utc) };
}

/// Run `f` with [`crate::Time`]'s `Display` showing times in `zone` (on this thread). Writers
/// of human-readable outputs run under it; serialisation is always UTC whatever the zone.
pub fn with_display_zone<R>(zone: DisplayZone, f: impl FnOnce() -> R) -> R {
    struct Restore(DisplayZone);
    impl Drop for Restore {
        fn drop(&mut self) {
            ZONE.with(|z| z.set(self.0));
        }
    }
    let _restore = Restore(ZONE.with(|z| z.replace(zone)));
    f()
}

/// The zone `Display` uses now.
pub fn display_zone() -> DisplayZone {
    ZONE.with(Cell::get)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Time;

    #[test]
    fn zones_parse_and_format_with_their_offsets() {
        let t = 1_709_604_786_000; // 2024-03-05T02:13:06Z
        assert_eq!("UTC".parse::<DisplayZone>().unwrap().format(t), "2024-03-05T02:13:06Z");
        assert_eq!("+02:00".parse::<DisplayZone>().unwrap().format(t), "2024-03-05T04:13:06+02:00");
        assert_eq!("-0530".parse::<DisplayZone>().unwrap().format(t), "2024-03-04T20:43:06-05:30");
        // Berlin: CET in March before the switch, CEST in July.
        let berlin: DisplayZone = "Europe/Berlin".parse().unwrap();
        assert_eq!(berlin.format(t), "2024-03-05T03:13:06+01:00");
        assert_eq!(berlin.format(1_720_000_000_000), "2024-07-03T11:46:40+02:00");
        for bad in ["Mars/Olympus", "+25:00", "+1:2:3", ""] {
            assert!(bad.parse::<DisplayZone>().is_err(), "{bad}");
        }
    }

    #[test]
    fn display_follows_the_zone_serialisation_stays_utc() {
        let t = Time(1_709_604_786_000);
        let zone: DisplayZone = "Asia/Tokyo".parse().unwrap();
        let (shown, json) = with_display_zone(zone, || (t.to_string(), serde_json::to_string(&t).unwrap()));
        assert_eq!(shown, "2024-03-05T11:13:06+09:00");
        assert_eq!(json, "\"2024-03-05T02:13:06Z\"");
        assert_eq!(t.to_string(), "2024-03-05T02:13:06Z", "restored after the writer");
    }
}
