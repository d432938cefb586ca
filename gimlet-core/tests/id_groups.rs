//! Every id of one session shares its first two bytes (the group), so a
//! backend can keep a session's records together: both channels, the ids
//! that replace them at a cycle, a heal or a logout followed by new data.
//! Each commit is checked, since a commit that names ids of two groups
//! would cross hash slots on Redis Cluster.

#![allow(clippy::unwrap_used)]

mod common;

use common::{SECRET, browser};
use gimlet_core::backend::{Backend, Batch, Op};
use gimlet_core::cookie::CookieCodec;
use gimlet_core::{Placement, Secret, SessionId};

/// The ids each batch since the last reset names.
fn ids_per_batch(b: &common::Browser) -> Vec<Vec<SessionId>> {
    b.backend
        .batches()
        .iter()
        .map(|batch| batch.ops.iter().map(Op::id).collect())
        .collect()
}

#[tokio::test]
async fn every_id_of_a_session_shares_one_group_through_its_whole_life() {
    let mut b = browser(|g| g.permanent_keys(["remember"]));
    let permanent = Placement::new().permanent(true);
    let mut seen: Vec<SessionId> = Vec::new();
    let step = |b: &common::Browser, what: &str, ids: &mut Vec<SessionId>| {
        let batches = ids_per_batch(b);
        assert!(!batches.is_empty(), "{what}: a commit");
        for batch in batches {
            ids.extend(&batch);
        }
        let group = ids[0].group();
        assert!(
            ids.iter().all(|id| id.group() == group),
            "{what}: every id so far in one group"
        );
        b.reset_counts();
    };

    // A transient channel, then a permanent one on the next request.
    let s = b.open();
    s.insert("cart", &1).await.unwrap();
    b.commit(&s).await;
    step(&b, "first channel", &mut seen);
    let s = b.open();
    s.insert_with("remember", &true, permanent).await.unwrap();
    b.commit(&s).await;
    step(&b, "second channel", &mut seen);

    // A cycle: both old ids deleted, both new ones created, in one batch.
    let s = b.open();
    s.cycle_id().await.unwrap();
    b.commit(&s).await;
    step(&b, "cycle", &mut seen);

    // A lost record: the write heals onto a fresh id.
    let codec = CookieCodec::new(&[Secret::new(SECRET)], &[], false).unwrap();
    let lost = codec.decode("gimlet-n", &b.jar["gimlet-n"]).unwrap().id();
    let batch = Batch {
        ops: vec![Op::Delete(lost)],
    };
    b.backend.inner().commit(&batch).await.unwrap();
    b.reset_counts();
    let s = b.open();
    s.insert("cart", &2).await.unwrap();
    b.commit(&s).await;
    step(&b, "heal", &mut seen);

    // A logout followed by new data in the same request.
    let s = b.open();
    s.invalidate().unwrap();
    s.insert("cart", &3).await.unwrap();
    s.insert_with("remember", &false, permanent).await.unwrap();
    b.commit(&s).await;
    step(&b, "logout and new data", &mut seen);

    let distinct: std::collections::HashSet<_> = seen.iter().collect();
    // Two at first, two at the cycle, one at the heal, two after the logout.
    assert_eq!(distinct.len(), 7, "a new id each time");
}
