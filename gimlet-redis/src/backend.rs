//! `RedisBackend`: the `Backend` trait on a deadpool-redis pool.

use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use deadpool_redis::redis::{self, Script};
use deadpool_redis::{Pool, PoolConfig, cluster, sentinel};
use gimlet_core::SessionId;
use gimlet_core::backend::{
    Backend, BackendError, BackendErrorKind, Batch, NearCache, Op, OwnedRecord, Owner, Record,
    Revocations,
};

use crate::connection::{Connection, Pools, redis_error};
use crate::script::{self, Outcome, SENTINEL};
use crate::url::Target;

/// The default key prefix.
pub const DEFAULT_PREFIX: &str = "gimlet:";

/// The default timeout of each operation, pool acquisition included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// How many multiplexed connections the backend shares by default.
pub const DEFAULT_CONNECTIONS: usize = 1;

/// A Gimlet backend on Redis: one server, Redis Cluster, or a primary
/// found through Sentinel, over TCP or TLS.
///
/// Each channel is one hash, `{prefix}{{group}}{rest of the id in hex}`,
/// holding the channel's server-side keys as fields (plus a sentinel field
/// `""`) and expiring by itself through `PEXPIREAT`. The braces make the
/// id's group ([`SessionId::group`]) the key's hash tag, so every record of
/// one session lives in one hash slot of a cluster. An owner's index
/// (`Session::set_owner`) is a sorted set, `{prefix}{{group}}owner:{owner}`,
/// in the slot of the owner's group, which every id of its sessions
/// shares. A load is one
/// pipelined round trip of `HGETALL`s; a commit is one `EVALSHA` of a
/// script that checks and applies the whole batch atomically.
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
    pool: Pools,
    prefix: String,
    timeout: Duration,
    script: Script,
    /// How many seconds of endings the revocation stream keeps: the
    /// longest revalidation window of the Gimlets subscribed here, and at
    /// least an hour.
    retention: Arc<AtomicU64>,
    /// The connections in use, shared by every call until they fail. Each
    /// was taken out of the pool for good, so they are distinct.
    shared: Arc<[Slot]>,
    next: Arc<AtomicUsize>,
    /// What the URL named, for the near caches' subscription (`None` on
    /// the application's own pool).
    target: Option<Arc<Target>>,
    /// The channel every commit publishes its changes on: the prefix and
    /// `changed`.
    changes: Arc<str>,
}

