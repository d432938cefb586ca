//! A store as an app server sees it when it cannot hear the store's
//! endings: for tests of what the revalidation window alone does, and of
//! I/O counts that must not depend on a feed catching up.

use async_trait::async_trait;

use crate::SessionId;
use crate::backend::{Backend, BackendError, Batch, OwnedRecord, Owner, Record};

/// `B` with [`Backend::subscribe`] answering `false`; every other call goes
/// through.
#[derive(Debug)]
pub struct WithoutFeed<B>(pub B);

#[async_trait]
impl<B: Backend> Backend for WithoutFeed<B> {
    async fn load(&self, ids: &[SessionId]) -> Result<Vec<Option<Record>>, BackendError> {
        self.0.load(ids).await
    }

    async fn commit(&self, batch: &Batch) -> Result<(), BackendError> {
        self.0.commit(batch).await
    }

    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn owner_index(&self) -> bool {
        self.0.owner_index()
    }

    async fn sessions_of(&self, owner: &Owner, now: u64) -> Result<Vec<OwnedRecord>, BackendError> {
        self.0.sessions_of(owner, now).await
    }

    async fn end_sessions_of(
        &self,
        owner: &Owner,
        except: &[SessionId],
    ) -> Result<u64, BackendError> {
        self.0.end_sessions_of(owner, except).await
    }
}
