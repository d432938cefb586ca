//! One test per I/O rule of DESIGN.md, each asserting exact backend call
//! counts through `CountingBackend`.

#![allow(clippy::unwrap_used)]

mod common;

use common::{Browser, browser, days};
use gimlet_core::Placement;
use gimlet_core::backend::{Op, WriteMode};

/// A session with clientside and server data in both channels.
async fn established() -> Browser {
    let mut b = browser(|g| {
        g.clientside_keys(["user_id", "cart_id"])
            .permanent_keys(["remember"])
    });
    let s = b.open();
    s.insert("user_id", &1).await.unwrap();
    s.insert("cart", &vec!["gin"]).await.unwrap();
    s.insert("remember", &true).await.unwrap();
    s.insert_with(
        "theme",
        &"dark",
        Placement::new().clientside(true).permanent(true),
    )
    .await
    .unwrap();
    let cookies = b.commit(&s).await;
    assert_eq!(cookies.len(), 2);
    b.reset_counts();
    b
}

#[tokio::test]
async fn rule_1_an_untouched_request_makes_no_calls_and_sends_no_cookie() {
    let mut b = established().await;
    let s = b.open();
    assert!(b.commit(&s).await.is_empty());
    assert_eq!(b.counts().round_trips(), 0);

    // Even when the refresh is due: only a request that uses the session
    // refreshes it.
    b.advance(days(20));
    let s = b.open();
    assert!(b.commit(&s).await.is_empty());
    assert_eq!(b.counts().round_trips(), 0);

    // And a brand-new visitor.
    let fresh = b.gimlet.open_from_headers([]);
    assert!(b.gimlet.commit(&fresh).await.unwrap().is_empty());
    assert_eq!(b.counts().round_trips(), 0);
}

#[tokio::test]
async fn rule_2_clientside_only_requests_make_no_backend_calls() {
    let mut b = established().await;
    let s = b.open();
    assert_eq!(s.get::<u32>("user_id").await.unwrap(), Some(1));
    assert_eq!(
        s.get::<String>("theme").await.unwrap().as_deref(),
        Some("dark")
    );
    // A whitelisted key that is not set: whitelisted keys are never
    // server-side, so the miss is answered without a load.
    assert_eq!(s.get::<u32>("cart_id").await.unwrap(), None);
    s.insert("user_id", &2).await.unwrap();
    s.insert_with(
        "theme",
        &"light",
        Placement::new().clientside(true).permanent(true),
    )
    .await
    .unwrap();
    assert!(s.is_clientside("theme").await.unwrap());
    let cookies = b.commit(&s).await;
    assert_eq!(b.counts().round_trips(), 0, "{:?}", b.backend.batches());
    assert_eq!(cookies.len(), 2, "both channels' clientside data changed");

    let s = b.open();
    s.remove("user_id").await.unwrap();
    b.commit(&s).await;
    assert_eq!(b.counts().round_trips(), 0);
    assert_eq!(b.open().get::<u32>("user_id").await.unwrap(), None);
}

#[tokio::test]
async fn rule_3_the_first_server_read_loads_both_channels_in_one_round_trip() {
    let b = established().await;
    let s = b.open();
    assert_eq!(
        s.get::<Vec<String>>("cart").await.unwrap(),
        Some(vec!["gin".into()])
    );
    assert_eq!(b.counts().loads, 1);
    // The other channel's server data came with the same load.
    assert_eq!(s.get::<bool>("remember").await.unwrap(), Some(true));
    assert!(s.contains_key("cart").await.unwrap());
    assert!(!s.contains_key("nothing").await.unwrap());
    assert_eq!(s.len().await.unwrap(), 4);
    assert_eq!(
        s.keys().await.unwrap(),
        ["cart", "remember", "theme", "user_id"]
    );
    assert_eq!(b.counts().loads, 1);
    assert_eq!(b.counts().commits, 0);

    // Concurrent first reads share one load.
    b.reset_counts();
    let s = b.open();
    let reads: Vec<_> = (0..8)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { s.get::<bool>("remember").await.unwrap() })
        })
        .collect();
    for read in reads {
        assert_eq!(read.await.unwrap(), Some(true));
    }
    assert_eq!(b.counts().loads, 1);

    // A new channel has nothing stored and costs nothing.
    b.reset_counts();
    let new = b.gimlet.open_from_headers([]);
    assert_eq!(new.get::<u32>("cart").await.unwrap(), None);
    assert_eq!(new.keys().await.unwrap(), Vec::<String>::new());
    assert_eq!(b.counts().loads, 0);
}

#[tokio::test]
async fn rule_4_a_write_needs_no_read_and_later_reads_merge_it() {
    let mut b = established().await;
    let s = b.open();
    s.insert("cart", &vec!["gin", "lime"]).await.unwrap();
    s.remove("remember").await.unwrap();
    s.insert("new", &5).await.unwrap();
    assert_eq!(b.counts().loads, 0, "a write loaded");

    // The read loads once, and sees the pending changes over the data.
    assert_eq!(
        s.get::<Vec<String>>("cart").await.unwrap().unwrap(),
        ["gin", "lime"]
    );
    assert_eq!(s.get::<bool>("remember").await.unwrap(), None);
    assert_eq!(s.keys().await.unwrap(), ["cart", "new", "theme", "user_id"]);
    assert_eq!(b.counts().loads, 1);
    b.commit(&s).await;
    assert_eq!(b.counts().commits, 1);
}

