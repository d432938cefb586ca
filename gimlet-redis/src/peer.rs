//! `RedisPeerStore`: another library's sessions in Redis, read for an
//! import.

use async_trait::async_trait;
use deadpool_redis::redis;
use gimlet_core::backend::BackendError;
use gimlet_core::import::PeerStore;

use crate::RedisBackend;
use crate::connection::redis_error;

/// The sessions tower-sessions-redis-store or actix-session's
/// `RedisSessionStore` kept in Redis, for a
/// [`gimlet_core::import::Import`]: each session is one string value
/// under its key (the session id, or actix-session's session key), which
/// the store expires itself.
///
/// A load is one `GET`, a delete one `DEL`, under the timeout of the
/// [`RedisBackend`] whose connections it uses.
///
/// ```no_run
/// use gimlet_core::import::Import;
/// use gimlet_redis::RedisPeerStore;
///
/// # fn main() -> Result<(), gimlet_core::backend::BackendError> {
/// let import = Import::tower_sessions(RedisPeerStore::from_url("redis://127.0.0.1:6379")?);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct RedisPeerStore {
    redis: RedisBackend,
    prefix: String,
}

impl RedisPeerStore {
    /// The peer's sessions on the Redis of `url`, any URL
    /// [`RedisBackend::from_url`] takes, with a pool of their own.
    ///
    /// # Errors
    ///
    /// A URL that does not parse.
    pub fn from_url(url: &str) -> Result<Self, BackendError> {
        Ok(Self::on(RedisBackend::from_url(url)?))
    }

    /// The peer's sessions on the Redis that `redis` reaches, through its
    /// connections and under its timeout: for a Gimlet whose own sessions
    /// live on the same Redis.
    pub fn on(redis: RedisBackend) -> Self {
        RedisPeerStore {
            redis,
            prefix: String::new(),
        }
    }

    /// A prefix the peer put before its keys (actix-session's
    /// `cache_keygen`); none by default, as both peers keep their
    /// sessions under the bare key.
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }
}

#[async_trait]
impl PeerStore for RedisPeerStore {
    async fn load(&self, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
        let key = format!("{}{key}", self.prefix);
        self.redis
            .timed(|mut conn| async move {
                redis::cmd("GET")
                    .arg(key)
                    .query_async::<Option<Vec<u8>>>(&mut conn)
                    .await
                    .map_err(redis_error)
            })
            .await
    }

    async fn delete(&self, key: &str) -> Result<(), BackendError> {
        let key = format!("{}{key}", self.prefix);
        self.redis
            .timed(|mut conn| async move {
                redis::cmd("DEL")
                    .arg(key)
                    .query_async::<()>(&mut conn)
                    .await
                    .map_err(redis_error)
            })
            .await
    }
}
