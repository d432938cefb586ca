#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod backend;
mod commit;
mod feed;
mod item;
mod protocol;
mod recent;
mod ring;
mod url;

pub use backend::{DEFAULT_PREFIX, DEFAULT_TIMEOUT, MemcachedBackend};
