//! A session's own lifetime (`Session::set_lifetime`): the permanent
//! cookie's `Max-Age` and every record's expiry follow it, through a
//! refresh, a cycle and a login, and the configured maximum bounds it.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{Browser, START, browser, cookie_only, days};
use gimlet_core::backend::Op;
use gimlet_core::{Error, Lifetime, Placement};

const TEN_MINUTES: u64 = 600;

/// The `Max-Age` of the last response's cookie named `name`, if it has one.
fn max_age(b: &Browser, name: &str) -> Option<u64> {
    let cookie = b.last.iter().find(|c| c.starts_with(&format!("{name}=")))?;
    let attribute = cookie
        .split("; ")
        .find_map(|a| a.strip_prefix("Max-Age="))?;
    Some(attribute.parse().expect("a number"))
}

/// The expiry of every record the last commit wrote.
fn expiries(b: &Browser) -> Vec<u64> {
    let batch = b.backend.last_batch().expect("a commit");
    batch
        .ops
        .iter()
        .filter_map(|op| match op {
            Op::Write(write) => Some(write.expires_at),
            _ => None,
        })
        .collect()
}

/// A session with a key in each channel, server-side.
async fn with_both_channels() -> Browser {
    let mut b = browser(|g| g);
    let s = b.open();
    s.insert_with("remembered", &1, Placement::new().permanent(true))
        .await
        .unwrap();
    s.insert("cart", &["gin"]).await.unwrap();
    b.commit(&s).await;
    b
}

async fn set_lifetime(b: &mut Browser, lifetime: Lifetime) {
    let s = b.open();
    s.set_lifetime(lifetime).unwrap();
    b.commit(&s).await;
}

#[tokio::test]
async fn max_age_and_every_record_s_expiry_follow_the_session_s_lifetime_at_once() {
    let mut b = with_both_channels().await;
    assert_eq!(max_age(&b, "gimlet-p"), Some(days(30).as_secs()));
    b.advance(Duration::from_secs(5));
    b.reset_counts();

    set_lifetime(&mut b, Lifetime::idle(Duration::from_secs(TEN_MINUTES))).await;
    let now = START + 5;
    assert_eq!(max_age(&b, "gimlet-p"), Some(TEN_MINUTES));
    assert_eq!(
        max_age(&b, "gimlet-n"),
        None,
        "the transient cookie ends with the browser"
    );
    assert_eq!(b.last_names().len(), 2, "both cookies are issued again");
    assert_eq!(expiries(&b), [now + TEN_MINUTES; 2]);
    assert_eq!(b.counts(), common::calls(0, 1), "one write, no load");
    let s = b.open();
    assert_eq!(
        s.lifetime(),
        Some(Lifetime::idle(Duration::from_secs(TEN_MINUTES)))
    );
}

#[tokio::test]
async fn a_session_idle_past_its_own_lifetime_is_over_and_one_in_use_is_renewed() {
    let mut b = with_both_channels().await;
    set_lifetime(&mut b, Lifetime::idle(Duration::from_secs(TEN_MINUTES))).await;

    // Used past half its lifetime: renewed under it, not the configured one.
    b.advance(Duration::from_secs(400));
    let s = b.open();
    assert_eq!(s.get::<i32>("remembered").await.unwrap(), Some(1));
    b.commit(&s).await;
    assert_eq!(max_age(&b, "gimlet-p"), Some(TEN_MINUTES));
    assert_eq!(expiries(&b), [START + 400 + TEN_MINUTES; 2]);

    // Then left alone for its lifetime: the next request starts afresh.
    b.advance(Duration::from_secs(TEN_MINUTES));
    let s = b.open();
    assert_eq!(s.get::<i32>("remembered").await.unwrap(), None);
    assert_eq!(s.get::<Vec<String>>("cart").await.unwrap(), None);
    assert_eq!(s.lifetime(), None);
}

#[tokio::test]
async fn the_lifetime_survives_a_cycle_and_a_login_and_ends_with_a_logout() {
    let mut b = with_both_channels().await;
    let long = Lifetime::idle(days(60));
    set_lifetime(&mut b, long).await;
    assert_eq!(max_age(&b, "gimlet-p"), Some(days(60).as_secs()));

    b.advance(Duration::from_secs(10));
    let s = b.open();
    s.cycle_id().await.unwrap();
    b.commit(&s).await;
    assert_eq!(max_age(&b, "gimlet-p"), Some(days(60).as_secs()));
    // The transient channel keeps its configured absolute lifetime (12
    // hours), counted from its creation.
    assert_eq!(
        expiries(&b),
        [START + 10 + days(60).as_secs(), START + 12 * 3600]
    );

    b.advance(Duration::from_secs(10));
    let s = b.open();
    assert_eq!(s.lifetime(), Some(long));
    s.login("ada").await.unwrap();
    b.commit(&s).await;
    assert_eq!(max_age(&b, "gimlet-p"), Some(days(60).as_secs()));
    // A login starts the absolute lifetimes anew.
    assert_eq!(
        expiries(&b),
        [START + 20 + days(60).as_secs(), START + 20 + 12 * 3600]
    );

    // Past the configured 30 idle days, still in.
    b.advance(days(45));
    let s = b.open();
    assert_eq!(s.get::<i32>("remembered").await.unwrap(), Some(1));
    assert_eq!(s.lifetime(), Some(long));
    s.logout().await.unwrap();
    s.insert_with("after", &1, Placement::new().permanent(true))
        .await
        .unwrap();
    b.commit(&s).await;
    assert_eq!(
        max_age(&b, "gimlet-p"),
        Some(days(30).as_secs()),
        "a new session's"
    );
    assert_eq!(b.open().lifetime(), None);
}

