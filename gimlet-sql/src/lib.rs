#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod backend;
mod builder;
#[cfg(feature = "postgres")]
mod changes;
mod commit;
mod dialect;
mod errors;
mod feed;
mod owners;
mod peer;
mod polled;
mod shelf;
mod tables;

pub use backend::{MIN_CLEANUP_INTERVAL, SqlBackend};
pub use builder::{DEFAULT_CLEANUP_EVERY, DEFAULT_TIMEOUT, SqlBackendBuilder};
pub use dialect::Dialect;
pub use peer::SqlPeerStore;
pub use sqlx;
pub use tables::{InvalidTableName, Tables};
