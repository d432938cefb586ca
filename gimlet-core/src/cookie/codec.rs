//! The cookie codec: how a channel's state becomes a cookie value and back.
//!
//! `docs/cookie-format.md` describes the format byte by byte, with test
//! vectors. In short, a value is base64url (no padding) of
//!
//! ```text
//! signed:    0x03 | key id | payload | HMAC-SHA256(name 0x00 0x03 key-id payload)
//! encrypted: 0x04 | key id | salt (16) | AES-256-GCM(payload, aad = name 0x00 0x04 key-id) | tag (16)
//! ```
//!
//! where the payload is the MessagePack array `[id (bin 16), created (uint),
//! issued (uint), checked (uint), flags (uint), data (map str → bin)]`. Each
//! encrypted value is sealed under its own key, derived from the configured
//! key and the value's random salt, so no nonce is ever used twice under
//! one key, however many cookies a key writes.
//!
//! Adapters never call this module: [`Gimlet`](crate::Gimlet) does. It is
//! public for benchmarks, for the format's test vectors, and for anyone who
//! needs to read a Gimlet cookie outside a request.

use std::fmt;
use std::ops::Range;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::{SecureRandom, SystemRandom};
use ring::{aead, hkdf, hmac};

use super::ClientsideMap;
use super::payload::{self, CookiePayload, Header};
use crate::backend::Owner;
use crate::error::ConfigErrorKind;
use crate::{ConfigError, EncryptionKey, Error, Secret, SessionId};

/// Format byte of a signed cookie (format 2).
const SIGNED: u8 = 0x03;
/// Format byte of an encrypted cookie (format 2).
const ENCRYPTED: u8 = 0x04;
const HEADER_LEN: usize = 2;
const MAC_LEN: usize = 32;
/// The random salt each encrypted value's key is derived from.
const SALT_LEN: usize = 16;
const TAG_LEN: usize = 16;
/// Every derived key seals exactly one value, so its nonce can be fixed.
const NONCE: [u8; aead::NONCE_LEN] = [0; aead::NONCE_LEN];

const HKDF_SALT: &[u8] = b"gimlet";
const LABEL_MAC: &[u8] = b"gimlet/v1/cookie-mac";
const LABEL_AEAD: &[u8] = b"gimlet/v2/cookie-aead";
const LABEL_KEY_ID: &[u8] = b"gimlet/v1/key-id";
const LABEL_COMPARE: &[u8] = b"gimlet/v1/compare";
const LABEL_OWNER: &[u8] = b"gimlet/v1/owner";

/// Why a cookie value was rejected. The reason is for logs; every reason is
/// treated the same way (the cookie counts as absent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Not base64url, or too short to hold a header and a MAC or tag.
    #[error("malformed cookie value")]
    Malformed,
    /// An unknown format byte, or encrypted with no encryption key configured.
    #[error("unsupported cookie format")]
    Format,
    /// No configured key has this key id.
    #[error("cookie signed by an unknown key")]
    UnknownKey,
    /// The MAC or the AEAD tag did not verify.
    #[error("cookie failed verification")]
    Forged,
    /// It verified, but the payload does not decode.
    #[error("cookie payload does not decode")]
    Payload,
}

struct Signer {
    id: u8,
    key: hmac::Key,
}

struct Sealer {
    id: u8,
    /// The pseudorandom key each value's own key is expanded from.
    prk: hkdf::Prk,
}

impl Sealer {
    /// The key that seals exactly the value with this salt.
    fn key(&self, salt: &[u8]) -> aead::LessSafeKey {
        let info = [LABEL_AEAD, salt];
        // Expanding 32 bytes from a SHA-256 PRK cannot fail.
        let key = self
            .prk
            .expand(&info, &aead::AES_256_GCM)
            .map(aead::UnboundKey::from)
            .unwrap_or_else(|_| unreachable!("32 bytes fit HKDF-SHA256's output"));
        aead::LessSafeKey::new(key)
    }
}

