//! Memory: what a session costs in `MemoryBackend` against tower-sessions'
//! `MemoryStore`, and the resident size of a conformance app holding a
//! million sessions.
//!
//! Each store is filled in a process of its own (this binary, run again
//! with `memory-fill`), and the cost is the growth of the process's
//! resident set over the sessions made: allocator overhead included, as a
//! user would see it.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gimlet_core::{Gimlet, MemoryBackend};

use crate::client::{self, Client};

/// The resident set of process `pid` (`self` for this one), in bytes.
fn resident(pid: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .expect("VmRSS")
        * 1024
}

/// The typical session of the realistic workload: a user id and a cart of
/// three items.
fn cart() -> Vec<String> {
    ["gin", "lime", "tonic"].map(str::to_owned).to_vec()
}

/// The `memory-fill` mode: makes `sessions` sessions in `store` (`gimlet`
/// or `tower`) and prints the resident growth per session, then the
/// store's own estimate if it has one.
pub(crate) async fn fill(store: &str, sessions: usize) {
    let before = resident("self");
    let estimate = match store {
        "revocations" => {
            // The ids of a window's endings, as one app server holds them.
            let revocations = gimlet_core::backend::Revocations::new(
                300,
                std::sync::Arc::new(gimlet_core::SystemClock),
            );
            for _ in 0..sessions / 1000 {
                let ids = (0..1000).map(|_| gimlet_core::SessionId::generate().expect("rng"));
                revocations.revoke(ids);
            }
            assert_eq!(revocations.len(), sessions / 1000 * 1000);
            // Measured while the set is alive.
            let grown = resident("self").saturating_sub(before) as f64 / sessions as f64;
            println!("{grown:.0} -");
            return;
        }
        "gimlet" | "near-cache" => {
            let near = store == "near-cache";
            let backend = std::sync::Arc::new(MemoryBackend::with_capacity(sessions));
            let gimlet = Gimlet::builder()
                .secret("benchmark secret, thirty-two bytes long")
                .clientside_keys(["user_id"])
                .shared_backend(backend.clone())
                .near_cache_bytes(if near { usize::MAX } else { 0 })
                .build()
                .expect("configuration");
            for n in 0..sessions {
                let session = gimlet.open_from_headers([]);
                session
                    .insert("user_id", &(n as u64))
                    .await
                    .expect("insert");
                session.insert("cart", &cart()).await.expect("insert");
                let cookies = gimlet.commit(&session).await.expect("commit");
                if near {
                    // The session's next read keeps its record near.
                    let header: Vec<&str> =
                        cookies.iter().filter_map(|c| c.split(';').next()).collect();
                    let session = gimlet.open_from_headers([header.join("; ").as_str()]);
                    let cart: Option<Vec<String>> = session.get("cart").await.expect("get");
                    assert!(cart.is_some());
                    gimlet.commit(&session).await.expect("commit");
                }
            }
            assert_eq!(backend.len(), sessions);
            match gimlet.near_cache() {
                Some(cache) => {
                    assert_eq!(cache.entries, sessions);
                    Some(cache.bytes as f64 / sessions as f64)
                }
                None => Some(backend.bytes() as f64 / sessions as f64),
            }
        }
        _ => {
            use tower_sessions::session::{Id, Record};
            use tower_sessions::{MemoryStore, SessionStore};
            let store = MemoryStore::default();
            let expiry = tower_sessions::cookie::time::OffsetDateTime::now_utc()
                + tower_sessions::cookie::time::Duration::days(1);
            for n in 0..sessions {
                let mut data = std::collections::HashMap::new();
                data.insert("user_id".to_owned(), serde_json::json!(n as u64));
                data.insert("cart".to_owned(), serde_json::json!(cart()));
                let mut record = Record {
                    id: Id::default(),
                    data,
                    expiry_date: expiry,
                };
                store.create(&mut record).await.expect("create");
            }
            None
        }
    };
    let grown = resident("self").saturating_sub(before) as f64 / sessions as f64;
    println!(
        "{grown:.0} {}",
        estimate.map_or("-".into(), |e| format!("{e:.0}"))
    );
}

