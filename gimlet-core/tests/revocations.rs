//! The revocation set on its own: what it holds, for how long, when it
//! trusts the revalidation window, and its bound.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use gimlet_core::SessionId;
use gimlet_core::backend::Revocations;
use gimlet_core::testing::ManualClock;

const START: u64 = 1_700_000_000;

fn set(window: u64) -> (Revocations, ManualClock) {
    let clock = ManualClock::new(START);
    (Revocations::new(window, Arc::new(clock.clone())), clock)
}

fn id() -> SessionId {
    SessionId::generate().unwrap()
}

#[test]
fn an_ending_is_held_for_one_window_then_dropped() {
    let (revocations, clock) = set(300);
    assert!(revocations.is_empty());
    let (ended, other) = (id(), id());
    revocations.revoke([ended]);
    assert_eq!(revocations.len(), 1);
    assert!(!revocations.is_empty());
    assert!(revocations.is_revoked(&ended));
    assert!(!revocations.is_revoked(&other));
    clock.advance(Duration::from_secs(299));
    assert!(revocations.is_revoked(&ended), "inside the window");
    clock.advance(Duration::from_secs(1));
    assert!(!revocations.is_revoked(&ended), "past the window");
    // The next ending drops what expired.
    revocations.revoke([other]);
    assert_eq!(revocations.len(), 1);
    assert!(revocations.is_revoked(&other));
}

#[test]
fn an_id_ended_again_is_held_from_its_last_ending() {
    let (revocations, clock) = set(300);
    let ended = id();
    revocations.revoke([ended]);
    clock.advance(Duration::from_secs(200));
    revocations.revoke([ended]);
    clock.advance(Duration::from_secs(200));
    revocations.revoke([id()]);
    assert!(
        revocations.is_revoked(&ended),
        "held from the second ending"
    );
    assert_eq!(revocations.len(), 2);
}

#[test]
fn the_window_is_trusted_unless_the_feed_is_down() {
    let (revocations, _) = set(300);
    assert_eq!(revocations.window(), 300);
    assert!(!revocations.is_pushed(), "no feed until a store says so");
    assert!(revocations.trusts_the_window(), "no feed: the window alone");
    revocations.feed_down();
    assert!(revocations.is_pushed());
    assert!(!revocations.trusts_the_window(), "a feed that is down");
    revocations.feed_up();
    assert!(revocations.is_pushed());
    assert!(revocations.trusts_the_window());
    let shown = format!("{revocations:?}");
    assert!(
        shown.contains("feed: \"live\"") && shown.contains("ids: 0"),
        "{shown}"
    );
    revocations.feed_down();
    assert!(format!("{revocations:?}").contains("feed: \"down\""));
    let (fresh, _) = set(1);
    assert!(format!("{fresh:?}").contains("feed: \"none\""));
}

#[test]
fn past_its_bound_the_set_trusts_nothing_until_the_overflow_has_expired() {
    let clock = ManualClock::new(START);
    let revocations = Revocations::bounded(10, Arc::new(clock.clone()), 1000);
    let many: Vec<SessionId> = (0..1000).map(|_| id()).collect();
    revocations.revoke(many);
    assert!(revocations.trusts_the_window(), "full, nothing dropped yet");
    let dropped = id();
    clock.advance(Duration::from_secs(5));
    revocations.revoke([dropped]);
    assert!(!revocations.is_revoked(&dropped), "no room for it");
    assert!(
        !revocations.trusts_the_window(),
        "an ending was dropped: every cookie is checked"
    );
    // Once the window of the dropped ending has passed, the set is whole.
    clock.advance(Duration::from_secs(10));
    assert!(revocations.trusts_the_window());
    assert_eq!(revocations.len(), 0, "everything held has expired too");
}