/// Signs, encrypts, verifies and decrypts cookie values.
///
/// Built from the configured secrets and encryption keys: the first of each
/// list writes, all of them read.
pub struct CookieCodec {
    signers: Vec<Signer>,
    sealers: Vec<Sealer>,
    encrypt: bool,
    rng: SystemRandom,
    compare: hmac::Key,
    /// One key per secret, in their order, that owner names are digested
    /// under ([`CookieCodec::owners`]).
    owner_keys: Vec<hmac::Key>,
}

impl fmt::Debug for CookieCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CookieCodec")
            .field("signing_keys", &self.signers.len())
            .field("encryption_keys", &self.sealers.len())
            .field("encrypt", &self.encrypt)
            .finish_non_exhaustive()
    }
}

/// The key id: the first byte of the key's HKDF output for its label
/// (HKDF's first bytes do not depend on how many are asked for).
fn key_id(prk: &hkdf::Prk) -> Result<u8, ConfigError> {
    let mut okm = [0u8; 32];
    prk.expand(&[LABEL_KEY_ID], hkdf::HKDF_SHA256)
        .and_then(|out| out.fill(&mut okm))
        .map_err(|_| ConfigError::new(ConfigErrorKind::Internal, "key derivation failed"))?;
    Ok(okm[0])
}

fn extract(ikm: &[u8]) -> hkdf::Prk {
    hkdf::Salt::new(hkdf::HKDF_SHA256, HKDF_SALT).extract(ikm)
}

impl CookieCodec {
    /// Derives the cookie keys. `secrets[0]` signs; `encryption_keys[0]`, if
    /// `encrypt` is set, encrypts. Every key verifies.
    ///
    /// # Errors
    ///
    /// No secret, a secret shorter than [`MIN_SECRET_LEN`](crate::MIN_SECRET_LEN),
    /// or `encrypt` without an encryption key.
    pub fn new(
        secrets: &[Secret],
        encryption_keys: &[EncryptionKey],
        encrypt: bool,
    ) -> Result<Self, ConfigError> {
        if secrets.is_empty() {
            return Err(ConfigError::new(
                ConfigErrorKind::Secret,
                "a secret is required",
            ));
        }
        if encrypt && encryption_keys.is_empty() {
            return Err(ConfigError::new(
                ConfigErrorKind::EncryptionKey,
                "encryption needs an encryption key",
            ));
        }
        let compare = extract(secrets[0].expose())
            .expand(&[LABEL_COMPARE], hmac::HMAC_SHA256)
            .map_err(|_| ConfigError::new(ConfigErrorKind::Internal, "key derivation failed"))?
            .into();
        let mut signers = Vec::with_capacity(secrets.len());
        let mut owner_keys = Vec::with_capacity(secrets.len());
        for secret in secrets {
            secret.check()?;
            let prk = extract(secret.expose());
            owner_keys.push(
                prk.expand(&[LABEL_OWNER], hmac::HMAC_SHA256)
                    .map_err(|_| {
                        ConfigError::new(ConfigErrorKind::Internal, "key derivation failed")
                    })?
                    .into(),
            );
            let key: hmac::Key = prk
                .expand(&[LABEL_MAC], hmac::HMAC_SHA256)
                .map_err(|_| ConfigError::new(ConfigErrorKind::Internal, "key derivation failed"))?
                .into();
            signers.push(Signer {
                id: key_id(&prk)?,
                key,
            });
        }
        let mut sealers = Vec::with_capacity(encryption_keys.len());
        for secret in encryption_keys {
            let prk = extract(secret.expose());
            sealers.push(Sealer {
                id: key_id(&prk)?,
                prk,
            });
        }
        Ok(CookieCodec {
            signers,
            sealers,
            encrypt,
            rng: SystemRandom::new(),
            compare,
            owner_keys,
        })
    }

    /// The owner index's keys for the owner named `name`: an HMAC-SHA256
    /// of the name under a key derived from each secret, the signing
    /// secret's first. Without the secret, nobody can tell from a cookie
    /// or a store whose session it is, nor confirm a guess. The index is
    /// written under the first; the others find what was written before a
    /// rotation.
    pub(crate) fn owners(&self, name: &str) -> Vec<Owner> {
        self.owner_keys
            .iter()
            .map(|key| {
                let tag = hmac::sign(key, name.as_bytes());
                let mut bytes = [0; 16];
                bytes.copy_from_slice(&tag.as_ref()[..16]);
                Owner::from_bytes(bytes)
            })
            .collect()
    }

