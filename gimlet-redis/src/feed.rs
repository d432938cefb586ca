//! Pushed revocation on Redis: every commit that deletes a record, and
//! every `end_sessions_of`, appends the ids to a stream in the same script;
//! each app server reads the stream from where it left off, a few times a
//! second, and tells its [`Revocations`].
//!
//! The stream is the durable record as well: a server that starts reads the
//! last window of it before it trusts a cookie, and one that lost Redis for
//! a while reads what it missed from its cursor. Reading it is one command
//! per interval per app server, never one per request.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use deadpool_redis::redis::{self, Value};
use gimlet_core::SessionId;
use gimlet_core::backend::feed::{self, EndingsLog, Page};
use gimlet_core::backend::{BackendError, Revocations};

use crate::RedisBackend;
use crate::connection::{Pools, redis_error};

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
        self.retention_cell()
            .fetch_max(revocations.window(), Ordering::Relaxed);
        let log = Stream {
            backend: self.clone(),
            stream,
            cursor: "0-0".to_owned(),
        };
        feed::follow(log, revocations)
    }
}

/// The revocation stream, as one app server reads it: from its start (the
/// last hour), then from the last entry read.
struct Stream {
    backend: RedisBackend,
    stream: String,
    cursor: String,
}

impl EndingsLog for Stream {
    async fn read(&mut self) -> Result<Page, BackendError> {
        let (stream, cursor) = (&self.stream, &self.cursor);
        let reply: Value = self
            .backend
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
        let entries = entries(reply);
        let caught_up = entries.len() < BATCH;
        if let Some((last, _)) = entries.last() {
            self.cursor.clone_from(last);
        }
        let ended = entries.into_iter().filter_map(|(_, id)| id).collect();
        Ok(Page { ended, caught_up })
    }

    fn retention(&self) -> u64 {
        self.backend.retention()
    }

    fn name(&self) -> &'static str {
        "redis"
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
