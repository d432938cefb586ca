//! `gimlet-bench revocation-latency`: how long a copied cookie lives on a
//! second app server process after a logout on the first.
//!
//! For each store, this process is the first app server, and it starts a
//! second one (`gimlet-bench copy-server`), with a pool of its own, on the
//! same store and the default `revalidate_after`. Each round logs a
//! browser in here, hands its `Cookie` header to the copy server, which
//! reads the clientside user id until it is refused; here the logout
//! commits (after a random pause, so that logouts land anywhere between
//! two reads of the log), and the time from its response to the copy's
//! first refused read is taken from the system clock, which both
//! processes share. The copy server also counts its calls to the store
//! while it reads: none.

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use gimlet_core::backend::Backend;
use gimlet_core::backend::feed::POLL_INTERVAL;
use gimlet_core::testing::CountingBackend;
use gimlet_core::{Gimlet, SessionId};
use gimlet_redis::RedisBackend;
use gimlet_sql::{SqlBackend, Tables, sqlx};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const SECRET: &str = "revocation latency secret, 32+ bytes long";

/// A store to measure: its name, and its URL from the environment.
struct Store {
    name: &'static str,
    url: String,
}

fn stores() -> Vec<Store> {
    let var = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    let sqlite = std::env::temp_dir().join(format!("gimlet-latency-{}.db", tag()));
    vec![
        Store {
            name: "redis",
            url: var("GIMLET_TEST_REDIS_URL", "redis://127.0.0.1:6379/"),
        },
        Store {
            name: "redis-cluster",
            url: var(
                "GIMLET_TEST_REDIS_CLUSTER_URL",
                "redis+cluster://127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002",
            ),
        },
        Store {
            name: "postgres",
            url: var(
                "GIMLET_TEST_POSTGRES_URL",
                "postgres://postgres@127.0.0.1:5432/test",
            ),
        },
        Store {
            name: "mysql",
            url: var("GIMLET_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test"),
        },
        Store {
            name: "sqlite",
            url: format!("sqlite://{}?mode=rwc", sqlite.display()),
        },
    ]
}

fn tag() -> String {
    SessionId::generate().expect("rng").to_string()[..10].to_owned()
}

/// The store at `url`, under keys or tables named by `tag`.
async fn backend(url: &str, tag: &str) -> Arc<dyn Backend> {
    if url.starts_with("redis") {
        let store = RedisBackend::from_url(url).expect("a Redis URL");
        return Arc::new(store.prefix(format!("latency-{tag}:")));
    }
    let tables = Tables::new(
        &format!("latency_{tag}_sessions"),
        &format!("latency_{tag}_keys"),
    )
    .expect("table names");
    let store = SqlBackend::builder(url)
        .tables(tables)
        .connect()
        .await
        .expect("the database");
    Arc::new(store)
}

fn gimlet(backend: Arc<dyn Backend>) -> Gimlet {
    Gimlet::builder()
        .secret(SECRET)
        .shared_backend(backend)
        .clientside_keys(["user_id"])
        .build()
        .expect("configuration")
}

