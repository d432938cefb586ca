//! Near caches on SQL: on PostgreSQL, triggers tell every app server's
//! cache what changed, and a cut listener serves nothing until it is
//! back; SQLite and MySQL have no channel of changes, and a near cache
//! over them is refused.

mod common;

use gimlet_core::conformance::{self};
use gimlet_sql::SqlBackend;

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_near_cache_hears_every_write_on_postgres() {
    if let Some(url) = common::server_url(common::POSTGRES, "near cache on PostgreSQL") {
        let tables = common::own_tables();
        conformance::a_near_cache_hears_every_app_servers_writes(async || {
            common::app_server(&url, &tables).await
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
            common::app_server(&url, &tables).await,
            common::app_server(&through, &tables).await,
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