    /// Whether `a` equals `b`, in time that does not depend on where they
    /// differ: both are MACed and the tags are compared by `hmac::verify`.
    pub(crate) fn secure_eq(&self, a: &[u8], b: &[u8]) -> bool {
        let tag = hmac::sign(&self.compare, a);
        hmac::verify(&self.compare, b, tag.as_ref()).is_ok()
    }

    /// Whether values are encrypted (otherwise they are signed).
    pub fn encrypts(&self) -> bool {
        self.encrypt
    }

    /// The cookie value for `payload` under the cookie name `name`.
    ///
    /// # Errors
    ///
    /// Only [`Error::Random`], if a salt cannot be drawn.
    pub fn encode(&self, name: &str, payload: &CookiePayload) -> Result<String, Error> {
        let entries = payload.data.iter().map(|(k, v)| (k.as_str(), v.as_slice()));
        self.encode_parts(name, &payload.header(), entries)
    }

    /// [`CookieCodec::encode`] from the payload's parts.
    pub(crate) fn encode_parts<'a>(
        &self,
        name: &str,
        header: &Header,
        entries: impl ExactSizeIterator<Item = (&'a str, &'a [u8])>,
    ) -> Result<String, Error> {
        let write = |buf: &mut Vec<u8>| payload::write(buf, header, entries);
        if self.encrypt {
            let mut salt = [0u8; SALT_LEN];
            self.rng.fill(&mut salt).map_err(|_| Error::Random)?;
            self.seal(name, write, salt)
        } else {
            Ok(self.sign(name, write))
        }
    }

    /// Encrypts with a given salt. Only for test vectors: real values draw
    /// a fresh random salt each.
    #[doc(hidden)]
    pub fn encode_with_salt(
        &self,
        name: &str,
        payload: &CookiePayload,
        salt: [u8; SALT_LEN],
    ) -> Result<String, Error> {
        let entries = payload.data.iter().map(|(k, v)| (k.as_str(), v.as_slice()));
        self.seal(
            name,
            |buf| payload::write(buf, &payload.header(), entries),
            salt,
        )
    }

    fn sign(&self, name: &str, write: impl FnOnce(&mut Vec<u8>)) -> String {
        let signer = &self.signers[0];
        // The MAC covers `name 0x00` before the value's bytes; building the
        // value behind it keeps the MAC input contiguous.
        let start = name.len() + 1;
        let mut buf = Vec::with_capacity(start + HEADER_LEN + 64 + MAC_LEN);
        buf.extend_from_slice(name.as_bytes());
        buf.extend_from_slice(&[0, SIGNED, signer.id]);
        write(&mut buf);
        let tag = hmac::sign(&signer.key, &buf);
        buf.extend_from_slice(tag.as_ref());
        URL_SAFE_NO_PAD.encode(&buf[start..])
    }

    fn seal(
        &self,
        name: &str,
        write: impl FnOnce(&mut Vec<u8>),
        salt: [u8; SALT_LEN],
    ) -> Result<String, Error> {
        let sealer = &self.sealers[0];
        let start = HEADER_LEN + SALT_LEN;
        let mut buf = Vec::with_capacity(start + 64 + TAG_LEN);
        buf.extend_from_slice(&[ENCRYPTED, sealer.id]);
        buf.extend_from_slice(&salt);
        write(&mut buf);
        let aad = aad(name, ENCRYPTED, sealer.id);
        let tag = sealer
            .key(&salt)
            .seal_in_place_separate_tag(
                aead::Nonce::assume_unique_for_key(NONCE),
                aead::Aad::from(&aad),
                &mut buf[start..],
            )
            // Sealing fails only for inputs over 64 GiB: never a cookie.
            .map_err(|_| Error::Internal {
                what: "a cookie could not be encrypted",
            })?;
        buf.extend_from_slice(tag.as_ref());
        Ok(URL_SAFE_NO_PAD.encode(&buf))
    }

    /// Verifies (or decrypts) a cookie value that arrived under `name`.
    ///
    /// The clientside map is checked but left as it arrived: reading it
    /// costs no allocation per key until it is turned into a payload.
    ///
    /// # Errors
    ///
    /// A [`DecodeError`] saying why the value was rejected.
    pub fn decode(&self, name: &str, value: &str) -> Result<VerifiedCookie, DecodeError> {
        self.decode_bytes(name, value.as_bytes())
    }

    /// [`CookieCodec::decode`] of a value as the `Cookie` header's bytes:
    /// base64 text is ASCII, so any other byte fails as malformed, with
    /// no separate UTF-8 check.
    pub(crate) fn decode_bytes(
        &self,
        name: &str,
        value: &[u8],
    ) -> Result<VerifiedCookie, DecodeError> {
        // Decode behind `name 0x00`, the MAC's prefix, as `sign` does.
        let start = name.len() + 1;
        let mut buf = Vec::with_capacity(start + base64::decoded_len_estimate(value.len()));
        buf.extend_from_slice(name.as_bytes());
        buf.push(0);
        URL_SAFE_NO_PAD
            .decode_vec(value, &mut buf)
            .map_err(|_| DecodeError::Malformed)?;
        // Each format checks its own lengths; a value too short for a MAC
        // or a tag fails verification like any other forgery.
        let (format, id) = match buf[start..] {
            [format, id, ..] => (format, id),
            _ => return Err(DecodeError::Malformed),
        };
        let (range, primary) = match format {
            SIGNED => self.verify(id, &buf, start)?,
            ENCRYPTED => {
                let (range, primary) = self.open(name, id, &mut buf[start..])?;
                (range.start + start..range.end + start, primary)
            }
            _ => return Err(DecodeError::Format),
        };
        let payload = buf.get(range.clone()).ok_or(DecodeError::Malformed)?;
        let (header, map_start, count) = payload::read(payload)?;
        buf.truncate(range.end);
        Ok(VerifiedCookie {
            header,
            client: ClientsideMap::raw(buf, range.start + map_start, count),
            reissue: !primary || (format == ENCRYPTED) != self.encrypt,
        })
    }

    /// Checks the MAC at the end of `buf`, which holds `name 0x00` and then
    /// the value's bytes from `start` on.
    fn verify(
        &self,
        id: u8,
        buf: &[u8],
        start: usize,
    ) -> Result<(Range<usize>, bool), DecodeError> {
        // A value too short for a MAC leaves some of the name's bytes in
        // the "MAC", which cannot verify.
        let Some((signed, mac)) = buf.split_last_chunk::<MAC_LEN>() else {
            return Err(DecodeError::Malformed);
        };
        let mut known = false;
        for (index, signer) in self.signers.iter().enumerate() {
            if signer.id != id {
                continue;
            }
            known = true;
            if hmac::verify(&signer.key, signed, mac).is_ok() {
                return Ok((start + HEADER_LEN..signed.len(), index == 0));
            }
        }
        Err(if known {
            DecodeError::Forged
        } else {
            DecodeError::UnknownKey
        })
    }

    /// Decrypts `buf` (the value's bytes) in place; answers where the
    /// plaintext is.
    fn open(
        &self,
        name: &str,
        id: u8,
        buf: &mut [u8],
    ) -> Result<(Range<usize>, bool), DecodeError> {
        let start = HEADER_LEN + SALT_LEN;
        // A text shorter than a tag does not open.
        let Some(salt) = buf
            .get(HEADER_LEN..start)
            .and_then(|salt| <[u8; SALT_LEN]>::try_from(salt).ok())
        else {
            return Err(DecodeError::Malformed);
        };
        let aad = aad(name, ENCRYPTED, id);
        let candidates: Vec<usize> = (0..self.sealers.len())
            .filter(|&i| self.sealers[i].id == id)
            .collect();
        if candidates.is_empty() {
            return Err(if self.sealers.is_empty() {
                DecodeError::Format
            } else {
                DecodeError::UnknownKey
            });
        }
        let open = |index: usize, text: &mut [u8]| {
            self.sealers[index]
                .key(&salt)
                .open_in_place(
                    aead::Nonce::assume_unique_for_key(NONCE),
                    aead::Aad::from(&aad),
                    text,
                )
                .map(|plain| plain.len())
        };
        // Opening decrypts in place, and a failed attempt leaves garbage
        // behind: every key but the last tries a copy.
        let Some((&last, others)) = candidates.split_last() else {
            return Err(DecodeError::Forged);
        };
        for &index in others {
            let mut text = buf[start..].to_vec();
            if let Ok(len) = open(index, &mut text) {
                buf[start..start + len].copy_from_slice(&text[..len]);
                return Ok((start..start + len, index == 0));
            }
        }
        if let Ok(len) = open(last, &mut buf[start..]) {
            return Ok((start..start + len, last == 0));
        }
        Err(DecodeError::Forged)
    }

    /// The length of the cookie value for a payload of `payload_len` bytes.
    pub fn value_len(&self, payload_len: usize) -> usize {
        let raw = if self.encrypt {
            HEADER_LEN + SALT_LEN + payload_len + TAG_LEN
        } else {
            HEADER_LEN + payload_len + MAC_LEN
        };
        (raw * 4).div_ceil(3)
    }
}

