//! Secret material: the signing secrets and the encryption keys.
//!
//! Neither type prints its bytes in `Debug`, and neither implements `Display`
//! or `Serialize`, so a secret cannot end up in a log line by accident.

use std::fmt;

use serde::{Deserialize, Deserializer};

use crate::ConfigError;
use crate::error::ConfigErrorKind;

/// The shortest signing secret Gimlet accepts, in bytes.
pub const MIN_SECRET_LEN: usize = 32;

/// A signing secret: at least [`MIN_SECRET_LEN`] bytes of high-entropy text
/// or binary. The cookie keys are derived from it with HKDF-SHA256.
///
/// # Example
///
/// ```
/// use gimlet_core::Secret;
///
/// let secret = Secret::new("a long, random, private string of 32+ bytes");
/// assert_eq!(format!("{secret:?}"), "Secret(<redacted>)");
/// ```
#[derive(Clone)]
pub struct Secret(Box<[u8]>);

impl Secret {
    /// Wraps secret bytes. Their length is checked when the configuration is
    /// built.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Secret(bytes.into().into_boxed_slice())
    }

    /// Its length in bytes.
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    pub(crate) fn expose(&self) -> &[u8] {
        &self.0
    }

    pub(crate) fn check(&self) -> Result<(), ConfigError> {
        if self.0.len() < MIN_SECRET_LEN {
            return Err(ConfigError::new(
                ConfigErrorKind::Secret,
                format!(
                    "a secret must be at least {MIN_SECRET_LEN} bytes long (got {})",
                    self.0.len()
                ),
            ));
        }
        Ok(())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Secret::new(s)
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Secret::new(s)
    }
}

impl From<Vec<u8>> for Secret {
    fn from(bytes: Vec<u8>) -> Self {
        Secret::new(bytes)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret::from)
    }
}

/// A 256-bit encryption key, written as 64 hex characters as in the original
/// Gimlet. Setting one turns cookie encryption (AES-256-GCM) on.
///
/// # Example
///
/// ```
/// use gimlet_core::EncryptionKey;
///
/// let key = EncryptionKey::from_hex(&"ab".repeat(32)).unwrap();
/// assert_eq!(format!("{key:?}"), "EncryptionKey(<redacted>)");
/// assert!(EncryptionKey::from_hex("too short").is_err());
/// ```
#[derive(Clone)]
pub struct EncryptionKey([u8; 32]);

impl EncryptionKey {
    /// Parses 64 hex characters.
    ///
    /// # Errors
    ///
    /// Anything but exactly 64 hex characters is a [`ConfigError`]. The error
    /// does not repeat the input.
    pub fn from_hex(text: &str) -> Result<Self, ConfigError> {
        let mut bytes = [0; 32];
        hex::decode_to_slice(text.trim(), &mut bytes).map_err(|_| {
            ConfigError::new(
                ConfigErrorKind::EncryptionKey,
                "an encryption key is exactly 64 hex characters",
            )
        })?;
        Ok(EncryptionKey(bytes))
    }

    /// A key made of these bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        EncryptionKey(bytes)
    }

    pub(crate) fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EncryptionKey(<redacted>)")
    }
}

impl<'de> Deserialize<'de> for EncryptionKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        EncryptionKey::from_hex(&text).map_err(serde::de::Error::custom)
    }
}
