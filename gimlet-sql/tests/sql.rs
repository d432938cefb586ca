//! SQL specifics, on every database that is configured: faults, values
//! that do not decode, cleanup of expired rows (and their owner index
//! rows), the schema, large writes.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use gimlet_core::backend::Backend;
use gimlet_core::backend::{BackendErrorKind, Batch, Op, Write, WriteMode};
use gimlet_core::testing::ManualClock;
use gimlet_core::{Error, Gimlet, Placement, SessionId, conformance};
use gimlet_sql::{Dialect, SqlBackend, SqlBackendBuilder};

/// A builder for SQLite, and for each server whose URL is set.
fn targets(test: &str) -> Vec<SqlBackendBuilder> {
    target_urls(test)
        .into_iter()
        .map(SqlBackend::builder)
        .collect()
}

/// The URLs of [`targets`].
fn target_urls(test: &str) -> Vec<String> {
    let mut urls = vec![common::sqlite_file_url()];
    if cfg!(feature = "postgres") {
        urls.extend(common::server_url(common::POSTGRES, test));
    }
    if cfg!(feature = "mysql") {
        urls.extend(common::server_url(common::MYSQL, test));
    }
    urls
}

/// The keys and values [`create`] writes.
fn create_record(keys: usize) -> gimlet_core::backend::Record {
    (0..keys)
        .map(|i| (format!("key-{i}"), vec![(i % 251) as u8; 3]))
        .collect()
}

fn create(id: SessionId, expires_at: u64, keys: usize) -> Batch {
    Batch {
        ops: vec![Op::Write(Write {
            id,
            mode: WriteMode::Create,
            clear: false,
            set: create_record(keys).into_iter().collect(),
            remove: Vec::new(),
            expect: Vec::new(),
            expires_at,
            owner: None,
        })],
    }
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let silent = conformance::SilentServer::start().await;
    let timeout = Duration::from_millis(500);
    let mut urls = Vec::new();
    if cfg!(feature = "postgres") {
        urls.push(format!("postgres://postgres@{}/test", silent.addr()));
    }
    if cfg!(feature = "mysql") {
        urls.push(format!("mysql://root@{}/test", silent.addr()));
    }
    for url in urls {
        let backend = SqlBackend::builder(url)
            .timeout(timeout)
            .connect_lazy()
            .unwrap();
        conformance::unreachable_backend_fails_promptly(Arc::new(backend), timeout).await;
    }
}

#[tokio::test]
async fn nothing_listening_gives_a_prompt_error_from_load_and_commit() {
    let mut urls = Vec::new();
    if cfg!(feature = "postgres") {
        urls.push("postgres://postgres@127.0.0.1:1/test");
    }
    if cfg!(feature = "mysql") {
        urls.push("mysql://root@127.0.0.1:1/test");
    }
    let timeout = Duration::from_millis(500);
    for url in urls {
        let backend = SqlBackend::builder(url)
            .timeout(timeout)
            .connect_lazy()
            .unwrap();
        conformance::unreachable_backend_fails_promptly(Arc::new(backend), timeout).await;
    }
    // A SQLite file in a directory that does not exist cannot be opened.
    let err = SqlBackend::connect("sqlite:///nonexistent-dir/x/y.db?mode=rwc")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), BackendErrorKind::Unavailable, "{err:?}");
    // A URL of no supported database is refused up front.
    assert!(
        SqlBackend::builder("redis://127.0.0.1/")
            .connect_lazy()
            .is_err()
    );
}

