//! The `Session` handle: one request's session, shared by the handler and
//! the middleware; its identity (`id`, `cycle_id`) and its end (`invalidate`).
//!
//! The handle is a thin door: what it changes, it changes through the state
//! in `model/`. `impl Session` continues, one file per concern, in
//! `access.rs` and `dict.rs` (the dict API), `csrf.rs`, `flash.rs`,
//! `owner.rs` (`set_owner`), `status.rs`, `io/load.rs`, `io/commit.rs` and
//! `io/write_through.rs` (the backend I/O), and `crate::gimlet` (`gimlet()`).

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tracing::Instrument;

use super::model::State;
use crate::engine::Engine;
use crate::key::ChannelKind;
use crate::{Error, SessionId};

/// A request's session: a cheap handle (`Clone + Send + Sync`) shared by the
/// handler and the middleware.
///
/// Values are stored as MessagePack, so anything `Serialize` goes in and
/// anything `DeserializeOwned` comes out. `get` returns an owned copy:
/// changing it changes nothing until it is inserted again.
///
/// Reads of clientside keys, and every write, cost no I/O. The first read
/// that needs server data loads both channels in one round trip. The commit
/// at the end writes only what changed, in one round trip.
///
#[doc = include_str!("../../docs/sessions.md")]
#[derive(Clone)]
pub struct Session {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) engine: Arc<Engine>,
    pub(crate) state: Mutex<State>,
    /// Serializes loads, so concurrent first reads make one round trip.
    pub(crate) load_gate: tokio::sync::Mutex<()>,
    /// Backend round trips made for this request.
    pub(crate) round_trips: AtomicUsize,
    /// Nanoseconds spent in backend calls.
    pub(crate) backend_nanos: AtomicU64,
}

impl Session {
    /// Opens a session from the request's `Cookie` header text. Scanning
    /// and verification wait for the first use: a request that never
    /// touches its session pays for no parse, no MAC, no decryption.
    pub(crate) fn open(engine: Arc<Engine>, unopened: Vec<u8>) -> Session {
        Session {
            inner: Arc::new(Inner {
                engine,
                state: Mutex::new(State::new(unopened)),
                load_gate: tokio::sync::Mutex::new(()),
                round_trips: AtomicUsize::new(0),
                backend_nanos: AtomicU64::new(0),
            }),
        }
    }

    /// Runs one backend call: counts it as a round trip, times it, and
    /// traces it as a `gimlet.backend` span (field `call`) under the
    /// session's.
    pub(crate) async fn backend_call<T>(
        &self,
        call: &'static str,
        work: impl Future<Output = T>,
    ) -> T {
        self.inner.round_trips.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        // With no subscriber that takes debug spans, the call runs bare,
        // without a span to make, enter and leave at every poll.
        let result = if !tracing::level_enabled!(tracing::Level::DEBUG) {
            work.await
        } else {
            let parent = self.span();
            let span = tracing::debug_span!(parent: &parent, "gimlet.backend", call);
            work.instrument(span).await
        };
        let took = started.elapsed();
        self.engine().meters().call(call, took);
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.inner.backend_nanos.fetch_add(nanos, Ordering::Relaxed);
        result
    }

    /// Time spent in backend calls so far.
    pub(crate) fn backend_time(&self) -> Duration {
        Duration::from_nanos(self.inner.backend_nanos.load(Ordering::Relaxed))
    }

    /// The `gimlet.session` span (a disabled one until the first use).
    pub(crate) fn span(&self) -> tracing::Span {
        self.state().span().clone()
    }

    pub(crate) fn round_trips(&self) -> usize {
        self.inner.round_trips.load(Ordering::Relaxed)
    }

