//! Configuration: the plain settings, the `GIMLET_*` environment variables
//! that fill them, and the secret material.

pub(crate) mod env;
mod secret;
mod settings;

pub use secret::{EncryptionKey, MIN_SECRET_LEN, Secret};
pub use settings::{Config, CookieConfig, SameSite};
