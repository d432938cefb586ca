//! The `Session` handle: shared state of one request's session, identity and
//! lifecycle. Dict-like access is in `access.rs`, loading in `load.rs` and
//! committing in `commit.rs`.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tracing::Instrument;

use crate::backend::Record;
use crate::channel::{Channel, Known};
use crate::gimlet::Engine;
use crate::placement::{Lifetime, Place};
use crate::status::Activity;
use crate::{Error, Placement, SessionId};

/// Cookies issued this far in the future are rejected (clock skew allowance).
const CLOCK_SKEW: u64 = 300;

/// How many cookies of one Gimlet name a request may have verified: a
/// browser sends more than one only when several paths or domains set one,
/// and a request stuffed with copies must not cost a MAC each.
pub(crate) const MAX_COOKIES_PER_NAME: usize = 3;

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
#[doc = include_str!("../docs/sessions.md")]
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

#[derive(Debug)]
pub(crate) struct State {
    pub(crate) channels: [Channel; 2],
    /// Ids whose records the commit deletes (logout, or a cycled id).
    pub(crate) retired: Vec<SessionId>,
    pub(crate) committed: bool,
    /// The handler used the session; an unused one commits nothing.
    pub(crate) used: bool,
    /// What the request did, as far as the record of it goes: changes not
    /// committed yet are read off the channels.
    pub(crate) activity: Activity,
    /// `gimlet.session`: the request's session work, parent of a
    /// `gimlet.backend` span per call. Made at the first use, so an
    /// untouched session pays nothing for it; disabled (and nearly free)
    /// unless a subscriber wants it.
    pub(crate) span: tracing::Span,
    /// The request's `Cookie` header values (several joined by `;`), as
    /// sent: scanned for Gimlet's cookies and verified at the first use.
    pub(crate) unopened: Vec<u8>,
}

/// Where a lookup found a key.
pub(crate) enum Lookup<'a> {
    Found(Place, &'a [u8]),
    Missing,
    NeedLoad,
}

impl State {
    pub(crate) fn ch(&self, kind: Lifetime) -> &Channel {
        &self.channels[kind.index()]
    }

    pub(crate) fn ch_mut(&mut self, kind: Lifetime) -> &mut Channel {
        &mut self.channels[kind.index()]
    }

    /// An id of this session that new ids are generated beside, so that
    /// all of them share one group: a channel's, or one being retired.
    pub(crate) fn anchor(&self) -> Option<SessionId> {
        self.channels
            .iter()
            .find_map(|ch| ch.id)
            .or_else(|| self.retired.first().copied())
    }

