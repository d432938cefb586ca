//! The errors: a session operation's or a commit's, a configuration's, and
//! a backend's. Each knows its HTTP status and public message.

mod backend;
mod config;
mod session;

pub use backend::{BackendError, BackendErrorKind};
pub use config::{ConfigError, ConfigErrorKind};
pub use session::Error;
