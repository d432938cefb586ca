//! A channel's clientside map. A map that came in a cookie stays as the
//! cookie's bytes until a write needs it as a map, so opening a session
//! costs no allocation per key, and reads scan a handful of entries.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::cookie::Entries;

/// The clientside value that stands for one kept in the store: the key's
/// value did not fit in the cookie (`cookie_overflow`), so it lives
/// server-side in the same channel. No MessagePack encoding is empty.
pub(crate) const OVERFLOWED: &[u8] = &[];

/// `Debug` shows how many entries there are, never their keys or values.
#[derive(Clone, Default)]
pub(crate) struct ClientsideMap {
    /// The entries as they arrived, until the first change.
    raw: Option<Raw>,
    /// The entries once changed (empty while `raw` is set).
    map: BTreeMap<String, Vec<u8>>,
}

/// `count` checked entries from `buf[start..]`, shared: a remembered
/// cookie hands its map to each request without a copy (and a new one
/// shares the buffer it was decoded into, also without a copy).
#[derive(Clone)]
struct Raw {
    buf: Arc<Vec<u8>>,
    start: usize,
    count: usize,
}

impl std::fmt::Debug for ClientsideMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientsideMap")
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

impl ClientsideMap {
    /// Entries of a payload that `payload::read` checked.
    pub(crate) fn raw(buf: Vec<u8>, start: usize, count: usize) -> Self {
        ClientsideMap {
            raw: Some(Raw {
                buf: Arc::new(buf),
                start,
                count,
            }),
            map: BTreeMap::new(),
        }
    }

    /// About how many bytes the map holds on the heap.
    pub(crate) fn heap_len(&self) -> usize {
        let raw = self.raw.as_ref().map_or(0, |raw| raw.buf.capacity());
        let map: usize = self.map.iter().map(|(k, v)| k.len() + v.len() + 48).sum();
        raw + map
    }

    pub(crate) fn iter(&self) -> Iter<'_> {
        match &self.raw {
            Some(raw) => Iter::Raw(Entries {
                rest: &raw.buf[raw.start..],
                left: raw.count,
            }),
            None => Iter::Map(self.map.iter()),
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&[u8]> {
        match &self.raw {
            Some(raw) => Entries {
                rest: &raw.buf[raw.start..],
                left: raw.count,
            }
            .find(key),
            None => self.map.get(key).map(Vec::as_slice),
        }
    }

    pub(crate) fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub(crate) fn len(&self) -> usize {
        self.raw.as_ref().map_or(self.map.len(), |raw| raw.count)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The map, turned into one that can be changed.
    fn map_mut(&mut self) -> &mut BTreeMap<String, Vec<u8>> {
        if self.raw.is_some() {
            self.map = self
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_vec()))
                .collect();
            self.raw = None;
        }
        &mut self.map
    }

    pub(crate) fn insert(&mut self, key: &str, value: Vec<u8>) {
        self.map_mut().insert(key.to_owned(), value);
    }

    /// Removes `key`; answers whether it was there.
    pub(crate) fn remove(&mut self, key: &str) -> bool {
        self.contains_key(key) && self.map_mut().remove(key).is_some()
    }

    pub(crate) fn clear(&mut self) {
        *self = ClientsideMap::default();
    }
}

/// The entries of a [`ClientsideMap`], in key order for a changed map and in
/// cookie order (which was key order when written) for a raw one.
pub(crate) enum Iter<'a> {
    Raw(Entries<'a>),
    Map(std::collections::btree_map::Iter<'a, String, Vec<u8>>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a str, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Raw(entries) => entries.next(),
            Iter::Map(iter) => iter.next().map(|(k, v)| (k.as_str(), v.as_slice())),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            Iter::Raw(entries) => entries.size_hint(),
            Iter::Map(iter) => iter.size_hint(),
        }
    }
}

impl ExactSizeIterator for Iter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cookie::payload::{self, Header};

    fn raw(entries: &[(&str, &[u8])]) -> ClientsideMap {
        let header = Header::sample();
        let mut buf = vec![0xee; 3]; // bytes before the payload, as in a cookie
        payload::write(&mut buf, &header, entries.iter().copied());
        let (_, start, count) = payload::read(&buf[3..]).expect("valid");
        ClientsideMap::raw(buf, 3 + start, count)
    }

    #[test]
    fn debug_shows_the_count_and_nothing_else() {
        let map = raw(&[("user", b"hunter2"), ("theme", b"dark")]);
        let debug = format!("{map:?}");
        assert!(
            debug.starts_with("ClientsideMap") && debug.contains("len: 2"),
            "{debug}"
        );
        assert!(
            !debug.contains("user") && !debug.contains("104, 117"),
            "{debug}"
        );
    }

    #[test]
    fn a_raw_map_reads_in_place_and_converts_on_the_first_change() {
        let mut map = raw(&[("a", b"1"), ("b", b"22")]);
        assert!(map.raw.is_some());
        assert_eq!(map.get("b"), Some(&b"22"[..]));
        assert_eq!(map.get("c"), None);
        assert_eq!(map.len(), 2);
        assert_eq!(map.iter().map(|(k, _)| k).collect::<Vec<_>>(), ["a", "b"]);
        assert!(!map.remove("c"), "removing an absent key changes nothing");
        assert!(map.raw.is_some(), "…and keeps the raw form");
        map.insert("c", b"3".to_vec());
        assert!(map.raw.is_none());
        assert!(map.remove("a"));
        let entries: Vec<_> = map.iter().collect();
        assert_eq!(entries, [("b", &b"22"[..]), ("c", &b"3"[..])]);
        map.clear();
        assert!(map.is_empty());
    }
}
