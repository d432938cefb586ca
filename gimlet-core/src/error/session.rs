//! The errors a handler or an adapter sees.

use std::error::Error as StdError;

use super::{BackendError, BackendErrorKind};

type BoxError = Box<dyn StdError + Send + Sync>;

/// The public message of every server-side failure.
const INTERNAL: &str = "internal session error";

/// An error from a [`Session`](crate::Session) operation or from a commit.
///
/// The variants split into usage errors, which the handler caused and can
/// react to (an HTTP application answers them with `400`), and backend errors,
/// which the store caused (`503`). [`Error::status_code`] makes that choice for
/// adapters.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A server-side key was asked for, but no backend is configured.
    #[error("key `{key}` cannot be stored server-side: no backend is configured")]
    NoBackend {
        /// The key.
        key: String,
    },

    /// A key of the clientside whitelist was asked to live server-side.
    #[error("key `{key}` is on the clientside whitelist and cannot be stored server-side")]
    Whitelisted {
        /// The key.
        key: String,
    },

    /// The key is empty, longer than [`MAX_KEY_LEN`](crate::MAX_KEY_LEN)
    /// bytes, or holds a NUL character.
    #[error(
        "invalid session key: keys are 1 to {max} bytes long, without NUL",
        max = crate::MAX_KEY_LEN
    )]
    InvalidKey,

    /// Inserting this clientside value would push the cookie past its size limit.
    #[error(
        "clientside value for `{key}` would make the cookie {size} bytes, over the limit of {limit}"
    )]
    CookieTooLarge {
        /// The key.
        key: String,
        /// The size the complete `Set-Cookie` value would have had.
        size: usize,
        /// The configured limit.
        limit: usize,
    },

    /// A server-side value is larger than the configured maximum.
    #[error("value for `{key}` is {size} bytes, over the limit of {limit}")]
    ValueTooLarge {
        /// The key.
        key: String,
        /// The serialized size.
        size: usize,
        /// The configured limit.
        limit: usize,
    },

    /// The write would take one channel's server-side data past the
    /// configured cap (`max_session_bytes`).
    #[error(
        "writing `{key}` would make the session's server data {size} bytes, over the limit of {limit}"
    )]
    SessionTooLarge {
        /// The key.
        key: String,
        /// The channel's server-side data (keys and values) with the write.
        size: usize,
        /// The configured limit.
        limit: usize,
    },

    /// The owner already has as many sessions as the configured cap
    /// allows (`max_sessions_per_owner`): end one (`end_sessions_of`)
    /// before logging in again.
    #[error("the owner already has {count} sessions, the limit")]
    TooManySessions {
        /// The owner's live channels, as its index lists them.
        count: usize,
    },

    /// A session's own lifetime is under one second or over the configured
    /// `max_session_lifetime`.
    #[error(
        "a session lifetime of {asked} s is outside 1 s to the configured maximum of {max} s \
         (max_session_lifetime)"
    )]
    LifetimeOutOfRange {
        /// The lifetime asked for (the idle or the absolute one), in seconds.
        asked: u64,
        /// The configured maximum, in seconds.
        max: u64,
    },

    /// The value could not be serialized.
    #[error("value for `{key}` could not be serialized")]
    Serialize {
        /// The key.
        key: String,
        /// What the serializer said.
        #[source]
        source: BoxError,
    },

    /// The stored value does not decode as the requested type. Only this one
    /// read fails; the session and its other keys are unaffected.
    #[error("value for `{key}` does not decode as the requested type")]
    Decode {
        /// The key.
        key: String,
        /// The type asked for (never what the value held, which a
        /// deserializer's own message may quote).
        #[source]
        source: BoxError,
    },

    /// [`Session::set_owner`](crate::Session::set_owner) needs a backend
    /// that keeps the owner index: every bundled one does, and a custom
    /// one says so with [`Backend::owner_index`](crate::backend::Backend::owner_index).
    #[error("session owners need a backend with an owner index")]
    NoOwnerIndex,

    /// The response was already committed: its cookies are gone, so this
    /// change can no longer reach the client.
    #[error("the session was already committed: {what} can no longer reach the client")]
    Committed {
        /// What was attempted.
        what: &'static str,
    },

    /// The operating system's random number generator failed.
    #[error("the system random number generator failed")]
    Random,

    /// Gimlet itself failed: an invariant did not hold, or a cookie it built
    /// could not be written (for example, it grew past the size limit at
    /// commit). The server's fault, never the client's.
    #[error("internal session error: {what}")]
    Internal {
        /// What failed.
        what: &'static str,
    },

    /// The backend failed.
    #[error(transparent)]
    Backend(#[from] BackendError),
}

