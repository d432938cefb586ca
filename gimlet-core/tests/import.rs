//! Importing another library's sessions, without servers: actix-session's
//! `CookieSessionStore` cookie, made by the `cookie` crate as actix-session
//! makes it, carries the session itself. The HTTP tests with the real
//! peers and their stores are in `examples/conformance/tests/import.rs`.

#![allow(clippy::unwrap_used)]

mod common;

use common::{Browser, browser, calls};
use gimlet_core::import::Import;
use gimlet_core::{Gimlet, GimletBuilder, Placement};

const KEY: [u8; 64] = [9; 64];

/// The state `{"user": "ana", "list": ["itsy", "bitsy"]}` as actix-session
/// keeps it, in a private cookie under `key`, percent-encoded as
/// actix-web sends it.
fn peer_cookie(key: &[u8]) -> String {
    let state = r#"{"user":"\"ana\"","list":"[\"itsy\",\"bitsy\"]"}"#;
    let mut jar = cookie::CookieJar::new();
    jar.private_mut(&cookie::Key::from(key))
        .add(cookie::Cookie::new("id", state));
    jar.get("id").unwrap().encoded().to_string()
}

fn importing(b: GimletBuilder) -> GimletBuilder {
    b.import(Import::actix_session_cookie().key(&KEY))
}

fn with_peer(b: &mut Browser, cookie: &str) {
    let (name, value) = cookie.split_once('=').unwrap();
    b.jar.insert(name.to_owned(), value.to_owned());
}

#[tokio::test]
async fn the_peer_s_session_is_read_once_and_its_cookie_removed() {
    let mut b = browser(importing);
    with_peer(&mut b, &peer_cookie(&KEY));
    let s = b.open();
    assert_eq!(s.get::<String>("user").await.unwrap().unwrap(), "ana");
    let list: Vec<String> = s.get("list").await.unwrap().unwrap();
    assert_eq!(list, ["itsy", "bitsy"]);
    let cookies = b.commit(&s).await;
    // The keys went to Gimlet's store in the one commit; nothing loaded.
    assert_eq!(b.counts(), calls(0, 1));
    let removal = cookies.iter().find(|c| c.starts_with("id=")).unwrap();
    assert!(
        removal.contains("Max-Age=0") && removal.contains("Path=/"),
        "{removal}"
    );
    assert!(!b.jar.contains_key("id"));
    b.reset_counts();
    let s = b.open();
    assert_eq!(s.get::<String>("user").await.unwrap().unwrap(), "ana");
    assert!(b.commit(&s).await.is_empty());
    assert_eq!(b.counts(), calls(1, 0));
}

#[tokio::test]
async fn concurrent_first_uses_all_see_the_import() {
    let mut b = browser(importing);
    with_peer(&mut b, &peer_cookie(&KEY));
    let s = b.open();
    let (user, list, len) = tokio::join!(
        s.get::<String>("user"),
        s.get::<Vec<String>>("list"),
        s.len()
    );
    assert_eq!(user.unwrap().unwrap(), "ana");
    assert_eq!(list.unwrap().unwrap().len(), 2);
    assert_eq!(len.unwrap(), 2);
}

#[tokio::test]
async fn a_write_before_any_read_is_not_overwritten_by_the_import() {
    let mut b = browser(importing);
    with_peer(&mut b, &peer_cookie(&KEY));
    let s = b.open();
    s.insert("user", "bob").await.unwrap();
    assert_eq!(s.get::<String>("user").await.unwrap().unwrap(), "bob");
    assert_eq!(s.len().await.unwrap(), 2);
}

#[tokio::test]
async fn a_clear_before_the_import_imports_nothing() {
    let mut b = browser(importing);
    with_peer(&mut b, &peer_cookie(&KEY));
    let s = b.open();
    s.clear().unwrap();
    assert_eq!(s.len().await.unwrap(), 0);
    let cookies = b.commit(&s).await;
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    assert!(cookies[0].starts_with("id=;"));
}

#[tokio::test]
async fn a_cookie_under_another_key_imports_nothing_and_is_removed() {
    let mut b = browser(importing);
    with_peer(&mut b, &peer_cookie(&[3; 64]));
    let s = b.open();
    assert_eq!(s.get::<String>("user").await.unwrap(), None);
    let cookies = b.commit(&s).await;
    assert_eq!(b.last_names(), ["id"], "{cookies:?}");
    assert_eq!(b.counts(), calls(0, 0));
}

#[tokio::test]
async fn a_session_that_only_lives_in_cookies_imports_too() {
    let gimlet = common::cookie_only(importing);
    let s = gimlet.open_from_headers([peer_cookie(&KEY).as_str()]);
    assert_eq!(s.get::<String>("user").await.unwrap().unwrap(), "ana");
    assert!(s.is_clientside("user").await.unwrap());
}

#[tokio::test]
async fn the_rule_places_keys_and_drops_others() {
    let mut b = browser(|g| {
        g.import(
            Import::actix_session_cookie()
                .key(&KEY)
                .keys(|key| (key == "user").then(|| Placement::new().permanent(true))),
        )
    });
    with_peer(&mut b, &peer_cookie(&KEY));
    let s = b.open();
    assert!(s.is_permanent("user").await.unwrap());
    assert_eq!(s.get::<Vec<String>>("list").await.unwrap(), None);
}

#[test]
fn an_import_that_cannot_work_is_refused_at_build() {
    let build = |import: Import| {
        Gimlet::builder()
            .secret(common::SECRET)
            .without_env()
            .host_prefix(false)
            .import(import)
            .build()
    };
    let no_key = build(Import::actix_session_cookie()).unwrap_err();
    assert_eq!(no_key.kind(), gimlet_core::ConfigErrorKind::Import);
    let short = build(Import::actix_session_cookie().key(&[1; 32])).unwrap_err();
    assert_eq!(short.kind(), gimlet_core::ConfigErrorKind::Import);
    let gimlets = build(
        Import::actix_session_cookie()
            .key(&KEY)
            .cookie_name("gimlet-n"),
    );
    assert!(gimlets.is_err());
    let bad = build(Import::actix_session_cookie().key(&KEY).cookie_name("a b"));
    assert!(bad.is_err());
}