#[tokio::test]
async fn a_stored_value_that_does_not_decode_fails_only_that_get() {
    for builder in targets("a_stored_value_that_does_not_decode_fails_only_that_get") {
        let backend = common::connect(builder).await;
        let gimlet = Gimlet::builder()
            .secret("sql tests' secret, thirty-two bytes!!")
            .backend(backend.clone())
            .build()
            .unwrap();
        let session = gimlet.open_from_headers([]);
        let permanent = Placement::new().permanent(true);
        session.insert_with("good", &1, permanent).await.unwrap();
        session.insert_with("bad", &2, permanent).await.unwrap();
        let id = session.id().unwrap();
        let cookies = gimlet.commit(&session).await.unwrap();
        let header = cookies[0].split(';').next().unwrap().to_owned();

        // 0xc1 is never valid MessagePack.
        let mut sql = format!(
            "UPDATE {} SET value = ? WHERE session_id = ? AND name = 'bad'",
            backend.tables().keys()
        );
        if backend.dialect() == Dialect::Postgres {
            sql = sql.replacen('?', "$1", 1).replacen('?', "$2", 1);
        }
        let changed = gimlet_sql::sqlx::query(&sql)
            .bind(&b"\xc1"[..])
            .bind(id.as_str())
            .execute(backend.pool())
            .await
            .unwrap();
        assert_eq!(changed.rows_affected(), 1);

        let session = gimlet.open_from_headers([header.as_str()]);
        let err = session.get::<u32>("bad").await.unwrap_err();
        assert!(matches!(err, Error::Decode { .. }), "{err}");
        assert_eq!(session.get::<u32>("good").await.unwrap(), Some(1));
    }
}

#[tokio::test]
async fn expired_rows_are_deleted_by_delete_expired_and_by_the_cleanup_task() {
    for builder in targets("expired_rows_are_deleted_by_delete_expired_and_by_the_cleanup_task") {
        let clock = ManualClock::starting_now();
        let now = gimlet_core::Clock::now(&clock);
        let backend = common::connect(builder.clock(clock.clone())).await;
        let (short, long) = (
            SessionId::generate().unwrap(),
            SessionId::generate().unwrap(),
        );
        // Both belong to an owner: their index rows go with them.
        let owner = gimlet_core::backend::Owner::from_bytes([9; 16]);
        for (id, expires_at) in [(short, now + 60), (long, now + 600)] {
            let mut batch = create(id, expires_at, 3);
            if let Op::Write(write) = &mut batch.ops[0] {
                write.owner = Some(gimlet_core::backend::Ownership {
                    owner,
                    permanent: false,
                    created: now,
                    until: now + 3600,
                });
            }
            backend.commit(&batch).await.unwrap();
        }
        assert_eq!(backend.delete_expired().await.unwrap(), 0);
        let owners = backend.tables().owners();
        let owned = || async {
            gimlet_sql::sqlx::query_scalar::<_, i64>(&format!("SELECT COUNT(*) FROM {owners}"))
                .fetch_one(backend.pool())
                .await
                .unwrap()
        };
        assert_eq!(owned().await, 2);

        clock.advance(Duration::from_secs(60));
        assert_eq!(
            backend.load(&[short]).await.unwrap(),
            vec![None],
            "expired rows are not loaded"
        );
        assert_eq!(backend.delete_expired().await.unwrap(), 1);
        let table = backend.tables().keys().to_owned();
        let keys_left: i64 =
            gimlet_sql::sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
                .fetch_one(backend.pool())
                .await
                .unwrap();
        assert_eq!(keys_left, 3, "the expired session's keys went with it");
        assert_eq!(
            owned().await,
            1,
            "the expired session's index row went with it"
        );

        clock.advance(Duration::from_secs(600));
        // A zero period is raised to the minimum, not a panic in the task.
        let task = backend.spawn_cleanup(Duration::ZERO);
        let mut left = 1;
        for _ in 0..250 {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let table = backend.tables().sessions().to_owned();
            left =
                gimlet_sql::sqlx::query_scalar::<_, i64>(&format!("SELECT COUNT(*) FROM {table}"))
                    .fetch_one(backend.pool())
                    .await
                    .unwrap();
            if left == 0 {
                break;
            }
        }
        task.abort();
        assert_eq!(left, 0, "the cleanup task did not run");
    }
}

