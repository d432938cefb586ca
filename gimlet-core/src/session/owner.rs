//! A session's owner (`Session::set_owner`): the login that puts a session
//! in its owner's index, so that log out everywhere can end it.

use crate::backend::Owner;
use crate::key::ChannelKind;
use crate::{Error, Session, SessionId};

impl Session {
    /// Records that this session belongs to `owner` (a user id, say), so
    /// that [`Gimlet::end_sessions_of`](crate::Gimlet::end_sessions_of) can end it from another request:
    /// "log out everywhere". Call it at login, after checking the password.
    ///
    /// It loads the session's server data (one round trip, unless loaded
    /// already), and moves it under new ids as [`Session::cycle_id`] does
    /// (so it protects the login the same way), generated in the owner's
    /// group:
    /// a store sharded by group keeps an owner's index and sessions on one
    /// shard. The commit writes the index entries with the session's other
    /// changes, in its one round trip. Calling it again with the same owner
    /// moves the session under new ids again (the ids of a login never
    /// outlive it), but keeps counting its absolute lifetime from the first
    /// login.
    ///
    /// The owner travels in the session's cookies as a 16-byte keyed digest
    /// ([`Gimlet::owner`](crate::Gimlet::owner)), never as given.
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
    /// load's backend error, [`Error::Committed`], or, past
    /// `max_sessions_per_owner`, [`Error::TooManySessions`].
    pub async fn set_owner(&self, owner: impl AsRef<str>) -> Result<(), Error> {
        self.engine().owner_index()?;
        let names = self.engine().codec.owners(owner.as_ref());
        let owner = names[0];
        if self.for_handler().committed() {
            return Err(Error::Committed { what: "an owner" });
        }
        // The load also finds records ended elsewhere, whose channels then
        // start afresh, owned by nobody: a cookie that says "owned" is not
        // taken at its word.
        self.ensure_loaded().await?;
        // The same owner again is a login all the same: the ids change, so
        // that a copy of the cookies taken before it is worth nothing. The
        // absolute lifetime restarts only for a new owner.
        let relogin = {
            let state = self.state();
            let mut ids = state.channels().iter().filter(|ch| ch.id().is_some());
            let mut owned = ids.clone().peekable();
            owned.peek().is_some() && ids.all(|ch| ch.owner().is_some_and(|o| names.contains(&o)))
        };
        if !relogin {
            self.check_room(owner).await?;
        }
        self.own(owner, !relogin)?;
        self.renew_csrf_token().await
    }

    /// With `max_sessions_per_owner`, whether `owner` has room for this
    /// session: one read of the index.
    async fn check_room(&self, owner: Owner) -> Result<(), Error> {
        let engine = self.engine();
        let (Some(limit), Some(backend)) = (engine.max_sessions_per_owner, &engine.backend) else {
            return Ok(());
        };
        let listed = self
            .backend_call("sessions_of", backend.sessions_of(&owner, engine.now()))
            .await?;
        let mine: Vec<SessionId> = self
            .state()
            .channels()
            .iter()
            .filter_map(|ch| ch.id())
            .collect();
        let count = listed.iter().filter(|r| !mine.contains(&r.id)).count();
        if count >= limit {
            return Err(Error::TooManySessions { count });
        }
        Ok(())
    }

    /// Moves the session under new ids in `owner`'s group, every channel
    /// owned; a session with no channel yet gets its default one.
    fn own(&self, owner: Owner, restart: bool) -> Result<(), Error> {
        self.renew_ids(Some(owner.group()), restart)?;
        let now = self.engine().now();
        let default = ChannelKind::of(self.engine().default_permanent);
        let mut state = self.for_handler();
        if state.channels().iter().all(|ch| ch.id().is_none()) {
            state
                .ch_mut(default)
                .ensure_id(now, Some(SessionId::in_group(owner.group())))?;
        }
        for ch in state
            .channels_mut()
            .iter_mut()
            .filter(|ch| ch.id().is_some())
        {
            // An owned channel keeps a cookie and a record, so it can be ended.
            ch.take_owner(owner);
        }
        Ok(())
    }

    /// The ids of this session's channels.
    pub(crate) fn channel_ids(&self) -> Vec<SessionId> {
        self.for_handler()
            .channels()
            .iter()
            .filter_map(|ch| ch.id())
            .collect()
    }
}
