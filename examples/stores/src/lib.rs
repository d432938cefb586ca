//! The session store a `GIMLET_BACKEND` URL names, for Gimlet's examples.
//!
//! Memory and SQLite are always there. Redis, memcached, PostgreSQL and
//! MySQL come with the features of the same names, so that an example built for
//! SQLite compiles no other driver; a URL for a store left out says which
//! feature brings it in.
//!
//! [`prometheus`] is the exporter behind the examples' `/metrics`;
//! [`import()`] makes the import a `GIMLET_IMPORT_FROM` spec names.

mod import;
pub mod prometheus;

pub use import::import;

use std::sync::Arc;

use gimlet_core::MemoryBackend;
use gimlet_core::backend::{Backend, BackendError, BackendErrorKind};
use gimlet_sql::{SqlBackend, Tables};

/// The store `spec` names: `none`, `memory` (`memory?capacity=N` for a
/// bound other than 100,000 records), a Redis URL (`redis://`,
/// `rediss://`, `redis+cluster://`, `rediss+cluster://`,
/// `redis+sentinel://`), a memcached one
/// (`memcache://host:port[,host:port…]`) or an SQL one (`sqlite://`,
/// `postgres://`, `mysql://`). SQL databases get their tables created if missing; the
/// backend deletes their expired sessions itself.
///
/// # Errors
///
/// An unknown spec, a store this build leaves out, or a server that
/// cannot be reached.
pub async fn backend(spec: &str) -> Result<Option<Arc<dyn Backend>>, BackendError> {
    backend_in(spec, None).await
}

/// Like [`backend`], with the keys (`{namespace}:` before Redis and
/// memcached keys) or
/// tables (`{namespace}_sessions`, `{namespace}_keys`) of a namespace of
/// its own, so that tests sharing a server never share data.
///
/// # Errors
///
/// An unknown spec, a store this build leaves out, an invalid namespace,
/// or a server that cannot be reached.
pub async fn backend_in(
    spec: &str,
    namespace: Option<&str>,
) -> Result<Option<Arc<dyn Backend>>, BackendError> {
    let spec = spec.trim();
    Ok(match spec {
        "none" | "" => None,
        "memory" => Some(Arc::new(MemoryBackend::new())),
        // memory?capacity=N: a bound of N records.
        spec if spec.starts_with("memory?capacity=") => {
            let capacity = spec["memory?capacity=".len()..]
                .parse()
                .map_err(|e| BackendError::new(BackendErrorKind::Other, e))?;
            Some(Arc::new(MemoryBackend::with_capacity(capacity)))
        }
        url if url.starts_with("redis") => Some(redis(url, namespace)?),
        url if url.starts_with("memcache") => Some(memcached(url, namespace)?),
        url => {
            for (scheme, feature) in [
                ("postgres", "postgres"),
                ("mysql", "mysql"),
                ("mariadb", "mysql"),
            ] {
                if url.starts_with(scheme) && !sql_enabled(feature) {
                    return Err(left_out(url, feature));
                }
            }
            let mut sql = SqlBackend::builder(url);
            if let Some(namespace) = namespace {
                let tables = Tables::new(
                    &format!("{namespace}_sessions"),
                    &format!("{namespace}_keys"),
                )
                .map_err(|e| BackendError::new(BackendErrorKind::Other, e))?;
                sql = sql.tables(tables);
            }
            Some(Arc::new(sql.connect().await?))
        }
    })
}

/// Whether this build has the SQL driver `feature` names.
fn sql_enabled(feature: &str) -> bool {
    match feature {
        "postgres" => cfg!(feature = "postgres"),
        _ => cfg!(feature = "mysql"),
    }
}

/// The error for a URL whose store this build leaves out.
fn left_out(url: &str, feature: &str) -> BackendError {
    let scheme = url.split(':').next().unwrap_or(url);
    BackendError::new(
        BackendErrorKind::Other,
        format!(
            "this build has no {scheme} store: build it with `--features {feature}` \
             (the examples compile only SQLite and memory by default)"
        ),
    )
}

/// redis://, rediss://, redis+cluster://, rediss+cluster://,
/// redis+sentinel://
#[cfg(feature = "redis")]
fn redis(url: &str, namespace: Option<&str>) -> Result<Arc<dyn Backend>, BackendError> {
    let mut redis = gimlet_redis::RedisBackend::from_url(url)?;
    if let Some(namespace) = namespace {
        redis = redis.prefix(format!("{namespace}:"));
    }
    Ok(Arc::new(redis))
}

#[cfg(not(feature = "redis"))]
fn redis(url: &str, _: Option<&str>) -> Result<Arc<dyn Backend>, BackendError> {
    Err(left_out(url, "redis"))
}

/// memcache://host:port[,host:port…]
#[cfg(feature = "memcached")]
fn memcached(url: &str, namespace: Option<&str>) -> Result<Arc<dyn Backend>, BackendError> {
    let mut memcached = gimlet_memcached::MemcachedBackend::from_url(url)?;
    if let Some(namespace) = namespace {
        memcached = memcached.prefix(format!("{namespace}:"));
    }
    Ok(Arc::new(memcached))
}

#[cfg(not(feature = "memcached"))]
fn memcached(url: &str, _: Option<&str>) -> Result<Arc<dyn Backend>, BackendError> {
    Err(left_out(url, "memcached"))
}
