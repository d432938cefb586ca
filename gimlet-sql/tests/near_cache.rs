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
/// the cleanup trims the rows older than it keeps by their own time, but
/// the last.
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

    // Rows logged in the last ten minutes stay through a cleanup.
    writer.delete_expired().await.expect("cleanup");
    let kept = rows(format!("SELECT seq, session_id FROM {}", tables.changes())).await;
    assert_eq!(kept, logged, "recent rows are kept");

    // Aged past what the log keeps (by the database's clock, which the
    // rows carry), every row goes but the last.
    sqlx::query(&format!(
        "UPDATE {} SET changed_at = changed_at - 1000",
        tables.changes()
    ))
    .execute(pool)
    .await
    .expect("age the rows");
    writer.delete_expired().await.expect("cleanup");
    let kept = rows(format!("SELECT seq, session_id FROM {}", tables.changes())).await;
    assert_eq!(kept, vec![logged.last().cloned().expect("a row")]);
}

/// Writes that never pause keep every read of the log finding rows: the
/// cache stays live through them, rather than taking a read with rows for
/// a lost answer and starting over empty.
#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_near_cache_stays_live_while_writes_never_pause() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};

    use gimlet_core::SystemClock;
    use gimlet_core::backend::{Backend, Batch, NearCache, Op, Write, WriteMode};

    let url = common::sqlite_file_url();
    let tables = common::own_tables();
    let watcher = common::app_server(&url, &tables).await;
    let cache = Arc::new(NearCache::new(100, 1 << 20, 30, Arc::new(SystemClock)));
    assert!(watcher.follow_changes(&cache));
    let started = Instant::now();
    while !cache.is_live() {
        assert!(started.elapsed() < Duration::from_secs(5), "never live");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let writer = common::app_server(&url, &tables).await;
    let stop = Arc::new(AtomicBool::new(false));
    let writing = tokio::spawn({
        let stop = stop.clone();
        async move {
            while !stop.load(Ordering::Relaxed) {
                let write = Write {
                    id: gimlet_core::SessionId::generate().expect("rng"),
                    mode: WriteMode::Create,
                    clear: false,
                    set: vec![("cart".to_owned(), b"gin".to_vec())],
                    remove: Vec::new(),
                    expect: Vec::new(),
                    expires_at: u64::from(u32::MAX),
                    owner: None,
                };
                let batch = Batch {
                    ops: vec![Op::Write(write)],
                };
                writer.commit(&batch).await.expect("write");
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
    });
    // Three ping intervals of writes, the cache checked all along.
    let writes_from = Instant::now();
    while writes_from.elapsed() < Duration::from_secs(3) {
        assert!(cache.is_live(), "the cache went off under steady writes");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::Relaxed);
    writing.await.expect("writer");
}
