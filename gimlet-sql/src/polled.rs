//! Changes on SQLite and MySQL, for the app servers' near caches. Neither
//! has a channel of its own, so triggers on the key and session tables
//! log the session id of every key row written or deleted and of every
//! session row deleted into a table (the log of changes), numbered,
//! whatever wrote it: a commit, log out everywhere, the cleanup. Each app
//! server with a near cache creates the triggers if missing and reads the
//! rows after its cursor every
//! [`POLL_INTERVAL`](gimlet_core::backend::feed::POLL_INTERVAL): one
//! query per interval per app server, never one per request. gimlet-core's
//! loop ([`gimlet_core::backend::changes`]) drops those ids from its
//! cache; a read that fails or times out ends the subscription, and the
//! cache serves nothing until a new one is up.
//!
//! On MySQL, transactions commit in any order, so a reader may see number
//! 7 before 6: the cursor of the log of endings ([`Cursor`]) waits for
//! the gaps. A new subscription starts before every number logged in the
//! last [`GAP_WAIT`](crate::feed::GAP_WAIT), by the database's clock, so
//! that a transaction still open when it starts is read when it commits.

use std::sync::Arc;
use std::time::Duration;

use gimlet_core::SessionId;
use gimlet_core::backend::changes::{self, ChangeChannel, ChangePinger, ChangeReader, Heard, Ping};
use gimlet_core::backend::feed::POLL_INTERVAL;
use gimlet_core::backend::{BackendError, NearCache};
use sqlx::Row;

use crate::feed::{BATCH, Cursor, GAP_WAIT};
use crate::tables::bare;
use crate::{Dialect, SqlBackend, Tables};

/// How long the log of changes keeps a row: far longer than a reader
/// waits between reads, or for a gap.
pub(crate) const CHANGES_KEPT: Duration = Duration::from_secs(600);

impl SqlBackend {
    /// Starts keeping `cache` told of every change through the log of
    /// changes (SQLite and MySQL).
    pub(crate) fn poll_changes(&self, cache: &Arc<NearCache>) -> bool {
        changes::follow(
            Channel {
                backend: self.clone(),
            },
            cache,
        )
    }

    /// Deletes the changes older than [`CHANGES_KEPT`] by the database's
    /// clock, in the cleanup's transaction; the last one stays, so that no
    /// number comes again. Each row deleted is old by its own time too: a
    /// row of a transaction still open, numbered below the bound, is left
    /// to the next cleanup, read.
    pub(crate) async fn trim_changes(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    ) -> Result<(), sqlx::Error> {
        let (d, t) = (self.inner.dialect, &self.inner.tables);
        if d == Dialect::Postgres {
            return Ok(());
        }
        let kept_secs = i64::try_from(CHANGES_KEPT.as_secs()).unwrap_or(i64::MAX);
        let kept: Option<i64> = sqlx::query(&d.changes_kept_from(t))
            .bind(kept_secs)
            .fetch_optional(&mut **tx)
            .await?
            .map(|row| row.try_get(0))
            .transpose()?;
        let last: Option<i64> = sqlx::query(&format!("SELECT MAX(seq) FROM {}", t.changes()))
            .fetch_one(&mut **tx)
            .await?
            .try_get(0)?;
        if let Some(below) = kept.or(last) {
            sqlx::query(&d.trim_changes(t))
                .bind(below)
                .bind(kept_secs)
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }
}

/// The log of changes as one app server subscribes to it.
struct Channel {
    backend: SqlBackend,
}

/// A subscription: the cursor, and the pace of the reads.
struct Reader {
    backend: SqlBackend,
    cursor: Cursor,
    pace: tokio::time::Interval,
}

/// Pings nothing: the reads answer for the path.
struct Pinger;

impl ChangeChannel for Channel {
    type Reader = Reader;
    type Pinger = Pinger;

