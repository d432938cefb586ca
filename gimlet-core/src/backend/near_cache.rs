//! The near cache: records this app server loaded, kept for the next
//! requests of the same browser, coherent with every other app server
//! through the store's feed of changes.
//!
//! Two rules make it safe to answer a load from here:
//!
//! - **Read your writes.** Every commit that changes a channel's server data
//!   gives the channel's cookie a new random write token. An entry is
//!   tagged with the token of the request that filled it, and answers only
//!   that token. A browser that wrote carries a token no app server has
//!   an entry for, so its next read, on any server, goes to the store, and
//!   only a load that started after its write can fill an entry it hits.
//! - **Everyone else's writes.** A store that keeps a near cache coherent
//!   ([`Backend::follow_changes`](super::Backend::follow_changes)) tells
//!   [`NearCache::changed`] the ids every app server's commits change or
//!   delete, and the entries go. While that feed is down nothing is
//!   served, and what was held is dropped; a load that raced with a change
//!   does not fill.
//!
//! Entries also go after a time to live, which bounds what the store ends
//! without a commit (expiry, eviction, a flush).

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use super::Record;
use crate::{Clock, SessionId};

/// How many of the latest changes a cache remembers, to refuse a load
/// that raced with one of them.
const RECENT: usize = 4096;

/// The bytes an entry takes beside its keys and values: its slots in the
/// map and the eviction order, the shared record and its table. With
/// [`KEY_BYTES`], measured as the growth of a process's resident set
/// (`gimlet-bench memory-fill near-cache`, docs/benchmarks.md).
const ENTRY_BYTES: usize = 288;
/// The bytes a key takes beside its name and value: its slot in the
/// record's table, and the two allocations' own overhead.
const KEY_BYTES: usize = 96;

/// The records one app server keeps near, with their bounds.
pub struct NearCache {
    max_entries: usize,
    max_bytes: usize,
    ttl: u64,
    clock: Arc<dyn Clock>,
    /// The store's feed of changes is live: entries may be served.
    live: AtomicBool,
    inner: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    map: HashMap<SessionId, Entry>,
    /// `(serial, id)` in the order entries were filled, oldest first: the
    /// next to go when the cache is full. An id whose entry was replaced
    /// or dropped since has another serial, or none.
    order: VecDeque<(u64, SessionId)>,
    bytes: usize,
    /// Bumped at every change heard and every fill.
    serial: u64,
    /// The latest changes, `(serial, id)`, oldest first.
    recent: VecDeque<(u64, SessionId)>,
    /// Loads that started before this serial never fill: what they read
    /// may predate a change that is no longer in `recent`.
    floor: u64,
}

struct Entry {
    record: Arc<Record>,
    token: u64,
    filled: u64,
    serial: u64,
    bytes: usize,
}

/// Where a load started, in the order of changes heard: what
/// [`NearCache::fill`] checks its answer against.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ticket(u64);

/// What a near cache holds, and whether it serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct NearCacheStatus {
    /// The store's feed of changes is live: the cache serves.
    pub live: bool,
    /// Records held.
    pub entries: usize,
    /// Their keys and values, with a rough count of the maps' own bytes.
    pub bytes: usize,
}

impl NearCache {
    /// An empty cache of at most `max_entries` records and about
    /// `max_bytes` bytes, each kept at most `ttl` seconds by `clock`. It
    /// serves nothing until the store's feed says it is live
    /// ([`NearCache::feed_up`]).
    pub fn new(max_entries: usize, max_bytes: usize, ttl: u64, clock: Arc<dyn Clock>) -> Self {
        NearCache {
            max_entries,
            max_bytes,
            ttl,
            clock,
            live: AtomicBool::new(false),
            inner: Mutex::default(),
        }
    }

    /// The records of `ids` changed or ended: their entries go, and a load
    /// that started before this does not fill them.
    pub fn changed(&self, ids: impl IntoIterator<Item = SessionId>) {
        let mut inner = self.lock();
        for id in ids {
            inner.serial += 1;
            let serial = inner.serial;
            inner.remove(&id);
            if inner.recent.len() == RECENT
                && let Some((oldest, _)) = inner.recent.pop_front()
            {
                inner.floor = inner.floor.max(oldest);
            }
            inner.recent.push_back((serial, id));
        }
    }

    /// The store's feed delivers every change as it happens: entries may
    /// be served. Loads that started before do not fill.
    pub fn feed_up(&self) {
        let mut inner = self.lock();
        inner.serial += 1;
        inner.floor = inner.serial;
        self.live.store(true, Ordering::Release);
    }

    /// The store's feed may be missing changes: nothing is served or
    /// filled until [`NearCache::feed_up`], and every entry goes.
    pub fn feed_down(&self) {
        self.live.store(false, Ordering::Release);
        let mut inner = self.lock();
        inner.serial += 1;
        inner.floor = inner.serial;
        inner.map.clear();
        inner.order.clear();
        inner.recent.clear();
        inner.bytes = 0;
    }

