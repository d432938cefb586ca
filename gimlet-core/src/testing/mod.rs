//! Helpers for tests (feature `testing`): a backend wrapper that counts the
//! calls reaching the store, a clock that moves only when told to, and the
//! backend conformance suite.

mod clock;
pub mod conformance;
mod counting;
mod without_feed;

pub use clock::ManualClock;
pub use counting::{CountingBackend, Counts};
pub use without_feed::WithoutFeed;
