//! Times for people: "3 min ago", and the UTC date behind it.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in Unix seconds (0 on a clock set before 1970).
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// `at` as `<time>`: relative to `now` ("just now", "3 min ago", "in 11 h"),
/// with the UTC date and time beside it for exactness.
pub fn time(at: u64, now: u64) -> String {
    format!(
        "<time datetime=\"{}\" title=\"{}\">{}</time>",
        iso(at),
        utc(at),
        relative(at, now)
    )
}

/// "just now", "3 min ago", "in 5 h", "2 days ago" …
pub fn relative(at: u64, now: u64) -> String {
    let (span, past) = if at <= now {
        (now - at, true)
    } else {
        (at - now, false)
    };
    let amount = match span {
        0..60 => return "just now".into(),
        60..3600 => format!("{} min", span / 60),
        3600..86_400 => format!("{} h", span / 3600),
        _ => match span / 86_400 {
            1 => "1 day".into(),
            days => format!("{days} days"),
        },
    };
    if past {
        format!("{amount} ago")
    } else {
        format!("in {amount}")
    }
}

/// `2023-11-14 22:13 UTC`.
pub fn utc(at: u64) -> String {
    let (y, m, d) = civil(at / 86_400);
    let secs = at % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60
    )
}

/// `2023-11-14T22:13:20Z`.
fn iso(at: u64) -> String {
    let (y, m, d) = civil(at / 86_400);
    let secs = at % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// The calendar date of a day counted from 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, for days on or after it).
fn civil(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_spans() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(iso(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(utc(4_107_542_400), "2100-03-01 00:00 UTC");
        assert_eq!(relative(100, 130), "just now");
        assert_eq!(relative(0, 180), "3 min ago");
        assert_eq!(relative(7200, 0), "in 2 h");
        assert_eq!(relative(0, 86_400 * 3), "3 days ago");
    }
}
