//! A store with another browser tab that always wins: for tests of what
//! `Session::update` does when its compare-and-set keeps failing.

use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;

use crate::SessionId;
use crate::backend::{Backend, BackendError, Batch, Op, Record};

/// `B`, and a rival that, just before each commit that expects keys (a
/// [`Write::expect`](crate::backend::Write::expect)), writes each of them
/// to the next of `1000u32`, `1001u32`, … (MessagePack), so that the
/// expectation fails. Every other call goes through.
#[derive(Debug)]
pub struct Rival<B> {
    inner: B,
    commits: AtomicUsize,
}

impl<B> Rival<B> {
    /// A rival over `inner`.
    pub fn new(inner: B) -> Self {
        Rival {
            inner,
            commits: AtomicUsize::new(0),
        }
    }

    /// The commits that reached the store since the last reset.
    pub fn commits(&self) -> usize {
        self.commits.load(Ordering::Relaxed)
    }

    /// Starts counting commits (and the rival's values) from 0 again.
    pub fn reset(&self) {
        self.commits.store(0, Ordering::Relaxed);
    }
}

#[async_trait]
impl<B: Backend> Backend for Rival<B> {
    async fn load(&self, ids: &[SessionId]) -> Result<Vec<Option<Record>>, BackendError> {
        self.inner.load(ids).await
    }

    async fn commit(&self, batch: &Batch) -> Result<(), BackendError> {
        let value = 1000 + u32::try_from(self.commits()).unwrap_or(u32::MAX - 1000);
        let mut encoded = Vec::new();
        // Writing into a Vec cannot fail.
        let _ = rmp::encode::write_uint(&mut encoded, u64::from(value));
        for op in &batch.ops {
            if let Op::Write(write) = op
                && !write.expect.is_empty()
            {
                let mut rival = write.clone();
                rival.expect.clear();
                rival.remove.clear();
                rival.clear = false;
                rival.owner = None;
                rival.set = write
                    .expect
                    .iter()
                    .map(|(key, _)| (key.clone(), encoded.clone()))
                    .collect();
                let ops = vec![Op::Write(rival)];
                self.inner.commit(&Batch { ops }).await?;
            }
        }
        self.commits.fetch_add(1, Ordering::Relaxed);
        self.inner.commit(batch).await
    }

    fn name(&self) -> &'static str {
        self.inner.name()
    }
}
