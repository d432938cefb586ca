//! Redis Cluster and Sentinel through failovers and a slot migration, each
//! on a topology of the test's own (so no other test sees its nodes go).
//!
//! While a node is going, a call fails with `Unavailable` or `Timeout` (a
//! 503) within the timeout, never later; once the topology serves again,
//! every session that was replicated is there, and writes go through. Each
//! test reports how long requests failed, on stderr (not captured).

#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write as _;
use std::time::{Duration, Instant};

use common::topology::{self, Topology};
use gimlet_core::backend::{Backend, BackendErrorKind, Batch, Op, Write, WriteMode};
use gimlet_core::{Clock, SessionId, SystemClock};
use gimlet_redis::RedisBackend;
use gimlet_redis::deadpool_redis::redis;

/// The backend's timeout in these tests.
const TIMEOUT: Duration = Duration::from_secs(1);

/// How late past the timeout a failing call may return (scheduling).
const SLACK: Duration = Duration::from_millis(500);

/// Longest a topology may take to serve again.
const RECOVERY: Duration = Duration::from_secs(30);

fn backend(url: &str) -> RedisBackend {
    RedisBackend::from_url_with(url, TIMEOUT, 4)
        .unwrap()
        .prefix("failover:")
}

fn write(id: SessionId, mode: WriteMode, value: u64) -> Batch {
    Batch {
        ops: vec![Op::Write(Write {
            id,
            mode,
            clear: false,
            set: vec![("n".to_owned(), value.to_be_bytes().to_vec())],
            remove: Vec::new(),
            expect: Vec::new(),
            expires_at: SystemClock.now() + 3600,
            owner: None,
        })],
    }
}

fn value(record: Option<gimlet_core::backend::Record>) -> Option<u64> {
    let bytes = record?.remove("n")?;
    Some(u64::from_be_bytes(bytes.try_into().ok()?))
}

/// Sessions with random groups, so they spread over every primary.
async fn sessions(backend: &RedisBackend, n: u64) -> Vec<SessionId> {
    let mut ids = Vec::new();
    for i in 0..n {
        let id = SessionId::generate().unwrap();
        backend
            .commit(&write(id, WriteMode::Create, i))
            .await
            .unwrap();
        ids.push(id);
    }
    ids
}

