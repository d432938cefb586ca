//! Pushed revocation on Redis: an ending on one app server reaches every
//! other through the revocation stream, with no round trip per read; a
//! server that starts reads the last window first; a cluster, which keeps
//! no stream, falls back to the revalidation window.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use gimlet_core::Gimlet;
use gimlet_core::backend::Backend;
use gimlet_core::testing::CountingBackend;

const SECRET: &str = "revocation test secret, 32+ bytes long";

/// An app server of its own (its own pool, as another process would have)
/// on `url` under `prefix`, counting its backend calls.
fn server(url: &str, prefix: &str) -> (Gimlet, Arc<CountingBackend<gimlet_redis::RedisBackend>>) {
    let store = gimlet_redis::RedisBackend::from_url(url)
        .unwrap()
        .prefix(prefix);
    let backend = Arc::new(CountingBackend::new(store));
    let gimlet = Gimlet::builder()
        .secret(SECRET)
        .shared_backend(backend.clone())
        .clientside_keys(["user_id"])
        .build()
        .unwrap();
    (gimlet, backend)
}

/// Waits until `gimlet` has caught up with the stream.
async fn until_live(gimlet: &Gimlet) {
    let started = Instant::now();
    while !format!("{gimlet:?}").contains("feed: \"live\"") {
        assert!(started.elapsed() < Duration::from_secs(10), "{gimlet:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Logs a browser in on `gimlet`: a clientside user id, a server cart, an
/// owner. Answers its `Cookie` header.
async fn logged_in(gimlet: &Gimlet, user: &str) -> String {
    let s = gimlet.open_from_headers([]);
    s.set_owner(user).await.unwrap();
    s.insert("user_id", &7).await.unwrap();
    s.insert("cart", &["gin"]).await.unwrap();
    let cookies = gimlet.commit(&s).await.unwrap();
    cookies
        .iter()
        .filter_map(|c| c.split(';').next())
        .collect::<Vec<_>>()
        .join("; ")
}

async fn user_id(gimlet: &Gimlet, header: &str) -> Option<u32> {
    let s = gimlet.open_from_headers([header]);
    let id = s.get::<u32>("user_id").await.unwrap();
    gimlet.commit(&s).await.unwrap();
    id
}

/// Until `header` is refused on `gimlet`, polling. How fast is not
/// asserted: tests do not time.
async fn until_refused(gimlet: &Gimlet, header: &str) {
    let started = Instant::now();
    while user_id(gimlet, header).await.is_some() {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the ending never arrived"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

fn user() -> String {
    format!("user-{}", gimlet_core::SessionId::generate().unwrap())
}

async fn an_ending_reaches_every_app_server(url: &str) {
    // Keys of this test's own, shared by its app servers.
    let prefix = &format!(
        "gimlet-test:{}:",
        gimlet_core::SessionId::generate().unwrap()
    );
    let (first, _) = server(url, prefix);
    let (second, counted) = server(url, prefix);
    until_live(&second).await;
    let ada = user();
    let header = logged_in(&first, &ada).await;
    counted.reset();
    assert_eq!(user_id(&second, &header).await, Some(7));
    assert_eq!(counted.counts().round_trips(), 0, "a read costs nothing");

    let logout = first.open_from_headers([header.as_str()]);
    logout.invalidate().unwrap();
    first.commit(&logout).await.unwrap();
    until_refused(&second, &header).await;
    assert_eq!(
        counted.counts().loads,
        0,
        "the copy was refused on what the server heard, not by a load"
    );

    // Log out everywhere, from the first server, of a session the second
    // one reads.
    let bob = user();
    let header = logged_in(&first, &bob).await;
    assert_eq!(user_id(&second, &header).await, Some(7));
    assert_eq!(first.end_sessions_of(&bob, None).await.unwrap(), 1);
    until_refused(&second, &header).await;

    // A server that starts later reads the last window first.
    let carol = user();
    let header = logged_in(&first, &carol).await;
    let logout = first.open_from_headers([header.as_str()]);
    logout.invalidate().unwrap();
    first.commit(&logout).await.unwrap();
    let (third, counted) = server(url, prefix);
    until_live(&third).await;
    assert_eq!(user_id(&third, &header).await, None);
    assert_eq!(counted.counts().loads, 0, "refused on the replayed stream");
}

#[tokio::test]
async fn an_ending_reaches_every_app_server_of_one_server() {
    if let Some(url) = common::url("pushed revocation on one server") {
        an_ending_reaches_every_app_server(&url).await;
    }
}

#[tokio::test]
async fn an_ending_reaches_every_app_server_behind_sentinel() {
    let test = "pushed revocation behind Sentinel";
    if let Some(url) = gimlet_core::conformance::server_url(common::SENTINEL_VAR, test) {
        an_ending_reaches_every_app_server(&url).await;
    }
}

#[tokio::test]
async fn an_ending_reaches_every_app_server_over_tls() {
    let test = "pushed revocation over TLS";
    if let Some(url) = gimlet_core::conformance::server_url(common::TLS_VAR, test) {
        an_ending_reaches_every_app_server(&url).await;
    }
}

/// A cluster keeps no stream (a commit's script runs in its session's
/// slot): the backend says it does not push, and a copy stops within the
/// revalidation window.
#[tokio::test]
async fn a_cluster_does_not_push() {
    let test = "pushed revocation on a cluster";
    if let Some(url) = gimlet_core::conformance::server_url(common::CLUSTER_VAR, test) {
        let backend = Arc::new(common::backend(&url));
        let revocations = Arc::new(gimlet_core::backend::Revocations::new(
            300,
            Arc::new(gimlet_core::SystemClock),
        ));
        assert!(!backend.subscribe(&revocations));
        assert!(!revocations.is_pushed());
    }
}
