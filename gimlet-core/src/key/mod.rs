//! Keys: their names and limits, typed keys, and where a key lives (which
//! channel, which side of the wire).

mod name;
mod placement;
mod set;

pub use name::{Key, KeyName, KeyOf, MAX_KEY_LEN};
pub use placement::Placement;
pub(crate) use placement::{ChannelKind, Place};
pub(crate) use set::KeySet;
