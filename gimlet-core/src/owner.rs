//! Log out everywhere: a session's owner, and the owner index that lists
//! and ends every session of one owner.

use crate::backend::{Backend, OwnedRecord, Owner};
use crate::gimlet::Engine;
use crate::placement::Lifetime;
use crate::{Error, Gimlet, Session, SessionId};

/// One live session of an owner, as [`Gimlet::sessions_of`] lists it: a
/// line of a "your devices" page.
///
/// Each of a session's two channels (its permanent and its browser-session
/// cookie) is listed on its own: a browser that holds both shows twice,
/// once with `permanent` set.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OwnedSession {
    /// A name for the session that reveals nothing of its id: 16 hex
    /// characters of a digest of the id, the same on every listing.
    pub name: String,
    /// The permanent channel (a "remember me" cookie) rather than the
    /// browser-session one.
    pub permanent: bool,
    /// When the channel was created, in Unix seconds.
    pub created: u64,
    /// When the channel's record was last renewed, in Unix seconds. Records
    /// renew when written, and when a request finds a fraction of their
    /// lifetime gone (`refresh_fraction`), so this is as fine as that.
    pub last_seen: u64,
    /// When it ends unless used again, in Unix seconds.
    pub expires_at: u64,
    /// It is the session given as `current`.
    pub current: bool,
}

