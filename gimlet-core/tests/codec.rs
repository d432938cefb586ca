//! Properties of the cookie codec.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;

use gimlet_core::cookie::{CookieCodec, CookiePayload, DecodeError};
use gimlet_core::testing::ManualClock;
use gimlet_core::{EncryptionKey, Gimlet, Placement, Secret, SessionId};
use proptest::prelude::*;

const NEW: &str = "the newest secret, thirty-two bytes long";
const OLD: &str = "the older secret, thirty-two bytes long!";

fn codec(secrets: &[&str], keys: &[u8], encrypt: bool) -> CookieCodec {
    let secrets: Vec<Secret> = secrets.iter().map(|s| Secret::new(*s)).collect();
    let keys: Vec<EncryptionKey> = keys
        .iter()
        .map(|b| EncryptionKey::from_bytes([*b; 32]))
        .collect();
    CookieCodec::new(&secrets, &keys, encrypt).unwrap()
}

fn both_modes() -> [CookieCodec; 2] {
    [codec(&[NEW], &[], false), codec(&[NEW], &[7], true)]
}

fn payload() -> impl Strategy<Value = CookiePayload> {
    (
        any::<[u8; 16]>(),
        any::<u64>(),
        any::<u64>(),
        any::<u64>(),
        any::<bool>(),
        prop::collection::btree_map(".{1,12}", prop::collection::vec(any::<u8>(), 0..40), 0..5),
    )
        .prop_map(
            |(id, created, issued, checked, stored, data)| CookiePayload {
                id: SessionId::from_bytes(id),
                created,
                issued,
                checked,
                stored,
                owner: None,
                lifetime: None,
                data,
            },
        )
}

const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

proptest! {
    #[test]
    fn decode_of_encode_is_identity(p in payload()) {
        for codec in both_modes() {
            let value = codec.encode("gimlet-n", &p).unwrap();
            let decoded = codec.decode("gimlet-n", &value).unwrap();
            prop_assert_eq!(&decoded.to_payload(), &p);
            prop_assert!(!decoded.reissue());
            for (key, value) in &p.data {
                prop_assert_eq!(decoded.get(key), Some(value.as_slice()));
            }
            prop_assert_eq!(value.len(), codec.value_len(gimlet_core::cookie::payload_len(&p)));
        }
    }

    #[test]
    fn any_single_character_change_is_rejected(p in payload(), at in any::<prop::sample::Index>(), to in 0..64usize) {
        for codec in both_modes() {
            let value = codec.encode("gimlet-n", &p).unwrap();
            let mut bytes = value.clone().into_bytes();
            let i = at.index(bytes.len());
            let replacement = if B64[to] == bytes[i] { B64[(to + 1) % 64] } else { B64[to] };
            bytes[i] = replacement;
            let tampered = String::from_utf8(bytes).unwrap();
            prop_assert!(codec.decode("gimlet-n", &tampered).is_err(), "accepted {}", tampered);
        }
    }

    #[test]
    fn any_truncation_or_extension_is_rejected(p in payload(), cut in 1..200usize, extra in "[A-Za-z0-9_-]{1,8}") {
        for codec in both_modes() {
            let value = codec.encode("gimlet-n", &p).unwrap();
            let cut = cut.min(value.len());
            prop_assert!(codec.decode("gimlet-n", &value[..value.len() - cut]).is_err());
            let extended = format!("{value}{extra}");
            prop_assert!(codec.decode("gimlet-n", &extended).is_err());
        }
    }

    #[test]
    fn a_cookie_issued_under_one_name_is_rejected_under_another(p in payload()) {
        for codec in both_modes() {
            let value = codec.encode("gimlet-n", &p).unwrap();
            prop_assert_eq!(codec.decode("gimlet-p", &value).err(), Some(DecodeError::Forged));
            prop_assert!(codec.decode("gimlet-n\0", &value).is_err());
        }
    }

    #[test]
    fn rotated_keys_verify_and_ask_to_be_issued_again(p in payload(), encrypt in any::<bool>()) {
        let old = codec(&[OLD], &[1], encrypt);
        let rotated = codec(&[NEW, OLD], &[2, 1], encrypt);
        let value = old.encode("gimlet-p", &p).unwrap();
        let decoded = rotated.decode("gimlet-p", &value).unwrap();
        prop_assert_eq!(&decoded.to_payload(), &p);
        prop_assert!(decoded.reissue());
        // The new key signs, and its cookies need nothing more.
        let reissued = rotated.encode("gimlet-p", &decoded.to_payload()).unwrap();
        prop_assert!(!rotated.decode("gimlet-p", &reissued).unwrap().reissue());
        // Without the old key, the old cookie is refused.
        let retired = codec(&[NEW], &[2], encrypt);
        prop_assert!(retired.decode("gimlet-p", &value).is_err());
        prop_assert!(retired.decode("gimlet-p", &reissued).is_ok());
    }

    #[test]
    fn an_expired_cookie_is_rejected(age in 0u64..200_000, lifetime in 1u64..100_000) {
        let clock = ManualClock::new(common::START);
        let gimlet = Gimlet::builder()
            .secret(NEW)
            .transient_lifetime(std::time::Duration::from_secs(lifetime))
            .transient_absolute_lifetime(std::time::Duration::from_secs(u64::from(u32::MAX)))
            .clock(clock.clone())
            .build()
            .unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(async {
            let s = gimlet.open_from_headers([]);
            s.insert_with("k", &1, Placement::new().clientside(true)).await.unwrap();
            let cookie = gimlet.commit(&s).await.unwrap().remove(0);
            let header = cookie.split(';').next().unwrap().to_owned();
            clock.advance(std::time::Duration::from_secs(age));
            let s = gimlet.open_from_headers([header.as_str()]);
            let got = s.get::<u32>("k").await.unwrap();
            prop_assert_eq!(got.is_some(), age < lifetime);
            Ok(())
        })?;
    }
}

