//! The write path: one transaction per batch, retried when it loses a race.

use std::future::Future;
use std::time::Duration;

use gimlet_core::backend::{BackendError, Batch, Op, Write, WriteMode};
use sqlx::AnyConnection;
use sqlx::{Any, Connection, Transaction};

use crate::backend::sql_time;
use crate::errors::{backend_error, is_broken_connection, is_transient};
use crate::{Dialect, SqlBackend};

/// Rows of keys per `INSERT`, and names per `DELETE … IN`: well under
/// every dialect's limit on bound parameters.
const CHUNK: usize = 250;

/// Attempts at a transaction that lost a race (deadlock, busy file).
const ATTEMPTS: u32 = 10;

/// Why a transaction did not commit.
pub(crate) enum Abort {
    Sql(sqlx::Error),
    Conflict(BackendError),
}

impl From<sqlx::Error> for Abort {
    fn from(e: sqlx::Error) -> Self {
        Abort::Sql(e)
    }
}

/// Runs `transaction` until it commits, or fails for a reason other than
/// a lost race (a deadlock, a busy file), at most [`ATTEMPTS`] times, with
/// a growing pause between attempts.
pub(crate) async fn retrying<T, F, Fut>(
    what: &'static str,
    mut transaction: F,
) -> Result<T, BackendError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Abort>>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match transaction().await {
            Ok(done) => return Ok(done),
            Err(Abort::Conflict(e)) => return Err(e),
            Err(Abort::Sql(e)) if is_transient(&e) && attempt < ATTEMPTS => {
                tracing::debug!(attempt, error = %e, "{what} lost a race; retrying");
                tokio::time::sleep(Duration::from_millis(2u64 << attempt.min(6))).await;
            }
            Err(Abort::Sql(e)) => return Err(backend_error(e)),
        }
    }
}

/// Rolls `tx` back now rather than when it is dropped: a connection must
/// not go back to the pool with a rollback still pending, or the next
/// `BEGIN IMMEDIATE` on it fails. A failed rollback is only logged; the
/// caller reports the error that made it roll back.
pub(crate) async fn roll_back(tx: Transaction<'_, Any>) {
    if let Err(e) = tx.rollback().await {
        tracing::debug!(error = %e, "rollback failed");
    }
}

impl SqlBackend {
    /// Commits `batch` in one transaction, trying again (with a growing
    /// pause) when it lost a race with another transaction.
    pub(crate) async fn commit_with_retries(&self, batch: &Batch) -> Result<(), BackendError> {
        let now = sql_time(self.inner.clock.now());
        retrying("session commit", || self.try_commit(batch, now)).await
    }

