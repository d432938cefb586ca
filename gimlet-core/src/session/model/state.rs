//! A request's session state, under the session's lock: both channels, the
//! ids to retire, the session's own lifetime, and what the request did;
//! verifying the request's cookies is decided here, without I/O. Finding
//! and placing keys is in `placing.rs`, the updates to run again in
//! `replays.rs`.

use std::sync::LazyLock;

use crate::cookie::{Named, parse_token};
use crate::engine::Engine;
use crate::error::Error;
use crate::id::SessionId;
use crate::key::ChannelKind;
use crate::lifetime::Lifetime;
use crate::session::status::Activity;

use super::channel::Channel;
use super::facts::Retired;
use super::peer::Peer;
use super::replays::Replays;

/// How many cookies of one Gimlet name a request may have verified: a
/// browser sends more than one only when several paths or domains set one,
/// and a request stuffed with copies must not cost a MAC each.
pub(crate) const MAX_COOKIES_PER_NAME: usize = 3;

/// The channels of a session not used yet: what [`State::channels`] reads
/// until the first use makes the session's own.
static UNOPENED: LazyLock<[Channel; 2]> = LazyLock::new(Channel::pair);

#[derive(Debug)]
pub(crate) struct State {
    /// Both channels, made at the first use: a request that never
    /// touches its session neither builds nor drops them. Boxed, so that
    /// the state opened with every request is small to build.
    channels: Option<Box<[Channel; 2]>>,
    /// Ids whose records the commit deletes (logout, or a cycled id).
    retired: Vec<Retired>,
    committed: bool,
    /// The handler used the session; an unused one commits nothing.
    used: bool,
    /// What the request did, as far as the record of it goes: changes not
    /// committed yet are read off the channels.
    activity: Activity,
    /// `gimlet.session`: the request's session work, parent of a
    /// `gimlet.backend` span per call. Made at the first use, so an
    /// untouched session pays nothing for it; disabled (and nearly free)
    /// unless a subscriber wants it.
    span: tracing::Span,
    /// The request's `Cookie` header values (several joined by `;`), as
    /// sent: scanned for Gimlet's cookies and verified at the first use.
    unopened: Vec<u8>,
    /// The session's write token, from its cookie, under a near cache (0:
    /// none): what a near cache's entries must have been filled under to
    /// be served to this request.
    token: u64,
    /// The request came without a Gimlet cookie, and nothing shows it came
    /// over HTTPS or to loopback: a browser may have dropped its `Secure`
    /// cookie (counted by the engine's [`TransportWatch`](crate::cookie::TransportWatch)).
    suspect: bool,
    /// The updates of keys whose values came from the store, to run again
    /// if the commit finds one changed.
    replays: Replays,
    /// The session's own lifetime: its cookies', or the handler's.
    lifetime: Option<Lifetime>,
    /// The handler set [`State::lifetime`]: the commit renews every
    /// channel's cookie and record under it.
    lifetime_set: bool,
    /// Clientside values this request kept in the store, the cookie being
    /// full (`cookie_overflow`).
    overflowed: usize,
    /// The cookie of another library whose sessions are imported.
    peer: Peer,
}

impl State {
    /// The state of a request that sent `unopened` as its `Cookie`
    /// header text: nothing verified yet, nothing used.
    // Inlined, so that the state is built where it lives, in the
    // session's allocation, rather than built and then copied there.
    #[inline]
    pub(crate) fn new(unopened: Vec<u8>) -> Self {
        State {
            channels: None,
            unopened,
            retired: Vec::new(),
            committed: false,
            used: false,
            activity: Activity::Untouched,
            span: tracing::Span::none(),
            token: 0,
            suspect: false,
            replays: Replays::default(),
            lifetime: None,
            lifetime_set: false,
            overflowed: 0,
            peer: Peer::Absent,
        }
    }

    /// The cookie of another library whose sessions are imported, as
    /// this request found it.
    pub(crate) fn peer(&self) -> &Peer {
        &self.peer
    }

