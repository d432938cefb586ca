//! `SqlBackend`: the `Backend` trait on an sqlx pool, key by key.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use gimlet_core::backend::{
    Backend, BackendError, BackendErrorKind, Batch, Op, Record, Write, WriteMode,
};
use gimlet_core::{Clock, SessionId, SystemClock};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyPool, Row, Transaction};

use crate::errors::{backend_error, is_transient};
use crate::{Dialect, Tables};

/// The default timeout of a load or a commit, waiting for a connection
/// included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Rows of keys per `INSERT`, and names per `DELETE … IN`: well under
/// every dialect's limit on bound parameters.
const CHUNK: usize = 250;

/// Attempts at a transaction that lost a race (deadlock, busy file).
const ATTEMPTS: u32 = 10;

/// A Gimlet backend on SQLite, PostgreSQL or MySQL/MariaDB, through sqlx.
///
/// Storage is key-level: one row per channel (`id`, `expires_at`) and one
/// row per key (`session_id`, `name`, `value`), so concurrent commits that
/// change different keys of one session all survive. A load is one query
/// for both channels; a commit is one transaction. `docs/backends.md` shows
/// the schema of each dialect.
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
#[derive(Debug, Clone)]
pub struct SqlBackend {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    pool: AnyPool,
    dialect: Dialect,
    tables: Tables,
    timeout: Duration,
    clock: Arc<dyn Clock>,
}

/// Configures and connects an [`SqlBackend`].
#[derive(Debug)]
pub struct SqlBackendBuilder {
    url: String,
    tables: Tables,
    timeout: Duration,
    max_connections: Option<u32>,
    create_tables: bool,
    clock: Arc<dyn Clock>,
}

impl SqlBackendBuilder {
    /// The tables to use (default `gimlet_sessions` and
    /// `gimlet_session_keys`).
    #[must_use]
    pub fn tables(mut self, tables: Tables) -> Self {
        self.tables = tables;
        self
    }

    /// The longest a load or a commit may take, waiting for a connection
    /// included (default 5 s).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The pool's size (default: sqlx's, 10; always 1 for an in-memory
    /// SQLite database, which lives and dies with its one connection).
    #[must_use]
    pub fn max_connections(mut self, max: u32) -> Self {
        self.max_connections = Some(max);
        self
    }

    /// Whether [`connect`](Self::connect) creates the tables if they are
    /// missing (default `true`). See [`SqlBackend::migrate`].
    #[must_use]
    pub fn create_tables(mut self, create: bool) -> Self {
        self.create_tables = create;
        self
    }

    /// The clock that decides what has expired (default: the system's).
    #[must_use]
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    fn build(self, connect: bool) -> Result<(SqlBackend, bool), BackendError> {
        sqlx::any::install_default_drivers();
        let unsupported = || {
            BackendError::new(
                BackendErrorKind::Other,
                format!("unsupported database URL scheme in {:?}", redact(&self.url)),
            )
        };
        let dialect = Dialect::of_url(&self.url).ok_or_else(unsupported)?;
        let url = match self.url.strip_prefix("mariadb:") {
            Some(rest) => format!("mysql:{rest}"),
            None => self.url.clone(),
        };
        let memory = dialect == Dialect::Sqlite && url.contains(":memory:");
        let mut options = AnyPoolOptions::new().acquire_timeout(self.timeout);
        if let Some(max) = self.max_connections {
            options = options.max_connections(max);
        }
        if memory {
            options = options
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None);
        }
        if dialect == Dialect::Sqlite {
            options = options.after_connect(move |conn, _| {
                Box::pin(async move {
                    let pragmas = if memory {
                        "PRAGMA busy_timeout = 5000;"
                    } else {
                        "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
                    };
                    sqlx::Executor::execute(conn, pragmas).await?;
                    Ok(())
                })
            });
        }
        let pool = options.connect_lazy(&url).map_err(backend_error)?;
        let backend = SqlBackend {
            inner: Arc::new(Inner {
                pool,
                dialect,
                tables: self.tables,
                timeout: self.timeout,
                clock: self.clock,
            }),
        };
        Ok((backend, connect && self.create_tables))
    }

    /// Connects, and creates the tables if they are missing (unless told
    /// otherwise).
    ///
    /// # Errors
    ///
    /// An unsupported URL, or a database that cannot be reached.
    pub async fn connect(self) -> Result<SqlBackend, BackendError> {
        let (backend, migrate) = self.build(true)?;
        if migrate {
            backend.migrate().await?;
        } else {
            let conn = backend.inner.pool.acquire().await.map_err(backend_error)?;
            drop(conn);
        }
        Ok(backend)
    }

    /// A backend that connects on first use: no I/O now, and errors come
    /// from the first load or commit. Tables are not created.
    ///
    /// # Errors
    ///
    /// An unsupported or malformed URL.
    pub fn connect_lazy(self) -> Result<SqlBackend, BackendError> {
        self.build(false).map(|(backend, _)| backend)
    }
}

