//! Session ids: 128 bits from the operating system's random generator, of
//! which the first 16 (the group) are shared by the ids of one session.

use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::str::FromStr;

use ring::rand::{SecureRandom, SystemRandom};

/// A channel's session id: 128 bits from [`ring::rand::SystemRandom`].
///
/// The first two bytes are the id's *group*. Every id of one session (its
/// two channels, and the ids that replace them when the id is cycled or a
/// lost record healed) is generated in the group of the session's first id,
/// with [`SessionId::generate_beside`]: a backend may keep the records of
/// one group together (Redis Cluster puts them in one hash slot, so a
/// commit stays one atomic call). The other 112 bits are random in every
/// id; a new session's group is random too.
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

    /// A new id in the group of `other`: its first two bytes, and 112 new
    /// random bits.
    ///
    /// # Errors
    ///
    /// Fails only if the operating system's random number generator fails.
    pub fn generate_beside(other: &SessionId) -> Result<Self, crate::Error> {
        let mut id = Self::generate()?;
        id.0[..2].copy_from_slice(&other.0[..2]);
        Ok(id)
    }

    /// An id in `group` whose other bits are zero: an anchor that new ids
    /// are generated beside ([`SessionId::generate_beside`]), never an id
    /// of its own.
    pub(crate) const fn in_group(group: [u8; 2]) -> Self {
        let mut bytes = [0; 16];
        bytes[0] = group[0];
        bytes[1] = group[1];
        SessionId(bytes)
    }

    /// The id's group: its first two bytes, shared by the ids of one
    /// session.
    pub const fn group(&self) -> [u8; 2] {
        [self.0[0], self.0[1]]
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

/// How maps keyed by session ids are hashed: this server draws them at
/// random, and a cookie's id is signed, so no one can pick ids that
/// collide. Folding their words costs a few instructions where SipHash's
/// defence against chosen keys costs a few hundred.
pub(crate) type RandomBytes = BuildHasherDefault<FoldHasher>;

/// See [`RandomBytes`].
#[derive(Default)]
pub(crate) struct FoldHasher(u64);

impl FoldHasher {
    /// A hasher that starts from `seed`, for a map that draws one.
    pub(crate) fn seeded(seed: u64) -> Self {
        FoldHasher(seed)
    }
}

impl Hasher for FoldHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word))
                .wrapping_mul(0x517c_c1b7_2722_0a95);
        }
    }

    fn write_usize(&mut self, len: usize) {
        self.0 = (self.0.rotate_left(5) ^ len as u64).wrapping_mul(0x517c_c1b7_2722_0a95);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use std::hash::BuildHasher as _;

    #[test]
    fn folded_hashes_of_random_ids_differ() {
        let build = super::RandomBytes::default();
        let hashes: std::collections::HashSet<u64> = (0..1_000)
            .map(|_| build.hash_one(SessionId::generate().unwrap()))
            .collect();
        assert_eq!(hashes.len(), 1_000, "no two of a thousand ids collide");
        // The length counts too: a prefix does not hash as the whole.
        let (mut a, mut b) = (super::FoldHasher::default(), super::FoldHasher::default());
        std::hash::Hasher::write_usize(&mut a, 1);
        std::hash::Hasher::write_usize(&mut b, 2);
        assert_ne!(std::hash::Hasher::finish(&a), std::hash::Hasher::finish(&b));
    }

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
        assert_eq!(debug, "SessionId(<redacted>)");
        assert!(!debug.contains("ab"), "{debug}");
        assert!(!debug.contains("171"), "{debug}");
    }

    #[test]
    fn an_id_generated_beside_another_shares_only_its_group() {
        let first = SessionId::from_bytes([0x5a; 16]);
        let mut low_bits_seen = [0u8; 14];
        for _ in 0..64 {
            let id = SessionId::generate_beside(&first).expect("rng");
            assert_eq!(id.group(), [0x5a, 0x5a]);
            assert_eq!(id.to_string()[..4], first.to_string()[..4]);
            for (seen, byte) in low_bits_seen.iter_mut().zip(&id.as_bytes()[2..]) {
                *seen |= byte ^ 0x5a;
            }
        }
        // Every one of the other 112 bits varied in 64 draws.
        assert_eq!(low_bits_seen, [0xff; 14]);
    }

    #[test]
    fn new_sessions_get_random_groups() {
        let groups: std::collections::HashSet<_> = (0..64)
            .map(|_| SessionId::generate().expect("rng").group())
            .collect();
        assert!(groups.len() > 32, "{} distinct groups", groups.len());
    }

    #[test]
    fn generated_ids_differ() {
        let a = SessionId::generate().expect("rng");
        let b = SessionId::generate().expect("rng");
        assert_ne!(a, b);
    }
}