/// The sessions left in `backend`'s table.
async fn sessions_left(backend: &SqlBackend) -> i64 {
    let table = backend.tables().sessions().to_owned();
    gimlet_sql::sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(backend.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn connect_starts_the_cleanup_task_unless_told_not_to() {
    for url in target_urls("connect_starts_the_cleanup_task_unless_told_not_to") {
        let clock = ManualClock::starting_now();
        let now = gimlet_core::Clock::now(&clock);
        let tables = common::own_tables();
        // Two app servers on the same tables: one with the cleanup task
        // (every second here; every ten minutes by default), one without.
        let without = SqlBackend::builder(&url)
            .clock(clock.clone())
            .tables(tables.clone())
            .without_cleanup()
            .connect()
            .await
            .unwrap();
        for _ in 0..3 {
            let id = SessionId::generate().unwrap();
            without.commit(&create(id, now + 60, 1)).await.unwrap();
        }
        clock.advance(Duration::from_secs(120));
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert_eq!(sessions_left(&without).await, 3, "no task, no cleanup");

        let with = SqlBackend::builder(url)
            .clock(clock.clone())
            .tables(tables)
            .cleanup_every(Duration::from_secs(1))
            .connect()
            .await
            .unwrap();
        let mut left = 3;
        for _ in 0..250 {
            tokio::time::sleep(Duration::from_millis(20)).await;
            left = sessions_left(&with).await;
            if left == 0 {
                break;
            }
        }
        assert_eq!(left, 0, "connect started no cleanup task");
    }
}

#[tokio::test]
async fn migrate_is_idempotent_and_creates_the_expiry_index() {
    for builder in targets("migrate_is_idempotent_and_creates_the_expiry_index") {
        let backend = common::connect(builder).await;
        backend.migrate().await.unwrap();
        backend.migrate().await.unwrap();
        let index = format!("{}_expires_at", backend.tables().sessions());
        let sql = match backend.dialect() {
            Dialect::Sqlite => {
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = ?".to_owned()
            }
            Dialect::Postgres => "SELECT COUNT(*) FROM pg_indexes WHERE indexname = $1".to_owned(),
            _ => "SELECT COUNT(DISTINCT index_name) FROM information_schema.statistics \
                  WHERE table_schema = DATABASE() AND index_name = ?"
                .to_owned(),
        };
        let found: i64 = gimlet_sql::sqlx::query_scalar(&sql)
            .bind(index.as_str())
            .fetch_one(backend.pool())
            .await
            .unwrap();
        assert_eq!(found, 1, "{:?}: no index {index}", backend.dialect());
    }
}

#[tokio::test]
async fn a_write_of_many_keys_is_one_commit() {
    for builder in targets("a_write_of_many_keys_is_one_commit") {
        let backend = common::connect(builder).await;
        let id = SessionId::generate().unwrap();
        let now = gimlet_core::Clock::now(&gimlet_core::SystemClock);
        backend.commit(&create(id, now + 600, 1200)).await.unwrap();
        let mut remove = Write::touch(id, now + 600);
        remove.remove = (0..1000).map(|i| format!("key-{i}")).collect();
        backend
            .commit(&Batch {
                ops: vec![Op::Write(remove)],
            })
            .await
            .unwrap();
        let record = backend.load(&[id]).await.unwrap().pop().unwrap().unwrap();
        assert_eq!(record.len(), 200, "{:?}", backend.dialect());
    }
}

#[tokio::test]
async fn commits_abandoned_halfway_leave_the_pool_healthy() {
    for builder in targets("commits_abandoned_halfway_leave_the_pool_healthy") {
        let backend = common::connect(builder).await;
        let now = gimlet_core::Clock::now(&gimlet_core::SystemClock);
        // Callers that stop waiting partway, as when a client disconnects:
        // each gives up after a different delay, so some give up between
        // two statements of the transaction.
        let mut abandoned = Vec::new();
        for i in 0..200u64 {
            let id = SessionId::generate().unwrap();
            let batch = create(id, now + 600, 2);
            let patience = Duration::from_micros(i * 10);
            let _ = tokio::time::timeout(patience, backend.commit(&batch)).await;
            abandoned.push(id);
        }
        // Each record is either untouched (absent) or complete: never a
        // session row with some of its keys.
        let complete = backend.load(&abandoned).await.unwrap();
        let expected = create_record(2);
        for record in complete.into_iter().flatten() {
            assert_eq!(record, expected, "{:?}", backend.dialect());
        }
        // Every later commit still succeeds.
        for _ in 0..50 {
            let batch = create(SessionId::generate().unwrap(), now + 600, 2);
            backend.commit(&batch).await.unwrap();
        }
    }
}

#[test]
fn the_builder_debug_hides_the_password() {
    let builder = SqlBackend::builder("postgres://app:hunter2@db.internal:5432/sessions");
    let debug = format!("{builder:?}");
    assert!(!debug.contains("hunter2"), "{debug}");
    assert!(!debug.contains("app:"), "{debug}");
    assert!(debug.contains("db.internal:5432/sessions"), "{debug}");
}
