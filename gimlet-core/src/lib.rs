#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

// The layers, lowest first: each module uses only those above it here.
pub mod adapter;
pub mod backend;
mod clock;
mod config;
pub mod cookie;
mod engine;
mod error;
mod gimlet;
mod id;
pub mod import;
mod key;
mod lifetime;
mod meters;
mod session;
#[cfg(feature = "testing")]
pub mod testing;

pub use backend::MemoryBackend;
pub use clock::{Clock, SystemClock};
pub use config::{Config, CookieConfig, EncryptionKey, MIN_SECRET_LEN, SameSite, Secret};
pub use error::{ConfigError, ConfigErrorKind, Error};
pub use gimlet::{Gimlet, GimletBuilder, OwnedSession};
pub use id::{ParseIdError, SessionId};
pub use key::{Key, KeyName, KeyOf, MAX_KEY_LEN, Placement};
pub use lifetime::Lifetime;
pub use session::{Activity, CSRF_KEY, FLASH_KEY_PREFIX, Session, Status};
#[cfg(feature = "testing")]
pub use testing::conformance;

#[doc(no_inline)]
pub use async_trait::async_trait;