impl Error {
    /// Whether the handler caused this error (a bad key, a value too large, a
    /// server-side key with no backend …) rather than the store.
    pub fn is_usage(&self) -> bool {
        !matches!(
            self,
            Error::Backend(_) | Error::Random | Error::Internal { .. }
        )
    }

    /// Whether the backend caused this error.
    pub fn is_backend(&self) -> bool {
        matches!(self, Error::Backend(_))
    }

    /// The HTTP status an application should answer with: `400` for usage
    /// errors, `409` when the session was ended by a concurrent request,
    /// `503` when the backend is unavailable and `500` otherwise.
    pub fn status_code(&self) -> u16 {
        self.reply().0
    }

    /// A short, generic text for an HTTP body: it names no key, size or
    /// backend detail, which belong in the log ([`Display`](std::fmt::Display)
    /// gives them).
    pub fn public_message(&self) -> &'static str {
        self.reply().1
    }

    /// The status and the public message of every error, in one table: a
    /// new variant does not compile until it has its row.
    fn reply(&self) -> (u16, &'static str) {
        match self {
            Error::NoBackend { .. } => (400, "this session key needs a session backend"),
            Error::Whitelisted { .. } => (400, "this session key lives in the cookie"),
            Error::InvalidKey => (400, "invalid session key"),
            Error::CookieTooLarge { .. } => (400, "the session cookie would be too large"),
            Error::ValueTooLarge { .. } => (400, "the session value is too large"),
            Error::SessionTooLarge { .. } => (400, "the session data is too large"),
            Error::TooManySessions { .. } => (409, "too many sessions for this user"),
            Error::LifetimeOutOfRange { .. } => (400, "this session lifetime is out of range"),
            Error::Serialize { .. } => (400, "the session value could not be stored"),
            Error::Decode { .. } => (400, "the session value has another type"),
            Error::Committed { .. } => (400, "the session was already sent"),
            Error::NoOwnerIndex => (400, "session owners need a session backend"),
            Error::Random | Error::Internal { .. } => (500, INTERNAL),
            Error::Backend(e) => match e.kind() {
                BackendErrorKind::Gone => (409, "the session was ended by another request"),
                BackendErrorKind::Changed => (409, "the session was changed by another request"),
                // A new random id that is taken: the generator's fault.
                BackendErrorKind::Collision => (500, INTERNAL),
                BackendErrorKind::Unavailable
                | BackendErrorKind::Timeout
                | BackendErrorKind::Corrupt
                | BackendErrorKind::Unsupported
                | BackendErrorKind::Other => (503, "session storage unavailable"),
            },
        }
    }

    pub(crate) fn serialize(key: &str, source: impl StdError + Send + Sync + 'static) -> Self {
        Error::Serialize {
            key: key.to_owned(),
            source: Box::new(source),
        }
    }

    /// A value of `key` that is not the `expected` type. What the value
    /// held is left out: errors reach logs.
    pub(crate) fn decode(key: &str, expected: &'static str) -> Self {
        Error::Decode {
            key: key.to_owned(),
            source: Box::new(Undecodable { expected }),
        }
    }
}

/// The source of an [`Error::Decode`]: the type asked for, and nothing of
/// the stored value (a deserializer's message may quote it).
#[derive(Debug)]
struct Undecodable {
    expected: &'static str,
}

impl std::fmt::Display for Undecodable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the stored value is not a `{}`", self.expected)
    }
}

impl StdError for Undecodable {}
