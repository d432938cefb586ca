//! Sessions of another library, imported on first use: a request with no
//! Gimlet cookie but a peer's session cookie has that session read the way
//! the peer reads it, and copied into a fresh Gimlet session. The response
//! removes the peer's cookie (and, if configured, its record), so a
//! browser is imported once.
//!
//! The peers and their stores:
//!
//! | peer | cookie | store |
//! |---|---|---|
//! | tower-sessions 0.14/0.15 | `id`: its session id; plain, or signed or private with its key | tower-sessions-redis-store, tower-sessions-sqlx-store (a [`PeerStore`] from `gimlet-redis` or `gimlet-sql`) |
//! | actix-session 0.11 | `id`: its session key, signed or private (its default) with its key | `RedisSessionStore` (a [`PeerStore`] from `gimlet-redis`) |
//! | actix-session 0.11, `CookieSessionStore` | `id`: the session itself, signed or private | none |
//!
//! The formats are in `tower_sessions.rs` and `actix_session.rs`, the
//! peers' cookie protections in `peer_cookie.rs`; when the import happens
//! is the session's (`session/io/import.rs`).

mod actix_session;
mod config;
mod peer_cookie;
mod peer_store;
mod tower_sessions;

pub use config::Import;
pub(crate) use config::{Claim, Entries, Importer};
pub use peer_store::PeerStore;
