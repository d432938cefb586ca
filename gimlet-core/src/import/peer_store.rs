//! The store a peer kept its sessions in, as an import reads it.

use std::fmt;

use async_trait::async_trait;

use crate::backend::BackendError;

/// A peer's session store, read by key: `gimlet-redis` and `gimlet-sql`
/// implement it for the stores tower-sessions and actix-session use.
///
/// Each method is one round trip, bounded by the store's timeout like a
/// [`Backend`](crate::backend::Backend)'s calls.
#[async_trait]
pub trait PeerStore: Send + Sync + fmt::Debug + 'static {
    /// The bytes the peer stored under `key`, or `None` if there are none
    /// (expired ones included, where the store says so).
    async fn load(&self, key: &str) -> Result<Option<Vec<u8>>, BackendError>;

    /// Deletes what the peer stored under `key`.
    async fn delete(&self, key: &str) -> Result<(), BackendError>;
}
