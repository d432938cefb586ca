//! Statements and transactions as the database runs them. sqlx reports
//! each statement it executes as a `tracing` event (target `sqlx::query`),
//! which a subscriber of this binary's own records; transactions (which
//! sqlx does not report) are counted by the server where it can tell:
//! PostgreSQL's transaction ids, MySQL's `Com_commit`. This binary holds one
//! test, so no other test adds statements or transactions while it counts.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::{Mutex, OnceLock};

use gimlet_core::SessionId;
use gimlet_core::backend::Backend;
use gimlet_core::backend::{Batch, Op, Write, WriteMode};
use gimlet_sql::{Dialect, SqlBackend};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// The statements executed since the last [`take`].
static STATEMENTS: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Recorder;

struct Sql(Option<String>);

impl Visit for Sql {
    fn record_str(&mut self, field: &Field, value: &str) {
        // The whole statement, or (for a bare `COMMIT`) its summary.
        let value = value.trim();
        let wanted = match field.name() {
            "db.statement" => !value.is_empty(),
            "summary" => self.0.is_none(),
            _ => false,
        };
        if wanted {
            self.0 = Some(value.to_owned());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.record_str(field, &format!("{value:?}"));
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.target() == "sqlx::query"
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut sql = Sql(None);
        event.record(&mut sql);
        let statement = sql.0.unwrap_or_default();
        STATEMENTS.lock().unwrap().push(statement);
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

fn install() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| tracing::subscriber::set_global_default(Recorder).unwrap());
}

/// The statements since the last call but transaction control and
/// connection setup, each as its first word (`INSERT`, `DELETE` …), upper
/// case.
fn take() -> Vec<String> {
    take_with_transaction_control()
        .into_iter()
        // Transaction control is reported by some drivers and not others
        // (transactions are counted by the server instead).
        .filter(|s| !matches!(s.as_str(), "BEGIN" | "COMMIT" | "ROLLBACK"))
        .collect()
}

/// The statements since the last call, transaction control included (the
/// `COMMIT` every driver reports), but not the setup of a new pooled
/// connection (`SET`, `PRAGMA`), which comes whenever the pool opens one.
fn take_with_transaction_control() -> Vec<String> {
    let all: Vec<String> = STATEMENTS.lock().unwrap().drain(..).collect();
    all.into_iter()
        .map(|s| {
            s.split_whitespace()
                .next()
                .unwrap_or_default()
                .trim_matches('"')
                .to_ascii_uppercase()
        })
        .filter(|s| !matches!(s.as_str(), "SET" | "PRAGMA"))
        .collect()
}

fn count(statements: &[String], word: &str) -> usize {
    statements.iter().filter(|s| *s == word).count()
}

/// Write transactions committed on the server so far, where the server
/// tells (not SQLite). Its own statements are left out of the record.
async fn transactions(backend: &SqlBackend) -> Option<i64> {
    let count = match backend.dialect() {
        Dialect::Postgres => {
            // Every write transaction takes an id, and so does this query:
            // one apart per call, plus one per transaction in between.
            let id: i64 = gimlet_sql::sqlx::query_scalar("SELECT txid_current()::BIGINT")
                .fetch_one(backend.pool())
                .await
                .unwrap();
            Some(id - calls())
        }
        Dialect::MySql => {
            let row: (String, String) =
                gimlet_sql::sqlx::query_as("SHOW GLOBAL STATUS LIKE 'Com_commit'")
                    .fetch_one(backend.pool())
                    .await
                    .unwrap();
            Some(row.1.parse().unwrap())
        }
        _ => None,
    };
    take();
    count
}

/// How many times [`transactions`] ran on PostgreSQL: each call takes a
/// transaction id of its own.
fn calls() -> i64 {
    static CALLS: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);
    CALLS.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
}

