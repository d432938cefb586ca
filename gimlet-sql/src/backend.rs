//! `SqlBackend`: the `Backend` trait on an sqlx pool, key by key.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use async_trait::async_trait;
use gimlet_core::backend::{
    Backend, BackendError, BackendErrorKind, Batch, OwnedRecord, Owner, Record, Revocations,
};
use gimlet_core::{Clock, SessionId};
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

use crate::errors::{backend_error, is_broken_connection};
use crate::shelf::Shelf;
use crate::{Dialect, Tables};

/// A Gimlet backend on SQLite, PostgreSQL or MySQL/MariaDB, through sqlx.
///
/// Storage is key-level: one row per channel (`id`, `expires_at`) and one
/// row per key (`session_id`, `name`, `value`), so concurrent commits that
/// change different keys of one session all survive; a third table holds
/// the owner index (`Session::set_owner`), one row per owned channel, and
/// a fourth logs the endings of the last hour, which every app server
/// reads every 25 ms so that a logout reaches copied cookies at once. A
/// load is one query for both channels; a commit is one transaction.
/// `docs/backends.md` shows the schema of each dialect.
///
/// # Example
///
/// ```no_run
/// use gimlet_core::Gimlet;
/// use gimlet_sql::SqlBackend;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // The embedded default: a file, created with its tables if missing.
/// let backend = SqlBackend::connect("sqlite://sessions.db?mode=rwc").await?;
/// let _cleanup = backend.spawn_cleanup(std::time::Duration::from_secs(600));
/// let gimlet = Gimlet::builder()
///     .secret(std::env::var("GIMLET_SECRET")?)
///     .backend(backend)
///     .build()?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct SqlBackend {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for SqlBackend {
    /// The dialect, tables and timeout; never the pool's address or
    /// credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = &self.inner;
        f.debug_struct("SqlBackend")
            .field("dialect", &inner.dialect)
            .field("tables", &inner.tables)
            .field("timeout", &inner.timeout)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    pub(crate) pool: AnyPool,
    pub(crate) dialect: Dialect,
    pub(crate) tables: Tables,
    pub(crate) timeout: Duration,
    pub(crate) clock: Arc<dyn Clock>,
    /// How many seconds the log of endings keeps: an hour, or the longest
    /// revalidation window of the Gimlets that follow it.
    pub(crate) retention: AtomicU64,
    /// The load's statement for one id and for two (a session's two
    /// channels), written once rather than at every load.
    pub(crate) loads: [String; 2],
    /// The connections kept between loads and commits.
    pub(crate) shelf: Shelf,
    /// The database's URL, for the near caches' listener (PostgreSQL).
    /// Never shown: it may hold a password.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) url: String,
}

impl Inner {
    /// The load's statement for `ids` ids.
    fn load_sql(&self, ids: usize) -> std::borrow::Cow<'_, str> {
        match ids {
            1 | 2 => self.loads[ids - 1].as_str().into(),
            _ => self.dialect.load(&self.tables, ids).into(),
        }
    }
}

/// The shortest period [`SqlBackend::spawn_cleanup`] runs at.
pub const MIN_CLEANUP_INTERVAL: Duration = Duration::from_secs(1);

/// A time (seconds since the Unix epoch) as the tables store it, a signed
/// 64-bit integer; a time past `i64::MAX` is stored as `i64::MAX`.
pub(crate) fn sql_time(seconds: u64) -> i64 {
    i64::try_from(seconds).unwrap_or(i64::MAX)
}

impl SqlBackend {
    /// Creates the tables and the expiry index if they are missing. It is
    /// idempotent: run it at every start, or run `docs/backends.md`'s
    /// statements yourself and skip it.
    ///
    /// # Errors
    ///
    /// The database's error.
    pub async fn migrate(&self) -> Result<(), BackendError> {
        let inner = &self.inner;
        for statement in inner.dialect.schema(&inner.tables) {
            sqlx::query(&statement)
                .execute(&inner.pool)
                .await
                .map_err(backend_error)?;
        }
        Ok(())
    }

    /// The pool.
    pub fn pool(&self) -> &AnyPool {
        &self.inner.pool
    }

    /// The database's dialect.
    pub fn dialect(&self) -> Dialect {
        self.inner.dialect
    }

    /// The tables in use.
    pub fn tables(&self) -> &Tables {
        &self.inner.tables
    }

    /// Runs [`delete_expired`](Backend::delete_expired) every `every`
    /// (at least [`MIN_CLEANUP_INTERVAL`]: a shorter period is raised to
    /// it), on the tokio runtime, until the returned handle is aborted, the
    /// last clone of the backend is dropped, or the runtime stops. Failures
    /// are logged and retried at the next tick. [`connect`](Self::connect)
    /// starts one by default
    /// ([`SqlBackendBuilder::cleanup_every`](crate::SqlBackendBuilder::cleanup_every)).
    pub fn spawn_cleanup(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let every = every.max(MIN_CLEANUP_INTERVAL);
        let backend = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                let Some(inner) = backend.upgrade() else {
                    return;
                };
                match (SqlBackend { inner }).delete_expired().await {
                    Ok(n) => tracing::debug!(deleted = n, "expired sessions deleted"),
                    Err(e) => tracing::warn!(error = %e, "deleting expired sessions failed"),
                }
            }
        })
    }

    /// Runs `work` on a clone of the backend in a task of its own, under
    /// the timeout: a request dropped halfway (a client that went away)
    /// cannot cancel a transaction between its statements; it finishes, or
    /// rolls back. Past the timeout the caller stops waiting, and the
    /// outcome is then unknown.
    pub(crate) async fn detached<T, F, Fut>(&self, work: F) -> Result<T, BackendError>
    where
        T: Send + 'static,
        F: FnOnce(SqlBackend) -> Fut,
        Fut: Future<Output = Result<T, BackendError>> + Send + 'static,
    {
        let task = tokio::spawn(work(self.clone()));
        self.timed(async move {
            task.await
                .map_err(|e| BackendError::new(BackendErrorKind::Other, e))?
        })
        .await
    }

    pub(crate) async fn timed<T>(
        &self,
        operation: impl Future<Output = Result<T, BackendError>>,
    ) -> Result<T, BackendError> {
        gimlet_core::backend::with_timeout(self.inner.timeout, operation).await
    }
}

