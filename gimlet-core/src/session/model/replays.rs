//! The read-modify-writes of one request (`Session::update` of a
//! server-side key whose value came from the store), kept so that the
//! commit can run them again on a fresh value when a concurrent request
//! changed the key after this one read it.
//!
//! The commit's write expects each such key to hold what was loaded
//! ([`Write::expect`](crate::backend::Write::expect)): one round trip when
//! nobody races. When the store answers `Changed`, the commit loads the
//! channel again, runs the key's steps in order on the fresh value, and
//! tries again, a bounded number of times.

use std::fmt;

use super::State;
use crate::backend::Record;
use crate::key::ChannelKind;
use crate::{Error, SessionId};

/// One `update` of a key, as encoded bytes in and out: the value the key
/// holds (`None`: absent), the value it should hold after the update.
pub(crate) type Step = Box<dyn FnMut(Option<&[u8]>) -> Result<Option<Vec<u8>>, Error> + Send>;

/// The updates of one key, in the order the handler made them, on the
/// store's value of `kind`'s channel `id`.
struct Replay {
    kind: ChannelKind,
    id: SessionId,
    key: String,
    steps: Vec<Step>,
}

/// Every key of the request whose value is a function of the store's.
#[derive(Default)]
pub(crate) struct Replays(Vec<Replay>);

impl fmt::Debug for Replays {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|r| (r.kind, &r.key, r.steps.len())))
            .finish()
    }
}

impl Replays {
    /// The channel id whose stored value `key`'s updates started from, if
    /// any.
    pub(crate) fn on(&self, key: &str) -> Option<(ChannelKind, SessionId)> {
        let replay = self.0.iter().find(|r| r.key == key)?;
        Some((replay.kind, replay.id))
    }

    /// Takes `key`'s steps out (an update is about to write the key, which
    /// would forget them as a blind write does).
    pub(crate) fn take(&mut self, key: &str) -> Vec<Step> {
        match self.0.iter().position(|r| r.key == key) {
            Some(i) => self.0.remove(i).steps,
            None => Vec::new(),
        }
    }

    /// `key`'s updates so far, `steps`, on the store's value of `kind`'s
    /// channel `id`.
    pub(crate) fn keep(&mut self, kind: ChannelKind, id: SessionId, key: &str, steps: Vec<Step>) {
        self.forget(key);
        self.0.push(Replay {
            kind,
            id,
            key: key.to_owned(),
            steps,
        });
    }

    /// A blind write of `key`: its value no longer depends on the store's.
    pub(crate) fn forget(&mut self, key: &str) {
        self.0.retain(|r| r.key != key);
    }

    /// A clear: no value depends on the store's.
    pub(crate) fn clear(&mut self) {
        self.0.clear();
    }

    /// The keys whose updates started from `kind`'s channel `id`.
    pub(crate) fn keys_on(&self, kind: ChannelKind, id: SessionId) -> Vec<String> {
        self.0
            .iter()
            .filter(|r| r.kind == kind && r.id == id)
            .map(|r| r.key.clone())
            .collect()
    }

    /// The keys whose updates started from `kind`'s channel, whatever its
    /// id then.
    pub(crate) fn keys_of(&self, kind: ChannelKind) -> Vec<String> {
        self.0
            .iter()
            .filter(|r| r.kind == kind)
            .map(|r| r.key.clone())
            .collect()
    }

    /// Runs `key`'s updates again on `fresh`, the store's value now.
    pub(crate) fn run(
        &mut self,
        key: &str,
        fresh: Option<Vec<u8>>,
    ) -> Result<Option<Vec<u8>>, Error> {
        let mut value = fresh;
        if let Some(replay) = self.0.iter_mut().find(|r| r.key == key) {
            for step in &mut replay.steps {
                value = step(value.as_deref())?;
            }
        }
        Ok(value)
    }
}

impl State {
    /// The channel id of `kind` if `key`'s value there is the store's, as
    /// loaded: an update of it can be checked, and run again, at commit.
    pub(crate) fn stored_read(&self, kind: ChannelKind, key: &str) -> Option<SessionId> {
        let ch = self.ch(kind);
        ch.holds_stored(key).then(|| ch.id()).flatten()
    }

    /// Runs the updates of `kind`'s channel `id` again on `record`, what
    /// the store holds now: each key's stored value becomes the record's,
    /// and its pending value what the updates make of it.
    pub(crate) fn replay(
        &mut self,
        kind: ChannelKind,
        id: SessionId,
        record: &Record,
    ) -> Result<(), Error> {
        if self.ch(kind).id() != Some(id) {
            return Ok(());
        }
        for key in self.replays().keys_on(kind, id) {
            let fresh = record.get(&key).cloned();
            self.ch_mut(kind).restore_stored(&key, fresh.clone());
            match self.replays_mut().run(&key, fresh)? {
                Some(value) => self.ch_mut(kind).server_insert(&key, value),
                None => self.remove_stored(kind, &key),
            }
        }
        Ok(())
    }

    /// After `kind`'s channel healed: its updates run again on nothing, so
    /// that what they made of the ended session's data does not reach the
    /// fresh one; they are blind writes from now on.
    pub(crate) fn update_afresh(&mut self, kind: ChannelKind) -> Result<(), Error> {
        for key in self.replays_mut().keys_of(kind) {
            match self.replays_mut().run(&key, None)? {
                Some(value) => self.ch_mut(kind).server_insert(&key, value),
                None => self.remove_stored(kind, &key),
            }
            self.replays_mut().forget(&key);
        }
        Ok(())
    }

    /// An update removed `key` from `kind`'s store: an overflowed key's
    /// marker goes with it.
    fn remove_stored(&mut self, kind: ChannelKind, key: &str) {
        if self.overflowed_in(kind, key) {
            self.ch_mut(kind).remove_clientside(key);
        }
        self.ch_mut(kind).server_remove(key);
    }
}
