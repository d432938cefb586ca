//! Dict-like access to a session's keys.

use std::collections::BTreeSet;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::cookie::OVERFLOWED;
use crate::engine::Engine;
use crate::key::{ChannelKind, Place};
use crate::key::{KeyName, KeyOf};
use crate::session::model::{Lookup, State, Step};
use crate::{Error, MAX_KEY_LEN, Placement, Session, SessionId};

pub(crate) fn check_key(key: &str) -> Result<(), Error> {
    // NUL is refused everywhere, since some stores cannot hold it.
    if key.is_empty() || key.len() > MAX_KEY_LEN || key.contains('\0') {
        return Err(Error::InvalidKey);
    }
    Ok(())
}

/// `placement`, with what it leaves open taken from `key`'s own.
fn within(key: &impl KeyName, placement: Placement) -> Placement {
    let declared = key.key_placement();
    Placement {
        clientside: placement.clientside.or(declared.clientside),
        permanent: placement.permanent.or(declared.permanent),
    }
}

/// Whether a value for `place` is kept in the store: a server-side one,
/// or a clientside one too large for its cookie (`cookie_overflow`; `fits`
/// answers whether it fits, asked only then). Then the store's limits
/// apply.
pub(crate) fn stored(engine: &Engine, place: Place, fits: impl FnOnce() -> bool) -> bool {
    !place.clientside || (engine.cookie_overflow && !fits())
}

/// Checks a stored value of `len` bytes for `key` against the store's
/// limits: the value's size, then (if the state's stored data is known)
/// the session's with it.
pub(crate) fn admit(
    engine: &Engine,
    key: &str,
    len: usize,
    session: Option<(&State, ChannelKind)>,
) -> Result<(), Error> {
    if len > engine.max_value_size {
        return Err(Error::ValueTooLarge {
            key: key.into(),
            size: len,
            limit: engine.max_value_size,
        });
    }
    if let (Some(limit), Some((state, kind))) = (engine.max_session_bytes, session) {
        let size = state.ch(kind).server_bytes_with(key, len);
        if size > limit {
            return Err(Error::SessionTooLarge {
                key: key.into(),
                size,
                limit,
            });
        }
    }
    Ok(())
}

fn decode<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T, Error> {
    // The deserializer's own message may quote the stored value, and
    // errors reach logs: only the requested type is kept.
    rmp_serde::from_slice(bytes).map_err(|_| Error::decode(key, std::any::type_name::<T>()))
}

impl Session {
    /// Finds `key` where `filter` admits, loading server data first if the
    /// answer depends on it, and hands the hit to `f` under the lock.
    async fn locate<R>(
        &self,
        key: &str,
        filter: Placement,
        f: impl FnOnce(Option<(Place, &[u8])>) -> R,
    ) -> Result<R, Error> {
        check_key(key)?;
        if let Some(import) = self.import_due() {
            import.await?;
        }
        {
            let state = self.for_handler();
            match state.lookup(self.engine(), key, filter) {
                Lookup::Found(place, bytes) => return Ok(f(Some((place, bytes)))),
                Lookup::Missing => return Ok(f(None)),
                Lookup::NeedLoad => {}
            }
        }
        self.ensure_loaded().await?;
        let state = self.state();
        Ok(match state.lookup(self.engine(), key, filter) {
            Lookup::Found(place, bytes) => f(Some((place, bytes))),
            Lookup::Missing | Lookup::NeedLoad => f(None),
        })
    }

    /// The value of `key`, from wherever it lives.
    ///
    /// A clientside hit costs no I/O; a miss consults the server data,
    /// which the first such read loads (both channels, one round trip).
    /// Keys on the clientside whitelist never live server-side, so their
    /// misses cost nothing either.
    ///
    /// # Errors
    ///
    /// [`Error::Decode`] if the stored value is not a `T` (only this read
    /// fails), or the load's backend error.
    ///
    /// # Example
    ///
    /// ```
    /// # use gimlet_core::Gimlet;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), gimlet_core::Error> {
    /// # let gimlet = Gimlet::builder().secret("0123456789abcdef0123456789abcdef").build().unwrap();
    /// let session = gimlet.open_from_headers([]);
    /// session.insert("visits", &3_u32).await?;
    /// assert_eq!(session.get::<u32>("visits").await?, Some(3));
    /// assert!(session.get::<String>("visits").await.is_err()); // wrong type
    /// # Ok(()) }
    /// ```
    pub async fn get<T: DeserializeOwned>(&self, key: impl KeyOf<T>) -> Result<Option<T>, Error> {
        self.get_from(key, Placement::new()).await
    }