#[test]
fn signed_mode_reads_encrypted_cookies_only_with_their_key() {
    let p = CookiePayload {
        id: SessionId::from_bytes([1; 16]),
        created: 1,
        issued: 2,
        checked: 3,
        stored: false,
        owner: None,
        lifetime: None,
        data: BTreeMap::new(),
    };
    let encrypted = codec(&[NEW], &[9], true).encode("gimlet-n", &p).unwrap();
    assert_eq!(
        codec(&[NEW], &[], false)
            .decode("gimlet-n", &encrypted)
            .err(),
        Some(DecodeError::Format)
    );
    let decoded = codec(&[NEW], &[9], false)
        .decode("gimlet-n", &encrypted)
        .unwrap();
    assert!(
        decoded.reissue(),
        "encryption was turned off: issue it signed"
    );
    assert_eq!(
        codec(&[NEW], &[8], true)
            .decode("gimlet-n", &encrypted)
            .err(),
        Some(DecodeError::UnknownKey)
    );
}

#[test]
fn encryption_uses_a_fresh_salt_each_time() {
    let codec = codec(&[NEW], &[3], true);
    let p = CookiePayload {
        id: SessionId::from_bytes([1; 16]),
        created: 1,
        issued: 2,
        checked: 0,
        stored: true,
        owner: None,
        lifetime: None,
        data: BTreeMap::new(),
    };
    assert_ne!(
        codec.encode("n", &p).unwrap(),
        codec.encode("n", &p).unwrap()
    );
}

/// Every symbol at every position of a value, replaced by each of the 63
/// others, is refused: signed and encrypted, with and without data.
#[test]
fn every_single_symbol_change_at_every_position_is_rejected() {
    let empty = CookiePayload {
        id: SessionId::from_bytes([7; 16]),
        created: 1_700_000_000,
        issued: 1_700_000_100,
        checked: 1_700_000_200,
        stored: true,
        owner: None,
        lifetime: None,
        data: BTreeMap::new(),
    };
    let full = CookiePayload {
        data: BTreeMap::from([
            ("user_id".to_owned(), vec![0x2a]),
            ("theme".to_owned(), b"\xa4dark".to_vec()),
        ]),
        ..empty.clone()
    };
    for codec in both_modes() {
        for p in [&empty, &full] {
            let value = codec.encode("gimlet-n", p).unwrap().into_bytes();
            for i in 0..value.len() {
                for &symbol in B64.iter().filter(|&&s| s != value[i]) {
                    let mut tampered = value.clone();
                    tampered[i] = symbol;
                    let tampered = String::from_utf8(tampered).unwrap();
                    assert!(
                        codec.decode("gimlet-n", &tampered).is_err(),
                        "accepted a change at {i} of {}: {tampered}",
                        value.len()
                    );
                }
            }
        }
    }
}

