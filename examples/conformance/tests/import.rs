//! Importing the peers' sessions, in real HTTP: tower-sessions and
//! actix-session write a session through their own middleware and store,
//! then the conformance app (on axum, actix-web and Rocket) is sent the
//! peer's cookie. The user is still logged in with the same data after
//! one request, the peer's cookie is gone, and the next request makes no
//! import round trip. Bad, expired and foreign peer cookies import
//! nothing, answer no 5xx and leave nothing behind.

#![allow(clippy::unwrap_used, unreachable_pub)]

mod common;
#[path = "import/peers.rs"]
mod peers;

use std::sync::Arc;

use common::{App, Framework, Store, start_importing};
use gimlet_core::Placement;
use gimlet_core::import::{Import, PeerStore};
use peers::{Counted, Flavour, TowerStore, actix_login, peer_key, sqlite_url, tower_login};
use reqwest::cookie::{CookieStore, Jar};

/// A browser whose cookie jar starts with `cookie` (the peer's `id=…`).
struct Browser {
    client: reqwest::Client,
    jar: Arc<Jar>,
    base: reqwest::Url,
}

impl Browser {
    fn new(app: &App, cookie: &str) -> Self {
        let jar = Arc::new(Jar::default());
        let base: reqwest::Url = app.base.parse().unwrap();
        jar.add_cookie_str(&format!("{cookie}; Path=/"), &base);
        let client = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .build()
            .unwrap();
        Browser { client, jar, base }
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let response = self
            .client
            .get(self.base.join(path).unwrap())
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// The names of the cookies the jar holds.
    fn cookies(&self) -> Vec<String> {
        let header = self.jar.cookies(&self.base);
        let header = header.as_ref().map_or("", |h| h.to_str().unwrap());
        header
            .split("; ")
            .filter(|pair| !pair.is_empty())
            .map(|pair| pair.split('=').next().unwrap().to_owned())
            .collect()
    }
}

/// The peer's session, imported by one request, is the user's from then
/// on; the peer's cookie is gone, and no further request reads the peer.
async fn imported_once(app: &App, cookie: &str, peer: Option<&Counted>) {
    let browser = Browser::new(app, cookie);
    assert_eq!(browser.get("/get/user").await, (200, "ana".to_owned()));
    assert_eq!(peer.map(Counted::loads), peer.map(|_| 1));
    let cookies = browser.cookies();
    assert!(!cookies.contains(&"id".to_owned()), "{cookies:?}");
    assert!(
        cookies.iter().any(|c| c.starts_with("gimlet")),
        "{cookies:?}"
    );
    for (path, body) in [("/flatten/list", "itsy:bitsy"), ("/get/user", "ana")] {
        app.reset_counts();
        assert_eq!(browser.get(path).await, (200, body.to_owned()));
        // Gimlet's own record, at most: the data is Gimlet's now.
        assert!(app.counts().loads <= 1, "{:?}", app.counts());
    }
    assert_eq!(peer.map(Counted::loads), peer.map(|_| 1));
}

/// A peer cookie that imports nothing: no 5xx, the cookie removed, no
/// Gimlet session made and nothing written.
async fn imports_nothing(app: &App, cookie: &str) {
    let browser = Browser::new(app, cookie);
    let (status, _) = browser.get("/get/user").await;
    assert_eq!(status, 404);
    assert_eq!(browser.cookies(), Vec::<String>::new());
    assert_eq!(app.counts().commits, 0, "{:?}", app.counts());
}

/// `import` with the peers' key, for cookies protected as `flavour` says.
fn keyed(import: Import, flavour: Flavour) -> Import {
    match flavour {
        Flavour::Plain => import,
        Flavour::Signed => import.signed(&peer_key()),
        Flavour::Private => import.private(&peer_key()),
    }
}

/// A tower-sessions user logged in on Redis with a plain cookie, and the
/// app on `framework` importing from there as `configure` says: the app,
/// the peer's cookie and its counted store.
async fn tower_redis_app(
    framework: Framework,
    configure: impl FnOnce(Import) -> Import,
) -> (App, String, Counted) {
    let (cookie, peer) = tower_login(TowerStore::Redis, Flavour::Plain, "").await;
    let import = configure(Import::tower_sessions(peer.clone()));
    let app = start_importing(framework, Store::Redis, import)
        .await
        .unwrap();
    (app, cookie, peer)
}

fn store_of(tower: TowerStore) -> Store {
    match tower {
        TowerStore::Redis => Store::Redis,
        TowerStore::Postgres => Store::Postgres,
        TowerStore::MySql => Store::MySql,
        TowerStore::Sqlite => Store::Sqlite,
    }
}

async fn tower_sessions(framework: Framework, tower: TowerStore, flavour: Flavour) {
    let sqlite = sqlite_url();
    let (cookie, peer) = tower_login(tower, flavour, &sqlite).await;
    let import = keyed(Import::tower_sessions(peer.clone()), flavour);
    let app = start_importing(framework, store_of(tower), import)
        .await
        .unwrap();
    imported_once(&app, &cookie, Some(&peer)).await;
}

async fn actix_session_redis(framework: Framework, flavour: Flavour) {
    let cookie = actix_login(true, flavour, &peer_key()).await;
    let url = common::server_url("GIMLET_TEST_REDIS_URL", "the import tests").unwrap();
    let peer = Counted::new(gimlet_redis::RedisPeerStore::from_url(&url).unwrap());
    let import = keyed(Import::actix_session(peer.clone()), flavour);
    let app = start_importing(framework, Store::Redis, import)
        .await
        .unwrap();
    imported_once(&app, &cookie, Some(&peer)).await;
}

async fn actix_session_cookie(framework: Framework, flavour: Flavour) {
    let cookie = actix_login(false, flavour, &peer_key()).await;
    let import = keyed(Import::actix_session_cookie(), flavour);
    let app = start_importing(framework, Store::Memory, import)
        .await
        .unwrap();
    imported_once(&app, &cookie, None).await;
}

/// A signed tower-sessions cookie with one character of its id changed.
async fn tampered(framework: Framework) {
    let (cookie, peer) = tower_login(TowerStore::Redis, Flavour::Signed, "").await;
    // One character of the MAC changed (the id after it stays a valid id).
    let (name, value) = cookie.split_once('=').unwrap();
    let mut value = value.to_owned();
    let changed = if &value[10..11] == "A" { "B" } else { "A" };
    value.replace_range(10..11, changed);
    let import = Import::tower_sessions(peer.clone()).signed(&peer_key());
    let app = start_importing(framework, Store::Redis, import)
        .await
        .unwrap();
    imports_nothing(&app, &format!("{name}={value}")).await;
    assert_eq!(peer.loads(), 0);
}

/// An actix-session cookie made under another key.
async fn foreign_key(framework: Framework) {
    let other: Vec<u8> = (0..64).collect();
    let cookie = actix_login(false, Flavour::Private, &other).await;
    refused_by_a_private_cookie_store(framework, &cookie).await;
}

/// `cookie` imports nothing into an app importing actix-session's private
/// cookie store under the peers' key.
async fn refused_by_a_private_cookie_store(framework: Framework, cookie: &str) {
    let import = Import::actix_session_cookie().private(&peer_key());
    let app = start_importing(framework, Store::Memory, import)
        .await
        .unwrap();
    imports_nothing(&app, cookie).await;
}

/// A cookie in another protection than the configured one: a plain
/// tower-sessions id where the import expects a signed one, and a signed
/// actix-session cookie where it expects a private one (its default).
async fn another_protection(framework: Framework) {
    let (plain, peer) = tower_login(TowerStore::Redis, Flavour::Plain, "").await;
    let import = Import::tower_sessions(peer.clone()).signed(&peer_key());
    let app = start_importing(framework, Store::Redis, import)
        .await
        .unwrap();
    imports_nothing(&app, &plain).await;
    assert_eq!(peer.loads(), 0);
    let signed = actix_login(false, Flavour::Signed, &peer_key()).await;
    refused_by_a_private_cookie_store(framework, &signed).await;
}

/// A tower-sessions record that expired, still in its SQLite table.
async fn expired(framework: Framework) {
    use std::collections::HashMap;
    use tower_sessions::SessionStore;
    use tower_sessions::cookie::time::{Duration, OffsetDateTime};
    use tower_sessions::session::{Id, Record};

    let sqlite = sqlite_url();
    let pool = gimlet_sql::sqlx::SqlitePool::connect(&sqlite)
        .await
        .unwrap();
    let store = tower_sessions_sqlx_store::SqliteStore::new(pool);
    store.migrate().await.unwrap();
    let mut record = Record {
        id: Id::default(),
        data: HashMap::from([("user".to_owned(), serde_json::json!("ana"))]),
        expiry_date: OffsetDateTime::now_utc() - Duration::hours(1),
    };
    store.create(&mut record).await.unwrap();
    let peer = Counted::new(gimlet_sql::SqlPeerStore::connect(&sqlite).await.unwrap());
    let import = Import::tower_sessions(peer.clone());
    let app = start_importing(framework, Store::Sqlite, import)
        .await
        .unwrap();
    imports_nothing(&app, &format!("id={}", record.id)).await;
    assert_eq!(peer.loads(), 1);
}

/// A browser that already has a Gimlet session keeps it: the peer's
/// cookie is removed, and its store never read.
async fn never_over_a_gimlet_session(framework: Framework) {
    let (app, cookie, peer) = tower_redis_app(framework, |import| import).await;
    let browser = Browser::new(&app, "other=1");
    assert_eq!(browser.get("/set/user/bob").await.0, 200);
    browser
        .jar
        .add_cookie_str(&format!("{cookie}; Path=/"), &browser.base);
    assert_eq!(browser.get("/get/user").await, (200, "bob".to_owned()));
    assert_eq!(peer.loads(), 0);
    assert!(!browser.cookies().contains(&"id".to_owned()));
    assert_eq!(browser.get("/get/list").await.0, 404);
}

/// A handler that reads no key (`/id`) still has the session imported,
/// at its commit, and the peer's cookie removed.
async fn a_handler_that_reads_no_key(framework: Framework) {
    let (app, cookie, peer) = tower_redis_app(framework, |import| import).await;
    let browser = Browser::new(&app, &cookie);
    assert_eq!(browser.get("/id").await.0, 200);
    assert_eq!(peer.loads(), 1);
    assert!(!browser.cookies().contains(&"id".to_owned()));
    assert_eq!(browser.get("/get/user").await, (200, "ana".to_owned()));
    assert_eq!(peer.loads(), 1);
}

/// A logout before any key is read imports nothing, and removes the
/// peer's cookie: the user is logged out of both.
async fn a_logout_first_imports_nothing(framework: Framework) {
    let (app, cookie, peer) = tower_redis_app(framework, |import| import).await;
    let browser = Browser::new(&app, &cookie);
    assert_eq!(browser.get("/invalidate").await.0, 200);
    assert_eq!(peer.loads(), 0);
    assert!(!browser.cookies().contains(&"id".to_owned()));
    assert_eq!(browser.get("/get/user").await.0, 404);
    assert_eq!(peer.loads(), 0);
}

/// The application's rule places each key, or drops it.
async fn the_rule_places_and_drops_keys(framework: Framework) {
    let (app, cookie, _) = tower_redis_app(framework, |import| {
        import.keys(|key| match key {
            "user" => Some(Placement::new().clientside(true).permanent(true)),
            _ => None,
        })
    })
    .await;
    let browser = Browser::new(&app, &cookie);
    assert_eq!(browser.get("/is_clientside/user").await.1, "true");
    assert_eq!(browser.get("/is_permanent/user").await.1, "true");
    assert_eq!(browser.get("/get/list").await.0, 404);
    assert_eq!(browser.get("/len").await.1, "1");
}

/// With `delete_records`, the peer's record goes once the import is
/// committed.
async fn the_peer_record_is_deleted_when_asked(framework: Framework) {
    let (app, cookie, peer) =
        tower_redis_app(framework, |import| import.delete_records(true)).await;
    let browser = Browser::new(&app, &cookie);
    assert_eq!(browser.get("/get/user").await, (200, "ana".to_owned()));
    let id = cookie.split_once('=').unwrap().1;
    let url = common::server_url("GIMLET_TEST_REDIS_URL", "the import tests").unwrap();
    let store = gimlet_redis::RedisPeerStore::from_url(&url).unwrap();
    let mut waited = 0;
    while store.load(id).await.unwrap().is_some() {
        assert!(waited < 100, "the peer's record is still there");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        waited += 1;
    }
    assert_eq!(peer.deletes.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(browser.get("/get/user").await, (200, "ana".to_owned()));
}

/// A peer store that does not answer: a 503, the peer's cookie kept (the
/// import is tried again on the next request), no Gimlet session made.
async fn a_peer_store_down_is_a_503_and_keeps_the_cookie(framework: Framework) {
    let (cookie, _) = tower_login(TowerStore::Redis, Flavour::Plain, "").await;
    let down = gimlet_redis::RedisPeerStore::from_url("redis://127.0.0.1:1").unwrap();
    let import = Import::tower_sessions(down);
    let app = start_importing(framework, Store::Redis, import)
        .await
        .unwrap();
    let browser = Browser::new(&app, &cookie);
    assert_eq!(browser.get("/get/user").await.0, 503);
    assert_eq!(browser.cookies(), ["id"]);
    assert_eq!(app.counts().commits, 0);
}

macro_rules! on_every_framework {
    ($($test:ident => $body:expr;)*) => {
        $(
            mod $test {
                use super::*;

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn axum() {
                    let framework = Framework::Axum;
                    let body = $body;
                    body(framework).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn actix() {
                    let framework = Framework::Actix;
                    let body = $body;
                    body(framework).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn rocket() {
                    let framework = Framework::Rocket;
                    let body = $body;
                    body(framework).await;
                }
            }
        )*
    };
}

on_every_framework! {
    tower_sessions_redis_plain => |f| tower_sessions(f, TowerStore::Redis, Flavour::Plain);
    tower_sessions_redis_signed => |f| tower_sessions(f, TowerStore::Redis, Flavour::Signed);
    tower_sessions_redis_private => |f| tower_sessions(f, TowerStore::Redis, Flavour::Private);
    tower_sessions_postgres_signed => |f| tower_sessions(f, TowerStore::Postgres, Flavour::Signed);
    tower_sessions_mysql_private => |f| tower_sessions(f, TowerStore::MySql, Flavour::Private);
    tower_sessions_sqlite_plain => |f| tower_sessions(f, TowerStore::Sqlite, Flavour::Plain);
    actix_session_redis_private => |f| actix_session_redis(f, Flavour::Private);
    actix_session_redis_signed => |f| actix_session_redis(f, Flavour::Signed);
    actix_session_cookie_private => |f| actix_session_cookie(f, Flavour::Private);
    actix_session_cookie_signed => |f| actix_session_cookie(f, Flavour::Signed);
    a_tampered_cookie_imports_nothing => tampered;
    a_foreign_key_cookie_imports_nothing => foreign_key;
    a_cookie_in_another_protection_imports_nothing => another_protection;
    an_expired_session_imports_nothing => expired;
    an_import_never_overwrites_a_gimlet_session => never_over_a_gimlet_session;
    a_handler_that_reads_no_key_still_imports => a_handler_that_reads_no_key;
    a_logout_before_the_import_imports_nothing => a_logout_first_imports_nothing;
    the_application_s_rule_places_and_drops_keys => the_rule_places_and_drops_keys;
    the_peer_record_is_deleted_when_asked => the_peer_record_is_deleted_when_asked;
    a_peer_store_down_answers_503_and_keeps_the_cookie => a_peer_store_down_is_a_503_and_keeps_the_cookie;
}
