//! Throughput, latency and storage commands per request for Gimlet on
//! axum, actix-web and Rocket, against each framework bare, tower-sessions
//! and actix-session, measured with `wrk` in one interleaved run.
//!
//! Run with: `bash benches/http/run.sh` (it checks the servers and wrk,
//! then runs `cargo run --release -p gimlet-bench`).

#![allow(clippy::print_stdout, clippy::print_stderr)]

mod apps;
mod cart;
mod chart;
mod client;
mod instructions;
mod memory;
mod realistic;
mod servers;
mod stats;
mod wrk;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use servers::{Kind, Urls, Variant};
use stats::Measured;
use wrk::Workload;

struct Settings {
    seconds: u64,
    rounds: usize,
    connections: u32,
    /// Only variants whose "framework label" contains this (for profiling).
    only: Option<String>,
    /// Requests per route and cell, for `instructions`.
    requests: Option<usize>,
    /// Sessions per cell, for `realistic`.
    sessions: Option<usize>,
}

fn settings() -> Settings {
    let mut settings = Settings {
        seconds: 1,
        rounds: 2,
        connections: 32,
        only: None,
        requests: None,
        sessions: None,
    };
    let args: Vec<String> = std::env::args().collect();
    for pair in args.windows(2) {
        match pair[0].as_str() {
            "--seconds" => settings.seconds = pair[1].parse().expect("--seconds"),
            "--rounds" => settings.rounds = pair[1].parse().expect("--rounds"),
            "--connections" => settings.connections = pair[1].parse().expect("--connections"),
            "--only" => settings.only = Some(pair[1].clone()),
            "--requests" => settings.requests = Some(pair[1].parse().expect("--requests")),
            "--sessions" => settings.sessions = Some(pair[1].parse().expect("--sessions")),
            _ => {}
        }
    }
    settings
}

/// Sets a clientside key and a server-side key, and answers the cookies.
pub(crate) async fn establish(base: &str) -> String {
    let client = reqwest::Client::new();
    let mut jar = client::Jar::default();
    for path in ["/set/cs/1", "/set/sv/1"] {
        let response = client
            .get(format!("{base}{path}"))
            .header("Cookie", jar.header())
            .send()
            .await
            .expect("request");
        assert!(
            response.status().is_success(),
            "{base}{path}: {}",
            response.status()
        );
        jar.store(response.headers());
    }
    jar.header()
}

/// The storage commands of `measured`, per request, as the table shows
/// them.
fn storage(measured: &Measured, store: &str) -> String {
    match store {
        "redis" => match measured.redis_per_request() {
            (client, script) if script > 0.0 => format!("{client:.2} (+{script:.2} in script)"),
            (client, _) => format!("{client:.2}"),
        },
        "postgres" => format!("{:.2} write transactions", measured.postgres_per_request()),
        _ => "-".to_owned(),
    }
}

fn ratio(a: f64, b: Option<f64>) -> String {
    match b {
        Some(b) if b > 0.0 => format!("{:.2}", a / b),
        _ => "-".to_owned(),
    }
}

pub(crate) fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    format!("{cores} cores ({cpu})")
}

