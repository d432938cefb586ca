//! `Session::status`: what each kind of request did, and the round trips
//! it made, checked against the backend's own count.

#![allow(clippy::unwrap_used)]

mod common;

use common::browser;
use gimlet_core::{Activity, Status};

fn status(activity: Activity, round_trips: usize) -> (Activity, usize) {
    (activity, round_trips)
}

fn seen(s: Status) -> (Activity, usize) {
    (s.activity, s.round_trips)
}

#[tokio::test]
async fn each_kind_of_request_reports_what_it_did_and_its_round_trips() {
    let mut b = browser(|g| g.clientside_keys(["user_id"]));

    // A first request that writes: one commit.
    let s = b.open();
    assert_eq!(seen(s.status()), status(Activity::Untouched, 0));
    s.insert("user_id", &1).await.unwrap();
    s.insert("cart", &["gin"]).await.unwrap();
    assert_eq!(
        seen(s.status()),
        status(Activity::Changed, 0),
        "before the commit"
    );
    b.commit(&s).await;
    assert_eq!(seen(s.status()), status(Activity::Changed, 1), "after it");

    // Untouched: nothing, whatever the cookie.
    b.reset_counts();
    let s = b.open();
    b.commit(&s).await;
    assert_eq!(seen(s.status()), status(Activity::Untouched, 0));

    // A clientside read: read, no round trip.
    let s = b.open();
    assert_eq!(s.get::<u32>("user_id").await.unwrap(), Some(1));
    b.commit(&s).await;
    assert_eq!(seen(s.status()), status(Activity::Read, 0));

    // A server-side read: read, one load.
    let s = b.open();
    assert!(s.get::<Vec<String>>("cart").await.unwrap().is_some());
    b.commit(&s).await;
    assert_eq!(seen(s.status()), status(Activity::Read, 1));
    assert_eq!(b.counts().round_trips(), 1, "the backend agrees");

    // A server-side write alone: changed, one commit and no load.
    b.reset_counts();
    let s = b.open();
    s.insert("cart", &["tonic"]).await.unwrap();
    b.commit(&s).await;
    assert_eq!(seen(s.status()), status(Activity::Changed, 1));
    s.insert("cart", &["gin"]).await.unwrap();
    b.reset_counts();

    // Writing back an equal value is no change.
    b.reset_counts();
    let s = b.open();
    s.insert("user_id", &1).await.unwrap();
    b.commit(&s).await;
    assert_eq!(seen(s.status()), status(Activity::Read, 0));

    // A login: new ids, the data loaded and written under them.
    b.reset_counts();
    let s = b.open();
    s.cycle_id().await.unwrap();
    b.commit(&s).await;
    assert_eq!(seen(s.status()), status(Activity::Renewed, 2));
    assert_eq!(b.counts().round_trips(), 2);

    // A write after the commit goes straight to the backend, and counts.
    b.reset_counts();
    let s = b.open();
    s.get::<Vec<String>>("cart").await.unwrap();
    b.commit(&s).await;
    s.insert("cart", &["lime"]).await.unwrap();
    assert_eq!(seen(s.status()), status(Activity::Changed, 2));
    assert_eq!(b.counts().round_trips(), 2);

    // A logout: ended, whatever else it did.
    b.reset_counts();
    let s = b.open();
    s.insert("theme", "dark").await.unwrap();
    s.invalidate().unwrap();
    b.commit(&s).await;
    assert_eq!(seen(s.status()), status(Activity::Ended, 1));
    assert_eq!(b.counts().round_trips(), 1);
}

/// The cookie sizes: what the browser sent, once the session is used, and
/// what the commit set; a removal counts as none.
#[tokio::test]
async fn cookie_sizes_are_those_sent_then_those_set() {
    let mut b = browser(|g| g.clientside_keys(["user_id"]));
    let s = b.open();
    s.insert("user_id", &1).await.unwrap();
    assert_eq!(s.status().transient_cookie_bytes, 0, "no cookie yet");
    let set = b.commit(&s).await;
    let pair = |set: &[String]| set[0].split(';').next().unwrap().len();
    let first = pair(&set);
    assert_eq!(s.status().transient_cookie_bytes, first);
    assert_eq!(s.status().permanent_cookie_bytes, 0);

    let s = b.open();
    assert_eq!(s.get::<u32>("user_id").await.unwrap(), Some(1));
    assert_eq!(s.status().transient_cookie_bytes, first, "as received");
    s.insert("user_id", &"a much longer value than before")
        .await
        .unwrap();
    let set = b.commit(&s).await;
    assert!(pair(&set) > first);
    assert_eq!(s.status().transient_cookie_bytes, pair(&set), "as set");

    let s = b.open();
    s.invalidate().unwrap();
    b.commit(&s).await;
    assert_eq!(s.status().transient_cookie_bytes, 0, "removed");
}

#[tokio::test]
async fn a_clientside_write_alone_is_a_change_with_no_round_trip() {
    let mut b = browser(|g| g.clientside_keys(["user_id"]));
    let s = b.open();
    s.insert("user_id", &1).await.unwrap();
    b.commit(&s).await;
    b.reset_counts();
    let s = b.open();
    s.insert("user_id", &2).await.unwrap();
    b.commit(&s).await;
    assert_eq!(seen(s.status()), status(Activity::Changed, 0));
    assert_eq!(b.counts().round_trips(), 0);
}
