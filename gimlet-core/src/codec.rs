//! The cookie codec: how a channel's state becomes a cookie value and back.
//!
//! `docs/cookie-format.md` describes the format byte by byte, with test
//! vectors. In short, a value is base64url (no padding) of
//!
//! ```text
//! signed:    0x01 | key id | payload | HMAC-SHA256(name 0x00 0x01 key-id payload)
//! encrypted: 0x02 | key id | nonce (12) | AES-256-GCM(payload, aad = name 0x00 0x02 key-id) | tag (16)
//! ```
//!
//! where the payload is the MessagePack array
//! `[id (bin 16), created (uint), issued (uint), flags (uint), data (map str → bin)]`.
//!
//! Adapters never call this module: [`Gimlet`](crate::Gimlet) does. It is
//! public for benchmarks, for the format's test vectors, and for anyone who
//! needs to read a Gimlet cookie outside a request.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::{SecureRandom, SystemRandom};
use ring::{aead, hkdf, hmac};
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

use crate::{ConfigError, EncryptionKey, Error, Secret, SessionId};

/// Format byte of a signed cookie.
const SIGNED: u8 = 0x01;
/// Format byte of an encrypted cookie.
const ENCRYPTED: u8 = 0x02;
const HEADER_LEN: usize = 2;
const MAC_LEN: usize = 32;
const NONCE_LEN: usize = aead::NONCE_LEN;
const TAG_LEN: usize = 16;

const HKDF_SALT: &[u8] = b"gimlet";
const LABEL_MAC: &[u8] = b"gimlet/v1/cookie-mac";
const LABEL_AEAD: &[u8] = b"gimlet/v1/cookie-aead";
const LABEL_KEY_ID: &[u8] = b"gimlet/v1/key-id";
const LABEL_COMPARE: &[u8] = b"gimlet/v1/compare";

/// Payload flag: the channel has a record in the backend.
const FLAG_STORED: u8 = 0b1;

/// What a cookie carries: one channel's identity and its clientside map.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CookiePayload {
    /// The channel's id.
    pub id: SessionId,
    /// When the channel was created, in Unix seconds.
    pub created: u64,
    /// When the cookie's lifetime last started, in Unix seconds. The cookie is
    /// valid until `issued` plus the channel's lifetime.
    pub issued: u64,
    /// Whether the channel has a record in the backend. A commit that finds
    /// such a record gone does not create it again.
    pub stored: bool,
    /// The clientside map: keys to MessagePack-encoded values.
    pub data: BTreeMap<String, Vec<u8>>,
}

/// A cookie that decoded and verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decoded {
    /// What it carried.
    pub payload: CookiePayload,
    /// Whether it should be issued again: it was verified by a previous key,
    /// or it is in the format that the configuration no longer writes.
    pub reissue: bool,
}

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
    key: aead::LessSafeKey,
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

struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