fn runtime_of(multi: bool) -> instructions::Runtime {
    if multi {
        instructions::Runtime::MultiThread
    } else {
        instructions::Runtime::CurrentThread
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let [_, mode, name, runtime @ ..] = args.as_slice()
        && mode == "serve"
    {
        let multi = runtime.first().map(String::as_str) == Some("multi-thread");
        instructions::serve(name, runtime_of(multi));
    }
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    match args.get(1).map(String::as_str) {
        Some("memory-fill") => {
            let store = args.get(2).map_or("gimlet", String::as_str);
            let sessions = args.get(3).and_then(|n| n.parse().ok()).unwrap_or(100_000);
            runtime.block_on(memory::fill(store, sessions));
        }
        Some("memory") => {
            let settings = settings();
            let sessions = settings.sessions.unwrap_or(100_000);
            memory::run(sessions, settings.requests.unwrap_or(1_000_000));
        }
        Some("instructions") => {
            let settings = settings();
            let multi = args
                .windows(2)
                .any(|w| w[0] == "--runtime" && w[1] == "multi-thread");
            let measured = instructions::Settings {
                requests: settings.requests.unwrap_or(1000),
                only: settings.only.as_deref(),
                runtime: runtime_of(multi),
            };
            let counts = runtime.block_on(instructions::measure(&measured));
            instructions::report(&counts);
        }
        Some("realistic") => {
            let settings = settings();
            let realistic = realistic::Settings {
                sessions: settings.sessions.unwrap_or(10_000),
                seconds: settings.seconds.max(3),
                rounds: settings.rounds,
                connections: settings.connections,
                only: settings.only.clone(),
            };
            let chart = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../docs/benchmarks-realistic.svg");
            runtime.block_on(realistic::run(&realistic, &chart));
        }
        _ => runtime.block_on(throughput()),
    }
    std::process::exit(0);
}

/// Requests per second, latency and storage commands, with wrk.
async fn throughput() {
    let settings = settings();
    let urls = Urls::from_env();
    let started = Instant::now();
    let mut variants: Vec<Variant> = servers::start_all(&urls).await;
    if let Some(only) = &settings.only {
        variants.retain(|v| format!("{} {}", v.framework, v.label).contains(only.as_str()));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut counters = stats::Counters::connect(&urls.redis, &urls.postgres).await;
    let dir = std::env::temp_dir().join("gimlet-bench");
    std::fs::create_dir_all(&dir).expect("temp dir");
    let duration = Duration::from_secs(settings.seconds);

    let mut cells: BTreeMap<(usize, usize), Measured> = BTreeMap::new();
    for round in 0..settings.rounds {
        eprintln!("round {} of {}", round + 1, settings.rounds);
        // Fresh sessions every round, so that no run outlasts Gimlet's
        // revalidation window (wrk never takes a re-issued cookie).
        let mut cookies = Vec::new();
        for variant in &variants {
            cookies.push(establish(&variant.base).await);
        }
        for (w, workload) in Workload::ALL.into_iter().enumerate() {
            for (v, variant) in variants.iter().enumerate() {
                let before = counters.snapshot().await;
                let run = wrk::run(
                    &dir,
                    &variant.base,
                    &cookies[v],
                    workload,
                    duration,
                    settings.connections,
                );
                let after = counters.snapshot().await;
                let cell = cells.entry((w, v)).or_default();
                cell.runs.push(run);
                cell.work.push(stats::work(&before, &after));
            }
        }
    }

    println!(
        "Measured on {}, {} round(s) of {} s per cell, {} connections, wrk with one thread; total {:.0} s.\n",
        machine(),
        settings.rounds,
        settings.seconds,
        settings.connections,
        started.elapsed().as_secs_f64()
    );
    for (w, workload) in Workload::ALL.into_iter().enumerate() {
        println!("### {}\n", workload.title());
        println!(
            "| framework | server | req/s | vs bare | vs competitor | p50 ms | p99 ms | storage commands per request |"
        );
        println!("|---|---|---|---|---|---|---|---|");
        for (v, variant) in variants.iter().enumerate() {
            let cell = &cells[&(w, v)];
            let bare = variants
                .iter()
                .position(|o| o.framework == variant.framework && o.kind == Kind::Bare)
                .map(|b| cells[&(w, b)].rps());
            let competitor = match variant.kind {
                Kind::Gimlet => variants
                    .iter()
                    .position(|o| {
                        o.framework == variant.framework
                            && o.kind == Kind::Competitor
                            && o.store == variant.store
                    })
                    .map(|c| cells[&(w, c)].rps()),
                _ => None,
            };
            let errors = match cell.errors() {
                0 => String::new(),
                n => format!(" ({n} errors)"),
            };
            println!(
                "| {} | {}{errors} | {:.0} | {} | {} | {:.2} | {:.2} | {} |",
                variant.framework,
                variant.label,
                cell.rps(),
                ratio(cell.rps(), bare),
                ratio(cell.rps(), competitor),
                cell.p50(),
                cell.p99(),
                storage(cell, variant.store),
            );
        }
        println!();
    }
}
