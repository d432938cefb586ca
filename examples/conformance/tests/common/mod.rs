//! Starts the conformance app, in this process, on one framework and one
//! backend, with a counting wrapper around the backend; and a browser (a
//! real HTTP client with a cookie jar) to talk to it.

#![allow(dead_code, unreachable_pub, clippy::print_stderr, clippy::unwrap_used)]

pub mod process;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use gimlet_conformance::{apps, settings};
use gimlet_core::backend::Backend;
use gimlet_core::backend::{Batch, Op};
use gimlet_core::cookie::CookieCodec;
use gimlet_core::testing::{CountingBackend, Counts};
use gimlet_core::{Config, Secret, SessionId};
use gimlet_sql::Tables;
use reqwest::header::{COOKIE, SET_COOKIE};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framework {
    Axum,
    Actix,
    Rocket,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    None,
    Memory,
    Sqlite,
    Redis,
    RedisCluster,
    RedisSentinel,
    Rediss,
    RedissCluster,
    Postgres,
    MySql,
    Memcached,
    MemcachedRing,
}

impl Store {
    pub fn has_backend(self) -> bool {
        self != Store::None
    }
}

pub const SECRET: &str = "conformance suite secret, thirty-two bytes";

fn unique() -> String {
    SessionId::generate().unwrap().to_string()[..12].to_owned()
}

pub fn server_url(var: &str, what: &str) -> Option<String> {
    gimlet_core::conformance::server_url(var, what)
}

pub fn own_tables() -> Tables {
    let tag = unique();
    Tables::new(
        &format!("gimlet_h{tag}_sessions"),
        &format!("gimlet_h{tag}_keys"),
    )
    .unwrap()
}

/// The store's backend, with keys or tables of its own (through the app's
/// own `settings::backend_in`), or `Err(())` if its server is not
/// configured.
async fn backend(store: Store) -> Result<Option<Arc<dyn Backend>>, ()> {
    let sqlite = || {
        let path = std::env::temp_dir().join(format!("gimlet-http-{}.db", unique()));
        format!("sqlite://{}?mode=rwc", path.display())
    };
    let server = |var: &str| server_url(var, "this test").ok_or(());
    let spec = match store {
        Store::None => "none".to_owned(),
        Store::Memory => "memory".to_owned(),
        Store::Sqlite => sqlite(),
        Store::Redis => server("GIMLET_TEST_REDIS_URL")?,
        Store::RedisCluster => server("GIMLET_TEST_REDIS_CLUSTER_URL")?,
        Store::RedisSentinel => server("GIMLET_TEST_REDIS_SENTINEL_URL")?,
        Store::Rediss => server("GIMLET_TEST_REDISS_URL")?,
        Store::RedissCluster => server("GIMLET_TEST_REDISS_CLUSTER_URL")?,
        Store::Postgres => server("GIMLET_TEST_POSTGRES_URL")?,
        Store::MySql => server("GIMLET_TEST_MYSQL_URL")?,
        Store::Memcached => server("GIMLET_TEST_MEMCACHED_URL")?,
        Store::MemcachedRing => server("GIMLET_TEST_MEMCACHED_RING_URL")?,
    };
    let namespace = format!("gimlet_h{}", unique());
    Ok(settings::backend_in(&spec, Some(&namespace)).await.unwrap())
}

/// A running app; stopped when dropped.
pub struct App {
    pub base: String,
    pub store: Store,
    pub framework: Framework,
    counting: Option<Arc<CountingBackend<Arc<dyn Backend>>>>,
    stop: Option<Box<dyn FnOnce() + Send>>,
}

impl Drop for App {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            stop();
        }
    }
}

impl App {
    /// Backend calls since the last reset (zero without a backend).
    pub fn counts(&self) -> Counts {
        self.counting
            .as_ref()
            .map(|c| c.counts())
            .unwrap_or_default()
    }

    pub fn reset_counts(&self) {
        if let Some(c) = &self.counting {
            c.reset();
        }
    }

