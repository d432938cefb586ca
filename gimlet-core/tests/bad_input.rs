//! Bad input never panics: garbage cookies, wrong types, oversized values,
//! and a backend that is down.

#![allow(clippy::unwrap_used)]

mod common;

use async_trait::async_trait;
use common::{browser, cookie_only};
use gimlet_core::backend::{Backend, BackendError, BackendErrorKind};
use gimlet_core::backend::{Batch, Record};
use gimlet_core::{Error, Gimlet, SessionId};
use proptest::prelude::*;

#[tokio::test]
async fn garbage_cookies_give_a_fresh_session() {
    let b = common::with_clientside_key(|g| g).await;
    let good = b.jar["gimlet-n"].clone();
    let garbage = [
        String::new(),
        "x".into(),
        "!!!!".into(),
        "AQ".into(),
        "AgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into(),
        good[..good.len() / 2].into(),
        format!("{good}A"),
        format!("{good}==="),
        good.replace('A', "B"),
        "é☃".into(),
        "a".repeat(5000),
    ];
    for value in garbage {
        let header = format!("gimlet-n={value}; gimlet-p={value}");
        let s = b.gimlet.open_from_headers([header.as_str()]);
        assert_eq!(s.get::<u32>("k").await.unwrap(), None, "accepted {value:?}");
        s.insert("k", &2).await.unwrap();
        assert_eq!(b.gimlet.commit(&s).await.unwrap().len(), 1);
    }
    // Malformed header syntax is skipped, and the good cookie beside it used.
    let header = format!(";;=; gimlet-n; x=\"; gimlet-n={good}");
    let s = b.gimlet.open_from_headers(["\u{1}", header.as_str()]);
    assert_eq!(s.get::<u32>("k").await.unwrap(), Some(1));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn arbitrary_cookie_headers_never_panic(header in ".{0,300}", value in "[A-Za-z0-9_-]{0,200}") {
        let gimlet = cookie_only(|g| g);
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(async {
            for h in [header.clone(), format!("gimlet-p={value}; gimlet-n={value}")] {
                let s = gimlet.open_from_headers([h.as_str()]);
                prop_assert!(s.keys().await.unwrap().is_empty());
                gimlet.commit(&s).await.unwrap();
            }
            Ok(())
        })?;
    }
}

#[tokio::test]
async fn a_value_of_the_wrong_type_fails_only_that_read() {
    let mut b = browser(|g| g.clientside_keys(["c"]));
    let s = b.open();
    s.insert("c", &"text").await.unwrap();
    s.insert("s", &vec![1, 2]).await.unwrap();
    s.insert("ok", &true).await.unwrap();
    b.commit(&s).await;
    let s = b.open();
    let err = s.get::<u64>("c").await.unwrap_err();
    assert!(matches!(err, Error::Decode { .. }), "{err}");
    assert!(matches!(
        s.get::<String>("s").await,
        Err(Error::Decode { .. })
    ));
    assert_eq!(s.get::<bool>("ok").await.unwrap(), Some(true));
    assert_eq!(s.get::<Vec<u8>>("s").await.unwrap(), Some(vec![1, 2]));
    assert_eq!(s.get::<String>("c").await.unwrap().as_deref(), Some("text"));
}

#[tokio::test]
async fn an_oversized_clientside_value_fails_at_insert_and_the_session_survives() {
    let mut b = browser(|g| g.clientside_keys(["big", "small"]));
    let s = b.open();
    s.insert("small", &"kept").await.unwrap();
    let err = s.insert("big", &"x".repeat(4000)).await.unwrap_err();
    match &err {
        Error::CookieTooLarge { size, limit, .. } => assert!(size > limit && *limit == 4096),
        other => panic!("{other}"),
    }
    assert_eq!(err.status_code(), 400);
    assert_eq!(s.get::<String>("big").await.unwrap(), None);
    let cookies = b.commit(&s).await;
    assert!(cookies.iter().all(|c| c.len() <= 4096));
    assert_eq!(
        b.open().get::<String>("small").await.unwrap().as_deref(),
        Some("kept")
    );

    // The guard is exact enough to use: the largest value that fits is
    // accepted, and its cookie stays within the limit.
    let s = b.open();
    let mut len = 3900;
    while s.insert("big", &"y".repeat(len)).await.is_err() {
        len -= 1;
    }
    // The guard keeps room for an owner and a lifetime the request may
    // still give the session (39 bytes of payload).
    assert!(len > 2880, "the guard refused a value of {len} bytes");
    let cookies = b.commit(&s).await;
    assert!(
        cookies.iter().all(|c| c.len() <= 4096),
        "{}",
        cookies[0].len()
    );
    assert!(
        cookies[0].len() > 4096 - 64,
        "the guard wasted space: {}",
        cookies[0].len()
    );
}

