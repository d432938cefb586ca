//! Starts every variant in this process, each on its own port.

use std::net::SocketAddr;
use std::sync::Arc;

use gimlet_core::backend::Backend;
use gimlet_core::{Gimlet, MemoryBackend};
use gimlet_redis::RedisBackend;
use gimlet_sql::{SqlBackend, Tables};

use crate::apps::{self, ActixStore};

/// Where the variants' servers are.
#[derive(Debug, Clone)]
pub(crate) struct Urls {
    pub(crate) redis: String,
    pub(crate) postgres: String,
}

/// What a variant is, for the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Bare,
    Gimlet,
    Competitor,
}

/// One server under test.
#[derive(Debug, Clone)]
pub(crate) struct Variant {
    pub(crate) framework: &'static str,
    pub(crate) kind: Kind,
    /// `memory`, `redis`, `postgres`, `sqlite`, `cookie`, or `-`.
    pub(crate) store: &'static str,
    pub(crate) label: String,
    pub(crate) base: String,
}

fn gimlet(backend: Arc<dyn Backend>) -> Gimlet {
    let mut config = gimlet_core::Config::default();
    config.cookie.secure = false;
    config.clientside_keys = ["cs".to_owned()].into();
    config.secret = Some("benchmark secret, thirty-two bytes long".into());
    Gimlet::builder()
        .config(config)
        .shared_backend(backend)
        .build()
        .expect("configuration")
}

async fn gimlet_backend(store: &str, urls: &Urls, framework: &str) -> Arc<dyn Backend> {
    let tables = || {
        Tables::new(
            &format!("bench_{framework}_sessions"),
            &format!("bench_{framework}_keys"),
        )
        .expect("valid")
    };
    match store {
        "memory" => Arc::new(MemoryBackend::new()),
        "redis" => {
            let backend = RedisBackend::from_url(&urls.redis)
                .expect("redis url")
                .prefix(format!("gimlet-bench:{framework}:"))
                .connections(
                    std::env::var("GIMLET_BENCH_REDIS_CONNECTIONS")
                        .ok()
                        .and_then(|n| n.parse().ok())
                        .unwrap_or(gimlet_redis::DEFAULT_CONNECTIONS),
                );
            backend.connect().await.expect("redis");
            Arc::new(backend)
        }
        "postgres" => Arc::new(
            SqlBackend::builder(urls.postgres.clone())
                .tables(tables())
                .connect()
                .await
                .expect("postgres"),
        ),
        _ => {
            let path = std::env::temp_dir().join(format!("gimlet-bench-{framework}.db"));
            let _ = std::fs::remove_file(&path);
            Arc::new(
                SqlBackend::builder(format!("sqlite://{}?mode=rwc", path.display()))
                    .connect()
                    .await
                    .expect("sqlite"),
            )
        }
    }
}

const GIMLET_STORES: [&str; 4] = ["memory", "redis", "postgres", "sqlite"];

async fn serve_axum(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}")
}

fn serve_actix(
    start: impl FnOnce(std::net::TcpListener) -> std::io::Result<actix_web::dev::Server>,
) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = start(listener).expect("actix server");
    std::thread::spawn(move || actix_web::rt::System::new().block_on(server));
    format!("http://{addr}")
}

async fn serve_rocket(build: impl FnOnce(SocketAddr) -> rocket::Rocket<rocket::Build>) -> String {
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr");
    let rocket = build(addr).ignite().await.expect("rocket");
    tokio::spawn(rocket.launch());
    format!("http://{addr}")
}

fn variant(
    framework: &'static str,
    kind: Kind,
    store: &'static str,
    label: &str,
    base: String,
) -> Variant {
    Variant {
        framework,
        kind,
        store,
        label: label.to_owned(),
        base,
    }
}

/// Starts all variants: each framework bare, with Gimlet on four
/// backends, and with its competitor on memory (or cookie) and Redis.
pub(crate) async fn start_all(urls: &Urls) -> Vec<Variant> {
    let mut variants = Vec::new();

    variants.push(variant(
        "axum",
        Kind::Bare,
        "-",
        "bare",
        serve_axum(apps::bare_axum()).await,
    ));
    for store in GIMLET_STORES {
        let gimlet = gimlet(gimlet_backend(store, urls, "axum").await);
        let base = serve_axum(apps::gimlet_axum(gimlet)).await;
        variants.push(variant(
            "axum",
            Kind::Gimlet,
            store,
            &format!("gimlet ({store})"),
            base,
        ));
    }
    let memory = tower_sessions::MemoryStore::default();
    let base = serve_axum(apps::tower_sessions_axum(memory)).await;
    variants.push(variant(
        "axum",
        Kind::Competitor,
        "memory",
        "tower-sessions (MemoryStore)",
        base,
    ));
    let redis =
        tower_sessions_redis_store::RedisStore::new(crate::stats::fred_pool(&urls.redis).await);
    let base = serve_axum(apps::tower_sessions_axum(redis)).await;
    variants.push(variant(
        "axum",
        Kind::Competitor,
        "redis",
        "tower-sessions (RedisStore)",
        base,
    ));

    variants.push(variant(
        "actix",
        Kind::Bare,
        "-",
        "bare",
        serve_actix(|l| apps::actix(ActixStore::Bare, l)),
    ));
    for store in GIMLET_STORES {
        let gimlet = gimlet(gimlet_backend(store, urls, "actix").await);
        let base = serve_actix(|l| apps::gimlet_actix(gimlet, l));
        variants.push(variant(
            "actix",
            Kind::Gimlet,
            store,
            &format!("gimlet ({store})"),
            base,
        ));
    }
    let base = serve_actix(|l| apps::actix(ActixStore::Cookie, l));
    variants.push(variant(
        "actix",
        Kind::Competitor,
        "memory",
        "actix-session (CookieSessionStore)",
        base,
    ));
    let redis = actix_session::storage::RedisSessionStore::new(urls.redis.clone())
        .await
        .expect("actix-session redis");
    let base = serve_actix(|l| apps::actix(ActixStore::Redis(redis), l));
    variants.push(variant(
        "actix",
        Kind::Competitor,
        "redis",
        "actix-session (RedisSessionStore)",
        base,
    ));

    variants.push(variant(
        "rocket",
        Kind::Bare,
        "-",
        "bare",
        serve_rocket(apps::bare_rocket).await,
    ));
    for store in GIMLET_STORES {
        let gimlet = gimlet(gimlet_backend(store, urls, "rocket").await);
        let base = serve_rocket(|addr| apps::gimlet_rocket(gimlet, addr)).await;
        variants.push(variant(
            "rocket",
            Kind::Gimlet,
            store,
            &format!("gimlet ({store})"),
            base,
        ));
    }
    variants
}
