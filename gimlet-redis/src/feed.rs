//! Pushed revocation on Redis: every commit that deletes a record, and
//! every `end_sessions_of`, appends the ids to a stream in the same script
//! (on a cluster, in one command after it, since a script stays in its
//! session's slot); each app server reads the stream from where it left
//! off, a few times a second, and tells its [`Revocations`].
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
    /// The revocation stream's key.
    pub(crate) fn stream_key(&self) -> String {
        format!("{}revoked", self.key_prefix())
    }

    /// The stream, where the scripts append to it themselves: not on a
    /// cluster, whose scripts run in the slot of their session and cannot
    /// reach the stream's. There, [`RedisBackend::publish`] appends after
    /// the script.
    pub(crate) fn script_stream(&self) -> Option<String> {
        match self.pools() {
            Pools::Cluster(_) => None,
            _ => Some(self.stream_key()),
        }
    }

    /// Appends `ended` to the stream in one entry, after the script that
    /// ended them (on a cluster). An app server that dies between the two
    /// leaves those endings to the revalidation window.
    pub(crate) async fn publish(&self, ended: &[SessionId]) -> Result<(), BackendError> {
        if ended.is_empty() {
            return Ok(());
        }
        let stream = self.stream_key();
        let minid = minimum_id(self.retention());
        self.timed(|mut conn| async move {
            let mut xadd = redis::cmd("XADD");
            xadd.arg(&stream).arg("MINID").arg("~").arg(minid).arg("*");
            for id in ended {
                xadd.arg("id").arg(id.to_string());
            }
            xadd.query_async::<()>(&mut conn).await.map_err(redis_error)
        })
        .await
    }

    /// How many seconds of endings the stream keeps.
    pub(crate) fn retention(&self) -> u64 {
        self.retention_cell().load(Ordering::Relaxed)
    }

    /// Starts the task that reads the stream into `revocations`. Not
    /// outside a Tokio runtime: there, copied cookies stop within the
    /// revalidation window only.
    pub(crate) fn follow(&self, revocations: &Arc<Revocations>) -> bool {
        self.retention_cell()
            .fetch_max(revocations.window(), Ordering::Relaxed);
        let log = Stream {
            backend: self.clone(),
            stream: self.stream_key(),
            cursor: "0-0".to_owned(),
        };
        feed::follow(log, revocations)
    }
}

/// The stream id before which entries may be trimmed: `retention`
/// seconds ago, by this app server's clock (the scripts use the server's).
fn minimum_id(retention: u64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!("{}", now.saturating_sub(retention).saturating_mul(1000))
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
        let ended = entries.into_iter().flat_map(|(_, ids)| ids).collect();
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
/// [field, value …]] …]]]`, or nil when there is nothing new. Each entry's
/// `id` fields name the ended ids: one where a script appended it, all of
/// a commit's where the client did.
fn entries(reply: Value) -> Vec<(String, Vec<SessionId>)> {
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
            let ids = match fields.next() {
                Some(Value::Array(pairs)) => pairs
                    .into_iter()
                    .skip(1)
                    .step_by(2)
                    .filter_map(text)
                    .filter_map(|hex| hex.parse().ok())
                    .collect(),
                _ => Vec::new(),
            };
            out.push((entry, ids));
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
