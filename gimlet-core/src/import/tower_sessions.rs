//! tower-sessions' formats (0.14 and 0.15, with its Redis and sqlx stores).
//!
//! - The cookie carries the session id: an `i128`'s 16 bytes, little-endian,
//!   in base64url without padding (22 characters). The stores key the
//!   record by that same text.
//! - The record is `rmp_serde::to_vec` of `Record { id, data, expiry_date }`:
//!   a MessagePack array of the id (`i128`, 16 bytes big-endian), a map of
//!   key → `serde_json::Value`, and the expiry as `time`'s compact tuple
//!   `(year, ordinal, hour, minute, second, nanosecond, offset hours,
//!   offset minutes, offset seconds)`.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use super::Entries;

/// The id a cookie value names, if it is one: its text is then the key
/// of the record in the store.
pub(crate) fn parse_id(text: &str) -> Option<i128> {
    let mut bytes = [0; 16];
    if text.len() != 22 || URL_SAFE_NO_PAD.decode_slice(text, &mut bytes) != Ok(16) {
        return None;
    }
    Some(i128::from_le_bytes(bytes))
}

/// `time::OffsetDateTime` as a non-human-readable format holds it.
type Expiry = (i32, u16, u8, u8, u8, u32, i8, i8, i8);

#[derive(Deserialize)]
struct Record {
    #[serde(with = "serde_bytes")]
    id: Vec<u8>,
    data: BTreeMap<String, serde_json::Value>,
    expiry_date: Expiry,
}

/// Seconds since the Unix epoch of `time`'s compact tuple.
fn unix_seconds((year, ordinal, hour, minute, second, _, oh, om, os): Expiry) -> i64 {
    let y = i64::from(year) - 1;
    // Days from 0001-01-01 to the year's first day, less those to 1970.
    let days = 365 * y + y.div_euclid(4) - y.div_euclid(100) + y.div_euclid(400) - 719_162
        + i64::from(ordinal)
        - 1;
    let offset = i64::from(oh) * 3600 + i64::from(om) * 60 + i64::from(os);
    days * 86_400 + i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second) - offset
}

/// The data of the record `bytes` for the session `id`: `None` once it
/// has expired at `now`.
pub(crate) fn decode(bytes: &[u8], id: i128, now: u64) -> Result<Option<Entries>, &'static str> {
    let record: Record = rmp_serde::from_slice(bytes).map_err(|_| "not a tower-sessions record")?;
    let stored = <[u8; 16]>::try_from(record.id.as_slice()).map_err(|_| "a bad record id")?;
    if i128::from_be_bytes(stored) != id {
        return Err("a record of another session");
    }
    let now = i64::try_from(now).unwrap_or(i64::MAX);
    if unix_seconds(record.expiry_date) <= now {
        return Ok(None);
    }
    Ok(Some(record.data.into_iter().collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_tuples_in_unix_seconds() {
        assert_eq!(unix_seconds((1970, 1, 0, 0, 0, 0, 0, 0, 0)), 0);
        // 2026-12-08 (day 342) 12:34:56 UTC.
        assert_eq!(
            unix_seconds((2026, 342, 12, 34, 56, 0, 0, 0, 0)),
            1_796_733_296
        );
        // The same instant at +01:30.
        assert_eq!(
            unix_seconds((2026, 342, 14, 4, 56, 0, 1, 30, 0)),
            1_796_733_296
        );
        assert_eq!(unix_seconds((1969, 365, 23, 59, 59, 0, 0, 0, 0)), -1);
        assert_eq!(unix_seconds((2000, 60, 0, 0, 0, 0, 0, 0, 0)), 951_782_400); // 2000-02-29
        // An offset with seconds, as `time` allows: -00:00:30.
        assert_eq!(unix_seconds((1970, 1, 0, 0, 0, 0, 0, 0, -30)), 30);
    }

    /// A record laid out as `rmp_serde::to_vec` lays out tower-sessions'
    /// (the HTTP tests read the real crate's): id, data, expiry.
    fn record(id: i128, expiry: i64) -> Vec<u8> {
        let data = BTreeMap::from([("user".to_owned(), serde_json::json!("ana"))]);
        let days = expiry.div_euclid(86_400);
        assert_eq!(days, 20_000, "the test's expiries are on 2024-10-04");
        let second = expiry.rem_euclid(86_400);
        // 2024-10-04 is day 278 of its year.
        let tuple: Expiry = (
            2024,
            278,
            (second / 3600) as u8,
            (second / 60 % 60) as u8,
            (second % 60) as u8,
            0,
            0,
            0,
            0,
        );
        rmp_serde::to_vec(&(serde_bytes::Bytes::new(&id.to_be_bytes()), data, tuple)).unwrap()
    }

    #[test]
    fn records_decode_until_they_expire() {
        let expiry = 20_000 * 86_400 + 3_723; // 01:02:03
        let now = u64::try_from(expiry).unwrap();
        let bytes = record(7, expiry);
        let entries = decode(&bytes, 7, now - 1).unwrap().unwrap();
        assert_eq!(entries, [("user".to_owned(), serde_json::json!("ana"))]);
        assert_eq!(decode(&bytes, 7, now).unwrap(), None);
        assert!(
            decode(&bytes, 8, now - 1).is_err(),
            "another session's record"
        );
        assert!(decode(b"\x93", 7, 0).is_err());
    }

    #[test]
    fn ids_are_22_characters_of_16_bytes() {
        assert_eq!(parse_id("AAAAAAAAAAAAAAAAAAAAAA"), Some(0));
        assert_eq!(parse_id("AQAAAAAAAAAAAAAAAAAAAA"), Some(1));
        assert_eq!(parse_id("AAAAAAAAAAAAAAAAAAAAA"), None);
        assert_eq!(parse_id("AAAAAAAAAAAAAAAAAAAAAA="), None);
        assert_eq!(parse_id("AAAAAAAAAAAAAAAAAAAA+A"), None);
    }
}