impl std::fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBackend")
            .field("topology", &self.pool.describe())
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl RedisBackend {
    /// A backend on a pool the application built for one server. Its own
    /// timeouts apply to acquiring connections; [`RedisBackend::timeout`]
    /// bounds each whole operation as well.
    pub fn new(pool: Pool) -> Self {
        Self::on(Pools::Server(pool))
    }

    /// A backend on a Redis Cluster pool the application built.
    pub fn from_cluster_pool(pool: cluster::Pool) -> Self {
        Self::on(Pools::Cluster(pool))
    }

    /// A backend on a pool of the primary a Sentinel names, built by the
    /// application.
    pub fn from_sentinel_pool(pool: sentinel::Pool) -> Self {
        Self::on(Pools::Sentinel(pool))
    }

    fn on(pool: Pools) -> Self {
        RedisBackend {
            pool,
            prefix: DEFAULT_PREFIX.to_owned(),
            timeout: DEFAULT_TIMEOUT,
            script: script::script(),
            retention: Arc::new(AtomicU64::new(gimlet_core::backend::feed::MIN_RETENTION)),
            shared: Self::slots(DEFAULT_CONNECTIONS),
            next: Arc::default(),
            target: None,
            changes: crate::changes::channel(DEFAULT_PREFIX),
        }
    }

    /// A backend with a pool of its own on `url`, whose waits, connects and
    /// recycles time out after [`DEFAULT_TIMEOUT`]. No connection is made
    /// until the first use. The URL is one of:
    ///
    /// - `redis://[user:password@]host:port/db`: one server;
    ///   `rediss://…` over TLS (rustls, the system's root certificates; a
    ///   `#insecure` fragment skips the certificate check, for test
    ///   certificates only). A TLS URL installs *ring* as rustls's
    ///   process-wide crypto provider unless one is installed already:
    ///   an application that wants another installs it first;
    /// - `redis+cluster://host:port[,host:port…]`: Redis Cluster, from any
    ///   of its nodes (`rediss+cluster://…` over TLS);
    /// - `redis+sentinel://host:port[,host:port…]/service_name[/db]`: the
    ///   primary that these sentinels name for the service, followed
    ///   through failovers (credentials in the URL are the data nodes';
    ///   `rediss+sentinel://…` reaches the data nodes over TLS).
    ///
    /// # Errors
    ///
    /// A URL that does not parse; the error does not repeat the URL.
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
        let mut backend = Self::on(Pools::from_url(url, timeout, max_size)?).timeout(timeout);
        backend.target = Target::parse(url).ok().map(Arc::new);
        Ok(backend)
    }

    /// The prefix of every key (default `gimlet:`).
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self.changes = crate::changes::channel(&self.prefix);
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

    /// How many multiplexed connections to share between requests, in turn
    /// (default 1, at least 1). On the 2-core machine of `docs/benchmarks.md`
    /// four were slower than one; more cores may favour more.
    #[must_use]
    pub fn connections(mut self, n: usize) -> Self {
        self.shared = Self::slots(n.max(1));
        self
    }

    fn slots(n: usize) -> Arc<[Slot]> {
        (0..n).map(|_| Slot::default()).collect()
    }

    /// One of the connections the backend shares, for commands of the
    /// application's own (a cluster connection routes each command by its
    /// key). On one server from [`RedisBackend::from_url`], its replies are
    /// not bounded by a timer of redis-rs's: bound your own commands (the
    /// backend's calls are, by [`RedisBackend::timeout`]).
    ///
    /// # Errors
    ///
    /// No connection could be made within the timeout.
    pub async fn connection(&self) -> Result<Connection, BackendError> {
        self.timed(|conn| async move { Ok(conn) }).await
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
        for _ in 0..self.shared.len().min(self.pool.max_size()) {
            self.timed(|mut conn| async move {
                redis::cmd("PING")
                    .query_async::<()>(&mut conn)
                    .await
                    .map_err(redis_error)
            })
            .await?;
        }
        Ok(())
    }

    /// The Redis key of a channel's hash: the prefix, the id's group in
    /// braces (the hash tag: one slot for a session's records), then the
    /// rest of the id in hex.
    ///
    /// The group's four nibbles are written as the letters `@`, `A` … `O`
    /// (`0x40` + nibble), not as hex digits. Redis picks a slot with CRC16,
    /// which is linear: over tags whose characters differ only in their low
    /// four bits, exactly four of the 65,536 groups land in each of the
    /// 16,384 slots. Hex digits (`0`-`9` are `0x3_`, `a`-`f` are `0x6_`)
    /// would leave a fifth of the slots without a single session.
    pub fn key(&self, id: &SessionId) -> String {
        String::from_utf8(self.key_bytes(id)).unwrap_or_default()
    }

    /// [`RedisBackend::key`] as bytes, as loads and commits send it: one
    /// allocation, the key's own, and no pass to check it is text.
    pub(crate) fn key_bytes(&self, id: &SessionId) -> Vec<u8> {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut key = self.tagged_bytes(id.group(), 28);
        for byte in &id.as_bytes()[2..] {
            key.extend([HEX[usize::from(byte >> 4)], HEX[usize::from(byte & 15)]]);
        }
        key
    }

    pub(crate) fn pools(&self) -> &Pools {
        &self.pool
    }

    /// What the URL named, if the backend was built from one.
    pub(crate) fn target(&self) -> Option<Arc<Target>> {
        self.target.clone()
    }

    /// The channel every commit publishes its changes on.
    pub(crate) fn changes_channel(&self) -> &str {
        &self.changes
    }

    /// The bound on each call.
    pub(crate) fn timeout_limit(&self) -> Duration {
        self.timeout
    }

    /// How many seconds of endings the revocation stream keeps.
    pub(crate) fn retention_cell(&self) -> &AtomicU64 {
        &self.retention
    }

    /// The prefix of every key, before its hash tag.
    pub(crate) fn key_prefix(&self) -> &str {
        &self.prefix
    }

    /// The prefix and `group`'s hash tag, with room for `rest` more bytes.
    pub(crate) fn tagged(&self, group: [u8; 2], rest: usize) -> String {
        String::from_utf8(self.tagged_bytes(group, rest)).unwrap_or_default()
    }

    /// [`RedisBackend::tagged`] as bytes.
    fn tagged_bytes(&self, group: [u8; 2], rest: usize) -> Vec<u8> {
        let [high, low] = group;
        let mut key = Vec::with_capacity(self.prefix.len() + 6 + rest);
        key.extend_from_slice(self.prefix.as_bytes());
        key.push(b'{');
        key.extend([high >> 4, high & 15, low >> 4, low & 15].map(|nibble| 0x40 | nibble));
        key.push(b'}');
        key
    }

    fn slot(&self, index: usize) -> std::sync::MutexGuard<'_, Option<Connection>> {
        self.shared[index]
            .conn
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// The next shared connection, or a fresh one from the pool in its
    /// slot. Answers the slot too, to retire it if it fails.
    async fn shared(&self) -> Result<(usize, Connection), BackendError> {
        // Never more slots than the pool has connections.
        let slots = self.shared.len().min(self.pool.max_size().max(1));
        let index = self.next.fetch_add(1, Ordering::Relaxed) % slots;
        if let Some(conn) = self.slot(index).clone() {
            return Ok((index, conn));
        }
        // One call fills an empty slot; the others wait for its connection
        // rather than each opening one (a TLS cluster connection takes a
        // handshake per node).
        let _filling = self.shared[index].filling.lock().await;
        if let Some(conn) = self.slot(index).clone() {
            return Ok((index, conn));
        }
        // Boxed: opening a connection (a cluster's above all) is a large
        // future, and inline it would make every call's future as large,
        // copied in full on every load and commit. This path is rare.
        let conn = Box::pin(self.pool.take()).await?;
        *self.slot(index) = Some(conn.clone());
        Ok((index, conn))
    }

    /// Runs `operation` on a shared connection under the timeout. A failure
    /// that may have broken the connection retires it.
    pub(crate) async fn timed<T, F, Fut>(&self, operation: F) -> Result<T, BackendError>
    where
        F: FnOnce(Connection) -> Fut,
        Fut: Future<Output = Result<T, BackendError>>,
    {
        let mut slot = None;
        let work = async {
            let (index, conn) = self.shared().await?;
            slot = Some(index);
            operation(conn).await
        };
        let result = gimlet_core::backend::with_timeout(self.timeout, work).await;
        if let (Err(e), Some(index)) = (&result, slot)
            && matches!(
                e.kind(),
                BackendErrorKind::Unavailable | BackendErrorKind::Timeout
            )
        {
            self.slot(index).take();
        }
        result
    }
}

