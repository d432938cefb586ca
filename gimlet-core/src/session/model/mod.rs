//! A session's state during a request, without I/O: the two channels and
//! the state that holds them.

mod channel;
mod facts;
mod peer;
mod placing;
mod replays;
mod state;

pub(crate) use channel::Channel;
pub(crate) use facts::{Browser, CookieAction, Loaded, RecordState};
pub(crate) use placing::Lookup;
pub(crate) use replays::Step;
pub(crate) use state::State;
