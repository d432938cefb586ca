#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod backend;
mod changes;
mod connection;
mod feed;
mod owners;
mod peer;
mod script;
mod subscriber;
mod url;

pub use backend::{DEFAULT_CONNECTIONS, DEFAULT_PREFIX, DEFAULT_TIMEOUT, RedisBackend};
pub use connection::Connection;
pub use deadpool_redis;
pub use peer::RedisPeerStore;