/// A cookie that decoded and verified. Its clientside map is left as the
/// cookie's bytes, and read in place.
///
/// `Debug` shows neither the id nor the data.
#[derive(Clone)]
pub struct VerifiedCookie {
    pub(crate) header: Header,
    pub(crate) client: ClientsideMap,
    pub(crate) reissue: bool,
}

impl fmt::Debug for VerifiedCookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedCookie")
            .field("created", &self.header.created)
            .field("issued", &self.header.issued)
            .field("checked", &self.header.checked)
            .field("stored", &self.header.stored)
            .field("keys", &self.client.len())
            .field("reissue", &self.reissue)
            .finish_non_exhaustive()
    }
}

impl VerifiedCookie {
    /// The channel's id.
    pub fn id(&self) -> SessionId {
        self.header.id
    }

    /// When the channel was created, in Unix seconds.
    pub fn created(&self) -> u64 {
        self.header.created
    }

    /// When the cookie's lifetime last started, in Unix seconds.
    pub fn issued(&self) -> u64 {
        self.header.issued
    }

    /// When the channel's record was last seen to exist, in Unix seconds.
    pub fn checked(&self) -> u64 {
        self.header.checked
    }

    /// Whether the channel has a record in the backend.
    pub fn stored(&self) -> bool {
        self.header.stored
    }