    /// Whether the feed is live.
    pub fn is_live(&self) -> bool {
        self.live.load(Ordering::Acquire)
    }

    /// What the cache holds now, and whether it serves.
    pub fn status(&self) -> NearCacheStatus {
        let inner = self.lock();
        NearCacheStatus {
            live: self.is_live(),
            entries: inner.map.len(),
            bytes: inner.bytes,
        }
    }

    /// The record of `id` as the browser with write token `token` last saw
    /// it, if held and fresh, and when the store last showed it.
    pub(crate) fn get(&self, id: &SessionId, token: u64) -> Option<(Arc<Record>, u64)> {
        if !self.is_live() {
            return None;
        }
        let now = self.clock.now();
        let inner = self.lock();
        let entry = inner.map.get(id)?;
        (entry.token == token && now < entry.filled.saturating_add(self.ttl))
            .then(|| (Arc::clone(&entry.record), entry.filled))
    }

    /// Taken before a load, for [`NearCache::fill`].
    pub(crate) fn ticket(&self) -> Ticket {
        Ticket(self.lock().serial)
    }

    /// Keeps what a load that started at `ticket` found for `id`, for the
    /// browser with write token `token`, unless a change to `id` was heard
    /// since the load started (or may have been), or the feed is down.
    pub(crate) fn fill(&self, ticket: Ticket, id: SessionId, token: u64, record: &Record) {
        if !self.is_live() {
            return;
        }
        let bytes = ENTRY_BYTES
            + record
                .iter()
                .map(|(k, v)| KEY_BYTES + k.len() + v.len())
                .sum::<usize>();
        if bytes > self.max_bytes || self.max_entries == 0 {
            return;
        }
        let filled = self.clock.now();
        let mut inner = self.lock();
        if ticket.0 < inner.floor
            || inner
                .recent
                .iter()
                .rev()
                .take_while(|&&(serial, _)| serial > ticket.0)
                .any(|(_, changed)| *changed == id)
        {
            return;
        }
        inner.remove(&id);
        while inner.map.len() >= self.max_entries || inner.bytes + bytes > self.max_bytes {
            if !inner.evict_oldest() {
                break;
            }
        }
        inner.serial += 1;
        let serial = inner.serial;
        inner.order.push_back((serial, id));
        inner.bytes += bytes;
        inner.map.insert(
            id,
            Entry {
                record: Arc::new(record.clone()),
                token,
                filled,
                serial,
                bytes,
            },
        );
    }

    fn lock(&self) -> MutexGuard<'_, Entries> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Entries {
    fn remove(&mut self, id: &SessionId) {
        if let Some(entry) = self.map.remove(id) {
            self.bytes -= entry.bytes;
        }
    }

    /// Drops the oldest entry still held; answers whether there was one.
    fn evict_oldest(&mut self) -> bool {
        while let Some((serial, id)) = self.order.pop_front() {
            if self.map.get(&id).is_some_and(|e| e.serial == serial) {
                self.remove(&id);
                return true;
            }
        }
        false
    }
}

