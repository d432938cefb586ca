//! The peers, for real: tower-sessions (on axum) and actix-session (on
//! actix-web) each serve `/login`, which puts `user = "ana"` and `list =
//! ["itsy", "bitsy"]` in their session, and the test keeps the cookie
//! they set. And each peer's store, as Gimlet's import reads it, with
//! its calls counted.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use gimlet_core::backend::BackendError;
use gimlet_core::import::PeerStore;
use gimlet_sql::sqlx;
use tokio::sync::OnceCell;

use crate::common::server_url;

/// The peers' cookie key (`cookie::Key::from` of these 64 bytes).
pub fn peer_key() -> Vec<u8> {
    (0..64u8)
        .map(|i| i.wrapping_mul(37).wrapping_add(11))
        .collect()
}

/// How a peer protects its cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    Plain,
    Signed,
    Private,
}

/// tower-sessions' stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TowerStore {
    Redis,
    Postgres,
    MySql,
    Sqlite,
}

/// A peer's store as Gimlet reads it, with its calls counted.
#[derive(Debug, Clone)]
pub struct Counted {
    inner: Arc<dyn PeerStore>,
    pub loads: Arc<AtomicUsize>,
    pub deletes: Arc<AtomicUsize>,
}

impl Counted {
    pub fn new(inner: impl PeerStore) -> Self {
        Counted {
            inner: Arc::new(inner),
            loads: Arc::default(),
            deletes: Arc::default(),
        }
    }

    pub fn loads(&self) -> usize {
        self.loads.load(Ordering::SeqCst)
    }
}

#[gimlet_core::async_trait]
impl PeerStore for Counted {
    async fn load(&self, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        self.inner.load(key).await
    }

    async fn delete(&self, key: &str) -> Result<(), BackendError> {
        self.deletes.fetch_add(1, Ordering::SeqCst);
        self.inner.delete(key).await
    }
}

fn url(var: &str) -> String {
    server_url(var, "the import tests").expect("the peer's server")
}

/// A SQLite file of its own.
pub fn sqlite_url() -> String {
    let tag = gimlet_core::SessionId::generate().unwrap().to_string();
    let path = std::env::temp_dir().join(format!("gimlet-import-{}.db", &tag[..12]));
    format!("sqlite://{}?mode=rwc", path.display())
}

/// The `Set-Cookie` value's `name=value`.
fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().trim().to_owned()
}

async fn get(addr: SocketAddr, path: &str) -> reqwest::Response {
    reqwest::get(format!("http://{addr}{path}")).await.unwrap()
}

/// The peer's cookie from `/login`'s response.
fn cookie_of(response: &reqwest::Response) -> String {
    let set_cookie = response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|c| c.starts_with("id="))
        .expect("the peer's cookie");
    pair(set_cookie)
}

/// tower-sessions' tables, created once per process: two tests creating
/// a schema at the same time can collide.
static POSTGRES_TABLES: OnceCell<()> = OnceCell::const_new();
static MYSQL_TABLES: OnceCell<()> = OnceCell::const_new();

/// Logs in on tower-sessions over `store` (at `sqlite` for SQLite) with
/// `flavour`, and answers its cookie (`id=…`) and what Gimlet reads the
/// store with.
pub async fn tower_login(store: TowerStore, flavour: Flavour, sqlite: &str) -> (String, Counted) {
    use tower_sessions_sqlx_store::{MySqlStore, PostgresStore, SqliteStore};
    match store {
        TowerStore::Redis => {
            let url = url("GIMLET_TEST_REDIS_URL");
            let pool = redis_pool(&url).await;
            let cookie =
                serve_tower(tower_sessions_redis_store::RedisStore::new(pool), flavour).await;
            (
                cookie,
                Counted::new(gimlet_redis::RedisPeerStore::from_url(&url).unwrap()),
            )
        }
        TowerStore::Postgres => {
            let url = url("GIMLET_TEST_POSTGRES_URL");
            let pool = sqlx::PgPool::connect(&url).await.unwrap();
            let store = PostgresStore::new(pool);
            POSTGRES_TABLES
                .get_or_init(|| async { store.migrate().await.unwrap() })
                .await;
            let cookie = serve_tower(store, flavour).await;
            (
                cookie,
                Counted::new(gimlet_sql::SqlPeerStore::connect(url).await.unwrap()),
            )
        }
        TowerStore::MySql => {
            let url = url("GIMLET_TEST_MYSQL_URL");
            let pool = sqlx::MySqlPool::connect(&url).await.unwrap();
            let store = MySqlStore::new(pool);
            MYSQL_TABLES
                .get_or_init(|| async { store.migrate().await.unwrap() })
                .await;
            let cookie = serve_tower(store, flavour).await;
            (
                cookie,
                Counted::new(gimlet_sql::SqlPeerStore::connect(url).await.unwrap()),
            )
        }
        TowerStore::Sqlite => {
            let pool = sqlx::SqlitePool::connect(sqlite).await.unwrap();
            let store = SqliteStore::new(pool);
            store.migrate().await.unwrap();
            let cookie = serve_tower(store, flavour).await;
            let peer = gimlet_sql::SqlPeerStore::connect(sqlite).await.unwrap();
            (cookie, Counted::new(peer))
        }
    }
}

