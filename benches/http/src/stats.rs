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