    /// Every key any commit has written or removed.
    pub fn keys_written(&self) -> Vec<String> {
        let Some(c) = &self.counting else {
            return Vec::new();
        };
        c.batches()
            .iter()
            .flat_map(|b| b.ops.iter())
            .flat_map(|op| match op {
                gimlet_core::backend::Op::Write(w) => w
                    .set
                    .iter()
                    .map(|(k, _)| k.clone())
                    .chain(w.remove.iter().cloned())
                    .collect(),
                gimlet_core::backend::Op::Delete(_) | gimlet_core::backend::Op::Retire(_) => {
                    Vec::new()
                }
            })
            .collect()
    }

    /// The expiry of every record the last commit wrote, in Unix seconds.
    pub fn expiries_written(&self) -> Vec<u64> {
        let Some(c) = &self.counting else {
            return Vec::new();
        };
        let batch = c.last_batch().unwrap_or_default();
        batch
            .ops
            .iter()
            .filter_map(|op| match op {
                Op::Write(w) => Some(w.expires_at),
                Op::Delete(_) | Op::Retire(_) => None,
            })
            .collect()
    }

    /// Deletes the records behind the cookies of `cookie_header` straight
    /// in the store, as a flush, a restart without persistence, an eviction
    /// or an admin would.
    pub async fn lose_records(&self, cookie_header: &str) {
        let codec = CookieCodec::new(&[Secret::new(SECRET)], &[], false).unwrap();
        let ops = cookie_header
            .split("; ")
            .filter_map(|pair| pair.split_once('='))
            .map(|(name, value)| Op::Delete(codec.decode(name, value).unwrap().id()))
            .collect();
        let counting = self.counting.as_ref().expect("a backend");
        counting.inner().commit(&Batch { ops }).await.unwrap();
    }

    /// A browser with an empty cookie jar.
    pub fn browser(&self) -> Browser {
        Browser {
            client: reqwest::Client::builder()
                .cookie_store(true)
                .build()
                .unwrap(),
            base: self.base.clone(),
        }
    }

    /// A client that sends exactly the cookies it is told to.
    pub fn bare(&self) -> Browser {
        Browser {
            client: reqwest::Client::new(),
            base: self.base.clone(),
        }
    }
}

/// One response.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: String,
    pub set_cookies: Vec<String>,
    pub headers: reqwest::header::HeaderMap,
}

impl Reply {
    /// The `name=value` pairs of the cookies set, as a `Cookie` header.
    pub fn cookie_header(&self) -> String {
        self.set_cookies
            .iter()
            .filter(|c| !c.contains("Max-Age=0"))
            .map(|c| c.split(';').next().unwrap().to_owned())
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Every value of the header `name`, joined with `, `.
    pub fn header(&self, name: &str) -> String {
        self.headers
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect::<Vec<_>>()
            .join(", ")
    }

    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.set_cookies
            .iter()
            .map(String::as_str)
            .find(|c| c.starts_with(&format!("{name}=")))
    }
}

pub struct Browser {
    client: reqwest::Client,
    base: String,
}

impl Browser {
    pub async fn get(&self, path: &str) -> Reply {
        self.send(path, None).await
    }

    pub async fn get_with_cookies(&self, path: &str, cookie: &str) -> Reply {
        self.send(path, Some(cookie)).await
    }

    async fn send(&self, path: &str, cookie: Option<&str>) -> Reply {
        let mut request = self.client.get(format!("{}{path}", self.base));
        if let Some(cookie) = cookie {
            request = request.header(COOKIE, cookie);
        }
        let response = request.send().await.unwrap();
        let set_cookies = response
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        let headers = response.headers().clone();
        Reply {
            status: response.status().as_u16(),
            body: response.text().await.unwrap(),
            set_cookies,
            headers,
        }
    }

    /// The body of a request that must answer 200.
    pub async fn ok(&self, path: &str) -> String {
        let reply = self.get(path).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.body);
        reply.body
    }
}

