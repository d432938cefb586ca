//! Near caches on Redis: every commit publishes what it changed, and each
//! app server's cache drops it, on every topology; a cut subscription
//! serves nothing until it is back.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use gimlet_core::conformance::{self, SharedBackend};
use gimlet_core::testing::CutProxy;

async fn on(var: &str, test: &str) {
    if let Some(url) = conformance::server_url(var, test) {
        conformance::a_near_cache_hears_every_app_servers_writes(common::app_servers(&url)).await;
    }
}

#[tokio::test]
async fn a_near_cache_hears_every_write_on_one_server() {
    on(common::URL_VAR, "near cache on one server").await;
}

#[tokio::test]
async fn a_near_cache_hears_every_write_behind_sentinel() {
    on(common::SENTINEL_VAR, "near cache behind Sentinel").await;
}

#[tokio::test]
async fn a_near_cache_hears_every_write_over_tls() {
    on(common::TLS_VAR, "near cache over TLS").await;
}

#[tokio::test]
async fn a_near_cache_hears_every_write_on_a_cluster() {
    on(common::CLUSTER_VAR, "near cache on a cluster").await;
}

#[tokio::test]
async fn a_near_cache_hears_every_write_on_a_cluster_over_tls() {
    on(common::TLS_CLUSTER_VAR, "near cache on a cluster over TLS").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_near_cache_serves_nothing_it_may_have_missed() {
    if let Some(url) = common::url("a cut channel of changes") {
        let (proxy, through) = CutProxy::in_front_of(&url).await.unwrap();
        let prefix = format!(
            "gimlet-test:{}:",
            gimlet_core::SessionId::generate().unwrap()
        );
        let on = |url: &str| -> SharedBackend {
            let store = gimlet_redis::RedisBackend::from_url(url).unwrap();
            Arc::new(store.prefix(&prefix))
        };
        conformance::a_cut_near_cache_serves_nothing_it_may_have_missed(
            on(&url),
            on(&through),
            &proxy,
        )
        .await;
    }
}

/// A backend on the application's own pool has no URL to subscribe with:
/// a near cache over it is refused, not silently stale.
#[tokio::test]
async fn a_backend_on_the_applications_pool_refuses_a_near_cache() {
    if let Some(url) = common::url("near cache on the application's pool") {
        let pool = gimlet_redis::deadpool_redis::Config::from_url(url)
            .create_pool(Some(gimlet_redis::deadpool_redis::Runtime::Tokio1))
            .unwrap();
        let built = gimlet_core::Gimlet::builder()
            .secret("near cache test secret, 32+ bytes long")
            .backend(gimlet_redis::RedisBackend::new(pool))
            .near_cache_bytes(1 << 20)
            .build();
        assert!(built.is_err());
    }
}

/// The subscription is pinged while idle, and stays up: a cache that went
/// down at each ping would serve nothing.
#[tokio::test]
async fn an_idle_subscription_stays_live_across_pings() {
    if let Some(url) = common::url("an idle channel of changes") {
        let gimlet = gimlet_core::Gimlet::builder()
            .secret("near cache test secret, 32+ bytes long")
            .backend(common::backend(&url))
            .near_cache_bytes(1 << 20)
            .build()
            .unwrap();
        let started = std::time::Instant::now();
        while !gimlet.near_cache().unwrap().live {
            assert!(started.elapsed().as_secs() < 10, "never live");
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        // Three pings' time.
        for _ in 0..30 {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            assert!(gimlet.near_cache().unwrap().live, "went down while idle");
        }
    }
}
