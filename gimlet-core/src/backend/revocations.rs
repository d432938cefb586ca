//! Pushed revocation: the endings this app server has heard of, from its
//! own commits and from every other app server through the store's feed,
//! tested against each cookie at no I/O cost.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::{Clock, SessionId};

/// The ids whose records ended (a logout, a cycle, log out everywhere)
/// in the last revalidation window, as one app server knows them.
///
/// Gimlet keeps one per [`Gimlet`](crate::Gimlet). Its own commits add the
/// ids they delete; a store that can push ([`Backend::subscribe`](super::Backend::subscribe)) adds
/// what every other app server's commits deleted, as they happen. A cookie
/// whose id is here has ended: it yields nothing, clientside data
/// included, with no round trip.
///
/// An entry lives one window (`revalidate_after`): past it, the window's
/// own check catches any cookie of the id. While the store's feed is down
/// (`feed_down`), nothing may have been heard, so every cookie is checked
/// on use, as with `revalidate_after = 0`.
pub struct Revocations {
    window: u64,
    max_ids: usize,
    clock: Arc<dyn Clock>,
    /// Entries held: read without the lock, so that an empty set costs a
    /// load of one atomic.
    len: AtomicUsize,
    /// An ending was dropped for want of room: nothing is trusted.
    overflowed: AtomicBool,
    feed: AtomicU8,
    inner: Mutex<Ended>,
}

/// The ended ids, and the order they expire in.
#[derive(Default)]
struct Ended {
    ids: HashMap<SessionId, u64>,
    /// An ending was not recorded for want of room.
    overflowed: bool,
    /// When the last ending not recorded stops mattering.
    overflow_until: u64,
    /// `(until, id)`, oldest first: entries are added with a non-decreasing
    /// `until`, so the front is the next to expire.
    order: VecDeque<(u64, SessionId)>,
}

/// The most ids held: at about 80 bytes each (docs/benchmarks.md), 4 million
/// take some 320 MB. Past it, every cookie is checked on use.
pub const MAX_IDS: usize = 4_000_000;

/// The store has no feed: the window alone bounds a copied cookie.
const NO_FEED: u8 = 0;
/// The feed delivers every ending as it happens.
const LIVE: u8 = 1;
/// The feed is down or not caught up: every cookie is checked on use.
const DOWN: u8 = 2;

impl Revocations {
    /// An empty set whose entries live `window` seconds by `clock`, for a
    /// store with no feed until one says otherwise.
    pub fn new(window: u64, clock: Arc<dyn Clock>) -> Self {
        Self::bounded(window, clock, MAX_IDS)
    }

    /// [`Revocations::new`], holding at most `max_ids` ids
    /// ([`MAX_IDS`] by default): past it, every cookie is checked on use
    /// until the window of what could not be held has passed.
    pub fn bounded(window: u64, clock: Arc<dyn Clock>, max_ids: usize) -> Self {
        Revocations {
            window,
            max_ids,
            clock,
            len: AtomicUsize::new(0),
            overflowed: AtomicBool::new(false),
            feed: AtomicU8::new(NO_FEED),
            inner: Mutex::default(),
        }
    }

    /// How long an entry lives, in seconds: the revalidation window.
    pub fn window(&self) -> u64 {
        self.window
    }

    /// Records that the records of `ids` ended now.
    pub fn revoke(&self, ids: impl IntoIterator<Item = SessionId>) {
        let mut ids = ids.into_iter().peekable();
        if ids.peek().is_none() {
            // Most commits end nothing: no lock, no clock.
            return;
        }
        let now = self.clock.now();
        let until = now.saturating_add(self.window);
        let mut ended = self.lock();
        ended.expire(now);
        for id in ids {
            if ended.ids.len() >= self.max_ids {
                // Forgetting an ending would trust its cookies: past the
                // bound, none is added, and every cookie is checked instead
                // until the set has room again.
                ended.overflowed = true;
                ended.overflow_until = until;
                break;
            }
            ended.ids.insert(id, until);
            ended.order.push_back((until, id));
        }
        self.len.store(ended.ids.len(), Ordering::Release);
        self.overflowed.store(ended.overflowed, Ordering::Release);
    }

    /// Whether the record of `id` ended within the last window.
    pub fn is_revoked(&self, id: &SessionId) -> bool {
        if self.len.load(Ordering::Acquire) == 0 {
            return false;
        }
        let now = self.clock.now();
        self.lock().ids.get(id).is_some_and(|&until| until > now)
    }

    /// The store's feed delivers every ending from now on.
    pub fn feed_up(&self) {
        self.feed.store(LIVE, Ordering::Release);
    }

    /// The store's feed is down, or has not caught up: until
    /// [`Revocations::feed_up`], every cookie is checked on use.
    pub fn feed_down(&self) {
        self.feed.store(DOWN, Ordering::Release);
    }

    /// Whether a cookie inside its revalidation window may be used
    /// unchecked: not while a feed that should be live is down, nor while
    /// an ending could not be recorded.
    pub fn trusts_the_window(&self) -> bool {
        if self.feed.load(Ordering::Acquire) == DOWN {
            return false;
        }
        if !self.overflowed.load(Ordering::Acquire) {
            return true;
        }
        let mut ended = self.lock();
        ended.expire(self.clock.now());
        self.len.store(ended.ids.len(), Ordering::Release);
        self.overflowed.store(ended.overflowed, Ordering::Release);
        !ended.overflowed
    }

    /// Whether everything the store's feed logged has been heard: no feed
    /// is down or still replaying (a store without one has nothing to hear).
    pub fn caught_up(&self) -> bool {
        self.feed.load(Ordering::Acquire) != DOWN
    }

    /// Whether a store's feed keeps this set up to date.
    pub fn is_pushed(&self) -> bool {
        self.feed.load(Ordering::Acquire) != NO_FEED
    }

    /// How many ids are held, expired ones not yet dropped included.
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Acquire)
    }

    /// Whether no id is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Ended> {
        // Every change is made whole under the lock.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Ended {
    /// Drops the entries whose window has passed. Once an overflow's
    /// window has passed too, the set is whole again.
    fn expire(&mut self, now: u64) {
        if self.overflowed && self.overflow_until <= now {
            self.overflowed = false;
        }
        while let Some(&(until, id)) = self.order.front() {
            if until > now {
                break;
            }
            self.order.pop_front();
            if self.ids.get(&id) == Some(&until) {
                self.ids.remove(&id);
            }
        }
    }
}

impl fmt::Debug for Revocations {
    /// How many, and the feed's state; never an id.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let feed = match self.feed.load(Ordering::Acquire) {
            NO_FEED => "none",
            LIVE => "live",
            _ => "down",
        };
        f.debug_struct("Revocations")
            .field("ids", &self.len())
            .field("window", &self.window)
            .field("feed", &feed)
            .finish()
    }
}
