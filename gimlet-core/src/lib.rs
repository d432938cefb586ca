#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod access;
pub mod adapter;
pub mod backend;
mod builder;
mod channel;
mod client;
mod clock;
#[doc(hidden)]
pub mod codec;
mod commit;
mod config;
mod cookies;
mod csrf;
mod dict;
mod env;
mod error;
mod flash;
mod gimlet;
mod id;
mod key;
mod load;
mod owner;
mod payload;
mod placement;
mod plan;
mod secret;
mod session;
mod status;
mod write_through;

#[cfg(feature = "testing")]
pub mod conformance;
#[cfg(feature = "testing")]
pub mod testing;

pub use access::MAX_KEY_LEN;
pub use backend::memory::MemoryBackend;
pub use builder::GimletBuilder;
pub use clock::{Clock, SystemClock};
pub use config::{Config, CookieConfig, SameSite};
pub use csrf::CSRF_KEY;
pub use error::{ConfigError, ConfigErrorKind, Error};
pub use flash::FLASH_KEY_PREFIX;
pub use gimlet::Gimlet;
pub use id::{ParseIdError, SessionId};
pub use key::{Key, KeyName, KeyOf};
pub use owner::OwnedSession;
pub use placement::Placement;
pub use secret::{EncryptionKey, MIN_SECRET_LEN, Secret};
pub use session::Session;
pub use status::{Activity, Status};

#[doc(no_inline)]
pub use async_trait::async_trait;
