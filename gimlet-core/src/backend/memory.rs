//! An in-process backend with expiry and a bound.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;

use super::{Backend, BackendError, Batch, Op, Record, Write, WriteMode};
use crate::{Clock, SessionId, SystemClock};

/// A backend that keeps records in this process's memory.
///
/// For tests and for single-process apps that can lose their sessions on a
/// restart. Records expire on time; expired records are dropped as commits
/// pass them, and when the bound is reached the record closest to expiry is
/// evicted first (expired ones are the closest of all).
///
/// # Example
///
/// ```
/// use gimlet_core::{Gimlet, MemoryBackend};
///
/// let gimlet = Gimlet::builder()
///     .secret("0123456789abcdef0123456789abcdef")
///     .backend(MemoryBackend::with_capacity(10_000))
///     .build()
///     .unwrap();
/// ```
#[derive(Debug)]
pub struct MemoryBackend {
    store: Mutex<Store>,
    capacity: usize,
    clock: Arc<dyn Clock>,
}

#[derive(Debug, Default)]
struct Store {
    records: HashMap<SessionId, Entry>,
    by_expiry: BTreeSet<(u64, SessionId)>,
}

#[derive(Debug)]
struct Entry {
    data: Record,
    expires_at: u64,
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
            capacity: capacity.max(1),
            clock: Arc::new(SystemClock),
        }
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

    fn remove(&mut self, id: &SessionId) {
        if let Some(entry) = self.records.remove(id) {
            self.by_expiry.remove(&(entry.expires_at, *id));
        }
    }

    fn purge_expired(&mut self, now: u64) -> u64 {
        let mut purged = 0;
        while let Some(&(expires_at, id)) = self.by_expiry.first() {
            if expires_at > now {
                break;
            }
            self.remove(&id);
            purged += 1;
        }
        purged
    }

    fn check(&self, batch: &Batch, now: u64) -> Result<(), BackendError> {
        for op in &batch.ops {
            if let Op::Write(write) = op {
                let exists = self.live(&write.id, now).is_some();
                match write.mode {
                    WriteMode::Create if exists => return Err(BackendError::collision()),
                    WriteMode::Update if !exists => return Err(BackendError::gone()),
                    _ => {}
                }
            }
        }
        Ok(())
    }

    fn apply(&mut self, write: &Write, now: u64) {
        let mut data = match self.records.remove(&write.id) {
            Some(entry) => {
                self.by_expiry.remove(&(entry.expires_at, write.id));
                if entry.expires_at > now {
                    entry.data
                } else {
                    Record::new()
                }
            }
            None => Record::new(),
        };
        if write.clear {
            data.clear();
        }
        for key in &write.remove {
            data.remove(key);
        }
        for (key, value) in &write.set {
            data.insert(key.clone(), value.clone());
        }
        self.by_expiry.insert((write.expires_at, write.id));
        self.records.insert(
            write.id,
            Entry {
                data,
                expires_at: write.expires_at,
            },
        );
    }

    fn evict_to(&mut self, capacity: usize) {
        while self.records.len() > capacity {
            let Some(&(_, id)) = self.by_expiry.first() else {
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
        let store = self.lock();
        Ok(ids
            .iter()
            .map(|id| store.live(id, now).map(|e| e.data.clone()))
            .collect())
    }

    async fn commit(&self, batch: &Batch) -> Result<(), BackendError> {
        let now = self.clock.now();
        let mut store = self.lock();
        store.check(batch, now)?;
        for op in &batch.ops {
            match op {
                Op::Delete(id) => store.remove(id),
                Op::Write(write) => store.apply(write, now),
            }
        }
        store.purge_expired(now);
        store.evict_to(self.capacity);
        Ok(())
    }

    async fn delete_expired(&self) -> Result<u64, BackendError> {
        let now = self.clock.now();
        Ok(self.lock().purge_expired(now))
    }
}
