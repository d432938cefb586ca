//! Pushed revocation in SQL: every commit that deletes or retires a
//! record, and every `end_sessions_of`, adds the ids to the log of endings
//! (a table) in its own transaction; each app server reads the rows after
//! its cursor every [`POLL_INTERVAL`](gimlet_core::backend::feed::POLL_INTERVAL)
//! and tells its [`Revocations`]. One query per interval per app server,
//! never one per request; the same on SQLite, where several processes may
//! share one file.
//!
//! The rows are numbered as they are inserted, but on PostgreSQL and MySQL
//! transactions commit in any order: a reader may see number 7 before 6,
//! whose transaction is still open. So the cursor reads again from the
//! first number it has not seen, until that number turns up or has been
//! missing for [`GAP_WAIT`] (a transaction rolled back, or a number the
//! database skipped).

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use gimlet_core::SessionId;
use gimlet_core::backend::feed::{self, EndingsLog, Page};
use gimlet_core::backend::{BackendError, BackendErrorKind, Revocations};
use sqlx::Row;

use crate::SqlBackend;
use crate::backend::sql_time;
use crate::errors::backend_error;

/// The most rows one read takes.
pub(crate) const BATCH: usize = 10_000;

/// How long a missing number is waited for before the cursor moves past
/// it. Each commit logs its endings last, one statement before its
/// `COMMIT`, so a number is normally missing for a round trip.
pub(crate) const GAP_WAIT: Duration = Duration::from_secs(10);

impl SqlBackend {
    /// Starts the task that reads the log of endings into `revocations`.
    pub(crate) fn follow(&self, revocations: &Arc<Revocations>) -> bool {
        self.inner
            .retention
            .fetch_max(revocations.window(), Ordering::Relaxed);
        let log = Log {
            backend: self.clone(),
            cursor: Cursor::default(),
        };
        feed::follow(log, revocations)
    }

    /// How many seconds of endings the log keeps.
    pub(crate) fn retention(&self) -> u64 {
        self.inner.retention.load(Ordering::Relaxed)
    }

    /// Deletes the endings older than the retention, in the cleanup's
    /// transaction; the last one stays (see `Dialect::trim_ended`).
    pub(crate) async fn trim_endings(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        now: u64,
    ) -> Result<(), sqlx::Error> {
        let (d, t) = (self.inner.dialect, &self.inner.tables);
        let last: Option<i64> = sqlx::query(&d.last_ended(t))
            .fetch_one(&mut **tx)
            .await?
            .try_get(0)?;
        let Some(last) = last else {
            return Ok(());
        };
        sqlx::query(&d.trim_ended(t))
            .bind(sql_time(now.saturating_sub(self.retention())))
            .bind(last)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}

/// The log of endings as one app server reads it.
struct Log {
    backend: SqlBackend,
    cursor: Cursor,
}

impl EndingsLog for Log {
    async fn read(&mut self) -> Result<Page, BackendError> {
        let inner = &self.backend.inner;
        // Every 25 ms, whatever the traffic: the time to give kept
        // connections back to the pool.
        inner.shelf.trim(&inner.pool);
        let sql = inner.dialect.read_ended(&inner.tables, BATCH);
        let (ended, caught_up) = self.cursor.read(&self.backend, &sql).await?;
        Ok(Page { ended, caught_up })
    }

    fn retention(&self) -> u64 {
        self.backend.retention()
    }

    fn name(&self) -> &'static str {
        self.backend.inner.dialect.name()
    }
}

/// Where one reader is in the log: every number up to `settled` has been
/// read or given up on; `seen` holds the numbers read above it.
#[derive(Debug, Default)]
pub(crate) struct Cursor {
    settled: i64,
    seen: BTreeSet<i64>,
    /// Where a read that stopped at [`BATCH`] rows goes on from.
    resume: Option<i64>,
    /// The highest number read, as it was at each read of the last
    /// [`GAP_WAIT`], oldest first: whatever was missing below the oldest
    /// has been missing at least that long.
    marks: VecDeque<(Instant, i64)>,
}

impl Cursor {
    /// Runs `sql`, a read of at most [`BATCH`] numbered rows (number, id)
    /// after the number it binds, from where the cursor is; answers the
    /// ids not read before, and whether the read caught up.
    pub(crate) async fn read(
        &mut self,
        backend: &SqlBackend,
        sql: &str,
    ) -> Result<(Vec<SessionId>, bool), BackendError> {
        let from = self.next_read();
        let pool = &backend.inner.pool;
        let rows = backend
            .timed(async {
                sqlx::query(sql)
                    .bind(from)
                    .fetch_all(pool)
                    .await
                    .map_err(backend_error)
            })
            .await?;
        let mut read = Vec::with_capacity(rows.len());
        for row in &rows {
            let seq: i64 = row.try_get(0).map_err(backend_error)?;
            let id: String = row.try_get(1).map_err(backend_error)?;
            let id = id
                .parse()
                .map_err(|_| BackendError::from_kind(BackendErrorKind::Corrupt))?;
            read.push((seq, id));
        }
        let caught_up = read.len() < BATCH;
        Ok((self.take(read, caught_up, Instant::now()), caught_up))
    }