async fn until_live(gimlet: &Gimlet) {
    while !format!("{gimlet:?}").contains("feed: \"live\"") {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A random pause shorter than the feed's interval.
fn jitter() -> Duration {
    let random = SessionId::generate().expect("rng").as_bytes()[0];
    POLL_INTERVAL.mul_f64(f64::from(random) / 256.0)
}

fn micros() -> i64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(now.as_micros()).unwrap_or(i64::MAX)
}

async fn user_id(gimlet: &Gimlet, header: &str) -> Option<u32> {
    let s = gimlet.open_from_headers([header]);
    let id = s.get::<u32>("user_id").await.expect("a read");
    gimlet.commit(&s).await.expect("a commit");
    id
}

/// The second app server: reads each `Cookie` header from stdin until it
/// is refused, and answers when, and how many store calls the reads made.
pub(crate) async fn copy_server(url: &str, tag: &str) {
    let counted = Arc::new(CountingBackend::new(backend(url, tag).await));
    let gimlet = gimlet(counted.clone());
    until_live(&gimlet).await;
    let mut out = tokio::io::stdout();
    out.write_all(b"ready\n").await.expect("stdout");
    out.flush().await.expect("stdout");
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(header)) = lines.next_line().await {
        assert_eq!(user_id(&gimlet, &header).await, Some(7), "a logged-in copy");
        counted.reset();
        out.write_all(b"reading\n").await.expect("stdout");
        out.flush().await.expect("stdout");
        while user_id(&gimlet, &header).await.is_some() {
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        let refused = micros();
        let calls = counted.counts().round_trips();
        let line = format!("refused {refused} {calls}\n");
        out.write_all(line.as_bytes()).await.expect("stdout");
        out.flush().await.expect("stdout");
    }
}

/// What one store measured.
struct Measured {
    store: &'static str,
    micros: Vec<i64>,
    calls: usize,
}

/// Runs `rounds` logouts on each store (or those whose name contains
/// `only`) and prints the table.
pub(crate) async fn run(rounds: usize, only: Option<&str>) {
    let mut measured = Vec::new();
    for store in stores() {
        if only.is_some_and(|only| !store.name.contains(only)) {
            continue;
        }
        eprintln!("revocation latency on {}: {rounds} rounds", store.name);
        measured.push(measure(&store, rounds).await);
    }
    println!("| store | rounds | p50 | p99 | max | store calls while reading |");
    println!("|---|---:|---:|---:|---:|---:|");
    for m in &measured {
        let mut sorted = m.micros.clone();
        sorted.sort_unstable();
        let at = |q: f64| {
            let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
            sorted.get(i).copied().unwrap_or_default() as f64 / 1000.0
        };
        println!(
            "| {} | {} | {:.1} ms | {:.1} ms | {:.1} ms | {} |",
            m.store,
            sorted.len(),
            at(0.5),
            at(0.99),
            at(1.0),
            m.calls
        );
    }
}

async fn measure(store: &Store, rounds: usize) -> Measured {
    let tag = tag();
    let first = gimlet(backend(&store.url, &tag).await);
    let exe = std::env::current_exe().expect("this program");
    let mut child = tokio::process::Command::new(exe)
        .args(["copy-server", &store.url, &tag])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the copy server");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut next = async || {
        lines
            .next_line()
            .await
            .expect("the copy server")
            .unwrap_or_default()
    };
    assert_eq!(next().await, "ready");
    let mut measured = Measured {
        store: store.name,
        micros: Vec::with_capacity(rounds),
        calls: 0,
    };
    for _ in 0..rounds {
        let s = first.open_from_headers([]);
        s.set_owner("ada").await.expect("set_owner");
        s.insert("user_id", &7).await.expect("insert");
        let cookies = first.commit(&s).await.expect("login");
        let header: Vec<&str> = cookies.iter().filter_map(|c| c.split(';').next()).collect();
        let header = header.join("; ");
        stdin
            .write_all(format!("{header}\n").as_bytes())
            .await
            .expect("stdin");
        assert_eq!(next().await, "reading");
        // A round starts just after the copy server's feed delivered the
        // last ending: a pause of a random part of the interval, so that
        // logouts land anywhere between two reads of the log.
        tokio::time::sleep(jitter()).await;
        let logout = first.open_from_headers([header.as_str()]);
        logout.invalidate().expect("invalidate");
        first.commit(&logout).await.expect("logout");
        let responded = micros();
        let answer = next().await;
        let mut parts = answer.split(' ').skip(1);
        let refused: i64 = parts.next().and_then(|t| t.parse().ok()).expect("a time");
        let calls: usize = parts.next().and_then(|n| n.parse().ok()).expect("a count");
        measured.micros.push((refused - responded).max(0));
        measured.calls += calls;
    }
    drop(stdin);
    let _ = child.wait().await;
    drop_tables(&store.url, &tag).await;
    measured
}

/// Drops the tables a SQL store's run made.
async fn drop_tables(url: &str, tag: &str) {
    if url.starts_with("redis") {
        return;
    }
    let store = SqlBackend::builder(url)
        .create_tables(false)
        .connect()
        .await
        .expect("the database");
    for table in ["sessions_ended", "sessions_owners", "keys", "sessions"] {
        let sql = format!("DROP TABLE IF EXISTS latency_{tag}_{table}");
        sqlx::query(&sql).execute(store.pool()).await.expect("drop");
    }
}