    /// See [`State::peer`].
    pub(crate) fn peer_mut(&mut self) -> &mut Peer {
        &mut self.peer
    }

    /// Whether the request's `Cookie` header holds one of Gimlet's session
    /// cookies, verified or not.
    pub(crate) fn has_gimlet_cookie(&self, engine: &Engine) -> bool {
        engine
            .cookies
            .scan(&self.unopened)
            .any(|(named, _)| matches!(named, Named::Channel(_)))
    }

    /// The updates the commit may run again.
    pub(crate) fn replays(&self) -> &Replays {
        &self.replays
    }

    /// See [`State::replays`].
    pub(crate) fn replays_mut(&mut self) -> &mut Replays {
        &mut self.replays
    }

    /// The session's own lifetime, if it has one.
    pub(crate) fn lifetime(&self) -> Option<Lifetime> {
        self.lifetime
    }

    /// Whether the handler set the session's lifetime: every channel's
    /// cookie and record take it at the commit.
    pub(crate) fn lifetime_set(&self) -> bool {
        self.lifetime_set
    }

    /// Gives the session its own lifetime (`None`: the configured ones). It
    /// lasts, through cycles and logins, until it is set again or the
    /// session ends.
    pub(crate) fn set_lifetime(&mut self, lifetime: Option<Lifetime>) -> Result<(), Error> {
        self.before_commit("a session lifetime")?;
        self.lifetime = lifetime;
        self.lifetime_set = true;
        self.note(Activity::Changed);
        Ok(())
    }

    /// How many clientside values this request's inserts kept in the store
    /// because the cookie was full.
    pub(crate) fn overflowed(&self) -> usize {
        self.overflowed
    }

    /// Counts a clientside value kept in the store.
    pub(crate) fn note_overflow(&mut self) {
        self.overflowed += 1;
    }

    /// Marks the request as one whose cookie a browser may have dropped.
    pub(crate) fn suspect(&mut self) {
        self.suspect = true;
    }

    /// Whether [`State::suspect`] marked it.
    pub(crate) fn is_suspect(&self) -> bool {
        self.suspect
    }

    /// The session's write token (0: none).
    pub(crate) fn token(&self) -> u64 {
        self.token
    }

    pub(crate) fn channels(&self) -> &[Channel; 2] {
        self.channels.as_deref().unwrap_or_else(|| &*UNOPENED)
    }

    pub(crate) fn channels_mut(&mut self) -> &mut [Channel; 2] {
        self.channels
            .get_or_insert_with(|| Box::new(Channel::pair()))
    }

    /// Ids whose records the commit deletes (logout, or a cycled id).
    pub(crate) fn retired(&self) -> &[Retired] {
        &self.retired
    }

    pub(crate) fn committed(&self) -> bool {
        self.committed
    }

    /// The handler used the session.
    pub(crate) fn used(&self) -> bool {
        self.used
    }

    pub(crate) fn activity(&self) -> Activity {
        self.activity
    }

    /// The `gimlet.session` span (a disabled one until the first use).
    pub(crate) fn span(&self) -> &tracing::Span {
        &self.span
    }

    /// Records that the request did at least `activity`.
    pub(crate) fn note(&mut self, activity: Activity) {
        self.activity = self.activity.max(activity);
    }

    /// Fails with [`Error::Committed`] for `what`, once the commit ran.
    pub(crate) fn before_commit(&self, what: &'static str) -> Result<(), Error> {
        if self.committed {
            return Err(Error::Committed { what });
        }
        Ok(())
    }

    /// Marks the session committed, and answers whether the commit has
    /// work to do: not when it was committed already, nor when the handler
    /// did not use it (rule 1: a request that did not touch the session
    /// sends nothing, even when a refresh would be due).
    pub(crate) fn start_commit(&mut self) -> bool {
        let first = !self.committed;
        self.committed = true;
        first && self.used
    }

    /// Ends the request without committing: the browser keeps what it
    /// sent, which is what each channel's `browser` already says.
    pub(crate) fn discard(&mut self) {
        self.committed = true;
    }