pub async fn redis_pool(url: &str) -> tower_sessions_redis_store::fred::prelude::Pool {
    use tower_sessions_redis_store::fred::prelude::{ClientLike, Config, Pool};
    let pool = Pool::new(Config::from_url(url).unwrap(), None, None, None, 1).unwrap();
    pool.init().await.unwrap();
    pool
}

/// tower-sessions on axum over `store`: `/login`'s cookie.
async fn serve_tower<S>(store: S, flavour: Flavour) -> String
where
    S: tower_sessions::SessionStore + Clone,
{
    use tower_sessions::cookie::Key;
    use tower_sessions::{Session, SessionManagerLayer};

    async fn login(session: Session) -> &'static str {
        session.insert("user", "ana").await.unwrap();
        session.insert("list", ["itsy", "bitsy"]).await.unwrap();
        "ok"
    }
    let key = Key::from(&peer_key());
    let layer = SessionManagerLayer::new(store).with_secure(false);
    let app = axum::Router::new().route("/login", axum::routing::get(login));
    let app = match flavour {
        Flavour::Plain => app.layer(layer),
        Flavour::Signed => app.layer(layer.with_signed(key)),
        Flavour::Private => app.layer(layer.with_private(key)),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let response = get(addr, "/login").await;
    assert_eq!(response.status(), 200);
    server.abort();
    cookie_of(&response)
}

/// actix-session on actix-web, over its `RedisSessionStore` (`redis`) or
/// its `CookieSessionStore`: `/login`'s cookie, made under `key`.
pub async fn actix_login(redis: bool, flavour: Flavour, key: &[u8]) -> String {
    use actix_session::config::CookieContentSecurity;
    use actix_session::storage::{CookieSessionStore, RedisSessionStore};
    use actix_web::cookie::Key;

    let security = match flavour {
        Flavour::Signed => CookieContentSecurity::Signed,
        _ => CookieContentSecurity::Private,
    };
    let key = Key::from(key);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let redis_url = redis.then(|| url("GIMLET_TEST_REDIS_URL"));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let redis = match redis_url {
                Some(url) => Some(RedisSessionStore::new(url).await.unwrap()),
                None => None,
            };
            let server = match redis {
                Some(redis) => actix_server(move || redis.clone(), key, security, listener),
                None => actix_server(CookieSessionStore::default, key, security, listener),
            };
            tx.send(server.handle()).unwrap();
            server.await
        })
    });
    let handle = rx.recv().unwrap();
    let response = get(addr, "/login").await;
    assert_eq!(response.status(), 200);
    handle.stop(false).await;
    cookie_of(&response)
}

/// actix-web with actix-session over the stores `store` makes.
fn actix_server<S: actix_session::storage::SessionStore + 'static>(
    store: impl Fn() -> S + Send + Clone + 'static,
    key: actix_web::cookie::Key,
    security: actix_session::config::CookieContentSecurity,
    listener: std::net::TcpListener,
) -> actix_web::dev::Server {
    use actix_session::{Session, SessionMiddleware};
    use actix_web::{App, HttpServer, web};

    async fn login(session: Session) -> &'static str {
        session.insert("user", "ana").unwrap();
        session.insert("list", ["itsy", "bitsy"]).unwrap();
        "ok"
    }
    HttpServer::new(move || {
        App::new()
            .wrap(
                SessionMiddleware::builder(store(), key.clone())
                    .cookie_secure(false)
                    .cookie_content_security(security)
                    .build(),
            )
            .route("/login", web::get().to(login))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run()
}
