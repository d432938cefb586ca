//! Encode and decode of a typical cookie (an id and three small clientside
//! keys), signed and encrypted, against the `cookie` crate's `SignedJar` and
//! `PrivateJar` carrying the same payload bytes.
//!
//! Run with: `cargo bench -p gimlet-core --bench codec`

// criterion's macros generate an undocumented function.
#![allow(missing_docs)]

use std::collections::BTreeMap;
use std::hint::black_box;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cookie::{Cookie, CookieJar, Key};
use criterion::{Criterion, criterion_group, criterion_main};
use gimlet_core::cookie::{CookieCodec, CookiePayload};
use gimlet_core::{EncryptionKey, Secret, SessionId};

const NAME: &str = "gimlet-n";

fn typical() -> CookiePayload {
    let mut data = BTreeMap::new();
    let mut put = |k: &str, v: &dyn erased::Value| {
        data.insert(k.to_owned(), v.encode());
    };
    put("user_id", &184_467_u64);
    put("cart_id", &"c-2f9a61");
    put("locale", &"en-GB");
    CookiePayload {
        id: SessionId::generate().expect("rng"),
        created: 1_700_000_000,
        issued: 1_700_000_100,
        checked: 1_700_000_100,
        stored: true,
        owner: None,
        lifetime: None,
        data,
    }
}

mod erased {
    pub(crate) trait Value {
        fn encode(&self) -> Vec<u8>;
    }
    impl<T: serde::Serialize> Value for T {
        fn encode(&self) -> Vec<u8> {
            rmp_serde::to_vec_named(self).expect("serialize")
        }
    }
}

fn bench(c: &mut Criterion) {
    let secret = Secret::new("benchmark secret of thirty-two bytes!!");
    let key = EncryptionKey::from_bytes([7; 32]);
    let signed = CookieCodec::new(std::slice::from_ref(&secret), &[], false).expect("codec");
    let encrypted = CookieCodec::new(&[secret], &[key], true).expect("codec");
    let jar_key = Key::from(&[9; 64]);
    let payload = typical();

    // The jars carry the same bytes: Gimlet's serialized payload, as text.
    let value = {
        let cookie = signed.encode(NAME, &payload).expect("encode");
        URL_SAFE_NO_PAD.encode(&URL_SAFE_NO_PAD.decode(cookie).expect("b64")[2..])
    };

    for (mode, codec) in [("signed", &signed), ("encrypted", &encrypted)] {
        let mut group = c.benchmark_group(format!("{mode}/encode"));
        group.bench_function("gimlet", |b| {
            b.iter(|| {
                codec
                    .encode(black_box(NAME), black_box(&payload))
                    .expect("encode")
            });
        });
        let jar_name = if mode == "signed" {
            "cookie-SignedJar"
        } else {
            "cookie-PrivateJar"
        };
        group.bench_function(jar_name, |b| {
            let mut jar = CookieJar::new();
            b.iter(|| {
                let cookie = Cookie::new(NAME, black_box(value.clone()));
                if mode == "signed" {
                    jar.signed_mut(&jar_key).add(cookie);
                } else {
                    jar.private_mut(&jar_key).add(cookie);
                }
                black_box(jar.get(NAME).map(|c| c.value().len()))
            });
        });
        group.finish();

        let mut group = c.benchmark_group(format!("{mode}/decode"));
        let ours = codec.encode(NAME, &payload).expect("encode");
        // Verify, and find one value's bytes: what opening a session does
        // before a handler reads `user_id`.
        group.bench_function("gimlet", |b| {
            b.iter(|| {
                let cookie = codec
                    .decode(black_box(NAME), black_box(&ours))
                    .expect("decode");
                black_box(cookie.get("user_id").map(<[u8]>::len))
            });
        });
        let mut jar = CookieJar::new();
        if mode == "signed" {
            jar.signed_mut(&jar_key)
                .add(Cookie::new(NAME, value.clone()));
        } else {
            jar.private_mut(&jar_key)
                .add(Cookie::new(NAME, value.clone()));
        }
        let sealed = jar.get(NAME).expect("cookie").value().to_owned();
        let mut incoming = CookieJar::new();
        incoming.add_original(Cookie::new(NAME, sealed));
        group.bench_function(jar_name, |b| {
            b.iter(|| {
                let got = if mode == "signed" {
                    incoming.signed(&jar_key).get(black_box(NAME))
                } else {
                    incoming.private(&jar_key).get(black_box(NAME))
                };
                got.expect("verifies")
            });
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