/// Reads every session, then writes each, over and over, until one whole
/// pass succeeds with every value as last written; answers how long calls
/// failed for. Each failure must be a 503 kind, and come within the
/// timeout.
async fn until_served(backend: &RedisBackend, ids: &[SessionId], values: &mut [u64]) -> Duration {
    let start = Instant::now();
    let mut last_failure = None;
    loop {
        let mut clean = true;
        for (id, value_of) in ids.iter().zip(values.iter_mut()) {
            let began = Instant::now();
            let outcome = match backend.load(&[*id]).await {
                Ok(mut records) => {
                    assert_eq!(
                        value(records.pop().unwrap()),
                        Some(*value_of),
                        "a session was lost or went back"
                    );
                    backend
                        .commit(&write(*id, WriteMode::Update, *value_of + 1))
                        .await
                        .map(|()| *value_of += 1)
                }
                Err(e) => Err(e),
            };
            if let Err(e) = outcome {
                assert!(
                    matches!(
                        e.kind(),
                        BackendErrorKind::Unavailable | BackendErrorKind::Timeout
                    ),
                    "{e:?}"
                );
                assert!(
                    began.elapsed() <= 2 * TIMEOUT + SLACK,
                    "a call hung: {:?}",
                    began.elapsed()
                );
                clean = false;
                last_failure = Some(Instant::now());
            }
        }
        if clean {
            return last_failure.map_or(Duration::ZERO, |t| t - start);
        }
        assert!(
            start.elapsed() < RECOVERY,
            "not served again after {RECOVERY:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn report(what: &str, failing: Duration) {
    let _ = writeln!(
        std::io::stderr(),
        "recovery: {what}: requests failed for {failing:.2?}"
    );
}

async fn cluster_with_sessions() -> (Topology, RedisBackend, Vec<SessionId>, Vec<u64>) {
    let cluster = Topology::start("cluster");
    let backend = backend(&cluster.url);
    let ids = sessions(&backend, 30).await;
    let values = (0..30).collect();
    for port in cluster.base..cluster.base + 3 {
        topology::wait_replicated(port).await;
    }
    (cluster, backend, ids, values)
}

/// The replica of the primary on `port`.
async fn replica_of(port: u16) -> topology::ClusterNode {
    let nodes = topology::cluster_nodes(port).await;
    let primary = nodes.iter().find(|n| n.port == port).unwrap();
    nodes
        .iter()
        .find(|n| n.primary_id.as_deref() == Some(primary.id.as_str()))
        .unwrap()
        .clone()
}

/// Serves traffic until the replica on `port` is a primary, then once
/// more through it: answers how long calls failed in all.
async fn served_through_promotion(
    backend: &RedisBackend,
    ids: &[SessionId],
    values: &mut [u64],
    port: u16,
) -> Duration {
    let deadline = Instant::now() + RECOVERY;
    let mut failing = Duration::ZERO;
    loop {
        failing += until_served(backend, ids, values).await;
        let nodes = topology::cluster_nodes(port).await;
        if nodes.iter().any(|n| n.port == port && n.primary) {
            // Every session read and written once more, on the new layout.
            return failing + until_served(backend, ids, values).await;
        }
        assert!(
            Instant::now() < deadline,
            "the replica was not promoted: {nodes:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_failover_keeps_every_session() {
    let (cluster, backend, ids, mut values) = cluster_with_sessions().await;
    let replica = replica_of(cluster.base).await;
    let () = redis::cmd("CLUSTER")
        .arg("FAILOVER")
        .query_async(&mut topology::node(replica.port).await)
        .await
        .unwrap();
    let failing = served_through_promotion(&backend, &ids, &mut values, replica.port).await;
    report("CLUSTER FAILOVER", failing);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_cluster_primary_loses_no_replicated_session() {
    let (cluster, backend, ids, mut values) = cluster_with_sessions().await;
    let replica = replica_of(cluster.base).await;
    cluster.kill(cluster.base);
    let failing = served_through_promotion(&backend, &ids, &mut values, replica.port).await;
    report("a cluster primary killed", failing);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sentinel_failover_is_followed() {
    let sentinel = Topology::start("sentinel");
    let backend = backend(&sentinel.url);
    let ids = sessions(&backend, 10).await;
    let mut values: Vec<u64> = (0..10).collect();
    topology::wait_replicated(sentinel.base).await;
    let () = redis::cmd("SENTINEL")
        .arg("FAILOVER")
        .arg("gimlet")
        .query_async(&mut topology::node(sentinel.base + 2).await)
        .await
        .unwrap();
    // Once the sentinels have promoted the replica and demoted the old
    // primary. Before that, the old primary still takes writes, and those
    // are lost when it becomes a replica: Redis replicates asynchronously,
    // and no client can tell (docs/backends.md says how to narrow it).
    let deadline = Instant::now() + RECOVERY;
    let role = |port| async move { topology::info_field(port, "replication", "role").await };
    while role(sentinel.base + 1).await.as_deref() != Some("master")
        || role(sentinel.base).await.as_deref() != Some("slave")
    {
        assert!(Instant::now() < deadline, "the replica was not promoted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let failing = until_served(&backend, &ids, &mut values).await;
    // The writes went to the new primary.
    let mut conn = topology::node(sentinel.base + 1).await;
    let stored: Vec<u8> = redis::cmd("HGET")
        .arg(backend.key(&ids[0]))
        .arg("n")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(stored, values[0].to_be_bytes());
    report("SENTINEL FAILOVER", failing);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slot_migrating_under_traffic_loses_no_commit() {
    let cluster = Topology::start("cluster");
    let backend = backend(&cluster.url);
    // Twenty sessions in one group, so in one slot.
    let anchor = SessionId::generate().unwrap();
    let mut ids = Vec::new();
    for i in 0..20 {
        let id = SessionId::generate_beside(&anchor).unwrap();
        backend
            .commit(&write(id, WriteMode::Create, i))
            .await
            .unwrap();
        ids.push(id);
    }
    let slot = topology::key_slot(cluster.base, &backend.key(&anchor)).await;
    let source = topology::slot_owner(cluster.base, slot).await;
    let nodes = topology::cluster_nodes(cluster.base).await;
    let target = nodes
        .iter()
        .find(|n| n.primary && n.id != source.id)
        .unwrap()
        .clone();

    // Traffic: every session read, checked and written, round after round,
    // while the slot moves; none of it may fail.
    let traffic = {
        let backend = backend.clone();
        let ids = ids.clone();
        tokio::spawn(async move {
            let mut values: Vec<u64> = (0..20).collect();
            let mut rounds = 0;
            let stop = Instant::now() + Duration::from_secs(4);
            while Instant::now() < stop {
                for (id, value_of) in ids.iter().zip(values.iter_mut()) {
                    let record = backend.load(&[*id]).await.unwrap().pop().unwrap();
                    assert_eq!(value(record), Some(*value_of));
                    *value_of += 1;
                    backend
                        .commit(&write(*id, WriteMode::Update, *value_of))
                        .await
                        .unwrap();
                }
                rounds += 1;
            }
            (values, rounds)
        })
    };

    // Move the slot key by key, slowly, the way a resharding does.
    let mut src = topology::node(source.port).await;
    let mut dst = topology::node(target.port).await;
    let setslot = |state: &str, id: &str| {
        let mut cmd = redis::cmd("CLUSTER");
        cmd.arg("SETSLOT").arg(slot).arg(state).arg(id);
        cmd
    };
    let () = setslot("IMPORTING", &source.id)
        .query_async(&mut dst)
        .await
        .unwrap();
    let () = setslot("MIGRATING", &target.id)
        .query_async(&mut src)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    loop {
        let keys: Vec<String> = redis::cmd("CLUSTER")
            .arg("GETKEYSINSLOT")
            .arg(slot)
            .arg(1)
            .query_async(&mut src)
            .await
            .unwrap();
        let Some(key) = keys.first() else { break };
        let _: redis::Value = redis::cmd("MIGRATE")
            .arg("127.0.0.1")
            .arg(target.port)
            .arg(key)
            .arg(0)
            .arg(5000)
            .query_async(&mut src)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for primary in nodes.iter().filter(|n| n.primary) {
        let () = setslot("NODE", &target.id)
            .query_async(&mut topology::node(primary.port).await)
            .await
            .unwrap();
    }
    let (values, rounds) = traffic.await.unwrap();
    assert!(rounds > 1, "traffic ran through the migration");
    // Everything is on the target now, as last written.
    assert_eq!(topology::slot_owner(cluster.base, slot).await.id, target.id);
    for (id, v) in ids.iter().zip(&values) {
        let record = backend.load(&[*id]).await.unwrap().pop().unwrap();
        assert_eq!(value(record), Some(*v));
    }
    report("a slot migrated under traffic", Duration::ZERO);
}
