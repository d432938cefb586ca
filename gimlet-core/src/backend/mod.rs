//! The storage interface: loads of whole channels, commits of change sets.
//!
//! A backend never sees a whole session. It loads the server data of one or
//! two channel ids in one round trip, and it applies a [`Batch`] of per-channel
//! changes atomically, in one round trip or one transaction. That is what makes
//! Gimlet's I/O rules hold on every store.

#[cfg(feature = "testing")]
pub(crate) mod counting;
mod error;
pub(crate) mod memory;
mod owner;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

pub use error::{BackendError, BackendErrorKind};
pub use owner::{OwnedRecord, Owner, Ownership};

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

use crate::SessionId;

/// The server data of one channel: keys to MessagePack-encoded values.
pub type Record = HashMap<String, Vec<u8>>;

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
    /// [`WriteMode::Create`] finds a live record, and [`BackendErrorKind::Gone`]
    /// when a [`WriteMode::Update`] finds none. Either way nothing is applied.
    async fn commit(&self, batch: &Batch) -> Result<(), BackendError>;

    /// Deletes expired records and answers how many went. Stores that expire
    /// records by themselves answer `Ok(0)`.
    async fn delete_expired(&self) -> Result<u64, BackendError> {
        Ok(0)
    }

    /// A short name for the store (`redis`, `postgres` …), for the
    /// `backend` field of the `gimlet.session` tracing span. No address,
    /// no credentials.
    fn name(&self) -> &'static str {
        "custom"
    }

    /// Whether the store keeps the owner index: it records the
    /// [`Write::owner`] of its writes, and implements
    /// [`sessions_of`](Backend::sessions_of) and
    /// [`end_sessions_of`](Backend::end_sessions_of). A store that does not
    /// answers `false`, and `Session::set_owner` refuses to run on it.
    fn owner_index(&self) -> bool {
        false
    }

    /// The live records whose writes carried `owner`'s [`Ownership`], in
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

/// The changes of one commit, for one or two channels. No id appears twice,
/// and every id is in the same group ([`SessionId::group`]), but for one
/// case: when `Session::set_owner` moves a session into its owner's group,
/// the [`Op::Delete`]s of its old ids are in the old group. A store that
/// shards by group applies the rest first, then those deletes (the Redis
/// backend does, on Redis Cluster): a failure between the two leaves the
/// old records to expire, and loses nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    /// The operations, applied all or none.
    pub ops: Vec<Op>,
}

impl Batch {
    /// Whether there is nothing to apply.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// One operation of a [`Batch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Change some keys of a record, and set its expiry.
    Write(Write),
    /// Delete a record, if it exists (logout, or the old id after a cycle).
    Delete(SessionId),
}

/// How a [`Write`] treats a record that does or does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// The id was just generated: a live record with it is a collision.
    Create,
    /// The id came from a verified cookie whose channel has no record yet:
    /// create the record, or change it if a concurrent request created it.
    Upsert,
    /// The record must exist; if it is gone (deleted by a concurrent logout,
    /// or expired) the batch fails with [`BackendErrorKind::Gone`] rather than
    /// bring the session back.
    Update,
}

/// Changes to one channel's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    /// The channel id.
    pub id: SessionId,
    /// What to do when the record exists, or does not.
    pub mode: WriteMode,
    /// Delete every key before applying `set`.
    pub clear: bool,
    /// Keys to set, with their MessagePack-encoded values.
    pub set: Vec<(String, Vec<u8>)>,
    /// Keys to delete.
    pub remove: Vec<String>,
    /// New expiry of the record, in Unix seconds.
    pub expires_at: u64,
    /// Record in the owner index that this record belongs to an owner
    /// (stores with [`Backend::owner_index`]; others ignore it). Set on the
    /// write that creates an owned session's record.
    pub owner: Option<Ownership>,
}

impl Write {
    /// A write that only renews the expiry of an existing record.
    pub fn touch(id: SessionId, expires_at: u64) -> Self {
        Write {
            id,
            mode: WriteMode::Update,
            clear: false,
            set: Vec::new(),
            remove: Vec::new(),
            expires_at,
            owner: None,
        }
    }
}
