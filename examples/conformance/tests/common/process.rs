//! The app binaries as a user starts them, configured only through the
//! environment, on a port they pick and announce.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The three binaries.
pub const BINARIES: [&str; 3] = [
    env!("CARGO_BIN_EXE_conformance-axum"),
    env!("CARGO_BIN_EXE_conformance-actix"),
    env!("CARGO_BIN_EXE_conformance-rocket"),
];

/// A running binary; killed when dropped.
pub struct Running {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// What it wrote to stderr so far.
    stderr: Arc<Mutex<String>>,
}

impl Running {
    /// What it wrote to stderr so far.
    pub fn stderr_now(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits up to five seconds for stderr to hold `text`; all of stderr.
    pub async fn wait_for_log(&self, text: &str) -> String {
        for _ in 0..100 {
            let log = self.stderr.lock().unwrap().clone();
            if log.contains(text) {
                return log;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no {text:?} in: {}", self.stderr.lock().unwrap());
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// Starts `binary` with `env` (and no `GIMLET_SECRET` or `GIMLET_BACKEND`
/// but what `env` gives), and waits for it to announce its address.
pub async fn run(binary: &str, env: &[(&str, String)]) -> Running {
    // Port 0: the app binds a free port itself and announces it.
    let mut command = Command::new(binary);
    command
        .env("GIMLET_ADDR", "127.0.0.1:0")
        .env_remove("GIMLET_SECRET")
        .env_remove("GIMLET_BACKEND")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().unwrap();
    let stderr = Arc::new(Mutex::new(String::new()));
    let mut errors = BufReader::new(child.stderr.take().unwrap()).lines();
    let log = stderr.clone();
    tokio::spawn(async move {
        while let Ok(Some(line)) = errors.next_line().await {
            let mut log = log.lock().unwrap();
            log.push_str(&line);
            log.push('\n');
        }
    });
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("the app announces itself")
        .unwrap()
        .unwrap();
    let addr = first
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("{binary}: {first}"));
    let port: u16 = addr.strip_prefix("127.0.0.1:").unwrap().parse().unwrap();
    assert_ne!(port, 0, "{binary}: {first}");
    Running {
        child,
        base: format!("http://{addr}"),
        stderr,
    }
}
