//! Near caches on SQL: on PostgreSQL, triggers tell every app server's
//! cache what changed, and a cut listener serves nothing until it is
//! back; SQLite and MySQL have no channel of changes, and a near cache
//! over them is refused.

mod common;

use std::sync::Arc;

use gimlet_core::conformance::{self, SharedBackend};
use gimlet_sql::{SqlBackend, Tables};

/// An app server of its own (its own pool, as another process would have)
/// on `url` and `tables`.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
async fn backend(url: &str, tables: &Tables) -> SharedBackend {
    let backend = SqlBackend::builder(url)
        .tables(tables.clone())
        .timeout(std::time::Duration::from_secs(2))
        .connect()
        .await
        .expect("connect");
    Arc::new(backend)
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_near_cache_hears_every_write_on_postgres() {
    if let Some(url) = common::server_url(common::POSTGRES, "near cache on PostgreSQL") {
        let tables = common::own_tables();
        conformance::a_near_cache_hears_every_app_servers_writes(async || {
            backend(&url, &tables).await
        })
        .await;
    }
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_near_cache_serves_nothing_it_may_have_missed_on_postgres() {
    use gimlet_core::testing::CutProxy;
    if let Some(url) = common::server_url(common::POSTGRES, "a cut listener on PostgreSQL") {
        let (proxy, through) = CutProxy::in_front_of(&url).await.expect("proxy");
        let tables = common::own_tables();
        let (first, second) = (
            backend(&url, &tables).await,
            backend(&through, &tables).await,
        );
        conformance::a_cut_near_cache_serves_nothing_it_may_have_missed(first, second, &proxy)
            .await;
    }
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn a_near_cache_over_sqlite_is_refused() {
    let store = SqlBackend::connect("sqlite::memory:")
        .await
        .expect("sqlite");
    let built = gimlet_core::Gimlet::builder()
        .secret("near cache test secret, 32+ bytes long")
        .backend(store)
        .near_cache_bytes(1 << 20)
        .build();
    let err = built.expect_err("refused");
    assert!(err.to_string().contains("sqlite"), "{err}");
}
