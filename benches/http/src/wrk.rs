//! Runs `wrk` and reads its report.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// What one `wrk` run measured.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Run {
    pub(crate) requests: u64,
    pub(crate) rps: f64,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) errors: u64,
}

/// A workload: what each request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Workload {
    Hello,
    ClientRead,
    ServerRead,
    ServerWrite,
    Mix,
}

impl Workload {
    pub(crate) const ALL: [Workload; 5] = [
        Workload::Hello,
        Workload::ClientRead,
        Workload::ServerRead,
        Workload::ServerWrite,
        Workload::Mix,
    ];

    pub(crate) fn title(self) -> &'static str {
        match self {
            Workload::Hello => "`/hello`: middleware present, session untouched",
            Workload::ClientRead => "read one clientside key (`/get/cs`)",
            Workload::ServerRead => "read one server-side key (`/get/sv`)",
            Workload::ServerWrite => "write one server-side key (`/set/sv/{n}`)",
            Workload::Mix => "90% reads, 10% writes of one server-side key",
        }
    }

    /// The Lua script that makes the requests.
    fn script(self) -> &'static str {
        match self {
            Workload::Hello => r#"request = function() return wrk.format("GET", "/hello") end"#,
            Workload::ClientRead => {
                r#"request = function() return wrk.format("GET", "/get/cs") end"#
            }
            Workload::ServerRead => {
                r#"request = function() return wrk.format("GET", "/get/sv") end"#
            }
            Workload::ServerWrite => {
                r#"n = 0
request = function() n = n + 1; return wrk.format("GET", "/set/sv/w" .. n) end"#
            }
            Workload::Mix => {
                r#"n = 0
request = function()
  n = n + 1
  if n % 10 == 0 then return wrk.format("GET", "/set/sv/m" .. n) end
  return wrk.format("GET", "/get/sv")
end"#
            }
        }
    }
}

fn millis(text: &str) -> f64 {
    let text = text.trim();
    let (number, factor) = if let Some(n) = text.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1000.0)
    } else {
        (text, 1.0)
    };
    number.parse::<f64>().unwrap_or(f64::NAN) * factor
}

/// Runs `workload` against `base` for `duration` with `connections`,
/// sending `cookie`.
pub(crate) fn run(
    dir: &Path,
    base: &str,
    cookie: &str,
    workload: Workload,
    duration: Duration,
    connections: u32,
) -> Run {
    let script = dir.join(format!("{workload:?}.lua"));
    std::fs::write(&script, workload.script()).expect("write the script");
    run_script(&script, base, Some(cookie), duration, connections)
}

/// Runs the Lua `script` against `base` for `duration` with
/// `connections` (one wrk thread), sending `cookie` on every request if
/// given.
pub(crate) fn run_script(
    script: &Path,
    base: &str,
    cookie: Option<&str>,
    duration: Duration,
    connections: u32,
) -> Run {
    let mut command = Command::new("wrk");
    command
        .args([
            "-t1",
            &format!("-c{connections}"),
            &format!("-d{}s", duration.as_secs().max(1)),
        ])
        .arg("--latency")
        .arg("-s")
        .arg(script);
    if let Some(cookie) = cookie.filter(|c| !c.is_empty()) {
        command.args(["-H", &format!("Cookie: {cookie}")]);
    }
    let output = command
        .arg(base)
        .output()
        .expect("run wrk (install it: apt-get install wrk)");
    let text = String::from_utf8_lossy(&output.stdout);
    let mut run = Run::default();
    for line in text.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("50%") {
            run.p50_ms = millis(rest);
        } else if let Some(rest) = line.strip_prefix("99%") {
            run.p99_ms = millis(rest);
        } else if let Some(rest) = line.strip_prefix("Requests/sec:") {
            run.rps = rest.trim().parse().unwrap_or(0.0);
        } else if line.contains(" requests in ") {
            run.requests = line
                .split_whitespace()
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
        } else if let Some(rest) = line.strip_prefix("Non-2xx or 3xx responses:") {
            run.errors = rest.trim().parse().unwrap_or(0);
        }
    }
    run
}
