//! The end of a request, as every adapter runs it (`Gimlet::finish`):
//! failed responses commit nothing, responses with session cookies are
//! private and vary on `Cookie`, and a failed commit is a short, generic
//! failure.

#![allow(clippy::unwrap_used)]

mod common;

use common::{SECRET, logged_in};
use gimlet_core::Gimlet;
use gimlet_core::adapter::ResponseHeaders;
use gimlet_core::backend::Backend;
use gimlet_core::backend::Batch;

/// Response headers, as name and value.
type Headers<'a> = &'a [(&'static str, &'a str)];

/// A response as an adapter hands it to `finish`.
#[derive(Debug, Default)]
struct Response {
    status: u16,
    headers: Vec<(&'static str, String)>,
}

impl ResponseHeaders for Response {
    fn status(&self) -> u16 {
        self.status
    }

    fn values(&self, name: &'static str) -> impl Iterator<Item = &str> {
        self.headers
            .iter()
            .filter(move |(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    fn remove(&mut self, name: &'static str) {
        self.headers.retain(|(n, _)| *n != name);
    }

    fn append(&mut self, name: &'static str, value: String) {
        self.headers.push((name, value));
    }
}

impl Response {
    fn with(status: u16, headers: &[(&'static str, &str)]) -> Self {
        Response {
            status,
            headers: headers.iter().map(|(n, v)| (*n, (*v).to_owned())).collect(),
        }
    }

    fn get(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

#[tokio::test]
async fn a_failed_response_commits_nothing() {
    let b = logged_in(|g| g).await;
    for status in [500, 503] {
        let s = b.open();
        s.insert("cart", &vec!["half-done"]).await.unwrap();
        s.insert("user_id", &1).await.unwrap();
        let mut response = Response::with(status, &[]);
        b.gimlet.finish(&s, &mut response).await.unwrap();
        assert!(response.get("set-cookie").is_empty(), "{response:?}");
        assert_eq!(response.get("vary"), ["Cookie"]);
        assert_eq!(b.counts().round_trips(), 0);
    }
    let s = b.open();
    assert_eq!(s.get::<u32>("user_id").await.unwrap(), Some(42));
    assert_eq!(
        s.get::<Vec<String>>("cart").await.unwrap(),
        Some(vec!["gin".into()])
    );
}

#[tokio::test]
async fn a_logout_in_a_failed_response_still_takes_effect() {
    let b = logged_in(|g| g).await;
    let header = b.header();
    let s = b.open();
    s.invalidate().unwrap();
    // Written after the logout, then the handler fails: dropped.
    s.insert("cart", &vec!["after"]).await.unwrap();
    let mut response = Response::with(500, &[]);
    b.gimlet.finish(&s, &mut response).await.unwrap();
    let removals = response.get("set-cookie");
    assert_eq!(removals.len(), 1, "{response:?}");
    assert!(removals[0].contains("Max-Age=0"), "{removals:?}");
    assert_eq!(b.counts().round_trips(), 1, "the logout's one commit");
    // The old cookie reaches nothing, at once: its record is gone.
    let s = b.gimlet.open_from_headers([header.as_str()]);
    assert_eq!(s.get::<Vec<String>>("cart").await.unwrap(), None);
    assert!(b.backend.batches().iter().all(|batch| {
        batch
            .ops
            .iter()
            .all(|op| !matches!(op, gimlet_core::backend::Op::Write(_)))
    }));
}

#[tokio::test]
async fn failed_responses_commit_when_configured() {
    let b = logged_in(|g| g.commit_failed_requests(true)).await;
    let s = b.open();
    s.insert("user_id", &1).await.unwrap();
    let mut response = Response::with(500, &[]);
    b.gimlet.finish(&s, &mut response).await.unwrap();
    assert_eq!(response.get("set-cookie").len(), 1);
}

#[tokio::test]
async fn responses_with_session_cookies_are_private_and_vary_on_cookie() {
    let b = logged_in(|g| g).await;
    let cases: [(Headers<'_>, &[&str]); 4] = [
        (&[], &["private"]),
        (
            &[("cache-control", "public, max-age=60")],
            &["max-age=60, private"],
        ),
        (&[("cache-control", "no-store")], &["no-store"]),
        (
            &[
                ("cache-control", "s-maxage=600"),
                ("cache-control", "no-cache"),
            ],
            &["no-cache, private"],
        ),
    ];
    for (headers, expected) in cases {
        let s = b.open();
        s.insert("user_id", &1).await.unwrap();
        let mut response = Response::with(200, headers);
        b.gimlet.finish(&s, &mut response).await.unwrap();
        assert_eq!(response.get("set-cookie").len(), 1);
        assert_eq!(response.get("cache-control"), expected, "{headers:?}");
    }

    // A read sets no cookie: no cache directive, but it varies on Cookie.
    let s = b.open();
    s.get::<u32>("user_id").await.unwrap();
    let mut response = Response::with(200, &[("vary", "Accept-Encoding")]);
    b.gimlet.finish(&s, &mut response).await.unwrap();
    assert!(response.get("cache-control").is_empty());
    assert_eq!(response.get("vary"), ["Accept-Encoding", "Cookie"]);

    // An untouched session changes nothing.
    let s = b.open();
    let mut response = Response::with(200, &[]);
    b.gimlet.finish(&s, &mut response).await.unwrap();
    assert!(response.headers.is_empty());
}

#[tokio::test]
async fn a_failed_commit_is_a_failure_with_a_generic_body() {
    let refusing = std::sync::Arc::new(gimlet_core::testing::CountingBackend::new(Refusing));
    let failing = Gimlet::builder()
        .secret(SECRET)
        .host_prefix(false)
        .shared_backend(refusing.clone())
        .build()
        .unwrap();
    let s = failing.open_from_headers([]);
    s.insert("secret_key_name", &1).await.unwrap();
    let mut response = Response::with(200, &[]);
    let failure = failing.finish(&s, &mut response).await.unwrap_err();
    assert_eq!(failure.status(), 503);
    assert_eq!(failure.body(), "session storage unavailable");
    assert!(!failure.to_string().contains("secret_key_name"));
    assert_eq!(failure.to_string(), failure.body());
    assert!(failure.error().is_backend());
    let source = std::error::Error::source(&failure).expect("the error behind it");
    assert!(source.to_string().contains("unavailable"), "{source}");
    assert!(response.get("set-cookie").is_empty());
    // A failure that is not a lost record is not healed: one call.
    assert_eq!(refusing.counts(), common::calls(0, 1));
}

/// A store that is always down.
#[derive(Debug)]
struct Refusing;

#[async_trait::async_trait]
impl Backend for Refusing {
    async fn load(
        &self,
        _: &[gimlet_core::SessionId],
    ) -> Result<Vec<Option<gimlet_core::backend::Record>>, gimlet_core::backend::BackendError> {
        Err(gimlet_core::backend::BackendError::from_kind(
            gimlet_core::backend::BackendErrorKind::Unavailable,
        ))
    }

    async fn commit(&self, _: &Batch) -> Result<(), gimlet_core::backend::BackendError> {
        Err(gimlet_core::backend::BackendError::from_kind(
            gimlet_core::backend::BackendErrorKind::Unavailable,
        ))
    }
}

#[tokio::test]
async fn writes_after_a_failed_response_go_straight_through() {
    let b = logged_in(|g| g).await;
    let s = b.open();
    s.insert("cart", &vec!["half-done"]).await.unwrap();
    let mut response = Response::with(500, &[]);
    b.gimlet.finish(&s, &mut response).await.unwrap();
    assert_eq!(b.counts(), common::calls(0, 0));
    s.insert("late", &1).await.unwrap();
    assert_eq!(b.counts(), common::calls(0, 1));
    let s = b.open();
    assert_eq!(s.get::<u32>("late").await.unwrap(), Some(1));
    assert_eq!(
        s.get::<Vec<String>>("cart").await.unwrap(),
        Some(vec!["gin".into()])
    );
}
