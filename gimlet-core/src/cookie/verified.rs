//! Cookies verified before: a browser sends the same cookie value request
//! after request, until a response sets a new one. Each value is verified
//! (base64, then the MAC or the AEAD) the first time, and remembered by its
//! exact bytes, so that the next requests that send it pay a lookup instead.
//!
//! Only a value that verified enters, and one is served only for the very
//! bytes it was verified from: a hash match alone trusts nothing, since the
//! whole value is compared. What a cookie means (its header, its clientside
//! map) depends only on its bytes and the keys, and a Gimlet's keys never
//! change, so a remembered cookie is the same as a verified one; whether it
//! is still trusted (its age, its revocation) is decided after, each time,
//! as for a cookie verified anew.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::Mutex;

use super::{CookieCodec, DecodeError, VerifiedCookie};
use crate::id::FoldHasher;

/// What one remembered cookie costs besides its bytes: the map's slot and
/// the allocations' headers, about.
const ENTRY_OVERHEAD: usize = 96;

/// The cookies of one name verified before, up to `max_bytes` of them.
pub(crate) struct VerifiedCookies {
    max_bytes: usize,
    held: Mutex<Held>,
}

#[derive(Default)]
struct Held {
    /// Keyed by the value's bytes, compared whole, and hashed by their
    /// tail ([`TailHash`]).
    cookies: HashMap<Box<[u8]>, VerifiedCookie, TailHash>,
    bytes: usize,
}

/// How many of a value's last bytes its hash covers: its MAC (signed) or
/// its tag (encrypted), in base64, which differ between any two values
/// Gimlet issued.
const TAIL: usize = 32;

/// Hashes a value by its last [`TAIL`] bytes, folded from a seed drawn
/// at random: a lookup costs a few instructions, not SipHash's few
/// hundred. A map's entries are only values that verified, and their
/// tails are MACs or tags, which no one can choose without the keys, so
/// no one can make entries collide; a value sent to probe the map costs
/// one lookup, and the map compares the whole value before it serves one:
/// a hash match alone trusts nothing.
struct TailHash(u64);

impl Default for TailHash {
    fn default() -> Self {
        TailHash(RandomState::new().hash_one(0u8))
    }
}

impl BuildHasher for TailHash {
    type Hasher = TailHasher;

    fn build_hasher(&self) -> TailHasher {
        TailHasher(FoldHasher::seeded(self.0))
    }
}

/// See [`TailHash`].
struct TailHasher(FoldHasher);

impl Hasher for TailHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.write(&bytes[bytes.len().saturating_sub(TAIL)..]);
    }

    fn write_usize(&mut self, len: usize) {
        self.0.write_usize(len);
    }

    fn finish(&self) -> u64 {
        self.0.finish()
    }
}

impl VerifiedCookies {
    /// At most `max_bytes` of cookies (0: none, every value is verified).
    pub(crate) fn new(max_bytes: usize) -> Self {
        VerifiedCookies {
            max_bytes,
            held: Mutex::default(),
        }
    }

    /// The cookie `name=value`, verified by `codec`, or remembered from an
    /// earlier verification of these very bytes.
    pub(crate) fn verify(
        &self,
        codec: &CookieCodec,
        name: &str,
        value: &[u8],
    ) -> Result<VerifiedCookie, DecodeError> {
        if self.max_bytes == 0 {
            return codec.decode_bytes(name, value);
        }
        if let Some(cookie) = self.lock().cookies.get(value) {
            return Ok(cookie.clone());
        }
        let cookie = codec.decode_bytes(name, value)?;
        self.remember(value, &cookie);
        Ok(cookie)
    }

    fn remember(&self, value: &[u8], cookie: &VerifiedCookie) {
        let size = value.len() + cookie.client.heap_len() + ENTRY_OVERHEAD;
        if size > self.max_bytes {
            return;
        }
        let mut held = self.lock();
        if held.bytes + size > self.max_bytes {
            // Full: start again. The values browsers hold now come back at
            // their next request; those they dropped never do.
            held.cookies.clear();
            held.bytes = 0;
        }
        if held.cookies.insert(value.into(), cookie.clone()).is_none() {
            held.bytes += size;
        }
    }

