//! The app binaries as a user starts them, configured only through the
//! environment, on a port they pick and announce.

use std::process::Stdio;
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
        .stderr(Stdio::null())
        .kill_on_drop(true);
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().unwrap();
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
    }
}
