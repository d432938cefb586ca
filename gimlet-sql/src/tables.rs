//! Table names: configurable, and checked before they reach SQL.

use std::fmt;

use gimlet_core::backend::BackendError;
use gimlet_core::backend::BackendErrorKind;

/// The tables Gimlet uses: one row per channel, one row per key, and two
/// named after the first: the owner index (one row per owned channel, with
/// `_owners` added) and the log of endings that every app server follows
/// (one row per ended channel, kept an hour, with `_ended` added).
///
/// Names are checked when they are set: ASCII letters, digits and `_`,
/// not starting with a digit, at most 63 characters (56 for the first, to
/// leave room for `_owners`), optionally with one schema prefix
/// (`schema.table`). Nothing else ever reaches SQL.
///
/// # Example
///
/// ```
/// use gimlet_sql::Tables;
///
/// let tables = Tables::new("app_sessions", "app_session_keys").unwrap();
/// assert!(Tables::new("sessions; DROP TABLE users", "keys").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tables {
    sessions: String,
    keys: String,
}

impl Default for Tables {
    fn default() -> Self {
        Tables {
            sessions: "gimlet_sessions".into(),
            keys: "gimlet_session_keys".into(),
        }
    }
}

/// A table name that is not a plain identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidTableName(String);

impl fmt::Display for InvalidTableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid table name {:?}: use letters, digits and _, optionally schema.table",
            self.0
        )
    }
}

impl std::error::Error for InvalidTableName {}

impl From<InvalidTableName> for BackendError {
    fn from(e: InvalidTableName) -> Self {
        BackendError::new(BackendErrorKind::Other, e)
    }
}

/// A table's name without its schema.
pub(crate) fn bare(table: &str) -> &str {
    table.rsplit('.').next().unwrap_or(table)
}

fn identifier(part: &str) -> bool {
    let mut bytes = part.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'A'..=b'Z' | b'_'))
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && part.len() <= 63
}

pub(crate) fn check(name: &str) -> Result<String, InvalidTableName> {
    let mut parts = name.split('.');
    let valid = match (parts.next(), parts.next(), parts.next()) {
        (Some(table), None, None) => identifier(table),
        (Some(schema), Some(table), None) => identifier(schema) && identifier(table),
        _ => false,
    };
    if valid {
        Ok(name.to_owned())
    } else {
        Err(InvalidTableName(name.to_owned()))
    }
}

impl Tables {
    /// The two tables' names.
    ///
    /// # Errors
    ///
    /// A name that is not a plain identifier, or two equal names.
    pub fn new(sessions: &str, keys: &str) -> Result<Self, InvalidTableName> {
        let tables = Tables {
            sessions: check(sessions)?,
            keys: check(keys)?,
        };
        if tables.sessions == tables.keys {
            return Err(InvalidTableName(keys.to_owned()));
        }
        check(&tables.owners())?;
        if tables.owners() == tables.keys
            || tables.ended() == tables.keys
            || tables.changes() == tables.keys
        {
            return Err(InvalidTableName(keys.to_owned()));
        }
        Ok(tables)
    }

    /// The table with one row per channel.
    pub fn sessions(&self) -> &str {
        &self.sessions
    }

    /// The table with one row per key.
    pub fn keys(&self) -> &str {
        &self.keys
    }

    /// The owner index's table: the sessions table's name and `_owners`.
    pub fn owners(&self) -> String {
        format!("{}_owners", self.sessions)
    }

    /// The log of endings: the sessions table's name and `_ended`.
    pub fn ended(&self) -> String {
        format!("{}_ended", self.sessions)
    }

    /// A name for the log of endings' index on its times.
    pub(crate) fn ended_index(&self) -> String {
        let table = bare(&self.sessions);
        format!("{table}_ended_at")
    }

    /// The log of changes, on SQLite and MySQL: the sessions table's name
    /// and `_changes`.
    pub fn changes(&self) -> String {
        format!("{}_changes", self.sessions)
    }

    /// A name for one of the triggers that fill the log of changes, in the
    /// sessions table's schema: the table's name cut to fit the 64
    /// characters MySQL allows, and the event.
    pub(crate) fn change_trigger(&self, event: &str) -> String {
        let (schema, table) = match self.sessions.rsplit_once('.') {
            Some((schema, table)) => (Some(schema), table),
            None => (None, self.sessions.as_str()),
        };
        let suffix = format!("_changed_{event}");
        // Identifiers are ASCII: any byte is a boundary.
        let table = &table[..table.len().min(64usize.saturating_sub(suffix.len()))];
        match schema {
            Some(schema) => format!("{schema}.{table}{suffix}"),
            None => format!("{table}{suffix}"),
        }
    }

    /// A name for the owner index's index on owners.
    pub(crate) fn owner_index(&self) -> String {
        let table = bare(&self.sessions);
        format!("{table}_owners_owner")
    }

    /// A name for the expiry index, derived from the sessions table's.
    pub(crate) fn expiry_index(&self) -> String {
        let table = bare(&self.sessions);
        format!("{table}_expires_at")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_identifiers_pass() {
        for good in ["s", "_s", "gimlet_sessions", "public.sessions", "S1"] {
            assert!(check(good).is_ok(), "{good}");
        }
        let long = "x".repeat(64);
        for bad in [
            "",
            "1s",
            "s-s",
            "s s",
            "s;",
            "a.b.c",
            ".s",
            "s.",
            "\"s\"",
            "s\u{e9}",
            long.as_str(),
        ] {
            assert!(check(bad).is_err(), "{bad}");
        }
        assert!(Tables::new("same", "same").is_err());
        assert!(
            Tables::new("s", "s_owners").is_err(),
            "keys in the owners table"
        );
        assert!(Tables::new(&"x".repeat(56), "k").is_ok());
        assert!(
            Tables::new(&"x".repeat(57), "k").is_err(),
            "no room for _owners"
        );
        assert!(
            Tables::new("s", "s_ended").is_err(),
            "keys in the log of endings"
        );
        assert_eq!(Tables::default().owners(), "gimlet_sessions_owners");
        assert_eq!(Tables::default().ended(), "gimlet_sessions_ended");
    }
}
