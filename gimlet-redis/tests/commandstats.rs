//! Round trips as the Redis servers count them: `INFO commandstats` across
//! one load and one commit (and a login that names the session's owner),
//! on one server and summed over a cluster's primaries. The two measuring tests measure a server each; the third
//! test here sends the cluster only administrative commands, which the
//! counts leave out; no other test binary runs meanwhile (test binaries
//! run one at a time).

#![allow(clippy::unwrap_used, clippy::print_stderr)]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::topology;

use gimlet_core::testing::CountingBackend;
use gimlet_core::{Gimlet, Placement};
use gimlet_redis::deadpool_redis::redis;
use redis::aio::MultiplexedConnection;

/// Connections of the test's own to every node that takes writes: the
/// server, or each primary of a cluster.
struct Nodes(Vec<MultiplexedConnection>);

impl Nodes {
    async fn of(url: &str) -> Nodes {
        let Some(seeds) = url.strip_prefix("redis+cluster://") else {
            let client = redis::Client::open(url).unwrap();
            return Nodes(vec![
                client.get_multiplexed_async_connection().await.unwrap(),
            ]);
        };
        let seed = seeds.split(',').next().unwrap();
        let port = seed.rsplit(':').next().unwrap().parse().unwrap();
        let cluster = topology::cluster_nodes(port).await;
        let mut primaries = Vec::new();
        for node in cluster.iter().filter(|n| n.primary && !n.failed) {
            primaries.push(topology::node(node.port).await);
        }
        assert_eq!(primaries.len(), 3, "{cluster:?}");
        Nodes(primaries)
    }

    /// Calls per command on each node.
    async fn commandstats(&mut self) -> Vec<BTreeMap<String, u64>> {
        let mut all = Vec::new();
        for conn in &mut self.0 {
            let info: String = redis::cmd("INFO")
                .arg("commandstats")
                .query_async(conn)
                .await
                .unwrap();
            all.push(
                info.lines()
                    .filter_map(|line| {
                        let (name, rest) = line.strip_prefix("cmdstat_")?.split_once(':')?;
                        let calls = rest.split(',').find_map(|kv| kv.strip_prefix("calls="))?;
                        Some((name.to_owned(), calls.parse().ok()?))
                    })
                    .collect(),
            );
        }
        all
    }
}

/// What clients send to set up a connection (`CLIENT SETINFO`, `HELLO`),
/// to learn a cluster's topology (`CLUSTER …`, `READONLY`) or to read
/// these statistics, and what replicas send back: none of it is a
/// session's work, and another test on the same cluster may send it at
/// any time. So are the revocation feed's reads of its stream (`XREAD`,
/// a few a second per app server, whatever the traffic).
const ADMINISTRATIVE: [&str; 8] = [
    "info", "cluster", "ping", "readonly", "client", "hello", "replconf", "xread",
];

/// The commands run between two readings, summed over the nodes, and how
/// many nodes ran any, without [`ADMINISTRATIVE`] ones.
fn delta(
    before: &[BTreeMap<String, u64>],
    after: &[BTreeMap<String, u64>],
) -> (BTreeMap<String, u64>, usize) {
    let mut sum = BTreeMap::new();
    let mut nodes = 0;
    for (before, after) in before.iter().zip(after) {
        let mut touched = false;
        for (name, calls) in after {
            let change = calls - before.get(name).copied().unwrap_or(0);
            if change > 0 && !ADMINISTRATIVE.contains(&name.split('|').next().unwrap_or_default()) {
                *sum.entry(name.clone()).or_default() += change;
                touched = true;
            }
        }
        nodes += usize::from(touched);
    }
    (sum, nodes)
}

#[tokio::test]
async fn one_load_and_one_commit_as_the_server_counts_them() {
    if let Some(url) = common::url("commandstats on one server") {
        one_load_and_one_commit(&url).await;
    }
}

#[tokio::test]
async fn one_load_and_one_commit_to_one_node_of_a_cluster() {
    let test = "commandstats on a cluster";
    if let Some(url) = gimlet_core::conformance::server_url(common::CLUSTER_VAR, test) {
        one_load_and_one_commit(&url).await;
    }
}

