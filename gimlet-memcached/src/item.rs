//! A channel's record as one memcached item: a MessagePack map of its keys
//! to their values (bin), after a format byte.

use gimlet_core::backend::{BackendError, BackendErrorKind, Record};
use rmp::decode::{self, Bytes};

/// The first byte of every item Gimlet writes.
const FORMAT: u8 = 1;

/// The item of `record`.
pub(crate) fn encode(record: &Record) -> Vec<u8> {
    let size: usize = record.iter().map(|(k, v)| k.len() + v.len() + 10).sum();
    let mut buf = Vec::with_capacity(size + 6);
    buf.push(FORMAT);
    // Writing into a Vec cannot fail; a record has fewer than 2^32 keys.
    let _ = rmp::encode::write_map_len(&mut buf, u32::try_from(record.len()).unwrap_or(u32::MAX));
    let mut keys: Vec<_> = record.keys().collect();
    keys.sort_unstable();
    for key in keys {
        let _ = rmp::encode::write_str(&mut buf, key);
        let _ = rmp::encode::write_bin(&mut buf, &record[key]);
    }
    buf
}

/// The record of an item.
pub(crate) fn decode(item: &[u8]) -> Result<Record, BackendError> {
    let corrupt = || {
        BackendError::new(
            BackendErrorKind::Corrupt,
            "a session item Gimlet cannot read",
        )
    };
    let (&format, rest) = item.split_first().ok_or_else(corrupt)?;
    if format != FORMAT {
        return Err(corrupt());
    }
    let mut rd = Bytes::new(rest);
    let len = decode::read_map_len(&mut rd).map_err(|_| corrupt())?;
    let mut record = Record::with_capacity(len as usize);
    for _ in 0..len {
        let key_len = decode::read_str_len(&mut rd).map_err(|_| corrupt())? as usize;
        let key = take(&mut rd, key_len).ok_or_else(corrupt)?;
        let key = std::str::from_utf8(key).map_err(|_| corrupt())?;
        let value_len = decode::read_bin_len(&mut rd).map_err(|_| corrupt())? as usize;
        let value = take(&mut rd, value_len).ok_or_else(corrupt)?;
        record.insert(key.to_owned(), value.to_vec());
    }
    if !rd.remaining_slice().is_empty() {
        return Err(corrupt());
    }
    Ok(record)
}

fn take<'a>(rd: &mut Bytes<'a>, len: usize) -> Option<&'a [u8]> {
    let rest = rd.remaining_slice();
    let (head, tail) = rest.split_at_checked(len)?;
    *rd = Bytes::new(tail);
    Some(head)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_round_trips_and_garbage_is_corrupt() {
        let record: Record = [
            ("a".to_owned(), vec![1, 2]),
            ("große 🍸".to_owned(), vec![]),
            ("big".to_owned(), vec![7; 70_000]),
        ]
        .into();
        assert_eq!(decode(&encode(&record)).unwrap(), record);
        assert_eq!(decode(&encode(&Record::new())).unwrap(), Record::new());
        let item = encode(&record);
        for bad in [
            &b""[..],
            &[2, 0x80],
            &item[..item.len() - 1],
            &[1, 0x81, 0xa1, b'a'],
        ] {
            assert!(decode(bad).is_err(), "{bad:?}");
        }
    }
}
