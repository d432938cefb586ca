//! Identity and lifecycle: ids, cycling, invalidation, writes after the
//! commit, and sessions that end while a request runs.

#![allow(clippy::unwrap_used)]

mod common;

use common::{START, browser, cookie_only};
use gimlet_core::{Error, Gimlet, Placement};

#[tokio::test]
async fn the_id_is_32_hex_and_stable_and_created_at_is_the_creation_time() {
    let mut b = browser(|g| g);
    let s = b.open();
    let id = s.id().unwrap();
    assert_eq!(id.len(), 32);
    assert!(
        id.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')),
        "{id}"
    );
    assert_eq!(s.created_at().unwrap(), START);
    b.commit(&s).await;
    b.advance(std::time::Duration::from_secs(100));
    let s = b.open();
    assert_eq!(s.id().unwrap(), id);
    assert_eq!(s.created_at().unwrap(), START);
    let other = browser(|g| g);
    assert_ne!(other.open().id().unwrap(), id);
}

#[tokio::test]
async fn cycle_keeps_the_data_under_new_ids_and_the_old_cookie_reaches_nothing() {
    let mut b = browser(|g| g.clientside_keys(["user_id"]));
    let s = b.open();
    s.insert("user_id", &7).await.unwrap();
    s.insert("cart", &vec!["gin"]).await.unwrap();
    s.insert_with("remember", &true, Placement::new().permanent(true))
        .await
        .unwrap();
    b.commit(&s).await;
    let old_header = b.header();
    let old_id = b.open().id().unwrap();

    b.reset_counts();
    let s = b.open();
    s.cycle_id().await.unwrap();
    let new_id = s.id().unwrap();
    assert_ne!(new_id, old_id);
    b.commit(&s).await;
    assert_eq!(b.counts().loads, 1);
    assert_eq!(b.counts().commits, 1);

    let s = b.open();
    assert_eq!(s.id().unwrap(), new_id);
    assert_eq!(s.get::<u32>("user_id").await.unwrap(), Some(7));
    assert_eq!(
        s.get::<Vec<String>>("cart").await.unwrap(),
        Some(vec!["gin".into()])
    );
    assert_eq!(s.get::<bool>("remember").await.unwrap(), Some(true));

    // The pre-login cookie no longer reaches any server data.
    let stale = b.gimlet.open_from_headers([old_header.as_str()]);
    assert_eq!(stale.get::<Vec<String>>("cart").await.unwrap(), None);
    assert_eq!(stale.get::<bool>("remember").await.unwrap(), None);
}

#[tokio::test]
async fn invalidate_empties_the_session_deletes_records_and_removes_cookies() {
    let mut b = browser(|g| g.clientside_keys(["user_id"]));
    let s = b.open();
    s.insert("user_id", &7).await.unwrap();
    s.insert("cart", &1).await.unwrap();
    s.insert_with("remember", &true, Placement::new().permanent(true))
        .await
        .unwrap();
    b.commit(&s).await;
    let old_header = b.header();
    let old_id = b.open().id().unwrap();

    let s = b.open();
    s.invalidate().unwrap();
    assert!(s.is_empty().await.unwrap());
    assert_eq!(s.get::<u32>("user_id").await.unwrap(), None);
    let cookies = b.commit(&s).await;
    assert_eq!(cookies.len(), 2);
    for cookie in &cookies {
        assert!(
            cookie.contains("Max-Age=0") && cookie.contains("HttpOnly"),
            "{cookie}"
        );
    }
    assert!(b.jar.is_empty());
    assert_eq!(b.backend.inner().len(), 0, "records were not deleted");
    assert_ne!(b.open().id().unwrap(), old_id);

    // A replayed old cookie finds its records gone and starts fresh: its
    // clientside data went with the session.
    let replay = b.gimlet.open_from_headers([old_header.as_str()]);
    assert_eq!(replay.get::<u32>("cart").await.unwrap(), None);
    assert_eq!(replay.get::<u32>("user_id").await.unwrap(), None);
}

