//! The path of a request's `Cookie` headers: split, match by name, verify
//! at the first use, read, write and commit. Whatever the headers hold,
//! nothing panics, and a commit that succeeds hands back well-formed
//! `Set-Cookie` values.

#![no_main]

use gimlet_core::{EncryptionKey, Gimlet, MemoryBackend};
use gimlet_core::testing::ManualClock;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The key, secret and time of the documented test vectors, so that the
    // seeds are valid cookies.
    let key = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    let gimlet = Gimlet::builder()
        .secret("0123456789abcdef0123456789abcdef")
        .encryption_key(EncryptionKey::from_hex(key).expect("a valid key"))
        .clock(ManualClock::new(1_700_000_200))
        .host_prefix(false)
        .backend(MemoryBackend::new())
        .clientside_keys(["user_id"])
        .build()
        .expect("configuration");
    // Each line is one `Cookie` header.
    let headers: Vec<&str> = text.lines().collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let session = gimlet.open_from_headers(headers.iter().copied());
        let _ = session.get::<u64>("user_id").await;
        let _ = session.keys().await;
        let _ = session.insert("cart", &[1, 2, 3]).await;
        if let Ok(set_cookies) = gimlet.commit(&session).await {
            for value in set_cookies {
                assert!(value.is_ascii() && !value.contains(['\r', '\n']), "{value}");
            }
        }
    });
});
