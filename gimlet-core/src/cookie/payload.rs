//! The cookie payload's MessagePack layout:
//! `[id (bin 16), created (uint), issued (uint), checked (uint), flags (uint),
//! data (map str → bin)]`. Before the data come, for a channel of an owned
//! session, the owner (bin 16); then, for a session with a lifetime of its
//! own (flags bit 1), its idle and absolute seconds (two uints, 0: the
//! configured absolute lifetime).
//!
//! It is read and written with `rmp`'s low-level calls rather than serde, so
//! that a decoded cookie's clientside map can stay as the bytes it arrived
//! in (see `ClientsideMap`): opening a session allocates nothing per key.

use std::collections::BTreeMap;
use std::fmt;

use rmp::decode::{self, Bytes};
use rmp::encode;

use super::DecodeError;
use crate::SessionId;
use crate::backend::Owner;
use crate::lifetime::Lifetime;

/// What a cookie carries: one channel's identity and its clientside map.
///
/// `Debug` shows neither the id nor the data, only the timestamps and how
/// many keys there are.
#[derive(Clone, PartialEq, Eq)]
pub struct CookiePayload {
    /// The channel's id.
    pub id: SessionId,
    /// When the channel was created, in Unix seconds.
    pub created: u64,
    /// When the cookie's lifetime last started, in Unix seconds. The cookie is
    /// valid until `issued` plus the channel's lifetime.
    pub issued: u64,
    /// When the channel's record was last seen to exist, in Unix seconds
    /// (0 if never). The record is checked again once this is older than
    /// the revalidation window.
    pub checked: u64,
    /// Whether the channel has a record in the backend. A commit that finds
    /// such a record gone does not create it again.
    pub stored: bool,
    /// The session's owner, if it has one.
    pub owner: Option<crate::backend::Owner>,
    /// The session's own lifetime, if it was given one.
    pub lifetime: Option<Lifetime>,
    /// The clientside map: keys to MessagePack-encoded values.
    pub data: BTreeMap<String, Vec<u8>>,
}

impl fmt::Debug for CookiePayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CookiePayload")
            .field("created", &self.created)
            .field("issued", &self.issued)
            .field("checked", &self.checked)
            .field("stored", &self.stored)
            .field("lifetime", &self.lifetime)
            .field("keys", &self.data.len())
            .finish_non_exhaustive()
    }
}

/// The length of `payload` once serialized.
pub fn payload_len(payload: &CookiePayload) -> usize {
    let mut buf = Vec::with_capacity(128);
    let entries = payload.data.iter().map(|(k, v)| (k.as_str(), v.as_slice()));
    write(&mut buf, &payload.header(), entries);
    buf.len()
}

impl CookiePayload {
    pub(crate) fn header(&self) -> Header {
        Header {
            id: self.id,
            created: self.created,
            issued: self.issued,
            checked: self.checked,
            stored: self.stored,
            owner: self.owner,
            lifetime: self.lifetime,
        }
    }
}

/// Flags bit 0: the channel has a record in the backend.
const FLAG_STORED: u8 = 0b1;
/// Flags bit 1: the session's own lifetime follows the owner.
const FLAG_LIFETIME: u8 = 0b10;
/// The payload array's length with neither an owner nor a lifetime; an
/// owner adds one field, a lifetime two.
const FIELDS: u32 = 6;

/// The fixed fields of a payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) id: SessionId,
    pub(crate) created: u64,
    pub(crate) issued: u64,
    /// When the channel's record was last seen to exist (0: never).
    pub(crate) checked: u64,
    pub(crate) stored: bool,
    /// The session's owner, if it has one (see `Session::set_owner`).
    pub(crate) owner: Option<Owner>,
    /// The session's own lifetime (see `Session::set_lifetime`).
    pub(crate) lifetime: Option<Lifetime>,
}

impl Header {
    /// The payload array's length.
    fn fields(&self) -> u32 {
        FIELDS + u32::from(self.owner.is_some()) + 2 * u32::from(self.lifetime.is_some())
    }
}

/// Appends the payload to `buf`.
pub(crate) fn write<'a>(
    buf: &mut Vec<u8>,
    header: &Header,
    entries: impl ExactSizeIterator<Item = (&'a str, &'a [u8])>,
) {
    // Writing into a Vec cannot fail, and every length fits in u32: keys
    // are short and a cookie is a few KiB.
    let mut flags = if header.stored { FLAG_STORED } else { 0 };
    if header.lifetime.is_some() {
        flags |= FLAG_LIFETIME;
    }
    let _ = encode::write_array_len(buf, header.fields());
    let _ = encode::write_bin(buf, header.id.as_bytes());
    let _ = encode::write_uint(buf, header.created);
    let _ = encode::write_uint(buf, header.issued);
    let _ = encode::write_uint(buf, header.checked);
    let _ = encode::write_uint(buf, u64::from(flags));
    if let Some(owner) = &header.owner {
        let _ = encode::write_bin(buf, owner.as_bytes());
    }
    if let Some(lifetime) = header.lifetime {
        let (idle, absolute) = lifetime.to_wire();
        let _ = encode::write_uint(buf, u64::from(idle));
        let _ = encode::write_uint(buf, u64::from(absolute));
    }
    let _ = encode::write_map_len(buf, len32(entries.len()));
    for (key, value) in entries {
        let _ = encode::write_str(buf, key);
        let _ = encode::write_bin(buf, value);
    }
}

