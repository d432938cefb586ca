//! SQL backend for [Gimlet](gimlet_core) sessions, on [sqlx]: SQLite (the
//! embedded default), PostgreSQL and MySQL/MariaDB, each behind a cargo
//! feature (`sqlite`, on by default; `postgres`; `mysql`).
//!
//! - **Key-level rows.** One row per channel and one per key, so
//!   concurrent requests that change different keys all survive.
//! - **One query per load** (both channels, with a join) and **one
//!   transaction per commit**.
//! - **No resurrection.** Creating a record is `INSERT … ON CONFLICT DO
//!   NOTHING` (`INSERT IGNORE` on MySQL) with its row count checked; an
//!   update of a record a concurrent logout deleted finds no row, and the
//!   commit fails as `Gone` instead of bringing it back.
//! - **Expiry** is an integer epoch with an index; [`SqlBackend::spawn_cleanup`]
//!   runs [`delete_expired`](gimlet_core::Backend::delete_expired) on a timer.
//! - **SQLite holds up under concurrency**: WAL, a busy timeout,
//!   `BEGIN IMMEDIATE`, and a retry of transactions that lose a race.
//!
//! `sqlx` is re-exported so versions match.

mod backend;
mod builder;
mod commit;
mod dialect;
mod errors;
mod tables;

pub use backend::{DEFAULT_TIMEOUT, MIN_CLEANUP_INTERVAL, SqlBackend};
pub use builder::SqlBackendBuilder;
pub use dialect::Dialect;
pub use sqlx;
pub use tables::{InvalidTableName, Tables};
