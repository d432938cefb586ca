//! The session a handler holds: its state (`model`), the dict API and the
//! features built on it, and its I/O with the backend (`io`).

mod access;
mod csrf;
mod dict;
mod flash;
mod handle;
pub(crate) mod io;
mod lifetime;
mod login;
pub(crate) mod model;
mod owner;
pub(crate) mod status;

pub use csrf::CSRF_KEY;
pub use flash::FLASH_KEY_PREFIX;
pub use handle::Session;
pub use status::{Activity, Status};
