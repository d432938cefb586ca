//! Every SQL statement gimlet-sql runs, and what differs between SQLite,
//! PostgreSQL and MySQL: the schema, upserts, insert-if-absent, and
//! placeholders. Each statement is built for the tables in use, with its
//! placeholders as the dialect wants them. (The log of changes' are with
//! its reader, in `polled.rs`.)

use std::fmt::Write as _;
use std::time::Duration;

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
        statements.extend(self.ended_schema(t));
        statements.extend(self.changes_schema(t));
        statements
    }

    /// The log of endings: a row per ended channel, numbered in the order
    /// the rows were inserted (never reusing a number), and the time.
    fn ended_schema(self, t: &Tables) -> Vec<String> {
        let (e, index) = (t.ended(), t.ended_index());
        match self {
            Dialect::Sqlite => vec![
                format!(
                    "CREATE TABLE IF NOT EXISTS {e} (seq INTEGER PRIMARY KEY AUTOINCREMENT, \
                     session_id TEXT NOT NULL, ended_at INTEGER NOT NULL)"
                ),
                format!("CREATE INDEX IF NOT EXISTS {index} ON {e} (ended_at)"),
            ],
            Dialect::Postgres => vec![
                format!(
                    "CREATE TABLE IF NOT EXISTS {e} (seq BIGSERIAL PRIMARY KEY, \
                     session_id VARCHAR(32) NOT NULL, ended_at BIGINT NOT NULL)"
                ),
                format!("CREATE INDEX IF NOT EXISTS {index} ON {e} (ended_at)"),
            ],
            Dialect::MySql => vec![format!(
                "CREATE TABLE IF NOT EXISTS {e} (seq BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, \
                 session_id CHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL, \
                 ended_at BIGINT NOT NULL, INDEX {index} (ended_at)) ENGINE=InnoDB"
            )],
        }
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

    /// PostgreSQL's channel of changes for `t`'s sessions: the sessions
    /// table's name and `_changed`, within the 63 bytes of an identifier.
    #[cfg(feature = "postgres")]
    pub(crate) fn changes_channel(t: &Tables) -> String {
        let mut channel = format!("{}_changed", t.sessions());
        while channel.len() > 63 {
            channel.pop();
        }
        channel
    }

    /// The triggers that tell PostgreSQL's channel of changes the session
    /// id of every key row written or deleted and of every session row
    /// deleted, at commit (`pg_notify` sends one message per distinct id
    /// and transaction). Idempotent: the functions are replaced, and a
    /// trigger already there is kept.
    #[cfg(feature = "postgres")]
    pub(crate) fn change_triggers(t: &Tables) -> Vec<String> {
        let channel = Self::changes_channel(t).replace('\'', "''");
        let function = |table: &str, column: &str| {
            format!(
                "CREATE OR REPLACE FUNCTION {table}_changed() RETURNS trigger LANGUAGE plpgsql AS $f$ \
                 BEGIN IF TG_OP = 'DELETE' THEN PERFORM pg_notify('{channel}', OLD.{column}); \
                 RETURN OLD; END IF; PERFORM pg_notify('{channel}', NEW.{column}); RETURN NEW; END $f$"
            )
        };
        let trigger = |table: &str, events: &str| {
            format!(
                "DO $d$ BEGIN CREATE TRIGGER gimlet_changed AFTER {events} ON {table} \
                 FOR EACH ROW EXECUTE FUNCTION {table}_changed(); \
                 EXCEPTION WHEN duplicate_object THEN NULL; END $d$"
            )
        };
        let (s, k) = (t.sessions(), t.keys());
        vec![
            function(k, "session_id"),
            trigger(k, "INSERT OR UPDATE OR DELETE"),
            function(s, "id"),
            trigger(s, "DELETE"),
        ]
    }

    /// The dialect's short name: `sqlite`, `postgres` or `mysql`.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgres",
            Dialect::MySql => "mysql",
        }
    }

    /// Begins a SQLite write transaction with the write lock taken up
    /// front.
    pub(crate) const SQLITE_BEGIN: &'static str = "BEGIN IMMEDIATE";

    /// Makes a SQLite file write-ahead logged: a property of the file, set
    /// once.
    pub(crate) const SQLITE_WAL: &'static str = "PRAGMA journal_mode = WAL";

    /// What every new SQLite connection runs first: the busy timeout, and
    /// the sync level.
    pub(crate) fn sqlite_connection_setup(busy_timeout: Duration) -> String {
        let busy_ms = busy_timeout.as_millis();
        format!("PRAGMA busy_timeout = {busy_ms}; PRAGMA synchronous = NORMAL;")
    }

    /// Rewrites `?` placeholders as the dialect wants them.
    pub(crate) fn placeholders(self, sql: String) -> String {
        if self != Dialect::Postgres {
            return sql;
        }
        let mut out = String::with_capacity(sql.len() + 16);
        // Between placeholders the text is copied whole, not char by char.
        for (n, part) in sql.split('?').enumerate() {
            if n > 0 {
                let _ = write!(out, "${n}");
            }
            out.push_str(part);
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

    /// One key's value, read for a compare-and-set inside the commit's
    /// transaction, with a lock where the dialect has one (SQLite's
    /// `BEGIN IMMEDIATE` already holds the whole file). Binds the id, the
    /// name.
    pub(crate) fn key_value(self, t: &Tables) -> String {
        let lock = if self == Dialect::Sqlite {
            ""
        } else {
            " FOR UPDATE"
        };
        self.placeholders(format!(
            "SELECT value FROM {k} WHERE session_id = ? AND name = ?{lock}",
            k = t.keys()
        ))
    }

    /// Sets the expiry of one session if its row is live (`live`) or
    /// expired (`!live`). Binds the expiry, the id, now.
    pub(crate) fn set_expiry(self, t: &Tables, live: bool) -> String {
        let compare = if live { ">" } else { "<=" };
        self.placeholders(format!(
            "UPDATE {} SET expires_at = ? WHERE id = ? AND expires_at {compare} ?",
            t.sessions()
        ))
    }

    /// Deletes one session row. Binds the id.
    pub(crate) fn delete_session(self, t: &Tables) -> String {
        self.placeholders(format!("DELETE FROM {} WHERE id = ?", t.sessions()))
    }

    /// Deletes every key of one session. Binds the id.
    pub(crate) fn delete_all_keys(self, t: &Tables) -> String {
        self.placeholders(format!("DELETE FROM {} WHERE session_id = ?", t.keys()))
    }

    /// Deletes the keys of the expired sessions. Binds now.
    pub(crate) fn delete_expired_keys(self, t: &Tables) -> String {
        self.placeholders(format!(
            "DELETE FROM {k} WHERE session_id IN (SELECT id FROM {s} WHERE expires_at <= ?)",
            k = t.keys(),
            s = t.sessions()
        ))
    }

    /// Deletes the expired session rows. Binds now.
    pub(crate) fn delete_expired_sessions(self, t: &Tables) -> String {
        self.placeholders(format!(
            "DELETE FROM {} WHERE expires_at <= ?",
            t.sessions()
        ))
    }

    /// Deletes the owner index's rows whose session is gone or expired.
    /// Binds now.
    pub(crate) fn delete_orphaned_owners(self, t: &Tables) -> String {
        self.placeholders(format!(
            "DELETE FROM {o} WHERE NOT EXISTS (SELECT 1 FROM {s} s WHERE s.id = {o}.session_id \
             AND s.expires_at > ?)",
            o = t.owners(),
            s = t.sessions()
        ))
    }

    /// The live sessions of one owner: id, channel (`p` permanent, `t`
    /// not), created, expiry. Binds the owner, now.
    pub(crate) fn owned_sessions(self, t: &Tables) -> String {
        self.placeholders(format!(
            "SELECT o.session_id, CASE WHEN o.permanent = 1 THEN 'p' ELSE 't' END, o.created, \
             s.expires_at FROM {o} o JOIN {s} s ON s.id = o.session_id \
             WHERE o.owner = ? AND s.expires_at > ?",
            o = t.owners(),
            s = t.sessions()
        ))
    }

    /// Ends the sessions of one owner but `except` of them, in five
    /// statements run in this order: the live session rows (their count is
    /// how many were live), the expired ones left, then for the index rows
    /// whose session is now gone, their keys, their entries in the log of
    /// endings, and themselves. Each binds the owner, then the `except`
    /// ids; the first binds now after them, the fourth before them.
    ///
    /// The last three look only at sessions gone by then, so a login of
    /// the owner that commits meanwhile keeps its keys and its index row.
    pub(crate) fn end_owned(self, t: &Tables, except: usize) -> [String; 5] {
        let kept = if except == 0 {
            String::new()
        } else {
            format!(" AND session_id NOT IN ({})", vec!["?"; except].join(", "))
        };
        let (s, o) = (t.sessions(), t.owners());
        let owned = format!("SELECT session_id FROM {o} WHERE owner = ?{kept}");
        let gone = format!("NOT EXISTS (SELECT 1 FROM {s} s WHERE s.id = {o}.session_id)");
        [
            // The session rows first, as a logout deletes them: a concurrent
            // writer of one holds its row, and this waits for it.
            format!("DELETE FROM {s} WHERE id IN ({owned}) AND expires_at > ?"),
            format!("DELETE FROM {s} WHERE id IN ({owned})"),
            format!(
                "DELETE FROM {k} WHERE session_id IN ({owned} AND {gone})",
                k = t.keys()
            ),
            format!(
                "INSERT INTO {e} (session_id, ended_at) SELECT session_id, ? FROM {o} \
                 WHERE owner = ?{kept} AND {gone}",
                e = t.ended()
            ),
            format!("DELETE FROM {o} WHERE owner = ?{kept} AND {gone}"),
        ]
        .map(|statement| self.placeholders(statement))
    }

    /// Logs `rows` endings. Binds each id and its time.
    pub(crate) fn insert_ended(self, t: &Tables, rows: usize) -> String {
        let values = vec!["(?, ?)"; rows].join(", ");
        self.placeholders(format!(
            "INSERT INTO {} (session_id, ended_at) VALUES {values}",
            t.ended()
        ))
    }

    /// At most `limit` endings after a number, in order: number and id.
    /// Binds the number.
    pub(crate) fn read_ended(self, t: &Tables, limit: usize) -> String {
        self.placeholders(format!(
            "SELECT seq, session_id FROM {} WHERE seq > ? ORDER BY seq LIMIT {limit}",
            t.ended()
        ))
    }

    /// The last number the log of endings gave.
    pub(crate) fn last_ended(self, t: &Tables) -> String {
        format!("SELECT MAX(seq) FROM {}", t.ended())
    }

    /// Deletes the endings older than a time, but the last: a table left
    /// empty may number its next row from the start again (MariaDB after a
    /// restart), behind every reader's cursor. Binds the time, then the
    /// last number.
    pub(crate) fn trim_ended(self, t: &Tables) -> String {
        self.placeholders(format!(
            "DELETE FROM {} WHERE ended_at < ? AND seq < ?",
            t.ended()
        ))
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
    fn ending_an_owners_sessions_binds_the_owner_the_kept_ids_then_now() {
        let t = Tables::default();
        let [live, ..] = Dialect::Postgres.end_owned(&t, 2);
        assert_eq!(
            live,
            "DELETE FROM gimlet_sessions WHERE id IN (SELECT session_id FROM \
             gimlet_sessions_owners WHERE owner = $1 AND session_id NOT IN ($2, $3)) \
             AND expires_at > $4"
        );
        let [.., logged, _] = Dialect::Postgres.end_owned(&t, 1);
        assert_eq!(
            logged,
            "INSERT INTO gimlet_sessions_ended (session_id, ended_at) SELECT session_id, $1 \
             FROM gimlet_sessions_owners WHERE owner = $2 AND session_id NOT IN ($3) AND \
             NOT EXISTS (SELECT 1 FROM gimlet_sessions s WHERE s.id = \
             gimlet_sessions_owners.session_id)"
        );
        let [.., index] = Dialect::Sqlite.end_owned(&t, 0);
        assert_eq!(
            index,
            "DELETE FROM gimlet_sessions_owners WHERE owner = ? AND NOT EXISTS (SELECT 1 \
             FROM gimlet_sessions s WHERE s.id = gimlet_sessions_owners.session_id)"
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
