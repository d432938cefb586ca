//! MemoryBackend: the backend conformance suite, plus expiry on a manual
//! clock and the bound.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use gimlet_core::backend::Backend;
use gimlet_core::backend::{Batch, Op, Write, WriteMode};
use gimlet_core::testing::ManualClock;
use gimlet_core::{MemoryBackend, SessionId};

gimlet_core::backend_conformance!(async {
    Some(Arc::new(MemoryBackend::new()) as Arc<dyn Backend>)
});

const NOW: u64 = 1_700_000_000;

fn create(id: SessionId, expires_at: u64) -> Batch {
    Batch {
        ops: vec![Op::Write(Write {
            id,
            mode: WriteMode::Create,
            clear: false,
            set: vec![("k".into(), b"v".to_vec())],
            remove: Vec::new(),
            expires_at,
        })],
    }
}

#[tokio::test]
async fn records_expire_when_the_clock_passes_their_expiry() {
    let clock = ManualClock::new(NOW);
    let backend = MemoryBackend::new().clock(clock.clone());
    let id = SessionId::generate().unwrap();
    backend.commit(&create(id, NOW + 60)).await.unwrap();
    clock.advance(Duration::from_secs(59));
    assert!(backend.load(&[id]).await.unwrap()[0].is_some());
    clock.advance(Duration::from_secs(1));
    assert!(backend.load(&[id]).await.unwrap()[0].is_none());
    assert_eq!(backend.len(), 1, "not purged until something passes by");
    assert_eq!(backend.delete_expired().await.unwrap(), 1);
    assert!(backend.is_empty());
}

#[tokio::test]
async fn a_renewed_expiry_keeps_the_record() {
    let clock = ManualClock::new(NOW);
    let backend = MemoryBackend::new().clock(clock.clone());
    let id = SessionId::generate().unwrap();
    backend.commit(&create(id, NOW + 60)).await.unwrap();
    clock.advance(Duration::from_secs(50));
    let touch = Batch {
        ops: vec![Op::Write(Write::touch(id, NOW + 110))],
    };
    backend.commit(&touch).await.unwrap();
    clock.advance(Duration::from_secs(50));
    assert!(backend.load(&[id]).await.unwrap()[0].is_some());
}

#[tokio::test]
async fn commits_purge_expired_records_and_the_bound_evicts_the_closest_to_expiry() {
    let clock = ManualClock::new(NOW);
    let backend = MemoryBackend::with_capacity(3).clock(clock.clone());
    let ids: Vec<SessionId> = (0..5).map(|_| SessionId::generate().unwrap()).collect();
    backend.commit(&create(ids[0], NOW + 10)).await.unwrap();
    backend.commit(&create(ids[1], NOW + 1000)).await.unwrap();
    backend.commit(&create(ids[2], NOW + 500)).await.unwrap();
    // Full: the next record evicts the one that expires first.
    backend.commit(&create(ids[3], NOW + 2000)).await.unwrap();
    assert_eq!(backend.len(), 3);
    let loaded = backend.load(&ids[..4]).await.unwrap();
    let live: Vec<bool> = loaded.iter().map(Option::is_some).collect();
    assert_eq!(live, [false, true, true, true]);

    // Once expired, records are dropped by the next commit.
    clock.advance(Duration::from_secs(600));
    backend.commit(&create(ids[4], NOW + 5000)).await.unwrap();
    assert_eq!(
        backend.len(),
        3,
        "ids[2] expired and was purged, nothing evicted"
    );
    let live: Vec<bool> = backend
        .load(&ids)
        .await
        .unwrap()
        .iter()
        .map(Option::is_some)
        .collect();
    assert_eq!(live, [false, true, false, true, true]);
}
