//! Pushed revocation on Redis: an ending on one app server reaches every
//! other through the revocation stream, with no round trip per read, on
//! every topology; a server that starts reads the last window first.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use gimlet_core::conformance::{self, SharedBackend};
use gimlet_core::testing::CutProxy;

/// A function that opens an app server of its own (its own pool, as
/// another process would have) on `url`, under a prefix of this test's.
fn servers(url: &str) -> impl AsyncFn() -> SharedBackend {
    let prefix = format!(
        "gimlet-test:{}:",
        gimlet_core::SessionId::generate().unwrap()
    );
    let url = url.to_owned();
    async move || {
        let store = gimlet_redis::RedisBackend::from_url(&url)
            .unwrap()
            .prefix(&prefix);
        Arc::new(store) as SharedBackend
    }
}

async fn an_ending_reaches_every_app_server(url: &str) {
    conformance::an_ending_reaches_every_app_server(servers(url)).await;
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
