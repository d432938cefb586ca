//! The import a `GIMLET_IMPORT_FROM` spec names, with the peer's key from
//! `GIMLET_IMPORT_KEY`.

use gimlet_core::backend::{BackendError, BackendErrorKind};
use gimlet_core::import::Import;

fn refuse(message: impl Into<String>) -> BackendError {
    BackendError::new(BackendErrorKind::Other, message.into())
}

/// The import `from` names: `tower-sessions+` or `actix-session+` before
/// the URL of the peer's store (`redis://…`, and for tower-sessions
/// `postgres://…`, `mysql://…` or `sqlite://…`), or
/// `actix-session+cookie`; with `key`, the peer's cookie key in 128 hex
/// characters (64 bytes).
///
/// # Errors
///
/// An unknown spec, a key that is not 128 hex characters, a store this
/// build leaves out, or one that cannot be reached.
pub async fn import(from: &str, key: Option<&str>) -> Result<Import, BackendError> {
    let (peer, store) = from.trim().split_once('+').ok_or_else(|| {
        refuse("GIMLET_IMPORT_FROM: expected tower-sessions+URL, actix-session+URL or actix-session+cookie")
    })?;
    let import = match (peer, store) {
        ("actix-session", "cookie") => Import::actix_session_cookie(),
        ("actix-session", url) if url.starts_with("redis") => Import::actix_session(redis(url)?),
        ("tower-sessions", url) if url.starts_with("redis") => Import::tower_sessions(redis(url)?),
        ("tower-sessions", url) => Import::tower_sessions(sql(url).await?),
        _ => {
            return Err(refuse(format!(
                "GIMLET_IMPORT_FROM: no import from {peer}+{store}"
            )));
        }
    };
    Ok(match key {
        Some(key) => {
            let mut bytes = [0; 64];
            hex::decode_to_slice(key.trim(), &mut bytes)
                .map_err(|_| refuse("GIMLET_IMPORT_KEY: expected 128 hex characters"))?;
            import.signed_or_private(&bytes)
        }
        None => import,
    })
}

#[cfg(feature = "redis")]
fn redis(url: &str) -> Result<gimlet_redis::RedisPeerStore, BackendError> {
    gimlet_redis::RedisPeerStore::from_url(url)
}

#[cfg(not(feature = "redis"))]
fn redis(url: &str) -> Result<gimlet_sql::SqlPeerStore, BackendError> {
    Err(crate::left_out(url, "redis"))
}

async fn sql(url: &str) -> Result<gimlet_sql::SqlPeerStore, BackendError> {
    for (scheme, feature) in [
        ("postgres", "postgres"),
        ("mysql", "mysql"),
        ("mariadb", "mysql"),
    ] {
        if url.starts_with(scheme) && !crate::sql_enabled(feature) {
            return Err(crate::left_out(url, feature));
        }
    }
    gimlet_sql::SqlPeerStore::connect(url).await
}