    /// The value of `key`, looking only where `placement` says (and, for
    /// what it leaves open, where a [`Key`](crate::Key) says).
    ///
    /// # Errors
    ///
    /// As [`Session::get`].
    pub async fn get_from<T: DeserializeOwned>(
        &self,
        key: impl KeyOf<T>,
        placement: Placement,
    ) -> Result<Option<T>, Error> {
        let (name, filter) = (key.key_name(), within(&key, placement));
        self.locate(name, filter, |hit| hit.map(|(_, b)| decode(name, b)))
            .await?
            .transpose()
    }

    /// Whether `key` is set anywhere.
    ///
    /// # Errors
    ///
    /// The load's backend error.
    pub async fn contains_key(&self, key: impl KeyName) -> Result<bool, Error> {
        let filter = key.key_placement();
        self.locate(key.key_name(), filter, |hit| hit.is_some())
            .await
    }

    /// Whether `key` is set in the permanent channel.
    ///
    /// # Errors
    ///
    /// The load's backend error.
    pub async fn is_permanent(&self, key: impl KeyName) -> Result<bool, Error> {
        let filter = key.key_placement();
        self.locate(key.key_name(), filter, |hit| {
            hit.is_some_and(|(p, _)| p.kind == ChannelKind::Permanent)
        })
        .await
    }

    /// Whether `key` is set in a cookie.
    ///
    /// # Errors
    ///
    /// The load's backend error.
    pub async fn is_clientside(&self, key: impl KeyName) -> Result<bool, Error> {
        let filter = key.key_placement();
        self.locate(key.key_name(), filter, |hit| {
            hit.is_some_and(|(p, _)| p.clientside)
        })
        .await
    }

    /// Sets `key`, where the configuration places it: clientside if it is
    /// on the clientside whitelist, permanent if on the permanent one, and
    /// otherwise by the defaults. It records the change without I/O.
    ///
    /// # Errors
    ///
    /// [`Error::CookieTooLarge`] if a clientside value would make the cookie
    /// too large (the session is unchanged), and the errors of
    /// [`Session::insert_with`].
    pub async fn insert<T: Serialize + ?Sized>(
        &self,
        key: impl KeyOf<T>,
        value: &T,
    ) -> Result<(), Error> {
        self.insert_with(key, value, Placement::new()).await
    }

    /// Sets `key` in the place `placement` chooses. A key lives in one
    /// place: wherever else it was, it is removed from there.
    ///
    /// After the commit, a server-side write goes straight to the backend.
    ///
    /// # Errors
    ///
    /// [`Error::NoBackend`] for a server-side key with no backend,
    /// [`Error::Whitelisted`] for a whitelisted key placed server-side,
    /// [`Error::InvalidKey`], [`Error::ValueTooLarge`],
    /// [`Error::CookieTooLarge`], [`Error::Serialize`], and after the commit
    /// [`Error::Committed`] for a clientside write or the backend's error.
    ///
    /// # Example
    ///
    /// ```
    /// # use gimlet_core::{Gimlet, MemoryBackend, Placement};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), gimlet_core::Error> {
    /// # let gimlet = Gimlet::builder().secret("0123456789abcdef0123456789abcdef")
    /// #     .backend(MemoryBackend::new()).build().unwrap();
    /// # let session = gimlet.open_from_headers([]);
    /// session
    ///     .insert_with("cart_id", &12345, Placement::new().clientside(true).permanent(true))
    ///     .await?;
    /// assert!(session.is_clientside("cart_id").await?);
    /// assert!(session.is_permanent("cart_id").await?);
    /// # Ok(()) }
    /// ```
    pub async fn insert_with<T: Serialize + ?Sized>(
        &self,
        key: impl KeyOf<T>,
        value: &T,
        placement: Placement,
    ) -> Result<(), Error> {
        let placement = within(&key, placement);
        let key = key.key_name();
        check_key(key)?;
        if let Some(import) = self.import_due() {
            import.await?;
        }
        let engine = self.engine();
        let place = engine.resolve(key, placement)?;
        let bytes = rmp_serde::to_vec_named(value).map_err(|e| Error::serialize(key, e))?;
        let fits = || {
            // Opened first: the cookie's own keys count.
            let state = self.for_handler();
            state.fits_in_cookie(engine, place.kind, key, bytes.len())
        };
        if stored(engine, place, fits) {
            admit(engine, key, bytes.len(), None)?;
            if engine.max_session_bytes.is_some() {
                // What is stored counts: load it, if this request has not.
                self.ensure_loaded().await?;
                let state = self.state();
                admit(engine, key, bytes.len(), Some((&state, place.kind)))?;
            }
        }
        {
            let mut state = self.for_handler();
            if !state.committed() {
                return state.place(engine, key, bytes, place);
            }
            if place.clientside
                || state
                    .lookup(engine, key, Placement::new().clientside(true))
                    .found()
            {
                return Err(Error::Committed {
                    what: "a clientside write",
                });
            }
        }
        self.write_through(key, Some(bytes), Some(place.kind)).await
    }

