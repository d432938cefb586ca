//! `MemcachedBackend`: the servers, the ring over them, and loads.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::future::try_join_all;
use gimlet_core::SessionId;
use gimlet_core::backend::{
    Backend, BackendError, BackendErrorKind, Batch, Record, Revocations, with_timeout,
};

use crate::item;
use crate::protocol::{Connection, Pipeline, Reply};
use crate::recent::{Recent, Seen};
use crate::ring::Ring;

/// The prefix of every item's key.
pub const DEFAULT_PREFIX: &str = "gimlet:";

/// How long one call may take, connecting included: past it, the request
/// gets a 503.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// Idle connections kept per server.
const MAX_IDLE: usize = 32;

/// Sessions in memcached: each channel's record is one item, on the server
/// that the ring gives its session's group, so a session lives on one
/// server.
///
/// ```no_run
/// # async fn run() -> Result<(), gimlet_core::backend::BackendError> {
/// use gimlet_memcached::MemcachedBackend;
///
/// let backend = MemcachedBackend::from_url("memcache://10.0.0.1:11211,10.0.0.2:11211")?;
/// backend.connect().await?; // optional: fail at startup rather than at the first request
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct MemcachedBackend {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) servers: Vec<Server>,
    ring: Ring,
    pub(crate) prefix: String,
    pub(crate) timeout: Duration,
    pub(crate) recent: Recent,
    /// How long an entry of a log of endings lives, in seconds: an hour,
    /// or the longest revalidation window of this process's Gimlets, and a
    /// minute.
    pub(crate) endings_ttl: AtomicU64,
    /// Round trips made, to every server.
    round_trips: AtomicU64,
}

/// One server and its idle connections.
pub(crate) struct Server {
    pub(crate) addr: String,
    idle: Mutex<Vec<Connection>>,
    /// Its largest item (`-I`), asked once.
    item_size_max: tokio::sync::OnceCell<usize>,
}

impl fmt::Debug for MemcachedBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let servers: Vec<&str> = self.inner.servers.iter().map(|s| s.addr.as_str()).collect();
        f.debug_struct("MemcachedBackend")
            .field("servers", &servers)
            .field("prefix", &self.inner.prefix)
            .field("timeout", &self.inner.timeout)
            .finish_non_exhaustive()
    }
}

impl MemcachedBackend {
    /// A backend on the servers of `memcache://host:port[,host:port…]` (a
    /// server without a port is on 11211). Nothing connects until the
    /// first call, or [`connect`](Self::connect).
    ///
    /// # Errors
    ///
    /// `Unsupported` for a URL of another form.
    pub fn from_url(url: &str) -> Result<Self, BackendError> {
        let servers = crate::url::servers(url)?;
        Ok(Self::with_servers(
            servers,
            DEFAULT_PREFIX.to_owned(),
            DEFAULT_TIMEOUT,
        ))
    }

    fn with_servers(servers: Vec<String>, prefix: String, timeout: Duration) -> Self {
        let ring = Ring::new(&servers);
        let servers = servers
            .into_iter()
            .map(|addr| Server {
                addr,
                idle: Mutex::new(Vec::new()),
                item_size_max: tokio::sync::OnceCell::new(),
            })
            .collect();
        MemcachedBackend {
            inner: Arc::new(Inner {
                servers,
                ring,
                prefix,
                timeout,
                recent: Recent::default(),
                endings_ttl: AtomicU64::new(gimlet_core::backend::feed::MIN_RETENTION + 60),
                round_trips: AtomicU64::new(0),
            }),
        }
    }

    fn rebuilt(&self, prefix: String, timeout: Duration) -> Self {
        let servers = self.inner.servers.iter().map(|s| s.addr.clone()).collect();
        Self::with_servers(servers, prefix, timeout)
    }