    /// The triggers in place, and a cursor before the last
    /// [`GAP_WAIT`]'s numbers.
    async fn subscribe(&self, _attempt: usize) -> Result<(Reader, Pinger), String> {
        let inner = &self.backend.inner;
        let (d, t) = (inner.dialect, &inner.tables);
        let starting = async {
            for statement in d.changes_schema(t) {
                sqlx::query(&statement).execute(&inner.pool).await?;
            }
            for (name, create) in d.change_triggers_polled(t) {
                create_trigger(&self.backend, &name, &create).await?;
            }
            let start: Option<i64> = sqlx::query(&d.changes_start(t))
                .bind(i64::try_from(GAP_WAIT.as_secs() + 1).unwrap_or(i64::MAX))
                .fetch_optional(&inner.pool)
                .await?
                .map(|row| row.try_get(0))
                .transpose()?;
            Ok::<_, sqlx::Error>(start.unwrap_or(0))
        };
        let start = starting.await.map_err(|e| e.to_string())?;
        let mut pace = tokio::time::interval(POLL_INTERVAL);
        pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let reader = Reader {
            backend: self.backend.clone(),
            cursor: Cursor::after(start),
            pace,
        };
        Ok((reader, Pinger))
    }

    fn timeout(&self) -> Duration {
        self.backend.inner.timeout
    }

    fn name(&self) -> &'static str {
        self.backend.inner.dialect.name()
    }
}

/// Creates a trigger unless it is there. MySQL has no `CREATE TRIGGER IF
/// NOT EXISTS` (MariaDB and SQLite do), and its `CREATE TRIGGER` takes the
/// table's metadata lock before it finds the name taken: so MySQL looks
/// first, and a create that fails is fine when the trigger is there after
/// it (another app server made it first).
async fn create_trigger(backend: &SqlBackend, name: &str, create: &str) -> Result<(), sqlx::Error> {
    let mysql = backend.inner.dialect == Dialect::MySql;
    if mysql && trigger_exists(backend, name).await? {
        return Ok(());
    }
    match sqlx::query(create).execute(&backend.inner.pool).await {
        Ok(_) => Ok(()),
        Err(error) if mysql && trigger_exists(backend, name).await? => {
            tracing::debug!(%error, "another app server made the trigger");
            Ok(())
        }
        Err(error) => Err(error),
    }
}

/// Whether MySQL has the trigger `name` (schema-qualified or not).
async fn trigger_exists(backend: &SqlBackend, name: &str) -> Result<bool, sqlx::Error> {
    let (schema, bare) = match name.rsplit_once('.') {
        Some((schema, bare)) => (Some(schema.to_owned()), bare),
        None => (None, name),
    };
    let found: i64 = sqlx::query(
        "SELECT COUNT(*) FROM information_schema.TRIGGERS \
         WHERE TRIGGER_SCHEMA = COALESCE(?, DATABASE()) AND TRIGGER_NAME = ?",
    )
    .bind(schema)
    .bind(bare)
    .fetch_one(&backend.inner.pool)
    .await?
    .try_get(0)?;
    Ok(found > 0)
}

impl Reader {
    /// The ids logged after the cursor, in one query.
    async fn read(&mut self) -> Result<Vec<SessionId>, BackendError> {
        let inner = &self.backend.inner;
        let sql = inner.dialect.read_changes(&inner.tables, BATCH);
        let (ids, _) = self.cursor.read(&self.backend, &sql).await?;
        Ok(ids)
    }
}

impl ChangeReader for Reader {
    /// The ids of the next read that finds any; a read that finds none
    /// answers for the path ([`Heard::Pong`]); a failed one ends the
    /// subscription.
    async fn next(&mut self) -> Option<Heard> {
        self.pace.tick().await;
        match self.read().await {
            Ok(ids) if ids.is_empty() => Some(Heard::Pong),
            Ok(ids) => Some(Heard::Changed(ids)),
            Err(error) => {
                tracing::warn!(%error, "reading the log of changes failed");
                None
            }
        }
    }
}

impl ChangePinger for Pinger {
    /// Answered already: the reader's own reads prove the path every
    /// 25 ms, each bounded by the store's timeout, and a failed one ends
    /// the subscription. (Waiting for a read that finds nothing, as a
    /// [`Heard::Pong`], would end it whenever writes never pause.)
    async fn ping(&mut self) -> Option<Ping> {
        Some(Ping::Answered)
    }
}