fn len32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Reads and checks a whole payload. Answers the header, the offset of the
/// map's first entry, and the number of entries; the entries are checked
/// (lengths, UTF-8 keys, nothing after them) but not copied.
pub(crate) fn read(bytes: &[u8]) -> Result<(Header, usize, usize), DecodeError> {
    let bad = |_| DecodeError::Payload;
    let mut rd = Bytes::new(bytes);
    let fields = decode::read_array_len(&mut rd).map_err(bad)?;
    if !(FIELDS..=FIELDS + 3).contains(&fields) {
        return Err(DecodeError::Payload);
    }
    let id = take_bin(&mut rd)?;
    let id: [u8; 16] = id.try_into().map_err(|_| DecodeError::Payload)?;
    let created: u64 = decode::read_int(&mut rd).map_err(|_| DecodeError::Payload)?;
    let issued: u64 = decode::read_int(&mut rd).map_err(|_| DecodeError::Payload)?;
    let checked: u64 = decode::read_int(&mut rd).map_err(|_| DecodeError::Payload)?;
    let flags: u8 = decode::read_int(&mut rd).map_err(|_| DecodeError::Payload)?;
    let timed = flags & FLAG_LIFETIME != 0;
    let owned = match (fields - FIELDS).checked_sub(2 * u32::from(timed)) {
        Some(0) => false,
        Some(1) => true,
        _ => return Err(DecodeError::Payload),
    };
    let owner = if owned {
        let owner: [u8; 16] = take_bin(&mut rd)?
            .try_into()
            .map_err(|_| DecodeError::Payload)?;
        Some(Owner::from_bytes(owner))
    } else {
        None
    };
    let lifetime = if timed {
        let idle: u64 = decode::read_int(&mut rd).map_err(|_| DecodeError::Payload)?;
        let absolute: u64 = decode::read_int(&mut rd).map_err(|_| DecodeError::Payload)?;
        Some(Lifetime::from_wire(idle, absolute).ok_or(DecodeError::Payload)?)
    } else {
        None
    };
    let count = decode::read_map_len(&mut rd).map_err(bad)? as usize;
    let start = bytes.len() - rd.remaining_slice().len();
    let mut entries = Entries {
        rest: rd.remaining_slice(),
        left: count,
    };
    for _ in 0..count {
        entries.next_checked()?;
    }
    if !entries.rest.is_empty() {
        return Err(DecodeError::Payload);
    }
    let header = Header {
        id: SessionId::from_bytes(id),
        created,
        issued,
        checked,
        stored: flags & FLAG_STORED != 0,
        owner,
        lifetime,
    };
    Ok((header, start, count))
}

fn take_bin<'a>(rd: &mut Bytes<'a>) -> Result<&'a [u8], DecodeError> {
    let len = read_len(rd, Marker::Bin)?;
    take(rd, len)
}

/// Which of MessagePack's length-prefixed families a read expects.
#[derive(Clone, Copy)]
enum Marker {
    Str,
    Bin,
}

/// The length of the `str` or `bin` value at the start of `rd`: fixstr
/// `0xa0..=0xbf`, str8/16/32 `0xd9..=0xdb`, bin8/16/32 `0xc4..=0xc6`, each
/// length big-endian. Read here, inline, on every entry of every cookie
/// read, rather than through `rmp`'s general reader.
fn read_len(rd: &mut Bytes<'_>, family: Marker) -> Result<usize, DecodeError> {
    let rest = rd.remaining_slice();
    let (&marker, rest) = rest.split_first().ok_or(DecodeError::Payload)?;
    let width = match (family, marker) {
        (Marker::Str, 0xa0..=0xbf) => {
            *rd = Bytes::new(rest);
            return Ok(usize::from(marker & 0x1f));
        }
        (Marker::Str, 0xd9) | (Marker::Bin, 0xc4) => 1,
        (Marker::Str, 0xda) | (Marker::Bin, 0xc5) => 2,
        (Marker::Str, 0xdb) | (Marker::Bin, 0xc6) => 4,
        _ => return Err(DecodeError::Payload),
    };
    let (len, rest) = rest.split_at_checked(width).ok_or(DecodeError::Payload)?;
    *rd = Bytes::new(rest);
    Ok(len.iter().fold(0, |n, &b| n << 8 | usize::from(b)))
}

