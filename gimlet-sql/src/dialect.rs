//! What differs between SQLite, PostgreSQL and MySQL: the schema, upserts,
//! insert-if-absent, and placeholders.

use std::fmt::Write as _;

use crate::Tables;

/// The SQL dialect of a database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Dialect {
    /// SQLite 3.24 or later.
    Sqlite,
    /// PostgreSQL 9.5 or later.
    Postgres,
    /// MySQL 8 or MariaDB 10.5 or later.
    MySql,
}

impl Dialect {
    /// The dialect of a database URL, by its scheme.
    pub fn of_url(url: &str) -> Option<Self> {
        let scheme = url.split(':').next()?.to_ascii_lowercase();
        match scheme.as_str() {
            "sqlite" => Some(Dialect::Sqlite),
            "postgres" | "postgresql" => Some(Dialect::Postgres),
            "mysql" | "mariadb" => Some(Dialect::MySql),
            _ => None,
        }
    }

    /// The statements that create the tables and the indexes, if missing.
    pub(crate) fn schema(self, t: &Tables) -> Vec<String> {
        let mut statements = self.session_schema(t);
        let (o, index) = (t.owners(), t.owner_index());
        statements.extend(match self {
            Dialect::Sqlite => vec![
                format!(
                    "CREATE TABLE IF NOT EXISTS {o} (session_id TEXT PRIMARY KEY, owner TEXT NOT NULL, \
                     permanent INTEGER NOT NULL, created INTEGER NOT NULL, until_at INTEGER NOT NULL) \
                     WITHOUT ROWID"
                ),
                format!("CREATE INDEX IF NOT EXISTS {index} ON {o} (owner)"),
            ],
            Dialect::Postgres => vec![
                format!(
                    "CREATE TABLE IF NOT EXISTS {o} (session_id VARCHAR(32) PRIMARY KEY, \
                     owner VARCHAR(32) NOT NULL, permanent SMALLINT NOT NULL, created BIGINT NOT NULL, \
                     until_at BIGINT NOT NULL)"
                ),
                format!("CREATE INDEX IF NOT EXISTS {index} ON {o} (owner)"),
            ],
            Dialect::MySql => vec![format!(
                "CREATE TABLE IF NOT EXISTS {o} (session_id CHAR(32) CHARACTER SET ascii COLLATE \
                 ascii_bin PRIMARY KEY, owner CHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL, \
                 permanent SMALLINT NOT NULL, created BIGINT NOT NULL, until_at BIGINT NOT NULL, \
                 INDEX {index} (owner)) ENGINE=InnoDB"
            )],
        });
        statements
    }

    fn session_schema(self, t: &Tables) -> Vec<String> {
        let (s, k, index) = (t.sessions(), t.keys(), t.expiry_index());
        match self {
            Dialect::Sqlite => vec![
                format!(
                    "CREATE TABLE IF NOT EXISTS {s} (id TEXT PRIMARY KEY, expires_at INTEGER NOT NULL) WITHOUT ROWID"
                ),
                format!("CREATE INDEX IF NOT EXISTS {index} ON {s} (expires_at)"),
                format!(
                    "CREATE TABLE IF NOT EXISTS {k} (session_id TEXT NOT NULL, name TEXT NOT NULL, \
                     value BLOB NOT NULL, PRIMARY KEY (session_id, name)) WITHOUT ROWID"
                ),
            ],
            Dialect::Postgres => vec![
                format!(
                    "CREATE TABLE IF NOT EXISTS {s} (id VARCHAR(32) PRIMARY KEY, expires_at BIGINT NOT NULL)"
                ),
                format!("CREATE INDEX IF NOT EXISTS {index} ON {s} (expires_at)"),
                format!(
                    "CREATE TABLE IF NOT EXISTS {k} (session_id VARCHAR(32) NOT NULL, name TEXT NOT NULL, \
                     value BYTEA NOT NULL, PRIMARY KEY (session_id, name))"
                ),
            ],
            Dialect::MySql => vec![
                format!(
                    "CREATE TABLE IF NOT EXISTS {s} (id CHAR(32) CHARACTER SET ascii COLLATE ascii_bin \
                     PRIMARY KEY, expires_at BIGINT NOT NULL, INDEX {index} (expires_at)) ENGINE=InnoDB"
                ),
                format!(
                    "CREATE TABLE IF NOT EXISTS {k} (session_id CHAR(32) CHARACTER SET ascii COLLATE \
                     ascii_bin NOT NULL, name VARBINARY(128) NOT NULL, value LONGBLOB NOT NULL, \
                     PRIMARY KEY (session_id, name)) ENGINE=InnoDB"
                ),
            ],
        }
    }