/// The URL without its password, for error messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(start), Some(at)) if at > start => {
            format!("{}://…@{}", &url[..start], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

/// Why a transaction did not commit.
enum Abort {
    Sql(sqlx::Error),
    Conflict(BackendError),
}

impl From<sqlx::Error> for Abort {
    fn from(e: sqlx::Error) -> Self {
        Abort::Sql(e)
    }
}

fn now_i64(clock: &dyn Clock) -> i64 {
    i64::try_from(clock.now()).unwrap_or(i64::MAX)
}

fn expires_i64(write: &Write) -> i64 {
    i64::try_from(write.expires_at).unwrap_or(i64::MAX)
}

impl SqlBackend {
    /// Starts configuring a backend on `url`: `sqlite://path?mode=rwc`,
    /// `sqlite::memory:`, `postgres://…`, `mysql://…` or `mariadb://…`.
    pub fn builder(url: impl Into<String>) -> SqlBackendBuilder {
        SqlBackendBuilder {
            url: url.into(),
            tables: Tables::default(),
            timeout: DEFAULT_TIMEOUT,
            max_connections: None,
            create_tables: true,
            clock: Arc::new(SystemClock),
        }
    }

    /// Connects to `url` with the defaults, creating the tables if they
    /// are missing.
    ///
    /// # Errors
    ///
    /// An unsupported URL, or a database that cannot be reached.
    pub async fn connect(url: impl Into<String>) -> Result<Self, BackendError> {
        Self::builder(url).connect().await
    }

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

    /// Runs [`delete_expired`](Backend::delete_expired) every `every`, on
    /// the tokio runtime, until the returned handle is aborted or the
    /// runtime stops. Failures are logged and retried at the next tick.
    pub fn spawn_cleanup(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let backend = self.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                match backend.delete_expired().await {
                    Ok(n) => tracing::debug!(deleted = n, "expired sessions deleted"),
                    Err(e) => tracing::warn!(error = %e, "deleting expired sessions failed"),
                }
            }
        })
    }

    async fn timed<T>(
        &self,
        operation: impl Future<Output = Result<T, BackendError>>,
    ) -> Result<T, BackendError> {
        match tokio::time::timeout(self.inner.timeout, operation).await {
            Ok(result) => result,
            Err(elapsed) => Err(BackendError::new(BackendErrorKind::Timeout, elapsed)),
        }
    }

    async fn begin(&self) -> Result<Transaction<'static, Any>, sqlx::Error> {
        match self.inner.dialect {
            // Take the write lock up front: no deadlock between two
            // readers that both want to write.
            Dialect::Sqlite => self.inner.pool.begin_with("BEGIN IMMEDIATE").await,
            _ => self.inner.pool.begin().await,
        }
    }

    async fn try_commit(&self, batch: &Batch, now: i64) -> Result<(), Abort> {
        let mut tx = self.begin().await?;
        for op in &batch.ops {
            match op {
                Op::Delete(id) => self.delete(&mut tx, &id.to_string()).await?,
                Op::Write(write) => self.write(&mut tx, write, now).await?,
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn delete(
        &self,
        tx: &mut Transaction<'static, Any>,
        id: &str,
    ) -> Result<(), sqlx::Error> {
        let (d, t) = (self.inner.dialect, &self.inner.tables);
        // The session row first: a concurrent writer of this session holds
        // it, so this waits for that writer, and the key rows it committed
        // are then deleted too.
        let sql = d.sql(format!("DELETE FROM {} WHERE id = ?", t.sessions()));
        sqlx::query(&sql).bind(id).execute(&mut **tx).await?;
        let sql = d.sql(format!("DELETE FROM {} WHERE session_id = ?", t.keys()));
        sqlx::query(&sql).bind(id).execute(&mut **tx).await?;
        Ok(())
    }

    /// Makes the session row exist as the write's mode asks, and renews it.
    async fn claim(
        &self,
        tx: &mut Transaction<'static, Any>,
        write: &Write,
        id: &str,
        now: i64,
    ) -> Result<(), Abort> {
        let (d, t) = (self.inner.dialect, &self.inner.tables);
        let expires = expires_i64(write);
        let renew = d.sql(format!(
            "UPDATE {} SET expires_at = ? WHERE id = ? AND expires_at > ?",
            t.sessions()
        ));
        if write.mode == WriteMode::Update {
            let found = sqlx::query(&renew)
                .bind(expires)
                .bind(id)
                .bind(now)
                .execute(&mut **tx)
                .await?
                .rows_affected();
            return if found == 1 {
                Ok(())
            } else {
                Err(Abort::Conflict(BackendError::gone()))
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
        if write.mode == WriteMode::Upsert {
            let live = sqlx::query(&renew)
                .bind(expires)
                .bind(id)
                .bind(now)
                .execute(&mut **tx)
                .await?
                .rows_affected();
            if live == 1 {
                return Ok(());
            }
        }
        let take_over = d.sql(format!(
            "UPDATE {} SET expires_at = ? WHERE id = ? AND expires_at <= ?",
            t.sessions()
        ));
        let expired = sqlx::query(&take_over)
            .bind(expires)
            .bind(id)
            .bind(now)
            .execute(&mut **tx)
            .await?
            .rows_affected();
        if expired == 0 {
            return Err(Abort::Conflict(BackendError::collision()));
        }
        let sql = d.sql(format!("DELETE FROM {} WHERE session_id = ?", t.keys()));
        sqlx::query(&sql).bind(id).execute(&mut **tx).await?;
        Ok(())
    }

    async fn write(
        &self,
        tx: &mut Transaction<'static, Any>,
        write: &Write,
        now: i64,
    ) -> Result<(), Abort> {
        let (d, t) = (self.inner.dialect, &self.inner.tables);
        let id = write.id.to_string();
        self.claim(tx, write, &id, now).await?;
        if write.clear {
            let sql = d.sql(format!("DELETE FROM {} WHERE session_id = ?", t.keys()));
            sqlx::query(&sql)
                .bind(id.as_str())
                .execute(&mut **tx)
                .await?;
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
        Ok(())
    }
}

fn read_row(row: &AnyRow) -> Result<(String, Option<(String, Vec<u8>)>), sqlx::Error> {
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
        let sql = inner.dialect.load(&inner.tables, ids.len());
        let now = now_i64(inner.clock.as_ref());
        self.timed(async {
            let mut query = sqlx::query(&sql);
            for id in &hex {
                query = query.bind(id.as_str());
            }
            let rows = query
                .bind(now)
                .fetch_all(&inner.pool)
                .await
                .map_err(backend_error)?;
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
        let now = now_i64(self.inner.clock.as_ref());
        self.timed(async {
            let mut attempt = 0;
            loop {
                attempt += 1;
                match self.try_commit(batch, now).await {
                    Ok(()) => return Ok(()),
                    Err(Abort::Conflict(e)) => return Err(e),
                    Err(Abort::Sql(e)) if is_transient(&e) && attempt < ATTEMPTS => {
                        tracing::debug!(attempt, error = %e, "session commit lost a race; retrying");
                        let backoff = Duration::from_millis(2u64 << attempt.min(6));
                        tokio::time::sleep(backoff).await;
                    }
                    Err(Abort::Sql(e)) => return Err(backend_error(e)),
                }
            }
        })
        .await
    }

    async fn delete_expired(&self) -> Result<u64, BackendError> {
        let inner = &self.inner;
        let (d, t) = (inner.dialect, &inner.tables);
        let now = now_i64(inner.clock.as_ref());
        self.timed(async {
            let mut tx = self.begin().await.map_err(backend_error)?;
            let keys = d.sql(format!(
                "DELETE FROM {k} WHERE session_id IN (SELECT id FROM {s} WHERE expires_at <= ?)",
                k = t.keys(),
                s = t.sessions()
            ));
            sqlx::query(&keys)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(backend_error)?;
            let sessions = d.sql(format!(
                "DELETE FROM {} WHERE expires_at <= ?",
                t.sessions()
            ));
            let deleted = sqlx::query(&sessions)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(backend_error)?
                .rows_affected();
            tx.commit().await.map_err(backend_error)?;
            Ok(deleted)
        })
        .await
    }
}