#[tokio::test]
async fn rule_5_one_commit_carries_only_the_changed_keys() {
    let mut b = browser(|g| g);
    let s = b.open();
    for key in ["a", "b", "c"] {
        s.insert(key, &key).await.unwrap();
    }
    s.insert_with("p", &"1", Placement::new().permanent(true))
        .await
        .unwrap();
    b.commit(&s).await;
    b.reset_counts();

    let s = b.open();
    s.insert("a", &"changed").await.unwrap();
    assert_eq!(s.get::<String>("b").await.unwrap().as_deref(), Some("b"));
    s.insert("b", &"b").await.unwrap(); // equal to what is stored: no change
    s.remove("c").await.unwrap();
    s.insert_with("q", &"2", Placement::new().permanent(true))
        .await
        .unwrap();
    b.commit(&s).await;
    assert_eq!(b.counts().commits, 1);
    let batch = b.backend.last_batch().unwrap();
    let writes: Vec<_> = batch
        .ops
        .iter()
        .map(|op| match op {
            Op::Write(w) => (
                w.mode,
                w.set.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
                w.remove.clone(),
            ),
            Op::Delete(_) => panic!("unexpected delete"),
        })
        .collect();
    assert_eq!(
        writes,
        vec![
            (WriteMode::Update, vec!["q"], vec![]),
            (WriteMode::Update, vec!["a"], vec!["c".to_owned()]),
        ]
    );

    // Reading everything and writing the same values back writes nothing.
    b.reset_counts();
    let s = b.open();
    let keys = s.keys().await.unwrap();
    for key in &keys {
        s.update(key, |value: &mut Option<String>| assert!(value.is_some()))
            .await
            .unwrap();
    }
    b.commit(&s).await;
    assert_eq!(b.counts().commits, 0);
}

#[tokio::test]
async fn rule_6_set_cookie_only_when_a_channel_changed() {
    let mut b = established().await;
    // Read-only, clientside and server.
    let s = b.open();
    s.get::<u32>("user_id").await.unwrap();
    s.get::<Vec<String>>("cart").await.unwrap();
    assert!(b.commit(&s).await.is_empty());

    // A server-side write on a channel that already has its record changes
    // nothing in the cookie.
    let s = b.open();
    s.insert("cart", &vec!["tonic"]).await.unwrap();
    assert!(b.commit(&s).await.is_empty());

    // A clientside change re-issues that channel's cookie only.
    let s = b.open();
    s.insert("user_id", &3).await.unwrap();
    b.commit(&s).await;
    assert_eq!(b.last_names(), ["gimlet-n"]);

    // A new channel with data is issued; reading the id of a new session
    // pins its permanent cookie.
    let mut fresh = browser(|g| g);
    let s = fresh.open();
    let id = s.id().unwrap();
    fresh.commit(&s).await;
    assert_eq!(fresh.last_names(), ["gimlet-p"]);
    assert_eq!(fresh.open().id().unwrap(), id);
    let s = fresh.open();
    s.id().unwrap();
    assert!(
        fresh.commit(&s).await.is_empty(),
        "a known id is not re-issued"
    );

    // A cycled id issues both cookies; an invalidation removes both.
    let s = b.open();
    s.cycle_id().await.unwrap();
    b.commit(&s).await;
    assert_eq!(b.last_names(), ["gimlet-p", "gimlet-n"]);
    let s = b.open();
    s.invalidate().unwrap();
    let cookies = b.commit(&s).await;
    assert_eq!(cookies.len(), 2);
    assert!(
        cookies.iter().all(|c| c.contains("Max-Age=0")),
        "{cookies:?}"
    );
}

#[tokio::test]
async fn rule_7_expiry_is_refreshed_lazily() {
    let mut b = established().await;
    // Before the refresh is due (half of one day for the non-permanent
    // channel), a used session writes nothing.
    b.advance(days(1) / 4);
    let s = b.open();
    assert_eq!(s.get::<u32>("user_id").await.unwrap(), Some(1));
    assert!(b.commit(&s).await.is_empty());
    assert_eq!(b.counts().round_trips(), 0);

    // Past it, the non-permanent channel alone is refreshed: one touch of
    // its record and a new cookie.
    b.advance(days(1) / 3);
    let s = b.open();
    assert_eq!(s.get::<u32>("user_id").await.unwrap(), Some(1));
    b.commit(&s).await;
    assert_eq!(b.last_names(), ["gimlet-n"]);
    assert_eq!(b.counts().commits, 1);
    let batch = b.backend.last_batch().unwrap();
    match batch.ops.as_slice() {
        [Op::Write(w)] => {
            assert!(w.set.is_empty() && w.remove.is_empty() && !w.clear);
            assert_eq!(w.mode, WriteMode::Update);
            assert_eq!(
                w.expires_at,
                common::START + days(1).as_secs() / 4 + days(1).as_secs() / 3 + days(1).as_secs()
            );
        }
        other => panic!("expected one touch, got {other:?}"),
    }

    // The refresh carried the session past its first day.
    b.reset_counts();
    b.advance(days(1) * 3 / 4);
    let s = b.open();
    assert_eq!(
        s.get::<Vec<String>>("cart").await.unwrap(),
        Some(vec!["gin".into()])
    );
    assert_eq!(s.get::<u32>("user_id").await.unwrap(), Some(1));

    // A session left alone past its lifetime is gone, cookie and record.
    b.advance(days(2));
    let s = b.open();
    assert_eq!(s.get::<u32>("user_id").await.unwrap(), None);
    assert_eq!(s.get::<Vec<String>>("cart").await.unwrap(), None);
    // The permanent channel lives 30 days.
    assert_eq!(s.get::<bool>("remember").await.unwrap(), Some(true));
}
