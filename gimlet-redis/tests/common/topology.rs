//! Redis topologies of a test's own (a cluster, a Sentinel setup), started
//! with `.ci/redis-topology` on spare loopback ports and stopped when
//! dropped, for tests that fail nodes over and so must not share them.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use gimlet_core::SessionId;
use gimlet_redis::deadpool_redis::redis;
use redis::aio::MultiplexedConnection;

/// A running topology; stopped when dropped.
pub struct Topology {
    dir: PathBuf,
    /// The URL `RedisBackend::from_url` takes.
    pub url: String,
    /// Its first port (see `.ci/redis-topology`).
    pub base: u16,
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.ci/redis-topology")
}

impl Topology {
    /// Starts a `kind` (`cluster` or `sentinel`), trying other ports if
    /// the first ones are taken.
    pub fn start(kind: &str) -> Topology {
        Topology::start_with(kind, &[])
    }

    /// [`Topology::start`], passing `options` on to the script (for
    /// `single`: redis-server's own options).
    pub fn start_with(kind: &str, options: &[&str]) -> Topology {
        let tag = SessionId::generate().expect("rng").to_string();
        let dir = std::env::temp_dir().join(format!("gimlet-{kind}-{}", &tag[..12]));
        let mut failures = Vec::new();
        for attempt in 0..5u16 {
            // Ports 20000-29999 (bus ports 30000-39999), in steps of ten.
            let pick = u16::from_le_bytes([
                tag.as_bytes()[attempt as usize],
                tag.as_bytes()[attempt as usize + 5],
            ]);
            let base = 20_000 + (pick % 1_000) * 10;
            let output = Command::new(script())
                .args([kind, dir.to_str().expect("utf-8"), &base.to_string()])
                .args(options)
                .output()
                .expect("run .ci/redis-topology");
            if output.status.success() {
                let url = String::from_utf8(output.stdout)
                    .expect("utf-8")
                    .trim()
                    .to_owned();
                return Topology { dir, url, base };
            }
            failures.push(String::from_utf8_lossy(&output.stderr).into_owned());
        }
        panic!("could not start a Redis {kind}: {failures:?}");
    }
}

impl Topology {
    /// Kills the server on `port` at once (`SIGKILL`), as a crash would.
    pub fn kill(&self, port: u16) {
        let pid =
            std::fs::read_to_string(self.dir.join(format!("{port}.pid"))).expect("a pid file");
        let status = Command::new("kill")
            .args(["-9", pid.trim()])
            .status()
            .expect("kill");
        assert!(status.success());
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        let _ = Command::new(script())
            .args(["stop", self.dir.to_str().unwrap_or_default()])
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A connection of the test's own to the node on `port`.
pub async fn node(port: u16) -> MultiplexedConnection {
    try_node(port).await.expect("the node answers")
}

/// A connection to the node on `port`, if it takes one: a node changing
/// its role (a failover) closes its clients, a new one included.
async fn try_node(port: u16) -> redis::RedisResult<MultiplexedConnection> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/"))?;
    client.get_multiplexed_async_connection().await
}

/// One field of `INFO section` on the node on `port`; `None` while the
/// node cannot answer (polled through a failover, it may not).
pub async fn info_field(port: u16, section: &str, field: &str) -> Option<String> {
    let mut conn = try_node(port).await.ok()?;
    let info: String = redis::cmd("INFO")
        .arg(section)
        .query_async(&mut conn)
        .await
        .ok()?;
    info.lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .map(|v| v.trim().to_owned())
}

/// Waits until every replica of the primary on `port` has everything the
/// primary has written.
pub async fn wait_replicated(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let info: String = redis::cmd("INFO")
            .arg("replication")
            .query_async(&mut node(port).await)
            .await
            .expect("INFO");
        let offset = info
            .lines()
            .find_map(|l| l.strip_prefix("master_repl_offset:"))
            .map(str::trim)
            .unwrap_or_default()
            .to_owned();
        let replicas: Vec<&str> = info.lines().filter(|l| l.starts_with("slave")).collect();
        if !replicas.is_empty()
            && replicas
                .iter()
                .all(|r| r.contains(&format!("offset={offset},")))
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "replication did not catch up: {info}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A node of a cluster, as `CLUSTER NODES` describes it.
#[derive(Debug, Clone)]
pub struct ClusterNode {
    pub id: String,
    pub port: u16,
    pub primary: bool,
    pub primary_id: Option<String>,
    pub failed: bool,
    /// The slot ranges it serves, for a primary.
    pub slots: Vec<(u16, u16)>,
}

/// The cluster as the node on `port` sees it.
pub async fn cluster_nodes(port: u16) -> Vec<ClusterNode> {
    let text: String = redis::cmd("CLUSTER")
        .arg("NODES")
        .query_async(&mut node(port).await)
        .await
        .expect("CLUSTER NODES");
    text.lines()
        .map(|line| {
            let f: Vec<&str> = line.split(' ').collect();
            let port = f[1]
                .split('@')
                .next()
                .and_then(|a| a.rsplit(':').next())
                .and_then(|p| p.parse().ok())
                .expect("a port");
            ClusterNode {
                id: f[0].to_owned(),
                port,
                primary: f[2].contains("master"),
                primary_id: (f[3] != "-").then(|| f[3].to_owned()),
                failed: f[2].contains("fail"),
                slots: f[8..]
                    .iter()
                    .filter(|r| !r.starts_with('['))
                    .filter_map(|r| match r.split_once('-') {
                        Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
                        None => r.parse().ok().map(|s| (s, s)),
                    })
                    .collect(),
            }
        })
        .collect()
}

/// `CLUSTER KEYSLOT key`, asked of the node on `port`.
pub async fn key_slot(port: u16, key: &str) -> u16 {
    redis::cmd("CLUSTER")
        .arg("KEYSLOT")
        .arg(key)
        .query_async(&mut node(port).await)
        .await
        .expect("CLUSTER KEYSLOT")
}

/// The primary that serves `slot`, as the node on `port` sees it.
pub async fn slot_owner(port: u16, slot: u16) -> ClusterNode {
    cluster_nodes(port)
        .await
        .into_iter()
        .find(|n| n.primary && n.slots.iter().any(|&(a, b)| (a..=b).contains(&slot)))
        .expect("the slot is served")
}
