//! `eventTime` parsing: ISO 8601 / RFC 3339 in UTC or with an offset, to epoch milliseconds.

use trailscope_store::days_from_civil;

fn digits(b: &[u8]) -> Option<i64> {
    let mut v = 0i64;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (c - b'0') as i64;
    }
    Some(v)
}

/// Parse `YYYY-MM-DDTHH:MM:SS[.fff][Z|±HH:MM]` (a space may stand for `T`; no zone means UTC,
/// as CloudTrail exports sometimes drop it). Returns epoch milliseconds.
pub fn parse_event_time(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || !(b[10] == b'T' || b[10] == b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (y, mo, d) = (digits(&b[0..4])?, digits(&b[5..7])?, digits(&b[8..10])?);
    let (h, mi, sec) = (digits(&b[11..13])?, digits(&b[14..16])?, digits(&b[17..19])?);
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo as u32) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut rest = &b[19..];
    let mut ms = 0i64;
    if let Some(frac) = rest.strip_prefix(b".") {
        let n = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        let mut scale = 100;
        for &c in &frac[..n.min(3)] {
            ms += (c - b'0') as i64 * scale;
            scale /= 10;
        }
        rest = &frac[n..];
    }
    let offset_s = match rest {
        b"" | b"Z" | b"z" => 0,
        [sign @ (b'+' | b'-'), hh, hh2, b':', mm, mm2] | [sign @ (b'+' | b'-'), hh, hh2, mm, mm2] => {
            let v = digits(&[*hh, *hh2])? * 3600 + digits(&[*mm, *mm2])? * 60;
            if *sign == b'+' {
                v
            } else {
                -v
            }
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo as u32, d as u32);
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec.min(59) - offset_s;
    Some(secs * 1000 + ms)
}

fn days_in_month(y: i64, m: u32) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloudtrail_shapes() {
        assert_eq!(parse_event_time("2024-03-01T12:34:56Z"), Some(1_709_296_496_000));
        assert_eq!(parse_event_time("2024-03-01T12:34:56.789Z"), Some(1_709_296_496_789));
        assert_eq!(parse_event_time("2024-03-01 12:34:56"), Some(1_709_296_496_000));
        assert_eq!(parse_event_time("2024-03-01T14:34:56+02:00"), Some(1_709_296_496_000));
        assert_eq!(parse_event_time("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_event_time("2024-02-30T00:00:00Z"), None);
        assert_eq!(parse_event_time("2024-03-01"), None);
        assert_eq!(parse_event_time("yesterday at noon"), None);
        assert_eq!(parse_event_time("2024-03-01T12:34:56Zjunk"), None);
    }

    proptest::proptest! {
        // Any time from 1970 to 9999, written as the store writes it (and as CloudTrail does),
        // reads back to the same millisecond; with an offset, to the same instant.
        #[test]
        fn round_trip(ms in 0i64..253_402_300_799_999) {
            let iso = trailscope_store::chrono_free_iso(ms);
            proptest::prop_assert_eq!(parse_event_time(&iso), Some(ms), "{}", iso);
            let shifted = format!("{}+01:30", &trailscope_store::chrono_free_iso(ms + 90 * 60_000).trim_end_matches('Z'));
            if ms + 90 * 60_000 <= 253_402_300_799_999 {
                proptest::prop_assert_eq!(parse_event_time(&shifted), Some(ms), "{}", shifted);
            }
        }

        #[test]
        fn any_text_is_a_time_or_none(s in "\\PC{0,40}", b in proptest::collection::vec(proptest::num::u8::ANY, 0..40)) {
            let _ = parse_event_time(&s);
            let _ = parse_event_time(&String::from_utf8_lossy(&b));
        }
    }
}
