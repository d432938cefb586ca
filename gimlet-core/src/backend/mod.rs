//! The storage interface: loads of whole channels, commits of change sets.
//!
//! A backend never sees a whole session. It loads the server data of one or
//! two channel ids in one round trip, and it applies a [`Batch`] of per-channel
//! changes atomically, in one round trip or one transaction. That is what makes
//! Gimlet's I/O rules hold on every store.

mod batch;
pub mod changes;
pub mod feed;
mod memory;
mod near_cache;
mod owner;
mod revocations;
mod store;

pub use crate::error::{BackendError, BackendErrorKind};
pub use batch::{Batch, Op, Record, Write, WriteMode};
pub use memory::MemoryBackend;
pub use near_cache::{NearCache, NearCacheStatus};
pub use owner::{OwnedRecord, Owner, Ownership};
pub use revocations::{MAX_IDS, Revocations};
pub use store::{Backend, with_timeout};
