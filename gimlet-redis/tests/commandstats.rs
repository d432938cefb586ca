//! Round trips as the Redis server counts them: `INFO commandstats` across
//! one load and one commit. This binary holds one test, so no other test
//! adds commands while it measures (test binaries run one at a time).

#![allow(clippy::unwrap_used, clippy::print_stderr)]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use gimlet_core::{CountingBackend, Gimlet, Placement};
use gimlet_redis::deadpool_redis::redis;
use redis::aio::MultiplexedConnection;

/// Calls per command, read on a connection of the test's own.
async fn commandstats(conn: &mut MultiplexedConnection) -> BTreeMap<String, u64> {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(conn)
        .await
        .unwrap();
    info.lines()
        .filter_map(|line| {
            let (name, rest) = line.strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = rest.split(',').find_map(|kv| kv.strip_prefix("calls="))?;
            Some((name.to_owned(), calls.parse().ok()?))
        })
        .collect()
}

fn delta(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    after
        .iter()
        .filter_map(|(name, calls)| {
            let change = calls - before.get(name).copied().unwrap_or(0);
            // The INFO call that reads the stats counts itself.
            (change > 0 && name != "info").then(|| (name.clone(), change))
        })
        .collect()
}

#[tokio::test]
async fn one_load_and_one_commit_as_the_server_counts_them() {
    let Some(url) = common::url("one_load_and_one_commit_as_the_server_counts_them") else {
        return;
    };
    let backend = common::backend(&url);
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut stats = client.get_multiplexed_async_connection().await.unwrap();
    let counting = Arc::new(CountingBackend::new(backend));
    let gimlet = Gimlet::builder()
        .secret("commandstats secret, thirty-two bytes")
        .shared_backend(counting.clone())
        .build()
        .unwrap();

    // Warm up: a session in both channels, and the script loaded.
    let session = gimlet.open_from_headers([]);
    session.insert("cart", &1).await.unwrap();
    session
        .insert_with("theme", &"dark", Placement::new().permanent(true))
        .await
        .unwrap();
    let cookies = gimlet.commit(&session).await.unwrap();
    let header: Vec<&str> = cookies
        .iter()
        .map(|c| c.split(';').next().unwrap())
        .collect();
    let header = header.join("; ");
    counting.reset();

    let before = commandstats(&mut stats).await;
    let session = gimlet.open_from_headers([header.as_str()]);
    assert_eq!(session.get::<u32>("cart").await.unwrap(), Some(1));
    let after_load = commandstats(&mut stats).await;
    session.insert("cart", &2).await.unwrap();
    session
        .insert_with("theme", &"light", Placement::new().permanent(true))
        .await
        .unwrap();
    gimlet.commit(&session).await.unwrap();
    let after_commit = commandstats(&mut stats).await;

    let load = delta(&before, &after_load);
    let commit = delta(&after_load, &after_commit);
    eprintln!("load: {load:?}\ncommit: {commit:?}");
    assert_eq!(counting.counts().loads, 1);
    assert_eq!(counting.counts().commits, 1);
    // One pipelined round trip for both channels.
    assert_eq!(load, BTreeMap::from([("hgetall".to_owned(), 2)]));
    // One EVALSHA; the commands the script runs inside the server are
    // counted by Redis too, but cost no round trip.
    assert_eq!(commit.get("evalsha"), Some(&1));
    assert_eq!(commit.get("hgetall"), None);
    let inside: u64 = commit
        .iter()
        .filter(|(n, _)| *n != "evalsha")
        .map(|(_, c)| c)
        .sum();
    assert!(
        commit.keys().all(
            |n| ["evalsha", "exists", "hset", "hdel", "pexpireat", "del"].contains(&n.as_str())
        ),
        "{commit:?}"
    );
    assert!(inside > 0);

    // A new session with clientside keys only: its channel's empty record
    // is created (revocation) by the one EVALSHA.
    let revalidating = Gimlet::builder()
        .secret("commandstats secret, thirty-two bytes")
        .shared_backend(counting.clone())
        .clientside_keys(["user_id"])
        .revalidate_after(std::time::Duration::ZERO)
        .build()
        .unwrap();
    let before = commandstats(&mut stats).await;
    let session = revalidating.open_from_headers([]);
    session.insert("user_id", &1).await.unwrap();
    let cookies = revalidating.commit(&session).await.unwrap();
    let created = delta(&before, &commandstats(&mut stats).await);
    eprintln!("create: {created:?}");
    let expected: BTreeMap<String, u64> =
        [("evalsha", 1), ("exists", 1), ("hset", 1), ("pexpireat", 1)]
            .into_iter()
            .map(|(n, c)| (n.to_owned(), c))
            .collect();
    assert_eq!(created, expected);

    // The revalidation check of a clientside read is one pipelined HGETALL.
    let header = cookies[0].split(';').next().unwrap().to_owned();
    let before = commandstats(&mut stats).await;
    let session = revalidating.open_from_headers([header.as_str()]);
    assert_eq!(session.get::<u32>("user_id").await.unwrap(), Some(1));
    assert!(revalidating.commit(&session).await.unwrap().is_empty());
    let checked = delta(&before, &commandstats(&mut stats).await);
    eprintln!("check: {checked:?}");
    assert_eq!(checked, BTreeMap::from([("hgetall".to_owned(), 1)]));
}
