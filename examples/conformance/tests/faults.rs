//! Faults on real servers, through the conformance app: a Redis restarted
//! without persistence in the middle of traffic, and a PostgreSQL sessions
//! table emptied by an admin. While a store is down, requests that need it
//! answer 503 within the timeout; once it is back, every session heals on
//! its next request: no run of 409s, no old data.

#![allow(clippy::unwrap_used, clippy::print_stderr)]

mod common;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{App, Framework, Store, own_tables, server_url, start_on};
use gimlet_redis::RedisBackend;
use gimlet_sql::SqlBackend;

const SESSIONS: usize = 20;

/// A `redis-server` of the test's own, without persistence, on a loopback
/// port it binds itself; killed when dropped.
struct RedisServer {
    port: u16,
    child: Option<Child>,
}

impl RedisServer {
    fn start() -> Self {
        // Ports are tried until the server itself binds one: no port is
        // picked by binding and releasing it first.
        for attempt in 0..50u16 {
            let port = 20_000 + (std::process::id() as u16 % 20_000) + attempt * 97;
            let mut server = RedisServer { port, child: None };
            if server.spawn() {
                return server;
            }
        }
        panic!("no loopback port for redis-server");
    }

    /// Starts the server on `self.port`; false if it cannot listen there.
    fn spawn(&mut self) -> bool {
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--port", &self.port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is on the PATH");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Some(Ok(Some(_))) = self.child.as_mut().map(Child::try_wait) {
                self.child = None;
                return false; // exited: the port is taken
            }
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill();
        false
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `SESSIONS` sessions, each with a server-side key `k` and a clientside
/// key `cs` in its transient cookie; answers their `Cookie` headers.
async fn establish(app: &App) -> Vec<String> {
    let b = app.bare();
    let mut headers = Vec::new();
    for i in 0..SESSIONS {
        let first = b.get(&format!("/set/k/{i}")).await.cookie_header();
        let second = b.get_with_cookies(&format!("/set/cs/{i}"), &first).await;
        assert_eq!(second.status, 200);
        headers.push(second.cookie_header());
    }
    for (i, header) in headers.iter().enumerate() {
        assert_eq!(
            b.get_with_cookies("/get/k", header).await.body,
            i.to_string()
        );
    }
    headers
}

/// Every session's next write succeeds on a fresh channel, and reads then
/// see only the new value. Answers how long the first success took.
async fn every_session_heals(app: &App, headers: &[String]) -> Duration {
    let b = app.bare();
    let started = Instant::now();
    let mut first_success = None;
    for (i, header) in headers.iter().enumerate() {
        let reply = loop {
            let reply = b.get_with_cookies(&format!("/set/k/new{i}"), header).await;
            assert_ne!(reply.status, 409, "a lost record locked a session out");
            if reply.status != 503 || started.elapsed() > Duration::from_secs(20) {
                break reply;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(reply.status, 200, "{}", reply.body);
        first_success.get_or_insert_with(|| started.elapsed());
        let healed = reply.cookie_header();
        assert_eq!(
            b.get_with_cookies("/get/k", &healed).await.body,
            format!("new{i}")
        );
        assert_eq!(b.get_with_cookies("/get/cs", &healed).await.status, 404);
        assert_eq!(b.get_with_cookies("/iter", &healed).await.body, "k");
    }
    first_success.unwrap_or_default()
}

fn whitelist(config: &mut gimlet_core::Config) {
    config.clientside_keys = ["cs".to_owned()].into();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restarted_without_persistence_heals_every_session() {
    if server_url("GIMLET_TEST_REDIS_URL", "the Redis restart test").is_none() {
        return;
    }
    let mut redis = RedisServer::start();
    let timeout = Duration::from_millis(500);
    let backend = RedisBackend::from_url_with(&redis.url(), timeout, 4).unwrap();
    let app = start_on(
        Framework::Axum,
        Store::Redis,
        Some(Arc::new(backend)),
        whitelist,
    )
    .await;
    let headers = establish(&app).await;

    redis.kill();
    let b = app.bare();
    for header in headers.iter().take(3) {
        for path in ["/get/k", "/set/k/down"] {
            let started = Instant::now();
            let reply = b.get_with_cookies(path, header).await;
            assert_eq!(reply.status, 503, "{path}: {}", reply.body);
            assert!(
                reply.set_cookies.is_empty(),
                "{path}: {:?}",
                reply.set_cookies
            );
            assert!(
                started.elapsed() < timeout * 2 + Duration::from_secs(1),
                "{path} took {:?}",
                started.elapsed()
            );
        }
    }

    assert!(redis.spawn(), "redis-server restarts on its port");
    let recovery = every_session_heals(&app, &headers).await;
    eprintln!("Redis restart: the first request succeeded {recovery:?} after the restart");
    assert!(recovery < Duration::from_secs(5), "{recovery:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_sessions_emptied_by_an_admin_heal_every_session() {
    let Some(url) = server_url("GIMLET_TEST_POSTGRES_URL", "the PostgreSQL fault test") else {
        return;
    };
    let tables = own_tables();
    let backend = SqlBackend::builder(url)
        .tables(tables.clone())
        .connect()
        .await
        .unwrap();
    let pool = backend.pool().clone();
    let app = start_on(
        Framework::Axum,
        Store::Postgres,
        Some(Arc::new(backend)),
        whitelist,
    )
    .await;
    let headers = establish(&app).await;

    // As an admin would, in the middle of traffic.
    let sql = format!("DELETE FROM {}", tables.sessions());
    gimlet_sql::sqlx::query(&sql).execute(&pool).await.unwrap();

    // A read sees nothing of the old session, and drops its cookie.
    let b = app.bare();
    let read = b.get_with_cookies("/get/k", &headers[0]).await;
    assert_eq!(read.status, 404);
    assert!(read.set_cookies.iter().all(|c| c.contains("Max-Age=0")));
    let recovery = every_session_heals(&app, &headers).await;
    assert!(recovery < Duration::from_secs(1), "{recovery:?}");
}
