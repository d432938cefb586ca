//! The nodes that take writes (one server, or a cluster's primaries), read
//! through connections of the tool's own: `INFO commandstats`,
//! `INFO memory`, and the slot of a key.

use std::collections::BTreeMap;

use gimlet_redis::deadpool_redis::redis;
use redis::aio::MultiplexedConnection;

pub(crate) struct Nodes {
    conns: Vec<MultiplexedConnection>,
}

async fn connect(addr: &str) -> MultiplexedConnection {
    redis::Client::open(format!("redis://{addr}/"))
        .expect("a node address")
        .get_multiplexed_async_connection()
        .await
        .expect("the node answers")
}

impl Nodes {
    /// The server of a `redis://host:port/` URL, or the primaries of a
    /// `redis+cluster://` one.
    pub(crate) async fn of(url: &str) -> Nodes {
        let Some(seeds) = url.strip_prefix("redis+cluster://") else {
            let addr = url.trim_start_matches("redis://").trim_end_matches('/');
            return Nodes {
                conns: vec![connect(addr).await],
            };
        };
        let mut seed = connect(seeds.split(',').next().unwrap_or_default()).await;
        let nodes: String = redis::cmd("CLUSTER")
            .arg("NODES")
            .query_async(&mut seed)
            .await
            .expect("CLUSTER NODES");
        let mut conns = Vec::new();
        for line in nodes.lines() {
            let fields: Vec<&str> = line.split(' ').collect();
            if fields.len() > 2 && fields[2].contains("master") && !fields[2].contains("fail") {
                let addr = fields[1].split('@').next().unwrap_or_default();
                conns.push(connect(addr).await);
            }
        }
        Nodes { conns }
    }

    pub(crate) fn len(&self) -> usize {
        self.conns.len()
    }

    async fn info(&mut self, section: &str) -> Vec<String> {
        let mut all = Vec::new();
        for conn in &mut self.conns {
            let info: String = redis::cmd("INFO")
                .arg(section)
                .query_async(conn)
                .await
                .expect("INFO");
            all.push(info);
        }
        all
    }

    /// Calls per command, summed over the nodes.
    pub(crate) async fn commandstats(&mut self) -> BTreeMap<String, u64> {
        let mut sum = BTreeMap::new();
        for info in self.info("commandstats").await {
            for line in info.lines() {
                let Some((name, rest)) = line
                    .strip_prefix("cmdstat_")
                    .and_then(|l| l.split_once(':'))
                else {
                    continue;
                };
                let calls = rest
                    .split(',')
                    .find_map(|kv| kv.strip_prefix("calls="))
                    .and_then(|c| c.parse::<u64>().ok())
                    .unwrap_or(0);
                *sum.entry(name.to_owned()).or_default() += calls;
            }
        }
        sum
    }

    /// `used_memory` of each node, in bytes.
    pub(crate) async fn used_memory(&mut self) -> Vec<u64> {
        self.info("memory")
            .await
            .iter()
            .map(|info| {
                info.lines()
                    .find_map(|l| l.strip_prefix("used_memory:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0)
            })
            .collect()
    }

    /// CPU seconds the nodes have used (system and user), summed.
    pub(crate) async fn cpu_seconds(&mut self) -> f64 {
        self.info("cpu")
            .await
            .iter()
            .flat_map(|info| {
                info.lines()
                    .filter(|l| l.starts_with("used_cpu_sys:") || l.starts_with("used_cpu_user:"))
                    .filter_map(|l| l.split_once(':')?.1.trim().parse::<f64>().ok())
                    .collect::<Vec<_>>()
            })
            .sum()
    }

    /// Deletes every key that starts with `prefix`, node by node.
    pub(crate) async fn delete_prefixed(&mut self, prefix: &str) {
        for conn in &mut self.conns {
            let mut cursor = 0u64;
            loop {
                let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(format!("{prefix}*"))
                    .arg("COUNT")
                    .arg(1000)
                    .query_async(conn)
                    .await
                    .expect("SCAN");
                let mut pipe = redis::pipe();
                for key in &keys {
                    pipe.cmd("UNLINK").arg(key).ignore();
                }
                let () = pipe.query_async(conn).await.expect("UNLINK");
                if next == 0 {
                    break;
                }
                cursor = next;
            }
        }
    }

    /// The hash slot of each key, as the first node computes it.
    pub(crate) async fn slots(&mut self, keys: &[String]) -> Vec<u16> {
        let mut slots = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(1000) {
            let mut pipe = redis::pipe();
            for key in chunk {
                pipe.cmd("CLUSTER").arg("KEYSLOT").arg(key);
            }
            let part: Vec<u16> = pipe
                .query_async(&mut self.conns[0])
                .await
                .expect("CLUSTER KEYSLOT");
            slots.extend(part);
        }
        slots
    }
}

/// What changed between two readings, without the tool's own commands.
pub(crate) fn delta(
    before: &BTreeMap<String, u64>,
    after: &BTreeMap<String, u64>,
) -> BTreeMap<String, u64> {
    after
        .iter()
        .filter_map(|(name, calls)| {
            let change = calls - before.get(name).copied().unwrap_or(0);
            let own = [
                "info", "cluster", "ping", "readonly", "client", "hello", "replconf",
            ];
            let base = name.split('|').next().unwrap_or_default();
            (change > 0 && !own.contains(&base)).then(|| (name.clone(), change))
        })
        .collect()
}
