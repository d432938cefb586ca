//! A commit that keeps losing the race for a lock is retried a bounded
//! number of times, then fails; once the lock is free, it goes through.
//! SQLite shows it without waiting on a server's lock timeout: with a busy
//! timeout of zero, a file whose write lock another connection holds
//! answers "busy" at once.

#![cfg(feature = "sqlite")]
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use gimlet_core::SessionId;
use gimlet_core::backend::Backend;
use gimlet_core::backend::{Batch, Op, Write, WriteMode};
use gimlet_sql::SqlBackend;
use gimlet_sql::sqlx::{AnyConnection, Connection, Executor};

/// The log lines written through it, shared with the test.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Lines {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Lines {
    fn count(&self, needle: &str) -> usize {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .lines()
            .filter(|line| line.contains(needle))
            .count()
    }
}

fn create(id: SessionId) -> Batch {
    let now = gimlet_core::Clock::now(&gimlet_core::SystemClock);
    Batch {
        ops: vec![Op::Write(Write {
            id,
            mode: WriteMode::Create,
            clear: false,
            set: vec![("k".to_owned(), b"v".to_vec())],
            remove: Vec::new(),
            expect: Vec::new(),
            expires_at: now + 600,
            owner: None,
        })],
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_commit_that_keeps_finding_the_file_locked_gives_up_after_ten_attempts() {
    let lines = Lines::default();
    let writer = lines.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("gimlet_sql=debug")
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let url = common::sqlite_file_url();
    let backend = common::connect(
        SqlBackend::builder(url.clone())
            .sqlite_busy_timeout(Duration::ZERO)
            .timeout(Duration::from_secs(60)),
    )
    .await;
    let mut holder = AnyConnection::connect(&url).await.unwrap();
    holder.execute("BEGIN IMMEDIATE").await.unwrap();

    let id = SessionId::generate().unwrap();
    // Ten attempts pause about 0.6 s in all; a loop without its bound
    // would spin until the lock is released, which here is never.
    let outcome = tokio::time::timeout(Duration::from_secs(20), backend.commit(&create(id))).await;
    let error = outcome
        .expect("the retries are bounded")
        .expect_err("the file stayed locked");
    let source = std::error::Error::source(&error).map(ToString::to_string);
    assert!(
        source.as_deref().is_some_and(|s| s.contains("locked")),
        "{error}: {source:?}"
    );
    assert_eq!(
        lines.count("session commit lost a race; retrying"),
        9,
        "ten attempts, nine of them retries"
    );
    assert_eq!(
        backend.load(&[id]).await.unwrap(),
        vec![None],
        "nothing written"
    );

    holder.execute("ROLLBACK").await.unwrap();
    backend.commit(&create(id)).await.unwrap();
    let record = backend.load(&[id]).await.unwrap().pop().unwrap().unwrap();
    assert_eq!(record.get("k").map(Vec::as_slice), Some(&b"v"[..]));
}