    /// Removes `key` from wherever it lives. It records the change without
    /// I/O: removing a key that is not set costs nothing more than a
    /// server-side delete at commit.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidKey`]; after the commit, [`Error::Committed`] for a
    /// clientside key, or the backend's error.
    pub async fn remove(&self, key: impl KeyName) -> Result<(), Error> {
        let key = key.key_name();
        check_key(key)?;
        if let Some(import) = self.import_due() {
            import.await?;
        }
        let engine = self.engine();
        {
            let mut state = self.for_handler();
            if !state.committed() {
                state.remove(engine, key);
                return Ok(());
            }
            if state
                .lookup(engine, key, Placement::new().clientside(true))
                .found()
            {
                return Err(Error::Committed {
                    what: "a clientside removal",
                });
            }
            if engine.backend.is_none() || engine.whitelisted(key) {
                return Ok(());
            }
        }
        self.write_through(key, None, None).await
    }

    /// Reads `key`, lets `f` change it in place, and writes it back where it
    /// was (or, if it was absent, where the configuration places it). If `f`
    /// leaves `None`, the key is removed. Writing back an equal value is no
    /// change.
    ///
    /// **A server-side key is updated atomically.** The commit writes it
    /// only if the store still holds what this request read: a
    /// compare-and-set inside the request's one commit, so one round trip
    /// when nobody races. If a concurrent request changed the key
    /// meanwhile, the commit loads it again (one more round trip) and runs
    /// `f` again on the fresh value, up to sixteen times, then answers
    /// [`Error::Backend`] of kind `Changed` (a 409 through the adapters)
    /// rather than overwrite the other request's change. So two tabs that
    /// append to one list both land. `f` is kept until the commit for
    /// that, hence `FnMut + Send + 'static`; what it returns is from its
    /// first run, and a run again at commit changes only what is stored.
    /// An `update` of a value this request wrote itself first (with
    /// `insert`) is not checked: that value was never the store's.
    ///
    /// **A clientside key is not**: each browser holds its own cookie, so
    /// two requests of one session that update it each write their own
    /// result, and the cookie the browser keeps last wins. Keep counters
    /// and lists that concurrent requests change server-side.
    ///
    /// # Errors
    ///
    /// The errors of [`Session::get`] and [`Session::insert_with`].
    ///
    /// # Example
    ///
    /// ```
    /// # use gimlet_core::Gimlet;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), gimlet_core::Error> {
    /// # let gimlet = Gimlet::builder().secret("0123456789abcdef0123456789abcdef").build().unwrap();
    /// # let session = gimlet.open_from_headers([]);
    /// for item in ["itsy", "bitsy"] {
    ///     session
    ///         .update("list", move |list: &mut Option<Vec<String>>| {
    ///             list.get_or_insert_with(Vec::new).push(item.into());
    ///         })
    ///         .await?;
    /// }
    /// assert_eq!(session.get::<Vec<String>>("list").await?.unwrap(), ["itsy", "bitsy"]);
    /// # Ok(()) }
    /// ```
    pub async fn update<T, R, F>(&self, key: impl KeyOf<T>, mut f: F) -> Result<R, Error>
    where
        T: Serialize + DeserializeOwned + 'static,
        R: 'static,
        F: FnMut(&mut Option<T>) -> R + Send + 'static,
    {
        let declared = key.key_placement();
        let key = key.key_name();
        let (result, source, mut steps) = self.read_modify_write(key, declared, &mut f).await?;
        if let Some((kind, id)) = source {
            let name = key.to_owned();
            steps.push(Box::new(move |bytes: Option<&[u8]>| {
                let mut value = bytes.map(|b| decode::<T>(&name, b)).transpose()?;
                f(&mut value);
                let encode =
                    |v: T| rmp_serde::to_vec_named(&v).map_err(|e| Error::serialize(&name, e));
                value.map(encode).transpose()
            }));
            self.state().replays_mut().keep(kind, id, key, steps);
        }
        Ok(result)
    }

