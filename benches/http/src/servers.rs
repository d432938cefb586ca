//! Starts every variant in this process, each on its own port.

use std::net::SocketAddr;
use std::sync::Arc;

use gimlet_core::backend::Backend;
use gimlet_core::{Gimlet, MemoryBackend};
use gimlet_redis::RedisBackend;
use gimlet_sql::{SqlBackend, Tables, sqlx};

use crate::apps::{self, ActixStore};

/// Where the variants' servers are.
#[derive(Debug, Clone)]
pub(crate) struct Urls {
    pub(crate) redis: String,
    pub(crate) postgres: String,
}

impl Urls {
    /// `GIMLET_TEST_REDIS_URL` and `GIMLET_TEST_POSTGRES_URL`, or the local
    /// defaults.
    pub(crate) fn from_env() -> Urls {
        let var =
            |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
        Urls {
            redis: var("GIMLET_TEST_REDIS_URL", "redis://127.0.0.1:6379/"),
            postgres: var(
                "GIMLET_TEST_POSTGRES_URL",
                "postgres://postgres@127.0.0.1:5432/test",
            ),
        }
    }
}

/// What a variant is, for the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Bare,
    Gimlet,
    Competitor,
}

/// A server the benchmarks can start.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cell {
    pub(crate) framework: &'static str,
    pub(crate) kind: Kind,
    /// `memory`, `redis`, `postgres`, `sqlite`, `cookie`, or `-`.
    pub(crate) store: &'static str,
    pub(crate) label: &'static str,
    /// Gimlet with a near cache of records (`near_cache_bytes`).
    pub(crate) near: bool,
}

/// One server under test, started.
#[derive(Debug, Clone)]
pub(crate) struct Variant {
    pub(crate) framework: &'static str,
    pub(crate) kind: Kind,
    /// `memory`, `redis`, `postgres`, `sqlite`, `cookie`, or `-`.
    pub(crate) store: &'static str,
    pub(crate) label: String,
    pub(crate) base: String,
}

impl Cell {
    /// The Redis URL of the cell's own database (so that its keys can be
    /// counted and measured apart): 1 to 7, by framework and layer.
    pub(crate) fn redis_url(&self, urls: &Urls) -> String {
        let db = match (self.framework, self.kind) {
            ("axum", Kind::Gimlet) if self.near => 6,
            ("actix", Kind::Gimlet) if self.near => 7,
            ("axum", Kind::Gimlet) => 1,
            ("axum", _) => 2,
            ("actix", Kind::Gimlet) => 3,
            ("actix", _) => 4,
            _ => 5,
        };
        let (scheme, rest) = urls.redis.split_once("://").expect("a redis URL");
        let host = rest.split('/').next().unwrap_or(rest);
        format!("{scheme}://{host}/{db}")
    }

    /// The cell's SQLite file.
    pub(crate) fn sqlite_path(&self) -> std::path::PathBuf {
        // A near-cache cell's file carries its triggers: a file of its own.
        let layer = match self.kind {
            Kind::Gimlet if self.near => "gimlet-near",
            Kind::Gimlet => "gimlet",
            _ => "peer",
        };
        std::env::temp_dir().join(format!("gimlet-bench-{}-{layer}.db", self.framework))
    }

    /// The cell's PostgreSQL tables, schema-qualified where not `public`.
    pub(crate) fn postgres_tables(&self) -> Vec<String> {
        // A near-cache cell's tables carry its triggers: its own tables.
        let near = if self.near { "_near" } else { "" };
        match self.kind {
            Kind::Gimlet => vec![
                format!("bench_{}{near}_sessions", self.framework),
                format!("bench_{}{near}_keys", self.framework),
            ],
            _ => vec![format!("{TOWER_SCHEMA}.session")],
        }
    }
}

/// The schema of tower-sessions' PostgreSQL table.
const TOWER_SCHEMA: &str = "bench_tower_sessions";

/// The revalidation window of the benchmark's Gimlet servers, in seconds.
pub(crate) const REVALIDATE_AFTER: u64 = 3600;

