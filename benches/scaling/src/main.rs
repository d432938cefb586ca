//! The measurements behind `docs/scaling.md`: bytes per session in Redis
//! and PostgreSQL, commands and round trips per request on one Redis and
//! on a cluster, throughput and Redis CPU per request for a realistic mix,
//! and how sessions spread over a cluster's slots.
//!
//! `cargo run --release -p gimlet-scaling -- revocation-latency [--rounds N]
//! [--only STORE]` measures instead how long a copied cookie lives on a
//! second app server process after a logout (see `latency.rs`).
//!
//! Run with the servers of `.ci/services` up:
//! `cargo run --release -p gimlet-scaling [-- --sessions N]`. It reads
//! `GIMLET_TEST_REDIS_URL`, `GIMLET_TEST_REDIS_CLUSTER_URL` and
//! `GIMLET_TEST_POSTGRES_URL` (the defaults are `.ci/services`'s), writes
//! under a prefix (and into tables) of its own, deletes them at the end,
//! and prints Markdown.

#![allow(clippy::print_stdout, clippy::print_stderr)]

mod latency;
mod nodes;
mod workload;

use std::sync::Arc;
use std::time::{Duration, Instant};

use gimlet_core::SessionId;
use gimlet_core::backend::Backend;
use gimlet_core::testing::CountingBackend;
use gimlet_redis::RedisBackend;
use gimlet_sql::{SqlBackend, Tables};
use nodes::Nodes;
use workload::{Route, Shop};

fn var(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn sessions_arg() -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.windows(2)
        .find(|w| w[0] == "--sessions")
        .map_or(100_000, |w| w[1].parse().expect("--sessions N"))
}

fn prefix() -> String {
    let tag = SessionId::generate().expect("rng").to_string();
    format!("scaling-{}:", &tag[..8])
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("copy-server") if args.len() == 4 => {
            return latency::copy_server(&args[2], &args[3]).await;
        }
        Some("revocation-latency") => {
            let value = |flag: &str| args.windows(2).find(|w| w[0] == flag).map(|w| w[1].clone());
            let rounds = value("--rounds").map_or(200, |n| n.parse().expect("--rounds N"));
            return latency::run(rounds, value("--only").as_deref()).await;
        }
        _ => {}
    }
    let n = sessions_arg();
    let single = var("GIMLET_TEST_REDIS_URL", "redis://127.0.0.1:6379/");
    let cluster = var(
        "GIMLET_TEST_REDIS_CLUSTER_URL",
        "redis+cluster://127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002",
    );
    let postgres = var(
        "GIMLET_TEST_POSTGRES_URL",
        "postgres://postgres@127.0.0.1:5432/test",
    );
    println!("Measured with `cargo run --release -p gimlet-scaling -- --sessions {n}`.\n");

    for (name, url) in [("one Redis", &single), ("Redis Cluster", &cluster)] {
        redis_section(name, url, n).await;
    }
    postgres_section(&postgres, n).await;
}

async fn redis_section(name: &str, url: &str, n: usize) {
    let prefix = prefix();
    let backend = RedisBackend::from_url(url)
        .expect("a Redis URL")
        .prefix(prefix.clone())
        .connections(2);
    let counting = Arc::new(CountingBackend::new(backend.clone()));
    let shop = Shop::new(counting.clone() as Arc<dyn Backend>);
    let mut nodes = Nodes::of(url).await;
    println!("## {name} ({} node(s) taking writes)\n", nodes.len());

    // Bytes per session.
    let before = nodes.used_memory().await;
    let started = Instant::now();
    let mut sessions = shop.establish(n).await;
    let took = started.elapsed();
    let after = nodes.used_memory().await;
    let added: u64 = after
        .iter()
        .zip(&before)
        .map(|(a, b)| a.saturating_sub(*b))
        .sum();
    println!(
        "{n} sessions created in {:.1} s ({:.0}/s, 32 at a time). `used_memory` grew by {} bytes: **{} bytes per session** (one hash of 2 fields with an expiry). Cookie: {} bytes (`Cookie` header value).\n",
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64(),
        added,
        added / n as u64,
        sessions[0].len(),
    );
    if nodes.len() > 1 {
        let keys: Vec<String> = shop
            .ids(&sessions)
            .iter()
            .map(|id| backend.key(id))
            .collect();
        let slots = nodes.slots(&keys).await;
        spread(&slots, &after, &before);
    }

    // Commands and round trips per request, by route.
    println!(
        "| route | round trips per request | client commands per request | commands run inside the script per request |"
    );
    println!("|---|---|---|---|");
    for route in Route::ALL {
        let requests = 1000.min(sessions.len());
        counting.reset();
        let before = nodes.commandstats().await;
        for cookie in sessions.iter().take(requests) {
            shop.request(route, cookie, 0).await;
        }
        let after = nodes.commandstats().await;
        let commands = nodes::delta(&before, &after);
        let counts = counting.counts();
        let per = |c: u64| c as f64 / requests as f64;
        let client: Vec<String> = commands
            .iter()
            .filter(|(c, _)| matches!(c.as_str(), "evalsha" | "eval" | "hgetall" | "script|load"))
            .map(|(c, k)| format!("{c} {:.2}", per(*k)))
            .collect();
        let inside: Vec<String> = commands
            .iter()
            .filter(|(c, _)| !matches!(c.as_str(), "evalsha" | "eval" | "hgetall" | "script|load"))
            .map(|(c, k)| format!("{c} {:.2}", per(*k)))
            .collect();
        println!(
            "| {} | {:.2} | {} | {} |",
            route.path(),
            per(counts.round_trips() as u64),
            or_none(&client),
            or_none(&inside),
        );
        if route.ends_session() {
            // Those sessions' cookies are spent: new sessions instead.
            let fresh = shop.establish(requests).await;
            sessions.splice(..requests, fresh);
        }
    }
    println!();

    // Throughput and Redis CPU for the mix.
    let cpu_before = nodes.cpu_seconds().await;
    let (requests, elapsed) = shop.mix(&sessions, Duration::from_secs(5), 64).await;
    let cpu = nodes.cpu_seconds().await - cpu_before;
    println!(
        "Mix (70% clientside read, 20% server read, 10% add to cart), 64 tasks for {:.0} s in one process, no HTTP: **{:.0} requests/s**; Redis used {:.2} CPU-seconds, **{:.1} µs of Redis CPU per request** ({:.0} requests/s per fully busy Redis core).\n",
        elapsed.as_secs_f64(),
        requests as f64 / elapsed.as_secs_f64(),
        cpu,
        cpu * 1e6 / requests as f64,
        requests as f64 / cpu,
    );
    nodes.delete_prefixed(&prefix).await;
}

