//! The three ways to reach Redis (one server, a cluster, a primary found
//! through Sentinel) behind one pool type and one connection type.

use std::time::Duration;

use deadpool_redis::redis::aio::{ConnectionLike, MultiplexedConnection};
use deadpool_redis::redis::cluster_async::ClusterConnection;
use deadpool_redis::redis::{self, Cmd, Pipeline, RedisFuture, Value};
use deadpool_redis::{PoolConfig, PoolError, Runtime, Timeouts, cluster, sentinel};
use gimlet_core::backend::{BackendError, BackendErrorKind};

use crate::url::Target;

/// The pool a backend takes its connections from.
#[derive(Clone)]
pub(crate) enum Pools {
    Server(deadpool_redis::Pool),
    Cluster(cluster::Pool),
    Sentinel(sentinel::Pool),
}

/// A connection to the backend's Redis, whatever its topology: a
/// multiplexed connection to one server (or to the primary Sentinel
/// named), or a cluster connection that routes each command to the node
/// that holds its key and follows redirections.
///
/// It is cheap to clone; clones share the underlying connection.
/// [`RedisBackend::connection`](crate::RedisBackend::connection) hands one
/// out, for commands of the application's own.
#[derive(Clone)]
#[non_exhaustive]
pub enum Connection {
    /// One server, or the primary a Sentinel named.
    Server(MultiplexedConnection),
    /// Redis Cluster.
    Cluster(ClusterConnection),
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Connection::Server(_) => "Connection::Server",
            Connection::Cluster(_) => "Connection::Cluster",
        })
    }
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Connection::Server(c) => c.req_packed_command(cmd),
            Connection::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Connection::Server(c) => c.req_packed_commands(cmd, offset, count),
            Connection::Cluster(c) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Connection::Server(c) => c.get_db(),
            Connection::Cluster(c) => c.get_db(),
        }
    }
}

impl Pools {
    /// A pool on `url`, whose waits, connects and recycles time out after
    /// `timeout`.
    pub(crate) fn from_url(
        url: &str,
        timeout: Duration,
        max_size: usize,
    ) -> Result<Self, BackendError> {
        let target =
            Target::parse(url).map_err(|e| BackendError::new(BackendErrorKind::Other, e))?;
        let pool = Some(PoolConfig {
            max_size,
            timeouts: Timeouts {
                wait: Some(timeout),
                create: Some(timeout),
                recycle: Some(timeout),
            },
            ..PoolConfig::default()
        });
        let runtime = Some(Runtime::Tokio1);
        let config_error = |e: &dyn std::fmt::Display| {
            BackendError::new(
                BackendErrorKind::Other,
                format!("invalid Redis configuration: {e}"),
            )
        };
        if url.starts_with("rediss") {
            install_crypto_provider();
        }
        Ok(match target {
            Target::Server(url) => {
                // redis-rs bounds each reply by a timer of its own (500 ms
                // unless told): the backend's timeout already bounds every
                // call, so one timer a call, and the one configured.
                let connection = redis::AsyncConnectionConfig::new().set_response_timeout(None);
                let manager = deadpool_redis::Manager::new_with_config(url, connection)
                    .map_err(|e| config_error(&e))?;
                let mut builder = deadpool_redis::Pool::builder(manager);
                if let Some(pool) = pool {
                    builder = builder.config(pool);
                }
                let pool = builder.runtime(Runtime::Tokio1).build();
                Pools::Server(pool.map_err(|e| config_error(&e))?)
            }
            Target::Cluster(nodes) => {
                let mut config = cluster::Config::from_urls(nodes);
                config.pool = pool;
                Pools::Cluster(config.create_pool(runtime).map_err(|e| config_error(&e))?)
            }
            Target::Sentinel {
                sentinels,
                service,
                tls,
                insecure,
                username,
                password,
                db,
            } => {
                let node =
                    sentinel_node(tls, insecure, username.as_deref(), password.as_deref(), db);
                let mut config = sentinel::Config::from_urls(
                    sentinels,
                    service,
                    sentinel::SentinelServerType::Master,
                )
                .with_node_connection_info(Some(node));
                config.pool = pool;
                Pools::Sentinel(config.create_pool(runtime).map_err(|e| config_error(&e))?)
            }
        })
    }

    pub(crate) fn max_size(&self) -> usize {
        match self {
            Pools::Server(p) => p.status().max_size,
            Pools::Cluster(p) => p.status().max_size,
            Pools::Sentinel(p) => p.status().max_size,
        }
    }

    /// A connection of the pool's, taken out of it for good: the backend
    /// shares it between requests until it fails.
    pub(crate) async fn take(&self) -> Result<Connection, BackendError> {
        Ok(match self {
            Pools::Server(p) => Connection::Server(deadpool_redis::Connection::take(
                p.get().await.map_err(pool_error)?,
            )),
            Pools::Cluster(p) => Connection::Cluster(cluster::Connection::take(
                p.get().await.map_err(pool_error)?,
            )),
            Pools::Sentinel(p) => Connection::Server(sentinel::Connection::take(
                p.get().await.map_err(pool_error)?,
            )),
        })
    }

    pub(crate) fn describe(&self) -> &'static str {
        match self {
            Pools::Server(_) => "server",
            Pools::Cluster(_) => "cluster",
            Pools::Sentinel(_) => "sentinel",
        }
    }
}

/// How to reach the data nodes a Sentinel names: over TLS or not, with
/// the URL's credentials and database. The pool takes it, and the near
/// caches' subscription (as redis-rs's type, through `into`).
pub(crate) fn sentinel_node(
    tls: bool,
    insecure: bool,
    username: Option<&str>,
    password: Option<&str>,
    db: i64,
) -> sentinel::SentinelNodeConnectionInfo {
    let tls_mode = tls.then_some(if insecure {
        sentinel::TlsMode::Insecure
    } else {
        sentinel::TlsMode::Secure
    });
    sentinel::SentinelNodeConnectionInfo {
        tls_mode,
        redis_connection_info: Some(deadpool_redis::RedisConnectionInfo {
            db,
            username: username.map(str::to_owned),
            password: password.map(str::to_owned),
            ..Default::default()
        }),
    }
}

/// `rediss://` goes through rustls, with *ring* (which Gimlet already uses
/// for its cookies) unless the application installed a provider first.
fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race with another installer is fine: one is in place.
        let _ = rustls::crypto::ring::default_provider().install_default();
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

/// A driver error as a backend error. What a failover or a resharding
/// answers (a node that is down, a primary demoted to replica, a slot
/// without a primary) is `Unavailable`: the request gets a 503, and the
/// shared connection is replaced.
pub(crate) fn redis_error(error: redis::RedisError) -> BackendError {
    use redis::ServerErrorKind as S;
    let kind = if error.is_timeout() {
        BackendErrorKind::Timeout
    } else if error.is_io_error()
        || error.is_connection_refusal()
        || error.is_connection_dropped()
        || matches!(
            error.kind(),
            redis::ErrorKind::Server(
                S::ReadOnly | S::ClusterDown | S::MasterDown | S::TryAgain | S::BusyLoading
            )
        )
    {
        BackendErrorKind::Unavailable
    } else {
        BackendErrorKind::Other
    };
    BackendError::new(kind, error)
}
