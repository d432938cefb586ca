//! Pushed revocation on memcached: an ending on one app server reaches
//! every other through the servers' logs of endings, with no round trip
//! per read; a server that starts reads the logs first; a cut feed trusts
//! no copy.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use gimlet_core::backend::Backend;
use gimlet_core::conformance::{self, SharedBackend, server_url};
use gimlet_core::testing::CutProxy;
use gimlet_memcached::MemcachedBackend;

fn servers(url: String) -> impl AsyncFn() -> SharedBackend {
    async move || Arc::new(MemcachedBackend::from_url(&url).unwrap()) as Arc<dyn Backend>
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ending_reaches_every_app_server_of_one_server() {
    if let Some(url) = server_url(
        "GIMLET_TEST_MEMCACHED_URL",
        "pushed revocation on memcached",
    ) {
        conformance::an_ending_reaches_every_app_server(servers(url)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ending_reaches_every_app_server_of_a_ring() {
    let test = "pushed revocation on a memcached ring";
    if let Some(url) = server_url("GIMLET_TEST_MEMCACHED_RING_URL", test) {
        conformance::an_ending_reaches_every_app_server(servers(url)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_feed_trusts_no_copy_of_one_server() {
    if let Some(url) = server_url("GIMLET_TEST_MEMCACHED_URL", "a cut feed on memcached") {
        let (proxy, through) = CutProxy::in_front_of(&url).await.unwrap();
        let first = MemcachedBackend::from_url(&url).unwrap();
        let second = MemcachedBackend::from_url(&through).unwrap();
        conformance::a_cut_feed_trusts_no_copy(Arc::new(first), Arc::new(second), &proxy).await;
    }
}
