//! An in-process backend with expiry and a bound.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use async_trait::async_trait;

use super::{
    Backend, BackendError, Batch, NearCache, Op, OwnedRecord, Owner, Ownership, Record,
    Revocations, Write, WriteMode,
};
use crate::id::RandomBytes;
use crate::{Clock, SessionId, SystemClock};

/// A backend that keeps records in this process's memory.
///
/// For tests and for single-process apps that can lose their sessions on a
/// restart. Records expire on time; expired records are dropped as commits
/// pass them. Two bounds, in records and in bytes (an estimate: see
/// [`MemoryBackend::bytes`]): when either is passed, records are evicted,
/// closest to expiry first (expired ones are the closest of all), but
/// records no request has come back to yet go before any that one has: a
/// flood of new sessions (each one request without a cookie) evicts its
/// own kind, never an established session.
///
/// # Example
///
/// ```
/// use gimlet_core::{Gimlet, MemoryBackend};
///
/// let gimlet = Gimlet::builder()
///     .secret("0123456789abcdef0123456789abcdef")
///     .backend(MemoryBackend::with_capacity(10_000).max_bytes(64 << 20))
///     .build()
///     .unwrap();
/// ```
pub struct MemoryBackend {
    store: Mutex<Store>,
    /// The app servers (Gimlets) that share this store, told of every
    /// ending: in process, as it happens.
    subscribers: Mutex<Vec<Weak<Revocations>>>,
    /// Their near caches, told of every change the same way.
    caches: Mutex<Vec<Weak<NearCache>>>,
    capacity: usize,
    max_bytes: usize,
    clock: Arc<dyn Clock>,
    /// `gimlet_memory_store_bytes`, made at the first commit from the
    /// `metrics` recorder installed then.
    gauge: std::sync::OnceLock<metrics::Gauge>,
}

#[derive(Default)]
struct Store {
    records: HashMap<SessionId, Entry, RandomBytes>,
    /// Each record by its expiry, in one of two tiers: [`NEW`] until a
    /// later request comes back to it (loads or writes it again, or it is
    /// owned), then [`RETURNED`]. Eviction empties the first tier first.
    by_expiry: [BTreeSet<(u64, SessionId)>; 2],
    /// The sum of the entries' `bytes`.
    bytes: usize,
    /// The owner index: each owner's records. An id leaves it with its
    /// record.
    owners: HashMap<Owner, BTreeSet<SessionId>>,
}

struct Entry {
    data: Record,
    expires_at: u64,
    /// [`footprint`] of `data`.
    bytes: usize,
    /// Boxed: most records have no owner, and stay small.
    owner: Option<Box<Ownership>>,
    /// Its tier in `by_expiry`.
    tier: usize,
}

/// The tier of records no request has come back to.
const NEW: usize = 0;
/// The tier of records a later request used: established sessions.
const RETURNED: usize = 1;

/// What a record costs here, by estimate: the heap blocks of its keys and
/// values, its table's slots (a key and a value header, and a control byte
/// each), its own slot in the record map and the expiry index, and its
/// ownership with its place in the owner index, if it has an owner.
fn footprint(data: &Record, owned: bool) -> usize {
    use std::mem::size_of;
    const RECORD: usize = size_of::<(SessionId, Entry)>() + 1 + 2 * size_of::<(u64, SessionId)>();
    const SLOT: usize = size_of::<(String, Vec<u8>)>() + 1;
    let heap: usize = data.iter().map(|(k, v)| k.capacity() + v.capacity()).sum();
    const OWNED: usize = size_of::<Ownership>() + size_of::<SessionId>();
    RECORD + data.capacity() * SLOT + heap + if owned { OWNED } else { 0 }
}

impl std::fmt::Debug for MemoryBackend {
    /// How much it holds and may hold; never a record.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let store = self.lock();
        f.debug_struct("MemoryBackend")
            .field("records", &store.records.len())
            .field("bytes", &store.bytes)
            .field("capacity", &self.capacity)
            .field("max_bytes", &self.max_bytes)
            .finish_non_exhaustive()
    }
}

