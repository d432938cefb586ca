//! The calls an application makes when a user logs in and out, over the
//! mechanisms that do the work: [`Session::set_owner`] (or
//! [`Session::cycle_id`] without an owner index), [`Session::invalidate`]
//! and [`Gimlet::end_sessions_of`](crate::Gimlet::end_sessions_of).

use crate::{Error, Session};

impl Session {
    /// Logs `user` in, after the application has checked who they are:
    /// the session moves under new ids (an id planted before the login is
    /// worth nothing after it) and, with a store that keeps an owner index
    /// (every bundled one), it is recorded as `user`'s, so that
    /// [`logout_everywhere`](Self::logout_everywhere) and "your devices"
    /// ([`Gimlet::sessions_of`](crate::Gimlet::sessions_of)) find it.
    ///
    /// It does not store who the user is: keep that in a key of your own,
    /// clientside to read it with no round trip. To keep the login past a
    /// browser restart ("remember me"), put that key in the permanent
    /// cookie (`Placement::new().permanent(true)`).
    ///
    /// # Example
    ///
    /// ```
    /// use gimlet_core::{Gimlet, Key, MemoryBackend, Placement};
    ///
    /// const USER: Key<String> = Key::new("user").clientside();
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), gimlet_core::Error> {
    /// let gimlet = Gimlet::builder()
    ///     .secret("0123456789abcdef0123456789abcdef")
    ///     .backend(MemoryBackend::new())
    ///     .key(USER)
    ///     .build()
    ///     .unwrap();
    /// let session = gimlet.open_from_headers([]);
    /// let remember_me = true; // the login form's box
    /// session.login("ada").await?;
    /// session
    ///     .insert_with(USER, &"ada".to_owned(), Placement::new().permanent(remember_me))
    ///     .await?;
    /// let cookies = gimlet.commit(&session).await?;
    /// assert!(cookies[0].contains("Max-Age"), "remembered: {cookies:?}");
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`Session::set_owner`] (but never
    /// [`Error::NoOwnerIndex`]: without an index, the ids alone move).
    pub async fn login(&self, user: impl AsRef<str>) -> Result<(), Error> {
        if self.engine().owner_index().is_ok() {
            self.set_owner(user).await
        } else {
            self.cycle_id().await
        }
    }

    /// Logs out: the commit deletes the session's records and tells the
    /// browser to drop its cookies, and every copy of them stops working
    /// (see [`Session::invalidate`], which this is).
    ///
    /// # Errors
    ///
    /// [`Error::Committed`].
    pub async fn logout(&self) -> Result<(), Error> {
        self.invalidate()
    }

    /// Logs `user` out of every session they have, this one included;
    /// answers how many others ended. What a "Log out everywhere" button
    /// calls.
    ///
    /// # Errors
    ///
    /// [`Error::NoOwnerIndex`] without a store that keeps the index, or
    /// the store's error.
    pub async fn logout_everywhere(&self, user: impl AsRef<str>) -> Result<u64, Error> {
        let ended = self.gimlet().end_sessions_of(user, Some(self)).await?;
        self.logout().await?;
        Ok(ended)
    }

    /// Logs `user` out of every session but this one; answers how many
    /// ended. What a "Log out my other devices" button calls.
    ///
    /// # Errors
    ///
    /// As [`Session::logout_everywhere`].
    pub async fn logout_other_devices(&self, user: impl AsRef<str>) -> Result<u64, Error> {
        self.gimlet().end_sessions_of(user, Some(self)).await
    }
}
