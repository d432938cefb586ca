//! Session ids: 128 random bits from the operating system.

use std::fmt;
use std::str::FromStr;

use ring::rand::{SecureRandom, SystemRandom};

/// A channel's session id: 128 bits from [`ring::rand::SystemRandom`].
///
/// It is written as 32 lowercase hex characters by [`Display`](fmt::Display).
/// A session id is a bearer credential, so its [`Debug`] output shows none of
/// it: ids that end up in logs through `{:?}` leak nothing.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId([u8; 16]);

impl SessionId {
    /// Length of an id in bytes.
    pub const LEN: usize = 16;

    /// A new random id.
    ///
    /// # Errors
    ///
    /// Fails only if the operating system's random number generator fails.
    pub fn generate() -> Result<Self, crate::Error> {
        let mut bytes = [0; Self::LEN];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| crate::Error::Random)?;
        Ok(SessionId(bytes))
    }

    /// The id with these bytes.
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        SessionId(bytes)
    }

    /// The id's bytes.
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionId(<redacted>)")
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; 32];
        // Encoding 16 bytes into 32 always succeeds.
        if hex::encode_to_slice(self.0, &mut buf).is_err() {
            return Err(fmt::Error);
        }
        f.write_str(std::str::from_utf8(&buf).map_err(|_| fmt::Error)?)
    }
}

/// The error returned when a string is not 32 hex characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a session id is 32 hex characters")]
pub struct ParseIdError;

impl FromStr for SessionId {
    type Err = ParseIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut bytes = [0; Self::LEN];
        hex::decode_to_slice(s, &mut bytes).map_err(|_| ParseIdError)?;
        Ok(SessionId(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_32_lowercase_hex_and_round_trips() {
        let id = SessionId::generate().expect("rng");
        let text = id.to_string();
        assert_eq!(text.len(), 32);
        assert!(text.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')));
        assert_eq!(text.parse::<SessionId>(), Ok(id));
    }

    #[test]
    fn debug_does_not_leak_the_id() {
        let id = SessionId::from_bytes([0xab; 16]);
        let debug = format!("{id:?}");
        assert!(!debug.contains("ab"), "{debug}");
        assert!(!debug.contains("171"), "{debug}");
    }

    #[test]
    fn generated_ids_differ() {
        let a = SessionId::generate().expect("rng");
        let b = SessionId::generate().expect("rng");
        assert_ne!(a, b);
    }
}
