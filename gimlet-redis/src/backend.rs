//! `RedisBackend`: the `Backend` trait on a deadpool-redis pool.

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use deadpool_redis::redis::aio::MultiplexedConnection;
use deadpool_redis::redis::{self, Script};
use deadpool_redis::{Config, Pool, PoolConfig, PoolError, Runtime, Timeouts};
use gimlet_core::SessionId;
use gimlet_core::backend::{Backend, BackendError, BackendErrorKind, Batch, Record};

use crate::script::{self, Outcome, SENTINEL};

/// The default key prefix.
pub const DEFAULT_PREFIX: &str = "gimlet:";

/// The default timeout of each operation, pool acquisition included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// A Gimlet backend on Redis.
///
/// Each channel is one hash, `{prefix}{id in hex}`, holding the channel's
/// server-side keys as fields (plus a sentinel field `""`) and expiring by
/// itself through `PEXPIREAT`. A load is one pipelined round trip of
/// `HGETALL`s; a commit is one `EVALSHA` of a script that checks and
/// applies the whole batch atomically.
///
/// # Example
///
/// ```no_run
/// use gimlet_core::Gimlet;
/// use gimlet_redis::RedisBackend;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let backend = RedisBackend::from_url("redis://127.0.0.1:6379")?
///     .prefix("myapp:session:");
/// let gimlet = Gimlet::builder()
///     .secret(std::env::var("GIMLET_SECRET")?)
///     .backend(backend)
///     .build()?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisBackend {
    pool: Pool,
    prefix: String,
    timeout: Duration,
    script: Script,
    /// The connection in use, shared by every call until it fails.
    shared: Arc<Mutex<Option<MultiplexedConnection>>>,
}

impl std::fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBackend")
            .field("pool", &self.pool.status())
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl RedisBackend {
    /// A backend on a pool the application built. Its own timeouts apply
    /// to acquiring connections; [`RedisBackend::timeout`] bounds each whole
    /// operation as well.
    pub fn new(pool: Pool) -> Self {
        RedisBackend {
            pool,
            prefix: DEFAULT_PREFIX.to_owned(),
            timeout: DEFAULT_TIMEOUT,
            script: script::script(),
            shared: Arc::default(),
        }
    }

    /// A backend with a pool of its own on `url` (`redis://host:port/db`),
    /// whose waits, connects and recycles time out after
    /// [`DEFAULT_TIMEOUT`]. No connection is made until the first use.
    ///
    /// # Errors
    ///
    /// A URL that does not parse.
    pub fn from_url(url: &str) -> Result<Self, BackendError> {
        Self::from_url_with(url, DEFAULT_TIMEOUT, PoolConfig::default().max_size)
    }

    /// Like [`RedisBackend::from_url`], with a timeout and a pool size.
    ///
    /// # Errors
    ///
    /// A URL that does not parse.
    pub fn from_url_with(
        url: &str,
        timeout: Duration,
        max_size: usize,
    ) -> Result<Self, BackendError> {
        let mut config = Config::from_url(url);
        config.pool = Some(PoolConfig {
            max_size,
            timeouts: Timeouts {
                wait: Some(timeout),
                create: Some(timeout),
                recycle: Some(timeout),
            },
            ..PoolConfig::default()
        });
        let pool = config
            .create_pool(Some(Runtime::Tokio1))
            .map_err(|e| BackendError::new(BackendErrorKind::Other, e))?;
        Ok(Self::new(pool).timeout(timeout))
    }

    /// The prefix of every key (default `gimlet:`).
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The longest a load or a commit may take, waiting for a pooled
    /// connection included (default 2 s). Past it, the call fails with a
    /// `Timeout` error; keep it shorter than your request timeout.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The pool.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Connects now and checks that the server answers (`PING`), instead of
    /// at the first load or commit. Call it at startup to fail fast.
    ///
    /// The shared connection's I/O is then driven by the runtime this is
    /// called from. On actix-web, whose workers each run a single-threaded
    /// runtime, calling it before the server starts keeps one busy worker
    /// from delaying every other worker's Redis replies.
    ///
    /// # Errors
    ///
    /// The server cannot be reached, or does not answer in time.
    pub async fn connect(&self) -> Result<(), BackendError> {
        self.timed(async {
            let mut conn = self.connection().await?;
            redis::cmd("PING")
                .query_async::<()>(&mut conn)
                .await
                .map_err(redis_error)
        })
        .await
    }

    /// The Redis key of a channel's hash.
    pub fn key(&self, id: &SessionId) -> String {
        format!("{}{id}", self.prefix)
    }

    fn shared(&self) -> MutexGuard<'_, Option<MultiplexedConnection>> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The shared connection, or a fresh one from the pool.
    async fn connection(&self) -> Result<MultiplexedConnection, BackendError> {
        if let Some(conn) = self.shared().clone() {
            return Ok(conn);
        }
        let pooled = self.pool.get().await.map_err(pool_error)?;
        let conn: MultiplexedConnection = (*pooled).clone();
        *self.shared() = Some(conn.clone());
        Ok(conn)
    }

    /// Runs `operation` under the timeout. A failure that may have broken
    /// the connection retires it.
    async fn timed<T>(
        &self,
        operation: impl Future<Output = Result<T, BackendError>>,
    ) -> Result<T, BackendError> {
        let result = match tokio::time::timeout(self.timeout, operation).await {
            Ok(result) => result,
            Err(elapsed) => Err(BackendError::new(BackendErrorKind::Timeout, elapsed)),
        };
        if let Err(e) = &result
            && matches!(
                e.kind(),
                BackendErrorKind::Unavailable | BackendErrorKind::Timeout
            )
        {
            self.shared().take();
        }
        result
    }
}