/// Launches `rocket`, configured for port 0, and answers the address it
/// bound (its liftoff reports it) and its shutdown handle.
pub async fn launch_rocket(
    rocket: rocket::Rocket<rocket::Build>,
) -> (SocketAddr, rocket::Shutdown) {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let tx = std::sync::Mutex::new(Some(tx));
    let rocket = rocket
        .attach(rocket::fairing::AdHoc::on_liftoff("bound", move |rocket| {
            let config = rocket.config();
            let addr = SocketAddr::new(config.address, config.port);
            if let Some(tx) = tx.lock().unwrap().take() {
                let _ = tx.send(addr);
            }
            Box::pin(async {})
        }))
        .ignite()
        .await
        .unwrap();
    let shutdown = rocket.shutdown();
    tokio::spawn(rocket.launch());
    (rx.await.unwrap(), shutdown)
}

async fn wait_until_listening(addr: SocketAddr) {
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the app did not start listening on {addr}");
}

/// Starts the app on `framework` and `store`, with the suite's settings
/// changed by `configure`. `None` when the store's server is not
/// configured (the test is then skipped, and says so).
pub async fn start(
    framework: Framework,
    store: Store,
    configure: impl FnOnce(&mut Config),
) -> Option<App> {
    let backend = backend(store).await.ok()?;
    Some(start_on(framework, store, backend, configure).await)
}

/// Starts the app on `framework` and `store`, importing the sessions of
/// `import`. `None` when the store's server is not configured.
pub async fn start_importing(
    framework: Framework,
    store: Store,
    import: gimlet_core::import::Import,
) -> Option<App> {
    let backend = backend(store).await.ok()?;
    Some(start_with(framework, store, backend, Some(import), |_| {}).await)
}

/// Starts the app on `framework` with a backend of the test's own.
pub async fn start_on(
    framework: Framework,
    store: Store,
    backend: Option<Arc<dyn Backend>>,
    configure: impl FnOnce(&mut Config),
) -> App {
    start_with(framework, store, backend, None, configure).await
}

async fn start_with(
    framework: Framework,
    store: Store,
    backend: Option<Arc<dyn Backend>>,
    import: Option<gimlet_core::import::Import>,
    configure: impl FnOnce(&mut Config),
) -> App {
    let counting = backend.map(|b| Arc::new(CountingBackend::new(b)));
    let mut config =
        settings::from_lookup(|name| (name == "GIMLET_SECRET").then(|| SECRET.to_owned()))
            .unwrap()
            .config;
    configure(&mut config);
    let shared = counting.clone().map(|c| c as Arc<dyn Backend>);
    let gimlet = settings::gimlet(config, shared, import).unwrap();
    // What the requests cost must not depend on whether the revocation
    // feed has caught up yet.
    assert!(
        gimlet
            .feed_caught_up(std::time::Duration::from_secs(10))
            .await
    );

    let (addr, stop): (SocketAddr, Box<dyn FnOnce() + Send>) = match framework {
        Framework::Axum => {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let task = tokio::spawn(apps::serve_axum(gimlet, listener));
            (addr, Box::new(move || task.abort()))
        }
        Framework::Actix => {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let server = apps::actix_server(gimlet, listener).unwrap();
            let handle = server.handle();
            std::thread::spawn(move || actix_web::rt::System::new().block_on(server));
            let stop = move || {
                std::thread::spawn(move || {
                    actix_web::rt::System::new().block_on(handle.stop(false));
                });
            };
            (addr, Box::new(stop))
        }
        Framework::Rocket => {
            let any = SocketAddr::from(([127, 0, 0, 1], 0));
            let (addr, shutdown) = launch_rocket(apps::rocket_app(gimlet, any)).await;
            (addr, Box::new(move || shutdown.notify()))
        }
    };
    wait_until_listening(addr).await;
    App {
        base: format!("http://{addr}"),
        store,
        framework,
        counting,
        stop: Some(stop),
    }
}
