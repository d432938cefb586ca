//! A channel's server-side data: the record as a load found it, the
//! changes this request made over it, what a read sees of both, and the
//! write that carries the changes to the store.

use crate::SessionId;
use crate::backend::{Write, WriteMode};
use crate::session::model::facts::{Known, Origin, RecordState};

use super::Channel;

impl Channel {
    pub(crate) fn server_get(&self, key: &str) -> Known<'_> {
        if let Some(change) = self.pending.get(key) {
            return change.as_deref().map_or(Known::Absent, Known::Present);
        }
        if self.cleared {
            return Known::Absent;
        }
        match &self.loaded {
            Some(record) => record.get(key).map_or(Known::Absent, |v| Known::Present(v)),
            None => Known::Unknown,
        }
    }

    /// Whether `key`'s value here is the store's, as loaded: loaded, not
    /// cleared, and not written by this request.
    pub(crate) fn holds_stored(&self, key: &str) -> bool {
        self.loaded.is_some() && !self.cleared && !self.pending.contains_key(key)
    }

    /// The store's value of `key` as the commit found it, in place of the
    /// one loaded earlier: what the next write of the key expects.
    pub(crate) fn restore_stored(&mut self, key: &str, value: Option<Vec<u8>>) {
        if let Some(record) = &mut self.loaded {
            match value {
                Some(value) => record.insert(key.to_owned(), value),
                None => record.remove(key),
            };
        }
    }

    /// The value stored before this request's changes, if known.
    pub(crate) fn stored_value(&self, key: &str) -> Option<&[u8]> {
        if self.cleared {
            return None;
        }
        self.loaded.as_ref()?.get(key).map(Vec::as_slice)
    }

    /// The size of this channel's server-side data, keys' names and
    /// values, once `key` holds `len` bytes: what was loaded, with this
    /// request's changes.
    pub(crate) fn server_bytes_with(&self, key: &str, len: usize) -> usize {
        let stored = self.loaded.iter().flatten().filter(|(k, _)| {
            !self.cleared && k.as_str() != key && !self.pending.contains_key(k.as_str())
        });
        let changed = self.pending.iter().filter(|(k, _)| k.as_str() != key);
        let stored: usize = stored.map(|(k, v)| k.len() + v.len()).sum();
        let changed: usize = changed
            .filter_map(|(k, v)| v.as_ref().map(|v| k.len() + v.len()))
            .sum();
        stored + changed + key.len() + len
    }

    pub(crate) fn server_insert(&mut self, key: &str, value: Vec<u8>) {
        self.carried.retain(|k| k != key);
        if self.stored_value(key) == Some(value.as_slice()) {
            // Back to what is stored: nothing to write.
            self.pending.remove(key);
        } else {
            self.pending.insert(key.to_owned(), Some(value));
        }
    }

    pub(crate) fn server_remove(&mut self, key: &str) {
        self.carried.retain(|k| k != key);
        let stored_or_unknown = match &self.loaded {
            _ if self.cleared => false,
            Some(record) => record.contains_key(key),
            None => true,
        };
        if stored_or_unknown {
            self.pending.insert(key.to_owned(), None);
        } else {
            self.pending.remove(key);
        }
    }

    /// Whether there may be server data that a clear must delete.
    pub(crate) fn may_have_server_data(&self) -> bool {
        self.stored() || self.loaded.as_ref().is_none_or(|r| !r.is_empty())
    }

    /// Server keys after this request's changes. Needs `loaded`.
    pub(crate) fn server_keys(&self) -> impl Iterator<Item = &str> {
        let loaded = self
            .loaded
            .iter()
            .filter(|_| !self.cleared)
            .flat_map(|r| r.keys())
            .filter(|k| !self.pending.contains_key(*k));
        let pending = self
            .pending
            .iter()
            .filter(|(_, v)| v.is_some())
            .map(|(k, _)| k);
        loaded.chain(pending).map(String::as_str)
    }

    /// Server data after this request's changes. Needs `loaded`.
    pub(crate) fn server_view(&self) -> Vec<(String, Vec<u8>)> {
        self.server_keys()
            .filter_map(|k| match self.server_get(k) {
                Known::Present(v) => Some((k.to_owned(), v.to_vec())),
                _ => None,
            })
            .collect()
    }

    /// Folds committed changes into `loaded`.
    pub(super) fn settle(&mut self) {
        if !self.cleared && self.pending.is_empty() {
            return;
        }
        let pending = std::mem::take(&mut self.pending);
        if let Some(record) = &mut self.loaded {
            if self.cleared {
                record.clear();
            }
            for (key, change) in pending {
                match change {
                    Some(value) => record.insert(key, value),
                    None => record.remove(&key),
                };
            }
        }
        self.cleared = false;
    }

    pub(crate) fn write_mode(&self) -> WriteMode {
        match (self.origin, self.record) {
            // A new id's first write creates its record: it must be free.
            (Origin::New, RecordState::Absent) => WriteMode::Create,
            (_, RecordState::Absent) => WriteMode::Upsert,
            _ => WriteMode::Update,
        }
    }

    /// The write this channel's changes need, if any. A channel with no
    /// record and nothing to set needs none (deleting from nothing is
    /// nothing), unless `create` asks for its record to exist.
    pub(crate) fn changes(&self, id: SessionId, expires_at: u64, create: bool) -> Option<Write> {
        let mode = self.write_mode();
        let set: Vec<_> = self
            .pending
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), v.clone()?)))
            .collect();
        let remove: Vec<_> = self
            .pending
            .iter()
            .filter(|(_, v)| v.is_none())
            .map(|(k, _)| k.clone())
            .collect();
        let needed = !set.is_empty()
            || (mode == WriteMode::Update && (self.cleared || !remove.is_empty()))
            || (mode == WriteMode::Create && create);
        needed.then_some(Write {
            id,
            mode,
            clear: self.cleared,
            set,
            remove,
            expect: Vec::new(),
            expires_at,
            owner: None,
        })
    }
}