/// Runs `memory-fill` for `store` in a process of its own.
fn fill_apart(store: &str, sessions: usize) -> (f64, Option<f64>) {
    let exe = std::env::current_exe().expect("this binary");
    let output = Command::new(exe)
        .args(["memory-fill", store, &sessions.to_string()])
        .output()
        .expect("memory-fill");
    let text = String::from_utf8_lossy(&output.stdout);
    let mut fields = text.split_whitespace();
    let grown = fields.next().and_then(|f| f.parse().ok()).expect("bytes");
    let estimate = fields.next().and_then(|f| f.parse().ok());
    (grown, estimate)
}

/// The conformance app on axum with `MemoryBackend`, filled with
/// `sessions` sessions over HTTP: its resident size before and after.
fn conformance_app(sessions: usize) -> (u64, u64, Duration) {
    let exe = std::env::current_exe().expect("this binary");
    let app = exe.with_file_name("conformance-axum");
    assert!(
        app.exists(),
        "{} is missing: cargo build --release -p gimlet-conformance",
        app.display()
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let mut child = Command::new(&app)
        .env("GIMLET_ADDR", format!("127.0.0.1:{port}"))
        .env("GIMLET_BACKEND", format!("memory?capacity={sessions}"))
        .env("GIMLET_SECRET", "benchmark secret, thirty-two bytes long")
        .env("GIMLET_COOKIE_SECURE", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("conformance-axum");
    let base = format!("http://127.0.0.1:{port}");
    client::wait_until_listening(&format!("127.0.0.1:{port}"), Duration::from_secs(30));
    let pid = child.id().to_string();
    let before = resident(&pid);
    let started = Instant::now();
    const CONNECTIONS: usize = 4;
    std::thread::scope(|scope| {
        for c in 0..CONNECTIONS {
            let base = base.clone();
            scope.spawn(move || {
                let mut client = Client::connect(&base);
                for _ in (c..sessions).step_by(CONNECTIONS) {
                    let status = client.get("/set/cart/gin,lime,tonic", "");
                    assert_eq!(status, 200, "a new session with its cart");
                }
            });
        }
    });
    let took = started.elapsed();
    let after = resident(&pid);
    let _ = child.kill();
    let _ = child.wait();
    (before, after, took)
}

/// The `memory` mode: both comparisons, printed as tables.
pub(crate) fn run(sessions: usize, app_sessions: usize) {
    let (gimlet, estimate) = fill_apart("gimlet", sessions);
    let (near, near_estimate) = fill_apart("near-cache", sessions);
    let (tower, _) = fill_apart("tower", sessions);
    println!(
        "Bytes per session ({sessions} sessions with a user id and a three-item cart; the growth of the resident set of a process that made them):\n"
    );
    println!("| store | bytes per session | the store's own estimate |");
    println!("|---|---|---|");
    println!(
        "| Gimlet `MemoryBackend` (the user id in the cookie) | {gimlet:.0} | {} |",
        estimate.map_or("-".into(), |e| format!("{e:.0}"))
    );
    println!(
        "| Gimlet's near cache, beside it (each session read once: the growth over the row above) | {:.0} | {} |",
        near - gimlet,
        near_estimate.map_or("-".into(), |e| format!("{e:.0}"))
    );
    println!("| tower-sessions `MemoryStore` | {tower:.0} | - |");
    println!();
    let (before, after, took) = conformance_app(app_sessions);
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    println!(
        "The conformance app (axum, `MemoryBackend`) holding {app_sessions} sessions, each made by one `/set/cart/gin,lime,tonic` request ({:.0} s over 4 connections): resident {:.1} MiB at start, {:.1} MiB after, {:.0} bytes per session.",
        took.as_secs_f64(),
        mib(before),
        mib(after),
        after.saturating_sub(before) as f64 / app_sessions as f64,
    );
}