    /// Whether it should be issued again: it was verified by a previous key,
    /// or it is in the format that the configuration no longer writes.
    pub fn reissue(&self) -> bool {
        self.reissue
    }

    /// The MessagePack bytes of one clientside value.
    pub fn get(&self, key: &str) -> Option<&[u8]> {
        self.client.get(key)
    }

    /// The clientside entries, as key and MessagePack bytes.
    pub fn entries(&self) -> impl ExactSizeIterator<Item = (&str, &[u8])> {
        self.client.iter()
    }

    /// Everything the cookie carried, copied out.
    pub fn to_payload(&self) -> CookiePayload {
        CookiePayload {
            id: self.header.id,
            created: self.header.created,
            issued: self.header.issued,
            checked: self.header.checked,
            stored: self.header.stored,
            owner: self.header.owner,
            lifetime: self.header.lifetime,
            data: self
                .entries()
                .map(|(k, v)| (k.to_owned(), v.to_vec()))
                .collect(),
        }
    }
}

/// The associated data of an encrypted value: `name 0x00 format key-id`.
fn aad(name: &str, format: u8, id: u8) -> Vec<u8> {
    let mut aad = Vec::with_capacity(name.len() + 3);
    aad.extend_from_slice(name.as_bytes());
    aad.extend_from_slice(&[0, format, id]);
    aad
}