fn take<'a>(rd: &mut Bytes<'a>, len: usize) -> Result<&'a [u8], DecodeError> {
    let rest = rd.remaining_slice();
    if rest.len() < len {
        return Err(DecodeError::Payload);
    }
    let (head, tail) = rest.split_at(len);
    *rd = Bytes::new(tail);
    Ok(head)
}

/// The entries of a map that [`read`] checked.
#[derive(Debug, Clone)]
pub(crate) struct Entries<'a> {
    pub(crate) rest: &'a [u8],
    pub(crate) left: usize,
}

impl<'a> Entries<'a> {
    fn next_checked(&mut self) -> Result<(&'a str, &'a [u8]), DecodeError> {
        let (key, value) = self.next_bytes()?;
        let key = std::str::from_utf8(key).map_err(|_| DecodeError::Payload)?;
        Ok((key, value))
    }

    /// The next entry, its key as bytes.
    fn next_bytes(&mut self) -> Result<(&'a [u8], &'a [u8]), DecodeError> {
        let mut rd = Bytes::new(self.rest);
        let key_len = read_len(&mut rd, Marker::Str)?;
        let key = take(&mut rd, key_len)?;
        let value = take_bin(&mut rd)?;
        self.rest = rd.remaining_slice();
        self.left -= 1;
        Ok((key, value))
    }

    /// The value of `key`: keys are compared as bytes, so a lookup pays
    /// no UTF-8 check of the keys it passes.
    pub(crate) fn find(mut self, key: &str) -> Option<&'a [u8]> {
        while self.left > 0 {
            let (name, value) = self.next_bytes().ok()?;
            if name == key.as_bytes() {
                return Some(value);
            }
        }
        None
    }
}

