//! `Session::update` against a rival that always wins: the commit runs the
//! update again, a bounded number of times, then answers a 409 rather
//! than overwrite the rival's change. Clientside keys are not checked.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use gimlet_core::async_trait;
use gimlet_core::backend::{Backend, BackendError, Batch, Op, Record};
use gimlet_core::{Error, Gimlet, MemoryBackend, SessionId};

/// A real MemoryBackend, and another tab that changes every expected key
/// (to 1000, 1001, …) just before each commit that expects one.
#[derive(Debug)]
struct Rival {
    store: MemoryBackend,
    commits: AtomicUsize,
}

#[async_trait]
impl Backend for Rival {
    async fn load(&self, ids: &[SessionId]) -> Result<Vec<Option<Record>>, BackendError> {
        self.store.load(ids).await
    }

    async fn commit(&self, batch: &Batch) -> Result<(), BackendError> {
        for op in &batch.ops {
            if let Op::Write(write) = op
                && !write.expect.is_empty()
            {
                let mut rival = write.clone();
                rival.expect.clear();
                rival.set = write
                    .expect
                    .iter()
                    .map(|(key, _)| {
                        let n = 1000 + self.commits.load(Ordering::Relaxed) as u32;
                        (key.clone(), rmp_serde::to_vec(&n).unwrap())
                    })
                    .collect();
                rival.remove.clear();
                self.store
                    .commit(&Batch {
                        ops: vec![Op::Write(rival)],
                    })
                    .await?;
            }
        }
        self.commits.fetch_add(1, Ordering::Relaxed);
        self.store.commit(batch).await
    }
}

#[tokio::test]
async fn an_update_that_always_loses_is_a_409_after_the_bound() {
    let rival = Arc::new(Rival {
        store: MemoryBackend::new(),
        commits: AtomicUsize::new(0),
    });
    let gimlet = Gimlet::builder()
        .secret(common::SECRET)
        .without_env()
        .shared_backend(rival.clone())
        .build()
        .unwrap();
    let session = gimlet.open_from_headers([]);
    session.insert("n", &1u32).await.unwrap();
    let cookies = gimlet.commit(&session).await.unwrap();
    let header: Vec<&str> = cookies
        .iter()
        .map(|c| c.split(';').next().unwrap())
        .collect();
    let header = header.join("; ");

    rival.commits.store(0, Ordering::Relaxed);
    let runs = Arc::new(AtomicUsize::new(0));
    let counted = runs.clone();
    let session = gimlet.open_from_headers([header.as_str()]);
    session
        .update("n", move |n: &mut Option<u32>| {
            counted.fetch_add(1, Ordering::Relaxed);
            *n = Some(2);
        })
        .await
        .unwrap();
    let error = gimlet.commit(&session).await.unwrap_err();
    assert!(
        matches!(&error, Error::Backend(e) if e.is_changed()),
        "{error:?}"
    );
    assert_eq!(error.status_code(), 409);
    // The first run, and one per round: sixteen rounds, seventeen commits.
    assert_eq!(runs.load(Ordering::Relaxed), 17);
    assert_eq!(rival.commits.load(Ordering::Relaxed), 17);
    let after = gimlet.open_from_headers([header.as_str()]);
    assert_eq!(
        after.get::<u32>("n").await.unwrap(),
        Some(1016),
        "the rival's last, not overwritten"
    );
}

#[tokio::test]
async fn a_blind_insert_after_an_update_is_not_checked() {
    let rival = Arc::new(Rival {
        store: MemoryBackend::new(),
        commits: AtomicUsize::new(0),
    });
    let gimlet = Gimlet::builder()
        .secret(common::SECRET)
        .without_env()
        .shared_backend(rival)
        .build()
        .unwrap();
    let session = gimlet.open_from_headers([]);
    session.insert("n", &1u32).await.unwrap();
    let cookies = gimlet.commit(&session).await.unwrap();
    let header = cookies[0].split(';').next().unwrap().to_owned();
    let session = gimlet.open_from_headers([header.as_str()]);
    session
        .update("n", |n: &mut Option<u32>| *n = Some(2))
        .await
        .unwrap();
    session.insert("n", &3u32).await.unwrap();
    gimlet.commit(&session).await.unwrap();
    let after = gimlet.open_from_headers([header.as_str()]);
    assert_eq!(after.get::<u32>("n").await.unwrap(), Some(3));
}

#[tokio::test]
async fn a_clientside_update_is_applied_once_and_never_checked() {
    let gimlet = common::cookie_only(|g| g.clientside_keys(["n"]).without_env());
    let session = gimlet.open_from_headers([]);
    let runs = Arc::new(AtomicUsize::new(0));
    let counted = runs.clone();
    session
        .update("n", move |n: &mut Option<u32>| {
            counted.fetch_add(1, Ordering::Relaxed);
            *n = Some(n.unwrap_or(0) + 1);
        })
        .await
        .unwrap();
    assert!(!gimlet.commit(&session).await.unwrap().is_empty());
    assert_eq!(runs.load(Ordering::Relaxed), 1);
}
