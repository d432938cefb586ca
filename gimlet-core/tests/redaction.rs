//! Nothing secret in `Debug` or in logs: secrets, keys, ids,
//! configuration, sessions, stores and batches show their shape (keys,
//! sizes, counts), never a secret or a stored value.

#![allow(clippy::unwrap_used)]

mod common;

use std::io;
use std::sync::{Arc, Mutex};

use common::browser;
use gimlet_core::backend::{Backend, Batch, Op, Write, WriteMode};
use gimlet_core::cookie::CookieCodec;
use gimlet_core::{Config, EncryptionKey, Gimlet, MemoryBackend, Secret, SessionId};
use tracing_subscriber::fmt::MakeWriter;

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
        lifetime: None,
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

const VALUE: &str = "alice@example.com";

/// Whether `debug` shows `VALUE`, as text or as the bytes of its encoding
/// (how a derived `Debug` prints a `Vec<u8>`).
fn shows_the_value(debug: &str) -> bool {
    let bytes = format!("{:?}", VALUE.as_bytes());
    debug.contains(VALUE) || debug.contains(bytes.trim_matches(|c| c == '[' || c == ']'))
}

/// Everything a `fmt` subscriber writes, at every level.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    /// Runs `work` on this thread with the logs captured, and answers them.
    async fn capture<F: Future>(work: F) -> (F::Output, String) {
        let logs = Logs::default();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(logs.clone())
            .with_ansi(false)
            .finish();
        let guard = tracing::subscriber::set_default(subscriber);
        let output = work.await;
        drop(guard);
        let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
        (output, text)
    }
}

impl io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Logs {
    type Writer = Logs;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

fn write_of_the_value() -> Write {
    Write {
        id: SessionId::generate().unwrap(),
        mode: WriteMode::Create,
        clear: false,
        set: vec![("email".into(), rmp_serde::to_vec(VALUE).unwrap())],
        remove: vec!["old".into()],
        expect: Vec::new(),
        expires_at: 4_000_000_000,
        owner: None,
    }
}

#[test]
fn a_batch_shows_keys_and_sizes_never_values() {
    let batch = Batch {
        ops: vec![Op::Write(write_of_the_value())],
    };
    let shown = format!("{batch:?}");
    assert!(!shows_the_value(&shown), "{shown}");
    assert!(shown.contains("\"email\": <18 bytes>"), "{shown}");
    assert!(shown.contains("\"old\""), "{shown}");
}

#[tokio::test]
async fn the_memory_store_and_the_gimlet_on_it_show_counts_never_records() {
    let store = MemoryBackend::new();
    store
        .commit(&Batch {
            ops: vec![Op::Write(write_of_the_value())],
        })
        .await
        .unwrap();
    let shown = format!("{store:?}");
    assert!(
        !shows_the_value(&shown) && !shown.contains("email"),
        "{shown}"
    );
    assert!(shown.contains("records: 1"), "{shown}");

    let mut b = browser(|g| g);
    let s = b.open();
    s.insert("email", &VALUE).await.unwrap();
    b.commit(&s).await;
    let shown = format!("{:?} {:?}", b.gimlet, b.backend);
    assert!(!shows_the_value(&shown), "{shown}");
}

#[tokio::test]
async fn a_value_of_another_type_fails_without_its_content_in_the_logs() {
    let mut b = browser(|g| g);
    let s = b.open();
    s.insert("email", &VALUE).await.unwrap();
    b.commit(&s).await;
    let (error, logs) = Logs::capture(async {
        let s = b.open();
        let error = s.get::<u64>("email").await.unwrap_err();
        // As an adapter answers it, logging it once.
        let _ = gimlet_core::adapter::reply(&error);
        error
    })
    .await;
    assert!(logs.contains("email"), "the key is named: {logs}");
    assert!(logs.contains("u64"), "the type asked for is named: {logs}");
    assert!(!logs.contains(VALUE), "{logs}");
    assert!(!format!("{error:?} {error}").contains(VALUE));
}

#[tokio::test]
async fn a_request_logs_its_heal_and_its_backend_time() {
    let mut b = browser(|g| g);
    let s = b.open();
    s.insert("cart", &1).await.unwrap();
    b.commit(&s).await;
    let codec = CookieCodec::new(&[Secret::new(common::SECRET)], &[], false).unwrap();
    let id = codec.decode("gimlet-n", &b.jar["gimlet-n"]).unwrap().id();
    let lost = Batch {
        ops: vec![Op::Delete(id)],
    };
    b.backend.inner().commit(&lost).await.unwrap();
    // An app server that did not hear of the loss: its load finds it.
    let deaf = Gimlet::builder()
        .secret(common::SECRET)
        .host_prefix(false)
        .shared_backend(Arc::new(gimlet_core::testing::WithoutFeed(
            b.backend.clone(),
        )))
        .clock(b.clock.clone())
        .build()
        .unwrap();
    let ((), logs) = Logs::capture(async {
        let s = deaf.open_from_headers([b.header().as_str()]);
        assert_eq!(s.get::<u32>("cart").await.unwrap(), None);
        let mut response = http::Response::new(());
        deaf.finish(&s, &mut response).await.unwrap();
    })
    .await;
    assert!(logs.contains("session record gone; healing"), "{logs}");
    let finished = logs
        .lines()
        .find(|l| l.contains("session finished"))
        .unwrap();
    // The event's own field, last on the line (the span's comes first).
    let backend_ms: f64 = finished
        .rsplit("backend_ms=")
        .next()
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no backend time: {finished}"));
    assert!(backend_ms > 0.0, "{finished}");
    assert!(finished.contains("round_trips=1"), "{finished}");
}
