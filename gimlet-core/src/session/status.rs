//! What a request did with its session, for whoever looks after the
//! handler: a middleware, a logger, a test.

use crate::Session;
use crate::key::ChannelKind;

/// The most telling thing a request did with its session, in rising order:
/// a later variant covers the earlier ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Activity {
    /// The handler never used the session: no cookie, no I/O.
    Untouched,
    /// It read the session and changed nothing.
    Read,
    /// It set, removed or cleared keys.
    Changed,
    /// It moved the session under new ids ([`Session::cycle_id`]).
    Renewed,
    /// It ended the session ([`Session::invalidate`]).
    Ended,
}

/// A request's session status: what it did, and the backend round trips it
/// made (loads and commits, a heal's load and a write after the commit
/// included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Status {
    /// What the request did with the session.
    pub activity: Activity,
    /// Backend round trips so far.
    pub round_trips: usize,
    /// Bytes of the permanent cookie (`name=value`) the browser holds: as
    /// it sent it (once the handler used the session), until the commit;
    /// as the commit set it, after. 0 for none.
    pub permanent_cookie_bytes: usize,
    /// The same, for the transient cookie.
    pub transient_cookie_bytes: usize,
    /// Clientside values this request kept in the store because they did
    /// not fit in their cookie (with `cookie_overflow` on). Where a key
    /// lives now, [`Session::is_clientside`] tells.
    pub overflowed: usize,
}

impl Session {
    /// What this request has done with its session so far. Read it after
    /// the handler (or after [`Gimlet::finish`](crate::Gimlet::finish),
    /// which also logs it at `debug`): before the commit, the changes
    /// recorded; after it, what was committed and the round trips made.
    ///
    /// # Example
    ///
    /// ```
    /// use gimlet_core::{Activity, Gimlet, MemoryBackend};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), gimlet_core::Error> {
    /// let gimlet = Gimlet::builder()
    ///     .secret("0123456789abcdef0123456789abcdef")
    ///     .backend(MemoryBackend::new())
    ///     .build()
    ///     .unwrap();
    /// let session = gimlet.open_from_headers([]);
    /// assert_eq!(session.status().activity, Activity::Untouched);
    /// session.insert("cart", &["gin"]).await?;
    /// gimlet.commit(&session).await?;
    /// let status = session.status();
    /// assert_eq!((status.activity, status.round_trips), (Activity::Changed, 1));
    /// # Ok(()) }
    /// ```
    pub fn status(&self) -> Status {
        let state = self.state();
        let changed = state.channels().iter().any(|ch| ch.dirty());
        let activity = match state.activity() {
            Activity::Read | Activity::Untouched if changed => Activity::Changed,
            activity => activity,
        };
        Status {
            activity,
            round_trips: self.round_trips(),
            permanent_cookie_bytes: state.ch(ChannelKind::Permanent).cookie_len(),
            transient_cookie_bytes: state.ch(ChannelKind::Transient).cookie_len(),
            overflowed: state.overflowed(),
        }
    }
}
