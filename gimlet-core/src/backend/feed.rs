//! Following a store's log of endings: the loop that every store with a
//! durable, polled record of its deletes (a Redis stream, a SQL table) runs
//! on each app server, and what it tells the [`Revocations`].

use std::future::Future;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use super::{BackendError, Revocations};
use crate::SessionId;

/// How often an app server reads its store's log of endings: the most a
/// logout on one server waits before every other server refuses its copies.
pub const POLL_INTERVAL: Duration = Duration::from_millis(25);

/// The least time, in seconds, a store keeps its log of endings.
pub const MIN_RETENTION: u64 = 3600;

/// One read of a log: the ended ids after the reader's cursor.
#[derive(Debug, Default)]
pub struct Page {
    /// The ids the records of which ended.
    pub ended: Vec<SessionId>,
    /// Whether the read reached the log's end: `false` when there is more
    /// to read at once.
    pub caught_up: bool,
}

/// A store's log of endings, read from a cursor of the reader's own.
pub trait EndingsLog: Send + 'static {
    /// The ids ended after the cursor, which moves past them.
    fn read(&mut self) -> impl Future<Output = Result<Page, BackendError>> + Send;

    /// How many seconds of endings the log keeps: after an outage as long,
    /// some may have been lost.
    fn retention(&self) -> u64;

    /// The store's name, for the log line of a failing read.
    fn name(&self) -> &'static str;
}

/// Reads `log` every [`POLL_INTERVAL`] into `revocations`, on the current
/// Tokio runtime, until `revocations` is dropped. Answers `false`, and
/// starts nothing, outside a runtime: there, copied cookies stop within the
/// revalidation window only.
///
/// The feed is down until the first reads have caught up (a server that
/// starts replays the log first), down while reads fail, and up otherwise.
/// After an outage at least as long as the log's retention, endings may
/// have been lost: it stays down for one window more, so that every cookie
/// is checked meanwhile.
pub fn follow(log: impl EndingsLog, revocations: &Arc<Revocations>) -> bool {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        tracing::warn!(
            store = log.name(),
            "no Tokio runtime when Gimlet was built: endings are not pushed"
        );
        return false;
    };
    revocations.feed_down();
    runtime.spawn(run(log, Arc::downgrade(revocations)));
    true
}

async fn run(mut log: impl EndingsLog, revocations: Weak<Revocations>) {
    let mut interval = tokio::time::interval(POLL_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing_since: Option<Instant> = None;
    let mut distrust_until: Option<Instant> = None;
    loop {
        interval.tick().await;
        let Some(revocations) = revocations.upgrade() else {
            return;
        };
        match log.read().await {
            Ok(page) => {
                if let Some(since) = failing_since.take()
                    && since.elapsed().as_secs() >= log.retention()
                {
                    let window = Duration::from_secs(revocations.window());
                    distrust_until = Some(Instant::now() + window);
                }
                revocations.revoke(page.ended);
                let trusted = distrust_until.is_none_or(|until| Instant::now() >= until);
                if page.caught_up && trusted {
                    distrust_until = None;
                    revocations.feed_up();
                }
            }
            Err(e) => {
                if failing_since.is_none() {
                    tracing::warn!(store = log.name(), error = %e, "reading the log of endings failed");
                    failing_since = Some(Instant::now());
                }
                revocations.feed_down();
            }
        }
    }
}
