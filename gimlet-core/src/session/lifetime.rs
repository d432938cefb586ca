//! A session's own lifetime: "remember me for 90 days", "this kiosk
//! session ends after 10 idle minutes".

use crate::{Error, Lifetime, Session};

impl Session {
    /// Gives this session a lifetime of its own in place of the configured
    /// ones, from this response on: the permanent cookie's `Max-Age` and
    /// every record's expiry follow it, renewed as the session is used. It
    /// is carried in the session's cookies, so reading it costs no round
    /// trip, and it lasts through [`cycle_id`](Self::cycle_id) and
    /// [`login`](Self::login) until it is set again or the session ends.
    ///
    /// The commit renews both channels under it: each cookie is issued
    /// again and each record's expiry moves (one write, with the commit's
    /// other changes), so a shorter lifetime takes effect at once. A new
    /// session gets its permanent cookie, to carry the lifetime.
    ///
    /// The transient channel's cookie still ends when the browser closes:
    /// keep what a remembered login needs in the permanent channel.
    ///
    /// # Example
    ///
    /// ```
    /// use std::time::Duration;
    /// use gimlet_core::{Gimlet, Key, Lifetime, MemoryBackend, Placement};
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
    /// session.login("ada").await?;
    /// let remembered = Placement::new().permanent(true);
    /// session.insert_with(USER, &"ada".to_owned(), remembered).await?;
    /// session.set_lifetime(Lifetime::idle(Duration::from_secs(90 * 24 * 3600)))?;
    /// let cookies = gimlet.commit(&session).await?;
    /// assert!(cookies[0].contains("Max-Age=7776000"), "{cookies:?}");
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::LifetimeOutOfRange`] for an idle or absolute lifetime under
    /// one second or over the configured `max_session_lifetime` (the
    /// session keeps the lifetime it had); [`Error::Committed`] after the
    /// commit; [`Error::Random`] if a new session's id cannot be generated.
    pub fn set_lifetime(&self, lifetime: Lifetime) -> Result<(), Error> {
        let lifetimes = &self.engine().lifetimes;
        if let Some(asked) = lifetimes.out_of_range(lifetime) {
            let max = lifetimes.max;
            return Err(Error::LifetimeOutOfRange { asked, max });
        }
        self.set_own(Some(lifetime))
    }

    /// Gives this session the configured lifetimes again, from this
    /// response on.
    ///
    /// # Errors
    ///
    /// [`Error::Committed`] after the commit.
    pub fn reset_lifetime(&self) -> Result<(), Error> {
        self.set_own(None)
    }

    /// This session's own lifetime, if it has one: as its cookie carried
    /// it, or as this request set it.
    pub fn lifetime(&self) -> Option<Lifetime> {
        self.for_handler().lifetime()
    }

    fn set_own(&self, lifetime: Option<Lifetime>) -> Result<(), Error> {
        let fresh = {
            let mut state = self.for_handler();
            state.set_lifetime(lifetime)?;
            state.channels().iter().all(|ch| ch.id().is_none())
        };
        if fresh && lifetime.is_some() {
            self.pin()?;
        }
        Ok(())
    }
}