    /// Begins a transaction on `conn`.
    pub(crate) async fn begin<'c>(
        &self,
        conn: &'c mut AnyConnection,
    ) -> Result<Transaction<'c, Any>, sqlx::Error> {
        match self.inner.dialect {
            // Take the write lock up front: no deadlock between two
            // readers that both want to write.
            Dialect::Sqlite => conn.begin_with(Dialect::SQLITE_BEGIN).await,
            _ => conn.begin().await,
        }
    }

    async fn try_commit(&self, batch: &Batch, now: i64) -> Result<(), Abort> {
        if let Some(done) = self.try_one_statement(batch, now).await {
            return done;
        }
        let mut tries = self.inner.pool.options().get_max_connections();
        loop {
            let mut conn = self.inner.shelf.lease(&self.inner.pool).await?;
            let tx = match self.begin(&mut conn).await {
                // Nothing was sent but the `BEGIN`: another connection can
                // take the whole batch (a server restart closed this one).
                Err(e) if is_broken_connection(&e) && tries > 0 => {
                    tries -= 1;
                    continue;
                }
                tx => tx?,
            };
            let result = self.apply(tx, batch, now).await;
            // Committed, or rolled back after a conflict: the connection is
            // ready for the next. After any other error the pool checks it.
            if matches!(result, Ok(()) | Err(Abort::Conflict(_))) {
                conn.done();
            }
            return result;
        }
    }

    /// Applies `batch` in the transaction `tx`, and commits it.
    async fn apply(
        &self,
        mut tx: Transaction<'_, Any>,
        batch: &Batch,
        now: i64,
    ) -> Result<(), Abort> {
        let mut applied = Ok(());
        for op in &batch.ops {
            applied = match op {
                Op::Delete(id) => self
                    .delete(&mut tx, &id.to_string())
                    .await
                    .map_err(Abort::from),
                Op::Retire(id) => self.retire(&mut tx, &id.to_string(), now).await,
                Op::Write(write) => self.write(&mut tx, write, now).await,
            };
            if applied.is_err() {
                break;
            }
        }
        if applied.is_ok() {
            applied = self
                .log_endings(&mut tx, batch, now)
                .await
                .map_err(Abort::from);
        }
        match applied {
            Ok(()) => tx.commit().await.map_err(Abort::from),
            Err(abort) => {
                roll_back(tx).await;
                Err(abort)
            }
        }
    }

    /// The commit of most requests that write, a live session's expiry
    /// and a few of its keys, as one statement, which the database applies
    /// atomically without a transaction: one round trip instead of four
    /// (`BEGIN`, the expiry, the keys, `COMMIT`). The session row is locked
    /// first, as in a transaction. `None` when the batch is not of that
    /// shape, or the dialect cannot write both tables in one statement.
    async fn try_one_statement(&self, batch: &Batch, now: i64) -> Option<Result<(), Abort>> {
        let [Op::Write(write)] = batch.ops.as_slice() else {
            return None;
        };
        let simple = write.mode == WriteMode::Update
            && !write.clear
            && write.remove.is_empty()
            && write.expect.is_empty();
        let (d, t) = (self.inner.dialect, &self.inner.tables);
        let sql = match write.set.len() {
            _ if !simple => return None,
            0 => d.set_expiry(t, true),
            rows if rows <= CHUNK => d.renew_and_upsert_keys(t, rows)?,
            _ => return None,
        };
        let id = write.id.to_string();
        let mut query = sqlx::query(&sql)
            .bind(sql_time(write.expires_at))
            .bind(id.as_str())
            .bind(now);
        for (name, value) in &write.set {
            query = query.bind(name.as_str()).bind(value.as_slice());
        }
        let mut conn = match self.inner.shelf.lease(&self.inner.pool).await {
            Ok(conn) => conn,
            Err(e) => return Some(Err(Abort::Sql(e))),
        };
        let done = query.execute(&mut *conn).await;
        conn.done_unless_broken(&done);
        // A live session changes at least one row (its own, or each key);
        // a session gone changes none.
        Some(match done {
            Ok(done) if done.rows_affected() == 0 => Err(Abort::Conflict(BackendError::gone())),
            Ok(_) => Ok(()),
            Err(e) => Err(Abort::Sql(e)),
        })
    }

    async fn delete(&self, tx: &mut Transaction<'_, Any>, id: &str) -> Result<(), sqlx::Error> {
        let (d, t) = (self.inner.dialect, &self.inner.tables);
        // The session row first: a concurrent writer of this session holds
        // it, so this waits for that writer, and the key rows it committed
        // are then deleted too.
        sqlx::query(&d.delete_session(t))
            .bind(id)
            .execute(&mut **tx)
            .await?;
        self.delete_all_keys(tx, id).await
    }

    /// Deletes a session that must be live, or refuses the batch (`Gone`).
    async fn retire(&self, tx: &mut Transaction<'_, Any>, id: &str, now: i64) -> Result<(), Abort> {
        // Expiring the live row now locks it, as a delete would, and
        // answers whether there was one.
        if !self.set_expiry(tx, id, now, now, true).await? {
            return Err(Abort::Conflict(BackendError::gone()));
        }
        Ok(self.delete(tx, id).await?)
    }

    /// Adds the batch's deleted and retired ids to the log of endings,
    /// last before the commit, so that the numbers the rows take become
    /// visible to readers soon after they are taken.
    async fn log_endings(
        &self,
        tx: &mut Transaction<'_, Any>,
        batch: &Batch,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        let ended: Vec<String> = batch.ended().map(|id| id.to_string()).collect();
        let (d, t) = (self.inner.dialect, &self.inner.tables);
        for ids in ended.chunks(CHUNK) {
            let sql = d.insert_ended(t, ids.len());
            let mut query = sqlx::query(&sql);
            for id in ids {
                query = query.bind(id.as_str()).bind(now);
            }
            query.execute(&mut **tx).await?;
        }
        Ok(())
    }

    async fn delete_all_keys(
        &self,
        tx: &mut Transaction<'_, Any>,
        id: &str,
    ) -> Result<(), sqlx::Error> {
        let (d, t) = (self.inner.dialect, &self.inner.tables);
        sqlx::query(&d.delete_all_keys(t))
            .bind(id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Sets the expiry of session `id` if its row is live (`live`) or
    /// expired (`!live`); answers whether there was such a row.
    async fn set_expiry(
        &self,
        tx: &mut Transaction<'_, Any>,
        id: &str,
        expires: i64,
        now: i64,
        live: bool,
    ) -> Result<bool, sqlx::Error> {
        let (d, t) = (self.inner.dialect, &self.inner.tables);
        let found = sqlx::query(&d.set_expiry(t, live))
            .bind(expires)
            .bind(id)
            .bind(now)
            .execute(&mut **tx)
            .await?
            .rows_affected();
        Ok(found == 1)
    }

    /// Refuses the batch (`Changed`) if a key the write expects unchanged
    /// holds something else. After [`claim`](Self::claim), which holds the
    /// session's row: a concurrent writer of the session has committed, or
    /// waits.
    async fn check_expected(
        &self,
        tx: &mut Transaction<'_, Any>,
        write: &Write,
        id: &str,
    ) -> Result<(), Abort> {
        if write.expect.is_empty() {
            return Ok(());
        }
        let sql = self.inner.dialect.key_value(&self.inner.tables);
        for (name, expected) in &write.expect {
            let current: Option<Vec<u8>> = sqlx::query_scalar(&sql)
                .bind(id)
                .bind(name.as_str())
                .fetch_optional(&mut **tx)
                .await?;
            if current != *expected {
                return Err(Abort::Conflict(BackendError::changed()));
            }
        }
        Ok(())
    }

    /// Makes the session row exist as the write's mode asks, and renews it.
    async fn claim(
        &self,
        tx: &mut Transaction<'_, Any>,
        write: &Write,
        id: &str,
        now: i64,
    ) -> Result<(), Abort> {
        let (d, t) = (self.inner.dialect, &self.inner.tables);
        let expires = sql_time(write.expires_at);
        if write.mode == WriteMode::Update {
            return match self.set_expiry(tx, id, expires, now, true).await? {
                true => Ok(()),
                false => Err(Abort::Conflict(BackendError::gone())),
            };
        }
        let inserted = sqlx::query(&d.insert_session(t))
            .bind(id)
            .bind(expires)
            .execute(&mut **tx)
            .await?
            .rows_affected();
        if inserted == 1 {
            return Ok(());
        }
        // The id exists. A live row is a collision for a new id, and the
        // session itself for an upsert; an expired row is taken over, with
        // its old keys deleted.
        if write.mode == WriteMode::Upsert && self.set_expiry(tx, id, expires, now, true).await? {
            return Ok(());
        }
        if !self.set_expiry(tx, id, expires, now, false).await? {
            return Err(Abort::Conflict(BackendError::collision()));
        }
        self.delete_all_keys(tx, id).await?;
        Ok(())
    }

    async fn write(
        &self,
        tx: &mut Transaction<'_, Any>,
        write: &Write,
        now: i64,
    ) -> Result<(), Abort> {
        let (d, t) = (self.inner.dialect, &self.inner.tables);
        let id = write.id.to_string();
        self.claim(tx, write, &id, now).await?;
        self.check_expected(tx, write, &id).await?;
        if write.clear {
            self.delete_all_keys(tx, &id).await?;
        } else {
            for names in write.remove.chunks(CHUNK) {
                let sql = d.delete_keys(t, names.len());
                let mut query = sqlx::query(&sql).bind(id.as_str());
                for name in names {
                    query = query.bind(name.as_str());
                }
                query.execute(&mut **tx).await?;
            }
        }
        for rows in write.set.chunks(CHUNK) {
            let sql = d.upsert_keys(t, rows.len());
            let mut query = sqlx::query(&sql);
            for (name, value) in rows {
                query = query
                    .bind(id.as_str())
                    .bind(name.as_str())
                    .bind(value.as_slice());
            }
            query.execute(&mut **tx).await?;
        }
        if let Some(owned) = &write.owner {
            sqlx::query(&d.upsert_owner(t))
                .bind(id.as_str())
                .bind(owned.owner.to_string())
                .bind(i16::from(owned.permanent))
                .bind(sql_time(owned.created))
                .bind(sql_time(owned.until))
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }
}
