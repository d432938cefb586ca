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
    write(id, WriteMode::Create, &[("k", 1)], expires_at)
}

/// A batch of one write of `set` (each key with a value of that many
/// bytes) to `id`.
fn write(id: SessionId, mode: WriteMode, set: &[(&str, usize)], expires_at: u64) -> Batch {
    Batch {
        ops: vec![Op::Write(Write {
            id,
            mode,
            clear: false,
            set: set
                .iter()
                .map(|(k, n)| ((*k).to_owned(), vec![7; *n]))
                .collect(),
            remove: Vec::new(),
            expect: Vec::new(),
            expires_at,
            owner: None,
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

/// A flood of new sessions, each one request without a cookie (1,200 into
/// a store of 1,000), evicts its own kind: the session a browser came back
/// to stays, though it expires first.
#[tokio::test]
async fn a_flood_of_new_sessions_cannot_evict_an_established_one() {
    let clock = ManualClock::new(NOW);
    let backend = MemoryBackend::with_capacity(1000).clock(clock.clone());
    let established = SessionId::generate().unwrap();
    backend
        .commit(&create(established, NOW + 10))
        .await
        .unwrap();
    assert!(backend.load(&[established]).await.unwrap()[0].is_some());
    let flood: Vec<SessionId> = (0..1200).map(|_| SessionId::generate().unwrap()).collect();
    for id in &flood {
        backend.commit(&create(*id, NOW + 3600)).await.unwrap();
    }
    assert_eq!(backend.len(), 1000);
    assert!(
        backend.load(&[established]).await.unwrap()[0].is_some(),
        "the flood logged the established session out"
    );
    // The flood evicted its own oldest.
    let first = backend.load(&flood[..200]).await.unwrap();
    assert!(first.iter().filter(|r| r.is_some()).count() < 200);

    // A record written again is established too; so is an owned one.
    let rewritten = SessionId::generate().unwrap();
    backend
        .commit(&create(rewritten, NOW + 3601))
        .await
        .unwrap();
    let update = write(rewritten, WriteMode::Update, &[("k", 2)], NOW + 5);
    backend.commit(&update).await.unwrap();
    for _ in 0..1000 {
        let id = SessionId::generate().unwrap();
        backend.commit(&create(id, NOW + 3600)).await.unwrap();
    }
    let kept = backend.load(&[established, rewritten]).await.unwrap();
    assert!(kept.iter().all(Option::is_some));
}

/// Which tier a new visitor's record evicts from, in a full store of 100
/// holding `returned` established records and the rest new ones.
async fn evicted_tier(returned: usize) -> (usize, usize) {
    let clock = ManualClock::new(NOW);
    let backend = MemoryBackend::with_capacity(100).clock(clock.clone());
    let mut ids = Vec::new();
    for i in 0..100 {
        let id = SessionId::generate().unwrap();
        backend
            .commit(&create(id, NOW + 100 + i as u64))
            .await
            .unwrap();
        if i < returned {
            backend.load(&[id]).await.unwrap();
        }
        ids.push(id);
    }
    let visitor = SessionId::generate().unwrap();
    backend.commit(&create(visitor, NOW + 5000)).await.unwrap();
    let live = backend.load(&ids).await.unwrap();
    let gone = |range: std::ops::Range<usize>| live[range].iter().filter(|r| r.is_none()).count();
    (gone(0..returned), gone(returned..100))
}

#[tokio::test]
async fn established_sessions_are_evicted_first_only_past_three_quarters() {
    assert_eq!(
        evicted_tier(75).await,
        (0, 1),
        "at three quarters, a new one goes"
    );
    assert_eq!(
        evicted_tier(80).await,
        (1, 0),
        "past it, an established one"
    );
}

/// Established sessions fill at most three quarters of the store: past
/// that, the oldest of them make room, so a new visitor's record always
/// lives to see its next request.
#[tokio::test]
async fn a_store_full_of_established_sessions_still_takes_new_ones() {
    let clock = ManualClock::new(NOW);
    let backend = MemoryBackend::with_capacity(100).clock(clock.clone());
    for i in 0..100 {
        let id = SessionId::generate().unwrap();
        backend.commit(&create(id, NOW + 100 + i)).await.unwrap();
        backend.load(&[id]).await.unwrap();
    }
    let visitor = SessionId::generate().unwrap();
    backend.commit(&create(visitor, NOW + 50)).await.unwrap();
    assert!(backend.load(&[visitor]).await.unwrap()[0].is_some());
    assert_eq!(backend.len(), 100);
}

#[tokio::test]
async fn the_byte_estimate_follows_every_change_and_returns_to_zero() {
    let clock = ManualClock::new(NOW);
    let backend = MemoryBackend::new().clock(clock.clone());
    assert_eq!(backend.bytes(), 0);
    let (a, b) = (
        SessionId::generate().unwrap(),
        SessionId::generate().unwrap(),
    );
    backend
        .commit(&write(a, WriteMode::Create, &[("cart", 100)], NOW + 60))
        .await
        .unwrap();
    let one = backend.bytes();
    assert!(one > 100, "the value and more: {one}");
    backend
        .commit(&write(b, WriteMode::Create, &[("cart", 100)], NOW + 60))
        .await
        .unwrap();
    assert_eq!(backend.bytes(), 2 * one, "the same shape costs the same");
    backend
        .commit(&write(a, WriteMode::Update, &[("cart", 1000)], NOW + 60))
        .await
        .unwrap();
    assert!(backend.bytes() >= 2 * one + 900, "a larger value grows it");
    backend
        .commit(&Batch {
            ops: vec![Op::Delete(a)],
        })
        .await
        .unwrap();
    assert_eq!(backend.bytes(), one);
    clock.advance(Duration::from_secs(60));
    assert_eq!(backend.delete_expired().await.unwrap(), 1);
    assert_eq!(backend.bytes(), 0);
}

#[tokio::test]
async fn the_byte_bound_evicts_the_closest_to_expiry_but_never_the_last_record() {
    let clock = ManualClock::new(NOW);
    let probe = MemoryBackend::new().clock(clock.clone());
    probe
        .commit(&write(
            SessionId::generate().unwrap(),
            WriteMode::Create,
            &[("cart", 500)],
            NOW + 60,
        ))
        .await
        .unwrap();
    let one = probe.bytes();

    // Room for two records of that shape, not three.
    let backend = MemoryBackend::new()
        .max_bytes(2 * one + one / 2)
        .clock(clock.clone());
    let ids: Vec<SessionId> = (0..4).map(|_| SessionId::generate().unwrap()).collect();
    let expiries = [NOW + 500, NOW + 100, NOW + 900];
    for (id, expires_at) in ids.iter().zip(expiries) {
        backend
            .commit(&write(*id, WriteMode::Create, &[("cart", 500)], expires_at))
            .await
            .unwrap();
    }
    assert_eq!(backend.len(), 2);
    assert!(backend.bytes() <= 2 * one + one / 2);
    let live: Vec<bool> = backend
        .load(&ids[..3])
        .await
        .unwrap()
        .iter()
        .map(Option::is_some)
        .collect();
    assert_eq!(live, [true, false, true], "the one closest to expiry went");

    // A record larger than the whole bound stays, alone.
    backend
        .commit(&write(
            ids[3],
            WriteMode::Create,
            &[("cart", 10 * one)],
            NOW + 2000,
        ))
        .await
        .unwrap();
    assert_eq!(backend.len(), 1);
    assert!(backend.load(&ids[3..]).await.unwrap()[0].is_some());
}

#[tokio::test]
async fn the_byte_estimate_is_the_documented_sum() {
    use std::mem::size_of;
    let backend = MemoryBackend::new();
    assert!(backend.is_empty());
    let id = SessionId::generate().unwrap();
    backend
        .commit(&write(id, WriteMode::Create, &[("cart", 100)], u64::MAX))
        .await
        .unwrap();
    assert!(!backend.is_empty());
    // Its own slot in the record map (the id and the entry: the record's
    // table, the expiry, the estimate, the pointer to an ownership it has
    // not got, its eviction tier) with a control byte, and its two
    // places in the expiry index; a table of three slots for its one key
    // (a key and a value header and a control byte each); and the key's
    // and the value's heap blocks.
    let record = size_of::<gimlet_core::backend::Record>();
    let own = size_of::<SessionId>() + record + 4 * size_of::<u64>() + 1;
    let index = 2 * size_of::<(u64, SessionId)>();
    let slots = 3 * (size_of::<(String, Vec<u8>)>() + 1);
    let heap = "cart".len() + 100;
    assert_eq!(backend.bytes(), own + index + slots + heap);
}

/// An owned record costs its ownership and its place in the owner index
/// on top: the estimate adds both.
#[tokio::test]
async fn an_owned_record_counts_its_ownership() {
    use gimlet_core::backend::{Owner, Ownership};
    use std::mem::size_of;
    let (plain, owned) = (MemoryBackend::new(), MemoryBackend::new());
    let id = SessionId::generate().unwrap();
    let batch = write(id, WriteMode::Create, &[("cart", 100)], u64::MAX);
    plain.commit(&batch).await.unwrap();
    let mut batch = batch;
    if let Op::Write(w) = &mut batch.ops[0] {
        w.owner = Some(Ownership {
            owner: Owner::from_bytes([7; 16]),
            permanent: false,
            created: 1,
            until: u64::MAX,
        });
    }
    owned.commit(&batch).await.unwrap();
    let extra = size_of::<Ownership>() + size_of::<SessionId>();
    assert_eq!(owned.bytes(), plain.bytes() + extra);
}

#[tokio::test]
async fn a_record_that_expires_at_this_second_is_not_merged_into() {
    let clock = ManualClock::new(NOW);
    let backend = MemoryBackend::new().clock(clock.clone());
    let id = SessionId::generate().unwrap();
    backend
        .commit(&write(id, WriteMode::Create, &[("old", 1)], NOW + 60))
        .await
        .unwrap();
    clock.advance(Duration::from_secs(60));
    backend
        .commit(&write(id, WriteMode::Upsert, &[("new", 1)], NOW + 120))
        .await
        .unwrap();
    let record = backend.load(&[id]).await.unwrap().pop().unwrap().unwrap();
    let keys: Vec<&String> = record.keys().collect();
    assert_eq!(keys, ["new"], "the expired record's keys are gone");
}

#[tokio::test]
async fn records_that_fill_the_byte_bound_exactly_all_stay() {
    let probe = MemoryBackend::new();
    probe
        .commit(&write(
            SessionId::generate().unwrap(),
            WriteMode::Create,
            &[("cart", 50)],
            u64::MAX,
        ))
        .await
        .unwrap();
    let backend = MemoryBackend::new().max_bytes(2 * probe.bytes());
    for _ in 0..2 {
        let id = SessionId::generate().unwrap();
        backend
            .commit(&write(id, WriteMode::Create, &[("cart", 50)], u64::MAX))
            .await
            .unwrap();
    }
    assert_eq!(backend.len(), 2, "at the bound, not over it");
    assert_eq!(backend.bytes(), 2 * probe.bytes());
}
