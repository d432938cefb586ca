//! What a commit sends a store: a batch of per-channel writes and deletes.

use std::collections::HashMap;
use std::fmt;

use super::Ownership;
use crate::SessionId;

/// The server data of one channel: keys to MessagePack-encoded values.
pub type Record = HashMap<String, Vec<u8>>;

/// The changes of one commit, for one or two channels. No id appears twice,
/// and every id is in the same group ([`SessionId::group`]), but for one
/// case: when `Session::set_owner` moves a session into its owner's group,
/// the [`Op::Retire`]s of its old ids are in the old group. A store that
/// shards by group applies those retires first, then the rest (the Redis
/// backend does, on Redis Cluster): an old record gone refuses the whole
/// login before anything is written, and a failure between the two calls
/// fails the request, whose cookies then find their records gone and start
/// afresh. Nothing of an ended session reaches the new ids either way.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    /// The operations, applied all or none.
    pub ops: Vec<Op>,
}

impl Batch {
    /// Whether there is nothing to apply.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// The ids whose records the batch ends (`Delete` and `Retire`): what
    /// a store with a feed tells every app server.
    pub fn ended(&self) -> impl Iterator<Item = SessionId> + '_ {
        self.ops.iter().filter_map(|op| match op {
            Op::Delete(id) | Op::Retire(id) => Some(*id),
            Op::Write(_) => None,
        })
    }
}

/// One operation of a [`Batch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Change some keys of a record, and set its expiry.
    Write(Write),
    /// Delete a record, if it exists (logout).
    Delete(SessionId),
    /// Delete a record that must exist: the old id of a session whose data
    /// a cycle or a login moves to new ids. If it is gone (ended by a
    /// concurrent logout, or expired) the batch fails with
    /// [`BackendErrorKind::Gone`](crate::backend::BackendErrorKind::Gone), so an ended session's data never
    /// reaches the new ids.
    Retire(SessionId),
}

impl Op {
    /// The id of the record the operation changes.
    pub fn id(&self) -> SessionId {
        match self {
            Op::Write(write) => write.id,
            Op::Delete(id) | Op::Retire(id) => *id,
        }
    }
}

/// How a [`Write`] treats a record that does or does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// The id was just generated: a live record with it is a collision.
    Create,
    /// The id came from a verified cookie whose channel has no record yet:
    /// create the record, or change it if a concurrent request created it.
    Upsert,
    /// The record must exist; if it is gone (deleted by a concurrent logout,
    /// or expired) the batch fails with [`BackendErrorKind::Gone`](crate::backend::BackendErrorKind::Gone) rather than
    /// bring the session back.
    Update,
}

/// Changes to one channel's record. Its `Debug` shows the keys and the
/// size of each value, never a value.
#[derive(Clone, PartialEq, Eq)]
pub struct Write {
    /// The channel id.
    pub id: SessionId,
    /// What to do when the record exists, or does not.
    pub mode: WriteMode,
    /// Delete every key before applying `set`.
    pub clear: bool,
    /// Keys to set, with their MessagePack-encoded values.
    pub set: Vec<(String, Vec<u8>)>,
    /// Keys to delete.
    pub remove: Vec<String>,
    /// Keys that must still hold these encoded values (`None`: be absent)
    /// when the batch applies: a compare-and-set per key, checked with the
    /// modes, before anything is written. One that does not fails the
    /// whole batch with [`BackendErrorKind::Changed`](crate::backend::BackendErrorKind::Changed).
    /// Empty for most writes; a read-modify-write of a key (`update`)
    /// expects what it read.
    pub expect: Vec<(String, Option<Vec<u8>>)>,
    /// New expiry of the record, in Unix seconds.
    pub expires_at: u64,
    /// Record in the owner index that this record belongs to an owner
    /// (stores with [`Backend::owner_index`](crate::backend::Backend::owner_index); others ignore it). Set on the
    /// write that creates an owned session's record.
    pub owner: Option<Ownership>,
}

impl fmt::Debug for Write {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Write")
            .field("id", &self.id)
            .field("mode", &self.mode)
            .field("clear", &self.clear)
            .field("set", &Sizes(&self.set))
            .field("remove", &self.remove)
            .field("expect", &Expected(&self.expect))
            .field("expires_at", &self.expires_at)
            .field("owner", &self.owner)
            .finish()
    }
}

/// Keys with the size of their values, for `Debug`.
struct Sizes<'a>(&'a [(String, Vec<u8>)]);

impl fmt::Debug for Sizes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (key, value) in self.0 {
            map.entry(key, &format_args!("<{} bytes>", value.len()));
        }
        map.finish()
    }
}

/// Expected keys with the size of their values, for `Debug`.
struct Expected<'a>(&'a [(String, Option<Vec<u8>>)]);

impl fmt::Debug for Expected<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (key, value) in self.0 {
            match value {
                Some(value) => map.entry(key, &format_args!("<{} bytes>", value.len())),
                None => map.entry(key, &format_args!("absent")),
            };
        }
        map.finish()
    }
}

impl Write {
    /// Applies the write's keys to `record`: the clear, then the removals,
    /// then the sets. What a store that holds a record as one value does
    /// with it (memory, memcached); a value that changes reuses its
    /// allocation.
    pub fn apply_to(&self, record: &mut Record) {
        if self.clear {
            record.clear();
        }
        for key in &self.remove {
            record.remove(key);
        }
        for (key, value) in &self.set {
            match record.get_mut(key) {
                Some(old) => old.clone_from(value),
                None => drop(record.insert(key.clone(), value.clone())),
            }
        }
    }

    /// Whether every expected key holds what it should in `record` (no
    /// record: every key absent). What a store that can read the record
    /// inside its atomic step checks.
    pub fn expectations_hold(&self, record: Option<&Record>) -> bool {
        self.expect.iter().all(|(key, value)| {
            let current = record.and_then(|r| r.get(key));
            current.map(Vec::as_slice) == value.as_deref()
        })
    }

    /// A write that only renews the expiry of an existing record.
    pub fn touch(id: SessionId, expires_at: u64) -> Self {
        Write {
            id,
            mode: WriteMode::Update,
            clear: false,
            set: Vec::new(),
            remove: Vec::new(),
            expect: Vec::new(),
            expires_at,
            owner: None,
        }
    }
}