    /// Moves both channels' loaded data under new ids, in the group of
    /// `beside`; the old ids are retired. `restart`: a login starts the
    /// absolute lifetime anew.
    pub(crate) fn cycle(
        &mut self,
        now: u64,
        beside: Option<SessionId>,
        backend: bool,
        restart: bool,
    ) -> Result<(), Error> {
        self.before_commit("a new session id")?;
        for kind in ChannelKind::BOTH {
            let retire = self.ch_mut(kind).cycle(now, beside, backend, restart)?;
            self.retired.extend(retire);
        }
        self.note(Activity::Renewed);
        Ok(())
    }

    /// The retired `id`'s record is gone: its channel heals, keeping only
    /// this request's own writes, and the id is deleted like a logout's.
    pub(crate) fn moved_from_gone(
        &mut self,
        id: SessionId,
        now: u64,
        beside: Option<SessionId>,
    ) -> Result<(), Error> {
        for retired in self.retired.iter_mut().filter(|r| r.id == id) {
            retired.moved = false;
        }
        for kind in ChannelKind::BOTH {
            if self.ch(kind).moved_from() == Some(id) {
                self.ch_mut(kind).heal(now, beside)?;
                self.update_afresh(kind)?;
            }
        }
        Ok(())
    }

    /// The record of channel `kind`'s id was found gone at commit: the
    /// channel heals, and the commit deletes the lost id anyway, so that
    /// the store's log of endings tells every app server, and copies of
    /// its cookie stop there too, clientside data included.
    pub(crate) fn lost(
        &mut self,
        kind: ChannelKind,
        now: u64,
        beside: Option<SessionId>,
    ) -> Result<(), Error> {
        if let Some(id) = self.ch(kind).id()
            && !self.retired.iter().any(|r| r.id == id)
        {
            self.retired.push(Retired { id, moved: false });
        }
        self.ch_mut(kind).heal(now, beside)?;
        self.update_afresh(kind)
    }

    /// Whether the handler ended the session ([`State::end`]).
    pub(crate) fn ended(&self) -> bool {
        self.activity == Activity::Ended
    }

    /// For a request that failed after a logout: drops whatever the
    /// handler wrote since, so that the commit carries only the logout
    /// (its deletes and removal cookies).
    pub(crate) fn keep_only_ending(&mut self) {
        for ch in self.channels_mut() {
            // The ids of data written since the logout are new: none is
            // retired.
            let _ = ch.end(false);
        }
        for retired in &mut self.retired {
            retired.moved = false;
        }
        self.lifetime = None;
    }

    /// Ends both channels, as at logout; their ids are retired.
    pub(crate) fn end(&mut self, backend: bool) -> Result<(), Error> {
        self.before_commit("an invalidation")?;
        self.peer.forgo();
        for kind in ChannelKind::BOTH {
            let retire = self.ch_mut(kind).end(backend);
            self.retired.extend(retire);
        }
        // What is written after a logout is a new session's.
        self.lifetime = None;
        self.activity = Activity::Ended;
        Ok(())
    }

    pub(crate) fn ch(&self, kind: ChannelKind) -> &Channel {
        &self.channels()[kind.index()]
    }

    pub(crate) fn ch_mut(&mut self, kind: ChannelKind) -> &mut Channel {
        &mut self.channels_mut()[kind.index()]
    }

    /// An id of this session that new ids are generated beside, so that
    /// all of them share one group: a channel's, or one being retired.
    pub(crate) fn anchor(&self) -> Option<SessionId> {
        self.channels()
            .iter()
            .find_map(|ch| ch.id())
            .or_else(|| self.retired.first().map(|r| r.id))
    }