impl Session {
    /// Records that this session belongs to `owner` (a user id, say), so
    /// that [`Gimlet::end_sessions_of`] can end it from another request:
    /// "log out everywhere". Call it at login, after checking the password.
    ///
    /// It loads the session's server data (one round trip, unless loaded
    /// already), and moves it under new ids as [`Session::cycle_id`] does
    /// (so it protects the login the same way), generated in the owner's
    /// group:
    /// a store sharded by group keeps an owner's index and sessions on one
    /// shard. The commit writes the index entries with the session's other
    /// changes, in its one round trip. Calling it again with the same owner
    /// changes nothing, and costs the load, if the request made none.
    ///
    /// The owner travels in the session's cookies as a 16-byte digest,
    /// never as given.
    ///
    /// # Example
    ///
    /// ```
    /// use gimlet_core::{Gimlet, MemoryBackend};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), gimlet_core::Error> {
    /// let gimlet = Gimlet::builder()
    ///     .secret("0123456789abcdef0123456789abcdef")
    ///     .backend(MemoryBackend::new())
    ///     .build()
    ///     .unwrap();
    /// // Two browsers log in as ada.
    /// for _ in 0..2 {
    ///     let session = gimlet.open_from_headers([]);
    ///     session.set_owner("ada").await?;
    ///     session.insert("cart", &["gin"]).await?;
    ///     gimlet.commit(&session).await?;
    /// }
    /// assert_eq!(gimlet.sessions_of("ada", None).await?.len(), 2);
    /// // Log out everywhere.
    /// assert_eq!(gimlet.end_sessions_of("ada", None).await?, 2);
    /// assert!(gimlet.sessions_of("ada", None).await?.is_empty());
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::NoOwnerIndex`] without a backend that keeps the index, the
    /// load's backend error, or [`Error::Committed`].
    pub async fn set_owner(&self, owner: impl AsRef<str>) -> Result<(), Error> {
        self.engine().owner_index()?;
        let owner = Owner::of(owner.as_ref());
        if self.for_handler().committed {
            return Err(Error::Committed { what: "an owner" });
        }
        // The load also finds records ended elsewhere, whose channels then
        // start afresh, owned by nobody: a cookie that says "owned" is not
        // taken at its word.
        self.ensure_loaded().await?;
        {
            let state = self.state();
            let mut ids = state.channels.iter().filter(|ch| ch.id.is_some());
            let mut owned = ids.clone().peekable();
            if owned.peek().is_some() && ids.all(|ch| ch.owner == Some(owner)) {
                return Ok(());
            }
        }
        self.own(owner)?;
        self.renew_csrf_token().await
    }

    /// Moves the session under new ids in `owner`'s group, every channel
    /// owned; a session with no channel yet gets its default one.
    fn own(&self, owner: Owner) -> Result<(), Error> {
        self.renew_ids(Some(owner.group()))?;
        let now = self.engine().now();
        let default = Lifetime::of(self.engine().default_permanent);
        let mut state = self.for_handler();
        if state.channels.iter().all(|ch| ch.id.is_none()) {
            state
                .ch_mut(default)
                .ensure_id(now, Some(SessionId::in_group(owner.group())))?;
        }
        for ch in state.channels.iter_mut().filter(|ch| ch.id.is_some()) {
            // An owned channel keeps a cookie and a record, so it can be ended.
            ch.owner = Some(owner);
            ch.pinned = true;
        }
        Ok(())
    }

    /// The ids of this session's channels.
    fn channel_ids(&self) -> Vec<SessionId> {
        self.for_handler()
            .channels
            .iter()
            .filter_map(|ch| ch.id)
            .collect()
    }
}

impl Gimlet {
    /// Every live session of `owner` (see [`Session::set_owner`]), in one
    /// backend call; `current` marks the request's own.
    ///
    /// # Errors
    ///
    /// [`Error::NoOwnerIndex`] without a backend that keeps the index, or
    /// the backend's error.
    pub async fn sessions_of(
        &self,
        owner: impl AsRef<str>,
        current: Option<&Session>,
    ) -> Result<Vec<OwnedSession>, Error> {
        let backend = self.engine.owner_index()?;
        let owner = Owner::of(owner.as_ref());
        let now = self.engine.now();
        let call = backend.sessions_of(&owner, now);
        let records = match current {
            Some(session) => session.backend_call("sessions_of", call).await,
            None => call.await,
        }?;
        let current = current.map(Session::channel_ids).unwrap_or_default();
        let mut sessions: Vec<OwnedSession> = records
            .into_iter()
            .map(|r| self.listed(&r, current.contains(&r.id)))
            .collect();
        sessions.sort_by(|a, b| b.last_seen.cmp(&a.last_seen).then(a.name.cmp(&b.name)));
        Ok(sessions)
    }

    /// Ends every session of `owner` but `except` (the request's own, for a
    /// "log out my other devices" button), in one backend call, and answers
    /// how many channels it ended. Their data, clientside included, stops
    /// being served within `revalidate_after`; an ended session that writes
    /// starts afresh, never under its owner.
    ///
    /// To end the request's own session too, pass `None` and call
    /// [`Session::invalidate`] on it: its cookies go at once.
    ///
    /// # Errors
    ///
    /// As [`Gimlet::sessions_of`].
    pub async fn end_sessions_of(
        &self,
        owner: impl AsRef<str>,
        except: Option<&Session>,
    ) -> Result<u64, Error> {
        let backend = self.engine.owner_index()?;
        let owner = Owner::of(owner.as_ref());
        let kept = except.map(Session::channel_ids).unwrap_or_default();
        let call = backend.end_sessions_of(&owner, &kept);
        let ended = match except {
            Some(session) => session.backend_call("end_sessions_of", call).await,
            None => call.await,
        };
        let ended = ended.inspect_err(|e| {
            tracing::error!(error = %e, detail = ?e, "ending an owner's sessions failed");
        })?;
        tracing::info!(ended, "ended an owner's sessions");
        Ok(ended)
    }

    fn listed(&self, record: &OwnedRecord, current: bool) -> OwnedSession {
        let digest = ring::digest::digest(&ring::digest::SHA256, record.id.as_bytes());
        let kind = Lifetime::of(record.permanent);
        OwnedSession {
            name: hex::encode(&digest.as_ref()[..8]),
            permanent: record.permanent,
            created: record.created,
            last_seen: record
                .expires_at
                .saturating_sub(self.engine.lifetime(kind))
                .max(record.created),
            expires_at: record.expires_at,
            current,
        }
    }
}

impl Engine {
    /// The backend, if it keeps the owner index.
    fn owner_index(&self) -> Result<&dyn Backend, Error> {
        match &self.backend {
            Some(backend) if backend.owner_index() => Ok(backend.as_ref()),
            _ => Err(Error::NoOwnerIndex),
        }
    }
}