    pub(crate) fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        // State changes are made whole under the lock, and nothing in them
        // can panic halfway through, so a poisoned lock holds consistent data.
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The state, locked for one of the handler's calls, after
    /// [`State::begin_use`].
    pub(crate) fn for_handler(&self) -> MutexGuard<'_, State> {
        let mut state = self.state();
        state.begin_use(self.engine());
        state
    }

    /// Gives the permanent channel an id if it has none, and makes sure its
    /// cookie is issued, so the id stays the same on the next request.
    pub(super) fn pin(&self) -> Result<(SessionId, u64), Error> {
        let now = self.engine().now();
        let mut state = self.for_handler();
        let committed = state.committed();
        let beside = state.anchor();
        let ch = state.ch_mut(ChannelKind::Permanent);
        if committed && ch.id().is_none() {
            return Err(Error::Committed {
                what: "a new session id",
            });
        }
        let id = ch.ensure_id(now, beside)?;
        ch.pin();
        Ok((id, ch.created()))
    }

    /// The session id: the permanent channel's id, as 32 lowercase hex
    /// characters. Reading it on a new session fixes it: the permanent
    /// cookie is issued at commit.
    ///
    /// # Errors
    ///
    /// [`Error::Committed`] for a new session after the commit, and
    /// [`Error::Random`] if no id can be generated.
    pub fn id(&self) -> Result<String, Error> {
        self.pin().map(|(id, _)| id.to_string())
    }

    /// When the session (its permanent channel) was created, in Unix
    /// seconds. Like [`Session::id`], it fixes a new session's id.
    ///
    /// # Errors
    ///
    /// As [`Session::id`].
    pub fn created_at(&self) -> Result<u64, Error> {
        self.pin().map(|(_, created)| created)
    }

    /// Keeps the data but moves it under new ids, and deletes the old
    /// records at commit. Call it when a user logs in, so that an id an
    /// attacker planted before the login is worth nothing after it. A CSRF
    /// token, if the session has one, is replaced too.
    ///
    /// The session's absolute lifetime goes on counting from its creation:
    /// cycling on a timer does not extend it. If the old records are gone
    /// by the commit (the session was ended by a concurrent logout), none
    /// of their data moves: the commit keeps only this request's own
    /// writes, in a fresh session.
    ///
    /// It loads the server data (one round trip, if not loaded yet) so the
    /// commit can write it under the new ids.
    ///
    /// # Errors
    ///
    /// The load's backend error, or [`Error::Committed`].
    pub async fn cycle_id(&self) -> Result<(), Error> {
        self.ensure_loaded().await?;
        self.renew_ids(None, false)?;
        self.renew_csrf_token().await
    }

    /// Moves the loaded data of both channels under new ids: in `group`, or
    /// in the session's own. `restart`: a login starts the absolute
    /// lifetime anew; otherwise it counts on from the session's creation.
    pub(crate) fn renew_ids(&self, group: Option<[u8; 2]>, restart: bool) -> Result<(), Error> {
        let now = self.engine().now();
        let backend = self.engine().backend.is_some();
        let mut state = self.for_handler();
        let beside = group.map(SessionId::in_group).or_else(|| state.anchor());
        state.cycle(now, beside, backend, restart)
    }

    /// Drops all data and both ids; the commit deletes the server records
    /// and tells the browser to drop the cookies. The handle stays usable:
    /// what is written afterwards starts a new session. Call it at logout.
    ///
    /// Every id a verified cookie of this request names is deleted,
    /// whatever the cookie says about its record. A concurrent request of
    /// the same session that commits later cannot bring the records back:
    /// its writes go to a fresh session instead. Other copies of the
    /// cookies stop yielding data within `revalidate_after`.
    ///
    /// # Errors
    ///
    /// [`Error::Committed`]: after the commit the removal cookies cannot be
    /// sent any more.
    pub fn invalidate(&self) -> Result<(), Error> {
        let backend = self.engine().backend.is_some();
        self.for_handler().end(backend)
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state();
        let keys = |k: ChannelKind| state.ch(k).keys_known();
        f.debug_struct("Session")
            .field("permanent_keys_known", &keys(ChannelKind::Permanent))
            .field("transient_keys_known", &keys(ChannelKind::Transient))
            .field("committed", &state.committed())
            .finish_non_exhaustive()
    }
}