    /// Marks the session as used by the handler (so the commit looks at
    /// it) and, the first time, verifies its cookies.
    pub(crate) fn begin_use(&mut self, engine: &Engine) {
        if !self.used {
            self.used = true;
            self.activity = self.activity.max(Activity::Read);
            // Made only when some subscriber takes debug spans: otherwise
            // the request pays nothing for it (a disabled span still costs
            // its fields and, where `tracing` forwards to `log`, a record).
            if tracing::level_enabled!(tracing::Level::DEBUG) {
                self.span = tracing::debug_span!(
                    "gimlet.session",
                    backend = engine.backend.as_ref().map_or("none", |b| b.name()),
                    activity = tracing::field::Empty,
                    round_trips = tracing::field::Empty,
                    backend_ms = tracing::field::Empty,
                );
            }
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
        // The channels the cookies make; the others start new, below.
        let mut opened: [Option<Channel>; 2] = [None, None];
        let mut lifetimes = [None; 2];
        let mut peer = None;
        for (named, value) in engine.cookies.scan(&unopened) {
            let kind = match named {
                Named::Channel(kind) => kind,
                Named::Peer => {
                    // The first, as a browser sends the most specific
                    // path first.
                    peer = peer.or(Some(value));
                    continue;
                }
                Named::Token => {
                    // The last well-formed one, as a browser sends the
                    // newest last.
                    self.token = parse_token(value).unwrap_or(self.token);
                    continue;
                }
            };
            seen[kind.index()] += 1;
            let slot = &mut opened[kind.index()];
            if slot.is_some() || seen[kind.index()] > MAX_COOKIES_PER_NAME {
                continue;
            }
            let name = engine.cookies.name(kind);
            let verified = &engine.verified[kind.index()];
            let cookie = match verified.verify(&engine.codec, name, value) {
                Ok(cookie) => {
                    engine.transport.cookie_returned();
                    cookie
                }
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
                    let header = &cookie.header;
                    let revocations = &engine.revocations;
                    // An ending this server heard of: the record is gone,
                    // as a load would find, with no round trip.
                    let ended = backend && header.stored && revocations.is_revoked(&header.id);
                    let due = now >= header.checked.saturating_add(engine.revalidate_after)
                        || !revocations.trusts_the_window();
                    let len = name.len() + 1 + value.len();
                    lifetimes[kind.index()] = header.lifetime;
                    let ch = slot.insert(Channel::from_cookie(kind, cookie, backend, due, len));
                    if ended {
                        tracing::info!(channel = kind.name(), "session ended elsewhere; healing");
                        engine.meters().revoked_pushed.increment(1);
                        engine.meters().heals.increment(1);
                        let _ = ch.loaded(None, now, None);
                    }
                }
                Err(reason) => tracing::debug!(cookie = name, reason, "session cookie ignored"),
            }
        }
        self.peer = Peer::found(peer, opened.iter().any(Option::is_some));
        if !self.lifetime_set {
            // Both cookies carry the same one: the commit that sets it
            // issues both.
            self.lifetime = lifetimes[0].or(lifetimes[1]);
        }
        match &mut self.channels {
            Some(channels) => {
                for (ch, opened) in channels.iter_mut().zip(opened) {
                    if let Some(opened) = opened {
                        *ch = opened;
                    }
                }
            }
            None => {
                let [permanent, transient] = opened;
                self.channels = Some(Box::new([
                    permanent.unwrap_or_else(|| Channel::new(ChannelKind::Permanent)),
                    transient.unwrap_or_else(|| Channel::new(ChannelKind::Transient)),
                ]));
            }
        }
    }

    /// Whether a channel with an id has its server data still to load:
    /// [`State::unloaded`] without building the list.
    pub(crate) fn needs_load(&self) -> bool {
        self.channels()
            .iter()
            .any(|ch| !ch.is_loaded() && ch.id().is_some())
    }

    /// Channels whose server data is not loaded yet, with their ids.
    pub(crate) fn unloaded(&self) -> Vec<(ChannelKind, SessionId)> {
        ChannelKind::BOTH
            .into_iter()
            .filter_map(|k| {
                let ch = self.ch(k);
                match (!ch.is_loaded(), ch.id()) {
                    (true, Some(id)) => Some((k, id)),
                    _ => None,
                }
            })
            .collect()
    }
}
