//! Pushed revocation on memcached. memcached has no channel to publish on
//! and no ordered log, so each server keeps a numbered one of its own: a
//! counter item (`<prefix>endings`, made by `ma`) and one item per number
//! (`<prefix>ending:<n>`, the ended ids, 16 bytes each), living for an
//! hour (or the revalidation window, if longer) and a minute more. A commit that ends records adds
//! them to the log of the server that held them, after it succeeded, in a
//! task of its own (two round trips, for logouts and cycles only). Every app server reads each
//! server's counter and its next entries every 25 ms, in one round trip
//! per server.
//!
//! memcached may evict any item under memory pressure, an entry included:
//! an entry still missing [`GAP_WAIT`] after its number was given out is
//! taken as lost, and the reads fail for one revalidation window, so that
//! meanwhile every use of a cookie is checked, as when the feed is cut. A
//! server that restarts empty starts its log again; the sessions it held
//! went with it, and heal.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use gimlet_core::SessionId;
use gimlet_core::backend::feed::{self, EndingsLog, Page};
use gimlet_core::backend::{BackendError, BackendErrorKind, Revocations};

use crate::backend::MemcachedBackend;
use crate::protocol::{Pipeline, Reply, SetMode};

/// How long a number given out may lack its entry before it is taken as
/// lost (its writer failed between its two round trips, or the entry was
/// evicted).
pub(crate) const GAP_WAIT: Duration = Duration::from_secs(2);

/// Entries read ahead of the cursor with each read of the counter.
const AHEAD: u64 = 16;

/// How many entries an app server that starts reads back.
const REPLAY: u64 = 10_000;

impl MemcachedBackend {
    /// Starts the task that reads every server's log into `revocations`.
    pub(crate) fn follow(&self, revocations: &Arc<Revocations>) -> bool {
        self.inner.endings_ttl.fetch_max(
            revocations.window().max(feed::MIN_RETENTION) + 60,
            Ordering::Relaxed,
        );
        let servers = self.inner.servers.len();
        let log = Log {
            backend: self.clone(),
            cursors: vec![Cursor::default(); servers],
            pending: Vec::new(),
            window: Duration::from_secs(revocations.window()),
            lost_until: None,
        };
        feed::follow(log, revocations)
    }

    /// Adds `ended` to the log of the servers that held them. A failure is
    /// logged: the endings then reach other app servers within the
    /// revalidation window only.
    pub(crate) async fn log_endings(&self, ended: &[SessionId]) {
        if ended.is_empty() {
            return;
        }
        let by_server: Vec<(usize, Vec<u8>)> = self
            .by_server(ended.iter())
            .into_iter()
            .map(|(server, positions)| {
                let ids = positions.iter().flat_map(|&at| *ended[at].as_bytes());
                (server, ids.collect())
            })
            .collect();
        let logged = by_server
            .iter()
            .map(|(server, ids)| self.log_on(*server, ids));
        for result in join_all(logged).await {
            if let Err(error) = result {
                tracing::warn!(
                    %error,
                    "an ending could not be logged: other app servers refuse its cookies within the revalidation window only"
                );
            }
        }
    }

    async fn log_on(&self, server: usize, ids: &[u8]) -> Result<(), BackendError> {
        let mut pipeline = Pipeline::default();
        pipeline.increment(&self.counter_key());
        let number = match self.call(server, &pipeline).await?.pop() {
            Some(Reply::Value { data, .. }) => parse_number(&data)?,
            other => return Err(unexpected_reply(other.as_ref())),
        };
        let ttl = self.inner.endings_ttl.load(Ordering::Relaxed);
        let mut pipeline = Pipeline::default();
        let expires_at = crate::backend::unix_now() + ttl;
        pipeline.set(&self.entry_key(number), ids, SetMode::Overwrite, expires_at);
        match self.call(server, &pipeline).await?.pop() {
            Some(Reply::Done { .. }) => Ok(()),
            other => Err(unexpected_reply(other.as_ref())),
        }
    }

    fn counter_key(&self) -> String {
        format!("{}endings", self.inner.prefix)
    }

    fn entry_key(&self, number: u64) -> String {
        format!("{}ending:{number}", self.inner.prefix)
    }
}

/// Where one server's log is read from.
#[derive(Debug, Clone, Default)]
struct Cursor {
    /// The next number to read; `None` before the first read.
    next: Option<u64>,
    /// A wait for missing entries: since when, and the last number given
    /// out then. Past [`GAP_WAIT`], every number up to it still missing is
    /// lost.
    gap: Option<(Instant, u64)>,
}

/// Every server's log, as one app server reads them.
struct Log {
    backend: MemcachedBackend,
    cursors: Vec<Cursor>,
    /// Endings read while the reads fail for a lost entry: told once
    /// they succeed.
    pending: Vec<SessionId>,
    /// The revalidation window of the app server's Gimlet.
    window: Duration,
    /// After a lost entry, the reads fail until then.
    lost_until: Option<Instant>,
}

/// What one server's read found.
struct Found {
    ended: Vec<SessionId>,
    caught_up: bool,
    lost: bool,
}