/// A cookie is good one second before its channel's lifetime ends and
/// refused at the second it ends, for both channels.
#[tokio::test]
async fn expiry_is_exact_for_both_channels() {
    for (lifetime, placement) in [
        (600, Placement::new().clientside(true).permanent(true)),
        (300, Placement::new().clientside(true).permanent(false)),
    ] {
        let clock = ManualClock::new(1_700_000_000);
        let gimlet = Gimlet::builder()
            .secret(NEW)
            .permanent_lifetime(std::time::Duration::from_secs(600))
            .transient_lifetime(std::time::Duration::from_secs(300))
            .clock(clock.clone())
            .build()
            .unwrap();
        let s = gimlet.open_from_headers([]);
        s.insert_with("k", &1, placement).await.unwrap();
        let cookie = gimlet.commit(&s).await.unwrap().remove(0);
        let header = cookie.split(';').next().unwrap().to_owned();
        clock.advance(std::time::Duration::from_secs(lifetime - 1));
        let s = gimlet.open_from_headers([header.as_str()]);
        assert_eq!(s.get::<u32>("k").await.unwrap(), Some(1), "{lifetime}");
        clock.advance(std::time::Duration::from_secs(1));
        let s = gimlet.open_from_headers([header.as_str()]);
        assert_eq!(s.get::<u32>("k").await.unwrap(), None, "{lifetime}");
    }
}

/// Two encryption keys can share a key id (it is one byte): a reader tries
/// each, from the ciphertext as it arrived, until one opens it.
#[test]
fn keys_that_share_a_key_id_are_each_tried() {
    let p = CookiePayload {
        id: SessionId::from_bytes([5; 16]),
        created: 1,
        issued: 2,
        checked: 3,
        stored: true,
        owner: None,
        lifetime: None,
        data: BTreeMap::from([("k".to_owned(), vec![1, 2, 3])]),
    };
    let kid = |byte: u8| {
        let value = codec(&[NEW], &[byte], true).encode("gimlet-n", &p).unwrap();
        base64_decode(&value)[1]
    };
    let mut seen = std::collections::HashMap::new();
    let (first, second) = (0..=255u8)
        .find_map(|byte| seen.insert(kid(byte), byte).map(|other| (other, byte)))
        .expect("a shared key id among 256 keys");
    let written = codec(&[NEW], &[first], true)
        .encode("gimlet-n", &p)
        .unwrap();
    // The other key comes first, fails, and leaves the text as it was.
    let reader = codec(&[NEW], &[second, first], true);
    let decoded = reader.decode("gimlet-n", &written).unwrap();
    assert_eq!(decoded.to_payload(), p);
    assert!(decoded.reissue(), "read by a previous key");
    // The writing key first: it opens its copy, and the other is not tried.
    let reader = codec(&[NEW], &[first, second], true);
    let decoded = reader.decode("gimlet-n", &written).unwrap();
    assert_eq!(decoded.to_payload(), p);
    assert!(!decoded.reissue(), "read by the current key");
}

/// Values too short for their format are refused, never a panic.
#[test]
fn values_too_short_for_their_format_are_refused() {
    for codec in both_modes() {
        for len in 0..80 {
            let bytes: Vec<u8> = (0..len).map(|i| [0x03, 0x04][i % 2]).collect();
            let value = base64_encode(&bytes);
            assert!(codec.decode("gimlet-n", &value).is_err(), "{len}");
        }
    }
    let one = base64_encode(&[0x03]);
    assert_eq!(
        codec(&[NEW], &[], false).decode("gimlet-n", &one).err(),
        Some(DecodeError::Malformed)
    );
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn base64_decode(value: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(value)
        .unwrap()
}
