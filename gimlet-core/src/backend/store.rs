//! The `Backend` trait: what a store does, one round trip a call, and the
//! time bound every call runs under.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use super::{Batch, NearCache, OwnedRecord, Owner, Record, Revocations};
use crate::SessionId;
use crate::error::{BackendError, BackendErrorKind};

/// Runs one backend call under a time bound: past `limit`, the call is
/// dropped and the answer is a [`BackendErrorKind::Timeout`] error (a 503
/// through an adapter). Every backend bounds its calls this way, so that
/// no request waits on a store past its timeout.
///
/// # Errors
///
/// The call's own error, or `Timeout`.
pub async fn with_timeout<T>(
    limit: std::time::Duration,
    call: impl std::future::Future<Output = Result<T, BackendError>>,
) -> Result<T, BackendError> {
    match tokio::time::timeout(limit, call).await {
        Ok(result) => result,
        Err(elapsed) => Err(BackendError::new(BackendErrorKind::Timeout, elapsed)),
    }
}

/// A session store.
///
/// Every method is one round trip to the store (one transaction on SQL):
/// Gimlet's I/O rules count calls to these methods. The conformance suite
/// (`gimlet_core::conformance`, feature `testing`) checks an
/// implementation against this contract.
///
/// The ids of one call belong to one session, and Gimlet generates all of a
/// session's ids in one group ([`SessionId::group`]): a store that shards
/// by key can place a group on one shard, and so keep each call one atomic
/// round trip to one node (the Redis backend does this on Redis Cluster).
/// An owned session's ids are in its owner's group ([`Owner::group`]), so
/// an owner's index can live on the shard of its sessions; see [`Batch`]
/// for the one batch that spans two groups.
#[async_trait]
pub trait Backend: Send + Sync + fmt::Debug + 'static {
    /// Loads the records of `ids`, in the same order. A record that does not
    /// exist, or has expired, is `None`.
    async fn load(&self, ids: &[SessionId]) -> Result<Vec<Option<Record>>, BackendError>;

    /// Applies every operation of `batch`, or none of them.
    ///
    /// # Errors
    ///
    /// Besides store failures: [`BackendErrorKind::Collision`] when a
    /// [`WriteMode::Create`](crate::backend::WriteMode::Create) finds a live record, and [`BackendErrorKind::Gone`]
    /// when a [`WriteMode::Update`](crate::backend::WriteMode::Update) finds none. Either way nothing is applied.
    async fn commit(&self, batch: &Batch) -> Result<(), BackendError>;

    /// Deletes expired records and answers how many went. Stores that expire
    /// records by themselves answer `Ok(0)`.
    async fn delete_expired(&self) -> Result<u64, BackendError> {
        Ok(0)
    }

    /// Starts delivering to `revocations` the records that every app server
    /// sharing this store ends: the ids that its commits delete
    /// ([`Op::Delete`](crate::backend::Op::Delete), [`Op::Retire`](crate::backend::Op::Retire)) and that
    /// [`end_sessions_of`](Backend::end_sessions_of) deletes, as they
    /// happen, for as long as `revocations` lives. Answers whether it
    /// does: a store that cannot answers `false` (the default), and its
    /// copied cookies stop working within the revalidation window only.
    ///
    /// A store that answers `true` calls [`Revocations::feed_down`] while
    /// it may be missing endings (a lost connection, before it has caught
    /// up), and [`Revocations::feed_up`] once it is whole again: in
    /// between, every cookie is checked on use.
    fn subscribe(&self, revocations: &Arc<Revocations>) -> bool {
        let _ = revocations;
        false
    }

    /// Starts telling `cache` ([`NearCache::changed`]) the ids whose
    /// records every app server sharing this store changes or deletes:
    /// every [`Op`](crate::backend::Op) of every commit, and what
    /// [`end_sessions_of`](Backend::end_sessions_of) deletes, as they
    /// happen, for as long as `cache` lives. Answers whether it does: a
    /// store that cannot answers `false` (the default), and Gimlet refuses
    /// a near cache over it.
    ///
    /// A store that answers `true` calls [`NearCache::feed_up`] once it
    /// delivers every change, and [`NearCache::feed_down`] as soon as it
    /// may miss one (a lost connection): the cache serves nothing
    /// meanwhile.
    fn follow_changes(&self, cache: &Arc<NearCache>) -> bool {
        let _ = cache;
        false
    }

    /// A short name for the store (`redis`, `postgres` …), for the
    /// `backend` field of the `gimlet.session` tracing span. No address,
    /// no credentials.
    fn name(&self) -> &'static str {
        "custom"
    }

    /// Whether the store keeps the owner index: it records the
    /// [`Write::owner`](crate::backend::Write::owner) of its writes, and implements
    /// [`sessions_of`](Backend::sessions_of) and
    /// [`end_sessions_of`](Backend::end_sessions_of). A store that does not
    /// answers `false`, and `Session::set_owner` refuses to run on it.
    fn owner_index(&self) -> bool {
        false
    }

    /// The live records whose writes carried `owner`'s [`Ownership`](crate::backend::Ownership), in
    /// one round trip (or a few, on a sharded store). Entries whose record
    /// is gone are left out, and may be dropped from the index.
    async fn sessions_of(&self, owner: &Owner, now: u64) -> Result<Vec<OwnedRecord>, BackendError> {
        let _ = (owner, now);
        Err(BackendError::from_kind(BackendErrorKind::Unsupported))
    }

    /// Deletes every record of `owner` but those in `except`, drops them
    /// from the index, and answers how many live records went.
    async fn end_sessions_of(
        &self,
        owner: &Owner,
        except: &[SessionId],
    ) -> Result<u64, BackendError> {
        let _ = (owner, except);
        Err(BackendError::from_kind(BackendErrorKind::Unsupported))
    }
}

#[async_trait]
impl<B: Backend + ?Sized> Backend for Arc<B> {
    async fn load(&self, ids: &[SessionId]) -> Result<Vec<Option<Record>>, BackendError> {
        (**self).load(ids).await
    }

    async fn commit(&self, batch: &Batch) -> Result<(), BackendError> {
        (**self).commit(batch).await
    }

    async fn delete_expired(&self) -> Result<u64, BackendError> {
        (**self).delete_expired().await
    }

    fn name(&self) -> &'static str {
        (**self).name()
    }

    fn subscribe(&self, revocations: &Arc<Revocations>) -> bool {
        (**self).subscribe(revocations)
    }

    fn follow_changes(&self, cache: &Arc<NearCache>) -> bool {
        (**self).follow_changes(cache)
    }

    fn owner_index(&self) -> bool {
        (**self).owner_index()
    }

    async fn sessions_of(&self, owner: &Owner, now: u64) -> Result<Vec<OwnedRecord>, BackendError> {
        (**self).sessions_of(owner, now).await
    }

    async fn end_sessions_of(
        &self,
        owner: &Owner,
        except: &[SessionId],
    ) -> Result<u64, BackendError> {
        (**self).end_sessions_of(owner, except).await
    }
}
