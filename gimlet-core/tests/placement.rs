//! Where keys live: whitelists, defaults, per-call placement, moves, and the
//! no-backend mode.

#![allow(clippy::unwrap_used)]

mod common;

use common::{browser, cookie_only};
use gimlet_core::backend::{Op, WriteMode};
use gimlet_core::{Error, Gimlet, Placement};

#[tokio::test]
async fn whitelists_and_defaults_decide_when_the_call_does_not() {
    let mut b = browser(|g| g.clientside_keys(["user_id"]).permanent_keys(["remember"]));
    let s = b.open();
    s.insert("user_id", &1).await.unwrap();
    s.insert("remember", &true).await.unwrap();
    s.insert("cart", &3).await.unwrap();
    assert!(s.is_clientside("user_id").await.unwrap());
    assert!(!s.is_permanent("user_id").await.unwrap());
    assert!(!s.is_clientside("remember").await.unwrap());
    assert!(s.is_permanent("remember").await.unwrap());
    assert!(!s.is_clientside("cart").await.unwrap());
    assert!(!s.is_permanent("cart").await.unwrap());
    assert!(!s.is_permanent("absent").await.unwrap());
    b.commit(&s).await;

    // The server keys reached the backend; the clientside key did not.
    let batch = b.backend.last_batch().unwrap();
    let mut stored: Vec<&str> = batch
        .ops
        .iter()
        .flat_map(|op| match op {
            Op::Write(w) => w.set.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
            Op::Delete(_) | Op::Retire(_) => vec![],
        })
        .collect();
    stored.sort_unstable();
    assert_eq!(stored, ["cart", "remember"]);
}

#[tokio::test]
async fn configured_defaults_apply_to_keys_off_the_whitelists() {
    let b = browser(|g| g.default_clientside(true).default_permanent(true));
    let s = b.open();
    s.insert("k", &1).await.unwrap();
    assert!(s.is_clientside("k").await.unwrap());
    assert!(s.is_permanent("k").await.unwrap());
}

#[tokio::test]
async fn a_key_moves_from_clientside_to_server_side_and_back() {
    let mut b = browser(|g| g);
    let s = b.open();
    s.insert_with("foo", &"bar", Placement::new().clientside(true))
        .await
        .unwrap();
    b.commit(&s).await;
    // The new channel's (empty) record, which makes its cookie revocable.
    assert_eq!(b.counts().commits, 1);
    assert!(b.backend.batches()[0].ops.iter().all(|op| match op {
        Op::Write(w) => w.set.is_empty() && w.mode == WriteMode::Create,
        Op::Delete(_) | Op::Retire(_) => false,
    }));

    let s = b.open();
    s.insert_with("foo", &"baz", Placement::new().clientside(false))
        .await
        .unwrap();
    b.commit(&s).await;
    assert_eq!(b.counts().commits, 2);
    let s = b.open();
    assert!(!s.is_clientside("foo").await.unwrap());
    assert_eq!(
        s.get::<String>("foo").await.unwrap().as_deref(),
        Some("baz")
    );
    assert_eq!(s.keys().await.unwrap(), ["foo"]);
    // The cookie no longer carries it.
    assert_eq!(
        s.get_from::<String>("foo", Placement::new().clientside(true))
            .await
            .unwrap(),
        None
    );

    // Back to the cookie: the server copy is deleted in the same commit.
    let s = b.open();
    s.insert_with("foo", &"qux", Placement::new().clientside(true))
        .await
        .unwrap();
    b.commit(&s).await;
    let s = b.open();
    assert!(s.is_clientside("foo").await.unwrap());
    assert_eq!(
        s.get_from::<String>("foo", Placement::new().clientside(false))
            .await
            .unwrap(),
        None
    );
    assert_eq!(s.len().await.unwrap(), 1);
}