    /// Finds `key` in the places `filter` admits, without I/O.
    pub(crate) fn lookup(&self, engine: &Engine, key: &str, filter: Placement) -> Lookup<'_> {
        let kinds = || {
            Lifetime::BOTH
                .into_iter()
                .filter(|k| k.admits(filter.permanent))
        };
        let mut unknown = false;
        if filter.clientside != Some(false) {
            for kind in kinds() {
                let ch = self.ch(kind);
                if let Some(value) = ch.client.get(key) {
                    if ch.unchecked() {
                        // Data of a cookie whose record may be gone.
                        unknown = true;
                        continue;
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

    /// Marks the session as used by the handler (so the commit looks at
    /// it) and, the first time, verifies its cookies.
    fn begin_use(&mut self, engine: &Engine) {
        if !self.used {
            self.used = true;
            self.activity = self.activity.max(Activity::Read);
            self.span = tracing::debug_span!(
                "gimlet.session",
                backend = engine.backend.as_ref().map_or("none", |b| b.name()),
                activity = tracing::field::Empty,
                round_trips = tracing::field::Empty,
                backend_ms = tracing::field::Empty,
            );
            // Verification's events belong to the session's span.
            let span = self.span.clone();
            span.in_scope(|| self.open_cookies(engine));
        }
    }

    /// Verifies the request's cookies into channels: the first valid cookie
    /// of each name wins; the others count as absent.
    fn open_cookies(&mut self, engine: &Engine) {
        let now = engine.now();
        let backend = engine.backend.is_some();
        let unopened = std::mem::take(&mut self.unopened);
        let mut seen = [0; 2];
        for (kind, value) in engine.cookies.scan(&unopened) {
            seen[kind.index()] += 1;
            let slot = &mut self.channels[kind.index()];
            if slot.came_with_cookie() || seen[kind.index()] > MAX_COOKIES_PER_NAME {
                continue;
            }
            let name = engine.cookies.name(kind);
            let Ok(value) = std::str::from_utf8(value) else {
                tracing::debug!(
                    cookie = name,
                    reason = "not UTF-8",
                    "session cookie ignored"
                );
                continue;
            };
            let cookie = match engine.codec.decode(name, value) {
                Ok(cookie) => cookie,
                Err(reason) => {
                    tracing::debug!(cookie = name, %reason, "session cookie ignored");
                    continue;
                }
            };
            let trusted = engine.check_age(kind, &cookie.header, now).and_then(|()| {
                if backend && engine.revocable && !cookie.header.stored {
                    // Issued without a record, so it could never be revoked:
                    // not trusted once revocation is on.
                    return Err("not revocable");
                }
                Ok(())
            });
            match trusted {
                Ok(()) => {
                    let checked = cookie.header.checked;
                    let due = now >= checked.saturating_add(engine.revalidate_after);
                    *slot = Channel::from_cookie(kind, cookie, backend, due);
                    slot.cookie_len = name.len() + 1 + value.len();
                }
                Err(reason) => tracing::debug!(cookie = name, reason, "session cookie ignored"),
            }
        }
    }

    /// Channels whose server data is not loaded yet, with their ids.
    pub(crate) fn unloaded(&self) -> Vec<(Lifetime, SessionId)> {
        Lifetime::BOTH
            .into_iter()
            .filter_map(|k| {
                let ch = self.ch(k);
                match (ch.loaded.is_none(), ch.id) {
                    (true, Some(id)) => Some((k, id)),
                    _ => None,
                }
            })
            .collect()
    }
}

impl Session {
    /// Opens a session from the request's `Cookie` header text. Scanning
    /// and verification wait for the first use: a request that never
    /// touches its session pays for no parse, no MAC, no decryption.
    pub(crate) fn open(engine: Arc<Engine>, unopened: Vec<u8>) -> Session {
        Session {
            inner: Arc::new(Inner {
                engine,
                state: Mutex::new(State {
                    channels: [
                        Channel::new(Lifetime::Permanent),
                        Channel::new(Lifetime::Transient),
                    ],
                    unopened,
                    retired: Vec::new(),
                    committed: false,
                    used: false,
                    activity: Activity::Untouched,
                    span: tracing::Span::none(),
                }),
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
        let parent = self.span();
        let span = tracing::debug_span!(parent: &parent, "gimlet.backend", call);
        let started = Instant::now();
        let result = work.instrument(span).await;
        let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.inner.backend_nanos.fetch_add(nanos, Ordering::Relaxed);
        result
    }

    /// Time spent in backend calls so far.
    pub(crate) fn backend_time(&self) -> Duration {
        Duration::from_nanos(self.inner.backend_nanos.load(Ordering::Relaxed))
    }

    /// The `gimlet.session` span (a disabled one until the first use).
    pub(crate) fn span(&self) -> tracing::Span {
        self.state().span.clone()
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
    fn pin(&self) -> Result<(SessionId, u64), Error> {
        let now = self.engine().now();
        let mut state = self.for_handler();
        let committed = state.committed;
        let beside = state.anchor();
        let ch = state.ch_mut(Lifetime::Permanent);
        if committed && ch.id.is_none() {
            return Err(Error::Committed {
                what: "a new session id",
            });
        }
        let id = ch.ensure_id(now, beside)?;
        ch.pinned = true;
        Ok((id, ch.created))
    }

    /// The [`Gimlet`](crate::Gimlet) this session was opened by: for
    /// [`Gimlet::sessions_of`](crate::Gimlet::sessions_of) and
    /// [`Gimlet::end_sessions_of`](crate::Gimlet::end_sessions_of) from a
    /// handler that only has the session.
    pub fn gimlet(&self) -> crate::Gimlet {
        crate::Gimlet {
            engine: self.inner.engine.clone(),
        }
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
    /// It loads the server data (one round trip, if not loaded yet) so the
    /// commit can write it under the new ids.
    ///
    /// # Errors
    ///
    /// The load's backend error, or [`Error::Committed`].
    pub async fn cycle_id(&self) -> Result<(), Error> {
        self.ensure_loaded().await?;
        self.renew_ids(None)?;
        self.renew_csrf_token().await
    }

    /// Moves the loaded data of both channels under new ids: in `group`, or
    /// in the session's own.
    pub(crate) fn renew_ids(&self, group: Option<[u8; 2]>) -> Result<(), Error> {
        let now = self.engine().now();
        let backend = self.engine().backend.is_some();
        let mut state = self.for_handler();
        if state.committed {
            return Err(Error::Committed {
                what: "a new session id",
            });
        }
        let beside = group.map(SessionId::in_group).or_else(|| state.anchor());
        for kind in Lifetime::BOTH {
            let ch = state.ch_mut(kind);
            let Some(old) = ch.id else { continue };
            let data = ch.server_view();
            // Before the commit, only a channel that came with a cookie can
            // have a record.
            let retire = (backend && ch.came_with_cookie()).then_some(old);
            ch.renew_id(now, beside)?;
            ch.loaded = Some(Record::new());
            ch.cleared = false;
            ch.pending = data.into_iter().map(|(k, v)| (k, Some(v))).collect();
            state.retired.extend(retire);
        }
        state.activity = state.activity.max(Activity::Renewed);
        Ok(())
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
        let mut state = self.for_handler();
        if state.committed {
            return Err(Error::Committed {
                what: "an invalidation",
            });
        }
        let backend = self.engine().backend.is_some();
        for kind in Lifetime::BOTH {
            let ch = state.ch_mut(kind);
            // Every id a verified cookie named, whatever it claimed about
            // its record: a concurrent request may have created one.
            let retire = ch.id.filter(|_| backend && ch.came_with_cookie());
            ch.reset();
            state.retired.extend(retire);
        }
        state.activity = Activity::Ended;
        Ok(())
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state();
        let keys = |k: Lifetime| state.ch(k).client.len() + state.ch(k).pending.len();
        f.debug_struct("Session")
            .field("permanent_keys_known", &keys(Lifetime::Permanent))
            .field("transient_keys_known", &keys(Lifetime::Transient))
            .field("committed", &state.committed)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Whether a verified cookie is still young enough to use.
    pub(crate) fn check_age(
        &self,
        kind: Lifetime,
        payload: &crate::payload::Header,
        now: u64,
    ) -> Result<(), &'static str> {
        if payload.issued > now.saturating_add(CLOCK_SKEW) {
            return Err("issued in the future");
        }
        if now >= payload.issued.saturating_add(self.lifetime(kind)) {
            return Err("expired");
        }
        if now >= payload.created.saturating_add(self.absolute[kind.index()]) {
            return Err("past its absolute lifetime");
        }
        Ok(())
    }
}