fn key_id(prk: &hkdf::Prk) -> Result<u8, ConfigError> {
    let mut id = [0u8; 1];
    prk.expand(&[LABEL_KEY_ID], Len(1))
        .and_then(|okm| okm.fill(&mut id))
        .map_err(|_| ConfigError::new("key derivation failed"))?;
    Ok(id[0])
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
            return Err(ConfigError::new("a secret is required"));
        }
        if encrypt && encryption_keys.is_empty() {
            return Err(ConfigError::new("encryption needs an encryption key"));
        }
        let compare = extract(secrets[0].expose())
            .expand(&[LABEL_COMPARE], hmac::HMAC_SHA256)
            .map_err(|_| ConfigError::new("key derivation failed"))?
            .into();
        let mut signers = Vec::with_capacity(secrets.len());
        for secret in secrets {
            secret.check()?;
            let prk = extract(secret.expose());
            let key: hmac::Key = prk
                .expand(&[LABEL_MAC], hmac::HMAC_SHA256)
                .map_err(|_| ConfigError::new("key derivation failed"))?
                .into();
            signers.push(Signer {
                id: key_id(&prk)?,
                key,
            });
        }
        let mut sealers = Vec::with_capacity(encryption_keys.len());
        for secret in encryption_keys {
            let prk = extract(secret.expose());
            let key: aead::UnboundKey = prk
                .expand(&[LABEL_AEAD], &aead::AES_256_GCM)
                .map_err(|_| ConfigError::new("key derivation failed"))?
                .into();
            sealers.push(Sealer {
                id: key_id(&prk)?,
                key: aead::LessSafeKey::new(key),
            });
        }
        Ok(CookieCodec {
            signers,
            sealers,
            encrypt,
            rng: SystemRandom::new(),
            compare,
        })
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
    /// Only [`Error::Random`], if a nonce cannot be drawn.
    pub fn encode(&self, name: &str, payload: &CookiePayload) -> Result<String, Error> {
        if self.encrypt {
            let mut nonce = [0u8; NONCE_LEN];
            self.rng.fill(&mut nonce).map_err(|_| Error::Random)?;
            Ok(self.seal(name, payload, nonce))
        } else {
            Ok(self.sign(name, payload))
        }
    }

    /// Encrypts with a given nonce. Only for test vectors: a nonce must never
    /// be used twice with one key.
    #[doc(hidden)]
    pub fn encode_with_nonce(&self, name: &str, payload: &CookiePayload, nonce: [u8; 12]) -> String {
        self.seal(name, payload, nonce)
    }

    fn sign(&self, name: &str, payload: &CookiePayload) -> String {
        let signer = &self.signers[0];
        // The MAC covers `name 0x00` before the value's bytes; building the
        // value behind it keeps the MAC input contiguous.
        let start = name.len() + 1;
        let mut buf = Vec::with_capacity(start + HEADER_LEN + 64 + MAC_LEN);
        buf.extend_from_slice(name.as_bytes());
        buf.extend_from_slice(&[0, SIGNED, signer.id]);
        write_payload(&mut buf, payload);
        let tag = hmac::sign(&signer.key, &buf);
        buf.extend_from_slice(tag.as_ref());
        URL_SAFE_NO_PAD.encode(&buf[start..])
    }

    fn seal(&self, name: &str, payload: &CookiePayload, nonce: [u8; NONCE_LEN]) -> String {
        let sealer = &self.sealers[0];
        let start = HEADER_LEN + NONCE_LEN;
        let mut buf = Vec::with_capacity(start + 64 + TAG_LEN);
        buf.extend_from_slice(&[ENCRYPTED, sealer.id]);
        buf.extend_from_slice(&nonce);
        write_payload(&mut buf, payload);
        let aad = aad(name, ENCRYPTED, sealer.id);
        let sealed = sealer.key.seal_in_place_separate_tag(
            aead::Nonce::assume_unique_for_key(nonce),
            aead::Aad::from(&aad),
            &mut buf[start..],
        );
        // Sealing fails only for inputs over 64 GiB.
        if let Ok(tag) = sealed {
            buf.extend_from_slice(tag.as_ref());
        }
        URL_SAFE_NO_PAD.encode(&buf)
    }

    /// Verifies (or decrypts) a cookie value that arrived under `name`.
    ///
    /// # Errors
    ///
    /// A [`DecodeError`] saying why the value was rejected.
    pub fn decode(&self, name: &str, value: &str) -> Result<Decoded, DecodeError> {
        // Decode behind `name 0x00`, the MAC's prefix, as `sign` does.
        let start = name.len() + 1;
        let mut buf = vec![0u8; start + base64::decoded_len_estimate(value.len())];
        buf[..name.len()].copy_from_slice(name.as_bytes());
        let len = URL_SAFE_NO_PAD
            .decode_slice(value.as_bytes(), &mut buf[start..])
            .map_err(|_| DecodeError::Malformed)?;
        buf.truncate(start + len);
        if len < HEADER_LEN + MAC_LEN.min(NONCE_LEN + TAG_LEN) {
            return Err(DecodeError::Malformed);
        }
        let (format, id) = (buf[start], buf[start + 1]);
        let (payload, primary) = match format {
            SIGNED => self.verify(id, &buf, start)?,
            ENCRYPTED => self.open(name, id, &mut buf[start..])?,
            _ => return Err(DecodeError::Format),
        };
        let reissue = !primary || (format == ENCRYPTED) != self.encrypt;
        let payload = read_payload(payload)?;
        Ok(Decoded { payload, reissue })
    }

    /// Checks the MAC at the end of `buf`, which holds `name 0x00` and then
    /// the value's bytes from `start` on.
    fn verify<'b>(&self, id: u8, buf: &'b [u8], start: usize) -> Result<(&'b [u8], bool), DecodeError> {
        if buf.len() < start + HEADER_LEN + MAC_LEN {
            return Err(DecodeError::Malformed);
        }
        let (signed, mac) = buf.split_at(buf.len() - MAC_LEN);
        let mut known = false;
        for (index, signer) in self.signers.iter().enumerate() {
            if signer.id != id {
                continue;
            }
            known = true;
            if hmac::verify(&signer.key, signed, mac).is_ok() {
                return Ok((&signed[start + HEADER_LEN..], index == 0));
            }
        }
        Err(if known { DecodeError::Forged } else { DecodeError::UnknownKey })
    }

    fn open<'b>(&self, name: &str, id: u8, buf: &'b mut [u8]) -> Result<(&'b [u8], bool), DecodeError> {
        let start = HEADER_LEN + NONCE_LEN;
        if buf.len() < start + TAG_LEN {
            return Err(DecodeError::Malformed);
        }
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&buf[HEADER_LEN..start]);
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
        // Opening decrypts in place, so a failed attempt would leave garbage
        // behind for the next key: keep the ciphertext for retries.
        let sealed = buf[start..].to_vec();
        for (n, &index) in candidates.iter().enumerate() {
            let text = &mut buf[start..];
            if n > 0 {
                text.copy_from_slice(&sealed);
            }
            let opened = self.sealers[index].key.open_in_place(
                aead::Nonce::assume_unique_for_key(nonce),
                aead::Aad::from(&aad),
                text,
            );
            if let Ok(plain) = opened {
                let len = plain.len();
                return Ok((&buf[start..start + len], index == 0));
            }
        }
        Err(DecodeError::Forged)
    }

    /// The length of the cookie value for a payload of `payload_len` bytes.
    pub fn value_len(&self, payload_len: usize) -> usize {
        let raw = if self.encrypt {
            HEADER_LEN + NONCE_LEN + payload_len + TAG_LEN
        } else {
            HEADER_LEN + payload_len + MAC_LEN
        };
        (raw * 4).div_ceil(3)
    }
}

