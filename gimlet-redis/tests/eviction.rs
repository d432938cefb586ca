//! What the eviction policy of a full Redis does to log out everywhere
//! (docs/backends.md, *Eviction policy*), each on a server of the test's
//! own with a small `maxmemory`:
//! - under a `volatile-*` policy (here `volatile-lfu`, which makes the
//!   outcome certain: the session and the other visitors' keys are used
//!   a few times each, the index only by the login), Redis
//!   may evict an owner's index, which carries a TTL like every Gimlet
//!   key, while the session it lists lives on: `end_sessions_of` then ends
//!   nothing, and the session stays logged in;
//! - under `noeviction`, the writes that would fill it fail instead, and
//!   the index and the session stay whole.

#![allow(clippy::unwrap_used)]

mod common;

use common::topology::{self, Topology};
use gimlet_core::Gimlet;
use gimlet_redis::RedisBackend;
use gimlet_redis::deadpool_redis::redis;

const SECRET: &str = "eviction test secret, 32+ bytes long";

const PREFIX: &str = "evict:";

fn gimlet(url: &str) -> Gimlet {
    let store = RedisBackend::from_url(url).unwrap().prefix(PREFIX);
    Gimlet::builder()
        .secret(SECRET)
        .backend(store)
        .build()
        .unwrap()
}

/// Logs `user` in with a server-side cart; answers the `Cookie` header.
async fn logged_in(gimlet: &Gimlet, user: &str) -> String {
    let s = gimlet.open_from_headers([]);
    s.set_owner(user).await.unwrap();
    s.insert("cart", &["gin"]).await.unwrap();
    let cookies = gimlet.commit(&s).await.unwrap();
    let pairs: Vec<&str> = cookies.iter().filter_map(|c| c.split(';').next()).collect();
    pairs.join("; ")
}

/// Whether the browser's session still holds its cart (a load, which also
/// keeps its record recently used).
async fn has_cart(gimlet: &Gimlet, header: &str) -> bool {
    let s = gimlet.open_from_headers([header]);
    let cart = s.contains_key("cart").await.unwrap();
    gimlet.commit(&s).await.unwrap();
    cart
}

/// How many owner indexes the server holds, found by `SCAN`, which does
/// not count as a use of the keys.
async fn indexes(conn: &mut redis::aio::MultiplexedConnection) -> usize {
    let mut cursor = 0u64;
    let mut found = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{PREFIX}*owner:*"))
            .arg("COUNT")
            .arg(10_000)
            .query_async(conn)
            .await
            .unwrap();
        found += keys.len();
        if next == 0 {
            return found;
        }
        cursor = next;
    }
}

/// Writes `n` keys of 1 KB with a TTL, and reads each a few times, as
/// other visitors' sessions would be.
async fn fill(
    conn: &mut redis::aio::MultiplexedConnection,
    from: usize,
    n: usize,
) -> redis::RedisResult<()> {
    let mut pipe = redis::pipe();
    for i in from..from + n {
        let key = format!("{PREFIX}filler:{i}");
        pipe.cmd("SET")
            .arg(&key)
            .arg(vec![b'x'; 1024])
            .arg("EX")
            .arg(3600)
            .ignore();
        for _ in 0..10 {
            pipe.cmd("GET").arg(&key).ignore();
        }
    }
    pipe.query_async(conn).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_volatile_policy_can_evict_the_owner_index_so_log_out_everywhere_ends_nothing() {
    let redis = Topology::start_with(
        "single",
        &[
            "--maxmemory",
            "4mb",
            "--maxmemory-policy",
            "volatile-lfu",
            // Every use counts: ada's record is soon the most used key.
            "--lfu-log-factor",
            "0",
        ],
    );
    let gimlet = gimlet(&redis.url);
    let mut conn = topology::node(redis.base).await;
    let header = logged_in(&gimlet, "ada").await;
    assert_eq!(indexes(&mut conn).await, 1);
    for _ in 0..50 {
        assert!(has_cart(&gimlet, &header).await);
    }
    // Other visitors fill the server while ada keeps using her session:
    // her record is used often, her index (read by no request) never.
    let mut written = 0;
    while indexes(&mut conn).await == 1 {
        assert!(written < 200_000, "the index was never evicted");
        fill(&mut conn, written, 50).await.unwrap();
        written += 50;
        assert!(
            has_cart(&gimlet, &header).await,
            "her session was evicted first"
        );
    }
    assert_eq!(
        gimlet.end_sessions_of("ada", None).await.unwrap(),
        0,
        "with its index gone, log out everywhere finds nothing to end"
    );
    assert!(
        has_cart(&gimlet, &header).await,
        "and the session stays logged in"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn noeviction_refuses_the_writes_and_keeps_every_index() {
    let redis = Topology::start_with(
        "single",
        &["--maxmemory", "4mb", "--maxmemory-policy", "noeviction"],
    );
    let gimlet = gimlet(&redis.url);
    let mut conn = topology::node(redis.base).await;
    let header = logged_in(&gimlet, "ada").await;
    let mut written = 0;
    let refused = loop {
        assert!(written < 200_000, "the server never filled up");
        match fill(&mut conn, written, 50).await {
            Ok(()) => written += 50,
            Err(e) => break e,
        }
    };
    assert!(refused.to_string().contains("OOM"), "{refused}");
    assert_eq!(indexes(&mut conn).await, 1, "the index is whole");
    assert!(has_cart(&gimlet, &header).await, "and so is the session");
    // Once there is room again, log out everywhere ends it.
    for from in (0..written).step_by(1000) {
        let keys: Vec<String> = (from..(from + 1000).min(written))
            .map(|i| format!("{PREFIX}filler:{i}"))
            .collect();
        redis::cmd("DEL")
            .arg(keys)
            .query_async::<()>(&mut conn)
            .await
            .unwrap();
    }
    assert_eq!(gimlet.end_sessions_of("ada", None).await.unwrap(), 1);
    assert!(!has_cart(&gimlet, &header).await);
}