fn or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

/// How the sessions spread over slots and primaries.
fn spread(slots: &[u16], after: &[u64], before: &[u64]) {
    let mut per_slot = vec![0u32; 16_384];
    for &slot in slots {
        per_slot[usize::from(slot)] += 1;
    }
    let n = per_slot.len() as f64;
    let mean = slots.len() as f64 / n;
    let var = per_slot
        .iter()
        .map(|&c| (f64::from(c) - mean).powi(2))
        .sum::<f64>()
        / n;
    let empty = per_slot.iter().filter(|&&c| c == 0).count();
    let max = per_slot.iter().max().copied().unwrap_or(0);
    let thirds: Vec<u32> = (0..3)
        .map(|i| {
            per_slot[i * 5_461..((i + 1) * 5_461).min(16_384)]
                .iter()
                .sum()
        })
        .collect();
    println!(
        "Spread over the 16,384 slots: mean {mean:.2} sessions per slot, standard deviation {:.2} (a Poisson spread would give {:.2}), most in one slot {max}, {empty} slots empty. Over the three primaries' slot ranges (0-5460, 5461-10921, 10922-16383): {} sessions. Memory added per primary: {} bytes.\n",
        var.sqrt(),
        mean.sqrt(),
        thirds
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(" / "),
        after
            .iter()
            .zip(before)
            .map(|(a, b)| a.saturating_sub(*b).to_string())
            .collect::<Vec<_>>()
            .join(" / "),
    );
    println!("| sessions in a slot | 0 | 1-2 | 3-4 | 5-6 | 7-8 | 9-10 | 11-12 | 13 or more |");
    println!("|---|---|---|---|---|---|---|---|---|");
    let mut buckets = [0usize; 8];
    for &c in &per_slot {
        buckets[match c {
            0 => 0,
            13.. => 7,
            c => (c as usize).div_ceil(2),
        }] += 1;
    }
    let row: Vec<String> = buckets.iter().map(usize::to_string).collect();
    println!("| slots | {} |\n", row.join(" | "));
}

async fn postgres_section(url: &str, n: usize) {
    let tag = SessionId::generate().expect("rng").to_string();
    let tables = Tables::new(
        &format!("scaling_{}_sessions", &tag[..8]),
        &format!("scaling_{}_keys", &tag[..8]),
    )
    .expect("table names");
    let backend = SqlBackend::builder(url)
        .tables(tables.clone())
        .max_connections(16)
        .connect()
        .await
        .expect("PostgreSQL");
    let shop = Shop::new(Arc::new(backend.clone()));
    let started = Instant::now();
    shop.establish(n).await;
    let took = started.elapsed();
    let pool = backend.pool();
    let _ = gimlet_sql::sqlx::query(&format!("VACUUM ANALYZE {}", tables.sessions()))
        .execute(pool)
        .await;
    let _ = gimlet_sql::sqlx::query(&format!("VACUUM ANALYZE {}", tables.keys()))
        .execute(pool)
        .await;
    let size = |table: String| async move {
        let bytes: i64 = gimlet_sql::sqlx::query_scalar(&format!(
            "SELECT pg_total_relation_size('{table}')::BIGINT"
        ))
        .fetch_one(pool)
        .await
        .expect("size");
        bytes
    };
    let sessions = size(tables.sessions().to_owned()).await;
    let keys = size(tables.keys().to_owned()).await;
    println!("## PostgreSQL\n");
    println!(
        "{n} sessions created in {:.1} s ({:.0}/s, 32 at a time). Tables with their indexes: sessions {} bytes, keys {} bytes: **{} bytes per session**.\n",
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64(),
        sessions,
        keys,
        (sessions + keys) / n as i64,
    );
    for table in [tables.keys(), tables.sessions()] {
        let _ = gimlet_sql::sqlx::query(&format!("DROP TABLE {table}"))
            .execute(pool)
            .await;
    }
}