#[tokio::test]
async fn writes_after_invalidate_start_a_new_session() {
    let mut b = browser(|g| g);
    let s = b.open();
    s.insert("cart", &1).await.unwrap();
    b.commit(&s).await;
    let s = b.open();
    let old = s.id().unwrap();
    s.invalidate().unwrap();
    s.insert("cart", &2).await.unwrap();
    b.commit(&s).await;
    let s = b.open();
    assert_eq!(s.get::<u32>("cart").await.unwrap(), Some(2));
    assert_ne!(s.id().unwrap(), old);
    assert_eq!(b.backend.inner().len(), 1);
}

#[tokio::test]
async fn server_writes_after_the_commit_go_straight_through() {
    let mut b = browser(|g| g.clientside_keys(["user_id"]));
    let s = b.open();
    s.insert("cart", &1).await.unwrap();
    b.commit(&s).await;
    assert_eq!(b.counts().commits, 1);

    s.insert("cart", &2).await.unwrap();
    s.insert("later", &3).await.unwrap();
    assert_eq!(
        b.counts().commits,
        3,
        "each write after the commit is one round trip"
    );
    let err = s.insert("user_id", &1).await.unwrap_err();
    assert!(matches!(err, Error::Committed { .. }), "{err}");
    assert!(matches!(s.invalidate(), Err(Error::Committed { .. })));
    s.remove("later").await.unwrap();
    // A whitelisted key is never server-side: removing it is no write.
    s.remove("user_id").await.unwrap();
    assert_eq!(b.counts().commits, 4);

    let s = b.open();
    assert_eq!(s.get::<u32>("cart").await.unwrap(), Some(2));
    assert_eq!(s.get::<u32>("later").await.unwrap(), None);
}

#[tokio::test]
async fn a_second_commit_sends_nothing() {
    let mut b = browser(|g| g);
    let s = b.open();
    s.insert("k", &1).await.unwrap();
    assert_eq!(b.commit(&s).await.len(), 1);
    assert!(b.commit(&s).await.is_empty());
    assert_eq!(b.counts().commits, 1);
}

#[tokio::test]
async fn two_requests_changing_different_keys_both_survive_in_either_order() {
    for first_commits_first in [true, false] {
        let mut b = browser(|g| g);
        let s = b.open();
        s.insert("base", &0).await.unwrap();
        b.commit(&s).await;

        let one = b.open();
        let two = b.open();
        one.insert("one", &1).await.unwrap();
        two.insert("two", &2).await.unwrap();
        let (x, y) = if first_commits_first {
            (&one, &two)
        } else {
            (&two, &one)
        };
        b.gimlet.commit(x).await.unwrap();
        b.gimlet.commit(y).await.unwrap();

        let s = b.open();
        assert_eq!(s.keys().await.unwrap(), ["base", "one", "two"]);
    }
}

#[tokio::test]
async fn a_session_ended_elsewhere_heals_its_next_blind_write() {
    let mut b = browser(|g| g.clientside_keys(["user_id"]));
    let s = b.open();
    s.insert("user_id", &1).await.unwrap();
    s.insert("cart", &1).await.unwrap();
    b.commit(&s).await;
    let old = b.jar["gimlet-n"].clone();

    // Another device logs this session out.
    let elsewhere = b.open();
    elsewhere.invalidate().unwrap();
    b.gimlet.commit(&elsewhere).await.unwrap();
    assert_eq!(b.backend.inner().len(), 0);

    // This browser still has the cookies. A blind write cannot recreate the
    // old record; it goes to a fresh channel, and the request succeeds.
    let s = b.open();
    s.insert("other", &2).await.unwrap();
    b.commit(&s).await;
    assert_ne!(b.jar["gimlet-n"], old, "a new cookie");
    assert_eq!(b.backend.inner().len(), 1, "one fresh record");

    // The fresh session holds this request's write and nothing older,
    // clientside data included.
    let s = b.open();
    assert_eq!(s.get::<u32>("other").await.unwrap(), Some(2));
    assert_eq!(s.get::<u32>("cart").await.unwrap(), None);
    assert_eq!(s.get::<u32>("user_id").await.unwrap(), None);
    assert_eq!(s.keys().await.unwrap(), ["other"]);
}

