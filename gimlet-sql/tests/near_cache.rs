//! Near caches on SQL: on PostgreSQL, triggers tell every app server's
//! cache what changed through a channel; on SQLite and MySQL, triggers
//! log the changes into a table every app server reads. A cut listener
//! or reader serves nothing until it is back.

mod common;

use gimlet_core::conformance::{self};
use gimlet_sql::SqlBackend;

/// Two app servers on `url`, each with a near cache, hear each other's
/// writes.
async fn hears_every_write(url: &str) {
    let tables = common::own_tables();
    conformance::a_near_cache_hears_every_app_servers_writes(async || {
        common::app_server(url, &tables).await
    })
    .await;
}

/// The second of two app servers on `url` reaches it through a proxy
/// that the test cuts.
#[cfg(any(feature = "postgres", feature = "mysql"))]
async fn serves_nothing_while_cut(url: &str) {
    use gimlet_core::testing::CutProxy;
    let (proxy, through) = CutProxy::in_front_of(url).await.expect("proxy");
    let tables = common::own_tables();
    let (first, second) = (
        common::app_server(url, &tables).await,
        common::app_server(&through, &tables).await,
    );
    conformance::a_cut_near_cache_serves_nothing_it_may_have_missed(first, second, &proxy).await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_near_cache_hears_every_write_on_postgres() {
    if let Some(url) = common::server_url(common::POSTGRES, "near cache on PostgreSQL") {
        hears_every_write(&url).await;
    }
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_near_cache_serves_nothing_it_may_have_missed_on_postgres() {
    if let Some(url) = common::server_url(common::POSTGRES, "a cut listener on PostgreSQL") {
        serves_nothing_while_cut(&url).await;
    }
}

#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_near_cache_hears_every_write_on_sqlite() {
    // Two app servers on one file, as two processes on one host.
    hears_every_write(&common::sqlite_file_url()).await;
}

#[cfg(feature = "mysql")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_near_cache_hears_every_write_on_mysql() {
    if let Some(url) = common::server_url(common::MYSQL, "near cache on MySQL") {
        hears_every_write(&url).await;
    }
}

#[cfg(feature = "mysql")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_near_cache_serves_nothing_it_may_have_missed_on_mysql() {
    if let Some(url) = common::server_url(common::MYSQL, "a cut reader on MySQL") {
        serves_nothing_while_cut(&url).await;
    }
}

/// The log of changes holds a row per key row written and per session
/// row deleted once a near cache has made its triggers, whoever wrote;
/// the cleanup trims the rows older than it keeps, but the last.
#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_of_changes_is_filled_by_triggers_and_trimmed() {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use gimlet_core::backend::{Backend, Batch, NearCache, Op, Write, WriteMode};
    use gimlet_core::testing::ManualClock;

    let url = common::sqlite_file_url();
    let tables = common::own_tables();
    let clock = ManualClock::starting_now();
    let watcher = common::app_server(&url, &tables).await;
    let cache = Arc::new(NearCache::new(100, 1 << 20, 30, Arc::new(clock.clone())));
    assert!(
        watcher.follow_changes(&cache),
        "SQLite has a log of changes"
    );
    let started = Instant::now();
    while !cache.is_live() {
        assert!(started.elapsed() < Duration::from_secs(5), "never live");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Another app server, without a near cache, writes and deletes.
    let writer = SqlBackend::builder(&url)
        .tables(tables.clone())
        .clock(clock.clone())
        .connect()
        .await
        .expect("connect");
    let id = gimlet_core::SessionId::generate().expect("rng");
    let write = Write {
        id,
        mode: WriteMode::Create,
        clear: false,
        set: vec![("cart".to_owned(), b"gin".to_vec())],
        remove: Vec::new(),
        expect: Vec::new(),
        expires_at: gimlet_core::Clock::now(&clock) + 3600,
        owner: None,
    };
    let batch = |op| Batch { ops: vec![op] };
    writer
        .commit(&batch(Op::Write(write)))
        .await
        .expect("write");
    writer.commit(&batch(Op::Delete(id))).await.expect("delete");

    let pool = writer.pool();
    let rows = |sql: String| async move {
        let rows: Vec<(i64, String)> = sqlx::query_as(&sql).fetch_all(pool).await.expect("rows");
        rows
    };
    let logged = rows(format!("SELECT seq, session_id FROM {}", tables.changes())).await;
    let ids: Vec<&str> = logged.iter().map(|(_, id)| id.as_str()).collect();
    let id_text = id.to_string();
    assert!(
        ids.len() >= 3,
        "a key written, a key and a session deleted: {ids:?}"
    );
    assert!(ids.iter().all(|logged| *logged == id_text), "{ids:?}");

    // Far in the future, the cleanup trims all but the last row.
    clock.advance(Duration::from_secs(100_000));
    writer.delete_expired().await.expect("cleanup");
    let kept = rows(format!("SELECT seq, session_id FROM {}", tables.changes())).await;
    assert_eq!(kept, vec![logged.last().cloned().expect("a row")]);
}