impl fmt::Debug for NearCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NearCache")
            .field("max_entries", &self.max_entries)
            .field("max_bytes", &self.max_bytes)
            .field("ttl", &self.ttl)
            .field("status", &self.status())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU64;

    use super::*;

    #[derive(Debug)]
    struct ManualClock(AtomicU64);

    impl ManualClock {
        fn new(now: u64) -> Self {
            ManualClock(AtomicU64::new(now))
        }

        fn advance(&self, seconds: u64) {
            self.0.fetch_add(seconds, Ordering::SeqCst);
        }
    }

    impl Clock for ManualClock {
        fn now(&self) -> u64 {
            self.0.load(Ordering::SeqCst)
        }
    }

    fn new_cache(max_entries: usize, max_bytes: usize) -> (NearCache, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new(1_000));
        let cache = NearCache::new(max_entries, max_bytes, 30, clock.clone());
        cache.feed_up();
        (cache, clock)
    }

    fn record(value: &str) -> Record {
        Record::from([("k".to_owned(), value.as_bytes().to_vec())])
    }

    fn id() -> SessionId {
        SessionId::generate().unwrap()
    }

    fn value(cache: &NearCache, id: &SessionId, token: u64) -> Option<Vec<u8>> {
        cache.get(id, token).map(|(r, _)| r["k"].clone())
    }

    #[test]
    fn an_entry_answers_its_own_token_only() {
        let (cache, _) = new_cache(10, 1 << 20);
        let id = id();
        cache.fill(cache.ticket(), id, 7, &record("a"));
        assert_eq!(value(&cache, &id, 7), Some(b"a".to_vec()));
        assert_eq!(value(&cache, &id, 8), None, "a browser that wrote since");
        assert_eq!(value(&cache, &id, 0), None);
    }

    #[test]
    fn a_change_heard_drops_the_entry() {
        let (cache, _) = new_cache(10, 1 << 20);
        let (a, b) = (id(), id());
        cache.fill(cache.ticket(), a, 1, &record("a"));
        cache.fill(cache.ticket(), b, 1, &record("b"));
        cache.changed([a]);
        assert_eq!(value(&cache, &a, 1), None);
        assert_eq!(value(&cache, &b, 1), Some(b"b".to_vec()));
    }

    /// A load that read the record before a change, and answers after the
    /// change was heard, would hold the old record for good.
    #[test]
    fn a_load_that_raced_with_a_change_does_not_fill() {
        let (cache, _) = new_cache(10, 1 << 20);
        let (a, b) = (id(), id());
        let ticket = cache.ticket();
        cache.changed([a]);
        cache.fill(ticket, a, 1, &record("old"));
        assert_eq!(value(&cache, &a, 1), None);
        // A change to another id does not stop it.
        cache.fill(ticket, b, 1, &record("b"));
        assert_eq!(value(&cache, &b, 1), Some(b"b".to_vec()));
        // Past the changes remembered, nothing that started before fills.
        let ticket = cache.ticket();
        cache.changed((0..RECENT + 1).map(|_| id()));
        cache.fill(ticket, a, 1, &record("a"));
        assert_eq!(value(&cache, &a, 1), None);
        cache.fill(cache.ticket(), a, 1, &record("a"));
        assert_eq!(value(&cache, &a, 1), Some(b"a".to_vec()));
    }

    #[test]
    fn while_the_feed_is_down_nothing_is_served_kept_or_filled() {
        let (cache, _) = new_cache(10, 1 << 20);
        let a = id();
        cache.fill(cache.ticket(), a, 1, &record("a"));
        cache.feed_down();
        assert_eq!(value(&cache, &a, 1), None);
        cache.fill(cache.ticket(), a, 1, &record("a"));
        let ticket = cache.ticket();
        cache.feed_up();
        assert_eq!(cache.status().entries, 0);
        assert_eq!(value(&cache, &a, 1), None, "dropped while down");
        // A load that started while the feed was down may have missed a
        // change that was never heard.
        cache.fill(ticket, a, 1, &record("a"));
        assert_eq!(value(&cache, &a, 1), None);
        cache.fill(cache.ticket(), a, 1, &record("a"));
        assert_eq!(value(&cache, &a, 1), Some(b"a".to_vec()));
    }

    #[test]
    fn a_cache_never_live_serves_nothing() {
        let clock = Arc::new(ManualClock::new(1_000));
        let cache = NearCache::new(10, 1 << 20, 30, clock);
        let a = id();
        cache.fill(cache.ticket(), a, 1, &record("a"));
        assert_eq!(value(&cache, &a, 1), None);
    }

    #[test]
    fn an_entry_lives_its_time_to_live() {
        let (cache, clock) = new_cache(10, 1 << 20);
        let a = id();
        cache.fill(cache.ticket(), a, 1, &record("a"));
        clock.advance(29);
        assert!(cache.get(&a, 1).is_some());
        clock.advance(1);
        assert!(cache.get(&a, 1).is_none());
    }

    #[test]
    fn the_oldest_entries_go_first_within_both_bounds() {
        let (cache, _) = new_cache(3, 1 << 20);
        let ids: Vec<_> = (0..5).map(|_| id()).collect();
        for &id in &ids {
            cache.fill(cache.ticket(), id, 1, &record("v"));
        }
        let held: Vec<bool> = ids.iter().map(|id| cache.get(id, 1).is_some()).collect();
        assert_eq!(held, [false, false, true, true, true]);
        assert_eq!(cache.status().entries, 3);
        // A refill moves an entry to the back.
        cache.fill(cache.ticket(), ids[2], 1, &record("w"));
        cache.fill(cache.ticket(), id(), 1, &record("v"));
        assert!(cache.get(&ids[2], 1).is_some() && cache.get(&ids[3], 1).is_none());

        let entry = ENTRY_BYTES + KEY_BYTES + 1 + 1;
        let (small, _) = new_cache(100, 2 * entry);
        for &id in &ids {
            small.fill(small.ticket(), id, 1, &record("v"));
        }
        let status = small.status();
        assert_eq!((status.entries, status.bytes), (2, 2 * entry));
        // A record larger than the whole cache is not kept.
        small.fill(small.ticket(), ids[0], 1, &record(&"x".repeat(3 * entry)));
        assert!(small.get(&ids[0], 1).is_none());
        assert_eq!(small.status().entries, 2);
    }
}