impl Default for MemoryBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryBackend {
    /// The default bound, in records.
    pub const DEFAULT_CAPACITY: usize = 100_000;

    /// A backend bounded at [`MemoryBackend::DEFAULT_CAPACITY`] records.
    pub fn new() -> Self {
        Self::with_capacity(Self::DEFAULT_CAPACITY)
    }

    /// A backend that holds at most `capacity` records (at least one).
    pub fn with_capacity(capacity: usize) -> Self {
        MemoryBackend {
            store: Mutex::default(),
            subscribers: Mutex::default(),
            caches: Mutex::default(),
            capacity: capacity.max(1),
            max_bytes: usize::MAX,
            clock: Arc::new(SystemClock),
            gauge: std::sync::OnceLock::new(),
        }
    }

    /// Tells the `metrics` recorder how many bytes the store holds.
    fn report(&self, bytes: usize) {
        let gauge = self
            .gauge
            .get_or_init(|| metrics::gauge!("gimlet_memory_store_bytes", "backend" => "memory"));
        gauge.set(bytes as f64);
    }

    /// Bounds the records held by their size as well: at most `bytes`, by
    /// the estimate [`MemoryBackend::bytes`] reports (no bound by default).
    /// The bound never evicts the last record, however large.
    #[must_use]
    pub fn max_bytes(mut self, bytes: usize) -> Self {
        self.max_bytes = bytes;
        self
    }

