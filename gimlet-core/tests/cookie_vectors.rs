//! The test vectors of docs/cookie-format.md, read from the page itself.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gimlet_core::cookie::{CookieCodec, CookiePayload};
use gimlet_core::{EncryptionKey, Secret, SessionId};

const PAGE: &str = include_str!("../../docs/cookie-format.md");
const SECRET: &str = "0123456789abcdef0123456789abcdef";
const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const ID: &str = "000102030405060708090a0b0c0d0e0f";

fn vectors() -> Vec<BTreeMap<String, String>> {
    PAGE.split("```vector\n")
        .skip(1)
        .map(|block| {
            block
                .split("```")
                .next()
                .unwrap()
                .lines()
                .map(|line| {
                    let (k, v) = line.split_once(':').expect("field: value");
                    (k.to_owned(), v.trim().to_owned())
                })
                .collect()
        })
        .collect()
}

#[test]
fn the_documented_vectors_encode_and_decode() {
    let vectors = vectors();
    assert_eq!(vectors.len(), 4, "the page lost vectors");
    let key = EncryptionKey::from_hex(KEY).unwrap();
    for v in vectors {
        let encrypted = v["mode"] == "encrypted";
        let codec = CookieCodec::new(
            &[Secret::new(SECRET)],
            std::slice::from_ref(&key),
            encrypted,
        )
        .unwrap();
        let data = v["data"]
            .split_whitespace()
            .map(|pair| {
                let (k, hex) = pair.split_once('=').unwrap();
                (k.to_owned(), hex::decode(hex).unwrap())
            })
            .collect();
        let payload = CookiePayload {
            id: ID.parse::<SessionId>().unwrap(),
            created: v["created"].parse().unwrap(),
            issued: v["issued"].parse().unwrap(),
            checked: v["checked"].parse().unwrap(),
            stored: v["stored"] == "true",
            owner: None,
            lifetime: None,
            data,
        };
        let name = &v["name"];
        let cookie = if encrypted {
            let salt: [u8; 16] = hex::decode(&v["salt"]).unwrap().try_into().unwrap();
            codec.encode_with_salt(name, &payload, salt).unwrap()
        } else {
            codec.encode(name, &payload).unwrap()
        };
        assert_eq!(cookie, v["cookie"], "{name} {}", v["mode"]);
        assert_eq!(
            hex::encode(URL_SAFE_NO_PAD.decode(&cookie).unwrap()),
            v["bytes"]
        );
        let decoded = codec.decode(name, &v["cookie"]).unwrap();
        assert_eq!(decoded.to_payload(), payload);
        assert!(!decoded.reissue());
        // Each accessor reads its own field.
        assert_eq!(decoded.id(), payload.id);
        assert_eq!(decoded.created(), payload.created);
        assert_eq!(decoded.issued(), payload.issued);
        assert_eq!(decoded.checked(), payload.checked);
        assert_eq!(decoded.stored(), payload.stored);
        for (key, value) in &payload.data {
            assert_eq!(decoded.get(key), Some(value.as_slice()));
        }
        assert_eq!(decoded.get("absent"), None);
        let entries: Vec<(&str, &[u8])> = decoded.entries().collect();
        let expected: Vec<(&str, &[u8])> = payload
            .data
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_slice()))
            .collect();
        assert_eq!(entries, expected);
        assert_eq!(codec.encrypts(), encrypted);
    }
}
