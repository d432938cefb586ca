//! CPU instructions per request, counted by callgrind: deterministic where
//! wall-clock figures on a shared machine are not.
//!
//! Each server runs alone in its own process under
//! `valgrind --tool=callgrind` (this binary's `serve` mode). A client
//! outside it establishes a session, warms every route up, then for each
//! route zeroes the counters (`callgrind_control -z`), sends the requests
//! one after another on one keep-alive connection, and dumps the counters
//! (`callgrind_control -d`). The dump's total over the number of requests
//! is the figure; the dumps stay on disk for `callgrind_annotate`.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::client::{self, Client};
use crate::servers::{CELLS, Cell, Kind, Urls};

/// The cells measured: the bare frameworks, Gimlet on `MemoryBackend`, and
/// the peers that need no server.
fn measured(cell: &Cell) -> bool {
    matches!(cell.store, "-" | "memory")
}

/// A route, as one request of a run asks for it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Route {
    pub(crate) name: &'static str,
    path: fn(usize) -> String,
}

/// The routes, in the order they are measured.
pub(crate) const ROUTES: [Route; 4] = [
    Route {
        name: "`/hello` (session untouched)",
        path: |_| "/hello".into(),
    },
    Route {
        name: "clientside read (`/get/cs`)",
        path: |_| "/get/cs".into(),
    },
    Route {
        name: "server read (`/get/sv`)",
        path: |_| "/get/sv".into(),
    },
    Route {
        name: "server write (`/set/sv/{i}`)",
        path: |i| format!("/set/sv/{i}"),
    },
];

/// The name `serve` takes for `cell`.
pub(crate) fn cell_name(cell: &Cell) -> String {
    format!("{}:{}", cell.framework, cell.label)
}

/// The cell named `name` (see [`cell_name`]).
pub(crate) fn cell_named(name: &str) -> Option<&'static Cell> {
    CELLS.iter().find(|c| cell_name(c) == name)
}

/// The Tokio runtime a server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Runtime {
    /// One thread: the least noise, the figures of earlier rounds.
    CurrentThread,
    /// What applications run (`#[tokio::main]`).
    MultiThread,
}

impl Runtime {
    /// The word `serve` takes for it.
    pub(crate) fn arg(self) -> &'static str {
        match self {
            Runtime::CurrentThread => "current-thread",
            Runtime::MultiThread => "multi-thread",
        }
    }
}

/// The `serve` mode: starts one cell, prints its base URL on stdout, and
/// serves until killed.
pub(crate) fn serve(name: &str, runtime: Runtime) -> ! {
    let cell = cell_named(name).unwrap_or_else(|| panic!("no cell named {name}"));
    let runtime = match runtime {
        Runtime::CurrentThread => tokio::runtime::Builder::new_current_thread(),
        // What `#[tokio::main]` builds (one worker per core).
        Runtime::MultiThread => tokio::runtime::Builder::new_multi_thread(),
    }
    .enable_all()
    .build()
    .expect("runtime");
    runtime.block_on(async {
        let base = crate::servers::start(cell, &Urls::from_env()).await;
        println!("{base}");
        std::io::stdout().flush().expect("stdout");
        std::future::pending::<()>().await;
    });
    unreachable!("the server runs until killed")
}

/// A server under callgrind.
struct Profiled {
    child: Child,
    base: String,
    out: PathBuf,
}

impl Profiled {
    fn start(cell: &Cell, dir: &Path, runtime: Runtime) -> Profiled {
        let slug: String = cell_name(cell)
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        static RUNS: AtomicUsize = AtomicUsize::new(0);
        let run = RUNS.fetch_add(1, Ordering::Relaxed);
        let out = dir.join(format!("{run:02}-{slug}.out"));
        let exe = std::env::current_exe().expect("this binary");
        let mut child = Command::new("valgrind")
            .arg("--tool=callgrind")
            .arg(format!("--callgrind-out-file={}", out.display()))
            .arg(exe)
            .args(["serve", &cell_name(cell), runtime.arg()])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("valgrind (install it: apt-get install valgrind)");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("stdout");
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("base URL");
        // Rocket announces its address before it listens.
        let addr = line.trim().trim_start_matches("http://");
        client::wait_until_listening(addr, Duration::from_secs(60));
        Profiled {
            child,
            base: line.trim().to_owned(),
            out,
        }
    }

