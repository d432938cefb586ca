//! Pooled connections are handed out without a ping when they were used a
//! moment ago (a round trip saved on every load and commit): a server that
//! closed them meanwhile (a restart) costs no request an error.

mod common;

use std::time::Duration;

use gimlet_core::SessionId;
use gimlet_core::backend::Backend;
use gimlet_core::testing::CutProxy;
use gimlet_sql::SqlBackend;

/// Three loads at once, so the pool holds three connections; then the
/// proxy closes them all (as a restarted server would), after `idle`; the
/// next loads still answer.
async fn connections_closed_under_the_pool_cost_no_load(url: &str, idle: Duration) {
    let (proxy, through) = CutProxy::in_front_of(url).await.expect("proxy");
    let backend = SqlBackend::builder(&through)
        .tables(common::own_tables())
        .max_connections(3)
        .timeout(Duration::from_secs(5))
        .connect()
        .await
        .expect("connect");
    let id = SessionId::generate().expect("rng");
    let load = || backend.load(std::slice::from_ref(&id));
    let (a, b, c) = tokio::join!(load(), load(), load());
    for answer in [a, b, c] {
        assert_eq!(answer.expect("load"), vec![None]);
    }
    tokio::time::sleep(idle).await;
    proxy.cut();
    proxy.restore().await.expect("restore");
    for round in 0..3 {
        let answer = load().await;
        assert_eq!(
            answer.expect("a load after the connections were closed"),
            vec![None],
            "round {round}"
        );
    }
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_connections_cost_no_load_on_postgres() {
    if let Some(url) = common::server_url(common::POSTGRES, "closed connections on PostgreSQL") {
        // Used a moment ago (no ping: the load tries again), then idle
        // (pinged before use).
        connections_closed_under_the_pool_cost_no_load(&url, Duration::from_millis(100)).await;
        connections_closed_under_the_pool_cost_no_load(&url, Duration::from_millis(1_300)).await;
    }
}

#[cfg(feature = "mysql")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_connections_cost_no_load_on_mysql() {
    if let Some(url) = common::server_url(common::MYSQL, "closed connections on MySQL") {
        connections_closed_under_the_pool_cost_no_load(&url, Duration::from_millis(100)).await;
        connections_closed_under_the_pool_cost_no_load(&url, Duration::from_millis(1_300)).await;
    }
}
