//! Where a request finds and puts its keys, without I/O: the lookup over
//! both channels and both sides, placing a key (and removing it from every
//! other place), the cookie's size guard, and a clientside value that
//! overflows to the store.

use crate::cookie::OVERFLOWED;
use crate::engine::Engine;
use crate::error::Error;
use crate::key::{ChannelKind, Place, Placement};

use super::facts::Known;
use super::state::State;

/// Where a lookup found a key.
pub(crate) enum Lookup<'a> {
    Found(Place, &'a [u8]),
    Missing,
    NeedLoad,
}

impl Lookup<'_> {
    pub(crate) fn found(&self) -> bool {
        matches!(self, Lookup::Found(..))
    }
}

impl State {
    /// Finds `key` in the places `filter` admits, without I/O.
    pub(crate) fn lookup(&self, engine: &Engine, key: &str, filter: Placement) -> Lookup<'_> {
        let kinds = || {
            ChannelKind::BOTH
                .into_iter()
                .filter(|k| k.admits(filter.permanent))
        };
        let mut unknown = false;
        if filter.clientside != Some(false) {
            for kind in kinds() {
                let ch = self.ch(kind);
                if let Some(value) = ch.client().get(key) {
                    if ch.unchecked() {
                        // Data of a cookie whose record may be gone.
                        unknown = true;
                        continue;
                    }
                    if value == OVERFLOWED {
                        return match ch.server_get(key) {
                            Known::Present(value) => Lookup::Found(
                                Place {
                                    kind,
                                    clientside: false,
                                },
                                value,
                            ),
                            Known::Absent => Lookup::Missing,
                            Known::Unknown => Lookup::NeedLoad,
                        };
                    }
                    return Lookup::Found(
                        Place {
                            kind,
                            clientside: true,
                        },
                        value,
                    );
                }
            }
        }
        if filter.clientside == Some(true) || engine.backend.is_none() || engine.whitelisted(key) {
            return if unknown {
                Lookup::NeedLoad
            } else {
                Lookup::Missing
            };
        }
        for kind in kinds() {
            match self.ch(kind).server_get(key) {
                Known::Present(value) => {
                    return Lookup::Found(
                        Place {
                            kind,
                            clientside: false,
                        },
                        value,
                    );
                }
                Known::Absent => {}
                Known::Unknown => unknown = true,
            }
        }
        if unknown {
            Lookup::NeedLoad
        } else {
            Lookup::Missing
        }
    }

    /// Puts `key` in `place`, and removes it from every other place.
    pub(crate) fn place(
        &mut self,
        engine: &Engine,
        key: &str,
        value: Vec<u8>,
        place: Place,
    ) -> Result<(), Error> {
        let Place { kind, clientside } = place;
        self.replays_mut().forget(key);
        let in_client = ChannelKind::BOTH
            .into_iter()
            .find(|&k| self.ch(k).client().contains_key(key));
        let mut overflow = false;
        if clientside {
            if self.ch(kind).client().get(key) == Some(value.as_slice()) {
                return Ok(());
            }
            if let Err(too_large) = self.check_cookie_size(engine, kind, key, value.len()) {
                if !engine.cookie_overflow {
                    return Err(too_large);
                }
                // The value goes to the store; the cookie keeps a marker.
                self.check_cookie_size(engine, kind, key, OVERFLOWED.len())?;
                overflow = true;
            }
        }
        let beside = self.anchor();
        self.ch_mut(kind).ensure_id(engine.now(), beside)?;
        let marked = in_client.filter(|&k| self.overflowed_in(k, key));
        for k in ChannelKind::BOTH {
            let ch = self.ch_mut(k);
            if !(clientside && k == kind) {
                ch.remove_clientside(key);
            }
        }
        let stays_in_cookie = clientside && !overflow;
        if let Some(k) = marked {
            // An overflowed key is in its channel's store and nowhere else.
            if stays_in_cookie || k != kind {
                self.ch_mut(k).server_remove(key);
            }
        } else if in_client.is_none() && engine.backend.is_some() && !engine.whitelisted(key) {
            // A key found in a cookie is nowhere else; a whitelisted key is
            // server-side only under a marker. Otherwise it may be stored:
            // delete it there.
            for k in ChannelKind::BOTH {
                if stays_in_cookie || k != kind {
                    self.ch_mut(k).server_remove(key);
                }
            }
        }
        let ch = self.ch_mut(kind);
        if overflow {
            tracing::debug!(
                key,
                "clientside value over the cookie's size: kept in the store"
            );
            ch.set_clientside(key, OVERFLOWED.to_vec());
            ch.server_insert(key, value);
            self.note_overflow();
        } else if clientside {
            ch.set_clientside(key, value);
        } else {
            ch.server_insert(key, value);
        }
        Ok(())
    }

    /// Whether `kind`'s cookie holds `key` as a marker of a value kept in
    /// the store (`cookie_overflow`).
    pub(crate) fn overflowed_in(&self, kind: ChannelKind, key: &str) -> bool {
        self.ch(kind).client().get(key) == Some(OVERFLOWED)
    }

    pub(crate) fn remove(&mut self, engine: &Engine, key: &str) {
        self.replays_mut().forget(key);
        let mut in_client = false;
        for kind in ChannelKind::BOTH {
            let marked = self.overflowed_in(kind, key);
            let ch = self.ch_mut(kind);
            in_client |= ch.remove_clientside(key);
            if marked {
                ch.server_remove(key);
            }
        }
        if in_client || engine.backend.is_none() || engine.whitelisted(key) {
            return;
        }
        for ch in self.channels_mut() {
            ch.server_remove(key);
        }
    }

    /// Whether setting `key` to a value of `value_len` bytes keeps `kind`'s
    /// cookie within its size limit.
    pub(crate) fn fits_in_cookie(
        &self,
        engine: &Engine,
        kind: ChannelKind,
        key: &str,
        value_len: usize,
    ) -> bool {
        self.check_cookie_size(engine, kind, key, value_len).is_ok()
    }

    /// Fails if setting `key` to a value of `value_len` bytes in `kind`'s
    /// cookie would make its `Set-Cookie` value larger than the limit.
    fn check_cookie_size(
        &self,
        engine: &Engine,
        kind: ChannelKind,
        key: &str,
        value_len: usize,
    ) -> Result<(), Error> {
        let client = &self.ch(kind).client();
        let others = client
            .iter()
            .filter(|(k, _)| *k != key)
            .map(|(k, v)| (k.len(), v.len()));
        let entries: Vec<_> = others.chain([(key.len(), value_len)]).collect();
        let payload = crate::cookie::bound(entries.into_iter());
        let size = engine.cookies.size(kind, engine.codec.value_len(payload));
        let limit = engine.cookies.max_size();
        if size > limit {
            return Err(Error::CookieTooLarge {
                key: key.into(),
                size,
                limit,
            });
        }
        Ok(())
    }
}