    /// Runs `callgrind_control` with `flag`. Callgrind reads commands only
    /// while the program runs, so the client pokes the server with
    /// `/hello` until the command is answered; the poke's own instructions
    /// count in the run that follows a zeroing (a few thousand, spread
    /// over the run's requests).
    fn control(&self, flag: &str, client: &mut Client) {
        let mut control = Command::new("callgrind_control")
            .args([flag, &self.child.id().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("callgrind_control");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if control.try_wait().expect("callgrind_control").is_some() {
                return;
            }
            assert!(Instant::now() < deadline, "callgrind_control {flag} hangs");
            std::thread::sleep(Duration::from_millis(50));
            client.get("/hello", "");
        }
    }

    /// The total instructions of the newest dump, and the heap allocations
    /// it counts.
    fn last_dump(&self) -> (u64, u64) {
        let text = std::fs::read_to_string(self.newest_dump()).expect("dump");
        let total = text
            .lines()
            .find_map(|l| l.strip_prefix("summary: ").or(l.strip_prefix("totals: ")))
            .and_then(|n| n.trim().parse().ok())
            .expect("a total in the dump");
        (total, allocations(&text))
    }

    fn newest_dump(&self) -> PathBuf {
        let dir = self.out.parent().expect("dir");
        let stem = self.out.file_name().expect("name").to_string_lossy();
        let newest = std::fs::read_dir(dir)
            .expect("dumps")
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with(stem.as_ref()))
            .max_by_key(|e| e.metadata().and_then(|m| m.modified()).ok())
            .expect("a dump");
        newest.path()
    }
}

/// The C allocator's entry points: every heap allocation of a Rust program
/// (its global allocator is the system's) calls one of them once.
const ALLOCATORS: [&str; 4] = ["malloc", "calloc", "realloc", "posix_memalign"];

/// How many times a callgrind dump saw the allocator called: the sum of
/// the `calls=` lines under a `cfn=` naming one of [`ALLOCATORS`]. Names
/// are compressed: `(7) malloc` defines id 7, a later `(7)` refers to it.
fn allocations(dump: &str) -> u64 {
    let mut names: std::collections::HashMap<&str, &str> = std::collections::HashMap::new();
    let mut callee_allocates = false;
    let mut total = 0;
    for line in dump.lines() {
        let (is_callee, spec) = if let Some(spec) = line.strip_prefix("cfn=") {
            (true, spec)
        } else if let Some(spec) = line.strip_prefix("fn=") {
            (false, spec)
        } else {
            if let Some(calls) = line.strip_prefix("calls=")
                && callee_allocates
            {
                let count = calls.split_whitespace().next().unwrap_or("0");
                total += count.parse::<u64>().unwrap_or(0);
            }
            continue;
        };
        let name = match spec.split_once(") ") {
            Some((id, name)) => {
                names.insert(id, name);
                name
            }
            None => names
                .get(spec.trim_end_matches(')'))
                .copied()
                .unwrap_or(spec),
        };
        callee_allocates = is_callee && ALLOCATORS.contains(&name);
    }
    total
}

impl Drop for Profiled {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Instructions, or allocations, per request, by route.
type Row = [f64; 4];

/// What callgrind counted for one server, per request and route.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Figures {
    pub(crate) instructions: Row,
    /// Heap allocations (calls of the C allocator).
    pub(crate) allocations: Row,
}

