//! A peer's cookie value, read as the `cookie` crate (0.16 to 0.18, which
//! tower-sessions and actix-session use) reads it: percent-decoded, then,
//! with the peer's key, verified as a signed value or opened as a private
//! one.
//!
//! - Signed: `base64(HMAC-SHA256(signing key, value)) ‖ value`, standard
//!   base64 with padding (44 characters). The cookie's name is not signed.
//! - Private: `base64(nonce (12) ‖ AES-256-GCM(encryption key, value, aad
//!   = the cookie's name) ‖ tag (16))`.
//!
//! The key is the peer's 64-byte master key (`cookie::Key::from`): the
//! signing key is its first 32 bytes, the encryption key the last 32.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::{aead, hmac};

use crate::ConfigError;
use crate::error::ConfigErrorKind;

/// The length of a master key.
pub(crate) const KEY_LEN: usize = 64;
/// Base64 of a 32-byte MAC, with its padding.
const DIGEST_LEN: usize = 44;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// A peer's cookie key.
pub(crate) struct PeerKey {
    signing: hmac::Key,
    encryption: aead::LessSafeKey,
}

impl std::fmt::Debug for PeerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PeerKey(..)")
    }
}

impl PeerKey {
    /// The key of the master key `master`: its first 64 bytes, as
    /// `cookie::Key::from` takes them.
    pub(crate) fn new(master: &[u8]) -> Result<Self, ConfigError> {
        if master.len() < KEY_LEN {
            return Err(ConfigError::new(
                ConfigErrorKind::Import,
                format!(
                    "the peer's cookie key has {} bytes; the cookie crate's keys have 64",
                    master.len()
                ),
            ));
        }
        let encryption = aead::UnboundKey::new(&aead::AES_256_GCM, &master[32..KEY_LEN])
            .map_err(|_| ConfigError::new(ConfigErrorKind::Import, "bad peer key"))?;
        Ok(PeerKey {
            signing: hmac::Key::new(hmac::HMAC_SHA256, &master[..32]),
            encryption: aead::LessSafeKey::new(encryption),
        })
    }

    /// The value of a signed cookie, if its MAC verifies.
    fn verify(&self, value: &str) -> Option<String> {
        if !value.is_char_boundary(DIGEST_LEN) {
            return None;
        }
        let (digest, plain) = value.split_at(DIGEST_LEN);
        let digest = STANDARD.decode(digest).ok()?;
        hmac::verify(&self.signing, plain.as_bytes(), &digest).ok()?;
        Some(plain.to_owned())
    }

    /// The value of a private cookie named `name`, if it opens.
    fn open(&self, name: &str, value: &str) -> Option<String> {
        let mut data = STANDARD.decode(value).ok()?;
        if data.len() < NONCE_LEN + TAG_LEN {
            return None;
        }
        let mut sealed = data.split_off(NONCE_LEN);
        let nonce = aead::Nonce::try_assume_unique_for_key(&data).ok()?;
        let aad = aead::Aad::from(name.as_bytes());
        let plain = self
            .encryption
            .open_in_place(nonce, aad, &mut sealed)
            .ok()?;
        String::from_utf8(plain.to_vec()).ok()
    }
}

/// Undoes the percent-encoding actix-web puts on a cookie value (`cookie`'s
/// `encoded()`); a value with no `%` comes back as it is.
fn percent_decode(value: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(value.len());
    let mut rest = value;
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'%' {
            let hex = tail.get(..2)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            rest = &tail[2..];
        } else {
            out.push(b);
            rest = tail;
        }
    }
    Some(out)
}

/// How the peer protects its cookie.
#[derive(Debug)]
pub(crate) enum Protection {
    /// Not at all: tower-sessions' default.
    Plain,
    /// Signed under the key.
    Signed(PeerKey),
    /// Private (encrypted) under the key.
    Private(PeerKey),
    /// Either, under the key: for a key that protects nothing else.
    Either(PeerKey),
}

/// What the peer's cookie named `name` carries, read only as the peer
/// reads it: the value as sent, or one that verifies as signed or opens
/// as private under the key, as `protection` says.
pub(crate) fn read(
    name: &str,
    value: &[u8],
    protection: &Protection,
) -> Result<String, &'static str> {
    let value = percent_decode(value).ok_or("bad percent-encoding")?;
    let value = String::from_utf8(value).map_err(|_| "not UTF-8")?;
    let read = match protection {
        Protection::Plain => return Ok(value),
        Protection::Signed(key) => key.verify(&value),
        Protection::Private(key) => key.open(name, &value),
        Protection::Either(key) => key.verify(&value).or_else(|| key.open(name, &value)),
    };
    read.ok_or("did not verify under the peer's key")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode(b"a%2Fb%3D").unwrap(), b"a/b=");
        assert_eq!(percent_decode(b"plain").unwrap(), b"plain");
        assert!(percent_decode(b"bad%2").is_none());
        assert!(percent_decode(b"bad%zz").is_none());
    }

    #[test]
    fn short_keys_are_refused() {
        assert!(PeerKey::new(&[7; 63]).is_err());
        assert!(PeerKey::new(&[7; 64]).is_ok());
    }
}

#[cfg(test)]
mod modes {
    use super::*;

    fn key() -> PeerKey {
        PeerKey::new(&[7; 64]).unwrap()
    }

    /// A value the `cookie` crate would sign under `[7; 64]`.
    fn signed(value: &str) -> String {
        let mac = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, &[7; 32]),
            value.as_bytes(),
        );
        format!("{}{value}", STANDARD.encode(mac.as_ref()))
    }

    #[test]
    fn each_mode_reads_only_its_own_values() {
        let value = signed("abc");
        let read = |p: &Protection| read("id", value.as_bytes(), p);
        assert_eq!(read(&Protection::Signed(key())).unwrap(), "abc");
        assert_eq!(read(&Protection::Either(key())).unwrap(), "abc");
        assert!(read(&Protection::Private(key())).is_err());
        assert_eq!(read(&Protection::Plain).unwrap(), value);
        // Too short to hold a nonce and a tag, or just long enough for an
        // empty value: neither opens under a key that sealed nothing.
        for len in [5, 28] {
            let short = STANDARD.encode(vec![0; len]);
            assert!(super::read("id", short.as_bytes(), &Protection::Private(key())).is_err());
        }
        let tampered = value.replacen('a', "b", 1);
        assert!(super::read("id", tampered.as_bytes(), &Protection::Signed(key())).is_err());
    }
}