#[tokio::test]
async fn the_cookie_size_guard_counts_every_other_key_and_allows_the_limit() {
    // Many keys that fit one by one: the one that tips the cookie over is
    // refused, whatever its own size.
    let b = browser(|g| g.default_clientside(true));
    let s = b.open();
    let mut refused = None;
    for i in 0..100 {
        if let Err(err) = s.insert(&format!("key-{i}"), &"v".repeat(100)).await {
            refused = Some((i, err));
            break;
        }
    }
    let (i, err) = refused.expect("the cookie filled up");
    assert!(i > 20, "refused at key {i}");
    assert!(matches!(err, Error::CookieTooLarge { .. }), "{err}");

    // A limit of exactly the size a value needs lets that value in.
    let s = b.open();
    let err = s.insert("k", &"x".repeat(3000)).await.unwrap_err();
    let Error::CookieTooLarge { size, .. } = err else {
        panic!("{err}");
    };
    let exact = browser(|g| g.default_clientside(true).max_size(size));
    exact.open().insert("k", &"x".repeat(3000)).await.unwrap();
    let tight = browser(|g| g.default_clientside(true).max_size(size - 1));
    assert!(tight.open().insert("k", &"x".repeat(3000)).await.is_err());
}

#[tokio::test]
async fn an_oversized_server_value_is_refused() {
    let b = browser(|g| g.max_value_size(1024));
    let s = b.open();
    let err = s.insert("big", &vec![0u8; 2000]).await.unwrap_err();
    assert!(matches!(err, Error::ValueTooLarge { .. }), "{err}");
    assert!(!s.contains_key("big").await.unwrap());
    // The limit itself is allowed: a string of 1021 bytes is 1024 bytes of
    // MessagePack (a 3-byte header), one more is refused.
    s.insert("edge", &"x".repeat(1021)).await.unwrap();
    let err = s.insert("over", &"x".repeat(1022)).await.unwrap_err();
    assert!(
        matches!(err, Error::ValueTooLarge { size: 1025, .. }),
        "{err}"
    );
}

/// A backend whose store is unreachable: every call fails as the Redis and
/// SQL backends do when nothing listens at their address.
#[derive(Debug)]
struct Unreachable;

#[async_trait]
impl Backend for Unreachable {
    async fn load(&self, _: &[SessionId]) -> Result<Vec<Option<Record>>, BackendError> {
        Err(BackendError::new(
            BackendErrorKind::Unavailable,
            "connection refused",
        ))
    }
    async fn commit(&self, _: &Batch) -> Result<(), BackendError> {
        Err(BackendError::new(
            BackendErrorKind::Unavailable,
            "connection refused",
        ))
    }
}

#[tokio::test]
async fn a_backend_that_is_down_gives_errors_not_panics_and_no_cookies() {
    let builder = || {
        Gimlet::builder()
            .secret(common::SECRET)
            .backend(Unreachable)
            .clientside_keys(["c"])
    };
    // By default a new channel gets a record, so that it can be revoked:
    // with the backend down, its commit fails and sends no cookie.
    let revocable = builder().build().unwrap();
    let s = revocable.open_from_headers([]);
    s.insert("c", &1).await.unwrap();
    let err = revocable.commit(&s).await.unwrap_err();
    assert_eq!(err.status_code(), 503);

    // Without revocation, a new session needs no backend until it writes
    // server data.
    let gimlet = builder().revocable(false).build().unwrap();
    let s = gimlet.open_from_headers([]);
    s.insert("c", &1).await.unwrap();
    let cookies = gimlet.commit(&s).await.unwrap();
    let header = cookies[0].split(';').next().unwrap().to_owned();

    let s = gimlet.open_from_headers([header.as_str()]);
    assert_eq!(
        s.get::<u32>("c").await.unwrap(),
        Some(1),
        "clientside reads need no backend"
    );
    let err = s.get::<u32>("server").await.unwrap_err();
    assert!(err.is_backend() && !err.is_usage());
    assert_eq!(err.status_code(), 503);
    assert!(
        std::error::Error::source(&err).is_some(),
        "the driver error is kept"
    );

    s.insert("c", &2).await.unwrap();
    s.insert("server", &1).await.unwrap();
    let err = gimlet.commit(&s).await.unwrap_err();
    assert_eq!(err.status_code(), 503);
}
