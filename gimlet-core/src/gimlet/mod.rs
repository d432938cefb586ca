//! `Gimlet`, the handle an application builds once and hands to its
//! framework's adapter: the builder, opening and committing sessions, and
//! log out everywhere.

mod builder;
mod checks;
mod handle;
mod layers;
mod owners;

pub use builder::GimletBuilder;
pub use handle::Gimlet;
pub use owners::OwnedSession;