    /// The dialect's short name: `sqlite`, `postgres` or `mysql`.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgres",
            Dialect::MySql => "mysql",
        }
    }

    /// Rewrites `?` placeholders as the dialect wants them.
    pub(crate) fn placeholders(self, sql: String) -> String {
        if self != Dialect::Postgres {
            return sql;
        }
        let mut out = String::with_capacity(sql.len() + 16);
        let mut n = 0;
        for c in sql.chars() {
            if c == '?' {
                n += 1;
                let _ = write!(out, "${n}");
            } else {
                out.push(c);
            }
        }
        out
    }

    /// Inserts a session row unless its id exists: one row affected if it
    /// was inserted, none if not.
    pub(crate) fn insert_session(self, t: &Tables) -> String {
        let s = t.sessions();
        self.placeholders(match self {
            Dialect::MySql => format!("INSERT IGNORE INTO {s} (id, expires_at) VALUES (?, ?)"),
            _ => format!("INSERT INTO {s} (id, expires_at) VALUES (?, ?) ON CONFLICT DO NOTHING"),
        })
    }

    /// Sets `rows` keys of one session, replacing existing values.
    pub(crate) fn upsert_keys(self, t: &Tables, rows: usize) -> String {
        let k = t.keys();
        let mut sql = format!("INSERT INTO {k} (session_id, name, value) VALUES ");
        for i in 0..rows {
            sql.push_str(if i == 0 { "(?, ?, ?)" } else { ", (?, ?, ?)" });
        }
        sql.push_str(match self {
            Dialect::MySql => " ON DUPLICATE KEY UPDATE value = VALUES(value)",
            _ => " ON CONFLICT (session_id, name) DO UPDATE SET value = excluded.value",
        });
        self.placeholders(sql)
    }

    /// Renews a live session's expiry and sets `rows` of its keys, in one
    /// statement (PostgreSQL only: its `UPDATE` can feed an `INSERT`).
    /// Binds the expiry, the id, now, then each key's name and value. Each
    /// key counts as a row affected; none do if the session is not live.
    pub(crate) fn renew_and_upsert_keys(self, t: &Tables, rows: usize) -> Option<String> {
        if self != Dialect::Postgres {
            return None;
        }
        let values = vec!["(?, ?)"; rows].join(", ");
        Some(self.placeholders(format!(
            "WITH live AS (UPDATE {s} SET expires_at = ? WHERE id = ? AND expires_at > ? \
             RETURNING id) INSERT INTO {k} (session_id, name, value) \
             SELECT live.id, v.name, v.value FROM live, (VALUES {values}) AS v (name, value) \
             ON CONFLICT (session_id, name) DO UPDATE SET value = excluded.value",
            s = t.sessions(),
            k = t.keys(),
        )))
    }

    /// Records, or records again, that a session belongs to an owner.
    /// Binds the id, the owner, permanent (0 or 1), created, until.
    pub(crate) fn upsert_owner(self, t: &Tables) -> String {
        let o = t.owners();
        let insert = format!(
            "INSERT INTO {o} (session_id, owner, permanent, created, until_at) VALUES (?, ?, ?, ?, ?)"
        );
        self.placeholders(match self {
            Dialect::MySql => format!(
                "{insert} ON DUPLICATE KEY UPDATE owner = VALUES(owner), permanent = VALUES(permanent), \
                 created = VALUES(created), until_at = VALUES(until_at)"
            ),
            _ => format!(
                "{insert} ON CONFLICT (session_id) DO UPDATE SET owner = excluded.owner, \
                 permanent = excluded.permanent, created = excluded.created, until_at = excluded.until_at"
            ),
        })
    }

    /// Loads the live sessions among `ids` ids, with their keys.
    pub(crate) fn load(self, t: &Tables, ids: usize) -> String {
        let list = vec!["?"; ids].join(", ");
        // MySQL keeps names as bytes (VARBINARY), so that comparisons pad no
        // spaces: `a` and `a ` are two keys. They are read back as text.
        let name = match self {
            Dialect::MySql => "CAST(k.name AS CHAR CHARACTER SET utf8mb4)",
            Dialect::Sqlite | Dialect::Postgres => "k.name",
        };
        self.placeholders(format!(
            "SELECT s.id, {name}, k.value FROM {s} s LEFT JOIN {k} k ON k.session_id = s.id \
             WHERE s.id IN ({list}) AND s.expires_at > ?",
            s = t.sessions(),
            k = t.keys(),
        ))
    }

    /// Deletes `names` keys of one session.
    pub(crate) fn delete_keys(self, t: &Tables, names: usize) -> String {
        let list = vec!["?"; names].join(", ");
        self.placeholders(format!(
            "DELETE FROM {k} WHERE session_id = ? AND name IN ({list})",
            k = t.keys()
        ))
    }

    /// Any other statement, with its placeholders rewritten.
    pub(crate) fn sql(self, sql: String) -> String {
        self.placeholders(sql)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_numbers_its_placeholders() {
        let t = Tables::default();
        assert_eq!(
            Dialect::Postgres.delete_keys(&t, 2),
            "DELETE FROM gimlet_session_keys WHERE session_id = $1 AND name IN ($2, $3)"
        );
        assert_eq!(
            Dialect::Sqlite.delete_keys(&t, 1),
            "DELETE FROM gimlet_session_keys WHERE session_id = ? AND name IN (?)"
        );
    }

    #[test]
    fn urls_name_their_dialect() {
        assert_eq!(Dialect::of_url("sqlite://x.db"), Some(Dialect::Sqlite));
        assert_eq!(Dialect::of_url("sqlite::memory:"), Some(Dialect::Sqlite));
        assert_eq!(
            Dialect::of_url("postgresql://h/db"),
            Some(Dialect::Postgres)
        );
        assert_eq!(Dialect::of_url("mariadb://h/db"), Some(Dialect::MySql));
        assert_eq!(Dialect::of_url("redis://h"), None);
    }
}