    /// A cursor that starts after `settled`.
    pub(crate) fn after(settled: i64) -> Self {
        Cursor {
            settled,
            ..Cursor::default()
        }
    }

    /// The number the next read starts after.
    fn next_read(&self) -> i64 {
        self.resume.unwrap_or(self.settled)
    }

    /// Takes the rows of a read (`(number, id)`, in order) and answers the
    /// ids not read before.
    fn take(
        &mut self,
        rows: Vec<(i64, SessionId)>,
        caught_up: bool,
        now: Instant,
    ) -> Vec<SessionId> {
        self.resume = if caught_up {
            None
        } else {
            rows.last().map(|&(seq, _)| seq)
        };
        let ended = rows
            .into_iter()
            .filter(|&(seq, _)| seq > self.settled && self.seen.insert(seq))
            .map(|(_, id)| id)
            .collect();
        self.settle(now);
        ended
    }

    /// Moves `settled` over the numbers read, and over the ones missing
    /// for [`GAP_WAIT`].
    fn settle(&mut self, now: Instant) {
        let high = self.seen.last().copied().unwrap_or(self.settled);
        if self.marks.back().is_none_or(|&(_, last)| last != high) {
            self.marks.push_back((now, high));
        }
        // Keep one mark at least GAP_WAIT old: the newest such.
        while self
            .marks
            .get(1)
            .is_some_and(|&(at, _)| now.duration_since(at) >= GAP_WAIT)
        {
            self.marks.pop_front();
        }
        if let Some(&(at, high_then)) = self.marks.front()
            && now.duration_since(at) >= GAP_WAIT
            && high_then > self.settled
        {
            self.settled = high_then;
        }
        while self
            .seen
            .first()
            .is_some_and(|&seq| seq <= self.settled + 1)
        {
            let seq = self.seen.pop_first().unwrap_or(self.settled);
            self.settled = self.settled.max(seq);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> SessionId {
        SessionId::from_bytes([n; 16])
    }

    #[test]
    fn in_order_rows_settle_at_once() {
        let mut cursor = Cursor::default();
        let now = Instant::now();
        let ended = cursor.take(vec![(1, id(1)), (2, id(2))], true, now);
        assert_eq!(ended, [id(1), id(2)]);
        assert_eq!(cursor.next_read(), 2);
        assert!(cursor.seen.is_empty());
    }

    #[test]
    fn a_missing_number_is_read_again_until_it_commits() {
        let mut cursor = Cursor::default();
        let now = Instant::now();
        // 2's transaction is still open when 3 is read.
        assert_eq!(
            cursor.take(vec![(1, id(1)), (3, id(3))], true, now),
            [id(1), id(3)]
        );
        assert_eq!(cursor.next_read(), 1, "reads again after the gap");
        // The next read sees 2, and 3 again: 3 is not told twice.
        let later = now + Duration::from_millis(25);
        assert_eq!(
            cursor.take(vec![(2, id(2)), (3, id(3))], true, later),
            [id(2)]
        );
        assert_eq!(cursor.next_read(), 3);
    }

    #[test]
    fn a_number_missing_past_the_wait_is_given_up() {
        let mut cursor = Cursor::default();
        let start = Instant::now();
        cursor.take(vec![(1, id(1)), (3, id(3))], true, start);
        let mut now = start;
        while now.duration_since(start) < GAP_WAIT {
            assert_eq!(cursor.next_read(), 1);
            now += Duration::from_secs(1);
            cursor.take(vec![(3, id(3))], true, now);
        }
        assert_eq!(cursor.next_read(), 3, "2 never came");
        // A number missing since later waits its own full time.
        cursor.take(vec![(5, id(5))], true, now);
        assert_eq!(cursor.next_read(), 3);
        cursor.take(vec![(5, id(5))], true, now + GAP_WAIT);
        assert_eq!(cursor.next_read(), 5);
    }

    #[test]
    fn a_full_read_goes_on_from_where_it_stopped() {
        let mut cursor = Cursor::default();
        let now = Instant::now();
        cursor.take(vec![(1, id(1)), (3, id(3))], false, now);
        assert_eq!(cursor.next_read(), 3, "the rest of the log first");
        cursor.take(vec![(4, id(4))], true, now);
        assert_eq!(cursor.next_read(), 1, "then the gap again");
    }
}