    /// Reads `key`, runs `f` on it and writes the result back; answers what
    /// `f` returned, the channel whose stored value it read (if it read the
    /// store's), and the key's earlier updates in this request, taken out
    /// for the caller to keep with this one.
    async fn read_modify_write<T, R>(
        &self,
        key: &str,
        declared: Placement,
        f: impl FnOnce(&mut Option<T>) -> R,
    ) -> Result<(R, Option<(ChannelKind, SessionId)>, Vec<Step>), Error>
    where
        T: Serialize + DeserializeOwned,
    {
        let found = self
            .locate(key, declared, |hit| {
                hit.map(|(place, bytes)| decode::<T>(key, bytes).map(|v| (place, v)))
            })
            .await?
            .transpose()?;
        let place = found.as_ref().map(|(place, _)| *place);
        // Where the value came from, if from the store: then the commit
        // checks it is still there.
        let target = place.or_else(|| self.engine().resolve(key, declared).ok());
        let source = target.filter(|p| !p.clientside).and_then(|p| {
            let state = self.state();
            let earlier = state.replays().on(key);
            earlier.or_else(|| state.stored_read(p.kind, key).map(|id| (p.kind, id)))
        });
        let mut value = found.map(|(_, v)| v);
        let result = f(&mut value);
        let steps = self.state().replays_mut().take(key);
        match (value, place) {
            (Some(value), Some(place)) => {
                // An overflowed key goes back to its cookie if it fits now.
                let overflowed = self.state().overflowed_in(place.kind, key);
                let placement = Placement::new()
                    .clientside(place.clientside || overflowed)
                    .permanent(place.kind == ChannelKind::Permanent);
                self.insert_with(key, &value, placement).await?;
            }
            (Some(value), None) => self.insert_with(key, &value, declared).await?,
            (None, Some(_)) => self.remove(key).await?,
            (None, None) => {}
        }
        Ok((result, source, steps))
    }

    /// Every key, sorted. Loads the server data if it is not loaded yet.
    ///
    /// # Errors
    ///
    /// The load's backend error.
    pub async fn keys(&self) -> Result<Vec<String>, Error> {
        self.ensure_loaded().await?;
        let state = self.for_handler();
        let mut keys = BTreeSet::new();
        for ch in state.channels() {
            // An overflowed key's marker is not a value: its channel's
            // server data lists it, if it is still there.
            let client = ch.client().iter();
            keys.extend(client.filter(|(_, v)| *v != OVERFLOWED).map(|(k, _)| k));
            keys.extend(ch.server_keys());
        }
        Ok(keys.into_iter().map(str::to_owned).collect())
    }

    /// The number of keys over both channels and both sides.
    ///
    /// # Errors
    ///
    /// The load's backend error.
    pub async fn len(&self) -> Result<usize, Error> {
        Ok(self.keys().await?.len())
    }

    /// Whether no key is set. A clientside key answers it without I/O.
    ///
    /// # Errors
    ///
    /// The load's backend error.
    pub async fn is_empty(&self) -> Result<bool, Error> {
        let known =
            |ch: &crate::session::model::Channel| !ch.unchecked() && !ch.client().is_empty();
        if self.for_handler().channels().iter().any(known) {
            return Ok(false);
        }
        Ok(self.len().await? == 0)
    }

    /// Removes every key, on both channels and both sides, without a load.
    /// The ids stay: use [`Session::invalidate`] to end the session.
    ///
    /// # Errors
    ///
    /// [`Error::Committed`] after the commit.
    pub fn clear(&self) -> Result<(), Error> {
        let mut state = self.for_handler();
        if state.committed() {
            return Err(Error::Committed { what: "a clear" });
        }
        state.replays_mut().clear();
        state.peer_mut().forgo();
        for ch in state.channels_mut() {
            ch.clear();
        }
        Ok(())
    }
}