#[tokio::test]
async fn a_session_ended_elsewhere_reads_as_empty_and_its_cookie_is_removed() {
    let mut b = browser(|g| g.clientside_keys(["user_id"]));
    let s = b.open();
    s.insert("user_id", &1).await.unwrap();
    s.insert("cart", &1).await.unwrap();
    b.commit(&s).await;
    let elsewhere = b.open();
    elsewhere.invalidate().unwrap();
    b.gimlet.commit(&elsewhere).await.unwrap();

    let s = b.open();
    assert_eq!(s.get::<u32>("cart").await.unwrap(), None);
    assert_eq!(s.get::<u32>("user_id").await.unwrap(), None);
    let cookies = b.commit(&s).await;
    assert_eq!(cookies.len(), 1);
    assert!(cookies[0].contains("Max-Age=0"), "{cookies:?}");
    assert!(b.jar.is_empty());
}

#[tokio::test]
async fn a_key_in_a_sent_cookie_cannot_change_after_the_commit() {
    let mut b = browser(|g| g);
    let s = b.open();
    s.insert_with("theme", &"dark", Placement::new().clientside(true))
        .await
        .unwrap();
    b.commit(&s).await;
    // Moving it server-side would have to take it out of the cookie.
    let err = s
        .insert_with("theme", &"light", Placement::new().clientside(false))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Committed { .. }), "{err}");
    let err = s.remove("theme").await.unwrap_err();
    assert!(matches!(err, Error::Committed { .. }), "{err}");
    assert_eq!(b.counts().commits, 1, "nothing went through");
}

#[tokio::test]
async fn without_a_backend_removals_after_the_commit_are_no_ops() {
    let gimlet = cookie_only(|g| g);
    let s = gimlet.open_from_headers([]);
    s.insert("k", &1).await.unwrap();
    gimlet.commit(&s).await.unwrap();
    s.remove("absent").await.unwrap();
}

#[tokio::test]
async fn cycling_a_cookie_that_holds_nothing_removes_it() {
    let mut b = browser(|g| g);
    let s = b.open();
    s.id().unwrap(); // the permanent cookie is issued, with an empty record
    b.commit(&s).await;
    assert_eq!(b.last_names(), ["gimlet-p"]);
    let s = b.open();
    s.cycle_id().await.unwrap();
    let cookies = b.commit(&s).await;
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    assert!(cookies[0].starts_with("gimlet-p=;"), "{cookies:?}");
    assert!(cookies[0].contains("Max-Age=0"), "{cookies:?}");
}

#[tokio::test]
async fn a_session_first_used_after_the_commit_writes_through() {
    let mut b = browser(|g| g);
    let s = b.open();
    s.insert("cart", &1).await.unwrap();
    b.commit(&s).await;
    // The handler left the session alone; a task writes to it afterwards.
    let s = b.open();
    assert!(b.commit(&s).await.is_empty());
    s.insert("cart", &2).await.unwrap();
    assert_eq!(b.open().get::<u32>("cart").await.unwrap(), Some(2));
}

#[tokio::test]
async fn without_revocation_a_cookie_without_a_record_keeps_its_data_on_a_load() {
    let mut b = common::clientside_only_without_revocation().await;
    // Its channel has no record: the load finds none, as it should.
    let s = b.open();
    assert_eq!(s.get::<u32>("server").await.unwrap(), None);
    assert_eq!(s.get::<u32>("k").await.unwrap(), Some(1));
    assert!(b.commit(&s).await.is_empty());
}

