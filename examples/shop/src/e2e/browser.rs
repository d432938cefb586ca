//! A real browser for the shop's end-to-end tests: Debian's headless
//! Chromium, driven through `chromedriver` over the W3C WebDriver protocol
//! (JSON over HTTP, spoken here with reqwest). Each [`Browser`] is one
//! Chromium profile: quitting it and starting another on the same profile
//! is a browser restart, which keeps persistent cookies and drops session
//! ones, as Chromium decides.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};

use super::harness::{free_port, wait_until_listening};
use tokio::process::{Child, Command};

/// Where Debian installs them (`apt-get install chromium chromium-driver`;
/// `.ci/chromium` does).
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// See [`CHROMIUM`].
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// The WebDriver element reference key.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A running `chromedriver`; stopped on drop.
pub struct Driver {
    base: String,
    http: reqwest::Client,
    _child: Child,
}

/// Whether Chromium and its driver are installed. Without them the browser
/// tests skip, saying so, unless `GIMLET_TEST_REQUIRE_SERVERS=1` (as in CI)
/// makes them fail.
pub fn available(test: &str) -> bool {
    let present = Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists();
    if !present {
        let required = std::env::var("GIMLET_TEST_REQUIRE_SERVERS").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "{test}: Chromium is missing ({CHROMIUM}, {CHROMEDRIVER}): run `bash .ci/chromium`"
        );
        eprintln!("{test}: skipped, Chromium is missing (`bash .ci/chromium` installs it)");
    }
    present
}

impl Driver {
    /// Starts `chromedriver` on a free port and waits until it answers.
    pub async fn start() -> Driver {
        let port = free_port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let driver = Driver {
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
            _child: child,
        };
        for _ in 0..200 {
            let ready = driver
                .http
                .get(format!("{}/status", driver.base))
                .send()
                .await;
            if ready.is_ok() {
                return driver;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("chromedriver did not start");
    }

    /// A browser on `profile` (a directory: its cookie jar lives there),
    /// `width` pixels wide.
    pub async fn browser(&self, profile: &Path, width: u32) -> Browser<'_> {
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "acceptInsecureCerts": true,
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--no-first-run",
                    format!("--window-size={width},900"),
                    format!("--user-data-dir={}", profile.display()),
                ],
            },
        }}});
        let reply = self.call("POST", "/session", Some(capabilities)).await;
        let id = reply["sessionId"].as_str().unwrap().to_owned();
        Browser {
            driver: self,
            path: format!("/session/{id}"),
        }
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.base);
        let request = match method {
            "GET" => self.http.get(url),
            "DELETE" => self.http.delete(url),
            _ => self
                .http
                .post(url)
                .header("content-type", "application/json")
                .body(body.unwrap_or_else(|| json!({})).to_string()),
        };
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        let value: Value = serde_json::from_str(&text).unwrap();
        assert!(status.is_success(), "{method} {path}: {status}: {text}");
        value["value"].clone()
    }
}

/// One Chromium, on one profile.
pub struct Browser<'d> {
    driver: &'d Driver,
    path: String,
}

/// A cookie as the browser keeps it.
#[derive(Debug, Clone)]
pub struct Cookie {
    pub name: String,
    pub secure: bool,
    pub http_only: bool,
    pub same_site: String,
    pub path: String,
    /// Seconds since the epoch; `None` for a session cookie.
    pub expiry: Option<u64>,
}

impl Browser<'_> {
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.driver
            .call(method, &format!("{}{path}", self.path), body)
            .await
    }

    /// Goes to `url`, and answers the page's HTML.
    pub async fn open(&self, url: &str) -> String {
        self.call("POST", "/url", Some(json!({"url": url}))).await;
        self.source().await
    }

    /// The current page's HTML.
    pub async fn source(&self) -> String {
        self.call("GET", "/source", None)
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn element(&self, css: &str) -> String {
        let found = self
            .call(
                "POST",
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        found[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("{css}: {found}"))
            .to_owned()
    }

    /// Types `text` into the field `css` selects.
    pub async fn type_into(&self, css: &str, text: &str) {
        let element = self.element(css).await;
        let path = format!("/element/{element}/value");
        self.call("POST", &path, Some(json!({"text": text}))).await;
    }

    /// Clicks what `css` selects (a box to tick: nothing to wait for).
    pub async fn click(&self, css: &str) {
        let element = self.element(css).await;
        self.call("POST", &format!("/element/{element}/click"), None)
            .await;
    }

    /// Clicks the button or link `css` selects, waits for the page it
    /// leads to, and answers that page's HTML.
    pub async fn follow(&self, css: &str) -> String {
        // A mark on this document: gone once the next one has loaded.
        self.run("window.gimletOld = true; return null;").await;
        self.click(css).await;
        for _ in 0..200 {
            let loaded = self
                .run("return !window.gimletOld && document.readyState === 'complete';")
                .await;
            if loaded.as_bool() == Some(true) {
                return self.source().await;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("{css}: no new page after five seconds");
    }

    /// Runs `script` in the page, and answers what it returns.
    pub async fn run(&self, script: &str) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
        .await
    }

    /// Every cookie the browser keeps for the current page.
    pub async fn cookies(&self) -> Vec<Cookie> {
        let list = self.call("GET", "/cookie", None).await;
        list.as_array()
            .unwrap()
            .iter()
            .map(|c| Cookie {
                name: c["name"].as_str().unwrap().to_owned(),
                secure: c["secure"].as_bool().unwrap_or(false),
                http_only: c["httpOnly"].as_bool().unwrap_or(false),
                same_site: c["sameSite"].as_str().unwrap_or("").to_owned(),
                path: c["path"].as_str().unwrap_or("").to_owned(),
                expiry: c["expiry"].as_u64(),
            })
            .collect()
    }

    /// Quits: the profile keeps what Chromium writes to disk at exit.
    pub async fn quit(self) {
        self.call("DELETE", "", None).await;
    }
}

/// A fresh profile directory; removed on drop.
pub struct Profile(pub PathBuf);

impl Profile {
    pub fn new() -> Profile {
        let unique = gimlet_core::SessionId::generate().unwrap().to_string();
        let dir = std::env::temp_dir().join(format!("gimlet-shop-chromium-{}", &unique[..12]));
        std::fs::create_dir_all(&dir).unwrap();
        Profile(dir)
    }
}

impl Default for Profile {
    fn default() -> Self {
        Profile::new()
    }
}

impl Drop for Profile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A TLS front for `target` (`127.0.0.1:PORT`): `socat` with a
/// self-signed certificate for `localhost`, made by `openssl` for the
/// test. Its URL is `https://localhost:PORT/`; stopped on drop.
pub struct Tls {
    pub base: String,
    _child: Child,
    _dir: Profile,
}

impl Tls {
    pub async fn front(target: &str) -> Tls {
        let dir = Profile::new();
        let (cert, key) = (dir.0.join("cert.pem"), dir.0.join("key.pem"));
        let made = std::process::Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            ])
            .args([
                "-subj",
                "/CN=localhost",
                "-addext",
                "subjectAltName=DNS:localhost",
            ])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(made.success(), "openssl could not make a certificate");
        let port = free_port();
        let child = Command::new("socat")
            .arg(format!(
                "openssl-listen:{port},reuseaddr,fork,bind=127.0.0.1,cert={},key={},verify=0",
                cert.display(),
                key.display()
            ))
            .arg(format!("tcp:{target}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        wait_until_listening(port).await;
        Tls {
            base: format!("https://localhost:{port}"),
            _child: child,
            _dir: dir,
        }
    }
}
