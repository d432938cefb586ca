//! Helpers for tests (feature `testing`): a backend wrapper that counts the
//! calls reaching the store, one that hears none of its endings, one whose
//! rival tab beats every compare-and-set, a clock
//! that moves only when told to, a TCP proxy a test can cut, and the
//! backend conformance suite.

mod clock;
pub mod conformance;
mod counting;
mod proxy;
mod rival;
mod without_feed;

pub use clock::ManualClock;
pub use counting::{CountingBackend, Counts};
pub use proxy::CutProxy;
pub use rival::Rival;
pub use without_feed::WithoutFeed;
