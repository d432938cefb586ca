//! `SqlBackendBuilder`: the URL, the tables, the pool and its timeouts;
//! and `SqlBackend::builder` and `SqlBackend::connect`, which start one.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use gimlet_core::backend::{BackendError, BackendErrorKind};
use gimlet_core::{Clock, SystemClock};
use sqlx::any::AnyPoolOptions;

use crate::backend::Inner;
use crate::errors::backend_error;
use crate::shelf::{PING_AFTER_IDLE, Shelf};
use crate::{Dialect, SqlBackend, Tables};

/// The default timeout of a load or a commit, waiting for a connection
/// included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a SQLite statement waits for a lock by default.
const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How often a connected backend deletes its expired sessions by default.
pub const DEFAULT_CLEANUP_EVERY: Duration = Duration::from_secs(600);

impl SqlBackend {
    /// Starts configuring a backend on `url`: `sqlite://path?mode=rwc`,
    /// `sqlite::memory:`, `postgres://…`, `mysql://…` or `mariadb://…`.
    pub fn builder(url: impl Into<String>) -> SqlBackendBuilder {
        SqlBackendBuilder::new(url.into(), Arc::new(SystemClock))
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
}

/// Configures and connects an [`SqlBackend`].
pub struct SqlBackendBuilder {
    url: String,
    tables: Tables,
    timeout: Duration,
    max_connections: Option<u32>,
    create_tables: bool,
    busy_timeout: Duration,
    cleanup_every: Option<Duration>,
    clock: Arc<dyn Clock>,
}

/// `Debug` shows the URL without its password.
impl std::fmt::Debug for SqlBackendBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlBackendBuilder")
            .field("url", &redact(&self.url))
            .field("tables", &self.tables)
            .field("timeout", &self.timeout)
            .field("max_connections", &self.max_connections)
            .field("create_tables", &self.create_tables)
            .field("busy_timeout", &self.busy_timeout)
            .field("cleanup_every", &self.cleanup_every)
            .finish_non_exhaustive()
    }
}

impl SqlBackendBuilder {
    fn new(url: String, clock: Arc<dyn Clock>) -> Self {
        SqlBackendBuilder {
            url,
            tables: Tables::default(),
            timeout: DEFAULT_TIMEOUT,
            max_connections: None,
            create_tables: true,
            busy_timeout: DEFAULT_BUSY_TIMEOUT,
            cleanup_every: Some(DEFAULT_CLEANUP_EVERY),
            clock,
        }
    }

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

    /// How long a SQLite statement waits for another connection's write
    /// lock before it reports the file busy (default 5 s; the pool's other
    /// dialects ignore it). A commit that finds the file busy is retried,
    /// up to ten attempts with a growing pause, within the
    /// [`timeout`](Self::timeout).
    #[must_use]
    pub fn sqlite_busy_timeout(mut self, wait: Duration) -> Self {
        self.busy_timeout = wait;
        self
    }

    /// How often the connected backend deletes expired sessions, their
    /// keys and their owner rows, in a task of its own on the tokio runtime
    /// (default every 10 minutes; at least [`MIN_CLEANUP_INTERVAL`](crate::MIN_CLEANUP_INTERVAL)). The
    /// task stops when the last clone of the backend is dropped. Without
    /// it, a table under steady anonymous traffic grows by a row per
    /// visitor forever.
    #[must_use]
    pub fn cleanup_every(mut self, every: Duration) -> Self {
        self.cleanup_every = Some(every);
        self
    }

    /// No cleanup task: expired sessions stay in the tables until
    /// something calls [`delete_expired`](gimlet_core::backend::Backend::delete_expired)
    /// (a cron job, or one app server of many).
    #[must_use]
    pub fn without_cleanup(mut self) -> Self {
        self.cleanup_every = None;
        self
    }

    /// The clock that decides what has expired (default: the system's).
    #[must_use]
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The backend, whether to migrate, and whether it is a SQLite file.
    fn build(&self, connect: bool) -> Result<(SqlBackend, bool, bool), BackendError> {
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
        let mut options = AnyPoolOptions::new()
            .acquire_timeout(self.timeout)
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    // As the shelf does: a connection that worked a moment
                    // ago is used as it is; an idle one may have been
                    // closed by the server meanwhile. One that does not
                    // answer is closed, and the pool hands out another.
                    let alive = meta.idle_for < PING_AFTER_IDLE
                        || sqlx::Connection::ping(conn).await.is_ok();
                    Ok(alive)
                })
            });
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
            // WAL is a property of the file, set once at `connect`; every
            // connection gets the busy timeout and the sync level.
            let busy_timeout = self.busy_timeout;
            options = options.after_connect(move |conn, _| {
                Box::pin(async move {
                    let pragmas = Dialect::sqlite_connection_setup(busy_timeout);
                    sqlx::Executor::execute(conn, pragmas.as_str()).await?;
                    Ok(())
                })
            });
        }
        let pool = options.connect_lazy(&url).map_err(backend_error)?;
        let shelf = Shelf::new(pool.options().get_max_connections());
        let backend = SqlBackend {
            inner: Arc::new(Inner {
                pool,
                dialect,
                loads: [1, 2].map(|ids| dialect.load(&self.tables, ids)),
                shelf,
                tables: self.tables.clone(),
                timeout: self.timeout,
                clock: self.clock.clone(),
                retention: AtomicU64::new(gimlet_core::backend::feed::MIN_RETENTION),
                url: url.clone(),
            }),
        };
        Ok((
            backend,
            connect && self.create_tables,
            dialect == Dialect::Sqlite && !memory,
        ))
    }

    /// Connects, creates the tables if they are missing (unless told
    /// otherwise), and starts the cleanup task (unless told otherwise:
    /// [`cleanup_every`](Self::cleanup_every)).
    ///
    /// # Errors
    ///
    /// An unsupported URL, or a database that cannot be reached.
    pub async fn connect(self) -> Result<SqlBackend, BackendError> {
        let (backend, migrate, sqlite_file) = self.build(true)?;
        if sqlite_file {
            sqlx::query(Dialect::SQLITE_WAL)
                .execute(&backend.inner.pool)
                .await
                .map_err(backend_error)?;
        }
        if migrate {
            backend.migrate().await?;
        } else {
            let conn = backend.inner.pool.acquire().await.map_err(backend_error)?;
            drop(conn);
        }
        if let Some(every) = self.cleanup_every {
            drop(backend.spawn_cleanup(every));
        }
        Ok(backend)
    }

    /// A backend that connects on first use: no I/O now, and errors come
    /// from the first load or commit. Tables are not created, and no
    /// cleanup task starts (call [`SqlBackend::spawn_cleanup`] once the
    /// runtime runs).
    ///
    /// # Errors
    ///
    /// An unsupported or malformed URL.
    pub fn connect_lazy(self) -> Result<SqlBackend, BackendError> {
        self.build(false).map(|(backend, _, _)| backend)
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
