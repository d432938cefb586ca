//! sqlx errors as backend errors, and which of them are worth a retry.

use gimlet_core::backend::BackendError;
use gimlet_core::backend::BackendErrorKind;

pub(crate) fn backend_error(error: sqlx::Error) -> BackendError {
    let kind = match &error {
        sqlx::Error::PoolTimedOut => BackendErrorKind::Timeout,
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => BackendErrorKind::Unavailable,
        sqlx::Error::Decode(_)
        | sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::ColumnIndexOutOfBounds { .. }
        | sqlx::Error::TypeNotFound { .. } => BackendErrorKind::Corrupt,
        _ if is_broken_connection(&error) => BackendErrorKind::Unavailable,
        // SQLite's CANTOPEN: the file or its directory is not there.
        sqlx::Error::Database(db) if db.code().as_deref() == Some("14") => {
            BackendErrorKind::Unavailable
        }
        _ => BackendErrorKind::Other,
    };
    BackendError::new(kind, error)
}

/// Whether a transaction failed only because another one got in its way:
/// a deadlock, a serialization failure, a lock wait, a busy SQLite file.
pub(crate) fn is_transient(error: &sqlx::Error) -> bool {
    let sqlx::Error::Database(db) = error else {
        return false;
    };
    let code = db.code();
    // PostgreSQL and MySQL (SQLSTATE): serialization failure, deadlock.
    // SQLite (result codes): BUSY, LOCKED and their extended forms.
    if matches!(
        code.as_deref(),
        Some("40001" | "40P01" | "5" | "6" | "261" | "262" | "517" | "773")
    ) {
        return true;
    }
    let message = db.message();
    message.contains("Lock wait timeout") || message.contains("database is locked")
}

/// Whether `error` says the connection itself is gone (the server closed
/// it, or the network did), rather than anything about the statement.
pub(crate) fn is_broken_connection(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            let code = db.code();
            let code = code.as_deref().unwrap_or_default();
            // SQLSTATE class 08, a connection exception; PostgreSQL's
            // 57P01-57P03 (the server shutting down, or not yet up), which
            // a server sends on each connection as it stops; MySQL's
            // 70100, a connection killed.
            code.starts_with("08") || code.starts_with("57P0") || code == "70100"
        }
        _ => false,
    }
}