    /// The prefix of every item's key (default `gimlet:`): printable
    /// ASCII without spaces, at most 200 bytes.
    ///
    /// # Panics
    ///
    /// For a prefix memcached would not take in a key.
    #[must_use]
    pub fn prefix(self, prefix: impl Into<String>) -> Self {
        let prefix = prefix.into();
        assert!(
            prefix.len() <= 200 && prefix.bytes().all(|b| b.is_ascii_graphic()),
            "a memcached key prefix is printable ASCII without spaces, at most 200 bytes"
        );
        self.rebuilt(prefix, self.inner.timeout)
    }

    /// How long one call may take, connecting included (default 2 s).
    #[must_use]
    pub fn timeout(self, timeout: Duration) -> Self {
        self.rebuilt(self.inner.prefix.clone(), timeout)
    }

    /// Opens a connection to every server, to fail at startup rather than
    /// at the first request.
    ///
    /// # Errors
    ///
    /// The first server that does not answer.
    pub async fn connect(&self) -> Result<(), BackendError> {
        for server in 0..self.inner.servers.len() {
            let mut pipeline = Pipeline::default();
            pipeline.noop();
            with_timeout(self.inner.timeout, self.call(server, &pipeline)).await?;
        }
        Ok(())
    }

    /// The round trips this backend has made to its servers, the reads of
    /// its log of endings included: what its I/O costs are measured by.
    pub fn round_trips(&self) -> u64 {
        self.inner.round_trips.load(Ordering::Relaxed)
    }

    /// One round trip to server `server`, within the timeout.
    pub(crate) async fn call(
        &self,
        server: usize,
        pipeline: &Pipeline,
    ) -> Result<Vec<Reply>, BackendError> {
        self.inner.round_trips.fetch_add(1, Ordering::Relaxed);
        let call = self.inner.servers[server].round_trip(pipeline);
        with_timeout(self.inner.timeout, call).await
    }

    /// The largest item server `server` stores (its `-I`, 1 MB by
    /// default), asked once per server: a larger write fails there, and
    /// memcached then drops the item it would have replaced.
    pub(crate) async fn item_size_max(&self, server: usize) -> Result<usize, BackendError> {
        let server = &self.inner.servers[server];
        let ask = async {
            self.inner.round_trips.fetch_add(1, Ordering::Relaxed);
            let mut connection = Connection::connect(&server.addr).await?;
            connection.item_size_max().await
        };
        let asked = server
            .item_size_max
            .get_or_try_init(|| with_timeout(self.inner.timeout, ask));
        asked.await.copied()
    }

    /// The key of `id`'s item.
    pub fn key(&self, id: &SessionId) -> String {
        format!("{}{id}", self.inner.prefix)
    }

    /// The server (`host:port`) that holds the records of `id`'s session.
    pub fn server_of(&self, id: &SessionId) -> &str {
        &self.inner.servers[self.inner.ring.server(id.group())].addr
    }

    pub(crate) fn server_index(&self, id: &SessionId) -> usize {
        self.inner.ring.server(id.group())
    }

    /// The positions of `ids` grouped by the server each lives on, in the
    /// order the servers first appear: one round trip per group.
    pub(crate) fn by_server<'a>(
        &self,
        ids: impl Iterator<Item = &'a SessionId>,
    ) -> Vec<(usize, Vec<usize>)> {
        let mut groups: Vec<(usize, Vec<usize>)> = Vec::new();
        for (at, id) in ids.enumerate() {
            let server = self.server_index(id);
            match groups.iter_mut().find(|(s, _)| *s == server) {
                Some((_, positions)) => positions.push(at),
                None => groups.push((server, vec![at])),
            }
        }
        groups
    }

    /// Reads the items of `ids`: one round trip per server they live on
    /// (one, for the ids of one session), the servers at once.
    pub(crate) async fn read(&self, ids: &[SessionId]) -> Result<Vec<Option<Seen>>, BackendError> {
        let by_server = self.by_server(ids.iter());
        let now = unix_now();
        let calls = by_server.iter().map(|(server, positions)| {
            let mut pipeline = Pipeline::default();
            for &at in positions {
                pipeline.get(&self.key(&ids[at]));
            }
            async move { self.call(*server, &pipeline).await }
        });
        let replies = try_join_all(calls).await?;
        let mut found = vec![None; ids.len()];
        for ((_, positions), replies) in by_server.iter().zip(replies) {
            for (&at, reply) in positions.iter().zip(replies) {
                found[at] = match reply {
                    Reply::Value { data, cas, ttl } => Some(Seen {
                        cas,
                        item: data,
                        expires_at: u64::try_from(ttl).map_or(0, |ttl| now + ttl),
                    }),
                    Reply::Miss => None,
                    other => return Err(unexpected(&other)),
                };
            }
        }
        Ok(found)
    }
}

