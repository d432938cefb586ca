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

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::*;
    use crate::SystemClock;
    use crate::backend::BackendErrorKind;

    /// A log that answers what the test scripted, then that it is caught
    /// up with nothing new.
    struct Scripted {
        reads: VecDeque<Result<Page, BackendError>>,
        retention: u64,
    }

    impl EndingsLog for Scripted {
        async fn read(&mut self) -> Result<Page, BackendError> {
            let caught_up = Page {
                ended: Vec::new(),
                caught_up: true,
            };
            self.reads.pop_front().unwrap_or(Ok(caught_up))
        }

        fn retention(&self) -> u64 {
            self.retention
        }

        fn name(&self) -> &'static str {
            "scripted"
        }
    }

    fn behind() -> Result<Page, BackendError> {
        Ok(Page {
            ended: Vec::new(),
            caught_up: false,
        })
    }

    fn failing() -> Result<Page, BackendError> {
        Err(BackendError::from_kind(BackendErrorKind::Unavailable))
    }

    fn set(window: u64) -> Arc<Revocations> {
        Arc::new(Revocations::new(window, Arc::new(SystemClock)))
    }

    async fn until(what: impl Fn() -> bool) {
        for _ in 0..400 {
            if what() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("never happened");
    }

    #[test]
    fn outside_a_runtime_nothing_follows() {
        let log = Scripted {
            reads: VecDeque::new(),
            retention: 3600,
        };
        assert!(!follow(log, &set(300)));
    }

    #[tokio::test]
    async fn the_feed_is_down_until_the_replay_has_caught_up() {
        let (revocations, ended) = (set(300), SessionId::generate().unwrap());
        let mut reads: VecDeque<_> = (0..8).map(|_| behind()).collect();
        reads.push_front(Ok(Page {
            ended: vec![ended],
            caught_up: false,
        }));
        let log = Scripted {
            reads,
            retention: 3600,
        };
        assert!(follow(log, &revocations));
        assert!(!revocations.caught_up(), "down from the start");
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert!(!revocations.caught_up(), "still replaying");
        assert!(revocations.is_revoked(&ended), "what it read is heard");
        until(|| revocations.caught_up()).await;
        assert!(revocations.trusts_the_window());
    }

    /// After an outage at least as long as the log keeps, endings may have
    /// been lost: the feed stays down one window more (here an hour, so it
    /// stays down). After a shorter one, it is up as soon as it reads.
    #[tokio::test]
    async fn after_an_outage_longer_than_the_log_keeps_nothing_is_trusted_for_a_window() {
        for (retention, trusted) in [(0, false), (3600, true)] {
            let revocations = set(3600);
            let log = Scripted {
                reads: [failing(), failing()].into(),
                retention,
            };
            assert!(follow(log, &revocations));
            // Two failed reads, then reads that succeed.
            tokio::time::sleep(Duration::from_millis(150)).await;
            if trusted {
                until(|| revocations.caught_up()).await;
            } else {
                assert!(!revocations.caught_up(), "retention {retention}");
            }
        }
    }
}
