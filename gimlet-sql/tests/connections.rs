//! Pooled connections are handed out without a ping when they were used a
//! moment ago (a round trip saved on every load and commit): a server that
//! closed them meanwhile (a restart) costs no request an error.

mod common;

use std::time::Duration;

use gimlet_core::SessionId;
use gimlet_core::backend::{Backend, Batch, Op, Write, WriteMode};
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

/// Closed right after their last use (no ping: the load tries again), then
/// after an idle pause (pinged before use).
async fn closed_connections_cost_no_load(url: &str) {
    connections_closed_under_the_pool_cost_no_load(url, Duration::from_millis(10)).await;
    connections_closed_under_the_pool_cost_no_load(url, Duration::from_millis(300)).await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_connections_cost_no_load_on_postgres() {
    if let Some(url) = common::server_url(common::POSTGRES, "closed connections on PostgreSQL") {
        closed_connections_cost_no_load(&url).await;
    }
}

#[cfg(feature = "mysql")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_connections_cost_no_load_on_mysql() {
    if let Some(url) = common::server_url(common::MYSQL, "closed connections on MySQL") {
        closed_connections_cost_no_load(&url).await;
    }
}

/// Has PostgreSQL terminate every connection of the application `name`.
#[cfg(feature = "postgres")]
async fn terminate(admin: &SqlBackend, name: &str) {
    let terminated = gimlet_sql::sqlx::query(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE application_name = $1",
    )
    .bind(name)
    .execute(admin.pool())
    .await
    .expect("terminate");
    assert!(terminated.rows_affected() > 0);
}

/// A server stopping says so on each connection before it closes it
/// (PostgreSQL's `57P01`, as `pg_terminate_backend` sends): the next load
/// runs on another connection, and so does a commit whose `BEGIN` met it.
#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminated_connections_cost_no_load_nor_commit_on_postgres() {
    let Some(url) = common::server_url(common::POSTGRES, "terminated connections on PostgreSQL")
    else {
        return;
    };
    let name = format!(
        "gimlet-{}",
        &SessionId::generate().expect("rng").to_string()[..12]
    );
    let separator = if url.contains('?') { '&' } else { '?' };
    let backend = SqlBackend::builder(format!("{url}{separator}application_name={name}"))
        .tables(common::own_tables())
        .max_connections(3)
        .connect()
        .await
        .expect("connect");
    let admin = SqlBackend::connect(url.as_str()).await.expect("connect");
    let id = SessionId::generate().expect("rng");
    let load = || backend.load(std::slice::from_ref(&id));
    for round in 0..2 {
        let (a, b, c) = tokio::join!(load(), load(), load());
        for answer in [a, b, c] {
            answer.expect("load");
        }
        terminate(&admin, &name).await;
        // Used a moment ago: no ping before the next call.
        assert_eq!(
            load().await.expect("a load after the terminations").len(),
            1
        );
        if round == 0 {
            let create = Write {
                mode: WriteMode::Create,
                set: vec![("k".to_owned(), vec![0x01])],
                ..Write::touch(id, u64::MAX / 2)
            };
            let batch = Batch {
                ops: vec![Op::Write(create)],
            };
            let (a, b) = tokio::join!(load(), load());
            a.expect("load");
            b.expect("load");
            terminate(&admin, &name).await;
            backend
                .commit(&batch)
                .await
                .expect("a commit after the terminations");
            assert!(load().await.expect("load")[0].is_some());
        }
    }
}