/// How many bytes of records a near-cache cell keeps: every session of
/// the realistic workload, with room to spare.
const NEAR_CACHE_BYTES: usize = 64 << 20;

fn gimlet(backend: Arc<dyn Backend>, near: bool) -> Gimlet {
    let mut config = gimlet_core::Config::default();
    if near {
        config.near_cache_bytes = NEAR_CACHE_BYTES;
    }
    config.cookie.secure = false;
    config.clientside_keys = ["cs".to_owned(), "user_id".to_owned()].into();
    config.secret = Some("benchmark secret, thirty-two bytes long".into());
    // The realistic workload makes its sessions once, then runs for more
    // than the default 300 s window: past it, every session would be
    // checked at once, which a browser's own traffic spreads over its
    // window. One check per session per window is below what these runs
    // resolve either way.
    config.revalidate_after = std::time::Duration::from_secs(REVALIDATE_AFTER);
    Gimlet::builder()
        .config(config)
        .shared_backend(backend)
        .build()
        .expect("configuration")
}

async fn gimlet_backend(cell: &Cell, urls: &Urls) -> Arc<dyn Backend> {
    match cell.store {
        "memory" => Arc::new(MemoryBackend::new()),
        "redis" => {
            let backend = RedisBackend::from_url(&cell.redis_url(urls))
                .expect("redis url")
                .connections(
                    std::env::var("GIMLET_BENCH_REDIS_CONNECTIONS")
                        .ok()
                        .and_then(|n| n.parse().ok())
                        .unwrap_or(gimlet_redis::DEFAULT_CONNECTIONS),
                );
            backend.connect().await.expect("redis");
            Arc::new(backend)
        }
        "postgres" => {
            let names = cell.postgres_tables();
            let tables = Tables::new(&names[0], &names[1]).expect("valid");
            Arc::new(
                SqlBackend::builder(urls.postgres.clone())
                    .tables(tables)
                    .connect()
                    .await
                    .expect("postgres"),
            )
        }
        _ => Arc::new(
            SqlBackend::builder(sqlite_url(cell))
                .connect()
                .await
                .expect("sqlite"),
        ),
    }
}

/// A new, empty SQLite file for `cell`.
fn sqlite_url(cell: &Cell) -> String {
    let path = cell.sqlite_path();
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    format!("sqlite://{}?mode=rwc", path.display())
}

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

macro_rules! cell {
    ($framework:literal, $kind:ident, $store:literal, $label:literal) => {
        Cell {
            framework: $framework,
            kind: Kind::$kind,
            store: $store,
            label: $label,
            near: false,
        }
    };
    (near $framework:literal, $store:literal, $label:literal) => {
        Cell {
            framework: $framework,
            kind: Kind::Gimlet,
            store: $store,
            label: $label,
            near: true,
        }
    };
}

/// Every server the benchmarks know: each framework bare, with Gimlet on
/// four backends (and on Redis, PostgreSQL and SQLite with a near cache),
/// and with its competitor on memory (or cookie) and Redis.
pub(crate) const CELLS: [Cell; 25] = [
    cell!("axum", Bare, "-", "bare"),
    cell!("axum", Gimlet, "memory", "gimlet (memory)"),
    cell!("axum", Gimlet, "redis", "gimlet (redis)"),
    cell!(near "axum", "redis", "gimlet (redis, near cache)"),
    cell!("axum", Gimlet, "postgres", "gimlet (postgres)"),
    cell!(near "axum", "postgres", "gimlet (postgres, near cache)"),
    cell!("axum", Gimlet, "sqlite", "gimlet (sqlite)"),
    cell!(near "axum", "sqlite", "gimlet (sqlite, near cache)"),
    cell!("axum", Competitor, "memory", "tower-sessions (MemoryStore)"),
    cell!("axum", Competitor, "redis", "tower-sessions (RedisStore)"),
    cell!(
        "axum",
        Competitor,
        "postgres",
        "tower-sessions (PostgresStore)"
    ),
    cell!("axum", Competitor, "sqlite", "tower-sessions (SqliteStore)"),
    cell!("actix", Bare, "-", "bare"),
    cell!("actix", Gimlet, "memory", "gimlet (memory)"),
    cell!("actix", Gimlet, "redis", "gimlet (redis)"),
    cell!(near "actix", "redis", "gimlet (redis, near cache)"),
    cell!("actix", Gimlet, "postgres", "gimlet (postgres)"),
    cell!("actix", Gimlet, "sqlite", "gimlet (sqlite)"),
    cell!(
        "actix",
        Competitor,
        "memory",
        "actix-session (CookieSessionStore)"
    ),
    cell!(
        "actix",
        Competitor,
        "redis",
        "actix-session (RedisSessionStore)"
    ),
    cell!("rocket", Bare, "-", "bare"),
    cell!("rocket", Gimlet, "memory", "gimlet (memory)"),
    cell!("rocket", Gimlet, "redis", "gimlet (redis)"),
    cell!("rocket", Gimlet, "postgres", "gimlet (postgres)"),
    cell!("rocket", Gimlet, "sqlite", "gimlet (sqlite)"),
];

