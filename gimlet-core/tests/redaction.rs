//! Nothing secret in `Debug`: secrets, keys, ids, configuration, sessions.

#![allow(clippy::unwrap_used)]

mod common;

use gimlet_core::cookie::CookieCodec;
use gimlet_core::{Config, EncryptionKey, Gimlet, Secret, SessionId};

const SECRET: &str = "hunter2-hunter2-hunter2-hunter2-hunter2";
const KEY_HEX: &str = "c0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ff";

fn assert_clean(what: &str, debug: &str) {
    for needle in ["hunter2", "c0ffee", "192, 255"] {
        assert!(!debug.contains(needle), "{what} leaks {needle}: {debug}");
    }
}

#[test]
fn debug_does_not_leak_secrets_or_keys() {
    let secret = Secret::new(SECRET);
    let key = EncryptionKey::from_hex(KEY_HEX).unwrap();
    assert_clean("Secret", &format!("{secret:?}"));
    assert_clean("EncryptionKey", &format!("{key:?}"));
    let err = EncryptionKey::from_hex("c0ffee-not-hex").unwrap_err();
    assert_clean("ConfigError", &format!("{err:?} {err}"));

    let config = Config::from_lookup(|name| match name {
        "GIMLET_SECRET" => Some(SECRET.into()),
        "GIMLET_PREVIOUS_SECRETS" => Some(format!("{SECRET}-old")),
        "GIMLET_ENCRYPTION_KEY" => Some(KEY_HEX.into()),
        _ => None,
    })
    .unwrap();
    assert_clean("Config", &format!("{config:?}"));
    let builder = Gimlet::builder().config(config);
    assert_clean("GimletBuilder", &format!("{builder:?}"));
    let gimlet = builder.build().unwrap();
    assert_clean("Gimlet", &format!("{gimlet:?}"));
    let codec = CookieCodec::new(&[secret], &[key], true).unwrap();
    assert_clean("CookieCodec", &format!("{codec:?}"));
}

#[tokio::test]
async fn debug_does_not_leak_session_ids() {
    let gimlet = common::cookie_only(|g| g);
    let session = gimlet.open_from_headers([]);
    let id = session.id().unwrap();
    let debug = format!("{session:?}");
    assert!(!debug.contains(&id), "{debug}");
    let parsed: SessionId = id.parse().unwrap();
    assert!(!format!("{parsed:?}").contains(&id[..8]));
    assert_eq!(parsed.to_string(), id);
}

#[test]
fn debug_does_not_show_cookie_contents() {
    use std::collections::BTreeMap;

    use gimlet_core::cookie::CookiePayload;

    let codec = CookieCodec::new(&[Secret::new(SECRET)], &[], false).unwrap();
    let id = SessionId::from_bytes([0xc0; 16]);
    let payload = CookiePayload {
        id,
        created: 1,
        issued: 2,
        checked: 3,
        stored: true,
        owner: None,
        data: BTreeMap::from([("user".to_owned(), b"hunter2".to_vec())]),
    };
    let debug = format!("{payload:?}");
    assert_clean("CookiePayload", &debug);
    assert!(
        debug.starts_with("CookiePayload") && debug.contains("keys: 1"),
        "{debug}"
    );
    let codec_debug = format!("{codec:?}");
    assert!(codec_debug.contains("signing_keys: 1"), "{codec_debug}");
    let value = codec.encode("gimlet-n", &payload).unwrap();
    let cookie = codec.decode("gimlet-n", &value).unwrap();
    let debug = format!("{cookie:?}");
    assert_clean("VerifiedCookie", &debug);
    assert!(
        debug.contains("checked: 3") && debug.contains("keys: 1"),
        "{debug}"
    );
    assert!(!debug.contains(&id.to_string()), "{debug}");
    assert!(!debug.contains("user"), "{debug}");
}