impl<'a> Iterator for Entries<'a> {
    type Item = (&'a str, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        // The map was checked when the cookie was decoded; a failure here
        // cannot happen, and would end the iteration rather than panic.
        self.next_checked().ok()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for Entries<'_> {}

/// An upper bound of the payload's length for a clientside map whose
/// entries have these key and value lengths: the size guard, cheap enough
/// for every clientside insert.
pub(crate) fn bound(entries: impl ExactSizeIterator<Item = (usize, usize)>) -> usize {
    fn str_header(len: usize) -> usize {
        match len {
            0..32 => 1,
            32..=0xff => 2,
            0x100..=0xffff => 3,
            _ => 5,
        }
    }
    fn bin_header(len: usize) -> usize {
        match len {
            0..=0xff => 2,
            0x100..=0xffff => 3,
            _ => 5,
        }
    }
    // Array header, id (bin 16), three timestamps at their widest, flags,
    // an owner (bin 16), a lifetime's two uint32s at their widest, map
    // header at its widest.
    let mut len = 1 + 2 + 16 + 3 * 9 + 1 + 2 + 16 + 2 * 5 + 5;
    for (key, value) in entries {
        len += str_header(key) + key + bin_header(value) + value;
    }
    len
}

#[cfg(test)]
impl Header {
    /// A header of small values, for tests.
    pub(crate) fn sample() -> Header {
        Header {
            id: SessionId::from_bytes([1; 16]),
            created: 1,
            issued: 2,
            checked: 3,
            stored: false,
            owner: None,
            lifetime: None,
        }
    }

    /// The header that takes the most bytes.
    fn widest() -> Header {
        Header {
            id: SessionId::from_bytes([9; 16]),
            created: u64::MAX,
            issued: u64::MAX,
            checked: u64::MAX,
            stored: true,
            owner: Some(Owner::from_bytes([7; 16])),
            lifetime: Some(Lifetime::from_wire(u64::MAX, u64::MAX).expect("not 0")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bound_is_an_upper_bound_and_close() {
        let header = Header::widest();
        for (keys, value_len) in [(0, 0), (1, 10), (3, 31), (20, 300), (2, 70_000)] {
            let owned: Vec<(String, Vec<u8>)> = (0..keys)
                .map(|i| (format!("key-{i:0>40}"), vec![1; value_len]))
                .collect();
            let mut buf = Vec::new();
            write(
                &mut buf,
                &header,
                owned.iter().map(|(k, v)| (k.as_str(), v.as_slice())),
            );
            let bound = bound(owned.iter().map(|(k, v)| (k.len(), v.len())));
            assert!(
                bound >= buf.len() && bound <= buf.len() + 5,
                "{bound} vs {}",
                buf.len()
            );
        }
    }

    #[test]
    fn the_bound_is_tight_for_every_header_width() {
        let header = Header::widest();
        // Key and value lengths on each side of every MessagePack header
        // width: str 1/2/3/5 bytes, bin 2/3/5 bytes.
        let keys = [1, 31, 32, 255, 256, 65_535, 65_536];
        let values = [0, 1, 255, 256, 65_535, 65_536];
        for &key_len in &keys {
            for &value_len in &values {
                let entries = [("k".repeat(key_len), vec![7; value_len])];
                let mut buf = Vec::new();
                write(
                    &mut buf,
                    &header,
                    entries.iter().map(|(k, v)| (k.as_str(), v.as_slice())),
                );
                let bound = bound(entries.iter().map(|(k, v)| (k.len(), v.len())));
                // The map header is written at its widest in the bound: 4
                // bytes more than a 1-entry map's.
                assert_eq!(bound, buf.len() + 4, "key {key_len}, value {value_len}");
            }
        }
    }

    /// A payload written field by field: `fields` for the array's length,
    /// an id, `uints`, then `owner` (if any) and `tail`, and an empty map.
    fn forged(fields: u32, uints: &[u64], owner: Option<&[u8]>, tail: &[u64]) -> Vec<u8> {
        let mut buf = Vec::new();
        let _ = encode::write_array_len(&mut buf, fields);
        let _ = encode::write_bin(&mut buf, &[1; 16]);
        for &field in uints {
            let _ = encode::write_uint(&mut buf, field);
        }
        if let Some(owner) = owner {
            let _ = encode::write_bin(&mut buf, owner);
        }
        for &field in tail {
            let _ = encode::write_uint(&mut buf, field);
        }
        let _ = encode::write_map_len(&mut buf, 0);
        buf
    }

    #[test]
    fn an_owner_and_a_lifetime_round_trip_in_every_combination() {
        let lifetimes = [
            None,
            Lifetime::from_wire(600, 0),
            Lifetime::from_wire(90 * 24 * 3600, 3600),
        ];
        for owner in [None, Some(Owner::from_bytes([3; 16]))] {
            for lifetime in lifetimes {
                let header = Header {
                    owner,
                    lifetime,
                    ..Header::sample()
                };
                let mut buf = Vec::new();
                write(&mut buf, &header, [("k", &[1u8][..])].into_iter());
                let (read_back, _, count) = read(&buf).expect("reads");
                assert_eq!((read_back, count), (header, 1));
            }
        }
    }

    #[test]
    fn a_malformed_owner_or_lifetime_is_refused() {
        let lifetime = u64::from(FLAG_LIFETIME);
        // An owner that is not 16 bytes.
        assert!(read(&forged(FIELDS + 1, &[1, 2, 3, 0], Some(&[3; 15]), &[])).is_err());
        // The lifetime flag without its two fields.
        assert!(
            read(&forged(
                FIELDS + 1,
                &[1, 2, 3, lifetime],
                Some(&[3; 16]),
                &[]
            ))
            .is_err()
        );
        // An idle lifetime of 0.
        assert!(read(&forged(FIELDS + 2, &[1, 2, 3, lifetime], None, &[0, 0])).is_err());
        // Well formed, the same fields read.
        assert!(read(&forged(FIELDS + 2, &[1, 2, 3, lifetime], None, &[60, 0])).is_ok());
    }

    #[test]
    fn entries_count_down_as_they_are_read() {
        let header = Header::sample();
        let mut buf = Vec::new();
        let pairs = [("a", &b"1"[..]), ("b", &b"22"[..]), ("c", &b""[..])];
        write(&mut buf, &header, pairs.into_iter());
        let (read_header, start, count) = read(&buf).expect("valid");
        assert_eq!(read_header, header);
        let mut entries = Entries {
            rest: &buf[start..],
            left: count,
        };
        for (i, expected) in pairs.iter().enumerate() {
            assert_eq!(entries.len(), pairs.len() - i);
            assert_eq!(entries.next(), Some(*expected));
        }
        assert_eq!(entries.len(), 0);
        assert_eq!(entries.next(), None);
    }

    #[test]
    fn read_rejects_trailing_bytes_and_bad_keys() {
        let header = Header::sample();
        let mut buf = Vec::new();
        write(&mut buf, &header, [("k", &b"v"[..])].into_iter());
        assert!(read(&buf).is_ok());
        let mut trailing = buf.clone();
        trailing.push(0);
        assert_eq!(read(&trailing), Err(DecodeError::Payload));
        let mut bad_utf8 = buf.clone();
        let at = bad_utf8.iter().rposition(|&b| b == b'k').expect("key");
        bad_utf8[at] = 0xff;
        assert_eq!(read(&bad_utf8), Err(DecodeError::Payload));
        assert_eq!(read(&buf[..buf.len() - 1]), Err(DecodeError::Payload));
    }
}