#[tokio::test(flavor = "current_thread")]
async fn a_commit_of_many_keys_is_one_transaction_of_few_statements() {
    install();
    let mut urls = vec![common::sqlite_file_url()];
    urls.extend(common::server_url(
        common::POSTGRES,
        "statements on PostgreSQL",
    ));
    urls.extend(common::server_url(common::MYSQL, "statements on MySQL"));
    for url in urls {
        let backend = common::connect(SqlBackend::builder(url.clone())).await;
        let id = SessionId::generate().unwrap();
        let now = gimlet_core::Clock::now(&gimlet_core::SystemClock);
        let set: Vec<(String, Vec<u8>)> = (0..1200)
            .map(|i| (format!("key-{i}"), format!("value-{i}").into_bytes()))
            .collect();
        let create = Write {
            id,
            mode: WriteMode::Create,
            clear: false,
            set: set.clone(),
            remove: Vec::new(),
            expect: Vec::new(),
            expires_at: now + 600,
            owner: None,
        };
        let before = transactions(&backend).await;
        take();
        backend
            .commit(&Batch {
                ops: vec![Op::Write(create)],
            })
            .await
            .unwrap();
        let statements = take();
        if let (Some(before), Some(after)) = (before, transactions(&backend).await) {
            assert_eq!(after - before, 1, "{url}: one transaction");
        }
        // The session row, then the keys, 250 to a statement.
        assert_eq!(statements.len(), 1 + 5, "{url}: {statements:?}");
        assert_eq!(count(&statements, "INSERT"), 1 + 5, "{url}: {statements:?}");
        let record = backend.load(&[id]).await.unwrap().pop().unwrap().unwrap();
        let expected: std::collections::HashMap<_, _> = set.into_iter().collect();
        assert_eq!(record, expected, "{url}");
        let statements = take();
        assert_eq!(
            statements.len(),
            1,
            "one query loads: {url}: {statements:?}"
        );

        // Removing 1000 of them: the expiry, then 4 deletes.
        let mut remove = Write::touch(id, now + 600);
        remove.remove = (0..1000).map(|i| format!("key-{i}")).collect();
        let before = transactions(&backend).await;
        take();
        backend
            .commit(&Batch {
                ops: vec![Op::Write(remove)],
            })
            .await
            .unwrap();
        let statements = take();
        if let (Some(before), Some(after)) = (before, transactions(&backend).await) {
            assert_eq!(after - before, 1, "{url}: one transaction");
        }
        assert_eq!(statements.len(), 1 + 4, "{url}: {statements:?}");
        assert_eq!(count(&statements, "UPDATE"), 1, "{url}: {statements:?}");
        assert_eq!(count(&statements, "DELETE"), 4, "{url}: {statements:?}");
        let record = backend.load(&[id]).await.unwrap().pop().unwrap().unwrap();
        let mut expected: std::collections::HashMap<String, Vec<u8>> = (1000..1200)
            .map(|i| (format!("key-{i}"), format!("value-{i}").into_bytes()))
            .collect();
        assert_eq!(record, expected, "{url}");
        take();

        // The commit of most requests: the expiry and a few keys of a live
        // session. On PostgreSQL one statement, with no transaction around
        // it; elsewhere one transaction of two.
        let mut update = Write::touch(id, now + 900);
        update.set = vec![
            ("key-1000".to_owned(), b"changed".to_vec()),
            ("added".to_owned(), b"new".to_vec()),
        ];
        let before = transactions(&backend).await;
        take();
        let batch = Batch {
            ops: vec![Op::Write(update.clone())],
        };
        backend.commit(&batch).await.unwrap();
        let statements = take_with_transaction_control();
        if let (Some(before), Some(after)) = (before, transactions(&backend).await) {
            assert_eq!(after - before, 1, "{url}: one transaction");
        }
        if backend.dialect() == Dialect::Postgres {
            assert_eq!(statements, ["WITH"], "{url}: one statement");
        } else {
            let statements: Vec<&String> = statements
                .iter()
                .filter(|s| !matches!(s.as_str(), "BEGIN" | "COMMIT"))
                .collect();
            assert_eq!(statements, ["UPDATE", "INSERT"], "{url}");
        }
        expected.insert("key-1000".into(), b"changed".to_vec());
        expected.insert("added".into(), b"new".to_vec());
        let record = backend.load(&[id]).await.unwrap().pop().unwrap().unwrap();
        assert_eq!(record, expected, "{url}");
        take();

        // The expiry alone: one statement everywhere, with no transaction
        // around it (PostgreSQL and MySQL report their `COMMIT`; SQLite's
        // driver reports no transaction control, so there only the
        // statements are seen).
        let touch = Write::touch(id, now + 1200);
        backend
            .commit(&Batch {
                ops: vec![Op::Write(touch)],
            })
            .await
            .unwrap();
        assert_eq!(
            take_with_transaction_control(),
            ["UPDATE"],
            "{url}: one statement"
        );

        // Once the session is gone, both are refused as gone, and write
        // nothing.
        backend
            .commit(&Batch {
                ops: vec![Op::Delete(id)],
            })
            .await
            .unwrap();
        let error = backend.commit(&batch).await.unwrap_err();
        assert!(error.is_gone(), "{url}: {error}");
        let touch = Write::touch(id, now + 1200);
        let error = backend
            .commit(&Batch {
                ops: vec![Op::Write(touch)],
            })
            .await
            .unwrap_err();
        assert!(error.is_gone(), "{url}: {error}");
        assert_eq!(backend.load(&[id]).await.unwrap(), [None], "{url}");
        let keys: i64 = gimlet_sql::sqlx::query_scalar(&format!(
            "SELECT COUNT(*) FROM {}",
            backend.tables().keys()
        ))
        .fetch_one(backend.pool())
        .await
        .unwrap();
        assert_eq!(keys, 0, "{url}: no key row left behind");
        take();
    }
}