fn pool_error(error: PoolError) -> BackendError {
    let kind = match &error {
        PoolError::Timeout(_) => BackendErrorKind::Timeout,
        PoolError::Backend(e) => return redis_error(e.clone()),
        _ => BackendErrorKind::Unavailable,
    };
    BackendError::new(kind, error)
}

fn redis_error(error: redis::RedisError) -> BackendError {
    let kind = if error.is_timeout() {
        BackendErrorKind::Timeout
    } else if error.is_io_error() || error.is_connection_refusal() || error.is_connection_dropped()
    {
        BackendErrorKind::Unavailable
    } else {
        BackendErrorKind::Other
    };
    BackendError::new(kind, error)
}

/// A record from an `HGETALL` reply: `None` without the sentinel field.
fn record(fields: Vec<(Vec<u8>, Vec<u8>)>) -> Option<Record> {
    let mut record = Record::with_capacity(fields.len().saturating_sub(1));
    let mut exists = false;
    for (field, value) in fields {
        if field == SENTINEL {
            exists = true;
            continue;
        }
        match String::from_utf8(field) {
            Ok(key) => {
                record.insert(key, value);
            }
            Err(_) => tracing::warn!("skipping a session field that is not UTF-8"),
        }
    }
    exists.then_some(record)
}

#[async_trait]
impl Backend for RedisBackend {
    async fn load(&self, ids: &[SessionId]) -> Result<Vec<Option<Record>>, BackendError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        self.timed(async {
            let mut conn = self.connection().await?;
            let mut pipe = redis::pipe();
            for id in ids {
                pipe.cmd("HGETALL").arg(self.key(id));
            }
            let replies: Vec<Vec<(Vec<u8>, Vec<u8>)>> =
                pipe.query_async(&mut conn).await.map_err(redis_error)?;
            Ok(replies.into_iter().map(record).collect())
        })
        .await
    }

    async fn commit(&self, batch: &Batch) -> Result<(), BackendError> {
        if batch.is_empty() {
            return Ok(());
        }
        self.timed(async {
            let mut conn = self.connection().await?;
            let (keys, args) = script::arguments(batch, |id| self.key(id));
            let mut invocation = self.script.prepare_invoke();
            for key in &keys {
                invocation.key(key);
            }
            for arg in &args {
                invocation.arg(arg.as_slice());
            }
            let reply: String = invocation
                .invoke_async(&mut conn)
                .await
                .map_err(redis_error)?;
            match Outcome::parse(&reply) {
                Some(Outcome::Applied) => Ok(()),
                Some(Outcome::Collision) => Err(BackendError::collision()),
                Some(Outcome::Gone) => Err(BackendError::gone()),
                None => Err(BackendError::from_kind(BackendErrorKind::Corrupt)),
            }
        })
        .await
    }
}
