//! The near cache: reads answered on the app server with no round trip,
//! a browser's own writes seen on every app server, other browsers'
//! writes and logouts heard through the store's feed, and a cache never
//! built where it could serve stale data.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use common::{Browser, SECRET, browser, calls};
use gimlet_core::backend::{Backend, BackendError, Batch, NearCache, Record};
use gimlet_core::testing::WithoutFeed;
use gimlet_core::{ConfigErrorKind, Gimlet, GimletBuilder, SessionId};

const BYTES: usize = 1 << 20;

fn near(g: GimletBuilder) -> GimletBuilder {
    g.near_cache_bytes(BYTES)
}

/// A second app server on `b`'s store, with a near cache, over `store`.
fn server(b: &Browser, store: Arc<dyn Backend>) -> Gimlet {
    Gimlet::builder()
        .secret(SECRET)
        .host_prefix(false)
        .shared_backend(store)
        .clock(b.clock.clone())
        .near_cache_bytes(BYTES)
        .build()
        .unwrap()
}

/// A store that claims to tell its near caches every change and tells
/// them none: what an app server sees before a change reaches it.
#[derive(Debug)]
struct Deaf(Arc<dyn Backend>);

#[async_trait]
impl Backend for Deaf {
    async fn load(&self, ids: &[SessionId]) -> Result<Vec<Option<Record>>, BackendError> {
        self.0.load(ids).await
    }

    async fn commit(&self, batch: &Batch) -> Result<(), BackendError> {
        self.0.commit(batch).await
    }

    fn follow_changes(&self, cache: &Arc<NearCache>) -> bool {
        cache.feed_up();
        true
    }
}

/// Reads `cart` on `gimlet` with the browser's cookies, and commits.
async fn cart(b: &mut Browser, gimlet: &Gimlet) -> Option<Vec<String>> {
    let s = gimlet.open_from_headers([b.header().as_str()]);
    let cart = s.get::<Vec<String>>("cart").await.unwrap();
    let cookies = gimlet.commit(&s).await.unwrap();
    b.store(&cookies);
    cart
}

/// Sets `cart` on `gimlet` with the browser's cookies, and commits.
async fn set_cart(b: &mut Browser, gimlet: &Gimlet, items: &[&str]) -> Vec<String> {
    let s = gimlet.open_from_headers([b.header().as_str()]);
    s.insert("cart", &items).await.unwrap();
    let cookies = gimlet.commit(&s).await.unwrap();
    b.store(&cookies);
    cookies
}

fn items(list: &[&str]) -> Option<Vec<String>> {
    Some(list.iter().map(|s| (*s).to_owned()).collect())
}

#[tokio::test]
async fn a_second_read_is_answered_near_with_no_round_trip() {
    let mut b = browser(near);
    let gimlet = b.gimlet.clone();
    set_cart(&mut b, &gimlet, &["gin"]).await;
    b.reset_counts();
    assert_eq!(cart(&mut b, &gimlet).await, items(&["gin"]));
    assert_eq!(b.counts(), calls(1, 0), "the first read loads");
    for _ in 0..3 {
        assert_eq!(cart(&mut b, &gimlet).await, items(&["gin"]));
    }
    assert_eq!(b.counts(), calls(1, 0), "the next ones do not");
    assert!(b.last.is_empty(), "a read sets no cookie");
}

/// The write token alone keeps a browser's own writes: the app server it
/// reads on next never hears of the write here.
#[tokio::test]
async fn a_browser_reads_its_own_write_on_another_app_server() {
    let mut b = browser(near);
    let writer = b.gimlet.clone();
    let reader = server(&b, Arc::new(Deaf(b.backend.clone())));
    set_cart(&mut b, &writer, &["gin"]).await;
    assert_eq!(cart(&mut b, &reader).await, items(&["gin"]));
    let cookies = set_cart(&mut b, &writer, &["gin", "tonic"]).await;
    assert_eq!(cookies.len(), 1, "the write gives the cookie a new token");
    b.reset_counts();
    assert_eq!(cart(&mut b, &reader).await, items(&["gin", "tonic"]));
    assert_eq!(b.counts(), calls(1, 0));
    assert_eq!(cart(&mut b, &reader).await, items(&["gin", "tonic"]));
    assert_eq!(b.counts(), calls(1, 0), "kept near again");
}

