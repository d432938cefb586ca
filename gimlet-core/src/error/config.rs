//! The error a configuration reports: what is wrong, and which variable.

use std::error::Error as StdError;
use std::fmt;

/// An error in the configuration, reported by
/// [`GimletBuilder::build`](crate::GimletBuilder::build) or
/// [`Config::from_env`](crate::Config::from_env).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    kind: ConfigErrorKind,
    variable: Option<&'static str>,
    message: String,
}

/// What a [`ConfigError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigErrorKind {
    /// No secret, or one shorter than [`MIN_SECRET_LEN`](crate::MIN_SECRET_LEN).
    Secret,
    /// An encryption key that is not 64 hex characters.
    EncryptionKey,
    /// A cookie name or attribute that browsers would refuse or that
    /// contradicts another.
    Cookie,
    /// A lifetime of zero, or a refresh fraction outside (0, 1].
    Lifetime,
    /// `default_clientside = false` with no backend to keep server-side
    /// keys in.
    Placement,
    /// A `GIMLET_*` variable that does not parse; [`ConfigError::env_var`]
    /// names it.
    Environment,
    /// An [`Import`](crate::import::Import) whose peer key is missing where
    /// the peer always has one, or is not the peer's 64 bytes.
    Import,
    /// The keys could not be derived (never expected).
    Internal,
}

impl ConfigError {
    pub(crate) fn new(kind: ConfigErrorKind, message: impl Into<String>) -> Self {
        ConfigError {
            kind,
            variable: None,
            message: message.into(),
        }
    }

    /// An environment variable that does not parse.
    pub(crate) fn variable(name: &'static str, message: impl fmt::Display) -> Self {
        ConfigError {
            kind: ConfigErrorKind::Environment,
            variable: Some(name),
            message: format!("{name}: {message}"),
        }
    }

    /// What the error is about.
    pub fn kind(&self) -> ConfigErrorKind {
        self.kind
    }

    /// The environment variable that did not parse, for
    /// [`ConfigErrorKind::Environment`].
    pub fn env_var(&self) -> Option<&'static str> {
        self.variable
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid gimlet configuration: {}", self.message)
    }
}

impl StdError for ConfigError {}
