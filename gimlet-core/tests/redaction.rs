//! Nothing secret in `Debug`: secrets, keys, ids, configuration, sessions.

#![allow(clippy::unwrap_used)]

mod common;

use gimlet_core::{Config, CookieCodec, EncryptionKey, Gimlet, Secret, SessionId};

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