impl Log {
    async fn read_server(
        backend: &MemcachedBackend,
        server: usize,
        cursor: &mut Cursor,
    ) -> Result<Found, BackendError> {
        let start = cursor.next.unwrap_or(0);
        let mut pipeline = Pipeline::default();
        pipeline.value(&backend.counter_key());
        if cursor.next.is_some() {
            for number in start..start + AHEAD {
                pipeline.value(&backend.entry_key(number));
            }
        }
        let mut replies = backend.call(server, &pipeline).await?.into_iter();
        // The counter holds the last number given out.
        let last = match replies.next() {
            Some(Reply::Value { data, .. }) => Some(parse_number(&data)?),
            Some(Reply::Miss) => None,
            other => return Err(unexpected_reply(other.as_ref())),
        };
        let mut found = Found {
            ended: Vec::new(),
            caught_up: true,
            lost: false,
        };
        let Some(next) = cursor.next else {
            // The first read: replay the last entries still there. A
            // missing one expired, or, in the few milliseconds between a
            // writer's two round trips, is on its way and missed: the
            // revalidation window still bounds that one ending.
            let end = last.map_or(0, |last| last + 1);
            let from = end.saturating_sub(REPLAY);
            for chunk_start in (from..end).step_by(1000) {
                let chunk_end = (chunk_start + 1000).min(end);
                let mut pipeline = Pipeline::default();
                for number in chunk_start..chunk_end {
                    pipeline.value(&backend.entry_key(number));
                }
                for reply in backend.call(server, &pipeline).await? {
                    if let Reply::Value { data, .. } = reply {
                        found.ended.extend(parse_ids(&data)?);
                    }
                }
            }
            cursor.next = Some(end);
            return Ok(found);
        };
        let Some(last) = last else {
            // No counter: the server restarted empty, or has not logged
            // anything yet. Its log starts again at 0.
            cursor.next = Some(0);
            cursor.gap = None;
            return Ok(found);
        };
        if last.checked_add(1).is_some_and(|end| end < next) {
            // The counter went back: a restart, then new endings.
            cursor.next = Some(0);
            cursor.gap = None;
            found.caught_up = false;
            return Ok(found);
        }
        let mut number = next;
        for reply in replies {
            if number > last {
                break;
            }
            match reply {
                Reply::Value { data, .. } => found.ended.extend(parse_ids(&data)?),
                Reply::Miss => {
                    let (since, until) = *cursor.gap.get_or_insert((Instant::now(), last));
                    if number > until || since.elapsed() < GAP_WAIT {
                        if number > until {
                            cursor.gap = Some((Instant::now(), last));
                        }
                        break;
                    }
                    found.lost = true;
                }
                other => return Err(unexpected_reply(Some(&other))),
            }
            number += 1;
        }
        if cursor.gap.is_some_and(|(_, until)| number > until) {
            cursor.gap = None;
        }
        cursor.next = Some(number);
        found.caught_up = number > last || cursor.gap.is_some();
        Ok(found)
    }
}

impl EndingsLog for Log {
    async fn read(&mut self) -> Result<Page, BackendError> {
        let backend = &self.backend;
        let reads = self
            .cursors
            .iter_mut()
            .enumerate()
            .map(|(server, cursor)| Log::read_server(backend, server, cursor));
        let mut page = Page {
            ended: std::mem::take(&mut self.pending),
            caught_up: true,
        };
        let mut lost = false;
        let mut failed = None;
        for result in join_all(reads).await {
            match result {
                Ok(found) => {
                    page.ended.extend(found.ended);
                    page.caught_up &= found.caught_up;
                    lost |= found.lost;
                }
                Err(error) => failed = Some(error),
            }
        }
        if lost {
            self.lost_until = Some(Instant::now() + self.window);
        }
        if let Some(error) = failed {
            self.pending = page.ended;
            return Err(error);
        }
        if self.lost_until.is_some_and(|until| Instant::now() < until) {
            self.pending = page.ended;
            return Err(BackendError::new(
                BackendErrorKind::Unavailable,
                "an entry of a memcached log of endings was lost (evicted, or its writer \
                 failed): every cookie is checked for one window",
            ));
        }
        self.lost_until = None;
        Ok(page)
    }

    fn retention(&self) -> u64 {
        // What an entry lives; one evicted sooner is caught as lost.
        self.backend.inner.endings_ttl.load(Ordering::Relaxed)
    }

    fn name(&self) -> &'static str {
        "memcached"
    }
}

fn parse_number(data: &[u8]) -> Result<u64, BackendError> {
    std::str::from_utf8(data)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| {
            BackendError::new(
                BackendErrorKind::Corrupt,
                "a log counter that is not a number",
            )
        })
}

fn parse_ids(data: &[u8]) -> Result<Vec<SessionId>, BackendError> {
    if !data.len().is_multiple_of(SessionId::LEN) {
        return Err(BackendError::new(
            BackendErrorKind::Corrupt,
            "a log entry that is not a list of ids",
        ));
    }
    Ok(data
        .chunks_exact(SessionId::LEN)
        .filter_map(|chunk| chunk.try_into().ok().map(SessionId::from_bytes))
        .collect())
}

fn unexpected_reply(reply: Option<&Reply>) -> BackendError {
    BackendError::new(
        BackendErrorKind::Corrupt,
        format!("memcached answered out of turn: {reply:?}"),
    )
}
