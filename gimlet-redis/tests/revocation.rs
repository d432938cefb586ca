//! Pushed revocation on Redis: an ending on one app server reaches every
//! other through the revocation stream, with no round trip per read, on
//! every topology; a server that starts reads the last window first.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use gimlet_core::conformance::{self, SharedBackend};
use gimlet_core::testing::CutProxy;

async fn an_ending_reaches_every_app_server(url: &str) {
    conformance::an_ending_reaches_every_app_server(common::app_servers(url)).await;
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

#[tokio::test]
async fn an_ending_reaches_every_app_server_of_a_cluster() {
    let test = "pushed revocation on a cluster";
    if let Some(url) = gimlet_core::conformance::server_url(common::CLUSTER_VAR, test) {
        an_ending_reaches_every_app_server(&url).await;
    }
}

#[tokio::test]
async fn an_ending_reaches_every_app_server_of_a_cluster_over_tls() {
    let test = "pushed revocation on a cluster over TLS";
    if let Some(url) = gimlet_core::conformance::server_url(common::TLS_CLUSTER_VAR, test) {
        an_ending_reaches_every_app_server(&url).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_feed_trusts_no_copy_of_one_server() {
    if let Some(url) = common::url("a cut revocation feed") {
        let (proxy, through) = CutProxy::in_front_of(&url).await.unwrap();
        let prefix = format!(
            "gimlet-test:{}:",
            gimlet_core::SessionId::generate().unwrap()
        );
        let on = |url: &str| -> SharedBackend {
            let store = gimlet_redis::RedisBackend::from_url(url).unwrap();
            Arc::new(store.prefix(&prefix))
        };
        conformance::a_cut_feed_trusts_no_copy(on(&url), on(&through), &proxy).await;
    }
}

/// A record lost behind Gimlet's back (here, a flushed server of the
/// test's own): the first request that finds it gone at its commit heals,
/// and deletes the lost id anyway, so the stream tells every app server,
/// and a copy of the cookie stops yielding its clientside data there too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_record_found_at_a_commit_reaches_every_app_server() {
    use gimlet_core::testing::CountingBackend;
    let redis = common::topology::Topology::start_with("single", &[]);
    let server = |counted: &Arc<CountingBackend<SharedBackend>>| {
        gimlet_core::Gimlet::builder()
            .secret("revocation test secret, 32+ bytes long")
            .shared_backend(counted.clone())
            .clientside_keys(["user_id"])
            .build()
            .unwrap()
    };
    let store =
        || -> SharedBackend { Arc::new(gimlet_redis::RedisBackend::from_url(&redis.url).unwrap()) };
    let (first, second) = (
        Arc::new(CountingBackend::new(store())),
        Arc::new(CountingBackend::new(store())),
    );
    let (first, second_gimlet) = (server(&first), server(&second));
    while !format!("{second_gimlet:?}").contains("feed: \"live\"") {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let s = first.open_from_headers([]);
    s.insert("user_id", &7).await.unwrap();
    s.insert("cart", &1).await.unwrap();
    let cookies = first.commit(&s).await.unwrap();
    let header: Vec<&str> = cookies.iter().filter_map(|c| c.split(';').next()).collect();
    let header = header.join("; ");
    let user_id = async |gimlet: &gimlet_core::Gimlet| {
        let s = gimlet.open_from_headers([header.as_str()]);
        let id = s.get::<u32>("user_id").await.unwrap();
        gimlet.commit(&s).await.unwrap();
        id
    };
    assert_eq!(user_id(&second_gimlet).await, Some(7));

    let () = gimlet_redis::deadpool_redis::redis::cmd("FLUSHALL")
        .query_async(&mut common::topology::node(redis.base).await)
        .await
        .unwrap();
    // A write with the cookie finds the record gone at its commit.
    let s = first.open_from_headers([header.as_str()]);
    s.insert("cart", &2).await.unwrap();
    first.commit(&s).await.unwrap();

    second.reset();
    let started = std::time::Instant::now();
    while user_id(&second_gimlet).await.is_some() {
        assert!(started.elapsed().as_secs() < 5, "the loss never arrived");
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    assert_eq!(second.counts().loads, 0, "refused on what it heard");
}
