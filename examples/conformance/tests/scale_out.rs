//! Many app servers on one store, no sticky sessions: three app processes
//! (one per framework) behind an imaginary round-robin balancer, on Redis
//! Cluster and on PostgreSQL. One browser's requests go to each in turn.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::process::{BINARIES, Running, run};
use reqwest::cookie::{CookieStore, Jar};

const SECRET: &str = "scale-out test secret, thirty-two bytes";

/// The revalidation window the servers run with (seconds).
const WINDOW: u64 = 1;

struct Servers {
    apps: Vec<Running>,
    jar: Arc<Jar>,
    browser: reqwest::Client,
}

impl Servers {
    async fn start(backend: String) -> Servers {
        Servers::start_with(backend, 0).await
    }

    /// Each app server with a near cache of `near_cache_bytes`.
    async fn start_with(backend: String, near_cache_bytes: usize) -> Servers {
        let env = [
            ("GIMLET_BACKEND", backend),
            ("GIMLET_SECRET", SECRET.to_owned()),
            ("GIMLET_CLIENTSIDE_KEYS", "user".to_owned()),
            ("GIMLET_REVALIDATE_AFTER", WINDOW.to_string()),
            ("GIMLET_NEAR_CACHE_BYTES", near_cache_bytes.to_string()),
        ];
        // One after the other: the first creates the SQL tables.
        let mut apps = Vec::new();
        for binary in BINARIES {
            apps.push(run(binary, &env).await);
        }
        let jar = Arc::new(Jar::default());
        let browser = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .build()
            .unwrap();
        Servers { apps, jar, browser }
    }

    /// `GET path` on server `n` (mod 3) with the browser's cookies.
    async fn get(&self, n: usize, path: &str) -> (u16, String) {
        let url = format!("{}{path}", self.apps[n % 3].base);
        let response = self.browser.get(url).send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// The browser's `Cookie` header, as someone who copied it would send it.
    fn copied_cookie(&self) -> String {
        let url = self.apps[0].base.parse().unwrap();
        let header = self.jar.cookies(&url).unwrap();
        header.to_str().unwrap().to_owned()
    }

    /// `GET path` on server `n` with a given `Cookie` header.
    async fn replay(&self, n: usize, path: &str, cookie: &str) -> (u16, String) {
        let url = format!("{}{path}", self.apps[n % 3].base);
        let response = reqwest::Client::new()
            .get(url)
            .header("cookie", cookie)
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }
}

/// `near`: the servers keep records near, so a copy's server data goes
/// when each hears the logout, not at once.
async fn one_session_across_three_servers(servers: Servers, near: bool) {
    let ok = (200, "ok".to_owned());

    // Every request sees the previous one's writes, on another server.
    assert_eq!(servers.get(0, "/set/user/ada").await, ok);
    for i in 0..9 {
        assert_eq!(servers.get(i, &format!("/set/k{i}/v{i}")).await, ok);
        assert_eq!(
            servers.get(i + 1, &format!("/get/k{i}")).await,
            (200, format!("v{i}"))
        );
        assert_eq!(servers.get(i + 2, "/len").await, (200, (i + 2).to_string()));
    }

    // Fifty writers at once, to distinct keys, through all three servers.
    let mut writers = tokio::task::JoinSet::new();
    for i in 0..50 {
        let browser = servers.browser.clone();
        let url = format!("{}/set/w{i}/{i}", servers.apps[i % 3].base);
        writers.spawn(async move {
            let response = browser.get(url).send().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        });
    }
    for reply in writers.join_all().await {
        assert_eq!(reply, ok);
    }
    for n in 0..3 {
        let (status, keys) = servers.get(n, "/iter").await;
        assert_eq!(status, 200);
        let mut expected: Vec<String> = (0..9).map(|i| format!("k{i}")).collect();
        expected.extend((0..50).map(|i| format!("w{i}")));
        expected.push("user".into());
        expected.sort();
        assert_eq!(keys.lines().collect::<Vec<_>>(), expected, "server {n}");
    }

    // A logout through one server ends the session on the others: the
    // server-side data at once (without a near cache), the clientside data
    // within the window.
    let copied = servers.copied_cookie();
    assert_eq!(
        servers.replay(2, "/get/user", &copied).await,
        (200, "ada".into())
    );
    assert_eq!(servers.get(0, "/invalidate").await, ok);
    for n in 1..3 {
        if near {
            // A record kept near goes when the app server hears the
            // ending, as the clientside data does.
            let started = std::time::Instant::now();
            while servers.replay(n, "/get/k0", &copied).await.0 != 404 {
                assert!(started.elapsed() < Duration::from_secs(5), "server {n}");
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            continue;
        }
        assert_eq!(
            servers.replay(n, "/get/k0", &copied).await.0,
            404,
            "server {n}"
        );
    }
    tokio::time::sleep(Duration::from_secs(WINDOW + 1)).await;
    for n in 1..3 {
        assert_eq!(
            servers.replay(n, "/get/user", &copied).await.0,
            404,
            "server {n}"
        );
        assert_eq!(servers.replay(n, "/len", &copied).await, (200, "0".into()));
    }
    // And the browser that logged out starts afresh everywhere.
    assert_eq!(servers.get(1, "/len").await, (200, "0".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_servers_share_one_session_on_a_redis_cluster() {
    let var = "GIMLET_TEST_REDIS_CLUSTER_URL";
    if let Some(url) = common::server_url(var, "three servers on a Redis Cluster") {
        one_session_across_three_servers(Servers::start(url).await, false).await;
    }
}

/// The same with a near cache on every app server: each reads what the
/// browser wrote through another at once (its write token), and what the
/// fifty writers wrote.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_servers_with_near_caches_share_one_session_on_a_redis_cluster() {
    let var = "GIMLET_TEST_REDIS_CLUSTER_URL";
    let test = "three servers with near caches on a Redis Cluster";
    if let Some(url) = common::server_url(var, test) {
        let servers = Servers::start_with(url, 16 << 20).await;
        one_session_across_three_servers(servers, true).await;
    }
}

/// The same with near caches on PostgreSQL, told of changes by triggers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_servers_with_near_caches_share_one_session_on_postgres() {
    let var = "GIMLET_TEST_POSTGRES_URL";
    let test = "three servers with near caches on PostgreSQL";
    if let Some(url) = common::server_url(var, test) {
        let servers = Servers::start_with(url, 16 << 20).await;
        one_session_across_three_servers(servers, true).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_servers_share_one_session_on_postgres() {
    let var = "GIMLET_TEST_POSTGRES_URL";
    if let Some(url) = common::server_url(var, "three servers on PostgreSQL") {
        one_session_across_three_servers(Servers::start(url).await, false).await;
    }
}