impl Dialect {
    /// The log of changes: a row per change, numbered in the order the
    /// rows were inserted, and the time by the database's clock. Part of
    /// the schema on SQLite and MySQL, empty until a near cache's
    /// triggers fill it. No index but the numbers', so that a write's
    /// rows cost it little: each question by time walks the numbers from
    /// one end. SQLite numbers a row one past the highest, and the trim
    /// keeps the last, so no number comes again without `AUTOINCREMENT`'s
    /// extra write.
    pub(crate) fn changes_schema(self, t: &Tables) -> Vec<String> {
        let c = t.changes();
        match self {
            Dialect::Sqlite => vec![format!(
                "CREATE TABLE IF NOT EXISTS {c} (seq INTEGER PRIMARY KEY, \
                 session_id TEXT NOT NULL, changed_at INTEGER NOT NULL)"
            )],
            Dialect::Postgres => Vec::new(),
            Dialect::MySql => vec![format!(
                "CREATE TABLE IF NOT EXISTS {c} (seq BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, \
                 session_id CHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL, \
                 changed_at BIGINT NOT NULL) ENGINE=InnoDB"
            )],
        }
    }

    /// The triggers that log the session id of every key row written or
    /// deleted, and of every session row deleted, each with its name.
    /// Idempotent on SQLite; on MySQL see `create_trigger`.
    pub(crate) fn change_triggers_polled(self, t: &Tables) -> Vec<(String, String)> {
        let (s, k, c) = (t.sessions(), t.keys(), t.changes());
        let now = self.unix_now();
        let (on_k, on_s, into) = match self {
            // A SQLite trigger names its tables bare, in its own schema.
            Dialect::Sqlite => (bare(k), bare(s), bare(&c).to_owned()),
            _ => (k, s, c.clone()),
        };
        let events = [
            ("keys_insert", "INSERT", on_k, "NEW.session_id"),
            ("keys_update", "UPDATE", on_k, "NEW.session_id"),
            ("keys_delete", "DELETE", on_k, "OLD.session_id"),
            ("sessions_delete", "DELETE", on_s, "OLD.id"),
        ];
        events
            .into_iter()
            .map(|(event, op, table, id)| {
                let name = t.change_trigger(event);
                let insert =
                    format!("INSERT INTO {into} (session_id, changed_at) VALUES ({id}, {now})");
                let create = match self {
                    Dialect::Sqlite => format!(
                        "CREATE TRIGGER IF NOT EXISTS {name} AFTER {op} ON {table} \
                         FOR EACH ROW BEGIN {insert}; END"
                    ),
                    _ => {
                        format!("CREATE TRIGGER {name} AFTER {op} ON {table} FOR EACH ROW {insert}")
                    }
                };
                (name, create)
            })
            .collect()
    }

    /// The last number logged more than a number of seconds ago, by the
    /// database's clock, walking back from the newest. Binds the seconds.
    pub(crate) fn changes_start(self, t: &Tables) -> String {
        self.placeholders(format!(
            "SELECT seq FROM {} WHERE changed_at < {} - ? ORDER BY seq DESC LIMIT 1",
            t.changes(),
            self.unix_now()
        ))
    }

    /// The first number logged no more than a number of seconds ago, by
    /// the database's clock, walking from the oldest. Binds the seconds.
    pub(crate) fn changes_kept_from(self, t: &Tables) -> String {
        self.placeholders(format!(
            "SELECT seq FROM {} WHERE changed_at >= {} - ? ORDER BY seq LIMIT 1",
            t.changes(),
            self.unix_now()
        ))
    }

    /// At most `limit` changes after a number, in order: number and id.
    /// Binds the number.
    pub(crate) fn read_changes(self, t: &Tables, limit: usize) -> String {
        self.placeholders(format!(
            "SELECT seq, session_id FROM {} WHERE seq > ? ORDER BY seq LIMIT {limit}",
            t.changes()
        ))
    }

    /// Deletes the changes numbered below a number and logged more than a
    /// number of seconds ago. Binds the number, then the seconds.
    pub(crate) fn trim_changes(self, t: &Tables) -> String {
        self.placeholders(format!(
            "DELETE FROM {} WHERE seq < ? AND changed_at < {} - ?",
            t.changes(),
            self.unix_now()
        ))
    }

    /// The database's time, in Unix seconds.
    fn unix_now(self) -> &'static str {
        match self {
            Dialect::Sqlite => "CAST(strftime('%s', 'now') AS INTEGER)",
            _ => "UNIX_TIMESTAMP()",
        }
    }
}
