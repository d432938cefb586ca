//! The realistic workload: many established sessions and an app-shaped
//! mix of requests, Gimlet against tower-sessions and actix-session on the
//! same stores, measured with `wrk` in one interleaved run.
//!
//! Each cell gets `--sessions` sessions (a user id and a three-item cart),
//! then `wrk` cycles through their cookies. The mix: 70% of requests read
//! the user id only, 20% read it and the cart, 10% add an item to the cart.
//! The write-heavy variant adds an item on every request, each to the next
//! session. Redis commands are read from `INFO commandstats`; SQL
//! statements are counted in this process, from sqlx's statement events,
//! in a separate pass so that counting costs the timed runs nothing.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use gimlet_redis::deadpool_redis::redis;
use gimlet_sql::sqlx;
use tracing::subscriber::Interest;
use tracing::{Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

use crate::chart::{self, Bar, Panel};
use crate::servers::{CELLS, Cell, Kind, Urls};
use crate::stats::{self, Counters, Measured};
use crate::wrk;

/// What to run.
pub(crate) struct Settings {
    pub(crate) sessions: usize,
    pub(crate) seconds: u64,
    pub(crate) rounds: usize,
    pub(crate) connections: u32,
    /// Only the cells whose "framework label" contains this.
    pub(crate) only: Option<String>,
}

/// The cells of this workload: Gimlet and tower-sessions on axum over
/// Redis, PostgreSQL and SQLite; Gimlet and actix-session on actix-web
/// over Redis.
fn measured(cell: &Cell) -> bool {
    match cell.framework {
        "axum" => cell.kind != Kind::Bare && cell.store != "memory",
        "actix" => cell.store == "redis",
        _ => false,
    }
}

/// A request pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pattern {
    /// 70% user id, 20% user id and cart, 10% add to cart.
    Mix,
    /// Every request adds an item to the next session's cart.
    Writes,
}

impl Pattern {
    const ALL: [Pattern; 2] = [Pattern::Mix, Pattern::Writes];

    fn title(self) -> &'static str {
        match self {
            Pattern::Mix => "mix: 70% read the user id, 20% also the cart, 10% add to the cart",
            Pattern::Writes => "write-heavy: every request adds to the next session's cart",
        }
    }

    /// The Lua script: each request takes the next session's cookie.
    fn script(self, cookies: &Path) -> String {
        let pick = match self {
            Pattern::Mix => {
                r#"local roll = math.random(10)
  if roll <= 7 then return "/user" end
  if roll <= 9 then return "/cart" end
  return "/cart/add/i" .. n"#
            }
            Pattern::Writes => r#"return "/cart/add/w" .. n"#,
        };
        format!(
            r#"local cookies = {{}}
for line in io.lines("{}") do cookies[#cookies + 1] = line end
math.randomseed(7)
n = 0
local function path()
  {pick}
end
request = function()
  n = n + 1
  local cookie = cookies[(n % #cookies) + 1]
  return wrk.format("GET", path(), {{ Cookie = cookie }})
end
"#,
            cookies.display()
        )
    }
}

static COUNTING: AtomicBool = AtomicBool::new(false);
static STATEMENTS: AtomicU64 = AtomicU64::new(0);

/// Counts sqlx's statement events while [`COUNTING`] is set.
struct CountStatements;

impl<S: Subscriber> Layer<S> for CountStatements {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        if metadata.target() == "sqlx::query" {
            Interest::sometimes()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>, _: Context<'_, S>) -> bool {
        metadata.target() == "sqlx::query" && COUNTING.load(Ordering::Relaxed)
    }

    fn on_event(&self, _: &tracing::Event<'_>, _: Context<'_, S>) {
        STATEMENTS.fetch_add(1, Ordering::Relaxed);
    }
}

/// A connection to the cell's own Redis database.
async fn redis_connection(cell: &Cell, urls: &Urls) -> redis::aio::MultiplexedConnection {
    let client = redis::Client::open(cell.redis_url(urls)).expect("redis url");
    client
        .get_multiplexed_async_connection()
        .await
        .expect("redis")
}

/// Empties the cell's store before its sessions are made.
async fn clear(cell: &Cell, urls: &Urls) {
    match cell.store {
        "redis" => {
            let mut connection = redis_connection(cell, urls).await;
            let () = redis::cmd("FLUSHDB")
                .query_async(&mut connection)
                .await
                .expect("FLUSHDB");
        }
        "postgres" => {
            let pool = sqlx::PgPool::connect(&urls.postgres)
                .await
                .expect("postgres");
            for table in cell.postgres_tables() {
                sqlx::query(&format!("TRUNCATE {table}"))
                    .execute(&pool)
                    .await
                    .expect("TRUNCATE");
            }
        }
        _ => {}
    }
}

/// Bytes the store holds for the cell, all sessions together.
async fn stored_bytes(cell: &Cell, urls: &Urls) -> u64 {
    match cell.store {
        "redis" => {
            let mut connection = redis_connection(cell, urls).await;
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg("*")
                .query_async(&mut connection)
                .await
                .expect("KEYS");
            let mut total = 0;
            for chunk in keys.chunks(500) {
                let mut pipe = redis::pipe();
                for key in chunk {
                    pipe.cmd("MEMORY")
                        .arg("USAGE")
                        .arg(key)
                        .arg("SAMPLES")
                        .arg(0);
                }
                let sizes: Vec<Option<u64>> = pipe
                    .query_async(&mut connection)
                    .await
                    .expect("MEMORY USAGE");
                total += sizes.into_iter().flatten().sum::<u64>();
            }
            total
        }
        "postgres" => {
            let pool = sqlx::PgPool::connect(&urls.postgres)
                .await
                .expect("postgres");
            let mut total = 0;
            for table in cell.postgres_tables() {
                let size: i64 = sqlx::query_scalar("SELECT pg_total_relation_size($1::regclass)")
                    .bind(&table)
                    .fetch_one(&pool)
                    .await
                    .expect("pg_total_relation_size");
                total += size as u64;
            }
            total
        }
        _ => {
            let path = cell.sqlite_path();
            let url = format!("sqlite://{}", path.display());
            let pool = sqlx::SqlitePool::connect(&url).await.expect("sqlite");
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&pool)
                .await
                .expect("checkpoint");
            std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0)
        }
    }
}

