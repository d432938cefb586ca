//! The cookie decoder, in both formats and under every configured key:
//! whatever the value, `decode` answers without panicking, and a value it
//! accepts encodes back to a value that decodes to the same payload.

#![no_main]

use gimlet_core::cookie::CookieCodec;
use gimlet_core::{EncryptionKey, Secret};
use libfuzzer_sys::fuzz_target;

const SECRETS: [&str; 2] = [
    "0123456789abcdef0123456789abcdef",
    "fuzzing secret number two, 32+ bytes",
];
const KEYS: [&str; 2] = [
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
    "1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100",
];
const NAMES: [&str; 3] = ["gimlet-n", "gimlet-p", "__Host-gimlet-n"];

fn codecs() -> Vec<CookieCodec> {
    let secrets: Vec<Secret> = SECRETS.iter().map(|s| Secret::new(*s)).collect();
    let keys: Vec<EncryptionKey> = KEYS
        .iter()
        .map(|k| EncryptionKey::from_hex(k).expect("a valid key"))
        .collect();
    vec![
        CookieCodec::new(&secrets, &[], false).expect("signed codec"),
        CookieCodec::new(&secrets[1..], &[], false).expect("rotated codec"),
        CookieCodec::new(&secrets, &keys, true).expect("encrypted codec"),
        CookieCodec::new(&secrets, &keys[1..], true).expect("rotated encrypted codec"),
    ]
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(value) = std::str::from_utf8(rest) else {
        return;
    };
    let codecs = codecs();
    let codec = &codecs[usize::from(selector) % codecs.len()];
    let name = NAMES[usize::from(selector / 4) % NAMES.len()];
    if let Ok(cookie) = codec.decode(name, value) {
        let payload = cookie.to_payload();
        let again = codec.encode(name, &payload).expect("encode");
        let decoded = codec.decode(name, &again).expect("a fresh value decodes");
        assert_eq!(decoded.to_payload(), payload);
    }
});
