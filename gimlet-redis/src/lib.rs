//! Redis backend for [Gimlet](gimlet_core) sessions, on
//! [deadpool-redis](deadpool_redis).
//!
//! - One hash per channel, `gimlet:{id}` by default, with native expiry
//!   (`PEXPIREAT`): nothing to clean up.
//! - A load of both channels is one round trip (two pipelined `HGETALL`s).
//! - A commit is one round trip: an `EVALSHA` of a script, loaded once,
//!   that checks the whole batch (a new id must not exist, an updated
//!   record must) and applies it atomically, so a logout racing another
//!   request never leaves a partial record behind.
//! - Every call is bounded by a timeout (2 s by default), pool waits
//!   included; errors keep the driver's error as their source.
//!
//! `docs/backends.md` in the repository describes the key layout.
//!
//! `deadpool_redis` is re-exported, so an application that builds its own
//! pool uses the same version:
//!
//! ```no_run
//! use gimlet_redis::{deadpool_redis, RedisBackend};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let pool = deadpool_redis::Config::from_url("redis://127.0.0.1/")
//!     .create_pool(Some(deadpool_redis::Runtime::Tokio1))?;
//! let backend = RedisBackend::new(pool);
//! # Ok(()) }
//! ```

mod backend;
mod connection;
mod script;
mod url;

pub use backend::{DEFAULT_CONNECTIONS, DEFAULT_PREFIX, DEFAULT_TIMEOUT, RedisBackend};
pub use connection::Connection;
pub use deadpool_redis;
