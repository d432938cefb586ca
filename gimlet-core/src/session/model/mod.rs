//! A session's state during a request, without I/O: the two channels and
//! the state that holds them.

mod channel;
mod state;

pub(crate) use channel::{Browser, Channel, CookieAction, Loaded, RecordState};
pub(crate) use state::{Lookup, State};
