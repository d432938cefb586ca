//! Pushed revocation on Redis: every commit that deletes a record, and
//! every `end_sessions_of`, appends the ids to a stream in the same script;
//! each app server reads the stream from where it left off, a few times a
//! second, and tells its [`Revocations`].
//!
//! The stream is the durable record as well: a server that starts reads the
//! last window of it before it trusts a cookie, and one that lost Redis for
//! a while reads what it missed from its cursor. Reading it is one command
//! per interval per app server, never one per request.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use deadpool_redis::redis::{self, Value};
use gimlet_core::SessionId;
use gimlet_core::backend::{BackendError, Revocations};

use crate::RedisBackend;
use crate::connection::{Pools, redis_error};

/// How often an app server reads the stream.
pub const POLL_INTERVAL: Duration = Duration::from_millis(25);

/// The least the stream keeps, in seconds.
pub(crate) const MIN_RETENTION: u64 = 3600;

/// The most entries one read takes.
const BATCH: usize = 10_000;

impl RedisBackend {
    /// The revocation stream's key, where the store can keep one: not on a
    /// cluster, whose commit scripts run in the slot of their session.
    pub(crate) fn stream_key(&self) -> Option<String> {
        match self.pools() {
            Pools::Cluster(_) => None,
            _ => Some(format!("{}revoked", self.key_prefix())),
        }
    }

    /// How many seconds of endings the stream keeps.
    pub(crate) fn retention(&self) -> u64 {
        self.retention_cell().load(Ordering::Relaxed)
    }

    /// Starts the task that reads the stream into `revocations`. Not on a
    /// cluster, and not outside a Tokio runtime: there, copied cookies stop
    /// within the revalidation window only.
    pub(crate) fn follow(&self, revocations: &Arc<Revocations>) -> bool {
        let Some(stream) = self.stream_key() else {
            return false;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!("no Tokio runtime when Gimlet was built: Redis endings are not pushed");
            return false;
        };
        self.retention_cell()
            .fetch_max(revocations.window(), Ordering::Relaxed);
        // Nothing is trusted before the first read has caught up.
        revocations.feed_down();
        runtime.spawn(follow(self.clone(), stream, Arc::downgrade(revocations)));
        true
    }

    /// The entries after `cursor`, at most [`BATCH`]: each entry's stream
    /// id and the session id it names.
    async fn read_stream(
        &self,
        stream: &str,
        cursor: &str,
    ) -> Result<Vec<(String, Option<SessionId>)>, BackendError> {
        let reply: Value = self
            .timed(|mut conn| async move {
                redis::cmd("XREAD")
                    .arg("COUNT")
                    .arg(BATCH)
                    .arg("STREAMS")
                    .arg(stream)
                    .arg(cursor)
                    .query_async(&mut conn)
                    .await
                    .map_err(redis_error)
            })
            .await?;
        Ok(entries(reply))
    }
}

/// Reads the stream until `revocations` is dropped. The feed is up while
/// the reads succeed and have caught up; down otherwise. After an outage
/// longer than the stream keeps, what was trimmed is lost: the feed stays
/// down for one window more, so every cookie is checked meanwhile.
async fn follow(backend: RedisBackend, stream: String, revocations: Weak<Revocations>) {
    let mut cursor = "0-0".to_owned();
    let mut interval = tokio::time::interval(POLL_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing_since: Option<Instant> = None;
    let mut distrust_until: Option<Instant> = None;
    loop {
        interval.tick().await;
        let Some(revocations) = revocations.upgrade() else {
            return;
        };
        match backend.read_stream(&stream, &cursor).await {
            Ok(entries) => {
                if let Some(since) = failing_since.take()
                    && since.elapsed().as_secs() >= backend.retention()
                {
                    let window = Duration::from_secs(revocations.window());
                    distrust_until = Some(Instant::now() + window);
                }
                let caught_up = entries.len() < BATCH;
                if let Some((last, _)) = entries.last() {
                    cursor.clone_from(last);
                }
                revocations.revoke(entries.into_iter().filter_map(|(_, id)| id));
                let trusted = distrust_until.is_none_or(|until| Instant::now() >= until);
                if caught_up && trusted {
                    distrust_until = None;
                    revocations.feed_up();
                }
            }
            Err(e) => {
                if failing_since.is_none() {
                    tracing::warn!(error = %e, "reading the Redis revocation stream failed");
                    failing_since = Some(Instant::now());
                }
                revocations.feed_down();
            }
        }
    }
}

/// The entries of an `XREAD` reply for one stream: `[[stream, [[id,
/// [field, value …]] …]]]`, or nil when there is nothing new.
fn entries(reply: Value) -> Vec<(String, Option<SessionId>)> {
    let Value::Array(streams) = reply else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for stream in streams {
        let Value::Array(mut parts) = stream else {
            continue;
        };
        let Some(Value::Array(items)) = parts.pop() else {
            continue;
        };
        for item in items {
            let Value::Array(fields) = item else { continue };
            let mut fields = fields.into_iter();
            let Some(entry) = fields.next().and_then(text) else {
                continue;
            };
            let id = match fields.next() {
                Some(Value::Array(pairs)) => pairs
                    .into_iter()
                    .nth(1)
                    .and_then(text)
                    .and_then(|hex| hex.parse().ok()),
                _ => None,
            };
            out.push((entry, id));
        }
    }
    out
}

fn text(value: Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => String::from_utf8(bytes).ok(),
        Value::SimpleString(s) => Some(s),
        _ => None,
    }
}