#[tokio::test]
async fn an_invalidate_during_a_load_is_not_undone_by_it() {
    let mut b = browser(|g| g);
    let s = b.open();
    s.insert("cart", &1).await.unwrap();
    b.commit(&s).await;
    // The load is held until the invalidation has happened.
    let gate = std::sync::Arc::new(tokio::sync::Notify::new());
    let held = Gimlet::builder()
        .secret(common::SECRET)
        .host_prefix(false)
        .clock(b.clock.clone())
        .backend(Held {
            inner: b.backend.clone(),
            gate: gate.clone(),
        })
        .build()
        .unwrap();
    let header = b.header();
    let s = held.open_from_headers([header.as_str()]);
    let reader = {
        let s = s.clone();
        tokio::spawn(async move { s.get::<u32>("cart").await.unwrap() })
    };
    tokio::task::yield_now().await;
    s.invalidate().unwrap();
    gate.notify_one();
    assert_eq!(reader.await.unwrap(), None, "the load revived the session");
    assert!(s.keys().await.unwrap().is_empty());
}

/// A backend whose loads wait for a signal.
#[derive(Debug)]
struct Held {
    inner: std::sync::Arc<gimlet_core::testing::CountingBackend<gimlet_core::MemoryBackend>>,
    gate: std::sync::Arc<tokio::sync::Notify>,
}

#[async_trait::async_trait]
impl gimlet_core::backend::Backend for Held {
    async fn load(
        &self,
        ids: &[gimlet_core::SessionId],
    ) -> Result<Vec<Option<gimlet_core::backend::Record>>, gimlet_core::backend::BackendError> {
        self.gate.notified().await;
        self.inner.load(ids).await
    }

    async fn commit(
        &self,
        batch: &gimlet_core::backend::Batch,
    ) -> Result<(), gimlet_core::backend::BackendError> {
        self.inner.commit(batch).await
    }
}

#[tokio::test]
async fn without_a_backend_cycle_and_invalidate_need_no_store() {
    let gimlet = cookie_only(|g| g);
    let s = gimlet.open_from_headers([]);
    s.insert("k", &1).await.unwrap();
    let header = gimlet.commit(&s).await.unwrap()[0]
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let s = gimlet.open_from_headers([header.as_str()]);
    s.cycle_id().await.unwrap();
    let cycled = gimlet.commit(&s).await.unwrap();
    assert_eq!(cycled.len(), 1);
    let s = gimlet.open_from_headers([header.as_str()]);
    s.invalidate().unwrap();
    let removed = gimlet.commit(&s).await.unwrap();
    assert!(removed[0].contains("Max-Age=0"), "{removed:?}");
}

#[tokio::test]
async fn cycle_id_retires_every_verified_id_whatever_the_cookie_claims() {
    let b = common::clientside_only_without_revocation().await;
    let header = b.header();
    // A request with that cookie creates the record…
    let other = b.gimlet.open_from_headers([header.as_str()]);
    other.insert("server", &1).await.unwrap();
    b.gimlet.commit(&other).await.unwrap();
    // …and a login with the same (old) cookie retires it.
    let s = b.gimlet.open_from_headers([header.as_str()]);
    s.cycle_id().await.unwrap();
    b.gimlet.commit(&s).await.unwrap();
    assert_eq!(b.backend.inner().len(), 1, "only the new record is left");
}

#[tokio::test]
async fn session_debug_counts_keys_without_showing_them() {
    let b = browser(|g| g);
    let s = b.open();
    s.insert_with("a", &1, Placement::new().clientside(true))
        .await
        .unwrap();
    s.insert_with("b", &2, Placement::new().clientside(true))
        .await
        .unwrap();
    s.insert("secret_name", &3).await.unwrap();
    let debug = format!("{s:?}");
    assert!(debug.contains("transient_keys_known: 3"), "{debug}");
    assert!(debug.contains("permanent_keys_known: 0"), "{debug}");
    assert!(!debug.contains("secret_name"), "{debug}");
}

#[tokio::test]
async fn a_cookie_issued_up_to_five_minutes_ahead_is_accepted() {
    let b = common::with_clientside_key(|g| g).await;
    // This server's clock is behind the one that issued the cookie.
    b.clock.set(START - 300);
    assert_eq!(b.open().get::<u32>("k").await.unwrap(), Some(1));
    b.clock.set(START - 301);
    assert_eq!(b.open().get::<u32>("k").await.unwrap(), None);
}