/// Per request, by cell and route: the cell's own figures, and its bare
/// framework's for the same requests (the same `Cookie` header).
pub(crate) struct Counts {
    pub(crate) cells: Vec<(&'static Cell, Figures, Option<Figures>)>,
    pub(crate) requests: usize,
    pub(crate) dir: PathBuf,
    pub(crate) runtime: Runtime,
}

/// Runs `cell` under callgrind: every route, `requests` times after a
/// warm-up, with `cookie` or, if `None`, the cookies of a session the cell
/// itself established. Answers the counts and the cookie used.
async fn profile(
    cell: &Cell,
    cookie: Option<String>,
    settings: &Settings<'_>,
    dir: &Path,
) -> (Figures, String) {
    let requests = settings.requests;
    let server = Profiled::start(cell, dir, settings.runtime);
    let cookie = match cookie {
        Some(cookie) => cookie,
        None => crate::establish(&server.base).await,
    };
    let base = server.base.clone();
    let header = cookie.clone();
    let counts = tokio::task::spawn_blocking(move || {
        let mut client = Client::connect(&base);
        for route in ROUTES {
            for i in 0..requests.min(200) {
                client.get(&(route.path)(i), &header);
            }
        }
        let mut counts = Figures {
            instructions: [0.0; 4],
            allocations: [0.0; 4],
        };
        for (r, route) in ROUTES.into_iter().enumerate() {
            server.control("-z", &mut client);
            for i in 0..requests {
                let status = client.get(&(route.path)(i), &header);
                assert!(status < 400, "{}: {status}", (route.path)(i));
            }
            server.control("-d", &mut client);
            let (instructions, allocations) = server.last_dump();
            counts.instructions[r] = instructions as f64 / requests as f64;
            counts.allocations[r] = allocations as f64 / requests as f64;
        }
        counts
    })
    .await
    .expect("client");
    (counts, cookie)
}

/// Measures every cell on every route with `requests` requests each, and
/// each session layer's bare framework with the layer's own cookies.
/// What `measure` runs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings<'a> {
    /// Requests per route and cell.
    pub(crate) requests: usize,
    /// Only the cells whose name contains this.
    pub(crate) only: Option<&'a str>,
    pub(crate) runtime: Runtime,
}

pub(crate) async fn measure(settings: &Settings<'_>) -> Counts {
    let (requests, only) = (settings.requests, settings.only);
    let dir = std::env::temp_dir().join("gimlet-bench-callgrind");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dump dir");
    let mut cells = Vec::new();
    // `--only` picks any cell, a server-backed one included.
    let picked = |c: &Cell| match only {
        Some(only) => cell_name(c).contains(only),
        None => measured(c),
    };
    for cell in CELLS.iter().filter(|c| picked(c)) {
        eprintln!("callgrind: {}", cell_name(cell));
        let (counts, cookie) = profile(cell, None, settings, &dir).await;
        let bare = CELLS
            .iter()
            .find(|c| c.framework == cell.framework && c.kind == Kind::Bare)
            .expect("a bare cell");
        let baseline = if cell.kind == Kind::Bare {
            None
        } else {
            eprintln!("callgrind: {} with its cookies", cell_name(bare));
            Some(profile(bare, Some(cookie), settings, &dir).await.0)
        };
        cells.push((cell, counts, baseline));
    }
    Counts {
        cells,
        requests,
        dir,
        runtime: settings.runtime,
    }
}

/// Prints the tables: instructions per request, and each session layer's
/// overhead over its bare framework; then the same for allocations.
pub(crate) fn report(counts: &Counts) {
    println!(
        "Instructions per request (callgrind, {} requests per route after a warm-up, one keep-alive connection, the {} runtime; dumps in {}). In brackets: the overhead over the bare framework served the same requests, `Cookie` header included.\n",
        counts.requests,
        counts.runtime.arg(),
        counts.dir.display()
    );
    table(counts, |f| f.instructions, 1000.0, "k");
    println!(
        "Heap allocations per request (calls of the C allocator, from the same dumps). In brackets: the overhead over the bare framework.\n"
    );
    table(counts, |f| f.allocations, 1.0, "");
}

/// One table of `figure`, in units of `unit` written `suffix`.
fn table(counts: &Counts, figure: fn(&Figures) -> Row, unit: f64, suffix: &str) {
    println!("| framework | server | {} |", route_names(" | "));
    println!("|---|---|{}", "---|".repeat(ROUTES.len()));
    for (cell, figures, bare) in &counts.cells {
        let row = figure(figures);
        let values: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, v)| match bare {
                None => format!("{:.1}{suffix}", v / unit),
                Some(bare) => {
                    let over = (v - figure(bare)[i]) / unit;
                    format!("{:.1}{suffix} ({over:+.1}{suffix})", v / unit)
                }
            })
            .collect();
        println!(
            "| {} | {} | {} |",
            cell.framework,
            cell.label,
            values.join(" | ")
        );
    }
    println!();
}

fn route_names(separator: &str) -> String {
    ROUTES.map(|r| r.name).join(separator)
}