async fn one_load_and_one_commit(url: &str) {
    let backend = common::backend(url);
    let mut stats = Nodes::of(url).await;
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

    let before = stats.commandstats().await;
    let session = gimlet.open_from_headers([header.as_str()]);
    assert_eq!(session.get::<u32>("cart").await.unwrap(), Some(1));
    let after_load = stats.commandstats().await;
    session.insert("cart", &2).await.unwrap();
    session
        .insert_with("theme", &"light", Placement::new().permanent(true))
        .await
        .unwrap();
    gimlet.commit(&session).await.unwrap();
    let after_commit = stats.commandstats().await;

    let (load, load_nodes) = delta(&before, &after_load);
    let (commit, commit_nodes) = delta(&after_load, &after_commit);
    eprintln!("load: {load:?}\ncommit: {commit:?}");
    assert_eq!(
        (load_nodes, commit_nodes),
        (1, 1),
        "one node each: {load:?} {commit:?}"
    );
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
        commit.keys().all(|n| [
            "evalsha",
            "exists",
            "hset",
            "hdel",
            "pexpireat",
            "del",
            "publish"
        ]
        .contains(&n.as_str())),
        "{commit:?}"
    );
    assert!(inside > 0);
    // The script publishes what it changed, for the near caches: once.
    assert_eq!(commit.get("publish"), Some(&1));

    // An update (read-modify-write) of one key: the same one load, and the
    // one EVALSHA, whose script compares the key's stored bytes (one HGET,
    // inside the server).
    counting.reset();
    let before = stats.commandstats().await;
    let session = gimlet.open_from_headers([header.as_str()]);
    session
        .update("cart", |n: &mut Option<u32>| *n = n.map(|n| n + 1))
        .await
        .unwrap();
    gimlet.commit(&session).await.unwrap();
    let (update, update_nodes) = delta(&before, &stats.commandstats().await);
    eprintln!("update: {update:?}");
    assert_eq!((counting.counts().loads, counting.counts().commits), (1, 1));
    assert!(update_nodes <= 2, "{update:?}");
    assert_eq!(update.get("hgetall"), Some(&2), "{update:?}");
    assert_eq!(update.get("evalsha"), Some(&1), "{update:?}");
    assert_eq!(update.get("hget"), Some(&1), "the compare: {update:?}");

    // A new session with clientside keys only: its channel's empty record
    // is created (revocation) by the one EVALSHA.
    let revalidating = Gimlet::builder()
        .secret("commandstats secret, thirty-two bytes")
        .shared_backend(counting.clone())
        .clientside_keys(["user_id"])
        .revalidate_after(std::time::Duration::ZERO)
        .build()
        .unwrap();
    let before = stats.commandstats().await;
    let session = revalidating.open_from_headers([]);
    session.insert("user_id", &1).await.unwrap();
    let cookies = revalidating.commit(&session).await.unwrap();
    let (created, _) = delta(&before, &stats.commandstats().await);
    eprintln!("create: {created:?}");
    let expected: BTreeMap<String, u64> = [
        ("evalsha", 1),
        ("exists", 1),
        ("hset", 1),
        ("pexpireat", 1),
        ("publish", 1),
    ]
    .into_iter()
    .map(|(n, c)| (n.to_owned(), c))
    .collect();
    assert_eq!(created, expected);

    // The revalidation check of a clientside read is one pipelined HGETALL.
    let header = cookies[0].split(';').next().unwrap().to_owned();
    let before = stats.commandstats().await;
    let session = revalidating.open_from_headers([header.as_str()]);
    assert_eq!(session.get::<u32>("user_id").await.unwrap(), Some(1));
    assert!(revalidating.commit(&session).await.unwrap().is_empty());
    let (checked, _) = delta(&before, &stats.commandstats().await);
    eprintln!("check: {checked:?}");
    assert_eq!(checked, BTreeMap::from([("hgetall".to_owned(), 1)]));

    // A login that names the session's owner: the index entry goes in
    // the commit's one EVALSHA, on the node of the session's slot, which
    // is the index's too.
    let user = format!("user-{}", gimlet_core::SessionId::generate().unwrap());
    let before = stats.commandstats().await;
    let session = revalidating.open_from_headers([header.as_str()]);
    session.set_owner(&user).await.unwrap();
    session.insert("user_id", &2).await.unwrap();
    revalidating.commit(&session).await.unwrap();
    let (login, _) = delta(&before, &stats.commandstats().await);
    eprintln!("login: {login:?}");
    assert_eq!(login.get("hgetall"), Some(&1), "set_owner's load");
    assert_eq!(login.get("zadd"), Some(&1));
    // On a cluster the old record, in the old group's slot, is deleted by
    // a second EVALSHA.
    let moved = if url.starts_with("redis+cluster") {
        2
    } else {
        1
    };
    assert_eq!(login.get("evalsha"), Some(&moved));
    assert_eq!(login.get("del"), Some(&1));

    // Listing and ending the owner's sessions stay on that node too, but
    // for the ending's entry in the revocation stream. (The
    // ending's script is loaded first: the client loads a script on every
    // node when it first runs it.)
    assert_eq!(
        revalidating.end_sessions_of("nobody", None).await.unwrap(),
        0
    );
    let before = stats.commandstats().await;
    assert_eq!(
        revalidating.sessions_of(&user, None).await.unwrap().len(),
        1
    );
    assert_eq!(revalidating.end_sessions_of(&user, None).await.unwrap(), 1);
    let (ended, nodes) = delta(&before, &stats.commandstats().await);
    eprintln!("end: {ended:?}");
    // The index's node, and the revocation stream's (one XADD after the
    // script, which cannot reach the stream's slot).
    assert!(nodes <= 2, "{ended:?}");
    assert_eq!(ended.get("del"), Some(&1));
    assert_eq!(ended.get("xadd"), Some(&1), "{ended:?}");
}

/// Sessions spread evenly over a cluster's slots: every one of the 65,536
/// groups has its slot, and each slot gets exactly four, as Redis itself
/// computes the slot of a key (`CLUSTER KEYSLOT`).
#[tokio::test]
async fn every_slot_of_a_cluster_gets_four_groups() {
    let test = "the spread over slots";
    let Some(url) = gimlet_core::conformance::server_url(common::CLUSTER_VAR, test) else {
        return;
    };
    let backend = common::backend(&url);
    let mut node = Nodes::of(&url).await.0.remove(0);
    let mut per_slot = vec![0u32; 16_384];
    for chunk in (0..=u16::MAX).collect::<Vec<_>>().chunks(4096) {
        let mut pipe = redis::pipe();
        for &group in chunk {
            let mut bytes = [7u8; 16];
            bytes[..2].copy_from_slice(&group.to_be_bytes());
            let id = gimlet_core::SessionId::from_bytes(bytes);
            pipe.cmd("CLUSTER").arg("KEYSLOT").arg(backend.key(&id));
        }
        let slots: Vec<u16> = pipe.query_async(&mut node).await.unwrap();
        for slot in slots {
            per_slot[usize::from(slot)] += 1;
        }
    }
    assert!(
        per_slot.iter().all(|&n| n == 4),
        "{:?}",
        per_slot.iter().max()
    );
}