/// Makes `count` sessions on the server at `base` (32 at a time) and
/// answers their `Cookie` headers.
async fn establish(base: &str, count: usize) -> Vec<String> {
    const WORKERS: usize = 32;
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..WORKERS {
        let base = base.to_owned();
        tasks.spawn(async move {
            let client = reqwest::Client::new();
            let mut made = Vec::new();
            for n in (worker..count).step_by(WORKERS) {
                let response = client
                    .get(format!("{base}/establish/{n}"))
                    .send()
                    .await
                    .expect("establish");
                assert!(
                    response.status().is_success(),
                    "establish: {}",
                    response.status()
                );
                let mut jar = crate::client::Jar::default();
                jar.store(response.headers());
                made.push((n, jar.header()));
            }
            made
        });
    }
    let mut cookies = vec![String::new(); count];
    while let Some(made) = tasks.join_next().await {
        for (n, cookie) in made.expect("worker") {
            cookies[n] = cookie;
        }
    }
    cookies
}

/// What one cell measured for one pattern: the timed runs, and the SQL
/// statements per request from the counting pass.
#[derive(Default)]
struct Outcome {
    measured: Measured,
    statements: Option<f64>,
}

impl Outcome {
    /// Backend round trips per request (Redis commands sent by the client,
    /// or SQL statements), and Redis commands run inside a script.
    fn commands(&self, store: &str) -> (f64, f64) {
        if store == "redis" {
            self.measured.redis_per_request()
        } else {
            (self.statements.unwrap_or(f64::NAN), 0.0)
        }
    }
}