/// Another browser on the same session (a copied cookie) carries the old
/// token: only the feed tells the reader's app server of the write.
#[tokio::test]
async fn another_browsers_write_is_heard_through_the_feed() {
    let mut b = browser(near);
    let writer = b.gimlet.clone();
    let reader = server(&b, b.backend.clone());
    let deaf = server(&b, Arc::new(Deaf(b.backend.clone())));
    set_cart(&mut b, &writer, &["gin"]).await;
    let mut copy = Browser {
        jar: b.jar.clone(),
        ..browser(|g| g)
    };
    for gimlet in [&reader, &deaf] {
        assert_eq!(cart(&mut copy, gimlet).await, items(&["gin"]));
    }
    set_cart(&mut b, &writer, &["rum"]).await;
    assert_eq!(cart(&mut copy, &reader).await, items(&["rum"]));
    // Where the change was not heard, the old record stays until its time
    // to live: what the feed is for.
    assert_eq!(cart(&mut copy, &deaf).await, items(&["gin"]));
    b.advance(Duration::from_secs(30));
    assert_eq!(cart(&mut copy, &deaf).await, items(&["rum"]));
}

#[tokio::test]
async fn a_logout_reaches_a_cookie_whose_record_was_kept_near() {
    let mut b = browser(near);
    let gimlet = b.gimlet.clone();
    let other = server(&b, b.backend.clone());
    set_cart(&mut b, &gimlet, &["gin"]).await;
    let copied = b.header();
    assert_eq!(cart(&mut b, &other).await, items(&["gin"]));
    let s = b.open();
    s.invalidate().unwrap();
    b.commit(&s).await;
    for server in [&gimlet, &other] {
        let s = server.open_from_headers([copied.as_str()]);
        assert_eq!(s.get::<Vec<String>>("cart").await.unwrap(), None);
    }
}

#[tokio::test]
async fn a_cookie_due_its_check_is_read_from_the_store() {
    let mut b = browser(|g| near(g).near_cache_ttl(Duration::from_secs(3600)));
    let gimlet = b.gimlet.clone();
    set_cart(&mut b, &gimlet, &["gin"]).await;
    assert_eq!(cart(&mut b, &gimlet).await, items(&["gin"]));
    b.advance(Duration::from_secs(301));
    b.reset_counts();
    assert_eq!(cart(&mut b, &gimlet).await, items(&["gin"]));
    assert_eq!(b.counts(), calls(1, 0), "past the revalidation window");
}

#[tokio::test]
async fn a_store_that_does_not_tell_what_changes_refuses_a_near_cache() {
    let b = browser(|g| g);
    let store = Arc::new(WithoutFeed(b.backend.clone()));
    let err = Gimlet::builder()
        .secret(SECRET)
        .shared_backend(store)
        .near_cache_bytes(BYTES)
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ConfigErrorKind::Placement);
    assert!(err.to_string().contains("stale"), "{err}");
    let err = Gimlet::builder()
        .secret(SECRET)
        .near_cache_bytes(BYTES)
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ConfigErrorKind::Placement);
}

/// Without a near cache a server-side write sends no cookie (the token is
/// the near cache's cost on writes).
#[tokio::test]
async fn without_a_near_cache_a_server_write_sets_no_cookie() {
    let mut b = browser(|g| g);
    let gimlet = b.gimlet.clone();
    set_cart(&mut b, &gimlet, &["gin"]).await;
    assert!(set_cart(&mut b, &gimlet, &["rum"]).await.is_empty());
}

/// The conformance case, on app servers sharing one memory store.
#[tokio::test]
async fn app_servers_sharing_a_memory_store_hear_each_others_writes() {
    let store: gimlet_core::conformance::SharedBackend =
        Arc::new(gimlet_core::MemoryBackend::new());
    gimlet_core::conformance::a_near_cache_hears_every_app_servers_writes(async || store.clone())
        .await;
}

/// A read answered near vouches for the record only as of when the store
/// showed it: a cookie re-issued after it keeps that time, so its
/// revalidation window is not stretched by the cache.
#[tokio::test]
async fn a_read_answered_near_does_not_stretch_the_revalidation_window() {
    let mut b = browser(|g| {
        near(g)
            .near_cache_ttl(Duration::from_secs(3600))
            .clientside_keys(["user_id"])
    });
    let gimlet = b.gimlet.clone();
    set_cart(&mut b, &gimlet, &["gin"]).await;
    assert_eq!(cart(&mut b, &gimlet).await, items(&["gin"]));
    b.advance(Duration::from_secs(200));
    // Answered near, and the cookie is issued again (a clientside write).
    let s = b.open();
    assert_eq!(s.get::<Vec<String>>("cart").await.unwrap(), items(&["gin"]));
    s.insert("user_id", &7).await.unwrap();
    b.commit(&s).await;
    b.advance(Duration::from_secs(101));
    b.reset_counts();
    assert_eq!(cart(&mut b, &gimlet).await, items(&["gin"]));
    assert_eq!(
        b.counts(),
        calls(1, 0),
        "301 s after the store last showed it"
    );
}