#[tokio::test]
async fn an_absolute_lifetime_of_its_own_ends_the_session_however_it_is_used() {
    let mut b = with_both_channels().await;
    let kiosk = Lifetime::idle(Duration::from_secs(TEN_MINUTES)).absolute(Duration::from_secs(900));
    set_lifetime(&mut b, kiosk).await;
    // Counted from the channels' creation (START): at most 900 s.
    b.advance(Duration::from_secs(500));
    let s = b.open();
    assert_eq!(s.get::<i32>("remembered").await.unwrap(), Some(1));
    b.commit(&s).await;
    assert_eq!(max_age(&b, "gimlet-p"), Some(400));
    assert_eq!(expiries(&b), [START + 900; 2]);
    b.advance(Duration::from_secs(400));
    assert_eq!(b.open().get::<i32>("remembered").await.unwrap(), None);
}

#[tokio::test]
async fn the_configured_maximum_is_enforced_and_the_session_keeps_what_it_had() {
    let mut b = browser(|g| g.max_session_lifetime(days(100)));
    let s = b.open();
    s.insert("cart", &["gin"]).await.unwrap();
    b.commit(&s).await;

    for lifetime in [
        Lifetime::idle(days(101)),
        Lifetime::idle(days(1)).absolute(days(101)),
        Lifetime::idle(Duration::from_millis(500)),
    ] {
        let s = b.open();
        let error = s.set_lifetime(lifetime).unwrap_err();
        assert!(
            matches!(error, Error::LifetimeOutOfRange { max, .. } if max == days(100).as_secs()),
            "{error}"
        );
        assert_eq!(error.status_code(), 400);
        assert_eq!(s.lifetime(), None);
        b.commit(&s).await;
        assert!(b.last.is_empty(), "nothing changed: {:?}", b.last);
    }
    set_lifetime(&mut b, Lifetime::idle(days(100))).await;
    assert_eq!(b.open().lifetime(), Some(Lifetime::idle(days(100))));
}

#[tokio::test]
async fn a_new_session_gets_a_permanent_cookie_to_carry_its_lifetime() {
    let mut b = browser(|g| g);
    set_lifetime(&mut b, Lifetime::idle(days(90))).await;
    assert_eq!(max_age(&b, "gimlet-p"), Some(days(90).as_secs()));
    b.advance(days(40));
    let s = b.open();
    s.insert("cart", &["gin"]).await.unwrap();
    b.commit(&s).await;
    assert_eq!(b.open().lifetime(), Some(Lifetime::idle(days(90))));
}

#[tokio::test]
async fn reset_lifetime_goes_back_to_the_configured_ones() {
    let mut b = with_both_channels().await;
    set_lifetime(&mut b, Lifetime::idle(Duration::from_secs(TEN_MINUTES))).await;
    b.advance(Duration::from_secs(60));
    let s = b.open();
    s.reset_lifetime().unwrap();
    b.commit(&s).await;
    assert_eq!(max_age(&b, "gimlet-p"), Some(days(30).as_secs()));
    assert_eq!(
        expiries(&b),
        [START + 60 + days(30).as_secs(), START + 60 + 2 * 3600]
    );
    assert_eq!(b.open().lifetime(), None);
}

#[tokio::test]
async fn without_a_backend_the_cookie_alone_carries_and_enforces_the_lifetime() {
    let gimlet = cookie_only(|g| g);
    let s = gimlet.open_from_headers([]);
    s.insert_with("theme", &"dark", Placement::new().permanent(true))
        .await
        .unwrap();
    s.set_lifetime(Lifetime::idle(Duration::from_secs(TEN_MINUTES)))
        .unwrap();
    let cookies = gimlet.commit(&s).await.unwrap();
    assert!(cookies[0].contains("Max-Age=600"), "{cookies:?}");
    let pair = cookies[0].split(';').next().unwrap();
    let s = gimlet.open_from_headers([pair]);
    assert_eq!(
        s.lifetime(),
        Some(Lifetime::idle(Duration::from_secs(TEN_MINUTES)))
    );
}