    /// An estimate of the memory the records take: their keys and values,
    /// each record's table and its place in the backend's own maps. It
    /// leaves out what the allocator adds and the spare room of the
    /// backend's maps: docs/benchmarks.md measured it about 15% under what
    /// a process's resident set grew by.
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }

    /// Uses `clock` to decide what has expired.
    #[must_use]
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// How many records are held, expired or not.
    pub fn len(&self) -> usize {
        self.lock().records.len()
    }

    /// Whether no record is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Tells every subscriber that `ids` ended, and forgets the
    /// subscribers that are gone.
    fn publish(&self, ids: &[SessionId]) {
        if ids.is_empty() {
            return;
        }
        let mut subscribers = self.subscribers.lock().unwrap_or_else(|e| e.into_inner());
        subscribers.retain(|weak| match weak.upgrade() {
            Some(revocations) => {
                revocations.revoke(ids.iter().copied());
                true
            }
            None => false,
        });
    }

    /// Tells every near cache that the records of `ids` changed, and
    /// forgets the caches that are gone.
    fn changed(&self, ids: &[SessionId]) {
        let mut caches = self.caches.lock().unwrap_or_else(|e| e.into_inner());
        caches.retain(|weak| match weak.upgrade() {
            Some(cache) => {
                cache.changed(ids.iter().copied());
                true
            }
            None => false,
        });
    }

    fn lock(&self) -> MutexGuard<'_, Store> {
        // A panic elsewhere cannot leave a half-applied batch: batches are
        // checked before anything is changed.
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Store {
    fn live(&self, id: &SessionId, now: u64) -> Option<&Entry> {
        self.records.get(id).filter(|e| e.expires_at > now)
    }

    fn remove(&mut self, id: &SessionId) -> Option<Entry> {
        let entry = self.records.remove(id)?;
        self.by_expiry[entry.tier].remove(&(entry.expires_at, *id));
        self.bytes -= entry.bytes;
        if let Some(owner) = entry.owner.as_ref().map(|o| o.owner)
            && let Some(ids) = self.owners.get_mut(&owner)
        {
            ids.remove(id);
            if ids.is_empty() {
                self.owners.remove(&owner);
            }
        }
        Some(entry)
    }

    fn purge_expired(&mut self, now: u64) -> u64 {
        let mut purged = 0;
        for tier in [NEW, RETURNED] {
            while let Some(&(expires_at, id)) = self.by_expiry[tier].first() {
                if expires_at > now {
                    break;
                }
                self.remove(&id);
                purged += 1;
            }
        }
        purged
    }

    fn check(&self, batch: &Batch, now: u64) -> Result<(), BackendError> {
        for op in &batch.ops {
            let live = self.live(&op.id(), now);
            let exists = live.is_some();
            match op {
                Op::Write(write) => match write.mode {
                    WriteMode::Create if exists => return Err(BackendError::collision()),
                    WriteMode::Update if !exists => return Err(BackendError::gone()),
                    _ if !write.expectations_hold(live.map(|e| &e.data)) => {
                        return Err(BackendError::changed());
                    }
                    _ => {}
                },
                Op::Retire(_) if !exists => return Err(BackendError::gone()),
                Op::Retire(_) | Op::Delete(_) => {}
            }
        }
        Ok(())
    }

    /// The data of the live record `id`, which a request came back to: it
    /// is established from now on.
    fn load(&mut self, id: &SessionId, now: u64) -> Option<Record> {
        let Store {
            records, by_expiry, ..
        } = self;
        let entry = records.get_mut(id).filter(|e| e.expires_at > now)?;
        if entry.tier == NEW {
            entry.tier = RETURNED;
            by_expiry[NEW].remove(&(entry.expires_at, *id));
            by_expiry[RETURNED].insert((entry.expires_at, *id));
        }
        Some(entry.data.clone())
    }

    fn apply(&mut self, write: &Write, now: u64) {
        if self.update_in_place(write, now) {
            return;
        }
        let (mut data, owner, existed) = match self.remove(&write.id) {
            Some(entry) if entry.expires_at > now => (entry.data, entry.owner, true),
            _ => (Record::new(), None, false),
        };
        let owner = write.owner.map(Box::new).or(owner);
        if let Some(owner) = &owner {
            self.owners.entry(owner.owner).or_default().insert(write.id);
        }
        write.apply_to(&mut data);
        let bytes = footprint(&data, owner.is_some());
        let tier = if existed || owner.is_some() {
            RETURNED
        } else {
            NEW
        };
        self.bytes += bytes;
        self.by_expiry[tier].insert((write.expires_at, write.id));
        self.records.insert(
            write.id,
            Entry {
                data,
                expires_at: write.expires_at,
                bytes,
                owner,
                tier,
            },
        );
    }

    /// Applies `write` to its live record where it lies: one lookup, and
    /// no move of the record, which most writes (a key or two of a
    /// returning visitor) need. `false`, with nothing changed, when the
    /// record is missing or expired, or the write changes its owner.
    fn update_in_place(&mut self, write: &Write, now: u64) -> bool {
        let Store {
            records,
            by_expiry,
            bytes,
            ..
        } = self;
        let Some(entry) = records.get_mut(&write.id).filter(|e| e.expires_at > now) else {
            return false;
        };
        if write
            .owner
            .is_some_and(|o| entry.owner.as_deref() != Some(&o))
        {
            return false;
        }
        let data = &mut entry.data;
        write.apply_to(data);
        let footprint = footprint(data, entry.owner.is_some());
        *bytes = *bytes - entry.bytes + footprint;
        entry.bytes = footprint;
        if entry.expires_at != write.expires_at || entry.tier != RETURNED {
            by_expiry[entry.tier].remove(&(entry.expires_at, write.id));
            by_expiry[RETURNED].insert((write.expires_at, write.id));
            entry.expires_at = write.expires_at;
            entry.tier = RETURNED;
        }
        true
    }

    /// The live records of `owner`.
    fn owned(&self, owner: &Owner, now: u64) -> Vec<OwnedRecord> {
        let ids = self.owners.get(owner).into_iter().flatten();
        ids.filter_map(|id| {
            let entry = self.live(id, now)?;
            let ownership = entry.owner.as_deref()?;
            Some(OwnedRecord {
                id: *id,
                permanent: ownership.permanent,
                created: ownership.created,
                expires_at: entry.expires_at,
            })
        })
        .collect()
    }

    /// Evicts records until at most `capacity` are held and they take at
    /// most `max_bytes`, but never the last one. New records go first,
    /// closest to expiry first, but not those of `fresh` (the batch just
    /// applied: a new visitor's record must live to see its next request),
    /// then returned ones. Returned records may fill three quarters of
    /// `capacity`: past that, they go first, so that new visitors always
    /// find room.
    fn evict_to(&mut self, capacity: usize, max_bytes: usize, fresh: &[SessionId]) {
        while self.records.len() > capacity || (self.bytes > max_bytes && self.records.len() > 1) {
            let returned_full = self.by_expiry[RETURNED].len() > capacity / 4 * 3;
            let oldest = |store: &Store, tier: usize| {
                let mut candidates = store.by_expiry[tier].iter().map(|&(_, id)| id);
                candidates.find(|id| !fresh.contains(id))
            };
            let victim = if returned_full {
                oldest(self, RETURNED).or_else(|| oldest(self, NEW))
            } else {
                oldest(self, NEW).or_else(|| oldest(self, RETURNED))
            };
            // Only this batch's own records are left to choose from.
            let any = |store: &Store| {
                let mut all = store.by_expiry.iter().flatten();
                all.next().map(|&(_, id)| id)
            };
            let Some(id) = victim.or_else(|| any(self)) else {
                break;
            };
            self.remove(&id);
        }
    }
}