#[tokio::test]
async fn a_key_moves_between_channels() {
    let mut b = browser(|g| g);
    let s = b.open();
    s.insert("k", &1).await.unwrap();
    b.commit(&s).await;
    let s = b.open();
    s.insert_with("k", &2, Placement::new().permanent(true))
        .await
        .unwrap();
    b.commit(&s).await;
    let s = b.open();
    assert!(s.is_permanent("k").await.unwrap());
    assert_eq!(s.get::<u32>("k").await.unwrap(), Some(2));
    assert_eq!(s.len().await.unwrap(), 1);
    assert_eq!(
        s.get_from::<u32>("k", Placement::new().permanent(false))
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn a_clientside_key_moves_between_cookies_and_out_of_them_for_free() {
    let mut b = browser(|g| g);
    let s = b.open();
    s.insert("server", &0).await.unwrap();
    s.insert_with("k", &1, Placement::new().clientside(true).permanent(true))
        .await
        .unwrap();
    b.commit(&s).await;
    let s = b.open();
    s.insert_with("k", &2, Placement::new().clientside(true).permanent(false))
        .await
        .unwrap();
    b.commit(&s).await;
    let s = b.open();
    let permanent = Placement::new().permanent(true);
    assert_eq!(s.get_from::<u32>("k", permanent).await.unwrap(), None);
    assert_eq!(s.get::<u32>("k").await.unwrap(), Some(2));
    assert!(!s.is_permanent("k").await.unwrap());

    // Removing a key found in a cookie deletes nothing server-side.
    b.reset_counts();
    let s = b.open();
    s.remove("k").await.unwrap();
    b.commit(&s).await;
    assert_eq!(b.counts(), common::calls(0, 0));
    assert_eq!(b.open().get::<u32>("k").await.unwrap(), None);
}

#[tokio::test]
async fn get_with_options_looks_only_in_that_place() {
    let b = browser(|g| g);
    let s = b.open();
    s.insert_with("c", &1, Placement::new().clientside(true))
        .await
        .unwrap();
    s.insert("s", &2).await.unwrap();
    let client = Placement::new().clientside(true);
    let server = Placement::new().clientside(false);
    assert_eq!(s.get_from::<u32>("c", client).await.unwrap(), Some(1));
    assert_eq!(s.get_from::<u32>("c", server).await.unwrap(), None);
    assert_eq!(s.get_from::<u32>("s", server).await.unwrap(), Some(2));
    assert_eq!(s.get_from::<u32>("s", client).await.unwrap(), None);
    assert_eq!(
        s.get_from::<u32>("s", Placement::new().permanent(true))
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn whitelisted_keys_cannot_be_placed_server_side() {
    let b = browser(|g| g.clientside_keys(["user_id"]));
    let s = b.open();
    let err = s
        .insert_with("user_id", &1, Placement::new().clientside(false))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Whitelisted { .. }), "{err}");
    assert_eq!(err.status_code(), 400);
    assert!(!s.contains_key("user_id").await.unwrap());
}

#[tokio::test]
async fn without_a_backend_every_key_is_clientside_and_server_keys_are_refused() {
    let gimlet = cookie_only(|g| g);
    let s = gimlet.open_from_headers([]);
    s.insert("a", &1).await.unwrap();
    assert!(s.is_clientside("a").await.unwrap());
    let err = s
        .insert_with("b", &2, Placement::new().clientside(false))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NoBackend { .. }), "{err}");
    assert!(err.is_usage() && !err.is_backend());
    assert_eq!(s.keys().await.unwrap(), ["a"]);
    let cookies = gimlet.commit(&s).await.unwrap();
    assert_eq!(cookies.len(), 1);

    // `default_clientside = false` with no backend is refused outright.
    let err = Gimlet::builder()
        .secret(common::SECRET)
        .default_clientside(false)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("backend"), "{err}");
}

#[tokio::test]
async fn get_returns_an_owned_copy() {
    let b = browser(|g| g);
    let s = b.open();
    s.insert("list", &vec![1, 2]).await.unwrap();
    let mut copy: Vec<u32> = s.get("list").await.unwrap().unwrap();
    copy.push(3);
    assert_eq!(s.get::<Vec<u32>>("list").await.unwrap().unwrap(), [1, 2]);
}

#[tokio::test]
async fn inserting_an_equal_value_is_not_a_change() {
    let mut b = browser(|g| g.clientside_keys(["c"]));
    let s = b.open();
    s.insert("c", &1).await.unwrap();
    s.insert("s", &1).await.unwrap();
    b.commit(&s).await;
    b.reset_counts();
    let s = b.open();
    s.insert("c", &1).await.unwrap();
    assert_eq!(s.get::<u32>("s").await.unwrap(), Some(1));
    s.insert("s", &1).await.unwrap();
    assert!(b.commit(&s).await.is_empty());
    assert_eq!(b.counts().commits, 0);
}

#[tokio::test]
async fn update_appends_and_removes() {
    let mut b = browser(|g| g);
    let s = b.open();
    for item in ["itsy", "bitsy"] {
        s.update("list", |list: &mut Option<Vec<String>>| {
            list.get_or_insert_with(Vec::new).push(item.into());
        })
        .await
        .unwrap();
    }
    b.commit(&s).await;
    let s = b.open();
    let joined = s
        .update("list", |list: &mut Option<Vec<String>>| {
            list.take().map(|l| l.join(":"))
        })
        .await
        .unwrap();
    assert_eq!(joined.as_deref(), Some("itsy:bitsy"));
    b.commit(&s).await;
    assert!(!b.open().contains_key("list").await.unwrap());
}

#[tokio::test]
async fn keys_len_clear_and_is_empty_span_both_channels_and_sides() {
    let mut b = browser(|g| g.clientside_keys(["c"]));
    let s = b.open();
    assert!(s.is_empty().await.unwrap());
    s.insert("c", &1).await.unwrap();
    s.insert("s", &1).await.unwrap();
    s.insert_with("p", &1, Placement::new().permanent(true))
        .await
        .unwrap();
    s.insert_with("pc", &1, Placement::new().permanent(true).clientside(true))
        .await
        .unwrap();
    assert_eq!(s.keys().await.unwrap(), ["c", "p", "pc", "s"]);
    assert_eq!(s.len().await.unwrap(), 4);
    b.commit(&s).await;

    b.reset_counts();
    let s = b.open();
    s.clear().unwrap();
    assert_eq!(b.counts().loads, 0, "clear loads nothing");
    assert!(s.is_empty().await.unwrap());
    b.commit(&s).await;
    assert_eq!(b.counts().commits, 1);
    let s = b.open();
    assert!(s.is_empty().await.unwrap());
    assert!(s.keys().await.unwrap().is_empty());
}

#[tokio::test]
async fn keys_are_checked() {
    let b = browser(|g| g);
    let s = b.open();
    assert!(matches!(s.insert("", &1).await, Err(Error::InvalidKey)));
    let long = "k".repeat(gimlet_core::MAX_KEY_LEN + 1);
    assert!(matches!(s.insert(&long, &1).await, Err(Error::InvalidKey)));
    assert!(matches!(s.get::<u32>("").await, Err(Error::InvalidKey)));
    assert!(
        s.insert(&"k".repeat(gimlet_core::MAX_KEY_LEN), &1)
            .await
            .is_ok()
    );
}
