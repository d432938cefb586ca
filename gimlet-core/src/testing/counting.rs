//! A wrapper that counts backend calls: how the I/O rules are tested.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;

use crate::SessionId;
use crate::backend::{
    Backend, BackendError, Batch, NearCache, OwnedRecord, Owner, Record, Revocations,
};

/// Calls counted by a [`CountingBackend`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Calls to [`Backend::load`].
    pub loads: usize,
    /// Calls to [`Backend::commit`].
    pub commits: usize,
    /// Calls to [`Backend::delete_expired`].
    pub deletes_expired: usize,
    /// Calls to [`Backend::sessions_of`] and [`Backend::end_sessions_of`].
    pub owner_calls: usize,
}

impl Counts {
    /// Every call that reached the backend: each is one round trip.
    pub fn round_trips(&self) -> usize {
        self.loads + self.commits + self.deletes_expired + self.owner_calls
    }
}

/// Wraps any backend and counts the calls that reach it, keeping a copy of
/// every committed batch. Since each call is one round trip, this is how
/// tests assert Gimlet's I/O rules.
///
/// # Example
///
/// ```
/// use std::sync::Arc;
/// use gimlet_core::MemoryBackend;
/// use gimlet_core::testing::CountingBackend;
///
/// let backend = Arc::new(CountingBackend::new(MemoryBackend::new()));
/// // hand `backend.clone()` to the builder, then:
/// assert_eq!(backend.counts().round_trips(), 0);
/// ```
#[derive(Debug)]
pub struct CountingBackend<B> {
    inner: B,
    loads: AtomicUsize,
    commits: AtomicUsize,
    deletes_expired: AtomicUsize,
    owner_calls: AtomicUsize,
    batches: Mutex<Vec<Batch>>,
}

impl<B> CountingBackend<B> {
    /// Wraps `inner`.
    pub fn new(inner: B) -> Self {
        CountingBackend {
            inner,
            loads: AtomicUsize::new(0),
            commits: AtomicUsize::new(0),
            deletes_expired: AtomicUsize::new(0),
            owner_calls: AtomicUsize::new(0),
            batches: Mutex::default(),
        }
    }

    /// The wrapped backend.
    pub fn inner(&self) -> &B {
        &self.inner
    }

    /// The calls so far.
    pub fn counts(&self) -> Counts {
        Counts {
            loads: self.loads.load(Ordering::SeqCst),
            commits: self.commits.load(Ordering::SeqCst),
            deletes_expired: self.deletes_expired.load(Ordering::SeqCst),
            owner_calls: self.owner_calls.load(Ordering::SeqCst),
        }
    }

    /// Every batch committed so far, oldest first.
    pub fn batches(&self) -> Vec<Batch> {
        self.log().clone()
    }

    /// The most recent batch committed.
    pub fn last_batch(&self) -> Option<Batch> {
        self.log().last().cloned()
    }

    /// Sets the counts back to zero and forgets the batches.
    pub fn reset(&self) {
        self.loads.store(0, Ordering::SeqCst);
        self.commits.store(0, Ordering::SeqCst);
        self.deletes_expired.store(0, Ordering::SeqCst);
        self.owner_calls.store(0, Ordering::SeqCst);
        self.log().clear();
    }

    fn log(&self) -> MutexGuard<'_, Vec<Batch>> {
        self.batches.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl<B: Backend> Backend for CountingBackend<B> {
    async fn load(&self, ids: &[SessionId]) -> Result<Vec<Option<Record>>, BackendError> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        self.inner.load(ids).await
    }

    async fn commit(&self, batch: &Batch) -> Result<(), BackendError> {
        self.commits.fetch_add(1, Ordering::SeqCst);
        self.log().push(batch.clone());
        self.inner.commit(batch).await
    }

    async fn delete_expired(&self) -> Result<u64, BackendError> {
        self.deletes_expired.fetch_add(1, Ordering::SeqCst);
        self.inner.delete_expired().await
    }

    fn subscribe(&self, revocations: &Arc<Revocations>) -> bool {
        self.inner.subscribe(revocations)
    }

    fn follow_changes(&self, cache: &Arc<NearCache>) -> bool {
        self.inner.follow_changes(cache)
    }

    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn owner_index(&self) -> bool {
        self.inner.owner_index()
    }

    async fn sessions_of(&self, owner: &Owner, now: u64) -> Result<Vec<OwnedRecord>, BackendError> {
        self.owner_calls.fetch_add(1, Ordering::SeqCst);
        self.inner.sessions_of(owner, now).await
    }

    async fn end_sessions_of(
        &self,
        owner: &Owner,
        except: &[SessionId],
    ) -> Result<u64, BackendError> {
        self.owner_calls.fetch_add(1, Ordering::SeqCst);
        self.inner.end_sessions_of(owner, except).await
    }
}