    /// How many cookies, and how many bytes of them, are remembered.
    #[cfg(test)]
    pub(crate) fn held(&self) -> (usize, usize) {
        let held = self.lock();
        (held.cookies.len(), held.bytes)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Held> {
        // Every change is made whole under the lock.
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Secret;
    use crate::cookie::CookiePayload;

    fn codec() -> CookieCodec {
        CookieCodec::new(
            &[Secret::new("verified cookies' test secret, 32+")],
            &[],
            false,
        )
        .unwrap()
    }

    fn value(codec: &CookieCodec, n: u64) -> String {
        let payload = CookiePayload {
            id: crate::SessionId::from_bytes([n as u8; 16]),
            created: n,
            issued: n,
            checked: n,
            stored: true,
            owner: None,
            lifetime: None,
            data: [("user_id".to_owned(), vec![0x07])].into(),
        };
        codec.encode("gimlet-n", &payload).unwrap()
    }

    #[test]
    fn a_value_is_verified_once_then_remembered_by_its_bytes() {
        let (codec, cache) = (codec(), VerifiedCookies::new(1 << 20));
        let v = value(&codec, 1);
        let first = cache.verify(&codec, "gimlet-n", v.as_bytes()).unwrap();
        assert_eq!(cache.held().0, 1);
        let again = cache.verify(&codec, "gimlet-n", v.as_bytes()).unwrap();
        assert_eq!(first.header, again.header);
        assert_eq!(cache.held().0, 1, "served, not added");
    }

    #[test]
    fn values_hash_by_their_tail_and_match_only_whole() {
        let build = TailHash::default();
        let tail = [b'T'; TAIL];
        let (mut a, mut b) = (b"first:".to_vec(), b"other:".to_vec());
        a.extend(tail);
        b.extend(tail);
        let (a, b): (Box<[u8]>, Box<[u8]>) = (a.into(), b.into());
        assert_eq!(build.hash_one(&a), build.hash_one(&b), "the tail alone");
        let mut c = a.to_vec();
        c[TAIL] ^= 1;
        let c: Box<[u8]> = c.into();
        assert_ne!(build.hash_one(&a), build.hash_one(&c));
        // A value and its bytes hash alike, which lookups by bytes need.
        assert_eq!(build.hash_one(&a), build.hash_one(&a[..]));
        // Two values with one tail share a bucket and are still told apart.
        let codec = codec();
        let cache = VerifiedCookies::new(1 << 20);
        let v = value(&codec, 1);
        cache.verify(&codec, "gimlet-n", v.as_bytes()).unwrap();
        let mut lookalike = v.clone().into_bytes();
        lookalike[0] = if lookalike[0] == b'A' { b'B' } else { b'A' };
        assert!(cache.verify(&codec, "gimlet-n", &lookalike).is_err());
    }

    #[test]
    fn a_value_that_differs_by_one_byte_is_verified_and_fails() {
        let (codec, cache) = (codec(), VerifiedCookies::new(1 << 20));
        let v = value(&codec, 1);
        cache.verify(&codec, "gimlet-n", v.as_bytes()).unwrap();
        let mut forged = v.into_bytes();
        let last = forged.len() - 1;
        forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
        assert!(cache.verify(&codec, "gimlet-n", &forged).is_err());
        assert_eq!(cache.held().0, 1, "a failure is not remembered");
    }

    /// What one remembered value counts for.
    fn size_of(codec: &CookieCodec, v: &str) -> usize {
        let cookie = codec.decode("gimlet-n", v).unwrap();
        v.len() + cookie.client.heap_len() + ENTRY_OVERHEAD
    }

    #[test]
    fn each_value_counts_its_bytes_and_a_full_memory_starts_again() {
        let codec = codec();
        let (a, b, c) = (value(&codec, 1), value(&codec, 2), value(&codec, 3));
        let size = size_of(&codec, &a);
        assert!(size > ENTRY_OVERHEAD + a.len());
        // Room for exactly two.
        let cache = VerifiedCookies::new(2 * size);
        cache.verify(&codec, "gimlet-n", a.as_bytes()).unwrap();
        assert_eq!(cache.held(), (1, size));
        cache.verify(&codec, "gimlet-n", b.as_bytes()).unwrap();
        assert_eq!(cache.held(), (2, 2 * size), "exactly full still fits");
        cache.verify(&codec, "gimlet-n", c.as_bytes()).unwrap();
        assert_eq!(cache.held(), (1, size), "past full: only the newest");
        // A value larger than the whole memory is verified, never kept.
        let small = VerifiedCookies::new(size - 1);
        small.verify(&codec, "gimlet-n", a.as_bytes()).unwrap();
        assert_eq!(small.held(), (0, 0));
        let exact = VerifiedCookies::new(size);
        exact.verify(&codec, "gimlet-n", a.as_bytes()).unwrap();
        assert_eq!(exact.held(), (1, size), "one that fits exactly is kept");
    }

    #[test]
    fn the_bound_holds_and_zero_remembers_nothing() {
        let codec = codec();
        let cache = VerifiedCookies::new(2_000);
        for n in 0..100 {
            cache
                .verify(&codec, "gimlet-n", value(&codec, n).as_bytes())
                .unwrap();
            assert!(cache.held().1 <= 2_000, "{:?}", cache.held());
        }
        assert!(cache.held().0 > 1, "{:?}", cache.held());
        let off = VerifiedCookies::new(0);
        off.verify(&codec, "gimlet-n", value(&codec, 1).as_bytes())
            .unwrap();
        assert_eq!(off.held(), (0, 0));
    }
}
