//! `SqlPeerStore`: tower-sessions-sqlx-store's table, read for an import.

use async_trait::async_trait;
use gimlet_core::backend::BackendError;
use gimlet_core::import::PeerStore;
use sqlx::Row;

use crate::errors::backend_error;
use crate::tables::{self, InvalidTableName};
use crate::{Dialect, SqlBackend};

/// The sessions tower-sessions-sqlx-store kept in a database, for a
/// [`gimlet_core::import::Import`]: one row per session, `(id, data,
/// expiry_date)`, in its default table (PostgreSQL and MySQL:
/// `tower_sessions.session`; SQLite: `tower_sessions`) or the one
/// [`table`](SqlPeerStore::table) names. A load is one `SELECT`, a delete
/// one `DELETE`, under the timeout of the [`SqlBackend`] whose pool it
/// uses; the import checks the record's own expiry.
///
/// ```no_run
/// use gimlet_core::import::Import;
/// use gimlet_sql::SqlPeerStore;
///
/// # async fn f() -> Result<(), gimlet_core::backend::BackendError> {
/// let peer = SqlPeerStore::connect("postgres://localhost/app").await?;
/// let import = Import::tower_sessions(peer);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct SqlPeerStore {
    sql: SqlBackend,
    load: String,
    delete: String,
}

impl SqlPeerStore {
    /// The peer's table on the database of `url` (any URL
    /// [`SqlBackend::builder`] takes), with a pool of its own. It changes
    /// nothing in the peer's database: no table created, no cleanup, no
    /// journal mode set on a SQLite file.
    ///
    /// # Errors
    ///
    /// An unsupported URL, or a database that cannot be reached.
    pub async fn connect(url: impl Into<String>) -> Result<Self, BackendError> {
        let sql = SqlBackend::builder(url).without_cleanup().connect_lazy()?;
        // Reached now, so that a wrong URL fails at start, not at the
        // first import.
        drop(sql.pool().acquire().await.map_err(backend_error)?);
        Ok(Self::on(&sql))
    }

    /// The peer's table in the database `sql` reaches, through its pool
    /// and under its timeout: for a Gimlet whose own sessions live in the
    /// same database.
    pub fn on(sql: &SqlBackend) -> Self {
        let table = match sql.dialect() {
            Dialect::Sqlite => "tower_sessions",
            _ => "tower_sessions.session",
        };
        let mut store = SqlPeerStore {
            sql: sql.clone(),
            load: String::new(),
            delete: String::new(),
        };
        store.statements(table);
        store
    }

    /// The peer's table, if not its default: `table` or `schema.table`,
    /// as given to tower-sessions-sqlx-store's `with_table_name` (and
    /// `with_schema_name`).
    ///
    /// # Errors
    ///
    /// A name that is not a plain identifier, or two joined by a `.`.
    pub fn table(mut self, name: &str) -> Result<Self, InvalidTableName> {
        let name = tables::check(name)?;
        self.statements(&name);
        Ok(self)
    }

    fn statements(&mut self, name: &str) {
        let dialect = self.sql.dialect();
        let quote = if dialect == Dialect::MySql { '`' } else { '"' };
        let table = name
            .split('.')
            .map(|part| format!("{quote}{part}{quote}"))
            .collect::<Vec<_>>()
            .join(".");
        self.load = dialect.placeholders(format!("SELECT data FROM {table} WHERE id = ?"));
        self.delete = dialect.placeholders(format!("DELETE FROM {table} WHERE id = ?"));
    }
}

#[async_trait]
impl PeerStore for SqlPeerStore {
    async fn load(&self, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
        let query = sqlx::query(&self.load).bind(key);
        let row = self
            .sql
            .timed(async {
                query
                    .fetch_optional(self.sql.pool())
                    .await
                    .map_err(backend_error)
            })
            .await?;
        row.map(|row| row.try_get::<Vec<u8>, _>(0).map_err(backend_error))
            .transpose()
    }

    async fn delete(&self, key: &str) -> Result<(), BackendError> {
        let query = sqlx::query(&self.delete).bind(key);
        self.sql
            .timed(async { query.execute(self.sql.pool()).await.map_err(backend_error) })
            .await
            .map(drop)
    }
}