impl RedisBackend {
    /// Applies `batch` with one `EVALSHA` of the commit script.
    async fn run_script(&self, batch: &Batch) -> Result<(), BackendError> {
        if batch.is_empty() {
            return Ok(());
        }
        self.timed(|mut conn| async move {
            let stream = self.script_stream();
            let feed = stream.as_deref().map(|s| (s, self.retention()));
            let (keys, args) = script::arguments(
                batch,
                |id| self.key(id),
                |owner| self.index_key(owner),
                feed,
                self.changes_channel(),
            );
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
                Some(Outcome::Changed) => Err(BackendError::changed()),
                None => Err(BackendError::from_kind(BackendErrorKind::Corrupt)),
            }
        })
        .await
    }
}

/// Whether the batch's ids are in more than one group.
fn spans_groups(batch: &Batch) -> bool {
    let mut groups = batch.ops.iter().map(|op| op.id().group());
    let first = groups.next();
    groups.any(|g| Some(g) != first)
}

/// The ops in the group of the batch's first write, and the others.
fn split_by_group(batch: &Batch) -> (Batch, Batch) {
    let group = batch
        .ops
        .iter()
        .find(|op| matches!(op, Op::Write(_)))
        .or(batch.ops.first())
        .map(|op| op.id().group());
    let (rest, moved) = batch
        .ops
        .iter()
        .cloned()
        .partition(|op| Some(op.id().group()) == group);
    (Batch { ops: rest }, Batch { ops: moved })
}

/// A connection shared between calls, and the lock that lets one call at
/// a time fill it when it is empty.
#[derive(Default)]
struct Slot {
    conn: Mutex<Option<Connection>>,
    filling: tokio::sync::Mutex<()>,
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
        self.timed(|mut conn| async move {
            if let [id] = ids {
                // One channel, the usual case: a bare command, whose reply
                // parses without a pipeline's enclosing array.
                let fields: Vec<(Vec<u8>, Vec<u8>)> = redis::cmd("HGETALL")
                    .arg(self.key_bytes(id))
                    .query_async(&mut conn)
                    .await
                    .map_err(redis_error)?;
                return Ok(vec![record(fields)]);
            }
            let mut pipe = redis::pipe();
            for id in ids {
                pipe.cmd("HGETALL").arg(self.key_bytes(id));
            }
            let replies: Vec<Vec<(Vec<u8>, Vec<u8>)>> =
                pipe.query_async(&mut conn).await.map_err(redis_error)?;
            Ok(replies.into_iter().map(record).collect())
        })
        .await
    }

    async fn commit(&self, batch: &Batch) -> Result<(), BackendError> {
        match self.pool {
            // A login that moved a session to its owner's group retires
            // the old ids, in another slot: first, so that an old record
            // gone refuses the login before anything is written under the
            // new ids (see `Batch`).
            Pools::Cluster(_) => {
                if spans_groups(batch) {
                    let (rest, moved) = split_by_group(batch);
                    self.run_script(&moved).await?;
                    self.run_script(&rest).await?;
                } else {
                    self.run_script(batch).await?;
                }
                // The stream is in a slot of its own: its entry follows.
                let ended: Vec<SessionId> = batch.ended().collect();
                self.publish(&ended).await
            }
            _ => self.run_script(batch).await,
        }
    }

    fn name(&self) -> &'static str {
        "redis"
    }

    fn subscribe(&self, revocations: &Arc<Revocations>) -> bool {
        self.follow(revocations)
    }

    fn follow_changes(&self, cache: &Arc<NearCache>) -> bool {
        self.follow_changes_on(cache)
    }

    fn owner_index(&self) -> bool {
        true
    }

    async fn sessions_of(&self, owner: &Owner, now: u64) -> Result<Vec<OwnedRecord>, BackendError> {
        self.owned(owner, now).await
    }

    async fn end_sessions_of(
        &self,
        owner: &Owner,
        except: &[SessionId],
    ) -> Result<u64, BackendError> {
        self.end_owned(owner, except).await
    }
}
