//! Revocation and healing: a copied cookie dies within the revalidation
//! window, lost records heal, ended sessions never come back. The end of a
//! request (`Gimlet::finish`) is in `finish.rs`.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{Browser, SECRET, browser, cookie_only, days, logged_in};
use gimlet_core::backend::Backend;
use gimlet_core::backend::{Batch, Op};
use gimlet_core::cookie::CookieCodec;
use gimlet_core::testing::ManualClock;
use gimlet_core::{Clock, Gimlet, Placement, Secret};

const WINDOW: Duration = Duration::from_secs(300);

/// Logs out with the browser's cookies, as the user would; the jar keeps
/// its copy.
async fn log_out(b: &Browser) {
    let s = b.open();
    s.invalidate().unwrap();
    b.gimlet.commit(&s).await.unwrap();
    b.reset_counts();
}

/// A second app server on `b`'s store, which hears its endings if `hears`.
fn other_server(b: &Browser, hears: bool) -> Gimlet {
    let store: std::sync::Arc<dyn Backend> = if hears {
        b.backend.clone()
    } else {
        std::sync::Arc::new(gimlet_core::testing::WithoutFeed(b.backend.clone()))
    };
    Gimlet::builder()
        .secret(SECRET)
        .host_prefix(false)
        .shared_backend(store)
        .clock(b.clock.clone())
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_copied_cookie_dies_at_once_on_every_app_server() {
    let b = logged_in(|g| g).await;
    let other = other_server(&b, true);
    log_out(&b).await;
    for gimlet in [&b.gimlet, &other] {
        let s = gimlet.open_from_headers([b.header().as_str()]);
        assert_eq!(s.get::<u32>("user_id").await.unwrap(), None);
        assert!(s.is_empty().await.unwrap());
        let cookies = gimlet.commit(&s).await.unwrap();
        assert_eq!(cookies.len(), 1);
        assert!(cookies[0].contains("Max-Age=0"), "{cookies:?}");
    }
    assert_eq!(
        b.counts().round_trips(),
        0,
        "telling a revoked cookie costs no round trip"
    );
}

#[tokio::test]
async fn a_copied_cookie_dies_once_the_window_has_passed_where_the_ending_was_not_heard() {
    let b = logged_in(|g| g).await;
    let deaf = other_server(&b, false);
    log_out(&b).await;
    let open = || deaf.open_from_headers([b.header().as_str()]);

    // Within the window the copy still reads its clientside data there:
    // the backstop's price, for a server that cannot hear the store.
    b.advance(WINDOW - Duration::from_secs(1));
    assert_eq!(open().get::<u32>("user_id").await.unwrap(), Some(42));
    assert_eq!(b.counts().round_trips(), 0);

    // Once the window has passed, it yields nothing: one load tells.
    b.advance(Duration::from_secs(1));
    let s = open();
    assert_eq!(s.get::<u32>("user_id").await.unwrap(), None);
    assert_eq!(s.get::<Vec<String>>("cart").await.unwrap(), None);
    assert_eq!(b.counts().loads, 1);
    let cookies = deaf.commit(&s).await.unwrap();
    assert_eq!(cookies.len(), 1);
    assert!(cookies[0].contains("Max-Age=0"), "{cookies:?}");
}

/// An ending is remembered for one window: past it, the window's own check
/// catches the cookie, so the set forgets it.
#[tokio::test]
async fn an_ending_is_kept_one_window() {
    let b = logged_in(|g| g).await;
    let other = other_server(&b, true);
    log_out(&b).await;
    let heard = format!("{other:?}");
    assert!(
        heard.contains("ids: 1") && heard.contains("live"),
        "{heard}"
    );
    b.advance(WINDOW);
    let s = other.open_from_headers([b.header().as_str()]);
    assert_eq!(
        s.get::<u32>("user_id").await.unwrap(),
        None,
        "the check tells"
    );
    assert_eq!(b.counts().loads, 1);
}

#[tokio::test]
async fn with_a_zero_window_a_copied_cookie_dies_at_once() {
    let b = logged_in(|g| g.revalidate_after(Duration::ZERO)).await;
    log_out(&b).await;
    let s = b.open();
    assert_eq!(s.get::<u32>("user_id").await.unwrap(), None);
    assert!(s.is_empty().await.unwrap());
}

#[tokio::test]
async fn a_clientside_write_to_a_dead_cookie_goes_to_a_fresh_channel() {
    let mut b = logged_in(|g| g).await;
    let old = b.jar["gimlet-n"].clone();
    log_out(&b).await;
    b.advance(WINDOW);
    let s = b.open();
    s.insert("user_id", &7).await.unwrap();
    b.commit(&s).await;
    assert_ne!(b.jar["gimlet-n"], old);
    let s = b.open();
    assert_eq!(s.get::<u32>("user_id").await.unwrap(), Some(7));
    assert_eq!(s.keys().await.unwrap(), ["user_id"], "old data came back");
}

#[tokio::test]
async fn a_flushed_store_heals_on_the_next_write_without_errors() {
    let mut b = logged_in(|g| g).await;
    let codec = CookieCodec::new(&[Secret::new(SECRET)], &[], false).unwrap();
    let id = codec.decode("gimlet-n", &b.jar["gimlet-n"]).unwrap().id();
    let batch = Batch {
        ops: vec![Op::Delete(id)],
    };
    b.backend.inner().commit(&batch).await.unwrap();
    b.reset_counts();

    // A blind write, where the loss was not heard of (a flush publishes
    // nothing): the commit is refused (the record is gone), one load finds
    // out which, and the write goes to a fresh channel.
    let deaf = other_server(&b, false);
    let s = deaf.open_from_headers([b.header().as_str()]);
    s.insert("cart", &vec!["tonic"]).await.unwrap();
    let cookies = deaf.commit(&s).await.unwrap();
    b.store(&cookies);
    assert_eq!(b.counts().commits, 2);
    assert_eq!(b.counts().loads, 1);
    let s = b.open();
    assert_eq!(
        s.get::<Vec<String>>("cart").await.unwrap(),
        Some(vec!["tonic".into()])
    );
    assert_eq!(s.get::<u32>("user_id").await.unwrap(), None);
}

#[tokio::test]
async fn only_three_cookies_of_a_name_are_verified() {
    let b = common::with_clientside_key(|g| g).await;
    let good = b.jar["gimlet-n"].clone();
    let junk = "gimlet-n=AAAA; gimlet-n=BBBB";
    let third = format!("{junk}; gimlet-n={good}");
    let s = b.gimlet.open_from_headers([third.as_str()]);
    assert_eq!(s.get::<u32>("k").await.unwrap(), Some(1));
    let fourth = format!("{junk}; gimlet-n=CCCC; gimlet-n={good}");
    let s = b.gimlet.open_from_headers([fourth.as_str()]);
    assert_eq!(
        s.get::<u32>("k").await.unwrap(),
        None,
        "a cookie past the third of its name was verified"
    );
}

#[tokio::test]
async fn invalidate_deletes_every_verified_id_whatever_the_cookie_claims() {
    // Without revocation, a clientside-only channel has no record, and its
    // cookie says so.
    let b = common::clientside_only_without_revocation().await;
    let header = b.header();
    // A request with that cookie creates the record…
    let other = b.gimlet.open_from_headers([header.as_str()]);
    other.insert("server", &1).await.unwrap();
    b.gimlet.commit(&other).await.unwrap();
    assert_eq!(b.backend.inner().len(), 1);
    // …and a logout with the same (old) cookie still deletes it.
    let s = b.gimlet.open_from_headers([header.as_str()]);
    s.invalidate().unwrap();
    b.gimlet.commit(&s).await.unwrap();
    assert_eq!(b.backend.inner().len(), 0);
}

#[tokio::test]
async fn revocation_on_ignores_cookies_issued_without_a_record() {
    let b = common::clientside_only_without_revocation().await;
    let revocable = Gimlet::builder()
        .secret(SECRET)
        .host_prefix(false)
        .shared_backend(b.backend.clone())
        .build()
        .unwrap();
    let header = b.header();
    let s = revocable.open_from_headers([header.as_str()]);
    assert_eq!(s.get::<u32>("k").await.unwrap(), None);
}

#[tokio::test]
async fn cycle_id_replaces_the_csrf_token() {
    let mut b = browser(|g| g);
    let s = b.open();
    let token = s.csrf_token().await.unwrap();
    b.commit(&s).await;
    let s = b.open();
    assert!(s.verify_csrf(&token).await.unwrap());
    s.cycle_id().await.unwrap();
    assert!(!s.verify_csrf(&token).await.unwrap());
    let new = s.csrf_token().await.unwrap();
    assert_ne!(new, token);
    b.commit(&s).await;
    let s = b.open();
    assert!(!s.verify_csrf(&token).await.unwrap());
    assert!(s.verify_csrf(&new).await.unwrap());

    // A session without a token does not get one.
    let s = b.open();
    s.cycle_id().await.unwrap();
    s.remove(gimlet_core::CSRF_KEY).await.unwrap();
    s.cycle_id().await.unwrap();
    assert!(!s.contains_key(gimlet_core::CSRF_KEY).await.unwrap());
}

#[tokio::test]
async fn the_absolute_lifetime_is_on_by_default_and_counts_from_login() {
    // An idle lifetime of a day, so that only the absolute one ends it.
    let mut b = browser(|g| g.revalidate_after(days(365)).transient_lifetime(days(1)));
    let s = b.open();
    s.insert_with("n", &1, Placement::new().clientside(true))
        .await
        .unwrap();
    s.insert_with("p", &1, Placement::new().clientside(true).permanent(true))
        .await
        .unwrap();
    b.commit(&s).await;
    for _ in 0..11 {
        b.advance(Duration::from_secs(3600));
        let s = b.open();
        assert_eq!(s.get::<u32>("n").await.unwrap(), Some(1));
        s.insert_with("n", &1, Placement::new().clientside(true))
            .await
            .unwrap();
        b.commit(&s).await;
    }
    // A login 11 hours in starts the count again.
    let s = b.open();
    s.set_owner("ada").await.unwrap();
    b.commit(&s).await;
    b.advance(Duration::from_secs(11 * 3600));
    assert_eq!(b.open().get::<u32>("n").await.unwrap(), Some(1));
    b.advance(Duration::from_secs(3600));
    assert_eq!(
        b.open().get::<u32>("n").await.unwrap(),
        None,
        "the transient channel outlived 12 hours"
    );
    assert_eq!(b.open().get::<u32>("p").await.unwrap(), Some(1));
}

#[tokio::test]
async fn cycling_on_a_timer_does_not_extend_the_absolute_lifetime() {
    // A five-second absolute lifetime; the session is cycled every two
    // seconds (as a stolen cookie's holder might, to keep it alive).
    let mut b = browser(|g| g.absolute_lifetime(Duration::from_secs(5)));
    let s = b.open();
    s.insert("n", &1).await.unwrap();
    s.cycle_id().await.unwrap();
    b.commit(&s).await;
    for _ in 0..2 {
        b.advance(Duration::from_secs(2));
        let s = b.open();
        assert_eq!(s.get::<u32>("n").await.unwrap(), Some(1));
        s.cycle_id().await.unwrap();
        b.commit(&s).await;
    }
    // Six seconds after the session was created, cycled twice since.
    b.advance(Duration::from_secs(2));
    let s = b.open();
    assert_eq!(
        s.get::<u32>("n").await.unwrap(),
        None,
        "a cycle restarted the absolute lifetime"
    );
}

#[tokio::test]
async fn a_second_login_as_the_same_owner_keeps_the_first_logins_lifetime() {
    let mut b = browser(|g| g.absolute_lifetime(Duration::from_secs(5)));
    let s = b.open();
    s.set_owner("ada").await.unwrap();
    s.insert("n", &1).await.unwrap();
    b.commit(&s).await;
    b.advance(Duration::from_secs(3));
    let s = b.open();
    s.set_owner("ada").await.unwrap();
    b.commit(&s).await;
    b.advance(Duration::from_secs(3));
    assert_eq!(b.open().get::<u32>("n").await.unwrap(), None);
}

#[tokio::test]
async fn without_a_backend_cookies_are_bounded_by_the_absolute_lifetime() {
    let clock = ManualClock::new(common::START);
    let gimlet = cookie_only(|g| {
        g.clock(clock.clone())
            .transient_lifetime(Duration::from_secs(3600))
    });
    let s = gimlet.open_from_headers([]);
    s.insert("k", &1).await.unwrap();
    let mut cookie = gimlet.commit(&s).await.unwrap().remove(0);
    // Re-issued every 50 minutes, it never goes idle; it still ends 12
    // hours after its creation.
    for _ in 0..14 {
        clock.advance(Duration::from_secs(50 * 60));
        let header = cookie.split(';').next().unwrap().to_owned();
        let s = gimlet.open_from_headers([header.as_str()]);
        let alive = clock.now() < common::START + 12 * 3600;
        assert_eq!(s.get::<u32>("k").await.unwrap().is_some(), alive);
        s.insert("k", &1).await.unwrap();
        s.insert("n", &clock.now()).await.unwrap();
        cookie = gimlet.commit(&s).await.unwrap().remove(0);
    }
}

#[tokio::test]
async fn a_request_that_read_before_a_logout_extends_no_window() {
    let b = logged_in(|g| g).await;
    let slow = b.open();
    b.advance(Duration::from_secs(10));
    assert_eq!(
        slow.get::<Vec<String>>("cart").await.unwrap(),
        Some(vec!["gin".into()])
    );
    b.advance(Duration::from_secs(10));
    log_out(&b).await;
    // The slow request answers after the logout, with a clientside change:
    // its cookie names the ended channel, confirmed when it loaded.
    b.advance(Duration::from_secs(10));
    slow.insert("user_id", &7).await.unwrap();
    let cookies = b.gimlet.commit(&slow).await.unwrap();
    let header = cookies[0].split(';').next().unwrap().to_owned();
    // The window counts from the load, not from the slow commit.
    b.advance(WINDOW - Duration::from_secs(20));
    let s = b.gimlet.open_from_headers([header.as_str()]);
    assert_eq!(s.get::<u32>("user_id").await.unwrap(), None);
}

#[tokio::test]
async fn only_the_channel_whose_record_is_gone_heals() {
    let mut b = browser(|g| g);
    let s = b.open();
    s.insert("cart", &1).await.unwrap();
    s.insert_with("theme", &"dark", Placement::new().permanent(true))
        .await
        .unwrap();
    let id = s.id().unwrap();
    b.commit(&s).await;
    // The transient record is lost; the permanent one is not.
    let codec = CookieCodec::new(&[Secret::new(SECRET)], &[], false).unwrap();
    let lost = codec.decode("gimlet-n", &b.jar["gimlet-n"]).unwrap().id();
    let batch = Batch {
        ops: vec![Op::Delete(lost)],
    };
    b.backend.inner().commit(&batch).await.unwrap();

    let s = b.open();
    s.insert("cart", &2).await.unwrap();
    s.insert_with("theme", &"light", Placement::new().permanent(true))
        .await
        .unwrap();
    b.commit(&s).await;
    assert_eq!(b.last_names(), ["gimlet-n"], "only the healed channel");
    let s = b.open();
    assert_eq!(s.id().unwrap(), id, "the permanent channel kept its id");
    assert_eq!(s.get::<u32>("cart").await.unwrap(), Some(2));
    assert_eq!(
        s.get::<String>("theme").await.unwrap().as_deref(),
        Some("light")
    );
}

/// A store that answers every commit with `Gone` and every load with no
/// record: healing stops once nothing is left to heal, with the error.
#[derive(Debug)]
struct AlwaysGone;

#[async_trait::async_trait]
impl Backend for AlwaysGone {
    async fn load(
        &self,
        ids: &[gimlet_core::SessionId],
    ) -> Result<Vec<Option<gimlet_core::backend::Record>>, gimlet_core::backend::BackendError> {
        Ok(vec![None; ids.len()])
    }

    async fn commit(&self, _: &Batch) -> Result<(), gimlet_core::backend::BackendError> {
        Err(gimlet_core::backend::BackendError::gone())
    }
}

#[tokio::test]
async fn healing_is_bounded() {
    // A cookie that claims a record, from a store that has it (memory).
    let mut b = browser(|g| g);
    let store = std::sync::Arc::new(gimlet_core::testing::CountingBackend::new(AlwaysGone));
    let gimlet = Gimlet::builder()
        .secret(SECRET)
        .host_prefix(false)
        .shared_backend(store.clone())
        .clock(b.clock.clone())
        .build()
        .unwrap();
    let s = b.open();
    s.insert("cart", &1).await.unwrap();
    b.commit(&s).await;
    let header = b.header();
    let s = gimlet.open_from_headers([header.as_str()]);
    s.insert("cart", &2).await.unwrap();
    let err = gimlet.commit(&s).await.unwrap_err();
    assert!(
        matches!(&err, gimlet_core::Error::Backend(e) if e.is_gone()),
        "{err}"
    );
    // The commit; a load that finds the record gone; the commit of a fresh
    // channel, refused too: a create has no record to heal.
    assert_eq!(store.counts(), common::calls(1, 2));
}

#[tokio::test]
async fn a_write_through_touches_only_the_channels_it_must() {
    // The transient channel has a cookie but no record.
    let mut b = browser(|g| g.revocable(false));
    let s = b.open();
    s.insert_with("k", &1, Placement::new().clientside(true))
        .await
        .unwrap();
    s.insert_with("p", &1, Placement::new().permanent(true))
        .await
        .unwrap();
    b.commit(&s).await;
    assert_eq!(b.backend.inner().len(), 1);
    s.insert_with("q", &2, Placement::new().permanent(true))
        .await
        .unwrap();
    assert_eq!(
        b.backend.inner().len(),
        1,
        "no record for the other channel"
    );
    let s = b.open();
    let transient = Placement::new().permanent(false);
    assert_eq!(s.get_from::<u32>("q", transient).await.unwrap(), None);
    assert_eq!(s.get::<u32>("q").await.unwrap(), Some(2));
}

/// A store whose records load but whose commits fail.
#[derive(Debug)]
struct CommitsFail(
    std::sync::Arc<gimlet_core::testing::CountingBackend<gimlet_core::MemoryBackend>>,
);

#[async_trait::async_trait]
impl Backend for CommitsFail {
    async fn load(
        &self,
        ids: &[gimlet_core::SessionId],
    ) -> Result<Vec<Option<gimlet_core::backend::Record>>, gimlet_core::backend::BackendError> {
        self.0.load(ids).await
    }

    async fn commit(&self, _: &Batch) -> Result<(), gimlet_core::backend::BackendError> {
        Err(gimlet_core::backend::BackendError::from_kind(
            gimlet_core::backend::BackendErrorKind::Unavailable,
        ))
    }
}

#[tokio::test]
async fn a_store_that_fails_is_not_mistaken_for_a_lost_record() {
    let b = logged_in(|g| g).await;
    let store = std::sync::Arc::new(gimlet_core::testing::CountingBackend::new(CommitsFail(
        b.backend.clone(),
    )));
    let gimlet = Gimlet::builder()
        .secret(SECRET)
        .host_prefix(false)
        .clientside_keys(["user_id"])
        .shared_backend(store.clone())
        .clock(b.clock.clone())
        .build()
        .unwrap();
    let header = b.header();
    let s = gimlet.open_from_headers([header.as_str()]);
    s.insert("cart", &vec!["tonic"]).await.unwrap();
    let err = gimlet.commit(&s).await.unwrap_err();
    assert_eq!(err.status_code(), 503);
    assert_eq!(store.counts(), common::calls(0, 1), "no healing load");
}

/// A cookie value verified before is remembered by its bytes, but what it
/// may do is decided on every request: once its session is logged out, or
/// its lifetime has passed, the remembered value yields nothing, as one
/// verified anew would.
#[tokio::test]
async fn a_remembered_cookie_is_refused_after_a_logout_and_after_its_lifetime() {
    let read = async |b: &Browser| {
        let s = b.open();
        let id = s.get::<u32>("user_id").await.unwrap();
        b.gimlet.commit(&s).await.unwrap();
        id
    };
    let b = logged_in(|g| g).await;
    let copy = b.header();
    assert_eq!(read(&b).await, Some(42), "verified, then remembered");
    assert_eq!(read(&b).await, Some(42), "served from memory");
    log_out(&b).await;
    let s = b.gimlet.open_from_headers([copy.as_str()]);
    assert_eq!(s.get::<u32>("user_id").await.unwrap(), None, "logged out");

    let b = logged_in(|g| g.revalidate_after(Duration::from_secs(0))).await;
    assert_eq!(read(&b).await, Some(42));
    b.clock.advance(days(2));
    assert_eq!(read(&b).await, None, "past the transient lifetime");

    let b = logged_in(|g| g.cookie_cache_bytes(0)).await;
    assert_eq!(
        read(&b).await,
        Some(42),
        "with nothing remembered, the same"
    );
}
