//! Importing another library's sessions, without servers: actix-session's
//! `CookieSessionStore` cookie, made by the `cookie` crate as actix-session
//! makes it, carries the session itself. The HTTP tests with the real
//! peers and their stores are in `examples/conformance/tests/import.rs`.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{Browser, browser, calls};
use gimlet_core::backend::BackendError;
use gimlet_core::import::{Import, PeerStore};
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
    b.import(Import::actix_session_cookie().private(&KEY))
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
                .private(&KEY)
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
    let short = build(Import::actix_session_cookie().private(&[1; 32])).unwrap_err();
    assert_eq!(short.kind(), gimlet_core::ConfigErrorKind::Import);
    let gimlets = build(
        Import::actix_session_cookie()
            .private(&KEY)
            .cookie_name("gimlet-n"),
    );
    assert!(gimlets.is_err());
    let bad = build(
        Import::actix_session_cookie()
            .private(&KEY)
            .cookie_name("a b"),
    );
    assert!(bad.is_err());
    let path = build(
        Import::actix_session_cookie()
            .private(&KEY)
            .cookie_path("/a;b"),
    );
    assert!(path.is_err());
    let domain = build(
        Import::actix_session_cookie()
            .private(&KEY)
            .cookie_domain("a b"),
    );
    assert!(domain.is_err());
    let fine = Import::actix_session_cookie()
        .private(&KEY)
        .cookie_path("/app");
    assert!(build(fine.cookie_domain("example.com")).is_ok());
}

/// actix-session's `RedisSessionStore` layout (its JSON state under the
/// session key) held in memory, whose loads wait while the test holds
/// `gate`, and are counted.
#[derive(Debug, Clone, Default)]
struct Gated {
    gate: Arc<tokio::sync::RwLock<()>>,
    loads: Arc<AtomicUsize>,
    deletes: Arc<AtomicUsize>,
}

#[gimlet_core::async_trait]
impl PeerStore for Gated {
    async fn load(&self, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        let _open = self.gate.read().await;
        Ok((key == "sessionkey1").then(|| br#"{"user":"\"ana\""}"#.to_vec()))
    }

    async fn delete(&self, key: &str) -> Result<(), BackendError> {
        assert_eq!(key, "sessionkey1");
        self.deletes.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// A browser with actix-session's cookie naming `sessionkey1`, on a Gimlet
/// importing from `gated`.
fn gated_browser(gated: &Gated) -> Browser {
    keyed_browser(Import::actix_session(gated.clone()), "sessionkey1")
}

/// A browser with actix-session's private cookie holding `value`, on a
/// Gimlet importing with `import` under the key.
fn keyed_browser(import: Import, value: &str) -> Browser {
    let import = import.private(&KEY);
    let mut b = browser(|g| g.import(import));
    let mut jar = cookie::CookieJar::new();
    jar.private_mut(&cookie::Key::from(&KEY))
        .add(cookie::Cookie::new("id", value.to_owned()));
    with_peer(&mut b, &jar.get("id").unwrap().encoded().to_string());
    b
}

#[tokio::test]
async fn uses_that_start_while_the_import_waits_all_see_it_from_one_read() {
    let gated = Gated::default();
    let mut b = gated_browser(&gated);
    let hold = gated.gate.write().await;
    let s = b.open();
    let reads: Vec<_> = ["user", "user"]
        .into_iter()
        .map(|key| {
            let s = s.clone();
            tokio::spawn(async move { s.get::<String>(key).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(20)).await;
    drop(hold);
    for read in reads {
        assert_eq!(read.await.unwrap().unwrap().unwrap(), "ana");
    }
    assert_eq!(gated.loads.load(Ordering::SeqCst), 1);
    b.commit(&s).await;
    assert!(!b.jar.contains_key("id"));
}

#[tokio::test]
async fn an_import_dropped_halfway_is_due_again() {
    let gated = Gated::default();
    let mut b = gated_browser(&gated);
    let s = b.open();
    let hold = gated.gate.write().await;
    let dropped = tokio::time::timeout(Duration::from_millis(20), s.get::<String>("user")).await;
    assert!(dropped.is_err());
    drop(hold);
    assert_eq!(s.get::<String>("user").await.unwrap().unwrap(), "ana");
    assert_eq!(gated.loads.load(Ordering::SeqCst), 2);
    b.commit(&s).await;
    assert!(!b.jar.contains_key("id"));
}

#[tokio::test]
async fn a_clear_while_the_import_waits_wins() {
    let gated = Gated::default();
    let mut b = gated_browser(&gated);
    let s = b.open();
    let hold = gated.gate.write().await;
    let read = tokio::spawn({
        let s = s.clone();
        async move { s.get::<String>("user").await }
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    s.clear().unwrap();
    drop(hold);
    assert_eq!(read.await.unwrap().unwrap(), None);
    assert_eq!(s.len().await.unwrap(), 0);
    let cookies = b.commit(&s).await;
    assert_eq!(b.last_names(), ["id"], "{cookies:?}");
    assert_eq!(gated.loads.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_value_that_is_no_session_key_reads_no_store() {
    let gated = Gated::default();
    let b = keyed_browser(Import::actix_session(gated.clone()), "not a key");
    let s = b.open();
    assert_eq!(s.get::<String>("user").await.unwrap(), None);
    assert_eq!(gated.loads.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn the_peer_record_is_deleted_only_when_asked() {
    for delete in [false, true] {
        let gated = Gated::default();
        let import = Import::actix_session(gated.clone()).delete_records(delete);
        let mut b = keyed_browser(import, "sessionkey1");
        let s = b.open();
        assert_eq!(s.get::<String>("user").await.unwrap().unwrap(), "ana");
        b.commit(&s).await;
        for _ in 0..50 {
            if gated.deletes.load(Ordering::SeqCst) > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(gated.deletes.load(Ordering::SeqCst), usize::from(delete));
    }
}

#[tokio::test]
async fn a_gimlet_session_is_never_overwritten_and_the_peer_cookie_goes() {
    let gated = Gated::default();
    let mut b = gated_browser(&gated);
    let peer = b.jar.remove("id").unwrap();
    let s = b.open();
    s.insert("user", "bob").await.unwrap();
    b.commit(&s).await;
    b.jar.insert("id".to_owned(), peer);
    let s = b.open();
    assert_eq!(s.get::<String>("user").await.unwrap().unwrap(), "bob");
    b.commit(&s).await;
    assert_eq!(b.last_names(), ["id"]);
    assert_eq!(gated.loads.load(Ordering::SeqCst), 0);
}
