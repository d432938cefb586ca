//! The owner index in SQL: a table of owned channels, joined to the
//! sessions table so that only live records count.

use gimlet_core::SessionId;
use gimlet_core::backend::{BackendError, BackendErrorKind, OwnedRecord, Owner};
use sqlx::Row;

use crate::SqlBackend;
use crate::backend::sql_time;
use crate::commit::{retrying, roll_back};
use crate::errors::backend_error;

// Which of `Dialect::end_owned`'s statements counts the
// live sessions, and which logs the endings.
const LIVE: usize = 0;
const LOGGED: usize = 3;

impl SqlBackend {
    /// The live records of `owner`, in one query.
    pub(crate) async fn owned(
        &self,
        owner: &Owner,
        now: u64,
    ) -> Result<Vec<OwnedRecord>, BackendError> {
        let inner = &self.inner;
        let (d, t) = (inner.dialect, &inner.tables);
        let sql = d.owned_sessions(t);
        let now = sql_time(now);
        let rows = self
            .timed(async {
                sqlx::query(&sql)
                    .bind(owner.to_string())
                    .bind(now)
                    .fetch_all(&inner.pool)
                    .await
                    .map_err(backend_error)
            })
            .await?;
        rows.iter()
            .map(|row| {
                let id: String = row.try_get(0).map_err(backend_error)?;
                let channel: String = row.try_get(1).map_err(backend_error)?;
                let created: i64 = row.try_get(2).map_err(backend_error)?;
                let expires_at: i64 = row.try_get(3).map_err(backend_error)?;
                let corrupt = || BackendError::from_kind(BackendErrorKind::Corrupt);
                Ok(OwnedRecord {
                    id: id.parse().map_err(|_| corrupt())?,
                    permanent: channel == "p",
                    created: u64::try_from(created).map_err(|_| corrupt())?,
                    expires_at: u64::try_from(expires_at).map_err(|_| corrupt())?,
                })
            })
            .collect()
    }

    /// Deletes the sessions of `owner` but `except`, their keys and their
    /// index rows, in one transaction; answers how many were live.
    pub(crate) async fn end_owned(
        &self,
        owner: &Owner,
        except: &[SessionId],
    ) -> Result<u64, BackendError> {
        let owner = owner.to_string();
        let except: Vec<String> = except.iter().map(SessionId::to_string).collect();
        self.detached(|backend| async move {
            let end = || async { Ok(backend.end_owned_now(&owner, &except).await?) };
            retrying("ending an owner's sessions", end).await
        })
        .await
    }

    async fn end_owned_now(&self, owner: &str, except: &[String]) -> Result<u64, sqlx::Error> {
        let inner = &self.inner;
        let (d, t) = (inner.dialect, &inner.tables);
        let now = sql_time(inner.clock.now());
        let statements = d.end_owned(t, except.len());
        let mut conn = inner.shelf.lease(&inner.pool).await?;
        let mut tx = self.begin(&mut conn).await?;
        let mut live = 0;
        for (i, sql) in statements.iter().enumerate() {
            let mut query = sqlx::query(sql);
            if i == LOGGED {
                query = query.bind(now);
            }
            query = query.bind(owner);
            for id in except {
                query = query.bind(id.as_str());
            }
            if i == LIVE {
                query = query.bind(now);
            }
            match query.execute(&mut *tx).await {
                Ok(done) if i == LIVE => live = done.rows_affected(),
                Ok(_) => {}
                Err(e) => {
                    roll_back(tx).await;
                    return Err(e);
                }
            }
        }
        tx.commit().await?;
        conn.done();
        Ok(live)
    }

    /// Deletes the index rows whose session is gone or expired, in the
    /// cleanup's transaction.
    pub(crate) async fn delete_orphaned_owners(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        let (d, t) = (self.inner.dialect, &self.inner.tables);
        sqlx::query(&d.delete_orphaned_owners(t))
            .bind(now)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}