/// The length of `payload` once serialized, for the size guard.
pub fn payload_len(payload: &CookiePayload) -> usize {
    let mut buf = Vec::with_capacity(128);
    write_payload(&mut buf, payload);
    buf.len()
}

fn aad(name: &str, format: u8, id: u8) -> Vec<u8> {
    let mut aad = Vec::with_capacity(name.len() + 3);
    aad.extend_from_slice(name.as_bytes());
    aad.extend_from_slice(&[0, format, id]);
    aad
}

#[derive(Serialize)]
struct PayloadOut<'a>(
    #[serde(with = "serde_bytes")] &'a [u8],
    u64,
    u64,
    u8,
    BinMapRef<'a>,
);

#[derive(Deserialize)]
struct PayloadIn(#[serde(with = "serde_bytes")] Vec<u8>, u64, u64, u8, BinMap);

fn write_payload(buf: &mut Vec<u8>, payload: &CookiePayload) {
    let flags = if payload.stored { FLAG_STORED } else { 0 };
    let out = PayloadOut(
        payload.id.as_bytes(),
        payload.created,
        payload.issued,
        flags,
        BinMapRef(&payload.data),
    );
    // Writing plain integers, strings and byte strings into a Vec cannot fail.
    let _ = rmp_serde::encode::write(buf, &out);
}

fn read_payload(bytes: &[u8]) -> Result<CookiePayload, DecodeError> {
    let PayloadIn(id, created, issued, flags, BinMap(data)) =
        rmp_serde::from_slice(bytes).map_err(|_| DecodeError::Payload)?;
    let id: [u8; 16] = id.try_into().map_err(|_| DecodeError::Payload)?;
    Ok(CookiePayload {
        id: SessionId::from_bytes(id),
        created,
        issued,
        stored: flags & FLAG_STORED != 0,
        data,
    })
}

/// Serializes a map of byte vectors as MessagePack `bin`, not as arrays.
struct BinMapRef<'a>(&'a BTreeMap<String, Vec<u8>>);

impl Serialize for BinMapRef<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in self.0 {
            map.serialize_entry(key, serde_bytes::Bytes::new(value))?;
        }
        map.end()
    }
}

struct BinMap(BTreeMap<String, Vec<u8>>);

impl<'de> Deserialize<'de> for BinMap {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MapVisitor;
        impl<'de> Visitor<'de> for MapVisitor {
            type Value = BinMap;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of strings to byte strings")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<BinMap, A::Error> {
                let mut map = BTreeMap::new();
                while let Some((key, value)) = access.next_entry::<String, serde_bytes::ByteBuf>()? {
                    map.insert(key, value.into_vec());
                }
                Ok(BinMap(map))
            }
        }
        deserializer.deserialize_map(MapVisitor)
    }
}

/// An upper bound of the serialized payload's length for a clientside map
/// whose entries have these key and value lengths. Cheap enough to run on
/// every clientside insert: the size guard.
pub(crate) fn payload_bound(entries: impl ExactSizeIterator<Item = (usize, usize)>) -> usize {
    fn header(len: usize, small: usize) -> usize {
        match len {
            n if n < small => 1,
            n if n <= 0xff && small == 32 => 2,
            n if n <= 0xffff => 3,
            _ => 5,
        }
    }
    // Array header, id (bin 16), two timestamps at their widest, flags.
    let fixed = 1 + 2 + 16 + 9 + 9 + 1;
    let mut len = fixed + header(entries.len(), 16);
    for (key, value) in entries {
        len += header(key, 32) + key;
        len += if value <= 0xff { 2 } else { header(value, 0) } + value;
    }
    len
}
