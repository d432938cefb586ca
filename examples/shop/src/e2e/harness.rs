//! The shop as a real process, and browsers (reqwest clients with their
//! own cookie jars) to drive it.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

/// A running shop on SQLite in a temporary file; the process ends, and the
/// file goes, on drop.
pub struct Shop {
    pub base: String,
    db: std::path::PathBuf,
    _child: Child,
    // Kept open: a shop that writes to a closed stdout would die of it.
    _stdout: Lines<BufReader<ChildStdout>>,
}

impl Drop for Shop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.db);
    }
}

/// Starts `binary` on a free port with `env` set (on top of
/// `GIMLET_ADDR` and `GIMLET_BACKEND`), and waits until it listens.
pub async fn start(binary: &str, env: &[(&str, &str)]) -> Shop {
    let unique = gimlet_core::SessionId::generate().unwrap().to_string();
    let db = std::env::temp_dir().join(format!("gimlet-shop-test-{}.db", &unique[..12]));
    // Port 0: the shop binds a free port itself and announces it.
    let mut child = Command::new(binary)
        .env("GIMLET_ADDR", "127.0.0.1:0")
        .env(
            "GIMLET_BACKEND",
            format!("sqlite://{}?mode=rwc", db.display()),
        )
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let announced = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let base = announced
        .split("open ")
        .nth(1)
        .expect("the shop announces its URL")
        .trim_end_matches('/')
        .to_owned();
    assert!(base.starts_with("http://127.0.0.1:"), "{announced}");
    let port: u16 = base.rsplit(':').next().unwrap().parse().unwrap();
    assert_ne!(port, 0, "{announced}");
    wait_until_listening(port).await;
    Shop {
        base,
        db,
        _child: child,
        _stdout: lines,
    }
}

/// A port free on 127.0.0.1 a moment ago, for a process to listen on.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Waits, up to five seconds, until something listens on `port`.
pub async fn wait_until_listening(port: u16) {
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One browser: a client with its own cookie jar, which follows redirects.
pub struct Browser {
    pub client: reqwest::Client,
    pub jar: Arc<reqwest::cookie::Jar>,
    base: String,
}

impl Browser {
    pub fn new(shop: &Shop) -> Self {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let client = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .build()
            .unwrap();
        Self {
            client,
            jar,
            base: shop.base.clone(),
        }
    }

    /// `GET /`, as text.
    pub async fn home(&self) -> String {
        let response = self.client.get(&self.base).send().await.unwrap();
        assert_eq!(response.status(), 200);
        response.text().await.unwrap()
    }

    /// Posts `form` to `path`; the status and the page it leads to.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> (u16, String) {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .form(form)
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// Logs in as `name` from the home page's form; the page it leads to.
    pub async fn log_in(&self, name: &str) -> String {
        let token = csrf(&self.home().await);
        let (status, page) = self
            .post("/login", &[("name", name), ("csrf", &token)])
            .await;
        assert_eq!(status, 200, "{page}");
        page
    }
}

/// The CSRF token in a page's forms.
pub fn csrf(page: &str) -> String {
    let start = page.find("name=csrf value=").unwrap() + "name=csrf value=".len();
    page[start..start + 64].to_owned()
}

/// The rows of the "your devices" table.
pub fn devices(page: &str) -> usize {
    page.matches("<tr class=device>").count()
}

/// The size the footer gives for the transient cookie.
pub fn cookie_bytes(page: &str) -> Option<usize> {
    let marker = "<th>transient</th><td><code>";
    let start = page.find(marker)? + marker.len();
    let end = start + page[start..].find("</code>")?;
    page[start..end].parse().ok()
}