#[async_trait]
impl Backend for MemoryBackend {
    async fn load(&self, ids: &[SessionId]) -> Result<Vec<Option<Record>>, BackendError> {
        let now = self.clock.now();
        let mut store = self.lock();
        Ok(ids.iter().map(|id| store.load(id, now)).collect())
    }

    async fn commit(&self, batch: &Batch) -> Result<(), BackendError> {
        let now = self.clock.now();
        let mut store = self.lock();
        store.check(batch, now)?;
        for op in &batch.ops {
            match op {
                Op::Delete(id) | Op::Retire(id) => drop(store.remove(id)),
                Op::Write(write) => store.apply(write, now),
            }
        }
        store.purge_expired(now);
        if store.records.len() > self.capacity || store.bytes > self.max_bytes {
            let fresh: Vec<SessionId> = batch.ops.iter().map(Op::id).collect();
            store.evict_to(self.capacity, self.max_bytes, &fresh);
        }
        let bytes = store.bytes;
        drop(store);
        self.report(bytes);
        let ended: Vec<SessionId> = batch.ended().collect();
        self.publish(&ended);
        self.changed(&batch.ops.iter().map(Op::id).collect::<Vec<_>>());
        Ok(())
    }

    async fn delete_expired(&self) -> Result<u64, BackendError> {
        let now = self.clock.now();
        let mut store = self.lock();
        let purged = store.purge_expired(now);
        let bytes = store.bytes;
        drop(store);
        self.report(bytes);
        Ok(purged)
    }

    fn name(&self) -> &'static str {
        "memory"
    }

    fn subscribe(&self, revocations: &Arc<Revocations>) -> bool {
        let mut subscribers = self.subscribers.lock().unwrap_or_else(|e| e.into_inner());
        subscribers.push(Arc::downgrade(revocations));
        revocations.feed_up();
        true
    }

    fn follow_changes(&self, cache: &Arc<NearCache>) -> bool {
        let mut caches = self.caches.lock().unwrap_or_else(|e| e.into_inner());
        caches.push(Arc::downgrade(cache));
        cache.feed_up();
        true
    }

    fn owner_index(&self) -> bool {
        true
    }

    async fn sessions_of(&self, owner: &Owner, now: u64) -> Result<Vec<OwnedRecord>, BackendError> {
        Ok(self.lock().owned(owner, now))
    }

    async fn end_sessions_of(
        &self,
        owner: &Owner,
        except: &[SessionId],
    ) -> Result<u64, BackendError> {
        let now = self.clock.now();
        let mut store = self.lock();
        let ended: Vec<SessionId> = store
            .owned(owner, now)
            .into_iter()
            .map(|r| r.id)
            .filter(|id| !except.contains(id))
            .collect();
        for id in &ended {
            store.remove(id);
        }
        drop(store);
        self.publish(&ended);
        self.changed(&ended);
        Ok(ended.len() as u64)
    }
}
