//! One test per I/O rule of docs/sessions.md, each asserting exact backend call
//! counts through `CountingBackend`.

#![allow(clippy::unwrap_used)]

mod common;

use common::{Browser, browser, calls, days};
use gimlet_core::backend::{Op, WriteMode};
use gimlet_core::{GimletBuilder, Placement};

/// A session with clientside and server data in both channels.
async fn established() -> Browser {
    established_with(|g| g).await
}

/// As [`established`], with more settings.
async fn established_with(configure: impl FnOnce(GimletBuilder) -> GimletBuilder) -> Browser {
    let mut b = browser(|g| {
        configure(
            g.clientside_keys(["user_id", "cart_id"])
                .permanent_keys(["remember"]),
        )
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
    assert_eq!(b.counts(), calls(0, 0));

    // Even when the refresh is due: only a request that uses the session
    // refreshes it.
    b.advance(days(20));
    let s = b.open();
    assert!(b.commit(&s).await.is_empty());
    assert_eq!(b.counts(), calls(0, 0));

    // And a brand-new visitor.
    let fresh = b.gimlet.open_from_headers([]);
    assert!(b.gimlet.commit(&fresh).await.unwrap().is_empty());
    assert_eq!(b.counts(), calls(0, 0));
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
    assert_eq!(b.counts(), calls(0, 0), "{:?}", b.backend.batches());
    assert_eq!(cookies.len(), 2, "both channels' clientside data changed");

    // Clientside data answers `is_empty` without a load.
    let s = b.open();
    assert!(!s.is_empty().await.unwrap());
    assert_eq!(b.counts(), calls(0, 0));

    // Removing a whitelisted key that is not set: it cannot be
    // server-side, so there is nothing to delete.
    let s = b.open();
    s.remove("cart_id").await.unwrap();
    assert!(b.commit(&s).await.is_empty());
    assert_eq!(b.counts(), calls(0, 0));

    let s = b.open();
    s.remove("user_id").await.unwrap();
    b.commit(&s).await;
    assert_eq!(b.counts(), calls(0, 0));
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
    assert_eq!(b.counts(), calls(1, 0));
    // The other channel's server data came with the same load.
    assert_eq!(s.get::<bool>("remember").await.unwrap(), Some(true));
    assert!(s.contains_key("cart").await.unwrap());
    assert!(!s.contains_key("nothing").await.unwrap());
    assert_eq!(s.len().await.unwrap(), 4);
    assert_eq!(
        s.keys().await.unwrap(),
        ["cart", "remember", "theme", "user_id"]
    );
    assert_eq!(b.counts(), calls(1, 0));

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
    assert_eq!(b.counts(), calls(1, 0));

    // A new channel has nothing stored and costs nothing.
    b.reset_counts();
    let new = b.gimlet.open_from_headers([]);
    assert_eq!(new.get::<u32>("cart").await.unwrap(), None);
    assert_eq!(new.keys().await.unwrap(), Vec::<String>::new());
    assert_eq!(b.counts(), calls(0, 0));
}

#[tokio::test]
async fn rule_4_a_write_needs_no_read_and_later_reads_merge_it() {
    let mut b = established().await;
    let s = b.open();
    s.insert("cart", &vec!["gin", "lime"]).await.unwrap();
    s.remove("remember").await.unwrap();
    s.insert("new", &5).await.unwrap();
    assert_eq!(b.counts(), calls(0, 0), "a write loaded");

    // The read loads once, and sees the pending changes over the data.
    assert_eq!(
        s.get::<Vec<String>>("cart").await.unwrap().unwrap(),
        ["gin", "lime"]
    );
    assert_eq!(s.get::<bool>("remember").await.unwrap(), None);
    assert_eq!(s.keys().await.unwrap(), ["cart", "new", "theme", "user_id"]);
    assert_eq!(b.counts(), calls(1, 0));
    b.commit(&s).await;
    assert_eq!(b.counts(), calls(1, 1));
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
    assert_eq!(b.counts(), calls(1, 1));
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
            Op::Delete(_) | Op::Retire(_) => panic!("unexpected delete"),
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
    assert_eq!(b.counts(), calls(1, 0));
}

#[tokio::test]
async fn rule_6_set_cookie_only_when_a_channel_changed() {
    let mut b = established().await;
    // Read-only, clientside and server.
    let s = b.open();
    s.get::<u32>("user_id").await.unwrap();
    s.get::<Vec<String>>("cart").await.unwrap();
    assert!(b.commit(&s).await.is_empty());
    assert_eq!(b.counts(), calls(1, 0));

    // A server-side write on a channel that already has its record changes
    // nothing in the cookie.
    b.reset_counts();
    let s = b.open();
    s.insert("cart", &vec!["tonic"]).await.unwrap();
    assert!(b.commit(&s).await.is_empty());
    assert_eq!(b.counts(), calls(0, 1));

    // A clientside change re-issues that channel's cookie only.
    b.reset_counts();
    let s = b.open();
    s.insert("user_id", &3).await.unwrap();
    b.commit(&s).await;
    assert_eq!(b.last_names(), ["gimlet-n"]);
    assert_eq!(b.counts(), calls(0, 0));

    // A new channel with data is issued; reading the id of a new session
    // pins its permanent cookie.
    let mut fresh = browser(|g| g);
    let s = fresh.open();
    let id = s.id().unwrap();
    fresh.commit(&s).await;
    assert_eq!(fresh.last_names(), ["gimlet-p"]);
    // The pinned channel's empty record is created with it.
    assert_eq!(fresh.counts(), calls(0, 1));
    assert_eq!(fresh.open().id().unwrap(), id);
    let s = fresh.open();
    s.id().unwrap();
    assert!(
        fresh.commit(&s).await.is_empty(),
        "a known id is not re-issued"
    );

    // A cycled id issues both cookies; an invalidation removes both.
    b.reset_counts();
    let s = b.open();
    s.cycle_id().await.unwrap();
    b.commit(&s).await;
    assert_eq!(b.last_names(), ["gimlet-p", "gimlet-n"]);
    assert_eq!(b.counts(), calls(1, 1));
    b.reset_counts();
    let s = b.open();
    s.invalidate().unwrap();
    let cookies = b.commit(&s).await;
    assert_eq!(b.counts(), calls(0, 1));
    assert_eq!(cookies.len(), 2);
    assert!(
        cookies.iter().all(|c| c.contains("Max-Age=0")),
        "{cookies:?}"
    );
}

#[tokio::test]
async fn rule_7_expiry_is_refreshed_lazily() {
    // Revalidation (tested below) and the absolute lifetime are pushed out
    // of the way: this is about refreshes alone.
    let mut b = established_with(|g| {
        g.revalidate_after(days(30))
            .absolute_lifetime(days(365))
            .transient_lifetime(days(1))
    })
    .await;
    // Before the refresh is due (half of one day for the transient
    // channel), a used session writes nothing.
    b.advance(days(1) / 4);
    let s = b.open();
    assert_eq!(s.get::<u32>("user_id").await.unwrap(), Some(1));
    assert!(b.commit(&s).await.is_empty());
    assert_eq!(b.counts(), calls(0, 0));

    // Past it, the transient channel alone is refreshed: one touch of
    // its record and a new cookie.
    b.advance(days(1) / 3);
    let s = b.open();
    assert_eq!(s.get::<u32>("user_id").await.unwrap(), Some(1));
    b.commit(&s).await;
    assert_eq!(b.last_names(), ["gimlet-n"]);
    assert_eq!(b.counts(), calls(0, 1));
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

#[tokio::test]
async fn rule_8_revalidation_is_one_load_per_window_and_free_with_a_load() {
    let mut b = established().await;
    // Within the window (300 seconds by default), clientside reads cost
    // nothing.
    b.advance(std::time::Duration::from_secs(299));
    let s = b.open();
    assert_eq!(s.get::<u32>("user_id").await.unwrap(), Some(1));
    assert!(b.commit(&s).await.is_empty());
    assert_eq!(b.counts(), calls(0, 0));

    // Once it has passed, the first use checks both records in one load,
    // and the cookies are re-issued with the new confirmation time.
    b.advance(std::time::Duration::from_secs(1));
    let s = b.open();
    assert_eq!(s.get::<u32>("user_id").await.unwrap(), Some(1));
    assert_eq!(
        s.get::<String>("theme").await.unwrap().as_deref(),
        Some("dark")
    );
    assert_eq!(b.counts(), calls(1, 0), "a check writes nothing");
    b.commit(&s).await;
    assert_eq!(b.last_names(), ["gimlet-p", "gimlet-n"]);

    // The window starts again: free until it has passed once more.
    b.reset_counts();
    b.advance(std::time::Duration::from_secs(299));
    let s = b.open();
    assert_eq!(s.get::<u32>("user_id").await.unwrap(), Some(1));
    assert!(b.commit(&s).await.is_empty());
    assert_eq!(b.counts(), calls(0, 0));

    // A load made anyway is the check, at no extra cost.
    b.advance(std::time::Duration::from_secs(1));
    let s = b.open();
    assert_eq!(
        s.get::<Vec<String>>("cart").await.unwrap(),
        Some(vec!["gin".into()])
    );
    assert_eq!(s.get::<u32>("user_id").await.unwrap(), Some(1));
    assert_eq!(b.counts(), calls(1, 0));

    // A request that does not use its session checks nothing.
    b.reset_counts();
    b.advance(std::time::Duration::from_secs(600));
    let s = b.open();
    assert!(b.commit(&s).await.is_empty());
    assert_eq!(b.counts(), calls(0, 0));
}

#[tokio::test]
async fn rule_8_with_a_zero_window_every_use_checks_and_no_cookie_is_reissued() {
    let mut b = established_with(|g| g.revalidate_after(std::time::Duration::ZERO)).await;
    for _ in 0..3 {
        b.reset_counts();
        let s = b.open();
        assert_eq!(s.get::<u32>("user_id").await.unwrap(), Some(1));
        assert!(b.commit(&s).await.is_empty());
        assert_eq!(b.counts(), calls(1, 0));
    }
    // Clientside data due its check does not answer `is_empty` unchecked.
    b.reset_counts();
    let s = b.open();
    assert!(!s.is_empty().await.unwrap());
    assert_eq!(b.counts(), calls(1, 0));

    // An unset whitelisted key is answered without the check: there is no
    // data of the cookie's to protect.
    b.reset_counts();
    let s = b.open();
    assert_eq!(s.get::<u32>("cart_id").await.unwrap(), None);
    assert_eq!(b.counts(), calls(0, 0));
}

#[tokio::test]
async fn a_new_channel_costs_one_write_that_creates_its_record() {
    let mut b = browser(|g| g.clientside_keys(["user_id"]));
    let s = b.open();
    s.insert("user_id", &1).await.unwrap();
    b.commit(&s).await;
    assert_eq!(b.counts(), calls(0, 1));
    match b.backend.last_batch().unwrap().ops.as_slice() {
        [Op::Write(w)] => {
            assert_eq!(w.mode, WriteMode::Create);
            assert!(w.set.is_empty() && w.remove.is_empty());
        }
        other => panic!("expected one create, got {other:?}"),
    }
    // Without revocation, it costs nothing.
    let mut b = browser(|g| g.clientside_keys(["user_id"]).revocable(false));
    let s = b.open();
    s.insert("user_id", &1).await.unwrap();
    b.commit(&s).await;
    assert_eq!(b.counts(), calls(0, 0));
    let s = b.open();
    b.advance(std::time::Duration::from_secs(3600));
    assert_eq!(s.get::<u32>("user_id").await.unwrap(), Some(1));
    assert_eq!(b.counts(), calls(0, 0), "nothing to check");
}

#[tokio::test]
async fn a_clear_is_one_flag_in_the_batch_and_only_where_data_may_be() {
    // A new channel has nothing to clear.
    let mut b = browser(|g| g);
    let s = b.open();
    s.insert("a", &1).await.unwrap();
    s.clear().unwrap();
    s.remove("a").await.unwrap();
    s.insert("b", &2).await.unwrap();
    b.commit(&s).await;
    match b.backend.last_batch().unwrap().ops.as_slice() {
        [Op::Write(w)] => {
            assert_eq!(w.mode, WriteMode::Create);
            assert!(!w.clear, "a new record has nothing to clear");
            assert_eq!(w.set.len(), 1);
            assert!(w.remove.is_empty(), "{:?}", w.remove);
        }
        other => panic!("{other:?}"),
    }

    // A stored channel, not loaded: the clear is a flag, and a later
    // removal adds nothing to it.
    let s = b.open();
    s.clear().unwrap();
    s.remove("b").await.unwrap();
    s.insert("c", &3).await.unwrap();
    b.commit(&s).await;
    match b.backend.last_batch().unwrap().ops.as_slice() {
        [Op::Write(w)] => {
            assert_eq!(w.mode, WriteMode::Update);
            assert!(w.clear);
            assert!(w.remove.is_empty(), "{:?}", w.remove);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(b.open().keys().await.unwrap(), ["c"]);

    // A cookie without a record (revocation off): a concurrent request may
    // have created one, so the clear is sent with the first write.
    let mut b = common::clientside_only_without_revocation().await;
    let s = b.open();
    s.clear().unwrap();
    s.insert("server", &1).await.unwrap();
    b.commit(&s).await;
    match b.backend.last_batch().unwrap().ops.as_slice() {
        [Op::Write(w)] => {
            assert_eq!(w.mode, WriteMode::Upsert);
            assert!(w.clear);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn reads_after_the_commit_see_the_writes_that_went_through() {
    let mut b = browser(|g| g);
    let s = b.open();
    s.insert("cart", &1).await.unwrap();
    b.commit(&s).await;
    s.insert("cart", &2).await.unwrap();
    assert_eq!(s.get::<u32>("cart").await.unwrap(), Some(2));
    s.remove("cart").await.unwrap();
    assert_eq!(s.get::<u32>("cart").await.unwrap(), None);
}

#[tokio::test]
async fn without_a_backend_a_pinned_id_stays_and_is_not_reissued() {
    let gimlet = common::cookie_only(|g| g);
    let s = gimlet.open_from_headers([]);
    let id = s.id().unwrap();
    let cookies = gimlet.commit(&s).await.unwrap();
    assert_eq!(cookies.len(), 1);
    let header = cookies[0].split(';').next().unwrap().to_owned();
    // A later request uses the session and changes nothing: no cookie.
    let s = gimlet.open_from_headers([header.as_str()]);
    assert_eq!(s.get::<u32>("absent").await.unwrap(), None);
    assert!(gimlet.commit(&s).await.unwrap().is_empty());
    let s = gimlet.open_from_headers([header.as_str()]);
    assert_eq!(s.id().unwrap(), id);
}
