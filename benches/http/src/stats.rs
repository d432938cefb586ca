//! What the storage servers count: Redis commands, PostgreSQL transactions.

use std::collections::BTreeMap;

use gimlet_redis::deadpool_redis::redis;
use gimlet_sql::sqlx;
use tower_sessions_redis_store::fred::prelude::{ClientLike, Config, Pool};

/// A fred pool for tower-sessions' Redis store.
pub(crate) async fn fred_pool(url: &str) -> Pool {
    let config = Config::from_url(url).expect("redis url");
    let pool = Pool::new(config, None, None, None, 4).expect("fred pool");
    pool.init().await.expect("fred connect");
    pool
}

/// Reads the servers' counters on connections of its own.
pub(crate) struct Counters {
    redis: redis::aio::MultiplexedConnection,
    postgres: sqlx::PgPool,
}

/// Counters at one moment.
#[derive(Debug, Clone, Default)]
pub(crate) struct Snapshot {
    /// Calls per Redis command.
    pub(crate) redis: BTreeMap<String, u64>,
    /// PostgreSQL's transaction id counter: it moves by one per writing
    /// transaction, at once (the statistics views lag by up to seconds).
    pub(crate) postgres: i64,
}

/// Redis commands that a client sends itself (the rest run inside
/// Gimlet's script, with no round trip of their own).
const CLIENT_COMMANDS: [&str; 11] = [
    "get",
    "set",
    "setex",
    "expire",
    "del",
    "hgetall",
    "evalsha",
    "eval",
    "script|load",
    "ping",
    "unwatch",
];

impl Counters {
    pub(crate) async fn connect(redis_url: &str, postgres_url: &str) -> Self {
        let client = redis::Client::open(redis_url).expect("redis url");
        Counters {
            redis: client
                .get_multiplexed_async_connection()
                .await
                .expect("redis"),
            postgres: sqlx::PgPool::connect(postgres_url).await.expect("postgres"),
        }
    }

    pub(crate) async fn snapshot(&mut self) -> Snapshot {
        let info: String = redis::cmd("INFO")
            .arg("commandstats")
            .query_async(&mut self.redis)
            .await
            .expect("INFO");
        let redis = info
            .lines()
            .filter_map(|line| {
                let (name, rest) = line.strip_prefix("cmdstat_")?.split_once(':')?;
                let calls = rest.split(',').find_map(|kv| kv.strip_prefix("calls="))?;
                Some((name.to_owned(), calls.parse().ok()?))
            })
            .collect();
        let postgres = sqlx::query_scalar("SELECT txid_current()")
            .fetch_one(&self.postgres)
            .await
            .expect("txid_current");
        Snapshot { redis, postgres }
    }
}

/// Storage work between two snapshots.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Work {
    /// Redis commands sent by clients (round trips, pipelines counted per command).
    pub(crate) redis_client: u64,
    /// Redis commands run inside scripts.
    pub(crate) redis_script: u64,
    /// PostgreSQL writing transactions.
    pub(crate) postgres: i64,
}

pub(crate) fn work(before: &Snapshot, after: &Snapshot) -> Work {
    let mut work = Work::default();
    for (name, calls) in &after.redis {
        if name == "info" {
            continue;
        }
        let delta = calls - before.redis.get(name).copied().unwrap_or(0);
        if CLIENT_COMMANDS.contains(&name.as_str()) {
            work.redis_client += delta;
        } else {
            work.redis_script += delta;
        }
    }
    // `txid_current()` itself takes one id.
    work.postgres = (after.postgres - before.postgres - 1).max(0);
    work
}

/// What one cell measured over its rounds: wrk's runs, and the work the
/// stores counted during each.
#[derive(Debug, Default, Clone)]
pub(crate) struct Measured {
    pub(crate) runs: Vec<crate::wrk::Run>,
    pub(crate) work: Vec<Work>,
}

impl Measured {
    /// Requests per second, the mean over the runs.
    pub(crate) fn rps(&self) -> f64 {
        self.runs.iter().map(|r| r.rps).sum::<f64>() / self.runs.len().max(1) as f64
    }

    /// The median latency, the mean over the runs.
    pub(crate) fn p50(&self) -> f64 {
        self.runs.iter().map(|r| r.p50_ms).sum::<f64>() / self.runs.len().max(1) as f64
    }

    /// The 99th percentile latency, the worst run's.
    pub(crate) fn p99(&self) -> f64 {
        self.runs.iter().map(|r| r.p99_ms).fold(0.0, f64::max)
    }

    pub(crate) fn requests(&self) -> u64 {
        self.runs.iter().map(|r| r.requests).sum()
    }

    pub(crate) fn errors(&self) -> u64 {
        self.runs.iter().map(|r| r.errors).sum()
    }

    /// Redis commands per request: sent by clients, and run inside
    /// scripts.
    pub(crate) fn redis_per_request(&self) -> (f64, f64) {
        let requests = self.requests().max(1) as f64;
        let client: u64 = self.work.iter().map(|w| w.redis_client).sum();
        let script: u64 = self.work.iter().map(|w| w.redis_script).sum();
        (client as f64 / requests, script as f64 / requests)
    }

    /// PostgreSQL write transactions per request.
    pub(crate) fn postgres_per_request(&self) -> f64 {
        let xacts: i64 = self.work.iter().map(|w| w.postgres).sum();
        xacts as f64 / self.requests().max(1) as f64
    }
}