/// A key and its value.
type Entry = (String, Vec<u8>);

/// A row of the load: the session id, and one of its keys if it has any.
fn read_row(row: &AnyRow) -> Result<(String, Option<Entry>), sqlx::Error> {
    let id: String = row.try_get(0)?;
    let name: Option<String> = row.try_get(1)?;
    let entry = match name {
        Some(name) => Some((
            name,
            row.try_get::<Option<Vec<u8>>, _>(2)?.unwrap_or_default(),
        )),
        None => None,
    };
    Ok((id, entry))
}

#[async_trait]
impl Backend for SqlBackend {
    async fn load(&self, ids: &[SessionId]) -> Result<Vec<Option<Record>>, BackendError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let inner = &self.inner;
        let hex: Vec<String> = ids.iter().map(SessionId::to_string).collect();
        let sql = inner.load_sql(ids.len());
        let now = sql_time(inner.clock.now());
        self.timed(async {
            // A connection in use a moment ago is handed out without a
            // ping: if the server closed it meanwhile (a restart), the load,
            // which changes nothing, runs again on another, until one works
            // or as many as the pool may hold have been tried (each broken
            // one is dropped).
            let mut tries = inner.pool.options().get_max_connections();
            let rows = loop {
                let mut conn = inner
                    .shelf
                    .lease(&inner.pool)
                    .await
                    .map_err(backend_error)?;
                let mut query = sqlx::query(&sql);
                for id in &hex {
                    query = query.bind(id.as_str());
                }
                let rows = query.bind(now).fetch_all(&mut *conn).await;
                conn.done_unless_broken(&rows);
                match rows {
                    Err(e) if is_broken_connection(&e) && tries > 0 => {
                        tracing::debug!(error = %e, "load on a broken connection; retrying");
                        tries -= 1;
                    }
                    rows => break rows.map_err(backend_error)?,
                }
            };
            let mut records: Vec<Option<Record>> = vec![None; ids.len()];
            for row in &rows {
                let (id, entry) = read_row(row).map_err(backend_error)?;
                let Some(slot) = hex.iter().position(|h| *h == id) else {
                    continue;
                };
                let record = records[slot].get_or_insert_with(Record::new);
                if let Some((name, value)) = entry {
                    record.insert(name, value);
                }
            }
            Ok(records)
        })
        .await
    }

    async fn commit(&self, batch: &Batch) -> Result<(), BackendError> {
        if batch.is_empty() {
            return Ok(());
        }
        let batch = batch.clone();
        self.detached(|backend| async move { backend.commit_with_retries(&batch).await })
            .await
    }

    async fn delete_expired(&self) -> Result<u64, BackendError> {
        self.detached(|backend| async move { backend.delete_expired_now().await })
            .await
    }

    fn name(&self) -> &'static str {
        self.inner.dialect.name()
    }

    fn subscribe(&self, revocations: &Arc<Revocations>) -> bool {
        self.follow(revocations)
    }

    fn follow_changes(&self, cache: &Arc<gimlet_core::backend::NearCache>) -> bool {
        match self.inner.dialect {
            #[cfg(feature = "postgres")]
            Dialect::Postgres => self.follow_changes_on(cache),
            _ => self.poll_changes(cache),
        }
    }

    fn owner_index(&self) -> bool {
        true
    }

    async fn sessions_of(&self, owner: &Owner, now: u64) -> Result<Vec<OwnedRecord>, BackendError> {
        self.owned(owner, now).await
    }

    async fn end_sessions_of(
        &self,
        owner: &Owner,
        except: &[SessionId],
    ) -> Result<u64, BackendError> {
        self.end_owned(owner, except).await
    }
}

impl SqlBackend {
    /// [`Backend::delete_expired`], in the caller's task.
    async fn delete_expired_now(&self) -> Result<u64, BackendError> {
        let inner = &self.inner;
        let (d, t) = (inner.dialect, &inner.tables);
        let now = sql_time(inner.clock.now());
        {
            let mut conn = inner
                .shelf
                .lease(&inner.pool)
                .await
                .map_err(backend_error)?;
            let mut tx = self.begin(&mut conn).await.map_err(backend_error)?;
            sqlx::query(&d.delete_expired_keys(t))
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(backend_error)?;
            let deleted = sqlx::query(&d.delete_expired_sessions(t))
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(backend_error)?
                .rows_affected();
            self.delete_orphaned_owners(&mut tx, now)
                .await
                .map_err(backend_error)?;
            self.trim_endings(&mut tx, inner.clock.now())
                .await
                .map_err(backend_error)?;
            self.trim_changes(&mut tx).await.map_err(backend_error)?;
            tx.commit().await.map_err(backend_error)?;
            conn.done();
            Ok(deleted)
        }
    }
}