/// Starts `cell`'s server in this process, and answers its base URL.
pub(crate) async fn start(cell: &Cell, urls: &Urls) -> String {
    let framework = cell.framework;
    if cell.kind == Kind::Gimlet {
        let gimlet = gimlet(gimlet_backend(cell, urls).await, cell.near);
        return match framework {
            "axum" => serve_axum(apps::gimlet_axum(gimlet)).await,
            "actix" => serve_actix(|l| apps::gimlet_actix(gimlet, l)),
            _ => serve_rocket(|addr| apps::gimlet_rocket(gimlet, addr)).await,
        };
    }
    match (framework, cell.kind, cell.store) {
        ("axum", Kind::Bare, _) => serve_axum(apps::bare_axum()).await,
        ("axum", Kind::Competitor, "memory") => {
            let memory = tower_sessions::MemoryStore::default();
            serve_axum(apps::tower_sessions_axum(memory)).await
        }
        ("axum", Kind::Competitor, "redis") => {
            let pool = crate::stats::fred_pool(&cell.redis_url(urls)).await;
            let redis = tower_sessions_redis_store::RedisStore::new(pool);
            serve_axum(apps::tower_sessions_axum(redis)).await
        }
        ("axum", Kind::Competitor, "postgres") => {
            use tower_sessions_sqlx_store::PostgresStore;
            let pool = sqlx::PgPool::connect(&urls.postgres)
                .await
                .expect("postgres");
            let store = PostgresStore::new(pool)
                .with_schema_name(TOWER_SCHEMA)
                .expect("valid schema");
            store.migrate().await.expect("tower-sessions tables");
            serve_axum(apps::tower_sessions_axum(store)).await
        }
        ("axum", Kind::Competitor, _) => {
            use tower_sessions_sqlx_store::SqliteStore;
            let pool = sqlx::SqlitePool::connect(&sqlite_url(cell))
                .await
                .expect("sqlite");
            let store = SqliteStore::new(pool);
            store.migrate().await.expect("tower-sessions table");
            serve_axum(apps::tower_sessions_axum(store)).await
        }
        ("actix", Kind::Bare, _) => serve_actix(|l| apps::actix(ActixStore::Bare, l)),
        ("actix", Kind::Competitor, "memory") => {
            serve_actix(|l| apps::actix(ActixStore::Cookie, l))
        }
        ("actix", Kind::Competitor, _) => {
            let redis = actix_session::storage::RedisSessionStore::new(cell.redis_url(urls))
                .await
                .expect("actix-session redis");
            serve_actix(|l| apps::actix(ActixStore::Redis(redis), l))
        }
        (_, Kind::Bare, _) => serve_rocket(apps::bare_rocket).await,
        _ => panic!("no server for {cell:?}"),
    }
}

/// Starts every cell, each on its own port.
pub(crate) async fn start_all(urls: &Urls) -> Vec<Variant> {
    let mut variants = Vec::new();
    for cell in &CELLS {
        let base = start(cell, urls).await;
        variants.push(Variant {
            framework: cell.framework,
            kind: cell.kind,
            store: cell.store,
            label: cell.label.to_owned(),
            base,
        });
    }
    variants
}