impl Server {
    /// One round trip (through [`MemcachedBackend::call`], which counts it)
    /// on an idle connection, or a new one. Idle connections the server
    /// closed meanwhile (it restarted) are dropped unused. A read-only
    /// call whose pooled connection fails is made once more on a new one;
    /// a call that writes never is, since the server may have applied it.
    pub(crate) async fn round_trip(&self, pipeline: &Pipeline) -> Result<Vec<Reply>, BackendError> {
        let pooled = loop {
            let Some(connection) = self.lock().pop() else {
                break None;
            };
            if !connection.is_stale() {
                break Some(connection);
            }
        };
        let (connection, replies) = match pooled {
            Some(mut connection) => match connection.round_trip(pipeline).await {
                Ok(replies) => (connection, replies),
                Err(error)
                    if error.kind() == BackendErrorKind::Unavailable && !pipeline.writes() =>
                {
                    tracing::debug!(server = %self.addr, %error, "stale memcached connection");
                    self.fresh(pipeline).await?
                }
                Err(error) => return Err(error),
            },
            None => self.fresh(pipeline).await?,
        };
        let mut idle = self.lock();
        if idle.len() < MAX_IDLE {
            idle.push(connection);
        }
        Ok(replies)
    }

    async fn fresh(&self, pipeline: &Pipeline) -> Result<(Connection, Vec<Reply>), BackendError> {
        let mut connection = Connection::connect(&self.addr).await?;
        let replies = connection.round_trip(pipeline).await?;
        Ok((connection, replies))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Connection>> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl Backend for MemcachedBackend {
    async fn load(&self, ids: &[SessionId]) -> Result<Vec<Option<Record>>, BackendError> {
        let found = with_timeout(self.inner.timeout, self.read(ids)).await?;
        let mut records = Vec::with_capacity(found.len());
        for (id, seen) in ids.iter().zip(found) {
            records.push(match seen {
                Some(seen) => {
                    let record = item::decode(&seen.item)?;
                    self.inner.recent.put(*id, seen);
                    Some(record)
                }
                None => None,
            });
        }
        Ok(records)
    }

    async fn commit(&self, batch: &Batch) -> Result<(), BackendError> {
        // In a task of its own, so that the caller's timeout never cuts it
        // between its writes and their put-backs: past the timeout the
        // caller gets its answer, and the task still ends as a whole (each
        // of its calls has the timeout too). Its endings are logged after,
        // outside the caller's time.
        let (this, batch) = (self.clone(), batch.clone());
        let task = tokio::spawn(async move {
            this.commit_now(&batch).await?;
            let ended: Vec<SessionId> = batch.ended().collect();
            if !ended.is_empty() {
                tokio::spawn(async move { this.log_endings(&ended).await });
            }
            Ok(())
        });
        let joined = async {
            task.await
                .map_err(|e| BackendError::new(BackendErrorKind::Other, e))?
        };
        with_timeout(self.inner.timeout, joined).await
    }

    fn name(&self) -> &'static str {
        "memcached"
    }

    fn subscribe(&self, revocations: &Arc<Revocations>) -> bool {
        self.follow(revocations)
    }
}

/// The system clock, in Unix seconds.
pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A reply that the command it answers never gets.
pub(crate) fn unexpected(reply: &Reply) -> BackendError {
    BackendError::new(
        BackendErrorKind::Corrupt,
        format!("memcached answered out of turn: {reply:?}"),
    )
}
