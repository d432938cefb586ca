//! The error a backend returns.

use std::error::Error as StdError;
use std::fmt;

type BoxError = Box<dyn StdError + Send + Sync>;

/// What kind of failure a [`BackendError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BackendErrorKind {
    /// The store could not be reached, or the connection broke.
    Unavailable,
    /// The store, or a connection from the pool, did not answer in time.
    Timeout,
    /// A record with a newly generated id already exists.
    Collision,
    /// A record that must exist is gone: the session was ended (or expired)
    /// while this request ran.
    Gone,
    /// A key a write expected to hold a value (or to be absent) holds
    /// another: a concurrent request changed it after this one read it
    /// ([`Write::expect`](crate::backend::Write::expect)). Nothing of the
    /// batch was applied.
    Changed,
    /// The store answered with data Gimlet cannot read.
    Corrupt,
    /// The store does not do what was asked (a custom store without the
    /// owner index, say).
    Unsupported,
    /// Anything else the store reported.
    Other,
}

/// An error from a [`Backend`](crate::backend::Backend). The driver's own error stays
/// reachable through [`source`](StdError::source).
pub struct BackendError {
    kind: BackendErrorKind,
    source: Option<BoxError>,
}

impl BackendError {
    /// An error of `kind` caused by `source`.
    pub fn new(kind: BackendErrorKind, source: impl Into<BoxError>) -> Self {
        BackendError {
            kind,
            source: Some(source.into()),
        }
    }

    /// An error of `kind` with no underlying cause.
    pub fn from_kind(kind: BackendErrorKind) -> Self {
        BackendError { kind, source: None }
    }

    /// A collision of a newly generated id.
    pub fn collision() -> Self {
        Self::from_kind(BackendErrorKind::Collision)
    }

    /// A record that had to exist is gone.
    pub fn gone() -> Self {
        Self::from_kind(BackendErrorKind::Gone)
    }

    /// A key a write expected unchanged was changed.
    pub fn changed() -> Self {
        Self::from_kind(BackendErrorKind::Changed)
    }

    /// What kind of error this is.
    pub fn kind(&self) -> BackendErrorKind {
        self.kind
    }

    /// A newly generated id collided with a live record.
    pub fn is_collision(&self) -> bool {
        self.kind == BackendErrorKind::Collision
    }

    /// The session was ended by a concurrent request.
    pub fn is_gone(&self) -> bool {
        self.kind == BackendErrorKind::Gone
    }

    /// A key a write expected unchanged was changed by a concurrent
    /// request.
    pub fn is_changed(&self) -> bool {
        self.kind == BackendErrorKind::Changed
    }

    /// The store or the pool did not answer in time.
    pub fn is_timeout(&self) -> bool {
        self.kind == BackendErrorKind::Timeout
    }
}

impl fmt::Debug for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("BackendError");
        d.field("kind", &self.kind);
        if let Some(source) = &self.source {
            d.field("source", source);
        }
        d.finish()
    }
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.kind {
            BackendErrorKind::Unavailable => "session backend unavailable",
            BackendErrorKind::Timeout => "session backend timed out",
            BackendErrorKind::Collision => "new session id collided with an existing session",
            BackendErrorKind::Gone => "session was ended by a concurrent request",
            BackendErrorKind::Changed => "session key was changed by a concurrent request",
            BackendErrorKind::Corrupt => "session backend returned unreadable data",
            BackendErrorKind::Unsupported => "session backend does not support this",
            BackendErrorKind::Other => "session backend error",
        })
    }
}

impl StdError for BackendError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}