/// Runs the workload and prints its tables; writes the chart to `chart`.
pub(crate) async fn run(settings: &Settings, chart: &Path) {
    tracing_subscriber::registry().with(CountStatements).init();
    let urls = Urls::from_env();
    let cells: Vec<&Cell> = CELLS
        .iter()
        .filter(|c| measured(c))
        .filter(|c| {
            let name = format!("{} {}", c.framework, c.label);
            settings.only.as_deref().is_none_or(|o| name.contains(o))
        })
        .collect();
    let dir = std::env::temp_dir().join("gimlet-bench-realistic");
    std::fs::create_dir_all(&dir).expect("temp dir");
    let started = Instant::now();

    let mut bases = Vec::new();
    let mut cookie_files: Vec<PathBuf> = Vec::new();
    let mut bytes = Vec::new();
    for cell in &cells {
        eprintln!(
            "{} {}: {} sessions",
            cell.framework, cell.label, settings.sessions
        );
        let base = crate::servers::start(cell, &urls).await;
        clear(cell, &urls).await;
        let cookies = establish(&base, settings.sessions).await;
        let file = dir.join(format!("cookies-{}.txt", cookie_files.len()));
        std::fs::write(&file, cookies.join("\n") + "\n").expect("cookie file");
        bytes.push(stored_bytes(cell, &urls).await as f64 / settings.sessions as f64);
        bases.push(base);
        cookie_files.push(file);
    }
    let established = Instant::now();

    let mut counters = Counters::connect(&urls.redis, &urls.postgres).await;
    let duration = Duration::from_secs(settings.seconds);
    let mut results: Vec<Vec<Outcome>> = Pattern::ALL
        .iter()
        .map(|_| cells.iter().map(|_| Outcome::default()).collect())
        .collect();
    for round in 0..settings.rounds {
        eprintln!("round {} of {}", round + 1, settings.rounds);
        for (p, pattern) in Pattern::ALL.into_iter().enumerate() {
            for c in 0..cells.len() {
                let script = dir.join(format!("{pattern:?}-{c}.lua"));
                std::fs::write(&script, pattern.script(&cookie_files[c])).expect("script");
                let before = counters.snapshot().await;
                let run = wrk::run_script(&script, &bases[c], None, duration, settings.connections);
                let after = counters.snapshot().await;
                let measured = &mut results[p][c].measured;
                measured.runs.push(run);
                measured.work.push(stats::work(&before, &after));
            }
        }
    }
    // SQL statements, counted apart from the timed runs.
    for (p, pattern) in Pattern::ALL.into_iter().enumerate() {
        for (c, cell) in cells.iter().enumerate() {
            if cell.store == "redis" {
                continue;
            }
            let script = dir.join(format!("{pattern:?}-{c}.lua"));
            STATEMENTS.store(0, Ordering::Relaxed);
            COUNTING.store(true, Ordering::Relaxed);
            let run = wrk::run_script(&script, &bases[c], None, Duration::from_secs(2), 8);
            COUNTING.store(false, Ordering::Relaxed);
            let statements = STATEMENTS.load(Ordering::Relaxed) as f64;
            results[p][c].statements = Some(statements / run.requests.max(1) as f64);
        }
    }
    let window = established.elapsed();
    let limit = crate::servers::REVALIDATE_AFTER;
    if window > Duration::from_secs(limit - 10) {
        eprintln!(
            "warning: the runs ended {} s after the sessions were made; past the servers' {limit} s revalidation window every read loads",
            window.as_secs()
        );
    }

    println!(
        "Measured on {}: {} sessions per cell, {} round(s) of {} s per cell and pattern, {} connections, wrk with one thread; total {:.0} s.\n",
        crate::machine(),
        settings.sessions,
        settings.rounds,
        settings.seconds,
        settings.connections,
        started.elapsed().as_secs_f64()
    );
    for (p, pattern) in Pattern::ALL.into_iter().enumerate() {
        println!("### {}\n", pattern.title());
        println!(
            "| framework | server | req/s | vs peer | p50 ms | p99 ms | backend commands per request | bytes per session |"
        );
        println!("|---|---|---|---|---|---|---|---|");
        for (c, cell) in cells.iter().enumerate() {
            let result = &results[p][c];
            let peer = cells.iter().position(|o| {
                cell.kind == Kind::Gimlet
                    && o.kind == Kind::Competitor
                    && o.framework == cell.framework
                    && o.store == cell.store
            });
            let vs = peer.map_or("-".to_owned(), |o| {
                format!(
                    "{:.2}",
                    result.measured.rps() / results[p][o].measured.rps()
                )
            });
            let (commands, script) = result.commands(cell.store);
            let commands = match (cell.store, script > 0.0) {
                ("redis", true) => format!("{commands:.2} (+{script:.2} in script)"),
                ("redis", false) => format!("{commands:.2}"),
                _ => format!("{commands:.2} SQL statements"),
            };
            let errors = match result.measured.errors() {
                0 => String::new(),
                n => format!(" ({n} errors)"),
            };
            println!(
                "| {} | {}{errors} | {:.0} | {vs} | {:.2} | {:.2} | {commands} | {:.0} |",
                cell.framework,
                cell.label,
                result.measured.rps(),
                result.measured.p50(),
                result.measured.p99(),
                bytes[c],
            );
        }
        println!();
    }

    let label = |cell: &Cell| format!("{} {} ({})", cell.framework, layer(cell), cell.store);
    let bars = |value: &dyn Fn(usize) -> f64| -> Vec<Bar> {
        cells
            .iter()
            .enumerate()
            .map(|(c, cell)| Bar {
                label: label(cell),
                value: value(c),
                gimlet: cell.kind == Kind::Gimlet,
            })
            .collect()
    };
    let panels = [
        Panel {
            title: "Mix: requests per second (higher is better)".into(),
            format: |v| format!("{v:.0}"),
            bars: bars(&|c| results[0][c].measured.rps()),
        },
        Panel {
            title: "Mix: backend round trips (Redis commands or SQL statements) per request (lower is better)"
                .into(),
            format: |v| format!("{v:.2}"),
            bars: bars(&|c| results[0][c].commands(cells[c].store).0),
        },
        Panel {
            title: "Write-heavy: requests per second (higher is better)".into(),
            format: |v| format!("{v:.0}"),
            bars: bars(&|c| results[1][c].measured.rps()),
        },
    ];
    let title = format!(
        "Gimlet against tower-sessions and actix-session: {} sessions, {}",
        settings.sessions,
        crate::machine()
    );
    if settings.only.is_some() {
        eprintln!("chart not written: --only measured some cells");
        return;
    }
    std::fs::write(chart, chart::svg(&title, &panels)).expect("write the chart");
    eprintln!("chart written to {}", chart.display());
}

fn layer(cell: &Cell) -> &'static str {
    match (cell.kind, cell.framework) {
        (Kind::Gimlet, _) => "Gimlet",
        (_, "axum") => "tower-sessions",
        _ => "actix-session",
    }
}
